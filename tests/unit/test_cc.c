/*
 * test_cc.c: unit tests for http/cc (RFC 9111 1.2.2 and 5.2, RFC 5861,
 * RFC 9213 with RFC 8941 Structured Fields).
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

#include "http/cc.h"
#include "http/hdrs.h"
#include "util/err.h"

static struct cc
parse(const char *value)
{
	struct cc c;

	cc_init(&c);
	cc_parse(&c, value);
	return c;
}

static struct cc
parse_sf(const char *value)
{
	struct cc c;

	cc_init(&c);
	cc_parse_sf(&c, value);
	return c;
}

static void
rfc9111_5_2_init_leaves_every_directive_absent(void **state)
{
	struct cc c;

	(void)state;
	memset(&c, 0x5a, sizeof c);
	cc_init(&c);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.max_age, CC_UNSET);
	assert_int_equal(c.s_maxage, CC_UNSET);
	assert_int_equal(c.max_stale, CC_UNSET);
	assert_int_equal(c.min_fresh, CC_UNSET);
	assert_int_equal(c.swr, CC_UNSET);
	assert_int_equal(c.sie, CC_UNSET);
	assert_string_equal(c.no_cache_fields, "");
	assert_string_equal(c.private_fields, "");
}

static void
rfc9111_5_2_flag_directives_recognised(void **state)
{
	struct cc c;

	(void)state;
	c = parse("no-store, no-cache, private, public, must-revalidate, "
	    "proxy-revalidate, immutable, only-if-cached, no-transform, "
	    "must-understand, max-stale");
	assert_int_equal(c.flags, CC_NO_STORE | CC_NO_CACHE | CC_PRIVATE |
	    CC_PUBLIC | CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE |
	    CC_IMMUTABLE | CC_ONLY_IF_CACHED | CC_NO_TRANSFORM |
	    CC_MUST_UNDERSTAND | CC_MAX_STALE_ANY);
	c = parse("public");
	assert_int_equal(c.flags, CC_PUBLIC);
	assert_int_equal(c.max_age, CC_UNSET);
	/* a value on a flag directive does not hide it */
	c = parse("no-store=1");
	assert_int_equal(c.flags, CC_NO_STORE);
}

static void
rfc9111_5_2_directive_names_case_insensitive(void **state)
{
	struct cc c;

	(void)state;
	c = parse("Max-Age=5, NO-STORE, Private, S-MAXAGE=7, Stale-While-Revalidate=9");
	assert_int_equal(c.max_age, 5);
	assert_int_equal(c.s_maxage, 7);
	assert_int_equal(c.swr, 9);
	assert_int_equal(c.flags, CC_NO_STORE | CC_PRIVATE);
}

static void
rfc9111_5_2_quoted_max_age_accepted(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-age=\"60\", s-maxage=\"30\", stale-if-error=\"5\"");
	assert_int_equal(c.max_age, 60);
	assert_int_equal(c.s_maxage, 30);
	assert_int_equal(c.sie, 5);
}

static void
rfc9111_5_2_whitespace_around_comma_and_equals(void **state)
{
	struct cc c;

	(void)state;
	c = parse("  max-age = 60 ,\ts-maxage=\t5 ,public\t, min-fresh =\"3\" ");
	assert_int_equal(c.max_age, 60);
	assert_int_equal(c.s_maxage, 5);
	assert_int_equal(c.min_fresh, 3);
	assert_int_equal(c.flags, CC_PUBLIC);
}

static void
rfc9110_5_6_1_cc_empty_elements_skipped(void **state)
{
	struct cc c;

	(void)state;
	c = parse(",,, max-age=5,, ,no-store,");
	assert_int_equal(c.max_age, 5);
	assert_int_equal(c.flags, CC_NO_STORE);
	c = parse("");
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.max_age, CC_UNSET);
}

static void
rfc9111_5_2_3_unknown_directives_ignored(void **state)
{
	struct cc c;

	(void)state;
	c = parse("foo, bar=baz, community=\"UCI, x\", max-agex=3, "
	    "xmax-age=4, max-age=7, =9, \"quoted\"");
	assert_int_equal(c.max_age, 7);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.s_maxage, CC_UNSET);
}

static void
rfc9111_4_2_1_first_max_age_wins(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-age=10, max-age=20, s-maxage=1, s-maxage=2");
	assert_int_equal(c.max_age, 10);
	assert_int_equal(c.s_maxage, 1);
	c = parse("min-fresh=4, min-fresh=8, stale-while-revalidate=1, "
	    "stale-while-revalidate=2, stale-if-error=3, stale-if-error=6, "
	    "max-stale=5, max-stale=9");
	assert_int_equal(c.min_fresh, 4);
	assert_int_equal(c.swr, 1);
	assert_int_equal(c.sie, 3);
	assert_int_equal(c.max_stale, 5);
}

static void
rfc9111_4_2_1_first_occurrence_wins_across_lines(void **state)
{
	struct cc c;

	(void)state;
	cc_init(&c);
	cc_parse(&c, "max-age=10");
	cc_parse(&c, "max-age=20, s-maxage=5, no-store");
	assert_int_equal(c.max_age, 10);
	assert_int_equal(c.s_maxage, 5);
	assert_int_equal(c.flags, CC_NO_STORE);
}

static void
rfc9111_4_2_1_invalid_max_age_is_zero(void **state)
{
	static const char *const bad[] = {
		"max-age=-1", "max-age=1.5", "max-age=", "max-age=abc",
		"max-age=60s", "max-age=+5", "max-age=\"60", "max-age=6 0",
		"max-age", "max-age=\"\"", "max-age=\" 60\"", "max-age=0x10",
		"max-age=\"60\"x", "max-age 60", "max-age=60;x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cc c = parse(bad[i]);

		if (c.max_age != 0)
			fail_msg("\"%s\": max_age %lld, expected 0", bad[i],
			    (long long)c.max_age);
	}
}

static void
rfc9111_4_2_1_invalid_s_maxage_is_zero(void **state)
{
	struct cc c;

	(void)state;
	c = parse("s-maxage=-30, max-age=60");
	assert_int_equal(c.s_maxage, 0);
	assert_int_equal(c.max_age, 60);
	c = parse("s-maxage=1e3");
	assert_int_equal(c.s_maxage, 0);
}

static void
rfc9111_4_2_1_invalid_first_max_age_still_counts_first(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-age=abc, max-age=60");
	assert_int_equal(c.max_age, 0);
}

static void
rfc9111_1_2_2_huge_max_age_clamped(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-age=99999999999999999999999999999999");
	assert_int_equal(c.max_age, CC_DELTA_MAX);
	c = parse("max-age=2147483648");
	assert_int_equal(c.max_age, CC_DELTA_MAX);
	c = parse("max-age=2147483649");
	assert_int_equal(c.max_age, CC_DELTA_MAX);
	c = parse("max-age=2147483647");
	assert_int_equal(c.max_age, 2147483647LL);
	c = parse("s-maxage=\"18446744073709551617\", stale-if-error=4294967296");
	assert_int_equal(c.s_maxage, CC_DELTA_MAX);
	assert_int_equal(c.sie, CC_DELTA_MAX);
	c = parse("max-age=0060");
	assert_int_equal(c.max_age, 60);
}

static void
rfc9111_1_2_2_delta_seconds_syntax(void **state)
{
	int64_t v = -7;

	(void)state;
	assert_int_equal(cc_delta_seconds("0", 1, &v), CDN_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cc_delta_seconds("12345", 5, &v), CDN_OK);
	assert_int_equal(v, 12345);
	/* only the counted bytes are read */
	assert_int_equal(cc_delta_seconds("12345", 2, &v), CDN_OK);
	assert_int_equal(v, 12);
	assert_int_equal(cc_delta_seconds("99999999999999999999", 20, &v), CDN_OK);
	assert_int_equal(v, CC_DELTA_MAX);
	v = -7;
	assert_int_equal(cc_delta_seconds("", 0, &v), CDN_INVAL);
	assert_int_equal(cc_delta_seconds("-1", 2, &v), CDN_INVAL);
	assert_int_equal(cc_delta_seconds(" 1", 2, &v), CDN_INVAL);
	assert_int_equal(cc_delta_seconds("1 ", 2, &v), CDN_INVAL);
	assert_int_equal(cc_delta_seconds("1.0", 3, &v), CDN_INVAL);
	assert_int_equal(v, -7);
}

static void
rfc9111_5_2_1_2_max_stale_without_value_means_any(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-stale");
	assert_true(c.flags & CC_MAX_STALE_ANY);
	assert_int_equal(c.max_stale, CC_UNSET);
	c = parse("max-stale=30");
	assert_false(c.flags & CC_MAX_STALE_ANY);
	assert_int_equal(c.max_stale, 30);
	c = parse("max-stale=\"45\"");
	assert_int_equal(c.max_stale, 45);
}

static void
rfc9111_5_2_1_2_invalid_max_stale_is_absent(void **state)
{
	static const char *const bad[] = {
		"max-stale=abc", "max-stale=-1", "max-stale=1.5", "max-stale=",
		"max-stale=\"", "max-stale 5",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cc c = parse(bad[i]);

		if (c.max_stale != CC_UNSET || (c.flags & CC_MAX_STALE_ANY))
			fail_msg("\"%s\": max_stale %lld flags %#x, expected absent",
			    bad[i], (long long)c.max_stale, c.flags);
	}
}

static void
rfc9111_5_2_1_3_invalid_min_fresh_is_absent(void **state)
{
	struct cc c;

	(void)state;
	c = parse("min-fresh=-5");
	assert_int_equal(c.min_fresh, CC_UNSET);
	c = parse("min-fresh=x, min-fresh=20");
	assert_int_equal(c.min_fresh, 20);
	c = parse("min-fresh=10");
	assert_int_equal(c.min_fresh, 10);
}

static void
rfc5861_swr_and_sie_parsed_invalid_absent(void **state)
{
	struct cc c;

	(void)state;
	c = parse("max-age=600, stale-while-revalidate=30, stale-if-error=86400");
	assert_int_equal(c.swr, 30);
	assert_int_equal(c.sie, 86400);
	c = parse("stale-while-revalidate, stale-if-error=1.5");
	assert_int_equal(c.swr, CC_UNSET);
	assert_int_equal(c.sie, CC_UNSET);
	c = parse("stale-while-revalidate=oops, stale-while-revalidate=7");
	assert_int_equal(c.swr, 7);
}

static void
rfc9111_5_2_2_4_qualified_no_cache_records_fields(void **state)
{
	struct cc c;

	(void)state;
	c = parse("no-cache=\"Set-Cookie, X-Foo\", max-age=60");
	assert_int_equal(c.flags, CC_NO_CACHE_FIELDS);
	assert_string_equal(c.no_cache_fields, "set-cookie,x-foo");
	assert_string_equal(c.private_fields, "");
	assert_int_equal(c.max_age, 60);
}

static void
rfc9111_5_2_2_7_qualified_private_records_fields(void **state)
{
	struct cc c;

	(void)state;
	c = parse("private=\"Authorization-Info\", public");
	assert_int_equal(c.flags, CC_PRIVATE_FIELDS | CC_PUBLIC);
	assert_string_equal(c.private_fields, "authorization-info");
	assert_string_equal(c.no_cache_fields, "");
}

static void
rfc9111_5_2_2_4_token_form_field_accepted(void **state)
{
	struct cc c;

	(void)state;
	c = parse("no-cache=Set-Cookie");
	assert_int_equal(c.flags, CC_NO_CACHE_FIELDS);
	assert_string_equal(c.no_cache_fields, "set-cookie");
	c = parse("PRIVATE = X-User");
	assert_int_equal(c.flags, CC_PRIVATE_FIELDS);
	assert_string_equal(c.private_fields, "x-user");
}

static void
rfc9111_5_2_2_4_empty_qualified_no_cache_is_unqualified(void **state)
{
	static const char *const forms[] = {
		"no-cache=\"\"", "no-cache=", "no-cache=\" , ,\"", "no-cache = \"\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		struct cc c = parse(forms[i]);

		if (c.flags != CC_NO_CACHE)
			fail_msg("\"%s\": flags %#x, expected %#x", forms[i],
			    c.flags, (unsigned)CC_NO_CACHE);
		assert_string_equal(c.no_cache_fields, "");
	}
}

static void
rfc9111_5_2_2_4_unqualified_and_qualified_both_kept(void **state)
{
	struct cc c;

	(void)state;
	c = parse("no-cache, no-cache=\"a\"");
	assert_int_equal(c.flags, CC_NO_CACHE | CC_NO_CACHE_FIELDS);
	assert_string_equal(c.no_cache_fields, "a");
}

static void
rfc9111_5_2_2_4_qualified_lists_merge_without_duplicates(void **state)
{
	struct cc c;

	(void)state;
	cc_init(&c);
	cc_parse(&c, "no-cache=\"a\"");
	cc_parse(&c, "no-cache=\"A, b\", private=\"c\", private=\"C\"");
	assert_int_equal(c.flags, CC_NO_CACHE_FIELDS | CC_PRIVATE_FIELDS);
	assert_string_equal(c.no_cache_fields, "a,b");
	assert_string_equal(c.private_fields, "c");
}

static void
rfc9111_5_2_2_7_malformed_qualified_falls_back_to_unqualified(void **state)
{
	struct cc c;

	(void)state;
	c = parse("private=\"a b\"");
	assert_true(c.flags & CC_PRIVATE);
	c = parse("private=\"x-a");
	assert_true(c.flags & CC_PRIVATE);
	c = parse("private=\"x\\\"y\"");
	assert_true(c.flags & CC_PRIVATE);
	/* a valid name next to a bad one is still recorded */
	c = parse("no-cache=\"good, b@d\"");
	assert_int_equal(c.flags, CC_NO_CACHE | CC_NO_CACHE_FIELDS);
	assert_string_equal(c.no_cache_fields, "good");
}

static void
rfc9111_5_2_2_4_field_buffers_never_overflow(void **state)
{
	char big[4096], longname[400];
	size_t used = 0;
	struct cc c;

	(void)state;
	used += (size_t)snprintf(big, sizeof big, "no-cache=\"");
	for (int i = 0; i < 100; i++)
		used += (size_t)snprintf(big + used, sizeof big - used,
		    "%sx-field-%03d", i ? ", " : "", i);
	snprintf(big + used, sizeof big - used, "\", max-age=5");
	c = parse(big);
	assert_true(strlen(c.no_cache_fields) < CC_FIELDS_LEN);
	assert_int_equal(strncmp(c.no_cache_fields, "x-field-000,x-field-001,", 24), 0);
	/* the list could not be kept whole: the unqualified form applies */
	assert_int_equal(c.flags, CC_NO_CACHE | CC_NO_CACHE_FIELDS);
	assert_int_equal(c.max_age, 5);
	assert_string_equal(c.private_fields, "");

	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	snprintf(big, sizeof big, "private=\"%s\"", longname);
	c = parse(big);
	assert_int_equal(c.flags, CC_PRIVATE);
	assert_string_equal(c.private_fields, "");
}

static void
rfc9110_5_6_4_quoted_commas_do_not_split_directives(void **state)
{
	struct cc c;

	(void)state;
	c = parse("private=\"max-age, no-store\", s-maxage=9");
	assert_int_equal(c.flags, CC_PRIVATE_FIELDS);
	assert_string_equal(c.private_fields, "max-age,no-store");
	assert_int_equal(c.max_age, CC_UNSET);
	assert_int_equal(c.s_maxage, 9);
}

static void
rfc9111_5_2_every_prefix_parses_safely(void **state)
{
	static const char *const inputs[] = {
		"no-cache=\"Set-Cookie, X-A\\\"b\", max-age=\"60\", private=x, max-stale",
		"a=\"\\",
		"max-age=\"6\\\"0\", s-maxage = ",
		"CDN=(1 2);a=?1, b=:aGk=:, c=%\"x%41\", d=@1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		size_t len = strlen(inputs[i]);

		for (size_t k = 0; k <= len; k++) {
			/* exactly sized heap copies so ASan sees any overread */
			char *s = malloc(k + 1);
			struct cc c;

			assert_non_null(s);
			memcpy(s, inputs[i], k);
			s[k] = '\0';
			cc_init(&c);
			cc_parse(&c, s);
			cc_parse_sf(&c, s);
			(void)cc_sf_dict_valid(s, NULL);
			assert_true(strlen(c.no_cache_fields) < CC_FIELDS_LEN);
			assert_true(strlen(c.private_fields) < CC_FIELDS_LEN);
			free(s);
		}
	}
}

static void
cc_parse_hdrs_reads_every_line_and_resets(void **state)
{
	struct hdrs h;
	struct cc c;

	(void)state;
	hdrs_init(&h);
	hdrs_add(&h, "Cache-Control", "max-age=60");
	hdrs_add(&h, "X-Other", "no-store");
	hdrs_add(&h, "cache-control", "must-revalidate, max-age=5");
	cc_init(&c);
	cc_parse(&c, "no-store, s-maxage=1");
	cc_parse_hdrs(&c, &h, "Cache-Control");
	assert_int_equal(c.flags, CC_MUST_REVALIDATE);
	assert_int_equal(c.max_age, 60);
	assert_int_equal(c.s_maxage, CC_UNSET);
	cc_parse_hdrs(&c, NULL, "Cache-Control");
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.max_age, CC_UNSET);
	hdrs_fini(&h);
}

static void
cc_present_finds_field_in_any_case(void **state)
{
	struct hdrs h;

	(void)state;
	hdrs_init(&h);
	assert_false(cc_present(&h, "Cache-Control"));
	assert_false(cc_present(NULL, "Cache-Control"));
	hdrs_add(&h, "cache-CONTROL", "");
	assert_true(cc_present(&h, "Cache-Control"));
	assert_false(cc_present(&h, "CDN-Cache-Control"));
	hdrs_fini(&h);
}

static void
rfc8941_3_2_sf_dictionary_accepted(void **state)
{
	static const char *const good[] = {
		"max-age=60",
		"max-age=60, must-revalidate",
		"no-cache=\"a, b\"",
		"a=(1 2);x, b=?0, c=:aGVsbG8=:, d=1.5, e=@123, *g=tok/x:1",
		"f=%\"caf%c3%a9\", h=-12;q=0.5, i=( ), j=\"x\\\\y\\\"z\"",
		"max-age=60 ,\tpublic",
		"a;x;y=1",
	};
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (!cc_sf_dict_valid(good[i], &n))
			fail_msg("\"%s\" should be a valid dictionary", good[i]);
	}
	assert_true(cc_sf_dict_valid("max-age=60, must-revalidate", &n));
	assert_int_equal(n, 2);
	assert_true(cc_sf_dict_valid("", &n));
	assert_int_equal(n, 0);
}

static void
rfc8941_3_2_sf_dictionary_rejected(void **state)
{
	static const char *const bad[] = {
		"Max-Age=60", "max-age=60,", "max-age=", "max-age=60 60",
		"a=\"unterminated", "a=(1 2", "a=1.2345", "a=1234567890123456",
		"a=?2", ",a", "a=1;", "a==1", "1a=2", "a=1,,b=2", "a=\"\\x\"",
		"a=:abc", "a=1.", "a=-", "a=%\"%ZZ\"", "a=(1,2)", "a=\"tab\there\"",
		"a=@1.5", "max_age=1 ;",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (cc_sf_dict_valid(bad[i], NULL))
			fail_msg("\"%s\" should be rejected", bad[i]);
	}
}

static void
rfc9213_2_1_sf_later_duplicate_wins(void **state)
{
	struct cc c;

	(void)state;
	c = parse_sf("max-age=10, max-age=20, stale-if-error=1, stale-if-error=x");
	assert_int_equal(c.max_age, 20);
	assert_int_equal(c.sie, CC_UNSET);
	c = parse_sf("no-cache=\"a\", no-cache");
	assert_int_equal(c.flags, CC_NO_CACHE);
	assert_string_equal(c.no_cache_fields, "");
	c = parse_sf("max-stale, max-stale=5");
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.max_stale, 5);
}

static void
rfc9213_2_1_sf_false_boolean_switches_directive_off(void **state)
{
	struct cc c;

	(void)state;
	c = parse_sf("no-store, no-store=?0, must-revalidate=?1, private=?0");
	assert_int_equal(c.flags, CC_MUST_REVALIDATE);
	/* in Cache-Control "?0" is just an ignored value */
	c = parse("no-store=?0");
	assert_int_equal(c.flags, CC_NO_STORE);
}

static void
rfc9213_2_1_sf_parameters_ignored(void **state)
{
	struct cc c;

	(void)state;
	c = parse_sf("max-age=60;foo=1, private=\"X-A\";x, public;y=?1");
	assert_int_equal(c.max_age, 60);
	assert_int_equal(c.flags, CC_PRIVATE_FIELDS | CC_PUBLIC);
	assert_string_equal(c.private_fields, "x-a");
}

static void
rfc9213_2_2_targeted_field_needs_valid_nonempty_value(void **state)
{
	struct hdrs h;
	struct cc c;

	(void)state;
	hdrs_init(&h);
	assert_false(cc_targeted_usable(&h, "CDN-Cache-Control"));
	assert_false(cc_targeted_usable(NULL, "CDN-Cache-Control"));
	hdrs_add(&h, "CDN-Cache-Control", "");
	assert_false(cc_targeted_usable(&h, "CDN-Cache-Control"));
	hdrs_add(&h, "cdn-cache-control", "max-age=5");
	assert_true(cc_targeted_usable(&h, "CDN-Cache-Control"));
	hdrs_add(&h, "CDN-Cache-Control", "Max-Age=7");
	assert_false(cc_targeted_usable(&h, "CDN-Cache-Control"));
	hdrs_fini(&h);

	hdrs_init(&h);
	hdrs_add(&h, "CDN-Cache-Control", "max-age=5, no-store");
	hdrs_add(&h, "Cache-Control", "max-age=1");
	hdrs_add(&h, "CDN-Cache-Control", "max-age=9, no-store=?0");
	cc_parse_targeted_hdrs(&c, &h, "CDN-Cache-Control");
	assert_int_equal(c.max_age, 9);
	assert_int_equal(c.flags, 0);
	hdrs_fini(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc9111_5_2_init_leaves_every_directive_absent),
		cmocka_unit_test(rfc9111_5_2_flag_directives_recognised),
		cmocka_unit_test(rfc9111_5_2_directive_names_case_insensitive),
		cmocka_unit_test(rfc9111_5_2_quoted_max_age_accepted),
		cmocka_unit_test(rfc9111_5_2_whitespace_around_comma_and_equals),
		cmocka_unit_test(rfc9110_5_6_1_cc_empty_elements_skipped),
		cmocka_unit_test(rfc9111_5_2_3_unknown_directives_ignored),
		cmocka_unit_test(rfc9111_4_2_1_first_max_age_wins),
		cmocka_unit_test(rfc9111_4_2_1_first_occurrence_wins_across_lines),
		cmocka_unit_test(rfc9111_4_2_1_invalid_max_age_is_zero),
		cmocka_unit_test(rfc9111_4_2_1_invalid_s_maxage_is_zero),
		cmocka_unit_test(rfc9111_4_2_1_invalid_first_max_age_still_counts_first),
		cmocka_unit_test(rfc9111_1_2_2_huge_max_age_clamped),
		cmocka_unit_test(rfc9111_1_2_2_delta_seconds_syntax),
		cmocka_unit_test(rfc9111_5_2_1_2_max_stale_without_value_means_any),
		cmocka_unit_test(rfc9111_5_2_1_2_invalid_max_stale_is_absent),
		cmocka_unit_test(rfc9111_5_2_1_3_invalid_min_fresh_is_absent),
		cmocka_unit_test(rfc5861_swr_and_sie_parsed_invalid_absent),
		cmocka_unit_test(rfc9111_5_2_2_4_qualified_no_cache_records_fields),
		cmocka_unit_test(rfc9111_5_2_2_7_qualified_private_records_fields),
		cmocka_unit_test(rfc9111_5_2_2_4_token_form_field_accepted),
		cmocka_unit_test(rfc9111_5_2_2_4_empty_qualified_no_cache_is_unqualified),
		cmocka_unit_test(rfc9111_5_2_2_4_unqualified_and_qualified_both_kept),
		cmocka_unit_test(rfc9111_5_2_2_4_qualified_lists_merge_without_duplicates),
		cmocka_unit_test(rfc9111_5_2_2_7_malformed_qualified_falls_back_to_unqualified),
		cmocka_unit_test(rfc9111_5_2_2_4_field_buffers_never_overflow),
		cmocka_unit_test(rfc9110_5_6_4_quoted_commas_do_not_split_directives),
		cmocka_unit_test(rfc9111_5_2_every_prefix_parses_safely),
		cmocka_unit_test(cc_parse_hdrs_reads_every_line_and_resets),
		cmocka_unit_test(cc_present_finds_field_in_any_case),
		cmocka_unit_test(rfc8941_3_2_sf_dictionary_accepted),
		cmocka_unit_test(rfc8941_3_2_sf_dictionary_rejected),
		cmocka_unit_test(rfc9213_2_1_sf_later_duplicate_wins),
		cmocka_unit_test(rfc9213_2_1_sf_false_boolean_switches_directive_off),
		cmocka_unit_test(rfc9213_2_1_sf_parameters_ignored),
		cmocka_unit_test(rfc9213_2_2_targeted_field_needs_valid_nonempty_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
