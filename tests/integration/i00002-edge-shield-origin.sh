#!/bin/sh
# i00002-edge-shield-origin: two tiers. An edge miss goes to the shield, the
# shield's miss goes to the origin; a second edge sharing the shield gets the
# object from the shield's cache, so the origin sees one request per key.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node shield shield1 -u "$origin_URL"
start_node edge edge1 -u "$shield1_URL"
start_node edge edge2 -u "$shield1_URL"

T='/tiered/a?cc=max-age%3D60'

step "first GET through edge1 misses at the edge and at the shield"
get "$edge1_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
expect_eq "body" "origin body for $T" "$(body)"
expect_match "Via names the shield" '1\.1 shield1' "$(hdr Via)"
expect_match "Via names the edge" '1\.1 edge1' "$(hdr Via)"
expect_match "Cache-Status has the shield's miss" 'shield1; *fwd=miss' "$(hdr Cache-Status)"
expect_match "Cache-Status has the edge's miss" 'edge1; *fwd=miss' "$(hdr Cache-Status)"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"
first_body=$BODY

step "second GET through edge1 is an edge HIT"
get "$edge1_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_match "Cache-Status" 'edge1; *hit' "$(hdr Cache-Status)"
cmp -s "$first_body" "$BODY" || fail "edge HIT body differs"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

step "the same object through edge2 is an edge MISS and a shield HIT"
get "$edge2_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache at edge2" MISS "$(hdr X-Cache)"
expect_match "Cache-Status has the shield's hit" 'shield1; *hit' "$(hdr Cache-Status)"
expect_match "Via names edge2" '1\.1 edge2' "$(hdr Via)"
cmp -s "$first_body" "$BODY" || fail "body through edge2 differs"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

step "another key through edge2: one origin request, then HITs at both tiers"
U='/tiered/b?cc=max-age%3D60'
get "$edge2_URL$U"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
get "$edge1_URL$U"
expect_eq "X-Cache at edge1" MISS "$(hdr X-Cache)"
expect_match "Cache-Status has the shield's hit" 'shield1; *hit' "$(hdr Cache-Status)"
get "$edge2_URL$U"
expect_eq "X-Cache at edge2 again" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $U" 1 "$(origin_count origin "$U")"
expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"

step "node counters"
expect_ge "shield hits" 2 "$(admin_stat shield1 hits)"
expect_ge "shield misses" 2 "$(admin_stat shield1 misses)"
expect_ge "edge1 hits" 1 "$(admin_stat edge1 hits)"
expect_ge "edge2 hits" 1 "$(admin_stat edge2 hits)"

exit 0
