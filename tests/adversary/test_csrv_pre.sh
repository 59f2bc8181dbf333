#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guarded server window to a web server in a container behind a geo-block
# that drops in prerouting before DNAT (iptables-nft mangle PREROUTING,
# priority -150; issue 23 case 3): the real daemon, test_server_container.sh's
# lab and fake Docker state, with the block moved from DOCKER-USER to mangle.
# While the window is open its port (80) is pre-admitted (cports, the pair
# "porthole cw" before the mangle drop: conntrack CP), and after DNAT a CP
# connection to the served container's socket becomes guarded (S3,
# lib/nftcsrv.h): the guard judges it. Judged by the servers' logs:
#   - the blocked country's challenge for a live token is read by C1;
#   - a non-challenge request, an unknown token, a pipelined second request
#     are read by nothing;
#   - $H3:80 (C2 published on the same port: pre-admitted, DNAT sends
#     it elsewhere than the served socket, F4 drops it), $H:8080 (C2), C1 routed to directly, and a host process listening on
#     $H2:80 (no DNAT: the pre-admitted connection ends at the host) read
#     nothing;
#   - the allowed country is not judged;
# then the same with the IPv4 block in an nftables chain at -150 (a few
# probes); and after the daemon stops the host's ruleset is as before, byte for byte
# (counters aside).
set -u
source "$(dirname "$0")/../lib.sh"
t_start csrv_pre lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
[ -n "$T_CG2" ] || { echo "SKIP $T_NAME: no cgroup v2 mount"; exit 77; }

BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py RAW=$T_ROOT/tests/tools/httpraw.py
TOK=Good_tok3n-123 BAD=Unknown_tok3n-456
. "$T_ROOT/tests/lab/docker_rules.sh"
t_setup "containers" nslab_containers 2
# DOCKER-USER drops an address nobody uses: the block is before DNAT
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 203.0.113.250/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 2001:db8:ffff::250/128 128
t_setup "no input filter (the block is before DNAT)" in_host nft delete table inet filter
# C2 published on the window's port number too, on a third host address
H3=203.0.113.12
t_setup "a third host address" in_host ip addr add $H3/24 dev $LAB_IF_HOST
t_setup "C2 on $H3:80" in_host iptables -t nat -A PREROUTING -d $H3 -p tcp -m tcp --dport 80 -j DNAT --to-destination $C2:80
t_setup "the IPv4 geo-block in mangle PREROUTING" in_host iptables -t mangle -A PREROUTING -s $INET/32 -j DROP
t_setup "the IPv6 geo-block in mangle PREROUTING" in_host ip6tables -t mangle -A PREROUTING -s $INET6/128 -j DROP
until_ok() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

# ---- the fake engine (test_server_container.sh's) ----
chmod 755 "$T_TMP"
DR=$T_TMP/docker
mkdir -p "$DR/containers" && chmod 755 "$DR" "$DR/containers"
PARENT=$T_PFX-dk
mkdir -p "$T_CG2/$PARENT" && T_CGROUPS+=("$T_CG2/$PARENT")
ID1=$(printf 'c1%062d' 0 | tr 0 a) ID2=$(printf 'c2%062d' 0 | tr 0 b)
container() { # NAME ID NS
	mkdir -p "$T_CG2/$PARENT/$2" && T_CGROUPS+=("$T_CG2/$PARENT/$2")
	nsenter --net=/run/netns/"$T_PFX-$3" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$2" sleep 900 &
	IPID=$!
	T_PIDS+=("$IPID")
	until_ok 50 grep -qs "$PARENT/$2" "/proc/$IPID/cgroup" || { echo "container $1: its init not in its cgroup"; return 1; }
	mkdir -p "$DR/containers/$2"
	printf '{"ID":"%s","Name":"/%s","State":{"Running":true,"Paused":false,"Pid":%s}}\n' "$2" "$1" "$IPID" \
		>"$DR/containers/$2/config.v2.json"
}
t_setup "container web (C1)" container web "$ID1" c1
t_setup "container other (C2)" container other "$ID2" c2

WWW=$T_TMP/www ACME=$T_TMP/www/.well-known/acme-challenge
mkdir -p "$ACME"
chmod 755 "$WWW" "$WWW/.well-known" "$ACME"
LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log LOG3=$T_TMP/h.log
: >"$LOG1"; : >"$LOG2"; : >"$LOG3"
serve() { # ID NS LOG NAME OUT ADDR...
	local id=$1 ns=$2 log=$3 name=$4 out=$5
	shift 5
	nsenter --net=/run/netns/"$T_PFX-$ns" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$id" \
		"$PY" "$HL" serve "$log" "$name" 80 900 "$@" >"$out" 2>&1 &
	SPID=$!
	T_PIDS+=("$SPID")
	wait_for "$out" listening 100 || { echo "server $name did not start: $(cat "$out")"; return 1; }
}
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done
ruleset() { in_host nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }
ruleset >"$T_TMP/ruleset.before"

# shellcheck source=../lab/guardprobe.sh
. "$T_ROOT/tests/lab/guardprobe.sh"

t_setup "daemon start" daemon_start "ports = 80" "docker_root = $DR" "serve = container docker:web webroot=$WWW"
serve "$ID2" c2 "$LOG2" c2 "$T_TMP/c2.out" $C2 $C62 || t_fail "C2's server"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1.out" $C1 $C61 || t_fail "C1's server"
P1=$SPID
# a host process on :80 of another host address (no DNAT to it)
in_host "$PY" "$HL" serve "$LOG3" host 80 900 $H2 >"$T_TMP/h.out" 2>&1 &
T_PIDS+=("$!")
wait_for "$T_TMP/h.out" listening 100 || t_fail "the host process's server started"
t_check "the daemon finds web's listeners" \
	wait_count "$T_DLOG" "server docker:web: its listener pid $P1 tcp/80 in cgroup /$PARENT/$ID1" 2 30
nothing "no token: the blocked country's challenge to $H:80 is dropped by the mangle block" inet $H 80 "$TOK" "$(challenge $TOK)"

echo token >"$ACME/$TOK" && chmod 644 "$ACME/$TOK"
t_check "a token: the window opens" wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web" 30
t_log "$(in_host iptables -t mangle -S PREROUTING 2>/dev/null | tr '\n' '|')"
t_check "the pair 'porthole cw' and the guard pair sit before the mangle drop" bash -c \
	"in_host() { nsenter --net=/run/netns/$T_PFX-host \"\$@\"; }; in_host iptables -t mangle -S PREROUTING | grep -n . | \
	awk '/porthole cw/ { c = NR } /porthole guard/ { g = NR } /-j DROP/ && !/porthole/ { d = NR } END { exit !(c && g && c < d && g < d) }'"
# (the handshake is the kernel's: C1 accepts; the guard drops the request,
# C1 reads an empty one and answers after its 1 s wait)
m=$(wc -l <"$LOG1")
out=$(send inet $H 80 "$(plain established)")
settle "$LOG1" "$m" "$INET"
got=$(requests "$LOG1" "$m" "$INET") rd=$(logged "$LOG1" "$m" "$INET" established)
t_log "a non-challenge request from the blocked country: the client saw: $out; C1 logged: $got"
t_check "window: the blocked country's connection to $H:80 passes the mangle drop and reaches C1, which reads nothing of it" \
	test "$out" != connect-timeout -a -n "$got" -a -z "$rd"
for v in "4 $H" "6 $H6"; do
	set -- $v
	nothing "window, IPv$1: a non-challenge request through $2:80 is read by nothing" inet $2 80 /secret "$(plain secret)"
	nothing "window, IPv$1: a challenge for an unknown token is read by nothing" inet $2 80 "$BAD" "$(challenge $BAD)"
	nothing "window, IPv$1: a live token's challenge with a second request pipelined is read by nothing" inet $2 80 "$TOK" \
		"$(challenge $TOK)$(plain pipelined)"
	read_by "window, IPv$1: the live token's challenge is read by C1" inet $2 80 "$TOK" "$LOG1" "$(challenge $TOK)"
	read_by "window, IPv$1: the allowed country is not judged (GET / reaches C1)" allow $2 80 /allowed "$LOG1" "$(plain allowed)"
done
nothing "window, IPv4: $H3:80 (C2 published on the window's port) reads nothing" inet $H3 80 /c2same "$(plain c2same)"
nothing "window, IPv4: $H:8080 (C2, not served) stays dropped" inet $H 8080 /c2 "$(plain c2)"
nothing "window, IPv4: C1 routed to directly (no DNAT) stays dropped" inet $C1 80 /direct "$(plain direct)"
LOG2=$LOG3 nothing "window, IPv4: the host process on $H2:80 reads nothing" inet $H2 80 /hostproc "$(plain hostproc)"
LOG2=$LOG3 read_by "window, IPv4: the allowed country reaches the host process on $H2:80" allow $H2 80 /hostok "$LOG3" "$(plain hostok)"

rm -f "$ACME/$TOK"
t_check "the token removed: the window closes" wait_for "$T_DLOG" "window [0-9]* closed (tokens-gone)" 30
nothing "no window: the blocked country's challenge is dropped by the mangle block" inet $H 80 "$TOK" "$(challenge $TOK)"
t_check "no 'porthole cw' pair left" bash -c "! nsenter --net=/run/netns/$T_PFX-host nft list ruleset | grep -q 'porthole cw'"

# ---- the IPv4 block in an nftables chain at -150 instead (put back after) ----
geo_nft() {
	printf '%s\n' 'table inet geo {' ' chain pre {' '  type filter hook prerouting priority -150; policy accept;' \
		"  ip saddr $INET counter drop" ' }' '}' | in_host nft -f -
}
t_setup "the IPv4 block moved to an nft chain at -150" in_host iptables -t mangle -D PREROUTING -s $INET/32 -j DROP
t_setup "table inet geo" geo_nft
echo token >"$ACME/$TOK" && chmod 644 "$ACME/$TOK"
t_check "nft block: the window opens again" wait_count "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web" 2 30
t_check "nft block: the pair sits before its drop" bash -c \
	"nsenter --net=/run/netns/$T_PFX-host nft list chain inet geo pre | grep -n . | awk '/porthole cw/ { c = NR } / drop/ && !/porthole/ { d = NR } END { exit !(c && c < d) }'"
nothing "nft block: a non-challenge request is read by nothing" inet $H 80 /nsecret "$(plain nsecret)"
read_by "nft block: the live token's challenge is read by C1" inet $H 80 "$TOK" "$LOG1" "$(challenge $TOK)"
nothing "nft block: $H3:80 (C2) reads nothing" inet $H3 80 /nc2 "$(plain nc2)"
LOG2=$LOG3 nothing "nft block: the host process on $H2:80 reads nothing" inet $H2 80 /nhost "$(plain nhost)"
rm -f "$ACME/$TOK"
t_check "nft block: the window closes" wait_count "$T_DLOG" "window [0-9]* closed (tokens-gone)" 2 30
t_setup "the nft block gone" in_host nft delete table inet geo
t_setup "the IPv4 block back in mangle" in_host iptables -t mangle -A PREROUTING -s $INET/32 -j DROP
daemon_stop; rc=$?
[ $rc = 0 ] || { t_log "the daemon log:"; t_log "$(tail -20 "$T_DLOG")"; }
t_eq "the daemon stops cleanly" 0 $rc
ruleset >"$T_TMP/ruleset.after"
t_check "the host's ruleset is as before the daemon (counters aside)" diff "$T_TMP/ruleset.before" "$T_TMP/ruleset.after"
t_summary
