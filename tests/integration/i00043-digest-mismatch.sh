#!/bin/sh
# i00043-digest-mismatch: an upstream answer whose body does not match the
# sha-256 its Repr-Digest or Content-Digest (RFC 9530) states is never served
# as good (the client gets 502 or a transfer that ends in an error), never
# stored (in memory or on disk: the next request goes to the origin again),
# and counted in /stats digest_mismatch. A correct digest is served, stored,
# and a HIT carries the edge's own Repr-Digest, which matches the body.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL" -d "$WORK/cache" --mem-size 8M

# b64sha256 FILE: the base64 SHA-256 of a file, as in a Repr-Digest.
b64sha256() {
	openssl dgst -sha256 -binary "$1" | base64 | tr -d '\n'
}
b64sha256_str() {
	printf '%s' "$1" | openssl dgst -sha256 -binary | base64 | tr -d '\n'
}
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl not found" >&2; exit 77; }

GOOD_TEXT="the real body"
WRONG=$(b64sha256_str "not the body")
RIGHT=$(b64sha256_str "$GOOD_TEXT")
TEXT_Q="body=the%20real%20body"

# refused WHAT: the last answer was not served as good: a 502 status or a
# transfer curl reports as failed (a non-zero exit code), and never the full
# body with a clean 200.
refused() {
	if [ "$STATUS" = 502 ] || [ "$CURL_RC" != 0 ]; then
		echo "   ok: $1 refused (status $STATUS, curl exit $CURL_RC, $(wc -c <"$BODY") body bytes)"
		return 0
	fi
	fail "$1: served as good: status $STATUS, curl exit $CURL_RC, $(wc -c <"$BODY") body bytes"
}

# mismatch_case NAME TARGET: two requests for TARGET (whose answer has a
# wrong digest): both refused, both reach the origin, digest_mismatch +2,
# nothing stored.
mismatch_case() {
	local name=$1 t=$2 m0 s0 w0
	m0=$(admin_stat edge1 digest_mismatch)
	s0=$(admin_stat edge1 stored)
	w0=$(admin_stat edge1 disk_writes)
	get "$edge1_URL$t"
	refused "$name, first request"
	expect_eq "origin requests for it" 1 "$(origin_count origin "$t")"
	expect_eq "digest_mismatch" $((m0 + 1)) "$(admin_stat edge1 digest_mismatch)"
	get "$edge1_URL$t"
	refused "$name, second request"
	expect_ne "X-Cache of the second request" HIT "$(hdr X-Cache)"
	expect_eq "origin requests for it (not stored: asked again)" 2 "$(origin_count origin "$t")"
	expect_eq "digest_mismatch" $((m0 + 2)) "$(admin_stat edge1 digest_mismatch)"
	expect_eq "stored (memory tier)" "$s0" "$(admin_stat edge1 stored)"
	sleep 0.3
	expect_eq "disk_writes" "$w0" "$(admin_stat edge1 disk_writes)"
}

step "small body with a wrong Repr-Digest: refused, not stored, counted"
mismatch_case "wrong Repr-Digest" "/dg/r1?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$WRONG:")&cc=max-age%3D3600"

step "small body with a wrong Content-Digest: refused, not stored, counted"
mismatch_case "wrong Content-Digest" "/dg/c1?$TEXT_Q&h=$(urlenc "Content-Digest: sha-256=:$WRONG:")&cc=max-age%3D3600"

# A big body (streamed to the client before its end, and its digest, is
# known): the stated digest is of the right length but of other bytes.
BIG=300000
python3 -c '
import sys
n = int(sys.argv[1])
sys.stdout.buffer.write(bytes(97 + i % 26 for i in range(n)))' "$BIG" >"$WORK/big.expected"
BIG_RIGHT=$(b64sha256 "$WORK/big.expected")
head -c $((BIG - 1)) "$WORK/big.expected" >"$WORK/big.other"
printf 'X' >>"$WORK/big.other"
BIG_WRONG=$(b64sha256 "$WORK/big.other")

step "300 kB body with a wrong Repr-Digest (streamed): the transfer fails, not stored"
mismatch_case "big body, wrong Repr-Digest" "/dg/big?size=$BIG&h=$(urlenc "Repr-Digest: sha-256=:$BIG_WRONG:")&cc=max-age%3D3600"

step "300 kB body with a wrong Content-Digest (streamed): the transfer fails, not stored"
mismatch_case "big body, wrong Content-Digest" "/dg/bigc?size=$BIG&h=$(urlenc "Content-Digest: sha-256=:$BIG_WRONG:")&cc=max-age%3D3600"

step "an uncacheable answer (no-store) with a wrong digest is refused too"
t="/dg/nostore?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$WRONG:")&cc=no-store"
m0=$(admin_stat edge1 digest_mismatch)
get "$edge1_URL$t"
refused "no-store, wrong Repr-Digest"
expect_eq "digest_mismatch" $((m0 + 1)) "$(admin_stat edge1 digest_mismatch)"

step "a correct Repr-Digest: served, stored, HIT with the edge's matching Repr-Digest"
t="/dg/ok?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$RIGHT:")&cc=max-age%3D3600"
m0=$(admin_stat edge1 digest_mismatch)
get "$edge1_URL$t"
expect_eq "status" 200 "$STATUS"
expect_eq "curl exit" 0 "$CURL_RC"
expect_eq "body" "$GOOD_TEXT" "$(body)"
get "$edge1_URL$t"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body" "$GOOD_TEXT" "$(body)"
expect_eq "Repr-Digest on the HIT" "sha-256=:$RIGHT:" "$(hdr Repr-Digest)"
expect_eq "Repr-Digest = sha-256 of the received bytes" "sha-256=:$(b64sha256 "$BODY"):" "$(hdr Repr-Digest)"
expect_eq "origin requests" 1 "$(origin_count origin "$t")"
expect_eq "digest_mismatch unchanged" "$m0" "$(admin_stat edge1 digest_mismatch)"

step "a correct Content-Digest on a 300 kB body: served, stored, HIT"
t="/dg/bigok?size=$BIG&h=$(urlenc "Content-Digest: sha-256=:$BIG_RIGHT:")&cc=max-age%3D3600"
get "$edge1_URL$t"
expect_eq "status" 200 "$STATUS"
cmp -s "$BODY" "$WORK/big.expected" || fail "body differs from the expected $BIG bytes"
get "$edge1_URL$t"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
cmp -s "$BODY" "$WORK/big.expected" || fail "HIT body differs from the expected $BIG bytes"
expect_eq "Repr-Digest on the HIT" "sha-256=:$(b64sha256 "$BODY"):" "$(hdr Repr-Digest)"
expect_eq "origin requests" 1 "$(origin_count origin "$t")"
expect_eq "digest_mismatch unchanged" "$m0" "$(admin_stat edge1 digest_mismatch)"

step "an answer without any digest: a HIT carries the edge's own Repr-Digest"
# (A MISS streamed to the client before its last byte arrived cannot know
# its digest when the head is sent, so only the HIT is checked.)
t="/dg/none?size=12345&cc=max-age%3D3600"
get "$edge1_URL$t"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$t"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "Repr-Digest on the HIT" "sha-256=:$(b64sha256 "$BODY"):" "$(hdr Repr-Digest)"

step "the correct objects reached the disk, the refused ones did not"
disk_writes_are() { [ "$(admin_stat edge1 disk_writes)" -ge "$1" ] 2>/dev/null; }
wait_for 10 disk_writes_are 3
expect_eq "disk_writes (the three good objects)" 3 "$(admin_stat edge1 disk_writes)"
expect_eq "body files under DIR/objects" 3 "$(find "$WORK/cache/objects" -type f ! -name '.tmp.*' | wc -l)"
grep -q 'does not match its stated digest' "$(node_log edge1)" || fail "no log line for the mismatches"

step "after a restart the good objects are disk HITs with the right Repr-Digest"
stop_node edge1
start_node edge edge2 -u "$origin_URL" -d "$WORK/cache" --mem-size 8M
t="/dg/ok?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$RIGHT:")&cc=max-age%3D3600"
get "$edge2_URL$t"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "body" "$GOOD_TEXT" "$(body)"
expect_eq "Repr-Digest on the disk HIT" "sha-256=:$RIGHT:" "$(hdr Repr-Digest)"
expect_eq "origin requests" 1 "$(origin_count origin "$t")"
t="/dg/r1?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$WRONG:")&cc=max-age%3D3600"
get "$edge2_URL$t"
refused "wrong Repr-Digest after the restart"
expect_eq "origin requests for it" 3 "$(origin_count origin "$t")"

step "both fields: a correct Repr-Digest with a wrong Content-Digest (identity coding: the same bytes) is refused"
t="/dg/both?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-256=:$RIGHT:")&h=$(urlenc "Content-Digest: sha-256=:$WRONG:")&cc=max-age%3D3600"
m0=$(admin_stat edge2 digest_mismatch)
get "$edge2_URL$t"
refused "correct Repr-Digest, wrong Content-Digest"
expect_eq "digest_mismatch" $((m0 + 1)) "$(admin_stat edge2 digest_mismatch)"

step "a wrong sha-512 Repr-Digest (issue 4: sha-256 or sha-512) is refused"
WRONG512=$(printf 'not the body' | openssl dgst -sha512 -binary | base64 | tr -d '\n')
t="/dg/r512?$TEXT_Q&h=$(urlenc "Repr-Digest: sha-512=:$WRONG512:")&cc=max-age%3D3600"
m0=$(admin_stat edge2 digest_mismatch)
get "$edge2_URL$t"
refused "wrong sha-512 Repr-Digest"
expect_eq "digest_mismatch" $((m0 + 1)) "$(admin_stat edge2 digest_mismatch)"

exit 0
