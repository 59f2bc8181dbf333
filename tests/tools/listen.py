#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test listener: bind ADDR:PORT for each address given, listen, answer every
connection with one line, exit after SECONDS (or when stdin closes with -).
Prints "listening" once every socket listens, so callers can time from it.

usage: listen.py PORT SECONDS ADDR [ADDR...]
"""
import select, sys, time

from nettest import listener

def main():
    port, secs = int(sys.argv[1]), float(sys.argv[2])
    socks = [listener(addr, port, 16) for addr in sys.argv[3:]]
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
