/*
 * events.h (module events_): the durable invalidation log of one node.
 *
 * Every invalidation a node applies (a purge sent to its admin API, or one
 * received from an upstream's event stream) is appended here with the next
 * local sequence number, and served to the node's children as Server-Sent
 * Events (ctl/admin). Each event also carries a globally unique id, its
 * "uid": "<origin log id>:<origin seq>", given once by the node where the
 * purge entered the CDN and kept as the event travels, so a node that hears
 * of it twice (two shields, or peers subscribed to each other) applies and
 * re-publishes it once.
 *
 * The log has a random 16-hex-digit id, made when the database is created.
 * An event id as children see it (the SSE `id:`) is "<log id>-<seq>", so a
 * child resuming with Last-Event-ID against a log that was replaced (a node
 * without a cache dir restarted) is noticed (events_resume).
 *
 * Storage: SQLite in WAL mode, `events.db` in the cache dir, or in a private
 * temporary directory (removed at close) when the node has none, which the
 * log says. Tables: meta (format version, log id), events (seq, uid, time,
 * source, body JSON), cursors (the last event id applied from each upstream).
 * Retention: the newest `retain` events are kept (at least 1).
 *
 * Threads: one connection, guarded by ev->mtx; any thread may call any
 * function. events_wait sleeps on a condition variable that appends and
 * events_wake_all broadcast. Never call these under a cache lock.
 */
#ifndef CDN_EVENTS_H
#define CDN_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define EVENTS_FORMAT_VERSION "1"
#define EVENTS_LOGID_LEN 16
#define EVENTS_ID_MAX 64     /* room for "<log id>-<seq>" and "<log id>:<seq>" */

struct events;

/* Open (or create) the log in dir; dir NULL means a private temporary
 * directory. retain is the number of events kept (0 means 1). Returns 0, or
 * CDN_ERR after logging why. */
int events_open(const char *dir, uint64_t retain, struct events **out);
/* Wake every waiter for good (events_wait returns false from now on). */
void events_wake_all(struct events *ev);
void events_close(struct events **evp);

/* This log's id (static for the life of ev). */
const char *events_log_id(const struct events *ev);
/* Where the database lives, and whether it outlives the process. */
const char *events_path(const struct events *ev);
bool events_durable(const struct events *ev);

/* The newest and oldest retained local sequence numbers (0, 0 when empty;
 * first is head + 1 when everything was trimmed). */
void events_bounds(struct events *ev, uint64_t *first, uint64_t *head);
/* "<log id>-<seq>" into buf. */
void events_format_id(const struct events *ev, uint64_t seq, char *buf, size_t len);

struct events_added {
	uint64_t seq;                  /* local sequence number */
	char uid[EVENTS_ID_MAX];
	bool duplicate;                /* uid was already in the log: nothing added */
	uint64_t time_ms;              /* when this node appended it (or first did) */
};

/* Append an event. body is a JSON object; if it has no "uid" the event
 * originates here and gets "<log id>:<seq>" (set in body too). source names
 * where it came from ("api", or an upstream URL). When cursor_key is not
 * NULL, the cursor of that upstream is set to cursor_id in the same
 * transaction, duplicate or not. Returns 0 (out filled), or CDN_ERR. */
int events_append(struct events *ev, json_t *body, const char *source, const char *cursor_key,
    const char *cursor_id, struct events_added *out);
/* Is uid in the retained log? If so and time_ms is not NULL, *time_ms is
 * when it was appended here. */
bool events_has(struct events *ev, const char *uid, uint64_t *time_ms);

/* Visit up to max events with seq > after, in order: fn gets the local seq
 * and the stored body text. Returns how many were visited. fn runs with
 * ev->mtx held: it must only copy. */
unsigned events_read(struct events *ev, uint64_t after, unsigned max,
    void (*fn)(void *arg, uint64_t seq, const char *body), void *arg);
/* Sleep until the head passes after, timeout_ms passes, or
 * events_wake_all. Returns true if there is an event after `after`. */
bool events_wait(struct events *ev, uint64_t after, uint64_t timeout_ms);

/* Where a reader that last saw last_id ("<log id>-<seq>", a bare "<seq>"
 * meaning this log, or NULL/"" for none) resumes. Sets *from to the seq to
 * read after and returns true; returns false when the reader is too far
 * behind (its next event was trimmed, or its log id is another log's and
 * this log no longer starts at 1): it must start over (a "reset") from
 * *from, the head. With last_id NULL the reader starts at the head. */
bool events_resume(struct events *ev, const char *last_id, uint64_t *from);

/* The cursor of an upstream: copies the last applied event id into buf
 * and returns true, or returns false if there is none. */
bool events_cursor_get(struct events *ev, const char *key, char *buf, size_t len);
int events_cursor_set(struct events *ev, const char *key, const char *id);

/* Split "<log id>-<seq>" (or "<seq>"). Returns true if well formed; logid
 * gets "" for a bare seq. */
bool events_parse_id(const char *id, char logid[EVENTS_LOGID_LEN + 1], uint64_t *seq);

#endif
