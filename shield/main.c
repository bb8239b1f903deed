/*
 * cdn-shield: the origin shield of the CDN. It answers edges (or the shield
 * tier below it) from its cache and fetches misses from the origin or the
 * next shield tier. Everything it shares with the edge lives in common/.
 */
#include "config.h"

#include <stddef.h>

#include "node.h"

int
main(int argc, char **argv)
{
	return node_main("shield", "cdn-shield", argc, argv, NULL);
}
