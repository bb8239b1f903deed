/*
 * ratelimit.h (module rl_): token buckets keyed by a short string (a token's
 * digest, a client address), for the admin API's 429 answers.
 *
 * Each key has a bucket of at most `burst` tokens that refills at `rate`
 * tokens per second; a request takes one token or is refused with the time
 * until one is there. Buckets live in a fixed table (no allocation after
 * rl_new): a key not seen for burst/rate seconds has a full bucket, which is
 * the same as no bucket, so when the table is full the stalest bucket of a
 * short probe sequence is reused. Time is passed in (milliseconds, any
 * monotonic origin), so tests drive it without sleeping.
 *
 * Thread-safe: one mutex ("rl") around the table; rl_take does no I/O.
 */
#ifndef CDN_RATELIMIT_H
#define CDN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rl;

/* A limiter of rate tokens per second with buckets of burst tokens (burst
 * below 1 counts as 1), keeping up to `slots` keys. rate 0 makes a limiter
 * that allows everything. */
struct rl *rl_new(double rate, double burst, unsigned slots);
void rl_free(struct rl **rlp);

/* Take one token from key's bucket at time now_ms. Returns true if allowed;
 * otherwise false with *retry_ms (may be NULL) set to the milliseconds
 * until a token is there (at least 1). */
bool rl_take(struct rl *rl, const char *key, uint64_t now_ms, uint64_t *retry_ms);

#endif
