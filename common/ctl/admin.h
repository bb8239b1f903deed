/*
 * admin.h (module admin_): the admin listener (-a), the HTTP face of the
 * control plane (ctl/ctl.h, included here for node.c).
 *
 * JSON in and out (jansson), `Authorization: Bearer TOKEN` on everything but
 * /healthz. Tokens come from the token file: one per line, `TOKEN SCOPE...`
 * with scopes read, push, purge, warm; `#` starts a comment. A missing or
 * wrong token gets 401, a token without the scope 403. Tokens are compared
 * in constant time (their SHA-256 digests, so length leaks nothing either).
 *
 *   GET  /healthz       liveness (no token)
 *   GET  /stats         counters, routing, control plane as JSON     read
 *   GET  /metrics       the same in Prometheus text format           read
 *   POST /purge         {"urls"|"prefix"|"tags"|"all", "soft",
 *                        "wait", "timeout_ms"} -> {"purged", "event",
 *                        "id", "receipts" when waiting}              purge
 *   POST /warm          {"urls":[...]} -> 202 {"job"}                warm
 *   GET  /jobs/ID       a warm job's progress and outcomes           read|warm
 *   GET  /events        Server-Sent Events of invalidations;
 *                       Last-Event-ID (or ?since=ID, ?since=0)
 *                       resumes; ?node=NAME&id=LOGID names a child  read
 *   POST /receipts      a child reports events it applied            read
 *
 * Over the rate limit (per token and per client address; admin.rate_limit
 * per second, bursts of admin.rate_burst) a request gets 429 with
 * Retry-After; a body over admin.max_body gets 413, malformed JSON 400.
 */
#ifndef CDN_ADMIN_H
#define CDN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ctl/ctl.h"

struct cache;
struct cfg;
struct fetcher;
struct route;
struct disk;
struct admin;
struct admin_tokens;

#define ADMIN_SCOPE_READ  0x1u
#define ADMIN_SCOPE_PUSH  0x2u
#define ADMIN_SCOPE_PURGE 0x4u
#define ADMIN_SCOPE_WARM  0x8u

/* Load a token file (path may be NULL: no tokens, everything but /healthz
 * is refused). Returns 0, or CDN_INVAL after printing FILE:LINE: reason. */
int admin_tokens_load(const char *path, struct admin_tokens **out, FILE *err);
void admin_tokens_free(struct admin_tokens **tp);
/* Scopes granted to a presented token (0 if none or unknown). */
unsigned admin_tokens_check(const struct admin_tokens *t, const char *token);

/* Answers in the admin API's shape, for the listener and its extensions:
 * text (body is malloc'd and taken over), one JSON document (j is taken
 * over) and {"error": message, "status": status}. All say Cache-Control:
 * no-store; a 401 also says WWW-Authenticate. */
enum MHD_Result admin_send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
    char *body);
enum MHD_Result admin_send_json(struct MHD_Connection *c, unsigned status, json_t *j);
enum MHD_Result admin_send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * An extension: requests whose raw target starts with prefix go to handle
 * once the token is checked (any of scopes needed; no rate limit), on every
 * MHD call for the request, body chunks included, exactly like an MHD
 * access handler (handle returns an enum MHD_Result). raw is the target as
 * received, not unescaped. *state is the handler's, NULL at first;
 * completed (may be NULL) is called once when the request ends, ok true if
 * the answer was sent whole. stats (may be NULL) adds to GET /stats.
 */
struct admin_ext {
	const char *prefix;
	unsigned scopes;
	void *arg;
	int (*handle)(void *arg, struct MHD_Connection *c, const char *raw, const char *method,
	    const char *upload_data, size_t *upload_data_size, void **state);
	void (*completed)(void *arg, void *state, bool ok);
	void (*stats)(void *arg, void *json_obj);
};

struct admin_deps {
	const struct cfg *cfg;
	struct cache *cache;
	struct fetcher *fetcher;  /* NULL for the router role */
	struct route *route;
	struct disk *disk;        /* NULL without a cache dir */
	const char *data_addr;   /* host:port of the data listener */
	const struct admin_ext *ext; /* may be NULL */
};

/* Start the listener on cfg->admin; takes ownership of tokens. */
struct admin *admin_start(const struct admin_deps *d, struct admin_tokens *tokens);
unsigned admin_port(const struct admin *a);
void admin_stop(struct admin **ap);

#endif
