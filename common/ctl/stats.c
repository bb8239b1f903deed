/*
 * stats.c: the node's global counters and a visitor over them.
 */
#include "config.h"

#include "ctl/stats.h"

struct stats stats_g;

void
stats_foreach(void (*fn)(const char *name, const char *help, uint64_t v, void *arg), void *arg)
{
#define STATS_VISIT(n, h) fn(#n, h, (uint64_t)STATS_GET(n), arg);
	STATS_COUNTERS(STATS_VISIT)
#undef STATS_VISIT
}
