/*
 * ratelimit.c: token buckets in a fixed open-addressed table.
 *
 * Design: a key hashes (FNV-1a) to a slot and probes RL_PROBE slots after it;
 * it uses the slot holding it, else an empty one, else the one refilled
 * longest ago (whose bucket is the fullest, so forgetting it costs the
 * least). Tokens are kept as a double and refilled lazily on each take.
 *
 * Locking: rl->mtx guards the whole table; nothing else is shared.
 */
#include "config.h"

#include <math.h>
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
	double tokens;
	uint64_t last_ms;          /* when tokens was last brought up to date */
};

struct rl {
	pthread_mutex_t mtx;
	double rate, burst;        /* const */
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
	rl->rate = rate > 0 ? rate : 0;
	rl->burst = burst >= 1 ? burst : 1;
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
	unsigned start;
	bool ok;

	if (rl->rate <= 0)
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
		if (stalest == NULL || s->last_ms < stalest->last_ms)
			stalest = s;
	}
	if (b == NULL) {
		b = empty != NULL ? empty : stalest;
		AN(b);
		snprintf(b->key, sizeof b->key, "%s", key);
		b->tokens = rl->burst;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
		b->last_ms = now_ms;
	}
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else if (retry_ms != NULL)
		*retry_ms = (uint64_t)ceil((1.0 - b->tokens) * 1000.0 / rl->rate);
	PTOK(pthread_mutex_unlock(&rl->mtx));
	if (!ok && retry_ms != NULL && *retry_ms == 0)
		*retry_ms = 1;
	return ok;
}
