/*
 * obj-mem: memory the memory tier uses per cached object beyond its headers
 * and body (issue 4: target under 256 bytes).
 *
 *   bench/obj-mem [N [BODY [lru|lfu]]]      defaults: 100000 1024 lru
 *
 * Fills a cache (store/cache) with N complete objects the way the fetch
 * loop does (obj_new, cache_insert, obj_set_headers with seven typical
 * response fields, obj_append of BODY bytes with the Content-Length known,
 * obj_complete, cache_commit) and reads glibc's count of allocated bytes
 * (mallinfo2().uordblks, which includes malloc's own chunk headers) before
 * and after. It prints, per object:
 *   total      every byte allocated for it (object, key, headers, body, index)
 *   body       its body bytes
 *   headers    what its header list allocates (the lines, their strings
 *              and malloc's chunk headers for them), measured as it is built
 *   overhead   total - body - headers: the object struct, its key, the
 *              body's chunk header and buffer slack, the eviction set
 *              (broken down with malloc_usable_size)
 * plus sizeof(struct obj) and RSS growth per object. The hash table's
 * bucket array is fixed (allocated by cache_new, before the first reading).
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/hdrs.h"
#include "http/key.h"
#include "store/cache.h"
#include "store/evict.h"
#include "store/obj.h"
#include "util/digest.h"

static size_t
allocated(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void
typical_headers(struct hdrs *h, unsigned i, size_t body)
{
	char v[64];

	hdrs_init(h);
	hdrs_add(h, "Content-Type", "text/plain; charset=utf-8");
	hdrs_add(h, "Cache-Control", "public, max-age=3600");
	hdrs_add(h, "Date", "Thu, 26 Nov 2026 06:00:00 GMT");
	hdrs_add(h, "Last-Modified", "Wed, 25 Nov 2026 06:00:00 GMT");
	snprintf(v, sizeof v, "\"%08x-%zx\"", i, body);
	hdrs_add(h, "ETag", v);
	snprintf(v, sizeof v, "%zu", body);
	hdrs_add(h, "Content-Length", v);
	hdrs_add(h, "Accept-Ranges", "bytes");
}

int
main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100000;
	size_t body = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1024;
	int policy = argc > 3 && strcmp(argv[3], "lfu") == 0 ? EVICT_LFU : EVICT_LRU;
	struct cache *c = cache_new_policy(UINT64_MAX / 2, policy);
	uint8_t *buf = malloc(body + 1), sha[DIGEST_LEN];
	size_t a0, a1, t, s_obj = 0, s_body = 0, s_hdrs = 0;
	long r0, r1;
	time_t now = time(NULL);
	char key[128];
	struct hdrs h;

	if (n == 0 || buf == NULL)
		return 2;
	for (size_t i = 0; i < body; i++)
		buf[i] = (uint8_t)('a' + i % 26);
	digest_sha256(buf, body, sha);

	a0 = allocated();
	r0 = rss_kb();
	for (unsigned i = 0; i < n; i++) {
		int klen = snprintf(key, sizeof key, "/bench/objects/%08u.txt", i);
		struct obj *o, *in;

		o = obj_new(key, (size_t)klen, key_hash(key, (size_t)klen));
		in = cache_insert(c, o);

		obj_unref(&in);
		t = allocated();
		typical_headers(&h, i, body);
		s_hdrs += allocated() - t;
		o->response_time = now;
		o->lifetime = 3600;
		obj_set_expected_len(o, (int64_t)body);
		obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
		if (body > 0 && obj_append(o, buf, body, UINT64_MAX) != 0) {
			fprintf(stderr, "obj_append failed\n");
			return 1;
		}
		obj_complete(o, sha);
		cache_commit(c, o, now);
		/* What stays allocated once it is complete: malloc's chunk
		 * for each (usable size plus its 8-byte header). */
		s_obj += malloc_usable_size(o) + sizeof(size_t);
		if (o->data != NULL)
			s_body += malloc_usable_size(o->data) + sizeof(size_t);
		obj_unref(&o);
	}
	a1 = allocated();
	r1 = rss_kb();
	{
		double total = (double)(a1 - a0) / n;
		double hbytes = (double)s_hdrs / n;
		double over = total - (double)body - hbytes;

		printf("objects            %u (body %zu bytes, %s)\n", n, body,
		    policy == EVICT_LFU ? "lfu" : "lru");
		printf("sizeof(struct obj) %zu\n", sizeof(struct obj));
		printf("total per object   %.1f bytes allocated\n", total);
		printf("  body             %zu\n", body);
		printf("  headers          %.1f (7 fields as the header list allocates them)\n", hbytes);
		printf("  overhead         %.1f bytes per object beyond headers and body\n", over);
		printf("    object+key     %.1f (the struct with its key inline, malloc's chunk)\n",
		    (double)s_obj / n);
		printf("    body slack     %.1f (the body's chunk beyond its bytes)\n",
		    (double)s_body / n - (double)body);
		printf("    rest           %.1f (eviction set: lfu's heap array)\n",
		    over - (double)s_obj / n - ((double)s_body / n - (double)body));
		printf("rss growth         %.1f bytes per object\n", (double)(r1 - r0) * 1024.0 / n);
	}
	cache_free(&c);
	free(buf);
	return 0;
}
