#!/bin/sh
# i00053-upload-tier: cdn-upload sends a directory of 1,000 files (0 bytes
# to 10 MiB, nested directories, names with spaces) to a tier of three
# shields (N=3, W=2). Every file comes back byte-identical through an edge
# with its Repr-Digest, and the origin is never asked. With one shield
# killed every file is still served (through a new edge) and a new upload
# still succeeds; the killed shield, restarted, holds every file written
# while it was down within a minute. A corrupted replica is never served
# and is repaired. A re-run of the same upload skips every file.
CDN_TEST_TIMEOUT=${CDN_TEST_TIMEOUT:-400}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

UPLOAD_BIN=$top_builddir/tools/cdn-upload
[ -x "$UPLOAD_BIN" ] || die "cdn-upload not built: $UPLOAD_BIN"

start_origin origin
P1=$(free_port); P2=$(free_port); P3=$(free_port)
start_shield() { # N
	local port=P$1 peers=() i
	for i in 1 2 3; do
		[ "$i" = "$1" ] && continue
		local pp=P$i
		peers+=(--peer "http://127.0.0.1:${!pp}")
	done
	start_node_raw shield "s$1" -l "127.0.0.1:${!port}" -a 127.0.0.1:0 --name "s$1" \
		--token-file "$WORK/tokens" -u "$origin_URL" -d "$WORK/s$1" "${peers[@]}" \
		--disk-size 2G --push-sync-interval 2s --health-interval 250ms
}
start_shield 1
start_shield 2
start_shield 3
start_node edge e1 -u "$s1_URL" -u "$s2_URL" -u "$s3_URL" --mem-size 64M
wait_for 30 push_tier_ready s1 s2 s3 || die "the shields did not sync with each other within 30 s"

# make_tree DIR COUNT SEED: COUNT files, sizes 0..10 MiB (every 100th is
# 10 MiB, the first is empty, the rest up to 64 KiB), in nested folders.
make_tree() {
	python3 - "$1" "$2" "$3" <<'EOF'
import os, random, sys
root, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
for i in range(count):
    d = os.path.join(root, "d%d" % (i % 7), "sub %d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    if i == 0:
        n = 0
    elif i % 100 == 50:
        n = 10 * 1024 * 1024
    else:
        n = rnd.randint(1, 65536)
    with open(os.path.join(d, "file %04d.bin" % i), "wb") as f:
        f.write(rnd.randbytes(n))
EOF
}
# check_tree DIR BASE-URL PREFIX: fetches every file of DIR at
# BASE-URL/PREFIX/RELPATH (percent-encoded) over one keep-alive connection
# and prints "ok N" or the first mismatches.
check_tree() {
	python3 - "$@" <<'EOF'
import base64, hashlib, http.client, os, sys, urllib.parse
root, base, prefix = sys.argv[1], urllib.parse.urlsplit(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
bad, n = [], 0
for dp, dn, fn in os.walk(root):
    for f in fn:
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)
        key = prefix + "/" + "/".join(urllib.parse.quote(s, safe="") for s in rel.split(os.sep))
        data = open(p, "rb").read()
        want = "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"
        conn.request("GET", key)
        r = conn.getresponse()
        body = r.read()
        n += 1
        if r.status != 200 or body != data or r.getheader("Repr-Digest") != want:
            bad.append("%s: status %d, %d bytes (want %d), Repr-Digest %s" % (
                key, r.status, len(body), len(data), r.getheader("Repr-Digest")))
print("ok %d" % n if not bad else "\n".join(bad[:5]) + "\n(%d bad of %d)" % (len(bad), n))
EOF
}
upload() { # OUT PATH... : runs cdn-upload against s1, output in OUT; sets UPLOAD_RC
	local out=$1
	shift
	timeout -k 5 300 "$UPLOAD_BIN" --server "$s1_ADMIN" --token "$TOKEN" --jobs 4 "$@" \
		>"$out" 2>&1 </dev/null
	UPLOAD_RC=$?
}
holds() {
	local admin=${1}_ADMIN
	[ "$(curl -sS -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $TOKEN" \
		-H 'X-Cdn-Push-Local: 1' "${!admin}/push$2")" = 200 ]
}
# holds_tree NODE DIR PREFIX: NODE holds every file of DIR.
holds_tree() {
	python3 - "$@" "$(v=${1}_ADMIN; echo "${!v}")" "$TOKEN" <<'EOF'
import http.client, os, sys, urllib.parse
node, root, prefix, admin, token = sys.argv[1:6]
u = urllib.parse.urlsplit(admin)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for dp, dn, fn in os.walk(root):
    for f in fn:
        rel = os.path.relpath(os.path.join(dp, f), root)
        key = prefix + "/" + "/".join(urllib.parse.quote(s, safe="") for s in rel.split(os.sep))
        conn.request("HEAD", "/push" + key, headers={"Authorization": "Bearer " + token,
                                                     "X-Cdn-Push-Local": "1"})
        r = conn.getresponse(); r.read()
        if r.status != 200:
            sys.exit(1)
EOF
}

make_tree "$WORK/site" 1000 1
step "upload 1,000 files (0 B to 10 MiB) to the tier: exit 0, all uploaded"
t0=$(now_ms)
upload "$WORK/up1.out" --prefix /site "$WORK/site"
t1=$(now_ms)
expect_eq "exit status" 0 "$UPLOAD_RC"
expect_match "summary" "uploaded 1000, skipped 0, failed 0" "$(tail -n 3 "$WORK/up1.out")"
echo "   (1000 files, $(du -sb "$WORK/site" | cut -f1) bytes, in $((t1 - t0)) ms)"

step "every file through the edge: byte-identical, with its Repr-Digest; origin never asked"
expect_eq "check" "ok 1000" "$(check_tree "$WORK/site" "$e1_URL" /site)"
expect_eq "origin requests under /site" 0 "$(origin_requests origin | python3 -c '
import json, sys; print(sum(1 for r in json.load(sys.stdin) if r["target"].startswith("/site")))')"
for n in s1 s2 s3; do
	wait_for 30 holds_tree "$n" "$WORK/site" /site || fail "$n does not hold every file"
done

step "a corrupted replica on s2 is never served and is repaired"
f=$(find "$WORK/s2/objects" -type f -size 10485760c | head -n 1)
[ -n "$f" ] || die "no 10 MiB body file on s2"
good=$(sha256 "$f")
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096); b = f.read(1); f.seek(4096); f.write(bytes([b[0] ^ 1]))' "$f"
# Restarted, s2's memory tier is empty: every answer is read from disk.
stop_node s2
start_shield 2
expect_eq "s2 serves the good bytes of every file" "ok 1000" "$(check_tree "$WORK/site" "$s2_URL" /site)"
expect_ge "s2 counted the corruption" 1 "$(admin_json s2 disk.corrupt)"
expect_ge "s2 repaired from a replica" 1 "$(admin_json s2 push.repairs)"
expect_eq "s2's file is good again" 1 "$(find "$WORK/s2/objects" -type f -size 10485760c -exec sha256sum {} + | grep -c "$good")"

step "s3 killed: every file still served (new edge), and a new upload succeeds on W=2"
kill_node s3
start_node edge e2 -u "$s1_URL" -u "$s2_URL" -u "$s3_URL" --mem-size 64M
expect_eq "check through e2" "ok 1000" "$(check_tree "$WORK/site" "$e2_URL" /site)"
make_tree "$WORK/more" 50 2
upload "$WORK/up2.out" --prefix /more "$WORK/more"
expect_eq "exit status" 0 "$UPLOAD_RC"
expect_match "summary" "uploaded 50, skipped 0, failed 0" "$(tail -n 3 "$WORK/up2.out")"
expect_eq "new files through e2" "ok 50" "$(check_tree "$WORK/more" "$e2_URL" /more)"

step "s3 restarted holds every file written while it was down, within a minute"
start_shield 3
t0=$(now_ms)
wait_for 60 holds_tree s3 "$WORK/more" /more || fail "s3 lacks files of /more 60 s after restart"
echo "   (caught up in $(( $(now_ms) - t0 )) ms)"
expect_eq "s3 serves them" "ok 50" "$(check_tree "$WORK/more" "$s3_URL" /more)"

step "a re-run of the same upload skips every file"
upload "$WORK/up3.out" --prefix /site "$WORK/site"
expect_eq "exit status" 0 "$UPLOAD_RC"
expect_match "summary" "uploaded 0, skipped 1000, failed 0" "$(tail -n 3 "$WORK/up3.out")"
