/*
 * geo.c: client address to region, from an operator CIDR file, a MaxMind
 * database and Debian's tor range files (see geo.h for the rules).
 *
 * Design: every address is one 128-bit number; IPv4 lives at ::ffff:0:0/96,
 * so one parser, one CIDR table and one trusted-proxy table serve both
 * families. Each table is a step function kept as two parallel sorted arrays,
 * `start[i]` and `val[i]`: val[i] holds from start[i] up to start[i + 1] - 1,
 * and 0 means "no answer". A lookup is one binary search (the last start at
 * or below the address). Nested CIDR blocks (10/8 with 10.1/16 inside) are
 * flattened into that form at load time, which makes longest-prefix match a
 * plain binary search too. The IPv4 tor table uses 32-bit starts to keep it
 * small (about 390k ranges).
 *
 * Values: a country or continent code is packed into 1..676 (two letters
 * A-Z); CIDR and trusted tables hold a region index + 1 (or 1 for trusted).
 *
 * Ownership and locking: geo_new builds everything; nothing changes until
 * geo_free, so lookups take no lock and keep no state. The MMDB_s is opened
 * with MMDB_MODE_MMAP and only read by MMDB_lookup_sockaddr/MMDB_get_value,
 * which libmaxminddb documents as safe to share between threads.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <maxminddb.h>

#include "http/hdrs.h"
#include "net/geo.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/vas.h"

/* ---------------------------------------------------------------- types */

#define GEO_MAGIC 0x9e0c1a55u
#define NCODES (26 * 26 + 1)          /* packed two-letter codes, 0 = none */
#define MAX_REGIONS 65000

struct u128 {
	uint64_t hi, lo;
};

/* Step function over 128-bit addresses (see the file comment). */
struct rtab {
	struct u128 *start;
	uint16_t *val;
	size_t n, cap;
};

/* The same over 32-bit IPv4 addresses (tor's geoip file). */
struct rtab4 {
	uint32_t *start;
	uint16_t *val;
	size_t n, cap;
};

/* One CIDR block before flattening. */
struct block {
	struct u128 start, end;
	unsigned plen;                  /* in the 128-bit space */
	uint16_t val;
	unsigned line;
};

struct geo {
	unsigned magic;
	char **regions;                 /* [0] is the default region */
	size_t nregions;
	uint16_t country_region[NCODES]; /* region index + 1, 0 = unmapped */
	uint16_t continent_region[NCODES];
	uint16_t continent_of[NCODES];  /* packed continent of a packed country */
	struct rtab cidr;               /* region index + 1 */
	size_t ncidr;
	struct rtab trusted;            /* 1 = trusted proxy */
	size_t ntrusted;
	bool have_mmdb;
	MMDB_s mmdb;
	struct rtab4 tor4;              /* packed country */
	struct rtab tor6;
	size_t ntor4, ntor6;
	enum geo_fwd fwd;
};

/* Country to continent, after GeoNames (which MaxMind also follows); XK is
 * Kosovo as GeoNames and MaxMind use it. Only the range files need this:
 * an mmdb record carries its own continent. */
static const struct {
	const char *continent;
	const char *countries;
} continents[] = {
	{ "AF", "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW "
		"KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS "
		"ST SZ TD TG TN TZ UG YT ZA ZM ZW" },
	{ "AN", "AQ BV GS HM TF" },
	{ "AS", "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH "
		"KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL "
		"TM TR TW UZ VN YE" },
	{ "EU", "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR "
		"HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI "
		"SJ SK SM UA VA XK" },
	{ "NA", "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN "
		"KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI" },
	{ "OC", "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM "
		"VU WF WS" },
	{ "SA", "AR BO BR CL CO EC FK GF GY PE PY SR UY VE" },
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static uint16_t code_pack(const char *s);
static void code_unpack(uint16_t c, char out[3]);
static bool is_continent(uint16_t c);
static bool u128_lt(struct u128 a, struct u128 b);
static bool u128_eq(struct u128 a, struct u128 b);
static struct u128 u128_hostmask(unsigned plen);
static bool addr_is_v4(struct u128 a);
static struct u128 addr_from_bytes(const unsigned char b[16]);
static struct u128 addr_from_v4(uint32_t v4);
static bool addr_parse(const char *s, size_t len, struct u128 *a, bool *v4);
static bool addr_from_sockaddr(const struct sockaddr *sa, struct u128 *a);
static void addr_format(struct u128 a, char *buf, size_t len);
static bool cidr_parse(const char *s, struct block *b, char *why, size_t whylen);
static void rtab_emit(struct rtab *t, struct u128 s, uint16_t v);
static uint16_t rtab_find(const struct rtab *t, struct u128 a);
static void rtab_shrink(struct rtab *t);
static void rtab_fini(struct rtab *t);
static void rtab4_emit(struct rtab4 *t, uint32_t s, uint16_t v);
static uint16_t rtab4_find(const struct rtab4 *t, uint32_t a);
static int block_cmp(const void *a, const void *b);
static void flatten(struct block *b, size_t n, struct rtab *out);
static bool region_ok(const char *s, size_t len);
static uint16_t region_intern(struct geo *g, const char *s, size_t len);
static int load_map(struct geo *g, const struct geo_opts *o, char *err, size_t errlen);
static int load_trusted(struct geo *g, const struct geo_opts *o, char *err, size_t errlen);
static int load_cidr(struct geo *g, const char *path, char *err, size_t errlen);
static int open_tor(const char *path, const char *dflt, FILE **fp, const char **used,
    char *err, size_t errlen);
static bool split_range(char *line, char **from, char **to, char **cc);
static bool parse_u32(const char *s, uint32_t *out);
static int load_tor4(struct geo *g, const char *path, char *err, size_t errlen);
static int load_tor6(struct geo *g, const char *path, char *err, size_t errlen);
static const char *region_of_country(const struct geo *g, uint16_t cc, uint16_t cont,
    struct geo_answer *why);
static bool mmdb_locate(const struct geo *g, struct u128 a, uint16_t *cc, uint16_t *cont);
static bool is_port(const char *s, size_t len, bool forwarded);
static bool is_tchar(char c);
static bool node_parse(const char *s, size_t len, bool forwarded, struct u128 *a);
static bool forwarded_for(const char *e, size_t len, char *out, size_t outlen, size_t *olen);
static bool walk_header(const struct geo *g, const char *value, bool forwarded, struct u128 *client);
static const char *locate(const struct geo *g, struct u128 a, struct geo_answer *why);

/* ---------------------------------------------------------------- helpers */

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "DE" -> 1..676, anything but two ASCII letters -> 0. */
static uint16_t
code_pack(const char *s)
{
	int a = toupper((unsigned char)s[0]), b;

	if (a < 'A' || a > 'Z')
		return 0;
	b = toupper((unsigned char)s[1]);
	if (b < 'A' || b > 'Z')
		return 0;
	return (uint16_t)((a - 'A') * 26 + (b - 'A') + 1);
}

static void
code_unpack(uint16_t c, char out[3])
{
	if (c == 0 || c >= NCODES) {
		out[0] = '\0';
		return;
	}
	out[0] = (char)('A' + (c - 1) / 26);
	out[1] = (char)('A' + (c - 1) % 26);
	out[2] = '\0';
}

static bool
is_continent(uint16_t c)
{
	for (size_t i = 0; i < ARRAY_LEN(continents); i++)
		if (c != 0 && code_pack(continents[i].continent) == c)
			return true;
	return false;
}

static bool
u128_lt(struct u128 a, struct u128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static bool
u128_eq(struct u128 a, struct u128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* The host bits of a /plen network (plen 0..128). */
static struct u128
u128_hostmask(unsigned plen)
{
	struct u128 m = { 0, 0 };

	if (plen >= 128)
		return m;
	if (plen >= 64) {
		m.lo = ~0ULL >> (plen - 64);
	} else {
		m.hi = ~0ULL >> plen;
		m.lo = ~0ULL;
	}
	return m;
}

static bool
addr_is_v4(struct u128 a)
{
	return a.hi == 0 && (a.lo >> 32) == 0xffffULL;
}

static struct u128
addr_from_bytes(const unsigned char b[16])
{
	struct u128 a = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		a.hi = (a.hi << 8) | b[i];
		a.lo = (a.lo << 8) | b[8 + i];
	}
	return a;
}

static struct u128
addr_from_v4(uint32_t v4)
{
	struct u128 a = { 0, 0xffff00000000ULL | v4 };

	return a;
}

/* Parse a bare IPv4 or IPv6 literal of `len` bytes (no brackets, no port). */
static bool
addr_parse(const char *s, size_t len, struct u128 *a, bool *v4)
{
	char buf[INET6_ADDRSTRLEN];
	struct in_addr in4;
	struct in6_addr in6;

	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &in4) == 1) {
		*a = addr_from_v4(ntohl(in4.s_addr));
		if (v4 != NULL)
			*v4 = true;
		return true;
	}
	if (inet_pton(AF_INET6, buf, &in6) == 1) {
		*a = addr_from_bytes(in6.s6_addr);
		if (v4 != NULL)
			*v4 = false;
		return true;
	}
	return false;
}

static bool
addr_from_sockaddr(const struct sockaddr *sa, struct u128 *a)
{
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		*a = addr_from_v4(ntohl(s4->sin_addr.s_addr));
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		*a = addr_from_bytes(s6->sin6_addr.s6_addr);
		return true;
	}
	return false;
}

static void
addr_format(struct u128 a, char *buf, size_t len)
{
	unsigned char b[16];

	if (addr_is_v4(a)) {
		struct in_addr in4;

		in4.s_addr = htonl((uint32_t)a.lo);
		if (inet_ntop(AF_INET, &in4, buf, (socklen_t)len) == NULL)
			buf[0] = '\0';
		return;
	}
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(a.hi >> (56 - 8 * i));
		b[8 + i] = (unsigned char)(a.lo >> (56 - 8 * i));
	}
	if (inet_ntop(AF_INET6, b, buf, (socklen_t)len) == NULL)
		buf[0] = '\0';
}

/*
 * "ADDR/LEN" or a bare "ADDR" (a single host) into a block. Host bits set
 * below the prefix are refused: "10.0.0.1/8" is almost always a typo.
 */
static bool
cidr_parse(const char *s, struct block *b, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long plen;
	unsigned max;
	struct u128 mask;
	bool v4;
	char *end;

	if (!addr_parse(s, alen, &b->start, &v4)) {
		snprintf(why, whylen, "not an IPv4 or IPv6 address or network: \"%s\"", s);
		return false;
	}
	max = v4 ? 32 : 128;
	plen = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3) {
			snprintf(why, whylen, "bad prefix length in \"%s\"", s);
			return false;
		}
		plen = strtoul(slash + 1, &end, 10);
		if (*end != '\0') {
			snprintf(why, whylen, "bad prefix length in \"%s\"", s);
			return false;
		}
		if (plen > max) {
			snprintf(why, whylen, "prefix length must be 0-%u for IPv%c: \"%s\"",
			    max, v4 ? '4' : '6', s);
			return false;
		}
	}
	b->plen = (unsigned)plen + (v4 ? 96 : 0);
	mask = u128_hostmask(b->plen);
	if ((b->start.hi & mask.hi) != 0 || (b->start.lo & mask.lo) != 0) {
		char net[INET6_ADDRSTRLEN];

		b->start.hi &= ~mask.hi;
		b->start.lo &= ~mask.lo;
		addr_format(b->start, net, sizeof net);
		snprintf(why, whylen, "host bits set in \"%s\" (the network is %s/%lu)", s, net, plen);
		return false;
	}
	b->end.hi = b->start.hi | mask.hi;
	b->end.lo = b->start.lo | mask.lo;
	return true;
}

/* ---------------------------------------------------------------- tables */

/*
 * Append "from s on, the value is v". A start equal to the last one replaces
 * it (a nested block, or a gap closed by the next range); an entry that
 * repeats its predecessor's value is dropped, which changes no lookup.
 */
static void
rtab_emit(struct rtab *t, struct u128 s, uint16_t v)
{
	if (t->n > 0 && u128_eq(t->start[t->n - 1], s)) {
		if ((t->n >= 2 && t->val[t->n - 2] == v) || (t->n == 1 && v == 0))
			t->n--;
		else
			t->val[t->n - 1] = v;
		return;
	}
	if ((t->n > 0 && t->val[t->n - 1] == v) || (t->n == 0 && v == 0))
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->start = xrealloc(t->start, t->cap * sizeof *t->start);
		t->val = xrealloc(t->val, t->cap * sizeof *t->val);
	}
	t->start[t->n] = s;
	t->val[t->n] = v;
	t->n++;
}

static uint16_t
rtab_find(const struct rtab *t, struct u128 a)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_lt(a, t->start[mid]))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo == 0 ? 0 : t->val[lo - 1];
}

static void
rtab_shrink(struct rtab *t)
{
	if (t->n == 0 || t->n == t->cap)
		return;
	t->start = xrealloc(t->start, t->n * sizeof *t->start);
	t->val = xrealloc(t->val, t->n * sizeof *t->val);
	t->cap = t->n;
}

static void
rtab_fini(struct rtab *t)
{
	free(t->start);
	free(t->val);
	memset(t, 0, sizeof *t);
}

static void
rtab4_emit(struct rtab4 *t, uint32_t s, uint16_t v)
{
	if (t->n > 0 && t->start[t->n - 1] == s) {
		if ((t->n >= 2 && t->val[t->n - 2] == v) || (t->n == 1 && v == 0))
			t->n--;
		else
			t->val[t->n - 1] = v;
		return;
	}
	if ((t->n > 0 && t->val[t->n - 1] == v) || (t->n == 0 && v == 0))
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->start = xrealloc(t->start, t->cap * sizeof *t->start);
		t->val = xrealloc(t->val, t->cap * sizeof *t->val);
	}
	t->start[t->n] = s;
	t->val[t->n] = v;
	t->n++;
}

static uint16_t
rtab4_find(const struct rtab4 *t, uint32_t a)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < t->start[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo == 0 ? 0 : t->val[lo - 1];
}

/* By start, then wider first (so parents come before the blocks they hold),
 * then by line so duplicates sort in file order. */
static int
block_cmp(const void *pa, const void *pb)
{
	const struct block *a = pa, *b = pb;

	if (!u128_eq(a->start, b->start))
		return u128_lt(a->start, b->start) ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/*
 * Turn sorted CIDR blocks (nested or disjoint, never partly overlapping, no
 * duplicates) into a step function. A stack holds the blocks that contain
 * the current position; when one ends, its parent's value (or "none")
 * resumes right after it. Nesting is at most 129 deep (/0 to /128).
 */
static void
flatten(struct block *b, size_t n, struct rtab *out)
{
	struct { struct u128 end; uint16_t val; } stack[129];
	size_t sp = 0;
	const struct u128 max = { ~0ULL, ~0ULL };

	for (size_t i = 0; i <= n; i++) {
		while (sp > 0 && (i == n || u128_lt(stack[sp - 1].end, b[i].start))) {
			struct u128 next = stack[sp - 1].end;

			sp--;
			if (u128_eq(next, max))
				continue;
			if (++next.lo == 0)
				next.hi++;
			rtab_emit(out, next, sp > 0 ? stack[sp - 1].val : 0);
		}
		if (i == n)
			break;
		AN(sp < ARRAY_LEN(stack));
		rtab_emit(out, b[i].start, b[i].val);
		stack[sp].end = b[i].end;
		stack[sp].val = b[i].val;
		sp++;
	}
}

/* ---------------------------------------------------------------- loading */

static bool
region_ok(const char *s, size_t len)
{
	if (len == 0 || len > GEO_REGION_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* Index + 1 of the region named s[0..len), added if new; 0 when there are
 * already MAX_REGIONS. */
static uint16_t
region_intern(struct geo *g, const char *s, size_t len)
{
	for (size_t i = 0; i < g->nregions; i++)
		if (strlen(g->regions[i]) == len && memcmp(g->regions[i], s, len) == 0)
			return (uint16_t)(i + 1);
	if (g->nregions >= MAX_REGIONS)
		return 0;
	g->regions = xrealloc(g->regions, (g->nregions + 1) * sizeof *g->regions);
	g->regions[g->nregions++] = xstrndup(s, len);
	return (uint16_t)g->nregions;
}

static int
load_map(struct geo *g, const struct geo_opts *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < o->nmap; i++) {
		const char *key = o->map[i].key, *region = o->map[i].region, *code;
		uint16_t *slot, c, r;
		bool country;

		AN(key);
		AN(region);
		if (strncasecmp(key, "country.", 8) == 0) {
			country = true;
			code = key + 8;
		} else if (strncasecmp(key, "continent.", 10) == 0) {
			country = false;
			code = key + 10;
		} else {
			seterr(err, errlen, "geo mapping \"%s\": expected country.CC or continent.CC", key);
			return CDN_INVAL;
		}
		c = strlen(code) == 2 ? code_pack(code) : 0;
		if (country && (c == 0 || g->continent_of[c] == 0)) {
			seterr(err, errlen, "geo mapping \"%s\": \"%s\" is not an ISO 3166 country code",
			    key, code);
			return CDN_INVAL;
		}
		if (!country && !is_continent(c)) {
			seterr(err, errlen, "geo mapping \"%s\": continent must be one of "
			    "AF AN AS EU NA OC SA", key);
			return CDN_INVAL;
		}
		if (!region_ok(region, strlen(region))) {
			seterr(err, errlen, "geo mapping \"%s\": bad region name \"%s\" (1-%d letters, "
			    "digits, '.', '_', '-')", key, region, GEO_REGION_MAX);
			return CDN_INVAL;
		}
		slot = country ? &g->country_region[c] : &g->continent_region[c];
		r = region_intern(g, region, strlen(region));
		if (r == 0) {
			seterr(err, errlen, "geo mapping \"%s\": more than %d regions", key, MAX_REGIONS);
			return CDN_INVAL;
		}
		if (*slot != 0 && *slot != r) {
			seterr(err, errlen, "geo mapping \"%s\" given twice (%s and %s)", key,
			    g->regions[*slot - 1], region);
			return CDN_INVAL;
		}
		*slot = r;
	}
	return CDN_OK;
}

static int
load_trusted(struct geo *g, const struct geo_opts *o, char *err, size_t errlen)
{
	struct block *b = NULL;
	size_t n = 0, cap = 0, k = 0;
	char why[256], tok[128];
	int rc = CDN_INVAL;

	for (size_t i = 0; i < o->ntrusted; i++) {
		const char *p = o->trusted[i];

		AN(p);
		for (;;) {
			size_t len;

			p += strspn(p, ", \t");
			if (*p == '\0')
				break;
			len = strcspn(p, ", \t");
			if (len >= sizeof tok) {
				seterr(err, errlen, "trusted proxy \"%.*s\": too long", (int)len, p);
				goto Out;
			}
			memcpy(tok, p, len);
			tok[len] = '\0';
			p += len;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				b = xrealloc(b, cap * sizeof *b);
			}
			if (!cidr_parse(tok, &b[n], why, sizeof why)) {
				seterr(err, errlen, "trusted proxy: %s", why);
				goto Out;
			}
			b[n].val = 1;
			b[n].line = 0;
			n++;
		}
	}
	if (n > 0)
		qsort(b, n, sizeof *b, block_cmp);
	/* The same network twice is harmless here: keep one. */
	for (size_t i = 0; i < n; i++)
		if (k == 0 || !u128_eq(b[k - 1].start, b[i].start) || b[k - 1].plen != b[i].plen)
			b[k++] = b[i];
	flatten(b, k, &g->trusted);
	g->ntrusted = k;
	rc = CDN_OK;
Out:
	free(b);
	return rc;
}

static int
load_cidr(struct geo *g, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *line = NULL, why[256];
	size_t cap = 0, n = 0, bcap = 0;
	struct block *b = NULL;
	unsigned lineno = 0;
	ssize_t len;
	int rc = CDN_INVAL, e;

	f = fopen(path, "r");
	if (f == NULL) {
		e = errno;
		seterr(err, errlen, "%s: cannot open CIDR file: %s", path, strerror(e));
		return CDN_INVAL;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *tok[3], *save = NULL, *hash;
		unsigned ntok = 0;

		lineno++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			seterr(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			goto Out;
		}
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL;
		    t = strtok_r(NULL, " \t\r\n", &save)) {
			if (ntok == 3)
				break;
			tok[ntok++] = t;
		}
		if (ntok == 0)
			continue;
		if (ntok == 1) {
			seterr(err, errlen, "%s:%u: expected \"CIDR REGION\", got only \"%s\"",
			    path, lineno, tok[0]);
			goto Out;
		}
		if (ntok == 3) {
			seterr(err, errlen, "%s:%u: unexpected \"%s\" after the region "
			    "(one network and one region per line)", path, lineno, tok[2]);
			goto Out;
		}
		if (n == bcap) {
			bcap = bcap ? bcap * 2 : 64;
			b = xrealloc(b, bcap * sizeof *b);
		}
		if (!cidr_parse(tok[0], &b[n], why, sizeof why)) {
			seterr(err, errlen, "%s:%u: %s", path, lineno, why);
			goto Out;
		}
		if (!region_ok(tok[1], strlen(tok[1]))) {
			seterr(err, errlen, "%s:%u: bad region name \"%s\" (1-%d letters, digits, "
			    "'.', '_', '-')", path, lineno, tok[1], GEO_REGION_MAX);
			goto Out;
		}
		b[n].val = region_intern(g, tok[1], strlen(tok[1]));
		if (b[n].val == 0) {
			seterr(err, errlen, "%s:%u: more than %d regions", path, lineno, MAX_REGIONS);
			goto Out;
		}
		b[n].line = lineno;
		n++;
	}
	if (ferror(f)) {
		e = errno;
		seterr(err, errlen, "%s: read error: %s", path, strerror(e));
		goto Out;
	}
	if (n > 0)
		qsort(b, n, sizeof *b, block_cmp);
	for (size_t i = 1; i < n; i++) {
		if (u128_eq(b[i - 1].start, b[i].start) && b[i - 1].plen == b[i].plen) {
			seterr(err, errlen, "%s:%u: the same network as line %u", path,
			    b[i].line, b[i - 1].line);
			goto Out;
		}
	}
	flatten(b, n, &g->cidr);
	g->ncidr = n;
	rc = CDN_OK;
Out:
	free(b);
	free(line);
	fclose(f);
	return rc;
}

/* Open a tor range file. NULL means the default path, used only if it
 * exists; "" means none. Returns CDN_OK with *fp NULL when there is nothing
 * to load, CDN_INVAL with a reason in err when the file cannot be opened. */
static int
open_tor(const char *path, const char *dflt, FILE **fp, const char **used,
    char *err, size_t errlen)
{
	int e;

	*fp = NULL;
	*used = path != NULL ? path : dflt;
	if (path != NULL && path[0] == '\0')
		return CDN_OK;
	if (path == NULL && access(dflt, F_OK) != 0)
		return CDN_OK;
	*fp = fopen(*used, "r");
	if (*fp == NULL) {
		e = errno;
		seterr(err, errlen, "%s: cannot open range file: %s", *used, strerror(e));
		return CDN_INVAL;
	}
	return CDN_OK;
}

/* Split "FROM,TO,CC" (trailing CR/LF dropped) into its three fields. */
static bool
split_range(char *line, char **from, char **to, char **cc)
{
	char *c1, *c2;

	line[strcspn(line, "\r\n")] = '\0';
	c1 = strchr(line, ',');
	if (c1 == NULL)
		return false;
	c2 = strchr(c1 + 1, ',');
	if (c2 == NULL || strchr(c2 + 1, ',') != NULL)
		return false;
	*c1 = *c2 = '\0';
	*from = line;
	*to = c1 + 1;
	*cc = c2 + 1;
	return strlen(*cc) == 2;
}

static bool
parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * The IPv4 file: "FROM,TO,CC" with FROM and TO as integers, sorted and not
 * overlapping (as tor writes it). "??" marks a range with no country.
 */
static int
load_tor4(struct geo *g, const char *path, char *err, size_t errlen)
{
	FILE *f;
	const char *used;
	char *line = NULL, *from, *to, *cc;
	size_t cap = 0;
	unsigned lineno = 0;
	uint32_t a, z, prev_end = 0;
	bool have_prev = false;
	int rc = CDN_INVAL, e;

	if (open_tor(path, GEO_TOR_GEOIP, &f, &used, err, errlen) != CDN_OK)
		return CDN_INVAL;
	if (f == NULL)
		return CDN_OK;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (!split_range(line, &from, &to, &cc) || !parse_u32(from, &a) || !parse_u32(to, &z)) {
			seterr(err, errlen, "%s:%u: expected FROM,TO,CC (IPv4 as integers)", used, lineno);
			goto Out;
		}
		if (z < a) {
			seterr(err, errlen, "%s:%u: range ends before it starts", used, lineno);
			goto Out;
		}
		if (have_prev && a <= prev_end) {
			seterr(err, errlen, "%s:%u: range overlaps or comes before the previous one "
			    "(the file must be sorted)", used, lineno);
			goto Out;
		}
		rtab4_emit(&g->tor4, a, code_pack(cc));
		if (z != UINT32_MAX)
			rtab4_emit(&g->tor4, z + 1, 0);
		prev_end = z;
		have_prev = true;
		g->ntor4++;
	}
	if (ferror(f)) {
		e = errno;
		seterr(err, errlen, "%s: read error: %s", used, strerror(e));
		goto Out;
	}
	rc = CDN_OK;
Out:
	free(line);
	fclose(f);
	return rc;
}

/* The IPv6 file: "FROM,TO,CC" with IPv6 addresses, sorted, not overlapping. */
static int
load_tor6(struct geo *g, const char *path, char *err, size_t errlen)
{
	FILE *f;
	const char *used;
	char *line = NULL, *from, *to, *cc;
	size_t cap = 0;
	unsigned lineno = 0;
	struct u128 a, z, prev_end = { 0, 0 };
	const struct u128 max = { ~0ULL, ~0ULL };
	bool have_prev = false, v4a, v4z;
	int rc = CDN_INVAL, e;

	if (open_tor(path, GEO_TOR_GEOIP6, &f, &used, err, errlen) != CDN_OK)
		return CDN_INVAL;
	if (f == NULL)
		return CDN_OK;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (!split_range(line, &from, &to, &cc) ||
		    !addr_parse(from, strlen(from), &a, &v4a) || v4a ||
		    !addr_parse(to, strlen(to), &z, &v4z) || v4z) {
			seterr(err, errlen, "%s:%u: expected FROM,TO,CC (IPv6 addresses)", used, lineno);
			goto Out;
		}
		if (u128_lt(z, a)) {
			seterr(err, errlen, "%s:%u: range ends before it starts", used, lineno);
			goto Out;
		}
		if (have_prev && !u128_lt(prev_end, a)) {
			seterr(err, errlen, "%s:%u: range overlaps or comes before the previous one "
			    "(the file must be sorted)", used, lineno);
			goto Out;
		}
		rtab_emit(&g->tor6, a, code_pack(cc));
		if (!u128_eq(z, max)) {
			struct u128 next = z;

			if (++next.lo == 0)
				next.hi++;
			rtab_emit(&g->tor6, next, 0);
		}
		prev_end = z;
		have_prev = true;
		g->ntor6++;
	}
	if (ferror(f)) {
		e = errno;
		seterr(err, errlen, "%s: read error: %s", used, strerror(e));
		goto Out;
	}
	rc = CDN_OK;
Out:
	free(line);
	fclose(f);
	return rc;
}

/* ---------------------------------------------------------------- API */

struct geo *
geo_new(const struct geo_opts *o, char *err, size_t errlen)
{
	struct geo *g = xcalloc(1, sizeof *g);
	const char *dflt;
	int mrc;

	AN(o);
	seterr(err, errlen, "%s", "");
	g->magic = GEO_MAGIC;
	g->fwd = o->fwd;
	for (size_t i = 0; i < ARRAY_LEN(continents); i++) {
		uint16_t cont = code_pack(continents[i].continent);

		for (const char *p = continents[i].countries; *p != '\0'; p += p[2] ? 3 : 2)
			g->continent_of[code_pack(p)] = cont;
	}
	dflt = o->default_region != NULL ? o->default_region : GEO_DEFAULT_REGION;
	if (!region_ok(dflt, strlen(dflt))) {
		seterr(err, errlen, "bad default region name \"%s\" (1-%d letters, digits, "
		    "'.', '_', '-')", dflt, GEO_REGION_MAX);
		goto Fail;
	}
	(void)region_intern(g, dflt, strlen(dflt));
	if (load_map(g, o, err, errlen) != CDN_OK || load_trusted(g, o, err, errlen) != CDN_OK)
		goto Fail;
	if (o->cidr_file != NULL && o->cidr_file[0] != '\0' &&
	    load_cidr(g, o->cidr_file, err, errlen) != CDN_OK)
		goto Fail;
	if (o->mmdb != NULL && o->mmdb[0] != '\0') {
		mrc = MMDB_open(o->mmdb, MMDB_MODE_MMAP, &g->mmdb);
		if (mrc != MMDB_SUCCESS) {
			if (mrc == MMDB_IO_ERROR) {
				int e = errno;

				seterr(err, errlen, "%s: cannot open MaxMind database: %s", o->mmdb,
				    strerror(e));
			} else {
				seterr(err, errlen, "%s: cannot open MaxMind database: %s", o->mmdb,
				    MMDB_strerror(mrc));
			}
			goto Fail;
		}
		g->have_mmdb = true;
	}
	if (load_tor4(g, o->tor_geoip, err, errlen) != CDN_OK ||
	    load_tor6(g, o->tor_geoip6, err, errlen) != CDN_OK)
		goto Fail;
	/* The tables are final: give back what doubling over-allocated. */
	rtab_shrink(&g->cidr);
	rtab_shrink(&g->trusted);
	rtab_shrink(&g->tor6);
	if (g->tor4.n > 0 && g->tor4.n < g->tor4.cap) {
		g->tor4.start = xrealloc(g->tor4.start, g->tor4.n * sizeof *g->tor4.start);
		g->tor4.val = xrealloc(g->tor4.val, g->tor4.n * sizeof *g->tor4.val);
		g->tor4.cap = g->tor4.n;
	}
	return g;
Fail:
	geo_free(&g);
	return NULL;
}

void
geo_free(struct geo **gp)
{
	struct geo *g;

	if (gp == NULL || *gp == NULL)
		return;
	TAKE_OBJ_NOTNULL(g, gp, GEO_MAGIC);
	if (g->have_mmdb)
		MMDB_close(&g->mmdb);
	for (size_t i = 0; i < g->nregions; i++)
		free(g->regions[i]);
	free(g->regions);
	rtab_fini(&g->cidr);
	rtab_fini(&g->trusted);
	rtab_fini(&g->tor6);
	free(g->tor4.start);
	free(g->tor4.val);
	g->magic = 0;
	free(g);
}

/* The region for a located country (and continent, 0 if unknown). */
static const char *
region_of_country(const struct geo *g, uint16_t cc, uint16_t cont, struct geo_answer *why)
{
	uint16_t r = g->country_region[cc];

	if (cont == 0)
		cont = g->continent_of[cc];
	if (r == 0 && cont != 0)
		r = g->continent_region[cont];
	if (why != NULL) {
		code_unpack(cc, why->country);
		code_unpack(cont, why->continent);
		why->mapped = r != 0;
	}
	return g->regions[r != 0 ? r - 1 : 0];
}

/* country.iso_code (and continent.code) of the mmdb record for a, if any. */
static bool
mmdb_locate(const struct geo *g, struct u128 a, uint16_t *cc, uint16_t *cont)
{
	struct sockaddr_storage ss;
	MMDB_lookup_result_s res;
	MMDB_entry_data_s d;
	int merr = MMDB_SUCCESS;

	memset(&ss, 0, sizeof ss);
	if (addr_is_v4(a)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl((uint32_t)a.lo);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

		s6->sin6_family = AF_INET6;
		for (int i = 0; i < 8; i++) {
			s6->sin6_addr.s6_addr[i] = (unsigned char)(a.hi >> (56 - 8 * i));
			s6->sin6_addr.s6_addr[8 + i] = (unsigned char)(a.lo >> (56 - 8 * i));
		}
	}
	res = MMDB_lookup_sockaddr(&g->mmdb, (const struct sockaddr *)&ss, &merr);
	if (merr != MMDB_SUCCESS || !res.found_entry)
		return false;
	/* Only a country is a location: registered_country says where the
	 * network is registered, a centroid or a bare continent is too coarse. */
	if (MMDB_get_value(&res.entry, &d, "country", "iso_code", (const char *)NULL) != MMDB_SUCCESS ||
	    !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
		return false;
	*cc = code_pack(d.utf8_string);
	if (*cc == 0)
		return false;
	*cont = 0;
	if (MMDB_get_value(&res.entry, &d, "continent", "code", (const char *)NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size == 2)
		*cont = code_pack(d.utf8_string);
	return true;
}

static const char *
locate(const struct geo *g, struct u128 a, struct geo_answer *why)
{
	uint16_t v, cc, cont;

	if (why != NULL)
		addr_format(a, why->addr, sizeof why->addr);
	v = rtab_find(&g->cidr, a);
	if (v != 0) {
		if (why != NULL) {
			why->source = GEO_SRC_CIDR;
			why->mapped = true;
		}
		return g->regions[v - 1];
	}
	if (g->have_mmdb && mmdb_locate(g, a, &cc, &cont)) {
		if (why != NULL)
			why->source = GEO_SRC_MMDB;
		return region_of_country(g, cc, cont, why);
	}
	cc = addr_is_v4(a) ? rtab4_find(&g->tor4, (uint32_t)a.lo) : rtab_find(&g->tor6, a);
	if (cc != 0) {
		if (why != NULL)
			why->source = GEO_SRC_TOR;
		return region_of_country(g, cc, 0, why);
	}
	return g->regions[0];
}

/* ---------------------------------------------------------------- proxies */

static bool
is_port(const char *s, size_t len, bool forwarded)
{
	unsigned long v = 0;

	/* RFC 7239 6.3 allows an obfuscated port ("_abc"). */
	if (forwarded && len >= 2 && s[0] == '_') {
		for (size_t i = 1; i < len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
				return false;
		return true;
	}
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535;
}

/*
 * One node of X-Forwarded-For or of Forwarded's for=: "192.0.2.1",
 * "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80", and in X-Forwarded-For
 * also a bare "2001:db8::1". "unknown", obfuscated names ("_hidden") and
 * anything else are not an address.
 */
static bool
node_parse(const char *s, size_t len, bool forwarded, struct u128 *a)
{
	const char *colon;
	bool v4;

	if (len == 0 || len > 64)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		size_t rest;

		if (close == NULL || !addr_parse(s + 1, (size_t)(close - s - 1), a, &v4) || v4)
			return false;
		rest = len - (size_t)(close + 1 - s);
		if (rest == 0)
			return true;
		return close[1] == ':' && is_port(close + 2, rest - 1, forwarded);
	}
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return addr_parse(s, len, a, &v4) && v4;
	if (memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL)
		return is_port(colon + 1, len - (size_t)(colon + 1 - s), forwarded) &&
		    addr_parse(s, (size_t)(colon - s), a, &v4) && v4;
	/* RFC 7239 requires brackets around IPv6; X-Forwarded-For never had them. */
	return !forwarded && addr_parse(s, len, a, &v4) && !v4;
}

static bool
is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * The for= value of one Forwarded element ("for=x;proto=http;by=y"), with a
 * quoted-string unquoted. False if there is none, if it appears twice, or if
 * the element does not parse. Unquoted values are taken up to ';' even when
 * they hold characters a token may not (some proxies send for=[::1]).
 */
static bool
forwarded_for(const char *e, size_t len, char *out, size_t outlen, size_t *olen)
{
	size_t i = 0;
	bool found = false;

	while (i < len) {
		size_t ns, nl, vl = 0;
		bool is_for;

		while (i < len && (e[i] == ' ' || e[i] == '\t'))
			i++;
		if (i < len && e[i] == ';') {   /* an empty pair is allowed */
			i++;
			continue;
		}
		if (i == len)
			break;
		ns = i;
		while (i < len && is_tchar(e[i]))
			i++;
		nl = i - ns;
		if (nl == 0 || i >= len || e[i] != '=')
			return false;
		i++;
		is_for = nl == 3 && strncasecmp(e + ns, "for", 3) == 0;
		if (is_for && found)
			return false;
		if (i < len && e[i] == '"') {
			i++;
			for (;;) {
				if (i >= len)
					return false;     /* unterminated */
				if (e[i] == '"')
					break;
				if (e[i] == '\\' && i + 1 < len)
					i++;
				if (is_for) {
					if (vl + 1 >= outlen)
						return false;
					out[vl++] = e[i];
				}
				i++;
			}
			i++;
		} else {
			while (i < len && e[i] != ';' && e[i] != ' ' && e[i] != '\t' && e[i] != '"') {
				if (is_for) {
					if (vl + 1 >= outlen)
						return false;
					out[vl++] = e[i];
				}
				i++;
			}
		}
		if (is_for) {
			out[vl] = '\0';
			*olen = vl;
			found = true;
		}
		while (i < len && (e[i] == ' ' || e[i] == '\t'))
			i++;
		if (i < len && e[i] != ';')
			return false;
		i++;
	}
	return found;
}

/*
 * Walk one header's addresses and find the client (see geo.h). Single pass
 * from the left, remembering what the walk from the right would stop at:
 * the right-most entry that is not a trusted proxy. False means the peer
 * itself is the client.
 */
static bool
walk_header(const struct geo *g, const char *value, bool forwarded, struct u128 *client)
{
	enum { NONE, CLIENT, BAD } last = NONE;
	struct u128 a, first = { 0, 0 }, last_client = { 0, 0 }, after_bad = { 0, 0 };
	bool have_first = false, have_after_bad = false, any = false;
	const char *p = value, *e;
	size_t elen;
	char node[80];

	while ((p = hdrs_list_next(p, &e, &elen)) != NULL) {
		bool ok;

		if (forwarded) {
			size_t nlen;

			ok = forwarded_for(e, elen, node, sizeof node, &nlen) &&
			    node_parse(node, nlen, true, &a);
		} else {
			ok = node_parse(e, elen, false, &a);
		}
		if (!ok) {
			last = BAD;
			have_after_bad = false;
		} else if (rtab_find(&g->trusted, a) == 0) {
			last = CLIENT;
			last_client = a;
		} else {
			if (!any) {
				first = a;
				have_first = true;
			}
			if (last == BAD && !have_after_bad) {
				after_bad = a;
				have_after_bad = true;
			}
		}
		any = true;
	}
	switch (last) {
	case NONE:
		*client = first;
		return have_first;
	case CLIENT:
		*client = last_client;
		return true;
	case BAD:
		*client = after_bad;
		return have_after_bad;
	}
	WRONG("walk state");
}

const char *
geo_region(const struct geo *g, const struct sockaddr *peer,
    const char *xff, const char *forwarded, struct geo_answer *why)
{
	struct u128 a, client;
	const char *hdr = NULL;
	bool is_fwd = false;

	CHECK_OBJ_NOTNULL(g, GEO_MAGIC);
	if (why != NULL)
		memset(why, 0, sizeof *why);
	if (!addr_from_sockaddr(peer, &a))
		return g->regions[0];
	if (g->trusted.n > 0 && rtab_find(&g->trusted, a) != 0) {
		bool have_xff = xff != NULL && xff[strspn(xff, ", \t")] != '\0';

		if (g->fwd == GEO_FWD_XFF || (g->fwd == GEO_FWD_AUTO && have_xff)) {
			hdr = xff;
		} else if (g->fwd == GEO_FWD_FORWARDED || g->fwd == GEO_FWD_AUTO) {
			hdr = forwarded;
			is_fwd = true;
		}
		if (hdr != NULL && walk_header(g, hdr, is_fwd, &client)) {
			a = client;
			if (why != NULL)
				why->forwarded = true;
		}
	}
	return locate(g, a, why);
}

const char *
geo_lookup(const struct geo *g, const char *addr, struct geo_answer *why)
{
	struct u128 a;

	CHECK_OBJ_NOTNULL(g, GEO_MAGIC);
	if (why != NULL)
		memset(why, 0, sizeof *why);
	if (addr == NULL || !addr_parse(addr, strlen(addr), &a, NULL))
		return g->regions[0];
	return locate(g, a, why);
}

const char *
geo_default_region(const struct geo *g)
{
	CHECK_OBJ_NOTNULL(g, GEO_MAGIC);
	return g->regions[0];
}

const char *const *
geo_regions(const struct geo *g, size_t *n)
{
	CHECK_OBJ_NOTNULL(g, GEO_MAGIC);
	AN(n);
	*n = g->nregions;
	return (const char *const *)g->regions;
}

const char *
geo_source_name(enum geo_source s)
{
	switch (s) {
	case GEO_SRC_CIDR: return "cidr";
	case GEO_SRC_MMDB: return "mmdb";
	case GEO_SRC_TOR: return "tor";
	case GEO_SRC_DEFAULT: return "default";
	}
	return "default";
}

void
geo_describe(const struct geo *g, char *buf, size_t len)
{
	CHECK_OBJ_NOTNULL(g, GEO_MAGIC);
	snprintf(buf, len, "cidr %zu networks, mmdb %s, tor %zu+%zu ranges, "
	    "%zu trusted proxy networks, %zu regions, default \"%s\"",
	    g->ncidr, g->have_mmdb ? g->mmdb.metadata.database_type : "none",
	    g->ntor4, g->ntor6, g->ntrusted, g->nregions, g->regions[0]);
}
