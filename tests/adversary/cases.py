#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The crafted-TCP attacks on one request stream (issue 20), one function each.

cases.py TOKEN CASE:DST:SPORT [CASE:DST:SPORT...]
  TOKEN  the challenge token the attacker knows (a live one with webroot=, any
         token-shaped string with `always`)
  CASE   a function below; DST the server's address (a `deferred` listener for
         the *_deferred cases); SPORT the crafted connection's source port
         (ISN derived from it), by which the test finds the case's lines in
         nginx's access log.
Every case tries to make nginx read a request other than the one challenge
request (its path starts with /secret-, or the challenge's own path lost a
byte). The test judges by nginx's log only;
what is printed here is the evidence of what was sent and what came back.
Cases run one after the other, each bounded in time (timeouts, no sleeps).
The cases of a connection's lifetime (3, 4) wait for the test between their
steps: they touch ATK_SYNC/SPORT.first when their first request is done and go
on when ATK_SYNC/SPORT.go exists (the test closed or reopened the window).
"""
import os
import sys

from attack import Peer, say, touch, wait_file

TS0 = 100000  # our first TSval
GONE = 0.8    # how long to wait for an answer that should not come


def challenge(tok, headers=b"Host: e\r\n"):
    return b"GET /.well-known/acme-challenge/" + tok + b" HTTP/1.1\r\n" + headers + b"\r\n"


def padded(line, n):
    """a request starting with line, padded with a header to exactly n bytes"""
    head = line + b"Host: e\r\nX: "
    assert n >= len(head) + 5, (line, n)
    return head + b"a" * (n - len(head) - 4) + b"\r\n\r\n"


def start(c, deferred):
    """the handshake; for a deferred listener only the SYN (the first data
    segment completes it)"""
    return c.syn() if deferred else c.handshake()


def finish(c, expect_nothing=True):
    c.reply(GONE if expect_nothing else 2.0)
    c.rst()


def opened(p, dst, sport, name, deferred=False, **kw):
    """a crafted connection from SPORT (its ISN derived from it), started as
    start() does; None when no SYN-ACK came"""
    c = p.conn(dst, 80, sport, sport * 7919, name=name, **kw)
    return c if start(c, deferred) else None


def answered(c, tok, ack=True, **kw):
    """the challenge, acknowledged by TCP and answered by nginx (the answer
    ACKed unless ack=False); returns it"""
    req = challenge(tok)
    c.send(req, **kw)
    c.wait_ack(len(req))
    c.reply(ack=ack)
    return req


def smuggle(c, data, **kw):
    """DATA, which must not reach nginx: sent, its ACK awaited a short while,
    then the end"""
    c.send(data, **kw)
    c.wait_ack(c.nxt, GONE)
    finish(c)


def wait_go(sport, name):
    """tell the test the first request is done (ATK_SYNC/SPORT.first); True
    once it says go (ATK_SYNC/SPORT.go)"""
    sync = os.environ["ATK_SYNC"]
    touch("%s/%d.first" % (sync, sport))
    if not wait_file("%s/%d.go" % (sync, sport), 30):
        say("%s: the test never said go" % name)
        return False
    return True


def after_go(p, dst, sport, tok, name, deferred, wait, expect_nothing=True):
    """connection NAME: the challenge, answered, the answer not acknowledged;
    once the test says go, GET /secret-NAME after it (second_request); the end"""
    c = opened(p, dst, sport, name, deferred)
    if c is None:
        return
    req = answered(c, tok, ack=False)
    if not wait_go(sport, name):
        return
    second_request(c, req, b"GET /secret-%s HTTP/1.1\r\nHost: e\r\n\r\n" % name.encode(), wait)
    finish(c, expect_nothing)


def second_request(c, req, second, wait):
    """SECOND right after REQ, the server's answer acknowledged with it; when
    the host drops it (the connection's conntrack entry was ended), again
    once the server's retransmission went out through the host (within WAIT)"""
    since = c.rx_segs
    c.rcv = c.seen
    c.send(second, off=len(req))
    if not c.wait_ack(c.nxt, 1.0) and c.wait_server_data(since, wait):
        c.send(second, off=len(req))
        c.wait_ack(c.nxt, 1.0)


# --- positive control ---------------------------------------------------------
def ctl(p, dst, sport, tok, deferred=False):
    """a valid challenge request for the token: nginx must answer it"""
    c = opened(p, dst, sport, "ctl%s" % ("-deferred" if deferred else ""), deferred, ts=TS0)
    if c is None:
        return
    req = challenge(tok)
    c.send(req)
    c.wait_ack(len(req))
    finish(c, expect_nothing=False)


def ctl_deferred(p, dst, sport, tok):
    ctl(p, dst, sport, tok, deferred=True)


# --- 1: a resend whose first copy TCP threw away ---------------------------------
def c1_paws(p, dst, sport, tok, deferred=False):
    """the challenge with a TSval older than ts_recent (PAWS: TCP discards it
    after the guard read it), then the same sequence number and length with
    other bytes and a fresh TSval"""
    c = opened(p, dst, sport, "c1%s" % ("-deferred" if deferred else ""), deferred, ts=TS0)
    if c is None:
        return
    req = challenge(tok)
    c.send(req, off=0, tsval=TS0 - 1000)
    c.wait_ack(len(req), GONE)
    c.send(padded(b"GET /secret-c1 HTTP/1.1\r\n", len(req)), off=0, tsval=TS0 + 10)
    c.wait_ack(len(req), GONE)
    finish(c)


def c1_paws_deferred(p, dst, sport, tok):
    c1_paws(p, dst, sport, tok, deferred=True)


# --- 2: a segment that starts before rcv_nxt --------------------------------------
def c2_before(p, dst, sport, tok, deferred=False):
    """one segment starting k bytes before the first byte TCP expects: the
    guard reads a whole challenge request, TCP keeps the bytes from rcv_nxt
    on: a request line with a colon (a header line to the guard)"""
    c = opened(p, dst, sport, "c2%s" % ("-deferred" if deferred else ""), deferred)
    if c is None:
        return
    first = b"GET /.well-known/acme-challenge/" + tok + b" HTTP/1.1\r\n"
    seg = first + b"GET /secret-c2?x: HTTP/1.1\r\nHost: e\r\n\r\n"
    c.send(seg, off=-len(first))
    c.nxt = len(seg) - len(first)
    c.wait_ack(c.nxt, GONE)
    finish(c)


def c2_before_deferred(p, dst, sport, tok):
    c2_before(p, dst, sport, tok, deferred=True)


# --- 6: urgent data -------------------------------------------------------------
def c6_urg(p, dst, sport, tok, deferred=False):
    """the challenge with URG set, the urgent pointer on the '/' before the
    token: without SO_OOBINLINE that byte never reaches nginx, which reads
    /.well-known/acme-challengeTOKEN"""
    c = opened(p, dst, sport, "c6%s" % ("-deferred" if deferred else ""), deferred)
    if c is None:
        return
    req = challenge(tok)
    slash = len(b"GET /.well-known/acme-challenge")
    c.send(req, flags="PAU", urg=slash + 1)  # BSD urgent pointer: the byte after the urgent one
    c.wait_ack(len(req), GONE)
    finish(c)


def c6_urg_deferred(p, dst, sport, tok):
    c6_urg(p, dst, sport, tok, deferred=True)


def c6_urg_ack(p, dst, sport, tok):
    """the urgent pointer on a bare ACK (no data) that points into the
    request to come; the challenge itself then carries no URG flag: TCP
    still takes the '/' before the token out of the stream"""
    c = opened(p, dst, sport, "c6-ack")
    if c is None:
        return
    req = challenge(tok)
    slash = len(b"GET /.well-known/acme-challenge")
    c.send(b"", flags="AU", urg=slash + 1)
    c.send(req)
    c.wait_ack(len(req), GONE)
    finish(c)


def h_resend_longer(p, dst, sport, tok):
    """the challenge (answered), then a resend from its first byte that
    goes on past it with a second request: TCP would keep only the new bytes"""
    c = opened(p, dst, sport, "resend-longer")
    if c is None:
        return
    req = answered(c, tok)
    smuggle(c, req + b"GET /secret-longer HTTP/1.1\r\nHost: e\r\n\r\n", off=0)


# --- 3: a verdict outlives its connection -------------------------------------------
def c3_verdict(p, dst, sport, tok, later=True):
    """on a `deferred` listener: the challenge on the handshake's last ACK
    (answered), the connection reset; then, in a later window the test opens
    for a token the attacker never saw, the same source port and ISN again,
    and other bytes of the same length on the handshake's last ACK"""
    c = opened(p, dst, sport, "c3-first", deferred=True)
    if c is None:
        return
    req = answered(c, tok)
    c.rst()
    if later:
        if not wait_go(sport, "c3"):
            return
    c = opened(p, dst, sport, "c3-again", deferred=True)
    if c is None:
        return
    c.send(padded(b"GET /secret-c3 HTTP/1.1\r\n", len(req)))
    c.wait_ack(len(req), GONE)
    finish(c)


def c3_verdict_same(p, dst, sport, tok):
    """the same in one window: the verdict must be used up by the connection
    that earned it"""
    c3_verdict(p, dst, sport, tok, later=False)


# --- 4: a closed window's connections come back ----------------------------------------
def c4_after_close(p, dst, sport, tok):
    """a kept-alive connection: the challenge (answered, the answer not
    acknowledged yet, so the server sends it again), then, after the test
    closed the window, a second request; when the host drops it (the
    connection's conntrack entry was ended), again after the server's
    retransmission went out through the host"""
    after_go(p, dst, sport, tok, "c4", deferred=False, wait=8.0)


# --- classes that held on 502f4b6 (regressions) ------------------------------------
def h_ooo(p, dst, sport, tok):
    """out of order: a request's second half first, then its first half"""
    c = opened(p, dst, sport, "ooo")
    if c is None:
        return
    req = b"GET /secret-ooo HTTP/1.1\r\nHost: e\r\n\r\n"
    c.send(req[12:], off=12)
    c.send(req[:12], off=0)
    c.wait_ack(len(req), GONE)
    finish(c)


def h_ooo_future(p, dst, sport, tok):
    """out of order: the challenge at a later offset (queued out of order),
    another request where TCP expects the first byte, then the later copy
    again with other bytes"""
    c = opened(p, dst, sport, "ooo-future")
    if c is None:
        return
    req = challenge(tok)
    n = len(req)
    c.send(req, off=n)
    c.send(padded(b"GET /secret-oof1 HTTP/1.1\r\n", n), off=0)
    c.send(padded(b"GET /secret-oof2 HTTP/1.1\r\n", n), off=n)
    c.wait_ack(2 * n, GONE)
    finish(c)


def h_overlap(p, dst, sport, tok):
    """overlapping segments: the challenge (answered), then a segment that
    overlaps its end and carries a second request"""
    c = opened(p, dst, sport, "overlap")
    if c is None:
        return
    req = answered(c, tok)
    smuggle(c, b"\r\n\r\nGET /secret-ovl HTTP/1.1\r\nHost: e\r\n\r\n", off=len(req) - 4)


def h_frag(p, dst, sport, tok):
    """IP fragments (reassembled before anything reads them): the challenge in
    fragments (answered: the fragments reach TCP), then a second request in
    fragments"""
    c = opened(p, dst, sport, "frag")
    if c is None:
        return
    size = 16 if ":" not in dst else 80  # IPv6: the first fragment holds the whole TCP header (RFC 7112)
    answered(c, tok, frag=size)
    smuggle(c, b"GET /secret-frag HTTP/1.1\r\nHost: e\r\n\r\n", frag=size)


def h_ext(p, dst, sport, tok):
    """IPv6 extension headers: a request behind a destination-options header"""
    c = opened(p, dst, sport, "ext")
    if c is None:
        return
    smuggle(c, b"GET /secret-ext HTTP/1.1\r\nHost: e\r\n\r\n", ext=True)


def h_tfo(p, dst, sport, tok):
    """data on the SYN (the host takes Fast Open data without a cookie)"""
    c = p.conn(dst, 80, sport, sport * 7919, name="tfo")
    req = b"GET /secret-tfo HTTP/1.1\r\nHost: e\r\n\r\n"
    if c.syn(data=req, timeout=GONE):
        c.nxt = len(req) if c.acked >= len(req) else 0
    elif c.syn():  # the SYN again without data, as a client would
        pass
    else:
        return
    c.ack()
    finish(c)


def h_fin(p, dst, sport, tok):
    """FIN with data: the challenge (answered), then a second request on a FIN"""
    c = opened(p, dst, sport, "fin")
    if c is None:
        return
    answered(c, tok)
    smuggle(c, b"GET /secret-fin HTTP/1.1\r\nHost: e\r\n\r\n", flags="FPA")


def h_window(p, dst, sport, tok):
    """zero-window probe: the challenge beyond the receive window (TCP drops
    it), the same range again with other bytes, then another request where
    TCP expects it"""
    c = opened(p, dst, sport, "window")
    if c is None:
        return
    req = challenge(tok)
    n, edge = len(req), c.srv_win
    c.send(req, off=edge)
    c.send(padded(b"GET /secret-zwp1 HTTP/1.1\r\n", n), off=edge)
    c.send(padded(b"GET /secret-zwp2 HTTP/1.1\r\n", n), off=0)
    c.wait_ack(n, GONE)
    finish(c)


def h_pipe(p, dst, sport, tok):
    """pipelining in one segment: the challenge and a second request"""
    c = opened(p, dst, sport, "pipe")
    if c is None:
        return
    smuggle(c, challenge(tok) + b"GET /secret-pipe HTTP/1.1\r\nHost: e\r\n\r\n")


def h_body(p, dst, sport, tok):
    """a body in a later segment: the challenge with a Content-Length, then
    the body, which is a request of its own"""
    c = opened(p, dst, sport, "body")
    if c is None:
        return
    body = b"GET /secret-body HTTP/1.1\r\nHost: e\r\n\r\n"
    req = challenge(tok, b"Host: e\r\nContent-Length: %d\r\n" % len(body))
    c.send(req)
    c.wait_ack(len(req))
    smuggle(c, body)


# --- red team (branch redteam) ------------------------------------------------------------
def r1_syn_ahead(p, dst, sport, tok):
    """a second SYN on the request socket, with an ISN 2^30 ahead: the kernel
    answers it with an ACK (out of window) and keeps the request socket; the
    guard's pending entry takes the new ISN. Then any request on the
    handshake's last ACK at the real ISN+1: the guard takes it for data
    'TCP already has' (it ends before its forged rcv_nxt) and passes it."""
    import time
    c = opened(p, dst, sport, "r1", deferred=True)
    if c is None:
        return
    c.xmit(c.segment(c.isn + 0x40000000, "S", syn=True))
    say(c.name, "second SYN sent, seq ISN+2^30")
    time.sleep(0.1)
    req = b"GET /secret-r1 HTTP/1.1\r\nHost: e\r\n\r\n"
    c.send(req, off=0)
    c.wait_ack(len(req))
    finish(c, expect_nothing=False)


def r2_syn_behind(p, dst, sport, tok):
    """a second SYN with an ISN k bytes behind: the guard's rcv_nxt becomes
    ISN+1-k; one segment from there, a whole challenge request whose last
    header line is 'A:GET /secret-r2 HTTP/1.1'; TCP keeps only the bytes
    from the real ISN+1 on: nginx reads 'GET /secret-r2 ...'"""
    import time
    tail = b"GET /secret-r2 HTTP/1.1\r\nHost: e\r\n\r\n"
    head = b"GET /.well-known/acme-challenge/" + tok + b" HTTP/1.1\r\nHost: e\r\nA:"
    k = len(head)
    c = opened(p, dst, sport, "r2", deferred=True)
    if c is None:
        return
    c.xmit(c.segment(c.isn - k, "S", syn=True))
    say(c.name, "second SYN sent, seq ISN-%d" % k)
    time.sleep(0.1)
    c.send(head + tail, off=-k)
    c.wait_ack(len(tail))
    finish(c, expect_nothing=False)


def _flood_syns(p, dst, first, n):
    """n SYNs from ports first.. (each a marked connection attempt: an entry in
    the guard's 8192-entry LRU guard_pending). scapy builds the first frame;
    the others are it with the source port, sequence number and TCP checksum
    patched (byte for byte what scapy builds: _flood_frame; building each
    with scapy took 25 s)"""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    v6 = ":" in dst
    src = os.environ.get("ATK_SRC6" if v6 else "ATK_SRC")
    ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
    tmpl = bytes(Ether(src=p.smac, dst=p.dmac) / ip / TCP(sport=first, dport=80, flags="S", seq=1))
    for i in range(n):
        p.sock.send(_flood_frame(tmpl, v6, first + (i % 30000), i * 7 + 1))
    say("flood: %d SYNs from ports %d.. sent" % (n, first))


def _flood_frame(tmpl, v6, sport, seq):
    """TMPL (Ethernet, IPv4 or IPv6 without options, a TCP SYN without
    options) from SPORT with sequence number SEQ, its TCP checksum recomputed"""
    import struct
    t = 14 + (40 if v6 else 20)
    f = bytearray(tmpl)
    struct.pack_into("!H", f, t, sport)
    struct.pack_into("!I", f, t + 4, seq)
    f[t + 16:t + 18] = b"\0\0"
    tcp = bytes(f[t:])
    if v6:
        pseudo = bytes(f[22:54]) + struct.pack("!IxxxB", len(tcp), 6)
    else:
        pseudo = bytes(f[26:34]) + struct.pack("!xBH", 6, len(tcp))
    data = pseudo + tcp + (b"\0" if len(tcp) % 2 else b"")
    c = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    struct.pack_into("!H", f, t + 16, ~c & 0xFFFF)
    return bytes(f)


def r3_evict(p, dst, sport, tok):
    """on a listener, the challenge on the handshake's last ACK (the verdict,
    ADMITTED, sits in guard_pending); its answer not acknowledged (so nothing
    reaches the child socket); then 25000 SYNs from other ports push the
    entry out of the LRU; then a second challenge on the child: its first
    packet finds no pending verdict and starts FRESH: a second request on one
    connection"""
    c = opened(p, dst, sport, "r3", deferred=True)
    if c is None:
        return
    req = answered(c, tok, ack=False)
    _flood_syns(p, dst, 30000, 25000)
    c.rcv = c.seen
    req2 = challenge(tok, b"Host: second\r\n")
    c.send(req2, off=len(req))
    c.wait_ack(c.nxt)
    finish(c, expect_nothing=False)


def r4_listener_after_close(p, dst, sport, tok):
    """the challenge on the handshake's last ACK (judged on the listener: the
    child socket never meets the guard, so it is not in guard_socks and is
    not ended when the window closes); its answer not acknowledged; after
    the test closed the window, the server's retransmission makes a new,
    unmarked conntrack entry and a second request follows"""
    after_go(p, dst, sport, tok, "r4", deferred=True, wait=20.0, expect_nothing=False)


def main():
    tok = sys.argv[1].encode()
    p = Peer()
    for arg in sys.argv[2:]:
        name, rest = arg.split(":", 1)
        dst, sport = rest.rsplit(":", 1)
        say("== %s to %s from port %s" % (name, dst, sport))
        globals()[name](p, dst, int(sport), tok)


if __name__ == "__main__":
    main()
