/*
 * obj.h (module obj_): a cached (or in-flight) response and its lifecycle.
 *
 * Phases of an object:
 *
 *   phase       state          moved there by          who may read what
 *   created     OBJ_BUSY       obj_new                 key only; waiters queue
 *   filling     OBJ_STREAMING  obj_set_headers         status, hdrs, meta (immutable
 *                                                      from here); body grows
 *   stable      OBJ_COMPLETE   obj_complete            everything; body immutable,
 *                                                      digest known
 *   failed      OBJ_FAILED     obj_fail                error code; body (if any)
 *                                                      is truncated, never served as good
 *   freed       -              last obj_unref          -
 *
 * An object is refcounted: whoever holds a pointer holds a reference. The
 * cache index holds one, each client reading it holds one, the fetch filling
 * it holds one. The count is a plain atomic (nothing changes with it); the
 * last obj_unref frees, unlocked.
 *
 * The object's mutex ("mtx" below: obj_lock/obj_unlock) protects the state,
 * the body (data, len, and base and cap in the fill state _fs), the readers
 * list, the file-body queue, and the flags marked (mtx) below. Fields marked (const) are set once before the object leaves
 * OBJ_BUSY, under mtx, and read without it after the reader saw state !=
 * OBJ_BUSY under mtx. Fields marked (cache) belong to the cache module and
 * its locks.
 *
 * Memory: an object is what the memory tier pays for besides headers and
 * body, so it is kept small (bench/obj-mem measures it). The mutex is not in
 * the object: OBJ_NLOCKS striped mutexes ("obj.stripe") are shared by all
 * objects, picked by a hash of the object's address. Code never holds two
 * objects' locks at once (two objects may share a stripe), and no other lock
 * is taken under one except the leaf locks the wake, kick and fill callbacks
 * take. Times are 32-bit (seconds; unsigned, good until 2106), ages and
 * lifetimes 32-bit signed, clamped at INT32_MAX (RFC 9111 1.2.2 allows the
 * largest integer a cache can represent), statuses 16-bit. What only vary
 * markers need (generation, variant hashes) is out of line, as is what only
 * file bodies need, both reached through the fill state's block (_fs), which
 * such objects keep.
 *
 * Body: bytes [base, len) are in data. base stays 0 while the object can be
 * cached; for an object that cannot, bytes every reader has consumed are
 * dropped, and the fetch is paused while the unread part is larger than
 * OBJ_PASS_WINDOW, so a large uncached download holds a bounded buffer.
 *
 * File bodies (OBJF_FILE): an object above the memory tier's size limit that
 * goes to the disk tier keeps no body in memory. The fetch appends chunks to
 * a queue (o->_fs->file, at most OBJ_PASS_WINDOW bytes, else the fetch pauses);
 * one writer thread (net/fill) takes them, writes them to the disk tier's
 * temp file and reports them written; readers read the file (pread on its
 * descriptor, outside mtx) up to what is written. So every reader, however
 * late or slow, streams the whole body from offset 0 while memory holds one
 * window per object. A disk hit above the limit is the same with the whole
 * body already in the file (obj_fill_file).
 *
 * The fetch module is the only writer (obj_set_headers, obj_append,
 * obj_complete, obj_fail), with the file writer for file bodies
 * (obj_file_take, obj_file_written, obj_file_fail); readers are woken through their wake callback,
 * called with obj->mtx held (it must not take locks that are held while
 * calling into obj, and must not block).
 */
#ifndef CDN_OBJ_H
#define CDN_OBJ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http/cc.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "store/evict.h"
#include "util/digest.h"

#define OBJ_MAGIC 0x0b1ec7a5u
#define OBJ_PASS_WINDOW (4u << 20)

enum obj_state { OBJ_BUSY = 0, OBJ_STREAMING, OBJ_COMPLETE, OBJ_FAILED };

/* Flags (mtx for the fill, const after headers). */
#define OBJF_CACHEABLE  0x01u /* may be shared and kept */
#define OBJF_TOO_BIG    0x02u /* outgrew max object size while filling */
#define OBJF_PAUSED     0x04u /* the fetch is paused by backpressure */
#define OBJF_ABANDONED  0x08u /* no reader wants it and it will not be kept */
#define OBJF_HFM        0x10u /* hit-for-miss marker: go upstream, do not wait */
#define OBJF_MARKER     0x20u /* vary marker: hdrs hold the Vary of the URL */
#define OBJF_RELEASED   0x40u /* waited on too long: waiters go upstream themselves */
#define OBJF_FILE       0x80u /* the body is in a file (o->_fs->file), not in data */
#define OBJF_DIGEST     0x100u /* sha was known before the body (a stored body
                                * served again): valid from the head on */

#define OBJ_NLOCKS 1024u      /* striped object mutexes */

/* How a fill came to be (const once past BUSY). */
enum obj_note { NOTE_FETCHED = 0, NOTE_REVALIDATED, NOTE_STALE, NOTE_DISK };

struct obj;

/* The response directives an object needs once stored: the flags and
 * numbers of struct cc without its qualified field lists (those are used,
 * and the fields stripped, before storing), so an object stays small.
 * Numbers are CC_UNSET or 0..INT32_MAX (larger ones are clamped). */
struct obj_cc {
	unsigned flags;
	int32_t max_age, s_maxage, swr, sie; /* max-stale, min-fresh: request-only */
};

/* v clamped into int32_t (RFC 9111 1.2.2: the largest value the cache can
 * represent stands for anything larger). */
static inline int32_t
obj_clamp32(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

void obj_cc_set(struct obj_cc *d, const struct cc *c);
/* A full struct cc (empty field lists) for the http/fresh functions. */
void obj_cc_get(const struct obj_cc *s, struct cc *c);

/* A client (or test) reading an object. Embedded in the caller's state. */
struct obj_reader {
	uint64_t pos;           /* next absolute body offset to read */
	int fd;                 /* set with OBJ_READ_FILE: where to read */
	bool waiting;           /* asleep until the object changes (mtx) */
	bool attached;          /* on obj's reader list (mtx) */
	void (*wake)(struct obj_reader *r); /* called with obj->mtx held */
	void *arg;
	struct obj_reader *_next;
};

/* What the fetch wants done when readers change (set by net/fetch). */
struct obj_fill_ops {
	void (*unpause)(void *fill);  /* readers caught up; resume the transfer */
	void (*abandon)(void *fill);  /* nobody reads and it will not be kept: stop */
};

/* Body bytes on their way to a file (fill side: net/fill's writer). */
struct obj_chunk {
	struct obj_chunk *next;
	uint8_t *buf;           /* len bytes, from mem_try_alloc */
	size_t len;
};

/* The file side of an OBJF_FILE object; every field (mtx). */
struct obj_file {
	int fd;                 /* O_RDONLY on the body file; -1 until opened */
	uint64_t written;       /* body bytes in the file: readers may read these */
	uint64_t queued;        /* bytes appended and not yet written */
	struct obj_chunk *head, *tail;  /* those bytes, oldest first */
	bool failed;            /* the file cannot take the body: readers past
	                         * written fail, appends are refused */
	bool armed;             /* the writer waits: call kick on the next change */
	void (*kick)(void *arg); /* with mtx held: quick, no obj calls */
	void *arg;
};

/* What an object keeps out of line (o->_fs): the fill state, needed only
 * while it fills or has readers attached, and what only file bodies or vary
 * markers need. It is allocated with the object. An object that is neither
 * frees it once finished (COMPLETE or FAILED) with no fill and no reader
 * left, and obj_attach brings it back; a file body or a marker keeps it for
 * life (the fill state reset to what obj_attach would make), so o->_fs and
 * its file or marker pointer never move once set. Every field (mtx), except
 * expected_len: set by the fill side before the head is published, then
 * const (and reset under mtx when finished). */
struct obj_fs {
	struct obj_reader *readers;
	const struct obj_fill_ops *fill_ops;
	void *fill;                 /* the fetch filling it, NULL when done */
	uint64_t base;              /* body bytes dropped from data (pass objects) */
	size_t cap;                 /* bytes allocated at data */
	int64_t expected_len;       /* Content-Length from upstream, -1 unknown */
	union {
		struct obj_file *file;      /* OBJF_FILE: (mtx) set once, then kept */
		struct obj_marker *marker;  /* vary markers: set before past BUSY */
	};
};

/* What only a vary marker has (see http/key.h). */
struct obj_marker {
	uint64_t gen;               /* (const) generation of the URL's variants */
	uint64_t *vhashes;          /* (mtx) hashes of stored variant keys */
	unsigned nvariants;         /* (mtx) */
};

/* Laid out without holes: 184 bytes on LP64, so with a key of up to 31
 * bytes inline the object is a 224-byte malloc chunk (bench/obj-mem). */
struct obj {
	unsigned magic;
	atomic_uint _refcnt;
	char *key;                  /* (const) _kbuf, or a heap copy after obj_set_key */
	uint32_t keylen;            /* (const); the hash is obj_hash (not kept) */

	uint8_t state;              /* (mtx) enum obj_state */
	uint8_t note;               /* (const) enum obj_note */
	uint16_t flags;             /* (mtx) OBJF_* */
	int16_t error_status;       /* (mtx) 502/504 when FAILED */

	/* (const) once past BUSY */
	int16_t status;
	int16_t upstream_status;    /* what upstream answered (304 on a revalidation) */
	atomic_bool _refreshing;    /* a background refresh is running */
	atomic_bool soft_purged;    /* a soft purge made it stale: revalidate before use */
	atomic_bool _purged;        /* a purge removed it: no tier may keep it */
	bool _in_index;             /* (cache) in the index; in the eviction set is
	                             * evict_node_linked(&_ev) (cache) */
	uint16_t _touched;          /* (cache) when _ev last heard of a hit: the
	                             * second, mod 2^16 (only compared with now's:
	                             * a match 18 h later delays telling the set
	                             * of a hit, as a busy lock does) */
	struct obj_cc rcc;          /* effective response Cache-Control */
	/* The request time is not kept: initial_age accounts for it. */
	uint32_t response_time;     /* seconds since the epoch */
	int32_t initial_age;        /* corrected initial age (RFC 9111 4.2.3), clamped */
	int32_t lifetime;           /* freshness lifetime, clamped */
	atomic_uint _hits;          /* (cache) hits not yet told to the eviction set */
	struct hdrs hdrs;           /* stored response fields, hop-by-hop removed */

	/* (mtx) body: bytes [base, len) at data (base in _fs) */
	uint8_t *data;
	uint64_t len;
	uint8_t sha[DIGEST_LEN];    /* valid once COMPLETE */
	struct obj_fs *_fs;         /* (mtx) NULL once finished and unread, unless
	                             * a file body or marker (then never moves) */

	/* (cache) index and LRU links */
	struct obj *_hnext;
	struct evict_node _ev;      /* the tier's eviction set (lru or lfu) */
	char _kbuf[];               /* the key as given to obj_new, NUL-terminated */
};

/* A new BUSY object with one reference for the caller. hash is
 * key_hash(key, keylen) (the caller has it; the object does not keep it). */
struct obj *obj_new(const char *key, size_t keylen, uint64_t hash);
/* Give o the key newkey (a heap string, taken over). Only while nobody
 * else reads o's key: o out of the index (cache_rekey), or not yet
 * published. */
void obj_set_key(struct obj *o, char *newkey, size_t newlen);
/* The key's hash (http/key.h key_hash), computed: 8 bytes per object are
 * worth more than the few nanoseconds. */
static inline uint64_t obj_hash(const struct obj *o) { return key_hash(o->key, o->keylen); }
/* Content-Length from upstream while o fills (-1: unknown); the body's
 * length once o is finished and unread. Set by the fill side before it
 * publishes the head. obj_expected_len takes mtx. */
int64_t obj_expected_len(const struct obj *o);
void obj_set_expected_len(struct obj *o, int64_t len);
/* Body bytes before this offset are gone (objects that are not kept);
 * with mtx held, and without. */
uint64_t obj_base_locked(const struct obj *o);
uint64_t obj_base(struct obj *o);
/* Take a reference. */
void obj_ref(struct obj *o);
/* Drop the caller's reference and clear *op; frees on the last one. */
void obj_unref(struct obj **op);

/* Fill side (net/fetch only). */
void obj_set_fill(struct obj *o, const struct obj_fill_ops *ops, void *fill);
/* Move BUSY -> STREAMING: takes ownership of hdrs' contents. flags may carry
 * OBJF_CACHEABLE. Wakes every reader. */
void obj_set_headers(struct obj *o, int status, struct hdrs *hdrs, unsigned flags);
/* Append body bytes. Returns 0, CDN_AGAIN if the fetch must pause (nothing
 * was taken), or CDN_NOMEM. Wakes readers. max_keep: above this many bytes
 * the object stops being cacheable (OBJF_TOO_BIG). */
int obj_append(struct obj *o, const void *p, size_t n, uint64_t max_keep);
/* BUSY -> COMPLETE in one step, for a body already whole (a disk copy):
 * takes hdrs' contents and buf (from mem_try_alloc). Readers never see the
 * object half filled. */
void obj_fill_whole(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, uint8_t *buf,
    uint64_t len, const uint8_t sha[DIGEST_LEN]);
/* BUSY -> COMPLETE for a body already whole in a file (a disk hit above
 * the memory limit): takes hdrs' contents and fd (closed on the last
 * unref). */
void obj_fill_file(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, int fd,
    uint64_t len, const uint8_t sha[DIGEST_LEN]);
/* STREAMING -> COMPLETE with the body's digest; wakes readers. */
void obj_complete(struct obj *o, const uint8_t sha[DIGEST_LEN]);
/* Still BUSY after the coalescing timeout: set OBJF_RELEASED and wake the
 * readers, so those that only wait on this fetch go upstream themselves. */
void obj_release_waiters(struct obj *o);
/* Any state -> FAILED with 502 or 504; wakes readers. */
void obj_fail(struct obj *o, int error_status);

/* File bodies, writer side (see the top of this file). obj_file_start makes
 * o (BUSY, or STREAMING and still cacheable) an OBJF_FILE object: the bytes
 * it holds become the first queued chunk, and kick(arg) is called (with mtx
 * held) whenever the writer has asked for it and there is something new:
 * bytes, completion or failure. */
void obj_file_start(struct obj *o, void (*kick)(void *arg), void *arg);
/* Take every queued chunk (oldest first; the caller frees them with
 * obj_chunks_free) and the state they were taken in: once it is
 * OBJ_COMPLETE, no more bytes will come, and o->sha is valid. When nothing
 * is queued and the body may still grow, the writer's kick is armed. */
struct obj_chunk *obj_file_take(struct obj *o, enum obj_state *st);
/* n more bytes are in the file, which fd (taken over on the first call that
 * passes one >= 0) reads. Wakes readers, resumes a paused fetch. */
void obj_file_written(struct obj *o, int fd, uint64_t n);
/* The file cannot take the body: readers that need bytes not yet written
 * get an error, and the fetch is stopped at its next append. */
void obj_file_fail(struct obj *o);
void obj_chunks_free(struct obj_chunk *c);
/* The body file of a COMPLETE OBJF_FILE object (read after seeing the
 * state under mtx): stays open while o lives; dup it to hand it on. */
int obj_file_fd(const struct obj *o);
/* Is the whole body there to be handed out at once: COMPLETE, and for a
 * file body, every byte written to the file (a fetch can complete before
 * its writer has caught up)? Takes mtx. */
bool obj_body_ready(struct obj *o);

/* Reader side. obj_attach puts r on the reader list (pos 0). */
void obj_attach(struct obj *o, struct obj_reader *r);
void obj_detach(struct obj *o, struct obj_reader *r);

enum obj_read { OBJ_READ_DATA, OBJ_READ_WAIT, OBJ_READ_EOF, OBJ_READ_ERROR, OBJ_READ_FILE };
/* With o->mtx held: copy up to max bytes at r->pos into buf and advance.
 * OBJ_READ_WAIT means nothing is there yet and r is marked waiting: the
 * caller must go to sleep before it drops mtx (so the wake cannot come
 * first), and r->wake will be called once when something changes.
 * OBJ_READ_FILE (OBJF_FILE objects): nothing is copied; *got bytes at
 * r->pos - *got are the caller's to pread from r->fd after dropping mtx
 * (they are in the file and never change; r->pos is already advanced). */
enum obj_read obj_read_locked(struct obj *o, struct obj_reader *r, void *buf, size_t max, size_t *got);

/* Current state, for a caller that does not hold mtx. */
enum obj_state obj_state(const struct obj *o);

/* Vary markers: make o (BUSY, before its head is published) the marker of
 * generation gen. obj_gen is 0 for anything else. */
void obj_set_gen(struct obj *o, uint64_t gen);
uint64_t obj_gen(const struct obj *o);
/* Is there room in marker m for the variant whose key hashes to h, at most
 * max of them? A variant already counted is always admitted (a refresh);
 * a new one is counted. Takes m's lock. */
bool obj_variant_admit(struct obj *m, uint64_t h, uint64_t max);

/* The striped mutexes (see the top of this file); use obj_lock. */
extern pthread_mutex_t obj_stripes[OBJ_NLOCKS];

static inline pthread_mutex_t *
obj_mtx(const struct obj *o)
{
	uint64_t a = (uint64_t)(uintptr_t)o * 0x9e3779b97f4a7c15ULL;

	return &obj_stripes[a >> 54]; /* the top 10 bits: OBJ_NLOCKS == 1024 */
}

static inline void obj_lock(const struct obj *o) { pthread_mutex_lock(obj_mtx(o)); }
static inline void obj_unlock(const struct obj *o) { pthread_mutex_unlock(obj_mtx(o)); }

#endif
