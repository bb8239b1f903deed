/*
 * node.h (module node_): builds one node (edge or shield) from its
 * configuration and runs it until SIGTERM or SIGINT.
 */
#ifndef CDN_NODE_H
#define CDN_NODE_H

struct cfg;
struct route;

/* A role that replaces the caching data listener (the edge's router). */
struct node_alt_role {
	/* Start serving on cfg->listen; return a handle and the bound port, or
	 * NULL after logging why. */
	void *(*start)(const struct cfg *cfg, struct route *route, unsigned *port);
	void (*stop)(void *handle);
};

/* Run a node. role is "edge" or "shield"; alt (may be NULL) is started
 * instead of the cache when the configuration asks for it (--router).
 * Returns the process exit status: 0 after a clean stop (or --help and
 * --version), 2 for bad flags or configuration, 1 when it could not start. */
int node_main(const char *role, const char *progname, int argc, char **argv,
    const struct node_alt_role *alt);

#endif
