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

PASSED=0 FAILED=0 SKIPPED=0
T_ALL=$(_e2e_now)
HOLE80="$HERE/manual-hole.sh 80 --"
HOLE443="$HERE/manual-hole.sh 443 --"
BASE_RULESET=
LAB_IS_UP=0

cleanup() {
	trap - EXIT INT TERM HUP
	e2e_cleanup
	[ "$LAB_IS_UP" = 1 ] && lab_down
}
interrupted() { # SIGNAL-NAME EXIT-STATUS
	echo "FAIL interrupted by SIG$1"
	FAILED=$((FAILED + 1))
	echo "total $(_e2e_secs "$T_ALL" "$(_e2e_now)")s"
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	exit "$2"   # the EXIT trap cleans up
}
trap cleanup EXIT
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM
trap 'interrupted HUP 129' HUP

run_case() { # NAME FUNC [ARGS...]
	local name=$1 t0 t; shift
	echo "--- $name"
	t0=$(_e2e_now)
	if "$@"; then
		t=$(_e2e_secs "$t0" "$(_e2e_now)")
		echo "PASS $name (${t}s)"
		PASSED=$((PASSED + 1))
		return 0
	fi
	t=$(_e2e_secs "$t0" "$(_e2e_now)")
	echo "FAIL $name (${t}s)"
	FAILED=$((FAILED + 1))
	return 1
}

finish() {
	echo "total $(_e2e_secs "$T_ALL" "$(_e2e_now)")s"
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" = 0 ] && exit 0
	exit 1
}

say() { printf '  %s\n' "$*"; }

# ---------------------------------------------------------------- checks
ruleset_unchanged() {
	local now
	now=$(lab_ruleset)
	if [ "$now" != "$BASE_RULESET" ]; then
		say "host ruleset differs from the baseline:"
		diff <(printf '%s\n' "$BASE_RULESET") <(printf '%s\n' "$now") | sed 's/^/    /'
		return 1
	fi
	say "host ruleset byte-identical to the baseline"
}

# expect_probes — lines "WANT ADDR PORT ROLE" on stdin, probed in parallel (a
# "dropped" answer costs LAB_PROBE_TIMEOUT seconds each).
expect_probes() {
	local d=$E2E_WORK/probes i=0 ok=0 want addr port role got
	rm -rf "$d"; mkdir -p "$d" || return 1
	while read -r want addr port role; do
		[ -n "$want" ] || continue
		i=$((i + 1))
		( got=$(lab_probe "$addr" "$port" "$role"); echo "$want $addr $port $role $got" >"$d/$(printf %03d $i)" ) &
	done
	wait
	for f in "$d"/*; do
		read -r want addr port role got <"$f"
		if [ "$got" = "$want" ]; then say "probe $addr port $port from $role: $got"
		else say "probe $addr port $port from $role: $got, expected $want"; ok=1; fi
	done
	return $ok
}

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
case_lab_up() {
	lab_up || return 1
	LAB_IS_UP=1
	e2e_init || return 1
	BASE_RULESET=$(lab_ruleset)
	say "lab $LAB_PREFIX up; ACME directory $LAB_ACME_DIR reachable from $LAB_NS_HOST"
}

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
	} | expect_probes || ok=1
	ruleset_unchanged || ok=1
	return $ok
}

case_manual_rule_probe() {
	local ok=0
	lab_in_host nft insert rule inet filter input tcp dport 80 accept comment '"phl-selftest"' || return 1
	printf '%s\n' "refused $LAB_HOST_V4 80 inet" "refused $LAB_HOST_V6 80 inet" \
		"refused $LAB_HOST_V4_ALT 80 inet" "dropped $LAB_HOST_V4 443 inet" | expect_probes || ok=1
	counter_del phl-selftest
	printf '%s\n' "dropped $LAB_HOST_V4 80 inet" "dropped $LAB_HOST_V6 80 inet" | expect_probes || ok=1
	ruleset_unchanged || ok=1
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
	ruleset_unchanged || ok=1
	return $ok
}

case_control_lego_tls() {
	local ok=0 n
	n=$(e2e_new_name ctltls both) || return 1
	e2e_expect_blocked e2e_lego_tls "" "$n" || ok=1
	ruleset_unchanged || ok=1
	return $ok
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
	ruleset_unchanged || ok=1
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
	local ok=0 ns pid st name
	local -a recorded=()
	while read -r pid st name; do recorded+=("$pid:$st:$name"); done <"$LAB_STATE/pids"
	e2e_cleanup
	lab_down || ok=1
	LAB_IS_UP=0
	for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
		if ip netns list | grep -qw -- "$ns"; then say "netns $ns still exists"; ok=1; fi
	done
	local r cur
	for r in "${recorded[@]}"; do
		IFS=: read -r pid st name <<<"$r"
		cur=$(_lab_starttime "$pid") || cur=
		if [ -n "$cur" ] && [ "$cur" = "$st" ]; then say "$name ($pid) still running"; ok=1; fi
	done
	[ -e "$LAB_STATE" ] && { say "$LAB_STATE still exists"; ok=1; }
	[ $ok = 0 ] && say "namespaces, ${#recorded[@]} processes and state dir gone"
	return $ok
}

# ---------------------------------------------------------------- run
run_case lab_up case_lab_up || finish
run_case probes case_probes
run_case manual_rule_probe case_manual_rule_probe
run_case control_certbot_blocked case_control_certbot
run_case control_lego_tls_blocked case_control_lego_tls
run_case certbot_http_v4 case_certbot_v4
run_case certbot_http_dual_over_v6 case_certbot_dual
run_case certbot_http_v4only_v6only case_certbot_v4_v6
run_case certbot_renew_force case_certbot_renew
run_case lego_http_v4only_v6only case_lego_http_v4_v6
run_case lego_tls_v4only_dual case_lego_tls
run_case lab_down case_lab_down
finish
