#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Red team of a guarded server window to a web server in a container
# (`serve = container docker:web webroot=...`, docs/design/containers.md §5),
# the lab shape of test_csrv.sh: Docker 20.10's iptables-nft rules by hand
# ($H:80 and $H:8081 DNAT to C1:80, $H:8080 to C2:80, the geo-block in
# DOCKER-USER), C1's server in a served cgroup, porthole's table and guard
# made by tests/tools/csrvctl (DSCP 3 the carrier), the element (c0, C1, 80)
# open. C1's server is httplog's `hold`: it keeps every connection and logs
# each line it reads, so a second request on a connection shows too. Judged
# only by what C1's and C2's servers logged.
# - crafted TCP from the blocked country (scapy, tests/adversary/cases.py)
#   through DNAT + veth: out of order, overlap, before rcv_nxt, urgent data
#   and pointer, PAWS resend, IP fragments, IPv6 extension headers, data on
#   the SYN, FIN with data, a zero-window probe, pipelining, a body or a
#   second request after the answer, a longer resend: C1 reads nothing but
#   the challenge's own lines;
# - the carrier stripped: a host QoS rule that rewrites the DSCP in the
#   forward hook (before porthole's last chain) and in postrouting (after
#   it);
# - the carrier forged by a neighbour container (C2, raw socket on the
#   bridge, the allowed country's address): a SYN before the allowed
#   country's connection, or a bare ACK on it, must not get the allowed
#   country judged;
# - reaching C2 through the window (published port, routed directly, DSCP
#   forged); an admitted connection after its element went (window closed)
#   and after it came back.
set -u
source "$(dirname "$0")/../lib.sh"
t_start csrv_red scapy lab attacker
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
CASES=$T_ROOT/tests/adversary/cases.py
TOK=Good_tok3n-123
export ATK_SYNC=$T_TMP/sync
mkdir -p "$ATK_SYNC"
. "$T_ROOT/tests/lab/docker_rules.sh"

t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128
# C1 takes data on a SYN without a cookie: data on a SYN past the guard would be read at once
in_ns $T_PFX-c1 sysctl -qw net.ipv4.tcp_fastopen=0x602

CG=$T_CG2/$T_PFX-csrvred
mkdir -p "$CG" && T_CGROUPS+=("$CG")
LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log
: >"$LOG1"; : >"$LOG2"
in_ns $T_PFX-c1 sh "$T_ROOT/tests/tools/in_cgroup.sh" "$CG" "$PY" "$HL" hold "$LOG1" c1 80 900 $C1 $C61 \
	>"$T_TMP/c1.out" 2>&1 &
T_PIDS+=("$!")
in_ns $T_PFX-c2 "$PY" "$HL" serve "$LOG2" c2 80 900 $C2 $C62 >"$T_TMP/c2.out" 2>&1 &
T_PIDS+=("$!")
for f in c1 c2; do wait_for "$T_TMP/$f.out" listening 100 || { t_fail "the $f server started"; t_summary; exit 1; }; done
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done
in_ns $T_PFX-c2 ping -c1 -W1 $C1 >/dev/null 2>&1

mkfifo "$T_TMP/cs.in"
in_host "$CSRVCTL" $MARK/$MASK $DSCP 80 "$T_CG2" <"$T_TMP/cs.in" >"$T_TMP/cs.out" 2>"$T_TMP/cs.err" &
CS_PID=$!
T_PIDS+=("$CS_PID")
exec {CS_FD}>"$T_TMP/cs.in"
wait_for "$T_TMP/cs.out" '^ready' 100 || { t_fail "csrvctl made porthole's table"; cat "$T_TMP/cs.err"; t_summary; exit 1; }
cs() {
	local n
	n=$(wc -l <"$T_TMP/cs.out")
	echo "$*" >&$CS_FD
	wait_count "$T_TMP/cs.out" '' $((n + 1)) 100 || { echo "no answer"; return 1; }
	sed -n "$((n + 1))p" "$T_TMP/cs.out"
}
add_elems() { echo "$(cs add $BR $C1 80 600000) $(cs add $BR $C61 80 600000)"; }
del_elems() { echo "$(cs del $BR $C1 80) $(cs del $BR $C61 80)"; }
t_eq "the window: served cgroup, live token, C1's namespace, elements (c0, C1, 80)" "ok ok ok ok ok" \
	"$(cs server "$CG") $(cs token $TOK) $(cs netns /run/netns/$T_PFX-c1) $(add_elems)"

# lines PEER [PORT]: the lines C1 read from PEER (from PORT); c2req PEER: C2's requests from PEER
lines() { awk -v a="$1" -v p="${2:-}" '$1 == "line" && $2 == a && (p == "" || $3 == p)' "$LOG1"; }
c2req() { awk -v a="$1" '$1 == "request" && $2 == a' "$LOG2"; }
# wait_line PEER WORD [PORT]: C1 read a line with WORD from PEER (within 5 s)
wait_line() { local i; for i in $(seq 50); do lines "$1" "${3:-}" | grep -qF -- "$2" && return 0; sleep 0.1; done; return 1; }
# read_now PEER WORD: C1 read it already (a client that got no echo waited a second for it)
read_now() { lines "$1" | grep -qF -- "$2"; }
wait_for_file() { local _; for _ in $(seq "$2"); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
peer_of_addr() { [[ $1 == *:* ]] && echo $INET6 || echo $INET; }
send() { # FROM ADDR PORT SEGMENT...: one kernel connection from FROM's namespace
	local from=$1 a=$2 p=$3
	shift 3
	PORTHOLE_HTTP_WAIT=1 in_ns $T_PFX-$from "$PY" "$RAW" "$a" "$p" "$@" 2>&1
}
plain() { printf 'GET /%s HTTP/1.1\\r\\nHost: e\\r\\n\\r\\n' "$1"; }
# only_challenge PEER: every line C1 read from PEER is one of the challenge request's
only_challenge() { lines "$1" | cut -d' ' -f4- | grep -vxF -e "GET /.well-known/acme-challenge/$TOK HTTP/1.1" -e "Host: e" -e "" \
	-e "Content-Length: 38"; } # (h_body's challenge has a body announced)

# ---- 1. crafted TCP through DNAT + veth (scapy) ------------------------------------------------------------
A=$T_TMP/atk
attack_bg "$A.1" "$CASES" $TOK ctl:$H:20001 c1_paws:$H:20002 c2_before:$H:20003 c6_urg:$H:20004 c6_urg_ack:$H:20005 \
	h_ooo:$H:20006 h_ooo_future:$H:20007 h_tfo:$H:20008
P1=$BG_PID
attack_bg "$A.2" "$CASES" $TOK h_overlap:$H:20011 h_frag:$H:20012 h_fin:$H:20013 h_window:$H:20014 h_pipe:$H:20015 \
	h_body:$H:20016
P2=$BG_PID
attack_bg "$A.3" "$CASES" $TOK ctl:$H6:20021 h_ext:$H6:20022 h_frag:$H6:20023 c2_before:$H6:20024 c6_urg:$H6:20025 \
	h_resend_longer:$H:20026 h_ooo:$H6:20027
P3=$BG_PID
wait $P1 $P2 $P3
t_log "$(cat $A.1 $A.2 $A.3 | grep -i 'reply\|acked' | head -60)"
t_check "control: C1 read the crafted challenge through $H:80" bash -c "awk '\$2 == \"$INET\" && \$3 == 20001' '$LOG1' | grep -qF acme-challenge/$TOK"
t_check "control: C1 read the crafted challenge through [$H6]:80" bash -c "awk '\$2 == \"$INET6\" && \$3 == 20021' '$LOG1' | grep -qF acme-challenge/$TOK"
for peer in $INET $INET6; do
	got=$(only_challenge $peer)
	if [ -z "$got" ]; then t_pass "crafted TCP from $peer: C1 read nothing but the challenge's lines"
	else t_fail "crafted TCP from $peer: C1 read: $(echo "$got" | tr '\n' '|')"; fi
done

# ---- 2. the carrier stripped by a host rule -----------------------------------------------------------------
# strip HOOK PRIO: the host's QoS resets every DSCP it forwards (cs0)
strip() {
	printf '%s\n' 'table inet qos {' " chain c { type filter hook $1 priority $2; policy accept;" \
		'  ip dscp set cs0' '  ip6 dscp set cs0' ' }' '}' | in_host nft -f -
}
for v in "forward 0 fwd" "postrouting -150 post"; do
	set -- $v
	t_setup "a host rule resets the DSCP ($1, priority $2)" strip $1 $2
	for a in $H $H6; do
		send inet $a 80 "$(plain secret-strip-$3)" >/dev/null
		if read_now $(peer_of_addr $a) secret-strip-$3; then
			t_fail "DSCP reset in $1 ($2), $a: C1 read the blocked country's GET /secret-strip-$3"
		else t_pass "DSCP reset in $1 ($2), $a: the blocked country's GET / is still judged"; fi
	done
	in_host nft delete table inet qos
done

# ---- 3. the carrier forged by a neighbour container (C2: raw socket, the bridge, no host hook) ----------------
FORGE=$T_ROOT/tests/adversary/dscp_forge.py
forge() { in_ns $T_PFX-c2 "$PY" "$FORGE" "$@"; } # syn|ack SRC SPORT DST DPORT DSCP
allow_get() { in_ns $T_PFX-allow "$PY" "$HL" get $H 80 "$1" 3 "$2" >/dev/null 2>&1; } # PATH SPORT
# C1 counts the packets that arrive with the carrier from the allowed country's address
printf '%s\n' 'table inet seen {' ' chain input {' '  type filter hook input priority 0; policy accept;' \
	"  ip saddr $ALLOW ip dscp 0x03 tcp dport 80 counter" ' }' '}' | in_ns $T_PFX-c1 nft -f -
seen() { in_ns $T_PFX-c1 nft list chain inet seen input | grep -o 'packets [0-9]*' | awk '{ n += $2 } END { print n + 0 }'; }
# Docker's inter-container traffic (icc=true): accepted between the bridge's ports
for b in iptables ip6tables; do in_host $b -I FORWARD -i $BR -o $BR -j ACCEPT; done
# With the host's hooks on bridged traffic (br_netfilter, Docker's default), csrvtag takes the
# forged carrier off on the bridge: C1 sees none of it
s0=$(seen)
forge syn $ALLOW 41001 $C1 80 $DSCP >/dev/null 2>&1
forge ack $ALLOW 41002 $C1 80 $DSCP >/dev/null 2>&1
t_eq "bridged through the host's hooks (br_netfilter): C2's forged carrier never reaches C1" 0 $(($(seen) - s0))
# Without them (bridge-nf-call-iptables=0: the bridge alone), it does; the
# allowed country must still not be judged
in_host sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
allow_get /control-41010 41010
t_check "control: the allowed country's GET from 41010 is read by C1" wait_line $ALLOW /control-41010 41010
s0=$(seen)
forge syn $ALLOW 41011 $C1 80 $DSCP >/dev/null 2>&1
t_log "a forged SYN from C2: C1 saw the carrier on $(($(seen) - s0)) packets"
allow_get /seeded-41011 41011
t_check "a forged SYN (carrier, the allowed country's address) before its connection: its GET is still read" \
	wait_line $ALLOW /seeded-41011 41011
rm -f "$T_TMP/talk.go"
in_ns $T_PFX-allow "$PY" "$HL" talk $H 80 "$T_TMP/talk.go" 3 >"$T_TMP/talk.out" 2>&1 &
TALK=$!
T_PIDS+=("$TALK")
if wait_line $ALLOW before; then
	tport=$(lines $ALLOW | awk '$4 == "before" { p = $3 } END { print p }')
	s0=$(seen)
	forge ack $ALLOW "$tport" $C1 80 $DSCP >/dev/null 2>&1
	t_log "a forged ACK from C2 on the allowed country's $tport: C1 saw the carrier on $(($(seen) - s0)) packets"
	touch "$T_TMP/talk.go"
	t_check "a forged bare ACK (carrier) on the allowed country's connection: its next line is still read" \
		wait_line $ALLOW after "$tport"
else
	t_fail "the allowed country's kept connection was read (before)"
fi
wait $TALK
in_host sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

# ---- 4. other containers and ports through the window -------------------------------------------------------
send inet $H 8080 "$(plain secret-c2pub)" >/dev/null
send inet $C2 80 "$(plain secret-c2direct)" >/dev/null
send inet $H 8081 "$(plain secret-8081)" >/dev/null
t_eq "the blocked country reaches C2 neither by $H:8080 nor routed to $C2:80" "" "$(c2req $INET)"
t_check "C1's other published port $H:8081 is judged too (GET / not read)" bash -c "! grep -qF secret-8081 '$LOG1'"

# ---- 5. an admitted connection after its window closed, and reopened ---------------------------------------
attack_bg "$A.5" "$CASES" $TOK c4_after_close:$H:20031
P5=$BG_PID
attack_bg "$A.6" "$CASES" $TOK c4_after_close:$H:20032
P6=$BG_PID
t_check "both kept connections got their challenge read" wait_for_file "$ATK_SYNC/20031.first" 100
wait_for_file "$ATK_SYNC/20032.first" 100
t_eq "the window closes (elements deleted)" "ok ok" "$(del_elems)"
touch "$ATK_SYNC/20031.go"
wait $P5
t_eq "the window opens again (elements back)" "ok ok" "$(add_elems)"
touch "$ATK_SYNC/20032.go"
wait $P6
t_log "$(grep -h 'c4' $A.5 $A.6 | tail -12)"
t_eq "the admitted connections' second requests were read by nothing (closed, reopened)" "" "$(lines $INET | grep -F secret-c4)"

t_log "the guard's counters: $(cs stats)"
exec {CS_FD}>&-
wait "$CS_PID"
t_eq "csrvctl exits 0 at the end of its input" 0 $?
t_summary
