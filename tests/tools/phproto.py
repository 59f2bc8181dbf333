# SPDX-License-Identifier: GPL-2.0-or-later
"""The control protocol's numbers as lib/proto.h has them, for the tests'
hand-made clients (ctlfuzz.py, hardening.py): a version or a RUN payload
written into a test by hand goes stale when the protocol changes, and every
message of such a client is then refused for its version, not for what the
test meant to show."""
import os
import re

_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib", "proto.h")


def _define(text, name):
    m = re.search(r"^#define\s+%s\s+(\d+)" % name, text, re.M)
    if not m:
        raise SystemExit("phproto: no #define %s in %s" % (name, _H))
    return int(m.group(1))


with open(_H) as _f:
    _T = _f.read()
_M = re.search(r"^#define\s+PH_PROTO_MAGIC\s+(0x[0-9a-fA-F]+)u?", _T, re.M)
MAGIC = int(_M.group(1), 16) if _M else 0x31485050
VERSION = _define(_T, "PH_PROTO_VERSION")
PATH_LEN = _define(_T, "PH_PATH_LEN")
MAX_PORTS = _define(_T, "PH_MAX_PORTS")
CONTAINER_LEN = _define(_T, "PH_RUN_CONTAINER_LEN")
# struct ph_run: nports, pad0, max_window, ports[], pid, pad1, then its strings
RUN_HEAD = 2 + 2 + 4 + 2 * MAX_PORTS + 4 + 4
RUN_STRINGS = 2 * PATH_LEN + CONTAINER_LEN   # serve, webroot, container
RUN_LEN = RUN_HEAD + RUN_STRINGS
