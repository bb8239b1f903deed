# lib.sh: the harness every integration test sources, first thing:
#
#     . "$(dirname "$0")/lib.sh"
#
# It re-executes the test under bash with a global time bound
# (CDN_TEST_TIMEOUT seconds, default 120), makes a fresh work directory
# $top_builddir/tests/integration/work/<test>/ for configs and daemon logs,
# starts daemons on 127.0.0.1 port 0 and reads their real ports back, and on
# exit stops every daemon it started (TERM, then KILL after 3 s). When the
# test fails it prints the tail of each daemon's log; a sanitizer report in
# any log fails the test.
#
# Run one test by hand from the build directory:
#     top_builddir=$PWD top_srcdir=/path/to/src sh ../tests/integration/i00001-basic-miss-hit.sh
# CDN_TEST_KEEP_GOING=1 reports every failed assertion instead of stopping at
# the first; CDN_TEST_TIMEOUT=N changes the time bound.
# Exit status: 0 pass, 77 skip, anything else fail (automake conventions).

# ---------------------------------------------------------------- POSIX prelude
# automake runs us with $(SHELL), which may be dash: hop into bash under
# `timeout` before any bash syntax is parsed.
if [ -z "${CDN_TEST_WRAPPED:-}" ]; then
	CDN_TEST_WRAPPED=1
	export CDN_TEST_WRAPPED
	if ! command -v bash >/dev/null 2>&1; then
		echo "SKIP: bash not found" >&2
		exit 77
	fi
	if command -v timeout >/dev/null 2>&1; then
		exec timeout -k 5 "${CDN_TEST_TIMEOUT:-120}" bash "$0" "$@"
	fi
	exec bash "$0" "$@"
fi

# ---------------------------------------------------------------- setup (bash)
set -u

TEST_NAME=$(basename "$0" .sh)
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
	if [ -x "$PWD/tests/origin/test-origin" ]; then top_builddir=$PWD
	elif [ -x "$top_srcdir/build/tests/origin/test-origin" ]; then top_builddir=$top_srcdir/build
	else top_builddir=$top_srcdir
	fi
fi
export top_srcdir top_builddir

ORIGIN_BIN=$top_builddir/tests/origin/test-origin
EDGE_BIN=$top_builddir/edge/cdn-edge
SHIELD_BIN=$top_builddir/shield/cdn-shield

WORK=$top_builddir/tests/integration/work/$TEST_NAME
rm -rf "$WORK"
mkdir -p "$WORK" || { echo "FAIL: cannot create $WORK" >&2; exit 99; }

TOKEN=testtoken
export TOKEN
printf '%s read push purge warm\n' "$TOKEN" >"$WORK/tokens"

declare -A _PIDS=()     # daemon name -> pid (only those still to be reaped)
declare -A _LOGS=()     # daemon name -> log file
_STEP="setup"
_REQ=0
STATUS=000
BODY=/dev/null
HDRS=/dev/null

for _tool in curl python3; do
	if ! command -v "$_tool" >/dev/null 2>&1; then
		echo "SKIP: $_tool not found" >&2
		exit 77
	fi
done

echo "# $TEST_NAME (work dir $WORK)"

# ---------------------------------------------------------------- reporting

# step DESCRIPTION: names what the next assertions check.
step() {
	_STEP="$*"
	echo "== $(date +%H:%M:%S) $*"
}

# fail MESSAGE: the test fails now (with CDN_TEST_KEEP_GOING=1 it goes on to
# show every failure, and fails at the end).
_FAILED=0
fail() {
	echo "FAIL [$TEST_NAME] step \"$_STEP\": $*" >&2
	_FAILED=1
	[ "${CDN_TEST_KEEP_GOING:-0}" = 1 ] || exit 1
	return 1
}

# die MESSAGE: the test fails now, even with CDN_TEST_KEEP_GOING=1 (the
# harness itself could not do what was asked).
die() {
	echo "FAIL [$TEST_NAME] step \"$_STEP\": $*" >&2
	exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: expected '$2', saw '$3'"
		return 1
	fi
	echo "   ok: $1 = '$3'"
}

# expect_ne WHAT UNEXPECTED ACTUAL
expect_ne() {
	if [ "$2" = "$3" ]; then
		fail "$1: expected anything but '$2', saw '$3'"
		return 1
	fi
	echo "   ok: $1 = '$3' (not '$2')"
}

# expect_match WHAT EXTENDED-REGEX ACTUAL
expect_match() {
	if ! [[ $3 =~ $2 ]]; then
		fail "$1: expected a match for /$2/, saw '$3'"
		return 1
	fi
	echo "   ok: $1 = '$3' (matches /$2/)"
}

# expect_ge WHAT MIN ACTUAL / expect_le WHAT MAX ACTUAL (integers)
expect_ge() {
	if ! [[ $3 =~ ^-?[0-9]+$ ]] || [ "$3" -lt "$2" ]; then
		fail "$1: expected an integer >= $2, saw '$3'"
		return 1
	fi
	echo "   ok: $1 = $3 (>= $2)"
}
expect_le() {
	if ! [[ $3 =~ ^-?[0-9]+$ ]] || [ "$3" -gt "$2" ]; then
		fail "$1: expected an integer <= $2, saw '$3'"
		return 1
	fi
	echo "   ok: $1 = $3 (<= $2)"
}

# now_ms: wall clock in milliseconds.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# next_second: sleeps until just after the wall clock's next whole second.
# Date has one-second resolution, so an object with max-age=1 fetched late in
# a second may already be stale a few milliseconds later; aligning first makes
# such tests deterministic.
next_second() {
	local ms=$(( $(date +%s%N) / 1000000 % 1000 ))
	sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", (1000 - m + 20) / 1000 }')"
}

# ---------------------------------------------------------------- daemons

_check_name() {
	[[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad daemon name '$1' (must be a shell variable name)"
}

# is_running PID: true while the process exists and is not a zombie.
is_running() {
	local st
	if [ -r "/proc/$1/stat" ]; then
		st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
		[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
	else
		kill -0 "$1" 2>/dev/null
	fi
}

# _wait_line NAME FILE PID SED-EXPR: waits (10 s) until FILE has a line the
# sed expression prints something for, and echoes that; fails if the daemon
# dies or never says it.
_wait_line() {
	local i out
	for ((i = 0; i < 200; i++)); do
		out=$(sed -n "$4" "$2" 2>/dev/null | head -n 1)
		if [ -n "$out" ]; then
			echo "$out"
			return 0
		fi
		if ! is_running "$3"; then
			echo "daemon $1 exited before listening; its log:" >&2
			tail -n 30 "$2" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "daemon $1 did not report listening within 10 s; its log:" >&2
	tail -n 30 "$2" >&2
	return 1
}

# start_origin NAME [ARGS...]: starts test-origin on 127.0.0.1:0 and sets
# NAME_PORT, NAME_URL and NAME_PID.
start_origin() {
	local name=$1 line
	shift
	_check_name "$name"
	[ -x "$ORIGIN_BIN" ] || die "test origin not built: $ORIGIN_BIN"
	"$ORIGIN_BIN" -l 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
	_PIDS[$name]=$!
	_LOGS[$name]=$WORK/$name.log
	declare -g "${name}_PID=$!"
	line=$(_wait_line "$name" "$WORK/$name.out" "$!" 's/^listening .*:\([0-9][0-9]*\)$/\1/p') ||
		die "origin $name did not start"
	declare -g "${name}_PORT=$line"
	declare -g "${name}_URL=http://127.0.0.1:$line"
	echo "   started origin $name pid $! at http://127.0.0.1:$line"
}

# start_node edge|shield NAME [ARGS...]: starts a node with its data and admin
# listeners on port 0, named NAME, with the test's token file, and sets
# NAME_PORT, NAME_URL, NAME_ADMIN_PORT, NAME_ADMIN (URLs on 127.0.0.1) and
# NAME_PID. Its stdout and stderr go to $WORK/NAME.log.
start_node() {
	local role=$1 name=$2
	shift 2
	start_node_raw "$role" "$name" -l 127.0.0.1:0 -a 127.0.0.1:0 --name "$name" \
		--token-file "$WORK/tokens" "$@"
}

# start_node_raw edge|shield NAME [ARGS...]: as start_node, but the node gets
# exactly ARGS. NAME_ADMIN is empty if the node reports no admin listener.
start_node_raw() {
	local role=$1 name=$2 bin line data admin
	shift 2
	_check_name "$name"
	case $role in
	edge) bin=$EDGE_BIN ;;
	shield) bin=$SHIELD_BIN ;;
	*) die "start_node: unknown role '$role'" ;;
	esac
	[ -x "$bin" ] || die "node binary not built: $bin"
	"$bin" "$@" >"$WORK/$name.log" 2>&1 &
	_PIDS[$name]=$!
	_LOGS[$name]=$WORK/$name.log
	declare -g "${name}_PID=$!"
	line=$(_wait_line "$name" "$WORK/$name.log" "$!" \
		's/.*listening data=[^ ]*:\([0-9][0-9]*\)\( admin=[^ ]*:\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p') ||
		die "$role $name did not start"
	data=${line%% *}
	admin=${line#* }
	declare -g "${name}_PORT=$data"
	declare -g "${name}_URL=http://127.0.0.1:$data"
	declare -g "${name}_ADMIN_PORT=$admin"
	declare -g "${name}_ADMIN=${admin:+http://127.0.0.1:$admin}"
	echo "   started $role $name pid $! data http://127.0.0.1:$data admin ${admin:-none}"
}

# run_node edge|shield OUT ERR [ARGS...]: runs a node that is expected to
# exit by itself (help, version, bad flags), 10 s bound; prints its status.
run_node() {
	local role=$1 out=$2 err=$3 bin
	shift 3
	case $role in
	edge) bin=$EDGE_BIN ;;
	shield) bin=$SHIELD_BIN ;;
	*) die "run_node: unknown role '$role'" ;;
	esac
	[ -x "$bin" ] || die "node binary not built: $bin"
	timeout -k 2 10 "$bin" "$@" >"$out" 2>"$err" </dev/null
	echo $?
}

# _reap NAME SECONDS: waits (bounded) for NAME to exit; sets NAME_EXIT to its
# status. Returns 1 if it is still running.
_reap() {
	local name=$1 pid=${_PIDS[$1]:-} i
	[ -n "$pid" ] || return 0
	for ((i = 0; i < $2 * 20; i++)); do
		is_running "$pid" || break
		sleep 0.05
	done
	is_running "$pid" && return 1
	wait "$pid" 2>/dev/null
	declare -g "${name}_EXIT=$?"
	unset "_PIDS[$name]"
	return 0
}

# stop_node NAME: SIGTERM, then wait up to 10 s; sets NAME_EXIT. Fails the
# test if it does not exit. Works for origins too.
stop_node() {
	local pid=${_PIDS[$1]:-}
	[ -n "$pid" ] || die "stop_node: no running daemon '$1'"
	kill -TERM "$pid" 2>/dev/null
	_reap "$1" 10 || die "$1 (pid $pid) still running 10 s after SIGTERM"
}

# kill_node NAME: SIGKILL and reap.
kill_node() {
	local pid=${_PIDS[$1]:-}
	[ -n "$pid" ] || die "kill_node: no running daemon '$1'"
	kill -KILL "$pid" 2>/dev/null
	_reap "$1" 10 || die "$1 (pid $pid) survived SIGKILL"
}

# signal_node NAME SIG: sends a signal (HUP, USR1, ...) without waiting.
signal_node() {
	local pid=${_PIDS[$1]:-}
	[ -n "$pid" ] || die "signal_node: no running daemon '$1'"
	kill "-$2" "$pid" || die "cannot send SIG$2 to $1"
}

# node_log NAME: path of a daemon's log.
node_log() {
	echo "${_LOGS[$1]:-$WORK/$1.log}"
}

_cleanup() {
	local rc=$? name pid bad=0
	trap - EXIT TERM INT HUP
	for name in "${!_PIDS[@]}"; do
		kill -TERM "${_PIDS[$name]}" 2>/dev/null
	done
	for name in "${!_PIDS[@]}"; do
		if ! _reap "$name" 3; then
			pid=${_PIDS[$name]}
			echo "# $name (pid $pid) ignored SIGTERM for 3 s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	for name in "${!_LOGS[@]}"; do
		if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
			"${_LOGS[$name]}" 2>/dev/null; then
			echo "FAIL [$TEST_NAME]: sanitizer report in the log of $name:" >&2
			grep -E -A 30 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
				"${_LOGS[$name]}" | head -n 60 >&2
			bad=1
		fi
	done
	if [ "$rc" -eq 0 ] && { [ "$bad" -ne 0 ] || [ "$_FAILED" -ne 0 ]; }; then
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for name in "${!_LOGS[@]}"; do
			echo "---- last lines of $name's log (${_LOGS[$name]}):" >&2
			tail -n 25 "${_LOGS[$name]}" >&2 2>/dev/null
		done
		echo "# $TEST_NAME: FAIL (status $rc); logs are in $WORK" >&2
	else
		[ "$rc" -eq 0 ] && echo "# $TEST_NAME: PASS"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'die "interrupted (global time limit ${CDN_TEST_TIMEOUT:-120} s, or a signal)"' TERM INT HUP

# ---------------------------------------------------------------- HTTP

# get URL [CURL-ARGS...]: one request with curl (10 s bound). Sets STATUS
# (000 when there was no HTTP answer), BODY (file), HDRS (file), CURL_RC and
# TIME_MS. Use `get URL -I` for HEAD.
get() {
	local url=$1 out
	shift
	_REQ=$((_REQ + 1))
	HDRS=$WORK/resp.$_REQ.hdr
	BODY=$WORK/resp.$_REQ.body
	: >"$HDRS"
	: >"$BODY"
	out=$(curl -sS --max-time 10 -D "$HDRS" -o "$BODY" -w '%{http_code} %{time_total}' "$@" "$url" \
		2>"$WORK/resp.$_REQ.err")
	CURL_RC=$?
	STATUS=${out% *}
	[ -n "$STATUS" ] || STATUS=000
	TIME_MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
}

# hdr NAME: the value of a header of the last response (the final block of
# HDRS), repeated fields joined with ", "; empty when absent.
hdr() {
	awk -v want="$(echo "$1" | tr '[:upper:]' '[:lower:]')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { n = 0; v = ""; next }
		{
			i = index($0, ":")
			if (i == 0) next
			name = tolower(substr($0, 1, i - 1))
			if (name != want) next
			val = substr($0, i + 1)
			sub(/^[ \t]+/, "", val); sub(/[ \t]+$/, "", val)
			v = (n++ ? v ", " : "") val
		}
		END { printf "%s", v }' "$HDRS"
}

# has_hdr NAME: true if the last response carried the header.
has_hdr() {
	awk -v want="$(echo "$1" | tr '[:upper:]' '[:lower:]')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { found = 0; next }
		tolower(substr($0, 1, index($0, ":") - 1)) == want { found = 1 }
		END { exit !found }' "$HDRS"
}

# body: the body of the last response.
body() {
	cat "$BODY"
}

# origin_count NAME TARGET: requests the origin recorded for exactly TARGET.
origin_count() {
	local url=${1}_URL
	curl -sS --max-time 10 -G --data-urlencode "target=$2" "${!url}/__origin/count" | tr -d '\r\n '
}

# origin_total NAME: every request the origin recorded.
origin_total() {
	local url=${1}_URL
	curl -sS --max-time 10 "${!url}/__origin/total" | tr -d '\r\n '
}

# origin_requests NAME: the JSON array of recorded requests.
origin_requests() {
	local url=${1}_URL
	curl -sS --max-time 10 "${!url}/__origin/requests"
}

# origin_reset NAME: forget every recorded request.
origin_reset() {
	local url=${1}_URL
	curl -sS --max-time 10 -X POST "${!url}/__origin/reset" >/dev/null
}

# origin_last NAME METHOD PATH-PREFIX: the JSON object of the last recorded
# request with that method whose target starts with the prefix ("" if none).
origin_last() {
	origin_requests "$1" | python3 -c '
import json, sys
reqs = [r for r in json.load(sys.stdin)
        if r["method"] == sys.argv[1] and r["target"].startswith(sys.argv[2])]
print(json.dumps(reqs[-1]) if reqs else "")' "$2" "$3"
}

# origin_override NAME TARGET [QUERY]: from now on the origin answers a
# request for exactly TARGET as if its query were QUERY (see test-origin.c);
# without QUERY the override is removed. The request is still counted under
# TARGET.
origin_override() {
	local url=${1}_URL
	if [ $# -ge 3 ]; then
		curl -sS --max-time 10 -X POST -G --data-urlencode "target=$2" --data-urlencode "q=$3" \
			"${!url}/__origin/override" >/dev/null
	else
		curl -sS --max-time 10 -X POST -G --data-urlencode "target=$2" \
			"${!url}/__origin/override" >/dev/null
	fi
}

# origin_max_inflight NAME: the most requests the origin had in progress at
# once since it started or was last reset.
origin_max_inflight() {
	local url=${1}_URL
	curl -sS --max-time 10 "${!url}/__origin/max_inflight" | tr -d '\r\n '
}

# origin_req_hdr NAME TARGET FIELD [N]: the value of request field FIELD
# (any case) in the N-th recorded request (1-based; default: the last) for
# exactly TARGET; "(none)" when that request lacked it, "(no request)" when
# there is no such request.
origin_req_hdr() {
	origin_requests "$1" | python3 -c '
import json, sys
reqs = [r for r in json.load(sys.stdin) if r["target"] == sys.argv[1]]
n = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else len(reqs)
if n < 1 or n > len(reqs):
    print("(no request)")
else:
    print(reqs[n - 1]["headers"].get(sys.argv[2].lower(), "(none)"))' "$2" "$3" "${4:-}"
}

# urlenc STRING: STRING percent-encoded for a query value (only unreserved
# characters left as they are).
urlenc() {
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# http_date [OFFSET]: the IMF-fixdate of now + OFFSET seconds (default 0).
http_date() {
	LC_ALL=C date -u -d "@$(( $(date +%s) + ${1:-0} ))" '+%a, %d %b %Y %H:%M:%S GMT'
}

# sleep_until EPOCH: sleeps until 20 ms after the wall clock reaches whole
# second EPOCH (returns at once if that is past). With next_second this gives
# cached objects an exact age in whole seconds.
sleep_until() {
	local ms=$(( $1 * 1000 + 20 - $(date +%s%N) / 1000000 ))
	[ "$ms" -gt 0 ] && sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
	return 0
}

# json_get PATH < JSON: prints the value at a dotted path (a.b.0.c); objects
# and arrays as JSON, strings raw, nothing if absent.
json_get() {
	python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for k in sys.argv[1].split(".") if sys.argv[1] else []:
        v = v[int(k)] if isinstance(v, list) else v[k]
except Exception:
    sys.exit(0)
if isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (dict, list)):
    print(json.dumps(v))
elif v is not None:
    print(v)' "$1"
}

# admin_stat NODE KEY: the integer value of top-level KEY in the node's
# /stats JSON (empty if the request or the key fails).
admin_stat() {
	local admin=${1}_ADMIN
	curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "${!admin}/stats" | python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)[sys.argv[1]]
    print(int(v))
except Exception:
    pass' "$2"
}

# sha256 FILE: the hex SHA-256 of a file.
sha256() {
	python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; returns 1
# on timeout.
wait_for() {
	local limit=$(( $1 * 10 )) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- routing

# admin_json NODE [PATH]: the node's /stats JSON, or the value at a dotted
# path in it (as json_get prints it; nothing when absent).
admin_json() {
	local admin=${1}_ADMIN
	curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "${!admin}/stats" | json_get "${2:-}"
}

# stats_eval NODE PYTHON-EXPRESSION: evaluates the expression with `s` bound
# to the node's /stats JSON and prints the result (booleans as true/false,
# None as nothing); prints nothing if /stats or the expression fails.
stats_eval() {
	local admin=${1}_ADMIN
	curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "${!admin}/stats" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception:
    sys.exit(0)
if isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (dict, list)):
    print(json.dumps(v))
elif v is not None:
    print(v)' "$2"
}

# upstream_up NODE URL: "true" or "false", the state NODE's /stats gives the
# upstream URL in its tiers (the first tier listing it); "" when absent.
upstream_up() {
	stats_eval "$1" "next(n['up'] for t in s['tiers'] for n in t['nodes'] if n['url'].rstrip('/') == '${2%/}')"
}

# upstream_is NODE URL true|false: for wait_for.
upstream_is() {
	[ "$(upstream_up "$1" "$2")" = "$3" ]
}

# ring_owners KEYFILE URL...: for each key in KEYFILE (a request target, one
# a line) prints "INDEX KEY": INDEX (0-based, into the URLs) is the owner of
# the key on a ring of those upstreams, each of weight 1 with the default
# 1000 points, computed in Python from the hash common/net/ring.h documents
# (node id "host:port", points from SHA-256 of "id#g", key position fmix64
# of the key's FNV-1a), independently of the C code.
ring_owners() {
	local keys=$1
	shift
	python3 - "$keys" "$@" <<'PYEOF'
import bisect, hashlib, sys, urllib.parse
M = (1 << 64) - 1
def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    return h
def fmix(h):
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33; h = (h * 0xc4ceb9fe1a85ec53) & M
    h ^= h >> 33
    return h
pts = []
for idx, url in enumerate(sys.argv[2:]):
    u = urllib.parse.urlsplit(url)
    nid = "%s:%d" % (u.hostname.lower(), u.port or (443 if u.scheme == "https" else 80))
    for g in range(1000 // 4):
        d = hashlib.sha256(("%s#%d" % (nid, g)).encode()).digest()
        for j in range(4):
            pts.append((int.from_bytes(d[8 * j:8 * j + 8], "big"), nid, idx))
pts.sort()
pos = [p[0] for p in pts]
for line in open(sys.argv[1]):
    key = line.rstrip("\n")
    if not key:
        continue
    i = bisect.bisect_left(pos, fmix(fnv(key.encode())))
    print(pts[i % len(pts)][2], key)
PYEOF
}

# cache_status_of NAME: the Cache-Status entry of node NAME in the last
# response ("" when it added none).
cache_status_of() {
	hdr Cache-Status | tr ',' '\n' | sed 's/^ *//' | grep -E "^$1;" | head -n 1
}

# answered_by NAME...: the first of the nodes NAME... that has an entry in
# the Cache-Status of the last response (the one the request went through);
# "" if none.
answered_by() {
	local n
	for n in "$@"; do
		if [ -n "$(cache_status_of "$n")" ]; then
			echo "$n"
			return 0
		fi
	done
}
