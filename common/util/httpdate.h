/*
 * httpdate.h: HTTP dates (RFC 9110 section 5.6.7), parsed and formatted.
 *
 * Pure functions: no I/O, no shared state, safe from any thread.
 *
 * Accepted input is exactly the three forms RFC 9110 names, matched
 * case-sensitively as the RFC says ("HTTP-date is case sensitive"):
 *   IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT
 *   rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime-date  Sun Nov  6 08:49:37 1994      (day as "SP DIGIT" or 2DIGIT)
 * Leading and trailing whitespace (SP, HTAB, CR, LF) is ignored; anything else
 * (other zones, numeric offsets, lower-case names, missing fields, trailing
 * text) is refused. Ranges are checked: the day must exist in that month
 * (Feb 29 only in leap years), hour 0-23, minute 0-59, second 0-60 (a leap
 * second is accepted and folds into the next minute). The day name must be a
 * real day name but is not checked against the date, as most recipients do.
 *
 * rfc850-date has a two-digit year. RFC 9110 says a year that appears to be
 * more than 50 years in the future is the most recent past year with the same
 * last two digits; we place the year in the window [Y-49, Y+50] where Y is
 * the current year (UTC) of `now`.
 */
#ifndef CDN_HTTPDATE_H
#define CDN_HTTPDATE_H

#include <time.h>

/* Bytes needed for a formatted IMF-fixdate including the terminating NUL. */
#define HTTPDATE_LEN 30

/*
 * Parse an HTTP date, interpreting an rfc850-date two-digit year relative to
 * `now` (seconds since the epoch). Returns CDN_OK and stores UTC seconds in
 * *out, or CDN_INVAL (and leaves *out untouched) for anything that is not one
 * of the three forms above. `s` and `out` must not be NULL.
 */
int httpdate_parse_at(const char *s, time_t now, time_t *out);

/*
 * As httpdate_parse_at() with `now` taken from the system clock. The clock
 * only matters for two-digit rfc850 years; code that must be deterministic
 * (everything under http/) calls httpdate_parse_at() with its own `now`.
 */
int httpdate_parse(const char *s, time_t *out);

/*
 * Write `t` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into buf,
 * NUL-terminated, always exactly HTTPDATE_LEN - 1 characters. Times outside
 * years 0000-9999 are clamped to that range so the output stays well formed.
 */
void httpdate_format(time_t t, char buf[HTTPDATE_LEN]);

#endif
