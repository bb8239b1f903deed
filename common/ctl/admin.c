/*
 * admin.c: the admin listener on libmicrohttpd, with bearer tokens, scopes,
 * rate limits and JSON answers; the HTTP face of the control plane
 * (ctl/ctl.h).
 *
 * Design: one thread per connection (MHD_USE_THREAD_PER_CONNECTION). Admin
 * traffic is light, and it lets two handlers block on purpose: an event
 * stream (GET /events) whose content reader sleeps on the log's condition
 * variable until there is news or a keep-alive is due, and a purge with
 * "wait": true that sleeps until the children's receipts arrive. Both wake
 * at once at shutdown (ctl_stop) and are bounded in time otherwise.
 *
 * A request is checked on MHD's first call, before any body is read:
 * endpoint and method, token and scope, rate limits, declared body size.
 * Refusals are answered right there (MHD then drops the body and the
 * connection). The body, bounded by admin.max_body, is collected into the
 * per-request struct areq and handled on the last call.
 *
 * Rate limits: token buckets (ctl/ratelimit) per token and per client
 * address, admin.rate_limit per second with bursts of admin.rate_burst; a
 * request without a valid token is charged to its address only. Event
 * streams and receipts (node-to-node traffic) are not limited, health
 * checks neither.
 *
 * Ownership: struct areq belongs to its connection's thread and is freed
 * in the completion callback; an event stream's state (struct sse) belongs
 * to its response and is freed in the response's free callback; neither
 * keeps the control plane borrowed between calls.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl/admin.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "ctl/purge.h"
#include "ctl/ratelimit.h"
#include "ctl/stats.h"
#include "ctl/warm.h"
#include "net/fetch.h"
#include "net/route.h"
#include "store/cache.h"
#include "store/disk.h"
#include "store/evict.h"
#include "util/cfg.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define AREQ_MAGIC 0xad317e9au
#define RL_SLOTS 4096

struct token {
	uint8_t sha[DIGEST_LEN];
	unsigned scopes;
};

struct admin_tokens {
	struct token *v;
	unsigned n;
};

struct admin {
	struct admin_deps d;
	struct admin_tokens *tokens;
	struct MHD_Daemon *mhd;
	unsigned port;
	time_t started;
	struct rl *rl;                /* per token ("t:") and per address ("a:") */
	char loopback[320];           /* http://127.0.0.1:PORT of the data listener */
	atomic_uint_fast64_t limited; /* answers 429 */
};

enum ep { EP_NONE, EP_HEALTHZ, EP_STATS, EP_METRICS, EP_PURGE, EP_WARM, EP_JOBS, EP_EVENTS,
	EP_RECEIPTS };

struct endpoint {
	enum ep ep;
	const char *path;       /* exact, or a prefix when it ends with '/' */
	const char *method;     /* "GET" (HEAD too) or "POST" */
	unsigned scopes;        /* any of these */
	bool limited;           /* counts against the rate limits */
	bool body;              /* takes a JSON body */
};

static const struct endpoint endpoints[] = {
	{ EP_HEALTHZ, "/healthz", "GET", 0, false, false },
	{ EP_STATS, "/stats", "GET", ADMIN_SCOPE_READ, true, false },
	{ EP_METRICS, "/metrics", "GET", ADMIN_SCOPE_READ, true, false },
	{ EP_PURGE, "/purge", "POST", ADMIN_SCOPE_PURGE, true, true },
	{ EP_WARM, "/warm", "POST", ADMIN_SCOPE_WARM, true, true },
	{ EP_JOBS, "/jobs/", "GET", ADMIN_SCOPE_READ | ADMIN_SCOPE_WARM, true, false },
	{ EP_EVENTS, "/events", "GET", ADMIN_SCOPE_READ, false, false },
	{ EP_RECEIPTS, "/receipts", "POST", ADMIN_SCOPE_READ, false, true },
};

/* One request (its connection's thread). */
struct areq {
	unsigned magic;
	bool started;           /* MHD's first call for it is done */
	char *raw;              /* the request target as received (not unescaped) */
	bool ext;               /* handled by the extension (admin_deps.ext) */
	void *ext_state;
	const struct endpoint *e;
	unsigned scopes;
	char *body;
	size_t len;
	bool too_big;
	bool answered;          /* refused on the first call */
};

/* One event stream (its response). */
struct sse {
	uint64_t seq;           /* newest local seq sent */
	uint64_t ready_at;      /* "ready" once seq reaches this (the head at connect) */
	uint64_t handle;        /* ctl_child_attach */
	bool reset, ready_sent;
	char *buf;
	size_t len, off, cap;
};

/* ---------------------------------------------------------------- tokens */

static int
parse_scope(const char *s, unsigned *out)
{
	static const struct { const char *name; unsigned bit; } scopes[] = {
		{ "read", ADMIN_SCOPE_READ }, { "push", ADMIN_SCOPE_PUSH },
		{ "purge", ADMIN_SCOPE_PURGE }, { "warm", ADMIN_SCOPE_WARM },
	};

	for (size_t i = 0; i < ARRAY_LEN(scopes); i++) {
		if (strcmp(s, scopes[i].name) == 0) {
			*out |= scopes[i].bit;
			return CDN_OK;
		}
	}
	return CDN_INVAL;
}

int
admin_tokens_load(const char *path, struct admin_tokens **out, FILE *err)
{
	struct admin_tokens *t = xcalloc(1, sizeof *t);
	char line[1024], *save, *tok, *w;
	unsigned lineno = 0;
	FILE *f;
	int e, rc = CDN_OK;

	*out = t;
	if (path == NULL)
		return CDN_OK;
	f = fopen(path, "r");
	if (f == NULL) {
		e = errno;
		fprintf(err, "%s: cannot read token file: %s\n", path, strerror(e));
		return CDN_INVAL;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		struct token tk = { .scopes = 0 };

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(err, "%s:%u: line too long\n", path, lineno);
			rc = CDN_INVAL;
			break;
		}
		line[strcspn(line, "#\r\n")] = '\0';
		tok = strtok_r(line, " \t", &save);
		if (tok == NULL)
			continue;
		if (strlen(tok) < 8) {
			fprintf(err, "%s:%u: token too short (at least 8 characters)\n", path, lineno);
			rc = CDN_INVAL;
			break;
		}
		digest_sha256(tok, strlen(tok), tk.sha);
		while ((w = strtok_r(NULL, " \t", &save)) != NULL) {
			if (parse_scope(w, &tk.scopes) != CDN_OK) {
				fprintf(err, "%s:%u: unknown scope \"%s\" (read, push, purge, warm)\n",
				    path, lineno, w);
				rc = CDN_INVAL;
				break;
			}
		}
		if (rc != CDN_OK)
			break;
		if (tk.scopes == 0) {
			fprintf(err, "%s:%u: token without a scope (read, push, purge, warm)\n", path, lineno);
			rc = CDN_INVAL;
			break;
		}
		t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
		t->v[t->n++] = tk;
	}
	fclose(f);
	return rc;
}

void
admin_tokens_free(struct admin_tokens **tp)
{
	struct admin_tokens *t = *tp;

	*tp = NULL;
	if (t == NULL)
		return;
	free(t->v);
	free(t);
}

unsigned
admin_tokens_check(const struct admin_tokens *t, const char *token)
{
	uint8_t sha[DIGEST_LEN];
	unsigned scopes = 0;

	if (token == NULL || t == NULL)
		return 0;
	digest_sha256(token, strlen(token), sha);
	/* Look at every entry, so time does not tell which one matched. */
	for (unsigned i = 0; i < t->n; i++)
		if (CRYPTO_memcmp(sha, t->v[i].sha, DIGEST_LEN) == 0)
			scopes |= t->v[i].scopes;
	return scopes;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------- answers */

enum MHD_Result
admin_send_text(struct MHD_Connection *c, unsigned status, const char *ctype, char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"cdn-admin\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
admin_send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t n;

	json_decref(j);
	AN(s);
	/* One JSON document per answer, ended by a newline for shells. */
	n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	return admin_send_text(c, status, "application/json", s);
}

enum MHD_Result
admin_send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return admin_send_json(c, status, json_pack("{s:s,s:i}", "error", msg, "status", (int)status));
}

static enum MHD_Result
send_429(struct admin *a, struct MHD_Connection *c, uint64_t retry_ms, const char *who)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char retry[32], *body;
	uint64_t secs = (retry_ms + 999) / 1000;

	atomic_fetch_add_explicit(&a->limited, 1, memory_order_relaxed);
	if (secs == 0)
		secs = 1;
	body = xasprintf("{\"error\":\"rate limit of this %s exceeded (%llu/s, bursts of %llu): "
	    "retry after %llu s\",\"status\":429,\"retry_after\":%llu}\n", who,
	    (unsigned long long)a->d.cfg->admin_rate_limit,
	    (unsigned long long)a->d.cfg->admin_rate_burst, (unsigned long long)secs,
	    (unsigned long long)secs);
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	snprintf(retry, sizeof retry, "%llu", (unsigned long long)secs);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Retry-After", retry);
	ret = MHD_queue_response(c, 429, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---------------------------------------------------------------- stats */

static void
add_counter(const char *name, const char *help, uint64_t v, void *arg)
{
	json_object_set_new(arg, name, json_integer((json_int_t)v));
}

static json_t *
stats_json(struct admin *a)
{
	json_t *j = json_object();
	struct cache_stats cs;
	struct ctl *ctl;

	stats_foreach(add_counter, j);
	json_object_set_new(j, "admin_rate_limited", json_integer((json_int_t)
	    atomic_load_explicit(&a->limited, memory_order_relaxed)));
	cache_get_stats(a->d.cache, &cs);
	json_object_set_new(j, "role", json_string(a->d.cfg->role));
	json_object_set_new(j, "name", json_string(a->d.cfg->name));
	json_object_set_new(j, "uptime_seconds", json_integer(time(NULL) - a->started));
	json_object_set_new(j, "mem_objects", json_integer((json_int_t)cs.objects));
	json_object_set_new(j, "mem_bytes", json_integer((json_int_t)cs.bytes));
	json_object_set_new(j, "mem_limit", json_integer((json_int_t)cs.limit));
	json_object_set_new(j, "evictions", json_integer((json_int_t)cs.evictions));
	json_object_set_new(j, "upstream_active",
	    json_integer(a->d.fetcher != NULL ? fetch_active(a->d.fetcher) : 0));
	route_stats_json(a->d.route, j);
	if (a->d.ext != NULL && a->d.ext->stats != NULL)
		a->d.ext->stats(a->d.ext->arg, j);
	json_object_set_new(j, "mem_policy", json_string(cs.policy));
	if (a->d.disk != NULL) {
		struct disk_stats ds;

		disk_get_stats(a->d.disk, &ds);
		json_object_set_new(j, "disk", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
		    "objects", (json_int_t)ds.objects, "bytes", (json_int_t)ds.bytes,
		    "limit", (json_int_t)ds.limit, "pinned_objects", (json_int_t)ds.pinned_objects,
		    "evictions", (json_int_t)ds.evictions, "corrupt", (json_int_t)ds.corrupt,
		    "bloom_negatives", (json_int_t)ds.bloom_negatives,
		    "bloom_false_positives", (json_int_t)ds.bloom_false_pos,
		    "policy", evict_policy_name(ds.policy)));
	}
	{
		json_t *ups = json_array();

		for (unsigned i = 0; i < a->d.cfg->upstream.n; i++)
			json_array_append_new(ups, json_string(a->d.cfg->upstream.v[i]));
		json_object_set_new(j, "upstreams", ups);
	}
	if ((ctl = ctl_acquire()) != NULL) {
		ctl_stats_json(ctl, j);
		ctl_release(&ctl);
	}
	return j;
}

struct prom {
	char *buf;
	size_t len, cap;
};

static void
prom_printf(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
prom_printf(struct prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
		AZ(n < 0);
		if ((size_t)n < p->cap - p->len) {
			p->len += (size_t)n;
			return;
		}
		p->cap = p->cap * 2 + (size_t)n;
		p->buf = xrealloc(p->buf, p->cap);
	}
}

static void
prom_counter(const char *name, const char *help, uint64_t v, void *arg)
{
	prom_printf(arg, "# HELP cdn_%s_total %s\n# TYPE cdn_%s_total counter\ncdn_%s_total %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

static void
prom_line(void *arg, const char *line)
{
	prom_printf(arg, "%s", line);
}

static char *
metrics_text(struct admin *a)
{
	struct prom p = { xmalloc(4096), 0, 4096 };
	struct cache_stats cs;
	struct ctl *ctl;

	p.buf[0] = '\0';
	stats_foreach(prom_counter, &p);
	prom_counter("admin_rate_limited", "admin API requests refused with 429",
	    atomic_load_explicit(&a->limited, memory_order_relaxed), &p);
	cache_get_stats(a->d.cache, &cs);
	prom_printf(&p, "# HELP cdn_mem_objects objects in the memory tier\n"
	    "# TYPE cdn_mem_objects gauge\ncdn_mem_objects %llu\n",
	    (unsigned long long)cs.objects);
	prom_printf(&p, "# HELP cdn_mem_bytes bytes in the memory tier\n"
	    "# TYPE cdn_mem_bytes gauge\ncdn_mem_bytes %llu\n", (unsigned long long)cs.bytes);
	prom_printf(&p, "# HELP cdn_mem_limit_bytes size of the memory tier\n"
	    "# TYPE cdn_mem_limit_bytes gauge\ncdn_mem_limit_bytes %llu\n",
	    (unsigned long long)cs.limit);
	prom_printf(&p, "# HELP cdn_evictions_total objects evicted from the memory tier\n"
	    "# TYPE cdn_evictions_total counter\ncdn_evictions_total %llu\n",
	    (unsigned long long)cs.evictions);
	prom_printf(&p, "# HELP cdn_upstream_active upstream requests in flight\n"
	    "# TYPE cdn_upstream_active gauge\ncdn_upstream_active %u\n",
	    a->d.fetcher != NULL ? fetch_active(a->d.fetcher) : 0);
	route_metrics(a->d.route, prom_line, &p);
	stats_metrics(prom_line, &p);
	if (a->d.disk != NULL) {
		struct disk_stats ds;

		disk_get_stats(a->d.disk, &ds);
		prom_printf(&p, "# HELP cdn_disk_objects objects in the disk tier\n"
		    "# TYPE cdn_disk_objects gauge\ncdn_disk_objects %llu\n"
		    "# HELP cdn_disk_bytes bytes in the disk tier\n"
		    "# TYPE cdn_disk_bytes gauge\ncdn_disk_bytes %llu\n"
		    "# HELP cdn_disk_limit_bytes size of the disk tier\n"
		    "# TYPE cdn_disk_limit_bytes gauge\ncdn_disk_limit_bytes %llu\n"
		    "# HELP cdn_disk_evictions_total objects evicted from the disk tier\n"
		    "# TYPE cdn_disk_evictions_total counter\ncdn_disk_evictions_total %llu\n"
		    "# HELP cdn_disk_bloom_negatives_total disk lookups the Bloom filter answered alone\n"
		    "# TYPE cdn_disk_bloom_negatives_total counter\ncdn_disk_bloom_negatives_total %llu\n"
		    "# HELP cdn_disk_bloom_false_positives_total Bloom filter said maybe, index said no\n"
		    "# TYPE cdn_disk_bloom_false_positives_total counter\n"
		    "cdn_disk_bloom_false_positives_total %llu\n",
		    (unsigned long long)ds.objects, (unsigned long long)ds.bytes,
		    (unsigned long long)ds.limit, (unsigned long long)ds.evictions,
		    (unsigned long long)ds.bloom_negatives, (unsigned long long)ds.bloom_false_pos);
	}
	if ((ctl = ctl_acquire()) != NULL) {
		ctl_metrics(ctl, prom_line, &p);
		ctl_release(&ctl);
	}
	return p.buf;
}

/* ---------------------------------------------------------------- requests */

static const char *
bearer(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

static void
client_addr(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, len, "-");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
		    out, (socklen_t)len);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out,
		    (socklen_t)len);
}

static const struct endpoint *
find_endpoint(const char *url)
{
	for (size_t i = 0; i < ARRAY_LEN(endpoints); i++) {
		const char *p = endpoints[i].path;
		size_t n = strlen(p);

		if (p[n - 1] == '/' ? strncmp(url, p, n) == 0 : strcmp(url, p) == 0)
			return &endpoints[i];
	}
	return NULL;
}

static bool
method_ok(const struct endpoint *e, const char *method)
{
	if (strcmp(e->method, "GET") == 0)
		return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	return strcmp(method, e->method) == 0;
}

/* Parse the collected body as a JSON object, or answer 400. */
static json_t *
body_json(struct MHD_Connection *c, struct areq *q, enum MHD_Result *ret)
{
	json_error_t err;
	json_t *j;

	if (q->len == 0) {
		*ret = admin_send_error(c, 400,
		    "empty body: send a JSON object (Content-Type: application/json)");
		return NULL;
	}
	j = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		*ret = admin_send_error(c, 400, "malformed JSON at line %d, column %d: %s", err.line,
		    err.column, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = admin_send_error(c, 400, "expected a JSON object");
		return NULL;
	}
	return j;
}

static enum MHD_Result
do_purge(struct admin *a, struct MHD_Connection *c, struct areq *q)
{
	static const char *const extra[] = { "wait", "timeout_ms", NULL };
	struct purge_spec s;
	enum MHD_Result ret = MHD_NO;
	json_t *j, *ans, *w, *t;
	struct ctl *ctl = NULL;
	uint64_t timeout = a->d.cfg->purge_wait_ms;
	char why[400];
	bool wait = false;

	if ((j = body_json(c, q, &ret)) == NULL)
		return ret;
	if (purge_spec_parse(j, extra, &s, why, sizeof why) != CDN_OK) {
		json_decref(j);
		return admin_send_error(c, 400, "%s", why);
	}
	w = json_object_get(j, "wait");
	t = json_object_get(j, "timeout_ms");
	if ((w != NULL && !json_is_boolean(w)) ||
	    (t != NULL && (!json_is_integer(t) || json_integer_value(t) <= 0))) {
		ret = admin_send_error(c, 400, "\"wait\" must be true or false, \"timeout_ms\" a positive "
		    "number of milliseconds");
		goto Out;
	}
	wait = json_is_true(w);
	if (t != NULL && (uint64_t)json_integer_value(t) < timeout)
		timeout = (uint64_t)json_integer_value(t);
	if ((ctl = ctl_acquire()) == NULL) {
		ret = admin_send_error(c, 503, "this node has no cache control plane (router role, or "
		    "shutting down)");
		goto Out;
	}
	ans = ctl_purge(ctl, &s, wait);
	if (ans == NULL) {
		ret = admin_send_error(c, 500, "the purge was applied here but could not be logged, so "
		    "children were not told; see the error log");
		goto Out;
	}
	if (wait)
		json_object_set_new(ans, "receipts", ctl_wait_receipts(ctl,
		    json_string_value(json_object_get(ans, "event")),
		    (uint64_t)json_integer_value(json_object_get(ans, "time_ms")), timeout));
	ret = admin_send_json(c, 200, ans);
Out:
	ctl_release(&ctl);
	purge_spec_fini(&s);
	json_decref(j);
	return ret;
}

static enum MHD_Result
do_warm(struct admin *a, struct MHD_Connection *c, struct areq *q)
{
	enum MHD_Result ret = MHD_NO;
	json_t *j, *urls, *v;
	struct ctl *ctl = NULL;
	char **keys = NULL;
	const char *k;
	size_t i, n = 0;
	uint64_t id;

	if ((j = body_json(c, q, &ret)) == NULL)
		return ret;
	json_object_foreach(j, k, v) {
		if (strcmp(k, "urls") != 0) {
			ret = admin_send_error(c, 400, "unknown member \"%.100s\" (expected \"urls\")", k);
			goto Out;
		}
	}
	urls = json_object_get(j, "urls");
	if (!json_is_array(urls) || json_array_size(urls) == 0) {
		ret = admin_send_error(c, 400, "\"urls\" must be a non-empty array of paths or URLs");
		goto Out;
	}
	if (json_array_size(urls) > WARM_MAX_URLS) {
		ret = admin_send_error(c, 400, "at most %u URLs per warm job", WARM_MAX_URLS);
		goto Out;
	}
	keys = xcalloc(json_array_size(urls), sizeof *keys);
	json_array_foreach(urls, i, v) {
		const char *u = json_string_value(v);

		if (u == NULL || (keys[n] = purge_url_key(u)) == NULL) {
			ret = admin_send_error(c, 400, "\"urls\"[%zu] is neither a path (starting with /) nor "
			    "an http(s) URL", i);
			goto Out;
		}
		n++;
	}
	if (a->loopback[0] == '\0' || (ctl = ctl_acquire()) == NULL) {
		ret = admin_send_error(c, 503, "this node cannot warm (no cache data listener, or shutting "
		    "down)");
		goto Out;
	}
	id = warm_submit(ctl_warm(ctl), a->loopback, keys, (unsigned)n);
	if (id == 0) {
		ret = admin_send_error(c, 503, "too many warm jobs are still running; try again later");
		goto Out;
	}
	log_msg(LVL_INFO, "warm job %llu: %zu URLs", (unsigned long long)id, n);
	ret = admin_send_json(c, 202, json_pack("{s:I,s:I,s:s}", "job", (json_int_t)id,
	    "total", (json_int_t)n, "status", "queued"));
Out:
	ctl_release(&ctl);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	json_decref(j);
	return ret;
}

static enum MHD_Result
do_job(struct MHD_Connection *c, const char *url)
{
	const char *idp = url + strlen("/jobs/");
	struct ctl *ctl;
	json_t *j = NULL;
	char *end;
	unsigned long long id;

	errno = 0;
	id = strtoull(idp, &end, 10);
	if (*idp == '\0' || *end != '\0' || errno != 0 || id == 0)
		return admin_send_error(c, 404, "no such job: use /jobs/ID with the id /warm answered");
	if ((ctl = ctl_acquire()) != NULL) {
		j = warm_job_json(ctl_warm(ctl), (uint64_t)id);
		ctl_release(&ctl);
	}
	if (j == NULL)
		return admin_send_error(c, 404, "no job %llu here (jobs are kept in memory, the last %u)", id,
		    WARM_KEEP_JOBS);
	return admin_send_json(c, 200, j);
}

static enum MHD_Result
do_receipts(struct MHD_Connection *c, struct areq *q)
{
	enum MHD_Result ret = MHD_NO;
	struct ctl *ctl;
	json_t *j;
	char why[300];

	if ((j = body_json(c, q, &ret)) == NULL)
		return ret;
	if ((ctl = ctl_acquire()) == NULL) {
		json_decref(j);
		return admin_send_error(c, 503, "shutting down");
	}
	if (ctl_receipts(ctl, j, why, sizeof why) != CDN_OK)
		ret = admin_send_error(c, 400, "%s", why);
	else
		ret = admin_send_json(c, 200, json_pack("{s:b}", "ok", 1));
	ctl_release(&ctl);
	json_decref(j);
	return ret;
}

/* ---------------------------------------------------------------- events */

static void
sse_append(struct sse *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sse_append(struct sse *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		AZ(n < 0);
		if ((size_t)n < s->cap - s->len) {
			s->len += (size_t)n;
			return;
		}
		s->cap = s->cap * 2 + (size_t)n + 1;
		s->buf = xrealloc(s->buf, s->cap);
	}
}

struct sse_fmt {
	struct sse *s;
	const struct events *ev;
};

static void
sse_event(void *arg, uint64_t seq, const char *body)
{
	struct sse_fmt *f = arg;
	char id[EVENTS_ID_MAX];

	events_format_id(f->ev, seq, id, sizeof id);
	sse_append(f->s, "id: %s\nevent: purge\ndata: %s\n\n", id, body);
	f->s->seq = seq;
}

/* The content reader of an event stream. It may sleep: the admin daemon
 * runs a thread per connection. */
static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	struct ctl *ctl;
	struct events *ev;
	char id[EVENTS_ID_MAX];
	uint64_t head;
	size_t n;

	(void)pos;
	if (s->off >= s->len) {
		s->off = s->len = 0;
		if ((ctl = ctl_acquire()) == NULL)
			return MHD_CONTENT_READER_END_OF_STREAM;
		ev = ctl_events(ctl);
		while (s->len == 0) {
			struct sse_fmt f = { s, ev };

			if (s->reset) {
				events_format_id(ev, s->seq, id, sizeof id);
				sse_append(s, "id: %s\nevent: reset\ndata: {\"reason\":\"the events after "
				    "your Last-Event-ID are no longer kept here: soft-purge everything\","
				    "\"head\":\"%s\"}\n\n", id, id);
				s->reset = false;
			}
			if (events_read(ev, s->seq, 64, sse_event, &f) > 0)
				ctl_child_sent(ctl, s->handle, s->seq);
			if (!s->ready_sent && s->seq >= s->ready_at) {
				events_format_id(ev, s->seq, id, sizeof id);
				sse_append(s, "event: ready\ndata: {\"head\":\"%s\",\"log\":\"%s\"}\n\n", id,
				    events_log_id(ev));
				s->ready_sent = true;
			}
			if (s->len > 0)
				break;
			if (ctl_stopping(ctl))
				break;
			if (!events_wait(ev, s->seq, ctl_keepalive_ms(ctl))) {
				if (ctl_stopping(ctl))
					break;
				events_bounds(ev, NULL, &head);
				events_format_id(ev, head, id, sizeof id);
				sse_append(s, ": keepalive head=%s\n\n", id);
			}
		}
		ctl_release(&ctl);
		if (s->len == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void
sse_free(void *cls)
{
	struct sse *s = cls;
	struct ctl *ctl;

	if ((ctl = ctl_acquire()) != NULL) {
		ctl_child_detach(ctl, s->handle);
		ctl_release(&ctl);
	}
	free(s->buf);
	free(s);
}

static enum MHD_Result
do_events(struct MHD_Connection *c)
{
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	const char *node = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "node");
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	struct MHD_Response *r;
	struct ctl *ctl;
	struct events *ev;
	struct sse *s;
	enum MHD_Result ret;
	char addr[64], sid[EVENTS_ID_MAX];
	uint64_t first, head;

	if ((ctl = ctl_acquire()) == NULL)
		return admin_send_error(c, 503, "this node has no event stream (router role, or shutting down)");
	ev = ctl_events(ctl);
	s = xcalloc(1, sizeof *s);
	events_bounds(ev, &first, &head);
	if (last == NULL && since != NULL) {
		/* ?since=0: everything retained; ?since=ID: as Last-Event-ID. */
		if (strcmp(since, "0") == 0) {
			events_format_id(ev, first > 0 ? first - 1 : 0, sid, sizeof sid);
			last = sid;
		} else {
			last = since;
		}
	}
	s->reset = !events_resume(ev, last, &s->seq);
	s->ready_at = head;
	client_addr(c, addr, sizeof addr);
	s->handle = ctl_child_attach(ctl, node, id, addr);
	if (s->reset)
		log_msg(LVL_WARN, "event stream for %s (%s): Last-Event-ID %s is too old or unknown "
		    "here: sending a reset", node != NULL ? node : "a watcher", addr,
		    last != NULL ? last : "-");
	else
		log_msg(LVL_INFO, "event stream for %s (%s) from %s", node != NULL ? node : "a watcher",
		    addr, last != NULL ? last : "now");
	ctl_release(&ctl);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_free);
	if (r == NULL) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---------------------------------------------------------------- dispatch */

/* Checks on MHD's first call for a request, before any body is read.
 * Returns true if the request was answered (refused) here. */
static bool
first_call(struct admin *a, struct MHD_Connection *c, const char *url, const char *method,
    struct areq *q, enum MHD_Result *ret)
{
	const char *tok = bearer(c), *cl;
	char addr[80], key[100], hex[2 * DIGEST_LEN + 1];
	uint8_t sha[DIGEST_LEN];
	uint64_t retry = 0;

	q->e = find_endpoint(url);
	if (q->e != NULL && q->e->ep == EP_HEALTHZ)
		return false;
	client_addr(c, addr, sizeof addr);
	snprintf(key, sizeof key, "a:%s", addr);
	q->scopes = admin_tokens_check(a->tokens, tok);
	if (q->scopes != 0 && a->d.ext != NULL && q->raw != NULL &&
	    strncmp(q->raw, a->d.ext->prefix, strlen(a->d.ext->prefix)) == 0) {
		/* The extension's requests (node-to-node and bulk uploads) are
		 * not rate limited; the extension reads its own bodies. */
		if (!(q->scopes & a->d.ext->scopes)) {
			STATS_INC(admin_denied);
			*ret = admin_send_error(c, 403, "this token lacks the push scope");
			return true;
		}
		q->ext = true;
		return false;
	}
	if (q->scopes == 0) {
		STATS_INC(admin_denied);
		if (!rl_take(a->rl, key, mono_ms(), &retry))
			*ret = send_429(a, c, retry, "address");
		else
			*ret = admin_send_error(c, 401, "missing or wrong token (Authorization: Bearer TOKEN)");
		return true;
	}
	if (q->e == NULL) {
		*ret = admin_send_error(c, 404, "no such endpoint (see /healthz, /stats, /metrics, /purge, "
		    "/warm, /jobs/ID, /events%s)", a->d.ext != NULL ? ", /push/KEY" : "");
		return true;
	}
	if (!method_ok(q->e, method)) {
		*ret = admin_send_error(c, 405, "use %s for %s", q->e->method, q->e->path);
		return true;
	}
	if (!(q->scopes & q->e->scopes)) {
		STATS_INC(admin_denied);
		*ret = admin_send_error(c, 403, "this token lacks the scope %s needs", q->e->path);
		return true;
	}
	if (q->e->limited) {
		digest_sha256(tok, strlen(tok), sha);
		digest_hex(sha, hex);
		hex[16] = '\0';
		if (!rl_take(a->rl, key, mono_ms(), &retry)) {
			*ret = send_429(a, c, retry, "address");
			return true;
		}
		snprintf(key, sizeof key, "t:%s", hex);
		if (!rl_take(a->rl, key, mono_ms(), &retry)) {
			*ret = send_429(a, c, retry, "token");
			return true;
		}
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	if (q->e->body && cl != NULL && strtoull(cl, NULL, 10) > a->d.cfg->admin_max_body) {
		*ret = admin_send_error(c, 413, "body of %s bytes is over the limit of %llu (admin.max_body)",
		    cl, (unsigned long long)a->d.cfg->admin_max_body);
		return true;
	}
	return false;
}

static enum MHD_Result
on_admin(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct admin *a = cls;
	struct areq *q = *con_cls;
	enum MHD_Result ret = MHD_NO;

	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		q->magic = AREQ_MAGIC;
		*con_cls = q;
	}
	CHECK_OBJ_NOTNULL(q, AREQ_MAGIC);
	if (!q->started) {
		q->started = true;
		STATS_INC(admin_requests);
		if (first_call(a, c, url, method, q, &ret)) {
			q->answered = true;
			return ret;
		}
		if (!q->ext)
			return MHD_YES;
	}
	if (q->ext)
		return (enum MHD_Result)a->d.ext->handle(a->d.ext->arg, c, q->raw, method,
		    upload_data, upload_data_size, &q->ext_state);
	if (*upload_data_size != 0) {
		if (!q->answered && !q->too_big && q->e != NULL && q->e->body) {
			if (q->len + *upload_data_size > a->d.cfg->admin_max_body) {
				q->too_big = true;
			} else {
				q->body = xrealloc(q->body, q->len + *upload_data_size + 1);
				memcpy(q->body + q->len, upload_data, *upload_data_size);
				q->len += *upload_data_size;
				q->body[q->len] = '\0';
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->answered)
		return MHD_YES;
	q->answered = true;
	if (q->too_big)
		return admin_send_error(c, 413, "body over the limit of %llu bytes (admin.max_body)",
		    (unsigned long long)a->d.cfg->admin_max_body);
	switch (q->e->ep) {
	case EP_HEALTHZ: {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "status", "ok",
		    "role", a->d.cfg->role, "name", a->d.cfg->name, "data", a->d.data_addr,
		    "version", PACKAGE_VERSION, "uptime_seconds", (json_int_t)(time(NULL) - a->started));

		return admin_send_json(c, 200, j);
	}
	case EP_STATS:
		return admin_send_json(c, 200, stats_json(a));
	case EP_METRICS:
		return admin_send_text(c, 200, "text/plain; version=0.0.4", metrics_text(a));
	case EP_PURGE:
		return do_purge(a, c, q);
	case EP_WARM:
		return do_warm(a, c, q);
	case EP_JOBS:
		return do_job(c, url);
	case EP_EVENTS:
		return do_events(c);
	case EP_RECEIPTS:
		return do_receipts(c, q);
	case EP_NONE:
		break;
	}
	WRONG("endpoint");
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct admin *a = cls;
	struct areq *q = *con_cls;

	(void)c;
	(void)toe;
	*con_cls = NULL;
	if (q == NULL)
		return;
	CHECK_OBJ_NOTNULL(q, AREQ_MAGIC);
	if (q->ext && a->d.ext->completed != NULL)
		a->d.ext->completed(a->d.ext->arg, q->ext_state,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	q->magic = 0;
	free(q->raw);
	free(q->body);
	free(q);
}

/* The raw request target, before MHD unescapes it: the push extension
 * must see "%2e" and "%2f" as sent to refuse them. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct areq *q = xcalloc(1, sizeof *q);

	(void)cls;
	(void)c;
	q->magic = AREQ_MAGIC;
	q->raw = xstrdup(uri != NULL ? uri : "");
	return q;
}

/* ---------------------------------------------------------------- API */

/* http://LOOPBACK:PORT for the data listener at data_addr ("host:port"). */
static void
loopback_of(const char *data_addr, char *out, size_t len)
{
	char host[256];
	unsigned port;

	out[0] = '\0';
	if (data_addr == NULL || cfg_parse_hostport(data_addr, host, sizeof host, &port) != CDN_OK ||
	    port == 0)
		return;
	if (strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, sizeof host, "::1");
	snprintf(out, len, strchr(host, ':') != NULL ? "http://[%s]:%u" : "http://%s:%u", host, port);
}

struct admin *
admin_start(const struct admin_deps *d, struct admin_tokens *tokens)
{
	struct admin *a = xcalloc(1, sizeof *a);
	struct sockaddr_storage ss;
	char host[256];
	unsigned port;
	const union MHD_DaemonInfo *di;

	a->d = *d;
	a->tokens = tokens;
	a->started = time(NULL);
	a->rl = rl_new((double)d->cfg->admin_rate_limit, (double)d->cfg->admin_rate_burst, RL_SLOTS);
	if (d->fetcher != NULL)
		loopback_of(d->data_addr, a->loopback, sizeof a->loopback);
	memset(&ss, 0, sizeof ss);
	if (cfg_parse_hostport(d->cfg->admin, host, sizeof host, &port) != CDN_OK)
		goto Error;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	} else {
		log_msg(LVL_ERROR, "admin address %s: give a numeric IPv4 or IPv6 address", d->cfg->admin);
		goto Error;
	}
	a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    (uint16_t)port, NULL, NULL, on_admin, a,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    /* A thread each: every child holds an event stream and, now and
	     * then, a receipts connection. */
	    MHD_OPTION_CONNECTION_LIMIT, 1024u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
	    MHD_OPTION_END);
	if (a->mhd == NULL) {
		log_msg(LVL_ERROR, "cannot listen on admin address %s", d->cfg->admin);
		goto Error;
	}
	di = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
	a->port = di != NULL ? di->port : port;
	return a;
Error:
	admin_tokens_free(&a->tokens);
	rl_free(&a->rl);
	free(a);
	return NULL;
}

unsigned
admin_port(const struct admin *a)
{
	return a->port;
}

void
admin_stop(struct admin **ap)
{
	struct admin *a = *ap;

	*ap = NULL;
	if (a == NULL)
		return;
	MHD_stop_daemon(a->mhd);
	admin_tokens_free(&a->tokens);
	rl_free(&a->rl);
	free(a);
}
