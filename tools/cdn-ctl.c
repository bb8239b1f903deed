/*
 * cdn-ctl: the command line of the CDN's control plane. It talks to one
 * node's admin listener (--server) with a bearer token: purge URLs, ban a
 * prefix, purge by tag, warm URLs (with a progress bar on a terminal),
 * show stats, follow the invalidation events.
 *
 * Output is for people by default and JSON with --json (one document per
 * line, as the server sent it). Exit status: 0 everything worked, 1 the
 * request failed or part of it did (URLs of a warm job failed, receipts
 * missing with --wait), 2 bad usage.
 *
 * A plain program: libcurl easy handles, one request at a time, no
 * threads. It links nothing of libcommon.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tools/cli.h"

struct opts {
	const char *server;
	char *token;
	bool json, soft, wait, no_progress, detach;
	long wait_timeout_ms;
	const char *file;
	const char *since;
	long count;
	long timeout_s;
};

static struct opts o = { .timeout_s = 30, .count = -1 };

static void usage(FILE *f);

/* ---------------------------------------------------------------- helpers */

static json_int_t
jint(const json_t *j, const char *k)
{
	return json_integer_value(json_object_get(j, k));
}

static const char *
jstr(const json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s != NULL ? s : "";
}

/* ---------------------------------------------------------------- HTTP */

/* One request to the admin listener. Returns the HTTP status (0 when there
 * was no answer, with the reason printed) and the body in *out. */
static long
request(const char *method, const char *path, const char *body, struct cli_buf *out)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4096], auth[1024];
	long status = 0;
	CURLcode rc;

	memset(out, 0, sizeof *out);
	if (e == NULL) {
		fprintf(stderr, "cdn-ctl: cannot initialise libcurl\n");
		return 0;
	}
	snprintf(url, sizeof url, "%s%s", o.server, path);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", o.token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cli_buf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, o.timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cdn-ctl/" PACKAGE_VERSION);
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK)
		fprintf(stderr, "cdn-ctl: %s %s: %s\n", method, url, curl_easy_strerror(rc));
	else
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return status;
}

/* A JSON request whose answer must be 2xx JSON. Returns the parsed answer
 * or NULL (reason printed). */
static json_t *
call(const char *method, const char *path, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	struct cli_buf b;
	json_t *j;
	long st = request(method, path, text, &b);

	free(text);
	if (st == 0) {
		free(b.p);
		return NULL;
	}
	j = b.p != NULL ? json_loads(b.p, 0, NULL) : NULL;
	if (st < 200 || st > 299) {
		const char *msg = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "cdn-ctl: %s %s: HTTP %ld: %s\n", method, path, st,
		    msg != NULL ? msg : (b.p != NULL ? b.p : "no details"));
		if (st == 401)
			fprintf(stderr, "cdn-ctl: check --token (or $CDN_TOKEN)\n");
		json_decref(j);
		free(b.p);
		return NULL;
	}
	if (j == NULL)
		fprintf(stderr, "cdn-ctl: %s %s: the answer is not JSON\n", method, path);
	free(b.p);
	return j;
}

static void
print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* ---------------------------------------------------------------- purge */

static int
cmd_purge(const char *kind, char **args, int n)
{
	json_t *body = json_object(), *a, *ans, *rc, *nodes, *v;
	int status = 0;
	size_t i;

	if (strcmp(kind, "all") == 0) {
		json_object_set_new(body, "all", json_true());
	} else if (strcmp(kind, "prefix") == 0) {
		json_object_set_new(body, "prefix", json_string(args[0]));
	} else {
		a = json_array();
		for (int k = 0; k < n; k++)
			json_array_append_new(a, json_string(args[k]));
		json_object_set_new(body, kind, a);
	}
	if (o.soft)
		json_object_set_new(body, "soft", json_true());
	if (o.wait) {
		json_object_set_new(body, "wait", json_true());
		if (o.wait_timeout_ms > 0)
			json_object_set_new(body, "timeout_ms", json_integer(o.wait_timeout_ms));
	}
	ans = call("POST", "/purge", body);
	json_decref(body);
	if (ans == NULL)
		return CLI_EXIT_FAILED;
	rc = json_object_get(ans, "receipts");
	if (rc != NULL && !json_is_true(json_object_get(rc, "complete")))
		status = CLI_EXIT_FAILED;
	if (o.json) {
		print_json(ans);
		json_decref(ans);
		return status;
	}
	printf("%s %lld object%s%s (event %s)\n", o.soft ? "marked stale" : "purged",
	    (long long)jint(ans, "purged"), jint(ans, "purged") == 1 ? "" : "s",
	    strcmp(kind, "urls") == 0 && n > 1 ? " of the URLs given" : "", jstr(ans, "event"));
	if (rc != NULL) {
		nodes = json_object_get(rc, "nodes");
		printf("receipts: %lld of %zu children applied it (waited %lld ms)%s\n",
		    (long long)jint(rc, "acked"), json_array_size(nodes),
		    (long long)jint(rc, "waited_ms"),
		    json_array_size(nodes) == 0 ? "; no child is subscribed" : "");
		json_array_foreach(nodes, i, v) {
			if (json_is_true(json_object_get(v, "applied")))
				printf("  %-24s applied after %lld ms\n", jstr(v, "node"),
				    (long long)jint(v, "after_ms"));
			else
				printf("  %-24s NO RECEIPT\n", jstr(v, "node"));
		}
	}
	json_decref(ans);
	return status;
}

/* ---------------------------------------------------------------- warm */

static void
add_manifest(json_t *urls, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char line[16384];
	unsigned lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "cdn-ctl: %s: %s\n", file, strerror(errno));
		exit(CLI_EXIT_USAGE);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *end;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (*p != '/' && strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
			fprintf(stderr, "cdn-ctl: %s:%u: not a path or an http(s) URL: %s\n", file, lineno,
			    p);
			exit(CLI_EXIT_USAGE);
		}
		json_array_append_new(urls, json_string(p));
	}
	if (f != stdin)
		fclose(f);
}

static void
progress_bar(const json_t *j, bool tty, bool final)
{
	json_int_t total = jint(j, "total"), done = jint(j, "done");
	const json_t *oc = json_object_get(j, "outcomes");
	char bar[41];

	if (tty) {
		cli_bar(bar, 40, total > 0 ? (int)(done * 40 / total) : 40);
		fprintf(stdout, "\r[%s] %lld/%lld  fetched %lld  hit %lld  failed %lld%s", bar,
		    (long long)done, (long long)total, (long long)jint(oc, "fetched"),
		    (long long)jint(oc, "hit"), (long long)jint(j, "failed"), final ? "\n" : "");
	} else {
		fprintf(stdout, "warm job %lld: %lld/%lld done (fetched %lld, hit %lld, failed %lld)\n",
		    (long long)jint(j, "job"), (long long)done, (long long)total,
		    (long long)jint(oc, "fetched"), (long long)jint(oc, "hit"),
		    (long long)jint(j, "failed"));
	}
	fflush(stdout);
}

static int
cmd_warm(char **args, int n)
{
	json_t *body = json_object(), *urls = json_array(), *ans, *job = NULL, *oc, *v;
	bool tty = isatty(STDOUT_FILENO) && !o.no_progress && !o.json;
	json_int_t id, last_done = -1;
	uint64_t last_print = 0;
	char path[64];
	const char *state;
	const char *k;
	size_t i;
	int status;

	for (int a = 0; a < n; a++)
		json_array_append_new(urls, json_string(args[a]));
	if (o.file != NULL)
		add_manifest(urls, o.file);
	if (json_array_size(urls) == 0)
		cli_die_usage("warm: give URLs or --file MANIFEST");
	json_object_set_new(body, "urls", urls);
	ans = call("POST", "/warm", body);
	json_decref(body);
	if (ans == NULL)
		return CLI_EXIT_FAILED;
	id = jint(ans, "job");
	if (o.detach) {
		if (o.json)
			print_json(ans);
		else
			printf("warm job %lld queued: %lld URLs (cdn-ctl job %lld)\n", (long long)id,
			    (long long)jint(ans, "total"), (long long)id);
		json_decref(ans);
		return 0;
	}
	json_decref(ans);
	snprintf(path, sizeof path, "/jobs/%lld", (long long)id);
	for (;;) {
		json_decref(job);
		job = call("GET", path, NULL);
		if (job == NULL)
			return CLI_EXIT_FAILED;
		state = jstr(job, "state");
		if (strcmp(state, "done") == 0 || strcmp(state, "cancelled") == 0 || cli_interrupted())
			break;
		if (!o.json && (tty || (jint(job, "done") != last_done &&
		    cli_now_ms() - last_print >= 1000))) {
			progress_bar(job, tty, false);
			last_done = jint(job, "done");
			last_print = cli_now_ms();
		}
		usleep(200 * 1000);
	}
	status = jint(job, "failed") > 0 || strcmp(state, "done") != 0 ? CLI_EXIT_FAILED : 0;
	if (o.json) {
		print_json(job);
		json_decref(job);
		return status;
	}
	progress_bar(job, tty, true);
	oc = json_object_get(job, "outcomes");
	printf("warm job %lld %s: %lld URLs in %.1f s:", (long long)id, state,
	    (long long)jint(job, "total"), (double)jint(job, "elapsed_ms") / 1000.0);
	json_object_foreach(oc, k, v)
		if (json_integer_value(v) > 0)
			printf(" %s %lld", k, (long long)json_integer_value(v));
	printf("\n");
	json_array_foreach(json_object_get(job, "errors"), i, v) {
		if (json_object_get(v, "error") != NULL)
			printf("  failed: %s: %s\n", jstr(v, "url"), jstr(v, "error"));
		else
			printf("  failed: %s: HTTP %lld\n", jstr(v, "url"), (long long)jint(v, "status"));
	}
	json_decref(job);
	return status;
}

static int
cmd_job(const char *id)
{
	char path[64];
	json_t *j;
	const json_t *oc, *v;
	const char *k;

	snprintf(path, sizeof path, "/jobs/%s", id);
	if ((j = call("GET", path, NULL)) == NULL)
		return CLI_EXIT_FAILED;
	if (o.json) {
		print_json(j);
	} else {
		printf("warm job %lld: %s, %lld/%lld done, %lld failed:", (long long)jint(j, "job"),
		    jstr(j, "state"), (long long)jint(j, "done"), (long long)jint(j, "total"),
		    (long long)jint(j, "failed"));
		oc = json_object_get(j, "outcomes");
		json_object_foreach((json_t *)(uintptr_t)oc, k, v)
			if (json_integer_value(v) > 0)
				printf(" %s %lld", k, (long long)json_integer_value(v));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

/* ---------------------------------------------------------------- stats */

static int
cmd_stats(void)
{
	json_t *s = call("GET", "/stats", NULL), *v;
	json_int_t hits, misses;
	char mem[32], lim[32];
	size_t i;

	if (s == NULL)
		return CLI_EXIT_FAILED;
	if (o.json) {
		print_json(s);
		json_decref(s);
		return 0;
	}
	hits = jint(s, "hits");
	misses = jint(s, "misses");
	cli_human_bytes((uint64_t)jint(s, "mem_bytes"), mem, sizeof mem);
	cli_human_bytes((uint64_t)jint(s, "mem_limit"), lim, sizeof lim);
	printf("node        %s (%s), up %lld s\n", jstr(s, "name"), jstr(s, "role"),
	    (long long)jint(s, "uptime_seconds"));
	printf("requests    %lld: hits %lld, misses %lld, stale %lld, passes %lld; hit ratio %.1f%%\n",
	    (long long)jint(s, "requests"), (long long)hits, (long long)misses,
	    (long long)jint(s, "stale"), (long long)jint(s, "passes"),
	    hits + misses > 0 ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
	printf("memory      %lld objects, %s of %s, %lld evictions\n",
	    (long long)jint(s, "mem_objects"), mem, lim, (long long)jint(s, "evictions"));
	printf("upstream    %lld requests, %lld errors\n", (long long)jint(s, "upstream_requests"),
	    (long long)jint(s, "upstream_errors"));
	printf("purges      %lld requests, %lld objects purged\n",
	    (long long)jint(s, "purge_requests"), (long long)jint(s, "purged_objects"));
	v = json_object_get(s, "events");
	if (v != NULL)
		printf("events      head %s (%s), published %lld, applied %lld, duplicates %lld, "
		    "resets %lld\n", jstr(v, "head_id"), json_is_true(json_object_get(v, "durable")) ?
		    "durable" : "temporary", (long long)jint(s, "events_published"),
		    (long long)jint(s, "events_applied"), (long long)jint(s, "events_duplicate"),
		    (long long)jint(s, "event_resets"));
	v = json_object_get(s, "catchup");
	if (v != NULL)
		printf("catch-up    %s after %lld ms%s%s\n", jstr(v, "state"), (long long)jint(v, "ms"),
		    jstr(v, "detail")[0] ? ": " : "", jstr(v, "detail"));
	v = json_object_get(s, "subscriptions");
	if (json_array_size(v) > 0) {
		json_t *e;

		printf("subscriptions (upstreams and peers)\n");
		json_array_foreach(v, i, e)
			printf("  %-32s %-12s lag %lld, applied %lld, duplicates %lld%s%s\n",
			    jstr(e, "url"), jstr(e, "state"), (long long)jint(e, "lag_events"),
			    (long long)jint(e, "applied"), (long long)jint(e, "duplicates"),
			    jstr(e, "error")[0] ? "  " : "", jstr(e, "error"));
	}
	v = json_object_get(s, "children");
	if (json_array_size(v) > 0) {
		json_t *e;

		printf("children\n");
		json_array_foreach(v, i, e)
			printf("  %-24s %-13s %-22s lag %lld, receipts %lld\n", jstr(e, "node"),
			    json_is_true(json_object_get(e, "connected")) ? "connected" : "disconnected",
			    jstr(e, "addr"), (long long)jint(e, "lag_events"),
			    (long long)jint(e, "receipts"));
	}
	json_decref(s);
	return 0;
}

/* ---------------------------------------------------------------- events */

struct sse {
	char *line;
	size_t len;
	char id[128], event[32];
	char *data;
	long seen;
};

static void
sse_dispatch(struct sse *s)
{
	json_t *d = s->data != NULL ? json_loads(s->data, 0, NULL) : NULL;
	const char *ev = s->event[0] ? s->event : "message";
	char what[512] = "";

	if (o.json) {
		json_t *out = json_pack("{s:s,s:s}", "event", ev, "id", s->id);

		if (d != NULL)
			json_object_set(out, "data", d);
		print_json(out);
		json_decref(out);
	} else if (strcmp(ev, "ready") == 0) {
		printf("-- caught up (head %s); following live events --\n", jstr(d, "head"));
	} else {
		const json_t *a;

		if ((a = json_object_get(d, "urls")) != NULL || (a = json_object_get(d, "tags")) != NULL) {
			size_t i, off = 0;
			json_t *e;

			off += (size_t)snprintf(what, sizeof what, "%s",
			    json_object_get(d, "urls") != NULL ? "urls" : "tags");
			json_array_foreach((json_t *)(uintptr_t)a, i, e)
				if (off < sizeof what)
					off += (size_t)snprintf(what + off, sizeof what - off, " %s",
					    json_string_value(e));
		} else if (json_object_get(d, "prefix") != NULL) {
			snprintf(what, sizeof what, "prefix %s", jstr(d, "prefix"));
		} else if (json_is_true(json_object_get(d, "all"))) {
			snprintf(what, sizeof what, "everything");
		}
		printf("%-24s %-6s %s%s  (origin %s, uid %s)\n", s->id, ev, what,
		    json_is_true(json_object_get(d, "soft")) ? " [soft]" : "", jstr(d, "origin"),
		    jstr(d, "uid"));
	}
	fflush(stdout);
	json_decref(d);
	if (strcmp(ev, "ready") != 0)
		s->seen++;
}

static size_t
sse_data(char *p, size_t size, size_t n, void *arg)
{
	struct sse *s = arg;
	size_t len = size * n;

	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n') {
			s->line = cli_realloc(s->line, s->len + 2);
			s->line[s->len++] = p[i];
			s->line[s->len] = '\0';
			continue;
		}
		if (s->len > 0 && s->line[s->len - 1] == '\r')
			s->line[--s->len] = '\0';
		if (s->len == 0) {
			if (s->data != NULL || s->event[0] != '\0')
				sse_dispatch(s);
			free(s->data);
			s->data = NULL;
			s->event[0] = '\0';
			if (o.count >= 0 && s->seen >= o.count)
				return 0;
		} else if (strncmp(s->line, "id:", 3) == 0) {
			snprintf(s->id, sizeof s->id, "%s", s->line + 3 + (s->line[3] == ' '));
		} else if (strncmp(s->line, "event:", 6) == 0) {
			snprintf(s->event, sizeof s->event, "%s", s->line + 6 + (s->line[6] == ' '));
		} else if (strncmp(s->line, "data:", 5) == 0) {
			free(s->data);
			s->data = strdup(s->line + 5 + (s->line[5] == ' '));
		}
		s->len = 0;
		if (s->line != NULL)
			s->line[0] = '\0';
	}
	return cli_interrupted() ? 0 : len;
}

static int
progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return cli_interrupted() ? 1 : 0;
}

static int
cmd_events(void)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	struct sse s;
	char url[4096], auth[1024];
	long status = 0;
	CURLcode rc;

	memset(&s, 0, sizeof s);
	if (o.since != NULL) {
		char *esc = curl_easy_escape(e, o.since, 0);

		snprintf(url, sizeof url, "%s/events?since=%s", o.server, esc);
		curl_free(esc);
	} else {
		snprintf(url, sizeof url, "%s/events", o.server);
	}
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", o.token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: text/event-stream");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sse_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cdn-ctl/" PACKAGE_VERSION);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	free(s.line);
	free(s.data);
	if (status != 0 && status != 200) {
		fprintf(stderr, "cdn-ctl: GET %s: HTTP %ld%s\n", url, status,
		    status == 401 ? " (check --token)" : "");
		return CLI_EXIT_FAILED;
	}
	if (o.count >= 0 && s.seen >= o.count)
		return 0;
	if (cli_interrupted())
		return 0;
	if (rc != CURLE_OK) {
		fprintf(stderr, "cdn-ctl: GET %s: %s\n", url, curl_easy_strerror(rc));
		return CLI_EXIT_FAILED;
	}
	return 0;
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: cdn-ctl --server URL --token TOKEN [OPTIONS] COMMAND [ARGS...]\n"
	    "\n"
	    "Control a CDN node through its admin listener. A purge sent to a top-tier\n"
	    "shield reaches every node below it (the shields of a tier and their\n"
	    "children follow each other's invalidation events).\n"
	    "\n"
	    "Commands:\n"
	    "  purge URL...           remove URLs (a path with its query, or an absolute URL)\n"
	    "                         with all their Vary variants\n"
	    "  ban PREFIX             remove every URL that starts with PREFIX\n"
	    "  purge-tag TAG...       remove objects whose Surrogate-Key lists a TAG\n"
	    "  purge-all              remove everything\n"
	    "  warm URL...            fetch URLs into the cache through the node (coalesced,\n"
	    "                         through the shields); shows progress\n"
	    "  warm --file MANIFEST   the same with URLs from a file, one a line (- for stdin)\n"
	    "  job ID                 show a warm job\n"
	    "  stats                  counters, event log, subscriptions and children\n"
	    "  events                 follow the invalidation events (Ctrl-C stops)\n"
	    "\n"
	    "Options:\n"
	    "  -s, --server URL       the node's admin listener (default $CDN_SERVER)\n"
	    "  -t, --token TOKEN      admin token (default $CDN_TOKEN)\n"
	    "      --token-file FILE  read the token from FILE (its first word)\n"
	    "  -j, --json             print the server's JSON answers, one per line\n"
	    "      --soft             purges: mark stale (revalidate; usable under\n"
	    "                         stale-if-error) instead of removing\n"
	    "  -w, --wait             purges: wait for the children's receipts and list them\n"
	    "      --wait-timeout MS  purges: wait at most this long (server caps it)\n"
	    "  -f, --file MANIFEST    warm: read URLs from MANIFEST\n"
	    "      --detach           warm: print the job id and return at once\n"
	    "      --no-progress      warm: plain progress lines even on a terminal\n"
	    "      --since ID|0       events: start after event ID (0: everything retained)\n"
	    "      --count N          events: stop after N events\n"
	    "      --timeout SECONDS  per request (default 30)\n"
	    "  -h, --help             this help;  -V, --version  the version\n"
	    "\n"
	    "Examples:\n"
	    "  cdn-ctl -s http://127.0.0.1:9081 -t $TOKEN purge /index.html '/search?q=cdn'\n"
	    "  cdn-ctl -s http://127.0.0.1:9081 -t $TOKEN purge --wait https://www.example.com/a.css\n"
	    "  cdn-ctl -s http://127.0.0.1:9081 -t $TOKEN ban /static/v1/\n"
	    "  cdn-ctl -s http://127.0.0.1:9081 -t $TOKEN --soft purge-tag product-42 product-43\n"
	    "  cdn-ctl -s http://127.0.0.1:9080 -t $TOKEN warm --file top-urls.txt\n"
	    "  cdn-ctl -s http://127.0.0.1:9080 -t $TOKEN --json stats | jq .hits\n"
	    "  cdn-ctl -s http://127.0.0.1:9081 -t $TOKEN events --since 0\n"
	    "\n"
	    "Exit status: 0 success, 1 the request (or part of it) failed, 2 bad usage.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_NODE_OPTIONS,
		{ "json", no_argument, NULL, 'j' },
		{ "soft", no_argument, NULL, 'S' },
		{ "wait", no_argument, NULL, 'w' },
		{ "wait-timeout", required_argument, NULL, 'W' },
		{ "file", required_argument, NULL, 'f' },
		{ "detach", no_argument, NULL, 'D' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "since", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char server[4096];
	const char *cmd;
	char *end;
	int c, rc, nargs;
	char **args;

	cli_init("cdn-ctl");
	while ((c = getopt_long(argc, argv, "s:t:jwf:hV", longopts, NULL)) != -1) {
		if (cli_node_option(c, optarg, &o.server, &o.token))
			continue;
		switch (c) {
		case 'j': o.json = true; break;
		case 'S': o.soft = true; break;
		case 'w': o.wait = true; break;
		case 'W':
			o.wait_timeout_ms = strtol(optarg, &end, 10);
			if (*end != '\0' || o.wait_timeout_ms <= 0)
				cli_die_usage("--wait-timeout: expected milliseconds, got \"%s\"", optarg);
			break;
		case 'f': o.file = optarg; break;
		case 'D': o.detach = true; break;
		case 'P': o.no_progress = true; break;
		case 'i': o.since = optarg; break;
		case 'n':
			o.count = strtol(optarg, &end, 10);
			if (*end != '\0' || o.count < 0)
				cli_die_usage("--count: expected a number, got \"%s\"", optarg);
			break;
		case 'o':
			o.timeout_s = strtol(optarg, &end, 10);
			if (*end != '\0' || o.timeout_s <= 0)
				cli_die_usage("--timeout: expected seconds, got \"%s\"", optarg);
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cdn-ctl %s\n", PACKAGE_VERSION); return 0;
		default: cli_die_usage("unknown or incomplete option");
		}
	}
	cli_node_defaults(&o.server, &o.token);
	if (optind >= argc)
		cli_die_usage("no command (purge, ban, purge-tag, purge-all, warm, job, stats, events)");
	if (o.server == NULL || o.server[0] == '\0')
		cli_die_usage("no server: give --server URL (the node's admin listener) or $CDN_SERVER");
	if (o.token == NULL || o.token[0] == '\0')
		cli_die_usage("no token: give --token TOKEN, --token-file FILE or $CDN_TOKEN");
	cli_server_url(o.server, server, sizeof server);
	o.server = server;
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

	signal(SIGINT, cli_on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "cdn-ctl: cannot initialise libcurl\n");
		return CLI_EXIT_FAILED;
	}
	if (strcmp(cmd, "purge") == 0) {
		if (nargs < 1)
			cli_die_usage("purge: give one or more URLs");
		rc = cmd_purge("urls", args, nargs);
	} else if (strcmp(cmd, "ban") == 0) {
		if (nargs != 1)
			cli_die_usage("ban: give exactly one PREFIX");
		rc = cmd_purge("prefix", args, nargs);
	} else if (strcmp(cmd, "purge-tag") == 0) {
		if (nargs < 1)
			cli_die_usage("purge-tag: give one or more tags");
		rc = cmd_purge("tags", args, nargs);
	} else if (strcmp(cmd, "purge-all") == 0) {
		if (nargs != 0)
			cli_die_usage("purge-all takes no arguments");
		rc = cmd_purge("all", args, 0);
	} else if (strcmp(cmd, "warm") == 0) {
		rc = cmd_warm(args, nargs);
	} else if (strcmp(cmd, "job") == 0) {
		if (nargs != 1)
			cli_die_usage("job: give the job id");
		rc = cmd_job(args[0]);
	} else if (strcmp(cmd, "stats") == 0) {
		if (nargs != 0)
			cli_die_usage("stats takes no arguments");
		rc = cmd_stats();
	} else if (strcmp(cmd, "events") == 0) {
		if (nargs != 0)
			cli_die_usage("events takes no arguments");
		rc = cmd_events();
	} else {
		cli_die_usage("unknown command \"%s\"", cmd);
	}
	curl_global_cleanup();
	free(o.token);
	return rc;
}
