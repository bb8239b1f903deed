#!/usr/bin/env bash
# Hit ratios of the eviction policies (lru, lfu) against the optimal policy,
# the memory their structures take per object, and the false-positive rate
# of the disk tier's Bloom filter.
#
#   bench/bench-evict.sh
#   BUILDDIR=/tmp/build SEED=7 bench/bench-evict.sh
#
# Builds bench/evict-sim and bench/bloom-fp in the build directory (they are
# EXTRA_PROGRAMS: `make` and `make check` never build them), then runs:
#   evict-sim   Zipf(ALPHA) trace of REQUESTS requests over OBJECTS objects,
#               the cache holding CACHE_PCT % of them; the same with 20 % of
#               the requests in one-time sequential scans; the same with the
#               hot set redrawn at half time; a sweep of cache sizes; bytes
#               per object of the eviction structures.
#   bloom-fp    1,000,000 keys in a filter sized as the disk tier sizes it,
#               half full (after open) and full (before a rebuild).
# Takes a few seconds. Prints the tables and writes them, with a description
# of the host, to bench/results/bench-evict-YYYYmmdd-HHMMSS.txt.
#
# Environment: BUILDDIR (<repo>/build), OBJECTS (100000), REQUESTS (1000000),
# CACHE_PCT (10), ALPHA (0.9), SEED (1).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$srcdir/build}
objects=${OBJECTS:-100000}
requests=${REQUESTS:-1000000}
cache_pct=${CACHE_PCT:-10}
alpha=${ALPHA:-0.9}
seed=${SEED:-1}
resultsdir=$srcdir/bench/results

case "${1:-}" in
-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
"") ;;
*) echo "bench-evict.sh: unknown argument: $1" >&2; exit 2 ;;
esac

die() {
	echo "bench-evict.sh: $*" >&2
	exit 1
}

for v in "$objects" "$requests" "$seed"; do
	[[ "$v" =~ ^[0-9]+$ ]] || die "OBJECTS, REQUESTS and SEED must be whole numbers"
done
[[ -f "$builddir/Makefile" ]] || die "$builddir has no Makefile (configure a build there, or set BUILDDIR)"
make -s -C "$builddir" bench/evict-sim bench/bloom-fp >/dev/null ||
	die "cannot build bench/evict-sim and bench/bloom-fp in $builddir"
if grep -Eq '^CDN_CFLAGS = .*-fsanitize' "$builddir/Makefile"; then
	echo "note: $builddir is a sanitizer build; the timings measure the sanitizers" >&2
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$resultsdir"
report=$resultsdir/bench-evict-$stamp.txt
{
	echo "bench-evict.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -srm), $(nproc) CPUs, commit $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo
	"$builddir/bench/evict-sim" -n "$objects" -r "$requests" -c "$cache_pct" -a "$alpha" -s "$seed"
	echo
	"$builddir/bench/bloom-fp"
} | tee "$report"
echo
echo "written to $report"
