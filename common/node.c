/*
 * node.c: one node's life: configuration, then the pieces bottom-up
 * (routing, cache, fetch loop, front end, admin), then a signal loop in the
 * main thread, then teardown in the reverse order.
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
#include "net/fill.h"
#include "net/front.h"
#include "net/route.h"
#include "node.h"
#include "store/cache.h"
#include "store/disk.h"
#include "store/evict.h"
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

static const struct node_push_ops *push_ops;

void
node_set_push(const struct node_push_ops *ops)
{
	push_ops = ops;
}

int
node_main(const char *role, const char *progname, int argc, char **argv,
    const struct node_alt_role *alt)
{
	struct cfg cfg;
	struct admin_tokens *tokens = NULL;
	struct fresh_cfg fcfg;
	struct route *route = NULL;
	struct cache *cache = NULL;
	struct fetcher *fetcher = NULL;
	struct disk *disk = NULL;
	struct filler *filler = NULL;
	void *push = NULL;
	struct fill_opts flo;
	struct front *front = NULL;
	struct admin *admin = NULL;
	void *alt_handle = NULL;
	struct front_deps fd;
	struct admin_deps ad;
	struct fetch_opts fo;
	char data_addr[300] = "", admin_addr[300] = "", desc[1024];
	unsigned port = 0;
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
	if (admin_tokens_load(cfg.token_file, &tokens, stderr) != CDN_OK ||
	    route_new(&route, &cfg, stderr) != CDN_OK) {
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
	if (route_start(route) != CDN_OK) {
		log_msg(LVL_ERROR, "cannot start heartbeats");
		goto Exit;
	}

	fresh_cfg_default(&fcfg);
	fcfg.targeted_field = cfg.targeted_cc[0] != '\0' ? cfg.targeted_cc : NULL;
	fcfg.heuristic_fraction = cfg.heuristic_fraction;
	fcfg.heuristic_max = (int64_t)cfg.heuristic_max;
	{
		enum evict_policy mp;

		if (evict_policy_parse(cfg.mem_policy, &mp) != CDN_OK) {
			fprintf(stderr, "%s: --mem-policy: expected lru or lfu, got \"%s\"\n", progname,
			    cfg.mem_policy);
			rc = 2;
			goto Exit;
		}
		cache = cache_new_policy(cfg.mem_size, mp);
	}
	if (cfg.cache_dir != NULL) {
		enum evict_policy pol;
		int drc;

		if (evict_policy_parse(cfg.disk_policy, &pol) != CDN_OK) {
			fprintf(stderr, "%s: --disk-policy: expected lru or lfu, got \"%s\"\n", progname,
			    cfg.disk_policy);
			rc = 2;
			goto Exit;
		}
		drc = disk_open(cfg.cache_dir, cfg.disk_size, pol, NULL, &disk);
		if (drc != CDN_OK) {
			log_msg(LVL_ERROR, "cannot open the disk tier in %s", cfg.cache_dir);
			goto Exit;
		}
		if (push_ops != NULL && !cfg.router) {
			push = push_ops->create(&cfg, disk, cache);
			if (push == NULL)
				goto Exit;
		}
	}

	if (cfg.router && alt != NULL) {
		alt_handle = alt->start(&cfg, route, &port);
		if (alt_handle == NULL)
			goto Exit;
	} else {
		memset(&fo, 0, sizeof fo);
		fo.connect_ms = cfg.connect_timeout_ms;
		fo.first_byte_ms = cfg.upstream_timeout_ms;
		fo.coalesce_ms = cfg.coalesce_timeout_ms;
		fo.idle_ms = cfg.upstream_idle_ms;
		fo.max_conns = (unsigned)cfg.upstream_conns;
		fo.max_keep = cfg.max_object_size;
		fo.hfm_ttl = cfg.hit_for_miss;
		fo.max_variants = cfg.max_variants;
		fo.cache = cache;
		fo.fcfg = &fcfg;
		fo.max_attempts = (unsigned)cfg.upstream_attempts;
		memset(&flo, 0, sizeof flo);
		flo.disk = disk;
		flo.cache = cache;
		flo.fcfg = &fcfg;
		if (push != NULL) {
			flo.pushed_maybe = push_ops->maybe;
			flo.repair = push_ops->repair;
			flo.push_arg = push;
		}
		filler = fill_new(&flo);
		fo.on_commit = disk != NULL ? fill_store : NULL;
		fo.commit_arg = filler;
		fetcher = fetch_new(&fo);
		fill_set_fetcher(filler, fetcher);
		if (fetch_start(fetcher) != CDN_OK || fill_start(filler) != CDN_OK)
			goto Exit;
		/* Control plane (ctl/ctl.h): invalidation log, subscriptions to the
		 * upstreams' events, and the bounded catch-up before serving. */
		if (ctl_start(&cfg, cache) != CDN_OK)
			goto Exit;
		memset(&fd, 0, sizeof fd);
		fd.cfg = &cfg;
		fd.cache = cache;
		fd.fetcher = fetcher;
		fd.filler = filler;
		fd.route = route;
		fd.fcfg = &fcfg;
		front = front_start(&fd);
		if (front == NULL)
			goto Exit;
		port = front_port(front);
	}
	addr_string(cfg.listen, port, data_addr, sizeof data_addr);

	if (strcmp(cfg.admin, "off") != 0) {
		memset(&ad, 0, sizeof ad);
		ad.cfg = &cfg;
		ad.cache = cache;
		ad.fetcher = fetcher;
		ad.route = route;
		ad.disk = disk;
		ad.data_addr = data_addr;
		ad.ext = push != NULL ? push_ops->ext(push) : NULL;
		admin = admin_start(&ad, tokens);
		tokens = NULL;
		if (admin == NULL && cfg.admin_explicit)
			goto Exit;
		if (admin == NULL)
			/* Only the default admin address: a node tried with -l and
			 * -u alone still runs when 127.0.0.1:9080 is taken. */
			log_msg(LVL_WARN, "admin API not started (default address %s busy); "
			    "give -a HOST:PORT to choose one", cfg.admin);
		else
			addr_string(cfg.admin, admin_port(admin), admin_addr, sizeof admin_addr);
		if (front != NULL)
			front_set_admin_addr(front, admin_addr);
	}

	if (push != NULL && push_ops->start(push, data_addr, admin_addr) != CDN_OK)
		goto Exit;

	/* Tests and scripts wait for this line; keep its shape. */
	fprintf(stderr, "%s: listening data=%s admin=%s\n", progname, data_addr,
	    admin_addr[0] != '\0' ? admin_addr : "off");
	fflush(stderr);
	route_describe(route, desc, sizeof desc);
	log_msg(LVL_INFO, "started%s: data=%s admin=%s mem=%llu; %s", alt_handle ? " as router" : "",
	    data_addr, admin_addr[0] ? admin_addr : "off", (unsigned long long)cfg.mem_size, desc);

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
	/* Pushes and their sync rounds first: they publish invalidations. */
	if (push != NULL)
		push_ops->stop(push);
	/* Control plane next: no purge may run while the tiers shut down. */
	ctl_stop();
	/* Stop taking connections, fail what is in flight (which wakes every
	 * suspended client), then stop the servers. */
	if (front != NULL)
		front_quiesce(front);
	if (filler != NULL)
		fill_stop(filler);
	if (fetcher != NULL)
		fetch_stop(fetcher);
	admin_stop(&admin);
	front_stop(&front);
	if (alt_handle != NULL)
		alt->stop(alt_handle);
	fetch_free(&fetcher);
	fill_free(&filler);
	if (push != NULL)
		push_ops->destroy(push);
	cache_free(&cache);
	disk_close(&disk);
	route_free(&route);
	admin_tokens_free(&tokens);
	curl_global_cleanup();
	if (rc == 0)
		log_msg(LVL_INFO, "stopped");
	log_fini();
	cfg_fini(&cfg);
	return rc;
}
