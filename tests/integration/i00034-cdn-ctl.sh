#!/bin/sh
# i00034-cdn-ctl: the control-plane CLI end to end against a shield and an
# edge: purge (exact URLs, every Vary variant), ban (prefix), purge-tag
# (Surrogate-Key), soft purges, warm (through the edge's own data listener
# and the shield, with progress and counts per outcome, from arguments and
# from a manifest), stats, events, --json, and the exit codes (0 done,
# 1 failed, 2 usage).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

[ -x "$CTL_BIN" ] || die "cdn-ctl not built: $CTL_BIN"

start_origin origin
start_node shield shield1 -u "$origin_URL"
start_node edge edge1 -u "$shield1_URL"

# ctl NODE ARGS...: runs cdn-ctl against NODE's admin listener; sets
# CTL_RC, CTL_OUT (stdout file) and CTL_ERR (stderr file).
_CTLN=0
ctl() {
	local admin=${1}_ADMIN
	shift
	_CTLN=$((_CTLN + 1))
	CTL_OUT=$WORK/ctl.$_CTLN.out
	CTL_ERR=$WORK/ctl.$_CTLN.err
	timeout -k 2 20 "$CTL_BIN" --server "${!admin}" --token "$TOKEN" "$@" >"$CTL_OUT" 2>"$CTL_ERR" </dev/null
	CTL_RC=$?
	echo "   cdn-ctl $* -> $CTL_RC: $(head -c 300 "$CTL_OUT" | tr '\n' '|')"
}

cached() {
	get "$edge1_URL$1"
	[ "$(hdr X-Cache)" = HIT ]
}

fill() {
	local x
	for x in "$@"; do
		get "$edge1_URL$x"
		wait_for 5 is_hit "$edge1_URL$x" || fail "edge1 does not cache $x"
	done
}

step "usage errors exit 2, --help and --version exit 0"
"$CTL_BIN" --help >"$WORK/help.out" 2>&1
expect_eq "--help status" 0 "$?"
expect_match "--help has examples" 'Examples:' "$(cat "$WORK/help.out")"
"$CTL_BIN" --version >/dev/null 2>&1
expect_eq "--version status" 0 "$?"
"$CTL_BIN" --server "$edge1_ADMIN" --token "$TOKEN" >/dev/null 2>&1
expect_eq "no command" 2 "$?"
"$CTL_BIN" --token "$TOKEN" stats >/dev/null 2>&1
expect_eq "no server" 2 "$?"
ctl edge1 frobnicate
expect_eq "unknown command" 2 "$CTL_RC"
ctl edge1 purge
expect_eq "purge without URLs" 2 "$CTL_RC"
ctl edge1 ban /a /b
expect_eq "ban with two prefixes" 2 "$CTL_RC"
ctl edge1 --bogus stats
expect_eq "unknown option" 2 "$CTL_RC"

step "a wrong token or an unreachable server exits 1"
"$CTL_BIN" --server "$edge1_ADMIN" --token wrong-token-x stats >/dev/null 2>"$WORK/wrong.err"
expect_eq "wrong token" 1 "$?"
expect_match "says why" '401' "$(cat "$WORK/wrong.err")"
"$CTL_BIN" --server http://127.0.0.1:1 --token "$TOKEN" stats >/dev/null 2>&1
expect_eq "unreachable" 1 "$?"

step "purge: exact URLs (absolute or paths) at the shield reach the edge"
A='/ctl/a?cc=max-age%3D300'
B='/ctl/b?cc=max-age%3D300'
V='/ctl/v?cc=max-age%3D300&h=Vary%3AAccept-Language'
fill "$A" "$B"
get "$edge1_URL$V" -H 'Accept-Language: en'
get "$edge1_URL$V" -H 'Accept-Language: fr'
wait_for 5 is_hit "$edge1_URL$V" -H 'Accept-Language: fr' || fail "variant fr not cached"
ctl shield1 purge --wait "http://www.example.com$A" "$V"
expect_eq "purge status" 0 "$CTL_RC"
expect_match "readable answer" '^purged 2 objects' "$(head -n 1 "$CTL_OUT")"
expect_match "receipt of edge1" 'edge1 +applied after' "$(cat "$CTL_OUT")"
cached "$A" && fail "A still cached at edge1"
get "$edge1_URL$V" -H 'Accept-Language: fr'
expect_ne "variant fr after the purge" HIT "$(hdr X-Cache)"
cached "$B" || fail "B was purged too"

step "ban: every URL under a prefix"
P1='/ctl/p/one?cc=max-age%3D300'
P2='/ctl/p/two/deep?cc=max-age%3D300'
Q='/ctl/q?cc=max-age%3D300'
fill "$P1" "$P2" "$Q"
ctl shield1 --json ban /ctl/p/ --wait
expect_eq "ban status" 0 "$CTL_RC"
expect_eq "--json answer: purged at the shield" 2 "$(json_get purged <"$CTL_OUT")"
expect_eq "--json answer: receipts complete" true "$(json_get receipts.complete <"$CTL_OUT")"
cached "$P1" && fail "P1 still cached"
cached "$P2" && fail "P2 still cached"
cached "$Q" || fail "Q was banned too"

step "purge-tag: objects whose Surrogate-Key lists a tag"
G1='/ctl/g1?cc=max-age%3D300&h=Surrogate-Key%3Aproduct-1%20sale'
G2='/ctl/g2?cc=max-age%3D300&h=Surrogate-Key%3Aproduct-2'
G3='/ctl/g3?cc=max-age%3D300&h=Surrogate-Key%3Aproduct-3%20sale'
fill "$G1" "$G2" "$G3"
ctl shield1 purge-tag sale --wait
expect_eq "purge-tag status" 0 "$CTL_RC"
expect_match "two tagged objects at the shield" '^purged 2 objects' "$(head -n 1 "$CTL_OUT")"
cached "$G1" && fail "G1 still cached"
cached "$G3" && fail "G3 still cached"
cached "$G2" || fail "G2 was purged but is not tagged sale"

step "soft purge-tag marks stale: revalidated, body kept"
S='/ctl/s?cc=max-age%3D300&etag=s1&h=Surrogate-Key%3Asoft-one'
fill "$S"
ctl shield1 --soft purge-tag soft-one --wait
expect_eq "soft purge-tag status" 0 "$CTL_RC"
expect_match "readable answer" '^marked stale 1 object' "$(head -n 1 "$CTL_OUT")"
get "$edge1_URL$S"
expect_eq "status" 200 "$STATUS"
expect_ne "not a plain hit" HIT "$(hdr X-Cache)"
expect_eq "the shield revalidated with the origin" '"s1"' "$(origin_req_hdr origin "$S" if-none-match)"

step "warm: URLs through the edge (and the shield), with progress and outcomes"
W1='/ctl/w1?cc=max-age%3D300'
W2='/ctl/w2?cc=max-age%3D300'
W3='/ctl/w3?cc=max-age%3D300&delay_ms=300'
ctl edge1 warm "$W1" "$W2" "$W3" "$B"
expect_eq "warm status" 0 "$CTL_RC"
expect_match "progress lines (not a terminal)" '^warm job [0-9]+: [0-9]+/4 done' "$(head -n 1 "$CTL_OUT")"
expect_match "summary" 'warm job [0-9]+ done: 4 URLs in .*fetched 3 hit 1' "$(cat "$CTL_OUT")"
for x in "$W1" "$W2" "$W3"; do
	cached "$x" || fail "$x not cached at edge1 after warm"
	expect_eq "origin requests for $x" 1 "$(origin_count origin "$x")"
done
get "$shield1_URL$W1"
expect_eq "warm went through the shield" HIT "$(hdr X-Cache)"

step "warm from a manifest, with a failing URL: exit 1, failure listed"
cat >"$WORK/manifest" <<EOF
# top URLs
/ctl/m1?cc=max-age%3D300

http://www.example.com/ctl/m2?cc=max-age%3D300
/ctl/broken?status=500
EOF
ctl edge1 warm --file "$WORK/manifest"
expect_eq "warm with a failure" 1 "$CTL_RC"
expect_match "failure listed" 'failed: /ctl/broken\?status=500: HTTP 500' "$(cat "$CTL_OUT")"
cached '/ctl/m2?cc=max-age%3D300' || fail "m2 (absolute URL in the manifest) not cached"
ctl edge1 --json warm '/ctl/m3?cc=max-age%3D300'
expect_eq "--json warm status" 0 "$CTL_RC"
expect_eq "--json warm: done" done "$(json_get state <"$CTL_OUT")"
expect_eq "--json warm: fetched" 1 "$(json_get outcomes.fetched <"$CTL_OUT")"
ctl edge1 warm --detach '/ctl/m4?cc=max-age%3D300'
expect_eq "--detach" 0 "$CTL_RC"
job=$(sed -n 's/^warm job \([0-9]*\) queued.*/\1/p' "$CTL_OUT")
expect_match "job id" '^[0-9]+$' "$job"
wait_for 5 cached '/ctl/m4?cc=max-age%3D300' || fail "detached warm job did not run"
ctl edge1 job "$job"
expect_match "job" "^warm job $job: done, 1/1 done, 0 failed" "$(cat "$CTL_OUT")"
ctl edge1 warm '/ctl/x' 'no-slash'
expect_eq "bad URL refused by the server" 1 "$CTL_RC"
printf 'not a url\n' >"$WORK/bad-manifest"
ctl edge1 warm --file "$WORK/bad-manifest"
expect_eq "bad manifest line is a usage error" 2 "$CTL_RC"

step "stats: readable and --json"
ctl shield1 stats
expect_eq "stats status" 0 "$CTL_RC"
expect_match "node line" '^node +shield1 \(shield\)' "$(head -n 1 "$CTL_OUT")"
expect_match "children listed" 'edge1 +connected' "$(cat "$CTL_OUT")"
ctl edge1 stats
expect_match "subscription listed" "$shield1_URL +streaming" "$(cat "$CTL_OUT")"
ctl edge1 --json stats
expect_eq "--json stats is JSON" edge1 "$(json_get name <"$CTL_OUT")"

step "events: the shield's log from the start"
ctl shield1 events --since 0 --count 4
expect_eq "events status" 0 "$CTL_RC"
expect_eq "four events so far" 4 "$(grep -c " purge " "$CTL_OUT")"
expect_match "the ban is there" 'prefix /ctl/p/' "$(cat "$CTL_OUT")"
expect_match "the tag purge is there" 'tags sale' "$(cat "$CTL_OUT")"
ctl shield1 --json events --since 0 --count 1
expect_eq "--json event" purge "$(json_get event <"$CTL_OUT")"
expect_match "--json event uid" '^[0-9a-f]{16}:1$' "$(json_get data.uid <"$CTL_OUT")"

step "purge-all"
fill "$B"
ctl shield1 purge-all --wait
expect_eq "purge-all status" 0 "$CTL_RC"
cached "$B" && fail "B survived purge-all"

exit 0
