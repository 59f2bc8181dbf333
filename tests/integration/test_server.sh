#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guarded server windows (issue 14), with a real nginx holding port 80 in a
# cgroup of its own: a token file in the webroot opens a window; from the
# Internet only one whole challenge request for a live token reaches nginx;
# the allowed country is never guarded; the window closes when no token is
# left or at its max_window; the host's ruleset is as before afterwards. The
# ruleset shapes: allow-list with a drop policy, a block-list with an early
# conditional drop, a drop in a jumped-to chain, iptables-nft (iptables -S
# reads porthole's rules back), a drop porthole cannot repeat (fail closed).
set -u
source "$(dirname "$0")/../lib.sh"
t_start server nginx lab

# the host's ruleset without its counters (traffic moves them)
ruleset_dump() { in_host nft list ruleset | awk '/^table inet porthole /{skip=1} !skip{print} skip&&/^}/{skip=0}' |
	sed 's/counter packets [0-9]* bytes [0-9]*/counter/'; }
TOK=Tok3n_abc-DEF123

site_up

req() { printf 'GET %s HTTP/1.1\\r\\nHost: example.org\\r\\nUser-Agent: test\\r\\nAccept: */*\\r\\nConnection: close\\r\\n\\r\\n' "$1"; }
challenge() { req "/.well-known/acme-challenge/$1"; }
audit_has() { grep -c "$1" "$T_TMP/audit.jsonl" 2>/dev/null || true; }
open_count() { grep -c '"event":"window-open"' "$T_TMP/audit.jsonl" 2>/dev/null || echo 0; }
close_count() { grep -c '"event":"window-close"' "$T_TMP/audit.jsonl" 2>/dev/null || echo 0; }

BEFORE=$(ruleset_dump)

daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" "metrics_file = $T_TMP/metrics.prom" ||
	{ t_fail "daemon start"; t_summary; exit 1; }

# --- no token: no window --------------------------------------------------------------------
t_eq "no token: the Internet gets no connection to nginx" "connect-timeout" "$(http inet $H "$(challenge $TOK)")"
t_check "no token: the allowed country is served" grep -q "status 200 site index" <<<"$(http allow $H "$(req /)")"

# --- a token opens a guarded window --------------------------------------------------------
token_put $TOK
wait_for "$T_DLOG" "window 1 open: guarded" 30 && t_pass "a token file opened window 1" || t_fail "a token file opened window 1"
t_check "window-open record: kind server, why tokens, the token" \
	grep -q '"event":"window-open".*"kind":"server".*"why":"tokens","tokens":\["'$TOK'"\]' "$T_TMP/audit.jsonl"
out=$(http inet $H "$(challenge $TOK)")
t_check "Internet, live token over IPv4: nginx answers ($out)" grep -q "status 200 $TOK.keyauth" <<<"$out"
out=$(http inet "$H6" "$(challenge $TOK)")
t_check "Internet, live token over IPv6: nginx answers ($out)" grep -q "status 200 $TOK.keyauth" <<<"$out"
t_eq "Internet, GET /: dropped" "noanswer" "$(http inet $H "$(req /)")"
t_eq "Internet, a token that is not live: dropped" "noanswer" "$(http inet $H "$(challenge NotAToken)")"
# a token whose file appears just after its request (the ACME client wrote it an
# instant before the daemon read it): TCP's retransmission of the request passes
( sleep 0.6; token_put Late_arrival ) &
out=$(PORTHOLE_HTTP_WAIT=6 http inet $H "$(challenge Late_arrival)")
wait $!
t_check "Internet, a token that goes live just after its request: the retransmission is answered ($out)" \
	grep -q "status 200 Late_arrival.keyauth" <<<"$out"
token_rm Late_arrival
t_eq "Internet, POST to the live token: dropped" "noanswer" \
	"$(http inet $H "POST /.well-known/acme-challenge/$TOK HTTP/1.1\r\nHost: example.org\r\nContent-Length: 0\r\n\r\n")"
t_eq "Internet, the request split across two segments: dropped" "noanswer" \
	"$(http inet $H "GET /.well-known/acme-chall" "enge/$TOK HTTP/1.1\r\nHost: example.org\r\n\r\n")"
t_eq "Internet, a valid request with a second one pipelined in the same segment: dropped" "noanswer" \
	"$(http inet $H "$(challenge $TOK | sed 's/Connection: close/Connection: keep-alive/')$(req /)")"
# keep-alive: the first request answered, the second (its own segment) dropped
out=$(in_ns "$T_PFX-inet" "$PY" - "$H" "$TOK" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=2)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: e\r\n\r\n" % sys.argv[2].encode())
first = s.recv(4096)
s.sendall(b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
s.settimeout(1.5)
try:
    second = s.recv(4096)
except socket.timeout:
    second = b""
print("first", first.split(b" ")[1].decode() if first else "none", "second", "answered" if second else "dropped")
PY
)
t_eq "Internet, keep-alive: the challenge answered, the second request dropped" "first 200 second dropped" "$out"
t_eq "Internet, a header line without a colon: dropped" "noanswer" \
	"$(http inet $H "GET /.well-known/acme-challenge/$TOK HTTP/1.1\r\nHost example.org\r\n\r\n")"
t_eq "Internet, something after the token: dropped" "noanswer" \
	"$(http inet $H "GET /.well-known/acme-challenge/$TOK/../../index.html HTTP/1.1\r\nHost: e\r\n\r\n")"
out=$(http allow $H "$(req /)")
t_check "allowed country, GET / during the window: served ($out)" grep -q "status 200 site index" <<<"$out"
out=$(http allow $H "$(req /)" "$(req /)")
t_check "allowed country, pipelined requests during the window: served ($out)" grep -q "status 200" <<<"$out"
sleep 0.3
t_check "guard records: one admitted with the token" grep -q '"event":"guard".*"verdict":"admitted","why":"admitted","token":"'$TOK'"' "$T_TMP/audit.jsonl"
for why in not-a-challenge token-not-live split-request pipelined second-payload bad-header; do
	t_check "guard record: dropped, $why" grep -q "\"event\":\"guard\".*\"peer\":\"$INET\".*\"verdict\":\"dropped\",\"why\":\"$why\"" "$T_TMP/audit.jsonl"
done
t_eq "no guard record for the allowed country" 0 "$(grep '"event":"guard"' "$T_TMP/audit.jsonl" | grep -c "\"peer\":\"$ALLOW\"")"
t_check "metrics: guarded requests by verdict" grep -q "porthole_guard_requests_total{server=\"$NGINX_CG\",verdict=\"dropped\"} [1-9]" "$T_TMP/metrics.prom"
t_check "metrics: the server window counts as open" grep -q "^porthole_windows_open 1" "$T_TMP/metrics.prom"
if command -v promtool >/dev/null; then
	t_check "metrics: promtool accepts the file" promtool check metrics <"$T_TMP/metrics.prom"
else
	t_skip "promtool not installed: metrics format not checked"
fi
t_check "the guard rules are in the host's chain (before the policy)" grep -q 'porthole guard' <<<"$(in_host nft list chain inet filter input)"

# --- the last token goes: the window closes ----------------------------------------------------
token_rm $TOK
wait_for "$T_DLOG" "window 1 closed (tokens-gone)" 30 && t_pass "no token left: window 1 closed (tokens-gone)" || t_fail "no token left: window 1 closed"
t_check "window-close record: requests admitted and dropped counted" \
	grep -q '"event":"window-close".*"kind":"server","reason":"tokens-gone".*"requests_admitted":[1-9][0-9]*,"requests_dropped":[1-9]' "$T_TMP/audit.jsonl"
t_eq "after: the host's ruleset is as before" "$BEFORE" "$(ruleset_dump)"
t_eq "after: no server element left" "" "$(in_host nft list set inet porthole servers | grep -o 'elements')"
t_eq "after: the Internet gets no connection" "connect-timeout" "$(http inet $H "$(challenge $TOK)")"
t_check "after: the allowed country is served" grep -q "status 200 site index" <<<"$(http allow $H "$(req /)")"
daemon_stop

# --- max_window: the deadline closes it; only a new token reopens -------------------------------
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW max_window=2" || t_fail "daemon start (max_window)"
token_put $TOK
wait_for "$T_DLOG" "guarded tcp/80" 30 && t_pass "max_window=2: the window opened" || t_fail "max_window=2: the window opened"
wait_for "$T_DLOG" "closed (deadline)" 50 && t_pass "max_window=2: closed at its deadline" || t_fail "max_window=2: closed at its deadline"
sleep 1
t_eq "after the deadline, the same token does not reopen it" 1 "$(grep -c 'open: guarded tcp/80 to' "$T_DLOG")"
t_eq "after the deadline: the Internet gets no connection" "connect-timeout" "$(http inet $H "$(challenge $TOK)")"
token_put Second_token
wait_for "$T_DLOG" "window [0-9]* open: guarded" 30
sleep 0.3
t_eq "a new token opens a new window" 2 "$(grep -c 'open: guarded tcp/80 to' "$T_DLOG")"
out=$(http inet $H "$(challenge Second_token)")
t_check "the new window admits the new token ($out)" grep -q "status 200 Second_token.keyauth" <<<"$out"
token_rm $TOK; token_rm Second_token
daemon_stop
t_eq "daemon stopped: the host's ruleset is as before" "$BEFORE" "$(ruleset_dump)"

# --- always: no webroot, the guard is the only gate ----------------------------------------------
daemon_start "serve = cgroup $NGINX_CG always" || t_fail "daemon start (always)"
wait_for "$T_DLOG" "guarded tcp/80" 30 && t_pass "always: the window is open from the start" || t_fail "always: open from the start"
token_put Any_token
out=$(http inet $H "$(challenge Any_token)")
t_check "always: any token-shaped request reaches nginx ($out)" grep -q "status 200 Any_token.keyauth" <<<"$out"
t_eq "always: GET / from the Internet dropped" "noanswer" "$(http inet $H "$(req /)")"
token_rm Any_token
daemon_stop
t_check "always: shutdown closes it" grep -q '"kind":"server","reason":"shutdown"' "$T_TMP/audit.jsonl"

# --- the daemon stops: connections its server window admitted end with it -----------------------
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || t_fail "daemon start (stop ends connections)"
token_put $TOK
wait_for "$T_DLOG" "open: guarded" 30 || t_fail "stop ends connections: the window opened"
in_ns "$T_PFX-inet" "$PY" - "$H" "$TOK" "$T_TMP/ka.go" >"$T_TMP/ka.out" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=2)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: e\r\n\r\n" % sys.argv[2].encode())
first = s.recv(4096)
print("first", first.split(b" ")[1].decode() if first else "none", flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
    s.settimeout(2)
    second = "answered" if s.recv(4096) else "closed"
except socket.timeout:
    second = "dropped"
except (ConnectionResetError, BrokenPipeError):
    second = "reset"
print("second", second, flush=True)
PY
KA_PID=$!
T_PIDS+=("$KA_PID")
wait_for "$T_TMP/ka.out" "first" 30
t_check "a kept-alive guarded connection: its challenge request answered" grep -q "first 200" "$T_TMP/ka.out"
roots_before=$(grep -c "^$INET .*\"GET / HTTP" "$T_TMP/nginx-web/access.log")
daemon_stop
touch "$T_TMP/ka.go"
wait "$KA_PID"
t_check "after the daemon stopped, a second request on it gets nothing (the connection was ended)" \
	grep -qE "second (dropped|reset)" "$T_TMP/ka.out"
t_eq "... and nginx's log shows no request from it after the stop" "$roots_before" \
	"$(grep -c "^$INET .*\"GET / HTTP" "$T_TMP/nginx-web/access.log")"
token_rm $TOK

# --- a flood of bad requests: every one counted, at most 50 recorded a second ---------------------
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || t_fail "daemon start (flood)"
token_put $TOK
wait_for "$T_DLOG" "open: guarded" 30 || t_fail "flood: the window opened"
FROM=$(($(wc -l <"$T_TMP/audit.jsonl") + 1))
in_ns "$T_PFX-inet" "$PY" - "$H" <<'PY'
import socket, sys
for _ in range(200):
    s = socket.create_connection((sys.argv[1], 80), timeout=2)
    s.sendall(b"GET / HTTP/1.1\r\nHost: e\r\n\r\n")
    s.close()
PY
sleep 1.5
token_rm $TOK
wait_for "$T_DLOG" "closed (tokens-gone)" 30
n=$(tail -n +"$FROM" "$T_TMP/audit.jsonl" | grep -c '"event":"guard".*"why":"not-a-challenge"')
sup=$(tail -n +"$FROM" "$T_TMP/audit.jsonl" | grep '"event":"guard-suppressed"' | sed 's/.*"dropped_requests":\([0-9]*\).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
dropped=$(grep '"event":"window-close"' "$T_TMP/audit.jsonl" | tail -1 | sed 's/.*"requests_dropped":\([0-9]*\).*/\1/')
t_check "flood: dropped-request records limited ($n written)" [ "$n" -lt 200 ]
t_check "flood: written + suppressed ($n + $sup) cover every drop the close record counts ($dropped)" [ $((n + sup)) -ge "$dropped" ]
t_check "flood: the close record counts all 200" [ "$dropped" -ge 200 ]
t_check "porthole log shows the suppressed count" grep -q "more dropped request(s) counted" <<<"$(ph log --file "$T_TMP/audit.jsonl")"
daemon_stop

# --- a server that runs but does not listen: a refused record, no window ----------------------------
IDLE_CG=$T_CG2/$T_PFX-idle
mkdir -p "$IDLE_CG" && T_CGROUPS+=("$IDLE_CG")
( echo $BASHPID >"$IDLE_CG/cgroup.procs"; exec sleep 60 ) &
T_PIDS+=("$!")
daemon_start "ports = 80 8081" "serve = cgroup /$T_PFX-idle webroot=$WWW ports=8081" || t_fail "daemon start (no listener)"
token_put $TOK
wait_for "$T_DLOG" "nothing listens on tcp/8081" 30 && t_pass "a running server that does not listen: no window, said" ||
	t_fail "a running server that does not listen: no window, said"
t_check "... and a refused record" grep -q '"event":"refused".*"request":"server-window".*nothing listens on tcp/8081' "$T_TMP/audit.jsonl"
sleep 6 # a retry of the server check
t_eq "... recorded once, not at every retry" 1 "$(grep -c 'nothing listens on tcp/8081' "$T_TMP/audit.jsonl")"
token_rm $TOK
daemon_stop

# --- porthole run --serve: a guarded window for the command's lifetime ------------------------
daemon_start "serve = cgroup $NGINX_CG" || t_fail "daemon start (run --serve)"
t_eq "a serve line with neither webroot nor always opens nothing by itself" "connect-timeout" "$(http inet $H "$(challenge Any_token)")"
token_put Any_token
bg_run "$T_TMP/serve.out" "$T_TMP/serve.err" run --serve "cgroup:$NGINX_CG" -- sleep 4
SERVE_PID=$BG_PID
wait_for "$T_DLOG" "open: guarded tcp/80" 30 && t_pass "run --serve: the window opened" || { t_fail "run --serve: the window opened"; cat "$T_TMP/serve.err"; }
t_check "run --serve: window-open says why: session" grep -q '"kind":"server".*"why":"session","tokens":\[\],"session":' "$T_TMP/audit.jsonl"
out=$(http inet $H "$(challenge Any_token)")
t_check "run --serve: a challenge request reaches nginx ($out)" grep -q "status 200 Any_token.keyauth" <<<"$out"
t_eq "run --serve: GET / dropped" "noanswer" "$(http inet $H "$(req /)")"
st=$(ph status --json)
t_check "status --json lists the server window with its counts" grep -q '"kind":"server","server":"'$NGINX_CG'","requests_admitted":[1-9][0-9]*,"requests_dropped":[1-9]' <<<"$st"
st=$(ph status)
t_check "status shows the server window" grep -q "server $NGINX_CG (guarded: [1-9][0-9]* admitted, [1-9][0-9]* dropped)" <<<"$st"
wait "$SERVE_PID"; rc=$?
t_eq "run --serve: the command's exit status comes back" 0 $rc
wait_for "$T_DLOG" "closed (exited)" 30 && t_pass "run --serve: the command's end closes it" || t_fail "run --serve: the command's end closes it"
t_eq "run --serve: afterwards no connection" "connect-timeout" "$(http inet $H "$(challenge Any_token)")"
out=$(ph_host run --serve unit:nothere.service -- true 2>&1); rc=$?
t_check "run --serve for a server no serve line names: refused (exit $rc)" grep -q "no serve line in the daemon's config names it" <<<"$out"
t_eq "... a refusal: exit 77" 77 $rc
out=$(ph_host run --serve "cgroup:$NGINX_CG" --webroot /srv/porthole-not-there -- true 2>&1); rc=$?
t_check "run --serve --webroot that is no directory: refused ($rc)" grep -q "not an absolute path to a directory" <<<"$out"
# --webroot on a serve line without one: token-bound for this session only
token_put Live_token
bg_run "$T_TMP/serve2.out" "$T_TMP/serve2.err" run --serve "cgroup:$NGINX_CG" --webroot "$WWW" -- sleep 4
SERVE_PID=$BG_PID
wait_for "$T_DLOG" "window [0-9]* open: guarded tcp/80 to $NGINX_CG (session" 30 && t_pass "run --serve --webroot: the window opened" ||
	{ t_fail "run --serve --webroot: the window opened"; cat "$T_TMP/serve2.err"; }
sleep 0.3
out=$(http inet $H "$(challenge Live_token)")
t_check "run --serve --webroot: a live token of that webroot reaches nginx ($out)" grep -q "status 200 Live_token.keyauth" <<<"$out"
t_eq "run --serve --webroot: a token that is not there dropped" "noanswer" "$(http inet $H "$(challenge Any_token_gone)")"
t_check "run --serve --webroot: the window-open record names the session's webroot" \
	grep -q '"server":{[^}]*"webroot":"'"$WWW"'"[^}]*},"why":"session"' "$T_TMP/audit.jsonl"
wait "$SERVE_PID"
wait_for "$T_DLOG" "closed (exited)" 30
token_rm Live_token
t_eq "after it: the session's webroot is no longer watched (a token opens nothing)" "connect-timeout" \
	"$(token_put Late_token; sleep 0.5; http inet $H "$(challenge Late_token)")"
token_rm Late_token
out=$(ph_host run --webroot /srv -- true 2>&1); rc=$?
t_eq "run --webroot without --serve: usage error (64)" 64 $rc
token_rm Any_token
daemon_stop

# --- run --serve: the serve line's max_window bounds the session's window ------------------------
daemon_start "serve = cgroup $NGINX_CG max_window=2" || t_fail "daemon start (run --serve max_window)"
bg_run "$T_TMP/serve3.out" "$T_TMP/serve3.err" run --serve "cgroup:$NGINX_CG" -- sleep 5
SERVE_PID=$BG_PID
wait_for "$T_DLOG" "open: guarded" 30 || t_fail "run --serve max_window: the window opened"
wait_for "$T_DLOG" "closed (deadline)" 40 && t_pass "run --serve: the serve line's max_window=2 closes it while the command runs" ||
	t_fail "run --serve: the serve line's max_window=2 closes it while the command runs"
kill -0 "$SERVE_PID" 2>/dev/null && t_pass "... and the command still runs" || t_fail "... and the command still runs"
wait "$SERVE_PID"
daemon_stop

# --- a webroot the daemon's user may not read: said, and no window ----------------------------------
if [ -n "$T_DAEMON_UID" ]; then
	SECRET=$T_TMP/secret-www
	mkdir -p "$SECRET/.well-known/acme-challenge" && chmod 0700 "$SECRET"
	echo "Hidden_token.keyauth" >"$SECRET/.well-known/acme-challenge/Hidden_token"
	daemon_start "serve = cgroup $NGINX_CG webroot=$SECRET" || t_fail "daemon start (unreadable webroot)"
	wait_for "$T_DLOG" "cannot read $SECRET .*Permission denied.*no token there opens a window" 30 &&
		t_pass "a webroot uid $T_DAEMON_UID may not read: the daemon says so, naming the remedy" ||
		t_fail "a webroot uid $T_DAEMON_UID may not read: the daemon says so, naming the remedy"
	t_eq "... and its token opens no window" "connect-timeout" "$(http inet $H "$(challenge Hidden_token)")"
	out=$(in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_CONF" 2>&1)
	t_check "porthole check names the daemon's user and capabilities" \
		grep -q "^OK .*daemon.*as user ? (uid $T_DAEMON_UID), capabilities CAP_NET_ADMIN CAP_SYS_PTRACE CAP_PERFMON CAP_BPF" <<<"$out"
	t_check "porthole check: FAIL, that user cannot read the webroot, and the remedy" \
		grep -q "^FAIL .*webroot.*$SECRET: user ? (uid $T_DAEMON_UID) cannot read it.*setfacl" <<<"$out"
	# one child asks every level as that user: the first it cannot read is
	# named (a second webroot, for porthole check only: the daemon's stays)
	DEEP=$T_TMP/deep-www
	mkdir -p "$DEEP/.well-known/acme-challenge" && chmod 0755 "$DEEP" "$DEEP/.well-known" &&
		chmod 0700 "$DEEP/.well-known/acme-challenge"
	sed "s|webroot=$SECRET|webroot=$DEEP|" "$T_CONF" >"$T_TMP/deep.conf"
	out=$(in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_TMP/deep.conf" 2>&1)
	t_check "porthole check: FAIL names the first level below the webroot that user cannot read" \
		grep -q "^FAIL .*webroot.*$DEEP/.well-known/acme-challenge: user ? (uid $T_DAEMON_UID) cannot read it" <<<"$out"
	rm -rf "$DEEP"
	daemon_stop
	# an ACL for that user is the remedy the README gives
	if command -v setfacl >/dev/null && setfacl -m "u:$T_DAEMON_UID:rx" "$SECRET" 2>/dev/null; then
		daemon_start "serve = cgroup $NGINX_CG webroot=$SECRET" || t_fail "daemon start (webroot with an ACL)"
		wait_for "$T_DLOG" "open: guarded" 30 && t_pass "with an ACL for that user: the token opens the window" ||
			t_fail "with an ACL for that user: the token opens the window"
		daemon_stop
	else
		t_skip "setfacl not installed (make deps installs acl): the ACL remedy not shown"
	fi
	rm -rf "$SECRET"
fi

# guarded_probes NAME ANSWER: during a guarded window for $TOK, the Internet's
# challenge request answered (the answer matching ANSWER), its GET / dropped,
# the allowed country's GET / served
guarded_probes() {
	out=$(http inet $H "$(challenge $TOK)")
	t_check "$1: the Internet's challenge request is answered ($out)" grep -q "$2" <<<"$out"
	t_eq "$1: the Internet's GET / dropped" "noanswer" "$(http inet $H "$(req /)")"
	out=$(http allow $H "$(req /)")
	t_check "$1: the allowed country's GET / served ($out)" grep -q "status 200 site index" <<<"$out"
}

# --- other ruleset shapes ----------------------------------------------------------------------
# shape RULESET-NAME: replace the host's ruleset, open a window with a token, probe
shape() {
	local name=$1 rules=$2 before
	in_host nft flush ruleset
	printf '%s\n' "$rules" | in_host nft -f - || { t_fail "$name: ruleset load"; return; }
	before=$(ruleset_dump)
	daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "$name: daemon start"; return; }
	token_put $TOK
	if wait_for "$T_DLOG" "guarded tcp/80" 30; then
		guarded_probes "$name" "status 200"
	else
		t_fail "$name: the window opened"; sed -n '$p' "$T_DLOG"
	fi
	token_rm $TOK
	wait_for "$T_DLOG" "closed (tokens-gone)" 30 || t_fail "$name: closed"
	daemon_stop
	t_eq "$name: the ruleset is as before" "$before" "$(ruleset_dump)"
}

shape "block-list (an early conditional drop)" 'table inet filter {
	set blocked { type ipv4_addr; flags interval; elements = { '"$INET"' } }
	set blocked6 { type ipv6_addr; flags interval; elements = { '"$INET6"' } }
	chain input { type filter hook input priority filter; policy accept;
		ct state established,related accept
		ip saddr @blocked counter drop
		ip6 saddr @blocked6 drop
	}
}'

shape "allow-list with a final drop rule, in a jumped-to chain" 'table inet filter {
	set allowed { type ipv4_addr; flags interval; elements = { '"$LAB_ALLOWED_SET_V4"' } }
	chain geo {
		ip saddr @allowed return
		counter drop
	}
	chain input { type filter hook input priority filter; policy accept;
		iif "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		meta nfproto ipv4 tcp dport 80 jump geo
		tcp dport 80 accept
	}
}'

# a drop porthole cannot repeat (an anonymous set): the window fails closed, naming the rule
nslab_anon_drop
before=$(ruleset_dump)
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || t_fail "anonymous set: daemon start"
token_put $TOK
wait_for "$T_DLOG" "no window" 30
t_check "anonymous set in a drop: no window, the rule named" grep -q "drops with a match porthole cannot repeat (an anonymous set" "$T_DLOG"
t_check "anonymous set: a refused record" grep -q '"event":"refused".*"request":"server-window".*cannot repeat' "$T_TMP/audit.jsonl"
t_eq "anonymous set: the Internet gets nothing" "connect-timeout" "$(http inet $H "$(challenge $TOK)")"
t_eq "anonymous set: the ruleset untouched" "$before" "$(ruleset_dump)"
token_rm $TOK
daemon_stop

# --- firewall managers: plain iptables-nft, ufw (over iptables-nft), firewalld (nftables) --------
source "$T_ROOT/tests/lab/fw.sh"
trap 'fw_stop >/dev/null 2>&1; t_cleanup' EXIT
quiet() { "$@" >/dev/null 2>&1; }
# manager_case MANAGER: the manager's own ruleset on the lab host; a guarded window through it
manager_case() {
	local m=$1 before rc
	in_host nft flush ruleset
	fw_start "$m" "$T_PFX-host" >"$T_TMP/fw.out" 2>&1; rc=$?
	if [ $rc = 77 ]; then t_skip "$m: $(head -1 "$T_TMP/fw.out")"; return; fi
	[ $rc = 0 ] || { t_fail "$m: fw_start: $(tr '\n' ' ' <"$T_TMP/fw.out" | cut -c1-300)"; fw_stop; return; }
	before=$(ruleset_dump)
	daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "$m: daemon start"; fw_stop; return; }
	token_put $TOK
	if wait_for "$T_DLOG" "open: guarded" 50; then
		guarded_probes "$m" "status 200 $TOK.keyauth"
		case $m in
		ufw|iptables)
			t_check "$m: iptables -S reads the rules during the window" quiet fw_exec iptables -S
			out=$(fw_exec iptables -S 2>&1)
			t_check "$m: iptables -S shows the guard's CONNMARK rule" \
				grep -q -- '-m mark --mark 0xff000000/0xff000000 .*-j CONNMARK --set-xmark 0xfe000000/0xff000000' <<<"$out"
			t_check "$m: iptables -S shows the guard's connmark accept" \
				grep -q -- '-m connmark --mark 0xfe000000/0xff000000 .*-j ACCEPT' <<<"$out"
			if [ "$m" = ufw ]; then
				t_check "ufw: ufw status works during the window" quiet fw_exec ufw status
				fw_exec ufw reload >/dev/null 2>&1
			else
				fw_restart >/dev/null 2>&1 # iptables-restore of the admin's rules
			fi ;;
		firewalld)
			t_check "firewalld: firewall-cmd --list-all works during the window" quiet fw_exec firewall-cmd --list-all
			fw_exec firewall-cmd --reload >/dev/null 2>&1 ;;
		esac
		sleep 1
		out=$(http inet $H "$(challenge $TOK)")
		t_check "$m: after the manager's reload, the challenge request is answered again ($out)" grep -q "status 200" <<<"$out"
		t_eq "$m: after the reload, GET / still dropped" "noanswer" "$(http inet $H "$(req /)")"
		t_check "$m: after the reload, the allowed country served" grep -q "status 200 site index" <<<"$(http allow $H "$(req /)")"
	else
		t_fail "$m: the window opened"; tail -3 "$T_DLOG"
	fi
	token_rm $TOK
	wait_for "$T_DLOG" "closed (tokens-gone)" 30 || t_fail "$m: closed"
	daemon_stop
	t_eq "$m: the ruleset is as before" "$before" "$(ruleset_dump)"
	fw_stop
}
manager_case iptables
manager_case ufw
manager_case firewalld

# --- bad serve lines: one clear error, exit 78 ------------------------------------------------
bad() {
	local want=$1; shift
	printf '%s\n' "$@" >"$T_TMP/bad.conf"
	out=$("$PORTHOLE_BIN/portholed" -n -c "$T_TMP/bad.conf" 2>&1); rc=$?
	t_eq "bad serve line ($want): exit 78" 78 $rc
	t_check "bad serve line: says '$want'" grep -q -- "$want" <<<"$out"
}
bad "webroot= and always exclude each other" "serve = unit nginx.service webroot=$WWW always"
bad "is not a directory" "serve = unit nginx.service webroot=$WWW/index.html"
bad "port 8080 is not in 'ports'" "serve = unit nginx.service always ports=8080"
bad "already served" "serve = unit nginx.service always" "serve = unit nginx.service always"
bad "cannot also be designated" "designate = unit nginx.service" "serve = unit nginx.service always"
bad "unknown option" "serve = unit nginx.service webrot=/x"
bad "not a unit name" "serve = unit nginx webroot=$WWW"

t_summary
