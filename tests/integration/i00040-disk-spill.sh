#!/bin/sh
# i00040-disk-spill: an edge with a 1M memory tier and a disk tier
# (--mem-size 1M --max-object-size 256K -d DIR) fetches 40 objects of
# 100 KiB (4 MB, four times the memory tier). Every one is written behind to
# disk (disk_writes reaches 40), the memory tier stays within 1M, and
# re-fetching all 40 answers 200 with the exact bytes, X-Cache HIT and a
# Repr-Digest of those bytes, with no new origin request: the ones no longer
# in memory come from disk (disk_hits). Then 8 parallel clients fetch 100
# objects of 250 kB (memory churns faster than the writer stores): each
# must still reach disk (or be counted as dropped), and be a HIT afterwards.
. "$(dirname "$0")/lib.sh"

N=40
SIZE=102400
start_origin origin
start_node edge edge1 -u "$origin_URL" -d "$WORK/cache" \
	--mem-size 1M --max-object-size 256K --disk-size 64M

# The deterministic body test-origin sends for size=N: byte i = 'a' + i % 26.
expected_sha=$(python3 -c '
import hashlib, sys
n = int(sys.argv[1])
print(hashlib.sha256(bytes(97 + i % 26 for i in range(n))).hexdigest())' "$SIZE")

# origin_total_of PREFIX: requests the origin recorded for targets under
# PREFIX (the test's objects only: not probes a node may send on its own).
origin_total_of() {
	origin_requests origin | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["target"].startswith(sys.argv[1])))' "$1"
}
key() { echo "/spill/o$1?size=$SIZE&cc=max-age%3D3600"; }

step "fetch $N objects of 100 KiB: each a MISS, exact bytes, one origin request each"
bad=""
for ((i = 0; i < N; i++)); do
	get "$edge1_URL$(key "$i")"
	if [ "$STATUS" != 200 ] || [ "$(sha256 "$BODY")" != "$expected_sha" ]; then
		bad+=" o$i(status $STATUS, $(wc -c <"$BODY") bytes)"
	fi
	[ "$(hdr X-Cache)" = MISS ] || bad+=" o$i(X-Cache $(hdr X-Cache))"
done
expect_eq "objects not answered 200 MISS with the exact bytes" "" "$bad"
expect_eq "origin total" "$N" "$(origin_total_of /spill/)"

step "write-behind puts all $N objects on disk (disk_writes polled)"
# wait_writes TARGET: until disk_writes reaches TARGET, or has not moved for
# 2 s (the writer is idle: waiting longer would not help), 20 s at most.
wait_writes() {
	local last=-1 same=0 v i
	for ((i = 0; i < 100; i++)); do
		v=$(admin_stat edge1 disk_writes)
		[ "${v:-0}" -ge "$1" ] && return 0
		if [ "$v" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 10 ] && return 1
		else
			same=0 last=$v
		fi
		sleep 0.2
	done
	return 1
}
wait_writes "$N"
expect_eq "disk_writes" "$N" "$(admin_stat edge1 disk_writes)"
expect_eq "disk_write_errors" 0 "$(admin_stat edge1 disk_write_errors)"
expect_eq "disk_write_dropped" 0 "$(admin_stat edge1 disk_write_dropped)"
expect_le "mem_bytes (memory tier bound 1M)" 1048576 "$(admin_stat edge1 mem_bytes)"
expect_ge "memory evictions (4 MB went through a 1M tier)" 1 "$(admin_json edge1 evictions)"
nfiles=$(find "$WORK/cache/objects" -type f ! -name '.tmp.*' | wc -l)
expect_eq "body files under DIR/objects" "$N" "$nfiles"
[ -f "$WORK/cache/index.db" ] || fail "no DIR/index.db"

step "re-fetch all $N: 200, byte-identical, X-Cache HIT, still one origin request each"
hits0=$(admin_stat edge1 disk_hits)
bad="" notHit="" refetched="" nodigest=""
want_digest="sha-256=:$(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$expected_sha"):"
for ((i = 0; i < N; i++)); do
	get "$edge1_URL$(key "$i")"
	if [ "$STATUS" != 200 ] || [ "$(sha256 "$BODY")" != "$expected_sha" ]; then
		bad+=" o$i(status $STATUS, $(wc -c <"$BODY") bytes)"
	fi
	[ "$(hdr Repr-Digest)" = "$want_digest" ] || nodigest+=" o$i('$(hdr Repr-Digest)')"
	[ "$(hdr X-Cache)" = HIT ] || notHit+=" o$i($(hdr X-Cache))"
	c=$(origin_count origin "$(key "$i")")
	[ "$c" = 1 ] || refetched+=" o$i($c)"
done
expect_eq "objects not answered 200 with the exact bytes" "" "$bad"
expect_eq "objects not answered X-Cache HIT" "" "$notHit"
expect_eq "objects the origin was asked for more than once" "" "$refetched"
expect_eq "origin total" "$N" "$(origin_total_of /spill/)"
disk_hits=$(admin_stat edge1 disk_hits)
expect_ge "disk_hits (objects promoted from disk)" 1 "$disk_hits"
# At most ~10 of the 100 KiB objects fit the 1M tier at once: most of the
# 40 must have come from disk.
expect_ge "disk_hits during the re-fetch" $((N - 12)) "$((disk_hits - hits0))"
expect_le "mem_bytes after the re-fetch" 1048576 "$(admin_stat edge1 mem_bytes)"
expect_eq "disk_corrupt" 0 "$(admin_stat edge1 disk_corrupt)"

step "every one of those HITs carried a Repr-Digest matching its body"
expect_eq "HITs without the right Repr-Digest (want $want_digest)" "" "$nodigest"

# The same with 8 clients at once and 250 kB objects (4 fit the memory
# tier): objects pass through memory faster than the writer thread stores
# them (each with fsync); each must still reach disk, or be counted as
# dropped when the write backlog is full, never silently lost.
M=100
BSIZE=250000
bkey() { echo "/spill/b$1?size=$BSIZE&cc=max-age%3D3600"; }
step "burst: 8 parallel clients fetch $M objects of 250 kB; every one is written behind"
for ((i = 0; i < M; i++)); do bkey "$i"; done >"$WORK/burst.keys"
xargs -P 8 -I{} curl -s -o /dev/null --max-time 10 "$edge1_URL{}" <"$WORK/burst.keys"
expect_eq "origin total" $((N + M)) "$(origin_total_of /spill/)"
wait_writes $((N + M))
expect_eq "disk_write_dropped" 0 "$(admin_stat edge1 disk_write_dropped)"
expect_eq "disk_write_errors" 0 "$(admin_stat edge1 disk_write_errors)"
expect_eq "disk_writes" $((N + M)) "$(admin_stat edge1 disk_writes)"
expect_le "mem_bytes" 1048576 "$(admin_stat edge1 mem_bytes)"

step "burst: all $M re-fetched as HITs with the exact bytes, no new origin request"
out=$(python3 - "$edge1_URL" "$WORK/burst.keys" "$BSIZE" <<'PYEOF'
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
n = int(sys.argv[3])
want = (bytes(range(97, 123)) * (n // 26 + 1))[:n]
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
bad, miss = [], []
for key in (k.strip() for k in open(sys.argv[2]) if k.strip()):
    conn.request("GET", key)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or body != want:
        bad.append("%s(status %d, %d bytes)" % (key, r.status, len(body)))
    if r.getheader("X-Cache") != "HIT":
        miss.append(key.split("?")[0])
print("BAD " + " ".join(bad))
print("NOTHIT %d %s" % (len(miss), " ".join(miss)))
PYEOF
)
expect_eq "objects not answered 200 with the exact bytes" "BAD " "$(grep '^BAD' <<<"$out")"
expect_eq "objects not answered X-Cache HIT (lost between memory and disk)" "NOTHIT 0 " "$(grep '^NOTHIT' <<<"$out")"
expect_eq "origin total" $((N + M)) "$(origin_total_of /spill/)"

exit 0
