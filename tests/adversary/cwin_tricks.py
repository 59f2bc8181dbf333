#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Listeners that try to get (or ride) a container window by a trick, for
tests/adversary/test_cwin_daemon.sh. Each server writes "accept PEER PORT"
to LOG for every connection it accepts (the judge), prints "listening" once
it listens and exits after SECONDS.

cwin_tricks.py serve LOG PORT SECONDS ADDR [reuseport]
    httplog's server, with SO_REUSEPORT if asked (a sibling in one group).
cwin_tricks.py migrate CGROUP-DIR LOG PORT SECONDS
    the socket is made and bound on 0.0.0.0:PORT in this process's cgroup,
    then the process moves into CGROUP-DIR and only then listens.
cwin_tricks.py give UNIXPATH PORT SECONDS
    a socket bound to 0.0.0.0:PORT here (not listening), handed over
    SCM_RIGHTS to whoever listens on UNIXPATH; waits.
cwin_tricks.py take UNIXPATH LOG SECONDS
    takes that socket, listens on it here, logs its connections.
cwin_tricks.py hold LOG PORT SECONDS ADDR STOPFILE
    a connection stays open: each line that comes is logged "line PEER PORT
    TEXT" and answered; once STOPFILE exists the listener closes (prints
    "closed"), the connections it accepted stay.
cwin_tricks.py unshare LOG PORT SECONDS ADDR
    an SO_REUSEPORT socket bound to ADDR:PORT here, then the process moves
    to a new user and network namespace (unshare) and only then listens:
    when the daemon reads the listen, the process is not in the socket's
    namespace any more (the daemon cannot verify who holds it).
cwin_tricks.py inflight LOG PORT SECONDS ADDR GOFILE
    an SO_REUSEPORT socket bound to ADDR:PORT listens, is sent over
    SCM_RIGHTS on a unix socket pair and closed here (prints "inflight"):
    no task's fd table holds it then, only the pair's message queue. Once
    GOFILE exists it is received and kept: logs its connections.
cwin_tricks.py crowd SKIP SECONDS ADDR
    a listener on each of ADDR:1..511 but SKIP (prints "listening N"): a
    namespace whose /proc/net/tcp takes many reads. The kernel lists
    listeners by a hash bucket, (seed(ADDR) ^ port) & mask: the ports of
    one 512-aligned block share the seed's high bits, so SKIP's place among
    them is (seed ^ SKIP) % 512, a random place in the list.
cwin_tricks.py ephemeral PORT
    in this namespace, the ephemeral range set to PORT..PORT: a socket
    bound to port 0 (it gets PORT from the range) listens, then closes;
    prints "closed" (the close of a listener whose port was not fixed).
cwin_tricks.py churn N PORT
    N times: a socket on 0.0.0.0:PORT listens and closes at once.
cwin_tricks.py many N PORT SECONDS
    N SO_REUSEPORT listeners on 0.0.0.0:PORT; prints "listening"; waits.
"""
import os
import socket
import sys
import threading
import time


def log_loop(s, log, secs):
    out = open(log, "a", buffering=1)
    s.settimeout(0.2)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            c, peer = s.accept()
        except socket.timeout:
            continue
        out.write("accept %s %d\n" % (peer[0], peer[1]))
        try:
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\ntrick\n")
        except OSError:
            pass
        c.close()


def sock(addr, port, reuseport=False, listen=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port))
    if listen:
        s.listen(64)
    return s


def main(a):
    if a[0] == "serve":
        s = sock(a[4], int(a[2]), len(a) > 5 and a[5] == "reuseport")
        print("listening", flush=True)
        log_loop(s, a[1], float(a[3]))
    elif a[0] == "crowd":
        held = [sock(a[3], p) for p in range(1, 512) if p != int(a[1])]
        print("listening", len(held), flush=True)
        time.sleep(float(a[2]))
    elif a[0] == "migrate":
        s = sock("0.0.0.0", int(a[3]), listen=False)
        with open(os.path.join(a[1], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        s.listen(64)
        print("listening", flush=True)
        log_loop(s, a[2], float(a[4]))
    elif a[0] == "give":
        s = sock("0.0.0.0", int(a[2]), listen=False)
        end = time.monotonic() + 10
        while True:
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                u.connect(a[1])
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        socket.send_fds(u, [b"x"], [s.fileno()])
        print("given", flush=True)
        time.sleep(float(a[3]))
    elif a[0] == "take":
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(a[1])
        u.listen(1)
        c, _ = u.accept()
        _, fds, _, _ = socket.recv_fds(c, 16, 1)
        s = socket.socket(fileno=fds[0])
        s.listen(64)
        print("listening", flush=True)
        log_loop(s, a[2], float(a[3]))
    elif a[0] == "hold":
        s = sock(a[4], int(a[2]))
        s.settimeout(0.1)
        out = open(a[1], "a", buffering=1)

        def lines(c, peer):
            f = c.makefile("rb")
            for line in f:
                text = line.decode("latin-1").strip()
                out.write("line %s %d %s\n" % (peer[0], peer[1], text))
                c.sendall(b"held " + line)

        print("listening", flush=True)
        end = time.monotonic() + float(a[3])
        while s is not None and time.monotonic() < end:
            if os.path.exists(a[5]):
                s.close()
                s = None
                print("closed", flush=True)
                break
            try:
                c, peer = s.accept()
            except socket.timeout:
                continue
            threading.Thread(target=lines, args=(c, peer), daemon=True).start()
        time.sleep(max(0, end - time.monotonic()))
    elif a[0] == "unshare":
        import ctypes
        s = sock(a[4], int(a[2]), True, listen=False)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
            sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
        s.listen(64)
        print("listening", flush=True)
        log_loop(s, a[1], float(a[3]))
    elif a[0] == "inflight":
        s = sock(a[4], int(a[2]), True)
        pa, pb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(pa, [b"x"], [s.fileno()])
        s.close()
        del s
        print("inflight", flush=True)
        end = time.monotonic() + 20
        while not os.path.exists(a[5]) and time.monotonic() < end:
            time.sleep(0.02)
        _, fds, _, _ = socket.recv_fds(pb, 16, 1)
        s = socket.socket(fileno=fds[0])
        print("listening", flush=True)
        log_loop(s, a[1], float(a[3]))
    elif a[0] == "ephemeral":
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
            f.write("0")  # (a range below it is refused)
        with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
            f.write("%s %s" % (a[1], a[1]))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("0.0.0.0", 0))
        s.listen(8)
        print("listening %d" % s.getsockname()[1], flush=True)
        time.sleep(0.5)
        s.close()
        print("closed", flush=True)
    elif a[0] == "churn":
        for _ in range(int(a[1])):
            sock("0.0.0.0", int(a[2])).close()
        print("done", flush=True)
    elif a[0] == "many":
        ss = [sock("0.0.0.0", int(a[2]), True) for _ in range(int(a[1]))]
        print("listening", flush=True)
        time.sleep(float(a[3]))
        del ss
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
