/*
 * node.c: one node's life: configuration, then the pieces bottom-up (cache,
 * fetch loop, front end, admin), then a signal loop in the main thread, then
 * teardown in the reverse order.
 *
 * Signals are blocked in every thread (they inherit the main thread's mask)
 * and taken synchronously with sigwait here, so SIGHUP's log reopening runs
 * as ordinary code, never inside a handler.
 */
#include "config.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/admin.h"
#include "http/fresh.h"
#include "net/fetch.h"
#include "net/front.h"
#include "net/health.h"
#include "net/upstream.h"
#include "node.h"
#include "store/cache.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"

static void
addr_string(const char *listen, unsigned port, char *out, size_t cap)
{
	char host[256];
	unsigned p;

	if (cfg_parse_hostport(listen, host, sizeof host, &p) != CDN_OK)
		snprintf(host, sizeof host, "127.0.0.1");
	if (strchr(host, ':') != NULL)
		snprintf(out, cap, "[%s]:%u", host, port);
	else
		snprintf(out, cap, "%s:%u", host, port);
}

int
node_main(const char *role, const char *progname, int argc, char **argv)
{
	struct cfg cfg;
	struct admin_tokens *tokens = NULL;
	struct fresh_cfg fcfg;
	struct cache *cache = NULL;
	struct ups *ups = NULL;
	struct fetcher *fetcher = NULL;
	struct health *health = NULL;
	struct front *front = NULL;
	struct admin *admin = NULL;
	struct front_deps fd;
	struct admin_deps ad;
	struct fetch_opts fo;
	char data_addr[300] = "", admin_addr[300] = "";
	sigset_t set;
	int sig, rc = 1;

	cfg_init(&cfg, role, progname);
	switch (cfg_parse_args(&cfg, argc, argv, stdout, stderr)) {
	case CFG_EXIT_OK:
		cfg_fini(&cfg);
		return 0;
	case CFG_EXIT_USAGE:
		cfg_fini(&cfg);
		return 2;
	case CFG_RUN:
		break;
	}
	if (admin_tokens_load(cfg.token_file, &tokens, stderr) != CDN_OK) {
		admin_tokens_free(&tokens);
		cfg_fini(&cfg);
		return 2;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (log_init(progname, cfg.error_log, cfg.access_log, cfg.log_level) != CDN_OK)
		goto Exit;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(LVL_ERROR, "cannot initialise libcurl");
		goto Exit;
	}

	fresh_cfg_default(&fcfg);
	fcfg.targeted_field = cfg.targeted_cc[0] != '\0' ? cfg.targeted_cc : NULL;
	fcfg.heuristic_fraction = cfg.heuristic_fraction;
	fcfg.heuristic_max = (int64_t)cfg.heuristic_max;

	cache = cache_new(cfg.mem_size);
	ups = ups_new(cfg.upstream.v, cfg.upstream.n);
	if (ups_count(ups) >= 2 && cfg.health_interval_ms > 0) {
		/* Heartbeats only where there is a choice: a single upstream
		 * (an origin) is asked whatever its health. */
		struct health_opts ho;

		health_opts_default(&ho);
		ho.interval_ms = cfg.health_interval_ms;
		ho.timeout_ms = cfg.health_timeout_ms;
		ho.fall = (unsigned)cfg.health_fall;
		ho.rise = (unsigned)cfg.health_rise;
		ho.path = cfg.health_path;
		health = health_new(ups_bases(ups), ups_count(ups), &ho);
		if (health_start(health) != CDN_OK)
			goto Exit;
	}
	memset(&fo, 0, sizeof fo);
	fo.connect_ms = cfg.connect_timeout_ms;
	fo.first_byte_ms = cfg.upstream_timeout_ms;
	fo.idle_ms = cfg.upstream_idle_ms;
	fo.max_conns = (unsigned)cfg.upstream_conns;
	fo.max_keep = cfg.max_object_size;
	fo.hfm_ttl = cfg.hit_for_miss;
	fo.coalesce_ms = cfg.coalesce_timeout_ms;
	fo.cache = cache;
	fo.fcfg = &fcfg;
	fo.ups = ups;
	fo.health = health;
	fo.max_attempts = (unsigned)cfg.upstream_attempts;
	fetcher = fetch_new(&fo);
	if (fetch_start(fetcher) != CDN_OK)
		goto Exit;

	memset(&fd, 0, sizeof fd);
	fd.cfg = &cfg;
	fd.cache = cache;
	fd.fetcher = fetcher;
	fd.ups = ups;
	fd.fcfg = &fcfg;
	fd.admin_addr = admin_addr;
	front = front_start(&fd);
	if (front == NULL)
		goto Exit;
	addr_string(cfg.listen, front_port(front), data_addr, sizeof data_addr);

	if (strcmp(cfg.admin, "off") != 0) {
		memset(&ad, 0, sizeof ad);
		ad.cfg = &cfg;
		ad.cache = cache;
		ad.fetcher = fetcher;
		ad.data_addr = data_addr;
		admin = admin_start(&ad, tokens);
		tokens = NULL;
		if (admin == NULL)
			goto Exit;
		addr_string(cfg.admin, admin_port(admin), admin_addr, sizeof admin_addr);
	}

	/* Tests and scripts wait for this line; keep its shape. */
	fprintf(stderr, "%s: listening data=%s admin=%s\n", progname, data_addr,
	    admin_addr[0] != '\0' ? admin_addr : "off");
	fflush(stderr);
	log_msg(LVL_INFO, "started: data=%s admin=%s upstreams=%u mem=%llu",
	    data_addr, admin_addr[0] ? admin_addr : "off", cfg.upstream.n,
	    (unsigned long long)cfg.mem_size);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (log_reopen() == CDN_OK)
				log_msg(LVL_INFO, "logs reopened");
			continue;
		}
		log_msg(LVL_INFO, "stopping on signal %d", sig);
		break;
	}
	rc = 0;

Exit:
	/* Stop taking connections, fail what is in flight (which wakes every
	 * suspended client), then stop the servers. */
	if (front != NULL)
		front_quiesce(front);
	if (fetcher != NULL)
		fetch_stop(fetcher);
	admin_stop(&admin);
	front_stop(&front);
	fetch_free(&fetcher);
	if (health != NULL) {
		health_stop(health);
		health_free(&health);
	}
	cache_free(&cache);
	ups_free(&ups);
	admin_tokens_free(&tokens);
	curl_global_cleanup();
	if (rc == 0)
		log_msg(LVL_INFO, "stopped");
	log_fini();
	cfg_fini(&cfg);
	return rc;
}
