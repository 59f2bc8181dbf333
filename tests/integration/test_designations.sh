#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Designations that do not mean what the admin thinks (hardening items 14-16):
# a script designated by path is refused (the kernel sees its interpreter);
# interpreters, setuid and capability binaries, shared accounts and broad
# cgroups are warned about at start and by `porthole check`; an executable
# replaced by a package upgrade is followed to its new inode and the old one
# stops being designated.
set -u
source "$(dirname "$0")/../lib.sh"
t_start designations lab

D=$PORTHOLE_BIN/portholed
mkdir -p "$T_TMP/bin"
chmod 755 "$T_TMP" "$T_TMP/bin"

# --- 14: a script is refused, naming its interpreter -------------------------------------
printf '#!/usr/bin/python3\nprint("hi")\n' >"$T_TMP/bin/fake-certbot"
chmod 755 "$T_TMP/bin/fake-certbot"
printf 'designate = exe %s\n' "$T_TMP/bin/fake-certbot" >"$T_TMP/script.conf"
out=$("$D" -n -c "$T_TMP/script.conf" 2>&1); rc=$?
t_eq "script designated by path: portholed -n exits 78" 78 $rc
t_check "the message names the interpreter (/usr/bin/python3)" grep -q "script run by /usr/bin/python3" <<<"$out"
t_check "the message suggests unit or uid" grep -q "designate = unit .*designate = uid" <<<"$out"
printf '#!/usr/bin/env -S perl -w\n' >"$T_TMP/bin/envscript"; chmod 755 "$T_TMP/bin/envscript"
printf 'designate = exe %s\n' "$T_TMP/bin/envscript" >"$T_TMP/env.conf"
out=$("$D" -n -c "$T_TMP/env.conf" 2>&1); rc=$?
t_check "a script through env -S: refused naming perl ($rc)" grep -q "script run by perl" <<<"$out"
if [ -x /usr/bin/certbot ] && head -c2 /usr/bin/certbot | grep -q '#!'; then
	printf 'designate = exe /usr/bin/certbot\n' >"$T_TMP/certbot.conf"
	out=$("$D" -n -c "$T_TMP/certbot.conf" 2>&1); rc=$?
	t_eq "Debian's /usr/bin/certbot (a Python script): refused, exit 78" 78 $rc
else
	t_skip "/usr/bin/certbot is not a script here"
fi
in_host "$PORTHOLE_BIN/porthole" check --config "$T_TMP/script.conf" >"$T_TMP/c_script.txt"; rc=$?
t_eq "porthole check on that config: exit 1" 1 $rc
t_check "porthole check FAILs the config line" grep -q "^FAIL .*config .*script run by" "$T_TMP/c_script.txt"

# --- 14/16: warnings for designations that cover more than one program -----------------------
PY311=$(readlink -f /usr/bin/python3)
cp /bin/true "$T_TMP/bin/suid-tool"; chmod 4755 "$T_TMP/bin/suid-tool"
{
	printf 'designate = exe %s\n' "$PY311"
	printf 'designate = exe %s\n' "$T_TMP/bin/suid-tool"
	printf 'designate = uid www-data\n'
	printf 'designate = cgroup /system.slice\n'
} >"$T_TMP/broad.conf"
"$D" -n -c "$T_TMP/broad.conf" >/dev/null 2>&1; rc=$?
t_eq "broad designations are valid config (warned, not refused)" 0 $rc
in_host "$PORTHOLE_BIN/porthole" check --config "$T_TMP/broad.conf" >"$T_TMP/c_broad.txt"
t_check "check WARNs: the interpreter" grep -q "^WARN .*designate exe .*is an interpreter" "$T_TMP/c_broad.txt"
t_check "check WARNs: the setuid binary" grep -q "^WARN .*designate exe .*suid-tool.*is setuid" "$T_TMP/c_broad.txt"
t_check "check WARNs: the shared account" grep -q "^WARN .*designate uid www-data .*shared service account" "$T_TMP/c_broad.txt"
t_check "check WARNs: the broad cgroup" grep -q "^WARN .*designate cgroup /system.slice .*many services" "$T_TMP/c_broad.txt"
if command -v setcap >/dev/null; then
	printf 'designate = exe %s\n' "$T_TMP/bin/cap-tool" >"$T_TMP/cap.conf"
	cp /bin/true "$T_TMP/bin/cap-tool" && setcap cap_net_bind_service+ep "$T_TMP/bin/cap-tool" &&
		in_host "$PORTHOLE_BIN/porthole" check --config "$T_TMP/cap.conf" |
		grep -q "^WARN .*file capabilities" && t_pass "check WARNs: a binary with file capabilities" ||
		t_fail "check WARNs: a binary with file capabilities"
else
	t_skip "setcap (libcap2-bin) not installed: the file-capability warning is not exercised"
fi
daemon_start "designate = uid www-data" "designate = exe $PY311" || { t_fail "daemon start"; t_summary; exit 1; }
t_check "the daemon warns at start: shared account" grep -q "WARN\|<4>.*shared service account" "$T_DLOG"
t_check "the daemon warns at start: interpreter" grep -q "is an interpreter" "$T_DLOG"
daemon_stop

# --- 15: an upgraded executable is followed to its new inode -----------------------------------
cp "$PY311" "$T_TMP/bin/acme-client"
ln "$T_TMP/bin/acme-client" "$T_TMP/bin/acme-client.before-upgrade" # the old inode, still runnable
daemon_start "designate = exe $T_TMP/bin/acme-client ports=80" || { t_fail "daemon start"; t_summary; exit 1; }
bg_host /dev/null /dev/null "$T_TMP/bin/acme-client" "$T_TOOLS/listen.py" 80 2 $H; L=$BG_PID
sleep 0.6
t_eq "before the upgrade: the designated executable gets a window" open "$(probe inet $H 80)"
wait $L
old_ino=$(stat -c %i "$T_TMP/bin/acme-client")
cp "$PY311" "$T_TMP/bin/acme-client.new" && mv -f "$T_TMP/bin/acme-client.new" "$T_TMP/bin/acme-client"
new_ino=$(stat -c %i "$T_TMP/bin/acme-client")
if wait_for "$T_DLOG" "acme-client is now inode $new_ino: designated" 30; then
	t_pass "upgrade (a new file moved over the old one): followed to inode $new_ino"
else
	t_fail "upgrade followed to the new inode"; tail -5 "$T_DLOG"
fi
bg_host /dev/null /dev/null "$T_TMP/bin/acme-client" "$T_TOOLS/listen.py" 80 2 $H; L=$BG_PID
sleep 0.6
t_eq "after the upgrade: the new executable gets a window" open "$(probe inet $H 80)"
wait $L
bg_host /dev/null /dev/null "$T_TMP/bin/acme-client.before-upgrade" "$T_TOOLS/listen.py" 80 2 $H; L=$BG_PID
sleep 0.6
t_eq "after the upgrade: the old inode ($old_ino) is no longer designated" dropped "$(probe inet $H 80)"
wait $L
rm -f "$T_TMP/bin/acme-client"
wait_for "$T_DLOG" "acme-client is gone" 30 && t_pass "removed: no longer designated, said in the log" ||
	t_fail "removed: no longer designated, said in the log"
daemon_stop

# --- 17: a long-lived designated process cannot chain windows past max_window ----------------------
cp "$PY311" "$T_TMP/bin/renewer"
cat >"$T_TMP/relisten.py" <<'PYEOF'
import socket, sys, time
# listen 1 s, pause, listen again, pause past max_window, listen a third time
for dur, gap in ((1.0, 0.5), (1.0, 2.0), (1.5, 0)):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 80)); s.listen(4)
    print("listening", flush=True)
    time.sleep(dur); s.close(); time.sleep(gap)
PYEOF
daemon_start "designate = exe $T_TMP/bin/renewer max_window=3" || { t_fail "daemon start"; t_summary; exit 1; }
bg_host "$T_TMP/relisten.out" /dev/null "$T_TMP/bin/renewer" "$T_TMP/relisten.py" $H; RL=$BG_PID
sleep 4.6
t_eq "third listen of the same process, past its max_window of 3 s: dropped" dropped "$(probe inet $H 80)"
wait $RL
A=$T_TMP/audit.jsonl
n=$("$PY" -c "
import json
opens=[r for r in (json.loads(l) for l in open('$A')) if r['event']=='window-open' and r['designation'].get('value','').endswith('/renewer')]
print(len(opens), len(set(r['deadline'] for r in opens)))")
t_eq "two windows for that process, with one deadline between them" "2 1" "$n"
t_check "the third listen is a refused record" grep -q '"why":"this designated process used up its max_window"' "$A"

# ... nor by forking: a child listening after the parent's budget is spent
# spends the same budget (the kernel passes the budget on at fork)
cat >"$T_TMP/forker.py" <<'PYEOF'
import os, socket, sys, time
def listen(tag, dur):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 80)); s.listen(4)
    print(tag, "listening", flush=True)
    while dur > 0 and not os.path.exists(sys.argv[2]):
        time.sleep(0.05); dur -= 0.05
    s.close()
listen("parent", 1.0)
time.sleep(3.2)              # past the max_window of 3 s, counted from the parent's window
pid = os.fork()
if pid == 0:
    listen("child", 20)
    os._exit(0)
os.waitpid(pid, 0)
PYEOF
R0=$(grep -c '"why":"this designated process used up its max_window"' "$A")
bg_host "$T_TMP/forker.out" /dev/null "$T_TMP/bin/renewer" "$T_TMP/forker.py" $H "$T_TMP/forker.done"; FK=$BG_PID
wait_for "$T_TMP/forker.out" "parent listening" 100
wait_for "$T_DLOG" "renewer" 100
wait_for "$T_TMP/forker.out" "child listening" 100
t_check "a forked child of a designated process listens after the parent's max_window" grep -q "child listening" "$T_TMP/forker.out"
wait_for "$A" '"why":"this designated process used up its max_window"' 50
t_eq "... and is refused: the blocked Internet is dropped" dropped "$(probe inet $H 80)"
t_eq "... one more refused record (its budget is the parent's)" $((R0 + 1)) \
	"$(grep -c '"why":"this designated process used up its max_window"' "$A")"
touch "$T_TMP/forker.done"; wait $FK
daemon_stop
t_summary
