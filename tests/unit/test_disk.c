/*
 * test_disk.c: the disk tier on real files in a mkdtemp directory under
 * /tmp, with real SQLite and real fsync: round trips through a restart,
 * corruption caught and dropped, cleanup at open, byte limits with LRU and
 * LFU, pinning, the Bloom filter, threads, and kill -9 at random moments.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/disk.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/log.h"

#define OBJ_SIZE 8000           /* two blocks: charges are easy to reason about */

/* ---------------------------------------------------------------- helpers */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup_dir(void **state)
{
	char *dir = strdup("/tmp/disk-test-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int
teardown_dir(void **state)
{
	char *dir = *state;

	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void
gen_body(uint8_t *buf, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(xorshift(&s) >> 56);
}

static void
mkhead(struct disk_head *h, uint64_t seed, size_t size)
{
	char v[32];

	disk_head_init(h);
	h->status = 200;
	h->flags = 0x20;
	h->request_time = 1700000000;
	h->response_time = 1700000001;
	h->initial_age = 3;
	h->lifetime = 600;
	hdrs_add(&h->hdrs, "Content-Type", "text/plain");
	hdrs_add(&h->hdrs, "Cache-Control", "max-age=600, s-maxage=60");
	snprintf(v, sizeof v, "%" PRIu64, seed);
	hdrs_add(&h->hdrs, "X-Seed", v);
	snprintf(v, sizeof v, "%zu", size);
	hdrs_add(&h->hdrs, "X-Len", v);
}

static int
store_obj(struct disk *d, const char *key, size_t size, uint64_t seed, unsigned flags)
{
	struct disk_head h;
	struct disk_put put = { .head = &h, .flags = flags };
	uint8_t *body = malloc(size + 1), sha[DIGEST_LEN];
	int rc;

	gen_body(body, size, seed);
	digest_sha256(body, size, sha);
	put.sha = sha;
	mkhead(&h, seed, size);
	rc = disk_store(d, key, strlen(key), body, size, &put);
	disk_head_fini(&h);
	free(body);
	return rc;
}

static uint64_t
charge_of(const char *key, size_t size, uint64_t seed)
{
	struct disk_head h;
	uint8_t *enc;
	size_t n;

	mkhead(&h, seed, size);
	disk_head_encode(&h, &enc, &n);
	disk_head_fini(&h);
	free(enc);
	return disk_charge(size, strlen(key), n);
}

/* Look key up and check body and head against (size, seed). Returns the
 * lookup's code (CDN_OK only if everything matched). */
static int
check_obj(struct disk *d, const char *key, size_t size, uint64_t seed)
{
	struct disk_hit hit;
	uint8_t *want = malloc(size + 1), *got = malloc(size + 1);
	char v[32];
	int rc;

	rc = disk_lookup(d, key, strlen(key), &hit);
	if (rc == CDN_OK) {
		assert_int_equal(hit.size, size);
		rc = disk_hit_read(d, &hit, got);
	}
	if (rc == CDN_OK) {
		gen_body(want, size, seed);
		assert_memory_equal(got, want, size);
		assert_true(hit.verified);
		assert_int_equal(hit.head.status, 200);
		assert_int_equal(hit.head.flags, 0x20);
		assert_int_equal(hit.head.request_time, 1700000000);
		assert_int_equal(hit.head.response_time, 1700000001);
		assert_int_equal(hit.head.initial_age, 3);
		assert_int_equal(hit.head.lifetime, 600);
		assert_int_equal(hit.head.hdrs.n, 4);
		assert_string_equal(hdrs_get(&hit.head.hdrs, "Cache-Control"),
		    "max-age=600, s-maxage=60");
		snprintf(v, sizeof v, "%" PRIu64, seed);
		assert_string_equal(hdrs_get(&hit.head.hdrs, "X-Seed"), v);
	}
	disk_hit_fini(&hit);
	free(want);
	free(got);
	return rc;
}

static struct disk *
open_disk(const char *dir, uint64_t limit, enum evict_policy p)
{
	struct disk *d = NULL;

	assert_int_equal(disk_open(dir, limit, p, NULL, &d), CDN_OK);
	assert_non_null(d);
	return d;
}

static struct disk *
open_fast(const char *dir, uint64_t limit, enum evict_policy p)
{
	struct disk_opts o;
	struct disk *d = NULL;

	disk_opts_default(&o);
	o.durable = false;
	assert_int_equal(disk_open(dir, limit, p, &o, &d), CDN_OK);
	return d;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
file_of(struct disk *d, const char *key, char *buf, size_t len)
{
	assert_int_equal(disk_file_of(d, key, strlen(key), buf, len), CDN_OK);
	assert_true(exists(buf));
}

/* Regular files under DIR/objects. */
static unsigned nfiles_found;
static int
count_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (flag == FTW_F)
		nfiles_found++;
	return 0;
}

static unsigned
count_files(const char *dir)
{
	char path[256];

	snprintf(path, sizeof path, "%s/objects", dir);
	nfiles_found = 0;
	nftw(path, count_entry, 16, FTW_PHYS);
	return nfiles_found;
}

static void
flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static bool
present(struct disk *d, const char *key)
{
	struct disk_hit hit;
	int rc = disk_lookup(d, key, strlen(key), &hit);

	disk_hit_fini(&hit);
	return rc == CDN_OK;
}

/* ---------------------------------------------------------------- heads */

static void
head_round_trips_and_rejects_damage(void **state)
{
	struct disk_head h, out;
	uint8_t *enc;
	size_t n;

	mkhead(&h, 42, 10);
	hdrs_add(&h.hdrs, "Set-Cookie", "");   /* empty values survive too */
	h.request_time = -5;                   /* and negative times */
	assert_int_equal(disk_head_encode(&h, &enc, &n), CDN_OK);
	disk_head_init(&out);
	assert_int_equal(disk_head_decode(enc, n, &out), CDN_OK);
	assert_int_equal(out.status, 200);
	assert_int_equal(out.request_time, -5);
	assert_int_equal(out.hdrs.n, 5);
	for (unsigned i = 0; i < out.hdrs.n; i++) {
		assert_string_equal(out.hdrs.v[i].name, h.hdrs.v[i].name);
		assert_string_equal(out.hdrs.v[i].value, h.hdrs.v[i].value);
	}
	disk_head_fini(&out);

	/* every single-bit flip and every truncation is refused */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			enc[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(disk_head_decode(enc, n, &out), CDN_CORRUPT);
			assert_int_equal(out.hdrs.n, 0);
			enc[i] ^= (uint8_t)(1u << bit);
		}
		assert_int_equal(disk_head_decode(enc, i, &out), CDN_CORRUPT);
	}
	/* another version is refused, not misread */
	enc[4] = 2;
	assert_int_equal(disk_head_decode(enc, n, &out), CDN_CORRUPT);
	assert_int_equal(disk_head_decode(NULL, 0, &out), CDN_CORRUPT);
	free(enc);
	disk_head_fini(&h);

	/* a head that could not read back as itself is not written at all */
	mkhead(&h, 1, 1);
	hdrs_add(&h.hdrs, "X-Bad", "split\r\nSet-Cookie: x=1");
	assert_int_equal(disk_head_encode(&h, &enc, &n), CDN_INVAL);
	assert_null(enc);
	disk_head_fini(&h);
}

static void
unencodable_head_stores_nothing(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 1 << 20, EVICT_LRU);
	struct disk_head h;
	struct disk_put put = { .head = &h };
	struct disk_stats st;

	mkhead(&h, 1, 3);
	hdrs_add(&h.hdrs, "X-Ctl", "a\001b");
	assert_int_equal(disk_store(d, "/h", 2, "abc", 3, &put), CDN_INVAL);
	disk_head_fini(&h);
	assert_false(present(d, "/h"));
	disk_get_stats(d, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(count_files(dir), 0);
	disk_close(&d);
}

/* Random damage with the checksum made valid again, so the decoder's own
 * bounds checks are what stands between it and the bytes (ASan builds make
 * this a small fuzzer): every result is OK or CDN_CORRUPT, nothing crashes,
 * and what decodes OK re-encodes to the same bytes. */
static void
head_decoder_survives_damage_behind_a_valid_checksum(void **state)
{
	struct disk_head h, out;
	uint8_t *enc, *m = malloc(4096), sum[DIGEST_LEN];
	size_t n;
	uint64_t s = 99;
	unsigned ok = 0;

	mkhead(&h, 7, 1);
	disk_head_encode(&h, &enc, &n);
	disk_head_fini(&h);
	for (int i = 0; i < 20000; i++) {
		size_t len = n;

		memcpy(m, enc, n);
		for (int k = 0, flips = 1 + (int)(xorshift(&s) % 4); k < flips; k++) {
			size_t at = 4 + (size_t)(xorshift(&s) % (n - 12));

			/* favour the length fields, where the danger is */
			m[at] = (uint8_t)(xorshift(&s) % 3 == 0 ? 0xff : xorshift(&s));
		}
		if (xorshift(&s) % 4 == 0)
			len = 56 + (size_t)(xorshift(&s) % (n - 56));
		digest_sha256(m, len - 8, sum);
		memcpy(m + len - 8, sum, 8);
		disk_head_init(&out);
		switch (disk_head_decode(m, len, &out)) {
		case CDN_OK: {
			uint8_t *again;
			size_t alen;

			ok++;
			disk_head_encode(&out, &again, &alen);
			assert_int_equal(alen, len);
			free(again);
			break;
		}
		case CDN_CORRUPT:
			assert_int_equal(out.hdrs.n, 0);
			break;
		default:
			fail();
		}
		disk_head_fini(&out);
	}
	assert_true(ok > 0);    /* some damage (to values) still decodes */
	free(enc);
	free(m);
}

/* ---------------------------------------------------------------- round trips */

static void
store_then_reopen_finds_identical_bytes_and_head(void **state)
{
	const char *dir = *state;
	static const size_t sizes[] = { 0, 1, 4096, 100000, 1 << 20 };
	enum { NSIZES = sizeof sizes / sizeof sizes[0] };
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	char key[32];

	for (size_t i = 0; i < NSIZES; i++) {
		snprintf(key, sizeof key, "/obj/%zu?x=1", i);
		assert_int_equal(store_obj(d, key, sizes[i], i + 1, 0), CDN_OK);
	}
	for (size_t i = 0; i < NSIZES; i++) {
		snprintf(key, sizeof key, "/obj/%zu?x=1", i);
		assert_int_equal(check_obj(d, key, sizes[i], i + 1), CDN_OK);
	}
	disk_close(&d);
	assert_null(d);

	d = open_disk(dir, 64 << 20, EVICT_LRU);
	disk_get_stats(d, &st);
	assert_int_equal(st.objects, NSIZES);
	assert_int_equal(st.cleaned_temp + st.cleaned_files + st.cleaned_rows, 0);
	for (size_t i = 0; i < NSIZES; i++) {
		snprintf(key, sizeof key, "/obj/%zu?x=1", i);
		assert_int_equal(check_obj(d, key, sizes[i], i + 1), CDN_OK);
	}
	disk_get_stats(d, &st);
	assert_int_equal(st.hits, NSIZES);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(count_files(dir), NSIZES);
	disk_close(&d);
}

static void
served_descriptor_reads_the_verified_body(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_hit hit;
	uint8_t *want = malloc(300000), *got = malloc(300000);
	int fd;

	assert_int_equal(store_obj(d, "/big", 300000, 9, 0), CDN_OK);
	assert_int_equal(disk_lookup(d, "/big", 4, &hit), CDN_OK);
	assert_false(hit.verified);
	assert_int_equal(disk_hit_verify(d, &hit), CDN_OK);
	assert_true(hit.verified);
	fd = disk_hit_take_fd(&hit);
	assert_true(fd >= 0);
	assert_int_equal(hit.fd, -1);
	disk_hit_fini(&hit);            /* does not close what was taken */
	/* the descriptor is at offset 0, as MHD_create_response_from_fd wants */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
	/* and stays readable after the version is removed */
	assert_int_equal(disk_remove(d, "/big", 4), CDN_OK);
	assert_int_equal(pread(fd, got, 300000, 0), 300000);
	gen_body(want, 300000, 9);
	assert_memory_equal(got, want, 300000);
	close(fd);
	free(want);
	free(got);
	disk_close(&d);
}

/* A body being written can be read back while the writer goes on, and the
 * reader's descriptor outlives the commit's rename. */
static void
streamed_body_is_readable_while_written_and_after_commit(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_writer *w = NULL;
	struct disk_head h;
	struct disk_put put = { .head = &h };
	struct disk_hit hit;
	uint8_t *body = malloc(200000), *got = malloc(200000), sha[DIGEST_LEN];
	int fd;

	gen_body(body, 200000, 4);
	digest_sha256(body, 200000, sha);
	put.sha = sha;
	assert_int_equal(disk_write_start(d, "/stream", 7, 0, &w), CDN_OK);
	fd = disk_write_reader_fd(w);
	assert_true(fd >= 0);
	assert_int_equal(disk_write_append(w, body, 100000), CDN_OK);
	assert_int_equal(pread(fd, got, 100000, 0), 100000);
	assert_memory_equal(got, body, 100000);
	assert_int_equal(disk_write_append(w, body + 100000, 100000), CDN_OK);
	mkhead(&h, 4, 200000);
	assert_int_equal(disk_write_commit(&w, &put, NULL), CDN_OK);
	disk_head_fini(&h);
	assert_int_equal(pread(fd, got, 200000, 0), 200000);
	assert_memory_equal(got, body, 200000);
	close(fd);
	assert_int_equal(disk_lookup(d, "/stream", 7, &hit), CDN_OK);
	assert_int_equal(hit.size, 200000);
	assert_int_equal(disk_hit_verify(d, &hit), CDN_OK);
	disk_hit_fini(&hit);
	free(body);
	free(got);
	disk_close(&d);
}

/* disk_fits: what could be stored at all, pinned bytes counted. */
static void
fits_counts_the_limit_and_pinned_bytes(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 1 << 20, EVICT_LRU);

	assert_true(disk_fits(d, 500000, 10));
	assert_false(disk_fits(d, 1 << 20, 10));   /* its charge is above the limit */
	assert_int_equal(store_obj(d, "/pinned", 600000, 1, DISK_PIN), CDN_OK);
	assert_false(disk_fits(d, 500000, 10));    /* only unpinned bytes can go */
	assert_true(disk_fits(d, 300000, 10));
	disk_close(&d);
}

/* ---------------------------------------------------------------- integrity */

static void
corrupt_byte_is_detected_removed_and_counted(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	struct disk_hit hit;
	char path[256], path2[256];
	uint8_t *buf = malloc(200000);

	assert_int_equal(store_obj(d, "/a", 200000, 1, 0), CDN_OK);
	assert_int_equal(store_obj(d, "/b", 200000, 2, 0), CDN_OK);
	file_of(d, "/a", path, sizeof path);
	file_of(d, "/b", path2, sizeof path2);
	flip_byte(path, 123456);
	flip_byte(path2, 0);

	/* read into memory: caught */
	assert_int_equal(disk_lookup(d, "/a", 2, &hit), CDN_OK);  /* size still right */
	assert_int_equal(disk_hit_read(d, &hit, buf), CDN_CORRUPT);
	assert_false(hit.verified);
	assert_int_equal(hit.fd, -1);
	disk_hit_fini(&hit);
	/* streaming verify before serving the descriptor: caught */
	assert_int_equal(disk_lookup(d, "/b", 2, &hit), CDN_OK);
	assert_int_equal(disk_hit_verify(d, &hit), CDN_CORRUPT);
	disk_hit_fini(&hit);

	disk_get_stats(d, &st);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.bytes, 0);
	assert_false(exists(path));
	assert_false(exists(path2));
	assert_int_equal(disk_lookup(d, "/a", 2, &hit), CDN_NOTFOUND);
	disk_hit_fini(&hit);
	/* a fresh copy can be stored again */
	assert_int_equal(store_obj(d, "/a", 200000, 1, 0), CDN_OK);
	assert_int_equal(check_obj(d, "/a", 200000, 1), CDN_OK);
	disk_close(&d);
	/* and the corruption is not resurrected by a restart */
	d = open_disk(dir, 64 << 20, EVICT_LRU);
	assert_false(present(d, "/b"));
	disk_close(&d);
	free(buf);
}

static void
truncated_body_is_detected_at_lookup(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	struct disk_hit hit;
	char path[256];

	assert_int_equal(store_obj(d, "/t", 10000, 1, 0), CDN_OK);
	file_of(d, "/t", path, sizeof path);
	assert_int_equal(truncate(path, 9999), 0);
	assert_int_equal(disk_lookup(d, "/t", 2, &hit), CDN_CORRUPT);
	disk_hit_fini(&hit);
	disk_get_stats(d, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.objects, 0);
	assert_false(exists(path));
	disk_close(&d);
}

static void
scrub_finds_every_bad_copy(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_scrub sc;
	char key[16], path[256];

	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "/s%d", i);
		assert_int_equal(store_obj(d, key, 5000, (uint64_t)i, 0), CDN_OK);
	}
	file_of(d, "/s3", path, sizeof path);
	flip_byte(path, 4999);
	file_of(d, "/s7", path, sizeof path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(disk_scrub(d, &sc), CDN_OK);
	assert_int_equal(sc.checked, 10);
	assert_int_equal(sc.corrupt, 1);
	assert_int_equal(sc.missing, 1);
	assert_int_equal(disk_scrub(d, &sc), CDN_OK);
	assert_int_equal(sc.checked, 8);
	assert_int_equal(sc.corrupt + sc.missing, 0);
	disk_close(&d);
}

static void
missing_body_file_is_a_miss_and_drops_the_row(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	struct disk_hit hit;
	char path[256];

	assert_int_equal(store_obj(d, "/m", 100, 1, 0), CDN_OK);
	file_of(d, "/m", path, sizeof path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(disk_lookup(d, "/m", 2, &hit), CDN_NOTFOUND);
	disk_hit_fini(&hit);
	disk_get_stats(d, &st);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.bytes, 0);
	disk_close(&d);
}

/* ---------------------------------------------------------------- cleanup */

static void
open_cleans_temp_files_orphans_and_rows_without_files(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	char path[300], pb[256];
	int fd;

	assert_int_equal(store_obj(d, "/A", 3000, 1, 0), CDN_OK);
	assert_int_equal(store_obj(d, "/B", 3000, 2, 0), CDN_OK);
	assert_int_equal(store_obj(d, "/C", 3000, 3, 0), CDN_OK);
	file_of(d, "/B", pb, sizeof pb);
	disk_close(&d);

	/* a crash mid-write, a crash between rename and row, stray junk,
	 * and a body lost under its row (fan-out directories are made on
	 * first use, so make these) */
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "00", "0f", "02" };

		snprintf(path, sizeof path, "%s/objects/%s", dir, sub[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/objects/%s/0", dir, sub[i]);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof path, "%s/objects/00/0/.tmp.0000000000000f00", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);
	snprintf(path, sizeof path, "%s/objects/0f/0/0000000000000f01", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/objects/02/0/junk", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(unlink(pb), 0);
	assert_int_equal(count_files(dir), 5);

	d = open_disk(dir, 64 << 20, EVICT_LRU);
	disk_get_stats(d, &st);
	assert_int_equal(st.cleaned_temp, 1);
	assert_int_equal(st.cleaned_files, 2);
	assert_int_equal(st.cleaned_rows, 1);
	assert_int_equal(st.objects, 2);
	assert_int_equal(st.bytes, charge_of("/A", 3000, 1) + charge_of("/C", 3000, 3));
	assert_int_equal(count_files(dir), 2);
	assert_int_equal(check_obj(d, "/A", 3000, 1), CDN_OK);
	assert_int_equal(check_obj(d, "/C", 3000, 3), CDN_OK);
	assert_false(present(d, "/B"));
	/* new generations never collide with what was found on disk */
	assert_int_equal(store_obj(d, "/D", 10, 4, 0), CDN_OK);
	assert_int_equal(check_obj(d, "/D", 10, 4), CDN_OK);
	disk_close(&d);
}

static void
replacing_a_key_keeps_one_version(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	char p1[256], p2[256];

	assert_int_equal(store_obj(d, "/r", 5000, 1, 0), CDN_OK);
	file_of(d, "/r", p1, sizeof p1);
	assert_int_equal(store_obj(d, "/r", 9000, 2, 0), CDN_OK);
	file_of(d, "/r", p2, sizeof p2);
	assert_string_not_equal(p1, p2);   /* a new file, never overwritten */
	assert_false(exists(p1));
	assert_int_equal(check_obj(d, "/r", 9000, 2), CDN_OK);
	disk_get_stats(d, &st);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.bytes, charge_of("/r", 9000, 2));
	assert_int_equal(count_files(dir), 1);
	disk_close(&d);
}

static void
remove_drops_row_and_file(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	char path[256];

	assert_int_equal(store_obj(d, "/x", 5000, 1, DISK_PIN), CDN_OK);
	file_of(d, "/x", path, sizeof path);
	assert_int_equal(disk_remove(d, "/x", 2), CDN_OK);
	assert_int_equal(disk_remove(d, "/x", 2), CDN_NOTFOUND);
	assert_int_equal(disk_remove(d, "/never", 6), CDN_NOTFOUND);
	assert_false(exists(path));
	assert_false(present(d, "/x"));
	disk_get_stats(d, &st);
	assert_int_equal(st.removes, 1);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.pinned_bytes, 0);
	disk_close(&d);
}

/* ---------------------------------------------------------------- limits */

static void
lru_limit_evicts_least_recent(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	struct disk *d = open_disk(dir, 4 * c + c / 2, EVICT_LRU);
	struct disk_stats st;
	char key[8];

	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
	}
	assert_true(present(d, "/k0"));        /* k1 is now the least recent */
	assert_int_equal(store_obj(d, "/k4", OBJ_SIZE, 0, 0), CDN_OK);
	assert_false(present(d, "/k1"));
	assert_int_equal(store_obj(d, "/k5", OBJ_SIZE, 0, 0), CDN_OK);
	assert_false(present(d, "/k2"));
	assert_true(present(d, "/k0"));
	assert_true(present(d, "/k3"));
	disk_get_stats(d, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.objects, 4);
	assert_true(st.bytes <= st.limit);
	assert_int_equal(count_files(dir), 4);
	disk_close(&d);
}

static void
lfu_limit_evicts_least_frequent(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	struct disk *d = open_disk(dir, 4 * c + c / 2, EVICT_LFU);
	struct disk_stats st;
	char key[8];

	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
	}
	for (int i = 0; i < 5; i++)
		assert_true(present(d, "/k0"));
	assert_true(present(d, "/k1"));
	assert_true(present(d, "/k3"));
	/* k2 was used once: it goes, although k0 and k1 are older */
	assert_int_equal(store_obj(d, "/k4", OBJ_SIZE, 0, 0), CDN_OK);
	assert_true(present(d, "/k3"));
	/* the present() calls above also counted; now a run of one-time
	 * objects: the most frequent one stays throughout */
	for (int i = 5; i < 9; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
		assert_true(present(d, "/k0"));
	}
	disk_get_stats(d, &st);
	assert_true(st.bytes <= st.limit);
	assert_int_equal(st.objects, 4);
	assert_true(st.age > 0);
	disk_close(&d);
	/* k2 was the first victim */
	d = open_disk(dir, 4 * c + c / 2, EVICT_LFU);
	assert_false(present(d, "/k2"));
	assert_true(present(d, "/k0"));
	disk_close(&d);
}

static void
eviction_state_survives_restart(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	char key[8];

	for (int p = 0; p < 2; p++) {
		enum evict_policy pol = p ? EVICT_LFU : EVICT_LRU;
		struct disk *d = open_disk(dir, 4 * c + c / 2, pol);

		for (int i = 0; i < 4; i++) {
			snprintf(key, sizeof key, "/k%d", i);
			assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
		}
		/* lru: k1 is the coldest; lfu: k1 the least used */
		for (int i = 0; i < 3; i++) {
			assert_true(present(d, "/k0"));
			assert_true(present(d, "/k2"));
			assert_true(present(d, "/k3"));
		}
		disk_close(&d);     /* the buffered hits reach the index */

		d = open_disk(dir, 4 * c + c / 2, pol);
		assert_int_equal(store_obj(d, "/k4", OBJ_SIZE, 0, 0), CDN_OK);
		disk_close(&d);
		d = open_disk(dir, 4 * c + c / 2, pol);
		assert_false(present(d, "/k1"));
		assert_true(present(d, "/k0"));
		assert_true(present(d, "/k2"));
		assert_true(present(d, "/k3"));
		assert_true(present(d, "/k4"));
		for (int i = 0; i < 5; i++) {
			snprintf(key, sizeof key, "/k%d", i);
			disk_remove(d, key, strlen(key));
		}
		disk_close(&d);
	}
}

static void
pinned_objects_survive_eviction_and_restart(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	struct disk *d = open_disk(dir, 4 * c + c / 2, EVICT_LRU);
	struct disk_stats st;
	char key[8];

	assert_int_equal(store_obj(d, "/p0", OBJ_SIZE, 0, DISK_PIN), CDN_OK);
	assert_int_equal(store_obj(d, "/p1", OBJ_SIZE, 0, DISK_PIN), CDN_OK);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
	}
	assert_true(present(d, "/p0"));
	assert_true(present(d, "/p1"));
	disk_get_stats(d, &st);
	assert_int_equal(st.pinned_objects, 2);
	assert_int_equal(st.pinned_bytes, 2 * c);
	assert_true(st.bytes <= st.limit);
	disk_close(&d);

	d = open_disk(dir, 4 * c + c / 2, EVICT_LRU);
	assert_int_equal(store_obj(d, "/p2", OBJ_SIZE, 0, DISK_PIN), CDN_OK);
	assert_int_equal(store_obj(d, "/p3", OBJ_SIZE, 0, DISK_PIN), CDN_OK);
	/* full of pinned objects: nothing more fits, pinned or not */
	assert_int_equal(store_obj(d, "/k99", OBJ_SIZE, 0, 0), CDN_TOOBIG);
	assert_int_equal(store_obj(d, "/p4", OBJ_SIZE, 0, DISK_PIN), CDN_TOOBIG);
	disk_get_stats(d, &st);
	assert_int_equal(st.pinned_objects, 4);
	assert_int_equal(st.objects, 4);
	assert_int_equal(st.reserved, 0);
	/* unpinning makes room again */
	assert_int_equal(disk_pin(d, "/p0", 3, false), CDN_OK);
	assert_int_equal(disk_pin(d, "/nope", 5, false), CDN_NOTFOUND);
	assert_int_equal(store_obj(d, "/k99", OBJ_SIZE, 0, 0), CDN_OK);
	assert_false(present(d, "/p0"));
	assert_true(present(d, "/p1"));
	disk_get_stats(d, &st);
	assert_int_equal(st.pinned_objects, 3);
	disk_close(&d);
}

static void
too_big_is_refused_and_nothing_left_behind(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 100000, EVICT_LRU);
	struct disk_stats st;

	assert_int_equal(store_obj(d, "/small", 1000, 1, 0), CDN_OK);
	assert_int_equal(store_obj(d, "/huge", 200000, 2, 0), CDN_TOOBIG);
	disk_get_stats(d, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.objects, 1);
	assert_true(present(d, "/small"));     /* nothing evicted in vain */
	assert_int_equal(count_files(dir), 1);
	disk_close(&d);
}

static void
streaming_writer_commit_abort_and_digest_mismatch(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 64 << 20, EVICT_LRU);
	struct disk_writer *w;
	struct disk_head h;
	struct disk_put put = { .head = &h };
	struct disk_stats st;
	uint8_t *body = malloc(3 << 20), sha[DIGEST_LEN], got[DIGEST_LEN];

	gen_body(body, 3 << 20, 5);
	digest_sha256(body, 3 << 20, sha);
	mkhead(&h, 5, 3 << 20);

	/* unknown size, appended in odd chunks */
	assert_int_equal(disk_write_start(d, "/s", 2, 0, &w), CDN_OK);
	for (size_t off = 0; off < (3u << 20); off += 77777) {
		size_t n = (3u << 20) - off < 77777 ? (3u << 20) - off : 77777;

		assert_int_equal(disk_write_append(w, body + off, n), CDN_OK);
	}
	put.sha = sha;
	assert_int_equal(disk_write_commit(&w, &put, got), CDN_OK);
	assert_null(w);
	assert_memory_equal(got, sha, DIGEST_LEN);
	assert_int_equal(check_obj(d, "/s", 3 << 20, 5), CDN_OK);

	/* a body that does not hash to what upstream promised: nothing stored */
	assert_int_equal(disk_write_start(d, "/bad", 4, 100, &w), CDN_OK);
	assert_int_equal(disk_write_append(w, body, 100), CDN_OK);
	assert_int_equal(disk_write_commit(&w, &put, NULL), CDN_INVAL);
	assert_false(present(d, "/bad"));

	/* abort */
	assert_int_equal(disk_write_start(d, "/ab", 3, 1 << 20, &w), CDN_OK);
	assert_int_equal(disk_write_append(w, body, 5000), CDN_OK);
	disk_write_abort(&w);
	assert_null(w);
	disk_write_abort(&w);

	disk_get_stats(d, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.store_errors, 1);
	assert_int_equal(count_files(dir), 1);   /* no temp file left */
	disk_head_fini(&h);
	free(body);
	disk_close(&d);
}

/* ---------------------------------------------------------------- Bloom */

static void
bloom_says_absent_for_keys_never_stored(void **state)
{
	const char *dir = *state;
	struct disk *d = open_fast(dir, 64 << 20, EVICT_LRU);
	struct disk_stats st;
	struct disk_hit hit;
	char key[32];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "/stored/%d", i);
		assert_int_equal(store_obj(d, key, 10, (uint64_t)i, 0), CDN_OK);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 10000; i++) {
			snprintf(key, sizeof key, "/never/%d", i);
			assert_false(disk_maybe(d, key, strlen(key)));
			assert_int_equal(disk_lookup(d, key, strlen(key), &hit), CDN_NOTFOUND);
			disk_hit_fini(&hit);
		}
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof key, "/stored/%d", i);
			assert_true(disk_maybe(d, key, strlen(key)));
		}
		disk_get_stats(d, &st);
		assert_int_equal(st.bloom_negatives, 10000);
		assert_int_equal(st.bloom_false_pos, 0);
		assert_int_equal(st.bloom_capacity, 4096);
		disk_close(&d);
		d = open_fast(dir, 64 << 20, EVICT_LRU);    /* rebuilt from the index */
	}
	/* a removed key is still "maybe" to the filter; the index says no */
	assert_int_equal(disk_remove(d, "/stored/5", 9), CDN_OK);
	assert_int_equal(disk_lookup(d, "/stored/5", 9, &hit), CDN_NOTFOUND);
	disk_hit_fini(&hit);
	disk_get_stats(d, &st);
	assert_int_equal(st.bloom_false_pos, 1);
	disk_close(&d);
}

static void
bloom_is_rebuilt_as_the_index_grows(void **state)
{
	const char *dir = *state;
	struct disk_opts o;
	struct disk *d;
	struct disk_stats st;
	char key[32];
	uint64_t fp = 0;

	disk_opts_default(&o);
	o.durable = false;
	o.bloom_min = 256;
	assert_int_equal(disk_open(dir, 1ULL << 30, EVICT_LFU, &o, &d), CDN_OK);
	disk_get_stats(d, &st);
	assert_int_equal(st.bloom_capacity, 256);
	for (int i = 0; i < 600; i++) {
		snprintf(key, sizeof key, "/many/%d", i);
		assert_int_equal(store_obj(d, key, 1, (uint64_t)i, 0), CDN_OK);
	}
	disk_get_stats(d, &st);
	assert_int_equal(st.objects, 600);
	assert_int_equal(st.bloom_rebuilds, 2);        /* at 257 and at 515 */
	assert_int_equal(st.bloom_capacity, 1030);
	for (int i = 0; i < 600; i++) {
		snprintf(key, sizeof key, "/many/%d", i);
		assert_true(disk_maybe(d, key, strlen(key)));
	}
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof key, "/absent/%d", i);
		fp += disk_maybe(d, key, strlen(key));
	}
	print_message("disk bloom: %" PRIu64 " keys, capacity %" PRIu64 ", %" PRIu64
	    " bits, %u hashes, expected fp %.4f%%, measured %.4f%% (%" PRIu64 "/100000)\n",
	    st.bloom_count, st.bloom_capacity, st.bloom_bits, st.bloom_hashes,
	    st.bloom_fp_expected * 100, (double)fp / 1000.0, fp);
	assert_true(fp < 1000);     /* under the 1 % target */
	/* churn: removed keys count until the next rebuild drops them */
	for (int i = 0; i < 600; i++) {
		snprintf(key, sizeof key, "/many/%d", i);
		assert_int_equal(disk_remove(d, key, strlen(key)), CDN_OK);
		snprintf(key, sizeof key, "/more/%d", i);
		assert_int_equal(store_obj(d, key, 1, (uint64_t)i, 0), CDN_OK);
	}
	disk_get_stats(d, &st);
	assert_int_equal(st.bloom_rebuilds, 3);
	assert_true(st.bloom_count <= st.bloom_capacity);
	disk_close(&d);
}

/* ---------------------------------------------------------------- open */

static void
smaller_limit_at_open_evicts_down(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	struct disk *d = open_disk(dir, 10 * c, EVICT_LRU);
	struct disk_stats st;
	char key[8];

	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
	}
	disk_close(&d);
	d = open_disk(dir, 3 * c, EVICT_LRU);
	disk_get_stats(d, &st);
	assert_int_equal(st.objects, 3);
	assert_true(st.bytes <= 3 * c);
	assert_true(present(d, "/k9"));
	assert_false(present(d, "/k6"));
	assert_int_equal(count_files(dir), 3);
	disk_close(&d);
}

static void
policy_change_at_open_recomputes_order(void **state)
{
	const char *dir = *state;
	uint64_t c = charge_of("/k0", OBJ_SIZE, 0);
	struct disk *d = open_disk(dir, 3 * c + c / 2, EVICT_LRU);
	char key[8];

	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "/k%d", i);
		assert_int_equal(store_obj(d, key, OBJ_SIZE, 0, 0), CDN_OK);
	}
	for (int i = 0; i < 4; i++)
		assert_true(present(d, "/k0"));    /* frequent, but then... */
	assert_true(present(d, "/k1"));
	assert_true(present(d, "/k2"));        /* ...k0 is the least recent */
	disk_close(&d);
	/* as lfu, k0's four hits count and k1 (or k2) goes instead */
	d = open_disk(dir, 3 * c + c / 2, EVICT_LFU);
	assert_int_equal(store_obj(d, "/k3", OBJ_SIZE, 0, 0), CDN_OK);
	assert_true(present(d, "/k0"));
	assert_false(present(d, "/k1"));
	disk_close(&d);
}

static void
second_open_of_a_dir_in_use_fails(void **state)
{
	const char *dir = *state;
	struct disk *d = open_disk(dir, 1 << 20, EVICT_LRU), *d2 = NULL;

	assert_int_equal(disk_open(dir, 1 << 20, EVICT_LRU, NULL, &d2), CDN_ERR);
	assert_null(d2);
	disk_close(&d);
	d2 = open_disk(dir, 1 << 20, EVICT_LRU);
	disk_close(&d2);
	assert_int_equal(disk_open("/proc/version/nope", 1 << 20, EVICT_LRU, NULL, &d2),
	    CDN_ERR);
}

/* ---------------------------------------------------------------- threads */

struct worker {
	struct disk *d;
	unsigned seed;
	atomic_int *failures;
};

static void *
work(void *arg)
{
	struct worker *wk = arg;
	uint8_t *buf = malloc(20000), *want = malloc(20000);
	uint64_t s = wk->seed;

	for (int i = 0; i < 300; i++) {
		char key[16];
		unsigned k = (unsigned)(xorshift(&s) % 60);
		unsigned op = (unsigned)(xorshift(&s) % 10);
		struct disk_hit hit;
		int rc;

		snprintf(key, sizeof key, "/c/%u", k);
		if (op < 4) {
			size_t size = (size_t)(xorshift(&s) % 20000);

			rc = store_obj(wk->d, key, size, k, 0);
			if (rc != CDN_OK && rc != CDN_TOOBIG)
				atomic_fetch_add(wk->failures, 1);
		} else if (op < 5) {
			(void)disk_remove(wk->d, key, strlen(key));
		} else {
			rc = disk_lookup(wk->d, key, strlen(key), &hit);
			if (rc == CDN_OK) {
				rc = disk_hit_read(wk->d, &hit, buf);
				if (rc == CDN_OK) {
					const char *l = hdrs_get(&hit.head.hdrs, "X-Len");
					size_t len = l != NULL ? strtoul(l, NULL, 10) : 0;

					gen_body(want, len, k);
					if (l == NULL || len != hit.size || memcmp(buf, want, len) != 0)
						rc = CDN_ERR;
				}
			} else if (rc == CDN_NOTFOUND) {
				rc = CDN_OK;
			}
			if (rc != CDN_OK)
				atomic_fetch_add(wk->failures, 1);
			disk_hit_fini(&hit);
		}
	}
	free(buf);
	free(want);
	return NULL;
}

static void
concurrent_stores_and_lookups_stay_consistent(void **state)
{
	const char *dir = *state;
	struct disk_opts o;
	struct disk *d;
	struct disk_stats st;
	struct disk_scrub sc;
	struct worker wk[4];
	pthread_t th[4];
	atomic_int failures = 0;

	disk_opts_default(&o);
	o.durable = false;
	o.conns = 3;
	assert_int_equal(disk_open(dir, 300000, EVICT_LFU, &o, &d), CDN_OK);
	for (unsigned t = 0; t < 4; t++) {
		wk[t] = (struct worker){ d, 100 + t, &failures };
		assert_int_equal(pthread_create(&th[t], NULL, work, &wk[t]), 0);
	}
	for (unsigned t = 0; t < 4; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	assert_int_equal(atomic_load(&failures), 0);
	disk_get_stats(d, &st);
	assert_true(st.bytes <= st.limit);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.corrupt, 0);
	assert_true(st.evictions > 0);
	assert_int_equal(disk_scrub(d, &sc), CDN_OK);
	assert_int_equal(sc.corrupt + sc.missing, 0);
	assert_int_equal(sc.checked, st.objects);
	assert_int_equal(count_files(dir), st.objects);
	disk_close(&d);
}

/* ---------------------------------------------------------------- crashes */

#define CRASH_ROUNDS 20
#define CRASH_KEYS 64
#define CRASH_LIMIT (2u << 20)

static void __attribute__((noreturn))
crash_child(const char *dir, unsigned round)
{
	struct disk *d;
	uint64_t s = round * 7919u + 17;
	uint8_t *buf = malloc(65536);

	if (disk_open(dir, CRASH_LIMIT, EVICT_LRU, NULL, &d) != CDN_OK)
		_exit(3);
	for (uint64_t i = 0;; i++) {
		char key[32];
		unsigned op = (unsigned)(xorshift(&s) % 10);
		struct disk_hit hit;

		snprintf(key, sizeof key, "/crash/%u", (unsigned)(xorshift(&s) % CRASH_KEYS));
		if (op < 7) {
			size_t size = (size_t)(xorshift(&s) % 65536);

			if (store_obj(d, key, size, ((uint64_t)round << 32) | i, 0) != CDN_OK)
				_exit(4);
		} else if (op < 8) {
			(void)disk_remove(d, key, strlen(key));
		} else {
			if (disk_lookup(d, key, strlen(key), &hit) == CDN_OK &&
			    disk_hit_read(d, &hit, buf) != CDN_OK)
				_exit(5);
			disk_hit_fini(&hit);
		}
	}
}

/* Every object the index holds after a crash is complete: its body is
 * exactly what its head says it was made from. */
static unsigned
check_all_crash_keys(struct disk *d)
{
	uint8_t *got = malloc(65536), *want = malloc(65536);
	unsigned found = 0;

	for (unsigned k = 0; k < CRASH_KEYS; k++) {
		struct disk_hit hit;
		char key[32];
		uint64_t seed;
		size_t len;

		snprintf(key, sizeof key, "/crash/%u", k);
		if (disk_lookup(d, key, strlen(key), &hit) != CDN_OK) {
			disk_hit_fini(&hit);
			continue;
		}
		found++;
		assert_int_equal(disk_hit_read(d, &hit, got), CDN_OK);
		seed = strtoull(hdrs_get(&hit.head.hdrs, "X-Seed"), NULL, 10);
		len = strtoull(hdrs_get(&hit.head.hdrs, "X-Len"), NULL, 10);
		assert_int_equal(hit.size, len);
		gen_body(want, len, seed);
		assert_memory_equal(got, want, len);
		disk_hit_fini(&hit);
	}
	free(got);
	free(want);
	return found;
}

static void
kill_9_at_random_moments_leaves_only_complete_objects(void **state)
{
	const char *dir = *state;
	uint64_t s = 4242, temp = 0, orphans = 0, rows = 0, maxobj = 0;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
		struct disk *d;
		struct disk_stats st;
		struct disk_scrub sc;
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			crash_child(dir, round);
		usleep((useconds_t)(xorshift(&s) % 200000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* killed, not exited with an error of its own */
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);

		d = open_disk(dir, CRASH_LIMIT, EVICT_LRU);
		disk_get_stats(d, &st);
		temp += st.cleaned_temp;
		orphans += st.cleaned_files;
		rows += st.cleaned_rows;
		assert_true(st.bytes <= CRASH_LIMIT);
		assert_int_equal(disk_scrub(d, &sc), CDN_OK);
		assert_int_equal(sc.corrupt, 0);
		assert_int_equal(sc.missing, 0);
		assert_int_equal(sc.checked, st.objects);
		assert_int_equal(count_files(dir), st.objects);
		assert_int_equal(check_all_crash_keys(d), st.objects);
		if (st.objects > maxobj)
			maxobj = st.objects;
		disk_close(&d);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("crash: %d rounds of kill -9 in %.1f s; cleaned at restart: %" PRIu64
	    " temp files, %" PRIu64 " files without a row, %" PRIu64 " rows without a file; "
	    "up to %" PRIu64 " objects indexed, all complete\n", CRASH_ROUNDS,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    temp, orphans, rows, maxobj);
	assert_true(maxobj > 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(head_round_trips_and_rejects_damage),
		cmocka_unit_test(head_decoder_survives_damage_behind_a_valid_checksum),
		T(store_then_reopen_finds_identical_bytes_and_head),
		T(unencodable_head_stores_nothing),
		T(served_descriptor_reads_the_verified_body),
		T(streamed_body_is_readable_while_written_and_after_commit),
		T(fits_counts_the_limit_and_pinned_bytes),
		T(corrupt_byte_is_detected_removed_and_counted),
		T(truncated_body_is_detected_at_lookup),
		T(scrub_finds_every_bad_copy),
		T(missing_body_file_is_a_miss_and_drops_the_row),
		T(open_cleans_temp_files_orphans_and_rows_without_files),
		T(replacing_a_key_keeps_one_version),
		T(remove_drops_row_and_file),
		T(lru_limit_evicts_least_recent),
		T(lfu_limit_evicts_least_frequent),
		T(eviction_state_survives_restart),
		T(pinned_objects_survive_eviction_and_restart),
		T(too_big_is_refused_and_nothing_left_behind),
		T(streaming_writer_commit_abort_and_digest_mismatch),
		T(bloom_says_absent_for_keys_never_stored),
		T(bloom_is_rebuilt_as_the_index_grows),
		T(smaller_limit_at_open_evicts_down),
		T(policy_change_at_open_recomputes_order),
		T(second_open_of_a_dir_in_use_fails),
		T(concurrent_stores_and_lookups_stay_consistent),
		T(kill_9_at_random_moments_leaves_only_complete_objects),
	};

	/* Corruption and cleanup are logged as warnings: keep errors only. */
	log_init("test", "-", "off", LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
