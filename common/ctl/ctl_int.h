/*
 * ctl_int.h: private to ctl.c and sub.c. Stuff that is never exposed to the
 * rest of the node (ctl.h is the public contract).
 */
#ifndef CDN_CTL_INT_H
#define CDN_CTL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "ctl/events.h"

#define CTL_MAGIC 0xc7100c7du
#define CTL_RECEIPTS 4096          /* recent receipts remembered for waiters */
#define CTL_NAME_MAX 128

/* X(name, help): the control plane's counters, exported at /stats top
 * level and as cdn_NAME_total in /metrics. */
#define CTL_COUNTERS(X) \
	X(purge_requests, "purges accepted by the admin API") \
	X(purged_objects, "objects removed or marked stale by purges and events") \
	X(events_published, "events appended to this node's log (streamed to children)") \
	X(events_applied, "events from upstreams applied here") \
	X(events_duplicate, "events from upstreams already applied (another path)") \
	X(events_invalid, "events from upstreams that could not be read") \
	X(event_resets, "resets from upstreams (too far behind: everything soft-purged)") \
	X(receipts_received, "receipts posted by children")

struct ctl_counters {
#define CTL_FIELD(n, h) atomic_uint_fast64_t n;
	CTL_COUNTERS(CTL_FIELD)
#undef CTL_FIELD
};

#define CTL_INC(c, n) atomic_fetch_add_explicit(&(c)->cnt.n, 1, memory_order_relaxed)
#define CTL_ADD(c, n, v) atomic_fetch_add_explicit(&(c)->cnt.n, (v), memory_order_relaxed)

struct sub;

/* A receipt as remembered for waiters. */
struct ctl_receipt {
	char uid[EVENTS_ID_MAX];
	char child_id[EVENTS_LOGID_LEN + 1];
	uint64_t applied_ms;
	bool duplicate;
};

/* A child (a node subscribed to our /events), by its log id. */
struct ctl_child {
	struct ctl_child *next;
	char id[EVENTS_LOGID_LEN + 1];    /* "" for anonymous watchers */
	char name[CTL_NAME_MAX];
	char addr[64];
	unsigned streams;                 /* open event streams */
	uint64_t handle;                  /* of the latest stream */
	uint64_t sent_seq;                /* newest local seq streamed to it */
	uint64_t acked_seq;               /* newest local seq it reported applied */
	uint64_t connected_ms, disconnected_ms, receipt_ms;
	uint64_t receipts;
};

struct ctl {
	unsigned magic;
	const struct cfg *cfg;            /* const */
	struct cache *cache;              /* const */
	struct events *ev;                /* const */
	struct warm *warm;                /* const */
	char *token;                      /* const: for upstream admin listeners, or NULL */
	uint64_t keepalive_ms;            /* const */

	/* Serialises "seen? apply, append" of events, so two upstreams that
	 * deliver the same event at once apply it once. */
	pthread_mutex_t apply_mtx;

	pthread_mutex_t mtx;              /* everything below */
	pthread_cond_t cond;              /* receipts, settled subscriptions, stopping */
	bool stopping;
	struct ctl_child *children;
	unsigned nchildren;
	uint64_t next_handle;
	struct ctl_receipt *ring;         /* CTL_RECEIPTS entries */
	unsigned ring_next;
	char catchup[32];                 /* "none", "waiting", "caught-up", "partial", "timeout" */
	uint64_t catchup_ms;
	char catchup_detail[512];

	struct sub **subs;                /* const after start */
	unsigned nsubs;

	struct ctl_counters cnt;
};

/* What ctl_apply_event did with one event. */
struct ctl_applied {
	char uid[EVENTS_ID_MAX];
	bool ack;              /* the event asks for a receipt */
	bool duplicate;        /* already applied here before */
	uint64_t applied_ms;   /* when it was applied here */
	unsigned purged;
};

/* Apply one event (SSE data text) received from upstream `source` with SSE
 * id `id`: purge the cache and append it to the log, unless its uid is
 * there already; either way the cursor of source becomes id. Returns 0, or
 * CDN_INVAL for an event that cannot be read (skipped; cursor moved), or
 * CDN_ERR when the log could not be written (the subscription reconnects
 * and gets it again). */
int ctl_apply_event(struct ctl *c, const char *source, const char *id, const char *data,
    struct ctl_applied *out);
/* A reset from source: soft-purge everything, publish that as a new event,
 * and set the cursor to id. */
int ctl_apply_reset(struct ctl *c, const char *source, const char *id, const char *reason);
/* A subscription changed state (wakes the catch-up wait). */
void ctl_notify(struct ctl *c);
/* Wall clock in milliseconds. */
uint64_t ctl_now_ms(void);

#endif
