#!/bin/sh
# i00018-targeted-cache-control: CDN-Cache-Control (RFC 9213) takes
# precedence over Cache-Control and Expires for this cache; an invalid one
# is ignored (RFC 9213 2.1, 2.2); the field name is configurable
# (--targeted-cache-control), and "" switches the feature off. Cache-Control
# itself still goes to the client unchanged.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"
start_node edge edge2 -u "$origin_URL" --targeted-cache-control Edge-Cache-Control
start_node edge edge3 -u "$origin_URL" --targeted-cache-control ''

h() { urlenc "$1"; }
WINS="/tcc/wins?cc=no-store&h=$(h 'CDN-Cache-Control: max-age=60')"
NOSTORE="/tcc/no-store?cc=max-age%3D60&h=$(h 'CDN-Cache-Control: no-store')"
SHORT="/tcc/shorter?cc=max-age%3D60&h=$(h 'CDN-Cache-Control: max-age=1')"
LONG="/tcc/longer?cc=max-age%3D1&h=$(h 'CDN-Cache-Control: max-age=60')"
INVALID="/tcc/invalid?cc=max-age%3D60&h=$(h 'CDN-Cache-Control: max-age=1, "oops')"
EXPIRES="/tcc/expires-ignored?h=$(h 'Expires: 0')&h=$(h 'CDN-Cache-Control: max-age=60')"
SWR="/tcc/swr?cc=no-store&h=$(h 'CDN-Cache-Control: max-age=1, stale-while-revalidate=30')"
CUSTOM="/tcc/custom?cc=no-store&h=$(h 'Edge-Cache-Control: max-age=60')&h=$(h 'CDN-Cache-Control: no-store')"
OFF="/tcc/off?cc=no-store&h=$(h 'CDN-Cache-Control: max-age=60')"

next_second

step "CDN-Cache-Control: max-age=60 beats Cache-Control: no-store (RFC 9213 2.2)"
get "$edge1_URL$WINS"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
expect_eq "Cache-Control reaches the client unchanged" "no-store" "$(hdr Cache-Control)"
get "$edge1_URL$WINS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$WINS")"

step "CDN-Cache-Control: no-store beats Cache-Control: max-age=60: not stored"
get "$edge1_URL$NOSTORE"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$NOSTORE"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$NOSTORE")"

step "Expires is ignored when CDN-Cache-Control is used (RFC 9213 2.2): HIT"
get "$edge1_URL$EXPIRES"
get "$edge1_URL$EXPIRES"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$EXPIRES")"

step "fill the objects checked after 2 s"
for T in "$SHORT" "$LONG" "$INVALID" "$SWR"; do
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" MISS "$(hdr X-Cache)"
done

step "a configured field name (--targeted-cache-control Edge-Cache-Control) wins; CDN-Cache-Control is then an ordinary field"
get "$edge2_URL$CUSTOM"
expect_eq "status" 200 "$STATUS"
get "$edge2_URL$CUSTOM"
expect_eq "X-Cache on edge2" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$CUSTOM")"
get "$edge2_URL$WINS"
get "$edge2_URL$WINS"
expect_ne "edge2 ignores CDN-Cache-Control: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests for WINS" 3 "$(origin_count origin "$WINS")"

step "--targeted-cache-control '' switches targeted fields off: Cache-Control: no-store rules"
get "$edge3_URL$OFF"
expect_eq "status" 200 "$STATUS"
get "$edge3_URL$OFF"
expect_ne "X-Cache on edge3" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$OFF")"

STORED=$(date +%s)  # every object was stored by second STORED
sleep_until $((STORED + 2))

step "CDN-Cache-Control: max-age=1 beats Cache-Control: max-age=60: stale after 2 s, fetched again"
get "$edge1_URL$SHORT"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$SHORT")"

step "CDN-Cache-Control: max-age=60 beats Cache-Control: max-age=1: still a HIT after 2 s"
get "$edge1_URL$LONG"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "Cache-Control reaches the client unchanged" "max-age=1" "$(hdr Cache-Control)"
expect_eq "origin requests" 1 "$(origin_count origin "$LONG")"

step "an invalid CDN-Cache-Control is ignored (RFC 9213 2.1): Cache-Control max-age=60 rules, still a HIT"
get "$edge1_URL$INVALID"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$INVALID")"

step "stale-while-revalidate inside CDN-Cache-Control (RFC 9213 2.2, RFC 5861 3): served STALE"
get "$edge1_URL$SWR"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
wait_for 5 test "$(origin_count origin "$SWR")" -ge 2 || fail "no background refresh reached the origin"
expect_eq "origin requests" 2 "$(origin_count origin "$SWR")"

exit 0
