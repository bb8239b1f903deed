#!/bin/sh
# i00052-push-retry-queue: failed replications go to the durable retry
# queue. A tier of two shields (N=2, W=1, --push-retry-max 3). While s2 is
# dead but not yet marked down, a push led by s1 succeeds (W=1), its
# replication to s2 is queued, and once s2 is back the queue delivers it
# (push.retried rises, s2 holds the object). When s2 keeps refusing (its
# disk tier is full), the retries stop after --push-retry-max attempts and
# the entry is parked where /stats shows it, with the reason. With W=2 the
# same push is answered 503 (acked 1, wanted 2) and s1's copy stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

start_origin origin
P1=$(free_port); P2=$(free_port)
start_s1() { # [ARGS...]
	start_node_raw shield s1 -l "127.0.0.1:$P1" -a 127.0.0.1:0 --name s1 --token-file "$WORK/tokens" \
		-u "$origin_URL" -d "$WORK/s1" --peer "http://127.0.0.1:$P2" --push-replicas 2 \
		--push-write-quorum 1 --push-retry-max 3 --push-sync-interval 1h --health-interval 1s "$@"
}
start_s2() { # [ARGS...]
	start_node_raw shield s2 -l "127.0.0.1:$P2" -a 127.0.0.1:0 --name s2 --token-file "$WORK/tokens" \
		-u "$origin_URL" -d "$WORK/s2" --peer "http://127.0.0.1:$P1" --push-replicas 2 \
		--push-write-quorum 1 --push-sync-interval 1h --health-interval 1s "$@"
}
start_s1
start_s2

b64digest() {
	python3 -c 'import hashlib, base64, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}
push() { # NODE KEY FILE
	local admin=${1}_ADMIN
	get "${!admin}/push$2" -X PUT -H "Authorization: Bearer $TOKEN" \
		-H "Content-Digest: sha-256=:$(b64digest "$3"):" --data-binary "@$3"
}
holds() {
	local admin=${1}_ADMIN
	[ "$(curl -sS -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $TOKEN" \
		-H 'X-Cdn-Push-Local: 1' "${!admin}/push$2")" = 200 ]
}
# A key s1 leads: the ring decides; try names until s1 answers as leader.
leader_key() { # PREFIX FILE: pushes PREFIX-N until s1 leads one; prints its key
	local i
	for ((i = 0; i < 40; i++)); do
		push s1 "$1-$i" "$2"
		if [ "$STATUS" = 201 ] && [ "$(json_get leader <"$BODY")" = "127.0.0.1:$P1" ]; then
			echo "$1-$i"
			return 0
		fi
	done
	return 1
}

head -c 100000 /dev/urandom >"$WORK/a.bin"
head -c 100000 /dev/urandom >"$WORK/a2.bin"
# holds_version NODE KEY FILE: NODE holds KEY with FILE's digest.
holds_version() {
	local admin=${1}_ADMIN
	curl -sS -o /dev/null -D - -I -H "Authorization: Bearer $TOKEN" -H 'X-Cdn-Push-Local: 1' \
		"${!admin}/push$2" | tr -d '\r' | grep -qi "^Repr-Digest: sha-256=:$(b64digest "$3"):$"
}
step "s2 dies; before heartbeats notice, a new version led by s1 succeeds and queues s2's copy"
key=$(leader_key /q/a "$WORK/a.bin") || die "s1 never led a key"
wait_for 10 holds_version s2 "$key" "$WORK/a.bin" || fail "s2 never got the first version"
kill_node s2
push s1 "$key" "$WORK/a2.bin"
expect_eq "status with W=1" 201 "$STATUS"
expect_eq "acked by s1 alone" 1 "$(json_get acked <"$BODY")"
expect_ge "replications queued" 1 "$(admin_json s1 push.queue)"

step "s2 back: the queue delivers the new version"
start_s2
wait_for 30 holds_version s2 "$key" "$WORK/a2.bin" || fail "s2 does not hold the new $key 30 s after its restart"
wait_for 10 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $s1_ADMIN/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"push\"][\"queue\"])')\" = 0 ]" ||
	fail "the queue did not drain"
expect_ge "retried" 1 "$(admin_json s1 push.retried)"

step "s2 with a full disk keeps refusing: parked after 3 attempts, shown in /stats"
stop_node s2
start_s2 --disk-size 64K
head -c 300000 /dev/urandom >"$WORK/b.bin"
# s1's heartbeats may still mark the restart as an outage (2 failures 1 s
# apart) and then need 2 good probes: let that settle, then wait for up.
sleep 3
wait_for 10 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $s1_ADMIN/stats | python3 -c 'import json,sys; print([p[\"up\"] for p in json.load(sys.stdin)[\"push\"][\"peers\"]][0])')\" = True ]" ||
	fail "s1 does not see s2 up"
key=$(leader_key /q/b "$WORK/b.bin") || die "s1 never led a key"
expect_eq "acked by s1 alone" 1 "$(json_get acked <"$BODY")"
wait_for 40 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $s1_ADMIN/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"push\"][\"parked_count\"])')\" -ge 1 ]" ||
	fail "nothing parked after 40 s"
admin_json s1 push.parked >"$WORK/parked.json"
expect_match "parked entry names the key" "$key" "$(cat "$WORK/parked.json")"
expect_match "parked entry names s2" "127.0.0.1:$P2" "$(cat "$WORK/parked.json")"
expect_match "parked entry says why" "507" "$(cat "$WORK/parked.json")"
expect_eq "attempts" 3 "$(json_get 0.attempts <"$WORK/parked.json")"

step "with --push-write-quorum 2, a push s2 cannot store is 503 (acked 1 of 2); s1's copy stays"
stop_node s1
start_s1 --push-write-quorum 2
head -c 300000 /dev/urandom >"$WORK/c.bin"
key=""
for ((i = 0; i < 40; i++)); do
	push s1 "/q/c-$i" "$WORK/c.bin"
	if [ "$(json_get leader <"$BODY")" = "127.0.0.1:$P1" ]; then
		key=/q/c-$i
		break
	fi
done
[ -n "$key" ] || die "s1 never led a key"
expect_eq "status" 503 "$STATUS"
expect_eq "acked" 1 "$(json_get acked <"$BODY")"
expect_eq "wanted" 2 "$(json_get wanted <"$BODY")"
expect_match "says why" "quorum" "$(json_get error <"$BODY")"
expect_eq "s1 keeps its copy" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -I \
	-H "Authorization: Bearer $TOKEN" -H 'X-Cdn-Push-Local: 1' "$s1_ADMIN/push$key")"
