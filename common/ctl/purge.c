/*
 * purge.c: parse a purge and apply it to the memory tier.
 *
 * Exact URL purges use cache_purge_url (the object and the URL's vary
 * marker, so every variant becomes unreachable; the cache's purge hook
 * drops disk copies). Prefix, tag and purge-all walk the index with
 * cache_foreach_remove, one stripe lock at a time. Soft purges of any kind
 * walk too and only set obj->soft_purged (an atomic), removing nothing.
 *
 * Reading an object's flags and stored fields needs its mutex, and the
 * walk callback runs under a bucket lock, so it only ever *tries* the
 * object's mutex (trylock never waits, so no lock order is at stake). An
 * object whose mutex is busy, or that is still BUSY (no answer yet: its
 * fetch may have left before the purge reached upstream), counts as a match:
 * a purge errs on the side of fetching again.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/purge.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "store/cache.h"
#include "store/obj.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

struct walk {
	const struct purge_spec *s;
	size_t plen;          /* PREFIX: strlen of the prefix */
	bool soft;
	unsigned counted;     /* matching objects that are not markers */
};

static bool walk_fn(const struct obj *o, void *arg);

/* ---------------------------------------------------------------- parsing */

char *
purge_url_key(const char *u)
{
	const char *k, *host;
	size_t len;

	k = key_from_target(u, &len);
	if (k != NULL)
		return xstrndup(k, len);
	/* "http://host" alone means its root. */
	if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) {
		host = strstr(u, "//") + 2;
		if (*host != '\0' && strpbrk(host, "/?# \t\r\n") == NULL)
			return xstrdup("/");
	}
	return NULL;
}

static bool
is_tag(const char *t)
{
	if (*t == '\0')
		return false;
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || *t == 0x7f)
			return false;
	return true;
}

static void
add_item(struct purge_spec *s, char *item)
{
	s->items = xrealloc(s->items, (s->n + 1) * sizeof *s->items);
	s->items[s->n++] = item;
}

static bool
allowed_extra(const char *k, const char *const *extra)
{
	for (; extra != NULL && *extra != NULL; extra++)
		if (strcmp(k, *extra) == 0)
			return true;
	return false;
}

int
purge_spec_parse(const json_t *j, const char *const *extra, struct purge_spec *s,
    char *why, size_t whylen)
{
	const char *k;
	json_t *v, *e;
	size_t i;
	int kinds = 0;

	memset(s, 0, sizeof *s);
	if (!json_is_object(j)) {
		snprintf(why, whylen, "expected a JSON object like {\"urls\":[\"/path\"]}");
		return CDN_INVAL;
	}
	json_object_foreach((json_t *)(uintptr_t)j, k, v) {
		if (strcmp(k, "soft") == 0) {
			if (!json_is_boolean(v)) {
				snprintf(why, whylen, "\"soft\" must be true or false");
				goto Inval;
			}
			s->soft = json_is_true(v);
		} else if (strcmp(k, "urls") == 0 || strcmp(k, "tags") == 0) {
			bool urls = k[0] == 'u';

			kinds++;
			s->kind = urls ? PURGE_URLS : PURGE_TAGS;
			if (!json_is_array(v) || json_array_size(v) == 0) {
				snprintf(why, whylen, "\"%s\" must be a non-empty array of strings", k);
				goto Inval;
			}
			if (json_array_size(v) > PURGE_MAX_ITEMS) {
				snprintf(why, whylen, "\"%s\" has %zu entries; at most %u per request", k,
				    json_array_size(v), PURGE_MAX_ITEMS);
				goto Inval;
			}
			json_array_foreach(v, i, e) {
				const char *str = json_string_value(e);
				char *item;

				if (str == NULL) {
					snprintf(why, whylen, "\"%s\"[%zu] is not a string", k, i);
					goto Inval;
				}
				if (strlen(str) > PURGE_MAX_ITEM_LEN) {
					snprintf(why, whylen, "\"%s\"[%zu] is longer than %u bytes", k, i,
					    PURGE_MAX_ITEM_LEN);
					goto Inval;
				}
				if (urls) {
					item = purge_url_key(str);
					if (item == NULL) {
						snprintf(why, whylen, "\"urls\"[%zu]: \"%.200s\" is neither a path "
						    "(starting with /) nor an http(s) URL", i, str);
						goto Inval;
					}
				} else {
					if (!is_tag(str)) {
						snprintf(why, whylen, "\"tags\"[%zu]: a tag is a non-empty word "
						    "without spaces", i);
						goto Inval;
					}
					item = xstrdup(str);
				}
				add_item(s, item);
			}
		} else if (strcmp(k, "prefix") == 0) {
			const char *str = json_string_value(v);
			char *item;

			kinds++;
			s->kind = PURGE_PREFIX;
			if (str == NULL || (item = purge_url_key(str)) == NULL) {
				snprintf(why, whylen, "\"prefix\" must be a path starting with / "
				    "(or an http(s) URL)");
				goto Inval;
			}
			add_item(s, item);
		} else if (strcmp(k, "all") == 0) {
			if (!json_is_true(v)) {
				snprintf(why, whylen, "\"all\" must be true when given");
				goto Inval;
			}
			kinds++;
			s->kind = PURGE_ALL;
		} else if (!allowed_extra(k, extra)) {
			snprintf(why, whylen, "unknown member \"%.100s\" (expected urls, prefix, tags or all, "
			    "and soft)", k);
			goto Inval;
		}
	}
	if (kinds != 1) {
		snprintf(why, whylen, kinds == 0 ?
		    "say what to purge: \"urls\", \"prefix\", \"tags\" or \"all\"" :
		    "give only one of \"urls\", \"prefix\", \"tags\" and \"all\"");
		goto Inval;
	}
	return CDN_OK;
Inval:
	purge_spec_fini(s);
	return CDN_INVAL;
}

void
purge_spec_fini(struct purge_spec *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

json_t *
purge_spec_json(const struct purge_spec *s)
{
	json_t *j = json_object(), *a;

	switch (s->kind) {
	case PURGE_URLS:
	case PURGE_TAGS:
		a = json_array();
		for (unsigned i = 0; i < s->n; i++)
			json_array_append_new(a, json_string(s->items[i]));
		json_object_set_new(j, s->kind == PURGE_URLS ? "urls" : "tags", a);
		break;
	case PURGE_PREFIX:
		json_object_set_new(j, "prefix", json_string(s->items[0]));
		break;
	case PURGE_ALL:
		json_object_set_new(j, "all", json_true());
		break;
	}
	json_object_set_new(j, "soft", json_boolean(s->soft));
	return j;
}

void
purge_spec_describe(const struct purge_spec *s, char *buf, size_t len)
{
	const char *soft = s->soft ? " (soft)" : "";

	switch (s->kind) {
	case PURGE_URLS:
		if (s->n == 1)
			snprintf(buf, len, "URL %.200s%s", s->items[0], soft);
		else
			snprintf(buf, len, "%u URLs%s", s->n, soft);
		return;
	case PURGE_TAGS:
		if (s->n == 1)
			snprintf(buf, len, "tag %.200s%s", s->items[0], soft);
		else
			snprintf(buf, len, "%u tags%s", s->n, soft);
		return;
	case PURGE_PREFIX:
		snprintf(buf, len, "prefix %.200s%s", s->items[0], soft);
		return;
	case PURGE_ALL:
		snprintf(buf, len, "everything%s", soft);
		return;
	}
}

/* ---------------------------------------------------------------- applying */

/* Does the Surrogate-Key value sk list one of the tags? */
static bool
tags_match(const char *sk, char *const *tags, unsigned n)
{
	const char *p = sk;

	while (*p != '\0') {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, " \t,");
		if (len == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			if (strlen(tags[i]) == len && memcmp(tags[i], p, len) == 0)
				return true;
		p += len;
	}
	return false;
}

/* Called under a bucket lock (see the file comment). */
static bool
walk_fn(const struct obj *co, void *arg)
{
	struct walk *w = arg;
	struct obj *o = (struct obj *)(uintptr_t)co;
	size_t base = key_base_len(o->key, o->keylen);
	bool match = false, marker = false, known = false;

	switch (w->s->kind) {
	case PURGE_ALL:
		match = true;
		break;
	case PURGE_PREFIX:
		match = base >= w->plen && memcmp(o->key, w->s->items[0], w->plen) == 0;
		break;
	case PURGE_URLS:
		for (unsigned i = 0; i < w->s->n && !match; i++)
			match = strlen(w->s->items[i]) == base &&
			    memcmp(o->key, w->s->items[i], base) == 0;
		break;
	case PURGE_TAGS:
		break;
	}
	if (w->s->kind != PURGE_TAGS && !match)
		return false;
	if (pthread_mutex_trylock(obj_mtx(o)) == 0) {
		if (o->state != OBJ_BUSY) {
			known = true;
			marker = (o->flags & (OBJF_MARKER | OBJF_HFM)) != 0;
			if (w->s->kind == PURGE_TAGS) {
				const char *sk = hdrs_get(&o->hdrs, "Surrogate-Key");

				match = sk != NULL && tags_match(sk, w->s->items, w->s->n);
			}
		}
		pthread_mutex_unlock(obj_mtx(o));
	}
	if (!known && w->s->kind == PURGE_TAGS)
		match = !w->soft; /* unknown yet: drop it (a soft mark would not help) */
	if (!match)
		return false;
	if (!marker && known)
		w->counted++;
	if (w->soft) {
		atomic_store(&o->soft_purged, true);
		return false;
	}
	return true;
}

/* The same choice as walk_fn, for a copy in the disk tier. */
static bool
lower_fn(const char *key, size_t keylen, const struct hdrs *h, void *arg)
{
	struct walk *w = arg;
	size_t base = key_base_len(key, keylen);
	const char *sk;

	switch (w->s->kind) {
	case PURGE_ALL:
		return true;
	case PURGE_PREFIX:
		return base >= w->plen && memcmp(key, w->s->items[0], w->plen) == 0;
	case PURGE_TAGS:
		sk = hdrs_get(h, "Surrogate-Key");
		return sk != NULL && tags_match(sk, w->s->items, w->s->n);
	case PURGE_URLS:
		break;
	}
	return false;
}

unsigned
purge_apply(struct cache *c, const struct purge_spec *s)
{
	struct walk w = { .s = s, .soft = s->soft };
	unsigned n = 0;

	if (s->kind == PURGE_URLS && !s->soft) {
		/* Counted per URL that had anything stored (its object, or its
		 * vary marker, which stands for all its variants). */
		for (unsigned i = 0; i < s->n; i++)
			n += cache_purge_url(c, s->items[i], strlen(s->items[i])) > 0 ? 1 : 0;
		return n;
	}
	if (s->kind == PURGE_PREFIX)
		w.plen = strlen(s->items[0]);
	(void)cache_foreach_remove(c, walk_fn, &w);
	/* Copies only the disk tier holds: dropped (a soft purge cannot mark
	 * them, and a dropped copy is only fetched again). */
	if (s->kind != PURGE_URLS) {
		int d = cache_lower_remove_matching(c, lower_fn, &w);

		if (d > 0 && (unsigned)d > w.counted)
			w.counted = (unsigned)d;
	}
	return w.counted;
}
