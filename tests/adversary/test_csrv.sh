#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guarded server window to a web server in a container (issue 23 case 3,
# docs/design/containers.md §5), the kernel half: porthole's own table
# (lib/nftcsrv.c) and the guard (bpf/guard.bpf.c) judging a socket of
# another network namespace, driven by tests/tools/csrvctl without the
# daemon. Judged by what the container's server logs (httplog.py: a
# "request" line with the first line the server read).
#
# The lab host gets a bridge with two "containers" (network namespaces
# veth'd to it) and Docker 20.10's iptables-nft shape (tests/lab/docker_rules.sh):
# $H:80 and $H:8081 DNAT to C1:80, $H:8080 to C2:80, the geo-block in
# DOCKER-USER dropping the blocked country ("inet"). C1's server runs in a
# cgroup of its own (the served one). csrvctl makes porthole's table, puts
# the guard pair at each forward drop point (DOCKER-USER's drop, FORWARD's
# policy), loads the guard (attached at the cgroup v2 root) with DSCP 3 as
# the carrier, and takes the element (bridge, C1, 80).
#
# Through the host's DNAT the blocked country gets to C1's server only one
# challenge request for a live token: a non-challenge request, an unknown
# token, a pipelined second request are dropped by the guard (the server
# reads nothing); C2 and C1 routed to directly stay dropped by the host; the
# allowed country is never judged, even when it sends the carrier DSCP
# itself; a DSCP 3 forged by the blocked country opens nothing. Control: the
# same requests before the guard knows C1's namespace reach the server (the
# nft half alone admits the connection: the guard is what judges it).
set -u
source "$(dirname "$0")/../lib.sh"
t_start csrv lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
CSRVCTL=$T_ROOT/build/asan/csrvctl
[ -x "$CSRVCTL" ] || { t_fail "build/asan/csrvctl is built (make asan)"; t_summary; exit 1; }
[ -n "$T_CG2" ] || { echo "SKIP $T_NAME: no cgroup v2 mount"; exit 77; }

MARK=0x1000000 MASK=0xff000000 DSCP=3
BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py RAW=$T_ROOT/tests/tools/httpraw.py
TOK=Good_tok3n-123 BAD=Unknown_tok3n-456
. "$T_ROOT/tests/lab/docker_rules.sh"

t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128
# C1 counts what arrives carrying the DSCP (the carrier crossed the veth)
seen_rules() {
	printf '%s\n' 'table inet seen {' ' chain input {' '  type filter hook input priority 0; policy accept;' \
		'  ip dscp 0x03 tcp dport 80 counter' '  ip6 dscp 0x03 tcp dport 80 counter' ' }' '}' | in_ns $T_PFX-c1 nft -f -
}
t_setup "C1's DSCP counters" seen_rules
seen() { in_ns $T_PFX-c1 nft list chain inet seen input | grep -o 'packets [0-9]*' | awk '{ n += $2 } END { print n + 0 }'; }

CG=$T_CG2/$T_PFX-csrv
mkdir -p "$CG" && T_CGROUPS+=("$CG")
LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log
: >"$LOG1"; : >"$LOG2"
in_ns $T_PFX-c1 sh "$T_ROOT/tests/tools/in_cgroup.sh" "$CG" "$PY" "$HL" serve "$LOG1" c1 80 900 $C1 $C61 \
	>"$T_TMP/c1.out" 2>&1 &
T_PIDS+=("$!")
in_ns $T_PFX-c2 "$PY" "$HL" serve "$LOG2" c2 80 900 $C2 $C62 >"$T_TMP/c2.out" 2>&1 &
T_PIDS+=("$!")
for f in c1 c2; do wait_for "$T_TMP/$f.out" listening 100 || { t_fail "the $f server started"; t_summary; exit 1; }; done
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done

mkfifo "$T_TMP/cs.in"
in_host "$CSRVCTL" $MARK/$MASK $DSCP 80 "$T_CG2" <"$T_TMP/cs.in" >"$T_TMP/cs.out" 2>"$T_TMP/cs.err" &
CS_PID=$!
T_PIDS+=("$CS_PID")
exec {CS_FD}>"$T_TMP/cs.in"
wait_for "$T_TMP/cs.out" '^ready' 100 || { t_fail "csrvctl made porthole's table"; cat "$T_TMP/cs.err"; t_summary; exit 1; }
t_pass "csrvctl made porthole's table and loaded the guard ($(head -1 "$T_TMP/cs.out"))"
cs() {
	local n
	n=$(wc -l <"$T_TMP/cs.out")
	echo "$*" >&$CS_FD
	wait_count "$T_TMP/cs.out" '' $((n + 1)) 100 || { echo "no answer"; return 1; }
	sed -n "$((n + 1))p" "$T_TMP/cs.out"
}
in_host nft list ruleset >"$T_TMP/ruleset.txt"
t_log "$(sed -n '/chain DOCKER-USER {/,/}/p;/chain forward {/,/}/p;/chain csrvtag {/,/}/p' "$T_TMP/ruleset.txt")"
t_check "the guard pair sits above DOCKER-USER's drop" "$PY" -c '
import sys
t = open(sys.argv[1]).read()
u = t[t.index("chain DOCKER-USER {"):].split("}")[0]
a, b, d = u.find("porthole guard"), u.rfind("porthole guard"), u.find(" drop")
sys.exit(0 if 0 <= a < b < d else 1)' "$T_TMP/ruleset.txt"
t_check "csrvtag writes the DSCP last of all" grep -q "ct direction original ct mark 0xfe000000/8 ip dscp set 0x03" "$T_TMP/ruleset.txt"

# shellcheck source=../lab/guardprobe.sh
. "$T_ROOT/tests/lab/guardprobe.sh"

# ---- before the element: the host drops the blocked country ------------------------------------------
t_eq "the served cgroup and the token are set" "ok ok" "$(cs server "$CG") $(cs token $TOK)"
nothing "no element, IPv4: the blocked country's challenge to $H:80 is dropped by the host" inet $H 80 "$TOK" "$(challenge $TOK)"
read_by "no element, IPv4: the allowed country reaches C1 through $H:80" allow $H 80 /index "$LOG1" "$(plain index)"

# ---- control: the element, but the guard does not know C1's namespace ---------------------------------
t_eq "the IPv4 and IPv6 elements (bridge, C1, 80) are added" "ok ok" "$(cs add $BR $C1 80 600000) $(cs add $BR $C61 80 600000)"
read_by "control, no namespace for the guard: the blocked country's GET / reaches C1 (the nft half admits)" \
	inet $H 80 /control "$LOG1" "$(plain control)"
s0=$(seen)
t_check "control: C1 saw the carrier DSCP on the guarded connection ($s0 packets)" test "$s0" -gt 0

# ---- the guard judges C1's socket ---------------------------------------------------------------------
t_eq "C1's namespace is a served container's" ok "$(cs netns /run/netns/$T_PFX-c1)"
for v in "4 $H" "6 $H6"; do
	set -- $v
	nothing "guarded, IPv$1: a non-challenge request through $2:80 is dropped" inet $2 80 /secret "$(plain secret)"
	nothing "guarded, IPv$1: a challenge for an unknown token is dropped" inet $2 80 "$BAD" "$(challenge $BAD)"
	nothing "guarded, IPv$1: a live token's challenge with a second request pipelined is dropped" inet $2 80 "$TOK" \
		"$(challenge $TOK)$(plain pipelined)"
	read_by "guarded, IPv$1: the live token's challenge is read by C1" inet $2 80 "$TOK" "$LOG1" "$(challenge $TOK)"
	nothing "guarded, IPv$1: $2:8080 (C2, not served) stays dropped by the host" inet $2 8080 /c2 "$(plain c2)"
	read_by "guarded, IPv$1: the allowed country is not judged (GET / reaches C1)" allow $2 80 /allowed "$LOG1" "$(plain allowed)"
done
nothing "guarded, IPv4: C1 routed to directly (no DNAT) stays dropped by the host" inet $C1 80 /direct "$(plain direct)"
t_eq "the token is no longer live" ok "$(cs untoken $TOK)"
nothing "guarded: a token no longer live is dropped" inet $H 80 "$TOK" "$(challenge $TOK)"
t_eq "the token is live again" ok "$(cs token $TOK)"

# ---- the DSCP forged by a client ---------------------------------------------------------------------
forge() {
	printf '%s\n' 'table inet forge {' ' chain output {' '  type filter hook output priority 0; policy accept;' \
		'  ip dscp set 0x03' '  ip6 dscp set 0x03' ' }' '}' | in_ns $T_PFX-$1 nft -f -
}
t_setup "the allowed country sends DSCP 3" forge allow
t_setup "the blocked country sends DSCP 3" forge inet
for v in "4 $H" "6 $H6"; do
	set -- $v
	s0=$(seen)
	read_by "forged, IPv$1: the allowed country sending the carrier is still not judged" allow $2 80 /forged "$LOG1" "$(plain forged)"
	t_eq "forged, IPv$1: its carrier was taken off before C1 (C1 saw none)" "$s0" "$(seen)"
	nothing "forged, IPv$1: the blocked country's carrier opens nothing on $2:8080 (C2)" inet $2 8080 /c2 "$(plain c2)"
	nothing "forged, IPv$1: nor a non-challenge request to C1" inet $2 80 /secret "$(plain secret)"
done
nothing "forged, IPv4: nor C1 routed to directly" inet $C1 80 /direct "$(plain direct)"
t_eq "the elements are deleted" "ok ok" "$(cs del $BR $C1 80) $(cs del $BR $C61 80)"
nothing "no element, forged: the blocked country's live challenge is dropped by the host again" inet $H 80 "$TOK" "$(challenge $TOK)"

r=$(cs stats)
t_log "the guard's counters: $r"
t_check "the guard counted admitted and dropped requests ($r)" bash -c "[[ '$r' =~ ^ok\ [1-9][0-9]*\ [1-9] ]]"
exec {CS_FD}>&-
wait "$CS_PID"
t_eq "csrvctl exits 0 at the end of its input" 0 $?
t_check "porthole's table went with its owner" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list table inet porthole >/dev/null 2>&1"
t_summary
