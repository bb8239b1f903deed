/*
 * cdn-edge: the edge node (PoP) of the CDN. It answers clients from its
 * cache and sends misses to its shield tier (or straight to the origin);
 * with --router it is instead the request router that sends each client to
 * the PoP of its region. Everything it shares with the shield lives in
 * common/; this is its entry.
 */
#include "config.h"

#include "edge/router.h"
#include "node.h"

static const struct node_alt_role router_role = { router_start, router_stop };

int
main(int argc, char **argv)
{
	return node_main("edge", "cdn-edge", argc, argv, &router_role);
}
