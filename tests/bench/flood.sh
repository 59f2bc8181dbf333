#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guarded server window under a request flood (`make bench` runs it after
# guard.sh; not part of `make test`). In the namespace lab of tests/lib.sh: a
# real nginx holds port 80 of the geo-blocked host (its own cgroup), portholed
# (plain build/) serves it with a webroot, and a live token opens a guarded
# window. Then the blocked "internet" namespace sends RATE connections/s for
# SECONDS (tests/bench/flood: one request each, held 50 ms at most, half challenge-shaped for
# tokens that do not exist, half junk; closed with a RST), bounded in count
# and time, only to the lab host's documentation address. Reported:
#   - the daemon's CPU time over the flood (utime + stime from /proc, and the
#     scheduler's run time), and its peak RSS;
#   - kernel events lost by the BPF ring buffers (the lost_events /
#     guard_lost_events counters of the daemon's programs, read with bpftool)
#     and the daemon's "could not be reported" warnings;
#   - the audit log's growth (bytes, records) and its guard-drop records;
#   - requests that reached nginx (its access log), and what the flood got
#     back;
#   - the allowed country's connections/s to nginx before and during the
#     flood (medians of REPS rounds).
# Prints one table. BENCH_QUICK=1: a 5 s flood.
set -u
source "$(dirname "$0")/common.sh"
RATE=${FLOOD_RATE:-10000}
if [ -n "$QUICK" ]; then SECS=5 CONN_S=1 REPS=3; else SECS=10 CONN_S=2 REPS=3; fi

bench_start bench-flood nginx connrate flood lab
source "$(dirname "$0")/site.sh"
bench_site_up flood_token_0123456789 4096 "$T_TMP/nginx/access.log" " backlog=4096"

conn_rate() { # REPS runs of connrate from the allowed country to nginx, one rate per line
	local i
	for i in $(seq "$REPS"); do in_allow "$B/connrate" "$H" 80 "$CONN_S" | awk '{ print $3 }'; done
}
cpu_ticks() { sed 's/^.*) //' /proc/"$T_DPID"/stat | awk '{ print $12 + $13 }'; }
runtime_ns() { awk '{ print $1 }' /proc/"$T_DPID"/schedstat; }
# the lost-event counters in the .bss of the daemon's BPF objects: "name=N ..."
lost_counters() {
	local id
	for id in $(awk '$1 == "map_id:" { print $2 }' /proc/"$T_DPID"/fdinfo/* 2>/dev/null | sort -un); do
		bpftool map show id "$id" 2>/dev/null | grep -q '\.bss' || continue
		bpftool map dump id "$id" -j 2>/dev/null
	done | "$PY" -c '
import json, sys
out = {}
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if "lost" in k and isinstance(v, int):
                out[k] = out.get(k, 0) + v
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
dec = json.JSONDecoder()
s = sys.stdin.read()
i = 0
while i < len(s):
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        break
    o, i = dec.raw_decode(s, i)
    walk(o)
print(" ".join("%s=%d" % kv for kv in sorted(out.items())) or "none")'
}
audit_bytes() { stat -c %s "$T_TMP/audit.jsonl" 2>/dev/null || echo 0; }
audit_lines() { wc -l <"$T_TMP/audit.jsonl" 2>/dev/null || echo 0; }

T_LINGER=default daemon_start "serve = cgroup /$T_PFX-nginx webroot=$WWW" || { echo "bench-flood: daemon start failed" >&2; exit 1; }
echo "$TOK.keyauth" >"$WWW/.well-known/acme-challenge/$TOK"
wait_for "$T_DLOG" "open: guarded" 50 || { echo "bench-flood: no guarded window" >&2; exit 1; }
sleep 0.5

progress "allowed country -> nginx, connections/s, window open, no flood ($REPS x $CONN_S s)"
RATES_BEFORE=$(conn_rate | tr '\n' ' ')
in_host conntrack -F >/dev/null 2>&1

progress "flood: $RATE connections/s for $SECS s from the internet namespace, allowed country measured meanwhile"
LOST0=$(lost_counters)
A0=$(audit_bytes) L0=$(audit_lines) N0=$(wc -l <"$T_TMP/nginx/access.log")
W0=$(grep -c 'could not be reported' "$T_DLOG")
C0=$(cpu_ticks) R0=$(runtime_ns)
in_inet "$B/flood" "$H" 80 "$RATE" "$SECS" 50 4096 >"$T_TMP/flood.out" 2>"$T_TMP/flood.err" &
FP=$!
T_PIDS+=("$FP")
sleep 1
RATES_DURING=$(conn_rate | tr '\n' ' ')
wait "$FP"
C1=$(cpu_ticks) R1=$(runtime_ns)
sleep 1 # the daemon drains what is queued
LOST1=$(lost_counters)
A1=$(audit_bytes) L1=$(audit_lines) N1=$(wc -l <"$T_TMP/nginx/access.log")
W1=$(grep -c 'could not be reported' "$T_DLOG")
HWM=$(awk '/^VmHWM/ { print $2 }' /proc/"$T_DPID"/status)
RSS=$(awk '/^VmRSS/ { print $2 }' /proc/"$T_DPID"/status)
# the flood's records: one "guard" record per request recorded (drops at most
# GUARD_DROPS_PER_S a second), "guard-suppressed" ones count the rest
REC=$(awk -v l="$L0" 'NR > l' "$T_TMP/audit.jsonl" | "$PY" -c '
import json, sys
g = s = n = 0
for l in sys.stdin:
    try:
        r = json.loads(l)
    except ValueError:
        continue
    if r.get("event") == "guard":
        g += 1
    elif r.get("event") == "guard-suppressed":
        s += 1
        n += r.get("dropped_requests", 0)
print(g, s, n)')
read -r REC_G REC_S REC_N <<<"$REC"
in_host conntrack -F >/dev/null 2>&1
sleep 1
progress "allowed country -> nginx after the flood"
RATES_AFTER=$(conn_rate | tr '\n' ' ')
# the window still admits its challenge
GOOD=$(in_inet curl -s -m 3 "http://$H/.well-known/acme-challenge/$TOK" 2>/dev/null)
daemon_stop

TCK=$(getconf CLK_TCK)
med() { tr ' ' '\n' | grep . | median; }
mb=$(echo "$RATES_BEFORE" | med) md=$(echo "$RATES_DURING" | med) ma=$(echo "$RATES_AFTER" | med)
cpu_ms=$(( (C1 - C0) * 1000 / TCK ))
run_ms=$(( (R1 - R0) / 1000000 ))
read -r _ att _ con _ sent _ ans _ fail _ skip _ fsecs _ frate <"$T_TMP/flood.out"
printf '\nguarded window under a flood (nginx, %s run): %s connections/s for %s s from the internet\n' \
	"$([ -n "$QUICK" ] && echo quick || echo full)" "$RATE" "$SECS"
bench_row "measure" "value"
bench_row "flood: attempted / connected / request sent / answered / failed / skipped" \
	"${att:-?} / ${con:-?} / ${sent:-?} / ${ans:-?} / ${fail:-?} / ${skip:-?} (${frate:-?}/s over ${fsecs:-?} s)"
bench_row "daemon CPU over the flood (utime+stime; scheduler run time)" \
	"$cpu_ms ms; $run_ms ms ($(awk -v c="$run_ms" -v s="${fsecs:-$SECS}" 'BEGIN { printf "%.1f", c / 10 / s }')% of one CPU)"
bench_row "daemon RSS after; peak (VmHWM)" "$RSS KiB; $HWM KiB"
bench_row "ring-buffer lost events before -> after" "$LOST0 -> $LOST1"
bench_row "daemon warnings 'could not be reported' during the flood" "$((W1 - W0))"
bench_row "audit log growth: bytes, records" "$((A1 - A0)) B ($(awk -v b="$((A1 - A0))" -v s="${fsecs:-$SECS}" 'BEGIN { printf "%.0f", b / (s > 0 ? s : 1) }') B/s), $((L1 - L0)) records"
bench_row "  guard records; guard-suppressed records (drops they count)" "$REC_G; $REC_S ($REC_N)"
bench_row "  requests the daemon heard of (recorded + counted) / request sent" "$((REC_G + REC_N)) / ${sent:-?}"
bench_row "requests that reached nginx during the flood (its access log)" "$((N1 - N0))"
bench_row "allowed country -> nginx conn/s: before (rounds)" "$mb ($RATES_BEFORE)"
bench_row "allowed country -> nginx conn/s: during the flood (rounds)" "$md ($RATES_DURING) $(delta "$mb" "$md")"
bench_row "allowed country -> nginx conn/s: after (rounds)" "$ma ($RATES_AFTER) $(delta "$mb" "$ma")"
bench_row "the live token's challenge answered after the flood" "$([ "$GOOD" = "$TOK.keyauth" ] && echo yes || echo "NO ($GOOD)")"
