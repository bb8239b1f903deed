/*
 * disk_db.c: the disk tier's SQLite layer: the schema, the prepared
 * statements, a pool of connections, transactions and the meta table.
 *
 * Main design choice: a small pool of connections (disk_opts.conns), each
 * opened SQLITE_OPEN_NOMUTEX and used by one thread at a time between
 * disk_conn_get and disk_conn_put, with every statement prepared once per
 * connection. Readers run in parallel under WAL; writers are serialised by
 * the caller's "disk.write" mutex, so SQLite never makes one of our own
 * threads wait on another (busy_timeout covers anything else).
 *
 * Locking: "disk.pool" (pool_mtx + pool_cv) guards the free list and the
 * count; a connection is opened outside it. Every statement is reset right
 * after use, so an idle connection holds no read transaction (which would
 * stop WAL checkpoints).
 */
#include "config.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/disk_int.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

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

/* ================================================================ SQLite */

int
disk_db_err(struct conn *c, const char *what)
{
	log_msg(LVL_ERROR, "disk: sqlite %s: %s", what, sqlite3_errmsg(c->db));
	return CDN_ERR;
}

struct conn *
disk_conn_open(struct disk *d, bool schema)
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
		disk_db_err(c, "pragma");
		goto fail;
	}
	if (schema && sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		disk_db_err(c, "schema");
		goto fail;
	}
	for (int i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(c->db, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &c->st[i], NULL) != SQLITE_OK) {
			disk_db_err(c, st_sql[i]);
			goto fail;
		}
	}
	return c;
fail:
	disk_conn_close(c);
	return NULL;
}

void
disk_conn_close(struct conn *c)
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
struct conn *
disk_conn_get(struct disk *d)
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
	c = disk_conn_open(d, false);    /* I/O: outside the pool lock */
	if (c == NULL) {
		PTOK(pthread_mutex_lock(&d->pool_mtx));
		d->nconns--;
		PTOK(pthread_cond_signal(&d->pool_cv));
		PTOK(pthread_mutex_unlock(&d->pool_mtx));
	}
	return c;
}

void
disk_conn_put(struct disk *d, struct conn *c)
{
	PTOK(pthread_mutex_lock(&d->pool_mtx));
	c->next = d->pool_free;
	d->pool_free = c;
	PTOK(pthread_cond_signal(&d->pool_cv));
	PTOK(pthread_mutex_unlock(&d->pool_mtx));
}

/* A reset statement with no bindings, ready to bind and step. */
sqlite3_stmt *
disk_st_get(struct conn *c, enum st which)
{
	sqlite3_stmt *s = c->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Step a statement that returns no rows, then reset it. */
int
disk_st_exec(struct conn *c, enum st which)
{
	sqlite3_stmt *s = c->st[which];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return disk_db_err(c, st_sql[which]);
	return CDN_OK;
}

int
disk_tx_begin(struct conn *c)
{
	disk_st_get(c, ST_BEGIN);
	return disk_st_exec(c, ST_BEGIN);
}

int
disk_tx_commit(struct conn *c)
{
	disk_st_get(c, ST_COMMIT);
	if (disk_st_exec(c, ST_COMMIT) != CDN_OK) {
		disk_tx_rollback(c);
		return CDN_ERR;
	}
	return CDN_OK;
}

void
disk_tx_rollback(struct conn *c)
{
	/* Reset every statement first: an active one would keep the
	 * transaction's read lock. */
	for (int i = 0; i < ST__N; i++)
		sqlite3_reset(c->st[i]);
	if (sqlite3_get_autocommit(c->db))
		return;
	disk_st_get(c, ST_ROLLBACK);
	(void)disk_st_exec(c, ST_ROLLBACK);
}

int
disk_meta_get(struct conn *c, const char *k, int64_t *v)
{
	sqlite3_stmt *s = disk_st_get(c, ST_META_GET);
	int rc;

	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return CDN_OK;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? CDN_NOTFOUND : disk_db_err(c, "meta");
}

int
disk_meta_set(struct conn *c, const char *k, int64_t v)
{
	sqlite3_stmt *s = disk_st_get(c, ST_META_SET);

	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return disk_st_exec(c, ST_META_SET);
}
