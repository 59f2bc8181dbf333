#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Do porthole's BPF programs load on the running kernel? The kernel tier runs
# this first in each guest (tests/kernels/run.sh); it runs on the host too.
# `portholed --probe` loads every program one by one and prints one line per
# program ("PROG: loaded, N instructions verified" / "PROG: rejected: REASON"),
# exit 0 when every required program loads, 69 otherwise: each loaded program
# is a PASS, the exit status one check. A portholed without --probe (exit 64)
# is started for real instead, in the host namespace of the one lab
# (tests/lib.sh nslab_up), and its error is the evidence. Every line of that
# output is printed, indented.
set -u
source "$(dirname "$0")/../lib.sh"
t_start probe
BIN=$T_ROOT/build/portholed
[ -x "$BIN" ] || { echo "SKIP probe: $BIN not built (make all)"; exit 77; }

out=$("$BIN" --probe 2>&1)
rc=$?
if [ "$rc" != 64 ]; then
	# every line shown (tests/run.sh prints no PASS line), each load a PASS
	while IFS= read -r line; do
		t_log "$line"
		case $line in
		*": loaded"*) t_pass "probe: $line" ;;
		esac
	done <<<"$out"
	case $rc in
	0) t_pass "portholed --probe: every required program loads on $(uname -r)" ;;
	69) t_fail "portholed --probe: a required program is rejected on $(uname -r) (exit 69)" ;;
	*) t_fail "portholed --probe exited $rc" ;;
	esac
	t_summary
	exit
fi

t_log "portholed has no --probe (exit 64): starting the daemon instead"
t_setup "lab setup" nslab_up
PORTHOLE_BIN=$T_ROOT/build
if daemon_start >/dev/null; then
	t_pass "portholed starts on $(uname -r) (its BPF programs load)"
	daemon_stop
else
	wait "$T_DPID" 2>/dev/null
	rc=$?
	# libbpf's verifier log is one line, cut short: its error lines only
	grep -v 'PROG LOAD LOG' "$T_DLOG" | sed 's/^/  portholed: /' | tail -n 20
	t_fail "portholed does not start on $(uname -r) (exit $rc)"
fi
t_summary
