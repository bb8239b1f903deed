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
 * Files: disk.c (this: stores, lookups, eviction, admin), disk_open.c (open,
 * crash cleanup, close), disk_db.c (SQLite layer), disk_head.c (the head
 * format), disk_int.h (what they share).
 *
 * Locking (full rules in disk.h): a pool of SQLite connections, each used by
 * one thread at a time; one writer at a time under "disk.write", which also
 * guards the byte accounting and the LFU age; hits buffered under
 * "disk.touch"; the Bloom pointer under the "disk.bloom" rwlock. File I/O
 * and hashing run with no lock held.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/disk_int.h"
#include "util/bloom.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define WRITER_MAGIC 0xd15c0002u
#define VICTIM_BATCH 32
#define RESERVE_STEP (1u << 20)
#define IO_CHUNK (256u * 1024u)

/* ================================================================ types */

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

/* ================================================================ prototypes */

static void dir_name(uint64_t gen, char out[8]);
static int write_all(int fd, const void *p, size_t n);
static int make_dir(struct disk *d, uint64_t gen);
static int touches_apply_locked(struct disk *d, struct conn *c, const struct touch *t, unsigned n);
static void touch_record(struct disk *d, int64_t id);
static int reserve(struct disk *d, uint64_t n);
static void unreserve(struct disk *d, uint64_t n);
static void bloom_rebuild_locked(struct disk *d, struct conn *c);
static int remove_version(struct disk *d, int64_t id, uint64_t gen);
static int version_exists(struct disk *d, int64_t id, uint64_t gen, bool *exists);
static int index_insert(struct disk_writer *w, const struct disk_put *put,
    const uint8_t sha[DIGEST_LEN], const uint8_t *head, size_t headlen, struct gens *gone);
static int hash_fd(int fd, uint64_t size, void *buf, uint8_t sha[DIGEST_LEN], int *err);
static int verify_fail(struct disk *d, struct disk_hit *hit, const char *why);
static int hit_check(struct disk *d, struct disk_hit *hit, void *buf);

/* ================================================================ files */

static void
dir_name(uint64_t gen, char out[8])
{
	snprintf(out, 8, "%02x/%x", disk_gen_x(gen), disk_gen_y(gen));
}

void
disk_file_name(uint64_t gen, char out[32])
{
	snprintf(out, 32, "%02x/%x/%016" PRIx64, disk_gen_x(gen), disk_gen_y(gen), gen);
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

void
disk_unlink_gen(struct disk *d, uint64_t gen)
{
	char name[32];
	int e;

	disk_file_name(gen, name);
	if (unlinkat(d->objfd, name, 0) != 0 && errno != ENOENT) {
		e = errno;
		atomic_fetch_add(&d->n_io_errors, 1);
		log_errno(LVL_ERROR, e, "disk: cannot unlink %s/objects/%s", d->dir, name);
	}
}

void
disk_unlink_gens(struct disk *d, struct gens *g)
{
	for (size_t i = 0; i < g->n; i++)
		disk_unlink_gen(d, g->v[i]);
	free(g->v);
	memset(g, 0, sizeof *g);
}

void
disk_gens_push(struct gens *g, uint64_t gen)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = gen;
}

uint64_t
disk_charge(uint64_t size, size_t keylen, size_t headlen)
{
	return (size + DISK_BLOCK - 1) / DISK_BLOCK * DISK_BLOCK + keylen + headlen +
	    DISK_ROW_OVERHEAD;
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

	snprintf(x, sizeof x, "%02x", disk_gen_x(gen));
	snprintf(y, sizeof y, "%x", disk_gen_y(gen));
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

/* ================================================================ eviction state */

unsigned
disk_touches_drain(struct disk *d, struct touch *out)
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
		sqlite3_stmt *s = disk_st_get(c, ST_TOUCH_GET);
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
			return disk_db_err(c, "touch");
		m.freq = (uint32_t)sqlite3_column_int64(s, 0);
		m.last = (uint64_t)sqlite3_column_int64(s, 1);
		m.prio = (uint64_t)sqlite3_column_int64(s, 2);
		sqlite3_reset(s);
		/* The hit's own tick becomes last, so batching keeps the order
		 * of accesses rather than the order of the flush. */
		evict_meta_hit(&ck, &m, t[i].hits);
		s = disk_st_get(c, ST_TOUCH_SET);
		sqlite3_bind_int64(s, 1, t[i].id);
		sqlite3_bind_int64(s, 2, m.freq);
		sqlite3_bind_int64(s, 3, (int64_t)m.last);
		sqlite3_bind_int64(s, 4, (int64_t)m.prio);
		if (disk_st_exec(c, ST_TOUCH_SET) != CDN_OK)
			return CDN_ERR;
	}
	return CDN_OK;
}

int
disk_touches_flush(struct disk *d, const struct touch *t, unsigned n)
{
	struct conn *c;
	int rc = CDN_ERR;

	if (n == 0)
		return CDN_OK;
	PTOK(pthread_mutex_lock(&d->write_mtx));
	c = disk_conn_get(d);
	if (c == NULL)
		goto out;
	if (disk_tx_begin(c) != CDN_OK)
		goto put;
	if (touches_apply_locked(d, c, t, n) != CDN_OK) {
		disk_tx_rollback(c);
		goto put;
	}
	rc = disk_tx_commit(c);
put:
	disk_conn_put(d, c);
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
		(void)disk_touches_flush(d, batch, n);
}

/*
 * Inside a write transaction: delete unpinned rows in policy order until
 * excess bytes are freed. Hits still buffered are written first, so the
 * order is current. Returns 0, CDN_TOOBIG (not enough unpinned bytes; rows
 * deleted so far are in r and the caller rolls back) or CDN_ERR.
 */
int
disk_make_room_locked(struct disk *d, struct conn *c, uint64_t excess, struct room *r)
{
	struct touch t[DISK_TOUCH_BATCH];
	unsigned nt = disk_touches_drain(d, t);

	if (touches_apply_locked(d, c, t, nt) != CDN_OK)
		return CDN_ERR;
	while (r->freed < excess) {
		struct { int64_t id; uint64_t gen, charge; struct evict_meta m; } v[VICTIM_BATCH];
		sqlite3_stmt *s = disk_st_get(c, ST_VICTIMS);
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
			return disk_db_err(c, "victims");
		if (nv == 0)
			return CDN_TOOBIG;
		for (int i = 0; i < nv && r->freed < excess; i++) {
			struct evict_clock ck = { d->policy, 0, r->age };

			s = disk_st_get(c, ST_DELETE);
			sqlite3_bind_int64(s, 1, v[i].id);
			if (disk_st_exec(c, ST_DELETE) != CDN_OK)
				return CDN_ERR;
			evict_clock_victim(&ck, &v[i].m);
			r->age = ck.age;
			r->freed += v[i].charge;
			r->n++;
			disk_gens_push(&r->gone, v[i].gen);
		}
	}
	if (r->n > 0 && d->policy == EVICT_LFU && r->age != atomic_load(&d->age))
		return disk_meta_set(c, "age", (int64_t)r->age);
	return CDN_OK;
}

/* After the commit of a transaction that evicted. */
void
disk_room_apply_locked(struct disk *d, const struct room *r)
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
		c = disk_conn_get(d);
		if (c == NULL) {
			rc = CDN_ERR;
			goto out;
		}
		rc = disk_tx_begin(c);
		if (rc == CDN_OK)
			rc = disk_make_room_locked(d, c, used + n - d->limit, &r);
		if (rc == CDN_OK)
			rc = disk_tx_commit(c);
		else
			disk_tx_rollback(c);
		disk_conn_put(d, c);
		if (rc != CDN_OK)
			goto out;
		disk_room_apply_locked(d, &r);
	}
	atomic_fetch_add(&d->reserved, n);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	if (rc == CDN_OK)
		disk_unlink_gens(d, &r.gone);
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
	s = disk_st_get(c, ST_KEYS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		bloom_add(nb, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		disk_db_err(c, "bloom keys");
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
	c = disk_conn_get(d);
	if (c == NULL)
		goto out;
	if (disk_tx_begin(c) != CDN_OK)
		goto put;
	s = disk_st_get(c, ST_BYID);
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
		disk_db_err(c, "remove");
		disk_tx_rollback(c);
		goto put;
	}
	if (found) {
		s = disk_st_get(c, ST_DELETE);
		sqlite3_bind_int64(s, 1, id);
		if (disk_st_exec(c, ST_DELETE) != CDN_OK) {
			disk_tx_rollback(c);
			goto put;
		}
	}
	rc = disk_tx_commit(c);
	if (rc == CDN_OK && found) {
		atomic_fetch_sub(&d->bytes, charge);
		atomic_fetch_sub(&d->objects, 1);
		if (pinned) {
			atomic_fetch_sub(&d->pinned_bytes, charge);
			atomic_fetch_sub(&d->pinned_objects, 1);
		}
	}
put:
	disk_conn_put(d, c);
out:
	PTOK(pthread_mutex_unlock(&d->write_mtx));
	/* Generations are never reused, so this file is this version's alone. */
	if (rc == CDN_OK)
		disk_unlink_gen(d, gen);
	return rc;
}

static int
version_exists(struct disk *d, int64_t id, uint64_t gen, bool *exists)
{
	struct conn *c = disk_conn_get(d);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return CDN_ERR;
	s = disk_st_get(c, ST_EXISTS);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)gen);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	disk_conn_put(d, c);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return CDN_ERR;
	*exists = rc == SQLITE_ROW;
	return CDN_OK;
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

int
disk_write_reader_fd(struct disk_writer *w)
{
	int fd, e;

	CHECK_OBJ_NOTNULL(w, WRITER_MAGIC);
	fd = openat(w->dirfd, w->tmpname, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		atomic_fetch_add(&w->d->n_io_errors, 1);
		log_errno(LVL_ERROR, e, "disk: cannot open %s/objects/.../%s for reading", w->d->dir,
		    w->tmpname);
		return CDN_ERR;
	}
	return fd;
}

bool
disk_fits(struct disk *d, uint64_t size, size_t keylen)
{
	uint64_t need = disk_charge(size, keylen, 0), pinned;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	pinned = atomic_load(&d->pinned_bytes);
	return need <= d->limit && pinned <= d->limit - need;
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
	c = disk_conn_get(d);
	if (c == NULL)
		goto out;
	if (disk_tx_begin(c) != CDN_OK)
		goto put;
	s = disk_st_get(c, ST_BYKEY);
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
		disk_db_err(c, "store lookup");
		goto rollback;
	}
	if (old) {
		s = disk_st_get(c, ST_DELETE);
		sqlite3_bind_int64(s, 1, old_id);
		if (disk_st_exec(c, ST_DELETE) != CDN_OK)
			goto rollback;
	}
	/* After this commit: bytes - old + charge, reserved - w->reserved. */
	used = atomic_load(&d->bytes) - old_charge + charge +
	    (atomic_load(&d->reserved) - w->reserved);
	if (used > d->limit) {
		rc = disk_make_room_locked(d, c, used - d->limit, &r);
		if (rc != CDN_OK)
			goto rollback;
		rc = CDN_ERR;
	}
	ck = (struct evict_clock){ d->policy, atomic_fetch_add(&d->tick, 1), r.age };
	evict_meta_new(&ck, &m, old_freq > put->freq ? (uint32_t)old_freq : put->freq);
	s = disk_st_get(c, ST_INSERT);
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
	if (disk_st_exec(c, ST_INSERT) != CDN_OK)
		goto rollback;
	/* Before the commit, so no lookup can find the row and miss the key. */
	bloom_add(d->bloom, w->key, w->keylen);
	if (disk_tx_commit(c) != CDN_OK)
		goto put;
	rc = CDN_OK;
	disk_room_apply_locked(d, &r);
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
		disk_gens_push(&r.gone, old_gen);
	bloom_rebuild_locked(d, c);
	goto put;
rollback:
	disk_tx_rollback(c);
put:
	disk_conn_put(d, c);
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
	if (disk_head_encode(put->head, &head, &headlen) != CDN_OK) {
		log_msg(LVL_WARN, "disk: head of %.*s cannot be stored; not stored",
		    (int)(w->keylen > 200 ? 200 : w->keylen), w->key);
		rc = CDN_INVAL;
		goto fail;
	}
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
	disk_unlink_gens(d, &gone);
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
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = disk_st_get(c, ST_LOOKUP);
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
		disk_db_err(c, "lookup");
	disk_conn_put(d, c);
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
	disk_file_name(hit->_gen, name);
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

	disk_file_name(hit->_gen, name);
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

static int remove_key(struct disk *d, const char *key, size_t keylen, bool keep_pinned);

int
disk_remove(struct disk *d, const char *key, size_t keylen)
{
	return remove_key(d, key, keylen, false);
}

int
disk_remove_unpinned(struct disk *d, const char *key, size_t keylen)
{
	return remove_key(d, key, keylen, true);
}

static int
remove_key(struct disk *d, const char *key, size_t keylen, bool keep_pinned)
{
	struct conn *c;
	sqlite3_stmt *s;
	int64_t id = 0;
	uint64_t gen = 0;
	bool pinned = false;
	int step;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	if (!disk_maybe(d, key, keylen))
		return CDN_NOTFOUND;
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = disk_st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		gen = (uint64_t)sqlite3_column_int64(s, 1);
		pinned = sqlite3_column_int64(s, 3) != 0;
	}
	sqlite3_reset(s);
	disk_conn_put(d, c);
	if (step == SQLITE_DONE || (step == SQLITE_ROW && keep_pinned && pinned))
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
disk_remove_matching(struct disk *d,
    bool (*fn)(const char *key, size_t keylen, const struct disk_head *head, void *arg), void *arg)
{
	struct conn *c;
	sqlite3_stmt *s = NULL;
	struct { int64_t id; uint64_t gen; } *hits = NULL;
	size_t n = 0, cap = 0;
	int removed = 0, step;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	/* Pinned versions (pushed objects) are not cached copies: only
	 * disk_remove removes them. */
	if (sqlite3_prepare_v2(c->db, "SELECT id, gen, key, head FROM obj WHERE pinned = 0", -1, &s,
	    NULL) != SQLITE_OK) {
		disk_conn_put(d, c);
		return CDN_ERR;
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct disk_head h;
		const char *key = sqlite3_column_blob(s, 2);
		size_t keylen = (size_t)sqlite3_column_bytes(s, 2);
		bool match;

		disk_head_init(&h);
		if (disk_head_decode(sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3),
		    &h) != CDN_OK) {
			disk_head_fini(&h);
			continue; /* a damaged head is dropped when it is read */
		}
		match = fn(key != NULL ? key : "", keylen, &h, arg);
		disk_head_fini(&h);
		if (!match)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			hits = xrealloc(hits, cap * sizeof *hits);
		}
		hits[n].id = sqlite3_column_int64(s, 0);
		hits[n].gen = (uint64_t)sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_finalize(s);
	disk_conn_put(d, c);
	for (size_t i = 0; i < n; i++) {
		if (remove_version(d, hits[i].id, hits[i].gen) == CDN_OK) {
			atomic_fetch_add(&d->n_removes, 1);
			removed++;
		}
	}
	free(hits);
	return step == SQLITE_DONE ? removed : CDN_ERR;
}

int
disk_foreach(struct disk *d, bool pinned_only,
    int (*fn)(void *arg, const char *key, size_t keylen, const uint8_t *sha, uint64_t size,
    bool pinned), void *arg)
{
	struct conn *c;
	sqlite3_stmt *s = NULL;
	int step, rc = CDN_OK;

	CHECK_OBJ_NOTNULL(d, DISK_MAGIC);
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	if (sqlite3_prepare_v2(c->db, pinned_only ?
	    "SELECT key, sha, size, pinned FROM obj WHERE pinned != 0" :
	    "SELECT key, sha, size, pinned FROM obj", -1, &s, NULL) != SQLITE_OK) {
		disk_conn_put(d, c);
		return CDN_ERR;
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = sqlite3_column_blob(s, 0);
		const uint8_t *sha = sqlite3_column_blob(s, 1);

		if (key == NULL || sha == NULL || sqlite3_column_bytes(s, 1) != DIGEST_LEN)
			continue;
		rc = fn(arg, key, (size_t)sqlite3_column_bytes(s, 0), sha,
		    (uint64_t)sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3) != 0);
		if (rc != CDN_OK)
			break;
	}
	if (rc == CDN_OK && step != SQLITE_DONE)
		rc = CDN_ERR;
	sqlite3_finalize(s);
	disk_conn_put(d, c);
	return rc;
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
	c = disk_conn_get(d);
	if (c == NULL)
		goto out;
	if (disk_tx_begin(c) != CDN_OK)
		goto put;
	s = disk_st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		charge = (uint64_t)sqlite3_column_int64(s, 2);
		was = sqlite3_column_int64(s, 3) != 0;
	}
	sqlite3_reset(s);
	if (step != SQLITE_ROW) {
		disk_tx_rollback(c);
		rc = step == SQLITE_DONE ? CDN_NOTFOUND : disk_db_err(c, "pin");
		goto put;
	}
	if (was != pinned) {
		s = disk_st_get(c, ST_PIN);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int(s, 2, pinned);
		if (disk_st_exec(c, ST_PIN) != CDN_OK) {
			disk_tx_rollback(c);
			goto put;
		}
	}
	rc = disk_tx_commit(c);
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
	disk_conn_put(d, c);
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
	n = disk_touches_drain(d, t);
	return disk_touches_flush(d, t, n);
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
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	s = disk_st_get(c, ST_BYKEY);
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		gen = (uint64_t)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	disk_conn_put(d, c);
	if (step == SQLITE_DONE)
		return CDN_NOTFOUND;
	if (step != SQLITE_ROW)
		return CDN_ERR;
	disk_file_name(gen, name);
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
	c = disk_conn_get(d);
	if (c == NULL)
		return CDN_ERR;
	if (sqlite3_prepare_v2(c->db, "SELECT id, gen, size, sha, head FROM obj", -1, &s,
	    NULL) != SQLITE_OK) {
		disk_db_err(c, "scrub");
		disk_conn_put(d, c);
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
	disk_conn_put(d, c);
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
		disk_file_name(rows[i].gen, name);
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
