#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container windows with the real daemon (issue 23, step 4, the daemon half;
# docs/design/containers.md): `designate = cgroup /X published ports=80`
# gives a listener in a container's network namespace, inside cgroup /X,
# a window through the host's DNAT while it listens -- judged by what the
# servers in the containers' namespaces (and a host process) logged
# (tests/adversary/httplog.py).
#
# The host is Docker-shaped as in tests/adversary/test_cwin.sh (iptables-nft,
# IPv4 and IPv6, Docker 20.10's DNAT for -p 80:80 to C1, -p 8080:80 to C2,
# -p 8081:80 to C1, FORWARD policy drop, a geo-block in DOCKER-USER that drops the blocked
# country, the lab's "inet"). chains = none (static mode): the test puts the
# one host rule at the top of DOCKER-USER and of the input chain itself.
#
# Checked, from the blocked country: nothing while C1's server runs in an
# undesignated cgroup, nor for a designated listener in an `unshare -Urn`
# namespace (refused, said); with C1's server in the designated cgroup,
# $H:80 reaches it, while C2's published port, C1 by another published port
# (8081), C1 routed to directly and a host process on $H2:80 reach nothing;
# `porthole status` lists the window, kind container; when C1's server
# closes the window closes (audited) and a new server on C1:80 outside the
# designation hears nothing; with max_window=3 the window closes at its
# deadline while the server still listens; a window open when the daemon
# stops is closed (shutdown). The allowed country reaches everything
# throughout (each server listens on 0.0.0.0 and [::] v6only: a window
# each). On a daemon that does not act on `published` the window case
# fails.
set -u
source "$(dirname "$0")/../lib.sh"
t_start container lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed (util-linux)"; exit 77; }

MARK=0x1000000 MASK=0xff000000 # the default socket_mark
BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py

# docker_rules IPT HOST C1 C2 BLOCKED PREFIXLEN (as test_cwin.sh's)
docker_rules() {
	local ipt=$1 h=$2 c1=$3 c2=$4 blocked=$5 d1=$3 d2=$4
	[ "$ipt" = ip6tables ] && d1=[$3] d2=[$4]
	in_host "$ipt"-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d $h -p tcp -m tcp --dport 80 -j DNAT --to-destination $d1:80
-A PREROUTING -d $h -p tcp -m tcp --dport 8080 -j DNAT --to-destination $d2:80
-A PREROUTING -d $h -p tcp -m tcp --dport 8081 -j DNAT --to-destination $d1:80
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o $BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o $BR -j DOCKER
-A FORWARD -i $BR ! -o $BR -j ACCEPT
-A DOCKER -d $c1/$6 ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -d $c2/$6 ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-USER -s $blocked -j DROP
-A DOCKER-USER -j RETURN
COMMIT
EOF
}
# static mode: the one host rule, at the top of DOCKER-USER and of input, as
# an admin writes it (without porthole's tag, which the daemon sweeps at start)
host_rules() {
	in_host iptables -I DOCKER-USER -p tcp -m tcp --dport 80 -m mark --mark $MARK/$MASK -j ACCEPT &&
		in_host ip6tables -I DOCKER-USER -p tcp -m tcp --dport 80 -m mark --mark $MARK/$MASK -j ACCEPT &&
		in_host nft insert rule inet filter input meta l4proto tcp tcp dport 80 meta mark \& $MASK == $MARK counter accept
}
t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128
t_setup "the host rules (static mode)" host_rules

# the designated cgroup and an undesignated one
CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
T_DAEMON_FLAGS=-d daemon_start "ports = 80" "chains = none" "designate = cgroup /$CGD published ports=80" \
	|| { t_fail "daemon start"; t_summary; exit 1; }
AUD=$T_TMP/audit.jsonl

LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log LOGH=$T_TMP/hostproc.log
: >"$LOG1"; : >"$LOG2"; : >"$LOGH"
# serve_in CG NS LOG NAME OUT: httplog's server on 0.0.0.0:80 and [::]:80
# (v6only: two listeners) in namespace NS, inside cgroup CG; SPID: its pid
serve_in() {
	nsenter --net=/run/netns/"$T_PFX-$2" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$1" \
		"$PY" "$HL" serve "$3" "$4" 80 900 0.0.0.0 :: >"$5" 2>&1 &
	SPID=$!
	T_PIDS+=("$SPID")
	wait_for "$5" listening 100 || { echo "server $4 did not start: $(cat "$5")"; return 1; }
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---- judging (as test_cwin.sh) ----------------------------------------------------------
lines() { wc -l <"$1"; }
new_from() { tail -n +$(($2 + 1)) "$1" | grep " $3 "; }
get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-1.5}"; }
reached() { # NAME FROM ADDR PORT LOG
	local m out peer=$INET
	m=$(lines "$5")
	[ "$2" = allow ] && peer=$ALLOW
	[[ $3 == *:* ]] && { peer=$INET6; [ "$2" = allow ] && peer=$ALLOW6; }
	out=$(get "$2" "$3" "$4" /probe 3)
	if new_from "$5" "$m" "$peer" | grep -q "/probe"; then t_pass "$1"; else t_fail "$1 (the client saw: $out)"; fi
}
dropped() { # NAME ADDR PORT LOG...
	local name=$1 addr=$2 port=$3 l out got="" peer=$INET
	shift 3
	[[ $addr == *:* ]] && peer=$INET6
	declare -A m
	for l in "$@"; do m[$l]=$(lines "$l"); done
	out=$(get inet "$addr" "$port" /attack 1)
	sleep 0.2
	for l in "$@"; do got+=$(new_from "$l" "${m[$l]}" "$peer"); done
	if [ -z "$got" ]; then t_pass "$name"; else t_fail "$name: logged: $(head -2 <<<"$got" | tr '\n' '|') (the attacker saw: $out)"; fi
}
ALL="$LOG1 $LOG2 $LOGH"
cwin_elems() { in_host nft -j list set inet porthole "${1:-cwin}" 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }

# C2 (published on $H:8080) and a host process on $H2:80, outside the designation
serve_in "$CGO" c2 "$LOG2" c2 "$T_TMP/c2.out" || { t_fail "C2's server"; t_summary; exit 1; }
bg_host "$T_TMP/hp.out" "$T_TMP/hp.err" "$PY" "$HL" serve "$LOGH" hostproc 80 900 $H2 $H62
wait_for "$T_TMP/hp.out" listening 100 || { t_fail "the host process started"; t_summary; exit 1; }
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

in_host nft list table inet porthole >"$T_TMP/table.txt" 2>&1
t_check "porthole's table has the container objects (published)" grep -q 'set cwin {' "$T_TMP/table.txt"
t_check "... and its bridge table the pin" bash -c "nsenter --net=/run/netns/$T_PFX-host nft list table bridge porthole | grep -q 'set cwpin {'"

# ---- C1's server in an undesignated cgroup: no window ------------------------------------
serve_in "$CGO" c1 "$LOG1" c1 "$T_TMP/c1a.out" || t_fail "C1's server (undesignated)"
P=$SPID
wait_for "$T_DLOG" "container: listener pid $P .* ignored: cgroup /$CGO is in no published designation" 30
t_check "a listener in an undesignated cgroup is ignored (debug line)" \
	grep -q "container: listener pid $P .* ignored: cgroup /$CGO is in no published" "$T_DLOG"
reached "undesignated: the allowed country reaches C1 through $H:80" allow $H 80 "$LOG1"
dropped "undesignated: the Internet to $H:80 reaches nothing" $H 80 $ALL
dropped "undesignated: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
stop "$P"

# ---- a designated listener in an unshare -Urn namespace: refused -------------------------
UOUT=$T_TMP/userns.out
sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$CGD" unshare -Urn -- "$PY" "$HL" serve /dev/null userns 80 900 0.0.0.0 \
	>"$UOUT" 2>&1 &
UPID=$!
T_PIDS+=("$UPID")
if wait_for "$UOUT" listening 100; then
	t_check "a designated listener in an unshare -Urn namespace: no window, said" \
		wait_for "$T_DLOG" "container: no window for pid $UPID .*owned by another user namespace" 30
	t_eq "... no element" 0 "$(cwin_elems)"
	stop "$UPID"
else
	t_skip "unshare -Urn: no user namespace here ($(tr "\n" " " <"$UOUT" | tail -c 300))"
fi

# ---- C1's server in the designated cgroup: the window ------------------------------------
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1b.out" || t_fail "C1's server (designated)"
P1=$SPID
t_check "the daemon opens a container window for each of its listeners (0.0.0.0, [::] v6only)" \
	wait_count "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1" 2 30
grep "container: window .* opened" "$T_DLOG" | tail -1 | sed 's/^/  /'
reached "window: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
if [ -n "${T_DEBUG:-}" ]; then in_host nft list ruleset; in_host iptables -t filter -L -v -n; fi
dropped "window: the Internet to $H:8080 (C2's published port) reaches nothing" $H 8080 $ALL
dropped "window: the Internet to $H:8081 (C1:80 by an undesignated published port) reaches nothing" $H 8081 $ALL
dropped "window: the Internet routed directly to C1 $C1:80 (no DNAT) reaches nothing" $C1 80 $ALL
dropped "window: the Internet to the host process on $H2:80 reaches nothing" $H2 80 $ALL
reached "window: the allowed country reaches C2 through $H:8080" allow $H 8080 "$LOG2"
reached "window: the allowed country reaches the host process on $H2:80" allow $H2 80 "$LOGH"
t_eq "one cwin element: (bridge, C1, 80, 80)" 1 "$(cwin_elems)"
t_eq "one cwin6 element: (bridge, C1's IPv6 address, 80, 80)" 1 "$(cwin_elems cwin6)"
reached "window, IPv6: the Internet reaches C1 through [$H6]:80" inet $H6 80 "$LOG1"
dropped "window, IPv6: the Internet to [$H6]:8080 (C2's published port) reaches nothing" $H6 8080 $ALL
dropped "window, IPv6: the Internet to [$H6]:8081 (C1:80 by an undesignated published port) reaches nothing" $H6 8081 $ALL
dropped "window, IPv6: the Internet routed directly to C1 [$C61]:80 (no DNAT) reaches nothing" $C61 80 $ALL
dropped "window, IPv6: the Internet to the host process on [$H62]:80 reaches nothing" $H62 80 $ALL
reached "window, IPv6: the allowed country reaches C2 through [$H6]:8080" allow $H6 8080 "$LOG2"
ph status >"$T_TMP/status.txt" 2>&1
t_log "$(cat "$T_TMP/status.txt")"
t_check "porthole status lists the container window" grep -q "container .*(cgroup /$CGD) through DNAT to $C1:80" "$T_TMP/status.txt"
t_check "... both: the IPv6 listener's too" grep -q "container .*(cgroup /$CGD) through DNAT to \\[$C61\\]:80" "$T_TMP/status.txt"
ph status --json >"$T_TMP/status.json" 2>&1
t_check "... and --json says kind container" grep -q '"kind": *"container"' "$T_TMP/status.json"
t_check "window-open audited: kind container, target, netns, cgroup, listener" "$PY" - "$AUD" "$P1" "$C1" "/$CGD" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["event"] == "window-open" and r.get("kind") == "container" and r["pid"] == int(sys.argv[2])
      and r["targets"][0]["addr"] == sys.argv[3] and r["cgroup"] == sys.argv[4] and r["netns"] > 0
      and r["container_port"] == 80 and r["ports"] == [80] and r["exe"] and r["designation"]["type"] == "cgroup"]
sys.exit(0 if ok else 1)
PY

# ---- the listener closes: the window closes ----------------------------------------------
stop "$P1"
t_check "its close closes both windows" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $P1" 2 30
t_eq "no cwin or cwin6 element left" 00 "$(cwin_elems)$(cwin_elems cwin6)"
t_check "window-close audited: kind container, reason listener-closed" "$PY" - "$AUD" "$P1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [r for r in recs if r["event"] == "window-close" and r.get("kind") == "container"
               and r["pid"] == int(sys.argv[2]) and r["reason"] == "listener-closed"] else 1)
PY
serve_in "$CGO" c1 "$LOG1" c1 "$T_TMP/c1c.out" || t_fail "C1's server again (undesignated)"
P=$SPID
dropped "closed: the Internet to $H:80 reaches nothing (a new server on C1:80 outside the designation)" $H 80 $ALL
dropped "closed, IPv6: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
reached "closed: the allowed country reaches it" allow $H 80 "$LOG1"
stop "$P"

t_check "daemon still running" kill -0 "$T_DPID"
daemon_stop
t_eq "daemon exits 0" 0 $?
t_check "porthole's bridge table went with the daemon" \
	bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table bridge porthole >/dev/null 2>&1"

# ---- the deadline: the server still listens, the window is over ---------------------------
T_DAEMON_FLAGS=-d daemon_start "ports = 80" "chains = none" "designate = cgroup /$CGD published ports=80 max_window=3" \
	|| { t_fail "daemon start (max_window=3)"; t_summary; exit 1; }
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1d.out" || t_fail "C1's server (designated, 3 s)"
P1=$SPID
t_check "a window for 3 s opens" wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1 .* for 3 s" 30
reached "3 s window: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
t_check "at its deadline it closes (both listeners')" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (deadline): tcp/80 of pid $P1" 2 60
t_eq "no cwin or cwin6 element left" 00 "$(cwin_elems)$(cwin_elems cwin6)"
dropped "deadline: the Internet to $H:80 reaches nothing (C1's server still listening)" $H 80 $ALL
dropped "deadline, IPv6: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
reached "deadline: the allowed country reaches C1" allow $H 80 "$LOG1"
stop "$P1"
# a window open when the daemon stops: closed (shutdown), audited
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1e.out" || t_fail "C1's server (designated, at shutdown)"
P1=$SPID
t_check "a window opens" wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1" 30
daemon_stop
t_eq "daemon exits 0 with a container window open" 0 $?
t_check "window-close audited with reason shutdown" grep -q '"event":"window-close".*"reason":"shutdown".*"kind":"container"\|"event":"window-close".*"kind":"container".*"reason":"shutdown"' "$AUD"
dropped "stopped: the Internet to $H:80 reaches nothing" $H 80 $ALL
stop "$P1"
t_summary
