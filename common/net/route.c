/*
 * route.c: shield tiers, regions and PoPs, built once from the
 * configuration; see route.h for the INI shape.
 *
 * Design: a request's tier is a pure function of its client region (GeoIP)
 * and the [regions] table, so the edge needs no per-request state beyond
 * the lookup. Decision counts per region are relaxed atomics, read by
 * /stats. Health state lives in net/health (one checker per tier with two
 * or more nodes, and one over the PoPs for the router).
 */
#include "config.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/hdrs.h"
#include "net/geo.h"
#include "net/health.h"
#include "net/ring.h"
#include "net/route.h"
#include "net/upstream.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/vas.h"

struct region {
	char *name;
	struct tier *tier;
	const struct cfg_entry *where;
	atomic_uint_fast64_t decisions;
};

struct route {
	struct tier *tiers;
	unsigned ntiers;
	struct tier *default_tier;
	struct region *regions;
	unsigned nregions;
	atomic_uint_fast64_t unmapped;   /* regions with no [regions] line */
	struct geo *geo;
	struct route_pop *pops;
	unsigned npops;
	atomic_uint_fast64_t *pop_decisions;    /* npops + 1 (none live) */
	const char *const *geo_regs;            /* router: decisions per client region */
	size_t ngeo_regs;
	atomic_uint_fast64_t *geo_reg_decisions;
	struct health *pop_health;
	bool heartbeats;
	struct health_opts hopts;
};

static struct tier *
find_tier(struct route *r, const char *name)
{
	for (unsigned i = 0; i < r->ntiers; i++)
		if (strcmp(r->tiers[i].name, name) == 0)
			return &r->tiers[i];
	return NULL;
}

static struct tier *
add_tier(struct route *r, const char *name)
{
	struct tier *t;

	r->tiers = xrealloc(r->tiers, (r->ntiers + 1) * sizeof *r->tiers);
	t = &r->tiers[r->ntiers++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	return t;
}

/* Parse "URL [weight=N]". */
static int
parse_upstream(const char *v, char **url, unsigned *weight, char *why, size_t whylen)
{
	const char *sp = strpbrk(v, " \t");
	char *end;
	unsigned long w = 1;

	*url = sp != NULL ? xstrndup(v, (size_t)(sp - v)) : xstrdup(v);
	if (cfg_check_url(*url, why, whylen) != CDN_OK)
		goto Bad;
	if (sp != NULL) {
		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (*sp != '\0') {
			if (strncmp(sp, "weight=", 7) != 0) {
				snprintf(why, whylen, "expected \"URL\" or \"URL weight=N\", got \"%s\"", v);
				goto Bad;
			}
			w = strtoul(sp + 7, &end, 10);
			if (end == sp + 7 || *end != '\0' || w > RING_MAX_WEIGHT) {
				snprintf(why, whylen, "weight must be a whole number from 0 to %u", RING_MAX_WEIGHT);
				goto Bad;
			}
		}
	}
	*weight = (unsigned)w;
	return CDN_OK;
Bad:
	free(*url);
	*url = NULL;
	return CDN_INVAL;
}

struct tier_build {
	char **urls;
	unsigned *weights;
	unsigned n;
	const struct cfg_entry *fallback;
	const struct cfg_entry *first;
};

static int
build_tiers(struct route *r, const struct cfg *cfg, FILE *err)
{
	struct tier_build *tb = NULL;
	unsigned ntb = 0;
	char why[512];
	int rc = CDN_OK;

	if (cfg->upstream.n > 0) {
		add_tier(r, "default");
		tb = xcalloc(1, sizeof *tb);
		ntb = 1;
		for (unsigned i = 0; i < cfg->upstream.n; i++) {
			tb[0].urls = xrealloc(tb[0].urls, (tb[0].n + 1) * sizeof *tb[0].urls);
			tb[0].weights = xrealloc(tb[0].weights, (tb[0].n + 1) * sizeof *tb[0].weights);
			tb[0].urls[tb[0].n] = xstrdup(cfg->upstream.v[i]);
			tb[0].weights[tb[0].n++] = 1;
		}
	}
	for (unsigned i = 0; i < cfg->extra.n && rc == CDN_OK; i++) {
		const struct cfg_entry *e = &cfg->extra.v[i];
		const char *name;
		struct tier *t;
		unsigned ti;

		if (strncasecmp(e->section, "tier.", 5) != 0)
			continue;
		name = e->section + 5;
		if (name[0] == '\0') {
			cfg_entry_where(e, err);
			fprintf(err, "a tier needs a name: [tier.NAME]\n");
			rc = CDN_INVAL;
			break;
		}
		t = find_tier(r, name);
		if (t == NULL) {
			t = add_tier(r, name);
			tb = xrealloc(tb, (ntb + 1) * sizeof *tb);
			memset(&tb[ntb++], 0, sizeof *tb);
		}
		ti = (unsigned)(t - r->tiers);
		if (tb[ti].first == NULL)
			tb[ti].first = e;
		if (strcasecmp(e->key, "upstream") == 0) {
			char *url;
			unsigned w;

			if (parse_upstream(e->value, &url, &w, why, sizeof why) != CDN_OK) {
				cfg_entry_where(e, err);
				fprintf(err, "[%s] upstream: %s\n", e->section, why);
				rc = CDN_INVAL;
				break;
			}
			tb[ti].urls = xrealloc(tb[ti].urls, (tb[ti].n + 1) * sizeof *tb[ti].urls);
			tb[ti].weights = xrealloc(tb[ti].weights, (tb[ti].n + 1) * sizeof *tb[ti].weights);
			tb[ti].urls[tb[ti].n] = url;
			tb[ti].weights[tb[ti].n++] = w;
		} else if (strcasecmp(e->key, "fallback") == 0) {
			tb[ti].fallback = e;
		} else {
			cfg_entry_where(e, err);
			fprintf(err, "unknown setting \"%s\" in [%s] (upstream, fallback)\n", e->key, e->section);
			rc = CDN_INVAL;
		}
	}
	for (unsigned i = 0; i < r->ntiers && rc == CDN_OK; i++) {
		struct tier *t = &r->tiers[i];

		if (tb[i].n == 0) {
			cfg_entry_where(tb[i].first, err);
			fprintf(err, "[tier.%s] has no upstream line\n", t->name);
			rc = CDN_INVAL;
			break;
		}
		t->ups = ups_new_weighted(tb[i].urls, tb[i].weights, tb[i].n);
		t->node_errors = xcalloc(ups_count(t->ups), sizeof *t->node_errors);
		t->node_requests = xcalloc(ups_count(t->ups), sizeof *t->node_requests);
		if (tb[i].fallback != NULL) {
			t->fallback = find_tier(r, tb[i].fallback->value);
			if (t->fallback == NULL || t->fallback == t) {
				cfg_entry_where(tb[i].fallback, err);
				fprintf(err, "fallback \"%s\" is not another tier\n", tb[i].fallback->value);
				rc = CDN_INVAL;
			}
		}
	}
	for (unsigned i = 0; i < ntb; i++) {
		for (unsigned k = 0; k < tb[i].n; k++)
			free(tb[i].urls[k]);
		free(tb[i].urls);
		free(tb[i].weights);
	}
	free(tb);
	if (rc == CDN_OK && r->ntiers == 0 && !cfg->router) {
		fprintf(err, "%s: no upstream: give -u URL or a [tier.NAME] section\n", cfg->progname);
		rc = CDN_INVAL;
	}
	return rc;
}

static int
build_geo(struct route *r, const struct cfg *cfg, FILE *err, bool needed)
{
	struct geo_opts go;
	struct geo_mapping *map = NULL;
	const char **trusted = NULL;
	size_t nmap = 0, ntrusted = 0;
	char why[512];
	int rc = CDN_OK;

	memset(&go, 0, sizeof go);
	for (unsigned i = 0; i < cfg->extra.n; i++) {
		const struct cfg_entry *e = &cfg->extra.v[i];

		if (strcasecmp(e->section, "geo") != 0)
			continue;
		needed = true;
		if (strcasecmp(e->key, "mmdb") == 0) {
			go.mmdb = e->value;
		} else if (strcasecmp(e->key, "cidr_file") == 0) {
			go.cidr_file = e->value;
		} else if (strcasecmp(e->key, "tor_geoip") == 0) {
			go.tor_geoip = strcmp(e->value, "off") == 0 ? "" : e->value;
		} else if (strcasecmp(e->key, "tor_geoip6") == 0) {
			go.tor_geoip6 = strcmp(e->value, "off") == 0 ? "" : e->value;
		} else if (strcasecmp(e->key, "default_region") == 0) {
			go.default_region = e->value;
		} else if (strcasecmp(e->key, "trusted_proxies") == 0) {
			trusted = xrealloc(trusted, (ntrusted + 1) * sizeof *trusted);
			trusted[ntrusted++] = e->value;
		} else if (strcasecmp(e->key, "forwarded_header") == 0) {
			if (strcasecmp(e->value, "auto") == 0) {
				go.fwd = GEO_FWD_AUTO;
			} else if (strcasecmp(e->value, "x-forwarded-for") == 0) {
				go.fwd = GEO_FWD_XFF;
			} else if (strcasecmp(e->value, "forwarded") == 0) {
				go.fwd = GEO_FWD_FORWARDED;
			} else {
				cfg_entry_where(e, err);
				fprintf(err, "forwarded_header: auto, x-forwarded-for or forwarded\n");
				rc = CDN_INVAL;
				break;
			}
		} else if (strncasecmp(e->key, "country.", 8) == 0 ||
		    strncasecmp(e->key, "continent.", 10) == 0) {
			map = xrealloc(map, (nmap + 1) * sizeof *map);
			map[nmap].key = e->key;
			map[nmap++].region = e->value;
		} else {
			cfg_entry_where(e, err);
			fprintf(err, "unknown setting \"%s\" in [geo]\n", e->key);
			rc = CDN_INVAL;
			break;
		}
	}
	if (rc == CDN_OK && needed) {
		go.map = map;
		go.nmap = nmap;
		go.trusted = trusted;
		go.ntrusted = ntrusted;
		r->geo = geo_new(&go, why, sizeof why);
		if (r->geo == NULL) {
			fprintf(err, "%s: GeoIP: %s\n", cfg->progname, why);
			rc = CDN_INVAL;
		}
	}
	free(map);
	free(trusted);
	return rc;
}

static int
build_regions(struct route *r, const struct cfg *cfg, FILE *err)
{
	for (unsigned i = 0; i < cfg->extra.n; i++) {
		const struct cfg_entry *e = &cfg->extra.v[i];
		struct region *g;
		struct tier *t;

		if (strcasecmp(e->section, "regions") != 0)
			continue;
		t = find_tier(r, e->value);
		if (t == NULL) {
			cfg_entry_where(e, err);
			fprintf(err, "region %s: no tier named \"%s\"\n", e->key, e->value);
			return CDN_INVAL;
		}
		r->regions = xrealloc(r->regions, (r->nregions + 1) * sizeof *r->regions);
		g = &r->regions[r->nregions++];
		memset(g, 0, sizeof *g);
		g->name = xstrdup(e->key);
		g->tier = t;
		g->where = e;
	}
	r->default_tier = r->ntiers > 0 ? &r->tiers[0] : NULL;
	if (r->geo != NULL) {
		/* The tier of the geo default region, if mapped, is the default. */
		const char *dr = geo_default_region(r->geo);

		for (unsigned i = 0; i < r->nregions; i++)
			if (strcmp(r->regions[i].name, dr) == 0)
				r->default_tier = r->regions[i].tier;
	}
	return CDN_OK;
}

static int
build_pops(struct route *r, const struct cfg *cfg, FILE *err)
{
	char why[512];

	for (unsigned i = 0; i < cfg->extra.n; i++) {
		const struct cfg_entry *e = &cfg->extra.v[i];
		const char *name;
		struct route_pop *p = NULL;

		if (strncasecmp(e->section, "pop.", 4) != 0)
			continue;
		name = e->section + 4;
		for (unsigned k = 0; k < r->npops; k++)
			if (strcmp(r->pops[k].name, name) == 0)
				p = &r->pops[k];
		if (p == NULL) {
			r->pops = xrealloc(r->pops, (r->npops + 1) * sizeof *r->pops);
			p = &r->pops[r->npops++];
			memset(p, 0, sizeof *p);
			p->name = xstrdup(name);
		}
		if (strcasecmp(e->key, "url") == 0) {
			if (cfg_check_url(e->value, why, sizeof why) != CDN_OK) {
				cfg_entry_where(e, err);
				fprintf(err, "[%s] url: %s\n", e->section, why);
				return CDN_INVAL;
			}
			free(p->url);
			p->url = xstrdup(e->value);
		} else if (strcasecmp(e->key, "region") == 0) {
			free(p->region);
			p->region = xstrdup(e->value);
		} else {
			cfg_entry_where(e, err);
			fprintf(err, "unknown setting \"%s\" in [%s] (url, region)\n", e->key, e->section);
			return CDN_INVAL;
		}
	}
	for (unsigned k = 0; k < r->npops; k++) {
		if (r->pops[k].url == NULL || r->pops[k].region == NULL) {
			fprintf(err, "%s: [pop.%s] needs both url and region\n", cfg->progname, r->pops[k].name);
			return CDN_INVAL;
		}
		/* A PoP URL may end with a slash; redirects append the target. */
		{
			size_t l = strlen(r->pops[k].url);

			while (l > 0 && r->pops[k].url[l - 1] == '/')
				r->pops[k].url[--l] = '\0';
		}
	}
	r->pop_decisions = xcalloc(r->npops + 1, sizeof *r->pop_decisions);
	if (cfg->router && r->npops == 0) {
		fprintf(err, "%s: --router needs [pop.NAME] sections (url, region)\n", cfg->progname);
		return CDN_INVAL;
	}
	return CDN_OK;
}

int
route_new(struct route **out, const struct cfg *cfg, FILE *err)
{
	struct route *r = xcalloc(1, sizeof *r);
	bool want_geo = false;

	*out = NULL;
	for (unsigned i = 0; i < cfg->extra.n; i++)
		if (strcasecmp(cfg->extra.v[i].section, "regions") == 0 ||
		    strncasecmp(cfg->extra.v[i].section, "pop.", 4) == 0)
			want_geo = true;
	if (build_tiers(r, cfg, err) != CDN_OK || build_geo(r, cfg, err, want_geo) != CDN_OK ||
	    build_regions(r, cfg, err) != CDN_OK || build_pops(r, cfg, err) != CDN_OK) {
		route_free(&r);
		return CDN_INVAL;
	}
	if (r->geo != NULL) {
		r->geo_regs = geo_regions(r->geo, &r->ngeo_regs);
		r->geo_reg_decisions = xcalloc(r->ngeo_regs + 1, sizeof *r->geo_reg_decisions);
	}
	health_opts_default(&r->hopts);
	r->hopts.interval_ms = cfg->health_interval_ms;
	r->hopts.timeout_ms = cfg->health_timeout_ms;
	r->hopts.fall = (unsigned)cfg->health_fall;
	r->hopts.rise = (unsigned)cfg->health_rise;
	r->hopts.path = cfg->health_path;
	r->heartbeats = cfg->health_interval_ms > 0;
	*out = r;
	return CDN_OK;
}

int
route_start(struct route *r)
{
	if (!r->heartbeats)
		return CDN_OK;
	for (unsigned i = 0; i < r->ntiers; i++) {
		struct tier *t = &r->tiers[i];

		/* Heartbeats only where there is a choice (or a fallback): a
		 * single origin is asked whatever its health. */
		if (ups_count(t->ups) < 2 && t->fallback == NULL)
			continue;
		t->health = health_new(ups_bases(t->ups), ups_count(t->ups), &r->hopts);
		if (t->health == NULL || health_start(t->health) != CDN_OK)
			return CDN_ERR;
	}
	if (r->npops > 0) {
		char **urls = xcalloc(r->npops, sizeof *urls);

		for (unsigned k = 0; k < r->npops; k++)
			urls[k] = r->pops[k].url;
		r->pop_health = health_new(urls, r->npops, &r->hopts);
		free(urls);
		if (r->pop_health == NULL || health_start(r->pop_health) != CDN_OK)
			return CDN_ERR;
	}
	return CDN_OK;
}

void
route_free(struct route **rp)
{
	struct route *r = *rp;

	*rp = NULL;
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->ntiers; i++) {
		if (r->tiers[i].health != NULL) {
			health_stop(r->tiers[i].health);
			health_free(&r->tiers[i].health);
		}
		ups_free(&r->tiers[i].ups);
		free(r->tiers[i].node_errors);
		free(r->tiers[i].node_requests);
		free(r->tiers[i].name);
	}
	free(r->tiers);
	for (unsigned i = 0; i < r->nregions; i++)
		free(r->regions[i].name);
	free(r->regions);
	if (r->pop_health != NULL) {
		health_stop(r->pop_health);
		health_free(&r->pop_health);
	}
	for (unsigned k = 0; k < r->npops; k++) {
		free(r->pops[k].name);
		free(r->pops[k].url);
		free(r->pops[k].region);
	}
	free(r->pops);
	free(r->pop_decisions);
	free(r->geo_reg_decisions);
	geo_free(&r->geo);
	free(r);
}

static const char *
client_region(struct route *r, const struct sockaddr *peer, const struct hdrs *in)
{
	char *xff, *fwd;
	const char *reg;

	if (r->geo == NULL)
		return "default";
	xff = hdrs_join(in, "X-Forwarded-For");
	fwd = hdrs_join(in, "Forwarded");
	reg = geo_region(r->geo, peer, xff, fwd, NULL);
	free(xff);
	free(fwd);
	return reg;
}

struct tier *
route_tier(struct route *r, const struct sockaddr *peer, const struct hdrs *in, const char **region)
{
	const char *reg;

	if (r->nregions == 0 && r->geo == NULL) {
		*region = "default";
		return r->default_tier;
	}
	reg = client_region(r, peer, in);
	*region = reg;
	for (unsigned i = 0; i < r->nregions; i++) {
		if (strcmp(r->regions[i].name, reg) == 0) {
			atomic_fetch_add_explicit(&r->regions[i].decisions, 1, memory_order_relaxed);
			return r->regions[i].tier;
		}
	}
	atomic_fetch_add_explicit(&r->unmapped, 1, memory_order_relaxed);
	return r->default_tier;
}

const struct route_pop *
route_pop(struct route *r, const struct sockaddr *peer, const struct hdrs *in, const char **region)
{
	const char *reg = client_region(r, peer, in);
	const struct route_pop *pick = NULL, *any = NULL;

	*region = reg;
	for (unsigned k = 0; k < r->npops && pick == NULL; k++) {
		bool up = r->pop_health == NULL || health_is_up(r->pop_health, k);

		if (!up)
			continue;
		if (strcmp(r->pops[k].region, reg) == 0)
			pick = &r->pops[k];
		else if (any == NULL)
			any = &r->pops[k];
	}
	if (pick == NULL)
		pick = any; /* no live PoP in the region: the nearest live is any */
	atomic_fetch_add_explicit(&r->pop_decisions[pick != NULL ? (unsigned)(pick - r->pops) :
	    r->npops], 1, memory_order_relaxed);
	if (r->geo_reg_decisions != NULL) {
		size_t i;

		for (i = 0; i < r->ngeo_regs; i++)
			if (strcmp(r->geo_regs[i], reg) == 0)
				break;
		atomic_fetch_add_explicit(&r->geo_reg_decisions[i], 1, memory_order_relaxed);
	}
	return pick;
}

unsigned
route_pop_count(const struct route *r)
{
	return r->npops;
}

unsigned
route_ntiers_nodes(const struct route *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->ntiers; i++)
		n += ups_count(r->tiers[i].ups);
	return n;
}

static json_t *
health_json(struct health *h, unsigned i)
{
	struct health_status st;

	if (h == NULL)
		return json_pack("{s:b,s:s}", "up", 1, "checked", "no heartbeats");
	health_get(h, i, &st);
	return json_pack("{s:b,s:I,s:I,s:I,s:i,s:s}", "up", st.up, "probes", (json_int_t)st.probes,
	    "probe_failures", (json_int_t)st.probe_failures, "transitions",
	    (json_int_t)st.transitions, "last_status", st.last_status, "last_error", st.last_error);
}

void
route_stats_json(struct route *r, void *json_obj)
{
	json_t *obj = json_obj, *tiers = json_array(), *regions = json_object(), *pops;

	for (unsigned i = 0; i < r->ntiers; i++) {
		struct tier *t = &r->tiers[i];
		json_t *nodes = json_array();

		for (unsigned k = 0; k < ups_count(t->ups); k++) {
			json_t *n = health_json(t->health, k);

			json_object_set_new(n, "url", json_string(ups_base(t->ups, k)));
			json_object_set_new(n, "requests", json_integer((json_int_t)
			    atomic_load(&t->node_requests[k])));
			json_object_set_new(n, "errors", json_integer((json_int_t)
			    atomic_load(&t->node_errors[k])));
			json_object_set_new(n, "share", json_real(ring_share(ups_ring(t->ups), k)));
			json_array_append_new(nodes, n);
		}
		json_array_append_new(tiers, json_pack("{s:s,s:o,s:s?}", "name", t->name,
		    "nodes", nodes, "fallback", t->fallback != NULL ? t->fallback->name : NULL));
	}
	json_object_set_new(obj, "tiers", tiers);
	for (unsigned i = 0; i < r->nregions; i++)
		json_object_set_new(regions, r->regions[i].name, json_pack("{s:s,s:I}", "tier",
		    r->regions[i].tier->name, "decisions",
		    (json_int_t)atomic_load(&r->regions[i].decisions)));
	json_object_set_new(regions, "(unmapped)", json_pack("{s:s?,s:I}", "tier",
	    r->default_tier != NULL ? r->default_tier->name : NULL, "decisions",
	    (json_int_t)atomic_load(&r->unmapped)));
	json_object_set_new(obj, "regions", regions);
	if (r->npops > 0) {
		pops = json_array();
		for (unsigned k = 0; k < r->npops; k++) {
			json_t *n = health_json(r->pop_health, k);

			json_object_set_new(n, "name", json_string(r->pops[k].name));
			json_object_set_new(n, "url", json_string(r->pops[k].url));
			json_object_set_new(n, "region", json_string(r->pops[k].region));
			json_object_set_new(n, "redirects",
			    json_integer((json_int_t)atomic_load(&r->pop_decisions[k])));
			json_array_append_new(pops, n);
		}
		json_object_set_new(obj, "pops", pops);
		json_object_set_new(obj, "no_live_pop",
		    json_integer((json_int_t)atomic_load(&r->pop_decisions[r->npops])));
		if (r->geo_reg_decisions != NULL) {
			json_t *rd = json_object();

			for (size_t i = 0; i < r->ngeo_regs; i++)
				json_object_set_new(rd, r->geo_regs[i], json_integer((json_int_t)
				    atomic_load(&r->geo_reg_decisions[i])));
			json_object_set_new(obj, "router_decisions_by_region", rd);
		}
	}
}

void
route_metrics(struct route *r, void (*fn)(void *arg, const char *line), void *arg)
{
	char line[600];

	fn(arg, "# HELP cdn_upstream_up 1 if the upstream node passes its heartbeats\n"
	    "# TYPE cdn_upstream_up gauge\n");
	for (unsigned i = 0; i < r->ntiers; i++) {
		struct tier *t = &r->tiers[i];

		for (unsigned k = 0; k < ups_count(t->ups); k++) {
			snprintf(line, sizeof line, "cdn_upstream_up{tier=\"%s\",node=\"%s\"} %d\n", t->name,
			    ups_base(t->ups, k), t->health == NULL || health_is_up(t->health, k));
			fn(arg, line);
		}
	}
	fn(arg, "# HELP cdn_upstream_requests_node_total requests sent to each upstream node\n"
	    "# TYPE cdn_upstream_requests_node_total counter\n"
	    "# HELP cdn_upstream_errors_node_total failed requests to each upstream node\n"
	    "# TYPE cdn_upstream_errors_node_total counter\n");
	for (unsigned i = 0; i < r->ntiers; i++) {
		struct tier *t = &r->tiers[i];

		for (unsigned k = 0; k < ups_count(t->ups); k++) {
			snprintf(line, sizeof line,
			    "cdn_upstream_requests_node_total{tier=\"%s\",node=\"%s\"} %llu\n"
			    "cdn_upstream_errors_node_total{tier=\"%s\",node=\"%s\"} %llu\n",
			    t->name, ups_base(t->ups, k),
			    (unsigned long long)atomic_load(&t->node_requests[k]), t->name,
			    ups_base(t->ups, k), (unsigned long long)atomic_load(&t->node_errors[k]));
			fn(arg, line);
		}
	}
	fn(arg, "# HELP cdn_region_decisions_total requests routed per client region\n"
	    "# TYPE cdn_region_decisions_total counter\n");
	for (unsigned i = 0; i < r->nregions; i++) {
		snprintf(line, sizeof line, "cdn_region_decisions_total{region=\"%s\",tier=\"%s\"} %llu\n",
		    r->regions[i].name, r->regions[i].tier->name,
		    (unsigned long long)atomic_load(&r->regions[i].decisions));
		fn(arg, line);
	}
}

void
route_describe(const struct route *r, char *buf, size_t len)
{
	size_t at = 0;
	char g[256] = "";

	for (unsigned i = 0; i < r->ntiers && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%stier %s (%u nodes%s%s)", i ? ", " : "",
		    r->tiers[i].name, ups_count(r->tiers[i].ups),
		    r->tiers[i].fallback ? ", fallback " : "",
		    r->tiers[i].fallback ? r->tiers[i].fallback->name : "");
	if (r->geo != NULL && at < len) {
		geo_describe(r->geo, g, sizeof g);
		at += (size_t)snprintf(buf + at, len - at, "%sgeo: %s; %u regions", at ? "; " : "", g,
		    r->nregions);
	}
	if (r->npops > 0 && at < len)
		snprintf(buf + at, len - at, "; %u pops", r->npops);
}
