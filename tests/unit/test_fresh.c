/*
 * test_fresh.c: unit tests for http/fresh (RFC 9111 3, 4.2, 5.2, 5.4;
 * RFC 9213; RFC 5861). Every time is an argument; nothing reads the clock.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "http/cc.h"
#include "http/fresh.h"
#include "http/hdrs.h"
#include "util/httpdate.h"

/* response_time used throughout: 2025-06-15 15:06:40 UTC */
#define RT ((time_t)1750000000)

/* Fill `h` from name/value pairs ending with NULL. */
static void
mk(struct hdrs *h, ...)
{
	va_list ap;
	const char *name;

	hdrs_init(h);
	va_start(ap, h);
	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);

		hdrs_add(h, name, value);
	}
	va_end(ap);
}

static void
add_date(struct hdrs *h, const char *name, time_t t)
{
	char buf[HTTPDATE_LEN];

	httpdate_format(t, buf);
	hdrs_add(h, name, buf);
}

static struct cc
ccof(const char *value)
{
	struct cc c;

	cc_init(&c);
	cc_parse(&c, value);
	return c;
}

/* Storability of a GET for `status` with one response Cache-Control line
 * (NULL for none) and an optional request Authorization. */
static bool
storable_cc(int status, const char *resp_cc, bool auth)
{
	struct hdrs req, resp;
	bool r;

	mk(&req, NULL);
	if (auth)
		hdrs_add(&req, "Authorization", "Bearer t");
	mk(&resp, NULL);
	if (resp_cc != NULL)
		hdrs_add(&resp, "Cache-Control", resp_cc);
	r = fresh_storable("GET", status, &req, &resp, NULL);
	hdrs_fini(&req);
	hdrs_fini(&resp);
	return r;
}

/* Lifetime of `resp` with its effective directives and default config. */
static int64_t
lifetime_of(int status, const struct hdrs *resp)
{
	struct cc rcc;

	fresh_resp_cc(&rcc, resp, NULL);
	return fresh_lifetime(status, resp, &rcc, RT, NULL);
}

/* ------------------------------------------------ configuration, statuses */

static void
fresh_cfg_default_values(void **state)
{
	struct fresh_cfg cfg;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	fresh_cfg_default(&cfg);
	assert_string_equal(cfg.targeted_field, "CDN-Cache-Control");
	assert_true(cfg.heuristic_fraction > 0.0999 && cfg.heuristic_fraction < 0.1001);
	assert_int_equal(cfg.heuristic_max, 86400);
}

static void
rfc9110_15_1_heuristic_status_list(void **state)
{
	static const int listed[] = {
		200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
	};

	(void)state;
	for (int s = 0; s < 700; s++) {
		bool want = false;

		for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
			want = want || listed[i] == s;
		if (fresh_status_heuristic(s) != want)
			fail_msg("status %d: got %d, expected %d", s,
			    !want, want);
	}
}

/* ------------------------------------------------ targeted fields */

static void
rfc9213_2_2_targeted_field_replaces_cache_control(void **state)
{
	struct hdrs resp;
	struct cc c;

	(void)state;
	mk(&resp, "Cache-Control", "no-store, max-age=5",
	    "CDN-Cache-Control", "max-age=60, stale-while-revalidate=10", NULL);
	assert_true(fresh_targeted_active(&resp, NULL));
	fresh_resp_cc(&c, &resp, NULL);
	assert_int_equal(c.max_age, 60);
	assert_int_equal(c.swr, 10);
	assert_false(c.flags & CC_NO_STORE);
	assert_true(fresh_storable("GET", 200, NULL, &resp, NULL));
	hdrs_fini(&resp);
}

static void
rfc9213_2_2_invalid_or_empty_targeted_field_ignored(void **state)
{
	struct hdrs resp;
	struct cc c;

	(void)state;
	mk(&resp, "Cache-Control", "max-age=5",
	    "CDN-Cache-Control", "Max-Age=60", NULL);
	assert_false(fresh_targeted_active(&resp, NULL));
	fresh_resp_cc(&c, &resp, NULL);
	assert_int_equal(c.max_age, 5);
	hdrs_fini(&resp);

	mk(&resp, "Cache-Control", "max-age=5", "CDN-Cache-Control", "", NULL);
	fresh_resp_cc(&c, &resp, NULL);
	assert_int_equal(c.max_age, 5);
	hdrs_fini(&resp);
}

static void
rfc9213_2_2_targeted_field_follows_configuration(void **state)
{
	struct hdrs resp;
	struct fresh_cfg cfg;
	struct cc c;

	(void)state;
	mk(&resp, "Cache-Control", "max-age=5", "CDN-Cache-Control", "max-age=60",
	    "Edge-Cache-Control", "max-age=7", NULL);
	fresh_cfg_default(&cfg);
	cfg.targeted_field = NULL;
	fresh_resp_cc(&c, &resp, &cfg);
	assert_int_equal(c.max_age, 5);
	cfg.targeted_field = "edge-cache-control";
	fresh_resp_cc(&c, &resp, &cfg);
	assert_int_equal(c.max_age, 7);
	hdrs_fini(&resp);
}

static void
rfc9213_2_2_targeted_field_ignores_expires(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "CDN-Cache-Control", "must-revalidate", NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Expires", RT + 600);
	/* Expires is ignored, so no explicit lifetime and, for a 302, no
	 * reason to store */
	assert_int_equal(lifetime_of(200, &resp), 0);
	assert_false(fresh_storable("GET", 302, NULL, &resp, NULL));
	hdrs_fini(&resp);

	mk(&resp, "CDN-Cache-Control", "no-store", "Cache-Control", "max-age=60",
	    NULL);
	assert_false(fresh_storable("GET", 200, NULL, &resp, NULL));
	hdrs_fini(&resp);

	/* an unusable targeted field leaves Expires in force */
	mk(&resp, "CDN-Cache-Control", "max-age=,", NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Expires", RT + 600);
	assert_int_equal(lifetime_of(200, &resp), 600);
	assert_true(fresh_storable("GET", 302, NULL, &resp, NULL));
	hdrs_fini(&resp);
}

/* ------------------------------------------------ storability (RFC 9111 3) */

static void
rfc9111_3_only_get_and_head_stored(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Cache-Control", "max-age=60", NULL);
	assert_true(fresh_storable("GET", 200, NULL, &resp, NULL));
	assert_true(fresh_storable("HEAD", 200, NULL, &resp, NULL));
	assert_false(fresh_storable("POST", 200, NULL, &resp, NULL));
	assert_false(fresh_storable("PUT", 200, NULL, &resp, NULL));
	assert_false(fresh_storable("DELETE", 200, NULL, &resp, NULL));
	/* methods are case-sensitive (RFC 9110 9.1) */
	assert_false(fresh_storable("get", 200, NULL, &resp, NULL));
	hdrs_fini(&resp);
}

static void
rfc9111_3_only_final_status_in_range(void **state)
{
	static const int bad[] = { -1, 0, 100, 101, 103, 199, 600, 999 };

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (storable_cc(bad[i], "public, max-age=60", false))
			fail_msg("status %d must not be storable", bad[i]);
	}
	assert_true(storable_cc(599, "max-age=60", false));
	assert_true(storable_cc(200, "max-age=60", false));
}

static void
rfc9111_3_206_and_304_not_stored(void **state)
{
	(void)state;
	assert_false(storable_cc(206, "public, max-age=60", false));
	assert_false(storable_cc(304, "public, max-age=60", false));
	assert_false(storable_cc(206, NULL, false));
}

static void
rfc9111_3_no_store_in_request_or_response(void **state)
{
	struct hdrs req, resp;

	(void)state;
	assert_false(storable_cc(200, "no-store, max-age=60", false));
	assert_false(storable_cc(200, "max-age=60, NO-STORE", false));
	mk(&req, "Cache-Control", "no-store", NULL);
	mk(&resp, "Cache-Control", "public, max-age=60", NULL);
	assert_false(fresh_storable("GET", 200, &req, &resp, NULL));
	hdrs_fini(&req);
	hdrs_fini(&resp);
}

static void
rfc9111_5_2_2_7_unqualified_private_not_stored(void **state)
{
	(void)state;
	assert_false(storable_cc(200, "private, max-age=60", false));
	assert_false(storable_cc(200, "public, private", false));
	/* the qualified form lets a shared cache store without those fields */
	assert_true(storable_cc(200, "private=\"Set-Cookie\", max-age=60", false));
}

static void
rfc9111_3_5_authorization_needs_explicit_permission(void **state)
{
	(void)state;
	assert_false(storable_cc(200, "max-age=60", true));
	assert_false(storable_cc(200, NULL, true));
	assert_false(storable_cc(200, "proxy-revalidate, max-age=60", true));
	assert_true(storable_cc(200, "public", true));
	assert_true(storable_cc(200, "s-maxage=60", true));
	assert_true(storable_cc(200, "must-revalidate, max-age=60", true));
	assert_true(storable_cc(200, "max-age=60", false));
}

static void
rfc9111_3_explicit_freshness_makes_other_statuses_storable(void **state)
{
	struct hdrs resp;

	(void)state;
	assert_false(storable_cc(302, NULL, false));
	assert_false(storable_cc(500, "must-revalidate", false));
	assert_true(storable_cc(302, "max-age=60", false));
	assert_true(storable_cc(302, "s-maxage=60", false));
	assert_true(storable_cc(302, "public", false));
	/* an invalid max-age still counts as present (it means stale) */
	assert_true(storable_cc(302, "max-age=soon", false));

	mk(&resp, "Expires", "Thu, 01 Jan 2099 00:00:00 GMT", NULL);
	assert_true(fresh_storable("GET", 302, NULL, &resp, NULL));
	hdrs_fini(&resp);
	/* even an invalid Expires counts as present */
	mk(&resp, "Expires", "0", NULL);
	assert_true(fresh_storable("GET", 307, NULL, &resp, NULL));
	hdrs_fini(&resp);
}

static void
rfc9111_3_heuristic_status_storable_without_freshness(void **state)
{
	static const int yes[] = { 200, 203, 204, 300, 301, 308, 404, 405, 410,
	    414, 501 };
	static const int no[] = { 201, 202, 302, 303, 307, 400, 403, 500, 502,
	    503 };

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!storable_cc(yes[i], NULL, false))
			fail_msg("status %d should be storable", yes[i]);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		if (storable_cc(no[i], NULL, false))
			fail_msg("status %d should not be storable", no[i]);
	}
}

static void
rfc9111_5_2_2_3_must_understand(void **state)
{
	(void)state;
	/* understood status: no-store is ignored */
	assert_true(storable_cc(200, "must-understand, no-store, max-age=60", false));
	assert_true(storable_cc(404, "must-understand, no-store", false));
	/* unknown status codes are never stored with must-understand */
	assert_false(storable_cc(299, "must-understand, no-store, max-age=60", false));
	assert_false(storable_cc(418, "must-understand, max-age=60", false));
	assert_false(storable_cc(200, "no-store, max-age=60", false));
	/* it does not override private */
	assert_false(storable_cc(200, "must-understand, private, max-age=60", false));
}

static void
rfc9111_3_request_may_be_absent(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	assert_true(fresh_storable("GET", 200, NULL, &resp, NULL));
	assert_false(fresh_storable("GET", 302, NULL, &resp, NULL));
	hdrs_fini(&resp);
}

/* ------------------------------------------------ lifetime (RFC 9111 4.2.1) */

static void
rfc9111_4_2_1_s_maxage_beats_max_age(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Cache-Control", "max-age=100, s-maxage=10", NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Expires", RT + 1000);
	assert_int_equal(lifetime_of(200, &resp), 10);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_1_max_age_beats_expires(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Cache-Control", "max-age=100", "Expires", "0", NULL);
	add_date(&resp, "Date", RT);
	assert_int_equal(lifetime_of(200, &resp), 100);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_1_expires_minus_date(void **state)
{
	struct hdrs resp;
	struct cc rcc;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT - 500);
	add_date(&resp, "Expires", RT + 3100);
	fresh_resp_cc(&rcc, &resp, NULL);
	/* measured from Date, not from response_time */
	assert_int_equal(fresh_lifetime(200, &resp, &rcc, RT, NULL), 3600);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_1_expires_without_valid_date_uses_response_time(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Expires", RT + 600);
	assert_int_equal(lifetime_of(200, &resp), 600);
	hdrs_add(&resp, "Date", "yesterday");
	assert_int_equal(lifetime_of(200, &resp), 600);
	hdrs_fini(&resp);
}

static void
rfc9111_5_3_invalid_expires_means_stale(void **state)
{
	static const char *const bad[] = { "0", "-1", "never", "",
	    "Sun, 06 Nov 2094 08:49:37 UTC" };

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct hdrs resp;
		int64_t lt;

		mk(&resp, "Expires", bad[i], NULL);
		add_date(&resp, "Date", RT);
		/* Last-Modified would allow a heuristic; Expires forbids it */
		add_date(&resp, "Last-Modified", RT - 1000000);
		lt = lifetime_of(200, &resp);
		if (lt != 0)
			fail_msg("Expires \"%s\": lifetime %lld, expected 0",
			    bad[i], (long long)lt);
		hdrs_fini(&resp);
	}
}

static void
rfc9111_5_3_repeated_expires_is_invalid(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Expires", RT + 600);
	add_date(&resp, "Expires", RT + 600);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_1_expires_in_past_never_negative(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Expires", RT - 3600);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_fini(&resp);
}

static void
rfc9111_1_2_2_lifetime_clamped(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Expires", "Fri, 31 Dec 9999 23:59:59 GMT", NULL);
	add_date(&resp, "Date", RT);
	assert_int_equal(lifetime_of(200, &resp), CC_DELTA_MAX);
	hdrs_fini(&resp);
	mk(&resp, "Cache-Control", "max-age=999999999999", NULL);
	assert_int_equal(lifetime_of(200, &resp), CC_DELTA_MAX);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_2_heuristic_from_last_modified(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Last-Modified", RT - 100000);
	assert_int_equal(lifetime_of(200, &resp), 10000);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_2_heuristic_capped(void **state)
{
	struct hdrs resp;
	struct fresh_cfg cfg;
	struct cc rcc;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Last-Modified", RT - 10000000);
	assert_int_equal(lifetime_of(200, &resp), 86400);
	fresh_cfg_default(&cfg);
	cfg.heuristic_fraction = 0.5;
	cfg.heuristic_max = 1000;
	fresh_resp_cc(&rcc, &resp, &cfg);
	assert_int_equal(fresh_lifetime(200, &resp, &rcc, RT, &cfg), 1000);
	cfg.heuristic_max = 10000000;
	assert_int_equal(fresh_lifetime(200, &resp, &rcc, RT, &cfg), 5000000);
	cfg.heuristic_fraction = 0.0;
	assert_int_equal(fresh_lifetime(200, &resp, &rcc, RT, &cfg), 0);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_2_heuristic_only_for_listed_statuses(void **state)
{
	static const int no[] = { 201, 302, 303, 307, 400, 403, 500, 503 };
	static const int yes[] = { 200, 203, 300, 301, 404, 410, 501 };

	(void)state;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		struct hdrs resp;

		mk(&resp, NULL);
		add_date(&resp, "Date", RT);
		add_date(&resp, "Last-Modified", RT - 100000);
		if (lifetime_of(no[i], &resp) != 0)
			fail_msg("status %d got a heuristic lifetime", no[i]);
		hdrs_fini(&resp);
	}
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		struct hdrs resp;

		mk(&resp, NULL);
		add_date(&resp, "Date", RT);
		add_date(&resp, "Last-Modified", RT - 100000);
		if (lifetime_of(yes[i], &resp) != 10000)
			fail_msg("status %d lacks the heuristic lifetime", yes[i]);
		hdrs_fini(&resp);
	}
}

static void
rfc9111_5_2_2_9_public_makes_any_status_heuristic(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Cache-Control", "public", NULL);
	add_date(&resp, "Date", RT);
	add_date(&resp, "Last-Modified", RT - 100000);
	assert_int_equal(lifetime_of(302, &resp), 10000);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_2_heuristic_needs_valid_earlier_last_modified(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_add(&resp, "Last-Modified", "last tuesday");
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_del(&resp, "Last-Modified");
	add_date(&resp, "Last-Modified", RT);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_del(&resp, "Last-Modified");
	add_date(&resp, "Last-Modified", RT + 5000);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_2_heuristic_without_date_uses_response_time(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Last-Modified", RT - 50000);
	assert_int_equal(lifetime_of(404, &resp), 5000);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_1_no_information_means_zero(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	assert_int_equal(lifetime_of(200, &resp), 0);
	hdrs_fini(&resp);
}

/* ------------------------------------------------ age (RFC 9111 4.2.3) */

static void
rfc9111_4_2_3_age_plus_response_delay(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Age", "100", NULL);
	add_date(&resp, "Date", RT);
	assert_int_equal(fresh_initial_age(&resp, RT - 2, RT), 102);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_3_apparent_age_from_date_when_larger(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Age", "10", NULL);
	add_date(&resp, "Date", RT - 50);
	assert_int_equal(fresh_initial_age(&resp, RT - 1, RT), 50);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_3_invalid_or_negative_age_is_zero(void **state)
{
	static const char *const bad[] = { "-5", "abc", "1.5", "5, 10", "",
	    "\"7\"", "0x10" };

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct hdrs resp;
		int64_t a;

		mk(&resp, "Age", bad[i], NULL);
		add_date(&resp, "Date", RT);
		a = fresh_initial_age(&resp, RT - 3, RT);
		if (a != 3)
			fail_msg("Age \"%s\": initial age %lld, expected 3",
			    bad[i], (long long)a);
		hdrs_fini(&resp);
	}
}

static void
rfc9111_1_2_2_huge_age_clamped(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Age", "99999999999999999999", NULL);
	assert_int_equal(fresh_initial_age(&resp, RT - 10, RT), CC_DELTA_MAX);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_3_date_in_future_gives_no_negative_age(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, NULL);
	add_date(&resp, "Date", RT + 100);
	assert_int_equal(fresh_initial_age(&resp, RT, RT), 0);
	/* a request_time after response_time (clock step) adds nothing */
	assert_int_equal(fresh_initial_age(&resp, RT + 30, RT), 0);
	hdrs_fini(&resp);
	/* ... and takes nothing away from Age either */
	mk(&resp, "Age", "10", NULL);
	add_date(&resp, "Date", RT);
	assert_int_equal(fresh_initial_age(&resp, RT + 30, RT), 10);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_3_missing_date_uses_response_time(void **state)
{
	struct hdrs resp;

	(void)state;
	mk(&resp, "Age", "7", NULL);
	assert_int_equal(fresh_initial_age(&resp, RT - 1, RT), 8);
	hdrs_add(&resp, "Date", "garbage");
	assert_int_equal(fresh_initial_age(&resp, RT - 1, RT), 8);
	hdrs_fini(&resp);
}

static void
rfc9111_4_2_3_current_age_adds_resident_time(void **state)
{
	(void)state;
	assert_int_equal(fresh_current_age(10, RT, RT + 5), 15);
	assert_int_equal(fresh_current_age(10, RT, RT), 10);
	assert_int_equal(fresh_current_age(10, RT, RT - 60), 10);
}

/* ------------------------------------------------ reuse (RFC 9111 4.2, 5.2) */

static void
rfc9111_4_2_fresh_until_age_reaches_lifetime(void **state)
{
	struct cc res = ccof("max-age=60");

	(void)state;
	assert_int_equal(fresh_check(NULL, false, &res, 60, 0), FRESH_HIT);
	assert_int_equal(fresh_check(NULL, false, &res, 60, 59), FRESH_HIT);
	assert_int_equal(fresh_check(NULL, false, &res, 60, 60), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(NULL, false, &res, 0, 0), FRESH_REVALIDATE);
}

static void
rfc9111_5_2_2_4_response_no_cache_revalidates_when_fresh(void **state)
{
	struct cc res = ccof("no-cache, max-age=600");
	struct cc req = ccof("max-stale");

	(void)state;
	assert_int_equal(fresh_check(NULL, false, &res, 600, 1), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req, false, &res, 600, 1), FRESH_REVALIDATE);
}

static void
rfc9111_5_2_2_4_qualified_no_cache_does_not_force_revalidation(void **state)
{
	struct cc res = ccof("no-cache=\"Set-Cookie\", max-age=600");

	(void)state;
	assert_int_equal(fresh_check(NULL, false, &res, 600, 1), FRESH_HIT);
}

static void
rfc9111_5_2_1_4_request_no_cache_revalidates(void **state)
{
	struct cc res = ccof("max-age=600");
	struct cc req = ccof("no-cache");

	(void)state;
	assert_int_equal(fresh_check(&req, false, &res, 600, 1), FRESH_REVALIDATE);
}

static void
rfc9111_5_4_pragma_no_cache_only_without_request_cache_control(void **state)
{
	struct cc res = ccof("max-age=600");
	struct cc empty = ccof("");
	struct cc unknown = ccof("foo=bar");
	struct cc understood = ccof("max-age=600");

	(void)state;
	assert_int_equal(fresh_check(NULL, true, &res, 600, 1), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&empty, true, &res, 600, 1), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&unknown, true, &res, 600, 1),
	    FRESH_REVALIDATE);
	/* Cache-Control present and understood: Pragma is ignored */
	assert_int_equal(fresh_check(&understood, true, &res, 600, 1), FRESH_HIT);
	assert_int_equal(fresh_check(NULL, false, &res, 600, 1), FRESH_HIT);
}

static void
rfc9111_5_2_1_1_request_max_age_exceeded_revalidates(void **state)
{
	struct cc res = ccof("max-age=600");
	struct cc req10 = ccof("max-age=10");
	struct cc req0 = ccof("max-age=0");

	(void)state;
	assert_int_equal(fresh_check(&req10, false, &res, 600, 10), FRESH_HIT);
	assert_int_equal(fresh_check(&req10, false, &res, 600, 11),
	    FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req0, false, &res, 600, 0), FRESH_HIT);
	assert_int_equal(fresh_check(&req0, false, &res, 600, 1), FRESH_REVALIDATE);
}

static void
rfc9111_5_2_1_3_min_fresh_not_satisfied_revalidates(void **state)
{
	struct cc res = ccof("max-age=100");
	struct cc req60 = ccof("min-fresh=60");
	struct cc req50 = ccof("min-fresh=50");
	struct cc stale = ccof("min-fresh=1, max-stale");

	(void)state;
	assert_int_equal(fresh_check(&req60, false, &res, 100, 50),
	    FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req50, false, &res, 100, 50), FRESH_HIT);
	/* min-fresh also refuses stale responses, max-stale or not */
	assert_int_equal(fresh_check(&stale, false, &res, 100, 150),
	    FRESH_REVALIDATE);
}

static void
rfc9111_5_2_2_2_stale_must_revalidate_refuses_max_stale(void **state)
{
	struct cc req = ccof("max-stale");
	struct cc mr = ccof("max-age=60, must-revalidate");
	struct cc pr = ccof("max-age=60, proxy-revalidate");

	(void)state;
	assert_int_equal(fresh_check(&req, false, &mr, 60, 61), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req, false, &pr, 60, 61), FRESH_REVALIDATE);
	/* while fresh they do not matter */
	assert_int_equal(fresh_check(&req, false, &mr, 60, 59), FRESH_HIT);
}

static void
rfc9111_5_2_2_10_stale_s_maxage_refuses_max_stale(void **state)
{
	struct cc req = ccof("max-stale=1000");
	struct cc res = ccof("s-maxage=60");

	(void)state;
	assert_int_equal(fresh_check(&req, false, &res, 60, 61), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req, false, &res, 60, 1), FRESH_HIT);
}

static void
rfc9111_5_2_1_2_stale_within_max_stale_served(void **state)
{
	struct cc res = ccof("max-age=60");
	struct cc req30 = ccof("max-stale=30");
	struct cc any = ccof("max-stale");

	(void)state;
	assert_int_equal(fresh_check(&req30, false, &res, 60, 90), FRESH_STALE_OK);
	assert_int_equal(fresh_check(&req30, false, &res, 60, 91),
	    FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&any, false, &res, 60, 1000000),
	    FRESH_STALE_OK);
}

static void
rfc9111_4_2_4_stale_without_permission_revalidates(void **state)
{
	struct cc res = ccof("max-age=60");
	struct cc req = ccof("max-age=600");

	(void)state;
	assert_int_equal(fresh_check(NULL, false, &res, 60, 61), FRESH_REVALIDATE);
	assert_int_equal(fresh_check(&req, false, &res, 60, 61), FRESH_REVALIDATE);
}

/* ------------------------------------------------ RFC 5861 */

static void
rfc5861_3_swr_serves_stale_within_window(void **state)
{
	struct cc res = ccof("max-age=60, stale-while-revalidate=30");

	(void)state;
	assert_false(fresh_can_swr(&res, 60, 59));	/* fresh: plain hit */
	assert_true(fresh_can_swr(&res, 60, 60));
	assert_true(fresh_can_swr(&res, 60, 90));
	assert_false(fresh_can_swr(&res, 60, 91));
}

static void
rfc5861_3_swr_refused_by_revalidation_directives(void **state)
{
	struct cc mr = ccof("max-age=60, must-revalidate, stale-while-revalidate=30");
	struct cc pr = ccof("max-age=60, proxy-revalidate, stale-while-revalidate=30");
	struct cc nc = ccof("no-cache, stale-while-revalidate=30");
	struct cc sm = ccof("s-maxage=60, stale-while-revalidate=30");
	struct cc none = ccof("max-age=60");

	(void)state;
	assert_false(fresh_can_swr(&mr, 60, 70));
	assert_false(fresh_can_swr(&pr, 60, 70));
	assert_false(fresh_can_swr(&nc, 60, 70));
	assert_false(fresh_can_swr(&none, 60, 70));
	/* the usual CDN recipe: s-maxage does not block the extension */
	assert_true(fresh_can_swr(&sm, 60, 70));
}

static void
rfc5861_4_sie_from_response(void **state)
{
	struct cc res = ccof("max-age=60, stale-if-error=100");

	(void)state;
	assert_true(fresh_can_sie(NULL, &res, 60, 160));
	assert_false(fresh_can_sie(NULL, &res, 60, 161));
	/* still fresh (revalidation was forced): staleness 0 */
	assert_true(fresh_can_sie(NULL, &res, 60, 10));
}

static void
rfc5861_4_sie_from_request(void **state)
{
	struct cc res = ccof("max-age=60");
	struct cc req = ccof("stale-if-error=50");
	struct cc res_small = ccof("max-age=60, stale-if-error=5");

	(void)state;
	assert_false(fresh_can_sie(NULL, &res, 60, 61));
	assert_true(fresh_can_sie(&req, &res, 60, 110));
	assert_false(fresh_can_sie(&req, &res, 60, 111));
	/* either side's window is enough */
	assert_true(fresh_can_sie(&req, &res_small, 60, 100));
}

static void
rfc5861_4_sie_refused_by_revalidation_directives(void **state)
{
	struct cc req = ccof("stale-if-error=1000");
	struct cc mr = ccof("max-age=60, must-revalidate, stale-if-error=100");
	struct cc pr = ccof("max-age=60, proxy-revalidate");
	struct cc nc = ccof("no-cache, stale-if-error=100");
	struct cc sm = ccof("s-maxage=60, stale-if-error=100");

	(void)state;
	assert_false(fresh_can_sie(&req, &mr, 60, 70));
	assert_false(fresh_can_sie(&req, &pr, 60, 70));
	assert_false(fresh_can_sie(&req, &nc, 60, 70));
	assert_true(fresh_can_sie(NULL, &sm, 60, 70));
}

static void
rfc9111_4_end_to_end_edge_flow(void **state)
{
	struct hdrs req, resp;
	struct cc rq, rs;
	int64_t lt, ia;

	(void)state;
	/* an origin answer received 2 s after the request, 30 s old upstream */
	mk(&req, "Cache-Control", "max-stale=20", NULL);
	mk(&resp, "Cache-Control", "public, max-age=120, stale-while-revalidate=60",
	    "Age", "30", NULL);
	add_date(&resp, "Date", RT - 30);
	assert_true(fresh_storable("GET", 200, &req, &resp, NULL));
	fresh_resp_cc(&rs, &resp, NULL);
	cc_parse_hdrs(&rq, &req, "Cache-Control");
	lt = fresh_lifetime(200, &resp, &rs, RT, NULL);
	ia = fresh_initial_age(&resp, RT - 2, RT);
	assert_int_equal(lt, 120);
	assert_int_equal(ia, 32);
	assert_int_equal(fresh_check(&rq, false, &rs, lt,
	    fresh_current_age(ia, RT, RT + 87)), FRESH_HIT);
	assert_int_equal(fresh_check(&rq, false, &rs, lt,
	    fresh_current_age(ia, RT, RT + 88)), FRESH_STALE_OK);
	assert_int_equal(fresh_check(&rq, false, &rs, lt,
	    fresh_current_age(ia, RT, RT + 109)), FRESH_REVALIDATE);
	assert_true(fresh_can_swr(&rs, lt, fresh_current_age(ia, RT, RT + 148)));
	assert_false(fresh_can_swr(&rs, lt, fresh_current_age(ia, RT, RT + 149)));
	hdrs_fini(&req);
	hdrs_fini(&resp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_cfg_default_values),
		cmocka_unit_test(rfc9110_15_1_heuristic_status_list),
		cmocka_unit_test(rfc9213_2_2_targeted_field_replaces_cache_control),
		cmocka_unit_test(rfc9213_2_2_invalid_or_empty_targeted_field_ignored),
		cmocka_unit_test(rfc9213_2_2_targeted_field_follows_configuration),
		cmocka_unit_test(rfc9213_2_2_targeted_field_ignores_expires),
		cmocka_unit_test(rfc9111_3_only_get_and_head_stored),
		cmocka_unit_test(rfc9111_3_only_final_status_in_range),
		cmocka_unit_test(rfc9111_3_206_and_304_not_stored),
		cmocka_unit_test(rfc9111_3_no_store_in_request_or_response),
		cmocka_unit_test(rfc9111_5_2_2_7_unqualified_private_not_stored),
		cmocka_unit_test(rfc9111_3_5_authorization_needs_explicit_permission),
		cmocka_unit_test(rfc9111_3_explicit_freshness_makes_other_statuses_storable),
		cmocka_unit_test(rfc9111_3_heuristic_status_storable_without_freshness),
		cmocka_unit_test(rfc9111_5_2_2_3_must_understand),
		cmocka_unit_test(rfc9111_3_request_may_be_absent),
		cmocka_unit_test(rfc9111_4_2_1_s_maxage_beats_max_age),
		cmocka_unit_test(rfc9111_4_2_1_max_age_beats_expires),
		cmocka_unit_test(rfc9111_4_2_1_expires_minus_date),
		cmocka_unit_test(rfc9111_4_2_1_expires_without_valid_date_uses_response_time),
		cmocka_unit_test(rfc9111_5_3_invalid_expires_means_stale),
		cmocka_unit_test(rfc9111_5_3_repeated_expires_is_invalid),
		cmocka_unit_test(rfc9111_4_2_1_expires_in_past_never_negative),
		cmocka_unit_test(rfc9111_1_2_2_lifetime_clamped),
		cmocka_unit_test(rfc9111_4_2_2_heuristic_from_last_modified),
		cmocka_unit_test(rfc9111_4_2_2_heuristic_capped),
		cmocka_unit_test(rfc9111_4_2_2_heuristic_only_for_listed_statuses),
		cmocka_unit_test(rfc9111_5_2_2_9_public_makes_any_status_heuristic),
		cmocka_unit_test(rfc9111_4_2_2_heuristic_needs_valid_earlier_last_modified),
		cmocka_unit_test(rfc9111_4_2_2_heuristic_without_date_uses_response_time),
		cmocka_unit_test(rfc9111_4_2_1_no_information_means_zero),
		cmocka_unit_test(rfc9111_4_2_3_age_plus_response_delay),
		cmocka_unit_test(rfc9111_4_2_3_apparent_age_from_date_when_larger),
		cmocka_unit_test(rfc9111_4_2_3_invalid_or_negative_age_is_zero),
		cmocka_unit_test(rfc9111_1_2_2_huge_age_clamped),
		cmocka_unit_test(rfc9111_4_2_3_date_in_future_gives_no_negative_age),
		cmocka_unit_test(rfc9111_4_2_3_missing_date_uses_response_time),
		cmocka_unit_test(rfc9111_4_2_3_current_age_adds_resident_time),
		cmocka_unit_test(rfc9111_4_2_fresh_until_age_reaches_lifetime),
		cmocka_unit_test(rfc9111_5_2_2_4_response_no_cache_revalidates_when_fresh),
		cmocka_unit_test(rfc9111_5_2_2_4_qualified_no_cache_does_not_force_revalidation),
		cmocka_unit_test(rfc9111_5_2_1_4_request_no_cache_revalidates),
		cmocka_unit_test(rfc9111_5_4_pragma_no_cache_only_without_request_cache_control),
		cmocka_unit_test(rfc9111_5_2_1_1_request_max_age_exceeded_revalidates),
		cmocka_unit_test(rfc9111_5_2_1_3_min_fresh_not_satisfied_revalidates),
		cmocka_unit_test(rfc9111_5_2_2_2_stale_must_revalidate_refuses_max_stale),
		cmocka_unit_test(rfc9111_5_2_2_10_stale_s_maxage_refuses_max_stale),
		cmocka_unit_test(rfc9111_5_2_1_2_stale_within_max_stale_served),
		cmocka_unit_test(rfc9111_4_2_4_stale_without_permission_revalidates),
		cmocka_unit_test(rfc5861_3_swr_serves_stale_within_window),
		cmocka_unit_test(rfc5861_3_swr_refused_by_revalidation_directives),
		cmocka_unit_test(rfc5861_4_sie_from_response),
		cmocka_unit_test(rfc5861_4_sie_from_request),
		cmocka_unit_test(rfc5861_4_sie_refused_by_revalidation_directives),
		cmocka_unit_test(rfc9111_4_end_to_end_edge_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
