#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Red team of container windows with the real daemon (issue 23; the windows
# of daemon/container.c, `designate = cgroup /X published ports=80`, static
# mode as tests/integration/test_container.sh). Every check is judged by what
# the listeners logged (tests/adversary/cwin_tricks.py) or by the kernel's
# ruleset, never by what porthole says.
#
# The host is Docker-shaped (iptables-nft): -p $H:80:80 to C1, -p $H:8080:80
# and -p $H2:80:80 to C2, FORWARD policy drop, a geo-block in DOCKER-USER
# that drops the blocked country; the one host rule at the top of
# DOCKER-USER. Attacks, from the blocked country against:
#  - SO_REUSEPORT: a listener of an undesignated cgroup in the designated
#    container's namespace (a sidecar or pod neighbour, same uid), bound to
#    the container's own address before the designated one listens, or to
#    the wildcard beside it during its window, gets none of the window's
#    connections (the daemon refuses, or revokes, the window; only what
#    the sibling may take in the few ms before the revocation is not
#    covered -- a 1 s probe after its listen() is);
#  - a socket made in an undesignated cgroup whose process then moves into
#    the designated one before listen(): no window;
#  - a socket made in C2's namespace by an undesignated process, handed
#    over SCM_RIGHTS to a designated process in C1 that listens on it: no
#    window to C2;
#  - an init-userns namespace made by root in the designated cgroup
#    (unshare -n, no veth to the bridge): no element;
#  - fast listen/close churn (lost events) and 300 listeners at once: the
#    daemon lives, no element is left behind, and a window still works;
#  - a connection of the window held open past its listener's close: no
#    byte the Internet sends after the close reaches the server;
#  - root in C1 (designated) adding C2's address to its eth0: C2's published
#    port ($H2:80) reaches C2 not; root in C2 taking C1's address by ARP
#    during C1's window: C2 gets none of it (the pin);
#  - a redirect inside C1's netns (port 80 to an undesignated listener on an
#    unwatched port): root in C1 with Docker's default capabilities (no
#    CAP_NET_ADMIN) cannot add it; with CAP_NET_ADMIN there (--cap-add
#    NET_ADMIN, a mesh sidecar) it can, and the window's connections follow
#    it: a window admits into the container's netns at its address and port,
#    and who administers that netns decides where they go there (README
#    Security model). That case is SKIPped, naming the limit;
#  - the daemon killed -9 with a window open: both owner tables (inet and
#    bridge porthole) go, the published port is closed again; restarted,
#    a reuseport sibling on C1's address that listened while no daemon ran
#    must hear nothing through a new designated listener's window (the
#    daemon finds listeners older than itself at start);
#  - a sibling that binds in C1, leaves for a namespace of its own
#    (unshare) and only then listens: the daemon cannot verify its process,
#    records it unverified, and it gets none of the window's connections;
#  - a sibling's SO_REUSEPORT listener on C1:80 in flight over SCM_RIGHTS
#    (in no task's fd table) while the daemon starts, received after: the
#    kernel's list of C1's sockets counts it, and the designated listener
#    gets no window (container_census.c);
#  - a listener whose port came from the ephemeral range: its close is
#    reported (the kernel releases such a port before the state change).
set -u
source "$(dirname "$0")/../lib.sh"
t_start cwin_daemon lab
command -v iptables >/dev/null || { echo "SKIP $T_NAME: iptables not installed (make deps)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed (util-linux)"; exit 77; }

MARK=0x1000000 MASK=0xff000000 # the default socket_mark
BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2)
TR=$T_ROOT/tests/adversary/cwin_tricks.py HL=$T_ROOT/tests/adversary/httplog.py

. "$T_ROOT/tests/lab/docker_rules.sh" # docker_rules, netavark_rules
host_rule() { in_host iptables -I DOCKER-USER -p tcp -m tcp --dport 80 -m mark --mark $MARK/$MASK -j ACCEPT; }
t_setup "containers" nslab_containers 2
t_setup "Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32 $H2
t_setup "the host rule (static mode)" host_rule

CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
CONF=("ports = 80" "chains = none" "designate = cgroup /$CGD published ports=80")
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || { t_fail "daemon start"; t_summary; exit 1; }
for a in $C1 $C2; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

# run_in CG NS OUT CMD...: CMD in namespace c1/c2 (or "-": the lab host's
# namespace is not wanted, NS is then a netns path), inside cgroup CG; PID: its pid
run_in() {
	local cg=$1 ns=$2 out=$3
	shift 3
	nsenter --net=/run/netns/"$T_PFX-$ns" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$cg" "$@" >"$out" 2>&1 &
	PID=$!
	T_PIDS+=("$PID")
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
inet_lines() { grep -c "^accept $INET " "$1" 2>/dev/null; }
# probe N ADDR PORT: N connections from the blocked country
probe() { local i; for i in $(seq "$1"); do in_ns "$T_PFX-inet" "$PY" "$HL" get "$2" "$3" /attack 1 >/dev/null; done; }
cwin_elems() { in_host nft -j list set inet porthole cwin 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }
wait_elems() { local i; for i in $(seq "${2:-100}"); do [ "$(cwin_elems)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
opened() { wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $1" "${2:-50}"; }

# ---- SO_REUSEPORT: an undesignated sibling in the designated namespace --------------------
LA=$T_TMP/a.log LD=$T_TMP/d.log
: >"$LA"; : >"$LD"
run_in "$CGO" c1 "$T_TMP/a.out" "$PY" "$TR" serve "$LA" 80 60 "$C1" reuseport
PA=$PID
wait_for "$T_TMP/a.out" listening 100 || t_fail "the sibling listens ($(cat "$T_TMP/a.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PA " 50
run_in "$CGD" c1 "$T_TMP/d.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0 reuseport
PD=$PID
wait_for "$T_TMP/d.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PD " 50
probe 4 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the sibling on $C1:80 $(inet_lines "$LA")"
t_eq "reuseport: an undesignated listener on $C1:80 (more specific than the designated 0.0.0.0:80) hears nothing" \
	0 "$(inet_lines "$LA")"
stop "$PA"; stop "$PD"
: >"$LA"; : >"$LD"
run_in "$CGD" c1 "$T_TMP/d1.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0 reuseport
PD=$PID
wait_for "$T_TMP/d1.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d1.out"))"
t_check "reuseport: the designated wildcard listener alone gets its window" opened "$PD"
probe 1 $H 80
t_eq "... the Internet reaches it through $H:80" 1 "$(inet_lines "$LD")"
run_in "$CGO" c1 "$T_TMP/a2.out" "$PY" "$TR" serve "$LA" 80 60 0.0.0.0 reuseport
PA=$PID
wait_for "$T_TMP/a2.out" listening 100 || t_fail "the wildcard sibling listens ($(cat "$T_TMP/a2.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PA " 50
probe 8 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the wildcard sibling $(inet_lines "$LA")"
t_eq "reuseport: an undesignated wildcard sibling that came during the window gets none of its connections" 0 "$(inet_lines "$LA")"
stop "$PA"; stop "$PD"
t_check "reuseport: no element left once both are gone" wait_elems 0

# ---- a sibling the daemon cannot verify: it listens after leaving the namespace ----------
# (bound in C1 with SO_REUSEPORT, then unshare(CLONE_NEWUSER|CLONE_NEWNET), then
# listen: /proc/PID/ns/net is not the socket's namespace when the daemon looks)
: >"$LA"; : >"$LD"
run_in "$CGD" c1 "$T_TMP/d2.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0 reuseport
PD=$PID
wait_for "$T_TMP/d2.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d2.out"))"
opened "$PD" || t_fail "the designated server's window opens"
run_in "$CGO" c1 "$T_TMP/u.out" "$PY" "$TR" unshare "$LA" 80 60 "$C1"
PA=$PID
wait_for "$T_TMP/u.out" listening 100 || t_fail "the unsharing sibling listens ($(cat "$T_TMP/u.out"))"
t_check "unverified: the daemon records a sibling whose process left the namespace (verified=0)" \
	wait_for "$T_DLOG" "foreign: listen .*pid=$PA .*verified=0" 50
probe 6 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the unverified sibling on $C1:80 $(inet_lines "$LA")"
t_eq "unverified: a sibling that listened from another namespace gets none of the window's connections" 0 "$(inet_lines "$LA")"
stop "$PA"; stop "$PD"
t_check "unverified: no element left once both are gone" wait_elems 0

# ---- a listener whose port came from the ephemeral range: its close is seen ------------
# (the kernel releases such a port before the state change is traced: the
# close must still reach the daemon, or its record outlives the socket)
run_in "$CGO" c2 "$T_TMP/e.out" "$PY" "$TR" ephemeral 80
PE=$PID
wait_for "$T_TMP/e.out" closed 100 || t_fail "the ephemeral listener ($(cat "$T_TMP/e.out"))"
t_check "ephemeral: its listen is recorded" wait_for "$T_DLOG" "foreign: listen .*pid=$PE .*port=80 " 50
E_COOKIE=$(grep -o "foreign: listen cookie=[0-9]* .*pid=$PE " "$T_DLOG" | head -1 | sed 's/.*listen cookie=\([0-9]*\) .*/\1/')
t_check "ephemeral: its close is reported (unlisten cookie=$E_COOKIE)" \
	wait_for "$T_DLOG" "foreign: unlisten cookie=$E_COOKIE " 50
stop "$PE"
in_ns "$T_PFX-c2" sh -c 'echo "32768 60999" >/proc/sys/net/ipv4/ip_local_port_range; echo 1024 >/proc/sys/net/ipv4/ip_unprivileged_port_start'

# ---- a connection of the window outlives its listener: no byte after the close -----------
LH=$T_TMP/h.log STOPF=$T_TMP/stop GO=$T_TMP/go
: >"$LH"
run_in "$CGD" c1 "$T_TMP/h.out" "$PY" "$TR" hold "$LH" 80 60 0.0.0.0 "$STOPF"
PH=$PID
wait_for "$T_TMP/h.out" listening 100 || t_fail "the holding server listens ($(cat "$T_TMP/h.out"))"
opened "$PH"
in_ns "$T_PFX-inet" "$PY" "$HL" talk $H 80 "$GO" 2 >"$T_TMP/talk.out" 2>&1 &
PK=$!
T_PIDS+=("$PK")
t_check "held: a connection through the window says 'before'" wait_for "$LH" "^line $INET .* before" 50
touch "$STOPF"
wait_for "$T_TMP/h.out" closed 50
t_check "held: the listener closes, its window with it" \
	wait_for "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $PH" 50
touch "$GO"
wait "$PK" 2>/dev/null
t_log "the client saw: $(tr '\n' ' ' <"$T_TMP/talk.out")"
t_eq "held: nothing the Internet sends on that connection after the window closed reaches the server" \
	0 "$(grep -c "^line $INET .* after" "$LH")"
stop "$PH"

# ---- root in the designated C1 claims C2's address ---------------------------------------
L2=$T_TMP/c2.log LC=$T_TMP/claim.log
: >"$L2"; : >"$LC"
run_in "$CGO" c2 "$T_TMP/c2.out" "$PY" "$TR" serve "$L2" 80 60 0.0.0.0
P2=$PID
wait_for "$T_TMP/c2.out" listening 100 || t_fail "C2's server listens ($(cat "$T_TMP/c2.out"))"
in_ns "$T_PFX-c1" ip addr add "$C2/32" dev eth0
run_in "$CGD" c1 "$T_TMP/cl.out" "$PY" "$TR" serve "$LC" 80 60 0.0.0.0
PL=$PID
wait_for "$T_TMP/cl.out" listening 100 || t_fail "C1's claiming server listens ($(cat "$T_TMP/cl.out"))"
opened "$PL"
probe 3 $H2 80
t_eq "claim: C1 holding C2's address too, the Internet to C2's published $H2:80 reaches C2 not" 0 "$(inet_lines "$L2")"
stop "$PL"
in_ns "$T_PFX-c1" ip addr del "$C2/32" dev eth0
wait_elems 0
: >"$L2"
probe 1 $H2 80
t_eq "claim: ... and (no window) not afterwards" 0 "$(inet_lines "$L2")"
stop "$P2"

# ---- root in the undesignated C2 claims C1's address (ARP) during C1's window -------------
LS=$T_TMP/steal.log LD=$T_TMP/d4.log
: >"$LS"; : >"$LD"
run_in "$CGD" c1 "$T_TMP/d4.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0
PD=$PID
wait_for "$T_TMP/d4.out" listening 100 || t_fail "C1's server listens ($(cat "$T_TMP/d4.out"))"
opened "$PD"
run_in "$CGO" c2 "$T_TMP/st.out" "$PY" "$TR" serve "$LS" 80 60 0.0.0.0
PS=$PID
wait_for "$T_TMP/st.out" listening 100 || t_fail "C2's stealing server listens ($(cat "$T_TMP/st.out"))"
in_ns "$T_PFX-c2" ip addr add "$C1/32" dev eth0
# an ARP request from C2 (scapy) with C1's address as sender: the host's neighbour entry for C1 moves to C2
# (again until the entry's locktime lets it move)
M2=$(nslab_mac c2 eth0)
for _ in $(seq 40); do
	in_ns "$T_PFX-c2" "$PY" -c 'import sys; from scapy.all import ARP, Ether, sendp
m, c1, gw = sys.argv[1:4]
sendp(Ether(src=m, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=m, psrc=c1, pdst=gw), iface="eth0", verbose=0)' \
		"$M2" "$C1" "$LAB_CTR_GW_V4" 2>/dev/null || { t_skip "arp: no scapy here"; break; }
	in_host ip neigh show "$C1" | grep -q "$M2" && break
	sleep 0.1
done
in_host ip neigh show "$C1" | grep -q "$M2" || t_skip "arp: the host's neighbour entry for $C1 did not move to C2"
t_log "the host's neighbour for $C1: $(in_host ip neigh show "$C1"), C2's eth0: $M2"
probe 3 $H 80
t_log "the pin's drops: $(in_host nft list chain bridge porthole output | grep -o 'ip daddr .*counter packets [0-9]*' | tr '\n' ' ')"
t_eq "arp: C2 answering for C1's address gets none of C1's window's connections" 0 "$(inet_lines "$LS")"
in_ns "$T_PFX-c2" ip addr del "$C1/32" dev eth0
in_host ip neigh del "$C1" dev "$BR" 2>/dev/null
stop "$PS"; stop "$PD"
wait_elems 0

# ---- a sidecar with CAP_NET_ADMIN in C1's netns redirects the window's port ----------------
LR=$T_TMP/r.log LD=$T_TMP/d3.log
: >"$LR"; : >"$LD"
run_in "$CGO" c1 "$T_TMP/r.out" "$PY" "$TR" serve "$LR" 9999 60 0.0.0.0
PR=$PID
wait_for "$T_TMP/r.out" listening 100 || t_fail "the sidecar listens on 9999 ($(cat "$T_TMP/r.out"))"
# Docker's default: root in the container without CAP_NET_ADMIN
if in_ns "$T_PFX-c1" setpriv --inh-caps=-net_admin --bounding-set=-net_admin nft add table ip sidecar 2>/dev/null; then
	t_fail "redirect: root in C1 without CAP_NET_ADMIN (Docker's default) added a table to C1's netns"
	in_ns "$T_PFX-c1" nft delete table ip sidecar
else
	t_pass "redirect: root in C1 without CAP_NET_ADMIN (Docker's default) cannot change C1's netns's ruleset"
fi
in_ns "$T_PFX-c1" nft -f - <<'NFT' || t_fail "the sidecar's redirect"
table ip sidecar {
	chain pre {
		type nat hook prerouting priority -100;
		tcp dport 80 redirect to :9999
	}
}
NFT
run_in "$CGD" c1 "$T_TMP/d3.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0
PD=$PID
wait_for "$T_TMP/d3.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d3.out"))"
opened "$PD"
probe 2 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the sidecar on :9999 $(inet_lines "$LR")"
if [ "$(inet_lines "$LR")" = 0 ]; then
	t_pass "redirect: an undesignated listener on an unwatched port, redirected to inside C1's netns by CAP_NET_ADMIN there, hears nothing"
else
	t_skip "redirect by CAP_NET_ADMIN inside C1's netns: the sidecar on :9999 got $(inet_lines "$LR") connection(s) of the window — a known limit (a window admits into the container's netns; who administers it decides where connections go there: README Security model)"
fi
in_ns "$T_PFX-c1" nft delete table ip sidecar
stop "$PD"; stop "$PR"
wait_elems 0

# ---- cgroup migration between socket() and listen() --------------------------------------
LM=$T_TMP/m.log
: >"$LM"
run_in "$CGO" c1 "$T_TMP/m.out" "$PY" "$TR" migrate "$T_CG2/$CGD" "$LM" 80 60
PM=$PID
wait_for "$T_TMP/m.out" listening 100 || t_fail "the migrating server listens ($(cat "$T_TMP/m.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PM " 50
probe 2 $H 80
t_eq "migrate: a socket made in an undesignated cgroup, listening after its process moved into the designated one, hears nothing" \
	0 "$(inet_lines "$LM")"
t_eq "... no element" 0 "$(cwin_elems)"
stop "$PM"

# ---- SCM_RIGHTS: C2's socket listened on by a designated process in C1 --------------------
LT=$T_TMP/t.log US=$T_TMP/fd.sock
: >"$LT"
run_in "$CGD" c1 "$T_TMP/t.out" "$PY" "$TR" take "$US" "$LT" 60
PT=$PID
run_in "$CGO" c2 "$T_TMP/g.out" "$PY" "$TR" give "$US" 80 60
PG=$PID
wait_for "$T_TMP/t.out" listening 100 || t_fail "the taker listens ($(cat "$T_TMP/t.out" "$T_TMP/g.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PT " 50
probe 2 $H2 80
probe 1 $H 8080
t_eq "passed fd: C2's socket, listened on by a designated process, hears nothing through $H2:80 or $H:8080" \
	0 "$(inet_lines "$LT")"
t_eq "... no element" 0 "$(cwin_elems)"
stop "$PG"; stop "$PT"

# ---- an init-userns namespace of the designated cgroup, not on the bridge ------------------
LU=$T_TMP/u.log
: >"$LU"
sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$CGD" unshare -n -- "$PY" "$TR" serve "$LU" 80 60 0.0.0.0 >"$T_TMP/u.out" 2>&1 &
PU=$!
T_PIDS+=("$PU")
wait_for "$T_TMP/u.out" listening 100 || t_fail "the unshare -n server listens ($(cat "$T_TMP/u.out"))"
t_check "unshare -n: a designated listener in a namespace without a bridge port gets no window" \
	wait_for "$T_DLOG" "container: no window for pid $PU " 50
t_eq "... no element" 0 "$(cwin_elems)"
stop "$PU"

# ---- churn and many listeners ------------------------------------------------------------
run_in "$CGD" c1 "$T_TMP/ch.out" "$PY" "$TR" churn 600 80
PC=$PID
wait_for "$T_TMP/ch.out" done 300 || t_fail "the churn ran ($(cat "$T_TMP/ch.out"))"
run_in "$CGD" c1 "$T_TMP/many.out" "$PY" "$TR" many 300 80 60
PN=$PID
wait_for "$T_TMP/many.out" listening 100 || t_fail "300 listeners ($(cat "$T_TMP/many.out"))"
t_check "many: 300 designated reuseport listeners, one element" wait_elems 1 100
stop "$PN"
t_check "churn + many: every element gone once nothing listens (10 s)" wait_elems 0 100
t_check "churn + many: the daemon still runs" kill -0 "$T_DPID"
: >"$LD"
run_in "$CGD" c1 "$T_TMP/d2.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0
PD=$PID
wait_for "$T_TMP/d2.out" listening 100
opened "$PD" 100
probe 1 $H 80
t_eq "after the churn a designated server still gets its window" 1 "$(inet_lines "$LD")"

# ---- the daemon killed -9 with that window open ------------------------------------------
kill -KILL "$T_DPID"; wait "$T_DPID" 2>/dev/null; T_DPID=
gone() { ! in_host nft list table "$@" >/dev/null 2>&1; }
wait_gone() { local i; for i in $(seq 50); do gone "$@" && return 0; sleep 0.1; done; return 1; }
t_check "kill -9: the inet porthole table goes" wait_gone inet porthole
t_check "kill -9: the bridge porthole table goes" wait_gone bridge porthole
: >"$LD"
probe 2 $H 80
t_eq "kill -9: the Internet to $H:80 reaches nothing (the server still listens)" 0 "$(inet_lines "$LD")"
stop "$PD"
# a sibling that listens while no daemon runs, older than the next one
LB=$T_TMP/b.log LD=$T_TMP/d5.log
: >"$LB"; : >"$LD"
run_in "$CGO" c1 "$T_TMP/b.out" "$PY" "$TR" serve "$LB" 80 60 "$C1" reuseport
PB=$PID
wait_for "$T_TMP/b.out" listening 100 || t_fail "the older sibling listens ($(cat "$T_TMP/b.out"))"
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || t_fail "the daemon starts again after kill -9"
run_in "$CGD" c1 "$T_TMP/d5.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0 reuseport
PD=$PID
wait_for "$T_TMP/d5.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d5.out"))"
wait_for "$T_DLOG" "foreign: listen .*pid=$PD " 50
sleep 0.2 # (no event to wait for when the daemon, rightly, opens nothing)
probe 3 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the older sibling on $C1:80 $(inet_lines "$LB")"
t_eq "restarted: a sibling on $C1:80 older than the daemon hears nothing through a new designated listener's window" \
	0 "$(inet_lines "$LB")"
stop "$PD"; stop "$PB"
t_check "restarted: the daemon stops cleanly" daemon_stop

# ---- a sibling's listener in flight (SCM_RIGHTS) while the daemon starts -----------------
# (it listened before the start, and during the start-up walk it was in no
# fd table, only a unix socket's message queue; received after: no event)
# (and 510 listeners on unwatched ports of C1:1..511 beside it: the census
# reads C1's /proc/net/tcp in many reads, the sibling's line rarely in the
# first: cwin_tricks.py crowd)
LF=$T_TMP/f.log LD=$T_TMP/d6.log GOF=$T_TMP/inflight.go
: >"$LF"; : >"$LD"
run_in "$CGO" c1 "$T_TMP/crowd.out" "$PY" "$TR" crowd 80 60 "$C1"
PC=$PID
wait_for "$T_TMP/crowd.out" "listening 510" 100 || t_fail "510 listeners in C1 ($(cat "$T_TMP/crowd.out"))"
run_in "$CGO" c1 "$T_TMP/f.out" "$PY" "$TR" inflight "$LF" 80 60 "$C1" "$GOF"
PF=$PID
wait_for "$T_TMP/f.out" inflight 100 || t_fail "the sibling's listener in flight ($(cat "$T_TMP/f.out"))"
t_log "C1's /proc/net/tcp: $(wc -c <"/proc/$PC/net/tcp") bytes; the sibling's :80 line at byte $(grep -b ':0050 00000000:0000 0A' "/proc/$PC/net/tcp" | head -1 | cut -d: -f1)"
T_DAEMON_FLAGS=-d daemon_start "${CONF[@]}" || t_fail "the daemon starts with a listener in flight"
touch "$GOF"
wait_for "$T_TMP/f.out" listening 100 || t_fail "the sibling received its listener ($(cat "$T_TMP/f.out"))"
run_in "$CGD" c1 "$T_TMP/d6.out" "$PY" "$TR" serve "$LD" 80 60 0.0.0.0 reuseport
PD=$PID
wait_for "$T_TMP/d6.out" listening 100 || t_fail "the designated server listens ($(cat "$T_TMP/d6.out"))"
t_check "in flight: no window, and the daemon says why (a listener it never saw)" \
	wait_for "$T_DLOG" "container: no window for pid $PD .*1 it never saw" 50
probe 3 $H 80
t_log "through $H:80: the designated server accepted $(inet_lines "$LD"), the sibling's received listener on $C1:80 $(inet_lines "$LF")"
t_eq "in flight: a sibling's listener received after the daemon's start-up walk hears nothing through $H:80" \
	0 "$(inet_lines "$LF")"
t_eq "... no element" 0 "$(cwin_elems)"
stop "$PD"; stop "$PF"; stop "$PC"
t_check "in flight: the daemon stops cleanly" daemon_stop
[ -n "${T_DEBUG:-}" ] && cp "$T_DLOG" /tmp/red/dlog
t_summary
