/*
 * fresh.c: storability, freshness lifetime, age and reuse decisions for a
 * shared cache (RFC 9111, RFC 9213, RFC 5861).
 *
 * Design: small pure functions over parsed directives (struct cc) and header
 * lists, one per question the cache asks: may I store it, how long is it
 * fresh, how old is it, may I reuse it, may I serve it stale. The caller
 * parses Cache-Control once (fresh_resp_cc) and passes the result around;
 * times are arguments, so the rules are deterministic and unit-testable
 * without a clock. The RFC choices are listed in fresh.h.
 *
 * No state, no locks, no I/O.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "http/cc.h"
#include "http/fresh.h"
#include "http/hdrs.h"
#include "util/err.h"
#include "util/httpdate.h"
#include "util/vas.h"

/* ---------------------------------------------------------------- private */

static const struct fresh_cfg *cfg_or_default(const struct fresh_cfg *cfg,
    struct fresh_cfg *tmp);
static bool date_field(const struct hdrs *h, const char *name, time_t ref,
    time_t *out);
static int64_t clamp_delta(int64_t v);
static bool status_understood(int status);
static bool cc_understood(const struct cc *c);
static bool forbids_stale(const struct cc *rescc);

static const struct fresh_cfg *
cfg_or_default(const struct fresh_cfg *cfg, struct fresh_cfg *tmp)
{
	if (cfg != NULL)
		return cfg;
	fresh_cfg_default(tmp);
	return tmp;
}

/* A non-list date field: exactly one line holding a valid HTTP-date. */
static bool
date_field(const struct hdrs *h, const char *name, time_t ref, time_t *out)
{
	const char *v;

	if (hdrs_count(h, name) != 1 || (v = hdrs_get(h, name)) == NULL)
		return false;
	return httpdate_parse_at(v, ref, out) == CDN_OK;
}

static int64_t
clamp_delta(int64_t v)
{
	if (v < 0)
		return 0;
	return v > CC_DELTA_MAX ? CC_DELTA_MAX : v;
}

/* Final status codes defined by RFC 9110 section 15 whose caching rules this
 * cache implements (206 and 304 are never stored here). */
static bool
status_understood(int status)
{
	static const int known[] = {
		200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
		412, 413, 414, 415, 416, 417, 421, 422, 426,
		500, 501, 502, 503, 504, 505,
	};

	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		if (known[i] == status)
			return true;
	}
	return false;
}

/* Did the request's Cache-Control carry anything we understand? */
static bool
cc_understood(const struct cc *c)
{
	return c != NULL && (c->flags != 0 || c->max_age != CC_UNSET ||
	    c->s_maxage != CC_UNSET || c->max_stale != CC_UNSET ||
	    c->min_fresh != CC_UNSET || c->swr != CC_UNSET ||
	    c->sie != CC_UNSET);
}

/* Directives that forbid serving a stale response without validation. */
static bool
forbids_stale(const struct cc *rescc)
{
	return (rescc->flags &
	    (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE | CC_NO_CACHE)) != 0;
}

/* ---------------------------------------------------------------- API */

void
fresh_cfg_default(struct fresh_cfg *cfg)
{
	AN(cfg);
	cfg->targeted_field = "CDN-Cache-Control";
	cfg->heuristic_fraction = 0.10;
	cfg->heuristic_max = 86400;
}

bool
fresh_status_heuristic(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 206: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return true;
	default:
		return false;
	}
}

bool
fresh_targeted_active(const struct hdrs *resp, const struct fresh_cfg *cfg)
{
	struct fresh_cfg tmp;

	cfg = cfg_or_default(cfg, &tmp);
	return resp != NULL && cfg->targeted_field != NULL &&
	    cc_targeted_usable(resp, cfg->targeted_field);
}

void
fresh_resp_cc(struct cc *out, const struct hdrs *resp,
    const struct fresh_cfg *cfg)
{
	struct fresh_cfg tmp;

	AN(out);
	cfg = cfg_or_default(cfg, &tmp);
	if (fresh_targeted_active(resp, cfg))
		cc_parse_targeted_hdrs(out, resp, cfg->targeted_field);
	else
		cc_parse_hdrs(out, resp, "Cache-Control");
}

bool
fresh_storable(const char *method, int status, const struct hdrs *req,
    const struct hdrs *resp, const struct fresh_cfg *cfg)
{
	struct fresh_cfg tmp;
	struct cc rq, rs;
	bool targeted;

	AN(method);
	AN(resp);
	cfg = cfg_or_default(cfg, &tmp);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return false;
	if (status < 200 || status > 599 || status == 206 || status == 304)
		return false;

	cc_parse_hdrs(&rq, req, "Cache-Control");
	if (rq.flags & CC_NO_STORE)
		return false;

	targeted = fresh_targeted_active(resp, cfg);
	fresh_resp_cc(&rs, resp, cfg);
	if (rs.flags & CC_MUST_UNDERSTAND) {
		/* 5.2.2.3: a cache that understands the status ignores no-store */
		if (!status_understood(status))
			return false;
	} else if (rs.flags & CC_NO_STORE) {
		return false;
	}
	if (rs.flags & CC_PRIVATE)
		return false;
	if (req != NULL && hdrs_get(req, "Authorization") != NULL &&
	    !(rs.flags & (CC_PUBLIC | CC_MUST_REVALIDATE)) &&
	    rs.s_maxage == CC_UNSET)
		return false;

	if ((rs.flags & CC_PUBLIC) || rs.max_age != CC_UNSET ||
	    rs.s_maxage != CC_UNSET)
		return true;
	if (!targeted && hdrs_get(resp, "Expires") != NULL)
		return true;
	return fresh_status_heuristic(status);
}

int64_t
fresh_lifetime(int status, const struct hdrs *resp, const struct cc *rcc,
    time_t response_time, const struct fresh_cfg *cfg)
{
	struct fresh_cfg tmp;
	time_t date, expires, lm;
	double h;
	int64_t cap;

	AN(resp);
	AN(rcc);
	cfg = cfg_or_default(cfg, &tmp);
	if (rcc->s_maxage != CC_UNSET)
		return clamp_delta(rcc->s_maxage);
	if (rcc->max_age != CC_UNSET)
		return clamp_delta(rcc->max_age);

	if (!date_field(resp, "Date", response_time, &date))
		date = response_time;
	if (!fresh_targeted_active(resp, cfg) &&
	    hdrs_get(resp, "Expires") != NULL) {
		if (!date_field(resp, "Expires", response_time, &expires))
			return 0;	/* RFC 9111 5.3: invalid means expired */
		return clamp_delta((int64_t)expires - (int64_t)date);
	}

	if (!fresh_status_heuristic(status) && !(rcc->flags & CC_PUBLIC))
		return 0;
	if (!date_field(resp, "Last-Modified", response_time, &lm) || lm >= date)
		return 0;
	if (!(cfg->heuristic_fraction > 0.0) || cfg->heuristic_max <= 0)
		return 0;
	cap = clamp_delta(cfg->heuristic_max);
	h = cfg->heuristic_fraction * (double)((int64_t)date - (int64_t)lm);
	if (h >= (double)cap)
		return cap;
	return (int64_t)h;
}

int64_t
fresh_initial_age(const struct hdrs *resp, time_t request_time,
    time_t response_time)
{
	const char *v;
	int64_t age = 0, apparent, delay, corrected;
	time_t date;

	AN(resp);
	v = hdrs_get(resp, "Age");
	if (v == NULL || cc_delta_seconds(v, strlen(v), &age) != CDN_OK)
		age = 0;
	if (!date_field(resp, "Date", response_time, &date))
		date = response_time;
	apparent = clamp_delta((int64_t)response_time - (int64_t)date);
	delay = clamp_delta((int64_t)response_time - (int64_t)request_time);
	corrected = age + delay;
	return clamp_delta(apparent > corrected ? apparent : corrected);
}

enum fresh_verdict
fresh_check(const struct cc *reqcc, bool pragma_no_cache,
    const struct cc *rescc, int64_t lifetime, int64_t current_age)
{
	AN(rescc);
	if (rescc->flags & CC_NO_CACHE)
		return FRESH_REVALIDATE;
	if (reqcc != NULL && (reqcc->flags & CC_NO_CACHE))
		return FRESH_REVALIDATE;
	if (pragma_no_cache && !cc_understood(reqcc))
		return FRESH_REVALIDATE;
	if (reqcc != NULL && reqcc->max_age != CC_UNSET &&
	    current_age > reqcc->max_age)
		return FRESH_REVALIDATE;
	if (reqcc != NULL && reqcc->min_fresh != CC_UNSET &&
	    lifetime - current_age < reqcc->min_fresh)
		return FRESH_REVALIDATE;
	if (lifetime > current_age)
		return FRESH_HIT;
	if ((rescc->flags & (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE)) ||
	    rescc->s_maxage != CC_UNSET)
		return FRESH_REVALIDATE;
	if (reqcc != NULL && ((reqcc->flags & CC_MAX_STALE_ANY) ||
	    (reqcc->max_stale != CC_UNSET &&
	    current_age - lifetime <= reqcc->max_stale)))
		return FRESH_STALE_OK;
	return FRESH_REVALIDATE;
}

bool
fresh_can_swr(const struct cc *rescc, int64_t lifetime, int64_t current_age)
{
	AN(rescc);
	if (forbids_stale(rescc) || rescc->swr == CC_UNSET)
		return false;
	if (lifetime > current_age)
		return false;
	return current_age - lifetime <= rescc->swr;
}

bool
fresh_can_sie(const struct cc *reqcc, const struct cc *rescc,
    int64_t lifetime, int64_t current_age)
{
	int64_t stale;

	AN(rescc);
	if (forbids_stale(rescc))
		return false;
	stale = current_age > lifetime ? current_age - lifetime : 0;
	if (rescc->sie != CC_UNSET && stale <= rescc->sie)
		return true;
	return reqcc != NULL && reqcc->sie != CC_UNSET && stale <= reqcc->sie;
}
