#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The container engines as the lab runs them (tests/lab/engines.sh): Debian's
# docker.io 20.10 (containerd, runc) and podman 4.3 (netavark, conmon), each
# started inside the lab host's network namespace and a private mount
# namespace, on a fresh lab of its own (an engine's leftover tables, e.g.
# Docker's FORWARD policy drop, would decide the next engine's packets).
# For each engine:
#   - the root namespace's ruleset (read-only) and links are the same
#     before, during and after; the engine runs in the lab host's netns;
#   - the offline image runs the host's certbot, lego and busybox;
#   - a container from the offline image published with -p $H:80:80
#     (python3 -m http.server on :80 inside, the host's /usr) listens in a
#     netns of its own, and is reached through DNAT and the forward path:
#     the lab's geo-block is an input-hook ruleset, which forwarded traffic
#     never crosses, so the blocked country reaches the published port too
#     (the bypass issue 23 is about); the host's own ports stay blocked;
#     the engine's chains (DOCKER-USER / NETAVARK_FORWARD) are in the lab
#     host's ruleset;
#   - after the container stops: no process, netns, cgroup, veth or DNAT rule
#     of it; after the engine stops: no process, cgroup or mount namespace of
#     the engine, the lab host's own table as before (what tables the engine
#     leaves behind is said).
# An engine that cannot run here is SKIPped with the reason.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start engines lab
trap 'eng_stop docker >/dev/null 2>&1; eng_stop podman >/dev/null 2>&1; t_cleanup' EXIT

# the root namespaces as the engines must leave them: the network
# namespace's ruleset (read-only), a bridge or veth of theirs, the
# forwarding and bridge-netfilter sysctls they set (in the lab host); a
# mount of theirs in the machine's mount namespace
root_state() {
	nft list ruleset 2>&1
	ip -o link show 2>/dev/null | grep -oE ': (docker0|podman[0-9]*|veth[^:@]*)'
	sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.bridge.bridge-nf-call-iptables \
		net.bridge.bridge-nf-call-ip6tables 2>&1
	grep -F -- "$T_TMP" /proc/self/mountinfo
}
ROOT0=$(root_state)
root_same() { # WHEN
	local now
	now=$(root_state)
	if [ "$now" = "$ROOT0" ]; then
		t_pass "$KIND: the root namespace's ruleset, links, forwarding sysctls and mounts unchanged $1"
	else
		t_fail "$KIND: the root namespace changed $1: $(diff <(echo "$ROOT0") <(echo "$now") | head -8 | tr '\n' '|')"
	fi
}
# the lab host's own table (the lab's geo-block)
lab_own() { in_host nft list table inet filter 2>&1; }
lab_tables() { in_host nft list tables 2>/dev/null | sort; }
# a counter of the lab host's table engtest
counter() { in_host nft list chain inet engtest "$1" 2>/dev/null | grep -o 'packets [0-9]*' | head -1 | cut -d' ' -f2; }
# a fresh lab (the namespaces of the previous engine deleted)
lab_fresh() {
	local ns
	for ns in host inet allow; do ip netns del "$T_PFX-$ns" 2>/dev/null; done
	nslab_up
}
netns_ino() { stat -L -c %i "$1" 2>/dev/null; }
# netns_mounts: the netns bind mounts in the engine's mount namespace (every
# netns the engine or its network backend pinned: docker's sandboxes in
# its exec root, podman's in /run/netns)
netns_mounts() {
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "nsfs") print $5; break } }' \
		"/proc/$(_eng_tini "$KIND")/mountinfo" 2>/dev/null | tr '\n' ' '
}
# saw_peers: the container's log has the allowed and the blocked country's
# requests
saw_peers() {
	local log
	log=$(eng "$KIND" logs web 2>&1)
	grep -q "^$ALLOW .*GET /index.html" <<<"$log" && grep -q "^$INET .*GET /index.html" <<<"$log"
}
# container_gone: nothing of the container "web" left (sets gone_left: what is)
container_gone() {
	local p st h
	gone_left=""
	while read -r p st; do [ "$(proc_starttime "$p")" = "$st" ] && gone_left+="process $p "; done <"$cg_procs"
	gone_left+=$(for h in $(_eng_hier); do find "$h/$T_PFX-$KIND" -mindepth 1 -type d -name "*$cid*" 2>/dev/null; done | tr '\n' ' ')
	gone_left+=$(in_host ip -o link show type veth | grep -oE ': veth[^@:]*' | tr '\n' ' ')
	in_host nft list ruleset 2>/dev/null | grep -q "dnat to $cip:80" && gone_left+="the DNAT rule to $cip:80"
	[ -z "$gone_left" ]
}
listening80() { nsenter -t "$1" -n ss -Hltn 'sport = :80' 2>/dev/null | grep -q LISTEN; }
page() { in_ns "$T_PFX-$1" curl -s -m 5 "http://$H/index.html"; }

WWW=$T_TMP/www
mkdir -p "$WWW"
echo "engine test page" >"$WWW/index.html"
chmod 755 "$T_TMP" "$WWW"

engine_case() {
	KIND=$1
	local t0 t1 rc d p st cg_procs cgs veths cid cip cpid cino hino init_ns lab0 tables0 out owner fwd inp left gone_left
	d=$T_TMP/eng-$KIND
	t0=$(now)
	if [ "$KIND" != docker ]; then
		lab_fresh || { t_fail "$KIND: a fresh lab"; return; }
	fi
	lab0=$(lab_own)
	tables0=$(lab_tables)

	# ---- the engine
	t1=$(now)
	eng_up "$KIND" || return
	t_pass "$KIND: the engine started ($(since "$t1") s${ENG_PODMAN_RUNTIME:+, runtime $ENG_PODMAN_RUNTIME})"
	hino=$(netns_ino "/run/netns/$T_PFX-host")
	init_ns=$(readlink "/proc/$(_eng_tini "$KIND")/ns/net")
	t_eq "$KIND: the engine runs in the lab host's netns" "net:[$hino]" "$init_ns"
	if [ "$KIND" = docker ]; then
		local dpid
		dpid=$(cat "$d/dockerd.pid" 2>/dev/null)
		t_eq "$KIND: dockerd runs in the lab host's netns" "net:[$hino]" "$(readlink "/proc/$dpid/ns/net")"
	fi
	root_same "with the engine running"

	# ---- the offline image and a published container
	t1=$(now)
	if ! out=$(eng_image "$KIND" 2>&1); then
		t_fail "$KIND: import of the offline image: $(tail -c 400 <<<"$out")"
		eng_stop "$KIND"
		return
	fi
	if ! cid=$(eng_run "$KIND" --name web -p "$H:80:80" -v "$WWW:/srv:ro" "$ENG_IMAGE" \
		/usr/bin/python3 -m http.server -b 0.0.0.0 -d /srv 80 2>"$T_TMP/run.err"); then
		t_fail "$KIND: run -p $H:80:80: $(tail -c 400 "$T_TMP/run.err")"
		eng_stop "$KIND"
		return
	fi
	cid=$(tail -1 <<<"$cid")
	cpid=$(eng_pid "$KIND" web)
	if ! [ "${cpid:-0}" -gt 0 ] 2>/dev/null || ! until_ok 300 listening80 "$cpid"; then
		t_fail "$KIND: the container did not listen on :80 (pid '$cpid'): $(eng "$KIND" logs web 2>&1 | tail -3 | tr '\n' '|')"
		eng_stop "$KIND"
		return
	fi
	t_pass "$KIND: image imported, container listening ($(since "$t1") s)"
	# the clients the containers' end-to-end cases run, from the host's /usr
	out=$(eng "$KIND" run --rm --cgroup-parent "/$T_PFX-$KIND" -v /usr:/usr:ro "$ENG_IMAGE" \
		/bin/sh -c 'certbot --version; lego --version; busybox | head -1' 2>&1)
	if grep -q '^certbot [0-9]' <<<"$out" && grep -q '^lego version' <<<"$out" && grep -q '^BusyBox v' <<<"$out"; then
		t_pass "$KIND: the offline image runs the host's certbot, lego and busybox"
	else
		t_fail "$KIND: certbot, lego, busybox in the offline image: $(tail -3 <<<"$out" | tr '\n' '|')"
	fi
	cino=$(readlink "/proc/$cpid/ns/net")
	# the container's processes (its cgroup in the first hierarchy)
	cg_procs=$T_TMP/$KIND.procs
	for h in $(_eng_hier); do find "$h/$T_PFX-$KIND" -type d -name "*$cid*" -exec cat {}/cgroup.procs \; 2>/dev/null; done | sort -u |
		while read -r p; do echo "$p $(proc_starttime "$p")"; done >"$cg_procs"
	cgs=$(for h in $(_eng_hier); do find "$h/$T_PFX-$KIND" -mindepth 1 -maxdepth 1 -type d -name "*$cid*"; done 2>/dev/null | wc -l)
	if grep -q "^$cpid " "$cg_procs" && [ -d "$T_CG2/$T_PFX-$KIND" ] &&
		[ -n "$(find "$T_CG2/$T_PFX-$KIND" -mindepth 1 -maxdepth 1 -type d -name "*$cid*")" ]; then
		t_pass "$KIND: the container's cgroup is below the test's cgroup parent /$T_PFX-$KIND ($cgs hierarchies, cgroup v2 among them)"
	else
		t_fail "$KIND: the container's cgroups below /$T_PFX-$KIND: $cgs, its pid $cpid among their processes: $(grep -c "^$cpid " "$cg_procs")"
	fi
	veths=$(in_host ip -o link show type veth | grep -oE ': veth[^@:]*' | tr -d ': ' | tr '\n' ' ')
	t_check "$KIND: the container's veth is in the lab host (${veths% })" test -n "$veths"
	out=$(netns_mounts)
	t_check "$KIND: the container's netns is mounted in the engine's mount namespace only (${out% })" \
		eval '[ -n "$out" ] && ! grep -qF -- "${out%% *}" /proc/self/mountinfo'
	if [ -n "$cino" ] && [ "$cino" != "net:[$hino]" ] && [ "$(readlink "/proc/$cpid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; then
		t_pass "$KIND: the container's socket 0.0.0.0:80 is in a netns of its own ($cino, not the lab host's)"
	else
		t_fail "$KIND: the container's netns '$cino' (lab host: net:[$hino])"
	fi
	# the host's own listener on $H:80 is the engine's, not the container's
	owner=$(in_host ss -Hltnp "sport = :80" | grep -o '(("[^"]*"' | cut -d'"' -f2 | sort -u | tr '\n' ' ')
	case "$KIND:$owner" in
	"docker:docker-proxy " | "podman:conmon ") t_pass "$KIND: the lab host's listener on $H:80 is ${owner% } (the engine's), the server is not in the host's netns" ;;
	*) t_fail "$KIND: the lab host's listeners on :80: '$owner'" ;;
	esac
	cip=$(eng "$KIND" inspect -f '{{.NetworkSettings.IPAddress}}' web 2>/dev/null)
	# the engine's rules in the lab host's ruleset
	case $KIND in
	docker)
		t_check "$KIND: DOCKER-USER and DOCKER in the lab host's ip filter, DNAT $H:80 to $cip:80 in ip nat" \
			eval 'in_host nft list chain ip filter DOCKER-USER >/dev/null 2>&1 &&
			in_host nft list chain ip filter FORWARD 2>/dev/null | grep -q "jump DOCKER-USER" &&
			in_host nft list table ip nat 2>/dev/null | grep -q "ip daddr $H tcp dport 80 .*dnat to $cip:80"'
		t_check "$KIND: the bridge docker0 is the lab host's" eval 'in_host ip link show docker0 >/dev/null' ;;
	podman)
		t_check "$KIND: NETAVARK_FORWARD in the lab host's ip filter, DNAT to $cip:80 in ip nat" \
			eval 'in_host nft list chain ip filter NETAVARK_FORWARD >/dev/null 2>&1 &&
			in_host nft list chain ip filter FORWARD 2>/dev/null | grep -q "jump NETAVARK_FORWARD" &&
			in_host nft list table ip nat 2>/dev/null | grep -q "tcp dport 80 .*dnat to $cip:80"'
		t_check "$KIND: the bridge podman0 is the lab host's" eval 'in_host ip link show podman0 >/dev/null' ;;
	esac
	root_same "with a container published"

	# ---- through DNAT and the forward path
	in_host nft -f - <<NFT
table inet engtest {
	chain forwarded {
		type filter hook forward priority filter - 10; policy accept;
		ct state new ct status dnat ip daddr $cip tcp dport 80 counter
	}
	chain local {
		type filter hook input priority filter - 10; policy accept;
		ct state new ip daddr $H tcp dport 80 counter
	}
}
NFT
	t_eq "$KIND: the allowed country gets the container's page through $H:80" "engine test page" "$(page allow)"
	t_eq "$KIND: the blocked country gets it too (the input-hook geo-block never sees forwarded traffic)" \
		"engine test page" "$(page inet)"
	t_eq "$KIND: the host's own port $H2:80 stays blocked for the blocked country (the geo-block is live)" \
		dropped "$(probe inet "$H2" 80 0.5)"
	fwd=$(counter forwarded) inp=$(counter local)
	if [ "${fwd:-0}" -ge 2 ] && [ "${inp:-1}" = 0 ]; then
		t_pass "$KIND: both connections crossed the forward hook after DNAT ($fwd new), none the input hook"
	else
		t_fail "$KIND: forward-hook count '$fwd' (want >= 2), input-hook count '$inp' (want 0)"
	fi
	# (the log reaches the engine through conmon or the shim: a moment later)
	if until_ok 100 saw_peers; then
		t_pass "$KIND: the container saw the peers' own addresses ($ALLOW, $INET: DNAT${owner:+, not ${owner% }})"
	else
		t_fail "$KIND: the container's log: $(eng "$KIND" logs web 2>&1 | tail -3 | tr '\n' '|')"
	fi
	in_host nft delete table inet engtest

	# ---- the container stops
	t1=$(now)
	eng "$KIND" stop -t 1 web >/dev/null 2>&1 && eng "$KIND" rm web >/dev/null 2>&1
	rc=$?
	if [ "$rc" = 0 ] && until_ok 100 eval '! kill -0 '"$cpid"' 2>/dev/null'; then
		t_pass "$KIND: container stopped and removed ($(since "$t1") s)"
	else
		t_fail "$KIND: stop/rm of the container (rc $rc, pid $cpid alive: $(kill -0 "$cpid" 2>/dev/null && echo yes || echo no))"
	fi
	# (the engine may tear the network down after rm returns: a few seconds)
	if until_ok 100 container_gone; then
		t_pass "$KIND: nothing of the container left (its processes, cgroups, veth, DNAT rule)"
	else
		t_fail "$KIND: left of the container: $gone_left"
	fi
	# its netns: podman unmounts it with the container; dockerd's libnetwork
	# keeps the sandbox's bind mount until its garbage collection (every
	# 60 s) or its exit (the engine's mount namespace, checked below)
	out=$(netns_mounts)
	case $KIND in
	podman) t_eq "$KIND: the container's netns unmounted with it (no netns mount in the engine's mount namespace)" "" "$out" ;;
	docker) [ -z "$out" ] || t_log "$KIND: the container's netns still mounted by dockerd (libnetwork's garbage collection): $out" ;;
	esac
	until_ok 50 eval '[ "$(probe allow "$H" 80 1)" = refused ]'
	t_eq "$KIND: the allowed country now meets the host's closed port $H:80" refused "$(probe allow "$H" 80 1)"

	# ---- the engine stops
	# (the control of the check below: it sees the running engine)
	t_check "$KIND: eng_leftovers sees the running engine" test -n "$(eng_leftovers "$KIND")"
	t1=$(now)
	eng_stop "$KIND" >"$T_TMP/stop.out" 2>&1
	[ -s "$T_TMP/stop.out" ] && t_log "$(cat "$T_TMP/stop.out")"
	left=$(eng_leftovers "$KIND")
	if [ -z "$left" ]; then
		t_pass "$KIND: the engine ended ($(since "$t1") s): no process, cgroup or mount namespace of it left (nor the netns mounts it held)"
	else
		t_fail "$KIND: left of the engine: $(tr '\n' '|' <<<"$left")"
	fi
	t_eq "$KIND: the lab host's own table as before" "$lab0" "$(lab_own)"
	out=$(comm -13 <(echo "$tables0") <(lab_tables) | tr '\n' ',' | sed 's/,$//; s/,/, /g')
	if in_host nft list ruleset 2>/dev/null | grep -q "$cip"; then
		t_fail "$KIND: a rule naming the container's address $cip is left in the lab host"
	else
		t_pass "$KIND: no rule of the container left; the engine leaves its own tables behind: ${out:-none}"
	fi
	root_same "after the engine"
	t_log "$KIND: $(since "$t0") s"
}

engine_case docker
engine_case podman
t_summary
