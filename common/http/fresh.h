/*
 * fresh.h: storability, freshness and reuse rules for a SHARED cache
 * (RFC 9111 sections 3, 4.2, 4.2.3, 5.2; RFC 9213; RFC 5861).
 *
 * Pure: every time is passed in (request_time, response_time, now), there is
 * no I/O and no shared state. Dates in responses are read with
 * httpdate_parse_at() relative to response_time, so results never depend on
 * the wall clock.
 *
 * Decisions where the RFCs leave room (each has a unit test):
 *  - Targeted field (RFC 9213 2.2): cfg->targeted_field is used only when it
 *    is present with a valid, non-empty Structured Fields dictionary value
 *    (cc_targeted_usable); then Cache-Control AND Expires are ignored for
 *    this cache. An invalid or empty targeted field is ignored as if absent.
 *  - Non-list date fields (Date, Expires, Last-Modified) sent on more than one
 *    line are invalid. Invalid Expires means "already expired" (lifetime 0,
 *    RFC 9111 5.3), but it still counts as present for storability. Invalid
 *    or absent Date means the response_time is used instead.
 *  - Heuristic freshness (RFC 9111 4.2.2) is used when there is no explicit
 *    expiry, the status is heuristically cacheable (or the response carries
 *    public, which RFC 9111 5.2.2.9 says makes it heuristically cacheable),
 *    and Last-Modified is valid and earlier than Date:
 *    fraction * (Date - Last-Modified), capped at heuristic_max.
 *  - Lifetimes and ages are clamped to 0..CC_DELTA_MAX.
 *  - must-understand (RFC 9111 5.2.2.3): a response carrying it is storable
 *    only if its status is one of the RFC 9110 status codes this cache
 *    implements; then the response's no-store is ignored, as that section
 *    advises.
 *  - Pragma: no-cache (RFC 9111 5.4) counts only when the request has no
 *    Cache-Control directive we understand (reqcc NULL, or nothing parsed).
 *  - stale-while-revalidate / stale-if-error (RFC 5861) are refused by
 *    must-revalidate, proxy-revalidate and unqualified no-cache (all of which
 *    forbid serving without validation, RFC 9111 4.2.4), but NOT by s-maxage:
 *    "s-maxage=60, stale-while-revalidate=30" is the usual CDN recipe and the
 *    explicit extension is taken to override s-maxage's implied
 *    proxy-revalidate.
 *  - A request max-age is exceeded when current_age > max-age (RFC 9111
 *    5.2.1.1 "less than or equal to" is acceptable).
 */
#ifndef CDN_FRESH_H
#define CDN_FRESH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct cc;
struct hdrs;

struct fresh_cfg {
	/* e.g. "CDN-Cache-Control"; NULL for none. If the response has a valid,
	 * non-empty one it replaces Cache-Control and Expires (RFC 9213 2.2). */
	const char *targeted_field;
	double heuristic_fraction;	/* of (Date - Last-Modified), e.g. 0.10 */
	int64_t heuristic_max;		/* cap in seconds, e.g. 86400 */
};

enum fresh_verdict {
	FRESH_HIT,		/* fresh: serve it */
	FRESH_STALE_OK,		/* stale, but the request's max-stale allows it */
	FRESH_REVALIDATE,	/* validate (or fetch) upstream before reuse */
};

/* Fill `cfg` with the defaults: "CDN-Cache-Control", 0.10, 86400. */
void fresh_cfg_default(struct fresh_cfg *cfg);

/* True for the heuristically cacheable status codes of RFC 9110 15.1:
 * 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501. */
bool fresh_status_heuristic(int status);

/* True if `resp` has cfg's targeted field with a usable value, so that it
 * replaces Cache-Control and Expires. cfg NULL means the defaults. */
bool fresh_targeted_active(const struct hdrs *resp, const struct fresh_cfg *cfg);

/* The response directives that apply to this cache: the targeted field if
 * active, else Cache-Control. `out` is initialised here. cfg NULL means the
 * defaults. */
void fresh_resp_cc(struct cc *out, const struct hdrs *resp,
    const struct fresh_cfg *cfg);

/*
 * May a shared cache store this response (RFC 9111 3)? True only if: method
 * is "GET" or "HEAD" (case-sensitive); 200 <= status <= 599 and status is
 * neither 206 nor 304 (not stored here); no no-store in the request or the
 * (effective) response; no unqualified private; a request with
 * Authorization only with public, s-maxage or must-revalidate (3.5); and the
 * response has public, Expires (valid or not; unless a targeted field is
 * active), max-age, s-maxage, or a heuristically cacheable status.
 * `req` may be NULL (no request fields); cfg NULL means the defaults.
 */
bool fresh_storable(const char *method, int status, const struct hdrs *req,
    const struct hdrs *resp, const struct fresh_cfg *cfg);

/*
 * Freshness lifetime in seconds (RFC 9111 4.2.1) for a shared cache, given
 * the effective response directives `rcc` (from fresh_resp_cc): s-maxage,
 * else max-age, else Expires minus Date (Date invalid or absent: minus
 * response_time; Expires invalid: 0), else the heuristic (see above), else 0.
 * Never negative, never above CC_DELTA_MAX. cfg NULL means the defaults.
 */
int64_t fresh_lifetime(int status, const struct hdrs *resp,
    const struct cc *rcc, time_t response_time, const struct fresh_cfg *cfg);

/*
 * corrected_initial_age of RFC 9111 4.2.3:
 *   max(max(0, response_time - Date), Age + max(0, response_time - request_time))
 * Age invalid (not delta-seconds, a list, negative) counts as 0, a huge Age is
 * clamped to CC_DELTA_MAX; Date invalid or absent means response_time. The
 * result is clamped to CC_DELTA_MAX.
 */
int64_t fresh_initial_age(const struct hdrs *resp, time_t request_time,
    time_t response_time);

/* current_age = initial_age + resident time, RFC 9111 4.2.3; a clock that
 * went backwards adds nothing. */
static inline int64_t
fresh_current_age(int64_t initial_age, time_t response_time, time_t now)
{
	int64_t resident = (int64_t)now - (int64_t)response_time;

	return initial_age + (resident > 0 ? resident : 0);
}

/*
 * May a stored response be reused for this request (RFC 9111 4.2, 5.2.1,
 * 5.2.2)? In order:
 *   response unqualified no-cache                       -> REVALIDATE
 *   request no-cache, or pragma_no_cache while reqcc has
 *     no understood directive                           -> REVALIDATE
 *   request max-age and current_age > max-age           -> REVALIDATE
 *   request min-fresh and lifetime - current_age < it   -> REVALIDATE
 *   lifetime > current_age (fresh)                      -> HIT
 *   stale with must-revalidate, proxy-revalidate or
 *     s-maxage (5.2.2.10)                               -> REVALIDATE
 *   stale by no more than request max-stale, or
 *     max-stale without a value                         -> STALE_OK
 *   otherwise                                           -> REVALIDATE
 * reqcc may be NULL (no request directives). only-if-cached is the caller's
 * business (answer 504 instead of going upstream).
 */
enum fresh_verdict fresh_check(const struct cc *reqcc, bool pragma_no_cache,
    const struct cc *rescc, int64_t lifetime, int64_t current_age);

/*
 * May a stale response be served while it is revalidated in the background
 * (RFC 5861 3)? True if it is stale (current_age >= lifetime), the response
 * has stale-while-revalidate, the staleness (current_age - lifetime) is at
 * most that, and no must-revalidate, proxy-revalidate or unqualified no-cache
 * forbids it. False for a fresh response (nothing to do).
 */
bool fresh_can_swr(const struct cc *rescc, int64_t lifetime,
    int64_t current_age);

/*
 * May the stored response be served because revalidation failed with an
 * error (RFC 5861 4)? True if the staleness max(0, current_age - lifetime)
 * is within stale-if-error of the response or of the request (reqcc may be
 * NULL), unless must-revalidate, proxy-revalidate or unqualified no-cache in
 * the response forbids it. A still-fresh response qualifies too (staleness
 * 0), e.g. when the request forced revalidation.
 */
bool fresh_can_sie(const struct cc *reqcc, const struct cc *rescc,
    int64_t lifetime, int64_t current_age);

#endif
