/*
 * warm.c: the warm worker (see warm.h).
 *
 * Design: jobs sit in a ring of WARM_KEEP_JOBS slots by id; a slot is
 * reused only once its job finished, so a job pointer stays valid while
 * any of its transfers runs. The worker thread starts transfers from the
 * oldest job with URLs left, up to the concurrency bound over all jobs,
 * and runs them on its multi handle; each transfer records its outcome in
 * its job. The body is read and dropped: the point is the side effect on
 * the cache.
 *
 * Locking: w->mtx guards the ring, every job and the totals. The worker
 * owns the multi handle and the transfers; curl calls happen outside
 * w->mtx.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "ctl/warm.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define WARM_MAX_ERRORS 20

enum outcome { OUT_FETCHED, OUT_HIT, OUT_REVALIDATED, OUT_STALE, OUT_PASS, OUT_HTTP_ERROR,
	OUT_FAILED, OUT_N };
static const char *const outcome_names[OUT_N] = { "fetched", "hit", "revalidated", "stale",
	"pass", "http_error", "failed" };

struct job {
	uint64_t id;
	char *base;
	char **keys;
	unsigned n, next, done, inflight;
	uint64_t count[OUT_N];
	json_t *errors;
	const char *state;        /* "queued", "running", "done", "cancelled" */
	uint64_t created_ms, started_ms, finished_ms;
};

struct xfer {
	struct xfer *next;        /* on w->active */
	struct job *job;
	unsigned idx;
	CURL *e;
	char xcache[24];
};

struct warm {
	pthread_mutex_t mtx;
	struct job *ring[WARM_KEEP_JOBS];   /* (mtx) slot id % WARM_KEEP_JOBS */
	uint64_t next_id;                   /* (mtx) */
	unsigned running;                   /* (mtx) transfers in flight */
	uint64_t urls_done, urls_failed;    /* (mtx) */
	unsigned concurrency;               /* const */
	CURLM *multi;                       /* const after warm_start */
	struct xfer *active;                /* (worker) transfers in flight */
	pthread_t thr;
	bool started;
	atomic_bool stop;
};

static void *warm_main(void *arg);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	for (unsigned i = 0; i < j->n; i++)
		free(j->keys[i]);
	free(j->keys);
	free(j->base);
	json_decref(j->errors);
	free(j);
}

/* ---------------------------------------------------------------- transfers */

static size_t
drop_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		x->xcache[0] = '\0';
	else if (len > 8 && strncasecmp(p, "X-Cache:", 8) == 0) {
		v = p + 8;
		while (v < p + len && (*v == ' ' || *v == '\t'))
			v++;
		vlen = strcspn(v, " \t\r\n");
		if (vlen > (size_t)(p + len - v))
			vlen = (size_t)(p + len - v);
		if (vlen >= sizeof x->xcache)
			vlen = sizeof x->xcache - 1;
		memcpy(x->xcache, v, vlen);
		x->xcache[vlen] = '\0';
	}
	return len;
}

/* Under w->mtx: the next URL to fetch, as a new transfer, or NULL. */
static struct xfer *
next_xfer_locked(struct warm *w)
{
	struct job *best = NULL;
	struct xfer *x;

	for (unsigned i = 0; i < WARM_KEEP_JOBS; i++) {
		struct job *j = w->ring[i];

		if (j != NULL && j->next < j->n && (best == NULL || j->id < best->id))
			best = j;
	}
	if (best == NULL)
		return NULL;
	x = xcalloc(1, sizeof *x);
	x->job = best;
	x->idx = best->next++;
	best->inflight++;
	if (best->started_ms == 0) {
		best->started_ms = now_ms();
		best->state = "running";
	}
	w->running++;
	return x;
}

static void
start_xfer(struct warm *w, struct xfer *x)
{
	char *url = xasprintf("%s%s", x->job->base, x->job->keys[x->idx]);

	x->e = curl_easy_init();
	AN(x->e);
	curl_easy_setopt(x->e, CURLOPT_URL, url);
	free(url); /* libcurl keeps its own copy */
	curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->e, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(x->e, CURLOPT_USERAGENT, "cdn-warm/" PACKAGE_VERSION);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, drop_body);
	curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	x->next = w->active;
	w->active = x;
	curl_multi_add_handle(w->multi, x->e);
}

static void
finish_xfer(struct warm *w, struct xfer *x, CURLcode res)
{
	struct job *j = x->job;
	enum outcome out;
	long status = 0;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK)
		out = OUT_FAILED;
	else if (status >= 400)
		out = OUT_HTTP_ERROR;
	else if (strcasecmp(x->xcache, "HIT") == 0)
		out = OUT_HIT;
	else if (strcasecmp(x->xcache, "REVALIDATED") == 0)
		out = OUT_REVALIDATED;
	else if (strcasecmp(x->xcache, "STALE") == 0)
		out = OUT_STALE;
	else if (strcasecmp(x->xcache, "MISS") == 0)
		out = OUT_FETCHED;
	else
		out = OUT_PASS;
	PTOK(pthread_mutex_lock(&w->mtx));
	j->count[out]++;
	j->done++;
	j->inflight--;
	w->running--;
	w->urls_done++;
	if (out == OUT_FAILED || out == OUT_HTTP_ERROR) {
		w->urls_failed++;
		if (json_array_size(j->errors) < WARM_MAX_ERRORS) {
			json_t *e = json_pack("{s:s,s:i}", "url", j->keys[x->idx], "status", (int)status);

			if (res != CURLE_OK)
				json_object_set_new(e, "error", json_string(curl_easy_strerror(res)));
			json_array_append_new(j->errors, e);
		}
	}
	if (j->done == j->n) {
		j->state = "done";
		j->finished_ms = now_ms();
	}
	PTOK(pthread_mutex_unlock(&w->mtx));
	for (struct xfer **pp = &w->active; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	curl_multi_remove_handle(w->multi, x->e);
	curl_easy_cleanup(x->e);
	free(x);
}

static void *
warm_main(void *arg)
{
	struct warm *w = arg;
	int running;

	while (!atomic_load(&w->stop)) {
		CURLMsg *m;
		int q;

		for (;;) {
			struct xfer *x = NULL;

			PTOK(pthread_mutex_lock(&w->mtx));
			if (w->running < w->concurrency)
				x = next_xfer_locked(w);
			PTOK(pthread_mutex_unlock(&w->mtx));
			if (x == NULL)
				break;
			start_xfer(w, x);
		}
		curl_multi_perform(w->multi, &running);
		while ((m = curl_multi_info_read(w->multi, &q)) != NULL) {
			struct xfer *x = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			finish_xfer(w, x, m->data.result);
		}
		(void)curl_multi_poll(w->multi, NULL, 0, 500, NULL);
	}
	/* Abandon what is in flight; cancel what is left. */
	while (w->active != NULL) {
		struct xfer *x = w->active;

		w->active = x->next;
		curl_multi_remove_handle(w->multi, x->e);
		curl_easy_cleanup(x->e);
		PTOK(pthread_mutex_lock(&w->mtx));
		x->job->inflight--;
		w->running--;
		PTOK(pthread_mutex_unlock(&w->mtx));
		free(x);
	}
	PTOK(pthread_mutex_lock(&w->mtx));
	for (unsigned i = 0; i < WARM_KEEP_JOBS; i++) {
		struct job *j = w->ring[i];

		if (j != NULL && j->done < j->n) {
			j->state = "cancelled";
			j->next = j->n;
			j->finished_ms = now_ms();
		}
	}
	PTOK(pthread_mutex_unlock(&w->mtx));
	return NULL;
}

/* ---------------------------------------------------------------- API */

struct warm *
warm_new(unsigned concurrency)
{
	struct warm *w = xcalloc(1, sizeof *w);

	PTOK(pthread_mutex_init(&w->mtx, NULL));
	w->concurrency = concurrency > 0 ? concurrency : 1;
	return w;
}

int
warm_start(struct warm *w)
{
	w->multi = curl_multi_init();
	if (w->multi == NULL)
		return CDN_ERR;
	if (pthread_create(&w->thr, NULL, warm_main, w) != 0)
		return CDN_ERR;
	w->started = true;
	return CDN_OK;
}

void
warm_stop(struct warm *w)
{
	atomic_store(&w->stop, true);
	if (w->multi != NULL)
		curl_multi_wakeup(w->multi);
	if (w->started)
		PTOK(pthread_join(w->thr, NULL));
	w->started = false;
}

void
warm_free(struct warm **wp)
{
	struct warm *w = *wp;

	*wp = NULL;
	if (w == NULL)
		return;
	AZ(w->started);
	for (unsigned i = 0; i < WARM_KEEP_JOBS; i++)
		job_free(w->ring[i]);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	PTOK(pthread_mutex_destroy(&w->mtx));
	free(w);
}

uint64_t
warm_submit(struct warm *w, const char *base, char *const *keys, unsigned n)
{
	struct job *j = xcalloc(1, sizeof *j), **slot;
	uint64_t id = 0;

	j->base = xstrdup(base);
	j->keys = xcalloc(n ? n : 1, sizeof *j->keys);
	for (unsigned i = 0; i < n; i++)
		j->keys[i] = xstrdup(keys[i]);
	j->n = n;
	j->errors = json_array();
	j->state = n > 0 ? "queued" : "done";
	j->created_ms = now_ms();
	if (n == 0)
		j->finished_ms = j->created_ms;
	PTOK(pthread_mutex_lock(&w->mtx));
	slot = &w->ring[(w->next_id + 1) % WARM_KEEP_JOBS];
	if (*slot == NULL || ((*slot)->done == (*slot)->n && (*slot)->inflight == 0)) {
		job_free(*slot);
		id = ++w->next_id;
		j->id = id;
		*slot = j;
		j = NULL;
	}
	PTOK(pthread_mutex_unlock(&w->mtx));
	job_free(j);
	if (id != 0 && w->multi != NULL)
		curl_multi_wakeup(w->multi);
	return id;
}

json_t *
warm_job_json(struct warm *w, uint64_t id)
{
	struct job *j;
	json_t *o = NULL, *counts;
	uint64_t ok, failed, now = now_ms();

	PTOK(pthread_mutex_lock(&w->mtx));
	j = w->ring[id % WARM_KEEP_JOBS];
	if (j != NULL && j->id == id) {
		counts = json_object();
		for (unsigned i = 0; i < OUT_N; i++)
			json_object_set_new(counts, outcome_names[i], json_integer((json_int_t)j->count[i]));
		failed = j->count[OUT_HTTP_ERROR] + j->count[OUT_FAILED];
		ok = j->done - failed;
		o = json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:o,s:O}", "job", (json_int_t)j->id,
		    "state", j->state, "total", (json_int_t)j->n, "done", (json_int_t)j->done,
		    "ok", (json_int_t)ok, "failed", (json_int_t)failed, "outcomes", counts,
		    "errors", j->errors);
		json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)
		    ((j->finished_ms != 0 ? j->finished_ms : now) - j->created_ms)));
	}
	PTOK(pthread_mutex_unlock(&w->mtx));
	return o;
}

void
warm_stats_json(struct warm *w, json_t *obj)
{
	unsigned active = 0;

	PTOK(pthread_mutex_lock(&w->mtx));
	for (unsigned i = 0; i < WARM_KEEP_JOBS; i++)
		if (w->ring[i] != NULL && w->ring[i]->done < w->ring[i]->n)
			active++;
	json_object_set_new(obj, "warm_jobs", json_integer((json_int_t)w->next_id));
	json_object_set_new(obj, "warm_jobs_active", json_integer(active));
	json_object_set_new(obj, "warm_urls_done", json_integer((json_int_t)w->urls_done));
	json_object_set_new(obj, "warm_urls_failed", json_integer((json_int_t)w->urls_failed));
	PTOK(pthread_mutex_unlock(&w->mtx));
}
