/*
 * cdn-edge: the edge node (PoP) of the CDN. It answers clients from its
 * cache and sends misses to its shield tier (or straight to the origin).
 * Everything it shares with the shield lives in common/; this is its entry.
 */
#include "config.h"

#include "node.h"

int
main(int argc, char **argv)
{
	return node_main("edge", "cdn-edge", argc, argv);
}
