#!/bin/sh
# i00016-authorization: a request with Authorization is stored in, or served
# from, a shared cache only when the answer has public, s-maxage or
# must-revalidate (RFC 9111 3.5); otherwise it goes to the origin every time,
# even when an unauthenticated copy is stored, and even when it arrives while
# another client's fetch of the same key is in flight.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

AUTH='Authorization: Bearer secret-token'

PLAIN="/auth/plain?cc=max-age%3D60"
PUB="/auth/public?cc=$(urlenc 'public, max-age=60')"
SMAX="/auth/s-maxage?cc=s-maxage%3D60"
MR="/auth/must-revalidate?cc=$(urlenc 'max-age=60, must-revalidate')"
PRIV="/auth/private?cc=$(urlenc 'private, max-age=60')"

step "Authorization + max-age only: passed to the origin with the credentials, not stored (RFC 9111 3.5)"
get "$edge1_URL$PLAIN" -H "$AUTH"
expect_eq "status" 200 "$STATUS"
expect_eq "the origin saw Authorization" "Bearer secret-token" "$(origin_req_hdr origin "$PLAIN" Authorization)"
get "$edge1_URL$PLAIN" -H "$AUTH"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$PLAIN")"

step "without Authorization the same answer is stored"
get "$edge1_URL$PLAIN"
expect_eq "status" 200 "$STATUS"
expect_eq "origin requests" 3 "$(origin_count origin "$PLAIN")"
get "$edge1_URL$PLAIN"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 3 "$(origin_count origin "$PLAIN")"

step "the stored copy (no public/s-maxage/must-revalidate) is not served to a request with Authorization (RFC 9111 3.5)"
get "$edge1_URL$PLAIN" -H "$AUTH"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 4 "$(origin_count origin "$PLAIN")"
expect_eq "the origin saw Authorization" "Bearer secret-token" "$(origin_req_hdr origin "$PLAIN" Authorization)"
get "$edge1_URL$PLAIN"
expect_eq "the unauthenticated copy is still a HIT" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 4 "$(origin_count origin "$PLAIN")"

for pair in "public:$PUB" "s-maxage:$SMAX" "must-revalidate:$MR"; do
	what=${pair%%:*}
	T=${pair#*:}
	step "Authorization + $what (RFC 9111 3.5): stored, served to requests with and without Authorization"
	get "$edge1_URL$T" -H "$AUTH"
	expect_eq "status" 200 "$STATUS"
	expect_eq "X-Cache" MISS "$(hdr X-Cache)"
	get "$edge1_URL$T" -H "$AUTH"
	expect_eq "X-Cache (with Authorization)" HIT "$(hdr X-Cache)"
	get "$edge1_URL$T" -H 'Authorization: Bearer another-token'
	expect_eq "X-Cache (other credentials)" HIT "$(hdr X-Cache)"
	get "$edge1_URL$T"
	expect_eq "X-Cache (without Authorization)" HIT "$(hdr X-Cache)"
	expect_eq "origin requests" 1 "$(origin_count origin "$T")"
done

step "Authorization + private: never stored (RFC 9111 5.2.2.7)"
get "$edge1_URL$PRIV" -H "$AUTH"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$PRIV" -H "$AUTH"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
get "$edge1_URL$PRIV"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 3 "$(origin_count origin "$PRIV")"

step "a request with Authorization arriving during an unauthenticated fill is not given the shared answer"
CO="/auth/coalesce?cc=max-age%3D60&delay_ms=600&echo=Authorization"
curl -sS --max-time 10 -o "$WORK/anon.body" -w '%{http_code}' "$edge1_URL$CO" >"$WORK/anon.code" 2>&1 &
p1=$!
sleep 0.2
curl -sS --max-time 10 -H "$AUTH" -o "$WORK/auth.body" -w '%{http_code}' "$edge1_URL$CO" >"$WORK/auth.code" 2>&1 &
p2=$!
wait "$p1" "$p2"
expect_eq "anonymous client: status" 200 "$(cat "$WORK/anon.code")"
expect_eq "anonymous client: body" "Authorization: -" "$(sed -n 2p "$WORK/anon.body")"
expect_eq "client with Authorization: status" 200 "$(cat "$WORK/auth.code")"
expect_eq "client with Authorization: its own answer" "Authorization: Bearer secret-token" "$(sed -n 2p "$WORK/auth.body")"
expect_eq "origin requests" 2 "$(origin_count origin "$CO")"

exit 0
