#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/demo.sh — a walk-through of porthole on the test lab (`sudo make demo`).
#
# It builds the same lab as the end-to-end tests (tests/lab/lab.sh: a geo-blocked
# host, an "Internet" running Let's Encrypt's test CA pebble, an allowed country),
# starts portholed in the host's network namespace, and gets a real certificate with
# certbot through `porthole run`, showing at each step what it proves. Everything it
# starts is stopped and removed at the end, also on failure or Ctrl-C.
#
# Env: LAB_PREFIX (default phldemo; must start with "phl"), PORTHOLE_BIN (directory of
# portholed/porthole, default build), DEMO_KEEP=1 (keep the logs in /tmp).
# Exit status: 0 if every step succeeded, 1 otherwise.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
BIN=${PORTHOLE_BIN:-build}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, nftables, BPF): sudo make demo" >&2
	exit 1
fi
for b in "$BIN/portholed" "$BIN/porthole"; do
	[ -x "$b" ] || { echo "demo: $b is missing: run 'make all' first" >&2; exit 1; }
done
for b in pebble pebble-challtestsrv certbot nft nsenter ip openssl curl "$PY"; do
	command -v "$b" >/dev/null 2>&1 || { echo "demo: $b is not installed: run 'make deps'" >&2; exit 1; }
done

LAB_PREFIX=${LAB_PREFIX:-phldemo}
LAB_STATE=/run/$LAB_PREFIX-lab
export LAB_STATE
# shellcheck source=lab/lab.sh
. "$ROOT/tests/lab/lab.sh"
# shellcheck source=e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B='' G='' R='' D='' N=''; fi
T0=$(_e2e_now)
STEP=0 STEP_T0=
T=''   # lib.sh: LAB_IS_UP, DPID, DCG, CG2, e2e_daemon_start/stop, ph, e2e_teardown

# ---------------------------------------------------------------- presentation
step() { # TITLE PROVES
	STEP=$((STEP + 1))
	STEP_T0=$(_e2e_now)
	printf '\n%s%d. %s%s\n' "$B" "$STEP" "$1" "$N"
	[ -n "${2:-}" ] && printf '   %swhat it proves: %s%s\n' "$D" "$2" "$N"
}
show() { printf '   %s\n' "$@"; }
showcmd() { printf '   %s$ %s%s\n' "$D" "$*" "$N"; }
indent() { sed 's/^/     /'; }
ok() { printf '   %s✔ %s%s %s(%ss)%s\n' "$G" "$1" "$N" "$D" "$(_e2e_secs "$STEP_T0" "$(_e2e_now)")" "$N"; }
fail() { # MESSAGE [LOG]
	printf '   %s✘ %s%s\n' "$R" "$1" "$N"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		printf '   last lines of %s:\n' "$2"
		tail -n 20 "$2" | sed 's/^/     | /'
	fi
	printf '\n%sdemo FAILED at step %d%s (after %ss); tearing down\n' "$R" "$STEP" "$N" "$(_e2e_secs "$T0" "$(_e2e_now)")"
	exit 1   # the EXIT trap tears down
}

# ---------------------------------------------------------------- teardown
teardown() {
	e2e_teardown --quiet-client
	if [ "${DEMO_KEEP:-0}" = 1 ] && [ -n "$T" ]; then
		echo "demo: logs kept in $T"
	else
		case $T in /tmp/phl*-demo.*) rm -rf -- "$T" ;; esac
	fi
}
trap teardown EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# probes ADDR:PORT:ROLE... — probe in parallel (a drop costs 1 s); sets PROBE[spec]
declare -A PROBE
probes() {
	local s i=0
	for s in "$@"; do printf '%s\n' "${s//|/ }"; done | e2e_probe_parallel "$T/probes"
	for s in "$@"; do i=$((i + 1)); PROBE[$s]=$(cat "$T/probes/$(printf %03d $i)"); done
}

# ================================================================ the walk-through
printf '%sporthole demo%s — an ACME client validates through a geo-blocked firewall\n' "$B" "$N"
printf '%s(lab %s; every address is a documentation address inside network namespaces)%s\n' "$D" "$LAB_PREFIX" "$N"

step "Build the lab" \
	"a host whose firewall drops port 80/443 from everywhere but one allowed country, and an Internet with a real ACME CA (pebble)"
T=$(mktemp -d "/tmp/$LAB_PREFIX-demo.XXXXXX") || fail "mktemp"
lab_up 2>"$T/lab-up.log" || fail "the lab did not come up" "$T/lab-up.log"
LAB_IS_UP=1
e2e_init || fail "cannot make the clients' work directory"
printf '   %-9s %-15s %-14s %-17s %s\n' \
	host "$LAB_NS_HOST" "$LAB_HOST_V4" "$LAB_HOST_V6" "geo-blocked: the ACME client runs here" \
	internet "$LAB_NS_INET" "$LAB_INET_V4" "$LAB_INET_V6" "a blocked country: pebble (ACME CA) + its DNS" \
	allowed "$LAB_NS_ALLOW" "$LAB_ALLOW_V4" "$LAB_ALLOW_V6" "the allowed country"
show "the host's firewall (table inet filter, chain input):"
lab_ruleset | sed -n '/chain input/,/^\t}/p' | sed 's/^\t//; s/\t/  /g' | indent
BASE_RULESET=$(lab_ruleset)
ok "lab up; pebble's ACME directory $LAB_ACME_DIR answers from the host"

step "Start portholed in the host's network namespace" \
	"the daemon is ready and, while no window is open, adds nothing to the host's firewall"
show "config: ports = 80, 443   max_window = 300   audit_log = $T/audit.jsonl
state_file = $T/last-window"
e2e_daemon_start
case $? in
1) fail "cannot make the daemon's cgroup under $CG2" ;;
2) fail "portholed did not become ready" "$T/portholed.log" ;;
esac
showcmd "nsenter --net=/run/netns/$LAB_NS_HOST -- portholed -c porthole.conf"
grep -m1 'ready:' "$T/portholed.log" | sed 's/^<[0-9]>//' | indent
[ "$(lab_ruleset)" = "$BASE_RULESET" ] || fail "the idle daemon changed the host's ruleset"
ok "portholed (pid $DPID) ready; host ruleset unchanged"

step "Probe port 80 from the Internet" \
	"the geo-block works: the Internet gets no answer at all; the allowed country passes the firewall"
probes "$LAB_HOST_V4|80|inet" "$LAB_HOST_V6|80|inet" "$LAB_HOST_V4|80|allow"
p_inet=${PROBE[$LAB_HOST_V4|80|inet]} p_inet6=${PROBE[$LAB_HOST_V6|80|inet]} p_allow=${PROBE[$LAB_HOST_V4|80|allow]}
printf '   %-26s %-17s -> %-20s %s\n' \
	"from the Internet" "$LAB_INET_V4" "$LAB_HOST_V4:80" "${B}$p_inet${N}" \
	"from the Internet" "$LAB_INET_V6" "[$LAB_HOST_V6]:80" "${B}$p_inet6${N}" \
	"from the allowed country" "$LAB_ALLOW_V4" "$LAB_HOST_V4:80" "$p_allow (RST: passed the firewall, nothing listens)"
[ "$p_inet" = dropped ] && [ "$p_inet6" = dropped ] || fail "port 80 is not dropped from the Internet"
[ "$p_allow" = refused ] || fail "the allowed country does not reach the host"
ok "port 80 DROPPED from the Internet"

step "Get a certificate: porthole run -- certbot certonly --standalone" \
	"pebble validates from the blocked Internet anyway: porthole opens port 80 to certbot's socket only, only while it listens"
N4=$(e2e_new_name www v4) && N6=$(e2e_new_name ipv6 v6) || fail "cannot register the names in pebble's DNS"
show "names: $N4 (IPv4 only: A $LAB_HOST_V4), $N6 (IPv6 only: AAAA $LAB_HOST_V6)"
showcmd "porthole run -- certbot certonly --standalone -d $N4 -d $N6 ..."
# While the window is open, capture the rule porthole put into the host's chain.
off=$(stat -c %s "$T/portholed.log")
(
	for _ in $(seq 600); do
		tail -c +"$((off + 1))" "$T/portholed.log" | grep -q 'window [0-9]* open' && break
		sleep 0.02
	done
	lab_in_host nft list chain inet filter input 2>/dev/null | grep 'porthole w=' >"$T/rule.txt"
) &
watcher=$!
e2e_certbot "$WRAP80" "$N4" "$N6" >"$T/certbot-check.txt" 2>&1
rc=$?
wait "$watcher"
grep '^porthole:' "$E2E_LAST_LOG" | indent
if [ -s "$T/rule.txt" ]; then
	show "the rule porthole inserted at the top of the host's input chain while the window was open:"
	sed 's/^[[:space:]]*//' "$T/rule.txt" | indent
fi
[ $rc = 0 ] || { grep -v '^    |' "$T/certbot-check.txt" | grep -v 'client output' | sed 's/^ *//' | indent; fail "certbot did not get the certificate ($E2E_LAST_RESULT)" "$E2E_LAST_LOG"; }
grep -q '^porthole: window [0-9]* open' "$E2E_LAST_LOG" || fail "porthole reported no window" "$E2E_LAST_LOG"
ok "certbot exited 0 after ${E2E_LAST_SECS}s: certificate issued"

step "Probe port 80 from the Internet again" \
	"the hole is gone: the firewall is byte for byte what it was, and no session is left behind"
probes "$LAB_HOST_V4|80|inet" "$LAB_HOST_V6|80|inet"
p_inet=${PROBE[$LAB_HOST_V4|80|inet]} p_inet6=${PROBE[$LAB_HOST_V6|80|inet]}
printf '   %-26s %-17s -> %-20s %s\n' \
	"from the Internet" "$LAB_INET_V4" "$LAB_HOST_V4:80" "${B}$p_inet${N}" \
	"from the Internet" "$LAB_INET_V6" "[$LAB_HOST_V6]:80" "${B}$p_inet6${N}"
[ "$p_inet" = dropped ] && [ "$p_inet6" = dropped ] || fail "port 80 is still reachable from the Internet"
if [ "$(lab_ruleset)" = "$BASE_RULESET" ]; then show "host ruleset: byte-identical to before"
else diff <(echo "$BASE_RULESET") <(lab_ruleset) | indent; fail "the host's ruleset differs from before"; fi
left=$(find "$DCG/porthole" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
[ -z "$left" ] || fail "session cgroup left behind: $left"
show "session cgroups left: none"
ok "port 80 DROPPED again"

step "Read the audit log: porthole log" \
	"every window is on record: who listened, on which port, for how long, and which addresses came in (pebble's validation sources)"
showcmd "porthole log --file $T/audit.jsonl"
ph log --file "$T/audit.jsonl" >"$T/log.txt" 2>&1 || fail "porthole log failed" "$T/log.txt"
cut -c1-200 "$T/log.txt" | indent
peers=$(ph log --json --file "$T/audit.jsonl" | "$PY" -c '
import json, sys
print(" ".join(sorted({p["addr"] for r in json.load(sys.stdin) if r.get("event") == "window-close" for p in r.get("peers") or []})))')
show "peers of the window(s): ${peers:-none}  (pebble validates from $LAB_INET_V4 and $LAB_INET_V6)"
for a in $peers; do
	[ "$a" = "$LAB_INET_V4" ] || [ "$a" = "$LAB_INET_V6" ] || fail "unexpected peer $a in the audit log"
done
[ -n "$peers" ] || fail "the audit log names no peer"
ok "window(s) recorded with their peers"

step "Look at the certificate" \
	"it is a real certificate from the CA for both names, chaining to pebble's root"
CERT=$E2E_WORK/certbot/config/live/$N4/cert.pem
showcmd "openssl x509 -in live/$N4/cert.pem -noout -subject -issuer -ext subjectAltName -dates"
openssl x509 -in "$CERT" -noout -subject -issuer -ext subjectAltName -dates 2>&1 | sed 's/^ *//' | indent
grep 'chain OK' "$T/certbot-check.txt" | sed 's/^ *//' | indent
grep -q 'chain OK' "$T/certbot-check.txt" || fail "the certificate did not check out"
ok "certificate for $N4 and $N6"

step "Tear everything down" \
	"portholed stops cleanly on SIGTERM, and the lab leaves no namespace, process or cgroup behind"
e2e_daemon_stop >/dev/null; rc=$?
[ $rc = 0 ] || fail "portholed exited $rc on SIGTERM" "$T/portholed.log"
show "portholed: exit 0; last audit record: $(ph log --file "$T/audit.jsonl" | tail -n1 | tr -s ' ')"
e2e_cleanup
lab_down || fail "lab_down reported a problem"
LAB_IS_UP=0
e2e_daemon_cgroup_remove || fail "cannot remove the daemon's cgroup $DCG"
DCG=
for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
	[ -e "/run/netns/$ns" ] && fail "netns $ns still exists"
done
show "namespaces, pebble, portholed and cgroups: gone"
ok "torn down"

printf '\n%sdemo passed%s: %d steps in %ss\n' "$G" "$N" "$STEP" "$(_e2e_secs "$T0" "$(_e2e_now)")"
exit 0
