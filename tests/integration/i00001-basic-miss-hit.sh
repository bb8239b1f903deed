#!/bin/sh
# i00001-basic-miss-hit: an edge straight in front of the origin caches a GET
# (MISS, then HIT with one origin request), answers HEAD from the cached
# object, refetches an object once its max-age has passed, and serves its
# health and stats endpoints.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

T='/obj?cc=max-age%3D60'

step "first GET of a cacheable object is a MISS fetched from the origin"
get "$edge1_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
expect_match "Cache-Status" '(^|, *)edge1; *fwd=miss' "$(hdr Cache-Status)"
expect_match "Via" '(^|, *)1\.1 edge1( |,|$)' "$(hdr Via)"
expect_match "Age" '^[0-9]+$' "$(hdr Age)"
expect_eq "Cache-Control relayed" "max-age=60" "$(hdr Cache-Control)"
expect_eq "body" "origin body for $T" "$(body)"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"
first_body=$BODY

step "second GET is a HIT from cache, no new origin request"
get "$edge1_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_match "Cache-Status" '(^|, *)edge1; *hit' "$(hdr Cache-Status)"
expect_match "Via" '(^|, *)1\.1 edge1( |,|$)' "$(hdr Via)"
expect_match "Age" '^[0-9]+$' "$(hdr Age)"
expect_le "Age" 60 "$(hdr Age)"
cmp -s "$first_body" "$BODY" || fail "HIT body differs from the MISS body"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

step "HEAD of the cached object is served from cache"
get "$edge1_URL$T" -I
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "Content-Length" "$(wc -c <"$first_body" | tr -d ' ')" "$(hdr Content-Length)"
expect_match "Via" '(^|, *)1\.1 edge1( |,|$)' "$(hdr Via)"
expect_eq "origin requests for $T (GET and HEAD)" 1 "$(origin_count origin "$T")"

S='/short?cc=max-age%3D1'

step "an object with max-age=1 is cached"
next_second
get "$edge1_URL$S"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
get "$edge1_URL$S"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $S" 1 "$(origin_count origin "$S")"

step "after 2 s it is stale and fetched again"
sleep 1.5
next_second
get "$edge1_URL$S"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body" "origin body for $S" "$(body)"
expect_le "Age of the refetched answer" 1 "$(hdr Age)"
expect_eq "origin requests for $S" 2 "$(origin_count origin "$S")"
get "$edge1_URL$S"
expect_eq "X-Cache after refetch" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $S" 2 "$(origin_count origin "$S")"

step "health on the data listener and on the admin listener"
get "$edge1_URL/.well-known/cdn/health"
expect_eq "data health status" 200 "$STATUS"
expect_eq "data health is JSON" ok "$(python3 -c 'import json,sys; json.load(open(sys.argv[1])); print("ok")' "$BODY" 2>&1)"
get "$edge1_ADMIN/healthz"
expect_eq "admin /healthz status" 200 "$STATUS"
expect_eq "/healthz is JSON" ok "$(python3 -c 'import json,sys; json.load(open(sys.argv[1])); print("ok")' "$BODY" 2>&1)"

step "/stats needs the token"
get "$edge1_ADMIN/stats"
expect_eq "/stats without a token" 401 "$STATUS"
get "$edge1_ADMIN/stats" -H "Authorization: Bearer wrong$TOKEN"
expect_eq "/stats with a wrong token" 401 "$STATUS"
get "$edge1_ADMIN/stats" -H "Authorization: Bearer $TOKEN"
expect_eq "/stats with the token" 200 "$STATUS"
for key in requests hits misses passes upstream_requests upstream_errors coalesced mem_objects mem_bytes; do
	expect_match "stats.$key is an integer" '^[0-9]+$' "$(json_get "$key" <"$BODY")"
done

step "the counters agree with what happened"
expect_ge "requests" 7 "$(admin_stat edge1 requests)"
expect_ge "hits" 4 "$(admin_stat edge1 hits)"
expect_ge "misses" 3 "$(admin_stat edge1 misses)"
expect_ge "upstream_requests" 3 "$(admin_stat edge1 upstream_requests)"
expect_eq "upstream_errors" 0 "$(admin_stat edge1 upstream_errors)"
expect_ge "mem_objects" 2 "$(admin_stat edge1 mem_objects)"
expect_ge "mem_bytes" 1 "$(admin_stat edge1 mem_bytes)"

exit 0
