#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container windows behind a geo-block before DNAT (issue 23 case 1 (b),
# docs/design/containers.md §4 "Pre-DNAT geo-block"), with the real daemon
# (chains = auto). Judged by what the servers logged and by counters in the
# containers' own namespaces, never by what porthole says.
#
# The host is Docker-shaped (iptables-nft, tests/lab/docker_rules.sh): -p
# $H:80:80 and -p $H:8081:80 to C1, -p $H:8080:80 and -p $H3:80:80 to C2, FORWARD policy
# drop; no input filter at all: the geo-block is in prerouting before DNAT
# and covers both paths -- first `iptables -t mangle -A PREROUTING -s
# BLOCKED -j DROP` (iptables-nft, priority -150), then an nftables chain
# at -150 with a named set, and beside it a chain at -120 whose policy drops
# (the pair at its end). A host process listens on 0.0.0.0:80 (reached
# through $H2:80, or through $H:80 when the DNAT is gone) and on :8088.
# During C1's window, from the blocked country:
#  - $H:80 reaches C1 (the window);
#  - $H:8080 (C2), $H:8081 (C1 by a second published port, unwatched),
#    $H3:80 (C2 published on the window's port number: CP, F4 drops it),
#    C1 and C2 routed to directly, and the host process on $H2:80 are not
#    reached (no CC; or CP dropped at input: no DNAT);
#  - a REDIRECT of $H:80 to the host's :8088, and the DNAT of $H:80 gone
#    (the host's own :80 gets it): the host processes hear nothing (CP
#    dropped at input);
#  - crafted ACK and RST packets (scapy; conntrack picks them up as new) to
#    $H:8080 reach C2's namespace not, before, during and after the window
#    (to $H:80 during the window they reach C1's namespace: that is the
#    window's destination, and C1's kernel answers them);
#  - a drop in prerouting at raw priority (-300): the window is refused (a
#    reverse-path filter there, firewalld's, does not refuse it);
#  - the block reloaded during the window (mangle flushed, the drop back):
#    the pair is put back before it;
#  - chains = none: the pair `porthole check` prints, pasted before the
#    drop, gives the same (and admits nothing without a window).
# The allowed country reaches everything throughout; the ruleset (counters
# aside) is the same before the daemon and after it. Not tested, not our
# concern: a SYN that spoofs an allowed country's address is the host's
# geo-block's business (porthole never admits it: the host does).
set -u
source "$(dirname "$0")/../lib.sh"
t_start cwin_pre lab
command -v iptables >/dev/null || { echo "SKIP $T_NAME: iptables not installed (make deps)"; exit 77; }

ROOT_BEFORE=$(nft list ruleset 2>/dev/null | sha256sum)
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) BR=$LAB_CTR_BR
HL=$T_ROOT/tests/adversary/httplog.py
. "$T_ROOT/tests/lab/docker_rules.sh"
# the blocked country's geo-block is not in DOCKER-USER here (an address nobody uses)
t_setup "containers" nslab_containers 2
t_setup "Docker-shaped rules" docker_rules iptables $H $C1 $C2 203.0.113.250/32 32
t_setup "no input filter (the block is before DNAT)" in_host nft delete table inet filter
# C2 published on the window's port number too, on a third host address: -p $H3:80:80
H3=203.0.113.12
t_setup "a third host address" in_host ip addr add $H3/24 dev $LAB_IF_HOST
t_setup "C2 on $H3:80" in_host iptables -t nat -A PREROUTING -d $H3 -p tcp -m tcp --dport 80 -j DNAT --to-destination $C2:80
geo_ipt() { in_host iptables -t mangle "$1" PREROUTING -s $INET/32 -j DROP; }
t_setup "the geo-block in mangle PREROUTING" geo_ipt -A
for k in 1 2; do # non-SYN packets from the blocked country, counted in each container's namespace
	in_ns "$T_PFX-c$k" nft -f - <<EOF || t_fail "counter in c$k"
table inet count {
	chain in {
		type filter hook prerouting priority -400;
		ip saddr $INET tcp flags & (syn | ack | rst) != syn counter
	}
}
EOF
done
nonsyn() { in_ns "$T_PFX-c$1" nft list chain inet count in | grep -o 'packets [0-9]*' | cut -d' ' -f2; }

CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
run_in() { # CG NS LOG NAME PORT: an httplog server in namespace NS (c1, c2, host) inside cgroup CG; PID
	nsenter --net=/run/netns/"$T_PFX-$2" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$1" "$PY" "$HL" serve "$3" "$4" "$5" 60 \
		0.0.0.0 >"$3.out" 2>&1 &
	PID=$!
	T_PIDS+=("$PID")
	wait_for "$3.out" listening 100 || t_fail "$4 listens ($(cat "$3.out"))"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
L1=$T_TMP/c1.log L2=$T_TMP/c2.log LH=$T_TMP/h.log LR=$T_TMP/r.log
: >"$L1"; : >"$L2"; : >"$LH"; : >"$LR"
run_in "$CGO" c2 "$L2" c2 80
run_in "$CGO" host "$LH" host 80
run_in "$CGO" host "$LR" redirected 8088
BEFORE=$(in_host nft -s list ruleset 2>/dev/null)

# probes: all of one phase at once, each from a port of its own, judged by the logs
Q=() SP=31000
reach() { Q+=("1|$1|$2|$3|$4|$5"); }  # NAME FROM ADDR PORT LOG: logged there
drop() { Q+=("0|$1|inet|$2|$3|$L1 $L2 $LH $LR"); } # NAME ADDR PORT: logged nowhere
judge() {
	local i want n from a p logs got pids=()
	for i in "${!Q[@]}"; do
		IFS='|' read -r want n from a p logs <<<"${Q[i]}"
		in_ns "$T_PFX-$from" "$PY" "$HL" get "$a" "$p" "/p$((SP + i))" 1 $((SP + i)) >/dev/null 2>&1 &
		pids+=("$!")
	done
	wait "${pids[@]}"
	for i in "${!Q[@]}"; do
		IFS='|' read -r want n from a p logs <<<"${Q[i]}"
		# shellcheck disable=SC2086
		got=$(cat $logs | grep -c "^request [0-9.]* $((SP + i)) ")
		if [ "$want" = 1 ] && [ "$got" -ge 1 ]; then t_pass "$n"
		elif [ "$want" = 0 ] && [ "$got" = 0 ]; then t_pass "$n"
		else t_fail "$n (logged $got time(s))"; fi
	done
	SP=$((SP + ${#Q[@]})) Q=()
}
controls() { # the allowed country, throughout
	reach "$1: the allowed country reaches C2 through $H:8080" allow $H 8080 "$L2"
	reach "$1: the allowed country reaches C2 through $H3:80" allow $H3 80 "$L2"
	reach "$1: the allowed country reaches the host process on $H2:80" allow $H2 80 "$LH"
	[ "${2:-}" ] && reach "$1: the allowed country reaches C1 through $H:80" allow $H 80 "$L1"
}
negatives() {
	drop "$1: the Internet to $H:8080 (C2's published port) reaches nothing" $H 8080
	drop "$1: the Internet to $H:8081 (C1 by a second published port) reaches nothing" $H 8081
	drop "$1: the Internet to $H3:80 (C2 published on the window's port number) reaches nothing" $H3 80
	drop "$1: the Internet to the host process on $H2:80 reaches nothing" $H2 80
	drop "$1: the Internet routed directly to C1 $C1:80 reaches nothing" $C1 80
	drop "$1: the Internet routed directly to C2 $C2:80 reaches nothing" $C2 80
}
# crafted: N ACK and N RST packets from the blocked country to ADDR:PORT
crafted() {
	in_inet "$PY" -c 'import sys
from scapy.all import IP, TCP, send
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(3):
    send(IP(src=src, dst=dst) / TCP(sport=40000 + i, dport=port, flags="A", seq=1000, ack=2000), verbose=0)
    send(IP(src=src, dst=dst) / TCP(sport=41000 + i, dport=port, flags="R", seq=1000), verbose=0)' $INET "$1" "$2" 2>/dev/null
}
HAVE_SCAPY=1
"$PY" -c 'import scapy.all' 2>/dev/null || HAVE_SCAPY=0
nonsyn_case() { # PHASE
	local b=$(nonsyn 2)
	if [ $HAVE_SCAPY = 0 ]; then t_skip "$1: crafted ACK/RST (python3-scapy not installed)"; return; fi
	crafted $H 8080
	sleep 0.2 # (nothing to wait for when, rightly, nothing arrives)
	t_eq "$1: crafted ACK and RST packets to $H:8080 reach C2's namespace not" "$b" "$(nonsyn 2)"
}
pairs() { in_host nft list ruleset 2>/dev/null | grep -c 'comment "porthole cw '; }
wait_pairs() { local i; for i in $(seq 50); do [ "$(pairs)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
opened() { wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $1" 50; }
closed() { wait_for "$T_DLOG" "container: window [0-9]* closed .*of pid $1" 50; }

CONF=("ports = 80" "designate = cgroup /$CGD published ports=80")
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || { t_fail "daemon start"; t_summary; exit 1; }

# ---- no window ---------------------------------------------------------------------------
controls "no window"
negatives "no window"
judge
nonsyn_case "no window"
t_eq "no window: no pair in the host's chains" 0 "$(pairs)"

# ---- C1's window, iptables-nft mangle block ----------------------------------------------
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "mangle: C1's window opens" opened $P1
t_check "mangle: its pair sits before the drop in mangle PREROUTING (2 rules)" wait_pairs 2
t_log "$(in_host iptables -t mangle -S PREROUTING 2>/dev/null | tr '\n' '|')"
reach "mangle: the Internet reaches C1 through $H:80 (the window)" inet $H 80 "$L1"
controls "mangle" c1
negatives "mangle"
judge
nonsyn_case "mangle"
if [ $HAVE_SCAPY = 1 ]; then
	b=$(nonsyn 1)
	crafted $H 80
	sleep 0.2
	t_log "mangle: crafted ACK/RST to $H:80 during the window: $(($(nonsyn 1) - b)) reached C1's namespace (its destination)"
fi
# the admin reloads the block (mangle flushed, the drop back): the pair is put back before it
in_host iptables -t mangle -F PREROUTING
geo_ipt -A
t_check "mangle: after a reload of the block the pair is back (2 rules)" wait_pairs 2
last_of_pre() { in_host iptables -t mangle -S PREROUTING 2>/dev/null | grep -e '-j DROP' -e 'porthole cw' | tail -1; }
t_check "mangle: ... before the drop" eval 'last_of_pre | grep -q -- "-j DROP"'
reach "mangle, reloaded: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
drop "mangle, reloaded: the Internet to $H3:80 (C2) reaches nothing" $H3 80
judge
# a REDIRECT of the published port to a host socket, for the blocked country
in_host iptables -t nat -I PREROUTING -s $INET/32 -d $H -p tcp --dport 80 -j REDIRECT --to-ports 8088
drop "mangle: $H:80 REDIRECTed to the host's :8088 reaches no host process (CP dropped at input)" $H 80
judge
in_host iptables -t nat -D PREROUTING -s $INET/32 -d $H -p tcp --dport 80 -j REDIRECT --to-ports 8088
# the DNAT gone: $H:80 is the host's own :80
in_host iptables -t nat -D PREROUTING -d $H -p tcp -m tcp --dport 80 -j DNAT --to-destination $C1:80
drop "mangle: $H:80 without its DNAT (the host's own :80) reaches no host process" $H 80
judge
in_host iptables -t nat -I PREROUTING 1 -d $H -p tcp -m tcp --dport 80 -j DNAT --to-destination $C1:80
stop $P1
t_check "mangle: C1's window closes with its listener" closed $P1
t_check "mangle: the pair goes with the last window of the port" wait_pairs 0
nonsyn_case "after the window"
b=$(nonsyn 1)
[ $HAVE_SCAPY = 1 ] && { crafted $H 80; sleep 0.2; t_eq "after the window: crafted ACK/RST to $H:80 reach C1's namespace not" "$b" "$(nonsyn 1)"; }

# ---- chains = none: the pair as porthole check prints it, pasted -------------------------
daemon_stop
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" "chains = none" || { t_fail "daemon start (chains = none)"; t_summary; exit 1; }
CHK=$(ph_host check --config "$T_CONF" 2>&1)
A_RULE=$(grep -o "containers: chain ip mangle PREROUTING .*" <<<"$CHK" | sed -n "s/.*(-I PREROUTING N, or -A with policy DROP): '\([^']*\)' then '\([^']*\)'.*/\1/p")
B_RULE=$(grep -o "containers: chain ip mangle PREROUTING .*" <<<"$CHK" | sed -n "s/.*(-I PREROUTING N, or -A with policy DROP): '\([^']*\)' then '\([^']*\)'.*/\2/p")
t_check "static: porthole check prints the pair for ip mangle PREROUTING ($A_RULE; $B_RULE)" [ -n "$A_RULE" ] && [ -n "$B_RULE" ]
# shellcheck disable=SC2086
in_host iptables -t mangle -I PREROUTING 1 ${A_RULE/MATCHES/-s $INET/32} && in_host iptables -t mangle -I PREROUTING 2 $B_RULE ||
	t_fail "static: the pair pasted"
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "static: C1's window opens" opened $P1
reach "static: the Internet reaches C1 through $H:80 (the pasted pair)" inet $H 80 "$L1"
controls "static" c1
negatives "static"
judge
stop $P1
closed $P1
run_in "$CGO" c1 "$L1" c1-undesignated 80
P1=$PID
drop "static, no window: the pasted pair admits nothing (C1 listening outside the designation, $H:80)" $H 80
judge
stop $P1
# shellcheck disable=SC2086
in_host iptables -t mangle -D PREROUTING ${A_RULE/MATCHES/-s $INET/32}; in_host iptables -t mangle -D PREROUTING $B_RULE
daemon_stop
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || { t_fail "daemon start"; t_summary; exit 1; }

# ---- the same with an nftables chain at -150 ---------------------------------------------
geo_ipt -D
in_host nft -f - <<EOF || t_fail "the nftables geo-block"
table inet geo {
	set blocked { type ipv4_addr; elements = { $INET } }
	chain pre { type filter hook prerouting priority -150; policy accept; ip saddr @blocked counter drop; }
}
EOF
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "nft: C1's window opens" opened $P1
t_check "nft: its pair sits before the drop in inet geo pre (2 rules)" wait_pairs 2
reach "nft: the Internet reaches C1 through $H:80 (the window)" inet $H 80 "$L1"
controls "nft" c1
negatives "nft"
judge
stop $P1
t_check "nft: the pair goes with the window" wait_pairs 0

# ---- an nftables chain whose policy drops (at -120): the pair at its end -----------------
in_host nft -f - <<EOF || t_fail "the policy-drop geo-block"
table inet geo2 {
	chain pre {
		type filter hook prerouting priority -120; policy drop;
		meta nfproto ipv6 accept
		ip saddr != $INET accept
	}
}
EOF
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "policy: C1's window opens" opened $P1
t_check "policy: pairs before the drop of inet geo pre and at the end of inet geo2 pre (4 rules)" wait_pairs 4
t_check "policy: ... geo2's pair last in its chain" eval 'in_host nft list chain inet geo2 pre 2>/dev/null | grep -B1 "^[[:space:]]*}" | head -1 | grep -q "porthole cw"'
reach "policy: the Internet reaches C1 through $H:80 (the window)" inet $H 80 "$L1"
controls "policy" c1
negatives "policy"
judge
stop $P1
t_check "policy: the pairs go with the window" wait_pairs 0
in_host nft delete table inet geo2

# ---- raw priority: a reverse-path filter there is fine (firewalld's) --------------------
in_host nft add chain inet geo rpf '{ type filter hook prerouting priority -290; policy accept; }'
in_host nft add rule inet geo rpf fib saddr . iif oif missing drop
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "rpfilter: a reverse-path filter at priority -290 (firewalld's shape) does not refuse the window" opened $P1
reach "rpfilter: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
drop "rpfilter: the Internet to $H3:80 (C2) reaches nothing" $H3 80
judge
stop $P1
wait_pairs 0
in_host nft delete chain inet geo rpf

# ---- raw priority: unsupported, the window is refused ------------------------------------
in_host nft add chain inet geo raw '{ type filter hook prerouting priority -300; policy accept; }'
in_host nft add rule inet geo raw ip saddr @blocked drop
run_in "$CGD" c1 "$L1" c1 80
P1=$PID
t_check "raw: no window through a drop at priority -300 (refused, said why)" \
	wait_for "$T_DLOG" "container: no window for pid $P1 .*priority -300" 50
drop "raw: the Internet to $H:80 reaches nothing" $H 80
judge
stop $P1
in_host nft delete table inet geo
geo_ipt -A

t_check "the daemon stops cleanly" daemon_stop
t_eq "the ruleset (counters aside) is as before the daemon" "$BEFORE" "$(in_host nft -s list ruleset 2>/dev/null)"
t_eq "the root namespace's ruleset is untouched" "$ROOT_BEFORE" "$(nft list ruleset 2>/dev/null | sha256sum)"
t_summary
