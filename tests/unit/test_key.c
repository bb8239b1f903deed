/*
 * test_key.c: cache keys from request targets, and the key hash.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/key.h"

static void
origin_form_target_is_the_key(void **state)
{
	size_t len;
	const char *k = key_from_target("/a/b?x=1&y=2", &len);

	assert_non_null(k);
	assert_int_equal(len, strlen("/a/b?x=1&y=2"));
	assert_memory_equal(k, "/a/b?x=1&y=2", len);
}

static void
absolute_form_target_reduces_to_path_and_query(void **state)
{
	size_t len;
	const char *k = key_from_target("http://example.com:8080/p?q=1", &len);

	assert_non_null(k);
	assert_string_equal(k, "/p?q=1");
	assert_int_equal(len, 6);
}

static void
absolute_form_without_path_is_refused(void **state)
{
	size_t len;

	assert_null(key_from_target("http://example.com", &len));
	assert_null(key_from_target("http://example.com?x", &len));
}

static void
asterisk_and_relative_targets_are_refused(void **state)
{
	size_t len;

	assert_null(key_from_target("*", &len));
	assert_null(key_from_target("a/b", &len));
	assert_null(key_from_target("", &len));
}

static void
control_characters_and_spaces_are_refused(void **state)
{
	size_t len;

	assert_null(key_from_target("/a b", &len));
	assert_null(key_from_target("/a\tb", &len));
	assert_null(key_from_target("/a\x01", &len));
	assert_null(key_from_target("/a\x7f", &len));
	assert_null(key_from_target("/a#frag", &len));
}

static void
hash_is_fnv1a_64_and_stable(void **state)
{
	/* Published FNV-1a 64 test vectors: the ring depends on this never changing. */
	assert_true(key_hash("", 0) == 0xcbf29ce484222325ULL);
	assert_true(key_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(key_hash("foobar", 6) == 0x85944171f73967e8ULL);
}

static void
different_queries_hash_differently(void **state)
{
	assert_true(key_hash("/a?x=1", 6) != key_hash("/a?x=2", 6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(origin_form_target_is_the_key),
		cmocka_unit_test(absolute_form_target_reduces_to_path_and_query),
		cmocka_unit_test(absolute_form_without_path_is_refused),
		cmocka_unit_test(asterisk_and_relative_targets_are_refused),
		cmocka_unit_test(control_characters_and_spaces_are_refused),
		cmocka_unit_test(hash_is_fnv1a_64_and_stable),
		cmocka_unit_test(different_queries_hash_differently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
