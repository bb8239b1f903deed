/*
 * upstream.h (module ups_): which upstream a request goes to.
 *
 * A node with one -u sends everything there. A node with several treats
 * them as one tier and, for now, picks by key hash modulo the count; the
 * routing issue replaces this with the consistent-hash ring and health.
 * Thread-safe: the set is immutable after ups_new.
 */
#ifndef CDN_UPSTREAM_H
#define CDN_UPSTREAM_H

#include <stdint.h>

struct ups;

struct ups *ups_new(char *const *urls, unsigned n);
void ups_free(struct ups **up);
unsigned ups_count(const struct ups *u);
/* Base URL (no trailing slash) of the upstream for a key hash. */
const char *ups_pick(const struct ups *u, uint64_t hash);
/* The full upstream URL for a request target: base + target (xmalloc'd). */
char *ups_url(const struct ups *u, uint64_t hash, const char *target);

#endif
