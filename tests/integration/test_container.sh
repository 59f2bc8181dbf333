#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container windows with the real daemon (issue 23, step 4, the daemon half;
# docs/design/containers.md): `designate = cgroup /X published ports=80`
# gives a listener in a container's network namespace, inside cgroup /X,
# a window through the host's DNAT while it listens -- judged by what the
# servers in the containers' namespaces (and a host process) logged
# (tests/adversary/httplog.py). One lab for every case.
#
# The host is Docker-shaped as in tests/adversary/test_cwin.sh (iptables-nft,
# IPv4 and IPv6, Docker 20.10's DNAT for -p 80:80 to C1, -p 8080:80 to C2,
# -p 8081:80 to C1, FORWARD policy drop, a geo-block in DOCKER-USER that drops the blocked
# country, the lab's "inet"), later netavark-shaped (the geo-block at the top
# of ip filter FORWARD, no DOCKER-USER).
#
# 1. chains = none (static mode): the rules `porthole check` prints (the
#    DOCKER-USER commands, the nftables input rule), pasted as printed,
#    stay through the daemon's start-up sweep. From the blocked country:
#    nothing while C1's server runs in an undesignated cgroup, nor for a
#    designated listener in an `unshare -Urn` namespace (refused, said);
#    with C1's server in the designated cgroup, $H:80 reaches it, while
#    C2's published port, C1 by another published port (8081), C1 routed to
#    directly and a host process on $H2:80 reach nothing; `porthole status`
#    lists the window, kind container; when C1's server closes the window
#    closes (audited) and a new server on C1:80 outside the designation
#    hears nothing.
# 2. chains = auto (the default), the pasted rules gone: the daemon puts
#    its one rule at the top of DOCKER-USER (IPv4 and IPv6) when the window
#    opens, FORWARD gets none; the same reach and negatives; the rule
#    lingers (host_rule_linger = 2) after the window closes, then goes.
# 3. netavark-shaped, the same daemon: its rule goes to the top of
#    FORWARD; the same reach and negatives.
# 4. A listener older than the daemon (C1 listening before portholed
#    starts) gets its window at start; with max_window=3 it closes at its
#    deadline while the server still listens. With a 3-bit socket_mark and a
#    published line, `porthole run` sessions never get CW or the two server
#    marks (the third session finds no free mark). A window open when the
#    daemon stops is closed (shutdown).
# The allowed country reaches everything throughout (each server listens
# on 0.0.0.0 and [::] v6only: a window each). Probes of one phase run at
# once, each with a path of its own, judged by the servers' logs.
set -u
source "$(dirname "$0")/../lib.sh"
t_start container lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed (util-linux)"; exit 77; }

BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py

. "$T_ROOT/tests/lab/docker_rules.sh" # docker_rules, netavark_rules
t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128

# the designated cgroup and an undesignated one
CGD=$T_PFX-acme CGO=$T_PFX-other
mkdir -p "$T_CG2/$CGD" "$T_CG2/$CGO" && T_CGROUPS+=("$T_CG2/$CGD" "$T_CG2/$CGO")
PUB="designate = cgroup /$CGD published ports=80"
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
ALL="$LOG1 $LOG2 $LOGH"
# dropped_all PHASE "ADDR PORT WHAT"...: the Internet's GETs to each ADDR:PORT
# at once, each with a path of its own (/attack-N). Each PASSes when no
# server logged its path; all FAIL when a server logged a connection from
# the Internet without its request line (whose it was cannot be told).
dropped_all() {
	local phase=$1 i=0 t a p w l new lost pids=()
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
	lost=$(awk '$1 == "accept" { a[$2 " " $3] = 1 } $1 == "request" { r[$2 " " $3] = 1 }
		END { for (k in a) if (!(k in r)) print k }' <<<"$new" | tr '\n' ' ')
	i=0
	for t in "$@"; do
		read -r a p w <<<"$t"
		[[ $a == *:* ]] && a="[$a]"
		if grep -q "/attack-$i " <<<"$new"; then
			t_fail "$phase: the Internet to $a:$p ($w) reaches nothing: logged: $(grep "/attack-$i " <<<"$new" | head -1) (the attacker saw: $(cat "$T_TMP/attack-$i.out"))"
		elif [ -n "$lost" ]; then
			t_fail "$phase: the Internet to $a:$p ($w) reaches nothing: a connection from the Internet was accepted: $lost"
		else
			t_pass "$phase: the Internet to $a:$p ($w) reaches nothing"
		fi
		i=$((i + 1))
	done
}
# the negatives of an open window on C1:80
NEG=("$H 8080 C2's published port" "$H 8081 C1:80 by an undesignated published port"
	"$C1 80 C1 routed to directly, no DNAT" "$H2 80 the host process"
	"$H6 8080 C2's published port" "$H6 8081 C1:80 by an undesignated published port"
	"$C61 80 C1 routed to directly, no DNAT" "$H62 80 the host process")
cwin_elems() { in_host nft -j list set inet porthole "${1:-cwin}" 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }
# the rules tagged as porthole's in an iptables-nft chain; its first rule
ours_in() { in_host "$1" -S "$2" | grep -c -- '--comment porthole '; }
first_is_ours() { in_host "$1" -S "$2" | grep -v '^-[NP] ' | head -1 | grep -q -- '--comment porthole '; }
# wait_ours IPT CHAIN N: until CHAIN holds N of porthole's rules (5 s)
wait_ours() { local i; for i in $(seq 50); do [ "$(ours_in "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done; return 1; }

# C2 (published on $H:8080) and a host process on $H2:80, outside the designation
serve_in "$CGO" c2 "$LOG2" c2 "$T_TMP/c2.out" || { t_fail "C2's server"; t_summary; exit 1; }
bg_host "$T_TMP/hp.out" "$T_TMP/hp.err" "$PY" "$HL" serve "$LOGH" hostproc 80 900 $H2 $H62
wait_for "$T_TMP/hp.out" listening 100 || { t_fail "the host process started"; t_summary; exit 1; }
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

# ==== 1. static mode: the rules porthole check prints, pasted ===============================
printf 'socket = %s\nchains = none\nports = 80\n%s\n' "$T_TMP/none.sock" "$PUB" >"$T_TMP/static.conf"
in_host "$PORTHOLE_BIN/porthole" check --config "$T_TMP/static.conf" >"$T_TMP/check.txt" 2>&1
DU4=$(grep -o 'iptables -I DOCKER-USER [^;]* -j ACCEPT' "$T_TMP/check.txt" | grep -v '^ip6' | head -1)
DU6=$(grep -o 'ip6tables -I DOCKER-USER [^;]* -j ACCEPT' "$T_TMP/check.txt" | head -1)
NFT_IN=$(grep -o 'static mode instead: meta l4proto tcp [^(]* accept' "$T_TMP/check.txt" | head -1 | sed 's/^static mode instead: //')
t_check "porthole check prints the static DOCKER-USER rules (iptables, ip6tables) and the input rule" \
	test -n "$DU4" -a -n "$DU6" -a -n "$NFT_IN"
[ -n "$DU4" ] && [ -n "$DU6" ] && [ -n "$NFT_IN" ] || grep -i 'container\|static' "$T_TMP/check.txt"
t_log "pasted: $DU4; $DU6; nft insert rule inet filter input $NFT_IN"
# paste CMD-LINE [PREFIX...]: PREFIX and the words of CMD-LINE (a printed
# rule holds no quotes), run in the host namespace
paste() { local -a w; read -ra w <<<"$1"; shift; in_host "$@" "${w[@]}"; }
t_check "... each pasted as printed" eval 'paste "$DU4" && paste "$DU6" && paste "$NFT_IN" nft insert rule inet filter input'
T_DAEMON_FLAGS=-d daemon_start "ports = 80" "chains = none" "$PUB" \
	|| { t_fail "daemon start"; t_summary; exit 1; }
static_rules() { in_host iptables -S DOCKER-USER; in_host ip6tables -S DOCKER-USER; in_host nft list chain inet filter input; }
t_eq "the pasted rules stay through the daemon's start-up sweep (no porthole comment)" 3 \
	"$(static_rules | grep -c 'mark')"

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
dropped_all "undesignated" "$H 80 C1, undesignated" "$H6 80 C1, undesignated"
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
# window_case PHASE: C1's server in the designated cgroup opens a window
# each for its two listeners; the blocked country reaches C1 through $H:80
# and [$H6]:80 and nothing else; the allowed country reaches C2 and the host
# process. P1: the server's pid.
window_case() {
	serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1-$1.out" || t_fail "$1: C1's server (designated)"
	P1=$SPID
	t_check "$1: the daemon opens a container window for each of its listeners (0.0.0.0, [::] v6only)" \
		wait_count "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1" 2 30
	reached "$1: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
	reached "$1, IPv6: the Internet reaches C1 through [$H6]:80" inet $H6 80 "$LOG1"
	dropped_all "$1" "${NEG[@]}"
	reached "$1: the allowed country reaches C2 through $H:8080" allow $H 8080 "$LOG2"
	reached "$1: the allowed country reaches the host process on $H2:80" allow $H2 80 "$LOGH"
	reached "$1, IPv6: the allowed country reaches C2 through [$H6]:8080" allow $H6 8080 "$LOG2"
}
window_case static
grep "container: window .* opened" "$T_DLOG" | tail -1 | sed 's/^/  /'
if [ -n "${T_DEBUG:-}" ]; then in_host nft list ruleset; in_host iptables -t filter -L -v -n; fi
t_eq "one cwin element: (bridge, C1, 80, 80)" 1 "$(cwin_elems)"
t_eq "one cwin6 element: (bridge, C1's IPv6 address, 80, 80)" 1 "$(cwin_elems cwin6)"
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
dropped_all "closed" "$H 80 a new server on C1:80 outside the designation" "$H6 80 the same"
reached "closed: the allowed country reaches it" allow $H 80 "$LOG1"
stop "$P"

# ---- porthole close ID: root only ------------------------------------------------------------
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1r.out" || t_fail "C1's designated server for close"
P=$SPID
wait_count "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P" 2 30 || t_fail "its windows open"
CW_ID=$(grep -o "container: window [0-9]* opened: tcp/80 of pid $P" "$T_DLOG" | head -1 | awk '{print $3}')
setpriv --reuid=65534 --regid=65534 --groups="$(stat -c %g "$T_SOCK")" env PORTHOLE_SOCKET="$T_SOCK" \
	"$PORTHOLE_BIN/porthole" close "$CW_ID" >"$T_TMP/close.out" 2>&1
t_check "close: a member of the socket group may not close a container window ($(head -c 120 "$T_TMP/close.out"))" \
	grep -q "only root may close it" "$T_TMP/close.out"
ph close "$CW_ID" >/dev/null 2>&1
t_eq "close: root closes container window $CW_ID (exit 0)" 0 $?
t_check "... closed, reason revoked, said once naming who" wait_for "$T_DLOG" "container: window $CW_ID closed (revoked): .*: closed by uid 0 (pid [0-9]*, porthole close)" 30
t_check "... audited" "$PY" - "$AUD" "$CW_ID" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [r for r in recs if r["event"] == "window-close" and r.get("kind") == "container"
               and r["window"] == int(sys.argv[2]) and r["reason"] == "revoked"] else 1)
PY
ph close "$CW_ID" >/dev/null 2>&1
t_eq "close: the same id again: no open window (exit 1)" 1 $?
stop "$P"
wait_elems_gone() { local i; for i in $(seq 50); do [ "$(cwin_elems)$(cwin_elems cwin6)" = 00 ] && return 0; sleep 0.1; done; return 1; }
t_check "... and its other window with the listener" wait_elems_gone

t_check "daemon still running" kill -0 "$T_DPID"
daemon_stop
t_eq "daemon exits 0" 0 $?
t_check "porthole's bridge table went with the daemon" \
	bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table bridge porthole >/dev/null 2>&1"
# the pasted rules out again: -I becomes -D, the nft rule by its handle
NFT_H=$(in_host nft -a list chain inet filter input | sed -n 's/.*meta mark .* accept # handle \([0-9]*\)$/\1/p')
t_check "the pasted rules removed" eval 'paste "${DU4/ -I / -D }" && paste "${DU6/ -I / -D }" &&
	in_host nft delete rule inet filter input handle "$NFT_H"'
t_eq "... none left" 0 "$(static_rules | grep -c 'mark')"

# ==== 2. chains = auto (the default), Docker-shaped ==========================================
T_LINGER=2 T_DAEMON_FLAGS=-d daemon_start "ports = 80" "$PUB" || { t_fail "daemon start (auto)"; t_summary; exit 1; }
t_eq "auto, no window yet: DOCKER-USER holds no rule of porthole's" 0 "$(ours_in iptables DOCKER-USER)"
window_case auto
t_check "auto: the daemon put its one rule at the top of DOCKER-USER" first_is_ours iptables DOCKER-USER
t_check "auto: ... and of ip6tables' DOCKER-USER" first_is_ours ip6tables DOCKER-USER
t_eq "auto: one rule there each, none in FORWARD (Docker's jump to DOCKER-USER comes first)" 1100 \
	"$(ours_in iptables DOCKER-USER)$(ours_in ip6tables DOCKER-USER)$(ours_in iptables FORWARD)$(ours_in ip6tables FORWARD)"
stop "$P1"
t_check "auto: its close closes both windows" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $P1" 2 30
t_eq "auto: the rule lingers after the window (host_rule_linger = 2)" 11 \
	"$(ours_in iptables DOCKER-USER)$(ours_in ip6tables DOCKER-USER)"
t_check "auto: ... then goes" wait_ours iptables DOCKER-USER 0
t_eq "auto: ... from ip6tables' DOCKER-USER too" 0 "$(ours_in ip6tables DOCKER-USER)"
serve_in "$CGO" c1 "$LOG1" c1 "$T_TMP/c1f.out" || t_fail "C1's server again (undesignated)"
P=$SPID
dropped_all "auto, closed" "$H 80 a new server on C1:80 outside the designation" "$H6 80 the same"
stop "$P"

# ==== 3. chains = auto, netavark-shaped (the same daemon) ====================================
t_setup "IPv4 netavark-shaped rules" netavark_rules iptables $C1 $C2 $INET/32 32
t_setup "IPv6 netavark-shaped rules" netavark_rules ip6tables $C61 $C62 $INET6/128 128
window_case netavark
t_check "netavark: the daemon put its one rule at the top of FORWARD" first_is_ours iptables FORWARD
t_check "netavark: ... and of ip6tables' FORWARD" first_is_ours ip6tables FORWARD
stop "$P1"
t_check "netavark: its close closes both windows" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (listener-closed): tcp/80 of pid $P1" 2 30
t_check "netavark: the rule goes after the linger" wait_ours iptables FORWARD 0
daemon_stop
t_eq "daemon exits 0" 0 $?

# ==== 4. a listener older than the daemon; session marks; the deadline; shutdown ============
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1d.out" || t_fail "C1's server (designated, before the daemon)"
P1=$SPID
T_DAEMON_FLAGS=-d daemon_start "ports = 80" "socket_mark = 0x1000000/0x7000000" "$PUB max_window=3" \
	|| { t_fail "daemon start (max_window=3)"; t_summary; exit 1; }
t_check "a listener older than the daemon: its windows open at start (3 s)" \
	wait_count "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1 .* for 3 s" 2 30
grep -q "container: window [0-9]* opened: tcp/80 of pid $P1 " "$T_DLOG" || grep 'foreign\|container' "$T_DLOG" | tail -20
reached "old listener: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
# marks: 3 bits, VALUE 1; CW and the server windows' two marks are 5, 6
# and 7; the designation takes one of 2, 3, 4: two sessions, and no third
RUNS=()
for i in 1 2 3; do
	bg_run "$T_TMP/run$i.out" "$T_TMP/run$i.err" run -- sleep 30
	RUNS+=("$BG_PID")
	for _ in $(seq 50); do
		[ "$(grep -c 'session [0-9]* started .* mark ' "$T_DLOG")" -ge "$i" ] && break
		[ -s "$T_TMP/run$i.err" ] && break
		sleep 0.1
	done
done
MARKS=$(grep -o 'session [0-9]* started .* mark 0x[0-9a-f]*' "$T_DLOG" | grep -o '0x[0-9a-f]*$' | sort | tr '\n' ' ')
t_log "sessions' marks: $MARKS"
t_check "two sessions get marks, none of them CW (0x5000000) or a server window's (0x6000000, 0x7000000)" \
	bash -c "[ \$(wc -w <<<'$MARKS') = 2 ] && ! grep -qE '0x[567]000000' <<<'$MARKS'"
wait "${RUNS[2]}" 2>/dev/null
t_check "the third finds no free mark" grep -q 'no free window mark' "$T_TMP/run3.err"
kill "${RUNS[0]}" "${RUNS[1]}" 2>/dev/null
t_check "at its deadline it closes (both listeners')" \
	wait_count "$T_DLOG" "container: window [0-9]* closed (deadline): tcp/80 of pid $P1" 2 60
t_eq "no cwin or cwin6 element left" 00 "$(cwin_elems)$(cwin_elems cwin6)"
dropped_all "deadline (C1's server still listening)" "$H 80 C1" "$H6 80 C1"
reached "deadline: the allowed country reaches C1" allow $H 80 "$LOG1"
stop "$P1"
# a window open when the daemon stops: closed (shutdown), audited
serve_in "$CGD" c1 "$LOG1" c1 "$T_TMP/c1e.out" || t_fail "C1's server (designated, at shutdown)"
P1=$SPID
t_check "a window opens" wait_for "$T_DLOG" "container: window [0-9]* opened: tcp/80 of pid $P1" 30
daemon_stop
t_eq "daemon exits 0 with a container window open" 0 $?
t_check "window-close audited with reason shutdown" grep -q '"event":"window-close".*"reason":"shutdown".*"kind":"container"\|"event":"window-close".*"kind":"container".*"reason":"shutdown"' "$AUD"
dropped_all "stopped" "$H 80 C1"
stop "$P1"
t_summary
