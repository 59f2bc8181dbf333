# SPDX-License-Identifier: GPL-2.0-or-later
# Shared shell library for porthole's namespace tests: a tiny harness
# (PASS/FAIL/SKIP lines and a closing "N passed, N failed, N skipped" line),
# the geo-blocked lab, and helpers to run the daemon and probe ports. Source
# it; call t_init first.
#
# The lab is the one of every tier, built by tests/lab/net.sh (lab_net_up)
# in namespaces $T_PFX-host, -inet, -allow (T_PFX=pht$$: parallel runs never
# collide), without pebble (tests/lab/lab.sh adds it for the e2e tiers):
#   host   H=203.0.113.10 (+ H2 .11), H6=2001:db8:1::10 (+ H62 ::11)   geo-block ruleset
#          default route via inet
#   inet   INET=192.0.2.1, INET6=2001:db8:bad::1   "blocked country": the Internet;
#          the source of its connections, on its lo; it routes for host and allow
#   allow  ALLOW=198.51.100.10, ALLOW6=2001:db8:a11::10   "allowed country", behind inet
#   down   DOWN=192.0.2.130, DOWN6=2001:db8:d0::20   behind the host (need "downstream")
# Only documentation ranges, only inside namespaces made here; nothing is
# added to the root namespace. Everything started is killed by PID and every
# namespace and cgroup removed by the EXIT trap.

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T_TOOLS=$T_ROOT/tests/tools
# shellcheck source=lab/net.sh
source "$T_ROOT/tests/lab/net.sh"
PY=/usr/bin/python3
: "${PORTHOLE_BIN:=$T_ROOT/build/asan}"
[ -x "$PORTHOLE_BIN/portholed" ] || PORTHOLE_BIN=$T_ROOT/build
T_PASS=0 T_FAIL=0 T_SKIP=0
T_PIDS=()
T_NETNS=()
T_CGROUPS=()

t_log() { printf '  %s\n' "$*"; }
t_pass() { T_PASS=$((T_PASS + 1)); printf 'PASS %s\n' "$*"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL %s\n' "$*"; }
t_skip() { T_SKIP=$((T_SKIP + 1)); printf 'SKIP %s\n' "$*"; }
# t_check NAME CMD...: PASS if CMD succeeds
t_check() { local n=$1; shift; if "$@"; then t_pass "$n"; else t_fail "$n"; fi; }
t_eq() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1 (expected '$2', got '$3')"; fi
}

t_require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP $T_NAME: needs root (network namespaces, nftables, BPF)"
		exit 77
	fi
	local b
	for b in nft ip nsenter setpriv "$PY"; do
		command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
	done
}

# the cgroup v2 mount point: the field after " - " is the fs type, whatever
# the number of optional fields before it
t_cgroup2_mount() { awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo; }

t_init() {
	T_NAME=$1
	T_PFX=pht$$
	T_TMP=$(mktemp -d "/tmp/porthole-test.XXXXXX")
	export ASAN_OPTIONS="log_path=$T_TMP/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$T_TMP/ubsan:print_stacktrace=1"
	trap t_cleanup EXIT
	trap 'exit 130' INT TERM
	T_CG2=$(t_cgroup2_mount)
}

# t_start NAME [NEED...]: the preamble of a namespace test. t_init NAME and
# t_require_root, then each NEED in order: nginx or scapy installed (else
# SKIP, exit 77), or a piece of the lab brought up (lab: nslab_up, attacker:
# attacker_up, downstream: nslab_downstream, daemon: daemon_start with no
# extra config) -- a setup that fails is one FAIL and the end of the test.
t_start() {
	t_init "$1"; shift
	t_require_root
	local need
	for need in "$@"; do
		case $need in
		nginx) command -v nginx >/dev/null || { echo "SKIP $T_NAME: nginx not installed (make deps)"; exit 77; } ;;
		scapy) "$PY" -c 'import scapy.layers.inet6' 2>/dev/null || { echo "SKIP $T_NAME: python3-scapy not installed (make deps)"; exit 77; } ;;
		lab) t_setup "lab setup" nslab_up ;;
		attacker) t_setup "attacker setup" attacker_up ;;
		downstream) t_setup "downstream setup" nslab_downstream ;;
		daemon) t_setup "daemon start" daemon_start ;;
		*) echo "t_start: unknown need '$need'" >&2; exit 2 ;;
		esac
	done
}
# t_setup NAME CMD...: CMD must succeed, or FAIL NAME ends the test
t_setup() { local n=$1; shift; "$@" || { t_fail "$n"; t_summary; exit 1; }; }

t_cleanup() {
	local p ns cg i
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
		p=${T_PIDS[i]}
		kill -TERM "$p" 2>/dev/null && { for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; kill -KILL "$p" 2>/dev/null; }
	done
	wait 2>/dev/null
	for ns in "${T_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	for ((i = ${#T_CGROUPS[@]} - 1; i >= 0; i--)); do
		cg=${T_CGROUPS[i]}
		[ -d "$cg" ] || continue
		# leftovers below (session cgroups of a killed daemon) go first
		find "$cg" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		rmdir "$cg" 2>/dev/null
	done
	rm -rf "$T_TMP"
}

t_summary() {
	local asan
	asan=$(ls "$T_TMP"/asan* "$T_TMP"/ubsan* 2>/dev/null)
	if [ -n "$asan" ]; then
		t_fail "$T_NAME: sanitizer reports"
		cat $asan | head -60
	fi
	printf '%s: %d passed, %d failed, %d skipped\n' "$T_NAME" "$T_PASS" "$T_FAIL" "$T_SKIP"
	[ "$T_FAIL" -eq 0 ]
}

# ---- lab ---------------------------------------------------------------------

H=$LAB_HOST_V4 H2=$LAB_HOST_V4_ALT H6=$LAB_HOST_V6 H62=$LAB_HOST_V6_ALT
INET=$LAB_INET_V4 INET6=$LAB_INET_V6
ALLOW=$LAB_ALLOW_V4 ALLOW6=$LAB_ALLOW_V6

in_ns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" -- "$@"; }
in_host() { in_ns "$T_PFX-host" "$@"; }
in_inet() { in_ns "$T_PFX-inet" "$@"; }
in_allow() { in_ns "$T_PFX-allow" "$@"; }

# the lab host's geo-block (tests/lab/net.sh; one table, no "flush ruleset")
nslab_ruleset() { lab_host_ruleset; }

# nslab_up: the lab (tests/lab/net.sh lab_net_up) in namespaces of $T_PFX,
# removed by the EXIT trap, with the host's geo-block loaded
nslab_up() {
	T_NETNS+=("$T_PFX-host" "$T_PFX-inet" "$T_PFX-allow")
	lab_net_up "$T_PFX" || return 1
	nslab_ruleset | in_host nft -f -
}

# probe FROM ADDR PORT [TIMEOUT] [WANT] -> open|refused|dropped: one TCP
# connect from the lab namespace FROM (tests/lab/net.sh lab_probe_ns, TIMEOUT
# seconds, default 1; WANT "open": a second try of 8 s when dropped). An ICMP
# error counts as dropped here: nothing reached a socket.
probe() {
	local r
	r=$(LAB_PROBE_TIMEOUT=${4:-1} lab_probe_ns "$T_PFX-$1" "$2" "$3" "${5:-}")
	[ "$r" = unreachable ] && r=dropped
	echo "$r"
}

# the host's own ruleset: every table but porthole's (which lives and dies
# with the daemon)
ruleset_dump() { in_host nft list ruleset | awk '/^table inet porthole /{skip=1} !skip{print} skip&&/^}/{skip=0}'; }
# porthole's rules in the host's chains
porthole_rules() { in_host nft -a list ruleset | grep -c 'comment "porthole"' ; }
# open windows: elements of porthole's set
porthole_elements() { in_host nft -j list set inet porthole windows 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(len(x["set"].get("elem",[])) for x in d if "set" in x))' 2>/dev/null || echo 0; }

# nginx_up NAME WWW: a real nginx holding port 80 of the lab host ($H and
# [$H6]), serving WWW, in a cgroup of its own ($T_CG2/$T_PFX-NAME: what
# nginx.service gives it), in the host namespace. NGINX_CG: that cgroup's
# path below the cgroup v2 mount (for serve = cgroup ...); NGINX_PID: the
# master's PID.
# Optional knobs (unset: the defaults above):
#   NGINX_LISTEN="SPEC;SPEC..."  nginx listen parameters instead of "$H:80" and
#                                "[$H6]:80", e.g. "$H2:80 deferred" or "80;[::]:80"
#   NGINX_LOG_FORMAT=FORMAT      the access log's log_format (default: combined)
nginx_up() {
	local name=$1 www=$2 dir=$T_TMP/nginx-$1 i spec listen=() fmt=() logfmt=""
	NGINX_CG=/$T_PFX-$name
	mkdir -p "$T_CG2$NGINX_CG" "$dir" && T_CGROUPS+=("$T_CG2$NGINX_CG") || return 1
	if [ -n "${NGINX_LISTEN:-}" ]; then
		IFS=';' read -ra listen <<<"$NGINX_LISTEN"
	else
		listen=("$H:80" "[$H6]:80")
	fi
	if [ -n "${NGINX_LOG_FORMAT:-}" ]; then
		fmt=("	log_format porthole_test '$NGINX_LOG_FORMAT';")
		logfmt=" porthole_test"
	fi
	{
		printf '%s\n' "daemon off;" "master_process on;" "worker_processes 1;" "user root;" "pid $dir/nginx.pid;" \
			"error_log $dir/error.log;" "events { worker_connections 1024; }" "http {" "${fmt[@]}" \
			"	access_log ${NGINX_ACCESS_LOG:-$dir/access.log}$logfmt;" "	client_body_temp_path $dir/body;" \
			"	keepalive_timeout 30;" "	server {"
		for spec in "${listen[@]}"; do printf '\t\tlisten %s;\n' "$spec"; done
		printf '%s\n' "		root $www;" \
			"		location ^~ /.well-known/acme-challenge/ { default_type text/plain; }" "	}" "}"
	} >"$dir/nginx.conf"
	(
		echo $BASHPID >"$T_CG2$NGINX_CG/cgroup.procs"
		exec nsenter --net=/run/netns/"$T_PFX-host" -- nginx -c "$dir/nginx.conf" -p "$dir"
	) >"$dir/out" 2>&1 &
	NGINX_PID=$!
	T_PIDS+=("$NGINX_PID")
	for i in $(seq 50); do
		if [ -n "${NGINX_LISTEN:-}" ]; then
			# every listening socket is there once nginx wrote its pid file
			[ -s "$dir/nginx.pid" ] && in_host ss -ltn | grep -q ':80 ' && return 0
		else
			in_host ss -ltn | grep -q "$H:80" && return 0
		fi
		sleep 0.1
	done
	echo "nginx did not start:"; cat "$dir/out" "$dir/error.log" 2>/dev/null
	return 1
}

# nslab_anon_drop: the host's ruleset replaced (flushed, porthole's table too)
# by a drop whose match porthole cannot repeat, an anonymous set of sources:
# a server window must fail closed on it, naming the rule
nslab_anon_drop() {
	in_host nft flush ruleset
	printf '%s\n' "table inet filter {
	chain input { type filter hook input priority filter; policy accept;
		ct state established,related accept
		ip saddr != { $LAB_ALLOWED_SET_V4, $LAB_DOWN_NET_V4 } tcp dport 80 drop
	}
}" | in_host nft -f -
}

# A site for the server-window tests: webroot $WWW with an index page, served
# by nginx_up web (FAIL "nginx start" ends the test); tokens go into its
# .well-known/acme-challenge; http sends raw HTTP (tests/tools/httpraw.py) to
# port 80 from a lab namespace.
site_up() {
	WWW=$T_TMP/www
	mkdir -p "$WWW"
	chmod 755 "$T_TMP" "$WWW"
	echo "site index" >"$WWW/index.html"
	t_setup "nginx start" nginx_up web "$WWW"
}
token_put() { mkdir -p "$WWW/.well-known/acme-challenge"; echo "$1.keyauth" >"$WWW/.well-known/acme-challenge/$1"; }
token_rm() { rm -f "$WWW/.well-known/acme-challenge/$1"; }
# http FROM ADDR SEGMENTS...
http() { local from=$1 addr=$2; shift 2; in_ns "$T_PFX-$from" "$PY" "$T_TOOLS/httpraw.py" "$addr" 80 "$@"; }

# ---- daemon ------------------------------------------------------------------

# t_bpffs_up: the private mount namespace (with its own bpffs at /sys/fs/bpf)
# that every daemon of this test runs in; T_BPFFS is its holder's PID.
t_bpffs_up() {
	local i
	"$T_TOOLS/bpffs-holder.sh" >"$T_TMP/bpffs.out" 2>&1 &
	T_BPFFS=$!
	T_PIDS+=("$T_BPFFS")
	for i in $(seq 100); do
		grep -q ready "$T_TMP/bpffs.out" && return 0
		kill -0 "$T_BPFFS" 2>/dev/null || break
		sleep 0.05
	done
	echo "no private bpffs:"; cat "$T_TMP/bpffs.out"
	T_BPFFS=
	return 1
}

# How every daemon of the tests runs, as portholed.service runs it: as a user
# of its own (T_DAEMON_UID, a uid no test process uses; no passwd entry
# needed) holding exactly the unit's AmbientCapabilities= and nothing else,
# a member of the socket group (the unit's Group=). T_DAEMON_UID= (empty)
# runs it as root. The test's directory becomes that user's: the daemon makes
# its socket, audit log and state file there.
T_DAEMON_UID=${T_DAEMON_UID-64900}
# t_unit_caps: the unit's AmbientCapabilities= as setpriv takes them
# ("+net_admin,+bpf,..."; tests/tools/unit-caps.sh, which every tier uses)
t_unit_caps() { "$T_TOOLS/unit-caps.sh"; }
t_daemon_priv() {
	T_PRIV=()
	[ -n "$T_DAEMON_UID" ] || return 0
	local caps gid
	caps=$(t_unit_caps) || return 1
	# T_EXTRA_CAPS: what a documented drop-in adds (e.g. +dac_read_search)
	caps=$caps${T_EXTRA_CAPS:+,$T_EXTRA_CAPS}
	gid=$(getent group "${T_GROUP:-root}" | cut -d: -f3)
	chown "$T_DAEMON_UID" "$T_TMP" && chmod 0711 "$T_TMP" || return 1
	# a case's directory inside the test's: the way there searchable too
	local d=${T_TMP%/*}
	while [[ $d == /tmp/porthole-test.* ]]; do chmod go+x "$d"; d=${d%/*}; done
	T_PRIV=(setpriv --reuid="$T_DAEMON_UID" --regid="$T_DAEMON_UID" --groups="${gid:-0}"
		--inh-caps="$caps" --ambient-caps="$caps" --bounding-set="-all,$caps")
}

# daemon_start [CONFIG LINES...]: start portholed in the host namespace, in a
# cgroup of its own (what a unit gives it), with a bpffs at /sys/fs/bpf (a
# mount namespace of the test's own, see t_bpffs_up).
daemon_start() {
	# (a test that ends what it started case by case may have ended it)
	{ [ -n "${T_BPFFS:-}" ] && kill -0 "$T_BPFFS" 2>/dev/null; } || t_bpffs_up || return 1
	T_SOCK=$T_TMP/porthole.sock
	T_CONF=$T_TMP/porthole.conf
	T_DLOG=$T_TMP/portholed.log
	{
		echo "socket = $T_SOCK"
		echo "socket_group = ${T_GROUP:-root}"
		echo "audit_log = $T_TMP/audit.jsonl"
		echo "state_file = $T_TMP/last-window"
		# the host rules go with the last window, as tests expect, unless a
		# test sets T_LINGER (seconds; "default": the daemon's own default)
		[ "${T_LINGER:-0}" = default ] || echo "host_rule_linger = ${T_LINGER:-0}"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$T_CONF"
	T_DCG=$T_CG2/$T_PFX-daemon
	mkdir -p "$T_DCG" && T_CGROUPS+=("$T_DCG")
	: >"$T_DLOG"
	t_daemon_priv || return 1
	(
		echo $BASHPID >"$T_DCG/cgroup.procs"
		exec nsenter -t "$T_BPFFS" -m --net=/run/netns/"$T_PFX-host" -- ${T_DAEMON_WRAP:-} "${T_PRIV[@]}" \
			"$PORTHOLE_BIN/portholed" -c "$T_CONF" ${T_DAEMON_FLAGS:-}
	) 2>>"$T_DLOG" &
	T_DPID=$!
	T_PIDS+=("$T_DPID")
	local n
	for n in $(seq 100); do
		grep -q 'ready:' "$T_DLOG" && return 0
		kill -0 "$T_DPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "daemon did not start:"; cat "$T_DLOG"
	return 1
}

daemon_stop() {
	[ -n "${T_DPID:-}" ] || return 0
	kill -TERM "$T_DPID" 2>/dev/null
	wait "$T_DPID"
	local rc=$?
	T_DPID=
	return $rc
}

# bg_host OUT ERR CMD...: start CMD in the host namespace in the background;
# BG_PID is CMD's own PID (nsenter execs it), recorded for cleanup.
bg_host() {
	local out=$1 err=$2; shift 2
	nsenter --net=/run/netns/"$T_PFX-host" -- "$@" >"$out" 2>"$err" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}
# bg_run OUT ERR ARGS...: `porthole ARGS...` in the host namespace, backgrounded
bg_run() {
	local out=$1 err=$2; shift 2
	bg_host "$out" "$err" env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" "$@"
}

ph() { PORTHOLE_SOCKET=$T_SOCK "$PORTHOLE_BIN/porthole" "$@"; }
# ph_host ARGS...: porthole run from inside the host namespace
ph_host() { in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" "$@"; }

# wait_for FILE PATTERN [TENTHS]: wait until FILE contains PATTERN
wait_for() {
	local i
	for i in $(seq "${3:-50}"); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_count FILE PATTERN N [TENTHS]: wait until FILE holds N lines with PATTERN
wait_count() {
	local i
	for i in $(seq "${4:-50}"); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# cgroups the daemon made (it makes none: sessions stay in their caller's)
session_cgroups() { find "$T_DCG" -mindepth 1 -type d 2>/dev/null | wc -l; }

# ---- adversaries (tests/adversary) ---------------------------------------------

ATK_SPORTS=20000-29999 # source ports of crafted connections (tests/adversary/attack.py)

# attacker_up: the Internet namespace (and the allowed country's, for
# controls) as a peer that crafts its own segments (scapy on the veth,
# tests/adversary/attack.py): its kernel knows nothing of those connections
# and would answer the server with a RST, so those RSTs are dropped on the way
# out (only for ATK_SPORTS: the kernel's own connections from the same
# namespace stay normal).
attacker_up() {
	local ns
	"$PY" -c 'import scapy.layers.inet' 2>/dev/null || return 1
	for ns in inet allow; do
		in_ns "$T_PFX-$ns" nft -f - <<NFT || return 1
table inet attacker {
	chain out {
		type filter hook output priority filter; policy accept;
		tcp sport $ATK_SPORTS tcp flags & rst == rst drop
	}
}
NFT
	done
}

# attack ARGS...: run python ARGS in the Internet namespace as the crafted-TCP
# attacker (a script that uses tests/adversary/attack.py's Peer); attack_from
# NS ARGS...: the same from NS (inet or allow). Peer finds its link, the
# host's MAC on it and its own addresses in the environment. attack_bg OUT
# ARGS...: attack in the background, its output in OUT; BG_PID is the
# attacker's own PID (nsenter and env exec it), recorded for cleanup.
attack() { attack_from inet "$@"; }
attack_from() {
	local ns=$1
	shift
	attack_env "$ns" || return 2
	in_ns "$T_PFX-$ns" env "${ATK_ENV[@]}" "$PY" "$@"
}
attack_bg() {
	local out=$1
	shift
	attack_env inet || return 2
	nsenter --net=/run/netns/"$T_PFX-inet" -- env "${ATK_ENV[@]}" "$PY" "$@" >"$out" 2>&1 &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}
attack_env() { # NS: ATK_ENV, the attacker's environment in NS
	local link src src6 mac
	case $1 in
	inet) link=$LAB_IF_INET_HOST src=$INET src6=$INET6 mac=$(nslab_mac host "$LAB_IF_HOST") ;;
	# the allowed country's next hop is inet, which forwards to the host
	allow) link=$LAB_IF_ALLOW src=$ALLOW src6=$ALLOW6 mac=$(nslab_mac inet "$LAB_IF_INET_ALLOW") ;;
	*) return 1 ;;
	esac
	ATK_ENV=(ATK_IFACE="$link" ATK_DMAC="$mac" ATK_SRC="$src" ATK_SRC6="$src6" PYTHONPATH="$T_ROOT/tests/adversary")
}
nslab_mac() { in_ns "$T_PFX-$1" ip -o link show dev "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; } # NS DEV

# nslab_downstream: a namespace $T_PFX-down behind the lab host (tests/lab/net.sh
# lab_net_downstream): the host $LAB_DOWN_GW_V4, $LAB_DOWN_GW_V6 on its link
# $LAB_IF_HOST_DOWN, forwarding on; the downstream server DOWN=192.0.2.130,
# DOWN6=2001:db8:d0::20 (network 192.0.2.128/25, 2001:db8:d0::/64, which inet
# routes to the host), default route through the host. The Internet and the
# allowed country reach it only through the host (the host's own rules decide;
# none are added here).
DOWN=$LAB_DOWN_V4 DOWN6=$LAB_DOWN_V6
in_down() { in_ns "$T_PFX-down" "$@"; }
nslab_downstream() {
	T_NETNS+=("$T_PFX-down")
	lab_net_downstream "$T_PFX"
}

# nslab_containers N: N "containers" behind the lab host (tests/lab/net.sh
# lab_net_containers): namespaces $T_PFX-c1..cN on the host's bridge
# $LAB_CTR_BR, removed by the EXIT trap; container K's addresses: lab_ctr_v4 K,
# lab_ctr_v6 K
nslab_containers() {
	local k
	for k in $(seq "$1"); do T_NETNS+=("$T_PFX-c$k"); done
	lab_net_containers "$T_PFX" "$1"
}

# nginx's access log as the judge of an attack: NGINX_LOG_FORMAT=$ADV_LOG_FORMAT
# records the peer, its port and the whole request line
ADV_LOG_FORMAT='$remote_addr $remote_port "$request" $status'
# adv_lines LOG SPORT: the lines of the Internet's connections from SPORT
adv_lines() { awk -v p="$2" -v a="$INET" -v b="$INET6" '($1 == a || $1 == b) && $2 == p' "$1" 2>/dev/null; }
# adv_extra LOG SPORT TOKEN: those of them that are not the challenge request for TOKEN
adv_extra() { adv_lines "$1" "$2" | grep -v "^[^ ]* $2 \"GET /\.well-known/acme-challenge/$3 HTTP/1\.1\" [0-9]*\$"; }
# adv_case OUT SPORT: attack.py's lines for the case from SPORT ("== NAME to DST from port SPORT" on)
adv_case() { awk -v p=" from port $2" '/^== /{ on = substr($0, length($0) - length(p) + 1) == p } on' "$1"; }
# adv_judge NAME OUT LOG SPORT TOKEN [answered]: PASS when nginx logged nothing
# from the attack's connection but (at most) the challenge request for TOKEN;
# FAIL, quoting nginx's lines, when it logged more, and also when the crafted
# handshake never completed (then nothing was tested) or, with "answered",
# when the challenge the attack sends first was not answered (its own control)
adv_judge() {
	local name=$1 out=$2 log=$3 sport=$4 tok=$5 extra
	if ! adv_case "$out" "$sport" | grep -q 'SYN-ACK'; then
		t_fail "$name (the crafted handshake did not complete: nothing was tested)"
		adv_case "$out" "$sport" | sed 's/^/    /'
		return
	fi
	if [ "${6:-}" = answered ] && ! adv_lines "$log" "$sport" | grep -q "\"GET /\.well-known/acme-challenge/$tok HTTP/1\.1\" 200\$"; then
		t_fail "$name (the attack's first request, the challenge, was not answered: its control failed)"
		adv_case "$out" "$sport" | sed 's/^/    /'
		return
	fi
	extra=$(adv_extra "$log" "$sport" "$tok")
	if [ -z "$extra" ]; then
		t_pass "$name"
	else
		t_fail "$name: nginx logged: $(head -3 <<<"$extra" | tr '\n' '|')"
	fi
}

# run_listener LABEL PORT SECONDS ADDR...: a plain window: `porthole run --
# listen.py PORT SECONDS ADDR...` in the host namespace (its output in
# $T_TMP/LABEL.out and .err); waits for the window line (or the end of
# porthole run); RUN_PID is porthole's PID. end_listener stops it.
run_listener() {
	local l=$1 i; shift
	bg_run "$T_TMP/$l.out" "$T_TMP/$l.err" run -- "$PY" "$T_TOOLS/listen.py" "$@"
	RUN_PID=$BG_PID
	for i in $(seq 100); do
		grep -q 'window .* open\|NO window' "$T_TMP/$l.err" 2>/dev/null && return 0
		kill -0 "$RUN_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
end_listener() { [ -n "${RUN_PID:-}" ] && { kill -TERM "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null; }; RUN_PID=; }
