#!/usr/bin/env bash
# Install, build, run every test.
#
#   scripts/test.sh
#
# 1. scripts/deps.sh                      (installs only what is missing)
# 2. plain build in build/      + make check
# 3. ASan+UBSan build in build-san/ + make check
#    (ASAN_OPTIONS=detect_leaks=1:abort_on_error=1,
#     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
#
# For each failing test the tail of its .log is printed. The last line is
# "N passed, N failed", counting test programs of both builds (from the
# automake .trs files); a build or `make check` that fails without test results
# counts as one failure. Exit status is 0 only if nothing failed.
#
# Environment: JOBS (make -j, default 2), CHECK_TIMEOUT (seconds allowed for
# each `make check`, default 330), LOG_TAIL (lines of each failing log, 80).
set -uo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${JOBS:-2}
check_timeout=${CHECK_TIMEOUT:-330}
log_tail=${LOG_TAIL:-80}
start=$SECONDS

total_pass=0
total_fail=0
summary=()

section() {
	printf '\n==== %s (%ds)\n' "$*" $((SECONDS - start))
}

# Counts results of the .trs files newer than the marker in one build dir,
# prints the tail of each failing test's log, and sets last_fail.
# usage: collect LABEL BUILDDIR MARKER
last_fail=0
collect() {
	local label=$1 dir=$2 marker=$3
	local pass=0 fail=0 skip=0 trs results name failed=()
	while IFS= read -r -d '' trs; do
		results=$(sed -n 's/^:test-result: *//p' "$trs")
		name=${trs#"$dir"/}
		name=${name%.trs}
		if grep -qE '^(FAIL|XPASS|ERROR)' <<<"$results"; then
			fail=$((fail + 1))
			failed+=("$name")
		elif grep -qE '^(PASS|XFAIL)' <<<"$results"; then
			pass=$((pass + 1))
		else
			skip=$((skip + 1))
		fi
	done < <(find "$dir" -name '*.trs' -newer "$marker" -print0 | sort -z)

	for name in ${failed[@]+"${failed[@]}"}; do
		printf '\n---- %s: FAILED %s (last %s lines of %s.log)\n' "$label" "$name" "$log_tail" "$name"
		tail -n "$log_tail" "$dir/$name.log" 2>/dev/null || echo "(no log)"
	done
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	last_fail=$fail
	summary+=("$(printf '%-9s %3d passed, %3d failed, %3d skipped' "$label:" "$pass" "$fail" "$skip")")
	for name in ${failed[@]+"${failed[@]}"}; do
		summary+=("          FAIL $name")
	done
}

# usage: run_build LABEL BUILDDIR CHECK_ENV [build.sh options...]
# CHECK_ENV is a space-separated list of VAR=value for `make check`.
run_build() {
	local label=$1 dir=$2 check_env=$3
	shift 3
	section "$label: build ($dir)"
	if ! JOBS=$jobs bash "$srcdir/scripts/build.sh" "$@" "$dir"; then
		echo "test.sh: $label build FAILED" >&2
		summary+=("$(printf '%-9s build FAILED, no tests run' "$label:")")
		total_fail=$((total_fail + 1))
		return 1
	fi

	section "$label: make check${check_env:+ $check_env}"
	local marker rc=0
	marker=$(mktemp "$dir/.check-start.XXXXXX")
	# shellcheck disable=SC2086 # check_env is a list of words
	env $check_env timeout --kill-after=15 "$check_timeout" \
		make -C "$dir" -j"$jobs" check || rc=$?
	if ((rc == 124 || rc == 137)); then
		echo "test.sh: $label: make check timed out after ${check_timeout}s" >&2
	fi
	collect "$label" "$dir" "$marker"
	rm -f "$marker"
	if ((rc != 0 && last_fail == 0)); then
		# make check failed beyond the test results (a test program did
		# not compile, or the run timed out): count it once.
		if ((rc == 124 || rc == 137)); then
			summary+=("          make check TIMED OUT after ${check_timeout}s (CHECK_TIMEOUT)")
		else
			summary+=("          make check FAILED (exit $rc) beyond the test results")
		fi
		total_fail=$((total_fail + 1))
	fi
	return "$rc"
}

section "deps"
if ! bash "$srcdir/scripts/deps.sh"; then
	echo "test.sh: installing dependencies failed" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

run_build plain "$srcdir/build" ""
run_build sanitize "$srcdir/build-san" \
	"ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
	--sanitize

section "summary"
printf '%s\n' "${summary[@]}"
printf 'elapsed: %ds\n' $((SECONDS - start))
printf '%d passed, %d failed\n' "$total_pass" "$total_fail"
((total_fail == 0))
