/*
 * range.c: "bytes=" range sets (RFC 9110 14.1.2) against a known length.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http/range.h"

static bool
parse_num(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	*pp = p;
	*out = v;
	return true;
}

static void
skip_ows(const char **pp)
{
	while (**pp == ' ' || **pp == '\t')
		(*pp)++;
}

enum range_result
range_parse(const char *value, uint64_t len, struct range *out, unsigned *n)
{
	const char *p = value;
	unsigned asked = 0, kept = 0;

	*n = 0;
	skip_ows(&p);
	if (strncasecmp(p, "bytes", 5) != 0)
		return RANGE_IGNORE;
	p += 5;
	skip_ows(&p);
	if (*p++ != '=')
		return RANGE_IGNORE;
	for (;;) {
		uint64_t a, b;
		bool suffix = false, open = false;

		skip_ows(&p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '-') {
			p++;
			suffix = true;
			if (!parse_num(&p, &b))
				return RANGE_IGNORE;
		} else {
			if (!parse_num(&p, &a) || *p++ != '-')
				return RANGE_IGNORE;
			if (isdigit((unsigned char)*p)) {
				if (!parse_num(&p, &b) || b < a)
					return RANGE_IGNORE;
			} else {
				open = true;
			}
		}
		skip_ows(&p);
		if (*p != ',' && *p != '\0')
			return RANGE_IGNORE;
		if (++asked > RANGE_MAX)
			return RANGE_IGNORE;
		if (suffix) {
			if (b == 0 || len == 0)
				continue; /* unsatisfiable */
			a = b >= len ? 0 : len - b;
			b = len - 1;
		} else {
			if (a >= len)
				continue;
			if (open || b >= len)
				b = len - 1;
		}
		/* Merge with an earlier overlapping or adjacent range. */
		{
			bool merged = false;

			for (unsigned i = 0; i < kept; i++) {
				if (a <= out[i].last + 1 && b + 1 >= out[i].first) {
					if (a < out[i].first)
						out[i].first = a;
					if (b > out[i].last)
						out[i].last = b;
					merged = true;
					break;
				}
			}
			if (!merged) {
				out[kept].first = a;
				out[kept].last = b;
				kept++;
			}
		}
	}
	if (asked == 0)
		return RANGE_IGNORE;
	if (kept == 0)
		return RANGE_UNSATISFIABLE;
	*n = kept;
	return RANGE_OK;
}
