/*
 * evict.h (module evict_): eviction policies for both cache tiers.
 *
 * Two policies:
 *   lru  least recently used: the entry whose last access is oldest goes.
 *   lfu  least frequently used WITH DYNAMIC AGING (LFU-DA; Arlitt,
 *        Cherkasova, Dilley, Friedrich, Jin, "Evaluating content management
 *        techniques for Web proxy caches", 2000; Squid's heap LFUDA). Each
 *        entry has a priority K = L + F, where F is its access count and L
 *        the cache's age: the K of the last entry evicted. The entry with
 *        the lowest K goes (ties: the least recently used), and on every hit
 *        K is recomputed with the current L.
 *
 * Why LFU-DA rather than a Redis-style decaying logarithmic counter: the
 * order is exact and deterministic (unit tests state which entry goes, and
 * the disk tier keeps the same order in an SQL index), it needs no wall
 * clock, and it ages at the rate the cache turns over, not by minutes: an
 * entry that earned F hits long ago keeps K = L_then + F while new entries
 * arrive at L_now + 1, so once the cache has evicted past L_then + F it goes
 * however many hits it once had ("yesterday's hit does not stay forever"),
 * while a cache under no pressure forgets nothing it does not need to.
 * Redis's counter needs sampling and a decay period tuned in minutes.
 *
 * Time is a logical tick (one per insert or hit), not the clock, so order
 * and aging are the same in tests and production.
 *
 * Layers:
 *  - struct evict_clock + struct evict_meta: the policy's arithmetic on the
 *    state each entry keeps (last, freq, prio) and the state the tier keeps
 *    (tick, age). The disk tier stores exactly these in its SQLite index and
 *    evicts in (prio, last) order with an SQL index, so a restart keeps both
 *    recency and frequency.
 *  - struct evict: an in-memory set of entries (struct evict_node embedded
 *    in the owner's objects) bounded in bytes, for the memory tier. lru is a
 *    doubly linked list (O(1) per operation), lfu a binary min-heap on
 *    (prio, last) (O(log n) per insert, hit, removal).
 *
 * Pinning: a pinned entry counts in the bytes but is never chosen as a
 * victim. Byte limits: evict_pop hands out victims while the accounted bytes
 * plus an incoming size exceed the limit; evict_fits says whether evicting
 * everything unpinned could make room at all.
 *
 * Locking: none inside. A struct evict belongs to its owner's lock (the
 * memory tier's LRU mutex), and so do the evict_node fields embedded in its
 * objects; every call must be made with that lock held, and none blocks,
 * allocates more than the heap array (LFU grows it by doubling), or logs.
 */
#ifndef CDN_EVICT_H
#define CDN_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum evict_policy { EVICT_LRU = 0, EVICT_LFU = 1 };

#define EVICT_FREQ_MAX UINT32_MAX

/* "lru" or "lfu" (any case) into *out; returns 0 or CDN_INVAL. */
int evict_policy_parse(const char *s, enum evict_policy *out);
/* "lru" or "lfu". */
const char *evict_policy_name(enum evict_policy p);

/* ---------------------------------------------------------------- arithmetic */

/* What each entry keeps, and a tier persists with it. */
struct evict_meta {
	uint64_t last;  /* tick of the last access (or of the insert) */
	uint64_t prio;  /* lowest is evicted first; lru: = last, lfu: L + freq */
	uint32_t freq;  /* accesses, the insert counting as one; saturates */
};

/* What a tier keeps besides its entries, and persists. */
struct evict_clock {
	enum evict_policy policy;
	uint64_t tick;  /* the next logical time; only grows */
	uint64_t age;   /* lfu's L: prio of the last victim (0 for lru) */
};

void evict_clock_init(struct evict_clock *c, enum evict_policy p);
/* State of a new entry. freq carries accesses known from elsewhere (another
 * tier, an older version of the object); 0 means a fresh entry (freq 1). */
void evict_meta_new(struct evict_clock *c, struct evict_meta *m, uint32_t freq);
/* Record hits (at least 1) accesses to the entry now. */
void evict_meta_hit(struct evict_clock *c, struct evict_meta *m, uint32_t hits);
/* The entry m was just evicted: lfu raises the age to its prio. */
void evict_clock_victim(struct evict_clock *c, const struct evict_meta *m);
/* Recompute prio from freq and last for c's policy (after a policy change,
 * with c->age the new policy's age). */
void evict_meta_rebase(const struct evict_clock *c, struct evict_meta *m);
/* Negative if a should be evicted before b, positive if after, 0 if equal. */
int evict_meta_cmp(const struct evict_meta *a, const struct evict_meta *b);

/* ---------------------------------------------------------------- the set */

#define EVICT_PIN 0x1u

/* Embedded in the owner's entry; fields are the evict module's (under the
 * owner's lock). 32 bytes on LP64. Zero it (or never mind: evict_insert
 * sets every field) before the first insert.
 *
 * Each policy keeps only what its order needs: lru the list links and the
 * last access (its prio is the last access; it keeps no count: nothing in
 * its order uses one, and evict_node_meta reports freq 1), lfu the heap
 * slot, the count and the prio. Both keep last at full width (lfu's ties
 * and a restore compare it), so neither order ever wraps. Pinned entries
 * are in neither order; their links or slot are unused. */
struct evict_node {
	union {
		struct {
			struct evict_node *prev, *next;
		} l;                    /* lru list; head is hottest */
		struct {
			uint64_t prio;  /* L + freq */
			uint32_t idx;   /* heap slot */
			uint32_t freq;  /* saturates at EVICT_FREQ_MAX */
		} h;                    /* lfu heap */
	} _u;
	uint64_t _last;                 /* tick of the last access */
	uint64_t _size : 62;            /* bytes (below 2^62) */
	uint64_t _pinned : 1;
	uint64_t _linked : 1;           /* in the set (pinned or not) */
};

struct evict;

struct evict_stats {
	enum evict_policy policy;
	uint64_t limit;
	uint64_t bytes;         /* all entries, pinned included */
	uint64_t entries;
	uint64_t pinned_bytes;
	uint64_t pinned_entries;
	uint64_t tick, age;
};

/* A new empty set holding at most limit bytes. Structural OOM aborts. */
struct evict *evict_new(enum evict_policy p, uint64_t limit);
/* Free the set and clear *ep. Entries still in it are forgotten (their
 * nodes are the owner's to free). */
void evict_free(struct evict **ep);

/* Add n (not in any set) as a new entry of size bytes. flags: EVICT_PIN.
 * freq as in evict_meta_new. Does not evict: call evict_pop afterwards (or
 * before, with the incoming size). */
void evict_insert(struct evict *e, struct evict_node *n, uint64_t size,
    unsigned flags, uint32_t freq);
/* Add n with persisted state m (restart). For lru, restoring in ascending
 * m->last order is O(1) each; any order is correct; lru orders by m->last
 * alone (its prio, see evict_meta_rebase) and keeps no freq. The clock's
 * tick is raised past m->last. */
void evict_restore(struct evict *e, struct evict_node *n, uint64_t size,
    unsigned flags, const struct evict_meta *m);
/* Record hits accesses (at least 1) to n, which is in the set. */
void evict_touch(struct evict *e, struct evict_node *n, uint32_t hits);
/* Take n out of the set (no aging: this is not an eviction). No effect if n
 * is not in it. */
void evict_remove(struct evict *e, struct evict_node *n);
/* Pin or unpin n, which is in the set. An unpinned entry rejoins as if just
 * accessed. */
void evict_set_pinned(struct evict *e, struct evict_node *n, bool pinned);

/* True if an entry of size bytes could be held: size plus the pinned bytes
 * is within the limit (evicting everything unpinned would make room). */
bool evict_fits(const struct evict *e, uint64_t size);
/* If the bytes plus incoming exceed the limit, take the coldest unpinned
 * entry out of the set, age the clock by it, and return it (the caller then
 * drops it from its index); otherwise, or if only pinned entries are left,
 * NULL. Call in a loop until NULL. */
struct evict_node *evict_pop(struct evict *e, uint64_t incoming);
/* The coldest unpinned entry, left in the set; NULL if none. */
struct evict_node *evict_peek(const struct evict *e);

/* n's state in e, for persisting it (lru: prio is last, freq 1). */
void evict_node_meta(const struct evict *e, const struct evict_node *n, struct evict_meta *m);
bool evict_node_linked(const struct evict_node *n);

void evict_get_clock(const struct evict *e, struct evict_clock *c);
/* Restore a persisted clock (policy must match the set's). */
void evict_set_clock(struct evict *e, const struct evict_clock *c);
void evict_get_stats(const struct evict *e, struct evict_stats *st);
/* Bytes of memory the set itself uses (struct and lfu heap array), nodes
 * excluded. */
size_t evict_mem(const struct evict *e);

#endif
