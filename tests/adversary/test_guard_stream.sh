#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guard against a peer that crafts its own TCP (issue 20): a guarded
# server window to a real nginx, and an attacker in the Internet namespace
# (scapy, tests/adversary/cases.py) that knows one live token and tries to
# make nginx read any other request. Judged only by nginx's access log: from
# each crafted connection nginx may log the challenge request and nothing
# else. Classes: 1 a resend whose first copy TCP threw away (PAWS), on the
# established socket and on a `deferred` listener; 2 a segment that starts
# before rcv_nxt; 6 urgent data, on the request itself or as an urgent
# pointer on a bare ACK before it; and the classes that held on 502f4b6 (out
# of order, overlap, IP fragments, IPv6 extension headers, data on the SYN,
# FIN with data, a zero-window probe, pipelining, a body in a later segment,
# a longer resend). Then classes 1, 2 and 6 again with `always`, where no
# secret is needed. Controls: a crafted challenge is answered on each path;
# an attack that starts with the challenge needs it answered; the crafted
# extension-header segment and SYN data reach nginx from the allowed country
# (never guarded) or with no window.
set -u
source "$(dirname "$0")/../lib.sh"
t_start guard_stream nginx scapy lab attacker
# the host takes data on a SYN without a cookie, from any listener: data on
# the SYN that got past the guard would reach nginx at once
in_host sysctl -qw net.ipv4.tcp_fastopen=0x602

WWW=$T_TMP/www
TOK=Live_t0ken-A
mkdir -p "$WWW/.well-known/acme-challenge"
chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" "$WWW/.well-known/acme-challenge"
for f in secret-c1 secret-c2 secret-ooo secret-oof1 secret-oof2 secret-ovl secret-frag secret-ext secret-tfo secret-fin \
	secret-zwp1 secret-zwp2 secret-pipe secret-body secret-longer; do echo "the secret $f" >"$WWW/$f"; done
# $H and $H6 plain, $H2 and $H62 with TCP_DEFER_ACCEPT (the request completes the handshake)
NGINX_LISTEN="$H:80;[$H6]:80;$H2:80 deferred;[$H62]:80 deferred" NGINX_LOG_FORMAT=$ADV_LOG_FORMAT \
	nginx_up web "$WWW" || { t_fail "nginx start"; t_summary; exit 1; }
LOG=$T_TMP/nginx-web/access.log
CASES=$T_ROOT/tests/adversary/cases.py

# run_cases OUT TOKEN SPEC...: the attacker's cases (CASE:DST:SPORT) in one
# process in the background (BG_PID); several groups run at once, each case
# bounded in time
run_cases() { local out=$1; shift; attack_bg "$out" "$CASES" "$@"; }

# phase LABEL TOKEN BASE: every case once, source ports from BASE; then judge
phase() {
	local label=$1 tok=$2 b=$3 out=$T_TMP/attack-$1
	run_cases "$out.4" "$tok" ctl:$H:$b c1_paws:$H:$((b + 1)) c2_before:$H:$((b + 2)) c6_urg:$H:$((b + 3)) \
		c6_urg_ack:$H:$((b + 4))
	local p4=$BG_PID
	run_cases "$out.6" "$tok" ctl:$H6:$((b + 10)) c1_paws:$H6:$((b + 11)) c2_before:$H6:$((b + 12)) c6_urg:$H6:$((b + 13)) \
		c6_urg_ack:$H6:$((b + 14))
	local p6=$BG_PID
	run_cases "$out.d" "$tok" ctl_deferred:$H2:$((b + 20)) c1_paws_deferred:$H2:$((b + 21)) \
		c2_before_deferred:$H2:$((b + 22)) c6_urg_deferred:$H2:$((b + 23)) \
		ctl_deferred:$H62:$((b + 30)) c1_paws_deferred:$H62:$((b + 31))
	local pd=$BG_PID
	if [ "$label" = webroot ]; then
		# (three groups: in one, their timeouts added up to 22 s)
		run_cases "$out.h" "$tok" h_ooo:$H:$((b + 40)) h_ooo_future:$H:$((b + 41)) h_overlap:$H:$((b + 42)) \
			h_frag:$H:$((b + 43))
		local ph=$BG_PID
		run_cases "$out.i" "$tok" h_tfo:$H:$((b + 44)) h_fin:$H:$((b + 45)) h_window:$H:$((b + 46)) \
			h_pipe:$H:$((b + 47)) h_body:$H:$((b + 48))
		local pi=$BG_PID
		run_cases "$out.j" "$tok" h_frag:$H6:$((b + 50)) h_ext:$H6:$((b + 51)) \
			h_ooo_future:$H6:$((b + 52)) h_resend_longer:$H:$((b + 54))
		local pj=$BG_PID
		# the extension-header segment's own control: from the allowed country,
		# which never meets the guard, the same crafted segment reaches nginx
		attack_from allow "$CASES" "$tok" h_ext:$H6:$((b + 53)) >"$out.a" 2>&1
		wait $ph $pi $pj
	fi
	wait $p4 $p6 $pd
	cat "$out".? >"$out"
	sleep 0.2 # nginx writes its log line as the request ends: the replies came already
	# (on a busy machine nginx may write later: the lines the controls and the
	# "answered" cases must have, each awaited, 5 s at most)
	local sp
	for sp in $b $((b + 10)) $((b + 20)) $((b + 30)); do
		wait_for "$LOG" " $sp \"GET /.well-known/acme-challenge/$tok HTTP/1.1\"" 50
	done
	if [ "$label" = webroot ]; then
		for sp in $((b + 42)) $((b + 43)) $((b + 50)) $((b + 45)) $((b + 54)) $((b + 48)); do
			wait_for "$LOG" " $sp \"GET /.well-known/acme-challenge/$tok HTTP/1.1\" 200" 50
		done
	fi

	# the positive controls: scapy's handshake and request reach nginx through the window
	local c
	for c in "$b IPv4" "$((b + 10)) IPv6" "$((b + 20)) IPv4 deferred" "$((b + 30)) IPv6 deferred"; do
		if adv_lines "$LOG" "${c%% *}" | grep -q "\"GET /.well-known/acme-challenge/$tok HTTP/1.1\""; then
			t_pass "$label, ${c#* }: control: the crafted challenge request reaches nginx"
		else
			t_fail "$label, ${c#* }: control: the crafted challenge request reaches nginx"
			adv_case "$out" "${c%% *}" | sed 's/^/    /'
		fi
	done
	local j="adv_judge"
	$j "$label, IPv4: 1 resend with other bytes after PAWS threw the first copy away: nginx read nothing but the challenge" "$out" "$LOG" $((b + 1)) "$tok"
	$j "$label, IPv6: 1 resend with other bytes after PAWS threw the first copy away: nginx read nothing but the challenge" "$out" "$LOG" $((b + 11)) "$tok"
	$j "$label, IPv4 deferred: 1 resend on the listener (data on the handshake's last ACK) after PAWS: nginx read nothing but the challenge" "$out" "$LOG" $((b + 21)) "$tok"
	$j "$label, IPv6 deferred: 1 resend on the listener (data on the handshake's last ACK) after PAWS: nginx read nothing but the challenge" "$out" "$LOG" $((b + 31)) "$tok"
	$j "$label, IPv4: 2 a segment starting before rcv_nxt: nginx read nothing but the challenge" "$out" "$LOG" $((b + 2)) "$tok"
	$j "$label, IPv6: 2 a segment starting before rcv_nxt: nginx read nothing but the challenge" "$out" "$LOG" $((b + 12)) "$tok"
	$j "$label, IPv4 deferred: 2 a segment starting before rcv_nxt, completing the handshake: nginx read nothing but the challenge" "$out" "$LOG" $((b + 22)) "$tok"
	$j "$label, IPv4: 6 urgent data: nginx read nothing but the challenge" "$out" "$LOG" $((b + 3)) "$tok"
	$j "$label, IPv6: 6 urgent data: nginx read nothing but the challenge" "$out" "$LOG" $((b + 13)) "$tok"
	$j "$label, IPv4 deferred: 6 urgent data completing the handshake: nginx read nothing but the challenge" "$out" "$LOG" $((b + 23)) "$tok"
	$j "$label, IPv4: 6 an urgent pointer on a bare ACK, into the request that follows: nginx read nothing but the challenge" "$out" "$LOG" $((b + 4)) "$tok"
	$j "$label, IPv6: 6 an urgent pointer on a bare ACK, into the request that follows: nginx read nothing but the challenge" "$out" "$LOG" $((b + 14)) "$tok"
	[ "$label" = webroot ] || return 0
	$j "held, IPv4: out of order, a request's second half first: nothing reaches nginx" "$out" "$LOG" $((b + 40)) "$tok"
	$j "held, IPv4: out of order, the challenge at a later offset, then other requests: nothing but the challenge" "$out" "$LOG" $((b + 41)) "$tok"
	$j "held, IPv6: out of order, the challenge at a later offset, then other requests: nothing but the challenge" "$out" "$LOG" $((b + 52)) "$tok"
	$j "held, IPv4: overlapping segments, a second request over the challenge's end: nothing but the challenge" "$out" "$LOG" $((b + 42)) "$tok" answered
	$j "held, IPv4: IP fragments: nothing but the challenge" "$out" "$LOG" $((b + 43)) "$tok" answered
	$j "held, IPv6: IP fragments: nothing but the challenge" "$out" "$LOG" $((b + 50)) "$tok" answered
	if grep -q "^$ALLOW6 $((b + 53)) \"GET /secret-ext HTTP/1.1\" 200\$" "$LOG"; then
		$j "held, IPv6: an extension header (destination options): nothing but the challenge" "$out" "$LOG" $((b + 51)) "$tok"
	else
		t_fail "held, IPv6: an extension header (destination options): nothing but the challenge (its control failed: the same crafted segment from the allowed country did not reach nginx)"
		sed 's/^/    /' "$out.a"
	fi
	$j "held, IPv4: data on the SYN (Fast Open without a cookie): nothing but the challenge" "$out" "$LOG" $((b + 44)) "$tok"
	$j "held, IPv4: FIN with data after the challenge: nothing but the challenge" "$out" "$LOG" $((b + 45)) "$tok" answered
	$j "held, IPv4: zero-window probe, data beyond the receive window and again: nothing but the challenge" "$out" "$LOG" $((b + 46)) "$tok"
	$j "held, IPv4: pipelining in one segment: nothing but the challenge" "$out" "$LOG" $((b + 47)) "$tok"
	$j "held, IPv4: a resend of the challenge that goes on with a second request: nothing but the challenge" "$out" "$LOG" $((b + 54)) "$tok" answered
	$j "held, IPv4: a body in a later segment: nothing but the challenge" "$out" "$LOG" $((b + 48)) "$tok" answered
}

# the control of data on the SYN: with no window (no guard), the host takes a
# crafted SYN's data from the allowed country straight to nginx
attack_from allow "$CASES" x h_tfo:$H:20999 >"$T_TMP/attack-tfo-control" 2>&1
if grep -q "^$ALLOW 20999 \"GET /secret-tfo HTTP/1.1\" 200\$" "$LOG"; then
	t_pass "control: with no window, data on a crafted SYN (no cookie) reaches nginx at once"
else
	t_fail "control: with no window, data on a crafted SYN (no cookie) reaches nginx at once"
	sed 's/^/    /' "$T_TMP/attack-tfo-control"
fi

# --- webroot=: the attacker knows one live token --------------------------------------------
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "daemon start"; t_summary; exit 1; }
echo "$TOK.keyauth" >"$WWW/.well-known/acme-challenge/$TOK"
wait_for "$T_DLOG" "window 1 open: guarded" 30 && t_pass "webroot: a token file opened a guarded window" ||
	t_fail "webroot: a token file opened a guarded window"
phase webroot "$TOK" 21000
rm -f "$WWW/.well-known/acme-challenge/$TOK"
daemon_stop

# --- always: any token-shaped string; the attacker needs no secret ------------------------------
daemon_start "serve = cgroup $NGINX_CG always" || { t_fail "daemon start (always)"; t_summary; exit 1; }
wait_for "$T_DLOG" "open: guarded" 30 && t_pass "always: the guarded window is open" || t_fail "always: the guarded window is open"
phase always No_such_token_anywhere 22000
daemon_stop

# the whole evidence with ADV_VERBOSE=1 (each FAIL line quotes what nginx logged)
if [ -n "${ADV_VERBOSE:-}" ]; then
	echo "--- the attacker's view (tests/adversary/cases.py):"
	cat "$T_TMP"/attack-webroot "$T_TMP"/attack-always 2>/dev/null | sed 's/^/    /'
	echo "--- nginx's access log:"
	sed 's/^/    /' "$LOG"
fi
t_summary
