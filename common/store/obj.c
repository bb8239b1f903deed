/*
 * obj.c: objects, their refcount, and the fill/read protocol between the
 * one fetch that writes an object and the clients that read it.
 *
 * Design choice: readers copy out under the object's mutex, so the fetch can
 * grow the buffer (allocate outside the lock, copy, swap under it) without
 * readers ever holding a raw pointer into a buffer that moves. Once the
 * object is COMPLETE the buffer never moves again, and a hit hands it to the
 * HTTP server without a copy (see net/front).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/obj.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

pthread_mutex_t obj_stripes[OBJ_NLOCKS];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void wake_all_locked(struct obj *o);
static uint64_t min_reader_pos_locked(const struct obj *o);
static int file_append(struct obj *o, const void *p, size_t n);
static enum obj_read file_read_locked(struct obj *o, struct obj_reader *r, size_t max, size_t *got);

static void
stripes_init(void)
{
	for (unsigned i = 0; i < OBJ_NLOCKS; i++)
		PTOK(pthread_mutex_init(&obj_stripes[i], NULL));
}

void
obj_cc_set(struct obj_cc *d, const struct cc *c)
{
	d->flags = c->flags;
	d->max_age = obj_clamp32(c->max_age);
	d->s_maxage = obj_clamp32(c->s_maxage);
	d->swr = obj_clamp32(c->swr);
	d->sie = obj_clamp32(c->sie);
}

void
obj_cc_get(const struct obj_cc *s, struct cc *c)
{
	c->flags = s->flags;
	c->max_age = s->max_age;
	c->s_maxage = s->s_maxage;
	c->max_stale = CC_UNSET;
	c->min_fresh = CC_UNSET;
	c->swr = s->swr;
	c->sie = s->sie;
	c->no_cache_fields[0] = '\0';
	c->private_fields[0] = '\0';
}

struct obj *
obj_new(const char *key, size_t keylen, uint64_t hash)
{
	struct obj *o;

	PTOK(pthread_once(&stripes_once, stripes_init));
	AN(keylen < UINT32_MAX);
	/* The key lives in the same allocation (one malloc less per object). */
	o = xcalloc(1, sizeof *o + keylen + 1);
	o->magic = OBJ_MAGIC;
	atomic_init(&o->_refcnt, 1);
	memcpy(o->_kbuf, key, keylen);
	o->key = o->_kbuf;
	o->keylen = (uint32_t)keylen;
	(void)hash;
	o->state = OBJ_BUSY;
	o->_fs = xcalloc(1, sizeof *o->_fs);
	o->_fs->expected_len = -1;
	hdrs_init(&o->hdrs);
	{
		struct cc none;

		cc_init(&none);
		obj_cc_set(&o->rcc, &none);
	}
	return o;
}

void
obj_ref(struct obj *o)
{
	CHECK_OBJ_NOTNULL(o, OBJ_MAGIC);
	VAS_ASSERT(atomic_fetch_add(&o->_refcnt, 1) > 0);
}

void
obj_unref(struct obj **op)
{
	struct obj *o;
	unsigned old;

	TAKE_OBJ_NOTNULL(o, op, OBJ_MAGIC);
	old = atomic_fetch_sub(&o->_refcnt, 1);
	VAS_ASSERT(old > 0);
	if (old > 1)
		return;
	AZ(o->_in_index);
	AZ(evict_node_linked(&o->_ev));
	AZ(o->_fs != NULL && o->_fs->readers != NULL);
	hdrs_fini(&o->hdrs);
	free(o->data);
	if (o->key != o->_kbuf)
		free(o->key);
	if ((o->flags & OBJF_FILE) && o->_fs->file != NULL) {
		obj_chunks_free(o->_fs->file->head);
		if (o->_fs->file->fd >= 0)
			close(o->_fs->file->fd);
		free(o->_fs->file);
	} else if ((o->flags & OBJF_MARKER) && o->_fs->marker != NULL) {
		free(o->_fs->marker->vhashes);
		free(o->_fs->marker);
	}
	free(o->_fs);
	o->magic = 0;
	free(o);
}

void
obj_set_key(struct obj *o, char *newkey, size_t newlen)
{
	AN(newlen < UINT32_MAX);
	if (o->key != o->_kbuf)
		free(o->key);
	o->key = newkey;
	o->keylen = (uint32_t)newlen;
}

int64_t
obj_expected_len(const struct obj *o)
{
	int64_t n;

	obj_lock(o);
	n = o->_fs != NULL ? o->_fs->expected_len : (int64_t)o->len;
	obj_unlock(o);
	return n;
}

void
obj_set_expected_len(struct obj *o, int64_t len)
{
	AN(o->_fs);
	o->_fs->expected_len = len;
}

uint64_t
obj_base_locked(const struct obj *o)
{
	return o->_fs != NULL ? o->_fs->base : 0;
}

uint64_t
obj_base(struct obj *o)
{
	uint64_t b;

	obj_lock(o);
	b = obj_base_locked(o);
	obj_unlock(o);
	return b;
}

/* The fill state goes once the object is finished and nobody reads it
 * through obj_read_locked; returns it for the caller to free unlocked. A
 * file body or marker keeps the block (its file or marker hangs off it),
 * reset to what obj_attach would make of a finished, unread object. */
static struct obj_fs *
fs_release_locked(struct obj *o)
{
	struct obj_fs *fs = o->_fs;

	if (fs == NULL || (o->state != OBJ_COMPLETE && o->state != OBJ_FAILED) ||
	    fs->readers != NULL || fs->fill_ops != NULL)
		return NULL;
	if (o->flags & (OBJF_FILE | OBJF_MARKER)) {
		fs->fill = NULL;
		fs->base = 0;
		fs->cap = (size_t)o->len;
		fs->expected_len = (int64_t)o->len;
		return NULL;
	}
	o->_fs = NULL;
	return fs;
}

enum obj_state
obj_state(const struct obj *o)
{
	enum obj_state s;

	obj_lock(o);
	s = o->state;
	obj_unlock(o);
	return s;
}

/* ---------------------------------------------------------------- fill */

void
obj_set_fill(struct obj *o, const struct obj_fill_ops *ops, void *fill)
{
	obj_lock(o);
	AN(o->_fs);
	o->_fs->fill_ops = ops;
	o->_fs->fill = fill;
	obj_unlock(o);
}

static void
wake_all_locked(struct obj *o)
{
	for (struct obj_reader *r = o->_fs != NULL ? o->_fs->readers : NULL; r != NULL;
	    r = r->_next) {
		if (r->waiting) {
			r->waiting = false;
			r->wake(r);
		}
	}
	if ((o->flags & OBJF_FILE) && o->_fs->file->armed) {
		o->_fs->file->armed = false;
		o->_fs->file->kick(o->_fs->file->arg);
	}
}

static uint64_t
min_reader_pos_locked(const struct obj *o)
{
	uint64_t m = o->len;

	if (o->_fs == NULL)
		return m;
	for (const struct obj_reader *r = o->_fs->readers; r != NULL; r = r->_next)
		if (r->pos < m)
			m = r->pos;
	return m;
}

void
obj_set_headers(struct obj *o, int status, struct hdrs *hdrs, unsigned flags)
{
	obj_lock(o);
	AZ(o->state != OBJ_BUSY);
	o->status = status;
	hdrs_fini(&o->hdrs);
	o->hdrs = *hdrs;
	hdrs_init(hdrs);
	o->flags |= flags;
	o->state = OBJ_STREAMING;
	wake_all_locked(o);
	obj_unlock(o);
}

static bool
keeps_all_locked(const struct obj *o)
{
	return (o->flags & OBJF_CACHEABLE) && !(o->flags & OBJF_TOO_BIG);
}

int
obj_append(struct obj *o, const void *p, size_t n, uint64_t max_keep)
{
	uint64_t minpos, keep_from;
	size_t have, need, newcap;
	uint8_t *nd = NULL;
	int rc = CDN_OK;
	struct obj_fs *fs;

	if (n == 0)
		return CDN_OK;
	obj_lock(o);
	AZ(o->state != OBJ_STREAMING);
	if (o->flags & OBJF_ABANDONED) {
		obj_unlock(o);
		return CDN_DECLINED;
	}
	if (o->flags & OBJF_FILE) {
		obj_unlock(o);
		return file_append(o, p, n);
	}
	fs = o->_fs;
	AN(fs); /* filling */
	if (keeps_all_locked(o) && o->len + n > max_keep) {
		o->flags |= OBJF_TOO_BIG;
		rc = CDN_TOOBIG;
	}
	keep_from = fs->base;
	if (!keeps_all_locked(o)) {
		minpos = min_reader_pos_locked(o);
		if (o->len - minpos + n > OBJ_PASS_WINDOW && o->len > minpos) {
			o->flags |= OBJF_PAUSED;
			obj_unlock(o);
			return CDN_AGAIN;
		}
		/* Drop consumed bytes only when it frees half the buffer or
		 * saves a bigger one, so a slow reader does not cost a copy
		 * per chunk. */
		if (minpos - fs->base >= fs->cap / 2 || o->len - fs->base + n > fs->cap)
			keep_from = minpos;
	}
	have = (size_t)(o->len - keep_from);
	need = have + n;
	obj_unlock(o);

	/* Only this thread writes the buffer, so it can be read without the
	 * lock while a bigger one is prepared; readers never see the swap half
	 * done because they copy under the lock. */
	if (need > fs->cap || keep_from != fs->base) {
		newcap = need > fs->cap ? fs->cap * 2 : fs->cap;
		if (newcap < need)
			newcap = need;
		if (newcap < 16384)
			newcap = 16384;
		/* A body of known length that is kept gets exactly its size: a
		 * small object must not cost a 16 KiB buffer in the memory tier. */
		if (fs->expected_len > 0 && (uint64_t)fs->expected_len <= max_keep &&
		    (uint64_t)fs->expected_len >= need && rc != CDN_TOOBIG && keep_from == 0)
			newcap = (size_t)fs->expected_len;
		nd = mem_try_alloc(newcap);
		if (nd == NULL)
			return CDN_NOMEM;
		if (have > 0)
			memcpy(nd, o->data + (keep_from - fs->base), have);
		memcpy(nd + have, p, n);
	}
	obj_lock(o);
	if (nd != NULL) {
		uint8_t *old = o->data;

		o->data = nd;
		fs->cap = newcap;
		fs->base = keep_from;
		o->len += n;
		wake_all_locked(o);
		obj_unlock(o);
		free(old);
	} else {
		memcpy(o->data + (o->len - fs->base), p, n);
		o->len += n;
		wake_all_locked(o);
		obj_unlock(o);
	}
	return rc;
}

/* A BUSY object becomes COMPLETE at once with this head (hdrs' contents
 * taken over), length and digest; wakes its readers. Called with o's lock;
 * returns the fill state to free after unlocking. */
static struct obj_fs *
complete_whole_locked(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, uint64_t len,
    const uint8_t sha[DIGEST_LEN])
{
	AZ(o->state != OBJ_BUSY);
	AN(o->_fs); /* BUSY */
	o->status = (int16_t)status;
	hdrs_fini(&o->hdrs);
	o->hdrs = *hdrs;
	hdrs_init(hdrs);
	o->flags |= flags;
	o->len = len;
	memcpy(o->sha, sha, DIGEST_LEN);
	o->state = OBJ_COMPLETE;
	o->_fs->fill = NULL;
	o->_fs->fill_ops = NULL;
	wake_all_locked(o);
	return fs_release_locked(o);
}

void
obj_fill_whole(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, uint8_t *buf,
    uint64_t len, const uint8_t sha[DIGEST_LEN])
{
	struct obj_fs *fs;
	uint8_t *old;

	obj_lock(o);
	old = o->data;
	o->data = buf;
	AN(o->_fs); /* BUSY */
	o->_fs->cap = (size_t)len;
	o->_fs->base = 0;
	fs = complete_whole_locked(o, status, hdrs, flags, len, sha);
	obj_unlock(o);
	free(old);
	free(fs);
}

void
obj_fill_file(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, int fd,
    uint64_t len, const uint8_t sha[DIGEST_LEN])
{
	struct obj_file *f = xcalloc(1, sizeof *f);
	struct obj_fs *fs;

	AN(fd >= 0);
	f->fd = fd;
	f->written = len;
	obj_lock(o);
	AZ(o->state != OBJ_BUSY);
	AZ(o->flags & (OBJF_FILE | OBJF_MARKER));
	AN(o->_fs); /* BUSY */
	o->_fs->file = f;
	fs = complete_whole_locked(o, status, hdrs, flags | OBJF_FILE, len, sha);
	obj_unlock(o);
	free(fs);
}

/* A kept body whose length was not known has buffer slack: give it back
 * before the buffer becomes immutable (only the fetch writes the buffer, so
 * it reads it unlocked; readers copy under the lock, so the swap is safe). */
static void
trim_body(struct obj *o)
{
	uint8_t *nd, *old;
	bool keep;

	obj_lock(o);
	keep = keeps_all_locked(o) && !(o->flags & OBJF_FILE) && o->_fs != NULL &&
	    o->_fs->base == 0 && o->_fs->cap - o->len > 4096 &&
	    o->_fs->cap - o->len > o->len / 8;
	obj_unlock(o);
	if (!keep || (nd = mem_try_alloc(o->len > 0 ? (size_t)o->len : 1)) == NULL)
		return;
	memcpy(nd, o->data, (size_t)o->len);
	obj_lock(o);
	old = o->data;
	o->data = nd;
	o->_fs->cap = (size_t)o->len;
	obj_unlock(o);
	free(old);
}

void
obj_complete(struct obj *o, const uint8_t sha[DIGEST_LEN])
{
	struct obj_fs *fs;

	trim_body(o);
	obj_lock(o);
	AZ(o->state != OBJ_STREAMING);
	if (o->flags & OBJF_DIGEST)
		AZ(memcmp(o->sha, sha, DIGEST_LEN)); /* readers may be reading it */
	else
		memcpy(o->sha, sha, DIGEST_LEN);
	o->state = OBJ_COMPLETE;
	o->_fs->fill = NULL;
	o->_fs->fill_ops = NULL;
	wake_all_locked(o);
	fs = fs_release_locked(o);
	obj_unlock(o);
	free(fs);
}

void
obj_release_waiters(struct obj *o)
{
	obj_lock(o);
	if (o->state == OBJ_BUSY) {
		o->flags |= OBJF_RELEASED;
		wake_all_locked(o);
	}
	obj_unlock(o);
}

void
obj_fail(struct obj *o, int error_status)
{
	struct obj_fs *fs;

	obj_lock(o);
	if (o->state != OBJ_COMPLETE) {
		o->state = OBJ_FAILED;
		o->error_status = (int16_t)error_status;
	}
	if (o->_fs != NULL) {
		o->_fs->fill = NULL;
		o->_fs->fill_ops = NULL;
	}
	wake_all_locked(o);
	fs = fs_release_locked(o);
	obj_unlock(o);
	free(fs);
}

/* ---------------------------------------------------------------- readers */

void
obj_attach(struct obj *o, struct obj_reader *r)
{
	struct obj_fs *fs = xcalloc(1, sizeof *fs);

	AN(r->wake);
	obj_lock(o);
	AZ(r->attached);
	if (o->_fs == NULL) {
		/* Finished and unread until now: base 0, nothing filling. */
		fs->expected_len = (int64_t)o->len;
		fs->cap = (size_t)o->len;
		o->_fs = fs;
		fs = NULL;
	}
	r->pos = 0;
	r->waiting = false;
	r->attached = true;
	r->_next = o->_fs->readers;
	o->_fs->readers = r;
	obj_unlock(o);
	free(fs);
}

static void
maybe_unpause_locked(struct obj *o)
{
	uint64_t unread = (o->flags & OBJF_FILE) ? o->_fs->file->queued :
	    o->len - min_reader_pos_locked(o);

	if ((o->flags & OBJF_PAUSED) && o->_fs != NULL && o->_fs->fill_ops != NULL &&
	    unread < OBJ_PASS_WINDOW / 2) {
		o->flags &= ~OBJF_PAUSED;
		o->_fs->fill_ops->unpause(o->_fs->fill);
	}
}

void
obj_detach(struct obj *o, struct obj_reader *r)
{
	struct obj_reader **pp;
	struct obj_fs *fs;

	obj_lock(o);
	if (!r->attached) {
		obj_unlock(o);
		return;
	}
	AN(o->_fs);
	for (pp = &o->_fs->readers; *pp != NULL; pp = &(*pp)->_next) {
		if (*pp == r) {
			*pp = r->_next;
			break;
		}
	}
	r->attached = false;
	r->waiting = false;
	r->_next = NULL;
	if (o->_fs->readers == NULL && !keeps_all_locked(o) && o->_fs->fill_ops != NULL &&
	    o->state != OBJ_BUSY) {
		o->flags |= OBJF_ABANDONED;
		o->_fs->fill_ops->abandon(o->_fs->fill);
	} else {
		maybe_unpause_locked(o);
	}
	fs = fs_release_locked(o);
	obj_unlock(o);
	free(fs);
}

enum obj_read
obj_read_locked(struct obj *o, struct obj_reader *r, void *buf, size_t max, size_t *got)
{
	uint64_t avail, base = obj_base_locked(o);
	size_t n;

	*got = 0;
	if (o->state == OBJ_BUSY) {
		r->waiting = true;
		return OBJ_READ_WAIT;
	}
	if (o->flags & OBJF_FILE)
		return file_read_locked(o, r, max, got);
	/* While the body is still arriving, its last byte is held back: the
	 * end of the answer goes out only once the fetch has checked the
	 * whole body (length, stated digest), so a body that fails the check
	 * ends in an error at the client, never as a complete good answer. */
	avail = o->state == OBJ_COMPLETE ? o->len : (o->len > 0 ? o->len - 1 : 0);
	if (r->pos < avail) {
		if (r->pos < base)
			return OBJ_READ_ERROR; /* cannot happen while attached */
		n = (size_t)(avail - r->pos);
		if (n > max)
			n = max;
		memcpy(buf, o->data + (r->pos - base), n);
		r->pos += n;
		*got = n;
		maybe_unpause_locked(o);
		return OBJ_READ_DATA;
	}
	if (o->state == OBJ_COMPLETE)
		return OBJ_READ_EOF;
	if (o->state == OBJ_FAILED)
		return OBJ_READ_ERROR;
	r->waiting = true;
	return OBJ_READ_WAIT;
}

/* ---------------------------------------------------------------- file bodies */

void
obj_chunks_free(struct obj_chunk *c)
{
	struct obj_chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c->buf);
		free(c);
	}
}

void
obj_file_start(struct obj *o, void (*kick)(void *arg), void *arg)
{
	struct obj_file *f = xcalloc(1, sizeof *f);
	struct obj_chunk *c = xcalloc(1, sizeof *c);

	f->fd = -1;
	f->kick = kick;
	f->arg = arg;
	obj_lock(o);
	AZ(o->flags & (OBJF_FILE | OBJF_MARKER));
	AN(o->_fs); /* filling */
	AZ(o->_fs->base);
	AZ(o->state != OBJ_BUSY && o->state != OBJ_STREAMING);
	if (o->len > 0) {
		/* What the memory tier held so far is the file's first chunk. */
		c->buf = o->data;
		c->len = (size_t)o->len;
		f->head = f->tail = c;
		f->queued = o->len;
		c = NULL;
		o->data = NULL;
		o->_fs->cap = 0;
	}
	o->_fs->file = f;
	o->flags |= OBJF_FILE;
	kick(arg); /* the writer opens the file now */
	obj_unlock(o);
	free(c);
}

/* obj_append for OBJF_FILE objects: queue a copy for the writer. */
static int
file_append(struct obj *o, const void *p, size_t n)
{
	struct obj_chunk *c;
	struct obj_file *f;
	uint8_t *buf;

	obj_lock(o);
	f = o->_fs->file;
	if (f->failed) {
		obj_unlock(o);
		return CDN_DECLINED;
	}
	if (f->queued > 0 && f->queued + n > OBJ_PASS_WINDOW) {
		o->flags |= OBJF_PAUSED;
		obj_unlock(o);
		return CDN_AGAIN;
	}
	obj_unlock(o);
	buf = mem_try_alloc(n);
	if (buf == NULL)
		return CDN_NOMEM;
	memcpy(buf, p, n);
	c = xmalloc(sizeof *c);
	c->next = NULL;
	c->buf = buf;
	c->len = n;
	obj_lock(o);
	if (f->tail != NULL)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->queued += n;
	o->len += n;
	if (f->armed) {
		f->armed = false;
		f->kick(f->arg);
	}
	obj_unlock(o);
	return CDN_OK;
}

struct obj_chunk *
obj_file_take(struct obj *o, enum obj_state *st)
{
	struct obj_chunk *c;
	struct obj_file *f;

	obj_lock(o);
	f = o->_fs->file;
	AN(f);
	c = f->head;
	f->head = f->tail = NULL;
	*st = o->state;
	if (c == NULL && (o->state == OBJ_BUSY || o->state == OBJ_STREAMING))
		f->armed = true;
	obj_unlock(o);
	return c;
}

void
obj_file_written(struct obj *o, int fd, uint64_t n)
{
	struct obj_file *f;

	obj_lock(o);
	f = o->_fs->file;
	AN(f);
	if (f->fd < 0 && fd >= 0) {
		f->fd = fd;
		fd = -1;
	}
	AN(f->fd >= 0 || n == 0);
	AN(f->queued >= n);
	f->queued -= n;
	f->written += n;
	maybe_unpause_locked(o);
	wake_all_locked(o);
	obj_unlock(o);
	if (fd >= 0)
		close(fd);
}

void
obj_file_fail(struct obj *o)
{
	obj_lock(o);
	AN(o->_fs->file);
	o->_fs->file->failed = true;
	o->_fs->file->armed = false;
	obj_chunks_free(o->_fs->file->head);
	o->_fs->file->head = o->_fs->file->tail = NULL;
	o->_fs->file->queued = 0;
	/* A fetch paused on a full queue must wake to see the failure. */
	maybe_unpause_locked(o);
	wake_all_locked(o);
	obj_unlock(o);
}

bool
obj_body_ready(struct obj *o)
{
	bool ready;

	obj_lock(o);
	ready = o->state == OBJ_COMPLETE && (!(o->flags & OBJF_FILE) ||
	    (o->_fs->file->fd >= 0 && o->_fs->file->written == o->len));
	obj_unlock(o);
	return ready;
}

int
obj_file_fd(const struct obj *o)
{
	AN(o->_fs->file);
	return o->_fs->file->fd;
}

static enum obj_read
file_read_locked(struct obj *o, struct obj_reader *r, size_t max, size_t *got)
{
	const struct obj_file *f = o->_fs->file;
	uint64_t avail, n;

	/* The last byte is held back until the fetch has checked the body,
	 * as for memory bodies (see obj_read_locked). */
	avail = o->state == OBJ_COMPLETE ? o->len : (o->len > 0 ? o->len - 1 : 0);
	if (avail > f->written)
		avail = f->written;
	if (r->pos < avail) {
		n = avail - r->pos;
		if (n > max)
			n = max;
		r->fd = f->fd;
		r->pos += n;
		*got = (size_t)n;
		return OBJ_READ_FILE;
	}
	if (o->state == OBJ_COMPLETE && r->pos >= o->len)
		return OBJ_READ_EOF;
	if (o->state == OBJ_FAILED || f->failed)
		return OBJ_READ_ERROR;
	r->waiting = true;
	return OBJ_READ_WAIT;
}

/* ---------------------------------------------------------------- vary markers */

void
obj_set_gen(struct obj *o, uint64_t gen)
{
	struct obj_marker *m = xcalloc(1, sizeof *m);

	m->gen = gen;
	obj_lock(o);
	AZ(o->state != OBJ_BUSY);
	AZ(o->flags & OBJF_FILE);
	AN(o->_fs); /* BUSY */
	if (o->flags & OBJF_MARKER) {
		free(o->_fs->marker->vhashes);
		free(o->_fs->marker);
	}
	o->_fs->marker = m;
	o->flags |= OBJF_MARKER;
	obj_unlock(o);
}

uint64_t
obj_gen(const struct obj *o)
{
	return (o->flags & OBJF_MARKER) && o->_fs->marker != NULL ? o->_fs->marker->gen : 0;
}

bool
obj_variant_admit(struct obj *o, uint64_t h, uint64_t max)
{
	struct obj_marker *m;
	uint64_t *v = NULL;
	bool ok = false;

	obj_lock(o);
	AN(o->flags & OBJF_MARKER);
	m = o->_fs->marker;
	for (unsigned i = 0; i < m->nvariants && !ok; i++)
		ok = m->vhashes[i] == h;
	if (!ok && m->nvariants < max && m->vhashes == NULL) {
		/* Allocate outside the lock, then look again. */
		obj_unlock(o);
		v = xcalloc(max, sizeof *v);
		obj_lock(o);
		if (m->vhashes == NULL) {
			m->vhashes = v;
			v = NULL;
		}
	}
	for (unsigned i = 0; i < m->nvariants && !ok; i++)
		ok = m->vhashes[i] == h;
	if (!ok && m->nvariants < max) {
		m->vhashes[m->nvariants++] = h;
		ok = true;
	}
	obj_unlock(o);
	free(v);
	return ok;
}
