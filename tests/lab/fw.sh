#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/fw.sh — a real firewall manager (from its Debian package) on a lab host.
#
# Source it, then:
#   fw_start MANAGER NETNS    set up MANAGER's firewall in network namespace NETNS
#                             (a name under /run/netns). MANAGER is one of
#                               ufw        Debian's ufw over iptables-nft
#                               iptables   plain iptables-nft / ip6tables-nft rules
#                               legacy     the same rules with iptables-legacy
#                               firewalld  firewalld (nftables backend) + its own D-Bus
#                               owner      (an nftables table with the owner flag: not a
#                                          manager; always returns 77)
#                             Prints nothing on success; on failure one line "fw: ..."
#                             on stderr and returns 1, or "SKIP ..." on stdout and
#                             returns 77 when MANAGER cannot run here (missing package,
#                             kernel feature; 2: unknown MANAGER). Everything it set up is removed again
#                             when it fails. One manager at a time per shell.
#   fw_exec CMD...            run CMD in the manager's context: the netns + the private
#                             mount namespace (so `fw_exec ufw status`, `fw_exec
#                             firewall-cmd --reload`, `fw_exec iptables -S` are the
#                             manager's own view). Returns CMD's status.
#   fw_stop                   kill the processes fw_start started (by PID, checked
#                             against their start time), end the mount namespace.
#                             Idempotent; safe in an EXIT trap; does not delete NETNS.
#   fw_restart                firewalld: kill and start firewalld again (same config);
#                             the others: re-run the manager's own start (ufw reload,
#                             iptables-restore of the rules). Sets FW_START_SECS.
#   fw_chains                 the host chains (nft "family table chain", one a line) that
#                             can drop inbound traffic under this manager: where porthole
#                             has to put its rule.
#   fw_log                    print the logs of the processes fw_start started.
#
# Globals (read-only for callers): FW_MANAGER FW_NETNS FW_HOLDER (PID of the process
# holding the private mount namespace) FW_DIR (its state directory; a tmpfs inside the
# private mount namespace only) FW_START_SECS (how long the manager took to start)
# FW_IFACES (interfaces given to the manager; default: every non-lo link in NETNS).
#
# What is private (mount namespace made by `unshare --mount --propagation private`,
# held by a `sleep infinity`): /etc/ufw, /lib/ufw, /etc/default/ufw, /etc/firewalld,
# /etc/alternatives (iptables* pointed at -nft, or -legacy for "legacy"), /run (a tmpfs;
# /run/netns is copied in as it was at fw_start), /var/log, /sys (a sysfs of NETNS, as
# `ip netns exec` does: do not run anything needing the cgroup v2 mount through fw_exec).
# Nothing is ever run in the root network namespace, and the real /etc is not written.
#
# The rules each manager gets (only documentation ranges):
#   default drop/reject of inbound; tcp/80 admitted from the lab's allowed country
#   (tests/lab/net.sh: 198.51.100.0/24 and 2001:db8:a11::/48) only (FW_ALLOW_V4 /
#   FW_ALLOW_V6 override); established, lo, ICMPv6
#   neighbour discovery accepted.

FW_ALLOW_V4=${FW_ALLOW_V4:-${LAB_ALLOWED_SET_V4:-198.51.100.0/24}}
FW_ALLOW_V6=${FW_ALLOW_V6:-${LAB_ALLOWED_SET_V6:-2001:db8:a11::/48}}
FW_PORT=${FW_PORT:-80}
FW_FIREWALLD_TIMEOUT=${FW_FIREWALLD_TIMEOUT:-60}
FW_ZONE=${FW_ZONE:-labhost}
FW_FIREWALLD_ARGS=${FW_FIREWALLD_ARGS:-}   # extra firewalld arguments, e.g. --debug=2
FW_UFW_PREPARE=${FW_UFW_PREPARE:-}         # ufw: a command (a shell function) run before `ufw enable`, e.g.
                                           # one that adds to /etc/ufw/after.rules through fw_exec

FW_MANAGER='' FW_NETNS='' FW_HOLDER='' FW_HOLDER_ST='' FW_DIR='' FW_LOGDIR='' FW_START_SECS='' FW_LAST_PID=''
FW_IFACES=${FW_IFACES:-} _FW_IFACES_AUTO=''
FW_PIDS=()      # "PID STARTTIME NAME" of every daemon started (besides the holder)

_fw_err() { printf 'fw: %s\n' "$*" >&2; }

# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
_fw_alive() { # PID STARTTIME: the same process still runs (and is not a zombie)
	local cur
	cur=$(proc_starttime "$1") || return 1
	[ "$cur" = "$2" ] || return 1
	! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
_fw_now() { date +%s.%N; }
_fw_since() { awk -v a="$1" -v b="$(_fw_now)" 'BEGIN { printf "%.2f", b - a }'; }

# Run in the private mount namespace AND the netns.
fw_exec() {
	if [ -z "$FW_HOLDER" ] || ! _fw_alive "$FW_HOLDER" "$FW_HOLDER_ST"; then
		_fw_err "fw_exec: no firewall context (fw_start not called, or it was stopped)"
		return 125
	fi
	nsenter --mount="/proc/$FW_HOLDER/ns/mnt" --net="/run/netns/$FW_NETNS" --wd="$PWD" -- "$@"
}

# Run in the private mount namespace only (root network namespace!): internal, for
# file operations only.
_fw_mnt() { nsenter --mount="/proc/$FW_HOLDER/ns/mnt" -- "$@"; }

# _fw_run DESC CMD...: fw_exec CMD; on failure print DESC and its output.
_fw_run() {
	local desc=$1 out; shift
	if ! out=$(fw_exec "$@" 2>&1); then
		_fw_err "$FW_MANAGER: $desc failed: $*: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
		return 1
	fi
}

# _fw_spawn NAME CMD...: start CMD in the background in the context, record its PID.
_fw_spawn() {
	local name=$1 pid st; shift
	nsenter --mount="/proc/$FW_HOLDER/ns/mnt" --net="/run/netns/$FW_NETNS" --wd=/ -- "$@" \
		</dev/null >>"$FW_LOGDIR/$name.log" 2>&1 &
	pid=$!
	st=$(proc_starttime "$pid") || st=gone
	FW_PIDS+=("$pid $st $name")
	FW_LAST_PID=$pid
}

_fw_kill() { # "PID ST NAME": TERM, wait up to 5 s, KILL
	local pid st name
	read -r pid st name <<<"$1"
	[ -n "$pid" ] || return 0
	if _fw_alive "$pid" "$st"; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do _fw_alive "$pid" "$st" || break; sleep 0.1; done
		if _fw_alive "$pid" "$st"; then
			_fw_err "$name ($pid) ignored TERM, sending KILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# The private mount namespace: holder + private copies.
_fw_mk_mntns() {
	local base
	base=$(mktemp -d /tmp/porthole-fw.XXXXXX) || return 1
	FW_DIR=$base
	FW_LOGDIR=$base.logs
	mkdir -p "$FW_LOGDIR" || return 1
	unshare --mount --propagation private sleep infinity </dev/null >/dev/null 2>&1 &
	FW_HOLDER=$!
	local i
	for i in $(seq 100); do
		if [ "$(readlink "/proc/$FW_HOLDER/ns/mnt" 2>/dev/null)" != "$(readlink /proc/self/ns/mnt)" ] &&
			[ "$(readlink "/proc/$FW_HOLDER/exe" 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ]; then
			break
		fi
		sleep 0.02
	done
	FW_HOLDER_ST=$(proc_starttime "$FW_HOLDER") || { _fw_err "mount namespace holder died"; return 1; }
	if [ "$(readlink "/proc/$FW_HOLDER/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]; then
		_fw_err "unshare --mount did not make a new mount namespace"; return 1
	fi
	# Everything below happens inside the private mount namespace only. The state
	# directory is a tmpfs there (the root namespace sees an empty directory).
	local alt
	case $FW_MANAGER in legacy) alt=legacy ;; *) alt=nft ;; esac
	_fw_mnt env D="$FW_DIR" ALT="$alt" NS="$FW_NETNS" sh -euc '
		mount -t tmpfs -o mode=0700 fwstate "$D"
		# /etc/alternatives: a copy with iptables* pointing at the wanted variant
		cp -a /etc/alternatives "$D/alternatives"
		for t in iptables ip6tables; do
			for s in "" -restore -save; do
				[ -e "/usr/sbin/$t-$ALT$s" ] && ln -sfn "/usr/sbin/$t-$ALT$s" "$D/alternatives/$t$s"
			done
		done
		mount --bind "$D/alternatives" /etc/alternatives
		for d in /etc/ufw /lib/ufw /etc/firewalld; do
			[ -d "$d" ] || continue
			r=$(readlink -f "$d"); c="$D/copy$(echo "$r" | tr / _)"
			cp -a "$r" "$c"; mount --bind "$c" "$r"
		done
		if [ -f /etc/default/ufw ]; then
			cp -a /etc/default/ufw "$D/default-ufw"; mount --bind "$D/default-ufw" /etc/default/ufw
		fi
		# /run: a tmpfs, with /run/netns as it is now (so nsenter/ip netns still work)
		mkdir "$D/netns"
		[ -d /run/netns ] && mount --rbind /run/netns "$D/netns"
		mount -t tmpfs -o mode=0755 fwrun /run
		mkdir -p /run/netns /run/lock /run/dbus /run/firewalld /run/user
		mount --rbind "$D/netns" /run/netns
		umount -l "$D/netns"
		mount -t tmpfs -o mode=0755 fwlog /var/log
	' >"$FW_LOGDIR/mntns.log" 2>&1 || { _fw_err "private mount namespace: $(tr '\n' ' ' <"$FW_LOGDIR/mntns.log" | cut -c1-300)"; return 1; }
	# A sysfs of the netns (what `ip netns exec` does), so tools that read
	# /sys/class/net see the namespace's links. Must be mounted from inside the netns.
	fw_exec sh -c 'umount -l /sys 2>/dev/null; mount -t sysfs -o ro,nosuid,nodev,noexec fwsys /sys' \
		>>"$FW_LOGDIR/mntns.log" 2>&1 || { _fw_err "sysfs in the private mount namespace failed"; return 1; }
}

_fw_need() { # CMD... : every command exists, or SKIP
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || {
			echo "SKIP fw $FW_MANAGER: $c not installed (tests/deps.sh)"
			return 77
		}
	done
}

_fw_ifaces() {
	[ -n "$FW_IFACES" ] && return 0
	_FW_IFACES_AUTO=1
	FW_IFACES=$(nsenter --net="/run/netns/$FW_NETNS" -- ip -o link show |
		awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "lo") print $2 }' | tr '\n' ' ')
	FW_IFACES=${FW_IFACES% }
}

# ------------------------------------------------------------------ managers
_fw_rules_iptables() { # BINARY-PREFIX: iptables or iptables-legacy style names
	local v4=$1 v6=$2
	_fw_run "$v4 policy" "$v4" -P INPUT DROP || return 1
	_fw_run "$v4 rules" sh -ec "
		$v4 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		$v4 -A INPUT -i lo -j ACCEPT
		$v4 -A INPUT -s $FW_ALLOW_V4 -p tcp -m tcp --dport $FW_PORT -j ACCEPT" || return 1
	_fw_run "$v6 policy" "$v6" -P INPUT DROP || return 1
	_fw_run "$v6 rules" sh -ec "
		$v6 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
		$v6 -A INPUT -i lo -j ACCEPT
		for t in router-solicitation router-advertisement neighbour-solicitation neighbour-advertisement; do
			$v6 -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type \$t -j ACCEPT
		done
		$v6 -A INPUT -s $FW_ALLOW_V6 -p tcp -m tcp --dport $FW_PORT -j ACCEPT" || return 1
}

_fw_start_iptables() {
	_fw_need iptables-nft ip6tables-nft || return
	_fw_mk_mntns || return 1
	local t0; t0=$(_fw_now)
	_fw_rules_iptables iptables ip6tables || return 1
	FW_START_SECS=$(_fw_since "$t0")
}

_fw_start_legacy() {
	_fw_need iptables-legacy ip6tables-legacy || return
	local out
	# Is the legacy x_tables filter usable in a netns on this kernel? (no modprobe here)
	if ! out=$(nsenter --net="/run/netns/$FW_NETNS" -- iptables-legacy -w -S INPUT 2>&1); then
		echo "SKIP fw legacy: iptables-legacy does not work in a netns here: $(echo "$out" | head -n1)"
		return 77
	fi
	if ! nsenter --net="/run/netns/$FW_NETNS" -- grep -qx filter /proc/net/ip_tables_names 2>/dev/null; then
		echo "SKIP fw legacy: no legacy filter table (/proc/net/ip_tables_names) in the netns"
		return 77
	fi
	_fw_mk_mntns || return 1
	local t0; t0=$(_fw_now)
	_fw_rules_iptables iptables-legacy ip6tables-legacy || return 1
	FW_START_SECS=$(_fw_since "$t0")
}

_fw_start_ufw() {
	_fw_need ufw iptables-nft-restore || return
	_fw_mk_mntns || return 1
	local t0; t0=$(_fw_now)
	_fw_run "ufw default" ufw default deny incoming || return 1
	_fw_run "ufw allow v4" ufw allow from "$FW_ALLOW_V4" to any port "$FW_PORT" proto tcp || return 1
	_fw_run "ufw allow v6" ufw allow from "$FW_ALLOW_V6" to any port "$FW_PORT" proto tcp || return 1
	if [ -n "$FW_UFW_PREPARE" ]; then
		"$FW_UFW_PREPARE" || { _fw_err "ufw: $FW_UFW_PREPARE (FW_UFW_PREPARE) failed"; return 1; }
	fi
	_fw_run "ufw enable" ufw --force enable || return 1
	FW_START_SECS=$(_fw_since "$t0")
	fw_exec ufw status 2>/dev/null | grep -q '^Status: active' || { _fw_err "ufw: not active after enable"; return 1; }
}

_fw_firewalld_config() {
	local i ifs=
	for i in $FW_IFACES; do ifs+="  <interface name=\"$i\"/>"$'\n'; done
	fw_exec sh -ec '
		c=/etc/firewalld/firewalld.conf
		sed -i -e "s/^DefaultZone=.*/DefaultZone=$1/" -e "s/^FirewallBackend=.*/FirewallBackend=nftables/" "$c"
		grep -q "^FirewallBackend=nftables" "$c" || echo FirewallBackend=nftables >>"$c"
		cat >"/etc/firewalld/zones/$1.xml"' _ "$FW_ZONE" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<zone target="%%REJECT%%">
  <short>porthole lab</short>
  <description>porthole test lab host: reject, tcp/$FW_PORT from the allowed ranges only</description>
$ifs  <rule family="ipv4">
    <source address="$FW_ALLOW_V4"/>
    <port protocol="tcp" port="$FW_PORT"/>
    <accept/>
  </rule>
  <rule family="ipv6">
    <source address="$FW_ALLOW_V6"/>
    <port protocol="tcp" port="$FW_PORT"/>
    <accept/>
  </rule>
</zone>
EOF
}

_fw_firewalld_up() { # start firewalld (dbus already up) and wait until running
	local t0 i st
	t0=$(_fw_now)
	# shellcheck disable=SC2086
	_fw_spawn firewalld firewalld --nofork --nopid ${FW_FIREWALLD_ARGS:-}
	local pid=$FW_LAST_PID
	for i in $(seq $((FW_FIREWALLD_TIMEOUT * 10))); do
		st=$(fw_exec firewall-cmd --state 2>/dev/null)
		[ "$st" = running ] && break
		kill -0 "$pid" 2>/dev/null || { _fw_err "firewalld died: $(tail -n 5 "$FW_LOGDIR/firewalld.log" | tr '\n' ' ')"; return 1; }
		sleep 0.1
	done
	[ "$st" = running ] || { _fw_err "firewalld not running after ${FW_FIREWALLD_TIMEOUT}s (state '${st:-?}')"; return 1; }
	FW_START_SECS=$(_fw_since "$t0")
}

_fw_start_firewalld() {
	_fw_need firewalld firewall-cmd dbus-daemon nft || return
	_fw_ifaces
	[ -n "$FW_IFACES" ] || { _fw_err "firewalld: no interface in $FW_NETNS"; return 1; }
	_fw_mk_mntns || return 1
	_fw_firewalld_config || { _fw_err "firewalld: cannot write its private config"; return 1; }
	# Our bus activates nothing (polkitd would otherwise be started through
	# dbus-daemon-launch-helper; firewalld falls back to "uid 0 only" without it).
	fw_exec sh -c 'chown messagebus: /run/dbus 2>/dev/null; chmod 755 /run/dbus
		for d in /usr/share/dbus-1/system-services /lib/dbus-1/system-services \
			/usr/local/share/dbus-1/system-services /etc/dbus-1/system-services; do
			[ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 fwnosvc "$d"
		done; true' || return 1
	_fw_spawn dbus dbus-daemon --system --nofork --nopidfile --nosyslog
	local i
	for i in $(seq 100); do
		fw_exec test -S /run/dbus/system_bus_socket && break
		sleep 0.05
	done
	fw_exec test -S /run/dbus/system_bus_socket || { _fw_err "dbus-daemon did not start: $(tr '\n' ' ' <"$FW_LOGDIR/dbus.log")"; return 1; }
	_fw_firewalld_up || return 1
	local z
	z=$(fw_exec firewall-cmd --get-active-zones 2>&1)
	case $z in *"$FW_ZONE"*) ;; *) _fw_err "firewalld: zone $FW_ZONE not active: $z"; return 1 ;; esac
}

# ------------------------------------------------------------------ public
fw_start() {
	local mgr=${1:-} ns=${2:-} rc
	[ -z "$FW_HOLDER" ] || { _fw_err "fw_start: a firewall ($FW_MANAGER in $FW_NETNS) is already running; fw_stop first"; return 1; }
	case $mgr in
	owner) echo "SKIP fw owner: a table with the owner flag is not a firewall manager (firewalld >= 2.2 is not packaged here)"; return 77 ;;
	ufw|iptables|iptables-nft|legacy|iptables-legacy|firewalld) ;;
	*) _fw_err "fw_start: unknown manager '$mgr' (ufw|iptables|legacy|firewalld)"; return 2 ;;
	esac
	[ "$(id -u)" = 0 ] || { echo "SKIP fw $mgr: needs root"; return 77; }
	[ -n "$ns" ] && [ -e "/run/netns/$ns" ] || { _fw_err "fw_start: no netns '$ns' (/run/netns/$ns)"; return 1; }
	FW_MANAGER=$mgr FW_NETNS=$ns FW_PIDS=() FW_START_SECS=''
	case $mgr in
	ufw) _fw_start_ufw ;;
	iptables|iptables-nft) FW_MANAGER=iptables; _fw_start_iptables ;;
	legacy|iptables-legacy) FW_MANAGER=legacy; _fw_start_legacy ;;
	firewalld) _fw_start_firewalld ;;
	esac
	rc=$?
	if [ "$rc" != 0 ]; then
		fw_stop
		return "$rc"
	fi
	return 0
}

fw_stop() {
	local i
	for ((i = ${#FW_PIDS[@]} - 1; i >= 0; i--)); do
		_fw_kill "${FW_PIDS[i]}"
	done
	FW_PIDS=()
	if [ -n "$FW_HOLDER" ] && _fw_alive "$FW_HOLDER" "$FW_HOLDER_ST"; then
		# Anything else still in our private mount namespace was started through
		# fw_exec (or by a daemon we started): it is ours; end it by PID.
		local mnt p st
		mnt=$(readlink "/proc/$FW_HOLDER/ns/mnt")
		for p in /proc/[0-9]*; do
			p=${p#/proc/}
			[ "$p" = "$FW_HOLDER" ] || [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
			[ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$mnt" ] || continue
			st=$(proc_starttime "$p") || continue
			_fw_err "fw_stop: ending leftover $p in the private mount namespace: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
			_fw_kill "$p $st leftover"
		done
	fi
	if [ -n "$FW_HOLDER" ]; then
		_fw_kill "$FW_HOLDER $FW_HOLDER_ST holder"
		FW_HOLDER='' FW_HOLDER_ST=''
	fi
	# The tmpfs on FW_DIR lived in the private namespace only: here it is an empty dir.
	if [ -n "$FW_DIR" ]; then
		case $FW_DIR in /tmp/porthole-fw.*) rmdir -- "$FW_DIR" 2>/dev/null; rm -rf -- "$FW_DIR.logs" ;; esac
		FW_DIR='' FW_LOGDIR=''
	fi
	[ -n "$_FW_IFACES_AUTO" ] && FW_IFACES='' _FW_IFACES_AUTO=''
	FW_MANAGER='' FW_NETNS=''
	return 0
}

fw_restart() {
	[ -n "$FW_HOLDER" ] || { _fw_err "fw_restart: nothing started"; return 1; }
	local t0 i
	case $FW_MANAGER in
	firewalld)
		for ((i = ${#FW_PIDS[@]} - 1; i >= 0; i--)); do
			case ${FW_PIDS[i]} in *" firewalld") _fw_kill "${FW_PIDS[i]}"; unset 'FW_PIDS[i]' ;; esac
		done
		FW_PIDS=("${FW_PIDS[@]}")
		_fw_firewalld_up ;;
	ufw)
		t0=$(_fw_now); _fw_run "ufw reload" ufw reload || return 1; FW_START_SECS=$(_fw_since "$t0") ;;
	iptables|legacy)
		local v4=iptables v6=ip6tables
		[ "$FW_MANAGER" = legacy ] && v4=iptables-legacy v6=ip6tables-legacy
		t0=$(_fw_now)
		_fw_run "flush" sh -c "$v4 -F INPUT && $v6 -F INPUT" || return 1
		_fw_rules_iptables "$v4" "$v6" || return 1
		FW_START_SECS=$(_fw_since "$t0") ;;
	esac
}

fw_chains() {
	case $FW_MANAGER in
	ufw|iptables) printf '%s\n' "ip filter INPUT" "ip6 filter INPUT" ;;
	firewalld) echo "inet firewalld filter_INPUT" ;;
	legacy) ;;    # nothing nftables can override: the admin needs the static legacy rule
	esac
}

fw_log() {
	local f
	[ -n "${FW_LOGDIR:-}" ] || return 0
	for f in "$FW_LOGDIR"/*.log; do
		[ -s "$f" ] || continue
		echo "== ${f##*/}"; tail -n "${1:-40}" "$f"
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "tests/lab/fw.sh is a library: . tests/lab/fw.sh; fw_start MANAGER NETNS; fw_exec CMD...; fw_stop" >&2
	exit 2
fi
