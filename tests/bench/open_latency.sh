#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Open latency: listen() returning in a `porthole run` session -> first SYN
# from the internet namespace answered. N windows (default 100), one session
# each; prints median, p99 and max in milliseconds.
#   usage: tests/bench/open_latency.sh [N] [ADDR]
set -u
source "$(dirname "$0")/common.sh"
N=${1:-100}
bench_start open-latency
nslab_up || exit 1
daemon_start || exit 1
ADDR=${2:-$H}
: >"$T_TMP/lat"
for i in $(seq "$N"); do
	in_inet "$B/synprobe" "$ADDR" 80 3000 100 >"$T_TMP/probe.out" &
	PP=$!
	sleep 0.02
	in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" run -- "$B/lat_listen" "$ADDR" 80 3000 \
		>"$T_TMP/listen.out" 2>/dev/null
	wait $PP
	if grep -q timeout "$T_TMP/probe.out"; then
		echo "window $i: no answer within 3 s" >&2
		continue
	fi
	echo $(( $(cat "$T_TMP/probe.out") - $(cat "$T_TMP/listen.out") )) >>"$T_TMP/lat"
done
"$PY" - "$T_TMP/lat" "$N" <<'PYEOF'
import sys
v = sorted(int(x) / 1e6 for x in open(sys.argv[1]) if x.strip())
n = len(v)
if not n:
    print("no samples"); sys.exit(1)
p99 = v[min(n - 1, int(round(0.99 * (n - 1))))]
print("open latency over %d windows (of %s): median %.3f ms, p99 %.3f ms, max %.3f ms, min %.3f ms"
      % (n, sys.argv[2], v[n // 2], p99, v[-1], v[0]))
PYEOF
