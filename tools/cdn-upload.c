/*
 * cdn-upload: push files and whole directory trees into a shield tier
 * through its push API (PUT /push/<key> on a shield's admin listener).
 *
 * Every file is hashed (SHA-256) before anything is sent, then a HEAD asks
 * whether the tier already holds that digest under the key; only files it
 * lacks are sent, streamed from disk with their Content-Digest. So a rerun
 * after a partial failure costs one HEAD per file that already arrived.
 *
 * One thread. A libcurl multi handle drives one easy handle per job slot
 * (--jobs), and each handle is reused from file to file so the connections
 * stay open. Hashing happens in 1 MiB steps inside the same loop, so a big
 * file being hashed does not stall the transfers of the other slots.
 *
 * Output: a progress bar on stderr when it is a terminal, otherwise one line
 * per file; a summary at the end. Exit status: 0 every file uploaded or
 * skipped, 1 some file failed, 2 bad usage.
 *
 * The pure parts (keys and their percent-encoding, media types, retry
 * timing) come first; tests/unit/test_upload_keys.c includes this file with
 * CDN_UPLOAD_NO_MAIN defined and gets only those, plus token_from_file() for
 * the token files that tools/cli.c reads. What cdn-ctl does the same way
 * (messages, allocation, the node options, the progress bar) is in
 * tools/cli.c.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tools/cli.h"
#include "util/digest.h"
#include "util/httpdate.h"

/* The longest key the push API takes (it answers 400 beyond). */
#define KEY_MAX 1024
#define MIME_DEFAULT "application/octet-stream"
/* The longest --token, --cache-control or --surrogate-key value taken. */
#define HEADER_MAX 4096
#define MIME_TYPES_FILE "/etc/mime.types"

/* Bodies from this size on wait for "100 Continue", so a refusal (401, 413,
 * 507) comes before the bytes; smaller ones are not worth the round trip. */
#define EXPECT_MIN_BYTES (1024 * 1024)

/* An answer is a short JSON document; keep 64 KiB of anything longer. */
#define ANSWER_MAX 65536

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 30000
#define RETRY_AFTER_MAX_S 60

struct mime_ent {
	char *ext;  /* lower case, without the dot */
	char *type;
	size_t seq; /* line order: the first line naming an extension wins */
};

struct mime_table {
	struct mime_ent *v;
	size_t n;
};

static const char *prefix_normalize(const char *in, char *out, size_t cap);
static const char *key_build(const char *prefix, const char *rel, char *out, size_t cap);
static const char *key_refused(const char *key);
static int mime_load(struct mime_table *t, const char *path);
static const char *mime_lookup(const struct mime_table *t, const char *name);
static void mime_free(struct mime_table *t);
static uint64_t backoff_ms(unsigned retry);
static int64_t retry_after_ms(const char *value, time_t now);
static bool status_retryable(long status);

/* ---------------------------------------------------------------- keys */

/* RFC 3986 pchar without pct-encoded: the bytes that may stand as they are
 * in a path segment. Browsers leave these alone too, so a key built from a
 * name is the path a browser asks for. */
static bool
pchar_plain(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* Why the push API would refuse a segment made from this name, or NULL. */
static const char *
segment_refused(const char *seg, size_t n)
{
	if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
		return "a . or .. segment";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)seg[i];

		if (c < 0x20 || c == 0x7f)
			return "a control character in the name";
		if (c == '\\')
			return "a backslash in the name";
	}
	return NULL;
}

/* Appends "/" and the percent-encoded segment to out (len bytes used of
 * cap). Returns false when it does not fit. */
static bool
append_segment(char *out, size_t cap, size_t *len, const char *seg, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	if (*len + 1 >= cap)
		return false;
	out[(*len)++] = '/';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)seg[i];

		if (pchar_plain(c)) {
			if (*len + 1 >= cap)
				return false;
			out[(*len)++] = (char)c;
		} else {
			if (*len + 3 >= cap)
				return false;
			out[(*len)++] = '%';
			out[(*len)++] = hex[c >> 4];
			out[(*len)++] = hex[c & 15];
		}
	}
	out[*len] = '\0';
	return true;
}

/* Appends every segment of a '/'-separated name (empty ones dropped). */
static const char *
append_path(char *out, size_t cap, size_t *len, const char *path)
{
	const char *p = path, *why;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n > 0) {
			if ((why = segment_refused(p, n)) != NULL)
				return why;
			if (!append_segment(out, cap, len, p, n))
				return "longer than 1024 bytes";
		}
		p += n + (p[n] == '/');
	}
	return NULL;
}

/*
 * The --prefix as it goes in front of every key: "/a/b" (encoded like file
 * names, empty segments dropped, no trailing slash) or "" for the root.
 * Returns NULL, or why the prefix cannot be used.
 */
static const char *
prefix_normalize(const char *in, char *out, size_t cap)
{
	size_t len = 0;
	const char *why;

	out[0] = '\0';
	if ((why = append_path(out, cap, &len, in)) != NULL)
		return why;
	return len > KEY_MAX ? "longer than 1024 bytes" : NULL;
}

/*
 * The key of a file: the normalised prefix, then each segment of rel (its
 * path below the directory given, or its base name) percent-encoded. Writes
 * it to out and returns NULL, or returns why no key can be made of it.
 */
static const char *
key_build(const char *prefix, const char *rel, char *out, size_t cap)
{
	size_t len = strlen(prefix);
	const char *why;

	if (len + 1 >= cap)
		return "longer than 1024 bytes";
	memcpy(out, prefix, len + 1);
	if ((why = append_path(out, cap, &len, rel)) != NULL)
		return why;
	if (len == strlen(prefix))
		return "an empty name";
	return key_refused(out);
}

/*
 * The push API's own rules for a key, checked here so a name it would refuse
 * fails before any upload: a path of at most 1024 bytes starting with '/',
 * no dot segments, no encoded '.', '/' or '\', no backslash, no control
 * characters, and nothing a URL path must not hold unencoded.
 */
static const char *
key_refused(const char *key)
{
	size_t n = strlen(key);

	if (key[0] != '/')
		return "does not start with /";
	if (n > KEY_MAX)
		return "longer than 1024 bytes";
	for (const char *p = key; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return "a control character";
		if (c == '\\')
			return "a backslash";
		if (c == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return "a % that is not an escape";
			if (strncasecmp(p, "%2e", 3) == 0 || strncasecmp(p, "%2f", 3) == 0 ||
			    strncasecmp(p, "%5c", 3) == 0)
				return "an encoded '.', '/' or '\\'";
			continue;
		}
		if (c == '/') {
			if ((p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
			    (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
				return "a . or .. segment";
			continue;
		}
		if (!pchar_plain(c))
			return "a character that must be percent-encoded";
	}
	return NULL;
}

/* ---------------------------------------------------------------- media types */

static int
mime_cmp_ext(const void *a, const void *b)
{
	return strcmp(((const struct mime_ent *)a)->ext, ((const struct mime_ent *)b)->ext);
}

static int
mime_cmp(const void *a, const void *b)
{
	const struct mime_ent *x = a, *y = b;
	int c = mime_cmp_ext(a, b);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
mime_add(struct mime_table *t, size_t *cap, const char *ext, const char *type)
{
	struct mime_ent *e;

	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		t->v = cli_realloc(t->v, *cap * sizeof *t->v);
	}
	e = &t->v[t->n];
	e->ext = cli_strdup(ext);
	e->type = cli_strdup(type);
	for (char *p = e->ext; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	e->seq = t->n++;
}

/*
 * Load a mime.types file ("type ext ext...", # comments) into t, sorted by
 * extension with one entry each (the first line naming an extension wins,
 * as in nginx and Apache). Returns 0, or -1 with errno set when the file
 * cannot be read (t is then empty and every lookup is the default).
 */
static int
mime_load(struct mime_table *t, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *save, *type, *ext;
	size_t linecap = 0, cap = 0, k = 0;

	memset(t, 0, sizeof *t);
	if (f == NULL)
		return -1;
	while (getline(&line, &linecap, f) != -1) {
		line[strcspn(line, "#")] = '\0';
		if ((type = strtok_r(line, " \t\r\n", &save)) == NULL)
			continue;
		while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL)
			mime_add(t, &cap, ext, type);
	}
	free(line);
	fclose(f);
	if (t->n > 0)
		qsort(t->v, t->n, sizeof *t->v, mime_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (k > 0 && strcmp(t->v[k - 1].ext, t->v[i].ext) == 0) {
			free(t->v[i].ext);
			free(t->v[i].type);
			continue;
		}
		t->v[k++] = t->v[i];
	}
	t->n = k;
	return 0;
}

/* The media type of a file name by its extension, case-insensitively;
 * MIME_DEFAULT for none or an unknown one. A leading dot (".htaccess") does
 * not start an extension. The result lives as long as the table. */
static const char *
mime_lookup(const struct mime_table *t, const char *name)
{
	const char *base = strrchr(name, '/'), *dot;
	struct mime_ent key, *hit;
	char ext[64];
	size_t n;

	base = base != NULL ? base + 1 : name;
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base || (n = strlen(dot + 1)) == 0 || n >= sizeof ext)
		return MIME_DEFAULT;
	for (size_t i = 0; i <= n; i++)
		ext[i] = (char)tolower((unsigned char)dot[1 + i]);
	key.ext = ext;
	key.seq = 0;
	hit = t->n > 0 ? bsearch(&key, t->v, t->n, sizeof *t->v, mime_cmp_ext) : NULL;
	return hit != NULL ? hit->type : MIME_DEFAULT;
}

static void
mime_free(struct mime_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].ext);
		free(t->v[i].type);
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- retries */

/* The pause before retry number `retry` (1 is the first): 0.2 s, doubling,
 * at most 30 s. The caller adds jitter so parallel slots spread out. */
static uint64_t
backoff_ms(unsigned retry)
{
	uint64_t ms = BACKOFF_FIRST_MS;

	for (unsigned i = 1; i < retry && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/*
 * The wait a Retry-After value asks for (delay-seconds or an HTTP date,
 * RFC 9110 section 10.2.3), in milliseconds, capped at RETRY_AFTER_MAX_S so
 * a confused server cannot park the upload for hours. -1 when the value is
 * missing or unreadable: the caller backs off as usual.
 */
static int64_t
retry_after_ms(const char *value, time_t now)
{
	const char *p = value;
	time_t when;
	int64_t s = 0;

	if (value == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return -1;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++)
			if (s <= RETRY_AFTER_MAX_S)
				s = s * 10 + (*p - '0');
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0')
			return -1;
	} else if (httpdate_parse_at(p, now, &when) == 0) {
		s = when > now ? (int64_t)(when - now) : 0;
	} else {
		return -1;
	}
	return (s < RETRY_AFTER_MAX_S ? s : RETRY_AFTER_MAX_S) * 1000;
}

/* Answers worth trying again: rate limited, or a server-side failure that
 * may pass (no quorum yet, a replica restarting). A full disk (507) and
 * "not implemented"-like answers will not pass by waiting. */
static bool
status_retryable(long status)
{
	if (status == 429)
		return true;
	return status >= 500 && status <= 599 && status != 501 && status != 505 &&
	    status != 507;
}

#ifdef CDN_UPLOAD_NO_MAIN
/* ---------------------------------------------------------------- tokens */

/*
 * --token-file reads its file with cli_token_from_file() (tools/cli.c);
 * tests/unit/test_upload_keys.c, which includes this file, checks it under
 * this name.
 */
static char *
token_from_file(const char *path, const char **why)
{
	return cli_token_from_file(path, why);
}
#else
/* ================================================================ the tool */

struct opts {
	const char *server;
	char *token;
	char prefix[KEY_MAX + 1]; /* normalised and encoded, "" for the root */
	unsigned jobs, retries;
	long timeout_s;
	const char *cache_control, *surrogate_key;
	bool force, dry_run, verbose, quiet, no_progress;
};

/* One file to push. The list is built before the first request and not
 * resized after, so slots may point into it. */
struct file {
	char *path;        /* as found on disk: for open() and messages */
	char *key;         /* percent-encoded, starts with '/' */
	const char *type;  /* from the media types table */
	uint64_t size;     /* from stat; the hashed length once hashed */
	size_t seq;        /* order found, to report duplicate keys */
	const char *dup_of;
	uint8_t sha[DIGEST_LEN];
	char digest[DIGEST_FIELD_LEN];
};

enum phase { IDLE, HASH, HEAD, PUT, WAIT };

/* A job slot: one easy handle that carries one file at a time through
 * HASH -> HEAD -> PUT, with WAIT between retries. */
struct slot {
	CURL *e;
	bool in_multi;
	struct file *f;
	enum phase ph, after_wait;
	int fd;
	struct digest d;
	uint64_t hashed;
	uint64_t off;       /* PUT: bytes read from the file so far */
	unsigned tries;     /* retries used for this file */
	uint64_t wake;      /* WAIT: when to try again (cli_now_ms) */
	int read_errno;
	bool shrank;
	struct curl_slist *hdrs;
	struct cli_buf body; /* the answer, at most ANSWER_MAX bytes */
	char repr[256], retry_after[64];
	char err[CURL_ERROR_SIZE];
};

/* The state of one run. Everything here belongs to the one thread. */
struct run {
	struct file *files;
	size_t nfiles, cap, next, finished;
	struct slot *slots;
	unsigned nslots;
	CURLM *m;
	unsigned uploaded, skipped, failed;
	uint64_t bytes_total, bytes_done, bytes_sent;
	uint64_t start, last_draw;
	bool bar, bar_shown;
	bool stopped;
	struct mime_table mime;
};

static struct opts o = { .jobs = 4, .retries = 5, .timeout_s = 60 };
static struct run r = { 0 };
static unsigned char hash_buf[1 << 20];

static void usage(FILE *f);
static void request_start(struct slot *s, enum phase ph);

/* ---------------------------------------------------------------- helpers */

/* dir + "/" + name, without doubling a slash the user typed. */
static char *
path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl > 0 && dir[dl - 1] != '/';
	char *p = cli_realloc(NULL, dl + slash + nl + 1);

	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + slash, name, nl + 1);
	return p;
}

/* ---------------------------------------------------------------- output */

/* Wipe the bar; the next tick draws it again below what was printed. */
static void
bar_clear(void)
{
	if (r.bar_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		r.bar_shown = false;
		r.last_draw = 0;
	}
}

/* Every line goes through here, so a progress bar on the same terminal is
 * wiped first instead of being interleaved with the text. */
static void __attribute__((format(printf, 2, 3)))
say(FILE *f, const char *fmt, ...)
{
	va_list ap;

	bar_clear();
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fflush(f);
}

/* Per-file success lines: always without a bar, with one only if asked. */
static bool
lines_wanted(void)
{
	return !o.quiet && (!r.bar || o.verbose);
}

static void
fmt_eta(uint64_t s, char *out, size_t len)
{
	if (s >= 3600)
		snprintf(out, len, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
		    (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	else
		snprintf(out, len, "%llu:%02llu", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
}

/* How far the run is, 0..1. Each file counts as 64 KiB on top of its bytes:
 * its HEAD and PUT round trips cost time even when it is tiny, and without
 * that a tree of small files followed by one big file shows an ETA of days
 * for most of the run. */
static double
progress_fraction(uint64_t bytes_done)
{
	double per_file = 65536.0;
	double total = (double)r.bytes_total + per_file * (double)r.nfiles;

	if (total <= 0)
		return 1.0;
	return ((double)bytes_done + per_file * (double)r.finished) / total;
}

/* The bar: files done/total, bytes, rate over the bytes really sent, ETA by
 * extrapolating the elapsed time. At most ten draws a second: a terminal is
 * slow to scroll. */
static void
bar_draw(bool force)
{
	uint64_t now = cli_now_ms(), done = r.bytes_done, sent = r.bytes_sent, ms;
	char bar[25], a[32], b[32], rate[32], eta[32] = "--:--", failed[32] = "";
	double frac;

	if (!r.bar || (!force && now - r.last_draw < 100))
		return;
	for (unsigned i = 0; i < r.nslots; i++)
		if (r.slots[i].ph == PUT) {
			done += r.slots[i].off;
			sent += r.slots[i].off;
		}
	ms = now - r.start;
	frac = progress_fraction(done);
	frac = frac > 1 ? 1 : frac;
	cli_bar(bar, 24, (int)(frac * 24));
	cli_human_bytes(done, a, sizeof a);
	cli_human_bytes(r.bytes_total, b, sizeof b);
	cli_human_bytes(ms > 0 ? sent * 1000 / ms : 0, rate, sizeof rate);
	if (ms >= 1000 && frac > 0)
		fmt_eta((uint64_t)((double)ms * (1 - frac) / frac / 1000.0), eta, sizeof eta);
	if (r.failed > 0)
		snprintf(failed, sizeof failed, "  %u failed", r.failed);
	fprintf(stderr, "\r[%s] %zu/%zu files  %s/%s  %s/s  ETA %s%s\033[K", bar, r.finished,
	    r.nfiles, a, b, rate, eta, failed);
	fflush(stderr);
	r.bar_shown = true;
	r.last_draw = now;
}

/* A path given or found that cannot be uploaded at all (no key, unreadable
 * directory): counted failed, never sent. */
static void __attribute__((format(printf, 2, 3)))
path_failed(const char *path, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	say(stderr, "FAILED %s: %s\n", path, why);
	r.failed++;
}

/* ---------------------------------------------------------------- collecting */

static void
file_add(const char *path, const char *rel, uint64_t size)
{
	char key[KEY_MAX + 16];
	const char *why = key_build(o.prefix, rel, key, sizeof key);
	struct file *f;

	if (why != NULL) {
		path_failed(path, "no key can be made of the name: %s", why);
		return;
	}
	if (r.nfiles == r.cap) {
		r.cap = r.cap ? r.cap * 2 : 64;
		r.files = cli_realloc(r.files, r.cap * sizeof *r.files);
	}
	f = &r.files[r.nfiles];
	memset(f, 0, sizeof *f);
	f->path = cli_strdup(path);
	f->key = cli_strdup(key);
	f->type = mime_lookup(&r.mime, rel);
	f->size = size;
	f->seq = r.nfiles++;
	r.bytes_total += size;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk a directory in name order. Symlinks to files are followed (they are
 * content); symlinks to directories are not, which also rules out loops. */
static void
walk(const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		path_failed(dir, "%s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = cli_realloc(names, cap * sizeof *names);
		}
		names[n++] = cli_strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *path = path_join(dir, names[i]);
		char *sub = rel[0] != '\0' ? path_join(rel, names[i]) : cli_strdup(names[i]);
		struct stat st;
		bool link = false;

		if (lstat(path, &st) != 0) {
			path_failed(path, "%s", strerror(errno));
		} else if ((link = S_ISLNK(st.st_mode)) && stat(path, &st) != 0) {
			if (!o.quiet)
				say(stderr, "cdn-upload: skipping %s: a symlink to nothing\n", path);
		} else if (S_ISDIR(st.st_mode)) {
			if (!link)
				walk(path, sub);
			else if (o.verbose)
				say(stderr, "cdn-upload: skipping %s: a symlink to a directory\n", path);
		} else if (S_ISREG(st.st_mode)) {
			file_add(path, sub, (uint64_t)st.st_size);
		} else if (!o.quiet) {
			say(stderr, "cdn-upload: skipping %s: not a regular file\n", path);
		}
		free(path);
		free(sub);
		free(names[i]);
	}
	free(names);
}

/* A PATH from the command line: a file keyed by its base name, or a
 * directory whose files are keyed by their path below it. Symlinks given
 * here are followed, whatever they point at: the user named them. */
static void
collect(const char *arg)
{
	struct stat st;
	const char *base;

	if (stat(arg, &st) != 0) {
		path_failed(arg, "%s", strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		walk(arg, "");
	} else if (S_ISREG(st.st_mode)) {
		base = strrchr(arg, '/');
		file_add(arg, base != NULL ? base + 1 : arg, (uint64_t)st.st_size);
	} else {
		path_failed(arg, "not a regular file or a directory");
	}
}

static int
cmp_key(const void *a, const void *b)
{
	const struct file *x = *(struct file *const *)a, *y = *(struct file *const *)b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Two paths with one key (the same file given twice, or a.css from two
 * directories) would race on the server: the first found keeps the key. */
static void
drop_duplicate_keys(void)
{
	struct file **v;
	size_t k = 0;

	if (r.nfiles < 2)
		return;
	v = cli_realloc(NULL, r.nfiles * sizeof *v);
	for (size_t i = 0; i < r.nfiles; i++)
		v[i] = &r.files[i];
	qsort(v, r.nfiles, sizeof *v, cmp_key);
	for (size_t i = 1, first = 0; i < r.nfiles; i++) {
		if (strcmp(v[i]->key, v[first]->key) == 0)
			v[i]->dup_of = v[first]->path;
		else
			first = i;
	}
	free(v);
	for (size_t i = 0; i < r.nfiles; i++) {
		struct file *f = &r.files[i];

		/* dup_of names the first path with the key, which is kept. */
		if (f->dup_of != NULL) {
			path_failed(f->path, "the same key %s as %s", f->key, f->dup_of);
			r.bytes_total -= f->size;
			free(f->key);
			free(f->path);
			continue;
		}
		r.files[k++] = *f;
	}
	r.nfiles = k;
}

/* ---------------------------------------------------------------- curl callbacks */

static void
header_copy(const char *p, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return;
	p += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = size * n;

	/* A new status line (after a 100 Continue) starts a new header block. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		s->repr[0] = '\0';
		s->retry_after[0] = '\0';
		return len;
	}
	header_copy(p, len, "Repr-Digest", s->repr, sizeof s->repr);
	header_copy(p, len, "Retry-After", s->retry_after, sizeof s->retry_after);
	return len;
}

/* Streams the file from disk: pread at our own offset, so a rewind (curl
 * resending on a fresh connection) is only an assignment. */
static size_t
on_read(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t want = size * n;
	ssize_t got;

	if (s->off >= s->f->size)
		return 0;
	if (want > s->f->size - s->off)
		want = (size_t)(s->f->size - s->off);
	do
		got = pread(s->fd, p, want, (off_t)s->off);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		s->read_errno = errno;
		return CURL_READFUNC_ABORT;
	}
	if (got == 0) {
		s->shrank = true;
		return CURL_READFUNC_ABORT;
	}
	s->off += (uint64_t)got;
	return (size_t)got;
}

static int
on_seek(void *arg, curl_off_t off, int origin)
{
	struct slot *s = arg;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	s->off = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* ---------------------------------------------------------------- one file */

/* The slot is done with its file, whatever the outcome. */
static void
slot_release(struct slot *s)
{
	if (s->in_multi) {
		curl_multi_remove_handle(r.m, s->e);
		s->in_multi = false;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	digest_fini(&s->d);
	r.bytes_done += s->f->size;
	r.finished++;
	s->f = NULL;
	s->ph = IDLE;
}

static void __attribute__((format(printf, 2, 3)))
file_failed(struct slot *s, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	say(stderr, "FAILED %s: %s\n", s->f->key, why);
	r.failed++;
	slot_release(s);
}

/* Stop the whole run: a refused token or an unreachable server fails every
 * file the same way, so say it once and count the rest failed unsent. */
static void __attribute__((format(printf, 1, 2)))
stop_all(const char *fmt, ...)
{
	size_t before = r.finished;
	va_list ap;

	if (r.stopped)
		return;
	r.stopped = true;
	bar_clear();
	fprintf(stderr, "cdn-upload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	for (unsigned i = 0; i < r.nslots; i++)
		if (r.slots[i].f != NULL)
			slot_release(&r.slots[i]);
	r.failed += (unsigned)(r.finished - before + (r.nfiles - r.next));
	r.finished += r.nfiles - r.next;
	r.next = r.nfiles;
}

static void
slot_take(struct slot *s, struct file *f)
{
	s->f = f;
	s->tries = 0;
	s->hashed = 0;
	s->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		file_failed(s, "cannot open %s: %s", f->path, strerror(errno));
		return;
	}
	digest_init(&s->d);
	s->ph = HASH;
}

/* One step of hashing: at most 1 MiB, then back to the loop so the other
 * slots' transfers keep moving. The length hashed is the length sent. */
static void
hash_step(struct slot *s)
{
	ssize_t got;

	do
		got = read(s->fd, hash_buf, sizeof hash_buf);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		file_failed(s, "cannot read %s: %s", s->f->path, strerror(errno));
		return;
	}
	if (got > 0) {
		digest_update(&s->d, hash_buf, (size_t)got);
		s->hashed += (uint64_t)got;
		return;
	}
	digest_final(&s->d, s->f->sha);
	digest_field(s->f->sha, s->f->digest);
	r.bytes_total = r.bytes_total - s->f->size + s->hashed;
	s->f->size = s->hashed;
	request_start(s, o.force ? PUT : HEAD);
}

static void
request_start(struct slot *s, enum phase ph)
{
	char url[8192], h[HEADER_MAX + 64];
	CURL *e = s->e;

	curl_easy_reset(e);
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	s->body.len = 0;
	s->repr[0] = s->retry_after[0] = s->err[0] = '\0';
	s->read_errno = 0;
	s->shrank = false;
	s->off = 0;
	snprintf(url, sizeof url, "%s/push%s", o.server, s->f->key);
	snprintf(h, sizeof h, "Authorization: Bearer %s", o.token);
	s->hdrs = curl_slist_append(s->hdrs, h);
	s->hdrs = curl_slist_append(s->hdrs, "Accept: application/json");
	if (ph == PUT) {
		snprintf(h, sizeof h, "Content-Digest: %s", s->f->digest);
		s->hdrs = curl_slist_append(s->hdrs, h);
		snprintf(h, sizeof h, "Content-Type: %s", s->f->type);
		s->hdrs = curl_slist_append(s->hdrs, h);
		if (o.cache_control != NULL) {
			snprintf(h, sizeof h, "Cache-Control: %s", o.cache_control);
			s->hdrs = curl_slist_append(s->hdrs, h);
		}
		if (o.surrogate_key != NULL) {
			snprintf(h, sizeof h, "Surrogate-Key: %s", o.surrogate_key);
			s->hdrs = curl_slist_append(s->hdrs, h);
		}
		/* libcurl asks for 100 Continue on every PUT; an empty Expect:
		 * turns that off. */
		if (s->f->size < EXPECT_MIN_BYTES)
			s->hdrs = curl_slist_append(s->hdrs, "Expect:");
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->f->size);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, s);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, s);
	} else {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->err);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cli_buf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->body);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 5L);
	/* No total timeout: a 1 GiB file may take long. A request that moves
	 * nothing for --timeout seconds (the server waits for its replicas
	 * after the body, so be generous) is given up and retried. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o.timeout_s);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cdn-upload/" PACKAGE_VERSION);
	s->ph = ph;
	if (curl_multi_add_handle(r.m, e) != CURLM_OK) {
		file_failed(s, "cannot start a request");
		return;
	}
	s->in_multi = true;
}

/* Schedule another attempt of ph, or return false when the file has used
 * its --retries. wait_ms < 0: plain exponential backoff. */
static bool
retry_later(struct slot *s, enum phase ph, int64_t wait_ms, const char *why)
{
	uint64_t ms;

	if (s->tries >= o.retries)
		return false;
	s->tries++;
	if (wait_ms >= 0) {
		ms = (uint64_t)wait_ms;
	} else {
		ms = backoff_ms(s->tries);
		ms += ms * (uint64_t)(random() % 25) / 100;
	}
	if (o.verbose)
		say(stderr, "retrying %s %s in %.1f s (retry %u of %u): %s\n",
		    ph == PUT ? "PUT" : "HEAD", s->f->key, (double)ms / 1000.0, s->tries,
		    o.retries, why);
	s->wake = cli_now_ms() + ms;
	s->after_wait = ph;
	s->ph = WAIT;
	return true;
}

/* The server's own words in an error answer: its JSON "error" (with both
 * digests of a mismatch), else the first line of a body that is not JSON.
 * Returns false when the answer had no body (a HEAD, a bare status). */
static bool
server_message(const struct slot *s, char *out, size_t cap)
{
	json_t *j = s->body.len > 0 ? json_loadb(s->body.p, s->body.len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "error"));
	const char *exp = json_string_value(json_object_get(j, "expected"));
	const char *got = json_string_value(json_object_get(j, "computed"));

	out[0] = '\0';
	if (msg != NULL && exp != NULL && got != NULL)
		snprintf(out, cap, "%s: expected %s, computed %s (did the file change while "
		    "it was sent?)", msg, exp, got);
	else if (msg != NULL)
		snprintf(out, cap, "%s", msg);
	else if (s->body.len > 0)
		snprintf(out, cap, "%.*s", (int)strcspn(s->body.p, "\r\n"), s->body.p);
	json_decref(j);
	return (msg != NULL || s->body.len > 0) && out[0] != '\0';
}

/* "MESSAGE (HTTP 413)", or "HTTP 413" when the server said nothing. */
static void
reason_of(const struct slot *s, long st, char *out, size_t cap)
{
	char msg[900];

	if (server_message(s, msg, sizeof msg))
		snprintf(out, cap, "%s (HTTP %ld)", msg, st);
	else
		snprintf(out, cap, "HTTP %ld", st);
}

/* 401 and 403 are about the token, not the file: stop everything. */
static bool
token_refused(const struct slot *s, long st)
{
	char msg[900];
	bool said;

	if (st != 401 && st != 403)
		return false;
	said = server_message(s, msg, sizeof msg);
	if (st == 401)
		stop_all("the server refused the token (401)%s%s; check --token, --token-file or "
		    "$CDN_TOKEN", said ? ": " : "", said ? msg : "");
	else
		stop_all("the token lacks the push scope (403)%s%s", said ? ": " : "",
		    said ? msg : "");
	return true;
}

static void
uploaded(struct slot *s)
{
	json_t *j = json_loadb(s->body.p != NULL ? s->body.p : "", s->body.len, 0, NULL), *v;
	json_t *reps = json_object_get(j, "replicas");
	json_int_t acked = json_integer_value(json_object_get(j, "acked"));
	json_int_t wanted = json_integer_value(json_object_get(j, "wanted"));
	char list[1024] = "", note[64] = "";
	size_t i, off = 0;

	json_array_foreach(reps, i, v)
		if (off < sizeof list && json_string_value(v) != NULL)
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
			    i > 0 ? "," : "", json_string_value(v));
	if (wanted > 0 && acked < wanted)
		snprintf(note, sizeof note, " (acked %lld of %lld)", (long long)acked,
		    (long long)wanted);
	if (lines_wanted())
		say(stdout, "uploaded %s (%llu bytes)%s%s%s\n", s->f->key,
		    (unsigned long long)s->f->size, list[0] ? " -> replicas " : "", list, note);
	json_decref(j);
	r.uploaded++;
	r.bytes_sent += s->f->size;
	slot_release(s);
}

static void
head_done(struct slot *s, long st)
{
	uint8_t have[DIGEST_LEN];
	char why[64];

	if (st == 200 && digest_field_parse(s->repr, have) == 0 &&
	    memcmp(have, s->f->sha, DIGEST_LEN) == 0) {
		if (lines_wanted())
			say(stdout, "skipped %s (digest matches)\n", s->f->key);
		r.skipped++;
		slot_release(s);
		return;
	}
	if (token_refused(s, st))
		return;
	snprintf(why, sizeof why, "HTTP %ld", st);
	if (status_retryable(st) &&
	    retry_later(s, HEAD, retry_after_ms(s->retry_after, time(NULL)), why))
		return;
	/* The HEAD only saves work. Whatever else it said (404, a changed
	 * object, an error without a body), the PUT does the real work and
	 * its answer carries the server's reason. */
	request_start(s, PUT);
}

static void
put_done(struct slot *s, long st)
{
	char why[1024];

	if (st >= 200 && st <= 299) {
		uploaded(s);
		return;
	}
	if (token_refused(s, st))
		return;
	reason_of(s, st, why, sizeof why);
	if (status_retryable(st) &&
	    retry_later(s, PUT, retry_after_ms(s->retry_after, time(NULL)), why))
		return;
	if (status_retryable(st))
		file_failed(s, "%s; gave up after %u attempts", why, s->tries + 1);
	else
		file_failed(s, "%s", why);
}

/* No HTTP answer. Connection failures are retried like 5xx; when a file has
 * used its retries on one, the server is unreachable and the run stops. */
static void
transfer_failed(struct slot *s, CURLcode rc)
{
	enum phase ph = s->ph;
	long oserr = 0, sent = 0;
	char why[CURL_ERROR_SIZE + 64];

	if (s->shrank) {
		file_failed(s, "%s shrank while being uploaded", s->f->path);
		return;
	}
	if (s->read_errno != 0) {
		file_failed(s, "cannot read %s: %s", s->f->path, strerror(s->read_errno));
		return;
	}
	snprintf(why, sizeof why, "%s", s->err[0] ? s->err : curl_easy_strerror(rc));
	/* A timeout before the request went out is a connect timeout. */
	curl_easy_getinfo(s->e, CURLINFO_REQUEST_SIZE, &sent);
	if (rc == CURLE_OPERATION_TIMEDOUT && sent > 0)
		snprintf(why, sizeof why, "no progress for %ld s (--timeout)", o.timeout_s);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_COULDNT_RESOLVE_PROXY || (rc == CURLE_OPERATION_TIMEDOUT && sent == 0)) {
		curl_easy_getinfo(s->e, CURLINFO_OS_ERRNO, &oserr);
		if (rc == CURLE_COULDNT_CONNECT && oserr != 0)
			snprintf(why, sizeof why, "%s", strerror((int)oserr));
		else if (rc == CURLE_OPERATION_TIMEDOUT)
			snprintf(why, sizeof why, "no connection within 5 s");
		if (!retry_later(s, ph, -1, why))
			stop_all("cannot connect to %s: %s", o.server, why);
		return;
	}
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		stop_all("cannot use %s: %s", o.server, why);
		return;
	default:
		break;
	}
	if (!retry_later(s, ph, -1, why))
		file_failed(s, "%s; gave up after %u attempts", why, s->tries + 1);
}

static void
request_done(struct slot *s, CURLcode rc)
{
	long st = 0;

	curl_multi_remove_handle(r.m, s->e);
	s->in_multi = false;
	if (rc != CURLE_OK) {
		transfer_failed(s, rc);
		return;
	}
	curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &st);
	if (s->ph == HEAD)
		head_done(s, st);
	else
		put_done(s, st);
}

/* ---------------------------------------------------------------- the loop */

static bool
all_done(void)
{
	if (r.next < r.nfiles)
		return false;
	for (unsigned i = 0; i < r.nslots; i++)
		if (r.slots[i].f != NULL)
			return false;
	return true;
}

static void
run_loop(void)
{
	struct CURLMsg *msg;
	int running, left;

	while (!all_done()) {
		uint64_t now = cli_now_ms();
		long timeout = 100;

		if (cli_interrupted())
			stop_all("interrupted");
		for (unsigned i = 0; i < r.nslots; i++) {
			struct slot *s = &r.slots[i];

			if (s->f == NULL && r.next < r.nfiles)
				slot_take(s, &r.files[r.next++]);
			if (s->ph == HASH) {
				hash_step(s);
				timeout = 0;
			} else if (s->ph == WAIT) {
				if (now >= s->wake)
					request_start(s, s->after_wait);
				else if ((long)(s->wake - now) < timeout)
					timeout = (long)(s->wake - now);
			}
		}
		curl_multi_perform(r.m, &running);
		while ((msg = curl_multi_info_read(r.m, &left)) != NULL) {
			char *priv = NULL;
			struct slot *s;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			s = (struct slot *)(void *)priv;
			if (s != NULL && s->in_multi)
				request_done(s, msg->data.result);
		}
		bar_draw(false);
		/* A slot freed by an answer just now takes its next file at once,
		 * not after the poll: small files would otherwise crawl. */
		for (unsigned i = 0; i < r.nslots; i++)
			if (r.slots[i].ph == HASH || (r.slots[i].f == NULL && r.next < r.nfiles))
				timeout = 0;
		if (timeout > 0)
			curl_multi_poll(r.m, NULL, 0, (int)timeout, NULL);
	}
}

static int
upload(void)
{
	unsigned n = o.jobs < r.nfiles ? o.jobs : (unsigned)r.nfiles;
	double secs;

	r.start = cli_now_ms();
	r.bar = isatty(STDERR_FILENO) && !o.quiet && !o.no_progress;
	if (n > 0) {
		if ((r.m = curl_multi_init()) == NULL) {
			fprintf(stderr, "cdn-upload: cannot initialise libcurl\n");
			return CLI_EXIT_FAILED;
		}
		curl_multi_setopt(r.m, CURLMOPT_MAXCONNECTS, (long)n);
		r.slots = cli_realloc(NULL, n * sizeof *r.slots);
		memset(r.slots, 0, n * sizeof *r.slots);
		for (unsigned i = 0; i < n; i++) {
			r.slots[i].fd = -1;
			r.slots[i].body.max = ANSWER_MAX;
			if ((r.slots[i].e = curl_easy_init()) == NULL) {
				fprintf(stderr, "cdn-upload: cannot initialise libcurl\n");
				return CLI_EXIT_FAILED;
			}
		}
		r.nslots = n;
		run_loop();
	}
	bar_clear();
	secs = (double)(cli_now_ms() - r.start) / 1000.0;
	printf("uploaded %u, skipped %u, failed %u, %llu bytes in %.1f s (%.1f MiB/s)\n",
	    r.uploaded, r.skipped, r.failed, (unsigned long long)r.bytes_sent, secs,
	    secs > 0 ? (double)r.bytes_sent / 1048576.0 / secs : 0.0);
	for (unsigned i = 0; i < r.nslots; i++) {
		curl_slist_free_all(r.slots[i].hdrs);
		free(r.slots[i].body.p);
		curl_easy_cleanup(r.slots[i].e);
	}
	free(r.slots);
	if (r.m != NULL)
		curl_multi_cleanup(r.m);
	return r.failed > 0 ? CLI_EXIT_FAILED : 0;
}

/* --dry-run: what would be sent, and nothing on the network. */
static int
dry_run(void)
{
	uint64_t bytes = 0;
	size_t n = 0;

	for (size_t i = 0; i < r.nfiles; i++) {
		const struct file *f = &r.files[i];

		if (access(f->path, R_OK) != 0) {
			path_failed(f->path, "%s", strerror(errno));
			continue;
		}
		if (!o.quiet)
			printf("%s %llu %s\n", f->key, (unsigned long long)f->size, f->type);
		bytes += f->size;
		n++;
	}
	printf("dry run: would upload %zu file%s, %llu bytes; failed %u\n", n, n == 1 ? "" : "s",
	    (unsigned long long)bytes, r.failed);
	return r.failed > 0 ? CLI_EXIT_FAILED : 0;
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: cdn-upload --server URL --token TOKEN [OPTIONS] PATH...\n"
	    "\n"
	    "Push files into a shield tier (PUT /push/KEY on a shield's admin listener);\n"
	    "edges then serve each file at its key. A directory is uploaded whole: each\n"
	    "file's key is the prefix plus its path below the directory given, so\n"
	    "\"--prefix /site dir/\" stores dir/a/b.css as /site/a/b.css. A file named on\n"
	    "the command line gets the prefix plus its base name. Names are\n"
	    "percent-encoded as URL paths. Symlinks to files are followed, symlinks to\n"
	    "directories inside a tree are skipped.\n"
	    "\n"
	    "Every file is hashed (SHA-256) and skipped when the tier already holds the\n"
	    "same digest under its key, so running an upload again sends only what\n"
	    "changed. Connection errors, 429 (after its Retry-After, at most 60 s) and\n"
	    "5xx other than 507 are retried with backoff (0.2 s, 0.4 s, 0.8 s, ...).\n"
	    "The media type comes from /etc/mime.types by extension (else\n"
	    "application/octet-stream).\n"
	    "\n"
	    "Options:\n"
	    "  -s, --server URL         the shield's admin listener (default $CDN_SERVER)\n"
	    "  -t, --token TOKEN        a token with the push scope (default $CDN_TOKEN)\n"
	    "      --token-file FILE    read the token from FILE (lines TOKEN SCOPE...,\n"
	    "                           # comments; the first token is used)\n"
	    "  -p, --prefix PATH        put every key under PATH (default: the root)\n"
	    "  -j, --jobs N             upload N files at a time (default 4)\n"
	    "      --retries N          retries per file (default 5; 0: none)\n"
	    "      --cache-control VALUE  send Cache-Control: VALUE with every file\n"
	    "      --surrogate-key VALUE  send Surrogate-Key: VALUE (tags for purge-tag)\n"
	    "  -f, --force              upload even files the tier already holds (to\n"
	    "                           change their Cache-Control or Surrogate-Key)\n"
	    "  -n, --dry-run            list key, size and media type of each file and\n"
	    "                           send nothing (no network at all)\n"
	    "  -v, --verbose            a line per file even under the progress bar, and\n"
	    "                           every retry\n"
	    "  -q, --quiet              only errors and the summary\n"
	    "      --no-progress        a line per file even on a terminal\n"
	    "      --timeout SECONDS    give up on a request (and retry it) when nothing\n"
	    "                           moved for this long (default 60)\n"
	    "  -h, --help               this help;  -V, --version  the version\n"
	    "\n"
	    "Output: a progress bar on stderr when it is a terminal, otherwise a line\n"
	    "per file (\"uploaded KEY (N bytes) -> replicas A,B\", \"skipped KEY (digest\n"
	    "matches)\", \"FAILED KEY: reason\"); failures always go to stderr; a summary\n"
	    "at the end: \"uploaded U, skipped S, failed F, B bytes in T s (R MiB/s)\".\n"
	    "\n"
	    "Examples:\n"
	    "  cdn-upload -s http://127.0.0.1:9001 -t $TOKEN --prefix /static build/static/\n"
	    "  cdn-upload -s http://127.0.0.1:9001 --token-file tokens.txt -j 8 \\\n"
	    "      --cache-control 'public, max-age=31536000, immutable' assets/\n"
	    "  cdn-upload -s http://127.0.0.1:9001 -t $TOKEN --surrogate-key 'release-42 css' \\\n"
	    "      site.css print.css\n"
	    "  cdn-upload --prefix /site --dry-run public/\n"
	    "\n"
	    "Exit status: 0 every file uploaded or skipped, 1 some file failed (or a PATH\n"
	    "could not be read), 2 bad usage.\n");
}

static unsigned
parse_count(const char *opt, const char *v, unsigned min, unsigned max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < (long)min || n > (long)max)
		cli_die_usage("%s: expected a number from %u to %u, got \"%s\"", opt, min, max, v);
	return (unsigned)n;
}

/* Values go into request headers: a CR or LF would start another header. */
static void
check_header_value(const char *opt, const char *v)
{
	if (strlen(v) > HEADER_MAX)
		cli_die_usage("%s: longer than %d bytes", opt, HEADER_MAX);
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			cli_die_usage("%s: control characters are not allowed", opt);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_NODE_OPTIONS,
		{ "prefix", required_argument, NULL, 'p' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "retries", required_argument, NULL, 'R' },
		{ "cache-control", required_argument, NULL, 'C' },
		{ "surrogate-key", required_argument, NULL, 'K' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char server[4096];
	const char *prefix = "", *why;
	struct sigaction sa;
	int c, rc;

	cli_init("cdn-upload");
	while ((c = getopt_long(argc, argv, "s:t:p:j:fnvqhV", longopts, NULL)) != -1) {
		if (cli_node_option(c, optarg, &o.server, &o.token))
			continue;
		switch (c) {
		case 'p': prefix = optarg; break;
		case 'j': o.jobs = parse_count("--jobs", optarg, 1, 64); break;
		case 'R': o.retries = parse_count("--retries", optarg, 0, 100); break;
		case 'C': check_header_value("--cache-control", optarg); o.cache_control = optarg; break;
		case 'K': check_header_value("--surrogate-key", optarg); o.surrogate_key = optarg; break;
		case 'f': o.force = true; break;
		case 'n': o.dry_run = true; break;
		case 'v': o.verbose = true; break;
		case 'q': o.quiet = true; break;
		case 'P': o.no_progress = true; break;
		case 'o': o.timeout_s = parse_count("--timeout", optarg, 1, 86400); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cdn-upload %s\n", PACKAGE_VERSION); return 0;
		default: cli_die_usage("unknown or incomplete option");
		}
	}
	cli_node_defaults(&o.server, &o.token);
	if (o.quiet && o.verbose)
		cli_die_usage("--quiet and --verbose contradict each other");
	if (optind >= argc)
		cli_die_usage("no PATH to upload");
	if ((why = prefix_normalize(prefix, o.prefix, sizeof o.prefix)) != NULL)
		cli_die_usage("--prefix %s: %s", prefix, why);
	if (!o.dry_run) {
		if (o.server == NULL || o.server[0] == '\0')
			cli_die_usage("no server: give --server URL (a shield's admin listener) or "
			    "$CDN_SERVER");
		if (o.token == NULL || o.token[0] == '\0')
			cli_die_usage("no token: give --token TOKEN, --token-file FILE or $CDN_TOKEN");
		if (strlen(o.token) > HEADER_MAX)
			cli_die_usage("the token is longer than %d bytes", HEADER_MAX);
		for (const char *p = o.token; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				cli_die_usage("the token contains spaces or control characters");
		cli_server_url(o.server, server, sizeof server);
		o.server = server;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cli_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	/* Missing is fine (a minimal container): every file is then sent as
	 * application/octet-stream. */
	if (mime_load(&r.mime, MIME_TYPES_FILE) != 0 && o.verbose)
		fprintf(stderr, "cdn-upload: %s: %s; sending every file as " MIME_DEFAULT "\n",
		    MIME_TYPES_FILE, strerror(errno));

	for (int i = optind; i < argc; i++)
		collect(argv[i]);
	drop_duplicate_keys();
	if (o.dry_run) {
		rc = dry_run();
	} else {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "cdn-upload: cannot initialise libcurl\n");
			return CLI_EXIT_FAILED;
		}
		rc = upload();
		curl_global_cleanup();
	}
	for (size_t i = 0; i < r.nfiles; i++) {
		free(r.files[i].path);
		free(r.files[i].key);
	}
	free(r.files);
	mime_free(&r.mime);
	free(o.token);
	return rc;
}
#endif /* CDN_UPLOAD_NO_MAIN */
