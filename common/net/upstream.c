/*
 * upstream.c: the set of upstream base URLs and the choice among them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "net/upstream.h"
#include "util/mem.h"
#include "util/vas.h"

struct ups {
	char **base;
	unsigned n;
};

struct ups *
ups_new(char *const *urls, unsigned n)
{
	struct ups *u = xcalloc(1, sizeof *u);

	AN(n);
	u->base = xcalloc(n, sizeof *u->base);
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(urls[i]);

		while (l > 0 && urls[i][l - 1] == '/')
			l--;
		u->base[i] = xstrndup(urls[i], l);
	}
	u->n = n;
	return u;
}

void
ups_free(struct ups **up)
{
	struct ups *u = *up;

	*up = NULL;
	if (u == NULL)
		return;
	for (unsigned i = 0; i < u->n; i++)
		free(u->base[i]);
	free(u->base);
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
	return u->base[hash % u->n];
}

char *
ups_url(const struct ups *u, uint64_t hash, const char *target)
{
	return xasprintf("%s%s", ups_pick(u, hash), target);
}
