/*
 * ring.c: consistent hashing with weighted virtual nodes.
 *
 * Design: every point of every node goes into one sorted array of 64-bit
 * positions (pos[]) with a parallel array of node indexes (node[]); the
 * owner of position x is the first point >= x, found by binary search. A
 * bucket table indexed by the top bits of x narrows the search to the few
 * points of one bucket (about one per bucket), so a lookup touches two or
 * three cache lines even with a million points; the worst case stays a
 * binary search, O(log points).
 *
 * Failover walks clockwise from the owner's point and skips points of nodes
 * already seen (a bitmap on the stack) and of nodes that are down. Skipping a
 * down node's points gives exactly the owner a ring without that node would
 * give, which is what makes failover consistent: when the node comes back,
 * its keys (and only its keys) return to it.
 *
 * Locking: none. A ring never changes after ring_new (see ring.h for how to
 * replace one).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/ring.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

#define RING_MAGIC 0x7269e6a1u
#define BUCKET_BITS_MAX 22

struct ring {
	unsigned magic;
	unsigned nnodes;
	unsigned nlive;          /* nodes that own at least one point */
	unsigned npoints;
	unsigned vnodes;
	unsigned shift;          /* 64 - bucket bits */
	char **ids;              /* nnodes */
	unsigned *weights;       /* nnodes */
	uint64_t *pos;           /* npoints, ascending */
	uint32_t *node;          /* npoints: owner of pos[i] */
	uint32_t *bucket;        /* (1 << bits) + 1: first i with pos[i] >= b << shift */
};

/* A point while building: sorted by position, then by id. */
struct bpoint {
	uint64_t pos;
	const char *id;
	uint32_t node;
};

static uint64_t be64(const uint8_t *p);
static void group_digest(const char *id, unsigned g, uint8_t sha[DIGEST_LEN]);
static int cmp_bpoint(const void *a, const void *b);
static int cmp_id(const void *a, const void *b);
static const char *validate(const struct ring_node *nodes, unsigned n, unsigned vnodes,
    uint64_t *total);
static unsigned add_points(struct bpoint *bp, const char *id, uint32_t idx, unsigned count);
static void build_buckets(struct ring *r);
static unsigned search(const struct ring *r, uint64_t x);

/* ---------------------------------------------------------------- hashing */

uint64_t
ring_key_pos(uint64_t h)
{
	/* MurmurHash3 fmix64: a bijection in which every input bit flips each
	 * output bit with probability close to one half. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
group_digest(const char *id, unsigned g, uint8_t sha[DIGEST_LEN])
{
	char buf[RING_ID_MAX + 16];
	int len = snprintf(buf, sizeof buf, "%s#%u", id, g);

	AN(len > 0 && (size_t)len < sizeof buf);
	digest_sha256(buf, (size_t)len, sha);
}

uint64_t
ring_point(const char *id, unsigned i)
{
	uint8_t sha[DIGEST_LEN];

	group_digest(id, i / 4, sha);
	return be64(sha + 8 * (i % 4));
}

/* Append count points of node idx to bp; returns count. */
static unsigned
add_points(struct bpoint *bp, const char *id, uint32_t idx, unsigned count)
{
	uint8_t sha[DIGEST_LEN];
	unsigned i;

	for (i = 0; i < count; i++) {
		if (i % 4 == 0)
			group_digest(id, i / 4, sha);
		bp[i].pos = be64(sha + 8 * (i % 4));
		bp[i].id = id;
		bp[i].node = idx;
	}
	return count;
}

/* ---------------------------------------------------------------- build */

static int
cmp_bpoint(const void *a, const void *b)
{
	const struct bpoint *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Check the input; returns NULL or the reason. *total gets the point count. */
static const char *
validate(const struct ring_node *nodes, unsigned n, unsigned vnodes, uint64_t *total)
{
	const char **sorted;
	const char *why = NULL;

	*total = 0;
	if (n > RING_MAX_NODES)
		return "too many nodes";
	if (vnodes > RING_MAX_VNODES)
		return "too many points per unit of weight";
	for (unsigned i = 0; i < n; i++) {
		size_t len;

		if (nodes[i].id == NULL || (len = strlen(nodes[i].id)) == 0)
			return "empty node id";
		if (len >= RING_ID_MAX)
			return "node id too long";
		if (nodes[i].weight > RING_MAX_WEIGHT)
			return "node weight too large";
		*total += (uint64_t)nodes[i].weight * vnodes;
	}
	if (*total > RING_MAX_POINTS)
		return "too many points (weights times points per weight)";
	if (n < 2)
		return NULL;
	sorted = xcalloc(n, sizeof *sorted);
	for (unsigned i = 0; i < n; i++)
		sorted[i] = nodes[i].id;
	qsort(sorted, n, sizeof *sorted, cmp_id);
	for (unsigned i = 1; i < n; i++) {
		if (strcmp(sorted[i - 1], sorted[i]) == 0) {
			why = "duplicate node id";
			break;
		}
	}
	free(sorted);
	return why;
}

static void
build_buckets(struct ring *r)
{
	unsigned bits = 1, nb;

	while (bits < BUCKET_BITS_MAX && (1u << bits) < r->npoints)
		bits++;
	nb = 1u << bits;
	r->shift = 64 - bits;
	r->bucket = xcalloc((size_t)nb + 1, sizeof *r->bucket);
	for (unsigned b = 0, i = 0; b <= nb; b++) {
		/* Bucket b starts at b << shift; nb itself stands for 2^64. */
		while (i < r->npoints && (b == nb || r->pos[i] < (uint64_t)b << r->shift))
			i++;
		r->bucket[b] = i;
	}
}

struct ring *
ring_new(const struct ring_node *nodes, unsigned n, unsigned vnodes, const char **why)
{
	struct ring *r;
	struct bpoint *bp;
	uint64_t total;
	const char *bad;
	unsigned at = 0;

	if (vnodes == 0)
		vnodes = RING_VNODES_DEFAULT;
	bad = validate(nodes, n, vnodes, &total);
	if (bad != NULL) {
		if (why != NULL)
			*why = bad;
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->magic = RING_MAGIC;
	r->nnodes = n;
	r->vnodes = vnodes;
	r->npoints = (unsigned)total;
	r->ids = xcalloc(n > 0 ? n : 1, sizeof *r->ids);
	r->weights = xcalloc(n > 0 ? n : 1, sizeof *r->weights);
	for (unsigned i = 0; i < n; i++) {
		r->ids[i] = xstrdup(nodes[i].id);
		r->weights[i] = nodes[i].weight;
		if (nodes[i].weight > 0)
			r->nlive++;
	}

	bp = xcalloc(total > 0 ? total : 1, sizeof *bp);
	for (unsigned i = 0; i < n; i++)
		at += add_points(bp + at, r->ids[i], i, nodes[i].weight * vnodes);
	AN(at == r->npoints);
	qsort(bp, r->npoints, sizeof *bp, cmp_bpoint);
	r->pos = xcalloc(total > 0 ? total : 1, sizeof *r->pos);
	r->node = xcalloc(total > 0 ? total : 1, sizeof *r->node);
	for (unsigned i = 0; i < r->npoints; i++) {
		r->pos[i] = bp[i].pos;
		r->node[i] = bp[i].node;
	}
	free(bp);
	build_buckets(r);
	return r;
}

void
ring_free(struct ring **rp)
{
	struct ring *r = *rp;

	*rp = NULL;
	if (r == NULL)
		return;
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	for (unsigned i = 0; i < r->nnodes; i++)
		free(r->ids[i]);
	free(r->ids);
	free(r->weights);
	free(r->pos);
	free(r->node);
	free(r->bucket);
	r->magic = 0;
	free(r);
}

/* ---------------------------------------------------------------- lookup */

/* Index of the first point at or after x, wrapping to 0. npoints > 0. */
static unsigned
search(const struct ring *r, uint64_t x)
{
	uint64_t b = x >> r->shift;
	unsigned lo = r->bucket[b], hi = r->bucket[b + 1];

	/* Every point before bucket[b] is below x and every point from
	 * bucket[b + 1] on is above it, so the answer lies in [lo, hi]. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (r->pos[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->npoints ? 0 : lo;
}

unsigned
ring_owner(const struct ring *r, uint64_t hash)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	if (r->npoints == 0)
		return RING_NONE;
	return r->node[search(r, ring_key_pos(hash))];
}

unsigned
ring_lookup_n(const struct ring *r, uint64_t hash, unsigned k, ring_up_fn *is_up, void *arg,
    unsigned *out)
{
	uint64_t seen[RING_MAX_NODES / 64];
	unsigned i, nd, cnt = 0, nseen = 0;

	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	if (r->npoints == 0 || k == 0)
		return 0;
	AN(out);
	i = search(r, ring_key_pos(hash));
	nd = r->node[i];
	if (k == 1 && (is_up == NULL || is_up(arg, nd))) {
		out[0] = nd;
		return 1;
	}
	memset(seen, 0, ((r->nnodes + 63) / 64) * sizeof seen[0]);
	for (unsigned step = 0; step < r->npoints; step++) {
		nd = r->node[i];
		if (++i == r->npoints)
			i = 0;
		if (seen[nd / 64] & (1ULL << (nd % 64)))
			continue;
		seen[nd / 64] |= 1ULL << (nd % 64);
		nseen++;
		if (is_up == NULL || is_up(arg, nd)) {
			out[cnt++] = nd;
			if (cnt == k)
				break;
		}
		if (nseen == r->nlive)
			break;
	}
	return cnt;
}

/* ---------------------------------------------------------------- inspection */

unsigned
ring_count(const struct ring *r)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	return r->nnodes;
}

unsigned
ring_points(const struct ring *r)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	return r->npoints;
}

unsigned
ring_vnodes(const struct ring *r)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	return r->vnodes;
}

const char *
ring_node_id(const struct ring *r, unsigned idx)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	AN(idx < r->nnodes);
	return r->ids[idx];
}

unsigned
ring_node_weight(const struct ring *r, unsigned idx)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	AN(idx < r->nnodes);
	return r->weights[idx];
}

unsigned
ring_find(const struct ring *r, const char *id)
{
	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	for (unsigned i = 0; i < r->nnodes; i++)
		if (strcmp(r->ids[i], id) == 0)
			return i;
	return RING_NONE;
}

double
ring_share(const struct ring *r, unsigned idx)
{
	long double sum = 0;

	CHECK_OBJ_NOTNULL(r, RING_MAGIC);
	AN(idx < r->nnodes);
	if (r->npoints == 0)
		return 0.0;
	if (r->nlive == 1)
		return r->weights[idx] > 0 ? 1.0 : 0.0;
	for (unsigned i = 0; i < r->npoints; i++) {
		/* The arc that ends at point i; unsigned wrap-around handles i = 0. */
		if (r->node[i] == idx)
			sum += (long double)(r->pos[i] - r->pos[i == 0 ? r->npoints - 1 : i - 1]);
	}
	return (double)(sum / 18446744073709551616.0L);
}

/* ---------------------------------------------------------------- identity */

int
ring_id_from_url(const char *url, char *out, size_t outlen)
{
	const char *p = url, *s, *auth_end, *at, *host, *host_end, *port_s = NULL;
	unsigned long port = 0;
	size_t hlen;
	int len;

	s = strstr(url, "://");
	if (s != NULL && strcspn(url, "/?#") > (size_t)(s - url)) {
		if ((size_t)(s - url) == 4 && strncasecmp(url, "http", 4) == 0)
			port = 80;
		else if ((size_t)(s - url) == 5 && strncasecmp(url, "https", 5) == 0)
			port = 443;
		p = s + 3;
	}
	auth_end = p + strcspn(p, "/?#");
	at = NULL;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	host = at != NULL ? at + 1 : p;
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (host_end == NULL || host_end == host + 1)
			return CDN_INVAL;
		host_end++;
		if (host_end < auth_end && *host_end != ':')
			return CDN_INVAL;
	} else {
		host_end = memchr(host, ':', (size_t)(auth_end - host));
		if (host_end == NULL)
			host_end = auth_end;
		else if (memchr(host_end + 1, ':', (size_t)(auth_end - host_end - 1)) != NULL)
			return CDN_INVAL;   /* an IPv6 address needs brackets */
	}
	hlen = (size_t)(host_end - host);
	if (hlen == 0)
		return CDN_INVAL;
	if (host_end < auth_end) {
		char *end;

		port_s = host_end + 1;
		if (port_s == auth_end || !isdigit((unsigned char)*port_s))
			return CDN_INVAL;
		port = strtoul(port_s, &end, 10);
		if (end != auth_end)
			return CDN_INVAL;
	}
	if (port == 0 || port > 65535)
		return CDN_INVAL;
	len = snprintf(out, outlen, "%.*s:%lu", (int)hlen, host, port);
	if (len < 0 || (size_t)len >= outlen)
		return CDN_INVAL;
	for (size_t i = 0; i < hlen; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return CDN_OK;
}
