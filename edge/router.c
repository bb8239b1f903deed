/*
 * router.c: the request router of the edge (--router). A libmicrohttpd
 * server whose every answer is a redirect chosen by net/route: the client's
 * region (GeoIP, X-Forwarded-For from trusted proxies) picks the PoP, and
 * PoPs failing their heartbeats are skipped. No cache, no upstream: the
 * answer is computed in the handler, so nothing blocks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/stats.h"
#include "edge/router.h"
#include "http/hdrs.h"
#include "net/route.h"
#include "util/cfg.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

struct router {
	struct MHD_Daemon *mhd;
	struct route *route;
	const struct cfg *cfg;
};

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	return xstrdup(uri);
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result
collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen, const char *value,
    size_t vlen)
{
	hdrs_addn(cls, key, klen, value != NULL ? value : "", value != NULL ? vlen : 0);
	return MHD_YES;
}

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *body, const char *location)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (location != NULL)
		MHD_add_response_header(r, "Location", location);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct router *rt = cls;
	const union MHD_ConnectionInfo *ci;
	const struct route_pop *pop;
	const char *region, *target = *con_cls;
	struct hdrs in;
	char *loc, body[256];
	enum MHD_Result ret;

	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	STATS_INC(requests);
	if (strcmp(url, rt->cfg->health_path) == 0)
		return answer(c, 200, "{\"status\":\"ok\",\"role\":\"router\"}\n", NULL);
	if (target == NULL || target[0] != '/') {
		STATS_INC(client_errors);
		return answer(c, 400, "400 Bad Request\n", NULL);
	}
	hdrs_init(&in);
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect, &in);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	pop = route_pop(rt->route, ci != NULL ? ci->client_addr : NULL, &in, &region);
	hdrs_fini(&in);
	if (pop == NULL)
		return answer(c, 503, "503 Service Unavailable: no PoP is live\n", NULL);
	loc = xasprintf("%s%s", pop->url, target);
	snprintf(body, sizeof body, "See %s (PoP %s, region %s)\n", pop->url, pop->name, region);
	ret = answer(c, 302, body, loc);
	free(loc);
	return ret;
}

void *
router_start(const struct cfg *cfg, struct route *route, unsigned *port)
{
	struct router *rt = xcalloc(1, sizeof *rt);
	char host[256];
	unsigned p;
	const union MHD_DaemonInfo *di;
	struct sockaddr_in sin;

	rt->route = route;
	rt->cfg = cfg;
	if (cfg_parse_hostport(cfg->listen, host, sizeof host, &p) != CDN_OK)
		goto Error;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		log_msg(LVL_ERROR, "router: listen address %s: give a numeric IPv4 address", cfg->listen);
		goto Error;
	}
	rt->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)p,
	    NULL, NULL, on_request, rt,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->client_timeout,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, rt,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, rt,
	    MHD_OPTION_END);
	if (rt->mhd == NULL) {
		log_msg(LVL_ERROR, "router: cannot listen on %s", cfg->listen);
		goto Error;
	}
	di = MHD_get_daemon_info(rt->mhd, MHD_DAEMON_INFO_BIND_PORT);
	*port = di != NULL ? di->port : p;
	return rt;
Error:
	free(rt);
	return NULL;
}

void
router_stop(void *handle)
{
	struct router *rt = handle;

	MHD_stop_daemon(rt->mhd);
	free(rt);
}
