#!/usr/bin/env bash
# Upload throughput of cdn-upload into the shield tier (not run by make check):
#
#   bench/bench-upload.sh                 # about 1-2 minutes
#   SMALL=1000 SMALL_SIZE=4096 BIG_MB=1024 bench/bench-upload.sh
#
# Two workloads, each three ways, all on loopback:
#   small: SMALL (1000) files of SMALL_SIZE (4096) bytes in one directory;
#   big:   one file of BIG_MB (1024) MiB.
# Ways:
#   shield x1  cdn-upload --jobs JOBS (4) to one cdn-shield (-d DIR): every
#              file hashed by the client, streamed, hashed again and checked
#              against its Content-Digest, fsynced, indexed (SQLite, WAL,
#              synchronous=FULL), recorded in the push catalog;
#   shield x3  the same into a tier of three shields (N=3, W=2): each
#              object also forwarded to its leader when needed and
#              replicated to the two others before the answer;
#   nginx dav  the same files PUT with curl (-Z, JOBS parallel, one
#              process, reused connections) to nginx's WebDAV module
#              (dav_methods PUT): a plain file write, no fsync, no digest.
# Reported: seconds (wall clock of the client), files/s and MiB/s, and the
# ratio shield x1 / nginx. Every upload is checked: cdn-upload exits 0 with
# "failed 0", and nginx's files have the right size.
#
# Writes bench/results/bench-upload-<date>.txt.
# Environment: SMALL, SMALL_SIZE, BIG_MB, JOBS, BUILDDIR (<repo>/build).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
small=${SMALL:-1000}
small_size=${SMALL_SIZE:-4096}
big_mb=${BIG_MB:-1024}
jobs=${JOBS:-4}
resultsdir=$srcdir/bench/results
token=benchtoken-0123456789

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-upload.sh: unknown argument: $1" >&2; exit 2 ;;
esac
die() {
	echo "bench-upload.sh: $*" >&2
	exit 1
}
for tool in curl python3 nginx stdbuf; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/deps.sh --bench installs it)"
done
origin_bin=$builddir/tests/origin/test-origin
shield_bin=$builddir/shield/cdn-shield
upload_bin=$builddir/tools/cdn-upload
for b in "$origin_bin" "$shield_bin" "$upload_bin"; do
	[[ -x "$b" ]] || die "$b not found (run scripts/build.sh first, or set BUILDDIR)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-upload.XXXXXX")
declare -A pids=()
stop() {
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
start() { # NAME PATTERN COMMAND...
	local name=$1 pattern=$2 log=$tmp/$1.log
	shift 2
	stdbuf -oL -eL "$@" >"$log" 2>&1 &
	pids[$name]=$!
	for _ in $(seq 300); do
		grep -qE "$pattern" "$log" && return 0
		kill -0 "${pids[$name]}" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited at start"; }
		sleep 0.1
	done
	die "$name did not start"
}
now() { python3 -c 'import time; print(time.monotonic())'; }

printf '%s read push purge warm\n' "$token" >"$tmp/tokens"
start origin '^listening' "$origin_bin" -l 127.0.0.1:0

# shields N: starts a tier of N shields; sets S1_ADMIN
shields() {
	local n=$1 i j ports=() args
	for ((i = 0; i < n; i++)); do ports+=("$(free_port)"); done
	for ((i = 0; i < n; i++)); do
		args=()
		for ((j = 0; j < n; j++)); do
			((j == i)) || args+=(--peer "http://127.0.0.1:${ports[j]}")
		done
		rm -rf "$tmp/s$i"
		start "s$i" 'listening data=' "$shield_bin" -l "127.0.0.1:${ports[i]}" -a 127.0.0.1:0 \
			--token-file "$tmp/tokens" -u "http://127.0.0.1:1" -d "$tmp/s$i" --disk-size 8G \
			--access-log off --push-sync-interval 1h "${args[@]}"
	done
	S1_ADMIN=http://127.0.0.1:$(sed -n 's/.*listening data=[^ ]* admin=[^ ]*:\([0-9]*\).*/\1/p' "$tmp/s0.log")
}
unshield() {
	local name
	for name in "${!pids[@]}"; do [[ $name == s* ]] && stop "$name"; done
	rm -rf "$tmp"/s[0-9]*
}

echo "making $small files of $small_size bytes and one of $big_mb MiB in $tmp"
mkdir -p "$tmp/small" "$tmp/big"
python3 - "$tmp/small" "$small" "$small_size" <<'EOF'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
head -c "$((big_mb * 1048576))" /dev/urandom >"$tmp/big/big.bin"
sync

declare -A secs=()
run_upload() { # CASE DIR
	local t0 t1 out=$tmp/$1.out
	t0=$(now)
	"$upload_bin" --server "$S1_ADMIN" --token "$token" --jobs "$jobs" --prefix "/$1" "$2" \
		>"$out" 2>&1 </dev/null || { tail -n 5 "$out" >&2; die "cdn-upload failed ($1)"; }
	t1=$(now)
	grep -q 'failed 0' "$out" || die "cdn-upload reported failures ($1)"
	secs[$1]=$(python3 -c "print('%.3f' % ($t1 - $t0))")
	echo "   $1: ${secs[$1]} s ($(tail -n 1 "$out"))"
}

for tier in ${TIERS:-1 3}; do
	echo "tier of $tier shield(s)"
	shields "$tier"
	run_upload "small-x$tier" "$tmp/small"
	run_upload "big-x$tier" "$tmp/big"
	unshield
done

echo "nginx WebDAV"
nport=$(free_port)
mkdir -p "$tmp/nginx/root/dav" "$tmp/nginx/tmp" "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/tmp;
	server {
		listen 127.0.0.1:$nport;
		location /dav/ {
			root $tmp/nginx/root;
			dav_methods PUT;
			create_full_put_path on;
			client_max_body_size 0;
		}
	}
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx.log" 2>&1 &
pids[nginx]=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$nport/" || { cat "$tmp/nginx.log" >&2; die "nginx did not start"; }
nginx_put() { # CASE DIR
	local t0 t1 list
	list=$(cd "$2" && ls | paste -sd, -)
	t0=$(now)
	(cd "$2" && curl -sS --no-progress-meter -Z --parallel-max "$jobs" -T "{$list}" "http://127.0.0.1:$nport/dav/$1/" \
		-o /dev/null) || die "curl to nginx failed ($1)"
	t1=$(now)
	secs[$1]=$(python3 -c "print('%.3f' % ($t1 - $t0))")
	[[ $(find "$tmp/nginx/root/dav/$1" -type f | wc -l) == $(ls "$2" | wc -l) ]] ||
		die "nginx did not store every file ($1)"
	echo "   $1: ${secs[$1]} s"
}
nginx_put small-nginx "$tmp/small"
nginx_put big-nginx "$tmp/big"

mkdir -p "$resultsdir"
res=$resultsdir/bench-upload-$(date -u +%Y%m%d-%H%M%S).txt
{
	echo "# bench-upload.sh, $(date -u), $(nproc) CPUs, jobs $jobs"
	echo "# small: $small files of $small_size bytes; big: 1 file of $big_mb MiB"
	printf '%-14s %9s %10s %10s\n' case seconds files/s MiB/s
	for c in small-x1 small-x3 small-nginx; do
		[[ -n "${secs[$c]:-}" ]] || continue
		python3 -c "import sys; s=float(sys.argv[2]); n=int(sys.argv[3]); b=n*int(sys.argv[4]); print('%-14s %9.3f %10.0f %10.1f' % (sys.argv[1], s, n/s, b/s/1048576))" \
			"$c" "${secs[$c]}" "$small" "$small_size"
	done
	for c in big-x1 big-x3 big-nginx; do
		[[ -n "${secs[$c]:-}" ]] || continue
		python3 -c "import sys; s=float(sys.argv[2]); b=int(sys.argv[3])*1048576; print('%-14s %9.3f %10.2f %10.1f' % (sys.argv[1], s, 1/s, b/s/1048576))" \
			"$c" "${secs[$c]}" "$big_mb"
	done
	[[ -n "${secs[small-x1]:-}" ]] && python3 -c "import sys; print('ratio shield x1 / nginx (throughput): small %.2f, big %.2f' % (float(sys.argv[2])/float(sys.argv[1]), float(sys.argv[4])/float(sys.argv[3])))" \
		"${secs[small-x1]}" "${secs[small-nginx]}" "${secs[big-x1]}" "${secs[big-nginx]}"
} | tee "$res"
echo "written to $res"
