/*
 * disk.c: the disk tier. Bodies in files, one per stored version, and an
 * index in SQLite (WAL) that holds for each key its version's generation,
 * size, SHA-256, response head and eviction state.
 *
 * Main design choice: SQLite is the one source of truth for what is on disk
 * and in which order it is evicted. Nothing per object lives in memory but
 * a Bloom filter over the keys (about 1.2 bytes per object at the default
 * 1 % rate and 2x headroom), so the tier scales with the disk, not the RAM,
 * and a restart keeps recency and frequency without replaying anything.
 * Eviction order is an SQL index on (prio, last) over unpinned rows, where
 * prio and last are computed by store/evict (the same arithmetic as the
 * memory tier's in-memory policy). Hits are batched (DISK_TOUCH_BATCH) into
 * one write transaction, and always written before victims are chosen.
 *
 * Crash safety, in the order of the syscalls: body to DIR/objects/XX/Y/.tmp.G
 * (O_EXCL), fsync, rename to G, fsync the directory, then the row in one
 * BEGIN IMMEDIATE transaction with synchronous=FULL. Removal: delete the row
 * (commit), then unlink. disk_open removes whatever a crash between two of
 * these steps left behind (disk.h has the phase table).
 *
 * Locking (full rules in disk.h): a pool of SQLite connections, each used by
 * one thread at a time; one writer at a time under "disk.write", which also
 * guards the byte accounting and the LFU age; hits buffered under
 * "disk.touch"; the Bloom pointer under the "disk.bloom" rwlock. File I/O
 * and hashing run with no lock held.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/disk.h"
#include "util/bloom.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define DISK_MAGIC 0xd15c0001u
#define WRITER_MAGIC 0xd15c0002u
#define SCHEMA_VERSION 1
#define VICTIM_BATCH 32
#define RESERVE_STEP (1u << 20)
#define IO_CHUNK (256u * 1024u)
#define HEAD_FIXED 48u  /* magic .. lifetime */
#define HEAD_SUM 8u

/* ================================================================ types */

enum st {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_LOOKUP, ST_EXISTS, ST_BYKEY, ST_BYID, ST_DELETE, ST_INSERT,
	ST_VICTIMS, ST_TOUCH_GET, ST_TOUCH_SET, ST_META_GET, ST_META_SET, ST_PIN,
	ST_KEYS, ST__N
};

static const char *const st_sql[ST__N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_LOOKUP] = "SELECT id, gen, size, sha, head, pinned FROM obj WHERE key = ?1",
	[ST_EXISTS] = "SELECT 1 FROM obj WHERE id = ?1 AND gen = ?2",
	[ST_BYKEY] = "SELECT id, gen, charge, pinned, freq FROM obj WHERE key = ?1",
	[ST_BYID] = "SELECT charge, pinned FROM obj WHERE id = ?1 AND gen = ?2",
	[ST_DELETE] = "DELETE FROM obj WHERE id = ?1",
	[ST_INSERT] = "INSERT INTO obj(key, gen, size, charge, sha, head, req_time, "
	    "resp_time, stored, pinned, last, freq, prio) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_VICTIMS] = "SELECT id, gen, charge, prio, last, freq FROM obj "
	    "WHERE pinned = 0 ORDER BY prio, last LIMIT 32",
	[ST_TOUCH_GET] = "SELECT freq, last, prio FROM obj WHERE id = ?1",
	[ST_TOUCH_SET] = "UPDATE obj SET freq = ?2, last = ?3, prio = ?4 WHERE id = ?1",
	[ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(k, v) VALUES (?1, ?2)",
	[ST_PIN] = "UPDATE obj SET pinned = ?2 WHERE id = ?1",
	[ST_KEYS] = "SELECT key FROM obj",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS obj("
	" id INTEGER PRIMARY KEY,"
	" key BLOB NOT NULL UNIQUE,"
	" gen INTEGER NOT NULL,"          /* file generation */
	" size INTEGER NOT NULL,"         /* body bytes */
	" charge INTEGER NOT NULL,"       /* bytes counted against the limit */
	" sha BLOB NOT NULL,"             /* SHA-256 of the body */
	" head BLOB NOT NULL,"            /* disk_head_encode */
	" req_time INTEGER NOT NULL,"
	" resp_time INTEGER NOT NULL,"
	" stored INTEGER NOT NULL,"       /* wall clock of the store */
	" pinned INTEGER NOT NULL,"
	" last INTEGER NOT NULL,"         /* evict_meta */
	" freq INTEGER NOT NULL,"
	" prio INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS obj_victim ON obj(prio, last) WHERE pinned = 0;";

/* One SQLite connection and its prepared statements; one thread at a time. */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	struct conn *next;              /* (pool_mtx) free list */
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

struct disk_writer {
	unsigned magic;
	struct disk *d;
	char *key;
	size_t keylen;
	uint64_t gen;
	int dirfd, fd;
	struct digest dg;
	uint64_t written;
	uint64_t reserved;              /* charge units held in d->reserved */
	char tmpname[32], name[32];     /* inside dirfd */
};

/* A row as disk_open and disk_scrub see it. */
struct rowref {
	uint64_t gen;
	int64_t id;
};

/* ================================================================ prototypes */

static void put_u16(uint8_t *p, uint16_t v);
static void put_u32(uint8_t *p, uint32_t v);
static void put_u64(uint8_t *p, uint64_t v);
static uint16_t get_u16(const uint8_t *p);
static uint32_t get_u32(const uint8_t *p);
static uint64_t get_u64(const uint8_t *p);

static unsigned dir_x(uint64_t gen);
static unsigned dir_y(uint64_t gen);
static void dir_name(uint64_t gen, char out[8]);
static void file_name(uint64_t gen, char out[32]);
static int parse_gen(const char *s, uint64_t *gen);
static int write_all(int fd, const void *p, size_t n);
static void unlink_gen(struct disk *d, uint64_t gen);
static void unlink_gens(struct disk *d, struct gens *g);
static void gens_push(struct gens *g, uint64_t gen);
static int cmp_u64(const void *a, const void *b);
static int cmp_rowref(const void *a, const void *b);

static int db_err(struct conn *c, const char *what);
static struct conn *conn_open(struct disk *d, bool schema);
static void conn_close(struct conn *c);
static struct conn *conn_get(struct disk *d);
static void conn_put(struct disk *d, struct conn *c);
static sqlite3_stmt *st_get(struct conn *c, enum st which);
static int st_exec(struct conn *c, enum st which);
static int tx_begin(struct conn *c);
static int tx_commit(struct conn *c);
static void tx_rollback(struct conn *c);
static int meta_get(struct conn *c, const char *k, int64_t *v);
static int meta_set(struct conn *c, const char *k, int64_t v);

static unsigned touches_drain(struct disk *d, struct touch *out);
static int touches_apply_locked(struct disk *d, struct conn *c, const struct touch *t, unsigned n);
static int touches_flush(struct disk *d, const struct touch *t, unsigned n);
static void touch_record(struct disk *d, int64_t id);
static int make_room_locked(struct disk *d, struct conn *c, uint64_t excess, struct room *r);
static void room_apply_locked(struct disk *d, const struct room *r);
static int reserve(struct disk *d, uint64_t n);
static void unreserve(struct disk *d, uint64_t n);
static int index_insert(struct disk_writer *w, const struct disk_put *put,
    const uint8_t sha[DIGEST_LEN], const uint8_t *head, size_t headlen, struct gens *gone);
static void bloom_rebuild_locked(struct disk *d, struct conn *c);
static int remove_version(struct disk *d, int64_t id, uint64_t gen);
static int version_exists(struct disk *d, int64_t id, uint64_t gen, bool *exists);
static int hash_fd(int fd, uint64_t size, void *buf, uint8_t sha[DIGEST_LEN], int *err);
static int verify_fail(struct disk *d, struct disk_hit *hit, const char *why);
static int hit_check(struct disk *d, struct disk_hit *hit, void *buf);

static int make_dir(struct disk *d, uint64_t gen);
static bool is_hex_name(const char *s, size_t len);
static void scan_leaf(struct disk *d, int fd, uint64_t low, struct gens *g);
static int scan_files(struct disk *d, uint64_t **gens, size_t *ngens);
static int scan_rows(struct disk *d, struct conn *c, struct rowref **rows, size_t *nrows);
static int reconcile(struct disk *d, struct conn *c);
static int load_meta(struct disk *d, struct conn *c);

/* ================================================================ heads */

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void
disk_head_init(struct disk_head *h)
{
	memset(h, 0, sizeof *h);
	hdrs_init(&h->hdrs);
}

void
disk_head_fini(struct disk_head *h)
{
	hdrs_fini(&h->hdrs);
	h->status = 0;
	h->flags = 0;
	h->request_time = h->response_time = h->initial_age = h->lifetime = 0;
}

int
disk_head_encode(const struct disk_head *h, uint8_t **out, size_t *outlen)
{
	size_t n = HEAD_FIXED + HEAD_SUM, pos;
	uint8_t sum[DIGEST_LEN], *p;

	for (unsigned i = 0; i < h->hdrs.n; i++)
		n += 8 + strlen(h->hdrs.v[i].name) + strlen(h->hdrs.v[i].value);
	p = xmalloc(n);
	memcpy(p, "CDNH", 4);
	put_u16(p + 4, DISK_HEAD_VERSION);
	put_u16(p + 6, (uint16_t)h->status);
	put_u32(p + 8, h->flags);
	put_u32(p + 12, h->hdrs.n);
	put_u64(p + 16, (uint64_t)h->request_time);
	put_u64(p + 24, (uint64_t)h->response_time);
	put_u64(p + 32, (uint64_t)h->initial_age);
	put_u64(p + 40, (uint64_t)h->lifetime);
	pos = HEAD_FIXED;
	for (unsigned i = 0; i < h->hdrs.n; i++) {
		size_t nl = strlen(h->hdrs.v[i].name), vl = strlen(h->hdrs.v[i].value);

		put_u32(p + pos, (uint32_t)nl);
		put_u32(p + pos + 4, (uint32_t)vl);
		memcpy(p + pos + 8, h->hdrs.v[i].name, nl);
		memcpy(p + pos + 8 + nl, h->hdrs.v[i].value, vl);
		pos += 8 + nl + vl;
	}
	digest_sha256(p, pos, sum);
	memcpy(p + pos, sum, HEAD_SUM);
	*out = p;
	*outlen = n;
	return CDN_OK;
}

int
disk_head_decode(const void *buf, size_t n, struct disk_head *h)
{
	const uint8_t *p = buf;
	uint8_t sum[DIGEST_LEN];
	size_t pos, end;
	uint32_t nlines;

	if (p == NULL || n < HEAD_FIXED + HEAD_SUM || memcmp(p, "CDNH", 4) != 0 ||
	    get_u16(p + 4) != DISK_HEAD_VERSION)
		return CDN_CORRUPT;
	end = n - HEAD_SUM;
	digest_sha256(p, end, sum);
	if (memcmp(sum, p + end, HEAD_SUM) != 0)
		return CDN_CORRUPT;
	nlines = get_u32(p + 12);
	if (nlines > (end - HEAD_FIXED) / 8)
		return CDN_CORRUPT;
	h->status = get_u16(p + 6);
	h->flags = get_u32(p + 8);
	h->request_time = (int64_t)get_u64(p + 16);
	h->response_time = (int64_t)get_u64(p + 24);
	h->initial_age = (int64_t)get_u64(p + 32);
	h->lifetime = (int64_t)get_u64(p + 40);
	pos = HEAD_FIXED;
	for (uint32_t i = 0; i < nlines; i++) {
		size_t nl, vl;

		if (end - pos < 8)
			goto bad;
		nl = get_u32(p + pos);
		vl = get_u32(p + pos + 4);
		pos += 8;
		if (nl > end - pos || vl > end - pos - nl)
			goto bad;
		hdrs_addn(&h->hdrs, (const char *)p + pos, nl, (const char *)p + pos + nl, vl);
		pos += nl + vl;
	}
	if (pos != end)
		goto bad;
	return CDN_OK;
bad:
	disk_head_fini(h);
	return CDN_CORRUPT;
}

/* ================================================================ files */

/* Fan-out on bits 8-19 of the generation: 256 consecutive versions share a
 * directory, so a young cache makes few directories (each costs a mkdir and
 * two fsyncs), and a large one spreads evenly over all 4096. */
static unsigned dir_x(uint64_t gen) { return (unsigned)((gen >> 8) & 0xff); }
static unsigned dir_y(uint64_t gen) { return (unsigned)((gen >> 16) & 0xf); }

static void
dir_name(uint64_t gen, char out[8])
{
	snprintf(out, 8, "%02x/%x", dir_x(gen), dir_y(gen));
}

static void
file_name(uint64_t gen, char out[32])
{
	snprintf(out, 32, "%02x/%x/%016" PRIx64, dir_x(gen), dir_y(gen), gen);
}

/* 16 lower-case hex digits, nothing else. */
static int
parse_gen(const char *s, uint64_t *gen)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		char ch = s[i];

		if (ch >= '0' && ch <= '9')
			v = (v << 4) | (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = (v << 4) | (uint64_t)(ch - 'a' + 10);
		else
			return CDN_INVAL;
	}
	if (s[16] != '\0')
		return CDN_INVAL;
	*gen = v;
	return CDN_OK;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
unlink_gen(struct disk *d, uint64_t gen)
{
	char name[32];
	int e;

	file_name(gen, name);
	if (unlinkat(d->objfd, name, 0) != 0 && errno != ENOENT) {
		e = errno;
		atomic_fetch_add(&d->n_io_errors, 1);
		log_errno(LVL_ERROR, e, "disk: cannot unlink %s/objects/%s", d->dir, name);
	}
}

static void
unlink_gens(struct disk *d, struct gens *g)
{
	for (size_t i = 0; i < g->n; i++)
		unlink_gen(d, g->v[i]);
	free(g->v);
	memset(g, 0, sizeof *g);
}

static void
gens_push(struct gens *g, uint64_t gen)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = gen;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_rowref(const void *a, const void *b)
{
	return cmp_u64(&((const struct rowref *)a)->gen, &((const struct rowref *)b)->gen);
}

uint64_t
disk_charge(uint64_t size, size_t keylen, size_t headlen)
{
	return (size + DISK_BLOCK - 1) / DISK_BLOCK * DISK_BLOCK + keylen + headlen +
	    DISK_ROW_OVERHEAD;
}

/* ================================================================ SQLite */

static int
db_err(struct conn *c, const char *what)
{
	log_msg(LVL_ERROR, "disk: sqlite %s: %s", what, sqlite3_errmsg(c->db));
	return CDN_ERR;
}

static struct conn *
conn_open(struct disk *d, bool schema)
{
	struct conn *c = xcalloc(1, sizeof *c);
	char pragma[96];
	int rc;

	rc = sqlite3_open_v2(d->dbpath, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_msg(LVL_ERROR, "disk: cannot open %s: %s", d->dbpath,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(c->db, 10000);
	snprintf(pragma, sizeof pragma, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;",
	    d->opts.durable ? "FULL" : "OFF");
	if (sqlite3_exec(c->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
		db_err(c, "pragma");
		goto fail;
	}
	if (schema && sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_err(c, "schema");
		goto fail;
	}
	for (int i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(c->db, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &c->st[i], NULL) != SQLITE_OK) {
			db_err(c, st_sql[i]);
			goto fail;
		}
	}
	return c;
fail:
	conn_close(c);
	return NULL;
}

static void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

/* Check out a connection: a free one, a new one while under opts.conns, or
 * wait for one. NULL only if opening a new one failed (logged). */
static struct conn *
conn_get(struct disk *d)
{
	struct conn *c;

	PTOK(pthread_mutex_lock(&d->pool_mtx));
	while (d->pool_free == NULL && d->nconns >= d->opts.conns)
		PTOK(pthread_cond_wait(&d->pool_cv, &d->pool_mtx));
	c = d->pool_free;
	if (c != NULL) {
		d->pool_free = c->next;
		c->next = NULL;
		PTOK(pthread_mutex_unlock(&d->pool_mtx));
		return c;
	}
	d->nconns++;
	PTOK(pthread_mutex_unlock(&d->pool_mtx));
	c = conn_open(d, false);    /* I/O: outside the pool lock */
	if (c == NULL) {
		PTOK(pthread_mutex_lock(&d->pool_mtx));
		d->nconns--;
		PTOK(pthread_cond_signal(&d->pool_cv));
		PTOK(pthread_mutex_unlock(&d->pool_mtx));
	}
	return c;
}

static void
conn_put(struct disk *d, struct conn *c)
{
	PTOK(pthread_mutex_lock(&d->pool_mtx));
	c->next = d->pool_free;
	d->pool_free = c;
	PTOK(pthread_cond_signal(&d->pool_cv));
	PTOK(pthread_mutex_unlock(&d->pool_mtx));
}

/* A reset statement with no bindings, ready to bind and step. */
static sqlite3_stmt *
st_get(struct conn *c, enum st which)
{
	sqlite3_stmt *s = c->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Step a statement that returns no rows, then reset it. */
static int
st_exec(struct conn *c, enum st which)
{
	sqlite3_stmt *s = c->st[which];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_err(c, st_sql[which]);
	return CDN_OK;
}

static int
tx_begin(struct conn *c)
{
	st_get(c, ST_BEGIN);
	return st_exec(c, ST_BEGIN);
}

static int
tx_commit(struct conn *c)
{
	st_get(c, ST_COMMIT);
	if (st_exec(c, ST_COMMIT) != CDN_OK) {
		tx_rollback(c);
		return CDN_ERR;
	}
	return CDN_OK;
}

static void
tx_rollback(struct conn *c)
{
	/* Reset every statement first: an active one would keep the
	 * transaction's read lock. */
	for (int i = 0; i < ST__N; i++)
		sqlite3_reset(c->st[i]);
	if (sqlite3_get_autocommit(c->db))
		return;
	st_get(c, ST_ROLLBACK);
	(void)st_exec(c, ST_ROLLBACK);
}

static int
meta_get(struct conn *c, const char *k, int64_t *v)
{
	sqlite3_stmt *s = st_get(c, ST_META_GET);
	int rc;

	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return CDN_OK;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? CDN_NOTFOUND : db_err(c, "meta");
}

static int
meta_set(struct conn *c, const char *k, int64_t v)
{
	sqlite3_stmt *s = st_get(c, ST_META_SET);

	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return st_exec(c, ST_META_SET);
}

/* ================================================================ eviction state */

static unsigned
touches_drain(struct disk *d, struct touch *out)
{
	unsigned n;

	PTOK(pthread_mutex_lock(&d->touch_mtx));
	n = d->ntouches;
	memcpy(out, d->touches, n * sizeof *out);
	d->ntouches = 0;
	PTOK(pthread_mutex_unlock(&d->touch_mtx));
	return n;
}

/* Inside a write transaction: apply hits to their rows (gone rows are
 * skipped). */
static int
touches_apply_locked(struct disk *d, struct conn *c, const struct touch *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		sqlite3_stmt *s = st_get(c, ST_TOUCH_GET);
		struct evict_clock ck = { d->policy, t[i].tick, atomic_load(&d->age) };
		struct evict_meta m;
		int rc;

		sqlite3_bind_int64(s, 1, t[i].id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(s);
			continue;
		}
		if (rc != SQLITE_ROW)
			return db_err(c, "touch");
		m.freq = (uint32_t)sqlite3_column_int64(s, 0);
		m.last = (uint64_t)sqlite3_column_int64(s, 1);
		m.prio = (uint64_t)sqlite3_column_int64(s, 2);
		sqlite3_reset(s);
		/* The hit's own tick becomes last, so batching keeps the order
		 * of accesses rather than the order of the flush. */
		evict_meta_hit(&ck, &m, t[i].hits);
		s = st_get(c, ST_TOUCH_SET);
		sqlite3_bind_int64(s, 1, t[i].id);
		sqlite3_bind_int64(s, 2, m.freq);
		sqlite3_bind_int64(s, 3, (int64_t)m.last);
		sqlite3_bind_int64(s, 4, (int64_t)m.prio);
		if (st_exec(c, ST_TOUCH_SET) != CDN_OK)
			return CDN_ERR;
	}
	return CDN_OK;
}

static int
touches_flush(struct disk *d, const struct touch *t, unsigned n)
{
	struct conn *c;
	int rc = CDN_ERR;

	if (n == 0)
		return CDN_OK;
	PTOK(pthread_mutex_lock(&d->write_mtx));
	c = conn_get(d);
	if (c == NULL)
		goto out;
	if (tx_begin(c) != CDN_OK)
		goto put;
	if (touches_apply_locked(d, c, t, n) != CDN_OK) {
		tx_rollback(c);
		goto put;
	}
	rc = tx_commit(c);
put:
	conn_put(d, c);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	return rc;
}

static void
touch_record(struct disk *d, int64_t id)
{
	struct touch batch[DISK_TOUCH_BATCH];
	uint64_t tick = atomic_fetch_add(&d->tick, 1);
	unsigned i, n = 0;

	PTOK(pthread_mutex_lock(&d->touch_mtx));
	for (i = 0; i < d->ntouches; i++)
		if (d->touches[i].id == id)
			break;
	if (i < d->ntouches) {
		d->touches[i].hits++;
		if (tick > d->touches[i].tick)
			d->touches[i].tick = tick;
	} else {
		d->touches[i] = (struct touch){ .id = id, .tick = tick, .hits = 1 };
		d->ntouches++;
	}
	if (d->ntouches == DISK_TOUCH_BATCH) {
		n = d->ntouches;
		memcpy(batch, d->touches, sizeof batch);
		d->ntouches = 0;
	}
	PTOK(pthread_mutex_unlock(&d->touch_mtx));
	if (n > 0)
		(void)touches_flush(d, batch, n);
}

/*
 * Inside a write transaction: delete unpinned rows in policy order until
 * excess bytes are freed. Hits still buffered are written first, so the
 * order is current. Returns 0, CDN_TOOBIG (not enough unpinned bytes; rows
 * deleted so far are in r and the caller rolls back) or CDN_ERR.
 */
static int
make_room_locked(struct disk *d, struct conn *c, uint64_t excess, struct room *r)
{
	struct touch t[DISK_TOUCH_BATCH];
	unsigned nt = touches_drain(d, t);

	if (touches_apply_locked(d, c, t, nt) != CDN_OK)
		return CDN_ERR;
	while (r->freed < excess) {
		struct { int64_t id; uint64_t gen, charge; struct evict_meta m; } v[VICTIM_BATCH];
		sqlite3_stmt *s = st_get(c, ST_VICTIMS);
		int nv = 0, rc;

		while ((rc = sqlite3_step(s)) == SQLITE_ROW && nv < VICTIM_BATCH) {
			v[nv].id = sqlite3_column_int64(s, 0);
			v[nv].gen = (uint64_t)sqlite3_column_int64(s, 1);
			v[nv].charge = (uint64_t)sqlite3_column_int64(s, 2);
			v[nv].m.prio = (uint64_t)sqlite3_column_int64(s, 3);
			v[nv].m.last = (uint64_t)sqlite3_column_int64(s, 4);
			v[nv].m.freq = (uint32_t)sqlite3_column_int64(s, 5);
			nv++;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_err(c, "victims");
		if (nv == 0)
			return CDN_TOOBIG;
		for (int i = 0; i < nv && r->freed < excess; i++) {
			struct evict_clock ck = { d->policy, 0, r->age };

			s = st_get(c, ST_DELETE);
			sqlite3_bind_int64(s, 1, v[i].id);
			if (st_exec(c, ST_DELETE) != CDN_OK)
				return CDN_ERR;
			evict_clock_victim(&ck, &v[i].m);
			r->age = ck.age;
			r->freed += v[i].charge;
			r->n++;
			gens_push(&r->gone, v[i].gen);
		}
	}
	if (r->n > 0 && d->policy == EVICT_LFU && r->age != atomic_load(&d->age))
		return meta_set(c, "age", (int64_t)r->age);
	return CDN_OK;
}

/* After the commit of a transaction that evicted. */
static void
room_apply_locked(struct disk *d, const struct room *r)
{
	atomic_fetch_sub(&d->bytes, r->freed);
	atomic_fetch_sub(&d->objects, r->n);
	atomic_fetch_add(&d->n_evictions, r->n);
	atomic_store(&d->age, r->age);
}

/* Reserve n bytes for a body about to be written, evicting as needed. */
static int
reserve(struct disk *d, uint64_t n)
{
	struct room r = { .freed = 0 };
	struct conn *c = NULL;
	uint64_t used;
	int rc = CDN_OK;

	PTOK(pthread_mutex_lock(&d->write_mtx));
	r.age = atomic_load(&d->age);
	used = atomic_load(&d->bytes) + atomic_load(&d->reserved);
	if (n > d->limit || used > d->limit - n) {
		if (n > d->limit ||
		    atomic_load(&d->pinned_bytes) + atomic_load(&d->reserved) > d->limit - n) {
			rc = CDN_TOOBIG;
			goto out;
		}
		c = conn_get(d);
		if (c == NULL) {
			rc = CDN_ERR;
			goto out;
		}
		rc = tx_begin(c);
		if (rc == CDN_OK)
			rc = make_room_locked(d, c, used + n - d->limit, &r);
		if (rc == CDN_OK)
			rc = tx_commit(c);
		else
			tx_rollback(c);
		conn_put(d, c);
		if (rc != CDN_OK)
			goto out;
		room_apply_locked(d, &r);
	}
	atomic_fetch_add(&d->reserved, n);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	if (rc == CDN_OK)
		unlink_gens(d, &r.gone);
	else
		free(r.gone.v);
	return rc;
}

static void
unreserve(struct disk *d, uint64_t n)
{
	if (n == 0)
		return;
	PTOK(pthread_mutex_lock(&d->write_mtx));
	AN(atomic_load(&d->reserved) >= n);
	atomic_fetch_sub(&d->reserved, n);
	PTOK(pthread_mutex_unlock(&d->write_mtx));
}

/* Called with write_mtx held and c outside any transaction: if the filter
 * has taken more keys than it was sized for (removed keys still count),
 * build a new one from the index and swap it in. */
static void
bloom_rebuild_locked(struct disk *d, struct conn *c)
{
	struct bloom *nb, *old = d->bloom;
	uint64_t cap;
	sqlite3_stmt *s;
	int rc;

	if (bloom_count(old) <= bloom_capacity(old))
		return;
	cap = 2 * atomic_load(&d->objects);
	if (cap < d->opts.bloom_min)
		cap = d->opts.bloom_min;
	nb = bloom_new(cap, d->opts.bloom_fp);
	s = st_get(c, ST_KEYS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		bloom_add(nb, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		db_err(c, "bloom keys");
		bloom_free(&nb);
		return;
	}
	PTOK(pthread_rwlock_wrlock(&d->bloom_lk));
	d->bloom = nb;
	PTOK(pthread_rwlock_unlock(&d->bloom_lk));
	bloom_free(&old);
	atomic_fetch_add(&d->n_bloom_rebuilds, 1);
}

/* Delete the row (id, gen) if it is still there, then its file. */
static int
remove_version(struct disk *d, int64_t id, uint64_t gen)
{
	struct conn *c;
	sqlite3_stmt *s;
	int rc = CDN_ERR, step;
	uint64_t charge = 0;
	bool pinned = false, found = false;

	PTOK(pthread_mutex_lock(&d->write_mtx));
	c = conn_get(d);
	if (c == NULL)
		goto out;
	if (tx_begin(c) != CDN_OK)
		goto put;
	s = st_get(c, ST_BYID);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)gen);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		found = true;
		charge = (uint64_t)sqlite3_column_int64(s, 0);
		pinned = sqlite3_column_int64(s, 1) != 0;
	}
	sqlite3_reset(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		db_err(c, "remove");
		tx_rollback(c);
		goto put;
	}
	if (found) {
		s = st_get(c, ST_DELETE);
		sqlite3_bind_int64(s, 1, id);
		if (st_exec(c, ST_DELETE) != CDN_OK) {
			tx_rollback(c);
			goto put;
		}
	}
	rc = tx_commit(c);
	if (rc == CDN_OK && found) {
		atomic_fetch_sub(&d->bytes, charge);
		atomic_fetch_sub(&d->objects, 1);
		if (pinned) {
			atomic_fetch_sub(&d->pinned_bytes, charge);
			atomic_fetch_sub(&d->pinned_objects, 1);
		}
	}
put:
	conn_put(d, c);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	/* Generations are never reused, so this file is this version's alone. */
	if (rc == CDN_OK)
		unlink_gen(d, gen);
	return rc;
}

static int
version_exists(struct disk *d, int64_t id, uint64_t gen, bool *exists)
{
	struct conn *c = conn_get(d);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return CDN_ERR;
	s = st_get(c, ST_EXISTS);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)gen);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	conn_put(d, c);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return CDN_ERR;
	*exists = rc == SQLITE_ROW;
	return CDN_OK;
}

/* ================================================================ open / close */

void
disk_opts_default(struct disk_opts *o)
{
	o->conns = 4;
	o->durable = true;
	o->bloom_fp = 0.01;
	o->bloom_min = 4096;
}

/* Create the fan-out directory of gen (XX, then XX/Y) if missing; each
 * creation is made durable by an fsync of its parent, before any file in
 * it is. Racing creators are fine (EEXIST). Returns 0 or CDN_ERR (errno
 * kept for the caller's log line). */
static int
make_dir(struct disk *d, uint64_t gen)
{
	char x[4], y[4];
	int xfd, e;

	snprintf(x, sizeof x, "%02x", dir_x(gen));
	snprintf(y, sizeof y, "%x", dir_y(gen));
	if (mkdirat(d->objfd, x, 0755) == 0) {
		if (d->opts.durable && fsync(d->objfd) != 0)
			return CDN_ERR;
	} else if (errno != EEXIST) {
		return CDN_ERR;
	}
	xfd = openat(d->objfd, x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (xfd < 0)
		return CDN_ERR;
	if (mkdirat(xfd, y, 0755) == 0) {
		if (d->opts.durable && fsync(xfd) != 0)
			goto fail;
	} else if (errno != EEXIST) {
		goto fail;
	}
	close(xfd);
	return CDN_OK;
fail:
	e = errno;
	close(xfd);
	errno = e;
	return CDN_ERR;
}

/* 1 or 2 lower-case hex digits exactly: a fan-out directory name. */
static bool
is_hex_name(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Clean one leaf directory XX/Y (its gens have bits 8-19 `low`): unlink
 * temp files and names that are not ours, collect the generations. */
static void
scan_leaf(struct disk *d, int fd, uint64_t low, struct gens *g)
{
	struct dirent *de;
	DIR *dir = fdopendir(fd);

	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		uint64_t gen;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (parse_gen(de->d_name, &gen) == CDN_OK && ((gen >> 8) & 0xfff) == low) {
			gens_push(g, gen);
			continue;
		}
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0) {
			if (strncmp(de->d_name, ".tmp.", 5) == 0)
				d->cleaned_temp++;
			else
				d->cleaned_files++;
		}
	}
	closedir(dir);
}

/* Walk the fan-out directories that exist (they are made on first use):
 * unlink temp files and names that are not ours, collect the generations
 * of body files. Anything else (other directories) is left alone. */
static int
scan_files(struct disk *d, uint64_t **gensp, size_t *ngensp)
{
	struct gens g = { 0 };
	struct dirent *xe;
	DIR *top;
	int fd = openat(d->objfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (top = fdopendir(fd)) == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		log_errno(LVL_ERROR, e, "disk: cannot read %s/objects", d->dir);
		return CDN_ERR;
	}
	while ((xe = readdir(top)) != NULL) {
		struct dirent *ye;
		DIR *xd;
		int xfd;

		if (!is_hex_name(xe->d_name, 2))
			continue;
		xfd = openat(dirfd(top), xe->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (xfd < 0 || (xd = fdopendir(xfd)) == NULL) {
			if (xfd >= 0)
				close(xfd);
			continue;
		}
		while ((ye = readdir(xd)) != NULL) {
			uint64_t low;
			int yfd;

			if (!is_hex_name(ye->d_name, 1))
				continue;
			low = strtoull(xe->d_name, NULL, 16) | (strtoull(ye->d_name, NULL, 16) << 8);
			yfd = openat(dirfd(xd), ye->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (yfd >= 0)
				scan_leaf(d, yfd, low, &g);
		}
		closedir(xd);
	}
	closedir(top);
	*gensp = g.v;
	*ngensp = g.n;
	return CDN_OK;
}

/* Every row's (gen, id), the Bloom filter over the keys, and the sums. */
static int
scan_rows(struct disk *d, struct conn *c, struct rowref **rowsp, size_t *nrowsp)
{
	sqlite3_stmt *s;
	struct rowref *rows = NULL;
	size_t n = 0, cap = 0;
	uint64_t bytes = 0, pbytes = 0, pobjs = 0, maxlast = 0, cnt = 0, bcap;
	int rc;

	if (sqlite3_prepare_v2(c->db, "SELECT COUNT(*) FROM obj", -1, &s, NULL) != SQLITE_OK)
		return db_err(c, "count");
	if (sqlite3_step(s) == SQLITE_ROW)
		cnt = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	bcap = 2 * cnt < d->opts.bloom_min ? d->opts.bloom_min : 2 * cnt;
	d->bloom = bloom_new(bcap, d->opts.bloom_fp);

	if (sqlite3_prepare_v2(c->db, "SELECT id, gen, key, charge, pinned, last FROM obj",
	    -1, &s, NULL) != SQLITE_OK)
		return db_err(c, "scan");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t charge = (uint64_t)sqlite3_column_int64(s, 3);
		uint64_t last = (uint64_t)sqlite3_column_int64(s, 5);

		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		rows[n].id = sqlite3_column_int64(s, 0);
		rows[n].gen = (uint64_t)sqlite3_column_int64(s, 1);
		n++;
		bloom_add(d->bloom, sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2));
		bytes += charge;
		if (sqlite3_column_int64(s, 4) != 0) {
			pbytes += charge;
			pobjs++;
		}
		if (last > maxlast)
			maxlast = last;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(rows);
		return db_err(c, "scan");
	}
	atomic_store(&d->bytes, bytes);
	atomic_store(&d->objects, n);
	atomic_store(&d->pinned_bytes, pbytes);
	atomic_store(&d->pinned_objects, pobjs);
	if (maxlast + 1 > atomic_load(&d->tick))
		atomic_store(&d->tick, maxlast + 1);
	*rowsp = rows;
	*nrowsp = n;
	return CDN_OK;
}

/* Match rows with files by generation: delete rows with no file, unlink
 * files with no row, and set the next generation past every one seen. */
static int
reconcile(struct disk *d, struct conn *c)
{
	uint64_t *files = NULL, maxgen = 0;
	struct rowref *rows = NULL;
	size_t nf = 0, nr = 0, i = 0, j = 0;
	int rc = CDN_ERR;
	bool intx = false;

	if (scan_files(d, &files, &nf) != CDN_OK)
		goto out;
	if (scan_rows(d, c, &rows, &nr) != CDN_OK)
		goto out;
	if (nf > 1)
		qsort(files, nf, sizeof *files, cmp_u64);
	if (nr > 1)
		qsort(rows, nr, sizeof *rows, cmp_rowref);
	if (nf > 0)
		maxgen = files[nf - 1];
	if (nr > 0 && rows[nr - 1].gen > maxgen)
		maxgen = rows[nr - 1].gen;
	atomic_store(&d->gen, maxgen + 1);

	while (i < nr || j < nf) {
		if (j == nf || (i < nr && rows[i].gen < files[j])) {
			/* a row whose file is gone */
			if (!intx) {
				if (tx_begin(c) != CDN_OK)
					goto out;
				intx = true;
			}
			sqlite3_stmt *s = st_get(c, ST_DELETE);

			sqlite3_bind_int64(s, 1, rows[i].id);
			if (st_exec(c, ST_DELETE) != CDN_OK)
				goto out;
			d->cleaned_rows++;
			i++;
		} else if (i == nr || files[j] < rows[i].gen) {
			unlink_gen(d, files[j]);
			d->cleaned_files++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	if (intx) {
		intx = false;
		if (tx_commit(c) != CDN_OK)
			goto out;
		/* Recount what is left (rare: only after lost files). */
		free(rows);
		rows = NULL;
		bloom_free(&d->bloom);
		if (scan_rows(d, c, &rows, &nr) != CDN_OK)
			goto out;
	}
	rc = CDN_OK;
out:
	if (intx)
		tx_rollback(c);
	free(files);
	free(rows);
	return rc;
}

static int
load_meta(struct disk *d, struct conn *c)
{
	int64_t v;
	int rc;

	if (tx_begin(c) != CDN_OK)
		return CDN_ERR;
	rc = meta_get(c, "schema", &v);
	if (rc == CDN_NOTFOUND)
		rc = meta_set(c, "schema", SCHEMA_VERSION);
	else if (rc == CDN_OK && v != SCHEMA_VERSION) {
		log_msg(LVL_ERROR, "disk: %s has index schema %" PRId64 ", this build knows %d",
		    d->dbpath, v, SCHEMA_VERSION);
		rc = CDN_ERR;
	}
	if (rc != CDN_OK)
		goto fail;
	rc = meta_get(c, "policy", &v);
	if (rc == CDN_ERR)
		goto fail;
	if (rc == CDN_NOTFOUND || v != (int64_t)d->policy) {
		/* Priorities were computed by another policy: recompute them
		 * from freq and last, with the age starting over. */
		const char *sql = d->policy == EVICT_LFU ?
		    "UPDATE obj SET prio = freq" : "UPDATE obj SET prio = last";

		if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			db_err(c, "policy change");
			goto fail;
		}
		if (meta_set(c, "policy", d->policy) != CDN_OK || meta_set(c, "age", 0) != CDN_OK)
			goto fail;
	}
	rc = meta_get(c, "age", &v);
	if (rc == CDN_ERR)
		goto fail;
	atomic_store(&d->age, rc == CDN_OK ? (uint64_t)v : 0);
	return tx_commit(c);
fail:
	tx_rollback(c);
	return CDN_ERR;
}

int
disk_open(const char *dir, uint64_t limit, enum evict_policy policy,
    const struct disk_opts *opts, struct disk **dp)
{
	struct disk *d = xcalloc(1, sizeof *d);
	struct conn *c = NULL;
	char *path;
	int e;

	*dp = NULL;
	d->magic = DISK_MAGIC;
	d->dir = xstrdup(dir);
	d->dbpath = xasprintf("%s/index.db", dir);
	d->lockfd = d->objfd = -1;
	d->limit = limit;
	d->policy = policy;
	if (opts != NULL)
		d->opts = *opts;
	else
		disk_opts_default(&d->opts);
	if (d->opts.conns == 0)
		d->opts.conns = 1;
	if (!(d->opts.bloom_fp > 0.0 && d->opts.bloom_fp < 1.0))
		d->opts.bloom_fp = 0.01;
	if (d->opts.bloom_min == 0)
		d->opts.bloom_min = 1;
	PTOK(pthread_mutex_init(&d->pool_mtx, NULL));
	PTOK(pthread_cond_init(&d->pool_cv, NULL));
	PTOK(pthread_mutex_init(&d->write_mtx, NULL));
	PTOK(pthread_mutex_init(&d->touch_mtx, NULL));
	PTOK(pthread_rwlock_init(&d->bloom_lk, NULL));
	atomic_init(&d->tick, 1);
	atomic_init(&d->gen, 1);

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		e = errno;
		log_errno(LVL_ERROR, e, "disk: cannot create %s", dir);
		goto fail;
	}
	path = xasprintf("%s/lock", dir);
	d->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	e = errno;
	free(path);
	if (d->lockfd < 0) {
		log_errno(LVL_ERROR, e, "disk: cannot open %s/lock", dir);
		goto fail;
	}
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		log_errno(LVL_ERROR, e, "disk: %s is in use by another process", dir);
		goto fail;
	}
	path = xasprintf("%s/objects", dir);
	if (mkdir(path, 0755) == 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		/* the new directory entry must outlive a power cut like the
		 * files under it */
		if (dfd >= 0) {
			if (d->opts.durable)
				(void)fsync(dfd);
			close(dfd);
		}
	} else if (errno != EEXIST) {
		e = errno;
		log_errno(LVL_ERROR, e, "disk: cannot create %s", path);
		free(path);
		goto fail;
	}
	d->objfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	free(path);
	if (d->objfd < 0) {
		log_errno(LVL_ERROR, e, "disk: cannot open %s/objects", dir);
		goto fail;
	}
	c = conn_open(d, true);
	if (c == NULL)
		goto fail;
	d->nconns = 1;
	if (load_meta(d, c) != CDN_OK || reconcile(d, c) != CDN_OK)
		goto fail;
	if (atomic_load(&d->bytes) > d->limit) {
		/* A smaller limit than last time: shrink now. */
		struct room r = { .age = atomic_load(&d->age) };

		if (tx_begin(c) != CDN_OK)
			goto fail;
		if (make_room_locked(d, c, atomic_load(&d->bytes) - d->limit, &r) == CDN_ERR ||
		    tx_commit(c) != CDN_OK) {
			tx_rollback(c);
			free(r.gone.v);
			goto fail;
		}
		/* CDN_TOOBIG (pinned bytes alone exceed the limit) keeps what
		 * could be evicted evicted. */
		room_apply_locked(d, &r);
		unlink_gens(d, &r.gone);
	}
	conn_put(d, c);
	if (d->cleaned_temp + d->cleaned_files + d->cleaned_rows > 0)
		log_msg(LVL_WARN, "disk: %s: removed %" PRIu64 " temp files, %" PRIu64
		    " files with no index row, %" PRIu64 " rows with no file", dir,
		    d->cleaned_temp, d->cleaned_files, d->cleaned_rows);
	*dp = d;
	return CDN_OK;
fail:
	if (c != NULL) {
		conn_close(c);
		d->nconns = 0;
	}
	disk_close(&d);
	return CDN_ERR;
}

void
disk_close(struct disk **dp)
{
	struct disk *d = *dp;
	struct touch t[DISK_TOUCH_BATCH];
	unsigned n;

	*dp = NULL;
	if (d == NULL)
		return;
	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	if (d->nconns > 0) {
		n = touches_drain(d, t);
		(void)touches_flush(d, t, n);
	}
	PTOK(pthread_mutex_lock(&d->pool_mtx));
	while (d->pool_free != NULL) {
		struct conn *c = d->pool_free;

		d->pool_free = c->next;
		conn_close(c);
		d->nconns--;
	}
	AZ(d->nconns);      /* every connection was returned */
	PTOK(pthread_mutex_unlock(&d->pool_mtx));
	bloom_free(&d->bloom);
	if (d->objfd >= 0)
		close(d->objfd);
	if (d->lockfd >= 0)
		close(d->lockfd);   /* releases the flock */
	PTOK(pthread_mutex_destroy(&d->pool_mtx));
	PTOK(pthread_cond_destroy(&d->pool_cv));
	PTOK(pthread_mutex_destroy(&d->write_mtx));
	PTOK(pthread_mutex_destroy(&d->touch_mtx));
	PTOK(pthread_rwlock_destroy(&d->bloom_lk));
	free(d->dir);
	free(d->dbpath);
	d->magic = 0;
	free(d);
}

/* ================================================================ store */

int
disk_write_start(struct disk *d, const char *key, size_t keylen, uint64_t size_hint,
    struct disk_writer **wp)
{
	struct disk_writer *w;
	char dname[8];
	int rc, e;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	*wp = NULL;
	w = xcalloc(1, sizeof *w);
	w->magic = WRITER_MAGIC;
	w->d = d;
	w->key = xmalloc(keylen + 1);
	memcpy(w->key, key, keylen);
	w->key[keylen] = '\0';
	w->keylen = keylen;
	w->dirfd = w->fd = -1;
	w->gen = atomic_fetch_add(&d->gen, 1);
	rc = reserve(d, disk_charge(size_hint, keylen, 0));
	if (rc != CDN_OK)
		goto fail;
	w->reserved = disk_charge(size_hint, keylen, 0);
	dir_name(w->gen, dname);
	snprintf(w->tmpname, sizeof w->tmpname, ".tmp.%016" PRIx64, w->gen);
	snprintf(w->name, sizeof w->name, "%016" PRIx64, w->gen);
	w->dirfd = openat(d->objfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0 && errno == ENOENT && make_dir(d, w->gen) == CDN_OK)
		w->dirfd = openat(d->objfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd >= 0)
		w->fd = openat(w->dirfd, w->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		e = errno;
		atomic_fetch_add(&d->n_io_errors, 1);
		log_errno(LVL_ERROR, e, "disk: cannot create %s/objects/%s/%s", d->dir, dname,
		    w->tmpname);
		rc = CDN_ERR;
		goto fail;
	}
	digest_init(&w->dg);
	*wp = w;
	return CDN_OK;
fail:
	atomic_fetch_add(&d->n_store_errors, 1);
	disk_write_abort(&w);
	return rc;
}

int
disk_write_append(struct disk_writer *w, const void *p, size_t n)
{
	struct disk *d;
	uint64_t need;
	int e;

	CHECK_OBJ_NOTNULL(w, WRITER_MAGIC);
	d = w->d;
	need = disk_charge(w->written + n, w->keylen, 0);
	if (need > w->reserved) {
		/* Reserve ahead (doubling, up to RESERVE_STEP), so a large body
		 * does not make an eviction transaction per chunk; fall back to
		 * the exact need. */
		uint64_t more = need - w->reserved, ahead = need < RESERVE_STEP ? need : RESERVE_STEP;

		if (more < ahead && reserve(d, ahead) == CDN_OK) {
			w->reserved += ahead;
		} else {
			int rc = reserve(d, more);

			if (rc != CDN_OK)
				return rc;
			w->reserved += more;
		}
	}
	if (write_all(w->fd, p, n) != 0) {
		e = errno;
		atomic_fetch_add(&d->n_io_errors, 1);
		log_errno(LVL_ERROR, e, "disk: write to %s/objects/.../%s", d->dir, w->tmpname);
		return CDN_ERR;
	}
	digest_update(&w->dg, p, n);
	w->written += n;
	return CDN_OK;
}

void
disk_write_abort(struct disk_writer **wp)
{
	struct disk_writer *w = *wp;

	*wp = NULL;
	if (w == NULL)
		return;
	CHECK_OBJ_NOTNULL(w, WRITER_MAGIC);
	if (w->fd >= 0) {
		close(w->fd);
		(void)unlinkat(w->dirfd, w->tmpname, 0);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	digest_fini(&w->dg);
	unreserve(w->d, w->reserved);
	free(w->key);
	w->magic = 0;
	free(w);
}

/*
 * The row for a durable body, in one transaction: drop the key's previous
 * version, make room for the difference between the charge and what was
 * reserved, insert, add the key to the Bloom filter. On success the
 * reservation is converted into the charge, and the generations to unlink
 * (old version, victims) are in *gone.
 */
static int
index_insert(struct disk_writer *w, const struct disk_put *put, const uint8_t sha[DIGEST_LEN],
    const uint8_t *head, size_t headlen, struct gens *gone)
{
	struct disk *d = w->d;
	struct room r = { .freed = 0 };
	struct conn *c;
	sqlite3_stmt *s;
	struct evict_meta m;
	struct evict_clock ck;
	uint64_t charge = disk_charge(w->written, w->keylen, headlen), old_charge = 0;
	uint64_t old_gen = 0, used, old_freq = 0;
	int64_t old_id = 0;
	bool old = false, old_pinned = false, pin = (put->flags & DISK_PIN) != 0;
	int rc = CDN_ERR, step;

	PTOK(pthread_mutex_lock(&d->write_mtx));
	r.age = atomic_load(&d->age);
	c = conn_get(d);
	if (c == NULL)
		goto out;
	if (tx_begin(c) != CDN_OK)
		goto put;
	s = st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, w->key, (int)w->keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		old = true;
		old_id = sqlite3_column_int64(s, 0);
		old_gen = (uint64_t)sqlite3_column_int64(s, 1);
		old_charge = (uint64_t)sqlite3_column_int64(s, 2);
		old_pinned = sqlite3_column_int64(s, 3) != 0;
		old_freq = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		db_err(c, "store lookup");
		goto rollback;
	}
	if (old) {
		s = st_get(c, ST_DELETE);
		sqlite3_bind_int64(s, 1, old_id);
		if (st_exec(c, ST_DELETE) != CDN_OK)
			goto rollback;
	}
	/* After this commit: bytes - old + charge, reserved - w->reserved. */
	used = atomic_load(&d->bytes) - old_charge + charge +
	    (atomic_load(&d->reserved) - w->reserved);
	if (used > d->limit) {
		rc = make_room_locked(d, c, used - d->limit, &r);
		if (rc != CDN_OK)
			goto rollback;
		rc = CDN_ERR;
	}
	ck = (struct evict_clock){ d->policy, atomic_fetch_add(&d->tick, 1), r.age };
	evict_meta_new(&ck, &m, old_freq > put->freq ? (uint32_t)old_freq : put->freq);
	s = st_get(c, ST_INSERT);
	sqlite3_bind_blob(s, 1, w->key, (int)w->keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)w->gen);
	sqlite3_bind_int64(s, 3, (int64_t)w->written);
	sqlite3_bind_int64(s, 4, (int64_t)charge);
	sqlite3_bind_blob(s, 5, sha, DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, head, (int)headlen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, put->head->request_time);
	sqlite3_bind_int64(s, 8, put->head->response_time);
	sqlite3_bind_int64(s, 9, (int64_t)time(NULL));
	sqlite3_bind_int(s, 10, pin);
	sqlite3_bind_int64(s, 11, (int64_t)m.last);
	sqlite3_bind_int64(s, 12, m.freq);
	sqlite3_bind_int64(s, 13, (int64_t)m.prio);
	if (st_exec(c, ST_INSERT) != CDN_OK)
		goto rollback;
	/* Before the commit, so no lookup can find the row and miss the key. */
	bloom_add(d->bloom, w->key, w->keylen);
	if (tx_commit(c) != CDN_OK)
		goto put;
	rc = CDN_OK;
	room_apply_locked(d, &r);
	atomic_fetch_add(&d->bytes, charge);
	atomic_fetch_sub(&d->bytes, old_charge);
	atomic_fetch_sub(&d->reserved, w->reserved);
	w->reserved = 0;
	if (!old)
		atomic_fetch_add(&d->objects, 1);
	if (old_pinned) {
		atomic_fetch_sub(&d->pinned_bytes, old_charge);
		atomic_fetch_sub(&d->pinned_objects, 1);
	}
	if (pin) {
		atomic_fetch_add(&d->pinned_bytes, charge);
		atomic_fetch_add(&d->pinned_objects, 1);
	}
	if (old)
		gens_push(&r.gone, old_gen);
	bloom_rebuild_locked(d, c);
	goto put;
rollback:
	tx_rollback(c);
put:
	conn_put(d, c);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	if (rc == CDN_OK)
		*gone = r.gone;
	else
		free(r.gone.v);
	return rc;
}

int
disk_write_commit(struct disk_writer **wp, const struct disk_put *put,
    uint8_t sha_out[DIGEST_LEN])
{
	struct disk_writer *w = *wp;
	struct disk *d;
	struct gens gone = { 0 };
	uint8_t sha[DIGEST_LEN], *head = NULL;
	size_t headlen;
	int rc = CDN_ERR, e;
	bool renamed = false;

	*wp = NULL;
	CHECK_OBJ_NOTNULL(w, WRITER_MAGIC);
	d = w->d;
	AN(put);
	AN(put->head);
	digest_final(&w->dg, sha);
	if (sha_out != NULL)
		memcpy(sha_out, sha, DIGEST_LEN);
	if (put->sha != NULL && memcmp(put->sha, sha, DIGEST_LEN) != 0) {
		log_msg(LVL_WARN, "disk: body of %.*s does not match its SHA-256; not stored",
		    (int)(w->keylen > 200 ? 200 : w->keylen), w->key);
		rc = CDN_INVAL;
		goto fail;
	}
	disk_head_encode(put->head, &head, &headlen);
	if (d->opts.durable && fsync(w->fd) != 0)
		goto io;
	e = close(w->fd);
	w->fd = -1;
	if (e != 0)
		goto io_unlink;
	if (renameat(w->dirfd, w->tmpname, w->dirfd, w->name) != 0)
		goto io_unlink;
	renamed = true;
	if (d->opts.durable && fsync(w->dirfd) != 0)
		goto io_unlink;
	rc = index_insert(w, put, sha, head, headlen, &gone);
	if (rc != CDN_OK)
		goto unlink;
	atomic_fetch_add(&d->n_stores, 1);
	unlink_gens(d, &gone);
	free(head);
	disk_write_abort(&w);   /* closes the directory; nothing left reserved */
	return CDN_OK;
io_unlink:
	e = errno;
	atomic_fetch_add(&d->n_io_errors, 1);
	log_errno(LVL_ERROR, e, "disk: cannot commit %s/objects/.../%s", d->dir, w->name);
	rc = CDN_ERR;
unlink:
	(void)unlinkat(w->dirfd, renamed ? w->name : w->tmpname, 0);
	goto fail;
io:
	e = errno;
	atomic_fetch_add(&d->n_io_errors, 1);
	log_errno(LVL_ERROR, e, "disk: cannot sync %s/objects/.../%s", d->dir, w->tmpname);
	rc = CDN_ERR;
fail:
	atomic_fetch_add(&d->n_store_errors, 1);
	free(head);
	disk_write_abort(&w);
	return rc;
}

int
disk_store(struct disk *d, const char *key, size_t keylen, const void *body, uint64_t len,
    const struct disk_put *put)
{
	struct disk_writer *w;
	const char *p = body;
	uint64_t off = 0;
	int rc;

	rc = disk_write_start(d, key, keylen, len, &w);
	if (rc != CDN_OK)
		return rc;
	while (off < len) {
		size_t n = len - off > (1u << 30) ? (1u << 30) : (size_t)(len - off);

		rc = disk_write_append(w, p + off, n);
		if (rc != CDN_OK) {
			atomic_fetch_add(&d->n_store_errors, 1);
			disk_write_abort(&w);
			return rc;
		}
		off += n;
	}
	return disk_write_commit(&w, put, NULL);
}

/* ================================================================ lookup */

bool
disk_maybe(struct disk *d, const char *key, size_t keylen)
{
	bool maybe;

	PTOK(pthread_rwlock_rdlock(&d->bloom_lk));
	maybe = bloom_maybe(d->bloom, key, keylen);
	PTOK(pthread_rwlock_unlock(&d->bloom_lk));
	return maybe;
}

int
disk_lookup(struct disk *d, const char *key, size_t keylen, struct disk_hit *hit)
{
	struct conn *c;
	sqlite3_stmt *s;
	struct stat st;
	char name[32];
	int step, rc, e;
	bool head_ok = false, exists;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	memset(hit, 0, sizeof *hit);
	hit->magic = DISK_HIT_MAGIC;
	hit->fd = -1;
	disk_head_init(&hit->head);
	atomic_fetch_add(&d->n_lookups, 1);
	if (!disk_maybe(d, key, keylen)) {
		atomic_fetch_add(&d->n_bloom_neg, 1);
		atomic_fetch_add(&d->n_misses, 1);
		return CDN_NOTFOUND;
	}
	c = conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = st_get(c, ST_LOOKUP);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		hit->_id = sqlite3_column_int64(s, 0);
		hit->_gen = (uint64_t)sqlite3_column_int64(s, 1);
		hit->size = (uint64_t)sqlite3_column_int64(s, 2);
		if (sqlite3_column_bytes(s, 3) == DIGEST_LEN) {
			memcpy(hit->sha, sqlite3_column_blob(s, 3), DIGEST_LEN);
			head_ok = disk_head_decode(sqlite3_column_blob(s, 4),
			    (size_t)sqlite3_column_bytes(s, 4), &hit->head) == CDN_OK;
		}
		hit->pinned = sqlite3_column_int64(s, 5) != 0;
	}
	sqlite3_reset(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		db_err(c, "lookup");
	conn_put(d, c);
	if (step == SQLITE_DONE) {
		atomic_fetch_add(&d->n_bloom_fp, 1);
		atomic_fetch_add(&d->n_misses, 1);
		return CDN_NOTFOUND;
	}
	if (step != SQLITE_ROW)
		return CDN_ERR;
	if (!head_ok) {
		atomic_fetch_add(&d->n_misses, 1);
		atomic_fetch_add(&d->n_corrupt, 1);
		log_msg(LVL_WARN, "disk: stored head of %.*s failed its checksum; removed",
		    (int)(keylen > 200 ? 200 : keylen), key);
		(void)remove_version(d, hit->_id, hit->_gen);
		return CDN_CORRUPT;
	}
	file_name(hit->_gen, name);
	hit->fd = openat(d->objfd, name, O_RDONLY | O_CLOEXEC);
	if (hit->fd < 0) {
		e = errno;
		atomic_fetch_add(&d->n_misses, 1);
		if (e != ENOENT) {
			atomic_fetch_add(&d->n_io_errors, 1);
			log_errno(LVL_ERROR, e, "disk: cannot open %s/objects/%s", d->dir, name);
			return CDN_ERR;
		}
		/* Evicted or replaced since the row was read, or really lost. */
		if (version_exists(d, hit->_id, hit->_gen, &exists) == CDN_OK && exists) {
			atomic_fetch_add(&d->n_missing, 1);
			log_msg(LVL_WARN, "disk: body file %s/objects/%s is missing; row removed",
			    d->dir, name);
			(void)remove_version(d, hit->_id, hit->_gen);
		}
		return CDN_NOTFOUND;
	}
	if (fstat(hit->fd, &st) != 0 || (uint64_t)st.st_size != hit->size) {
		rc = verify_fail(d, hit, "has the wrong size");
		atomic_fetch_add(&d->n_misses, 1);
		return rc;
	}
	atomic_fetch_add(&d->n_hits, 1);
	touch_record(d, hit->_id);
	return CDN_OK;
}

/* Read size bytes from offset 0 with pread (the descriptor's offset stays
 * 0 for whoever serves it), into buf if given, else through a bounce
 * buffer, hashing them. CDN_CORRUPT if the file is shorter. */
static int
hash_fd(int fd, uint64_t size, void *buf, uint8_t sha[DIGEST_LEN], int *err)
{
	struct digest dg;
	uint8_t *bounce = NULL;
	uint64_t off = 0;
	int rc = CDN_OK;

	*err = 0;
	if (buf == NULL)
		bounce = xmalloc(IO_CHUNK);
	digest_init(&dg);
	while (off < size) {
		size_t want = size - off > IO_CHUNK ? IO_CHUNK : (size_t)(size - off);
		uint8_t *dst = buf != NULL ? (uint8_t *)buf + off : bounce;
		ssize_t got = pread(fd, dst, want, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*err = errno;
			rc = CDN_ERR;
			break;
		}
		if (got == 0) {
			rc = CDN_CORRUPT;
			break;
		}
		digest_update(&dg, dst, (size_t)got);
		off += (uint64_t)got;
	}
	if (rc == CDN_OK)
		digest_final(&dg, sha);
	else
		digest_fini(&dg);
	free(bounce);
	return rc;
}

/* The version behind hit is bad: close, remove, count, log. */
static int
verify_fail(struct disk *d, struct disk_hit *hit, const char *why)
{
	char name[32];

	file_name(hit->_gen, name);
	if (hit->fd >= 0)
		close(hit->fd);
	hit->fd = -1;
	hit->verified = false;
	atomic_fetch_add(&d->n_corrupt, 1);
	log_msg(LVL_WARN, "disk: body file %s/objects/%s %s; removed", d->dir, name, why);
	(void)remove_version(d, hit->_id, hit->_gen);
	return CDN_CORRUPT;
}

static int
hit_check(struct disk *d, struct disk_hit *hit, void *buf)
{
	uint8_t sha[DIGEST_LEN];
	int rc, err;

	CHECK_OBJ_NOTNULL(hit, DISK_HIT_MAGIC);
	AN(hit->fd >= 0);
	rc = hash_fd(hit->fd, hit->size, buf, sha, &err);
	if (rc == CDN_ERR) {
		atomic_fetch_add(&d->n_io_errors, 1);
		log_errno(LVL_ERROR, err, "disk: read error on %s generation %016" PRIx64,
		    d->dir, hit->_gen);
		return CDN_ERR;
	}
	if (rc == CDN_CORRUPT)
		return verify_fail(d, hit, "is shorter than its index row says");
	if (memcmp(sha, hit->sha, DIGEST_LEN) != 0)
		return verify_fail(d, hit, "failed its SHA-256 check");
	hit->verified = true;
	return CDN_OK;
}

int
disk_hit_read(struct disk *d, struct disk_hit *hit, void *buf)
{
	AN(buf != NULL || hit->size == 0);
	return hit_check(d, hit, buf);
}

int
disk_hit_verify(struct disk *d, struct disk_hit *hit)
{
	return hit_check(d, hit, NULL);
}

int
disk_hit_take_fd(struct disk_hit *hit)
{
	int fd;

	CHECK_OBJ_NOTNULL(hit, DISK_HIT_MAGIC);
	AN(hit->verified);
	AN(hit->fd >= 0);
	fd = hit->fd;
	hit->fd = -1;
	return fd;
}

void
disk_hit_fini(struct disk_hit *hit)
{
	if (hit->magic != DISK_HIT_MAGIC)
		return;
	if (hit->fd >= 0)
		close(hit->fd);
	hit->fd = -1;
	disk_head_fini(&hit->head);
	hit->magic = 0;
}

/* ================================================================ admin */

int
disk_remove(struct disk *d, const char *key, size_t keylen)
{
	struct conn *c;
	sqlite3_stmt *s;
	int64_t id = 0;
	uint64_t gen = 0;
	int step;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	if (!disk_maybe(d, key, keylen))
		return CDN_NOTFOUND;
	c = conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		gen = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	conn_put(d, c);
	if (step == SQLITE_DONE)
		return CDN_NOTFOUND;
	if (step != SQLITE_ROW)
		return CDN_ERR;
	/* (id, gen) pins the version read: a racing store of a new one is
	 * left alone, which is what a remove ordered before it means. */
	if (remove_version(d, id, gen) != CDN_OK)
		return CDN_ERR;
	atomic_fetch_add(&d->n_removes, 1);
	return CDN_OK;
}

int
disk_pin(struct disk *d, const char *key, size_t keylen, bool pinned)
{
	struct conn *c;
	sqlite3_stmt *s;
	int64_t id = 0;
	uint64_t charge = 0;
	bool was = false;
	int rc = CDN_ERR, step;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	PTOK(pthread_mutex_lock(&d->write_mtx));
	c = conn_get(d);
	if (c == NULL)
		goto out;
	if (tx_begin(c) != CDN_OK)
		goto put;
	s = st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		charge = (uint64_t)sqlite3_column_int64(s, 2);
		was = sqlite3_column_int64(s, 3) != 0;
	}
	sqlite3_reset(s);
	if (step != SQLITE_ROW) {
		tx_rollback(c);
		rc = step == SQLITE_DONE ? CDN_NOTFOUND : db_err(c, "pin");
		goto put;
	}
	if (was != pinned) {
		s = st_get(c, ST_PIN);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int(s, 2, pinned);
		if (st_exec(c, ST_PIN) != CDN_OK) {
			tx_rollback(c);
			goto put;
		}
	}
	rc = tx_commit(c);
	if (rc == CDN_OK && was != pinned) {
		if (pinned) {
			atomic_fetch_add(&d->pinned_bytes, charge);
			atomic_fetch_add(&d->pinned_objects, 1);
		} else {
			atomic_fetch_sub(&d->pinned_bytes, charge);
			atomic_fetch_sub(&d->pinned_objects, 1);
		}
	}
put:
	conn_put(d, c);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	return rc;
}

int
disk_flush(struct disk *d)
{
	struct touch t[DISK_TOUCH_BATCH];
	unsigned n;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	n = touches_drain(d, t);
	return touches_flush(d, t, n);
}

int
disk_file_of(struct disk *d, const char *key, size_t keylen, char *buf, size_t len)
{
	struct conn *c;
	sqlite3_stmt *s;
	uint64_t gen = 0;
	char name[32];
	int step, n;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	c = conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		gen = (uint64_t)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	conn_put(d, c);
	if (step == SQLITE_DONE)
		return CDN_NOTFOUND;
	if (step != SQLITE_ROW)
		return CDN_ERR;
	file_name(gen, name);
	n = snprintf(buf, len, "%s/objects/%s", d->dir, name);
	return n < 0 || (size_t)n >= len ? CDN_INVAL : CDN_OK;
}

int
disk_scrub(struct disk *d, struct disk_scrub *out)
{
	struct scrow { int64_t id; uint64_t gen, size; uint8_t sha[DIGEST_LEN]; bool bad; } *rows = NULL;
	size_t n = 0, cap = 0;
	struct conn *c;
	sqlite3_stmt *s;
	int rc;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	memset(out, 0, sizeof *out);
	c = conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	if (sqlite3_prepare_v2(c->db, "SELECT id, gen, size, sha, head FROM obj", -1, &s,
	    NULL) != SQLITE_OK) {
		db_err(c, "scrub");
		conn_put(d, c);
		return CDN_ERR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct disk_head h;

		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		rows[n].id = sqlite3_column_int64(s, 0);
		rows[n].gen = (uint64_t)sqlite3_column_int64(s, 1);
		rows[n].size = (uint64_t)sqlite3_column_int64(s, 2);
		rows[n].bad = sqlite3_column_bytes(s, 3) != DIGEST_LEN;
		if (!rows[n].bad)
			memcpy(rows[n].sha, sqlite3_column_blob(s, 3), DIGEST_LEN);
		disk_head_init(&h);
		if (disk_head_decode(sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4),
		    &h) != CDN_OK)
			rows[n].bad = true;
		disk_head_fini(&h);
		n++;
	}
	sqlite3_finalize(s);
	conn_put(d, c);
	if (rc != SQLITE_DONE) {
		free(rows);
		return CDN_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		struct disk_hit hit = { .magic = DISK_HIT_MAGIC, .fd = -1 };
		char name[32];
		bool exists;

		out->checked++;
		hit._id = rows[i].id;
		hit._gen = rows[i].gen;
		hit.size = rows[i].size;
		memcpy(hit.sha, rows[i].sha, DIGEST_LEN);
		disk_head_init(&hit.head);
		if (rows[i].bad) {
			out->corrupt++;
			(void)verify_fail(d, &hit, "has a bad index row");
			disk_hit_fini(&hit);
			continue;
		}
		file_name(rows[i].gen, name);
		hit.fd = openat(d->objfd, name, O_RDONLY | O_CLOEXEC);
		if (hit.fd < 0) {
			if (version_exists(d, hit._id, hit._gen, &exists) == CDN_OK && exists) {
				out->missing++;
				atomic_fetch_add(&d->n_missing, 1);
				(void)remove_version(d, hit._id, hit._gen);
			} else {
				out->checked--; /* gone meanwhile: not ours to count */
			}
			disk_hit_fini(&hit);
			continue;
		}
		if (hit_check(d, &hit, NULL) == CDN_CORRUPT)
			out->corrupt++;
		disk_hit_fini(&hit);
	}
	free(rows);
	return CDN_OK;
}

void
disk_get_stats(struct disk *d, struct disk_stats *st)
{
	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	memset(st, 0, sizeof *st);
	st->limit = d->limit;
	st->objects = atomic_load(&d->objects);
	st->bytes = atomic_load(&d->bytes);
	st->reserved = atomic_load(&d->reserved);
	st->pinned_objects = atomic_load(&d->pinned_objects);
	st->pinned_bytes = atomic_load(&d->pinned_bytes);
	st->lookups = atomic_load(&d->n_lookups);
	st->hits = atomic_load(&d->n_hits);
	st->misses = atomic_load(&d->n_misses);
	st->bloom_negatives = atomic_load(&d->n_bloom_neg);
	st->bloom_false_pos = atomic_load(&d->n_bloom_fp);
	st->stores = atomic_load(&d->n_stores);
	st->store_errors = atomic_load(&d->n_store_errors);
	st->evictions = atomic_load(&d->n_evictions);
	st->removes = atomic_load(&d->n_removes);
	st->corrupt = atomic_load(&d->n_corrupt);
	st->missing = atomic_load(&d->n_missing);
	st->io_errors = atomic_load(&d->n_io_errors);
	st->cleaned_temp = d->cleaned_temp;
	st->cleaned_files = d->cleaned_files;
	st->cleaned_rows = d->cleaned_rows;
	st->bloom_rebuilds = atomic_load(&d->n_bloom_rebuilds);
	PTOK(pthread_rwlock_rdlock(&d->bloom_lk));
	st->bloom_bits = bloom_bits(d->bloom);
	st->bloom_capacity = bloom_capacity(d->bloom);
	st->bloom_count = bloom_count(d->bloom);
	st->bloom_hashes = bloom_hashes(d->bloom);
	st->bloom_fp_expected = bloom_fp_expected(d->bloom);
	PTOK(pthread_rwlock_unlock(&d->bloom_lk));
	st->policy = d->policy;
	st->age = atomic_load(&d->age);
}
