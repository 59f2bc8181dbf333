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
# Env: E2E_LAB_PREFIX (default phlr$$). 77 when it cannot run at all.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start container_run
for b in pebble pebble-challtestsrv openssl curl iptables-nft docker; do
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

t0=$(now)
lab_up || { t_fail "the pebble lab ($LAB_PREFIX) came up"; t_summary; exit 1; }
LAB=1
mkdir -p "$W" && chmod 755 "$W" "$T_TMP" && cp "$LAB_CA_PEM" "$W/ca.pem" && chmod 644 "$W/ca.pem" ||
	{ t_fail "the test's files"; t_summary; exit 1; }
eng_up docker
case $? in 0) ;; 2) t_summary; exit 77 ;; *) t_summary; exit 1 ;; esac
out=$(eng_image docker 2>&1) || { t_fail "import of the offline image: $(tail -c 300 <<<"$out")"; t_summary; exit 1; }
in_host iptables-nft -I DOCKER-USER -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
	{ t_fail "the geo-block in DOCKER-USER"; t_summary; exit 1; }
t_log "lab, docker and its image up ($(since "$t0") s)"
D=$(_eng_dir docker)
NONE=$T_PFX-none
mkdir -p "$T_CG2/$NONE" && T_CGROUPS+=("$T_CG2/$NONE")
T_EXTRA_CAPS=+dac_read_search daemon_start "ports = 80" "designate = cgroup /$NONE published" "docker_root = $D/docker" ||
	{ t_fail "daemon start"; t_summary; exit 1; }

# certbot NAME [porthole run --container ARGS]: its container (the docker
# CLI as CMD), its output in $W/NAME.out; its exit status
certbot() {
	local name=$1
	shift
	"$@" env DOCKER_CONFIG="$D/cli" docker -H "unix://$D/docker.sock" run --rm --name certbot \
		--cgroup-parent "/$T_PFX-docker" -p "$H:80:80" -v /usr:/usr:ro -v "$W:/w" -e REQUESTS_CA_BUNDLE=/w/ca.pem \
		"$ENG_IMAGE" /usr/bin/certbot certonly --standalone --http-01-port 80 -d "$name" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--config-dir /w/certbot/config --work-dir /w/certbot/work --logs-dir /w/certbot/logs >"$W/$name.out" 2>&1
}

# ---- fail first: no session, no window ---------------------------------------------------
name=ctr-norun.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "DNS name $name"
t1=$(now)
certbot "$name"
rc=$?
t_check "without the session: certbot in the container gets no certificate (exit $rc, $(since "$t1") s)" \
	eval '[ "$rc" != 0 ] && [ ! -e "$W/certbot/config/live/$name/cert.pem" ]'
t_check "... and no window opened" eval '! grep -q "container: window [0-9]* opened" "$T_DLOG"'

# ---- porthole run --container docker:certbot -- docker run ... ------------------------
name=ctr-run.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "DNS name $name"
t1=$(now)
certbot "$name" ph run --container docker:certbot --
rc=$?
if [ $rc = 0 ] && cert_ok "$W/certbot/config/live/$name/cert.pem" "$W/certbot/config/live/$name/chain.pem" "$name"; then
	t_pass "porthole run --container docker:certbot -- docker run ... certbot: the certificate, chained to pebble's root ($(since "$t1") s)"
else
	t_fail "run --container: exit $rc ($(since "$t1") s): $(grep -E 'Detail|Error|error|porthole' "$W/$name.out" | head -3 | cut -c1-200 | tr '\n' '|'); daemon: $(grep container "$T_DLOG" | tail -2 | cut -c1-250 | tr '\n' '|')"
fi
t_check "its window opened for the container the state names certbot (config line 0)" \
	grep -q "container: window [0-9]* opened: tcp/80 of pid [0-9]* in cgroup /$T_PFX-docker/[0-9a-f]* (config line 0)" "$T_DLOG"
until_ok 30 cwin_is 0
t_eq "after the command: no container window left" 0 "$(cwin_elements)"
t_check "the session ended" grep -q "session [0-9]* ended" "$T_DLOG"
t_check "window-open audited: kind container, designation docker:certbot, config line 0" \
	grep -q '"event":"window-open".*"kind":"container".*"designation":{"type":"container","value":"docker:certbot","config_line":0}' "$A"
daemon_stop
t_eq "portholed exited 0 on SIGTERM" 0 $?
t_log "$(since "$t0") s"
t_summary
