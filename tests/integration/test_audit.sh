#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit log and the status/log/close commands (issue 4), on the real kernel.
set -u
source "$(dirname "$0")/../lib.sh"
t_start audit lab daemon
A=$T_TMP/audit.jsonl

# jq-free checks with python: field presence and values
jcheck() { # FILE PYTHON-EXPR-over-list-of-records
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2], {"recs": recs})
sys.exit(0 if ok else 1)
PYEOF
}

# a window with traffic from the internet (v4 and v6), closed when the listener closes
bg_run /dev/null "$T_TMP/r1.err" run -- "$PY" "$T_TOOLS/listen.py" 80 3 $H $H6; R1=$BG_PID
wait_for "$T_TMP/r1.err" "window .* open" 30
probe inet $H 80 >/dev/null; probe inet $H6 80 >/dev/null; probe inet $H 80 >/dev/null
wait $R1
W1=$(sed -n 's/.*window \([0-9]*\) open.*/\1/p' "$T_TMP/r1.err" | head -1)
t_check "window-open record has the documented fields" jcheck "$A" \
	"any(r['event']=='window-open' and r['window']==$W1 and all(k in r for k in ['time','ports','family','pid','uid','user','exe','cmdline','cgroup','designation','deadline','chains']) for r in recs)"
t_check "exactly one open and one close record for the window" jcheck "$A" \
	"sum(1 for r in recs if r.get('window')==$W1 and r['event']=='window-open')==1 and sum(1 for r in recs if r.get('window')==$W1 and r['event']=='window-close')==1"
t_check "close reason listener-closed or exited" jcheck "$A" \
	"[r['reason'] for r in recs if r.get('window')==$W1 and r['event']=='window-close'][0] in ('listener-closed','exited')"
t_check "peers: exactly the internet's two addresses, with counts" jcheck "$A" \
	"sorted((p['addr'],p['connections']) for r in recs if r.get('window')==$W1 and r['event']=='window-close' for p in r['peers'])==sorted([('$INET6',1),('$INET',2)])"
t_check "close record counts connections, packets and bytes" jcheck "$A" \
	"[(r['connections'],r['packets']>0,r['bytes']>0,'duration_ms' in r) for r in recs if r.get('window')==$W1 and r['event']=='window-close'][0]==(3,True,True,True)"
t_check "time is RFC 3339 UTC with milliseconds" jcheck "$A" \
	"all(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', r['time']) for r in recs)"
t_check "window-open designation names the session" jcheck "$A" \
	"[r['designation']['type'] for r in recs if r.get('window')==$W1 and r['event']=='window-open'][0]=='session'"

# status while a window is open, then revoke it
bg_run /dev/null "$T_TMP/r2.err" run -- "$PY" "$T_TOOLS/listen.py" 80 30 $H; R2=$BG_PID
wait_for "$T_TMP/r2.err" "window .* open" 30
W2=$(sed -n 's/.*window \([0-9]*\) open.*/\1/p' "$T_TMP/r2.err" | head -1)
ph status --json >"$T_TMP/status.json"; rc=$?
t_eq "status --json exits 0" 0 $rc

"$PY" - "$T_TMP/status.json" "$W2" <<'PYEOF' && t_pass "status --json: window listed with id, pid, exe, port, age, time left, counters" || t_fail "status --json content"
import json, sys
d = json.load(open(sys.argv[1]))
w = [x for x in d["windows"] if x["id"] == int(sys.argv[2])]
need = ["id","session","pid","exe","port","opened","deadline","age_s","left_s","chains","listeners","packets","bytes","cgroup"]
sys.exit(0 if len(w) == 1 and all(k in w[0] for k in need) and w[0]["port"] == 80 and 0 < w[0]["left_s"] <= 300 else 1)
PYEOF
ph status | grep -q "^$W2 " && t_pass "status table lists the window" || t_fail "status table lists the window"
ph close "$W2" >/dev/null; t_eq "close ID exits 0" 0 $?
t_eq "revoked: port dropped while the process lives" dropped "$(probe inet $H 80)"
kill -0 $R2 2>/dev/null && t_pass "revoked: the process was not killed" || t_fail "revoked: the process was not killed"
t_check "revoked: reason and who revoked it recorded" jcheck "$A" \
	"any(r['event']=='window-close' and r['window']==$W2 and r['reason']=='revoked' and r['revoked_by']['uid']==0 for r in recs)"
ph close "$W2" 2>/dev/null; t_eq "close of a closed window: exit 1" 1 $?
ph close abc 2>/dev/null; t_eq "close with a bad id: usage error 64" 64 $?
kill -TERM $R2; wait $R2 2>/dev/null

# deadline
bg_run /dev/null "$T_TMP/r3.err" run --max-window 1 -- "$PY" "$T_TOOLS/listen.py" 80 4 $H; R3=$BG_PID
wait $R3
W3=$(sed -n 's/.*window \([0-9]*\) open.*/\1/p' "$T_TMP/r3.err" | head -1)
t_check "deadline recorded" jcheck "$A" "any(r['event']=='window-close' and r['window']==$W3 and r['reason']=='deadline' for r in recs)"

# refused requests are recorded
chmod 0711 "$T_TMP"; chmod 0666 "$T_SOCK"
setpriv --reuid=65534 --regid=65534 --clear-groups env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" close 1 2>/dev/null
chmod 0660 "$T_SOCK"; chmod 0700 "$T_TMP"
t_check "refused request recorded with who and why" jcheck "$A" \
	"any(r['event']=='refused' and r['uid']==65534 and r['request']=='close' and r['why'] for r in recs)"
ph_host run --max-window 99999 -- true 2>/dev/null; t_eq "run with too long a window: usage error" 64 $?
ph_host run --max-window 600 -- true 2>/dev/null; t_eq "run with a window over max_window: refused (77)" 77 $?
t_check "over-long window refusal recorded" jcheck "$A" "any(r['event']=='refused' and 'max_window' in r['why'] for r in recs)"

# SIGHUP reopens the log (rotation without copytruncate)
mv "$A" "$A.1"
kill -HUP "$T_DPID"; sleep 0.3
bg_run /dev/null "$T_TMP/r4.err" run -- "$PY" "$T_TOOLS/listen.py" 80 1 $H; wait $BG_PID
t_check "after SIGHUP, records go to the new file" jcheck "$A" "any(r['event']=='window-open' for r in recs)"
t_check "the rotated file keeps the old records" jcheck "$A.1" "any(r['event']=='window-open' for r in recs)"

# shutdown reason and daemon-stop
bg_run /dev/null "$T_TMP/r5.err" run -- "$PY" "$T_TOOLS/listen.py" 80 30 $H; R5=$BG_PID
wait_for "$T_TMP/r5.err" "window .* open" 30
daemon_stop
t_check "shutdown reason recorded" jcheck "$A" "any(r['event']=='window-close' and r['reason']=='shutdown' for r in recs)"
t_check "daemon-start and daemon-stop recorded" jcheck "$A.1" "recs[0]['event']=='daemon-start'"
t_check "daemon-stop is the last record" jcheck "$A" "recs[-1]['event']=='daemon-stop'"
kill -TERM $R5 2>/dev/null; wait $R5 2>/dev/null

# porthole log: no daemon needed; torn last line; filters; JSON
cat "$A.1" "$A" >"$T_TMP/all.jsonl"
total=$(wc -l <"$T_TMP/all.jsonl")
printf '{"event":"window-open","time":"2026-11-28T' >>"$T_TMP/all.jsonl"   # a power cut mid-write
ph log --file "$T_TMP/all.jsonl" >"$T_TMP/log.txt" 2>"$T_TMP/log.err"; rc=$?
t_eq "log with a torn last line exits 0" 0 $rc
t_eq "log reports every record before the torn line" "$total" "$(($(wc -l <"$T_TMP/log.txt") - 1))"
t_check "log warns about the torn line with its line number" grep -q "all.jsonl:$((total + 1)): skipped an incomplete record" "$T_TMP/log.err"
ph log --json --file "$T_TMP/all.jsonl" 2>/dev/null | "$PY" -m json.tool >/dev/null
t_eq "log --json parses as JSON" 0 $?
n=$(ph log --json --window "$W2" --file "$T_TMP/all.jsonl" 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq "log --window selects that window's two records" 2 "$n"
n=$(ph log --json --since 1m --file "$T_TMP/all.jsonl" 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq "log --since 1m keeps every fresh record" "$total" "$n"
n=$(ph log --json --since 2099-01-01 --file "$T_TMP/all.jsonl" 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq "log --since in the future selects nothing" 0 "$n"
ph log --since yesterday --file "$T_TMP/all.jsonl" >/dev/null 2>&1; t_eq "log --since garbage: usage error" 64 $?
ph log --file "$T_TMP/missing.jsonl" >/dev/null 2>&1; t_eq "log of a missing file: 66" 66 $?

# a new daemon continues the window ids and appends after the torn line
cp "$T_TMP/all.jsonl" "$A"
daemon_start || t_fail "daemon restart"
t_check "restart fences off the torn line: the log stays readable" bash -c "tail -n +$((total + 2)) '$A' | head -1 | grep -q daemon-start"
bg_run /dev/null "$T_TMP/r6.err" run -- "$PY" "$T_TOOLS/listen.py" 80 1 $H; wait $BG_PID
W6=$(sed -n 's/.*window \([0-9]*\) open.*/\1/p' "$T_TMP/r6.err" | head -1)
t_check "window ids continue after a restart (no reuse)" test "$W6" -gt "$W2"
daemon_stop

# the metrics file (node_exporter's textfile collector): counters that move
M=$T_TMP/textfile/porthole.prom
mkdir -p "$T_TMP/textfile"
# the daemon's user must be able to write there (README, Fleets)
[ -z "$T_DAEMON_UID" ] || chown "$T_DAEMON_UID" "$T_TMP/textfile"
daemon_start "metrics_file = $M" || t_fail "daemon start with metrics_file"
t_check "metrics file written at start" grep -q '^porthole_up 1$' "$M"
bg_run /dev/null "$T_TMP/m1.err" run -- "$PY" "$T_TOOLS/listen.py" 80 2 $H; M1=$BG_PID
wait_for "$T_TMP/m1.err" "window .* open" 30
t_check "metrics: one window open" grep -q '^porthole_windows_open 1$' "$M"
t_check "metrics: one window opened" grep -q '^porthole_windows_opened_total 1$' "$M"
wait $M1
sleep 0.2
t_check "metrics: closed by reason" grep -q '^porthole_windows_closed_total{reason="listener-closed"} 1$' "$M"
t_check "metrics: none open after" grep -q '^porthole_windows_open 0$' "$M"
t_check "metrics: the last close has a time" bash -c "grep '^porthole_last_window_close_timestamp_seconds' '$M' | awk '{exit !(\$2 > 1.7e9)}'"
ph_host run --max-window 86400 -- true >/dev/null 2>&1
t_check "metrics: a refusal counted" grep -q '^porthole_refusals_total [1-9]' "$M"
t_check "metrics: no temporary file left" bash -c "! ls '$T_TMP/textfile' | grep -q tmp"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$M" 2>&1); rc=$?
	t_eq "promtool check metrics accepts the file${out:+ ($out)}" 0 $rc
else
	t_skip "promtool (Debian package prometheus) not installed: the metrics file format is not checked"
fi
daemon_stop
t_check "metrics: porthole_up 0 after a stop" grep -q '^porthole_up 0$' "$M"

t_summary
