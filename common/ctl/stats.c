/*
 * stats.c: the node's global counters and a visitor over them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl/stats.h"

struct stats stats_g;

void
stats_foreach(void (*fn)(const char *name, const char *help, uint64_t v, void *arg), void *arg)
{
#define STATS_VISIT(n, h) fn(#n, h, (uint64_t)STATS_GET(n), arg);
	STATS_COUNTERS(STATS_VISIT)
#undef STATS_VISIT
}

/* ---------------------------------------------------------------- histograms */

static const double bounds_ms[] = { 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
	10000 };
#define NBOUNDS (sizeof bounds_ms / sizeof bounds_ms[0])

struct hist {
	atomic_uint_fast64_t bucket[NBOUNDS + 1];   /* last: +Inf */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

static struct hist hists[2];
static const char *const hist_names[2] = { "cdn_request_duration_ms", "cdn_upstream_duration_ms" };
static const char *const hist_help[2] = {
	"time from a request's arrival to the end of its answer",
	"time from sending a request upstream to its answer's head",
};

void
stats_observe(enum stats_hist h, double ms)
{
	struct hist *x = &hists[h];
	size_t i;

	if (ms < 0)
		return;
	for (i = 0; i < NBOUNDS && ms > bounds_ms[i]; i++)
		;
	atomic_fetch_add_explicit(&x->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->sum_us, (uint64_t)(ms * 1000), memory_order_relaxed);
}

static const char *const answer_names[] = { "HIT", "MISS", "STALE", "REVALIDATED", "PASS", "ERROR" };
static atomic_uint_fast64_t answers[sizeof answer_names / sizeof answer_names[0]];

void
stats_answer(const char *xcache)
{
	size_t n = sizeof answer_names / sizeof answer_names[0], i;

	for (i = 0; i + 1 < n; i++)
		if (xcache != NULL && strcmp(xcache, answer_names[i]) == 0)
			break;
	atomic_fetch_add_explicit(&answers[i], 1, memory_order_relaxed);
}

void
stats_metrics(void (*fn)(void *arg, const char *line), void *arg)
{
	char line[256];

	fn(arg, "# HELP cdn_answers_total answers to clients by cache status (X-Cache)\n"
	    "# TYPE cdn_answers_total counter\n");
	for (size_t i = 0; i < sizeof answer_names / sizeof answer_names[0]; i++) {
		snprintf(line, sizeof line, "cdn_answers_total{cache=\"%s\"} %llu\n", answer_names[i],
		    (unsigned long long)atomic_load(&answers[i]));
		fn(arg, line);
	}
	for (int h = 0; h < 2; h++) {
		uint64_t cum = 0;

		snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s histogram\n", hist_names[h],
		    hist_help[h], hist_names[h]);
		fn(arg, line);
		for (size_t i = 0; i <= NBOUNDS; i++) {
			cum += atomic_load(&hists[h].bucket[i]);
			if (i < NBOUNDS)
				snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", hist_names[h],
				    bounds_ms[i], (unsigned long long)cum);
			else
				snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n", hist_names[h],
				    (unsigned long long)cum);
			fn(arg, line);
		}
		snprintf(line, sizeof line, "%s_sum %.3f\n%s_count %llu\n", hist_names[h],
		    (double)atomic_load(&hists[h].sum_us) / 1000.0, hist_names[h],
		    (unsigned long long)atomic_load(&hists[h].count));
		fn(arg, line);
	}
}
