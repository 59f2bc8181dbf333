#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/test_server_e2e.sh — guarded server windows end to end: a real web server
# holds port 80 on the geo-blocked lab host (tests/lab/lab.sh), in a cgroup of its
# own (what its unit gives it), and a real ACME client gets a certificate from pebble
# WITHOUT any wrapper: portholed sees the token file appear in the webroot (or, for
# Caddy, which keeps its tokens in memory, keeps the window open while Caddy runs)
# and opens a guarded window; pebble validates from the lab's "internet", so its
# request crosses the kernel guard.
#
#   nginx_certbot_webroot     nginx + certbot certonly --webroot (IPv4-only name)
#   nginx_lego_webroot        nginx + lego --http --http.webroot (IPv6-only name)
#   nginx_dehydrated          nginx + dehydrated (WELLKNOWN in the webroot, IPv4)
#   apache_certbot_webroot    apache2 (private config) + certbot --webroot, an
#                             IPv4-only and an IPv6-only name in one certificate
#   caddy_always              Caddy 2.6's own ACME (HTTP-01 only), serve = ... always
#                             (Caddy started, then portholed); during the window a
#                             challenge-shaped request from the internet reaches
#                             Caddy, a GET / gets nothing back
#   apache_default_acceptfilter_certbot   Apache with its default "AcceptFilter http
#                             data" (TCP_DEFER_ACCEPT): the request that completes the
#                             handshake is judged on the listener, its verdict kept
#   caddy_storage_tokens      Caddy with serve = ... caddy=DIR: its pending challenges are the tokens
#   caddy_always_started_after_daemon     portholed first, then Caddy (boot order):
#                             the always window opens when Caddy runs
# Each case: its own web server (cgroup /$LAB_PREFIX-<case>), its own portholed. Checks:
# before the run the server's port 80 is dropped from the internet and open from the
# allowed country; the certificate chains to pebble's root; the audit log has a
# window-open of kind "server", a guard record "admitted" for each name whose peer is
# pebble's address, no guard drop, and (webroot) a window-close "tokens-gone"
# (Caddy: "shutdown" when the daemon stops); afterwards port 80 is dropped from the
# internet again, no server element is left in porthole's set, the host's ruleset is
# byte-identical to the baseline, portholed exits 0 on SIGTERM with no warning and no
# sanitizer report.
#
# Output: "PASS name (T s)" / "FAIL name (T s)" / "SKIP name: reason" lines, details
# indented, last line "server-e2e: N passed, N failed, N skipped". Exit 0 / 1, or 77
# when nothing could run. Env: PORTHOLE_BIN, E2E_LAB_PREFIX (default phls$$),
# E2E_VERBOSE=1 (client output), E2E_KEEP=DIR (keep clients', servers' and daemons' files),
# E2E_APACHE_ACCEPTFILTER=none|data (the AcceptFilter of apache_certbot_webroot,
# default none).
set -u
# shellcheck source=start.sh
. "$(dirname "${BASH_SOURCE[0]}")/start.sh" server-e2e phls

# shellcheck disable=SC2034  # set by e2e_lab_up, read by e2e_ruleset_unchanged (lib.sh)
BASE_RULESET=
TOP=          # our temp dir; each case gets TOP/<case> as T (daemon) and its files
T=
SRV_PID=      # the web server of the running case (its lab PID)
SRV_CG=       # its cgroup
SRV_CGS=()    # every server cgroup made (cleanup)
WWW=

keep_logs() {
	[ -n "${E2E_KEEP:-}" ] || return 0
	mkdir -p "$E2E_KEEP" || return 0
	[ -n "${E2E_WORK:-}" ] && [ -d "$E2E_WORK" ] && cp -a "$E2E_WORK" "$E2E_KEEP/clients" 2>/dev/null
	[ -n "$TOP" ] && [ -d "$TOP" ] && cp -a "$TOP" "$E2E_KEEP/cases" 2>/dev/null
	[ -d "$LAB_STATE/logs" ] && cp -a "$LAB_STATE/logs" "$E2E_KEEP/lab-logs" 2>/dev/null
	return 0
}

# cg_empty CG — kill what is left in a cgroup of ours (by PID: only our servers'
# processes are there), wait until it is empty, remove it.
cg_empty() {
	local cg=$1 p
	[ -d "$cg" ] || return 0
	for _ in $(seq 50); do
		[ -s "$cg/cgroup.procs" ] || break
		sleep 0.1
	done
	if [ -s "$cg/cgroup.procs" ]; then
		say "processes left in $cg: $(tr '\n' ' ' <"$cg/cgroup.procs"); killing them"
		for p in $(cat "$cg/cgroup.procs"); do kill -KILL "$p" 2>/dev/null; done
		for _ in $(seq 30); do [ -s "$cg/cgroup.procs" ] || break; sleep 0.1; done
	fi
	rmdir "$cg" 2>/dev/null
}

cleanup() {
	trap - EXIT INT TERM HUP
	keep_logs
	[ -n "$SRV_PID" ] && lab_kill "$SRV_PID" 2>/dev/null
	SRV_PID=
	local cg
	for cg in "${SRV_CGS[@]}"; do cg_empty "$cg"; done
	e2e_teardown
	case $TOP in /tmp/phl*-server.*) rm -rf -- "$TOP" ;; esac
}
e2e_harness server-e2e cleanup

case_skip() { # NAME REASON
	echo "SKIP $1: $2"
	SKIPPED=$((SKIPPED + 1))
}

# ---------------------------------------------------------------- web servers
# case_dir NAME — a fresh T (daemon files), a fresh webroot WWW (readable by the
# servers' workers: Apache's run as www-data).
case_dir() {
	T=$TOP/$1
	mkdir -p "$T" || return 1
	chmod 755 "$T"
	WWW=$T/www
	mkdir -p "$WWW" && chmod 755 "$WWW" || return 1
	echo "index of $1" >"$WWW/index.html"
	export ASAN_OPTIONS="log_path=$T/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$T/ubsan:print_stacktrace=1"
}

# srv_start NAME CMD... — start CMD in the lab host's netns, in a new cgroup
# /$LAB_PREFIX-NAME (SRV_CG), as a lab process (SRV_PID); wait until port 80 of the
# host's primary addresses answers the allowed country.
srv_start() {
	local name=$1; shift
	SRV_CG=$CG2/$LAB_PREFIX-$name
	if [ ! -d "$SRV_CG" ]; then
		mkdir "$SRV_CG" || { say "cannot make cgroup $SRV_CG"; return 1; }
		SRV_CGS+=("$SRV_CG")
	fi
	lab_spawn host "$name" "$ROOT/tests/tools/in_cgroup.sh" "$SRV_CG" "$@"
	SRV_PID=$LAB_LAST_PID
	SRV_LOG=$LAB_STATE/logs/$name.log
	for _ in $(seq 100); do
		[ "$(lab_probe "$LAB_HOST_V4" 80 allow)" = open ] && [ "$(lab_probe "$LAB_HOST_V6" 80 allow)" = open ] && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$SRV_PID" 2>/dev/null || [ "$(lab_probe "$LAB_HOST_V4" 80 allow)" != open ]; then
		say "$name did not start; its log ($SRV_LOG):"; tail -n 15 "$SRV_LOG" | sed 's/^/    | /'
		return 1
	fi
	say "$name (pid $SRV_PID, $(wc -l <"$SRV_CG/cgroup.procs") process(es) in cgroup /$LAB_PREFIX-$name) on $LAB_HOST_V4:80 and [$LAB_HOST_V6]:80"
}

srv_stop() {
	[ -n "$SRV_PID" ] && lab_kill "$SRV_PID"
	SRV_PID=
	[ -n "$SRV_CG" ] && cg_empty "$SRV_CG"
	if [ -n "$SRV_CG" ] && [ -d "$SRV_CG" ]; then say "cgroup $SRV_CG could not be removed"; return 1; fi
	SRV_CG=
}

nginx_start() { # nginx as test_server.sh runs it: master + one worker, as root
	local d=$T/nginx
	mkdir -p "$d"
	{ printf '%s\n' "daemon off;" "master_process on;"; "$ROOT/tests/tools/nginx_conf.sh" "$d" "$d" "$WWW" "$LAB_HOST_V4" "$LAB_HOST_V6"; } >"$d/nginx.conf"
	srv_start "${1:-nginx}" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log"
}

# Apache's own default on Linux is "AcceptFilter http data": TCP_DEFER_ACCEPT (30 s),
# so the first data segment completes the handshake and the guard sees it with the
# LISTEN socket ("handshake-data") and drops it, every retransmission too, until
# pebble gives up (a daemon bug, reported). Until the guard handles deferred accept,
# the case runs with "AcceptFilter http none"; E2E_APACHE_ACCEPTFILTER=data shows it.
APACHE_ACCEPTFILTER=${E2E_APACHE_ACCEPTFILTER:-none}
apache_start() { # apache2 with a private config: nothing of /etc/apache2 is read
	local d=$T/apache m=/usr/lib/apache2/modules
	mkdir -p "$d/run"
	cat >"$d/apache2.conf" <<EOF
ServerRoot "$d"
ServerName localhost
PidFile "$d/apache2.pid"
DefaultRuntimeDir "$d/run"
Mutex file:$d default
ErrorLog "$d/error.log"
LogLevel warn
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule mime_module $m/mod_mime.so
LoadModule dir_module $m/mod_dir.so
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
Listen $LAB_HOST_V4:80
Listen [$LAB_HOST_V6]:80
AcceptFilter http $APACHE_ACCEPTFILTER
TypesConfig /etc/mime.types
DocumentRoot "$WWW"
DirectoryIndex index.html
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "$d/access.log" common
<Directory />
	Require all denied
	AllowOverride None
</Directory>
<Directory "$WWW">
	Require all granted
</Directory>
EOF
	srv_start "apache-$APACHE_ACCEPTFILTER" "$(command -v apache2)" -f "$d/apache2.conf" -DFOREGROUND
}

# ---------------------------------------------------------------- checks
daemon_log_tail() { say "portholed log ($T/portholed.log), last lines:"; tail -n 15 "$T/portholed.log" | sed 's/^/    | /'; }

daemon_up() { # CONFIG-LINE...
	local rc
	e2e_daemon_start "$@"; rc=$?
	if [ $rc != 0 ]; then
		say "portholed did not become ready (rc $rc)"; daemon_log_tail
		return 1
	fi
	say "portholed (pid $DPID) ready: $*"
}

# probes_closed_to_inet — port 80 of the served addresses: dropped from the
# internet, open (the server answers) from the allowed country
probes_closed_to_inet() {
	printf '%s\n' "dropped $LAB_HOST_V4 80 inet" "dropped $LAB_HOST_V6 80 inet" \
		"open $LAB_HOST_V4 80 allow" "open $LAB_HOST_V6 80 allow" | e2e_expect_probes
}

no_server_element() {
	local els
	els=$(lab_in_host nft list set inet porthole servers 2>&1 | grep -A3 'elements')
	if [ -n "$els" ]; then say "porthole's servers set still has elements: $els"; return 1; fi
	say "no element left in porthole's servers set"
}

# wait_close REASON — the daemon logs the server window's close
wait_close() {
	for _ in $(seq 100); do
		grep -q "closed ($1)" "$T/portholed.log" && return 0
		sleep 0.1
	done
	say "no 'closed ($1)' in the daemon's log after 10 s"; daemon_log_tail
	return 1
}

# audit_server WHY CLOSE NAMES — the audit log: exactly one window-open of kind
# server for the served cgroup (why WHY), a guard record "admitted" for each of the
# NAMES (count) from pebble's addresses, none dropped, and (CLOSE not empty) one
# window-close of kind server with reason CLOSE that counts them.
audit_server() {
	local why=$1 close=$2 nnames=$3 json=$T/audit.json
	ph log --json --file "$T/audit.jsonl" >"$json" 2>"$json.err" || {
		say "porthole log --json failed: $(cat "$json.err")"; return 1; }
	PYTHONPATH=$E2E_ROOT/tests/tools "$PY" - "$json" "/${SRV_CG##*/}" "$why" "$close" "$nnames" "$LAB_INET_V4 $LAB_INET_V6" <<'PY'
import json, sys
from auditcheck import Audit
path, cg, why, close, nnames, pebble = sys.argv[1:]
nnames, pebble = int(nnames), set(pebble.split())
audit = Audit(path)
bad = audit.bad
opens, closes, guards = audit.events("window-open"), audit.events("window-close"), audit.events("guard")
if len(opens) != 1:
    bad(f"{len(opens)} window-open records, want 1")
for o in opens:
    srv = o.get("server") or {}
    print(f"  audit: window {o.get('window')} open: kind {o.get('kind')}, why {o.get('why')}, ports {o.get('ports')}, "
          f"server {json.dumps(srv, separators=(',', ':'))}, tokens {o.get('tokens')}, guard_rules {o.get('guard_rules')}")
    if o.get("kind") != "server":
        bad(f"window {o.get('window')}: kind {o.get('kind')!r}, want 'server'")
    if o.get("why") != why:
        bad(f"window {o.get('window')}: why {o.get('why')!r}, want {why!r}")
    if o.get("ports") != [80]:
        bad(f"window {o.get('window')}: ports {o.get('ports')}, want [80]")
    if cg not in json.dumps(srv):
        bad(f"window {o.get('window')}: server {srv} does not name cgroup {cg}")
adm = [g for g in guards if g.get("verdict") == "admitted"]
drop = [g for g in guards if g.get("verdict") != "admitted"]
groups = {}
for g in guards:
    k = (g.get("verdict"), g.get("why"), g.get("peer"), g.get("port"), g.get("window"), g.get("token"))
    groups.setdefault(k, set()).add(g.get("peer_port"))
for (verdict, gwhy, peer, port, win, tok), ports in groups.items():
    n = sum(1 for g in guards if (g.get("verdict"), g.get("why"), g.get("peer"), g.get("port"), g.get("window"), g.get("token")) == (verdict, gwhy, peer, port, win, tok))
    print(f"  audit: guard {verdict} ({gwhy}) x{n} from {peer} ({len(ports)} connection(s)) to tcp/{port}, "
          f"window {win}, token {tok}")
if len(adm) < nnames:
    bad(f"{len(adm)} admitted guard record(s), want at least {nnames} (one per name)")
# pebble may validate a name the moment the client says it is ready, before
# the daemon has seen that token's file (inotify, then the kernel's map):
# the guard then drops it (token-not-live) and pebble's retry is admitted.
# That drop is right; any other is not.
live = {a.get("token") for a in adm}
race = [g for g in drop if g.get("why") == "token-not-live" and g.get("peer") in pebble and g.get("token") in live]
if race:
    print(f"  audit: {len(race)} validation(s) came before their token was seen (token-not-live), admitted on pebble's retry")
if len(drop) > len(race):
    bad(f"{len(drop) - len(race)} dropped guard record(s): the only internet peer is pebble validating")
for g in adm:
    if g.get("peer") not in pebble:
        bad(f"admitted request from {g.get('peer')}, not from pebble ({sorted(pebble)})")
    if opens and g.get("window") != opens[0].get("window"):
        bad(f"admitted request in window {g.get('window')}, not {opens[0].get('window')}")
    if g.get("port") != 80 or not g.get("token"):
        bad(f"admitted record without port 80 or token: {g}")
if close:
    if len(closes) != 1:
        bad(f"{len(closes)} window-close records, want 1")
    for c in closes:
        print(f"  audit: window {c.get('window')} closed: kind {c.get('kind')}, reason {c.get('reason')} after "
              f"{c.get('duration_ms')} ms, {c.get('requests_admitted')} request(s) admitted, {c.get('requests_dropped')} dropped")
        if c.get("kind") != "server" or c.get("reason") != close:
            bad(f"window {c.get('window')}: kind {c.get('kind')!r} reason {c.get('reason')!r}, want 'server' {close!r}")
        if (c.get("requests_admitted") or 0) != len(adm) or (c.get("requests_dropped") or 0) != len(race):
            bad(f"window {c.get('window')}: counts {c.get('requests_admitted')}/{c.get('requests_dropped')} "
                f"!= guard records {len(adm)}/{len(race)}")
        if opens and c.get("window") != opens[0].get("window"):
            bad(f"closed window {c.get('window')} is not the opened {opens[0].get('window')}")
elif closes:
    bad(f"window-close record(s) while the window should be open: {closes}")
sys.exit(0 if audit.ok else 1)
PY
}

# daemon_down [CLOSE-REASON [KNOWN-WARNINGS-ERE]] — SIGTERM: exit 0, the log ends with
# daemon-stop (and, if given, the server window closed with CLOSE-REASON), no error or
# warning (but those matching KNOWN-WARNINGS-ERE, shown), no sanitizer report; the
# daemon's cgroup removed (the next case makes it again).
daemon_down() {
	local ok=0 rc san
	e2e_daemon_stop; rc=$?
	if [ "$rc" = 0 ]; then say "portholed exited 0 on SIGTERM"
	else say "portholed exited $rc on SIGTERM"; daemon_log_tail; ok=1; fi
	if ! ph log --file "$T/audit.jsonl" 2>&1 | tail -n1 | grep -q 'daemon-stop'; then
		say "the audit log does not end with daemon-stop"; ok=1
	fi
	if [ -n "${1:-}" ] && ! grep -q '"event":"window-close".*"kind":"server","reason":"'"$1"'"' "$T/audit.jsonl"; then
		say "no window-close of kind server with reason $1 in the audit log"; ok=1
	elif [ -n "${1:-}" ]; then
		say "audit: $(grep '"event":"window-close"' "$T/audit.jsonl" | tail -n1 | cut -c1-220)"
	fi
	san=$(ls "$T"/asan* "$T"/ubsan* 2>/dev/null)
	if [ -n "$san" ]; then say "sanitizer reports:"; cat $san | head -n 60 | sed 's/^/    | /'; ok=1; fi
	local warn
	warn=$(grep -E '^<[0-4]>' "$T/portholed.log")
	if [ -n "${2:-}" ] && [ -n "$warn" ]; then
		grep -E -- "$2" <<<"$warn" | sed 's/^/    | (known) /'
		warn=$(grep -vE -- "$2" <<<"$warn")
	fi
	if [ -n "$warn" ]; then
		say "portholed logged errors/warnings:"; head -n 10 <<<"$warn" | sed 's/^/    | /'; ok=1
	fi
	e2e_daemon_cgroup_remove
	if [ -n "$DCG" ] && [ -d "$DCG" ]; then say "cgroup $DCG could not be removed"; ok=1; fi
	return $ok
}

# after_window — what must hold once the window has closed, daemon still running
after_window() {
	local ok=0
	probes_closed_to_inet || ok=1
	no_server_element || ok=1
	e2e_ruleset_unchanged || ok=1
	return $ok
}

# ---------------------------------------------------------------- clients
certbot_webroot() { # NAME... — certbot certonly --webroot -w WWW
	local first=$1 d n
	local -a args
	d=$E2E_WORK/certbot/config/live/$first
	read -r -a args <<<"$(_e2e_certbot_dirs)"
	for n in "$@"; do args+=(-d "$n"); done
	_e2e_exec certbot-webroot "" "$(command -v certbot)" certonly --webroot -w "$WWW" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--cert-name "$first" "${args[@]}"
	if [ "$E2E_LAST_RESULT" != ok ]; then
		say "certbot --webroot for $*: $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"; _e2e_show_failure
		return 1
	fi
	say "certbot certonly --webroot -w $WWW for $*: exit 0 (${E2E_LAST_SECS}s)"
	e2e_check_cert "$d/cert.pem" "$d/chain.pem" "$@"
}

certbot_webroot_wrapped() { # NAME — certbot --webroot through $SERVE_WRAP
	local d=$E2E_WORK/certbot/config/live/$1
	local -a args
	read -r -a args <<<"$(_e2e_certbot_dirs)"
	_e2e_exec certbot-run-serve "$SERVE_WRAP" "$(command -v certbot)" certonly --webroot -w "$WWW" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--cert-name "$1" "${args[@]}" -d "$1"
	if [ "$E2E_LAST_RESULT" != ok ]; then
		say "porthole run --serve -- certbot --webroot for $1: $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"; _e2e_show_failure
		return 1
	fi
	say "porthole run --serve ... -- certbot certonly --webroot for $1: exit 0 (${E2E_LAST_SECS}s)"
	e2e_check_cert "$d/cert.pem" "$d/chain.pem" "$1"
}

dehydrated_run() { # NAME — dehydrated --register --accept-terms, then --cron -d NAME
	local n=$1 d=$E2E_WORK/dehydrated
	mkdir -p "$d" "$WWW/.well-known/acme-challenge" || return 1
	chmod 755 "$WWW/.well-known" "$WWW/.well-known/acme-challenge"
	cat >"$d/config" <<EOF
CA="$LAB_ACME_DIR"
CHALLENGETYPE="http-01"
BASEDIR="$d"
WELLKNOWN="$WWW/.well-known/acme-challenge"
CURL_OPTS="--cacert $LAB_CA_PEM"
CONTACT_EMAIL="$E2E_EMAIL"
EOF
	_e2e_exec dehydrated-register "" "$(command -v dehydrated)" --config "$d/config" --register --accept-terms
	if [ "$E2E_LAST_RESULT" != ok ]; then
		say "dehydrated --register --accept-terms: $E2E_LAST_RESULT"; _e2e_show_failure
		return 1
	fi
	say "dehydrated --register --accept-terms: exit 0 (${E2E_LAST_SECS}s)"
	_e2e_exec dehydrated "" "$(command -v dehydrated)" --config "$d/config" --cron --domain "$n"
	if [ "$E2E_LAST_RESULT" != ok ]; then
		say "dehydrated --cron --domain $n: $E2E_LAST_RESULT"; _e2e_show_failure
		return 1
	fi
	say "dehydrated --cron --domain $n: exit 0 (${E2E_LAST_SECS}s)"
	e2e_check_cert "$d/certs/$n/cert.pem" "$d/certs/$n/chain.pem" "$n"
}

# ---------------------------------------------------------------- cases
case_lab_up() {
	[ -n "$CG2" ] && [ -d "$CG2" ] || { say "no cgroup2 mount in /proc/self/mountinfo"; return 1; }
	TOP=$(mktemp -d "/tmp/$LAB_PREFIX-server.XXXXXX") || return 1
	chmod 755 "$TOP"
	e2e_lab_up
}

# webroot_case_up CASE SERVER-START-FUNC: the case's directory, its server, and the
# daemon with `serve = cgroup /<server's cgroup> webroot=WWW`; what started is
# stopped when a step fails
webroot_case_up() {
	case_dir "$1" || return 1
	"$2" || { srv_stop; return 1; }
	if ! daemon_up "serve = cgroup /${SRV_CG##*/} webroot=$WWW"; then
		e2e_daemon_stop >/dev/null; e2e_daemon_cgroup_remove; srv_stop; return 1
	fi
}

# webroot_case_down OK: the checks after the window, the daemon and the server
# stopped, the ruleset as before; returns OK, or 1 when any of these failed
webroot_case_down() {
	local ok=$1
	after_window || ok=1
	daemon_down || ok=1
	srv_stop || ok=1
	e2e_ruleset_unchanged >/dev/null || ok=1
	return $ok
}

# webroot_case CASE SERVER-START-FUNC NNAMES CLIENT-FUNC ARGS... — the daemon with
# `serve = cgroup /<server's cgroup> webroot=WWW`, the server, the client (no wrapper),
# then every check; the daemon and the server stopped whatever failed.
webroot_case() {
	local cname=$1 start=$2 nnames=$3 ok=0; shift 3
	webroot_case_up "$cname" "$start" || return 1
	probes_closed_to_inet || ok=1
	if "$@"; then
		wait_close tokens-gone || ok=1
	else
		ok=1
	fi
	say "daemon: $(grep -E 'window [0-9]+ (open|closed)' "$T/portholed.log" | sed 's/^<[0-9]>//' | tr '\n' ';' | cut -c1-400)"
	audit_server tokens tokens-gone "$nnames" || ok=1
	webroot_case_down $ok
}

# porthole run --serve: the window lasts the command's lifetime (its record says
# why: session), opened before certbot writes a token; closes when it exits
case_nginx_run_serve() {
	local n ok=0 cname=nginx-run-serve
	n=$(e2e_new_name ngrs v4) || return 1
	webroot_case_up "$cname" nginx_start || return 1
	probes_closed_to_inet || ok=1
	SERVE_WRAP="env PORTHOLE_SOCKET=$T/porthole.sock $BIN/porthole run --serve cgroup:/${SRV_CG##*/} --webroot $WWW --"
	if certbot_webroot_wrapped "$n"; then
		wait_close exited || ok=1
	else
		ok=1
	fi
	audit_server session exited 1 || ok=1
	webroot_case_down $ok
}

case_nginx_certbot() {
	local n
	n=$(e2e_new_name ngcb v4) || return 1
	webroot_case nginx-certbot nginx_start 1 certbot_webroot "$n"
}

case_nginx_lego() {
	local n
	n=$(e2e_new_name nglego v6) || return 1
	webroot_case nginx-lego nginx_start 1 lego_webroot "$n"
}
lego_webroot() { _e2e_lego lego-webroot "" --http --http.webroot "$WWW" -- "$@"; }

case_nginx_dehydrated() {
	local n
	n=$(e2e_new_name ngdh v4) || return 1
	webroot_case nginx-dehydrated nginx_start 1 dehydrated_run "$n"
}

case_apache_certbot() {
	local a b
	a=$(e2e_new_name ap4 v4) && b=$(e2e_new_name ap6 v6) || return 1
	webroot_case "apache-certbot-$APACHE_ACCEPTFILTER" apache_start 2 certbot_webroot "$a" "$b"
}

# Caddy: its own ACME client against pebble (HTTP-01 only), tokens in memory, so
# `serve = cgroup ... always`. caddy_case ORDER:
#   caddy-first   Caddy runs, then portholed starts (its always window opens at
#                 start); Caddy's first validation may come before that: its SYN is
#                 dropped and TCP's retransmission (1 s later) gets through.
#   daemon-first  boot order: portholed runs, then Caddy starts in the (empty) cgroup.
#                 KNOWN DAEMON BUG: servers_start() never arms the server timer when
#                 the always server is not running, so the promised retry ("retried
#                 when its cgroup appears") never comes and the window never opens.
#   storage       portholed first with `serve = ... caddy=DIR` (Caddy's storage): the
#                 window opens when Caddy writes its pending challenge there and
#                 closes when it removes it; only that token is admitted.
caddy_case() {
	local order=$1 ok=0 n d crt known='' tag=caddy serve why=always close=''
	[ "$order" = daemon-first ] && tag='caddy-late'
	[ "$order" = storage ] && tag='caddy-st'
	n=$(e2e_new_name "$tag" v4) || return 1
	case_dir "$tag" || return 1
	d=$T/caddy
	mkdir -p "$d/home" "$d/data" "$d/config"
	cat >"$d/Caddyfile" <<EOF
{
	admin off
	email $E2E_EMAIL
	storage file_system $d/data
	ocsp_stapling off
}
$n {
	bind $LAB_HOST_V4 [$LAB_HOST_V6]
	tls {
		issuer acme {
			dir $LAB_ACME_DIR
			trusted_roots $LAB_CA_PEM
			disable_tlsalpn_challenge
		}
	}
	respond "caddy here"
}
# Caddy 2.6.2's automatic HTTP->HTTPS redirect server listens on the LAST bound
# address only ([v6]:80 here; an IPv4 validation finds nothing): say it explicitly.
# Caddy answers HTTP-01 challenges on every server of the HTTP port.
http://$n {
	bind $LAB_HOST_V4 [$LAB_HOST_V6]
	redir https://{host}{uri}
}
EOF
	if ! caddy adapt --config "$d/Caddyfile" --adapter caddyfile >"$d/caddy.json" 2>"$d/adapt.err"; then
		say "caddy adapt failed:"; sed 's/^/    | /' "$d/adapt.err"; return 1
	fi
	SRV_CG=$CG2/$LAB_PREFIX-$tag
	mkdir "$SRV_CG" || return 1
	SRV_CGS+=("$SRV_CG")
	local -a caddy=(env HOME="$d/home" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config"
		"$(command -v caddy)" run --config "$d/Caddyfile" --adapter caddyfile)
	local t0 topen='' tcert got
	serve="serve = cgroup /${SRV_CG##*/} always"
	if [ "$order" = storage ]; then
		serve="serve = cgroup /${SRV_CG##*/} caddy=$d/data" why=tokens close=tokens-gone
	fi
	# Caddy makes its storage 0700 (an ACL's mask would be empty): the daemon
	# reads it with CAP_DAC_READ_SEARCH, the drop-in README gives for Caddy
	local E2E_EXTRA_CAPS=
	[ "$order" = storage ] && E2E_EXTRA_CAPS=+dac_read_search
	if [ "$order" != caddy-first ]; then
		if ! daemon_up "$serve"; then
			e2e_daemon_stop >/dev/null; e2e_daemon_cgroup_remove; return 1
		fi
		# it says, at error level, that the server is not running yet
		[ "$order" = daemon-first ] && known='is not running: no window to it'
		srv_start "$tag" "${caddy[@]}" || ok=1
		t0=$(_e2e_now)
	else
		srv_start "$tag" "${caddy[@]}" || { srv_stop; return 1; }
		t0=$(_e2e_now)
		if ! daemon_up "$serve"; then
			e2e_daemon_stop >/dev/null; e2e_daemon_cgroup_remove; srv_stop; return 1
		fi
	fi
	if [ $ok = 0 ]; then
		for _ in $(seq 600); do
			[ -z "$topen" ] && grep -qE 'window [0-9]+ open: guarded' "$T/portholed.log" && topen=$(_e2e_secs "$t0" "$(_e2e_now)")
			grep -q 'certificate obtained successfully' "$SRV_LOG" && break
			grep -qE 'will retry|could not get certificate' "$SRV_LOG" && break
			sleep 0.1
		done
		tcert=$(_e2e_secs "$t0" "$(_e2e_now)")
		say "after Caddy was up: the window open after ${topen:-never}${topen:+ s}, Caddy done after $tcert s"
		if grep -q 'certificate obtained successfully' "$SRV_LOG"; then
			say "caddy: $(grep -m1 'certificate obtained successfully' "$SRV_LOG" | cut -c1-200)"
		else
			say "caddy did not log 'certificate obtained successfully'; its log:"
			grep -E '"level":"(error|warn)"|obtain|challenge' "$SRV_LOG" | tail -n 8 | cut -c1-300 | sed 's/^/    | /'
			ok=1
		fi
		crt=$(find "$d/data/certificates" -name "$n.crt" 2>/dev/null | head -n1)
		if [ -n "$crt" ]; then
			e2e_check_cert "$crt" "$crt" "$n" || ok=1
		else
			say "no $n.crt under $d/data/certificates"; ok=1
		fi
		# the allowed country gets the site over HTTPS with pebble's certificate
		got=$(lab_in_allow curl -sS --max-time 5 --cacert "$LAB_STATE/pebble-root.pem" \
			--resolve "$n:443:$LAB_HOST_V4" "https://$n/" 2>&1)
		if [ "$got" = "caddy here" ]; then say "allowed country: https://$n/ served with the new certificate"
		else say "allowed country: https://$n/: $got"; ok=1; fi
	fi
	say "daemon: $(grep -E 'window [0-9]+ (open|closed)|server .*(not|went)' "$T/portholed.log" | sed 's/^<[0-9]>//' | tr '\n' ';' | cut -c1-400)"
	if [ "$order" = storage ]; then
		# Caddy removes its challenge file when the validation is done
		for _ in $(seq 100); do grep -q 'closed (tokens-gone)' "$T/portholed.log" && break; sleep 0.1; done
		audit_server tokens tokens-gone 1 || ok=1
		# no window now: nothing from the internet reaches Caddy, challenge-shaped or not
		got=$(lab_in_inet "$PY" "$ROOT/tests/tools/httpraw.py" "$LAB_HOST_V4" 80 \
			"GET /.well-known/acme-challenge/Not_a_live_token HTTP/1.1\\r\\nHost: $n\\r\\n\\r\\n")
		if [ "$got" = connect-timeout ] || [ "$got" = noanswer ]; then
			say "internet, challenge-shaped request after the challenge: $got (no window)"
		else say "internet, challenge-shaped request after the challenge: $got, expected nothing"; ok=1; fi
		daemon_down tokens-gone "$known" || ok=1
		e2e_ruleset_unchanged || ok=1
		srv_stop || ok=1
		return $ok
	fi
	audit_server always "" 1 || ok=1
	# the always window, from the internet: a challenge-shaped request reaches
	# Caddy (no token list: any token), anything else gets nothing back
	got=$(lab_in_inet "$PY" "$ROOT/tests/tools/httpraw.py" "$LAB_HOST_V4" 80 \
		"GET /.well-known/acme-challenge/Not_a_live_token HTTP/1.1\\r\\nHost: $n\\r\\n\\r\\n")
	case $got in
	status*) say "internet, challenge-shaped request during the window: Caddy answers (${got:0:40})" ;;
	*) say "internet, challenge-shaped request during the window: $got, expected an answer"; ok=1 ;;
	esac
	got=$(lab_in_inet "$PY" "$ROOT/tests/tools/httpraw.py" "$LAB_HOST_V4" 80 "GET / HTTP/1.1\\r\\nHost: $n\\r\\n\\r\\n")
	if [ "$got" = noanswer ]; then say "internet, GET / during the window: no answer (the guard dropped it)"
	else say "internet, GET / during the window: $got, expected noanswer"; ok=1; fi
	sleep 0.3
	if grep -q '"event":"guard".*"verdict":"admitted","why":"admitted","token":"Not_a_live_token"' "$T/audit.jsonl" &&
		grep -q '"event":"guard".*"verdict":"dropped","why":"not-a-challenge"' "$T/audit.jsonl"; then
		say "audit: guard records for both (admitted Not_a_live_token, dropped not-a-challenge)"
	else
		say "audit: the guard records of those two requests are missing"; ok=1
	fi
	daemon_down shutdown "$known" || ok=1
	# the window closed with the daemon: Caddy still listens, the internet is dropped
	printf '%s\n' "dropped $LAB_HOST_V4 80 inet" "dropped $LAB_HOST_V6 80 inet" "dropped $LAB_HOST_V4 443 inet" \
		"open $LAB_HOST_V4 80 allow" "open $LAB_HOST_V4 443 allow" | e2e_expect_probes || ok=1
	e2e_ruleset_unchanged || ok=1
	srv_stop || ok=1
	return $ok
}
case_caddy() { caddy_case caddy-first; }
case_caddy_daemon_first() { caddy_case daemon-first; }
case_caddy_storage() { caddy_case storage; }

case_teardown() {
	local ok=0 cg
	keep_logs
	e2e_lab_down_check || ok=1
	for cg in "${SRV_CGS[@]}"; do
		[ -d "$cg" ] && { say "cgroup $cg still exists"; ok=1; }
	done
	[ -n "$DCG" ] && [ -d "$DCG" ] && { say "cgroup $DCG still exists"; ok=1; }
	[ -e "$LAB_STATE" ] && { say "$LAB_STATE still exists"; ok=1; }
	case $TOP in /tmp/phl*-server.*) rm -rf -- "$TOP" ;; esac
	[ $ok = 0 ] && say "namespaces, $E2E_LAB_NPROCS lab processes, server and daemon cgroups gone"
	return $ok
}

# run CASE FUNC BINARY... — the case, or SKIP when a binary is missing
run() {
	local name=$1 func=$2 b; shift 2
	for b in "$@"; do
		command -v "$b" >/dev/null 2>&1 || { case_skip "$name" "$b not installed"; return; }
	done
	e2e_run_case "$name" "$func"
}

# ---------------------------------------------------------------- run
e2e_run_case lab_up case_lab_up || e2e_finish
run nginx_certbot_webroot case_nginx_certbot nginx certbot
run nginx_run_serve_certbot case_nginx_run_serve nginx certbot
run nginx_lego_webroot case_nginx_lego nginx lego
run nginx_dehydrated case_nginx_dehydrated nginx dehydrated
run apache_certbot_webroot case_apache_certbot apache2 certbot
run caddy_always case_caddy caddy
# Apache's default AcceptFilter too (TCP_DEFER_ACCEPT: the request completes the handshake)
APACHE_ACCEPTFILTER=data run apache_default_acceptfilter_certbot case_apache_certbot apache2 certbot
# the boot order: portholed first, then Caddy
run caddy_always_started_after_daemon case_caddy_daemon_first caddy
# Caddy's own storage as the token source: token-bound, no always
run caddy_storage_tokens case_caddy_storage caddy
e2e_run_case teardown_leaves_nothing case_teardown
e2e_finish
