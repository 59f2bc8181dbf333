#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/systemd/test_systemd.sh — porthole under a real systemd (PID 1 of a
# container), in the e2e lab (tests/lab/lab.sh: pebble in the "internet"
# namespace, a geo-blocked host namespace).
#
# The container: systemd-nspawn boots the machine's own systemd from its /usr,
# read-only (--volatile=yes), with porthole installed by `make install
# DESTDIR=TREE PREFIX=/usr` and laid over /usr (--overlay-ro), /etc a writable
# overlay of the machine's /etc whose changes stay in this test's temporary
# directory (/etc/porthole/porthole.conf: designate = unit certbot.service),
# /etc/systemd/system replaced by a directory of our units, and the network
# namespace the lab's geo-blocked host (--network-namespace-path), so pebble
# reaches certbot inside only through porthole. The container's cgroups live in
# one cgroup of ours (supervisor, payload/...), with cgroup v2 inside at
# /sys/fs/cgroup (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), like a production host.
# A oneshot unit (phsd-test.service, inner.sh) runs the checks inside, writes
# the results to /out and powers the container off.
#
# Checks (inner.sh): 1 enable --now, 2 reload, 3 Debian's certbot.service
# renews through a unit designation, 4 stop of a unit running porthole run,
# 5 SIGKILL + Restart=on-failure + leftover sweep, 6 stop, 7 the journal's
# MESSAGE_IDs, 8 systemd-analyze security, 9 who a window is for; 10-13
# (serve.sh) a guarded server window, serve = unit porthole-nginx.service
# webroot=..., to Debian's nginx run as a unit of its own: a token opens it,
# only the challenge request passes from the blocked country, tokens-gone,
# systemctl restart of nginx (server-gone, reopened); SKIP without nginx.
# Then, here: the container stopped, nothing of it left (processes, cgroups,
# rules), the lab down.
#
# Output: PASS/FAIL/SKIP lines, a "measured:" line, last line
# "systemd: N passed, N failed, N skipped". Exit 0 / 1, or 77 (SKIP).
# Env: SYSTEMD_TIER_KEEP=DIR keeps /out (logs, audit log, journal) there.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
t_init systemd
t_require_root

skip_all() {
	echo "SKIP systemd: $*"
	echo "systemd: 0 passed, 0 failed, 1 skipped"
	exit 77
}
command -v systemd-nspawn >/dev/null || skip_all "systemd-nspawn not installed (package systemd-container)"
[ -x /usr/lib/systemd/systemd ] || skip_all "no /usr/lib/systemd/systemd to boot"
for b in pebble pebble-challtestsrv certbot openssl curl make awk timeout; do
	command -v "$b" >/dev/null || skip_all "$b not installed (make deps)"
done
[ -n "$T_CG2" ] || skip_all "no cgroup v2 mount"
[ "$(stat -fc %T /)" != tmpfs ] || skip_all "/ is a tmpfs: overlayfs needs a real file system under $T_TMP"

LAB_PREFIX=phlsd$$
LAB_STATE=/run/$LAB_PREFIX-lab
export RES_OPTIONS="timeout:1 attempts:1"
# shellcheck source=../lab/lab.sh
. "$T_ROOT/tests/lab/lab.sh"

MACHINE=phsd$$
CGNAME=$T_PFX-nspawn
# every cgroup hierarchy systemd-nspawn puts the container into: the cgroup v2
# mount, and the named v1 "systemd" hierarchy of a hybrid layout
CG_HIER=("$T_CG2")
CG1SD=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)name=systemd(,|$)/) { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$CG1SD" ] && CG_HIER+=("$CG1SD")
TREE=$T_TMP/tree UNITS=$T_TMP/units ETC=$T_TMP/etc OUT=$T_TMP/out
NSPAWN_PID=
LAB_IS_UP=0
# what systemd-nspawn makes in /run/systemd and leaves (empty) behind: removed
# at the end unless it was there before
NSPAWN_RUN_DIRS=()
for d in /run/systemd/nspawn-root /run/systemd/nspawn; do [ -e "$d" ] || NSPAWN_RUN_DIRS+=("$d"); done
[ -e /run/systemd ] || NSPAWN_RUN_DIRS+=(/run/systemd)
BOOT_DEADLINE=${SYSTEMD_TIER_TIMEOUT:-150}

container_procs() { # PIDs left anywhere in the container's cgroups
	local h
	for h in "${CG_HIER[@]}"; do
		[ -d "$h/$CGNAME" ] && find "$h/$CGNAME" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -u
}

# stop the container (if still running) and remove everything it left; idempotent
teardown() {
	local h
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		# SIGTERM: systemd-nspawn asks the container's systemd to power off
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	[ -n "$NSPAWN_PID" ] && wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
	# whatever still lives in the container's cgroup (only ours) is killed
	if [ -n "$(container_procs)" ] && [ -e "$T_CG2/$CGNAME/cgroup.kill" ]; then
		echo 1 >"$T_CG2/$CGNAME/cgroup.kill"
		for _ in $(seq 50); do [ -z "$(container_procs)" ] && break; sleep 0.1; done
	fi
	for h in "${CG_HIER[@]}"; do
		[ -d "$h/$CGNAME" ] && find "$h/$CGNAME" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
	for d in "${NSPAWN_RUN_DIRS[@]}"; do
		[ "$d" = /run/systemd/nspawn ] && rmdir "$d/propagate" 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
	if [ "$LAB_IS_UP" = 1 ]; then
		lab_down
		LAB_IS_UP=0
	fi
}
on_exit() {
	teardown
	if [ -n "${SYSTEMD_TIER_KEEP:-}" ] && [ -d "$OUT" ]; then
		mkdir -p "$SYSTEMD_TIER_KEEP" && cp -a "$OUT/." "$SYSTEMD_TIER_KEEP/" 2>/dev/null
	fi
	t_cleanup
}
trap on_exit EXIT

# ---------------------------------------------------------------- the lab and the tree
t0=$EPOCHREALTIME
if ! lab_up; then
	t_fail "lab up (see above)"
	t_summary; exit 1
fi
LAB_IS_UP=1
t_log "lab $LAB_PREFIX up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"

mkdir -p "$TREE" "$UNITS/multi-user.target.wants" "$ETC/porthole" "$OUT" || { t_fail "temporary tree"; t_summary; exit 1; }
if ! make -C "$T_ROOT" -s install DESTDIR="$TREE" PREFIX=/usr UNITDIR=/usr/lib/systemd/system >"$T_TMP/install.log" 2>&1; then
	t_fail "make install DESTDIR=$TREE PREFIX=/usr"
	tail -n 20 "$T_TMP/install.log" | sed 's/^/    /'
	t_summary; exit 1
fi
for f in usr/sbin/portholed usr/bin/porthole usr/lib/systemd/system/portholed.service usr/lib/tmpfiles.d/porthole.conf; do
	[ -e "$TREE/$f" ] || { t_fail "make install: no $f"; t_summary; exit 1; }
done
if grep -q '@SBINDIR@' "$TREE/usr/lib/systemd/system/portholed.service"; then
	t_fail "installed unit still has @SBINDIR@"
fi
# the installed example, plus what the tier needs
{
	cat "$TREE/etc/porthole/porthole.conf"
	echo
	echo "# systemd tier"
	echo "audit_log = /var/log/porthole/audit.jsonl"
	echo "designate = unit certbot.service"
} >"$ETC/porthole/porthole.conf"

# units: first boot never asks, multi-user, and the checks
ln -s /dev/null "$UNITS/systemd-firstboot.service"
ln -s /usr/lib/systemd/system/multi-user.target "$UNITS/default.target"
cat >"$UNITS/phsd-test.service" <<'EOF'
[Unit]
Description=porthole systemd tier: the checks (tests/systemd/inner.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /opt/porthole-tests/systemd/inner.sh
ExecStopPost=/usr/bin/systemctl --no-block poweroff
TimeoutStartSec=140
StandardOutput=append:/out/inner.log
StandardError=inherit
[Install]
WantedBy=multi-user.target
EOF
ln -s ../phsd-test.service "$UNITS/multi-user.target.wants/phsd-test.service"

CERT_NAME=sd-$$.porthole.test
lab_add_name "$CERT_NAME" v4 >/dev/null || { t_fail "DNS name for the certificate"; t_summary; exit 1; }
cp "$LAB_CA_PEM" "$OUT/lab-ca.pem" && cp "$LAB_STATE/pebble-root.pem" "$OUT/pebble-root.pem" || { t_fail "lab CA"; t_summary; exit 1; }
cat >"$OUT/env" <<EOF
LAB_ACME_DIR='$LAB_ACME_DIR'
HOST_V4='$LAB_HOST_V4'
HOST_V6='$LAB_HOST_V6'
INET_V4='$LAB_INET_V4'
ALLOW_V4='$LAB_ALLOW_V4'
NS_INET=/run/phsd-netns/inet
NS_ALLOW=/run/phsd-netns/allow
CERT_NAME='$CERT_NAME'
TOOLS=/opt/porthole-tests/tools
SD=/opt/porthole-tests/systemd
EOF
: >"$OUT/results"

# ---------------------------------------------------------------- boot
for h in "${CG_HIER[@]}"; do
	mkdir "$h/$CGNAME" || { t_fail "cgroup $h/$CGNAME"; t_summary; exit 1; }
done
T_BOOT0=$EPOCHREALTIME
(
	for h in "${CG_HIER[@]}"; do echo $BASHPID >"$h/$CGNAME/cgroup.procs"; done
	exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --machine="$MACHINE" \
		--register=no --keep-unit -D / --volatile=yes --capability=all \
		--system-call-filter='bpf perf_event_open' \
		--network-namespace-path="/run/netns/$LAB_NS_HOST" \
		--overlay-ro="/usr:$TREE/usr:/usr" \
		--overlay="/etc:$ETC:/etc" \
		--bind="$UNITS:/etc/systemd/system" \
		--bind="$OUT:/out" \
		--bind-ro="$T_ROOT/tests:/opt/porthole-tests" \
		--bind-ro="/run/netns/$LAB_NS_INET:/run/phsd-netns/inet" \
		--bind-ro="/run/netns/$LAB_NS_ALLOW:/run/phsd-netns/allow" \
		--boot
) </dev/null >"$T_TMP/nspawn.log" 2>&1 &
NSPAWN_PID=$!
t_log "systemd-nspawn $NSPAWN_PID booting machine $MACHINE (cgroup $T_CG2/$CGNAME)"
deadline=$((SECONDS + BOOT_DEADLINE))
while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
timed_out=0
if kill -0 "$NSPAWN_PID" 2>/dev/null; then
	timed_out=1
	t_log "container still running after ${BOOT_DEADLINE}s: stopping it"
	kill -TERM "$NSPAWN_PID"
	for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
fi
NSPAWN_RC=
if ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
	wait "$NSPAWN_PID"; NSPAWN_RC=$?
	NSPAWN_PID=
fi
T_BOOT1=$EPOCHREALTIME

# ---------------------------------------------------------------- results from inside
[ -s "$OUT/inner.log" ] && sed 's/^/  /' "$OUT/inner.log"
n_inner=0
while read -r verdict rest; do
	case $verdict in
	PASS) t_pass "$rest" ;;
	FAIL) t_fail "$rest" ;;
	SKIP) t_skip "$rest" ;;
	*) continue ;;
	esac
	n_inner=$((n_inner + 1))
done <"$OUT/results"
if [ "$n_inner" -lt 16 ]; then
	t_fail "inside the container: $n_inner of 16 checks reported (done marker: $([ -e "$OUT/done" ] && echo yes || echo no))"
	t_log "systemd-nspawn output, last lines:"
	grep -v '^\s*$' "$T_TMP/nspawn.log" | tail -n 30 | sed 's/^/    | /'
fi

if [ "$timed_out" = 0 ] && [ "$NSPAWN_RC" = 0 ]; then
	t_pass "container powered off by its systemd (systemd-nspawn exit 0)"
else
	t_fail "container stop (timed out: $timed_out, systemd-nspawn exit ${NSPAWN_RC:-still running})"
fi

# ---------------------------------------------------------------- nothing left
left=$(container_procs)
if [ -z "$left" ]; then
	t_pass "no process left in the container's cgroups"
else
	t_fail "processes left in the container's cgroups: $(echo $left)"
	for p in $left; do t_log "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"; done
fi
rules=$(lab_in_host nft list ruleset 2>/dev/null | grep -c porthole)
t_eq "no porthole table or rule left in the lab host's ruleset" 0 "$rules"
teardown
leftover=
for h in "${CG_HIER[@]}"; do [ -d "$h/$CGNAME" ] && leftover+=" $h/$CGNAME"; done
for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do [ -e "/run/netns/$ns" ] && leftover+=" netns:$ns"; done
[ -e "/run/systemd/nspawn/propagate/$MACHINE" ] && leftover+=" /run/systemd/nspawn/propagate/$MACHINE"
for d in "${NSPAWN_RUN_DIRS[@]}"; do [ -e "$d" ] && leftover+=" $d"; done
if [ -z "$leftover" ]; then
	t_pass "cleanup: container cgroups (supervisor, payload/...) and /run/systemd/nspawn* removed, lab down"
else
	t_fail "cleanup: left behind:$leftover"
fi

# ---------------------------------------------------------------- figures
fig() { sed -n "s/^$1=//p" "$OUT/figures" 2>/dev/null | tail -n1; }
boot=none
[ -s "$OUT/t_inner_start" ] && boot=$(awk -v a="$T_BOOT0" -v b="$(cat "$OUT/t_inner_start")" 'BEGIN { printf "%.1fs", b - a }')
echo "measured: boot to the checks unit ${boot}, container up to powered off $(awk -v a="$T_BOOT0" -v b="$T_BOOT1" 'BEGIN { printf "%.1f", b - a }')s, certbot.service renew $(fig certbot_renew_s)s, server-gone after a restart of nginx $(fig serve_restart_gone_s)s (serve checks $(fig serve_checks_s)s), systemd-analyze security exposure $(fig exposure)"
t_summary
