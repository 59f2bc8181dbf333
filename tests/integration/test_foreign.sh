#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Listeners of other network namespaces (issue 23, step 2): a TCP socket that
# listens on a watched port in a namespace other than the daemon's (a
# container's) is reported by the kernel with its bound address, v6only, its
# namespace and the user namespace owning that, checked against
# /proc/PID/ns/net, and recorded until it closes; nothing else changes (no
# window, no rule). One that listened before the daemon started is found at
# start (the kernel walks every task's open files) and recorded the same. What the daemon recorded is read from its debug lines,
# whose shape daemon/foreign.h documents:
#   foreign: listen cookie=C netns=INO ... init_userns=0|1 pid=P ... addr=A port=N v6only=0|1
#   foreign: unlisten cookie=C netns=INO addr=A port=N
#   foreign: ignored cookie=C netns=INO pid=P port=N: REASON
# The daemon runs in the test's host namespace, so every other namespace of
# the machine is foreign to it: each check names the namespace it made.
set -u
source "$(dirname "$0")/../lib.sh"
t_start foreign lab
command -v unshare >/dev/null || { echo "SKIP $T_NAME: unshare not installed (util-linux)"; exit 77; }

# two "containers" on the lab host's bridge (tests/lab/net.sh): c1 listens,
# c2 is where a moving listener goes
t_setup "containers" nslab_containers 2
H_NS=$T_PFX-host C_NS=$T_PFX-c1 O_NS=$T_PFX-c2
CA=$(lab_ctr_v4 1) CA6=$(lab_ctr_v6 1)
C_INO=$(stat -Lc %i /run/netns/"$C_NS")
H_INO=$(stat -Lc %i /run/netns/"$H_NS")

T_DAEMON_FLAGS=-d daemon_start "ports = 80, 443" || { t_fail "daemon start"; t_summary; exit 1; }
BEFORE=$(in_host nft list ruleset)

# a listener: listen.py-like, but v6only chosen, no accept loop; prints
# "listening PID" and holds its socket until killed. With --move NS it then
# executes nsenter into NS (its socket inherited): the pid's namespace is
# another one before the daemon looks.
cat >"$T_TMP/nslisten.py" <<'PY'
import os, socket, sys, time
fam, addr, port, v6only = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET, socket.SOCK_STREAM)
if fam == "6":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(4)
print("listening", os.getpid(), flush=True)
if len(sys.argv) > 6 and sys.argv[5] == "--move":
    s.set_inheritable(True)
    os.execvp("nsenter", ["nsenter", "--net=/run/netns/" + sys.argv[6], "--", "sleep", "60"])
time.sleep(60)
PY
# listen_in NS OUT ARGS...: the listener in NS, backgrounded; LPID: its pid
listen_in() {
	local ns=$1 out=$2; shift 2
	nsenter --net=/run/netns/"$ns" -- "$PY" "$T_TMP/nslisten.py" "$@" >"$out" 2>&1 &
	LPID=$!
	T_PIDS+=("$LPID")
	wait_for "$out" listening || { echo "listener did not start:"; cat "$out"; return 1; }
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# the daemon's line of a listen in namespace INO on PORT (the last one)
listen_line() { grep "foreign: listen .* netns=$1 .* port=$2 " "$T_DLOG" | tail -n1; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# ---- a v4 listener on a specific address -------------------------------------------
# an unwatched port first: the kernel reports in order, so once the watched
# one's line is there the unwatched one would have been said before it
listen_in "$C_NS" "$T_TMP/l8081.out" 4 $CA 8081 0 || t_fail "listener on 8081"
P8081=$LPID
listen_in "$C_NS" "$T_TMP/l80.out" 4 $CA 80 0 || t_fail "listener on 80"
P80=$LPID
wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* port=80 " 30
L=$(listen_line "$C_INO" 80)
t_check "a listener in another namespace on a watched port is reported" test -n "$L"
t_log "$L"
t_eq "... its bound address" $CA "$(field "$L" addr)"
t_eq "... its family" ipv4 "$(field "$L" family)"
t_eq "... v6only 0 (ipv4)" 0 "$(field "$L" v6only)"
t_eq "... its namespace's inode" "$C_INO" "$(field "$L" netns)"
t_eq "... the pid that listened" "$P80" "$(field "$L" pid)"
t_eq "... owned by the initial user namespace" 1 "$(field "$L" init_userns)"
t_eq "... whose inode the kernel gave" 4026531837 "$(field "$L" userns)"
t_check "... with a netns cookie and a cgroup" test "$(field "$L" netns_cookie)" -gt 0 -a "$(field "$L" cgroup)" -gt 0
COOKIE=$(field "$L" cookie)
t_check "an unwatched port (8081) in that namespace is not reported" \
	bash -c "! grep -q 'foreign: .* netns=$C_INO .* port=8081' '$T_DLOG'"
stop "$P80"
t_check "its close is reported, by cookie" wait_for "$T_DLOG" "foreign: unlisten cookie=$COOKIE netns=$C_INO addr=$CA port=80" 30
stop "$P8081"

# ---- v6: a wildcard with and without v6only, a specific address ---------------------
listen_in "$C_NS" "$T_TMP/l6a.out" 6 :: 80 1 || t_fail "listener [::]:80 v6only"
P=$LPID
wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* family=ipv6 addr=:: port=80 v6only=1" 30
t_check "[::]:80 with IPV6_V6ONLY: addr=:: v6only=1" grep -q "foreign: listen .* netns=$C_INO .* family=ipv6 addr=:: port=80 v6only=1" "$T_DLOG"
stop "$P"
t_check "... and its close" wait_for "$T_DLOG" "foreign: unlisten .* netns=$C_INO addr=:: port=80" 30
listen_in "$C_NS" "$T_TMP/l6b.out" 6 :: 443 0 || t_fail "listener [::]:443"
P=$LPID
wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* addr=:: port=443 v6only=0" 30
t_check "[::]:443 without IPV6_V6ONLY (takes IPv4 too): v6only=0" grep -q "foreign: listen .* netns=$C_INO .* family=ipv6 addr=:: port=443 v6only=0" "$T_DLOG"
stop "$P"
listen_in "$C_NS" "$T_TMP/l6c.out" 6 $CA6 80 1 || t_fail "listener [$CA6]:80"
P=$LPID
wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* addr=$CA6 port=80" 30
t_check "[$CA6]:80: its address" grep -q "foreign: listen .* netns=$C_INO .* family=ipv6 addr=$CA6 port=80 v6only=1" "$T_DLOG"
stop "$P"

# ---- a listener in a PID namespace of its own, as in every Docker/Podman container ---
# (the kernel reports it with its pid in the daemon's PID namespace, not 0)
POUT=$T_TMP/lpidns.out
nsenter --net=/run/netns/"$C_NS" -- unshare --pid --fork --kill-child=SIGTERM -- \
	"$PY" "$T_TMP/nslisten.py" 4 $CA 80 0 >"$POUT" 2>&1 &
PU=$!
T_PIDS+=("$PU")
if wait_for "$POUT" listening; then
	PG=$(pgrep -P "$PU" | head -1)
	wait_for "$T_DLOG" "foreign: \(listen\|ignored\) .* netns=$C_INO .* port=80" 30
	t_check "a listener in a PID namespace of its own (pid $(cut -d' ' -f2 "$POUT") there, $PG here) is recorded with its pid" \
		wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* pid=$PG .* port=80 " 30
	t_check "... not ignored as invisible" bash -c "! grep -q 'foreign: ignored .* netns=$C_INO pid=0 ' '$T_DLOG'"
	# (unshare --fork ignores TERM while it waits for its child, and the
	# init of a PID namespace any signal it has no handler for but KILL)
	kill -KILL "$PG" 2>/dev/null
	wait "$PU" 2>/dev/null
	t_check "... and its close" wait_for "$T_DLOG" "foreign: unlisten .* netns=$C_INO addr=$CA port=80" 30
else
	t_fail "a listener in a PID namespace of its own: $(head -c 200 "$POUT")"
fi

# ---- a namespace of an unprivileged kind: unshare -Urn --------------------------------
UOUT=$T_TMP/luser.out
unshare -Urn -- "$PY" "$T_TMP/nslisten.py" 4 0.0.0.0 80 0 >"$UOUT" 2>&1 &
UPID=$!
T_PIDS+=("$UPID")
if wait_for "$UOUT" listening; then
	U_INO=$(stat -Lc %i /proc/$UPID/ns/net)
	wait_for "$T_DLOG" "foreign: listen .* netns=$U_INO .* port=80 " 30
	L=$(listen_line "$U_INO" 80)
	t_check "a listener in a user-namespace-owned namespace (unshare -Urn) is reported" test -n "$L"
	t_log "$L"
	t_eq "... recorded as not owned by the initial user namespace" 0 "$(field "$L" init_userns)"
	t_check "... its owner's inode is not the initial one's" test "$(field "$L" userns)" != 4026531837
	t_eq "... its address: the wildcard" 0.0.0.0 "$(field "$L" addr)"
	stop "$UPID"
	t_check "... and its close" wait_for "$T_DLOG" "foreign: unlisten .* netns=$U_INO addr=0.0.0.0 port=80" 30
else
	t_skip "unshare -Urn: no user namespace here ($(head -c 200 "$UOUT"))"
fi

# ---- a pid whose namespace changed before the daemon looked: recorded unverified -------
# (its socket still listens there: container windows must count it, never give it one)
# (the daemon stopped meanwhile, so the order is certain: the listener moves
# to another namespace, as a reused pid would be another process)
kill -STOP "$T_DPID"
listen_in "$C_NS" "$T_TMP/lmove.out" 4 $CA 443 0 --move "$O_NS" || t_fail "moving listener"
PM=$LPID
for _ in $(seq 50); do
	[ "$(stat -Lc %i /proc/$PM/ns/net 2>/dev/null)" = "$(stat -Lc %i /run/netns/"$O_NS")" ] && break
	sleep 0.1
done
kill -CONT "$T_DPID"
t_check "a listener whose pid is in another namespace by then is unverified, said why" \
	wait_for "$T_DLOG" "foreign: unverified .* netns=$C_INO pid=$PM port=443: .*another namespace now" 30
t_check "... and recorded as unverified (init_userns=0 verified=0)" \
	wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* init_userns=0 pid=$PM .* port=443 .*verified=0" 30
stop "$PM"

# ---- events lost (their ring buffer full): the daemon rereads the kernel's list ------
# With the daemon stopped, 1000 listen+close pairs fill the foreign ring
# buffer (64 KiB: some 580 events); a listener that starts after them has its
# event lost, yet the daemon records it from the kernel's list; the flood's
# listeners, all closed, are not left in its table. The host's own ring is
# not touched (no host line says events were lost).
kill -STOP "$T_DPID"
nsenter --net=/run/netns/"$C_NS" -- "$PY" -c '
import socket, sys
for i in range(1000):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 443)); s.listen(1); s.close()
' "$CA" || t_fail "the flood of listeners"
listen_in "$C_NS" "$T_TMP/llost.out" 4 $CA 80 0 || t_fail "listener after the flood"
PL=$LPID
kill -CONT "$T_DPID"
t_check "lost events of other namespaces' listeners: the daemon says so and rereads" \
	wait_for "$T_DLOG" "foreign: [0-9]* event(s) of other namespaces' listeners could not be reported" 50
t_check "... and records the listener whose event was lost" \
	wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* pid=$PL .* port=80 " 30
L=$(listen_line "$C_INO" 80)
COOKIE=$(field "$L" cookie)
stop "$PL"
t_check "... whose close is then reported" wait_for "$T_DLOG" "foreign: unlisten cookie=$COOKIE " 30
t_check "the host's events lost nothing" bash -c "! grep -q 'kernel event(s) could not be reported' '$T_DLOG'"

# ---- the daemon's own namespace: nothing of this ---------------------------------------
listen_in "$H_NS" "$T_TMP/lhost.out" 4 $H 80 0 || t_fail "host listener"
P=$LPID
sleep 0.5
t_check "a listener in the daemon's own namespace is no foreign listener" \
	bash -c "! grep -q 'foreign: .* netns=$H_INO ' '$T_DLOG'"
stop "$P"

t_eq "no window opened for any of them" 0 "$(porthole_elements)"
t_eq "the host's ruleset is as it was" "$BEFORE" "$(in_host nft list ruleset)"
t_check "daemon still running" kill -0 "$T_DPID"
daemon_stop
t_eq "daemon exits 0" 0 $?

# ---- listeners older than the daemon: found at start ---------------------------------
# (the kernel walks every task's open files once; no LISTEN was seen)
listen_in "$C_NS" "$T_TMP/lold.out" 4 $CA 80 0 || t_fail "listener before the daemon"
PO=$LPID
listen_in "$H_NS" "$T_TMP/lold-host.out" 4 $H 80 0 || t_fail "host listener before the daemon"
PH=$LPID
T_DAEMON_FLAGS=-d daemon_start "ports = 80, 443" || { t_fail "daemon start (again)"; t_summary; exit 1; }
t_check "a listener older than the daemon is recorded at start" \
	wait_for "$T_DLOG" "foreign: listen .* netns=$C_INO .* pid=$PO .* family=ipv4 addr=$CA port=80 " 30
t_check "... said with the count (other tests' listeners may be among them)" \
	grep -q "foreign: [1-9][0-9]* listener(s) of other network namespaces found at start" "$T_DLOG"
t_check "... the daemon's own namespace's is none of them" bash -c "! grep -q 'foreign: .* netns=$H_INO ' '$T_DLOG'"
L=$(listen_line "$C_INO" 80)
t_log "$L"
COOKIE=$(field "$L" cookie)
t_check "... with an id of the walk's own for a cookie (top bit set)" test "${#COOKIE}" = 19 -a "$COOKIE" \> 9223372036854775807
stop "$PO"
t_check "... whose close is then reported" wait_for "$T_DLOG" "foreign: unlisten cookie=$COOKIE netns=$C_INO addr=$CA port=80" 30
stop "$PH"
daemon_stop
t_eq "daemon exits 0" 0 $?
t_summary
