#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Throw bad input at portholed's control socket, then check it still serves.
usage: ctlfuzz.py SOCKET MODE
  bad     garbage, truncated, wrong magic/version, oversized, bad lengths: each
          must be answered with an error or a closed connection
  idle N  open N connections that never send; print "held N" and keep them
          until stdin closes
"""
import os, select, socket, struct, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phproto import MAGIC, VERSION, RUN_LEN, RUN_STRINGS, CONTAINER_LEN  # noqa: E402

def hdr(mtype, plen, magic=MAGIC, version=VERSION, length=None, reserved=0):
    return struct.pack("=IHHII", magic, version, mtype, 16 + plen if length is None else length, reserved)

def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s

def answer(s):
    """'error' for an ERROR reply, 'closed' for EOF, 'none' if nothing in 3 s"""
    r, _, _ = select.select([s], [], [], 3)
    if not r:
        return "none"
    try:
        d = s.recv(70000)
    except ConnectionResetError:
        return "closed"
    if not d:
        return "closed"
    if len(d) >= 16 and struct.unpack("=IHHII", d[:16])[2] == 4:
        return "error"
    return "other:%d" % len(d)

cases = {
    "garbage": os.urandom(64),
    "one-byte": b"\x01",
    "truncated-header": hdr(5, 0)[:10],
    "wrong-magic": hdr(5, 0, magic=0xdeadbeef),
    "wrong-version": hdr(5, 0, version=9),
    "length-too-big": hdr(5, 0, length=60000),
    "length-too-small": hdr(7, 8, length=16) + b"\0" * 8,
    "reserved-set": hdr(5, 0, reserved=1),
    "unknown-type": hdr(99, 0),
    "run-short-payload": hdr(1, 4) + b"\0" * 4,
    "run-too-many-ports": hdr(1, RUN_LEN) + struct.pack("=HHI", 200, 0, 0) + b"\0" * 16 + struct.pack("=II", 1, 0) + b"\0" * RUN_STRINGS,
    "run-without-pid": hdr(1, RUN_LEN) + b"\0" * RUN_LEN,
    "run-serve-unterminated": hdr(1, RUN_LEN) + struct.pack("=HHI", 0, 0, 0) + b"\0" * 16 + struct.pack("=II", 1, 0) + b"x" * RUN_STRINGS,
    "run-container-unterminated": hdr(1, RUN_LEN) + struct.pack("=HHI", 0, 0, 0) + b"\0" * 16 + struct.pack("=II", 1, 0) + b"\0" * (RUN_STRINGS - CONTAINER_LEN) + b"x" * CONTAINER_LEN,
    "run-old-version-pidfd": hdr(1, 24, version=1) + b"\0" * 24,
    "oversized-datagram": hdr(5, 40000) + b"\0" * 40000,
    "daemon-only-type": hdr(2, 0),
}

def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "bad":
        bad = 0
        # first a good STATUS: answered with a reply, not an error (else
        # every case below would be refused for its header alone)
        s = conn(path)
        s.send(hdr(5, 0))
        a = answer(s)
        s.close()
        print("%-20s -> %s%s" % ("good-status", a, "" if a.startswith("other") else "  UNEXPECTED"))
        if not a.startswith("other"):
            sys.exit(1)
        for name, payload in cases.items():
            s = conn(path)
            try:
                s.send(payload)
            except OSError as e:
                print("%s: send failed: %s" % (name, e)); bad += 1; continue
            a = answer(s)
            ok = a in ("error", "closed")
            print("%-20s -> %s%s" % (name, a, "" if ok else "  UNEXPECTED"))
            bad += not ok
            s.close()
        sys.exit(1 if bad else 0)
    if mode == "idle":
        n = int(sys.argv[3])
        held = []
        for _ in range(n):
            held.append(conn(path))
        print("held %d" % len(held), flush=True)
        sys.stdin.read()

main()
