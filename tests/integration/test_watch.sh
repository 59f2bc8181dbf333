#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Watch mode (issue 6): processes designated by the config get their window
# without `porthole run` -- by cgroup, unit, executable (device+inode) or uid,
# and the window admits only the designated process's own (marked) socket.
set -u
source "$(dirname "$0")/../lib.sh"
t_start watch lab
A=$T_TMP/audit.jsonl
PY311=$(readlink -f /usr/bin/python3)
# unprivileged listeners on port 80, inside the test's host namespace only
in_host sysctl -qw net.ipv4.ip_unprivileged_port_start=80
chmod 0755 "$T_TMP"
cp "$PY311" "$T_TMP/python-copy"; chmod 0755 "$T_TMP/python-copy"

# cgroups the test designates: one below our own test cgroup, one as a unit
CRON=$T_PFX-cron
UNIT=porthole-test-$$.service
# a hybrid layout may have no system.slice in the v2 hierarchy: make it, and
# remove it again (after the unit's cgroup: cleanup goes in reverse order)
if [ ! -d "$T_CG2/system.slice" ]; then
	mkdir "$T_CG2/system.slice" 2>/dev/null && T_CGROUPS+=("$T_CG2/system.slice")
fi
[ -d "$T_CG2/system.slice" ] || { t_skip "no system.slice cgroup"; }

daemon_start "designate = cgroup /$CRON" \
	"designate = unit $UNIT" \
	"designate = exe $PY311 ports=80 max_window=60" \
	"designate = uid nobody" || { t_fail "daemon start"; t_summary; exit 1; }
BEFORE=$(ruleset_dump)

# run_in_cgroup CG CMD...: background CMD in the host netns inside cgroup CG
run_in_cgroup() {
	local cg=$1; shift
	(
		echo $BASHPID >"$T_CG2$cg/cgroup.procs"
		exec nsenter --net=/run/netns/"$T_PFX-host" -- "$@"
	) >/dev/null 2>&1 &
	BG_PID=$!; T_PIDS+=("$BG_PID")
}

# 1. a cgroup that appears after the daemon started (a timer-started service)
mkdir "$T_CG2/$CRON"; T_CGROUPS+=("$T_CG2/$CRON")
sleep 0.2
t_check "cgroup designation followed when the cgroup appears" grep -q "cgroup /$CRON exists" "$T_DLOG"
run_in_cgroup "/$CRON" "$T_TMP/python-copy" "$T_TOOLS/listen.py" 80 3 $H
sleep 0.5
t_eq "cgroup designation: its process's listener open from the internet" open "$(probe inet $H 80)"
t_eq "cgroup designation: one window element, the designation's mark . port 80" 1 "$(porthole_elements)"
t_eq "cgroup designation: one host rule (accept on porthole's admitted mark)" 1 "$(porthole_rules)"
wait $BG_PID
sleep 0.2
t_eq "cgroup designation: closed after" dropped "$(probe inet $H 80)"
t_check "cgroup designation: audit names the designation" \
	grep -q '"designation":{"type":"cgroup","value":"/'"$CRON"'"' "$A"

# 2. the unit form: /system.slice/NAME
mkdir "$T_CG2/system.slice/$UNIT"; T_CGROUPS+=("$T_CG2/system.slice/$UNIT")
sleep 0.2
run_in_cgroup "/system.slice/$UNIT" "$T_TMP/python-copy" "$T_TOOLS/listen.py" 80 2 $H
sleep 0.5
t_eq "unit designation ($UNIT): open" open "$(probe inet $H 80)"
wait $BG_PID
t_check "unit designation: recorded as unit" grep -q '"type":"unit","value":"'"$UNIT"'"' "$A"

# 3. executable: the designated binary in a shared cgroup gets a window; a
#    copy of it (another inode) in the same cgroup on another address does not
mkdir "$T_CG2/$T_PFX-shared"; T_CGROUPS+=("$T_CG2/$T_PFX-shared")
run_in_cgroup "/$T_PFX-shared" "$PY311" "$T_TOOLS/listen.py" 80 4 $H; EXE=$BG_PID
run_in_cgroup "/$T_PFX-shared" "$T_TMP/python-copy" "$T_TOOLS/listen.py" 80 4 $H2; COPY=$BG_PID
sleep 0.5
t_eq "exe designation: the designated binary's listener open" open "$(probe inet $H 80)"
t_eq "exe designation: a copy of the binary, same cgroup, other address: dropped" dropped "$(probe inet $H2 80)"
t_eq "exe designation: port 8080 stays dropped" dropped "$(probe inet $H 8080)"
wait $EXE $COPY
run_in_cgroup "/$T_PFX-shared" bash -c "exec -a certbot $T_TMP/python-copy $T_TOOLS/listen.py 80 2 $H"; SP=$BG_PID
sleep 0.5
t_eq "a process renamed 'certbot' (argv/comm) gets no window" dropped "$(probe inet $H 80)"
wait $SP
t_check "exe designation: recorded with its config line" grep -q '"type":"exe","value":"'"$PY311"'","config_line":' "$A"

# 4. uid: nobody is designated, another uid is not
bg_host /dev/null /dev/null setpriv --reuid=65534 --regid=65534 --clear-groups "$T_TMP/python-copy" "$T_TOOLS/listen.py" 80 3 $H; U1=$BG_PID
sleep 0.5
t_eq "uid designation (nobody): open" open "$(probe inet $H 80)"
wait $U1
bg_host /dev/null /dev/null setpriv --reuid=65533 --regid=65533 --clear-groups "$T_TMP/python-copy" "$T_TOOLS/listen.py" 80 2 $H; U2=$BG_PID
sleep 0.5
t_eq "another uid binding port 80: no window" dropped "$(probe inet $H 80)"
wait $U2

# 5. binds and exits at once: the window opens and closes, both recorded
n0=$(grep -c '"event":"window-close"' "$A")
run_in_cgroup "/$CRON" "$T_ROOT/build/bench/lat_listen" $H 80 5
wait $BG_PID; sleep 0.3
t_eq "bind-and-exit: window opened and closed again" "$((n0 + 1))" "$(grep -c '"event":"window-close"' "$A")"
t_check "bind-and-exit: close reason recorded" bash -c "tail -1 '$A' | grep -q '\"reason\":\"\\(listener-closed\\|exited\\)\"'"
t_eq "watch mode leaves no rule" 0 "$(porthole_rules)"
t_eq "watch mode: ruleset identical" "$BEFORE" "$(ruleset_dump)"

# 6. open latency in watch mode (listen() -> first SYN answered)
: >"$T_TMP/lat"
for i in $(seq "${WATCH_LAT_N:-30}"); do
	in_inet "$T_ROOT/build/bench/synprobe" $H 80 3000 100 >"$T_TMP/p.out" & PP=$!
	sleep 0.02
	(echo $BASHPID >"$T_CG2/$CRON/cgroup.procs"; exec nsenter --net=/run/netns/"$T_PFX-host" -- "$T_ROOT/build/bench/lat_listen" $H 80 2000) >"$T_TMP/l.out"
	wait $PP
	grep -q timeout "$T_TMP/p.out" || echo $(( $(cat "$T_TMP/p.out") - $(cat "$T_TMP/l.out") )) >>"$T_TMP/lat"
done
"$PY" -c "
import sys
v = sorted(int(x) / 1e6 for x in open('$T_TMP/lat') if x.strip())
print('    watch-mode open latency over %d windows: median %.3f ms, max %.3f ms' % (len(v), v[len(v)//2], v[-1]))
sys.exit(0 if len(v) >= ${WATCH_LAT_N:-30} else 1)" && t_pass "watch-mode windows open for every designated listener" \
	|| t_fail "watch-mode windows open for every designated listener"
daemon_stop; t_eq "daemon stops cleanly" 0 $?

# 7. configs that must be rejected, with FILE:LINE
cp "$PY311" "$T_TMP/py-gw"; chmod 0775 "$T_TMP/py-gw"
cp "$PY311" "$T_TMP/py-user"; chown 65534 "$T_TMP/py-user"; chmod 0755 "$T_TMP/py-user"
for bad in "designate = exe $T_TMP/py-gw|owned by root and not writable" \
	"designate = exe $T_TMP/py-user|owned by root and not writable" \
	"designate = exe relative/lego|absolute path" \
	"designate = exe /nonexistent/lego|No such file" \
	"designate = unit certbot|not a unit name" \
	"designate = unit ../../etc.service|not a unit name" \
	"designate = cgroup relative/path|absolute path" \
	"designate = cgroup /a/../b|absolute path" \
	"designate = uid no-such-user-xyz|no user" \
	"designate = uid root|root cannot be designated" \
	"designate = user nobody|unknown type" \
	"designate = uid nobody ports=443|not in 'ports'" \
	"designate = uid nobody max_window=9999|exceeds max_window" \
	"designate = uid nobody colour=red|unknown option" \
	"socket_mark = 0x1/0x0|VALUE must be nonzero" \
	"socket_mark = 0x10000|expected VALUE/MASK"; do
	line=${bad%%|*}; want=${bad#*|}
	printf 'ports = 80\n%s\n' "$line" >"$T_TMP/bad.conf"
	out=$("$PORTHOLE_BIN/portholed" -n -c "$T_TMP/bad.conf" 2>&1); rc=$?
	if [ $rc = 78 ] && grep -q "bad.conf:2: .*$want" <<<"$out"; then t_pass "rejected: $line"
	else t_fail "rejected: $line (rc=$rc: $out)"; fi
done
printf 'designate = unit certbot.service\ndesignate = exe %s ports=80 max_window=120\ndesignate = uid 65534\ndesignate = cgroup /system.slice/x.service\nsocket_mark = 0x700000/0xf00000\n' "$PY311" >"$T_TMP/good.conf"
"$PORTHOLE_BIN/portholed" -n -c "$T_TMP/good.conf" >/dev/null 2>&1; t_eq "the README's example designations are accepted" 0 $?

t_summary
