#!/bin/sh
# i00007-coalescing: 50 clients ask at once for one cold object that the
# origin takes 500 ms to produce; the edge makes exactly one origin request
# and every client gets the same complete answer.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

T='/hot/object?delay_ms=500&cc=max-age%3D60&size=100000'
N=50

step "$N concurrent GETs of one cold key"
pids=()
for ((i = 1; i <= N; i++)); do
	curl -sS --max-time 20 -o "$WORK/c.$i.body" -D "$WORK/c.$i.hdr" -w '%{http_code}' \
		"$edge1_URL$T" >"$WORK/c.$i.code" 2>"$WORK/c.$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p"
done

step "all $N got 200 with identical, complete bodies"
python3 -c 'import sys; sys.stdout.write("".join(chr(97 + i % 26) for i in range(100000)))' >"$WORK/expected.body"
for ((i = 1; i <= N; i++)); do
	code=$(cat "$WORK/c.$i.code")
	[ "$code" = 200 ] || fail "client $i: expected status 200, saw '$code' ($(cat "$WORK/c.$i.err"))"
	cmp -s "$WORK/expected.body" "$WORK/c.$i.body" ||
		fail "client $i: body differs from the origin's ($(wc -c <"$WORK/c.$i.body") bytes)"
done
echo "   ok: $N x 200 with the same 100000-byte body"

step "the origin saw exactly one request"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

step "the node counted coalesced waiters"
expect_ge "coalesced" 1 "$(admin_stat edge1 coalesced)"

step "afterwards the object is a HIT"
get "$edge1_URL$T"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

exit 0
