/*
 * log.c: the error log and the access log.
 *
 * Each line is formatted into a stack buffer and written with one write(2)
 * on a file descriptor opened O_APPEND, so lines from many threads never
 * interleave. log_reopen opens each file again and dup2()s it onto the
 * descriptor number in use (SIGHUP is turned into a call from the node's
 * main thread, never from the handler): a writer that loaded the number
 * writes to the old file or the new one, never to a closed or reused
 * descriptor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define LINE_MAX_LEN 4096

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char log_role[32] = "cdn";
static char *error_path, *access_path;
static atomic_int error_fd = 2, access_fd = -1;
static atomic_int cur_level = LVL_INFO;

static int open_log(const char *path, int *fd);
static void emit(int fd, const char *buf, size_t len);
static size_t stamp(char *buf, size_t cap);

static int
open_log(const char *path, int *fd)
{
	int e;

	if (path == NULL || strcmp(path, "-") == 0) {
		*fd = 2;
		return CDN_OK;
	}
	if (strcmp(path, "off") == 0) {
		*fd = -1;
		return CDN_OK;
	}
	*fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (*fd < 0) {
		e = errno;
		fprintf(stderr, "%s: cannot open log file %s: %s\n", log_role, path, strerror(e));
		return CDN_ERR;
	}
	return CDN_OK;
}

int
log_init(const char *role, const char *error_log, const char *access_log, int level)
{
	int efd, afd;

	snprintf(log_role, sizeof log_role, "%s", role);
	if (open_log(error_log, &efd) != CDN_OK)
		return CDN_ERR;
	if (open_log(access_log, &afd) != CDN_OK) {
		if (efd > 2)
			close(efd);
		return CDN_ERR;
	}
	free(error_path);
	free(access_path);
	error_path = error_log ? strdup(error_log) : NULL;
	access_path = access_log ? strdup(access_log) : NULL;
	atomic_store(&error_fd, efd);
	atomic_store(&access_fd, afd);
	atomic_store(&cur_level, level);
	return CDN_OK;
}

/* Point the descriptor in *cur at path's file again (after a rotation). */
static int
reopen_one(const char *path, atomic_int *cur)
{
	int fd, old = atomic_load(cur), rc = CDN_OK;

	if (open_log(path, &fd) != CDN_OK)
		return CDN_ERR;
	if (fd <= 2 || old <= 2) {
		/* stderr or off: nothing was opened, or nothing to replace. */
		if (fd > 2)
			atomic_store(cur, fd);
		return CDN_OK;
	}
	if (dup2(fd, old) < 0)
		rc = CDN_ERR;
	close(fd);
	return rc;
}

int
log_reopen(void)
{
	int rc = CDN_OK;

	pthread_mutex_lock(&log_mtx);
	if (reopen_one(error_path, &error_fd) != CDN_OK)
		rc = CDN_ERR;
	if (reopen_one(access_path, &access_fd) != CDN_OK)
		rc = CDN_ERR;
	pthread_mutex_unlock(&log_mtx);
	return rc;
}

void
log_fini(void)
{
	int fd;

	fd = atomic_exchange(&error_fd, 2);
	if (fd > 2)
		close(fd);
	fd = atomic_exchange(&access_fd, -1);
	if (fd > 2)
		close(fd);
	free(error_path);
	free(access_path);
	error_path = access_path = NULL;
}

int
log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
log_level(void)
{
	return atomic_load(&cur_level);
}

static void
emit(int fd, const char *buf, size_t len)
{
	ssize_t r;

	if (fd < 0)
		return;
	while (len > 0) {
		r = write(fd, buf, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += r;
		len -= (size_t)r;
	}
}

static size_t
stamp(char *buf, size_t cap)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
	return n;
}

static const char *const lvl_names[] = { "error", "warn", "info", "debug" };

static void
vlog(int level, unsigned long long reqid, int err, const char *fmt, va_list ap)
{
	char buf[LINE_MAX_LEN];
	size_t n;
	int r;

	if (level > atomic_load(&cur_level))
		return;
	n = stamp(buf, sizeof buf);
	r = snprintf(buf + n, sizeof buf - n, " %s %s ", log_role,
	    lvl_names[level < 0 ? 0 : level > 3 ? 3 : level]);
	n += (size_t)r;
	if (reqid != 0) {
		r = snprintf(buf + n, sizeof buf - n, "rid=%llu ", reqid);
		n += (size_t)r;
	}
	r = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r < sizeof buf - 2 ? n + (size_t)r : sizeof buf - 2;
	if (err != 0) {
		r = snprintf(buf + n, sizeof buf - n, ": %s", strerror(err));
		if (r > 0)
			n = n + (size_t)r < sizeof buf - 2 ? n + (size_t)r : sizeof buf - 2;
	}
	buf[n++] = '\n';
	emit(atomic_load(&error_fd), buf, n);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, err, fmt, ap);
	va_end(ap);
}

void
log_req(int level, unsigned long long reqid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, reqid, 0, fmt, ap);
	va_end(ap);
}

void
log_access(const struct log_access *a)
{
	char buf[LINE_MAX_LEN], ts[40];
	int fd = atomic_load(&access_fd), r;

	if (fd < 0)
		return;
	stamp(ts, sizeof ts);
	r = snprintf(buf, sizeof buf,
	    "%s %s %s \"%s %.2000s\" %d %llu %s up=%.1fms t=%.1fms rid=%llu\n",
	    ts, log_role, a->client ? a->client : "-", a->method ? a->method : "-",
	    a->target ? a->target : "-", a->status, a->bytes, a->cache ? a->cache : "-",
	    a->upstream_ms, a->total_ms, a->reqid);
	if (r < 0)
		return;
	if ((size_t)r >= sizeof buf) {
		r = sizeof buf - 1;
		buf[r - 1] = '\n';
	}
	emit(fd, buf, (size_t)r);
}
