#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test listener: bind ADDR:PORT for each address given, listen, answer every
connection with one line, exit after SECONDS (or when stdin closes with -).
Prints "listening" once every socket listens, so callers can time from it.

usage: listen.py PORT SECONDS ADDR [ADDR...]
"""
import select, socket, sys, time

def main():
    port, secs = int(sys.argv[1]), float(sys.argv[2])
    socks = []
    for addr in sys.argv[3:]:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        s.listen(16)
        socks.append(s)
    print("listening", flush=True)
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(socks, [], [], left)
        for s in r:
            c, peer = s.accept()
            try:
                c.sendall(b"porthole-test\n")
            finally:
                c.close()

main()
