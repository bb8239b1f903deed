/*
 * front.h (module front_): the client-facing HTTP server of a node.
 *
 * libmicrohttpd with epoll and a thread pool. A request reads top-down:
 * front (parse, limits) -> cache lookup and freshness (store/, http/) ->
 * on a miss, the fetch loop (net/fetch) fills an object while this request,
 * and any others that asked for the same key meanwhile, are suspended and
 * woken as the head and body bytes arrive. Hits hand the stored body to
 * libmicrohttpd without a copy.
 */
#ifndef CDN_FRONT_H
#define CDN_FRONT_H

#include <stdint.h>

#include "http/fresh.h"

struct cache;
struct cfg;
struct fetcher;
struct filler;
struct route;
struct front;

struct front_deps {
	const struct cfg *cfg;
	struct cache *cache;
	struct fetcher *fetcher;
	struct filler *filler;    /* disk tier reads (or straight to fetcher) */
	struct route *route;
	const struct fresh_cfg *fcfg;
};

/* Bind and start serving. Returns NULL after logging why it could not. */
struct front *front_start(const struct front_deps *deps);
/* The bound port (useful with port 0). */
unsigned front_port(const struct front *fr);
/* The admin listener's "host:port", once it is bound, for the health
 * answer (which peers read to find it). Any thread. */
void front_set_admin_addr(struct front *fr, const char *addr);
/* Stop accepting new connections (first step of a clean shutdown). */
void front_quiesce(struct front *fr);
void front_stop(struct front **frp);

#endif
