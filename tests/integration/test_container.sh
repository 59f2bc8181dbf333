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
# Docker 20.10's DNAT for -p 80:80 to C1, -p 8080:80 to C2, -p 8081:80 to
# C1, FORWARD policy drop, a geo-block in DOCKER-USER that drops the blocked
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
# designation hears nothing. The allowed country reaches everything
# throughout. On a daemon that does not act on `published` the window case
# fails.
set -u
source "$(dirname "$0")/../lib.sh"
t_start container lab
command -v iptables >/dev/null || { echo "SKIP $T_NAME: iptables not installed (make deps)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed (util-linux)"; exit 77; }

MARK=0x1000000 MASK=0xff000000 # the default socket_mark
BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2)
HL=$T_ROOT/tests/adversary/httplog.py

docker_rules() {
	in_host iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d $H -p tcp -m tcp --dport 80 -j DNAT --to-destination $C1:80
-A PREROUTING -d $H -p tcp -m tcp --dport 8080 -j DNAT --to-destination $C2:80
-A PREROUTING -d $H -p tcp -m tcp --dport 8081 -j DNAT --to-destination $C1:80
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o $BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o $BR -j DOCKER
-A FORWARD -i $BR ! -o $BR -j ACCEPT
-A DOCKER -d $C1/32 ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -d $C2/32 ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-USER -s $INET/32 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
EOF
}
# static mode: the one host rule, at the top of DOCKER-USER and of input, as
# an admin writes it (without porthole's tag, which the daemon sweeps at start)
host_rules() {
	in_host iptables -I DOCKER-USER -p tcp -m tcp --dport 80 -m mark --mark $MARK/$MASK -j ACCEPT &&
		in_host nft insert rule inet filter input meta l4proto tcp tcp dport 80 meta mark \& $MASK == $MARK counter accept
}
t_setup "containers" nslab_containers 2
t_setup "Docker-shaped rules" docker_rules
t_setup "the host rules (static mode)" host_rules

# the designated cgroup and an undesignated one
CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
T_DAEMON_FLAGS=-d daemon_start "ports = 80" "chains = none" "designate = cgroup /$CGD published ports=80" \
	|| { t_fail "daemon start"; t_summary; exit 1; }
AUD=$T_TMP/audit.jsonl

LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log LOGH=$T_TMP/hostproc.log
: >"$LOG1"; : >"$LOG2"; : >"$LOGH"
# serve_in CG NS LOG NAME OUT: httplog's server on 0.0.0.0:80 in namespace
# NS, inside cgroup CG; SPID: its pid
serve_in() {
	nsenter --net=/run/netns/"$T_PFX-$2" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$1" \
		"$PY" "$HL" serve "$3" "$4" 80 900 0.0.0.0 >"$5" 2>&1 &
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
	out=$(get "$2" "$3" "$4" /probe 3)
	if new_from "$5" "$m" "$peer" | grep -q "/probe"; then t_pass "$1"; else t_fail "$1 (the client saw: $out)"; fi
}
dropped() { # NAME ADDR PORT LOG...
	local name=$1 addr=$2 port=$3 l out got=""
	shift 3
	declare -A m
	for l in "$@"; do m[$l]=$(lines "$l"); done
	out=$(get inet "$addr" "$port" /attack 1)
	sleep 0.2
	for l in "$@"; do got+=$(new_from "$l" "${m[$l]}" "$INET"); done
	if [ -z "$got" ]; then t_pass "$name"; else t_fail "$name: logged: $(head -2 <<<"$got" | tr '\n' '|') (the attacker saw: $out)"; fi
}
ALL="$LOG1 $LOG2 $LOGH"
cwin_elems() { in_host nft -j list set inet porthole cwin 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }

# C2 (published on $H:8080) and a host process on $H2:80, outside the designation
serve_in "$CGO" c2 "$LOG2" c2 "$T_TMP/c2.out" || { t_fail "C2's server"; t_summary; exit 1; }
bg_host "$T_TMP/hp.out" "$T_TMP/hp.err" "$PY" "$HL" serve "$LOGH" hostproc 80 900 $H2
wait_for "$T_TMP/hp.out" listening 100 || { t_fail "the host process started"; t_summary; exit 1; }
for a in $C1 $C2; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

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
t_check "the daemon opens a container window for it" wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1" 30
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
ph status >"$T_TMP/status.txt" 2>&1
t_log "$(cat "$T_TMP/status.txt")"
t_check "porthole status lists the container window" grep -q "container .*(cgroup /$CGD) through DNAT to $C1:80" "$T_TMP/status.txt"
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
t_check "its close closes the window" wait_for "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $P1" 30
t_eq "no cwin element left" 0 "$(cwin_elems)"
t_check "window-close audited: kind container, reason listener-closed" "$PY" - "$AUD" "$P1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [r for r in recs if r["event"] == "window-close" and r.get("kind") == "container"
               and r["pid"] == int(sys.argv[2]) and r["reason"] == "listener-closed"] else 1)
PY
serve_in "$CGO" c1 "$LOG1" c1 "$T_TMP/c1c.out" || t_fail "C1's server again (undesignated)"
P=$SPID
dropped "closed: the Internet to $H:80 reaches nothing (a new server on C1:80 outside the designation)" $H 80 $ALL
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
t_check "at its deadline it closes" wait_for "$T_DLOG" "container: window [0-9]* closed (deadline): tcp/80 of pid $P1" 60
t_eq "no cwin element left" 0 "$(cwin_elems)"
dropped "deadline: the Internet to $H:80 reaches nothing (C1's server still listening)" $H 80 $ALL
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
