/*
 * evict.c: LRU and LFU with dynamic aging (LFU-DA), as policy arithmetic
 * and as an in-memory set bounded in bytes.
 *
 * Main design choice: one order for both policies, (prio, last) ascending,
 * where lru's prio is its last access and lfu's is L + freq. The in-memory
 * set keeps that order with the cheapest structure for each policy (a list
 * for lru, whose order only changes by moving an entry to the head; a
 * min-heap for lfu), and the disk tier keeps it with an SQL index on the
 * same two columns, so both tiers evict in the same order for the same
 * history. Pinned entries are accounted but never linked into the list or
 * heap, so a victim search never has to skip them.
 *
 * Locking: none (see evict.h): the owner's lock covers the set and the nodes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/evict.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

#define EVICT_MAGIC 0xe71c7e00u

struct evict {
	unsigned magic;
	struct evict_clock clk;
	uint64_t limit;
	uint64_t bytes, entries;
	uint64_t pinned_bytes, pinned_entries;
	/* lru */
	struct evict_node *head, *tail;
	/* lfu: min-heap of unpinned entries on (prio, last) */
	struct evict_node **heap;
	uint64_t hlen, hcap;
};

static int heap_cmp(const struct evict_node *a, const struct evict_node *b);
static void heap_set(struct evict *e, uint64_t i, struct evict_node *n);
static void heap_up(struct evict *e, uint64_t i);
static void heap_down(struct evict *e, uint64_t i);
static void heap_fix(struct evict *e, uint64_t i);
static void heap_push(struct evict *e, struct evict_node *n);
static void heap_del(struct evict *e, struct evict_node *n);
static void list_unlink(struct evict *e, struct evict_node *n);
static void list_push_head(struct evict *e, struct evict_node *n);
static void list_insert_sorted(struct evict *e, struct evict_node *n);
static void link_order(struct evict *e, struct evict_node *n, bool sorted);
static void unlink_order(struct evict *e, struct evict_node *n);
static void meta_of(const struct evict *e, const struct evict_node *n, struct evict_meta *m);
static void meta_to(const struct evict *e, struct evict_node *n, const struct evict_meta *m);

/* ---------------------------------------------------------------- policy names */

int
evict_policy_parse(const char *s, enum evict_policy *out)
{
	if (s != NULL && strcasecmp(s, "lru") == 0) {
		*out = EVICT_LRU;
		return CDN_OK;
	}
	if (s != NULL && strcasecmp(s, "lfu") == 0) {
		*out = EVICT_LFU;
		return CDN_OK;
	}
	return CDN_INVAL;
}

const char *
evict_policy_name(enum evict_policy p)
{
	return p == EVICT_LFU ? "lfu" : "lru";
}

/* ---------------------------------------------------------------- arithmetic */

void
evict_clock_init(struct evict_clock *c, enum evict_policy p)
{
	c->policy = p;
	c->tick = 1;
	c->age = 0;
}

void
evict_meta_rebase(const struct evict_clock *c, struct evict_meta *m)
{
	if (c->policy == EVICT_LFU)
		m->prio = c->age + m->freq;
	else
		m->prio = m->last;
}

void
evict_meta_new(struct evict_clock *c, struct evict_meta *m, uint32_t freq)
{
	m->freq = freq > 0 ? freq : 1;
	m->last = c->tick++;
	evict_meta_rebase(c, m);
}

void
evict_meta_hit(struct evict_clock *c, struct evict_meta *m, uint32_t hits)
{
	if (hits == 0)
		hits = 1;
	m->freq = m->freq > EVICT_FREQ_MAX - hits ? EVICT_FREQ_MAX : m->freq + hits;
	m->last = c->tick++;
	evict_meta_rebase(c, m);
}

void
evict_clock_victim(struct evict_clock *c, const struct evict_meta *m)
{
	/* L only grows: a victim removed out of order (pinned, then unpinned
	 * with an old prio) must not turn the clock back. */
	if (c->policy == EVICT_LFU && m->prio > c->age)
		c->age = m->prio;
}

int
evict_meta_cmp(const struct evict_meta *a, const struct evict_meta *b)
{
	if (a->prio != b->prio)
		return a->prio < b->prio ? -1 : 1;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	return 0;
}

/* ---------------------------------------------------------------- the set */

/* A node keeps what its policy's order needs (see evict.h): lru's prio is
 * its last access, and it counts nothing (freq reads as 1). */
static void
meta_of(const struct evict *e, const struct evict_node *n, struct evict_meta *m)
{
	m->last = n->_last;
	if (e->clk.policy == EVICT_LFU) {
		m->prio = n->_u.h.prio;
		m->freq = n->_u.h.freq;
	} else {
		m->prio = n->_last;
		m->freq = 1;
	}
}

/* Only lfu's fields: an lru node's links are left as they are. */
static void
meta_to(const struct evict *e, struct evict_node *n, const struct evict_meta *m)
{
	n->_last = m->last;
	if (e->clk.policy == EVICT_LFU) {
		n->_u.h.prio = m->prio;
		n->_u.h.freq = m->freq;
	}
}

/* lfu's order: (prio, last) ascending. */
static int
heap_cmp(const struct evict_node *a, const struct evict_node *b)
{
	if (a->_u.h.prio != b->_u.h.prio)
		return a->_u.h.prio < b->_u.h.prio ? -1 : 1;
	if (a->_last != b->_last)
		return a->_last < b->_last ? -1 : 1;
	return 0;
}

struct evict *
evict_new(enum evict_policy p, uint64_t limit)
{
	struct evict *e = xcalloc(1, sizeof *e);

	e->magic = EVICT_MAGIC;
	evict_clock_init(&e->clk, p);
	e->limit = limit;
	return e;
}

void
evict_free(struct evict **ep)
{
	struct evict *e = *ep;

	*ep = NULL;
	if (e == NULL)
		return;
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	free(e->heap);
	e->magic = 0;
	free(e);
}

/* -- lfu heap */

static void
heap_set(struct evict *e, uint64_t i, struct evict_node *n)
{
	e->heap[i] = n;
	n->_u.h.idx = (uint32_t)i;
}

static void
heap_up(struct evict *e, uint64_t i)
{
	struct evict_node *n = e->heap[i];

	while (i > 0) {
		uint64_t parent = (i - 1) / 2;

		if (heap_cmp(e->heap[parent], n) <= 0)
			break;
		heap_set(e, i, e->heap[parent]);
		i = parent;
	}
	heap_set(e, i, n);
}

static void
heap_down(struct evict *e, uint64_t i)
{
	struct evict_node *n = e->heap[i];

	for (;;) {
		uint64_t c = 2 * i + 1;

		if (c >= e->hlen)
			break;
		if (c + 1 < e->hlen && heap_cmp(e->heap[c + 1], e->heap[c]) < 0)
			c++;
		if (heap_cmp(n, e->heap[c]) <= 0)
			break;
		heap_set(e, i, e->heap[c]);
		i = c;
	}
	heap_set(e, i, n);
}

static void
heap_fix(struct evict *e, uint64_t i)
{
	if (i > 0 && heap_cmp(e->heap[i], e->heap[(i - 1) / 2]) < 0)
		heap_up(e, i);
	else
		heap_down(e, i);
}

static void
heap_push(struct evict *e, struct evict_node *n)
{
	if (e->hlen == e->hcap) {
		e->hcap = e->hcap ? e->hcap * 2 : 64;
		e->heap = xrealloc(e->heap, e->hcap * sizeof *e->heap);
	}
	VAS_ASSERT(e->hlen < UINT32_MAX); /* the slot is 32 bits */
	heap_set(e, e->hlen++, n);
	heap_up(e, e->hlen - 1);
}

static void
heap_del(struct evict *e, struct evict_node *n)
{
	uint64_t i = n->_u.h.idx;
	struct evict_node *last;

	VAS_ASSERT(i < e->hlen && e->heap[i] == n);
	last = e->heap[--e->hlen];
	e->heap[e->hlen] = NULL;
	if (last != n) {
		heap_set(e, i, last);
		heap_fix(e, i);
	}
	n->_u.h.idx = 0;
}

/* -- lru list */

static void
list_unlink(struct evict *e, struct evict_node *n)
{
	if (n->_u.l.prev != NULL)
		n->_u.l.prev->_u.l.next = n->_u.l.next;
	else
		e->head = n->_u.l.next;
	if (n->_u.l.next != NULL)
		n->_u.l.next->_u.l.prev = n->_u.l.prev;
	else
		e->tail = n->_u.l.prev;
	n->_u.l.prev = n->_u.l.next = NULL;
}

static void
list_push_head(struct evict *e, struct evict_node *n)
{
	n->_u.l.prev = NULL;
	n->_u.l.next = e->head;
	if (e->head != NULL)
		e->head->_u.l.prev = n;
	e->head = n;
	if (e->tail == NULL)
		e->tail = n;
}

/* Insert keeping the list in descending last (lru's prio) from the head. */
static void
list_insert_sorted(struct evict *e, struct evict_node *n)
{
	struct evict_node *at = e->head;

	while (at != NULL && at->_last > n->_last)
		at = at->_u.l.next;
	if (at == e->head) {
		list_push_head(e, n);
		return;
	}
	n->_u.l.next = at;
	if (at != NULL) {
		n->_u.l.prev = at->_u.l.prev;
		at->_u.l.prev->_u.l.next = n;
		at->_u.l.prev = n;
	} else {
		n->_u.l.prev = e->tail;
		e->tail->_u.l.next = n;
		e->tail = n;
	}
}

/* -- either */

static void
link_order(struct evict *e, struct evict_node *n, bool sorted)
{
	if (e->clk.policy == EVICT_LFU)
		heap_push(e, n);
	else if (sorted)
		list_insert_sorted(e, n);
	else
		list_push_head(e, n);
}

static void
unlink_order(struct evict *e, struct evict_node *n)
{
	if (e->clk.policy == EVICT_LFU)
		heap_del(e, n);
	else
		list_unlink(e, n);
}

static void
add_node(struct evict *e, struct evict_node *n, uint64_t size, unsigned flags,
    const struct evict_meta *m, bool sorted)
{
	VAS_ASSERT(size < (UINT64_C(1) << 62)); /* the width of _size */
	memset(&n->_u, 0, sizeof n->_u);
	meta_to(e, n, m);
	n->_size = size;
	n->_pinned = (flags & EVICT_PIN) != 0;
	n->_linked = 1;
	e->bytes += size;
	e->entries++;
	if (n->_pinned) {
		e->pinned_bytes += size;
		e->pinned_entries++;
	} else {
		link_order(e, n, sorted);
	}
}

void
evict_insert(struct evict *e, struct evict_node *n, uint64_t size, unsigned flags, uint32_t freq)
{
	struct evict_meta m;

	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	AN(n);
	evict_meta_new(&e->clk, &m, freq);
	add_node(e, n, size, flags, &m, false);
}

void
evict_restore(struct evict *e, struct evict_node *n, uint64_t size, unsigned flags,
    const struct evict_meta *m)
{
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	AN(n);
	if (e->clk.tick <= m->last)
		e->clk.tick = m->last + 1;
	add_node(e, n, size, flags, m, true);
}

void
evict_touch(struct evict *e, struct evict_node *n, uint32_t hits)
{
	struct evict_meta m;

	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	AN(n->_linked);
	meta_of(e, n, &m);
	evict_meta_hit(&e->clk, &m, hits);
	meta_to(e, n, &m);
	if (n->_pinned)
		return;
	if (e->clk.policy == EVICT_LFU) {
		heap_fix(e, n->_u.h.idx);
	} else if (e->head != n) {
		list_unlink(e, n);
		list_push_head(e, n);
	}
}

void
evict_remove(struct evict *e, struct evict_node *n)
{
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	if (!n->_linked)
		return;
	if (n->_pinned) {
		e->pinned_bytes -= n->_size;
		e->pinned_entries--;
	} else {
		unlink_order(e, n);
	}
	e->bytes -= n->_size;
	e->entries--;
	n->_linked = 0;
}

void
evict_set_pinned(struct evict *e, struct evict_node *n, bool pinned)
{
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	AN(n->_linked);
	if ((bool)n->_pinned == pinned)
		return;
	if (pinned) {
		unlink_order(e, n);
		n->_pinned = 1;
		e->pinned_bytes += n->_size;
		e->pinned_entries++;
	} else {
		struct evict_meta m;

		n->_pinned = 0;
		e->pinned_bytes -= n->_size;
		e->pinned_entries--;
		meta_of(e, n, &m);
		evict_meta_hit(&e->clk, &m, 1);
		meta_to(e, n, &m);
		link_order(e, n, false);
	}
}

bool
evict_fits(const struct evict *e, uint64_t size)
{
	return size <= e->limit && e->pinned_bytes <= e->limit - size;
}

struct evict_node *
evict_peek(const struct evict *e)
{
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	if (e->clk.policy == EVICT_LFU)
		return e->hlen > 0 ? e->heap[0] : NULL;
	return e->tail;
}

struct evict_node *
evict_pop(struct evict *e, uint64_t incoming)
{
	struct evict_node *v;
	struct evict_meta m;

	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	if (e->bytes <= e->limit && incoming <= e->limit - e->bytes)
		return NULL;
	v = evict_peek(e);
	if (v == NULL)
		return NULL;
	evict_remove(e, v);
	meta_of(e, v, &m);
	evict_clock_victim(&e->clk, &m);
	return v;
}

void
evict_node_meta(const struct evict *e, const struct evict_node *n, struct evict_meta *m)
{
	CHECK_OBJ_NOTNULL(e, EVICT_MAGIC);
	meta_of(e, n, m);
}

bool
evict_node_linked(const struct evict_node *n)
{
	return n->_linked != 0;
}

void
evict_get_clock(const struct evict *e, struct evict_clock *c)
{
	*c = e->clk;
}

void
evict_set_clock(struct evict *e, const struct evict_clock *c)
{
	AZ(c->policy != e->clk.policy);
	if (c->tick > e->clk.tick)
		e->clk.tick = c->tick;
	e->clk.age = c->age;
}

void
evict_get_stats(const struct evict *e, struct evict_stats *st)
{
	st->policy = e->clk.policy;
	st->limit = e->limit;
	st->bytes = e->bytes;
	st->entries = e->entries;
	st->pinned_bytes = e->pinned_bytes;
	st->pinned_entries = e->pinned_entries;
	st->tick = e->clk.tick;
	st->age = e->clk.age;
}

size_t
evict_mem(const struct evict *e)
{
	return sizeof *e + (size_t)e->hcap * sizeof *e->heap;
}
