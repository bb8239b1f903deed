#!/bin/sh
# i00011-revalidation-304: a stale entry is revalidated with its stored
# validators (If-None-Match from ETag, If-Modified-Since from Last-Modified,
# RFC 9111 4.3.1); a 304 freshens it, updates its stored fields but not
# Content-Length (RFC 9111 3.2, 4.3.4) and it is served as REVALIDATED; a new
# 200 replaces it (RFC 9111 4.3.3); a no-cache answer is stored and
# revalidated on every use (RFC 9111 5.2.2.4); without validators the object
# is simply fetched again.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

LM=$(http_date -3600)
A="/rv/etag?cc=max-age%3D2&etag=v1"
B="/rv/last-modified?cc=max-age%3D2&lm=$(urlenc "$LM")"
C="/rv/update-fields?cc=max-age%3D2&etag=u1&h=X-Extra%3Aoriginal&size=5000"
D="/rv/new-200?cc=max-age%3D2&etag=n1"
E="/rv/no-cache?cc=no-cache&etag=nc1"
F="/rv/no-validators?cc=max-age%3D2"
G="/rv/both-validators?cc=max-age%3D2&etag=b1&lm=$(urlenc "$LM")"
HS="/rv/head-stale?cc=max-age%3D2&etag=h1&size=3000"
HM="/rv/head-miss?cc=max-age%3D60&size=3000"

next_second

step "fill: every object is a MISS, then a HIT"
for T in "$A" "$B" "$C" "$D" "$F" "$G"; do
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" MISS "$(hdr X-Cache)"
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" HIT "$(hdr X-Cache)"
	expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"
done
get "$edge1_URL$C"
c_body=$BODY
expect_eq "X-Extra before the update" original "$(hdr X-Extra)"

get "$edge1_URL$HS"
expect_eq "fill $HS: X-Cache" MISS "$(hdr X-Cache)"

step "HEAD on a miss (RFC 9110 9.3.2): the node fills with a GET; the stored body serves the next GET"
get "$edge1_URL$HM" -I
expect_eq "status" 200 "$STATUS"
expect_eq "Content-Length" 3000 "$(hdr Content-Length)"
expect_eq "the method the origin saw" GET "$(origin_last origin GET "$HM" | json_get method)"
get "$edge1_URL$HM"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body length" 3000 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests" 1 "$(origin_count origin "$HM")"

step "no-cache answer (RFC 9111 5.2.2.4): stored, but every use is revalidated"
get "$edge1_URL$E"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
e_body=$BODY
expect_eq "origin requests" 1 "$(origin_count origin "$E")"
for n in 2 3; do
	get "$edge1_URL$E"
	expect_eq "status" 200 "$STATUS"
	expect_eq "X-Cache (use $n)" REVALIDATED "$(hdr X-Cache)"
	cmp -s "$e_body" "$BODY" || fail "use $n: body differs from the stored one"
	expect_eq "origin requests" "$n" "$(origin_count origin "$E")"
	expect_eq "If-None-Match the origin saw (use $n)" '"nc1"' "$(origin_req_hdr origin "$E" If-None-Match)"
done

step "origin changes: C's 304 will carry new fields, D answers a new 200"
origin_override origin "$C" "cc=max-age=60&etag=u1&h=X-Extra:updated&size=5000"
origin_override origin "$D" "cc=max-age=60&etag=n2&body=second version"
origin_override origin "$HS" "cc=max-age=60&etag=h1&size=3000"

STORED=$(date +%s)  # every max-age=2 object was stored by second STORED
sleep_until $((STORED + 2))

step "stale with ETag: revalidated with If-None-Match (RFC 9111 4.3.1), 304 -> REVALIDATED (4.3.4)"
get "$edge1_URL$A"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "body" "origin body for $A" "$(body)"
expect_eq "ETag" '"v1"' "$(hdr ETag)"
expect_eq "origin requests" 2 "$(origin_count origin "$A")"
expect_eq "If-None-Match the origin saw" '"v1"' "$(origin_req_hdr origin "$A" If-None-Match)"
RA=$(date +%s)  # A's 304 (max-age=2) was received by second RA
expect_eq "the first request was unconditional" "(none)" "$(origin_req_hdr origin "$A" If-None-Match 1)"
expect_le "Age after revalidation" 2 "$(hdr Age)"

step "the revalidated entry is fresh again: HIT without an origin request"
get "$edge1_URL$A"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$A")"

step "stale with Last-Modified: revalidated with If-Modified-Since (RFC 9111 4.3.1)"
get "$edge1_URL$B"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "body" "origin body for $B" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$B")"
expect_eq "If-Modified-Since the origin saw" "$LM" "$(origin_req_hdr origin "$B" If-Modified-Since)"

step "both validators stored: both sent (RFC 9111 4.3.1)"
get "$edge1_URL$G"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "If-None-Match the origin saw" '"b1"' "$(origin_req_hdr origin "$G" If-None-Match)"
expect_eq "If-Modified-Since the origin saw" "$LM" "$(origin_req_hdr origin "$G" If-Modified-Since)"
expect_eq "origin requests" 2 "$(origin_count origin "$G")"

step "304 updates stored fields (RFC 9111 3.2, 4.3.4), not the body or Content-Length"
get "$edge1_URL$C"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "X-Extra from the 304" updated "$(hdr X-Extra)"
expect_eq "Cache-Control from the 304" "max-age=60" "$(hdr Cache-Control)"
expect_eq "Content-Length" 5000 "$(hdr Content-Length)"
cmp -s "$c_body" "$BODY" || fail "body after the 304 differs from the stored one ($(wc -c <"$BODY") bytes)"
ttl=$(hdr Cache-Status | sed -n 's/.*ttl=\(-\{0,1\}[0-9]*\).*/\1/p')
expect_ge "Cache-Status ttl (the new max-age=60)" 58 "$ttl"
expect_eq "origin requests" 2 "$(origin_count origin "$C")"
expect_eq "If-None-Match the origin saw" '"u1"' "$(origin_req_hdr origin "$C" If-None-Match)"

step "the updated fields are stored: a HIT carries them"
get "$edge1_URL$C"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "X-Extra" updated "$(hdr X-Extra)"
expect_eq "Content-Length" 5000 "$(hdr Content-Length)"
cmp -s "$c_body" "$BODY" || fail "HIT body differs"

step "a new 200 to the conditional request replaces the entry (RFC 9111 4.3.3)"
get "$edge1_URL$D"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body" "second version" "$(body)"
expect_eq "ETag" '"n2"' "$(hdr ETag)"
expect_eq "If-None-Match the origin saw" '"n1"' "$(origin_req_hdr origin "$D" If-None-Match)"
get "$edge1_URL$D"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body of the HIT" "second version" "$(body)"
expect_eq "ETag of the HIT" '"n2"' "$(hdr ETag)"
expect_eq "origin requests" 2 "$(origin_count origin "$D")"

step "HEAD on a stale entry: revalidated (304 with max-age=60), the stored body survives for the next GET"
get "$edge1_URL$HS" -I
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "Content-Length" 3000 "$(hdr Content-Length)"
expect_eq "If-None-Match the origin saw" '"h1"' "$(origin_req_hdr origin "$HS" If-None-Match)"
get "$edge1_URL$HS"
expect_eq "GET: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "GET: body length" 3000 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests" 2 "$(origin_count origin "$HS")"

step "stale without validators: fetched again unconditionally"
get "$edge1_URL$F"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$F")"
expect_eq "If-None-Match the origin saw" "(none)" "$(origin_req_hdr origin "$F" If-None-Match)"
expect_eq "If-Modified-Since the origin saw" "(none)" "$(origin_req_hdr origin "$F" If-Modified-Since)"

sleep_until $((RA + 2))

step "2 s after A's revalidation: C (max-age=60 from its 304) is a HIT; A (max-age=2) revalidates again"
get "$edge1_URL$C"
expect_eq "X-Cache of C" HIT "$(hdr X-Cache)"
expect_eq "origin requests for C" 2 "$(origin_count origin "$C")"
get "$edge1_URL$A"
expect_eq "X-Cache of A" REVALIDATED "$(hdr X-Cache)"
expect_eq "origin requests for A" 3 "$(origin_count origin "$A")"

exit 0
