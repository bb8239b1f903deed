#!/bin/sh
# i00031-purge-restart-catchup: an edge with a cache dir is down while a
# purge happens at its shield. On restart it resumes the shield's event
# stream from the cursor saved in its own log (Last-Event-ID), applies the
# purge before its data listener opens, and so never serves the purged
# object from its disk; objects not purged are still there. An edge down
# for longer than the shield keeps events gets a reset instead, soft-purges
# everything and re-publishes that to its own children.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

start_origin origin
start_node shield shield1 -u "$origin_URL" --events-retain 3
start_node edge edge1 -u "$shield1_URL" -d "$WORK/edge1-cache" --threads 1 --mem-size 8M

T='/restart/purged?cc=max-age%3D300'
U='/restart/kept?cc=max-age%3D300'

step "edge1 caches two objects, then stops"
for x in "$T" "$U"; do
	get "$edge1_URL$x"
	expect_eq "first GET $x" 200 "$STATUS"
	wait_for 5 is_hit "$edge1_URL$x" || fail "edge1 does not cache $x"
done
wait_for 5 subs_are edge1 1 || fail "edge1 does not follow shield1"
stop_node edge1
expect_eq "edge1 exit status" 0 "$edge1_EXIT"
retire_log edge1

step "purge T at shield1 while edge1 is down"
admin_post shield1 /purge "{\"urls\":[\"$T\"]}"
expect_eq "purge status" 200 "$STATUS"
expect_eq "purged at the shield" 1 "$(body_get purged)"
event=$(body_get event)

step "edge1 restarts, applies the purge before it listens"
start_node edge edge1 -u "$shield1_URL" -d "$WORK/edge1-cache" --threads 1 --mem-size 8M
log=$(node_log edge1)
applied=$(line_of "$log" "applied event $event")
listening=$(line_of "$log" 'listening data=')
expect_ne "log line of the applied event" 0 "$applied"
expect_ne "log line of listening" 0 "$listening"
[ "$applied" -lt "$listening" ] || fail "the event was applied (line $applied) after listening (line $listening)"
expect_match "catch-up logged" 'catch-up: done' "$(grep 'catch-up' "$log")"
expect_eq "events_applied" 1 "$(admin_stat edge1 events_applied)"
expect_eq "catch-up state" caught-up "$(admin_json edge1 catchup.state)"
expect_eq "resumed, no reset" 0 "$(admin_stat edge1 event_resets)"

step "T is fetched again, U comes from edge1's disk"
get "$edge1_URL$T"
expect_eq "status of T" 200 "$STATUS"
expect_ne "X-Cache of T" HIT "$(hdr X-Cache)"
expect_eq "origin requests for T" 2 "$(origin_count origin "$T")"
get "$edge1_URL$U"
expect_eq "status of U" 200 "$STATUS"
expect_eq "X-Cache of U (disk tier)" HIT "$(hdr X-Cache)"
expect_eq "origin requests for U" 1 "$(origin_count origin "$U")"

step "down longer than the shield keeps events: a reset soft-purges everything"
get "$edge1_URL$U"
expect_eq "U before" HIT "$(hdr X-Cache)"
stop_node edge1
retire_log edge1
for i in 1 2 3 4 5; do
	admin_post shield1 /purge "{\"urls\":[\"/restart/other$i\"]}"
	expect_eq "purge $i" 200 "$STATUS"
done
start_node edge edge1 -u "$shield1_URL" -d "$WORK/edge1-cache" --threads 1 --mem-size 8M
expect_eq "event_resets" 1 "$(admin_stat edge1 event_resets)"
expect_match "reset logged" 'reset from' "$(grep 'reset from' "$(node_log edge1)")"
expect_eq "catch-up state" caught-up "$(admin_json edge1 catchup.state)"
# The soft purge-all of a reset marks what is in memory; objects only on
# disk are not reached by a walk of the memory tier yet (see the report of
# issue 7), so U is not checked here.
get "$edge1_URL$U"
expect_eq "status of U after the reset" 200 "$STATUS"

step "the edge's own log re-publishes the reset to its children"
admin_get edge1 '/events?since=0' --max-time 1
expect_match "reset event in edge1's stream" '"all":true,"soft":true' "$(grep '^data:.*"all"' "$BODY" | tail -n 1)"
expect_eq "edge1's stream ends the backlog with ready" 'event: ready' "$(grep '^event:' "$BODY" | tail -n 1)"

step "an upstream that does not answer holds the start for catchup-timeout at most"
stop_node edge1
retire_log edge1
signal_node shield1 STOP
t0=$(now_ms)
start_node edge edge1 -u "$shield1_URL" -d "$WORK/edge1-cache" --threads 1 --mem-size 8M \
	--catchup-timeout 700ms --connect-timeout 5s
took=$(( $(now_ms) - t0 ))
signal_node shield1 CONT
expect_ge "start held for the catch-up (ms)" 600 "$took"
expect_le "but not much longer (ms)" 5000 "$took"
expect_match "the log says it started anyway" 'starting anyway' "$(grep 'catch-up' "$(node_log edge1)")"
expect_eq "catch-up state in /stats" timeout "$(admin_json edge1 catchup.state)"
wait_for 10 subs_are edge1 1 || fail "edge1 did not subscribe once shield1 answered again"

step "the shield restarts (a new log, no cache dir): edge1 finds it again and follows the new log"
port=$shield1_PORT
stop_node shield1
retire_log shield1
start_node shield shield1 -l "127.0.0.1:$port" -u "$origin_URL"
wait_for 10 subs_are edge1 1 || fail "edge1 did not resubscribe to the restarted shield1"
applied0=$(admin_stat edge1 events_applied)
admin_post shield1 /purge "{\"urls\":[\"$U\"],\"wait\":true}"
expect_eq "purge at the new shield1" 200 "$STATUS"
expect_eq "edge1 acknowledged" true "$(body_get receipts.complete)"
expect_eq "edge1 applied it" $((applied0 + 1)) "$(admin_stat edge1 events_applied)"
expect_eq "no reset for a new log that starts at 1" 0 "$(admin_stat edge1 event_resets)"
get "$edge1_URL$U"
expect_ne "U after the purge" HIT "$(hdr X-Cache)"

exit 0
