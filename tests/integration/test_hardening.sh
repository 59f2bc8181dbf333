#!/bin/bash
# Hardening: one or more checks per finding of the security review (the
# numbers are the review's). Each check fails if its bug comes back.
set -u
source "$(dirname "$0")/../lib.sh"
t_start hardening lab
A=$T_TMP/audit.jsonl
HT=$T_TOOLS/hardening.py
NOBODY_OK=1
getent group nogroup >/dev/null || NOBODY_OK=0
[ "$NOBODY_OK" = 1 ] && T_GROUP=nogroup
# uid 65534 must reach the socket (0660, group nogroup) in $T_TMP
chmod 0711 "$T_TMP"
# members' listeners bind port 80/443 in the test's host namespace only
in_host sysctl -qw net.ipv4.ip_unprivileged_port_start=0
DES=$T_PFX-des
mkdir "$T_CG2/$DES" && T_CGROUPS+=("$T_CG2/$DES")
daemon_start "ports = 80, 443" "designate = cgroup /$DES" || { t_fail "daemon start"; t_summary; exit 1; }

ms_since() { "$PY" -c "import time; print(int((time.time() - $1) * 1000))"; }
# the id of the first window a `porthole run` reported in FILE
win_id() { grep -o 'window [0-9]* open' "$1" | head -1 | awk '{print $2}'; }
# the daemon log from line N on
log_from() { tail -n +"$1" "$T_DLOG"; }
log_mark() { echo $(($(wc -l <"$T_DLOG") + 1)); }
# error lines (journald priority 0-3)
log_errors() { log_from "$1" | grep '^<[0-3]>'; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ph_nobody() { as_nobody env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" "$@"; }
# bg_nobody OUT ERR ARGS...: `porthole ARGS` as uid 65534 in the host namespace
bg_nobody() {
	local out=$1 err=$2; shift 2
	bg_host "$out" "$err" setpriv --reuid=65534 --regid=65534 --clear-groups env PORTHOLE_SOCKET="$T_SOCK" \
		"$PORTHOLE_BIN/porthole" "$@"
}
# wait_rules_zero TENTHS: wait until no porthole rule is in the host's chains
wait_rules_zero() {
	local i
	for i in $(seq "$1"); do [ "$(porthole_rules)" = 0 ] && return 0; sleep 0.1; done
	return 1
}
stop_bg() { kill -TERM "$@" 2>/dev/null; wait "$@" 2>/dev/null; }
# the audit record of window ID with event EV, one field
audit_field() { # EV ID FIELD
	"$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event") == sys.argv[2] and str(r.get("window")) == sys.argv[3]:
        print(r.get(sys.argv[4])); break' "$A" "$1" "$2" "$3"
}
# the number of refused records for uid UID and request REQ
refused_count() { "$PY" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if (lambda r: r.get("event") == "refused" and r.get("uid") == int(sys.argv[2])
      and r.get("request") == sys.argv[3])(json.loads(l))))' "$A" "$1" "$2"; }

# --- 1. a refused daemon leaves the live daemon's lock alone ----------------------------------
LOCK=$T_SOCK.lock
ino0=$(stat -c %i "$LOCK" 2>/dev/null)
in_host timeout 20 "$PORTHOLE_BIN/portholed" -c "$T_CONF" 2>"$T_TMP/b.err"; rcB=$?
in_host timeout 20 "$PORTHOLE_BIN/portholed" -c "$T_CONF" 2>"$T_TMP/c.err"; rcC=$?
t_eq "1 lock: second daemon B (same config) exits 75" 75 "$rcB"
t_eq "1 lock: third daemon C exits 75 too" 75 "$rcC"
t_check "1 lock: C was refused by the lock A holds" grep -q "another portholed holds $LOCK" "$T_TMP/c.err"
ph status >/dev/null 2>&1; t_eq "1 lock: daemon A still answers porthole status" 0 $?
t_check "1 lock: A's control socket still exists" test -S "$T_SOCK"
t_eq "1 lock: the lock file still exists, same inode" "$ino0" "$(stat -c %i "$LOCK" 2>/dev/null || echo missing)"
t_check "1 lock: A still runs" kill -0 "$T_DPID"

# --- 2. closing one window leaves the others alone -----------------------------------------------
bg_run /dev/null "$T_TMP/w80.err" run -- "$PY" "$T_TOOLS/listen.py" 80 60 $H; S80=$BG_PID
bg_run /dev/null "$T_TMP/w443.err" run -- "$PY" "$T_TOOLS/listen.py" 443 60 $H; S443=$BG_PID
bg_run /dev/null "$T_TMP/w80b.err" run -- "$PY" "$T_TOOLS/listen.py" 80 60 $H2; S80B=$BG_PID
ok=1; for f in w80 w443 w80b; do wait_for "$T_TMP/$f.err" "window .* open" 50 || ok=0; done
t_eq "2 three windows: tcp/80 on $H, tcp/443 on $H, tcp/80 on $H2 open" "1 3" "$ok $(porthole_elements)"
ID80=$(win_id "$T_TMP/w80.err")
ph close "$ID80" >"$T_TMP/close2.out" 2>&1; rc=$?
t_eq "2 porthole close $ID80: exit 0, reports closed" "0 window $ID80 closed" "$rc $(cat "$T_TMP/close2.out")"
t_eq "2 closed window: $H:80 dropped" dropped "$(probe inet $H 80)"
t_eq "2 other window: $H:443 still open from the internet" open "$(probe inet $H 443)"
t_eq "2 other window: $H2:80 still open from the internet" open "$(probe inet $H2 80)"
t_eq "2 the other two set elements stay" 2 "$(porthole_elements)"
t_eq "2 the host rules (tcp/80 and tcp/443) stay" 2 "$(porthole_rules)"
stop_bg $S80 $S443 $S80B
wait_rules_zero 20; t_eq "2 after the last window: no host rule" 0 "$(porthole_rules)"

# --- 3. deletion under heavy nft churn ---------------------------------------------------------------
M=$(log_mark)
bg_run /dev/null "$T_TMP/ch.err" run -- "$PY" "$T_TOOLS/listen.py" 80 60 $H; CH=$BG_PID
wait_for "$T_TMP/ch.err" "window .* open" 50
IDC=$(win_id "$T_TMP/ch.err")
rm -f "$T_TMP/churn.stop"; echo 0 >"$T_TMP/churn.n"
# one long-lived nft -i commits each line: a steady rate however slow process start-up is here
bg_host /dev/null "$T_TMP/churn.err" bash -c "n=0; while [ ! -e '$T_TMP/churn.stop' ]; do
	echo 'add table ip phchurn'; echo 'delete table ip phchurn'; n=\$((n + 2)); echo \$n >'$T_TMP/churn.n'; sleep 0.004; done | nft -i >/dev/null"
CHURN=$BG_PID
ct0=$(date +%s.%N)
sleep 1
ph close "$IDC" >"$T_TMP/close3.out" 2>&1; rc=$?
st=$(probe inet $H 80 0.5)
t_eq "3 under churn: porthole close $IDC reports closed" "0 window $IDC closed" "$rc $(cat "$T_TMP/close3.out")"
t_eq "3 under churn: dropped right after close reported it" dropped "$st"
sleep 1
touch "$T_TMP/churn.stop"; wait $CHURN
rate=$("$PY" -c "print(int($(cat "$T_TMP/churn.n") / ($(date +%s.%N) - $ct0)))")
t0=$(date +%s.%N)
wait_rules_zero 10; rc=$?
t_check "3 churn of $rate nft transactions/s: host rule gone within 1 s of the churn stopping ($(ms_since "$t0") ms)" test $rc = 0
t_check "3 churn at >= 60 transactions/s (else the check proves little)" test "$rate" -ge 60
errs=$(log_errors "$M")
t_eq "3 daemon log: no error during the churn" "" "$errs"
stop_bg $CH

# --- 4. a reload right when the window opens ------------------------------------------------------------
nslab_ruleset | sed '1i flush ruleset' >"$T_TMP/reload.nft"
for trigger in log monitor; do
	for k in 1 2; do
		rm -f "$T_TMP/rl.done" "$T_TMP/mon.out"
		n0=$(grep -c 'window [0-9]* open' "$T_DLOG")
		if [ $trigger = log ]; then
			( while [ "$(grep -c 'window [0-9]* open' "$T_DLOG")" = "$n0" ]; do :; done
			  in_host nft -f "$T_TMP/reload.nft"; echo $? >"$T_TMP/rl.done" ) &
			TRG=$!
		else
			# the first rule porthole inserts, seen through nft's own monitor
			bg_host "$T_TMP/mon.out" /dev/null nft monitor rules; MON=$BG_PID
			sleep 0.3
			( while ! grep -q porthole "$T_TMP/mon.out" 2>/dev/null; do :; done
			  in_host nft -f "$T_TMP/reload.nft"; echo $? >"$T_TMP/rl.done" ) &
			TRG=$!
		fi
		T_PIDS+=($TRG)
		bg_run /dev/null "$T_TMP/r4.err" run -- "$PY" "$T_TOOLS/listen.py" 80 30 $H; R4=$BG_PID
		for i in $(seq 50); do [ -e "$T_TMP/rl.done" ] && break; sleep 0.1; done
		[ $trigger = monitor ] && stop_bg $MON
		kill $TRG 2>/dev/null; wait $TRG 2>/dev/null
		sleep 0.3
		t_eq "4 reload at the window's opening ($trigger-triggered, #$k): reload ran, rules restored (tcp/80, tcp/443)" \
			"0 2" "$(cat "$T_TMP/rl.done" 2>/dev/null || echo none) $(porthole_rules)"
		t_eq "4 reload at the window's opening ($trigger-triggered, #$k): window open" open "$(probe inet $H 80)"
		stop_bg $R4
		wait_rules_zero 20
	done
done

# --- 7. ring buffer overflow does not lose "listener closed" ------------------------------------------------
M=$(log_mark)
bg_run "$T_TMP/rb.out" "$T_TMP/rb.err" run -- "$PY" "$HT" hold-listen 80 $H; RB=$BG_PID
wait_for "$T_TMP/rb.err" "window .* open" 50
IDR=$(win_id "$T_TMP/rb.err")
LP=$(pgrep -P "$RB" | head -1)
kill -STOP "$T_DPID"
fl=$(in_inet "$PY" "$HT" flood $H 80 7000)
kill -USR1 "$LP"
wait_for "$T_TMP/rb.out" unlistened 30
t0=$(date +%s.%N)
kill -CONT "$T_DPID"
ok=1; for i in $(seq 200); do grep -q "window $IDR closed (listener-closed)" "$T_DLOG" && break; sleep 0.01; done
ms=$(ms_since "$t0")
t_check "7 ring overflow: $fl through the window while the daemon was stopped" grep -q "connected 7000 failed 0" <<<"$fl"
t_check "7 ring overflow: window $IDR closed (listener-closed) ${ms} ms after SIGCONT (limit 1000)" \
	bash -c "grep -q 'window $IDR closed (listener-closed)' '$T_DLOG' && [ $ms -le 1000 ]"
t_check "7 ring overflow: daemon log says kernel events could not be reported" \
	bash -c "tail -n +$M '$T_DLOG' | grep -q 'could not be reported'"
t_eq "7 ring overflow: port 80 dropped after" dropped "$(probe inet $H 80)"
t_eq "7 ring overflow: no set element left" 0 "$(porthole_elements)"
stop_bg $RB

# --- 9. a descriptor passed with a control message ------------------------------------------------------------
out=$(in_host timeout 40 "$PY" "$HT" fdpass "$T_SOCK" 2>&1)
t_check "9 RUN with SCM_RIGHTS: refused by sendmsg (EPERM) or an error reply ($out)" \
	bash -c "[ '$out' = eperm ] || [ \"\${1#error: }\" != \"\$1\" ]" _ "$out"
t0=$(date +%s.%N)
timeout 5 env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" status >/dev/null 2>&1; rc=$?
ms=$(ms_since "$t0")
t_check "9 after the passed descriptor: daemon answers status within 1 s (rc $rc, $ms ms)" test "$rc" = 0 -a "$ms" -lt 1000
t_check "9 after the passed descriptor: daemon alive" kill -0 "$T_DPID"

# --- 10. limits per uid, root never locked out ----------------------------------------------------------------
if [ "$NOBODY_OK" = 1 ]; then
	M=$(log_mark)
	NB=()
	for i in $(seq 16); do bg_nobody /dev/null "$T_TMP/nb$i.err" run -- sleep 30; NB+=($BG_PID); done
	for i in $(seq 100); do
		[ "$(log_from "$M" | grep -c 'session [0-9]* started .* uid 65534 ')" -ge 16 ] && break; sleep 0.1
	done
	t_eq "10 uid 65534: 16 sessions run" 16 "$(log_from "$M" | grep -c 'session [0-9]* started .* uid 65534 ')"
	r0=$(refused_count 65534 run)
	ph_nobody run -- true 2>"$T_TMP/nb17.err"; rc=$?
	t_check "10 uid 65534: the 17th session refused (exit $rc): $(head -1 "$T_TMP/nb17.err")" \
		bash -c "[ $rc != 0 ] && grep -q 'already runs 16 sessions' '$T_TMP/nb17.err'"
	t_eq "10 uid 65534: a refused record for the 17th" $((r0 + 1)) "$(refused_count 65534 run)"
	ph_host run -- true 2>"$T_TMP/root10.err"; rc=$?
	t_check "10 root still gets a session while uid 65534 holds 16 (exit $rc)" \
		bash -c "[ $rc = 0 ] && tail -n +$M '$T_DLOG' | grep -q 'session [0-9]* started .* uid 0 '"
	stop_bg "${NB[@]}"
	sleep 0.5
	c0=$(refused_count 65534 connect)
	coproc CONNS { as_nobody "$PY" "$HT" conns "$T_SOCK" 33; }
	T_PIDS+=($CONNS_PID)
	read -r -t 20 held <&"${CONNS[0]}"
	t_check "10 uid 65534: 33 idle connections, only the 33rd refused ($held)" \
		grep -q "^accepted 32 refused 1 first-refused 33: .*too many connections" <<<"$held"
	t_eq "10 uid 65534: a refused record for the 33rd connection" $((c0 + 1)) "$(refused_count 65534 connect)"
	ph status >/dev/null 2>&1; t_eq "10 root still connects while uid 65534 holds 32" 0 $?
	exec {CONNS[1]}>&-
	wait $CONNS_PID 2>/dev/null
else
	t_skip "10 limits: no group 'nogroup' on this machine"
fi

# --- 11. a member closes only their own windows ------------------------------------------------------------------
if [ "$NOBODY_OK" = 1 ]; then
	bg_run /dev/null "$T_TMP/root11.err" run -- "$PY" "$T_TOOLS/listen.py" 80 60 $H; R11=$BG_PID
	bg_nobody /dev/null "$T_TMP/nb11.err" run -- "$PY" "$T_TOOLS/listen.py" 443 60 $H; N11=$BG_PID
	# a designation's window (watch mode): a listener in the designated cgroup
	( echo $BASHPID >"$T_CG2/$DES/cgroup.procs"; exec nsenter --net=/run/netns/"$T_PFX-host" -- \
		"$PY" "$T_TOOLS/listen.py" 80 60 $H2 ) >/dev/null 2>&1 & W11=$!; T_PIDS+=($W11)
	wait_for "$T_TMP/root11.err" "window .* open" 50; wait_for "$T_TMP/nb11.err" "window .* open" 50
	IDROOT=$(win_id "$T_TMP/root11.err"); IDNB=$(win_id "$T_TMP/nb11.err")
	IDW=
	for i in $(seq 50); do
		IDW=$("$PY" -c '
import json, sys
w = [r["window"] for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "window-open"
     and r.get("designation", {}).get("type") == "cgroup"]
print(w[-1] if w else "")' "$A")
		[ -n "$IDW" ] && break; sleep 0.1
	done
	r0=$(refused_count 65534 close)
	ph_nobody close "$IDROOT" 2>"$T_TMP/cl11.err"; rc=$?
	t_check "11 uid 65534 closing root's window $IDROOT: refused (exit $rc): $(head -1 "$T_TMP/cl11.err")" \
		bash -c "[ $rc != 0 ] && grep -q 'only its owner or root' '$T_TMP/cl11.err'"
	t_eq "11 a refused record for that close" $((r0 + 1)) "$(refused_count 65534 close)"
	t_eq "11 root's window stays open" open "$(probe inet $H 80)"
	if [ -n "${IDW:-}" ]; then
		ph_nobody close "$IDW" 2>"$T_TMP/cl11w.err"; rc=$?
		t_check "11 uid 65534 closing designation window $IDW: refused (exit $rc)" \
			bash -c "[ $rc != 0 ] && grep -q 'only its owner or root' '$T_TMP/cl11w.err'"
		t_eq "11 the designation's window stays open" open "$(probe inet $H2 80)"
	else
		t_fail "11 the designated cgroup's listener got no window (cannot test closing it)"
	fi
	ph_nobody close "$IDNB" >"$T_TMP/cl11o.out" 2>&1; rc=$?
	t_eq "11 uid 65534 closes its own window $IDNB" "0 window $IDNB closed" "$rc $(cat "$T_TMP/cl11o.out")"
	t_eq "11 its own window is closed" dropped "$(probe inet $H 443)"
	stop_bg $R11 $N11 $W11
	wait_rules_zero 20
else
	t_skip "11 close authorisation: no group 'nogroup' on this machine"
fi

# --- 12. spoofed /proc fields -------------------------------------------------------------------------------------
in_host "$PY" "$HT" spoof "$T_SOCK" >"$T_TMP/spoof.out" 2>&1
sed 's/^/    /' "$T_TMP/spoof.out"
t_check "12 not our child, comm 'PPid:\\t<client pid>': refused" grep -q "^comm-tab -> error: run: .*not a child" "$T_TMP/spoof.out"
t_check "12 not our child, comm 'PPid: <client pid>': refused" grep -q "^comm-space -> error: run: .*not a child" "$T_TMP/spoof.out"
t_check "12 the spoofed comm really shows in /proc/PID/status" grep -q "^comm-space .*name 'PPid: [0-9]*'" "$T_TMP/spoof.out"
t_check "12 a child that already runs 2 threads: refused" grep -q "^two-threads -> error: run: .*threads.*threads 2 " "$T_TMP/spoof.out"
t_check "12 a proper waiting child: accepted" grep -q "^proper -> run-ok" "$T_TMP/spoof.out"
if [ "$NOBODY_OK" = 1 ]; then
	cp /bin/sleep "$T_TMP/suid-sleep" && chmod 4755 "$T_TMP/suid-sleep" && chmod 755 "$T_TMP"
	in_host setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$HT" suid "$T_SOCK" "$T_TMP/suid-sleep" >"$T_TMP/suid.out" 2>&1
	sed 's/^/    /' "$T_TMP/suid.out"
	t_check "12 uid 65534's own child running a setuid-root binary (euid 0): refused" \
		grep -q "^setuid-child -> error: run: .*not owned by the caller through and through" "$T_TMP/suid.out"
	t_check "12 ... and the child really ran with euid 0" grep -q "uid 65534[[:space:]]*0" "$T_TMP/suid.out"
	# after the check: the session's command itself is a setuid-root
	# binary; it runs with euid 0 and listens: not for the session
	cp /usr/bin/python3 "$T_TMP/suid-python" && chmod 4755 "$T_TMP/suid-python"
	bg_nobody "$T_TMP/suid12.out" "$T_TMP/suid12.err" run -- "$T_TMP/suid-python" "$T_TOOLS/listen.py" 80 30 $H
	S12=$BG_PID
	suid_listens() { in_host ss -ltnpH "sport = :80" | grep -q suid-python; }
	w12=$(grep -c '"event":"window-open"' "$A")
	for _ in $(seq 100); do suid_listens && break; sleep 0.1; done
	t_check "12 a session's command that is a setuid-root binary listens (euid 0)" suid_listens
	t_eq "12 ... and gets no window: the blocked Internet is dropped" dropped "$(probe inet $H 80)"
	t_eq "12 ... no window opened" "$w12" "$(grep -c '"event":"window-open"' "$A")"
	stop_bg $S12
	wait_rules_zero 20
else
	t_skip "12 setuid child: no group 'nogroup' on this machine"
fi

# --- 13. output injection through an exe name ------------------------------------------------------------------------
NAME=$'ev\n\e[31mred\xffil'
mkdir -p "$T_TMP/bin"; cp "$(readlink -f /usr/bin/python3)" "$T_TMP/bin/$NAME"
M=$(log_mark)
bg_run /dev/null "$T_TMP/inj.err" run -- "$T_TMP/bin/$NAME" "$T_TOOLS/listen.py" 80 30 $H; INJ=$BG_PID
wait_for "$T_TMP/inj.err" "window .* open" 50
IDI=$(win_id "$T_TMP/inj.err")
ph status >"$T_TMP/st.out" 2>&1
ph status --json >"$T_TMP/st.json" 2>&1
stop_bg $INJ
ph log --file "$A" >"$T_TMP/log.out" 2>&1
# check_text FILE: no raw ESC, no \xff, every line starts as the verb prints it
check_text() { "$PY" - "$@" <<'EOF'
import re, sys
path, first = sys.argv[1], sys.argv[2]
d = open(path, "rb").read()
bad = [w for w, b in (("ESC", b"\x1b"), ("\\xff", b"\xff")) if b in d]
lines = d.decode("utf-8", "replace").splitlines()
stray = [l for l in lines[1 if first == "header" else 0:] if not re.match(r"^(\d+ |\d{4}-\d\d-\d\d)", l)]
print("raw %s; stray lines %r" % (bad or "none", stray[:3]) if bad or stray else "ok")
EOF
}
r=$(check_text "$T_TMP/st.out" header)
t_eq "13 porthole status: no raw ESC/newline/\\xff from the exe name" ok "$r"
t_check "13 porthole status: the name appears escaped on window $IDI's line" grep -q "^$IDI .*ev.*red.*il" "$T_TMP/st.out"
r=$(check_text "$T_TMP/log.out" header)
t_eq "13 porthole log: no raw ESC/newline/\\xff from the exe name" ok "$r"
t_check "13 porthole log: the window-open line shows the escaped name" grep -q "window-open .*$IDI .*ev.*red.*il" "$T_TMP/log.out"
r=$("$PY" - "$A" "$T_TMP/st.json" "$IDI" <<'EOF'
import json, sys
out = []
for n, l in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        r = json.loads(l.decode("utf-8"))
    except Exception as e:
        out.append("line %d: %s" % (n, e))
        continue
    if r.get("event") == "window-open" and str(r.get("window")) == sys.argv[3] and "\n\x1b[31mred" not in r.get("exe", ""):
        out.append("exe not preserved: %r" % r.get("exe"))
try:
    json.loads(open(sys.argv[2], "rb").read().decode("utf-8"))
except Exception as e:
    out.append("status --json: %s" % e)
print("; ".join(out) or "ok")
EOF
)
t_eq "13 audit log: every line valid UTF-8 and strict JSON (and status --json)" ok "$r"
r=$(log_from "$M" | "$PY" -c 'import sys; d=sys.stdin.buffer.read(); print("raw ESC" if b"\x1b" in d else "ok")')
t_eq "13 daemon log (extra): no raw ESC from the exe name" ok "$r"
[ "$r" = ok ] || t_log "daemon log: $(log_from "$M" | grep -a -A1 "window $IDI open" | cat -v | head -3)"

# --- 17. a session cannot chain windows past its deadline ---------------------------------------------------------------
bg_run "$T_TMP/rl17.out" "$T_TMP/rl17.err" run --max-window 4 -- "$PY" "$HT" relisten 80 $H; RL17=$BG_PID
wait_for "$T_TMP/rl17.out" "listen 3" 80
sleep 0.3
st3=$(probe inet $H 80)
wait $RL17
ids=$(grep -o 'window [0-9]* open' "$T_TMP/rl17.err" | awk '{print $2}')
set -- $ids
t_eq "17 two windows for the first two listens" 2 "$#"
d1=$(audit_field window-open "${1:-x}" deadline); d2=$(audit_field window-open "${2:-x}" deadline)
t_check "17 the second window's deadline equals the first's ($d1 / $d2)" test -n "$d1" -a "$d1" != None -a "$d1" = "$d2"
t_eq "17 a listen after 4 s: dropped" dropped "$st3"
t_check "17 a listen after 4 s: porthole run says it got no window" grep -q "got NO window" "$T_TMP/rl17.err"

# --- R. a session's socket outliving its session never rides another session's window --------------------------------
PL=$T_TOOLS/passlisten.py
# a session that hands its listener on $H2:80 to an untagged parent and ends;
# the parent (coproc HAND) keeps it; held: "holding mark 0x..."
hand_over() {
	coproc HAND { in_host env PORTHOLE_SOCKET="$T_SOCK" "$PY" "$PL" parent $H2 80 \
		"$PORTHOLE_BIN/porthole" run -- "$PY" "$PL" child 2>&1; }
	T_PIDS+=($HAND_PID)
	held=
	while read -r -t 15 line <&"${HAND[0]}"; do
		case $line in holding*) held=$line; break ;; esac
	done
}
hand_back() { exec {HAND[1]}>&-; wait $HAND_PID 2>/dev/null; }
hand_over
t_check "R the first session's listener is handed to an untagged process and the session ends ($held)" \
	grep -q "holding mark 0x[1-9a-f]" <<<"$held"
oldmark=${held##* }
bg_run /dev/null "$T_TMP/r2.err" run -- "$PY" "$T_TOOLS/listen.py" 80 4 $H; RB=$BG_PID
wait_for "$T_TMP/r2.err" "window .* open" 30
newmark=$(grep -o "window [0-9]* open: .* mark 0x[0-9a-f]*" "$T_DLOG" | tail -1 | grep -o "0x[0-9a-f]*$")
t_check "R the next session gets another mark ($newmark, not $oldmark)" test -n "$newmark" -a "$newmark" != "$oldmark"
t_eq "R the new session's window admits its own listener" open "$(probe inet $H 80)"
t_eq "R ... and not the socket carrying the old session's mark" dropped "$(probe inet $H2 80)"
hand_back
wait $RB
out=$(in_host "$PY" "$PL" premarked $H2 8081 0x2ab 2>&1)
t_eq "R an unwatched port: the mark stays as the process set it" "mark after bind 0x2ab" "$out"
out=$(in_host "$PY" "$PL" premarked $H2 80 0x40002ab 2>&1)
t_eq "R ... on a watched port: only porthole's bits (the default 0xff000000) are cleared, the others kept" "mark after bind 0x2ab" "$out"

# the same with only two session marks (socket_mark = 0x1/0x3: 0x1 admits, 0x2 and 0x3 name sessions):
# while the handed-over socket carries one of them, a third session must not get it
daemon_stop
daemon_start "socket_mark = 0x1/0x3" || t_fail "R daemon start with two marks"
hand_over
bg_run /dev/null "$T_TMP/rb.err" run -- "$PY" "$T_TOOLS/listen.py" 80 5 $H; RB=$BG_PID
wait_for "$T_TMP/rb.err" "window .* open" 30
in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" run -- "$PY" "$T_TOOLS/listen.py" 80 2 $H6 \
	>/dev/null 2>"$T_TMP/rc.err"; rc=$?
t_check "R two marks, one held by the old socket, one by a live session ($held): a third session is refused" \
	grep -q "no free window mark" "$T_TMP/rc.err"
t_eq "R ... with exit 77" 77 $rc
t_eq "R ... and the old socket stays dropped" dropped "$(probe inet $H2 80)"
hand_back
wait $RB

# --- 8. window ids survive a deleted audit log ---------------------------------------------------------------------------
LAST=$("$PY" -c '
import json, sys
print(max([json.loads(l).get("window", 0) for l in open(sys.argv[1])]))' "$A")
daemon_stop; t_eq "8 daemon stops cleanly" 0 $?
rm -f "$A"
daemon_start || t_fail "8 daemon restart"  # ports: the default, 80
bg_run /dev/null "$T_TMP/id8.err" run -- "$PY" "$T_TOOLS/listen.py" 80 1 $H; I8=$BG_PID
wait_for "$T_TMP/id8.err" "window .* open" 50
wait $I8
ID8=$(win_id "$T_TMP/id8.err")
t_check "8 audit log deleted: next window id ${ID8:-none} > last $LAST" test "${ID8:-0}" -gt "$LAST"

# --- 5. a host rule rewritten by iptables-save | iptables-restore is still ours -------------------------------------------
if command -v iptables-save >/dev/null && iptables -V 2>/dev/null | grep -q nf_tables; then
	M=$(log_mark)
	in_host nft delete table inet filter
	in_host iptables -P INPUT DROP
	in_host iptables -A INPUT -i lo -j ACCEPT
	in_host iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	# porthole's rule in iptables' view (either comment form) and in nft's
	ipt_rules() { in_host iptables-save 2>/dev/null | grep -c -- '--comment "\?porthole'; }
	nft_mark_rules() { in_host nft list chain ip filter INPUT 2>/dev/null | grep -cE 'mark.*0x0?1000000'; }
	t_eq "5 iptables-nft lab: port 80 dropped before" dropped "$(probe inet $H 80 2>/dev/null)"
	bg_run /dev/null "$T_TMP/ipt.err" run -- "$PY" "$T_TOOLS/listen.py" 80 60 $H; IPT=$BG_PID
	wait_for "$T_TMP/ipt.err" "window .* open" 50
	u0=$(porthole_rules 2>/dev/null) # the rule-comment form porthole writes
	t_eq "5 window open in ip filter INPUT" "open 1" "$(probe inet $H 80 2>/dev/null) $(ipt_rules)"
	in_host sh -c 'iptables-save | iptables-restore' 2>&1 | grep -v '^# Warning'
	sleep 0.5
	u1=$(porthole_rules 2>/dev/null)
	t_log "porthole's rule after the restore: $(in_host iptables-save 2>/dev/null | grep porthole); nft: $(in_host nft -a list chain ip filter INPUT 2>/dev/null | grep -E 'mark.*0x0?1000000')"
	t_check "5 the restore rewrote the comment as an xt comment match (nft comment form: $u0 before, $u1 after)" \
		test "$u0" = 1 -a "$u1" = 0
	t_eq "5 after iptables-save | iptables-restore: still admits" open "$(probe inet $H 80 2>/dev/null)"
	t_eq "5 after the restore: exactly one porthole rule (the rewritten one, not a second)" "1 1" "$(ipt_rules) $(nft_mark_rules)"
	stop_bg $IPT
	for i in $(seq 20); do [ "$(nft_mark_rules)" = 0 ] && break; sleep 0.1; done
	t_eq "5 window closed: the rewritten rule was recognised and removed" "0 0" "$(ipt_rules) $(nft_mark_rules)"
	t_eq "5 daemon log: no error" "" "$(log_errors "$M")"
	in_host iptables -F INPUT; in_host iptables -P INPUT ACCEPT; in_host nft delete table ip filter 2>/dev/null
	nslab_ruleset | in_host nft -f -
else
	t_skip "5 iptables-nft not installed"
fi
daemon_stop

# --- 4b. the daemon in a PID namespace of its own --------------------------------------------------------------------------
PNS=$T_PFX-pidns
mkdir "$T_CG2/$PNS" && T_CGROUPS+=("$T_CG2/$PNS")
T_DAEMON_WRAP="unshare --pid --fork --kill-child=SIGTERM"
M=1 # daemon_start empties the log
if daemon_start "ports = 80, 443" "designate = cgroup /$PNS"; then
	DP=$(pgrep -P "$T_DPID" | head -1)
	nspid=$(awk '/^NSpid:/ {print NF - 1}' /proc/"${DP:-0}"/status 2>/dev/null)
	t_eq "4b daemon runs in a PID namespace of its own (NSpid levels)" 2 "${nspid:-none}"
	in_pns() { ( echo $BASHPID >"$T_CG2/$PNS/cgroup.procs"; exec nsenter --net=/run/netns/"$T_PFX-host" -- "$@" ) \
		>/dev/null 2>&1 & BG_PID=$!; T_PIDS+=($BG_PID); }
	in_pns "$PY" "$T_TOOLS/listen.py" 80 60 $H; P1=$BG_PID
	for i in $(seq 50); do grep -q 'window [0-9]* open' "$T_DLOG" && break; sleep 0.1; done
	t_eq "4b window open (designated cgroup)" open "$(probe inet $H 80)"
	# the daemon's own commits: three more windows opened and closed on 443
	for k in 1 2 3; do
		in_pns "$PY" "$T_TOOLS/listen.py" 443 0.6 $H; P2=$BG_PID
		wait $P2
		sleep 0.2
	done
	nopen=$(grep -c 'window [0-9]* open' "$T_DLOG")
	t_eq "4b own commits: the three tcp/443 windows opened" 4 "$nopen"
	t_eq "4b own commits not taken for foreign changes (no 'ruleset changed' line)" 0 \
		"$(log_from "$M" | grep -c 'ruleset changed by another process')"
	in_host nft -f "$T_TMP/reload.nft"
	sleep 0.3
	t_eq "4b real reload: rules restored (tcp/80, tcp/443)" 2 "$(porthole_rules)"
	t_eq "4b real reload: window still open" open "$(probe inet $H 80)"
	t_check "4b real reload: reported as a foreign change" bash -c "tail -n +$M '$T_DLOG' | grep -q 'ruleset changed by another process'"
	stop_bg $P1
	kill -TERM "$DP"; wait "$T_DPID"; t_eq "4b daemon in the PID namespace stops cleanly" 0 $?
	T_DPID=
else
	t_fail "4b daemon start in a new PID namespace"
fi
unset T_DAEMON_WRAP
t_eq "after everything: no porthole rule left" 0 "$(porthole_rules)"

t_summary
