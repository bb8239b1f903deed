/*
 * disk_int.h: what the disk tier's files (disk.c, disk_db.c, disk_open.c)
 * share and nothing outside them may use. The public contract is disk.h;
 * disk_head.c needs only that.
 *
 * struct disk says for each field which lock protects it (the rules are in
 * disk.h): "disk.pool", "disk.write", "disk.touch", "disk.bloom", or const
 * after disk_open, or an atomic.
 */
#ifndef CDN_DISK_INT_H
#define CDN_DISK_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/disk.h"

struct bloom;

#define DISK_MAGIC 0xd15c0001u
#define DISK_SCHEMA_VERSION 1

/* Prepared statements of every connection (SQL in disk_db.c). */
enum st {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_LOOKUP, ST_EXISTS, ST_BYKEY, ST_BYID, ST_DELETE, ST_INSERT,
	ST_VICTIMS, ST_TOUCH_GET, ST_TOUCH_SET, ST_META_GET, ST_META_SET, ST_PIN,
	ST_KEYS, ST__N
};

/* A hit not yet written to the index. */
struct touch {
	int64_t id;
	uint64_t tick;                  /* logical time of the latest hit */
	uint32_t hits;
};

/* Generations whose files are unlinked after a commit. */
struct gens {
	uint64_t *v;
	size_t n, cap;
};

/* What one eviction pass did inside a transaction; applied after commit. */
struct room {
	uint64_t freed;
	uint64_t n;
	uint64_t age;
	struct gens gone;
};

/* One SQLite connection and its prepared statements; one thread at a time. */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	struct conn *next;              /* (pool_mtx) free list */
};

struct disk {
	unsigned magic;
	char *dir;                      /* const */
	char *dbpath;                   /* const */
	int lockfd;                     /* const */
	int objfd;                      /* const: DIR/objects */
	uint64_t limit;                 /* const */
	enum evict_policy policy;       /* const */
	struct disk_opts opts;          /* const */

	pthread_mutex_t pool_mtx;       /* "disk.pool" */
	pthread_cond_t pool_cv;
	struct conn *pool_free;         /* (pool_mtx) */
	unsigned nconns;                /* (pool_mtx) open, in use or free */

	pthread_mutex_t write_mtx;      /* "disk.write" */
	atomic_uint_fast64_t age;       /* written under write_mtx: lfu's L */

	pthread_mutex_t touch_mtx;      /* "disk.touch" */
	struct touch touches[DISK_TOUCH_BATCH]; /* (touch_mtx) */
	unsigned ntouches;              /* (touch_mtx) */

	pthread_rwlock_t bloom_lk;      /* "disk.bloom" */
	struct bloom *bloom;            /* pointer: (bloom_lk), written also under write_mtx */

	atomic_uint_fast64_t tick;      /* next logical time */
	atomic_uint_fast64_t gen;       /* next file generation */

	/* written under write_mtx, read anywhere */
	atomic_uint_fast64_t bytes, reserved, objects, pinned_bytes, pinned_objects;

	atomic_uint_fast64_t n_lookups, n_hits, n_misses, n_bloom_neg, n_bloom_fp;
	atomic_uint_fast64_t n_stores, n_store_errors, n_evictions, n_removes;
	atomic_uint_fast64_t n_corrupt, n_missing, n_io_errors, n_bloom_rebuilds;
	uint64_t cleaned_temp, cleaned_files, cleaned_rows; /* const after open */
};

/* Fan-out of a generation's file: DIR/objects/XX/Y with XX its bits 8-15
 * and Y its bits 16-19, so 256 consecutive versions share a directory (a
 * young cache makes few, each costing a mkdir and two fsyncs) and a large
 * one spreads evenly over all 4096. */
static inline unsigned disk_gen_x(uint64_t gen) { return (unsigned)((gen >> 8) & 0xff); }
static inline unsigned disk_gen_y(uint64_t gen) { return (unsigned)((gen >> 16) & 0xf); }

/* ---------------------------------------------------------------- disk_db.c */

/* Log the connection's last SQLite error; returns CDN_ERR. */
int disk_db_err(struct conn *c, const char *what);
/* A new connection (WAL, synchronous by opts.durable, statements
 * prepared); with schema, creates the tables first. NULL on error (logged). */
struct conn *disk_conn_open(struct disk *d, bool schema);
void disk_conn_close(struct conn *c);
/* Check a connection out of the pool (waits when all opts.conns are busy);
 * NULL only if opening a new one failed. Never call while holding one. */
struct conn *disk_conn_get(struct disk *d);
void disk_conn_put(struct disk *d, struct conn *c);
/* A statement reset and unbound, ready to bind and step. */
sqlite3_stmt *disk_st_get(struct conn *c, enum st which);
/* Step a statement that returns no rows and reset it: 0 or CDN_ERR. */
int disk_st_exec(struct conn *c, enum st which);
/* BEGIN IMMEDIATE / COMMIT (rolls back itself if the commit fails) /
 * ROLLBACK (a no-op outside a transaction). */
int disk_tx_begin(struct conn *c);
int disk_tx_commit(struct conn *c);
void disk_tx_rollback(struct conn *c);
/* The meta table: 0, CDN_NOTFOUND (get) or CDN_ERR. */
int disk_meta_get(struct conn *c, const char *k, int64_t *v);
int disk_meta_set(struct conn *c, const char *k, int64_t v);

/* ---------------------------------------------------------------- disk.c */

/* "XX/Y/GGGGGGGGGGGGGGGG", relative to DIR/objects. */
void disk_file_name(uint64_t gen, char out[32]);
/* Unlink a generation's body (ENOENT is fine; other errors are counted and
 * logged); _gens does it for a list and frees it. */
void disk_unlink_gen(struct disk *d, uint64_t gen);
void disk_unlink_gens(struct disk *d, struct gens *g);
void disk_gens_push(struct gens *g, uint64_t gen);
/* Take the buffered hits out (under "disk.touch"); write some to the index
 * in their own transaction (takes "disk.write"). */
unsigned disk_touches_drain(struct disk *d, struct touch *out);
int disk_touches_flush(struct disk *d, const struct touch *t, unsigned n);
/* With "disk.write" held, inside a write transaction: delete unpinned rows
 * in policy order until excess bytes are freed (buffered hits first).
 * 0, CDN_TOOBIG or CDN_ERR; the caller commits, then applies r. */
int disk_make_room_locked(struct disk *d, struct conn *c, uint64_t excess, struct room *r);
void disk_room_apply_locked(struct disk *d, const struct room *r);

#endif
