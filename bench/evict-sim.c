/*
 * evict-sim.c: hit ratios of the eviction policies on synthetic traces, and
 * the memory their structures take per object (a measurement, not a test).
 *
 *   evict-sim [-n OBJECTS] [-r REQUESTS] [-c CACHE_PERCENT] [-a ALPHA] [-s SEED]
 *
 * Defaults: 100,000 objects, 1,000,000 requests, a cache holding 10 % of
 * the objects, Zipf exponent 0.9, seed 1. Every object has the same size,
 * so the ratios are object hit ratios. The policies are store/evict itself,
 * driven as the memory tier drives it (touch on a hit; on a miss, pop
 * victims until the newcomer fits, then insert), next to Belady's optimal
 * policy (evict the object used farthest in the future; do not admit one
 * used later than everything cached) as the upper bound.
 *
 * Traces:
 *   zipf           REQUESTS draws from Zipf(ALPHA) over OBJECTS.
 *   zipf+scans     the same popularity, but 20 % of the requests are 50
 *                  sequential scans of REQUESTS/250 objects each requested
 *                  once (a crawler, a backup, a cache warm-up of cold
 *                  content), at random points of the trace.
 *   zipf+shift     Zipf, but at half time the ranking is redrawn: a new set
 *                  of objects is hot. Also reported over the second half,
 *                  to show how fast a policy forgets the old hot set.
 * Then a sweep of cache sizes on the zipf trace, and the memory table.
 */
#include "config.h"

#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/evict.h"

#define NO_NEXT UINT32_MAX

struct trace {
	uint32_t *id;
	uint32_t n;             /* requests */
	uint32_t nids;          /* distinct ids are < nids */
	uint32_t half;          /* index where the second phase starts (0: none) */
	uint8_t *scan;          /* 1 for a scan request (NULL: none) */
};

struct ent {
	struct evict_node node;
};

struct result {
	double all, zipf_only, second_half;
};

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rng_unit(void)
{
	return (double)(rng() >> 11) / 9007199254740992.0;
}

/* Cumulative Zipf(alpha) over n ranks. */
static double *
zipf_cdf(uint32_t n, double alpha)
{
	double *cdf = malloc(n * sizeof *cdf), sum = 0;

	for (uint32_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), alpha);
		cdf[i] = sum;
	}
	for (uint32_t i = 0; i < n; i++)
		cdf[i] /= sum;
	return cdf;
}

static uint32_t
zipf_draw(const double *cdf, uint32_t n)
{
	double u = rng_unit();
	uint32_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A random permutation of 0..n-1: rank -> object id. */
static uint32_t *
permutation(uint32_t n)
{
	uint32_t *p = malloc(n * sizeof *p);

	for (uint32_t i = 0; i < n; i++)
		p[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng() % (i + 1)), t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	return p;
}

static void
trace_zipf(struct trace *t, uint32_t nobj, uint32_t nreq, const double *cdf, bool shift)
{
	uint32_t *perm = permutation(nobj);

	t->id = malloc(nreq * sizeof *t->id);
	t->n = nreq;
	t->nids = nobj;
	t->half = shift ? nreq / 2 : 0;
	t->scan = NULL;
	for (uint32_t i = 0; i < nreq; i++) {
		if (shift && i == nreq / 2) {
			free(perm);
			perm = permutation(nobj);
		}
		t->id[i] = perm[zipf_draw(cdf, nobj)];
	}
	free(perm);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* 20 % of the requests in nscans sequential scans of one-time objects. */
static void
trace_scans(struct trace *t, uint32_t nobj, uint32_t nreq, const double *cdf)
{
	uint32_t nscans = 50, len = nreq / 250, nzipf = nreq - nscans * len;
	uint32_t *at = malloc(nscans * sizeof *at), *perm = permutation(nobj);
	uint32_t next_new = nobj, zi = 0, si = 0, o = 0;

	for (uint32_t s = 0; s < nscans; s++)
		at[s] = (uint32_t)(rng() % nzipf);
	qsort(at, nscans, sizeof *at, cmp_u32);
	t->id = malloc(nreq * sizeof *t->id);
	t->scan = calloc(nreq, 1);
	t->n = nreq;
	t->half = 0;
	while (o < nreq) {
		if (si < nscans && at[si] == zi) {
			for (uint32_t k = 0; k < len; k++) {
				t->scan[o] = 1;
				t->id[o++] = next_new++;
			}
			si++;
			continue;
		}
		t->id[o++] = perm[zipf_draw(cdf, nobj)];
		zi++;
	}
	t->nids = next_new;
	free(at);
	free(perm);
}

static void
trace_free(struct trace *t)
{
	free(t->id);
	free(t->scan);
}

static void
tally(struct result *r, const struct trace *t, const uint8_t *hit)
{
	uint64_t h = 0, hz = 0, nz = 0, h2 = 0;

	for (uint32_t i = 0; i < t->n; i++) {
		h += hit[i];
		if (t->scan == NULL || !t->scan[i]) {
			nz++;
			hz += hit[i];
		}
		if (t->half && i >= t->half)
			h2 += hit[i];
	}
	r->all = (double)h / t->n;
	r->zipf_only = nz ? (double)hz / (double)nz : 0;
	r->second_half = t->half ? (double)h2 / (double)(t->n - t->half) : 0;
}

static void
sim_policy(struct result *r, const struct trace *t, enum evict_policy p, uint64_t cap)
{
	struct evict *e = evict_new(p, cap);
	struct ent *ents = calloc(t->nids, sizeof *ents);
	uint8_t *hit = malloc(t->n);

	for (uint32_t i = 0; i < t->n; i++) {
		struct evict_node *n = &ents[t->id[i]].node;

		hit[i] = evict_node_linked(n);
		if (hit[i]) {
			evict_touch(e, n, 1);
			continue;
		}
		while (evict_pop(e, 1) != NULL)
			;
		evict_insert(e, n, 1, 0, 0);
	}
	tally(r, t, hit);
	evict_free(&e);
	free(ents);
	free(hit);
}

/* ---------------------------------------------------------------- Belady */

struct opt {
	uint32_t *heap;         /* ids, max-heap on next use */
	uint32_t *pos;          /* id -> heap slot + 1, 0 if not cached */
	uint32_t *nextuse;      /* id -> index of its next request */
	uint32_t len;
};

static void
opt_swap(struct opt *o, uint32_t a, uint32_t b)
{
	uint32_t t = o->heap[a];

	o->heap[a] = o->heap[b];
	o->heap[b] = t;
	o->pos[o->heap[a]] = a + 1;
	o->pos[o->heap[b]] = b + 1;
}

static void
opt_fix(struct opt *o, uint32_t i)
{
	while (i > 0 && o->nextuse[o->heap[(i - 1) / 2]] < o->nextuse[o->heap[i]]) {
		opt_swap(o, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;

		if (l < o->len && o->nextuse[o->heap[l]] > o->nextuse[o->heap[m]])
			m = l;
		if (l + 1 < o->len && o->nextuse[o->heap[l + 1]] > o->nextuse[o->heap[m]])
			m = l + 1;
		if (m == i)
			break;
		opt_swap(o, i, m);
		i = m;
	}
}

static void
sim_opt(struct result *r, const struct trace *t, uint32_t cap)
{
	uint32_t *next = malloc(t->n * sizeof *next), *last = malloc(t->nids * sizeof *last);
	struct opt o = { malloc(cap * sizeof(uint32_t)), calloc(t->nids, sizeof(uint32_t)),
	    malloc(t->nids * sizeof(uint32_t)), 0 };
	uint8_t *hit = malloc(t->n);

	for (uint32_t i = 0; i < t->nids; i++)
		last[i] = NO_NEXT;
	for (uint32_t i = t->n; i-- > 0;) {
		next[i] = last[t->id[i]];
		last[t->id[i]] = i;
	}
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t id = t->id[i];

		o.nextuse[id] = next[i];
		hit[i] = o.pos[id] != 0;
		if (hit[i]) {
			opt_fix(&o, o.pos[id] - 1);
			continue;
		}
		if (next[i] == NO_NEXT)
			continue;       /* never used again: do not admit */
		if (o.len == cap) {
			uint32_t far = o.heap[0];

			if (o.nextuse[far] <= next[i])
				continue;   /* everything cached is needed sooner */
			o.pos[far] = 0;
			o.heap[0] = o.heap[--o.len];
			o.pos[o.heap[0]] = 1;
			if (o.len > 0)
				opt_fix(&o, 0);
		}
		o.heap[o.len] = id;
		o.pos[id] = ++o.len;
		opt_fix(&o, o.len - 1);
	}
	tally(r, t, hit);
	free(next);
	free(last);
	free(o.heap);
	free(o.pos);
	free(o.nextuse);
	free(hit);
}

/* ---------------------------------------------------------------- memory */

/* Heap bytes per object of a set holding n entries, nodes included, as
 * malloc sees it (mallinfo2: what the allocator handed out). */
static double
mem_per_object(enum evict_policy p, uint32_t n, size_t *set_bytes)
{
	struct mallinfo2 before = mallinfo2(), after;
	struct evict *e = evict_new(p, UINT64_MAX);
	struct ent *ents = calloc(n, sizeof *ents);
	double per;

	for (uint32_t i = 0; i < n; i++)
		evict_insert(e, &ents[i].node, 1, 0, 0);
	after = mallinfo2();
	per = (double)((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd)) / n;
	*set_bytes = evict_mem(e);
	evict_free(&e);
	free(ents);
	return per;
}

/* ---------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr, "usage: evict-sim [-n OBJECTS] [-r REQUESTS] [-c CACHE_PERCENT] "
	    "[-a ALPHA] [-s SEED]\n");
	exit(2);
}

static void
row(const char *name, const struct trace *t, uint32_t cap)
{
	struct result lru, lfu, opt;

	sim_policy(&lru, t, EVICT_LRU, cap);
	sim_policy(&lfu, t, EVICT_LFU, cap);
	sim_opt(&opt, t, cap);
	printf("%-34s %7.2f%% %7.2f%% %7.2f%%\n", name, lru.all * 100, lfu.all * 100,
	    opt.all * 100);
	if (t->scan != NULL)
		printf("%-34s %7.2f%% %7.2f%% %7.2f%%\n", "  (its zipf requests only)",
		    lru.zipf_only * 100, lfu.zipf_only * 100, opt.zipf_only * 100);
	if (t->half)
		printf("%-34s %7.2f%% %7.2f%% %7.2f%%\n", "  (second half only)",
		    lru.second_half * 100, lfu.second_half * 100, opt.second_half * 100);
}

int
main(int argc, char **argv)
{
	uint32_t nobj = 100000, nreq = 1000000;
	double pct = 10, alpha = 0.9;
	uint64_t seed = 1;
	struct trace t;
	double *cdf;
	uint32_t cap;
	char name[64];
	int ch;

	while ((ch = getopt(argc, argv, "n:r:c:a:s:h")) != -1) {
		switch (ch) {
		case 'n': nobj = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': nreq = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': pct = strtod(optarg, NULL); break;
		case 'a': alpha = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (nobj < 10 || nreq < 1000 || !(pct > 0 && pct <= 100) || !(alpha > 0))
		usage();
	cap = (uint32_t)(nobj * pct / 100);
	rng_state = seed;
	cdf = zipf_cdf(nobj, alpha);

	printf("hit ratio: %u requests over %u objects, cache of %u objects (%.0f %%), "
	    "Zipf(%.2f), seed %llu\n\n", nreq, nobj, cap, pct, alpha, (unsigned long long)seed);
	printf("%-34s %8s %8s %8s\n", "trace", "lru", "lfu", "optimal");
	snprintf(name, sizeof name, "zipf(%.2f)", alpha);
	trace_zipf(&t, nobj, nreq, cdf, false);
	row(name, &t, cap);
	trace_free(&t);
	snprintf(name, sizeof name, "zipf(%.2f) + scans (20 %%)", alpha);
	trace_scans(&t, nobj, nreq, cdf);
	row(name, &t, cap);
	trace_free(&t);
	snprintf(name, sizeof name, "zipf(%.2f), hot set moves at 50 %%", alpha);
	trace_zipf(&t, nobj, nreq, cdf, true);
	row(name, &t, cap);
	trace_free(&t);

	printf("\ncache size sweep, zipf(%.2f):\n", alpha);
	printf("%-34s %8s %8s %8s\n", "cache", "lru", "lfu", "optimal");
	trace_zipf(&t, nobj, nreq, cdf, false);
	for (double p = 1; p <= 40; p *= 2.5) {
		snprintf(name, sizeof name, "%.1f %% (%u objects)", p, (uint32_t)(nobj * p / 100));
		row(name, &t, (uint32_t)(nobj * p / 100));
	}
	trace_free(&t);

	printf("\nmemory of the eviction structures per object (1,000,000 entries):\n");
	for (int p = 0; p < 2; p++) {
		size_t set;
		double per = mem_per_object(p ? EVICT_LFU : EVICT_LRU, 1000000, &set);

		printf("  %s: struct evict_node %zu B + set %.1f B (%s) = %.1f B; "
		    "malloc says %.1f B\n", p ? "lfu" : "lru", sizeof(struct evict_node),
		    (double)set / 1e6, p ? "heap slots, doubling" : "list heads only",
		    sizeof(struct evict_node) + (double)set / 1e6, per);
	}
	free(cdf);
	return 0;
}
