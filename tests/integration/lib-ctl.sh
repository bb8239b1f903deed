# lib-ctl.sh: helpers for the control-plane tests (purge, events, warm,
# cdn-ctl). Source it after lib.sh:
#
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/lib-ctl.sh"

CTL_BIN=$top_builddir/tools/cdn-ctl

# free_port: a TCP port on 127.0.0.1 that was free a moment ago (for
# shields that must name each other with --peer before either started).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# admin_post NODE PATH JSON [CURL-ARGS...]: POST JSON to the node's admin
# listener with the test token (as `get`: sets STATUS, BODY, HDRS).
admin_post() {
	local admin=${1}_ADMIN path=$2 json=$3
	shift 3
	get "${!admin}$path" -X POST -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "$json" "$@"
}

# admin_get NODE PATH [CURL-ARGS...]: GET with the test token.
admin_get() {
	local admin=${1}_ADMIN path=$2
	shift 2
	get "${!admin}$path" -H "Authorization: Bearer $TOKEN" "$@"
}

# children_connected NODE: how many named children have an open event
# stream to NODE.
children_connected() {
	stats_eval "$1" "sum(1 for c in s['children'] if c['connected'])"
}

# children_are NODE N: for wait_for.
children_are() {
	[ "$(children_connected "$1")" = "$2" ]
}

# subs_streaming NODE: how many of NODE's subscriptions are streaming.
subs_streaming() {
	stats_eval "$1" "sum(1 for u in s['subscriptions'] if u['state'] == 'streaming')"
}

subs_are() {
	[ "$(subs_streaming "$1")" = "$2" ]
}

# stat_is NODE KEY VALUE: for wait_for (top-level integer of /stats).
stat_is() {
	[ "$(admin_stat "$1" "$2")" = "$3" ]
}

# body_get PATH: the value at a dotted path in the last response's JSON body.
body_get() {
	json_get "$1" <"$BODY"
}

# line_of FILE REGEX: the number of the first line of FILE matching REGEX
# (extended), or 0.
line_of() {
	local n
	n=$(grep -n -E -m 1 "$2" "$1" | cut -d: -f1)
	echo "${n:-0}"
}

# is_hit URL [CURL-ARGS...]: GETs URL; true if the answer was a HIT. A
# second request right after a miss can still ride the first one's fill
# (answered MISS from the same fetch), so tests poll this with wait_for.
is_hit() {
	get "$@"
	[ "$(hdr X-Cache)" = HIT ]
}

# retire_log NAME: moves a stopped daemon's log aside before the daemon is
# started again under the same name (start_node truncates the log in the
# background, so it could otherwise read the old "listening" line). The old
# log is still checked for sanitizer reports at exit.
_RETIRED=0
retire_log() {
	local log
	log=$(node_log "$1")
	_RETIRED=$((_RETIRED + 1))
	mv "$log" "$log.$_RETIRED" || die "cannot move $log aside"
	_LOGS[${1}_retired$_RETIRED]=$log.$_RETIRED
}

# push_tier_ready NODE...: every NODE has synced with every peer at least
# once (so each knows the others' admin listeners): for wait_for, before
# pushing to a tier whose shields just started.
push_tier_ready() {
	local n
	for n in "$@"; do
		[ "$(stats_eval "$n" 'all(p["last_sync"] > 0 for p in s["push"]["peers"])')" = true ] || return 1
	done
}
