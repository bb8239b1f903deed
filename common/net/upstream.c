/*
 * upstream.c: the set of upstream base URLs and the ring that chooses among
 * them.
 *
 * Ownership: u owns its base URLs and the ring; both are built once in
 * ups_new and never change, so lookups need no lock.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ring.h"
#include "net/upstream.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

struct ups {
	char **base;        /* n, no trailing slash */
	char **id;          /* n, ring identity "host:port" */
	unsigned n;
	struct ring *ring;
};

struct ups *
ups_new(char *const *urls, unsigned n)
{
	return ups_new_weighted(urls, NULL, n);
}

struct ups *
ups_new_weighted(char *const *urls, const unsigned *weights, unsigned n)
{
	struct ups *u = xcalloc(1, sizeof *u);
	unsigned *w = xcalloc(n, sizeof *w);
	struct ring_node *nodes;
	const char *why = NULL;

	AN(n);
	u->base = xcalloc(n, sizeof *u->base);
	u->id = xcalloc(n, sizeof *u->id);
	for (unsigned i = 0; i < n; i++) {
		char id[RING_ID_MAX];
		size_t l = strlen(urls[i]);
		bool dup = false;

		/* Configuration accepts only http(s) URLs with a host, so this
		 * holds; the URL itself is a unique enough name otherwise. */
		if (ring_id_from_url(urls[i], id, sizeof id) != 0)
			snprintf(id, sizeof id, "%.*s", (int)sizeof id - 1, urls[i]);
		for (unsigned j = 0; j < u->n && !dup; j++)
			dup = strcmp(u->id[j], id) == 0;
		if (dup) {
			log_msg(LVL_WARN, "upstream %s names %s again; using it once", urls[i], id);
			continue;
		}
		while (l > 0 && urls[i][l - 1] == '/')
			l--;
		u->base[u->n] = xstrndup(urls[i], l);
		u->id[u->n] = xstrdup(id);
		w[u->n] = weights != NULL ? weights[i] : 1;
		u->n++;
	}
	nodes = xcalloc(u->n, sizeof *nodes);
	for (unsigned i = 0; i < u->n; i++) {
		nodes[i].id = u->id[i];
		nodes[i].weight = w[i];
	}
	free(w);
	u->ring = ring_new(nodes, u->n, 0, &why);
	free(nodes);
	if (u->ring == NULL) {
		/* Only past RING_MAX_NODES upstreams; keep running on the first. */
		log_msg(LVL_ERROR, "cannot build the upstream ring: %s; using %s only", why,
		    u->base[0]);
		nodes = &(struct ring_node){ u->id[0], 1 };
		u->ring = ring_new(nodes, 1, 0, NULL);
		AN(u->ring);
	}
	return u;
}

void
ups_free(struct ups **up)
{
	struct ups *u = *up;

	*up = NULL;
	if (u == NULL)
		return;
	for (unsigned i = 0; i < u->n; i++) {
		free(u->base[i]);
		free(u->id[i]);
	}
	ring_free(&u->ring);
	free(u->base);
	free(u->id);
	free(u);
}

unsigned
ups_count(const struct ups *u)
{
	return u->n;
}

const char *
ups_pick(const struct ups *u, uint64_t hash)
{
	unsigned idx = ring_owner(u->ring, hash);

	AN(idx < u->n);
	return u->base[idx];
}

char *
ups_url(const struct ups *u, uint64_t hash, const char *target)
{
	return xasprintf("%s%s", ups_pick(u, hash), target);
}

const struct ring *
ups_ring(const struct ups *u)
{
	return u->ring;
}

const char *
ups_base(const struct ups *u, unsigned idx)
{
	AN(idx < u->n);
	return u->base[idx];
}

char *const *
ups_bases(const struct ups *u)
{
	return u->base;
}
