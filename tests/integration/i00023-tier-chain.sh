#!/bin/sh
# i00023-tier-chain: edge -> regional shield -> origin shield -> origin. Many
# requests for one object, from three edges behind two regional shields,
# sequential and in concurrent bursts, make exactly one origin request; each
# regional shield asks the origin shield once; Via and Cache-Status list
# every node on the way. A regional shield configured with a [tier.NAME]
# file (two origin shields, a ring) chains the same way.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node shield oshield -u "$origin_URL"
start_node shield rshield1 -u "$oshield_URL"
start_node shield rshield2 -u "$oshield_URL"
start_node edge edge1 -u "$rshield1_URL"
start_node edge edge2 -u "$rshield2_URL"
start_node edge edge3 -u "$rshield1_URL"

# burst.py URL N BODY: N concurrent GETs released together; prints how many
# got 200 with exactly BODY and a newline.
cat >"$WORK/burst.py" <<'EOF'
import http.client, sys, threading, urllib.parse
url, n, want = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
u = urllib.parse.urlsplit(url)
target = u.path + ("?" + u.query if u.query else "")
barrier = threading.Barrier(n)
ok = [0] * n
def client(i):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
        barrier.wait()
        c.request("GET", target)
        r = c.getresponse()
        ok[i] = int(r.status == 200 and r.read() == want + b"\n")
    except Exception:
        pass
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(ok))
EOF

T='/chain/one?cc=max-age%3D60&delay_ms=300'
WANT="origin body for $T"

step "the first GET through edge1 travels edge1 -> rshield1 -> oshield -> origin"
get "$edge1_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "body" "$WANT" "$(body)"
expect_match "Via lists all three nodes, origin side first" '^1\.1 oshield, 1\.1 rshield1, 1\.1 edge1$' "$(hdr Via)"
expect_match "Cache-Status: the origin shield missed" '^oshield; *fwd=miss' "$(hdr Cache-Status)"
expect_match "Cache-Status: the regional shield missed" 'rshield1; *fwd=miss' "$(hdr Cache-Status)"
expect_match "Cache-Status: the edge missed" 'edge1; *fwd=miss' "$(hdr Cache-Status)"
expect_eq "origin requests" 1 "$(origin_count origin "$T")"

step "edge3 (same regional shield): a regional shield HIT; Via still names the origin shield"
get "$edge3_URL$T"
expect_eq "status" 200 "$STATUS"
expect_match "Via" '1\.1 oshield, 1\.1 rshield1, 1\.1 edge3$' "$(hdr Via)"
expect_match "Cache-Status: regional shield hit" 'rshield1; *hit' "$(hdr Cache-Status)"
expect_eq "origin requests" 1 "$(origin_count origin "$T")"

step "edge2 (the other regional shield): an origin shield HIT"
get "$edge2_URL$T"
expect_eq "status" 200 "$STATUS"
expect_eq "body" "$WANT" "$(body)"
expect_match "Via" '^1\.1 oshield, 1\.1 rshield2, 1\.1 edge2$' "$(hdr Via)"
expect_match "Cache-Status: origin shield hit" '^oshield; *hit' "$(hdr Cache-Status)"
expect_match "Cache-Status: regional shield miss" 'rshield2; *fwd=miss' "$(hdr Cache-Status)"
expect_eq "origin requests" 1 "$(origin_count origin "$T")"

step "20 more sequential GETs spread over the three edges: still one origin request"
bad=0
for ((i = 0; i < 20; i++)); do
	e=edge$((i % 3 + 1))
	url=${e}_URL
	get "${!url}$T"
	[ "$STATUS" = 200 ] && [ "$(body)" = "$WANT" ] || bad=$((bad + 1))
done
expect_eq "bad answers" 0 "$bad"
expect_eq "origin requests" 1 "$(origin_count origin "$T")"
expect_eq "oshield misses" 1 "$(admin_stat oshield misses)"
expect_eq "oshield hits (rshield2's one request)" 1 "$(admin_stat oshield hits)"
expect_eq "rshield1 misses" 1 "$(admin_stat rshield1 misses)"
expect_eq "rshield2 misses" 1 "$(admin_stat rshield2 misses)"

step "a cold object: concurrent bursts on all three edges at once (origin takes 0.3 s) make one origin request"
C='/chain/cold?cc=max-age%3D60&delay_ms=300'
CWANT="origin body for $C"
o_req0=$(admin_stat oshield upstream_requests)
r1_req0=$(admin_stat rshield1 upstream_requests)
r2_req0=$(admin_stat rshield2 upstream_requests)
python3 "$WORK/burst.py" "$edge1_URL$C" 30 "$CWANT" >"$WORK/b1" &
p1=$!
python3 "$WORK/burst.py" "$edge2_URL$C" 30 "$CWANT" >"$WORK/b2" &
p2=$!
python3 "$WORK/burst.py" "$edge3_URL$C" 30 "$CWANT" >"$WORK/b3" &
p3=$!
wait "$p1" "$p2" "$p3"
expect_eq "edge1 clients with the right body" 30 "$(cat "$WORK/b1")"
expect_eq "edge2 clients with the right body" 30 "$(cat "$WORK/b2")"
expect_eq "edge3 clients with the right body" 30 "$(cat "$WORK/b3")"
expect_eq "origin requests" 1 "$(origin_count origin "$C")"
expect_eq "oshield upstream requests for it" 1 $(( $(admin_stat oshield upstream_requests) - o_req0 ))
expect_eq "rshield1 upstream requests for it (edge1 and edge3 coalesced there)" 1 \
	$(( $(admin_stat rshield1 upstream_requests) - r1_req0 ))
expect_eq "rshield2 upstream requests for it" 1 $(( $(admin_stat rshield2 upstream_requests) - r2_req0 ))

step "a regional shield whose upstream is a [tier.NAME] of two origin shields (a ring): one origin request per object"
start_node shield oshieldB -u "$origin_URL"
cat >"$WORK/rshield3.ini" <<EOF
[tier.origin-shields]
upstream = $oshield_URL
upstream = $oshieldB_URL weight=1
EOF
start_node shield rshield3 -c "$WORK/rshield3.ini"
start_node edge edge4 -u "$rshield3_URL"
start_node edge edge5 -u "$rshield3_URL"
expect_eq "rshield3's tier name in /stats" origin-shields "$(admin_json rshield3 tiers.0.name)"
expect_eq "rshield3's tier nodes" 2 "$(stats_eval rshield3 'len(s["tiers"][0]["nodes"])')"
bad=0
for ((k = 0; k < 6; k++)); do
	K="/chain/ring$k?cc=max-age%3D60"
	for e in edge4 edge5 edge4 edge5; do
		url=${e}_URL
		get "${!url}$K"
		[ "$STATUS" = 200 ] && [[ $(hdr Via) =~ ^1\.1\ oshieldB?,\ 1\.1\ rshield3,\ 1\.1\ $e$ ]] || {
			bad=$((bad + 1))
			echo "   $K via $e: status $STATUS, Via '$(hdr Via)'"
		}
	done
	[ "$(origin_count origin "$K")" = 1 ] || {
		bad=$((bad + 1))
		echo "   $K: $(origin_count origin "$K") origin requests"
	}
done
expect_eq "bad answers or origin counts" 0 "$bad"
expect_eq "rshield3 misses (one per object)" 6 "$(admin_stat rshield3 misses)"

exit 0
