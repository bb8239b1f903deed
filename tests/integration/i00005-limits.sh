#!/bin/sh
# i00005-limits: request limits give short, correct errors and the node keeps
# serving: request head over --max-header-size (default 32K) -> 431, target
# over --max-url-length (default 8192) -> 414, body over --max-body-size -> 413.
# Nothing over a limit reaches the origin.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL" --max-body-size 64K

# works WHAT: a normal cacheable GET still succeeds.
works() {
	local t="/ok/$1?cc=max-age%3D60"
	get "$edge1_URL$t"
	expect_eq "normal GET after $1: status" 200 "$STATUS"
	expect_eq "normal GET after $1: body" "origin body for $t" "$(body)"
}

step "100 KiB of request headers get 431"
pad=$(head -c 10240 /dev/zero | tr '\0' 'h')
hargs=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	hargs+=(-H "X-Pad-$i: $pad")
done
H='/lim/headers?cc=max-age%3D60'
get "$edge1_URL$H" "${hargs[@]}"
expect_eq "status" 431 "$STATUS"
expect_le "error body size" 4096 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests for $H" 0 "$(origin_count origin "$H")"
works headers

step "one 40 KiB header (over the 32K default) gets 431"
get "$edge1_URL$H" -H "X-Big: $(head -c 40960 /dev/zero | tr '\0' 'b')"
expect_eq "status" 431 "$STATUS"
expect_eq "origin requests for $H" 0 "$(origin_count origin "$H")"
works oneheader

step "headers under the limit pass"
get "$edge1_URL/lim/small?cc=max-age%3D60" -H "X-Small: $(head -c 4096 /dev/zero | tr '\0' 's')"
expect_eq "status" 200 "$STATUS"

step "a request target over 8192 bytes gets 414"
L="/lim/long?pad=$(head -c 9000 /dev/zero | tr '\0' 'u')"
get "$edge1_URL$L"
expect_eq "status" 414 "$STATUS"
expect_le "error body size" 4096 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests for the long target" 0 "$(origin_count origin "$L")"
works url

step "a target just under the limit passes"
M="/lim/long?pad=$(head -c 7000 /dev/zero | tr '\0' 'm')"
get "$edge1_URL$M"
expect_eq "status" 200 "$STATUS"
expect_eq "origin requests for the 7000-byte target" 1 "$(origin_count origin "$M")"

step "a 100 KiB body over --max-body-size 64K gets 413"
head -c 102400 /dev/urandom >"$WORK/big.bin"
B='/lim/body?status=201'
get "$edge1_URL$B" -X PUT --data-binary @"$WORK/big.bin"
expect_eq "status" 413 "$STATUS"
expect_le "error body size" 4096 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests for $B" 0 "$(origin_count origin "$B")"
works body

step "the same body sent chunked (no Content-Length) gets 413"
C='/lim/chunked?status=201'
get "$edge1_URL$C" -X POST --data-binary @"$WORK/big.bin" -H 'Transfer-Encoding: chunked'
expect_eq "status" 413 "$STATUS"
rec=$(origin_last origin POST /lim/chunked)
if [ -n "$rec" ]; then
	expect_ne "the origin never got the whole body" 102400 "$(echo "$rec" | json_get body_len)"
fi
works chunked

step "a body under the limit passes"
head -c 32768 /dev/urandom >"$WORK/small.bin"
get "$edge1_URL/lim/okbody?status=201" -X PUT --data-binary @"$WORK/small.bin"
expect_eq "status" 201 "$STATUS"
expect_eq "origin saw the whole body" "$(sha256 "$WORK/small.bin")" "$(json_get body_sha256 <"$BODY")"

step "the node is still up"
is_running "$edge1_PID" || fail "edge1 died"
get "$edge1_URL/.well-known/cdn/health"
expect_eq "health" 200 "$STATUS"

exit 0
