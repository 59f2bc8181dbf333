#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/start.sh — the preamble of the e2e scripts on the lab (test_e2e.sh,
# test_server_e2e.sh). Source it first, from the top level (not in a function:
# lab.sh and lib.sh, which it sources, set globals):
#   . "$(dirname "${BASH_SOURCE[0]}")/start.sh" NAME PREFIX [BINARY...]
# Sets HERE (tests/e2e), ROOT, PY, BIN (PORTHOLE_BIN, default build/asan when
# built, else build), skip REASON (prints "SKIP NAME: REASON" and a closing
# "NAME: 0 passed, 0 failed, 1 skipped", exits 77), LAB_PREFIX
# (E2E_LAB_PREFIX, default PREFIX$$), LAB_STATE, E2E_TIMEOUT (default 90); skips
# unless root, bash >= 5, the binaries built and pebble, pebble-challtestsrv,
# each BINARY and the lab's tools installed.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
E2E_NAME=$1

skip() {
	echo "SKIP $E2E_NAME: $*"
	echo "$E2E_NAME: 0 passed, 0 failed, 1 skipped"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "must run as root (network namespaces, nftables, BPF)"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || skip "needs bash >= 5"
# the sanitizer build when make test built it: a report fails the test
BIN=${PORTHOLE_BIN:-build/asan}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
[ -n "${PORTHOLE_BIN:-}" ] || [ -x "$BIN/portholed" ] || BIN=$ROOT/build
for b in "$BIN/portholed" "$BIN/porthole"; do
	[ -x "$b" ] || skip "missing binary: $b (make all)"
done
for b in pebble pebble-challtestsrv "${@:3}" nft nsenter ip openssl curl awk timeout "$PY"; do
	command -v "$b" >/dev/null 2>&1 || skip "missing binary: $b (make deps)"
done

LAB_PREFIX=${E2E_LAB_PREFIX:-$2$$}
LAB_STATE=/run/$LAB_PREFIX-lab
E2E_TIMEOUT=${E2E_TIMEOUT:-90}
# The host namespace inherits the machine's resolv.conf, whose server it cannot reach:
# a reverse lookup (certbot's HTTP server calls getfqdn() when it binds one address)
# would wait 5 s for nothing. Nothing in the lab needs DNS from the host: fail fast.
export RES_OPTIONS="timeout:1 attempts:1"
# shellcheck source=../lab/lab.sh
. "$ROOT/tests/lab/lab.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
