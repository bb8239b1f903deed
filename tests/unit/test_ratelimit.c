/*
 * test_ratelimit.c: token buckets (ctl/ratelimit): bursts, refill at the
 * rate, Retry-After, independent keys, a full table, and "off".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ratelimit.h"

static void
a_burst_passes_then_the_next_is_refused(void **state)
{
	struct rl *rl = rl_new(2, 5, 64);
	uint64_t retry = 0;

	for (int i = 0; i < 5; i++)
		assert_true(rl_take(rl, "a:127.0.0.1", 1000, NULL));
	assert_false(rl_take(rl, "a:127.0.0.1", 1000, &retry));
	/* One token comes back in 1/rate s. */
	assert_int_equal(retry, 500);
	rl_free(&rl);
	assert_null(rl);
}

static void
tokens_come_back_at_the_rate(void **state)
{
	struct rl *rl = rl_new(10, 1, 64);
	uint64_t retry = 0;

	assert_true(rl_take(rl, "k", 0, NULL));
	assert_false(rl_take(rl, "k", 50, &retry));
	assert_int_equal(retry, 50);
	assert_false(rl_take(rl, "k", 99, &retry));
	assert_int_equal(retry, 1);
	assert_true(rl_take(rl, "k", 100, NULL));
	assert_false(rl_take(rl, "k", 100, NULL));
	/* Idle for a long time: the bucket is full again, not over-full. */
	assert_true(rl_take(rl, "k", 100000, NULL));
	assert_false(rl_take(rl, "k", 100000, NULL));
	rl_free(&rl);
}

static void
keys_have_their_own_buckets(void **state)
{
	struct rl *rl = rl_new(1, 2, 64);

	assert_true(rl_take(rl, "t:aaaa", 0, NULL));
	assert_true(rl_take(rl, "t:aaaa", 0, NULL));
	assert_false(rl_take(rl, "t:aaaa", 0, NULL));
	assert_true(rl_take(rl, "t:bbbb", 0, NULL));
	assert_true(rl_take(rl, "a:10.0.0.1", 0, NULL));
	rl_free(&rl);
}

static void
a_full_table_forgets_the_stalest_bucket(void **state)
{
	struct rl *rl = rl_new(1, 1, 8);
	char key[32];

	/* Exhaust many more keys than slots: every new key still gets a
	 * (full) bucket, and an exhausted key stays refused while recent. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_true(rl_take(rl, key, (uint64_t)i, NULL));
	}
	assert_false(rl_take(rl, "k99", 99, NULL));
	rl_free(&rl);
}

static void
rate_zero_allows_everything(void **state)
{
	struct rl *rl = rl_new(0, 0, 8);

	for (int i = 0; i < 1000; i++)
		assert_true(rl_take(rl, "x", 0, NULL));
	rl_free(&rl);
}

static void
a_fractional_rate_gives_whole_seconds(void **state)
{
	struct rl *rl = rl_new(0.5, 1, 8);
	uint64_t retry = 0;

	assert_true(rl_take(rl, "x", 0, NULL));
	assert_false(rl_take(rl, "x", 0, &retry));
	assert_int_equal(retry, 2000);
	assert_true(rl_take(rl, "x", 2000, NULL));
	rl_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_burst_passes_then_the_next_is_refused),
		cmocka_unit_test(tokens_come_back_at_the_rate),
		cmocka_unit_test(keys_have_their_own_buckets),
		cmocka_unit_test(a_full_table_forgets_the_stalest_bucket),
		cmocka_unit_test(rate_zero_allows_everything),
		cmocka_unit_test(a_fractional_rate_gives_whole_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
