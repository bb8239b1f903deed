/*
 * vas.h: assertions that stay on in production builds, after the idea of
 * Varnish's include/vas.h and miniobj.h (written for this project).
 *
 * An assertion marks a programmer error, never bad input.
 *   AN(x)  x is non-zero / non-NULL        AZ(x)  x is zero
 *   PTOK(x) a pthread call returned 0
 *   CHECK_OBJ_NOTNULL(p, MAGIC)  p is non-NULL and p->magic == MAGIC
 *   TAKE_OBJ_NOTNULL(to, pp, MAGIC)  move *pp into to, set *pp = NULL
 */
#ifndef CDN_VAS_H
#define CDN_VAS_H

#include <stdio.h>
#include <stdlib.h>

void vas_fail(const char *func, const char *file, int line, const char *cond)
	__attribute__((noreturn));

#define VAS_ASSERT(c) do { if (__builtin_expect(!(c), 0)) \
	vas_fail(__func__, __FILE__, __LINE__, #c); } while (0)
#define AN(x)   VAS_ASSERT((x) != 0)
#define AZ(x)   VAS_ASSERT((x) == 0)
#define PTOK(x) do { int vas_e_ = (x); VAS_ASSERT(vas_e_ == 0); } while (0)
#define WRONG(msg) vas_fail(__func__, __FILE__, __LINE__, msg)

#define CHECK_OBJ_NOTNULL(p, m) do { AN(p); VAS_ASSERT((p)->magic == (m)); } while (0)
#define CHECK_OBJ(p, m) do { if ((p) != NULL) VAS_ASSERT((p)->magic == (m)); } while (0)
#define TAKE_OBJ_NOTNULL(to, pp, m) do { AN(pp); (to) = *(pp); *(pp) = NULL; \
	CHECK_OBJ_NOTNULL(to, m); } while (0)

/* Defensive branches, after SQLite's ALWAYS/NEVER: the condition is believed
 * to be always true (false), but a release build still handles the other case. */
#define ALWAYS(x) (__builtin_expect(!!(x), 1))
#define NEVER(x)  (__builtin_expect(!!(x), 0))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
