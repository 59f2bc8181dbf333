# SPDX-License-Identifier: GPL-2.0-or-later
"""Socket pieces the test tools share (listen.py, httpraw.py and
tests/adversary/httplog.py import them): a listener on one address, a client
connection that says why none was made, and the one-line report of an HTTP
answer. The words printed ("connect-timeout", "refused", "noanswer",
"status CODE BODY") are what the shell tests compare against.
"""
import socket


def listener(addr, port, backlog):
    """A socket listening on ADDR:PORT (an IPv6 one for that address only)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(backlog)
    return s


def connect(addr, port, timeout, nodelay=False, sport=None):
    """A socket connected to ADDR:PORT (from source port SPORT when given),
    or None once "connect-timeout", "refused" or "bind-error ERROR" (SPORT
    not to be had: nothing was sent) is printed; any other error is the
    caller's."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sport:
        try:
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        except OSError as e:
            print("bind-error", e.strerror)
            return None
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except socket.timeout:
        print("connect-timeout")
        return None
    except ConnectionRefusedError:
        print("refused")
        return None
    return s


def print_answer(data, limit=None):
    """Print "noanswer" for no bytes, else "status CODE BODY" (BODY stripped,
    cut to LIMIT characters when given)."""
    if not data:
        print("noanswer")
        return
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode("latin-1") if b" " in head else "?"
    body = body.decode("latin-1").strip()
    print("status", status, body[:limit] if limit is not None else body)
