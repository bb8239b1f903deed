/*
 * cache.c: the memory tier. A fixed-size hash table of chained objects with
 * striped bucket locks, plus one LRU list bounded in bytes.
 *
 * Main design choice: hits take one bucket lock for the lookup and, at most
 * once a second per object, a trylock on the LRU; they never wait on the LRU
 * lock. Eviction runs in the thread that commits a new object, unlinks
 * victims from the LRU under its lock, then removes each from the index
 * under its bucket lock, and drops the index's reference with no lock held,
 * so the last free never happens under a cache lock.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "http/key.h"
#include "store/cache.h"
#include "store/evict.h"
#include "store/obj.h"
#include "util/mem.h"
#include "util/vas.h"

#define CACHE_NBUCKETS (1u << 16)
#define CACHE_NLOCKS   256u
#define CACHE_OBJ_OVERHEAD 256u   /* bytes charged per object beyond body + headers */

struct cache {
	struct obj **buckets;                    /* (bucket lock) */
	pthread_mutex_t locks[CACHE_NLOCKS];
	atomic_uint_fast64_t nobjects;

	pthread_mutex_t lru_mtx;
	struct evict *ev;                        /* (lru_mtx) the eviction set */
	uint64_t bytes;                          /* (lru_mtx) */
	uint64_t limit;                          /* const */
	atomic_uint_fast64_t evictions;
	void (*purge_hook)(void *arg, const char *key, size_t len); /* set before use */
	void *purge_arg;
	int (*lower_remove)(void *lower, cache_match_fn *fn, void *arg); /* set before use */
	void *lower;
};

static pthread_mutex_t *bucket_lock(struct cache *c, uint64_t hash);
static uint64_t acct_of(const struct obj *o);
static struct obj **find_locked(struct cache *c, const char *key, size_t keylen, uint64_t hash);
static void lru_unlink_locked(struct cache *c, struct obj *o);
static void lru_push_head_locked(struct cache *c, struct obj *o);
static bool index_remove(struct cache *c, struct obj *o);

struct cache *
cache_new(uint64_t byte_limit)
{
	return cache_new_policy(byte_limit, EVICT_LRU);
}

struct cache *
cache_new_policy(uint64_t byte_limit, int policy)
{
	struct cache *c = xcalloc(1, sizeof *c);

	/* The set counts the same bytes as c->bytes and pops while over. */
	c->ev = evict_new((enum evict_policy)policy, byte_limit);
	c->buckets = xcalloc(CACHE_NBUCKETS, sizeof *c->buckets);
	for (unsigned i = 0; i < CACHE_NLOCKS; i++)
		PTOK(pthread_mutex_init(&c->locks[i], NULL));
	PTOK(pthread_mutex_init(&c->lru_mtx, NULL));
	c->limit = byte_limit;
	return c;
}

void
cache_free(struct cache **cp)
{
	struct cache *c = *cp;

	*cp = NULL;
	if (c == NULL)
		return;
	for (unsigned b = 0; b < CACHE_NBUCKETS; b++) {
		struct obj *o = c->buckets[b], *next;

		while (o != NULL) {
			next = o->_hnext;
			o->_hnext = NULL;
			o->_in_index = false;
			evict_remove(c->ev, &o->_ev);   /* no effect if not in it */
			obj_unref(&o);
			o = next;
		}
	}
	for (unsigned i = 0; i < CACHE_NLOCKS; i++)
		PTOK(pthread_mutex_destroy(&c->locks[i]));
	PTOK(pthread_mutex_destroy(&c->lru_mtx));
	evict_free(&c->ev);
	free(c->buckets);
	free(c);
}

/* The bytes o is charged in the tier. Not kept in the object: what it is
 * made of does not change while o is in the tier (a complete object's body
 * and fields are immutable, and a re-keyed object leaves the tier first). */
static uint64_t
acct_of(const struct obj *o)
{
	return o->len + hdrs_size(&o->hdrs) + o->keylen + CACHE_OBJ_OVERHEAD;
}

static pthread_mutex_t *
bucket_lock(struct cache *c, uint64_t hash)
{
	/* Bucket b is guarded by lock b % CACHE_NLOCKS (CACHE_NBUCKETS is a
	 * multiple of it), so a walk can take each lock once for its buckets. */
	return &c->locks[(hash % CACHE_NBUCKETS) % CACHE_NLOCKS];
}

static struct obj **
find_locked(struct cache *c, const char *key, size_t keylen, uint64_t hash)
{
	struct obj **pp = &c->buckets[hash % CACHE_NBUCKETS];

	for (; *pp != NULL; pp = &(*pp)->_hnext) {
		struct obj *o = *pp;

		if (o->keylen == keylen && memcmp(o->key, key, keylen) == 0)
			return pp;
	}
	return pp;
}

struct obj *
cache_lookup(struct cache *c, const char *key, size_t keylen, uint64_t hash)
{
	pthread_mutex_t *m = bucket_lock(c, hash);
	struct obj *o;

	PTOK(pthread_mutex_lock(m));
	o = *find_locked(c, key, keylen, hash);
	if (o != NULL)
		obj_ref(o);
	PTOK(pthread_mutex_unlock(m));
	return o;
}

struct obj *
cache_insert(struct cache *c, struct obj *busy)
{
	uint64_t hash = obj_hash(busy);
	pthread_mutex_t *m = bucket_lock(c, hash);
	struct obj **pp, *o;

	CHECK_OBJ_NOTNULL(busy, OBJ_MAGIC);
	PTOK(pthread_mutex_lock(m));
	pp = find_locked(c, busy->key, busy->keylen, hash);
	o = *pp;
	if (o == NULL) {
		o = busy;
		AZ(o->_in_index);
		o->_hnext = NULL;
		o->_in_index = true;
		*pp = o;
		obj_ref(o);             /* the index's reference */
		atomic_fetch_add(&c->nobjects, 1);
	}
	obj_ref(o);                     /* the caller's */
	PTOK(pthread_mutex_unlock(m));
	return o;
}

bool
cache_replace(struct cache *c, struct obj *old, struct obj *busy)
{
	uint64_t hash = obj_hash(old);
	pthread_mutex_t *m = bucket_lock(c, hash);
	struct obj **pp;
	bool done = false;

	AZ(busy->keylen != old->keylen || memcmp(busy->key, old->key, old->keylen) != 0);
	PTOK(pthread_mutex_lock(m));
	pp = find_locked(c, old->key, old->keylen, hash);
	if (*pp == old) {
		busy->_hnext = old->_hnext;
		busy->_in_index = true;
		obj_ref(busy);
		*pp = busy;
		old->_hnext = NULL;
		old->_in_index = false;
		PTOK(pthread_mutex_lock(&c->lru_mtx));
		if (evict_node_linked(&old->_ev))
			lru_unlink_locked(c, old);
		PTOK(pthread_mutex_unlock(&c->lru_mtx));
		done = true;
	}
	PTOK(pthread_mutex_unlock(m));
	if (done)
		obj_unref(&old);        /* the index's reference, outside the lock */
	return done;
}

/* Remove o from its chain; returns true if it was there (the caller then
 * owns the index's reference). */
static bool
index_remove(struct cache *c, struct obj *o)
{
	uint64_t hash = obj_hash(o);
	pthread_mutex_t *m = bucket_lock(c, hash);
	struct obj **pp;
	bool found = false;

	PTOK(pthread_mutex_lock(m));
	pp = find_locked(c, o->key, o->keylen, hash);
	if (*pp == o) {
		*pp = o->_hnext;
		o->_hnext = NULL;
		o->_in_index = false;
		found = true;
		atomic_fetch_sub(&c->nobjects, 1);
		PTOK(pthread_mutex_lock(&c->lru_mtx));
		if (evict_node_linked(&o->_ev))
			lru_unlink_locked(c, o);
		PTOK(pthread_mutex_unlock(&c->lru_mtx));
	}
	PTOK(pthread_mutex_unlock(m));
	return found;
}

void
cache_rekey(struct cache *c, struct obj *o, char *newkey, size_t newlen)
{
	cache_remove(c, o);
	obj_set_key(o, newkey, newlen);
	cache_put(c, o);
}

void
cache_put(struct cache *c, struct obj *o)
{
	struct obj *cur;

	for (;;) {
		cur = cache_insert(c, o);
		if (cur == o) {
			obj_unref(&cur);
			return;
		}
		/* Another object holds the key: o replaces it. */
		if (cache_replace(c, cur, o)) {
			obj_unref(&cur);
			return;
		}
		obj_unref(&cur);
	}
}

void
cache_set_lower(struct cache *c, int (*remove_matching)(void *lower, cache_match_fn *fn, void *arg),
    void *lower)
{
	c->lower_remove = remove_matching;
	c->lower = lower;
}

int
cache_lower_remove_matching(struct cache *c, cache_match_fn *fn, void *arg)
{
	return c->lower_remove != NULL ? c->lower_remove(c->lower, fn, arg) : 0;
}

bool
cache_contains(struct cache *c, const struct obj *o)
{
	uint64_t hash = obj_hash(o);
	pthread_mutex_t *m = bucket_lock(c, hash);
	bool in;

	PTOK(pthread_mutex_lock(m));
	in = *find_locked(c, o->key, o->keylen, hash) == o;
	PTOK(pthread_mutex_unlock(m));
	return in;
}

void
cache_set_purge_hook(struct cache *c, void (*fn)(void *arg, const char *key, size_t len), void *arg)
{
	c->purge_hook = fn;
	c->purge_arg = arg;
}

unsigned
cache_foreach_remove(struct cache *c, bool (*fn)(const struct obj *o, void *arg), void *arg)
{
	struct obj **hits = NULL;
	size_t n = 0, cap = 0;
	unsigned removed = 0;

	for (unsigned lk = 0; lk < CACHE_NLOCKS; lk++) {
		PTOK(pthread_mutex_lock(&c->locks[lk]));
		for (unsigned b = lk; b < CACHE_NBUCKETS; b += CACHE_NLOCKS) {
			for (struct obj *o = c->buckets[b]; o != NULL; o = o->_hnext) {
				if (!fn(o, arg))
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					hits = xrealloc(hits, cap * sizeof *hits);
				}
				obj_ref(o);
				hits[n++] = o;
			}
		}
		PTOK(pthread_mutex_unlock(&c->locks[lk]));
	}
	for (size_t i = 0; i < n; i++) {
		struct obj *o = hits[i];

		atomic_store(&o->_purged, true);
		if (cache_remove(c, o))
			removed++;
		if (c->purge_hook != NULL)
			c->purge_hook(c->purge_arg, o->key, o->keylen);
		obj_unref(&o);
	}
	free(hits);
	return removed;
}

unsigned
cache_purge_url(struct cache *c, const char *key, size_t keylen)
{
	size_t mlen;
	char *mkey = key_marker(key, keylen, &mlen);
	struct obj *o;
	unsigned n = 0;

	if ((o = cache_lookup(c, key, keylen, key_hash(key, keylen))) != NULL) {
		atomic_store(&o->_purged, true);
		cache_remove(c, o);
		obj_unref(&o);
		n++;
	}
	if ((o = cache_lookup(c, mkey, mlen, key_hash(mkey, mlen))) != NULL) {
		atomic_store(&o->_purged, true);
		cache_remove(c, o);
		obj_unref(&o);
		n++;
	}
	if (c->purge_hook != NULL) {
		c->purge_hook(c->purge_arg, key, keylen);
		c->purge_hook(c->purge_arg, mkey, mlen);
	}
	free(mkey);
	return n;
}

bool
cache_remove(struct cache *c, struct obj *o)
{
	struct obj *ref = o;

	if (!index_remove(c, o))
		return false;
	obj_unref(&ref);
	return true;
}

/* The object's node is its membership: in the eviction set is
 * evict_node_linked(&o->_ev), read and changed under lru_mtx. */
static void
lru_unlink_locked(struct cache *c, struct obj *o)
{
	AN(evict_node_linked(&o->_ev));
	evict_remove(c->ev, &o->_ev);
	c->bytes -= acct_of(o);
}

static void
lru_push_head_locked(struct cache *c, struct obj *o)
{
	evict_insert(c->ev, &o->_ev, acct_of(o), 0, 0);
	c->bytes += acct_of(o);
}

static struct obj *
obj_of_node(struct evict_node *n)
{
	return (struct obj *)(void *)((char *)n - offsetof(struct obj, _ev));
}

void
cache_commit(struct cache *c, struct obj *o, time_t now)
{
	pthread_mutex_t *m = bucket_lock(c, obj_hash(o));
	struct obj *victims[64];
	unsigned nv;

	/* Bucket lock first: o must still be indexed when it joins the LRU, or
	 * a concurrent remove would leave it accounted forever. */
	PTOK(pthread_mutex_lock(m));
	if (o->_in_index) {
		PTOK(pthread_mutex_lock(&c->lru_mtx));
		if (!evict_node_linked(&o->_ev)) {
			o->_touched = (uint16_t)now;
			lru_push_head_locked(c, o);
		}
		PTOK(pthread_mutex_unlock(&c->lru_mtx));
	}
	PTOK(pthread_mutex_unlock(m));

	do {
		nv = 0;
		PTOK(pthread_mutex_lock(&c->lru_mtx));
		while (c->bytes > c->limit && nv < ARRAY_LEN(victims)) {
			struct evict_node *n = evict_pop(c->ev, 0);
			struct obj *v;

			if (n == NULL)
				break;
			v = obj_of_node(n);
			/* evict_pop took it out of the set already. */
			c->bytes -= acct_of(v);
			obj_ref(v);     /* keep it alive until it leaves the index */
			victims[nv++] = v;
		}
		PTOK(pthread_mutex_unlock(&c->lru_mtx));
		for (unsigned i = 0; i < nv; i++) {
			struct obj *v = victims[i];

			if (index_remove(c, v)) {
				struct obj *iref = v;

				obj_unref(&iref);
				atomic_fetch_add(&c->evictions, 1);
			}
			obj_unref(&v);
		}
	} while (nv == ARRAY_LEN(victims));
}

void
cache_touch(struct cache *c, struct obj *o, time_t now)
{
	unsigned hits;

	/* Count every hit (lfu needs them), tell the set at most once a second
	 * per object and only when the lock is free (an approximate order, as
	 * Varnish's LRU_Touch). */
	atomic_fetch_add_explicit(&o->_hits, 1, memory_order_relaxed);
	if (o->_touched == (uint16_t)now)
		return;
	if (pthread_mutex_trylock(&c->lru_mtx) != 0)
		return;
	hits = atomic_exchange(&o->_hits, 0);
	if (evict_node_linked(&o->_ev) && hits > 0)
		evict_touch(c->ev, &o->_ev, hits);
	o->_touched = (uint16_t)now;
	PTOK(pthread_mutex_unlock(&c->lru_mtx));
}

void
cache_get_stats(struct cache *c, struct cache_stats *st)
{
	st->objects = atomic_load(&c->nobjects);
	PTOK(pthread_mutex_lock(&c->lru_mtx));
	{
		struct evict_stats es;

		evict_get_stats(c->ev, &es);
		st->policy = evict_policy_name(es.policy);
	}
	st->bytes = c->bytes;
	PTOK(pthread_mutex_unlock(&c->lru_mtx));
	st->limit = c->limit;
	st->evictions = atomic_load(&c->evictions);
}
