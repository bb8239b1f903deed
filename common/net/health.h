/*
 * health.h (module health_): heartbeats to the upstreams of one tier.
 *
 * One thread with its own libcurl multi handle probes every upstream's health
 * URL (scheme://host:port of its base URL + the health path, default
 * /.well-known/cdn/health) every interval. A probe succeeds when the upstream
 * answers within the timeout with a status below 500 (with strict, only a
 * 2xx): a CDN node answers 200 there, a plain origin that has no such path
 * answers 404 and still counts as alive, a node that is overloaded or
 * draining answers 503. Connection errors and timeouts are failures.
 *
 * State: each upstream is up or down. An up upstream goes down after `fall`
 * failures in a row; a down one comes back after `rise` successes in a row.
 * Real requests that fail to connect call health_report_failure, which counts
 * exactly like a failed probe, so a dead node is marked down at once instead
 * of at the next probes. Upstreams start up (optimistic): a node that starts
 * before its shields does not refuse traffic, and a dead shield is down after
 * `fall` failures.
 *
 * Detection time for a node that stops answering: at most
 * fall * interval + timeout (defaults: 2 * 1 s + 0.5 s); sooner when real
 * requests report failures.
 *
 * Indexes: upstream idx is the index into the URL array given to health_new;
 * build the ring from the same array so ring, health and upstream indexes
 * agree (health_up is a ring_up_fn).
 *
 * Threads: health_is_up and health_up are lock-free (one atomic load) and may
 * be called from any thread. health_report_failure and health_get take the
 * upstream's own mutex briefly. The probe thread owns the multi and easy
 * handles. The state-change callback and the log line for a transition run
 * under that upstream's mutex, on the thread that caused the transition (the
 * probe thread, or a thread calling health_report_failure), so transitions of
 * one upstream are reported in order.
 */
#ifndef CDN_HEALTH_H
#define CDN_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define HEALTH_PATH_DEFAULT "/.well-known/cdn/health"

struct health;

/* Called on every transition of upstream idx (up is the new state). It runs
 * with that upstream's mutex held: it must be short, and may call
 * health_is_up but no other health_ function for the same upstream. */
typedef void health_change_fn(void *arg, unsigned idx, bool up);

struct health_opts {
	uint64_t interval_ms;    /* between the starts of two probes of one upstream */
	uint64_t timeout_ms;     /* a probe that takes longer fails */
	unsigned fall;           /* failures in a row that mark an up upstream down */
	unsigned rise;           /* successes in a row that mark a down upstream up */
	const char *path;        /* health path on the data listener (copied);
	                            one not starting with "/" means the default */
	bool strict;             /* only 2xx is a success */
	health_change_fn *on_change;  /* may be NULL */
	void *arg;               /* for on_change */
};

/* The defaults: interval 1 s, timeout 500 ms, fall 2, rise 2, the default
 * path, not strict, no callback. */
void health_opts_default(struct health_opts *o);

/* What /stats shows about one upstream (a snapshot). */
struct health_status {
	bool up;
	unsigned fails;               /* failures in a row now */
	unsigned oks;                 /* successes in a row now */
	uint64_t probes;              /* probes finished */
	uint64_t probe_failures;      /* of which failed */
	uint64_t reported_failures;   /* health_report_failure calls */
	uint64_t transitions;         /* up->down plus down->up */
	int last_status;              /* HTTP status of the last probe, 0 for none */
	double last_ms;               /* duration of the last probe */
	time_t changed_at;            /* wall clock of the last transition, 0 for never */
	char last_error[96];          /* reason of the last failure, "" for none */
};

/* n upstream base URLs ("http://host:port[/...]"; only scheme and authority
 * are used). Zero values in o (or o NULL) take the defaults. Returns the
 * handle; nothing is probed before health_start. Returns NULL (reason in the
 * log) when a URL has no "scheme://host". */
struct health *health_new(char *const *urls, unsigned n, const struct health_opts *o);
/* Start the probe thread: the first round of probes goes out at once.
 * Returns 0 or CDN_ERR (logged). curl_global_init must have been called. */
int health_start(struct health *h);
/* Stop the probe thread and abandon probes in flight. Returns within about
 * one poll of the thread (it never blocks on an upstream). Safe to call
 * when not started, and twice. */
void health_stop(struct health *h);
/* Free (after health_stop) and set *hp to NULL. */
void health_free(struct health **hp);

/* Is upstream idx up? Lock-free; any thread. */
bool health_is_up(const struct health *h, unsigned idx);
/* The same with the ring_up_fn signature: ring_lookup_n(r, hash, k,
 * health_up, h, out). */
bool health_up(void *h, unsigned idx);
/* A real request to upstream idx failed to connect (or timed out before any
 * answer): count it as a failed probe. Any thread. */
void health_report_failure(struct health *h, unsigned idx);

unsigned health_count(const struct health *h);
/* How many upstreams are up now (for metrics). */
unsigned health_up_count(const struct health *h);
/* The probe URL of upstream idx; lives as long as h. */
const char *health_url(const struct health *h, unsigned idx);
/* A consistent snapshot of upstream idx. Any thread. */
void health_get(struct health *h, unsigned idx, struct health_status *st);

#endif
