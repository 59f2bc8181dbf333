#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/manual-hole.sh PORT -- CMD...
#
# The "by hand" stand-in for `porthole run --`, used only to validate the lab: in the
# CURRENT network namespace (run it inside the lab host: lab_in_host), insert at the
# top of `table inet filter` chain `input` two rules opening tcp dport PORT to every
# source and every process (one per family, with counters), run CMD, then delete
# exactly those rules (found again by their comment), also on failure or signal.
# Exit status: CMD's, or 125 if the rules could not be inserted.
# If MANUAL_HOLE_REPORT names a file, "ipv4 PACKETS" and "ipv6 PACKETS" (the SYNs
# and following packets accepted by the hole) are written there at the end.
set -u
port=${1:?usage: manual-hole.sh PORT -- CMD...}
shift
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "manual-hole: no command" >&2; exit 125; }
case $port in *[!0-9]*|'') echo "manual-hole: bad port '$port'" >&2; exit 125 ;; esac

tag="phl-manual-hole-$$"

handles() { # prints "HANDLE FAMILY PACKETS" for our rules
	nft -a list chain inet filter input 2>/dev/null | awk -v tag="comment \"$tag\"" '
		index($0, tag) {
			fam = ($0 ~ /nfproto ipv6/) ? "ipv6" : "ipv4"
			pk = 0; if (match($0, /packets [0-9]+/)) pk = substr($0, RSTART + 8, RLENGTH - 8)
			h = $NF
			print h, fam, pk
		}'
}

cleanup() {
	local h fam pk v4=0 v6=0
	trap - EXIT INT TERM HUP
	while read -r h fam pk; do
		[ -n "$h" ] || continue
		[ "$fam" = ipv4 ] && v4=$pk
		[ "$fam" = ipv6 ] && v6=$pk
		nft delete rule inet filter input handle "$h" || echo "manual-hole: could not delete rule $h" >&2
	done < <(handles)
	if [ -n "${MANUAL_HOLE_REPORT:-}" ]; then
		printf 'ipv4 %s\nipv6 %s\n' "$v4" "$v6" >"$MANUAL_HOLE_REPORT"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

nft insert rule inet filter input meta nfproto ipv6 tcp dport "$port" counter accept comment "\"$tag\"" || exit 125
nft insert rule inet filter input meta nfproto ipv4 tcp dport "$port" counter accept comment "\"$tag\"" || exit 125

"$@"
rc=$?
exit $rc
