/*
 * hdrs.c: an ordered, case-preserving list of HTTP header field lines.
 *
 * Design: a plain growable array of (name, value) string pairs. Header lists
 * are short (tens of lines), so linear scans beat any index and keep the
 * arrival order, which a proxy needs to forward repeats faithfully. Strings
 * are separate xmalloc'd copies so a line can be removed without touching
 * the others.
 *
 * Ownership and locking: the list owns its strings; there are no locks and
 * no shared state, so each struct hdrs belongs to one thread at a time.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/hdrs.h"
#include "util/mem.h"
#include "util/vas.h"

/* ---------------------------------------------------------------- private */

static bool is_ows(char ch);
static void grow(struct hdrs *h);
static bool elem_is_token(const char *e, size_t n, const char *token);

static const char *const hop_by_hop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate",
	"Proxy-Authorization",
};

static bool
is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void
grow(struct hdrs *h)
{
	if (h->n < h->cap)
		return;
	h->cap = h->cap ? h->cap * 2 : 8;
	h->v = xrealloc(h->v, h->cap * sizeof *h->v);
}

/* Does list element e[0..n) name `token`, ignoring ";params"? */
static bool
elem_is_token(const char *e, size_t n, const char *token)
{
	size_t k = 0, tl = strlen(token);

	while (k < n && e[k] != ';')
		k++;
	while (k > 0 && is_ows(e[k - 1]))
		k--;
	return k == tl && strncasecmp(e, token, k) == 0;
}

/* ---------------------------------------------------------------- API */

void
hdrs_init(struct hdrs *h)
{
	AN(h);
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

void
hdrs_fini(struct hdrs *h)
{
	AN(h);
	for (unsigned i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	hdrs_init(h);
}

void
hdrs_addn(struct hdrs *h, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	AN(h);
	AN(name);
	AN(value);
	while (vlen > 0 && is_ows(value[0])) {
		value++;
		vlen--;
	}
	while (vlen > 0 && is_ows(value[vlen - 1]))
		vlen--;
	grow(h);
	h->v[h->n].name = xstrndup(name, nlen);
	h->v[h->n].value = xstrndup(value, vlen);
	h->n++;
}

void
hdrs_add(struct hdrs *h, const char *name, const char *value)
{
	AN(name);
	AN(value);
	hdrs_addn(h, name, strlen(name), value, strlen(value));
}

const char *
hdrs_get(const struct hdrs *h, const char *name)
{
	AN(h);
	AN(name);
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	}
	return NULL;
}

unsigned
hdrs_count(const struct hdrs *h, const char *name)
{
	unsigned c = 0;

	AN(h);
	AN(name);
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0)
			c++;
	}
	return c;
}

char *
hdrs_join(const struct hdrs *h, const char *name)
{
	size_t len = 0, off = 0;
	unsigned c = 0;
	char *s;

	AN(h);
	AN(name);
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0) {
			len += strlen(h->v[i].value) + (c ? 2 : 0);
			c++;
		}
	}
	if (c == 0)
		return NULL;
	s = xmalloc(len + 1);
	c = 0;
	for (unsigned i = 0; i < h->n; i++) {
		size_t vl;

		if (strcasecmp(h->v[i].name, name) != 0)
			continue;
		if (c++) {
			memcpy(s + off, ", ", 2);
			off += 2;
		}
		vl = strlen(h->v[i].value);
		memcpy(s + off, h->v[i].value, vl);
		off += vl;
	}
	s[off] = '\0';
	return s;
}

void
hdrs_del(struct hdrs *h, const char *name)
{
	unsigned j = 0;

	AN(h);
	AN(name);
	for (unsigned i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0) {
			free(h->v[i].name);
			free(h->v[i].value);
		} else {
			h->v[j++] = h->v[i];
		}
	}
	h->n = j;
}

void
hdrs_set(struct hdrs *h, const char *name, const char *value)
{
	hdrs_del(h, name);
	hdrs_add(h, name, value);
}

void
hdrs_copy(struct hdrs *dst, const struct hdrs *src)
{
	unsigned n;

	AN(dst);
	AN(src);
	/* src may be dst: copy only the lines present on entry, and reread
	 * src->v each time because grow() may move it. */
	n = src->n;
	for (unsigned i = 0; i < n; i++) {
		char *name = xstrdup(src->v[i].name);
		char *value = xstrdup(src->v[i].value);

		grow(dst);
		dst->v[dst->n].name = name;
		dst->v[dst->n].value = value;
		dst->n++;
	}
}

bool
hdrs_is_hop_by_hop(const char *name)
{
	AN(name);
	for (size_t i = 0; i < ARRAY_LEN(hop_by_hop); i++) {
		if (strcasecmp(name, hop_by_hop[i]) == 0)
			return true;
	}
	return false;
}

void
hdrs_strip_hop_by_hop(struct hdrs *h)
{
	bool *drop;
	unsigned j = 0;

	AN(h);
	if (h->n == 0)
		return;
	/* Decide everything first: the Connection lines that name the other
	 * fields are themselves removed. */
	drop = xcalloc(h->n, sizeof *drop);
	for (unsigned i = 0; i < h->n; i++) {
		drop[i] = hdrs_is_hop_by_hop(h->v[i].name) ||
		    hdrs_list_has(h, "Connection", h->v[i].name);
	}
	for (unsigned i = 0; i < h->n; i++) {
		if (drop[i]) {
			free(h->v[i].name);
			free(h->v[i].value);
		} else {
			h->v[j++] = h->v[i];
		}
	}
	h->n = j;
	free(drop);
}

bool
hdrs_list_has(const struct hdrs *h, const char *name, const char *token)
{
	AN(h);
	AN(name);
	AN(token);
	for (unsigned i = 0; i < h->n; i++) {
		const char *p, *e;
		size_t n;

		if (strcasecmp(h->v[i].name, name) != 0)
			continue;
		p = h->v[i].value;
		while ((p = hdrs_list_next(p, &e, &n)) != NULL) {
			if (elem_is_token(e, n, token))
				return true;
		}
	}
	return false;
}

size_t
hdrs_size(const struct hdrs *h)
{
	size_t sz;

	AN(h);
	sz = sizeof *h + (size_t)h->cap * sizeof *h->v;
	for (unsigned i = 0; i < h->n; i++)
		sz += strlen(h->v[i].name) + strlen(h->v[i].value) + 2;
	return sz;
}

const char *
hdrs_list_next(const char *p, const char **elem, size_t *elen)
{
	const char *start, *end;
	bool quoted = false;

	AN(elem);
	AN(elen);
	*elem = NULL;
	*elen = 0;
	if (p == NULL)
		return NULL;
	while (*p == ',' || is_ows(*p))
		p++;
	if (*p == '\0')
		return NULL;
	start = p;
	for (; *p != '\0'; p++) {
		if (quoted) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == ',') {
			break;
		}
	}
	end = p;
	while (end > start && is_ows(end[-1]))
		end--;
	*elem = start;
	*elen = (size_t)(end - start);
	return p;
}
