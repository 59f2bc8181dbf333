#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/proc.sh — what lab.sh and fw.sh both ask of /proc. Source it.

# proc_starttime PID: field 22 of /proc/PID/stat, the process's start time
# (fails if PID is gone): a PID with the same start time is the same process
proc_starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	set -- $s
	echo "${20}"
}
