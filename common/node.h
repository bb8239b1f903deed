/*
 * node.h (module node_): builds one node (edge or shield) from its
 * configuration and runs it until SIGTERM or SIGINT.
 */
#ifndef CDN_NODE_H
#define CDN_NODE_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;
struct route;

/* A role that replaces the caching data listener (the edge's router). */
struct node_alt_role {
	/* Start serving on cfg->listen; return a handle and the bound port, or
	 * NULL after logging why. */
	void *(*start)(const struct cfg *cfg, struct route *route, unsigned *port);
	void (*stop)(void *handle);
};

struct cache;
struct disk;
struct admin_ext;

/* The shield's store of pushed objects (shield/push.h), given by its main
 * before node_main. A node with a cache dir creates it after the tiers,
 * hooks it into the disk reader and the admin listener, and starts it
 * once both listeners are bound. */
struct node_push_ops {
	void *(*create)(const struct cfg *cfg, struct disk *disk, struct cache *cache);
	int (*start)(void *h, const char *data_addr, const char *admin_addr);
	void (*stop)(void *h);
	void (*destroy)(void *h);
	const struct admin_ext *(*ext)(void *h);
	bool (*maybe)(void *h, const char *key, size_t keylen);
	int (*repair)(void *h, const char *key, size_t keylen);
};
void node_set_push(const struct node_push_ops *ops);

/* Run a node. role is "edge" or "shield"; alt (may be NULL) is started
 * instead of the cache when the configuration asks for it (--router).
 * Returns the process exit status: 0 after a clean stop (or --help and
 * --version), 2 for bad flags or configuration, 1 when it could not start. */
int node_main(const char *role, const char *progname, int argc, char **argv,
    const struct node_alt_role *alt);

#endif
