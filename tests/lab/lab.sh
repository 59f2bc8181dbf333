#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/lab.sh — the porthole test lab: a geo-blocked host, an "Internet"
# running pebble (ACME CA) + pebble-challtestsrv (DNS), an allowed-country client.
#
# Two ways to use it:
#   * as a library:  . tests/lab/lab.sh; lab_up || exit 1; trap lab_down EXIT; ...
#   * as a command:  tests/lab/lab.sh up|down|status|env|ruleset|probe ADDR PORT [ROLE] [WANT]
#                    |add-name NAME [v4|v6|both]|shell [ROLE]|exec ROLE CMD...
#
# Everything lives in network namespaces named "$LAB_PREFIX-host", "-inet", "-allow"
# (LAB_PREFIX defaults to "phl" and must start with "phl"). Only documentation
# addresses are used, and only inside those namespaces: nothing is configured in the
# root namespace. The lab state (PIDs, CA, pebble config, logs) is kept in
# $LAB_STATE (default /run/$LAB_PREFIX-lab); lab_down kills only the PIDs recorded
# there (checked against their start time) and deletes the namespaces.
#
# The network (namespaces, links, addresses, the host's geo-block, the probe) is
# tests/lab/net.sh's, the one lab of every tier (tests/lib.sh builds the same one
# for the integration, adversary and bench scripts); this file adds pebble and
# challtestsrv in inet, the lab's state and its command line. See lab_plan and
# net.sh for the address plan: host 203.0.113.10 (default via inet), the
# Internet's connections from 192.0.2.1 / 2001:db8:bad::1, the allowed country
# 198.51.100.10 routed through inet.

# ---------------------------------------------------------------- configuration
LAB_PREFIX=${LAB_PREFIX:-phl}
LAB_STATE=${LAB_STATE:-/run/${LAB_PREFIX}-lab}

LAB_NS_HOST=$LAB_PREFIX-host
LAB_NS_INET=$LAB_PREFIX-inet
LAB_NS_ALLOW=$LAB_PREFIX-allow

# shellcheck source=net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

LAB_ACME_PORT=14000
LAB_PEBBLE_MGMT_PORT=15000
LAB_DNS_PORT=8053
LAB_CTS_MGMT_PORT=8055
LAB_ACME_DIR=https://$LAB_INET_V4:$LAB_ACME_PORT/dir
LAB_PEBBLE_MGMT=https://$LAB_INET_V4:$LAB_PEBBLE_MGMT_PORT
LAB_CTS_MGMT=http://$LAB_INET_V4:$LAB_CTS_MGMT_PORT
LAB_CA_PEM=$LAB_STATE/tls/ca.pem          # CA of pebble's *server* (directory) cert

# What ACME clients running in the host namespace need.
REQUESTS_CA_BUNDLE=$LAB_CA_PEM            # certbot (python requests)
LEGO_CA_CERTIFICATES=$LAB_CA_PEM          # lego
export LAB_PREFIX LAB_STATE LAB_NS_HOST LAB_NS_INET LAB_NS_ALLOW LAB_ACME_DIR \
       LAB_CA_PEM LAB_HOST_V4 LAB_HOST_V4_ALT LAB_HOST_V6 LAB_HOST_V6_ALT \
       LAB_INET_V4 LAB_INET_V6 LAB_ALLOW_V4 LAB_ALLOW_V6 REQUESTS_CA_BUNDLE LEGO_CA_CERTIFICATES

LAB_LAST_PID=

# ---------------------------------------------------------------- helpers
_lab_check_prefix() {
	case $LAB_PREFIX in
	phl*) ;;
	*) _lab_log "LAB_PREFIX must start with 'phl' (got '$LAB_PREFIX')"; return 1 ;;
	esac
	if [[ ! $LAB_PREFIX =~ ^[A-Za-z0-9_.-]{3,40}$ ]]; then
		_lab_log "LAB_PREFIX has odd characters: '$LAB_PREFIX'"; return 1
	fi
}

# Path of the netns of a role (host|inet|allow) or of a literal lab netns name.
_lab_ns() {
	case $1 in
	host) echo "$LAB_NS_HOST" ;;
	inet|internet) echo "$LAB_NS_INET" ;;
	allow|allowed) echo "$LAB_NS_ALLOW" ;;
	*) _lab_log "unknown role '$1' (host|inet|allow)"; return 1 ;;
	esac
}

# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

# ---------------------------------------------------------------- public: run things
# lab_in ROLE CMD... — run CMD in the netns of ROLE (host|inet|allow), in the root
# mount namespace (nsenter, not "ip netns exec", which remounts /sys).
lab_in() {
	local ns; ns=$(_lab_ns "$1") || return 2; shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
lab_in_host()  { lab_in host "$@"; }
lab_in_inet()  { lab_in inet "$@"; }
lab_in_allow() { lab_in allow "$@"; }

# lab_spawn ROLE NAME CMD... — start CMD in the background in ROLE's netns, output to
# $LAB_STATE/logs/NAME.log, record its PID (killed by lab_down or lab_kill). The
# PID is left in LAB_LAST_PID (no output, so do not call it in $(...)).
lab_spawn() {
	local role=$1 name=$2 ns; shift 2
	ns=$(_lab_ns "$role") || return 2
	mkdir -p "$LAB_STATE/logs" || return 1
	nsenter --net="/run/netns/$ns" -- "$@" </dev/null >>"$LAB_STATE/logs/$name.log" 2>&1 &
	LAB_LAST_PID=$!
	local st=
	st=$(proc_starttime "$LAB_LAST_PID") || st=gone
	echo "$LAB_LAST_PID $st $name" >>"$LAB_STATE/pids"
}

# lab_kill PID — stop one recorded process (TERM, then KILL after 2 s) and forget it.
lab_kill() {
	local pid=$1 line p st name cur
	[ -f "$LAB_STATE/pids" ] || return 0
	line=$(awk -v p="$pid" '$1 == p' "$LAB_STATE/pids" | tail -n1)
	[ -n "$line" ] || { _lab_log "lab_kill: $pid is not a lab process"; return 1; }
	read -r p st name <<<"$line"
	cur=$(proc_starttime "$p") || cur=
	if [ -n "$cur" ] && [ "$cur" = "$st" ]; then
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 20); do
			cur=$(proc_starttime "$p") || break
			[ "$cur" = "$st" ] || break
			# a zombie child of ours: reap it
			if grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
				wait "$p" 2>/dev/null; break
			fi
			sleep 0.1
		done
		cur=$(proc_starttime "$p") || cur=
		if [ -n "$cur" ] && [ "$cur" = "$st" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
			_lab_log "$name ($p) ignored TERM, sending KILL"
			kill -KILL "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	fi
	awk -v p="$pid" '$1 != p' "$LAB_STATE/pids" >"$LAB_STATE/pids.new" && mv "$LAB_STATE/pids.new" "$LAB_STATE/pids"
	return 0
}

# ---------------------------------------------------------------- public: build / destroy
lab_plan() {
	cat <<EOF
netns  $LAB_NS_HOST   geo-blocked host: $LAB_HOST_V4 $LAB_HOST_V4_ALT $LAB_HOST_V6 $LAB_HOST_V6_ALT
netns  $LAB_NS_INET   internet (blocked country): $LAB_INET_V4 $LAB_INET_V6 — pebble, challtestsrv
netns  $LAB_NS_ALLOW  allowed country: $LAB_ALLOW_V4 $LAB_ALLOW_V6
allowed sets on host: allowed_v4 { $LAB_ALLOWED_SET_V4 }  allowed_v6 { $LAB_ALLOWED_SET_V6 }
ACME directory: $LAB_ACME_DIR   (pebble management $LAB_PEBBLE_MGMT)
challtestsrv:   DNS $LAB_INET_V4:$LAB_DNS_PORT  management $LAB_CTS_MGMT
client env:     REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE LEGO_CA_CERTIFICATES=$LEGO_CA_CERTIFICATES
EOF
}

# The host's firewall, as "nft -f" loads it over whatever was there.
lab_host_ruleset_text() { echo "flush ruleset"; lab_host_ruleset; }

# lab_reset_ruleset [FILE] — (re)load the host's ruleset with "nft -f", as a host
# admin's reload would: FILE if given, else $LAB_HOST_RULESET if set, else the
# built-in baseline (lab_host_ruleset_text, which starts with "flush ruleset").
lab_reset_ruleset() {
	local f=${1:-${LAB_HOST_RULESET:-}}
	if [ -z "$f" ]; then
		f=$LAB_STATE/host.nft
		lab_host_ruleset_text >"$f" || return 1
	fi
	_lab_run "load host ruleset $f" lab_in_host nft -f "$f"
}

# lab_ruleset — the host's own "nft list ruleset", without porthole's table
# (which lives and dies with the daemon); compare before/after byte for byte.
lab_ruleset() { lab_in_host nft list ruleset | awk '/^table inet porthole /{skip=1} !skip{print} skip&&/^}/{skip=0}'; }

_lab_mk_tls() {
	local d=$LAB_STATE/tls
	mkdir -p "$d" || return 1
	_lab_run "CA key" openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" || return 1
	_lab_run "CA cert" openssl req -x509 -new -key "$d/ca.key" -sha256 -days 7 \
		-subj "/CN=porthole lab CA $LAB_PREFIX" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$d/ca.pem" || return 1
	_lab_run "server key" openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" || return 1
	_lab_run "server csr" openssl req -new -key "$d/server.key" -subj "/CN=$LAB_INET_V4" \
		-out "$d/server.csr" || return 1
	cat >"$d/server.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$LAB_INET_V4,IP:$LAB_INET_V6,DNS:pebble.lab.test
EOF
	_lab_run "server cert" openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 7 -sha256 -extfile "$d/server.ext" -out "$d/server.pem" || return 1
}

# the network (tests/lab/net.sh) in the lab's namespaces
_lab_mk_netns() { lab_net_up "$LAB_PREFIX"; }

# Wait until TCP ADDR:PORT accepts connections from ROLE (max ~10 s).
_lab_wait_tcp() {
	local role=$1 addr=$2 port=$3
	for _ in $(seq 100); do
		[ "$(lab_probe "$addr" "$port" "$role")" = open ] && return 0
		sleep 0.1
	done
	_lab_log "timeout waiting for $addr:$port (from $role)"
	return 1
}

_lab_start_acme() {
	local d=$LAB_STATE
	cat >"$d/pebble-config.json" <<EOF
{
  "pebble": {
    "listenAddress": "$LAB_INET_V4:$LAB_ACME_PORT",
    "managementListenAddress": "$LAB_INET_V4:$LAB_PEBBLE_MGMT_PORT",
    "certificate": "$d/tls/server.pem",
    "privateKey": "$d/tls/server.key",
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
	# challtestsrv: DNS + management only, no default answers, no challenge servers.
	lab_spawn inet challtestsrv env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		pebble-challtestsrv -defaultIPv4 "" -defaultIPv6 "" \
		-dns01 "$LAB_INET_V4:$LAB_DNS_PORT" -management "$LAB_INET_V4:$LAB_CTS_MGMT_PORT" \
		-http01 "" -https01 "" -tlsalpn01 "" || return 1
	# pebble: clean environment (no PEBBLE_VA_ALWAYS_VALID leaking in from the caller).
	lab_spawn inet pebble env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		pebble -config "$d/pebble-config.json" -dnsserver "$LAB_INET_V4:$LAB_DNS_PORT" || return 1
	_lab_wait_tcp inet "$LAB_INET_V4" "$LAB_CTS_MGMT_PORT" || return 1
	_lab_wait_tcp inet "$LAB_INET_V4" "$LAB_ACME_PORT" || return 1
	# The directory must be reachable, over TLS checked against our CA, from the host.
	_lab_run "ACME directory from host" lab_in_host curl -sS --fail --max-time 5 \
		--cacert "$LAB_CA_PEM" -o "$d/directory.json" "$LAB_ACME_DIR" || return 1
	local pid st name cur
	while read -r pid st name; do
		cur=$(proc_starttime "$pid") || cur=
		[ -n "$cur" ] && [ "$cur" = "$st" ] || { _lab_log "$name ($pid) died; see $LAB_STATE/logs/$name.log"; return 1; }
	done <"$LAB_STATE/pids"
	# Pebble's issuing root (changes at every start), to verify issued chains.
	_lab_run "pebble root" lab_in_host curl -sS --fail --max-time 5 \
		--cacert "$LAB_CA_PEM" -o "$d/pebble-root.pem" "$LAB_PEBBLE_MGMT/roots/0" || return 1
}

_lab_write_env() {
	cat >"$LAB_STATE/env" <<EOF
# source me: environment for ACME clients in the porthole lab ($LAB_PREFIX)
export LAB_PREFIX='$LAB_PREFIX'
export LAB_STATE='$LAB_STATE'
export LAB_ACME_DIR='$LAB_ACME_DIR'
export REQUESTS_CA_BUNDLE='$REQUESTS_CA_BUNDLE'
export LEGO_CA_CERTIFICATES='$LEGO_CA_CERTIFICATES'
EOF
}

_lab_up_steps() {
	command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null \
		&& command -v nft >/dev/null && command -v nsenter >/dev/null \
		&& command -v openssl >/dev/null && command -v curl >/dev/null \
		|| { _lab_log "missing one of: pebble pebble-challtestsrv nft nsenter openssl curl"; return 1; }
	mkdir -p "$LAB_STATE/logs" && chmod 700 "$LAB_STATE" || return 1
	: >"$LAB_STATE/pids"
	_lab_mk_netns || return 1
	lab_reset_ruleset "" || return 1
	_lab_mk_tls || return 1
	_lab_start_acme || return 1
	_lab_write_env || return 1
}

# lab_up — build the lab. Returns 0 when pebble's directory answers from the host
# namespace over TLS. On any failure everything built so far is removed and it
# returns 1. Refuses (returns 1, touches nothing) if the lab already exists.
lab_up() {
	_lab_check_prefix || return 1
	[ "$(id -u)" = 0 ] || { _lab_log "must run as root"; return 1; }
	local ns
	for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
		if [ -e "/run/netns/$ns" ]; then
			_lab_log "netns $ns already exists: run 'LAB_PREFIX=$LAB_PREFIX tests/lab/lab.sh down' or use another LAB_PREFIX"
			return 1
		fi
	done
	if [ -e "$LAB_STATE/pids" ]; then
		_lab_log "$LAB_STATE exists (stale lab?): run 'LAB_PREFIX=$LAB_PREFIX tests/lab/lab.sh down'"
		return 1
	fi
	if ! _lab_up_steps; then
		_lab_log "lab_up failed; tearing down"
		if [ -f "$LAB_STATE/logs/pebble.log" ]; then
			_lab_log "pebble log:"; tail -n 20 "$LAB_STATE/logs/pebble.log" >&2
		fi
		lab_down
		return 1
	fi
	return 0
}

# lab_down — kill every recorded PID (verified by start time), delete the namespaces,
# remove $LAB_STATE. Idempotent; safe to call from an EXIT trap; always returns 0
# unless something it created could not be removed.
lab_down() {
	local rc=0 ns pid st name pids
	_lab_check_prefix || return 1
	if [ -f "$LAB_STATE/pids" ]; then
		while read -r pid st name; do
			[ -n "$pid" ] && lab_kill "$pid"
		done < <(tac "$LAB_STATE/pids")
	fi
	for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		if [ -n "$pids" ]; then
			# Not started through lab_spawn: not ours to kill. Say so; the netns
			# goes away when they exit.
			_lab_log "warning: processes still in $ns (not started by the lab, not killed): $pids"
			for pid in $pids; do
				_lab_log "   $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
			done
			rc=1
		fi
		ip netns del "$ns" 2>/dev/null || { _lab_log "cannot delete netns $ns"; rc=1; }
	done
	case $LAB_STATE in
	/run/phl*|/tmp/*|/run/*/phl*) rm -rf -- "$LAB_STATE" ;;
	*) [ -d "$LAB_STATE" ] && _lab_log "not removing unusual LAB_STATE '$LAB_STATE'" ;;
	esac
	return $rc
}

# ---------------------------------------------------------------- public: use the lab
# lab_probe ADDR PORT [ROLE] [WANT] — tests/lab/net.sh's lab_probe_ns from ROLE's
# netns (default inet = blocked country, source 192.0.2.1 / 2001:db8:bad::1): one
# word, open|refused|dropped|unreachable|error; WANT "open" tries a "dropped" once
# more with 8 s.
lab_probe() {
	local ns
	ns=$(_lab_ns "${3:-inet}") || return 2
	lab_probe_ns "$ns" "$1" "$2" "${4:-}"
}

# lab_add_name NAME [v4|v6|both] [V4ADDR] [V6ADDR] — A and/or AAAA records in
# challtestsrv (pebble's DNS). Defaults: both, host's primary addresses.
lab_add_name() {
	local name=$1 fam=${2:-both} v4=${3:-$LAB_HOST_V4} v6=${4:-$LAB_HOST_V6}
	case $fam in
	v4|both) _lab_cts add-a "{\"host\":\"$name\",\"addresses\":[\"$v4\"]}" || return 1 ;;
	esac
	case $fam in
	v6|both) _lab_cts add-aaaa "{\"host\":\"$name\",\"addresses\":[\"$v6\"]}" || return 1 ;;
	esac
	case $fam in v4|v6|both) ;; *) _lab_log "lab_add_name: family must be v4|v6|both"; return 1 ;; esac
}

# lab_del_name NAME — remove its A and AAAA records.
lab_del_name() {
	_lab_cts clear-a "{\"host\":\"$1\"}" && _lab_cts clear-aaaa "{\"host\":\"$1\"}"
}

_lab_cts() { # ENDPOINT JSON
	_lab_run "challtestsrv $1 $2" lab_in_inet curl -sS --fail --max-time 5 \
		-X POST -d "$2" "$LAB_CTS_MGMT/$1"
}

# lab_status — what exists, what runs, and what the internet / allowed side sees.
lab_status() {
	local ns pid st name cur
	echo "prefix $LAB_PREFIX, state $LAB_STATE"
	for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
		if [ -e "/run/netns/$ns" ]; then echo "netns $ns: present"; else echo "netns $ns: absent"; fi
	done
	if [ -f "$LAB_STATE/pids" ]; then
		while read -r pid st name; do
			cur=$(proc_starttime "$pid") || cur=
			if [ -n "$cur" ] && [ "$cur" = "$st" ]; then echo "process $name pid $pid: running"
			else echo "process $name pid $pid: GONE"; fi
		done <"$LAB_STATE/pids"
	fi
	[ -e "/run/netns/$LAB_NS_HOST" ] || return 0
	local a p
	for a in "$LAB_HOST_V4" "$LAB_HOST_V6"; do
		for p in 22 80 443; do
			echo "probe $a:$p from inet: $(lab_probe "$a" "$p" inet)   from allow: $(lab_probe "$a" "$p" allow)"
		done
	done
}

# ---------------------------------------------------------------- command line
_lab_main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	up)
		lab_up || return 1
		lab_plan
		echo "lab is up. Clients: . $LAB_STATE/env; tests/lab/lab.sh shell host" ;;
	down) lab_down ;;
	status) lab_status ;;
	plan) lab_plan ;;
	env) cat "$LAB_STATE/env" ;;
	ruleset) lab_ruleset ;;
	reset-ruleset) lab_reset_ruleset ;;
	probe) lab_probe "$@" ;;
	add-name) lab_add_name "$@" ;;
	del-name) lab_del_name "$@" ;;
	exec) lab_in "$@" ;;
	shell) lab_in "${1:-host}" env PS1="[lab ${1:-host}] \\w# " bash --norc -i ;;
	*)
		echo "usage: $0 up|down|status|plan|env|ruleset|reset-ruleset|probe ADDR PORT [ROLE] [WANT]|add-name NAME [v4|v6|both]|del-name NAME|exec ROLE CMD...|shell [ROLE]" >&2
		return 2 ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	_lab_main "$@"
	exit $?
fi
