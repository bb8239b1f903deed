/*
 * health.c: the heartbeat thread and the up/down state of each upstream.
 *
 * Design: one thread, one curl multi handle, one easy handle per upstream
 * that is reused for every probe (so probes ride a kept-alive connection and
 * cost one small request a second). Each upstream has a due time; the loop
 * starts every idle upstream whose time has come, then sleeps in
 * curl_multi_poll until the next due time, a curl timer, or a wakeup from
 * health_stop. A probe still running when its next one falls due delays it
 * (never two probes of one upstream at once).
 *
 * Locking and ownership:
 *   struct health      immutable after health_new, except `stop` (atomic).
 *   target.up          atomic; written under target.mtx, read lock-free.
 *   target.mtx         guards the counters and last-probe fields below it;
 *                      held while logging a transition and calling on_change
 *                      (a per-upstream lock, never taken with another lock).
 *   target.easy, busy, due, started, errbuf
 *                      owned by the probe thread.
 *   multi              owned by the probe thread; health_stop only calls
 *                      curl_multi_wakeup, which libcurl allows from any thread.
 */
#include "config.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/health.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define HEALTH_MAGIC 0x4ea17b0bu
#define POLL_MAX_MS 1000

struct target {
	char *url;
	atomic_bool up;

	pthread_mutex_t mtx;
	unsigned fails, oks;                       /* (mtx) in a row */
	uint64_t probes, probe_failures, reported; /* (mtx) */
	uint64_t transitions;                      /* (mtx) */
	int last_status;                           /* (mtx) */
	double last_ms;                            /* (mtx) */
	time_t changed_at;                         /* (mtx) */
	char last_error[96];                       /* (mtx) */

	/* owned by the probe thread */
	CURL *easy;
	bool busy;
	uint64_t due, started;
	char errbuf[CURL_ERROR_SIZE];
};

struct health {
	unsigned magic;
	struct health_opts o;
	char *path;
	unsigned n;
	struct target *t;
	CURLM *multi;
	pthread_t thread;
	bool started;
	atomic_bool stop;
};

static uint64_t now_ms(void);
static char *probe_url(const char *base, const char *path);
static void record(struct health *h, unsigned idx, bool ok, int status, double ms,
    const char *err, bool reported);
static size_t discard_cb(char *p, size_t size, size_t nmemb, void *arg);
static void launch(struct health *h, unsigned idx, uint64_t now);
static void finish(struct health *h, CURL *easy, CURLcode rc);
static void *loop(void *arg);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* scheme://authority of base, then path; NULL if base has no scheme://host. */
static char *
probe_url(const char *base, const char *path)
{
	const char *s = strstr(base, "://"), *auth;
	size_t alen;

	if (s == NULL || s == base)
		return NULL;
	auth = s + 3;
	alen = strcspn(auth, "/?#");
	if (alen == 0)
		return NULL;
	return xasprintf("%.*s%s", (int)(auth + alen - base), base, path);
}

/* ---------------------------------------------------------------- API */

void
health_opts_default(struct health_opts *o)
{
	memset(o, 0, sizeof *o);
	o->interval_ms = 1000;
	o->timeout_ms = 500;
	o->fall = 2;
	o->rise = 2;
	o->path = HEALTH_PATH_DEFAULT;
}

struct health *
health_new(char *const *urls, unsigned n, const struct health_opts *o)
{
	struct health *h = xcalloc(1, sizeof *h);
	struct health_opts def;

	health_opts_default(&def);
	h->magic = HEALTH_MAGIC;
	h->o = o != NULL ? *o : def;
	if (h->o.interval_ms == 0)
		h->o.interval_ms = def.interval_ms;
	if (h->o.timeout_ms == 0)
		h->o.timeout_ms = def.timeout_ms;
	if (h->o.fall == 0)
		h->o.fall = def.fall;
	if (h->o.rise == 0)
		h->o.rise = def.rise;
	h->path = xstrdup(h->o.path != NULL && h->o.path[0] == '/' ? h->o.path : def.path);
	h->o.path = h->path;
	h->n = n;
	h->t = xcalloc(n > 0 ? n : 1, sizeof *h->t);
	for (unsigned i = 0; i < n; i++) {
		struct target *t = &h->t[i];

		atomic_init(&t->up, true);
		PTOK(pthread_mutex_init(&t->mtx, NULL));
		t->url = probe_url(urls[i], h->path);
		if (t->url == NULL) {
			log_msg(LVL_ERROR, "health: upstream URL has no scheme://host: %s", urls[i]);
			h->n = i + 1;
			health_free(&h);
			return NULL;
		}
	}
	h->multi = curl_multi_init();
	AN(h->multi);
	return h;
}

int
health_start(struct health *h)
{
	int e;

	CHECK_OBJ_NOTNULL(h, HEALTH_MAGIC);
	AZ(h->started);
	atomic_store(&h->stop, false);
	e = pthread_create(&h->thread, NULL, loop, h);
	if (e != 0) {
		log_errno(LVL_ERROR, e, "cannot start the health-check thread");
		return CDN_ERR;
	}
	h->started = true;
	return CDN_OK;
}

void
health_stop(struct health *h)
{
	CHECK_OBJ_NOTNULL(h, HEALTH_MAGIC);
	if (!h->started)
		return;
	atomic_store(&h->stop, true);
	curl_multi_wakeup(h->multi);
	PTOK(pthread_join(h->thread, NULL));
	h->started = false;
}

void
health_free(struct health **hp)
{
	struct health *h = *hp;

	*hp = NULL;
	if (h == NULL)
		return;
	CHECK_OBJ_NOTNULL(h, HEALTH_MAGIC);
	AZ(h->started);
	for (unsigned i = 0; i < h->n; i++) {
		free(h->t[i].url);
		PTOK(pthread_mutex_destroy(&h->t[i].mtx));
	}
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	free(h->t);
	free(h->path);
	h->magic = 0;
	free(h);
}

bool
health_is_up(const struct health *h, unsigned idx)
{
	AN(idx < h->n);
	return atomic_load_explicit(&h->t[idx].up, memory_order_acquire);
}

bool
health_up(void *h, unsigned idx)
{
	return health_is_up(h, idx);
}

void
health_report_failure(struct health *h, unsigned idx)
{
	CHECK_OBJ_NOTNULL(h, HEALTH_MAGIC);
	AN(idx < h->n);
	record(h, idx, false, 0, -1, "a request could not reach it", true);
}

unsigned
health_count(const struct health *h)
{
	return h->n;
}

unsigned
health_up_count(const struct health *h)
{
	unsigned up = 0;

	for (unsigned i = 0; i < h->n; i++)
		up += atomic_load_explicit(&h->t[i].up, memory_order_relaxed) ? 1 : 0;
	return up;
}

const char *
health_url(const struct health *h, unsigned idx)
{
	AN(idx < h->n);
	return h->t[idx].url;
}

void
health_get(struct health *h, unsigned idx, struct health_status *st)
{
	struct target *t;

	CHECK_OBJ_NOTNULL(h, HEALTH_MAGIC);
	AN(idx < h->n);
	t = &h->t[idx];
	PTOK(pthread_mutex_lock(&t->mtx));
	st->up = atomic_load(&t->up);
	st->fails = t->fails;
	st->oks = t->oks;
	st->probes = t->probes;
	st->probe_failures = t->probe_failures;
	st->reported_failures = t->reported;
	st->transitions = t->transitions;
	st->last_status = t->last_status;
	st->last_ms = t->last_ms;
	st->changed_at = t->changed_at;
	memcpy(st->last_error, t->last_error, sizeof st->last_error);
	PTOK(pthread_mutex_unlock(&t->mtx));
}

/* ---------------------------------------------------------------- state */

/* One probe result (or reported failure) for upstream idx: count it and
 * move the state when a run of fall failures or rise successes completes. */
static void
record(struct health *h, unsigned idx, bool ok, int status, double ms, const char *err,
    bool reported)
{
	struct target *t = &h->t[idx];
	bool up, flip = false;

	PTOK(pthread_mutex_lock(&t->mtx));
	up = atomic_load(&t->up);
	if (reported) {
		t->reported++;
	} else {
		t->probes++;
		t->last_status = status;
		t->last_ms = ms;
	}
	if (ok) {
		t->oks++;
		t->fails = 0;
		flip = !up && t->oks >= h->o.rise;
	} else {
		if (!reported)
			t->probe_failures++;
		snprintf(t->last_error, sizeof t->last_error, "%s", err);
		t->fails++;
		t->oks = 0;
		flip = up && t->fails >= h->o.fall;
	}
	if (flip) {
		up = !up;
		atomic_store_explicit(&t->up, up, memory_order_release);
		t->transitions++;
		t->changed_at = time(NULL);
		if (up)
			log_msg(LVL_INFO, "upstream %s is up: %u good probes in a row", t->url,
			    t->oks);
		else
			log_msg(LVL_WARN, "upstream %s is down: %u failures in a row, last: %s",
			    t->url, t->fails, t->last_error);
		if (h->o.on_change != NULL)
			h->o.on_change(h->o.arg, idx, up);
	}
	PTOK(pthread_mutex_unlock(&t->mtx));
}

/* ---------------------------------------------------------------- probe thread */

static size_t
discard_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static void
launch(struct health *h, unsigned idx, uint64_t now)
{
	struct target *t = &h->t[idx];
	CURLMcode mc;

	t->errbuf[0] = '\0';
	t->started = now;
	mc = curl_multi_add_handle(h->multi, t->easy);
	if (mc != CURLM_OK) {
		record(h, idx, false, 0, 0, curl_multi_strerror(mc), false);
		return;
	}
	t->busy = true;
}

static void
finish(struct health *h, CURL *easy, CURLcode rc)
{
	struct target *t;
	char *priv = NULL;
	long status = 0;
	char why[96];
	unsigned idx;
	bool ok;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	AN(priv);
	t = (struct target *)(void *)priv;
	idx = (unsigned)(t - h->t);
	AN(idx < h->n && t->busy);
	curl_multi_remove_handle(h->multi, easy);
	t->busy = false;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		/* Truncating a long curl message to fit the status is fine. */
		snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1,
		    t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc));
		ok = false;
	} else {
		snprintf(why, sizeof why, "HTTP status %ld", status);
		ok = h->o.strict ? status >= 200 && status <= 299 : status >= 100 && status < 500;
	}
	record(h, idx, ok, (int)status, (double)(now_ms() - t->started), why, false);
}

static void *
loop(void *arg)
{
	struct health *h = arg;
	CURLMsg *msg;
	int running, left;
	long ctmo;

	for (unsigned i = 0; i < h->n; i++) {
		struct target *t = &h->t[i];

		t->easy = curl_easy_init();
		AN(t->easy);
		curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (char *)(void *)t);
		curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)h->o.timeout_ms);
		curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)h->o.timeout_ms);
		curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard_cb);
		curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
		curl_easy_setopt(t->easy, CURLOPT_USERAGENT, PACKAGE_NAME "-health/" PACKAGE_VERSION);
		t->due = now_ms();
	}
	while (!atomic_load(&h->stop)) {
		uint64_t now = now_ms(), wait = POLL_MAX_MS;

		curl_multi_perform(h->multi, &running);
		while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				finish(h, msg->easy_handle, msg->data.result);
		now = now_ms();
		for (unsigned i = 0; i < h->n; i++) {
			struct target *t = &h->t[i];

			if (t->busy)
				continue;
			if (now >= t->due) {
				launch(h, i, now);
				/* Keep the cadence, but never make up for lost rounds. */
				t->due += h->o.interval_ms;
				if (t->due <= now)
					t->due = now + h->o.interval_ms;
				wait = 0;
			} else if (t->due - now < wait) {
				wait = t->due - now;
			}
		}
		ctmo = -1;
		curl_multi_timeout(h->multi, &ctmo);
		if (ctmo >= 0 && (uint64_t)ctmo < wait)
			wait = (uint64_t)ctmo;
		if (wait > 0)
			curl_multi_poll(h->multi, NULL, 0, (int)wait, NULL);
	}
	for (unsigned i = 0; i < h->n; i++) {
		struct target *t = &h->t[i];

		if (t->busy)
			curl_multi_remove_handle(h->multi, t->easy);
		t->busy = false;
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	return NULL;
}
