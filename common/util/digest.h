/*
 * digest.h (module digest_): SHA-256 of bodies as they stream, and the
 * RFC 9530 field value that carries it ("sha-256=:BASE64:").
 *
 * A struct digest belongs to one thread at a time (the one feeding it).
 */
#ifndef CDN_DIGEST_H
#define CDN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32
/* "sha-256=:" + 44 base64 chars + ":" + NUL */
#define DIGEST_FIELD_LEN 56

struct digest {
	void *_ctx; /* EVP_MD_CTX */
};

/* Start a SHA-256. Aborts if OpenSSL cannot (a programmer or build error). */
void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *p, size_t n);
/* Finish into out and release the context; d may be reused after digest_init. */
void digest_final(struct digest *d, uint8_t out[DIGEST_LEN]);
/* Release without finishing (abandoned fetch). Safe on a finished digest. */
void digest_fini(struct digest *d);

/* One-shot SHA-256. */
void digest_sha256(const void *p, size_t n, uint8_t out[DIGEST_LEN]);
/* "sha-256=:BASE64:" into out. */
void digest_field(const uint8_t sha[DIGEST_LEN], char out[DIGEST_FIELD_LEN]);
#define DIGEST_MAX_LEN 64
#define DIGEST_SHA256 256
#define DIGEST_SHA512 512

/* Start a digest of the given algorithm (DIGEST_SHA256 or DIGEST_SHA512);
 * finish it with digest_final_n. */
void digest_init_alg(struct digest *d, int alg);
/* Finish into out (DIGEST_MAX_LEN bytes room); returns the length. */
unsigned digest_final_n(struct digest *d, uint8_t out[DIGEST_MAX_LEN]);
/* The sha-256 member of a Content-Digest / Repr-Digest value, else its
 * sha-512 member: sets *alg and the decoded digest (32 or 64 bytes).
 * Returns 0, CDN_NOTFOUND (neither present) or CDN_INVAL (malformed). */
int digest_field_parse_any(const char *value, int *alg, uint8_t out[DIGEST_MAX_LEN]);

/* Find the sha-256 member of an RFC 9530 Content-Digest / Repr-Digest
 * field value ("sha-256=:BASE64:, sha-512=:...:") and decode it into out.
 * Returns 0, CDN_NOTFOUND (no sha-256 member), or CDN_INVAL (malformed). */
int digest_field_parse(const char *value, uint8_t out[DIGEST_LEN]);
/* Lower-case hex, 65 bytes with NUL. */
void digest_hex(const uint8_t sha[DIGEST_LEN], char out[2 * DIGEST_LEN + 1]);

#endif
