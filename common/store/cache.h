/*
 * cache.h (module cache_): the memory tier: a hash index of objects by key
 * and an LRU bounded in bytes.
 *
 * Locks: the index is split into buckets, each chain guarded by one of
 * CACHE_NLOCKS striped mutexes (named "cache.bucket"); the LRU list and the
 * byte count have one mutex ("cache.lru"). Lock order: bucket, then LRU;
 * eviction takes the LRU lock alone, releases it, then the bucket lock.
 * No I/O and no logging happens under either.
 *
 * The index holds one reference on each object in it. Objects enter the
 * index BUSY (so concurrent misses find the fill and wait on it: request
 * coalescing), and enter the LRU and the byte count when cache_commit is
 * called on completion. Which object leaves first is the eviction set's
 * business (store/evict: lru, or lfu with dynamic aging).
 */
#ifndef CDN_CACHE_H
#define CDN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct hdrs;
struct obj;
struct cache;

struct cache_stats {
	const char *policy; /* "lru" or "lfu" */
	uint64_t objects;   /* in the index, busy ones included */
	uint64_t bytes;     /* accounted (committed) bytes */
	uint64_t limit;
	uint64_t evictions;
};

struct cache *cache_new(uint64_t byte_limit);
/* As cache_new, with an eviction policy (store/evict.h: EVICT_LRU, EVICT_LFU
 * with dynamic aging). */
struct cache *cache_new_policy(uint64_t byte_limit, int policy);
/* Drop every object (their references) and free the cache. */
void cache_free(struct cache **cp);

/* Look key up. Returns the object with a reference for the caller, or NULL. */
struct obj *cache_lookup(struct cache *c, const char *key, size_t keylen, uint64_t hash);

/* Insert busy (a new object) unless key is already there. Returns the object
 * now indexed under the key, with a reference for the caller: busy itself
 * (the index took its own reference) or the one that was there first. */
struct obj *cache_insert(struct cache *c, struct obj *busy);

/* Put busy in place of old, if old is still the indexed object; returns true
 * then. Otherwise returns false and leaves everything unchanged. */
bool cache_replace(struct cache *c, struct obj *old, struct obj *busy);

/* Move o, which the caller owns a reference to and which no other thread
 * reads the key of, to a new key: out of the index, key changed, then in
 * under the new key, replacing whatever was indexed there. */
void cache_rekey(struct cache *c, struct obj *o, char *newkey, size_t newlen);

/* Index o under its key, replacing whatever is there. */
void cache_put(struct cache *c, struct obj *o);

/* Remove what is stored for a URL key: the object under the key and the
 * URL's vary marker, which makes all its variants unreachable. Returns the
 * number of entries removed. */
unsigned cache_purge_url(struct cache *c, const char *key, size_t keylen);

/* Visit every indexed object (busy ones included) with its bucket lock
 * held: fn must be quick and must not call into the cache, take locks or do
 * I/O. Every object for which fn returns true is removed afterwards (outside
 * the lock). Returns how many were removed. For purges by prefix or tag. */
unsigned cache_foreach_remove(struct cache *c, bool (*fn)(const struct obj *o, void *arg),
    void *arg);

/* Is o the object indexed under its key right now? */
bool cache_contains(struct cache *c, const struct obj *o);

/* Called with each key a purge removes (cache_purge_url, including the
 * vary marker key, and cache_foreach_remove), outside every cache lock, so
 * a lower tier can drop its copy too. */
void cache_set_purge_hook(struct cache *c, void (*fn)(void *arg, const char *key, size_t len),
    void *arg);

/* The tier below (disk): purges by prefix, tag or everything must reach
 * what only it holds. remove_matching removes every entry fn says true for
 * (key and stored fields) and returns how many, or a negative error. */
typedef bool cache_match_fn(const char *key, size_t keylen, const struct hdrs *h, void *arg);
void cache_set_lower(struct cache *c,
    int (*remove_matching)(void *lower, cache_match_fn *fn, void *arg), void *lower);
/* Apply fn to the tier below; 0 when there is none. */
int cache_lower_remove_matching(struct cache *c, cache_match_fn *fn, void *arg);

/* Take o out of the index and the LRU if it is there; true if it was. */
bool cache_remove(struct cache *c, struct obj *o);

/* Account a completed object in the LRU and evict from the cold end until
 * the byte limit holds. No effect if o left the index meanwhile. */
void cache_commit(struct cache *c, struct obj *o, time_t now);

/* Note a hit: moves o to the hot end at most once per second per object,
 * and only if the LRU lock is free (an approximate LRU, as Varnish's). */
void cache_touch(struct cache *c, struct obj *o, time_t now);

void cache_get_stats(struct cache *c, struct cache_stats *st);

#endif
