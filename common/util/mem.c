/*
 * mem.c: abort-on-failure wrappers for structural allocations, fallible
 * allocation for bodies, and the fault-injection countdown used by tests.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/vas.h"

static atomic_ulong fail_countdown;

void
vas_fail(const char *func, const char *file, int line, const char *cond)
{
	fprintf(stderr, "assertion failed: %s at %s:%d (%s)\n", cond, file, line, func);
	abort();
}

static void *
oom(size_t n)
{
	fprintf(stderr, "out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	return p != NULL ? p : oom(n);
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

	return p != NULL ? p : oom(nmemb * n);
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	return q != NULL ? q : oom(n);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	return p != NULL ? p : oom(strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	return p != NULL ? p : oom(n);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return oom(0);
	return s;
}

static int
injected_failure(void)
{
	unsigned long c = atomic_load(&fail_countdown);

	while (c > 0) {
		if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
			return c == 1;
	}
	return 0;
}

void *
mem_try_alloc(size_t n)
{
	if (injected_failure())
		return NULL;
	return malloc(n ? n : 1);
}

void *
mem_try_realloc(void *p, size_t n)
{
	if (injected_failure())
		return NULL;
	return realloc(p, n ? n : 1);
}

void
mem_fail_after(unsigned long n)
{
	atomic_store(&fail_countdown, n);
}
