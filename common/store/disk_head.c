/*
 * disk_head.c: the stored response head's on-disk format (disk.h has the
 * layout): version 1, little-endian integers, the header lines in order,
 * and a 64-bit checksum (a truncated SHA-256) over all of it. Pure: no I/O
 * and no shared state, so a fuzzer can drive disk_head_decode directly.
 * Decoding never trusts a length it has not checked against the buffer.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/disk.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/mem.h"

#define HEAD_FIXED 48u  /* magic .. lifetime */
#define HEAD_SUM 8u

static void put_u16(uint8_t *p, uint16_t v);
static void put_u32(uint8_t *p, uint32_t v);
static void put_u64(uint8_t *p, uint64_t v);
static uint16_t get_u16(const uint8_t *p);
static bool line_ok(const uint8_t *name, size_t nl, const uint8_t *value, size_t vl);
static uint32_t get_u32(const uint8_t *p);
static uint64_t get_u64(const uint8_t *p);

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void
disk_head_init(struct disk_head *h)
{
	memset(h, 0, sizeof *h);
	hdrs_init(&h->hdrs);
}

void
disk_head_fini(struct disk_head *h)
{
	hdrs_fini(&h->hdrs);
	h->status = 0;
	h->flags = 0;
	h->request_time = h->response_time = h->initial_age = h->lifetime = 0;
}

int
disk_head_encode(const struct disk_head *h, uint8_t **out, size_t *outlen)
{
	size_t n = HEAD_FIXED + HEAD_SUM, pos;
	uint8_t sum[DIGEST_LEN], *p;

	*out = NULL;
	*outlen = 0;
	for (unsigned i = 0; i < h->hdrs.n; i++) {
		const char *nm = h->hdrs.v[i].name, *v = h->hdrs.v[i].value;

		if (!line_ok((const uint8_t *)nm, strlen(nm), (const uint8_t *)v, strlen(v)))
			return CDN_INVAL;
		n += 8 + strlen(nm) + strlen(v);
	}
	if (h->status < 0 || h->status > 0xffff)
		return CDN_INVAL;
	p = xmalloc(n);
	memcpy(p, "CDNH", 4);
	put_u16(p + 4, DISK_HEAD_VERSION);
	put_u16(p + 6, (uint16_t)h->status);
	put_u32(p + 8, h->flags);
	put_u32(p + 12, h->hdrs.n);
	put_u64(p + 16, (uint64_t)h->request_time);
	put_u64(p + 24, (uint64_t)h->response_time);
	put_u64(p + 32, (uint64_t)h->initial_age);
	put_u64(p + 40, (uint64_t)h->lifetime);
	pos = HEAD_FIXED;
	for (unsigned i = 0; i < h->hdrs.n; i++) {
		size_t nl = strlen(h->hdrs.v[i].name), vl = strlen(h->hdrs.v[i].value);

		put_u32(p + pos, (uint32_t)nl);
		put_u32(p + pos + 4, (uint32_t)vl);
		memcpy(p + pos + 8, h->hdrs.v[i].name, nl);
		memcpy(p + pos + 8 + nl, h->hdrs.v[i].value, vl);
		pos += 8 + nl + vl;
	}
	digest_sha256(p, pos, sum);
	memcpy(p + pos, sum, HEAD_SUM);
	*out = p;
	*outlen = n;
	return CDN_OK;
}

/* What disk_head_encode can have written for a struct hdrs line: a
 * non-empty name of visible characters other than ':', and a value with no
 * control character but HTAB and no SP or HTAB at either end (hdrs trims
 * them). Anything else decodes as corrupt rather than as something other
 * than what was stored (NUL would truncate, CR or LF would split a head). */
static bool
line_ok(const uint8_t *name, size_t nl, const uint8_t *value, size_t vl)
{
	if (nl == 0)
		return false;
	for (size_t i = 0; i < nl; i++)
		if (name[i] <= 0x20 || name[i] == ':' || name[i] == 0x7f)
			return false;
	for (size_t i = 0; i < vl; i++)
		if ((value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
			return false;
	if (vl > 0 && (value[0] == ' ' || value[0] == '\t' || value[vl - 1] == ' ' ||
	    value[vl - 1] == '\t'))
		return false;
	return true;
}

int
disk_head_decode(const void *buf, size_t n, struct disk_head *h)
{
	const uint8_t *p = buf;
	uint8_t sum[DIGEST_LEN];
	size_t pos, end;
	uint32_t nlines;

	if (p == NULL || n < HEAD_FIXED + HEAD_SUM || memcmp(p, "CDNH", 4) != 0 ||
	    get_u16(p + 4) != DISK_HEAD_VERSION)
		return CDN_CORRUPT;
	end = n - HEAD_SUM;
	digest_sha256(p, end, sum);
	if (memcmp(sum, p + end, HEAD_SUM) != 0)
		return CDN_CORRUPT;
	nlines = get_u32(p + 12);
	if (nlines > (end - HEAD_FIXED) / 8)
		return CDN_CORRUPT;
	h->status = get_u16(p + 6);
	h->flags = get_u32(p + 8);
	h->request_time = (int64_t)get_u64(p + 16);
	h->response_time = (int64_t)get_u64(p + 24);
	h->initial_age = (int64_t)get_u64(p + 32);
	h->lifetime = (int64_t)get_u64(p + 40);
	pos = HEAD_FIXED;
	for (uint32_t i = 0; i < nlines; i++) {
		size_t nl, vl;

		if (end - pos < 8)
			goto bad;
		nl = get_u32(p + pos);
		vl = get_u32(p + pos + 4);
		pos += 8;
		if (nl > end - pos || vl > end - pos - nl || !line_ok(p + pos, nl, p + pos + nl, vl))
			goto bad;
		hdrs_addn(&h->hdrs, (const char *)p + pos, nl, (const char *)p + pos + nl, vl);
		pos += nl + vl;
	}
	if (pos != end)
		goto bad;
	return CDN_OK;
bad:
	disk_head_fini(h);
	return CDN_CORRUPT;
}
