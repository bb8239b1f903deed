#!/usr/bin/env bash
# The disk tier of cdn-edge, measured two ways (not run by make check):
#
#   bench/bench-disk.sh                 # both parts: about 3 minutes
#   PARTS=hit bench/bench-disk.sh       # only part 1
#   PARTS=restart RESTART_OBJECTS=100000 bench/bench-disk.sh
#
# 1. Disk-hit throughput for 1 MiB objects. test-origin serves OBJECTS (32)
#    objects of 1 MiB (/bench-disk/N?size=1048576&cc=max-age%3D3600).
#    cdn-edge runs with --threads 1 --access-log off --mem-size 2M
#    --max-object-size 1M -d DIR: its memory tier holds one of them, so a
#    request rotating over all of them is answered from the disk tier (file
#    read, SHA-256 verified, promoted). nginx (1 worker, proxy_cache on disk,
#    sendfile on, open_file_cache) serves the same objects from its disk
#    cache. Both caches are warmed and checked (edge: X-Cache HIT and every
#    object written to disk; nginx: X-Cache-Status HIT; both: 1048576 bytes),
#    both servers are pinned to SERVER_CPU (0), wrk to CLIENT_CPU (1):
#      taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s -s rotate.lua URL
#    Runs alternate edge, nginx, nginx, edge. Reported: req/s, MB/s (wrk's
#    transfer rate), the ratio edge/nginx, and the share of the edge's
#    answers that came from its disk tier (/stats disk_hits / requests).
#    Both read the files from the page cache: this is the CPU cost of a
#    disk-tier hit, not the speed of the device.
# 2. Restart time with RESTART_OBJECTS (1,000,000) indexed objects: the
#    index is filled with bench/disk-bench (100-byte bodies, one store each,
#    not durable: 1-2 minutes and ~4.5 GB for 1,000,000), then cdn-edge is
#    started on that directory RESTARTS (3) times; reported: seconds from
#    the exec to its "listening" line, and a check that a stored key is
#    answered from disk (X-Cache HIT, no origin request).
#
# Writes bench/results/bench-disk-<date>.txt.
#
# Environment: DURATION (10), CONNS (16), OBJECTS (32), MAX_OBJ (1M), BUILDDIR
# (<repo>/build), SERVER_CPU (0), CLIENT_CPU (1), PARTS ("hit restart"),
# RESTART_OBJECTS (1000000), RESTARTS (3), INDEX_DIR (reuse or keep the
# filled directory there instead of a temporary one), NGINX_SENDFILE (on).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
duration=${DURATION:-10}
conns=${CONNS:-16}
nobj=${OBJECTS:-32}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
parts=${PARTS:-hit restart}
# MAX_OBJ=512K: the objects are above --max-object-size, so they go straight
# to disk and every hit is served from the body file (verified, then
# sendfile), never read into memory.
max_obj=${MAX_OBJ:-1M}
restart_objects=${RESTART_OBJECTS:-1000000}
restarts=${RESTARTS:-3}
index_dir=${INDEX_DIR:-}
nginx_sendfile=${NGINX_SENDFILE:-on}
host=127.0.0.1
resultsdir=$srcdir/bench/results
objsize=1048576
token=benchtoken-0123456789

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-disk.sh: unknown argument: $1" >&2; exit 2 ;;
esac

die() {
	echo "bench-disk.sh: $*" >&2
	exit 1
}

[[ "$duration" =~ ^[0-9]+$ && "$duration" -ge 1 ]] || die "DURATION must be a whole number of seconds"
[[ "$conns" =~ ^[0-9]+$ && "$conns" -ge 1 ]] || die "CONNS must be a positive number"
[[ "$nobj" =~ ^[0-9]+$ && "$nobj" -ge 4 ]] || die "OBJECTS must be at least 4"
[[ "$restart_objects" =~ ^[0-9]+$ && "$restart_objects" -ge 1 ]] || die "RESTART_OBJECTS must be a positive number"

want_hit=0 want_restart=0
for p in $parts; do
	case $p in
	hit) want_hit=1 ;;
	restart) want_restart=1 ;;
	*) die "PARTS: unknown part '$p' (hit, restart)" ;;
	esac
done

tools="curl python3 stdbuf"
((want_hit)) && tools+=" wrk nginx taskset"
for tool in $tools; do
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-disk.XXXXXX")
declare -A pids=()   # name -> pid of what this script started

stop() { # NAME: SIGTERM, wait (5 s), SIGKILL
	local pid=${pids[$1]:-}
	[[ -n "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "pids[$1]"
}

cleanup() {
	local name
	trap - EXIT INT TERM
	for name in "${!pids[@]}"; do stop "$name"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start NAME PATTERN COMMAND...: waits (bounded) for a line matching
# PATTERN in the log; "" waits for nothing.
start() {
	local name=$1 pattern=$2 log pid
	shift 2
	log=$tmp/$name.log
	: >"$log"
	stdbuf -oL -eL "$@" >"$log" 2>&1 &
	pid=$!
	pids[$name]=$pid
	[[ -n "$pattern" ]] || return 0
	for _ in $(seq 600); do
		if grep -qE "$pattern" "$log"; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited at start"; }
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	die "$name not ready after 60s (no line matching '$pattern')"
}

wait_port() { # PORT NAME
	for _ in $(seq 150); do
		if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$2 is not accepting connections on $host:$1"
}

header() { # URL NAME: the value of response header NAME
	curl -sS --max-time 10 -o /dev/null -D - "$1" | tr -d '\r' |
		sed -n "s/^$2: *//Ip" | head -n1
}

stat_of() { # ADMIN-URL KEY: an integer of the edge's /stats
	curl -sS --max-time 5 -H "Authorization: Bearer $token" "$1/stats" |
		python3 -c 'import json, sys; print(int(json.load(sys.stdin)[sys.argv[1]]))' "$2"
}

printf '%s read\n' "$token" >"$tmp/tokens"
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$resultsdir"
report=$resultsdir/bench-disk-$stamp.txt
out=$tmp/report.txt
{
	echo "bench-disk $(date -Is)"
	echo "edge:     $edge_bin ($(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo unknown))"
	echo "host:     $(uname -srm), $ncpu CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
	echo "fs:       $(df -hT "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2, $1, "(" $3 ")"}') for ${TMPDIR:-/tmp}"
} >"$out"
touch "$tmp/wrk-all.txt"

# ---------------------------------------------------------------- origin
start origin 'listening [^ ]+:[0-9]+' "$origin_bin" -l "$host:0"
origin_addr=$(grep -m1 -oE 'listening [^ ]+:[0-9]+' "$tmp/origin.log" | awk '{print $2}')
origin=http://$origin_addr

# ================================================================ part 1
if ((want_hit)); then
	objpath() { echo "/bench-disk/$1?size=$objsize&cc=max-age%3D3600"; }

	edge_port=$(free_port)
	edge_admin_port=$(free_port)
	start edge 'listening data=[^ ]+ admin=[^ ]+' \
		taskset -c "$server_cpu" "$edge_bin" --threads 1 --access-log off \
		-l "$host:$edge_port" -a "$host:$edge_admin_port" --token-file "$tmp/tokens" \
		-u "$origin" -d "$tmp/edge-cache" --disk-size 1G --mem-size 2M --max-object-size "$max_obj"
	edge=http://$host:$edge_port
	edge_admin=http://$host:$edge_admin_port

	nginx_port=$(free_port)
	mkdir -p "$tmp/nginx/cache" "$tmp/nginx/temp" "$tmp/nginx/logs"
	affinity=1
	for ((i = 0; i < server_cpu; i++)); do affinity+=0; done
	user_line=
	((EUID == 0)) && user_line="user root root;"
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
    # Tuned for large cached files, as an operator would: sendfile from the
    # cache file, descriptors kept open.
    sendfile $nginx_sendfile;
    tcp_nopush on;
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
    proxy_cache_path $tmp/nginx/cache levels=1:2 keys_zone=bench:10m max_size=1g inactive=1h use_temp_path=off;
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
	nginx -t -q -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" ||
		die "nginx rejected $tmp/nginx/nginx.conf"
	start nginx "" taskset -c "$server_cpu" \
		nginx -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx"
	wait_port "$nginx_port" nginx
	nginx=http://$host:$nginx_port

	# Warm: every object through both caches; the edge writes each behind.
	for ((i = 1; i <= nobj; i++)); do
		curl -sSf --max-time 10 -o /dev/null "$edge$(objpath "$i")" || die "edge does not answer $(objpath "$i")"
		curl -sSf --max-time 10 -o /dev/null "$nginx$(objpath "$i")" || die "nginx does not answer $(objpath "$i")"
	done
	for _ in $(seq 100); do
		[[ "$(stat_of "$edge_admin" disk_writes)" -ge "$nobj" ]] && break
		sleep 0.1
	done
	writes=$(stat_of "$edge_admin" disk_writes)
	((writes >= nobj)) || die "edge wrote $writes of $nobj objects to disk (a write-behind that skips objects evicted from memory meanwhile: fetch them again)"
	# Check: HIT on both, full size, the edge's from disk.
	want_sha=$(python3 -c 'import hashlib, sys; n = int(sys.argv[1]); print(hashlib.sha256((bytes(range(97, 123)) * (n // 26 + 1))[:n]).hexdigest())' "$objsize")
	dh0=$(stat_of "$edge_admin" disk_hits)
	for ((i = 1; i <= nobj; i++)); do
		for srv in edge nginx; do
			url=${!srv}$(objpath "$i")
			curl -sS --max-time 10 -D "$tmp/h" -o "$tmp/b" "$url"
			[[ "$(sha256sum <"$tmp/b" | cut -d' ' -f1)" == "$want_sha" ]] || die "$srv: wrong body for $(objpath "$i")"
			if [[ $srv == edge ]]; then x=$(tr -d '\r' <"$tmp/h" | sed -n 's/^X-Cache: *//Ip')
			else x=$(tr -d '\r' <"$tmp/h" | sed -n 's/^X-Cache-Status: *//Ip'); fi
			[[ "$x" == HIT ]] || die "$srv: $(objpath "$i") is '$x' after warm-up, expected HIT"
		done
	done
	dh1=$(stat_of "$edge_admin" disk_hits)
	echo "warm: $nobj objects of 1 MiB; edge: $writes written to disk, $((dh1 - dh0)) of the $nobj check requests were disk hits"

	cat >"$tmp/rotate.lua" <<EOF
-- cycles over the $nobj objects, so the edge's 2M memory tier cannot hold
-- what is asked next
local n, i = $nobj, 0
request = function()
    i = i % n + 1
    return wrk.format("GET", "/bench-disk/" .. i .. "?size=$objsize&cc=max-age%3D3600")
end
EOF
	{
		echo
		echo "== 1. disk hits, 1 MiB objects ($nobj objects rotated by wrk, $objsize bytes each)"
		echo "edge:     --threads 1 --access-log off --mem-size 2M --max-object-size $max_obj -d DIR (memory tier holds 1 object; above $max_obj: served from the file)"
		echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker, proxy_cache on disk, sendfile $nginx_sendfile, tcp_nopush, open_file_cache, access_log off"
		echo "wrk:      $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), -t1 -c$conns -d${duration}s on CPU $client_cpu; servers on CPU $server_cpu"
		echo
	} >>"$out"

	declare -A rps_sum=([edge]=0 [nginx]=0) mbs_sum=([edge]=0 [nginx]=0)
	run() { # NAME BASEURL ROUND
		local name=$1 url=$2 round=$3 wout rps tr mbs p50 p99 errs non2xx share=""
		local r0 d0 r1 d1
		wout=$tmp/wrk-$name-$round.txt
		if [[ $name == edge ]]; then
			r0=$(stat_of "$edge_admin" requests)
			d0=$(stat_of "$edge_admin" disk_hits)
		fi
		timeout $((duration + 30)) taskset -c "$client_cpu" \
			wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$tmp/rotate.lua" "$url/" >"$wout" 2>&1 ||
			{ cat "$wout" >&2; die "wrk against $name failed"; }
		if [[ $name == edge ]]; then
			r1=$(stat_of "$edge_admin" requests)
			d1=$(stat_of "$edge_admin" disk_hits)
			share=$(awk -v r=$((r1 - r0)) -v d=$((d1 - d0)) 'BEGIN {printf "  from disk: %.1f %%", (r > 0 ? 100 * d / r : 0)}')
		fi
		rps=$(awk '/^Requests\/sec:/ {print $2}' "$wout")
		tr=$(awk '/^Transfer\/sec:/ {print $2}' "$wout")
		[[ -n "$rps" ]] || { cat "$wout" >&2; die "no Requests/sec in wrk output for $name"; }
		# MB/s (10^6 bytes) from wrk's Transfer/sec (KB, MB or GB, binary)
		mbs=$(awk -v t="$tr" 'BEGIN {
			v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
			m = (u == "GB") ? 1073741824 : (u == "MB") ? 1048576 : (u == "KB") ? 1024 : 1
			printf "%.0f", v * m / 1e6 }')
		p50=$(awk '$1 == "50%" {print $2}' "$wout")
		p99=$(awk '$1 == "99%" {print $2}' "$wout")
		errs=$(sed -n 's/^ *Socket errors: *//p' "$wout")
		non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$wout")
		printf 'round %s  %-5s  %8.0f req/s  %6s MB/s   p50 %-8s p99 %s%s%s%s\n' "$round" "$name" "$rps" "$mbs" \
			"$p50" "$p99" "$share" "${errs:+  socket errors: $errs}" "${non2xx:+  non-2xx: $non2xx}" | tee -a "$out"
		rps_sum[$name]=$(awk -v a="${rps_sum[$name]}" -v b="$rps" 'BEGIN {printf "%.2f", a + b}')
		mbs_sum[$name]=$(awk -v a="${mbs_sum[$name]}" -v b="$mbs" 'BEGIN {printf "%.2f", a + b}')
		{
			echo "--- wrk output, round $round, $name"
			cat "$wout"
		} >>"$tmp/wrk-all.txt"
	}
	run edge "$edge" 1
	run nginx "$nginx" 1
	run nginx "$nginx" 2
	run edge "$edge" 2
	x=$(header "$edge$(objpath 1)" X-Cache)
	[[ "$x" == HIT ]] || echo "bench-disk.sh: warning: edge X-Cache is '$x' after the runs" >&2
	{
		echo
		for s in edge nginx; do
			printf '%-5s mean %8.0f req/s  %6.0f MB/s\n' "$s" \
				"$(awk -v s="${rps_sum[$s]}" 'BEGIN {print s / 2}')" "$(awk -v s="${mbs_sum[$s]}" 'BEGIN {print s / 2}')"
		done
		printf 'ratio edge/nginx: %s\n' "$(awk -v e="${rps_sum[edge]}" -v n="${rps_sum[nginx]}" 'BEGIN {printf "%.2f", (n > 0 ? e / n : 0)}')"
		echo "edge counters: requests $(stat_of "$edge_admin" requests), disk_hits $(stat_of "$edge_admin" disk_hits), disk_corrupt $(stat_of "$edge_admin" disk_corrupt), upstream_requests $(stat_of "$edge_admin" upstream_requests)"
	} | tee -a "$out"
	stop edge
	stop nginx
fi

# ================================================================ part 2
if ((want_restart)); then
	dir=${index_dir:-$tmp/index}
	mkdir -p "$dir"
	bench_bin=$builddir/bench/disk-bench
	rows=0
	if [[ -f "$dir/index.db" ]]; then
		rows=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM obj").fetchone()[0])' "$dir/index.db" 2>/dev/null || echo 0)
	fi
	{
		echo
		echo "== 2. restart with $restart_objects indexed objects"
	} >>"$out"
	if ((rows < restart_objects)); then
		make -C "$builddir" bench/disk-bench >/dev/null || die "cannot build $bench_bin"
		rm -rf "$dir"
		mkdir -p "$dir"
		echo "filling $dir with $restart_objects objects (bench/disk-bench; 1-2 minutes per million)..."
		t0=$(date +%s.%N)
		"$bench_bin" -d "$dir" -n "$restart_objects" -m 1 -t 0.1 | tee "$tmp/fill.txt"
		t1=$(date +%s.%N)
		{
			echo "fill:     bench/disk-bench -d DIR -n $restart_objects -m 1 ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s); its own report:"
			sed 's/^/          /' "$tmp/fill.txt"
		} >>"$out"
	else
		echo "reusing $dir ($rows rows)" | tee -a "$out"
	fi
	echo "dir:      $(du -sh "$dir" | cut -f1) in $(find "$dir/objects" -type f | wc -l) files; index.db $(du -h "$dir/index.db" | cut -f1)" | tee -a "$out"
	for ((r = 1; r <= restarts; r++)); do
		port=$(free_port)
		admin_port=$(free_port)
		log=$tmp/restart-$r.log
		t0=$(date +%s%N)
		"$edge_bin" -l "$host:$port" -a "$host:$admin_port" --token-file "$tmp/tokens" -u "$origin" \
			-d "$dir" --disk-size 64G --mem-size 64M >"$log" 2>&1 &
		pids[restart]=$!
		t1=
		for _ in $(seq 60000); do   # 10 ms steps, 10 minutes at most
			if grep -q 'listening data=' "$log"; then t1=$(date +%s%N); break; fi
			kill -0 "${pids[restart]}" 2>/dev/null || { cat "$log" >&2; die "edge exited at start"; }
			sleep 0.01
		done
		[[ -n "$t1" ]] || die "edge on $dir did not listen within 10 minutes"
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
		key="/small/$(( (r * 7919) % restart_objects ))?v=1"
		oc0=$(curl -sS "$origin/__origin/total")
		x=$(header "http://$host:$port$key" X-Cache)
		oc1=$(curl -sS "$origin/__origin/total")
		len=$(curl -sS --max-time 10 -o /dev/null -w '%{size_download}' "http://$host:$port$key")
		dh=$(stat_of "http://$host:$admin_port" disk_hits)
		printf 'restart %d: %s s from exec to "listening"; %s -> X-Cache %s, %s bytes, origin requests %d, disk_hits %s\n' \
			"$r" "$secs" "$key" "$x" "$len" $((oc1 - oc0)) "$dh" | tee -a "$out"
		{ grep -E 'disk:|warn|error' "$log" || true; } | head -n 5 | sed 's/^/          log: /' | tee -a "$out"
		stop restart
	done
	if [[ -z "$index_dir" ]]; then rm -rf "$dir"; fi
fi

{
	cat "$out"
	echo
	cat "$tmp/wrk-all.txt"
} >"$report"
echo "report: $report"
