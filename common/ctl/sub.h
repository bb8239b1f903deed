/*
 * sub.h (module sub_): one subscription to an upstream's invalidation
 * stream.
 *
 * Each subscription has a thread with its own libcurl multi handle. It finds
 * the upstream's admin listener from the health answer on the upstream's data
 * URL (GET <scheme://host:port><health path>; a CDN node answers JSON with
 * its role and "admin":"host:port", a plain origin does not, and is then
 * only asked again every 5 minutes), opens GET /events?node=NAME&id=LOGID with
 * the node's events token and the saved cursor as Last-Event-ID, and hands
 * each event to the control plane (ctl_int.h). It posts receipts to the
 * upstream's /receipts on the same multi handle. After an error it backs off
 * (100 ms doubling to 2 s) and starts over with discovery, so an upstream
 * that restarted on another admin port is found again.
 *
 * Threads: the subscription's thread owns its curl handles and parser; the
 * fields shown by /stats are guarded by s->mtx; sub_stop wakes the thread
 * (curl_multi_wakeup) and joins it.
 */
#ifndef CDN_SUB_H
#define CDN_SUB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct ctl;
struct sub;

/* A subscription to the node whose data URL is url (peer: a shield of the
 * same tier rather than an upstream). Nothing runs before sub_start. */
struct sub *sub_new(struct ctl *c, const char *url, bool peer);
int sub_start(struct sub *s);
/* Stop and join the thread (safe when not started). */
void sub_stop(struct sub *s);
void sub_free(struct sub **sp);

/* Has the subscription settled for the start-up wait: caught up ("ready"),
 * or found a plain origin, or failed to connect at least once? *why gets
 * a static word for the log ("caught-up", "origin", "unreachable", ...). */
bool sub_settled(struct sub *s, const char **why);
const char *sub_url(const struct sub *s);

/* Append this subscription's state as an object to the JSON array arr. */
void sub_stats_json(struct sub *s, json_t *arr);
/* Prometheus sample lines (no HELP/TYPE) for the state and lag. */
void sub_metrics(struct sub *s, void (*fn)(void *arg, const char *line), void *arg);

#endif
