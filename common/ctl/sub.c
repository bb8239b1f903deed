/*
 * sub.c: a subscription to one upstream's event stream (see sub.h).
 *
 * Design: a small state machine on one thread: discover (health answer of
 * the data URL), stream (GET /events, parsed as Server-Sent Events), back
 * off, again. Every wait goes through the thread's multi handle
 * (curl_multi_poll), so sub_stop's curl_multi_wakeup ends any of them at
 * once. Events are applied from inside the write callback: the stream is
 * ours alone, and holding it while the cache and the log take the event is
 * exactly the back-pressure we want.
 *
 * Receipts: an event that asks for one ("ack") is answered by POST
 * /receipts to the same upstream, batched while a post is in flight; the
 * cursor alone is also reported at most once a second, which gives the
 * upstream each child's applied position (its lag per child).
 *
 * Locking: s->mtx guards the fields under "shown by /stats"; the rest
 * belongs to the thread. Nothing is called with s->mtx held.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ctl/ctl_int.h"
#include "ctl/events.h"
#include "ctl/sub.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define SUB_ORIGIN_RETRY_MS 300000
#define SUB_BACKOFF_MIN_MS 100
#define SUB_BACKOFF_MAX_MS 2000
#define SUB_MAX_LINE (1u << 20)
#define SUB_MAX_BODY (64u << 10)

enum disc { DISC_CDN, DISC_ORIGIN, DISC_NOADMIN, DISC_DOWN, DISC_STOP };
enum strm { STRM_ENDED, STRM_REFUSED, STRM_STOP, STRM_SELF };

struct membuf {
	char *p;
	size_t len;
};

struct sub {
	struct ctl *c;
	char *url;                /* const: the data URL as configured (cursor key) */
	char *base;               /* const: scheme://host:port of url */
	char *host;               /* const: host of url, brackets kept for IPv6 */
	bool peer;                /* const */
	CURLM *multi;             /* const after sub_start; easy handles: thread */
	pthread_t thr;
	bool started;
	atomic_bool stop;

	/* thread */
	char admin_url[320];
	CURL *sse;
	int sse_status;
	char *line;
	size_t llen, lcap;
	char f_id[EVENTS_ID_MAX + 64], f_event[32];
	char *f_data;
	size_t dlen, dcap;
	bool abort_stream;
	enum strm verdict;
	json_t *pending;          /* receipts not posted yet */
	CURL *post;
	char *post_body;
	struct curl_slist *post_hdrs;
	uint64_t last_post_ms;
	char posted_id[EVENTS_ID_MAX + 64];

	/* shown by /stats (mtx) */
	pthread_mutex_t mtx;
	char state[24];
	char admin[320];
	char last_id[EVENTS_ID_MAX + 64];
	char up_log[EVENTS_LOGID_LEN + 1];
	uint64_t last_seq, head_seq;
	char error[200];
	uint64_t applied, duplicates, connects, resets;
	uint64_t since_ms;
	bool settled;
	const char *settled_why;
};

static void *sub_main(void *arg);
static size_t on_sse_data(char *p, size_t size, size_t n, void *arg);

/* ---------------------------------------------------------------- state */

static void
set_state(struct sub *s, const char *state, const char *error)
{
	PTOK(pthread_mutex_lock(&s->mtx));
	snprintf(s->state, sizeof s->state, "%s", state);
	if (error != NULL)
		snprintf(s->error, sizeof s->error, "%s", error);
	s->since_ms = ctl_now_ms();
	PTOK(pthread_mutex_unlock(&s->mtx));
}

static void
settle(struct sub *s, const char *why)
{
	bool was;

	PTOK(pthread_mutex_lock(&s->mtx));
	was = s->settled;
	if (!was) {
		s->settled = true;
		s->settled_why = why;
	}
	PTOK(pthread_mutex_unlock(&s->mtx));
	if (!was)
		ctl_notify(s->c);
}

static bool
stopping(struct sub *s)
{
	return atomic_load(&s->stop);
}

/* Sleep ms, or less if sub_stop wakes the thread. */
static void
nap(struct sub *s, uint64_t ms)
{
	uint64_t end = ctl_now_ms() + ms, now;

	while (!stopping(s) && (now = ctl_now_ms()) < end)
		(void)curl_multi_poll(s->multi, NULL, 0, end - now > 1000 ? 1000 : (int)(end - now), NULL);
}

static size_t
to_membuf(char *p, size_t size, size_t n, void *arg)
{
	struct membuf *m = arg;
	size_t len = size * n;

	if (m->len + len > SUB_MAX_BODY)
		return 0;
	m->p = xrealloc(m->p, m->len + len + 1);
	memcpy(m->p + m->len, p, len);
	m->len += len;
	m->p[m->len] = '\0';
	return len;
}

/* Run one easy handle to completion on the thread's multi handle. */
static CURLcode
transfer(struct sub *s, CURL *e)
{
	CURLcode res = CURLE_ABORTED_BY_CALLBACK;
	int running = 1;

	curl_multi_add_handle(s->multi, e);
	while (!stopping(s)) {
		CURLMsg *m;
		int q;
		bool done = false;

		curl_multi_perform(s->multi, &running);
		while ((m = curl_multi_info_read(s->multi, &q)) != NULL) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == e) {
				res = m->data.result;
				done = true;
			}
		}
		if (done)
			break;
		(void)curl_multi_poll(s->multi, NULL, 0, 200, NULL);
	}
	curl_multi_remove_handle(s->multi, e);
	return res;
}

/* ---------------------------------------------------------------- discovery */

static enum disc
discover(struct sub *s)
{
	const struct cfg *cfg = s->c->cfg;
	struct membuf mb = { NULL, 0 };
	CURL *e = curl_easy_init();
	char url[1024], host[256], why[160];
	const char *role, *admin, *h;
	json_t *j = NULL;
	unsigned port;
	long code = 0;
	enum disc rc;
	CURLcode res;

	AN(e);
	snprintf(url, sizeof url, "%s%s", s->base, cfg->health_path[0] == '/' ?
	    cfg->health_path : "/.well-known/cdn/health");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cdn-subscriber/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_membuf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &mb);
	res = transfer(s, e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	if (stopping(s)) {
		rc = DISC_STOP;
		goto Out;
	}
	if (res != CURLE_OK) {
		snprintf(why, sizeof why, "%.100s: %s", url, curl_easy_strerror(res));
		set_state(s, "down", why);
		rc = DISC_DOWN;
		goto Out;
	}
	j = code == 200 && mb.p != NULL ? json_loads(mb.p, 0, NULL) : NULL;
	role = json_string_value(json_object_get(j, "role"));
	if (role == NULL || (strcmp(role, "edge") != 0 && strcmp(role, "shield") != 0)) {
		rc = DISC_ORIGIN; /* not a CDN node: an origin has no events */
		goto Out;
	}
	admin = json_string_value(json_object_get(j, "admin"));
	if (admin == NULL || admin[0] == '\0' ||
	    cfg_parse_hostport(admin, host, sizeof host, &port) != CDN_OK) {
		rc = DISC_NOADMIN;
		goto Out;
	}
	/* A wildcard listener is reached at the address we reach the node by. */
	h = host;
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		h = s->host;
	if (strchr(h, ':') != NULL && h[0] != '[')
		snprintf(s->admin_url, sizeof s->admin_url, "http://[%s]:%u", h, port);
	else
		snprintf(s->admin_url, sizeof s->admin_url, "http://%s:%u", h, port);
	PTOK(pthread_mutex_lock(&s->mtx));
	snprintf(s->admin, sizeof s->admin, "%s", s->admin_url);
	PTOK(pthread_mutex_unlock(&s->mtx));
	rc = DISC_CDN;
Out:
	json_decref(j);
	free(mb.p);
	return rc;
}

/* ---------------------------------------------------------------- receipts */

static void
post_done(struct sub *s, CURLcode res)
{
	long code = 0;

	curl_easy_getinfo(s->post, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK || code != 200)
		log_msg(LVL_DEBUG, "receipts to %s: %s (HTTP %ld)", s->admin_url,
		    curl_easy_strerror(res), code);
	curl_multi_remove_handle(s->multi, s->post);
	curl_easy_cleanup(s->post);
	s->post = NULL;
	curl_slist_free_all(s->post_hdrs);
	s->post_hdrs = NULL;
	free(s->post_body);
	s->post_body = NULL;
}

static void
post_abort(struct sub *s)
{
	if (s->post != NULL)
		post_done(s, CURLE_OK);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Post the pending receipts, or the cursor if it moved and a second passed. */
static void
maybe_post(struct sub *s)
{
	char auth[600], last[sizeof s->last_id];
	uint64_t now = ctl_now_ms();
	json_t *body;

	if (s->post != NULL || s->admin_url[0] == '\0')
		return;
	PTOK(pthread_mutex_lock(&s->mtx));
	snprintf(last, sizeof last, "%s", s->last_id);
	PTOK(pthread_mutex_unlock(&s->mtx));
	if (json_array_size(s->pending) == 0 &&
	    (strcmp(last, s->posted_id) == 0 || now - s->last_post_ms < 1000 || last[0] == '\0'))
		return;
	body = json_pack("{s:s,s:s,s:s,s:O}", "node", s->c->cfg->name, "id",
	    events_log_id(s->c->ev), "last_id", last, "receipts", s->pending);
	s->post_body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	AN(s->post_body);
	json_array_clear(s->pending);
	snprintf(s->posted_id, sizeof s->posted_id, "%s", last);
	s->last_post_ms = now;

	s->post = curl_easy_init();
	AN(s->post);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->c->token);
	s->post_hdrs = curl_slist_append(NULL, auth);
	s->post_hdrs = curl_slist_append(s->post_hdrs, "Content-Type: application/json");
	s->post_hdrs = curl_slist_append(s->post_hdrs, "Expect:");
	{
		char url[400];

		snprintf(url, sizeof url, "%s/receipts", s->admin_url);
		curl_easy_setopt(s->post, CURLOPT_URL, url);
	}
	curl_easy_setopt(s->post, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->post, CURLOPT_HTTPHEADER, s->post_hdrs);
	curl_easy_setopt(s->post, CURLOPT_POSTFIELDS, s->post_body);
	curl_easy_setopt(s->post, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(s->post, CURLOPT_USERAGENT, "cdn-subscriber/" PACKAGE_VERSION);
	/* The answer ({"ok":true}) is not needed. */
	curl_easy_setopt(s->post, CURLOPT_WRITEFUNCTION, discard);
	curl_multi_add_handle(s->multi, s->post);
}

/* ---------------------------------------------------------------- events */

static void
note_seq(struct sub *s, const char *id, bool applied)
{
	char logid[EVENTS_LOGID_LEN + 1];
	uint64_t seq;

	if (!events_parse_id(id, logid, &seq))
		return;
	PTOK(pthread_mutex_lock(&s->mtx));
	if (logid[0] != '\0' && strcmp(logid, s->up_log) != 0) {
		snprintf(s->up_log, sizeof s->up_log, "%s", logid);
		s->head_seq = 0;
		s->last_seq = 0;
	}
	if (seq > s->head_seq)
		s->head_seq = seq;
	if (applied) {
		s->last_seq = seq;
		snprintf(s->last_id, sizeof s->last_id, "%s", id);
	}
	PTOK(pthread_mutex_unlock(&s->mtx));
}

static void
dispatch(struct sub *s)
{
	const char *type = s->f_event[0] != '\0' ? s->f_event : "message";
	const char *data = s->f_data != NULL ? s->f_data : "";
	struct ctl_applied a;
	json_t *j;
	int rc;

	if (strcmp(type, "purge") == 0) {
		if (s->f_id[0] == '\0')
			return;
		rc = ctl_apply_event(s->c, s->url, s->f_id, data, &a);
		if (rc == CDN_ERR) {
			s->abort_stream = true; /* not logged: get it again */
			return;
		}
		note_seq(s, s->f_id, true);
		PTOK(pthread_mutex_lock(&s->mtx));
		if (rc == CDN_OK && a.duplicate)
			s->duplicates++;
		else if (rc == CDN_OK)
			s->applied++;
		PTOK(pthread_mutex_unlock(&s->mtx));
		if (rc == CDN_OK && a.ack)
			json_array_append_new(s->pending, json_pack("{s:s,s:I,s:b}", "uid", a.uid,
			    "applied_ms", (json_int_t)a.applied_ms, "duplicate", a.duplicate));
	} else if (strcmp(type, "reset") == 0) {
		const char *reason;

		if (s->f_id[0] == '\0')
			return;
		j = json_loads(data, 0, NULL);
		reason = json_string_value(json_object_get(j, "reason"));
		rc = ctl_apply_reset(s->c, s->url, s->f_id, reason != NULL ? reason : "too far behind");
		json_decref(j);
		if (rc != CDN_OK) {
			s->abort_stream = true;
			return;
		}
		note_seq(s, s->f_id, true);
		PTOK(pthread_mutex_lock(&s->mtx));
		s->resets++;
		PTOK(pthread_mutex_unlock(&s->mtx));
	} else if (strcmp(type, "ready") == 0) {
		const char *h, *log;
		char head[EVENTS_ID_MAX + 64] = "";
		uint64_t applied;

		j = json_loads(data, 0, NULL);
		h = json_string_value(json_object_get(j, "head"));
		log = json_string_value(json_object_get(j, "log"));
		if (h != NULL)
			snprintf(head, sizeof head, "%s", h);
		if (log != NULL && strcmp(log, events_log_id(s->c->ev)) == 0) {
			s->verdict = STRM_SELF;
			s->abort_stream = true;
			json_decref(j);
			return;
		}
		if (head[0] != '\0') {
			/* Caught up to head: a restart resumes here even if no
			 * event comes before it. */
			note_seq(s, head, true);
			(void)events_cursor_set(s->c->ev, s->url, head);
		}
		json_decref(j);
		PTOK(pthread_mutex_lock(&s->mtx));
		applied = s->applied;
		PTOK(pthread_mutex_unlock(&s->mtx));
		set_state(s, "streaming", "");
		log_msg(LVL_INFO, "events of %s (%s): caught up at %s, %llu events applied so far",
		    s->url, s->admin_url, head[0] != '\0' ? head : "?", (unsigned long long)applied);
		settle(s, "caught-up");
	}
}

/* One complete line of the stream (without its end of line). */
static void
on_line(struct sub *s, char *line, size_t len)
{
	const char *val;
	size_t flen;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0) {
		if (s->f_data != NULL || s->f_event[0] != '\0')
			dispatch(s);
		s->f_event[0] = '\0';
		s->f_id[0] = '\0';
		free(s->f_data);
		s->f_data = NULL;
		s->dlen = s->dcap = 0;
		return;
	}
	if (line[0] == ':') {
		const char *h = strstr(line, "head=");

		if (h != NULL)
			note_seq(s, h + 5, false);
		return;
	}
	flen = strcspn(line, ":");
	val = line + flen;
	if (*val == ':')
		val++;
	if (*val == ' ')
		val++;
	if (flen == 2 && strncmp(line, "id", 2) == 0) {
		snprintf(s->f_id, sizeof s->f_id, "%s", val);
	} else if (flen == 5 && strncmp(line, "event", 5) == 0) {
		snprintf(s->f_event, sizeof s->f_event, "%s", val);
	} else if (flen == 4 && strncmp(line, "data", 4) == 0) {
		size_t vlen = strlen(val);

		if (s->dlen + vlen + 2 > s->dcap) {
			s->dcap = s->dlen + vlen + 2 + 256;
			s->f_data = xrealloc(s->f_data, s->dcap);
		}
		if (s->dlen > 0)
			s->f_data[s->dlen++] = '\n';
		memcpy(s->f_data + s->dlen, val, vlen);
		s->dlen += vlen;
		s->f_data[s->dlen] = '\0';
	}
}

static size_t
on_sse_data(char *p, size_t size, size_t n, void *arg)
{
	struct sub *s = arg;
	size_t len = size * n, start = 0;
	long code = 0;

	if (s->sse_status == 0) {
		curl_easy_getinfo(s->sse, CURLINFO_RESPONSE_CODE, &code);
		s->sse_status = (int)code;
	}
	if (s->sse_status != 200)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (s->llen + (i - start) + 1 > s->lcap) {
			s->lcap = s->llen + (i - start) + 1 + 1024;
			s->line = xrealloc(s->line, s->lcap);
		}
		memcpy(s->line + s->llen, p + start, i - start);
		s->llen += i - start;
		s->line[s->llen] = '\0';
		on_line(s, s->line, s->llen);
		s->llen = 0;
		start = i + 1;
		if (s->abort_stream)
			return 0;
	}
	if (start < len) {
		if (s->llen + (len - start) > SUB_MAX_LINE)
			return 0;
		if (s->llen + (len - start) + 1 > s->lcap) {
			s->lcap = s->llen + (len - start) + 1 + 1024;
			s->line = xrealloc(s->line, s->lcap);
		}
		memcpy(s->line + s->llen, p + start, len - start);
		s->llen += len - start;
	}
	return len;
}

static enum strm
stream(struct sub *s)
{
	char url[1200], auth[600], lastid[EVENTS_ID_MAX + 80], cursor[EVENTS_ID_MAX + 64];
	char *name = curl_easy_escape(NULL, s->c->cfg->name, 0);
	struct curl_slist *hdrs = NULL;
	CURLcode res = CURLE_OK;
	bool done = false;
	int running;

	s->sse = curl_easy_init();
	AN(s->sse);
	AN(name);
	snprintf(url, sizeof url, "%s/events?node=%s&id=%s", s->admin_url, name,
	    events_log_id(s->c->ev));
	curl_free(name);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->c->token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Accept: text/event-stream");
	if (events_cursor_get(s->c->ev, s->url, cursor, sizeof cursor)) {
		snprintf(lastid, sizeof lastid, "Last-Event-ID: %s", cursor);
		hdrs = curl_slist_append(hdrs, lastid);
	}
	curl_easy_setopt(s->sse, CURLOPT_URL, url);
	curl_easy_setopt(s->sse, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s->sse, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->sse, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(s->sse, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->sse, CURLOPT_LOW_SPEED_TIME, (long)(ctl_keepalive_ms(s->c) * 3 / 1000 + 2));
	curl_easy_setopt(s->sse, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(s->sse, CURLOPT_USERAGENT, "cdn-subscriber/" PACKAGE_VERSION);
	curl_easy_setopt(s->sse, CURLOPT_WRITEFUNCTION, on_sse_data);
	curl_easy_setopt(s->sse, CURLOPT_WRITEDATA, s);
	s->sse_status = 0;
	s->llen = 0;
	s->abort_stream = false;
	s->verdict = STRM_ENDED;
	s->f_event[0] = '\0';
	s->f_id[0] = '\0';
	set_state(s, "catching-up", NULL);
	PTOK(pthread_mutex_lock(&s->mtx));
	s->connects++;
	PTOK(pthread_mutex_unlock(&s->mtx));
	curl_multi_add_handle(s->multi, s->sse);

	while (!done && !stopping(s)) {
		CURLMsg *m;
		int q;

		curl_multi_perform(s->multi, &running);
		while ((m = curl_multi_info_read(s->multi, &q)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			if (m->easy_handle == s->sse) {
				res = m->data.result;
				done = true;
			} else if (m->easy_handle == s->post) {
				post_done(s, m->data.result);
			}
		}
		if (!done) {
			maybe_post(s);
			(void)curl_multi_poll(s->multi, NULL, 0, 250, NULL);
		}
	}
	if (s->sse_status == 0) {
		long code = 0;

		curl_easy_getinfo(s->sse, CURLINFO_RESPONSE_CODE, &code);
		s->sse_status = (int)code;
	}
	curl_multi_remove_handle(s->multi, s->sse);
	curl_easy_cleanup(s->sse);
	s->sse = NULL;
	curl_slist_free_all(hdrs);
	post_abort(s);
	free(s->f_data);
	s->f_data = NULL;
	s->dlen = s->dcap = 0;
	if (stopping(s))
		return STRM_STOP;
	if (s->verdict == STRM_SELF)
		return STRM_SELF;
	{
		char why[480];

		if (s->sse_status != 0 && s->sse_status != 200)
			snprintf(why, sizeof why, "%s/events answered %d (check events.token)",
			    s->admin_url, s->sse_status);
		else
			snprintf(why, sizeof why, "%s/events: %s", s->admin_url,
			    res == CURLE_OK ? "stream ended" : curl_easy_strerror(res));
		set_state(s, "down", why);
		log_msg(s->sse_status == 200 ? LVL_INFO : LVL_WARN, "events of %s: %s", s->url, why);
	}
	if (s->sse_status == 0 || s->sse_status != 200)
		return STRM_REFUSED;
	return STRM_ENDED;
}

/* ---------------------------------------------------------------- thread */

static void *
sub_main(void *arg)
{
	struct sub *s = arg;
	uint64_t backoff = SUB_BACKOFF_MIN_MS, t0;
	enum disc d;
	enum strm r;

	while (!stopping(s)) {
		d = discover(s);
		if (d == DISC_STOP)
			break;
		if (d == DISC_ORIGIN) {
			set_state(s, "origin", "");
			settle(s, "origin");
			nap(s, SUB_ORIGIN_RETRY_MS);
			continue;
		}
		if (d == DISC_NOADMIN || d == DISC_DOWN) {
			if (d == DISC_NOADMIN)
				set_state(s, "no-admin", "the node reports no admin listener");
			settle(s, d == DISC_DOWN ? "unreachable" : "no-admin");
			nap(s, backoff);
			backoff = backoff * 2 > SUB_BACKOFF_MAX_MS ? SUB_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		t0 = ctl_now_ms();
		r = stream(s);
		if (r == STRM_STOP)
			break;
		if (r == STRM_SELF) {
			set_state(s, "self", "this is our own event stream");
			log_msg(LVL_INFO, "events of %s: that is this node itself; not subscribing", s->url);
			settle(s, "self");
			nap(s, UINT64_MAX / 4);
			break;
		}
		if (r == STRM_REFUSED)
			settle(s, "refused");
		if (ctl_now_ms() - t0 > 5000)
			backoff = SUB_BACKOFF_MIN_MS;
		nap(s, backoff);
		backoff = backoff * 2 > SUB_BACKOFF_MAX_MS ? SUB_BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

/* ---------------------------------------------------------------- API */

struct sub *
sub_new(struct ctl *c, const char *url, bool peer)
{
	struct sub *s = xcalloc(1, sizeof *s);
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;

	s->c = c;
	s->url = xstrdup(url);
	s->peer = peer;
	PTOK(pthread_mutex_init(&s->mtx, NULL));
	snprintf(s->state, sizeof s->state, "starting");
	s->pending = json_array();
	AN(u);
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		s->base = xasprintf("%s://%s:%s", scheme, host, port);
		s->host = xstrdup(host);
	} else {
		s->base = xstrdup(url);
		s->host = xstrdup("127.0.0.1");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return s;
}

int
sub_start(struct sub *s)
{
	s->multi = curl_multi_init();
	if (s->multi == NULL)
		return CDN_ERR;
	if (pthread_create(&s->thr, NULL, sub_main, s) != 0)
		return CDN_ERR;
	s->started = true;
	return CDN_OK;
}

void
sub_stop(struct sub *s)
{
	atomic_store(&s->stop, true);
	if (s->multi != NULL)
		curl_multi_wakeup(s->multi);
	if (s->started)
		PTOK(pthread_join(s->thr, NULL));
	s->started = false;
}

void
sub_free(struct sub **sp)
{
	struct sub *s = *sp;

	*sp = NULL;
	if (s == NULL)
		return;
	AZ(s->started);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	json_decref(s->pending);
	PTOK(pthread_mutex_destroy(&s->mtx));
	free(s->line);
	free(s->f_data);
	free(s->url);
	free(s->base);
	free(s->host);
	free(s);
}

bool
sub_settled(struct sub *s, const char **why)
{
	bool r;

	PTOK(pthread_mutex_lock(&s->mtx));
	r = s->settled;
	if (why != NULL && r)
		*why = s->settled_why;
	PTOK(pthread_mutex_unlock(&s->mtx));
	return r;
}

const char *
sub_url(const struct sub *s)
{
	return s->url;
}

void
sub_stats_json(struct sub *s, json_t *arr)
{
	json_t *o;

	PTOK(pthread_mutex_lock(&s->mtx));
	o = json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
	    "url", s->url, "peer", s->peer, "state", s->state, "admin", s->admin,
	    "last_id", s->last_id, "log", s->up_log, "last_seq", (json_int_t)s->last_seq,
	    "head_seq", (json_int_t)s->head_seq,
	    "lag_events", (json_int_t)(s->head_seq > s->last_seq ? s->head_seq - s->last_seq : 0),
	    "applied", (json_int_t)s->applied, "duplicates", (json_int_t)s->duplicates,
	    "connects", (json_int_t)s->connects, "resets", (json_int_t)s->resets,
	    "error", s->error);
	json_object_set_new(o, "state_for_ms", json_integer((json_int_t)(ctl_now_ms() - s->since_ms)));
	PTOK(pthread_mutex_unlock(&s->mtx));
	json_array_append_new(arr, o);
}

void
sub_metrics(struct sub *s, void (*fn)(void *arg, const char *line), void *arg)
{
	char line[1400], url[600];
	size_t o = 0;
	bool up;
	uint64_t lag;

	for (const char *p = s->url; *p != '\0' && o + 3 < sizeof url; p++) {
		if (*p == '"' || *p == '\\')
			url[o++] = '\\';
		url[o++] = *p;
	}
	url[o] = '\0';
	PTOK(pthread_mutex_lock(&s->mtx));
	up = strcmp(s->state, "streaming") == 0 || strcmp(s->state, "catching-up") == 0;
	lag = s->head_seq > s->last_seq ? s->head_seq - s->last_seq : 0;
	PTOK(pthread_mutex_unlock(&s->mtx));
	snprintf(line, sizeof line, "cdn_subscription_up{upstream=\"%s\"} %d\n"
	    "cdn_subscription_lag_events{upstream=\"%s\"} %llu\n", url, up, url,
	    (unsigned long long)lag);
	fn(arg, line);
}
