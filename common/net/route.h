/*
 * route.h (module route_): where a request goes. Shield tiers (each a ring
 * of upstreams with heartbeats and an optional fallback tier), the region
 * of a client (GeoIP) and the tier each region uses, and, for the router
 * role, the PoPs (edges) of each region.
 *
 * Configuration (INI; see etc/cdn-edge.ini):
 *   -u URL ...                 the tier "default"
 *   [tier.NAME]   upstream = URL [weight=N]   (repeatable)
 *                 fallback = OTHER-TIER        (when every node is down)
 *   [regions]     REGION = TIER                (the geo default region is
 *                                               "default" unless [geo] says)
 *   [geo]         mmdb, cidr_file, tor_geoip, tor_geoip6, default_region,
 *                 trusted_proxies (repeatable), forwarded_header,
 *                 country.CC = REGION, continent.XX = REGION
 *   [pop.NAME]    url = URL, region = REGION   (router role)
 *
 * Everything is built once at start and immutable after, so lookups take no
 * lock; the heartbeat threads of each tier (net/health) own their state.
 */
#ifndef CDN_ROUTE_H
#define CDN_ROUTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

struct cfg;
struct hdrs;
struct health;
struct route;
struct sockaddr;
struct ups;

struct tier {
	char *name;
	struct ups *ups;
	struct health *health;     /* NULL: one node, or heartbeats off */
	struct tier *fallback;     /* used when no node is live; NULL: 503 */
	atomic_uint_fast64_t *node_errors;  /* per node: failed upstream attempts */
	atomic_uint_fast64_t *node_requests; /* per node: attempts sent */
};

struct route_pop {
	char *name, *url, *region;
};

/* Build from cfg. Returns 0, or CDN_INVAL after printing FILE:LINE: reason
 * (the caller exits 2). */
int route_new(struct route **out, const struct cfg *cfg, FILE *err);
/* Start the heartbeats. Returns 0 or CDN_ERR. */
int route_start(struct route *r);
/* Stop heartbeats and free; *rp becomes NULL. */
void route_free(struct route **rp);

/* The tier for a request from peer with fields in (X-Forwarded-For and
 * Forwarded are believed only from trusted proxies). *region is set to the
 * client's region (owned by r). Never NULL. */
struct tier *route_tier(struct route *r, const struct sockaddr *peer, const struct hdrs *in,
    const char **region);

/* Router role: the PoP for a client, preferring its region and skipping
 * PoPs whose heartbeats fail; NULL when none is live. */
const struct route_pop *route_pop(struct route *r, const struct sockaddr *peer,
    const struct hdrs *in, const char **region);
unsigned route_pop_count(const struct route *r);
/* Upstream nodes over all tiers. */
unsigned route_ntiers_nodes(const struct route *r);

/* Add routing state (tiers, nodes and their health, regions and their
 * decision counts) to a JSON object (a json_t *). */
void route_stats_json(struct route *r, void *json_obj);
/* Prometheus lines for the same, appended through fn. */
void route_metrics(struct route *r, void (*fn)(void *arg, const char *line), void *arg);
/* One line for the start-up log. */
void route_describe(const struct route *r, char *buf, size_t len);

#endif
