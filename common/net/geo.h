/*
 * geo.h (module geo_): which region a client belongs to, from its address.
 *
 * Sources, in priority order (the first that locates the address answers):
 *
 *   1. cidr   an operator's CIDR file: lines "CIDR REGION" (IPv4 and IPv6,
 *             "#" starts a comment), longest prefix wins. It names regions
 *             directly, so it wins over the databases below.
 *   2. mmdb   a MaxMind database (.mmdb, libmaxminddb): the record's
 *             country.iso_code. A record without a country (registered-only,
 *             continent-only or centroid-only answers) is not a location.
 *   3. tor    Debian's tor-geoipdb range files (/usr/share/tor/geoip, IPv4
 *             "FROM,TO,CC" with integer bounds; geoip6, the same with IPv6
 *             bounds). Used by default when they are installed. "??" ranges
 *             are not a location.
 *
 * A country becomes a region through the mapping: "country.CC" first, then
 * "continent.XX" (the record's continent, or for the range files a built-in
 * ISO 3166 country to continent table after GeoNames). A located address that
 * no mapping covers, and an address no source locates, get the default
 * region.
 *
 * Proxies: the client is the direct peer unless the peer is in the trusted
 * proxy list. Then the client is the right-most address of X-Forwarded-For
 * (or of the for= parameters of Forwarded, RFC 7239) that is not itself a
 * trusted proxy; trusted hops are skipped from the right. A malformed,
 * "unknown" or obfuscated entry ends the walk: nothing to its left can be
 * believed, so the client is the trusted hop just right of it (the peer if
 * it is the last entry). If every entry is trusted the left-most one is the
 * client. An untrusted peer's headers are ignored entirely.
 *
 * Addresses: IPv4 and IPv4-mapped IPv6 (::ffff:a.b.c.d, as a dual-stack
 * socket reports IPv4 peers) are the same address everywhere: in the CIDR
 * file, the trusted list, the range files and the mmdb lookup. So IPv4 lies
 * inside ::/0 (at ::ffff:0:0/96): a CIDR line "::/0 X" also covers IPv4
 * unless a more specific IPv4 line (0.0.0.0/0 Y) says otherwise.
 *
 * CIDR file lines are "ADDR/LEN REGION" or "ADDR REGION" (one host). A line
 * is refused, with FILE:LINE, for a bad address or prefix length, host bits
 * set below the prefix (10.0.0.1/8), a missing region or an extra field, a
 * bad region name, or a network already given on an earlier line.
 *
 * Ownership and threads: geo_new loads everything; the struct geo is then
 * immutable until geo_free, so lookups from any number of threads need no
 * lock (libmaxminddb lookups on an open database are read-only). Returned
 * region strings belong to the struct geo. Memory: the tor files take about
 * 7 MB (sorted arrays of range starts, binary search).
 */
#ifndef CDN_GEO_H
#define CDN_GEO_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;
struct geo;

#define GEO_TOR_GEOIP   "/usr/share/tor/geoip"
#define GEO_TOR_GEOIP6  "/usr/share/tor/geoip6"
#define GEO_DEFAULT_REGION "default"
#define GEO_REGION_MAX  63          /* longest region name */

/* One mapping entry: key "country.DE" or "continent.EU" (any case), region
 * a name of letters, digits, '.', '_' and '-'. */
struct geo_mapping {
	const char *key;
	const char *region;
};

/* Which header a trusted proxy's client address is read from. */
enum geo_fwd {
	/* X-Forwarded-For if the request has one, else Forwarded. If the proxies
	 * set only one of them, name it: a client could otherwise send the other
	 * one and pick its own region. */
	GEO_FWD_AUTO = 0,
	GEO_FWD_XFF,        /* only X-Forwarded-For */
	GEO_FWD_FORWARDED,  /* only Forwarded */
};

struct geo_opts {
	const char *mmdb;         /* .mmdb path, NULL or "" for none */
	const char *tor_geoip;    /* NULL: GEO_TOR_GEOIP if it exists; "": none */
	const char *tor_geoip6;   /* NULL: GEO_TOR_GEOIP6 if it exists; "": none */
	const char *cidr_file;    /* NULL or "" for none */
	const char *default_region; /* NULL: GEO_DEFAULT_REGION */
	const struct geo_mapping *map;
	size_t nmap;
	/* Trusted proxies: each string is one or more addresses or CIDRs
	 * separated by commas or whitespace ("10.0.0.0/8, ::1"). */
	const char *const *trusted;
	size_t ntrusted;
	enum geo_fwd fwd;
};

enum geo_source {
	GEO_SRC_DEFAULT = 0,  /* no source located the address */
	GEO_SRC_CIDR,
	GEO_SRC_MMDB,
	GEO_SRC_TOR,
};

/* Why geo_region answered what it did (for logs, stats and tests). */
struct geo_answer {
	enum geo_source source; /* which source located the address */
	bool forwarded;         /* addr came from a trusted proxy's header */
	bool mapped;            /* a CIDR line or a mapping named the region; false
	                         * means the default region was used */
	char addr[46];          /* the address looked up, "" if there was none */
	char country[3];        /* ISO 3166 code from mmdb/tor, else "" */
	char continent[3];      /* continent code for that country, else "" */
};

/*
 * Load every source named in `o` and return the immutable lookup structure,
 * or NULL with a one-line reason in err: "FILE:LINE: reason" for bad lines
 * of the CIDR or range files (the first one found), "FILE: reason" for a
 * file that cannot be opened or read (an explicitly named tor file included),
 * and the offending value for a bad mapping, region name or trusted proxy.
 * Blocking: reads files; call at start-up, not on a request thread.
 */
struct geo *geo_new(const struct geo_opts *o, char *err, size_t errlen);

/* Free everything and set *gp to NULL. NULL or *gp == NULL is a no-op. */
void geo_free(struct geo **gp);

/*
 * The region of a request. `peer` is the direct peer's address (AF_INET or
 * AF_INET6; anything else, or NULL, is an unknown client). `xff` and
 * `forwarded` are the request's X-Forwarded-For and Forwarded values, all
 * lines of each joined with ", " in arrival order (hdrs_join), or NULL; they
 * are read only when the peer is a trusted proxy. Never fails: unknown
 * clients get the default region. The result is owned by `g`. `why` may be
 * NULL. Thread-safe, no locks, no I/O.
 */
const char *geo_region(const struct geo *g, const struct sockaddr *peer,
    const char *xff, const char *forwarded, struct geo_answer *why);

/* The region of one literal address ("192.0.2.1", "2001:db8::1"), with no
 * proxy handling. A string that is not an address gets the default region
 * with why->addr "". */
const char *geo_lookup(const struct geo *g, const char *addr, struct geo_answer *why);

/* The default region. */
const char *geo_default_region(const struct geo *g);

/* Every region geo_region can return (the default first, then those of the
 * mapping and the CIDR file, each once); *n is set to their number. Lets the
 * caller check at start-up that every region has a shield tier. */
const char *const *geo_regions(const struct geo *g, size_t *n);

/* "cidr", "mmdb", "tor" or "default". */
const char *geo_source_name(enum geo_source s);

/* One line describing what was loaded, for the start-up log:
 * "cidr 12 networks, mmdb GeoIP2-Country, tor 385602+276646 ranges, 3 trusted". */
void geo_describe(const struct geo *g, char *buf, size_t len);

#endif
