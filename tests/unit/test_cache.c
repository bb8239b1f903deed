/*
 * test_cache.c: the memory tier (index, LRU, byte limit) and the object
 * fill/read protocol that coalesced requests rely on.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/cc.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "store/cache.h"
#include "store/evict.h"
#include "store/obj.h"
#include "util/err.h"

static struct obj *
mkobj(const char *key)
{
	return obj_new(key, strlen(key), key_hash(key, strlen(key)));
}

/* Fill o as a complete cacheable object with n body bytes. */
static void
fill(struct obj *o, size_t n)
{
	struct hdrs h;
	uint8_t sha[DIGEST_LEN] = { 0 };
	char *body = calloc(1, n + 1);

	hdrs_init(&h);
	hdrs_add(&h, "Cache-Control", "max-age=60");
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	assert_int_equal(obj_append(o, body, n, 1 << 30), CDN_OK);
	obj_complete(o, sha);
	free(body);
}

/* Insert a complete object of n bytes and commit it. */
static struct obj *
put(struct cache *c, const char *key, size_t n, time_t now)
{
	struct obj *o = mkobj(key), *got;

	got = cache_insert(c, o);
	assert_ptr_equal(got, o);
	obj_unref(&got);
	fill(o, n);
	cache_commit(c, o, now);
	return o; /* the creator's reference */
}

static bool
present(struct cache *c, const char *key)
{
	struct obj *o = cache_lookup(c, key, strlen(key), key_hash(key, strlen(key)));

	if (o == NULL)
		return false;
	obj_unref(&o);
	return true;
}

static void
lookup_of_unknown_key_is_a_miss(void **state)
{
	struct cache *c = cache_new(1 << 20);

	assert_false(present(c, "/nope"));
	cache_free(&c);
	assert_null(c);
}

static void
insert_then_lookup_finds_the_same_object(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o = put(c, "/a", 100, 1), *l;

	l = cache_lookup(c, "/a", 2, key_hash("/a", 2));
	assert_ptr_equal(l, o);
	obj_unref(&l);
	assert_null(l);
	obj_unref(&o);
	cache_free(&c);
}

static void
second_insert_of_a_key_returns_the_first_busy_object(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *a = mkobj("/k"), *b = mkobj("/k"), *ga, *gb;

	ga = cache_insert(c, a);
	gb = cache_insert(c, b);
	assert_ptr_equal(ga, a);
	assert_ptr_equal(gb, a); /* the later miss waits on the first fetch */
	assert_int_equal(obj_state(gb), OBJ_BUSY);
	obj_unref(&ga);
	obj_unref(&gb);
	obj_unref(&a);
	obj_unref(&b);
	cache_free(&c);
}

static void
replace_swaps_only_the_current_object(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *old = put(c, "/r", 10, 1), *n1 = mkobj("/r"), *n2 = mkobj("/r"), *l;

	assert_true(cache_replace(c, old, n1));
	assert_false(cache_replace(c, old, n2)); /* old is gone: a racing refresh loses */
	l = cache_lookup(c, "/r", 2, key_hash("/r", 2));
	assert_ptr_equal(l, n1);
	obj_unref(&l);
	obj_unref(&old);
	obj_unref(&n1);
	obj_unref(&n2);
	cache_free(&c);
}

static void
byte_limit_evicts_least_recently_used_first(void **state)
{
	struct cache *c = cache_new(10000);
	struct obj *o[4];
	struct cache_stats st;

	o[0] = put(c, "/0", 2500, 1);
	o[1] = put(c, "/1", 2500, 1);
	o[2] = put(c, "/2", 2500, 1);
	cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 0);
	o[3] = put(c, "/3", 2500, 1);
	cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_true(st.bytes <= 10000);
	assert_false(present(c, "/0"));
	assert_true(present(c, "/1"));
	assert_true(present(c, "/3"));
	for (int i = 0; i < 4; i++)
		obj_unref(&o[i]);
	cache_free(&c);
}

static void
a_touched_object_survives_eviction(void **state)
{
	struct cache *c = cache_new(10000);
	struct obj *o[4];

	o[0] = put(c, "/0", 2500, 1);
	o[1] = put(c, "/1", 2500, 1);
	o[2] = put(c, "/2", 2500, 1);
	cache_touch(c, o[0], 2); /* a hit on /0 makes /1 the coldest */
	o[3] = put(c, "/3", 2500, 2);
	assert_true(present(c, "/0"));
	assert_false(present(c, "/1"));
	for (int i = 0; i < 4; i++)
		obj_unref(&o[i]);
	cache_free(&c);
}

/* Insert a complete object into a cache made with a policy. */
static void
frequent_object_survives_under_lfu_but_not_lru(void **state)
{
	for (int pol = EVICT_LRU; pol <= EVICT_LFU; pol++) {
		struct cache *c = cache_new_policy(10000, pol);
		struct obj *o[4];

		o[0] = put(c, "/0", 2500, 1);
		for (time_t t = 2; t <= 6; t++)
			cache_touch(c, o[0], t);    /* /0: five hits, last at t=6 */
		o[1] = put(c, "/1", 2500, 7);       /* newer, never hit */
		o[2] = put(c, "/2", 2500, 8);
		o[3] = put(c, "/3", 2500, 9);       /* one must go */
		if (pol == EVICT_LRU) {
			assert_false(present(c, "/0")); /* least recently used */
			assert_true(present(c, "/1"));
		} else {
			assert_true(present(c, "/0"));  /* most frequently used */
			assert_false(present(c, "/1"));
		}
		for (int i = 0; i < 4; i++)
			obj_unref(&o[i]);
		cache_free(&c);
	}
}

static void
remove_takes_object_out_of_index_and_byte_count(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o = put(c, "/x", 5000, 1);
	struct cache_stats st;

	cache_remove(c, o);
	cache_get_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.objects, 0);
	assert_false(present(c, "/x"));
	cache_remove(c, o); /* a second remove is harmless */
	obj_unref(&o);
	cache_free(&c);
}

/* ---------------------------------------------------------------- fill/read */

struct waker {
	struct obj_reader rd;
	int wakes;
};

static void
count_wake(struct obj_reader *r)
{
	((struct waker *)r->arg)->wakes++;
}

static enum obj_read
read_some(struct obj *o, struct obj_reader *r, char *buf, size_t max, size_t *got)
{
	enum obj_read rr;

	obj_lock(o);
	rr = obj_read_locked(o, r, buf, max, got);
	obj_unlock(o);
	return rr;
}

static void
reader_sleeps_until_head_and_bytes_arrive_then_sees_eof(void **state)
{
	struct obj *o = mkobj("/w");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	char buf[16];
	size_t got;
	uint8_t sha[DIGEST_LEN] = { 0 };

	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	assert_int_equal(w.wakes, 1);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	assert_int_equal(obj_append(o, "hello", 5, 1 << 20), CDN_OK);
	assert_int_equal(w.wakes, 2);
	/* While filling, the last byte is held back until the body is checked. */
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_DATA);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "hell", 4);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	obj_complete(o, sha);
	assert_int_equal(w.wakes, 3);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_DATA);
	assert_int_equal(got, 1);
	assert_int_equal(buf[0], 'o');
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_EOF);
	obj_detach(o, &w.rd);
	obj_unref(&o);
}

static void
a_body_failing_its_check_never_reaches_the_reader_whole(void **state)
{
	struct obj *o = mkobj("/bad");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	char buf[16];
	size_t got, total = 0;
	enum obj_read rr;

	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	assert_int_equal(obj_append(o, "0123456789", 10, 1 << 20), CDN_OK);
	while ((rr = read_some(o, &w.rd, buf, sizeof buf, &got)) == OBJ_READ_DATA)
		total += got;
	assert_int_equal(rr, OBJ_READ_WAIT);
	assert_int_equal(total, 9);
	obj_fail(o, 502); /* e.g. the stated digest did not match */
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_ERROR);
	obj_detach(o, &w.rd);
	obj_unref(&o);
}

static void
failed_fill_wakes_readers_with_an_error(void **state)
{
	struct obj *o = mkobj("/f");
	struct waker w = { .wakes = 0 };
	char buf[4];
	size_t got;

	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	obj_fail(o, 504);
	assert_int_equal(w.wakes, 1);
	assert_int_equal(o->error_status, 504);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_ERROR);
	obj_detach(o, &w.rd);
	obj_unref(&o);
}

static int unpauses, abandons;
static void on_unpause(void *fill) { unpauses++; }
static void on_abandon(void *fill) { abandons++; }
static const struct obj_fill_ops test_ops = { on_unpause, on_abandon };

static void
uncached_body_is_windowed_and_paused_until_the_reader_catches_up(void **state)
{
	struct obj *o = mkobj("/big");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	size_t chunk = 256 * 1024, got, total = 0;
	char *data = calloc(1, chunk), *buf = malloc(chunk);
	int rc;

	unpauses = abandons = 0;
	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	obj_set_fill(o, &test_ops, (void *)1);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, 0); /* not cacheable: a pass */
	while ((rc = obj_append(o, data, chunk, 1 << 30)) == CDN_OK)
		total += chunk;
	assert_int_equal(rc, CDN_AGAIN);
	assert_true(total <= OBJ_PASS_WINDOW);
	assert_true(o->flags & OBJF_PAUSED);
	while (read_some(o, &w.rd, buf, chunk, &got) == OBJ_READ_DATA)
		;
	assert_int_equal(unpauses, 1);
	/* With the reader caught up the window has room, and consumed bytes go. */
	assert_int_equal(obj_append(o, data, chunk, 1 << 30), CDN_OK);
	assert_true(obj_base(o) > 0);
	obj_detach(o, &w.rd);
	assert_int_equal(abandons, 1); /* last reader gone, nothing to keep */
	obj_unref(&o);
	free(data);
	free(buf);
}

static void
cacheable_body_over_the_limit_stops_being_cacheable(void **state)
{
	struct obj *o = mkobj("/huge");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	char data[1000] = { 0 };

	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	assert_int_equal(obj_append(o, data, sizeof data, 1500), CDN_OK);
	assert_int_equal(obj_append(o, data, sizeof data, 1500), CDN_TOOBIG);
	assert_true(o->flags & OBJF_TOO_BIG);
	obj_detach(o, &w.rd);
	obj_unref(&o);
}

/* ---------------------------------------------------------------- file bodies */

static int kicks;
static void count_kick(void *arg) { (void)arg; kicks++; }

/* Write what the object queued to f (as the spool writer does). */
static uint64_t
drain_to(struct obj *o, FILE *f, int fd, enum obj_state *st)
{
	struct obj_chunk *c = obj_file_take(o, st), *k;
	uint64_t n = 0;

	for (k = c; k != NULL; k = k->next) {
		assert_int_equal(fwrite(k->buf, 1, k->len, f), k->len);
		n += k->len;
	}
	fflush(f);
	obj_chunks_free(c);
	obj_file_written(o, fd, n);
	return n;
}

static void
file_body_readers_read_only_what_is_written_then_eof(void **state)
{
	struct obj *o = mkobj("/file");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	char tmpl[] = "/tmp/test_cache.XXXXXX", buf[64];
	int wfd = mkstemp(tmpl), rfd;
	FILE *f;
	enum obj_state st;
	size_t got;
	uint8_t sha[DIGEST_LEN] = { 0 };

	assert_true(wfd >= 0);
	f = fdopen(wfd, "w");
	rfd = open(tmpl, O_RDONLY);
	unlink(tmpl);
	kicks = 0;
	abandons = 0;
	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	obj_set_fill(o, &test_ops, (void *)1);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	/* 10 bytes in memory, then it outgrows the limit: to a file. */
	assert_int_equal(obj_append(o, "0123456789", 10, 1 << 20), CDN_OK);
	assert_int_equal(read_some(o, &w.rd, buf, 4, &got), OBJ_READ_DATA);
	assert_int_equal(got, 4);
	obj_file_start(o, count_kick, NULL);
	assert_int_equal(kicks, 1);
	assert_true(o->flags & OBJF_FILE);
	/* Nothing written yet: the reader waits, even for bytes it could
	 * have had from memory before. */
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	assert_int_equal(obj_append(o, "abcdef", 6, 1 << 20), CDN_OK);
	assert_int_equal(drain_to(o, f, rfd, &st), 16);
	assert_int_equal(st, OBJ_STREAMING);
	assert_true(w.wakes >= 1);
	/* The last byte is held back until the fetch completes. */
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_FILE);
	assert_int_equal(got, 11);
	assert_int_equal(pread(w.rd.fd, buf, got, (off_t)(w.rd.pos - got)), 11);
	assert_memory_equal(buf, "456789abcde", 11);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_WAIT);
	/* The writer found nothing: its kick is armed; completion fires it. */
	assert_null(obj_file_take(o, &st));
	kicks = 0;
	obj_complete(o, sha);
	assert_int_equal(kicks, 1);
	assert_true(obj_body_ready(o));
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_FILE);
	assert_int_equal(got, 1);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_EOF);
	obj_detach(o, &w.rd);
	assert_int_equal(abandons, 0);
	obj_unref(&o);
	fclose(f);
}

static void
file_body_queue_is_bounded_and_a_failed_file_stops_the_fill(void **state)
{
	struct obj *o = mkobj("/file2");
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	size_t chunk = 256 * 1024, total = 0, got;
	char *data = calloc(1, chunk), buf[16];
	enum obj_state st;
	int rc;

	unpauses = abandons = 0;
	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	obj_set_fill(o, &test_ops, (void *)1);
	obj_file_start(o, count_kick, NULL);
	hdrs_init(&h);
	obj_set_headers(o, 200, &h, OBJF_CACHEABLE);
	while ((rc = obj_append(o, data, chunk, 1 << 20)) == CDN_OK)
		total += chunk;
	assert_int_equal(rc, CDN_AGAIN);
	assert_true(total <= OBJ_PASS_WINDOW);
	assert_true(o->flags & OBJF_PAUSED);
	obj_chunks_free(obj_file_take(o, &st));
	obj_file_fail(o);
	assert_int_equal(unpauses, 1); /* woken to see the failure */
	assert_int_equal(obj_append(o, data, chunk, 1 << 20), CDN_DECLINED);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_ERROR);
	obj_detach(o, &w.rd);
	obj_unref(&o);
	free(data);
}

static void
a_disk_hit_file_object_is_complete_and_ready(void **state)
{
	struct obj *o = mkobj("/disk");
	struct hdrs h;
	uint8_t sha[DIGEST_LEN] = { 1 };
	int fd = open("/dev/null", O_RDONLY);

	hdrs_init(&h);
	hdrs_add(&h, "Content-Type", "text/plain");
	obj_fill_file(o, 200, &h, OBJF_CACHEABLE, fd, 0, sha);
	assert_int_equal(obj_state(o), OBJ_COMPLETE);
	assert_true(obj_body_ready(o));
	assert_int_equal(obj_file_fd(o), fd);
	assert_string_equal(hdrs_get(&o->hdrs, "Content-Type"), "text/plain");
	obj_unref(&o); /* closes fd */
}

/* ---------------------------------------------------------------- small objects */

static void
response_directives_and_times_are_clamped_to_32_bits(void **state)
{
	struct cc c, back;
	struct obj_cc oc;

	cc_init(&c);
	c.max_age = CC_DELTA_MAX;
	c.s_maxage = 100;
	c.sie = 5000000000LL;
	obj_cc_set(&oc, &c);
	obj_cc_get(&oc, &back);
	assert_int_equal(back.max_age, INT32_MAX);
	assert_int_equal(back.s_maxage, 100);
	assert_int_equal(back.swr, CC_UNSET);
	assert_int_equal(back.sie, INT32_MAX);
	assert_int_equal(back.max_stale, CC_UNSET);
	assert_int_equal(obj_clamp32(-5000000000LL), INT32_MIN);
	assert_int_equal(obj_clamp32(42), 42);
}

static void
keys_live_in_the_object_until_rekeyed(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct obj *o = mkobj("/plain"), *in, *f;

	assert_int_equal(obj_hash(o), key_hash("/plain", 6));
	in = cache_insert(c, o);
	obj_unref(&in);
	cache_rekey(c, o, strdup("/plain#v"), 8);
	assert_int_equal(o->keylen, 8);
	assert_int_equal(obj_hash(o), key_hash("/plain#v", 8));
	assert_false(present(c, "/plain"));
	f = cache_lookup(c, "/plain#v", 8, key_hash("/plain#v", 8));
	assert_ptr_equal(f, o);
	obj_unref(&f);
	obj_unref(&o);
	cache_free(&c);
}

static void
vary_marker_admits_a_bounded_number_of_variants(void **state)
{
	struct obj *m = mkobj("/m");

	obj_set_gen(m, 77);
	assert_int_equal(obj_gen(m), 77);
	assert_true(m->flags & OBJF_MARKER);
	assert_true(obj_variant_admit(m, 1, 2));
	assert_true(obj_variant_admit(m, 2, 2));
	assert_true(obj_variant_admit(m, 1, 2));  /* known: a refresh */
	assert_false(obj_variant_admit(m, 3, 2)); /* a third one: refused */
	{
		struct obj *p = mkobj("/p");

		assert_int_equal(obj_gen(p), 0);
		obj_unref(&p);
	}
	obj_unref(&m);
}

static void
fill_state_goes_when_finished_and_unread_and_comes_back_for_a_reader(void **state)
{
	struct obj *o = mkobj("/fs");
	struct waker w = { .wakes = 0 };
	char buf[16];
	size_t got;

	obj_set_expected_len(o, 5);
	assert_int_equal(obj_expected_len(o), 5);
	fill(o, 5);
	assert_null(o->_fs);            /* complete, nobody reading */
	assert_int_equal(obj_expected_len(o), 5);
	assert_int_equal(obj_base(o), 0);
	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(o, &w.rd);
	assert_non_null(o->_fs);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_DATA);
	assert_int_equal(got, 5);
	assert_int_equal(read_some(o, &w.rd, buf, sizeof buf, &got), OBJ_READ_EOF);
	obj_detach(o, &w.rd);
	assert_null(o->_fs);
	obj_unref(&o);
}

/* A file body or a vary marker keeps the block its file or marker hangs
 * off once finished and unread (the fill state in it reset as a plain
 * object's would be), and a reader attached later uses that same block. */
static void
file_bodies_and_markers_keep_their_side_block(void **state)
{
	struct obj *f = mkobj("/file"), *m = mkobj("/marker");
	struct obj_fs *fs;
	struct waker w = { .wakes = 0 };
	struct hdrs h;
	uint8_t sha[DIGEST_LEN] = { 1 };
	uint8_t *buf = malloc(1);
	char rbuf[4];
	size_t got;
	int fd = open("/dev/null", O_RDONLY);

	assert_true(fd >= 0);
	obj_set_expected_len(f, -1);
	hdrs_init(&h);
	obj_fill_file(f, 200, &h, OBJF_CACHEABLE, fd, 3, sha);
	assert_non_null(fs = f->_fs);
	assert_null(fs->fill_ops);
	assert_int_equal(obj_expected_len(f), 3); /* as a plain object's */
	assert_int_equal(obj_base(f), 0);
	assert_int_equal(obj_file_fd(f), fd);
	w.rd.wake = count_wake;
	w.rd.arg = &w;
	obj_attach(f, &w.rd);
	assert_ptr_equal(f->_fs, fs);
	assert_int_equal(read_some(f, &w.rd, rbuf, sizeof rbuf, &got), OBJ_READ_FILE);
	assert_int_equal(got, 3);
	assert_int_equal(read_some(f, &w.rd, rbuf, sizeof rbuf, &got), OBJ_READ_EOF);
	obj_detach(f, &w.rd);
	assert_ptr_equal(f->_fs, fs);
	assert_int_equal(obj_file_fd(f), fd);
	obj_unref(&f); /* closes fd */

	obj_set_gen(m, 9);
	hdrs_init(&h);
	hdrs_add(&h, "Vary", "Accept-Encoding");
	obj_fill_whole(m, 200, &h, OBJF_CACHEABLE, buf, 0, sha);
	assert_non_null(m->_fs);
	assert_int_equal(obj_gen(m), 9);
	assert_true(obj_variant_admit(m, 5, 4));
	assert_int_equal(obj_expected_len(m), 0);
	obj_unref(&m);
}

/* The memory tier's budget (issue 4): with a key of up to 31 bytes, the
 * object is one 224-byte malloc chunk (bench/obj-mem measures it). */
static void
an_object_is_184_bytes_on_lp64(void **state)
{
	if (sizeof(void *) != 8)
		skip();
	assert_true(sizeof(struct obj) <= 184);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_of_unknown_key_is_a_miss),
		cmocka_unit_test(insert_then_lookup_finds_the_same_object),
		cmocka_unit_test(second_insert_of_a_key_returns_the_first_busy_object),
		cmocka_unit_test(replace_swaps_only_the_current_object),
		cmocka_unit_test(byte_limit_evicts_least_recently_used_first),
		cmocka_unit_test(a_touched_object_survives_eviction),
		cmocka_unit_test(frequent_object_survives_under_lfu_but_not_lru),
		cmocka_unit_test(remove_takes_object_out_of_index_and_byte_count),
		cmocka_unit_test(reader_sleeps_until_head_and_bytes_arrive_then_sees_eof),
		cmocka_unit_test(failed_fill_wakes_readers_with_an_error),
		cmocka_unit_test(a_body_failing_its_check_never_reaches_the_reader_whole),
		cmocka_unit_test(uncached_body_is_windowed_and_paused_until_the_reader_catches_up),
		cmocka_unit_test(cacheable_body_over_the_limit_stops_being_cacheable),
		cmocka_unit_test(file_body_readers_read_only_what_is_written_then_eof),
		cmocka_unit_test(file_body_queue_is_bounded_and_a_failed_file_stops_the_fill),
		cmocka_unit_test(a_disk_hit_file_object_is_complete_and_ready),
		cmocka_unit_test(response_directives_and_times_are_clamped_to_32_bits),
		cmocka_unit_test(keys_live_in_the_object_until_rekeyed),
		cmocka_unit_test(vary_marker_admits_a_bounded_number_of_variants),
		cmocka_unit_test(fill_state_goes_when_finished_and_unread_and_comes_back_for_a_reader),
		cmocka_unit_test(file_bodies_and_markers_keep_their_side_block),
		cmocka_unit_test(an_object_is_184_bytes_on_lp64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
