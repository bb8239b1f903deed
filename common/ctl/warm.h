/*
 * warm.h (module warm_): warm jobs: fetch a list of URLs into the cache.
 *
 * Each URL is requested with GET from the node's own data listener on
 * loopback, so it takes the normal path: a miss is coalesced with client
 * requests for the same key and goes through the shields, exactly as a
 * client's would. Jobs run in order on one thread with a libcurl multi
 * handle, at most `concurrency` requests in flight. Each job counts its
 * outcomes by the answer's X-Cache (fetched = MISS, hit, revalidated, stale,
 * pass = not cacheable) or by failure (http_error for a status of 400 or
 * more, failed when there was no answer), and keeps the first errors.
 *
 * Threads: w->mtx guards the job table; the worker thread owns the curl
 * handles. The last WARM_KEEP_JOBS jobs are kept for GET /jobs/ID.
 */
#ifndef CDN_WARM_H
#define CDN_WARM_H

#include <stdint.h>

#include <jansson.h>

#define WARM_KEEP_JOBS 128
#define WARM_MAX_URLS 100000

struct warm;

struct warm *warm_new(unsigned concurrency);
/* Start the worker thread. Returns 0 or CDN_ERR. */
int warm_start(struct warm *w);
/* Stop the worker (jobs not finished are marked "cancelled"). */
void warm_stop(struct warm *w);
void warm_free(struct warm **wp);

/* Queue a job fetching each of keys (paths with their query) from base
 * ("http://127.0.0.1:8080"). Copies what it needs. Returns the job id. */
uint64_t warm_submit(struct warm *w, const char *base, char *const *keys, unsigned n);
/* The state of a job as JSON (a new reference), or NULL if unknown. */
json_t *warm_job_json(struct warm *w, uint64_t id);
/* Totals over all jobs added to obj: warm_jobs (accepted), warm_jobs_active,
 * warm_urls_done, warm_urls_failed. */
void warm_stats_json(struct warm *w, json_t *obj);

#endif
