#!/bin/sh
# i00025-geo-regions: the client's region (GeoIP) picks the tier. Two tiers,
# each a different test origin, so the origin that saw a request tells which
# tier it took. The client address comes from X-Forwarded-For (or
# Forwarded) only when the direct peer is a trusted proxy. Sources: MaxMind's
# GeoIP2-Country-Test.mmdb (networks from its source JSON: 214.78.120.0/22
# and ::74.209.24.0/116 US, 2a02:d180::/29 DE, 2a02:cfc0::/29 FR,
# 2001:218::/32 JP, 2a02:d500::/29 a continent-only record, 214.1.1.0/24 a
# record with no location), an operator CIDR file (wins over the mmdb),
# and Debian's tor range files. /stats "regions" counts every decision.
. "$(dirname "$0")/lib.sh"

GEO=$top_srcdir/../shared/data/geoip
MMDB=$GEO/GeoIP2-Country-Test.mmdb
[ -r "$MMDB" ] || { echo "SKIP: $MMDB not found" >&2; exit 77; }

start_origin oeu
start_origin ous

tiers() {
	cat <<EOF
[tier.tier-eu]
upstream = $oeu_URL

[tier.tier-us]
upstream = $ous_URL

[regions]
eu = tier-eu
us = tier-us
default = tier-eu

EOF
}
{
	tiers
	cat <<EOF
[geo]
mmdb = $MMDB
trusted_proxies = 127.0.0.1
country.DE = eu
country.US = us
continent.EU = eu
tor_geoip = off
tor_geoip6 = off
EOF
} >"$WORK/mmdb.ini"
cat >"$WORK/nets.cidr" <<EOF
# operator networks: these win over the mmdb
214.78.120.0/24 eu
2a02:d180::/32  us
10.9.0.0/16     us
10.11.0.0/16    apac
EOF
{
	tiers
	cat <<EOF
[geo]
mmdb = $MMDB
cidr_file = $WORK/nets.cidr
trusted_proxies = 127.0.0.1
country.DE = eu
country.US = us
tor_geoip = off
tor_geoip6 = off
EOF
} >"$WORK/cidr.ini"
{
	tiers
	cat <<EOF
[geo]
mmdb = $MMDB
trusted_proxies = 10.0.0.0/8, 192.0.2.1
country.DE = eu
country.US = us
tor_geoip = off
tor_geoip6 = off
EOF
} >"$WORK/untrusted.ini"

start_node edge edgeM -c "$WORK/mmdb.ini"
start_node edge edgeC -c "$WORK/cidr.ini"
start_node edge edgeU -c "$WORK/untrusted.ini"

KEYN=0
# route EDGE [CURL-ARGS...]: GETs a fresh key through EDGE; sets TO to the
# origin(s) that saw it: "eu", "us", "eu+us" or "none".
route() {
	local e=$1 url
	shift
	KEYN=$((KEYN + 1))
	local key="/geo/k$KEYN?cc=max-age%3D60"
	url=${e}_URL
	get "${!url}$key" "$@"
	local neu nus
	neu=$(origin_count oeu "$key")
	nus=$(origin_count ous "$key")
	if [ "$neu" = 1 ] && [ "$nus" = 0 ]; then TO=eu
	elif [ "$neu" = 0 ] && [ "$nus" = 1 ]; then TO=us
	elif [ "$neu" = 0 ] && [ "$nus" = 0 ]; then TO=none
	else TO="eu+us"
	fi
}

# expect_route WHAT EDGE EXPECTED-ORIGIN [CURL-ARGS...]
expect_route() {
	local what=$1 e=$2 want=$3
	shift 3
	route "$e" "$@"
	expect_eq "$what: status" 200 "$STATUS"
	expect_eq "$what: origin that got the request" "$want" "$TO"
}

# decisions EDGE: "eu us default unmapped" decision counts from /stats.
decisions() {
	stats_eval "$1" '" ".join(str(s["regions"][r]["decisions"]) for r in ("eu", "us", "default", "(unmapped)"))'
}

step "edgeM's /stats before any request: regions eu, us and default, no decisions"
expect_eq "decisions (eu us default unmapped)" "0 0 0 0" "$(decisions edgeM)"
expect_eq "tier of region us" tier-us "$(admin_json edgeM regions.us.tier)"

step "mmdb, trusted peer: X-Forwarded-For of each country reaches its region's origin"
expect_route "US IPv4 214.78.120.5" edgeM us -H "X-Forwarded-For: 214.78.120.5"
expect_route "US IPv4 74.209.24.7 (::74.209.24.0/116)" edgeM us -H "X-Forwarded-For: 74.209.24.7"
expect_route "DE IPv6 2a02:d180::5" edgeM eu -H "X-Forwarded-For: 2a02:d180::5"
expect_route "FR IPv6 2a02:cfc0::1 (continent.EU)" edgeM eu -H "X-Forwarded-For: 2a02:cfc0::1"
expect_eq "decisions (eu us default unmapped)" "2 2 0 0" "$(decisions edgeM)"

step "mmdb: a proxy chain is read from the right, skipping trusted hops"
expect_route "DE, then US (right-most wins)" edgeM us -H "X-Forwarded-For: 2a02:d180::5, 214.78.120.5"
expect_route "US, then a trusted hop 127.0.0.1" edgeM us -H "X-Forwarded-For: 214.78.120.5, 127.0.0.1"
expect_route "two X-Forwarded-For lines: US then DE" edgeM eu \
	-H "X-Forwarded-For: 214.78.120.5" -H "X-Forwarded-For: 2a02:d180::5"
expect_route "Forwarded: for=\"[2a02:d180::5]:4711\"" edgeM eu -H 'Forwarded: for="[2a02:d180::5]:4711"'
expect_route "Forwarded: for=214.78.120.5" edgeM us -H 'Forwarded: for=214.78.120.5;proto=http'
expect_eq "decisions (eu us default unmapped)" "4 5 0 0" "$(decisions edgeM)"

step "mmdb: addresses with no mapped location go to the default region (tier-eu)"
expect_route "JP 2001:218::1 (continent AS not mapped)" edgeM eu -H "X-Forwarded-For: 2001:218::1"
expect_route "2a02:d500::1 (continent-only record: not a location)" edgeM eu -H "X-Forwarded-For: 2a02:d500::1"
expect_route "214.1.1.1 (record without a country)" edgeM eu -H "X-Forwarded-For: 214.1.1.1"
expect_route "192.0.2.7 (not in the database)" edgeM eu -H "X-Forwarded-For: 192.0.2.7"
expect_route "no header (the peer 127.0.0.1)" edgeM eu
expect_route "a malformed header" edgeM eu -H "X-Forwarded-For: not-an-address"
expect_eq "decisions (eu us default unmapped)" "4 5 6 0" "$(decisions edgeM)"

step "CIDR file: its networks win over the mmdb; elsewhere the mmdb still answers"
expect_route "214.78.120.5 (cidr eu; mmdb says US)" edgeC eu -H "X-Forwarded-For: 214.78.120.5"
expect_route "214.78.121.5 (outside the cidr /24: mmdb US)" edgeC us -H "X-Forwarded-For: 214.78.121.5"
expect_route "2a02:d180::5 (cidr us; mmdb says DE)" edgeC us -H "X-Forwarded-For: 2a02:d180::5"
expect_route "2a02:d181::5 (outside the cidr /32: mmdb DE)" edgeC eu -H "X-Forwarded-For: 2a02:d181::5"
expect_route "10.9.1.1 (cidr only)" edgeC us -H "X-Forwarded-For: 10.9.1.1"
expect_route "10.10.1.1 (nowhere: default)" edgeC eu -H "X-Forwarded-For: 10.10.1.1"
expect_route "10.11.1.1 (cidr apac: no [regions] line, so the default tier)" edgeC eu -H "X-Forwarded-For: 10.11.1.1"
expect_eq "decisions (eu us default unmapped)" "2 3 1 1" "$(decisions edgeC)"

step "untrusted peer: edgeU trusts only 10.0.0.0/8 and 192.0.2.1, so 127.0.0.1's headers are ignored"
expect_route "X-Forwarded-For US from an untrusted peer" edgeU eu -H "X-Forwarded-For: 214.78.120.5"
expect_route "Forwarded US from an untrusted peer" edgeU eu -H 'Forwarded: for=214.78.120.5'
expect_route "X-Forwarded-For DE from an untrusted peer" edgeU eu -H "X-Forwarded-For: 2a02:d180::5"
expect_eq "decisions (eu us default unmapped): all default" "0 0 3 0" "$(decisions edgeU)"

step "/metrics has the same decision counts"
metrics=$(curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "$edgeM_ADMIN/metrics" |
	grep '^cdn_region_decisions_total' | tr '\n' ' ')
expect_match "cdn_region_decisions_total for us" 'cdn_region_decisions_total\{region="us",tier="tier-us"\} 5' "$metrics"
expect_match "cdn_region_decisions_total for default" 'cdn_region_decisions_total\{region="default",tier="tier-eu"\} 6' "$metrics"

step "tor range files (Debian tor-geoipdb): addresses of DE and US ranges pick their regions"
TOR4=/usr/share/tor/geoip
TOR6=/usr/share/tor/geoip6
if [ -r "$TOR4" ] && [ -r "$TOR6" ]; then
	# An address inside the first DE and US ranges of each file.
	read -r DE4 US4 DE6 US6 < <(python3 - "$TOR4" "$TOR6" <<'EOF'
import ipaddress, sys
def pick(path, cc, v6):
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        a, b, c = line.strip().split(",")
        if c != cc:
            continue
        lo = ipaddress.ip_address(a) if v6 else ipaddress.ip_address(int(a))
        hi = ipaddress.ip_address(b) if v6 else ipaddress.ip_address(int(b))
        if int(hi) - int(lo) >= 2:
            return str(ipaddress.ip_address(int(lo) + 1))
    return "none"
print(pick(sys.argv[1], "DE", False), pick(sys.argv[1], "US", False),
      pick(sys.argv[2], "DE", True), pick(sys.argv[2], "US", True))
EOF
)
	echo "   tor addresses: DE $DE4 $DE6, US $US4 $US6"
	{
		tiers
		cat <<EOF
[geo]
tor_geoip = $TOR4
tor_geoip6 = $TOR6
trusted_proxies = 127.0.0.1
country.DE = eu
country.US = us
EOF
	} >"$WORK/tor.ini"
	start_node edge edgeT -c "$WORK/tor.ini"
	expect_route "DE IPv4 $DE4" edgeT eu -H "X-Forwarded-For: $DE4"
	expect_route "US IPv4 $US4" edgeT us -H "X-Forwarded-For: $US4"
	expect_route "DE IPv6 $DE6" edgeT eu -H "X-Forwarded-For: $DE6"
	expect_route "US IPv6 $US6" edgeT us -H "X-Forwarded-For: $US6"
	expect_route "127.0.0.1 (no header: ?? in the files)" edgeT eu
	expect_eq "decisions (eu us default unmapped)" "2 2 1 0" "$(decisions edgeT)"
else
	echo "   (tor-geoipdb not installed: skipped)"
fi

exit 0
