/*
 * test_range.c: Range parsing against a representation length (RFC 9110 14).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/range.h"

static struct range r[RANGE_MAX];
static unsigned n;

static void
rfc9110_14_1_2_first_last(void **state)
{
	assert_int_equal(range_parse("bytes=0-99", 1000, r, &n), RANGE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(r[0].last, 99);
}

static void
rfc9110_14_1_2_open_ended(void **state)
{
	assert_int_equal(range_parse("bytes=990-", 1000, r, &n), RANGE_OK);
	assert_int_equal(r[0].first, 990);
	assert_int_equal(r[0].last, 999);
}

static void
rfc9110_14_1_2_suffix(void **state)
{
	assert_int_equal(range_parse("bytes=-10", 1000, r, &n), RANGE_OK);
	assert_int_equal(r[0].first, 990);
	assert_int_equal(r[0].last, 999);
	assert_int_equal(range_parse("bytes=-5000", 1000, r, &n), RANGE_OK);
	assert_int_equal(r[0].first, 0);
}

static void
rfc9110_14_1_2_last_beyond_length_is_clamped(void **state)
{
	assert_int_equal(range_parse("bytes=500-5000", 1000, r, &n), RANGE_OK);
	assert_int_equal(r[0].last, 999);
}

static void
rfc9110_14_1_2_several_ranges(void **state)
{
	assert_int_equal(range_parse("bytes=0-9, 20-29,-5", 1000, r, &n), RANGE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(r[1].first, 20);
	assert_int_equal(r[2].first, 995);
}

static void
rfc9110_14_2_overlapping_ranges_are_merged(void **state)
{
	assert_int_equal(range_parse("bytes=0-9,5-19,20-29", 1000, r, &n), RANGE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(r[0].last, 29);
}

static void
rfc9110_15_5_17_unsatisfiable(void **state)
{
	assert_int_equal(range_parse("bytes=1000-", 1000, r, &n), RANGE_UNSATISFIABLE);
	assert_int_equal(range_parse("bytes=-0", 1000, r, &n), RANGE_UNSATISFIABLE);
	assert_int_equal(range_parse("bytes=0-1", 0, r, &n), RANGE_UNSATISFIABLE);
}

static void
rfc9110_14_2_partly_satisfiable_keeps_the_good_ones(void **state)
{
	assert_int_equal(range_parse("bytes=2000-3000,0-0", 1000, r, &n), RANGE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].last, 0);
}

static void
rfc9110_14_2_bad_syntax_is_ignored(void **state)
{
	assert_int_equal(range_parse("bytes=abc", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("bytes=5-1", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("bytes 0-1", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("items=0-1", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("bytes=", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("bytes=0-1;x", 1000, r, &n), RANGE_IGNORE);
	assert_int_equal(range_parse("bytes=99999999999999999999999-", 1000, r, &n), RANGE_IGNORE);
}

static void
rfc9110_14_2_too_many_ranges_are_ignored(void **state)
{
	assert_int_equal(range_parse("bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,"
	    "18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32", 1000, r, &n), RANGE_IGNORE);
}

static void
rfc9110_14_1_1_unit_is_case_insensitive(void **state)
{
	assert_int_equal(range_parse("Bytes=0-0", 10, r, &n), RANGE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc9110_14_1_2_first_last),
		cmocka_unit_test(rfc9110_14_1_2_open_ended),
		cmocka_unit_test(rfc9110_14_1_2_suffix),
		cmocka_unit_test(rfc9110_14_1_2_last_beyond_length_is_clamped),
		cmocka_unit_test(rfc9110_14_1_2_several_ranges),
		cmocka_unit_test(rfc9110_14_2_overlapping_ranges_are_merged),
		cmocka_unit_test(rfc9110_15_5_17_unsatisfiable),
		cmocka_unit_test(rfc9110_14_2_partly_satisfiable_keeps_the_good_ones),
		cmocka_unit_test(rfc9110_14_2_bad_syntax_is_ignored),
		cmocka_unit_test(rfc9110_14_2_too_many_ranges_are_ignored),
		cmocka_unit_test(rfc9110_14_1_1_unit_is_case_insensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
