#!/bin/sh
# i00006-upstream-errors: a refused upstream gives 502 at once; an upstream
# slower than --upstream-timeout gives 504 within a few seconds; errors are
# short, not cached, counted, and the node keeps serving.
. "$(dirname "$0")/lib.sh"

# A port that was just ours and is now closed: nothing listens there.
start_origin gone
stop_node gone
start_origin origin

start_node edge edgeA -u "http://127.0.0.1:$gone_PORT"
start_node edge edgeB -u "$origin_URL" --upstream-timeout 1s

step "upstream refuses connections: 502 quickly"
get "$edgeA_URL/refused?cc=max-age%3D60"
expect_eq "status" 502 "$STATUS"
expect_le "time (ms)" 3000 "$TIME_MS"
expect_le "error body size" 4096 "$(wc -c <"$BODY" | tr -d ' ')"
expect_match "Via" '1\.1 edgeA' "$(hdr Via)"

step "the 502 is not cached: asking again tries upstream again"
get "$edgeA_URL/refused?cc=max-age%3D60"
expect_eq "status" 502 "$STATUS"
expect_ne "X-Cache" HIT "$(hdr X-Cache)"
expect_ge "upstream_errors" 1 "$(admin_stat edgeA upstream_errors)"

step "upstream slower than --upstream-timeout 1s: 504 within 3 s"
D='/slow?delay_ms=3000&cc=max-age%3D60'
t0=$(now_ms)
get "$edgeB_URL$D"
elapsed=$(( $(now_ms) - t0 ))
expect_eq "status" 504 "$STATUS"
expect_le "time (ms)" 2999 "$elapsed"
expect_ge "time (ms)" 900 "$elapsed"
expect_le "error body size" 4096 "$(wc -c <"$BODY" | tr -d ' ')"
expect_eq "origin requests for $D" 1 "$(origin_count origin "$D")"
expect_ge "upstream_errors" 1 "$(admin_stat edgeB upstream_errors)"

step "the node still serves after the timeout"
F='/fast?cc=max-age%3D60'
get "$edgeB_URL$F"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" MISS "$(hdr X-Cache)"
expect_eq "body" "origin body for $F" "$(body)"
get "$edgeB_URL$F"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"

step "an answer within the timeout is fine"
W='/within?delay_ms=300&cc=max-age%3D60'
get "$edgeB_URL$W"
expect_eq "status" 200 "$STATUS"
expect_eq "body" "origin body for $W" "$(body)"

step "the node with the dead upstream still answers"
is_running "$edgeA_PID" || fail "edgeA died"
get "$edgeA_ADMIN/healthz"
expect_eq "admin /healthz" 200 "$STATUS"
get "$edgeA_URL/refused-again"
expect_eq "status" 502 "$STATUS"

exit 0
