#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Probe ADDR PORT once with a TCP connect and print what the network did:
  open     - connected (and the first line the server sent, if any)
  refused  - a RST came back: the packet passed the firewall (a hole!)
  dropped  - no answer within the timeout: the firewall dropped it
usage: probe.py ADDR PORT [TIMEOUT_SECONDS]
"""
import errno, socket, sys

addr, port = sys.argv[1], int(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(timeout)
try:
    s.connect((addr, port))
    print("open")
except socket.timeout:
    print("dropped")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    # unreachable and similar: nothing reached a socket
    print("dropped" if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "error:%s" % e.strerror)
finally:
    s.close()
