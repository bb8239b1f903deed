/*
 * test_evict.c: LRU and LFU with dynamic aging: which entry goes, how old
 * frequency ages away, byte limits, pinning, persisted state, and a random
 * walk checked against a brute-force model.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/evict.h"
#include "util/err.h"

struct ent {
	struct evict_node node;  /* first, so a node pointer is an entry pointer */
	int id;
};

static struct ent *
E(struct evict_node *n)
{
	return (struct ent *)n;
}

/* Pop the next victim and return its id, or -1. */
static int
pop_id(struct evict *e, uint64_t incoming)
{
	struct evict_node *n = evict_pop(e, incoming);

	return n != NULL ? E(n)->id : -1;
}

static void
policy_names_parse(void **state)
{
	enum evict_policy p;

	assert_int_equal(evict_policy_parse("lru", &p), CDN_OK);
	assert_int_equal(p, EVICT_LRU);
	assert_int_equal(evict_policy_parse("LFU", &p), CDN_OK);
	assert_int_equal(p, EVICT_LFU);
	assert_int_equal(evict_policy_parse("arc", &p), CDN_INVAL);
	assert_int_equal(evict_policy_parse(NULL, &p), CDN_INVAL);
	assert_string_equal(evict_policy_name(EVICT_LRU), "lru");
	assert_string_equal(evict_policy_name(EVICT_LFU), "lfu");
}

static void
node_is_small(void **state)
{
	/* the memory tier's object must fit a 224-byte malloc chunk with
	 * its key (bench/obj-mem): the node is 32 bytes of it */
	assert_true(sizeof(struct evict_node) <= 32);
}

/* ---------------------------------------------------------------- arithmetic */

static void
lfu_arithmetic_is_age_plus_frequency(void **state)
{
	struct evict_clock c;
	struct evict_meta a, b;

	evict_clock_init(&c, EVICT_LFU);
	evict_meta_new(&c, &a, 0);
	assert_int_equal(a.freq, 1);
	assert_int_equal(a.prio, 1);
	evict_meta_hit(&c, &a, 3);
	assert_int_equal(a.freq, 4);
	assert_int_equal(a.prio, 4);
	evict_clock_victim(&c, &a);        /* a goes: L = 4 */
	assert_int_equal(c.age, 4);
	evict_meta_new(&c, &b, 0);
	assert_int_equal(b.prio, 5);       /* newcomers start at L + 1 */
	evict_meta_new(&c, &b, 7);         /* carried frequency */
	assert_int_equal(b.freq, 7);
	assert_int_equal(b.prio, 11);
	/* L never goes back */
	a.prio = 2;
	evict_clock_victim(&c, &a);
	assert_int_equal(c.age, 4);
	/* saturation */
	b.freq = EVICT_FREQ_MAX - 1;
	evict_meta_hit(&c, &b, 5);
	assert_int_equal(b.freq, EVICT_FREQ_MAX);
}

static void
lru_arithmetic_is_recency(void **state)
{
	struct evict_clock c;
	struct evict_meta a, b;

	evict_clock_init(&c, EVICT_LRU);
	evict_meta_new(&c, &a, 0);
	evict_meta_new(&c, &b, 0);
	assert_true(evict_meta_cmp(&a, &b) < 0);   /* a is older: goes first */
	evict_meta_hit(&c, &a, 100);
	assert_true(evict_meta_cmp(&a, &b) > 0);   /* frequency does not matter */
	assert_int_equal(a.prio, a.last);
	evict_clock_victim(&c, &b);
	assert_int_equal(c.age, 0);
	assert_int_equal(evict_meta_cmp(&a, &a), 0);
}

static void
rebase_switches_policy(void **state)
{
	struct evict_clock c;
	struct evict_meta m = { .last = 9, .prio = 9, .freq = 3 };

	evict_clock_init(&c, EVICT_LFU);
	evict_meta_rebase(&c, &m);
	assert_int_equal(m.prio, 3);
	c.policy = EVICT_LRU;
	evict_meta_rebase(&c, &m);
	assert_int_equal(m.prio, 9);
}

/* ---------------------------------------------------------------- order */

static void
lru_evicts_least_recently_used(void **state)
{
	struct evict *e = evict_new(EVICT_LRU, 3);
	struct ent x[6];

	for (int i = 0; i < 6; i++)
		x[i].id = i;
	for (int i = 0; i < 3; i++)
		evict_insert(e, &x[i].node, 1, 0, 0);
	assert_int_equal(pop_id(e, 0), -1);        /* within the limit */
	evict_touch(e, &x[0].node, 1);             /* order now 1, 2, 0 */
	evict_insert(e, &x[3].node, 1, 0, 0);
	assert_int_equal(pop_id(e, 0), 1);
	assert_int_equal(pop_id(e, 0), -1);
	evict_touch(e, &x[2].node, 50);            /* many hits count as one access */
	assert_int_equal(pop_id(e, 1), 0);         /* room for one more: 0 goes */
	evict_insert(e, &x[4].node, 1, 0, 0);
	assert_int_equal(pop_id(e, 1), 3);
	evict_insert(e, &x[5].node, 1, 0, 0);
	assert_int_equal(pop_id(e, 3), 2);
	assert_int_equal(pop_id(e, 3), 4);
	assert_int_equal(pop_id(e, 3), 5);
	assert_int_equal(pop_id(e, 3), -1);        /* empty */
	evict_free(&e);
	assert_null(e);
}

static void
lfu_evicts_least_frequently_used_ties_by_recency(void **state)
{
	struct evict *e = evict_new(EVICT_LFU, 4);
	struct ent x[8];

	for (int i = 0; i < 8; i++)
		x[i].id = i;
	for (int i = 0; i < 4; i++)
		evict_insert(e, &x[i].node, 1, 0, 0);
	evict_touch(e, &x[0].node, 3);     /* freq 4 */
	evict_touch(e, &x[1].node, 1);     /* freq 2 */
	evict_touch(e, &x[3].node, 1);     /* freq 2, more recent than 1 */
	/* 2 has freq 1: it goes, whatever its recency */
	assert_int_equal(pop_id(e, 4), 2);
	assert_int_equal(pop_id(e, 4), 1); /* freq 2, older than 3 */
	assert_int_equal(pop_id(e, 4), 3);
	assert_int_equal(pop_id(e, 4), 0);
	assert_int_equal(pop_id(e, 4), -1);
	evict_free(&e);
}

/*
 * Aging: an entry that earned many hits long ago is eventually evicted by
 * a stream of newer entries, because each eviction raises L and newcomers
 * enter at L + 1. Without aging (plain LFU) it would stay forever.
 */
static void
lfu_old_frequency_ages_away(void **state)
{
	struct evict *e = evict_new(EVICT_LFU, 4);
	struct ent old = { .id = 1000 }, *x = calloc(200, sizeof *x);
	struct evict_stats st;
	int gone_at = -1;

	evict_insert(e, &old.node, 1, 0, 0);
	evict_touch(e, &old.node, 9);              /* freq 10, K = 10 */
	for (int i = 0; i < 200 && gone_at < 0; i++) {
		int v;

		x[i].id = i;
		evict_insert(e, &x[i].node, 1, 0, 0);
		evict_touch(e, &x[i].node, 1);         /* each newcomer: 2 hits */
		while ((v = pop_id(e, 0)) != -1)
			if (v == 1000)
				gone_at = i;
	}
	evict_get_stats(e, &st);
	/* K(old) = 10: the age reaches it after about 10 evictions of
	 * newcomers (each at K = L + 2). */
	assert_true(gone_at > 3);
	assert_true(gone_at < 20);
	assert_true(st.age >= 10);
	evict_free(&e);
	free(x);
}

/*
 * Scan resistance: 5 hot entries, each hit 5 times a round, and between
 * rounds a sequential scan of 20 one-time entries through a cache of 10.
 * LRU loses the hot entries to the scan; LFU-DA keeps all of them, since
 * their K grows by 5 a round while the scan raises L by about 4.
 */
static void
lfu_keeps_hot_entries_through_scans_lru_does_not(void **state)
{
	for (int p = 0; p < 2; p++) {
		struct evict *e = evict_new(p ? EVICT_LFU : EVICT_LRU, 10);
		struct ent hot[5], *scan = calloc(400, sizeof *scan);
		int lost = 0;

		for (int i = 0; i < 5; i++) {
			hot[i].id = 10000 + i;
			evict_insert(e, &hot[i].node, 1, 0, 0);
		}
		for (int round = 0; round < 20; round++) {
			for (int i = 0; i < 5; i++)
				if (evict_node_linked(&hot[i].node))
					evict_touch(e, &hot[i].node, 5);
			for (int i = 0; i < 20; i++) {
				struct ent *s = &scan[round * 20 + i];
				int v;

				s->id = round * 20 + i;
				evict_insert(e, &s->node, 1, 0, 0);
				while ((v = pop_id(e, 0)) != -1)
					if (v >= 10000)
						lost++;
			}
		}
		if (p)
			assert_int_equal(lost, 0);
		else
			assert_int_equal(lost, 5);
		evict_free(&e);
		free(scan);
	}
}

/* ---------------------------------------------------------------- bytes */

static void
byte_limit_holds_with_mixed_sizes(void **state)
{
	for (int p = 0; p < 2; p++) {
		struct evict *e = evict_new(p ? EVICT_LFU : EVICT_LRU, 100000);
		struct ent *x = calloc(2000, sizeof *x);
		struct evict_stats st;
		uint64_t total = 0;

		srand(7);
		for (int i = 0; i < 2000; i++) {
			uint64_t size = 1 + (uint64_t)(rand() % 20000);
			struct evict_node *v;

			x[i].id = i;
			assert_true(evict_fits(e, size));
			while ((v = evict_pop(e, size)) != NULL)
				total -= v->_size;
			evict_insert(e, &x[i].node, size, 0, 0);
			total += size;
			if (i > 0 && rand() % 3 == 0 && evict_node_linked(&x[i / 2].node))
				evict_touch(e, &x[i / 2].node, 1);
			evict_get_stats(e, &st);
			assert_true(st.bytes <= st.limit);
			assert_int_equal(st.bytes, total);
		}
		assert_false(evict_fits(e, 100001));
		evict_free(&e);
		free(x);
	}
}

static void
remove_is_not_an_eviction(void **state)
{
	struct evict *e = evict_new(EVICT_LFU, 10);
	struct ent a = { .id = 1 }, b = { .id = 2 };
	struct evict_stats st;

	evict_insert(e, &a.node, 4, 0, 0);
	evict_insert(e, &b.node, 4, 0, 0);
	evict_touch(e, &a.node, 5);
	evict_remove(e, &a.node);
	evict_remove(e, &a.node);          /* twice is harmless */
	evict_get_stats(e, &st);
	assert_int_equal(st.bytes, 4);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.age, 0);       /* removal does not age */
	assert_false(evict_node_linked(&a.node));
	assert_ptr_equal(evict_peek(e), &b.node);
	evict_free(&e);
}

/* ---------------------------------------------------------------- pinning */

static void
pinned_entries_are_never_victims(void **state)
{
	for (int p = 0; p < 2; p++) {
		struct evict *e = evict_new(p ? EVICT_LFU : EVICT_LRU, 10);
		struct ent pin = { .id = 99 }, x[10];
		struct evict_stats st;

		evict_insert(e, &pin.node, 6, EVICT_PIN, 0);
		for (int i = 0; i < 10; i++) {
			x[i].id = i;
			while (evict_pop(e, 2) != NULL)
				;
			evict_insert(e, &x[i].node, 2, 0, 0);
		}
		evict_get_stats(e, &st);
		assert_int_equal(st.pinned_bytes, 6);
		assert_int_equal(st.pinned_entries, 1);
		assert_true(st.bytes <= 10);
		assert_true(evict_node_linked(&pin.node));
		/* drain the unpinned; with only the pinned one left, no victim */
		while (evict_pop(e, 10) != NULL)
			;
		assert_null(evict_pop(e, 5));
		assert_true(evict_fits(e, 4));
		assert_false(evict_fits(e, 5));
		/* unpinned, it is an ordinary entry again */
		evict_set_pinned(e, &pin.node, false);
		assert_ptr_equal(evict_pop(e, 5), &pin.node);
		evict_get_stats(e, &st);
		assert_int_equal(st.pinned_bytes, 0);
		assert_int_equal(st.bytes, 0);
		evict_free(&e);
	}
}

static void
pinning_a_linked_entry_takes_it_out_of_the_order(void **state)
{
	struct evict *e = evict_new(EVICT_LRU, 2);
	struct ent a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };

	evict_insert(e, &a.node, 1, 0, 0);
	evict_insert(e, &b.node, 1, 0, 0);
	evict_set_pinned(e, &a.node, true);
	evict_set_pinned(e, &a.node, true);    /* idempotent */
	evict_insert(e, &c.node, 1, 0, 0);
	assert_int_equal(pop_id(e, 0), 2);
	assert_int_equal(pop_id(e, 0), -1);
	evict_remove(e, &a.node);              /* a pinned entry can be removed */
	assert_int_equal(pop_id(e, 2), 3);
	evict_free(&e);
}

/* The node keeps ticks and lfu's prio at full width: past 2^32 ticks, ties
 * still go to the least recently used, and a pinned lfu entry keeps its
 * count and prio while out of the heap. */
static void
ticks_past_32_bits_keep_the_order(void **state)
{
	for (int p = 0; p < 2; p++) {
		enum evict_policy pol = p ? EVICT_LFU : EVICT_LRU;
		struct evict *e = evict_new(pol, 3);
		struct evict_clock clk = { pol, UINT32_MAX - 1, p ? UINT32_MAX : 0 };
		struct ent x[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
		struct evict_meta m;

		evict_set_clock(e, &clk);
		for (int i = 0; i < 3; i++)    /* ticks 2^32 - 2, - 1, 2^32 */
			evict_insert(e, &x[i].node, 1, 0, 0);
		evict_node_meta(e, &x[2].node, &m);
		assert_int_equal(m.last, UINT64_C(1) << 32);
		assert_int_equal(m.prio, p ? (uint64_t)UINT32_MAX + 1 : UINT64_C(1) << 32);
		assert_int_equal(m.freq, 1);
		/* pinned, 1 is out of the order; unpinned, it comes back as just
		 * accessed, its count kept (lfu: freq 3, prio L + 3) */
		evict_touch(e, &x[1].node, 1);
		evict_set_pinned(e, &x[1].node, true);
		evict_set_pinned(e, &x[1].node, false);
		evict_node_meta(e, &x[1].node, &m);
		assert_int_equal(m.last, (UINT64_C(1) << 32) + 2);
		assert_int_equal(m.freq, p ? 3 : 1);
		assert_int_equal(m.prio, p ? (uint64_t)UINT32_MAX + 3 : m.last);
		assert_int_equal(pop_id(e, 3), 0);
		assert_int_equal(pop_id(e, 3), 2);
		assert_int_equal(pop_id(e, 3), 1);
		evict_free(&e);
	}
}

/* ---------------------------------------------------------------- persistence */

static void
restored_state_evicts_in_the_same_order(void **state)
{
	for (int p = 0; p < 2; p++) {
		enum evict_policy pol = p ? EVICT_LFU : EVICT_LRU;
		struct evict *e = evict_new(pol, 1000), *r;
		struct ent a[50], b[50];
		struct evict_meta m[50];
		struct evict_clock clk;
		int order[50];

		srand(11);
		for (int i = 0; i < 50; i++) {
			a[i].id = b[i].id = i;
			evict_insert(e, &a[i].node, 10, 0, 0);
		}
		for (int i = 0; i < 300; i++)
			evict_touch(e, &a[rand() % 50].node, 1 + (uint32_t)(rand() % 3));
		for (int i = 0; i < 5; i++)  /* age the lfu clock a little */
			assert_non_null(evict_pop(e, 1000));
		evict_get_clock(e, &clk);
		for (int i = 0; i < 50; i++)
			evict_node_meta(e, &a[i].node, &m[i]);

		/* restore in a scrambled order into a fresh set */
		r = evict_new(pol, 1000);
		evict_set_clock(r, &clk);
		for (int k = 0; k < 50; k++) {
			int i = (k * 17) % 50;

			if (evict_node_linked(&a[i].node))
				evict_restore(r, &b[i].node, 10, 0, &m[i]);
		}
		for (int k = 0; k < 45; k++)
			order[k] = pop_id(e, 1000);
		for (int k = 0; k < 45; k++)
			assert_int_equal(pop_id(r, 1000), order[k]);
		assert_int_equal(pop_id(r, 1000), -1);
		evict_free(&e);
		evict_free(&r);
	}
}

/* ---------------------------------------------------------------- model */

/* Random inserts, hits, removals, pins and pops; after each step the
 * set's victim must be the brute-force minimum of (prio, last) over the
 * unpinned entries in it, and the byte counts must add up. */
static void
random_walk_matches_brute_force(void **state)
{
	for (int p = 0; p < 2; p++) {
		struct evict *e = evict_new(p ? EVICT_LFU : EVICT_LRU, 5000);
		struct ent x[300];
		struct evict_stats st;

		memset(x, 0, sizeof x);
		srand(3 + p);
		for (int i = 0; i < 300; i++)
			x[i].id = i;
		for (int step = 0; step < 20000; step++) {
			struct ent *t = &x[rand() % 300];
			struct evict_node *want = NULL;
			struct evict_meta wm, tm;
			uint64_t bytes = 0, pbytes = 0;
			int op = rand() % 10;

			if (!evict_node_linked(&t->node)) {
				if (op < 6)
					evict_insert(e, &t->node, 1 + (uint64_t)(rand() % 100),
					    rand() % 20 == 0 ? EVICT_PIN : 0, 0);
			} else if (op < 5) {
				evict_touch(e, &t->node, 1 + (uint32_t)(rand() % 4));
			} else if (op < 6) {
				evict_remove(e, &t->node);
			} else if (op < 7) {
				evict_set_pinned(e, &t->node, !t->node._pinned);
			} else {
				while (evict_pop(e, (uint64_t)(rand() % 200)) != NULL)
					;
			}
			for (int i = 0; i < 300; i++) {
				if (!evict_node_linked(&x[i].node))
					continue;
				bytes += x[i].node._size;
				if (x[i].node._pinned) {
					pbytes += x[i].node._size;
					continue;
				}
				evict_node_meta(e, &x[i].node, &tm);
				if (want != NULL)
					evict_node_meta(e, want, &wm);
				if (want == NULL || evict_meta_cmp(&tm, &wm) < 0)
					want = &x[i].node;
			}
			assert_ptr_equal(evict_peek(e), want);
			evict_get_stats(e, &st);
			assert_int_equal(st.bytes, bytes);
			assert_int_equal(st.pinned_bytes, pbytes);
		}
		assert_true(evict_mem(e) >= sizeof(void *));
		evict_free(&e);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_names_parse),
		cmocka_unit_test(node_is_small),
		cmocka_unit_test(lfu_arithmetic_is_age_plus_frequency),
		cmocka_unit_test(lru_arithmetic_is_recency),
		cmocka_unit_test(rebase_switches_policy),
		cmocka_unit_test(lru_evicts_least_recently_used),
		cmocka_unit_test(lfu_evicts_least_frequently_used_ties_by_recency),
		cmocka_unit_test(lfu_old_frequency_ages_away),
		cmocka_unit_test(lfu_keeps_hot_entries_through_scans_lru_does_not),
		cmocka_unit_test(byte_limit_holds_with_mixed_sizes),
		cmocka_unit_test(remove_is_not_an_eviction),
		cmocka_unit_test(pinned_entries_are_never_victims),
		cmocka_unit_test(pinning_a_linked_entry_takes_it_out_of_the_order),
		cmocka_unit_test(ticks_past_32_bits_keep_the_order),
		cmocka_unit_test(restored_state_evicts_in_the_same_order),
		cmocka_unit_test(random_walk_matches_brute_force),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
