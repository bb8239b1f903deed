/*
 * cli.h: what the command-line tools (cdn-ctl, cdn-upload) share: messages
 * and exits for people at a terminal, allocation that never fails, a buffer
 * for answers read with libcurl, the monotonic clock in milliseconds, sizes
 * and progress bars for people, the options naming the node to talk to
 * (--server, --token, --token-file) and a Ctrl-C flag.
 *
 * The tools are single-threaded programs, so this module is too: the program
 * name set by cli_init() is plain global state, set once at the start of
 * main(); the only other state is the flag cli_on_signal() sets, which is
 * a sig_atomic_t. Nothing here uses libcommon (cdn-ctl links none of it) or
 * libcurl itself; cli_buf_write() only has the shape of a libcurl write
 * callback.
 */
#ifndef CDN_CLI_H
#define CDN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- messages and memory */

/* Exit statuses of every tool: 0 success, CLI_EXIT_FAILED the work (or part
 * of it) failed, CLI_EXIT_USAGE bad usage (options, arguments, token file). */
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2

/*
 * Name the program ("cdn-ctl") in the messages the functions below print.
 * `name` must outlive every later call (a literal). Before the first
 * call the messages say "cdn".
 */
void cli_init(const char *name);

/*
 * Bad usage: prints "PROG: MESSAGE (see PROG --help)" on stderr and exits
 * with CLI_EXIT_USAGE. Never returns.
 */
void cli_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * realloc(p, n) that never returns NULL: when memory runs out it prints
 * "PROG: out of memory" and exits with CLI_EXIT_FAILED. The caller owns the
 * result and frees it with free().
 */
void *cli_realloc(void *p, size_t n);

/* strdup(s) that never returns NULL, as cli_realloc(). The caller frees it. */
char *cli_strdup(const char *s);

/*
 * A growing, always NUL-terminated buffer for an answer body. Start from all
 * zeros; p is NULL until the first byte arrives and is the caller's to free.
 * max > 0 keeps at most max bytes: a write that would go beyond is dropped
 * whole (and reported consumed), so a runaway body cannot eat the memory.
 */
struct cli_buf {
	char *p;
	size_t len;
	size_t max;
};

/*
 * Appends size * n bytes at p to the struct cli_buf at arg. Has the shape of
 * a libcurl CURLOPT_WRITEFUNCTION (arg is CURLOPT_WRITEDATA) and always
 * returns size * n, so libcurl goes on.
 */
size_t cli_buf_write(char *p, size_t size, size_t n, void *arg);

/* ---------------------------------------------------------------- time, sizes, progress */

/* Milliseconds on the monotonic clock: for intervals, never for dates. */
uint64_t cli_now_ms(void);

/*
 * A byte count for people into out (len bytes, NUL-terminated, truncated if
 * short): "512 B" below 1 KiB, else one decimal and a binary unit up to TiB
 * ("1.5 MiB").
 */
void cli_human_bytes(uint64_t v, char *out, size_t len);

/*
 * The bar of a progress line: `filled` '#' then '-' up to `width` characters
 * and a NUL, so out holds width + 1 bytes. `filled` is clamped to 0..width.
 */
void cli_bar(char *out, int width, int filled);

/* ---------------------------------------------------------------- the node */

/*
 * The options naming the node a tool talks to, as entries of a getopt_long
 * table: --server URL (getopt_long returns 's'), --token TOKEN ('t') and
 * --token-file FILE ('T', no short form). Pass every option getopt_long
 * returns to cli_node_option() first. Expands where <getopt.h> is included.
 */
#define CLI_NODE_OPTIONS \
	{ "server", required_argument, NULL, 's' }, \
	{ "token", required_argument, NULL, 't' }, \
	{ "token-file", required_argument, NULL, 'T' }

/*
 * Takes the option c (with its argument arg) that getopt_long returned if it
 * is one of CLI_NODE_OPTIONS, and returns true; returns false for any other.
 * --server points *server at arg. --token and --token-file free *token and
 * store a copy of the new one, which the caller frees in the end. A token
 * file that cannot be read or holds no token ends the program:
 * "PROG: FILE: WHY" on stderr and CLI_EXIT_USAGE.
 */
bool cli_node_option(int c, const char *arg, const char **server, char **token);

/*
 * After the options: $CDN_SERVER for a *server still NULL, and a copy of
 * $CDN_TOKEN for a *token still NULL (the caller frees it). Either may stay
 * NULL; checking that is the caller's (the messages differ by tool).
 */
void cli_node_defaults(const char **server, char **token);

/*
 * The first token of a token file: lines "TOKEN SCOPE...", '#' starting a
 * comment, blank lines ignored (the format of the nodes' --token-file).
 * Returns a copy the caller frees, or NULL with *why saying what went wrong
 * (a static string: strerror() of the open, or "no token in it").
 */
char *cli_token_from_file(const char *path, const char **why);

/*
 * The --server value as requests use it: "http://" put in front when it
 * names no scheme, trailing slashes dropped, written into out (cap > 0
 * bytes, truncated if short).
 */
void cli_server_url(const char *server, char *out, size_t cap);

/* ---------------------------------------------------------------- signals */

/*
 * A signal handler (for SIGINT, SIGTERM) that only notes the signal, for the
 * tool's loops to stop at their next check. Install it with signal() or
 * sigaction() as the tool needs (restarting system calls or not).
 */
void cli_on_signal(int sig);

/* Whether cli_on_signal() has run. */
bool cli_interrupted(void);

#endif
