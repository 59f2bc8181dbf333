#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A neighbour container's forged DSCP (tests/adversary/test_csrv_red.sh):
IPv4 segments with another host's source address, sent with a raw socket.

dscp_forge.py syn SRC SPORT DST DPORT DSCP
    a SYN (ISN 1000) carrying DSCP, then a RST at 1001 (the request socket
    goes, whatever the guard kept of the attempt)
dscp_forge.py ack SRC SPORT DST DPORT DSCP
    a bare ACK carrying DSCP, with sequence numbers of no connection
"""
import sys

from scapy.all import IP, TCP, conf, send

conf.verb = 0


def main(a):
    kind, src, sport, dst, dport, dscp = a[0], a[1], int(a[2]), a[3], int(a[4]), int(a[5])
    ip = IP(src=src, dst=dst, tos=dscp << 2)
    if kind == "syn":
        send(ip / TCP(sport=sport, dport=dport, flags="S", seq=1000))
        send(ip / TCP(sport=sport, dport=dport, flags="R", seq=1001))
    elif kind == "ack":
        send(ip / TCP(sport=sport, dport=dport, flags="A", seq=123456, ack=654321))
    else:
        sys.exit("usage: dscp_forge.py syn|ack SRC SPORT DST DPORT DSCP")
    print("sent %s from %s:%d to %s:%d with DSCP %d" % (kind, src, sport, dst, dport, dscp))


if __name__ == "__main__":
    main(sys.argv[1:])
