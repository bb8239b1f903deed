/*
 * events.c: the invalidation log on SQLite (WAL).
 *
 * Design: one connection and one mutex (ev->mtx) for everything; the head
 * and the first retained seq are mirrored in memory so readers that only
 * wait (SSE streams) need no query to know whether there is news. Local
 * sequence numbers are assigned here as head + 1 inside the writing
 * transaction, so they are dense and increasing; retention deletes from the
 * old end in the same transaction, always keeping the newest event so the
 * head survives a restart.
 *
 * Durability: an event that originates here (a purge sent to this node's
 * API, a reset) is committed with synchronous=FULL: once the API answers, it
 * is in the log even after a power cut. An event applied from upstream is
 * committed with synchronous=NORMAL (no fsync): a process crash loses
 * nothing, an OS crash may lose the last few, but the upstream's cursor is
 * written in the same transaction and rolls back with them, so they are
 * fetched from upstream and applied again (applying is idempotent). That
 * keeps fsyncs off the path of every child, which is where purge latency
 * is spent. Checkpoints run on a thread of their own (own connection,
 * PASSIVE, once a second), never in a committing thread.
 *
 * Locking: ev->mtx guards the connection, its statements, head, first and
 * the stopping flag; ev->cond is signalled on each append and on
 * events_wake_all. The checkpointer thread owns its connection and sleeps
 * on ev->ckpt_cond (under ev->mtx) between rounds. Nothing here takes any
 * other lock.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl/events.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

struct events {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	sqlite3 *db;                  /* (mtx) */
	sqlite3_stmt *st_insert, *st_by_uid, *st_read, *st_trim, *st_cur_get, *st_cur_set;
	uint64_t head, first;         /* (mtx) */
	uint64_t retain;              /* const */
	bool stopping;                /* (mtx) */
	bool temp;                    /* const: dir is ours, removed at close */
	pthread_t ckpt;               /* the checkpointer */
	bool ckpt_started;
	bool ckpt_stop;               /* (mtx) */
	pthread_cond_t ckpt_cond;     /* (mtx) wakes the checkpointer to stop */
	char *dir, *path;             /* const */
	char logid[EVENTS_LOGID_LEN + 1]; /* const */
};

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE,"
	" time_ms INTEGER NOT NULL, source TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS cursors (upstream TEXT PRIMARY KEY, last_id TEXT NOT NULL,"
	" time_ms INTEGER NOT NULL);";

static uint64_t now_ms(void);
static int open_db(struct events *ev);
static int exec(struct events *ev, const char *sql);
static void remove_files(const char *path);

/* ---------------------------------------------------------------- helpers */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
exec(struct events *ev, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(ev->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_msg(LVL_ERROR, "events log %s: %s: %s", ev->path, sql, msg != NULL ? msg : "?");
		sqlite3_free(msg);
		return CDN_ERR;
	}
	return CDN_OK;
}

static void
remove_files(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char buf[4096];

	for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
		snprintf(buf, sizeof buf, "%s%s", path, sfx[i]);
		(void)unlink(buf);
	}
}

static bool
meta_get(struct events *ev, const char *k, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(ev->db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
		found = true;
	}
	sqlite3_finalize(st);
	return found;
}

static int
meta_set(struct events *ev, const char *k, const char *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(ev->db, "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", -1, &st,
	    NULL) != SQLITE_OK)
		return CDN_ERR;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? CDN_OK : CDN_ERR;
	sqlite3_finalize(st);
	return rc;
}

static void
close_db(struct events *ev)
{
	sqlite3_stmt **sts[] = { &ev->st_insert, &ev->st_by_uid, &ev->st_read, &ev->st_trim,
		&ev->st_cur_get, &ev->st_cur_set };

	for (size_t i = 0; i < ARRAY_LEN(sts); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	if (ev->db != NULL)
		sqlite3_close(ev->db);
	ev->db = NULL;
}

/* Open ev->path, check its format, make the schema and statements. A file
 * of another format version is moved aside (it is only a log: children of a
 * node whose log is new start over with a reset). */
static int
open_db(struct events *ev)
{
	char ver[32], aside[4200];
	uint8_t rnd[EVENTS_LOGID_LEN / 2];
	sqlite3_stmt *st = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (sqlite3_open_v2(ev->path, &ev->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			log_msg(LVL_ERROR, "cannot open the events log %s: %s", ev->path,
			    ev->db != NULL ? sqlite3_errmsg(ev->db) : "out of memory");
			goto Error;
		}
		sqlite3_busy_timeout(ev->db, 5000);
		/* Checkpoints belong to the checkpointer thread. */
		sqlite3_wal_autocheckpoint(ev->db, 0);
		if (exec(ev, "PRAGMA journal_mode=WAL") != CDN_OK ||
		    exec(ev, "PRAGMA synchronous=NORMAL") != CDN_OK || exec(ev, schema) != CDN_OK)
			goto Error;
		if (!meta_get(ev, "version", ver, sizeof ver) ||
		    strcmp(ver, EVENTS_FORMAT_VERSION) == 0)
			break;
		log_msg(LVL_WARN, "events log %s has format %s, not %s: moving it aside", ev->path, ver,
		    EVENTS_FORMAT_VERSION);
		close_db(ev);
		snprintf(aside, sizeof aside, "%s.v%s-%llu", ev->path, ver,
		    (unsigned long long)time(NULL));
		if (rename(ev->path, aside) != 0) {
			log_errno(LVL_ERROR, errno, "cannot move %s aside", ev->path);
			return CDN_ERR;
		}
		remove_files(ev->path);
	}
	if (!meta_get(ev, "log_id", ev->logid, sizeof ev->logid) ||
	    strlen(ev->logid) != EVENTS_LOGID_LEN) {
		if (RAND_bytes(rnd, sizeof rnd) != 1) {
			/* Not cryptographic use: a clash only costs a reset. */
			for (size_t i = 0; i < sizeof rnd; i++)
				rnd[i] = (uint8_t)(rand() ^ (int)(now_ms() >> (i % 8)) ^ getpid());
		}
		for (size_t i = 0; i < sizeof rnd; i++)
			snprintf(ev->logid + 2 * i, 3, "%02x", rnd[i]);
		if (meta_set(ev, "version", EVENTS_FORMAT_VERSION) != CDN_OK ||
		    meta_set(ev, "log_id", ev->logid) != CDN_OK) {
			log_msg(LVL_ERROR, "events log %s: cannot write its id: %s", ev->path,
			    sqlite3_errmsg(ev->db));
			goto Error;
		}
	}
	if (sqlite3_prepare_v2(ev->db,
	    "INSERT INTO events (seq, uid, time_ms, source, body) VALUES (?, ?, ?, ?, ?)", -1,
	    &ev->st_insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ev->db, "SELECT time_ms FROM events WHERE uid = ?", -1,
	    &ev->st_by_uid, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ev->db, "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
	    -1, &ev->st_read, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ev->db, "DELETE FROM events WHERE seq < ?", -1, &ev->st_trim,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ev->db, "SELECT last_id FROM cursors WHERE upstream = ?", -1,
	    &ev->st_cur_get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ev->db,
	    "INSERT OR REPLACE INTO cursors (upstream, last_id, time_ms) VALUES (?, ?, ?)", -1,
	    &ev->st_cur_set, NULL) != SQLITE_OK) {
		log_msg(LVL_ERROR, "events log %s: %s", ev->path, sqlite3_errmsg(ev->db));
		goto Error;
	}
	if (sqlite3_prepare_v2(ev->db, "SELECT IFNULL(MIN(seq), 0), IFNULL(MAX(seq), 0) FROM events",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		log_msg(LVL_ERROR, "events log %s: %s", ev->path, sqlite3_errmsg(ev->db));
		goto Error;
	}
	ev->first = (uint64_t)sqlite3_column_int64(st, 0);
	ev->head = (uint64_t)sqlite3_column_int64(st, 1);
	if (ev->head == 0)
		ev->first = 1;
	sqlite3_finalize(st);
	return CDN_OK;
Error:
	sqlite3_finalize(st);
	close_db(ev);
	return CDN_ERR;
}

/* Once a second, copy the WAL back into the database (PASSIVE: never
 * waits for, nor blocks, the writer), on a connection of its own. */
static void *
ckpt_main(void *arg)
{
	struct events *ev = arg;
	struct timespec ts;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(ev->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_msg(LVL_WARN, "events log %s: no checkpointer connection: %s", ev->path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 1000);
	PTOK(pthread_mutex_lock(&ev->mtx));
	while (!ev->ckpt_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&ev->ckpt_cond, &ev->mtx, &ts);
		if (ev->ckpt_stop)
			break;
		PTOK(pthread_mutex_unlock(&ev->mtx));
		(void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		PTOK(pthread_mutex_lock(&ev->mtx));
	}
	PTOK(pthread_mutex_unlock(&ev->mtx));
	sqlite3_close(db);
	return NULL;
}

/* ---------------------------------------------------------------- API */

int
events_open(const char *dir, uint64_t retain, struct events **out)
{
	struct events *ev = xcalloc(1, sizeof *ev);
	const char *tmp = getenv("TMPDIR");
	int e;

	*out = NULL;
	PTOK(pthread_mutex_init(&ev->mtx, NULL));
	PTOK(pthread_cond_init(&ev->cond, NULL));
	PTOK(pthread_cond_init(&ev->ckpt_cond, NULL));
	ev->retain = retain > 0 ? retain : 1;
	if (dir != NULL) {
		ev->dir = xstrdup(dir);
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			e = errno;
			log_errno(LVL_ERROR, e, "cannot create %s for the events log", dir);
			goto Error;
		}
	} else {
		ev->dir = xasprintf("%s/cdn-events-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		if (mkdtemp(ev->dir) == NULL) {
			e = errno;
			log_errno(LVL_ERROR, e, "cannot make a temporary directory %s for the events log",
			    ev->dir);
			goto Error;
		}
		ev->temp = true;
	}
	ev->path = xasprintf("%s/events.db", ev->dir);
	if (open_db(ev) != CDN_OK)
		goto Error;
	if (pthread_create(&ev->ckpt, NULL, ckpt_main, ev) != 0) {
		log_msg(LVL_ERROR, "events log %s: cannot start the checkpointer", ev->path);
		goto Error;
	}
	ev->ckpt_started = true;
	if (ev->temp)
		log_msg(LVL_INFO, "no cache dir: the invalidation log is in %s and is lost at exit "
		    "(children resume from a new log)", ev->path);
	else
		log_msg(LVL_INFO, "invalidation log %s: id %s, events %llu..%llu, keeping %llu",
		    ev->path, ev->logid, (unsigned long long)ev->first, (unsigned long long)ev->head,
		    (unsigned long long)ev->retain);
	*out = ev;
	return CDN_OK;
Error:
	if (ev->temp)
		(void)rmdir(ev->dir);
	events_close(&ev);
	return CDN_ERR;
}

void
events_wake_all(struct events *ev)
{
	PTOK(pthread_mutex_lock(&ev->mtx));
	ev->stopping = true;
	PTOK(pthread_cond_broadcast(&ev->cond));
	PTOK(pthread_mutex_unlock(&ev->mtx));
}

void
events_close(struct events **evp)
{
	struct events *ev = *evp;

	*evp = NULL;
	if (ev == NULL)
		return;
	if (ev->ckpt_started) {
		PTOK(pthread_mutex_lock(&ev->mtx));
		ev->ckpt_stop = true;
		PTOK(pthread_cond_signal(&ev->ckpt_cond));
		PTOK(pthread_mutex_unlock(&ev->mtx));
		PTOK(pthread_join(ev->ckpt, NULL));
	}
	/* A last checkpoint, so the WAL does not outlive us needlessly. */
	if (ev->db != NULL)
		(void)sqlite3_wal_checkpoint_v2(ev->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	close_db(ev);
	if (ev->temp && ev->path != NULL) {
		remove_files(ev->path);
		(void)rmdir(ev->dir);
	}
	PTOK(pthread_mutex_destroy(&ev->mtx));
	PTOK(pthread_cond_destroy(&ev->cond));
	PTOK(pthread_cond_destroy(&ev->ckpt_cond));
	free(ev->dir);
	free(ev->path);
	free(ev);
}

const char *
events_log_id(const struct events *ev)
{
	return ev->logid;
}

const char *
events_path(const struct events *ev)
{
	return ev->path;
}

bool
events_durable(const struct events *ev)
{
	return !ev->temp;
}

void
events_bounds(struct events *ev, uint64_t *first, uint64_t *head)
{
	PTOK(pthread_mutex_lock(&ev->mtx));
	if (first != NULL)
		*first = ev->first;
	if (head != NULL)
		*head = ev->head;
	PTOK(pthread_mutex_unlock(&ev->mtx));
}

void
events_format_id(const struct events *ev, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%llu", ev->logid, (unsigned long long)seq);
}

bool
events_parse_id(const char *id, char logid[EVENTS_LOGID_LEN + 1], uint64_t *seq)
{
	const char *dash = strchr(id, '-'), *num = id;
	char *end;
	unsigned long long v;

	logid[0] = '\0';
	if (dash != NULL) {
		if (dash - id != EVENTS_LOGID_LEN)
			return false;
		for (const char *p = id; p < dash; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return false;
		memcpy(logid, id, EVENTS_LOGID_LEN);
		logid[EVENTS_LOGID_LEN] = '\0';
		num = dash + 1;
	}
	if (*num < '0' || *num > '9')
		return false;
	errno = 0;
	v = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*seq = (uint64_t)v;
	return true;
}

static int
cursor_set_locked(struct events *ev, const char *key, const char *id)
{
	int rc;

	sqlite3_reset(ev->st_cur_set);
	sqlite3_bind_text(ev->st_cur_set, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->st_cur_set, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ev->st_cur_set, 3, (sqlite3_int64)now_ms());
	rc = sqlite3_step(ev->st_cur_set) == SQLITE_DONE ? CDN_OK : CDN_ERR;
	sqlite3_reset(ev->st_cur_set);
	return rc;
}

static bool
by_uid_locked(struct events *ev, const char *uid, uint64_t *time_ms)
{
	bool found = false;

	sqlite3_reset(ev->st_by_uid);
	sqlite3_bind_text(ev->st_by_uid, 1, uid, -1, SQLITE_STATIC);
	if (sqlite3_step(ev->st_by_uid) == SQLITE_ROW) {
		found = true;
		if (time_ms != NULL)
			*time_ms = (uint64_t)sqlite3_column_int64(ev->st_by_uid, 0);
	}
	sqlite3_reset(ev->st_by_uid);
	return found;
}

int
events_append(struct events *ev, json_t *body, const char *source, const char *cursor_key,
    const char *cursor_id, struct events_added *out)
{
	const char *uid = json_string_value(json_object_get(body, "uid"));
	uint64_t seq, t = now_ms();
	char *text = NULL;
	int rc = CDN_ERR;

	memset(out, 0, sizeof *out);
	PTOK(pthread_mutex_lock(&ev->mtx));
	if (uid == NULL && exec(ev, "PRAGMA synchronous=FULL") != CDN_OK)
		goto Unlock;
	if (exec(ev, "BEGIN IMMEDIATE") != CDN_OK)
		goto Unlock;
	if (uid != NULL && by_uid_locked(ev, uid, &out->time_ms)) {
		out->duplicate = true;
		snprintf(out->uid, sizeof out->uid, "%s", uid);
	} else {
		seq = ev->head + 1;
		if (uid == NULL) {
			snprintf(out->uid, sizeof out->uid, "%s:%llu", ev->logid, (unsigned long long)seq);
			json_object_set_new(body, "uid", json_string(out->uid));
		} else {
			snprintf(out->uid, sizeof out->uid, "%s", uid);
		}
		text = json_dumps(body, JSON_COMPACT);
		AN(text);
		sqlite3_reset(ev->st_insert);
		sqlite3_bind_int64(ev->st_insert, 1, (sqlite3_int64)seq);
		sqlite3_bind_text(ev->st_insert, 2, out->uid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ev->st_insert, 3, (sqlite3_int64)t);
		sqlite3_bind_text(ev->st_insert, 4, source, -1, SQLITE_STATIC);
		sqlite3_bind_text(ev->st_insert, 5, text, -1, SQLITE_STATIC);
		if (sqlite3_step(ev->st_insert) != SQLITE_DONE) {
			log_msg(LVL_ERROR, "events log %s: cannot append: %s", ev->path,
			    sqlite3_errmsg(ev->db));
			sqlite3_reset(ev->st_insert);
			goto Rollback;
		}
		sqlite3_reset(ev->st_insert);
		out->seq = seq;
		out->time_ms = t;
		if (seq >= ev->retain + ev->first) {
			sqlite3_reset(ev->st_trim);
			sqlite3_bind_int64(ev->st_trim, 1, (sqlite3_int64)(seq + 1 - ev->retain));
			if (sqlite3_step(ev->st_trim) != SQLITE_DONE) {
				sqlite3_reset(ev->st_trim);
				goto Rollback;
			}
			sqlite3_reset(ev->st_trim);
		}
	}
	if (cursor_key != NULL && cursor_set_locked(ev, cursor_key, cursor_id) != CDN_OK)
		goto Rollback;
	if (exec(ev, "COMMIT") != CDN_OK)
		goto Rollback;
	if (!out->duplicate) {
		ev->head = out->seq;
		if (ev->head >= ev->retain + ev->first)
			ev->first = ev->head + 1 - ev->retain;
		PTOK(pthread_cond_broadcast(&ev->cond));
	}
	rc = CDN_OK;
	goto Unlock;
Rollback:
	(void)exec(ev, "ROLLBACK");
Unlock:
	if (uid == NULL)
		(void)exec(ev, "PRAGMA synchronous=NORMAL");
	PTOK(pthread_mutex_unlock(&ev->mtx));
	free(text);
	return rc;
}

bool
events_has(struct events *ev, const char *uid, uint64_t *time_ms)
{
	bool found;

	PTOK(pthread_mutex_lock(&ev->mtx));
	found = by_uid_locked(ev, uid, time_ms);
	PTOK(pthread_mutex_unlock(&ev->mtx));
	return found;
}

unsigned
events_read(struct events *ev, uint64_t after, unsigned max,
    void (*fn)(void *arg, uint64_t seq, const char *body), void *arg)
{
	unsigned n = 0;

	PTOK(pthread_mutex_lock(&ev->mtx));
	if (after < ev->head) {
		sqlite3_reset(ev->st_read);
		sqlite3_bind_int64(ev->st_read, 1, (sqlite3_int64)after);
		sqlite3_bind_int64(ev->st_read, 2, (sqlite3_int64)max);
		while (sqlite3_step(ev->st_read) == SQLITE_ROW) {
			fn(arg, (uint64_t)sqlite3_column_int64(ev->st_read, 0),
			    (const char *)sqlite3_column_text(ev->st_read, 1));
			n++;
		}
		sqlite3_reset(ev->st_read);
	}
	PTOK(pthread_mutex_unlock(&ev->mtx));
	return n;
}

bool
events_wait(struct events *ev, uint64_t after, uint64_t timeout_ms)
{
	struct timespec ts;
	bool news;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	PTOK(pthread_mutex_lock(&ev->mtx));
	while (ev->head <= after && !ev->stopping) {
		int e = pthread_cond_timedwait(&ev->cond, &ev->mtx, &ts);

		if (e == ETIMEDOUT)
			break;
		AZ(e);
	}
	news = ev->head > after && !ev->stopping;
	PTOK(pthread_mutex_unlock(&ev->mtx));
	return news;
}

bool
events_resume(struct events *ev, const char *last_id, uint64_t *from)
{
	char logid[EVENTS_LOGID_LEN + 1];
	uint64_t seq, first, head;

	events_bounds(ev, &first, &head);
	*from = head;
	if (last_id == NULL || last_id[0] == '\0')
		return true;
	if (!events_parse_id(last_id, logid, &seq))
		return false;
	if (logid[0] == '\0' || strcmp(logid, ev->logid) == 0) {
		if (seq > head || seq + 1 < first)
			return false;
		*from = seq;
		return true;
	}
	/* Another log (this node's was replaced): everything it holds is news
	 * to the reader, but only if nothing was trimmed yet. */
	if (first > 1)
		return false;
	*from = 0;
	return true;
}

bool
events_cursor_get(struct events *ev, const char *key, char *buf, size_t len)
{
	bool found = false;

	PTOK(pthread_mutex_lock(&ev->mtx));
	sqlite3_reset(ev->st_cur_get);
	sqlite3_bind_text(ev->st_cur_get, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(ev->st_cur_get) == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(ev->st_cur_get, 0));
		found = true;
	}
	sqlite3_reset(ev->st_cur_get);
	PTOK(pthread_mutex_unlock(&ev->mtx));
	return found;
}

int
events_cursor_set(struct events *ev, const char *key, const char *id)
{
	int rc;

	PTOK(pthread_mutex_lock(&ev->mtx));
	rc = cursor_set_locked(ev, key, id);
	PTOK(pthread_mutex_unlock(&ev->mtx));
	if (rc != CDN_OK)
		log_msg(LVL_WARN, "events log: cannot save the cursor of %s", key);
	return rc;
}
