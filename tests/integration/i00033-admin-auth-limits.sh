#!/bin/sh
# i00033-admin-auth-limits: the admin API refuses what it must and changes
# nothing when it does: a missing or wrong token gets 401, a token without
# the scope 403, bad JSON 400 with a reason, a body over admin.max_body 413;
# a burst over the rate limit gets 429 with Retry-After, per token and per
# address, and /healthz stays open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ctl.sh"

printf 'readonly-token-1 read\nwarmonly-token-1 warm\n' >>"$WORK/tokens"

start_origin origin
start_node edge edge1 -u "$origin_URL" --admin-max-body 1K
start_node edge edge2 -u "$origin_URL" --admin-rate-limit 2 --admin-rate-burst 4

T='/auth/a?cc=max-age%3D300'
get "$edge1_URL$T"
wait_for 5 is_hit "$edge1_URL$T" || fail "edge1 does not cache T"
head_before=$(admin_json edge1 events.head)

step "no token, wrong token: 401 and nothing purged"
get "$edge1_ADMIN/purge" -X POST -d "{\"urls\":[\"$T\"]}"
expect_eq "no token" 401 "$STATUS"
expect_match "WWW-Authenticate" '^Bearer' "$(hdr WWW-Authenticate)"
expect_match "error message" 'token' "$(body_get error)"
get "$edge1_ADMIN/purge" -X POST -H 'Authorization: Bearer not-the-token' -d "{\"urls\":[\"$T\"]}"
expect_eq "wrong token" 401 "$STATUS"
get "$edge1_ADMIN/purge" -X POST -H "Authorization: Basic $TOKEN" -d "{\"urls\":[\"$T\"]}"
expect_eq "not a bearer token" 401 "$STATUS"
for p in /stats /metrics /events /jobs/1; do
	get "$edge1_ADMIN$p" -H 'Authorization: Bearer nope-nope-nope'
	expect_eq "wrong token on $p" 401 "$STATUS"
done
get "$edge1_URL$T"
expect_eq "still cached" HIT "$(hdr X-Cache)"
expect_eq "no event logged" "$head_before" "$(admin_json edge1 events.head)"
expect_eq "no purge counted" 0 "$(admin_stat edge1 purge_requests)"

step "a token without the scope: 403"
get "$edge1_ADMIN/purge" -X POST -H 'Authorization: Bearer readonly-token-1' -d "{\"urls\":[\"$T\"]}"
expect_eq "read token purging" 403 "$STATUS"
get "$edge1_ADMIN/warm" -X POST -H 'Authorization: Bearer readonly-token-1' -d '{"urls":["/x"]}'
expect_eq "read token warming" 403 "$STATUS"
get "$edge1_ADMIN/stats" -H 'Authorization: Bearer warmonly-token-1'
expect_eq "warm token reading stats" 403 "$STATUS"
get "$edge1_ADMIN/stats" -H 'Authorization: Bearer readonly-token-1'
expect_eq "read token reading stats" 200 "$STATUS"
get "$edge1_URL$T"
expect_eq "still cached" HIT "$(hdr X-Cache)"

step "bad requests: 400 with a reason, 404, 405, 413"
admin_post edge1 /purge '{"urls":["/a"'
expect_eq "truncated JSON" 400 "$STATUS"
expect_match "reason" 'malformed JSON' "$(body_get error)"
admin_post edge1 /purge '{"url":["/a"]}'
expect_eq "unknown member" 400 "$STATUS"
expect_match "reason" 'unknown member "url"' "$(body_get error)"
admin_post edge1 /purge '{"urls":[]}'
expect_eq "empty list" 400 "$STATUS"
admin_post edge1 /purge '{"urls":["no-slash"]}'
expect_eq "not a path" 400 "$STATUS"
admin_post edge1 /purge '{"urls":["/a"],"prefix":"/b"}'
expect_eq "two kinds" 400 "$STATUS"
admin_post edge1 /purge '[1,2]'
expect_eq "not an object" 400 "$STATUS"
admin_post edge1 /purge ''
expect_eq "empty body" 400 "$STATUS"
admin_post edge1 /purge "{\"urls\":[\"/$(head -c 3000 /dev/zero | tr '\0' a)\"]}"
expect_eq "body over admin.max_body" 413 "$STATUS"
expect_match "reason" 'limit' "$(body_get error)"
admin_get edge1 /purge
expect_eq "GET /purge" 405 "$STATUS"
admin_get edge1 /nope
expect_eq "unknown endpoint" 404 "$STATUS"
admin_get edge1 /jobs/999
expect_eq "unknown job" 404 "$STATUS"
get "$edge1_URL$T"
expect_eq "still cached after all that" HIT "$(hdr X-Cache)"

step "a good purge goes through"
admin_post edge1 /purge "{\"urls\":[\"$T\"]}"
expect_eq "purge" 200 "$STATUS"
expect_eq "purged" 1 "$(body_get purged)"
get "$edge1_URL$T"
expect_eq "refetched" MISS "$(hdr X-Cache)"

step "a burst over the rate limit (2/s, bursts of 4) gets 429 with Retry-After"
codes=""
for i in 1 2 3 4 5 6 7 8; do
	admin_get edge2 /stats
	codes="$codes $STATUS"
	[ "$STATUS" = 429 ] && retry=$(hdr Retry-After) && limited_body=$(body_get error)
done
echo "   codes:$codes"
expect_match "the first requests pass" '^ 200 200 200' "$codes"
expect_match "then 429" '429' "$codes"
expect_match "Retry-After" '^[1-9][0-9]*$' "${retry:-}"
expect_match "reason" 'rate limit' "${limited_body:-}"
get "$edge2_ADMIN/healthz"
expect_eq "healthz is not limited" 200 "$STATUS"
sleep 1.2
admin_get edge2 /stats
expect_eq "allowed again after a while" 200 "$STATUS"
expect_ge "429s counted" 1 "$(admin_stat edge2 admin_rate_limited)"

step "the address limit also holds for requests without a valid token"
sleep 2.2
codes=""
for i in 1 2 3 4 5 6 7 8; do
	get "$edge2_ADMIN/stats" -H 'Authorization: Bearer guess-guess-guess'
	codes="$codes $STATUS"
done
echo "   codes:$codes"
expect_match "401 first, then 429" '^ 401 401 401 .*429' "$codes"

exit 0
