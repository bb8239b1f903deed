#!/bin/sh
# i00041-warm-restart: objects an edge wrote to its disk tier (-d DIR)
# survive a restart. After a clean stop (SIGTERM) a new edge on the same DIR
# answers every one of them, including both variants of a URL with
# Vary: Accept-Language, as a HIT with the exact bytes and no origin request.
# Then a second set is fetched, written behind (disk_writes polled), and the
# node is killed with SIGKILL: the next node again answers every object of
# both sets from disk with no origin request.
. "$(dirname "$0")/lib.sh"

DIR=$WORK/cache
start_origin origin
start_node edge edge1 -u "$origin_URL" -d "$DIR" --mem-size 8M --disk-size 64M
# origin_total_of PREFIX: requests the origin recorded for targets under
# PREFIX (the test's objects only: not probes a node may send on its own).
origin_total_of() {
	origin_requests origin | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["target"].startswith(sys.argv[1])))' "$1"
}
EXP=$WORK/expected
mkdir -p "$EXP"

# The objects: KEYS[i] is the request target, REQH[i] a request header for
# it (or ""), EXPECT[i] the file with the exact body the origin sent.
KEYS=() REQH=() EXPECT=()
VARY_T='/warm/vary?h=Vary%3AAccept-Language&echo=Accept-Language&cc=max-age%3D3600'
add_set() { # PREFIX: one set of plain objects of assorted sizes
	local p=$1 n
	for n in 0 1 4095 4096 4097 65536 300000 1048576; do
		KEYS+=("/warm/$p-size$n?size=$n&cc=max-age%3D3600")
		REQH+=("")
	done
	KEYS+=("/warm/$p-text?body=hello%20$p&cc=max-age%3D3600")
	REQH+=("")
}
add_set a
KEYS+=("$VARY_T" "$VARY_T")
REQH+=("Accept-Language: en" "Accept-Language: de")
NA=${#KEYS[@]}    # set a: 0 .. NA-1
add_set b          # set b: NA .. end

# expected_of I: the exact body for key I: generated for size=N (byte i =
# 'a' + i % 26), else what the origin sent on the first fetch.
gen_expected() {
	python3 -c '
import sys
n = int(sys.argv[1])
sys.stdout.buffer.write(bytes(97 + i % 26 for i in range(n)))' "$1" >"$2"
}

# fetch_range NODE FIRST LAST: first fetch of each key (MISS); records its
# body.
fetch_range() {
	local url=${1}_URL i n bad=""
	for ((i = $2; i <= $3; i++)); do
		if [ -n "${REQH[$i]}" ]; then get "${!url}${KEYS[$i]}" -H "${REQH[$i]}"
		else get "${!url}${KEYS[$i]}"; fi
		EXPECT[$i]=$EXP/$i
		if [[ ${KEYS[$i]} =~ size=([0-9]+) ]]; then
			n=${BASH_REMATCH[1]}
			gen_expected "$n" "${EXPECT[$i]}"
		else
			cp "$BODY" "${EXPECT[$i]}"
		fi
		{ [ "$STATUS" = 200 ] && [ "$(hdr X-Cache)" = MISS ] && cmp -s "$BODY" "${EXPECT[$i]}"; } ||
			bad+=" #$i(${KEYS[$i]} ${REQH[$i]}: status $STATUS, X-Cache $(hdr X-Cache), $(wc -c <"$BODY") bytes)"
	done
	expect_eq "objects not answered 200 MISS with the exact bytes" "" "$bad"
}

# check_range NODE FIRST LAST: every key answered 200, X-Cache HIT, exact
# bytes, with no origin request.
check_range() {
	local node=$1 url=${1}_URL i bad="" nothit="" total0
	total0=$(origin_total_of /warm/)
	for ((i = $2; i <= $3; i++)); do
		if [ -n "${REQH[$i]}" ]; then get "${!url}${KEYS[$i]}" -H "${REQH[$i]}"
		else get "${!url}${KEYS[$i]}"; fi
		{ [ "$STATUS" = 200 ] && cmp -s "$BODY" "${EXPECT[$i]}"; } ||
			bad+=" #$i(${KEYS[$i]} ${REQH[$i]}: status $STATUS, $(wc -c <"$BODY") bytes)"
		[ "$(hdr X-Cache)" = HIT ] || nothit+=" #$i(${KEYS[$i]} ${REQH[$i]}: $(hdr X-Cache))"
	done
	expect_eq "objects not answered 200 with the exact bytes" "" "$bad"
	expect_eq "objects not answered X-Cache HIT" "" "$nothit"
	expect_eq "origin requests during the check" "$total0" "$(origin_total_of /warm/)"
}

disk_writes_are() { [ "$(admin_stat "$1" disk_writes)" -ge "$2" ] 2>/dev/null; }

step "first node: fetch set a ($NA requests, two Vary variants among them)"
fetch_range edge1 0 $((NA - 1))
expect_eq "origin total" "$NA" "$(origin_total_of /warm/)"
get "$edge1_URL$VARY_T" -H "Accept-Language: de"
expect_eq "the de variant says de" "Accept-Language: de" "$(tail -n 1 "$BODY")"
expect_eq "the de variant is a HIT before the restart" HIT "$(hdr X-Cache)"

step "first node: write-behind stores set a (objects + the Vary marker)"
# NA objects plus the URL's vary marker.
wait_for 20 disk_writes_are edge1 $((NA + 1))
expect_ge "disk_writes" $((NA + 1)) "$(admin_stat edge1 disk_writes)"
expect_eq "disk_write_errors" 0 "$(admin_stat edge1 disk_write_errors)"

step "SIGTERM, new node on the same dir: set a all HIT, exact bytes, no origin request"
stop_node edge1
expect_eq "exit status after SIGTERM" 0 "$edge1_EXIT"
total_a=$(origin_total_of /warm/)
start_node edge edge2 -u "$origin_URL" -d "$DIR" --mem-size 8M --disk-size 64M
check_range edge2 0 $((NA - 1))
expect_ge "disk_hits on the new node" "$NA" "$(admin_stat edge2 disk_hits)"
expect_eq "disk_corrupt" 0 "$(admin_stat edge2 disk_corrupt)"
expect_eq "origin total unchanged since the first node" "$total_a" "$(origin_total_of /warm/)"
# X-Origin-Request-Count was stored with each object: still the first fetch.
get "$edge2_URL${KEYS[0]}"
expect_eq "stored X-Origin-Request-Count" 1 "$(hdr X-Origin-Request-Count)"

step "second node: fetch set b, write-behind stores it"
fetch_range edge2 "$NA" $((${#KEYS[@]} - 1))
NB=$(( ${#KEYS[@]} - NA ))
# The edge2 writes counted so far include none of set a (it came from
# disk); wait until all of set b is written.
wait_for 20 disk_writes_are edge2 "$NB"
expect_ge "disk_writes on the second node" "$NB" "$(admin_stat edge2 disk_writes)"
expect_eq "disk_write_errors" 0 "$(admin_stat edge2 disk_write_errors)"
total_b=$(origin_total_of /warm/)
expect_eq "origin total" $((total_a + NB)) "$total_b"

step "kill -9 the second node, start a third: sets a and b all HIT, no origin request"
kill_node edge2
start_node edge edge3 -u "$origin_URL" -d "$DIR" --mem-size 8M --disk-size 64M
check_range edge3 0 $((${#KEYS[@]} - 1))
expect_eq "origin total unchanged since the kill" "$total_b" "$(origin_total_of /warm/)"
expect_eq "disk_corrupt" 0 "$(admin_stat edge3 disk_corrupt)"

step "the Vary URL after the kill: a third language is a new variant fetched once"
get "$edge3_URL$VARY_T" -H "Accept-Language: fr"
expect_eq "status" 200 "$STATUS"
expect_eq "the fr variant says fr" "Accept-Language: fr" "$(tail -n 1 "$BODY")"
expect_eq "origin requests for the Vary URL (en, de, fr)" 3 "$(origin_count origin "$VARY_T")"
get "$edge3_URL$VARY_T" -H "Accept-Language: en"
expect_eq "en again" HIT "$(hdr X-Cache)"
expect_eq "en body" "Accept-Language: en" "$(tail -n 1 "$BODY")"

exit 0
