/*
 * test_hdrs.c: unit tests for http/hdrs (RFC 9110 sections 5 and 7.6.1).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/hdrs.h"

/* Collect the elements hdrs_list_next() yields, joined with "|". */
static void
elements(const char *value, char *out, size_t outlen)
{
	const char *p = value, *e;
	size_t n, used = 0;

	out[0] = '\0';
	while ((p = hdrs_list_next(p, &e, &n)) != NULL) {
		int w = snprintf(out + used, outlen - used, "%s%.*s",
		    used ? "|" : "", (int)n, e);

		assert_true(w > 0 && (size_t)w < outlen - used);
		used += (size_t)w;
	}
}

static void
rfc9110_5_1_field_names_case_insensitive(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Content-Type", "text/plain");
	assert_string_equal(hdrs_get(&h, "content-type"), "text/plain");
	assert_string_equal(hdrs_get(&h, "CONTENT-TYPE"), "text/plain");
	assert_null(hdrs_get(&h, "Content-Typ"));
	assert_null(hdrs_get(&h, "Content-Type-X"));
	assert_int_equal(hdrs_count(&h, "content-TYPE"), 1);
	hdrs_fini(&h);
}

static void
rfc9110_5_2_repeats_kept_in_order_with_original_case(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Set-Cookie", "a=1");
	hdrs_add(&h, "x-Mixed-CASE", "v");
	hdrs_add(&h, "set-cookie", "b=2");
	assert_int_equal(h.n, 3);
	assert_string_equal(h.v[0].name, "Set-Cookie");
	assert_string_equal(h.v[1].name, "x-Mixed-CASE");
	assert_string_equal(h.v[2].name, "set-cookie");
	assert_string_equal(h.v[2].value, "b=2");
	assert_int_equal(hdrs_count(&h, "Set-Cookie"), 2);
	assert_string_equal(hdrs_get(&h, "SET-COOKIE"), "a=1");
	assert_int_equal(hdrs_count(&h, "Absent"), 0);
	hdrs_fini(&h);
}

static void
rfc9110_5_3_join_combines_lines_with_comma(void **state)
{
	struct hdrs h;
	char *s;

	(void)state;
	hdrs_init(&h);
	assert_null(hdrs_join(&h, "Accept"));
	hdrs_add(&h, "Accept", "text/html, text/plain");
	hdrs_add(&h, "Host", "x");
	hdrs_add(&h, "accept", "*/*");
	s = hdrs_join(&h, "ACCEPT");
	assert_string_equal(s, "text/html, text/plain, */*");
	free(s);
	s = hdrs_join(&h, "Host");
	assert_string_equal(s, "x");
	free(s);
	assert_null(hdrs_join(&h, "Vary"));
	hdrs_fini(&h);
}

static void
rfc9110_5_5_addn_trims_ows_around_value(void **state)
{
	struct hdrs h;
	const char raw[] = "X-Foo: \t a  b \t;rest";

	(void)state;
	hdrs_init(&h);
	/* counted, not NUL-terminated: name "X-Foo", value " \t a  b \t" */
	hdrs_addn(&h, raw, 5, raw + 6, 9);
	assert_string_equal(h.v[0].name, "X-Foo");
	assert_string_equal(h.v[0].value, "a  b");
	hdrs_add(&h, "X-Bar", "  padded\t");
	assert_string_equal(hdrs_get(&h, "x-bar"), "padded");
	hdrs_addn(&h, "X-Empty", 7, " \t ", 3);
	assert_string_equal(hdrs_get(&h, "X-Empty"), "");
	hdrs_fini(&h);
}

static void
hdrs_del_removes_every_line_and_keeps_order(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "A", "1");
	hdrs_add(&h, "Via", "x");
	hdrs_add(&h, "B", "2");
	hdrs_add(&h, "VIA", "y");
	hdrs_add(&h, "C", "3");
	hdrs_del(&h, "via");
	assert_int_equal(h.n, 3);
	assert_string_equal(h.v[0].name, "A");
	assert_string_equal(h.v[1].name, "B");
	assert_string_equal(h.v[2].name, "C");
	assert_null(hdrs_get(&h, "Via"));
	hdrs_del(&h, "Nope");
	assert_int_equal(h.n, 3);
	hdrs_fini(&h);
}

static void
hdrs_set_replaces_all_lines_with_one(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Age", "1");
	hdrs_add(&h, "X", "x");
	hdrs_add(&h, "age", "2");
	hdrs_set(&h, "Age", "30");
	assert_int_equal(hdrs_count(&h, "age"), 1);
	assert_string_equal(hdrs_get(&h, "Age"), "30");
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[1].name, "Age");
	hdrs_set(&h, "New", "n");
	assert_string_equal(hdrs_get(&h, "new"), "n");
	hdrs_fini(&h);
}

static void
hdrs_copy_appends_independent_copies(void **state)
{
	struct hdrs a, b;

	(void)state;
	hdrs_init(&a);
	hdrs_init(&b);
	hdrs_add(&a, "One", "1");
	hdrs_add(&a, "Two", "2");
	hdrs_add(&b, "Zero", "0");
	hdrs_copy(&b, &a);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.v[0].name, "Zero");
	assert_string_equal(b.v[2].value, "2");
	assert_ptr_not_equal(b.v[1].name, a.v[0].name);
	hdrs_fini(&a);
	assert_string_equal(hdrs_get(&b, "one"), "1");
	/* copying onto itself doubles the lines (and survives reallocation) */
	for (int i = 0; i < 5; i++)
		hdrs_copy(&b, &b);
	assert_int_equal(b.n, 3 * 32);
	assert_int_equal(hdrs_count(&b, "two"), 32);
	hdrs_fini(&b);
}

static void
hdrs_fini_leaves_list_empty_and_reusable(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	for (int i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof name, "X-%d", i);
		hdrs_add(&h, name, "v");
	}
	assert_int_equal(h.n, 100);
	assert_string_equal(hdrs_get(&h, "x-99"), "v");
	hdrs_fini(&h);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.cap, 0);
	assert_null(h.v);
	assert_null(hdrs_get(&h, "X-1"));
	hdrs_add(&h, "Again", "yes");
	assert_string_equal(hdrs_get(&h, "again"), "yes");
	hdrs_fini(&h);
	hdrs_fini(&h);
}

static void
rfc9110_7_6_1_hop_by_hop_names(void **state)
{
	static const char *const hop[] = {
		"Connection", "keep-alive", "Proxy-Connection", "te", "Trailer",
		"TRANSFER-ENCODING", "Upgrade", "Proxy-Authenticate",
		"proxy-authorization",
	};
	static const char *const e2e[] = {
		"Content-Length", "Authorization", "Trailers", "Connections",
		"Cache-Control", "Host", "T", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++) {
		if (!hdrs_is_hop_by_hop(hop[i]))
			fail_msg("%s should be hop-by-hop", hop[i]);
	}
	for (size_t i = 0; i < sizeof e2e / sizeof e2e[0]; i++) {
		if (hdrs_is_hop_by_hop(e2e[i]))
			fail_msg("%s should be end-to-end", e2e[i]);
	}
}

static void
rfc9110_7_6_1_strip_removes_hop_by_hop_fields(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Host", "example.com");
	hdrs_add(&h, "Keep-Alive", "timeout=5");
	hdrs_add(&h, "Transfer-Encoding", "chunked");
	hdrs_add(&h, "Content-Type", "text/plain");
	hdrs_add(&h, "te", "trailers");
	hdrs_add(&h, "Upgrade", "h2c");
	hdrs_add(&h, "Proxy-Authorization", "Basic x");
	hdrs_strip_hop_by_hop(&h);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[0].name, "Host");
	assert_string_equal(h.v[1].name, "Content-Type");
	hdrs_fini(&h);
}

static void
rfc9110_7_6_1_strip_removes_fields_named_in_connection(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Connection", "close, X-Private-A");
	hdrs_add(&h, "X-Private-A", "1");
	hdrs_add(&h, "x-private-b", "2");
	hdrs_add(&h, "X-Keep", "3");
	hdrs_add(&h, "connection", " x-PRIVATE-b ;q=1 , ,");
	hdrs_add(&h, "X-Private-A", "again");
	hdrs_strip_hop_by_hop(&h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].name, "X-Keep");
	hdrs_fini(&h);

	/* an empty list must not crash and strips nothing else */
	hdrs_init(&h);
	hdrs_strip_hop_by_hop(&h);
	assert_int_equal(h.n, 0);
	hdrs_fini(&h);
}

static void
rfc9110_5_6_1_list_has_across_lines_case_ows_params(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Cache-Control", "max-age=0");
	hdrs_add(&h, "cache-control", " No-Cache ; foo=bar ,public");
	hdrs_add(&h, "Pragma", "no-cache");
	assert_true(hdrs_list_has(&h, "Cache-Control", "no-cache"));
	assert_true(hdrs_list_has(&h, "CACHE-CONTROL", "PUBLIC"));
	assert_true(hdrs_list_has(&h, "pragma", "no-cache"));
	assert_false(hdrs_list_has(&h, "Cache-Control", "no-store"));
	/* "max-age=0" is an element, but its token is not "max-age" */
	assert_false(hdrs_list_has(&h, "Cache-Control", "max-age"));
	assert_false(hdrs_list_has(&h, "Vary", "no-cache"));
	hdrs_fini(&h);
}

static void
rfc9110_5_6_1_list_has_matches_whole_elements_only(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Connection", "no-cache-x, xno-cache, \"close\"");
	hdrs_add(&h, "Vary", "Accept-Encoding");
	assert_false(hdrs_list_has(&h, "Connection", "no-cache"));
	assert_false(hdrs_list_has(&h, "Connection", "close"));
	assert_false(hdrs_list_has(&h, "Vary", "Accept"));
	assert_true(hdrs_list_has(&h, "vary", "accept-encoding"));
	hdrs_fini(&h);
}

static void
rfc9110_5_6_1_list_next_skips_empty_elements(void **state)
{
	char out[128];

	(void)state;
	elements(", ,a,,\tb ,", out, sizeof out);
	assert_string_equal(out, "a|b");
	elements("  one  ", out, sizeof out);
	assert_string_equal(out, "one");
	elements(" , ,, ", out, sizeof out);
	assert_string_equal(out, "");
	elements("a b, c\td", out, sizeof out);
	assert_string_equal(out, "a b|c\td");
}

static void
rfc9110_5_6_4_list_next_keeps_quoted_commas(void **state)
{
	char out[128];

	(void)state;
	elements("no-cache=\"set-cookie, x-a\", public", out, sizeof out);
	assert_string_equal(out, "no-cache=\"set-cookie, x-a\"|public");
	elements("a=\"x\\\", y\", b", out, sizeof out);
	assert_string_equal(out, "a=\"x\\\", y\"|b");
	elements("a=\"\", b", out, sizeof out);
	assert_string_equal(out, "a=\"\"|b");
}

static void
rfc9110_5_6_4_list_next_unclosed_quote_runs_to_end(void **state)
{
	char out[128];

	(void)state;
	elements("a=\"x, y, b", out, sizeof out);
	assert_string_equal(out, "a=\"x, y, b");
	/* a backslash right before the end must not skip the terminator */
	elements("a=\"x\\", out, sizeof out);
	assert_string_equal(out, "a=\"x\\");
}

static void
rfc9110_5_6_1_list_next_end_conditions(void **state)
{
	const char *e = (const char *)1;
	size_t n = 99;

	(void)state;
	assert_null(hdrs_list_next(NULL, &e, &n));
	assert_null(e);
	assert_int_equal(n, 0);
	assert_null(hdrs_list_next("", &e, &n));
	assert_non_null(hdrs_list_next("x", &e, &n));
	assert_int_equal(n, 1);
	assert_int_equal(e[0], 'x');
}

static void
hdrs_size_counts_strings_and_array(void **state)
{
	struct hdrs h;
	size_t empty, one, two;

	(void)state;
	hdrs_init(&h);
	empty = hdrs_size(&h);
	hdrs_add(&h, "Name", "value");
	one = hdrs_size(&h);
	assert_true(one >= empty + strlen("Name") + strlen("value"));
	hdrs_add(&h, "X", "0123456789012345678901234567890123456789");
	two = hdrs_size(&h);
	assert_true(two >= one + 41);
	hdrs_del(&h, "X");
	assert_int_equal(hdrs_size(&h), one);
	hdrs_fini(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc9110_5_1_field_names_case_insensitive),
		cmocka_unit_test(rfc9110_5_2_repeats_kept_in_order_with_original_case),
		cmocka_unit_test(rfc9110_5_3_join_combines_lines_with_comma),
		cmocka_unit_test(rfc9110_5_5_addn_trims_ows_around_value),
		cmocka_unit_test(hdrs_del_removes_every_line_and_keeps_order),
		cmocka_unit_test(hdrs_set_replaces_all_lines_with_one),
		cmocka_unit_test(hdrs_copy_appends_independent_copies),
		cmocka_unit_test(hdrs_fini_leaves_list_empty_and_reusable),
		cmocka_unit_test(rfc9110_7_6_1_hop_by_hop_names),
		cmocka_unit_test(rfc9110_7_6_1_strip_removes_hop_by_hop_fields),
		cmocka_unit_test(rfc9110_7_6_1_strip_removes_fields_named_in_connection),
		cmocka_unit_test(rfc9110_5_6_1_list_has_across_lines_case_ows_params),
		cmocka_unit_test(rfc9110_5_6_1_list_has_matches_whole_elements_only),
		cmocka_unit_test(rfc9110_5_6_1_list_next_skips_empty_elements),
		cmocka_unit_test(rfc9110_5_6_4_list_next_keeps_quoted_commas),
		cmocka_unit_test(rfc9110_5_6_4_list_next_unclosed_quote_runs_to_end),
		cmocka_unit_test(rfc9110_5_6_1_list_next_end_conditions),
		cmocka_unit_test(hdrs_size_counts_strings_and_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
