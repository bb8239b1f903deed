#!/bin/sh
# i00024-all-down-fallback: a tier of two shields with "fallback = direct"
# (a tier holding only the origin). With both shields killed, requests
# still succeed, straight from the origin; an edge without a fallback
# answers 503 at once (no upstream attempt) once its heartbeats mark both
# down. A shield that comes back takes its traffic back. An edge whose
# heartbeats are slow (they have not noticed yet) still serves the first
# request after both shields died from the fallback: every node of the tier
# refusing connections is "every node down" for that request.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node shield shieldA -u "$origin_URL"
start_node shield shieldB -u "$origin_URL"

cat >"$WORK/fallback.ini" <<EOF
[tier.main]
upstream = $shieldA_URL
upstream = $shieldB_URL
fallback = direct

[tier.direct]
upstream = $origin_URL

[regions]
default = main
EOF
cat >"$WORK/nofallback.ini" <<EOF
[tier.main]
upstream = $shieldA_URL
upstream = $shieldB_URL

[regions]
default = main
EOF
HB=(--health-interval 200ms --health-fall 2 --health-rise 2 --health-timeout 300ms)
start_node edge edgeF -c "$WORK/fallback.ini" "${HB[@]}"
start_node edge edgeN -c "$WORK/nofallback.ini" "${HB[@]}"
# Heartbeats every 60 s: after the first round at start, only real requests
# tell this edge that a shield is gone.
start_node edge edgeW -c "$WORK/fallback.ini" --health-interval 60s --health-fall 2

KEYN=0
# fresh: a new cacheable target in FRESH.
fresh() {
	KEYN=$((KEYN + 1))
	FRESH="/fallback/k$KEYN?cc=max-age%3D60"
}

step "edgeF's /stats: tier main (two live shields, fallback direct) and tier direct"
expect_eq "tier names" '["main", "direct"]' "$(stats_eval edgeF '[t["name"] for t in s["tiers"]]')"
expect_eq "main's fallback" direct "$(admin_json edgeF tiers.0.fallback)"
expect_eq "main's live nodes" 2 "$(stats_eval edgeF 'sum(1 for n in s["tiers"][0]["nodes"] if n["up"])')"
expect_eq "direct's node" "$origin_URL" "$(admin_json edgeF tiers.1.nodes.0.url)"
expect_eq "edgeN's main has no fallback" "" "$(admin_json edgeN tiers.0.fallback)"

step "with the shields up, every edge goes through a shield"
for e in edgeF edgeN edgeW edgeF edgeN edgeW; do
	fresh
	url=${e}_URL
	get "${!url}$FRESH"
	expect_eq "$e: status" 200 "$STATUS"
	expect_match "$e: Via names a shield" '^1\.1 shield[AB], 1\.1 '"$e"'$' "$(hdr Via)"
done
expect_eq "shield misses (A + B)" 6 $(( $(admin_stat shieldA misses) + $(admin_stat shieldB misses) ))
expect_ge "edgeF region decisions for default" 2 "$(admin_json edgeF regions.default.decisions)"

step "kill -9 both shields: edgeF and edgeN mark both down within ~1 s"
kill_node shieldA
kill_node shieldB
killed_at=$(now_ms)
wait_for 3 upstream_is edgeF "$shieldA_URL" false
wait_for 3 upstream_is edgeF "$shieldB_URL" false
wait_for 3 upstream_is edgeN "$shieldA_URL" false
wait_for 3 upstream_is edgeN "$shieldB_URL" false
# The bound includes the polling itself (a curl and a python3 per check,
# 100 ms and more each when the machine runs two tests at once).
expect_le "ms until both edges show both down" 2000 $(( $(now_ms) - killed_at ))
for e in edgeF edgeN; do
	expect_eq "$e: live nodes of main" 0 "$(stats_eval "$e" 'sum(1 for n in s["tiers"][0]["nodes"] if n["up"])')"
done

step "edgeF (fallback = direct): requests succeed straight from the origin"
errors0=$(admin_stat edgeF upstream_errors)
bad=0
for ((i = 0; i < 10; i++)); do
	fresh
	get "$edgeF_URL$FRESH"
	if [ "$STATUS" != 200 ] || [ "$(hdr Via)" != "1.1 edgeF" ] ||
		[ "$(origin_count origin "$FRESH")" != 1 ] || [ "$TIME_MS" -gt 1000 ]; then
		bad=$((bad + 1))
		echo "   $FRESH: status $STATUS, Via '$(hdr Via)', $(origin_count origin "$FRESH") origin requests, $TIME_MS ms"
	fi
done
expect_eq "requests not answered 200 from the origin directly within 1 s" 0 "$bad"
expect_eq "edgeF upstream errors (unchanged)" "$errors0" "$(admin_stat edgeF upstream_errors)"
get "$edgeF_URL$FRESH"
expect_eq "the fallback's answer was cached: X-Cache" HIT "$(hdr X-Cache)"

step "edgeN (no fallback): 503 at once, nothing sent upstream"
up0=$(admin_stat edgeN upstream_requests)
origin0=$(origin_total origin)
for ((i = 0; i < 3; i++)); do
	fresh
	get "$edgeN_URL$FRESH"
	expect_eq "status" 503 "$STATUS"
	expect_le "time (ms)" 300 "$TIME_MS"
done
expect_eq "edgeN upstream requests (unchanged)" "$up0" "$(admin_stat edgeN upstream_requests)"
expect_eq "origin requests (unchanged)" "$origin0" "$(origin_total origin)"

step "shieldA restarted on its port: both edges see it up within ~2 s and use it again"
start_node_raw shield shieldA2 -l "127.0.0.1:$shieldA_PORT" -a 127.0.0.1:0 --name shieldA \
	--token-file "$WORK/tokens" -u "$origin_URL"
restarted_at=$(now_ms)
wait_for 4 upstream_is edgeF "$shieldA_URL" true
wait_for 4 upstream_is edgeN "$shieldA_URL" true
expect_le "ms until both edges show shieldA up" 2000 $(( $(now_ms) - restarted_at ))
for e in edgeF edgeN; do
	fresh
	url=${e}_URL
	get "${!url}$FRESH"
	expect_eq "$e: status" 200 "$STATUS"
	expect_eq "$e: Via" "1.1 shieldA, 1.1 $e" "$(hdr Via)"
done
expect_eq "restarted shieldA's misses" 2 "$(admin_stat shieldA2 misses)"

step "edgeW (slow heartbeats, fallback): the first request after every shield died is served by the fallback"
kill_node shieldA2
expect_eq "edgeW still believes shieldA is up" true "$(upstream_up edgeW "$shieldA_URL")"
expect_eq "edgeW still believes shieldB is up" true "$(upstream_up edgeW "$shieldB_URL")"
fresh
get "$edgeW_URL$FRESH"
expect_eq "first request: status" 200 "$STATUS"
expect_eq "first request: origin requests" 1 "$(origin_count origin "$FRESH")"
for ((i = 0; i < 3; i++)); do
	fresh
	get "$edgeW_URL$FRESH"
	expect_eq "next request: status" 200 "$STATUS"
	expect_eq "next request: Via" "1.1 edgeW" "$(hdr Via)"
done

exit 0
