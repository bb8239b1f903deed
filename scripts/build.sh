#!/usr/bin/env bash
# Configure and build out of tree.
#
#   scripts/build.sh [--sanitize] [BUILDDIR]
#
#   (plain)       BUILDDIR defaults to <repo>/build
#   --sanitize    configure with --enable-asan --enable-ubsan;
#                 BUILDDIR defaults to <repo>/build-san
#
# Runs `autoreconf -fi` in the source tree when configure is missing or older
# than configure.ac / Makefile.am, runs configure in BUILDDIR when it has not
# been configured (or was configured with other flags), then `make -j$(nproc)`.
# Works from any directory. Environment: JOBS (make -j, default nproc),
# CONFIGURE_FLAGS (extra configure arguments, word-split).
set -euo pipefail

usage() {
	awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
}

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=0
builddir=
for arg in "$@"; do
	case "$arg" in
	--sanitize) sanitize=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "build.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
	*)
		if [[ -n "$builddir" ]]; then
			echo "build.sh: only one BUILDDIR, got '$builddir' and '$arg'" >&2
			exit 2
		fi
		builddir=$arg
		;;
	esac
done

if [[ -z "$builddir" ]]; then
	if ((sanitize)); then builddir=$srcdir/build-san; else builddir=$srcdir/build; fi
fi
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)

conf_args=()
if ((sanitize)); then conf_args+=(--enable-asan --enable-ubsan); fi
if [[ -n "${CONFIGURE_FLAGS:-}" ]]; then
	# shellcheck disable=SC2206 # word splitting is intended
	conf_args+=(${CONFIGURE_FLAGS})
fi

# An in-tree configure would make every out-of-tree build refuse to run.
if [[ -f "$srcdir/config.status" && "$builddir" != "$srcdir" ]]; then
	echo "build.sh: $srcdir was configured in place; run 'make distclean' there first" >&2
	exit 1
fi

regen=0
if [[ ! -x "$srcdir/configure" || ! -f "$srcdir/Makefile.in" ]]; then
	regen=1
else
	for f in configure.ac Makefile.am; do
		if [[ "$srcdir/$f" -nt "$srcdir/configure" ]]; then regen=1; fi
	done
fi
if ((regen)); then
	echo "build.sh: autoreconf -fi in $srcdir"
	(cd "$srcdir" && autoreconf -fi)
fi

# Reconfigure when the directory is new or was configured with other flags.
want_config=${conf_args[*]+"${conf_args[*]}"}
stamp=$builddir/.build-sh-configure-args
if [[ ! -f "$builddir/Makefile" || ! -f "$builddir/config.status" ||
	! -f "$stamp" || "$(cat "$stamp")" != "$want_config" ]]; then
	echo "build.sh: configure${want_config:+ $want_config} in $builddir"
	rm -f "$stamp"
	(cd "$builddir" && "$srcdir/configure" ${conf_args[@]+"${conf_args[@]}"})
	printf '%s' "$want_config" >"$stamp"
fi

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "build.sh: make -j$jobs in $builddir"
make -C "$builddir" -j"$jobs"
