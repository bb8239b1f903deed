#!/bin/sh
# i00022-failover: three shields behind one edge with fast heartbeats
# (--health-interval 200ms --health-fall 2). A shield killed with SIGKILL:
# every request for the keys it owned still succeeds, those in the
# detection window by a retry on the next node of the ring; the edge's
# /stats shows it down within a second. Restarted on the same port, it is
# seen up within two seconds and its keys go back to it. A shield that dies
# while no requests flow is found by the heartbeats alone, and then the ring
# skips it without any retries.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node shield shield1 -u "$origin_URL"
start_node shield shield2 -u "$origin_URL"
start_node shield shield3 -u "$origin_URL"
start_node edge edge1 -u "$shield1_URL" -u "$shield2_URL" -u "$shield3_URL" \
	--health-interval 200ms --health-fall 2 --health-rise 2 --health-timeout 300ms
SHIELDS=(shield1 shield2 shield3)

# Keys by their owner on the ring (a model of ring.h, checked against the
# real edge by i00021): OWNED_shieldN is a list of fresh keys for each phase.
for ((i = 0; i < 1500; i++)); do
	echo "/failover/k$i?cc=max-age%3D60"
done >"$WORK/keys"
ring_owners "$WORK/keys" "$shield1_URL" "$shield2_URL" "$shield3_URL" >"$WORK/owners" ||
	die "ring model failed"
for ((i = 0; i < 3; i++)); do
	mapfile -t "OWNED_${SHIELDS[$i]}" < <(awk -v i="$i" '$1 == i { print $2 }' "$WORK/owners")
done
echo "   keys per owner: ${#OWNED_shield1[@]} ${#OWNED_shield2[@]} ${#OWNED_shield3[@]}"
NEXT=0   # next unused index into OWNED_shield2

# send_owned N: requests N fresh keys owned by shield2; sets OK (answers 200),
# SEEN_SHIELD2 (answers whose Cache-Status names shield2) and BAD (a line
# per unexpected answer).
send_owned() {
	local n=$1 k key
	OK=0 SEEN_SHIELD2=0 BAD=""
	for ((k = 0; k < n; k++)); do
		key=${OWNED_shield2[$NEXT]}
		NEXT=$((NEXT + 1))
		get "$edge1_URL$key"
		if [ "$STATUS" = 200 ]; then
			OK=$((OK + 1))
		else
			BAD+="   $key: status $STATUS ($(tr -d '\n' <"$BODY" | head -c 80))"$'\n'
		fi
		[ "$(answered_by shield2)" = shield2 ] && SEEN_SHIELD2=$((SEEN_SHIELD2 + 1))
	done
}

step "before the kill: keys the ring gives shield2 go to shield2"
send_owned 10
expect_eq "answers with 200" 10 "$OK"
expect_eq "answered through shield2" 10 "$SEEN_SHIELD2"
expect_eq "shield2 misses" 10 "$(admin_stat shield2 misses)"
expect_eq "shield2 up in edge1's /stats" true "$(upstream_up edge1 "$shield2_URL")"
retries0=$(admin_stat edge1 upstream_retries)
expect_eq "upstream retries so far" 0 "$retries0"

step "kill -9 shield2, then for 3 s request keys it owned: every request succeeds"
# A poller records when edge1's /stats first shows shield2 down.
(
	while :; do
		if [ "$(upstream_up edge1 "$shield2_URL")" = false ]; then
			now_ms >"$WORK/down_at"
			break
		fi
		sleep 0.05
	done
) &
poller=$!
kill_node shield2
killed_at=$(now_ms)
total=0 ok=0 through2=0 bad=""
while [ $(( $(now_ms) - killed_at )) -lt 3000 ]; do
	send_owned 5
	total=$((total + 5)) ok=$((ok + OK)) through2=$((through2 + SEEN_SHIELD2)) bad+=$BAD
done
[ -n "$bad" ] && printf '%s' "$bad"
expect_ge "requests sent in the 3 s" 20 "$total"
expect_eq "of them answered 200" "$total" "$ok"
expect_eq "answered through shield2" 0 "$through2"
expect_ge "edge1 upstream_retries (requests in the detection window retried on the next node)" \
	$((retries0 + 1)) "$(admin_stat edge1 upstream_retries)"
expect_eq "edge1 upstream errors" 0 "$(admin_stat edge1 upstream_errors)"
grep -q "trying the next node" "$(node_log edge1)" || fail "edge1's log has no 'trying the next node' line"

step "edge1's /stats shows shield2 down within ~1 s of the kill, the other two up"
wait_for 2 test -s "$WORK/down_at"
kill "$poller" 2>/dev/null
wait "$poller" 2>/dev/null
down_ms=$(( $(cat "$WORK/down_at" 2>/dev/null || echo 999999999999999) - killed_at ))
expect_le "ms from the kill until /stats shows shield2 down" 1000 "$down_ms"
expect_eq "shield2 up" false "$(upstream_up edge1 "$shield2_URL")"
expect_eq "shield1 up" true "$(upstream_up edge1 "$shield1_URL")"
expect_eq "shield3 up" true "$(upstream_up edge1 "$shield3_URL")"
expect_ge "shield2 transitions" 1 \
	"$(stats_eval edge1 "next(n['transitions'] for n in s['tiers'][0]['nodes'] if n['url'] == '$shield2_URL')")"
expect_match "shield2 last_error" '.+' \
	"$(stats_eval edge1 "next(n['last_error'] for n in s['tiers'][0]['nodes'] if n['url'] == '$shield2_URL')")"

step "once shield2 is down, its keys go to the others with no retry at all"
retries1=$(admin_stat edge1 upstream_retries)
s13_misses0=$(( $(admin_stat shield1 misses) + $(admin_stat shield3 misses) ))
send_owned 10
expect_eq "answers with 200" 10 "$OK"
expect_eq "upstream retries (unchanged)" "$retries1" "$(admin_stat edge1 upstream_retries)"
expect_eq "shield1 + shield3 misses (one each)" $((s13_misses0 + 10)) \
	$(( $(admin_stat shield1 misses) + $(admin_stat shield3 misses) ))

step "restart shield2 on the same port: up in edge1's /stats within ~2 s"
start_node_raw shield shield2b -l "127.0.0.1:$shield2_PORT" -a 127.0.0.1:0 --name shield2 \
	--token-file "$WORK/tokens" -u "$origin_URL"
[ "$shield2b_PORT" = "$shield2_PORT" ] || die "shield2 came back on port $shield2b_PORT, not $shield2_PORT"
restarted_at=$(now_ms)
wait_for 4 upstream_is edge1 "$shield2_URL" true
up_ms=$(( $(now_ms) - restarted_at ))
expect_eq "shield2 up" true "$(upstream_up edge1 "$shield2_URL")"
expect_le "ms from the restart until /stats shows shield2 up" 2000 "$up_ms"

step "shield2's keys go back to it: fresh keys it owns miss at the restarted shield2"
misses0=$(admin_stat shield2b misses)
send_owned 10
expect_eq "answers with 200" 10 "$OK"
expect_eq "answered through shield2" 10 "$SEEN_SHIELD2"
expect_eq "restarted shield2's misses" $((misses0 + 10)) "$(admin_stat shield2b misses)"

step "kill -9 shield3 with no traffic: the heartbeats alone mark it down within ~1 s"
kill_node shield3
killed_at=$(now_ms)
wait_for 3 upstream_is edge1 "$shield3_URL" false
down_ms=$(( $(now_ms) - killed_at ))
expect_eq "shield3 up" false "$(upstream_up edge1 "$shield3_URL")"
expect_le "ms from the kill until /stats shows shield3 down" 1000 "$down_ms"

step "then shield3's keys are served by the survivors without retries"
retries2=$(admin_stat edge1 upstream_retries)
ok=0
for key in "${OWNED_shield3[@]:0:10}"; do
	get "$edge1_URL$key"
	[ "$STATUS" = 200 ] && [ "$(answered_by shield3)" = "" ] && ok=$((ok + 1))
done
expect_eq "answered 200, not through shield3" 10 "$ok"
expect_eq "upstream retries (unchanged)" "$retries2" "$(admin_stat edge1 upstream_retries)"

exit 0
