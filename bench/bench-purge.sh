#!/usr/bin/env bash
# Purge latency: from the API call at one top-tier shield to the last of ten
# edges applying it. Target: p99 under 50 ms on loopback.
#
#   bench/bench-purge.sh
#   BUILDDIR=/tmp/build PURGES=500 bench/bench-purge.sh
#
# Starts test-origin, two peered shields and ten edges (each edge follows
# both shields, as in tests/integration/i00030), all on 127.0.0.1, each node
# light (--threads 1 --mem-size 8M). With DISK=1 (the default) every node
# has a cache dir: a durable invalidation log, and a disk tier, so a purge
# at an edge also deletes the disk copy (an fsync'd SQLite delete in the
# disk index); with DISK=0 the edges keep the memory tier only and their
# logs in temporary directories. It caches the purged URLs at every edge
# first (and lets the disk tier's write-behind settle). Then it sends
# PURGES purges of one URL each, one after another, to shield1 with
# "wait": true, and for each takes
#   apply latency = max over the ten edges of (the edge's receipt applied_ms)
#                   - (wall clock just before the request was sent)
# (every node runs on this host, so the clocks agree), and the wall time of
# the whole call (which adds the receipts' trip back). It prints p50, p90,
# p99 and max of both, and writes them, with a description of the host, to
# bench/results/bench-purge-YYYYmmdd-HHMMSS.txt.
#
# Environment: BUILDDIR (<repo>/build), PURGES (200), EDGES (10), DISK (1).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
purges=${PURGES:-200}
nedges=${EDGES:-10}
disk=${DISK:-1}
resultsdir=$srcdir/bench/results

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-purge.sh: unknown argument: $1" >&2; exit 2 ;;
esac

die() {
	echo "bench-purge.sh: $*" >&2
	exit 1
}

[[ "$purges" =~ ^[0-9]+$ && "$nedges" =~ ^[0-9]+$ ]] || die "PURGES and EDGES must be whole numbers"
for b in tests/origin/test-origin shield/cdn-shield edge/cdn-edge; do
	[[ -x "$builddir/$b" ]] || die "$builddir/$b is not built (run make there, or set BUILDDIR)"
done
if grep -Eq '^CDN_CFLAGS = .*-fsanitize' "$builddir/Makefile" 2>/dev/null; then
	echo "note: $builddir is a sanitizer build; the timings measure the sanitizers" >&2
fi
command -v python3 >/dev/null || die "python3 is needed"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-purge.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

token=bench-token-$$
printf '%s read purge warm\n' "$token" >"$work/tokens"

# wait_listen LOG: prints "DATA-PORT ADMIN-PORT" once the node says it listens.
wait_listen() {
	local i line
	for ((i = 0; i < 200; i++)); do
		line=$(sed -n 's/.*listening data=[^ ]*:\([0-9]*\) admin=[^ ]*:\([0-9]*\).*/\1 \2/p' "$1" 2>/dev/null | head -n 1 || true)
		[[ -n "$line" ]] && { echo "$line"; return 0; }
		sleep 0.05
	done
	die "no 'listening' line in $1"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

"$builddir/tests/origin/test-origin" -l 127.0.0.1:0 >"$work/origin.out" 2>"$work/origin.log" &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	oport=$(sed -n 's/^listening .*:\([0-9][0-9]*\)$/\1/p' "$work/origin.out" 2>/dev/null || true)
	[[ -n "$oport" ]] && break
	sleep 0.05
done
[[ -n "$oport" ]] || die "test-origin did not start"

light=(--threads 1 --mem-size 8M --upstream-connections 4 --access-log off
	--token-file "$work/tokens" -a 127.0.0.1:0 --admin-rate-limit 0)
p1=$(free_port)
p2=$(free_port)
"$builddir/shield/cdn-shield" "${light[@]}" --name shield1 -l "127.0.0.1:$p1" -d "$work/shield1" \
	-u "http://127.0.0.1:$oport" --peer "http://127.0.0.1:$p2" >"$work/shield1.log" 2>&1 &
pids+=($!)
read -r _ s1admin < <(wait_listen "$work/shield1.log")
"$builddir/shield/cdn-shield" "${light[@]}" --name shield2 -l "127.0.0.1:$p2" -d "$work/shield2" \
	-u "http://127.0.0.1:$oport" --peer "http://127.0.0.1:$p1" >"$work/shield2.log" 2>&1 &
pids+=($!)
wait_listen "$work/shield2.log" >/dev/null
edge_ports=()
for ((e = 1; e <= nedges; e++)); do
	dir=()
	[[ "$disk" = 1 ]] && dir=(-d "$work/edge$e")
	"$builddir/edge/cdn-edge" "${light[@]}" --name "edge$e" -l 127.0.0.1:0 "${dir[@]}" \
		-u "http://127.0.0.1:$p1" -u "http://127.0.0.1:$p2" >"$work/edge$e.log" 2>&1 &
	pids+=($!)
	read -r dport _ < <(wait_listen "$work/edge$e.log")
	edge_ports+=("$dport")
done

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$resultsdir"
report=$resultsdir/bench-purge-$stamp.txt

edge_admins=()
for ((e = 1; e <= nedges; e++)); do
	read -r _ a < <(wait_listen "$work/edge$e.log")
	edge_admins+=("$a")
done

python3 - "$s1admin" "$token" "$purges" "$nedges" "$disk" "${edge_ports[@]}" "${edge_admins[@]}" <<'PYEOF' | tee "$work/out"
import http.client, json, sys, time

admin, token, purges, nedges = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
disk = sys.argv[5] == "1"
edges = [int(p) for p in sys.argv[6:6 + nedges]]
edge_admins = [int(p) for p in sys.argv[6 + nedges:]]
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

def stats(port=admin):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/stats", headers=hdr)
    s = json.loads(c.getresponse().read())
    c.close()
    return s

# Every edge and the peer must be subscribed before we measure.
deadline = time.time() + 20
while True:
    kids = [k for k in stats()["children"] if k["connected"]]
    if len(kids) >= nedges + 1:
        break
    if time.time() > deadline:
        sys.exit("only %d children subscribed to shield1" % len(kids))
    time.sleep(0.1)

urls = ["/bench/purge/%d?cc=max-age%%3D3600" % i for i in range(purges)]
for port in edges:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for u in urls:
        c.request("GET", u)
        c.getresponse().read()
    c.close()

# Let the disk tier's write-behind finish, so it does not compete.
if disk:
    deadline = time.time() + 30
    while time.time() < deadline:
        done = [stats(p).get("disk_writes", 0) for p in edge_admins]
        if min(done) >= purges:
            break
        time.sleep(0.2)
    time.sleep(0.5)

conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=30)
apply_ms, call_ms, stages, incomplete = [], [], [], 0
for u in urls:
    body = json.dumps({"urls": [u], "wait": True})
    t0 = time.time() * 1000.0
    conn.request("POST", "/purge", body=body, headers=hdr)
    r = conn.getresponse()
    ans = json.loads(r.read())
    t1 = time.time() * 1000.0
    if r.status != 200:
        sys.exit("purge answered %d: %s" % (r.status, ans))
    nodes = [n for n in ans["receipts"]["nodes"] if n["node"].startswith("edge")]
    if len(nodes) != nedges or not all(n["applied"] for n in nodes):
        incomplete += 1
        continue
    last = max(n["applied_ms"] for n in nodes)
    apply_ms.append(last - t0)
    call_ms.append(t1 - t0)
    stages.append((last - t0, ans["time_ms"] - t0, ans["logged_ms"] - ans["time_ms"],
                   last - ans["logged_ms"]))

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]

print("purges: %d sent to shield1, %d with a receipt from all %d edges (edges %s)"
      % (purges, len(apply_ms), nedges, "with a disk tier" if disk else "memory only"))
for name, v in (("API call -> last edge applied", apply_ms), ("API call -> answer with receipts", call_ms)):
    if v:
        print("%-34s p50 %6.1f ms   p90 %6.1f ms   p99 %6.1f ms   max %6.1f ms"
              % (name, pct(v, 50), pct(v, 90), pct(v, 99), max(v)))
if stages:
    print("where the time goes (p50 / p99 / max, ms):")
    for i, name in ((1, "  request reaches shield1"), (2, "  shield1 applies and logs (fsync)"),
                    (3, "  log -> last edge applied")):
        v = [st[i] for st in stages]
        print("%-36s %6.1f / %6.1f / %6.1f" % (name, pct(v, 50), pct(v, 99), max(v)))
if incomplete:
    print("incomplete receipts: %d" % incomplete)
ok = apply_ms and pct(apply_ms, 99) < 50.0 and incomplete == 0
print("target p99 < 50 ms: %s" % ("met" if ok else "NOT met"))
PYEOF

{
	echo "bench-purge.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -srm), $(nproc) CPUs, commit $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "2 peered shields + $nedges edges on 127.0.0.1, --threads 1, cache dirs under ${TMPDIR:-/tmp} ($(df -T "$work" | awk 'NR == 2 { print $2 }'))"
	echo
	cat "$work/out"
} >"$report"
echo "written to $report"
