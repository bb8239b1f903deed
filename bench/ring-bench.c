/*
 * ring-bench.c: lookups per second of the consistent-hash ring (not a test).
 *
 *   ring-bench [-n NODES] [-v VNODES] [-k K] [-s SECONDS]
 *
 * Builds a ring of NODES equal nodes ("10.x.y.z:8080") with VNODES points per
 * unit of weight (default RING_VNODES_DEFAULT), then, on one thread, for
 * SECONDS each (default 2):
 *   owner        ring_owner over 1,000,000 distinct key hashes, in a loop
 *   lookup_n     ring_lookup_n(k = K, default 2), every node up
 *   failover     ring_lookup_n(k = 1) with every tenth node down
 * and prints one line per measurement. Lookups take no lock, so they scale
 * with threads; one thread shows the cost of one lookup.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/key.h"
#include "net/ring.h"

#define NKEYS (1u << 20)

enum mode { M_OWNER, M_LOOKUP_N, M_FAILOVER };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
every_tenth_down(void *arg, unsigned idx)
{
	return idx % 10 != 9;
}

static double
measure(const struct ring *r, const uint64_t *keys, enum mode m, unsigned k, double secs,
    unsigned long long *sink)
{
	unsigned out[64];
	unsigned long long n = 0, acc = 0;
	double t0 = now_s(), t;

	do {
		for (unsigned i = 0; i < 65536; i++) {
			uint64_t h = keys[(n + i) & (NKEYS - 1)];

			switch (m) {
			case M_OWNER:
				acc += ring_owner(r, h);
				break;
			case M_LOOKUP_N:
				acc += ring_lookup_n(r, h, k, NULL, NULL, out) + out[0];
				break;
			case M_FAILOVER:
				acc += ring_lookup_n(r, h, 1, every_tenth_down, NULL, out) + out[0];
				break;
			}
		}
		n += 65536;
		t = now_s() - t0;
	} while (t < secs);
	*sink += acc;
	return (double)n / t;
}

int
main(int argc, char **argv)
{
	unsigned nodes = 10, vnodes = 0, k = 2;
	double secs = 2.0, t0, build_ms;
	unsigned long long sink = 0;
	struct ring_node *rn;
	char (*ids)[32];
	uint64_t *keys;
	struct ring *r;
	const char *why = "?";
	int c;

	while ((c = getopt(argc, argv, "n:v:k:s:h")) != -1) {
		switch (c) {
		case 'n': nodes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'v': vnodes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': k = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': secs = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: ring-bench [-n NODES] [-v VNODES] [-k K] [-s SECONDS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (nodes == 0 || nodes > RING_MAX_NODES || k == 0 || k > 64 || secs <= 0) {
		fprintf(stderr, "ring-bench: need 1 <= NODES <= %u, 1 <= K <= 64, SECONDS > 0\n",
		    RING_MAX_NODES);
		return 2;
	}
	rn = calloc(nodes, sizeof *rn);
	ids = calloc(nodes, sizeof *ids);
	keys = calloc(NKEYS, sizeof *keys);
	if (rn == NULL || ids == NULL || keys == NULL)
		return 1;
	for (unsigned i = 0; i < nodes; i++) {
		snprintf(ids[i], sizeof ids[i], "10.%u.%u.%u:8080", i >> 16, (i >> 8) & 255, i & 255);
		rn[i].id = ids[i];
		rn[i].weight = 1;
	}
	for (unsigned i = 0; i < NKEYS; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "/obj/%u", i);

		keys[i] = key_hash(buf, (size_t)len);
	}

	t0 = now_s();
	r = ring_new(rn, nodes, vnodes, &why);
	build_ms = (now_s() - t0) * 1e3;
	if (r == NULL) {
		fprintf(stderr, "ring-bench: %s\n", why);
		return 1;
	}
	printf("nodes %u, %u points per node, %u points, built in %.1f ms\n", nodes,
	    ring_vnodes(r), ring_points(r), build_ms);
	printf("  owner          %12.0f lookups/s\n", measure(r, keys, M_OWNER, 1, secs, &sink));
	printf("  lookup_n k=%-2u  %12.0f lookups/s\n", k,
	    measure(r, keys, M_LOOKUP_N, k, secs, &sink));
	printf("  failover k=1   %12.0f lookups/s (every tenth node down)\n",
	    measure(r, keys, M_FAILOVER, 1, secs, &sink));
	fprintf(stderr, "(checksum %llu)\n", sink);
	ring_free(&r);
	free(keys);
	free(ids);
	free(rn);
	return 0;
}
