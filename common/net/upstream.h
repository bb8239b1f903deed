/*
 * upstream.h (module ups_): which upstream a request goes to.
 *
 * A node with one -u sends everything there. A node with several treats
 * them as one tier: a consistent-hash ring (net/ring.h) over their
 * "host:port" identities, weight 1 each, picks the owner of each key, so an
 * edge and the shields of the tier agree on every key's owner. Upstream
 * indexes (ups_base, the ring's node indexes) are the same, so a health
 * checker built from ups_bases (net/health.h) shares them too.
 *
 * Two -u naming the same host:port are one upstream (the later one is
 * dropped with a warning), so ups_count may be below the number given.
 *
 * Thread-safe: the set and its ring are immutable after ups_new.
 */
#ifndef CDN_UPSTREAM_H
#define CDN_UPSTREAM_H

#include <stdint.h>

struct ups;
struct ring;

struct ups *ups_new(char *const *urls, unsigned n);
/* As ups_new, with a ring weight per URL (weights NULL: all 1). */
struct ups *ups_new_weighted(char *const *urls, const unsigned *weights, unsigned n);
void ups_free(struct ups **up);
unsigned ups_count(const struct ups *u);
/* Base URL (no trailing slash) of the ring owner of a key hash, ignoring
 * health (use ring_lookup_n on ups_ring for failover). */
const char *ups_pick(const struct ups *u, uint64_t hash);
/* The full upstream URL for a request target: base + target (xmalloc'd). */
char *ups_url(const struct ups *u, uint64_t hash, const char *target);

/* The tier's ring; node idx of the ring is upstream idx. Lives as long as u. */
const struct ring *ups_ring(const struct ups *u);
/* Base URL (no trailing slash) of upstream idx < ups_count. */
const char *ups_base(const struct ups *u, unsigned idx);
/* All ups_count base URLs, in index order (for health_new). */
char *const *ups_bases(const struct ups *u);

#endif
