#!/bin/sh
# i00050-push-replicas: a tier of three shields (each -d DIR, --peer the
# other two) and an edge in front of all three. A PUT to any shield is
# stored on all three (N=3, answered once W=2 have it, the answer names
# the replicas), served through the edge byte-identical with its
# Repr-Digest and pushed headers, and never asked of the origin. A copy
# damaged on one shield is never served: that shield serves the good
# bytes, counts the corruption, and repairs its copy from a replica. With
# one shield killed a push still succeeds on the other two; restarted, it
# catches up (anti-entropy) within the test's bound. DELETE removes the
# object from every replica. A body file lost while a shield was stopped is
# found missing at its start and restored from a replica.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

start_origin origin
P1=$(free_port); P2=$(free_port); P3=$(free_port)
shield_args() { # N: the flags of shield N (its data port and its peers)
	local me=$1 args=() i
	for i in 1 2 3; do
		[ "$i" = "$me" ] && continue
		local port=P$i
		args+=(--peer "http://127.0.0.1:${!port}")
	done
	echo "${args[@]}"
}
start_shield() { # N
	local port=P$1
	# shellcheck disable=SC2046
	start_node_raw shield "s$1" -l "127.0.0.1:${!port}" -a 127.0.0.1:0 --name "s$1" \
		--token-file "$WORK/tokens" -u "$origin_URL" -d "$WORK/s$1" $(shield_args "$1") \
		--push-sync-interval 1s --health-interval 200ms
}
start_shield 1
start_shield 2
start_shield 3
start_node edge e1 -u "$s1_URL" -u "$s2_URL" -u "$s3_URL"
wait_for 30 push_tier_ready s1 s2 s3 || die "the shields did not sync with each other within 30 s"

# push NODE KEY FILE [CURL-ARGS...]: PUT FILE as KEY with its digest.
push() {
	local admin=${1}_ADMIN key=$2 file=$3 d
	shift 3
	d=$(python3 -c 'import hashlib, base64, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$file")
	get "${!admin}/push$key" -X PUT -H "Authorization: Bearer $TOKEN" \
		-H "Content-Digest: sha-256=:$d:" --data-binary "@$file" "$@"
}
digest_of() {
	python3 -c 'import hashlib, base64, sys; print("sha-256=:" + base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode() + ":")' "$1"
}
local_head() { # NODE KEY: status of a HEAD that only that node answers
	local admin=${1}_ADMIN
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -I -H "Authorization: Bearer $TOKEN" \
		-H 'X-Cdn-Push-Local: 1' "${!admin}/push$2"
}
holds() { [ "$(local_head "$1" "$2")" = 200 ]; }

head -c 300000 /dev/urandom >"$WORK/a.bin"
step "PUT to s2 with Content-Type, Cache-Control and Surrogate-Key: 201 on three replicas"
push s2 /site/a.bin "$WORK/a.bin" -H 'Content-Type: image/png' \
	-H 'Cache-Control: public, max-age=600' -H 'Surrogate-Key: site a'
expect_eq "status" 201 "$STATUS"
expect_eq "acked" 3 "$(json_get acked <"$BODY")"
expect_eq "replicas named" 3 "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["replicas"]))' <"$BODY")"
expect_eq "digest in the answer" "$(digest_of "$WORK/a.bin")" "$(json_get digest <"$BODY")"
for n in s1 s2 s3; do
	expect_eq "$n holds it" 200 "$(local_head "$n" /site/a.bin)"
done

step "served through the edge: same bytes, its Repr-Digest, the pushed headers; no origin request"
get "$e1_URL/site/a.bin"
expect_eq "status" 200 "$STATUS"
expect_eq "bytes" "$(sha256 "$WORK/a.bin")" "$(sha256 "$BODY")"
expect_eq "Repr-Digest" "$(digest_of "$WORK/a.bin")" "$(hdr Repr-Digest)"
expect_eq "Content-Type" "image/png" "$(hdr Content-Type)"
expect_eq "Cache-Control" "public, max-age=600" "$(hdr Cache-Control)"
expect_eq "Surrogate-Key" "site a" "$(hdr Surrogate-Key)"
expect_eq "Age from its own tier" 0 "$(hdr Age)"
get "$e1_URL/site/a.bin"
expect_eq "second request is a hit" HIT "$(hdr X-Cache)"
expect_eq "origin never asked" 0 "$(origin_count origin /site/a.bin)"

step "a damaged copy on s3 is never served: s3 answers the good bytes and repairs its copy"
f=$(find "$WORK/s3/objects" -type f -size 300000c | head -n 1)
[ -n "$f" ] || die "no body file of 300000 bytes under $WORK/s3/objects"
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 0xff]))' "$f"
# Restarted, s3's memory tier is empty: the answer must come from disk.
stop_node s3
start_shield 3
get "$s3_URL/site/a.bin"
expect_eq "status" 200 "$STATUS"
expect_eq "good bytes from s3" "$(sha256 "$WORK/a.bin")" "$(sha256 "$BODY")"
expect_eq "s3 counted the corruption" 1 "$(admin_json s3 disk.corrupt)"
expect_eq "s3 repaired it from a replica" 1 "$(admin_json s3 push.repairs)"
f=$(find "$WORK/s3/objects" -type f -size 300000c | head -n 1)
expect_eq "s3's copy on disk is good again" "$(sha256 "$WORK/a.bin")" "$(sha256 "$f")"
expect_eq "origin never asked" 0 "$(origin_count origin /site/a.bin)"

step "with s3 killed, a push to s1 still succeeds on the two others (W=2)"
kill_node s3
head -c 200000 /dev/urandom >"$WORK/b.bin"
wait_for 10 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $s1_ADMIN/stats | python3 -c 'import json,sys; print([p[\"up\"] for p in json.load(sys.stdin)[\"push\"][\"peers\"] if p[\"node\"].endswith(\":$P3\")][0])')\" = False ]" ||
	true
push s1 /site/b.bin "$WORK/b.bin"
expect_eq "status" 201 "$STATUS"
expect_eq "acked" 2 "$(json_get acked <"$BODY")"
get "$e1_URL/site/b.bin"
expect_eq "served through the edge" "$(sha256 "$WORK/b.bin")" "$(sha256 "$BODY")"

step "s3 restarted catches up by anti-entropy and holds b.bin"
start_shield 3
wait_for 60 holds s3 /site/b.bin || fail "s3 does not hold /site/b.bin 60 s after its restart"
expect_eq "s3 still holds a.bin" 200 "$(local_head s3 /site/a.bin)"

step "DELETE removes it from every replica"
get "$s1_ADMIN/push/site/a.bin" -X DELETE -H "Authorization: Bearer $TOKEN"
expect_eq "status" 200 "$STATUS"
for n in s1 s2 s3; do
	wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -I -H 'Authorization: Bearer $TOKEN' -H 'X-Cdn-Push-Local: 1' \"\${0}\")\" = 404 ]" \
		"$(v=${n}_ADMIN; echo "${!v}")/push/site/a.bin" || fail "$n still holds a.bin after DELETE"
done
get "$s1_ADMIN/push/site/a.bin" -X DELETE -H "Authorization: Bearer $TOKEN"
expect_eq "a second DELETE" 404 "$STATUS"

step "a body file lost while s2 was stopped: at start its catalog sees it missing and a replica restores it"
stop_node s2
f=$(find "$WORK/s2/objects" -type f -size 200000c | head -n 1)
[ -n "$f" ] || die "no body file of 200000 bytes under $WORK/s2/objects"
rm -f "$f"
start_shield 2
wait_for 30 holds s2 /site/b.bin || fail "s2 did not restore /site/b.bin within 30 s of its start"
f=$(find "$WORK/s2/objects" -type f -size 200000c | head -n 1)
expect_eq "s2's restored file" "$(sha256 "$WORK/b.bin")" "$([ -n "$f" ] && sha256 "$f")"
expect_ge "s2 logged the entry to repair" 1 "$(grep -c 'to repair from replicas' "$WORK/s2.log")"
