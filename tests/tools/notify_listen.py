#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Play systemd's part of the sd_notify protocol: bind a unix datagram
socket at PATH, print each state datagram as one line (newlines as '|'),
with a flush, until SECONDS pass.  usage: notify_listen.py PATH SECONDS"""
import os, socket, sys, time

path, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # as systemd's: the daemon may run as a user of its own
print("bound", flush=True)
end = time.monotonic() + secs
while time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        d = s.recv(4096)
    except socket.timeout:
        break
    print(d.decode(errors="replace").replace("\n", "|"), flush=True)
