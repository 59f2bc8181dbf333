#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/test_e2e.sh — porthole end to end: real ACME clients (certbot, lego) get
# certificates from pebble through `porthole run`, on a geo-blocked host of the lab
# (tests/lab/lab.sh), with portholed running in the host's network namespace.
#
#   control     without porthole the geo-block stops pebble's validation (one run)
#   certbot     HTTP-01, IPv4-only name (+ audit: one window, peers = pebble's v4 source)
#   renew       certbot renew --force-renewal of that certificate through porthole run
#   lego        HTTP-01 and TLS-ALPN-01 (porthole run --port 443)
#   multi-name  certbot, an IPv4-only and an IPv6-only name in one certificate
#   decoy       while a window is open, a listener outside the session (same port,
#               the host's second address) stays dropped from the internet
# After every run: ports 80/443 dropped from the internet again, the host ruleset
# byte-identical to the baseline, no session cgroup left, every window of the run
# opened and closed exactly once in the audit log. At the end the daemon stops on
# SIGTERM (exit 0, "daemon-stop" in the audit log, no sanitizer report) and the lab
# goes away without leaving a namespace, process or cgroup behind.
#
# Output: "PASS name (T s)" / "FAIL name (T s)" lines, details indented, last line
# "e2e: N passed, N failed, N skipped". Exit 0 / 1, or 77 with "SKIP e2e: reason".
# Env: PORTHOLE_BIN (directory of portholed/porthole, default build; build/asan for
# the sanitizer build), E2E_LAB_PREFIX (default phle$$), E2E_VERBOSE=1 (client output),
# E2E_KEEP=DIR (keep the clients' and the daemon's logs there).
set -u
# shellcheck source=start.sh
. "$(dirname "${BASH_SOURCE[0]}")/start.sh" e2e phle certbot lego

# lib.sh: the case runner, cleanup, probes, ruleset check, portholed's start/stop
# (globals T, DPID, DCG, CG2, WRAP80, WRAP443, LAB_IS_UP, BASE_RULESET), ph, say
BASE_RULESET=
T=            # our temp dir: daemon config, socket, audit log, daemon log
WATCH_PID=    # background watcher of the decoy case
KNOWN_WINDOWS=   # window ids of the runs so far (audit cross-check)

keep_logs() { # E2E_KEEP=DIR: copy the clients' and the daemon's files there
	[ -n "${E2E_KEEP:-}" ] || return 0
	mkdir -p "$E2E_KEEP" || return 0
	[ -n "${E2E_WORK:-}" ] && [ -d "$E2E_WORK" ] && cp -a "$E2E_WORK" "$E2E_KEEP/clients" 2>/dev/null
	[ -n "$T" ] && [ -d "$T" ] && cp -a "$T" "$E2E_KEEP/daemon" 2>/dev/null
	return 0
}

cleanup() {
	trap - EXIT INT TERM HUP
	keep_logs
	if [ -n "$WATCH_PID" ]; then kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; fi
	e2e_teardown
	[ -n "${CG2:-}" ] && rmdir "$CG2/$LAB_PREFIX-cron" 2>/dev/null
	case $T in /tmp/phl*-porthole.*) rm -rf -- "$T" ;; esac
}
e2e_harness e2e cleanup

daemon_log_tail() { say "portholed log ($T/portholed.log), last lines:"; tail -n 15 "$T/portholed.log" | sed 's/^/    | /'; }

# ---------------------------------------------------------------- checks after each run
no_session_cgroup() { # sessions stay in their caller's cgroup: the daemon makes none
	local left
	left=$(find "$DCG" -mindepth 1 -type d 2>/dev/null)
	if [ -n "$left" ]; then say "cgroup(s) made under the daemon's: $left"; return 1; fi
	say "no cgroup made under $DCG"
}

no_open_window() {
	local st
	st=$(ph status --json 2>&1) || { say "porthole status failed: $st"; return 1; }
	if "$PY" -c 'import json, sys; sys.exit(0 if json.loads(sys.argv[1])["windows"] == [] else 1)' "$st" 2>/dev/null; then
		say "porthole status: no open window"
	else
		say "porthole status still lists something: $st"; return 1
	fi
}

# after_run — every check that must hold after each client run (issue case 5).
after_run() {
	local ok=0
	printf '%s\n' "dropped $LAB_HOST_V4 80 inet" "dropped $LAB_HOST_V4 443 inet" \
		"dropped $LAB_HOST_V6 80 inet" "dropped $LAB_HOST_V6 443 inet" | e2e_expect_probes || ok=1
	e2e_ruleset_unchanged || ok=1
	no_session_cgroup || ok=1
	no_open_window || ok=1
	return $ok
}

# run_windows — ids of the windows `porthole run` reported in the client's log.
run_windows() { grep -oE '^porthole: window [0-9]+ open' "$E2E_LAST_LOG" | awk '{ print $3 }' | tr '\n' ' '; }

# audit_check PORT MODE ADDRS — the audit log's records of the windows of the last
# run: each opened and closed exactly once, on PORT, reason exited|listener-closed;
# the union of their peers is exactly ADDRS (MODE exact) or a non-empty subset of
# them (MODE subset). No window opened that porthole run did not report.
audit_check() {
	local port=$1 mode=$2 addrs=$3 ids json
	ids=$(run_windows)
	if [ -z "${ids// /}" ]; then
		say "porthole run reported no window in $E2E_LAST_LOG"; return 1
	fi
	json=$E2E_WORK/audit.json
	ph log --json --file "$T/audit.jsonl" >"$json" 2>"$json.err" || {
		say "porthole log --json failed: $(cat "$json.err")"; return 1; }
	local known=$KNOWN_WINDOWS
	KNOWN_WINDOWS="$KNOWN_WINDOWS $ids"
	PYTHONPATH=$E2E_ROOT/tests/tools "$PY" - "$json" "$ids" "$known" "$port" "$mode" "$addrs" <<'PY' || return 1
import sys
from auditcheck import Audit
path, ids, known, port, mode, addrs = sys.argv[1:]
ids = [int(x) for x in ids.split()]
known = {int(x) for x in known.split()}
want = set(addrs.split())
audit = Audit(path)
recs, bad = audit.recs, audit.bad
opened = {}
closed = {}
for r in recs:
    if r.get("event") == "window-open":
        opened.setdefault(r.get("window"), []).append(r)
    elif r.get("event") == "window-close":
        closed.setdefault(r.get("window"), []).append(r)
peers = {}
for w in ids:
    o, c = opened.get(w, []), closed.get(w, [])
    if len(o) != 1 or len(c) != 1:
        bad(f"window {w}: {len(o)} window-open and {len(c)} window-close records, want 1 and 1")
        continue
    o, c = o[0], c[0]
    if o.get("ports") != [int(port)]:
        bad(f"window {w}: ports {o.get('ports')}, want [{port}]")
    if c.get("reason") not in ("exited", "listener-closed"):
        bad(f"window {w}: closed with reason {c.get('reason')!r}")
    wp = {}
    for p in c.get("peers") or []:
        wp[p.get("addr")] = p.get("connections")
        peers[p.get("addr")] = peers.get(p.get("addr"), 0) + (p.get("connections") or 0)
    print(f"  audit: window {w} {o.get('family')} tcp/{o.get('ports')[0] if o.get('ports') else '?'} "
          f"pid {o.get('pid')} ({o.get('exe')}): closed {c.get('reason')} after {c.get('duration_ms')} ms, "
          f"{c.get('connections')} connection(s), peers {wp or 'none'}")
extra = sorted(set(opened) - known - set(ids), key=lambda x: (x is None, x))
if extra:
    bad(f"window-open records not reported by porthole run: {extra}")
got = set(peers)
if mode == "exact" and got != want:
    bad(f"peers {sorted(got)}, want exactly {sorted(want)}")
elif mode == "subset" and (not got or not got <= want):
    bad(f"peers {sorted(got)}, want a non-empty subset of {sorted(want)}")
sys.exit(0 if audit.ok else 1)
PY
}

# ---------------------------------------------------------------- setup
case_lab_up() {
	[ -n "$CG2" ] && [ -d "$CG2" ] || { say "no cgroup2 mount in /proc/self/mountinfo"; return 1; }
	e2e_lab_up
}

case_daemon_start() {
	local rc
	T=$(mktemp -d "/tmp/$LAB_PREFIX-porthole.XXXXXX") || return 1
	export ASAN_OPTIONS="log_path=$T/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$T/ubsan:print_stacktrace=1"
	e2e_daemon_start "chains = auto" \
		"# watch mode (issue 6): a cron-like job cgroup, and lego by executable" \
		"designate = cgroup /$LAB_PREFIX-cron" \
		"designate = exe $(readlink -f "$(command -v lego)") ports=80"
	rc=$?
	[ $rc = 1 ] && return 1
	if [ $rc != 0 ]; then
		say "portholed did not become ready"; daemon_log_tail
		return 1
	fi
	say "portholed ($BIN/portholed, pid $DPID) ready in $LAB_NS_HOST, cgroup $DCG"
	e2e_ruleset_unchanged
}

# ---------------------------------------------------------------- cases
case_control_blocked() {
	local n
	n=$(e2e_new_name ctl4 v4) || return 1
	e2e_expect_blocked_unchanged e2e_certbot "" "$n"
}

# client_run PORT MODE ADDRS CLIENT-FUNC ARGS... — one client run through porthole,
# then after_run and audit_check PORT MODE ADDRS (every check runs, whatever failed).
client_run() {
	local port=$1 mode=$2 addrs=$3 ok=0; shift 3
	"$@" || ok=1
	after_run || ok=1
	audit_check "$port" "$mode" "$addrs" || ok=1
	return $ok
}

case_certbot_v4() {
	local n
	n=$(e2e_new_name cb4 v4) || return 1
	client_run 80 exact "$LAB_INET_V4" e2e_certbot "$WRAP80" "$n"
}

case_lego_http() {
	local n
	n=$(e2e_new_name lh4 v4) || return 1
	client_run 80 subset "$LAB_INET_V4 $LAB_INET_V6" e2e_lego_http "$WRAP80" "$n"
}

case_lego_tls() {
	local n
	n=$(e2e_new_name lt4 v4) || return 1
	client_run 443 subset "$LAB_INET_V4 $LAB_INET_V6" e2e_lego_tls "$WRAP443" "$n"
}

case_certbot_multi() {
	local a b
	a=$(e2e_new_name cbm4 v4) && b=$(e2e_new_name cbm6 v6) || return 1
	client_run 80 subset "$LAB_INET_V4 $LAB_INET_V6" e2e_certbot "$WRAP80" "$a" "$b"
}

# decoy_watch OFFSET OUT — wait for the next "window N open" in the daemon log (after
# byte OFFSET), then probe the decoy from the internet and, while the probe's SYN is
# unanswered, ask the daemon whether window N is still open: if it is, the SYN met
# the firewall while the window was open. Writes "ID PROBE STILL-OPEN" to OUT.
decoy_watch() {
	local off=$1 out=$2 id="" i pf st
	for i in $(seq 400); do
		id=$(tail -c +"$((off + 1))" "$T/portholed.log" | grep -oE 'window [0-9]+ open' | head -n1 | awk '{ print $2 }')
		[ -n "$id" ] && break
		sleep 0.025
	done
	[ -n "$id" ] || { echo "none - -" >"$out"; return; }
	pf=$out.probe
	( lab_probe "$LAB_HOST_V4_ALT" 80 inet >"$pf" ) &
	sleep 0.2
	st=$(ph status --json 2>/dev/null)
	wait $!
	if "$PY" -c 'import json, sys; sys.exit(0 if int(sys.argv[2]) in [w["id"] for w in json.loads(sys.argv[1])["windows"]] else 1)' "$st" "$id" 2>/dev/null; then
		echo "$id $(cat "$pf") yes" >"$out"
	else
		echo "$id $(cat "$pf") no" >"$out"
	fi
	echo "$st" >"$out.status"
}

# watched_run TAG CLIENT-FUNC ARGS... — run the client while decoy_watch watches for
# its window; sets WATCHED to decoy_watch's "ID PROBE STILL-OPEN" ("none" if it wrote
# nothing). Returns the client's status.
watched_run() {
	local tag=$1 off res rc; shift
	off=$(stat -c %s "$T/portholed.log")
	res=$E2E_WORK/$tag.result
	rm -f "$res"
	decoy_watch "$off" "$res" &
	WATCH_PID=$!
	"$@"; rc=$?
	wait "$WATCH_PID"; WATCH_PID=
	WATCHED=none
	[ -s "$res" ] && WATCHED=$(cat "$res")
	return $rc
}

# decoy_up NAME: a python web server on $LAB_HOST_V4_ALT:80 of the host,
# reachable from the allowed country before the case goes on; DECOY_PID
decoy_up() {
	lab_spawn host "$1" "$PY" -m http.server --bind "$LAB_HOST_V4_ALT" 80
	DECOY_PID=$LAB_LAST_PID
	for _ in $(seq 50); do [ "$(lab_probe "$LAB_HOST_V4_ALT" 80 allow)" = open ] && break; sleep 0.1; done
}

# decoy_verdict WHAT STRICT: after watched_run, WHAT (the decoy, in words)
# was dropped from inet while the window was open; STRICT=1: a window that
# closed before the probe could be confirmed fails the case too
decoy_verdict() {
	local what=$1 id probe open
	read -r id probe open <<<"$WATCHED"
	if [ "$id" = none ]; then
		say "no window opened during the run: $what could not be tested"
		return 1
	elif [ "$probe" != dropped ]; then
		say "$what from inet during window $id: $probe, expected dropped"
		return 1
	elif [ "$open" != yes ]; then
		say "$what dropped, but window $id had closed before the probe could be confirmed (inconclusive)"
		[ "$2" != 1 ]
		return
	fi
	say "during window $id: $what from inet: dropped (window confirmed open)"
}

case_decoy() {
	local ok=0 n
	n=$(e2e_new_name decoy v4) || return 1
	decoy_up decoy
	printf '%s\n' "open $LAB_HOST_V4_ALT 80 allow" "dropped $LAB_HOST_V4_ALT 80 inet" | e2e_expect_probes || ok=1
	# certbot binds only the primary address (a wildcard bind would collide with the decoy)
	E2E_HTTP_ADDR=$LAB_HOST_V4 watched_run decoy e2e_certbot "$WRAP80" "$n" || ok=1
	decoy_verdict "decoy $LAB_HOST_V4_ALT:80 (outside the session)" 1 || ok=1
	lab_kill "$DECOY_PID"
	after_run || ok=1
	audit_check 80 exact "$LAB_INET_V4" || ok=1
	return $ok
}

case_renew() {
	client_run 80 subset "$LAB_INET_V4 $LAB_INET_V6" e2e_certbot_renew "$WRAP80"
}


# ---------------------------------------------------------------- watch mode
# watch_audit_check TYPE ADDRS: every window-open since the last check came
# from a designation of TYPE, closed with exited/listener-closed, and its
# peers are a non-empty subset of ADDRS
watch_audit_check() {
	local type=$1 addrs=$2 json=$E2E_WORK/audit-watch.json
	ph log --json --file "$T/audit.jsonl" >"$json" 2>/dev/null || { say "porthole log --json failed"; return 1; }
	"$PY" - "$json" "$KNOWN_WINDOWS" "$type" "$addrs" <<'PY' || return 1
import json, sys
path, known, dtype, addrs = sys.argv[1:]
known = {int(x) for x in known.split()}
recs = json.load(open(path))
new = [r for r in recs if r.get("event") == "window-open" and r["window"] not in known]
closes = {r["window"]: r for r in recs if r.get("event") == "window-close"}
ok = bool(new)
if not new:
    print("  audit: no watch-mode window was opened")
peers = set()
for o in new:
    c = closes.get(o["window"])
    d = o.get("designation", {})
    print(f"  audit: window {o['window']} designated by {d.get('type')} {d.get('value')} (config line {d.get('config_line')}), "
          f"pid {o.get('pid')} {o.get('exe')}: " + (f"closed {c['reason']}, peers {[p['addr'] for p in c['peers']]}" if c else "NOT closed"))
    if d.get("type") != dtype or not c or c["reason"] not in ("exited", "listener-closed"):
        ok = False
    if c:
        peers |= {p["addr"] for p in c["peers"]}
if not peers or not peers <= set(addrs.split()):
    print(f"  audit: peers {sorted(peers)}, want a non-empty subset of {addrs}")
    ok = False
print("WINDOWS " + " ".join(str(o["window"]) for o in new))
sys.exit(0 if ok else 1)
PY
}

watch_known_update() {
	KNOWN_WINDOWS="$KNOWN_WINDOWS $(ph log --json --file "$T/audit.jsonl" 2>/dev/null | "$PY" -c '
import json, sys
print(" ".join(str(r["window"]) for r in json.load(sys.stdin) if r.get("event") == "window-open"))')"
}

case_watch_cgroup() {
	local ok=0 n cg=$CG2/$LAB_PREFIX-cron
	n=$(e2e_new_name cron v4) || return 1
	watch_known_update
	# the job's cgroup appears after the daemon started, as a timer's unit does
	mkdir -p "$cg" || return 1
	# a copy of lego (another inode: not the exe designation) so that only
	# the cgroup designation can open its window
	mkdir -p "$T/bin" && cp "$(readlink -f "$(command -v lego)")" "$T/bin/lego" || return 1
	say "a copy of lego ($T/bin/lego) runs in cgroup /$LAB_PREFIX-cron without any wrapper"
	PATH=$T/bin:$PATH e2e_lego_http "$ROOT/tests/tools/in_cgroup.sh $cg" "$n" || ok=1
	after_run || ok=1
	watch_audit_check cgroup "$LAB_INET_V4 $LAB_INET_V6" || ok=1
	rmdir "$cg" 2>/dev/null
	return $ok
}

case_watch_exe() {
	local ok=0 n
	n=$(e2e_new_name exe v4) || return 1
	watch_known_update
	# lego and a python web server share one cgroup (this script's); only
	# lego's own socket may be reachable
	decoy_up decoy2
	say "lego runs from this script's own cgroup, with no wrapper; a python server shares the cgroup"
	E2E_HTTP_ADDR=$LAB_HOST_V4 watched_run decoy2 e2e_lego_http "" "$n" || ok=1
	decoy_verdict "the python server in lego's cgroup ($LAB_HOST_V4_ALT:80)" 0 || ok=1
	lab_kill "$DECOY_PID"
	after_run || ok=1
	watch_audit_check exe "$LAB_INET_V4" || ok=1
	return $ok
}

case_daemon_stop() {
	local ok=0 rc san
	e2e_daemon_stop; rc=$?
	if [ "$rc" = 0 ]; then say "portholed exited 0 on SIGTERM"
	else say "portholed exited $rc on SIGTERM"; daemon_log_tail; ok=1; fi
	if ph log --file "$T/audit.jsonl" 2>&1 | tail -n1 | grep -q 'daemon-stop'; then
		say "porthole log: $(ph log --file "$T/audit.jsonl" | tail -n1 | tr -s ' ')"
	else
		say "porthole log does not end with daemon-stop:"; ph log --file "$T/audit.jsonl" 2>&1 | tail -n 3 | sed 's/^/    | /'; ok=1
	fi
	san=$(ls "$T"/asan* "$T"/ubsan* 2>/dev/null)
	if [ -n "$san" ]; then
		say "sanitizer reports:"; cat $san | head -n 60 | sed 's/^/    | /'; ok=1
	fi
	if grep -qE '^<[0-4]>' "$T/portholed.log"; then
		say "portholed logged errors/warnings:"; grep -E '^<[0-4]>' "$T/portholed.log" | head -n 10 | sed 's/^/    | /'; ok=1
	else
		say "portholed log: $(wc -l <"$T/portholed.log") lines, no error or warning"
	fi
	e2e_ruleset_unchanged || ok=1
	return $ok
}

case_teardown() {
	local ok=0
	keep_logs
	e2e_lab_down_check || ok=1
	e2e_daemon_cgroup_remove
	[ -n "${CG2:-}" ] && rmdir "$CG2/$LAB_PREFIX-cron" 2>/dev/null
	if [ -n "$DCG" ] && [ -d "$DCG" ]; then say "cgroup $DCG could not be removed"; ok=1; fi
	[ -e "$LAB_STATE" ] && { say "$LAB_STATE still exists"; ok=1; }
	case $T in /tmp/phl*-porthole.*) rm -rf -- "$T" ;; esac
	[ $ok = 0 ] && say "namespaces, $E2E_LAB_NPROCS lab processes, daemon cgroup and state dirs gone"
	return $ok
}

# ---------------------------------------------------------------- run
e2e_run_case lab_up case_lab_up || e2e_finish
e2e_run_case daemon_start case_daemon_start || e2e_finish
e2e_run_case control_certbot_blocked_without_porthole case_control_blocked
e2e_run_case certbot_http01_v4only case_certbot_v4
e2e_run_case certbot_renew_force case_renew
e2e_run_case lego_http01 case_lego_http
e2e_run_case lego_tlsalpn01_port443 case_lego_tls
e2e_run_case certbot_multiname_v4only_v6only case_certbot_multi
e2e_run_case decoy_outside_session_dropped case_decoy
e2e_run_case watch_mode_lego_in_designated_cgroup case_watch_cgroup
e2e_run_case watch_mode_lego_by_executable case_watch_exe
e2e_run_case daemon_sigterm_clean_stop case_daemon_stop
e2e_run_case teardown_leaves_nothing case_teardown
e2e_finish
