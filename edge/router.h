/*
 * router.h (module router_): the edge's router role (--router). Every
 * request gets a 302 to the PoP (edge) of the client's region, skipping PoPs
 * whose heartbeats fail; 503 when no PoP is live.
 */
#ifndef CDN_ROUTER_H
#define CDN_ROUTER_H

struct cfg;
struct route;

/* Start on cfg->listen. Returns a handle and sets *port, or NULL after
 * logging why. */
void *router_start(const struct cfg *cfg, struct route *route, unsigned *port);
void router_stop(void *handle);

#endif
