/*
 * cc.c: Cache-Control and targeted cache-control field parsing
 * (RFC 9111 5.2, RFC 9213, RFC 8941).
 *
 * Design: one element splitter and one directive table serve both syntaxes.
 * A field line is cut into list elements by hdrs_list_next() (which keeps
 * quoted commas together); each element is split into name and value by
 * split_elem() without copying or unescaping (no directive we act on needs a
 * backslash escape, so an escaped value is simply "not a valid number / not
 * a token"); apply() then updates the struct cc according to the directive's
 * kind. Every bound is a length, so the parser never reads past the string,
 * and field lists are appended only when they fit, so the fixed buffers
 * cannot overflow. The Structured Fields checker is a separate small
 * recursive-descent validator that follows RFC 8941 section 4.2.
 *
 * No state, no locks, no I/O.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/cc.h"
#include "http/hdrs.h"
#include "util/err.h"
#include "util/vas.h"

/* ---------------------------------------------------------------- types */

enum dkind {
	D_FLAG,		/* no value; sets a flag */
	D_LIST,		/* no-cache / private: flag, or field-name list */
	D_DELTA0,	/* delta-seconds; invalid means 0 */
	D_DELTA,	/* delta-seconds; invalid means absent */
	D_MAXSTALE,	/* optional delta-seconds; none means any */
};

struct dirdef {
	const char *name;
	enum dkind kind;
	unsigned flag;		/* D_FLAG, D_LIST (unqualified) */
	unsigned qflag;		/* D_LIST qualified */
	size_t off;		/* D_DELTA*, D_MAXSTALE: int64_t; D_LIST: buffer */
};

/* One list element, split. */
struct dir {
	const char *name;
	size_t nlen;
	bool has_value;		/* "=" seen (or junk after the name) */
	bool value_ok;		/* the value is a well-formed token/quoted-string */
	bool sf_false;		/* Structured Fields boolean ?0 */
	const char *val;	/* token, or quoted content without the quotes */
	size_t vlen;
};

/* ---------------------------------------------------------------- private */

static bool is_ows(char ch);
static bool is_digit(char ch);
static bool is_alpha(char ch);
static bool is_lcalpha(char ch);
static bool is_tchar(char ch);
static char lower(char ch);
static const struct dirdef *lookup(const char *name, size_t nlen);
static void split_elem(const char *e, size_t len, bool sf, struct dir *d);
static bool fields_has(const char *buf, const char *name, size_t nlen);
static void record_fields(struct cc *c, const struct dirdef *dd,
    const struct dir *d);
static void apply(struct cc *c, const struct dir *d, bool sf);
static void parse_line(struct cc *c, const char *value, bool sf);
static const char *sf_key(const char *p);
static const char *sf_number(const char *p, bool decimal_ok);
static const char *sf_string(const char *p);
static const char *sf_display(const char *p);
static const char *sf_bare_item(const char *p);
static const char *sf_params(const char *p);
static const char *sf_inner_list(const char *p);

#define CC_OFF(f) offsetof(struct cc, f)

static const struct dirdef dirdefs[] = {
	{ "no-store", D_FLAG, CC_NO_STORE, 0, 0 },
	{ "no-cache", D_LIST, CC_NO_CACHE, CC_NO_CACHE_FIELDS,
	    CC_OFF(no_cache_fields) },
	{ "private", D_LIST, CC_PRIVATE, CC_PRIVATE_FIELDS,
	    CC_OFF(private_fields) },
	{ "public", D_FLAG, CC_PUBLIC, 0, 0 },
	{ "must-revalidate", D_FLAG, CC_MUST_REVALIDATE, 0, 0 },
	{ "proxy-revalidate", D_FLAG, CC_PROXY_REVALIDATE, 0, 0 },
	{ "immutable", D_FLAG, CC_IMMUTABLE, 0, 0 },
	{ "only-if-cached", D_FLAG, CC_ONLY_IF_CACHED, 0, 0 },
	{ "no-transform", D_FLAG, CC_NO_TRANSFORM, 0, 0 },
	{ "must-understand", D_FLAG, CC_MUST_UNDERSTAND, 0, 0 },
	{ "max-age", D_DELTA0, 0, 0, CC_OFF(max_age) },
	{ "s-maxage", D_DELTA0, 0, 0, CC_OFF(s_maxage) },
	{ "max-stale", D_MAXSTALE, CC_MAX_STALE_ANY, 0, CC_OFF(max_stale) },
	{ "min-fresh", D_DELTA, 0, 0, CC_OFF(min_fresh) },
	{ "stale-while-revalidate", D_DELTA, 0, 0, CC_OFF(swr) },
	{ "stale-if-error", D_DELTA, 0, 0, CC_OFF(sie) },
};

static bool
is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_lcalpha(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

/* RFC 9110 5.6.2 tchar */
static bool
is_tchar(char ch)
{
	return is_alpha(ch) || is_digit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static char
lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static const struct dirdef *
lookup(const char *name, size_t nlen)
{
	for (size_t i = 0; i < ARRAY_LEN(dirdefs); i++) {
		if (strlen(dirdefs[i].name) == nlen &&
		    strncasecmp(dirdefs[i].name, name, nlen) == 0)
			return &dirdefs[i];
	}
	return NULL;
}

/*
 * Split one list element e[0..len) (already trimmed) into name and value.
 * In Structured Fields mode ";params" after a value or a bare key are
 * dropped, and the booleans ?0 / ?1 mean "off" / "no value".
 */
static void
split_elem(const char *e, size_t len, bool sf, struct dir *d)
{
	size_t i = 0, j, end;

	memset(d, 0, sizeof *d);
	while (i < len && is_tchar(e[i]))
		i++;
	d->name = e;
	d->nlen = i;
	while (i < len && is_ows(e[i]))
		i++;
	if (i == len || (sf && e[i] == ';'))
		return;
	d->has_value = true;
	if (e[i] != '=')
		return;		/* junk after the name: a malformed value */
	i++;
	while (i < len && is_ows(e[i]))
		i++;
	if (i < len && e[i] == '"') {
		for (j = i + 1; j < len; j++) {
			if (e[j] == '\\' && j + 1 < len)
				j++;
			else if (e[j] == '"')
				break;
		}
		if (j >= len)
			return;		/* unclosed quote */
		d->val = e + i + 1;
		d->vlen = j - i - 1;
		for (j++; j < len && is_ows(e[j]); j++)
			;
		d->value_ok = j == len || (sf && e[j] == ';');
		return;
	}
	end = len;
	if (sf) {
		for (j = i; j < len; j++) {
			if (e[j] == ';') {
				end = j;
				break;
			}
		}
	}
	while (end > i && is_ows(e[end - 1]))
		end--;
	if (end == i)
		return;		/* "max-age=" */
	d->val = e + i;
	d->vlen = end - i;
	d->value_ok = true;
	if (sf && d->vlen == 2 && d->val[0] == '?' &&
	    (d->val[1] == '0' || d->val[1] == '1')) {
		d->sf_false = d->val[1] == '0';
		d->has_value = false;
		d->value_ok = false;
		d->val = NULL;
		d->vlen = 0;
	}
}

/* Is name[0..nlen) (lower-case) already in the comma list `buf`? */
static bool
fields_has(const char *buf, const char *name, size_t nlen)
{
	const char *p = buf;

	while (*p != '\0') {
		const char *q = strchr(p, ',');
		size_t l = q ? (size_t)(q - p) : strlen(p);

		if (l == nlen && memcmp(p, name, nlen) == 0)
			return true;
		if (q == NULL)
			break;
		p = q + 1;
	}
	return false;
}

/* Record the field names of a qualified no-cache / private. */
static void
record_fields(struct cc *c, const struct dirdef *dd, const struct dir *d)
{
	char *buf = (char *)c + dd->off;
	size_t used = strlen(buf), i = 0;
	bool any = false, inexact = false;

	while (i < d->vlen) {
		size_t s, e, k;
		char low[CC_FIELDS_LEN];

		while (i < d->vlen && (d->val[i] == ',' || is_ows(d->val[i])))
			i++;
		if (i == d->vlen)
			break;
		s = i;
		while (i < d->vlen && d->val[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows(d->val[e - 1]))
			e--;
		for (k = s; k < e; k++) {
			if (!is_tchar(d->val[k]))
				break;
		}
		if (k < e) {
			inexact = true;		/* not a field name */
			continue;
		}
		if (e - s >= sizeof low) {
			inexact = true;
			continue;
		}
		for (k = s; k < e; k++)
			low[k - s] = lower(d->val[k]);
		any = true;
		if (fields_has(buf, low, e - s))
			continue;
		if (used + (used ? 1 : 0) + (e - s) + 1 > CC_FIELDS_LEN) {
			inexact = true;		/* does not fit */
			continue;
		}
		if (used)
			buf[used++] = ',';
		memcpy(buf + used, low, e - s);
		used += e - s;
		buf[used] = '\0';
	}
	if (any && buf[0] != '\0')
		c->flags |= dd->qflag;
	if (!any || inexact)
		c->flags |= dd->flag;
}

static void
apply(struct cc *c, const struct dir *d, bool sf)
{
	const struct dirdef *dd;
	int64_t *slot, v = 0;
	bool ok;

	if (d->nlen == 0 || (dd = lookup(d->name, d->nlen)) == NULL)
		return;
	ok = d->has_value && d->value_ok &&
	    cc_delta_seconds(d->val, d->vlen, &v) == CDN_OK;
	/* dd->off names an int64_t member only for the numeric kinds */
	slot = dd->kind == D_FLAG || dd->kind == D_LIST ? NULL :
	    (int64_t *)(void *)((char *)c + dd->off);

	switch (dd->kind) {
	case D_FLAG:
		if (d->sf_false)
			c->flags &= ~dd->flag;
		else
			c->flags |= dd->flag;
		break;
	case D_LIST:
		if (sf) {
			/* a later member replaces the earlier one */
			c->flags &= ~(dd->flag | dd->qflag);
			((char *)c + dd->off)[0] = '\0';
		}
		if (d->sf_false)
			break;
		if (!d->has_value || !d->value_ok)
			c->flags |= dd->flag;
		else
			record_fields(c, dd, d);
		break;
	case D_DELTA0:
		if (!sf && *slot != CC_UNSET)
			break;		/* first occurrence wins */
		*slot = ok ? v : 0;
		break;
	case D_DELTA:
		if (sf)
			*slot = ok ? v : CC_UNSET;
		else if (ok && *slot == CC_UNSET)
			*slot = v;
		break;
	case D_MAXSTALE:
		if (sf) {
			c->flags &= ~dd->flag;
			*slot = CC_UNSET;
		}
		if (d->sf_false)
			break;
		if (!d->has_value)
			c->flags |= dd->flag;
		else if (ok && *slot == CC_UNSET)
			*slot = v;
		break;
	}
}

static void
parse_line(struct cc *c, const char *value, bool sf)
{
	const char *p = value, *e;
	size_t n;
	struct dir d;

	AN(c);
	if (value == NULL)
		return;
	while ((p = hdrs_list_next(p, &e, &n)) != NULL) {
		split_elem(e, n, sf, &d);
		apply(c, &d, sf);
	}
}

/* ------------------------------------------- Structured Fields (RFC 8941) */

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static const char *
sf_key(const char *p)
{
	if (!is_lcalpha(*p) && *p != '*')
		return NULL;
	for (p++; is_lcalpha(*p) || is_digit(*p) || *p == '_' || *p == '-' ||
	    *p == '.' || *p == '*'; p++)
		;
	return p;
}

/* Integer (at most 15 digits) or, if allowed, Decimal (12.3 digits). */
static const char *
sf_number(const char *p, bool decimal_ok)
{
	int n = 0, f = 0;

	if (*p == '-')
		p++;
	if (!is_digit(*p))
		return NULL;
	for (; is_digit(*p); p++) {
		if (++n > 15)
			return NULL;
	}
	if (*p != '.')
		return p;
	if (!decimal_ok || n > 12)
		return NULL;
	for (p++; is_digit(*p); p++) {
		if (++f > 3)
			return NULL;
	}
	return f == 0 ? NULL : p;
}

static const char *
sf_string(const char *p)
{
	for (p++;; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return NULL;
			p++;
		} else if (ch == '"') {
			return p + 1;
		} else if (ch < 0x20 || ch > 0x7e) {
			return NULL;	/* includes the terminating NUL */
		}
	}
}

/* RFC 9651 Display String: %"...", with %xx in lower-case hex */
static const char *
sf_display(const char *p)
{
	if (p[1] != '"')
		return NULL;
	for (p += 2;; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '%') {
			for (int i = 1; i <= 2; i++) {
				if (!is_digit(p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
					return NULL;
			}
			p += 2;
		} else if (ch == '"') {
			return p + 1;
		} else if (ch < 0x20 || ch > 0x7e) {
			return NULL;
		}
	}
}

static const char *
sf_bare_item(const char *p)
{
	if (*p == '-' || is_digit(*p))
		return sf_number(p, true);
	if (*p == '"')
		return sf_string(p);
	if (*p == '*' || is_alpha(*p)) {
		for (p++; is_tchar(*p) || *p == ':' || *p == '/'; p++)
			;
		return p;
	}
	if (*p == ':') {
		for (p++; is_alpha(*p) || is_digit(*p) || *p == '+' ||
		    *p == '/' || *p == '='; p++)
			;
		return *p == ':' ? p + 1 : NULL;
	}
	if (*p == '?')
		return (p[1] == '0' || p[1] == '1') ? p + 2 : NULL;
	if (*p == '@')
		return sf_number(p + 1, false);
	if (*p == '%')
		return sf_display(p);
	return NULL;
}

static const char *
sf_params(const char *p)
{
	while (p != NULL && *p == ';') {
		for (p++; *p == ' '; p++)
			;
		if ((p = sf_key(p)) == NULL)
			return NULL;
		if (*p == '=')
			p = sf_bare_item(p + 1);
	}
	return p;
}

static const char *
sf_inner_list(const char *p)
{
	for (p++;;) {
		while (*p == ' ')
			p++;
		if (*p == ')')
			return sf_params(p + 1);
		if ((p = sf_params(sf_bare_item(p))) == NULL)
			return NULL;
		if (*p != ' ' && *p != ')')
			return NULL;
	}
}

/* ---------------------------------------------------------------- API */

void
cc_init(struct cc *c)
{
	AN(c);
	memset(c, 0, sizeof *c);
	c->max_age = CC_UNSET;
	c->s_maxage = CC_UNSET;
	c->max_stale = CC_UNSET;
	c->min_fresh = CC_UNSET;
	c->swr = CC_UNSET;
	c->sie = CC_UNSET;
}

void
cc_parse(struct cc *c, const char *value)
{
	parse_line(c, value, false);
}

void
cc_parse_hdrs(struct cc *c, const struct hdrs *h, const char *field)
{
	AN(field);
	cc_init(c);
	if (h == NULL)
		return;
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, field) == 0)
			cc_parse(c, h->v[i].value);
	}
}

bool
cc_present(const struct hdrs *h, const char *field)
{
	AN(field);
	return h != NULL && hdrs_get(h, field) != NULL;
}

int
cc_delta_seconds(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	AN(out);
	if (s == NULL || len == 0)
		return CDN_INVAL;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return CDN_INVAL;
		if (v < CC_DELTA_MAX)
			v = v * 10 + (s[i] - '0');
	}
	*out = v > CC_DELTA_MAX ? CC_DELTA_MAX : v;
	return CDN_OK;
}

bool
cc_sf_dict_valid(const char *value, unsigned *nmembers)
{
	const char *p = value;
	unsigned n = 0;

	AN(value);
	while (*p == ' ')
		p++;
	while (*p != '\0') {
		if ((p = sf_key(p)) == NULL)
			return false;
		if (*p == '=') {
			p++;
			p = *p == '(' ? sf_inner_list(p) : sf_params(sf_bare_item(p));
		} else {
			p = sf_params(p);
		}
		if (p == NULL)
			return false;
		n++;
		while (is_ows(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return false;
		for (p++; is_ows(*p); p++)
			;
		if (*p == '\0')
			return false;	/* trailing comma */
	}
	if (nmembers != NULL)
		*nmembers = n;
	return true;
}

void
cc_parse_sf(struct cc *c, const char *value)
{
	parse_line(c, value, true);
}

bool
cc_targeted_usable(const struct hdrs *h, const char *field)
{
	unsigned total = 0, n;

	AN(field);
	if (h == NULL)
		return false;
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, field) != 0)
			continue;
		if (!cc_sf_dict_valid(h->v[i].value, &n))
			return false;
		total += n;
	}
	return total > 0;
}

void
cc_parse_targeted_hdrs(struct cc *c, const struct hdrs *h, const char *field)
{
	AN(field);
	cc_init(c);
	if (h == NULL)
		return;
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, field) == 0)
			cc_parse_sf(c, h->v[i].value);
	}
}
