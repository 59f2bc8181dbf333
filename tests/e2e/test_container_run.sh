#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/test_container_run.sh — `porthole run --container docker:certbot
# -- docker run --rm --name certbot -p $H:80:80 ... certbot certonly
# --standalone` end to end (issue 23): Debian's docker.io 20.10 in the pebble
# lab's host (tests/lab/engines.sh), the geo-block in DOCKER-USER dropping
# the blocked country (where pebble validates from) on port 80; the config
# has no line for the container (only an empty cgroup's published line, for
# the container objects) and Docker's state under the engine's private root
# (docker_root; the daemon with CAP_DAC_READ_SEARCH, README Containers).
#   - the container's certbot gets its certificate, chained to pebble's root;
#   - its window's records name the designation docker:certbot, config line
#     0; no window is left after the command, and the session ended;
#   - fail first: the same container without the session gets none (no
#     window; certbot fails).
# Then the same with Debian's podman 4.3 in a fresh lab (CR_ENGINES, default
# "docker podman"): `porthole run --container podman:certbot -- podman run
# --rm --name certbot ...`, the podman CLI run in the engine's network and
# mount namespaces (nsenter) as the session's command, the geo-block at the
# top of FORWARD (netavark 1.4), podman_root/podman_runroot the engine's.
# conmon is a child of `podman run` (it double-forks away from it), so it
# and the container's processes carry the session's tag: the session lasts
# until the last of them exits; `podman run --rm` in the foreground returns
# when the container has stopped, and the session ends with conmon.
#   - the same three checks; and the session ended after the command.
# Env: E2E_LAB_PREFIX (default phlr$$), E2E_KEEP=DIR (the daemon's log, the
# audit and the clients' output of each engine kept there). 77 when it cannot run at all.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start container_run
for b in pebble pebble-challtestsrv openssl curl iptables-nft; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
LAB_PREFIX=${E2E_LAB_PREFIX:-phlr$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
ENG_NETNS=$LAB_NS_HOST
export RES_OPTIONS="timeout:1 attempts:1"
W=$T_TMP/w A=$T_TMP/audit.jsonl LAB=0
cleanup() {
	trap - EXIT INT TERM
	eng_stop docker >/dev/null 2>&1
	eng_stop podman >/dev/null 2>&1
	daemon_stop >/dev/null 2>&1
	[ "$LAB" = 1 ] && lab_down
	t_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cwin_elements() {
	in_host nft -j list set inet porthole cwin 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(len(x["set"].get("elem",[])) for x in d if "set" in x))' 2>/dev/null || echo 0
}
cwin_is() { [ "$(cwin_elements)" = "$1" ]; }
cert_ok() { # CERT CHAIN NAME
	local sans
	[ -s "$1" ] || { t_log "no certificate at $1"; return 1; }
	sans=$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
	[ "$sans" = "DNS:$3" ] || { t_log "SANs '$sans', want DNS:$3"; return 1; }
	openssl verify -CAfile "$LAB_STATE/pebble-root.pem" -untrusted "$2" "$1" >/dev/null 2>&1
}

CR_ENGINES=${CR_ENGINES:-docker podman}

# certbot NAME [porthole run --container ARGS]: its container (the engine's
# CLI as CMD), its output in $W/NAME.out; its exit status
certbot() {
	local name=$1 cli
	shift
	case $K in
	docker) cli=(env DOCKER_CONFIG="$D/cli" docker -H "unix://$D/docker.sock") ;;
	# (the engine's namespaces: its init's; podman and conmon are the
	# session's, conmon reparented to PID 1 when it double-forks)
	podman) cli=(nsenter -t "$(ps --ppid "$(_eng_tini podman)" -o pid= | head -1 | tr -d ' ')" -n -m --
		env CONTAINERS_CONF="$D/containers.conf" CONTAINERS_STORAGE_CONF="$D/storage.conf"
		podman --root "$D/podman/root" --runroot "$D/podman/run" --cgroup-manager cgroupfs) ;;
	esac
	"$@" "${cli[@]}" run --rm --name certbot \
		--cgroup-parent "/$T_PFX-$K" -p "$H:80:80" -v /usr:/usr:ro -v "$W:/w" -e REQUESTS_CA_BUNDLE=/w/ca.pem \
		"$ENG_IMAGE" /usr/bin/certbot certonly --standalone --http-01-port 80 -d "$name" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--config-dir /w/certbot/config --work-dir /w/certbot/work --logs-dir /w/certbot/logs >"$W/$name.out" 2>&1
}

# run_case KIND: the story with engine KIND in a fresh lab (0 ran, 2 skipped)
run_case() {
K=$1
local t0 GEO GEOCHAIN ENGCFG name rc t1
case $K in
docker) GEOCHAIN=DOCKER-USER; GEO=(-I DOCKER-USER) ;;
podman) GEOCHAIN=FORWARD; GEO=(-I FORWARD 1) ;;
esac
D=$(_eng_dir "$K")
case $K in
docker) ENGCFG=("docker_root = $D/docker") ;;
podman) ENGCFG=("podman_root = $D/podman/root" "podman_runroot = $D/podman/run") ;;
esac
t0=$(now)
lab_up || { t_fail "$K: the pebble lab ($LAB_PREFIX) came up"; return 1; }
LAB=1
rm -rf "$W" && mkdir -p "$W" && chmod 755 "$W" "$T_TMP" && cp "$LAB_CA_PEM" "$W/ca.pem" && chmod 644 "$W/ca.pem" ||
	{ t_fail "$K: the test's files"; return 1; }
eng_up "$K"
case $? in 0) ;; 2) return 2 ;; *) return 1 ;; esac
out=$(eng_image "$K" 2>&1) || { t_fail "$K: import of the offline image: $(tail -c 300 <<<"$out")"; return 1; }
in_host iptables-nft "${GEO[@]}" -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
	{ t_fail "$K: the geo-block in $GEOCHAIN"; return 1; }
t_log "$K: lab, engine and its image up ($(since "$t0") s)"
NONE=$T_PFX-none
mkdir -p "$T_CG2/$NONE" && T_CGROUPS+=("$T_CG2/$NONE")
rm -f "$A" # (the daemon's user makes it)
T_EXTRA_CAPS=+dac_read_search daemon_start "ports = 80" "designate = cgroup /$NONE published" "${ENGCFG[@]}" ||
	{ t_fail "$K: daemon start"; return 1; }

# ---- fail first: no session, no window ---------------------------------------------------
name=ctr-norun-$K.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "$K: DNS name $name"
t1=$(now)
certbot "$name"
rc=$?
t_check "$K: without the session: certbot in the container gets no certificate (exit $rc, $(since "$t1") s)" \
	eval '[ "$rc" != 0 ] && [ ! -e "$W/certbot/config/live/$name/cert.pem" ]'
t_check "$K: ... and no window opened" eval '! grep -q "container: window [0-9]* opened" "$T_DLOG"'

# ---- porthole run --container KIND:certbot -- KIND run ... ------------------------
name=ctr-run-$K.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "$K: DNS name $name"
t1=$(now)
certbot "$name" ph run --container "$K:certbot" --
rc=$?
if [ $rc = 0 ] && cert_ok "$W/certbot/config/live/$name/cert.pem" "$W/certbot/config/live/$name/chain.pem" "$name"; then
	t_pass "$K: porthole run --container $K:certbot -- $K run ... certbot: the certificate, chained to pebble's root ($(since "$t1") s)"
else
	t_fail "$K: run --container: exit $rc ($(since "$t1") s): $(grep -E 'Detail|Error|error|porthole' "$W/$name.out" | head -3 | cut -c1-200 | tr '\n' '|'); daemon: $(grep container "$T_DLOG" | tail -2 | cut -c1-250 | tr '\n' '|')"
fi
t_check "$K: its window opened for the container the state names certbot (config line 0)" \
	grep -q "container: window [0-9]* opened: tcp/80 of pid [0-9]* in cgroup /$T_PFX-$K/[a-z-]*[0-9a-f]* (config line 0)" "$T_DLOG"
# (Podman: podman binds the published port in the host's namespace to
# reserve it and hands the socket to conmon; the session's host window is
# for that socket, and what DNAT sends on is the container window's, F1)
own=$(grep -o "window [0-9]* open: tcp/80 to session .*" "$T_DLOG" | cut -c1-160 | tr '\n' '|')
t_log "$K: the session's own (host) windows: ${own:-none}"
until_ok 30 cwin_is 0
t_eq "$K: after the command: no container window left" 0 "$(cwin_elements)"
t_check "$K: the session ended" grep -q "session [0-9]* ended" "$T_DLOG"
t_check "$K: window-open audited: kind container, designation $K:certbot, config line 0" \
	grep -q '"event":"window-open".*"kind":"container".*"designation":{"type":"container","value":"'"$K"':certbot","config_line":0}' "$A"
daemon_stop
t_eq "$K: portholed exited 0 on SIGTERM" 0 $?
[ -n "${E2E_KEEP:-}" ] && mkdir -p "$E2E_KEEP/$K" && cp -a "$T_DLOG" "$A" "$W"/*.out "$E2E_KEEP/$K/" 2>/dev/null
out=$(eng_stop "$K" 2>&1)
[ -n "$out" ] && t_log "$out"
t_eq "$K: nothing of the engine left" "" "$(eng_leftovers "$K")"
lab_down
LAB=0
t_log "$K: $(since "$t0") s"
return 0
}

ran=0
for k in $CR_ENGINES; do
	run_case "$k"
	[ $? = 2 ] || ran=1
	[ "$LAB" = 1 ] && { daemon_stop >/dev/null 2>&1; eng_stop "$k" >/dev/null 2>&1; lab_down; LAB=0; }
done
# (77 only when no engine could run at all)
[ "$ran" = 0 ] && { t_summary; exit 77; }
t_summary
