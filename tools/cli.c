/*
 * cli.c: the helpers cdn-ctl and cdn-upload share (see cli.h).
 *
 * Design: a command-line tool has someone at the terminal, so a helper that
 * cannot go on (out of memory, bad usage) says so on stderr, prefixed with
 * the program's name, and exits with the tools' common status instead of
 * handing an error back up. Everything else is a pure function of its
 * arguments.
 *
 * Ownership and threads: the tools run on one thread; the program name is
 * written once by cli_init(), and the interrupt flag only by the signal
 * handler. Strings returned are the caller's to free.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"

static const char *prog = "cdn";
static volatile sig_atomic_t interrupted;

/* ---------------------------------------------------------------- messages */

void
cli_init(const char *name)
{
	prog = name;
}

void
cli_die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", prog);
	exit(CLI_EXIT_USAGE);
}

/* ---------------------------------------------------------------- memory */

void *
cli_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(CLI_EXIT_FAILED);
	}
	return q;
}

char *
cli_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(cli_realloc(NULL, n), s, n);
}

size_t
cli_buf_write(char *p, size_t size, size_t n, void *arg)
{
	struct cli_buf *b = arg;
	size_t len = size * n;

	if (b->max > 0 && b->len + len > b->max)
		return len;
	b->p = cli_realloc(b->p, b->len + len + 1);
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* ---------------------------------------------------------------- time and sizes */

uint64_t
cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
cli_human_bytes(uint64_t v, char *out, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	unsigned i = 0;

	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, len, "%llu B", (unsigned long long)v);
	else
		snprintf(out, len, "%.1f %s", d, u[i]);
}

void
cli_bar(char *out, int width, int filled)
{
	if (width < 0)
		width = 0;
	if (filled < 0)
		filled = 0;
	else if (filled > width)
		filled = width;
	memset(out, '#', (size_t)filled);
	memset(out + filled, '-', (size_t)(width - filled));
	out[width] = '\0';
}

/* ---------------------------------------------------------------- the node */

bool
cli_node_option(int c, const char *arg, const char **server, char **token)
{
	const char *why;

	switch (c) {
	case 's':
		*server = arg;
		return true;
	case 't':
		free(*token);
		*token = cli_strdup(arg);
		return true;
	case 'T':
		free(*token);
		if ((*token = cli_token_from_file(arg, &why)) == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, arg, why);
			exit(CLI_EXIT_USAGE);
		}
		return true;
	default:
		return false;
	}
}

void
cli_node_defaults(const char **server, char **token)
{
	if (*server == NULL)
		*server = getenv("CDN_SERVER");
	if (*token == NULL && getenv("CDN_TOKEN") != NULL)
		*token = cli_strdup(getenv("CDN_TOKEN"));
}

char *
cli_token_from_file(const char *path, const char **why)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *save, *tok, *out = NULL;
	size_t cap = 0;

	if (f == NULL) {
		*why = strerror(errno);
		return NULL;
	}
	*why = "no token in it";
	while (out == NULL && getline(&line, &cap, f) != -1) {
		line[strcspn(line, "#\r\n")] = '\0';
		if ((tok = strtok_r(line, " \t", &save)) != NULL)
			out = cli_strdup(tok);
	}
	free(line);
	fclose(f);
	return out;
}

void
cli_server_url(const char *server, char *out, size_t cap)
{
	size_t n;

	snprintf(out, cap, "%s%s", strstr(server, "://") != NULL ? "" : "http://", server);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
}

/* ---------------------------------------------------------------- signals */

void
cli_on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

bool
cli_interrupted(void)
{
	return interrupted != 0;
}
