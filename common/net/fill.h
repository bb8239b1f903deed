/*
 * fill.h (module fill_): how a busy object gets filled: from the disk tier
 * when it holds a copy, else from upstream; and how complete objects reach
 * the disk tier (write-behind).
 *
 * Disk reads and writes never run in a server thread or the curl loop: a
 * small pool of reader threads serves lookups that the Bloom filter cannot
 * rule out (a miss there falls through to the fetch loop), and one writer
 * thread stores every cacheable object after it is committed to memory, so
 * a restart or a kill -9 finds it on disk. Memory eviction then only drops
 * the memory copy. Purges remove the disk copy too (a cache purge hook).
 *
 * Objects above the memory tier's size limit (fetch_opts.max_keep) never go
 * through memory whole: a spool thread writes their bodies to the disk tier
 * as they arrive (clients read the file as it grows, see store/obj.h), and
 * a disk hit of one is served from its verified file descriptor.
 */
#ifndef CDN_FILL_H
#define CDN_FILL_H

#include <stdbool.h>
#include <stdint.h>

struct cache;
struct disk;
struct fetch_spec;
struct fetcher;
struct filler;
struct fresh_cfg;
struct obj;

struct fill_opts {
	struct disk *disk;        /* NULL: memory only, fill_submit is fetch_submit */
	struct fetcher *fetcher;
	struct cache *cache;
	const struct fresh_cfg *fcfg;
	unsigned readers;         /* disk reader threads (default 2) */
	uint64_t queue_bytes;     /* write-behind backlog limit (bytes) */
	/* Pushed objects (shield/push.h), may be NULL: pushed_maybe says
	 * (fast, any thread) whether key may be a pushed object of this tier;
	 * repair (blocking, on a reader thread) puts a missing or damaged
	 * pushed object back on disk from another replica: 0 when it did. */
	bool (*pushed_maybe)(void *arg, const char *key, size_t keylen);
	int (*repair)(void *arg, const char *key, size_t keylen);
	void *push_arg;
};

struct filler *fill_new(const struct fill_opts *o);
/* The fetch loop, when it is made after the filler (it needs the filler
 * for its commit hook). Call before fill_start. */
void fill_set_fetcher(struct filler *fl, struct fetcher *f);
int fill_start(struct filler *fl);
/* Stop the threads: pending lookups go upstream, pending writes are done
 * (bounded by the backlog limit). */
void fill_stop(struct filler *fl);
void fill_free(struct filler **flp);

/* Fill the busy object o (indexed under its key, or not for a pass): from
 * disk if disk_ok and the disk may hold it, else upstream with spec (taken
 * over, as fetch_submit does). */
void fill_submit(struct filler *fl, struct obj *o, struct fetch_spec *spec, bool disk_ok);

/* Queue a complete, cacheable object for the disk tier (takes a reference).
 * Called by the fetch loop after it commits o to memory. */
void fill_store(void *filler, struct obj *o);

#endif
