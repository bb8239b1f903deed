#!/bin/sh
# i00017-invalidation: a successful (non-error) POST, PUT, DELETE or PATCH
# invalidates the stored responses for its target URI, and for the
# Location and Content-Location URIs when they have the same origin
# (RFC 9111 4.4); an error answer invalidates nothing; other URLs and
# other-origin Location values are left alone; every variant of a URL
# that varies is invalidated too.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

# fill_hit TARGET: GET it until it is a HIT (MISS then HIT).
fill_hit() {
	get "$edge1_URL$1" "${@:2}"
	expect_eq "fill $1: status" 200 "$STATUS"
	get "$edge1_URL$1" "${@:2}"
	expect_eq "fill $1: X-Cache" HIT "$(hdr X-Cache)"
}

# gets TARGET: number of GETs the origin saw for exactly TARGET.
gets() {
	origin_requests origin | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["method"] == "GET" and r["target"] == sys.argv[1]))' "$1"
}

for m in POST PUT DELETE PATCH; do
	T="/inv/$m?cc=max-age%3D60"
	OTHER="/inv/$m-other?cc=max-age%3D60"
	step "successful $m invalidates its target (RFC 9111 4.4)"
	fill_hit "$T"
	fill_hit "$OTHER"
	get "$edge1_URL$T" -X "$m" --data-binary "payload for $m"
	expect_eq "$m status" 200 "$STATUS"
	expect_eq "X-Origin-Method" "$m" "$(hdr X-Origin-Method)"
	get "$edge1_URL$T"
	expect_eq "GET after $m: status" 200 "$STATUS"
	expect_eq "GET after $m: X-Cache" MISS "$(hdr X-Cache)"
	expect_eq "GETs the origin saw" 2 "$(gets "$T")"
	get "$edge1_URL$T"
	expect_eq "then: X-Cache" HIT "$(hdr X-Cache)"
	get "$edge1_URL$OTHER"
	expect_eq "another URL is untouched: X-Cache" HIT "$(hdr X-Cache)"
	expect_eq "GETs the origin saw for the other URL" 1 "$(gets "$OTHER")"
done

step "a POST answered 500 invalidates nothing (RFC 9111 4.4: only non-error answers)"
E="/inv/error?cc=max-age%3D60"
fill_hit "$E"
origin_override origin "$E" "status=500"
get "$edge1_URL$E" -X POST --data-binary x
expect_eq "POST status" 500 "$STATUS"
origin_override origin "$E"
get "$edge1_URL$E"
expect_eq "GET after the failed POST: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "GETs the origin saw" 1 "$(gets "$E")"

step "a POST answered 303 (not an error) invalidates (RFC 9111 4.4)"
R="/inv/redirect?cc=max-age%3D60"
fill_hit "$R"
origin_override origin "$R" "status=303&h=Location:/inv/elsewhere"
get "$edge1_URL$R" -X POST --data-binary x
expect_eq "POST status" 303 "$STATUS"
origin_override origin "$R"
get "$edge1_URL$R"
expect_eq "GET after the POST: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "GETs the origin saw" 2 "$(gets "$R")"

step "Location and Content-Location of the same origin are invalidated too (RFC 9111 4.4)"
LOC="/inv/location-target?cc=max-age%3D60"
CLOC="/inv/content-location-target?cc=max-age%3D60"
ABS="/inv/absolute-same-host?cc=max-age%3D60"
FOREIGN="/inv/other-host?cc=max-age%3D60"
fill_hit "$LOC"
fill_hit "$CLOC"
fill_hit "$ABS"
fill_hit "$FOREIGN"
P="/inv/creator?h=$(urlenc "Location: $LOC")&h=$(urlenc "Content-Location: $CLOC")"
get "$edge1_URL$P" -X POST --data-binary x
expect_eq "POST status" 200 "$STATUS"
expect_eq "Location relayed" "$LOC" "$(hdr Location)"
get "$edge1_URL$LOC"
expect_eq "Location URI: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "Location URI: GETs the origin saw" 2 "$(gets "$LOC")"
get "$edge1_URL$CLOC"
expect_eq "Content-Location URI: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "Content-Location URI: GETs the origin saw" 2 "$(gets "$CLOC")"

step "absolute Location with the request's host is invalidated; another host's is not (RFC 9111 4.4)"
P2="/inv/creator2?h=$(urlenc "Location: http://127.0.0.1:$edge1_PORT$ABS")&h=$(urlenc "Content-Location: http://other.example$FOREIGN")"
get "$edge1_URL$P2" -X PUT --data-binary x
expect_eq "PUT status" 200 "$STATUS"
get "$edge1_URL$ABS"
expect_eq "same-host absolute Location: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "same-host absolute Location: GETs the origin saw" 2 "$(gets "$ABS")"
get "$edge1_URL$FOREIGN"
expect_eq "other-host Content-Location: X-Cache" HIT "$(hdr X-Cache)"
expect_eq "other-host Content-Location: GETs the origin saw" 1 "$(gets "$FOREIGN")"

step "every stored variant of a URL that varies is invalidated (RFC 9111 4.4, 4.1)"
V="/inv/varies?cc=max-age%3D60&h=Vary%3AX-Lang&echo=X-Lang"
fill_hit "$V" -H 'X-Lang: en'
fill_hit "$V" -H 'X-Lang: fr'
expect_eq "GETs the origin saw" 2 "$(gets "$V")"
get "$edge1_URL$V" -X POST --data-binary x
expect_eq "POST status" 200 "$STATUS"
get "$edge1_URL$V" -H 'X-Lang: en'
expect_eq "variant en after the POST: X-Cache" MISS "$(hdr X-Cache)"
get "$edge1_URL$V" -H 'X-Lang: fr'
expect_eq "variant fr after the POST: X-Cache" MISS "$(hdr X-Cache)"
expect_eq "GETs the origin saw" 4 "$(gets "$V")"

step "HEAD and GET do not invalidate (safe methods, RFC 9111 4.4)"
H="/inv/safe?cc=max-age%3D60"
fill_hit "$H"
get "$edge1_URL$H" -I
get "$edge1_URL$H" -X OPTIONS
get "$edge1_URL$H"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "GETs the origin saw" 1 "$(gets "$H")"

exit 0
