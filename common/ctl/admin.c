/*
 * admin.c: the admin listener on libmicrohttpd (one internal polling
 * thread: admin traffic is light), with bearer tokens and JSON answers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl/admin.h"
#include "ctl/stats.h"
#include "net/fetch.h"
#include "net/route.h"
#include "store/cache.h"
#include "util/cfg.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

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

/* ---------------------------------------------------------------- answers */

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *ctype, char *body)
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

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	AN(s);
	/* json_dumps allocates with malloc: MHD frees it with free(). */
	return send_text(c, status, "application/json", s);
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_json(c, status, json_pack("{s:s}", "error", msg));
}

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

	stats_foreach(add_counter, j);
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
	{
		json_t *ups = json_array();

		for (unsigned i = 0; i < a->d.cfg->upstream.n; i++)
			json_array_append_new(ups, json_string(a->d.cfg->upstream.v[i]));
		json_object_set_new(j, "upstreams", ups);
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

	p.buf[0] = '\0';
	stats_foreach(prom_counter, &p);
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
	return p.buf;
}

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

static enum MHD_Result
on_admin(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct admin *a = cls;
	unsigned scopes;
	static int first;

	if (*con_cls == NULL) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* no endpoint here takes a body yet */
		return MHD_YES;
	}
	STATS_INC(admin_requests);
	if (strcmp(url, "/healthz") == 0) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "status", "ok",
		    "role", a->d.cfg->role, "name", a->d.cfg->name, "data", a->d.data_addr,
		    "version", PACKAGE_VERSION, "uptime_seconds", (json_int_t)(time(NULL) - a->started));

		return send_json(c, 200, j);
	}
	scopes = admin_tokens_check(a->tokens, bearer(c));
	if (scopes == 0) {
		STATS_INC(admin_denied);
		return send_error(c, 401, "missing or wrong token (Authorization: Bearer TOKEN)");
	}
	if (strcmp(url, "/stats") == 0 || strcmp(url, "/metrics") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_error(c, 405, "use GET");
		if (!(scopes & ADMIN_SCOPE_READ)) {
			STATS_INC(admin_denied);
			return send_error(c, 403, "this token lacks the read scope");
		}
		if (url[1] == 's')
			return send_json(c, 200, stats_json(a));
		return send_text(c, 200, "text/plain; version=0.0.4", metrics_text(a));
	}
	return send_error(c, 404, "no such endpoint (see /healthz, /stats, /metrics)");
}

/* ---------------------------------------------------------------- API */

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
	a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
	    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    (uint16_t)port, NULL, NULL, on_admin, a,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, 256u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
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
	free(a);
}
