# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced first by every benchmark script (bench.sh, guard.sh, flood.sh,
# open_latency.sh): tests/lib.sh, where the binaries are (PORTHOLE_BIN: the
# plain build/, no sanitizers; B: the tools of `make bench-tools`), QUICK
# (non-empty under BENCH_QUICK=1, for a reduced run), and the start every
# script makes.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
PORTHOLE_BIN=$T_ROOT/build
B=$T_ROOT/build/bench
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=

# bench_start NAME [NEED...]: t_init NAME and t_require_root, then each NEED
# in order: nginx installed, the lab up (nslab_up), or a tool of build/bench
# built; one that is missing is a line on stderr naming NAME, and exit 1.
bench_start() {
	local name=$1 need
	shift
	t_init "$name"
	t_require_root
	for need in "$@"; do
		case $need in
		nginx) command -v nginx >/dev/null || { echo "$name: nginx not installed (make deps)" >&2; exit 1; } ;;
		lab) nslab_up || { echo "$name: lab setup failed" >&2; exit 1; } ;;
		*) [ -x "$B/$need" ] || { echo "$name: $B/$need missing: run make bench-tools" >&2; exit 1; } ;;
		esac
	done
}

# a line on stderr, stamped with the seconds since the script started
progress() { printf '[%4ds] %s\n' "$SECONDS" "$*" >&2; }
