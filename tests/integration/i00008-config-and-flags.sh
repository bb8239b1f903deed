#!/bin/sh
# i00008-config-and-flags: the command line and the INI config. --help and
# --version exit 0; unknown flags, bad values and bad config lines exit 2 with
# a reason (FILE:LINE: for the config); -c FILE settings apply and flags win
# over them; the sample configs in etc/ start; only -l and -u are enough.
. "$(dirname "$0")/lib.sh"

start_origin origin

for role in edge shield; do
	prog=cdn-$role

	step "$prog --help and -h exit 0 with a usage that mentions --listen"
	for flag in --help -h; do
		rc=$(run_node $role "$WORK/out" "$WORK/err" $flag)
		expect_eq "$prog $flag exit status" 0 "$rc"
		grep -q -- '--listen' "$WORK/out" || fail "$prog $flag: no --listen in: $(head -c 300 "$WORK/out")"
	done

	step "$prog --version and -V print the name and version"
	for flag in --version -V; do
		rc=$(run_node $role "$WORK/out" "$WORK/err" $flag)
		expect_eq "$prog $flag exit status" 0 "$rc"
		expect_match "$prog $flag output" "^$prog [0-9]+\.[0-9]+\.[0-9]+" "$(head -n 1 "$WORK/out")"
	done

	step "$prog: an unknown flag exits 2 with a message"
	rc=$(run_node $role "$WORK/out" "$WORK/err" -l 127.0.0.1:0 -u "$origin_URL" --no-such-flag)
	expect_eq "exit status" 2 "$rc"
	grep -q 'no-such-flag' "$WORK/err" || fail "message does not name the flag: $(cat "$WORK/err")"

	step "$prog: --mem-size banana exits 2 with a message"
	rc=$(run_node $role "$WORK/out" "$WORK/err" -l 127.0.0.1:0 -a 127.0.0.1:0 -u "$origin_URL" --mem-size banana)
	expect_eq "exit status" 2 "$rc"
	grep -qi 'mem-size\|banana' "$WORK/err" || fail "message does not say what is wrong: $(cat "$WORK/err")"
done

# bad_config WHAT LINE CONTENT: a config whose line LINE is bad exits 2 and
# names FILE:LINE:.
bad_config() {
	local what=$1 line=$2 rc
	shift 2
	printf '%s\n' "$@" >"$WORK/bad.ini"
	rc=$(run_node edge "$WORK/out" "$WORK/err" -c "$WORK/bad.ini" -l 127.0.0.1:0 -a 127.0.0.1:0 -u "$origin_URL")
	expect_eq "$what: exit status" 2 "$rc"
	grep -qF "bad.ini:$line:" "$WORK/err" || fail "$what: expected 'bad.ini:$line:' in the message, saw: $(cat "$WORK/err")"
	echo "   ok: $what: $(head -n 1 "$WORK/err")"
}

step "bad config lines exit 2 naming FILE:LINE:"
bad_config "a line that is not key = value" 3 '# comment' '[node]' 'this is not valid'
bad_config "an unknown key" 4 '[node]' 'name = x' '' 'no_such_key = 1'
bad_config "a bad size" 2 '[cache]' 'mem_size = banana'
bad_config "a bad duration" 3 '[node]' '[upstream]' 'timeout = soon'
bad_config "an unknown section" 2 '[nosuchsection]' 'key = 1'

step "a missing config file exits 2"
rc=$(run_node edge "$WORK/out" "$WORK/err" -c "$WORK/does-not-exist.ini" -l 127.0.0.1:0 -u "$origin_URL")
expect_eq "exit status" 2 "$rc"
grep -qF 'does-not-exist.ini' "$WORK/err" || fail "message does not name the file: $(cat "$WORK/err")"

step "--mem-size 64M is accepted"
start_node edge mem64 -u "$origin_URL" --mem-size 64M
get "$mem64_URL/mem64?cc=max-age%3D60"
expect_eq "status" 200 "$STATUS"
stop_node mem64
expect_eq "exit status after SIGTERM" 0 "$mem64_EXIT"

step "-c FILE settings apply, and flags win over the file"
cat >"$WORK/good.ini" <<INI
# written by $TEST_NAME
[node]
# the flags given by the harness (-l 127.0.0.1:0) must win over this
listen = 192.0.2.1:8080
upstream = $origin_URL

[limits]
max_url_length = 200
INI
start_node edge cfg1 -c "$WORK/good.ini"
get "$cfg1_URL/from-config?cc=max-age%3D60"
expect_eq "status (upstream from the file)" 200 "$STATUS"
expect_eq "body" "origin body for /from-config?cc=max-age%3D60" "$(body)"
get "$cfg1_URL/long?pad=$(head -c 300 /dev/zero | tr '\0' 'p')"
expect_eq "status of a 310-byte target (max_url_length = 200 from the file)" 414 "$STATUS"
stop_node cfg1

step "a flag wins over the same setting in the file"
start_node edge cfg2 -c "$WORK/good.ini" --max-url-length 1000
get "$cfg2_URL/long?pad=$(head -c 300 /dev/zero | tr '\0' 'p')"
expect_eq "status of a 310-byte target (--max-url-length 1000)" 200 "$STATUS"
stop_node cfg2

for role in edge shield; do
	step "the sample etc/cdn-$role.ini starts (listen, upstream, dirs and logs from flags)"
	sample=$top_srcdir/etc/cdn-$role.ini
	[ -r "$sample" ] || fail "sample config missing: $sample"
	cp "$sample" "$WORK/sample-$role.ini"
	mkdir -p "$WORK/cache-$role"
	start_node $role sample_$role -c "$WORK/sample-$role.ini" -u "$origin_URL" \
		-d "$WORK/cache-$role" --access-log "$WORK/sample-$role.access.log" --error-log -
	name=sample_${role}_URL
	get "${!name}/sample-$role?cc=max-age%3D60"
	expect_eq "status through the sample-configured $role" 200 "$STATUS"
	get "${!name}/sample-$role?cc=max-age%3D60"
	expect_eq "second GET through the sample-configured $role" HIT "$(hdr X-Cache)"
	stop_node sample_$role
	name=sample_${role}_EXIT
	expect_eq "exit status after SIGTERM" 0 "${!name}"
done

step "with only -l and -u the node runs with defaults"
if python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 9080))' 2>/dev/null; then
	start_node_raw edge plain -l 127.0.0.1:0 -u "$origin_URL"
	get "$plain_URL/plain?cc=max-age%3D60"
	expect_eq "status" 200 "$STATUS"
	expect_eq "X-Cache" MISS "$(hdr X-Cache)"
	get "$plain_URL/plain?cc=max-age%3D60"
	expect_eq "X-Cache" HIT "$(hdr X-Cache)"
	get "$plain_URL/.well-known/cdn/health"
	expect_eq "health" 200 "$STATUS"
	stop_node plain
	expect_eq "exit status after SIGTERM" 0 "$plain_EXIT"
else
	echo "   note: 127.0.0.1:9080 (the default admin address) is busy; step not run"
fi

exit 0
