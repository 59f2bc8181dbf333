#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/lab-selftest.sh — prove the lab is right with the real clients, without
# porthole: the geo-block stops pebble's validation (control), and a hole opened by
# hand (tests/e2e/manual-hole.sh, a stand-in for `porthole run --`) lets certbot and
# lego (HTTP-01, TLS-ALPN-01, IPv4-only / IPv6-only / dual names, renewal) succeed.
#
# Output: "PASS name (T s)" / "FAIL name (T s)" lines, details indented, and a last
# line "N passed, N failed, N skipped". Exit 0 if all passed, 1 if any failed, 77 if
# skipped (not root, missing binary). Env: LAB_PREFIX (default phl), E2E_VERBOSE=1.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() {
	echo "SKIP: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "must run as root (network namespaces, nftables)"
for b in pebble pebble-challtestsrv certbot lego nft nsenter ip openssl curl awk timeout; do
	command -v "$b" >/dev/null 2>&1 || skip "missing binary: $b"
done
[ "${BASH_VERSINFO[0]}" -ge 5 ] || skip "needs bash >= 5"

# shellcheck source=../lab/lab.sh
. "$HERE/../lab/lab.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

HOLE80="$HERE/manual-hole.sh 80 --"
HOLE443="$HERE/manual-hole.sh 443 --"
BASE_RULESET=
# lib.sh: the case runner, teardown (client, lab), probes, ruleset check, say
e2e_harness "" e2e_teardown

# Counter rule (no verdict) at the top of the host's input chain, by comment.
counter_add() { # COMMENT MATCH...
	local c=$1; shift
	lab_in_host nft insert rule inet filter input "$@" counter comment "\"$c\""
}
counter_get() { # COMMENT -> packets
	lab_in_host nft list chain inet filter input | awk -v c="comment \"$1\"" '
		index($0, c) && match($0, /packets [0-9]+/) { print substr($0, RSTART + 8, RLENGTH - 8); exit }'
}
counter_del() { # COMMENT
	local h
	for h in $(lab_in_host nft -a list chain inet filter input | awk -v c="comment \"$1\"" 'index($0, c) { print $NF }'); do
		lab_in_host nft delete rule inet filter input handle "$h"
	done
}

hole_report() { # FILE -> sets V4PK V6PK
	V4PK=$(awk '$1 == "ipv4" { print $2 }' "$1" 2>/dev/null)
	V6PK=$(awk '$1 == "ipv6" { print $2 }' "$1" 2>/dev/null)
	V4PK=${V4PK:-0} V6PK=${V6PK:-0}
	say "packets through the manual hole: ipv4 $V4PK, ipv6 $V6PK"
}

# ---------------------------------------------------------------- cases
case_probes() {
	local ok=0 a p
	{
		for a in "$LAB_HOST_V4" "$LAB_HOST_V6" "$LAB_HOST_V4_ALT" "$LAB_HOST_V6_ALT"; do
			for p in 22 80 443; do echo "dropped $a $p inet"; done
		done
		for a in "$LAB_HOST_V4" "$LAB_HOST_V6"; do
			for p in 22 80 443; do echo "refused $a $p allow"; done
			echo "dropped $a 8080 allow"
		done
		echo "open $LAB_INET_V4 $LAB_ACME_PORT allow"
	} | e2e_expect_probes --each || ok=1
	e2e_ruleset_unchanged || ok=1
	return $ok
}

case_manual_rule_probe() {
	local ok=0
	lab_in_host nft insert rule inet filter input tcp dport 80 accept comment '"phl-selftest"' || return 1
	printf '%s\n' "refused $LAB_HOST_V4 80 inet" "refused $LAB_HOST_V6 80 inet" \
		"refused $LAB_HOST_V4_ALT 80 inet" "dropped $LAB_HOST_V4 443 inet" | e2e_expect_probes --each || ok=1
	counter_del phl-selftest
	printf '%s\n' "dropped $LAB_HOST_V4 80 inet" "dropped $LAB_HOST_V6 80 inet" | e2e_expect_probes --each || ok=1
	e2e_ruleset_unchanged || ok=1
	return $ok
}

case_control_certbot() {
	local ok=0 n4 n6 c4 c6
	n4=$(e2e_new_name ctl4 v4) && n6=$(e2e_new_name ctl6 v6) || return 1
	counter_add phl-ctl-v4 ip saddr "$LAB_INET_V4" tcp dport 80 || return 1
	counter_add phl-ctl-v6 ip6 saddr "$LAB_INET_V6" tcp dport 80 || return 1
	e2e_expect_blocked e2e_certbot "" "$n4" "$n6" || ok=1
	c4=$(counter_get phl-ctl-v4) c6=$(counter_get phl-ctl-v6)
	counter_del phl-ctl-v4; counter_del phl-ctl-v6
	say "validation SYNs seen (and dropped) at the host: from $LAB_INET_V4: ${c4:-?}, from $LAB_INET_V6: ${c6:-?}"
	[ "${c4:-0}" -gt 0 ] && [ "${c6:-0}" -gt 0 ] || { say "expected validation attempts over both families"; ok=1; }
	e2e_ruleset_unchanged || ok=1
	return $ok
}

case_control_lego_tls() {
	local n
	n=$(e2e_new_name ctltls both) || return 1
	e2e_expect_blocked_unchanged e2e_lego_tls "" "$n"
}

with_hole() { # FAMILIES(v4|v6|v4v6) FUNC WRAP NAME... — run, then check the hole's packet counters
	local fam=$1 ok=0 rep; shift
	rep=$E2E_WORK/hole-report
	rm -f "$rep"
	MANUAL_HOLE_REPORT=$rep "$@" || ok=1
	hole_report "$rep"
	case $fam in
	v4) [ "$V4PK" -gt 0 ] || { say "no IPv4 packet went through the hole"; ok=1; } ;;
	v6) [ "$V6PK" -gt 0 ] || { say "no IPv6 packet went through the hole"; ok=1; } ;;
	v4v6) [ "$V4PK" -gt 0 ] && [ "$V6PK" -gt 0 ] || { say "expected packets of both families"; ok=1; } ;;
	esac
	e2e_ruleset_unchanged || ok=1
	return $ok
}

case_certbot_v4() {
	local n; n=$(e2e_new_name cb4 v4) || return 1
	with_hole v4 e2e_certbot "$HOLE80" "$n"
}
case_certbot_dual() {
	local n; n=$(e2e_new_name cbdual both) || return 1
	with_hole v6 e2e_certbot "$HOLE80" "$n"
}
case_certbot_v4_v6() {
	local a b
	a=$(e2e_new_name cb4 v4) && b=$(e2e_new_name cb6 v6) || return 1
	with_hole v4v6 e2e_certbot "$HOLE80" "$a" "$b"
}
case_certbot_renew() {
	with_hole v4v6 e2e_certbot_renew "$HOLE80"
}
case_lego_http_v4_v6() {
	local a b
	a=$(e2e_new_name lh4 v4) && b=$(e2e_new_name lh6 v6) || return 1
	with_hole v4v6 e2e_lego_http "$HOLE80" "$a" "$b"
}
case_lego_tls() {
	local a b
	a=$(e2e_new_name lt4 v4) && b=$(e2e_new_name ltdual both) || return 1
	with_hole v4v6 e2e_lego_tls "$HOLE443" "$a" "$b"
}

case_lab_down() {
	local ok=0
	e2e_lab_down_check || ok=1
	[ -e "$LAB_STATE" ] && { say "$LAB_STATE still exists"; ok=1; }
	[ $ok = 0 ] && say "namespaces, $E2E_LAB_NPROCS processes and state dir gone"
	return $ok
}

# ---------------------------------------------------------------- run
e2e_run_case lab_up e2e_lab_up || e2e_finish
e2e_run_case probes case_probes
e2e_run_case manual_rule_probe case_manual_rule_probe
e2e_run_case control_certbot_blocked case_control_certbot
e2e_run_case control_lego_tls_blocked case_control_lego_tls
e2e_run_case certbot_http_v4 case_certbot_v4
e2e_run_case certbot_http_dual_over_v6 case_certbot_dual
e2e_run_case certbot_http_v4only_v6only case_certbot_v4_v6
e2e_run_case certbot_renew_force case_certbot_renew
e2e_run_case lego_http_v4only_v6only case_lego_http_v4_v6
e2e_run_case lego_tls_v4only_dual case_lego_tls
e2e_run_case lab_down case_lab_down
e2e_finish
