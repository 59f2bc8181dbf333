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

from nettest import connect, print_answer


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    segs = [s.encode().decode("unicode_escape").encode("latin-1") for s in sys.argv[3:]]
    wait = float(os.environ.get("PORTHOLE_HTTP_WAIT", "1.5"))
    s = connect(addr, port, 2.0, nodelay=True)
    if s is None:
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
    print_answer(data, 80)


if __name__ == "__main__":
    main()
