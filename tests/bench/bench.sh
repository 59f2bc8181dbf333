#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# porthole benchmark (`make bench`; not part of `make test`). Builds the
# namespace lab of tests/lib.sh, starts portholed (plain build/, no sanitizers)
# in the geo-blocked host namespace and measures the design of lib/nftrule.h:
# a window is one element (session mark . port, timeout = deadline) of the set
# `windows` in porthole's own owner table `inet porthole`, whose prerouting
# chain marks new connections to a live window's socket; while at least one
# window is open, each host filter chain holds one rule per watched port
# (`tcp dport P meta mark & MASK == VALUE counter accept comment "porthole"`).
#   1. open latency: listen() -> first SYN from the internet namespace answered
#      (SYN-ACK), for `porthole run` windows and, interleaved, for the usual
#      alternative: a pre-hook running the nft CLI (`nft insert rule inet filter
#      input tcp dport 80 accept`) before the client binds (t0 = hook start).
#      No other window is open here, so every porthole sample is a *first*
#      window: one batch with the host rule(s) and the element (the daemon
#      re-reads the host's ruleset first); also listen() -> that batch
#      committed (its NEWSETELEM / NEWRULE notifications, tests/bench/nft_mon);
#   2. close latency: listener SIGKILLed / exiting -> the last SYN that still
#      passed the firewall (a RST counts), and -> the element removed
#      (DELSETELEM), and -> the host rule removed (it was the last window);
#   3. (1) again with a geo-block set of 0..300k IPv4 prefixes and with
#      1..100 unrelated extra chains;
#   4. open latency with 1/10/100 windows already open (element-only batches;
#      100 `porthole run` sessions, each listening on port 80 of its own
#      address 203.0.113.100-199), and TCP connections/s: unrelated traffic
#      (allowed country -> port 22, a listener outside any session) with 0, 1
#      and 100 windows open, and internet -> a window's port 80 with 1 and 100;
#   5. the idle daemon: CPU time, wakeups over IDLE seconds with 0 and 10
#      windows open; memory (smaps_rollup: RSS, PSS, private dirty and clean)
#      with 0, 10 and 100 windows, the largest private mappings; binary
#      sizes; BPF programs loaded;
#   6. cold first windows: (1) again with host_rule_linger = 0, so that every
#      window pays the batch with the host rules and, the nft hook having
#      changed the ruleset meanwhile, a refused batch and a re-read.
# The daemon runs with its default host_rule_linger (2 s) in sections 1-5:
# the host rules stay 2 s after the last window, so the back-to-back windows
# of (1)-(3) are element-only batches; (6) measures the cold path.
# Prints one table on stdout (progress on stderr) and writes a JSON file
# (default build/bench/results.json, or $BENCH_JSON).
# BENCH_QUICK=1: a reduced run (< 3 minutes) for a smoke check.
# Only documentation addresses, only inside namespaces made here; the set
# elements of the geo-block (non-documentation /24s, never used as addresses)
# only exist in the lab host's ruleset.
set -u
source "$(dirname "$0")/common.sh"
OUT=${BENCH_JSON:-$B/results.json}
MODE=full
[ -n "$QUICK" ] && MODE=quick

if [ -n "$QUICK" ]; then
	N_OPEN=100 N_CLOSE=50 N_SCALE=50 PREFIXES="0 10000" CHAINS="1 10" N_COLD=50
	CONC="1 10" N_CONC=30 CONN_S=1 CONN_REPS=3 IDLE=10 N_IDLE_WIN=10
else
	N_OPEN=1000 N_CLOSE=200 N_SCALE=200 PREFIXES="0 10000 100000 300000" CHAINS="1 10 100" N_COLD=300
	CONC="1 10 100" N_CONC=100 CONN_S=2 CONN_REPS=7 IDLE=60 N_IDLE_WIN=10
fi
PROBE_US=100   # a fresh SYN every 100 us: the resolution of every latency here
LEAD=0.01      # the prober starts this long before the client
TAIL_N=300     # close: stop after 300 unanswered SYNs (30 ms) in a row
HOOK_CMD=(nft insert rule inet filter input tcp dport 80 accept)

bench_start bench synprobe lat_listen hook_listen close_listen close_probe connrate nft_mon ct_flush
export T_LINGER=default # the daemon's own host_rule_linger (tests/lib.sh writes 0 otherwise)
for f in portholed porthole; do
	[ -x "$PORTHOLE_BIN/$f" ] || { echo "bench: $PORTHOLE_BIN/$f missing: run make all" >&2; exit 1; }
done
for c in bpftool; do
	command -v "$c" >/dev/null || { echo "bench: $c not installed" >&2; exit 1; }
done
R=$T_TMP/raw
mkdir -p "$R" "$(dirname "$OUT")"

meta() { printf '%s %s\n' "$1" "$2" >>"$R/meta"; }
# No process substitution (`< <(cmd)`) anywhere: with bash 5.2 and PIDs
# wrapping (pid_max 32768; the bench forks ~100k processes), a sample once
# hung for good in wait4() after its foreground command had exited; command
# substitutions are waited for synchronously.
# forget a PID we waited for (pid_max is small: a stale PID in T_PIDS could
# name an unrelated process by the time the EXIT trap kills what is listed)
untrack() {
	local p keep=()
	for p in "${T_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	T_PIDS=("${keep[@]}")
}
# wait for PID at most TENTHS/10 s, then SIGTERM it (and wait)
wait_or_term() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	untrack "$1"
}
# porthole's rules in the host's chains (comment "porthole"; porthole's own
# table carries no comment), and the elements (open windows) of its set.
# -t skips set elements (a 300k-prefix geo set), which the set listing needs
porthole_rules_now() { in_host nft -t list ruleset | grep -c 'comment "porthole'; }
porthole_elems_now() {
	in_host nft list set inet porthole windows 2>/dev/null | grep -oE '0x[0-9a-f]+ \. [0-9]+' | wc -l
}
check_no_rules() { # LABEL: record host rules + elements while no window is open,
	# once the host rules' linger (2 s) is over (6 s at most)
	local k n
	for ((k = 0; k < 60; k++)); do
		n=$(($(porthole_rules_now) + $(porthole_elems_now)))
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	meta "idle_rules_$1" "$n"
}
# memory of the daemon: smaps_rollup (kB) as "Rss N Pss N ... Private_Dirty N"
mem_sample() { # LABEL
	meta "mem_$1" "$(awk '/^(Rss|Pss|Pss_Anon|Pss_File|Private_Clean|Private_Dirty|Anonymous):/ {
		printf "%s %s ", substr($1, 1, length($1) - 1), $2 }' /proc/"$T_DPID"/smaps_rollup)"
}
# the mappings holding most private memory (dirty + clean), "name:kB ..."
mem_top() { # LABEL
	meta "memtop_$1" "$(awk '/^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "" ? "[anon]" : $6); sub(".*/", "", n) }
		/^Private_(Dirty|Clean):/ { p[n] += $2 }
		END { for (k in p) if (p[k]) print p[k], k }' /proc/"$T_DPID"/smaps | sort -rn | head -8 |
		awk '{ printf "%s:%s ", $2, $1 }')"
}

# ---- samplers -----------------------------------------------------------------

# porthole window: `porthole run -- lat_listen ADDR 80`; appends to FILE
#   "t1 first_syn listen window_id"   (t1 = "timeout" when nothing answered)
ph_sample() {
	local addr=$1 file=$2 p t1 first tl w
	in_inet "$B/synprobe" "$addr" 80 3000 "$PROBE_US" af >"$T_TMP/p.out" &
	p=$!
	sleep "$LEAD"
	in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" run -- "$B/lat_listen" "$addr" 80 3000 \
		>"$T_TMP/l.out" 2>"$T_TMP/l.err"
	wait $p
	{ read -r t1; read -r first; } <"$T_TMP/p.out"
	read -r tl <"$T_TMP/l.out"
	w=$(sed -n 's/^porthole: window \([0-9]*\) open.*/\1/p' "$T_TMP/l.err" | head -1)
	echo "${t1:-timeout} ${first:-0} ${tl:-0} ${w:-0}" >>"$file"
}

# nft CLI pre-hook: hook_listen stamps t0, runs the hook, then binds and
# listens; the rule is deleted by handle afterwards. Appends
#   "t1 first_syn t0 listen"
hook_sample() {
	local addr=$1 file=$2 p t1 first t0 tl
	in_inet "$B/synprobe" "$addr" 80 3000 "$PROBE_US" af >"$T_TMP/p.out" &
	p=$!
	sleep "$LEAD"
	in_host "$B/hook_listen" "$addr" 80 3000 -- "${HOOK_CMD[@]}" >"$T_TMP/h.out" 2>"$T_TMP/h.err"
	wait $p
	{ read -r t1; read -r first; } <"$T_TMP/p.out"
	read -r t0 tl <<<"$(tail -n 1 "$T_TMP/h.out")"
	echo "${t1:-timeout} ${first:-0} ${t0:-0} ${tl:-0}" >>"$file"
	hook_undo
}
# delete the hook's rule by handle. `nft -t -a list ruleset` skips set
# elements; `nft -a list chain` (even with -t) fetches them all: seconds with a
# 300k-prefix set (nft 1.0.6)
hook_undo() {
	local h
	for h in $(in_host nft -t -a list ruleset | awk '
		/^table inet filter/ { t = 1 } /^table / && !/^table inet filter/ { t = 0 }
		t && /^[[:space:]]*chain input/ { c = 1 } t && c && /^[[:space:]]*}/ { c = 0 }
		t && c && /^[[:space:]]*tcp dport 80 accept # handle [0-9]+$/ { print $NF }'); do
		in_host nft delete rule inet filter input handle "$h"
	done
}

# rule notifications (add/del of porthole rules) while the series run
mon_start() {
	bg_host "$R/mon.$1" "$T_TMP/mon.err" "$B/nft_mon"
	MON_PID=$BG_PID
	wait_for "$R/mon.$1" ready 50 || progress "nft_mon did not start"
}
mon_stop() {
	kill -TERM "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	untrack "$MON_PID"
}

# close: a session listening on H:80 (close_listen accepts and closes every
# connection), probed by close_probe from the internet; MODE kill: the prober
# SIGKILLs the listener 5 ms after the first answer; MODE exit: the listener
# exits by itself 5 ms after its first connection. Appends
#   "MODE K window_id key=value..." (K = kill / exit stamp)
close_sample() {
	local mode=$1 file=$2 rp lpid lst r w k i
	in_host "$B/ct_flush" # stale entries let a SYN in as "established"
	: >"$T_TMP/c.out"
	if [ "$mode" = exit ]; then
		bg_run "$T_TMP/c.out" "$T_TMP/c.err" run -- "$B/close_listen" "$H" 80 5
	else
		bg_run "$T_TMP/c.out" "$T_TMP/c.err" run -- "$B/close_listen" "$H" 80
	fi
	rp=$BG_PID
	for ((i = 0; i < 1500; i++)); do
		[ -s "$T_TMP/c.out" ] && break
		sleep 0.002
	done
	read -r lpid lst <"$T_TMP/c.out"
	if [ "$mode" = kill ]; then
		r=$(in_inet "$B/close_probe" "$H" 80 "$PROBE_US" "$TAIL_N" 5000 "${lpid:-0}" 5)
	else
		r=$(in_inet "$B/close_probe" "$H" 80 "$PROBE_US" "$TAIL_N" 5000)
	fi
	wait_or_term "$rp" 50
	w=$(sed -n 's/^porthole: window \([0-9]*\) open.*/\1/p' "$T_TMP/c.err" | head -1)
	if [ "$mode" = exit ]; then
		k=$(awk '$1 == "exit" { print $2 }' "$T_TMP/c.out")
	else
		k=$(sed -n 's/.* kill=\([0-9]*\).*/\1/p' <<<" $r")
	fi
	echo "$mode ${k:-0} ${w:-0} $r" >>"$file"
}

# the prober's own check: with a plain `tcp dport 80 accept` rule (no socket
# match) a killed listener's port answers RST until the rule is deleted, here
# about 40 ms later: close_probe must see those RSTs and the delay
probe_selfcheck() {
	local file=$1 sp lp r
	in_host "$B/ct_flush"
	: >"$T_TMP/s.out"
	in_host "${HOOK_CMD[@]}"
	# through sh, so that the SIGKILLed process is not one of our jobs
	bg_host "$T_TMP/s.out" /dev/null sh -c '"$@"; exit 0' sh "$B/close_listen" "$H" 80
	sp=$BG_PID
	wait_for "$T_TMP/s.out" ' ' 30
	read -r lp _ <"$T_TMP/s.out"
	in_inet "$B/close_probe" "$H" 80 "$PROBE_US" "$TAIL_N" 5000 "${lp:-0}" 5 >"$T_TMP/s.probe" &
	r=$!
	sleep 0.05
	hook_undo
	wait $r
	wait_or_term "$sp" 10
	echo "selfcheck 0 0 $(cat "$T_TMP/s.probe")" >>"$file"
}

# /proc figures of PID and its threads: "utime_ticks stime_ticks runtime_ns vcsw nvcsw rss_kb"
proc_sample() {
	local pid=$1 t u=0 s=0 rt=0 v=0 nv=0 a b
	for t in /proc/"$pid"/task/*; do
		read -r a b <<<"$(sed 's/^.*) //' "$t/stat" | awk '{ print $12, $13 }')"
		u=$((u + a)) s=$((s + b))
		rt=$((rt + $(awk '{ print $1 }' "$t/schedstat")))
		v=$((v + $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")))
		nv=$((nv + $(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status")))
	done
	echo "$u $s $rt $v $nv $(awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status)"
}

# ---- lab, daemon ------------------------------------------------------------------

progress "bench ${QUICK:+(quick) }starting: lab, daemon"
meta mode "$MODE"
meta kernel "$(uname -r)"
meta cpus "$(nproc)"
meta nft "$(nft --version)"
meta commit "$(git -C "$T_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta clk_tck "$(getconf CLK_TCK)"
meta tmpfs "$(df --output=fstype "$T_TMP" | tail -n 1)"
others() { # other portholed processes on the machine (other test runs) and the load
	local n=$(($(pgrep -xc portholed) - 1))
	meta "others_$1" "$n $(cut -d' ' -f1-3 /proc/loadavg)"
}
nslab_up || exit 1
# the port-22 server of the connection rates (section 4), outside any session;
# CONN_REPS runs of unrelated traffic with no portholed (no porthole table)
# at all, here and after the daemon stopped: what porthole's table itself
# costs (its prerouting chain sees every new connection)
bg_host "$T_TMP/srv22.out" /dev/null "$B/close_listen" $H 22
SRV=$BG_PID
wait_for "$T_TMP/srv22.out" ' ' 30
connrate_nodaemon() { # WHEN
	local k
	for ((k = 0; k < CONN_REPS; k++)); do
		in_host "$B/ct_flush"
		echo "$1$k $(in_allow "$B/connrate" $H 22 "$CONN_S")" >>"$R/connrate_nodaemon"
	done
}
connrate_nodaemon s
daemon_start "max_window = 600" || exit 1
meta daemon_comm "$(cat /proc/"$T_DPID"/comm)"
# BPF programs the daemon holds (by fd, or through a link fd), named ph_*:
# other portholed instances on the machine load their own
daemon_bpf() {
	local id n=0 ids
	ids=$(cat /proc/"$T_DPID"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un)
	for id in $ids; do
		bpftool prog show id "$id" 2>/dev/null | grep -q ' name ph_' && n=$((n + 1))
	done
	echo "$n"
}
meta bpf_progs "$(daemon_bpf)"
BPF_IDS=$(cat /proc/"$T_DPID"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un)
meta bpf_names "$(for id in $(cat /proc/"$T_DPID"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un); do bpftool prog show id "$id" | sed -n 's/.* name \([^ ]*\) .*/\1/p'; done | tr '\n' ' ')"
meta size_portholed "$(stat -c %s "$PORTHOLE_BIN/portholed")"
meta size_porthole "$(stat -c %s "$PORTHOLE_BIN/porthole")"
for f in portholed porthole; do
	strip -o "$T_TMP/$f.stripped" "$PORTHOLE_BIN/$f" 2>/dev/null &&
		meta "strip_$f" "$(stat -c %s "$T_TMP/$f.stripped")"
done
meta rss_start "$(awk '/^VmRSS/ { print $2 }' /proc/"$T_DPID"/status)"
mem_sample start
meta hwm_start "$(awk '/^VmHWM/ { print $2 }' /proc/"$T_DPID"/status)"
check_no_rules start

# ---- 1. open latency ------------------------------------------------------------------

progress "1. open latency: $N_OPEN porthole windows and $N_OPEN nft-hook windows, interleaved"
mon_start open
read -r u0 s0 rt0 _ <<<"$(proc_sample "$T_DPID")"
for ((i = 1; i <= N_OPEN; i++)); do
	ph_sample "$H" "$R/open_ph"
	hook_sample "$H" "$R/open_hook"
	((i % 100 == 0)) && progress "   $i/$N_OPEN"
done
read -r u1 s1 rt1 _ <<<"$(proc_sample "$T_DPID")"
meta open_daemon_cpu "$((u1 - u0)) $((s1 - s0)) $((rt1 - rt0))"
mon_stop
check_no_rules open
others open

# ---- 2. close latency -----------------------------------------------------------------

progress "2. close latency: $N_CLOSE windows (SIGKILL and exit, alternating)"
mon_start close
for ((i = 1; i <= 3; i++)); do probe_selfcheck "$R/close"; done
for ((i = 1; i <= N_CLOSE; i++)); do
	if ((i % 2)); then close_sample kill "$R/close"; else close_sample exit "$R/close"; fi
	((i % 50 == 0)) && progress "   $i/$N_CLOSE"
done
mon_stop
check_no_rules close
others close

# ---- 3. scaling with the host's ruleset ---------------------------------------------------

progress "3. scaling: geo-block set of $PREFIXES prefixes, then $CHAINS extra chains ($N_SCALE windows each)"
in_host nft add set inet filter geo '{ type ipv4_addr; flags interval; }'
in_host nft insert rule inet filter input ip saddr @geo drop
for n in $PREFIXES; do
	# distinct, non-adjacent /24s from 1.0.0.0 (every other /24): 300k reach 10.39.x
	"$PY" - "$n" >"$T_TMP/geo.nft" <<'PYEOF'
import sys
n = int(sys.argv[1])
print("flush set inet filter geo")
for j in range(0, n, 10000):
    els = []
    for i in range(j, min(n, j + 10000)):
        k = (1 << 16) + 2 * i
        els.append("%d.%d.%d.0/24" % (k >> 16, (k >> 8) & 255, k & 255))
    print("add element inet filter geo { %s }" % ", ".join(els))
PYEOF
	t0=$(date +%s%N)
	in_host nft -f "$T_TMP/geo.nft" || { echo "bench: loading $n prefixes failed" >&2; exit 1; }
	meta "load_ms_$n" "$((($(date +%s%N) - t0) / 1000000))"
	progress "   $n prefixes loaded in $((($(date +%s%N) - t0) / 1000000)) ms"
	mon_start "p$n"
	for ((i = 1; i <= N_SCALE; i++)); do
		ph_sample "$H" "$R/scale_p${n}_ph"
		hook_sample "$H" "$R/scale_p${n}_hook"
	done
	mon_stop
done
in_host nft flush set inet filter geo
have=0
for n in $CHAINS; do
	# unrelated chains in the same table: even ones regular chains (2 rules,
	# reached from nowhere), odd ones base chains on the output hook
	{
		for ((j = have; j < n; j++)); do
			a=$((j % 120 + 2)) # 192.0.2.2-121: no lab address (inet is .1, the downstream .128/25)
			if ((j % 2)); then
				echo "add chain inet filter x$j { type filter hook output priority $((j + 1)); policy accept; }"
				echo "add rule inet filter x$j ip daddr 192.0.2.$a counter"
			else
				echo "add chain inet filter x$j"
				echo "add rule inet filter x$j ip saddr 192.0.2.$a tcp dport $((8000 + j)) counter accept"
				echo "add rule inet filter x$j ip6 saddr 2001:db8:ffff::$((j + 1)) counter drop"
			fi
		done
	} >"$T_TMP/chains.nft"
	in_host nft -f "$T_TMP/chains.nft" || { echo "bench: adding chains failed" >&2; exit 1; }
	have=$n
	progress "   $n extra chains"
	mon_start "c$n"
	for ((i = 1; i <= N_SCALE; i++)); do
		ph_sample "$H" "$R/scale_c${n}_ph"
		hook_sample "$H" "$R/scale_c${n}_hook"
	done
	mon_stop
done
{
	for ((j = 0; j < have; j++)); do echo "delete chain inet filter x$j"; done
	h=$(in_host nft -t -a list ruleset | sed -n 's/.*ip saddr @geo drop # handle \([0-9]*\)$/\1/p')
	echo "delete rule inet filter input handle $h"
	echo "delete set inet filter geo"
} >"$T_TMP/unscale.nft"
in_host nft -f "$T_TMP/unscale.nft" || echo "bench: could not undo the scaling ruleset" >&2
check_no_rules scaling
others scaling

# ---- 4. concurrent windows --------------------------------------------------------------

# With windows already open, a new window is one element-only batch (the host
# rules are in place from the first window on). CONN_WIN sessions for the
# connection rates: 100 in both modes (the goal is stated at 100).
maxc=0
for n in $CONC; do maxc=$n; done
CONN_WIN=100
naddr=$((maxc > CONN_WIN ? maxc : CONN_WIN))
progress "4. concurrent windows: $CONC open, $N_CONC more windows each; connections/s with 0, 1 and $CONN_WIN windows"
for ((j = 0; j < naddr; j++)); do echo "addr add 203.0.113.$((100 + j))/24 dev $LAB_IF_HOST"; done | in_host ip -batch -
HOLDERS=()
start_holders() { # FROM TO: window holders (one `porthole run` session each) on 203.0.113.(100+i):80
	local j
	for ((j = $1; j < $2; j++)); do
		bg_run "$T_TMP/hold$j.out" "$T_TMP/hold$j.err" run -- "$B/close_listen" "203.0.113.$((100 + j))" 80
		HOLDERS+=("$BG_PID")
	done
}
stop_holders() { # [FROM]: end the sessions HOLDERS[FROM...] (default: all)
	local p k from=${1:-0}
	for ((k = from; k < ${#HOLDERS[@]}; k++)); do kill -TERM "${HOLDERS[k]}" 2>/dev/null; done
	for ((k = from; k < ${#HOLDERS[@]}; k++)); do wait_or_term "${HOLDERS[k]}" 50; done
	HOLDERS=("${HOLDERS[@]:0:from}")
}
wait_windows() { # N: until N windows (set elements) are open and, for 0, the
	# host rules are gone too (20 s at most)
	local k e r=0
	for ((k = 0; k < 400; k++)); do
		e=$(porthole_elems_now)
		[ "$1" = 0 ] && r=$(porthole_rules_now)
		[ "$e" -eq "$1" ] && [ "$r" -eq 0 ] && return 0
		sleep 0.05
	done
	progress "   expected $1 windows (elements) and, for 0, no host rule; found $e elements, $r host rules"
	return 1
}
have=0
for n in $CONC; do
	t0=$(date +%s%N)
	start_holders "$have" "$n"
	wait_windows "$n"
	# "SESSIONS MS" (50 ms polling granularity)
	meta "conc_burst_$n" "$((n - have)) $((($(date +%s%N) - t0) / 1000000))"
	have=$n
	meta "conc_rules_$n" "$(porthole_elems_now) $(porthole_rules_now)"
	progress "   $n windows open"
	mon_start "n$n"
	for ((i = 1; i <= N_CONC; i++)); do ph_sample "$H" "$R/conc_${n}_ph"; done
	mon_stop
done
stop_holders
wait_windows 0
# churn: another session opens and closes a window in a loop (listens 5 ms,
# exits) while windows are measured: what one session's start and end cost
# the others (the daemon has a single event loop). The churning session's
# window is often the only one: the measured window then pays the host-rule
# batch, or finds the rules being removed
progress "   open latency while another session opens and closes windows in a loop"
bg_host /dev/null /dev/null env PORTHOLE_SOCKET="$T_SOCK" bash -c \
	'while :; do "$1" run -- "$2" 203.0.113.100 80 5 >/dev/null 2>&1; done' churn "$PORTHOLE_BIN/porthole" "$B/lat_listen"
CHURN=$BG_PID
sleep 0.5
mon_start churn
for ((i = 1; i <= N_CONC; i++)); do ph_sample "$H" "$R/conc_churn_ph"; done
mon_stop
kill -TERM "$CHURN" 2>/dev/null
wait "$CHURN" 2>/dev/null
untrack "$CHURN"
sleep 0.5
wait_windows 0

# connections/s. Unrelated traffic: allowed country -> the host $H:22 (a
# listener outside any session, not on a watched port): each connection's SYN
# passes porthole's prerouting chain (ct state new: a socket lookup and a set
# lookup, with or without windows) and, with >= 1 window, the host rule at
# the top of the input chain (no match: dport 22); the rest of the connection
# is "established". Window traffic: internet -> the first holder's
# 203.0.113.100:80, admitted through its window. CONN_REPS rounds, each
# measuring 0, 1 and CONN_WIN windows, in reverse order every other round
# (drift over a round does not favour one count). Lines "ROUND CONNS SECONDS
# RATE FAILED" in connrate_N / connrate80_N
connrate() { # LABEL ROUND [80]
	sleep 0.5 # let the sessions just started / ended settle
	in_host "$B/ct_flush"
	echo "$2 $(in_allow "$B/connrate" $H 22 "$CONN_S")" >>"$R/connrate_$1"
	if [ "${3:-}" = 80 ]; then
		in_host "$B/ct_flush"
		echo "$2 $(in_inet "$B/connrate" 203.0.113.100 80 "$CONN_S")" >>"$R/connrate80_$1"
	fi
}
progress "   connections/s with 0, 1, $CONN_WIN windows: $CONN_REPS rounds of ${CONN_S} s each"
for ((k = 0; k < CONN_REPS; k++)); do
	if ((k % 2 == 0)); then
		connrate 0 "$k"
		start_holders 0 1
		wait_windows 1
		connrate 1 "$k" 80
		start_holders 1 "$CONN_WIN"
		wait_windows "$CONN_WIN"
		meta "conn_elems_$k" "$(porthole_elems_now) $(porthole_rules_now)"
		connrate "$CONN_WIN" "$k" 80
		stop_holders
		wait_windows 0
	else
		start_holders 0 "$CONN_WIN"
		wait_windows "$CONN_WIN"
		meta "conn_elems_$k" "$(porthole_elems_now) $(porthole_rules_now)"
		connrate "$CONN_WIN" "$k" 80
		stop_holders 1
		wait_windows 1
		connrate 1 "$k" 80
		stop_holders
		wait_windows 0
		connrate 0 "$k"
	fi
done
meta conn_win "$CONN_WIN"
check_no_rules concurrent
others concurrent

# ---- 5. idle footprint ------------------------------------------------------------------

progress "5. idle: ${IDLE} s with 0 windows, then ${IDLE} s with $N_IDLE_WIN windows"
sleep 1
# idle_sleep LABEL: sleep IDLE s, counting meanwhile every TCP state change
# of a port-80 socket on the machine (any namespace: other test runs too), the
# events the daemon's BPF program passes on
idle_sleep() {
	if command -v perf >/dev/null; then
		perf stat -x, -o "$T_TMP/ev_$1" -e sock:inet_sock_set_state --filter 'sport == 80' -a \
			sleep "$IDLE" 2>/dev/null || sleep "$IDLE"
		meta "idle_port80_events_$1" "$(awk -F, '/inet_sock_set_state/ { print $1 }' "$T_TMP/ev_$1" 2>/dev/null)"
	else
		sleep "$IDLE"
	fi
}
read -r a <<<"$(proc_sample "$T_DPID")"
idle_sleep 0
read -r b <<<"$(proc_sample "$T_DPID")"
echo "$a" >"$R/idle_0"
echo "$b" >>"$R/idle_0"
check_no_rules idle0
mem_sample 0
mem_top 0
start_holders 0 "$N_IDLE_WIN"
wait_windows "$N_IDLE_WIN"
sleep 1
cli_ctx() { # sum of context switches of the waiting `porthole run` CLIs
	local p t=0
	for p in "${HOLDERS[@]}"; do
		t=$((t + $(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' /proc/"$p"/status 2>/dev/null)))
	done
	echo "$t"
}
c0=$(cli_ctx)
read -r a <<<"$(proc_sample "$T_DPID")"
idle_sleep "$N_IDLE_WIN"
read -r b <<<"$(proc_sample "$T_DPID")"
c1=$(cli_ctx)
echo "$a" >"$R/idle_$N_IDLE_WIN"
echo "$b" >>"$R/idle_$N_IDLE_WIN"
mem_sample "$N_IDLE_WIN"
meta idle_cli_ctx "$((c1 - c0))"
meta idle_windows "$N_IDLE_WIN"
meta idle_seconds "$IDLE"
start_holders "$N_IDLE_WIN" "$CONN_WIN"
wait_windows "$CONN_WIN"
sleep 1
mem_sample "$CONN_WIN"
mem_top "$CONN_WIN"
meta mem_windows "0 $N_IDLE_WIN $CONN_WIN"
stop_holders
wait_windows 0
sleep 3 # the linger: no window, no host rule
mem_sample after
# port-80 traffic that is none of porthole's business, no window open:
# connections to a listener outside any session on the host, and to one in
# another network namespace (the internet one). The BPF program filters on
# the port only, so the daemon may still hear of each passive open.
foreign() { # LABEL NS ADDR
	local lp a b
	: >"$T_TMP/f.out"
	nsenter --net=/run/netns/"$T_PFX-$2" -- "$B/close_listen" "$3" 80 >"$T_TMP/f.out" 2>/dev/null &
	lp=$!
	T_PIDS+=("$lp")
	wait_for "$T_TMP/f.out" ' ' 30
	read -r a <<<"$(proc_sample "$T_DPID")"
	if [ "$2" = host ]; then
		in_allow "$B/connrate" "$3" 80 1 >"$R/foreign_$1"
	else
		in_ns "$T_PFX-$2" "$B/connrate" "$3" 80 1 >"$R/foreign_$1"
	fi
	sleep 0.5
	read -r b <<<"$(proc_sample "$T_DPID")"
	echo "$a" >>"$R/foreign_$1"
	echo "$b" >>"$R/foreign_$1"
	kill -TERM "$lp" 2>/dev/null
	wait "$lp" 2>/dev/null
	untrack "$lp"
}
progress "   foreign port-80 traffic: 1 s to a host listener outside any session, 1 s inside another namespace"
foreign host host $H
foreign otherns inet 127.0.0.1
check_no_rules end
others end
meta sessions_left "$(session_cgroups)"
meta hwm_end "$(awk '/^VmHWM/ { print $2 }' /proc/"$T_DPID"/status)"
# events the kernel skipped: a tracing program does not run while it already
# runs on the same CPU (e.g. a softirq state change during a process-context one)
meta bpf_recursion_misses "$(for id in $BPF_IDS; do bpftool prog show id "$id" 2>/dev/null; done |
	awk '{ for (i = 1; i < NF; i++) if ($i == "recursion_misses") s += $(i + 1) } END { print s + 0 }')"
meta daemon_warnings "$(grep -c '^<[0-4]>' "$T_DLOG")"
grep '^<[0-4]>' "$T_DLOG" | head -20 >"$R/daemon_warnings"
daemon_stop
meta daemon_exit "$?"
cp "$T_DLOG" "$R/daemon.log" # window id -> session mark, for the notifications

# ---- 6. cold first windows ---------------------------------------------------------------

progress "6. cold first windows: host_rule_linger = 0, $N_COLD porthole windows and $N_COLD nft-hook windows, interleaved"
T_LINGER=0 daemon_start "max_window = 600" || exit 1
mon_start cold
for ((i = 1; i <= N_COLD; i++)); do
	ph_sample "$H" "$R/cold_ph"
	hook_sample "$H" "$R/cold_hook"
	((i % 100 == 0)) && progress "   $i/$N_COLD"
done
mon_stop
check_no_rules cold
others cold
daemon_stop
cat "$T_DLOG" >>"$R/daemon.log"
connrate_nodaemon e
wait_or_term "$SRV" 1
meta total_seconds "$SECONDS"
progress "done in $SECONDS s; writing $OUT"

# ---- report -------------------------------------------------------------------------------

"$PY" - "$R" "$OUT" "$PREFIXES" "$CHAINS" "$CONC" <<'PYEOF'
import json, math, os, re, sys

R, OUT = sys.argv[1], sys.argv[2]
PREFIXES = [int(x) for x in sys.argv[3].split()]
CHAINS = [int(x) for x in sys.argv[4].split()]
CONC = [int(x) for x in sys.argv[5].split()]

meta = {}
for line in open(os.path.join(R, "meta")):
    k, _, v = line.rstrip("\n").partition(" ")
    meta[k] = v

def lines(name):
    p = os.path.join(R, name)
    return [l.split() for l in open(p)] if os.path.exists(p) else []

def pct(v, p):  # nearest rank
    if not v:
        return None
    v = sorted(v)
    return v[max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))]

def stats(v):
    if not v:
        return {"n": 0}
    return {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99), "max": max(v), "min": min(v),
            "mean": sum(v) / len(v)}

# nftables notifications (tests/bench/nft_mon), all series together:
# elements per key (mark, port): [(ns, "+"|"-")], host-rule changes [(ns, "+"|"-")]
elems, hostrules, lost = {}, [], 0
for f in os.listdir(R):
    if f.startswith("mon."):
        for l in open(os.path.join(R, f)):
            p = l.split()
            if len(p) == 4 and p[1] in ("elem+", "elem-"):
                elems.setdefault((int(p[2], 16), int(p[3])), []).append((int(p[0]), p[1][-1]))
            elif len(p) == 4 and p[1] in ("rule+", "rule-"):
                hostrules.append((int(p[0]), p[1][-1]))
            elif len(p) >= 2 and p[1] == "lost":
                lost += 1
for v in elems.values():
    v.sort()
hostrules.sort()
elem_adds = sorted(t for v in elems.values() for t, op in v if op == "+")
# window id -> (mark, port), from the daemon's "window N open: tcp/P to
# session S (pid ... , mark 0xM), ..." lines
winkey = {}
if os.path.exists(os.path.join(R, "daemon.log")):
    for l in open(os.path.join(R, "daemon.log"), errors="replace"):
        m = re.search(r"window (\d+) open: tcp/(\d+) to session \d+ \(pid .*, mark (0x[0-9a-f]+)\), ", l)
        if m:
            winkey[int(m.group(1))] = (int(m.group(3), 16), int(m.group(2)))

def elem_event(w, op, after):
    """stamp of window w's first element add ("+") / delete ("-") at or after `after` (ns)"""
    for t, o in elems.get(winkey.get(w), []):
        if o == op and t >= after:
            return t
    return None

def rule_event(op, lo, hi):
    """the last host-rule add ("+") / first host-rule delete ("-") stamped within [lo, hi]"""
    v = [t for t, o in hostrules if o == op and lo <= t <= hi]
    return (v[-1] if op == "+" else v[0]) if v else None

def ph_series(name):
    """porthole windows: packet latency (ms), element-committed latency (ms),
    problems, host-rule-committed latency (ms; windows whose batch added the
    host rules: a first window)"""
    lat, rule, bad, hrule = [], [], {"timeout": 0, "late_probe": 0, "before_listen": 0}, []
    for t1, first, tl, w in lines(name):
        if t1 == "timeout" or tl == "0":
            bad["timeout"] += 1
            continue
        t1, first, tl, w = int(t1), int(first), int(tl), int(w)
        if first > tl:
            bad["late_probe"] += 1  # probing began after listen(): sample dropped
            continue
        if t1 < tl:
            bad["before_listen"] += 1
            continue
        lat.append((t1 - tl) / 1e6)
        add = elem_event(w, "+", tl)
        if add is not None:
            rule.append((add - tl) / 1e6)
            # the host rules of the same batch come just before the element
            h = rule_event("+", tl, add)
            if h is not None:
                hrule.append((h - tl) / 1e6)
    return lat, rule, bad, hrule

def hook_series(name):
    lat, cli, bad = [], [], {"timeout": 0, "late_probe": 0, "before_listen": 0}
    for t1, first, t0, tl in lines(name):
        if t1 == "timeout" or t0 == "0":
            bad["timeout"] += 1
            continue
        t1, first, t0, tl = int(t1), int(first), int(t0), int(tl)
        if first > t0:
            bad["late_probe"] += 1
            continue
        if t1 < tl:
            bad["before_listen"] += 1
            continue
        lat.append((t1 - t0) / 1e6)
        cli.append((tl - t0) / 1e6)
    return lat, cli, bad

def kv(fields):
    d = {}
    for f in fields:
        k, _, v = f.partition("=")
        if v:
            d[k] = int(v)
    return d

res = {"meta": meta, "goals": []}
rows = []   # (section, metric, value, goal, status)

def fmt(s, keys=("p50", "p99", "max")):
    if not s or not s.get("n"):
        return "no samples"
    return "  ".join("%s %.3f" % (k, s[k]) for k in keys) + " ms"

def goal_row(sec, metric, shown, wanted, name, ok, value, target):
    """a row judged against a goal: the goal (name; ok: met, None: not
    judged; value against target) recorded in res["goals"], the verdict in
    the row's status column; wanted: the goal as the table shows it"""
    res["goals"].append({"goal": name, "value": value, "target": target,
                         "met": None if ok is None else bool(ok)})
    rows.append((sec, metric, shown, wanted, "n/a" if ok is None else ("MET" if ok else "MISSED")))

def p99_row(sec, metric, s, name, limit):
    """a row of latencies whose goal is p99 <= 1 ms"""
    goal_row(sec, metric, fmt(s), "p99 <= 1 ms", name, s.get("p99") is not None and s["p99"] <= limit,
             s.get("p99"), limit)

# 1. open latency
ph, phrule, phbad, phhost = ph_series("open_ph")
hk, hkcli, hkbad = hook_series("open_hook")
sph, shk = stats(ph), stats(hk)
ratio50 = shk["p50"] / sph["p50"] if ph and hk else None
ratio99 = shk["p99"] / sph["p99"] if ph and hk else None
cpu = [int(x) for x in meta.get("open_daemon_cpu", "0 0 0").split()]
tck = int(meta.get("clk_tck", "100"))
nw = max(1, len(lines("open_ph")))
res["open"] = {"porthole_ms": sph, "porthole_element_committed_ms": stats(phrule),
               "porthole_host_rule_committed_ms": stats(phhost), "nft_hook_ms": shk,
               "nft_cli_runtime_ms": stats(hkcli), "ratio_p50": ratio50, "ratio_p99": ratio99,
               "discarded": {"porthole": phbad, "hook": hkbad},
               "daemon_cpu_per_window_us": {"user": cpu[0] * 1e6 / tck / nw, "system": cpu[1] * 1e6 / tck / nw,
                                            "total_runtime": cpu[2] / 1e3 / nw},
               "samples_porthole_ms": ph, "samples_hook_ms": hk}
# no other window is open here, but the previous one closed < 2 s ago: the
# host rules linger (host_rule_linger, default 2 s), so each window is one
# element (section 6: the cold path, linger 0)
sec = "1 open"
p99_row(sec, "porthole run, no other window (host rules lingering): listen() -> SYN answered (n=%d)" % sph["n"], sph,
        "open latency p99 <= 1 ms (windows in a row)", 1.0)
rows.append((sec, "  listen() -> element committed (NEWSETELEM) (n=%d)" % len(phrule), fmt(stats(phrule)), "", ""))
rows.append((sec, "  listen() -> host rule committed, same batch (NEWRULE) (n=%d)" % len(phhost),
             fmt(stats(phhost)), "", ""))
rows.append((sec, "  daemon CPU per window (user / system / total)",
             "%.0f / %.0f / %.0f us" % (cpu[0] * 1e6 / tck / nw, cpu[1] * 1e6 / tck / nw, cpu[2] / 1e3 / nw), "", ""))
rows.append((sec, "nft CLI pre-hook: hook start -> SYN answered (n=%d)" % shk["n"], fmt(shk), "", ""))
rows.append((sec, "  of which the nft CLI run", fmt(stats(hkcli)), "", ""))
src, scli = stats(phrule), stats(hkcli)
if src.get("n") and scli.get("n"):
    res["open"]["ratio_rule_in_place_p50"] = scli["p50"] / src["p50"]
    rows.append((sec, "  ratio without the probe: nft CLI run / listen->element committed (p50)",
                 "%.1fx" % (scli["p50"] / src["p50"]), "", ""))
goal_row(sec, "ratio nft hook / porthole (p50; p99)", "%.1fx; %.1fx" % (ratio50 or 0, ratio99 or 0), ">= 10x (p50)",
         "open latency >= 10x faster than the nft CLI hook (p50)", ratio50 is not None and ratio50 >= 10, ratio50, 10)
if any(phbad.values()) or any(hkbad.values()):
    rows.append((sec, "  samples discarded (porthole; hook)", "%s; %s" % (phbad, hkbad), "", ""))
# 6. cold first windows (host_rule_linger = 0; the nft hook changed the
# ruleset since the last one: a refused batch, a re-read, the batch)
cph, cphrule, cphbad, cphhost = ph_series("cold_ph")
ck, _, _ = hook_series("cold_hook")
scph, sck = stats(cph), stats(ck)
res["open_cold"] = {"porthole_ms": scph, "porthole_element_committed_ms": stats(cphrule),
                    "porthole_host_rule_committed_ms": stats(cphhost), "nft_hook_ms": sck, "discarded": cphbad,
                    "samples_porthole_ms": cph}
sec = "6 cold"
p99_row(sec, "cold first window (linger 0, ruleset changed meanwhile): listen() -> SYN answered (n=%d)" % scph["n"],
        scph, "cold first window p99 <= 1 ms", 1.0)
rows.append((sec, "  listen() -> element + host rule committed (n=%d)" % len(cphrule), fmt(stats(cphrule)), "", ""))
rows.append((sec, "  nft CLI pre-hook, same rounds (n=%d); ratio p50" % sck["n"],
             fmt(sck) + ("  (%.1fx)" % (sck["p50"] / scph["p50"]) if scph.get("n") and sck.get("n") else ""), "", ""))
sec = "1 open"

# 2. close latency. The window of each sample is the only one open: its close
# removes the element (one batch), then the host rule (a second batch).
# "last SYN through": a SYN sent after the kill / exit stamp that still got a
# SYN-ACK or RST (with the new design none should: a SYN to a dead listener
# finds no socket, hence no mark, whatever the element's state).
cl = {"kill": [], "exit": []}
cl_next = {"kill": [], "exit": []}
cl_rule = {"kill": [], "exit": []}
cl_host = []
cl_bad = 0
refused_after = 0
selfcheck = []
for f in lines("close"):
    mode, k, w = f[0], int(f[1]), int(f[2])
    d = kv(f[3:])
    if mode == "selfcheck":
        if "last" in d and d.get("kill"):
            selfcheck.append({"last_minus_kill_ms": (d["last"] - d["kill"]) / 1e6,
                              "rst_after_kill": d.get("refused_after_kill", 0)})
        else:
            selfcheck.append({"error": " ".join(f[3:])})
        continue
    if f[3] == "timeout" or not k or "last" not in d or not w:
        cl_bad += 1
        continue
    # no SYN sent after the kill passed: 0 (the first one after it was dropped)
    cl[mode].append(max(0, d["last"] - k) / 1e6)
    cl_next[mode].append((d["next"] - k) / 1e6)
    refused_after += d.get("refused_after_kill", 0)
    de = elem_event(w, "-", k)
    if de is not None:
        cl_rule[mode].append((de - k) / 1e6)
        # the host rule: removed after the element, before the next window opens
        nxt = [t for t in elem_adds if t > de]
        h = rule_event("-", de, nxt[0] if nxt else de + 10**9)
        if h is not None:
            cl_host.append((h - k) / 1e6)
allpk = cl["kill"] + cl["exit"]
allrule = cl_rule["kill"] + cl_rule["exit"]
spk, srule, shost = stats(allpk), stats(allrule), stats(cl_host)
res["close"] = {"packet_last_answered_ms": {m: stats(v) for m, v in cl.items()},
                "packet_first_dropped_ms": {m: stats(v) for m, v in cl_next.items()},
                "element_removed_ms": {m: stats(v) for m, v in cl_rule.items()},
                "host_rule_removed_ms": shost,
                "packet_all": spk, "element_all": srule, "failed_windows": cl_bad,
                "rst_after_kill_total": refused_after, "probe_selfcheck": selfcheck,
                "samples_packet_ms": cl, "samples_element_ms": cl_rule}
sec = "2 close"
sc_ok = bool(selfcheck) and all("error" not in s and s["rst_after_kill"] > 0 and s["last_minus_kill_ms"] > 10
                                for s in selfcheck)
rows.append((sec, "probe self-check: plain nft rule deleted ~50 ms after kill",
             "; ".join("%.1f ms, %d RST" % (s["last_minus_kill_ms"], s["rst_after_kill"]) if "error" not in s
                       else "error" for s in selfcheck), "RSTs seen", "OK" if sc_ok else "FAILED"))
for m in ("kill", "exit"):
    rows.append((sec, "%s -> last SYN through (n=%d)" % ("SIGKILL" if m == "kill" else "exit()", len(cl[m])),
                 fmt(stats(cl[m])), "", ""))
    rows.append((sec, "%s -> element removed (DELSETELEM) (n=%d)" % ("SIGKILL" if m == "kill" else "exit()",
                 len(cl_rule[m])), fmt(stats(cl_rule[m])), "", ""))
p99_row(sec, "all: last SYN through (SYN-ACK or RST; 0: none after it) (n=%d)" % spk["n"], spk,
        "close latency p99 <= 1 ms (last SYN through)", 1)
p99_row(sec, "all: element removed from the set (n=%d)" % srule["n"], srule,
        "close latency p99 <= 1 ms (element removed)", 1)
rows.append((sec, "  last window: -> host rule removed (DELRULE; after the 2 s linger, if no window came) (n=%d)" % shost["n"],
             fmt(shost), "", ""))
rows.append((sec, "  SYNs answered by RST after the kill; failed windows", "%d; %d" % (refused_after, cl_bad), "", ""))

# 3. scaling
sec = "3 scale"
res["scaling"] = {"prefixes": {}, "chains": {}}
base = None
for n in PREFIXES:
    a, ar, _, _ = ph_series("scale_p%d_ph" % n)
    h, _, _ = hook_series("scale_p%d_hook" % n)
    sa, sh = stats(a), stats(h)
    res["scaling"]["prefixes"][str(n)] = {"porthole_ms": sa, "porthole_rule_ms": stats(ar), "nft_hook_ms": sh,
                                          "load_ms": int(meta.get("load_ms_%d" % n, 0))}
    if n == 0:
        base = sa
    rel = sa["p50"] / base["p50"] if base and base.get("n") and sa.get("n") else None
    rows.append((sec, "%dk prefixes: porthole (n=%d)%s" % (n // 1000, sa["n"], " = base" if n == 0 else ""),
                 fmt(sa) + ("  (%.2fx base p50)" % rel if rel and n else ""), "", ""))
    rows.append((sec, "%dk prefixes: nft hook (n=%d)" % (n // 1000, sh["n"]), fmt(sh), "", ""))
top = PREFIXES[-1]
ts = res["scaling"]["prefixes"][str(top)]["porthole_ms"]
rel = ts["p50"] / base["p50"] if base and base.get("n") and ts.get("n") else None
# judged only when the run went up to 300k prefixes (not in quick mode)
ok = None
if top >= 300000:
    ok = rel is not None and rel <= 1.2
goal_row(sec, "porthole p50 at %dk / at 0 prefixes (p99 ratio %.2fx)" % (top // 1000, ts["p99"] / base["p99"] if rel else 0),
         "%.2fx" % (rel or 0), "<= 1.2x at 300k",
         "open latency at 300k prefixes within 1.2x of the empty ruleset (p50)", ok, rel, 1.2)
for n in CHAINS:
    a, ar, _, _ = ph_series("scale_c%d_ph" % n)
    h, _, _ = hook_series("scale_c%d_hook" % n)
    sa, sh = stats(a), stats(h)
    res["scaling"]["chains"][str(n)] = {"porthole_ms": sa, "porthole_rule_ms": stats(ar), "nft_hook_ms": sh}
    rel = sa["p50"] / base["p50"] if base and base.get("n") and sa.get("n") else None
    rows.append((sec, "%d extra chains: porthole (n=%d)" % (n, sa["n"]),
                 fmt(sa) + ("  (%.2fx base p50)" % rel if rel else ""), "", ""))
    rows.append((sec, "%d extra chains: nft hook (n=%d)" % (n, sh["n"]), fmt(sh), "", ""))

# 4. concurrency: with windows open, a new window is an element-only batch
sec = "4 conc"
res["concurrent"] = {"open": {}, "connrate": {}}
for n in CONC:
    a, ar, _, _ = ph_series("conc_%d_ph" % n)
    sa = stats(a)
    er = (meta.get("conc_rules_%d" % n, "? ?").split() + ["?", "?"])[:2]
    res["concurrent"]["open"][str(n)] = {"porthole_ms": sa, "porthole_element_ms": stats(ar),
                                         "elements_in_place": int(er[0]) if er[0].isdigit() else None,
                                         "host_rules_in_place": int(er[1]) if er[1].isdigit() else None}
    rows.append((sec, "1 more window with %d open (%s elements, %s host rules) (n=%d)" % (n, er[0], er[1], sa["n"]),
                 fmt(sa), "", ""))
    rows.append((sec, "  listen() -> element committed (n=%d)" % len(ar), fmt(stats(ar)), "", ""))
for n in CONC:
    b = meta.get("conc_burst_%d" % n)
    if b:
        k, ms = [int(x) for x in b.split()]
        res["concurrent"]["open"][str(n)]["burst"] = {"sessions": k, "all_open_ms": ms}
rows.append((sec, "sessions started at once -> all their elements in (50 ms polls)",
             ", ".join("%s: %s ms" % tuple(meta["conc_burst_%d" % n].split()) for n in CONC
                       if meta.get("conc_burst_%d" % n)), "", ""))
a, ar, _, _ = ph_series("conc_churn_ph")
sa = stats(a)
res["concurrent"]["open_during_churn"] = {"porthole_ms": sa, "porthole_element_ms": stats(ar)}
rows.append((sec, "1 more window while another session churns windows (n=%d)" % sa["n"], fmt(sa), "", ""))
# connections/s: "ROUND CONNS SECONDS RATE FAILED" lines
NW = meta.get("conn_win", "100")
def rates(name):
    l = lines(name)
    v = sorted(float(x[3]) for x in l if len(x) >= 5)
    return {"runs": {x[0]: float(x[3]) for x in l if len(x) >= 5},
            "median": v[len(v) // 2] if v else None, "failed": sum(int(x[4]) for x in l if len(x) >= 5)}
def rates_of(c, prefix):
    v = sorted(x for r, x in c["runs"].items() if r.startswith(prefix))
    return v[len(v) // 2] if v else 0
cr = {lab: rates("connrate_" + lab) for lab in ("nodaemon", "0", "1", NW)}
for lab in ("1", NW):
    cr["80_" + lab] = rates("connrate80_" + lab)
# per round: rate at NW windows / rate at 0 windows (same round)
paired = sorted(cr[NW]["runs"][r] / cr["0"]["runs"][r] for r in cr[NW]["runs"] if cr["0"]["runs"].get(r))
cr["ratio_%s_to_0_per_round" % NW] = paired
res["concurrent"]["connrate"] = cr
c0, c1, cn, cd = cr["0"]["median"], cr["1"]["median"], cr[NW]["median"], cr["nodaemon"]["median"]
def pc(x, ref):
    return "%+.1f%%" % (100 * (x / ref - 1)) if x and ref else "?"
# the goal: unrelated traffic at most 5 % slower with NW windows than with 0.
# Judged on the median of the per-round ratios (each round measures both
# within seconds: slow drift of the machine's load cancels out); the medians
# of the rates are shown too. The old design (one host rule per window) lost 31 %
pmed = paired[len(paired) // 2] if paired else None
drop = 100 * (1 - pmed) if pmed else None
rows.append((sec, "unrelated TCP conn/s (allowed -> port 22): 0 / 1 / %s windows (medians, %d rounds)" % (NW, len(paired)),
             "%.0f / %.0f (%s) / %.0f (%s)" % (c0 or 0, c1 or 0, pc(c1, c0), cn or 0, pc(cn, c0)), "", ""))
goal_row(sec, "  %s windows vs 0, same round: median ratio (all rounds)" % NW,
         "%s (%s)" % ("%+.1f%%" % (-drop) if drop is not None else "?", " ".join("%.3f" % x for x in paired)),
         "<= 5% lower", "unrelated connections/s at most 5%% lower with %s windows than with 0" % NW,
         drop is not None and drop <= 5, drop, 5)
rows.append((sec, "  no portholed at all, before / after (medians); failed connects",
             "%.0f / %.0f (0 windows: %s of both); %d" % (
                 rates_of(cr["nodaemon"], "s"), rates_of(cr["nodaemon"], "e"), pc(c0, cd),
                 sum(cr[k]["failed"] for k in ("nodaemon", "0", "1", NW))), "", ""))
c1, cn = cr["80_1"]["median"], cr["80_" + NW]["median"]
rows.append((sec, "TCP conn/s, internet -> a window's port 80: 1 / %s windows" % NW,
             "%.0f / %.0f (%s)" % (c1 or 0, cn or 0, pc(cn, c1)), "", ""))
idle_rules = {k[len("idle_rules_"):]: int(v) for k, v in meta.items() if k.startswith("idle_rules_")}
res["concurrent"]["porthole_rules_with_no_window"] = idle_rules
rows.append((sec, "host rules + set elements with no window open (%d checks)" % len(idle_rules),
             "%d" % sum(idle_rules.values()), "0", "OK" if sum(idle_rules.values()) == 0 else "FAILED"))
if lost or not winkey:
    rows.append((sec, "  nft_mon overflows; windows mapped to marks", "%d; %d" % (lost, len(winkey)), "", ""))

# 5. idle
sec = "5 idle"
res["idle"] = {}
secs = float(meta.get("idle_seconds", "60"))
for lab in ("0", meta.get("idle_windows", "10")):
    l = lines("idle_" + lab)
    if len(l) < 2:
        continue
    a, b = [int(x) for x in l[0]], [int(x) for x in l[1]]
    cpu_ms = (b[0] + b[1] - a[0] - a[1]) * 1000 / tck
    run_us = (b[2] - a[2]) / 1e3
    wake = (b[3] + b[4] - a[3] - a[4])
    rss = b[5]
    res["idle"][lab] = {"seconds": secs, "cpu_ms": cpu_ms, "runtime_us": run_us, "wakeups": wake,
                        "wakeups_per_s": wake / secs, "rss_kib": rss}
    ev = meta.get("idle_port80_events_" + lab, "")
    res["idle"][lab]["port80_state_changes_on_machine"] = int(ev) if ev.isdigit() else None
    goal_row(sec, "%s windows, %g s: wakeups (port-80 socket events on the machine meanwhile)" % (lab, secs),
             "%d (%.2f/s) (%s)" % (wake, wake / secs, ev if ev else "?"), "0/s",
             "idle wakeups 0/s with %s windows" % lab, wake == 0, wake / secs, 0)
    rows.append((sec, "%s windows: CPU time (ticks; sched runtime)" % lab, "%.0f ms; %.0f us" % (cpu_ms, run_us),
                 "", ""))
    rows.append((sec, "%s windows: VmRSS" % lab, "%d KiB (%.2f MiB)" % (rss, rss / 1024), "", ""))
for lab, what in (("host", "host: 1 s of connections to a non-session listener on port 80"),
                  ("otherns", "another netns: 1 s of connections to a listener on port 80")):
    l = lines("foreign_" + lab)
    if len(l) < 3:
        continue
    conns = int(l[0][0])
    a, b = [int(x) for x in l[1]], [int(x) for x in l[2]]
    wake = b[3] + b[4] - a[3] - a[4]
    run_us = (b[2] - a[2]) / 1e3
    res["idle"]["foreign_" + lab] = {"connections": conns, "wakeups": wake, "runtime_us": run_us}
    rows.append((sec, "no window, " + what, "%d conns: %d wakeups, %.1f ms CPU" % (conns, wake, run_us / 1e3),
                 "", ""))
res["idle"]["cli_wakeups_total"] = int(meta.get("idle_cli_ctx", 0))
rows.append((sec, "  %s waiting porthole CLIs: wakeups in total" % meta.get("idle_windows", "10"),
             meta.get("idle_cli_ctx", "?"), "", ""))
rs = int(meta.get("rss_start", 0))
goal_row(sec, "VmRSS right after start (no window yet)", "%d KiB (%.2f MiB)" % (rs, rs / 1024), "<= 4 MiB",
         "RSS <= 4 MiB right after start", rs <= 4096, rs, 4096)
rows.append((sec, "VmHWM (peak) at start, at end",
             "%s, %s KiB" % (meta.get("hwm_start"), meta.get("hwm_end")), "", ""))
# memory: smaps_rollup. Private = Private_Dirty + Private_Clean (pages only
# this process maps); PSS shares each shared page among its mappers
def mem(lab):
    v = meta.get("mem_" + lab, "").split()
    return {v[i]: int(v[i + 1]) for i in range(0, len(v) - 1, 2)}
res["memory"] = {}
mw = meta.get("mem_windows", "0 10 100").split()
for lab, what in [("start", "right after start")] + [(w, "%s windows open" % w) for w in mw] + [("after", "after, no window")]:
    m = mem(lab)
    if not m:
        continue
    res["memory"][lab] = m
    priv = m.get("Private_Dirty", 0) + m.get("Private_Clean", 0)
    metric = "memory, %s: RSS / PSS / private dirty + clean (KiB)" % what
    shown = "%d / %d / %d + %d = %d" % (m.get("Rss", 0), m.get("Pss", 0), m.get("Private_Dirty", 0),
                                       m.get("Private_Clean", 0), priv)
    if lab == "0":
        # judged on Private_Dirty: what only this process can hold (heap,
        # stacks, relocated library data). Private_Clean counts the pages of
        # libraries no other process maps at that moment (libbpf, libnftnl
        # are private on a host where portholed alone uses them, shared when
        # another portholed runs): file pages, reclaimable
        goal_row(sec, metric, shown, "private dirty <= 1 MiB", "idle private dirty memory <= 1 MiB",
                 m.get("Private_Dirty", 0) <= 1024, m.get("Private_Dirty", 0), 1024)
    else:
        rows.append((sec, metric, shown, "", ""))
m0, mn = mem(mw[0]), mem(mw[-1])
if m0 and mn and int(mw[-1]) > int(mw[0]):
    nwin = int(mw[-1]) - int(mw[0])
    g = {k: (mn.get(k, 0) - m0.get(k, 0)) / nwin for k in ("Rss", "Pss", "Private_Dirty")}
    res["memory"]["growth_per_window_kib"] = g
    rows.append((sec, "memory growth per window, %s -> %s windows (KiB/window: RSS, PSS, private dirty)" % (mw[0], mw[-1]),
                 "%.2f, %.2f, %.2f" % (g["Rss"], g["Pss"], g["Private_Dirty"]), "", ""))
for lab in ("0", mw[-1]):
    if meta.get("memtop_" + lab):
        rows.append((sec, "  largest private mappings, %s windows (KiB)" % lab, meta["memtop_" + lab].strip(), "", ""))
rows.append((sec, "binary sizes portholed / porthole (stripped)",
             "%s / %s bytes (%s / %s)" % (meta.get("size_portholed"), meta.get("size_porthole"),
                                          meta.get("strip_portholed"), meta.get("strip_porthole")), "", ""))
nbpf = int(meta.get("bpf_progs", 0))
rows.append((sec, "BPF programs ph_* held by the daemon", "%d (%s)" % (nbpf, meta.get("bpf_names", "").strip()), "", ""))
res["idle"]["bpf_programs"] = nbpf
rows.append((sec, "  events skipped by the kernel (BPF recursion_misses)", meta.get("bpf_recursion_misses", "?"), "", ""))
res["idle"]["binary_bytes"] = {"portholed": int(meta.get("size_portholed", 0)),
                                "porthole": int(meta.get("size_porthole", 0))}
rows.append(("-", "daemon warnings/errors logged; session cgroups left; exit status",
             "%s; %s; %s" % (meta.get("daemon_warnings"), meta.get("sessions_left"), meta.get("daemon_exit")), "", ""))

res["rows"] = [dict(zip(("section", "metric", "value", "goal", "status"), r)) for r in rows]
with open(OUT, "w") as f:
    json.dump(res, f, indent=1)

hdr = ("section", "metric", "value", "goal", "status")
w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(5)]
busy = {k[7:]: v for k, v in meta.items() if k.startswith("others_")}
res["other_activity"] = busy
if any(int(v.split()[0]) > 0 for v in busy.values()):
    print("WARNING: other portholed instances ran on this machine during the bench (after section: count, "
          "loadavg): %s; figures may be perturbed" % "; ".join("%s: %s" % kv for kv in busy.items()))
print("porthole bench (%s): kernel %s, %s CPUs, %s, commit %s, %s s in total" %
      (meta.get("mode"), meta.get("kernel"), meta.get("cpus"), meta.get("nft"), meta.get("commit"),
       meta.get("total_seconds")))
line = "  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))
print(line)
print("-" * len(line))
for r in rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
print("(latencies in ms; p99 = nearest rank; a SYN is sent every 100 us, so open latencies carry up to 0.1 ms of probe granularity)")
PYEOF
