#!/usr/bin/env bash
# Memory-hit throughput of cdn-edge next to nginx's proxy_cache, same object,
# same origin, same core.
#
#   bench/bench-hit.sh
#
# Starts test-origin (port 0), cdn-edge (--threads 1, --access-log off) and
# nginx (1 worker, proxy_cache, access_log off, upstream keepalive), both
# pinned to CPU 0 with taskset, both in front of the same origin URL
#   /bench-1k?size=1024&cc=max-age%3D3600
# warms both caches and checks that the next request is a hit, then runs
#   taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s --latency URL
# against each: edge, nginx, nginx, edge (two rounds, alternating order).
# Prints requests/s per run, the mean per server and the ratio edge/nginx, and
# writes the report to bench/results/bench-hit-<date>.txt.
#
# Environment: DURATION (seconds per wrk run, 10), CONNS (connections, 50),
# BUILDDIR (<repo>/build), SERVER_CPU (0), CLIENT_CPU (1),
# OBJ_PATH (the object URL path, default above).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
duration=${DURATION:-10}
conns=${CONNS:-50}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
obj_path=${OBJ_PATH:-'/bench-1k?size=1024&cc=max-age%3D3600'}
host=127.0.0.1
resultsdir=$srcdir/bench/results

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-hit.sh: unknown argument: $1" >&2; exit 2 ;;
esac

die() {
	echo "bench-hit.sh: $*" >&2
	exit 1
}

[[ "$duration" =~ ^[0-9]+$ && "$duration" -ge 1 ]] || die "DURATION must be a whole number of seconds"
[[ "$conns" =~ ^[0-9]+$ && "$conns" -ge 1 ]] || die "CONNS must be a positive number"

for tool in wrk nginx taskset curl python3 stdbuf; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/deps.sh --bench installs it)"
done
origin_bin=$builddir/tests/origin/test-origin
edge_bin=$builddir/edge/cdn-edge
for b in "$origin_bin" "$edge_bin"; do
	[[ -x "$b" ]] || die "$b not found (run scripts/build.sh first, or set BUILDDIR)"
done
ncpu=$(nproc)
((server_cpu < ncpu && client_cpu < ncpu)) ||
	die "need CPUs $server_cpu and $client_cpu, this machine has $ncpu"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-hit.XXXXXX")
pids=()
names=()

cleanup() {
	local i pid
	trap - EXIT INT TERM
	for i in "${!pids[@]}"; do
		pid=${pids[$i]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for i in "${!pids[@]}"; do
		pid=${pids[$i]}
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port (bound and released; the race is harmless here).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# usage: start NAME PATTERN COMMAND...
# Waits (bounded) for a line matching PATTERN in the log; "" waits for nothing.
start() {
	local name=$1 pattern=$2 log pid
	shift 2
	log=$tmp/$name.log
	: >"$log"
	stdbuf -oL -eL "$@" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	names+=("$name")
	[[ -n "$pattern" ]] || return 0
	for _ in $(seq 150); do
		if grep -qE "$pattern" "$log"; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited at start"; }
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	die "$name not ready after 15s (no line matching '$pattern')"
}

# usage: wait_port PORT NAME -- for servers that print no ready line.
wait_port() {
	for _ in $(seq 150); do
		if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$2 is not accepting connections on $host:$1"
}

# usage: header URL NAME -- prints the value of response header NAME
header() {
	curl -sS --max-time 5 -o /dev/null -D - "$1" | tr -d '\r' |
		sed -n "s/^$2: *//Ip" | head -n1
}

# ---------------------------------------------------------------- origin
start origin 'listening [^ ]+:[0-9]+' "$origin_bin" -l "$host:0"
origin_addr=$(grep -m1 -oE 'listening [^ ]+:[0-9]+' "$tmp/origin.log" | awk '{print $2}')
origin=http://$origin_addr
curl -sSf --max-time 5 -o /dev/null "$origin$obj_path" || die "origin $origin$obj_path does not answer 200"
obj_size=$(curl -sS --max-time 5 -o /dev/null -w '%{size_download}' "$origin$obj_path")

# ---------------------------------------------------------------- cdn-edge
edge_port=$(free_port)
edge_admin_port=$(free_port)
start edge 'listening data=[^ ]+ admin=[^ ]+' \
	taskset -c "$server_cpu" "$edge_bin" --threads 1 --access-log off \
	-l "$host:$edge_port" -a "$host:$edge_admin_port" -u "$origin"
edge_url=http://$host:$edge_port$obj_path

# ---------------------------------------------------------------- nginx
nginx_port=$(free_port)
mkdir -p "$tmp/nginx/cache" "$tmp/nginx/temp" "$tmp/nginx/logs"
affinity=1
for ((i = 0; i < server_cpu; i++)); do affinity+=0; done
user_line=
if ((EUID == 0)); then
	# The worker would switch to nobody and could not write the cache in $tmp.
	user_line="user root root;"
fi
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
worker_cpu_affinity $affinity;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    # Tuned for small hot objects, as an operator would: a hit then costs no
    # open()/fstat() (open_file_cache) and a 1 KiB body is cheaper to copy
    # than to sendfile().
    sendfile off;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    proxy_cache_path $tmp/nginx/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=1h use_temp_path=off;
    upstream origin {
        server $origin_addr;
        keepalive 32;
    }
    server {
        listen $host:$nginx_port;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
EOF
nginx -t -q -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" || die "nginx rejected $tmp/nginx/nginx.conf"
start nginx "" taskset -c "$server_cpu" \
	nginx -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx"
wait_port "$nginx_port" nginx
nginx_url=http://$host:$nginx_port$obj_path

# ---------------------------------------------------------------- warm up
for _ in 1 2 3; do
	curl -sS --max-time 5 -o /dev/null "$edge_url" || die "edge does not answer $edge_url"
	curl -sS --max-time 5 -o /dev/null "$nginx_url" || die "nginx does not answer $nginx_url"
done
edge_x=$(header "$edge_url" X-Cache)
nginx_x=$(header "$nginx_url" X-Cache-Status)
[[ "$edge_x" == HIT ]] || die "edge: X-Cache is '$edge_x' after warm-up, expected HIT"
[[ "$nginx_x" == HIT ]] || die "nginx: X-Cache-Status is '$nginx_x' after warm-up, expected HIT"
edge_len=$(curl -sS --max-time 5 -o /dev/null -w '%{size_download}' "$edge_url")
nginx_len=$(curl -sS --max-time 5 -o /dev/null -w '%{size_download}' "$nginx_url")
[[ "$edge_len" == "$obj_size" && "$nginx_len" == "$obj_size" ]] ||
	die "body sizes differ: origin $obj_size, edge $edge_len, nginx $nginx_len"

# ---------------------------------------------------------------- runs
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$resultsdir"
report=$resultsdir/bench-hit-$stamp.txt
out=$tmp/report.txt
{
	echo "bench-hit $(date -Is)"
	echo "object:   $obj_path ($obj_size bytes body), memory hit on both"
	echo "servers:  pinned to CPU $server_cpu; wrk -t1 -c$conns -d${duration}s pinned to CPU $client_cpu"
	echo "edge:     $edge_bin --threads 1 --access-log off ($(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo unknown))"
	echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker, proxy_cache + open_file_cache, sendfile off, access_log off"
	echo "wrk:      $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
	echo "host:     $(uname -srm), $ncpu CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo
} >"$out"

declare -A rps_sum=([edge]=0 [nginx]=0)
declare -A rps_runs=([edge]="" [nginx]="")

# usage: run NAME URL ROUND
run() {
	local name=$1 url=$2 round=$3 wout rps p50 p99 errs non2xx
	wout=$tmp/wrk-$name-$round.txt
	timeout $((duration + 30)) taskset -c "$client_cpu" \
		wrk -t1 -c"$conns" -d"${duration}s" --latency "$url" >"$wout" 2>&1 ||
		{ cat "$wout" >&2; die "wrk against $name failed"; }
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$wout")
	[[ -n "$rps" ]] || { cat "$wout" >&2; die "no Requests/sec in wrk output for $name"; }
	p50=$(awk '$1 == "50%" {print $2}' "$wout")
	p99=$(awk '$1 == "99%" {print $2}' "$wout")
	errs=$(sed -n 's/^ *Socket errors: *//p' "$wout")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$wout")
	printf 'round %s  %-5s  %10.0f req/s   p50 %-8s p99 %s%s%s\n' "$round" "$name" "$rps" "$p50" "$p99" \
		"${errs:+  socket errors: $errs}" "${non2xx:+  non-2xx: $non2xx}" | tee -a "$out"
	rps_sum[$name]=$(awk -v a="${rps_sum[$name]}" -v b="$rps" 'BEGIN {printf "%.2f", a + b}')
	rps_runs[$name]+="$rps "
	{
		echo "--- wrk output, round $round, $name"
		cat "$wout"
	} >>"$tmp/wrk-all.txt"
}

echo "warm: edge X-Cache=$edge_x, nginx X-Cache-Status=$nginx_x; ${duration}s per run, $conns connections"
run edge "$edge_url" 1
run nginx "$nginx_url" 1
run nginx "$nginx_url" 2
run edge "$edge_url" 2

# The edge must still be answering hits, not have fallen back to the origin.
edge_x=$(header "$edge_url" X-Cache)
[[ "$edge_x" == HIT ]] || echo "bench-hit.sh: warning: edge X-Cache is '$edge_x' after the runs" >&2

edge_mean=$(awk -v s="${rps_sum[edge]}" 'BEGIN {printf "%.0f", s / 2}')
nginx_mean=$(awk -v s="${rps_sum[nginx]}" 'BEGIN {printf "%.0f", s / 2}')
ratio=$(awk -v e="$edge_mean" -v n="$nginx_mean" 'BEGIN {printf "%.2f", (n > 0 ? e / n : 0)}')
{
	echo
	printf 'edge  mean %10s req/s  (runs: %s)\n' "$edge_mean" "${rps_runs[edge]% }"
	printf 'nginx mean %10s req/s  (runs: %s)\n' "$nginx_mean" "${rps_runs[nginx]% }"
	printf 'ratio edge/nginx: %s\n' "$ratio"
} | tee -a "$out"

{
	cat "$out"
	echo
	cat "$tmp/wrk-all.txt"
} >"$report"
echo "report: $report"
