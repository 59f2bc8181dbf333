#!/usr/bin/python3
"""Helpers for tests/integration/test_hardening.sh (the security review's items).

usage: hardening.py MODE ARGS...
  hold-listen PORT ADDR        listen on ADDR:PORT, accept and close every
                               connection; print "listening"; on SIGUSR1 close
                               the listening socket (the process lives on) and
                               print "unlistened"; exit on SIGTERM
  flood ADDR PORT N            N connect+close (RST) to ADDR:PORT as fast as
                               possible; print "connected K failed F"
  relisten PORT ADDR           listen 1.5 s, close; at 1.8 s listen 1.5 s, close;
                               at 4.8 s listen 2 s, close (a line per step)
  fdpass SOCKET                send a RUN carrying an SCM_RIGHTS descriptor (a
                               TCP socket whose close lingers 20 s): print
                               "eperm" (the kernel refused it), "error: MSG"
                               (the daemon answered an error), "closed", "none"
                               or "other:TYPE"
  conns SOCKET N               open N connections one after another; print
                               "accepted A refused R first-refused I: MSG";
                               keep them until stdin closes
  spoof SOCKET                 RUN requests naming (1) a process that is not our
                               child but whose comm reads "PPid:\\t<our pid>", (2)
                               the same with "PPid: <our pid>", (3) our child
                               that runs 2 threads, (4) a proper waiting child;
                               print one "CASE -> run-ok|error: MSG" line each
"""
import os, select, signal, socket, struct, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phproto import MAGIC, VERSION, MAX_PORTS, RUN_STRINGS  # noqa: E402
T_RUN, T_RUN_OK, T_EVENT, T_ERROR = 1, 2, 3, 4


def hdr(mtype, plen):
    return struct.pack("=IHHII", MAGIC, VERSION, mtype, 16 + plen, 0)


def run_msg(pid, ports=(), max_window=0):
    p = list(ports) + [0] * (MAX_PORTS - len(ports))
    payload = struct.pack("=HHI%dHII" % MAX_PORTS, len(ports), 0, max_window, *p, pid, 0) + b"\0" * RUN_STRINGS  # serve, webroot, container
    return hdr(T_RUN, len(payload)) + payload


def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def reply(s, timeout=5):
    """(type, message text) of the next reply, (0, 'closed'), (-1, 'none')"""
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        return -1, "none"
    try:
        d = s.recv(70000)
    except OSError as e:
        return 0, "closed (%s)" % e.strerror
    if not d:
        return 0, "closed"
    t = struct.unpack("=IHHII", d[:16])[2] if len(d) >= 16 else -2
    if t == T_ERROR and len(d) >= 24:
        code = struct.unpack("=i", d[16:20])[0]
        msg = d[24:].split(b"\0")[0].decode(errors="replace")
        return t, "%s (errno %d)" % (msg, code)
    return t, ""


def hold_listen(port, addr):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4096)
    state = {"ls": ls}
    rd, wr = os.pipe()
    signal.signal(signal.SIGUSR1, lambda *a: os.write(wr, b"u"))
    signal.signal(signal.SIGTERM, lambda *a: os.write(wr, b"t"))
    print("listening", flush=True)
    while True:
        fds = [rd] + ([state["ls"]] if state["ls"] else [])
        try:
            r, _, _ = select.select(fds, [], [])
        except InterruptedError:
            continue
        if rd in r:
            c = os.read(rd, 1)
            if c == b"t":
                return
            if state["ls"]:
                state["ls"].close()
                state["ls"] = None
                print("unlistened", flush=True)
            continue
        for _ in range(64):
            try:
                state["ls"].setblocking(False)
                c, _ = state["ls"].accept()
                c.close()
            except (BlockingIOError, OSError):
                break


def flood(addr, port, n):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ok = bad = 0
    linger = struct.pack("ii", 1, 0)
    for _ in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        try:
            s.connect((addr, port))
            ok += 1
        except OSError:
            bad += 1
        s.close()
    print("connected %d failed %d" % (ok, bad), flush=True)


def relisten(port, addr):
    t0 = time.monotonic()
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for i, (at, dur) in enumerate(((0, 1.5), (1.8, 1.5), (4.8, 2.0)), 1):
        left = t0 + at - time.monotonic()
        if left > 0:
            time.sleep(left)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        print("listen %d at %.2f" % (i, time.monotonic() - t0), flush=True)
        end = time.monotonic() + dur
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
            if r:
                c, _ = s.accept()
                c.close()
        s.close()
        print("closed %d at %.2f" % (i, time.monotonic() - t0), flush=True)


def lingering_socket():
    """a connected TCP socket with unsent data and SO_LINGER 20 s: its last
    close blocks until the data leaves or 20 s pass"""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    c.connect(ls.getsockname())
    peer, _ = ls.accept()  # never reads
    c.setblocking(False)
    try:
        while True:
            c.send(b"x" * 4096)
    except BlockingIOError:
        pass
    c.setblocking(True)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 20))
    return c, peer, ls


def fdpass(path):
    c, peer, ls = lingering_socket()
    s = conn(path)
    fds = struct.pack("i", c.fileno())
    try:
        s.sendmsg([run_msg(os.getpid())], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    except PermissionError:
        # nothing was passed: ours is the last reference; close it at once
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        print("eperm", flush=True)
        return
    # in flight: our copy is not the last, so this close does not linger
    os.close(c.detach())
    t, msg = reply(s)
    if t == T_ERROR:
        print("error: " + msg, flush=True)
    elif t == 0:
        print("closed", flush=True)
    elif t == -1:
        print("none", flush=True)
    else:
        print("other:%d" % t, flush=True)


def conns(path, n):
    held = [conn(path) for _ in range(n)]
    time.sleep(0.5)
    accepted = refused = 0
    first, first_msg = 0, ""
    for i, s in enumerate(held, 1):
        r, _, _ = select.select([s], [], [], 0)
        if r:
            t, msg = reply(s, 0)
            refused += 1
            if not first:
                first, first_msg = i, msg
        else:
            accepted += 1
    print("accepted %d refused %d first-refused %d: %s" % (accepted, refused, first, first_msg), flush=True)
    sys.stdin.read()


def waiting_child(threads=1, comm=None, orphan=False):
    """a process that waits on a pipe; returns (pid, write end). orphan: it is
    our grandchild, reparented away from us"""
    rd, wr = os.pipe()
    pr, pw = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(wr)
        os.close(pr)
        if orphan and os.fork() != 0:
            os._exit(0)
        if comm is not None:
            with open("/proc/self/comm", "w") as f:
                f.write(comm)
        if threads > 1:
            for _ in range(threads - 1):
                threading.Thread(target=os.read, args=(rd, 1), daemon=True).start()
        os.write(pw, str(os.getpid()).encode())
        os.close(pw)
        try:
            os.read(rd, 1)
        except OSError:
            pass
        os._exit(0)
    os.close(rd)
    os.close(pw)
    real = int(os.read(pr, 32))
    os.close(pr)
    if orphan:
        os.waitpid(pid, 0)
    return real, wr


def status_line(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(field + ":"):
                return l.split(":", 1)[1].strip()
    return "?"


def spoof(path):
    me = os.getpid()
    cases = [
        ("comm-tab", dict(comm="PPid:\t%d" % me, orphan=True)),
        ("comm-space", dict(comm="PPid: %d" % me, orphan=True)),
        ("two-threads", dict(threads=2)),
        ("proper", dict()),
    ]
    for name, kw in cases:
        pid, wr = waiting_child(**kw)
        time.sleep(0.1)
        info = "pid %d ppid %s threads %s name %r" % (pid, status_line(pid, "PPid"), status_line(pid, "Threads"),
                                                     status_line(pid, "Name"))
        s = conn(path)
        s.send(run_msg(pid))
        t, msg = reply(s)
        res = "run-ok" if t == T_RUN_OK else ("error: " + msg) if t == T_ERROR else "other:%d %s" % (t, msg)
        print("%s -> %s   [%s]" % (name, res, info), flush=True)
        os.close(wr)  # the child exits
        if not kw.get("orphan"):
            os.waitpid(pid, 0)
        else:
            for _ in range(100):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.02)
        if t == T_RUN_OK:
            # the session ends with its last task
            end = time.monotonic() + 3
            while time.monotonic() < end:
                t2, _ = reply(s, end - time.monotonic())
                if t2 in (0, -1):
                    break
                if t2 == T_EVENT:
                    break
        s.close()


def suid(path, binary):
    """our child execs a setuid-root binary (it then runs with euid 0):
    the daemon must not tag it for us"""
    pid = os.fork()
    if pid == 0:
        os.execv(binary, [binary, "3"])
    time.sleep(0.2)
    info = "pid %d uid %s" % (pid, status_line(pid, "Uid"))
    s = conn(path)
    s.send(run_msg(pid))
    t, msg = reply(s)
    res = "run-ok" if t == T_RUN_OK else ("error: " + msg) if t == T_ERROR else "other:%d %s" % (t, msg)
    print("setuid-child -> %s   [%s]" % (res, info), flush=True)
    s.close()
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "suid":
        return suid(a[0], a[1])
    if mode == "hold-listen":
        hold_listen(int(a[0]), a[1])
    elif mode == "flood":
        flood(a[0], int(a[1]), int(a[2]))
    elif mode == "relisten":
        relisten(int(a[0]), a[1])
    elif mode == "fdpass":
        fdpass(a[0])
    elif mode == "conns":
        conns(a[0], int(a[1]))
    elif mode == "spoof":
        spoof(a[0])
    else:
        sys.exit("unknown mode " + mode)


main()
