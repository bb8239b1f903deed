/*
 * test_httpdate.c: unit tests for util/httpdate (RFC 9110 section 5.6.7).
 *
 * Every test passes its own `now` so the two-digit rfc850 year rule is
 * deterministic.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "util/err.h"
#include "util/httpdate.h"

/* 2025-06-15 15:06:40 UTC */
#define NOW_2025 ((time_t)1750000000)
/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example */
#define RFC_EXAMPLE ((time_t)784111777)

/* Parse `s` at `now`, expecting `want_rc` and, on success, `want`. */
static void
check(const char *s, time_t now, int want_rc, time_t want)
{
	time_t t = (time_t)-12345;
	int rc = httpdate_parse_at(s, now, &t);

	if (rc != want_rc)
		fail_msg("\"%s\": rc %d, expected %d", s, rc, want_rc);
	if (want_rc == CDN_OK && t != want)
		fail_msg("\"%s\": got %lld, expected %lld", s, (long long)t,
		    (long long)want);
	if (want_rc != CDN_OK)
		assert_int_equal(t, (time_t)-12345);
}

static void
rfc9110_5_6_7_imf_fixdate_accepted(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(httpdate_parse_at("Sun, 06 Nov 1994 08:49:37 GMT",
	    NOW_2025, &t), CDN_OK);
	assert_int_equal(t, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_rfc850_accepted(void **state)
{
	(void)state;
	check("Sunday, 06-Nov-94 08:49:37 GMT", NOW_2025, CDN_OK, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_asctime_accepted(void **state)
{
	(void)state;
	check("Sun Nov  6 08:49:37 1994", NOW_2025, CDN_OK, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_asctime_two_digit_day_accepted(void **state)
{
	(void)state;
	check("Wed Nov 16 08:49:37 1994", NOW_2025, CDN_OK,
	    RFC_EXAMPLE + 10 * 86400);
	/* 2DIGIT is also allowed for days below 10 */
	check("Sun Nov 06 08:49:37 1994", NOW_2025, CDN_OK, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_surrounding_whitespace_tolerated(void **state)
{
	(void)state;
	check("  Sun, 06 Nov 1994 08:49:37 GMT", NOW_2025, CDN_OK, RFC_EXAMPLE);
	check("Sun, 06 Nov 1994 08:49:37 GMT \t", NOW_2025, CDN_OK, RFC_EXAMPLE);
	check("\tSun Nov  6 08:49:37 1994\r\n", NOW_2025, CDN_OK, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_rfc850_year_more_than_50_years_ahead_is_past(void **state)
{
	(void)state;
	/* now is 2025: 2075 is exactly 50 years ahead (kept), 2076 is more
	 * than 50 years ahead, so "76" means 1976 */
	check("Wednesday, 01-Jan-75 00:00:00 GMT", NOW_2025, CDN_OK,
	    (time_t)3313526400LL);
	check("Thursday, 01-Jan-76 00:00:00 GMT", NOW_2025, CDN_OK,
	    (time_t)189302400);
	check("Monday, 01-Jan-74 00:00:00 GMT", NOW_2025, CDN_OK,
	    (time_t)3281990400LL);
}

static void
rfc9110_5_6_7_rfc850_year_window_follows_now(void **state)
{
	time_t now_2099 = (time_t)4083955200LL;	/* 2099-06-01 */

	(void)state;
	/* in 2099, "10" is 2110 (11 years ahead), "60" would be 2160 (61
	 * years ahead) so it is 2060 */
	check("Wednesday, 01-Jan-10 00:00:00 GMT", now_2099, CDN_OK,
	    (time_t)4417977600LL);
	check("Thursday, 01-Jan-60 00:00:00 GMT", now_2099, CDN_OK,
	    (time_t)2840140800LL);
}

static void
rfc9110_5_6_7_other_formats_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"0",
		"-1",
		"1994-11-06T08:49:37Z",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 +0000",
		"Sun, 06 Nov 1994 08:49:37",
		"sun, 06 nov 1994 08:49:37 gmt",
		"SUN, 06 NOV 1994 08:49:37 GMT",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun,06 Nov 1994 08:49:37 GMT",
		"Sun, 06  Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 8:49:37 GMT",
		"Sun, 06 Nov 1994 08:49 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT junk",
		"Sun, 06 November 1994 08:49:37 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun, 06-Nov-94 08:49:37 GMT",
		"Sunday, 06 Nov 94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 94",
		"Sun Nov  6 08:49:37 1994 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 0x Nov 1994 08:49:37 GMT",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check(bad[i], NOW_2025, CDN_INVAL, 0);
}

static void
rfc9110_5_6_7_out_of_range_fields_rejected(void **state)
{
	static const char *const bad[] = {
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 32 Dec 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT",
		"Sun, 30 Feb 2000 08:49:37 GMT",
		"Sun, 29 Feb 1900 08:49:37 GMT",
		"Sun, 29 Feb 2023 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Sunday, 31-Apr-94 08:49:37 GMT",
		"Sun Feb 30 08:49:37 1994",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check(bad[i], NOW_2025, CDN_INVAL, 0);
}

static void
rfc9110_5_6_7_leap_day_and_leap_second_accepted(void **state)
{
	(void)state;
	check("Tue, 29 Feb 2000 12:00:00 GMT", NOW_2025, CDN_OK,
	    (time_t)951825600);
	/* 23:59:60 folds into the next day's midnight */
	check("Tue, 29 Feb 2000 23:59:60 GMT", NOW_2025, CDN_OK,
	    (time_t)951868800);
}

static void
rfc9110_5_6_7_dates_around_the_epoch(void **state)
{
	(void)state;
	check("Thu, 01 Jan 1970 00:00:00 GMT", NOW_2025, CDN_OK, 0);
	/* -1 is a real time, not timegm's error value */
	check("Wed, 31 Dec 1969 23:59:59 GMT", NOW_2025, CDN_OK, (time_t)-1);
	check("Mon, 01 Jan 1900 00:00:00 GMT", NOW_2025, CDN_OK,
	    (time_t)-2208988800LL);
}

static void
rfc9110_5_6_7_weekday_not_checked_against_date(void **state)
{
	(void)state;
	/* 06 Nov 1994 was a Sunday; recipients do not cross-check */
	check("Mon, 06 Nov 1994 08:49:37 GMT", NOW_2025, CDN_OK, RFC_EXAMPLE);
}

static void
rfc9110_5_6_7_parse_without_now_matches_fixed_forms(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t),
	    CDN_OK);
	assert_int_equal(t, RFC_EXAMPLE);
	assert_int_equal(httpdate_parse("Sun Nov  6 08:49:37 1994", &t), CDN_OK);
	assert_int_equal(t, RFC_EXAMPLE);
	assert_int_equal(httpdate_parse("yesterday", &t), CDN_INVAL);
}

static void
rfc9110_5_6_7_format_imf_fixdate(void **state)
{
	char buf[HTTPDATE_LEN];

	(void)state;
	memset(buf, 'x', sizeof buf);
	httpdate_format(RFC_EXAMPLE, buf);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(strlen(buf), HTTPDATE_LEN - 1);
	httpdate_format(0, buf);
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
	httpdate_format((time_t)951825600, buf);
	assert_string_equal(buf, "Tue, 29 Feb 2000 12:00:00 GMT");
}

static void
rfc9110_5_6_7_format_clamps_to_four_digit_years(void **state)
{
	char buf[HTTPDATE_LEN];

	(void)state;
	httpdate_format((time_t)INT64_MAX, buf);
	assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
	httpdate_format((time_t)INT64_MIN, buf);
	assert_string_equal(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
}

static void
rfc9110_5_6_7_format_then_parse_round_trips(void **state)
{
	static const time_t ts[] = {
		0, 1, 86399, 784111777, 951825600, 1750000000,
		(time_t)4102444799LL, (time_t)-2208988800LL,
	};
	char buf[HTTPDATE_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		time_t back = 0;

		httpdate_format(ts[i], buf);
		assert_int_equal(httpdate_parse_at(buf, NOW_2025, &back), CDN_OK);
		assert_int_equal(back, ts[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc9110_5_6_7_imf_fixdate_accepted),
		cmocka_unit_test(rfc9110_5_6_7_rfc850_accepted),
		cmocka_unit_test(rfc9110_5_6_7_asctime_accepted),
		cmocka_unit_test(rfc9110_5_6_7_asctime_two_digit_day_accepted),
		cmocka_unit_test(rfc9110_5_6_7_surrounding_whitespace_tolerated),
		cmocka_unit_test(rfc9110_5_6_7_rfc850_year_more_than_50_years_ahead_is_past),
		cmocka_unit_test(rfc9110_5_6_7_rfc850_year_window_follows_now),
		cmocka_unit_test(rfc9110_5_6_7_other_formats_rejected),
		cmocka_unit_test(rfc9110_5_6_7_out_of_range_fields_rejected),
		cmocka_unit_test(rfc9110_5_6_7_leap_day_and_leap_second_accepted),
		cmocka_unit_test(rfc9110_5_6_7_dates_around_the_epoch),
		cmocka_unit_test(rfc9110_5_6_7_weekday_not_checked_against_date),
		cmocka_unit_test(rfc9110_5_6_7_parse_without_now_matches_fixed_forms),
		cmocka_unit_test(rfc9110_5_6_7_format_imf_fixdate),
		cmocka_unit_test(rfc9110_5_6_7_format_clamps_to_four_digit_years),
		cmocka_unit_test(rfc9110_5_6_7_format_then_parse_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
