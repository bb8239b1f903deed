/*
 * test-origin: a small scriptable HTTP origin for the integration tests, the
 * benchmarks and the demo. It is not part of the CDN.
 *
 *   test-origin -l HOST:PORT [--root DIR]
 *
 * Port 0 is allowed: after binding it prints "listening HOST:PORT" with the
 * real port on stdout. It runs until SIGTERM or SIGINT, then exits 0.
 *
 * Every request except the control endpoints is recorded (method, raw target,
 * headers with lowercased names, body length and SHA-256) and counted per
 * exact target. The answer is driven by URL-decoded query parameters:
 *   status=N        status (default 200)
 *   cc=VALUE        Cache-Control
 *   h=Name:Value    an extra response header (repeatable)
 *   size=N          body of N bytes, byte i = 'a' + i % 26
 *   delay_ms=N      sleep before answering
 *   body_delay_ms=N send headers, then sleep before each chunk=N bytes
 *                   (default 1024) of the body
 *   chunked=1       send the body chunked, without Content-Length
 *   etag=V          ETag (quoted if bare); 304 when If-None-Match matches
 *   lm=HTTP-DATE    Last-Modified; 304 when If-Modified-Since is the same date
 *   body=TEXT       the body is exactly TEXT (instead of the default)
 *   echo=Name       append "name: VALUE\n" (VALUE of that request field, or
 *                   "-" when absent) to the body (repeatable)
 *   close=1         after delay_ms, close the connection without answering
 * The default GET/HEAD body is "origin body for <target>\n". With --root, a
 * GET/HEAD whose path names a regular file under DIR serves that file
 * (Cache-Control: max-age=60 unless cc= is given); other paths fall back to
 * the scripted answer. Other methods get JSON describing what arrived:
 * {"method","target","body_len","body_sha256"}. Every answer carries Date,
 * X-Origin-Request-Count (for this exact target, this request included)
 * and X-Origin-Method.
 *
 * The CDN's reserved health path (/.well-known/cdn/health, which nodes probe
 * for heartbeats and to find an upstream's admin listener) gets 404 and is
 * not recorded, as a real origin would not have it.
 *
 * Control endpoints (not recorded): GET /__origin/requests (JSON array;
 * each record also has "t_ms", its arrival in wall-clock milliseconds),
 * GET /__origin/count?target=T (number), GET /__origin/total (number),
 * GET /__origin/max_inflight (the most requests in progress at once since
 * the start or the last reset), POST /__origin/reset (also drops overrides),
 * POST /__origin/override?target=T&q=QUERY: from now on a request for exact
 * target T is answered as if its query were QUERY (still recorded and counted
 * under T); without q, T's override is removed. This lets a test change what
 * one URL answers (a new version, an error, a closed connection).
 *
 * Threads: MHD runs one thread per connection, so handlers may sleep. A
 * struct req belongs to its connection's thread; the record list, the
 * total and the per-target counters are protected by `lock`.
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#define NBUCKETS 4096
#define MAXPARAMS 64
#define MAXHDRS 256
#define MAXRECORDS 200000       /* kept for /__origin/requests; counts stay exact */
#define CDN_HEALTH_PATH "/.well-known/cdn/health"  /* answered 404, not recorded */

/* ---------------------------------------------------------------- types */

struct counter { struct counter *next; uint64_t n; char target[]; };

struct req {                    /* one request, from URI log to completion */
	char *target;           /* raw request target, query included */
	int started;
	int recorded;           /* counted in `inflight` until completed */
	EVP_MD_CTX *md;
	uint64_t body_len;
	char sha[65];
	int np;
	char *key[MAXPARAMS], *val[MAXPARAMS];
};

struct gen {                    /* a body produced by the content reader */
	uint64_t size;
	char *fixed;            /* NULL: the 'a'..'z' pattern */
	unsigned delay_ms;
	size_t chunk;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *records[MAXRECORDS];        /* rendered JSON; under lock */
static size_t nrecords;                  /* under lock */
static uint64_t total;                   /* under lock */
static struct counter *counters[NBUCKETS]; /* under lock */
static const char *root;
struct override { struct override *next; char *target; char *query; };
static struct override *overrides;       /* under lock */
static unsigned inflight, max_inflight;  /* under lock */
static atomic_int stopping;              /* set once SIGTERM/SIGINT arrived */

/* ---------------------------------------------------------------- helpers */

static void oom(void *p)
{
	if (p == NULL) {
		fputs("test-origin: out of memory\n", stderr);
		abort();
	}
}

/* A growing string: open_memstream; finish with fclose. */
static FILE *membuf(char **p, size_t *len)
{
	FILE *f = open_memstream(p, len);
	oom(f);
	return f;
}

/* JSON string contents; bytes outside printable ASCII become \u00XX. */
static void json_chars(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	json_chars(f, s);
	fputc('"', f);
}

/* The "method", "target", "body_len", "body_sha256" members, no braces. */
static void req_json(FILE *f, const struct req *r, const char *method)
{
	fputs("\"method\":", f);
	json_str(f, method);
	fputs(",\"target\":", f);
	json_str(f, r->target);
	fprintf(f, ",\"body_len\":%" PRIu64 ",\"body_sha256\":\"%s\"", r->body_len, r->sha);
}

/* The counter of one exact target, or NULL; caller holds lock. */
static struct counter *counter_locked(const char *target, int create)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *s = target; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	struct counter **head = &counters[h % NBUCKETS];
	for (struct counter *c = *head; c; c = c->next)
		if (strcmp(c->target, target) == 0)
			return c;
	if (!create)
		return NULL;
	struct counter *c = malloc(sizeof *c + strlen(target) + 1);
	oom(c);
	strcpy(c->target, target);
	c->n = 0;
	c->next = *head;
	*head = c;
	return c;
}

static void reset_all(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nrecords; i++)
		free(records[i]);
	nrecords = 0;
	total = 0;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (counters[i]) {
			struct counter *c = counters[i];
			counters[i] = c->next;
			free(c);
		}
	while (overrides) {
		struct override *o = overrides;
		overrides = o->next;
		free(o->target);
		free(o->query);
		free(o);
	}
	max_inflight = inflight;
	pthread_mutex_unlock(&lock);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Decode %XX and '+' in place. */
static void urldecode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

/* Split a query string (without '?') into decoded key/value pairs. */
static void parse_query_string(struct req *r, const char *q)
{
	char *copy = strdup(q), *save = NULL;
	oom(copy);
	for (char *tok = strtok_r(copy, "&", &save); tok && r->np < MAXPARAMS;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		oom(r->key[r->np] = strdup(tok));
		oom(r->val[r->np] = strdup(eq ? eq + 1 : ""));
		urldecode(r->key[r->np]);
		urldecode(r->val[r->np]);
		r->np++;
	}
	free(copy);
}

/* Split the query of r->target into decoded key/value pairs. */
static void parse_query(struct req *r)
{
	const char *q = strchr(r->target, '?');
	if (q != NULL)
		parse_query_string(r, q + 1);
}

static void clear_params(struct req *r)
{
	for (int i = 0; i < r->np; i++) {
		free(r->key[i]);
		free(r->val[i]);
	}
	r->np = 0;
}

/* The override for exact target t; caller holds lock. */
static struct override *override_locked(const char *t)
{
	for (struct override *o = overrides; o; o = o->next)
		if (strcmp(o->target, t) == 0)
			return o;
	return NULL;
}

static const char *param(const struct req *r, const char *name)
{
	for (int i = 0; i < r->np; i++)
		if (strcmp(r->key[i], name) == 0)
			return r->val[i];
	return NULL;
}

static long param_num(const struct req *r, const char *name, long dflt)
{
	const char *v = param(r, name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* Sleep in 10 ms slices so that shutdown does not wait for sleepers. */
static void sleep_ms(long ms)
{
	struct timespec ts = { 0, 10 * 1000000L };
	for (; ms > 0 && !atomic_load(&stopping); ms -= 10)
		nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- request state */

static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls; (void)c;
	struct req *r = calloc(1, sizeof *r);
	oom(r);
	oom(r->target = strdup(uri));
	oom(r->md = EVP_MD_CTX_new());
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **ctx,
		      enum MHD_RequestTerminationCode code)
{
	(void)cls; (void)c; (void)code;
	struct req *r = *ctx;
	if (r == NULL)
		return;
	if (r->recorded) {
		pthread_mutex_lock(&lock);
		inflight--;
		pthread_mutex_unlock(&lock);
	}
	clear_params(r);
	EVP_MD_CTX_free(r->md);
	free(r->target);
	free(r);
	*ctx = NULL;
}

struct hdrs { int n; char *name[MAXHDRS]; const char *value[MAXHDRS]; };

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	(void)kind;
	struct hdrs *h = cls;
	if (h->n < MAXHDRS) {
		oom(h->name[h->n] = strdup(key));
		for (char *p = h->name[h->n]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		h->value[h->n++] = value ? value : "";
	}
	return MHD_YES;
}

/* Store the request as JSON (repeated headers joined with ", ") and count
 * it; returns the count for its target, this request included. */
static uint64_t record(struct MHD_Connection *c, struct req *r, const char *method)
{
	struct hdrs h = { 0 };
	char *json = NULL;
	size_t len = 0;
	FILE *f = membuf(&json, &len);
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
	fputc('{', f);
	req_json(f, r, method);
	fprintf(f, ",\"t_ms\":%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	fputs(",\"headers\":{", f);
	for (int i = 0, first = 1; i < h.n; i++) {
		int dup = 0;
		for (int j = 0; j < i && !dup; j++)
			dup = strcmp(h.name[i], h.name[j]) == 0;
		if (dup)
			continue;
		fputs(first ? "" : ",", f);
		first = 0;
		json_str(f, h.name[i]);
		fputs(":\"", f);
		for (int j = i, n = 0; j < h.n; j++) {
			if (strcmp(h.name[i], h.name[j]) != 0)
				continue;
			fputs(n++ ? ", " : "", f);
			json_chars(f, h.value[j]);
		}
		fputc('"', f);
	}
	fputs("}}", f);
	fclose(f);
	for (int i = 0; i < h.n; i++)
		free(h.name[i]);

	pthread_mutex_lock(&lock);
	uint64_t n = ++counter_locked(r->target, 1)->n;
	total++;
	r->recorded = 1;
	if (++inflight > max_inflight)
		max_inflight = inflight;
	if (nrecords < MAXRECORDS) {
		records[nrecords++] = json;
		json = NULL;
	}
	pthread_mutex_unlock(&lock);
	free(json);
	return n;
}

/* ---------------------------------------------------------------- responses */

static ssize_t gen_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct gen *g = cls;
	if (pos >= g->size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = max;
	if (n > g->size - pos)
		n = (size_t)(g->size - pos);
	if (g->delay_ms) {
		if (n > g->chunk)
			n = g->chunk;
		sleep_ms(g->delay_ms);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = g->fixed ? g->fixed[pos + i] : (char)('a' + (pos + i) % 26);
	return (ssize_t)n;
}

static void gen_free(void *cls)
{
	struct gen *g = cls;
	free(g->fixed);
	free(g);
}

static enum MHD_Result send_and_free(struct MHD_Connection *c, unsigned status,
				     struct MHD_Response *resp)
{
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result control(struct MHD_Connection *c, const struct req *r,
			       const char *path, const char *method)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = membuf(&body, &len);
	unsigned status = 200;
	int get = strcmp(method, "GET") == 0;

	pthread_mutex_lock(&lock);
	if (get && strcmp(path, "/__origin/requests") == 0) {
		fputc('[', f);
		for (size_t i = 0; i < nrecords; i++)
			fprintf(f, "%s\n%s", i ? "," : "", records[i]);
		fputs("\n]\n", f);
	} else if (get && strcmp(path, "/__origin/count") == 0) {
		const char *t = param(r, "target");
		struct counter *ct = t ? counter_locked(t, 0) : NULL;
		fprintf(f, "%" PRIu64 "\n", ct ? ct->n : 0);
	} else if (get && strcmp(path, "/__origin/total") == 0) {
		fprintf(f, "%" PRIu64 "\n", total);
	} else if (get && strcmp(path, "/__origin/max_inflight") == 0) {
		fprintf(f, "%u\n", max_inflight);
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/__origin/override") == 0 &&
		   param(r, "target") != NULL) {
		const char *t = param(r, "target"), *q = param(r, "q");
		struct override **pp = &overrides;
		while (*pp && strcmp((*pp)->target, t) != 0)
			pp = &(*pp)->next;
		if (*pp) {
			struct override *o = *pp;
			*pp = o->next;
			free(o->target);
			free(o->query);
			free(o);
		}
		if (q) {
			struct override *o = calloc(1, sizeof *o);
			oom(o);
			oom(o->target = strdup(t));
			oom(o->query = strdup(q));
			o->next = overrides;
			overrides = o;
			fprintf(f, "override %s -> %s\n", t, q);
		} else {
			fprintf(f, "override %s removed\n", t);
		}
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/__origin/reset") == 0) {
		fputs("reset\n", f);
	} else {
		status = 404;
		fputs("unknown control endpoint\n", f);
	}
	pthread_mutex_unlock(&lock);
	fclose(f);
	if (status == 200 && strcmp(path, "/__origin/reset") == 0)
		reset_all();
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type",
		strcmp(path, "/__origin/requests") == 0 ? "application/json" : "text/plain");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return send_and_free(c, status, resp);
}

static const char *mime(const char *path)
{
	static const char *const map[][2] = {
		{ ".html", "text/html; charset=utf-8" }, { ".css", "text/css" },
		{ ".js", "application/javascript" }, { ".svg", "image/svg+xml" },
		{ ".png", "image/png" }, { ".txt", "text/plain; charset=utf-8" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(dot, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

/* A response for a regular file under --root, or NULL. */
static struct MHD_Response *file_response(const char *url)
{
	char path[4096];
	struct stat st;
	size_t n = strlen(url);

	if (root == NULL || url[0] != '/' || strstr(url, "/../") ||
	    (n >= 3 && strcmp(url + n - 3, "/..") == 0) ||
	    (size_t)snprintf(path, sizeof path, "%s%s", root, url) >= sizeof path)
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct MHD_Response *resp = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (resp == NULL) {
		close(fd);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", mime(url));
	return resp;
}

/* Does If-None-Match (a list of quoted tags, or "*") match?  Weak comparison:
 * tags are quoted, so finding the opaque tag in the list is exact enough. */
static int inm_matches(const char *inm, const char *etag)
{
	return strcmp(inm, "*") == 0 || strstr(inm, etag + (strncmp(etag, "W/", 2) ? 0 : 2));
}

static enum MHD_Result answer(struct MHD_Connection *c, const struct req *r,
			      const char *url, const char *method, uint64_t count)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	long status = param_num(r, "status", 200);
	const char *cc = param(r, "cc"), *etag = param(r, "etag"), *lm = param(r, "lm");
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Modified-Since");
	char buf[512];
	struct MHD_Response *resp;
	int has_date = 0;

	if (status < 100 || status > 599)
		status = 200;
	sleep_ms(param_num(r, "delay_ms", 0));
	if (param_num(r, "close", 0))
		return MHD_NO;  /* libmicrohttpd closes the connection */
	if (etag && etag[0] != '"' && strncmp(etag, "W/", 2) != 0) {
		snprintf(buf, sizeof buf, "\"%s\"", etag);
		etag = buf;
	}
	if (get && status == 200 && ((etag && inm && inm_matches(inm, etag)) ||
				     (lm && ims && !inm && strcasecmp(lm, ims) == 0)))
		status = 304;

	if (!get) {
		char *json = NULL;
		size_t len = 0;
		FILE *f = membuf(&json, &len);
		fputc('{', f);
		req_json(f, r, method);
		fputs("}\n", f);
		fclose(f);
		resp = MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "application/json");
	} else if (status == 304) {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else if ((resp = file_response(url)) != NULL) {
		cc = cc ? cc : "max-age=60";
	} else {
		struct gen *g = calloc(1, sizeof *g);
		oom(g);
		long size = param_num(r, "size", -1);
		if (size >= 0) {
			g->size = (uint64_t)size;
		} else {
			size_t n = 0;
			FILE *bf = membuf(&g->fixed, &n);
			const char *text = param(r, "body");
			if (text)
				fputs(text, bf);
			else
				fprintf(bf, "origin body for %s\n", r->target);
			for (int i = 0; i < r->np; i++) {
				if (strcmp(r->key[i], "echo") != 0)
					continue;
				const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, r->val[i]);
				fputs(r->val[i], bf);
				fprintf(bf, ": %s\n", v ? v : "-");
			}
			fclose(bf);
			g->size = (uint64_t)n;
		}
		long d = param_num(r, "body_delay_ms", 0), chunk = param_num(r, "chunk", 1024);
		g->delay_ms = d > 0 ? (unsigned)d : 0;
		g->chunk = chunk > 0 ? (size_t)chunk : 1024;
		resp = MHD_create_response_from_callback(param_num(r, "chunked", 0) == 1 ?
		    MHD_SIZE_UNKNOWN : g->size, 64 * 1024, gen_read, g, gen_free);
		MHD_add_response_header(resp, "Content-Type", "text/plain");
	}
	if (resp == NULL)
		return MHD_NO;
	for (int i = 0; i < r->np; i++) {
		char *colon = strcmp(r->key[i], "h") == 0 ? strchr(r->val[i], ':') : NULL;
		if (colon == NULL)
			continue;
		*colon = '\0';
		const char *v = colon + 1 + strspn(colon + 1, " ");
		has_date |= strcasecmp(r->val[i], "Date") == 0;
		MHD_add_response_header(resp, r->val[i], v);
		*colon = ':';
	}
	if (!has_date) {
		struct tm tm;
		time_t now = time(NULL);
		char date[64];
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
		MHD_add_response_header(resp, "Date", date);
	}
	if (cc)
		MHD_add_response_header(resp, "Cache-Control", cc);
	if (etag)
		MHD_add_response_header(resp, "ETag", etag);
	if (lm)
		MHD_add_response_header(resp, "Last-Modified", lm);
	snprintf(buf, sizeof buf, "%" PRIu64, count);
	MHD_add_response_header(resp, "X-Origin-Request-Count", buf);
	MHD_add_response_header(resp, "X-Origin-Method", method);
	return send_and_free(c, (unsigned)status, resp);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **ctx)
{
	(void)cls; (void)version;
	struct req *r = *ctx;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (r == NULL)          /* the URI log callback always sets it */
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		return MHD_YES;
	}
	if (*size != 0) {
		EVP_DigestUpdate(r->md, data, *size);
		r->body_len += *size;
		*size = 0;
		return MHD_YES;
	}
	EVP_DigestFinal_ex(r->md, md, &mdlen);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
	parse_query(r);

	size_t plen = strcspn(r->target, "?");
	char path[64];
	if (strncmp(r->target, "/__origin/", 10) == 0 && plen < sizeof path) {
		memcpy(path, r->target, plen);
		path[plen] = '\0';
		return control(c, r, path, method);
	}
	/* The CDN's reserved health path is not the origin's: nodes probe it
	 * (heartbeats, and discovery of an upstream's event stream) and, like a
	 * real origin, this one does not have it. Those probes are not the
	 * traffic the tests count, so they are not recorded. */
	if (plen == strlen(CDN_HEALTH_PATH) && strncmp(r->target, CDN_HEALTH_PATH, plen) == 0)
		return send_and_free(c, 404, MHD_create_response_from_buffer(10, (void *)"not found\n",
		    MHD_RESPMEM_PERSISTENT));
	uint64_t count = record(c, r, method);
	char *q = NULL;
	pthread_mutex_lock(&lock);
	struct override *o = override_locked(r->target);
	if (o)
		oom(q = strdup(o->query));
	pthread_mutex_unlock(&lock);
	if (q) {
		clear_params(r);
		parse_query_string(r, q);
		free(q);
	}
	return answer(c, r, url, method, count);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	const char *listen_arg = NULL, *usage = "usage: test-origin -l HOST:PORT [--root DIR]\n";
	char host[256];
	struct addrinfo hints = { 0 }, *ai = NULL;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-l") == 0 || strcmp(argv[i], "--listen") == 0) && i + 1 < argc) {
			listen_arg = argv[++i];
		} else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			root = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "test-origin: bad argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	const char *colon = listen_arg ? strrchr(listen_arg, ':') : NULL;
	if (colon == NULL || (size_t)(colon - listen_arg) >= sizeof host) {
		fputs(usage, stderr);
		return 2;
	}
	memcpy(host, listen_arg, (size_t)(colon - listen_arg));
	host[colon - listen_arg] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {       /* [::1]:0 */
		h[hl - 1] = '\0';
		h++;
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "test-origin: %s: %s\n", listen_arg, gai_strerror(gai));
		return 2;
	}

	/* Block the stop signals before MHD starts its threads; main sigwaits. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		MHD_OPTION_URI_LOG_CALLBACK, uri_logged, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512 * 1024),
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (d == NULL) {
		fprintf(stderr, "test-origin: cannot listen on %s\n", listen_arg);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %s:%u\n", host, info ? (unsigned)info->port : 0u);
	fflush(stdout);

	while (sigwait(&set, &sig) != 0)
		;
	atomic_store(&stopping, 1);
	MHD_stop_daemon(d);
	reset_all();
	return 0;
}
