#!/bin/sh
# Install the Debian packages porthole needs to build and to run its tests.
# Idempotent. --if-missing: only call apt-get when something is missing.
set -eu

PKGS="make gcc clang llvm libclang-rt-dev pkg-config libbpf-dev libelf-dev zlib1g-dev libnftnl-dev libmnl-dev bpftool
      nftables iproute2 util-linux python3 procps
      pebble certbot lego openssl curl jq mandoc dpkg-dev debhelper conntrack"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ "${1:-}" = "--if-missing" ] && [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'sudo make deps'" >&2
	exit 1
fi
echo "deps: installing:${missing:- (all present, refreshing)}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
