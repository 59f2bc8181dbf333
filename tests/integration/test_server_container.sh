#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `serve = container docker:web webroot=HOST_PATH` (issue 23 case 3) in the
# real daemon: when the container Docker's state names web listens on
# tcp/80 in its own network namespace and a token is in HOST_PATH, portholed
# opens a guarded window to it through the host's DNAT -- judged by what the
# container's server logged (tests/adversary/httplog.py: a "request" line
# with the first line it read).
#
# The lab is test_csrv.sh's (bare network namespaces behind the lab host's
# bridge, Docker 20.10's iptables-nft rules written by hand: $H:80 and
# $H:8081 DNAT to C1:80, $H:8080 to C2:80, the geo-block in DOCKER-USER);
# the "engine" is Docker's state as dockerd writes it, made by the test in a
# root-owned docker_root (test_container_run.sh's): C1 is container web (its
# cgroup /$T_PFX-dk/ID, the cgroupfs driver's shape), C2 container other.
#
# Before a token: the blocked country's live challenge is dropped by the
# host. A token in HOST_PATH: the window opens (audit: kind container, the
# listener's netns and csrv targets; porthole status lists it); the blocked
# country gets to C1's server one challenge request for a live token, and
# nothing else: a non-challenge request, an unknown token, a pipelined second
# request are read by nothing (IPv4 and IPv6); C2 through $H:8080 and C1
# routed to directly stay dropped; the allowed country is not judged. C1's
# listener closes: the window closes (listener-closed), no csrv element and
# no guard rule is left. C1 listening again with the token still there: the
# window opens again; the token removed: it closes. The daemon stops: the
# host's ruleset is as before it started, byte for byte (counters aside).
# Then `caddy=HOST_PATH` (a fake Caddy storage tree: a pending challenge file
# opens the window, only its token's challenge reaches C1, its removal
# closes it) and `always` (Traefik: open while C1 listens, any token's
# challenge reaches C1 and nothing else; closes with the listener, opens
# again with a new one, shutdown closes it).
set -u
source "$(dirname "$0")/../lib.sh"
t_start server_container lab
for b in iptables ip6tables; do
	command -v $b >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
[ -n "$T_CG2" ] || { echo "SKIP $T_NAME: no cgroup v2 mount"; exit 77; }

BR=$LAB_CTR_BR
C1=$(lab_ctr_v4 1) C2=$(lab_ctr_v4 2) C61=$(lab_ctr_v6 1) C62=$(lab_ctr_v6 2)
HL=$T_ROOT/tests/adversary/httplog.py RAW=$T_ROOT/tests/tools/httpraw.py
TOK=Good_tok3n-123 BAD=Unknown_tok3n-456
. "$T_ROOT/tests/lab/docker_rules.sh"
t_setup "containers" nslab_containers 2
t_setup "IPv4 Docker-shaped rules" docker_rules iptables $H $C1 $C2 $INET/32 32
t_setup "IPv6 Docker-shaped rules" docker_rules ip6tables $H6 $C61 $C62 $INET6/128 128
until_ok() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

# ---- the fake engine: Docker's state and the containers' cgroups (test_container_run.sh's) ----
chmod 755 "$T_TMP"
DR=$T_TMP/docker
mkdir -p "$DR/containers" && chmod 755 "$DR" "$DR/containers"
PARENT=$T_PFX-dk
mkdir -p "$T_CG2/$PARENT" && T_CGROUPS+=("$T_CG2/$PARENT")
ID1=$(printf 'c1%062d' 0 | tr 0 a) ID2=$(printf 'c2%062d' 0 | tr 0 b)
container() { # NAME ID NS
	mkdir -p "$T_CG2/$PARENT/$2" && T_CGROUPS+=("$T_CG2/$PARENT/$2")
	nsenter --net=/run/netns/"$T_PFX-$3" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$2" sleep 900 &
	IPID=$!
	T_PIDS+=("$IPID")
	until_ok 50 grep -qs "$PARENT/$2" "/proc/$IPID/cgroup" || { echo "container $1: its init not in its cgroup"; return 1; }
	mkdir -p "$DR/containers/$2"
	printf '{"ID":"%s","Name":"/%s","State":{"Running":true,"Paused":false,"Pid":%s}}\n' "$2" "$1" "$IPID" \
		>"$DR/containers/$2/config.v2.json"
}
t_setup "container web (C1)" container web "$ID1" c1
t_setup "container other (C2)" container other "$ID2" c2

WWW=$T_TMP/www ACME=$T_TMP/www/.well-known/acme-challenge
mkdir -p "$ACME"
chmod 755 "$WWW" "$WWW/.well-known" "$ACME"
LOG1=$T_TMP/c1.log LOG2=$T_TMP/c2.log
: >"$LOG1"; : >"$LOG2"
# serve ID NS LOG NAME OUT ADDR...: httplog's server in the container's netns and cgroup; SPID
serve() {
	local id=$1 ns=$2 log=$3 name=$4 out=$5
	shift 5
	nsenter --net=/run/netns/"$T_PFX-$ns" -- sh "$T_TOOLS/in_cgroup.sh" "$T_CG2/$PARENT/$id" \
		"$PY" "$HL" serve "$log" "$name" 80 900 "$@" >"$out" 2>&1 &
	SPID=$!
	T_PIDS+=("$SPID")
	wait_for "$out" listening 100 || { echo "server $name did not start: $(cat "$out")"; return 1; }
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
for a in $C1 $C2 $C61 $C62; do in_host ping -c1 -W1 $a >/dev/null 2>&1; done
ruleset() { in_host nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }
ruleset >"$T_TMP/ruleset.before"

# shellcheck source=../lab/guardprobe.sh
. "$T_ROOT/tests/lab/guardprobe.sh"
elems() { in_host nft -j list set inet porthole "$1" 2>/dev/null | "$PY" -c 'import json,sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))' 2>/dev/null || echo 0; }
guard_rules() { in_host nft list ruleset 2>/dev/null | grep -c 'porthole guard'; }

t_setup "daemon start" daemon_start "ports = 80" "docker_root = $DR" "serve = container docker:web webroot=$WWW"
in_host nft list table inet porthole >"$T_TMP/table.txt"
t_check "porthole's table has csrv, csrv6 and csrvtag" bash -c "grep -q 'set csrv {' '$T_TMP/table.txt' && grep -q 'set csrv6 {' '$T_TMP/table.txt' && grep -q 'chain csrvtag {' '$T_TMP/table.txt'"
t_log "$(sed -n '/chain csrvtag {/,/}/p' "$T_TMP/table.txt")"
t_check "csrvtag takes the carrier off only what goes to @csrv" grep -q 'ip dscp 0x03 .*@csrv ip dscp set cs0' "$T_TMP/table.txt"

serve "$ID2" c2 "$LOG2" c2 "$T_TMP/c2.out" $C2 $C62 || t_fail "C2's server"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1a.out" $C1 $C61 || t_fail "C1's server"
P1=$SPID
t_check "the daemon finds web's two listeners (IPv4, IPv6)" \
	wait_count "$T_DLOG" "server docker:web: its listener pid $P1 tcp/80 in cgroup /$PARENT/$ID1" 2 30
nothing "no token: the blocked country's challenge to $H:80 is dropped by the host" inet $H 80 "$TOK" "$(challenge $TOK)"
t_eq "no token: no window" 0 "$(grep -c '"event":"window-open"' "$T_TMP/audit.jsonl" 2>/dev/null)"

echo token >"$ACME/$TOK" && chmod 644 "$ACME/$TOK"
t_check "a token: the window opens" wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web" 30
t_eq "its csrv and csrv6 elements (C1, C61)" "1 1" "$(elems csrv) $(elems csrv6)"
t_check "window-open audited: kind container, C1's netns and targets" "$PY" - "$T_TMP/audit.jsonl" "$C1" "$C61" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["event"] == "window-open" and r.get("kind") == "container" and r.get("netns")
      and {t["addr"] for t in r["targets"]} == {sys.argv[2], sys.argv[3]} and r["server"]["value"] == "docker:web"
      and r["tokens"] == ["Good_tok3n-123"]]
sys.exit(0 if ok else 1)
PY
ph status >"$T_TMP/status.txt" 2>&1
t_check "porthole status lists it" grep -q "server docker:web (guarded" "$T_TMP/status.txt"
t_log "guard rules in the host's chains: $(guard_rules)"
for v in "4 $H" "6 $H6"; do
	set -- $v
	nothing "window, IPv$1: a non-challenge request through $2:80 is read by nothing" inet $2 80 /secret "$(plain secret)"
	nothing "window, IPv$1: a challenge for an unknown token is read by nothing" inet $2 80 "$BAD" "$(challenge $BAD)"
	nothing "window, IPv$1: a live token's challenge with a second request pipelined is read by nothing" inet $2 80 "$TOK" \
		"$(challenge $TOK)$(plain pipelined)"
	read_by "window, IPv$1: the live token's challenge is read by C1" inet $2 80 "$TOK" "$LOG1" "$(challenge $TOK)"
	nothing "window, IPv$1: $2:8080 (C2, not served) stays dropped by the host" inet $2 8080 /c2 "$(plain c2)"
	read_by "window, IPv$1: the allowed country is not judged (GET / reaches C1)" allow $2 80 /allowed "$LOG1" "$(plain allowed)"
done
nothing "window, IPv4: C1 routed to directly (no DNAT) stays dropped by the host" inet $C1 80 /direct "$(plain direct)"
read_by "window: the allowed country reaches C2 through $H:8080" allow $H 8080 /c2ok "$LOG2" "$(plain c2ok)"

stop "$P1"
t_check "C1's listener closes: the window closes (listener-closed)" \
	wait_for "$T_DLOG" "window [0-9]* closed (listener-closed).*docker:web" 30
t_eq "no csrv element and no guard rule left" "0 0 0" "$(elems csrv) $(elems csrv6) $(guard_rules)"
t_check "window-close audited: kind container, listener-closed" \
	grep -q '"event":"window-close".*"kind":"container","reason":"listener-closed"' "$T_TMP/audit.jsonl"
ph log --file "$T_TMP/audit.jsonl" >"$T_TMP/log.txt" 2>&1
t_check "porthole log: the open as a guarded window to docker:web ($(grep -m1 window-open "$T_TMP/log.txt" | tr -s ' ' | cut -c1-160))" \
	grep -q 'window-open .*guarded tcp/80 to .*docker:web' "$T_TMP/log.txt"
t_check "porthole log: its close with the requests counted" \
	grep -q 'window-close .*listener-closed.*request' "$T_TMP/log.txt"

serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1b.out" $C1 $C61 || t_fail "C1's server again"
P1=$SPID
t_check "C1 listening again, the token still there: the window opens again" \
	wait_count "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web" 2 30
read_by "again: the live token's challenge is read by C1" inet $H 80 "$TOK" "$LOG1" "$(challenge $TOK)"
nothing "again: a non-challenge request is read by nothing" inet $H 80 /secret2 "$(plain secret2)"
rm -f "$ACME/$TOK"
t_check "the token removed: the window closes (tokens-gone)" wait_for "$T_DLOG" "window [0-9]* closed (tokens-gone)" 30
nothing "no window: the blocked country's challenge is dropped by the host" inet $H 80 "$TOK" "$(challenge $TOK)"
read_by "no window: the allowed country reaches C1" allow $H 80 /after "$LOG1" "$(plain after)"
stop "$P1"

{
	echo "socket = $T_TMP/check.sock"
	echo "serve = container docker:web webroot=$WWW"
} >"$T_TMP/check.conf"
in_host env -u PORTHOLE_SOCKET "$PORTHOLE_BIN/porthole" check --config "$T_TMP/check.conf" >"$T_TMP/check.out" 2>&1
t_log "$(grep 'serve container' "$T_TMP/check.out")"
t_check "porthole check says what the line does (OK, not FAIL)" grep -q '^ *OK .*serve container docker:web .*a guarded window opens' "$T_TMP/check.out"

daemon_stop; rc=$?
[ $rc = 0 ] || { t_log "the daemon log:"; t_log "$(tail -20 "$T_DLOG")"; cat "$T_TMP"/asan* 2>/dev/null | head -40; }
t_eq "the daemon stops cleanly" 0 $rc

# ---- caddy=HOST_PATH: Caddy's storage volume (its /data/caddy on the host) ----
# CertMagic's pending HTTP-01 challenge: acme/ISSUER/challenge_tokens/DOMAIN.json,
# the token its "token" member (as Caddy 2.6 writes it, 0700 directories)
CADDY=$T_TMP/caddy-data/caddy CTOK=Caddy_tok3n-789
CHAL=$CADDY/acme/localhost-14000-dir/challenge_tokens
mkdir -p "$CADDY/acme" && chmod 755 "$T_TMP/caddy-data" "$CADDY" "$CADDY/acme"
# Caddy makes its storage 0700 root's: the daemon reads it with the drop-in's
# CAP_DAC_READ_SEARCH (README, Caddy)
T_EXTRA_CAPS=+dac_read_search t_setup "daemon start (caddy=)" daemon_start "ports = 80" "docker_root = $DR" "serve = container docker:web caddy=$CADDY"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1c.out" $C1 $C61 || t_fail "C1's server (caddy=)"
P1=$SPID
t_check "caddy=: the daemon finds web's listeners" \
	wait_count "$T_DLOG" "server docker:web: its listener pid $P1 tcp/80 in cgroup /$PARENT/$ID1" 2 30
nothing "caddy=, no pending challenge: the blocked country's challenge is dropped by the host" inet $H 80 "$CTOK" \
	"$(challenge $CTOK)"
mkdir -p "$CHAL" && chmod 700 "$CHAL" "${CHAL%/*}"
printf '{"type":"http-01","url":"https://localhost:14000/chalZ/x","status":"pending","token":"%s","keyAuthorization":"%s.thumb"}' \
	"$CTOK" "$CTOK" >"$CHAL/.example.org.json.tmp" && mv "$CHAL/.example.org.json.tmp" "$CHAL/example.org.json"
t_check "caddy=: Caddy's pending challenge file opens the window" \
	wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web (tokens" 30
t_check "caddy=: window-open audited with the storage's token and caddy" "$PY" - "$T_TMP/audit.jsonl" "$CTOK" "$CADDY" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["event"] == "window-open" and r.get("kind") == "container" and r["tokens"] == [sys.argv[2]]
      and r["server"].get("caddy") == sys.argv[3] and r.get("netns")]
sys.exit(0 if ok else 1)
PY
for v in "4 $H" "6 $H6"; do
	set -- $v
	read_by "caddy=, IPv$1: the pending challenge's request is read by C1" inet $2 80 "$CTOK" "$LOG1" "$(challenge $CTOK)"
	nothing "caddy=, IPv$1: a non-challenge request is read by nothing" inet $2 80 /csecret "$(plain csecret)"
	nothing "caddy=, IPv$1: the webroot's old token (not Caddy's) is read by nothing" inet $2 80 "$TOK" "$(challenge $TOK)"
	nothing "caddy=, IPv$1: $2:8080 (C2) stays dropped" inet $2 8080 /cc2 "$(plain cc2)"
done
rm -f "$CHAL/example.org.json"
t_check "caddy=: Caddy removes the challenge file: the window closes (tokens-gone)" \
	wait_count "$T_DLOG" "window [0-9]* closed (tokens-gone)" 1 30
t_eq "caddy=: no csrv element and no guard rule left" "0 0 0" "$(elems csrv) $(elems csrv6) $(guard_rules)"
nothing "caddy=, no window: the challenge is dropped by the host" inet $H 80 "$CTOK" "$(challenge $CTOK)"
stop "$P1"
daemon_stop; rc=$?
t_eq "caddy=: the daemon stops cleanly" 0 $rc

# ---- always: Traefik (its tokens nowhere on the host) ----
t_setup "daemon start (always)" daemon_start "ports = 80" "docker_root = $DR" "serve = container docker:web always"
nothing "always, web not listening: the blocked country's challenge is dropped" inet $H 80 Any_tok3n "$(challenge Any_tok3n)"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1d.out" $C1 $C61 || t_fail "C1's server (always)"
P1=$SPID
t_check "always: web listens, the window opens (always, no deadline)" \
	wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web (always.*no deadline" 30
for v in "4 $H" "6 $H6"; do
	set -- $v
	read_by "always, IPv$1: a challenge for any token is read by C1" inet $2 80 Any_tok3n "$LOG1" "$(challenge Any_tok3n)"
	nothing "always, IPv$1: a non-challenge request is read by nothing" inet $2 80 /asecret "$(plain asecret)"
	nothing "always, IPv$1: a challenge with a second request pipelined is read by nothing" inet $2 80 Pipe_tok3n \
		"$(challenge Pipe_tok3n)$(plain apipelined)"
	nothing "always, IPv$1: $2:8080 (C2, not served) stays dropped" inet $2 8080 /ac2 "$(plain ac2)"
done
nothing "always: C1 routed to directly stays dropped" inet $C1 80 /adirect "$(plain adirect)"
read_by "always: the allowed country is not judged (GET / reaches C1)" allow $H 80 /aallowed "$LOG1" "$(plain aallowed)"
stop "$P1"
t_check "always: web stops listening: the window closes (listener-closed)" \
	wait_count "$T_DLOG" "window [0-9]* closed (listener-closed).*docker:web" 1 30
t_eq "always: no csrv element and no guard rule left" "0 0 0" "$(elems csrv) $(elems csrv6) $(guard_rules)"
nothing "always, closed: a challenge is dropped by the host" inet $H 80 Any_tok3n "$(challenge Any_tok3n)"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1e.out" $C1 $C61 || t_fail "C1's server (always, again)"
P1=$SPID
t_check "always: web listens again: a new window" \
	wait_count "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web (always" 2 30
read_by "always, again: a challenge is read by C1" inet $H 80 Again_tok3n "$LOG1" "$(challenge Again_tok3n)"
nothing "always, again: a non-challenge request is read by nothing" inet $H 80 /asecret2 "$(plain asecret2)"
daemon_stop; rc=$?
[ $rc = 0 ] || { t_log "the daemon log:"; t_log "$(tail -20 "$T_DLOG")"; cat "$T_TMP"/asan* 2>/dev/null | head -40; }
t_eq "always: the daemon stops cleanly" 0 $rc
t_check "always: shutdown closes it" grep -q '"kind":"container","reason":"shutdown"' "$T_TMP/audit.jsonl"
stop "$P1"

# ---- always max_window=S: open when the listener appears, for S seconds, then
# closed until the container listens anew (a restart) ----
t_setup "daemon start (always max_window=3)" daemon_start "ports = 80" "docker_root = $DR" \
	"serve = container docker:web always max_window=3"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1f.out" $C1 $C61 || t_fail "C1's server (bounded always)"
P1=$SPID
t_check "bounded always: web listens, the window opens with a deadline" \
	wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web (always" 30
in_host nft list set inet porthole csrv >"$T_TMP/csrv.txt" 2>&1
t_check "bounded always: its csrv element has the kernel deadline ($(grep -o 'timeout [0-9a-z]*' "$T_TMP/csrv.txt" | tail -1))" \
	grep -q 'timeout 3s' "$T_TMP/csrv.txt"
read_by "bounded always: a challenge is read by C1" inet $H 80 Bound_tok3n "$LOG1" "$(challenge Bound_tok3n)"
t_check "bounded always: the window closes at its deadline" wait_for "$T_DLOG" "window [0-9]* closed (deadline).*docker:web" 60
nothing "bounded always, after the deadline, web still listening: a challenge is dropped by the host" inet $H 80 \
	Late_tok3n "$(challenge Late_tok3n)"
t_eq "bounded always: not opened again while the same listener stays" 1 "$(grep -c 'window [0-9]* open: guarded' "$T_DLOG")"
stop "$P1"
serve "$ID1" c1 "$LOG1" c1 "$T_TMP/c1g.out" $C1 $C61 || t_fail "C1's server (bounded always, restarted)"
P1=$SPID
t_check "bounded always: web restarted (a new listener): a new window" \
	wait_count "$T_DLOG" "window [0-9]* open: guarded tcp/80 to docker:web (always" 2 30
read_by "bounded always, restarted: a challenge is read by C1" inet $H 80 Again2_tok3n "$LOG1" "$(challenge Again2_tok3n)"
daemon_stop; rc=$?
t_eq "bounded always: the daemon stops cleanly" 0 $rc
stop "$P1"
ruleset >"$T_TMP/ruleset.after"
t_check "the host's ruleset is as before the daemon (counters aside)" diff "$T_TMP/ruleset.before" "$T_TMP/ruleset.after"
[ "$T_FAIL" = 0 ] || grep -E 'server|guard|csrv|container' "$T_DLOG" | tail -30 | sed 's/^/  /'
t_summary
