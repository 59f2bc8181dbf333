#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A web server in a real Docker container gets a certificate through a
# guarded window (issue 23 case 3; docs/design/containers.md §5), the kernel
# half driven by tests/tools/csrvctl (portholed does not open such windows
# yet): Debian's docker.io 20.10 in the pebble lab's host (tests/lab/engines.sh),
# a python http.server in a container under a cgroup parent of the test,
# published with -p $H:80:80, its webroot a bind mount of a host directory;
# the admin's geo-block in DOCKER-USER drops the blocked country, where
# pebble validates from. csrvctl makes porthole's table (csrv, the DSCP
# carrier) and the guard pair above the geo-block, loads the guard, and
# takes the container's cgroup (any well-formed challenge request: the
# token check is test_csrv.sh's), its network namespace and the element
# (docker0, its address, 80). Then certbot --webroot on the host, writing
# the host path, gets its certificate; the blocked country's GET / is read
# by nothing; the allowed country's is.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start container_serve
for b in pebble pebble-challtestsrv openssl certbot iptables-nft; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
CSRVCTL=$T_ROOT/build/asan/csrvctl
[ -x "$CSRVCTL" ] || { t_fail "build/asan/csrvctl is built (make asan)"; t_summary; exit 1; }
LAB_PREFIX=${E2E_LAB_PREFIX:-phls$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
ENG_NETNS=$LAB_NS_HOST
export RES_OPTIONS="timeout:1 attempts:1"
PARENT=/$T_PFX-web
WWW=$T_TMP/www LOGD=$T_TMP/log HL=$T_ROOT/tests/adversary/httplog.py
MARK=0x1000000 MASK=0xff000000
LAB=0 CS_PID=

cleanup() {
	trap - EXIT INT TERM
	[ -n "$CS_PID" ] && { exec {CS_FD}>&-; wait "$CS_PID" 2>/dev/null; }
	eng_stop docker >/dev/null 2>&1
	[ "$LAB" = 1 ] && lab_down
	t_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for h in $(_eng_hier); do T_CGROUPS+=("$h$PARENT"); done

t1=$(now)
lab_up || { t_fail "the pebble lab ($LAB_PREFIX) came up"; t_summary; exit 1; }
LAB=1
mkdir -p "$WWW/.well-known/acme-challenge" "$LOGD" && chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" \
	"$WWW/.well-known/acme-challenge" "$LOGD"
echo "the site" >"$WWW/index.html" && chmod 644 "$WWW/index.html"
eng_up docker
case $? in 0) ;; 2) t_summary; exit 77 ;; *) t_summary; exit 1 ;; esac
out=$(eng_image docker 2>&1) || { t_fail "docker: the offline image: $(tail -c 300 <<<"$out")"; t_summary; exit 1; }
in_host iptables-nft -I DOCKER-USER -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
	{ t_fail "the geo-block in DOCKER-USER"; t_summary; exit 1; }
t_log "lab, docker and the image up ($(since "$t1") s)"

: >"$LOGD/web.log"
if ! eng docker run -d --name web --cgroup-parent "$PARENT" -p "$H:80:80" -v /usr:/usr:ro -v "$WWW:/www:ro" \
	-v "$LOGD:/log" "$ENG_IMAGE" /bin/sh -c "exec /usr/bin/python3 -u -m http.server -d /www 80 2>>/log/web.log" \
	>/dev/null 2>"$T_TMP/run.err"; then
	t_fail "docker run web: $(tail -c 300 "$T_TMP/run.err")"; t_summary; exit 1
fi
CPID=$(eng_pid docker web)
c_listens() { nsenter -t "$CPID" -n ss -Hltn 'sport = :80' 2>/dev/null | grep -q LISTEN; }
until_ok 200 c_listens || { t_fail "web listens on :80 in its netns"; t_summary; exit 1; }
WEB_IP=$(eng docker inspect -f '{{.NetworkSettings.IPAddress}}' web)
CG=$(awk -F: '$1 == "0" { print $3 }' "/proc/$CPID/cgroup")
t_check "web runs in cgroup v2 below $PARENT ($CG), address $WEB_IP" eval '[[ $CG == $PARENT/* ]] && [ -d "$T_CG2$CG" ] && [ -n "$WEB_IP" ]'

# read_by WHO PATH: web's log has WHO's GET PATH (python's log line: PEER - - [date] "GET PATH ...")
read_by() { grep -q "^$1 - - .*\"GET $2 " "$LOGD/web.log"; }
LAB_NS_inet=$LAB_NS_INET LAB_NS_allow=$LAB_NS_ALLOW
probe() { local ns=LAB_NS_$1; in_ns "${!ns}" "$PY" "$HL" get "$H" 80 "$2" "${3:-2}" | head -1 | cut -c1-60; }

out=$(probe inet /before-window)
until_ok 10 read_by "$INET" /before-window
t_check "no window: the blocked country's GET / is dropped by DOCKER-USER ($out)" eval '! read_by "$INET" /before-window'

mkfifo "$T_TMP/cs.in"
in_host "$CSRVCTL" $MARK/$MASK 3 80 "$T_CG2" <"$T_TMP/cs.in" >"$T_TMP/cs.out" 2>"$T_TMP/cs.err" &
CS_PID=$!
T_PIDS+=("$CS_PID")
exec {CS_FD}>"$T_TMP/cs.in"
wait_for "$T_TMP/cs.out" '^ready' 200 || { t_fail "csrvctl: $(cat "$T_TMP/cs.err")"; t_summary; exit 1; }
cs() {
	local n
	n=$(wc -l <"$T_TMP/cs.out")
	echo "$*" >&$CS_FD
	wait_count "$T_TMP/cs.out" '' $((n + 1)) 100 || { echo "no answer"; return 1; }
	sed -n "$((n + 1))p" "$T_TMP/cs.out"
}
t_pass "csrvctl: porthole's table and the guard ($(head -1 "$T_TMP/cs.out"))"
t_log "$(in_host iptables-nft -S DOCKER-USER)"
t_eq "the window: web's cgroup, its netns, the element (docker0, $WEB_IP, 80)" "ok ok ok" \
	"$(cs server "$T_CG2$CG" any) $(cs netns "/proc/$CPID/ns/net") $(cs add docker0 "$WEB_IP" 80 600000)"

out=$(probe inet /blocked-get)
until_ok 10 read_by "$INET" /blocked-get
t_check "window: the blocked country's GET / through $H:80 is read by nothing ($out)" eval '! read_by "$INET" /blocked-get'
out=$(probe allow /allowed-get 4)
until_ok 20 read_by "$ALLOW" /allowed-get
t_check "window: the allowed country's GET / is read by web ($out)" read_by "$ALLOW" /allowed-get

name=ctr-serve.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "DNS name $name"
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
	t_pass "certbot --webroot on the host, writing the host path of web's webroot, got its certificate ($(since "$t1") s)"
else
	t_fail "certbot --webroot: exit $rc, SANs '$sans': $(grep -E 'Detail|Error|error' "$T_TMP/certbot.out" | head -3 | cut -c1-200 | tr '\n' '|')"
fi
t_check "web read pebble's challenge requests from the blocked country" grep -q "^$INET - - .*\"GET /.well-known/acme-challenge/" "$LOGD/web.log"
t_check "and nothing else from it" bash -c "! grep \"^$INET - - \" '$LOGD/web.log' | grep -qv '\"GET /.well-known/acme-challenge/[A-Za-z0-9_-]* HTTP/1.1\"'"
r=$(cs stats)
t_check "the guard admitted the challenge requests and dropped the GET / ($r)" eval '[[ $r =~ ^ok\ [1-9][0-9]*\ [1-9] ]]'
t_log "web's log: $(tr '\n' '|' <"$LOGD/web.log" | cut -c1-600)"

t_eq "the element is deleted" ok "$(cs del docker0 "$WEB_IP" 80)"
out=$(probe inet /after-window)
until_ok 10 read_by "$INET" /after-window
t_check "after: the blocked country's GET / is dropped by DOCKER-USER ($out)" eval '! read_by "$INET" /after-window'
exec {CS_FD}>&-
wait "$CS_PID"
t_eq "csrvctl exits 0" 0 $?
CS_PID=
t_check "porthole's table went with csrvctl" bash -c "! nsenter --net=/run/netns/$LAB_NS_HOST nft list table inet porthole >/dev/null 2>&1"
out=$(eng_stop docker 2>&1)
[ -n "$out" ] && t_log "$out"
t_eq "nothing of the engine left" "" "$(eng_leftovers docker)"
t_summary
