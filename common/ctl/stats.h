/*
 * stats.h (module stats_): the node's counters.
 *
 * Plain relaxed atomics in one global struct, bumped from any thread with
 * STATS_INC / STATS_ADD and read by the admin API (/stats, /metrics), so tests
 * can assert on what a node did, not only on what a client saw.
 */
#ifndef CDN_STATS_H
#define CDN_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* X(name, help) for every counter, in the order they are exported. */
#define STATS_COUNTERS(X) \
	X(requests, "client requests received") \
	X(hits, "answered from cache") \
	X(misses, "fetched from upstream for the cache") \
	X(passes, "forwarded upstream without caching") \
	X(stale, "answered stale from cache") \
	X(coalesced, "requests that waited on another request's fetch") \
	X(upstream_requests, "requests sent upstream") \
	X(upstream_errors, "upstream requests that failed (refused, timeout, reset)") \
	X(upstream_retries, "upstream requests retried on the next node of the ring") \
	X(upstream_refreshes, "background refreshes (stale-while-revalidate)") \
	X(upstream_timeouts, "upstream requests that timed out") \
	X(client_errors, "requests refused as malformed or over a limit") \
	X(bytes_sent, "body bytes sent to clients") \
	X(bytes_fetched, "body bytes received from upstream") \
	X(stored, "objects stored in the memory tier") \
	X(uncacheable, "upstream answers that could not be stored") \
	X(disk_hits, "misses in memory answered from the disk tier") \
	X(disk_stale, "disk copies found stale and revalidated upstream") \
	X(disk_corrupt, "disk copies that failed their checksum (dropped, fetched again)") \
	X(disk_writes, "objects written to the disk tier") \
	X(disk_write_errors, "objects the disk tier refused or failed to write") \
	X(disk_write_dropped, "objects not written because the write backlog was full") \
	X(digest_mismatch, "upstream bodies whose Repr-Digest/Content-Digest did not match") \
	X(admin_requests, "admin API requests") \
	X(admin_denied, "admin API requests refused for a missing or wrong token")

struct stats {
#define STATS_FIELD(n, h) atomic_uint_fast64_t n;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
};

extern struct stats stats_g;

#define STATS_INC(n) atomic_fetch_add_explicit(&stats_g.n, 1, memory_order_relaxed)
#define STATS_ADD(n, v) atomic_fetch_add_explicit(&stats_g.n, (v), memory_order_relaxed)
#define STATS_GET(n) atomic_load_explicit(&stats_g.n, memory_order_relaxed)

/* Latency histograms (milliseconds) and answers by cache status. */
enum stats_hist { STATS_HIST_CLIENT = 0, STATS_HIST_UPSTREAM = 1 };
void stats_observe(enum stats_hist h, double ms);
/* Count one answer under its X-Cache value (HIT, MISS, ... or "ERROR"). */
void stats_answer(const char *xcache);
/* Prometheus text for the histograms and the answers, through fn. */
void stats_metrics(void (*fn)(void *arg, const char *line), void *arg);

/* Visit every counter by name. */
void stats_foreach(void (*fn)(const char *name, const char *help, uint64_t v, void *arg), void *arg);

#endif
