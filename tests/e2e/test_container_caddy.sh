#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Caddy in a real Docker container gets its certificate through the guarded
# window portholed opens to it (issue 23 case 3, Caddy with its own ACME):
# Debian's docker.io 20.10 in the pebble lab's host (tests/lab/engines.sh),
# Debian's caddy 2.6 (the host's /usr bind-mounted read-only into the offline
# image) in container caddy under a cgroup parent of the test, published with
# -p $H:80:80 -p $H:443:443, a Caddyfile with pebble's ACME directory
# (HTTP-01 only) and its storage on a bind-mounted host path (/data in the
# container, as Caddy's image has it); the admin's geo-block in DOCKER-USER
# drops the blocked country's port 80, where pebble validates from. portholed
# runs with `serve = container docker:caddy caddy=HOST_PATH/caddy`: it finds
# Caddy's listener in its network namespace, and while Caddy's pending
# challenge file is in the host path the window is open. Caddy gets its
# certificate (the window opened for Caddy's own token, closed tokens-gone);
# the guard admitted nothing but challenge requests from the blocked country. Then a probe challenge
# file in the storage (as Caddy writes one at a renewal): the window opens;
# from the blocked country a GET / gets no answer (dropped by the guard)
# while a challenge-shaped request is answered by Caddy; the allowed country
# gets https://NAME/ with the new certificate. The file removed: the window
# closes and GET / from the blocked country is dropped by DOCKER-USER. The
# daemon stops: the host's ruleset as before it (counters aside).
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start container_caddy
for b in pebble pebble-challtestsrv openssl caddy curl iptables-nft; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
LAB_PREFIX=${E2E_LAB_PREFIX:-phlc$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
ENG_NETNS=$LAB_NS_HOST
export RES_OPTIONS="timeout:1 attempts:1"
PARENT=/$T_PFX-caddy
W=$T_TMP/w DATA=$T_TMP/data
STORE=$DATA/caddy RAW=$T_ROOT/tests/tools/httpraw.py
LAB=0

cleanup() {
	trap - EXIT INT TERM
	daemon_stop >/dev/null 2>&1
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
# Caddy's storage: /data/caddy in the container; the directory exists when
# the config is loaded (Caddy makes what is below it, 0700)
mkdir -p "$W" "$STORE" && chmod 755 "$T_TMP" "$W" "$DATA"
cp "$LAB_CA_PEM" "$W/ca.pem" && chmod 644 "$W/ca.pem"
name=ctr-caddy.porthole.test
lab_add_name "$name" v4 "$H" >/dev/null || t_fail "DNS name $name"
cat >"$W/Caddyfile" <<EOF
{
	admin off
	storage file_system /data/caddy
	ocsp_stapling off
}
$name {
	tls {
		issuer acme {
			dir $LAB_ACME_DIR
			trusted_roots /w/ca.pem
			disable_tlsalpn_challenge
		}
	}
	respond "caddy here"
}
EOF
chmod 644 "$W/Caddyfile"
eng_up docker
case $? in 0) ;; 2) t_summary; exit 77 ;; *) t_summary; exit 1 ;; esac
out=$(eng_image docker 2>&1) || { t_fail "docker: the offline image: $(tail -c 300 <<<"$out")"; t_summary; exit 1; }
in_host iptables-nft -I DOCKER-USER -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
	{ t_fail "the geo-block in DOCKER-USER"; t_summary; exit 1; }
t_log "lab, docker and the image up ($(since "$t1") s)"

ruleset() { in_host nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }
ruleset >"$T_TMP/ruleset.before"
# the engine's state and Caddy's storage are root's, 0700: the daemon reads
# them with CAP_DAC_READ_SEARCH (README Containers, Caddy)
T_EXTRA_CAPS=+dac_read_search daemon_start "ports = 80" "docker_root = $(_eng_dir docker)/docker" \
	"serve = container docker:caddy caddy=$STORE" || { t_fail "daemon start"; t_summary; exit 1; }

t1=$(now)
if ! eng docker run -d --name caddy --cgroup-parent "$PARENT" -p "$H:80:80" -p "$H:443:443" -v /usr:/usr:ro \
	-v "$W:/w:ro" -v "$DATA:/data" -e HOME=/data -e XDG_DATA_HOME=/data -e XDG_CONFIG_HOME=/data/config \
	"$ENG_IMAGE" /usr/bin/caddy run --config /w/Caddyfile --adapter caddyfile >/dev/null 2>"$T_TMP/run.err"; then
	t_fail "docker run caddy: $(tail -c 300 "$T_TMP/run.err")"; t_summary; exit 1
fi
CPID=$(eng_pid docker caddy)
CG=$(awk -F: '$1 == "0" { print $3 }' "/proc/$CPID/cgroup")
t_check "portholed finds Caddy's listener (Docker's state names it caddy; cgroup $CG)" \
	wait_for "$T_DLOG" "server docker:caddy: its listener pid [0-9]* tcp/80 in cgroup $CG " 100
clog() { eng docker logs caddy 2>&1; }
got_cert() { clog | grep -q 'certificate obtained successfully'; }
until_ok 600 eval 'got_cert || clog | grep -qE "will retry|could not get certificate"'
if got_cert; then
	t_pass "Caddy in the container got its certificate through the window ($(since "$t1") s)"
else
	t_fail "Caddy got its certificate: $(clog | grep -E '"level":"(error|warn)"|challenge' | tail -4 | cut -c1-300 | tr '\n' '|')"
fi
t_check "the window opened for Caddy's own pending challenge and closed when Caddy removed it" \
	wait_for "$T_DLOG" "window [0-9]* closed (tokens-gone).*docker:caddy" 100
t_check "window-open audited: kind container, a token from Caddy's storage" "$PY" - "$T_TMP/audit.jsonl" "$STORE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["event"] == "window-open" and r.get("kind") == "container" and r["tokens"]
      and r["server"].get("caddy") == sys.argv[2]]
sys.exit(0 if ok else 1)
PY
t_check "the guard admitted from the blocked country challenge requests with a token, nothing else" "$PY" - "$T_TMP/audit.jsonl" "$LAB_INET_V4" <<'PY'
import json, sys, ipaddress
net = ipaddress.ip_network(sys.argv[2] + "/24", strict=False)
g = [r for r in open(sys.argv[1]) for r in [json.loads(r)] if r["event"] == "guard"]
adm = [r for r in g if r["verdict"] == "admitted" and ipaddress.ip_address(r["peer"]) in net]
sys.exit(0 if adm and all(r["why"] == "admitted" and r.get("token") for r in adm) else 1)
PY
crt=$(find "$STORE/certificates" -name "$name.crt" 2>/dev/null | head -n1)
t_check "the certificate is in the host path of Caddy's storage, from pebble" \
	eval '[ -n "$crt" ] && openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$name"'
got=$(in_ns "$LAB_NS_ALLOW" curl -sS --max-time 5 --cacert "$LAB_STATE/pebble-root.pem" --resolve "$name:443:$H" \
	"https://$name/" 2>&1)
t_eq "the allowed country gets https://$name/ with the new certificate" "caddy here" "$got"

# a renewal's shape: a pending challenge in the storage opens the window
PROBE=Probe_tok3n-1 PD=$STORE/acme/probe-issuer/challenge_tokens
mkdir -p "$PD" && printf '{"type":"http-01","token":"%s","keyAuthorization":"%s.x"}' "$PROBE" "$PROBE" >"$PD/$name.json"
t_check "a pending challenge in the storage: the window opens" \
	wait_count "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:caddy" 2 100
raw() { in_ns "$LAB_NS_INET" "$PY" "$RAW" "$H" 80 "$1" 2>&1 | head -1 | cut -c1-60; }
got=$(raw "GET / HTTP/1.1\\r\\nHost: $name\\r\\n\\r\\n")
t_eq "window: the blocked country's GET / gets nothing back (the guard dropped it)" noanswer "$got"
got=$(raw "GET /.well-known/acme-challenge/$PROBE HTTP/1.1\\r\\nHost: $name\\r\\n\\r\\n")
t_check "window: its challenge-shaped request is answered by Caddy ($got)" eval '[[ $got == status* ]]'
t_check "the guard's records: the GET / dropped (not-a-challenge), the challenge admitted" bash -c \
	"grep -q '\"event\":\"guard\".*\"verdict\":\"dropped\",\"why\":\"not-a-challenge\"' '$T_TMP/audit.jsonl' &&
	 grep -q '\"event\":\"guard\".*\"verdict\":\"admitted\",\"why\":\"admitted\",\"token\":\"$PROBE\"' '$T_TMP/audit.jsonl'"
rm -f "$PD/$name.json"
t_check "the challenge file removed: the window closes" \
	wait_count "$T_DLOG" "window [0-9]* closed (tokens-gone).*docker:caddy" 2 100
got=$(raw "GET /.well-known/acme-challenge/$PROBE HTTP/1.1\\r\\nHost: $name\\r\\n\\r\\n")
t_check "after: the blocked country's challenge gets nothing (DOCKER-USER drops it: $got)" \
	eval '[ "$got" = connect-timeout ] || [ "$got" = noanswer ]'

clog >"$T_TMP/caddy.log"
eng docker stop -t 5 caddy >/dev/null 2>&1
daemon_stop
t_eq "portholed exits 0 on SIGTERM" 0 $?
ruleset >"$T_TMP/ruleset.after"
t_check "the host's ruleset is as before the daemon (counters aside)" diff "$T_TMP/ruleset.before" "$T_TMP/ruleset.after"
out=$(eng_stop docker 2>&1)
[ -n "$out" ] && t_log "$out"
t_eq "nothing of the engine left" "" "$(eng_leftovers docker)"
[ "$T_FAIL" = 0 ] || { t_log "Caddy's log:"; tail -15 "$T_TMP/caddy.log" | cut -c1-300 | sed 's/^/  /'; grep -E 'server|guard|window' "$T_DLOG" | tail -20 | sed 's/^/  /'; }
t_summary
