#!/bin/sh
# i00032-purge-soft-stale-if-error: a soft purge marks objects stale instead
# of removing them. With the origin up they are revalidated (a 304 keeps the
# body, no full refetch); with the origin down they are still served under
# stale-if-error, where a hard purge leaves nothing to serve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

start_origin origin
start_node shield shield1 -u "$origin_URL"
start_node edge edge1 -u "$shield1_URL"

CC='cc=max-age%3D300%2C%20stale-if-error%3D600'
R="/soft/reval?$CC&etag=v1"
T="/soft/down-a?$CC"
H="/soft/down-b?$CC"

step "cache three objects at both tiers"
for x in "$R" "$T" "$H"; do
	get "$edge1_URL$x"
	expect_eq "first GET $x" 200 "$STATUS"
	wait_for 5 is_hit "$edge1_URL$x" || fail "edge1 does not cache $x"
done

step "soft purge of R with the origin up: revalidated, not refetched"
admin_post shield1 /purge "{\"urls\":[\"$R\"],\"soft\":true,\"wait\":true}"
expect_eq "purge status" 200 "$STATUS"
expect_eq "marked at the shield" 1 "$(body_get purged)"
expect_eq "soft in the answer" true "$(body_get soft)"
expect_eq "edge1 acknowledged" true "$(body_get receipts.complete)"
get "$edge1_URL$R"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache after a soft purge" HIT "$(hdr X-Cache)"
expect_eq "body kept" "origin body for $R" "$(body)"
expect_eq "the origin saw a conditional request" '"v1"' "$(origin_req_hdr origin "$R" if-none-match)"
wait_for 5 is_hit "$edge1_URL$R" || fail "R is not a hit again after its revalidation"

step "soft purge of T, hard purge of H, then the origin goes down"
admin_post shield1 /purge "{\"urls\":[\"$T\"],\"soft\":true,\"wait\":true}"
expect_eq "soft purge status" 200 "$STATUS"
expect_eq "edge1 acknowledged the soft purge" true "$(body_get receipts.complete)"
admin_post shield1 /purge "{\"urls\":[\"$H\"],\"wait\":true}"
expect_eq "hard purge status" 200 "$STATUS"
expect_eq "edge1 acknowledged the hard purge" true "$(body_get receipts.complete)"
expect_eq "origin requests for T so far" 1 "$(origin_count origin "$T")"
stop_node origin

step "the soft-purged object is still served (stale-if-error)"
get "$edge1_URL$T"
expect_eq "status of T" 200 "$STATUS"
expect_eq "body of T" "origin body for $T" "$(body)"
# edge1's copy is stale, so it asks shield1; shield1's copy is stale too, the
# origin is down, so shield1 answers with its copy under stale-if-error.
expect_match "edge1 treated its copy as stale" 'fwd=stale' "$(cache_status_of edge1)"
expect_match "shield1 served its stale copy" 'fwd=stale' "$(cache_status_of shield1)"

step "the hard-purged object is gone"
get "$edge1_URL$H"
expect_match "status of H" '^50[234]$' "$STATUS"

exit 0
