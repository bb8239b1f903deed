/*
 * ctl.h (module ctl_): the node's control plane: the invalidation log
 * (ctl/events), the subscriptions to the event streams of the upstream
 * shields and of --peer shields (ctl/sub), the children subscribed to this
 * node and their receipts, and the warm jobs (ctl/warm). The admin listener
 * (ctl/admin) is its HTTP face.
 *
 * Propagation. A purge sent to a node's admin API is applied to its cache,
 * appended to its log with a new globally unique id, and streamed to every
 * child subscribed to GET /events. A child applies each event once (by that
 * id), appends it to its own log (which re-publishes it to its own children)
 * and saves the upstream's event id as its cursor in the same transaction,
 * so after a disconnect or a restart it resumes with Last-Event-ID. A child
 * too far behind for the retained log gets a "reset" and soft-purges
 * everything. Children report what they applied with POST /receipts, which
 * is how "wait": true on /purge learns, per child, whether and when.
 *
 * Catch-up. ctl_start starts the subscriptions and waits (at most
 * events.catchup_timeout) until each upstream answered: streamed its backlog
 * and said "ready", or turned out to be a plain origin, or refused the
 * connection. node.c calls it before the front end starts, so a restarted
 * node does not serve from its cache before it applied what it missed; when
 * the wait runs out it starts anyway and says so in its log and /stats.
 *
 * One control plane per process (one node per process): ctl_start makes it,
 * ctl_acquire lends it to the admin threads, ctl_stop waits for them to give
 * it back, then frees it.
 */
#ifndef CDN_CTL_H
#define CDN_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct cache;
struct cfg;
struct ctl;
struct events;
struct purge_spec;
struct warm;

/* Start the control plane of a node (not for the router role): open the
 * log in cfg->cache_dir (or a private temporary directory), start the
 * subscriptions and the warm worker, and wait (bounded) for the catch-up.
 * cfg and cache must outlive ctl_stop. Returns 0 or CDN_ERR (logged). */
int ctl_start(const struct cfg *cfg, struct cache *cache);
/* Stop everything: new ctl_acquire calls get NULL, event streams and
 * waiting purges end, subscriptions and warm jobs stop, and once every
 * borrower released it, it is freed. Safe to call when not started. */
void ctl_stop(void);

/* Borrow the running control plane (NULL when there is none or it is
 * stopping); give it back with ctl_release, which clears *cp. */
struct ctl *ctl_acquire(void);
void ctl_release(struct ctl **cp);

struct events *ctl_events(struct ctl *c);
struct warm *ctl_warm(struct ctl *c);
/* Keep-alive period of event streams (events.keepalive). */
uint64_t ctl_keepalive_ms(const struct ctl *c);

/* The first token of a token file (TOKEN SCOPE... lines) that has scope,
 * as a new string, or NULL. Nodes use it on each other's admin listeners
 * (children read their upstreams' events, shields push to their peers). */
char *ctl_token_from_file(const char *path, const char *scope);
/* True once ctl_stop began (event streams end). */
bool ctl_stopping(struct ctl *c);

/* A purge from the API: apply it here, log it (which publishes it), and
 * return the answer {"purged":N,"event":UID,"id":ID,"soft":B,"time_ms":T,
 * "logged_ms":L} (T when it was accepted, L when it was durably in the log
 * and so streamed to the children; wall-clock ms). ack asks the
 * children to send receipts for it. NULL when the log could not be written
 * (the purge was applied here but not published). */
json_t *ctl_purge(struct ctl *c, const struct purge_spec *s, bool ack);
/* Wait up to timeout_ms until every child connected now acknowledged event
 * uid (accepted at accepted_ms), or ctl_stop. Returns {"complete":B,
 * "waited_ms":N,"nodes":[{"node","id","applied","applied_ms","after_ms"}]}. */
json_t *ctl_wait_receipts(struct ctl *c, const char *uid, uint64_t accepted_ms,
    uint64_t timeout_ms);

/* A child opened an event stream (node/id may be NULL: an anonymous
 * watcher such as cdn-ctl). Returns a handle for the calls below. */
uint64_t ctl_child_attach(struct ctl *c, const char *node, const char *id, const char *addr);
/* The stream sent events up to local seq. */
void ctl_child_sent(struct ctl *c, uint64_t handle, uint64_t seq);
void ctl_child_detach(struct ctl *c, uint64_t handle);
/* POST /receipts: {"node":NAME,"id":LOGID,"last_id":ID,"receipts":[{"uid",
 * "applied_ms","duplicate"}]}. Returns 0 or CDN_INVAL with a reason. */
int ctl_receipts(struct ctl *c, const json_t *body, char *why, size_t whylen);

/* Add the control plane's counters (top level) and its "events",
 * "catchup", "subscriptions" and "children" to a /stats object. */
void ctl_stats_json(struct ctl *c, json_t *obj);
/* Prometheus lines for the same. */
void ctl_metrics(struct ctl *c, void (*fn)(void *arg, const char *line), void *arg);

#endif
