#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guarded window's verdicts and connections against a peer that crafts its
# own TCP (issue 20), judged only by nginx's access log:
#  3 a verdict outlives its connection: on a `deferred` listener, the same
#    source port and ISN in a later window (opened for a token the attacker
#    never saw) must not get other bytes of the same length through;
#  4 a closed window's connections come back: a peer that keeps its
#    connection across the window's close (its tokens removed, `porthole
#    close`, the daemon's SIGTERM, max_window, the daemon's SIGKILL) must not
#    get a second request to nginx.
# IPv4 and IPv6 each time.
set -u
source "$(dirname "$0")/../lib.sh"
t_start guard_lifetime nginx scapy lab attacker

WWW=$T_TMP/www
ACME=$WWW/.well-known/acme-challenge
mkdir -p "$ACME"
chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" "$ACME"
for f in secret-c3 secret-c4; do echo "the secret $f" >"$WWW/$f"; done
NGINX_LISTEN="$H:80;[$H6]:80;$H2:80 deferred;[$H62]:80 deferred" NGINX_LOG_FORMAT=$ADV_LOG_FORMAT \
	nginx_up web "$WWW" || { t_fail "nginx start"; t_summary; exit 1; }
LOG=$T_TMP/nginx-web/access.log
export ATK_SYNC=$T_TMP/sync
SYNC=$ATK_SYNC
mkdir -p "$SYNC"
OUT=$T_TMP/attack

# start_case NAME CASE:DST:SPORT TOKEN: the attacker's case in the background (its
# output in $OUT.NAME); ATTACKERS collects the PIDs
ATTACKERS=()
start_case() {
	attack_bg "$OUT.$1" "$T_ROOT/tests/adversary/cases.py" "$3" "$2"
	ATTACKERS+=("$BG_PID")
}
# firsts SPORT...: wait (up to 10 s) until each case's first request is done
firsts() { local p; for p in "$@"; do wait_for_file "$SYNC/$p.first" 100 || return 1; done; }
wait_for_file() { local _; for _ in $(seq "$2"); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
go() { local p; for p in "$@"; do touch "$SYNC/$p.go"; done; }
finish_cases() { wait "${ATTACKERS[@]}" 2>/dev/null; ATTACKERS=(); }
said() { grep -q -- "$2" "$OUT.$1"; } # NAME PATTERN: the attacker's output says it

daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "daemon start"; t_summary; exit 1; }

# --- 3: a verdict outlives its connection ---------------------------------------------------------
echo "A.keyauth" >"$ACME/Seen_by_attacker"
wait_for "$T_DLOG" "window 1 open: guarded" 30 || t_fail "3: a token opened window 1"
start_case c3v4 "c3_verdict:$H2:23001" Seen_by_attacker
start_case c3v6 "c3_verdict:$H62:23002" Seen_by_attacker
start_case c3s4 "c3_verdict_same:$H2:23003" Seen_by_attacker
start_case c3s6 "c3_verdict_same:$H62:23004" Seen_by_attacker
wait "${ATTACKERS[@]:2}" # the same-window cases end before window 1 does
firsts 23001 23002 || t_fail "3: the attacker's first connections did not finish"
rm -f "$ACME/Seen_by_attacker"
wait_for "$T_DLOG" "window 1 closed (tokens-gone)" 30 && t_pass "3: window 1 closed (tokens-gone)" || t_fail "3: window 1 closed (tokens-gone)"
echo "B.keyauth" >"$ACME/Never_seen_by_attacker"
wait_for "$T_DLOG" "window 2 open: guarded" 30 && t_pass "3: a token the attacker never saw opened window 2" ||
	t_fail "3: a token the attacker never saw opened window 2"
go 23001 23002
finish_cases
rm -f "$ACME/Never_seen_by_attacker"
wait_for "$T_DLOG" "window 2 closed" 30
sleep 0.2
for v in "4 23001 23003" "6 23002 23004"; do
	set -- $v
	said c3v$1 "c3-again SYN: SYN-ACK" && t_pass "3, IPv$1: control: the same port and ISN got a handshake in window 2" ||
		t_fail "3, IPv$1: control: the same port and ISN got a handshake in window 2"
	adv_judge "3, IPv$1 deferred: the same port and ISN in a later window, other bytes of the same length: nginx read nothing but the first window's challenge" \
		"$OUT.c3v$1" "$LOG" "$2" Seen_by_attacker answered
	said c3s$1 "c3-again SYN: SYN-ACK" && t_pass "3, IPv$1: control: the same port and ISN got a handshake again in window 1" ||
		t_fail "3, IPv$1: control: the same port and ISN got a handshake again in window 1"
	adv_judge "3, IPv$1 deferred: the same port and ISN again in the same window, other bytes of the same length: nginx read nothing but the challenge" \
		"$OUT.c3s$1" "$LOG" "$3" Seen_by_attacker answered
done

# --- 4: a closed window's connections come back ------------------------------------------------
# close_case LABEL BASE HOW: a kept-alive crafted connection over IPv4 and IPv6, its
# challenge (token Keep_LABEL) answered; HOW closes the window; then the attacker
# sends a second request on it
close_case() {
	local label=$1 b=$2 how=$3 tok=Keep_$1 v p n dst
	n=$(grep -c 'open: guarded' "$T_DLOG")
	echo "k" >"$ACME/$tok"
	wait_count "$T_DLOG" 'open: guarded' $((n + 1)) || t_fail "4, $label: a token opened a window"
	for v in 4 6; do
		dst=$H
		[ $v = 6 ] && dst=$H6
		start_case "c4$label$v" "c4_after_close:$dst:$((b + v))" "$tok"
	done
	firsts $((b + 4)) $((b + 6)) || t_fail "4, $label: the attacker's challenges did not finish"
	$how
	go $((b + 4)) $((b + 6))
	finish_cases
	rm -f "$ACME/$tok"
	sleep 0.2
	for v in 4 6; do
		p=$((b + v))
		said "c4$label$v" "sent .*GET /secret-c4" && t_pass "4, IPv$v, $label: control: the attacker sent its second request" ||
			t_fail "4, IPv$v, $label: control: the attacker sent its second request"
		adv_judge "4, IPv$v, $label: a connection kept across the window's close: nginx read nothing after the challenge" \
			"$OUT.c4$label$v" "$LOG" "$p" "$tok" answered
	done
}

close_tokens() {
	local n
	n=$(grep -c 'closed (tokens-gone)' "$T_DLOG")
	rm -f "$ACME/Keep_tokens-gone"
	wait_count "$T_DLOG" 'closed (tokens-gone)' $((n + 1)) && t_pass "4, tokens-gone: the window closed" ||
		t_fail "4, tokens-gone: the window closed"
}
close_revoke() {
	local n id
	n=$(grep -c 'closed (revoked)' "$T_DLOG")
	id=$(grep -o 'window [0-9]* open: guarded' "$T_DLOG" | tail -1 | cut -d' ' -f2)
	ph close "$id" >/dev/null
	wait_count "$T_DLOG" 'closed (revoked)' $((n + 1)) && t_pass "4, revoked: porthole close $id closed the window" ||
		t_fail "4, revoked: porthole close $id closed the window"
}
close_deadline() {
	wait_count "$T_DLOG" 'closed (deadline)' 1 60 && t_pass "4, deadline: max_window closed the window" ||
		t_fail "4, deadline: max_window closed the window"
}
close_term() {
	daemon_stop
	t_pass "4, SIGTERM: the daemon stopped"
}
close_kill() {
	kill -KILL "$T_DPID"
	wait "$T_DPID" 2>/dev/null
	T_DPID=
	t_pass "4, SIGKILL: the daemon was killed"
}

close_case tokens-gone 24000 close_tokens
close_case revoked 24030 close_revoke
close_case SIGTERM 24010 close_term
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW max_window=3" || t_fail "daemon start (deadline, SIGKILL)"
close_case deadline 24040 close_deadline
close_case SIGKILL 24020 close_kill

# the whole evidence with ADV_VERBOSE=1 (each FAIL line quotes what nginx logged)
if [ -n "${ADV_VERBOSE:-}" ]; then
	echo "--- the attacker's view (tests/adversary/cases.py):"
	for f in "$OUT".*; do sed 's/^/    /' "$f"; done
	echo "--- nginx's access log:"
	sed 's/^/    /' "$LOG"
fi
t_summary
