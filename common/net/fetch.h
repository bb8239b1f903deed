/*
 * fetch.h (module fetch_): upstream requests on one libcurl multi loop.
 *
 * One thread owns the curl multi handle and every easy handle; other threads
 * talk to it only through a mailbox (mutex + curl_multi_wakeup), so no worker
 * thread ever blocks on upstream. A fetch fills one struct obj: headers, then
 * body bytes as they arrive, then completion or failure (see store/obj.h).
 * A fetch for the cache decides at the headers whether the answer can be
 * stored (RFC 9111 3), removes the object from the cache index if not, and
 * commits it to the memory tier when the body is complete.
 */
#ifndef CDN_FETCH_H
#define CDN_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/fresh.h"
#include "http/hdrs.h"

struct cache;
struct obj;
struct tier;
struct fetcher;

struct fetch_opts {
	uint64_t connect_ms;      /* connect timeout: then 502 */
	uint64_t first_byte_ms;   /* until the response head: then 504 */
	uint64_t coalesce_ms;     /* waiters on a fetch with no head by then go alone */
	uint64_t idle_ms;         /* a body stalled this long is aborted */
	unsigned max_conns;       /* upstream connection pool */
	uint64_t max_keep;        /* largest body kept in the cache */
	uint64_t max_variants;    /* Vary variants stored per URL */
	uint64_t hfm_ttl;         /* seconds an uncacheable answer is remembered (hit-for-miss) */
	struct cache *cache;      /* where cacheable fetches live */
	unsigned max_attempts;    /* nodes tried when connecting fails (>= 1) */
	const struct fresh_cfg *fcfg;
	/* Called on the fetch loop for every object committed to memory
	 * (the disk tier's write-behind); may be NULL. Must not block. */
	void (*on_commit)(void *arg, struct obj *o);
	void *commit_arg;
};

/* What to send. fetch_submit takes ownership of target, hdrs' contents and
 * body. The upstream node is the ring owner of hash among live nodes; when
 * it cannot be reached the next live node is tried (before any byte of an
 * answer, and for non-idempotent methods only when nothing was sent). */
struct fetch_spec {
	const char *method;       /* copied */
	char *target;             /* request target appended to the node's base URL */
	uint64_t hash;            /* key hash: picks the node on the ring */
	struct tier *tier;        /* which shield tier (net/route.h) */
	struct hdrs hdrs;         /* request fields to send (hop-by-hop removed) */
	uint8_t *body;            /* NULL for none */
	size_t body_len;
	bool has_body;            /* send a body (even an empty one) */
	bool for_cache;           /* the answer is for the cache (o is indexed, or replace is set) */
	unsigned long long reqid;
	struct hdrs vary_req;     /* the client's fields, for Vary (taken over) */

	/* Revalidation of a stored response (RFC 9111 4.3): the stored object,
	 * whose body answers a 304 and, when stale_on_error, any failure. */
	struct obj *stale;        /* a reference is taken; NULL for none */
	bool stale_on_error;      /* stale-if-error or max stale age allows it */
	bool must_confirm;        /* must-revalidate: failure gives 504 */
	/* Background refresh: o is not indexed; on success it replaces this. */
	struct obj *replace;      /* a reference is taken; NULL for none */
};

/* The field of a vary marker's head that holds its generation. */
#define FETCH_GEN_FIELD "X-Cdn-Vary-Gen"

struct fetcher *fetch_new(const struct fetch_opts *opts);
/* Start the loop thread. Returns 0 or CDN_ERR. */
int fetch_start(struct fetcher *f);
/* Stop the thread; every unfinished fetch fails with 502. */
void fetch_stop(struct fetcher *f);
void fetch_free(struct fetcher **fp);

/* Queue a fetch that fills o (the fetch takes its own reference). */
void fetch_submit(struct fetcher *f, struct obj *o, struct fetch_spec *spec);

/* Free what a spec owns when it is not submitted after all. */
void fetch_spec_fini(struct fetch_spec *spec);

/* Bodies above max_keep that are cacheable go to the disk tier instead of
 * being dropped: fn(arg, o) is called on the fetch loop when such a body is
 * known (Content-Length at the head, or the body outgrowing max_keep) and
 * must not block; it returns true if it made o an OBJF_FILE object (see
 * store/obj.h) whose bytes it writes, false if the object stays uncached.
 * Such an object is not committed to the memory tier. Set before
 * fetch_start; without it, bodies above max_keep are not kept. */
void fetch_set_spool(struct fetcher *f, bool (*fn)(void *arg, struct obj *o), void *arg);
/* The largest body the memory tier keeps (fetch_opts.max_keep). */
uint64_t fetch_max_keep(const struct fetcher *f);

/* Number of fetches in flight (for stats). */
unsigned fetch_active(struct fetcher *f);

#endif
