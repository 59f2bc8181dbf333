#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/engines.sh — real container engines from Debian (docker.io 20.10
# with its containerd and runc; podman 4.3 with netavark, conmon and crun)
# run inside a lab host's network namespace. Source it after tests/lib.sh
# (it uses T_TMP, T_PFX, T_CG2 and appends to T_PIDS and T_CGROUPS, which
# the EXIT trap's t_cleanup ends and removes; a test on tests/lab/lab.sh's
# lab sets them itself and ENG_NETNS=$LAB_NS_HOST):
#
#   eng_start docker|podman   start the engine in the lab host's netns
#                             (ENG_NETNS, default "$T_PFX-host", a name under
#                             /run/netns); 0, or 1 with the reason on
#                             stderr (what it started ended again: its logs
#                             stay in $T_TMP/eng-KIND), or 77 with "SKIP
#                             <reason>" on stdout when it cannot run here (a
#                             package missing)
#   eng KIND ARGS...          the engine's CLI: `docker ARGS` (its socket) or
#                             `podman ARGS` (run in the engine's namespaces,
#                             under its subreaper, with the private storage
#                             and configuration)
#   eng_image KIND            import the offline image $ENG_IMAGE (no registry
#                             is reachable): an empty root tree whose /usr is
#                             the host's, bind-mounted read-only by eng_run
#   eng_run KIND ARGS...      `run -d --cgroup-parent ... -v /usr:/usr:ro
#                             ARGS` (ARGS: run options, $ENG_IMAGE, command);
#                             a podman container made otherwise needs
#                             --cgroup-parent /$T_PFX-podman itself (podman
#                             has no engine-wide parent: /libpod_parent)
#   eng_up KIND               eng_start for a test: t_skip or t_fail say why
#                             not (0 started, 1 failed, 2 skipped)
#   eng_pid KIND NAME         the container's init PID (in the root PID ns)
#   eng_stop KIND             end exactly what eng_start started: every
#                             container through the engine, then dockerd and
#                             containerd (TERM, by PID), then any shim or
#                             conmon left under the subreaper (by PID), the
#                             subreaper, the cgroups; prints what it had to
#                             kill; idempotent; safe in an EXIT trap
#   eng_leftovers KIND        after eng_stop: prints every process, cgroup
#                             and mount namespace of the engine still there
#                             (nothing: all gone)
#
# Where each engine lives (KIND: docker or podman; D=$T_TMP/eng-KIND):
#   - `nsenter --net=/run/netns/$ENG_NETNS` (not `ip netns exec`, whose
#     remount of /sys hides the cgroup mounts), then `unshare --mount
#     --propagation private` and `tini -s` (a subreaper: containerd-shim
#     and conmon daemonize and are reparented to it, not to PID 1). Its
#     child, this file run as a script, makes the private mounts and runs
#     the daemons and every podman command (requests through a fifo, so
#     that conmon is a descendant of the subreaper too).
#   - private in that mount namespace, bind mounts of directories under D:
#     /run (the copies of the machine's mounts below it, the netns of
#     /run/netns among them, unmounted first), /var/lib (so nothing falls back to /var/lib/docker,
#     /var/lib/containers, /var/lib/containerd of the machine), /etc/docker,
#     /etc/containers, /etc/containerd (copies of the machine's),
#     /etc/alternatives (a copy with iptables* -> iptables-nft). Mounts made
#     there never propagate out; they go with the namespace.
#   - docker: containerd with its own config, root, state and gRPC/ttrpc
#     addresses under D (containerd-shim's sockets go to
#     /run/containerd/s: the private /run), then dockerd --containerd that
#     socket (dockerd would silently use /run/containerd's if one existed),
#     --data-root/--exec-root/--pidfile under D, -H unix://D/docker.sock,
#     cgroupfs driver, --cgroup-parent /$T_PFX-docker, iptables on (its
#     rules go into the lab host's ruleset), the userland proxy on
#     (ENG_DOCKER_ARGS adds flags, e.g. --userland-proxy=false); the
#     bridge ENG_DOCKER_BIP (daemon.json's "bip").
#   - podman: --root/--runroot under D, --cgroup-manager cgroupfs, private
#     CONTAINERS_CONF (network_backend = netavark, conmon_env_vars,
#     default_ulimits = [], default_subnet ENG_PODMAN_SUBNET, events to a file, crun on a cgroup v2 host and
#     runc on a hybrid one: ENG_PODMAN_RUNTIME) and CONTAINERS_STORAGE_CONF
#     (overlay); eng_run adds --cgroup-parent /$T_PFX-podman.
#   - the daemons and the subreaper in the cgroup $T_CG2/$T_PFX-eng-KIND;
#     containers (and conmon) below /$T_PFX-KIND in every cgroup hierarchy.
#     All of them are in T_CGROUPS, every PID started in T_PIDS.

ENG_LIB=${BASH_SOURCE[0]}
# shellcheck source=proc.sh
. "$(dirname "$ENG_LIB")/proc.sh"
ENG_IMAGE=porthole-base
ENG_TIMEOUT=${ENG_TIMEOUT:-90}   # seconds for one engine command or start
# the engines' default bridges, in documentation ranges (the lab's plan,
# net.sh: 192.0.2.128/25 is free in a lab without the downstream); Docker
# and Podman would take 172.17.0.0/16 and 10.88.0.0/16
ENG_DOCKER_BIP=192.0.2.129/26   # docker0; containers from .130
ENG_PODMAN_SUBNET=192.0.2.192/26 # podman0 .193; containers from .194

# the tests' clocks and waits (every script that runs an engine uses them)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# until_ok TENTHS CMD...: CMD succeeds within TENTHS tenths of a second
until_ok() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}

_eng_err() { printf 'engines: %s\n' "$*" >&2; }

# ---- the engine's side: this file run as a script under tini -s ------------

# _eng_mounts D: the private mounts (we are in the new mount namespace)
_eng_mounts() {
	local d=$1 p src
	for p in etc/docker etc/containers etc/containerd; do
		mkdir -p "$d/priv/$p" || return 1
		src=/$p
		[ -d "$src" ] && { cp -a "$src/." "$d/priv/$p/" || return 1; }
		[ -d "$src" ] && { mount --bind "$d/priv/$p" "$src" || return 1; }
	done
	# iptables is iptables-nft here, whatever the machine's alternative
	# (dockerd and netavark run `iptables`; their rules are then nftables
	# tables of the lab host that `nft list ruleset` shows)
	mkdir -p "$d/priv/alternatives" && cp -a /etc/alternatives/. "$d/priv/alternatives/" || return 1
	for p in iptables ip6tables; do
		for src in "" -restore -save; do
			[ -e "/usr/sbin/$p-nft$src" ] && ln -sfn "/usr/sbin/$p-nft$src" "$d/priv/alternatives/$p$src"
		done
	done
	mount --bind "$d/priv/alternatives" /etc/alternatives || return 1
	mkdir -p "$d/priv/run" "$d/priv/varlib" || return 1
	# the copies of the machine's mounts below /run go first (the netns
	# mounts in /run/netns above all: a copy here would keep every lab's
	# netns alive, after its test deleted it, as long as this namespace)
	awk '$5 ~ "^/run/" { print $5 }' /proc/self/mountinfo | sort -r | while read -r p; do umount -l "$p"; done
	mount --bind "$d/priv/varlib" /var/lib || return 1
	mount --bind "$d/priv/run" /run || return 1
	mkdir -p /run/lock /run/netns /var/lib/docker /var/lib/containers /var/lib/containerd
}

# _eng_serve D: run the requests written to the fifo D/ctl, one at a time:
# "ID" names D/req/ID (the command, NUL-separated); its output goes to
# D/req/ID.out/.err, its status to D/req/ID.rc (written last). "quit" ends.
_eng_serve() {
	local d=$1 id args rc
	exec 3<>"$d/ctl"
	while read -r id <&3; do
		[ "$id" = quit ] && break
		mapfile -d '' -t args <"$d/req/$id"
		"${args[@]}" </dev/null >"$d/req/$id.out" 2>"$d/req/$id.err" &
		wait $!
		rc=$?
		echo "$rc" >"$d/req/$id.rc.tmp" && mv "$d/req/$id.rc.tmp" "$d/req/$id.rc"
	done
	exec 3<&-
}

# _eng_init KIND D: the child of tini. Mounts, then for docker containerd and
# dockerd; then serves requests until "quit" (or TERM); on the way out it
# ends dockerd, then containerd (TERM; KILL after 20 s), by PID.
_eng_init() {
	local kind=$1 d=$2 ctd='' dkd=''
	_eng_end() {
		local p
		for p in $dkd $ctd; do
			kill -TERM "$p" 2>/dev/null || continue
			for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$p" 2>/dev/null && { echo "init: $p ignored TERM: KILL"; kill -KILL "$p"; }
			wait "$p" 2>/dev/null
		done
		exit 0
	}
	trap _eng_end TERM INT
	_eng_mounts "$d" || { echo "init: private mounts failed"; exit 1; }
	if [ "$kind" = docker ]; then
		containerd --config "$d/containerd.toml" >>"$d/containerd.log" 2>&1 &
		ctd=$!
		for _ in $(seq $((ENG_TIMEOUT * 10))); do
			[ -S "$d/containerd/containerd.sock" ] && break
			kill -0 "$ctd" 2>/dev/null || { echo "init: containerd exited"; exit 1; }
			sleep 0.1
		done
		# shellcheck disable=SC2086
		dockerd --containerd "$d/containerd/containerd.sock" --config-file "$d/daemon.json" \
			--data-root "$d/docker" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
			-H "unix://$d/docker.sock" --exec-opt native.cgroupdriver=cgroupfs \
			--cgroup-parent "/$ENG_PARENT" --iptables=true --ip-masq=true ${ENG_DOCKER_ARGS:-} \
			>>"$d/dockerd.log" 2>&1 &
		dkd=$!
		echo "$ctd $dkd" >"$d/daemons.pid"
	fi
	echo ready >"$d/init.ready"
	_eng_serve "$d"
	_eng_end
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ "${1:-}" = init ] || { echo "usage: engines.sh init KIND DIR (run by eng_start)" >&2; exit 2; }
	ENG_PARENT=$4
	_eng_init "$2" "$3"
	exit
fi

# ---- the test's side ----------------------------------------------------------

# _eng_hier: every cgroup hierarchy's mount point (v1 controllers and v2)
_eng_hier() { awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' /proc/self/mountinfo; }

_eng_dir() { echo "$T_TMP/eng-$1"; }

_eng_confs() { # KIND D
	local kind=$1 d=$2
	case $kind in
	docker)
		mkdir -p "$d/containerd" "$d/cli" || return 1
		cat >"$d/containerd.toml" <<EOF || return 1
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd/containerd.sock"
[ttrpc]
  address = "$d/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
EOF
		# the bridge in a documentation range (Docker's default is
		# 172.17.0.0/16): docker0 192.0.2.129, containers from .130
		echo '{ "bip": "'"$ENG_DOCKER_BIP"'" }' >"$d/daemon.json"
		;;
	podman)
		mkdir -p "$d/podman/tmp" "$d/podman/networks" || return 1
		# crun (what Debian's podman prefers) refuses a hybrid cgroup layout
		# whose v2 hierarchy holds a controller ("cgroups in hybrid mode not
		# supported"); runc (podman's other runtime, and docker's) does not
		ENG_PODMAN_RUNTIME=crun
		[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && command -v crun >/dev/null || ENG_PODMAN_RUNTIME=runc
		cat >"$d/containers.conf" <<EOF || return 1
[containers]
default_ulimits = []
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/podman/events.log"
tmp_dir = "$d/podman/tmp"
image_copy_tmp_dir = "$d/podman/tmp"
conmon_env_vars = ["PATH=/usr/sbin:/usr/bin"]
runtime = "$ENG_PODMAN_RUNTIME"
[network]
network_backend = "netavark"
default_subnet = "$ENG_PODMAN_SUBNET"
network_config_dir = "$d/podman/networks"
EOF
		cat >"$d/storage.conf" <<EOF || return 1
[storage]
driver = "overlay"
graphroot = "$d/podman/root"
runroot = "$d/podman/run"
EOF
		;;
	esac
}

# eng_start KIND
eng_start() {
	local kind=$1 d b h
	d=$(_eng_dir "$kind")
	case $kind in
	docker) for b in dockerd containerd containerd-shim-runc-v2 runc docker-proxy docker; do
		command -v "$b" >/dev/null || { echo "SKIP docker: $b not installed (tests/deps.sh: docker.io containerd runc)"; return 77; }
	done ;;
	podman) for b in podman conmon /usr/lib/podman/netavark; do
		command -v "$b" >/dev/null || [ -x "$b" ] || { echo "SKIP podman: $b not installed (tests/deps.sh: podman netavark conmon)"; return 77; }
	done ;;
	*) _eng_err "unknown engine $kind"; return 1 ;;
	esac
	for b in tini iptables; do
		command -v "$b" >/dev/null || { echo "SKIP $kind: $b not installed (tests/deps.sh)"; return 77; }
	done
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems || { echo "SKIP $kind: no overlay filesystem in this kernel"; return 77; }
	mkdir -p "$d/req" && mkfifo "$d/ctl" || return 1
	_eng_confs "$kind" "$d" || return 1
	printf -v "ENG_PARENT_${kind}" '%s' "$T_PFX-$kind"
	for h in $(_eng_hier); do T_CGROUPS+=("$h/$T_PFX-$kind"); done
	local cg=$T_CG2/$T_PFX-eng-$kind
	mkdir -p "$cg" && T_CGROUPS+=("$cg") || return 1
	(
		echo $BASHPID >"$cg/cgroup.procs"
		exec nsenter --net=/run/netns/"${ENG_NETNS:-$T_PFX-host}" -- unshare --mount --propagation private -- \
			env ENG_DOCKER_ARGS="${ENG_DOCKER_ARGS:-}" ENG_TIMEOUT="$ENG_TIMEOUT" \
			tini -s -- bash "$ENG_LIB" init "$kind" "$d" "$T_PFX-$kind"
	) </dev/null >>"$d/init.log" 2>&1 &
	local pid=$!
	T_PIDS+=("$pid")
	printf -v "ENG_TINI_${kind}" '%s' "$pid"
	# (the engine's mount namespace, for eng_leftovers)
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$(command -v tini)")" ] && break
		sleep 0.02
	done
	readlink "/proc/$pid/ns/mnt" >"$d/mntns"
	for _ in $(seq $((ENG_TIMEOUT * 10))); do
		[ -e "$d/init.ready" ] && break
		kill -0 "$pid" 2>/dev/null || { _eng_err "$kind: the engine's init exited: $(tail -c 600 "$d/init.log" | tr "\n" " ")"; eng_stop "$kind" >/dev/null; return 1; }
		sleep 0.1
	done
	[ -e "$d/init.ready" ] || { _eng_err "$kind: no private mounts after ${ENG_TIMEOUT}s"; eng_stop "$kind" >/dev/null; return 1; }
	[ "$kind" = docker ] || return 0
	local dkd why="did not answer within ${ENG_TIMEOUT}s"
	for _ in $(seq $((ENG_TIMEOUT * 10))); do
		[ -S "$d/docker.sock" ] && eng docker version >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || { why="exited (the engine's init too)"; break; }
		dkd=$(cut -s -d' ' -f2 "$d/daemons.pid" 2>/dev/null)
		[ -n "$dkd" ] && ! kill -0 "$dkd" 2>/dev/null && { why=exited; break; }
		sleep 0.1
	done
	_eng_err "docker: dockerd $why: $(tail -c 800 "$d/dockerd.log" "$d/containerd.log" "$d/init.log" 2>/dev/null | tr '\n' ' ')"
	eng_stop "$kind" >/dev/null
	return 1
}

# _eng_call KIND CMD...: CMD run by the engine's init (its namespaces, under
# the subreaper); its output and status as if run here
_eng_call() {
	local kind=$1 d id rc tini
	shift
	d=$(_eng_dir "$kind")
	tini=$(_eng_tini "$kind")
	[ -n "$tini" ] && kill -0 "$tini" 2>/dev/null || { _eng_err "$kind: not running"; return 125; }
	ENG_SEQ=$((${ENG_SEQ:-0} + 1))
	id=$ENG_SEQ
	printf '%s\0' "$@" >"$d/req/$id" || return 125
	timeout 10 sh -c 'echo "$1" >"$2"' - "$id" "$d/ctl" || { _eng_err "$kind: the engine's init does not read requests"; return 125; }
	for _ in $(seq $((ENG_TIMEOUT * 20))); do
		[ -e "$d/req/$id.rc" ] && break
		kill -0 "$tini" 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$d/req/$id.rc" ] || { _eng_err "$kind: no answer to: $*"; return 124; }
	cat "$d/req/$id.out"
	cat "$d/req/$id.err" >&2
	read -r rc <"$d/req/$id.rc"
	rm -f "$d/req/$id" "$d/req/$id".*
	return "$rc"
}

_eng_tini() { local v="ENG_TINI_$1"; echo "${!v:-}"; }

# eng KIND ARGS...: the engine's CLI
eng() {
	local kind=$1 d
	shift
	d=$(_eng_dir "$kind")
	case $kind in
	docker) DOCKER_CONFIG=$d/cli docker -H "unix://$d/docker.sock" "$@" ;;
	podman) _eng_call podman env CONTAINERS_CONF="$d/containers.conf" CONTAINERS_STORAGE_CONF="$d/storage.conf" \
		podman --root "$d/podman/root" --runroot "$d/podman/run" --cgroup-manager cgroupfs "$@" ;;
	esac
}

# eng_image KIND: $ENG_IMAGE from an empty root tree (bin, sbin, lib, lib64
# are links into /usr, which eng_run mounts from the host)
eng_image() {
	local kind=$1 d r
	d=$(_eng_dir "$kind")
	r=$d/rootfs
	mkdir -p "$r"/{usr,etc,proc,sys,dev,run,tmp,var/tmp,srv,root} || return 1
	chmod 1777 "$r/tmp" "$r/var/tmp"
	ln -s usr/bin "$r/bin" && ln -s usr/sbin "$r/sbin" && ln -s usr/lib "$r/lib" && ln -s usr/lib64 "$r/lib64" || return 1
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$r/etc/hosts"
	tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$d/rootfs.tar" . || return 1
	eng "$kind" import "$d/rootfs.tar" "$ENG_IMAGE" >/dev/null
}

# eng_run KIND ARGS...: a detached container under the test's cgroup parent,
# the host's /usr read-only; prints its id
eng_run() {
	local kind=$1
	shift
	eng "$kind" run -d --cgroup-parent "/$T_PFX-$kind" -v /usr:/usr:ro "$@"
}

eng_pid() { eng "$1" inspect -f '{{.State.Pid}}' "$2"; }

# eng_up KIND: eng_start for a test: 0 started; 1 it did not (t_fail said
# why, what it started ended); 2 it cannot run here (t_skip said why)
eng_up() {
	local rc out
	# (not in a subshell: eng_start records what it started)
	eng_start "$1" >"$T_TMP/start-$1.out" 2>&1
	rc=$?
	out=$(cat "$T_TMP/start-$1.out")
	case $rc in
	0) return 0 ;;
	77) t_skip "${out#SKIP }"; return 2 ;;
	*) t_fail "$1: the engine did not start: $out"; eng_stop "$1"; return 1 ;;
	esac
}

# _eng_desc PID: PID's descendants (not PID), deepest last
_eng_desc() {
	ps -e -o pid=,ppid= | awk -v r="$1" '{ p[$1] = $2 } END {
		n = 0; q[n++] = r
		for (i = 0; i < n; i++) for (c in p) if (p[c] == q[i]) { q[n++] = c; print c }
	}'
}

# eng_stop KIND
eng_stop() {
	local kind=$1 d tini init ids p cg mnt alive all=() left=() inns=()
	d=$(_eng_dir "$kind")
	tini=$(_eng_tini "$kind")
	[ -n "$tini" ] || return 0
	if kill -0 "$tini" 2>/dev/null; then
		init=$(ps --ppid "$tini" -o pid=,args= | awk '/engines.sh init/ { print $1; exit }')
		# the containers, through the engine
		ids=$(eng "$kind" ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		# (podman's rm -f would first wait 10 s for a TERM that a container's
		# PID 1 ignores; docker's rm -f kills at once)
		[ -z "$ids" ] || case $kind in
		docker) eng docker rm -f $ids >/dev/null 2>&1 ;;
		podman) eng podman rm -f -t 0 $ids >/dev/null 2>&1 ;;
		esac
		# then what was reparented to the subreaper (shims, conmon) must go
		# on its own: wait for it, then end it by PID
		for _ in $(seq 100); do
			[ -z "$(ps -o pid= --ppid "$tini" | grep -vw "${init:-x}")" ] && break
			sleep 0.1
		done
		for p in $(ps -o pid= --ppid "$tini" | grep -vw "${init:-x}"); do
			left+=("$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80)")
			kill -TERM "$p" 2>/dev/null
		done
		# the daemons (docker): the init ends them, by PID, on "quit"
		for p in $(_eng_desc "$tini"); do all+=("$p:$(proc_starttime "$p")"); done
		timeout 10 sh -c 'echo quit >"$1"' - "$d/ctl" 2>/dev/null || kill -TERM "${init:-x}" 2>/dev/null
		for _ in $(seq 300); do kill -0 "$tini" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$tini" 2>/dev/null && { left+=("$tini:tini"); kill -KILL "$tini"; }
		wait "$tini" 2>/dev/null
		# anything that outlived the subreaper (reparented to PID 1): by PID
		for p in "${all[@]}"; do
			[ "$(proc_starttime "${p%%:*}")" = "${p#*:}" ] || continue
			left+=("${p%%:*}:$(tr '\0' ' ' <"/proc/${p%%:*}/cmdline" 2>/dev/null | cut -c1-80)")
			kill -KILL "${p%%:*}" 2>/dev/null
		done
		# a process still in the engine's private mount namespace (a `runc
		# init` whose container never started, under load) is the test's
		# own: wait for it a moment, then end it by PID
		mnt=$(cat "$d/mntns" 2>/dev/null)
		for _ in $(seq 30); do
			inns=()
			for p in /proc/[0-9]*; do
				[ -n "$mnt" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] && inns+=("${p#/proc/}")
			done
			[ ${#inns[@]} -eq 0 ] && break
			sleep 0.1
		done
		for p in "${inns[@]}"; do
			left+=("$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80)")
			kill -KILL "$p" 2>/dev/null
		done
		for _ in $(seq 30); do
			alive=0
			for p in "${inns[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
			[ "$alive" = 0 ] && break
			sleep 0.1
		done
		[ ${#left[@]} -eq 0 ] || echo "engines: $kind: ended by PID what its engine left: ${left[*]}"
		# (when its mount namespace was gone: the kernel gives its inode
		# to the next namespace made, see eng_leftovers)
		awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz + 1 }' /proc/uptime >"$d/gone"
	fi
	printf -v "ENG_TINI_${kind}" '%s' ''
	# the cgroups (a cgroup whose last task is still exiting is busy a moment)
	for _ in $(seq 50); do
		left=()
		for cg in $(_eng_hier | sed "s|\$|/$T_PFX-$kind|") "$T_CG2/$T_PFX-eng-$kind"; do
			[ -d "$cg" ] || continue
			find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$cg" ] && left+=("$cg")
		done
		[ ${#left[@]} -eq 0 ] && break
		sleep 0.1
	done
	return 0
}

# eng_leftovers KIND: what of the engine is still there (nothing: all gone):
# its cgroups, a process in its mount namespace, in its cgroups or naming its
# directory, a mount namespace holding its mounts
eng_leftovers() {
	local kind=$1 d h p mnt gone
	d=$(_eng_dir "$kind")
	mnt=$(cat "$d/mntns" 2>/dev/null)
	for h in $(_eng_hier); do
		[ -e "$h/$T_PFX-$kind" ] && echo "cgroup $h/$T_PFX-$kind: $(find "$h/$T_PFX-$kind" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
	done
	[ -e "$T_CG2/$T_PFX-eng-$kind" ] && echo "cgroup $T_CG2/$T_PFX-eng-$kind: $(tr '\n' ' ' <"$T_CG2/$T_PFX-eng-$kind/cgroup.procs")"
	gone=$(cat "$d/gone" 2>/dev/null)
	for p in /proc/[0-9]*; do
		[ -n "$mnt" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] || continue
		# (a process started after the engine's namespace was gone is in
		# another's that got its inode: another test's, running beside)
		[ -n "$gone" ] && [ "$(proc_starttime "${p#/proc/}" || echo 0)" -gt "$gone" ] && continue
		# (nor is one in none of this test's cgroups: every process the
		# engine starts is in one, see eng_start; the inode was freed and
		# taken before "gone" was written, by a container started then)
		grep -q -- "/$T_PFX-" "$p/cgroup" 2>/dev/null || continue
		echo "process ${p#/proc/} in the engine's mount namespace: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-100)"
	done
	grep -l -- "$d/priv" /proc/[0-9]*/mountinfo 2>/dev/null | sed 's|^/proc/\([0-9]*\)/.*|a mount namespace with its mounts (process \1)|'
	return 0
}
