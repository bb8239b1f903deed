#!/bin/sh
# i00019-ranges: Range requests served from a stored full object (RFC 9110
# 14): single, open-ended and suffix ranges (206 with Content-Range), several
# ranges as multipart/byteranges (14.6), If-Range with a strong ETag or a
# Last-Modified date (13.1.5), 416 with "bytes */LEN" when unsatisfiable
# (15.5.17), a syntactically invalid Range ignored (14.2); a range request on
# a miss fetches the whole object once, without Range, coalesced with other
# range requests, and answers each range.
. "$(dirname "$0")/lib.sh"

start_origin origin
start_node edge edge1 -u "$origin_URL"

LEN=1000
LM=$(http_date -3600)
A="/ranges/a?cc=max-age%3D60&size=$LEN&etag=r1&lm=$(urlenc "$LM")"

# expect_slice WHAT FROM TO: the body is bytes FROM..TO (inclusive) of the
# origin's size=N pattern (byte i = 'a' + i % 26).
expect_slice() {
	local want
	want=$(python3 -c 'import sys; a, b = int(sys.argv[1]), int(sys.argv[2]); sys.stdout.write("".join(chr(97 + i % 26) for i in range(a, b + 1)))' "$2" "$3")
	expect_eq "$1: Content-Length" "$(($3 - $2 + 1))" "$(hdr Content-Length)"
	if [ "$(body)" = "$want" ]; then
		echo "   ok: $1: body is bytes $2-$3"
	else
		fail "$1: body is not bytes $2-$3 ($(wc -c <"$BODY" | tr -d ' ') bytes: $(head -c 40 "$BODY")...)"
	fi
}

step "Range on a miss (RFC 9110 14.2): 206 for the range; the origin is asked once, for the whole object"
get "$edge1_URL$A" -H 'Range: bytes=0-99'
expect_eq "status" 206 "$STATUS"
expect_eq "Content-Range" "bytes 0-99/$LEN" "$(hdr Content-Range)"
expect_slice "bytes=0-99" 0 99
expect_eq "origin requests" 1 "$(origin_count origin "$A")"
expect_eq "Range the origin saw" "(none)" "$(origin_req_hdr origin "$A" Range)"

step "then the full object is a HIT"
get "$edge1_URL$A"
expect_eq "status" 200 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_slice "full" 0 $((LEN - 1))
expect_eq "origin requests" 1 "$(origin_count origin "$A")"

step "single range from cache (RFC 9110 14.1.2, 15.3.7)"
get "$edge1_URL$A" -H 'Range: bytes=100-199'
expect_eq "status" 206 "$STATUS"
expect_eq "X-Cache" HIT "$(hdr X-Cache)"
expect_eq "Content-Range" "bytes 100-199/$LEN" "$(hdr Content-Range)"
expect_slice "bytes=100-199" 100 199
expect_eq "ETag on the 206" '"r1"' "$(hdr ETag)"

step "open-ended range bytes=990-"
get "$edge1_URL$A" -H 'Range: bytes=990-'
expect_eq "status" 206 "$STATUS"
expect_eq "Content-Range" "bytes 990-999/$LEN" "$(hdr Content-Range)"
expect_slice "bytes=990-" 990 999

step "suffix range bytes=-10 (RFC 9110 14.1.1)"
get "$edge1_URL$A" -H 'Range: bytes=-10'
expect_eq "status" 206 "$STATUS"
expect_eq "Content-Range" "bytes 990-999/$LEN" "$(hdr Content-Range)"
expect_slice "bytes=-10" 990 999

step "last-pos past the end is clipped: bytes=900-5000"
get "$edge1_URL$A" -H 'Range: bytes=900-5000'
expect_eq "status" 206 "$STATUS"
expect_eq "Content-Range" "bytes 900-999/$LEN" "$(hdr Content-Range)"
expect_slice "bytes=900-5000" 900 999

step "several ranges: multipart/byteranges (RFC 9110 14.6)"
get "$edge1_URL$A" -H 'Range: bytes=0-9,20-29,-5'
expect_eq "status" 206 "$STATUS"
expect_match "Content-Type" '^multipart/byteranges; *boundary=' "$(hdr Content-Type)"
parts=$(python3 - "$(hdr Content-Type)" "$BODY" <<'EOF'
import re, sys
ctype, path = sys.argv[1], sys.argv[2]
m = re.search(r'boundary="?([^";]+)"?', ctype)
if not m:
    print("no boundary"); sys.exit(0)
b = m.group(1).encode()
data = open(path, "rb").read()
out = []
for chunk in data.split(b"--" + b)[1:]:
    if chunk.startswith(b"--"):
        break
    head, _, body = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
    body = body[:-2] if body.endswith(b"\r\n") else body
    cr = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n") if l.lower().startswith(b"content-range:")]
    rng = re.match(r"bytes (\d+)-(\d+)/(\d+)", cr[0]) if cr else None
    ok = rng and body == bytes(97 + i % 26 for i in range(int(rng.group(1)), int(rng.group(2)) + 1))
    out.append("%s%s" % (cr[0] if cr else "?", "" if ok else " BAD-BODY"))
print(" | ".join(out))
EOF
)
expect_eq "parts" "bytes 0-9/$LEN | bytes 20-29/$LEN | bytes 995-999/$LEN" "$parts"

step "unsatisfiable range: 416 with Content-Range: bytes */$LEN (RFC 9110 15.5.17)"
get "$edge1_URL$A" -H 'Range: bytes=5000-6000'
expect_eq "status" 416 "$STATUS"
expect_eq "Content-Range" "bytes */$LEN" "$(hdr Content-Range)"

step "invalid Range syntax is ignored (RFC 9110 14.2): the full 200"
get "$edge1_URL$A" -H 'Range: bytes=abc'
expect_eq "status" 200 "$STATUS"
expect_slice "full" 0 $((LEN - 1))
get "$edge1_URL$A" -H 'Range: lines=1-2'
expect_eq "unknown unit: status" 200 "$STATUS"

step "If-Range (RFC 9110 13.1.5): matching strong ETag -> 206, other ETag -> full 200"
get "$edge1_URL$A" -H 'Range: bytes=0-9' -H 'If-Range: "r1"'
expect_eq "matching ETag: status" 206 "$STATUS"
expect_slice "matching ETag" 0 9
get "$edge1_URL$A" -H 'Range: bytes=0-9' -H 'If-Range: "other"'
expect_eq "other ETag: status" 200 "$STATUS"
expect_slice "other ETag" 0 $((LEN - 1))
get "$edge1_URL$A" -H 'Range: bytes=0-9' -H 'If-Range: W/"r1"'
expect_eq "weak ETag never matches If-Range: status" 200 "$STATUS"

step "If-Range with a date: equal to Last-Modified -> 206, other date -> full 200"
get "$edge1_URL$A" -H 'Range: bytes=10-19' -H "If-Range: $LM"
expect_eq "same date: status" 206 "$STATUS"
expect_slice "same date" 10 19
get "$edge1_URL$A" -H 'Range: bytes=10-19' -H "If-Range: $(http_date -7200)"
expect_eq "other date: status" 200 "$STATUS"

step "HEAD with Range: no body either way"
get "$edge1_URL$A" -I -H 'Range: bytes=0-9'
expect_match "status" '^(200|206)$' "$STATUS"
expect_eq "origin requests" 1 "$(origin_count origin "$A")"

step "concurrent range requests on a cold object: one whole-object origin request, each client its range"
C="/ranges/cold?cc=max-age%3D60&size=$LEN&delay_ms=500"
pids=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	curl -sS --max-time 10 -H "Range: bytes=$((i * 100))-$((i * 100 + 49))" -D "$WORK/c.$i.hdr" \
		-o "$WORK/c.$i.body" -w '%{http_code}' "$edge1_URL$C" >"$WORK/c.$i.code" 2>"$WORK/c.$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 0 1 2 3 4 5 6 7 8 9; do
	HDRS=$WORK/c.$i.hdr BODY=$WORK/c.$i.body
	expect_eq "client $i: status" 206 "$(cat "$WORK/c.$i.code")"
	expect_eq "client $i: Content-Range" "bytes $((i * 100))-$((i * 100 + 49))/$LEN" "$(hdr Content-Range)"
	expect_slice "client $i" $((i * 100)) $((i * 100 + 49))
done
expect_eq "origin requests" 1 "$(origin_count origin "$C")"
expect_eq "Range the origin saw" "(none)" "$(origin_req_hdr origin "$C" Range)"

exit 0
