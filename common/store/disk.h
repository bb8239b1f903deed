/*
 * disk.h (module disk_): the disk tier. Body files plus a SQLite index, a
 * SHA-256 verified on every read, crash-safe writes, a byte limit with LRU
 * or LFU-DA eviction (store/evict.h) and pinned objects, and a Bloom filter
 * (util/bloom.h) so that lookups of keys not on disk never touch SQLite.
 *
 * Layout of DIR:
 *   DIR/lock                       flock()ed while a process has DIR open
 *   DIR/index.db (-wal, -shm)      SQLite index, WAL mode
 *   DIR/objects/XX/Y/GGGGGGGGGGGGGGGG        body of one stored version
 *   DIR/objects/XX/Y/.tmp.GGGGGGGGGGGGGGGG   body being written
 * G is the version's generation (16 hex digits, unique, never reused while
 * a row names it), XX its bits 8-15 and Y its bits 16-19: up to 4096
 * directories, 256 consecutive versions to one, each directory made
 * (durably) the first time a body goes into it.
 * A new version of a key gets a new generation, so replacing an object never
 * overwrites a file a row (or a reader's open descriptor) still refers to.
 *
 * Phases of a stored version:
 *
 *   phase     where                           moved there by
 *   writing   .tmp file, bytes reserved       disk_write_start, _append
 *   durable   final name, fsynced, dir synced disk_write_commit (first half)
 *   stable    index row committed, in Bloom   disk_write_commit (second half)
 *   dying     row deleted (commit)            eviction, disk_remove, a
 *                                             replacing store, corruption
 *   gone      file unlinked                   the same call, after commit
 *
 * A crash in "writing" or "durable" leaves a file without a row, one in
 * "dying" a file without a row; disk_open deletes both, and rows whose file
 * is missing. So a reader never sees a half-written object, and every row
 * that survives a kill -9 names a complete, fsynced body. (Durability of the
 * row itself across power loss needs opts.durable, the default: WAL with
 * synchronous=FULL.)
 *
 * Integrity: each row keeps the SHA-256 of its body, and disk_write_commit
 * refuses a body whose SHA-256 is not the one the caller expects. Nothing
 * read from disk is good until it is verified: disk_hit_read (into memory)
 * and disk_hit_verify (streams the file, for serving the descriptor) hash
 * the bytes and compare; on a mismatch the version is removed from index and
 * disk, the corrupt counter rises, and they return CDN_CORRUPT. The stored
 * response head has its own version and checksum (disk_head_encode).
 *
 * Threads and locks (no cache lock may be held when calling into disk_):
 *  - SQLite: a pool of connections (opts.conns, default 4), each used by one
 *    thread at a time (SQLITE_OPEN_NOMUTEX), checked out for one statement
 *    sequence and returned ("disk.pool" mutex + condvar). Readers run in
 *    parallel (WAL).
 *  - "disk.write" mutex: every write transaction (BEGIN IMMEDIATE ...
 *    COMMIT), and the byte accounting, eviction clock and Bloom adds that go
 *    with it. So SQLite never sees two of our writers at once. Lock order:
 *    disk.write, then disk.touch, then disk.pool; disk.bloom is taken alone
 *    (readers) or inside disk.write (swap).
 *  - "disk.touch" mutex: the buffer of hits not yet written to the index.
 *    Hits update recency and frequency in batches of DISK_TOUCH_BATCH, and
 *    always before an eviction picks victims; a crash loses at most one
 *    unwritten batch of hits, never an object.
 *  - "disk.bloom" rwlock: the pointer to the current filter (swapped when
 *    it is rebuilt); the filter's bits are atomic.
 *  - Counters are atomics.
 *  - File I/O (write, fsync, read, hash, unlink) happens with none of these
 *    held, except the few small writes SQLite itself does in a transaction.
 *
 * Byte accounting: each version is charged disk_charge(size, keylen,
 * headlen): its body rounded up to 4 KiB blocks plus its key, head and a
 * fixed row overhead. Bytes of bodies being written are reserved before they
 * are written, so charged + reserved <= limit holds at all times; room is
 * made by evicting unpinned versions in policy order. A body that cannot fit
 * even with every unpinned version evicted is refused (CDN_TOOBIG).
 */
#ifndef CDN_DISK_H
#define CDN_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/hdrs.h"
#include "store/evict.h"
#include "util/digest.h"

#define DISK_PIN 0x1u             /* never evicted (pushed objects) */
#define DISK_BLOCK 4096u          /* bodies are charged in whole blocks */
#define DISK_ROW_OVERHEAD 256u    /* charged per version beyond key and head */
#define DISK_TOUCH_BATCH 128u     /* hits buffered before they reach the index */
#define DISK_HEAD_VERSION 1u

struct disk;
struct disk_writer;

/* ---------------------------------------------------------------- heads */

/* The stored response head: what a memory-tier object needs besides its
 * body. */
struct disk_head {
	int status;
	unsigned flags;             /* the owner's flags, kept as given */
	int64_t request_time;       /* time_t, seconds; informational: readers use
	                             * initial_age, and a head written from a
	                             * memory object has the response time here
	                             * (the object keeps no request time) */
	int64_t response_time;
	int64_t initial_age;
	int64_t lifetime;
	struct hdrs hdrs;           /* field lines in order */
};

/* An empty head (hdrs initialised). */
void disk_head_init(struct disk_head *h);
/* Free the head's header lines; h is left empty and reusable. */
void disk_head_fini(struct disk_head *h);

/*
 * Serialise h into a new buffer (*out, *outlen; the caller frees *out).
 * Format (version 1, integers little-endian):
 *   "CDNH" u16 version u16 status u32 flags u32 nlines
 *   i64 request_time i64 response_time i64 initial_age i64 lifetime
 *   nlines x (u32 namelen u32 valuelen name value)
 *   8 bytes: the first 8 bytes of the SHA-256 of everything before.
 * Returns 0, or CDN_INVAL (nothing allocated) for a head that would not
 * read back as itself: a status outside 0..65535, an empty name, a name
 * with a control character, SP or ':', a value with a control character
 * other than HTAB or with SP/HTAB at either end.
 */
int disk_head_encode(const struct disk_head *h, uint8_t **out, size_t *outlen);
/* Parse an encoded head into h (which must be initialised and empty).
 * Returns 0, or CDN_CORRUPT (bad magic, version, checksum, bounds, or a
 * line disk_head_encode would have refused; h is left empty). Never crashes
 * on any input; what decodes re-encodes to the same bytes. */
int disk_head_decode(const void *p, size_t n, struct disk_head *h);

/* ---------------------------------------------------------------- open */

struct disk_opts {
	unsigned conns;             /* SQLite connections in the pool (>= 1), default 4 */
	bool durable;               /* fsync bodies, directories and WAL commits
	                             * (synchronous=FULL); default true. Without it
	                             * a kill -9 still loses nothing acknowledged,
	                             * a power cut may. */
	double bloom_fp;            /* target false-positive rate, default 0.01 */
	uint64_t bloom_min;         /* smallest filter capacity, default 4096 */
};

void disk_opts_default(struct disk_opts *o);

/*
 * Open (creating if needed) the disk tier in dir, holding at most limit
 * bytes, evicting by policy. opts may be NULL (defaults). At open: takes
 * the lock file (a second process gets CDN_ERR), deletes temp files, files
 * with no row and rows with no file, recomputes priorities if the policy
 * changed since the last run, and builds the Bloom filter over the index
 * (capacity twice the rows, at least opts.bloom_min). If the index holds more than
 * limit (a smaller --disk-size), evicts down to it.
 * Returns 0 with *dp set, or CDN_ERR (logged).
 */
int disk_open(const char *dir, uint64_t limit, enum evict_policy policy,
    const struct disk_opts *opts, struct disk **dp);
/* Write buffered hits, close every connection, release the lock, free, and
 * clear *dp. No other call may be running or start. NULL *dp is fine. */
void disk_close(struct disk **dp);

/* The bytes a version is charged against the limit. */
uint64_t disk_charge(uint64_t size, size_t keylen, size_t headlen);

/* ---------------------------------------------------------------- store */

/* What a store commits besides the body. */
struct disk_put {
	const struct disk_head *head;   /* required; only read */
	const uint8_t *sha;             /* expected SHA-256 of the body, or NULL */
	unsigned flags;                 /* DISK_PIN */
	uint32_t freq;                  /* accesses known from the memory tier
	                                 * (0: new); a replaced version's count is
	                                 * kept if larger */
};

/*
 * Store a complete object from memory: start + append + commit in one call.
 * Replaces any version of key. Returns 0; CDN_INVAL if put->sha is given and
 * the body does not hash to it, or the head cannot be encoded (nothing
 * stored); CDN_TOOBIG if it cannot fit
 * even with every unpinned version evicted; CDN_ERR on an I/O or SQLite
 * error (logged; nothing stored). Blocks on disk I/O and fsync: call it from
 * a thread that may block (not the libcurl loop, not under a cache lock).
 */
int disk_store(struct disk *d, const char *key, size_t keylen, const void *body,
    uint64_t len, const struct disk_put *put);

/*
 * Streaming store, for bodies that go straight to disk. size_hint (0 if
 * unknown) is reserved up front; more is reserved as bytes arrive. Returns
 * 0 with *wp set, CDN_TOOBIG, or CDN_ERR. The writer belongs to one thread
 * at a time.
 */
int disk_write_start(struct disk *d, const char *key, size_t keylen, uint64_t size_hint,
    struct disk_writer **wp);
/* Append body bytes (hashed as they are written). Returns 0, CDN_TOOBIG (no
 * room: the writer is still live and must be aborted) or CDN_ERR. */
int disk_write_append(struct disk_writer *w, const void *p, size_t n);
/* fsync, rename into place, fsync the directory, then insert the row in one
 * transaction. Consumes the writer (*wp cleared) whatever the result.
 * Returns 0, CDN_INVAL (SHA-256 mismatch), CDN_TOOBIG or CDN_ERR; on any
 * failure nothing is stored. If sha_out is not NULL it receives the body's
 * SHA-256. */
int disk_write_commit(struct disk_writer **wp, const struct disk_put *put,
    uint8_t sha_out[DIGEST_LEN]);
/* Drop the temp file and the reservation; clears *wp. NULL *wp is fine. */
void disk_write_abort(struct disk_writer **wp);
/* A new O_RDONLY descriptor on the body being written (the caller closes
 * it), so readers can serve the bytes appended so far while the writer goes
 * on. It stays valid after the commit renames the file, and after an abort
 * or eviction unlinks it. Returns the descriptor, or CDN_ERR (logged). */
int disk_write_reader_fd(struct disk_writer *w);
/* Could a body of size bytes under a key of keylen bytes be stored at all
 * (its charge within the limit less the pinned bytes)? A cheap check, no
 * I/O, no lock: for deciding whether to send a body to disk. */
bool disk_fits(struct disk *d, uint64_t size, size_t keylen);

/* ---------------------------------------------------------------- lookup */

#define DISK_HIT_MAGIC 0xd15c4177u

/* One found version. Filled by disk_lookup; released by disk_hit_fini. */
struct disk_hit {
	unsigned magic;
	struct disk_head head;          /* owned by the hit until moved out */
	uint8_t sha[DIGEST_LEN];        /* SHA-256 the body must have */
	uint64_t size;                  /* body bytes */
	bool pinned;
	bool verified;                  /* set by disk_hit_verify / disk_hit_read */
	int fd;                         /* O_RDONLY on the body; -1 once taken */
	int64_t _id;
	uint64_t _gen;
};

/* Bloom filter only: false means key is certainly not on disk. */
bool disk_maybe(struct disk *d, const char *key, size_t keylen);

/*
 * Look key up. Returns 0 with hit filled (head decoded, body file open,
 * size checked, NOT yet verified) and the access recorded for eviction;
 * CDN_NOTFOUND (a miss: the Bloom filter or the index said so, or the file
 * was gone, in which case its row is dropped); CDN_CORRUPT (the stored head
 * failed its checksum or the file has the wrong size: removed and counted);
 * or CDN_ERR. Whatever it returns, disk_hit_fini(hit) may be called after.
 */
int disk_lookup(struct disk *d, const char *key, size_t keylen, struct disk_hit *hit);

/* Read the whole body into buf (hit->size bytes) and check its SHA-256.
 * Returns 0 (hit->verified set), CDN_CORRUPT (removed, counted, hit->fd
 * closed) or CDN_ERR (read error). */
int disk_hit_read(struct disk *d, struct disk_hit *hit, void *buf);
/* Stream the file through SHA-256 without keeping it. Returns as
 * disk_hit_read. Use before serving the descriptor. */
int disk_hit_verify(struct disk *d, struct disk_hit *hit);
/* Hand the verified descriptor to the caller (for
 * MHD_create_response_from_fd, which closes it). Asserts hit->verified.
 * The file offset is 0; reads of a descriptor stay valid even if the
 * version is evicted or replaced afterwards (the file is only unlinked). */
int disk_hit_take_fd(struct disk_hit *hit);
/* Close the descriptor if still held and free the head. */
void disk_hit_fini(struct disk_hit *hit);

/* ---------------------------------------------------------------- admin */

/* Remove key's version (pinned too). Returns 0 or CDN_NOTFOUND / CDN_ERR. */
int disk_remove(struct disk *d, const char *key, size_t keylen);
/* Remove key's version unless it is pinned (a purge of a cached copy must
 * not remove a pushed object). Returns 0, CDN_NOTFOUND (none, or pinned)
 * or CDN_ERR. */
int disk_remove_unpinned(struct disk *d, const char *key, size_t keylen);
/* Call fn for every indexed version (only pinned ones if pinned_only),
 * with its key, SHA-256 and size; fn returning non-zero stops the walk with
 * that value. Scans the index (an operator or start-up action). fn must
 * not call into d. Returns 0, fn's value, or CDN_ERR. */
int disk_foreach(struct disk *d, bool pinned_only,
    int (*fn)(void *arg, const char *key, size_t keylen, const uint8_t *sha, uint64_t size,
    bool pinned), void *arg);
/* Remove every unpinned version for which fn (key, decoded head) says true: for
 * purges by prefix, tag or everything, which must reach objects that are
 * only on disk. Scans the whole index (an operator action, not a request
 * path). Returns the number removed, or CDN_ERR. */
int disk_remove_matching(struct disk *d,
    bool (*fn)(const char *key, size_t keylen, const struct disk_head *head, void *arg),
    void *arg);
/* Set or clear key's pin. Returns 0, CDN_NOTFOUND or CDN_ERR. */
int disk_pin(struct disk *d, const char *key, size_t keylen, bool pinned);
/* Write buffered hits to the index now. Returns 0 or CDN_ERR. */
int disk_flush(struct disk *d);
/* The path of key's body file (DIR/objects/XX/Y/G) into buf, for tools and
 * tests. Returns 0, CDN_NOTFOUND, CDN_INVAL (buf too small) or CDN_ERR. */
int disk_file_of(struct disk *d, const char *key, size_t keylen, char *buf, size_t len);

struct disk_scrub {
	uint64_t checked;       /* versions verified */
	uint64_t corrupt;       /* failed the head or body checksum (removed) */
	uint64_t missing;       /* file gone (row removed) */
};
/* Verify every indexed version (head and body), removing bad ones. Runs
 * without blocking lookups or stores (it works on a snapshot of the rows).
 * Returns 0 or CDN_ERR. */
int disk_scrub(struct disk *d, struct disk_scrub *out);

struct disk_stats {
	uint64_t limit;
	uint64_t objects, bytes;        /* indexed versions and their charge */
	uint64_t reserved;              /* bytes of bodies being written */
	uint64_t pinned_objects, pinned_bytes;
	uint64_t lookups, hits, misses;
	uint64_t bloom_negatives;       /* misses answered by the filter alone */
	uint64_t bloom_false_pos;       /* filter said maybe, the index said no */
	uint64_t stores, store_errors, evictions, removes;
	uint64_t corrupt;               /* versions that failed a checksum */
	uint64_t missing;               /* rows whose file was gone */
	uint64_t io_errors;
	uint64_t cleaned_temp, cleaned_files, cleaned_rows; /* by disk_open */
	uint64_t bloom_bits, bloom_capacity, bloom_count, bloom_rebuilds;
	unsigned bloom_hashes;
	double bloom_fp_expected;       /* at the filter's current count */
	enum evict_policy policy;
	uint64_t age;                   /* lfu's L */
};
void disk_get_stats(struct disk *d, struct disk_stats *st);

#endif
