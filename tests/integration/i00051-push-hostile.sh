#!/bin/sh
# i00051-push-hostile: a single shield (-d DIR, --disk-size 3M,
# --push-max-size 1M... raised per step) refuses every hostile push with a
# clear error and leaves nothing on disk: keys with "..", "." or "//",
# encoded dots, slashes or backslashes, NUL, a query, or over 1024 bytes
# get 400; a body that does not match its Content-Digest gets 400 naming
# both digests; no Content-Digest 400; no or a wrong token 401, a token
# without the push scope 403; a body over --push-max-size 413 (declared or
# chunked); a full disk tier 507. After each, the cache dir holds no temp
# file, no spooled body, and no new object.
. "$(dirname "$0")/lib.sh"

printf 'readonly read\n' >>"$WORK/tokens"
start_origin origin
start_node shield s1 -u "$origin_URL" -d "$WORK/s1" --disk-size 3M --push-max-size 2M

b64digest() {
	python3 -c 'import hashlib, base64, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}
# put RAW-PATH FILE [CURL-ARGS...]: PUT with the right digest, path as is.
put() {
	local path=$1 file=$2
	shift 2
	get "$s1_ADMIN$path" --path-as-is -X PUT -H "Authorization: Bearer $TOKEN" \
		-H "Content-Digest: sha-256=:$(b64digest "$file"):" --data-binary "@$file" "$@"
}
# disk_state: every file under the cache dir's objects and spool, and the
# catalog's rows (what a refused push must not change).
disk_state() {
	(cd "$WORK/s1" && find objects push-spool -type f | sort)
	python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute("select key, deleted from pushed order by key"): print(r)' "$WORK/s1/push.db"
}
expect_unchanged() {
	expect_eq "$1: nothing left on disk" "$before" "$(disk_state)"
}

head -c 1000 /dev/urandom >"$WORK/small.bin"
before=$(disk_state)

step "hostile keys get 400 and store nothing"
long=/$(head -c 1100 /dev/zero | tr '\0' a)
for key in '/a/../b' '/../etc/passwd' '/a/./b' '/a//b' '/%2e%2e/x' '/a/%2E%2e/b' '/a%2Fb' \
	'/a%2fb' '/a%5cb' '/a%00b' '/a%0ab' '/a?x=1' "$long" '/a%zz' '/a%4'; do
	put "/push$key" "$WORK/small.bin"
	expect_eq "PUT /push${key:0:40} status" 400 "$STATUS"
	expect_match "PUT /push${key:0:40} says why" '"error"' "$(body)"
done
expect_unchanged "hostile keys"

step "a body that does not match its Content-Digest: 400 with both digests, nothing stored"
head -c 500000 /dev/urandom >"$WORK/mid.bin"
get "$s1_ADMIN/push/ok/mid.bin" -X PUT -H "Authorization: Bearer $TOKEN" \
	-H "Content-Digest: sha-256=:$(b64digest "$WORK/small.bin"):" --data-binary "@$WORK/mid.bin"
expect_eq "status" 400 "$STATUS"
expect_eq "expected digest named" "sha-256=:$(b64digest "$WORK/small.bin"):" "$(json_get expected <"$BODY")"
expect_eq "computed digest named" "sha-256=:$(b64digest "$WORK/mid.bin"):" "$(json_get computed <"$BODY")"
expect_unchanged "digest mismatch"
get "$s1_ADMIN/push/ok/mid.bin" -X PUT -H "Authorization: Bearer $TOKEN" --data-binary "@$WORK/mid.bin"
expect_eq "no Content-Digest" 400 "$STATUS"
get "$s1_ADMIN/push/ok/mid.bin" -X PUT -H "Authorization: Bearer $TOKEN" \
	-H "Content-Digest: md5=:abc:" --data-binary "@$WORK/mid.bin"
expect_eq "no sha-256 member" 400 "$STATUS"
expect_unchanged "missing digest"

step "no token or a wrong one: 401; a token without the push scope: 403"
get "$s1_ADMIN/push/ok/small.bin" -X PUT -H "Content-Digest: sha-256=:$(b64digest "$WORK/small.bin"):" \
	--data-binary "@$WORK/small.bin"
expect_eq "no token" 401 "$STATUS"
for t in wrong readonly; do
	get "$s1_ADMIN/push/ok/small.bin" -X PUT -H "Authorization: Bearer $t" \
		-H "Content-Digest: sha-256=:$(b64digest "$WORK/small.bin"):" --data-binary "@$WORK/small.bin"
	expect_eq "token $t" "$([ $t = wrong ] && echo 401 || echo 403)" "$STATUS"
done
expect_unchanged "refused tokens"

step "a body over --push-max-size: 413, declared or chunked, without filling the disk"
head -c 2500000 /dev/urandom >"$WORK/big.bin"
put /push/ok/big.bin "$WORK/big.bin"
expect_eq "declared length" 413 "$STATUS"
put /push/ok/big.bin "$WORK/big.bin" -H 'Transfer-Encoding: chunked'
expect_eq "chunked" 413 "$STATUS"
expect_unchanged "too big"

step "a full disk tier: 507, the earlier object intact, nothing half-written"
head -c 1800000 /dev/urandom >"$WORK/one.bin"
head -c 1800000 /dev/urandom >"$WORK/two.bin"
put /push/ok/one.bin "$WORK/one.bin"
expect_eq "first fits" 201 "$STATUS"
before=$(disk_state)
put /push/ok/two.bin "$WORK/two.bin"
expect_eq "second: disk full" 507 "$STATUS"
put /push/ok/two.bin "$WORK/two.bin" -H 'Transfer-Encoding: chunked'
expect_eq "second, chunked: disk full" 507 "$STATUS"
expect_unchanged "disk full"
get "$s1_URL/ok/one.bin"
expect_eq "the first is still served whole" "$(sha256 "$WORK/one.bin")" "$(sha256 "$BODY")"
expect_eq "and never asked of the origin" 0 "$(origin_count origin /ok/one.bin)"

step "a good push after all that works, and the shield is healthy"
put /push/ok/small.bin "$WORK/small.bin"
expect_eq "status" 201 "$STATUS"
get "$s1_URL/ok/small.bin"
expect_eq "served" "$(sha256 "$WORK/small.bin")" "$(sha256 "$BODY")"
expect_eq "rejected keys counted" 15 "$(admin_json s1 push.rejected_keys)"
