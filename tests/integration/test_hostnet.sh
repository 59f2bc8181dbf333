#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A `--network host` container is a process of the host's network namespace
# (issue 23, case 4): `designate = cgroup PATH` with the engine's
# `--cgroup-parent PATH` gives its listener a window, as for any designated
# process, and nothing else. For Docker (docker.io 20.10) and Podman (4.3),
# each started by tests/lab/engines.sh in the lab host's namespace:
#   - before the container: $H:80 is dropped for the blocked country;
#   - a container from the offline image, `--network host`, under the
#     designated parent, listening on $H:80: the blocked country connects
#     (the window), one element, the audit record names the designation;
#     a host process outside the parent listening on $H2:80 stays dropped;
#   - `stop`: the window closes (no element, $H:80 dropped, window-close).
# An engine that cannot run here is SKIPped with the reason.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start hostnet lab
trap 'eng_stop docker >/dev/null 2>&1; eng_stop podman >/dev/null 2>&1; t_cleanup' EXIT
A=$T_TMP/audit.jsonl

elements_are() { [ "$(porthole_elements)" = "$1" ]; }

hostnet_case() {
	local kind=$1 out parent=/$T_PFX-$1 cid
	eng_up "$kind" || return
	if ! out=$(eng_image "$kind" 2>&1); then
		t_fail "$kind: import of the offline image: $(tail -c 400 <<<"$out")"
		eng_stop "$kind"
		return
	fi
	daemon_start "designate = cgroup $parent" || { t_fail "$kind: daemon start"; eng_stop "$kind"; return; }
	t_eq "$kind: before the container, the blocked country to $H:80: dropped" dropped "$(probe inet $H 80)"

	# an undesignated host process on another address, for the whole case
	bg_host /dev/null /dev/null "$PY" "$T_TOOLS/listen.py" 80 120 $H2
	local other=$BG_PID
	if ! cid=$(eng_run "$kind" --name hn --network host -v "$T_TOOLS:/tools:ro" "$ENG_IMAGE" \
		/usr/bin/python3 /tools/listen.py 80 120 $H 2>"$T_TMP/run.err"); then
		t_fail "$kind: run --network host: $(tail -c 400 "$T_TMP/run.err")"
		kill -TERM "$other"; daemon_stop; eng_stop "$kind"
		return
	fi
	if until_ok 300 elements_are 1; then
		t_pass "$kind: the container's listener on $H:80 opened a window (one element)"
	else
		t_fail "$kind: no window for the container's listener ($(porthole_elements) elements): $(tail -3 "$T_DLOG" | tr '\n' '|')"
	fi
	t_eq "$kind: the blocked country reaches the container on $H:80" open "$(probe inet $H 80 1 open)"
	t_eq "$kind: ... but not an undesignated host process on $H2:80" dropped "$(probe inet $H2 80)"
	t_check "$kind: the audit record names the designation (cgroup $parent)" \
		grep -q '"event":"window-open".*"designation":{"type":"cgroup","value":"'"$parent"'"' "$A"

	eng "$kind" stop -t 2 hn >/dev/null 2>&1
	if until_ok 300 elements_are 0; then
		t_pass "$kind: the container stopped: its window closed"
	else
		t_fail "$kind: the window stayed after the container stopped ($(porthole_elements) elements)"
	fi
	t_eq "$kind: after it, $H:80 dropped again" dropped "$(probe inet $H 80)"
	t_check "$kind: window-close recorded" grep -q '"event":"window-close"' "$A"
	kill -TERM "$other"; wait "$other" 2>/dev/null
	eng "$kind" rm -f hn >/dev/null 2>&1
	daemon_stop
	eng_stop "$kind" >/dev/null
	: >"$A"
}

hostnet_case docker
hostnet_case podman
t_summary
