#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The netns resolver (lib/netns, issue 23 step 3): from a listener's pid and
# netns inode to the DNAT targets the daemon's namespace reaches it by
# (address, host-side bridge, the bridge port: the veth peer), asked as the daemon runs -- its own uid with
# exactly the unit's capabilities, no CAP_SYS_ADMIN -- against namespaces
# made here:
#   host  br0 203.0.113.1/24 2001:db8:23::1/64; up0 198.51.100.1/24 (a veth
#         to "far": the host's other network); v3 192.0.2.1/24 (no bridge)
#   c1    eth0 (peer v1 in br0) 203.0.113.2 2001:db8:23::2, and 198.51.100.2
#         which the host routes out up0, not br0; 192.0.2.77 which the host
#         routes out br0 via c2 (a next hop); 2001:db8:23::7 kept tentative
#         (DAD of 100 probes) and 2001:db8:23::8 optimistic
#   c2    eth0 (peer v2 in br0) 203.0.113.3, and 203.0.113.1 (the host's own
#         address, claimed); brc, a bridge of its own, 203.0.113.9
#   c3    eth0 (peer v3, not enslaved) 192.0.2.2
#   c4    owned by a user namespace (unshare -Urn), eth0 (peer v4 in br0) 203.0.113.4
#   c5    eth0 claims 203.0.113.5 (br0's subnet) but its peer is in a third
#         netns "far", in a bridge there
# Each answer is printed and compared whole.
set -u
source "$(dirname "$0")/../lib.sh"
t_start netns
NR=$T_ROOT/build/asan/netns_resolve
[ -x "$NR" ] || { echo "SKIP $T_NAME: $NR not built (make unit)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed"; exit 77; }

declare -A PID INO
ns_add() { ip netns add "$T_PFX-$1" && T_NETNS+=("$T_PFX-$1"); }
# a process living in namespace NS (what a container's listener is)
ns_holder() {
	nsenter --net=/run/netns/"$T_PFX-$1" -- sleep 300 &
	PID[$1]=$!; T_PIDS+=("$!")
}
hx() { in_ns "$T_PFX-host" "$@"; }
# veth NAME_IN_HOST NETNS_TARGET: eth0 in the target (a netns name or a pid)
veth() { hx ip link add "$1" type veth peer name eth0 netns "$2" && hx ip link set "$1" up; }
in_c() { in_ns "$T_PFX-$1" "${@:2}"; }

setup() {
	local c
	for c in host c1 c2 c3 c5 far; do ns_add $c || return 1; done
	hx ip link set lo up
	hx ip link add br0 type bridge && hx ip link set br0 up || return 1
	hx ip addr add 203.0.113.1/24 dev br0 && hx ip addr add 2001:db8:23::1/64 dev br0 nodad || return 1
	hx ip link add up0 type veth peer name up1 netns "$T_PFX-far" && hx ip link set up0 up &&
		in_ns "$T_PFX-far" ip link set up1 up && hx ip addr add 198.51.100.1/24 dev up0 || return 1
	veth v1 "$T_PFX-c1" && hx ip link set v1 master br0 || return 1
	veth v2 "$T_PFX-c2" && hx ip link set v2 master br0 || return 1
	veth v3 "$T_PFX-c3" && hx ip addr add 192.0.2.1/24 dev v3 || return 1
	# c5's veth goes to "far", not to the host
	in_ns "$T_PFX-far" ip link add br1 type bridge && in_ns "$T_PFX-far" ip link add v5 type veth peer name eth0 netns "$T_PFX-c5" &&
		in_ns "$T_PFX-far" ip link set v5 master br1 || return 1
	for c in c1 c2 c3 c5; do in_c $c ip link set lo up && in_c $c ip link set eth0 up || return 1; done
	in_c c1 ip addr add 203.0.113.2/24 dev eth0 && in_c c1 ip addr add 2001:db8:23::2/64 dev eth0 nodad &&
		in_c c1 ip addr add 198.51.100.2/24 dev eth0 || return 1
	in_c c2 ip addr add 203.0.113.3/24 dev eth0 && in_c c2 ip addr add 203.0.113.1/32 dev eth0 || return 1
	in_c c2 ip link add brc type bridge && in_c c2 ip link set brc up && in_c c2 ip addr add 203.0.113.9/32 dev brc ||
		return 1
	in_c c1 ip addr add 192.0.2.77/32 dev eth0 && hx ip route add 192.0.2.77/32 via 203.0.113.3 dev br0 || return 1
	in_c c1 sysctl -qw net.ipv6.conf.eth0.accept_dad=1 net.ipv6.conf.eth0.dad_transmits=100 &&
		in_c c1 ip addr add 2001:db8:23::7/64 dev eth0 || return 1
	in_c c1 sysctl -qw net.ipv6.conf.eth0.optimistic_dad=1 2>/dev/null && # (CONFIG_IPV6_OPTIMISTIC_DAD)
		in_c c1 ip addr add 2001:db8:23::8/64 dev eth0 optimistic
	in_c c3 ip addr add 192.0.2.2/24 dev eth0 || return 1
	in_c c5 ip addr add 203.0.113.5/24 dev eth0 || return 1
	for c in host c1 c2 c3 c5; do ns_holder $c; done
	# c4: a netns of a user namespace of its own, as a rootless engine's
	unshare -Urn sleep 300 &
	PID[c4]=$!; T_PIDS+=("$!")
	for _ in $(seq 50); do
		[ "$(stat -L -c %i /proc/"${PID[c4]}"/ns/net 2>/dev/null)" != "$(stat -L -c %i /proc/$$/ns/net)" ] && break
		sleep 0.05
	done
	veth v4 "${PID[c4]}" && hx ip link set v4 master br0 || return 1
	nsenter -t "${PID[c4]}" -n ip link set eth0 up && nsenter -t "${PID[c4]}" -n ip addr add 203.0.113.4/24 dev eth0 || return 1
	for c in host c1 c2 c3 c4 c5; do INO[$c]=$(stat -L -c %i /proc/"${PID[$c]}"/ns/net) || return 1; done
	t_daemon_priv
}
t_setup "namespaces" setup
t_log "pids: $(for c in "${!PID[@]}"; do printf '%s=%s ' "$c" "${PID[$c]}"; done)"

# the tool runs as the daemon does: check that first
t_eq "resolver's uid is the unit's own user" "$T_DAEMON_UID" "$(hx "${T_PRIV[@]}" id -u)"
# CAP_NET_ADMIN 12, CAP_SYS_PTRACE 19, CAP_PERFMON 38, CAP_BPF 39; no CAP_SYS_ADMIN (21)
t_eq "resolver's effective capabilities are the unit's" "000000c000081000" \
	"$(hx "${T_PRIV[@]}" awk '/^CapEff/ { print $2 }' /proc/self/status)"

# check NAME EXPECTED PID INODE ADDRESS [v6only]
check() {
	local n=$1 exp=$2 got
	shift 2
	got=$(hx "${T_PRIV[@]}" "$NR" "$@" 2>"$T_TMP/why")
	t_log "$n: $(tr '\n' ';' <<<"$got") $(cat "$T_TMP/why")"
	t_eq "$n" "$exp" "$got"
}
nl=$'\n'
OWN="userns own"

check "c1 0.0.0.0: its bridged address only" "$OWN${nl}203.0.113.2 br0 v1" "${PID[c1]}" "${INO[c1]}" 0.0.0.0
check "c1 :: (dual stack): both families" "$OWN${nl}203.0.113.2 br0 v1${nl}2001:db8:23::2 br0 v1" "${PID[c1]}" "${INO[c1]}" ::
check "c1 :: v6only: IPv6 only" "$OWN${nl}2001:db8:23::2 br0 v1" "${PID[c1]}" "${INO[c1]}" :: v6only
check "c1 203.0.113.2" "$OWN${nl}203.0.113.2 br0 v1" "${PID[c1]}" "${INO[c1]}" 203.0.113.2
check "c1 ::ffff:203.0.113.2 (v4-mapped)" "$OWN${nl}203.0.113.2 br0 v1" "${PID[c1]}" "${INO[c1]}" ::ffff:203.0.113.2
check "c1 2001:db8:23::2 v6only" "$OWN${nl}2001:db8:23::2 br0 v1" "${PID[c1]}" "${INO[c1]}" 2001:db8:23::2 v6only
check "c1 198.51.100.2: ours, but the host routes it out up0" \
	"error EADDRNOTAVAIL: 198.51.100.2: our route to it goes out up0, not bridge br0" \
	"${PID[c1]}" "${INO[c1]}" 198.51.100.2
check "c1 ::ffff:0.0.0.0 (IPv4's any, v4-mapped)" "$OWN${nl}203.0.113.2 br0 v1" "${PID[c1]}" "${INO[c1]}" ::ffff:0.0.0.0
check "c1 192.0.2.77: the host routes it out br0, but via a next hop (c2)" \
	"error EADDRNOTAVAIL: 192.0.2.77: our route to it goes out bridge br0 via a next hop, not straight" \
	"${PID[c1]}" "${INO[c1]}" 192.0.2.77
t_check "2001:db8:23::7 is still tentative in c1" bash -c "ip -n $T_PFX-c1 -6 addr show dev eth0 | grep -q '2001:db8:23::7/64 .*tentative'"
check "c1 2001:db8:23::7: tentative (DAD under way)" \
	"error EADDRNOTAVAIL: 2001:db8:23::7: tentative (duplicate address detection not done)" \
	"${PID[c1]}" "${INO[c1]}" 2001:db8:23::7 v6only
if ip -n $T_PFX-c1 -6 addr show dev eth0 | grep -q '2001:db8:23::8/64 .*optimistic'; then
	check "c1 2001:db8:23::8: optimistic (DAD under way)" \
		"error EADDRNOTAVAIL: 2001:db8:23::8: optimistic (duplicate address detection not done)" \
		"${PID[c1]}" "${INO[c1]}" 2001:db8:23::8 v6only
else
	t_log "no optimistic address here (kernel without CONFIG_IPV6_OPTIMISTIC_DAD): that case not run"
fi
check "c1 203.0.113.3: c2's address, not c1's" \
	"error EADDRNOTAVAIL: 203.0.113.3 is not a usable address of the netns" "${PID[c1]}" "${INO[c1]}" 203.0.113.3
check "c1 127.0.0.1: loopback" \
	"error EADDRNOTAVAIL: 127.0.0.1 is not a usable address of the netns" "${PID[c1]}" "${INO[c1]}" 127.0.0.1
check "c2 0.0.0.0: its bridged address only" "$OWN${nl}203.0.113.3 br0 v2" "${PID[c2]}" "${INO[c2]}" 0.0.0.0
check "c2 203.0.113.1: the host's own address, claimed" \
	"error EADDRNOTAVAIL: 203.0.113.1: our route to it goes out lo (not unicast), not bridge br0" \
	"${PID[c2]}" "${INO[c2]}" 203.0.113.1
check "c2 203.0.113.9: on an interface that is not a veth" \
	"error EADDRNOTAVAIL: 203.0.113.9 on brc: not a veth (bridge)" "${PID[c2]}" "${INO[c2]}" 203.0.113.9
check "c3 0.0.0.0: veth'd, not bridged" \
	"error EADDRNOTAVAIL: 192.0.2.2 on eth0: its peer v3 is not enslaved to a bridge" "${PID[c3]}" "${INO[c3]}" 0.0.0.0
check "c5 0.0.0.0: br0's subnet, but its veth peer is elsewhere" \
	"error EADDRNOTAVAIL: 203.0.113.5 on eth0: its veth peer is not in our netns" "${PID[c5]}" "${INO[c5]}" 0.0.0.0
check "c4 0.0.0.0: a user namespace's netns, refused" \
	"error EXDEV: process ${PID[c4]}'s netns is owned by another user namespace (a rootless engine's): its root may claim any address there" \
	"${PID[c4]}" "${INO[c4]}" 0.0.0.0
check "pid reused: c1's pid, c2's netns inode" \
	"error ESRCH: process ${PID[c1]}'s netns is ${INO[c1]}, not ${INO[c2]}: the pid was reused" \
	"${PID[c1]}" "${INO[c2]}" 0.0.0.0
sleep 0 & gone=$!; wait $gone
check "a process that is gone" "error ESRCH: process $gone is gone" "$gone" "${INO[c1]}" 0.0.0.0
check "a process of our own netns" "error EINVAL: process ${PID[host]} is in our own netns" \
	"${PID[host]}" "${INO[host]}" 0.0.0.0

# Ids in a dump of another netns are the requester's: c1's eth0 says
# IFLA_LINK_NETNSID = the host's id for itself, not the host's id as c1 sees
# it. The c1 answers above tell the two apart only if those differ.
nsid_of() { in_ns "$T_PFX-$1" ip netns list-id | awk -v n="name: $T_PFX-$2)" 'index($0, n) { print $2 }'; }
self_id=$(nsid_of host host) host_in_c1=$(nsid_of c1 host)
t_log "the host's id for itself: ${self_id:-none}; the host's id in c1: ${host_in_c1:-none}"
t_check "the c1 cases tell the requester's ids from the target's" \
	test -n "$self_id" -a -n "$host_in_c1" -a "$self_id" != "$host_in_c1"

# CAP_SYS_PTRACE is what opens another user's /proc/PID/ns/net
NOPTRACE=("${T_PRIV[@]//,+sys_ptrace/}")
got=$(hx "${NOPTRACE[@]}" "$NR" "${PID[c1]}" "${INO[c1]}" 0.0.0.0 2>"$T_TMP/why")
t_log "without CAP_SYS_PTRACE: $got"
t_eq "without CAP_SYS_PTRACE: refused" "error EACCES: /proc/${PID[c1]}/ns/net: Permission denied" "$got"
t_summary
