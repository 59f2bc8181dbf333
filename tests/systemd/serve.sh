# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/systemd/serve.sh — checks 10-13 of the systemd tier, sourced by
# inner.sh (its helpers: res, pass, fail, skip, say, audit_q, wait_audit, ...),
# INSIDE the container: a guarded server window (serve = unit NAME webroot=DIR)
# to Debian's nginx run as a systemd unit of its own, porthole-nginx.service.
#
# The unit's cgroup is /system.slice/porthole-nginx.service (systemd makes it,
# portholed only reads it). Its webroot is under /srv of the container's
# volatile root: portholed.service has PrivateTmp=yes and ProtectHome=yes, so
# /tmp and /root would not be the same directories for it. nginx listens on
# the lab host's addresses, port 80, which the lab's host ruleset (policy
# drop) admits only from the allowed country; the blocked country is the lab's
# internet namespace (bound in at $NS_INET), the allowed one $NS_ALLOW.
#
#   10 a token file opens a guarded window; its window-open record names
#      unit porthole-nginx.service, cgroup /system.slice/porthole-nginx.service
#   11 from the blocked country, the live token's challenge request reaches
#      nginx (the file comes back, IPv4 and IPv6), GET / does not; the allowed
#      country is served; guard records say so
#   12 removing the token closes the window (tokens-gone); no connection again
#   13 systemctl restart porthole-nginx.service during a window: the daemon
#      closes it (server-gone) within ~5 s and reopens it for the token still
#      there; the new nginx serves the challenge
#
# Everything made here (the unit, its directory, the serve line) is removed by
# serve_cleanup, also when inner.sh ends early (its EXIT trap).

SRV_UNIT=porthole-nginx.service
SRV_DIR=/srv/phsd-nginx
SRV_WWW=$SRV_DIR/www
SRV_TOK=Sd_tok3n-$$
SRV_CONF=/etc/porthole/porthole.conf
NGINX=/usr/sbin/nginx

# req PATH: one whole request, escapes for httpraw.py
srv_req() { printf 'GET %s HTTP/1.1\\r\\nHost: %s\\r\\nUser-Agent: phsd\\r\\nAccept: */*\\r\\nConnection: close\\r\\n\\r\\n' "$1" "$CERT_NAME"; }
# srv_http NETNS ADDR PATH: "status CODE BODY" | noanswer | connect-timeout | refused
srv_http() { nsenter --net="$1" -- env PORTHOLE_HTTP_WAIT=1.2 "$PY" "$TOOLS/httpraw.py" "$2" 80 "$(srv_req "$3")"; }
srv_challenge() { srv_http "$1" "$2" "/.well-known/acme-challenge/$SRV_TOK"; }
srv_token_put() { mkdir -p "$SRV_WWW/.well-known/acme-challenge" && echo "$SRV_TOK.keyauth" >"$SRV_WWW/.well-known/acme-challenge/$SRV_TOK"; }
srv_token_rm() { rm -f "$SRV_WWW/.well-known/acme-challenge/$SRV_TOK"; }
srv_cg() { echo "$CG2/system.slice/$SRV_UNIT"; }
srv_listening() { ss -Hltn "sport = :80" 2>/dev/null | grep -q "$HOST_V4:80"; }
srv_wait_listen() { for _ in $(seq 50); do srv_listening && return 0; sleep 0.1; done; return 1; }
# the id of the newest window-open record of kind server after line N of the audit log
srv_open_after() { # N
	tail -n +"$(($1 + 1))" "$A" 2>/dev/null | grep '"event":"window-open"' | grep '"kind":"server"' | tail -n1 |
		"$PY" -c 'import json,sys; l=sys.stdin.read().strip(); print(json.loads(l)["window"] if l else "")'
}
srv_wait_open_after() { # N TENTHS: print the id
	local id
	for _ in $(seq "$2"); do
		id=$(srv_open_after "$1")
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}
# srv_tokens_are RECORD: its "tokens" are exactly [$SRV_TOK]
srv_tokens_are() { "$PY" -c 'import json,sys; sys.exit(json.loads(sys.argv[1]).get("tokens") != [sys.argv[2]])' "$1" "$SRV_TOK" 2>/dev/null; }
audit_lines() { wc -l <"$A" 2>/dev/null || echo 0; }

serve_cleanup() {
	[ -n "${SRV_MADE:-}" ] || return 0
	SRV_MADE=
	systemctl stop portholed.service "$SRV_UNIT" 2>/dev/null
	rm -f "$UNITS/$SRV_UNIT"
	systemctl daemon-reload 2>/dev/null
	sed -i '/^# systemd tier: serve$/,$d' "$SRV_CONF" 2>/dev/null
	rm -rf "$SRV_DIR"
}

serve_fail_all() { # REASON
	fail "10 serve = unit $SRV_UNIT: a token opens a window naming its cgroup ($1)"
	fail "11 guarded window to $SRV_UNIT: the challenge reaches nginx, GET / does not ($1)"
	fail "12 guarded window to $SRV_UNIT: removing the token closes it ($1)"
	fail "13 systemctl restart $SRV_UNIT during a window: server-gone, reopened ($1)"
}

check_serve() {
	local out rc ok id1 id2 id3 rec n0 t0 t1 pid1 pid2 gone_s

	if [ ! -x "$NGINX" ]; then
		for n in "10 serve = unit $SRV_UNIT" "11 guarded window" "12 tokens-gone" "13 restart of the served unit"; do
			skip "$n: nginx is not installed (no $NGINX; make deps, or apt-get install nginx)"
		done
		return 0
	fi
	SRV_MADE=1 SRV_T0=$(now)
	mkdir -p "$SRV_WWW" "$SRV_DIR/tmp" || { serve_fail_all "cannot make $SRV_DIR"; return 1; }
	chmod 755 "$SRV_DIR" "$SRV_WWW"
	echo "site index" >"$SRV_WWW/index.html"
	# a private config: no include of /etc/nginx, every path under $SRV_DIR
	"$TOOLS/nginx_conf.sh" "$SRV_DIR" "$SRV_DIR/tmp" "$SRV_WWW" "$HOST_V4" "$HOST_V6" "keepalive_timeout 10;" >"$SRV_DIR/nginx.conf"
	cat >"$UNITS/$SRV_UNIT" <<EOF
[Unit]
Description=porthole systemd tier: Debian's nginx as the served web server
[Service]
Type=exec
ExecStart=$NGINX -e $SRV_DIR/error.log -p $SRV_DIR -c $SRV_DIR/nginx.conf -g 'daemon off; master_process on;'
TimeoutStopSec=5
EOF
	{
		echo "# systemd tier: serve"
		echo "serve = unit $SRV_UNIT webroot=$SRV_WWW"
	} >>"$SRV_CONF"
	systemctl daemon-reload
	t0=$(now)
	if ! systemctl start "$SRV_UNIT" || ! srv_wait_listen; then
		journal_tail "$SRV_UNIT"
		tail -n 5 "$SRV_DIR/error.log" 2>/dev/null | indent
		serve_fail_all "nginx did not start as $SRV_UNIT"
		return 1
	fi
	say "$SRV_UNIT: active, MainPID $(show $SRV_UNIT MainPID), ControlGroup $(show $SRV_UNIT ControlGroup), listening on $HOST_V4:80 ($(secs "$t0" "$(now)")s)"
	# what the new daemon will find on port 80 (marks it must not give out)
	say "sockets on port 80 before portholed starts:"
	ss -Htane '( sport = :80 or dport = :80 )' 2>&1 | sed 's/ ino:[0-9]* sk:[0-9a-f]*//' | indent
	if ! systemctl start portholed.service; then
		journal_tail portholed.service 20
		serve_fail_all "portholed did not start with the serve line"
		return 1
	fi
	say "portholed restarted with: $(grep '^serve' "$SRV_CONF")"

	# ---- 10: no token, no window; a token opens one naming the unit's cgroup
	ok=1
	out=$(srv_challenge "$NS_INET" "$HOST_V4")
	say "no token: blocked country's challenge request: $out"
	[ "$out" = connect-timeout ] || ok=0
	n0=$(audit_lines)
	srv_token_put
	if id1=$(srv_wait_open_after "$n0" 50); then
		rec=$(audit_q "$A" window-open window="$id1" kind=server server.type=unit server.value="$SRV_UNIT" \
			server.cgroup="/system.slice/$SRV_UNIT" server.webroot="$SRV_WWW" why=tokens | tail -n1)
		say "audit: $(cut -c1-400 <<<"${rec:-$(audit_q "$A" window-open window="$id1")}")"
		[ -n "$rec" ] || { say "the window-open record does not name unit $SRV_UNIT, cgroup /system.slice/$SRV_UNIT"; ok=0; }
		srv_tokens_are "$rec" || { say "the record's tokens are not [$SRV_TOK]"; ok=0; }
		say "porthole status: $(porthole status 2>&1 | grep -i server | head -n2 | tr '\n' ';')"
	else
		say "no window-open record after the token file appeared"
		ok=0
	fi
	verdict $ok \
		"10 serve = unit $SRV_UNIT webroot=...: a token file opens guarded window $id1, its record names cgroup /system.slice/$SRV_UNIT" \
		"10 serve = unit $SRV_UNIT: a token opens a window naming its cgroup" 20

	# ---- 11: what passes
	ok=1
	if [ -n "${id1:-}" ]; then
		local c4 c6 root allow
		c4=$(srv_challenge "$NS_INET" "$HOST_V4")
		c6=$(srv_challenge "$NS_INET" "$HOST_V6")
		root=$(srv_http "$NS_INET" "$HOST_V4" /)
		allow=$(srv_http "$NS_ALLOW" "$HOST_V4" /)
		say "blocked country: challenge over IPv4: $c4; over IPv6: $c6; GET /: $root"
		say "allowed country: GET /: $allow"
		[ "$c4" = "status 200 $SRV_TOK.keyauth" ] || ok=0
		[ "$c6" = "status 200 $SRV_TOK.keyauth" ] || ok=0
		[ "$root" = noanswer ] || ok=0
		[ "$allow" = "status 200 site index" ] || ok=0
		grep -q "GET /.well-known/acme-challenge/$SRV_TOK " "$SRV_DIR/access.log" 2>/dev/null \
			|| { say "nginx's access log has no challenge request"; ok=0; }
		say "nginx access log: $(grep -c . "$SRV_DIR/access.log" 2>/dev/null) line(s), from the blocked country: $(grep -c "^$INET_V4 " "$SRV_DIR/access.log" 2>/dev/null)"
		grep -q "^$INET_V4 .*\"GET / " "$SRV_DIR/access.log" 2>/dev/null && { say "the blocked country's GET / reached nginx"; ok=0; }
		wait_audit 20 "$A" guard window="$id1" peer="$INET_V4" verdict=admitted token="$SRV_TOK" \
			|| { say "no guard record: admitted, token $SRV_TOK"; ok=0; }
		wait_audit 20 "$A" guard window="$id1" peer="$INET_V4" verdict=dropped why=not-a-challenge \
			|| { say "no guard record: dropped, not-a-challenge"; ok=0; }
		audit_q "$A" guard peer="$ALLOW_V4" >/dev/null && { say "a guard record for the allowed country"; ok=0; }
		say "guard records: $(audit_q "$A" guard window="$id1" | "$PY" -c 'import json,sys; print("; ".join("%s %s %s" % (r["peer"], r["verdict"], r["why"]) for r in map(json.loads, sys.stdin)))')"
	else
		ok=0
	fi
	verdict $ok \
		"11 guarded window to $SRV_UNIT: from the blocked country the live token's challenge reaches nginx (the file back, IPv4 and IPv6), GET / is dropped; the allowed country is served" \
		"11 guarded window to $SRV_UNIT: the challenge reaches nginx, GET / does not" -

	# ---- 12: the token goes, the window closes
	ok=1
	if [ -n "${id1:-}" ]; then
		srv_token_rm
		if wait_audit 50 "$A" window-close window="$id1" kind=server reason=tokens-gone; then
			say "audit: $(audit_q "$A" window-close window="$id1" | cut -c1-300)"
		else
			say "no window-close reason=tokens-gone for window $id1: $(audit_q "$A" window-close window="$id1" | cut -c1-200)"
			ok=0
		fi
		out=$(srv_challenge "$NS_INET" "$HOST_V4")
		say "after: blocked country's challenge request: $out; open windows: $(window_ids | wc -l)"
		[ "$out" = connect-timeout ] || ok=0
		[ -z "$(window_ids)" ] || ok=0
	else
		ok=0
	fi
	verdict $ok \
		"12 removing the token closes window $id1 (tokens-gone); the blocked country gets no connection again" \
		"12 guarded window to $SRV_UNIT: removing the token closes it (tokens-gone)" 15

	# ---- 13: the served unit restarts during a window
	ok=1
	n0=$(audit_lines)
	srv_token_put
	if ! id2=$(srv_wait_open_after "$n0" 50); then
		say "the token file put back opened no window"
		fail "13 systemctl restart $SRV_UNIT during a window (no window opened)"
		journal_tail portholed.service 15
		return 1
	fi
	local cg1 cg2
	pid1=$(show $SRV_UNIT MainPID) cg1=$(stat -c %i "$(srv_cg)")
	say "window $id2 open (nginx MainPID $pid1, cgroup inode $cg1); systemctl restart $SRV_UNIT"
	n0=$(audit_lines)
	t0=$(now)
	systemctl restart "$SRV_UNIT"; rc=$?
	srv_wait_listen
	pid2=$(show $SRV_UNIT MainPID) cg2=$(stat -c %i "$(srv_cg)" 2>/dev/null)
	say "restart: exit $rc after $(secs "$t0" "$(now)")s; nginx MainPID now $pid2, cgroup inode ${cg2:-none}"
	# until the daemon sees the new cgroup, window $id2 names the old one: the
	# new nginx is not reachable (fail closed)
	if ! audit_q "$A" window-close window="$id2" >/dev/null; then
		say "before the daemon noticed: blocked country's challenge request to the new nginx: $(srv_challenge "$NS_INET" "$HOST_V4")"
	fi
	if wait_audit 80 "$A" window-close window="$id2" kind=server reason=server-gone; then
		t1=$(now)
		gone_s=$(secs "$t0" "$t1")
		say "audit: $(audit_q "$A" window-close window="$id2" | cut -c1-300)"
		say "window $id2 closed server-gone ~${gone_s}s after the restart began (seen by polling the audit log)"
		figure serve_restart_gone_s "$gone_s"
		awk -v s="$gone_s" 'BEGIN { exit !(s <= 6.5) }' || { say "server-gone later than ~5 s"; ok=0; }
	else
		say "no window-close reason=server-gone for window $id2: $(audit_q "$A" window-close window="$id2" | cut -c1-200)"
		ok=0
	fi
	if id3=$(srv_wait_open_after "$n0" 30) && [ "$id3" != "$id2" ]; then
		rec=$(audit_q "$A" window-open window="$id3" kind=server server.cgroup="/system.slice/$SRV_UNIT" why=tokens | tail -n1)
		say "audit: $(cut -c1-300 <<<"${rec:-$(audit_q "$A" window-open window="$id3")}")"
		if [ -z "$rec" ] || ! srv_tokens_are "$rec"; then
			say "the reopened window's record: not for the token / cgroup"; ok=0
		fi
		out=$(srv_challenge "$NS_INET" "$HOST_V4")
		say "reopened window $id3: blocked country's challenge request: $out"
		[ "$out" = "status 200 $SRV_TOK.keyauth" ] || ok=0
		out=$(srv_http "$NS_INET" "$HOST_V4" /)
		say "reopened window $id3: blocked country's GET /: $out"
		[ "$out" = noanswer ] || ok=0
	else
		say "no new window-open record after the restart (got '${id3:-}')"
		ok=0
	fi
	say "portholed's journal: $(journalctl -u portholed.service -o cat --no-pager | grep -E "server $SRV_UNIT|window ($id2|${id3:-x}) " | tail -n 6 | tr '\n' ';' | cut -c1-700)"
	[ "$rc" = 0 ] && [ "$pid2" != "$pid1" ] && [ -n "$cg2" ] || ok=0
	srv_token_rm
	if [ -n "${id3:-}" ] && [ "$id3" != "$id2" ]; then
		wait_audit 50 "$A" window-close window="$id3" reason=tokens-gone || { say "reopened window $id3 not closed tokens-gone"; ok=0; }
	fi
	verdict $ok \
		"13 systemctl restart $SRV_UNIT during window $id2: closed server-gone after ${gone_s}s, window $id3 reopened for the token still there, the new nginx (pid $pid2) serves it" \
		"13 systemctl restart $SRV_UNIT during a window: server-gone, reopened for the token still there" 20
	serve_cleanup
	figure serve_checks_s "$(secs "$SRV_T0" "$(now)")"
}
