/*
 * fetch.c: the libcurl multi loop that fills objects from upstream.
 *
 * Ownership: the loop thread owns the multi handle, every easy handle and
 * every job's curl-side fields. Other threads only push messages into the
 * mailbox (mbox_mtx) and call curl_multi_wakeup.
 *
 * Job lifetime: a job is reachable from its object (obj->fill) until the
 * loop completes or fails the object, which clears obj->fill under the
 * object's lock. Messages about a job (unpause, abandon) are only posted
 * under that lock while obj->fill still points at it, so every message about
 * a job is in the mailbox before the job finishes. The loop therefore keeps
 * finished jobs on a zombie list until it has drained the mailbox once more,
 * and only then frees them.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl/stats.h"
#include "http/fresh.h"
#include "http/key.h"
#include "net/fetch.h"
#include "net/health.h"
#include "net/ring.h"
#include "net/route.h"
#include "net/upstream.h"
#include "store/cache.h"
#include "store/obj.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define JOB_MAGIC 0x6a0b5eedu

enum msg_kind { MSG_START, MSG_UNPAUSE, MSG_ABANDON };

struct msg {
	enum msg_kind kind;
	struct fetch_job *job;
	struct msg *next;
};

struct fetch_job {
	unsigned magic;
	struct fetcher *f;
	struct obj *obj;
	CURL *easy;
	struct curl_slist *slist;
	char *url;                       /* of the current attempt */
	char *target;
	uint64_t hash;
	unsigned nodes[4], nnodes, attempt;
	struct tier *tier;               /* asked for */
	struct tier *used;               /* whose nodes are in nodes[] (tier or its fallback) */
	bool deadline_hit;
	bool all_down;
	char *method;
	struct hdrs req;
	uint8_t *body;
	size_t body_len;
	bool has_body, for_cache;
	unsigned long long reqid;
	struct hdrs vary_req;
	struct obj *stale, *replace;
	bool stale_on_error, must_confirm;
	bool synth;                      /* answered from stale: upstream body ignored */
	unsigned nwant;                  /* digests upstream stated (Repr-, Content-) */
	int want_alg[2];
	uint8_t want_sha[2][DIGEST_MAX_LEN];
	struct digest dg512;             /* only when a sha-512 was stated */
	bool use512;
	uint8_t synth_sha[DIGEST_LEN];

	/* owned by the loop thread */
	bool headers_done, done, failed_write, too_big;
	bool cacheable;                  /* the head said the answer is stored */
	bool spooling;                   /* its body goes to the disk tier (OBJF_FILE) */
	uint64_t received;               /* body bytes taken */
	int status;
	struct hdrs resp;
	struct digest dg;
	uint64_t deadline;       /* monotonic ms for the response head */
	uint64_t release_at;     /* monotonic ms to release coalesced waiters */
	bool released;
	time_t request_time;
	struct fetch_job *prev, *next;   /* active list */
	struct fetch_job *znext;         /* zombie list */
};

struct fetcher {
	struct fetch_opts opts;
	CURLM *multi;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_uint nactive;

	pthread_mutex_t mbox_mtx;
	struct msg *mbox_head, *mbox_tail;   /* (mbox_mtx) */
	bool closed;                         /* (mbox_mtx) the loop has ended */

	/* owned by the loop thread */
	struct fetch_job *active;
	struct fetch_job *zombies;

	bool (*on_spool)(void *arg, struct obj *o);  /* const once started */
	void *spool_arg;
};

static void post(struct fetcher *f, enum msg_kind kind, struct fetch_job *job);
static void fill_unpause(void *fill);
static void fill_abandon(void *fill);
static void job_finish(struct fetch_job *j, CURLcode rc);
static void job_free(struct fetch_job *j);
static bool retryable(const struct fetch_job *j, CURLcode rc);
static void *loop(void *arg);

static const struct obj_fill_ops fill_ops = { fill_unpause, fill_abandon };

/* Generations of vary markers (see http/key.h). */
static atomic_uint_fast64_t marker_gen;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- API */

struct fetcher *
fetch_new(const struct fetch_opts *opts)
{
	struct fetcher *f = xcalloc(1, sizeof *f);

	f->opts = *opts;
	/* Generations must not repeat across restarts (markers live on disk). */
	if (atomic_load(&marker_gen) == 0)
		atomic_store(&marker_gen, (uint64_t)time(NULL) << 20);
	f->multi = curl_multi_init();
	AN(f->multi);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)opts->max_conns);
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)opts->max_conns);
	PTOK(pthread_mutex_init(&f->mbox_mtx, NULL));
	return f;
}

int
fetch_start(struct fetcher *f)
{
	int e = pthread_create(&f->thread, NULL, loop, f);

	if (e != 0) {
		log_errno(LVL_ERROR, e, "cannot start the fetch thread");
		return CDN_ERR;
	}
	f->started = true;
	return CDN_OK;
}

void
fetch_stop(struct fetcher *f)
{
	if (!f->started)
		return;
	atomic_store(&f->stop, true);
	curl_multi_wakeup(f->multi);
	PTOK(pthread_join(f->thread, NULL));
	f->started = false;
}

void
fetch_free(struct fetcher **fp)
{
	struct fetcher *f = *fp;

	*fp = NULL;
	if (f == NULL)
		return;
	AZ(f->started);
	curl_multi_cleanup(f->multi);
	PTOK(pthread_mutex_destroy(&f->mbox_mtx));
	free(f);
}

void
fetch_spec_fini(struct fetch_spec *spec)
{
	free(spec->target);
	spec->target = NULL;
	free(spec->body);
	spec->body = NULL;
	hdrs_fini(&spec->hdrs);
	hdrs_fini(&spec->vary_req);
}

void
fetch_set_spool(struct fetcher *f, bool (*fn)(void *arg, struct obj *o), void *arg)
{
	AZ(f->started);
	f->on_spool = fn;
	f->spool_arg = arg;
}

uint64_t
fetch_max_keep(const struct fetcher *f)
{
	return f->opts.max_keep;
}

unsigned
fetch_active(struct fetcher *f)
{
	return atomic_load(&f->nactive);
}

void
fetch_submit(struct fetcher *f, struct obj *o, struct fetch_spec *spec)
{
	struct fetch_job *j = xcalloc(1, sizeof *j);

	j->magic = JOB_MAGIC;
	j->f = f;
	obj_ref(o);
	j->obj = o;
	j->target = spec->target;
	spec->target = NULL;
	j->hash = spec->hash;
	j->tier = spec->tier;
	AN(j->tier);
	j->method = xstrdup(spec->method);
	j->req = spec->hdrs;
	hdrs_init(&spec->hdrs);
	j->body = spec->body;
	spec->body = NULL;
	j->body_len = spec->body_len;
	j->has_body = spec->has_body;
	j->for_cache = spec->for_cache;
	j->reqid = spec->reqid;
	j->vary_req = spec->vary_req;
	hdrs_init(&spec->vary_req);
	if (spec->stale != NULL)
		obj_ref(spec->stale);
	j->stale = spec->stale;
	j->stale_on_error = spec->stale_on_error;
	j->must_confirm = spec->must_confirm;
	if (spec->replace != NULL)
		obj_ref(spec->replace);
	j->replace = spec->replace;
	hdrs_init(&j->resp);
	obj_set_fill(o, &fill_ops, j);
	atomic_fetch_add(&f->nactive, 1);
	post(f, MSG_START, j);
}

/* ---------------------------------------------------------------- mailbox */

static void
post(struct fetcher *f, enum msg_kind kind, struct fetch_job *job)
{
	struct msg *m = xmalloc(sizeof *m);

	m->kind = kind;
	m->job = job;
	m->next = NULL;
	PTOK(pthread_mutex_lock(&f->mbox_mtx));
	if (f->closed) {
		/* The loop is gone (shutdown): a new fetch fails at once; its
		 * job never reached curl, so it is freed here. */
		PTOK(pthread_mutex_unlock(&f->mbox_mtx));
		free(m);
		if (kind == MSG_START) {
			obj_fail(job->obj, 502);
			if (job->for_cache)
				cache_remove(f->opts.cache, job->obj);
			job->easy = NULL;
			job_free(job);
			atomic_fetch_sub(&f->nactive, 1);
		}
		return;
	}
	if (f->mbox_tail != NULL)
		f->mbox_tail->next = m;
	else
		f->mbox_head = m;
	f->mbox_tail = m;
	PTOK(pthread_mutex_unlock(&f->mbox_mtx));
	curl_multi_wakeup(f->multi);
}

/* Called by obj with the object's lock held: post only. */
static void
fill_unpause(void *fill)
{
	struct fetch_job *j = fill;

	CHECK_OBJ_NOTNULL(j, JOB_MAGIC);
	post(j->f, MSG_UNPAUSE, j);
}

static void
fill_abandon(void *fill)
{
	struct fetch_job *j = fill;

	CHECK_OBJ_NOTNULL(j, JOB_MAGIC);
	post(j->f, MSG_ABANDON, j);
}

/* ---------------------------------------------------------------- curl callbacks */

static bool
parse_status_line(const char *p, size_t n, int *status)
{
	int s = 0;
	size_t i;

	if (n < 12 || strncmp(p, "HTTP/", 5) != 0)
		return false;
	i = 5;
	while (i < n && p[i] != ' ')
		i++;
	if (i + 4 > n)
		return false;
	for (size_t k = i + 1; k < i + 4; k++) {
		if (p[k] < '0' || p[k] > '9')
			return false;
		s = s * 10 + (p[k] - '0');
	}
	*status = s;
	return true;
}

/* Fields a 304 must not change in the stored response (RFC 9111 3.2). */
static bool
keep_on_update(const char *name)
{
	static const char *const keep[] = { "Content-Length", "Content-Encoding",
		"Content-Range", "Transfer-Encoding", "Content-Type" };

	for (size_t i = 0; i < ARRAY_LEN(keep); i++)
		if (strcasecmp(name, keep[i]) == 0)
			return true;
	return false;
}

/* Answer from the stored response: a 304 (revalidated, its fields merged
 * in, RFC 9111 4.3.4) or a failure under stale-if-error (as stored). */
static void
synthesize(struct fetch_job *j, bool revalidated)
{
	struct obj *o = j->obj, *st = j->stale;
	const struct fetch_opts *op = &j->f->opts;
	struct hdrs merged;

	AZ(st->flags & OBJF_FILE); /* file bodies are never revalidated in place */
	time_t now = time(NULL);
	unsigned flags = OBJF_CACHEABLE;
	bool storable = true;

	hdrs_init(&merged);
	hdrs_copy(&merged, &st->hdrs);
	if (revalidated) {
		for (unsigned i = 0; i < j->resp.n; i++)
			if (!keep_on_update(j->resp.v[i].name))
				hdrs_del(&merged, j->resp.v[i].name);
		for (unsigned i = 0; i < j->resp.n; i++)
			if (!keep_on_update(j->resp.v[i].name))
				hdrs_add(&merged, j->resp.v[i].name, j->resp.v[i].value);
		o->response_time = now;
		struct cc full;

		fresh_resp_cc(&full, &merged, op->fcfg);
		obj_cc_set(&o->rcc, &full);
		o->lifetime = obj_clamp32(fresh_lifetime(st->status, &merged, &full, now, op->fcfg));
		o->initial_age = obj_clamp32(fresh_initial_age(&merged, j->request_time, now));
		storable = fresh_storable("GET", st->status, &j->req, &merged, op->fcfg);
		o->note = NOTE_REVALIDATED;
	} else {
		o->response_time = st->response_time;
		o->rcc = st->rcc;
		o->lifetime = st->lifetime;
		o->initial_age = st->initial_age;
		o->note = NOTE_STALE;
	}
	obj_set_expected_len(o, (int64_t)st->len);
	o->upstream_status = j->status;
	memcpy(j->synth_sha, st->sha, DIGEST_LEN);
	j->synth = true;
	/* The stored body's digest is known now: its answers carry it as a
	 * header from the start (no trailer needed). */
	memcpy(o->sha, st->sha, DIGEST_LEN);
	flags |= OBJF_DIGEST;
	obj_set_headers(o, st->status, &merged, flags);
	/* The stored body is complete and immutable: no lock needed to read it. */
	if (obj_append(o, st->data, (size_t)st->len, UINT64_MAX) != CDN_OK) {
		j->failed_write = true;
		storable = false;
	}
	if (!storable && j->for_cache)
		cache_remove(op->cache, o);
	j->headers_done = true;
}

/* Put a small complete marker object (vary or hit-for-miss) under key. */
static struct obj *
marker_new(const char *key, size_t keylen, unsigned flags, const char *vary, int64_t lifetime,
    uint64_t gen)
{
	struct obj *m = obj_new(key, keylen, key_hash(key, keylen));
	struct hdrs h;
	uint8_t sha[DIGEST_LEN];
	char g[32];

	hdrs_init(&h);
	if (vary != NULL)
		hdrs_add(&h, "Vary", vary);
	if (gen != 0) {
		/* Kept in the head so a marker read back from disk has it. */
		snprintf(g, sizeof g, "%llu", (unsigned long long)gen);
		hdrs_add(&h, FETCH_GEN_FIELD, g);
	}
	if (flags & OBJF_MARKER)
		obj_set_gen(m, gen);
	m->response_time = (uint32_t)time(NULL);
	m->lifetime = obj_clamp32(lifetime);
	obj_set_expected_len(m, 0);
	obj_set_headers(m, 200, &h, OBJF_CACHEABLE | flags);
	digest_sha256("", 0, sha);
	obj_complete(m, sha);
	return m;
}

/* Give j's object the key nkey (taken over): moved in the index if it is
 * indexed, else (a background refresh) just renamed before it is put in. */
static void
set_key(struct fetch_job *j, char *nkey, size_t nlen)
{
	struct obj *o = j->obj;

	if (j->replace == NULL) {
		cache_rekey(j->f->opts.cache, o, nkey, nlen);
		return;
	}
	obj_set_key(o, nkey, nlen);
}

/* A stored response with Vary lives under its variant key, and the URL's
 * marker remembers what it varies on (see http/key.h). Runs before the
 * object's head is published, so nobody else reads its key meanwhile. */
static bool
place_variant(struct fetch_job *j)
{
	struct obj *o = j->obj, *m;
	struct cache *c = j->f->opts.cache;
	size_t base = key_base_len(o->key, o->keylen), nlen, mlen;
	char *vary = hdrs_join(&j->resp, "Vary"), *nkey, *mkey;

	mkey = key_marker(o->key, base, &mlen);
	if (vary != NULL && strchr(vary, '*') != NULL) {
		free(vary);
		free(mkey);
		return false; /* Vary: * never matches a later request */
	}
	if (vary == NULL) {
		if (base != o->keylen) {
			/* No longer varies: back under the plain key, marker gone. */
			set_key(j, xstrndup(o->key, base), base);
			m = cache_lookup(c, mkey, mlen, key_hash(mkey, mlen));
			if (m != NULL) {
				cache_remove(c, m);
				obj_unref(&m);
			}
		}
		free(mkey);
		return true;
	}
	/* Keep the URL's marker (and so its other variants) while the Vary is
	 * the same; a new Vary starts a new generation. */
	m = cache_lookup(c, mkey, mlen, key_hash(mkey, mlen));
	if (m != NULL) {
		const char *mv = hdrs_get(&m->hdrs, "Vary");

		if (obj_state(m) != OBJ_COMPLETE || mv == NULL || strcmp(mv, vary) != 0)
			obj_unref(&m);
	}
	if (m == NULL) {
		uint64_t gen = atomic_fetch_add(&marker_gen, 1) + 1;

		m = marker_new(mkey, mlen, OBJF_MARKER, vary, INT32_MAX, gen);
		cache_put(c, m);
		cache_commit(c, m, time(NULL));
		if (j->f->opts.on_commit != NULL)
			j->f->opts.on_commit(j->f->opts.commit_arg, m);
	}
	nkey = key_variant(o->key, base, obj_gen(m), vary, &j->vary_req, &nlen);
	if (nkey != NULL && !obj_variant_admit(m, key_hash(nkey, nlen), j->f->opts.max_variants)) {
		/* A new variant past the limit: not stored (the URL's other
		 * variants stay), so a field with endless values cannot flood
		 * the cache. */
		free(nkey);
		nkey = NULL;
	}
	obj_unref(&m);
	if (nkey == NULL) {
		free(vary);
		free(mkey);
		return false;
	}
	if (nlen != o->keylen || memcmp(nkey, o->key, nlen) != 0)
		set_key(j, nkey, nlen);
	else
		free(nkey);
	free(vary);
	free(mkey);
	return true;
}

/* A shared cache must not store the fields named by private="..." and may
 * not send those of no-cache="..." without revalidation (RFC 9111 5.2.2.4,
 * 5.2.2.7): they are left out of what is stored and shared. */
static void
strip_qualified(struct hdrs *h, const struct cc *rcc)
{
	const char *lists[2] = { NULL, NULL }, *p, *e;
	size_t elen;
	char name[128];

	if (rcc->flags & CC_PRIVATE_FIELDS)
		lists[0] = rcc->private_fields;
	if (rcc->flags & CC_NO_CACHE_FIELDS)
		lists[1] = rcc->no_cache_fields;
	for (int i = 0; i < 2; i++) {
		p = lists[i];
		while (p != NULL && (p = hdrs_list_next(p, &e, &elen)) != NULL) {
			if (elen >= sizeof name)
				continue;
			memcpy(name, e, elen);
			name[elen] = '\0';
			hdrs_del(h, name);
		}
	}
}

static void
headers_done(struct fetch_job *j)
{
	struct obj *o = j->obj;
	const struct fetch_opts *op = &j->f->opts;
	const char *cl;
	bool storable = false, big;
	unsigned flags = 0;
	time_t now = time(NULL);
	struct cc full;

	hdrs_strip_hop_by_hop(&j->resp);
	if (j->stale != NULL && j->status == 304) {
		synthesize(j, true);
		return;
	}
	if (j->stale != NULL && j->stale_on_error && j->status >= 500) {
		synthesize(j, false);
		return;
	}
	if (j->status == 200 && strcmp(j->method, "HEAD") != 0) {
		/* RFC 9530: check the body against the digest upstream states. For
		 * a whole 200 the representation is the content. */
		static const char *const fields[2] = { "Repr-Digest", "Content-Digest" };

		for (int i = 0; i < 2; i++) {
			const char *dv = hdrs_get(&j->resp, fields[i]);

			/* Content-Digest covers the bytes as sent: the same as the
			 * representation unless a content coding was applied, and
			 * the body is kept as sent either way. */
			if (dv != NULL && digest_field_parse_any(dv, &j->want_alg[j->nwant],
			    j->want_sha[j->nwant]) == CDN_OK)
				j->nwant++;
		}
		for (unsigned i = 0; i < j->nwant; i++)
			if (j->want_alg[i] == DIGEST_SHA512 && !j->use512) {
				digest_init_alg(&j->dg512, DIGEST_SHA512);
				j->use512 = true;
			}
	}
	cl = hdrs_get(&j->resp, "Content-Length");
	if (cl != NULL) {
		char *end;
		long long v = strtoll(cl, &end, 10);

		if (end != cl && *end == '\0' && v >= 0)
			obj_set_expected_len(o, v);
	}
	if (strcmp(j->method, "HEAD") == 0 || j->status == 204 || j->status == 304 ||
	    j->status < 200)
		obj_set_expected_len(o, 0);
	/* const fields: set before obj_set_headers publishes them */
	o->response_time = now;
	o->upstream_status = j->status;
	fresh_resp_cc(&full, &j->resp, op->fcfg);
	obj_cc_set(&o->rcc, &full);
	o->lifetime = obj_clamp32(fresh_lifetime(j->status, &j->resp, &full, now, op->fcfg));
	o->initial_age = obj_clamp32(fresh_initial_age(&j->resp, j->request_time, now));
	if (j->for_cache) {
		storable = fresh_storable("GET", j->status, &j->req, &j->resp, op->fcfg);
		/* Worth storing only with a freshness lifetime or a validator. */
		if (storable && o->lifetime <= 0 && hdrs_get(&j->resp, "ETag") == NULL &&
		    hdrs_get(&j->resp, "Last-Modified") == NULL)
			storable = false;
		big = obj_expected_len(o) > 0 && (uint64_t)obj_expected_len(o) > op->max_keep;
		if (storable && big && j->f->on_spool == NULL)
			storable = false;
		if (storable)
			storable = place_variant(j);
		if (storable && big) {
			/* Above the memory tier's limit: straight to disk, under
			 * the key place_variant settled. */
			storable = j->f->on_spool(j->f->spool_arg, o);
			j->spooling = storable;
		}
		if (storable)
			strip_qualified(&j->resp, &full);
		if (storable)
			flags |= OBJF_CACHEABLE;
		else
			STATS_INC(uncacheable);
	}
	if (j->for_cache && !storable && j->replace == NULL) {
		/* Remember briefly that this key is uncacheable, so the next
		 * requests go upstream in parallel instead of queueing. */
		struct obj *m = marker_new(o->key, o->keylen, OBJF_HFM, NULL, (int64_t)op->hfm_ttl, 0);

		if (op->hfm_ttl == 0 || !cache_replace(op->cache, o, m))
			cache_remove(op->cache, o);
		else
			cache_commit(op->cache, m, now);
		obj_unref(&m);
	}
	j->cacheable = (flags & OBJF_CACHEABLE) != 0;
	obj_set_headers(o, j->status, &j->resp, flags);
	j->headers_done = true;
}

static size_t
header_cb(char *p, size_t size, size_t nitems, void *arg)
{
	struct fetch_job *j = arg;
	size_t n = size * nitems, len = n;
	const char *colon;
	int st;

	if (j->headers_done) {
		/* Trailers: a Repr-Digest there (a tier that streamed the body
		 * before knowing it, see net/front) is checked like one in the
		 * head, when the body's hash can still be compared. */
		int alg;
		uint8_t want[DIGEST_MAX_LEN];

		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
			len--;
		colon = memchr(p, ':', len);
		if (colon != NULL && j->status == 200 && !j->synth && j->nwant < 2 &&
		    (size_t)(colon - p) == 11 && strncasecmp(p, "Repr-Digest", 11) == 0) {
			const char *vp = colon + 1;
			char *v;

			while (vp < p + len && (*vp == ' ' || *vp == '\t'))
				vp++;
			v = xstrndup(vp, len - (size_t)(vp - p));

			if (digest_field_parse_any(v, &alg, want) == CDN_OK &&
			    (alg != DIGEST_SHA512 || j->use512)) {
				j->want_alg[j->nwant] = alg;
				memcpy(j->want_sha[j->nwant], want, DIGEST_MAX_LEN);
				j->nwant++;
			}
			free(v);
		}
		return n;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (parse_status_line(p, len, &st)) {
		j->status = st;
		hdrs_fini(&j->resp);
		hdrs_init(&j->resp);
		return n;
	}
	if (len == 0) {
		/* End of a head. 1xx heads are interim: wait for the final one. */
		if (j->status >= 200)
			headers_done(j);
		return n;
	}
	colon = memchr(p, ':', len);
	if (colon == NULL || colon == p)
		return n; /* malformed line: dropped */
	hdrs_addn(&j->resp, p, (size_t)(colon - p), colon + 1, len - (size_t)(colon - p) - 1);
	return n;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch_job *j = arg;
	size_t n = size * nmemb;
	int rc;

	if (!j->headers_done)
		headers_done(j);
	if (j->synth)
		return n; /* the answer comes from the stored copy */
	if (j->cacheable && !j->spooling && !j->too_big && j->f->on_spool != NULL &&
	    j->received + n > j->f->opts.max_keep)
		/* Outgrew the memory tier's limit: the rest goes to disk
		 * (or, if the disk tier cannot take it, nowhere). */
		j->spooling = j->f->on_spool(j->f->spool_arg, j->obj);
	rc = obj_append(j->obj, p, n, j->spooling ? UINT64_MAX : j->f->opts.max_keep);
	switch (rc) {
	case CDN_OK:
		break;
	case CDN_TOOBIG:
		j->too_big = true;
		if (j->for_cache)
			cache_remove(j->f->opts.cache, j->obj);
		break;
	case CDN_AGAIN:
		return CURL_WRITEFUNC_PAUSE;
	default:
		j->failed_write = true;
		return 0; /* abandoned or out of memory: abort the transfer */
	}
	digest_update(&j->dg, p, n);
	if (j->use512)
		digest_update(&j->dg512, p, n);
	j->received += n;
	STATS_ADD(bytes_fetched, n);
	return n;
}

/* ---------------------------------------------------------------- loop */

static struct curl_slist *
build_slist(const struct hdrs *h, bool has_body)
{
	struct curl_slist *sl = NULL, *t;
	bool has_ct = false, has_accept = false;

	for (unsigned i = 0; i < h->n; i++) {
		char *line;

		if (strcasecmp(h->v[i].name, "Content-Type") == 0)
			has_ct = true;
		if (strcasecmp(h->v[i].name, "Accept") == 0)
			has_accept = true;
		if (h->v[i].value[0] == '\0')
			line = xasprintf("%s;", h->v[i].name); /* curl's way to send an empty field */
		else
			line = xasprintf("%s: %s", h->v[i].name, h->v[i].value);
		t = curl_slist_append(sl, line);
		free(line);
		AN(t);
		sl = t;
	}
	/* Switch off what curl would add on its own. */
	t = curl_slist_append(sl, "Expect:");
	AN(t);
	sl = t;
	if (!has_accept) {
		t = curl_slist_append(sl, "Accept:");
		AN(t);
		sl = t;
	}
	if (has_body && !has_ct) {
		t = curl_slist_append(sl, "Content-Type:");
		AN(t);
		sl = t;
	}
	return sl;
}

/* The nodes to try for j, best first: live ones in ring order from the
 * key; if none is live, all of them (health may lag behind a recovery). */
static void
choose_nodes(struct fetcher *f, struct fetch_job *j)
{
	unsigned k = f->opts.max_attempts;

	if (k > ARRAY_LEN(j->nodes))
		k = ARRAY_LEN(j->nodes);
	if (k == 0)
		k = 1;
	j->used = j->tier;
	if (j->used->health == NULL) {
		j->nnodes = ring_lookup_n(ups_ring(j->used->ups), j->hash, k, NULL, NULL, j->nodes);
		return;
	}
	j->nnodes = ring_lookup_n(ups_ring(j->used->ups), j->hash, k, health_up, j->used->health,
	    j->nodes);
	if (j->nnodes == 0 && j->tier->fallback != NULL) {
		/* Every node of the tier is down: the configured fallback. */
		j->used = j->tier->fallback;
		j->nnodes = ring_lookup_n(ups_ring(j->used->ups), j->hash, k,
		    j->used->health != NULL ? health_up : NULL, j->used->health, j->nodes);
		if (j->nnodes == 0)
			j->nnodes = ring_lookup_n(ups_ring(j->used->ups), j->hash, k, NULL, NULL, j->nodes);
	}
}

static void
job_begin(struct fetcher *f, struct fetch_job *j)
{
	CURL *e = curl_easy_init();
	CURLMcode mc;

	AN(e);
	j->easy = e;
	if (j->used == NULL)
		choose_nodes(f, j);
	free(j->url);
	if (j->nnodes == 0) {
		/* Nothing live and no fallback: 503 without trying. */
		j->url = xasprintf("(tier %s)%s", j->tier->name, j->target);
		j->all_down = true;
	} else {
		j->url = xasprintf("%s%s", ups_base(j->used->ups, j->nodes[j->attempt]), j->target);
	}
	j->request_time = time(NULL);
	j->deadline = now_ms() + f->opts.first_byte_ms;
	j->release_at = f->opts.coalesce_ms > 0 ? now_ms() + f->opts.coalesce_ms : UINT64_MAX;
	digest_init(&j->dg);
	j->slist = build_slist(&j->req, j->has_body);
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)f->opts.connect_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((f->opts.idle_ms + 999) / 1000));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->slist);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 65536L);
	if (strcmp(j->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(j->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
	}
	if (j->has_body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body != NULL ? (char *)j->body : "");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
	}
	j->next = f->active;
	if (f->active != NULL)
		f->active->prev = j;
	f->active = j;
	if (j->all_down) {
		log_req(LVL_WARN, j->reqid, "every node of tier %s is down", j->tier->name);
		job_finish(j, CURLE_COULDNT_CONNECT);
		return;
	}
	STATS_INC(upstream_requests);
	atomic_fetch_add_explicit(&j->used->node_requests[j->nodes[j->attempt]], 1,
	    memory_order_relaxed);
	mc = curl_multi_add_handle(f->multi, e);
	if (mc != CURLM_OK) {
		log_req(LVL_ERROR, j->reqid, "cannot start upstream request: %s", curl_multi_strerror(mc));
		job_finish(j, CURLE_FAILED_INIT);
	}
}

/* May a failed attempt go to the next node? Only before any answer, and
 * for a method that is not idempotent only when nothing can have reached
 * the node (the connection was never made). */
static bool
retryable(const struct fetch_job *j, CURLcode rc)
{
	bool idempotent = strcmp(j->method, "GET") == 0 || strcmp(j->method, "HEAD") == 0 ||
	    strcmp(j->method, "PUT") == 0 || strcmp(j->method, "DELETE") == 0 ||
	    strcmp(j->method, "OPTIONS") == 0;

	if (j->deadline_hit)
		return false;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return true;
	case CURLE_OPERATION_TIMEDOUT: /* here: the connect timeout */
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return idempotent;
	default:
		return false;
	}
}

/* A complete answer for the cache: account it in the memory tier, or, for
 * a background refresh, put it in place of the object it refreshes. */
static void
commit_or_replace(struct fetch_job *j)
{
	struct obj *o = j->obj;
	struct cache *c = j->f->opts.cache;

	if (!j->for_cache || !(o->flags & OBJF_CACHEABLE) || j->too_big)
		return;
	if (j->spooling) {
		/* Not a memory-tier object: its writer stores it on disk and
		 * then takes it out of the index. What it replaces goes now. */
		if (j->replace != NULL)
			cache_remove(c, j->replace);
		STATS_INC(stored);
		return;
	}
	if (j->replace != NULL) {
		if (o->keylen == j->replace->keylen &&
		    memcmp(o->key, j->replace->key, o->keylen) == 0) {
			if (!cache_replace(c, j->replace, o))
				return; /* purged or replaced meanwhile: keep that */
		} else {
			cache_put(c, o);
		}
	}
	cache_commit(c, o, time(NULL));
	STATS_INC(stored);
	if (j->f->opts.on_commit != NULL)
		j->f->opts.on_commit(j->f->opts.commit_arg, o);
}

/* Finish the body's digest into sha; false if upstream stated another. */
static bool
digest_ok(struct fetch_job *j, uint8_t sha[DIGEST_LEN])
{
	uint8_t s512[DIGEST_MAX_LEN];
	bool ok = true;

	digest_final(&j->dg, sha);
	if (j->use512) {
		digest_final_n(&j->dg512, s512);
		j->use512 = false;
	}
	for (unsigned i = 0; i < j->nwant; i++) {
		if (j->want_alg[i] == DIGEST_SHA512)
			ok = ok && memcmp(s512, j->want_sha[i], 64) == 0;
		else
			ok = ok && memcmp(sha, j->want_sha[i], DIGEST_LEN) == 0;
	}
	return ok;
}

/* The transfer is over (rc) or given up; tell the object, park the job. */
static void
job_finish(struct fetch_job *j, CURLcode rc)
{
	struct fetcher *f = j->f;
	struct obj *o = j->obj;
	uint8_t sha[DIGEST_LEN];
	int status;

	AZ(j->done);
	if (rc != CURLE_OK && !j->failed_write && !j->all_down)
		atomic_fetch_add_explicit(&j->used->node_errors[j->nodes[j->attempt]], 1,
		    memory_order_relaxed);
	if (rc != CURLE_OK && !j->headers_done && !j->failed_write && !j->all_down) {
		if (j->used->health != NULL)
			health_report_failure(j->used->health, j->nodes[j->attempt]);
		if (retryable(j, rc) && j->attempt + 1 >= j->nnodes && j->used == j->tier &&
		    j->tier->fallback != NULL) {
			/* Every node of the tier tried: before health catches up,
			 * the fallback tier takes the request. */
			struct tier *fb = j->tier->fallback;

			j->used = fb;
			j->nnodes = ring_lookup_n(ups_ring(fb->ups), j->hash, ARRAY_LEN(j->nodes),
			    fb->health != NULL ? health_up : NULL, fb->health, j->nodes);
			if (j->nnodes == 0)
				j->nnodes = ring_lookup_n(ups_ring(fb->ups), j->hash, ARRAY_LEN(j->nodes),
				    NULL, NULL, j->nodes);
			j->attempt = (unsigned)-1; /* the retry below makes it 0 */
		}
		if (retryable(j, rc) && j->attempt + 1 < j->nnodes) {
			log_req(LVL_WARN, j->reqid, "upstream %s failed (%s): trying the next node",
			    j->url, curl_easy_strerror(rc));
			STATS_INC(upstream_retries);
			curl_multi_remove_handle(f->multi, j->easy);
			curl_easy_cleanup(j->easy);
			j->easy = NULL;
			curl_slist_free_all(j->slist);
			j->slist = NULL;
			digest_fini(&j->dg);
			if (j->prev != NULL)
				j->prev->next = j->next;
			else
				f->active = j->next;
			if (j->next != NULL)
				j->next->prev = j->prev;
			j->prev = j->next = NULL;
			j->status = 0;
			hdrs_fini(&j->resp);
			hdrs_init(&j->resp);
			j->attempt++;
			job_begin(f, j);
			return;
		}
	}
	j->done = true;
	curl_multi_remove_handle(f->multi, j->easy);
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		f->active = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;

	if (rc == CURLE_OK && !j->headers_done && j->status >= 200)
		headers_done(j);
	if (rc != CURLE_OK && !j->headers_done && j->stale != NULL && j->stale_on_error &&
	    !j->failed_write)
		synthesize(j, false);
	if (j->synth && !j->failed_write) {
		digest_fini(&j->dg);
		obj_complete(o, j->synth_sha);
		if (rc != CURLE_OK)
			STATS_INC(upstream_errors);
		commit_or_replace(j);
	} else if (rc == CURLE_OK && j->headers_done && !digest_ok(j, sha)) {
		/* The body is not what upstream said it is: store nothing, and
		 * the client's answer ends in an error, never as good bytes. */
		STATS_INC(digest_mismatch);
		log_req(LVL_ERROR, j->reqid, "upstream %s: body does not match its stated digest",
		    j->url);
		obj_fail(o, 502);
		if (j->for_cache && j->replace == NULL)
			cache_remove(f->opts.cache, o);
	} else if (rc == CURLE_OK && j->headers_done) {
		obj_complete(o, sha);
		commit_or_replace(j);
	} else {
		digest_fini(&j->dg);
		status = rc == CURLE_OPERATION_TIMEDOUT || j->must_confirm ? 504 :
		    j->all_down ? 503 : 502;
		if (!j->failed_write) {
			STATS_INC(upstream_errors);
			if (rc == CURLE_OPERATION_TIMEDOUT)
				STATS_INC(upstream_timeouts);
			log_req(LVL_WARN, j->reqid, "upstream %s %s failed: %s", j->method, j->url,
			    rc == CURLE_OK ? "no response head" : curl_easy_strerror(rc));
		}
		obj_fail(o, status);
		if (j->for_cache && j->replace == NULL)
			cache_remove(f->opts.cache, o);
	}
	if (j->replace != NULL)
		atomic_store(&j->replace->_refreshing, false);
	j->znext = f->zombies;
	f->zombies = j;
	atomic_fetch_sub(&f->nactive, 1);
}

static void
job_free(struct fetch_job *j)
{
	if (j->easy != NULL)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->slist);
	hdrs_fini(&j->req);
	hdrs_fini(&j->resp);
	hdrs_fini(&j->vary_req);
	digest_fini(&j->dg512);
	if (j->stale != NULL)
		obj_unref(&j->stale);
	if (j->replace != NULL)
		obj_unref(&j->replace);
	free(j->url);
	free(j->target);
	free(j->method);
	free(j->body);
	obj_unref(&j->obj);
	j->magic = 0;
	free(j);
}

static void
drain_mailbox(struct fetcher *f)
{
	struct msg *m, *next;

	PTOK(pthread_mutex_lock(&f->mbox_mtx));
	m = f->mbox_head;
	f->mbox_head = f->mbox_tail = NULL;
	PTOK(pthread_mutex_unlock(&f->mbox_mtx));
	for (; m != NULL; m = next) {
		struct fetch_job *j = m->job;

		next = m->next;
		CHECK_OBJ_NOTNULL(j, JOB_MAGIC);
		switch (m->kind) {
		case MSG_START:
			job_begin(f, j);
			break;
		case MSG_UNPAUSE:
			if (!j->done)
				curl_easy_pause(j->easy, CURLPAUSE_CONT);
			break;
		case MSG_ABANDON:
			if (!j->done) {
				j->failed_write = true;
				job_finish(j, CURLE_ABORTED_BY_CALLBACK);
			}
			break;
		}
		free(m);
	}
}

static void
free_zombies(struct fetcher *f)
{
	struct fetch_job *j = f->zombies, *next;

	f->zombies = NULL;
	for (; j != NULL; j = next) {
		next = j->znext;
		job_free(j);
	}
}

static void
check_deadlines(struct fetcher *f)
{
	uint64_t now = now_ms();
	struct fetch_job *j = f->active, *next;

	for (; j != NULL; j = next) {
		next = j->next;
		if (!j->headers_done && now >= j->deadline) {
			j->deadline_hit = true;
			job_finish(j, CURLE_OPERATION_TIMEDOUT);
		} else if (!j->headers_done && !j->released && now >= j->release_at) {
			j->released = true;
			obj_release_waiters(j->obj);
		}
	}
}

static void *
loop(void *arg)
{
	struct fetcher *f = arg;
	CURLMsg *msg;
	int running, left;
	long tmo;

	while (!atomic_load(&f->stop)) {
		drain_mailbox(f);
		free_zombies(f);
		curl_multi_perform(f->multi, &running);
		while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
			struct fetch_job *j = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			CHECK_OBJ_NOTNULL(j, JOB_MAGIC);
			job_finish(j, msg->data.result);
		}
		check_deadlines(f);
		tmo = 100;
		curl_multi_timeout(f->multi, &tmo);
		if (tmo < 0 || tmo > 100)
			tmo = 100;
		curl_multi_poll(f->multi, NULL, 0, (int)tmo, NULL);
	}
	/* Shutting down: close the mailbox (later posts fail at once), then
	 * fail whatever is queued or running, then free everything. */
	PTOK(pthread_mutex_lock(&f->mbox_mtx));
	f->closed = true;
	PTOK(pthread_mutex_unlock(&f->mbox_mtx));
	drain_mailbox(f);
	while (f->active != NULL)
		job_finish(f->active, CURLE_ABORTED_BY_CALLBACK);
	drain_mailbox(f);
	free_zombies(f);
	return NULL;
}
