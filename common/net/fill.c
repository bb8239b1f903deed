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
 *
 * Bodies above the memory tier's limit (fetch_opts.max_keep) never live in
 * memory whole. The spool thread owns one streaming disk writer per such
 * object (struct sjob): the fetch loop queues chunks on the object
 * (store/obj.h, OBJF_FILE) and kicks the job; the spool thread writes them
 * to the temp file (disk_write_append), tells the object how far the file
 * goes, so readers pread it, and commits (fsync, rename, index row) once the
 * object is complete. Then the object leaves the memory index: later
 * requests find it on disk and get the file itself (MHD_create_response_
 * from_fd), verified first. Jobs are guarded by smtx, which is taken alone
 * or inside an object's mtx (kick), never the other way round. The spool
 * thread keeps the fetch loop and the writer thread free of big fsyncs.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* One body going to disk as it arrives (the spool thread's). */
struct sjob {
	struct obj *o;                  /* a reference */
	struct filler *fl;
	struct disk_writer *w;          /* (spool thread) NULL until opened */
	uint64_t size_hint;             /* Content-Length, or 0 */
	bool ready;                     /* (smtx) kicked: there is work */
	bool started;                   /* (smtx) o is an OBJF_FILE object */
	struct sjob *next;              /* (smtx) */
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

	pthread_t spooler;
	bool spooling;                  /* the spool thread was started */
	pthread_mutex_t smtx;
	pthread_cond_t scond;
	struct sjob *sjobs;             /* (smtx) every live job */
	bool sstop;                     /* (smtx) the spool thread is stopping or gone */
	uint64_t max_keep;              /* const once the fetcher is set */
};

/* ---------------------------------------------------------------- reading */

/* Make obj o (STREAMING-ready BUSY) the disk copy: head, body (buf, or the
 * verified descriptor fd when buf is NULL), digest. */
static void
publish(struct filler *fl, struct obj *o, struct disk_hit *hit, uint8_t *buf, int fd,
    unsigned flags)
{
	o->response_time = (uint32_t)hit->head.response_time;
	o->initial_age = obj_clamp32(hit->head.initial_age);
	o->lifetime = obj_clamp32(hit->head.lifetime);
	o->upstream_status = 0;
	o->note = NOTE_DISK;
	{
		struct cc full;

		if (hit->pinned) {
			/* A pushed object: this tier is its origin, so it is fresh
			 * here whatever its Cache-Control tells the tiers below,
			 * and it has no age yet. */
			cc_init(&full);
			o->response_time = (uint32_t)time(NULL);
			o->initial_age = 0;
		} else {
			fresh_resp_cc(&full, &hit->head.hdrs, fl->op.fcfg);
		}
		obj_cc_set(&o->rcc, &full);
	}
	if (flags & OBJF_MARKER) {
		const char *g = hdrs_get(&hit->head.hdrs, FETCH_GEN_FIELD);

		obj_set_gen(o, g != NULL ? strtoull(g, NULL, 10) : 0);
	}
	if (buf == NULL)
		obj_fill_file(o, hit->head.status, &hit->head.hdrs, OBJF_CACHEABLE | flags, fd,
		    hit->size, hit->sha);
	else
		obj_fill_whole(o, hit->head.status, &hit->head.hdrs, OBJF_CACHEABLE | flags, buf,
		    hit->size, hit->sha);
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
	publish(fl, m, &mh, buf, -1, OBJF_MARKER);
	disk_hit_fini(&mh);
	cache_put(fl->op.cache, m);
	cache_commit(fl->op.cache, m, time(NULL));
	vary = hdrs_get(&m->hdrs, "Vary");
	if (vary != NULL && obj_gen(m) != 0)
		vkey = key_variant(o->key, o->keylen, obj_gen(m), vary, req, vlen);
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

/* A disk copy above the memory tier's limit: served from its file, never
 * read into memory, and not kept in the memory tier. Verified whole before
 * any byte is sent. A stale one is fetched again whole (its body cannot
 * back a 304 from memory). Returns false, with hit finished, when the copy
 * failed its check (dropped by the disk tier): the caller goes on as for
 * any copy it could not read. */
static bool
serve_file(struct filler *fl, struct obj *o, struct disk_hit *hit, struct fetch_spec *spec)
{
	time_t now = time(NULL);
	int64_t age = fresh_current_age(hit->head.initial_age, (time_t)hit->head.response_time, now);
	struct cc none, rcc;
	int rc;

	cc_init(&none);
	fresh_resp_cc(&rcc, &hit->head.hdrs, fl->op.fcfg);
	if (!hit->pinned && fresh_check(&none, false, &rcc, hit->head.lifetime, age) != FRESH_HIT) {
		STATS_INC(disk_stale);
		disk_hit_fini(hit);
		fetch_submit(fl->op.fetcher, o, spec);
		return true;
	}
	rc = disk_hit_verify(fl->op.disk, hit);
	if (rc != CDN_OK) {
		if (rc == CDN_CORRUPT) {
			STATS_INC(disk_corrupt);
			log_msg(LVL_WARN, "disk copy failed its checksum: dropped, fetching again");
		}
		disk_hit_fini(hit);
		return false;
	}
	publish(fl, o, hit, NULL, disk_hit_take_fd(hit), 0);
	disk_hit_fini(hit);
	/* Waiters already attached are answered from o; later requests look
	 * on disk again. */
	cache_remove(fl->op.cache, o);
	STATS_INC(disk_hits);
	fetch_spec_fini(spec);
	return true;
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
	if (rc == CDN_OK && hit.size > fl->max_keep) {
		if (serve_file(fl, o, &hit, spec))
			return;
		rc = CDN_CORRUPT; /* dropped: as any copy that could not be read */
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
			publish(fl, o, &hit, buf, -1, 0);
			disk_hit_fini(&hit);
			cache_commit(fl->op.cache, o, now);
			STATS_INC(disk_hits);
			fetch_spec_fini(spec); /* answered from disk: nothing to send */
			return;
		}
	}
	/* Stale on disk: revalidate it upstream, as a stale copy in memory. */
	{
		struct obj *s = obj_new(o->key, o->keylen, obj_hash(o));

		publish(fl, s, &hit, buf, -1, 0);
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
	/* The object keeps no request time (initial_age already counts the
	 * delay): the head's is the response time, as for a pushed object. */
	head.request_time = o->response_time;
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

/* ---------------------------------------------------------------- spooling */

/* Called with the object's mtx held (store/obj.h): mark the job ready. */
static void
spool_kick(void *arg)
{
	struct sjob *s = arg;
	struct filler *fl = s->fl;

	PTOK(pthread_mutex_lock(&fl->smtx));
	s->ready = true;
	PTOK(pthread_cond_signal(&fl->scond));
	PTOK(pthread_mutex_unlock(&fl->smtx));
}

/* The fetch loop's hook (fetch_set_spool): make o an OBJF_FILE object
 * written by the spool thread, if the disk tier could hold its body. */
static bool
spool_begin(void *arg, struct obj *o)
{
	struct filler *fl = arg;
	int64_t elen = obj_expected_len(o);
	uint64_t size = elen > 0 ? (uint64_t)elen : fl->max_keep;
	struct sjob *s;
	bool stopping;

	if (!disk_fits(fl->op.disk, size, o->keylen))
		return false;
	s = xcalloc(1, sizeof *s);
	s->fl = fl;
	s->size_hint = elen > 0 ? (uint64_t)elen : 0;
	/* Listed before the object can kick it, so a kick always finds it;
	 * not once the spool thread is stopping (it would never be served). */
	PTOK(pthread_mutex_lock(&fl->smtx));
	stopping = fl->sstop;
	if (!stopping) {
		obj_ref(o);
		s->o = o;
		s->next = fl->sjobs;
		fl->sjobs = s;
	}
	PTOK(pthread_mutex_unlock(&fl->smtx));
	if (stopping) {
		free(s);
		return false;
	}
	obj_file_start(o, spool_kick, s);
	PTOK(pthread_mutex_lock(&fl->smtx));
	s->started = true;
	PTOK(pthread_cond_broadcast(&fl->scond));
	PTOK(pthread_mutex_unlock(&fl->smtx));
	return true;
}

static void
spool_unlist(struct filler *fl, struct sjob *s)
{
	struct sjob **pp;

	PTOK(pthread_mutex_lock(&fl->smtx));
	for (pp = &fl->sjobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	PTOK(pthread_mutex_unlock(&fl->smtx));
}

/* The job is over (stored or not): the memory index lets go of the object
 * (later requests find it on disk), and the job is freed. */
static void
spool_end(struct filler *fl, struct sjob *s, bool failed)
{
	if (failed) {
		obj_file_fail(s->o);
		STATS_INC(disk_write_errors);
	}
	disk_write_abort(&s->w);
	spool_unlist(fl, s);
	cache_remove(fl->op.cache, s->o);
	obj_unref(&s->o);
	free(s);
}

/* Commit a complete body: as write_one, under wr_mtx against purges. */
static int
spool_commit(struct filler *fl, struct sjob *s)
{
	struct obj *o = s->o;
	struct disk_head head;
	struct disk_put put;
	int rc = CDN_OK;

	memset(&head, 0, sizeof head);
	head.status = o->status;
	head.request_time = o->response_time;  /* as in write_one */
	head.response_time = o->response_time;
	head.initial_age = o->initial_age;
	head.lifetime = o->lifetime;
	head.hdrs = o->hdrs;    /* borrowed: o is complete, its fields immutable */
	memset(&put, 0, sizeof put);
	put.head = &head;
	put.sha = o->sha;
	PTOK(pthread_mutex_lock(&fl->wr_mtx));
	if (!atomic_load(&o->_purged))
		rc = disk_write_commit(&s->w, &put, NULL);
	else
		rc = CDN_DECLINED; /* purged while it arrived: not stored */
	PTOK(pthread_mutex_unlock(&fl->wr_mtx));
	if (rc == CDN_OK)
		STATS_INC(disk_writes);
	return rc;
}

/* Write what the object queued; finish the job when the object is done.
 * Returns true while the job lives. */
static bool
spool_step(struct filler *fl, struct sjob *s)
{
	struct obj *o = s->o;
	struct obj_chunk *chunks, *c;
	enum obj_state st;
	uint64_t n = 0;
	int fd = -1, rc = CDN_OK;

	chunks = obj_file_take(o, &st);
	if (st == OBJ_FAILED) {
		obj_chunks_free(chunks);
		spool_end(fl, s, false);
		return false;
	}
	if (s->w == NULL && (chunks != NULL || st == OBJ_COMPLETE)) {
		rc = disk_write_start(fl->op.disk, o->key, o->keylen, s->size_hint, &s->w);
		if (rc == CDN_OK && (fd = disk_write_reader_fd(s->w)) < 0)
			rc = CDN_ERR;
	}
	for (c = chunks; c != NULL && rc == CDN_OK; c = c->next) {
		rc = disk_write_append(s->w, c->buf, c->len);
		if (rc == CDN_OK)
			n += c->len;
	}
	obj_chunks_free(chunks);
	if (rc != CDN_OK) {
		if (fd >= 0)
			close(fd);
		log_msg(LVL_ERROR, "disk tier cannot take the body of %.*s: %s",
		    (int)key_base_len(o->key, o->keylen), o->key,
		    rc == CDN_TOOBIG ? "no room" : "I/O error");
		spool_end(fl, s, true);
		return false;
	}
	obj_file_written(o, fd, n);
	if (st != OBJ_COMPLETE)
		return true;
	rc = spool_commit(fl, s);
	if (rc != CDN_OK && rc != CDN_DECLINED)
		STATS_INC(disk_write_errors);
	spool_end(fl, s, false);
	return false;
}

static void *
spool_main(void *arg)
{
	struct filler *fl = arg;
	struct sjob *s;

	for (;;) {
		PTOK(pthread_mutex_lock(&fl->smtx));
		for (;;) {
			for (s = fl->sjobs; s != NULL && !s->ready; s = s->next)
				;
			if (s != NULL || fl->sstop)
				break;
			PTOK(pthread_cond_wait(&fl->scond, &fl->smtx));
		}
		if (s != NULL)
			s->ready = false;
		PTOK(pthread_mutex_unlock(&fl->smtx));
		if (s == NULL)
			break;
		if (spool_step(fl, s)) {
			/* More may be queued already: look again before
			 * sleeping (obj_file_take arms the kick when not),
			 * after the other jobs (to the end of the list), so
			 * one fast download cannot starve the rest. */
			struct sjob **pp;

			PTOK(pthread_mutex_lock(&fl->smtx));
			s->ready = true;
			for (pp = &fl->sjobs; *pp != s; pp = &(*pp)->next)
				;
			*pp = s->next;
			for (; *pp != NULL; pp = &(*pp)->next)
				;
			*pp = s;
			s->next = NULL;
			PTOK(pthread_mutex_unlock(&fl->smtx));
		}
	}
	/* Stopping: bodies still arriving are given up (their fetches stop at
	 * the next append); complete ones are finished. */
	for (;;) {
		PTOK(pthread_mutex_lock(&fl->smtx));
		while ((s = fl->sjobs) != NULL && !s->started)
			PTOK(pthread_cond_wait(&fl->scond, &fl->smtx));
		PTOK(pthread_mutex_unlock(&fl->smtx));
		if (s == NULL)
			break;
		if (obj_state(s->o) == OBJ_COMPLETE) {
			while (spool_step(fl, s))
				;
		} else {
			spool_end(fl, s, true);
		}
	}
	return NULL;
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
	PTOK(pthread_mutex_init(&fl->smtx, NULL));
	PTOK(pthread_cond_init(&fl->rcond, NULL));
	PTOK(pthread_cond_init(&fl->wcond, NULL));
	PTOK(pthread_cond_init(&fl->scond, NULL));
	fl->sstop = true; /* until the spool thread runs */
	fl->max_keep = UINT64_MAX;
	return fl;
}

void
fill_set_fetcher(struct filler *fl, struct fetcher *f)
{
	fl->op.fetcher = f;
	fl->max_keep = fetch_max_keep(f);
	if (fl->op.disk != NULL)
		fetch_set_spool(f, spool_begin, fl);
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
	PTOK(pthread_mutex_lock(&fl->smtx));
	fl->sstop = false;
	PTOK(pthread_mutex_unlock(&fl->smtx));
	if (pthread_create(&fl->spooler, NULL, spool_main, fl) != 0) {
		PTOK(pthread_mutex_lock(&fl->smtx));
		fl->sstop = true;
		PTOK(pthread_mutex_unlock(&fl->smtx));
		return CDN_ERR;
	}
	fl->spooling = true;
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
	PTOK(pthread_mutex_lock(&fl->smtx));
	fl->sstop = true;
	PTOK(pthread_cond_broadcast(&fl->scond));
	PTOK(pthread_mutex_unlock(&fl->smtx));
	if (fl->spooling)
		PTOK(pthread_join(fl->spooler, NULL));
	fl->spooling = false;
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
	PTOK(pthread_mutex_destroy(&fl->smtx));
	PTOK(pthread_cond_destroy(&fl->rcond));
	PTOK(pthread_cond_destroy(&fl->wcond));
	PTOK(pthread_cond_destroy(&fl->scond));
	AZ(fl->sjobs);
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
