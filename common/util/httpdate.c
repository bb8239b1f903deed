/*
 * httpdate.c: parse and format HTTP dates (RFC 9110 section 5.6.7).
 *
 * Design: a small hand-written scanner per accepted form instead of
 * strptime(3), which is locale-dependent, accepts far more than the RFC allows
 * and does not validate day-of-month. Each form is matched on a private
 * cursor over the trimmed input; the first form that consumes the whole input
 * wins. Field values are range-checked and then converted with timegm(3).
 *
 * No state, no locks, no I/O: every function is safe from any thread. The
 * only clock read is in httpdate_parse(), for the rfc850 two-digit year.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/httpdate.h"
#include "util/vas.h"

/* ---------------------------------------------------------------- types */

struct cur {
	const char *p;
	const char *e;
};

struct fields {
	int year, mon, day, hour, min, sec;
};

/* ---------------------------------------------------------------- private */

static bool is_ws(char ch);
static bool lit(struct cur *c, const char *s);
static bool num(struct cur *c, int ndigits, int *out);
static int short_name(struct cur *c, const char (*names)[4], int count);
static int long_weekday(struct cur *c);
static bool time_of_day(struct cur *c, struct fields *f);
static bool imf_fixdate(struct cur c, struct fields *f);
static bool rfc850_date(struct cur c, time_t now, struct fields *f);
static bool asctime_date(struct cur c, struct fields *f);
static bool is_leap(int y);
static bool valid(const struct fields *f);
static int year_of(time_t t);
static void put_digits(char *b, int v, int n);

static const char wkday[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const weekday_l[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
};
static const char month[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the 4DIGIT year range. */
#define HTTPDATE_MIN (-62167219200LL)
#define HTTPDATE_MAX 253402300799LL

static bool
is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool
lit(struct cur *c, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(c->e - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* Exactly ndigits ASCII digits. */
static bool
num(struct cur *c, int ndigits, int *out)
{
	int v = 0;

	if (c->e - c->p < ndigits)
		return false;
	for (int i = 0; i < ndigits; i++) {
		char ch = c->p[i];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	c->p += ndigits;
	*out = v;
	return true;
}

/* A three-letter name from `names`; returns its index or -1. */
static int
short_name(struct cur *c, const char (*names)[4], int count)
{
	if (c->e - c->p < 3)
		return -1;
	for (int i = 0; i < count; i++) {
		if (memcmp(c->p, names[i], 3) == 0) {
			c->p += 3;
			return i;
		}
	}
	return -1;
}

static int
long_weekday(struct cur *c)
{
	for (int i = 0; i < 7; i++) {
		if (lit(c, weekday_l[i]))
			return i;
	}
	return -1;
}

/* time-of-day = hour ":" minute ":" second, each 2DIGIT */
static bool
time_of_day(struct cur *c, struct fields *f)
{
	return num(c, 2, &f->hour) && lit(c, ":") && num(c, 2, &f->min) &&
	    lit(c, ":") && num(c, 2, &f->sec);
}

/* day-name "," SP 2DIGIT SP month SP 4DIGIT SP time-of-day SP "GMT" */
static bool
imf_fixdate(struct cur c, struct fields *f)
{
	if (short_name(&c, wkday, 7) < 0 || !lit(&c, ", ") ||
	    !num(&c, 2, &f->day) || !lit(&c, " "))
		return false;
	if ((f->mon = short_name(&c, month, 12)) < 0)
		return false;
	return lit(&c, " ") && num(&c, 4, &f->year) && lit(&c, " ") &&
	    time_of_day(&c, f) && lit(&c, " GMT") && c.p == c.e;
}

/* day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time-of-day SP "GMT" */
static bool
rfc850_date(struct cur c, time_t now, struct fields *f)
{
	int yy, y;

	if (long_weekday(&c) < 0 || !lit(&c, ", ") || !num(&c, 2, &f->day) ||
	    !lit(&c, "-"))
		return false;
	if ((f->mon = short_name(&c, month, 12)) < 0)
		return false;
	if (!lit(&c, "-") || !num(&c, 2, &yy) || !lit(&c, " ") ||
	    !time_of_day(&c, f) || !lit(&c, " GMT") || c.p != c.e)
		return false;
	/* RFC 9110 5.6.7: never more than 50 years ahead of now. */
	y = year_of(now);
	f->year = y - ((y % 100) + 100) % 100 + yy;
	if (f->year > y + 50)
		f->year -= 100;
	else if (f->year < y - 49)
		f->year += 100;
	return true;
}

/* day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP 4DIGIT */
static bool
asctime_date(struct cur c, struct fields *f)
{
	if (short_name(&c, wkday, 7) < 0 || !lit(&c, " "))
		return false;
	if ((f->mon = short_name(&c, month, 12)) < 0 || !lit(&c, " "))
		return false;
	if (lit(&c, " ")) {
		if (!num(&c, 1, &f->day))
			return false;
	} else if (!num(&c, 2, &f->day)) {
		return false;
	}
	return lit(&c, " ") && time_of_day(&c, f) && lit(&c, " ") &&
	    num(&c, 4, &f->year) && c.p == c.e;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
valid(const struct fields *f)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (f->mon < 0 || f->mon > 11 || f->day < 1 || f->day > mdays[f->mon])
		return false;
	if (f->mon == 1 && f->day == 29 && !is_leap(f->year))
		return false;
	return f->hour <= 23 && f->min <= 59 && f->sec <= 60;
}

static int
year_of(time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return 1970;
	return tm.tm_year + 1900;
}

static void
put_digits(char *b, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		b[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* ---------------------------------------------------------------- API */

int
httpdate_parse_at(const char *s, time_t now, time_t *out)
{
	struct cur c;
	struct fields f;
	struct tm tm;
	time_t t;

	AN(s);
	AN(out);
	c.p = s;
	c.e = s + strlen(s);
	while (c.p < c.e && is_ws(*c.p))
		c.p++;
	while (c.e > c.p && is_ws(c.e[-1]))
		c.e--;

	memset(&f, 0, sizeof f);
	if (!imf_fixdate(c, &f) && !rfc850_date(c, now, &f) &&
	    !asctime_date(c, &f))
		return CDN_INVAL;
	if (!valid(&f))
		return CDN_INVAL;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = f.year - 1900;
	tm.tm_mon = f.mon;
	tm.tm_mday = f.day;
	tm.tm_hour = f.hour;
	tm.tm_min = f.min;
	tm.tm_sec = f.sec;
	t = timegm(&tm);
	/* -1 is also 1969-12-31 23:59:59; anything else means overflow. */
	if (t == (time_t)-1 && !(f.year == 1969 && f.mon == 11 && f.day == 31 &&
	    f.hour == 23 && f.min == 59 && f.sec == 59))
		return CDN_INVAL;
	*out = t;
	return CDN_OK;
}

int
httpdate_parse(const char *s, time_t *out)
{
	return httpdate_parse_at(s, time(NULL), out);
}

void
httpdate_format(time_t t, char buf[HTTPDATE_LEN])
{
	struct tm tm;
	int64_t v = (int64_t)t;

	AN(buf);
	if (v < HTTPDATE_MIN)
		v = HTTPDATE_MIN;
	if (v > HTTPDATE_MAX)
		v = HTTPDATE_MAX;
	t = (time_t)v;
	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		AN(gmtime_r(&t, &tm));
	}
	memcpy(buf, wkday[tm.tm_wday], 3);
	buf[3] = ',';
	buf[4] = ' ';
	put_digits(buf + 5, tm.tm_mday, 2);
	buf[7] = ' ';
	memcpy(buf + 8, month[tm.tm_mon], 3);
	buf[11] = ' ';
	put_digits(buf + 12, tm.tm_year + 1900, 4);
	buf[16] = ' ';
	put_digits(buf + 17, tm.tm_hour, 2);
	buf[19] = ':';
	put_digits(buf + 20, tm.tm_min, 2);
	buf[22] = ':';
	put_digits(buf + 23, tm.tm_sec, 2);
	memcpy(buf + 25, " GMT", 5);
}
