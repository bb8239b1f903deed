/*
 * node.h (module node_): builds one node (edge or shield) from its
 * configuration and runs it until SIGTERM or SIGINT.
 */
#ifndef CDN_NODE_H
#define CDN_NODE_H

/* Run a node. role is "edge" or "shield". Returns the process exit status:
 * 0 after a clean stop (or --help/--version), 2 for bad flags or config,
 * 1 when the node could not start. */
int node_main(const char *role, const char *progname, int argc, char **argv);

#endif
