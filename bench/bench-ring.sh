#!/usr/bin/env bash
# Lookups per second of the consistent-hash ring, for 10 and 1,000 nodes.
#
#   bench/bench-ring.sh
#   BUILDDIR=/tmp/build DURATION=5 bench/bench-ring.sh
#
# Builds bench/ring-bench in the build directory (it is an EXTRA_PROGRAM:
# `make` and `make check` never build it), then runs it once per ring size.
# Each run builds a ring of equal nodes and measures, on one thread, for
# DURATION seconds each: ring_owner, ring_lookup_n with k=2 (owner plus one
# replica), and ring_lookup_n k=1 with every tenth node down (the failover
# walk). Keys are 2^20 distinct key hashes, looked up in a loop.
#
# Environment: BUILDDIR (<repo>/build), DURATION (seconds per measurement, 2),
# VNODES (points per node, 0 = the default), NODES ("10 1000"),
# CPU (pin to this core with taskset when set).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
duration=${DURATION:-2}
vnodes=${VNODES:-0}
sizes=${NODES:-10 1000}

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-ring.sh: unknown argument: $1" >&2; exit 2 ;;
esac

die() {
	echo "bench-ring.sh: $*" >&2
	exit 1
}

[[ -f "$builddir/Makefile" ]] || die "$builddir has no Makefile (configure a build there, or set BUILDDIR)"
make -s -C "$builddir" bench/ring-bench >/dev/null || die "cannot build bench/ring-bench in $builddir"
bin=$builddir/bench/ring-bench
pin=()
if [[ -n "${CPU:-}" ]]; then
	command -v taskset >/dev/null 2>&1 || die "taskset not found (util-linux)"
	pin=(taskset -c "$CPU")
fi

if grep -q -- '-fsanitize' "$builddir/Makefile" 2>/dev/null &&
	grep -Eq '^CDN_CFLAGS = .*-fsanitize' "$builddir/Makefile"; then
	echo "note: $builddir is a sanitizer build; the figures measure the sanitizers" >&2
fi
echo "ring lookups, one thread, $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
for n in $sizes; do
	"${pin[@]}" "$bin" -n "$n" -v "$vnodes" -s "$duration" 2>/dev/null
done
