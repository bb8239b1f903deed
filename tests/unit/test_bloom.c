/*
 * test_bloom.c: the Bloom filter: sizing, no false negatives, a measured
 * false-positive rate close to the one it was sized for, and adds and
 * queries racing from several threads.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/bloom.h"

static size_t
mkkey(char *buf, size_t cap, const char *prefix, uint64_t i)
{
	return (size_t)snprintf(buf, cap, "/%s/object-%llu.jpg?v=3", prefix, (unsigned long long)i);
}

/* Fraction of `probes` keys never added that the filter says "maybe" to. */
static double
measure_fp(const struct bloom *b, uint64_t probes)
{
	uint64_t fp = 0;
	char k[96];

	for (uint64_t i = 0; i < probes; i++) {
		size_t n = mkkey(k, sizeof k, "absent", i);

		if (bloom_maybe(b, k, n))
			fp++;
	}
	return (double)fp / (double)probes;
}

static void
sized_from_capacity_and_rate(void **state)
{
	struct bloom *b = bloom_new(1000, 0.01);

	/* m = -n ln p / ln^2 2 = 9585.1 -> 9600 bits (150 words), k = 7 */
	assert_int_equal(bloom_bits(b), 9600);
	assert_int_equal(bloom_hashes(b), 7);
	assert_int_equal(bloom_capacity(b), 1000);
	assert_int_equal(bloom_count(b), 0);
	assert_true(bloom_mem(b) >= 1200);
	bloom_free(&b);
	assert_null(b);
	bloom_free(&b); /* NULL is fine */

	b = bloom_new(0, 0.5); /* degenerate sizes still give a usable filter */
	assert_true(bloom_bits(b) >= 64);
	assert_true(bloom_hashes(b) >= 1);
	bloom_free(&b);
}

static void
empty_filter_says_absent(void **state)
{
	struct bloom *b = bloom_new(100, 0.01);

	assert_false(bloom_maybe(b, "/x", 2));
	assert_false(bloom_maybe(b, "", 0));
	assert_true(bloom_fp_expected(b) == 0.0);
	bloom_free(&b);
}

static void
every_added_key_is_found(void **state)
{
	struct bloom *b = bloom_new(100000, 0.01);
	char k[96];

	for (uint64_t i = 0; i < 100000; i++) {
		size_t n = mkkey(k, sizeof k, "present", i);

		bloom_add(b, k, n);
	}
	assert_int_equal(bloom_count(b), 100000);
	for (uint64_t i = 0; i < 100000; i++) {
		size_t n = mkkey(k, sizeof k, "present", i);

		assert_true(bloom_maybe(b, k, n));
	}
	bloom_add(b, "", 0);
	assert_true(bloom_maybe(b, "", 0));
	bloom_free(&b);
}

/* Fill to capacity, then probe 200,000 keys never added. */
static void
false_positive_rate_is_close_to_the_target(void **state)
{
	static const double rates[] = { 0.01, 0.001 };

	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
		struct bloom *b = bloom_new(50000, rates[r]);
		char k[96];
		double fp, expected;

		for (uint64_t i = 0; i < 50000; i++) {
			size_t n = mkkey(k, sizeof k, "present", i);

			bloom_add(b, k, n);
		}
		fp = measure_fp(b, 200000);
		expected = bloom_fp_expected(b);
		print_message("bloom: target %.4f%%, expected %.4f%%, measured %.4f%% "
		    "(%llu bits, %u hashes, %.2f bits/key)\n", rates[r] * 100, expected * 100,
		    fp * 100, (unsigned long long)bloom_bits(b), bloom_hashes(b),
		    (double)bloom_bits(b) / 50000.0);
		assert_true(expected <= rates[r] * 1.1);
		assert_true(fp <= rates[r] * 1.3);
		assert_true(fp >= rates[r] * 0.5);  /* the hash is not cheating either */
		bloom_free(&b);
	}
}

/* Half full (what the disk tier keeps after a rebuild): much better. */
static void
half_full_filter_is_far_below_the_target(void **state)
{
	struct bloom *b = bloom_new(20000, 0.01);
	char k[96];
	double fp;

	for (uint64_t i = 0; i < 10000; i++) {
		size_t n = mkkey(k, sizeof k, "present", i);

		bloom_add(b, k, n);
	}
	fp = measure_fp(b, 200000);
	print_message("bloom: half full: expected %.4f%%, measured %.4f%%\n",
	    bloom_fp_expected(b) * 100, fp * 100);
	assert_true(fp < 0.002);
	bloom_free(&b);
}

static void
hash_depends_on_seed_and_every_byte(void **state)
{
	char a[64], b2[64];

	memset(a, 'x', sizeof a);
	memcpy(b2, a, sizeof a);
	assert_true(bloom_hash64(a, sizeof a, 1) != bloom_hash64(a, sizeof a, 2));
	for (size_t i = 0; i < sizeof a; i++) {
		b2[i] ^= 1;
		assert_true(bloom_hash64(a, sizeof a, 1) != bloom_hash64(b2, sizeof b2, 1));
		b2[i] ^= 1;
	}
	/* Length matters even when the tail bytes are zero. */
	memset(a, 0, sizeof a);
	assert_true(bloom_hash64(a, 3, 1) != bloom_hash64(a, 4, 1));
}

struct adder {
	struct bloom *b;
	unsigned id;
};

static void *
add_and_query(void *arg)
{
	struct adder *ad = arg;
	char k[96], prefix[16];

	snprintf(prefix, sizeof prefix, "t%u", ad->id);
	for (uint64_t i = 0; i < 20000; i++) {
		size_t n = mkkey(k, sizeof k, prefix, i);

		bloom_add(ad->b, k, n);
		/* A key this thread added is visible to it at once. */
		if (!bloom_maybe(ad->b, k, n))
			return (void *)1;
	}
	return NULL;
}

static void
concurrent_adds_and_queries_lose_nothing(void **state)
{
	struct bloom *b = bloom_new(80000, 0.01);
	struct adder ad[4];
	pthread_t th[4];
	char k[96], prefix[16];

	for (unsigned t = 0; t < 4; t++) {
		ad[t] = (struct adder){ b, t };
		assert_int_equal(pthread_create(&th[t], NULL, add_and_query, &ad[t]), 0);
	}
	for (unsigned t = 0; t < 4; t++) {
		void *ret;

		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(bloom_count(b), 80000);
	for (unsigned t = 0; t < 4; t++) {
		snprintf(prefix, sizeof prefix, "t%u", t);
		for (uint64_t i = 0; i < 20000; i++) {
			size_t n = mkkey(k, sizeof k, prefix, i);

			assert_true(bloom_maybe(b, k, n));
		}
	}
	bloom_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sized_from_capacity_and_rate),
		cmocka_unit_test(empty_filter_says_absent),
		cmocka_unit_test(every_added_key_is_found),
		cmocka_unit_test(false_positive_rate_is_close_to_the_target),
		cmocka_unit_test(half_full_filter_is_far_below_the_target),
		cmocka_unit_test(hash_depends_on_seed_and_every_byte),
		cmocka_unit_test(concurrent_adds_and_queries_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
