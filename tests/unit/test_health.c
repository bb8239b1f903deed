/*
 * test_health.c: heartbeats against a real libmicrohttpd server on 127.0.0.1.
 *
 * The server binds port 0 and the test reads the port back, so there is no
 * guessing. Probes run every 50 ms here (timeout 300 ms, fall 2, rise 2), and
 * every wait polls the state every 5 ms up to a bound derived from those
 * numbers, so the test takes about as long as detection itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/health.h"
#include "util/err.h"

#define INTERVAL_MS 50
#define TIMEOUT_MS  300
#define FALL        2
#define RISE        2
/* Scheduling slack on a loaded (or sanitized) test machine. */
#define SLACK_MS    400

/* ---------------------------------------------------------------- a tiny server */

struct server {
	struct MHD_Daemon *d;
	uint16_t port;
	atomic_int status;       /* what the health path answers */
	atomic_uint requests;
};

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	int status = strcmp(url, HEALTH_PATH_DEFAULT) == 0 ? atomic_load(&s->status) : 404;
	static const char body[] = "{\"status\":\"ok\"}\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	atomic_fetch_add(&s->requests, 1);
	resp = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
	    MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Start on 127.0.0.1:port (0 for any); returns false if the port is taken. */
static bool
server_start(struct server *s, uint16_t port)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL, answer, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_END);
	if (s->d == NULL)
		return false;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	return true;
}

static void
server_stop(struct server *s)
{
	MHD_stop_daemon(s->d);
	s->d = NULL;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
nap_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until upstream idx is in state up, or bound_ms passes. Returns the
 * time it took, or fails the test with both numbers. */
static uint64_t
wait_state(struct health *h, unsigned idx, bool up, uint64_t bound_ms, const char *what)
{
	uint64_t t0 = now_ms();

	while (health_is_up(h, idx) != up) {
		if (now_ms() - t0 > bound_ms)
			fail_msg("%s: still %s after %llu ms, expected %s within %llu ms", what,
			    up ? "down" : "up", (unsigned long long)(now_ms() - t0),
			    up ? "up" : "down", (unsigned long long)bound_ms);
		nap_ms(5);
	}
	return now_ms() - t0;
}

static void
opts(struct health_opts *o)
{
	health_opts_default(o);
	o->interval_ms = INTERVAL_MS;
	o->timeout_ms = TIMEOUT_MS;
	o->fall = FALL;
	o->rise = RISE;
}

/* A port on 127.0.0.1 that nobody listens on (bound, read back, closed). */
static uint16_t
dead_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Transitions seen by the callback, in order. */
struct changes {
	pthread_mutex_t mtx;
	unsigned n;
	unsigned idx[16];
	bool up[16];
};

static void
on_change(void *arg, unsigned idx, bool up)
{
	struct changes *c = arg;

	pthread_mutex_lock(&c->mtx);
	if (c->n < 16) {
		c->idx[c->n] = idx;
		c->up[c->n] = up;
		c->n++;
	}
	pthread_mutex_unlock(&c->mtx);
}

static int
setup(void **state)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void
defaults_are_one_second_half_a_second_two_and_two(void **state)
{
	struct health_opts o;

	health_opts_default(&o);
	assert_int_equal(o.interval_ms, 1000);
	assert_int_equal(o.timeout_ms, 500);
	assert_int_equal(o.fall, 2);
	assert_int_equal(o.rise, 2);
	assert_string_equal(o.path, "/.well-known/cdn/health");
	assert_false(o.strict);
}

static void
probe_url_is_scheme_host_port_and_health_path(void **state)
{
	char *urls[] = { "http://127.0.0.1:8081", "http://shield.example:8080/prefix/?q=1",
		"https://[::1]:8443/" };
	struct health *h = health_new(urls, 3, NULL);
	char *bad[] = { "127.0.0.1:8081" };

	assert_non_null(h);
	assert_string_equal(health_url(h, 0), "http://127.0.0.1:8081/.well-known/cdn/health");
	assert_string_equal(health_url(h, 1),
	    "http://shield.example:8080/.well-known/cdn/health");
	assert_string_equal(health_url(h, 2), "https://[::1]:8443/.well-known/cdn/health");
	/* Upstreams start up, before any probe. */
	assert_true(health_is_up(h, 0));
	assert_int_equal(health_up_count(h), 3);
	health_free(&h);
	assert_null(h);
	assert_null(health_new(bad, 1, NULL));
}

static void
stopped_server_goes_down_and_restarted_server_comes_back(void **state)
{
	struct server s = { 0 };
	struct health_opts o;
	struct health *h;
	struct health_status st;
	struct changes ch = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	char url[64], *urls[1] = { url };
	uint64_t took, t0;
	uint16_t port;

	atomic_init(&s.status, 200);
	assert_true(server_start(&s, 0));
	port = s.port;
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
	opts(&o);
	o.on_change = on_change;
	o.arg = &ch;
	h = health_new(urls, 1, &o);
	assert_non_null(h);
	assert_int_equal(health_start(h), CDN_OK);

	/* Up, and really probed: wait for a few successful probes. */
	t0 = now_ms();
	do {
		health_get(h, 0, &st);
		if (now_ms() - t0 > 3 * INTERVAL_MS + TIMEOUT_MS + SLACK_MS)
			fail_msg("only %llu probes after %llu ms, expected 3",
			    (unsigned long long)st.probes, (unsigned long long)(now_ms() - t0));
		nap_ms(5);
	} while (st.probes < 3);
	assert_true(health_is_up(h, 0));
	assert_int_equal(st.probe_failures, 0);
	assert_int_equal(st.last_status, 200);
	assert_true(atomic_load(&s.requests) >= 3);

	/* Stop the server: down within fall probes, at most fall * interval + timeout. */
	server_stop(&s);
	took = wait_state(h, 0, false, FALL * INTERVAL_MS + TIMEOUT_MS + SLACK_MS,
	    "after the server stopped");
	print_message("down %llu ms after the server stopped (bound %u ms)\n",
	    (unsigned long long)took, FALL * INTERVAL_MS + TIMEOUT_MS);
	health_get(h, 0, &st);
	assert_false(st.up);
	assert_true(st.fails >= FALL);
	assert_true(st.last_error[0] != '\0');

	/* Restart on the same port: up again after rise good probes. */
	t0 = now_ms();
	while (!server_start(&s, port)) {
		if (now_ms() - t0 > 2000)
			fail_msg("cannot listen on port %u again", (unsigned)port);
		nap_ms(10);
	}
	assert_int_equal(s.port, port);
	took = wait_state(h, 0, true, RISE * INTERVAL_MS + TIMEOUT_MS + SLACK_MS,
	    "after the server restarted");
	print_message("up %llu ms after the server restarted (bound %u ms)\n",
	    (unsigned long long)took, RISE * INTERVAL_MS + TIMEOUT_MS);

	health_stop(h);
	health_get(h, 0, &st);
	assert_int_equal(st.transitions, 2);
	assert_true(st.changed_at != 0);
	pthread_mutex_lock(&ch.mtx);
	assert_int_equal(ch.n, 2);
	assert_false(ch.up[0]);
	assert_true(ch.up[1]);
	assert_int_equal(ch.idx[0], 0);
	pthread_mutex_unlock(&ch.mtx);
	health_free(&h);
	server_stop(&s);
}

static void
nothing_listening_is_down_after_fall_probes(void **state)
{
	struct server s = { 0 };
	struct health_opts o;
	struct health *h;
	char live[64], dead[64], *urls[2] = { live, dead };
	uint64_t took;

	atomic_init(&s.status, 200);
	assert_true(server_start(&s, 0));
	snprintf(live, sizeof live, "http://127.0.0.1:%u/", (unsigned)s.port);
	snprintf(dead, sizeof dead, "http://127.0.0.1:%u/", (unsigned)dead_port());
	opts(&o);
	h = health_new(urls, 2, &o);
	assert_non_null(h);
	assert_int_equal(health_start(h), CDN_OK);
	took = wait_state(h, 1, false, FALL * INTERVAL_MS + TIMEOUT_MS + SLACK_MS,
	    "an upstream nobody listens for");
	assert_true(took <= FALL * INTERVAL_MS + TIMEOUT_MS + SLACK_MS);
	/* The other upstream is unaffected. */
	nap_ms(3 * INTERVAL_MS);
	assert_true(health_is_up(h, 0));
	assert_false(health_is_up(h, 1));
	assert_int_equal(health_up_count(h), 1);
	health_stop(h);
	health_free(&h);
	server_stop(&s);
}

static void
reported_failures_mark_down_at_once_and_probes_bring_it_back(void **state)
{
	struct server s = { 0 };
	struct health_opts o;
	struct health *h;
	struct health_status st;
	char url[64], *urls[1] = { url };

	atomic_init(&s.status, 200);
	assert_true(server_start(&s, 0));
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s.port);
	opts(&o);
	o.interval_ms = 200;   /* slow probes, so the reports decide first */
	h = health_new(urls, 1, &o);
	assert_non_null(h);

	/* Not started: only reports count. fall reports in a row mark it down,
	 * synchronously. */
	for (unsigned i = 0; i < FALL - 1; i++)
		health_report_failure(h, 0);
	assert_true(health_is_up(h, 0));
	health_report_failure(h, 0);
	assert_false(health_is_up(h, 0));
	health_get(h, 0, &st);
	assert_int_equal(st.reported_failures, FALL);
	assert_int_equal(st.probes, 0);

	/* The server is fine, so probes bring it back after rise successes. */
	assert_int_equal(health_start(h), CDN_OK);
	wait_state(h, 0, true, RISE * o.interval_ms + TIMEOUT_MS + SLACK_MS,
	    "reported down, server alive");
	health_get(h, 0, &st);
	assert_true(st.probes >= RISE);
	health_stop(h);
	health_free(&h);
	server_stop(&s);
}

static void
status_503_is_a_failure_and_404_is_alive_unless_strict(void **state)
{
	struct server s = { 0 };
	struct health_opts o;
	struct health *lax, *strict;
	struct health_status st;
	char url[64], *urls[1] = { url };

	atomic_init(&s.status, 503);
	assert_true(server_start(&s, 0));
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s.port);
	opts(&o);
	lax = health_new(urls, 1, &o);
	o.strict = true;
	strict = health_new(urls, 1, &o);
	assert_int_equal(health_start(lax), CDN_OK);
	assert_int_equal(health_start(strict), CDN_OK);

	wait_state(lax, 0, false, FALL * INTERVAL_MS + TIMEOUT_MS + SLACK_MS, "503, lax");
	wait_state(strict, 0, false, FALL * INTERVAL_MS + TIMEOUT_MS + SLACK_MS, "503, strict");
	health_get(lax, 0, &st);
	assert_int_equal(st.last_status, 503);
	assert_string_equal(st.last_error, "HTTP status 503");

	/* An origin without the health path answers 404: alive, unless strict. */
	atomic_store(&s.status, 404);
	wait_state(lax, 0, true, RISE * INTERVAL_MS + TIMEOUT_MS + SLACK_MS, "404, lax");
	nap_ms(4 * INTERVAL_MS);
	assert_false(health_is_up(strict, 0));

	atomic_store(&s.status, 204);
	wait_state(strict, 0, true, RISE * INTERVAL_MS + TIMEOUT_MS + SLACK_MS, "204, strict");
	health_stop(lax);
	health_stop(strict);
	health_free(&lax);
	health_free(&strict);
	server_stop(&s);
}

static void
silent_upstream_times_out_and_stop_does_not_wait_for_it(void **state)
{
	/* A socket that listens but never accepts: connects succeed (backlog),
	 * no answer ever comes. */
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct health_opts o;
	struct health *h;
	char url[64], *urls[1] = { url };
	uint64_t t0, took;

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));

	opts(&o);
	h = health_new(urls, 1, &o);
	assert_int_equal(health_start(h), CDN_OK);
	/* Each probe ends at the timeout; fall of them mark it down. */
	took = wait_state(h, 0, false, FALL * (INTERVAL_MS + TIMEOUT_MS) + SLACK_MS,
	    "silent upstream");
	assert_true(took >= TIMEOUT_MS);
	/* Stop while a probe is hanging: returns without waiting for its timeout. */
	nap_ms(20);
	t0 = now_ms();
	health_stop(h);
	took = now_ms() - t0;
	if (took > 100)
		fail_msg("health_stop took %llu ms, expected well under the %u ms timeout",
		    (unsigned long long)took, TIMEOUT_MS);
	health_stop(h);   /* twice is fine */
	health_free(&h);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_one_second_half_a_second_two_and_two),
		cmocka_unit_test(probe_url_is_scheme_host_port_and_health_path),
		cmocka_unit_test(stopped_server_goes_down_and_restarted_server_comes_back),
		cmocka_unit_test(nothing_listening_is_down_after_fall_probes),
		cmocka_unit_test(reported_failures_mark_down_at_once_and_probes_bring_it_back),
		cmocka_unit_test(status_503_is_a_failure_and_404_is_alive_unless_strict),
		cmocka_unit_test(silent_upstream_times_out_and_stop_does_not_wait_for_it),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
