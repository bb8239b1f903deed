#!/bin/sh
# i00014-stale-serving: stale-while-revalidate serves the stale copy at once
# and refreshes it with exactly one background request (RFC 5861 3);
# stale-if-error, as a response or a request directive, serves the stale
# copy when the upstream answers 5xx, closes the connection, times out or
# refuses connections (RFC 5861 4), but only within its window;
# must-revalidate, proxy-revalidate and s-maxage forbid serving stale: 504
# when the upstream cannot confirm (RFC 9111 4.2.4, 5.2.2.2, 5.2.2.8,
# 5.2.2.10).
. "$(dirname "$0")/lib.sh"

start_origin origin
start_origin origin2
start_node edge edge1 -u "$origin_URL" --upstream-timeout 1s
start_node edge edge2 -u "$origin2_URL"

cc() { urlenc "$1"; }
SWR="/stale/swr?cc=$(cc 'max-age=1, stale-while-revalidate=30')"
SWR_ETAG="/stale/swr-etag?cc=$(cc 'max-age=1, stale-while-revalidate=30')&etag=e1"
SWR_SHORT="/stale/swr-short?cc=$(cc 'max-age=1, stale-while-revalidate=1')"
SWR_MR="/stale/swr-must-revalidate?cc=$(cc 'max-age=1, must-revalidate, stale-while-revalidate=30')"
SIE_500="/stale/sie-500?cc=$(cc 'max-age=1, stale-if-error=60')"
SIE_CLOSE="/stale/sie-close?cc=$(cc 'max-age=1, stale-if-error=60')"
SIE_SLOW="/stale/sie-timeout?cc=$(cc 'max-age=1, stale-if-error=60')"
SIE_SHORT="/stale/sie-short?cc=$(cc 'max-age=1, stale-if-error=1')"
REQ_SIE="/stale/request-sie?cc=max-age%3D1"
NO_SIE="/stale/no-sie?cc=max-age%3D1"
MR="/stale/must-revalidate?cc=$(cc 'max-age=1, must-revalidate, stale-if-error=60')"
MR_500="/stale/must-revalidate-500?cc=$(cc 'max-age=1, must-revalidate')"
PR="/stale/proxy-revalidate?cc=$(cc 'max-age=1, proxy-revalidate')"
SMAX="/stale/s-maxage?cc=s-maxage%3D1"
DOWN="/stale/sie-refused?cc=$(cc 'max-age=1, stale-if-error=60')"

next_second

step "fill every object (second S)"
for T in "$SWR" "$SWR_ETAG" "$SWR_SHORT" "$SWR_MR" "$SIE_500" "$SIE_CLOSE" "$SIE_SLOW" "$SIE_SHORT" \
	"$REQ_SIE" "$NO_SIE" "$MR" "$MR_500" "$PR" "$SMAX"; do
	get "$edge1_URL$T"
	expect_eq "status of $T" 200 "$STATUS"
	expect_eq "X-Cache of $T" MISS "$(hdr X-Cache)"
done
get "$edge2_URL$DOWN"
expect_eq "status of $DOWN (edge2)" 200 "$STATUS"

step "the origin changes: slow new version, 5xx, closed connections, no answer in time"
origin_override origin "$SWR" "cc=max-age=60&delay_ms=800&body=refreshed"
origin_override origin "$SWR_SHORT" "cc=max-age=60&body=refreshed"
origin_override origin "$SWR_ETAG" "cc=max-age=60&etag=e1&h=X-Refreshed:yes"
origin_override origin "$SWR_MR" "cc=max-age=60&body=refreshed"
for T in "$SIE_500" "$SIE_SHORT" "$REQ_SIE" "$NO_SIE" "$MR_500"; do
	origin_override origin "$T" "status=500&body=origin error"
done
for T in "$SIE_CLOSE" "$MR" "$PR" "$SMAX"; do
	origin_override origin "$T" "close=1"
done
origin_override origin "$SIE_SLOW" "delay_ms=3000&cc=max-age=60&body=too late"
stop_node origin2

STORED=$(date +%s)  # every object was stored by second STORED
sleep_until $((STORED + 2))

step "stale-while-revalidate (RFC 5861 3): stale copy served at once, several times, while one refresh runs"
for n in 1 2 3 4 5; do
	get "$edge1_URL$SWR"
	expect_eq "status ($n)" 200 "$STATUS"
	expect_eq "X-Cache ($n)" STALE "$(hdr X-Cache)"
	expect_eq "body ($n): the stale copy" "origin body for $SWR" "$(body)"
	expect_le "time ($n, ms; the refresh takes 800)" 700 "$TIME_MS"
	expect_ge "Age ($n) > max-age" 2 "$(hdr Age)"
done
wait_for 5 test "$(origin_count origin "$SWR")" -ge 2 || fail "no background refresh reached the origin"
wait_for 5 eval 'get "$edge1_URL$SWR"; [ "$(hdr X-Cache)" = HIT ]' || fail "no HIT after the refresh, last X-Cache: $(hdr X-Cache)"
expect_eq "origin requests: the fill and exactly one refresh" 2 "$(origin_count origin "$SWR")"
expect_eq "after the refresh: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "after the refresh: body" refreshed "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$SWR")"

step "stale-while-revalidate with an ETag: the background refresh is conditional, its 304 freshens the entry"
get "$edge1_URL$SWR_ETAG"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
wait_for 5 test "$(origin_count origin "$SWR_ETAG")" -ge 2 || fail "no background refresh reached the origin"
expect_eq "If-None-Match of the refresh" '"e1"' "$(origin_req_hdr origin "$SWR_ETAG" If-None-Match)"
wait_for 3 eval 'get "$edge1_URL$SWR_ETAG"; [ "$(hdr X-Cache)" = HIT ]' || fail "no HIT after the refresh, last X-Cache: $(hdr X-Cache)"
expect_eq "after the refresh: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "after the refresh: field from the 304" yes "$(hdr X-Refreshed)"
expect_eq "after the refresh: the stored body" "origin body for $SWR_ETAG" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$SWR_ETAG")"

step "stale-while-revalidate does not override must-revalidate (RFC 9111 5.2.2.2): fetched before answering"
get "$edge1_URL$SWR_MR"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" refreshed "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$SWR_MR")"

step "stale-if-error (RFC 5861 4): origin answers 500 -> the stale copy"
get "$edge1_URL$SIE_500"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $SIE_500" "$(body)"
expect_ge "Age" 2 "$(hdr Age)"
expect_eq "origin requests (it did ask)" 2 "$(origin_count origin "$SIE_500")"
get "$edge1_URL$SIE_500"
expect_eq "again: status" 200 "$STATUS"
expect_eq "again: X-Cache" STALE "$(hdr X-Cache)"
expect_eq "again: body" "origin body for $SIE_500" "$(body)"
expect_eq "again: the origin was asked again (the error was not stored)" 3 "$(origin_count origin "$SIE_500")"

step "stale-if-error: origin closes the connection -> the stale copy"
get "$edge1_URL$SIE_CLOSE"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $SIE_CLOSE" "$(body)"
n=$(origin_count origin "$SIE_CLOSE")
expect_ge "origin requests" 2 "$n"
expect_le "origin requests (libcurl may retry once on a reused connection closed without an answer)" 3 "$n"

step "stale-if-error: origin does not answer within --upstream-timeout 1s -> the stale copy"
get "$edge1_URL$SIE_SLOW"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $SIE_SLOW" "$(body)"
expect_le "time (ms; the origin would take 3000)" 2900 "$TIME_MS"

step "stale-if-error: upstream refuses connections (down) -> the stale copy"
get "$edge2_URL$DOWN"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $DOWN" "$(body)"

step "stale-if-error as a REQUEST directive (RFC 5861 4): origin 500 -> the stale copy"
get "$edge1_URL$REQ_SIE" -H 'Cache-Control: stale-if-error=60'
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" "origin body for $REQ_SIE" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$REQ_SIE")"

step "no stale-if-error anywhere: the origin's 500 is passed on (RFC 9111 4.3.3)"
get "$edge1_URL$NO_SIE"
expect_eq "status" 500 "$STATUS"
expect_eq "body" "origin error" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$NO_SIE")"

step "must-revalidate (RFC 9111 5.2.2.2) beats stale-if-error: connection closed -> 504, never the stale copy"
get "$edge1_URL$MR"
expect_eq "status" 504 "$STATUS"
expect_ne "body" "origin body for $MR" "$(body)"
n=$(origin_count origin "$MR")
expect_ge "origin requests" 2 "$n"
expect_le "origin requests (libcurl may retry once on a reused connection closed without an answer)" 3 "$n"

step "must-revalidate: the origin's 500 is passed on, not the stale copy"
get "$edge1_URL$MR_500"
expect_eq "status" 500 "$STATUS"
expect_eq "body" "origin error" "$(body)"

step "proxy-revalidate (RFC 9111 5.2.2.8): connection closed -> 504"
get "$edge1_URL$PR"
expect_eq "status" 504 "$STATUS"
expect_ne "body" "origin body for $PR" "$(body)"
n=$(origin_count origin "$PR")
expect_ge "origin requests" 2 "$n"
expect_le "origin requests (libcurl may retry once on a reused connection closed without an answer)" 3 "$n"

step "s-maxage implies proxy-revalidate (RFC 9111 5.2.2.10): connection closed -> 504"
get "$edge1_URL$SMAX"
expect_eq "status" 504 "$STATUS"
expect_ne "body" "origin body for $SMAX" "$(body)"

sleep_until $((STORED + 3))

step "stale-while-revalidate=1 and 2 s stale: outside the window, fetched before answering"
get "$edge1_URL$SWR_SHORT"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" STALE "$(hdr X-Cache)"
expect_eq "body" refreshed "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$SWR_SHORT")"

step "stale-if-error=1 and 2 s stale: outside the window, the 500 is passed on"
get "$edge1_URL$SIE_SHORT"
expect_eq "status" 500 "$STATUS"
expect_eq "body" "origin error" "$(body)"
expect_eq "origin requests" 2 "$(origin_count origin "$SIE_SHORT")"

exit 0
