/*
 * ratelimit.c: token buckets as GCRA (the generic cell rate algorithm) in a
 * fixed open-addressed table.
 *
 * Design: a bucket is one number, its theoretical arrival time (TAT, in
 * microseconds): a request at `now` passes if TAT - now <= tau, where
 * T = 1/rate is the emission interval and tau = (burst - 1) * T the burst
 * tolerance, and then TAT = max(TAT, now) + T. That is exactly a bucket of
 * `burst` tokens refilled at `rate`, in integer arithmetic, so there is no
 * drift, and the time until the next token is TAT - tau - now.
 *
 * A key hashes (FNV-1a) to a slot and probes RL_PROBE slots after it; it
 * uses the slot holding it, else an empty one, else the one with the
 * oldest TAT (the fullest bucket, so forgetting it costs the least).
 *
 * Locking: rl->mtx guards the whole table; nothing else is shared.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ratelimit.h"
#include "util/mem.h"
#include "util/vas.h"

#define RL_KEY_MAX 64
#define RL_PROBE 8

struct bucket {
	char key[RL_KEY_MAX];      /* "" when the slot is empty */
	uint64_t tat_us;
};

struct rl {
	pthread_mutex_t mtx;
	uint64_t t_us, tau_us;     /* const; t_us 0: no limit */
	unsigned nslots;           /* const */
	struct bucket *slots;      /* (mtx) */
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

struct rl *
rl_new(double rate, double burst, unsigned slots)
{
	struct rl *rl = xcalloc(1, sizeof *rl);

	PTOK(pthread_mutex_init(&rl->mtx, NULL));
	if (rate > 0) {
		rl->t_us = (uint64_t)(1e6 / rate + 0.5);
		if (rl->t_us == 0)
			rl->t_us = 1;
		rl->tau_us = burst > 1 ? (uint64_t)((burst - 1) * (double)rl->t_us + 0.5) : 0;
	}
	rl->nslots = slots >= RL_PROBE ? slots : RL_PROBE;
	rl->slots = xcalloc(rl->nslots, sizeof *rl->slots);
	return rl;
}

void
rl_free(struct rl **rlp)
{
	struct rl *rl = *rlp;

	*rlp = NULL;
	if (rl == NULL)
		return;
	PTOK(pthread_mutex_destroy(&rl->mtx));
	free(rl->slots);
	free(rl);
}

bool
rl_take(struct rl *rl, const char *key, uint64_t now_ms, uint64_t *retry_ms)
{
	struct bucket *b = NULL, *empty = NULL, *stalest = NULL;
	uint64_t now = now_ms * 1000, tat, wait = 0;
	unsigned start;
	bool ok;

	if (rl->t_us == 0)
		return true;
	start = (unsigned)(fnv1a(key) % rl->nslots);
	PTOK(pthread_mutex_lock(&rl->mtx));
	for (unsigned i = 0; i < RL_PROBE; i++) {
		struct bucket *s = &rl->slots[(start + i) % rl->nslots];

		if (s->key[0] == '\0') {
			if (empty == NULL)
				empty = s;
			continue;
		}
		if (strncmp(s->key, key, RL_KEY_MAX - 1) == 0) {
			b = s;
			break;
		}
		if (stalest == NULL || s->tat_us < stalest->tat_us)
			stalest = s;
	}
	if (b == NULL) {
		b = empty != NULL ? empty : stalest;
		AN(b);
		snprintf(b->key, sizeof b->key, "%s", key);
		b->tat_us = 0;
	}
	tat = b->tat_us > now ? b->tat_us : now;
	ok = tat - now <= rl->tau_us;
	if (ok)
		b->tat_us = tat + rl->t_us;
	else
		wait = tat - rl->tau_us - now;
	PTOK(pthread_mutex_unlock(&rl->mtx));
	if (!ok && retry_ms != NULL)
		*retry_ms = wait / 1000 + (wait % 1000 != 0);
	return ok;
}
