#!/bin/sh
# i00026-router: `cdn-edge --router` answers every request with a 302 to the
# PoP (an edge) of the client's region, keeping the path and query. The
# region comes from an operator CIDR file and X-Forwarded-For from a trusted
# peer. PoPs are heartbeat-checked: a dead PoP's clients go to a live PoP of
# another region within ~1.5 s, with every PoP dead the answer is 503, and a
# PoP that comes back gets its clients back. /stats counts redirects per PoP
# and decisions per client region.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edgeEU -u "$origin_URL"
start_node edge edgeUS -u "$origin_URL"

cat >"$WORK/nets.cidr" <<EOF
10.1.0.0/16 eu
10.2.0.0/16 us
2001:db8:1::/48 eu
EOF
cat >"$WORK/router.ini" <<EOF
[pop.eu-1]
url = $edgeEU_URL/
region = eu

[pop.us-1]
url = $edgeUS_URL
region = us

[geo]
cidr_file = $WORK/nets.cidr
trusted_proxies = 127.0.0.1
tor_geoip = off
tor_geoip6 = off
EOF
start_node edge router --router -c "$WORK/router.ini" \
	--health-interval 200ms --health-fall 2 --health-rise 2 --health-timeout 300ms

P='/videos/a%20b/clip.mp4?start=10&sig=x%2Fy&cc=max-age%3D60'
EU=(-H "X-Forwarded-For: 10.1.2.3")
US=(-H "X-Forwarded-For: 10.2.3.4")

# decisions: "eu-redirects us-redirects no-live-pop" from the router's /stats.
redirects() {
	stats_eval router '" ".join(str(p["redirects"]) for p in s["pops"]) + " " + str(s["no_live_pop"])'
}
by_region() {
	admin_json router "router_decisions_by_region.$1"
}

step "the router's /stats before any request: two live PoPs, no redirects"
expect_eq "PoP names" '["eu-1", "us-1"]' "$(stats_eval router '[p["name"] for p in s["pops"]]')"
expect_eq "PoP regions" '["eu", "us"]' "$(stats_eval router '[p["region"] for p in s["pops"]]')"
expect_eq "PoPs up" '[true, true]' "$(stats_eval router '[p["up"] for p in s["pops"]]')"
expect_eq "redirects (eu-1 us-1 none-live)" "0 0 0" "$(redirects)"

step "a client of each region gets a 302 to its region's PoP with the original path and query"
get "$router_URL$P" "${EU[@]}"
expect_eq "eu: status" 302 "$STATUS"
expect_eq "eu: Location" "$edgeEU_URL$P" "$(hdr Location)"
expect_eq "eu: Cache-Control" no-store "$(hdr Cache-Control)"
get "$router_URL$P" "${US[@]}"
expect_eq "us: status" 302 "$STATUS"
expect_eq "us: Location" "$edgeUS_URL$P" "$(hdr Location)"
get "$router_URL/" -H "X-Forwarded-For: 2001:db8:1::7"
expect_eq "eu (IPv6): Location" "$edgeEU_URL/" "$(hdr Location)"
get "$router_URL$P" -I "${US[@]}"
expect_eq "us, HEAD: status" 302 "$STATUS"
expect_eq "us, HEAD: Location" "$edgeUS_URL$P" "$(hdr Location)"
get "$router_URL$P" -X POST -d 'x=1' "${EU[@]}"
expect_eq "eu, POST: status" 302 "$STATUS"
expect_eq "eu, POST: Location" "$edgeEU_URL$P" "$(hdr Location)"
expect_eq "redirects (eu-1 us-1 none-live)" "3 2 0" "$(redirects)"
expect_eq "router_decisions_by_region.eu" 3 "$(by_region eu)"
expect_eq "router_decisions_by_region.us" 2 "$(by_region us)"
expect_eq "the router sent nothing to the origin" 0 "$(origin_total origin)"

step "following the redirect: the client's request reaches its region's edge"
eu_miss0=$(admin_stat edgeEU misses)
us_miss0=$(admin_stat edgeUS misses)
get "$router_URL$P" -L "${EU[@]}"
expect_eq "status after the redirect" 200 "$STATUS"
expect_eq "body" "origin body for $P" "$(body)"
expect_eq "Via" "1.1 edgeEU" "$(hdr Via)"
expect_eq "edgeEU misses" $((eu_miss0 + 1)) "$(admin_stat edgeEU misses)"
expect_eq "edgeUS misses" "$us_miss0" "$(admin_stat edgeUS misses)"
expect_eq "origin requests for the path" 1 "$(origin_count origin "$P")"

step "a client of no known region still gets a live PoP"
get "$router_URL/x"
expect_eq "status" 302 "$STATUS"
expect_match "Location" "^($edgeEU_URL|$edgeUS_URL)/x\$" "$(hdr Location)"

step "kill -9 the eu PoP's edge: within ~1.5 s eu clients are sent to the us PoP"
kill_node edgeEU
killed_at=$(now_ms)
moved=""
while [ $(( $(now_ms) - killed_at )) -lt 3000 ]; do
	get "$router_URL$P" "${EU[@]}"
	if [ "$(hdr Location)" = "$edgeUS_URL$P" ]; then
		moved=$(( $(now_ms) - killed_at ))
		break
	fi
	sleep 0.05
done
expect_ne "eu clients moved to the us PoP" "" "$moved"
expect_le "ms until eu clients go to the us PoP" 1500 "${moved:-999999}"
expect_eq "status" 302 "$STATUS"
expect_eq "eu-1 up in the router's /stats" false "$(stats_eval router 's["pops"][0]["up"]')"
get "$router_URL$P" "${US[@]}"
expect_eq "us clients: Location" "$edgeUS_URL$P" "$(hdr Location)"
get "$router_URL$P" -L "${EU[@]}"
expect_eq "an eu client following the redirect: status" 200 "$STATUS"
expect_eq "an eu client following the redirect: Via" "1.1 edgeUS" "$(hdr Via)"

step "kill -9 the us PoP's edge too: 503 within ~1.5 s"
kill_node edgeUS
killed_at=$(now_ms)
t503=""
while [ $(( $(now_ms) - killed_at )) -lt 3000 ]; do
	get "$router_URL$P" "${US[@]}"
	if [ "$STATUS" = 503 ]; then
		t503=$(( $(now_ms) - killed_at ))
		break
	fi
	sleep 0.05
done
expect_ne "answered 503" "" "$t503"
expect_le "ms until 503" 1500 "${t503:-999999}"
expect_eq "no Location on the 503" "" "$(hdr Location)"
get "$router_URL$P" "${EU[@]}"
expect_eq "eu clients: status" 503 "$STATUS"
expect_ge "no_live_pop in /stats" 2 "$(admin_json router no_live_pop)"
expect_eq "PoPs up" '[false, false]' "$(stats_eval router '[p["up"] for p in s["pops"]]')"

step "the eu edge restarted on its port: eu clients go back to it within ~2 s"
start_node_raw edge edgeEU2 -l "127.0.0.1:$edgeEU_PORT" -a 127.0.0.1:0 --name edgeEU \
	--token-file "$WORK/tokens" -u "$origin_URL"
restarted_at=$(now_ms)
back=""
while [ $(( $(now_ms) - restarted_at )) -lt 4000 ]; do
	get "$router_URL$P" "${EU[@]}"
	if [ "$STATUS" = 302 ] && [ "$(hdr Location)" = "$edgeEU_URL$P" ]; then
		back=$(( $(now_ms) - restarted_at ))
		break
	fi
	sleep 0.05
done
expect_ne "eu clients back on the eu PoP" "" "$back"
expect_le "ms until eu clients are back" 2000 "${back:-999999}"
get "$router_URL$P" "${US[@]}"
expect_eq "us clients (their PoP is dead): status" 302 "$STATUS"
expect_eq "us clients: Location (the live eu PoP)" "$edgeEU_URL$P" "$(hdr Location)"

step "the router's /stats: redirects per PoP and decisions per region add up"
expect_eq "eu-1 + us-1 + none-live = decisions of every region" true \
	"$(stats_eval router 'sum(p["redirects"] for p in s["pops"]) + s["no_live_pop"] == sum(s["router_decisions_by_region"].values())')"
expect_ge "us-1 redirects (us clients, and eu clients while eu-1 was down)" 5 "$(stats_eval router 's["pops"][1]["redirects"]')"
expect_ge "router_decisions_by_region.us" 5 "$(by_region us)"

exit 0
