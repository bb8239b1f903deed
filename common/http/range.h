/*
 * range.h (module range_): byte ranges of a stored representation
 * (RFC 9110 14). Pure: no I/O.
 */
#ifndef CDN_RANGE_H
#define CDN_RANGE_H

#include <stdint.h>

#define RANGE_MAX 16

struct range {
	uint64_t first, last; /* inclusive */
};

enum range_result {
	RANGE_IGNORE = 0,   /* no usable Range: answer 200 with the whole body */
	RANGE_OK,           /* out[0..n) are satisfiable ranges */
	RANGE_UNSATISFIABLE /* answer 416 with Content-Range: bytes * / len */
};

/* Parse a Range field value against a representation of len bytes.
 * Unknown units, bad syntax and more than RANGE_MAX ranges are ignored
 * (RFC 9110 14.2 allows ignoring Range). Unsatisfiable ranges are dropped;
 * if none is left the answer is RANGE_UNSATISFIABLE. Overlapping or
 * adjacent ranges are merged (14.2 lets a server coalesce them), in the
 * order they were asked. */
enum range_result range_parse(const char *value, uint64_t len, struct range *out, unsigned *n);

#endif
