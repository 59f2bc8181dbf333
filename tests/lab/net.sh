#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/net.sh — the one lab network of porthole's tests: its address plan,
# the one place that builds its namespaces (lab_net_up, lab_net_downstream,
# lab_net_containers),
# the host's geo-block ruleset, and the one probe. Sourced by tests/lab/lab.sh
# (the e2e, kernel, systemd tiers and the demo, which add pebble on top:
# lab_up) and by tests/lib.sh (integration, adversary, bench: nslab_up). No
# processes: building the lab starts none, so removing its namespaces removes
# it.
#
# Namespaces PREFIX-host, PREFIX-inet, PREFIX-allow (and PREFIX-down when
# asked); lab.sh's PREFIX is LAB_PREFIX (phl...), tests/lib.sh's is pht$$.
# Links are made inside the namespaces: nothing ever appears in the root
# namespace. Only documentation addresses.
#
# Address plan:
#   host   eth0  203.0.113.10/24 203.0.113.11/24  2001:db8:1::10/64 2001:db8:1::11/64
#                default via 203.0.113.1 / 2001:db8:1::1 (inet)
#          d0    192.0.2.129/25  2001:db8:d0::1/64      (only with the downstream)
#   allow  eth0  198.51.100.10/24  2001:db8:a11::10/64, default via inet
#   inet   lo    192.0.2.1/32  2001:db8:bad::1/128   ("blocked country": the source
#                of every connection inet makes; pebble and challtestsrv listen there)
#          h0    203.0.113.1/24  2001:db8:1::1/64  (noprefixroute; routes use src above)
#          a0    198.51.100.1/24 2001:db8:a11::1/64
#          forwards between host and allow; routes the downstream network to the host.
#   down   eth0  192.0.2.130/25  2001:db8:d0::20/64, default via the host (which
#                forwards): a server behind the host (lab_net_downstream)
#   containers (lab_net_containers): a bridge c0 in the host, 192.0.2.129/25
#                2001:db8:c0::1/64, and namespaces PREFIX-cN with eth0 veth'd to
#                it (host side cN): 192.0.2.(129+N)/25 2001:db8:c0::(1+N)/64,
#                default via the bridge; inet routes both networks to the host.
#                (The same /25 as the downstream network: a test asks for one
#                or the other.)
#   host firewall (lab_host_ruleset): table inet filter, input policy drop, tcp
#   {22,80,443} only from @allowed_v4 {198.51.100.0/24} / @allowed_v6 {2001:db8:a11::/48}.

LAB_HOST_V4=203.0.113.10
LAB_HOST_V4_ALT=203.0.113.11
LAB_HOST_V6=2001:db8:1::10
LAB_HOST_V6_ALT=2001:db8:1::11
LAB_HOST_GW_V4=203.0.113.1
LAB_HOST_GW_V6=2001:db8:1::1
LAB_INET_V4=192.0.2.1
LAB_INET_V6=2001:db8:bad::1
LAB_ALLOW_V4=198.51.100.10
LAB_ALLOW_V6=2001:db8:a11::10
LAB_ALLOW_GW_V4=198.51.100.1
LAB_ALLOW_GW_V6=2001:db8:a11::1
LAB_ALLOWED_SET_V4=198.51.100.0/24
LAB_ALLOWED_SET_V6=2001:db8:a11::/48
LAB_DOWN_NET_V4=192.0.2.128/25
LAB_DOWN_NET_V6=2001:db8:d0::/64
LAB_DOWN_GW_V4=192.0.2.129
LAB_DOWN_GW_V6=2001:db8:d0::1
LAB_DOWN_V4=192.0.2.130
LAB_DOWN_V6=2001:db8:d0::20
LAB_CTR_BR=c0
LAB_CTR_GW_V4=192.0.2.129
LAB_CTR_GW_V6=2001:db8:c0::1
# link names (each inside its namespace)
LAB_IF_HOST=eth0        # host: its link to inet
LAB_IF_HOST_DOWN=d0     # host: its link to the downstream namespace
LAB_IF_INET_HOST=h0     # inet: its link to the host
LAB_IF_INET_ALLOW=a0    # inet: its link to allow
LAB_IF_ALLOW=eth0       # allow: its link to inet
LAB_IF_DOWN=eth0        # down: its link to the host
LAB_PROBE_TIMEOUT=${LAB_PROBE_TIMEOUT:-1}
# a probe that should connect and got no answer tries once more, this long (s)
LAB_PROBE_OPEN_RETRY=${LAB_PROBE_OPEN_RETRY:-8}

_lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Run "$@", and on failure print DESC and the command's output.
_lab_run() {
	local desc=$1 out; shift
	if ! out=$("$@" 2>&1); then
		_lab_log "FAILED: $desc: $*"
		[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/lab:   /' >&2
		return 1
	fi
}

# lab_in_sysctl NSNAME KEY=VAL...
lab_in_sysctl() {
	local ns=$1; shift
	_lab_run "sysctl in $ns: $*" nsenter --net="/run/netns/$ns" -- sysctl -q -w "$@"
}

# _lab_mk_ns NSNAME — a namespace with lo up, no DAD and no RA autoconf: the
# sysctls are set before any link exists, so that the links inherit them.
_lab_mk_ns() {
	_lab_run "create netns $1" ip netns add "$1" || return 1
	lab_in_sysctl "$1" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 || return 1
	_lab_run "lo up in $1" ip -n "$1" link set lo up
}

# lab_net_up PREFIX — build the lab network (the plan above) in namespaces
# PREFIX-host, PREFIX-inet, PREFIX-allow; returns when both families route end
# to end (allow -> host:22 answers with a RST). No firewall: load
# lab_host_ruleset yourself. On failure returns 1 and leaves what it built for
# the caller's cleanup (which deletes those namespaces).
lab_net_up() {
	local p=$1 ns
	local nh=$p-host ni=$p-inet na=$p-allow
	for ns in "$nh" "$ni" "$na"; do _lab_mk_ns "$ns" || return 1; done
	lab_in_sysctl "$ni" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.forwarding=1 || return 1
	_lab_run "veth inet<->host" ip -n "$ni" link add "$LAB_IF_INET_HOST" type veth peer name "$LAB_IF_HOST" netns "$nh" || return 1
	_lab_run "veth inet<->allow" ip -n "$ni" link add "$LAB_IF_INET_ALLOW" type veth peer name "$LAB_IF_ALLOW" netns "$na" || return 1

	# inet: its own addresses on lo; link addresses without prefix routes, replaced by
	# routes whose preferred source is the "blocked country" address.
	local -a I=(ip -n "$ni") hi=(dev "$LAB_IF_INET_HOST") ai=(dev "$LAB_IF_INET_ALLOW")
	_lab_run "inet lo v4" "${I[@]}" addr add "$LAB_INET_V4/32" dev lo || return 1
	_lab_run "inet lo v6" "${I[@]}" addr add "$LAB_INET_V6/128" dev lo nodad || return 1
	_lab_run "inet h0 v4" "${I[@]}" addr add "$LAB_HOST_GW_V4/24" "${hi[@]}" noprefixroute || return 1
	_lab_run "inet h0 v6" "${I[@]}" addr add "$LAB_HOST_GW_V6/64" "${hi[@]}" noprefixroute nodad || return 1
	_lab_run "inet a0 v4" "${I[@]}" addr add "$LAB_ALLOW_GW_V4/24" "${ai[@]}" noprefixroute || return 1
	_lab_run "inet a0 v6" "${I[@]}" addr add "$LAB_ALLOW_GW_V6/64" "${ai[@]}" noprefixroute nodad || return 1
	_lab_run "inet h0 up" "${I[@]}" link set "$LAB_IF_INET_HOST" up || return 1
	_lab_run "inet a0 up" "${I[@]}" link set "$LAB_IF_INET_ALLOW" up || return 1
	_lab_run "inet route host v4" "${I[@]}" route add 203.0.113.0/24 "${hi[@]}" src "$LAB_INET_V4" || return 1
	_lab_run "inet route host v6" "${I[@]}" -6 route add 2001:db8:1::/64 "${hi[@]}" src "$LAB_INET_V6" || return 1
	_lab_run "inet route allow v4" "${I[@]}" route add "$LAB_ALLOWED_SET_V4" "${ai[@]}" src "$LAB_INET_V4" || return 1
	_lab_run "inet route allow v6" "${I[@]}" -6 route add "$LAB_ALLOWED_SET_V6" "${ai[@]}" src "$LAB_INET_V6" || return 1

	local -a H=(ip -n "$nh") hd=(dev "$LAB_IF_HOST")
	_lab_run "host v4" "${H[@]}" addr add "$LAB_HOST_V4/24" "${hd[@]}" || return 1
	_lab_run "host v4 alt" "${H[@]}" addr add "$LAB_HOST_V4_ALT/24" "${hd[@]}" || return 1
	# IPv6 lists (and, on a tie, picks as source) the newest address first: add the
	# primary last so that outgoing IPv6 connections use it, like IPv4 does.
	_lab_run "host v6 alt" "${H[@]}" addr add "$LAB_HOST_V6_ALT/64" "${hd[@]}" nodad || return 1
	_lab_run "host v6" "${H[@]}" addr add "$LAB_HOST_V6/64" "${hd[@]}" nodad || return 1
	_lab_run "host link up" "${H[@]}" link set "$LAB_IF_HOST" up || return 1
	_lab_run "host default v4" "${H[@]}" route add default via "$LAB_HOST_GW_V4" "${hd[@]}" || return 1
	_lab_run "host default v6" "${H[@]}" -6 route add default via "$LAB_HOST_GW_V6" "${hd[@]}" || return 1

	local -a A=(ip -n "$na") ad=(dev "$LAB_IF_ALLOW")
	_lab_run "allow v4" "${A[@]}" addr add "$LAB_ALLOW_V4/24" "${ad[@]}" || return 1
	_lab_run "allow v6" "${A[@]}" addr add "$LAB_ALLOW_V6/64" "${ad[@]}" nodad || return 1
	_lab_run "allow link up" "${A[@]}" link set "$LAB_IF_ALLOW" up || return 1
	_lab_run "allow default v4" "${A[@]}" route add default via "$LAB_ALLOW_GW_V4" "${ad[@]}" || return 1
	_lab_run "allow default v6" "${A[@]}" -6 route add default via "$LAB_ALLOW_GW_V6" "${ad[@]}" || return 1
	_lab_wait_net "$p"
}

# lab_net_downstream PREFIX — a namespace PREFIX-down behind the lab host of
# PREFIX (lab_net_up first): the host routes to it (forwarding on) and inet
# routes the downstream network to the host, so the Internet and the allowed
# country reach it only through the host, whose own rules decide (none are
# added here). Returns when the host reaches it over both families.
lab_net_downstream() {
	local p=$1 nh=$1-host nd=$1-down ni=$1-inet
	_lab_mk_ns "$nd" || return 1
	_lab_run "veth host<->down" ip -n "$nd" link add "$LAB_IF_DOWN" type veth peer name "$LAB_IF_HOST_DOWN" netns "$nh" || return 1
	local -a H=(ip -n "$nh") hd=(dev "$LAB_IF_HOST_DOWN") D=(ip -n "$nd") dd=(dev "$LAB_IF_DOWN")
	_lab_run "host down v4" "${H[@]}" addr add "$LAB_DOWN_GW_V4/25" "${hd[@]}" || return 1
	_lab_run "host down v6" "${H[@]}" addr add "$LAB_DOWN_GW_V6/64" "${hd[@]}" nodad || return 1
	_lab_run "host down up" "${H[@]}" link set "$LAB_IF_HOST_DOWN" up || return 1
	_lab_run "down v4" "${D[@]}" addr add "$LAB_DOWN_V4/25" "${dd[@]}" || return 1
	_lab_run "down v6" "${D[@]}" addr add "$LAB_DOWN_V6/64" "${dd[@]}" nodad || return 1
	_lab_run "down link up" "${D[@]}" link set "$LAB_IF_DOWN" up || return 1
	_lab_run "down default v4" "${D[@]}" route add default via "$LAB_DOWN_GW_V4" "${dd[@]}" || return 1
	_lab_run "down default v6" "${D[@]}" -6 route add default via "$LAB_DOWN_GW_V6" "${dd[@]}" || return 1
	lab_in_sysctl "$nh" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	_lab_inet_routes "$p" down "$LAB_DOWN_NET_V4" "$LAB_DOWN_NET_V6" || return 1
	_lab_until_refused "$nh" "$LAB_DOWN_V4" "$LAB_DOWN_V6" && return 0
	_lab_log "downstream not reachable from the host after 5 s: v4 ${LAB_V4:-?} v6 ${LAB_V6:-?}"
	return 1
}

# _lab_inet_routes PREFIX WHAT NET4 NET6: inet routes a network behind the
# host to the host, with the blocked country's addresses as the source
_lab_inet_routes() {
	local ni=$1-inet
	_lab_run "inet route $2 v4" ip -n "$ni" route add "$3" via "$LAB_HOST_V4" \
		dev "$LAB_IF_INET_HOST" src "$LAB_INET_V4" || return 1
	_lab_run "inet route $2 v6" ip -n "$ni" -6 route add "$4" via "$LAB_HOST_V6" \
		dev "$LAB_IF_INET_HOST" src "$LAB_INET_V6"
}

# _lab_until_refused NS ADDR4 ADDR6: until NS's connections to both :22 are
# refused (routed end to end, nothing listens, no firewall in the way), ~5 s
# at most; LAB_V4, LAB_V6: the last answers
_lab_until_refused() {
	for _ in $(seq 50); do
		LAB_V4=$(lab_probe_ns "$1" "$2" 22) LAB_V6=$(lab_probe_ns "$1" "$3" 22)
		[ "$LAB_V4" = refused ] && [ "$LAB_V6" = refused ] && return 0
		sleep 0.1
	done
	return 1
}

# Wait until no IPv6 address is tentative, the veths are up (carrier) and both
# families route end to end: from allow, the host's ssh port answers (RST: nothing
# listens, no firewall yet) over IPv4 and IPv6. Max ~5 s.
_lab_wait_net() {
	local p=$1 ns tent
	for _ in $(seq 50); do
		tent=
		for ns in "$p-host" "$p-inet" "$p-allow"; do
			tent+=$(ip -n "$ns" -6 addr show tentative 2>/dev/null)
			tent+=$(ip -n "$ns" link show type veth 2>/dev/null | grep -E 'NO-CARRIER|state DOWN|LOWERLAYERDOWN')
		done
		[ -z "$tent" ] && break
		sleep 0.1
	done
	[ -z "$tent" ] && _lab_until_refused "$p-allow" "$LAB_HOST_V4" "$LAB_HOST_V6" && return 0
	_lab_log "network not ready after 5 s: tentative/down: '${tent:-none}', allow->host:22 v4 ${LAB_V4:-?} v6 ${LAB_V6:-?}"
	return 1
}

# lab_net_containers PREFIX N — N "containers" behind the lab host (the plan
# above): the bridge $LAB_CTR_BR in PREFIX-host, forwarding on, and namespaces
# PREFIX-c1..cN, each with eth0 veth'd to a port cK of the bridge; inet routes
# their networks to the host. The caller removes PREFIX-cK (tests/lib.sh:
# nslab_containers). Container K's addresses: lab_ctr_v4 K, lab_ctr_v6 K.
lab_ctr_v4() { echo "192.0.2.$((129 + $1))"; }
lab_ctr_v6() { echo "2001:db8:c0::$((1 + $1))"; }
lab_net_containers() {
	local p=$1 n=$2 k h=(ip -n "$1-host") c
	_lab_run "bridge" "${h[@]}" link add "$LAB_CTR_BR" type bridge || return 1
	_lab_run "bridge up" "${h[@]}" link set "$LAB_CTR_BR" up || return 1
	_lab_run "bridge v4" "${h[@]}" addr add "$LAB_CTR_GW_V4/25" dev "$LAB_CTR_BR" || return 1
	_lab_run "bridge v6" "${h[@]}" addr add "$LAB_CTR_GW_V6/64" dev "$LAB_CTR_BR" nodad || return 1
	lab_in_sysctl "$p-host" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	for k in $(seq "$n"); do
		c=$p-c$k
		_lab_mk_ns "$c" || return 1
		_lab_run "veth c$k" "${h[@]}" link add "c$k" type veth peer name eth0 netns "$c" || return 1
		_lab_run "port c$k" "${h[@]}" link set "c$k" master "$LAB_CTR_BR" up || return 1
		_lab_run "c$k eth0 up" ip -n "$c" link set eth0 up || return 1
		_lab_run "c$k v4" ip -n "$c" addr add "$(lab_ctr_v4 "$k")/25" dev eth0 || return 1
		_lab_run "c$k v6" ip -n "$c" addr add "$(lab_ctr_v6 "$k")/64" dev eth0 nodad || return 1
		_lab_run "c$k default v4" ip -n "$c" route add default via "$LAB_CTR_GW_V4" || return 1
		_lab_run "c$k default v6" ip -n "$c" -6 route add default via "$LAB_CTR_GW_V6" || return 1
	done
	_lab_inet_routes "$p" containers "$LAB_DOWN_NET_V4" 2001:db8:c0::/64 || return 1
	for k in $(seq "$n"); do
		_lab_until_refused "$p-host" "$(lab_ctr_v4 "$k")" "$(lab_ctr_v6 "$k")" && continue
		_lab_log "container c$k not reachable from the host after 5 s: v4 ${LAB_V4:-?} v6 ${LAB_V6:-?}"
		return 1
	done
}

# lab_host_ruleset — the lab host's geo-block (one table, no "flush ruleset").
lab_host_ruleset() {
	cat <<EOF
table inet filter {
	set allowed_v4 {
		type ipv4_addr
		flags interval
		elements = { $LAB_ALLOWED_SET_V4 }
	}
	set allowed_v6 {
		type ipv6_addr
		flags interval
		elements = { $LAB_ALLOWED_SET_V6 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
		icmp type echo-request accept
		icmpv6 type echo-request accept
		ip saddr @allowed_v4 tcp dport { 22, 80, 443 } accept
		ip6 saddr @allowed_v6 tcp dport { 22, 80, 443 } accept
	}
}
EOF
}

# lab_probe_ns NS ADDR PORT [WANT] — one TCP connect from namespace NS, a name
# under /run/netns or a path (inet: the blocked country, source 192.0.2.1 /
# 2001:db8:bad::1). Prints one word:
#   open      connected (a listener answered)
#   refused   RST: the firewall let the SYN through and nothing listens — a HOLE
#   dropped   no answer within LAB_PROBE_TIMEOUT seconds (closed by the firewall)
#   unreachable  ICMP error (reject rule / no route)
#   error     anything else (message on stderr)
# With WANT "open", a "dropped" answer is tried once more with
# LAB_PROBE_OPEN_RETRY (8) seconds: the first SYN may wait for neighbour
# discovery, and is slow under QEMU's emulation; it costs nothing when it
# connects. Returns 0 when it printed open/refused/dropped/unreachable.
lab_probe_ns() {
	local ns=$1 addr=$2 port=$3 want=${4:-} out rc
	[[ $ns == /* ]] || ns=/run/netns/$ns
	out=$(timeout --kill-after=1 "$LAB_PROBE_TIMEOUT" \
		nsenter --net="$ns" -- bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$addr" "$port" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then echo open
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		if [ "$want" = open ] && [ "$LAB_PROBE_TIMEOUT" != "$LAB_PROBE_OPEN_RETRY" ]; then
			LAB_PROBE_TIMEOUT=$LAB_PROBE_OPEN_RETRY lab_probe_ns "$ns" "$addr" "$port"
			return
		fi
		echo dropped
	else
		case $out in
		*"Connection refused"*) echo refused ;;
		*"No route to host"*|*"unreachable"*|*"not permitted"*) echo unreachable ;;
		*) echo error; _lab_log "probe $addr $port: rc=$rc $out"; return 1 ;;
		esac
	fi
	return 0
}
