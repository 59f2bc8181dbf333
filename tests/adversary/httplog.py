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
import socket
import sys
import threading
import time


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

    socks = []
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a, port))
        s.listen(64)
        s.settimeout(0.2)
        socks.append(s)
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
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except socket.timeout:
        print("connect-timeout")
        return
    except ConnectionRefusedError:
        print("refused")
        return
    except OSError as e:
        print("error:%s" % e.strerror)
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
    if not data:
        print("noanswer")
        return
    head, _, body = data.partition(b"\r\n\r\n")
    print("status", head.split(b" ", 2)[1].decode("latin-1") if b" " in head else "?", body.decode("latin-1").strip())


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == "get":
        get(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 2.0)
    else:
        sys.exit("usage: httplog.py serve LOG NAME PORT SECONDS ADDR... | get ADDR PORT PATH [TIMEOUT]")


if __name__ == "__main__":
    main()
