#!/usr/bin/env bash
# Install the Debian packages needed to build and test cdn-edge/cdn-shield.
#
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --bench    also wrk, nginx-light and util-linux (taskset)
#
# Only missing packages are installed; `apt-get update` runs only when
# something is missing, so a second run is quick and changes nothing.
set -euo pipefail

usage() {
	awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
}

want=(build-essential autoconf automake libtool pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
	libjansson-dev libinih-dev libmaxminddb-dev libcmocka-dev
	curl python3 ca-certificates openssl tor-geoipdb)

for arg in "$@"; do
	case "$arg" in
	--bench) want+=(wrk nginx-light util-linux) ;;
	-h | --help) usage; exit 0 ;;
	*) echo "deps.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
	esac
done

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: needs a Debian-like system (dpkg-query and apt-get)" >&2
	exit 1
fi

missing=()
for pkg in "${want[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "deps.sh: all ${#want[@]} packages are installed"
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps.sh: missing packages (${missing[*]}) and not root; run as root" >&2
		exit 1
	fi
fi

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps.sh: installed: ${missing[*]}"
