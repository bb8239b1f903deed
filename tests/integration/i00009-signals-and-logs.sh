#!/bin/sh
# i00009-signals-and-logs: the access log has one line per request with the
# method, target, status and cache status; SIGHUP reopens it so it can be
# rotated by renaming; SIGTERM makes the node exit 0 promptly.
. "$(dirname "$0")/lib.sh"

start_origin origin
ALOG=$WORK/access.log
start_node edge edge1 -u "$origin_URL" --access-log "$ALOG"

# lines_with FILE TEXT: the lines of FILE that contain TEXT (fixed string).
lines_with() {
	grep -F -- "$2" "$1" 2>/dev/null
}

# count_with FILE TEXT
count_with() {
	grep -cF -- "$2" "$1" 2>/dev/null || true
}

T='/logged/a?cc=max-age%3D60'
N='/logged/missing?status=404'

step "each request writes one access-log line"
get "$edge1_URL$T"
expect_eq "first status" 200 "$STATUS"
get "$edge1_URL$T"
expect_eq "second X-Cache" HIT "$(hdr X-Cache)"
get "$edge1_URL$N"
expect_eq "404 relayed" 404 "$STATUS"
wait_for 5 test "$(count_with "$ALOG" /logged/)" -ge 3 ||
	fail "expected 3 lines for /logged/ in $ALOG within 5 s, saw: $(cat "$ALOG" 2>/dev/null)"
expect_eq "lines for $T" 2 "$(count_with "$ALOG" "$T")"
expect_eq "lines for $N" 1 "$(count_with "$ALOG" "$N")"

step "the lines carry method, target, status and cache status"
first=$(lines_with "$ALOG" "$T" | sed -n 1p)
second=$(lines_with "$ALOG" "$T" | sed -n 2p)
third=$(lines_with "$ALOG" "$N" | sed -n 1p)
expect_match "first line" 'GET' "$first"
expect_match "first line" '(^|[^0-9])200([^0-9]|$)' "$first"
expect_match "first line" 'MISS' "$first"
expect_match "second line" 'GET' "$second"
expect_match "second line" '(^|[^0-9])200([^0-9]|$)' "$second"
expect_match "second line" 'HIT' "$second"
expect_match "404 line" 'GET' "$third"
expect_match "404 line" '(^|[^0-9])404([^0-9]|$)' "$third"

step "HEAD and POST are logged with their method"
get "$edge1_URL$T" -I
get "$edge1_URL/logged/post?status=201" -X POST --data-binary 'x=1'
expect_eq "POST status" 201 "$STATUS"
wait_for 5 test "$(count_with "$ALOG" /logged/)" -ge 5 || fail "HEAD/POST lines missing: $(cat "$ALOG")"
expect_match "HEAD line" 'HEAD' "$(lines_with "$ALOG" "$T" | sed -n 3p)"
expect_match "POST line" 'POST.*(^|[^0-9])201([^0-9]|$)' "$(lines_with "$ALOG" /logged/post)"

step "SIGHUP reopens the access log after it was renamed"
mv "$ALOG" "$ALOG.1"
signal_node edge1 HUP
# The node reopens asynchronously; give it up to 3 s to create the new file.
wait_for 3 test -e "$ALOG" || sleep 1
R='/logged/after-hup?cc=max-age%3D60'
get "$edge1_URL$R"
expect_eq "status" 200 "$STATUS"
wait_for 5 test "$(count_with "$ALOG" "$R")" -ge 1 ||
	fail "no line for $R in the reopened $ALOG (rotated file has $(count_with "$ALOG.1" "$R"))"
expect_eq "lines for $R in the rotated file" 0 "$(count_with "$ALOG.1" "$R")"
expect_eq "old lines stay in the rotated file" 5 "$(count_with "$ALOG.1" /logged/)"
is_running "$edge1_PID" || fail "edge1 died on SIGHUP"

step "SIGHUP twice more keeps the node serving"
signal_node edge1 HUP
signal_node edge1 HUP
sleep 0.3
get "$edge1_URL$R"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"

step "SIGTERM: exits 0 promptly"
t0=$(now_ms)
stop_node edge1
elapsed=$(( $(now_ms) - t0 ))
expect_eq "exit status" 0 "$edge1_EXIT"
expect_le "time to exit (ms)" 5000 "$elapsed"

step "SIGTERM with a client waiting on a slow upstream: exits 0 promptly"
start_node edge edge2 -u "$origin_URL"
curl -sS --max-time 20 -o /dev/null "$edge2_URL/logged/slow?delay_ms=8000" 2>/dev/null &
slow=$!
sleep 0.5
t0=$(now_ms)
stop_node edge2
elapsed=$(( $(now_ms) - t0 ))
expect_eq "exit status" 0 "$edge2_EXIT"
expect_le "time to exit (ms)" 5000 "$elapsed"
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null

exit 0
