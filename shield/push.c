/*
 * push.c: pushed objects on the shield tier: ingest, replication on the
 * tier's ring, repair and anti-entropy (see push.h).
 */
#include "config.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl/admin.h"
#include "ctl/ctl.h"
#include "ctl/purge.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "net/health.h"
#include "net/ring.h"
#include "push.h"
#include "store/cache.h"
#include "store/disk.h"
#include "util/bloom.h"
#include "util/cfg.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/httpdate.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define PUSH_MAGIC 0x9a5e0c11u
#define PREQ_MAGIC 0x9a5e0c12u
#define PUSH_MAX_PEERS 64u
#define PUSH_LOCKS 64u
#define PUSH_LIFETIME (INT64_C(10) * 365 * 86400)  /* fresh "forever" on its own tier */
#define PUSH_SYNC_MAX (64u << 20)                  /* largest sync request body */
#define PUSH_FP 0.01                               /* exchanged filters' false positives */
#define PUSH_PARKED_SHOWN 50u
#define PUSH_LOCAL_MIN 65536u                      /* smallest filter of the catalog's keys */

#define H_REPLICA   "X-Cdn-Push-Replica"    /* "1": store here, do not route */
#define H_FORWARD   "X-Cdn-Push-Forwarded" /* "1": sent by a non-leader: lead it */
#define H_VERSION   "X-Cdn-Push-Version"
#define H_LOCAL     "X-Cdn-Push-Local"     /* "1": answer from this node only */

struct xbloom {                 /* a filter that travels: m bits, k probes */
	uint64_t m, seed;
	unsigned k;
	uint8_t *bits;
};

struct peer {
	char *url;                  /* data listener base URL (const) */
	char id[RING_ID_MAX];       /* ring identity (const) */
	char host[256];             /* how we reach it (const) */
	pthread_mutex_t mtx;
	char admin[300];            /* (mtx) admin base URL, "" until discovered */
	struct xbloom keys;         /* (mtx) its keys at the last sync */
	uint64_t last_sync;         /* (mtx) time of the last good sync, s */
	char last_error[160];       /* (mtx) */
};

struct push {
	unsigned magic;
	const struct cfg *cfg;
	struct disk *disk;
	struct cache *cache;
	char *token;                /* for the peers' admin listeners */

	sqlite3 *db;
	pthread_mutex_t db_mtx;
	pthread_mutex_t key_mtx[PUSH_LOCKS];

	/* membership, const after push_start */
	struct ring *ring;
	struct health *health;
	struct peer peers[PUSH_MAX_PEERS];  /* ring node i < npeers is peers[i] */
	unsigned npeers, self;              /* self == npeers */
	char self_id[RING_ID_MAX];
	char admin_url[300];
	unsigned n, w;
	atomic_bool started;

	pthread_rwlock_t local_lk;
	struct bloom *local;        /* (local_lk) keys in the catalog (never shrinks) */

	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	bool stop;                  /* (mtx) */
	char **missing;             /* (mtx) catalog keys not on disk at start */
	size_t nmissing;

	struct admin_ext ext;

	atomic_uint_fast64_t puts, replica_puts, forwarded, deletes, mismatches, rejected,
	    too_big, disk_full, replicated, replica_failures, repairs, repair_failures,
	    sync_rounds, sync_sent, sync_errors, queued, retried;
};

static void cat_walk(struct push *p, void (*fn)(void *arg, const char *key, size_t keylen,
    const uint8_t *sha, bool deleted), void *arg);
static void count_row(void *arg, const char *key, size_t keylen, const uint8_t *sha,
    bool deleted);

/* ---------------------------------------------------------------- keys */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
push_key_ok(const char *raw, size_t len, char *why, size_t whylen)
{
	size_t seg = 0;   /* start of the current segment */

	if (len == 0 || raw[0] != '/') {
		snprintf(why, whylen, "a key is a path starting with /");
		return false;
	}
	if (len > PUSH_KEY_MAX) {
		snprintf(why, whylen, "key of %zu bytes is over the limit of %u", len, PUSH_KEY_MAX);
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = i < len ? (unsigned char)raw[i] : '/';

		if (ch == '/') {
			size_t n = i - seg;

			if (i > 0 && n == 0 && i < len) {
				snprintf(why, whylen, "empty path segment (//) in the key");
				return false;
			}
			if ((n == 1 && raw[seg] == '.') || (n == 2 && raw[seg] == '.' && raw[seg + 1] == '.')) {
				snprintf(why, whylen, "\".\" or \"..\" segment in the key");
				return false;
			}
			seg = i + 1;
			continue;
		}
		if (ch == 0) {
			snprintf(why, whylen, "NUL byte in the key");
			return false;
		}
		if (ch < 0x21 || ch >= 0x7f) {
			snprintf(why, whylen, "control, space or non-ASCII byte 0x%02x in the key "
			    "(percent-encode it)", ch);
			return false;
		}
		if (ch == '\\' || ch == '?' || ch == '#') {
			snprintf(why, whylen, "'%c' in the key (no backslash, query or fragment)", ch);
			return false;
		}
		if (ch == '%') {
			int hi = i + 2 < len ? hexval(raw[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(raw[i + 2]) : -1;
			int v;

			if (hi < 0 || lo < 0) {
				snprintf(why, whylen, "bad percent-encoding in the key");
				return false;
			}
			v = hi * 16 + lo;
			if (v == '.' || v == '/' || v == '\\' || v < 0x20 || v == 0x7f) {
				snprintf(why, whylen, "encoded dot, slash, backslash or control byte "
				    "(%%%c%c) in the key", raw[i + 1], raw[i + 2]);
				return false;
			}
			i += 2;
		}
	}
	return true;
}

/* ---------------------------------------------------------------- small helpers */

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static pthread_mutex_t *
key_lock(struct push *p, uint64_t hash)
{
	return &p->key_mtx[hash % PUSH_LOCKS];
}

static bool
stopping(struct push *p)
{
	bool s;

	PTOK(pthread_mutex_lock(&p->mtx));
	s = p->stop;
	PTOK(pthread_mutex_unlock(&p->mtx));
	return s;
}

/* ---------------------------------------------------------------- exchanged filters */

static void
xb_init(struct xbloom *b, uint64_t n, uint64_t seed)
{
	/* m = -n ln p / (ln 2)^2, k = m/n ln 2, at least 1024 bits. */
	double m = (double)(n < 16 ? 16 : n) * 9.6;

	b->m = ((uint64_t)m + 1023) & ~(uint64_t)1023;
	b->k = 7;
	b->seed = seed;
	b->bits = xcalloc(1, b->m / 8);
}

static void
xb_fini(struct xbloom *b)
{
	free(b->bits);
	memset(b, 0, sizeof *b);
}

/* The two hashes whose combinations h1 + i * h2 pick the k bits. */
static void
xb_hashes(const struct xbloom *b, const void *p, size_t n, uint64_t *h1, uint64_t *h2)
{
	*h1 = bloom_hash64(p, n, b->seed);
	*h2 = bloom_hash64(p, n, b->seed ^ 0x9e3779b97f4a7c15ull) | 1;
}

static void
xb_add(struct xbloom *b, const void *p, size_t n)
{
	uint64_t h1, h2;

	xb_hashes(b, p, n, &h1, &h2);
	for (unsigned i = 0; i < b->k; i++) {
		uint64_t bit = (h1 + i * h2) % b->m;

		b->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	}
}

static bool
xb_maybe(const struct xbloom *b, const void *p, size_t n)
{
	uint64_t h1, h2;

	if (b->bits == NULL)
		return false;
	xb_hashes(b, p, n, &h1, &h2);
	for (unsigned i = 0; i < b->k; i++) {
		uint64_t bit = (h1 + i * h2) % b->m;

		if (!(b->bits[bit / 8] & (1u << (bit % 8))))
			return false;
	}
	return true;
}

static json_t *
xb_json(const struct xbloom *b)
{
	size_t n = b->m / 8, outlen = 4 * ((n + 2) / 3) + 1;
	char *out = xmalloc(outlen);
	json_t *j;
	char seed[24];

	EVP_EncodeBlock((unsigned char *)out, b->bits, (int)n);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)b->seed);
	j = json_pack("{s:I,s:i,s:s,s:s}", "m", (json_int_t)b->m, "k", (int)b->k, "seed", seed,
	    "bits", out);
	free(out);
	return j;
}

static int
xb_from_json(struct xbloom *b, const json_t *j)
{
	json_int_t m = json_integer_value(json_object_get(j, "m"));
	json_int_t k = json_integer_value(json_object_get(j, "k"));
	const char *seed = json_string_value(json_object_get(j, "seed"));
	const char *bits = json_string_value(json_object_get(j, "bits"));
	size_t blen;
	unsigned char *tmp;
	int got;

	memset(b, 0, sizeof *b);
	if (m <= 0 || m % 1024 != 0 || m > (json_int_t)8 * PUSH_SYNC_MAX || k < 1 || k > 32 ||
	    seed == NULL || bits == NULL)
		return CDN_INVAL;
	blen = strlen(bits);
	if (blen != 4 * (((size_t)m / 8 + 2) / 3))
		return CDN_INVAL;
	tmp = xmalloc(blen);
	got = EVP_DecodeBlock(tmp, (const unsigned char *)bits, (int)blen);
	if (got < (int)(m / 8)) {
		free(tmp);
		return CDN_INVAL;
	}
	b->m = (uint64_t)m;
	b->k = (unsigned)k;
	b->seed = strtoull(seed, NULL, 10);
	b->bits = xmalloc((size_t)m / 8);
	memcpy(b->bits, tmp, (size_t)m / 8);
	free(tmp);
	return CDN_OK;
}

/* The identity of a catalog entry in exchanged filters: the key and its
 * digest, or the key and a tombstone mark. */
static size_t
entry_id(char *buf, size_t len, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	char hex[2 * DIGEST_LEN + 1];

	if (deleted)
		return (size_t)snprintf(buf, len, "%.*s\nD", (int)keylen, key);
	digest_hex(sha, hex);
	return (size_t)snprintf(buf, len, "%.*s\n%s", (int)keylen, key, hex);
}

/* ---------------------------------------------------------------- catalog */

struct entry {
	bool found, deleted;
	uint64_t ver, size;
	uint8_t sha[DIGEST_LEN];
};

static int
db_exec(struct push *p, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(p->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_msg(LVL_ERROR, "push catalog: %s: %s", sql, err != NULL ? err : "?");
		sqlite3_free(err);
		return CDN_ERR;
	}
	return CDN_OK;
}

static int
cat_get(struct push *p, const char *key, size_t keylen, struct entry *e)
{
	sqlite3_stmt *s = NULL;
	int step;

	memset(e, 0, sizeof *e);
	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "SELECT ver, sha, size, deleted FROM pushed WHERE key = ?1",
	    -1, &s, NULL) != SQLITE_OK) {
		PTOK(pthread_mutex_unlock(&p->db_mtx));
		return CDN_ERR;
	}
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		e->found = true;
		e->ver = (uint64_t)sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) == DIGEST_LEN)
			memcpy(e->sha, sqlite3_column_blob(s, 1), DIGEST_LEN);
		e->size = (uint64_t)sqlite3_column_int64(s, 2);
		e->deleted = sqlite3_column_int64(s, 3) != 0;
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	return step == SQLITE_ROW || step == SQLITE_DONE ? CDN_OK : CDN_ERR;
}

static int
cat_put(struct push *p, const char *key, size_t keylen, uint64_t ver, const uint8_t *sha,
    uint64_t size, bool deleted)
{
	sqlite3_stmt *s = NULL;
	int step;

	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "INSERT OR REPLACE INTO pushed(key, ver, sha, size, deleted, at) "
	    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &s, NULL) != SQLITE_OK) {
		PTOK(pthread_mutex_unlock(&p->db_mtx));
		return CDN_ERR;
	}
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)ver);
	if (sha != NULL)
		sqlite3_bind_blob(s, 3, sha, DIGEST_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
	sqlite3_bind_int(s, 5, deleted ? 1 : 0);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)time(NULL));
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	if (step != SQLITE_DONE) {
		log_msg(LVL_ERROR, "push catalog: cannot record %.*s: %s", (int)keylen, key,
		    sqlite3_errstr(step));
		return CDN_ERR;
	}
	if (!deleted) {
		PTOK(pthread_rwlock_rdlock(&p->local_lk));
		bloom_add(p->local, key, keylen);
		PTOK(pthread_rwlock_unlock(&p->local_lk));
	}
	return CDN_OK;
}

/* Queue a replication of key to node (op "put" or "delete" is decided when
 * it runs, from the catalog). */
static void
queue_add(struct push *p, const char *key, size_t keylen, const char *node, const char *why)
{
	sqlite3_stmt *s = NULL;

	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "INSERT INTO queue(key, node, attempts, next_at, parked, error) "
	    "VALUES(?1, ?2, 0, ?3, 0, ?4) ON CONFLICT(key, node) DO UPDATE SET "
	    "parked = 0, next_at = ?3, error = ?4", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, node, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL) + 1);
		sqlite3_bind_text(s, 4, why, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			log_msg(LVL_ERROR, "push queue: cannot record a retry: %s", sqlite3_errmsg(p->db));
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	atomic_fetch_add(&p->queued, 1);
}

static const char *const schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS pushed("
	" key BLOB PRIMARY KEY, ver INTEGER NOT NULL, sha BLOB, size INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS queue("
	" id INTEGER PRIMARY KEY, key BLOB NOT NULL, node TEXT NOT NULL,"
	" attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, parked INTEGER NOT NULL,"
	" error TEXT, UNIQUE(key, node));";

/* ---------------------------------------------------------------- reconcile */

/* Pinned versions in the disk tier, sorted by key (reconcile's input). */
struct drow {
	char *key;
	size_t keylen;
	uint64_t size;
	uint8_t sha[DIGEST_LEN];
};

struct drows {
	struct drow *v;
	size_t n, cap;
};

static int
collect_pinned(void *arg, const char *key, size_t keylen, const uint8_t *sha, uint64_t size,
    bool pinned)
{
	struct drows *d = arg;

	(void)pinned;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 1024;
		d->v = xrealloc(d->v, d->cap * sizeof *d->v);
	}
	d->v[d->n].key = xstrndup(key, keylen);
	d->v[d->n].keylen = keylen;
	d->v[d->n].size = size;
	memcpy(d->v[d->n].sha, sha, DIGEST_LEN);
	d->n++;
	return CDN_OK;
}

/* The order SQLite gives BLOB keys: bytes, then the shorter first. */
static int
key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : al < bl ? -1 : al > bl;
}

static int
drow_cmp(const void *x, const void *y)
{
	const struct drow *a = x, *b = y;

	return key_cmp(a->key, a->keylen, b->key, b->keylen);
}

struct fix {
	struct drow *d;
	uint64_t ver;
};

/*
 * Reconcile the catalog with the disk tier at start, in one ordered pass
 * over each (no lookup per key): a pinned version the catalog lacks (the
 * crash came between the disk commit and the catalog's) is added, a digest
 * that differs is taken from the disk (it is the truth for bytes), a live
 * entry with no pinned version is kept in p->missing for the sync thread
 * to repair from a replica, and every live key goes into p->local. A
 * tombstone is left alone: it beats the copy at the next sync.
 */
static void
reconcile(struct push *p, uint64_t *added, uint64_t *fixed)
{
	struct drows d = { NULL, 0, 0 };
	struct fix *fx = NULL;
	size_t nfx = 0, cfx = 0, i = 0, mcap = 0;
	sqlite3_stmt *s = NULL;

	if (disk_foreach(p->disk, true, collect_pinned, &d) != CDN_OK)
		log_msg(LVL_WARN, "push: cannot read the disk index to reconcile the catalog");
	if (d.n > 0)
		qsort(d.v, d.n, sizeof *d.v, drow_cmp);
	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "SELECT key, ver, sha, deleted FROM pushed ORDER BY key", -1,
	    &s, NULL) == SQLITE_OK) {
		for (;;) {
			int step = sqlite3_step(s);
			const char *k = step == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
			size_t kl = k != NULL ? (size_t)sqlite3_column_bytes(s, 0) : 0;
			const uint8_t *sha = k != NULL && sqlite3_column_bytes(s, 2) == DIGEST_LEN ?
			    sqlite3_column_blob(s, 2) : NULL;
			bool del = k != NULL && sqlite3_column_int64(s, 3) != 0, on;

			/* Disk rows before this key (all that are left, at the end)
			 * have no catalog entry. */
			while (i < d.n && (k == NULL || key_cmp(d.v[i].key, d.v[i].keylen, k, kl) < 0)) {
				if (nfx == cfx) {
					cfx = cfx ? cfx * 2 : 64;
					fx = xrealloc(fx, cfx * sizeof *fx);
				}
				fx[nfx++] = (struct fix){ &d.v[i++], 1 };
				(*added)++;
			}
			if (k == NULL)
				break;
			on = i < d.n && key_cmp(d.v[i].key, d.v[i].keylen, k, kl) == 0;
			if (!del) {
				PTOK(pthread_rwlock_rdlock(&p->local_lk));
				bloom_add(p->local, k, kl);
				PTOK(pthread_rwlock_unlock(&p->local_lk));
				if (!on) {
					if (p->nmissing == mcap) {
						mcap = mcap ? mcap * 2 : 64;
						p->missing = xrealloc(p->missing, mcap * sizeof *p->missing);
					}
					p->missing[p->nmissing++] = xstrndup(k, kl);
				} else if (sha == NULL || memcmp(sha, d.v[i].sha, DIGEST_LEN) != 0) {
					if (nfx == cfx) {
						cfx = cfx ? cfx * 2 : 64;
						fx = xrealloc(fx, cfx * sizeof *fx);
					}
					fx[nfx++] = (struct fix){ &d.v[i],
					    (uint64_t)sqlite3_column_int64(s, 1) };
					(*fixed)++;
				}
			}
			if (on)
				i++;
		}
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	for (size_t j = 0; j < nfx; j++)
		cat_put(p, fx[j].d->key, fx[j].d->keylen, fx[j].ver, fx[j].d->sha, fx[j].d->size, false);
	free(fx);
	for (size_t j = 0; j < d.n; j++)
		free(d.v[j].key);
	free(d.v);
}

/* Does the disk tier hold key? (disk_file_of answers CDN_INVAL, buffer too
 * small, when the row exists: a presence test without a file path.) */
static bool
on_disk(struct push *p, const char *key, size_t keylen)
{
	char path[16];

	return disk_maybe(p->disk, key, keylen) &&
	    disk_file_of(p->disk, key, keylen, path, sizeof path) != CDN_NOTFOUND;
}

/* ---------------------------------------------------------------- talking to peers */

struct membuf {
	char *p;
	size_t n;
};

static size_t
to_membuf(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct membuf *m = arg;
	size_t n = size * nmemb;

	if (m->n + n > (1u << 20))
		return 0; /* answers from peers are small JSON */
	m->p = xrealloc(m->p, m->n + n + 1);
	memcpy(m->p + m->n, ptr, n);
	m->n += n;
	m->p[m->n] = '\0';
	return n;
}

static size_t
from_fd(char *buf, size_t size, size_t nitems, void *arg)
{
	int fd = *(int *)arg;
	ssize_t r;

	do
		r = read(fd, buf, size * nitems);
	while (r < 0 && errno == EINTR);
	return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

/* The admin base URL of a peer, from the health answer of its data
 * listener ("admin": "host:port"). Cached; rediscovered after a failure. */
static bool
peer_admin(struct push *p, struct peer *pe, char *out, size_t len, bool *fresh)
{
	struct membuf mb = { NULL, 0 };
	CURL *e;
	char url[600], host[256];
	const char *admin;
	unsigned port;
	long code = 0;
	json_t *j;
	bool ok = false;

	if (fresh != NULL)
		*fresh = false;
	PTOK(pthread_mutex_lock(&pe->mtx));
	snprintf(out, len, "%s", pe->admin);
	PTOK(pthread_mutex_unlock(&pe->mtx));
	if (out[0] != '\0')
		return true;
	if (fresh != NULL)
		*fresh = true;
	e = curl_easy_init();
	AN(e);
	snprintf(url, sizeof url, "%s%s", pe->url, p->cfg->health_path != NULL &&
	    p->cfg->health_path[0] == '/' ? p->cfg->health_path : "/.well-known/cdn/health");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_membuf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &mb);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	j = code == 200 && mb.p != NULL ? json_loads(mb.p, 0, NULL) : NULL;
	admin = json_string_value(json_object_get(j, "admin"));
	if (admin != NULL && cfg_parse_hostport(admin, host, sizeof host, &port) == CDN_OK) {
		const char *h = host;

		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
			h = pe->host;
		if (strchr(h, ':') != NULL && h[0] != '[')
			snprintf(out, len, "http://[%s]:%u", h, port);
		else
			snprintf(out, len, "http://%s:%u", h, port);
		PTOK(pthread_mutex_lock(&pe->mtx));
		snprintf(pe->admin, sizeof pe->admin, "%s", out);
		PTOK(pthread_mutex_unlock(&pe->mtx));
		ok = true;
	}
	json_decref(j);
	free(mb.p);
	return ok;
}

static void
peer_failed(struct push *p, struct peer *pe, const char *why)
{
	PTOK(pthread_mutex_lock(&pe->mtx));
	pe->admin[0] = '\0';
	snprintf(pe->last_error, sizeof pe->last_error, "%s", why);
	PTOK(pthread_mutex_unlock(&pe->mtx));
	health_report_failure(p->health, (unsigned)(pe - p->peers));
}

/* An easy handle for url on a peer's admin listener, with the push token
 * and the given fields (*h grows by the token line; the caller frees it
 * after the transfer). Big bodies take as long as they take; a stalled
 * transfer does not. */
static CURL *
peer_easy(struct push *p, const char *url, struct curl_slist **h)
{
	char auth[600];
	CURL *e = curl_easy_init();

	AN(e);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->token != NULL ? p->token : "");
	*h = curl_slist_append(*h, auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 15L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *h);
	return e;
}

/* One request to a peer's admin listener. body_fd (with body_len) or
 * body (with body_len) is sent if given. Returns the HTTP status, or -1
 * when the peer could not be reached (why says so); *answer (if not NULL)
 * gets the answer body (the caller frees it). */
static long
peer_call(struct push *p, struct peer *pe, const char *method, const char *path,
    struct curl_slist *hdrs, int body_fd, const char *body, uint64_t body_len, char **answer,
    char *why, size_t whylen)
{
	char base[300], url[2048];
	struct membuf mb = { NULL, 0 };
	struct curl_slist *h = hdrs;
	off_t off = body_fd >= 0 ? lseek(body_fd, 0, SEEK_CUR) : -1;
	bool fresh;
	CURL *e;
	CURLcode rc;
	long code = -1;

	if (answer != NULL)
		*answer = NULL;
	if (!peer_admin(p, pe, base, sizeof base, &fresh)) {
		snprintf(why, whylen, "%s: no admin listener found (is it up?)", pe->id);
		peer_failed(p, pe, why);
		return -1;
	}
	snprintf(url, sizeof url, "%s%s", base, path);
	h = curl_slist_append(h, "Expect:");
	e = peer_easy(p, url, &h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_membuf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &mb);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, from_fd);
		curl_easy_setopt(e, CURLOPT_READDATA, &body_fd);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(e);
	if (rc == CURLE_COULDNT_CONNECT && !fresh) {
		/* The peer may have restarted with its admin listener on another
		 * port: find it again, once, before calling the peer down. */
		PTOK(pthread_mutex_lock(&pe->mtx));
		pe->admin[0] = '\0';
		PTOK(pthread_mutex_unlock(&pe->mtx));
		if (peer_admin(p, pe, base, sizeof base, &fresh) &&
		    (off < 0 || lseek(body_fd, off, SEEK_SET) == off)) {
			snprintf(url, sizeof url, "%s%s", base, path);
			curl_easy_setopt(e, CURLOPT_URL, url);
			free(mb.p);
			mb.p = NULL;
			mb.n = 0;
			rc = curl_easy_perform(e);
		}
	}
	if (rc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	} else {
		snprintf(why, whylen, "%s: %s", pe->id, curl_easy_strerror(rc));
		if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
		    rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR)
			peer_failed(p, pe, why);
	}
	if (code >= 0 && code != 200 && code != 201) {
		while (mb.n > 0 && (mb.p[mb.n - 1] == '\n' || mb.p[mb.n - 1] == '\r'))
			mb.p[--mb.n] = '\0';
		snprintf(why, whylen, "%s answered %ld%s%.120s", pe->id, code,
		    mb.p != NULL ? ": " : "", mb.p != NULL ? mb.p : "");
	}
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (answer != NULL)
		*answer = mb.p;
	else
		free(mb.p);
	return code;
}

/* ---------------------------------------------------------------- membership */

static bool
node_up(void *arg, unsigned idx)
{
	struct push *p = arg;

	if (idx == p->self)
		return true;
	return health_is_up(p->health, idx);
}

/* The replicas of a key: the first n live nodes (live) or the first n
 * nodes (all) in ring order. Returns how many. */
static unsigned
replicas_of(struct push *p, uint64_t hash, bool live, unsigned out[PUSH_MAX_PEERS + 1])
{
	return ring_lookup_n(p->ring, hash, p->n, live ? node_up : NULL, p, out);
}

static struct peer *
peer_by_id(struct push *p, const char *id)
{
	for (unsigned i = 0; i < p->npeers; i++)
		if (strcmp(p->peers[i].id, id) == 0)
			return &p->peers[i];
	return NULL;
}

/* ---------------------------------------------------------------- answers */

/* Pass on another shield's answer (a forwarded PUT or DELETE) as it is. */
static enum MHD_Result
relay(struct MHD_Connection *c, long code, const char *answer)
{
	return admin_send_text(c, (unsigned)code, "application/json",
	    xstrdup(answer != NULL ? answer : ""));
}

/* Tell every tier below (and this node's memory tier) that key changed:
 * the invalidation log's event reaches the edges. */
static void
announce(struct push *p, const char *key, size_t keylen)
{
	struct purge_spec s;
	struct ctl *ctl;

	memset(&s, 0, sizeof s);
	s.kind = PURGE_URLS;
	s.items = xmalloc(sizeof *s.items);
	s.items[0] = xstrndup(key, keylen);
	s.n = 1;
	if ((ctl = ctl_acquire()) != NULL) {
		json_decref(ctl_purge(ctl, &s, false));
		ctl_release(&ctl);
	} else {
		cache_purge_url(p->cache, key, keylen);
	}
	purge_spec_fini(&s);
}

/* ---------------------------------------------------------------- storing */

struct meta {                   /* the fields a pushed object keeps */
	char ctype[256];
	char cc[512];
	char skey[1024];
};

static bool
field_ok(const char *v)
{
	for (const unsigned char *s = (const unsigned char *)v; *s != '\0'; s++)
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/* Commit a filled writer as the pinned object key (version ver, digest
 * want). Returns 0; CDN_INVAL (digest mismatch: got holds the computed
 * one), CDN_TOOBIG or CDN_ERR; nothing is stored on failure. */
static int
commit_object(struct push *p, struct disk_writer **wp, const char *key, size_t keylen,
    const struct meta *m, const uint8_t want[DIGEST_LEN], uint64_t size, uint64_t ver,
    uint8_t got[DIGEST_LEN])
{
	struct disk_head head;
	struct disk_put put;
	char date[HTTPDATE_LEN], hex[2 * DIGEST_LEN + 1], etag[24];
	time_t now = time(NULL);
	int rc;

	disk_head_init(&head);
	head.status = 200;
	head.request_time = head.response_time = now;
	head.lifetime = PUSH_LIFETIME;
	hdrs_add(&head.hdrs, "Content-Type", m->ctype[0] != '\0' && field_ok(m->ctype) ?
	    m->ctype : "application/octet-stream");
	if (m->cc[0] != '\0' && field_ok(m->cc))
		hdrs_add(&head.hdrs, "Cache-Control", m->cc);
	else if (p->cfg->push_cache_control != NULL && p->cfg->push_cache_control[0] != '\0')
		hdrs_add(&head.hdrs, "Cache-Control", p->cfg->push_cache_control);
	if (m->skey[0] != '\0' && field_ok(m->skey))
		hdrs_add(&head.hdrs, "Surrogate-Key", m->skey);
	digest_hex(want, hex);
	snprintf(etag, sizeof etag, "\"%.16s\"", hex);
	hdrs_add(&head.hdrs, "ETag", etag);
	httpdate_format((time_t)(ver / 1000000u), date);
	hdrs_add(&head.hdrs, "Last-Modified", date);
	memset(&put, 0, sizeof put);
	put.head = &head;
	put.sha = want;
	put.flags = DISK_PIN;
	rc = disk_write_commit(wp, &put, got);
	disk_head_fini(&head);
	if (rc == CDN_OK)
		rc = cat_put(p, key, keylen, ver, want, size, false);
	return rc;
}

/* Send the catalog's current state of key to one peer as a replica write:
 * the object (verified from disk first) or its tombstone. */
static bool
send_entry(struct push *p, struct peer *pe, const char *key, size_t keylen, bool late,
    char *why, size_t whylen)
{
	struct entry e;
	struct disk_hit hit;
	struct curl_slist *h = NULL;
	char path[PUSH_KEY_MAX + 16], line[1200], field[DIGEST_FIELD_LEN];
	const char *v;
	long code;
	int fd;

	if (cat_get(p, key, keylen, &e) != CDN_OK || !e.found) {
		snprintf(why, whylen, "not in the catalog any more");
		return true; /* nothing to send: done */
	}
	snprintf(path, sizeof path, "/push%.*s", (int)keylen, key);
	h = curl_slist_append(h, late ? H_REPLICA ": late" : H_REPLICA ": 1");
	snprintf(line, sizeof line, H_VERSION ": %llu", (unsigned long long)e.ver);
	h = curl_slist_append(h, line);
	if (e.deleted) {
		code = peer_call(p, pe, "DELETE", path, h, -1, NULL, 0, NULL, why, whylen);
		return code == 200 || code == 404;
	}
	memset(&hit, 0, sizeof hit);
	if (disk_lookup(p->disk, key, keylen, &hit) != CDN_OK ||
	    disk_hit_verify(p->disk, &hit) != CDN_OK) {
		disk_hit_fini(&hit);
		curl_slist_free_all(h);
		snprintf(why, whylen, "the local copy is missing or damaged (being repaired)");
		return false;
	}
	digest_field(hit.sha, field);
	snprintf(line, sizeof line, "Content-Digest: %s", field);
	h = curl_slist_append(h, line);
	if ((v = hdrs_get(&hit.head.hdrs, "Content-Type")) != NULL) {
		snprintf(line, sizeof line, "Content-Type: %s", v);
		h = curl_slist_append(h, line);
	}
	if ((v = hdrs_get(&hit.head.hdrs, "Cache-Control")) != NULL) {
		snprintf(line, sizeof line, "Cache-Control: %s", v);
		h = curl_slist_append(h, line);
	}
	if ((v = hdrs_get(&hit.head.hdrs, "Surrogate-Key")) != NULL) {
		snprintf(line, sizeof line, "Surrogate-Key: %s", v);
		h = curl_slist_append(h, line);
	}
	fd = disk_hit_take_fd(&hit);
	code = peer_call(p, pe, "PUT", path, h, fd, NULL, hit.size, NULL, why, whylen);
	close(fd);
	disk_hit_fini(&hit);
	return code == 200 || code == 201;
}

struct rjob {
	struct push *p;
	struct peer *pe;
	const char *key;
	size_t keylen;
	bool ok;
	char why[300];
	pthread_t thr;
	bool threaded;
};

static void *
rjob_main(void *arg)
{
	struct rjob *j = arg;

	j->ok = send_entry(j->p, j->pe, j->key, j->keylen, false, j->why, sizeof j->why);
	return NULL;
}

/* The leader's half of a write: send key's new state to the other live
 * replicas in parallel; failures go to the retry queue. Fills replicas
 * (the ids holding it, this node first) and returns how many do. */
static unsigned
replicate(struct push *p, const char *key, size_t keylen, json_t *replicas)
{
	unsigned idx[PUSH_MAX_PEERS + 1], n, acks = 1, nj = 0;
	struct rjob jobs[PUSH_MAX_PEERS];

	json_array_append_new(replicas, json_string(p->self_id));
	n = replicas_of(p, key_hash(key, keylen), true, idx);
	for (unsigned i = 0; i < n && nj + 1 < p->n; i++) {
		if (idx[i] == p->self)
			continue;
		memset(&jobs[nj], 0, sizeof jobs[nj]);
		jobs[nj].p = p;
		jobs[nj].pe = &p->peers[idx[i]];
		jobs[nj].key = key;
		jobs[nj].keylen = keylen;
		jobs[nj].threaded = pthread_create(&jobs[nj].thr, NULL, rjob_main, &jobs[nj]) == 0;
		if (!jobs[nj].threaded)
			rjob_main(&jobs[nj]);
		nj++;
	}
	for (unsigned i = 0; i < nj; i++) {
		if (jobs[i].threaded)
			PTOK(pthread_join(jobs[i].thr, NULL));
		if (jobs[i].ok) {
			acks++;
			atomic_fetch_add(&p->replicated, 1);
			json_array_append_new(replicas, json_string(jobs[i].pe->id));
		} else {
			atomic_fetch_add(&p->replica_failures, 1);
			log_msg(LVL_WARN, "push: replicating %.*s to %s failed (%s); queued for retry",
			    (int)keylen, key, jobs[i].pe->id, jobs[i].why);
			queue_add(p, key, keylen, jobs[i].pe->id, jobs[i].why);
		}
	}
	return acks;
}

/* ---------------------------------------------------------------- the PUT path */

enum pmode { PM_NONE, PM_STORE, PM_SPOOL, PM_DISCARD, PM_BODY };

struct preq {
	unsigned magic;
	enum pmode mode;
	char *key;
	size_t keylen;
	uint64_t hash;
	bool replica, forwarded;
	bool late;                  /* a replica write from a sync or a retry */
	uint64_t version;           /* a replica write's, from the leader */
	uint8_t want[DIGEST_LEN];
	struct meta m;
	uint64_t declared;          /* Content-Length, or 0 */
	uint64_t got;
	struct disk_writer *w;
	int spool_fd;
	char spool[PATH_MAX];
	struct digest dg;
	bool dg_live;
	unsigned err_status;        /* PM_DISCARD: the answer */
	char err[400];
	char *body;                 /* PM_BODY: a sync request */
	size_t len;
};

static void
preq_free(struct preq *q)
{
	if (q == NULL)
		return;
	CHECK_OBJ_NOTNULL(q, PREQ_MAGIC);
	disk_write_abort(&q->w);
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		unlink(q->spool);
	}
	if (q->dg_live)
		digest_fini(&q->dg);
	free(q->key);
	free(q->body);
	q->magic = 0;
	free(q);
}

static void
discard(struct preq *q, unsigned status, const char *msg)
{
	disk_write_abort(&q->w);
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		unlink(q->spool);
		q->spool_fd = -1;
	}
	q->mode = PM_DISCARD;
	q->err_status = status;
	snprintf(q->err, sizeof q->err, "%s", msg);
}

static const char *
hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* First call of a PUT: check it and pick what the body goes to. Returns
 * true when it answered (refused) right away. */
static bool
put_begin(struct push *p, struct MHD_Connection *c, struct preq *q, enum MHD_Result *ret)
{
	const char *cd = hdr(c, "Content-Digest"), *cl = hdr(c, "Content-Length"), *v;
	uint8_t d[DIGEST_MAX_LEN];
	unsigned idx[PUSH_MAX_PEERS + 1], n;
	char why[200];
	int alg, rc;

	if (cd == NULL) {
		*ret = admin_send_error(c, 400, "Content-Digest: sha-256=:BASE64: is required (RFC 9530)");
		return true;
	}
	rc = digest_field_parse_any(cd, &alg, d);
	if (rc != CDN_OK || alg != DIGEST_SHA256) {
		*ret = admin_send_error(c, 400, "%s", rc == CDN_OK ? "Content-Digest: send a sha-256 member" :
		    "Content-Digest is malformed (expected sha-256=:BASE64:)");
		return true;
	}
	memcpy(q->want, d, DIGEST_LEN);
	if (cl != NULL) {
		char *end;

		errno = 0;
		q->declared = strtoull(cl, &end, 10);
		if (errno != 0 || *end != '\0') {
			*ret = admin_send_error(c, 400, "bad Content-Length");
			return true;
		}
	}
	if (q->declared > p->cfg->push_max_size) {
		atomic_fetch_add(&p->too_big, 1);
		snprintf(why, sizeof why, "body of %llu bytes is over the limit of %llu (push.max_size)",
		    (unsigned long long)q->declared, (unsigned long long)p->cfg->push_max_size);
		*ret = admin_send_error(c, 413, "%s", why);
		return true;
	}
	memset(&q->m, 0, sizeof q->m);
	if ((v = hdr(c, "Content-Type")) != NULL)
		snprintf(q->m.ctype, sizeof q->m.ctype, "%s", v);
	if ((v = hdr(c, "Cache-Control")) != NULL)
		snprintf(q->m.cc, sizeof q->m.cc, "%s", v);
	if ((v = hdr(c, "Surrogate-Key")) != NULL)
		snprintf(q->m.skey, sizeof q->m.skey, "%s", v);
	if (!field_ok(q->m.ctype) || !field_ok(q->m.cc) || !field_ok(q->m.skey)) {
		*ret = admin_send_error(c, 400, "control characters in Content-Type, Cache-Control or "
		    "Surrogate-Key");
		return true;
	}
	q->replica = (v = hdr(c, H_REPLICA)) != NULL && (strcmp(v, "1") == 0 ||
	    (q->late = strcmp(v, "late") == 0));
	q->forwarded = (v = hdr(c, H_FORWARD)) != NULL && strcmp(v, "1") == 0;
	if (q->replica) {
		struct entry e;

		v = hdr(c, H_VERSION);
		q->version = v != NULL ? strtoull(v, NULL, 10) : 0;
		if (q->version == 0) {
			*ret = admin_send_error(c, 400, "a replica write needs " H_VERSION);
			return true;
		}
		if (cat_get(p, q->key, q->keylen, &e) == CDN_OK && e.found && (e.ver > q->version ||
		    (e.ver == q->version && !e.deleted && memcmp(e.sha, q->want, DIGEST_LEN) == 0))) {
			/* Already this or newer: take the body and drop it. */
			discard(q, 200, "held: this version or a newer one");
			return false;
		}
	} else if (!q->forwarded) {
		n = replicas_of(p, q->hash, true, idx);
		if (n > 0 && idx[0] != p->self) {
			/* Not the leader: spool, check, forward at the end. */
			snprintf(q->spool, sizeof q->spool, "%s/push-spool/in.XXXXXX", p->cfg->cache_dir);
			q->spool_fd = mkstemp(q->spool);
			if (q->spool_fd < 0) {
				*ret = admin_send_error(c, 507, "cannot spool the body (disk full?)");
				return true;
			}
			digest_init(&q->dg);
			q->dg_live = true;
			q->mode = PM_SPOOL;
			return false;
		}
	}
	rc = disk_write_start(p->disk, q->key, q->keylen, q->declared, &q->w);
	if (rc == CDN_TOOBIG) {
		atomic_fetch_add(&p->disk_full, 1);
		*ret = admin_send_error(c, 507, "no room for the object in the disk tier (--disk-size is "
		    "taken by pinned objects)");
		return true;
	}
	if (rc != CDN_OK) {
		*ret = admin_send_error(c, 500, "cannot store the object (see the node's log)");
		return true;
	}
	q->mode = PM_STORE;
	return false;
}

static void
put_body(struct push *p, struct preq *q, const char *data, size_t n)
{
	int rc;

	if (q->mode == PM_DISCARD)
		return;
	q->got += n;
	if (q->got > p->cfg->push_max_size) {
		atomic_fetch_add(&p->too_big, 1);
		char why[160];

		snprintf(why, sizeof why, "body over the limit of %llu bytes (push.max_size)",
		    (unsigned long long)p->cfg->push_max_size);
		discard(q, 413, why);
		return;
	}
	if (q->mode == PM_SPOOL) {
		digest_update(&q->dg, data, n);
		while (n > 0) {
			ssize_t w = write(q->spool_fd, data, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				discard(q, 507, "cannot spool the body (disk full?)");
				return;
			}
			data += w;
			n -= (size_t)w;
		}
		return;
	}
	rc = disk_write_append(q->w, data, n);
	if (rc == CDN_TOOBIG) {
		atomic_fetch_add(&p->disk_full, 1);
		discard(q, 507, "no room for the object in the disk tier");
	} else if (rc != CDN_OK) {
		discard(q, 500, "cannot store the object (see the node's log)");
	}
}

static json_t *
mismatch_json(const uint8_t want[DIGEST_LEN], const uint8_t got[DIGEST_LEN])
{
	char e[DIGEST_FIELD_LEN], g[DIGEST_FIELD_LEN];

	digest_field(want, e);
	digest_field(got, g);
	return json_pack("{s:s,s:s,s:s}", "error", "the body does not match its Content-Digest; "
	    "nothing was stored", "expected", e, "computed", g);
}

/* The leader's (or a replica's) end of a PUT whose body is in q->w. */
static enum MHD_Result
put_commit(struct push *p, struct MHD_Connection *c, struct preq *q)
{
	uint8_t got[DIGEST_LEN];
	struct entry e;
	uint64_t ver;
	unsigned acks, wanted;
	char field[DIGEST_FIELD_LEN];
	json_t *reps, *ans;
	int rc;

	PTOK(pthread_mutex_lock(key_lock(p, q->hash)));
	if (cat_get(p, q->key, q->keylen, &e) != CDN_OK) {
		PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
		return admin_send_error(c, 500, "push catalog unreadable (see the node's log)");
	}
	if (q->replica) {
		ver = q->version;
		if (e.found && e.ver >= ver) {
			PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
			disk_write_abort(&q->w);
			return admin_send_json(c, 200, json_pack("{s:s,s:b}", "key", q->key, "held", 1));
		}
	} else {
		ver = now_us();
		if (e.found && ver <= e.ver)
			ver = e.ver + 1;
	}
	rc = commit_object(p, &q->w, q->key, q->keylen, &q->m, q->want, q->got, ver, got);
	PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
	if (rc == CDN_INVAL) {
		atomic_fetch_add(&p->mismatches, 1);
		log_msg(LVL_WARN, "push of %s refused: body does not match its Content-Digest", q->key);
		return admin_send_json(c, 400, mismatch_json(q->want, got));
	}
	if (rc == CDN_TOOBIG) {
		atomic_fetch_add(&p->disk_full, 1);
		return admin_send_error(c, 507, "no room for the object in the disk tier");
	}
	if (rc != CDN_OK)
		return admin_send_error(c, 500, "cannot store the object (see the node's log)");
	digest_field(q->want, field);
	if (q->replica) {
		atomic_fetch_add(&p->replica_puts, 1);
		/* A late copy (this node missed the write) may follow an answer
		 * this node gave without it: the tiers below must drop that. */
		if (q->late)
			announce(p, q->key, q->keylen);
		else
			cache_purge_url(p->cache, q->key, q->keylen);
		return admin_send_json(c, 201, json_pack("{s:s,s:I,s:s}", "key", q->key, "size",
		    (json_int_t)q->got, "digest", field));
	}
	atomic_fetch_add(&p->puts, 1);
	announce(p, q->key, q->keylen);
	reps = json_array();
	acks = replicate(p, q->key, q->keylen, reps);
	wanted = p->w;
	ans = json_pack("{s:s,s:I,s:s,s:I,s:s,s:o,s:i,s:i}", "key", q->key, "size", (json_int_t)q->got,
	    "digest", field, "version", (json_int_t)ver, "leader", p->self_id, "replicas", reps,
	    "acked", (int)acks, "wanted", (int)wanted);
	log_msg(LVL_INFO, "pushed %s (%llu bytes) on %u replica(s)", q->key,
	    (unsigned long long)q->got, acks);
	if (acks < wanted) {
		json_object_set_new(ans, "error", json_string("stored on fewer replicas than the write "
		    "quorum; the missing copies are retried"));
		return admin_send_json(c, 503, ans);
	}
	return admin_send_json(c, 201, ans);
}

/* A non-leader's end of a PUT: the spooled body goes to the key's leader
 * (or, when no node before this one in ring order answers, this node
 * leads). */
static enum MHD_Result
put_forward(struct push *p, struct MHD_Connection *c, struct preq *q)
{
	uint8_t got[DIGEST_LEN];
	unsigned idx[PUSH_MAX_PEERS + 1], n;
	char why[400] = "", line[1200], field[DIGEST_FIELD_LEN], path[PUSH_KEY_MAX + 16];
	char buf[65536];

	digest_final(&q->dg, got);
	q->dg_live = false;
	if (memcmp(got, q->want, DIGEST_LEN) != 0) {
		atomic_fetch_add(&p->mismatches, 1);
		return admin_send_json(c, 400, mismatch_json(q->want, got));
	}
	n = replicas_of(p, q->hash, true, idx);
	for (unsigned i = 0; i < n; i++) {
		struct curl_slist *h = NULL;
		char *answer = NULL;
		long code;
		enum MHD_Result ret;

		if (lseek(q->spool_fd, 0, SEEK_SET) != 0)
			break;
		if (idx[i] == p->self) {
			/* Everything before us is unreachable: lead it here. */
			ssize_t r;
			int rc = disk_write_start(p->disk, q->key, q->keylen, q->got, &q->w);

			while (rc == CDN_OK && (r = read(q->spool_fd, buf, sizeof buf)) > 0)
				rc = disk_write_append(q->w, buf, (size_t)r);
			if (rc != CDN_OK) {
				disk_write_abort(&q->w);
				return admin_send_error(c, rc == CDN_TOOBIG ? 507 : 500,
				    "cannot store the object here");
			}
			return put_commit(p, c, q);
		}
		digest_field(q->want, field);
		snprintf(line, sizeof line, "Content-Digest: %s", field);
		h = curl_slist_append(h, line);
		h = curl_slist_append(h, H_FORWARD ": 1");
		if (q->m.ctype[0] != '\0') {
			snprintf(line, sizeof line, "Content-Type: %s", q->m.ctype);
			h = curl_slist_append(h, line);
		}
		if (q->m.cc[0] != '\0') {
			snprintf(line, sizeof line, "Cache-Control: %s", q->m.cc);
			h = curl_slist_append(h, line);
		}
		if (q->m.skey[0] != '\0') {
			snprintf(line, sizeof line, "Surrogate-Key: %s", q->m.skey);
			h = curl_slist_append(h, line);
		}
		snprintf(path, sizeof path, "/push%s", q->key);
		code = peer_call(p, &p->peers[idx[i]], "PUT", path, h, q->spool_fd, NULL, q->got,
		    &answer, why, sizeof why);
		if (code < 0) {
			free(answer);
			continue; /* unreachable: the next live replica leads */
		}
		atomic_fetch_add(&p->forwarded, 1);
		ret = relay(c, code, answer);
		free(answer);
		return ret;
	}
	return admin_send_json(c, 503, json_pack("{s:s,s:s}", "error", "no replica of this key could "
	    "be reached", "last", why));
}

/* ---------------------------------------------------------------- reads and deletes */

static ssize_t
no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

/* HEAD or GET of a pushed object held here. Returns false when this node
 * does not hold a good copy. */
static bool
read_local(struct push *p, struct MHD_Connection *c, struct preq *q, bool head,
    enum MHD_Result *ret)
{
	struct entry e;
	struct disk_hit hit;
	struct MHD_Response *r;
	char field[DIGEST_FIELD_LEN], ver[24];
	const char *v;

	if (cat_get(p, q->key, q->keylen, &e) != CDN_OK || !e.found || e.deleted)
		return false;
	memset(&hit, 0, sizeof hit);
	if (disk_lookup(p->disk, q->key, q->keylen, &hit) != CDN_OK ||
	    (!head && disk_hit_verify(p->disk, &hit) != CDN_OK)) {
		disk_hit_fini(&hit);
		return false;
	}
	if (head)
		r = MHD_create_response_from_callback(hit.size, 4096, no_body, NULL, NULL);
	else
		r = MHD_create_response_from_fd64(hit.size, disk_hit_take_fd(&hit));
	digest_field(hit.sha, field);
	MHD_add_response_header(r, "Repr-Digest", field);
	snprintf(ver, sizeof ver, "%llu", (unsigned long long)e.ver);
	MHD_add_response_header(r, H_VERSION, ver);
	for (unsigned i = 0; i < 3; i++) {
		static const char *const names[] = { "Content-Type", "Cache-Control", "Surrogate-Key" };

		if ((v = hdrs_get(&hit.head.hdrs, names[i])) != NULL)
			MHD_add_response_header(r, names[i], v);
	}
	disk_hit_fini(&hit);
	*ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return true;
}

static enum MHD_Result relay_read(struct push *p, struct MHD_Connection *c, struct preq *q,
    bool head);

/* Is this node one of key's N replicas (ignoring health)? */
static bool
is_replica(struct push *p, uint64_t hash)
{
	unsigned idx[PUSH_MAX_PEERS + 1], n = replicas_of(p, hash, false, idx);

	for (unsigned i = 0; i < n; i++)
		if (idx[i] == p->self)
			return true;
	return false;
}

static enum MHD_Result
do_read(struct push *p, struct MHD_Connection *c, struct preq *q, bool head)
{
	const char *v = hdr(c, H_LOCAL);
	bool local = v != NULL && strcmp(v, "1") == 0;
	enum MHD_Result ret;

	if (read_local(p, c, q, head, &ret))
		return ret;
	if (local)
		return admin_send_error(c, 404, "not held here");
	/* Not a replica of the key (N smaller than the tier): the replicas
	 * answer, and no extra copy is made here. */
	if (!is_replica(p, q->hash))
		return relay_read(p, c, q, head);
	/* A replica that lacks it (missed the write, or a damaged copy):
	 * bring it from another replica, then answer. */
	if (push_repair(p, q->key, q->keylen) == CDN_OK && read_local(p, c, q, head, &ret))
		return ret;
	return admin_send_error(c, 404, "no such pushed object");
}

static enum MHD_Result
do_delete(struct push *p, struct MHD_Connection *c, struct preq *q)
{
	const char *v;
	struct entry e;
	unsigned idx[PUSH_MAX_PEERS + 1], n;
	uint64_t ver;
	json_t *reps;
	unsigned acks;
	char why[400] = "";

	q->replica = (v = hdr(c, H_REPLICA)) != NULL && (strcmp(v, "1") == 0 ||
	    (q->late = strcmp(v, "late") == 0));
	q->forwarded = (v = hdr(c, H_FORWARD)) != NULL && strcmp(v, "1") == 0;
	if (!q->replica && !q->forwarded) {
		n = replicas_of(p, q->hash, true, idx);
		for (unsigned i = 0; i < n && idx[i] != p->self; i++) {
			struct curl_slist *h = curl_slist_append(NULL, H_FORWARD ": 1");
			char path[PUSH_KEY_MAX + 16], *answer = NULL;
			long code;
			enum MHD_Result ret;

			snprintf(path, sizeof path, "/push%s", q->key);
			code = peer_call(p, &p->peers[idx[i]], "DELETE", path, h, -1, NULL, 0, &answer,
			    why, sizeof why);
			if (code < 0) {
				free(answer);
				continue;
			}
			ret = relay(c, code, answer);
			free(answer);
			return ret;
		}
	}
	PTOK(pthread_mutex_lock(key_lock(p, q->hash)));
	if (cat_get(p, q->key, q->keylen, &e) != CDN_OK) {
		PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
		return admin_send_error(c, 500, "push catalog unreadable (see the node's log)");
	}
	if (q->replica) {
		v = hdr(c, H_VERSION);
		ver = v != NULL ? strtoull(v, NULL, 10) : 0;
		if (ver == 0 || (e.found && e.ver >= ver)) {
			PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
			return admin_send_json(c, 200, json_pack("{s:s,s:b}", "key", q->key, "held", 1));
		}
	} else {
		if (!e.found || e.deleted) {
			PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
			return admin_send_error(c, 404, "no such pushed object");
		}
		ver = now_us();
		if (ver <= e.ver)
			ver = e.ver + 1;
	}
	if (cat_put(p, q->key, q->keylen, ver, NULL, 0, true) != CDN_OK) {
		PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
		return admin_send_error(c, 500, "cannot record the delete (see the node's log)");
	}
	disk_remove(p->disk, q->key, q->keylen);
	PTOK(pthread_mutex_unlock(key_lock(p, q->hash)));
	atomic_fetch_add(&p->deletes, 1);
	if (q->replica) {
		if (q->late)
			announce(p, q->key, q->keylen);
		else
			cache_purge_url(p->cache, q->key, q->keylen);
		return admin_send_json(c, 200, json_pack("{s:s,s:b}", "key", q->key, "deleted", 1));
	}
	announce(p, q->key, q->keylen);
	reps = json_array();
	acks = replicate(p, q->key, q->keylen, reps);
	return admin_send_json(c, acks >= p->w ? 200 : 503, json_pack("{s:s,s:b,s:I,s:o,s:i,s:i}",
	    "key", q->key, "deleted", 1, "version", (json_int_t)ver, "replicas", reps,
	    "acked", (int)acks, "wanted", (int)p->w));
}

/* ---------------------------------------------------------------- repair */

struct pull {
	struct push *p;
	const char *key;
	size_t keylen;
	long status;
	uint64_t len, ver;
	bool have_digest;
	uint8_t want[DIGEST_LEN];
	struct meta m;
	struct disk_writer *w;
	int err;
};

static size_t
pull_header(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct pull *pl = arg;
	size_t n = size * nitems, nl;
	char line[1200], *colon, *v, *end;

	if (n >= sizeof line)
		return n;
	memcpy(line, ptr, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		pl->status = strtol(strchr(line, ' ') != NULL ? strchr(line, ' ') + 1 : "0", NULL, 10);
		pl->have_digest = false;
		return n;
	}
	colon = strchr(line, ':');
	if (colon == NULL)
		return n;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	nl = strlen(v);
	while (nl > 0 && (v[nl - 1] == ' ' || v[nl - 1] == '\t'))
		v[--nl] = '\0';
	if (strcasecmp(line, "Repr-Digest") == 0)
		pl->have_digest = digest_field_parse(v, pl->want) == CDN_OK;
	else if (strcasecmp(line, H_VERSION) == 0)
		pl->ver = strtoull(v, &end, 10);
	else if (strcasecmp(line, "Content-Length") == 0)
		pl->len = strtoull(v, &end, 10);
	else if (strcasecmp(line, "Content-Type") == 0)
		snprintf(pl->m.ctype, sizeof pl->m.ctype, "%s", v);
	else if (strcasecmp(line, "Cache-Control") == 0)
		snprintf(pl->m.cc, sizeof pl->m.cc, "%s", v);
	else if (strcasecmp(line, "Surrogate-Key") == 0)
		snprintf(pl->m.skey, sizeof pl->m.skey, "%s", v);
	return n;
}

static size_t
pull_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct pull *pl = arg;
	size_t n = size * nmemb;

	if (pl->status != 200 || !pl->have_digest)
		return 0;
	if (pl->w == NULL) {
		pl->err = disk_write_start(pl->p->disk, pl->key, pl->keylen, pl->len, &pl->w);
		if (pl->err != CDN_OK)
			return 0;
	}
	pl->err = disk_write_append(pl->w, ptr, n);
	return pl->err == CDN_OK ? n : 0;
}

/* Copy key from one peer (its verified copy) onto this node's disk, under
 * the key's lock. Returns 0 or an error. */
static int
pull_from(struct push *p, struct peer *pe, const char *key, size_t keylen, uint64_t have_ver)
{
	struct pull pl;
	struct curl_slist *h = NULL;
	char base[300], url[2048];
	uint8_t got[DIGEST_LEN];
	CURL *e;
	CURLcode rc;
	int r;

	if (!peer_admin(p, pe, base, sizeof base, NULL))
		return CDN_ERR;
	memset(&pl, 0, sizeof pl);
	pl.p = p;
	pl.key = key;
	pl.keylen = keylen;
	snprintf(url, sizeof url, "%s/push%.*s", base, (int)keylen, key);
	h = curl_slist_append(h, H_LOCAL ": 1");
	e = peer_easy(p, url, &h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, pull_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &pl);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, pull_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &pl);
	rc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (rc != CURLE_OK || pl.status != 200 || !pl.have_digest || pl.ver < have_ver) {
		disk_write_abort(&pl.w);
		if (rc == CURLE_COULDNT_CONNECT)
			peer_failed(p, pe, "connection refused");
		return CDN_NOTFOUND;
	}
	if (pl.w == NULL && (r = disk_write_start(p->disk, key, keylen, 0, &pl.w)) != CDN_OK)
		return r; /* an empty object */
	r = commit_object(p, &pl.w, key, keylen, &pl.m, pl.want, pl.len, pl.ver > 0 ? pl.ver : 1,
	    got);
	if (r == CDN_OK)
		log_msg(LVL_INFO, "push: %.*s repaired from %s", (int)keylen, key, pe->id);
	return r;
}

/* HEAD or GET at a node that is not one of key's replicas: a HEAD is
 * answered with what the first live replica holding it says (digest, size,
 * version, type); a GET is redirected there. */
static enum MHD_Result
relay_read(struct push *p, struct MHD_Connection *c, struct preq *q, bool head)
{
	unsigned idx[PUSH_MAX_PEERS + 1], n = replicas_of(p, q->hash, true, idx);

	for (unsigned i = 0; i < n; i++) {
		struct peer *pe;
		struct curl_slist *h = NULL;
		struct MHD_Response *r;
		struct pull pl;
		char base[300], url[2048], field[DIGEST_FIELD_LEN], ver[24];
		enum MHD_Result ret;
		CURL *e;
		CURLcode rc;

		if (idx[i] == p->self)
			continue;
		pe = &p->peers[idx[i]];
		if (!peer_admin(p, pe, base, sizeof base, NULL))
			continue;
		snprintf(url, sizeof url, "%s/push%s", base, q->key);
		memset(&pl, 0, sizeof pl);
		h = curl_slist_append(h, H_LOCAL ": 1");
		e = peer_easy(p, url, &h);
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, pull_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, &pl);
		rc = curl_easy_perform(e);
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		if (rc != CURLE_OK || pl.status != 200 || !pl.have_digest)
			continue;
		if (!head) {
			r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
			MHD_add_response_header(r, "Location", url);
			ret = MHD_queue_response(c, 307, r);
			MHD_destroy_response(r);
			return ret;
		}
		r = MHD_create_response_from_callback(pl.len, 4096, no_body, NULL, NULL);
		digest_field(pl.want, field);
		MHD_add_response_header(r, "Repr-Digest", field);
		snprintf(ver, sizeof ver, "%llu", (unsigned long long)pl.ver);
		MHD_add_response_header(r, H_VERSION, ver);
		if (pl.m.ctype[0] != '\0')
			MHD_add_response_header(r, "Content-Type", pl.m.ctype);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	return admin_send_error(c, 404, "no such pushed object");
}

bool
push_maybe(void *arg, const char *key, size_t keylen)
{
	struct push *p = arg;
	bool m;

	if (!atomic_load(&p->started))
		return false;
	/* Until the first sync round this node may lack writes made while it
	 * was down, and knows nothing of its peers' keys: ask them. */
	if (p->npeers > 0 && atomic_load(&p->sync_rounds) == 0)
		return true;
	PTOK(pthread_rwlock_rdlock(&p->local_lk));
	m = bloom_maybe(p->local, key, keylen);
	PTOK(pthread_rwlock_unlock(&p->local_lk));
	for (unsigned i = 0; !m && i < p->npeers; i++) {
		PTOK(pthread_mutex_lock(&p->peers[i].mtx));
		m = xb_maybe(&p->peers[i].keys, key, keylen);
		PTOK(pthread_mutex_unlock(&p->peers[i].mtx));
	}
	return m;
}

int
push_repair(void *arg, const char *key, size_t keylen)
{
	struct push *p = arg;
	unsigned idx[PUSH_MAX_PEERS + 1], n, tried = 0;
	uint64_t hash = key_hash(key, keylen);
	struct entry e;
	char why[200];
	int rc = CDN_NOTFOUND;

	if (!atomic_load(&p->started) || !push_key_ok(key, keylen, why, sizeof why))
		return CDN_NOTFOUND;
	PTOK(pthread_mutex_lock(key_lock(p, hash)));
	if (cat_get(p, key, keylen, &e) != CDN_OK || (e.found && e.deleted)) {
		PTOK(pthread_mutex_unlock(key_lock(p, hash)));
		return CDN_NOTFOUND;
	}
	if (e.found && on_disk(p, key, keylen)) {
		/* Another request repaired it while this one waited. */
		PTOK(pthread_mutex_unlock(key_lock(p, hash)));
		return CDN_OK;
	}
	/* Its replicas first, then any other live peer. */
	n = replicas_of(p, hash, false, idx);
	for (unsigned i = 0; rc != CDN_OK && i < n + p->npeers; i++) {
		unsigned k = i < n ? idx[i] : i - n;
		bool dup = false;

		if (k == p->self || !node_up(p, k))
			continue;
		for (unsigned j = 0; i >= n && j < n; j++)
			dup = dup || idx[j] == k;
		if (dup)
			continue;
		if (!e.found && atomic_load(&p->sync_rounds) > 0) {
			/* A key this node never held: only peers that say they
			 * may have it are asked. */
			bool maybe;

			PTOK(pthread_mutex_lock(&p->peers[k].mtx));
			maybe = xb_maybe(&p->peers[k].keys, key, keylen);
			PTOK(pthread_mutex_unlock(&p->peers[k].mtx));
			if (!maybe)
				continue;
		}
		tried++;
		rc = pull_from(p, &p->peers[k], key, keylen, e.found ? e.ver : 0);
	}
	PTOK(pthread_mutex_unlock(key_lock(p, hash)));
	if (rc == CDN_OK)
		atomic_fetch_add(&p->repairs, 1);
	else if (e.found && tried > 0)
		atomic_fetch_add(&p->repair_failures, 1);
	return rc == CDN_OK ? CDN_OK : CDN_NOTFOUND;
}

/* ---------------------------------------------------------------- anti-entropy */

struct scan_row {
	char *key;
	size_t keylen;
};

/* Walk the catalog: fn(key, sha, deleted) for each entry. */
static void
cat_walk(struct push *p, void (*fn)(void *arg, const char *key, size_t keylen,
    const uint8_t *sha, bool deleted), void *arg)
{
	sqlite3_stmt *s = NULL;

	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "SELECT key, sha, deleted FROM pushed", -1, &s, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			const uint8_t *sha = sqlite3_column_bytes(s, 1) == DIGEST_LEN ?
			    sqlite3_column_blob(s, 1) : NULL;
			bool del = sqlite3_column_int64(s, 2) != 0;

			if (sha == NULL && !del)
				continue;
			fn(arg, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), sha, del);
		}
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
}

static void
count_row(void *arg, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	(void)key;
	(void)keylen;
	(void)sha;
	(void)deleted;
	(*(uint64_t *)arg)++;
}

static void
add_entry(void *arg, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	char id[PUSH_KEY_MAX + 80];

	xb_add(arg, id, entry_id(id, sizeof id, key, keylen, sha, deleted));
}

static void
add_key(void *arg, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	(void)sha;
	if (!deleted)
		xb_add(arg, key, keylen);
}

static uint64_t
random_seed(void)
{
	return now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&random_seed;
}

static void
build_filter(struct push *p, struct xbloom *f, bool entries)
{
	uint64_t n = 0;

	cat_walk(p, count_row, &n);
	xb_init(f, n, random_seed());
	cat_walk(p, entries ? add_entry : add_key, f);
}

struct lacks {
	struct push *p;
	unsigned peer;
	const struct xbloom *f;
	struct scan_row *rows;
	size_t n, cap;
	uint64_t checked;
};

static void
find_lacking(void *arg, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	struct lacks *l = arg;
	unsigned idx[PUSH_MAX_PEERS + 1], n;
	char id[PUSH_KEY_MAX + 80];
	bool theirs = false;

	n = replicas_of(l->p, key_hash(key, keylen), false, idx);
	for (unsigned i = 0; i < n; i++)
		theirs = theirs || idx[i] == l->peer;
	if (!theirs)
		return;
	l->checked++;
	if (xb_maybe(l->f, id, entry_id(id, sizeof id, key, keylen, sha, deleted)))
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->rows = xrealloc(l->rows, l->cap * sizeof *l->rows);
	}
	l->rows[l->n].key = xstrndup(key, keylen);
	l->rows[l->n].keylen = keylen;
	l->n++;
}

/* POST /push-sync from a peer: send it what it should hold and lacks. */
static enum MHD_Result
do_sync(struct push *p, struct MHD_Connection *c, struct preq *q)
{
	json_t *j = json_loadb(q->body != NULL ? q->body : "", q->len, 0, NULL), *ans;
	const char *node = json_string_value(json_object_get(j, "node"));
	struct peer *pe = node != NULL ? peer_by_id(p, node) : NULL;
	struct xbloom theirs, mine;
	struct lacks l;
	uint64_t sent = 0, failed = 0, t0 = now_us();
	size_t i;
	char why[300];

	if (pe == NULL || xb_from_json(&theirs, json_object_get(j, "filter")) != CDN_OK) {
		json_decref(j);
		return admin_send_error(c, 400, "%s", pe == NULL && node != NULL ? "that node is not a peer of "
		    "this tier (check --peer)" : "expected {\"node\":ID,\"filter\":{...}}");
	}
	json_decref(j);
	memset(&l, 0, sizeof l);
	l.p = p;
	l.peer = (unsigned)(pe - p->peers);
	l.f = &theirs;
	cat_walk(p, find_lacking, &l);
	xb_fini(&theirs);
	for (i = 0; i < l.n; i++) {
		if (now_us() - t0 > 50u * 1000000u || stopping(p))
			break; /* the rest at the next round */
		if (send_entry(p, pe, l.rows[i].key, l.rows[i].keylen, true, why, sizeof why))
			sent++;
		else
			failed++;
	}
	atomic_fetch_add(&p->sync_sent, sent);
	if (sent > 0 || failed > 0)
		log_msg(LVL_INFO, "push sync: sent %s %llu object(s) it lacked (%llu failed)", pe->id,
		    (unsigned long long)sent, (unsigned long long)failed);
	build_filter(p, &mine, false);
	ans = json_pack("{s:I,s:I,s:I,s:I,s:o}", "checked", (json_int_t)l.checked,
	    "sent", (json_int_t)sent, "failed", (json_int_t)failed,
	    "pending", (json_int_t)(l.n - i - 0), "keys", xb_json(&mine));
	xb_fini(&mine);
	for (size_t k = 0; k < l.n; k++)
		free(l.rows[k].key);
	free(l.rows);
	return admin_send_json(c, 200, ans);
}

/* One round: every live peer is sent our filter and sends back what we
 * lack; its answer carries its own key filter for push_maybe. */
static void
sync_round(struct push *p)
{
	struct xbloom f;
	json_t *body;
	char *s, why[300];

	build_filter(p, &f, true);
	body = json_pack("{s:s,s:o}", "node", p->self_id, "filter", xb_json(&f));
	xb_fini(&f);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	for (unsigned i = 0; i < p->npeers && !stopping(p); i++) {
		struct peer *pe = &p->peers[i];
		char *answer = NULL;
		long code;
		json_t *a;
		struct xbloom keys;

		if (!health_is_up(p->health, i))
			continue;
		code = peer_call(p, pe, "POST", "/push-sync",
		    curl_slist_append(NULL, "Content-Type: application/json"), -1, s, strlen(s),
		    &answer, why, sizeof why);
		a = code == 200 && answer != NULL ? json_loads(answer, 0, NULL) : NULL;
		if (a != NULL && xb_from_json(&keys, json_object_get(a, "keys")) == CDN_OK) {
			PTOK(pthread_mutex_lock(&pe->mtx));
			xb_fini(&pe->keys);
			pe->keys = keys;
			pe->last_sync = (uint64_t)time(NULL);
			pe->last_error[0] = '\0';
			PTOK(pthread_mutex_unlock(&pe->mtx));
		} else {
			atomic_fetch_add(&p->sync_errors, 1);
			PTOK(pthread_mutex_lock(&pe->mtx));
			snprintf(pe->last_error, sizeof pe->last_error, "sync: %.150s", why);
			PTOK(pthread_mutex_unlock(&pe->mtx));
		}
		json_decref(a);
		free(answer);
	}
	free(s);
	atomic_fetch_add(&p->sync_rounds, 1);
}

/* ---------------------------------------------------------------- retry queue */

static void
run_queue(struct push *p)
{
	struct qrow { int64_t id; char *key; size_t keylen; char node[RING_ID_MAX]; int64_t attempts; }
	    rows[32];
	sqlite3_stmt *s = NULL;
	unsigned n = 0;
	time_t now = time(NULL);

	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "SELECT id, key, node, attempts FROM queue "
	    "WHERE parked = 0 AND next_at <= ?1 ORDER BY next_at LIMIT 32", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		while (n < 32 && sqlite3_step(s) == SQLITE_ROW) {
			rows[n].id = sqlite3_column_int64(s, 0);
			rows[n].keylen = (size_t)sqlite3_column_bytes(s, 1);
			rows[n].key = xstrndup(sqlite3_column_blob(s, 1), rows[n].keylen);
			snprintf(rows[n].node, sizeof rows[n].node, "%s", sqlite3_column_text(s, 2));
			rows[n].attempts = sqlite3_column_int64(s, 3);
			n++;
		}
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	for (unsigned i = 0; i < n; i++) {
		struct peer *pe = peer_by_id(p, rows[i].node);
		char why[300] = "";
		const char *sql;
		int64_t next = 0, att = rows[i].attempts;
		bool done;

		if (pe != NULL && !health_is_up(p->health, (unsigned)(pe - p->peers))) {
			done = false;
			snprintf(why, sizeof why, "%s is down", pe->id);
		} else {
			done = pe == NULL || send_entry(p, pe, rows[i].key, rows[i].keylen, true, why,
			    sizeof why);
			att++;
		}
		if (done) {
			atomic_fetch_add(&p->retried, 1);
			sql = "DELETE FROM queue WHERE id = ?1";
		} else if (att >= (int64_t)p->cfg->push_retry_max) {
			sql = "UPDATE queue SET attempts = ?2, parked = 1, error = ?4 WHERE id = ?1";
			log_msg(LVL_WARN, "push: replication of %s to %s parked after %lld attempts: %s",
			    rows[i].key, rows[i].node, (long long)att, why);
		} else {
			next = (int64_t)now + (att < 6 ? (int64_t)1 << att : 60);
			sql = "UPDATE queue SET attempts = ?2, next_at = ?3, error = ?4 WHERE id = ?1";
		}
		PTOK(pthread_mutex_lock(&p->db_mtx));
		if (sqlite3_prepare_v2(p->db, sql, -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, rows[i].id);
			if (sqlite3_bind_parameter_count(s) > 1) {
				sqlite3_bind_int64(s, 2, att);
				sqlite3_bind_int64(s, 3, next);
				sqlite3_bind_text(s, 4, why, -1, SQLITE_TRANSIENT);
			}
			sqlite3_step(s);
		}
		sqlite3_finalize(s);
		PTOK(pthread_mutex_unlock(&p->db_mtx));
		free(rows[i].key);
	}
}

/* ---------------------------------------------------------------- dispatch */

static int
push_handle(void *arg, struct MHD_Connection *c, const char *raw, const char *method,
    const char *up, size_t *upsz, void **state)
{
	struct push *p = arg;
	struct preq *q = *state;
	enum MHD_Result ret = MHD_NO;
	char why[200];

	CHECK_OBJ_NOTNULL(p, PUSH_MAGIC);
	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		q->magic = PREQ_MAGIC;
		q->spool_fd = -1;
		*state = q;
		if (!atomic_load(&p->started)) {
			q->mode = PM_DISCARD;
			return admin_send_error(c, 503, "this shield is starting");
		}
		if (strcmp(raw, "/push-sync") == 0) {
			if (strcmp(method, "POST") != 0) {
				q->mode = PM_DISCARD;
				return admin_send_error(c, 405, "use POST for /push-sync");
			}
			q->mode = PM_BODY;
			return MHD_YES;
		}
		if (strncmp(raw, "/push/", 6) != 0) {
			q->mode = PM_DISCARD;
			return admin_send_error(c, 404, "use /push/KEY (KEY: the path edges serve, e.g. "
			    "/push/img/logo.png)");
		}
		if (!push_key_ok(raw + 5, strlen(raw + 5), why, sizeof why)) {
			atomic_fetch_add(&p->rejected, 1);
			q->mode = PM_DISCARD;
			return admin_send_error(c, 400, "%s", why);
		}
		q->key = xstrdup(raw + 5);
		q->keylen = strlen(q->key);
		q->hash = key_hash(q->key, q->keylen);
		if (strcmp(method, "PUT") == 0) {
			if (put_begin(p, c, q, &ret)) {
				q->mode = PM_DISCARD;
				q->err_status = 1; /* answered */
				return ret;
			}
			return MHD_YES;
		}
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
		    strcmp(method, "DELETE") != 0) {
			q->mode = PM_DISCARD;
			return admin_send_error(c, 405, "use PUT, GET, HEAD or DELETE on /push/KEY");
		}
		/* Answered on the next call: an answer on the first call would
		 * close the connection, and uploads reuse theirs. */
		return MHD_YES;
	}
	CHECK_OBJ_NOTNULL(q, PREQ_MAGIC);
	if (*upsz != 0) {
		if (q->mode == PM_BODY) {
			if (q->len + *upsz > PUSH_SYNC_MAX) {
				q->mode = PM_DISCARD;
				q->err_status = 413;
				snprintf(q->err, sizeof q->err, "sync request over %u bytes", PUSH_SYNC_MAX);
			} else {
				q->body = xrealloc(q->body, q->len + *upsz + 1);
				memcpy(q->body + q->len, up, *upsz);
				q->len += *upsz;
				q->body[q->len] = '\0';
			}
		} else if (q->mode == PM_STORE || q->mode == PM_SPOOL) {
			put_body(p, q, up, *upsz);
		}
		*upsz = 0;
		return MHD_YES;
	}
	switch (q->mode) {
	case PM_DISCARD:
		if (q->err_status == 1)
			return MHD_YES; /* answered on the first call */
		if (q->err_status == 200)
			return admin_send_json(c, 200, json_pack("{s:s,s:b}", "key", q->key, "held", 1));
		if (q->err_status == 0)
			return MHD_YES;
		return admin_send_error(c, q->err_status, "%s", q->err);
	case PM_BODY:
		return do_sync(p, c, q);
	case PM_STORE:
		return put_commit(p, c, q);
	case PM_SPOOL:
		return put_forward(p, c, q);
	case PM_NONE:
		break;
	}
	if (strcmp(method, "DELETE") == 0)
		return do_delete(p, c, q);
	return do_read(p, c, q, strcmp(method, "HEAD") == 0);
}

static void
push_completed(void *arg, void *state, bool ok)
{
	(void)arg;
	(void)ok;
	preq_free(state);
}

/* ---------------------------------------------------------------- stats */

static json_int_t
ld(atomic_uint_fast64_t *a)
{
	return (json_int_t)atomic_load_explicit(a, memory_order_relaxed);
}

static void
push_stats(void *arg, void *jv)
{
	struct push *p = arg;
	json_t *o = json_object(), *peers = json_array(), *parked = json_array();
	sqlite3_stmt *s = NULL;
	json_int_t objects = 0, tombstones = 0, queued = 0, nparked = 0;

	PTOK(pthread_mutex_lock(&p->db_mtx));
	if (sqlite3_prepare_v2(p->db, "SELECT count(*) - total(deleted), total(deleted) FROM pushed",
	    -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		objects = sqlite3_column_int64(s, 0);
		tombstones = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(p->db, "SELECT count(*) - total(parked), total(parked) FROM queue",
	    -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		queued = sqlite3_column_int64(s, 0);
		nparked = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(p->db, "SELECT key, node, attempts, error FROM queue WHERE parked != 0 "
	    "LIMIT ?1", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int(s, 1, PUSH_PARKED_SHOWN);
		while (sqlite3_step(s) == SQLITE_ROW) {
			char *k = xstrndup(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));

			json_array_append_new(parked, json_pack("{s:s,s:s,s:I,s:s}", "key", k, "node",
			    (const char *)sqlite3_column_text(s, 1), "attempts",
			    (json_int_t)sqlite3_column_int64(s, 2), "error",
			    sqlite3_column_text(s, 3) != NULL ? (const char *)sqlite3_column_text(s, 3) : ""));
			free(k);
		}
	}
	sqlite3_finalize(s);
	PTOK(pthread_mutex_unlock(&p->db_mtx));
	for (unsigned i = 0; i < p->npeers; i++) {
		struct peer *pe = &p->peers[i];

		PTOK(pthread_mutex_lock(&pe->mtx));
		json_array_append_new(peers, json_pack("{s:s,s:b,s:s,s:I,s:s}", "node", pe->id,
		    "up", p->health != NULL && health_is_up(p->health, i), "admin", pe->admin,
		    "last_sync", (json_int_t)pe->last_sync, "last_error", pe->last_error));
		PTOK(pthread_mutex_unlock(&pe->mtx));
	}
	json_object_set_new(o, "node", json_string(p->self_id));
	json_object_set_new(o, "replicas", json_integer(p->n));
	json_object_set_new(o, "write_quorum", json_integer(p->w));
	json_object_set_new(o, "objects", json_integer(objects));
	json_object_set_new(o, "tombstones", json_integer(tombstones));
	json_object_set_new(o, "puts", json_integer(ld(&p->puts)));
	json_object_set_new(o, "replica_writes", json_integer(ld(&p->replica_puts)));
	json_object_set_new(o, "forwarded", json_integer(ld(&p->forwarded)));
	json_object_set_new(o, "deletes", json_integer(ld(&p->deletes)));
	json_object_set_new(o, "digest_mismatches", json_integer(ld(&p->mismatches)));
	json_object_set_new(o, "rejected_keys", json_integer(ld(&p->rejected)));
	json_object_set_new(o, "too_big", json_integer(ld(&p->too_big)));
	json_object_set_new(o, "disk_full", json_integer(ld(&p->disk_full)));
	json_object_set_new(o, "replicated", json_integer(ld(&p->replicated)));
	json_object_set_new(o, "replication_failures", json_integer(ld(&p->replica_failures)));
	json_object_set_new(o, "repairs", json_integer(ld(&p->repairs)));
	json_object_set_new(o, "repair_failures", json_integer(ld(&p->repair_failures)));
	json_object_set_new(o, "sync_rounds", json_integer(ld(&p->sync_rounds)));
	json_object_set_new(o, "sync_sent", json_integer(ld(&p->sync_sent)));
	json_object_set_new(o, "sync_errors", json_integer(ld(&p->sync_errors)));
	json_object_set_new(o, "retried", json_integer(ld(&p->retried)));
	json_object_set_new(o, "queue", json_integer(queued));
	json_object_set_new(o, "parked_count", json_integer(nparked));
	json_object_set_new(o, "parked", parked);
	json_object_set_new(o, "peers", peers);
	json_object_set_new(jv, "push", o);
}

/* ---------------------------------------------------------------- the thread */

static void
add_local(void *arg, const char *key, size_t keylen, const uint8_t *sha, bool deleted)
{
	(void)sha;
	if (!deleted)
		bloom_add(arg, key, keylen);
}

/* The filter of the catalog's keys grows with it (a full filter would send
 * every miss to the peers). */
static void
rebuild_local(struct push *p)
{
	struct bloom *nb, *old;
	uint64_t count, cap;

	PTOK(pthread_rwlock_rdlock(&p->local_lk));
	count = bloom_count(p->local);
	cap = bloom_capacity(p->local);
	PTOK(pthread_rwlock_unlock(&p->local_lk));
	if (count <= cap)
		return;
	nb = bloom_new(count * 2, PUSH_FP);
	cat_walk(p, add_local, nb);
	PTOK(pthread_rwlock_wrlock(&p->local_lk));
	old = p->local;
	p->local = nb;
	PTOK(pthread_rwlock_unlock(&p->local_lk));
	bloom_free(&old);
	log_msg(LVL_INFO, "push: filter of pushed keys rebuilt for %llu keys",
	    (unsigned long long)count * 2);
}

static void
nap_ms(struct push *p, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	PTOK(pthread_mutex_lock(&p->mtx));
	if (!p->stop)
		(void)pthread_cond_timedwait(&p->cond, &p->mtx, &ts);
	PTOK(pthread_mutex_unlock(&p->mtx));
}

static void *
push_main(void *arg)
{
	struct push *p = arg;
	uint64_t next_sync = now_us() + 1000000u;  /* the first round soon after start */

	nap_ms(p, 500);
	for (size_t i = 0; i < p->nmissing && !stopping(p); i++) {
		if (push_repair(p, p->missing[i], strlen(p->missing[i])) != CDN_OK)
			log_msg(LVL_WARN, "push: %s is in the catalog but not on disk, and no replica "
			    "had it yet (the next sync retries)", p->missing[i]);
	}
	while (!stopping(p)) {
		rebuild_local(p);
		if (p->npeers > 0 && now_us() >= next_sync) {
			sync_round(p);
			next_sync = now_us() + p->cfg->push_sync_interval_ms * 1000u;
		}
		run_queue(p);
		nap_ms(p, 1000);
	}
	return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

struct push *
push_new(const struct cfg *cfg, struct disk *disk, struct cache *cache)
{
	struct push *p;
	uint64_t added = 0, fixed = 0;
	char path[PATH_MAX];

	if (cfg->cache_dir == NULL || disk == NULL)
		return NULL;
	p = xcalloc(1, sizeof *p);
	p->magic = PUSH_MAGIC;
	p->cfg = cfg;
	p->disk = disk;
	p->cache = cache;
	PTOK(pthread_mutex_init(&p->db_mtx, NULL));
	PTOK(pthread_mutex_init(&p->mtx, NULL));
	PTOK(pthread_cond_init(&p->cond, NULL));
	PTOK(pthread_rwlock_init(&p->local_lk, NULL));
	for (unsigned i = 0; i < PUSH_LOCKS; i++)
		PTOK(pthread_mutex_init(&p->key_mtx[i], NULL));
	p->ext.prefix = "/push";
	p->ext.scopes = ADMIN_SCOPE_PUSH;
	p->ext.arg = p;
	p->ext.handle = push_handle;
	p->ext.completed = push_completed;
	p->ext.stats = push_stats;
	p->token = cfg->push_token != NULL && cfg->push_token[0] != '\0' ? xstrdup(cfg->push_token) :
	    ctl_token_from_file(cfg->token_file, "push");
	snprintf(path, sizeof path, "%s/push-spool", cfg->cache_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_msg(LVL_ERROR, "cannot make %s: %s", path, strerror(errno));
		goto Error;
	}
	{
		/* Bodies spooled by a node that died forwarding them. */
		char cmd[PATH_MAX + 300];
		DIR *dir = opendir(path);
		struct dirent *de;

		while (dir != NULL && (de = readdir(dir)) != NULL) {
			if (strncmp(de->d_name, "in.", 3) != 0)
				continue;
			snprintf(cmd, sizeof cmd, "%s/%s", path, de->d_name);
			unlink(cmd);
		}
		if (dir != NULL)
			closedir(dir);
	}
	snprintf(path, sizeof path, "%s/push.db", cfg->cache_dir);
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_msg(LVL_ERROR, "cannot open the push catalog %s: %s", path,
		    p->db != NULL ? sqlite3_errmsg(p->db) : "out of memory");
		goto Error;
	}
	sqlite3_busy_timeout(p->db, 5000);
	if (db_exec(p, schema) != CDN_OK)
		goto Error;
	{
		uint64_t n = 0;

		cat_walk(p, count_row, &n);
		p->local = bloom_new(n * 2 > PUSH_LOCAL_MIN ? n * 2 : PUSH_LOCAL_MIN, PUSH_FP);
	}
	reconcile(p, &added, &fixed);
	if (added > 0 || fixed > 0 || p->nmissing > 0)
		log_msg(LVL_INFO, "push catalog reconciled: %llu added from disk, %llu digests fixed, "
		    "%zu to repair from replicas", (unsigned long long)added,
		    (unsigned long long)fixed, p->nmissing);
	return p;
Error:
	push_free(&p);
	return NULL;
}

int
push_start(struct push *p, const char *data_addr, const char *admin_addr)
{
	struct ring_node nodes[PUSH_MAX_PEERS + 1];
	char *urls[PUSH_MAX_PEERS];
	struct health_opts ho;
	const char *why = NULL;
	unsigned tier;

	CHECK_OBJ_NOTNULL(p, PUSH_MAGIC);
	if (ring_id_from_url(data_addr, p->self_id, sizeof p->self_id) != CDN_OK) {
		log_msg(LVL_ERROR, "push: cannot make a ring id of %s", data_addr);
		return CDN_ERR;
	}
	snprintf(p->admin_url, sizeof p->admin_url, "%s", admin_addr != NULL ? admin_addr : "");
	for (unsigned i = 0; i < p->cfg->peer.n; i++) {
		struct peer *pe;
		char id[RING_ID_MAX];

		if (ring_id_from_url(p->cfg->peer.v[i], id, sizeof id) != CDN_OK ||
		    strcmp(id, p->self_id) == 0 || peer_by_id(p, id) != NULL)
			continue; /* ourselves, listed among our peers, or twice */
		if (p->npeers == PUSH_MAX_PEERS) {
			log_msg(LVL_WARN, "push: more than %u peers; ignoring the rest", PUSH_MAX_PEERS);
			break;
		}
		pe = &p->peers[p->npeers];
		pe->url = xstrdup(p->cfg->peer.v[i]);
		snprintf(pe->id, sizeof pe->id, "%s", id);
		snprintf(pe->host, sizeof pe->host, "%s", id);
		if (strrchr(pe->host, ':') != NULL)
			*strrchr(pe->host, ':') = '\0';
		PTOK(pthread_mutex_init(&pe->mtx, NULL));
		nodes[p->npeers].id = pe->id;
		nodes[p->npeers].weight = 1;
		urls[p->npeers] = pe->url;
		p->npeers++;
	}
	p->self = p->npeers;
	nodes[p->self].id = p->self_id;
	nodes[p->self].weight = 1;
	p->ring = ring_new(nodes, p->npeers + 1, 0, &why);
	if (p->ring == NULL) {
		log_msg(LVL_ERROR, "push: cannot build the tier's ring: %s", why != NULL ? why : "?");
		return CDN_ERR;
	}
	tier = p->npeers + 1;
	p->n = (unsigned)(p->cfg->push_replicas < 1 ? 1 : p->cfg->push_replicas);
	if (p->n > tier)
		p->n = tier;
	p->w = (unsigned)(p->cfg->push_write_quorum < 1 ? 1 : p->cfg->push_write_quorum);
	if (p->w > p->n)
		p->w = p->n;
	health_opts_default(&ho);
	ho.interval_ms = p->cfg->health_interval_ms > 0 ? p->cfg->health_interval_ms : 1000;
	ho.timeout_ms = p->cfg->health_timeout_ms;
	ho.fall = (unsigned)p->cfg->health_fall;
	ho.rise = (unsigned)p->cfg->health_rise;
	ho.path = p->cfg->health_path;
	ho.strict = true;
	p->health = health_new(urls, p->npeers, &ho);
	if (p->health == NULL || health_start(p->health) != CDN_OK) {
		log_msg(LVL_ERROR, "push: cannot start heartbeats to the peers");
		return CDN_ERR;
	}
	if (p->token == NULL && p->npeers > 0)
		log_msg(LVL_WARN, "push: no token for the peers' push API (give push.token, or a token "
		    "with the push scope in the token file): replication will be refused");
	atomic_store(&p->started, true);
	if (pthread_create(&p->thr, NULL, push_main, p) != 0) {
		atomic_store(&p->started, false);
		return CDN_ERR;
	}
	log_msg(LVL_INFO, "push: tier of %u shield(s), %u replica(s) per object, write quorum %u",
	    tier, p->n, p->w);
	return CDN_OK;
}

void
push_stop(struct push *p)
{
	bool was;

	if (p == NULL)
		return;
	PTOK(pthread_mutex_lock(&p->mtx));
	was = !p->stop;
	p->stop = true;
	PTOK(pthread_cond_broadcast(&p->cond));
	PTOK(pthread_mutex_unlock(&p->mtx));
	if (was && atomic_load(&p->started)) {
		PTOK(pthread_join(p->thr, NULL));
		atomic_store(&p->started, false);
	}
	if (p->health != NULL)
		health_stop(p->health);
}

void
push_free(struct push **pp)
{
	struct push *p = *pp;

	*pp = NULL;
	if (p == NULL)
		return;
	CHECK_OBJ_NOTNULL(p, PUSH_MAGIC);
	push_stop(p);
	health_free(&p->health);
	ring_free(&p->ring);
	for (unsigned i = 0; i < p->npeers; i++) {
		free(p->peers[i].url);
		xb_fini(&p->peers[i].keys);
		PTOK(pthread_mutex_destroy(&p->peers[i].mtx));
	}
	for (size_t i = 0; i < p->nmissing; i++)
		free(p->missing[i]);
	free(p->missing);
	if (p->db != NULL)
		sqlite3_close(p->db);
	bloom_free(&p->local);
	free(p->token);
	p->magic = 0;
	free(p);
}

const struct admin_ext *
push_admin_ext(struct push *p)
{
	return &p->ext;
}
