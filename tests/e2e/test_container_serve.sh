#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A web server in a real Docker container gets a certificate through the
# guarded window portholed opens to it (issue 23 case 3;
# docs/design/containers.md §5): Debian's docker.io 20.10 in the pebble lab's
# host (tests/lab/engines.sh), a python http.server in container web under a
# cgroup parent of the test, published with -p $H:80:80, its webroot a bind
# mount of a host directory; the admin's geo-block in DOCKER-USER drops the
# blocked country, where pebble validates from. portholed runs with `serve =
# container docker:web webroot=HOST_PATH` (docker_root: the lab engine's):
# it finds web's listener in web's network namespace (Docker's state names
# it web), and while a token file is in the host path the window is open
# (csrv element, the guard pair above the geo-block, the guard judging web's
# socket by the DSCP). A probe token: the window opens; the blocked
# country's GET / is read by nothing, its challenge for the probe token is
# read by web; the allowed country's GET / is. certbot --webroot on the host,
# writing the host path, gets its certificate (its tokens live while it
# runs); web read nothing else from the blocked country. The tokens gone:
# the window closes; the blocked country's GET / is dropped by DOCKER-USER.
# The daemon stops: the host's ruleset as before it (counters aside).
# Then the same with Debian's podman 4.3 (netavark 1.4) in a fresh lab: web
# a podman container, the geo-block at the top of ip filter FORWARD
# (netavark has no user chain), `serve = container podman:web` with the
# engine's podman_root/podman_runroot.
# Env: E2E_LAB_PREFIX (default phls$$), CS_ENGINES (default "docker podman").
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start container_serve
for b in pebble pebble-challtestsrv openssl certbot iptables-nft; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
LAB_PREFIX=${E2E_LAB_PREFIX:-phls$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
ENG_NETNS=$LAB_NS_HOST
export RES_OPTIONS="timeout:1 attempts:1"
PARENT=/$T_PFX-web
WWW=$T_TMP/www LOGD=$T_TMP/log HL=$T_ROOT/tests/adversary/httplog.py
LAB=0

cleanup() {
	trap - EXIT INT TERM
	daemon_stop >/dev/null 2>&1
	eng_stop docker >/dev/null 2>&1
	eng_stop podman >/dev/null 2>&1
	[ "$LAB" = 1 ] && lab_down
	t_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for h in $(_eng_hier); do T_CGROUPS+=("$h$PARENT"); done

CS_ENGINES=${CS_ENGINES:-docker podman}
# read_by WHO PATH: web's log has WHO's GET PATH (python's log line: PEER - - [date] "GET PATH ...")
read_by() { grep -q "^$1 - - .*\"GET $2 " "$LOGD/web.log"; }
LAB_NS_inet=$LAB_NS_INET LAB_NS_allow=$LAB_NS_ALLOW
probe() { local ns=LAB_NS_$1; in_ns "${!ns}" "$PY" "$HL" get "$H" 80 "$2" "${3:-2}" | head -1 | cut -c1-60; }
c_listens() { nsenter -t "$CPID" -n ss -Hltn 'sport = :80' 2>/dev/null | grep -q LISTEN; }
ruleset() { in_host nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }

# serve_case KIND: the whole story with engine KIND (docker or podman) in a
# fresh lab; every check's name starts with KIND
serve_case() {
local K=$1 GEO GEOCHAIN D ENGCFG
case $K in
docker) GEOCHAIN=DOCKER-USER; GEO=(-I DOCKER-USER) ;;
podman) GEOCHAIN=FORWARD; GEO=(-I FORWARD 1) ;;
esac
D=$(_eng_dir "$K")
case $K in
docker) ENGCFG=("docker_root = $D/docker") ;;
podman) ENGCFG=("podman_root = $D/podman/root" "podman_runroot = $D/podman/run") ;;
esac
t1=$(now)
lab_up || { t_fail "$K: the pebble lab ($LAB_PREFIX) came up"; return 1; }
LAB=1
rm -rf "$WWW" "$LOGD" "$T_TMP/certbot"
mkdir -p "$WWW/.well-known/acme-challenge" "$LOGD" && chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" \
	"$WWW/.well-known/acme-challenge" "$LOGD"
echo "the site" >"$WWW/index.html" && chmod 644 "$WWW/index.html"
eng_up "$K"
case $? in 0) ;; 2) return 2 ;; *) return 1 ;; esac
out=$(eng_image "$K" 2>&1) || { t_fail "$K: the offline image: $(tail -c 300 <<<"$out")"; return 1; }
in_host iptables-nft "${GEO[@]}" -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
	{ t_fail "$K: the geo-block in $GEOCHAIN"; return 1; }
t_log "$K: lab, engine and the image up ($(since "$t1") s)"

: >"$LOGD/web.log"
if ! eng "$K" run -d --name web --cgroup-parent "$PARENT" -p "$H:80:80" -v /usr:/usr:ro -v "$WWW:/www:ro" \
	-v "$LOGD:/log" "$ENG_IMAGE" /bin/sh -c "exec /usr/bin/python3 -u -m http.server -d /www 80 2>>/log/web.log" \
	>/dev/null 2>"$T_TMP/run.err"; then
	t_fail "$K: run web: $(tail -c 300 "$T_TMP/run.err")"; return 1
fi
CPID=$(eng_pid "$K" web)
until_ok 200 c_listens || { t_fail "$K: web listens on :80 in its netns"; return 1; }
WEB_IP=$(eng "$K" inspect -f '{{.NetworkSettings.IPAddress}}' web)
CG=$(awk -F: '$1 == "0" { print $3 }' "/proc/$CPID/cgroup")
t_check "$K: web runs in cgroup v2 below $PARENT ($CG), address $WEB_IP" eval '[[ $CG == $PARENT/* ]] && [ -d "$T_CG2$CG" ] && [ -n "$WEB_IP" ]'

out=$(probe inet /before-window)
until_ok 10 read_by "$INET" /before-window
t_check "$K: no window: the blocked country's GET / is dropped by $GEOCHAIN ($out)" eval '! read_by "$INET" /before-window'

ruleset >"$T_TMP/ruleset.before"
rm -f "$T_TMP/audit.jsonl" # (the daemon's user makes it)
# the engine's state is root's, 0700: the daemon reads it with CAP_DAC_READ_SEARCH (README Containers)
T_EXTRA_CAPS=+dac_read_search daemon_start "ports = 80" "${ENGCFG[@]}" \
	"serve = container $K:web webroot=$WWW" || { t_fail "$K: daemon start"; return 1; }
t_check "$K: portholed finds web's listener (the engine's state names it web)" \
	wait_for "$T_DLOG" "server $K:web: its listener pid [0-9]* tcp/80 in cgroup $CG " 50
PROBE=Probe_tok3n-1
echo probe >"$WWW/.well-known/acme-challenge/$PROBE" && chmod 644 "$WWW/.well-known/acme-challenge/$PROBE"
t_check "$K: a token in the host path: the window opens" wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to $K:web" 50
t_log "$(in_host iptables-nft -S "$GEOCHAIN" 2>/dev/null)"

out=$(probe inet /blocked-get)
until_ok 10 read_by "$INET" /blocked-get
t_check "$K: window: the blocked country's GET / through $H:80 is read by nothing ($out)" eval '! read_by "$INET" /blocked-get'
out=$(probe inet /.well-known/acme-challenge/$PROBE 4)
until_ok 20 read_by "$INET" /.well-known/acme-challenge/$PROBE
t_check "$K: window: its challenge for the live probe token is read by web ($out)" read_by "$INET" /.well-known/acme-challenge/$PROBE
out=$(probe allow /allowed-get 4)
until_ok 20 read_by "$ALLOW" /allowed-get
t_check "$K: window: the allowed country's GET / is read by web ($out)" read_by "$ALLOW" /allowed-get

name=ctr-serve-$K.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "$K: DNS name $name"
t1=$(now)
timeout -k 5 180 nsenter --net="/run/netns/$LAB_NS_HOST" -- env REQUESTS_CA_BUNDLE="$LAB_CA_PEM" \
	certbot certonly --webroot -w "$WWW" -d "$name" --server "$LAB_ACME_DIR" --agree-tos \
	--register-unsafely-without-email --non-interactive --config-dir "$T_TMP/certbot/config" \
	--work-dir "$T_TMP/certbot/work" --logs-dir "$T_TMP/certbot/logs" >"$T_TMP/certbot.out" 2>&1
rc=$?
crt=$T_TMP/certbot/config/live/$name
sans=$(openssl x509 -in "$crt/cert.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
if [ $rc = 0 ] && [ "$sans" = "DNS:$name" ] &&
	openssl verify -CAfile "$LAB_STATE/pebble-root.pem" -untrusted "$crt/chain.pem" "$crt/cert.pem" >/dev/null 2>&1; then
	t_pass "$K: certbot --webroot on the host, writing the host path of web's webroot, got its certificate ($(since "$t1") s)"
else
	t_fail "$K: certbot --webroot: exit $rc, SANs '$sans': $(grep -E 'Detail|Error|error' "$T_TMP/certbot.out" | head -3 | cut -c1-200 | tr '\n' '|')"
fi
t_check "$K: web read pebble's challenge requests from the blocked country" grep -q "^$INET - - .*\"GET /.well-known/acme-challenge/" "$LOGD/web.log"
t_check "$K: and nothing else from it" bash -c "! grep \"^$INET - - \" '$LOGD/web.log' | grep -qv '\"GET /.well-known/acme-challenge/[A-Za-z0-9_-]* HTTP/1.[01]\"'"
t_log "$K: web's log: $(tr '\n' '|' <"$LOGD/web.log" | cut -c1-600)"
rm -f "$WWW/.well-known/acme-challenge/$PROBE"
t_check "$K: the tokens gone: the window closes" wait_for "$T_DLOG" "window [0-9]* closed (tokens-gone)" 50
t_check "$K: the close record: kind container, requests admitted and dropped" "$PY" - "$T_TMP/audit.jsonl" <<'PY2'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
c = [r for r in recs if r["event"] == "window-close" and r.get("kind") == "container"]
sys.exit(0 if c and sum(r["requests_admitted"] for r in c) >= 2 and sum(r["requests_dropped"] for r in c) >= 1 else 1)
PY2
out=$(probe inet /after-window)
until_ok 10 read_by "$INET" /after-window
t_check "$K: after: the blocked country's GET / is dropped by $GEOCHAIN ($out)" eval '! read_by "$INET" /after-window'
daemon_stop
t_eq "$K: portholed exits 0 on SIGTERM" 0 $?
ruleset >"$T_TMP/ruleset.after"
t_check "$K: the host's ruleset is as before the daemon (counters aside)" diff "$T_TMP/ruleset.before" "$T_TMP/ruleset.after"
out=$(eng_stop "$K" 2>&1)
[ -n "$out" ] && t_log "$out"
t_eq "$K: nothing of the engine left" "" "$(eng_leftovers "$K")"
# (the next engine gets a fresh lab: Docker's FORWARD policy and rules stay behind it)
lab_down
LAB=0
t_log "$K: $(since "$t1") s"
return 0
}

ran=0
for k in $CS_ENGINES; do
	serve_case "$k"
	[ $? = 2 ] || ran=1
	[ "$LAB" = 1 ] && { daemon_stop >/dev/null 2>&1; eng_stop "$k" >/dev/null 2>&1; lab_down; LAB=0; }
done
# (77 only when no engine could run at all)
[ "$ran" = 0 ] && { t_summary; exit 77; }
t_summary
