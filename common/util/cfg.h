/*
 * cfg.h (module cfg_): a node's configuration from its INI file and flags.
 *
 * One table describes every setting once: its INI section and key, its long
 * flag (and short one, if any), its type and its default. The file is read
 * first (-c), then the flags, so flags override the file. Repeatable
 * settings (upstream, peer) given on the command line replace the file's list.
 *
 * Errors are refused with the file, line and reason (or the flag and reason);
 * the caller exits with status 2.
 */
#ifndef CDN_CFG_H
#define CDN_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cfg_strlist {
	char **v;
	unsigned n;
};

/* A line of a section that another module interprets ([tier.NAME],
 * [pop.NAME], [regions], [geo]), kept with where it came from so that
 * module can refuse it with FILE:LINE. Flags add entries too (file is the
 * flag, line 0). */
struct cfg_entry {
	char *section, *key, *value, *file;
	int line;
};

struct cfg_extra {
	struct cfg_entry *v;
	unsigned n;
};

struct cfg {
	const char *role;        /* "edge" or "shield" (not configurable) */
	const char *progname;    /* "cdn-edge" */
	char *config_file;

	/* [node] */
	char *name;
	char *listen;            /* HOST:PORT */
	char *admin;             /* HOST:PORT, or "off" */
	bool admin_explicit;     /* set by a flag or the file, not the default */
	struct cfg_strlist upstream;
	struct cfg_strlist peer;
	char *token_file;
	unsigned threads;        /* 0 = one per core */
	char *health_path;

	/* [cache] */
	char *cache_dir;
	uint64_t mem_size;
	uint64_t disk_size;
	char *disk_policy;       /* lru or lfu */
	char *mem_policy;        /* lru or lfu */
	uint64_t max_object_size;
	char *targeted_cc;       /* CDN-Cache-Control field name, "" for none */
	double heuristic_fraction;
	uint64_t heuristic_max;  /* seconds */
	uint64_t hit_for_miss;   /* seconds an uncacheable answer is remembered */
	uint64_t coalesce_timeout_ms; /* waiting on another request's fetch, at most */
	uint64_t stale_if_error;  /* seconds stale served when upstream fails, 0 = only by directive */
	uint64_t max_variants;    /* stored Vary variants per URL */

	/* [limits] */
	uint64_t max_header_size;
	uint64_t max_url_length;
	uint64_t max_body_size;
	uint64_t max_connections;
	uint64_t client_timeout;       /* seconds of idle before a client is dropped */

	/* [upstream] */
	uint64_t upstream_timeout_ms;  /* whole answer until the first byte */
	uint64_t connect_timeout_ms;
	uint64_t upstream_idle_ms;     /* no byte for this long while streaming a body */
	uint64_t upstream_conns;       /* connection pool size */
	uint64_t health_interval_ms;   /* heartbeat period; 0 = no heartbeats */
	uint64_t health_timeout_ms;
	uint64_t health_fall, health_rise;
	uint64_t upstream_attempts;    /* nodes tried when connecting fails */

	/* sections for the routing module, and the router role */
	struct cfg_extra extra;
	bool router;

	/* [admin], [events], [warm]: the control plane (ctl/) */
	uint64_t admin_rate_limit;     /* requests per second, per token and per address; 0 = off */
	uint64_t admin_rate_burst;
	uint64_t admin_max_body;       /* largest JSON body; bigger gets 413 */
	uint64_t purge_wait_ms;        /* "wait": true waits this long for receipts, at most */
	uint64_t events_retain;        /* events kept in the invalidation log */
	uint64_t catchup_timeout_ms;   /* start-up wait for the upstreams' events */
	uint64_t events_keepalive_ms;  /* comment line on idle event streams */
	char *events_token;            /* token for the upstreams' admin listeners */
	uint64_t warm_concurrency;     /* warm requests in flight */

	/* [push]: pushed objects on the shield tier (shield/push.h) */
	uint64_t push_replicas;        /* N: copies of each pushed object */
	uint64_t push_write_quorum;    /* W: copies on disk before a push is acknowledged */
	uint64_t push_max_size;        /* largest pushed body */
	uint64_t push_sync_interval_ms; /* anti-entropy period */
	uint64_t push_retry_max;       /* replication attempts before parking */
	char *push_token;              /* token for the peers' push API */
	char *push_cache_control;      /* for pushes sent without Cache-Control */

	/* [log] */
	char *access_log;        /* path, "-" for stderr, "off" */
	char *error_log;
	int log_level;
};

enum cfg_result { CFG_RUN = 0, CFG_EXIT_OK = 1, CFG_EXIT_USAGE = 2 };

/* Fill cfg with defaults for the given role ("edge" or "shield"). */
void cfg_init(struct cfg *cfg, const char *role, const char *progname);
void cfg_fini(struct cfg *cfg);

/* Parse argv (and the -c file it names). On CFG_RUN the configuration is
 * complete and checked; on CFG_EXIT_OK help or version was printed to out;
 * on CFG_EXIT_USAGE a reason was printed to err. */
enum cfg_result cfg_parse_args(struct cfg *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Load one INI file into cfg. Returns 0, or CDN_INVAL after printing
 * "FILE:LINE: reason" to err. */
int cfg_load_file(struct cfg *cfg, const char *path, FILE *err);

/* Set one setting by its INI "section.key" or long flag name. Returns 0 or
 * CDN_INVAL with a reason in why (static string or written into why_buf). */
int cfg_set(struct cfg *cfg, const char *name, const char *value, char *why, size_t whylen);

/* Parsers shared with other modules. Each returns 0 or CDN_INVAL. */
int cfg_parse_size(const char *s, uint64_t *out);        /* 64M, 2G, 512K, 1024 */
int cfg_parse_duration_ms(const char *s, uint64_t *out); /* 500ms, 2s, 1m, 1h; bare = seconds */
int cfg_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port);
/* An http:// or https:// URL with a host (curl's URL parser). */
int cfg_check_url(const char *s, char *why, size_t whylen);

/* Print "FILE:LINE: " (or "FLAG: ") for an entry, for error messages. */
void cfg_entry_where(const struct cfg_entry *e, FILE *err);

/* The usage text for --help. */
void cfg_usage(const struct cfg *cfg, FILE *out);

#endif
