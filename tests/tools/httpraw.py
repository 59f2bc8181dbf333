#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Send raw HTTP bytes in chosen TCP segments; say what came back.

httpraw.py ADDR PORT SEGMENT [SEGMENT...]
  each SEGMENT is sent with its own send() (TCP_NODELAY, a pause between);
  escapes \\r \\n are understood; "@TOKEN" in a segment is not special.
Prints one line: "status CODE BODY..." when a response came, "noanswer" when
the connection was made but nothing came back within the wait,
"connect-timeout" / "refused" when no connection was made.
PORTHOLE_HTTP_WAIT: seconds to wait for an answer (default 1.5).
"""
import os
import socket
import sys
import time


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    segs = [s.encode().decode("unicode_escape").encode("latin-1") for s in sys.argv[3:]]
    wait = float(os.environ.get("PORTHOLE_HTTP_WAIT", "1.5"))
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(2.0)
    try:
        s.connect((addr, port))
    except socket.timeout:
        print("connect-timeout")
        return
    except ConnectionRefusedError:
        print("refused")
        return
    for i, seg in enumerate(segs):
        if i:
            time.sleep(0.3)
        s.sendall(seg)
    s.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and len(data) > 12:
                # enough for the status and a short body
                time.sleep(0.1)
                s.setblocking(False)
                try:
                    data += s.recv(65536)
                except BlockingIOError:
                    pass
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    if not data:
        print("noanswer")
        return
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if b" " in head else "?"
    print("status", status, body.decode("latin-1", "replace").strip()[:80])


if __name__ == "__main__":
    main()
