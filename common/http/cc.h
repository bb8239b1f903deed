/*
 * cc.h: Cache-Control parsing that survives the real world
 * (RFC 9111 sections 1.2.2 and 5.2), plus the Structured Fields dictionary
 * form used by targeted fields such as CDN-Cache-Control (RFC 9213).
 *
 * Pure: no I/O, no shared state; a struct cc is plain data.
 *
 * Cache-Control rules (cc_parse):
 *  - Directive names are case-insensitive. Values are a token or a
 *    quoted-string; OWS may appear around "," and "="; empty list elements are
 *    skipped; unknown directives are ignored.
 *  - Numbers are delta-seconds (1*DIGIT), also accepted quoted
 *    (max-age="60" is 60, as RFC 9111 5.2 asks recipients to accept).
 *    Values above 2^31 are clamped to CC_DELTA_MAX (RFC 9111 1.2.2).
 *  - Duplicates: the first occurrence of a numeric directive wins
 *    (RFC 9111 4.2.1), also across several header lines.
 *  - Invalid numbers (negative, fractional "1.5", empty, missing, non-digits,
 *    trailing junk, unclosed quote):
 *      max-age, s-maxage     -> 0, i.e. the response is stale at once, as
 *                               RFC 9111 4.2.1 encourages for "invalid
 *                               freshness information".
 *                               The invalid occurrence still counts as the
 *                               first one.
 *      max-stale             -> as if absent (not "any staleness").
 *      min-fresh, stale-while-revalidate, stale-if-error -> as if absent;
 *                               a later valid occurrence then applies.
 *  - no-cache / private without a value set CC_NO_CACHE / CC_PRIVATE. With a
 *    field-name list (quoted, or a single token) they set CC_NO_CACHE_FIELDS /
 *    CC_PRIVATE_FIELDS and record the names, lower-cased, comma separated,
 *    without duplicates, in no_cache_fields / private_fields. An empty list
 *    (no-cache="" or no-cache=) counts as the unqualified form. Whenever the
 *    list cannot be recorded exactly (a malformed value, a name that is not a
 *    token, an unclosed quote, or more names than fit in the buffer) the
 *    unqualified flag is set as well: a cache then revalidates (no-cache) or
 *    refuses to store (private) rather than ignore a field it was told about.
 *  - Flag directives take no value; a value, if sent, is ignored.
 *
 * Targeted fields (cc_sf_dict_valid, cc_parse_sf, cc_targeted_usable,
 * cc_parse_targeted_hdrs): RFC 9213 2.1 makes them Structured Fields
 * dictionaries (RFC 8941 3.2). A field line that does not parse as one, or
 * an empty field, makes the whole targeted field unusable (it is then
 * ignored, RFC 9213 2.1/2.2). Inside a valid dictionary, directives mean the
 * same as in Cache-Control except as Structured Fields dictate: a later
 * duplicate key replaces the earlier one, "?0" switches a directive off,
 * parameters (";a=1") are ignored. Field lines are checked one by one; empty
 * lines are skipped instead of failing the combined value.
 */
#ifndef CDN_CC_H
#define CDN_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hdrs;

enum {
	CC_NO_STORE = 1 << 0,
	CC_NO_CACHE = 1 << 1,		/* unqualified */
	CC_PRIVATE = 1 << 2,		/* unqualified */
	CC_PUBLIC = 1 << 3,
	CC_MUST_REVALIDATE = 1 << 4,
	CC_PROXY_REVALIDATE = 1 << 5,
	CC_IMMUTABLE = 1 << 6,
	CC_ONLY_IF_CACHED = 1 << 7,
	CC_NO_TRANSFORM = 1 << 8,
	CC_MAX_STALE_ANY = 1 << 9,	/* max-stale without a value */
	CC_NO_CACHE_FIELDS = 1 << 10,	/* qualified no-cache="a, b" */
	CC_PRIVATE_FIELDS = 1 << 11,	/* qualified private="a, b" */
	CC_MUST_UNDERSTAND = 1 << 12,
};

#define CC_UNSET (-1)
#define CC_DELTA_MAX 2147483648LL	/* RFC 9111 1.2.2: clamp to 2^31 */
#define CC_FIELDS_LEN 256

struct cc {
	unsigned flags;
	/* CC_UNSET when absent, else 0..CC_DELTA_MAX seconds */
	int64_t max_age, s_maxage, max_stale, min_fresh;
	int64_t swr;	/* stale-while-revalidate (RFC 5861 3) */
	int64_t sie;	/* stale-if-error (RFC 5861 4) */
	/* names from the qualified forms: lower-case, "a,b", NUL-terminated */
	char no_cache_fields[CC_FIELDS_LEN];
	char private_fields[CC_FIELDS_LEN];
};

/* Reset `c` to "no directives": flags 0, numbers CC_UNSET, lists empty. */
void cc_init(struct cc *c);

/* Add the directives of one Cache-Control field line (NUL-terminated) to `c`.
 * Call once per line, in order, after cc_init(). Never reads past the string
 * or writes past the field buffers. */
void cc_parse(struct cc *c, const char *value);

/* cc_init(c), then cc_parse() every line of `field` in `h` (h may be NULL). */
void cc_parse_hdrs(struct cc *c, const struct hdrs *h, const char *field);

/* True if `h` (may be NULL) has at least one line named `field`. */
bool cc_present(const struct hdrs *h, const char *field);

/*
 * Parse delta-seconds (RFC 9111 1.2.2) from s[0..len): 1*DIGIT only, no sign,
 * no spaces. Returns CDN_OK with the value (clamped to CC_DELTA_MAX) in *out,
 * or CDN_INVAL.
 */
int cc_delta_seconds(const char *s, size_t len, int64_t *out);

/*
 * True if `value` is a syntactically valid Structured Fields dictionary
 * (RFC 8941 3.2, with the RFC 9651 Date and Display String items). If
 * `nmembers` is not NULL it receives the number of members.
 */
bool cc_sf_dict_valid(const char *value, unsigned *nmembers);

/* Add the directives of one targeted field line to `c` with the Structured
 * Fields semantics above. Safe on any input; meaningful on valid input. */
void cc_parse_sf(struct cc *c, const char *value);

/* True if `h` has the targeted field `field`, every non-empty line of it is a
 * valid dictionary, and there is at least one member in all (RFC 9213 2.2:
 * a "valid, non-empty value"). */
bool cc_targeted_usable(const struct hdrs *h, const char *field);

/* cc_init(c), then cc_parse_sf() every line of `field` in `h`. */
void cc_parse_targeted_hdrs(struct cc *c, const struct hdrs *h,
    const char *field);

#endif
