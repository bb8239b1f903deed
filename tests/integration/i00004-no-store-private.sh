#!/bin/sh
# i00004-no-store-private: answers marked no-store or private are never
# stored by a shared cache: every GET reaches the origin, none is a HIT.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

for cc in no-store private 'private%2C%20max-age%3D60' 'no-store%2C%20max-age%3D60'; do
	T="/ns/obj?cc=$cc"
	step "Cache-Control: $cc is never stored"
	get "$edge1_URL$T"
	expect_eq "first status" 200 "$STATUS"
	expect_ne "first X-Cache" HIT "$(hdr X-Cache)"
	expect_eq "first body" "origin body for $T" "$(body)"
	first_body=$BODY
	get "$edge1_URL$T"
	expect_eq "second status" 200 "$STATUS"
	expect_ne "second X-Cache" HIT "$(hdr X-Cache)"
	if [[ $(hdr Cache-Status) =~ edge1\;\ *hit ]]; then
		fail "Cache-Status says hit: $(hdr Cache-Status)"
	fi
	cmp -s "$first_body" "$BODY" || fail "bodies differ"
	expect_eq "origin requests for $T" 2 "$(origin_count origin "$T")"
	get "$edge1_URL$T" -I
	expect_ne "HEAD X-Cache" HIT "$(hdr X-Cache)"
	expect_eq "origin requests for $T after HEAD" 3 "$(origin_count origin "$T")"
done

step "a cacheable object on the same path still caches (control)"
C='/ns/obj?cc=max-age%3D60'
get "$edge1_URL$C"
get "$edge1_URL$C"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $C" 1 "$(origin_count origin "$C")"

exit 0
