#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Open latency of a container window beside a host window (`make bench`;
# issue 23's closing figure): listen() -> the first SYN from the internet
# namespace answered (SYN-ACK), interleaved:
#   host       a designated host process (`designate = cgroup`, the lab
#              host's namespace) listening on $H2:80: one element of the
#              windows set, the input path (the lab's input geo-block);
#   container  a designated container (docker.io 20.10 in the lab host,
#              tests/lab/engines.sh; `designate = cgroup PARENT published`,
#              --cgroup-parent PARENT, -p $H:80:80) whose process listens on
#              0.0.0.0:80 in its own netns (`docker exec`): the daemon learns
#              the foreign listener, resolves its netns to (bridge, address,
#              port) and adds the cwin element and its pin; the SYN goes
#              through DNAT and the forward path (a geo-block in DOCKER-USER).
# The daemon (plain build/) keeps its default host_rule_linger (2 s): samples
# follow each other within it, so both series measure element-only batches
# after the first. Each sample waits until the previous window is gone.
# Prints a table on stdout (progress on stderr) and writes JSON
# ($BENCH_JSON, default build/bench/container.json).
# BENCH_QUICK=1: 20 samples each (else 100). BENCH_CHILD_EHASH=N: the lab
# host's net.ipv4.tcp_child_ehash_entries before the container starts, so
# that its namespace gets an established-socket table of its own (N buckets)
# instead of sharing the global one, which the daemon's census walks twice
# (README Performance). Exits 0 with a SKIP line when Docker is not
# installed.
set -u
source "$(dirname "$0")/common.sh"
source "$T_ROOT/tests/lab/engines.sh"
OUT=${BENCH_JSON:-$B/container.json}
N=100
[ -n "$QUICK" ] && N=20
PROBE_US=100 LEAD=0.01
CHILD_EHASH=${BENCH_CHILD_EHASH:-0}

bench_start bench-container synprobe lat_listen lab
trap 'eng_stop docker >/dev/null 2>&1; t_cleanup' EXIT
export T_LINGER=default
for f in portholed porthole; do
	[ -x "$PORTHOLE_BIN/$f" ] || { echo "bench-container: $PORTHOLE_BIN/$f missing: run make all" >&2; exit 1; }
done
ENG_NETNS=$T_PFX-host
PARENT=/$T_PFX-acme HCG=$T_CG2/$T_PFX-hostlat
R=$T_TMP/raw
mkdir -p "$R" "$(dirname "$OUT")" "$HCG" && T_CGROUPS+=("$HCG")
for h in $(_eng_hier); do T_CGROUPS+=("$h$PARENT"); done

progress "docker in the lab host"
eng_start docker >"$T_TMP/eng.out" 2>&1
case $? in
0) ;;
77) echo "SKIP bench-container: $(sed 's/^SKIP //' "$T_TMP/eng.out")"; exit 0 ;;
*) echo "bench-container: the engine did not start: $(cat "$T_TMP/eng.out")" >&2; exit 1 ;;
esac
eng_image docker >/dev/null 2>"$T_TMP/img.err" || { echo "bench-container: image: $(cat "$T_TMP/img.err")" >&2; exit 1; }
if [ "$CHILD_EHASH" != 0 ]; then
	in_host sysctl -qw net.ipv4.tcp_child_ehash_entries="$CHILD_EHASH" ||
		{ echo "bench-container: net.ipv4.tcp_child_ehash_entries=$CHILD_EHASH refused" >&2; exit 1; }
	progress "the container's namespace gets an established table of its own: $CHILD_EHASH buckets"
fi
in_host iptables-nft -I DOCKER-USER -s "$INET/24" -p tcp -m tcp --dport 80 -j DROP || exit 1
eng docker run -d --name lat --cgroup-parent "$PARENT" -p "$H:80:80" -v /usr:/usr:ro -v "$B:/bench:ro" \
	"$ENG_IMAGE" /bin/sleep 100000 >/dev/null || { echo "bench-container: run lat" >&2; exit 1; }
daemon_start "designate = cgroup $PARENT published ports=80" "designate = cgroup /$T_PFX-hostlat ports=80" || exit 1

elems() { # SET: elements of porthole's set SET
	in_host nft -j list set inet porthole "$1" 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(len(x["set"].get("elem",[])) for x in d if "set" in x))' 2>/dev/null || echo 0
}
idle() { # SET: wait (3 s at most) until no element is left
	for _ in $(seq 30); do [ "$(elems "$1")" = 0 ] && return 0; sleep 0.1; done
	return 1
}

# sample KIND FILE: appends "t_answer first_syn t_listen" (t_answer
# "timeout" when nothing answered within 3 s)
sample() {
	local kind=$1 file=$2 p t1 first tl addr=$H set=cwin
	[ "$kind" = host ] && addr=$H2 set=windows
	idle "$set" || progress "$kind: a window still open before the sample"
	in_inet "$B/synprobe" "$addr" 80 3000 "$PROBE_US" af >"$T_TMP/p.out" &
	p=$!
	sleep "$LEAD"
	if [ "$kind" = host ]; then
		in_host "$T_TOOLS/in_cgroup.sh" "$HCG" "$B/lat_listen" "$H2" 80 3000 >"$T_TMP/l.out" 2>/dev/null
	else
		eng docker exec lat /bench/lat_listen 0.0.0.0 80 3000 >"$T_TMP/l.out" 2>/dev/null
	fi
	wait $p
	{ read -r t1; read -r first; } <"$T_TMP/p.out"
	read -r tl <"$T_TMP/l.out"
	echo "${t1:-timeout} ${first:-0} ${tl:-0}" >>"$file"
}

: >"$R/host" && : >"$R/container"
progress "$N samples each, interleaved"
for i in $(seq "$N"); do
	sample host "$R/host"
	sample container "$R/container"
	# no container window at all (the daemon does not make them): stop early
	if [ "$i" = 3 ] && [ "$(grep -c '^timeout' "$R/container")" = 3 ]; then
		progress "container: 3 samples, no answer: no container windows here"
		break
	fi
done
"$PY" - "$R" "$OUT" "$N" "$H" "$H2" "$CHILD_EHASH" <<'PYEOF'
import json, math, sys
R, out, n, H, H2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
child_ehash = int(sys.argv[6])

def series(name):
    ok, bad, late = [], 0, 0
    for l in open("%s/%s" % (R, name)):
        t1, first, tl = l.split()
        if t1 == "timeout" or tl == "0":
            bad += 1
        elif int(first) > int(tl):
            late += 1   # probing began after listen(): not a measurement
        else:
            ok.append((int(t1) - int(tl)) / 1e6)
    return ok, bad, late

def pct(v, p):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))]

res = {"samples": n, "child_ehash": child_ehash}
print("container windows: open latency, listen() -> first SYN from the internet answered (ms)%s"
      % (", the container's netns with an established table of %d buckets" % child_ehash if child_ehash else ""))
print("%-62s %5s %8s %8s %8s %8s %8s" % ("", "n", "min", "p50", "p90", "p99", "max"))
for name, label in (("host", "host socket (%s:80, input path)" % H2),
                    ("container", "container socket (DNAT %s:80 -> C:80, forward path)" % H)):
    v, bad, late = series(name)
    res[name] = {"n": len(v), "no_answer": bad, "late_probe": late}
    if v:
        res[name].update({k: pct(v, p) for k, p in (("p50", 50), ("p90", 90), ("p99", 99))})
        res[name].update({"min": min(v), "max": max(v), "mean": sum(v) / len(v)})
        print("%-62s %5d %8.3f %8.3f %8.3f %8.3f %8.3f" % (label, len(v), min(v), pct(v, 50), pct(v, 90),
                                                          pct(v, 99), max(v)))
    else:
        print("%-62s %5d %s" % (label, 0, "no samples"))
    if bad or late:
        print("%-62s       (%d without an answer within 3 s, %d probed too late)" % ("", bad, late))
h, c = res["host"], res["container"]
if h.get("n") and c.get("n"):
    res["ratio_p50"] = c["p50"] / h["p50"]
    print("%-62s %.1fx" % ("container / host (p50)", res["ratio_p50"]))
json.dump(res, open(out, "w"), indent=1)
PYEOF
