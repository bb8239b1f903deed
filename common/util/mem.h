/*
 * mem.h: allocation for small structural objects.
 *
 * xmalloc and friends abort the process with a message when the allocator
 * fails: structural allocations are small, and a node that cannot get 100
 * bytes is beyond saving. Body storage does not use these: it calls
 * mem_try_alloc, which may fail, and the caller evicts or fails the request.
 *
 * Fault injection (tests): mem_fail_after(n) makes the n-th following
 * mem_try_alloc call fail (n = 0 switches injection off).
 */
#ifndef CDN_MEM_H
#define CDN_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* May fail (returns NULL); used for bodies. */
void *mem_try_alloc(size_t n);
void *mem_try_realloc(void *p, size_t n);
void mem_fail_after(unsigned long n);

#endif
