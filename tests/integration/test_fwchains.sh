#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The host's forward-hook chains as targets of the one host rule (issue 23,
# docs/design/containers.md §4 "Host forward-hook chains"): with a
# `designate ... published` line and chains = auto, porthole's rule goes to
# the top of ip filter DOCKER-USER when it exists, else to the top of every
# forward filter base chain that may drop (iptables-nft's FORWARD, an inet
# table's forward chain), never into Docker >= 29's docker-bridges or
# netavark's inet netavark tables; a rule that something put below a jump or
# drop (Docker re-inserting its jump, a flush of DOCKER-USER by ufw-docker, a
# drop inserted above) is put back at the top. Without a published line,
# forward chains get nothing (as before).
#
# The host rules are placed by a plain host window (`porthole run --
# listen.py`), which places every target's rule (a container window does the
# same: test_container.sh, e2e/test_containers.sh). The rulesets are built by hand in iptables-nft's and
# nft's shapes (no engine runs), and `porthole check` names each engine shape
# and what it does with a geo-block in prerouting before DNAT: the pair at
# -150 (its plan, or the static pair for chains = none), a FAIL for a drop
# it cannot repeat and for raw priority.
set -u
source "$(dirname "$0")/../lib.sh"
t_start fwchains lab
command -v iptables >/dev/null || { echo "SKIP $T_NAME: iptables (iptables-nft) not installed (make deps)"; exit 77; }
iptables -V 2>/dev/null | grep -q nf_tables || { echo "SKIP $T_NAME: iptables is not iptables-nft"; exit 77; }

ROOT_BEFORE=$(nft list ruleset 2>/dev/null | sha256sum)
PUB="designate = cgroup /porthole-fwchains published ports=80"
ipt() { in_host iptables "$@"; }
# first_ipt CHAIN [TABLE]: the first rule of an iptables-nft chain (-S form)
first_ipt() { ipt -t "${2:-filter}" -S "$1" | grep -v '^-[NP] ' | head -1; }
# first_nft FAMILY TABLE CHAIN: the first rule of an nft chain
first_nft() { in_host nft list chain "$1" "$2" "$3" | sed -n '/type filter hook/{n;p;q}'; }
ours() { grep -q 'comment "\?porthole"\?\( \|$\)'; }
# wait_top DESC CMD...: wait (5 s) until CMD's output (a first rule) is ours
wait_top() {
	local d=$1 i; shift
	for i in $(seq 50); do "$@" | ours && { t_pass "$d"; return 0; }; sleep 0.1; done
	t_fail "$d (first rule: $("$@"))"
}
# wait_eq DESC EXPECTED CMD...: wait (5 s) until CMD prints EXPECTED
wait_eq() {
	local d=$1 want=$2 i got; shift 2
	for i in $(seq 50); do got=$("$@"); [ "$got" = "$want" ] && { t_pass "$d"; return 0; }; sleep 0.1; done
	t_fail "$d (expected '$want', got '$got')"
}
count_ours() { ipt -S "$1" | grep -c 'comment porthole'; }
count_nft_ours() { in_host nft list chain "$1" "$2" "$3" | grep -c 'comment "porthole"'; }
window() { run_listener "$1" 80 60 "$H" || { t_fail "$1: porthole run opened a window"; cat "$T_TMP/$1.err"; }; }
close_window() { end_listener; for _ in $(seq 50); do [ "$(porthole_rules 2>/dev/null)" = 0 ] && return 0; sleep 0.1; done; return 1; }

# Docker 20.10's filter table (iptables-nft), an admin's geo-block in
# DOCKER-USER, and its nat DOCKER chain
docker_shape() {
	in_host iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o br0 -j DOCKER
-A DOCKER-USER -s $INET/32 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
EOF
}
# netavark 1.4 (no admin chain: the admin's block at FORWARD's top), an
# admin's inet forward chain, and the engines' own nft tables
netavark_shape() {
	in_host iptables-restore <<EOF || return 1
*filter
:FORWARD DROP [0:0]
:NETAVARK_FORWARD - [0:0]
-A FORWARD -j NETAVARK_FORWARD
-A NETAVARK_FORWARD -d 10.88.0.0/16 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
EOF
	nft_shapes
}
# Docker's filter table with netavark's chain in it too (a host with both)
both_shapes() {
	docker_shape && ipt -N NETAVARK_FORWARD && ipt -I FORWARD -j NETAVARK_FORWARD && nft_shapes
}
nft_shapes() {
	in_host nft -f - <<EOF
table inet fw {
	chain forward { type filter hook forward priority filter; policy drop; ip saddr $ALLOW accept; }
}
table ip docker-bridges {
	chain filter-FORWARD { type filter hook forward priority filter; policy accept; drop comment "UNPUBLISHED PORT DROP"; }
}
table inet netavark {
	chain FORWARD { type filter hook forward priority filter; policy accept; ct state invalid drop; }
}
EOF
}
clear_shapes() {
	local t
	for t in "ip filter" "ip nat" "ip mangle" "ip raw" "inet fw" "ip docker-bridges" "inet netavark"; do
		in_host nft delete table $t >/dev/null 2>&1
	done
	return 0
}

# porthole check CONFIG OUT, in the host namespace; its exit code in CHECK_RC
chk() { in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$1" >"$2" 2>&1; CHECK_RC=$?; }

# ---- Docker (iptables): DOCKER-USER ----------------------------------------------------------
t_setup "Docker-shaped ruleset" docker_shape
t_setup "daemon with a published line" daemon_start "$PUB"
printf '%s\nsocket = %s\n' "$PUB" "$T_SOCK" >"$T_TMP/pub.conf"
printf 'socket = %s\n' "$T_SOCK" >"$T_TMP/nopub.conf"
chk "$T_TMP/pub.conf" "$T_TMP/c0.txt"
t_check "check, Docker: FORWARD's rule is DOCKER-USER's (its jump comes first)" \
	grep -q '^OK .*chain ip filter FORWARD .*its DOCKER-USER chain holds' "$T_TMP/c0.txt"
window docker
t_check "Docker: porthole's rule is the first of DOCKER-USER" ours < <(first_ipt DOCKER-USER)
t_eq "Docker: FORWARD gets no rule (it jumps to DOCKER-USER first)" 0 "$(count_ours FORWARD)"
t_eq "Docker: the lab's inet input chain keeps its rule" 1 "$(count_nft_ours inet filter input)"
# dockerd's start: delete and re-insert its jump at FORWARD's top
ipt -D FORWARD -j DOCKER-USER && ipt -I FORWARD -j DOCKER-USER
wait_top "Docker restart (FORWARD jump re-inserted): DOCKER-USER still starts with porthole's rule" first_ipt DOCKER-USER
# ufw reload with ufw-docker: DOCKER-USER flushed and refilled
ipt -N ufw-user-forward && ipt -F DOCKER-USER && ipt -A DOCKER-USER -j ufw-user-forward &&
	ipt -A DOCKER-USER -s "$INET/32" -j DROP && ipt -A DOCKER-USER -j RETURN
wait_top "DOCKER-USER flushed and refilled (ufw-docker): porthole's rule is back at its top" first_ipt DOCKER-USER
# an admin's drop inserted above it
ipt -I DOCKER-USER -s "$INET/32" -j DROP
wait_top "a drop inserted above it in DOCKER-USER: porthole's rule is moved back to the top" first_ipt DOCKER-USER
t_eq "DOCKER-USER holds porthole's rule once" 1 "$(count_ours DOCKER-USER)"
# an admin's drop above Docker's jump in FORWARD: FORWARD needs the rule too,
# until Docker's next start puts its jump back above everything
ipt -I FORWARD -s "$INET/32" -j DROP
wait_top "a drop above Docker's jump in FORWARD: FORWARD gets porthole's rule at its top too" first_ipt FORWARD
ipt -D FORWARD -j DOCKER-USER && ipt -I FORWARD -j DOCKER-USER
wait_eq "Docker's start puts its jump first again: FORWARD's rule goes (DOCKER-USER's does the work)" 0 count_ours FORWARD
t_check "... and DOCKER-USER still starts with porthole's rule" ours < <(first_ipt DOCKER-USER)
ipt -D FORWARD -s "$INET/32" -j DROP
t_setup "window closed: the host rules go" close_window
t_eq "DOCKER-USER: no porthole rule after the window" 0 "$(count_ours DOCKER-USER)"

# ---- netavark (iptables, no admin chain), an inet forward chain ------------------------------
clear_shapes
t_setup "netavark-shaped ruleset, inet forward chain, engines' nft tables" netavark_shape
window netavark
t_check "netavark: porthole's rule is the first of ip filter FORWARD" ours < <(first_ipt FORWARD)
t_check "porthole's rule is the first of inet fw forward" ours < <(first_nft inet fw forward)
t_eq "Docker >= 29's ip docker-bridges table is not written" 0 "$(count_nft_ours ip docker-bridges filter-FORWARD)"
t_eq "netavark's inet netavark table is not written" 0 "$(count_nft_ours inet netavark FORWARD)"
ipt -D FORWARD -j NETAVARK_FORWARD && ipt -I FORWARD -j NETAVARK_FORWARD
wait_top "a jump re-inserted at FORWARD's top (iptables -D + -I): porthole's rule is moved back above it" first_ipt FORWARD
t_eq "FORWARD holds porthole's rule once" 1 "$(count_ours FORWARD)"
in_host nft insert rule inet fw forward ip saddr "$INET" drop
wait_top "a drop inserted at the top of inet fw forward: porthole's rule is moved back above it" first_nft inet fw forward
t_eq "inet fw forward holds porthole's rule once" 1 "$(count_nft_ours inet fw forward)"
# a tool that puts its jump back above porthole's rule at every change: the
# daemon gives up moving after a burst instead of fighting forever
fight() {
	local n=0 i
	for i in $(seq 200); do
		grep -q 'put below a jump or drop' "$T_DLOG" && break
		if first_ipt FORWARD | ours; then
			ipt -D FORWARD -j NETAVARK_FORWARD && ipt -I FORWARD -j NETAVARK_FORWARD && n=$((n + 1))
		fi
		sleep 0.02
	done
	echo "$n"
}
N=$(fight)
t_check "a tool fighting for FORWARD's top: the daemon stops moving its rule and says so (after $N re-inserts)" \
	grep -q 'put below a jump or drop 10 times' "$T_DLOG"
t_check "... within its burst of 10 moves (re-inserts: $N)" [ "$N" -le 11 ]
t_check "... and the daemon still answers" ph status
t_setup "window closed: the host rules go" close_window

# ---- no published line: forward chains untouched -----------------------------------------------
daemon_stop
clear_shapes
t_setup "Docker- and netavark-shaped ruleset" both_shapes
t_setup "daemon without a published line" daemon_start "designate = cgroup /porthole-fwchains ports=80"
window nopub
t_eq "no published line: DOCKER-USER gets no rule" 0 "$(count_ours DOCKER-USER)"
t_eq "no published line: FORWARD gets no rule" 0 "$(count_ours FORWARD)"
t_eq "no published line: inet fw forward gets no rule" 0 "$(count_nft_ours inet fw forward)"
t_eq "no published line: the input chain gets its rule as before" 1 "$(count_nft_ours inet filter input)"
end_listener

# ---- porthole check: each engine shape, one line each ------------------------------------------
ipt -N CNI-FORWARD && ipt -N CNI-ADMIN && ipt -I FORWARD -j CNI-FORWARD && ipt -A CNI-FORWARD -j CNI-ADMIN
chk "$T_TMP/pub.conf" "$T_TMP/c1.txt"
t_eq "check, every engine shape, published: exit 0" 0 "$CHECK_RC"
t_check "check: Docker (iptables) and DOCKER-USER as the rule's chain" \
	grep -q '^OK .*containers Docker (iptables) .*DOCKER-USER chains.*top of .*ip filter DOCKER-USER' "$T_TMP/c1.txt"
t_check "check: netavark (iptables)" grep -q '^OK .*containers Podman netavark (iptables) .*NETAVARK' "$T_TMP/c1.txt"
t_check "check: Docker >= 29 (nftables), its table never written" \
	grep -q '^OK .*containers Docker >= 29 (nftables) .*docker-bridges.*never written' "$T_TMP/c1.txt"
t_check "check: netavark (nftables)" grep -q '^OK .*containers Podman netavark (nftables) .*inet netavark' "$T_TMP/c1.txt"
t_check "check: CNI, and CNI-ADMIN among the rule's chains" grep -q '^OK .*containers CNI .*ip filter CNI-ADMIN' "$T_TMP/c1.txt"
t_check "check: the inet forward chain is a target" grep -q '^OK .*chain inet fw forward .*container windows' "$T_TMP/c1.txt"
t_check "check: FORWARD is a target too (CNI's and netavark's jumps come before DOCKER-USER's)" \
	grep -q '^OK .*chain ip filter FORWARD .*porthole inserts its one rule at the top for container windows' "$T_TMP/c1.txt"
chk "$T_TMP/nopub.conf" "$T_TMP/c2.txt"
t_eq "check, no published line: exit 0" 0 "$CHECK_RC"
t_check "check, no published line: porthole does nothing for containers" \
	grep -q '^OK .*containers Docker (iptables) .*no .designate ... published. line: porthole does nothing' "$T_TMP/c2.txt"
t_eq "check, no published line: no forward chain named" 0 "$(grep -Ec '^[A-Z]+ +chain [a-z0-9]+ [^ ]+ [^ ]*(FORWARD|forward) ' "$T_TMP/c2.txt")"
# a geo-block in prerouting before DNAT (mangle, -150): supported, the pair
ipt -t mangle -A PREROUTING -s "$INET/32" -p tcp --dport 80 -j DROP
chk "$T_TMP/pub.conf" "$T_TMP/c3.txt"
t_eq "check, pre-DNAT geo-block with a published line: exit 0" 0 "$CHECK_RC"
t_check "check: OK, porthole puts its pair before each drop there" \
	grep -q '^OK .*containers: chain ip mangle PREROUTING .*priority -150, before DNAT: while a container window is open, porthole marks' "$T_TMP/c3.txt"
t_check "check: ... its plan finds the drop point" grep -q '^OK .*containers before DNAT .*1 drop point(s)' "$T_TMP/c3.txt"
printf '%s\nchains = none\nsocket = %s\n' "$PUB" "$T_SOCK" >"$T_TMP/static.conf"
chk "$T_TMP/static.conf" "$T_TMP/c5.txt"
t_check "check, chains = none: the static pair as iptables commands" \
	grep -q "^OK .*containers: chain ip mangle PREROUTING .*CONNMARK --set-xmark 0xfc000000/0xff000000' then '-p tcp -m multiport --dports 80 -m connmark --mark 0xfc000000/0xfe000000 -j ACCEPT'" "$T_TMP/c5.txt"
chk "$T_TMP/nopub.conf" "$T_TMP/c4.txt"
t_eq "check, pre-DNAT geo-block, no published line: exit 0" 0 "$CHECK_RC"
t_check "check: nothing asked without a published line" \
	grep -q '^OK .*containers: chain ip mangle PREROUTING .*no published line, porthole does nothing' "$T_TMP/c4.txt"
# a web server in a container behind it: its port pre-admitted, guarded
# after DNAT (tests/adversary/test_csrv_pre.sh shows it), said
mkdir -p "$T_TMP/www"
printf 'serve = container docker:web webroot=%s\nsocket = %s\n' "$T_TMP/www" "$T_SOCK" >"$T_TMP/csrv.conf"
chk "$T_TMP/csrv.conf" "$T_TMP/c8.txt"
t_check "check, pre-DNAT geo-block with a serve = container line: no FAIL for it" \
	bash -c "! grep -q '^FAIL .*containers: chain ip mangle PREROUTING' '$T_TMP/c8.txt'"
t_check "check: OK, a served container behind a pre-DNAT block is guarded after DNAT" \
	grep -q '^OK .*containers: chain ip mangle PREROUTING .*priority -150, before DNAT, a web server in a container .*guarded' "$T_TMP/c8.txt"
# a drop whose matches cannot be repeated: the window would be refused
ipt -t mangle -I PREROUTING -s "$INET/32" -m limit --limit 1/s -j DROP
chk "$T_TMP/pub.conf" "$T_TMP/c6.txt"
t_eq "check, an unrepeatable drop before DNAT: exit 1" 1 "$CHECK_RC"
t_check "check: FAIL, the rule named" grep -q '^FAIL .*containers before DNAT .*window would be refused: .*ip mangle PREROUTING drops with a match porthole cannot repeat' "$T_TMP/c6.txt"
ipt -t mangle -D PREROUTING -s "$INET/32" -m limit --limit 1/s -j DROP
# raw priority: unsupported
ipt -t raw -A PREROUTING -s "$INET/32" -p tcp --dport 80 -j DROP
chk "$T_TMP/pub.conf" "$T_TMP/c7.txt"
t_eq "check, a raw-priority geo-block with a published line: exit 1" 1 "$CHECK_RC"
t_check "check: FAIL, raw priority is not supported" \
	grep -q '^FAIL .*containers: chain ip raw PREROUTING .*priority -300, before porthole can mark a connection (-190): not supported' "$T_TMP/c7.txt"
in_host nft delete table ip raw
# a reverse-path filter at raw priority (firewalld's shape): no FAIL
in_host nft add table inet rpf
in_host nft add chain inet rpf pre '{ type filter hook prerouting priority -290; policy accept; }'
in_host nft add rule inet rpf pre meta nfproto ipv6 fib saddr . mark . iif oif missing drop
chk "$T_TMP/pub.conf" "$T_TMP/c8.txt"
t_eq "check, a reverse-path filter at raw priority: exit 0" 0 "$CHECK_RC"
t_check "check: OK, it drops only by a reverse-path filter" \
	grep -q '^OK .*containers: chain inet rpf pre .*only by a reverse-path filter' "$T_TMP/c8.txt"
in_host nft delete table inet rpf
[ "$T_FAIL" = 0 ] || { for f in "$T_TMP"/c[0-8].txt; do echo "== $f"; grep -i 'container\|forward' "$f"; done; }

daemon_stop
t_eq "the root namespace's ruleset is untouched" "$ROOT_BEFORE" "$(nft list ruleset 2>/dev/null | sha256sum)"
t_summary
