/*
 * digest.c: SHA-256 over OpenSSL EVP and base64 with EVP_EncodeBlock, so
 * no hashing or encoding code of our own.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/digest.h"
#include "util/err.h"
#include "util/vas.h"

void
digest_init(struct digest *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	AN(ctx);
	AN(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
	d->_ctx = ctx;
}

void
digest_update(struct digest *d, const void *p, size_t n)
{
	AN(d->_ctx);
	if (n > 0)
		AN(EVP_DigestUpdate(d->_ctx, p, n));
}

void
digest_final(struct digest *d, uint8_t out[DIGEST_LEN])
{
	unsigned int len = 0;

	AN(d->_ctx);
	AN(EVP_DigestFinal_ex(d->_ctx, out, &len));
	AZ(len != DIGEST_LEN);
	EVP_MD_CTX_free(d->_ctx);
	d->_ctx = NULL;
}

void
digest_fini(struct digest *d)
{
	if (d->_ctx != NULL)
		EVP_MD_CTX_free(d->_ctx);
	d->_ctx = NULL;
}

void
digest_sha256(const void *p, size_t n, uint8_t out[DIGEST_LEN])
{
	struct digest d;

	digest_init(&d);
	digest_update(&d, p, n);
	digest_final(&d, out);
}

void
digest_field(const uint8_t sha[DIGEST_LEN], char out[DIGEST_FIELD_LEN])
{
	int n;

	memcpy(out, "sha-256=:", 9);
	n = EVP_EncodeBlock((unsigned char *)out + 9, sha, DIGEST_LEN);
	AZ(n != 44);
	out[9 + n] = ':';
	out[10 + n] = '\0';
}

void
digest_hex(const uint8_t sha[DIGEST_LEN], char out[2 * DIGEST_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < DIGEST_LEN; i++) {
		out[2 * i] = hx[sha[i] >> 4];
		out[2 * i + 1] = hx[sha[i] & 15];
	}
	out[2 * DIGEST_LEN] = '\0';
}

int
digest_field_parse(const char *value, uint8_t out[DIGEST_LEN])
{
	const char *p = value;

	while (p != NULL && *p != '\0') {
		const char *colon, *end;
		unsigned char buf[64];
		int n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, "sha-256", 7) == 0 && p[7] == '=') {
			colon = p + 8;
			if (*colon != ':')
				return CDN_INVAL;
			end = strchr(colon + 1, ':');
			/* 32 bytes are 44 base64 characters with padding. */
			if (end == NULL || end - colon - 1 != 44)
				return CDN_INVAL;
			n = EVP_DecodeBlock(buf, (const unsigned char *)colon + 1, 44);
			if (n != 33 || colon[44] != '=')
				return CDN_INVAL;
			memcpy(out, buf, DIGEST_LEN);
			return CDN_OK;
		}
		p = strchr(p, ',');
	}
	return CDN_NOTFOUND;
}

void
digest_init_alg(struct digest *d, int alg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	AN(ctx);
	AN(EVP_DigestInit_ex(ctx, alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(), NULL));
	d->_ctx = ctx;
}

unsigned
digest_final_n(struct digest *d, uint8_t out[DIGEST_MAX_LEN])
{
	unsigned int len = 0;

	AN(d->_ctx);
	AN(EVP_DigestFinal_ex(d->_ctx, out, &len));
	EVP_MD_CTX_free(d->_ctx);
	d->_ctx = NULL;
	return len;
}

/* Decode the ":BASE64:" byte sequence at p into n bytes. */
static int
decode_member(const char *p, uint8_t *out, size_t n)
{
	const char *end;
	size_t b64 = 4 * ((n + 2) / 3);
	unsigned char buf[96];
	int got;

	if (*p != ':')
		return CDN_INVAL;
	end = strchr(p + 1, ':');
	if (end == NULL || (size_t)(end - p - 1) != b64 || b64 > sizeof buf)
		return CDN_INVAL;
	got = EVP_DecodeBlock(buf, (const unsigned char *)p + 1, (int)b64);
	if (got < (int)n)
		return CDN_INVAL;
	memcpy(out, buf, n);
	return CDN_OK;
}

int
digest_field_parse_any(const char *value, int *alg, uint8_t out[DIGEST_MAX_LEN])
{
	const char *p = value, *s512 = NULL;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, "sha-256=", 8) == 0) {
			*alg = DIGEST_SHA256;
			return decode_member(p + 8, out, 32);
		}
		if (strncasecmp(p, "sha-512=", 8) == 0 && s512 == NULL)
			s512 = p + 8;
		p = strchr(p, ',');
	}
	if (s512 == NULL)
		return CDN_NOTFOUND;
	*alg = DIGEST_SHA512;
	return decode_member(s512, out, 64);
}
