#!/bin/sh
# i00030-purge-ten-edges: two peered top-tier shields and ten edges that
# use both. A purge sent to shield1 alone reaches shield2 (peers follow each
# other's events) and all ten edges (each follows both shields) and is
# applied once per node; "wait": true lists a receipt from every child; the
# purged URL is fetched again everywhere while another URL stays cached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

EDGES="e1 e2 e3 e4 e5 e6 e7 e8 e9 e10"
LIGHT="--threads 1 --mem-size 8M --upstream-connections 4"

start_origin origin
P1=$(free_port)
P2=$(free_port)
start_node shield shield1 -l "127.0.0.1:$P1" -u "$origin_URL" --peer "http://127.0.0.1:$P2" $LIGHT
start_node shield shield2 -l "127.0.0.1:$P2" -u "$origin_URL" --peer "http://127.0.0.1:$P1" $LIGHT
for e in $EDGES; do
	start_node edge "$e" -u "$shield1_URL" -u "$shield2_URL" $LIGHT
done

step "every edge follows both shields, and the shields follow each other"
wait_for 10 children_are shield1 11 || fail "shield1 has $(children_connected shield1) children, not 11"
wait_for 10 children_are shield2 11 || fail "shield2 has $(children_connected shield2) children, not 11"
wait_for 5 subs_are shield1 1 || fail "shield1 does not stream its peer's events"
for e in $EDGES; do
	expect_eq "$e streams from both shields" 2 "$(subs_streaming "$e")"
done

T='/ten/purged?cc=max-age%3D300'
U='/ten/kept?cc=max-age%3D300'
step "each edge caches both objects"
for e in $EDGES; do
	url=${e}_URL
	get "${!url}$T"
	expect_eq "$e first GET of T" 200 "$STATUS"
	wait_for 5 is_hit "${!url}$T" || fail "$e does not cache T"
	get "${!url}$U"
	wait_for 5 is_hit "${!url}$U" || fail "$e does not cache U"
done
expect_eq "origin requests for T" 1 "$(origin_count origin "$T")"

step "purge T at shield1 and wait for the receipts"
admin_post shield1 /purge "{\"urls\":[\"http://cdn.example$T\"],\"wait\":true}"
expect_eq "purge status" 200 "$STATUS"
expect_eq "receipts complete" true "$(body_get receipts.complete)"
expect_eq "children that acknowledged" 11 "$(body_get receipts.acked)"
nodes=$(json_get receipts.nodes <"$BODY" | python3 -c '
import json, sys
print(" ".join(sorted(n["node"] for n in json.load(sys.stdin) if n["applied"])))')
expect_eq "nodes that applied it" "e1 e10 e2 e3 e4 e5 e6 e7 e8 e9 shield2" "$nodes"
event=$(body_get event)
expect_match "event uid" '^[0-9a-f]{16}:[0-9]+$' "$event"

step "every edge applied the event exactly once, and heard it twice"
for e in $EDGES; do
	expect_eq "$e events_applied" 1 "$(admin_stat "$e" events_applied)"
	wait_for 5 stat_is "$e" events_duplicate 1 ||
		fail "$e did not see the event again from the other shield"
done
expect_eq "shield2 events_applied" 1 "$(admin_stat shield2 events_applied)"
wait_for 5 stat_is shield1 events_duplicate 1 || fail "shield1 did not get its event back from shield2"
expect_eq "shield1 events_published" 1 "$(admin_stat shield1 events_published)"

step "T is fetched again at every edge; U is still a hit"
for e in $EDGES; do
	url=${e}_URL
	get "${!url}$T"
	expect_eq "$e status of T" 200 "$STATUS"
	expect_ne "$e X-Cache of T after the purge" HIT "$(hdr X-Cache)"
	get "${!url}$U"
	expect_eq "$e X-Cache of U" HIT "$(hdr X-Cache)"
done
expect_eq "origin requests for T" 2 "$(origin_count origin "$T")"
expect_eq "origin requests for U" 1 "$(origin_count origin "$U")"

step "metrics show the subscriptions and the children"
admin_get shield1 /metrics
expect_eq "metrics status" 200 "$STATUS"
expect_eq "children in metrics" 11 "$(grep -c '^cdn_child_connected{.*} 1$' "$BODY")"
expect_match "purge counter" 'cdn_purge_requests_total 1' "$(grep '^cdn_purge_requests_total' "$BODY")"
admin_get e1 /metrics
expect_eq "e1 subscriptions up" 2 "$(grep -c '^cdn_subscription_up{.*} 1$' "$BODY")"
expect_eq "e1 lag" 0 "$(awk '/^cdn_subscription_lag_events/ { s += $2 } END { print s + 0 }' "$BODY")"

exit 0
