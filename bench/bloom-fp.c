/*
 * bloom-fp.c: false-positive rate, memory and speed of the Bloom filter the
 * disk tier keeps over its index (a measurement, not a test).
 *
 *   bloom-fp [-n KEYS] [-p RATE] [-q PROBES]
 *
 * Defaults: 1,000,000 keys, 1 % target, 1,000,000 probes. The disk tier
 * sizes its filter at open for twice the keys in the index and rebuilds it
 * when the adds (removed keys included) pass that capacity, so its load
 * moves between half full and full. Both ends are measured: keys shaped like
 * cache keys are added, then keys never added are probed, and the share of
 * "maybe" answers is the false-positive rate (each one costs a SQLite
 * point query that finds nothing).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/bloom.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
mkkey(char *buf, size_t cap, const char *kind, uint64_t i)
{
	return (size_t)snprintf(buf, cap, "/%s/img/%llu/photo-%llu.jpg?w=640", kind,
	    (unsigned long long)(i % 977), (unsigned long long)i);
}

static void
measure(const char *label, uint64_t capacity, uint64_t nkeys, double rate, uint64_t probes)
{
	struct bloom *b = bloom_new(capacity, rate);
	uint64_t fp = 0;
	double t0, t1, t2;
	char k[128];

	t0 = now_s();
	for (uint64_t i = 0; i < nkeys; i++) {
		size_t n = mkkey(k, sizeof k, "stored", i);

		bloom_add(b, k, n);
	}
	t1 = now_s();
	for (uint64_t i = 0; i < probes; i++) {
		size_t n = mkkey(k, sizeof k, "absent", i);

		fp += bloom_maybe(b, k, n);
	}
	t2 = now_s();
	printf("%-22s %9llu %9llu %6.2f %4u %9.4f%% %9.4f%% %7.2f %7.0f %7.0f\n", label,
	    (unsigned long long)nkeys, (unsigned long long)capacity,
	    (double)bloom_bits(b) / (double)nkeys, bloom_hashes(b),
	    bloom_fp_expected(b) * 100, (double)fp * 100 / (double)probes,
	    (double)bloom_mem(b) / (double)nkeys, (t1 - t0) * 1e9 / (double)nkeys,
	    (t2 - t1) * 1e9 / (double)probes);
	bloom_free(&b);
}

int
main(int argc, char **argv)
{
	uint64_t n = 1000000, probes = 1000000;
	double rate = 0.01;
	int ch;

	while ((ch = getopt(argc, argv, "n:p:q:h")) != -1) {
		switch (ch) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'p': rate = strtod(optarg, NULL); break;
		case 'q': probes = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bloom-fp [-n KEYS] [-p RATE] [-q PROBES]\n");
			return 2;
		}
	}
	if (n == 0 || probes == 0 || !(rate > 0 && rate < 1)) {
		fprintf(stderr, "bloom-fp: bad arguments\n");
		return 2;
	}
	printf("Bloom filter over the disk index: target %.2f %%, %llu probes of keys "
	    "never added\n\n", rate * 100, (unsigned long long)probes);
	printf("%-22s %9s %9s %6s %4s %10s %10s %7s %7s %7s\n", "load", "keys", "capacity",
	    "bits/k", "k", "expected", "measured", "B/obj", "add ns", "ask ns");
	measure("after open (half)", 2 * n, n, rate, probes);
	measure("before rebuild (full)", n, n, rate, probes);
	return 0;
}
