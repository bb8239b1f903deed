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

#include "store/obj.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

static void wake_all_locked(struct obj *o);
static uint64_t min_reader_pos_locked(const struct obj *o);

void
obj_cc_set(struct obj_cc *d, const struct cc *c)
{
	d->flags = c->flags;
	d->max_age = c->max_age;
	d->s_maxage = c->s_maxage;
	d->max_stale = c->max_stale;
	d->min_fresh = c->min_fresh;
	d->swr = c->swr;
	d->sie = c->sie;
}

void
obj_cc_get(const struct obj_cc *s, struct cc *c)
{
	c->flags = s->flags;
	c->max_age = s->max_age;
	c->s_maxage = s->s_maxage;
	c->max_stale = s->max_stale;
	c->min_fresh = s->min_fresh;
	c->swr = s->swr;
	c->sie = s->sie;
	c->no_cache_fields[0] = '\0';
	c->private_fields[0] = '\0';
}

struct obj *
obj_new(const char *key, size_t keylen, uint64_t hash)
{
	struct obj *o = xcalloc(1, sizeof *o);

	o->magic = OBJ_MAGIC;
	atomic_init(&o->_refcnt, 1);
	o->key = xstrndup(key, keylen);
	o->keylen = keylen;
	o->hash = hash;
	PTOK(pthread_mutex_init(&o->mtx, NULL));
	o->state = OBJ_BUSY;
	o->expected_len = -1;
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
	AZ(o->_in_lru);
	AZ(o->readers);
	hdrs_fini(&o->hdrs);
	free(o->data);
	free(o->key);
	free(o->_vhashes);
	PTOK(pthread_mutex_destroy(&o->mtx));
	o->magic = 0;
	free(o);
}

enum obj_state
obj_state(struct obj *o)
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
	o->fill_ops = ops;
	o->fill = fill;
	obj_unlock(o);
}

static void
wake_all_locked(struct obj *o)
{
	for (struct obj_reader *r = o->readers; r != NULL; r = r->_next) {
		if (r->waiting) {
			r->waiting = false;
			r->wake(r);
		}
	}
}

static uint64_t
min_reader_pos_locked(const struct obj *o)
{
	uint64_t m = o->len;

	for (const struct obj_reader *r = o->readers; r != NULL; r = r->_next)
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

	if (n == 0)
		return CDN_OK;
	obj_lock(o);
	AZ(o->state != OBJ_STREAMING);
	if (o->flags & OBJF_ABANDONED) {
		obj_unlock(o);
		return CDN_DECLINED;
	}
	if (keeps_all_locked(o) && o->len + n > max_keep) {
		o->flags |= OBJF_TOO_BIG;
		rc = CDN_TOOBIG;
	}
	keep_from = o->base;
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
		if (minpos - o->base >= o->cap / 2 || o->len - o->base + n > o->cap)
			keep_from = minpos;
	}
	have = (size_t)(o->len - keep_from);
	need = have + n;
	obj_unlock(o);

	/* Only this thread writes the buffer, so it can be read without the
	 * lock while a bigger one is prepared; readers never see the swap half
	 * done because they copy under the lock. */
	if (need > o->cap || keep_from != o->base) {
		newcap = need > o->cap ? o->cap * 2 : o->cap;
		if (newcap < need)
			newcap = need;
		if (newcap < 16384)
			newcap = 16384;
		if (o->expected_len > 0 && (uint64_t)o->expected_len <= max_keep &&
		    (uint64_t)o->expected_len > newcap && rc != CDN_TOOBIG)
			newcap = (size_t)o->expected_len;
		nd = mem_try_alloc(newcap);
		if (nd == NULL)
			return CDN_NOMEM;
		if (have > 0)
			memcpy(nd, o->data + (keep_from - o->base), have);
		memcpy(nd + have, p, n);
	}
	obj_lock(o);
	if (nd != NULL) {
		uint8_t *old = o->data;

		o->data = nd;
		o->cap = newcap;
		o->base = keep_from;
		o->len += n;
		wake_all_locked(o);
		obj_unlock(o);
		free(old);
	} else {
		memcpy(o->data + (o->len - o->base), p, n);
		o->len += n;
		wake_all_locked(o);
		obj_unlock(o);
	}
	return rc;
}

void
obj_fill_whole(struct obj *o, int status, struct hdrs *hdrs, unsigned flags, uint8_t *buf,
    uint64_t len, const uint8_t sha[DIGEST_LEN])
{
	uint8_t *old;

	obj_lock(o);
	AZ(o->state != OBJ_BUSY);
	o->status = status;
	hdrs_fini(&o->hdrs);
	o->hdrs = *hdrs;
	hdrs_init(hdrs);
	o->flags |= flags;
	old = o->data;
	o->data = buf;
	o->cap = (size_t)len;
	o->base = 0;
	o->len = len;
	memcpy(o->sha, sha, DIGEST_LEN);
	o->state = OBJ_COMPLETE;
	o->fill = NULL;
	o->fill_ops = NULL;
	wake_all_locked(o);
	obj_unlock(o);
	free(old);
}

void
obj_complete(struct obj *o, const uint8_t sha[DIGEST_LEN])
{
	obj_lock(o);
	AZ(o->state != OBJ_STREAMING);
	memcpy(o->sha, sha, DIGEST_LEN);
	o->state = OBJ_COMPLETE;
	o->fill = NULL;
	o->fill_ops = NULL;
	wake_all_locked(o);
	obj_unlock(o);
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
	obj_lock(o);
	if (o->state != OBJ_COMPLETE) {
		o->state = OBJ_FAILED;
		o->error_status = error_status;
	}
	o->fill = NULL;
	o->fill_ops = NULL;
	wake_all_locked(o);
	obj_unlock(o);
}

/* ---------------------------------------------------------------- readers */

void
obj_attach(struct obj *o, struct obj_reader *r)
{
	AN(r->wake);
	obj_lock(o);
	AZ(r->attached);
	r->pos = 0;
	r->waiting = false;
	r->attached = true;
	r->_next = o->readers;
	o->readers = r;
	obj_unlock(o);
}

static void
maybe_unpause_locked(struct obj *o)
{
	if ((o->flags & OBJF_PAUSED) && o->fill_ops != NULL &&
	    o->len - min_reader_pos_locked(o) < OBJ_PASS_WINDOW / 2) {
		o->flags &= ~OBJF_PAUSED;
		o->fill_ops->unpause(o->fill);
	}
}

void
obj_detach(struct obj *o, struct obj_reader *r)
{
	struct obj_reader **pp;

	obj_lock(o);
	if (!r->attached) {
		obj_unlock(o);
		return;
	}
	for (pp = &o->readers; *pp != NULL; pp = &(*pp)->_next) {
		if (*pp == r) {
			*pp = r->_next;
			break;
		}
	}
	r->attached = false;
	r->waiting = false;
	r->_next = NULL;
	if (o->readers == NULL && !keeps_all_locked(o) && o->fill_ops != NULL &&
	    o->state != OBJ_BUSY) {
		o->flags |= OBJF_ABANDONED;
		o->fill_ops->abandon(o->fill);
	} else {
		maybe_unpause_locked(o);
	}
	obj_unlock(o);
}

enum obj_read
obj_read_locked(struct obj *o, struct obj_reader *r, void *buf, size_t max, size_t *got)
{
	uint64_t avail;
	size_t n;

	*got = 0;
	if (o->state == OBJ_BUSY) {
		r->waiting = true;
		return OBJ_READ_WAIT;
	}
	/* While the body is still arriving, its last byte is held back: the
	 * end of the answer goes out only once the fetch has checked the
	 * whole body (length, stated digest), so a body that fails the check
	 * ends in an error at the client, never as a complete good answer. */
	avail = o->state == OBJ_COMPLETE ? o->len : (o->len > 0 ? o->len - 1 : 0);
	if (r->pos < avail) {
		if (r->pos < o->base)
			return OBJ_READ_ERROR; /* cannot happen while attached */
		n = (size_t)(avail - r->pos);
		if (n > max)
			n = max;
		memcpy(buf, o->data + (r->pos - o->base), n);
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
