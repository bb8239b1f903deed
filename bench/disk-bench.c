/*
 * disk-bench.c: the disk tier's store cost, restart time with a large
 * index, and disk-hit throughput for 1 MiB objects (a measurement, not a
 * test).
 *
 *   disk-bench [-d DIR] [-n OBJECTS] [-m MIB_OBJECTS] [-t SECONDS]
 *
 * In DIR (default: a new directory under $TMPDIR or /tmp, removed at the
 * end unless -d is given):
 *   1. stores OBJECTS (default 100,000) small objects (100-byte bodies,
 *      opts.durable off so the population is quick), then closes;
 *   2. opens the directory again and reports the restart time: the walk of
 *      DIR/objects, the index scan, the reconciliation and the Bloom filter;
 *   3. stores MIB_OBJECTS (default 64) objects of 1 MiB, durable (fsync of
 *      body, directory and WAL), and reports the time per store;
 *   4. for SECONDS (default 3) each, looks the 1 MiB objects up in a loop and
 *      (a) reads and verifies each into memory (disk_hit_read: the promotion
 *      path) and (b) streams the SHA-256 check over the descriptor and takes
 *      it (disk_hit_verify + disk_hit_take_fd: the serve-from-fd path), on
 *      one thread, from the page cache after the first pass.
 */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/disk.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/log.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
store(struct disk *d, const char *key, const void *body, size_t len)
{
	struct disk_head h;
	struct disk_put put = { .head = &h };
	int rc;

	disk_head_init(&h);
	h.status = 200;
	h.response_time = time(NULL);
	h.lifetime = 86400;     /* as its Cache-Control says: a node serves it fresh */
	hdrs_add(&h.hdrs, "Content-Type", "application/octet-stream");
	hdrs_add(&h.hdrs, "Cache-Control", "max-age=86400");
	hdrs_add(&h.hdrs, "ETag", "\"0123456789abcdef\"");
	rc = disk_store(d, key, strlen(key), body, len, &put);
	disk_head_fini(&h);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	char tmpl[256], key[64];
	unsigned long nsmall = 100000, nbig = 64;
	double secs = 3, t0, t;
	struct disk_opts fast;
	struct disk_stats st;
	struct disk *d;
	uint8_t *big, *buf;
	uint64_t ops;
	int ch;

	while ((ch = getopt(argc, argv, "d:n:m:t:h")) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'n': nsmall = strtoul(optarg, NULL, 10); break;
		case 'm': nbig = strtoul(optarg, NULL, 10); break;
		case 't': secs = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: disk-bench [-d DIR] [-n OBJECTS] [-m MIB_OBJECTS] "
			    "[-t SECONDS]\n");
			return 2;
		}
	}
	if (nbig == 0 || !(secs > 0)) {
		fprintf(stderr, "disk-bench: bad arguments\n");
		return 2;
	}
	log_init("disk-bench", "-", "off", LVL_ERROR);
	if (dir == NULL) {
		snprintf(tmpl, sizeof tmpl, "%s/disk-bench.XXXXXX",
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(tmpl) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	big = malloc(1 << 20);
	buf = malloc(1 << 20);
	for (size_t i = 0; i < (1u << 20); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);

	/* 1. population */
	disk_opts_default(&fast);
	fast.durable = false;
	if (disk_open(dir ? dir : tmpl, 1ULL << 40, EVICT_LFU, &fast, &d) != CDN_OK)
		return 1;
	t0 = now_s();
	for (unsigned long i = 0; i < nsmall; i++) {
		snprintf(key, sizeof key, "/small/%lu?v=1", i);
		if (store(d, key, big, 100) != CDN_OK)
			return 1;
	}
	t = now_s() - t0;
	disk_close(&d);
	printf("store, small, not durable:  %lu objects in %.1f s, %.0f us each\n",
	    nsmall, t, nsmall ? t * 1e6 / (double)nsmall : 0);

	/* 2. restart */
	t0 = now_s();
	if (disk_open(dir ? dir : tmpl, 1ULL << 40, EVICT_LFU, NULL, &d) != CDN_OK)
		return 1;
	t = now_s() - t0;
	disk_get_stats(d, &st);
	printf("restart (disk_open):        %.3f s for %" PRIu64 " indexed objects "
	    "(Bloom: %" PRIu64 " bits, %u hashes)\n", t, st.objects, st.bloom_bits,
	    st.bloom_hashes);

	/* 3. big stores, durable */
	t0 = now_s();
	for (unsigned long i = 0; i < nbig; i++) {
		snprintf(key, sizeof key, "/big/%lu", i);
		big[0] = (uint8_t)i;
		if (store(d, key, big, 1 << 20) != CDN_OK)
			return 1;
	}
	t = now_s() - t0;
	printf("store, 1 MiB, durable:      %.1f ms each, %.0f MiB/s\n",
	    t * 1e3 / (double)nbig, (double)nbig / t);

	/* 4. hits */
	for (int mode = 0; mode < 2; mode++) {
		ops = 0;
		t0 = now_s();
		do {
			struct disk_hit hit;
			int fd;

			snprintf(key, sizeof key, "/big/%lu", (unsigned long)(ops % nbig));
			if (disk_lookup(d, key, strlen(key), &hit) != CDN_OK)
				return 1;
			if (mode == 0) {
				if (disk_hit_read(d, &hit, buf) != CDN_OK)
					return 1;
			} else {
				if (disk_hit_verify(d, &hit) != CDN_OK)
					return 1;
				fd = disk_hit_take_fd(&hit);
				close(fd);
			}
			disk_hit_fini(&hit);
			ops++;
		} while ((t = now_s() - t0) < secs);
		printf("hit, 1 MiB, %-15s %.0f hits/s, %.0f MiB/s (one thread)\n",
		    mode == 0 ? "read+verify:" : "verify+fd:", (double)ops / t, (double)ops / t);
	}
	disk_close(&d);
	if (dir == NULL)
		nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(big);
	free(buf);
	return 0;
}
