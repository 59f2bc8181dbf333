#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `porthole run --container docker:NAME -- CMD` with the real daemon (issue
# 23; daemon/container_run.c): for the life of CMD, the container Docker's
# state names NAME gets a container window exactly as a `designate =
# container docker:NAME` line would give it -- judged by what the servers in
# the containers' namespaces logged (tests/adversary/httplog.py). The lab
# is test_container.sh's (bare network namespaces behind the lab host's
# bridge, Docker 20.10's rules written by hand: -p $H:80:80 to C1, -p
# $H:8080:80 to C2, -p $H:8081:80 to C1, the geo-block in DOCKER-USER); the
# "engine" is Docker's state as dockerd writes it, made by the test in a
# root-owned docker_root: containers/ID/config.v2.json naming the container,
# running, with a pid in its cgroup (/$T_PFX-dk/ID, the cgroupfs driver's
# shape). The containers are started by the test, not by CMD (dockerd's
# shim starts a container, never `docker run`): CMD is a shell waiting on a
# fifo, as `docker run` waits for its container.
#
# 1. A member of socket_group: refused by the CLI (exit 79, one line, CMD
#    not run) and by the daemon itself for a caller that is root only in its
#    own user namespace (exit 79).
# 2. A daemon without a published line: refused, why said (exit 77).
# 3. With one (an empty cgroup's): before the session, certbot's listener
#    gets nothing; under `porthole run --container docker:certbot`, C1
#    (certbot) listening opens a window: the Internet reaches C1 through
#    $H:80, not C2 (named web, listening too: nothing, said) through $H:8080,
#    not C1 through 8081, C1 directly or a host process; a second session
#    for the same name is refused (77); audit: kind container, designation
#    docker:certbot, config_line 0. CMD exits (its status is porthole's): the
#    window closes while C1 still listens, nothing is left, the Internet
#    reaches nothing; C1 listening again gets nothing.
set -u
source "$(dirname "$0")/../lib.sh"
t_start container_run lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done

BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py
. "$T_ROOT/tests/lab/docker_rules.sh"
t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128

# until_ok TENTHS CMD...: CMD succeeds within TENTHS tenths of a second (tests/lab/engines.sh's)
until_ok() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

# ---- the fake engine: Docker's state and the containers' cgroups --------------------------
chmod 755 "$T_TMP"
DR=$T_TMP/docker
mkdir -p "$DR/containers" && chmod 755 "$DR" "$DR/containers" # (root's, written by nobody else: trusted)
PARENT=$T_PFX-dk CGNONE=$T_PFX-none
mkdir -p "$T_CG2/$PARENT" "$T_CG2/$CGNONE" && T_CGROUPS+=("$T_CG2/$CGNONE" "$T_CG2/$PARENT")
ID1=$(printf 'c1%062d' 0 | tr 0 a) ID2=$(printf 'c2%062d' 0 | tr 0 b)
# container NAME ID NS: its cgroup, its "init" there (in its netns), and the
# state dockerd writes for it; IPID: the init's pid
container() {
	mkdir -p "$T_CG2/$PARENT/$2" && T_CGROUPS+=("$T_CG2/$PARENT/$2")
	nsenter --net=/run/netns/"$T_PFX-$3" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$2" sleep 900 &
	IPID=$!
	T_PIDS+=("$IPID")
	until_ok 50 grep -qs "$PARENT/$2" "/proc/$IPID/cgroup" || { echo "container $1: its init not in its cgroup"; return 1; }
	mkdir -p "$DR/containers/$2"
	printf '{"ID":"%s","Name":"/%s","State":{"Running":true,"Paused":false,"Pid":%s}}\n' "$2" "$1" "$IPID" \
		>"$DR/containers/$2/config.v2.json"
}
t_setup "container certbot (C1)" container certbot "$ID1" c1
t_setup "container web (C2)" container web "$ID2" c2

LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log LOGH=$T_TMP/hostproc.log
: >"$LOG1"; : >"$LOG2"; : >"$LOGH"
# serve ID NS LOG NAME OUT: httplog's server on 0.0.0.0:80 and [::]:80 in
# the container's netns and cgroup (the engine starts it: not CMD's); SPID
serve() {
	nsenter --net=/run/netns/"$T_PFX-$2" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$1" \
		"$PY" "$HL" serve "$3" "$4" 80 900 0.0.0.0 :: >"$5" 2>&1 &
	SPID=$!
	T_PIDS+=("$SPID")
	wait_for "$5" listening 100 || { echo "server $4 did not start: $(cat "$5")"; return 1; }
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
lines() { wc -l <"$1"; }
get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-1.5}"; }
reached() { # NAME FROM ADDR PORT LOG
	local m out peer=$INET
	m=$(lines "$5")
	[ "$2" = allow ] && peer=$ALLOW
	[[ $3 == *:* ]] && { peer=$INET6; [ "$2" = allow ] && peer=$ALLOW6; }
	out=$(get "$2" "$3" "$4" /probe 3)
	if tail -n +$((m + 1)) "$5" | grep " $peer " | grep -q "/probe"; then t_pass "$1"; else t_fail "$1 (the client saw: $out)"; fi
}
ALL="$LOG1 $LOG2 $LOGH"
# dropped_all PHASE "ADDR PORT WHAT"...: the Internet's GETs at once, each
# with a path of its own; PASS when no server logged it (test_container.sh's)
dropped_all() {
	local phase=$1 i=0 t a p w l new pids=()
	shift
	declare -A m
	for l in $ALL; do m[$l]=$(lines "$l"); done
	for t in "$@"; do
		read -r a p w <<<"$t"
		get inet "$a" "$p" "/attack-$i" 1 >"$T_TMP/attack-$i.out" 2>&1 &
		pids+=("$!")
		i=$((i + 1))
	done
	wait "${pids[@]}"
	sleep 0.2 # (a server writes a request line within its read's second: one that came is there)
	new=$(for l in $ALL; do tail -n +$((m[$l] + 1)) "$l"; done | grep -F -e " $INET " -e " $INET6 ")
	i=0
	for t in "$@"; do
		read -r a p w <<<"$t"
		if grep -q "/attack-$i \|^accept" <<<"$new"; then
			t_fail "$phase: the Internet to $a:$p ($w) reaches nothing: logged: $(head -2 <<<"$new" | tr '\n' '|')"
		else
			t_pass "$phase: the Internet to $a:$p ($w) reaches nothing"
		fi
		i=$((i + 1))
	done
}
cwin_elems() { in_host nft -j list set inet porthole "${1:-cwin}" 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }
NEG=("$H 8080 C2, named web" "$H 8081 C1 by a port not the session's" "$C1 80 C1 routed to directly"
	"$H2 80 the host process" "$H6 8080 C2, named web")

bg_host "$T_TMP/hp.out" "$T_TMP/hp.err" "$PY" "$HL" serve "$LOGH" hostproc 80 900 $H2 $H62
wait_for "$T_TMP/hp.out" listening 100 || { t_fail "the host process started"; t_summary; exit 1; }
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done
# as_member CMD...: as nobody, a member of the socket's group
as_member() { setpriv --reuid=65534 --regid=65534 --groups="$T_GID" env PORTHOLE_SOCKET="$T_SOCK" "$@"; }

# ==== 2. no published line: refused ============================================================
T_DAEMON_FLAGS=-d daemon_start "ports = 80, 8080" "docker_root = $DR" || { t_fail "daemon start"; t_summary; exit 1; }
T_GID=$(stat -c %g "$T_SOCK")
ph run --container docker:certbot -- touch "$T_TMP/ran-nopub" >"$T_TMP/nopub.out" 2>&1
rc=$?
t_eq "no published line: run --container refused (exit 77)" 77 "$rc"
t_check "... why said, on one line: no published mapping is possible ($(head -c 160 "$T_TMP/nopub.out"))" \
	eval 'grep -q "no published mapping is possible" "$T_TMP/nopub.out" && [ "$(wc -l <"$T_TMP/nopub.out")" = 1 ]'
t_check "... CMD was not run" test ! -e "$T_TMP/ran-nopub"
daemon_stop

# ==== 1 and 3. a published line (an empty cgroup's) ==============================================
T_DAEMON_FLAGS=-d daemon_start "ports = 80, 8080" "docker_root = $DR" "designate = cgroup /$CGNONE published" \
	|| { t_fail "daemon start"; t_summary; exit 1; }
T_GID=$(stat -c %g "$T_SOCK")
as_member "$PORTHOLE_BIN/porthole" run --container docker:certbot -- touch "$T_TMP/ran-member" >"$T_TMP/member.out" 2>&1
rc=$?
t_eq "a member of socket_group: run --container refused by the CLI (exit 79)" 79 "$rc"
t_check "... one line, root's only ($(head -c 160 "$T_TMP/member.out"))" \
	eval 'grep -q "root.s only" "$T_TMP/member.out" && [ "$(wc -l <"$T_TMP/member.out")" = 1 ]'
if unshare -Ur true 2>/dev/null; then
	as_member unshare -Ur "$PORTHOLE_BIN/porthole" run --container docker:certbot -- touch "$T_TMP/ran-member" \
		>"$T_TMP/member2.out" 2>&1
	rc=$?
	t_eq "... root only in its own user namespace: refused by the daemon (exit 79)" 79 "$rc"
	t_check "... the daemon's words ($(head -c 160 "$T_TMP/member2.out"))" grep -q -- "--container: root only" "$T_TMP/member2.out"
	t_check "... audited as a refusal" grep -q '"event":"refused".*root only' "$T_TMP/audit.jsonl"
else
	t_skip "unshare -Ur: no user namespace here"
fi
t_check "... CMD was not run" test ! -e "$T_TMP/ran-member"
ph run --container docker:-x -- true >"$T_TMP/bad.out" 2>&1
rc=$?
t_eq "a name against Docker's rule: exit 64 ($(head -c 120 "$T_TMP/bad.out"))" 64 "$rc"

# before the session: certbot's listener gets nothing
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1a.out" || t_fail "C1's server (before)"
P=$SPID
t_check "before the session: certbot's listener is ignored (no designation names it)" \
	wait_for "$T_DLOG" "container: listener pid $P .* ignored: cgroup /$PARENT/$ID1 is in no published" 30
dropped_all "before" "$H 80 C1, certbot, no session"
stop "$P"

# the session: CMD waits on a fifo as `docker run` waits for its container
FIFO=$T_TMP/cmd.fifo
mkfifo "$FIFO"
bg_run "$T_TMP/run.out" "$T_TMP/run.err" run --container docker:certbot -- sh -c "read x <'$FIFO'; exit 7"
RPID=$BG_PID
t_check "run --container docker:certbot: the session designates it" \
	wait_for "$T_DLOG" "session [0-9]* designates container docker:certbot until its command exits" 30
ph run --container docker:certbot -- true >"$T_TMP/dup.out" 2>&1
t_eq "a second session for docker:certbot: refused (exit 77)" 77 $?
t_check "... said ($(head -c 160 "$T_TMP/dup.out"))" grep -q "designates docker:certbot already" "$T_TMP/dup.out"
serve "$ID2" c2 "$LOG2" c2 "$T_TMP/c2.out" || t_fail "C2's server (web)"
P2=$SPID
t_check "C2, named web: no window, why said (its name)" \
	wait_for "$T_DLOG" "container: listener pid $P2 .*container docker:certbot (session [0-9]*): .*web" 30
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1b.out" || t_fail "C1's server (session)"
P1=$SPID
t_check "C1, named certbot: a window for each of its listeners" \
	wait_count "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1 in cgroup /$PARENT/$ID1 (config line 0)" 2 30
reached "session: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
reached "session, IPv6: the Internet reaches C1 through [$H6]:80" inet $H6 80 "$LOG1"
dropped_all "session" "${NEG[@]}"
reached "session: the allowed country reaches C2 through $H:8080" allow $H 8080 "$LOG2"
t_check "window-open audited: kind container, designation container docker:certbot, config_line 0" \
	"$PY" - "$T_TMP/audit.jsonl" "$P1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["event"] == "window-open" and r.get("kind") == "container" and r["pid"] == int(sys.argv[2])
      and r["designation"] == {"type": "container", "value": "docker:certbot", "config_line": 0}]
sys.exit(0 if ok else 1)
PY
ph status >"$T_TMP/status.txt" 2>&1
t_check "porthole status lists it" grep -q "container .*through DNAT to $C1:80" "$T_TMP/status.txt"

# CMD exits: the windows close, C1 still listening
timeout 5 sh -c "echo go >'$FIFO'" # (no reader: CMD never ran)
wait "$RPID"
rc=$?
t_eq "porthole run returns CMD's status" 7 "$rc"
t_check "CMD's exit closes both windows (C1 still listens)" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (exited): .*: the command of session [0-9]* (run --container docker:certbot) exited" 2 30
t_eq "no cwin or cwin6 element left" 00 "$(cwin_elems)$(cwin_elems cwin6)"
t_check "C1 still listens" kill -0 "$P1"
dropped_all "after CMD" "$H 80 C1, certbot, session over" "$H6 80 the same"
reached "after CMD: the allowed country reaches C1" allow $H 80 "$LOG1"
stop "$P1"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1c.out" || t_fail "C1's server again"
P=$SPID
t_check "C1 listening again after the session: ignored" \
	wait_for "$T_DLOG" "container: listener pid $P .* ignored: cgroup /$PARENT/$ID1 is in no published" 30
stop "$P"
stop "$P2"
t_check "daemon still running" kill -0 "$T_DPID"
daemon_stop
t_eq "daemon exits 0" 0 $?
[ "$T_FAIL" = 0 ] || grep -E 'container|session' "$T_DLOG" | tail -25 | sed 's/^/  /'
t_summary
