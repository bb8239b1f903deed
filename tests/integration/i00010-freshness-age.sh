#!/bin/sh
# i00010-freshness-age: freshness lifetime (s-maxage > max-age > Expires >
# heuristic, RFC 9111 4.2.1, 4.2.2, 5.3, 5.2.2.10), what is not stored
# without freshness or validator, and Age (RFC 9111 4.2.3, 5.1): the
# upstream's Age and Date count, resident time adds, and the client always
# sees the current age. One wait of two seconds serves every object.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

EXP60=$(http_date 60)

A="/fresh/max-age?cc=max-age%3D2"
B="/fresh/s-maxage-wins?cc=$(urlenc 'max-age=1, s-maxage=60')"
C="/fresh/s-maxage-short?cc=$(urlenc 'max-age=60, s-maxage=1')"
D="/fresh/expires?h=$(urlenc "Expires: $EXP60")"
E="/fresh/max-age-beats-expires?cc=max-age%3D1&h=$(urlenc "Expires: $EXP60")"
F="/fresh/expires-invalid?h=$(urlenc 'Expires: 0')"
H="/fresh/no-freshness-no-validator"
I="/fresh/heuristic-302?status=302&lm=$(urlenc "$(http_date -1000)")"
J="/fresh/404?status=404&cc=max-age%3D60"
K="/age/upstream-age-30?cc=max-age%3D60&h=$(urlenc 'Age: 30')"
L="/age/upstream-age-100?cc=max-age%3D60&h=$(urlenc 'Age: 100')"
N="/age/invalid-age?cc=max-age%3D60&h=$(urlenc 'Age: abc')"

EXP850=$(LC_ALL=C date -u -d "@$(( $(date +%s) + 60 ))" '+%A, %d-%b-%y %H:%M:%S GMT')
P1="/parse/quoted-max-age?cc=$(urlenc 'max-age="60"')"
P2="/parse/huge-max-age?cc=max-age%3D99999999999999"
P3="/parse/negative-max-age?cc=max-age%3D-1"
P4="/parse/two-lines?cc=public&h=$(urlenc 'Cache-Control: max-age=60')"
P5="/parse/upper-case?cc=$(urlenc 'MAX-AGE=60')"
P6="/parse/expires-rfc850?h=$(urlenc "Expires: $EXP850")"
Q1="/parse/no-cache-field?cc=$(urlenc 'max-age=60, no-cache="X-Secret"')&h=$(urlenc 'X-Secret: s3cr3t')&h=$(urlenc 'X-Kept: yes')"
Q2="/parse/private-field?cc=$(urlenc 'max-age=60, private="X-Secret"')&h=$(urlenc 'X-Secret: s3cr3t')&h=$(urlenc 'X-Kept: yes')"

next_second
S=$(date +%s)
M="/age/date-30s-ago?cc=max-age%3D60&h=$(urlenc "Date: $(http_date -30)")"
G="/fresh/heuristic?lm=$(urlenc "$(http_date -1000)")"  # 10 % of 1000 s = 100 s

step "max-age=2 (RFC 9111 5.2.2.1): MISS, then HIT"
get "$edge1_URL$A"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
expect_le "Age of a fresh fetch (RFC 9111 4.2.3)" 1 "$(hdr Age)"
get "$edge1_URL$A"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$A")"

step "first fetch of every other object (all stored in second S)"
for T in "$B" "$C" "$D" "$E" "$G" "$J" "$K" "$M" "$N"; do
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" MISS "$(hdr X-Cache)"
done

step "a 404 with max-age is cached (RFC 9110 15.5.5, RFC 9111 3)"
get "$edge1_URL$J"
expect_eq "status" 404 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$J")"

step "Expires in the future gives freshness (RFC 9111 5.3): HIT"
get "$edge1_URL$D"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$D")"

step "heuristic freshness from Last-Modified (RFC 9111 4.2.2): HIT, ttl about 10 % of 1000 s"
get "$edge1_URL$G"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
ttl=$(hdr Cache-Status | sed -n 's/.*ttl=\(-\{0,1\}[0-9]*\).*/\1/p')
expect_ge "Cache-Status ttl" 95 "$ttl"
expect_le "Cache-Status ttl" 101 "$ttl"
expect_eq "origin requests" 1 "$(origin_count origin "$G")"

step "invalid Expires means already expired (RFC 9111 5.3): never a HIT"
get "$edge1_URL$F"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$F"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$F")"

step "no freshness, no validator: not reused, no default TTL (RFC 9111 3, 4.2.2)"
get "$edge1_URL$H"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$H"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$H")"

step "302 is not heuristically cacheable (RFC 9110 15.4.3, RFC 9111 4.2.2): not reused"
get "$edge1_URL$I"
expect_eq "status" 302 "$STATUS"
get "$edge1_URL$I"
expect_eq "status" 302 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$I")"

step "upstream Age: 30 counts in the current age (RFC 9111 4.2.3)"
get "$edge1_URL$K"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "Age" 30 "$(hdr Age)"
expect_le "Age" $((30 + $(date +%s) - S + 1)) "$(hdr Age)"

step "Date 30 s in the past: apparent age counts (RFC 9111 4.2.3)"
get "$edge1_URL$M"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "Age" 30 "$(hdr Age)"
expect_le "Age" $((30 + $(date +%s) - S + 1)) "$(hdr Age)"

step "invalid upstream Age counts as 0 (RFC 9111 5.1)"
get "$edge1_URL$N"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_le "Age" $(($(date +%s) - S + 1)) "$(hdr Age)"

step "upstream Age: 100 with max-age=60 arrives stale: the client sees Age >= 100, the next request goes upstream"
get "$edge1_URL$L"
expect_eq "status" 200 "$STATUS"
expect_ge "Age" 100 "$(hdr Age)"
get "$edge1_URL$L"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$L")"

step "Cache-Control parsing that survives the real world (RFC 9111 4.2.1, 5.2): quoted value, huge value, upper case, two lines, RFC 850 Expires"
for T in "$P1" "$P2" "$P4" "$P5" "$P6"; do
	get "$edge1_URL$T"
	expect_eq "status of $T" 200 "$STATUS"
	get "$edge1_URL$T"
	expect_eq "X-Cache of $T" HIT "$(hdr X-Cache)"
	expect_eq "origin requests for $T" 1 "$(origin_count origin "$T")"
done
get "$edge1_URL$P2"
expect_le "Age of the huge max-age object" $(($(date +%s) - S + 1)) "$(hdr Age)"

step "stored fields are returned as received, unknown and repeated ones included (RFC 9111 3.1)"
R="/parse/repeated?cc=max-age%3D60&h=$(urlenc 'X-Rep: one')&h=$(urlenc 'X-Rep: two')&h=$(urlenc 'X-Unknown-Field: kept as is')"
get "$edge1_URL$R"
expect_eq "MISS: X-Rep" "one, two" "$(hdr X-Rep)"
get "$edge1_URL$R"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "HIT: X-Rep (both lines, in order)" "one, two" "$(hdr X-Rep)"
expect_eq "HIT: X-Unknown-Field" "kept as is" "$(hdr X-Unknown-Field)"

step "max-age=-1 is invalid: no freshness from it (RFC 9111 1.2.2), not reused"
get "$edge1_URL$P3"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$P3"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$P3")"

step "no-cache=\"X-Secret\" (RFC 9111 5.2.2.4): reused without revalidation, but never with that field"
get "$edge1_URL$Q1"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$Q1"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "X-Secret on the HIT" "" "$(hdr X-Secret)"
expect_eq "X-Kept on the HIT" yes "$(hdr X-Kept)"
expect_eq "origin requests" 1 "$(origin_count origin "$Q1")"

step "private=\"X-Secret\" (RFC 9111 5.2.2.7): stored, but not that field"
get "$edge1_URL$Q2"
expect_eq "status" 200 "$STATUS"
get "$edge1_URL$Q2"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "X-Secret on the HIT" "" "$(hdr X-Secret)"
expect_eq "X-Kept on the HIT" yes "$(hdr X-Kept)"
expect_eq "origin requests" 1 "$(origin_count origin "$Q2")"

# Every object checked below was stored by second STORED: at STORED + 2
# each is at least 2 s old.
STORED=$(date +%s)
sleep_until $((STORED + 2))

step "max-age=2 after 2 s: stale, fetched again (RFC 9111 4.2, 4.2.1)"
get "$edge1_URL$A"
expect_eq "status" 200 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_le "Age of the new copy" 2 "$(hdr Age)"
expect_eq "origin requests" 2 "$(origin_count origin "$A")"

step "s-maxage=60 beats max-age=1 in a shared cache (RFC 9111 5.2.2.10): still a HIT"
get "$edge1_URL$B"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$B")"

step "s-maxage=1 beats max-age=60 (RFC 9111 5.2.2.10): stale, fetched again"
get "$edge1_URL$C"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$C")"

step "max-age=1 beats Expires +60 s (RFC 9111 5.3): stale, fetched again"
get "$edge1_URL$E"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 2 "$(origin_count origin "$E")"

step "Expires +60 s after 2 s: still a HIT; resident time adds to Age (RFC 9111 4.2.3)"
get "$edge1_URL$D"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "Age" 2 "$(hdr Age)"
expect_le "Age" $(($(date +%s) - S + 1)) "$(hdr Age)"
expect_eq "origin requests" 1 "$(origin_count origin "$D")"

step "heuristic lifetime of 100 s after 2 s: still a HIT"
get "$edge1_URL$G"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "Age" 2 "$(hdr Age)"
expect_eq "origin requests" 1 "$(origin_count origin "$G")"

step "upstream Age 30 plus 2 s resident (RFC 9111 4.2.3)"
get "$edge1_URL$K"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "Age" 32 "$(hdr Age)"
expect_le "Age" $((30 + $(date +%s) - S + 2)) "$(hdr Age)"
ttl=$(hdr Cache-Status | sed -n 's/.*ttl=\(-\{0,1\}[0-9]*\).*/\1/p')
expect_eq "Cache-Status ttl = 60 - Age" $((60 - $(hdr Age))) "$ttl"
expect_eq "origin requests" 1 "$(origin_count origin "$K")"

step "a 404 with max-age=60 is still a HIT after 2 s"
get "$edge1_URL$J"
expect_eq "status" 404 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "origin requests" 1 "$(origin_count origin "$J")"

exit 0
