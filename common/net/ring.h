/*
 * ring.h (module ring_): the consistent-hash ring of one shield tier.
 *
 * Each node (a shield, named by its data listener's "host:port") owns
 * weight * vnodes points on a 64-bit circle. A key's position on the circle
 * is ring_key_pos(key_hash(key)); its owner is the node of the first point
 * at or after that position (clockwise, wrapping at 2^64). Failover and
 * replication walk on clockwise from there and take the next distinct nodes.
 *
 * The hash is part of the outside contract (edges and shields built from the
 * same "host:port" names must agree on every owner), so it never changes:
 *
 *   point(id, i)  For g = 0, 1, 2 ...: SHA-256 of the bytes  id "#" g
 *                 (g in decimal, no NUL), read as four 64-bit big-endian
 *                 words; word j is point 4g + j. A node with P points uses
 *                 points 0 .. P-1, so raising its weight only adds points.
 *   ring_key_pos  MurmurHash3's 64-bit finaliser (fmix64) of the 64-bit key
 *                 hash; key_hash (FNV-1a) alone leaves similar keys close.
 *   ties          Points with equal values are ordered by node id (strcmp),
 *                 so the order of nodes given to ring_new never matters.
 *
 * Thread safety: a ring is immutable after ring_new, so any number of threads
 * may look up concurrently without locks. To change membership, build a new
 * ring and publish the pointer with an atomic store (memory_order_release;
 * readers load it with memory_order_acquire), and free the old ring only when
 * no reader can still hold it (at shutdown, or after every reader has passed
 * a quiescent point). Node up/down state is not part of the ring: lookups ask
 * the caller's is_up callback (for instance health_up), so health changes
 * never rebuild it.
 */
#ifndef CDN_RING_H
#define CDN_RING_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Points per unit of weight. 1000, not the 160 of ketama: a node's share of
 * the circle has a relative spread of about 1/sqrt(points), and 10 equal
 * nodes at 160 points put the busiest at about 1.12 times the mean (median
 * over name sets, 1.26 at the 99th percentile); at 1000 it is 1.05 (1.10 at
 * the 99th percentile). See tests/unit/test_ring.c. */
#define RING_VNODES_DEFAULT 1000u
#define RING_MAX_NODES      4096u
#define RING_MAX_WEIGHT     1000u
#define RING_MAX_VNODES     100000u
#define RING_MAX_POINTS     (1u << 22)
/* "[v6addr]:port" fits; longer names are refused. */
#define RING_ID_MAX         256u
/* No node: an empty ring, or nothing up. */
#define RING_NONE           UINT_MAX

struct ring;

struct ring_node {
	const char *id;      /* "host:port" (see ring_id_from_url); copied */
	unsigned weight;     /* 0: listed but owns nothing (drained) */
};

/* Is node idx (an index into the array given to ring_new) usable? Called
 * from the looking-up thread, possibly several times per lookup. */
typedef bool ring_up_fn(void *arg, unsigned idx);

/* Build a ring of n nodes (n may be 0) with vnodes points per unit of weight
 * (0 means RING_VNODES_DEFAULT). Node indexes in every answer are indexes
 * into nodes[]. Returns the ring (free with ring_free), or NULL when the
 * input is invalid: then *why (if why is not NULL) names the reason in a
 * static string (empty or too long id, duplicate id, too many nodes, weight
 * or points). */
struct ring *ring_new(const struct ring_node *nodes, unsigned n, unsigned vnodes,
    const char **why);
/* Free a ring and set *rp to NULL. No thread may still be using it. */
void ring_free(struct ring **rp);

/* The owner of a key hash (key_hash of the cache key), ignoring health: a
 * node index, or RING_NONE when no node has points. O(log points). */
unsigned ring_owner(const struct ring *r, uint64_t hash);

/* The first k distinct nodes for which is_up says yes, in ring order from the
 * key's position: out[0] is the owner if it is up, else the node a ring
 * without the down nodes would pick. is_up NULL means every node is up.
 * Writes up to k indexes into out and returns how many (fewer than k when
 * fewer nodes are up; 0 for an empty ring or when none is up). Never
 * allocates; O(log points) when the owner is up and k == 1. */
unsigned ring_lookup_n(const struct ring *r, uint64_t hash, unsigned k, ring_up_fn *is_up,
    void *arg, unsigned *out);

/* The position of a key hash on the circle (fmix64); exposed for tests and
 * for tools that must agree with the ring. */
uint64_t ring_key_pos(uint64_t hash);
/* Point i of a node id (see the header comment). */
uint64_t ring_point(const char *id, unsigned i);

unsigned ring_count(const struct ring *r);
unsigned ring_points(const struct ring *r);
unsigned ring_vnodes(const struct ring *r);
/* The id and weight of node idx (idx < ring_count). The id lives as long as r. */
const char *ring_node_id(const struct ring *r, unsigned idx);
unsigned ring_node_weight(const struct ring *r, unsigned idx);
/* The index of the node with this id, or RING_NONE. O(nodes). */
unsigned ring_find(const struct ring *r, const char *id);
/* The fraction of the circle node idx owns when every node is up (for
 * /stats). O(points). */
double ring_share(const struct ring *r, unsigned idx);

/* The ring identity of an upstream: "host:port" from "http://host[:port]/..."
 * (port 80 or 443 by scheme when absent) or from a bare "host:port" (as -l
 * and --peer give it). Lower-cases the host, keeps IPv6 brackets, drops any
 * userinfo, path, query or fragment. Writes a NUL-terminated id into out and
 * returns 0, or CDN_INVAL for a string with no host or an unusable port, or
 * when the id does not fit (outlen of RING_ID_MAX always suffices). */
int ring_id_from_url(const char *url, char *out, size_t outlen);

#endif
