/*
 * cdn-shield: the origin shield of the CDN. It answers edges (or the shield
 * tier below it) from its cache and fetches misses from the origin or the
 * next shield tier; with a cache dir it also keeps pushed objects,
 * replicated on its tier (push.h). Everything it shares with the edge
 * lives in common/.
 */
#include "config.h"

#include <stddef.h>

#include "node.h"
#include "push.h"

static void *
create(const struct cfg *cfg, struct disk *disk, struct cache *cache)
{
	return push_new(cfg, disk, cache);
}

static int
start(void *h, const char *data_addr, const char *admin_addr)
{
	return push_start(h, data_addr, admin_addr);
}

static void
stop(void *h)
{
	push_stop(h);
}

static void
destroy(void *h)
{
	struct push *p = h;

	push_free(&p);
}

static const struct admin_ext *
ext(void *h)
{
	return push_admin_ext(h);
}

static const struct node_push_ops push_ops = {
	.create = create,
	.start = start,
	.stop = stop,
	.destroy = destroy,
	.ext = ext,
	.maybe = push_maybe,
	.repair = push_repair,
};

int
main(int argc, char **argv)
{
	node_set_push(&push_ops);
	return node_main("shield", "cdn-shield", argc, argv, NULL);
}
