/*
 * ctl.c: the control plane of a node: start/stop, applying purges and
 * events, children and their receipts, and what /stats and /metrics show.
 *
 * Design: one control plane per process, published in g_ctl. Admin threads
 * borrow it (ctl_acquire/ctl_release, counted in g_users); ctl_stop hides it
 * from new borrowers, wakes every sleeper (event streams wait on the log's
 * condition variable, waiting purges on c->cond), stops the subscription
 * and warm threads, then waits until the last borrower gave it back before
 * freeing it. So an admin request never sees a freed control plane, and
 * shutdown never waits longer than a wake-up.
 *
 * Locking, in order: g_mtx (publication and borrow count) is never held
 * while taking another lock. c->apply_mtx (one event or API purge at a time:
 * seen? apply, append) is taken before the log's mutex and the cache's locks,
 * never under c->mtx. c->mtx guards children, open streams, the receipts
 * ring, the catch-up state and stopping; nothing is taken under it and no
 * I/O happens under it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "ctl/events.h"
#include "ctl/purge.h"
#include "ctl/sub.h"
#include "ctl/warm.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define CTL_MAX_CHILDREN 256
#define CTL_MAX_STREAMS 1024
#define CTL_ANON (1ULL << 63)

struct stream {
	uint64_t handle;
	struct ctl_child *child;   /* NULL for an anonymous watcher */
};

/* Open streams live in a side table so a handle can be resolved without
 * trusting a pointer the admin module kept across ctl_stop. */
static struct stream g_streams[CTL_MAX_STREAMS];  /* (c->mtx) */
static unsigned g_watchers;                        /* (c->mtx) */

static pthread_mutex_t g_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static struct ctl *g_ctl;        /* (g_mtx) */
static unsigned g_users;         /* (g_mtx) */
static bool g_hidden;            /* (g_mtx) ctl_stop began */

static void add_url(char ***v, unsigned *n, const char *url);
static void catchup_wait(struct ctl *c);
static struct ctl_child *child_find_locked(struct ctl *c, const char *id);
static void child_prune_locked(struct ctl *c);

/* ---------------------------------------------------------------- helpers */

uint64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *
ctl_token_from_file(const char *path, const char *scope)
{
	char line[1024], *save, *tok, *w;
	char *found = NULL;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "#\r\n")] = '\0';
		tok = strtok_r(line, " \t", &save);
		if (tok == NULL)
			continue;
		while ((w = strtok_r(NULL, " \t", &save)) != NULL)
			if (strcmp(w, scope) == 0)
				found = xstrdup(tok);
	}
	fclose(f);
	return found;
}

static void
add_url(char ***v, unsigned *n, const char *url)
{
	size_t len = strcspn(url, " \t");

	while (len > 0 && url[len - 1] == '/')
		len--;
	for (unsigned i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && strncmp((*v)[i], url, len) == 0)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = xstrndup(url, len);
}

static void
free_urls(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
ctl_notify(struct ctl *c)
{
	PTOK(pthread_mutex_lock(&c->mtx));
	PTOK(pthread_cond_broadcast(&c->cond));
	PTOK(pthread_mutex_unlock(&c->mtx));
}

static void
deadline_after(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---------------------------------------------------------------- start, stop */

/* Wait until every subscription settled or the catch-up time ran out, and
 * say which it was: in the log and, through c->catchup, in /stats. */
static void
catchup_wait(struct ctl *c)
{
	uint64_t t0 = ctl_now_ms(), limit = c->cfg->catchup_timeout_ms;
	struct timespec ts;
	char detail[512];
	bool all = false, caught = true;
	size_t off = 0;

	deadline_after(&ts, limit);
	PTOK(pthread_mutex_lock(&c->mtx));
	snprintf(c->catchup, sizeof c->catchup, "waiting");
	for (;;) {
		all = true;
		for (unsigned i = 0; i < c->nsubs; i++)
			if (!sub_settled(c->subs[i], NULL))
				all = false;
		if (all || limit == 0)
			break;
		if (pthread_cond_timedwait(&c->cond, &c->mtx, &ts) == ETIMEDOUT)
			break;
	}
	PTOK(pthread_mutex_unlock(&c->mtx));

	detail[0] = '\0';
	for (unsigned i = 0; i < c->nsubs; i++) {
		const char *why = "waiting";
		bool ok = sub_settled(c->subs[i], &why);

		if (!ok || (strcmp(why, "caught-up") != 0 && strcmp(why, "origin") != 0 &&
		    strcmp(why, "self") != 0))
			caught = false;
		if (off < sizeof detail)
			off += (size_t)snprintf(detail + off, sizeof detail - off, "%s%s %s",
			    off > 0 ? ", " : "", sub_url(c->subs[i]), ok ? why : "no answer yet");
	}
	PTOK(pthread_mutex_lock(&c->mtx));
	c->catchup_ms = ctl_now_ms() - t0;
	snprintf(c->catchup, sizeof c->catchup, "%s", !all ? "timeout" : caught ? "caught-up" : "partial");
	snprintf(c->catchup_detail, sizeof c->catchup_detail, "%s", detail);
	PTOK(pthread_mutex_unlock(&c->mtx));
	if (!all)
		log_msg(LVL_WARN, "catch-up: not every upstream answered within %llu ms; starting anyway "
		    "(%s)", (unsigned long long)limit, detail);
	else if (!caught)
		log_msg(LVL_WARN, "catch-up: starting without the events of some upstreams (%s)", detail);
	else
		log_msg(LVL_INFO, "catch-up: done in %llu ms (%s)", (unsigned long long)c->catchup_ms,
		    detail);
}

int
ctl_start(const struct cfg *cfg, struct cache *cache)
{
	struct ctl *c = xcalloc(1, sizeof *c);
	char **urls = NULL;
	unsigned nurls = 0, npeers;

	c->magic = CTL_MAGIC;
	c->cfg = cfg;
	c->cache = cache;
	PTOK(pthread_mutex_init(&c->apply_mtx, NULL));
	PTOK(pthread_mutex_init(&c->mtx, NULL));
	PTOK(pthread_cond_init(&c->cond, NULL));
	c->ring = xcalloc(CTL_RECEIPTS, sizeof *c->ring);
	snprintf(c->catchup, sizeof c->catchup, "none");
	c->keepalive_ms = cfg->events_keepalive_ms;
	if (c->keepalive_ms < 200)
		c->keepalive_ms = 200;
	if (c->keepalive_ms > 20000)
		c->keepalive_ms = 20000; /* the admin listener drops connections idle for 30 s */
	if (cfg->events_token != NULL && cfg->events_token[0] != '\0')
		c->token = xstrdup(cfg->events_token);
	else
		c->token = ctl_token_from_file(cfg->token_file, "read");

	if (events_open(cfg->cache_dir, cfg->events_retain, &c->ev) != CDN_OK)
		goto Error;
	c->warm = warm_new((unsigned)cfg->warm_concurrency);
	if (warm_start(c->warm) != CDN_OK) {
		log_msg(LVL_ERROR, "cannot start the warm worker");
		goto Error;
	}

	/* Upstreams: -u and every [tier.NAME] upstream line; then the peers. */
	for (unsigned i = 0; i < cfg->upstream.n; i++)
		add_url(&urls, &nurls, cfg->upstream.v[i]);
	for (unsigned i = 0; i < cfg->extra.n; i++)
		if (strncasecmp(cfg->extra.v[i].section, "tier.", 5) == 0 &&
		    strcasecmp(cfg->extra.v[i].key, "upstream") == 0)
			add_url(&urls, &nurls, cfg->extra.v[i].value);
	npeers = nurls;
	for (unsigned i = 0; i < cfg->peer.n; i++)
		add_url(&urls, &nurls, cfg->peer.v[i]);
	if (nurls > 0 && c->token == NULL)
		log_msg(LVL_WARN, "no token for the upstreams' event streams (give events.token, or a "
		    "token with the read scope in the token file): not subscribing");
	if (c->token != NULL) {
		c->subs = xcalloc(nurls ? nurls : 1, sizeof *c->subs);
		for (unsigned i = 0; i < nurls; i++)
			c->subs[c->nsubs++] = sub_new(c, urls[i], i >= npeers);
		for (unsigned i = 0; i < c->nsubs; i++)
			if (sub_start(c->subs[i]) != CDN_OK) {
				log_msg(LVL_ERROR, "cannot start the subscription to %s", urls[i]);
				goto Error;
			}
	}
	free_urls(urls, nurls);
	urls = NULL;

	if (c->nsubs > 0)
		catchup_wait(c);
	PTOK(pthread_mutex_lock(&g_mtx));
	AZ(g_ctl);
	g_ctl = c;
	g_hidden = false;
	PTOK(pthread_mutex_unlock(&g_mtx));
	return CDN_OK;
Error:
	free_urls(urls, nurls);
	PTOK(pthread_mutex_lock(&g_mtx));
	g_ctl = c;
	PTOK(pthread_mutex_unlock(&g_mtx));
	ctl_stop();
	return CDN_ERR;
}

void
ctl_stop(void)
{
	struct ctl *c;

	PTOK(pthread_mutex_lock(&g_mtx));
	c = g_ctl;
	g_hidden = true;
	PTOK(pthread_mutex_unlock(&g_mtx));
	if (c == NULL)
		return;
	CHECK_OBJ_NOTNULL(c, CTL_MAGIC);

	PTOK(pthread_mutex_lock(&c->mtx));
	c->stopping = true;
	PTOK(pthread_cond_broadcast(&c->cond));
	PTOK(pthread_mutex_unlock(&c->mtx));
	if (c->ev != NULL)
		events_wake_all(c->ev);
	for (unsigned i = 0; i < c->nsubs; i++)
		sub_stop(c->subs[i]);
	if (c->warm != NULL)
		warm_stop(c->warm);

	PTOK(pthread_mutex_lock(&g_mtx));
	while (g_users > 0)
		PTOK(pthread_cond_wait(&g_cond, &g_mtx));
	g_ctl = NULL;
	PTOK(pthread_mutex_unlock(&g_mtx));

	for (unsigned i = 0; i < c->nsubs; i++)
		sub_free(&c->subs[i]);
	free(c->subs);
	warm_free(&c->warm);
	events_close(&c->ev);
	while (c->children != NULL) {
		struct ctl_child *ch = c->children;

		c->children = ch->next;
		free(ch);
	}
	memset(g_streams, 0, sizeof g_streams);
	g_watchers = 0;
	free(c->ring);
	free(c->token);
	PTOK(pthread_mutex_destroy(&c->apply_mtx));
	PTOK(pthread_mutex_destroy(&c->mtx));
	PTOK(pthread_cond_destroy(&c->cond));
	c->magic = 0;
	free(c);
}

struct ctl *
ctl_acquire(void)
{
	struct ctl *c = NULL;

	PTOK(pthread_mutex_lock(&g_mtx));
	if (g_ctl != NULL && !g_hidden) {
		c = g_ctl;
		g_users++;
	}
	PTOK(pthread_mutex_unlock(&g_mtx));
	return c;
}

void
ctl_release(struct ctl **cp)
{
	if (*cp == NULL)
		return;
	*cp = NULL;
	PTOK(pthread_mutex_lock(&g_mtx));
	AN(g_users);
	if (--g_users == 0)
		PTOK(pthread_cond_broadcast(&g_cond));
	PTOK(pthread_mutex_unlock(&g_mtx));
}

struct events *
ctl_events(struct ctl *c)
{
	return c->ev;
}

struct warm *
ctl_warm(struct ctl *c)
{
	return c->warm;
}

uint64_t
ctl_keepalive_ms(const struct ctl *c)
{
	return c->keepalive_ms;
}

bool
ctl_stopping(struct ctl *c)
{
	bool s;

	PTOK(pthread_mutex_lock(&c->mtx));
	s = c->stopping;
	PTOK(pthread_mutex_unlock(&c->mtx));
	return s;
}

/* ---------------------------------------------------------------- applying */

json_t *
ctl_purge(struct ctl *c, const struct purge_spec *s, bool ack)
{
	struct events_added added;
	json_t *body = purge_spec_json(s);
	char desc[256], id[EVENTS_ID_MAX];
	uint64_t logged;
	unsigned n;
	int rc;

	json_object_set_new(body, "origin", json_string(c->cfg->name));
	json_object_set_new(body, "time_ms", json_integer((json_int_t)ctl_now_ms()));
	if (ack)
		json_object_set_new(body, "ack", json_true());
	PTOK(pthread_mutex_lock(&c->apply_mtx));
	n = purge_apply(c->cache, s);
	rc = events_append(c->ev, body, "api", NULL, NULL, &added);
	PTOK(pthread_mutex_unlock(&c->apply_mtx));
	logged = ctl_now_ms();
	json_decref(body);
	CTL_INC(c, purge_requests);
	CTL_ADD(c, purged_objects, n);
	purge_spec_describe(s, desc, sizeof desc);
	if (rc != CDN_OK) {
		log_msg(LVL_ERROR, "purge of %s: %u objects here, but the event log failed: "
		    "children were not told", desc, n);
		return NULL;
	}
	CTL_INC(c, events_published);
	events_format_id(c->ev, added.seq, id, sizeof id);
	log_msg(LVL_INFO, "purge of %s: %u objects; event %s (id %s)", desc, n, added.uid, id);
	return json_pack("{s:I,s:s,s:s,s:b,s:I,s:I}", "purged", (json_int_t)n, "event", added.uid,
	    "id", id, "soft", s->soft, "time_ms", (json_int_t)added.time_ms,
	    "logged_ms", (json_int_t)logged);
}

int
ctl_apply_event(struct ctl *c, const char *source, const char *id, const char *data,
    struct ctl_applied *out)
{
	static const char *const extra[] = { "uid", "origin", "time_ms", "ack", "reason", NULL };
	struct purge_spec s;
	struct events_added added;
	json_error_t jerr;
	json_t *j = json_loads(data, 0, &jerr);
	const char *uid = json_string_value(json_object_get(j, "uid"));
	char why[256], desc[256];
	int rc = CDN_OK;

	memset(out, 0, sizeof *out);
	if (uid == NULL || strlen(uid) >= sizeof out->uid ||
	    purge_spec_parse(j, extra, &s, why, sizeof why) != CDN_OK) {
		if (uid == NULL)
			snprintf(why, sizeof why, "no uid");
		log_msg(LVL_WARN, "event %s from %s cannot be read (%s): skipped", id, source, why);
		CTL_INC(c, events_invalid);
		json_decref(j);
		(void)events_cursor_set(c->ev, source, id);
		return CDN_INVAL;
	}
	snprintf(out->uid, sizeof out->uid, "%s", uid);
	out->ack = json_is_true(json_object_get(j, "ack"));
	/* Children of this node are not asked for receipts: the waiter is
	 * upstream and hears from its own children. */
	json_object_del(j, "ack");

	PTOK(pthread_mutex_lock(&c->apply_mtx));
	if (events_has(c->ev, out->uid, &out->applied_ms)) {
		out->duplicate = true;
		rc = events_cursor_set(c->ev, source, id);
	} else {
		out->purged = purge_apply(c->cache, &s);
		rc = events_append(c->ev, j, source, source, id, &added);
		/* Applied means in the cache and in the log, durably. */
		out->applied_ms = added.duplicate ? added.time_ms : ctl_now_ms();
		out->duplicate = added.duplicate;
	}
	PTOK(pthread_mutex_unlock(&c->apply_mtx));
	if (rc == CDN_OK && !out->duplicate) {
		CTL_INC(c, events_applied);
		CTL_INC(c, events_published);
		CTL_ADD(c, purged_objects, out->purged);
		purge_spec_describe(&s, desc, sizeof desc);
		log_msg(LVL_INFO, "applied event %s from %s (id %s): %s, %u objects", out->uid, source, id,
		    desc, out->purged);
	} else if (rc == CDN_OK) {
		CTL_INC(c, events_duplicate);
	}
	purge_spec_fini(&s);
	json_decref(j);
	return rc;
}

int
ctl_apply_reset(struct ctl *c, const char *source, const char *id, const char *reason)
{
	struct purge_spec s = { .kind = PURGE_ALL, .soft = true };
	struct events_added added;
	json_t *body = purge_spec_json(&s);
	unsigned n;
	int rc;

	json_object_set_new(body, "origin", json_string(c->cfg->name));
	json_object_set_new(body, "time_ms", json_integer((json_int_t)ctl_now_ms()));
	json_object_set_new(body, "reason", json_sprintf("reset from %s: %s", source, reason));
	PTOK(pthread_mutex_lock(&c->apply_mtx));
	n = purge_apply(c->cache, &s);
	rc = events_append(c->ev, body, source, source, id, &added);
	PTOK(pthread_mutex_unlock(&c->apply_mtx));
	json_decref(body);
	CTL_INC(c, event_resets);
	CTL_ADD(c, purged_objects, n);
	if (rc == CDN_OK)
		CTL_INC(c, events_published);
	log_msg(LVL_WARN, "reset from %s (%s): everything soft-purged (%u objects), event %s", source,
	    reason, n, rc == CDN_OK ? added.uid : "not logged");
	return rc;
}

/* ---------------------------------------------------------------- children */

static struct ctl_child *
child_find_locked(struct ctl *c, const char *id)
{
	for (struct ctl_child *ch = c->children; ch != NULL; ch = ch->next)
		if (strcmp(ch->id, id) == 0)
			return ch;
	return NULL;
}

/* Keep the table bounded: forget the child disconnected longest ago. */
static void
child_prune_locked(struct ctl *c)
{
	struct ctl_child **victim = NULL;

	if (c->nchildren < CTL_MAX_CHILDREN)
		return;
	for (struct ctl_child **pp = &c->children; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->streams == 0 &&
		    (victim == NULL || (*pp)->disconnected_ms < (*victim)->disconnected_ms))
			victim = pp;
	if (victim != NULL) {
		struct ctl_child *ch = *victim;

		*victim = ch->next;
		free(ch);
		c->nchildren--;
	}
}

static bool
valid_logid(const char *id)
{
	if (id == NULL || strlen(id) != EVENTS_LOGID_LEN)
		return false;
	for (; *id != '\0'; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return false;
	return true;
}

static struct ctl_child *
child_get_locked(struct ctl *c, const char *node, const char *id)
{
	struct ctl_child *ch = child_find_locked(c, id);

	if (ch == NULL) {
		child_prune_locked(c);
		ch = xcalloc(1, sizeof *ch);
		snprintf(ch->id, sizeof ch->id, "%s", id);
		ch->next = c->children;
		c->children = ch;
		c->nchildren++;
	}
	if (node != NULL && node[0] != '\0')
		snprintf(ch->name, sizeof ch->name, "%s", node);
	else if (ch->name[0] == '\0')
		snprintf(ch->name, sizeof ch->name, "%s", id);
	return ch;
}

uint64_t
ctl_child_attach(struct ctl *c, const char *node, const char *id, const char *addr)
{
	struct ctl_child *ch = NULL;
	unsigned i;
	uint64_t h;

	PTOK(pthread_mutex_lock(&c->mtx));
	h = ++c->next_handle;
	if (valid_logid(id)) {
		ch = child_get_locked(c, node, id);
		snprintf(ch->addr, sizeof ch->addr, "%s", addr != NULL ? addr : "");
		ch->streams++;
		ch->handle = h;
		ch->connected_ms = ctl_now_ms();
	} else {
		h |= CTL_ANON;
		g_watchers++;
	}
	for (i = 0; i < CTL_MAX_STREAMS; i++) {
		if (g_streams[i].handle == 0) {
			g_streams[i].handle = h;
			g_streams[i].child = ch;
			break;
		}
	}
	if (i == CTL_MAX_STREAMS && ch != NULL) {
		/* No room to track it: serve it as an anonymous watcher. */
		ch->streams--;
		h |= CTL_ANON;
		g_watchers++;
	}
	PTOK(pthread_mutex_unlock(&c->mtx));
	return h;
}

static struct stream *
stream_find_locked(uint64_t handle)
{
	for (unsigned i = 0; i < CTL_MAX_STREAMS; i++)
		if (g_streams[i].handle == handle)
			return &g_streams[i];
	return NULL;
}

void
ctl_child_sent(struct ctl *c, uint64_t handle, uint64_t seq)
{
	struct stream *st;

	PTOK(pthread_mutex_lock(&c->mtx));
	st = stream_find_locked(handle);
	if (st != NULL && st->child != NULL && seq > st->child->sent_seq)
		st->child->sent_seq = seq;
	PTOK(pthread_mutex_unlock(&c->mtx));
}

void
ctl_child_detach(struct ctl *c, uint64_t handle)
{
	struct stream *st;

	PTOK(pthread_mutex_lock(&c->mtx));
	if (handle & CTL_ANON) {
		if (g_watchers > 0)
			g_watchers--;
	}
	st = stream_find_locked(handle);
	if (st != NULL) {
		if (st->child != NULL && st->child->streams > 0) {
			st->child->streams--;
			st->child->disconnected_ms = ctl_now_ms();
		}
		st->handle = 0;
		st->child = NULL;
	}
	PTOK(pthread_mutex_unlock(&c->mtx));
}

int
ctl_receipts(struct ctl *c, const json_t *body, char *why, size_t whylen)
{
	const char *node = json_string_value(json_object_get(body, "node"));
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *last = json_string_value(json_object_get(body, "last_id"));
	json_t *rs = json_object_get(body, "receipts"), *r;
	char logid[EVENTS_LOGID_LEN + 1];
	struct ctl_child *ch;
	uint64_t seq = 0;
	size_t i;

	if (!valid_logid(id)) {
		snprintf(why, whylen, "\"id\" must be the child's 16-hex-digit log id");
		return CDN_INVAL;
	}
	if (rs != NULL && !json_is_array(rs)) {
		snprintf(why, whylen, "\"receipts\" must be an array");
		return CDN_INVAL;
	}
	if (last != NULL && (!events_parse_id(last, logid, &seq) ||
	    (logid[0] != '\0' && strcmp(logid, events_log_id(c->ev)) != 0)))
		seq = 0; /* about another log of ours: no use for lag */
	PTOK(pthread_mutex_lock(&c->mtx));
	ch = child_get_locked(c, node, id);
	if (seq > ch->acked_seq)
		ch->acked_seq = seq;
	ch->receipt_ms = ctl_now_ms();
	json_array_foreach(rs, i, r) {
		const char *uid = json_string_value(json_object_get(r, "uid"));
		struct ctl_receipt *slot;

		if (uid == NULL || strlen(uid) >= EVENTS_ID_MAX)
			continue;
		slot = &c->ring[c->ring_next++ % CTL_RECEIPTS];
		snprintf(slot->uid, sizeof slot->uid, "%s", uid);
		snprintf(slot->child_id, sizeof slot->child_id, "%s", id);
		slot->applied_ms = (uint64_t)json_integer_value(json_object_get(r, "applied_ms"));
		slot->duplicate = json_is_true(json_object_get(r, "duplicate"));
		ch->receipts++;
		CTL_INC(c, receipts_received);
	}
	PTOK(pthread_cond_broadcast(&c->cond));
	PTOK(pthread_mutex_unlock(&c->mtx));
	return CDN_OK;
}

json_t *
ctl_wait_receipts(struct ctl *c, const char *uid, uint64_t accepted_ms, uint64_t timeout_ms)
{
	struct want {
		char id[EVENTS_LOGID_LEN + 1];
		char name[CTL_NAME_MAX];
		uint64_t applied_ms;
		bool got, duplicate;
	} *w = NULL;
	unsigned n = 0, got = 0;
	uint64_t t0 = ctl_now_ms();
	struct timespec ts;
	json_t *nodes = json_array();

	deadline_after(&ts, timeout_ms);
	PTOK(pthread_mutex_lock(&c->mtx));
	for (struct ctl_child *ch = c->children; ch != NULL; ch = ch->next) {
		if (ch->streams == 0)
			continue;
		w = xrealloc(w, (n + 1) * sizeof *w);
		memset(&w[n], 0, sizeof w[n]);
		snprintf(w[n].id, sizeof w[n].id, "%s", ch->id);
		snprintf(w[n].name, sizeof w[n].name, "%s", ch->name);
		n++;
	}
	while (!c->stopping) {
		for (unsigned i = 0; i < n; i++) {
			if (w[i].got)
				continue;
			for (unsigned k = 0; k < CTL_RECEIPTS; k++) {
				const struct ctl_receipt *r = &c->ring[k];

				if (r->uid[0] != '\0' && strcmp(r->uid, uid) == 0 &&
				    strcmp(r->child_id, w[i].id) == 0) {
					w[i].got = true;
					w[i].applied_ms = r->applied_ms;
					w[i].duplicate = r->duplicate;
					got++;
					break;
				}
			}
		}
		if (got == n)
			break;
		if (pthread_cond_timedwait(&c->cond, &c->mtx, &ts) == ETIMEDOUT)
			break;
	}
	PTOK(pthread_mutex_unlock(&c->mtx));
	for (unsigned i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s,s:s,s:b}", "node", w[i].name, "id", w[i].id, "applied",
		    w[i].got);

		if (w[i].got) {
			json_object_set_new(o, "applied_ms", json_integer((json_int_t)w[i].applied_ms));
			json_object_set_new(o, "after_ms", json_integer(w[i].applied_ms >= accepted_ms ?
			    (json_int_t)(w[i].applied_ms - accepted_ms) : 0));
		}
		json_array_append_new(nodes, o);
	}
	free(w);
	return json_pack("{s:b,s:I,s:I,s:o}", "complete", got == n, "acked", (json_int_t)got,
	    "waited_ms", (json_int_t)(ctl_now_ms() - t0), "nodes", nodes);
}

/* ---------------------------------------------------------------- stats */

void
ctl_stats_json(struct ctl *c, json_t *obj)
{
	json_t *subs = json_array(), *kids = json_array();
	uint64_t first, head, now = ctl_now_ms();
	char id[EVENTS_ID_MAX];

#define CTL_JSON(n, h) json_object_set_new(obj, #n, \
	json_integer((json_int_t)atomic_load_explicit(&c->cnt.n, memory_order_relaxed)));
	CTL_COUNTERS(CTL_JSON)
#undef CTL_JSON
	events_bounds(c->ev, &first, &head);
	events_format_id(c->ev, head, id, sizeof id);
	json_object_set_new(obj, "events", json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:I}",
	    "log_id", events_log_id(c->ev), "head_id", id, "path", events_path(c->ev),
	    "durable", events_durable(c->ev), "first", (json_int_t)first, "head", (json_int_t)head,
	    "retain", (json_int_t)c->cfg->events_retain));
	for (unsigned i = 0; i < c->nsubs; i++)
		sub_stats_json(c->subs[i], subs);
	json_object_set_new(obj, "subscriptions", subs);
	PTOK(pthread_mutex_lock(&c->mtx));
	json_object_set_new(obj, "catchup", json_pack("{s:s,s:I,s:s}", "state", c->catchup,
	    "ms", (json_int_t)c->catchup_ms, "detail", c->catchup_detail));
	for (struct ctl_child *ch = c->children; ch != NULL; ch = ch->next) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:i,s:I,s:I,s:I,s:I}", "node", ch->name,
		    "id", ch->id, "addr", ch->addr, "connected", ch->streams > 0,
		    "streams", (int)ch->streams, "sent", (json_int_t)ch->sent_seq,
		    "acked", (json_int_t)ch->acked_seq,
		    "lag_events", (json_int_t)(head > ch->acked_seq ? head - ch->acked_seq : 0),
		    "receipts", (json_int_t)ch->receipts);

		if (ch->receipt_ms != 0)
			json_object_set_new(o, "last_receipt_ago_ms",
			    json_integer((json_int_t)(now - ch->receipt_ms)));
		json_array_append_new(kids, o);
	}
	json_object_set_new(obj, "children", kids);
	json_object_set_new(obj, "event_watchers", json_integer(g_watchers));
	PTOK(pthread_mutex_unlock(&c->mtx));
	warm_stats_json(c->warm, obj);
}

static void
metric_label(char *out, size_t len, const char *v)
{
	size_t o = 0;

	for (; *v != '\0' && o + 3 < len; v++) {
		if (*v == '"' || *v == '\\') {
			out[o++] = '\\';
			out[o++] = *v;
		} else if (*v == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
}

void
ctl_metrics(struct ctl *c, void (*fn)(void *arg, const char *line), void *arg)
{
	char line[1024], name[300];
	uint64_t first, head;

#define CTL_PROM(n, h) snprintf(line, sizeof line, \
	"# HELP cdn_%s_total %s\n# TYPE cdn_%s_total counter\ncdn_%s_total %llu\n", #n, h, #n, #n, \
	(unsigned long long)atomic_load_explicit(&c->cnt.n, memory_order_relaxed)); fn(arg, line);
	CTL_COUNTERS(CTL_PROM)
#undef CTL_PROM
	events_bounds(c->ev, &first, &head);
	snprintf(line, sizeof line, "# HELP cdn_events_head local sequence number of the newest event\n"
	    "# TYPE cdn_events_head gauge\ncdn_events_head %llu\n", (unsigned long long)head);
	fn(arg, line);
	snprintf(line, sizeof line, "# HELP cdn_events_retained events kept in the log\n"
	    "# TYPE cdn_events_retained gauge\ncdn_events_retained %llu\n",
	    (unsigned long long)(head >= first ? head - first + 1 : 0));
	fn(arg, line);
	PTOK(pthread_mutex_lock(&c->mtx));
	snprintf(line, sizeof line, "# HELP cdn_catchup_complete 1 if the start-up catch-up "
	    "finished with every upstream\n# TYPE cdn_catchup_complete gauge\n"
	    "cdn_catchup_complete %d\n", strcmp(c->catchup, "caught-up") == 0 ||
	    strcmp(c->catchup, "none") == 0);
	PTOK(pthread_mutex_unlock(&c->mtx));
	fn(arg, line);
	fn(arg, "# HELP cdn_subscription_up 1 while the event stream of the upstream is open\n"
	    "# TYPE cdn_subscription_up gauge\n"
	    "# HELP cdn_subscription_lag_events events of the upstream not applied here yet\n"
	    "# TYPE cdn_subscription_lag_events gauge\n");
	for (unsigned i = 0; i < c->nsubs; i++)
		sub_metrics(c->subs[i], fn, arg);
	fn(arg, "# HELP cdn_child_connected 1 while the child's event stream is open\n"
	    "# TYPE cdn_child_connected gauge\n"
	    "# HELP cdn_child_lag_events events of this node the child did not report applied\n"
	    "# TYPE cdn_child_lag_events gauge\n");
	PTOK(pthread_mutex_lock(&c->mtx));
	for (struct ctl_child *ch = c->children; ch != NULL; ch = ch->next) {
		metric_label(name, sizeof name, ch->name);
		snprintf(line, sizeof line, "cdn_child_connected{child=\"%s\",id=\"%s\"} %d\n"
		    "cdn_child_lag_events{child=\"%s\",id=\"%s\"} %llu\n", name, ch->id,
		    ch->streams > 0, name, ch->id,
		    (unsigned long long)(head > ch->acked_seq ? head - ch->acked_seq : 0));
		fn(arg, line);
	}
	PTOK(pthread_mutex_unlock(&c->mtx));
}
