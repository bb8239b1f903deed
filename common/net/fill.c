/*
 * fill.c: disk tier reads and write-behind, off the server threads and the
 * curl loop (see fill.h).
 *
 * Threads and ownership: reader threads take (object, fetch spec) jobs from
 * rq and either complete the object from disk or pass the spec on to the
 * fetch loop; the writer thread takes committed objects from wq and stores
 * them. Both queues are guarded by mtx. wr_mtx serialises "was it purged?
 * if not, store it" against a purge's disk removal, so a purge that races
 * with the writer never leaves a copy behind on disk.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/stats.h"
#include "http/cc.h"
#include "http/fresh.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "net/fetch.h"
#include "net/fill.h"
#include "store/cache.h"
#include "store/disk.h"
#include "store/obj.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define FILL_MAX_READERS 8

struct rjob {
	struct obj *o;
	struct fetch_spec spec;
	struct rjob *next;
};

struct wjob {
	struct obj *o;
	struct wjob *next;
};

struct filler {
	struct fill_opts op;
	pthread_t readers[FILL_MAX_READERS];
	unsigned nreaders;
	pthread_t writer;
	bool started;

	pthread_mutex_t mtx;
	pthread_cond_t rcond, wcond;
	struct rjob *rhead, *rtail;     /* (mtx) */
	struct wjob *whead, *wtail;     /* (mtx) */
	uint64_t wbytes;                /* (mtx) */
	bool stop;                      /* (mtx) */

	pthread_mutex_t wr_mtx;
};

/* ---------------------------------------------------------------- reading */

/* Make obj o (STREAMING-ready BUSY) the disk copy: head, body, digest. */
static void
publish(struct filler *fl, struct obj *o, struct disk_hit *hit, uint8_t *buf, unsigned flags)
{
	o->request_time = (time_t)hit->head.request_time;
	o->response_time = (time_t)hit->head.response_time;
	o->initial_age = hit->head.initial_age;
	o->lifetime = hit->head.lifetime;
	o->expected_len = (int64_t)hit->size;
	o->upstream_status = 0;
	o->note = NOTE_DISK;
	{
		struct cc full;

		if (hit->pinned) {
			/* A pushed object: this tier is its origin, so it is fresh
			 * here whatever its Cache-Control tells the tiers below,
			 * and it has no age yet. */
			cc_init(&full);
			o->response_time = time(NULL);
			o->request_time = o->response_time;
			o->initial_age = 0;
		} else {
			fresh_resp_cc(&full, &hit->head.hdrs, fl->op.fcfg);
		}
		obj_cc_set(&o->rcc, &full);
	}
	if (flags & OBJF_MARKER) {
		const char *g = hdrs_get(&hit->head.hdrs, FETCH_GEN_FIELD);

		o->gen = g != NULL ? strtoull(g, NULL, 10) : 0;
	}
	obj_fill_whole(o, hit->head.status, &hit->head.hdrs, OBJF_CACHEABLE | flags, buf, hit->size,
	    hit->sha);
}

/* Read and verify what hit points at into a new buffer. Returns it, or NULL
 * (corrupt: the disk tier dropped it; or out of memory). */
static uint8_t *
read_hit(struct filler *fl, struct disk_hit *hit)
{
	uint8_t *buf = mem_try_alloc(hit->size);
	int rc;

	if (buf == NULL)
		return NULL;
	rc = disk_hit_read(fl->op.disk, hit, buf);
	if (rc == CDN_OK)
		return buf;
	free(buf);
	if (rc == CDN_CORRUPT) {
		STATS_INC(disk_corrupt);
		log_msg(LVL_WARN, "disk copy failed its checksum: dropped, fetching again");
	}
	return NULL;
}

/* After a restart the URL's vary marker may be on disk only: bring it
 * into memory, and return the variant key of this request (or NULL). */
static char *
variant_from_disk(struct filler *fl, struct obj *o, const struct hdrs *req, size_t *vlen)
{
	size_t mlen;
	char *mkey = key_marker(o->key, o->keylen, &mlen), *vkey = NULL;
	struct disk_hit mh;
	struct obj *m;
	uint8_t *buf;
	const char *vary;

	memset(&mh, 0, sizeof mh);
	if (!disk_maybe(fl->op.disk, mkey, mlen) ||
	    disk_lookup(fl->op.disk, mkey, mlen, &mh) != CDN_OK) {
		free(mkey);
		disk_hit_fini(&mh);
		return NULL;
	}
	buf = read_hit(fl, &mh);
	if (buf == NULL) {
		disk_hit_fini(&mh);
		free(mkey);
		return NULL;
	}
	m = obj_new(mkey, mlen, key_hash(mkey, mlen));
	publish(fl, m, &mh, buf, OBJF_MARKER);
	disk_hit_fini(&mh);
	cache_put(fl->op.cache, m);
	cache_commit(fl->op.cache, m, time(NULL));
	vary = hdrs_get(&m->hdrs, "Vary");
	if (vary != NULL && m->gen != 0)
		vkey = key_variant(o->key, o->keylen, m->gen, vary, req, vlen);
	obj_unref(&m);
	free(mkey);
	return vkey;
}

static void
add_validators(struct fetch_spec *spec, const struct obj *stale)
{
	const char *v;

	if ((v = hdrs_get(&stale->hdrs, "ETag")) != NULL)
		hdrs_add(&spec->hdrs, "If-None-Match", v);
	if ((v = hdrs_get(&stale->hdrs, "Last-Modified")) != NULL)
		hdrs_add(&spec->hdrs, "If-Modified-Since", v);
}

static void
load_or_fetch(struct filler *fl, struct obj *o, struct fetch_spec *spec)
{
	struct disk *d = fl->op.disk;
	struct disk_hit hit;
	struct cc none;
	uint8_t *buf = NULL;
	int64_t age;
	time_t now;
	int rc;
	bool repaired = false;

Again:
	memset(&hit, 0, sizeof hit);
	rc = disk_lookup(d, o->key, o->keylen, &hit);
	if (rc != CDN_OK && key_base_len(o->key, o->keylen) == o->keylen && spec->replace == NULL) {
		size_t vlen;
		char *vkey = variant_from_disk(fl, o, &spec->vary_req, &vlen);

		disk_hit_fini(&hit);
		memset(&hit, 0, sizeof hit);
		if (vkey != NULL) {
			rc = disk_lookup(d, vkey, vlen, &hit);
			if (rc == CDN_OK)
				cache_rekey(fl->op.cache, o, vkey, vlen);
			else
				free(vkey);
		}
	}
	if (rc == CDN_CORRUPT) {
		STATS_INC(disk_corrupt);
		log_msg(LVL_WARN, "disk copy of %.*s was damaged (head or size): dropped, fetching again",
		    (int)key_base_len(o->key, o->keylen), o->key);
	}
	if (rc != CDN_OK || (buf = read_hit(fl, &hit)) == NULL) {
		disk_hit_fini(&hit);
		/* A pushed object has no origin to fetch it from: its other
		 * replicas put it back on disk, then it is served from there. */
		if (!repaired && fl->op.repair != NULL && spec->replace == NULL &&
		    fl->op.pushed_maybe(fl->op.push_arg, o->key, o->keylen) &&
		    fl->op.repair(fl->op.push_arg, o->key, o->keylen) == CDN_OK) {
			repaired = true;
			goto Again;
		}
		fetch_submit(fl->op.fetcher, o, spec);
		return;
	}
	now = time(NULL);
	age = fresh_current_age(hit.head.initial_age, (time_t)hit.head.response_time, now);
	cc_init(&none);
	{
		struct cc rcc;

		fresh_resp_cc(&rcc, &hit.head.hdrs, fl->op.fcfg);
		if (hit.pinned || fresh_check(&none, false, &rcc, hit.head.lifetime, age) == FRESH_HIT) {
			publish(fl, o, &hit, buf, 0);
			disk_hit_fini(&hit);
			cache_commit(fl->op.cache, o, now);
			STATS_INC(disk_hits);
			fetch_spec_fini(spec); /* answered from disk: nothing to send */
			return;
		}
	}
	/* Stale on disk: revalidate it upstream, as a stale copy in memory. */
	{
		struct obj *s = obj_new(o->key, o->keylen, o->hash);

		publish(fl, s, &hit, buf, 0);
		disk_hit_fini(&hit);
		add_validators(spec, s);
		spec->stale = s;
		struct cc sc;

		obj_cc_get(&s->rcc, &sc);
		spec->stale_on_error = fresh_can_sie(NULL, &sc, s->lifetime, age);
		spec->must_confirm = (s->rcc.flags & (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE)) ||
		    s->rcc.s_maxage != CC_UNSET;
		STATS_INC(disk_stale);
		fetch_submit(fl->op.fetcher, o, spec);
		obj_unref(&s);
	}
}

static void *
reader_main(void *arg)
{
	struct filler *fl = arg;
	struct rjob *j;

	for (;;) {
		PTOK(pthread_mutex_lock(&fl->mtx));
		while (fl->rhead == NULL && !fl->stop)
			PTOK(pthread_cond_wait(&fl->rcond, &fl->mtx));
		j = fl->rhead;
		if (j != NULL) {
			fl->rhead = j->next;
			if (fl->rhead == NULL)
				fl->rtail = NULL;
		}
		PTOK(pthread_mutex_unlock(&fl->mtx));
		if (j == NULL)
			return NULL; /* stopping and nothing queued */
		load_or_fetch(fl, j->o, &j->spec);
		obj_unref(&j->o);
		free(j);
	}
}

/* ---------------------------------------------------------------- writing */

static void
write_one(struct filler *fl, struct obj *o)
{
	struct disk_head head;
	struct disk_put put;
	int rc;

	memset(&head, 0, sizeof head);
	head.status = o->status;
	head.flags = o->flags & OBJF_MARKER;
	head.request_time = o->request_time;
	head.response_time = o->response_time;
	head.initial_age = o->initial_age;
	head.lifetime = o->lifetime;
	head.hdrs = o->hdrs;    /* borrowed: o is complete, its fields immutable */
	memset(&put, 0, sizeof put);
	put.head = &head;
	put.sha = o->sha;
	PTOK(pthread_mutex_lock(&fl->wr_mtx));
	/* Evicted from memory meanwhile is fine (that is demotion); purged is
	 * not: the purge's disk removal waits for wr_mtx, so either it sees
	 * this copy and removes it, or this sees the flag. */
	if (!atomic_load(&o->_purged)) {
		rc = disk_store(fl->op.disk, o->key, o->keylen, o->data, o->len, &put);
		if (rc == CDN_OK)
			STATS_INC(disk_writes);
		else
			STATS_INC(disk_write_errors);
	}
	PTOK(pthread_mutex_unlock(&fl->wr_mtx));
}

static void *
writer_main(void *arg)
{
	struct filler *fl = arg;
	struct wjob *j;

	for (;;) {
		PTOK(pthread_mutex_lock(&fl->mtx));
		while (fl->whead == NULL && !fl->stop)
			PTOK(pthread_cond_wait(&fl->wcond, &fl->mtx));
		j = fl->whead;
		if (j != NULL) {
			fl->whead = j->next;
			if (fl->whead == NULL)
				fl->wtail = NULL;
			fl->wbytes -= j->o->len;
		}
		PTOK(pthread_mutex_unlock(&fl->mtx));
		if (j == NULL)
			return NULL;
		write_one(fl, j->o);
		obj_unref(&j->o);
		free(j);
	}
}

static void
purge_hook(void *arg, const char *key, size_t len)
{
	struct filler *fl = arg;

	PTOK(pthread_mutex_lock(&fl->wr_mtx));
	disk_remove_unpinned(fl->op.disk, key, len);
	PTOK(pthread_mutex_unlock(&fl->wr_mtx));
}

struct lower_match {
	cache_match_fn *fn;
	void *arg;
};

static bool
head_match(const char *key, size_t keylen, const struct disk_head *head, void *arg)
{
	struct lower_match *m = arg;

	return m->fn(key, keylen, &head->hdrs, m->arg);
}

/* The disk scan for purges by prefix, tag or everything. The writer is held
 * off meanwhile, so nothing that matches is stored behind the scan. */
static int
lower_remove(void *arg, cache_match_fn *fn, void *fnarg)
{
	struct filler *fl = arg;
	struct lower_match m = { fn, fnarg };
	int n;

	PTOK(pthread_mutex_lock(&fl->wr_mtx));
	n = disk_remove_matching(fl->op.disk, head_match, &m);
	PTOK(pthread_mutex_unlock(&fl->wr_mtx));
	return n;
}

/* ---------------------------------------------------------------- API */

struct filler *
fill_new(const struct fill_opts *o)
{
	struct filler *fl = xcalloc(1, sizeof *fl);

	fl->op = *o;
	if (fl->op.readers == 0)
		fl->op.readers = 2;
	if (fl->op.readers > FILL_MAX_READERS)
		fl->op.readers = FILL_MAX_READERS;
	if (fl->op.queue_bytes == 0)
		fl->op.queue_bytes = 256ULL << 20;
	PTOK(pthread_mutex_init(&fl->mtx, NULL));
	PTOK(pthread_mutex_init(&fl->wr_mtx, NULL));
	PTOK(pthread_cond_init(&fl->rcond, NULL));
	PTOK(pthread_cond_init(&fl->wcond, NULL));
	return fl;
}

void
fill_set_fetcher(struct filler *fl, struct fetcher *f)
{
	fl->op.fetcher = f;
}

int
fill_start(struct filler *fl)
{
	if (fl->op.disk == NULL)
		return CDN_OK;
	cache_set_purge_hook(fl->op.cache, purge_hook, fl);
	cache_set_lower(fl->op.cache, lower_remove, fl);
	for (unsigned i = 0; i < fl->op.readers; i++) {
		if (pthread_create(&fl->readers[i], NULL, reader_main, fl) != 0)
			return CDN_ERR;
		fl->nreaders++;
	}
	if (pthread_create(&fl->writer, NULL, writer_main, fl) != 0)
		return CDN_ERR;
	fl->started = true;
	return CDN_OK;
}

void
fill_stop(struct filler *fl)
{
	PTOK(pthread_mutex_lock(&fl->mtx));
	fl->stop = true;
	PTOK(pthread_cond_broadcast(&fl->rcond));
	PTOK(pthread_cond_broadcast(&fl->wcond));
	PTOK(pthread_mutex_unlock(&fl->mtx));
	for (unsigned i = 0; i < fl->nreaders; i++)
		PTOK(pthread_join(fl->readers[i], NULL));
	fl->nreaders = 0;
	if (fl->started)
		PTOK(pthread_join(fl->writer, NULL));
	fl->started = false;
	if (fl->op.disk != NULL) {
		cache_set_purge_hook(fl->op.cache, NULL, NULL);
		cache_set_lower(fl->op.cache, NULL, NULL);
	}
}

void
fill_free(struct filler **flp)
{
	struct filler *fl = *flp;

	*flp = NULL;
	if (fl == NULL)
		return;
	AZ(fl->nreaders);
	PTOK(pthread_mutex_destroy(&fl->mtx));
	PTOK(pthread_mutex_destroy(&fl->wr_mtx));
	PTOK(pthread_cond_destroy(&fl->rcond));
	PTOK(pthread_cond_destroy(&fl->wcond));
	free(fl);
}

void
fill_submit(struct filler *fl, struct obj *o, struct fetch_spec *spec, bool disk_ok)
{
	struct rjob *j;

	bool try_disk = fl->op.disk != NULL && disk_ok && spec->stale == NULL;

	/* The Bloom filter answers most misses without SQLite; a plain key may
	 * also have variants behind a vary marker that is only on disk. */
	if (try_disk && !disk_maybe(fl->op.disk, o->key, o->keylen)) {
		try_disk = false;
		if (key_base_len(o->key, o->keylen) == o->keylen) {
			size_t mlen;
			char *mkey = key_marker(o->key, o->keylen, &mlen);

			try_disk = disk_maybe(fl->op.disk, mkey, mlen);
			free(mkey);
		}
	}
	if (!try_disk && fl->op.disk != NULL && disk_ok && spec->stale == NULL &&
	    fl->op.pushed_maybe != NULL && fl->op.pushed_maybe(fl->op.push_arg, o->key, o->keylen))
		try_disk = true; /* a pushed object this node lacks: the reader repairs it */
	if (!try_disk) {
		fetch_submit(fl->op.fetcher, o, spec);
		return;
	}
	j = xcalloc(1, sizeof *j);
	obj_ref(o);
	j->o = o;
	j->spec = *spec;
	memset(spec, 0, sizeof *spec);
	hdrs_init(&spec->hdrs);
	hdrs_init(&spec->vary_req);
	PTOK(pthread_mutex_lock(&fl->mtx));
	if (fl->stop) {
		PTOK(pthread_mutex_unlock(&fl->mtx));
		fetch_submit(fl->op.fetcher, o, &j->spec);
		obj_unref(&j->o);
		free(j);
		return;
	}
	if (fl->rtail != NULL)
		fl->rtail->next = j;
	else
		fl->rhead = j;
	fl->rtail = j;
	PTOK(pthread_cond_signal(&fl->rcond));
	PTOK(pthread_mutex_unlock(&fl->mtx));
}

void
fill_store(void *arg, struct obj *o)
{
	struct filler *fl = arg;
	struct wjob *j;

	if (fl->op.disk == NULL || (o->flags & OBJF_HFM))
		return;
	PTOK(pthread_mutex_lock(&fl->mtx));
	if (fl->stop || fl->wbytes + o->len > fl->op.queue_bytes) {
		PTOK(pthread_mutex_unlock(&fl->mtx));
		STATS_INC(disk_write_dropped);
		return;
	}
	j = xmalloc(sizeof *j);
	obj_ref(o);
	j->o = o;
	j->next = NULL;
	if (fl->wtail != NULL)
		fl->wtail->next = j;
	else
		fl->whead = j;
	fl->wtail = j;
	fl->wbytes += o->len;
	PTOK(pthread_cond_signal(&fl->wcond));
	PTOK(pthread_mutex_unlock(&fl->mtx));
}
