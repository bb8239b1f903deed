#!/bin/sh
# i00013-vary: a response with Vary is reused only for requests whose named
# fields match (RFC 9111 4.1): several variants per URL, values normalised
# (whitespace), several fields, absent fields, Vary: * never matches; a Vary
# change on refresh replaces the variants; concurrent misses with different
# values each get their own variant. The origin echoes the varying request
# fields into the body, so each answer shows which variant it is.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

A="/vary/lang?cc=max-age%3D60&h=Vary%3AAccept-Language&echo=Accept-Language"

# vget TARGET WANT-XCACHE WANT-ECHO [CURL-ARGS...]
vget() {
	local t=$1 xc=$2 want=$3
	shift 3
	get "$edge1_URL$t" "$@"
	expect_eq "status" 200 "$STATUS"
	expect_eq "X-Cache" "$xc" "$(hdr X-Cache)"
	expect_eq "variant in the body" "$want" "$(sed -n 2,9p "$BODY" | tr '\n' '|')"
}

step "Vary: Accept-Language, first variant (en) (RFC 9111 4.1)"
vget "$A" MISS 'Accept-Language: en|' -H 'Accept-Language: en'
expect_eq "Vary relayed" "Accept-Language" "$(hdr Vary)"
vget "$A" HIT 'Accept-Language: en|' -H 'Accept-Language: en'
expect_eq "origin requests" 1 "$(origin_count origin "$A")"

step "a different value is a different variant: fr is a MISS, then a HIT; en is still a HIT"
vget "$A" MISS 'Accept-Language: fr|' -H 'Accept-Language: fr'
expect_eq "the origin saw the field" fr "$(origin_req_hdr origin "$A" Accept-Language)"
vget "$A" HIT 'Accept-Language: fr|' -H 'Accept-Language: fr'
vget "$A" HIT 'Accept-Language: en|' -H 'Accept-Language: en'
expect_eq "origin requests" 2 "$(origin_count origin "$A")"

step "the field absent is its own variant"
vget "$A" MISS 'Accept-Language: -|'
vget "$A" HIT 'Accept-Language: -|'
expect_eq "origin requests" 3 "$(origin_count origin "$A")"

step "values are normalised: whitespace runs folded, field name case ignored (RFC 9111 4.1)"
vget "$A" MISS 'Accept-Language: en, de|' -H 'Accept-Language: en, de'
vget "$A" HIT 'Accept-Language: en, de|' -H 'Accept-Language: en,    de'
vget "$A" HIT 'Accept-Language: en, de|' -H 'accept-language: en, de'
expect_eq "origin requests" 4 "$(origin_count origin "$A")"

step "Vary on two fields: both must match"
B="/vary/two?cc=max-age%3D60&h=$(urlenc 'Vary: X-Dev, X-Lang')&echo=X-Dev&echo=X-Lang"
vget "$B" MISS 'X-Dev: m|X-Lang: en|' -H 'X-Dev: m' -H 'X-Lang: en'
vget "$B" HIT 'X-Dev: m|X-Lang: en|' -H 'X-Dev: m' -H 'X-Lang: en'
vget "$B" MISS 'X-Dev: d|X-Lang: en|' -H 'X-Dev: d' -H 'X-Lang: en'
vget "$B" MISS 'X-Dev: m|X-Lang: fr|' -H 'X-Dev: m' -H 'X-Lang: fr'
vget "$B" HIT 'X-Dev: d|X-Lang: en|' -H 'X-Dev: d' -H 'X-Lang: en'
vget "$B" MISS 'X-Dev: m|X-Lang: -|' -H 'X-Dev: m'
expect_eq "origin requests" 4 "$(origin_count origin "$B")"

step "Vary: * never matches (RFC 9111 4.1): every request goes to the origin"
V="/vary/star?cc=max-age%3D60&h=Vary%3A*"
get "$edge1_URL$V"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$V"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
get "$edge1_URL$V"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 3 "$(origin_count origin "$V")"

step "concurrent misses with different values: each waiter gets its own variant"
P="/vary/parallel?cc=max-age%3D60&delay_ms=400&h=Vary%3AX-Lang&echo=X-Lang"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	lang=$([ $((i % 2)) = 0 ] && echo en || echo fr)
	curl -sS --max-time 10 -H "X-Lang: $lang" -o "$WORK/p.$i.body" -w '%{http_code}' \
		"$edge1_URL$P" >"$WORK/p.$i.code" 2>"$WORK/p.$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4 5 6 7 8; do
	lang=$([ $((i % 2)) = 0 ] && echo en || echo fr)
	expect_eq "client $i ($lang): status" 200 "$(cat "$WORK/p.$i.code")"
	expect_eq "client $i ($lang): variant" "X-Lang: $lang" "$(sed -n 2p "$WORK/p.$i.body")"
done
expect_eq "origin requests (one per variant, coalesced)" 2 "$(origin_count origin "$P")"
vget "$P" HIT 'X-Lang: en|' -H 'X-Lang: en'
vget "$P" HIT 'X-Lang: fr|' -H 'X-Lang: fr'

step "Vary changes on refresh (X-A -> X-B): the new Vary decides, old variants are not served"
C="/vary/change?cc=max-age%3D2&h=Vary%3AX-A&echo=X-A&echo=X-B"
R="/vary/revalidate?cc=max-age%3D2&etag=r1&h=Vary%3AX-A&echo=X-A"
D="/vary/dropped?cc=max-age%3D2&h=Vary%3AX-A&echo=X-A"
next_second
vget "$C" MISS 'X-A: 1|X-B: -|' -H 'X-A: 1'
vget "$C" MISS 'X-A: 2|X-B: -|' -H 'X-A: 2'
vget "$C" HIT 'X-A: 1|X-B: -|' -H 'X-A: 1'
vget "$R" MISS 'X-A: 1|' -H 'X-A: 1'
vget "$R" MISS 'X-A: 2|' -H 'X-A: 2'
vget "$D" MISS 'X-A: 1|' -H 'X-A: 1'
origin_override origin "$C" "cc=max-age=60&h=Vary:X-B&echo=X-A&echo=X-B"
origin_override origin "$D" "cc=max-age=60&body=no longer varies"
STORED=$(date +%s)  # every max-age=2 object was stored by second STORED
sleep_until $((STORED + 2))
get "$edge1_URL$C" -H 'X-A: 1' -H 'X-B: p'
expect_eq "refresh: status" 200 "$STATUS"
expect_ne "refresh: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "refresh: Vary" X-B "$(hdr Vary)"
expect_eq "origin requests" 3 "$(origin_count origin "$C")"
vget "$C" HIT 'X-A: 1|X-B: p|' -H 'X-A: 2' -H 'X-B: p'
vget "$C" MISS 'X-A: 2|X-B: q|' -H 'X-A: 2' -H 'X-B: q'
vget "$C" HIT 'X-A: 2|X-B: q|' -H 'X-A: 9' -H 'X-B: q'
expect_eq "origin requests" 4 "$(origin_count origin "$C")"

step "a stale variant is revalidated in place (RFC 9111 4.1, 4.3.4); the other variant stays apart"
vget "$R" REVALIDATED 'X-A: 2|' -H 'X-A: 2'
expect_eq "If-None-Match the origin saw" '"r1"' "$(origin_req_hdr origin "$R" If-None-Match)"
vget "$R" HIT 'X-A: 2|' -H 'X-A: 2'
vget "$R" REVALIDATED 'X-A: 1|' -H 'X-A: 1'
vget "$R" HIT 'X-A: 1|' -H 'X-A: 1'
expect_eq "origin requests" 4 "$(origin_count origin "$R")"

step "Vary dropped on refresh: one entry for everybody"
get "$edge1_URL$D" -H 'X-A: 1'
expect_eq "refresh: body" "no longer varies" "$(body)"
expect_eq "refresh: no Vary" "" "$(hdr Vary)"
get "$edge1_URL$D" -H 'X-A: 2'
expect_eq "X-A: 2: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "X-A: 2: body" "no longer varies" "$(body)"
get "$edge1_URL$D"
expect_eq "no X-A: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$D")"

exit 0
