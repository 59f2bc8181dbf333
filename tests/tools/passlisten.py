#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A session's socket outliving its session: `passlisten.py parent ADDR PORT
CMD...` makes a socketpair, runs CMD (e.g. porthole run -- passlisten.py child
ADDR PORT FD) with one end inherited; the child listens on ADDR:PORT, hands
the listening socket over and exits, ending its session. The parent keeps
the socket listening, answers connections, prints "holding mark 0x..." and
waits for stdin to close.

`passlisten.py premarked ADDR PORT MARK`: an untagged process binds a socket
that already carries MARK (set with SO_MARK) and prints the mark after bind."""
import array, os, socket, subprocess, sys

SO_MARK = 36


def child(addr, port, fd):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    u = socket.socket(fileno=fd)
    u.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])


def parent(addr, port, cmd):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    os.set_inheritable(b.fileno(), True)
    p = subprocess.Popen(cmd + [addr, str(port), str(b.fileno())], pass_fds=[b.fileno()])
    b.close()
    msg, anc, _, _ = a.recvmsg(1, socket.CMSG_LEN(4))
    fd = array.array("i", anc[0][2])[0]
    p.wait()
    s = socket.socket(fileno=fd)
    print("holding mark 0x%x" % (s.getsockopt(socket.SOL_SOCKET, SO_MARK) & 0xffffffff), flush=True)  # an int, unsigned
    s.settimeout(0.2)
    import select
    while True:
        r, _, _ = select.select([s, sys.stdin], [], [], 0.2)
        if sys.stdin in r and not sys.stdin.readline():
            return
        if s in r:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                pass


def premarked(addr, port, mark):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    s.bind((addr, port))
    print("mark after bind 0x%x" % (s.getsockopt(socket.SOL_SOCKET, SO_MARK) & 0xffffffff), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "parent":
        parent(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        premarked(sys.argv[2], int(sys.argv[3]), int(sys.argv[4], 0))
