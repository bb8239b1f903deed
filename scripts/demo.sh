#!/usr/bin/env bash
# Try it: an origin, a shield and an edge on loopback, serving etc/demo/
# pulled from the origin and pushed into the shield.
#
#   scripts/demo.sh
#
#   browser/curl ──► cdn-edge :8080 ──► cdn-shield :8081 ──► test-origin :8082
#                                           ▲
#                       cdn-upload ─────────┘ (admin :9081, PUT /push/...)
#
# Installs missing packages (scripts/deps.sh), builds (scripts/build.sh),
# starts the three processes (logs and the shield's cache dir in .demo/),
# fetches /index.html twice through the edge to show MISS then HIT, pushes
# etc/demo/ into the shield under /pushed/ with cdn-upload, fetches
# /pushed/index.html twice through the edge (the origin is never asked),
# and waits. Ctrl-C stops all three.
#
# Environment: EDGE_PORT (8080), EDGE_ADMIN_PORT (9080), SHIELD_PORT (8081),
# SHIELD_ADMIN_PORT (9081), ORIGIN_PORT (8082), BUILDDIR (<repo>/build),
# READY_TIMEOUT (seconds to wait for each process, 15).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
host=127.0.0.1
edge_port=${EDGE_PORT:-8080}
edge_admin_port=${EDGE_ADMIN_PORT:-9080}
shield_port=${SHIELD_PORT:-8081}
shield_admin_port=${SHIELD_ADMIN_PORT:-9081}
origin_port=${ORIGIN_PORT:-8082}
ready_timeout=${READY_TIMEOUT:-15}
logdir=$srcdir/.demo

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "demo.sh: unknown argument: $1" >&2; exit 2 ;;
esac

pids=()
names=()

stop_all() {
	local i pid
	trap - INT TERM EXIT
	for i in "${!pids[@]}"; do
		pid=${pids[$i]}
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for i in "${!pids[@]}"; do
		pid=${pids[$i]}
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "demo.sh: ${names[$i]} (pid $pid) ignored SIGTERM, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	((${#pids[@]} == 0)) || echo "demo.sh: stopped ${names[*]}; logs in $logdir/"
}

# shellcheck disable=SC2317 # called from a trap
on_signal() {
	echo
	stop_all
	exit 0
}

# Succeeds when something on this host could bind HOST:PORT (SO_REUSEADDR, as
# servers use, so connections in TIME_WAIT do not count as busy).
port_free() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# usage: start NAME PATTERN COMMAND...
# Starts COMMAND with output in .demo/NAME.log and waits (bounded) until a line
# matching PATTERN appears in it.
start() {
	local name=$1 pattern=$2 log pid
	shift 2
	log=$logdir/$name.log
	: >"$log"
	# stdbuf: make the ready line visible at once even if it goes to stdout.
	stdbuf -oL -eL "$@" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	names+=("$name")
	local deadline=$((SECONDS + ready_timeout))
	while ! grep -qE "$pattern" "$log"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "demo.sh: $name exited before it was ready; last lines of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "demo.sh: $name not ready after ${ready_timeout}s (no line matching '$pattern'); last lines of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	printf 'demo.sh: %-7s pid %-7s %s\n' "$name" "$pid" "$(grep -m1 -oE "$pattern.*" "$log")"
}

# usage: show N URL -- fetch URL, print status and cache headers, set got_xcache.
got_xcache=
show() {
	local n=$1 url=$2 hdrs status xcache cstatus age
	if ! hdrs=$(curl -sS --max-time 10 -o /dev/null -D - "$url"); then
		echo "demo.sh: request $n to $url failed" >&2
		return 1
	fi
	hdrs=${hdrs//$'\r'/}
	status=$(head -n1 <<<"$hdrs")
	xcache=$(sed -n 's/^[Xx]-[Cc]ache: *//p' <<<"$hdrs" | head -n1)
	cstatus=$(sed -n 's/^[Cc]ache-[Ss]tatus: *//p' <<<"$hdrs" | paste -sd, -)
	age=$(sed -n 's/^[Aa]ge: *//p' <<<"$hdrs" | head -n1)
	printf '  request %s: %s\n' "$n" "$status"
	printf '             X-Cache: %s\n' "${xcache:-(none)}"
	printf '             Cache-Status: %s\n' "${cstatus:-(none)}"
	printf '             Age: %s\n' "${age:-(none)}"
	got_xcache=$xcache
}

bash "$srcdir/scripts/deps.sh"
busy=0
for spec in "ORIGIN_PORT:$origin_port" "SHIELD_PORT:$shield_port" "SHIELD_ADMIN_PORT:$shield_admin_port" \
	"EDGE_PORT:$edge_port" "EDGE_ADMIN_PORT:$edge_admin_port"; do
	var=${spec%%:*}
	port=${spec#*:}
	if ! port_free "$host" "$port"; then
		echo "demo.sh: port $host:$port is busy (set $var to use another port)" >&2
		busy=1
	fi
done
((busy == 0)) || exit 1

bash "$srcdir/scripts/build.sh" "$builddir"

origin_bin=$builddir/tests/origin/test-origin
shield_bin=$builddir/shield/cdn-shield
edge_bin=$builddir/edge/cdn-edge
upload_bin=$builddir/tools/cdn-upload
for b in "$origin_bin" "$shield_bin" "$edge_bin" "$upload_bin"; do
	if [[ ! -x "$b" ]]; then
		echo "demo.sh: $b was not built" >&2
		exit 1
	fi
done

mkdir -p "$logdir"
# A token for the demo's admin API (push, purge, warm, read).
token=demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s read push purge warm\n' "$token" >"$logdir/tokens")
trap on_signal INT TERM
trap stop_all EXIT

listening_node='listening data=[^ ]+ admin=[^ ]+'
start origin 'listening [^ ]+:[0-9]+' \
	"$origin_bin" -l "$host:$origin_port" --root "$srcdir/etc/demo"
start shield "$listening_node" \
	"$shield_bin" -l "$host:$shield_port" -a "$host:$shield_admin_port" -u "http://$host:$origin_port" \
	-d "$logdir/shield-cache" --token-file "$logdir/tokens"
start edge "$listening_node" \
	"$edge_bin" -l "$host:$edge_port" -a "$host:$edge_admin_port" -u "http://$host:$shield_port" \
	--token-file "$logdir/tokens"

url=http://$host:$edge_port/index.html
echo
echo "GET $url (twice):"
show 1 "$url"
first=$got_xcache
show 2 "$url"
second=$got_xcache
if [[ "$first" != MISS || "$second" != HIT ]]; then
	echo "demo.sh: note: expected X-Cache MISS then HIT, got '${first:-none}' then '${second:-none}'" >&2
fi

echo
echo "cdn-upload --server http://$host:$shield_admin_port --prefix /pushed etc/demo/:"
"$upload_bin" --server "http://$host:$shield_admin_port" --token "$token" --prefix /pushed \
	"$srcdir/etc/demo" </dev/null 2>&1 | sed 's/^/  /'
pushed=http://$host:$edge_port/pushed/index.html
echo
echo "GET $pushed (twice; pushed, so the origin is never asked):"
show 1 "$pushed"
show 2 "$pushed"

echo
echo "Open $url (pulled) or $pushed (pushed) in a browser (Ctrl-C stops the demo)"
echo "Admin token (for cdn-ctl and cdn-upload): $token"
echo "Logs: $logdir/{origin,shield,edge}.log"

# Wait until Ctrl-C/TERM, or until one of the processes dies.
set +e
wait -n "${pids[@]}"
rc=$?
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "demo.sh: ${names[$i]} exited unexpectedly (status $rc); last lines of $logdir/${names[$i]}.log:" >&2
		tail -n 20 "$logdir/${names[$i]}.log" >&2
	fi
done
stop_all
exit 1
