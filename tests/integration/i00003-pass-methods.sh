#!/bin/sh
# i00003-pass-methods: methods other than GET and HEAD pass through the edge
# unchanged (method, target with query, headers, body) and are never cached;
# the origin's status comes back to the client; a successful unsafe request
# invalidates the cached URL (RFC 9111 section 4.4).
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

head -c 102400 /dev/urandom >"$WORK/body.bin"
body_sha=$(sha256 "$WORK/body.bin")

# check_pass METHOD TARGET STATUS: send METHOD with the 100 KiB body and
# X-Test, then compare what the origin recorded and what the client got.
check_pass() {
	local method=$1 target=$2 status=$3 rec
	get "$edge1_URL$target" -X "$method" --data-binary @"$WORK/body.bin" \
		-H "X-Test: pass-$method" -H 'Content-Type: application/octet-stream'
	expect_eq "$method status relayed" "$status" "$STATUS"
	expect_eq "$method X-Cache" PASS "$(hdr X-Cache)"
	expect_eq "$method X-Origin-Method" "$method" "$(hdr X-Origin-Method)"
	expect_eq "$method answer body from the origin (its sha256 field)" "$body_sha" \
		"$(json_get body_sha256 <"$BODY")"
	rec=$(origin_last origin "$method" "${target%%\?*}")
	[ -n "$rec" ] || fail "the origin recorded no $method for $target"
	expect_eq "$method recorded method" "$method" "$(echo "$rec" | json_get method)"
	expect_eq "$method recorded target" "$target" "$(echo "$rec" | json_get target)"
	expect_eq "$method recorded X-Test" "pass-$method" "$(echo "$rec" | json_get headers.x-test)"
	expect_eq "$method recorded Content-Type" application/octet-stream \
		"$(echo "$rec" | json_get headers.content-type)"
	expect_eq "$method recorded body length" 102400 "$(echo "$rec" | json_get body_len)"
	expect_eq "$method recorded body sha256" "$body_sha" "$(echo "$rec" | json_get body_sha256)"
}

step "PUT with a 100 KiB body and X-Test reaches the origin unchanged; 201 relayed"
check_pass PUT '/up/load.bin?status=201&v=a%20b&x=1' 201
expect_eq "origin requests" 1 "$(origin_count origin '/up/load.bin?status=201&v=a%20b&x=1')"

step "POST likewise"
check_pass POST '/api/post?status=200&q=1' 200

step "PATCH likewise"
check_pass PATCH '/api/patch?status=202' 202

step "DELETE likewise"
check_pass DELETE '/api/thing?status=200' 200

step "error statuses from the origin are relayed too"
check_pass POST '/api/post?status=409' 409

step "passed requests are not cached: the same POST twice reaches the origin twice"
P='/api/again?status=200'
check_pass POST "$P" 200
check_pass POST "$P" 200
expect_eq "origin requests for $P" 2 "$(origin_count origin "$P")"

step "a successful PUT invalidates the cached GET of the same URL"
G='/inval/obj?cc=max-age%3D60'
get "$edge1_URL$G"
expect_eq "GET status" 200 "$STATUS"
get "$edge1_URL$G"
expect_eq "X-Cache before PUT" HIT "$(hdr X-Cache)"
get "$edge1_URL$G" -X PUT --data-binary 'new content'
expect_eq "PUT status" 200 "$STATUS"
get "$edge1_URL$G"
expect_eq "GET status after PUT" 200 "$STATUS"
expect_ne "X-Cache after PUT" HIT "$(hdr X-Cache)"
expect_eq "origin requests for $G (GET, PUT, GET)" 3 "$(origin_count origin "$G")"

step "counters: passes"
expect_ge "passes" 8 "$(admin_stat edge1 passes)"

exit 0
