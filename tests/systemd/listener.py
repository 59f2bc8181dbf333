#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Listener for the systemd tier: listen on ADDR:PORT and answer every
connection with one line, until killed. With "ignore-term", SIGTERM is
ignored, so that only the SIGKILL of a unit's stop ends it.
Prints "listening" once the socket listens.

usage: listener.py PORT ADDR [ignore-term]
"""
import signal, socket, sys

port, addr = int(sys.argv[1]), sys.argv[2]
if len(sys.argv) > 3 and sys.argv[3] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"porthole-test\n")
    finally:
        c.close()
