/*
 * push.h (module push_): pushed objects on the shield tier.
 *
 * Content can be pushed instead of pulled: an authenticated PUT on a
 * shield's admin listener stores an object durably (fsync, crash-safe disk
 * tier write), pinned (never evicted), on N shields of the tier, and every
 * edge then pulls it like anything else. The shield is the object's origin.
 *
 * Endpoints (admin listener, token with the push scope, no rate limit):
 *
 *   PUT    /push/KEY   body, Content-Digest: sha-256=:..: (required),
 *                      Content-Type, Cache-Control, Surrogate-Key.
 *                      201 {"key","size","digest","version","leader",
 *                      "replicas":[...],"acked","wanted"}
 *   HEAD   /push/KEY   200 with Repr-Digest and Content-Length, or 404
 *   GET    /push/KEY   the stored body (verified), or 404
 *   DELETE /push/KEY   200 {"key","deleted","replicas",...}, or 404
 *   POST   /push-sync  anti-entropy between the shields of a tier (below)
 *
 * KEY is the request target edges will serve ("/img/a.png"), as sent: no
 * query, no "." or ".." segment, no "//", no encoded dot, slash or
 * backslash, no NUL, control character, space, backslash or non-ASCII
 * byte, at most PUSH_KEY_MAX bytes; anything else is 400. A body over
 * push.max_size is 413 (refused from Content-Length before any byte is
 * stored, or as soon as a chunked body passes it); a full disk tier is 507;
 * a digest mismatch is 400 naming both digests. In every one of these
 * cases nothing is left on disk (the temp file is removed).
 *
 * Replication (leader and followers, write quorum). The tier's ring is this
 * node's data listener (-l) plus its --peer URLs, by host:port, the same
 * ring an edge builds from the same URLs. The replicas of a key are the
 * first N live nodes from the key's position (N = push.replicas capped by
 * the tier size); the first is the key's leader. A PUT or DELETE received
 * by any shield goes to the leader (a non-leader spools the body to a temp
 * file, checks its digest, and forwards it; when the leader cannot be
 * reached the next live replica leads). The leader orders writes to a key
 * (a per-key lock, and a version: microseconds of its clock, always above
 * the key's last version), stores, then sends the object to the other
 * replicas in parallel; it answers 201 once W (push.write_quorum, capped
 * by N) replicas hold it on disk, 503 otherwise (the copies that exist
 * stay, and the failed ones are retried). A replica keeps the newest
 * version it has seen and ignores older ones, so retries and repairs
 * never roll a key back; a DELETE leaves a versioned tombstone for the
 * same reason.
 *
 * Catalog: DIR/push.db (SQLite, WAL, synchronous=FULL) holds each pushed
 * key's version, digest, size and tombstone, and the retry queue. The
 * bytes live in the disk tier (pinned). A store commits to the disk tier
 * first, then to the catalog; at start the two are reconciled (pinned
 * versions missing from the catalog are added, catalog entries missing on
 * disk are repaired from the other replicas).
 *
 * Repair and anti-entropy:
 *  - A read that finds a pushed object missing or corrupt on this node
 *    (the disk reader's verified read) fetches it from another replica
 *    (GET /push/KEY there), stores it and serves it, within the request
 *    (push_maybe and push_repair are the disk reader's hooks).
 *  - Every push.sync_interval, and at start, a node sends each live peer a
 *    Bloom filter of its (key, digest) and tombstone set (POST /push-sync);
 *    the peer sends back (PUT/DELETE, as replica writes) every entry the
 *    node should hold and the filter lacks, and answers with a filter of
 *    its own keys, which push_maybe consults for keys this node has not
 *    heard of. A new seed each round changes which entries collide.
 *  - A failed replication goes into the catalog's queue and is retried
 *    with exponential backoff; after push.retry_max attempts it is parked,
 *    listed in /stats ("push": {"parked": [...]}) until a sync repairs it.
 *
 * Threads: the admin listener's connection threads run the handlers (they
 * may block: disk writes, fsync, forwarding); one thread runs the sync
 * rounds and the retry queue. The catalog has one SQLite connection under
 * its own mutex; per-key locks (striped) order writes and repairs of one
 * key. No lock is held across network I/O except the key's own lock.
 */
#ifndef CDN_PUSH_H
#define CDN_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#define PUSH_KEY_MAX 1024u

struct push;
struct cfg;
struct disk;
struct cache;
struct admin_ext;

/* Is raw (len bytes) a key a push may name? Returns true, or false with a
 * reason for the client in why. Pure. */
bool push_key_ok(const char *raw, size_t len, char *why, size_t whylen);

/* Open the catalog in cfg->cache_dir and reconcile it with the disk tier.
 * Returns NULL (logged) on failure. */
struct push *push_new(const struct cfg *cfg, struct disk *disk, struct cache *cache);
/* Join the tier: data_addr and admin_addr are this node's bound
 * listeners. Starts heartbeats to the peers and the sync thread. */
int push_start(struct push *p, const char *data_addr, const char *admin_addr);
/* Stop the thread and heartbeats (handlers still running finish). */
void push_stop(struct push *p);
void push_free(struct push **pp);

/* The admin listener extension serving /push/ and /push-sync. */
const struct admin_ext *push_admin_ext(struct push *p);

/* Disk reader hooks (net/fill.h). */
bool push_maybe(void *p, const char *key, size_t keylen);
int push_repair(void *p, const char *key, size_t keylen);

#endif
