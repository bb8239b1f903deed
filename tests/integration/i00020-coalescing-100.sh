#!/bin/sh
# i00020-coalescing-100: request coalescing under load. 100 clients released
# at once on one cold key make exactly one origin request and all get the
# same complete body; waiters are fed bytes as they arrive, not at the end;
# an answer that turns out uncacheable releases the waiters to go upstream
# in parallel, and is remembered (hit-for-miss) so that the next burst does
# not queue at all; a slow fill releases its waiters after --coalesce-timeout.
# Every burst has a bounded run time.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"
start_node edge edge2 -u "$origin_URL" --coalesce-timeout 500ms

# burst.py URL N EXPECTED-BODY-FILE: N threads released together by a
# barrier each GET URL once; prints one JSON summary.
cat >"$WORK/burst.py" <<'EOF'
import hashlib, http.client, json, sys, threading, time, urllib.parse

url, n, expected = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()
u = urllib.parse.urlsplit(url)
target = u.path + ("?" + u.query if u.query else "")
barrier = threading.Barrier(n)
res = [None] * n

def client(i):
    r = {"status": 0, "ok": False}
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
        barrier.wait()
        t0 = time.monotonic()
        c.request("GET", target)
        resp = c.getresponse()
        r["status"] = resp.status
        r["xcache"] = resp.getheader("X-Cache")
        first = resp.read(1)
        t1 = time.monotonic()
        rest = resp.read()
        t2 = time.monotonic()
        r["ok"] = first + rest == expected
        r["len"] = len(first) + len(rest)
        r["total_ms"] = (t2 - t0) * 1000
        r["first_byte_ms"] = (t1 - t0) * 1000
        r["streamed_ms"] = (t2 - t1) * 1000
        c.close()
    except Exception as e:
        r["error"] = repr(e)
    res[i] = r

start = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = (time.monotonic() - start) * 1000
done = [r for r in res if "total_ms" in r]
print(json.dumps({
    "n": n,
    "status200": sum(1 for r in res if r["status"] == 200),
    "bodies_ok": sum(1 for r in res if r["ok"]),
    "errors": sorted({r.get("error", "") for r in res if "error" in r})[:3],
    "bad_lengths": sorted({r.get("len", -1) for r in res if not r["ok"]})[:5],
    "wall_ms": int(wall),
    "max_total_ms": int(max((r["total_ms"] for r in done), default=-1)),
    "min_streamed_ms": int(min((r["streamed_ms"] for r in done), default=-1)),
}))
EOF

# burst URL N EXPECTED-FILE: runs burst.py, sets B (the JSON summary).
burst() {
	B=$(python3 "$WORK/burst.py" "$@")
	echo "   burst: $B"
}
b() { json_get "$1" <<<"$B"; }

# arrival_spread TARGET FIRST LAST: milliseconds between the FIRST-th and
# LAST-th (1-based, inclusive) recorded origin requests for TARGET.
arrival_spread() {
	origin_requests origin | python3 -c '
import json, sys
t = [r["t_ms"] for r in json.load(sys.stdin) if r["target"] == sys.argv[1]]
a, b = int(sys.argv[2]), int(sys.argv[3])
sel = sorted(t[a - 1:b])
print(sel[-1] - sel[0] if len(sel) == b - a + 1 else "missing")' "$1" "$2" "$3"
}

pattern() {
	python3 -c 'import sys; sys.stdout.write("".join(chr(97 + i % 26) for i in range(int(sys.argv[1]))))' "$1" >"$2"
}

N=100

step "$N concurrent GETs of one cold cacheable key (origin takes 0.6 s): exactly one origin request"
HOT="/c100/hot?delay_ms=600&cc=max-age%3D60&size=100000"
pattern 100000 "$WORK/hot.expected"
coalesced0=$(admin_stat edge1 coalesced)
burst "$edge1_URL$HOT" $N "$WORK/hot.expected"
expect_eq "clients with 200" $N "$(b status200)"
expect_eq "clients with the complete, identical body" $N "$(b bodies_ok)"
expect_eq "origin requests" 1 "$(origin_count origin "$HOT")"
expect_le "burst wall time (ms)" 5000 "$(b wall_ms)"
expect_ge "coalesced waiters counted by the node" $((coalesced0 + N - 10)) "$(admin_stat edge1 coalesced)"
get "$edge1_URL$HOT"
expect_eq "afterwards: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$HOT")"

step "waiters are fed as bytes arrive: the body trickles in over ~1 s, every client sees it streamed"
STREAM="/c100/stream?cc=max-age%3D60&size=20000&chunk=2000&body_delay_ms=100"
pattern 20000 "$WORK/stream.expected"
burst "$edge1_URL$STREAM" $N "$WORK/stream.expected"
expect_eq "clients with 200" $N "$(b status200)"
expect_eq "clients with the complete body" $N "$(b bodies_ok)"
expect_eq "origin requests" 1 "$(origin_count origin "$STREAM")"
expect_ge "shortest time from a client's first body byte to its last (ms)" 400 "$(b min_streamed_ms)"
expect_le "burst wall time (ms)" 5000 "$(b wall_ms)"

step "the client that started a fill goes away mid-body: the waiters still get the whole object, and it is stored"
GONE="/c100/owner-gone?cc=max-age%3D60&size=20000&chunk=2000&body_delay_ms=100"
curl -sS --max-time 0.4 -o /dev/null "$edge1_URL$GONE" 2>/dev/null &
owner=$!
sleep 0.1
burst "$edge1_URL$GONE" 20 "$WORK/stream.expected"
wait "$owner"
expect_eq "clients with 200" 20 "$(b status200)"
expect_eq "clients with the complete body" 20 "$(b bodies_ok)"
expect_eq "origin requests" 1 "$(origin_count origin "$GONE")"
get "$edge1_URL$GONE"
expect_eq "afterwards: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "afterwards: complete body" 20000 "$(wc -c <"$BODY" | tr -d ' ')"

step "an uncacheable answer (private) releases the $N waiters: they all succeed, upstream in parallel"
PRIV="/c100/private?delay_ms=800&cc=private"
printf 'origin body for %s\n' "$PRIV" >"$WORK/priv.expected"
origin_reset origin
burst "$edge1_URL$PRIV" $N "$WORK/priv.expected"
expect_eq "clients with 200" $N "$(b status200)"
expect_eq "clients with the complete body" $N "$(b bodies_ok)"
expect_eq "origin requests (each client once)" $N "$(origin_count origin "$PRIV")"
expect_ge "most origin requests in progress at once" $((N / 2)) "$(origin_max_inflight origin)"
expect_le "arrival spread of the released waiters at the origin (ms)" 500 "$(arrival_spread "$PRIV" 2 $N)"
expect_le "burst wall time (ms; serial would be $((N * 8 / 10)) s)" 4000 "$(b wall_ms)"

step "hit-for-miss: the next $N requests do not queue behind one fetch, they all go upstream at once"
origin_reset origin
burst "$edge1_URL$PRIV" $N "$WORK/priv.expected"
expect_eq "clients with 200" $N "$(b status200)"
expect_eq "clients with the complete body" $N "$(b bodies_ok)"
expect_eq "origin requests" $N "$(origin_count origin "$PRIV")"
expect_le "arrival spread at the origin, all $N (ms; queueing would be >= 800)" 500 "$(arrival_spread "$PRIV" 1 $N)"
expect_le "slowest client (ms; queueing would be >= 1600)" 1500 "$(b max_total_ms)"

step "bounded coalescing (--coalesce-timeout 500ms): waiters on a 1.2 s fill go upstream alone after 0.5 s"
SLOW="/c100/slow?delay_ms=1200&cc=max-age%3D60"
printf 'origin body for %s\n' "$SLOW" >"$WORK/slow.expected"
origin_reset origin
burst "$edge2_URL$SLOW" 20 "$WORK/slow.expected"
expect_eq "clients with 200" 20 "$(b status200)"
expect_eq "clients with the complete body" 20 "$(b bodies_ok)"
expect_eq "origin requests (the fill and each released waiter)" 20 "$(origin_count origin "$SLOW")"
expect_le "arrival spread of the released waiters (ms)" 400 "$(arrival_spread "$SLOW" 2 20)"
expect_le "burst wall time (ms)" 4000 "$(b wall_ms)"
get "$edge2_URL$SLOW"
expect_eq "afterwards the fill is stored: X-Cache" HIT "$(hdr X-Cache)"

exit 0
