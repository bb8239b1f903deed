/*
 * bloom.c: a fixed-size Bloom filter with lock-free adds and queries.
 *
 * Main design choice: the bit array is an array of atomic 64-bit words, so
 * the disk tier can answer "not on disk" from any worker thread without a
 * lock, while the thread that stores an object adds its key. Positions come
 * from enhanced double hashing over two 64-bit hashes, mapped with a
 * multiply-shift (no modulo, and no power-of-two size constraint).
 *
 * The filter itself is not persisted; it is rebuilt from the disk index at
 * start, so the hash needs no stability across versions.
 */
#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/bloom.h"
#include "util/mem.h"
#include "util/vas.h"

#define BLOOM_MAX_HASHES 16u
#define SEED1 0x9e3779b97f4a7c15ULL
#define SEED2 0xc2b2ae3d27d4eb4fULL

struct bloom {
	uint64_t nbits;                 /* const, a multiple of 64 */
	uint64_t capacity;              /* const */
	unsigned nhashes;               /* const */
	atomic_uint_fast64_t count;
	atomic_uint_least64_t *words;   /* nbits / 64 of them */
};

static uint64_t rotl64(uint64_t x, unsigned r);
static uint64_t fmix64(uint64_t h);
static uint64_t map_bit(uint64_t g, uint64_t nbits);

/* ---------------------------------------------------------------- hash */

static uint64_t
rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

/* A 64-bit avalanche (every input bit flips each output bit with
 * probability about 1/2), the constants of MurmurHash3's finaliser. */
static uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t
bloom_hash64(const void *key, size_t len, uint64_t seed)
{
	const unsigned char *p = key;
	uint64_t h = seed ^ ((uint64_t)len * 0x87c37b91114253d5ULL);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		w *= 0x87c37b91114253d5ULL;
		w = rotl64(w, 31);
		w *= 0x4cf5ad432745937fULL;
		h ^= w;
		h = rotl64(h, 27) * 5 + 0x52dce729;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		w *= 0x87c37b91114253d5ULL;
		w = rotl64(w, 31);
		w *= 0x4cf5ad432745937fULL;
		h ^= w;
	}
	return fmix64(h);
}

/* Map a 64-bit value onto [0, nbits) using its high bits (Lemire's
 * multiply-shift), which are the best-mixed ones. */
static uint64_t
map_bit(uint64_t g, uint64_t nbits)
{
	return (uint64_t)(((unsigned __int128)g * nbits) >> 64);
}

/* ---------------------------------------------------------------- API */

struct bloom *
bloom_new(uint64_t capacity, double fp_rate)
{
	struct bloom *b = xcalloc(1, sizeof *b);
	double m, k;

	AN(fp_rate > 0.0 && fp_rate < 1.0);
	if (capacity == 0)
		capacity = 1;
	m = ceil(-(double)capacity * log(fp_rate) / (M_LN2 * M_LN2));
	if (m < 64)
		m = 64;
	b->nbits = ((uint64_t)m + 63) / 64 * 64;
	k = round((double)b->nbits / (double)capacity * M_LN2);
	if (k < 1)
		k = 1;
	if (k > BLOOM_MAX_HASHES)
		k = BLOOM_MAX_HASHES;
	b->nhashes = (unsigned)k;
	b->capacity = capacity;
	atomic_init(&b->count, 0);
	b->words = xcalloc(b->nbits / 64, sizeof *b->words);
	return b;
}

void
bloom_free(struct bloom **bp)
{
	struct bloom *b = *bp;

	*bp = NULL;
	if (b == NULL)
		return;
	free(b->words);
	free(b);
}

void
bloom_add(struct bloom *b, const void *key, size_t len)
{
	uint64_t h1 = bloom_hash64(key, len, SEED1);
	uint64_t h2 = bloom_hash64(key, len, SEED2);

	for (uint64_t i = 0; i < b->nhashes; i++) {
		uint64_t bit = map_bit(h1 + i * h2 + i * i, b->nbits);

		atomic_fetch_or_explicit(&b->words[bit / 64], 1ULL << (bit % 64),
		    memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&b->count, 1, memory_order_relaxed);
}

bool
bloom_maybe(const struct bloom *b, const void *key, size_t len)
{
	uint64_t h1 = bloom_hash64(key, len, SEED1);
	uint64_t h2 = bloom_hash64(key, len, SEED2);

	for (uint64_t i = 0; i < b->nhashes; i++) {
		uint64_t bit = map_bit(h1 + i * h2 + i * i, b->nbits);
		uint64_t w = atomic_load_explicit(&b->words[bit / 64], memory_order_relaxed);

		if (!(w & (1ULL << (bit % 64))))
			return false;
	}
	return true;
}

uint64_t
bloom_count(const struct bloom *b)
{
	return atomic_load_explicit(&b->count, memory_order_relaxed);
}

uint64_t
bloom_capacity(const struct bloom *b)
{
	return b->capacity;
}

uint64_t
bloom_bits(const struct bloom *b)
{
	return b->nbits;
}

unsigned
bloom_hashes(const struct bloom *b)
{
	return b->nhashes;
}

size_t
bloom_mem(const struct bloom *b)
{
	return sizeof *b + (size_t)(b->nbits / 8);
}

double
bloom_fp_expected(const struct bloom *b)
{
	double k = b->nhashes, n = (double)bloom_count(b), m = (double)b->nbits;

	return pow(1.0 - exp(-k * n / m), k);
}
