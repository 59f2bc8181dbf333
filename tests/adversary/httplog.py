#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A server that writes down every connection it accepts, and a client.

httplog.py serve LOG NAME PORT SECONDS ADDR...
    listen on ADDR:PORT for each ADDR; for every connection write
    "accept PEER PEERPORT" to LOG the moment it is accepted, then
    "request PEER PEERPORT FIRST-LINE" once a request head came (or what came
    within a second), answer "HTTP/1.0 200 OK" with NAME as the body and
    close. Prints "listening" once every socket listens; exits after SECONDS.
    The judge of the forwarded cases: a line from the Internet is a hole.
httplog.py get ADDR PORT PATH [TIMEOUT [SPORT]]
    one GET PATH over a kernel TCP connection (from source port SPORT when
    given: the servers' logs name it); prints "status CODE BODY", "noanswer",
    "connect-timeout", "refused" or "bind-error ERROR". The answer ends at the
    server's close, or, from a hold server, once each line sent is echoed.
httplog.py hold LOG NAME PORT SECONDS ADDR...
    like serve, but a connection stays open: every line that comes is
    written to LOG as "line PEER PEERPORT TEXT" and answered "NAME TEXT".
httplog.py talk ADDR PORT GO [TIMEOUT]
    one connection that lives across a change: sends "before", prints
    "before: ANSWER" (or "before: none"), waits for the file GO to exist, then
    sends "after" and prints "after: ANSWER" or "after: none" (no answer
    within TIMEOUT seconds). What the judge reads is the server's LOG.
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from nettest import connect, listener, print_answer  # noqa: E402


def serve(log, name, port, secs, addrs, keep=False):
    out = open(log, "a", buffering=1)
    lock = threading.Lock()

    def write(line):
        with lock:
            out.write(line + "\n")

    def handle(c, peer):
        c.settimeout(1.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 4096:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        write("request %s %d %r" % (peer[0], peer[1], data.split(b"\r\n", 1)[0]))
        try:
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s\n" % (len(name) + 1, name.encode()))
        except OSError:
            pass
        c.close()

    def hold(c, peer):
        c.settimeout(secs)
        buf = b""
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode("latin-1").strip()
                    write("line %s %d %s" % (peer[0], peer[1], text))
                    c.sendall(b"%s %s\n" % (name.encode(), line))
        except OSError:
            pass
        c.close()

    if keep:
        handle = hold  # noqa: F811
    socks = [listener(a, port, 64) for a in addrs]
    for s in socks:
        s.settimeout(0.2)
    print("listening", flush=True)
    end = time.monotonic() + secs

    def loop(s):
        while time.monotonic() < end:
            try:
                c, peer = s.accept()
            except socket.timeout:
                continue
            write("accept %s %d" % (peer[0], peer[1]))
            threading.Thread(target=handle, args=(c, peer), daemon=True).start()

    ts = [threading.Thread(target=loop, args=(s,)) for s in socks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def get(addr, port, path, timeout, sport=None):
    try:
        s = connect(addr, port, timeout, sport=sport)
    except OSError as e:
        print("error:%s" % e.strerror)
        return
    if s is None:
        return
    data = b""
    req = b"GET %s HTTP/1.0\r\nHost: e\r\n\r\n" % path.encode()
    try:
        s.sendall(req)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            # a hold server keeps the connection and echoes each line after
            # logging it: every line echoed is its whole answer (waiting for
            # its close was the timeout, every time)
            if len(data) >= 5 and not data.startswith(b"HTTP/") and data.count(b"\n") >= req.count(b"\n"):
                break
    except OSError:
        pass
    s.close()
    print_answer(data)


def talk(addr, port, go, timeout):
    s = connect(addr, port, timeout)
    if s is None:
        return
    s.settimeout(timeout)
    f = s.makefile("rb")
    for word in ("before", "after"):
        if word == "after":
            end = time.monotonic() + 60
            while not os.path.exists(go) and time.monotonic() < end:
                time.sleep(0.05)
        try:
            s.sendall(word.encode() + b"\n")
            answer = f.readline().decode("latin-1").strip()
        except OSError:
            answer = ""
        print("%s: %s" % (word, answer or "none"), flush=True)
    # a reset, not a FIN after data that may still be retransmitted: the
    # connection ends here, whatever the network does with the rest
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == "hold":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:], keep=True)
    elif sys.argv[1] == "talk":
        talk(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 3.0)
    elif sys.argv[1] == "get":
        get(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 2.0,
            int(sys.argv[6]) if len(sys.argv) > 6 else None)
    else:
        sys.exit("usage: httplog.py serve|hold LOG NAME PORT SECONDS ADDR... | get ADDR PORT PATH [TIMEOUT [SPORT]] | talk ADDR PORT GO [TIMEOUT]")


if __name__ == "__main__":
    main()
