#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real firewall managers and odd hosts (tests/lab/fw.sh runs each manager from
# its Debian package in the lab host's network namespace, with its state in a
# private mount namespace). Every verdict is a real packet from the "internet"
# namespace. One case per kind of host, each in namespaces of its own:
#   u  ufw over iptables-nft          i  plain iptables-nft, policy DROP
#   f  firewalld 1.3, nftables         o  an nftables table with the owner flag
#   l  iptables-legacy DROP rules      r  a router: geo-block in prerouting
#   m  two daemons in two namespaces   c  porthole run inside a cgroup, cgroup.kill
# A case that cannot run here says SKIP and why. FIREWALLS_CASES="u f ..."
# runs only those cases (the others say SKIP: the kernel tier's time budget).
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/fw.sh"
t_start firewalls
ROOT_TMP=$T_TMP ROOT_PFX=$T_PFX
trap 'fw_stop >/dev/null 2>&1; T_TMP=$ROOT_TMP; t_cleanup' EXIT

MARKRULE='meta mark & 0xff000000 == 0x1000000'
IPT_RULE='-A INPUT -p tcp -m tcp --dport 80 -m mark --mark 0x1000000/0xff000000 -m comment --comment porthole -j ACCEPT'
MEASURED_FWD=n/a MEASURED_CG=n/a

now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }
# pr FROM ADDR PORT: a probe with a short timeout (a drop costs 0.5 s, not 1)
pr() { probe "$1" "$2" "$3" 0.5; }
# po FROM ADDR PORT: a probe that should get through: a longer timeout (the first
# SYN may wait for neighbour discovery) and the lab probe's second try of 8 s
# (tests/lab/net.sh; the kernel tier runs these cases under QEMU), no cost when
# it connects
po() { probe "$1" "$2" "$3" 2 open; }
# the count of porthole rules in the host (without nft's iptables-nft warnings)
rules() { porthole_rules 2>/dev/null; }
# not admitted: dropped, or rejected with an ICMP error (firewalld's REJECT)
closed() { case $1 in dropped | error:*) return 0 ;; esac; return 1; }
t_closed() { if closed "$2"; then t_pass "$1 ($2)"; else t_fail "$1 (expected dropped or rejected, got '$2')"; fi; }
# poll_rules WANT MAX_MS T0_MS: poll porthole_rules every 20 ms until it is
# WANT; prints the ms since T0_MS, or "never"
poll_rules() {
	local n
	while :; do
		n=$(rules)
		[ "$n" = "$1" ] && { echo $(($(now_ms) - $3)); return 0; }
		[ $(($(now_ms) - $3)) -ge "$2" ] && { echo never; return 1; }
		sleep 0.02
	done
}
# bg_ns NS OUT ERR CMD...: like bg_host, in another namespace of the lab
bg_ns() {
	local ns=$1 out=$2 err=$3; shift 3
	nsenter --net=/run/netns/"$T_PFX-$ns" -- "$@" >"$out" 2>"$err" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}
listener() { # OUT ERR PORT SECONDS ADDR...: a non-session listener in the host
	local out=$1 err=$2; shift 2
	bg_host "$out" "$err" "$PY" "$T_TOOLS/listen.py" "$@"
}
# session LABEL SECONDS ADDR...: porthole run -- listener on 80; waits for the
# window line (or a failure); RUN is porthole's PID
session() {
	local l=$1 rc; shift
	run_listener "$l" 80 "$@"
	rc=$?
	RUN=$RUN_PID
	return $rc
}
end_session() { kill -TERM "$RUN" 2>/dev/null; wait "$RUN" 2>/dev/null; RUN=; }
ipt_norm() { grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]/[0:0]/g'; }
ph_check() { # CONFIG OUT: porthole check in the host namespace; rc in CHECK_RC
	in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$1" >"$2" 2>&1
	CHECK_RC=$?
}
audit_ids() { # AUDIT: the window ids of the window-open records, space-separated
	"$PY" -c 'import json,sys; print(" ".join(str(r["window"]) for r in map(json.loads, filter(str.strip, open(sys.argv[1]))) if r["event"] == "window-open"))' "$1" 2>/dev/null
}

# child_of_us PID: PID is a child of this shell not reaped yet (so still ours)
child_of_us() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	set -- $st
	[ "$2" = "$$" ]
}

# ---- cases -------------------------------------------------------------------------
# Each case: its own prefix (namespaces, cgroups), its own directory under the
# run's T_TMP; case_end removes everything it started, also after a failure.
case_begin() { # LETTER TITLE
	echo "--- $1: $2"
	CASE=$1 CASE_TITLE=$2
	T_PFX=$ROOT_PFX$1
	T_TMP=$ROOT_TMP/$1
	mkdir -p "$T_TMP"
	C_PIDS0=${#T_PIDS[@]} C_NS0=${#T_NETNS[@]} C_CG0=${#T_CGROUPS[@]}
	T_DPID='' RUN=''
}
case_end() {
	local i p cg
	if [ -n "${T_DPID:-}" ]; then
		kill -TERM "$T_DPID" 2>/dev/null; wait "$T_DPID" 2>/dev/null; T_DPID=
	fi
	fw_stop
	for ((i = ${#T_PIDS[@]} - 1; i >= C_PIDS0; i--)); do
		p=${T_PIDS[i]}
		child_of_us "$p" || continue   # reaped already (its PID may be another's now)
		kill -TERM "$p" 2>/dev/null && { for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$p" 2>/dev/null; }
		wait "$p" 2>/dev/null
	done
	T_PIDS=("${T_PIDS[@]:0:C_PIDS0}")
	for ((i = ${#T_CGROUPS[@]} - 1; i >= C_CG0; i--)); do
		cg=${T_CGROUPS[i]}
		[ -d "$cg" ] || continue
		[ -s "$cg/cgroup.procs" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null && sleep 0.2
		find "$cg" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		rmdir "$cg" 2>/dev/null || echo "case $CASE: cannot remove cgroup $cg"
	done
	T_CGROUPS=("${T_CGROUPS[@]:0:C_CG0}")
	for ((i = ${#T_NETNS[@]} - 1; i >= C_NS0; i--)); do ip netns del "${T_NETNS[i]}" 2>/dev/null; done
	T_NETNS=("${T_NETNS[@]:0:C_NS0}")
	T_TMP=$ROOT_TMP T_PFX=$ROOT_PFX
}
# fw_case MANAGER: fw_start in this case's host; 0 ready, else SKIP/FAIL said
fw_case() {
	fw_start "$1" "$T_PFX-host" >"$T_TMP/fw.out" 2>&1
	local rc=$?
	case $rc in
	0) t_log "$1 started in ${FW_START_SECS:-?} s"; return 0 ;;
	77) t_skip "$CASE_TITLE: $(sed 's/^SKIP //' "$T_TMP/fw.out" | head -1)" ;;
	*) t_fail "$CASE_TITLE: fw_start $1: $(tr '\n' ' ' <"$T_TMP/fw.out" | cut -c1-300)" ;;
	esac
	return 1
}
# lab_plain: the lab with no nftables ruleset of its own (a manager brings one)
lab_plain() {
	nslab_up || { t_fail "$CASE_TITLE: lab setup"; return 1; }
	in_host nft delete table inet filter
}
baseline() { # before porthole: the internet is kept out, the allowed country gets in
	t_eq "$CASE: before: v4 port 80 dropped from the internet" dropped "$(pr inet $H 80)"
	t_eq "$CASE: before: v6 port 80 dropped from the internet" dropped "$(pr inet $H6 80)"
	t_eq "$CASE: before: the allowed country passes the firewall (refused)" refused "$(pr allow $H 80)"
}
decoys() { # non-session listeners: port 8080 on the session's addresses, 80 on others
	listener /dev/null /dev/null 8080 120 $H $H6; listener /dev/null /dev/null 80 120 $H2 $H62
	sleep 0.3
}
decoys_dropped() {
	t_eq "$CASE: $1: decoy port 8080 dropped, v4" dropped "$(pr inet $H 8080)"
	t_eq "$CASE: $1: decoy port 8080 dropped, v6" dropped "$(pr inet $H6 8080)"
	t_eq "$CASE: $1: decoy port 80 on another address dropped, v4" dropped "$(pr inet $H2 80)"
	t_eq "$CASE: $1: decoy port 80 on another address dropped, v6" dropped "$(pr inet $H62 80)"
}
stop_daemon_checked() {
	local errs
	errs=$(grep '<3>portholed: nft: ' "$T_DLOG" | sort | uniq -c | sort -rn | head -4 | sed 's/^ *//' | tr '\n' ';')
	if [ -z "$errs" ]; then t_pass "$CASE: no nftables error in the daemon's log${1:+ ($1)}"
	else t_fail "$CASE: no nftables error in the daemon's log${1:+ ($1)}; it has (count, line): $errs"; fi
	daemon_stop; t_eq "$CASE: daemon exits 0${1:+ ($1)}" 0 $?
}

# ---- u / i: ufw over iptables-nft, plain iptables-nft -------------------------------------
case_iptables() { # ufw | iptables
	local mgr=$1 c n before4 before6 out rc
	lab_plain || return
	fw_case "$mgr" || return
	baseline
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; return; }
	before4=$(fw_exec iptables-save | ipt_norm) before6=$(fw_exec ip6tables-save | ipt_norm)
	decoys
	session run 120 $H $H6 || { t_fail "$CASE: porthole run started"; cat "$T_TMP/run.err" "$T_DLOG"; return; }
	t_check "$CASE: window opens for porthole run -- listener" grep -q 'window .* open' "$T_TMP/run.err"
	n=0
	while read -r c; do
		n=$((n + 1))
		t_eq "$CASE: one porthole rule in $c" 1 "$(in_host nft list chain $c 2>/dev/null | grep -c 'comment "porthole"')"
	done < <(fw_chains)
	t_eq "$CASE: porthole rules = host chains that drop ($n)" "$n" "$(rules)"
	t_eq "$CASE: during: v4 port 80 open from the internet" open "$(po inet $H 80)"
	t_eq "$CASE: during: v6 port 80 open from the internet" open "$(po inet $H6 80)"
	decoys_dropped during
	out=$(fw_exec iptables -L -n 2>&1); rc=$?
	t_eq "$CASE: iptables -L -n exits 0" 0 $rc
	t_check "$CASE: iptables -L -n shows the porthole rule" grep -q 'mark match 0x1000000/0xff000000 /\* porthole \*/' <<<"$out"
	out=$(fw_exec iptables -S 2>&1); rc=$?
	t_eq "$CASE: iptables -S exits 0" 0 $rc
	t_check "$CASE: iptables -S shows '$IPT_RULE'" grep -qxF -- "$IPT_RULE" <<<"$out"
	t_eq "$CASE: the porthole rule is the first in INPUT" "$IPT_RULE" "$(grep -m1 '^-A INPUT ' <<<"$out")"
	out=$(fw_exec iptables-save 2>&1); rc=$?
	t_eq "$CASE: iptables-save exits 0" 0 $rc
	t_check "$CASE: iptables-save has the filter table" grep -qx '\*filter' <<<"$out"
	t_check "$CASE: iptables-save shows the porthole rule in iptables' shape" grep -qxF -- "$IPT_RULE" <<<"$out"
	out=$(fw_exec ip6tables-save 2>&1); rc=$?
	t_eq "$CASE: ip6tables-save exits 0" 0 $rc
	t_check "$CASE: ip6tables-save shows the porthole rule in iptables' shape" grep -qxF -- "$IPT_RULE" <<<"$out"
	if [ "$mgr" = ufw ]; then
		out=$(fw_exec ufw status 2>&1); rc=$?
		t_eq "$CASE: ufw status exits 0" 0 $rc
		t_check "$CASE: ufw status: active" grep -q '^Status: active' <<<"$out"
		out=$(fw_exec ufw allow 22/tcp 2>&1); rc=$?; t_eq "$CASE: ufw allow 22/tcp exits 0 (${out//$'\n'/ })" 0 $rc
		out=$(fw_exec ufw reload 2>&1); rc=$?; t_eq "$CASE: ufw reload exits 0 (${out//$'\n'/ })" 0 $rc
		t_eq "$CASE: after ufw reload: the porthole rules are there" "$n" "$(poll_rules "$n" 1000 "$(now_ms)" >/dev/null; rules)"
		t_eq "$CASE: after ufw reload: v4 still open" open "$(po inet $H 80)"
		t_eq "$CASE: after ufw reload: v6 still open" open "$(po inet $H6 80)"
		decoys_dropped "after ufw reload"
		out=$(fw_exec ufw delete allow 22/tcp 2>&1); rc=$?; t_eq "$CASE: ufw delete allow 22/tcp exits 0 (${out//$'\n'/ })" 0 $rc
	fi
	end_session
	t_eq "$CASE: after: no porthole rule" 0 "$(poll_rules 0 2000 "$(now_ms)" >/dev/null; rules)"
	t_eq "$CASE: after: v4 port 80 dropped" dropped "$(pr inet $H 80)"
	t_eq "$CASE: after: v6 port 80 dropped" dropped "$(pr inet $H6 80)"
	out=$(fw_exec iptables-save | ipt_norm)
	if [ "$before4" = "$out" ]; then t_pass "$CASE: after: iptables-save identical to before the window"
	else t_fail "$CASE: after: iptables-save identical to before the window"; diff <(echo "$before4") <(echo "$out") | head -20; fi
	out=$(fw_exec ip6tables-save | ipt_norm)
	if [ "$before6" = "$out" ]; then t_pass "$CASE: after: ip6tables-save identical to before the window"
	else t_fail "$CASE: after: ip6tables-save identical to before the window"; diff <(echo "$before6") <(echo "$out") | head -20; fi
	stop_daemon_checked
}

# ---- f: firewalld 1.3, nftables backend, a zone that rejects -------------------------------------
case_firewalld() {
	local n t0 ms out rc before
	lab_plain || return
	fw_case firewalld || return
	t_closed "$CASE: before: v4 port 80 not admitted from the internet" "$(pr inet $H 80)"
	t_closed "$CASE: before: v6 port 80 not admitted from the internet" "$(pr inet $H6 80)"
	t_eq "$CASE: before: the allowed country passes the firewall (refused)" refused "$(pr allow $H 80)"
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; return; }
	before=$(ruleset_dump)
	listener /dev/null /dev/null 8080 120 $H $H6; sleep 0.3
	session run 120 $H $H6 || { t_fail "$CASE: porthole run started"; cat "$T_TMP/run.err" "$T_DLOG"; return; }
	t_check "$CASE: window opens" grep -q 'window .* open' "$T_TMP/run.err"
	n=$(rules)
	t_log "porthole rules in: $(in_host nft list ruleset 2>/dev/null | awk '/^table /{t=$2" "$3} /chain /{c=$2} /comment "porthole"/{printf "%s %s; ", t, c}')"
	t_check "$CASE: the porthole rule is in inet firewalld filter_INPUT ($n rule(s) in all)" \
		bash -c "nsenter --net=/run/netns/$T_PFX-host nft list chain inet firewalld filter_INPUT | grep -q 'comment \"porthole\"'"
	t_eq "$CASE: during: v4 port 80 open from the internet" open "$(po inet $H 80)"
	t_eq "$CASE: during: v6 port 80 open from the internet" open "$(po inet $H6 80)"
	t_closed "$CASE: during: decoy port 8080 not admitted" "$(pr inet $H 8080)"
	out=$(fw_exec firewall-cmd --list-all 2>&1); rc=$?
	t_eq "$CASE: firewall-cmd --list-all exits 0 during the window" 0 $rc
	t_check "$CASE: firewall-cmd --list-all shows the zone" grep -q "^$FW_ZONE" <<<"$out"
	out=$(fw_exec firewall-cmd --reload 2>&1); rc=$?; out=${out//$'\n'/ }
	t0=$(now_ms)
	t_eq "$CASE: firewall-cmd --reload exits 0 ($out)" 0 $rc
	ms=$(poll_rules "$n" 3000 "$t0")
	MEASURED_FWD=$ms
	if [ "$ms" != never ] && [ "$ms" -lt 1000 ]; then t_pass "$CASE: porthole rule back $ms ms after the reload returned (< 1 s)"
	else t_fail "$CASE: porthole rule back < 1 s after the reload returned (got: $ms ms)"; fi
	t_log "$(grep -o 'rule restored in [0-9]* place(s) in [0-9]* us' "$T_DLOG" | tail -1)"
	sleep 0.3
	t_eq "$CASE: after the reload: rule still in place" "$n" "$(rules)"
	t_eq "$CASE: after the reload: v4 admitted again" open "$(po inet $H 80)"
	t_eq "$CASE: after the reload: v6 admitted again" open "$(po inet $H6 80)"
	t_closed "$CASE: after the reload: decoy port 8080 not admitted" "$(pr inet $H 8080)"
	end_session
	t_eq "$CASE: after: no porthole rule" 0 "$(poll_rules 0 2000 "$(now_ms)" >/dev/null; rules)"
	t_closed "$CASE: after: v4 port 80 not admitted" "$(pr inet $H 80)"
	out=$(ruleset_dump)
	if [ "$before" = "$out" ]; then t_pass "$CASE: after: ruleset identical to before the window"
	else t_fail "$CASE: after: ruleset identical to before the window"; diff <(echo "$before") <(echo "$out") | head -20; fi
	stop_daemon_checked
}

# static_mode_window [--no-host-rule]: the admin's rule is in place; restart the
# daemon with chains = none and check a window admits v4 and v6, a decoy stays
# dropped (and, with --no-host-rule, that porthole wrote nothing into the host)
static_mode_window() {
	stop_daemon_checked "auto"
	daemon_start "chains = none" || { t_fail "$CASE: daemon start (chains = none)"; cat "$T_DLOG"; return 1; }
	listener /dev/null /dev/null 80 120 $H2 $H62; sleep 0.3
	session run 120 $H $H6 || { t_fail "$CASE: porthole run started (chains = none)"; cat "$T_TMP/run.err" "$T_DLOG"; }
	t_check "$CASE: chains = none: window opens" grep -q 'window .* open' "$T_TMP/run.err"
	t_eq "$CASE: chains = none: v4 port 80 open from the internet" open "$(po inet $H 80)"
	t_eq "$CASE: chains = none: v6 port 80 open from the internet" open "$(po inet $H6 80)"
	t_eq "$CASE: chains = none: decoy on another address dropped" dropped "$(pr inet $H2 80)"
	[ "${1:-}" = --no-host-rule ] && t_eq "$CASE: chains = none: porthole wrote no host rule" 0 "$(rules)"
	end_session
	t_eq "$CASE: after: v4 port 80 dropped" dropped "$(pr inet $H 80)"
	stop_daemon_checked "chains = none"
}

# ---- o: a table with the owner flag (what firewalld >= 2.2 makes) --------------------------------
# fails_closed WHAT PATTERN: porthole run gets no window, says why, is audited
fails_closed() {
	local what=$1 pat=$2 A=$T_TMP/audit.jsonl
	session nowin 6 $H $H6 || { t_fail "$CASE: porthole run started"; cat "$T_TMP/nowin.err" "$T_DLOG"; return; }
	wait_for "$T_TMP/nowin.out" listening 30
	t_check "$CASE: porthole run: no window opened" bash -c "! grep -q 'window .* open' '$T_TMP/nowin.err'"
	t_eq "$CASE: porthole run: listener dropped from the internet, v4" dropped "$(pr inet $H 80)"
	t_eq "$CASE: porthole run: listener dropped from the internet, v6" dropped "$(pr inet $H6 80)"
	t_eq "$CASE: porthole run: no window element" 0 "$(porthole_elements)"
	t_eq "$CASE: porthole run: no host rule" 0 "$(rules)"
	t_check "$CASE: the client's stderr says it got no window" grep -q 'NO window\|refused' "$T_TMP/nowin.err"
	if grep -Eq -- "$pat" "$T_TMP/nowin.err"; then t_pass "$CASE: the client's stderr says why ($what)"
	else t_fail "$CASE: the client's stderr says why ($what); it says: $(tr '\n' ' ' <"$T_TMP/nowin.err")"; fi
	t_check "$CASE: audit log: a refused record" grep -q '"event":"refused"' "$A"
	t_check "$CASE: audit log: the refused record says why ($what)" bash -c "grep '\"event\":\"refused\"' '$A' | grep -Eq -- '$pat'"
	end_session
}
case_owner() {
	local out i
	nslab_up || { t_fail "$CASE_TITLE: lab setup"; return; }
	in_host nft delete table inet filter
	mkfifo "$T_TMP/holder.fifo"
	nsenter --net=/run/netns/"$T_PFX-host" -- nft -i <"$T_TMP/holder.fifo" >"$T_TMP/holder.out" 2>&1 &
	HOLDER=$!; T_PIDS+=("$HOLDER")
	# the fifo's write end is held by a process of its own, not by this shell:
	# a descriptor of the shell is inherited by everything started later (the
	# 120 s listeners), and the holder would see its EOF only when the last of
	# them ended (that waited 2 minutes). hw LINES... writes; hw_close ends it.
	# (the keeper gets it at its fork: nothing written is lost before it opens)
	exec {HW}<>"$T_TMP/holder.fifo"
	sleep 100000 >&"$HW" &
	HKEEP=$!; T_PIDS+=("$HKEEP")
	exec {HW}>&-
	hw() { printf '%s\n' "$@" 1<>"$T_TMP/holder.fifo"; }
	hw_close() { { kill "$HKEEP"; wait "$HKEEP"; } 2>/dev/null; }
	hw 'add table inet geo { flags owner; }' \
		"add set inet geo allowed_v4 { type ipv4_addr; flags interval; elements = { $LAB_ALLOWED_SET_V4 }; }" \
		"add set inet geo allowed_v6 { type ipv6_addr; flags interval; elements = { $LAB_ALLOWED_SET_V6 }; }" \
		'add chain inet geo input { type filter hook input priority filter; policy drop; }' \
		'add rule inet geo input iif "lo" accept' \
		'add rule inet geo input ct state established,related accept' \
		'add rule inet geo input icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept' \
		'add rule inet geo input ip saddr @allowed_v4 tcp dport { 22, 80, 443 } accept' \
		'add rule inet geo input ip6 saddr @allowed_v6 tcp dport { 22, 80, 443 } accept'
	for i in $(seq 50); do in_host nft list chain inet geo input 2>/dev/null | grep -q 'ip6 saddr' && break; sleep 0.1; done
	out=$(in_host nft list table inet geo 2>&1)
	if ! grep -q 'flags owner' <<<"$out" || ! grep -q 'ip6 saddr' <<<"$out"; then
		t_skip "$CASE_TITLE: nft -i could not make an owner table here: $(tr '\n' ' ' <"$T_TMP/holder.out" | cut -c1-200)"
		hw_close; return
	fi
	t_check "$CASE: the owner flag holds (another process cannot add a rule)" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft add rule inet geo input accept 2>/dev/null"
	baseline
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; hw_close; return; }
	ph_check "$T_CONF" "$T_TMP/check.out"
	t_eq "$CASE: porthole check exits 1" 1 "$CHECK_RC"
	if grep -E '^FAIL +chain inet geo input ' "$T_TMP/check.out" | grep -qF "$MARKRULE accept"; then
		t_pass "$CASE: porthole check: a FAIL line for the owned chain names the static rule"
	else t_fail "$CASE: porthole check: a FAIL line for the owned chain names the static rule"; cat "$T_TMP/check.out"; fi
	fails_closed "NftablesTableOwner or the static rule" "NftablesTableOwner|$MARKRULE|chains = none"
	# static mode: the holder adds the rule to its own table
	hw "insert rule inet geo input meta l4proto tcp $MARKRULE accept"
	for i in $(seq 30); do in_host nft list chain inet geo input | grep -q 'meta mark 0x01000000/8 accept' && break; sleep 0.1; done
	t_check "$CASE: the holder inserted the static rule" bash -c "nsenter --net=/run/netns/$T_PFX-host nft list chain inet geo input | grep -q 'meta mark 0x01000000/8 accept'"
	static_mode_window --no-host-rule || { hw_close; return; }
	hw_close
	wait "$HOLDER" 2>/dev/null
	t_check "$CASE: the owner table went with its holder" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table inet geo >/dev/null 2>&1"
}

# ---- l: iptables-legacy DROP rules -------------------------------------------------------------
case_legacy() {
	local out
	lab_plain || return
	fw_case legacy || return
	baseline
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; return; }
	ph_check "$T_CONF" "$T_TMP/check.out"
	t_eq "$CASE: porthole check exits 1" 1 "$CHECK_RC"
	if grep -E '^FAIL +iptables-legacy ' "$T_TMP/check.out" | grep -q -- 'iptables-legacy -I INPUT .*-m mark --mark 0x1000000/0xff000000 -j ACCEPT'; then
		t_pass "$CASE: porthole check: a FAIL line names iptables-legacy and prints the legacy rule"
	else t_fail "$CASE: porthole check: a FAIL line names iptables-legacy and prints the legacy rule"; cat "$T_TMP/check.out"; fi
	t_check "$CASE: porthole check: and one for ip6tables-legacy" grep -Eq '^FAIL +ip6tables-legacy ' "$T_TMP/check.out"
	t_check "$CASE: porthole check: WARN that the shipped unit keeps out the socket reading it needs" \
		grep -Eq '^WARN +iptables-legacy unit .*RestrictAddressFamilies=.*cannot refuse a window this table would starve' "$T_TMP/check.out"
	fails_closed "iptables-legacy" "iptables-legacy"
	out=$(fw_exec iptables-legacy -I INPUT -p tcp -m mark --mark 0x1000000/0xff000000 -j ACCEPT 2>&1); t_eq "$CASE: legacy rule added${out:+: $out}" 0 $?
	out=$(fw_exec ip6tables-legacy -I INPUT -p tcp -m mark --mark 0x1000000/0xff000000 -j ACCEPT 2>&1); t_eq "$CASE: ip6 legacy rule added${out:+: $out}" 0 $?
	static_mode_window
}

# ---- r: a router with a geo-block in prerouting ------------------------------------------------
case_router() {
	# the downstream server behind the host (tests/lab/net.sh lab_net_downstream)
	local S=$DOWN S6=$DOWN6
	nslab_up || { t_fail "$CASE_TITLE: lab setup"; return; }
	nslab_downstream || { t_fail "$CASE_TITLE: downstream setup"; return; }
	in_host nft -f - <<NFT || { t_fail "$CASE: router ruleset"; return; }
delete table inet filter
table inet filter {
	set allowed_v4 { type ipv4_addr; flags interval; elements = { $LAB_ALLOWED_SET_V4 }; }
	set allowed_v6 { type ipv6_addr; flags interval; elements = { $LAB_ALLOWED_SET_V6 }; }
	chain pre {
		type filter hook prerouting priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-router-solicit } accept
		ip saddr @allowed_v4 accept
		ip6 saddr @allowed_v6 accept
		ip daddr $S tcp dport 8081 accept
		ip6 daddr $S6 tcp dport 8081 accept
	}
}
NFT
	bg_ns down /dev/null /dev/null "$PY" "$T_TOOLS/listen.py" 80 120 $S $S6
	bg_ns down /dev/null /dev/null "$PY" "$T_TOOLS/listen.py" 8081 120 $S $S6
	# both listen before anything is probed (a busy machine starts python slowly)
	for _ in $(seq 100); do
		[ "$(in_down ss -ltnH | grep -cE ':(80|8081) ')" -ge 4 ] && break
		sleep 0.05
	done
	# neighbour discovery first: a forwarded first SYN can wait for it longer than a probe
	probe host $S 8081 2 >/dev/null; probe host $S6 8081 2 >/dev/null
	t_eq "$CASE: control: the downstream server is forwarded to where the geo-block allows (8081, v4)" open "$(po inet $S 8081)"
	t_eq "$CASE: control: the downstream server is forwarded to where the geo-block allows (8081, v6)" open "$(po inet $S6 8081)"
	t_eq "$CASE: before: downstream port 80 dropped from the internet" dropped "$(pr inet $S 80)"
	t_eq "$CASE: before: host port 80 dropped from the internet" dropped "$(pr inet $H 80)"
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; return; }
	session run 120 0.0.0.0 :: || { t_fail "$CASE: porthole run started"; cat "$T_TMP/run.err" "$T_DLOG"; return; }
	t_check "$CASE: window opens for a wildcard listener" grep -q 'window .* open' "$T_TMP/run.err"
	t_eq "$CASE: the porthole rule is in the prerouting chain" 1 "$(in_host nft list chain inet filter pre | grep -c 'comment "porthole"')"
	t_eq "$CASE: during: host port 80 open from the internet, v4" open "$(po inet $H 80)"
	t_eq "$CASE: during: host port 80 open from the internet, v6" open "$(po inet $H6 80)"
	t_eq "$CASE: during: downstream server port 80 dropped from the internet, v4" dropped "$(pr inet $S 80)"
	t_eq "$CASE: during: downstream server port 80 dropped from the internet, v6" dropped "$(pr inet $S6 80)"
	t_eq "$CASE: during: control: 8081 on the downstream server still forwarded, v6" open "$(po inet $S6 8081)"
	end_session
	t_eq "$CASE: after: host port 80 dropped" dropped "$(pr inet $H 80)"
	stop_daemon_checked
}

# ---- m: two daemons in two network namespaces ---------------------------------------------------
declare -A LAB
lab_save() { LAB[$1.pfx]=$T_PFX LAB[$1.tmp]=$T_TMP LAB[$1.sock]=$T_SOCK LAB[$1.conf]=$T_CONF LAB[$1.dlog]=$T_DLOG LAB[$1.dcg]=$T_DCG LAB[$1.dpid]=$T_DPID; }
lab_use() { T_PFX=${LAB[$1.pfx]} T_TMP=${LAB[$1.tmp]} T_SOCK=${LAB[$1.sock]} T_CONF=${LAB[$1.conf]} T_DLOG=${LAB[$1.dlog]} T_DCG=${LAB[$1.dcg]} T_DPID=${LAB[$1.dpid]}; }
case_two() {
	local x pa pb
	for x in a b; do
		T_PFX=$ROOT_PFX$CASE$x T_TMP=$ROOT_TMP/$CASE$x
		mkdir -p "$T_TMP"
		nslab_up || { t_fail "$CASE: lab $x setup"; return; }
		daemon_start || { t_fail "$CASE: daemon $x start"; cat "$T_DLOG"; return; }
		lab_save $x
	done
	for x in a b; do
		lab_use $x
		t_check "$CASE: namespace $x has its own inet porthole table" bash -c "nsenter --net=/run/netns/$T_PFX-host nft list table inet porthole >/dev/null"
	done
	# a listener in b outside any session, a session in a
	lab_use b; listener /dev/null /dev/null 80 120 $H $H6; pb=$BG_PID; lab_save b
	lab_use a
	session a1 120 $H $H6 || { t_fail "$CASE: porthole run in a"; cat "$T_TMP/a1.err" "$T_DLOG"; }
	t_check "$CASE: a: window opens" grep -q 'window .* open' "$T_TMP/a1.err"
	t_eq "$CASE: a: v4 port 80 open from a's internet" open "$(po inet $H 80)"
	t_eq "$CASE: a: v6 port 80 open from a's internet" open "$(po inet $H6 80)"
	pa=$RUN; lab_save a
	lab_use b
	t_eq "$CASE: b: a's window opens nothing in b (v4)" dropped "$(pr inet $H 80)"
	t_eq "$CASE: b: a's window opens nothing in b (v6)" dropped "$(pr inet $H6 80)"
	t_eq "$CASE: b: no window element in b" 0 "$(porthole_elements)"
	t_eq "$CASE: b: no host rule in b" 0 "$(rules)"
	kill -TERM "$pb"; wait "$pb" 2>/dev/null
	session b1 120 $H $H6 || { t_fail "$CASE: porthole run in b"; cat "$T_TMP/b1.err" "$T_DLOG"; }
	t_check "$CASE: b: window opens (while a's is open)" grep -q 'window .* open' "$T_TMP/b1.err"
	t_eq "$CASE: b: v4 port 80 open from b's internet" open "$(po inet $H 80)"
	t_eq "$CASE: b: one element in b's set" 1 "$(porthole_elements)"
	end_session; lab_save b
	poll_rules 0 2000 "$(now_ms)" >/dev/null
	t_eq "$CASE: b: closed again" dropped "$(pr inet $H 80)"
	lab_use a
	t_eq "$CASE: a: still open after b's window closed" open "$(po inet $H 80)"
	t_eq "$CASE: a: one element in a's set" 1 "$(porthole_elements)"
	RUN=$pa; end_session
	session a2 3 $H || { t_fail "$CASE: second porthole run in a"; cat "$T_TMP/a2.err"; }
	wait "$RUN" 2>/dev/null; RUN=; lab_save a
	t_eq "$CASE: a: its own window ids" "1 2" "$(audit_ids "${LAB[a.tmp]}/audit.jsonl")"
	t_eq "$CASE: b: its own window ids" "1" "$(audit_ids "${LAB[b.tmp]}/audit.jsonl")"
	t_eq "$CASE: a's state file: its own last window id" 2 "$(cat "${LAB[a.tmp]}/last-window" 2>/dev/null)"
	t_eq "$CASE: b's state file: its own last window id" 1 "$(cat "${LAB[b.tmp]}/last-window" 2>/dev/null)"
	t_eq "$CASE: a's log: only a's 2 windows" 2 "$(grep -c 'window [0-9]* open' "${LAB[a.dlog]}")"
	t_eq "$CASE: b's log: only b's 1 window" 1 "$(grep -c 'window [0-9]* open' "${LAB[b.dlog]}")"
	t_eq "$CASE: a's log: only a's 2 sessions" 2 "$(grep -c 'session [0-9]* started' "${LAB[a.dlog]}")"
	t_eq "$CASE: b's log: only b's 1 session" 1 "$(grep -c 'session [0-9]* started' "${LAB[b.dlog]}")"
	for x in a b; do
		lab_use $x
		stop_daemon_checked "daemon $x"
		t_check "$CASE: $x: no porthole table left" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table inet porthole >/dev/null 2>&1"
		t_eq "$CASE: $x: no porthole rule left" 0 "$(rules)"
		lab_save $x
	done
}

# ---- c: porthole run inside a cgroup; cgroup.kill ends the session ------------------------------
case_cgroup() {
	local X rel t0 ms rc cg
	nslab_up || { t_fail "$CASE_TITLE: lab setup"; return; }
	[ -n "$T_CG2" ] || { t_skip "$CASE_TITLE: no cgroup v2 mount"; return; }
	daemon_start || { t_fail "$CASE: daemon start"; cat "$T_DLOG"; return; }
	X=$T_CG2/$T_PFX-x rel=/$T_PFX-x
	mkdir "$X" && T_CGROUPS+=("$X") || { t_fail "$CASE: mkdir $X"; return; }
	[ -e "$X/cgroup.kill" ] || { t_skip "$CASE_TITLE: no cgroup.kill in this kernel"; return; }
	bg_host "$T_TMP/cg.out" "$T_TMP/cg.err" sh "$T_TOOLS/in_cgroup.sh" "$X" env PORTHOLE_SOCKET="$T_SOCK" \
		"$PORTHOLE_BIN/porthole" run -- sh -c "cat /proc/self/cgroup; exec $PY $T_TOOLS/listen.py 80 120 $H $H6"
	RUN=$BG_PID
	wait_for "$T_TMP/cg.err" 'window .* open' 50 || { t_fail "$CASE: window opens"; cat "$T_TMP/cg.err" "$T_DLOG"; return; }
	t_pass "$CASE: window opens for porthole run started in cgroup $rel"
	t_eq "$CASE: the command's /proc/self/cgroup is X" "0::$rel" "$(grep '^0::' "$T_TMP/cg.out")"
	t_eq "$CASE: the porthole run wrapper is in X too" "0::$rel" "$(grep '^0::' /proc/$RUN/cgroup)"
	t_eq "$CASE: v4 port 80 open from the internet" open "$(po inet $H 80)"
	t_eq "$CASE: v6 port 80 open from the internet" open "$(po inet $H6 80)"
	exec {ERR}>&2 2>/dev/null   # no "Killed" job notice from bash for the wrapper
	t0=$(now_ms)
	echo 1 >"$X/cgroup.kill"
	ms=$(poll_rules 0 3000 "$t0")
	MEASURED_CG=$ms
	if [ "$ms" != never ] && [ "$ms" -lt 1000 ]; then t_pass "$CASE: window closed $ms ms after cgroup.kill (< 1 s)"
	else t_fail "$CASE: window closed < 1 s after cgroup.kill (got: $ms ms)"; fi
	t_eq "$CASE: after cgroup.kill: no window element" 0 "$(porthole_elements)"
	t_eq "$CASE: after cgroup.kill: v4 port 80 dropped" dropped "$(pr inet $H 80)"
	t_eq "$CASE: after cgroup.kill: v6 port 80 dropped" dropped "$(pr inet $H6 80)"
	wait "$RUN"; rc=$?; RUN=
	exec 2>&$ERR {ERR}>&-
	t_eq "$CASE: the porthole run wrapper is gone too (killed: 137)" 137 "$rc"
	t_eq "$CASE: X is empty" "" "$(cat "$X/cgroup.procs")"
	t_check "$CASE: the daemon logged the close" grep -q 'window [0-9]* closed\|closed (' "$T_DLOG"
	t_check "$CASE: the audit log has the close record" grep -q '"event":"window-close"' "$T_TMP/audit.jsonl"
	stop_daemon_checked
}

run_case() { # LETTER TITLE FUNCTION [ARGS]
	if [ -n "${FIREWALLS_CASES:-}" ] && [[ " $FIREWALLS_CASES " != *" $1 "* ]]; then
		t_skip "$1: $2: not chosen (FIREWALLS_CASES=\"$FIREWALLS_CASES\")"
		return
	fi
	case_begin "$1" "$2"
	"${@:3}"
	[ -n "${RUN:-}" ] && end_session
	case_end
}
run_case u "ufw over iptables-nft" case_iptables ufw
run_case i "plain iptables-nft, policy DROP, geo allow" case_iptables iptables
run_case f "firewalld 1.3, nftables backend, rejecting zone" case_firewalld
run_case o "table with the owner flag" case_owner
run_case l "iptables-legacy DROP rules" case_legacy
run_case r "router, geo-block in prerouting" case_router
run_case m "two daemons in two network namespaces" case_two
run_case c "porthole run inside a cgroup, cgroup.kill" case_cgroup

printf '    measured: firewalld reload -> porthole rule back %s ms; cgroup.kill -> window closed %s ms\n' \
	"$MEASURED_FWD" "$MEASURED_CG"
t_summary
