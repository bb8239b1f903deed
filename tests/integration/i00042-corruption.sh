#!/bin/sh
# i00042-corruption: a body file of the disk tier that no longer matches its
# checksum is never served. Objects are fetched and written behind, the node
# is stopped, one byte of one body file under DIR/objects is flipped, and a
# new node on the same DIR answers that object with the correct bytes after
# asking the origin exactly once more, counts it in /stats disk_corrupt, and
# serves every other object as a HIT with no origin request. A truncated
# body file and a deleted one are handled the same way (never served, fetched
# again once).
. "$(dirname "$0")/lib.sh"

DIR=$WORK/cache
start_origin origin
start_node edge edge1 -u "$origin_URL" -d "$DIR" --mem-size 8M

# Every object has a different size, so a body file (which holds exactly the
# body) is matched to its object by its size.
SIZES=(5000 20000 65537 100000 150001 200000 262144 300000)
N=${#SIZES[@]}
# origin_total_of PREFIX: requests the origin recorded for targets under
# PREFIX (the test's objects only: not probes a node may send on its own).
origin_total_of() {
	origin_requests origin | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["target"].startswith(sys.argv[1])))' "$1"
}
key() { echo "/corrupt/o$1?size=${SIZES[$1]}&cc=max-age%3D3600"; }
EXP=$WORK/expected
mkdir -p "$EXP"
for ((i = 0; i < N; i++)); do
	python3 -c '
import sys
n = int(sys.argv[1])
sys.stdout.buffer.write(bytes(97 + i % 26 for i in range(n)))' "${SIZES[$i]}" >"$EXP/$i"
done

# object_of_file FILE: the index of the object whose body FILE holds.
object_of_file() {
	local sz i
	sz=$(stat -c %s "$1")
	for ((i = 0; i < N; i++)); do
		[ "${SIZES[$i]}" = "$sz" ] && { echo "$i"; return 0; }
	done
	echo "none"
}

# get_ok NODE I: requests object I; true if 200 with exactly its bytes.
get_ok() {
	local url=${1}_URL
	get "${!url}$(key "$2")"
	[ "$STATUS" = 200 ] && cmp -s "$BODY" "$EXP/$2"
}

# check_others NODE SKIP...: every object but those listed is 200, exact
# bytes, HIT, with no origin request.
check_others() {
	local node=$1 i s skip bad="" total0
	shift
	total0=$(origin_total_of /corrupt/)
	for ((i = 0; i < N; i++)); do
		skip=0
		for s in "$@"; do [ "$s" = "$i" ] && skip=1; done
		[ "$skip" = 1 ] && continue
		get_ok "$node" "$i" || bad+=" o$i(status $STATUS, $(wc -c <"$BODY") bytes)"
		[ "$(hdr X-Cache)" = HIT ] || bad+=" o$i(X-Cache $(hdr X-Cache))"
	done
	expect_eq "other objects not answered 200 HIT with the exact bytes" "" "$bad"
	expect_eq "origin requests for the other objects" "$total0" "$(origin_total_of /corrupt/)"
}

disk_writes_are() { [ "$(admin_stat "$1" disk_writes)" -ge "$2" ] 2>/dev/null; }

step "fetch $N objects, wait for write-behind, stop the node"
bad=""
for ((i = 0; i < N; i++)); do
	get_ok edge1 "$i" || bad+=" o$i"
done
expect_eq "objects not answered 200 with the exact bytes" "" "$bad"
wait_for 20 disk_writes_are edge1 "$N"
expect_eq "disk_writes" "$N" "$(admin_stat edge1 disk_writes)"
stop_node edge1
mapfile -t FILES < <(find "$DIR/objects" -type f ! -name '.tmp.*' | sort)
expect_eq "body files under DIR/objects" "$N" "${#FILES[@]}"
for f in "${FILES[@]}"; do
	[ "$(object_of_file "$f")" != none ] || fail "body file $f ($(stat -c %s "$f") bytes) matches no object"
done

step "flip one byte in the middle of one body file (the first one found)"
F1=${FILES[0]}
A=$(object_of_file "$F1")
echo "   $F1 holds o$A (${SIZES[$A]} bytes)"
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    off = int(sys.argv[2]) // 2
    f.seek(off); b = f.read(1)
    f.seek(off); f.write(bytes([b[0] ^ 0x01]))' "$F1" "${SIZES[$A]}"
cmp -s "$F1" "$EXP/$A" && die "the flip did not change $F1"

step "restart: the corrupt object comes back correct, fetched from the origin once more"
start_node edge edge2 -u "$origin_URL" -d "$DIR" --mem-size 8M
c0=$(admin_stat edge2 disk_corrupt)
expect_eq "disk_corrupt at start" 0 "$c0"
count0=$(origin_count origin "$(key "$A")")
expect_eq "origin requests for o$A before" 1 "$count0"
get_ok edge2 "$A" || fail "o$A: status $STATUS, $(wc -c <"$BODY") bytes, not its exact body"
expect_eq "origin requests for o$A" 2 "$(origin_count origin "$(key "$A")")"
expect_eq "disk_corrupt" 1 "$(admin_stat edge2 disk_corrupt)"
expect_eq "disk_hits (nothing served from the bad file)" 0 "$(admin_stat edge2 disk_hits)"
grep -q 'failed its SHA-256 check' "$(node_log edge2)" || fail "no log line about the failed SHA-256 check"
[ -e "$F1" ] && fail "the corrupt file $F1 is still there"

step "the refetched object is a HIT again; the other objects are HITs with no origin request"
get_ok edge2 "$A" || fail "o$A again: status $STATUS"
expect_eq "X-Cache of o$A" HIT "$(hdr X-Cache)"
expect_eq "origin requests for o$A" 2 "$(origin_count origin "$(key "$A")")"
check_others edge2 "$A"
expect_eq "disk_corrupt" 1 "$(admin_stat edge2 disk_corrupt)"

step "the refetched object is written to disk again and survives another restart"
wait_for 10 disk_writes_are edge2 1
expect_ge "disk_writes on the second node" 1 "$(admin_stat edge2 disk_writes)"
stop_node edge2
start_node edge edge3 -u "$origin_URL" -d "$DIR" --mem-size 8M
total0=$(origin_total_of /corrupt/)
get_ok edge3 "$A" || fail "o$A after restart: status $STATUS, $(wc -c <"$BODY") bytes"
expect_eq "X-Cache of o$A" HIT "$(hdr X-Cache)"
expect_eq "origin total" "$total0" "$(origin_total_of /corrupt/)"
stop_node edge3

step "a truncated body file is never served: fetched once more, counted as corrupt"
mapfile -t FILES < <(find "$DIR/objects" -type f ! -name '.tmp.*' | sort)
B=none
for f in "${FILES[@]}"; do
	i=$(object_of_file "$f")
	[ "$i" != "$A" ] && [ "$i" != none ] && { F2=$f; B=$i; break; }
done
[ "$B" != none ] || die "no body file of another object found"
echo "   truncating $F2 (o$B, ${SIZES[$B]} bytes) to half"
truncate -s $(( ${SIZES[$B]} / 2 )) "$F2"
start_node edge edge4 -u "$origin_URL" -d "$DIR" --mem-size 8M
countB=$(origin_count origin "$(key "$B")")
get_ok edge4 "$B" || fail "o$B: status $STATUS, $(wc -c <"$BODY") bytes, not its exact body"
expect_eq "origin requests for o$B" $((countB + 1)) "$(origin_count origin "$(key "$B")")"
expect_eq "disk_corrupt" 1 "$(admin_stat edge4 disk_corrupt)"
get_ok edge4 "$B" || fail "o$B again: status $STATUS"
expect_eq "X-Cache of o$B the second time" HIT "$(hdr X-Cache)"
expect_eq "origin requests for o$B" $((countB + 1)) "$(origin_count origin "$(key "$B")")"

step "a deleted body file: fetched once more, the rest still HIT"
stop_node edge4
mapfile -t FILES < <(find "$DIR/objects" -type f ! -name '.tmp.*' | sort)
C=none
for f in "${FILES[@]}"; do
	i=$(object_of_file "$f")
	[ "$i" != "$A" ] && [ "$i" != "$B" ] && [ "$i" != none ] && { F3=$f; C=$i; break; }
done
[ "$C" != none ] || die "no body file of a third object found"
echo "   deleting $F3 (o$C)"
rm -f "$F3"
start_node edge edge5 -u "$origin_URL" -d "$DIR" --mem-size 8M
countC=$(origin_count origin "$(key "$C")")
get_ok edge5 "$C" || fail "o$C: status $STATUS, $(wc -c <"$BODY") bytes, not its exact body"
expect_eq "origin requests for o$C" $((countC + 1)) "$(origin_count origin "$(key "$C")")"
check_others edge5 "$C"
expect_eq "disk_corrupt" 0 "$(admin_stat edge5 disk_corrupt)"

exit 0
