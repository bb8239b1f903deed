/*
 * admin.h (module admin_): the admin listener (-a): health, stats, metrics.
 *
 * JSON out (jansson), `Authorization: Bearer TOKEN` on everything but
 * /healthz. Tokens come from the token file: one per line, `TOKEN SCOPE...`
 * with scopes read, push, purge, warm; `#` starts a comment. A missing or
 * wrong token gets 401, a token without the scope 403. Tokens are compared
 * in constant time (their SHA-256 digests, so length leaks nothing either).
 */
#ifndef CDN_ADMIN_H
#define CDN_ADMIN_H

#include <stdio.h>

struct cache;
struct cfg;
struct fetcher;
struct route;
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

struct admin_deps {
	const struct cfg *cfg;
	struct cache *cache;
	struct fetcher *fetcher;  /* NULL for the router role */
	struct route *route;
	const char *data_addr;   /* host:port of the data listener */
};

/* Start the listener on cfg->admin; takes ownership of tokens. */
struct admin *admin_start(const struct admin_deps *d, struct admin_tokens *tokens);
unsigned admin_port(const struct admin *a);
void admin_stop(struct admin **ap);

#endif
