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
httplog.py get ADDR PORT PATH [TIMEOUT]
    one GET PATH over a kernel TCP connection; prints "status CODE BODY",
    "noanswer", "connect-timeout" or "refused".
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from nettest import connect, listener, print_answer  # noqa: E402


def serve(log, name, port, secs, addrs):
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


def get(addr, port, path, timeout):
    try:
        s = connect(addr, port, timeout)
    except OSError as e:
        print("error:%s" % e.strerror)
        return
    if s is None:
        return
    data = b""
    try:
        s.sendall(b"GET %s HTTP/1.0\r\nHost: e\r\n\r\n" % path.encode())
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    print_answer(data)


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == "get":
        get(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 2.0)
    else:
        sys.exit("usage: httplog.py serve LOG NAME PORT SECONDS ADDR... | get ADDR PORT PATH [TIMEOUT]")


if __name__ == "__main__":
    main()
