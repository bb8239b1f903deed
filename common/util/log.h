/*
 * log.h: the error log and the access log.
 *
 * Every error-log line carries a timestamp, the role (edge or shield), the
 * level and, where there is one, the request id. The access log has one line
 * per request. Both go to a file or to stderr ("-"); log_reopen() reopens the
 * files (SIGHUP), so logrotate can move them away.
 *
 * Thread-safe: each line is formatted into a local buffer and written with
 * one write(2). Never call these while holding a cache lock (STYLE.md 5).
 */
#ifndef CDN_LOG_H
#define CDN_LOG_H

#include <stdarg.h>

enum log_level { LVL_ERROR = 0, LVL_WARN = 1, LVL_INFO = 2, LVL_DEBUG = 3 };

/* Set up logging for this process. Files may be NULL or "-" for stderr.
 * Returns 0, or CDN_ERR when a file cannot be opened (reason on stderr). */
int log_init(const char *role, const char *error_log, const char *access_log, int level);
/* Reopen both files; safe to call from a normal thread (not a signal handler). */
int log_reopen(void);
void log_fini(void);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
int log_level(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As log_msg, with strerror(err) appended. */
void log_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As log_msg, tagged with a request id. */
void log_req(int level, unsigned long long reqid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One access-log line. */
struct log_access {
	unsigned long long reqid;
	const char *client;       /* "127.0.0.1" */
	const char *method;
	const char *target;       /* raw request target */
	int status;
	unsigned long long bytes; /* body bytes sent */
	const char *cache;        /* HIT MISS STALE REVALIDATED PASS ERROR */
	double upstream_ms;       /* -1 when upstream was not asked */
	double total_ms;
};
void log_access(const struct log_access *a);

#define LOG_E(...) log_msg(LVL_ERROR, __VA_ARGS__)
#define LOG_W(...) log_msg(LVL_WARN, __VA_ARGS__)
#define LOG_I(...) log_msg(LVL_INFO, __VA_ARGS__)
#define LOG_D(...) do { if (log_level() >= LVL_DEBUG) log_msg(LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
