#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# unit-caps.sh [UNIT] — the AmbientCapabilities= of UNIT (default: the shipped
# packaging/portholed.service) as setpriv takes them, "+net_admin,+bpf,...":
# how every tier's daemon runs with exactly the unit's capabilities
# (tests/lib.sh t_daemon_priv, tests/e2e/lib.sh e2e_daemon_start,
# tests/integration/test_operable.sh). Exit 1, nothing printed, when the unit
# has no such line.
set -u
unit=${1:-$(cd "$(dirname "$0")/../.." && pwd)/packaging/portholed.service}
caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/^ *//; s/ *$//; s/ \+/,/g')
[ -n "$caps" ] || exit 1
echo "$caps"
