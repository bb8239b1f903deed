#!/bin/sh
# i00021-ring-spread: an edge with three shields (-u three times) sends each
# miss to the shield that owns the key on the consistent-hash ring. The owner
# of every key is the one an independent Python model of the documented ring
# hash (ring.h) names; every shield gets its share; and a second edge given
# the same shields in another order picks the same owner for every key, so
# its requests are HITs on exactly the shield that fetched the key first.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node shield shield1 -u "$origin_URL"
start_node shield shield2 -u "$origin_URL"
start_node shield shield3 -u "$origin_URL"
start_node edge edge1 -u "$shield1_URL" -u "$shield2_URL" -u "$shield3_URL"
start_node edge edge2 -u "$shield3_URL" -u "$shield1_URL" -u "$shield2_URL"

N=60
SHIELDS=(shield1 shield2 shield3)
for ((i = 0; i < N; i++)); do
	echo "/spread/k$i?cc=max-age%3D60"
done >"$WORK/keys"
ring_owners "$WORK/keys" "$shield1_URL" "$shield2_URL" "$shield3_URL" >"$WORK/owners" ||
	die "ring model failed"
declare -A OWNER=()
declare -A WANT=([shield1]=0 [shield2]=0 [shield3]=0)
while read -r idx key; do
	OWNER[$key]=${SHIELDS[$idx]}
	WANT[${SHIELDS[$idx]}]=$((WANT[${SHIELDS[$idx]}] + 1))
done <"$WORK/owners"
echo "   ring model: shield1 ${WANT[shield1]} keys, shield2 ${WANT[shield2]}, shield3 ${WANT[shield3]}"
expect_eq "keys in the ring model" $N "${#OWNER[@]}"

step "edge1's /stats: one tier of three live shields, each owning about a third of the circle"
expect_eq "tiers" 1 "$(stats_eval edge1 'len(s["tiers"])')"
expect_eq "nodes in the tier" 3 "$(stats_eval edge1 'len(s["tiers"][0]["nodes"])')"
expect_eq "nodes up" 3 "$(stats_eval edge1 'sum(1 for n in s["tiers"][0]["nodes"] if n["up"])')"
expect_eq "every share within 0.25..0.42" true \
	"$(stats_eval edge1 'all(0.25 <= n["share"] <= 0.42 for n in s["tiers"][0]["nodes"])')"
expect_eq "shares add up to 1" true \
	"$(stats_eval edge1 'abs(sum(n["share"] for n in s["tiers"][0]["nodes"]) - 1) < 1e-6')"

step "$N distinct keys through edge1: each misses at exactly the shield the ring names"
bad=0
declare -A GOT=([shield1]=0 [shield2]=0 [shield3]=0)
declare -A FIRST=()
while read -r key; do
	get "$edge1_URL$key"
	by=$(answered_by "${SHIELDS[@]}")
	FIRST[$key]=$by
	[ -n "$by" ] && GOT[$by]=$((GOT[$by] + 1))
	if [ "$STATUS" != 200 ] || [ "$by" != "${OWNER[$key]}" ] ||
		! [[ $(cache_status_of "$by") =~ \;\ *fwd=miss ]] || ! [[ $(hdr Via) =~ 1\.1\ $by, ]]; then
		bad=$((bad + 1))
		echo "   key $key: status $STATUS, ring owner ${OWNER[$key]}, Cache-Status '$(hdr Cache-Status)', Via '$(hdr Via)'"
	fi
done <"$WORK/keys"
expect_eq "keys not answered with 200 by a shield miss at the ring's owner" 0 "$bad"
expect_eq "origin requests (one per key)" $N "$(origin_total origin)"
for s in "${SHIELDS[@]}"; do
	expect_eq "$s: keys it answered (per Cache-Status)" "${WANT[$s]}" "${GOT[$s]}"
done

step "each shield's /stats: its misses are exactly the keys the ring gives it, and it got a fair share"
for s in "${SHIELDS[@]}"; do
	expect_eq "$s misses" "${WANT[$s]}" "$(admin_stat "$s" misses)"
	expect_eq "$s hits" 0 "$(admin_stat "$s" hits)"
	expect_ge "$s keys (of $N; binomial mean 20)" 6 "${WANT[$s]}"
done
expect_eq "edge1 misses" $N "$(admin_stat edge1 misses)"
expect_eq "edge1 upstream retries" 0 "$(admin_stat edge1 upstream_retries)"

step "edge2 (the same shields, listed in another order): every key is a HIT on the same shield"
bad=0
while read -r key; do
	get "$edge2_URL$key"
	by=$(answered_by "${SHIELDS[@]}")
	if [ "$STATUS" != 200 ] || [ "$by" != "${FIRST[$key]}" ] ||
		! [[ $(cache_status_of "$by") =~ \;\ *hit ]] || [ "$(hdr X-Cache)" != MISS ]; then
		bad=$((bad + 1))
		echo "   key $key: status $STATUS, first answered by ${FIRST[$key]}, Cache-Status '$(hdr Cache-Status)'"
	fi
done <"$WORK/keys"
expect_eq "keys not a shield HIT on the shield that first fetched them" 0 "$bad"
expect_eq "origin requests (still one per key)" $N "$(origin_total origin)"
for s in "${SHIELDS[@]}"; do
	expect_eq "$s hits" "${WANT[$s]}" "$(admin_stat "$s" hits)"
	expect_eq "$s misses (unchanged)" "${WANT[$s]}" "$(admin_stat "$s" misses)"
done
expect_eq "edge2 misses" $N "$(admin_stat edge2 misses)"

step "edge2's /stats gives each shield the same share as edge1's (order does not matter)"
for u in "$shield1_URL" "$shield2_URL" "$shield3_URL"; do
	expect_eq "share of $u" \
		"$(stats_eval edge1 "next(round(n['share'], 9) for n in s['tiers'][0]['nodes'] if n['url'] == '$u')")" \
		"$(stats_eval edge2 "next(round(n['share'], 9) for n in s['tiers'][0]['nodes'] if n['url'] == '$u')")"
done

exit 0
