/*
 * test_purge.c: what a purge is (ctl/purge: the JSON contract and its
 * refusals) and what applying one does to the memory tier: exact URLs with
 * their vary markers, prefixes over stored keys with variant separators,
 * Surrogate-Key tags, purge-all, and soft purges that only mark.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/purge.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "store/cache.h"
#include "store/obj.h"
#include "util/err.h"

/* ---------------------------------------------------------------- helpers */

static struct obj *
put(struct cache *c, const char *key, size_t keylen, const char *skey, unsigned flags)
{
	struct obj *o = obj_new(key, keylen, key_hash(key, keylen)), *got;
	struct hdrs h;
	uint8_t sha[DIGEST_LEN] = { 0 };

	got = cache_insert(c, o);
	assert_ptr_equal(got, o);
	obj_unref(&got);
	hdrs_init(&h);
	hdrs_add(&h, "Cache-Control", "max-age=60");
	if (skey != NULL)
		hdrs_add(&h, "Surrogate-Key", skey);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE | flags);
	assert_int_equal(obj_append(o, "body", 4, 1 << 20), CDN_OK);
	obj_complete(o, sha);
	cache_commit(c, o, 1000);
	return o; /* the caller's reference */
}

static struct obj *
put_s(struct cache *c, const char *key, const char *skey)
{
	return put(c, key, strlen(key), skey, 0);
}

static bool
present(struct cache *c, const char *key, size_t len)
{
	struct obj *o = cache_lookup(c, key, len, key_hash(key, len));

	if (o == NULL)
		return false;
	obj_unref(&o);
	return true;
}

static bool
has(struct cache *c, const char *key)
{
	return present(c, key, strlen(key));
}

static int
parse(const char *text, struct purge_spec *s, char *why, size_t len)
{
	static const char *const extra[] = { "wait", NULL };
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	rc = purge_spec_parse(j, extra, s, why, len);
	json_decref(j);
	return rc;
}

static unsigned
apply(struct cache *c, const char *text)
{
	struct purge_spec s;
	char why[256];
	unsigned n;

	assert_int_equal(parse(text, &s, why, sizeof why), CDN_OK);
	n = purge_apply(c, &s);
	purge_spec_fini(&s);
	return n;
}

/* ---------------------------------------------------------------- parsing */

static void
good_purges_parse(void **state)
{
	struct purge_spec s;
	char why[256];
	json_t *j;
	char *text;

	assert_int_equal(parse("{\"urls\":[\"/a?x=1\",\"https://h.example/b/c?d\",\"http://h\"]}",
	    &s, why, sizeof why), CDN_OK);
	assert_int_equal(s.kind, PURGE_URLS);
	assert_false(s.soft);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.items[0], "/a?x=1");
	assert_string_equal(s.items[1], "/b/c?d");
	assert_string_equal(s.items[2], "/");
	j = purge_spec_json(&s);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"soft\":false,\"urls\":[\"/a?x=1\",\"/b/c?d\",\"/\"]}");
	free(text);
	json_decref(j);
	purge_spec_fini(&s);

	assert_int_equal(parse("{\"prefix\":\"/img/\",\"soft\":true,\"wait\":true}", &s, why,
	    sizeof why), CDN_OK);
	assert_int_equal(s.kind, PURGE_PREFIX);
	assert_true(s.soft);
	assert_string_equal(s.items[0], "/img/");
	purge_spec_fini(&s);

	assert_int_equal(parse("{\"tags\":[\"t1\",\"t2\"]}", &s, why, sizeof why), CDN_OK);
	assert_int_equal(s.kind, PURGE_TAGS);
	assert_int_equal(s.n, 2);
	purge_spec_fini(&s);

	assert_int_equal(parse("{\"all\":true}", &s, why, sizeof why), CDN_OK);
	assert_int_equal(s.kind, PURGE_ALL);
	purge_spec_fini(&s);
}

static void
bad_purges_are_refused_with_a_reason(void **state)
{
	static const struct { const char *json, *why; } bad[] = {
		{ "[1]", "JSON object" },
		{ "{}", "say what to purge" },
		{ "{\"soft\":true}", "say what to purge" },
		{ "{\"urls\":[\"/a\"],\"tags\":[\"t\"]}", "only one" },
		{ "{\"url\":[\"/a\"]}", "unknown member \"url\"" },
		{ "{\"urls\":[]}", "non-empty array" },
		{ "{\"urls\":\"/a\"}", "non-empty array" },
		{ "{\"urls\":[1]}", "is not a string" },
		{ "{\"urls\":[\"a/b\"]}", "neither a path" },
		{ "{\"urls\":[\"/a b\"]}", "neither a path" },
		{ "{\"urls\":[\"ftp://h/a\"]}", "neither a path" },
		{ "{\"tags\":[\"two words\"]}", "without spaces" },
		{ "{\"tags\":[\"\"]}", "without spaces" },
		{ "{\"prefix\":\"img\"}", "prefix" },
		{ "{\"prefix\":[\"/a\"]}", "prefix" },
		{ "{\"all\":false}", "must be true" },
		{ "{\"urls\":[\"/a\"],\"soft\":\"yes\"}", "true or false" },
	};
	struct purge_spec s;
	char why[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i].json, &s, why, sizeof why), CDN_INVAL);
		if (strstr(why, bad[i].why) == NULL)
			fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].json, why, bad[i].why);
		assert_null(s.items);
	}
}

/* ---------------------------------------------------------------- applying */

static void
url_purge_drops_the_object_and_the_vary_marker(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o[5];
	size_t mlen, vlen;
	char *mkey = key_marker("/v", 2, &mlen);
	char vkey[64];

	vlen = (size_t)snprintf(vkey, sizeof vkey, "/v%c1%cen", KEY_VARIANT_SEP, KEY_VARIANT_SEP);
	o[0] = put_s(c, "/a", NULL);
	o[1] = put_s(c, "/a?x=1", NULL);
	o[2] = put(c, mkey, mlen, NULL, OBJF_MARKER);
	o[3] = put(c, vkey, vlen, NULL, 0);
	o[4] = put_s(c, "/b", NULL);
	assert_int_equal(apply(c, "{\"urls\":[\"/a\",\"/v\",\"/nothing\"]}"), 2);
	assert_false(has(c, "/a"));
	assert_true(has(c, "/a?x=1"));
	assert_false(present(c, mkey, mlen));
	assert_true(has(c, "/b"));
	for (int i = 0; i < 5; i++)
		obj_unref(&o[i]);
	free(mkey);
	cache_free(&c);
}

static void
prefix_purge_matches_the_url_part_of_keys(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o[5];
	char vkey[64];
	size_t vlen;

	vlen = (size_t)snprintf(vkey, sizeof vkey, "/img/v%c1%cgzip", KEY_VARIANT_SEP,
	    KEY_VARIANT_SEP);
	o[0] = put_s(c, "/img/a.png", NULL);
	o[1] = put_s(c, "/img/sub/b.png?w=2", NULL);
	o[2] = put(c, vkey, vlen, NULL, 0);
	o[3] = put_s(c, "/imgx/c.png", NULL);
	o[4] = put_s(c, "/im", NULL);
	assert_int_equal(apply(c, "{\"prefix\":\"/img/\"}"), 3);
	assert_false(has(c, "/img/a.png"));
	assert_false(has(c, "/img/sub/b.png?w=2"));
	assert_false(present(c, vkey, vlen));
	assert_true(has(c, "/imgx/c.png"));
	assert_true(has(c, "/im"));
	for (int i = 0; i < 5; i++)
		obj_unref(&o[i]);
	cache_free(&c);
}

static void
tag_purge_reads_surrogate_key(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o[5];

	o[0] = put_s(c, "/t1", "product-1 sale");
	o[1] = put_s(c, "/t2", "sale");
	o[2] = put_s(c, "/t3", "product-3  salesman");
	o[3] = put_s(c, "/t4", NULL);
	o[4] = put_s(c, "/t5", "x product-5");
	assert_int_equal(apply(c, "{\"tags\":[\"sale\",\"product-5\"]}"), 3);
	assert_false(has(c, "/t1"));
	assert_false(has(c, "/t2"));
	assert_true(has(c, "/t3"));
	assert_true(has(c, "/t4"));
	assert_false(has(c, "/t5"));
	for (int i = 0; i < 5; i++)
		obj_unref(&o[i]);
	cache_free(&c);
}

static void
soft_purges_mark_and_keep(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *a = put_s(c, "/s/a", "k1"), *b = put_s(c, "/s/b", "k2"), *d = put_s(c, "/t", "k1");

	assert_int_equal(apply(c, "{\"urls\":[\"/s/a\"],\"soft\":true}"), 1);
	assert_true(has(c, "/s/a"));
	assert_true(atomic_load(&a->soft_purged));
	assert_false(atomic_load(&b->soft_purged));
	assert_int_equal(apply(c, "{\"tags\":[\"k1\"],\"soft\":true}"), 2);
	assert_true(atomic_load(&d->soft_purged));
	assert_false(atomic_load(&b->soft_purged));
	assert_int_equal(apply(c, "{\"prefix\":\"/s/\",\"soft\":true}"), 2);
	assert_true(atomic_load(&b->soft_purged));
	assert_true(has(c, "/s/b"));
	obj_unref(&a);
	obj_unref(&b);
	obj_unref(&d);
	cache_free(&c);
}

static void
purge_all_empties_the_tier_and_skips_markers_in_the_count(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *a = put_s(c, "/1", NULL), *b = put_s(c, "/2", NULL);
	struct obj *m = put(c, "/3\x02", 3, NULL, OBJF_MARKER);
	struct cache_stats st;

	assert_int_equal(apply(c, "{\"all\":true}"), 2);
	cache_get_stats(c, &st);
	assert_int_equal(st.objects, 0);
	obj_unref(&a);
	obj_unref(&b);
	obj_unref(&m);
	cache_free(&c);
}

static void
a_busy_object_is_dropped_by_a_tag_purge(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *busy = obj_new("/busy", 5, key_hash("/busy", 5)), *got;

	got = cache_insert(c, busy);
	obj_unref(&got);
	/* No answer yet, so no tags known: its fetch may predate the purge. */
	(void)apply(c, "{\"tags\":[\"anything\"]}");
	assert_false(has(c, "/busy"));
	obj_fail(busy, 502);
	obj_unref(&busy);
	cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_purges_parse),
		cmocka_unit_test(bad_purges_are_refused_with_a_reason),
		cmocka_unit_test(url_purge_drops_the_object_and_the_vary_marker),
		cmocka_unit_test(prefix_purge_matches_the_url_part_of_keys),
		cmocka_unit_test(tag_purge_reads_surrogate_key),
		cmocka_unit_test(soft_purges_mark_and_keep),
		cmocka_unit_test(purge_all_empties_the_tier_and_skips_markers_in_the_count),
		cmocka_unit_test(a_busy_object_is_dropped_by_a_tag_purge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
