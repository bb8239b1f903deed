/*
 * hdrs.h: an ordered list of HTTP header field lines.
 *
 * The list keeps every line in arrival order, repeats included, with the
 * field name's original case, so a message can be forwarded as received.
 * Lookups compare names case-insensitively (RFC 9110 5.1).
 *
 * Ownership: a struct hdrs owns copies of all names and values (xmalloc'd;
 * running out of memory aborts). It is not locked: one thread at a time, or
 * read-only sharing after it is complete. There is no I/O.
 *
 * List fields (RFC 9110 5.6.1): elements are separated by commas, a comma
 * inside a quoted-string does not separate, OWS around elements is dropped,
 * and empty elements are skipped, as recipients must.
 */
#ifndef CDN_HDRS_H
#define CDN_HDRS_H

#include <stdbool.h>
#include <stddef.h>

struct hdr {
	char *name;
	char *value;
};

struct hdrs {
	struct hdr *v;
	unsigned n, cap;
};

/* Make `h` an empty list. Needs no hdrs_fini() until something is added. */
void hdrs_init(struct hdrs *h);

/* Free every line; `h` is left empty (as after hdrs_init) and reusable. */
void hdrs_fini(struct hdrs *h);

/* Append a copy of the line `name: value` (value trimmed as in hdrs_addn). */
void hdrs_add(struct hdrs *h, const char *name, const char *value);

/*
 * Append a line from counted strings (need not be NUL-terminated). SP and
 * HTAB around the value are trimmed; the name is copied as given (a parser
 * upstream refuses names with whitespace). A NUL byte inside either string
 * ends it early.
 */
void hdrs_addn(struct hdrs *h, const char *name, size_t nlen,
    const char *value, size_t vlen);

/* Value of the first line named `name` (any case), or NULL. The pointer is
 * owned by `h` and valid until the line is removed or `h` is finalised. */
const char *hdrs_get(const struct hdrs *h, const char *name);

/* Number of lines named `name`. */
unsigned hdrs_count(const struct hdrs *h, const char *name);

/* All lines named `name` joined with ", " in order, as a new string the
 * caller frees; NULL if there is none. */
char *hdrs_join(const struct hdrs *h, const char *name);

/* Remove every line named `name`, keeping the order of the others. */
void hdrs_del(struct hdrs *h, const char *name);

/* hdrs_del() then hdrs_add(): one line `name: value` at the end. */
void hdrs_set(struct hdrs *h, const char *name, const char *value);

/* Append copies of every line of `src` to `dst` (dst == src doubles it). */
void hdrs_copy(struct hdrs *dst, const struct hdrs *src);

/* True for the hop-by-hop fields a proxy never forwards: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authenticate, Proxy-Authorization (any case). */
bool hdrs_is_hop_by_hop(const char *name);

/*
 * Remove the fields above and every field named as a connection option in any
 * Connection line (RFC 9110 7.6.1), whatever its case.
 */
void hdrs_strip_hop_by_hop(struct hdrs *h);

/*
 * True if `token` is an element of the list field `name`, across all its
 * lines. Comparison is case-insensitive; each element's ";params" and the OWS
 * around it are ignored ("no-cache; x=1" has the token "no-cache").
 */
bool hdrs_list_has(const struct hdrs *h, const char *name, const char *token);

/* Approximate bytes held by the list (struct, array and strings), for memory
 * accounting. */
size_t hdrs_size(const struct hdrs *h);

/*
 * Iterate the elements of one comma-separated list value:
 *
 *	const char *p = value, *e; size_t n;
 *	while ((p = hdrs_list_next(p, &e, &n)) != NULL)
 *		use(e, n);
 *
 * Each call skips empty elements and sets *elem / *elen to the next element
 * without surrounding OWS (commas inside quoted strings, with backslash
 * escapes, belong to the element; an unclosed quote runs to the end). Returns
 * the position just after that element, or NULL (with *elem NULL, *elen 0)
 * when there is none left. `p` may be NULL, which ends at once.
 */
const char *hdrs_list_next(const char *p, const char **elem, size_t *elen);

#endif
