/*
 * disk_open.c: opening and closing the disk tier: the lock file, the
 * schema and meta checks, the reconciliation of files with index rows after
 * a crash, the Bloom filter built from the index, and shrinking to a
 * smaller limit.
 *
 * Main design choice: reconciliation by generation numbers only. Every row
 * names its body by a unique generation, so the walk of DIR/objects needs
 * no file stat and no hashing: collect the generations of the files,
 * collect those of the rows (8 bytes each), sort both and merge. Rows
 * without a file are deleted in one transaction, files without a row are
 * unlinked, temp files and foreign names too. Bodies are verified lazily,
 * on every read, not here, so a restart with a million objects costs one
 * directory walk and one index scan.
 *
 * Locking: disk_open runs before the struct is shared and disk_close after
 * it stops being; neither takes a lock but to follow the same paths as the
 * running code (disk_touches_flush).
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
#include <unistd.h>

#include "store/disk_int.h"
#include "util/bloom.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

/* A row as the reconciliation at open sees it. */
struct rowref {
	uint64_t gen;
	int64_t id;
};

static int parse_gen(const char *s, uint64_t *gen);
static int cmp_u64(const void *a, const void *b);
static int cmp_rowref(const void *a, const void *b);
static bool is_hex_name(const char *s, size_t len);
static void scan_leaf(struct disk *d, int fd, unsigned x, unsigned y, struct gens *g);
static int scan_files(struct disk *d, uint64_t **gens, size_t *ngens);
static int scan_rows(struct disk *d, struct conn *c, struct rowref **rows, size_t *nrows);
static int reconcile(struct disk *d, struct conn *c);
static int load_meta(struct disk *d, struct conn *c);

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

/* ================================================================ open / close */

void
disk_opts_default(struct disk_opts *o)
{
	o->conns = 4;
	o->durable = true;
	o->bloom_fp = 0.01;
	o->bloom_min = 4096;
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

/* Clean one leaf directory XX/Y (x and y as disk_gen_x, disk_gen_y): unlink
 * temp files and names that are not ours, collect the generations. */
static void
scan_leaf(struct disk *d, int fd, unsigned x, unsigned y, struct gens *g)
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
		if (parse_gen(de->d_name, &gen) == CDN_OK && disk_gen_x(gen) == x &&
		    disk_gen_y(gen) == y) {
			disk_gens_push(g, gen);
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
			int yfd;

			if (!is_hex_name(ye->d_name, 1))
				continue;
			yfd = openat(dirfd(xd), ye->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (yfd >= 0)
				scan_leaf(d, yfd, (unsigned)strtoul(xe->d_name, NULL, 16),
				    (unsigned)strtoul(ye->d_name, NULL, 16), &g);
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
		return disk_db_err(c, "count");
	if (sqlite3_step(s) == SQLITE_ROW)
		cnt = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	bcap = 2 * cnt < d->opts.bloom_min ? d->opts.bloom_min : 2 * cnt;
	d->bloom = bloom_new(bcap, d->opts.bloom_fp);

	if (sqlite3_prepare_v2(c->db, "SELECT id, gen, key, charge, pinned, last FROM obj",
	    -1, &s, NULL) != SQLITE_OK)
		return disk_db_err(c, "scan");
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
		return disk_db_err(c, "scan");
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
				if (disk_tx_begin(c) != CDN_OK)
					goto out;
				intx = true;
			}
			sqlite3_stmt *s = disk_st_get(c, ST_DELETE);

			sqlite3_bind_int64(s, 1, rows[i].id);
			if (disk_st_exec(c, ST_DELETE) != CDN_OK)
				goto out;
			d->cleaned_rows++;
			i++;
		} else if (i == nr || files[j] < rows[i].gen) {
			disk_unlink_gen(d, files[j]);
			d->cleaned_files++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	if (intx) {
		intx = false;
		if (disk_tx_commit(c) != CDN_OK)
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
		disk_tx_rollback(c);
	free(files);
	free(rows);
	return rc;
}

static int
load_meta(struct disk *d, struct conn *c)
{
	int64_t v;
	int rc;

	if (disk_tx_begin(c) != CDN_OK)
		return CDN_ERR;
	rc = disk_meta_get(c, "schema", &v);
	if (rc == CDN_NOTFOUND)
		rc = disk_meta_set(c, "schema", DISK_SCHEMA_VERSION);
	else if (rc == CDN_OK && v != DISK_SCHEMA_VERSION) {
		log_msg(LVL_ERROR, "disk: %s has index schema %" PRId64 ", this build knows %d",
		    d->dbpath, v, DISK_SCHEMA_VERSION);
		rc = CDN_ERR;
	}
	if (rc != CDN_OK)
		goto fail;
	rc = disk_meta_get(c, "policy", &v);
	if (rc == CDN_ERR)
		goto fail;
	if (rc == CDN_NOTFOUND || v != (int64_t)d->policy) {
		/* Priorities were computed by another policy: recompute them
		 * from freq and last, with the age starting over. */
		const char *sql = d->policy == EVICT_LFU ?
		    "UPDATE obj SET prio = freq" : "UPDATE obj SET prio = last";

		if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			disk_db_err(c, "policy change");
			goto fail;
		}
		if (disk_meta_set(c, "policy", d->policy) != CDN_OK || disk_meta_set(c, "age", 0) != CDN_OK)
			goto fail;
	}
	rc = disk_meta_get(c, "age", &v);
	if (rc == CDN_ERR)
		goto fail;
	atomic_store(&d->age, rc == CDN_OK ? (uint64_t)v : 0);
	return disk_tx_commit(c);
fail:
	disk_tx_rollback(c);
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
	c = disk_conn_open(d, true);
	if (c == NULL)
		goto fail;
	d->nconns = 1;
	if (load_meta(d, c) != CDN_OK || reconcile(d, c) != CDN_OK)
		goto fail;
	if (atomic_load(&d->bytes) > d->limit) {
		/* A smaller limit than last time: shrink now. */
		struct room r = { .age = atomic_load(&d->age) };

		if (disk_tx_begin(c) != CDN_OK)
			goto fail;
		if (disk_make_room_locked(d, c, atomic_load(&d->bytes) - d->limit, &r) == CDN_ERR ||
		    disk_tx_commit(c) != CDN_OK) {
			disk_tx_rollback(c);
			free(r.gone.v);
			goto fail;
		}
		/* CDN_TOOBIG (pinned bytes alone exceed the limit) keeps what
		 * could be evicted evicted. */
		disk_room_apply_locked(d, &r);
		disk_unlink_gens(d, &r.gone);
	}
	disk_conn_put(d, c);
	if (d->cleaned_temp + d->cleaned_files + d->cleaned_rows > 0)
		log_msg(LVL_WARN, "disk: %s: removed %" PRIu64 " temp files, %" PRIu64
		    " files with no index row, %" PRIu64 " rows with no file", dir,
		    d->cleaned_temp, d->cleaned_files, d->cleaned_rows);
	*dp = d;
	return CDN_OK;
fail:
	if (c != NULL) {
		disk_conn_close(c);
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
		n = disk_touches_drain(d, t);
		(void)disk_touches_flush(d, t, n);
	}
	PTOK(pthread_mutex_lock(&d->pool_mtx));
	while (d->pool_free != NULL) {
		struct conn *c = d->pool_free;

		d->pool_free = c->next;
		disk_conn_close(c);
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
