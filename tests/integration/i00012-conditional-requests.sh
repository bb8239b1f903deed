#!/bin/sh
# i00012-conditional-requests: a client's If-None-Match (weak comparison,
# lists, "*") and If-Modified-Since (all three HTTP date formats) are
# answered 304 from a stored 200 without asking the origin (RFC 9110 13.1.1,
# 13.1.3, 13.2.2, 15.4.5; RFC 9111 4.3.2); If-None-Match wins over
# If-Modified-Since; the client's conditionals are not forwarded on a cache
# fill, and a conditional request on a stale entry is revalidated with the
# stored validators and still answered 304.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

LM='Sun, 06 Nov 1994 08:49:37 GMT'
LM_850='Sunday, 06-Nov-94 08:49:37 GMT'
LM_ASC='Sun Nov  6 08:49:37 1994'
LM_LATER='Mon, 07 Nov 1994 08:49:37 GMT'
LM_EARLIER='Sat, 05 Nov 1994 08:49:37 GMT'

A="/cond/a?cc=max-age%3D60&etag=abc&lm=$(urlenc "$LM")"
W="/cond/weak?cc=max-age%3D60&etag=$(urlenc 'W/"w1"')"
N="/cond/no-validators?cc=max-age%3D60"
M="/cond/miss?cc=max-age%3D60&etag=m1"
S="/cond/stale?cc=max-age%3D1&etag=s1"

# cond_get WHAT EXPECTED-STATUS [CURL-ARGS...]: a request for A, checked.
cond_get() {
	local what=$1 want=$2
	shift 2
	get "$edge1_URL$A" "$@"
	expect_eq "$what: status" "$want" "$STATUS"
	if [ "$want" = 304 ]; then
		expect_eq "$what: no body" 0 "$(wc -c <"$BODY" | tr -d ' ')"
		expect_eq "$what: ETag on the 304 (RFC 9110 15.4.5)" '"abc"' "$(hdr ETag)"
		expect_eq "$what: Cache-Control on the 304 (RFC 9110 15.4.5)" "max-age=60" "$(hdr Cache-Control)"
	else
		expect_eq "$what: full body" "origin body for $A" "$(body)"
	fi
}

step "fill A (ETag \"abc\", Last-Modified $LM)"
get "$edge1_URL$A"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"

step "If-None-Match (RFC 9110 13.1.2) answered from cache"
cond_get 'INM "abc"' 304 -H 'If-None-Match: "abc"'
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
cond_get 'INM W/"abc" (weak comparison)' 304 -H 'If-None-Match: W/"abc"'
cond_get 'INM list "x", "abc"' 304 -H 'If-None-Match: "x", "abc"'
cond_get 'INM *' 304 -H 'If-None-Match: *'
cond_get 'INM "zzz" (no match)' 200 -H 'If-None-Match: "zzz"'
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
cond_get 'INM "ABC" (tags are case-sensitive)' 200 -H 'If-None-Match: "ABC"'

step "If-Modified-Since (RFC 9110 13.1.3), all three date formats (RFC 9110 5.6.7)"
cond_get "IMS = Last-Modified (IMF-fixdate)" 304 -H "If-Modified-Since: $LM"
cond_get "IMS = Last-Modified (RFC 850)" 304 -H "If-Modified-Since: $LM_850"
cond_get "IMS = Last-Modified (asctime)" 304 -H "If-Modified-Since: $LM_ASC"
cond_get "IMS later than Last-Modified" 304 -H "If-Modified-Since: $LM_LATER"
cond_get "IMS earlier than Last-Modified" 200 -H "If-Modified-Since: $LM_EARLIER"
cond_get "IMS not a date (ignored)" 200 -H "If-Modified-Since: yesterday"

step "If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)"
cond_get 'INM "zzz" + matching IMS' 200 -H 'If-None-Match: "zzz"' -H "If-Modified-Since: $LM"
cond_get 'INM "abc" + old IMS' 304 -H 'If-None-Match: "abc"' -H "If-Modified-Since: $LM_EARLIER"

step "HEAD with If-None-Match: 304 (RFC 9110 13.1.2)"
get "$edge1_URL$A" -I -H 'If-None-Match: "abc"'
expect_eq "status" 304 "$STATUS"

step "the origin saw only the fill"
expect_eq "origin requests for A" 1 "$(origin_count origin "$A")"

step "weak stored ETag W/\"w1\" matches If-None-Match \"w1\" (weak comparison, RFC 9110 8.8.3.2)"
get "$edge1_URL$W"
expect_eq "fill status" 200 "$STATUS"
get "$edge1_URL$W" -H 'If-None-Match: "w1"'
expect_eq "status" 304 "$STATUS"
expect_eq "ETag" 'W/"w1"' "$(hdr ETag)"
get "$edge1_URL$W" -H 'If-None-Match: W/"w1"'
expect_eq "status" 304 "$STATUS"
expect_eq "origin requests" 1 "$(origin_count origin "$W")"

step "a stored answer without validators: If-None-Match \"x\" gets the full 200, If-None-Match * a 304"
get "$edge1_URL$N"
expect_eq "fill status" 200 "$STATUS"
get "$edge1_URL$N" -H 'If-None-Match: "x"'
expect_eq "status" 200 "$STATUS"
expect_eq "body" "origin body for $N" "$(body)"
get "$edge1_URL$N" -H 'If-None-Match: *'
expect_eq "status (a current representation exists)" 304 "$STATUS"
expect_eq "origin requests" 1 "$(origin_count origin "$N")"

step "conditional request on a miss: the fill is unconditional, the client still gets 304 (RFC 9111 4.3.2)"
get "$edge1_URL$M" -H 'If-None-Match: "m1"'
expect_eq "status" 304 "$STATUS"
expect_eq "origin requests" 1 "$(origin_count origin "$M")"
expect_eq "If-None-Match the origin saw" "(none)" "$(origin_req_hdr origin "$M" If-None-Match)"
get "$edge1_URL$M"
expect_eq "then a plain GET: status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body" "origin body for $M" "$(body)"
expect_eq "origin requests" 1 "$(origin_count origin "$M")"

step "conditional request on a miss that does not match: full 200"
M2="/cond/miss2?cc=max-age%3D60&etag=m2"
get "$edge1_URL$M2" -H 'If-None-Match: "other"'
expect_eq "status" 200 "$STATUS"
expect_eq "body" "origin body for $M2" "$(body)"
expect_eq "If-None-Match the origin saw" "(none)" "$(origin_req_hdr origin "$M2" If-None-Match)"

step "conditional request on a stale entry: revalidated with the STORED validator, then 304 to the client"
get "$edge1_URL$S"
expect_eq "fill status" 200 "$STATUS"
T0=$(date +%s)  # stored (max-age=1) by second T0: stale at T0 + 2
sleep_until $((T0 + 2))
get "$edge1_URL$S" -H 'If-None-Match: "s1", "client-only"'
T1=$(date +%s)  # revalidated (max-age=1 again) by second T1
expect_eq "status" 304 "$STATUS"
expect_eq "origin requests" 2 "$(origin_count origin "$S")"
expect_eq "If-None-Match the origin saw" '"s1"' "$(origin_req_hdr origin "$S" If-None-Match)"

step "stale again; a non-matching conditional gets the revalidated 200"
sleep_until $((T1 + 2))
get "$edge1_URL$S" -H 'If-None-Match: "nope"'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" REVALIDATED "$(hdr X-Cache)"
expect_eq "body" "origin body for $S" "$(body)"
expect_eq "origin requests" 3 "$(origin_count origin "$S")"
expect_eq "If-None-Match the origin saw" '"s1"' "$(origin_req_hdr origin "$S" If-None-Match)"

step "conditional request on a stored no-cache answer: revalidated upstream first, then 304 (RFC 9111 4.3.2, 5.2.2.4)"
NC="/cond/no-cache?cc=no-cache&etag=nc"
get "$edge1_URL$NC"
expect_eq "fill status" 200 "$STATUS"
get "$edge1_URL$NC" -H 'If-None-Match: "nc"'
expect_eq "status" 304 "$STATUS"
expect_eq "origin requests" 2 "$(origin_count origin "$NC")"
expect_eq "If-None-Match the origin saw" '"nc"' "$(origin_req_hdr origin "$NC" If-None-Match)"

step "request no-cache with a matching If-None-Match on a fresh entry: revalidated upstream, then 304"
get "$edge1_URL$A" -H 'Cache-Control: no-cache' -H 'If-None-Match: "abc"'
expect_eq "status" 304 "$STATUS"
expect_eq "origin requests for A" 2 "$(origin_count origin "$A")"
expect_eq "If-None-Match the origin saw" '"abc"' "$(origin_req_hdr origin "$A" If-None-Match)"

exit 0
