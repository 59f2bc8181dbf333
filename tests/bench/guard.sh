#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark of guarded server windows (`make bench` runs it after bench.sh;
# not part of `make test`). In the namespace lab of tests/lib.sh, a real nginx
# holds port 80 of the geo-blocked host, in a cgroup of its own, and
# portholed (plain build/) serves it with a webroot:
#   1. the guard's cost per guarded request: the kernel's own run-time
#      statistics of the cgroup_skb program (BPF_ENABLE_STATS, on only while
#      this runs, through a descriptor that switches it off when closed),
#      over N whole challenge requests from the internet namespace (each
#      request's handshake, payload, ACKs and FIN all pass the program), and
#      per call for traffic that leaves at the first test;
#   2. connections/s from the allowed country to nginx: no daemon; the daemon
#      without serve lines (its table and hooks, no guard); with a serve line
#      and no window (the guard is loaded, attached only while a server
#      window is open); with a window open (the guard attached, and the
#      candidate rule in prerouting sees every new connection to nginx). The
#      guard's share is the difference to the daemon without serve lines;
#   3. the daemon's memory (smaps_rollup: RSS, PSS, private dirty + clean)
#      with a serve line and no window, and with the server window open.
# Prints one table. BENCH_QUICK=1: fewer samples.
set -u
source "$(dirname "$0")/common.sh"
if [ -n "$QUICK" ]; then N_REQ=200 CONN_S=1 REPS=3; else N_REQ=2000 CONN_S=2 REPS=7; fi

bench_start bench-guard nginx connrate lab
source "$(dirname "$0")/site.sh"
bench_site_up bench_token_0123456789 1024 "off" ""

conn_rate() { # LABEL: REPS runs of connrate from the allowed country to nginx
	local i
	for i in $(seq "$REPS"); do in_allow "$B/connrate" "$H" 80 "$CONN_S" | awk '{ print $3 }'; done | median
	# tens of thousands of closed connections wait in the lab host's
	# conntrack table: a full table drops the next phase's new connections
	in_host conntrack -F >/dev/null 2>&1
}

progress "connections/s, no daemon"
RATE_NONE=$(conn_rate)
T_LINGER=default daemon_start || { echo "bench-guard: daemon start failed" >&2; exit 1; }
progress "connections/s, daemon without serve lines (no guard)"
RATE_DAEMON=$(conn_rate)
daemon_stop

T_LINGER=default daemon_start "serve = cgroup /$T_PFX-nginx webroot=$WWW" || { echo "bench-guard: daemon start failed" >&2; exit 1; }
# smaps_rollup in KiB: "RSS PSS PRIVATE_DIRTY PRIVATE_CLEAN"
mem_now() { awk '/^(Rss|Pss|Private_Dirty|Private_Clean):/ { v[$1] = $2 }
	END { print v["Rss:"], v["Pss:"], v["Private_Dirty:"], v["Private_Clean:"] }' /proc/"$T_DPID"/smaps_rollup; }
sleep 1
MEM_SERVE=$(mem_now)
progress "connections/s, serve line, no window (the guard is attached only during windows)"
RATE_LOADED=$(conn_rate)
echo "$TOK.keyauth" >"$WWW/.well-known/acme-challenge/$TOK"
wait_for "$T_DLOG" "open: guarded" 50 || { echo "bench-guard: no window" >&2; exit 1; }
sleep 1
MEM_WINDOW=$(mem_now)
progress "connections/s, window open"
RATE_OPEN=$(conn_rate)

# the guard's run time, from the kernel's statistics (on while the fd is open)
PROG_ID=$(bpftool prog show -j | "$PY" -c 'import json,sys; print(next(p["id"] for p in json.load(sys.stdin) if p.get("name") == "ph_guard"))' 2>/dev/null |
	tail -1)
stats() { bpftool prog show id "$PROG_ID" -j | "$PY" -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'; }
progress "guard cost: $N_REQ challenge requests"
out=$(in_inet "$PY" - "$H" "$TOK" "$N_REQ" "$PROG_ID" <<'PY'
import ctypes, json, socket, struct, subprocess, sys, time
addr, tok, n, prog = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
libc = ctypes.CDLL(None, use_errno=True)
attr = struct.pack("=I", 0) + b"\0" * 124           # BPF_ENABLE_STATS: type BPF_STATS_RUN_TIME
fd = libc.syscall(321, 32, ctypes.c_char_p(attr), 128)
if fd < 0:
    print("error bpf(BPF_ENABLE_STATS): errno", ctypes.get_errno()); sys.exit(0)
def stats():
    p = json.loads(subprocess.check_output(["bpftool", "prog", "show", "id", prog, "-j"]))
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)
req = b"GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: example.org\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: close\r\n\r\n" % tok.encode()
t0, c0 = stats()
ok = 0
w0 = time.monotonic()
for _ in range(n):
    s = socket.create_connection((addr, 80), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(req)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    ok += data.startswith(b"HTTP/1.1 200")
    s.close()
wall = time.monotonic() - w0
t1, c1 = stats()
print("req", ok, n, t1 - t0, c1 - c0, "%.3f" % wall)
PY
)
read -r _ REQ_OK REQ_N REQ_NS REQ_CALLS REQ_WALL <<<"$out" || true
# traffic that leaves at the first test: the allowed country's connections
out2=$(in_allow "$PY" - "$H" "$PROG_ID" <<'PY'
import ctypes, json, socket, struct, subprocess, sys
addr, prog = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(321, 32, ctypes.c_char_p(struct.pack("=I", 0) + b"\0" * 124), 128)
def stats():
    p = json.loads(subprocess.check_output(["bpftool", "prog", "show", "id", prog, "-j"]))
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)
t0, c0 = stats()
for _ in range(500):
    s = socket.create_connection((addr, 80), timeout=2)
    s.sendall(b"GET / HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
    while s.recv(4096):
        pass
    s.close()
t1, c1 = stats()
print("pass", t1 - t0, c1 - c0)
PY
)
read -r _ PASS_NS PASS_CALLS <<<"$out2" || true
daemon_stop

per_req=$(awk -v ns="${REQ_NS:-0}" -v n="${REQ_OK:-0}" 'BEGIN { printf (n ? "%.2f" : "n/a"), ns / (n ? n : 1) / 1000 }')
per_call=$(awk -v ns="${REQ_NS:-0}" -v n="${REQ_CALLS:-0}" 'BEGIN { printf (n ? "%.0f" : "n/a"), ns / (n ? n : 1) }')
pass_call=$(awk -v ns="${PASS_NS:-0}" -v n="${PASS_CALLS:-0}" 'BEGIN { printf (n ? "%.0f" : "n/a"), ns / (n ? n : 1) }')
printf '\nguarded server windows (nginx, %s run)\n' "$([ -n "$QUICK" ] && echo quick || echo full)"
bench_row "measure" "value"
bench_row "guard: kernel time per guarded challenge request (all its segments)" "$per_req us"
bench_row "guard: per program run on a guarded connection" "$per_call ns"
bench_row "guard: per program run, allowed country's traffic (first test)" "$pass_call ns"
bench_row "guarded requests answered" "${REQ_OK:-0}/${REQ_N:-0}"
bench_row "allowed country -> nginx, connections/s, no daemon" "$RATE_NONE"
bench_row "allowed country -> nginx, connections/s, daemon, no serve line" "$RATE_DAEMON"
bench_row "allowed country -> nginx, connections/s, serve line, no window" "$RATE_LOADED ($(delta "$RATE_DAEMON" "$RATE_LOADED"))"
bench_row "allowed country -> nginx, connections/s, window open" "$RATE_OPEN ($(delta "$RATE_DAEMON" "$RATE_OPEN"))"
memfmt() { awk '{ printf "%d / %d / %d + %d = %d", $1, $2, $3, $4, $3 + $4 }' <<<"$1"; }
bench_row "daemon memory, serve line, no window: RSS / PSS / private d+c (KiB)" "$(memfmt "$MEM_SERVE")"
bench_row "daemon memory, server window open: RSS / PSS / private d+c (KiB)" "$(memfmt "$MEM_WINDOW")"
