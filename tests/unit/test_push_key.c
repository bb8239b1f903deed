/*
 * test_push_key.c: which keys a push may name (shield/push.c,
 * push_key_ok): paths edges can serve, never a way out of the key space
 * or a key two spellings could reach.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "push.h"

static void
check(const char *key, size_t len, bool want)
{
	char why[200] = "";
	bool got = push_key_ok(key, len, why, sizeof why);

	if (got != want) {
		print_error("key \"%.*s\" (%zu bytes): expected %s, saw %s (%s)\n", (int)(len > 80 ? 80 :
		    len), key, len, want ? "accepted" : "refused", got ? "accepted" : "refused", why);
		fail();
	}
	if (!got && why[0] == '\0') {
		print_error("key \"%s\" refused without a reason\n", key);
		fail();
	}
}

static void
ordinary_paths_are_accepted(void **state)
{
	static const char *const ok[] = { "/a", "/img/logo.png", "/a/b/c.d.e", "/dir/",
		"/%20space", "/caf%C3%A9", "/a-b_c~d.e", "/..a", "/a..", "/.hidden", "/a/...",
		"/v1.2/x", "/a%25b", "/a:b@c!$&'()*+,;=" };

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		check(ok[i], strlen(ok[i]), true);
}

static void
traversal_and_ambiguous_paths_are_refused(void **state)
{
	static const char *const bad[] = { "", "a", "/..", "/../x", "/a/..", "/a/../b", "/.",
		"/./a", "/a/.", "/a//b", "//a", "/%2e%2e/x", "/%2E%2E", "/a/%2e/b", "/a%2fb",
		"/a%2Fb", "/a%5cb", "/a%5Cb", "/a\\b", "/a%00b", "/a%0ab", "/a%7f", "/a?x=1",
		"/a#f", "/a b", "/a\tb", "/a%", "/a%4", "/a%zz", "/a%g0" };

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check(bad[i], strlen(bad[i]), false);
}

static void
nul_control_and_non_ascii_bytes_are_refused(void **state)
{
	(void)state;
	check("/a\0b", 4, false);
	check("/a\x01", 3, false);
	check("/caf\xc3\xa9", 6, false);
	check("/a\x7f", 3, false);
}

static void
length_limit_is_exact(void **state)
{
	char key[PUSH_KEY_MAX + 2];

	(void)state;
	memset(key, 'a', sizeof key);
	key[0] = '/';
	check(key, PUSH_KEY_MAX, true);
	check(key, PUSH_KEY_MAX + 1, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordinary_paths_are_accepted),
		cmocka_unit_test(traversal_and_ambiguous_paths_are_refused),
		cmocka_unit_test(nul_control_and_non_ascii_bytes_are_refused),
		cmocka_unit_test(length_limit_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
