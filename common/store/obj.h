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
 * obj->mtx protects the state, the body (data, base, len, cap), the readers
 * list, and the flags marked (mtx) below. Fields marked (const) are set once
 * before the object leaves OBJ_BUSY, under mtx, and read without it after the
 * reader saw state != OBJ_BUSY under mtx. Fields marked (cache) belong to the
 * cache module and its locks.
 *
 * Body: bytes [base, len) are in data. base stays 0 while the object can be
 * cached; for an object that cannot, bytes every reader has consumed are
 * dropped, and the fetch is paused while the unread part is larger than
 * OBJ_PASS_WINDOW, so a large uncached download holds a bounded buffer.
 *
 * The fetch module is the only writer (obj_set_headers, obj_append,
 * obj_complete, obj_fail); readers are woken through their wake callback,
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

/* How a fill came to be (const once past BUSY). */
enum obj_note { NOTE_FETCHED = 0, NOTE_REVALIDATED, NOTE_STALE, NOTE_DISK };

struct obj;

/* The response directives an object needs once stored: the flags and
 * numbers of struct cc without its qualified field lists (those are used,
 * and the fields stripped, before storing), so an object stays small. */
struct obj_cc {
	unsigned flags;
	int64_t max_age, s_maxage, max_stale, min_fresh, swr, sie;
};

void obj_cc_set(struct obj_cc *d, const struct cc *c);
/* A full struct cc (empty field lists) for the http/fresh functions. */
void obj_cc_get(const struct obj_cc *s, struct cc *c);

/* A client (or test) reading an object. Embedded in the caller's state. */
struct obj_reader {
	uint64_t pos;           /* next absolute body offset to read */
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

struct obj {
	unsigned magic;
	atomic_uint _refcnt;
	char *key;                  /* (const) */
	size_t keylen;              /* (const) */
	uint64_t hash;              /* (const) */

	pthread_mutex_t mtx;
	enum obj_state state;       /* (mtx) */
	unsigned flags;             /* (mtx) */
	int error_status;           /* (mtx) 502/504 when FAILED */

	/* (const) once past BUSY */
	int status;
	struct hdrs hdrs;           /* stored response fields, hop-by-hop removed */
	struct obj_cc rcc;          /* effective response Cache-Control */
	time_t request_time, response_time;
	int64_t initial_age;        /* corrected initial age (RFC 9111 4.2.3) */
	int64_t lifetime;           /* freshness lifetime */
	int64_t expected_len;       /* Content-Length from upstream, -1 unknown */
	enum obj_note note;
	int upstream_status;        /* what upstream answered (304 on a revalidation) */
	uint64_t gen;               /* vary markers: generation of the URL's variants */
	uint64_t *_vhashes;         /* vary markers (mtx): hashes of stored variant keys */
	unsigned _nvariants;        /* vary markers (mtx) */
	atomic_bool _refreshing;    /* a background refresh is running */
	atomic_bool soft_purged;    /* a soft purge made it stale: revalidate before use */
	atomic_bool _purged;        /* a purge removed it: no tier may keep it */

	/* (mtx) body */
	uint8_t *data;
	uint64_t base, len;
	size_t cap;
	uint8_t sha[DIGEST_LEN];    /* valid once COMPLETE */

	struct obj_reader *readers; /* (mtx) */
	const struct obj_fill_ops *fill_ops; /* (mtx) */
	void *fill;                 /* (mtx) the fetch filling it, NULL when done */

	/* (cache) index and LRU links */
	struct obj *_hnext;
	struct evict_node _ev;      /* the tier's eviction set (lru or lfu) */
	atomic_uint _hits;          /* hits not yet told to the eviction set */
	bool _in_index, _in_lru;
	uint64_t _acct;             /* bytes accounted in the tier */
	time_t _touched;
};

/* A new BUSY object with one reference for the caller. */
struct obj *obj_new(const char *key, size_t keylen, uint64_t hash);
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
/* STREAMING -> COMPLETE with the body's digest; wakes readers. */
void obj_complete(struct obj *o, const uint8_t sha[DIGEST_LEN]);
/* Still BUSY after the coalescing timeout: set OBJF_RELEASED and wake the
 * readers, so those that only wait on this fetch go upstream themselves. */
void obj_release_waiters(struct obj *o);
/* Any state -> FAILED with 502 or 504; wakes readers. */
void obj_fail(struct obj *o, int error_status);

/* Reader side. obj_attach puts r on the reader list (pos 0). */
void obj_attach(struct obj *o, struct obj_reader *r);
void obj_detach(struct obj *o, struct obj_reader *r);

enum obj_read { OBJ_READ_DATA, OBJ_READ_WAIT, OBJ_READ_EOF, OBJ_READ_ERROR };
/* With o->mtx held: copy up to max bytes at r->pos into buf and advance.
 * OBJ_READ_WAIT means nothing is there yet and r is marked waiting: the
 * caller must go to sleep before it drops mtx (so the wake cannot come
 * first), and r->wake will be called once when something changes. */
enum obj_read obj_read_locked(struct obj *o, struct obj_reader *r, void *buf, size_t max, size_t *got);

/* Current state, for a caller that does not hold mtx. */
enum obj_state obj_state(struct obj *o);

static inline void obj_lock(struct obj *o) { pthread_mutex_lock(&o->mtx); }
static inline void obj_unlock(struct obj *o) { pthread_mutex_unlock(&o->mtx); }

#endif
