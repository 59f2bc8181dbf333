#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A hostile TCP peer that crafts its own segments (scapy), for porthole's
adversarial tests.

It runs in the lab's Internet namespace and speaks TCP by hand over one
AF_PACKET socket on its link (Ethernet frames to the host's MAC): a handshake
(with TCP timestamps when asked, for PAWS), then segments with the sequence
number, flags, options, urgent pointer and payload the test chooses, as IP
fragments or behind an IPv6 extension header if asked; it waits for the
server's ACKs and replies with timeouts, never with fixed sleeps, and prints
one line for each thing it sent and what came back. Its own kernel knows
nothing of these connections: tests/lib.sh's attacker_up drops the RSTs the
kernel would send for them.

Use as a library (a test script on stdin, PYTHONPATH=tests/adversary):

    from attack import Peer
    p = Peer()                         # ATK_IFACE, ATK_DMAC from the environment
    c = p.conn("203.0.113.10", 80, sport=20001, isn=1000, ts=5000, name="c1")
    c.handshake()                      # SYN, SYN-ACK, ACK; False when no SYN-ACK
    c.send(b"GET ...", off=0, tsval=1)  # off: bytes after the SYN's sequence number
    c.wait_ack(len(req))               # the server acknowledged that far
    c.reply()                          # the server's answer (ACKed), b"" if none
    c.rst()

or as a command, `attack.py DST PORT STEP...` with JSON steps (see main()).
Sequence numbers are relative: off=0 is the first byte after the SYN.
"""
import json
import os
import socket
import sys
import threading
import time

from scapy.layers.inet import IP, TCP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
M32 = 0xFFFFFFFF


def say(*a):
    print(*a, flush=True)


def rel(a, b):
    """a - b in sequence space (signed)"""
    d = (a - b) & M32
    return d - (1 << 32) if d & 0x80000000 else d


class Peer:
    """The attacker's link: one raw socket, a receiver thread, its connections."""

    def __init__(self, iface=None, dmac=None):
        self.iface = iface or os.environ["ATK_IFACE"]
        self.dmac = dmac or os.environ["ATK_DMAC"]
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((self.iface, 0))
        self.smac = ":".join("%02x" % b for b in self.sock.getsockname()[4][:6])
        self.src4 = self.src6 = None
        self.cv = threading.Condition()
        self.conns = {}
        t = threading.Thread(target=self._rx, daemon=True)
        t.start()

    def conn(self, dst, dport, sport, isn, src=None, ts=None, name=None, mss=1460, win=65535):
        c = Conn(self, dst, dport, sport, isn, src=src, ts=ts, name=name, mss=mss, win=win)
        with self.cv:
            self.conns[(c.dst, dport, sport)] = c
        return c

    def send_l3(self, pkt):
        self.sock.send(bytes(Ether(src=self.smac, dst=self.dmac) / pkt))

    def _rx(self):
        while True:
            data, addr = self.sock.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            try:
                eth = Ether(data)
            except Exception:
                continue
            ip = eth.getlayer(IP) or eth.getlayer(IPv6)
            tcp = eth.getlayer(TCP)
            if ip is None or tcp is None:
                continue
            with self.cv:
                c = self.conns.get((ip.src, tcp.sport, tcp.dport))
                if c:
                    c._segment(tcp)
                    self.cv.notify_all()


class Conn:
    """One crafted connection. Every method prints one line of what it did and
    what came back (prefixed with the connection's name)."""

    def __init__(self, peer, dst, dport, sport, isn, src=None, ts=None, name=None, mss=1460, win=65535):
        self.p, self.dport, self.sport = peer, dport, sport
        self.v6 = ":" in dst
        self.dst = socket.inet_ntop(socket.AF_INET6 if self.v6 else socket.AF_INET,
                                    socket.inet_pton(socket.AF_INET6 if self.v6 else socket.AF_INET, dst))
        self.src = src or (os.environ.get("ATK_SRC6", "2001:db8:bad::1") if self.v6 else os.environ.get("ATK_SRC", "192.0.2.1"))
        self.isn = isn & M32
        self.ts = ts          # our next TSval, None: no timestamps
        self.name = name or "%s:%d" % (dst, sport)
        self.mss, self.win = mss, win
        self.srv_isn = None
        self.srv_ts = 0       # the server's last TSval (our TSecr)
        self.synack_ts = 0    # its SYN-ACK's TSval (our TSecr until it took data: a request socket checks it)
        self.srv_win = 0
        self.srv_tsopt = False
        self.acked = -1       # the highest ACK from the server, relative to isn + 1
        self.acks = 0         # segments from the server that carried no data
        self.rx = {}          # the server's data by relative sequence number
        self.rx_segs = 0      # data segments from the server (retransmissions included)
        self.fin = self.rst_seen = False
        self.rcv = 0          # server bytes we acknowledge (relative to srv_isn + 1)
        self.seen = 0         # server bytes reply() returned already
        self.nxt = 0          # our next relative sequence number after the SYN

    # -- receiving (under peer.cv) --
    def _segment(self, tcp):
        f = int(tcp.flags)
        for k, v in tcp.options:
            if k == "Timestamp":
                self.srv_ts = v[0]
                self.srv_tsopt = True
        if f & 0x04:
            self.rst_seen = True
            return
        if f & 0x12 == 0x12:
            self.srv_isn = tcp.seq
            self.srv_win = tcp.window
            self.synack_ts = self.srv_ts
        if self.srv_isn is None:
            return
        if f & 0x10:
            self.acked = max(self.acked, rel(tcp.ack, self.isn + 1))
        payload = bytes(tcp.payload)
        if payload:
            self.rx[rel(tcp.seq, self.srv_isn + 1)] = payload
            self.rx_segs += 1
        elif not f & 0x02:
            self.acks += 1
        if f & 0x01:
            self.fin = True

    def _wait(self, cond, timeout):
        end = time.monotonic() + timeout
        with self.p.cv:
            while not cond():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.p.cv.wait(left)
            return True

    def received(self):
        """the server's bytes in order from its first"""
        with self.p.cv:
            return self._received_locked()

    # -- sending --
    def _ip(self, ext=False):
        if self.v6:
            ip = IPv6(src=self.src, dst=self.dst)
            return ip / IPv6ExtHdrDestOpt() if ext else ip
        return IP(src=self.src, dst=self.dst)

    def _opts(self, syn, tsval):
        o = [("MSS", self.mss)] if syn else []
        if self.ts is not None and (syn or self.srv_tsopt):
            if tsval is None:
                tsval = self.ts
                self.ts += 1
            ecr = 0 if syn else self.srv_ts if self.acked > 0 or self.rx_segs else self.synack_ts
            o.append(("Timestamp", (tsval & M32, ecr)))
        return o

    def segment(self, seq, flags, payload=b"", tsval=None, urg=0, ack=None, win=None, syn=False):
        a = 0
        if "A" in flags and self.srv_isn is not None:
            a = (self.srv_isn + 1 + (self.rcv if ack is None else ack)) & M32
        t = TCP(sport=self.sport, dport=self.dport, seq=seq & M32, ack=a, flags=flags,
                window=self.win if win is None else win, urgptr=urg, options=self._opts(syn, tsval))
        return t / Raw(payload) if payload else t

    def xmit(self, tcp, frag=0, ext=False):
        pkt = self._ip(ext) / tcp
        if not frag:
            self.p.send_l3(pkt)
            return
        if self.v6:
            pkt = IPv6(src=self.src, dst=self.dst) / IPv6ExtHdrFragment() / tcp
            frags = fragment6(pkt, frag)
        else:
            frags = fragment(pkt, frag)
        for f in frags:
            self.p.send_l3(f)

    def syn(self, data=b"", timeout=2.0, tsval=None):
        """SYN (with data if given); True when a SYN-ACK came"""
        self.xmit(self.segment(self.isn, "S", data, tsval=tsval, syn=True))
        ok = self._wait(lambda: self.srv_isn is not None or self.rst_seen, timeout) and self.srv_isn is not None
        say(self.name, "SYN%s:" % (" with %d bytes" % len(data) if data else ""),
            "SYN-ACK" if ok else ("RST" if self.rst_seen else "no answer"),
            "(server ts)" if self.srv_tsopt else "")
        return ok

    def ack(self, tsval=None):
        """the handshake's last ACK, no data"""
        self.xmit(self.segment(self.isn + 1 + self.nxt, "A", tsval=tsval))

    def handshake(self, timeout=2.0):
        if not self.syn(timeout=timeout):
            return False
        self.ack()
        return True

    def send(self, data, off=None, flags="PA", tsval=None, urg=0, frag=0, ext=False, win=None, ack=None):
        """one segment at relative sequence number off (default: our next)"""
        if off is None:
            off = self.nxt
        self.xmit(self.segment(self.isn + 1 + off, flags, data, tsval=tsval, urg=urg, win=win, ack=ack), frag=frag, ext=ext)
        self.nxt = max(self.nxt, off + len(data) + (1 if "F" in flags else 0))
        say(self.name, "sent %d bytes at %+d flags %s%s%s%s%s: %r" % (
            len(data), off, flags, " urg %d" % urg if urg else "", " ts %d" % tsval if tsval is not None else "",
            " in %d-byte fragments" % frag if frag else "", " behind a destination-options header" if ext else "",
            data[:60]))

    def wait_ack(self, upto, timeout=1.5):
        """True when the server acknowledged every byte before relative upto"""
        ok = self._wait(lambda: self.acked >= upto or self.rst_seen, timeout) and self.acked >= upto
        say(self.name, "server acked up to %+d (%s)" % (self.acked, "wanted %+d" % upto if not ok else "ok"))
        return ok

    def reply(self, timeout=2.0, ack=True):
        """the server's next answer: waits for a whole HTTP head (and its body
        by Content-Length), or FIN/RST; ACKs it unless ack=False. b"" if none."""
        def whole():
            if self.rst_seen or self.fin:
                return True
            d = self._received_locked()[self.seen:]
            if b"\r\n\r\n" not in d:
                return False
            head, _, body = d.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    try:
                        return len(body) >= int(line.split(b":", 1)[1])
                    except ValueError:
                        return True
            return True
        self._wait(whole, timeout)
        d = self.received()
        if ack and d:
            self.rcv = len(d) + (1 if self.fin else 0)
            self.xmit(self.segment(self.isn + 1 + self.nxt, "A"))
        d, self.seen = d[self.seen:], len(d)
        first = d.split(b"\r\n", 1)[0].decode("latin-1") if d else ("RST" if self.rst_seen else "nothing")
        say(self.name, "reply:", first, "(%d bytes%s)" % (len(d), ", not acked" if d and not ack else ""))
        return d

    def _received_locked(self):
        out, at = b"", 0
        while True:
            nxt = [(s, d) for s, d in self.rx.items() if s <= at < s + len(d)]
            if not nxt:
                return out
            s, d = nxt[0]
            out += d[at - s:]
            at = s + len(d)

    def status(self, d):
        try:
            return int(d.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0

    def wait_server_data(self, since, timeout):
        """True when a data segment from the server (a retransmission) came
        after the count since (a value of rx_segs)"""
        ok = self._wait(lambda: self.rx_segs > since or self.rst_seen, timeout) and self.rx_segs > since
        say(self.name, "server data segment after that:", "yes" if ok else ("RST" if self.rst_seen else "none"))
        return ok

    def rst(self):
        self.xmit(self.segment(self.isn + 1 + self.nxt, "RA" if self.srv_isn is not None else "R"))
        say(self.name, "RST sent")


def wait_file(path, timeout):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def touch(path):
    open(path, "w").close()


def main():
    """attack.py DST PORT STEP...: one crafted connection from the command
    line. Each STEP is a JSON object: {"do": "handshake"|"syn"|"ack"|"send"|
    "wait_ack"|"reply"|"rst", ...the method's keyword arguments}; "data" is a
    string (latin-1). Options from the environment: ATK_SPORT, ATK_ISN, ATK_TS."""
    dst, port = sys.argv[1], int(sys.argv[2])
    p = Peer()
    ts = os.environ.get("ATK_TS")
    c = p.conn(dst, port, int(os.environ.get("ATK_SPORT", "20000")), int(os.environ.get("ATK_ISN", "1000")),
               ts=int(ts) if ts else None, name="cli")
    for arg in sys.argv[3:]:
        step = json.loads(arg)
        fn = getattr(c, step.pop("do"))
        if "data" in step:
            step["data"] = step["data"].encode("latin-1")
        fn(**step)


if __name__ == "__main__":
    main()
