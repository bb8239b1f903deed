#!/bin/sh
# i00045-big-object-disk: objects above --max-object-size go straight to the
# disk tier and are served from the file, never whole in memory. An edge with
# -d DIR --max-object-size 256K fetches a 3 MB object (Content-Length known)
# that the origin sends slowly: five clients that arrive while it streams all
# get the exact bytes from the one origin request. Then the object is a HIT
# with no origin request, a Range request on it gives a correct 206, and the
# memory tier never held it (mem_bytes stays small). A 3 MB chunked object
# (no Content-Length: it outgrows the limit while streaming) goes the same
# way. A byte flipped in the body file is caught on the next read: correct
# bytes, one more origin request, disk_corrupt up. After a restart on the
# same DIR both objects are still HITs without asking the origin. The
# streamed MISS carries its Repr-Digest as a trailer (Trailer: Repr-Digest).
. "$(dirname "$0")/lib.sh"

DIR=$WORK/cache
SIZE=3000000
start_origin origin
start_node edge edge1 -u "$origin_URL" -d "$DIR" --mem-size 8M --max-object-size 256K \
	--disk-size 64M

# The deterministic body test-origin sends for size=N: byte i = 'a' + i % 26.
python3 -c '
import sys
n = int(sys.argv[1])
sys.stdout.buffer.write((bytes(range(97, 123)) * (n // 26 + 1))[:n])' "$SIZE" >"$WORK/expected"
want_sha=$(sha256 "$WORK/expected")
want_digest="sha-256=:$(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$want_sha"):"

# About 1.2 s of body: 46 chunks of 64 KiB, 25 ms apart.
KA="/big/a?size=$SIZE&cc=max-age%3D3600&body_delay_ms=25&chunk=65536"
KB="/big/b?size=$SIZE&cc=max-age%3D3600&chunked=1&body_delay_ms=10&chunk=65536"

# get_big KEY: GET, true if 200 with exactly the expected bytes.
get_big() {
	get "$edge1_URL$1"
	[ "$STATUS" = 200 ] && cmp -s "$BODY" "$WORK/expected"
}
origin_has() { [ "$(origin_count origin "$1")" -ge "$2" ] 2>/dev/null; }
disk_writes_are() { [ "$(admin_stat "$1" disk_writes)" -ge "$2" ] 2>/dev/null; }

step "first fetch of a 3 MB object (Content-Length): five clients join while it streams"
curl -sS --max-time 20 -o "$WORK/c0" -D "$WORK/c0.hdr" "$edge1_URL$KA" &
p0=$!
wait_for 10 origin_has "$KA" 1 || fail "the origin never saw the first request"
pids=()
for i in 1 2 3 4 5; do
	sleep 0.1
	curl -sS --max-time 20 -o "$WORK/c$i" "$edge1_URL$KA" &
	pids+=($!)
done
wait "$p0" || fail "first client: curl failed"
for p in "${pids[@]}"; do wait "$p" || fail "a joining client: curl failed"; done
bad=""
for i in 0 1 2 3 4 5; do
	cmp -s "$WORK/c$i" "$WORK/expected" || bad+=" c$i($(wc -c <"$WORK/c$i") bytes)"
done
expect_eq "clients without the exact bytes" "" "$bad"
expect_eq "X-Cache of the first client" MISS \
	"$(awk 'tolower($1) == "x-cache:" { sub(/\r$/, "", $2); print $2 }' "$WORK/c0.hdr")"
expect_eq "origin requests for the object" 1 "$(origin_count origin "$KA")"
# Streamed before its digest was known: Repr-Digest comes as a trailer.
HDRS=$WORK/c0.hdr
expect_eq "Trailer field of the streamed MISS" Repr-Digest "$(hdr Trailer)"
expect_eq "Repr-Digest trailer of the streamed MISS" "$want_digest" "$(hdr Repr-Digest)"

step "the body reaches disk (one streamed write) and the memory tier does not hold it"
wait_for 20 disk_writes_are edge1 1 || fail "disk_writes did not reach 1"
expect_eq "disk_write_errors" 0 "$(admin_stat edge1 disk_write_errors)"
nfiles=$(find "$DIR/objects" -type f ! -name '.tmp.*' -size "${SIZE}c" | wc -l)
expect_eq "body files of $SIZE bytes under DIR/objects" 1 "$nfiles"
expect_le "mem_bytes (nothing of the 3 MB body)" 65536 "$(admin_stat edge1 mem_bytes)"

step "second request: a HIT from the file, exact bytes, Repr-Digest, no origin request"
hits0=$(admin_stat edge1 disk_hits)
get_big "$KA" || fail "status $STATUS, $(wc -c <"$BODY") bytes, not the exact body"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "Repr-Digest" "$want_digest" "$(hdr Repr-Digest)"
expect_eq "Content-Length" "$SIZE" "$(hdr Content-Length)"
expect_eq "origin requests for the object" 1 "$(origin_count origin "$KA")"
expect_eq "disk_hits" $((hits0 + 1)) "$(admin_stat edge1 disk_hits)"
expect_le "mem_bytes after the hit" 65536 "$(admin_stat edge1 mem_bytes)"

step "a Range request on it: 206 with the right bytes"
get "$edge1_URL$KA" -H "Range: bytes=1000000-1000999"
expect_eq "status" 206 "$STATUS"
expect_eq "Content-Range" "bytes 1000000-1000999/$SIZE" "$(hdr Content-Range)"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
part_ok=$(python3 -c '
import sys
got = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()[1000000:1001000]
print("yes" if got == want else "no (%d bytes)" % len(got))' "$BODY" "$WORK/expected")
expect_eq "206 body is bytes 1000000-1000999" yes "$part_ok"
get "$edge1_URL$KA" -H "Range: bytes=-100"
expect_eq "suffix range status" 206 "$STATUS"
expect_eq "suffix range Content-Range" "bytes $((SIZE - 100))-$((SIZE - 1))/$SIZE" "$(hdr Content-Range)"
expect_eq "suffix range length" 100 "$(wc -c <"$BODY")"
get "$edge1_URL$KA" -I
expect_eq "HEAD status" 200 "$STATUS"
expect_eq "HEAD Content-Length" "$SIZE" "$(hdr Content-Length)"
expect_eq "origin requests for the object" 1 "$(origin_count origin "$KA")"

step "a chunked 3 MB object (no Content-Length) outgrows the limit while streaming"
get_big "$KB" || fail "status $STATUS, $(wc -c <"$BODY") bytes, not the exact body"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
wait_for 20 disk_writes_are edge1 2 || fail "disk_writes did not reach 2"
get_big "$KB" || fail "again: status $STATUS, $(wc -c <"$BODY") bytes"
expect_eq "X-Cache the second time" HIT "$(hdr X-Cache)"
expect_eq "Repr-Digest" "$want_digest" "$(hdr Repr-Digest)"
expect_eq "origin requests for the chunked object" 1 "$(origin_count origin "$KB")"
expect_le "mem_bytes" 65536 "$(admin_stat edge1 mem_bytes)"

step "flip one byte in the body file of the first object: correct bytes, one more origin request"
mapfile -t FILES < <(find "$DIR/objects" -type f ! -name '.tmp.*' -size "${SIZE}c")
expect_eq "body files of $SIZE bytes" 2 "${#FILES[@]}"
# Both bodies are the same bytes; the first object's file was written first
# and so has the lower generation, which is its name (and directory).
F=$(printf '%s\n' "${FILES[@]}" | sort | head -n 1)
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1234567); b = f.read(1)
    f.seek(1234567); f.write(bytes([b[0] ^ 0x01]))' "$F"
c0=$(admin_stat edge1 disk_corrupt)
writes0=$(admin_stat edge1 disk_writes)
get_big "$KA" || fail "status $STATUS, $(wc -c <"$BODY") bytes, not the exact body"
expect_eq "origin requests for the object" 2 "$(origin_count origin "$KA")"
expect_eq "disk_corrupt" $((c0 + 1)) "$(admin_stat edge1 disk_corrupt)"
[ -e "$F" ] && fail "the corrupt file $F is still there"
wait_for 20 disk_writes_are edge1 $((writes0 + 1)) || fail "the refetched body was not stored again"
get_big "$KA" || fail "after the refetch: status $STATUS"
expect_eq "X-Cache after the refetch" HIT "$(hdr X-Cache)"
expect_eq "origin requests for the object" 2 "$(origin_count origin "$KA")"

step "restart on the same DIR: both objects are HITs without asking the origin"
stop_node edge1
start_node edge edge2 -u "$origin_URL" -d "$DIR" --mem-size 8M --max-object-size 256K \
	--disk-size 64M
get "$edge2_URL$KA"
[ "$STATUS" = 200 ] && cmp -s "$BODY" "$WORK/expected" || fail "first object: status $STATUS"
expect_eq "X-Cache of the first object" HIT "$(hdr X-Cache)"
get "$edge2_URL$KB"
[ "$STATUS" = 200 ] && cmp -s "$BODY" "$WORK/expected" || fail "chunked object: status $STATUS"
expect_eq "X-Cache of the chunked object" HIT "$(hdr X-Cache)"
expect_eq "origin requests for the first object" 2 "$(origin_count origin "$KA")"
expect_eq "origin requests for the chunked object" 1 "$(origin_count origin "$KB")"
expect_le "mem_bytes" 65536 "$(admin_stat edge2 mem_bytes)"

exit 0
