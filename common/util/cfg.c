/*
 * cfg.c: one table of settings, read from an INI file (inih) and from
 * flags (getopt_long), with the same parsers and the same error messages.
 *
 * The table is the single description of every setting: adding one means
 * adding a field to struct cfg and a row here; --help, the INI reader and
 * the flag reader all follow.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

enum opt_type { T_STR, T_STRLIST, T_SIZE, T_UINT, T_MS, T_SECS, T_DOUBLE, T_LEVEL, T_HOSTPORT, T_URLLIST };

struct opt {
	const char *section;
	const char *key;
	const char *flag;     /* long flag name */
	int shortopt;         /* 0 for none */
	enum opt_type type;
	size_t off;
	const char *arg;      /* metavar for --help */
	const char *help;
};

#define F(field) offsetof(struct cfg, field)

static const struct opt opts[] = {
	{ "node", "listen", "listen", 'l', T_HOSTPORT, F(listen), "HOST:PORT",
	  "data listener (clients), default 127.0.0.1:8080 (edge) / :8081 (shield)" },
	{ "node", "admin", "admin", 'a', T_HOSTPORT, F(admin), "HOST:PORT",
	  "admin listener (API, metrics), or \"off\"; default 127.0.0.1:9080 / :9081" },
	{ "node", "upstream", "upstream", 'u', T_URLLIST, F(upstream), "URL",
	  "upstream: the shields of the next tier, or the origin (repeatable)" },
	{ "node", "peer", "peer", 0, T_URLLIST, F(peer), "URL",
	  "another shield of this tier, by its data URL (repeatable)" },
	{ "node", "name", "name", 0, T_STR, F(name), "NAME",
	  "this node's name in Via and Cache-Status (default: cdn-edge / cdn-shield)" },
	{ "node", "token_file", "token-file", 0, T_STR, F(token_file), "FILE",
	  "admin tokens, one per line: TOKEN SCOPE... (scopes: read push purge warm)" },
	{ "node", "threads", "threads", 0, T_UINT, F(threads), "N",
	  "server threads (0 = one per core)" },
	{ "node", "health_path", "health-path", 0, T_STR, F(health_path), "PATH",
	  "health path on the data listener (default /.well-known/cdn/health)" },
	{ "cache", "dir", "cache-dir", 'd', T_STR, F(cache_dir), "DIR",
	  "cache directory (disk tier, pushed objects)" },
	{ "cache", "mem_size", "mem-size", 0, T_SIZE, F(mem_size), "SIZE",
	  "memory tier size, e.g. 256M (default 256M)" },
	{ "cache", "disk_size", "disk-size", 0, T_SIZE, F(disk_size), "SIZE",
	  "disk tier size, e.g. 10G (default 1G)" },
	{ "cache", "mem_policy", "mem-policy", 0, T_STR, F(mem_policy), "POLICY",
	  "memory tier eviction: lru or lfu (LFU with dynamic aging; default lru)" },
	{ "cache", "disk_policy", "disk-policy", 0, T_STR, F(disk_policy), "POLICY",
	  "disk tier eviction: lru or lfu (LFU with dynamic aging; default lfu)" },
	{ "cache", "max_object_size", "max-object-size", 0, T_SIZE, F(max_object_size), "SIZE",
	  "largest object kept in memory (default: mem-size/8, at most 64M)" },
	{ "cache", "targeted_cache_control", "targeted-cache-control", 0, T_STR, F(targeted_cc), "FIELD",
	  "targeted Cache-Control field (RFC 9213) that wins over Cache-Control; \"\" for none" },
	{ "cache", "heuristic_fraction", "heuristic-fraction", 0, T_DOUBLE, F(heuristic_fraction), "F",
	  "heuristic freshness as a fraction of the Last-Modified age (default 0.1)" },
	{ "cache", "heuristic_max", "heuristic-max", 0, T_SECS, F(heuristic_max), "DURATION",
	  "cap on heuristic freshness (default 1d)" },
	{ "cache", "hit_for_miss", "hit-for-miss", 0, T_SECS, F(hit_for_miss), "DURATION",
	  "how long an uncacheable answer keeps later requests from queueing (default 60s)" },
	{ "cache", "coalesce_timeout", "coalesce-timeout", 0, T_MS, F(coalesce_timeout_ms), "DURATION",
	  "requests waiting on another's fetch with no answer by then go upstream alone (default 10s)" },
	{ "cache", "stale_if_error", "stale-if-error", 0, T_SECS, F(stale_if_error), "DURATION",
	  "serve stale up to this long when upstream fails, beyond stale-if-error (default 0: off)" },
	{ "cache", "max_variants", "max-variants", 0, T_UINT, F(max_variants), "N",
	  "Vary variants stored per URL; more are not stored (default 16)" },
	{ "limits", "max_header_size", "max-header-size", 0, T_SIZE, F(max_header_size), "SIZE",
	  "largest request head; bigger gets 431 (default 32K)" },
	{ "limits", "max_url_length", "max-url-length", 0, T_SIZE, F(max_url_length), "N",
	  "longest request target; longer gets 414 (default 8192)" },
	{ "limits", "max_body_size", "max-body-size", 0, T_SIZE, F(max_body_size), "SIZE",
	  "largest request body passed upstream; bigger gets 413 (default 64M)" },
	{ "limits", "max_connections", "max-connections", 0, T_UINT, F(max_connections), "N",
	  "most client connections at once (default 10000)" },
	{ "limits", "client_timeout", "client-timeout", 0, T_SECS, F(client_timeout), "DURATION",
	  "idle client connections are closed after this (default 60s)" },
	{ "upstream", "timeout", "upstream-timeout", 0, T_MS, F(upstream_timeout_ms), "DURATION",
	  "time for upstream to start answering; then 504 (default 30s)" },
	{ "upstream", "connect_timeout", "connect-timeout", 0, T_MS, F(connect_timeout_ms), "DURATION",
	  "time to connect to upstream; then 502 (default 3s)" },
	{ "upstream", "idle_timeout", "upstream-idle-timeout", 0, T_MS, F(upstream_idle_ms), "DURATION",
	  "a body stalled this long is aborted (default 30s)" },
	{ "upstream", "connections", "upstream-connections", 0, T_UINT, F(upstream_conns), "N",
	  "upstream connection pool size (default 256)" },
	{ "upstream", "health_interval", "health-interval", 0, T_MS, F(health_interval_ms), "DURATION",
	  "heartbeat to each upstream of a tier of two or more (default 1s; 0 = off)" },
	{ "upstream", "health_timeout", "health-timeout", 0, T_MS, F(health_timeout_ms), "DURATION",
	  "a heartbeat not answered by then failed (default 500ms)" },
	{ "upstream", "fall", "health-fall", 0, T_UINT, F(health_fall), "N",
	  "failed heartbeats (or requests) in a row that mark an upstream down (default 2)" },
	{ "upstream", "rise", "health-rise", 0, T_UINT, F(health_rise), "N",
	  "good heartbeats in a row that mark it up again (default 2)" },
	{ "upstream", "attempts", "upstream-attempts", 0, T_UINT, F(upstream_attempts), "N",
	  "nodes of the ring tried when connecting fails (default 3, at most 4)" },
	{ "admin", "rate_limit", "admin-rate-limit", 0, T_UINT, F(admin_rate_limit), "N",
	  "admin API requests per second per token and per address; 0 = no limit (default 50)" },
	{ "admin", "rate_burst", "admin-rate-burst", 0, T_UINT, F(admin_rate_burst), "N",
	  "admin API requests allowed in a burst above the rate (default 100)" },
	{ "admin", "max_body", "admin-max-body", 0, T_SIZE, F(admin_max_body), "SIZE",
	  "largest admin API request body; bigger gets 413 (default 1M)" },
	{ "admin", "purge_wait_timeout", "purge-wait-timeout", 0, T_MS, F(purge_wait_ms), "DURATION",
	  "longest a purge with \"wait\": true waits for the children's receipts (default 5s)" },
	{ "events", "retain", "events-retain", 0, T_UINT, F(events_retain), "N",
	  "invalidation events kept for children to catch up; older ones mean a reset (default 100000)" },
	{ "events", "catchup_timeout", "catchup-timeout", 0, T_MS, F(catchup_timeout_ms), "DURATION",
	  "at start, wait this long at most for the upstreams' missed events (default 2s)" },
	{ "events", "keepalive", "events-keepalive", 0, T_MS, F(events_keepalive_ms), "DURATION",
	  "keep-alive comment period on idle event streams (default 5s)" },
	{ "events", "token", "events-token", 0, T_STR, F(events_token), "TOKEN",
	  "token for the upstreams' event streams (default: the first read token of token_file)" },
	{ "push", "replicas", "push-replicas", 0, T_UINT, F(push_replicas), "N",
	  "shields that keep each pushed object (N, default 3, at most the tier's size)" },
	{ "push", "write_quorum", "push-write-quorum", 0, T_UINT, F(push_write_quorum), "W",
	  "replicas that must have a push on disk before it is acknowledged (default 2)" },
	{ "push", "max_size", "push-max-size", 0, T_SIZE, F(push_max_size), "SIZE",
	  "largest pushed object; bigger gets 413 (default 4G)" },
	{ "push", "sync_interval", "push-sync-interval", 0, T_MS, F(push_sync_interval_ms), "DURATION",
	  "anti-entropy period between the shields of a tier (default 10s)" },
	{ "push", "retry_max", "push-retry-max", 0, T_UINT, F(push_retry_max), "N",
	  "attempts of a failed replication before it is parked (default 8)" },
	{ "push", "cache_control", "push-cache-control", 0, T_STR, F(push_cache_control), "VALUE",
	  "Cache-Control of pushed objects sent without one (default max-age=3600; edges also get an "
	  "invalidation on every push)" },
	{ "push", "token", "push-token", 0, T_STR, F(push_token), "TOKEN",
	  "token for the peers' push API (default: the first push token of token_file)" },
	{ "warm", "concurrency", "warm-concurrency", 0, T_UINT, F(warm_concurrency), "N",
	  "requests a warm job has in flight at once (default 8)" },
	{ "log", "access_log", "access-log", 0, T_STR, F(access_log), "FILE",
	  "access log file, - for stderr, off (default -)" },
	{ "log", "error_log", "error-log", 0, T_STR, F(error_log), "FILE",
	  "error log file, - for stderr (default -)" },
	{ "log", "level", "log-level", 0, T_LEVEL, F(log_level), "LEVEL",
	  "error, warn, info or debug (default info)" },
};

static const struct opt *find_opt(const char *section, const char *key, const char *flag);
static int set_opt(struct cfg *cfg, const struct opt *o, const char *value, bool append,
    char *why, size_t whylen);
static int check_cfg(struct cfg *cfg, FILE *err);

/* ---------------------------------------------------------------- parsers */

int
cfg_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return CDN_INVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return CDN_INVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1ULL << 10; end++; break;
	case 'M': mul = 1ULL << 20; end++; break;
	case 'G': mul = 1ULL << 30; end++; break;
	case 'T': mul = 1ULL << 40; end++; break;
	default: break;
	}
	if (mul > 1 && toupper((unsigned char)*end) == 'B')
		end++;
	if (mul == 1 && toupper((unsigned char)*end) == 'B')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v > UINT64_MAX / mul)
		return CDN_INVAL;
	*out = v * mul;
	return CDN_OK;
}

int
cfg_parse_duration_ms(const char *s, uint64_t *out)
{
	char *end;
	double v;
	double mul = 1000.0;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return CDN_INVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || v < 0)
		return CDN_INVAL;
	if (strncmp(end, "ms", 2) == 0) {
		mul = 1.0;
		end += 2;
	} else if (*end == 's') {
		end++;
	} else if (*end == 'm') {
		mul = 60e3;
		end++;
	} else if (*end == 'h') {
		mul = 3600e3;
		end++;
	} else if (*end == 'd') {
		mul = 86400e3;
		end++;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v * mul > 1e15)
		return CDN_INVAL;
	*out = (uint64_t)(v * mul + 0.5);
	return CDN_OK;
}

int
cfg_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *colon, *h = s, *hend;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':')
			return CDN_INVAL;
		h = s + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return CDN_INVAL;
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return CDN_INVAL; /* bare IPv6 must be bracketed */
	}
	if ((size_t)(hend - h) >= hostlen)
		return CDN_INVAL;
	errno = 0;
	if (!isdigit((unsigned char)colon[1]))
		return CDN_INVAL;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p > 65535)
		return CDN_INVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		snprintf(host, hostlen, "0.0.0.0");
	*port = (unsigned)p;
	return CDN_OK;
}

int
cfg_check_url(const char *s, char *why, size_t whylen)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int rc = CDN_OK;

	AN(u);
	if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK) {
		snprintf(why, whylen, "not a valid URL: %s", s);
		rc = CDN_INVAL;
	} else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(why, whylen, "upstream must be an http:// or https:// URL: %s", s);
		rc = CDN_INVAL;
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* ---------------------------------------------------------------- table */

static const struct opt *
find_opt(const char *section, const char *key, const char *flag)
{
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		if (flag != NULL && strcmp(opts[i].flag, flag) == 0)
			return &opts[i];
		if (section != NULL && strcasecmp(opts[i].section, section) == 0 &&
		    strcasecmp(opts[i].key, key) == 0)
			return &opts[i];
	}
	return NULL;
}

static void
strlist_clear(struct cfg_strlist *l)
{
	for (unsigned i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
set_opt(struct cfg *cfg, const struct opt *o, const char *value, bool append,
    char *why, size_t whylen)
{
	char *base = (char *)cfg + o->off;
	char host[256];
	unsigned port;
	uint64_t u;
	int lvl;

	switch (o->type) {
	case T_STR:
		free(*(char **)base);
		*(char **)base = xstrdup(value);
		return CDN_OK;
	case T_HOSTPORT:
		if (strcmp(value, "off") != 0 &&
		    cfg_parse_hostport(value, host, sizeof host, &port) != CDN_OK) {
			snprintf(why, whylen, "expected HOST:PORT (port 0-65535), got \"%s\"", value);
			return CDN_INVAL;
		}
		if (o->off == F(admin))
			cfg->admin_explicit = true;
		free(*(char **)base);
		*(char **)base = xstrdup(value);
		return CDN_OK;
	case T_URLLIST:
	case T_STRLIST: {
		struct cfg_strlist *l = (struct cfg_strlist *)(void *)base;

		if (o->type == T_URLLIST && cfg_check_url(value, why, whylen) != CDN_OK)
			return CDN_INVAL;
		if (!append)
			strlist_clear(l);
		l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
		l->v[l->n++] = xstrdup(value);
		return CDN_OK;
	}
	case T_SIZE:
		if (cfg_parse_size(value, &u) != CDN_OK) {
			snprintf(why, whylen, "expected a size like 512K, 64M or 2G, got \"%s\"", value);
			return CDN_INVAL;
		}
		*(uint64_t *)(void *)base = u;
		return CDN_OK;
	case T_UINT:
		if (cfg_parse_size(value, &u) != CDN_OK || u > 1000000000ULL) {
			snprintf(why, whylen, "expected a whole number, got \"%s\"", value);
			return CDN_INVAL;
		}
		if (o->off == F(threads))
			*(unsigned *)(void *)base = (unsigned)u;
		else
			*(uint64_t *)(void *)base = u;
		return CDN_OK;
	case T_MS:
	case T_SECS:
		if (cfg_parse_duration_ms(value, &u) != CDN_OK) {
			snprintf(why, whylen, "expected a duration like 500ms, 2s or 1m, got \"%s\"", value);
			return CDN_INVAL;
		}
		*(uint64_t *)(void *)base = o->type == T_MS ? u : u / 1000;
		return CDN_OK;
	case T_DOUBLE: {
		char *end;
		double d = strtod(value, &end);

		if (end == value || *end != '\0' || d < 0 || d > 1) {
			snprintf(why, whylen, "expected a number between 0 and 1, got \"%s\"", value);
			return CDN_INVAL;
		}
		*(double *)(void *)base = d;
		return CDN_OK;
	}
	case T_LEVEL:
		lvl = log_level_parse(value);
		if (lvl < 0) {
			snprintf(why, whylen, "expected error, warn, info or debug, got \"%s\"", value);
			return CDN_INVAL;
		}
		*(int *)(void *)base = lvl;
		return CDN_OK;
	}
	WRONG("option type");
}

int
cfg_set(struct cfg *cfg, const char *name, const char *value, char *why, size_t whylen)
{
	const struct opt *o;
	char sect[64];
	const char *dot = strchr(name, '.');

	if (dot != NULL && (size_t)(dot - name) < sizeof sect) {
		memcpy(sect, name, (size_t)(dot - name));
		sect[dot - name] = '\0';
		o = find_opt(sect, dot + 1, NULL);
	} else {
		o = find_opt(NULL, NULL, name);
	}
	if (o == NULL) {
		snprintf(why, whylen, "unknown setting \"%s\"", name);
		return CDN_INVAL;
	}
	return set_opt(cfg, o, value, true, why, whylen);
}

/* ---------------------------------------------------------------- INI */

/* Debian's inih passes no line number to the handler, so the reader counts
 * lines itself: inih hands each line to the handler right after reading it. */
struct ini_ctx {
	struct cfg *cfg;
	const char *path;
	FILE *err;
	FILE *f;
	int lineno;
	int failed;
};

static char *
cfg_ini_read(char *str, int num, void *stream)
{
	struct ini_ctx *c = stream;
	char *r = fgets(str, num, c->f);

	if (r != NULL)
		c->lineno++;
	return r;
}

static bool
is_extra_section(const char *section)
{
	return strncasecmp(section, "tier.", 5) == 0 || strncasecmp(section, "pop.", 4) == 0 ||
	    strcasecmp(section, "regions") == 0 || strcasecmp(section, "geo") == 0;
}

static void
extra_add(struct cfg *cfg, const char *section, const char *key, const char *value,
    const char *file, int line)
{
	struct cfg_entry *e;

	cfg->extra.v = xrealloc(cfg->extra.v, (cfg->extra.n + 1) * sizeof *cfg->extra.v);
	e = &cfg->extra.v[cfg->extra.n++];
	e->section = xstrdup(section);
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->file = xstrdup(file);
	e->line = line;
}

void
cfg_entry_where(const struct cfg_entry *e, FILE *err)
{
	if (e->line > 0)
		fprintf(err, "%s:%d: ", e->file, e->line);
	else
		fprintf(err, "%s: ", e->file);
}

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	int lineno = c->lineno;
	const struct opt *o;
	char why[512];

	if (name == NULL)
		return 1; /* a section header alone */
	if (is_extra_section(section)) {
		extra_add(c->cfg, section, name, value, c->path, lineno);
		return 1;
	}
	o = find_opt(section, name, NULL);
	if (o == NULL) {
		fprintf(c->err, "%s:%d: unknown setting \"%s\" in section [%s]\n",
		    c->path, lineno, name, section);
		c->failed = 1;
		return 0;
	}
	if (set_opt(c->cfg, o, value, true, why, sizeof why) != CDN_OK) {
		fprintf(c->err, "%s:%d: %s.%s: %s\n", c->path, lineno, section, name, why);
		c->failed = 1;
		return 0;
	}
	return 1;
}

int
cfg_load_file(struct cfg *cfg, const char *path, FILE *err)
{
	struct ini_ctx c = { cfg, path, err, NULL, 0, 0 };
	int r, e;

	c.f = fopen(path, "r");
	if (c.f == NULL) {
		e = errno;
		fprintf(err, "%s: cannot read config file: %s\n", path, strerror(e));
		return CDN_INVAL;
	}
	r = ini_parse_stream(cfg_ini_read, &c, ini_cb, &c);
	fclose(c.f);
	if (c.failed)
		return CDN_INVAL;
	if (r > 0) {
		fprintf(err, "%s:%d: malformed line (expected [section] or key = value)\n", path, r);
		return CDN_INVAL;
	}
	if (r < 0) {
		fprintf(err, "%s: cannot parse config file\n", path);
		return CDN_INVAL;
	}
	return CDN_OK;
}

/* ---------------------------------------------------------------- flags */

void
cfg_init(struct cfg *cfg, const char *role, const char *progname)
{
	bool edge = strcmp(role, "edge") == 0;

	memset(cfg, 0, sizeof *cfg);
	cfg->role = role;
	cfg->progname = progname;
	cfg->name = xstrdup(progname);
	cfg->listen = xstrdup(edge ? "127.0.0.1:8080" : "127.0.0.1:8081");
	cfg->admin = xstrdup(edge ? "127.0.0.1:9080" : "127.0.0.1:9081");
	cfg->health_path = xstrdup("/.well-known/cdn/health");
	cfg->mem_size = 256ULL << 20;
	cfg->disk_size = 1ULL << 30;
	cfg->disk_policy = xstrdup("lfu");
	cfg->mem_policy = xstrdup("lru");
	cfg->targeted_cc = xstrdup("CDN-Cache-Control");
	cfg->heuristic_fraction = 0.1;
	cfg->heuristic_max = 86400;
	cfg->hit_for_miss = 60;
	cfg->coalesce_timeout_ms = 10000;
	cfg->max_variants = 16;
	cfg->max_header_size = 32 << 10;
	cfg->max_url_length = 8192;
	cfg->max_body_size = 64ULL << 20;
	cfg->max_connections = 10000;
	cfg->client_timeout = 60;
	cfg->upstream_timeout_ms = 30000;
	cfg->connect_timeout_ms = 3000;
	cfg->upstream_idle_ms = 30000;
	cfg->upstream_conns = 256;
	cfg->health_interval_ms = 1000;
	cfg->health_timeout_ms = 500;
	cfg->health_fall = 2;
	cfg->health_rise = 2;
	cfg->upstream_attempts = 3;
	cfg->admin_rate_limit = 50;
	cfg->admin_rate_burst = 100;
	cfg->admin_max_body = 1 << 20;
	cfg->purge_wait_ms = 5000;
	cfg->events_retain = 100000;
	cfg->catchup_timeout_ms = 2000;
	cfg->events_keepalive_ms = 5000;
	cfg->warm_concurrency = 8;
	cfg->push_replicas = 3;
	cfg->push_write_quorum = 2;
	cfg->push_max_size = 4ULL << 30;
	cfg->push_sync_interval_ms = 10000;
	cfg->push_retry_max = 8;
	cfg->push_cache_control = xstrdup("max-age=3600");
	cfg->access_log = xstrdup("-");
	cfg->error_log = xstrdup("-");
	cfg->log_level = LVL_INFO;
}

void
cfg_fini(struct cfg *cfg)
{
	char **strs[] = { &cfg->config_file, &cfg->name, &cfg->listen, &cfg->admin,
		&cfg->token_file, &cfg->health_path, &cfg->cache_dir, &cfg->disk_policy, &cfg->mem_policy, &cfg->targeted_cc,
		&cfg->access_log, &cfg->error_log,
		&cfg->events_token, &cfg->push_token, &cfg->push_cache_control };

	for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	strlist_clear(&cfg->upstream);
	strlist_clear(&cfg->peer);
	for (unsigned i = 0; i < cfg->extra.n; i++) {
		free(cfg->extra.v[i].section);
		free(cfg->extra.v[i].key);
		free(cfg->extra.v[i].value);
		free(cfg->extra.v[i].file);
	}
	free(cfg->extra.v);
	cfg->extra.v = NULL;
	cfg->extra.n = 0;
}

void
cfg_usage(const struct cfg *cfg, FILE *out)
{
	fprintf(out,
	    "Usage: %s [OPTIONS]\n"
	    "\n"
	    "The %s of the CDN: a caching HTTP reverse proxy with a memory tier,\n"
	    "that answers from cache or fetches from its upstream (the next tier of\n"
	    "shields, or the origin).\n"
	    "\n"
	    "Options (each can also be set in the INI file given with -c; flags win):\n"
	    "  -h, --help                  show this help and exit\n"
	    "  -V, --version               show the version and exit\n"
	    "  -c, --config FILE           read settings from an INI file (see etc/)\n"
	    "      --set SECTION.KEY=VALUE set any setting of the INI file\n"
	    "      --geoip-db FILE         MaxMind .mmdb for client regions  [geo] mmdb\n"
	    "      --trusted-proxy CIDR    peers whose X-Forwarded-For is believed (repeatable)\n"
	    "                              [geo] trusted_proxies\n"
	    "      --router                (cdn-edge) answer every request with a 302 to the\n"
	    "                              PoP of the client's region ([pop.NAME] sections)\n",
	    cfg->progname, strcmp(cfg->role, "edge") == 0 ? "edge node" : "origin shield");
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		char left[64];

		if (opts[i].shortopt)
			snprintf(left, sizeof left, "-%c, --%s %s", opts[i].shortopt, opts[i].flag, opts[i].arg);
		else
			snprintf(left, sizeof left, "    --%s %s", opts[i].flag, opts[i].arg);
		fprintf(out, "  %-26s  %s\n", left, opts[i].help);
		fprintf(out, "  %-26s  [%s] %s\n", "", opts[i].section, opts[i].key);
	}
	fprintf(out,
	    "\n"
	    "Sizes take K, M, G suffixes (powers of 1024); durations take ms, s, m, h, d.\n"
	    "\n"
	    "Examples:\n"
	    "  %s -l 127.0.0.1:8080 -u http://127.0.0.1:8000\n"
	    "  %s -c /etc/cdn/%s.ini --mem-size 1G\n"
	    "\n"
	    "Every answer carries X-Cache (HIT, MISS, STALE, REVALIDATED, PASS), Age, Via\n"
	    "and Cache-Status. Bad flags or config lines exit with status 2.\n",
	    cfg->progname, cfg->progname, cfg->progname);
}

static int
check_cfg(struct cfg *cfg, FILE *err)
{
	bool tiers = false;

	for (unsigned i = 0; i < cfg->extra.n; i++)
		if (strncasecmp(cfg->extra.v[i].section, "tier.", 5) == 0 ||
		    strncasecmp(cfg->extra.v[i].section, "pop.", 4) == 0)
			tiers = true;
	if (cfg->router && strcmp(cfg->role, "edge") != 0) {
		fprintf(err, "%s: --router is a role of cdn-edge\n", cfg->progname);
		return CDN_INVAL;
	}
	if (cfg->upstream.n == 0 && !tiers) {
		fprintf(err, "%s: no upstream: give -u URL (the origin or the shields)\n", cfg->progname);
		return CDN_INVAL;
	}
	if (cfg->mem_size < (1 << 20)) {
		fprintf(err, "%s: --mem-size must be at least 1M\n", cfg->progname);
		return CDN_INVAL;
	}
	if (cfg->max_object_size == 0) {
		cfg->max_object_size = cfg->mem_size / 8;
		if (cfg->max_object_size > (64ULL << 20))
			cfg->max_object_size = 64ULL << 20;
	}
	if (cfg->max_header_size < 1024) {
		fprintf(err, "%s: --max-header-size must be at least 1K\n", cfg->progname);
		return CDN_INVAL;
	}
	if (cfg->upstream_timeout_ms == 0 || cfg->connect_timeout_ms == 0) {
		fprintf(err, "%s: upstream timeouts must be above zero\n", cfg->progname);
		return CDN_INVAL;
	}
	return CDN_OK;
}

enum cfg_result
cfg_parse_args(struct cfg *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	struct option longopts[ARRAY_LEN(opts) + 8];
	char shortopts[64] = "+hVc:";
	bool seen_list[ARRAY_LEN(opts)] = { false };
	char why[512];
	size_t n = 0;
	int c, idx;

	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		longopts[n].name = opts[i].flag;
		longopts[n].has_arg = required_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 1000 + (int)i;
		n++;
		if (opts[i].shortopt) {
			size_t l = strlen(shortopts);

			shortopts[l] = (char)opts[i].shortopt;
			shortopts[l + 1] = ':';
			shortopts[l + 2] = '\0';
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[n++] = (struct option){ "set", required_argument, NULL, 'S' };
	longopts[n++] = (struct option){ "geoip-db", required_argument, NULL, 'G' };
	longopts[n++] = (struct option){ "trusted-proxy", required_argument, NULL, 'T' };
	longopts[n++] = (struct option){ "router", no_argument, NULL, 'R' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	/* Pass 1: help, version, and the config file, which flags then override. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		if (c == 'h') {
			cfg_usage(cfg, out);
			return CFG_EXIT_OK;
		}
		if (c == 'V') {
			fprintf(out, "%s %s\n", cfg->progname, PACKAGE_VERSION);
			return CFG_EXIT_OK;
		}
		if (c == 'c') {
			free(cfg->config_file);
			cfg->config_file = xstrdup(optarg);
		}
		if (c == '?') {
			if (optopt != 0 && optopt < 256)
				fprintf(err, "%s: unknown or incomplete option -%c (see --help)\n",
				    cfg->progname, optopt);
			else
				fprintf(err, "%s: unknown or incomplete option %s (see --help)\n",
				    cfg->progname, argv[optind - 1]);
			return CFG_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(err, "%s: unexpected argument \"%s\" (see --help)\n", cfg->progname, argv[optind]);
		return CFG_EXIT_USAGE;
	}
	if (cfg->config_file != NULL && cfg_load_file(cfg, cfg->config_file, err) != CDN_OK)
		return CFG_EXIT_USAGE;

	/* Pass 2: flags over the file. */
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const struct opt *o = NULL;
		size_t oi;

		if (c == 'c' || c == 'h' || c == 'V')
			continue;
		if (c == 'G' || c == 'T') {
			extra_add(cfg, "geo", c == 'G' ? "mmdb" : "trusted_proxies", optarg,
			    c == 'G' ? "--geoip-db" : "--trusted-proxy", 0);
			continue;
		}
		if (c == 'R') {
			cfg->router = true;
			continue;
		}
		if (c == 'S') {
			char *eq = strchr(optarg, '='), *key;
			int rc;

			if (eq == NULL) {
				fprintf(err, "%s: --set expects SECTION.KEY=VALUE, got \"%s\"\n",
				    cfg->progname, optarg);
				return CFG_EXIT_USAGE;
			}
			key = xstrndup(optarg, (size_t)(eq - optarg));
			rc = cfg_set(cfg, key, eq + 1, why, sizeof why);
			if (rc != CDN_OK)
				fprintf(err, "%s: --set %s: %s\n", cfg->progname, key, why);
			free(key);
			if (rc != CDN_OK)
				return CFG_EXIT_USAGE;
			continue;
		}
		if (c >= 1000) {
			oi = (size_t)(c - 1000);
		} else {
			for (oi = 0; oi < ARRAY_LEN(opts); oi++)
				if (opts[oi].shortopt == c)
					break;
			if (oi == ARRAY_LEN(opts))
				continue;
		}
		o = &opts[oi];
		/* A list given on the command line replaces the file's list. */
		if (set_opt(cfg, o, optarg, seen_list[oi], why, sizeof why) != CDN_OK) {
			fprintf(err, "%s: --%s: %s\n", cfg->progname, o->flag, why);
			return CFG_EXIT_USAGE;
		}
		seen_list[oi] = true;
	}
	if (check_cfg(cfg, err) != CDN_OK)
		return CFG_EXIT_USAGE;
	return CFG_RUN;
}
