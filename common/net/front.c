/*
 * front.c: the client side of a node on libmicrohttpd.
 *
 * Threading: MHD runs an epoll loop per pool thread; a request never blocks
 * one. A miss submits a fetch to the curl loop (net/fetch) and suspends the
 * connection; the object's wake callback resumes it when the head or more
 * body arrives. Suspend and resume of one request both happen under the
 * object's mutex, so a resume can never overtake its suspend.
 *
 * Ownership: struct req is created by the URI-log callback, owned by MHD's
 * per-request slot, and freed in the request-completed callback, which also
 * detaches it from its object and drops its reference. A hit response holds
 * its own reference on the object, dropped by MHD's free callback, so the
 * body buffer lives exactly as long as libmicrohttpd sends it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/stats.h"
#include "http/cc.h"
#include "http/fresh.h"
#include "http/hdrs.h"
#include "http/key.h"
#include "http/range.h"
#include "util/httpdate.h"
#include "net/fetch.h"
#include "net/fill.h"
#include "net/front.h"
#include "net/route.h"
#include "net/upstream.h"
#include "store/cache.h"
#include "store/obj.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

#define REQ_MAGIC 0x7e9c3a11u

struct front {
	struct front_deps d;
	struct MHD_Daemon *mhd;
	/* Known only once MHD runs (port 0), and read by its threads. */
	pthread_mutex_t addr_mtx;
	unsigned port;            /* (addr_mtx) */
	char data_addr[300];      /* (addr_mtx) bound host:port, for the health answer */
	char admin_addr[300];     /* (addr_mtx) the admin listener's, once it is bound */
	char *name;
	char via[300];
	atomic_ullong next_id;
};

/* R_NEW: head just parsed. libmicrohttpd closes the connection after any
 * answer queued in that first call, so even a hit waits for the second call
 * (R_READY), which comes at once for a request without a body. */
enum req_phase { R_NEW, R_READY, R_BODY, R_WAIT, R_DONE };

/* Why a request goes upstream without the cache (Cache-Status fwd=). */
enum pass_why { PASS_NONE, PASS_METHOD, PASS_REQUEST, PASS_UNCACHEABLE };

struct req {
	unsigned magic;
	unsigned long long id;
	struct front *fr;
	struct MHD_Connection *conn;
	char *target;
	char *method;
	char client[INET6_ADDRSTRLEN];
	const struct sockaddr *peer;   /* valid while the connection lives */
	struct tier *tier;        /* chosen on the first fetch */
	const char *region;
	enum req_phase phase;

	const char *key;          /* points into target */
	size_t keylen;
	uint64_t hash;
	struct hdrs in;           /* the client's request fields */
	struct cc reqcc;          /* the request's Cache-Control */
	bool pragma_no_cache;     /* Pragma: no-cache without Cache-Control */
	bool has_auth;            /* Authorization present (RFC 9111 3.5) */

	struct obj *obj;          /* the object this request reads */
	struct obj_reader rd;
	bool suspended;           /* (obj->mtx) */
	bool head;
	bool owner;               /* this request started the fetch it reads */
	enum pass_why pass;
	const char *xcache;       /* HIT MISS STALE PASS ... */
	const char *fwd;          /* Cache-Status fwd value or NULL */
	unsigned retries;

	uint8_t *body;
	size_t body_len, body_cap;
	bool body_too_big;

	int status;
	uint64_t sent;
	struct timespec t0, tup0, tup1;
	bool upstream_asked;
	bool http11;              /* the client speaks HTTP/1.1: chunked is possible */
	/* A streamed answer whose Repr-Digest goes in a trailer (RFC 9530 with
	 * RFC 9110 6.5): MHD keeps the response alive until it is sent. */
	struct MHD_Response *sresp;
	bool trailer;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls);
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe);
static enum MHD_Result start_cache_lookup(struct req *r);
static enum MHD_Result start_fetch(struct req *r, struct obj *o, bool for_cache);
static enum MHD_Result start_fetch_full(struct req *r, struct obj *o, bool for_cache,
    struct obj *stale, struct obj *replace);
static enum MHD_Result wait_or_respond(struct req *r);
static enum MHD_Result respond_whole(struct req *r, struct obj *o);
static void wake_req(struct obj_reader *rd);
static struct MHD_Response *file_response(const struct obj *o, uint64_t off, uint64_t len);
static bool auth_allows(const struct req *r, const struct obj *o);

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* ---------------------------------------------------------------- small responses */

static void
add_common(struct req *r, struct MHD_Response *resp, const char *xcache, const char *cstatus)
{
	MHD_add_response_header(resp, "Via", r->fr->via);
	MHD_add_response_header(resp, "X-Cache", xcache);
	if (cstatus != NULL)
		MHD_add_response_header(resp, "Cache-Status", cstatus);
}

static enum MHD_Result
respond_text(struct req *r, unsigned status, const char *text, const char *extra_name,
    const char *extra_value)
{
	struct MHD_Response *resp;
	char cs[400];
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Age", "0");
	snprintf(cs, sizeof cs, "%s; fwd=%s; detail=\"%u\"", r->fr->name,
	    r->fwd != NULL ? r->fwd : "miss", status);
	add_common(r, resp, r->xcache != NULL ? r->xcache : "MISS", status >= 500 ? cs : NULL);
	if (extra_name != NULL)
		MHD_add_response_header(resp, extra_name, extra_value);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->status = (int)status;
	r->sent = strlen(text);
	r->phase = R_DONE;
	return ret;
}

static enum MHD_Result
respond_error(struct req *r, unsigned status)
{
	const char *text;

	switch (status) {
	case 400: text = "400 Bad Request\n"; break;
	case 404: text = "404 Not Found\n"; break;
	case 413: text = "413 Content Too Large: the request body is over the limit\n"; break;
	case 414: text = "414 URI Too Long\n"; break;
	case 431: text = "431 Request Header Fields Too Large\n"; break;
	case 502: text = "502 Bad Gateway: the upstream could not be reached or failed\n"; break;
	case 503: text = "503 Service Unavailable\n"; break;
	case 504: text = "504 Gateway Timeout: the upstream did not answer in time\n"; break;
	default: text = "error\n"; break;
	}
	if (status < 500)
		STATS_INC(client_errors);
	return respond_text(r, status, text, NULL, NULL);
}

static enum MHD_Result
respond_health(struct req *r)
{
	struct front *fr = r->fr;
	char body[1024], addr[300], admin[300];
	struct cache_stats cs;
	unsigned port;

	cache_get_stats(fr->d.cache, &cs);
	PTOK(pthread_mutex_lock(&fr->addr_mtx));
	port = fr->port;
	memcpy(addr, fr->data_addr, sizeof addr);
	memcpy(admin, fr->admin_addr, sizeof admin);
	PTOK(pthread_mutex_unlock(&fr->addr_mtx));
	snprintf(body, sizeof body,
	    "{\"status\":\"ok\",\"role\":\"%s\",\"name\":\"%s\",\"data\":\"%s\","
	    "\"admin\":\"%s\",\"port\":%u,\"upstreams\":%u,\"mem_objects\":%llu,"
	    "\"mem_bytes\":%llu,\"version\":\"%s\"}\n",
	    fr->d.cfg->role, fr->name, addr,
	    admin, port,
	    route_ntiers_nodes(fr->d.route), (unsigned long long)cs.objects,
	    (unsigned long long)cs.bytes, PACKAGE_VERSION);
	r->xcache = "PASS";
	return respond_text(r, 200, body, "Content-Type", "application/json");
}

/* ---------------------------------------------------------------- request fields */

static enum MHD_Result
collect_hdr(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
    const char *value, size_t vlen)
{
	struct hdrs *h = cls;

	hdrs_addn(h, key, klen, value != NULL ? value : "", value != NULL ? vlen : 0);
	return MHD_YES;
}

static bool
is_conditional_or_range(const char *name)
{
	static const char *const names[] = { "If-None-Match", "If-Modified-Since", "If-Match",
		"If-Unmodified-Since", "If-Range", "Range" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/* The fields sent upstream: the client's, less hop-by-hop and what curl
 * sets itself, plus the forwarding trail. A fetch for the cache also drops
 * conditionals and Range: it wants the whole, storable answer. */
static void
upstream_hdrs(struct req *r, bool for_cache, struct hdrs *out)
{
	struct hdrs tmp;
	const char *xff, *host, *via;
	char *v;

	hdrs_init(&tmp);
	hdrs_copy(&tmp, &r->in);
	hdrs_strip_hop_by_hop(&tmp);
	hdrs_init(out);
	for (unsigned i = 0; i < tmp.n; i++) {
		const char *n = tmp.v[i].name;

		if (strcasecmp(n, "Host") == 0 || strcasecmp(n, "Content-Length") == 0 ||
		    strcasecmp(n, "Expect") == 0 || strcasecmp(n, "X-Forwarded-For") == 0 ||
		    strcasecmp(n, "Via") == 0)
			continue;
		if (for_cache && is_conditional_or_range(n))
			continue;
		hdrs_add(out, n, tmp.v[i].value);
	}
	hdrs_fini(&tmp);
	xff = hdrs_get(&r->in, "X-Forwarded-For");
	v = xff != NULL ? xasprintf("%s, %s", xff, r->client) : xstrdup(r->client);
	hdrs_add(out, "X-Forwarded-For", v);
	free(v);
	host = hdrs_get(&r->in, "Host");
	if (host != NULL && hdrs_get(&r->in, "X-Forwarded-Host") == NULL)
		hdrs_add(out, "X-Forwarded-Host", host);
	via = hdrs_get(&r->in, "Via");
	v = via != NULL ? xasprintf("%s, %s", via, r->fr->via) : xstrdup(r->fr->via);
	hdrs_add(out, "Via", v);
	free(v);
}

/* ---------------------------------------------------------------- object responses */

/* Fields a 304 carries (RFC 9110 15.4.5), besides ours. */
static bool
is_304_field(const char *n)
{
	static const char *const names[] = { "ETag", "Cache-Control", "Expires", "Vary",
		"Content-Location", "Date", "Last-Modified", "CDN-Cache-Control" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcasecmp(n, names[i]) == 0)
			return true;
	return false;
}

static void
add_obj_headers(struct req *r, struct MHD_Response *resp, const struct obj *o, time_t now,
    bool for_304)
{
	const char *upstream_cs = NULL, *upstream_via = NULL;
	char buf[1024], *v;
	int64_t age = fresh_current_age(o->initial_age, o->response_time, now);

	for (unsigned i = 0; i < o->hdrs.n; i++) {
		const char *n = o->hdrs.v[i].name, *val = o->hdrs.v[i].value;

		if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Age") == 0 ||
		    strcasecmp(n, "X-Cache") == 0 || strcasecmp(n, "Repr-Digest") == 0)
			continue;
		if (for_304 && !is_304_field(n))
			continue;
		if (strcasecmp(n, "Cache-Status") == 0) {
			upstream_cs = val;
			continue;
		}
		if (strcasecmp(n, "Via") == 0) {
			upstream_via = val;
			continue;
		}
		MHD_add_response_header(resp, n, val);
	}
	snprintf(buf, sizeof buf, "%lld", (long long)(age < 0 ? 0 : age));
	MHD_add_response_header(resp, "Age", buf);
	v = upstream_via != NULL ? xasprintf("%s, %s", upstream_via, r->fr->via) : xstrdup(r->fr->via);
	MHD_add_response_header(resp, "Via", v);
	free(v);
	MHD_add_response_header(resp, "X-Cache", r->xcache);
	if (r->fwd == NULL)
		snprintf(buf, sizeof buf, "%s; hit; ttl=%lld", r->fr->name,
		    (long long)(o->lifetime - age));
	else if (o->flags & OBJF_CACHEABLE)
		snprintf(buf, sizeof buf, "%s; fwd=%s; fwd-status=%d; stored; ttl=%lld", r->fr->name,
		    r->fwd, o->upstream_status, (long long)(o->lifetime - age));
	else
		snprintf(buf, sizeof buf, "%s; fwd=%s; fwd-status=%d", r->fr->name, r->fwd,
		    o->upstream_status);
	v = upstream_cs != NULL ? xasprintf("%s, %s", upstream_cs, buf) : xstrdup(buf);
	MHD_add_response_header(resp, "Cache-Status", v);
	free(v);
	if (r->trailer) {
		/* It goes in the trailer (respond_whole). */
	} else if (!for_304 && ((o->flags & OBJF_DIGEST) || obj_state(o) == OBJ_COMPLETE)) {
		char rd[DIGEST_FIELD_LEN];

		digest_field(o->sha, rd);
		MHD_add_response_header(resp, "Repr-Digest", rd);
	} else if (!for_304 && o->status == 200 && (v = (char *)hdrs_get(&o->hdrs, "Repr-Digest")) != NULL) {
		/* Still arriving: pass on upstream's digest, which the fetch
		 * checks; a mismatch ends this answer with an error. */
		MHD_add_response_header(resp, "Repr-Digest", v);
	}
}

static void
free_obj_ref(void *cls)
{
	struct obj *o = cls;

	obj_unref(&o);
}

static ssize_t
read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	struct obj *o = r->obj;
	enum obj_read rr;
	size_t got = 0;

	CHECK_OBJ_NOTNULL(r, REQ_MAGIC);
	obj_lock(o);
	rr = obj_read_locked(o, &r->rd, buf, max, &got);
	if (rr == OBJ_READ_WAIT) {
		r->suspended = true;
		MHD_suspend_connection(r->conn);
	}
	obj_unlock(o);
	switch (rr) {
	case OBJ_READ_FILE: {
		/* A body on its way to (or from) the disk tier: those bytes
		 * are in the file and never change, so no lock is needed. */
		ssize_t n = pread(r->rd.fd, buf, got, (off_t)(r->rd.pos - got));

		if (n != (ssize_t)got) {
			log_req(LVL_ERROR, r->id, "cannot read the body file of %s", r->target);
			r->status = 0;
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		r->sent += got;
		return n;
	}
	case OBJ_READ_DATA:
		r->sent += got;
		return (ssize_t)got;
	case OBJ_READ_WAIT:
		return 0;
	case OBJ_READ_EOF:
		if (r->trailer) {
			/* EOF means COMPLETE (seen under the lock): the digest is
			 * known now. libmicrohttpd sends the footers it finds on
			 * the response when it ends the chunked body. */
			char rd[DIGEST_FIELD_LEN];

			digest_field(o->sha, rd);
			MHD_add_response_footer(r->sresp, "Repr-Digest", rd);
			r->trailer = false;
		}
		return MHD_CONTENT_READER_END_OF_STREAM;
	case OBJ_READ_ERROR:
	default:
		r->status = 0; /* truncated: the connection is closed */
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

/* RFC 9111 4.4: a successful unsafe request invalidates its target, and
 * the Location and Content-Location it names when they are on this node's
 * origin (a path, or an absolute URL with the request's Host). */
static void
invalidate_one(struct req *r, const char *target)
{
	const char *k = NULL, *host = hdrs_get(&r->in, "Host");
	size_t klen = 0, hlen;

	if (target[0] == '/') {
		k = key_from_target(target, &klen);
	} else if (host != NULL && (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0)) {
		const char *auth = strstr(target, "//") + 2;

		hlen = strlen(host);
		if (strncasecmp(auth, host, hlen) == 0 && auth[hlen] == '/')
			k = key_from_target(target, &klen);
	}
	if (k == NULL)
		return;
	cache_purge_url(r->fr->d.cache, k, klen);
}

static void
invalidate_after_unsafe(struct req *r, const struct obj *o)
{
	const char *loc;

	if (r->pass != PASS_METHOD || o->status < 200 || o->status >= 400 ||
	    strcmp(r->method, "OPTIONS") == 0 || strcmp(r->method, "TRACE") == 0)
		return;
	invalidate_one(r, r->key);
	if ((loc = hdrs_get(&o->hdrs, "Location")) != NULL)
		invalidate_one(r, loc);
	if ((loc = hdrs_get(&o->hdrs, "Content-Location")) != NULL)
		invalidate_one(r, loc);
}

/* Weak comparison of two entity-tags (RFC 9110 8.8.3.2). */
static bool
etag_weak_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen >= 2 && a[0] == 'W' && a[1] == '/') {
		a += 2;
		alen -= 2;
	}
	if (blen >= 2 && b[0] == 'W' && b[1] == '/') {
		b += 2;
		blen -= 2;
	}
	return alen == blen && alen >= 2 && a[0] == '"' && memcmp(a, b, alen) == 0;
}

/* RFC 9111 4.3.2: may a stored response answer r's conditional with 304?
 * If-None-Match wins over If-Modified-Since. */
static bool
not_modified(struct req *r, const struct obj *o)
{
	char *inm;
	const char *etag, *ims, *lm, *p, *e;
	size_t elen;
	time_t t_ims, t_lm;
	bool match = false;

	if (o->status != 200)
		return false;
	inm = hdrs_join(&r->in, "If-None-Match");
	if (inm != NULL) {
		etag = hdrs_get(&o->hdrs, "ETag");
		p = inm;
		while ((p = hdrs_list_next(p, &e, &elen)) != NULL) {
			if ((elen == 1 && e[0] == '*') ||
			    (etag != NULL && etag_weak_eq(e, elen, etag, strlen(etag)))) {
				match = true;
				break;
			}
		}
		free(inm);
		return match;
	}
	ims = hdrs_get(&r->in, "If-Modified-Since");
	if (ims == NULL || httpdate_parse(ims, &t_ims) != CDN_OK)
		return false;
	lm = hdrs_get(&o->hdrs, "Last-Modified");
	if (lm == NULL)
		lm = hdrs_get(&o->hdrs, "Date");
	if (lm == NULL || httpdate_parse(lm, &t_lm) != CDN_OK)
		return false;
	return t_lm <= t_ims;
}

static enum MHD_Result
respond_304(struct req *r, struct obj *o)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	add_obj_headers(r, resp, o, time(NULL), true);
	/* libmicrohttpd 0.9.75 adds "Content-Length: 0" to a 304 and offers no
	 * way to leave it out; clients ignore it on a 304. */
	r->status = 304;
	r->sent = 0;
	ret = MHD_queue_response(r->conn, 304, resp);
	MHD_destroy_response(resp);
	r->phase = R_DONE;
	return ret;
}

/* Should r get part of o (RFC 9110 14)? Ranges are served from stored,
 * complete 200 answers; a pass relays upstream's own 206. */
static bool
wants_range(struct req *r, const struct obj *o)
{
	const char *ir, *v;
	time_t a, b;

	if (r->pass != PASS_NONE || o->status != 200 || strcmp(r->method, "GET") != 0 ||
	    hdrs_get(&r->in, "Range") == NULL)
		return false;
	ir = hdrs_get(&r->in, "If-Range");
	if (ir == NULL)
		return true;
	/* If-Range needs a strong match (RFC 9110 13.1.5): else the whole. */
	if (ir[0] == '"') {
		v = hdrs_get(&o->hdrs, "ETag");
		return v != NULL && strcmp(v, ir) == 0;
	}
	v = hdrs_get(&o->hdrs, "Last-Modified");
	return v != NULL && httpdate_parse(ir, &a) == CDN_OK && httpdate_parse(v, &b) == CDN_OK &&
	    a == b;
}

static enum MHD_Result
respond_range(struct req *r, struct obj *o)
{
	struct range rg[RANGE_MAX];
	unsigned n = 0;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char cr[128];
	const char *ctype = hdrs_get(&o->hdrs, "Content-Type");

	switch (range_parse(hdrs_get(&r->in, "Range"), o->len, rg, &n)) {
	case RANGE_IGNORE:
		return respond_whole(r, o);
	case RANGE_UNSATISFIABLE:
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)o->len);
		add_obj_headers(r, resp, o, time(NULL), true);
		MHD_add_response_header(resp, "Content-Range", cr);
		r->status = 416;
		break;
	case RANGE_OK:
	default:
		if (n > 1 && (o->flags & OBJF_FILE))
			/* Several parts of a body that is not in memory: the
			 * whole (RFC 9110 14.2 allows ignoring Range). */
			return respond_whole(r, o);
		if (n == 1 && (o->flags & OBJF_FILE)) {
			resp = file_response(o, rg[0].first, rg[0].last - rg[0].first + 1);
			if (resp == NULL)
				return MHD_NO;
			snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)rg[0].first,
			    (unsigned long long)rg[0].last, (unsigned long long)o->len);
			add_obj_headers(r, resp, o, time(NULL), false);
			MHD_add_response_header(resp, "Content-Range", cr);
			r->sent = rg[0].last - rg[0].first + 1;
		} else if (n == 1) {
			obj_ref(o);
			resp = MHD_create_response_from_buffer_with_free_callback_cls(
			    (size_t)(rg[0].last - rg[0].first + 1), o->data + rg[0].first,
			    free_obj_ref, o);
			if (resp == NULL) {
				struct obj *tmp = o;

				obj_unref(&tmp);
				return MHD_NO;
			}
			snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)rg[0].first,
			    (unsigned long long)rg[0].last, (unsigned long long)o->len);
			add_obj_headers(r, resp, o, time(NULL), false);
			MHD_add_response_header(resp, "Content-Range", cr);
			r->sent = rg[0].last - rg[0].first + 1;
		} else {
			/* multipart/byteranges (RFC 9110 14.6): one copy, built here. */
			char boundary[40], *body, *ct;
			size_t cap = 0, len = 0;

			snprintf(boundary, sizeof boundary, "CDN-%016llx", (unsigned long long)r->id * 2654435761ULL);
			for (unsigned i = 0; i < n; i++)
				cap += 256 + (ctype != NULL ? strlen(ctype) : 0) +
				    (size_t)(rg[i].last - rg[i].first + 1);
			cap += 64;
			body = xmalloc(cap);
			for (unsigned i = 0; i < n; i++) {
				len += (size_t)snprintf(body + len, cap - len,
				    "\r\n--%s\r\n%s%s%sContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
				    boundary, ctype != NULL ? "Content-Type: " : "", ctype != NULL ? ctype : "",
				    ctype != NULL ? "\r\n" : "", (unsigned long long)rg[i].first,
				    (unsigned long long)rg[i].last, (unsigned long long)o->len);
				memcpy(body + len, o->data + rg[i].first, (size_t)(rg[i].last - rg[i].first + 1));
				len += (size_t)(rg[i].last - rg[i].first + 1);
			}
			len += (size_t)snprintf(body + len, cap - len, "\r\n--%s--\r\n", boundary);
			resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
			if (resp == NULL) {
				free(body);
				return MHD_NO;
			}
			add_obj_headers(r, resp, o, time(NULL), false);
			MHD_del_response_header(resp, "Content-Type", ctype != NULL ? ctype : "");
			ct = xasprintf("multipart/byteranges; boundary=%s", boundary);
			MHD_add_response_header(resp, "Content-Type", ct);
			free(ct);
			r->sent = len;
		}
		r->status = 206;
		break;
	}
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	r->phase = R_DONE;
	return ret;
}

/* A response of len bytes at off of the body file of o (COMPLETE,
 * OBJF_FILE): libmicrohttpd sends it from its own descriptor (sendfile where
 * it can) and closes it; o's stays open for others. NULL on failure. */
static struct MHD_Response *
file_response(const struct obj *o, uint64_t off, uint64_t len)
{
	struct MHD_Response *resp;
	int fd = dup(obj_file_fd(o));

	if (fd < 0)
		return NULL;
	resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
	if (resp == NULL)
		close(fd);
	return resp;
}

/* Answer from o, which is past BUSY. COMPLETE objects go out straight from
 * their buffer; others stream as the fetch fills them. */
static enum MHD_Result
respond_obj(struct req *r, struct obj *o)
{
	if (r->pass == PASS_NONE && (hdrs_get(&r->in, "If-None-Match") != NULL ||
	    hdrs_get(&r->in, "If-Modified-Since") != NULL) && not_modified(r, o))
		return respond_304(r, o);
	/* A body in a file its writer has not finished yet streams whole
	 * (RFC 9110 14.2 allows ignoring Range) until it is all there. */
	if (wants_range(r, o) && obj_body_ready(o))
		return respond_range(r, o);
	return respond_whole(r, o);
}

static enum MHD_Result
respond_whole(struct req *r, struct obj *o)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	time_t now = time(NULL);
	bool ready = obj_body_ready(o);

	if (ready && (o->flags & OBJF_FILE)) {
		resp = file_response(o, 0, o->len);
		if (resp == NULL)
			return MHD_NO;
		r->sent = r->head ? 0 : o->len;
	} else if (ready) {
		obj_ref(o);
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    (size_t)(o->len - ((o->flags & OBJF_CACHEABLE) ? 0 : obj_base(o))), o->data,
		    free_obj_ref, o);
		if (resp == NULL) {
			struct obj *tmp = o;

			obj_unref(&tmp);
			return MHD_NO;
		}
		r->sent = r->head ? 0 : o->len;
	} else {
		int64_t elen = obj_expected_len(o);
		uint64_t size = elen >= 0 ? (uint64_t)elen : MHD_SIZE_UNKNOWN;
		/* The digest of a body still arriving is known only at its end:
		 * unless upstream stated it (then it is a header), it goes in a
		 * trailer, which needs chunked framing (HTTP/1.1 only). */
		bool trailer = r->http11 && !r->head && elen != 0 && !(o->flags & OBJF_DIGEST) &&
		    obj_state(o) != OBJ_COMPLETE &&
		    o->status >= 200 && o->status != 204 && o->status != 304 &&
		    !(o->status == 200 && hdrs_get(&o->hdrs, "Repr-Digest") != NULL);

		if (trailer)
			size = MHD_SIZE_UNKNOWN;
		resp = MHD_create_response_from_callback(size, 64 * 1024, read_body, r, NULL);
		if (resp == NULL)
			return MHD_NO;
		if (!r->rd.attached) {
			/* A hit on a file body still being written: read it as
			 * the fetch's waiters do. */
			r->rd.wake = wake_req;
			r->rd.arg = r;
			obj_attach(o, &r->rd);
		}
		if (trailer) {
			MHD_add_response_header(resp, "Trailer", "Repr-Digest");
			r->sresp = resp;
			r->trailer = true;
		}
	}
	add_obj_headers(r, resp, o, now, false);
	invalidate_after_unsafe(r, o);
	r->status = o->status;
	ret = MHD_queue_response(r->conn, (unsigned)o->status, resp);
	MHD_destroy_response(resp);
	r->phase = R_DONE;
	return ret;
}

/* ---------------------------------------------------------------- waiting */

/* Called by the fetch side with o->mtx held. */
static void
wake_req(struct obj_reader *rd)
{
	struct req *r = rd->arg;

	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

/* Does o, whose head is known, answer r as far as Vary goes? */
static bool
variant_matches(struct req *r, const struct obj *o)
{
	const char *vary = hdrs_get(&o->hdrs, "Vary");
	size_t len;
	char *k;
	bool same;

	if (vary == NULL)
		return true;
	k = key_variant(r->key, r->keylen, key_variant_gen(o->key, o->keylen), vary, &r->in, &len);
	if (k == NULL)
		return false;
	same = len == o->keylen && memcmp(k, o->key, len) == 0;
	free(k);
	return same;
}

/* r is attached to r->obj. Respond if the head is there, else sleep. */
static enum MHD_Result
wait_or_respond(struct req *r)
{
	struct obj *o = r->obj;
	enum obj_state st;
	bool shareable;

	obj_lock(o);
	st = o->state;
	if (st == OBJ_BUSY && (o->flags & OBJF_RELEASED) && !r->owner) {
		/* The fetch we waited on is slow: go upstream alone (bounded
		 * coalescing), without the cache. */
		obj_unlock(o);
		obj_detach(o, &r->rd);
		obj_unref(&r->obj);
		r->pass = PASS_UNCACHEABLE;
		return start_fetch(r, NULL, false);
	}
	if (st == OBJ_BUSY || (st == OBJ_STREAMING && r->pass == PASS_NONE &&
	    hdrs_get(&r->in, "Range") != NULL && o->status == 200 &&
	    (o->flags & OBJF_CACHEABLE) && !(o->flags & OBJF_TOO_BIG))) {
		/* No head yet, or a range wanted from a body still arriving:
		 * sleep until the object changes. */
		r->rd.waiting = true;
		r->suspended = true;
		MHD_suspend_connection(r->conn);
		obj_unlock(o);
		r->phase = R_WAIT;
		return MHD_YES;
	}
	shareable = (o->flags & OBJF_CACHEABLE) && !(o->flags & OBJF_TOO_BIG) &&
	    obj_base_locked(o) == 0;
	obj_unlock(o);
	clock_gettime(CLOCK_MONOTONIC, &r->tup1);

	if (st == OBJ_FAILED) {
		r->xcache = "MISS";
		return respond_error(r, (unsigned)(o->error_status ? o->error_status : 502));
	}
	if (!r->owner && (!shareable || !auth_allows(r, o))) {
		/* This request waited on another's fetch whose answer cannot be
		 * shared (private, no-store, too big): it goes upstream itself. */
		obj_detach(o, &r->rd);
		obj_unref(&r->obj);
		r->pass = PASS_UNCACHEABLE;
		return start_fetch(r, NULL, false);
	}
	if (!r->owner && !variant_matches(r, o)) {
		/* The answer varies on a field this request sends differently:
		 * look again (the vary marker now routes it to its variant). */
		obj_detach(o, &r->rd);
		obj_unref(&r->obj);
		return start_cache_lookup(r);
	}
	if (o->note == NOTE_DISK && r->pass == PASS_NONE) {
		/* Filled from the disk tier: a hit, not a miss. */
		if (r->owner) {
			atomic_fetch_sub_explicit(&stats_g.misses, 1, memory_order_relaxed);
			STATS_INC(hits);
		}
		r->xcache = "HIT";
		r->fwd = NULL;
	} else if (o->note == NOTE_REVALIDATED) {
		r->xcache = "REVALIDATED";
	} else if (r->fwd != NULL && strcmp(r->fwd, "stale") == 0) {
		r->xcache = o->note == NOTE_STALE ? "STALE" : "MISS";
	}
	return respond_obj(r, o);
}

/* ---------------------------------------------------------------- lookups */

static void
attach(struct req *r, struct obj *o)
{
	r->obj = o;
	r->rd.wake = wake_req;
	r->rd.arg = r;
	obj_attach(o, &r->rd);
}

/* Fill in what every fetch for r sends. */
static void
spec_for(struct req *r, struct fetch_spec *spec, bool for_cache, struct obj *stale)
{
	const char *v;

	memset(spec, 0, sizeof *spec);
	spec->method = for_cache ? "GET" : r->method;
	spec->target = xstrdup(r->key != NULL ? r->key : r->target);
	spec->hash = r->hash;
	if (r->tier == NULL)
		r->tier = route_tier(r->fr->d.route, r->peer, &r->in, &r->region);
	spec->tier = r->tier;
	upstream_hdrs(r, for_cache, &spec->hdrs);
	spec->for_cache = for_cache;
	spec->reqid = r->id;
	hdrs_init(&spec->vary_req);
	if (for_cache)
		hdrs_copy(&spec->vary_req, &r->in);
	if (stale != NULL) {
		/* Revalidate with the stored validators (RFC 9111 4.3.1). */
		if ((v = hdrs_get(&stale->hdrs, "ETag")) != NULL)
			hdrs_add(&spec->hdrs, "If-None-Match", v);
		if ((v = hdrs_get(&stale->hdrs, "Last-Modified")) != NULL)
			hdrs_add(&spec->hdrs, "If-Modified-Since", v);
		spec->stale = stale;
	}
}

/* Go upstream for r. With o (a BUSY object already indexed) the fetch fills
 * the cache; without, a private object is made (pass). With stale, the
 * stored object o replaces is revalidated and backs up failures. */
static enum MHD_Result
start_fetch_stale(struct req *r, struct obj *o, bool for_cache, struct obj *stale)
{
	return start_fetch_full(r, o, for_cache, stale, NULL);
}

/* As start_fetch_stale; with replace, o is not indexed and takes replace's
 * place once it completes as a storable answer (hit-for-miss). */
static enum MHD_Result
start_fetch_full(struct req *r, struct obj *o, bool for_cache, struct obj *stale,
    struct obj *replace)
{
	struct fetch_spec spec;
	time_t now = time(NULL);

	if (o == NULL)
		o = obj_new(r->key != NULL ? r->key : r->target,
		    r->key != NULL ? r->keylen : strlen(r->target), r->hash);
	attach(r, o);
	spec_for(r, &spec, for_cache, stale);
	spec.replace = replace;
	if (stale != NULL) {
		int64_t age = fresh_current_age(stale->initial_age, stale->response_time, now);

		if (atomic_load(&stale->soft_purged) && age <= stale->lifetime)
			age = stale->lifetime + 1;

		spec.must_confirm = (stale->rcc.flags & (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE)) ||
		    stale->rcc.s_maxage != CC_UNSET;
		struct cc sc;

		obj_cc_get(&stale->rcc, &sc);
		spec.stale_on_error = fresh_can_sie(&r->reqcc, &sc, stale->lifetime, age) ||
		    (r->fr->d.cfg->stale_if_error > 0 && !spec.must_confirm &&
		    !(stale->rcc.flags & CC_NO_CACHE) &&
		    age - stale->lifetime <= (int64_t)r->fr->d.cfg->stale_if_error);
	}
	if (r->body != NULL || (!for_cache && (hdrs_get(&r->in, "Content-Length") != NULL ||
	    hdrs_get(&r->in, "Transfer-Encoding") != NULL))) {
		spec.body = r->body;
		spec.body_len = r->body_len;
		spec.has_body = true;
		r->body = NULL;
	}
	r->upstream_asked = true;
	r->owner = true;
	clock_gettime(CLOCK_MONOTONIC, &r->tup0);
	if (for_cache) {
		STATS_INC(misses);
		r->xcache = "MISS";
		r->fwd = stale != NULL ? "stale" : r->fwd != NULL ? r->fwd : "miss";
	} else {
		STATS_INC(passes);
		r->xcache = "PASS";
		r->fwd = r->pass == PASS_METHOD ? "method" :
		    r->pass == PASS_REQUEST ? "request" : "uri-miss";
	}
	if (for_cache && stale == NULL && replace == NULL)
		fill_submit(r->fr->d.filler, o, &spec, !(r->reqcc.flags & CC_NO_CACHE) &&
		    !r->pragma_no_cache && r->reqcc.max_age == CC_UNSET &&
		    r->reqcc.min_fresh == CC_UNSET);
	else
		fetch_submit(r->fr->d.fetcher, o, &spec);
	return wait_or_respond(r);
}

static enum MHD_Result
start_fetch(struct req *r, struct obj *o, bool for_cache)
{
	return start_fetch_stale(r, o, for_cache, NULL);
}

/* stale-while-revalidate: one background fetch refreshes stale in place. */
static void
refresh_in_background(struct req *r, struct obj *stale)
{
	struct fetch_spec spec;
	struct obj *o;

	if (atomic_exchange(&stale->_refreshing, true))
		return; /* one is already running */
	o = obj_new(stale->key, stale->keylen, obj_hash(stale));
	spec_for(r, &spec, true, stale);
	spec.replace = stale;
	STATS_INC(upstream_refreshes);
	fetch_submit(r->fr->d.fetcher, o, &spec);
	obj_unref(&o);
}

/* May a stored response answer a request with Authorization (RFC 9111 3.5)? */
static bool
auth_allows(const struct req *r, const struct obj *o)
{
	return !r->has_auth || (o->rcc.flags & (CC_PUBLIC | CC_MUST_REVALIDATE)) ||
	    o->rcc.s_maxage != CC_UNSET;
}

/* The key to look r up under: the URL's, or its variant's when the URL's
 * vary marker says the stored responses vary (RFC 9111 4.1). Heap string. */
static char *
lookup_key(struct req *r, size_t *len)
{
	size_t mlen;
	char *mkey = key_marker(r->key, r->keylen, &mlen), *k = NULL;
	struct obj *m = cache_lookup(r->fr->d.cache, mkey, mlen, key_hash(mkey, mlen));

	free(mkey);
	if (m != NULL) {
		const char *vary = hdrs_get(&m->hdrs, "Vary");

		if (obj_state(m) == OBJ_COMPLETE && vary != NULL)
			k = key_variant(r->key, r->keylen, obj_gen(m), vary, &r->in, len);
		obj_unref(&m);
	}
	if (k == NULL) {
		k = xstrndup(r->key, r->keylen);
		*len = r->keylen;
	}
	return k;
}

static enum MHD_Result
respond_only_if_cached(struct req *r)
{
	r->xcache = "MISS";
	r->fwd = "miss";
	return respond_text(r, 504, "504 Gateway Timeout: not in cache (only-if-cached)\n", NULL, NULL);
}

static enum MHD_Result
start_cache_lookup(struct req *r)
{
	struct obj *o, *busy;
	char *lkey;
	size_t lkeylen;
	uint64_t lhash;
	int64_t age;
	time_t now;
	bool only_cached = (r->reqcc.flags & CC_ONLY_IF_CACHED) != 0, failed;

	if (r->reqcc.flags & CC_NO_STORE) {
		r->pass = PASS_REQUEST;
		return start_fetch(r, NULL, false);
	}
	for (;;) {
		if (++r->retries > 4)
			return respond_error(r, 503);
		lkey = lookup_key(r, &lkeylen);
		lhash = key_hash(lkey, lkeylen);
		o = cache_lookup(r->fr->d.cache, lkey, lkeylen, lhash);
		if (o == NULL) {
			if (only_cached) {
				free(lkey);
				return respond_only_if_cached(r);
			}
			busy = obj_new(lkey, lkeylen, lhash);
			free(lkey);
			o = cache_insert(r->fr->d.cache, busy);
			if (o == busy) {
				obj_unref(&busy);    /* o holds the caller's reference */
				return start_fetch(r, o, true);
			}
			obj_unref(&busy);
		} else {
			free(lkey);
		}
		obj_lock(o);
		if (o->state == OBJ_BUSY || o->state == OBJ_STREAMING) {
			bool busy_state = o->state == OBJ_BUSY;
			bool shareable = busy_state ||
			    ((o->flags & OBJF_CACHEABLE) && !(o->flags & OBJF_TOO_BIG) &&
			    obj_base_locked(o) == 0);

			obj_unlock(o);
			if (only_cached) {
				obj_unref(&o);
				return respond_only_if_cached(r);
			}
			if (!shareable || (!busy_state && !auth_allows(r, o))) {
				obj_unref(&o);
				r->pass = PASS_UNCACHEABLE;
				return start_fetch(r, NULL, false);
			}
			/* Another request is fetching this key: wait on its fetch. */
			STATS_INC(coalesced);
			r->xcache = "MISS";
			r->fwd = "miss";
			attach(r, o);
			clock_gettime(CLOCK_MONOTONIC, &r->tup0);
			return wait_or_respond(r);
		}
		failed = o->state == OBJ_FAILED;
		obj_unlock(o);
		if (failed) {
			/* A failed fill still indexed for a moment: try again. */
			cache_remove(r->fr->d.cache, o);
			obj_unref(&o);
			continue;
		}
		now = time(NULL);
		age = fresh_current_age(o->initial_age, o->response_time, now);
		if (atomic_load(&o->soft_purged) && age <= o->lifetime)
			age = o->lifetime + 1; /* soft purge: stale from now on */
		if (o->flags & OBJF_HFM) {
			if (age < o->lifetime && !only_cached) {
				/* Hit-for-miss: lately uncacheable, so no queueing
				 * behind one fetch; but a storable answer replaces
				 * the marker. */
				enum MHD_Result ret;

				busy = obj_new(o->key, o->keylen, obj_hash(o));
				r->fwd = "uri-miss";
				ret = start_fetch_full(r, busy, true, NULL, o);
				obj_unref(&o);
				return ret;
			}
		} else if (!auth_allows(r, o)) {
			obj_unref(&o);
			if (only_cached)
				return respond_only_if_cached(r);
			r->pass = PASS_REQUEST;
			return start_fetch(r, NULL, false);
		} else {
			struct cc rc;

			obj_cc_get(&o->rcc, &rc);
			switch (fresh_check(&r->reqcc, r->pragma_no_cache, &rc, o->lifetime, age)) {
			case FRESH_HIT:
				STATS_INC(hits);
				cache_touch(r->fr->d.cache, o, now);
				r->xcache = "HIT";
				r->fwd = NULL;
				r->obj = o;
				return respond_obj(r, o);
			case FRESH_STALE_OK:
				STATS_INC(stale);
				r->xcache = "STALE";
				r->fwd = NULL;
				r->obj = o;
				return respond_obj(r, o);
			case FRESH_REVALIDATE:
				break;
			}
			if (only_cached) {
				obj_unref(&o);
				return respond_only_if_cached(r);
			}
			if (fresh_can_swr(&rc, o->lifetime, age) && !(o->flags & OBJF_FILE) &&
			    !(r->reqcc.flags & CC_NO_CACHE) && !r->pragma_no_cache &&
			    r->reqcc.max_age == CC_UNSET && r->reqcc.min_fresh == CC_UNSET) {
				/* Serve it now; one background fetch refreshes it. */
				STATS_INC(stale);
				refresh_in_background(r, o);
				r->xcache = "STALE";
				r->fwd = NULL;
				r->obj = o;
				return respond_obj(r, o);
			}
		}
		/* Stale (or an expired hit-for-miss): fetch anew in its place,
		 * revalidating what is stored (a body in a file is not kept in
		 * memory to back a 304: fetched whole). */
		busy = obj_new(o->key, o->keylen, obj_hash(o));
		if (cache_replace(r->fr->d.cache, o, busy)) {
			enum MHD_Result ret;

			ret = start_fetch_stale(r, busy, true,
			    (o->flags & (OBJF_HFM | OBJF_FILE)) ? NULL : o);
			obj_unref(&o);
			return ret;
		}
		obj_unref(&busy);
		obj_unref(&o);
	}
}

/* ---------------------------------------------------------------- MHD callbacks */

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct front *fr = cls;
	struct req *r = xcalloc(1, sizeof *r);
	const union MHD_ConnectionInfo *ci;

	r->magic = REQ_MAGIC;
	r->fr = fr;
	r->conn = conn;
	r->id = atomic_fetch_add(&fr->next_id, 1) + 1;
	r->target = xstrdup(uri);
	hdrs_init(&r->in);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	snprintf(r->client, sizeof r->client, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;

		r->peer = sa;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			    r->client, sizeof r->client);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			    r->client, sizeof r->client);
	}
	/* Heartbeats are not client requests. */
	if (strncmp(uri, fr->d.cfg->health_path, strlen(fr->d.cfg->health_path)) != 0)
		STATS_INC(requests);
	return r;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	struct log_access la;
	struct timespec t1;

	if (r == NULL)
		return;
	*con_cls = NULL;
	CHECK_OBJ_NOTNULL(r, REQ_MAGIC);
	if (r->obj != NULL) {
		obj_detach(r->obj, &r->rd);
		obj_unref(&r->obj);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status == 0)
		r->status = 499;
	STATS_ADD(bytes_sent, r->sent);
	memset(&la, 0, sizeof la);
	la.reqid = r->id;
	la.client = r->client;
	la.method = r->method != NULL ? r->method : "-";
	la.target = r->target;
	la.status = r->status;
	la.bytes = r->sent;
	la.cache = r->xcache != NULL ? r->xcache : "-";
	la.upstream_ms = r->upstream_asked ? ms_between(&r->tup0, &r->tup1) : -1;
	la.total_ms = ms_between(&r->t0, &t1);
	log_access(&la);
	if (r->xcache != NULL || r->status != 0) {
		stats_answer(r->status >= 500 || r->status == 499 ? "ERROR" : r->xcache);
		stats_observe(STATS_HIST_CLIENT, la.total_ms);
		if (r->upstream_asked && r->owner)
			stats_observe(STATS_HIST_UPSTREAM, la.upstream_ms);
	}
	hdrs_fini(&r->in);
	free(r->body);
	free(r->target);
	free(r->method);
	r->magic = 0;
	free(r);
}

/* Bytes of the request head as received: request line and field lines. */
static size_t
head_size(const struct req *r)
{
	size_t n = strlen(r->method) + strlen(r->target) + 12;

	for (unsigned i = 0; i < r->in.n; i++)
		n += strlen(r->in.v[i].name) + strlen(r->in.v[i].value) + 4;
	return n;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct front *fr = cls;
	struct req *r = *con_cls;
	const char *cl;

	CHECK_OBJ_NOTNULL(r, REQ_MAGIC);
	switch (r->phase) {
	case R_NEW:
		r->method = xstrdup(method);
		r->http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
		MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_hdr, &r->in);
		if (strlen(r->target) > fr->d.cfg->max_url_length)
			return respond_error(r, 414);
		if (head_size(r) > fr->d.cfg->max_header_size)
			return respond_error(r, 431);
		r->key = key_from_target(r->target, &r->keylen);
		if (r->key == NULL)
			return respond_error(r, 400);
		r->hash = key_hash(r->key, r->keylen);
		if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
			r->head = r->method[0] == 'H';
			if (*upload_data_size != 0 || hdrs_get(&r->in, "Content-Length") != NULL ||
			    hdrs_get(&r->in, "Transfer-Encoding") != NULL) {
				/* A GET with a body: read it (bounded) and pass it on. */
				r->pass = PASS_REQUEST;
				r->phase = R_BODY;
				return MHD_YES;
			}
			r->phase = R_READY;
			return MHD_YES;
		}
		r->pass = PASS_METHOD;
		cl = hdrs_get(&r->in, "Content-Length");
		if (cl != NULL && strtoull(cl, NULL, 10) > fr->d.cfg->max_body_size)
			return respond_error(r, 413);
		r->phase = R_BODY;
		return MHD_YES;
	case R_READY:
		if (strcmp(url, fr->d.cfg->health_path) == 0)
			return respond_health(r);
		cc_parse_hdrs(&r->reqcc, &r->in, "Cache-Control");
		r->pragma_no_cache = !cc_present(&r->in, "Cache-Control") &&
		    hdrs_list_has(&r->in, "Pragma", "no-cache");
		r->has_auth = hdrs_get(&r->in, "Authorization") != NULL;
		return start_cache_lookup(r);
	case R_BODY:
		if (*upload_data_size != 0) {
			size_t n = *upload_data_size;

			*upload_data_size = 0;
			if (r->body_too_big || r->body_len + n > fr->d.cfg->max_body_size) {
				r->body_too_big = true;
				return MHD_YES;
			}
			if (r->body_len + n > r->body_cap) {
				size_t cap = r->body_cap ? r->body_cap * 2 : 16384;

				while (cap < r->body_len + n)
					cap *= 2;
				if (cap > fr->d.cfg->max_body_size)
					cap = fr->d.cfg->max_body_size;
				r->body = xrealloc(r->body, cap);
				r->body_cap = cap;
			}
			memcpy(r->body + r->body_len, upload_data, n);
			r->body_len += n;
			return MHD_YES;
		}
		if (r->body_too_big)
			return respond_error(r, 413);
		return start_fetch(r, NULL, false);
	case R_WAIT:
		return wait_or_respond(r);
	case R_DONE:
		/* Body bytes after the answer was queued (e.g. a 413): drop them. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_NO;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof buf, fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_msg(LVL_DEBUG, "http: %s", buf);
}

/* ---------------------------------------------------------------- API */

struct front *
front_start(const struct front_deps *deps)
{
	struct front *fr = xcalloc(1, sizeof *fr);
	const struct cfg *cfg = deps->cfg;
	struct sockaddr_storage ss;
	char host[256];
	unsigned port, threads = cfg->threads;
	const union MHD_DaemonInfo *di;
	socklen_t sl;

	fr->d = *deps;
	PTOK(pthread_mutex_init(&fr->addr_mtx, NULL));
	fr->name = xstrdup(cfg->name);
	snprintf(fr->via, sizeof fr->via, "1.1 %s", cfg->name);
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (cfg_parse_hostport(cfg->listen, host, sizeof host, &port) != CDN_OK)
		goto Error;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else if (strcmp(host, "localhost") == 0) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else {
		log_msg(LVL_ERROR, "listen address %s: give a numeric IPv4 or IPv6 address", cfg->listen);
		goto Error;
	}
	(void)sl;
	fr->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    (uint16_t)port, NULL, NULL, on_request, fr,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    /* One thread means no pool (libmicrohttpd warns about a pool of 1). */
	    MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->client_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_header_size + 16384),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, fr,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, fr,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, fr,
	    MHD_OPTION_END);
	if (fr->mhd == NULL) {
		log_msg(LVL_ERROR, "cannot listen on %s (address in use or not available)", cfg->listen);
		goto Error;
	}
	di = MHD_get_daemon_info(fr->mhd, MHD_DAEMON_INFO_BIND_PORT);
	PTOK(pthread_mutex_lock(&fr->addr_mtx));
	fr->port = di != NULL ? di->port : port;
	snprintf(fr->data_addr, sizeof fr->data_addr, strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    host, fr->port);
	PTOK(pthread_mutex_unlock(&fr->addr_mtx));
	return fr;
Error:
	free(fr->name);
	PTOK(pthread_mutex_destroy(&fr->addr_mtx));
	free(fr);
	return NULL;
}

void
front_set_admin_addr(struct front *fr, const char *addr)
{
	PTOK(pthread_mutex_lock(&fr->addr_mtx));
	snprintf(fr->admin_addr, sizeof fr->admin_addr, "%s", addr != NULL ? addr : "");
	PTOK(pthread_mutex_unlock(&fr->addr_mtx));
}

unsigned
front_port(const struct front *fr)
{
	return fr->port; /* written by front_start, in the caller's thread */
}

void
front_quiesce(struct front *fr)
{
	MHD_socket s = MHD_quiesce_daemon(fr->mhd);

	if (s != MHD_INVALID_SOCKET)
		close(s);
}

void
front_stop(struct front **frp)
{
	struct front *fr = *frp;

	*frp = NULL;
	if (fr == NULL)
		return;
	MHD_stop_daemon(fr->mhd);
	free(fr->name);
	PTOK(pthread_mutex_destroy(&fr->addr_mtx));
	free(fr);
}
