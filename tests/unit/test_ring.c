/*
 * test_ring.c: the consistent-hash ring, measured over 1,000,000 keys.
 *
 * Keys are "/obj/0" ... "/obj/999999" hashed by key_hash, as the request path
 * hashes them: similar keys, so the tests also show that ring_key_pos spreads
 * them. Shares, movements and balance figures are printed so the test log
 * records them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/key.h"
#include "net/ring.h"
#include "util/err.h"

#define NKEYS 1000000u

static uint64_t *keys;   /* NKEYS key hashes */

static int
setup_keys(void **state)
{
	char buf[32];

	keys = calloc(NKEYS, sizeof *keys);
	if (keys == NULL)
		return -1;
	for (unsigned i = 0; i < NKEYS; i++) {
		int len = snprintf(buf, sizeof buf, "/obj/%u", i);

		keys[i] = key_hash(buf, (size_t)len);
	}
	return 0;
}

static int
teardown_keys(void **state)
{
	free(keys);
	keys = NULL;
	return 0;
}

/* Build a ring of n nodes named by fmt (one %u, from first), weight 1. */
static struct ring *
mkring(const char *fmt, unsigned first, unsigned n, char ids[][RING_ID_MAX])
{
	struct ring_node nodes[64];
	struct ring *r;
	const char *why = NULL;

	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++) {
		snprintf(ids[i], RING_ID_MAX, fmt, first + i);
		nodes[i].id = ids[i];
		nodes[i].weight = 1;
	}
	r = ring_new(nodes, n, 0, &why);
	if (r == NULL)
		fail_msg("ring_new refused %u nodes: %s", n, why);
	return r;
}

/* Keys per node over all NKEYS keys. */
static void
count_owners(const struct ring *r, unsigned *cnt)
{
	memset(cnt, 0, ring_count(r) * sizeof *cnt);
	for (unsigned i = 0; i < NKEYS; i++) {
		unsigned o = ring_owner(r, keys[i]);

		assert_true(o < ring_count(r));
		cnt[o]++;
	}
}

static bool
up_except(void *arg, unsigned idx)
{
	const bool *down = arg;

	return !down[idx];
}

/* ---------------------------------------------------------------- the hash */

static void
points_are_the_documented_sha256_words(void **state)
{
	/* Values from an independent implementation (Python hashlib):
	 * SHA-256("127.0.0.1:8080#0") words 0 and 3, "#1" word 0, and so on. */
	assert_true(ring_point("127.0.0.1:8080", 0) == 0x9e4052e3527c11d8ULL);
	assert_true(ring_point("127.0.0.1:8080", 3) == 0x891b418078060216ULL);
	assert_true(ring_point("127.0.0.1:8080", 4) == 0x49a986aa849f44c9ULL);
	assert_true(ring_point("shield-1.example:443", 999) == 0x937b63bd0314d634ULL);
}

static void
key_position_is_murmur3_fmix64(void **state)
{
	assert_true(ring_key_pos(0) == 0);
	assert_true(ring_key_pos(1) == 0xb456bcfc34c2cb2cULL);
	assert_true(ring_key_pos(0xcbf29ce484222325ULL) == 0xefd01f60ba992926ULL);
}

static void
owners_agree_with_an_independent_implementation(void **state)
{
	/* Owners computed in Python from the documented hash, 1000 points each. */
	static const struct { const char *key; const char *owner; } want[] = {
		{ "/", "10.0.0.2:8080" },
		{ "/index.html", "10.0.0.1:8080" },
		{ "/a/b?x=1", "10.0.0.3:8080" },
		{ "/img/logo.png", "10.0.0.1:8080" },
	};
	char ids[3][RING_ID_MAX];
	struct ring *r = mkring("10.0.0.%u:8080", 1, 3, ids);

	assert_int_equal(ring_points(r), 3000);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		unsigned o = ring_owner(r, key_hash(want[i].key, strlen(want[i].key)));

		assert_string_equal(ring_node_id(r, o), want[i].owner);
	}
	ring_free(&r);
	assert_null(r);
}

/* ---------------------------------------------------------------- balance */

static void
ten_equal_nodes_busiest_holds_at_most_1_10_of_the_mean(void **state)
{
	/* Three naming schemes, so the bound is not a property of one lucky set. */
	static const char *const schemes[] = {
		"10.0.0.%u:8080", "shield-%u.cdn.example:8443", "127.0.0.1:%u",
	};
	static const unsigned first[] = { 1, 1, 9001 };
	char ids[10][RING_ID_MAX];
	unsigned cnt[10];

	for (size_t s = 0; s < 3; s++) {
		struct ring *r = mkring(schemes[s], first[s], 10, ids);
		unsigned max = 0, min = NKEYS;
		double mean = NKEYS / 10.0;

		count_owners(r, cnt);
		for (unsigned i = 0; i < 10; i++) {
			max = cnt[i] > max ? cnt[i] : max;
			min = cnt[i] < min ? cnt[i] : min;
		}
		print_message("%-28s busiest %.4f x mean, idlest %.4f x mean\n", schemes[s],
		    max / mean, min / mean);
		if (max > 1.10 * mean)
			fail_msg("%s: busiest node holds %u keys = %.4f x mean, expected <= 1.10",
			    schemes[s], max, max / mean);
		ring_free(&r);
	}
}

static void
share_matches_the_keys_each_node_gets(void **state)
{
	char ids[10][RING_ID_MAX];
	struct ring *r = mkring("10.0.0.%u:8080", 1, 10, ids);
	unsigned cnt[10];
	double sum = 0;

	count_owners(r, cnt);
	for (unsigned i = 0; i < 10; i++) {
		double share = ring_share(r, i), seen = (double)cnt[i] / NKEYS;

		sum += share;
		/* 100,000 keys per node: sampling noise is about 0.3 % of a share. */
		if (seen < share * 0.98 || seen > share * 1.02)
			fail_msg("node %u: share %.5f, keys seen %.5f", i, share, seen);
	}
	if (sum < 0.999999 || sum > 1.000001)
		fail_msg("shares sum to %.8f, expected 1", sum);
	ring_free(&r);
}

/* ---------------------------------------------------------------- movement */

static void
removing_one_of_n_moves_only_that_nodes_keys(void **state)
{
	static const unsigned sizes[] = { 3, 10, 20 };
	char ids[20][RING_ID_MAX];

	for (size_t s = 0; s < 3; s++) {
		unsigned n = sizes[s];
		struct ring *full = mkring("10.1.0.%u:8080", 1, n, ids);
		unsigned *owner = calloc(NKEYS, sizeof *owner);
		double worst = 0;

		assert_non_null(owner);
		for (unsigned i = 0; i < NKEYS; i++)
			owner[i] = ring_owner(full, keys[i]);
		for (unsigned gone = 0; gone < n; gone++) {
			struct ring_node nodes[20];
			unsigned m = 0, moved = 0;
			struct ring *less;

			for (unsigned i = 0; i < n; i++)
				if (i != gone)
					nodes[m++] = (struct ring_node){ ids[i], 1 };
			less = ring_new(nodes, m, 0, NULL);
			assert_non_null(less);
			for (unsigned i = 0; i < NKEYS; i++) {
				const char *now = ring_node_id(less, ring_owner(less, keys[i]));

				if (strcmp(now, ids[owner[i]]) == 0)
					continue;
				if (owner[i] != gone)
					fail_msg("key %u moved from %s to %s, but %s was removed", i,
					    ids[owner[i]], now, ids[gone]);
				moved++;
			}
			if ((double)moved / NKEYS > worst)
				worst = (double)moved / NKEYS;
			if ((double)moved / NKEYS > 1.0 / n + 0.02)
				fail_msg("removing %s of %u moved %.4f of keys, expected <= %.4f",
				    ids[gone], n, (double)moved / NKEYS, 1.0 / n + 0.02);
			ring_free(&less);
		}
		print_message("remove 1 of %2u: at most %.4f of keys moved (1/N = %.4f)\n", n,
		    worst, 1.0 / n);
		free(owner);
		ring_free(&full);
	}
}

static void
adding_a_node_moves_keys_only_onto_it(void **state)
{
	char ids[11][RING_ID_MAX];
	struct ring *ten = mkring("10.2.0.%u:8080", 1, 10, ids);
	struct ring *eleven = mkring("10.2.0.%u:8080", 1, 11, ids);
	unsigned moved = 0;

	for (unsigned i = 0; i < NKEYS; i++) {
		const char *before = ring_node_id(ten, ring_owner(ten, keys[i]));
		const char *after = ring_node_id(eleven, ring_owner(eleven, keys[i]));

		if (strcmp(before, after) == 0)
			continue;
		if (strcmp(after, ids[10]) != 0)
			fail_msg("key %u moved from %s to %s, not to the new node %s", i, before,
			    after, ids[10]);
		moved++;
	}
	print_message("add 1 to 10: %.4f of keys moved (1/11 = %.4f)\n", (double)moved / NKEYS,
	    1.0 / 11);
	if ((double)moved / NKEYS > 1.0 / 11 + 0.02)
		fail_msg("adding a node moved %.4f of keys, expected <= %.4f",
		    (double)moved / NKEYS, 1.0 / 11 + 0.02);
	ring_free(&ten);
	ring_free(&eleven);
}

/* ---------------------------------------------------------------- weights */

static void
weights_scale_shares_proportionally(void **state)
{
	static const unsigned weight[] = { 1, 2, 3, 4 };
	struct ring_node nodes[4] = {
		{ "w1.example:80", 1 }, { "w2.example:80", 2 },
		{ "w3.example:80", 3 }, { "w4.example:80", 4 },
	};
	struct ring *r = ring_new(nodes, 4, 0, NULL);
	unsigned cnt[4];

	assert_non_null(r);
	assert_int_equal(ring_points(r), 10 * RING_VNODES_DEFAULT);
	count_owners(r, cnt);
	for (unsigned i = 0; i < 4; i++) {
		double want = weight[i] / 10.0, seen = (double)cnt[i] / NKEYS;

		print_message("weight %u: share %.4f (expected %.4f)\n", weight[i], seen, want);
		if (seen < want * 0.92 || seen > want * 1.08)
			fail_msg("weight %u: share %.4f, expected %.4f +- 8 %%", weight[i], seen, want);
	}
	ring_free(&r);
}

static void
raising_a_weight_moves_keys_only_onto_that_node(void **state)
{
	struct ring_node nodes[3] = { { "a:1", 1 }, { "b:1", 1 }, { "c:1", 1 } };
	struct ring *before = ring_new(nodes, 3, 0, NULL), *after;

	nodes[1].weight = 2;
	after = ring_new(nodes, 3, 0, NULL);
	assert_non_null(before);
	assert_non_null(after);
	for (unsigned i = 0; i < NKEYS; i++) {
		unsigned b = ring_owner(before, keys[i]), a = ring_owner(after, keys[i]);

		if (a != b && a != 1)
			fail_msg("key %u moved from %s to %s; only b:1 gained points", i,
			    nodes[b].id, nodes[a].id);
	}
	ring_free(&before);
	ring_free(&after);
}

/* ---------------------------------------------------------------- failover */

static void
lookup_skips_down_nodes_as_a_ring_without_them_would(void **state)
{
	char ids[10][RING_ID_MAX];
	struct ring *r = mkring("10.3.0.%u:8080", 1, 10, ids);
	bool down[10] = { false };
	struct ring_node live[10];
	struct ring *without;
	unsigned m = 0, out[3];

	down[2] = down[5] = down[7] = true;
	for (unsigned i = 0; i < 10; i++)
		if (!down[i])
			live[m++] = (struct ring_node){ ids[i], 1 };
	without = ring_new(live, m, 0, NULL);
	assert_non_null(without);
	for (unsigned i = 0; i < NKEYS; i++) {
		unsigned o = ring_owner(r, keys[i]);
		unsigned got = ring_lookup_n(r, keys[i], 1, up_except, down, out);

		assert_int_equal(got, 1);
		if (!down[o] && out[0] != o)
			fail_msg("key %u: owner %s is up but lookup gave %s", i, ids[o], ids[out[0]]);
		if (strcmp(ids[out[0]], ring_node_id(without, ring_owner(without, keys[i]))) != 0)
			fail_msg("key %u: lookup gave %s, a ring without the down nodes gives %s", i,
			    ids[out[0]], ring_node_id(without, ring_owner(without, keys[i])));
	}
	ring_free(&without);
	ring_free(&r);
}

static void
lookup_n_returns_distinct_live_nodes_in_ring_order(void **state)
{
	char ids[10][RING_ID_MAX];
	struct ring *r = mkring("10.4.0.%u:8080", 1, 10, ids);
	bool down[10] = { false };
	unsigned out[10], out1[1];

	down[0] = down[9] = true;
	for (unsigned i = 0; i < 100000; i++) {
		assert_int_equal(ring_lookup_n(r, keys[i], 3, up_except, down, out), 3);
		for (unsigned a = 0; a < 3; a++) {
			assert_false(down[out[a]]);
			for (unsigned b = a + 1; b < 3; b++)
				if (out[a] == out[b])
					fail_msg("key %u: node %s twice in the answer", i, ids[out[a]]);
		}
		/* The first answer is what a k = 1 lookup gives. */
		assert_int_equal(ring_lookup_n(r, keys[i], 1, up_except, down, out1), 1);
		assert_int_equal(out1[0], out[0]);
	}
	/* With everyone up, k = n lists every node once, the owner first. */
	for (unsigned i = 0; i < 1000; i++) {
		unsigned seen = 0;

		assert_int_equal(ring_lookup_n(r, keys[i], 10, NULL, NULL, out), 10);
		assert_int_equal(out[0], ring_owner(r, keys[i]));
		for (unsigned a = 0; a < 10; a++)
			seen |= 1u << out[a];
		assert_int_equal(seen, 0x3ff);
	}
	/* Asking for more than are up gives those that are up. */
	assert_int_equal(ring_lookup_n(r, keys[0], 10, up_except, down, out), 8);
	assert_int_equal(ring_lookup_n(r, keys[0], 0, NULL, NULL, out), 0);
	ring_free(&r);
}

static void
second_choice_is_where_the_owners_keys_go_when_it_is_down(void **state)
{
	char ids[5][RING_ID_MAX];
	struct ring *r = mkring("10.5.0.%u:8080", 1, 5, ids);

	for (unsigned i = 0; i < 100000; i++) {
		unsigned two[2], one;
		bool down[5] = { false };

		assert_int_equal(ring_lookup_n(r, keys[i], 2, NULL, NULL, two), 2);
		down[two[0]] = true;
		assert_int_equal(ring_lookup_n(r, keys[i], 1, up_except, down, &one), 1);
		assert_int_equal(one, two[1]);
	}
	ring_free(&r);
}

/* ---------------------------------------------------------------- stability */

static void
same_nodes_in_any_order_give_the_same_owners(void **state)
{
	char ids[10][RING_ID_MAX];
	struct ring *a = mkring("shield-%u.cdn.example:8443", 1, 10, ids);
	struct ring_node shuffled[10];
	struct ring *b;
	static const unsigned order[10] = { 7, 2, 9, 0, 4, 1, 8, 3, 6, 5 };

	for (unsigned i = 0; i < 10; i++)
		shuffled[i] = (struct ring_node){ ids[order[i]], 1 };
	b = ring_new(shuffled, 10, 0, NULL);
	assert_non_null(b);
	for (unsigned i = 0; i < NKEYS; i++) {
		const char *x = ring_node_id(a, ring_owner(a, keys[i]));
		const char *y = ring_node_id(b, ring_owner(b, keys[i]));

		if (strcmp(x, y) != 0)
			fail_msg("key %u: %s in one ring, %s in the other", i, x, y);
	}
	ring_free(&a);
	ring_free(&b);
}

/* ---------------------------------------------------------------- edge cases */

static void
one_node_owns_every_key(void **state)
{
	char ids[1][RING_ID_MAX];
	struct ring *r = mkring("solo:%u", 80, 1, ids);
	unsigned out[3];

	for (unsigned i = 0; i < 10000; i++)
		assert_int_equal(ring_owner(r, keys[i]), 0);
	assert_int_equal(ring_lookup_n(r, keys[0], 3, NULL, NULL, out), 1);
	assert_int_equal(out[0], 0);
	assert_true(ring_share(r, 0) == 1.0);
	ring_free(&r);
}

static void
empty_ring_has_no_owner(void **state)
{
	struct ring *r = ring_new(NULL, 0, 0, NULL);
	struct ring_node drained[2] = { { "a:1", 0 }, { "b:1", 0 } };
	unsigned out[2];

	assert_non_null(r);
	assert_int_equal(ring_count(r), 0);
	assert_int_equal(ring_owner(r, keys[0]), RING_NONE);
	assert_int_equal(ring_lookup_n(r, keys[0], 2, NULL, NULL, out), 0);
	ring_free(&r);

	/* Nodes of weight 0 are listed but own nothing. */
	r = ring_new(drained, 2, 0, NULL);
	assert_non_null(r);
	assert_int_equal(ring_count(r), 2);
	assert_int_equal(ring_points(r), 0);
	assert_int_equal(ring_owner(r, keys[0]), RING_NONE);
	assert_int_equal(ring_lookup_n(r, keys[0], 2, NULL, NULL, out), 0);
	ring_free(&r);
}

static void
all_nodes_down_gives_no_node(void **state)
{
	char ids[4][RING_ID_MAX];
	struct ring *r = mkring("10.6.0.%u:8080", 1, 4, ids);
	bool down[4] = { true, true, true, true };
	unsigned out[4];

	for (unsigned i = 0; i < 1000; i++) {
		assert_int_equal(ring_lookup_n(r, keys[i], 1, up_except, down, out), 0);
		assert_int_equal(ring_lookup_n(r, keys[i], 4, up_except, down, out), 0);
	}
	ring_free(&r);
}

static void
zero_weight_node_is_never_chosen(void **state)
{
	struct ring_node nodes[3] = { { "a:1", 1 }, { "b:1", 0 }, { "c:1", 1 } };
	struct ring *r = ring_new(nodes, 3, 0, NULL);
	unsigned out[3];

	assert_non_null(r);
	for (unsigned i = 0; i < 10000; i++) {
		assert_int_not_equal(ring_owner(r, keys[i]), 1);
		assert_int_equal(ring_lookup_n(r, keys[i], 3, NULL, NULL, out), 2);
		assert_int_not_equal(out[0], 1);
		assert_int_not_equal(out[1], 1);
	}
	ring_free(&r);
}

static void
invalid_input_is_refused_with_a_reason(void **state)
{
	struct ring_node dup[2] = { { "a:1", 1 }, { "a:1", 1 } };
	struct ring_node empty[1] = { { "", 1 } };
	struct ring_node heavy[1] = { { "a:1", RING_MAX_WEIGHT + 1 } };
	struct ring_node many[1] = { { "a:1", RING_MAX_WEIGHT } };
	const char *why = NULL;

	assert_null(ring_new(dup, 2, 0, &why));
	assert_string_equal(why, "duplicate node id");
	assert_null(ring_new(empty, 1, 0, &why));
	assert_string_equal(why, "empty node id");
	assert_null(ring_new(heavy, 1, 0, &why));
	assert_string_equal(why, "node weight too large");
	assert_null(ring_new(many, 1, RING_MAX_VNODES, &why));
	assert_non_null(strstr(why, "too many points"));
}

static void
vnodes_are_configurable(void **state)
{
	struct ring_node nodes[2] = { { "a:1", 1 }, { "b:1", 3 } };
	struct ring *r = ring_new(nodes, 2, 160, NULL);

	assert_non_null(r);
	assert_int_equal(ring_vnodes(r), 160);
	assert_int_equal(ring_points(r), 640);
	assert_int_equal(ring_node_weight(r, 1), 3);
	assert_int_equal(ring_find(r, "b:1"), 1);
	assert_int_equal(ring_find(r, "c:1"), RING_NONE);
	ring_free(&r);
}

/* ---------------------------------------------------------------- identity */

static void
node_id_is_host_and_port_of_the_data_url(void **state)
{
	static const struct { const char *in, *want; } ok[] = {
		{ "http://127.0.0.1:8081", "127.0.0.1:8081" },
		{ "http://127.0.0.1:8081/", "127.0.0.1:8081" },
		{ "http://Shield-1.Example:8080/prefix?q#f", "shield-1.example:8080" },
		{ "http://shield.example", "shield.example:80" },
		{ "https://shield.example/", "shield.example:443" },
		{ "HTTP://user:pw@host:81/", "host:81" },
		{ "http://[::1]:8080/", "[::1]:8080" },
		{ "http://[2001:DB8::1]", "[2001:db8::1]:80" },
		{ "127.0.0.1:9000", "127.0.0.1:9000" },
		{ "[::1]:9000", "[::1]:9000" },
	};
	static const char *const bad[] = {
		"127.0.0.1", "http://:80/", "http://host:0/", "http://host:65536",
		"http://host:x/", "::1:80", "http://[::1/", "ftp://host/", "",
	};
	char out[RING_ID_MAX];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (ring_id_from_url(ok[i].in, out, sizeof out) != CDN_OK)
			fail_msg("\"%s\" refused, expected \"%s\"", ok[i].in, ok[i].want);
		assert_string_equal(out, ok[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ring_id_from_url(bad[i], out, sizeof out) != CDN_INVAL)
			fail_msg("\"%s\" accepted as \"%s\", expected refusal", bad[i], out);
	assert_int_equal(ring_id_from_url("http://host:80", out, 7), CDN_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(points_are_the_documented_sha256_words),
		cmocka_unit_test(key_position_is_murmur3_fmix64),
		cmocka_unit_test(owners_agree_with_an_independent_implementation),
		cmocka_unit_test(ten_equal_nodes_busiest_holds_at_most_1_10_of_the_mean),
		cmocka_unit_test(share_matches_the_keys_each_node_gets),
		cmocka_unit_test(removing_one_of_n_moves_only_that_nodes_keys),
		cmocka_unit_test(adding_a_node_moves_keys_only_onto_it),
		cmocka_unit_test(weights_scale_shares_proportionally),
		cmocka_unit_test(raising_a_weight_moves_keys_only_onto_that_node),
		cmocka_unit_test(lookup_skips_down_nodes_as_a_ring_without_them_would),
		cmocka_unit_test(lookup_n_returns_distinct_live_nodes_in_ring_order),
		cmocka_unit_test(second_choice_is_where_the_owners_keys_go_when_it_is_down),
		cmocka_unit_test(same_nodes_in_any_order_give_the_same_owners),
		cmocka_unit_test(one_node_owns_every_key),
		cmocka_unit_test(empty_ring_has_no_owner),
		cmocka_unit_test(all_nodes_down_gives_no_node),
		cmocka_unit_test(zero_weight_node_is_never_chosen),
		cmocka_unit_test(invalid_input_is_refused_with_a_reason),
		cmocka_unit_test(vnodes_are_configurable),
		cmocka_unit_test(node_id_is_host_and_port_of_the_data_url),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
