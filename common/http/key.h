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

#endif
