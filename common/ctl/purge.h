/*
 * purge.h (module purge_): what a purge is, and applying one to the cache.
 *
 * A purge names what to invalidate in one of four ways (exactly one):
 *   {"urls": ["/a?x=1", "http://host/b"]}  exact URLs, every Vary variant;
 *                                          an absolute URL stands for its
 *                                          path and query (the cache key)
 *   {"prefix": "/img/"}                    every key starting with it
 *   {"tags": ["product-42"]}               objects whose Surrogate-Key
 *                                          response field lists a tag
 *   {"all": true}                          everything
 * and "soft": true marks matching objects stale (soft_purged: revalidated
 * before use, still usable under stale-if-error) instead of removing them.
 *
 * The same JSON travels in invalidation events (ctl/events), so a node
 * applies an event from upstream exactly as a purge sent to its own API.
 *
 * No locks of its own; purge_apply takes the cache's locks through the
 * cache API and does no I/O under them.
 */
#ifndef CDN_PURGE_H
#define CDN_PURGE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct cache;

#define PURGE_MAX_ITEMS 10000
#define PURGE_MAX_ITEM_LEN 8192

enum purge_kind { PURGE_URLS, PURGE_PREFIX, PURGE_TAGS, PURGE_ALL };

struct purge_spec {
	enum purge_kind kind;
	bool soft;
	char **items;     /* keys (URLS), one prefix (PREFIX), tags (TAGS); owned */
	unsigned n;
};

/* Read a purge from JSON. Members other than urls/prefix/tags/all/soft are
 * refused unless listed in `extra` (a NULL-terminated array, may be NULL).
 * Returns 0, or CDN_INVAL with a reason for the client in why. On success
 * the caller owns s and calls purge_spec_fini. */
int purge_spec_parse(const json_t *j, const char *const *extra, struct purge_spec *s,
    char *why, size_t whylen);
void purge_spec_fini(struct purge_spec *s);

/* The cache key for a URL given to a purge or a warm job: a path with its
 * query as it is, or an absolute http(s) URL reduced to its path and query.
 * Returns a new string (the caller frees it), or NULL for anything else. */
char *purge_url_key(const char *u);

/* The canonical JSON of s (a new object: kind member and "soft"). */
json_t *purge_spec_json(const struct purge_spec *s);
/* A short human description ("3 URLs", "prefix /img/", "2 tags", "all"). */
void purge_spec_describe(const struct purge_spec *s, char *buf, size_t len);

/* Apply s to the cache. Returns how many objects were removed (or marked,
 * for a soft purge); vary and hit-for-miss markers are not counted. */
unsigned purge_apply(struct cache *c, const struct purge_spec *s);

#endif
