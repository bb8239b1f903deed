#!/bin/sh
# i00044-kill9-rounds: 20 rounds of: start an edge on the same cache dir,
# run a write-heavy load (two loops of requests for new keys, bodies of
# random sizes 0-200 KiB, each written behind to disk, running until the
# node is gone), kill -9 the edge at a random moment (0-300 ms into the
# load). After every kill:
#  - the index as a crashed node left it (a copy of index.db and its WAL,
#    read with Python's sqlite3) names only complete bodies: each row's
#    file DIR/objects/XX/Y/GGGGGGGGGGGGGGGG exists, has the row's size and
#    the row's SHA-256, which is the SHA-256 of the origin's bytes for that
#    key;
#  - the restarted edge answers its health endpoint, and with the origin
#    STOPPED every key requested so far is either the exact body (a HIT),
#    or an upstream error (502/504), never other bytes; every key the index
#    held is a HIT.
# The seed is printed (CDN_TEST_SEED=N repeats a run).
. "$(dirname "$0")/lib.sh"

python3 -c 'import sqlite3' 2>/dev/null || { echo "SKIP: python3 has no sqlite3 module" >&2; exit 77; }

ROUNDS=${CDN_KILL9_ROUNDS:-20}
LOAD=${CDN_KILL9_LOAD:-100}
SEED=${CDN_TEST_SEED:-$(( $(date +%s%N) % 1000000 ))}
RANDOM=$SEED
echo "   seed $SEED"
DIR=$WORK/cache
KEYS=$WORK/keys           # every key requested so far, one a line
: >"$KEYS"

start_origin origin0
OPORT=$origin0_PORT
OURL=$origin0_URL
stop_node origin0          # the origin runs only during the load

# check_index: reads a copy of the crashed node's index (db + WAL) and
# checks every row's body file. Writes the keys it holds to $WORK/held.
check_index() {
	rm -rf "$WORK/dbcopy"
	mkdir -p "$WORK/dbcopy"
	cp "$DIR/index.db" "$WORK/dbcopy/"
	[ -f "$DIR/index.db-wal" ] && cp "$DIR/index.db-wal" "$WORK/dbcopy/"
	python3 - "$WORK/dbcopy/index.db" "$DIR/objects" "$WORK/held" <<'PYEOF'
import hashlib, os, re, sqlite3, sys
db, objdir, heldf = sys.argv[1:4]
PAT = bytes(range(97, 123))
con = sqlite3.connect(db)
rows = con.execute("SELECT key, gen, size, sha FROM obj").fetchall()
con.close()
bad, held = [], []
for key, gen, size, sha in rows:
    key = bytes(key).decode("latin-1")
    path = os.path.join(objdir, "%02x" % ((gen >> 8) & 0xff), "%x" % ((gen >> 16) & 0xf),
                        "%016x" % gen)
    try:
        data = open(path, "rb").read()
    except OSError as e:
        bad.append("%s: row names %s, which cannot be read (%s)" % (key, path, e.strerror))
        continue
    if len(data) != size:
        bad.append("%s: %s has %d bytes, the row says %d" % (key, path, len(data), size))
        continue
    if hashlib.sha256(data).digest() != bytes(sha):
        bad.append("%s: %s does not match the row's SHA-256" % (key, path))
        continue
    m = re.search(r"[?&]size=(\d+)", key)
    if m:
        n = int(m.group(1))
        if data != (PAT * (n // 26 + 1))[:n]:
            bad.append("%s: %s is not the origin's body for the key" % (key, path))
            continue
    held.append(key)
with open(heldf, "w") as f:
    for k in held:
        f.write(k + "\n")
print("%d %d" % (len(rows), len(bad)))
for b in bad[:20]:
    print("BAD " + b)
PYEOF
}

# check_served URL: with the origin stopped, requests every key of $KEYS;
# prints "HITS ERRORS" and a line per violation: a 200 with other bytes, a
# status other than 200/502/504, or a key of $WORK/held not served as a HIT.
check_served() {
	python3 - "$1" "$KEYS" "$WORK/held" <<'PYEOF'
import http.client, re, sys, urllib.parse
base, keysf, heldf = sys.argv[1:4]
PAT = bytes(range(97, 123))
u = urllib.parse.urlsplit(base)
keys = [k.rstrip("\n") for k in open(keysf) if k.strip()]
held = set(k.rstrip("\n") for k in open(heldf) if k.strip())
conn = None
hits = errors = 0
bad = []
def fetch(key):
    global conn
    for attempt in range(2):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("GET", key)
            r = conn.getresponse()
            body = r.read()
            if r.getheader("Connection", "").lower() == "close":
                conn.close(); conn = None
            return r.status, r.getheader("X-Cache", ""), body, None
        except (http.client.HTTPException, OSError) as e:
            if conn is not None:
                conn.close()
            conn = None
            err = e
    return None, "", b"", err
for key in keys:
    status, xc, body, err = fetch(key)
    n = int(re.search(r"[?&]size=(\d+)", key).group(1))
    if status == 200:
        if body != (PAT * (n // 26 + 1))[:n]:
            bad.append("%s: 200 with %d bytes that are not its body" % (key, len(body)))
        else:
            hits += 1
            if xc != "HIT":
                bad.append("%s: exact body but X-Cache %s with the origin stopped" % (key, xc))
    elif status in (502, 504):
        errors += 1
        if key in held:
            bad.append("%s: in the index at the kill, but answered %d" % (key, status))
    else:
        bad.append("%s: status %s (%s)" % (key, status, err))
print("%d %d" % (hits, errors))
for b in bad[:20]:
    print("BAD " + b)
PYEOF
}

# load ROUND: requests for new keys of random sizes in two parallel loops,
# until the node is gone (curl: connection refused), at most LOAD each (each
# curl 5 s at most).
load() {
	local r=$1 p j sz key
	for p in 0 1; do
		(
			for ((j = 0; j < LOAD; j++)); do
				sz=$(( (RANDOM * 32768 + RANDOM) % 204801 ))
				key="/k9/r$r-$p-$j?size=$sz&cc=max-age%3D3600"
				echo "$key" >>"$KEYS"
				curl -s -o /dev/null --max-time 5 "$node_url$key"
				[ $? = 7 ] && break   # connection refused: the node is dead
			done
		) &
		LOADERS+=($!)
		RANDOM=$(( RANDOM + p + 1 ))
	done
}

total_rows=0 total_hits=0 total_errors=0
: >"$WORK/held"
for ((round = 1; round <= ROUNDS; round++)); do
	step "round $round: start the edge on the same dir; it serves, and never wrong bytes"
	start_node edge "edge$round" -u "$OURL" -d "$DIR" --mem-size 4M --disk-size 256M \
		--connect-timeout 1s --upstream-timeout 2s
	url_var=edge${round}_URL
	node_url=${!url_var}
	get "$node_url/.well-known/cdn/health"
	expect_eq "health status" 200 "$STATUS"
	# disk_open removed temp files and files with no row: what is left is
	# exactly the bodies the index held.
	expect_eq "temp files left after the start" 0 "$(find "$DIR/objects" -name '.tmp.*' | wc -l)"
	expect_eq "body files after the start (= index rows at the kill)" "$total_rows" \
		"$(find "$DIR/objects" -type f ! -name '.tmp.*' | wc -l)"
	out=$(check_served "$node_url")
	read -r hits errors <<<"$(head -n 1 <<<"$out")"
	total_hits=$((total_hits + hits)) total_errors=$((total_errors + errors))
	echo "   $(wc -l <"$KEYS") keys so far: $hits served exactly (HIT), $errors upstream errors"
	expect_eq "wrong answers, or index rows not served" "" "$(grep '^BAD' <<<"$out")"
	expect_eq "disk_corrupt" 0 "$(admin_stat "edge$round" disk_corrupt)"

	step "round $round: write-heavy load, then kill -9 at a random moment"
	start_origin "origin$round" -l "127.0.0.1:$OPORT"
	LOADERS=()
	load "$round"
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % 301) / 1000 }')"
	kill_node "edge$round"
	for p in "${LOADERS[@]}"; do wait "$p"; done
	stop_node "origin$round"

	step "round $round: every row of the crashed node's index names a complete, correct body"
	out=$(check_index)
	read -r rows nbad <<<"$(head -n 1 <<<"$out")"
	echo "   index rows $rows, bad $nbad, temp files $(find "$DIR/objects" -name '.tmp.*' | wc -l)"
	expect_eq "rows naming an incomplete or wrong body" "" "$(grep '^BAD' <<<"$out")"
	total_rows=$rows
done

step "after the last kill: the node serves, every indexed object is exact"
start_node edge final -u "$OURL" -d "$DIR" --mem-size 4M --disk-size 256M \
	--connect-timeout 1s --upstream-timeout 2s
get "$final_URL/.well-known/cdn/health"
expect_eq "health status" 200 "$STATUS"
out=$(check_served "$final_URL")
read -r hits errors <<<"$(head -n 1 <<<"$out")"
echo "   $(wc -l <"$KEYS") keys: $hits HIT, $errors upstream errors; index rows at the last kill $total_rows"
expect_eq "wrong answers, or index rows not served" "" "$(grep '^BAD' <<<"$out")"
expect_ge "objects that survived the kills (served as HIT)" 1 "$hits"
expect_eq "disk_corrupt" 0 "$(admin_stat final disk_corrupt)"

exit 0
