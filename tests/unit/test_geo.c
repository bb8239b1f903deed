/*
 * test_geo.c: client address to region from a CIDR file, MaxMind's test
 * databases and tor's range files; trusted proxies, X-Forwarded-For and
 * Forwarded (RFC 7239).
 *
 * MaxMind data: ../shared/data/geoip beside the source tree (found through
 * $top_srcdir, which make check exports, or through this file's path); the
 * networks used below come from GeoIP2-Country-Test.source.json. Tests that
 * need a file that is not there are skipped, not failed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "net/geo.h"
#include "util/vas.h"

static char errbuf[512];

/* ---------------------------------------------------------------- helpers */

static bool
file_exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Path of a file in ../shared/data/geoip, or NULL if it cannot be found. */
static const char *
data_file(const char *name)
{
	static char path[4096];
	const char *top = getenv("top_srcdir");
	char here[1024], *slash;

	if (top != NULL && top[0] != '\0') {
		snprintf(path, sizeof path, "%s/../shared/data/geoip/%s", top, name);
		if (file_exists(path))
			return path;
	}
	/* __FILE__ is TOP/tests/unit/test_geo.c when built by automake. */
	snprintf(here, sizeof here, "%s", __FILE__);
	for (int i = 0; i < 3 && (slash = strrchr(here, '/')) != NULL; i++)
		*slash = '\0';
	if (strcmp(here, __FILE__) != 0) {
		snprintf(path, sizeof path, "%s/../shared/data/geoip/%s", here, name);
		if (file_exists(path))
			return path;
	}
	snprintf(path, sizeof path, "../shared/data/geoip/%s", name);
	return file_exists(path) ? path : NULL;
}

static const char *
mmdb_or_skip(void)
{
	const char *p = data_file("GeoIP2-Country-Test.mmdb");

	if (p == NULL) {
		print_message("GeoIP2-Country-Test.mmdb not found; skipping\n");
		skip();
	}
	return p;
}

/* Write text to a new temporary file; the caller frees and unlinks the path. */
static char *
write_file(const char *text)
{
	char *path = strdup("/tmp/cdn-test-geo-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
remove_file(char **path)
{
	if (*path != NULL) {
		unlink(*path);
		free(*path);
		*path = NULL;
	}
}

/* Options with no default tor files, so results do not depend on what is
 * installed. */
static struct geo_opts
quiet_opts(void)
{
	struct geo_opts o;

	memset(&o, 0, sizeof o);
	o.tor_geoip = "";
	o.tor_geoip6 = "";
	return o;
}

static struct geo *
must_new(const struct geo_opts *o)
{
	struct geo *g;

	errbuf[0] = '\0';
	g = geo_new(o, errbuf, sizeof errbuf);
	if (g == NULL)
		fail_msg("geo_new failed: %s", errbuf);
	return g;
}

/* geo_new must fail with an error that contains each of the strings given. */
static void
must_refuse(const struct geo_opts *o, const char *want1, const char *want2)
{
	struct geo *g;

	errbuf[0] = '\0';
	g = geo_new(o, errbuf, sizeof errbuf);
	if (g != NULL) {
		geo_free(&g);
		fail_msg("geo_new accepted what it should refuse (wanted \"%s\")", want1);
	}
	if (strstr(errbuf, want1) == NULL || (want2 != NULL && strstr(errbuf, want2) == NULL))
		fail_msg("expected \"%s\"%s%s in: %s", want1, want2 ? " and " : "",
		    want2 ? want2 : "", errbuf);
}

/* A sockaddr for a literal address (static storage, one at a time). */
static const struct sockaddr *
peer(const char *ip)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(40000);
	}
	return (const struct sockaddr *)&ss;
}

static void
expect_lookup(const struct geo *g, const char *ip, const char *region,
    enum geo_source src, const char *country)
{
	struct geo_answer why;
	const char *r = geo_lookup(g, ip, &why);

	if (strcmp(r, region) != 0 || why.source != src ||
	    (country != NULL && strcmp(why.country, country) != 0))
		fail_msg("%s: got region %s from %s (country \"%s\"), want %s from %s (country \"%s\")",
		    ip, r, geo_source_name(why.source), why.country, region,
		    geo_source_name(src), country != NULL ? country : "");
}

/* ---------------------------------------------------------------- mmdb */

static void
mmdb_country_is_mapped_to_its_region(void **state)
{
	const struct geo_mapping map[] = {
		{ "country.GB", "uk" }, { "country.SE", "nordic" },
		{ "Country.us", "us" }, { "country.JP", "apac" },
	};
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	/* ::81.2.69.160/123 is GB (registered in US). */
	assert_string_equal(geo_lookup(g, "81.2.69.160", &why), "uk");
	assert_int_equal(why.source, GEO_SRC_MMDB);
	assert_string_equal(why.country, "GB");
	assert_string_equal(why.continent, "EU");
	assert_true(why.mapped);
	assert_string_equal(why.addr, "81.2.69.160");
	expect_lookup(g, "81.2.69.191", "uk", GEO_SRC_MMDB, "GB");
	/* ::89.160.20.128/121 is SE, registered in DE: the country counts. */
	expect_lookup(g, "89.160.20.130", "nordic", GEO_SRC_MMDB, "SE");
	expect_lookup(g, "216.160.83.60", "us", GEO_SRC_MMDB, "US");
	/* 2001:218::/32 is JP, first and last address. */
	expect_lookup(g, "2001:218::", "apac", GEO_SRC_MMDB, "JP");
	expect_lookup(g, "2001:218:ffff:ffff:ffff:ffff:ffff:ffff", "apac", GEO_SRC_MMDB, "JP");
	expect_lookup(g, "2001:480:10::1", "us", GEO_SRC_MMDB, "US");
	geo_free(&g);
	assert_null(g);
}

static void
addresses_outside_mmdb_networks_get_the_default_region(void **state)
{
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	g = must_new(&o);
	expect_lookup(g, "1.1.1.1", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "10.0.0.1", "default", GEO_SRC_DEFAULT, "");
	/* Just around ::81.2.69.142/127 and ::81.2.69.160/123. */
	expect_lookup(g, "81.2.69.141", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "81.2.69.142", "default", GEO_SRC_MMDB, "GB");
	expect_lookup(g, "81.2.69.208", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "2001:219::1", "default", GEO_SRC_DEFAULT, "");
	/* A located but unmapped country still gets the default region. */
	assert_string_equal(geo_lookup(g, "81.2.69.160", &why), "default");
	assert_int_equal(why.source, GEO_SRC_MMDB);
	assert_false(why.mapped);
	geo_free(&g);
}

static void
continent_mapping_applies_when_country_is_unmapped(void **state)
{
	const struct geo_mapping map[] = {
		{ "continent.EU", "eu" }, { "country.DE", "de" }, { "continent.na", "americas" },
	};
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	expect_lookup(g, "2a02:cfc0::1", "eu", GEO_SRC_MMDB, "FR");
	expect_lookup(g, "2a02:d180::1", "de", GEO_SRC_MMDB, "DE");
	expect_lookup(g, "216.160.83.56", "americas", GEO_SRC_MMDB, "US");
	/* IL is in Asia: no mapping, so the default, but still located. */
	assert_string_equal(geo_lookup(g, "2a02:cf80::1", &why), "default");
	assert_int_equal(why.source, GEO_SRC_MMDB);
	assert_string_equal(why.country, "IL");
	assert_string_equal(why.continent, "AS");
	assert_false(why.mapped);
	geo_free(&g);
}

static void
mmdb_record_without_country_is_not_a_location(void **state)
{
	const struct geo_mapping map[] = { { "continent.EU", "eu" }, { "country.NO", "no" } };
	struct geo_opts o = quiet_opts();
	char *tor6;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	tor6 = write_file("2a02:d500::,2a02:d507:ffff:ffff:ffff:ffff:ffff:ffff,NO\n");
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	/* 2a02:d500::/29 has only a continent; 214.1.1.0/24 only traits. */
	expect_lookup(g, "2a02:d500::1", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "214.1.1.1", "default", GEO_SRC_DEFAULT, "");
	geo_free(&g);
	/* Not a location, so the next source answers. */
	o.tor_geoip6 = tor6;
	g = must_new(&o);
	expect_lookup(g, "2a02:d500::1", "no", GEO_SRC_TOR, "NO");
	geo_free(&g);
	remove_file(&tor6);
}

static void
ipv4_mapped_peer_is_looked_up_as_ipv4(void **state)
{
	const struct geo_mapping map[] = { { "country.GB", "uk" } };
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	assert_string_equal(geo_region(g, peer("::ffff:81.2.69.160"), NULL, NULL, &why), "uk");
	assert_string_equal(why.addr, "81.2.69.160");
	assert_string_equal(geo_region(g, peer("81.2.69.160"), NULL, NULL, NULL), "uk");
	geo_free(&g);
}

static void
geolite_test_database_also_loads(void **state)
{
	const struct geo_mapping map[] = { { "country.SE", "nordic" } };
	struct geo_opts o = quiet_opts();
	struct geo *g;

	o.mmdb = data_file("GeoLite2-Country-Test.mmdb");
	if (o.mmdb == NULL)
		skip();
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	expect_lookup(g, "89.160.20.112", "nordic", GEO_SRC_MMDB, "SE");
	geo_free(&g);
}

static void
unreadable_mmdb_is_refused_with_its_path(void **state)
{
	struct geo_opts o = quiet_opts();
	char *junk = write_file("this is not a MaxMind database\n");

	o.mmdb = "/nonexistent/GeoIP2-Country.mmdb";
	must_refuse(&o, "/nonexistent/GeoIP2-Country.mmdb", "cannot open");
	o.mmdb = junk;
	must_refuse(&o, junk, "cannot open MaxMind database");
	remove_file(&junk);
}

/* ---------------------------------------------------------------- cidr */

static void
cidr_file_longest_prefix_wins(void **state)
{
	char *cidr = write_file(
	    "10.0.0.0/8 ten\n"
	    "10.1.0.0/16 ten-one\n"
	    "10.1.2.0/24 ten-one-two\n"
	    "10.1.2.3 host\n"
	    "10.1.255.0/24 tail\n"
	    "10.0.0.0/16 ten-zero\n");
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.cidr_file = cidr;
	g = must_new(&o);
	expect_lookup(g, "10.1.2.3", "host", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.2.2", "ten-one-two", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.2.4", "ten-one-two", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.2.255", "ten-one-two", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.3.0", "ten-one", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.254.255", "ten-one", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.1.255.255", "tail", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.2.0.0", "ten", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.0.0.0", "ten-zero", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.0.255.255", "ten-zero", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.0.255.255", "ten-zero", GEO_SRC_CIDR, "");
	expect_lookup(g, "10.255.255.255", "ten", GEO_SRC_CIDR, "");
	expect_lookup(g, "9.255.255.255", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "11.0.0.0", "default", GEO_SRC_DEFAULT, "");
	assert_string_equal(geo_lookup(g, "10.1.2.9", &why), "ten-one-two");
	assert_true(why.mapped);
	assert_string_equal(why.country, "");
	geo_free(&g);
	remove_file(&cidr);
}

static void
cidr_file_holds_ipv6_networks(void **state)
{
	char *cidr = write_file(
	    "2001:db8::/32 doc\n"
	    "2001:db8:1::/48 doc-one\n"
	    "2001:db8:1::1/128 doc-host\n"
	    "::/0 anywhere6\n"
	    "0.0.0.0/0 anywhere4\n"
	    "255.255.255.255/32 broadcast\n");
	struct geo_opts o = quiet_opts();
	struct geo *g;

	o.cidr_file = cidr;
	g = must_new(&o);
	expect_lookup(g, "2001:db8::1", "doc", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db8:1::1", "doc-host", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db8:1::2", "doc-one", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "doc-one", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db8:2::", "doc", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "doc", GEO_SRC_CIDR, "");
	expect_lookup(g, "2001:db9::", "anywhere6", GEO_SRC_CIDR, "");
	expect_lookup(g, "::", "anywhere6", GEO_SRC_CIDR, "");
	expect_lookup(g, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "anywhere6", GEO_SRC_CIDR, "");
	/* IPv4 sits inside ::/0 (at ::ffff:0:0/96); 0.0.0.0/0 is more specific. */
	expect_lookup(g, "192.0.2.1", "anywhere4", GEO_SRC_CIDR, "");
	expect_lookup(g, "255.255.255.254", "anywhere4", GEO_SRC_CIDR, "");
	expect_lookup(g, "255.255.255.255", "broadcast", GEO_SRC_CIDR, "");
	expect_lookup(g, "::ffff:255.255.255.255", "broadcast", GEO_SRC_CIDR, "");
	geo_free(&g);
	remove_file(&cidr);
}

static void
cidr_file_beats_mmdb(void **state)
{
	const struct geo_mapping map[] = { { "country.GB", "uk" } };
	struct geo_opts o = quiet_opts();
	char *cidr;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	cidr = write_file("81.2.69.160/28 office\n");
	o.cidr_file = cidr;
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	expect_lookup(g, "81.2.69.165", "office", GEO_SRC_CIDR, "");
	expect_lookup(g, "81.2.69.176", "uk", GEO_SRC_MMDB, "GB");
	geo_free(&g);
	remove_file(&cidr);
}

static void
cidr_file_takes_comments_blank_lines_and_crlf(void **state)
{
	char *cidr = write_file(
	    "# operator networks\r\n"
	    "\n"
	    "   \t\n"
	    "  192.0.2.0/24\tlab   # the lab\r\n"
	    "198.51.100.0/24 office#no space before the comment\n"
	    "#203.0.113.0/24 commented-out\n"
	    "203.0.113.0/25 last-line-without-newline");
	struct geo_opts o = quiet_opts();
	struct geo *g;

	o.cidr_file = cidr;
	g = must_new(&o);
	expect_lookup(g, "192.0.2.77", "lab", GEO_SRC_CIDR, "");
	expect_lookup(g, "198.51.100.1", "office", GEO_SRC_CIDR, "");
	expect_lookup(g, "203.0.113.1", "last-line-without-newline", GEO_SRC_CIDR, "");
	expect_lookup(g, "203.0.113.200", "default", GEO_SRC_DEFAULT, "");
	geo_free(&g);
	remove_file(&cidr);
}

static void
bad_cidr_lines_are_refused_with_file_and_line(void **state)
{
	static const struct {
		const char *text, *line, *reason;
	} cases[] = {
		{ "10.0.0.0/8 a\n10.0.0.0/33 b\n", ":2: ", "prefix length must be 0-32" },
		{ "2001:db8::/129 x\n", ":1: ", "prefix length must be 0-128" },
		{ "# networks\n\nbanana eu\n", ":3: ", "not an IPv4 or IPv6 address" },
		{ "1.2.3 eu\n", ":1: ", "not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8\n", ":1: ", "expected \"CIDR REGION\"" },
		{ "10.0.0.0/8 eu extra\n", ":1: ", "unexpected \"extra\"" },
		{ "10.0.0.1/8 eu\n", ":1: ", "host bits set in \"10.0.0.1/8\" (the network is 10.0.0.0/8)" },
		{ "2001:db8::1/32 eu\n", ":1: ", "(the network is 2001:db8::/32)" },
		{ "10.0.0.0/8 eu\n\n10.0.0.0/8 us\n", ":3: ", "the same network as line 1" },
		{ "10.0.0.0/8 bad!region\n", ":1: ", "bad region name \"bad!region\"" },
		{ "10.0.0.0/ eu\n", ":1: ", "bad prefix length" },
		{ "10.0.0.0/8x eu\n", ":1: ", "bad prefix length" },
		{ "10.0.0.0/-8 eu\n", ":1: ", "bad prefix length" },
		{ "[2001:db8::]/32 eu\n", ":1: ", "not an IPv4 or IPv6 address" },
	};
	struct geo_opts o = quiet_opts();
	char want[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *cidr = write_file(cases[i].text);

		o.cidr_file = cidr;
		snprintf(want, sizeof want, "%s%s", cidr, cases[i].line);
		must_refuse(&o, want, cases[i].reason);
		remove_file(&cidr);
	}
	o.cidr_file = "/nonexistent/regions.cidr";
	must_refuse(&o, "/nonexistent/regions.cidr: cannot open CIDR file", NULL);
}

/* Longest-prefix match against a brute-force scan of random nested blocks. */
static void
cidr_table_agrees_with_brute_force_longest_prefix(void **state)
{
	enum { NBLOCKS = 300, NPROBES = 20000 };
	struct { uint32_t net; unsigned len; char region[8]; } b[NBLOCKS];
	size_t nb = 0, sz = 0;
	char *text = NULL, *cidr;
	FILE *mem = open_memstream(&text, &sz);
	struct geo_opts o = quiet_opts();
	struct geo *g;
	unsigned seed = 12345;

	assert_non_null(mem);
	while (nb < NBLOCKS) {
		unsigned len = 8 + (unsigned)(rand_r(&seed) % 25);
		uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
		uint32_t net = (0x0a000000u | ((uint32_t)rand_r(&seed) & 0x00ffffffu)) & mask;
		bool dup = false;

		/* Keep addresses dense enough that blocks nest. */
		net &= 0xff0fffffu;
		for (size_t i = 0; i < nb; i++)
			dup = dup || (b[i].net == net && b[i].len == len);
		if (dup)
			continue;
		b[nb].net = net;
		b[nb].len = len;
		snprintf(b[nb].region, sizeof b[nb].region, "r%zu", nb);
		fprintf(mem, "%u.%u.%u.%u/%u %s\n", net >> 24, (net >> 16) & 255, (net >> 8) & 255,
		    net & 255, len, b[nb].region);
		nb++;
	}
	fclose(mem);
	cidr = write_file(text);
	free(text);
	o.cidr_file = cidr;
	g = must_new(&o);
	for (unsigned i = 0; i < NPROBES; i++) {
		uint32_t a = (0x0a000000u | ((uint32_t)rand_r(&seed) & 0x00ffffffu)) & 0xff0fffffu;
		const char *want = "default";
		unsigned best = 0;
		char ip[32];

		if (i % 3 == 0) /* probe block edges too */
			a = b[i % nb].net + (i % 2 ? 0 : ~(b[i % nb].len ? ~0u << (32 - b[i % nb].len) : 0u));
		for (size_t k = 0; k < nb; k++) {
			uint32_t mask = ~0u << (32 - b[k].len);

			if ((a & mask) == b[k].net && b[k].len >= best) {
				best = b[k].len;
				want = b[k].region;
			}
		}
		snprintf(ip, sizeof ip, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
		if (strcmp(geo_lookup(g, ip, NULL), want) != 0)
			fail_msg("%s: got %s, want %s", ip, geo_lookup(g, ip, NULL), want);
	}
	geo_free(&g);
	remove_file(&cidr);
}

/* ---------------------------------------------------------------- tor */

static void
tor_range_files_give_countries_and_continents(void **state)
{
	const struct geo_mapping map[] = { { "country.AU", "apac" }, { "continent.EU", "eu" } };
	char *v4 = write_file(
	    "# from tor-geoipdb\n"
	    "16777216,16777471,AU\n"
	    "16777472,16778239,CN\n"
	    "16778240,16778495,??\n"
	    "33554432,33554687,de\r\n"
	    "4294967040,4294967295,AU\n");
	char *v6 = write_file(
	    "# IPv6\n"
	    "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,SE\n"
	    "2001:db9::,2001:db9::ff,??\n"
	    "2001:db9::100,2001:db9::1ff,FR\n");
	struct geo_opts o = quiet_opts();
	struct geo_answer why;
	struct geo *g;

	o.tor_geoip = v4;
	o.tor_geoip6 = v6;
	o.map = map;
	o.nmap = ARRAY_LEN(map);
	g = must_new(&o);
	expect_lookup(g, "1.0.0.0", "apac", GEO_SRC_TOR, "AU");
	expect_lookup(g, "1.0.0.255", "apac", GEO_SRC_TOR, "AU");
	expect_lookup(g, "0.255.255.255", "default", GEO_SRC_DEFAULT, "");
	/* CN is located but unmapped; its continent comes from the built-in table. */
	assert_string_equal(geo_lookup(g, "1.0.1.0", &why), "default");
	assert_int_equal(why.source, GEO_SRC_TOR);
	assert_string_equal(why.country, "CN");
	assert_string_equal(why.continent, "AS");
	assert_false(why.mapped);
	expect_lookup(g, "1.0.4.0", "default", GEO_SRC_DEFAULT, "");   /* ?? */
	expect_lookup(g, "1.0.5.0", "default", GEO_SRC_DEFAULT, "");   /* gap */
	expect_lookup(g, "2.0.0.1", "eu", GEO_SRC_TOR, "DE");
	expect_lookup(g, "2.0.1.0", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "255.255.255.255", "apac", GEO_SRC_TOR, "AU");
	expect_lookup(g, "::ffff:1.0.0.1", "apac", GEO_SRC_TOR, "AU");
	expect_lookup(g, "2001:db8:1::1", "eu", GEO_SRC_TOR, "SE");
	expect_lookup(g, "2001:db9::1", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "2001:db9::100", "eu", GEO_SRC_TOR, "FR");
	expect_lookup(g, "2001:db9::200", "default", GEO_SRC_DEFAULT, "");
	expect_lookup(g, "2001:db7:ffff::", "default", GEO_SRC_DEFAULT, "");
	geo_free(&g);
	remove_file(&v4);
	remove_file(&v6);
}

static void
bad_tor_range_lines_are_refused_with_file_and_line(void **state)
{
	static const struct {
		bool six;
		const char *text, *line, *reason;
	} cases[] = {
		{ false, "1,2,AU\nx,y,ZZ\n", ":2: ", "expected FROM,TO,CC" },
		{ false, "1,2\n", ":1: ", "expected FROM,TO,CC" },
		{ false, "1,2,AUS\n", ":1: ", "expected FROM,TO,CC" },
		{ false, "1,4294967296,AU\n", ":1: ", "expected FROM,TO,CC" },
		{ false, "20,10,AU\n", ":1: ", "range ends before it starts" },
		{ false, "10,20,AU\n5,8,CN\n", ":2: ", "must be sorted" },
		{ false, "10,20,AU\n20,30,CN\n", ":2: ", "overlaps" },
		{ true, "1.2.3.4,1.2.3.5,AU\n", ":1: ", "expected FROM,TO,CC (IPv6" },
		{ true, "2001:db8::10,2001:db8::1,AU\n", ":1: ", "range ends before it starts" },
		{ true, "2001:db8::,2001:db8::ff,AU\n2001:db8::80,2001:db8::fff,AU\n", ":2: ", "overlaps" },
	};
	struct geo_opts o = quiet_opts();
	char want[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *f = write_file(cases[i].text);

		o = quiet_opts();
		if (cases[i].six)
			o.tor_geoip6 = f;
		else
			o.tor_geoip = f;
		snprintf(want, sizeof want, "%s%s", f, cases[i].line);
		must_refuse(&o, want, cases[i].reason);
		remove_file(&f);
	}
	o = quiet_opts();
	o.tor_geoip = "/nonexistent/geoip";
	must_refuse(&o, "/nonexistent/geoip: cannot open range file", NULL);
}

static void
mmdb_answers_before_tor_and_tor_fills_its_gaps(void **state)
{
	struct geo_opts o = quiet_opts();
	char *v4;
	struct geo *g;

	o.mmdb = mmdb_or_skip();
	/* 81.2.69.0/24 (1359103232..) says FR, 1.1.1.0/24 (16843008..) AU. */
	v4 = write_file("16843008,16843263,AU\n1359103232,1359103487,FR\n");
	o.tor_geoip = v4;
	g = must_new(&o);
	/* 81.2.69.160 is GB in the mmdb, which wins; .1 is not in the mmdb. */
	expect_lookup(g, "81.2.69.160", "default", GEO_SRC_MMDB, "GB");
	expect_lookup(g, "81.2.69.1", "default", GEO_SRC_TOR, "FR");
	expect_lookup(g, "1.1.1.1", "default", GEO_SRC_TOR, "AU");
	geo_free(&g);
	remove_file(&v4);
}

/* Check the installed tor files against lines read straight from them. */
static void
installed_tor_files_agree_with_their_lines(void **state)
{
	struct geo_opts o = quiet_opts();
	const char *files[] = { GEO_TOR_GEOIP, GEO_TOR_GEOIP6 };
	struct geo *g;
	unsigned checked = 0;

	if (!file_exists(GEO_TOR_GEOIP) || !file_exists(GEO_TOR_GEOIP6)) {
		print_message("tor-geoipdb is not installed; skipping\n");
		skip();
	}
	o.tor_geoip = NULL;     /* the defaults */
	o.tor_geoip6 = NULL;
	g = must_new(&o);
	for (size_t fi = 0; fi < ARRAY_LEN(files); fi++) {
		FILE *f = fopen(files[fi], "r");
		char line[256];
		unsigned n = 0;

		assert_non_null(f);
		while (fgets(line, sizeof line, f) != NULL) {
			char from[64], to[64], cc[8], ip[64];
			struct geo_answer why;

			if (line[0] == '#' || n++ % 9973 != 0)
				continue;
			assert_int_equal(sscanf(line, "%63[^,],%63[^,],%7s", from, to, cc), 3);
			for (int end = 0; end < 2; end++) {
				const char *a = end ? to : from;

				if (fi == 0) {
					unsigned long v = strtoul(a, NULL, 10);

					snprintf(ip, sizeof ip, "%lu.%lu.%lu.%lu", v >> 24, (v >> 16) & 255,
					    (v >> 8) & 255, v & 255);
					a = ip;
				}
				geo_lookup(g, a, &why);
				if (strcmp(cc, "??") == 0) {
					assert_int_equal(why.source, GEO_SRC_DEFAULT);
				} else if (why.source != GEO_SRC_TOR || strcmp(why.country, cc) != 0) {
					fail_msg("%s (line \"%s\"): got %s from %s", a, line, why.country,
					    geo_source_name(why.source));
				}
				checked++;
			}
		}
		fclose(f);
	}
	assert_true(checked > 50);
	expect_lookup(g, "8.8.8.8", "default", GEO_SRC_TOR, "US");
	geo_free(&g);
}

static void
empty_tor_path_turns_the_default_files_off(void **state)
{
	struct geo_opts o = quiet_opts();
	struct geo *g = must_new(&o);
	char desc[256];

	geo_describe(g, desc, sizeof desc);
	assert_non_null(strstr(desc, "tor 0+0 ranges"));
	expect_lookup(g, "8.8.8.8", "default", GEO_SRC_DEFAULT, "");
	geo_free(&g);
}

/* ---------------------------------------------------------------- mapping */

static void
bad_mappings_and_region_names_are_refused(void **state)
{
	struct geo_opts o = quiet_opts();
	struct geo_mapping m[2];

	o.map = m;
	o.nmap = 1;
	m[0] = (struct geo_mapping){ "country.UK", "uk" };
	must_refuse(&o, "country.UK", "not an ISO 3166 country code");
	m[0] = (struct geo_mapping){ "country.DEU", "de" };
	must_refuse(&o, "country.DEU", "not an ISO 3166");
	m[0] = (struct geo_mapping){ "continent.XX", "x" };
	must_refuse(&o, "continent.XX", "AF AN AS EU NA OC SA");
	m[0] = (struct geo_mapping){ "region.DE", "de" };
	must_refuse(&o, "region.DE", "expected country.CC or continent.CC");
	m[0] = (struct geo_mapping){ "country.DE", "two words" };
	must_refuse(&o, "country.DE", "bad region name \"two words\"");
	m[0] = (struct geo_mapping){ "country.DE", "" };
	must_refuse(&o, "country.DE", "bad region name");
	m[0] = (struct geo_mapping){ "country.DE", "eu" };
	m[1] = (struct geo_mapping){ "country.de", "de" };
	o.nmap = 2;
	must_refuse(&o, "given twice", "eu and de");
	o.nmap = 0;
	o.default_region = "no/slashes";
	must_refuse(&o, "bad default region name \"no/slashes\"", NULL);
}

static void
regions_lists_each_region_once_default_first(void **state)
{
	const struct geo_mapping map[] = {
		{ "country.DE", "eu" }, { "country.FR", "eu" }, { "continent.NA", "us" },
	};
	char *cidr = write_file("10.0.0.0/8 lab\n192.0.2.0/24 eu\n");
	struct geo_opts o = quiet_opts();
	const char *const *r;
	struct geo *g;
	size_t n;
	char desc[256];

	o.map = map;
	o.nmap = ARRAY_LEN(map);
	o.cidr_file = cidr;
	o.default_region = "global";
	g = must_new(&o);
	r = geo_regions(g, &n);
	assert_int_equal(n, 4);
	assert_string_equal(r[0], "global");
	assert_string_equal(r[1], "eu");
	assert_string_equal(r[2], "us");
	assert_string_equal(r[3], "lab");
	assert_string_equal(geo_default_region(g), "global");
	expect_lookup(g, "8.8.8.8", "global", GEO_SRC_DEFAULT, "");
	geo_describe(g, desc, sizeof desc);
	assert_non_null(strstr(desc, "cidr 2 networks"));
	assert_non_null(strstr(desc, "default \"global\""));
	geo_free(&g);
	remove_file(&cidr);
}

/* ---------------------------------------------------------------- proxies */

/*
 * 192.0.2.0/24 and 2001:db8::/32 are clients' networks; 198.51.100.0/24,
 * 10.0.0.0/8 and 2001:db8:ffff::/48 are our proxies; 203.0.113.0/24 is
 * somewhere else.
 */
static struct geo *
proxy_geo(enum geo_fwd fwd, char **cidr)
{
	static const char *const trusted[] = { "198.51.100.0/24, 2001:db8:ffff::/48", "10.0.0.0/8" };
	struct geo_opts o = quiet_opts();

	*cidr = write_file(
	    "192.0.2.0/24 client4\n"
	    "2001:db8::/32 client6\n"
	    "198.51.100.0/24 proxies\n"
	    "10.0.0.0/8 inside\n"
	    "203.0.113.0/24 elsewhere\n");
	o.cidr_file = *cidr;
	o.trusted = trusted;
	o.ntrusted = ARRAY_LEN(trusted);
	o.fwd = fwd;
	return must_new(&o);
}

/* Region and looked-up address for a request from `from` with the headers. */
static void
expect_request(const struct geo *g, const char *from, const char *xff, const char *fwd,
    const char *region, const char *addr, bool forwarded)
{
	struct geo_answer why;
	const char *r = geo_region(g, peer(from), xff, fwd, &why);

	if (strcmp(r, region) != 0 || strcmp(why.addr, addr) != 0 || why.forwarded != forwarded)
		fail_msg("peer %s, XFF \"%s\", Forwarded \"%s\": got %s for %s (forwarded %d), "
		    "want %s for %s (forwarded %d)", from, xff ? xff : "(none)",
		    fwd ? fwd : "(none)", r, why.addr, why.forwarded, region, addr, forwarded);
}

static void
untrusted_peer_headers_are_ignored(void **state)
{
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	expect_request(g, "203.0.113.9", "192.0.2.1", NULL, "elsewhere", "203.0.113.9", false);
	expect_request(g, "203.0.113.9", NULL, "for=192.0.2.1", "elsewhere", "203.0.113.9", false);
	expect_request(g, "192.0.2.7", "2001:db8::1", NULL, "client4", "192.0.2.7", false);
	expect_request(g, "2001:db8::9", "10.0.0.1", NULL, "client6", "2001:db8::9", false);
	geo_free(&g);
	remove_file(&cidr);
}

static void
trusted_peer_forwarded_address_picks_the_region(void **state)
{
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	expect_request(g, "198.51.100.7", "192.0.2.1", NULL, "client4", "192.0.2.1", true);
	expect_request(g, "10.9.9.9", "2001:db8::1", NULL, "client6", "2001:db8::1", true);
	expect_request(g, "2001:db8:ffff::1", "192.0.2.1", NULL, "client4", "192.0.2.1", true);
	/* A dual-stack socket shows an IPv4 proxy as ::ffff:a.b.c.d. */
	expect_request(g, "::ffff:198.51.100.7", "192.0.2.1", NULL, "client4", "192.0.2.1", true);
	/* Trusted but no header: the proxy itself. */
	expect_request(g, "198.51.100.7", NULL, NULL, "proxies", "198.51.100.7", false);
	geo_free(&g);
	remove_file(&cidr);
}

static void
rightmost_untrusted_address_wins_over_spoofed_ones(void **state)
{
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	/* The client sent "203.0.113.5"; our proxies appended the rest. */
	expect_request(g, "198.51.100.7", "203.0.113.5, 192.0.2.1, 10.1.1.1", NULL,
	    "client4", "192.0.2.1", true);
	expect_request(g, "198.51.100.7", "203.0.113.5,192.0.2.1,10.1.1.1,198.51.100.2", NULL,
	    "client4", "192.0.2.1", true);
	/* Every hop trusted: the left-most one is the client. */
	expect_request(g, "198.51.100.7", "10.0.0.1, 198.51.100.3", NULL, "inside", "10.0.0.1", true);
	geo_free(&g);
	remove_file(&cidr);
}

static void
xff_takes_ports_and_ipv6_forms(void **state)
{
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	expect_request(g, "10.0.0.1", "192.0.2.1:4711", NULL, "client4", "192.0.2.1", true);
	expect_request(g, "10.0.0.1", "[2001:db8::1]:80", NULL, "client6", "2001:db8::1", true);
	expect_request(g, "10.0.0.1", "[2001:db8::1]", NULL, "client6", "2001:db8::1", true);
	expect_request(g, "10.0.0.1", "2001:db8::1", NULL, "client6", "2001:db8::1", true);
	expect_request(g, "10.0.0.1", "::ffff:192.0.2.1", NULL, "client4", "192.0.2.1", true);
	expect_request(g, "10.0.0.1", "  192.0.2.1  ,\t10.0.0.2 ", NULL, "client4", "192.0.2.1", true);
	geo_free(&g);
	remove_file(&cidr);
}

static void
malformed_xff_entries_end_the_walk_safely(void **state)
{
	static const char *const garbage[] = {
		"garbage", "192.0.2.1, garbage", "999.1.1.1", "192.0.2.1:99999", "192.0.2.1:",
		"[2001:db8::1", "[2001:db8::1]x", "[192.0.2.1]", "192.0.2.1/24", "192.0.2.1 192.0.2.2",
		"unknown", "\"192.0.2.1\"", "192.0.2.1\x01", "0x7f.1", "1.2.3", "2001:db8::1%eth0",
		"192.0.2.1, 203.0.113.1, bad", "::ffff:1.2.3.4:80",
	};
	char *cidr, *huge;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	for (size_t i = 0; i < ARRAY_LEN(garbage); i++)
		expect_request(g, "198.51.100.7", garbage[i], NULL, "proxies", "198.51.100.7", false);
	/* Empty headers and empty elements: the peer. */
	expect_request(g, "198.51.100.7", "", NULL, "proxies", "198.51.100.7", false);
	expect_request(g, "198.51.100.7", " , ,, ", NULL, "proxies", "198.51.100.7", false);
	/* A trusted hop right of the garbage is as far as we can believe. */
	expect_request(g, "198.51.100.7", "192.0.2.1, garbage, 10.0.0.9", NULL,
	    "inside", "10.0.0.9", true);
	/* Garbage left of a good untrusted address does not matter. */
	expect_request(g, "198.51.100.7", "garbage, 192.0.2.1", NULL, "client4", "192.0.2.1", true);
	expect_request(g, "198.51.100.7", "192.0.2.1,, ,10.0.0.2", NULL, "client4", "192.0.2.1", true);
	/* A very long header, of addresses and of junk. */
	huge = malloc(200001);
	assert_non_null(huge);
	memset(huge, 'a', 200000);
	huge[200000] = '\0';
	expect_request(g, "198.51.100.7", huge, NULL, "proxies", "198.51.100.7", false);
	memcpy(huge, "192.0.2.99, ", 12);
	for (size_t i = 12; i + 12 <= 200000; i += 12) {
		memcpy(huge + i, "10.0.0.1,   ", 12);
		huge[i + 12] = '\0';
	}
	expect_request(g, "198.51.100.7", huge, NULL, "client4", "192.0.2.99", true);
	free(huge);
	geo_free(&g);
	remove_file(&cidr);
}

static void
forwarded_header_for_parameter_is_parsed(void **state)
{
	static const struct {
		const char *fwd, *region, *addr;
	} ok[] = {
		{ "for=192.0.2.60;proto=http;by=203.0.113.43", "client4", "192.0.2.60" },
		{ "For=\"[2001:db8:cafe::17]:4711\"", "client6", "2001:db8:cafe::17" },
		{ "for=\"[2001:db8:cafe::17]\"", "client6", "2001:db8:cafe::17" },
		{ "for=192.0.2.43, for=198.51.100.17", "client4", "192.0.2.43" },
		{ "for=\"192.0.2.1:8080\"", "client4", "192.0.2.1" },
		{ "proto=https; for=192.0.2.9 ;host=example.com", "client4", "192.0.2.9" },
		{ "for=\"\\[2001:db8::1\\]\"", "client6", "2001:db8::1" },
		{ "for=\"[2001:db8::1]:_port\"", "client6", "2001:db8::1" },
		{ "for=[2001:db8::2]", "client6", "2001:db8::2" },
		{ "by=\"a,b\";for=192.0.2.5", "client4", "192.0.2.5" },
		{ "for=203.0.113.1, for=192.0.2.8, for=10.1.1.1", "client4", "192.0.2.8" },
		{ "for=unknown, for=10.0.0.5", "inside", "10.0.0.5" },
		{ "FOR=192.0.2.77", "client4", "192.0.2.77" },
		/* RFC 7239 allows empty pairs. */
		{ "for=192.0.2.1;", "client4", "192.0.2.1" },
		{ ";;for=192.0.2.1;;proto=http", "client4", "192.0.2.1" },
	};
	static const char *const bad[] = {
		"for=unknown", "for=_hidden", "for=\"_gazonk\"", "for=192.0.2.1, for=unknown",
		"for=192.0.2.1;for=192.0.2.2", "for=2001:db8::1", "for=\"[2001:db8::1]",
		"by=192.0.2.1", "for=", "=192.0.2.1", "for 192.0.2.1", "for=192.0.2.1 x",
		"for=\"192.0.2.1\"x", "for=192.0.2.1:70000", "for=\"[192.0.2.1]\"", "garbage",
		"for=192.0.2.1\"", "for=\"[2001:db8::1]\":80",
	};
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	for (size_t i = 0; i < ARRAY_LEN(ok); i++)
		expect_request(g, "198.51.100.7", NULL, ok[i].fwd, ok[i].region, ok[i].addr, true);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_request(g, "198.51.100.7", NULL, bad[i], "proxies", "198.51.100.7", false);
	geo_free(&g);
	remove_file(&cidr);
}

static void
header_choice_follows_the_fwd_setting(void **state)
{
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	/* Auto: X-Forwarded-For when there is one, else Forwarded. */
	expect_request(g, "10.0.0.1", "192.0.2.1", "for=\"[2001:db8::5]\"", "client4", "192.0.2.1", true);
	expect_request(g, "10.0.0.1", NULL, "for=\"[2001:db8::5]\"", "client6", "2001:db8::5", true);
	expect_request(g, "10.0.0.1", " ", "for=\"[2001:db8::5]\"", "client6", "2001:db8::5", true);
	geo_free(&g);
	remove_file(&cidr);
	g = proxy_geo(GEO_FWD_FORWARDED, &cidr);
	expect_request(g, "10.0.0.1", "192.0.2.1", "for=\"[2001:db8::5]\"", "client6", "2001:db8::5", true);
	expect_request(g, "10.0.0.1", "192.0.2.1", NULL, "inside", "10.0.0.1", false);
	geo_free(&g);
	remove_file(&cidr);
	g = proxy_geo(GEO_FWD_XFF, &cidr);
	expect_request(g, "10.0.0.1", NULL, "for=\"[2001:db8::5]\"", "inside", "10.0.0.1", false);
	expect_request(g, "10.0.0.1", "192.0.2.1", "for=\"[2001:db8::5]\"", "client4", "192.0.2.1", true);
	geo_free(&g);
	remove_file(&cidr);
}

static void
peer_without_an_address_gets_the_default_region(void **state)
{
	struct sockaddr_un sun;
	struct geo_answer why;
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	assert_string_equal(geo_region(g, NULL, "192.0.2.1", NULL, &why), "default");
	assert_int_equal(why.source, GEO_SRC_DEFAULT);
	assert_string_equal(why.addr, "");
	assert_string_equal(geo_region(g, (struct sockaddr *)&sun, "192.0.2.1", NULL, &why), "default");
	assert_false(why.forwarded);
	assert_string_equal(geo_lookup(g, "not-an-address", &why), "default");
	assert_string_equal(why.addr, "");
	assert_string_equal(geo_lookup(g, "192.0.2.1:80", NULL), "default");
	assert_string_equal(geo_lookup(g, NULL, NULL), "default");
	geo_free(&g);
	remove_file(&cidr);
}

static void
bad_trusted_proxies_are_refused(void **state)
{
	const char *list[1];
	struct geo_opts o = quiet_opts();
	struct geo *g;

	o.trusted = list;
	o.ntrusted = 1;
	list[0] = "10.0.0.0/8, banana";
	must_refuse(&o, "trusted proxy", "\"banana\"");
	list[0] = "10.0.0.0/33";
	must_refuse(&o, "trusted proxy", "prefix length");
	list[0] = "10.0.0.1/8";
	must_refuse(&o, "trusted proxy", "host bits set");
	/* Repeats, spacing and an empty string are fine. */
	list[0] = " 10.0.0.0/8,10.0.0.0/8 ,, ::1 \t127.0.0.1";
	g = must_new(&o);
	geo_free(&g);
	list[0] = "";
	g = must_new(&o);
	geo_free(&g);
	geo_free(&g);   /* NULL: no-op */
	geo_free(NULL);
}

/* ---------------------------------------------------------------- threads */

struct worker {
	const struct geo *g;
	unsigned bad;
};

static void *
lookup_worker(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &s4.sin_addr);
	for (unsigned i = 0; i < 20000; i++) {
		const char *want = i % 2 ? "client4" : "client6";
		const char *xff = i % 2 ? "203.0.113.1, 192.0.2.1" : "for=\"[2001:db8::1]:1\"";

		if (strcmp(geo_region(w->g, (struct sockaddr *)&s4, i % 2 ? xff : NULL,
		    i % 2 ? NULL : xff, NULL), want) != 0)
			w->bad++;
	}
	return NULL;
}

static void
lookups_from_many_threads_need_no_lock(void **state)
{
	struct worker w[4];
	pthread_t t[4];
	char *cidr;
	struct geo *g = proxy_geo(GEO_FWD_AUTO, &cidr);

	for (int i = 0; i < 4; i++) {
		w[i].g = g;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, lookup_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
	geo_free(&g);
	remove_file(&cidr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mmdb_country_is_mapped_to_its_region),
		cmocka_unit_test(addresses_outside_mmdb_networks_get_the_default_region),
		cmocka_unit_test(continent_mapping_applies_when_country_is_unmapped),
		cmocka_unit_test(mmdb_record_without_country_is_not_a_location),
		cmocka_unit_test(ipv4_mapped_peer_is_looked_up_as_ipv4),
		cmocka_unit_test(geolite_test_database_also_loads),
		cmocka_unit_test(unreadable_mmdb_is_refused_with_its_path),
		cmocka_unit_test(cidr_file_longest_prefix_wins),
		cmocka_unit_test(cidr_file_holds_ipv6_networks),
		cmocka_unit_test(cidr_file_beats_mmdb),
		cmocka_unit_test(cidr_file_takes_comments_blank_lines_and_crlf),
		cmocka_unit_test(bad_cidr_lines_are_refused_with_file_and_line),
		cmocka_unit_test(cidr_table_agrees_with_brute_force_longest_prefix),
		cmocka_unit_test(tor_range_files_give_countries_and_continents),
		cmocka_unit_test(bad_tor_range_lines_are_refused_with_file_and_line),
		cmocka_unit_test(mmdb_answers_before_tor_and_tor_fills_its_gaps),
		cmocka_unit_test(installed_tor_files_agree_with_their_lines),
		cmocka_unit_test(empty_tor_path_turns_the_default_files_off),
		cmocka_unit_test(bad_mappings_and_region_names_are_refused),
		cmocka_unit_test(regions_lists_each_region_once_default_first),
		cmocka_unit_test(untrusted_peer_headers_are_ignored),
		cmocka_unit_test(trusted_peer_forwarded_address_picks_the_region),
		cmocka_unit_test(rightmost_untrusted_address_wins_over_spoofed_ones),
		cmocka_unit_test(xff_takes_ports_and_ipv6_forms),
		cmocka_unit_test(malformed_xff_entries_end_the_walk_safely),
		cmocka_unit_test(forwarded_header_for_parameter_is_parsed),
		cmocka_unit_test(header_choice_follows_the_fwd_setting),
		cmocka_unit_test(peer_without_an_address_gets_the_default_region),
		cmocka_unit_test(bad_trusted_proxies_are_refused),
		cmocka_unit_test(lookups_from_many_threads_need_no_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
