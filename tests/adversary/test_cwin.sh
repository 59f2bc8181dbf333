#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container windows, the nft half (issue 23, docs/design/containers.md §4):
# porthole's own table admits, after DNAT, exactly the connections DNAT sends
# to a container window's socket, judged by what servers in the containers'
# namespaces log (tests/adversary/httplog.py).
#
# The lab host gets a bridge with two "containers" (network namespaces
# veth'd to it, in the lab's network behind the host: C1 192.0.2.130 /
# 2001:db8:c0::2, C2 192.0.2.131 / ::3) and, in
# iptables-nft's shape as Docker 20.10 writes it, DNATs $H:80 -> C1:80,
# $H:8080 -> C2:80 and $H:8081 -> C1:80 (a second published port to the same
# socket), FORWARD policy drop with Docker's accepts, and a geo-block in
# DOCKER-USER that drops everything the blocked country (the lab's "inet")
# sends. The one host rule porthole's placement will put there (later step)
# is added by hand, at the top of DOCKER-USER and of the host's input chain.
# tests/tools/cwinctl makes porthole's table (with cwin/cwin6 and F1/F2)
# and its bridge table (cwpin/cwpin6 and the pin rule), and adds/deletes
# the element (bridge, C1, 80, 80) pinned to C1's bridge port as the daemon
# will.
#
# With the element, from the blocked country: $H:80 reaches C1; $H:8080 (C2),
# $H:8081 (C1 by another published port), C1 and C2 routed to directly (no
# DNAT), and a host process on $H2:80 are not reached. Without it (never
# added, deleted, or expired by its kernel timeout) $H:80 is dropped too, and
# a connection opened during the window gets no further byte through: F2
# needs the element, nothing outlives it. The allowed country reaches
# everything throughout, its open connection included.
#
# The claim (a red-team finding): root in C1 adds C2's addresses to its own
# eth0, so a resolver that trusts the container's addresses gives C1's
# window the element (bridge, C2, 80, 80) too; C2 is published on $H2:80.
# The pin (C1's port) stops it: the frames to C2 that the bridge sends to
# C2's port, known by its FDB or flooded, are dropped in the bridge's
# output hook, and C2's server hears nothing from the blocked country.
set -u
source "$(dirname "$0")/../lib.sh"
t_start cwin lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
CWINCTL=$T_ROOT/build/asan/cwinctl
[ -x "$CWINCTL" ] || { t_fail "build/asan/cwinctl is built (make asan)"; t_summary; exit 1; }

MARK=0x1000000 MASK=0xff000000 # the default socket_mark
BR=$LAB_CTR_BR P1=c1 P2=c2 # the bridge and its ports (the host-side veths: tests/lab/net.sh)
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py

# ---- the containers and the host's Docker-shaped ruleset --------------------------------------------
. "$T_ROOT/tests/lab/docker_rules.sh" # docker_rules, netavark_rules
# the host rule, by hand (porthole's placement is a later step)
host_rules() {
	local ipt
	for ipt in iptables ip6tables; do
		in_host $ipt -I DOCKER-USER -p tcp -m tcp --dport 80 -m mark --mark $MARK/$MASK \
			-m comment --comment porthole -j ACCEPT || return 1
	done
	in_host nft insert rule inet filter input meta l4proto tcp tcp dport 80 meta mark \& $MASK == $MARK \
		counter accept comment '"porthole"'
}

t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128

LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log LOGH=$T_TMP/hostproc.log
: >"$LOG1"; : >"$LOG2"; : >"$LOGH"
nsenter --net=/run/netns/$T_PFX-c1 -- "$PY" "$HL" hold "$LOG1" c1 80 900 $C1 $C61 >"$T_TMP/c1.out" 2>&1 &
T_PIDS+=("$!")
nsenter --net=/run/netns/$T_PFX-c2 -- "$PY" "$HL" hold "$LOG2" c2 80 900 $C2 $C62 >"$T_TMP/c2.out" 2>&1 &
T_PIDS+=("$!")
bg_host "$T_TMP/hp.out" "$T_TMP/hp.err" "$PY" "$HL" serve "$LOGH" hostproc 80 900 $H2 $H62
for f in c1 c2 hp; do wait_for "$T_TMP/$f.out" listening 100 || { t_fail "the $f server started"; t_summary; exit 1; }; done
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

# porthole's table, through the library (the daemon's wiring is a later step)
mkfifo "$T_TMP/cw.in"
nsenter --net=/run/netns/$T_PFX-host -- "$CWINCTL" $MARK/$MASK <"$T_TMP/cw.in" >"$T_TMP/cw.out" 2>"$T_TMP/cw.err" &
CW_PID=$!
T_PIDS+=("$CW_PID")
exec {CW_FD}>"$T_TMP/cw.in"
wait_for "$T_TMP/cw.out" '^ready' 100 || { t_fail "cwinctl made porthole's table"; cat "$T_TMP/cw.err"; t_summary; exit 1; }
t_pass "cwinctl made porthole's table ($(head -1 "$T_TMP/cw.out"))"
# cw CMD...: one command to cwinctl; prints its answer line
cw() {
	local n
	n=$(wc -l <"$T_TMP/cw.out")
	echo "$*" >&$CW_FD
	wait_count "$T_TMP/cw.out" '' $((n + 1)) 100 || { echo "no answer"; return 1; }
	sed -n "$((n + 1))p" "$T_TMP/cw.out"
}
in_host nft list table inet porthole >"$T_TMP/table.txt"
t_check "porthole's table has cwin and cwin6" grep -q 'set cwin6 {' "$T_TMP/table.txt"
sed -n '/chain cwtag {/,/}/p' "$T_TMP/table.txt" >"$T_TMP/cwtag.txt"
t_log "$(cat "$T_TMP/cwtag.txt")"
t_check "its last forward chain tags what porthole admitted with CW" "$PY" - "$T_TMP/cwtag.txt" <<'PY'
import sys
t = open(sys.argv[1]).read()
# (nft prints the set's bitwise as "& 0xfdffffff | 0xfd000000": the same bits)
sys.exit(0 if ("hook forward priority 2147483647" in t and "ct mark 0xfd000000/8 meta mark 0x01000000/8 "
               "meta mark set meta mark & " in t and t.rstrip().split("\n")[-2].endswith("| 0xfd000000")) else 1)
PY
in_host nft list table bridge porthole >"$T_TMP/pin.txt"
t_log "$(cat "$T_TMP/pin.txt")"
t_check "porthole's bridge table has cwpin, cwpin6 and the pin rule on the output hook" "$PY" - "$T_TMP/pin.txt" <<'PY'
import sys
t = open(sys.argv[1]).read()
ok = ("set cwpin {" in t and "set cwpin6 {" in t and "hook output priority filter" in t
      and "meta mark 0xfd000000/8 ip daddr . oif . tcp dport != @cwpin counter" in t
      and "meta mark 0xfd000000/8 ip6 daddr . oif . tcp dport != @cwpin6 counter" in t)
sys.exit(0 if ok else 1)
PY
t_check "its forward chain reads F1 (v4, v6), F2 (v4, v6), then the drop of VALUE-marked traffic" \
	"$PY" - "$T_TMP/table.txt" <<'PY'
import sys
t = open(sys.argv[1]).read()
fwd = t[t.index("chain forward {"):].split("\n")[2:7]
ok = ("ct status dnat" in fwd[0] and "@cwin " in fwd[0] and "@cwin6 " in fwd[1] and "ct status dnat" in fwd[1]
      and fwd[2].startswith("\t\tct mark 0xfd000000/8 ") and "@cwin " in fwd[2] and "@cwin6 " in fwd[3]
      and fwd[4].strip() == "ct mark 0x01000000/8 drop")  # nft spells a prefix mask /8
print("\n".join(fwd)) if not ok else None
sys.exit(0 if ok else 1)
PY

# ---- judging ----------------------------------------------------------------------------------------
lines() { wc -l <"$1"; }
# new_from LOG MARK PEER: LOG's lines after line MARK whose peer is PEER
new_from() { tail -n +$(($2 + 1)) "$1" | grep " $3 "; }
get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-1.5}"; } # FROM ADDR PORT PATH [TIMEOUT]
# reached NAME FROM ADDR PORT LOG: a request from FROM to ADDR:PORT is logged by LOG's server
reached() {
	local m out peer
	m=$(lines "$5")
	peer=$INET
	[ "$2" = allow ] && peer=$ALLOW
	[[ $3 == *:* ]] && { peer=$INET6; [ "$2" = allow ] && peer=$ALLOW6; }
	out=$(get "$2" "$3" "$4" /probe 3)
	if new_from "$5" "$m" "$peer" | grep -q "/probe"; then t_pass "$1"; else t_fail "$1 (the client saw: $out)"; fi
}
# dropped NAME ADDR PORT LOG...: a request from the blocked country to
# ADDR:PORT must reach none of the LOGs' servers. It is queued: drops sends
# every queued request at once, each from a source port of its own (which the
# servers log: below the kernel's ephemeral range, used once), waits the lab's
# probe second (each client's connect timeout, counted from its own SYN) and
# 0.2 s more for the servers to write, and judges each by its source port. A
# line from the blocked country with a port no request of the batch used
# (attributable to none) in any of the batch's LOGs fails them all. Call
# drops before anything changes what the requests would meet.
DQ=() DSPORT=30000
dropped() { local n=$1 a=$2 p=$3; shift 3; DQ+=("$n"$'\t'"$a"$'\t'"$p"$'\t'"$*"); }
drops() {
	local i n a p logs l out got peer sports=" " stray="" pids=()
	local -A m
	[ ${#DQ[@]} -gt 0 ] || return 0
	for l in $ALL; do m[$l]=$(lines "$l"); done
	for i in "${!DQ[@]}"; do
		IFS=$'\t' read -r n a p logs <<<"${DQ[i]}"
		sports+="$((DSPORT + i)) "
		in_ns "$T_PFX-inet" "$PY" "$HL" get "$a" "$p" "/attack-$((DSPORT + i))" 1 $((DSPORT + i)) >"$T_TMP/drop$i.out" 2>&1 &
		pids+=("$!")
	done
	wait "${pids[@]}"
	sleep 0.2
	for l in $(printf '%s\n' "${DQ[@]}" | cut -f4 | tr ' ' '\n' | sort -u); do
		stray+=$(tail -n +$((m[$l] + 1)) "$l" | awk -v a="$INET" -v b="$INET6" -v s="$sports" \
			'($2 == a || $2 == b) && index(s, " " $3 " ") == 0')
	done
	for i in "${!DQ[@]}"; do
		IFS=$'\t' read -r n a p logs <<<"${DQ[i]}"
		out=$(cat "$T_TMP/drop$i.out") got="" peer=$INET
		[[ $a == *:* ]] && peer=$INET6
		for l in $logs; do
			got+=$(tail -n +$((m[$l] + 1)) "$l" | awk -v a="$peer" -v s=$((DSPORT + i)) '$2 == a && $3 == s')
		done
		if [[ $out == bind-error* ]]; then t_fail "$n: the request was not sent ($out)"
		elif [ -n "$got$stray" ]; then t_fail "$n: logged: $(head -2 <<<"$got$stray" | tr '\n' '|') (the attacker saw: $out)"
		else t_pass "$n"; fi
	done
	DSPORT=$((DSPORT + ${#DQ[@]})) DQ=()
}
ALL="$LOG1 $LOG2 $LOGH"
controls() { # PHASE: the allowed country reaches every server
	local p=$1 v h c1 c2 h2
	for v in "4 $H $C1 $C2 $H2" "6 $H6 $C61 $C62 $H62"; do
		set -- $v
		reached "$p, IPv$1: the allowed country reaches C1 through $2:80" allow "$2" 80 "$LOG1"
		reached "$p, IPv$1: the allowed country reaches C2 through $2:8080" allow "$2" 8080 "$LOG2"
		reached "$p, IPv$1: the allowed country reaches C1 routed directly to $3" allow "$3" 80 "$LOG1"
		reached "$p, IPv$1: the allowed country reaches the host process on $5:80" allow "$5" 80 "$LOGH"
	done
}
# attacks PHASE: every way in that no container window admits (queued: drops)
attacks() {
	local p=$1 v
	for v in "4 $H $C1 $C2 $H2" "6 $H6 $C61 $C62 $H62"; do
		set -- $v
		dropped "$p, IPv$1: the Internet to $2:8080 (C2's published port) reaches nothing" "$2" 8080 $ALL
		dropped "$p, IPv$1: the Internet to $2:8081 (C1:80 by another published port) reaches nothing" "$2" 8081 $ALL
		dropped "$p, IPv$1: the Internet routed directly to C1 $3:80 (no DNAT) reaches nothing" "$3" 80 $ALL
		dropped "$p, IPv$1: the Internet routed directly to C2 $4:80 (no DNAT) reaches nothing" "$4" 80 $ALL
		dropped "$p, IPv$1: the Internet to the host process on $5:80 reaches nothing" "$5" 80 $ALL
	done
}
elements() { # SET: its elements, one a line
	in_host nft -j list set inet porthole "$1" | "$PY" -c 'import json,sys
for o in json.load(sys.stdin)["nftables"]:
    for e in o.get("set", {}).get("elem", []): print(json.dumps(e))'
}

# ---- no element: the probe is dropped ---------------------------------------------------------------
controls "no element"
dropped "no element, IPv4: the Internet to $H:80 (C1's published port) reaches nothing" $H 80 $ALL
dropped "no element, IPv6: the Internet to [$H6]:80 (C1's published port) reaches nothing" $H6 80 $ALL
drops
t_setup "the host rule by hand" host_rules
dropped "no element, host rule in place, IPv4: the Internet to $H:80 reaches nothing" $H 80 $ALL
dropped "no element, host rule in place, IPv6: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
attacks "no element"
drops

# ---- the element: C1 only, through its published port only ------------------------------------------
t_eq "the IPv4 element is added" ok "$(cw add $BR $P1 $C1 80 80 600000)"
t_eq "the IPv6 element is added" ok "$(cw add $BR $P1 $C61 80 80 600000)"
t_eq "an element without a timeout is refused" "error: bad command (Invalid argument)" "$(cw add $BR $P1 $C2 80 80)"
t_eq "an element of timeout 0 is refused" "error: building the batch: Invalid argument" "$(cw add $BR $P1 $C2 80 80 0)"
reached "window, IPv4: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
reached "window, IPv6: the Internet reaches C1 through [$H6]:80" inet $H6 80 "$LOG1"
attacks "window"
drops
controls "window"
n=$(elements cwin | grep -o '"packets": [0-9]*' | grep -o '[0-9]*$')
t_check "the IPv4 element counted the admitted connection's packets (${n:-none})" test "${n:-0}" -gt 0
# connections that live across the element's end: from each country, each family
# (their files by name, not by a glob: a glob run before the background
# shells made them matched none or some, and waited 10 s or not at all)
TALK=() TALKF=()
for v in "inet $H" "inet $H6" "allow $H" "allow $H6"; do
	set -- $v
	f=$T_TMP/talk-$1-${2//:/_}
	TALKF+=("$f")
	in_ns "$T_PFX-$1" "$PY" "$HL" talk "$2" 80 "$T_TMP/go" 3 >"$f" 2>&1 &
	TALK+=("$!")
	T_PIDS+=("$!")
done
for f in "${TALKF[@]}"; do wait_for "$f" '^before:' 100; done
for f in "${TALKF[@]}"; do
	t_check "window: an open connection ($(basename "$f")) is answered by C1 ($(head -1 "$f"))" grep -q '^before: c1 before' "$f"
done

# ---- the element deleted: nothing new, nothing more of the open ones ---------------------------------
t_eq "the IPv4 element is deleted" ok "$(cw del $BR $P1 $C1 80 80)"
t_eq "the IPv6 element is deleted" ok "$(cw del $BR $P1 $C61 80 80)"
m1=$(lines "$LOG1")
touch "$T_TMP/go"
wait "${TALK[@]}"
for v in "4 $INET $ALLOW" "6 $INET6 $ALLOW6"; do
	set -- $v
	got=$(new_from "$LOG1" "$m1" "$2" | grep ' after$')
	if [ -z "$got" ]; then
		t_pass "deleted, IPv$1: the Internet's open connection gets no further byte to C1"
	else
		t_fail "deleted, IPv$1: the Internet's open connection gets no further byte to C1: logged $got"
	fi
	t_check "deleted, IPv$1: the allowed country's open connection goes on" grep -q " $3 [0-9]* after\$" "$LOG1"
done
dropped "deleted, IPv4: the Internet to $H:80 reaches nothing" $H 80 $ALL
dropped "deleted, IPv6: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
drops
reached "deleted, IPv4: the allowed country still reaches C1 through $H:80" allow $H 80 "$LOG1"

# ---- the element's kernel timeout: the hard deadline --------------------------------------------------
t_eq "an IPv4 element with a 4 s timeout is added" ok "$(cw add $BR $P1 $C1 80 80 4000)"
t_eq "an IPv6 element with a 4 s timeout is added" ok "$(cw add $BR $P1 $C61 80 80 4000)"
reached "timeout, before it: the Internet reaches C1 through $H:80" inet $H 80 "$LOG1"
for i in $(seq 150); do
	[ -z "$(elements cwin)$(elements cwin6)" ] && break
	sleep 0.1
done
t_check "the kernel removed both elements at their timeout" test -z "$(elements cwin)$(elements cwin6)"
dropped "timeout, after it, IPv4: the Internet to $H:80 reaches nothing" $H 80 $ALL
dropped "timeout, after it, IPv6: the Internet to [$H6]:80 reaches nothing" $H6 80 $ALL
drops

# ---- the pin: a window's connections leave only through its port --------------------------------------
t_eq "the IPv4 element pinned to C2's port is added" ok "$(cw add $BR $P2 $C1 80 80 600000)"
t_eq "the IPv6 element pinned to C2's port is added" ok "$(cw add $BR $P2 $C61 80 80 600000)"
dropped "pinned elsewhere, IPv4: the Internet to $H:80 does not reach C1 through its own port" $H 80 $ALL
dropped "pinned elsewhere, IPv6: the Internet to [$H6]:80 does not reach C1 through its own port" $H6 80 $ALL
drops
n=$(in_host nft list chain bridge porthole output | grep -c 'counter packets [1-9]')
t_eq "both pin rules counted what they dropped" 2 "$n"
t_eq "they are deleted" "ok ok" "$(cw del $BR $P2 $C1 80 80) $(cw del $BR $P2 $C61 80 80)"

# ---- the claim: C1 takes C2's addresses, a fooled resolver gives C1's window C2 -------------------------
claim_rules() {
	in_host iptables -t nat -I PREROUTING -d $H2 -p tcp -m tcp --dport 80 -j DNAT --to-destination $C2:80 &&
		in_host ip6tables -t nat -I PREROUTING -d $H62 -p tcp -m tcp --dport 80 -j DNAT --to-destination "[$C62]:80" &&
		in_ns $T_PFX-c1 ip addr add $C2/32 dev eth0 && in_ns $T_PFX-c1 ip -6 addr add $C62/128 dev eth0 nodad
}
t_setup "C2 published on $H2:80 and [$H62]:80; C1 claims C2's addresses" claim_rules
for a in $C2 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done
t_log "the host's neighbours: $(in_host ip neigh show dev $BR | tr '\n' ';')"
reached "claim, IPv4: the allowed country reaches C2 through $H2:80" allow $H2 80 "$LOG2"
reached "claim, IPv6: the allowed country reaches C2 through [$H62]:80" allow $H62 80 "$LOG2"
t_eq "claim: the IPv4 element (bridge, C2, 80, 80) on C1's port is added" ok "$(cw add $BR $P1 $C2 80 80 600000)"
t_eq "claim: the IPv6 element (bridge, C2, 80, 80) on C1's port is added" ok "$(cw add $BR $P1 $C62 80 80 600000)"
dropped "claim, IPv4: the Internet to $H2:80 does not reach C2 (its port is not C1's)" $H2 80 "$LOG2"
dropped "claim, IPv6: the Internet to [$H62]:80 does not reach C2 (its port is not C1's)" $H62 80 "$LOG2"
drops
# the bridge forgets where C2 is: the frames are flooded, a clone to each port
flood() {
	in_host bridge link set dev $P1 learning off && in_host bridge link set dev $P2 learning off &&
		in_host ip link set $BR type bridge fdb_flush
}
t_setup "the bridge floods (learning off, FDB flushed)" flood
t_check "the bridge knows neither port's MAC any more" bash -c "! nsenter --net=/run/netns/$T_PFX-host bridge fdb show br $BR | grep -v permanent | grep -q ."
dropped "claim, flooding, IPv4: the Internet to $H2:80 does not reach C2" $H2 80 "$LOG2"
dropped "claim, flooding, IPv6: the Internet to [$H62]:80 does not reach C2" $H62 80 "$LOG2"
drops
# (while the fooled element lives, F1 marks every new connection to C2's
# published port, the allowed country's too, and the pin drops them: fail closed)
t_eq "the claimed elements are deleted" "ok ok" "$(cw del $BR $P1 $C2 80 80) $(cw del $BR $P1 $C62 80 80)"
reached "flooding, IPv4: the allowed country reaches C2 through $H2:80 (the clone to C2's port)" allow $H2 80 "$LOG2"
reached "flooding, IPv6: the allowed country reaches C2 through [$H62]:80" allow $H62 80 "$LOG2"
t_eq "C1's own window is added again" "ok ok" "$(cw add $BR $P1 $C1 80 80 600000) $(cw add $BR $P1 $C61 80 80 600000)"
reached "window, flooding, IPv4: the Internet reaches C1 through $H:80 (the clone to C1's port)" inet $H 80 "$LOG1"
reached "window, flooding, IPv6: the Internet reaches C1 through [$H6]:80 (the clone to C1's port)" inet $H6 80 "$LOG1"

# ---- porthole's table goes with its owner ------------------------------------------------------------
exec {CW_FD}>&-
wait "$CW_PID"
t_eq "cwinctl exits 0 at the end of its input" 0 $?
t_check "porthole's table went with its owner's socket" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table inet porthole >/dev/null 2>&1"
t_check "porthole's bridge table went with it" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table bridge porthole >/dev/null 2>&1"
t_summary
