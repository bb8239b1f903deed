#!/bin/sh
# i00054-push-fewer-replicas: a tier of three shields keeping each pushed
# object on two (--push-replicas 2). Every file cdn-upload sends through s1
# lives on exactly two shields, whichever they are; s1 answers a HEAD for a
# key it does not keep with what its replicas hold (so a re-run skips every
# file) without taking a copy, and redirects a GET there (307). Edges serve
# every file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

UPLOAD_BIN=$top_builddir/tools/cdn-upload
[ -x "$UPLOAD_BIN" ] || die "cdn-upload not built: $UPLOAD_BIN"
start_origin origin
P1=$(free_port); P2=$(free_port); P3=$(free_port)
for i in 1 2 3; do
	peers=()
	for j in 1 2 3; do
		[ "$i" = "$j" ] && continue
		pp=P$j
		peers+=(--peer "http://127.0.0.1:${!pp}")
	done
	port=P$i
	start_node_raw shield "s$i" -l "127.0.0.1:${!port}" -a 127.0.0.1:0 --name "s$i" \
		--token-file "$WORK/tokens" -u "$origin_URL" -d "$WORK/s$i" "${peers[@]}" \
		--push-replicas 2 --push-sync-interval 1s
done
start_node edge e1 -u "$s1_URL" -u "$s2_URL" -u "$s3_URL"
wait_for 30 push_tier_ready s1 s2 s3 || die "the shields did not sync with each other within 30 s"

mkdir -p "$WORK/files"
for i in $(seq 1 30); do head -c $((i * 997)) /dev/urandom >"$WORK/files/f$i.bin"; done
local_status() { # NODE KEY
	local admin=${1}_ADMIN
	curl -sS -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $TOKEN" \
		-H 'X-Cdn-Push-Local: 1' "${!admin}/push$2"
}

step "upload 30 files through s1: each on exactly two shields"
"$UPLOAD_BIN" --server "$s1_ADMIN" --token "$TOKEN" --prefix /few "$WORK/files" >"$WORK/up1.out" 2>&1
expect_eq "cdn-upload exit" 0 "$?"
bad="" outside=""
for i in $(seq 1 30); do
	n=0
	for s in s1 s2 s3; do
		[ "$(local_status "$s" "/few/f$i.bin")" = 200 ] && n=$((n + 1))
	done
	[ "$n" = 2 ] || bad+=" f$i:$n"
	[ "$(local_status s1 "/few/f$i.bin")" = 200 ] || outside+=" f$i"
done
expect_eq "files not on exactly two shields" "" "$bad"
[ -n "$outside" ] || die "s1 keeps every file: the ring gave it all 30 (cannot test relaying)"
key="/few/$(echo "$outside" | awk '{print $1}').bin"

step "s1 answers a HEAD for $key (not its own) from a replica, without taking a copy"
get "$s1_ADMIN/push$key" -I -H "Authorization: Bearer $TOKEN"
expect_eq "status" 200 "$STATUS"
want=$(python3 -c 'import hashlib, base64, sys; print("sha-256=:" + base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode() + ":")' "$WORK/files/$(basename "$key")")
expect_eq "Repr-Digest" "$want" "$(hdr Repr-Digest)"
expect_eq "Content-Length" "$(wc -c <"$WORK/files/$(basename "$key")" | tr -d ' ')" "$(hdr Content-Length)"
expect_eq "s1 still does not keep it" 404 "$(local_status s1 "$key")"
get "$s1_ADMIN/push$key" -H "Authorization: Bearer $TOKEN"
expect_eq "GET is redirected" 307 "$STATUS"
expect_match "to a replica's push URL" "/push$key\$" "$(hdr Location)"

step "a re-run skips every file; every file is served through the edge"
"$UPLOAD_BIN" --server "$s1_ADMIN" --token "$TOKEN" --prefix /few "$WORK/files" >"$WORK/up2.out" 2>&1
expect_eq "cdn-upload exit" 0 "$?"
expect_match "summary" "uploaded 0, skipped 30, failed 0" "$(tail -n 1 "$WORK/up2.out")"
bad=""
for i in $(seq 1 30); do
	get "$e1_URL/few/f$i.bin"
	[ "$STATUS" = 200 ] && [ "$(sha256 "$BODY")" = "$(sha256 "$WORK/files/f$i.bin")" ] || bad+=" f$i"
done
expect_eq "files not served whole" "" "$bad"
expect_eq "origin asked" 0 "$(origin_total origin)"
