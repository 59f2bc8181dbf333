#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Red team of container windows behind a geo-block before DNAT (helper
# "redpre"; docs/design/containers.md §4 "Pre-DNAT geo-block", step 5). The
# host as in test_cwin_pre.sh: Docker-shaped (iptables-nft), -p $H:80:80 to
# C1, -p $H:8080:80 and -p $H3:80:80 to C2 (and the same for udp), a host C3 it
# forwards to (routed, and DNATed from $H4:80), FORWARD
# policy drop, the blocked country dropped in mangle PREROUTING, a host
# process on 0.0.0.0:80 ($H2:80). C1 (designated) opens a window on 80.
# Judged by what the servers logged, by counters in the containers' own
# namespaces (prerouting -400, before anything) and by the host's own TCP,
# UDP and ICMP MIB counters (what its stack received), never by porthole.
# During the window, from the blocked country:
#  - crafted first packets that conntrack may take as new (ACK, SYN+ACK,
#    FIN, FIN+ACK, RST, PSH+ACK, SYN with a payload; scapy) to C2 on the
#    window's port number ($H3:80), to $H:8080, to C2 routed directly, and
#    to the host's :80 ($H2:80): nothing reaches C2's namespace or the
#    host's TCP;
#  - IPv6 (ip6tables DNAT, the block in ip6 mangle): [$H6]:80 reaches C1;
#    C2 on [$H6]:8080 and [$H63]:80, C1 by [$H6]:8081, the host's
#    [$H62]:80 and C2 routed directly are not reached;
#  - UDP to the published port ($H:80/udp to C1, $H3:80/udp to C2, $H2:80)
#    and ICMP echo to $H and to C1: nothing arrives;
#  - an admin inserts a second drop above the pair, then deletes the
#    pair's accept: the pairs are put back before each drop; the window
#    admits, C2 on $H3:80 is not reached;
#  - no connection in the conntrack table carries CP (it never outlives
#    its first packet: IPv6's conntrack confirms at input priority
#    INT_MAX - 1, before `local` at INT_MAX, so the blocked country's SYN
#    to [$H62]:80 left a confirmed CP connection for 120 s each -- a
#    conntrack table to fill through the block), and none of the allowed
#    country is CP;
#  - a connection opened through the window, the window then closed (its
#    listener): nothing more of it reaches C1;
#  - a host rule that copies the packet mark to the connection mark after
#    the pair (policy routing's save; porthole check FAILs it): the pairs
#    are taken out (fail closed) -- before, the blocked country's SYNs
#    reached C2 on $H3:80 and the host's :80 (CP became CC) -- and are back
#    once the rule goes;
#  - the daemon killed (SIGKILL) during a window: no new connection of
#    the blocked country gets through; a connection it had keeps passing
#    the pair left behind until the daemon is back (told, not failed); the
#    restarted daemon sweeps the pairs;
#  - a second designated container's window on the same published port
#    ($H3:80 -> C2) open while C1's closes: a connection C1 accepted
#    during its window keeps passing the block (the design's known limit,
#    told, not failed).
# The allowed country reaches everything throughout; the ruleset (counters
# aside) is as before the daemon at the end.
set -u
source "$(dirname "$0")/../lib.sh"
t_start cwin_pre_red lab
command -v iptables >/dev/null || { echo "SKIP $T_NAME: iptables not installed (make deps)"; exit 77; }
command -v conntrack >/dev/null || { echo "SKIP $T_NAME: conntrack not installed (make deps)"; exit 77; }
"$PY" -c 'import scapy.all' 2>/dev/null || { echo "SKIP $T_NAME: python3-scapy not installed"; exit 77; }

C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) DOWN=$(lab_ctr_v4 3) BR=$LAB_CTR_BR
HL=$T_ROOT/tests/adversary/httplog.py TR=$T_ROOT/tests/adversary/cwin_tricks.py
. "$T_ROOT/tests/lab/docker_rules.sh"
t_setup "containers" nslab_containers 3
t_setup "Docker-shaped rules" docker_rules iptables $H $C1 $C2 203.0.113.250/32 32
t_setup "no input filter (the block is before DNAT)" in_host nft delete table inet filter
H3=203.0.113.12
t_setup "a third host address" in_host ip addr add $H3/24 dev $LAB_IF_HOST
t_setup "C2 on $H3:80" in_host iptables -t nat -A PREROUTING -d $H3 -p tcp -m tcp --dport 80 -j DNAT --to-destination $C2:80
udp_dnat() { # the same ports published for udp too (-p $H:80:80/udp ...)
	in_host iptables -t nat -A PREROUTING -d $H -p udp --dport 80 -j DNAT --to-destination $C1:80 &&
		in_host iptables -t nat -A PREROUTING -d $H3 -p udp --dport 80 -j DNAT --to-destination $C2:80 &&
		in_host iptables -I FORWARD -p udp --dport 80 -j ACCEPT
}
t_setup "udp published too" udp_dnat
# a host the host forwards to (the third namespace on the bridge, no engine's): routed to,
# and DNATed to from a fourth address's :80
H4=203.0.113.13
down_fw() {
	in_host ip addr add $H4/24 dev $LAB_IF_HOST &&
		in_host iptables -t nat -A PREROUTING -d $H4 -p tcp --dport 80 -j DNAT --to-destination $DOWN:80 &&
		in_host iptables -I FORWARD -d $DOWN -j ACCEPT
}
t_setup "the downstream host forwarded to" down_fw
# IPv6 the same way: -p [$H6]:80:80 to C1, [$H6]:8080 to C2, [$H63]:80 to C2, blocked in ip6 mangle
C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2) H63=2001:db8:1::12
t_setup "a third host address (v6)" in_host ip addr add $H63/64 dev $LAB_IF_HOST nodad
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 2001:db8:ffff::1/128 128 $H63
t_setup "the v6 geo-block in ip6 mangle PREROUTING" in_host ip6tables -t mangle -A PREROUTING -s $INET6/128 -j DROP
geo_ipt() { in_host iptables -t mangle "$1" PREROUTING "${@:2}" -s $INET/32 -j DROP; }
t_setup "the geo-block in mangle PREROUTING" geo_ipt -A
for k in 1 2; do # what the blocked country gets into each container's namespace, before anything there
	in_ns "$T_PFX-c$k" nft -f - <<EOF || t_fail "counters in c$k"
table inet red {
	counter ntcp {}
	counter nsyn {}
	counter nudp {}
	counter nicmp {}
	chain in {
		type filter hook prerouting priority -400;
		ip saddr $INET meta l4proto tcp counter name "ntcp"
		ip saddr $INET tcp flags & (syn | ack) == syn counter name "nsyn"
		ip saddr $INET meta l4proto udp counter name "nudp"
		ip saddr $INET meta l4proto icmp counter name "nicmp"
	}
}
EOF
done
cnt() { in_ns "$T_PFX-$1" nft list counter inet red "n$2" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
# the host's stack: TCP segments, UDP datagrams (to a socket or to none), ICMP messages received
mib() { in_host awk -v w="$1" '$1 == w":" { if (!n) { for (i = 2; i <= NF; i++) h[$i] = i; n = 1; next }
	if (w == "Tcp") print $h["InSegs"]; else if (w == "Udp") print $h["InDatagrams"] + $h["NoPorts"]; else print $h["InMsgs"] }' /proc/net/snmp; }

CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
run_in() { # CG NS OUT PROG ARGS...: a server in namespace NS inside cgroup CG; PID
	local cg=$1 ns=$2 out=$3
	shift 3
	nsenter --net=/run/netns/"$T_PFX-$ns" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$cg" "$@" >"$out" 2>&1 &
	PID=$!
	T_PIDS+=("$PID")
	wait_for "$out" listening 100 || t_fail "$ns listens ($(cat "$out"))"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
L1=$T_TMP/c1.log L2=$T_TMP/c2.log LH=$T_TMP/h.log LD=$T_TMP/d.log
: >"$L1"; : >"$L2"; : >"$LH"; : >"$LD"
run_in "$CGO" c2 "$T_TMP/c2.out" "$PY" "$HL" serve "$L2" c2 80 60 0.0.0.0 ::
P2=$PID
run_in "$CGO" host "$T_TMP/h.out" "$PY" "$HL" serve "$LH" host 80 60 0.0.0.0 ::
run_in "$CGO" c3 "$T_TMP/d.out" "$PY" "$HL" serve "$LD" down 80 60 0.0.0.0
BEFORE=$(in_host nft -s list ruleset 2>/dev/null)

Q=() SP=33000
reach() { Q+=("1|$1|$2|$3|$4|$5"); }  # NAME FROM ADDR PORT LOG: logged there
drop() { Q+=("0|$1|inet|$2|$3|$L1 $L2 $LH $LD"); } # NAME ADDR PORT: logged nowhere
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
		got=$(cat $logs | grep -c "^request [0-9a-f.:]* $((SP + i)) ")
		if [ "$want" = 1 ] && [ "$got" -ge 1 ]; then t_pass "$n"
		elif [ "$want" = 0 ] && [ "$got" = 0 ]; then t_pass "$n"
		else t_fail "$n (logged $got time(s))"; fi
	done
	SP=$((SP + ${#Q[@]})) Q=()
}
controls() {
	reach "$1: the allowed country reaches C2 through $H3:80" allow $H3 80 "$L2"
	reach "$1: the allowed country reaches C2 through $H:8080" allow $H 8080 "$L2"
	reach "$1: the allowed country reaches the host process on $H2:80" allow $H2 80 "$LH"
	reach "$1: the allowed country reaches the downstream host through $H4:80" allow $H4 80 "$LD"
	reach "$1: the allowed country reaches the downstream host routed to $DOWN:80" allow $DOWN 80 "$LD"
}
# crafted: one packet of each kind conntrack may take for the first of a connection
crafted() { # ADDR PORT [SPORT BASE]
	in_inet "$PY" -c 'import sys
from scapy.all import IP, TCP, Raw, send
src, dst, port, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pk = [TCP(flags=f, seq=1000, ack=2000 if "A" in f else 0) for f in ("A", "SA", "F", "FA", "R", "PA", "RA", "U")]
pk.append(TCP(flags="S", seq=1000) / Raw(b"GET / HTTP/1.0\r\n\r\n"))
for i, t in enumerate(pk):
    t.sport, t.dport = base + i, port
    send(IP(src=src, dst=dst) / t, verbose=0)' $INET "$1" "$2" "${3:-42000}" 2>/dev/null
}
settle() { sleep 0.2; } # (nothing to wait for when, rightly, nothing arrives)
pairs() { in_host nft list ruleset 2>/dev/null | grep -c 'comment "porthole cw '; }
wait_pairs() { local i; for i in $(seq 50); do [ "$(pairs)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
opened() { wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $1" 50; }
closed() { wait_for "$T_DLOG" "container: window [0-9]* closed .*of pid $1" 50; }
ct_cp() { { in_host conntrack -L -m 0xfc000000/0xff000000; in_host conntrack -L -f ipv6 -m 0xfc000000/0xff000000; } 2>/dev/null | tee -a "$T_TMP/cp.txt" | grep -c . ; }

CONF=("ports = 80" "designate = cgroup /$CGD published ports=80")
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || { t_fail "daemon start"; t_summary; exit 1; }

# ---- C1's window ------------------------------------------------------------------------
run_in "$CGD" c1 "$T_TMP/c1.out" "$PY" "$HL" serve "$L1" c1 80 60 0.0.0.0 ::
P1=$PID
t_check "C1's window opens" opened $P1
t_check "its pairs sit before the drops, v4 and v6 (4 rules)" wait_pairs 4
reach "window: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
controls "window"
drop "window: the Internet to the downstream host through $H4:80 (DNAT) reaches nothing" $H4 80
drop "window: the Internet to the downstream host routed to $DOWN:80 reaches nothing" $DOWN 80
drop "window: the Internet to $H3:80 (C2 on the window's port number) reaches nothing" $H3 80
drop "window: the Internet to the host process on $H2:80 reaches nothing" $H2 80
judge
reach "v6: the Internet reaches C1 through [$H6]:80 (the window)" inet $H6 80 "$L1"
drop "v6: the Internet to [$H6]:8080 (C2) reaches nothing" $H6 8080
drop "v6: the Internet to [$H6]:8081 (C1 by a second published port) reaches nothing" $H6 8081
drop "v6: the Internet to [$H63]:80 (C2 on the window's port number) reaches nothing" $H63 80
drop "v6: the Internet to the host process on [$H62]:80 reaches nothing" $H62 80
drop "v6: the Internet routed directly to C2 [$C62]:80 reaches nothing" $C62 80
reach "v6: the allowed country reaches C2 through [$H63]:80" allow $H63 80 "$L2"
reach "v6: the allowed country reaches the host process on [$H62]:80" allow $H62 80 "$LH"
judge

# crafted first packets: nothing of them reaches C2 or the host's TCP
b2=$(cnt c2 tcp) bh=$(mib Tcp)
crafted $H3 80 42000
crafted $H 8080 42100
crafted $C2 80 42200
settle
t_eq "crafted: ACK, SYN+ACK, FIN, FIN+ACK, RST, PSH+ACK, RST+ACK, URG, SYN+data to $H3:80, $H:8080 and $C2:80 reach C2's namespace not" \
	"$b2" "$(cnt c2 tcp)"
crafted $H2 80 42300
crafted $H 8088 42400
settle
t_eq "crafted: the same to the host's $H2:80 and $H:8088 reach the host's TCP not" "$bh" "$(mib Tcp)"
b1=$(cnt c1 tcp)
crafted $H 80 42500
settle
t_log "crafted: to $H:80 (the window's destination) $(($(cnt c1 tcp) - b1)) of 9 reached C1's namespace (its kernel answers them)"

# UDP and ICMP: the window is TCP only
b1=$(cnt c1 udp) b2=$(cnt c2 udp) bu=$(mib Udp) bi=$(mib Icmp) b1i=$(cnt c1 icmp)
in_inet "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for a in sys.argv[1:]:
    for i in range(3):
        s.sendto(b"x", (a, 80))' $H $H3 $H2
in_inet ping -c2 -i0.2 -W1 $H >/dev/null 2>&1
in_inet ping -c2 -i0.2 -W1 $C1 >/dev/null 2>&1
t_eq "udp: datagrams to $H:80 (C1's udp) reach C1's namespace not" "$b1" "$(cnt c1 udp)"
t_eq "udp: datagrams to $H3:80 (C2's udp) reach C2's namespace not" "$b2" "$(cnt c2 udp)"
t_eq "udp: datagrams to $H2:80 reach the host's UDP not" "$bu" "$(mib Udp)"
t_eq "icmp: echo requests to $H reach the host's ICMP not" "$bi" "$(mib Icmp)"
t_eq "icmp: echo requests to C1 routed directly reach C1's namespace not" "$b1i" "$(cnt c1 icmp)"

# the admin puts a second drop above the pair, then deletes the pair's accept
geo_ipt -I 1
t_check "reload: a drop inserted above the pair gets a pair of its own (6 rules)" wait_pairs 6
first_of_pre() { in_host iptables -t mangle -S PREROUTING 2>/dev/null | grep -e '-j DROP' -e 'porthole cw' | head -1; }
t_check "reload: ... the first of the chain is porthole's" eval 'first_of_pre | grep -q "porthole cw"'
reach "reload: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
drop "reload: the Internet to $H3:80 (C2) reaches nothing" $H3 80
drop "reload: the Internet to $H2:80 (the host) reaches nothing" $H2 80
judge
B=$(in_host iptables -t mangle -S PREROUTING | grep -m1 -- '-j ACCEPT' | sed 's/^-A /-D /')
eval "in_host iptables -t mangle $B" || t_fail "reload: deleting a pair's accept"
t_check "reload: a pair's accept deleted is put back (6 rules)" wait_pairs 6
reach "reload, mended: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
drop "reload, mended: the Internet to $H3:80 (C2) reaches nothing" $H3 80
controls "reload"
judge
geo_ipt -D
t_check "reload: the drop gone, its pair goes (4 rules)" wait_pairs 4
t_eq "conntrack: no connection carries CP (it never outlives its first packet)" 0 "$(ct_cp)"
[ -s "$T_TMP/cp.txt" ] && t_log "$(cat "$T_TMP/cp.txt")"
t_eq "conntrack: no connection of the allowed country is CP or CW but to C1" 0 \
	"$(in_host conntrack -L -s $LAB_ALLOW_V4 -m 0xfc000000/0xfe000000 2>/dev/null | grep -vc "src=$C1 ")"

# the host copies the packet mark to the connection (policy routing's save), after the pair:
# CP on the connection becomes CC, which F4 and `local` do not drop
in_host nft -f - <<EOF || t_fail "the host's mark save"
table ip hostmark {
	chain pre {
		type filter hook prerouting priority -120;
		ct mark set meta mark
	}
}
EOF
t_check "save: porthole takes its pairs out (its marks cannot be trusted there)" wait_pairs 0
t_check "save: ... and says why" wait_for "$T_DLOG" "ip hostmark pre .*socket_mark" 50
drop "save: the Internet to $H3:80 (C2) gets no connection" $H3 80
drop "save: the Internet to $H2:80 (the host) gets no connection" $H2 80
drop "save: the Internet to $H:80 (C1) neither (fail closed)" $H 80
controls "save"
judge
b2=$(cnt c2 syn) bh=$(mib Tcp)
in_inet "$PY" -c 'import sys
from scapy.all import IP, TCP, send
for i, d in enumerate(sys.argv[2:]):
    send(IP(src=sys.argv[1], dst=d) / TCP(sport=43000 + i, dport=80, flags="S", seq=1000), verbose=0)' $INET $H3 $H2 2>/dev/null
settle
t_eq "save: a SYN of the blocked country to $H3:80 reaches C2's namespace not" "$b2" "$(cnt c2 syn)"
t_eq "save: a SYN of the blocked country to $H2:80 reaches the host's TCP not" "$bh" "$(mib Tcp)"
in_host nft delete table ip hostmark
t_check "save gone: the pairs are back (4 rules)" wait_pairs 4
reach "save gone: the Internet reaches C1 through $H:80" inet $H 80 "$L1"
judge
stop $P1
t_check "C1's window closes with its listener" closed $P1
t_check "the pair goes with it" wait_pairs 0

# ---- a connection of the window, the window closed -------------------------------------
LK=$T_TMP/held.log STOPF=$T_TMP/stop GO=$T_TMP/go
: >"$LK"
run_in "$CGD" c1 "$T_TMP/k.out" "$PY" "$TR" hold "$LK" 80 60 0.0.0.0 "$STOPF"
PK=$PID
opened $PK || t_fail "held: the window opens"
in_inet "$PY" "$HL" talk $H 80 "$GO" 2 >"$T_TMP/talk.out" 2>&1 &
PT=$!
T_PIDS+=("$PT")
t_check "held: a connection through the window says 'before'" wait_for "$LK" "^line $INET .* before" 50
touch "$STOPF"
t_check "held: the listener closes, its window with it" \
	wait_for "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $PK" 50
wait_pairs 0
touch "$GO"
wait "$PT" 2>/dev/null
t_eq "held: nothing the Internet sends on it after the window closed reaches C1" 0 "$(grep -c "^line $INET .* after" "$LK")"
stop $PK

# ---- the daemon killed (SIGKILL) during a window: what its pairs let by until it is back ---
: >"$LK"; rm -f "$STOPF" "$GO"
run_in "$CGD" c1 "$T_TMP/k.out" "$PY" "$TR" hold "$LK" 80 60 0.0.0.0 "$STOPF"
PK=$PID
opened $PK || t_fail "killed: the window opens"
in_inet "$PY" "$HL" talk $H 80 "$GO" 2 >"$T_TMP/talk.out" 2>&1 &
PT=$!
T_PIDS+=("$PT")
t_check "killed: a connection through the window says 'before'" wait_for "$LK" "^line $INET .* before" 50
kill -KILL "$T_DPID"
wait "$T_DPID" 2>/dev/null
T_DPID=
table_gone() { local i; for i in $(seq 50); do in_host nft list table inet porthole >/dev/null 2>&1 || return 0; sleep 0.1; done; return 1; }
t_check "killed: porthole's table goes with the daemon (owner)" table_gone
t_log "killed: $(pairs) pair rule(s) left in the host's chains"
drop "killed: a new connection of the Internet to $H:80 (C1) reaches nothing" $H 80
drop "killed: the Internet to $H3:80 (C2) reaches nothing" $H3 80
drop "killed: the Internet to $H2:80 (the host) reaches nothing" $H2 80
judge
touch "$GO"
wait "$PT" 2>/dev/null
n=$(grep -c "^line $INET .* after" "$LK")
t_log "killed: LIMIT: $n line(s) the Internet sent on the window's connection after the daemon died reached C1 (the pair's accept left behind; Docker's FORWARD accepts established)"
touch "$STOPF"
wait_for "$T_TMP/k.out" closed 50 || t_fail "killed: the listener closes"
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || { t_fail "daemon restart"; t_summary; exit 1; }
t_check "killed: the restarted daemon sweeps the pairs left behind (no listener, no window: 0 rules)" wait_pairs 0
stop $PK

# ---- the same with a second container's window on the published port open ---------------
stop $P2
: >"$LK"; rm -f "$STOPF" "$GO"
run_in "$CGD" c2 "$T_TMP/c2d.out" "$PY" "$HL" serve "$L2" c2 80 60 0.0.0.0 ::
P2=$PID
t_check "two: C2's window opens (designated too)" opened $P2
run_in "$CGD" c1 "$T_TMP/k.out" "$PY" "$TR" hold "$LK" 80 60 0.0.0.0 "$STOPF"
PK=$PID
opened $PK || t_fail "two: C1's window opens"
in_inet "$PY" "$HL" talk $H 80 "$GO" 2 >"$T_TMP/talk.out" 2>&1 &
PT=$!
T_PIDS+=("$PT")
t_check "two: a connection through C1's window says 'before'" wait_for "$LK" "^line $INET .* before" 50
touch "$STOPF"
t_check "two: C1's listener closes, its window with it" \
	wait_for "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $PK" 50
touch "$GO"
wait "$PT" 2>/dev/null
n=$(grep -c "^line $INET .* after" "$LK")
t_log "two: KNOWN LIMIT (design §Progress step 5): with C2's window on port 80 open, $n line(s) the Internet sent on C1's connection after C1's window closed reached C1"
stop $PK
stop $P2
t_check "two: the pairs go with the last window" wait_pairs 0

t_check "the daemon stops cleanly" daemon_stop
t_eq "the ruleset (counters aside) is as before the daemon" "$BEFORE" "$(in_host nft -s list ruleset 2>/dev/null)"
t_summary
