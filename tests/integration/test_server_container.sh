#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `serve = container ENGINE:NAME webroot=HOST_PATH` (issue 23 case 3, step 8)
# in the real daemon, as far as it is built: the daemon starts with the
# line; porthole's table gets csrv/csrv6, the candidate and drop rules after
# DNAT (the guarded drop no longer unconditional) and the csrvtag chain with
# the configured guard_dscp; a token in the host path opens no window (the
# listener wiring is not built: refused once, in the log and the audit log);
# porthole check FAILs the line saying so; the table goes with the daemon.
# The kernel half itself is judged by tests/adversary/test_csrv.sh.
set -u
source "$(dirname "$0")/../lib.sh"
t_start server_container lab

WWW=$T_TMP/www
mkdir -p "$WWW/.well-known/acme-challenge"
chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" "$WWW/.well-known/acme-challenge"
t_setup "daemon start" daemon_start "serve = container docker:web webroot=$WWW" "guard_dscp = 0x05"
t_pass "the daemon starts with a container serve line"
in_host nft list table inet porthole >"$T_TMP/table.txt"
t_log "$(sed -n '/chain forward {/,/}/p;/chain csrvtag {/,/}/p' "$T_TMP/table.txt")"
t_check "porthole's table has csrv and csrv6" bash -c "grep -q 'set csrv {' '$T_TMP/table.txt' && grep -q 'set csrv6 {' '$T_TMP/table.txt'"
t_check "its forward chain marks candidates DNATed to @csrv" grep -q 'ct state new ct status dnat oif . ip daddr . tcp dport @csrv meta mark set' "$T_TMP/table.txt"
t_check "a guarded connection is dropped unless it goes to @csrv" grep -q 'ct direction original ct mark 0xfe000000/8 oif . ip daddr . tcp dport != @csrv drop' "$T_TMP/table.txt"
t_check "no unconditional drop of guarded connections is left" bash -c "! grep -qx '[[:space:]]*ct mark 0xfe000000/8 drop' '$T_TMP/table.txt'"
t_check "csrvtag writes guard_dscp 0x05" grep -q 'ct direction original ct mark 0xfe000000/8 ip dscp set 0x05' "$T_TMP/table.txt"
t_check "csrvtag takes 0x05 off everything else" grep -q 'ip dscp 0x05 ip dscp set cs0' "$T_TMP/table.txt"

echo token >"$WWW/.well-known/acme-challenge/Tok3n_ctr-1"
chmod 644 "$WWW/.well-known/acme-challenge/Tok3n_ctr-1"
for i in $(seq 100); do grep -q 'not wired in the daemon yet' "$T_DLOG" && break; sleep 0.05; done
t_check "a token: the window is refused, said in the log" grep -q 'server docker:web: serve container docker:web: not wired in the daemon yet' "$T_DLOG"
t_eq "no window opened" 0 "$(grep -c '"event":"window-open"' "$T_TMP/audit.jsonl" 2>/dev/null || true)"
t_check "the refusal is in the audit log" grep -q 'not wired in the daemon yet' "$T_TMP/audit.jsonl"
t_eq "the daemon runs on" 0 "$(kill -0 "$T_DPID"; echo $?)"

{
	echo "socket = $T_TMP/check.sock"
	echo "serve = container docker:web webroot=$WWW"
} >"$T_TMP/check.conf"
in_host env -u PORTHOLE_SOCKET "$PORTHOLE_BIN/porthole" check --config "$T_TMP/check.conf" >"$T_TMP/check.out" 2>&1
t_log "$(grep 'serve container' "$T_TMP/check.out")"
t_check "porthole check FAILs the line: no window yet" grep -q 'FAIL.*serve container docker:web.*does not open its window yet' "$T_TMP/check.out"

daemon_stop; rc=$?
[ $rc = 0 ] || { t_log "the daemon log:"; t_log "$(tail -20 "$T_DLOG")"; ls "$T_TMP"; cat "$T_TMP"/asan* 2>/dev/null | head -40; }
t_eq "the daemon stops cleanly" 0 $rc
t_check "porthole's table went with it" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table inet porthole >/dev/null 2>&1"
t_summary
