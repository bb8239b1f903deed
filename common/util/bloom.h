/*
 * bloom.h (module bloom_): a Bloom filter over byte strings, for "is this
 * key possibly on disk?" answered from memory.
 *
 * It is sized once, from the number of keys it must hold (capacity) and the
 * false-positive rate wanted when it holds that many:
 *     bits m = -capacity * ln(p) / ln(2)^2   (rounded up to 64-bit words)
 *     hashes k = round(m / capacity * ln 2) (1..16)
 * A key added is always found (no false negatives). Keys cannot be removed:
 * an owner that deletes keys counts them and rebuilds a new filter when
 * bloom_count() (adds, removed keys included) passes the capacity.
 *
 * Hashing: two independent 64-bit hashes of the key (our own multiply-mix
 * hash, two seeds), combined as h1 + i*h2 + i*i (enhanced double hashing,
 * Dillinger and Manolios), each mapped onto [0, m) by a multiply-shift.
 *
 * Threads: bloom_add and bloom_maybe may run at the same time from any
 * threads with no lock: bits are set with an atomic OR and read with atomic
 * loads. A bloom_maybe that starts after a bloom_add of the same key returned
 * (in the happens-before sense) finds it. bloom_free must not race with
 * anything.
 */
#ifndef CDN_BLOOM_H
#define CDN_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bloom;

/* A filter for capacity keys (at least 1) at false-positive rate fp_rate
 * (0 < fp_rate < 1) when full. Aborts if memory runs out (structural). */
struct bloom *bloom_new(uint64_t capacity, double fp_rate);
/* Free the filter and clear *bp. NULL *bp is fine. */
void bloom_free(struct bloom **bp);

/* Add a key. */
void bloom_add(struct bloom *b, const void *key, size_t len);
/* False: the key was never added. True: it probably was. */
bool bloom_maybe(const struct bloom *b, const void *key, size_t len);

/* Number of bloom_add calls so far (duplicates counted). */
uint64_t bloom_count(const struct bloom *b);
uint64_t bloom_capacity(const struct bloom *b);
uint64_t bloom_bits(const struct bloom *b);
unsigned bloom_hashes(const struct bloom *b);
/* Bytes of memory the filter uses, struct included. */
size_t bloom_mem(const struct bloom *b);
/* Expected false-positive rate at the current count:
 * (1 - e^(-k*n/m))^k. */
double bloom_fp_expected(const struct bloom *b);

/* The 64-bit hash the filter uses, exposed for tests and for owners that
 * want a well-mixed key hash. */
uint64_t bloom_hash64(const void *key, size_t len, uint64_t seed);

#endif
