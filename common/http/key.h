/*
 * key.h (module key_): cache keys.
 *
 * A node fronts one upstream (an origin, or the shield tier in front of it),
 * so the key of a request is its request target, path and query exactly as
 * received (an absolute-form target is reduced to its path and query). The
 * Host header is not part of the key. The hash is 64-bit FNV-1a over the
 * key's bytes: stable across builds and machines, so edges and shields that
 * share a ring agree on every key (the ring may use its own hash on top).
 */
#ifndef CDN_KEY_H
#define CDN_KEY_H

#include <stddef.h>
#include <stdint.h>

/* Reduce a raw request target to its key. Returns a pointer into target
 * (no copy) and sets *len, or NULL for a target that is not origin-form or
 * absolute-form, or that holds control characters, spaces or NUL. */
const char *key_from_target(const char *target, size_t *len);
uint64_t key_hash(const char *key, size_t len);

struct hdrs;

/* Secondary keys (RFC 9111 4.1). A response with Vary is stored under
 * KEY "\x01" GEN "\x01" SUFFIX, where SUFFIX lists each named request
 * field's value, normalised (lower-case names, whitespace runs folded and
 * trimmed, repeated lines joined with ", "), and GEN is the generation of
 * the URL's vary marker, stored under KEY "\x02", which remembers what the
 * URL varies on. Dropping the marker (a purge, a Vary change) makes every
 * variant of the URL unreachable at once; they then age out of the LRU.
 * Neither byte can occur in a request target, so nothing collides. */
#define KEY_VARIANT_SEP '\x01'
#define KEY_MARKER_SEP  '\x02'

/* Build the variant key for the request fields req named in vary (a Vary
 * field value, several lines joined). Returns a heap string (xmalloc) and
 * its length in *len, or NULL when vary contains "*" (never matches). */
char *key_variant(const char *key, size_t keylen, uint64_t gen, const char *vary,
    const struct hdrs *req, size_t *len);
/* The generation inside a variant key, or 0 if key is not one. */
uint64_t key_variant_gen(const char *key, size_t len);
/* "KEY\x02" as a heap string. */
char *key_marker(const char *key, size_t keylen, size_t *len);
/* Length of the URL part of a stored key (before any \x01 or \x02). */
size_t key_base_len(const char *key, size_t len);

#endif
