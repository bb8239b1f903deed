#!/bin/sh
# i00015-request-directives: the client's Cache-Control (RFC 9111 5.2.1):
# no-cache, max-age (0 and n), min-fresh, max-stale (with and without a
# value, and never past must-revalidate), no-store, only-if-cached (504 on a
# miss or a stale entry), and Pragma: no-cache only when there is no
# Cache-Control (RFC 9111 5.4). Directive names are case-insensitive.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

NC="/rq/no-cache?cc=max-age%3D60&etag=a1"
NCNV="/rq/no-cache-no-validator?cc=max-age%3D60"
PR="/rq/pragma?cc=max-age%3D60&etag=p1"
MA0="/rq/max-age-0?cc=max-age%3D60&etag=m0"
MA1="/rq/max-age-1?cc=max-age%3D60"
MF="/rq/min-fresh?cc=max-age%3D60"
MS="/rq/max-stale?cc=max-age%3D1"
MS0="/rq/max-stale-0?cc=max-age%3D1"
MSMR="/rq/max-stale-must-revalidate?cc=$(urlenc 'max-age=1, must-revalidate')"
NS="/rq/no-store?cc=max-age%3D60"
OIC_HIT="/rq/only-if-cached-hit?cc=max-age%3D60"
OIC_MISS="/rq/only-if-cached-miss?cc=max-age%3D60"
OIC_STALE="/rq/only-if-cached-stale?cc=max-age%3D1"

next_second

step "fill (second S)"
for T in "$NC" "$NCNV" "$PR" "$MA0" "$MA1" "$MF" "$MS" "$MS0" "$MSMR" "$OIC_HIT" "$OIC_STALE"; do
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" MISS "$(hdr X-Cache)"
done

step "request no-cache (RFC 9111 5.2.1.4): a fresh entry is revalidated with its validator"
get "$edge1_URL$NC" -H 'Cache-Control: no-cache'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "body" "origin body for $NC" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$NC")"
expect_eq "If-None-Match the origin saw" '"a1"' "$(origin_req_hdr origin "$NC" If-None-Match)"

step "directive names are case-insensitive (RFC 9111 5.2): NO-CACHE"
get "$edge1_URL$NC" -H 'Cache-Control: NO-CACHE'
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "origin requests" 3 "$(origin_count origin "$NC")"

step "request no-cache on an entry without validators: fetched again in full"
get "$edge1_URL$NCNV" -H 'Cache-Control: no-cache'
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$NCNV")"
expect_eq "If-None-Match the origin saw" "(none)" "$(origin_req_hdr origin "$NCNV" If-None-Match)"
get "$edge1_URL$NCNV"
expect_eq "then a plain GET: X-Cache" HIT "$(hdr X-Cache)"

step "Pragma: no-cache without Cache-Control (RFC 9111 5.4): revalidated"
get "$edge1_URL$PR" -H 'Pragma: no-cache'
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$PR")"
expect_eq "If-None-Match the origin saw" '"p1"' "$(origin_req_hdr origin "$PR" If-None-Match)"

step "Pragma: no-cache with a Cache-Control is ignored (RFC 9111 5.4): HIT"
get "$edge1_URL$PR" -H 'Pragma: no-cache' -H 'Cache-Control: max-age=3600'
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$PR")"

step "request min-fresh (RFC 9111 5.2.1.3): more than the remaining lifetime -> fetched; less -> HIT"
get "$edge1_URL$MF" -H 'Cache-Control: min-fresh=120'
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MF")"
get "$edge1_URL$MF" -H 'Cache-Control: min-fresh=10'
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MF")"

step "request no-store (RFC 9111 5.2.1.5) on a miss: answered, not stored"
get "$edge1_URL$NS" -H 'Cache-Control: no-store'
expect_eq "status" 200 "$STATUS"
expect_eq "body" "origin body for $NS" "$(body)"
get "$edge1_URL$NS"
expect_eq "next plain GET: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$NS")"
get "$edge1_URL$NS"
expect_eq "then: X-Cache" HIT "$(hdr X-Cache)"

step "only-if-cached (RFC 9111 5.2.1.7): a stored fresh entry is served"
get "$edge1_URL$OIC_HIT" -H 'Cache-Control: only-if-cached'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$OIC_HIT")"

step "only-if-cached on a miss: 504, the origin is not asked"
get "$edge1_URL$OIC_MISS" -H 'Cache-Control: only-if-cached'
expect_eq "status" 504 "$STATUS"
expect_eq "origin requests" 0 "$(origin_count origin "$OIC_MISS")"
get "$edge1_URL$OIC_MISS"
expect_eq "a normal request afterwards: status" 200 "$STATUS"
expect_eq "a normal request afterwards: X-Cache" MISS "$(hdr X-Cache)"

STORED=$(date +%s)  # every object was stored by second STORED
sleep_until $((STORED + 2))

step "request max-age=0 (RFC 9111 5.2.1.1) on an entry at least 2 s old: revalidated"
get "$edge1_URL$MA0" -H 'Cache-Control: max-age=0'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MA0")"
expect_eq "If-None-Match the origin saw" '"m0"' "$(origin_req_hdr origin "$MA0" If-None-Match)"

step "request max-age=600 on an entry of age 2: HIT; max-age=1: fetched again"
get "$edge1_URL$MA1" -H 'Cache-Control: max-age=600'
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$MA1")"
get "$edge1_URL$MA1" -H 'Cache-Control: max-age=1'
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MA1")"
expect_le "Age of the new copy" 2 "$(hdr Age)"

step "only-if-cached on a stale entry: 504, the origin is not asked"
get "$edge1_URL$OIC_STALE" -H 'Cache-Control: only-if-cached'
expect_eq "status" 504 "$STATUS"
expect_eq "origin requests" 1 "$(origin_count origin "$OIC_STALE")"

step "only-if-cached with max-stale=60 on a stale entry: the stale copy"
get "$edge1_URL$OIC_STALE" -H 'Cache-Control: only-if-cached, max-stale=60'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$OIC_STALE")"

step "request max-stale=60 (RFC 9111 5.2.1.2): the stale copy, no origin request"
get "$edge1_URL$MS" -H 'Cache-Control: max-stale=60'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $MS" "$(body)"
expect_ge "Age" 2 "$(hdr Age)"
expect_eq "origin requests" 1 "$(origin_count origin "$MS")"

step "request max-stale without a value: any staleness is accepted"
get "$edge1_URL$MS" -H 'Cache-Control: max-stale'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$MS")"

step "request max-stale=0 on an entry at least 1 s stale: fetched again"
get "$edge1_URL$MS0" -H 'Cache-Control: max-stale=0'
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" STALE "$(hdr X-Cache)"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MS0")"

step "max-stale never overrides must-revalidate (RFC 9111 5.2.2.2): fetched again"
get "$edge1_URL$MSMR" -H 'Cache-Control: max-stale=60'
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$MSMR")"

exit 0
