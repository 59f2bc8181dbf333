#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every test tier and print one closing line "N passed, N failed, N skipped".
#   unit         no privileges: config parser, protocol codec (ASan/UBSan build)
#   integration  root: network namespaces, real nftables, real BPF (daemon under ASan/UBSan)
#   adversary    root: a peer that crafts its own TCP (scapy) against guarded and
#                plain windows, judged by what the servers behind them logged
#   e2e          root: pebble + certbot + lego through a geo-blocked lab
# TESTS="integration/test_core.sh ..." runs a subset.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0 failed=()
start=$(date +%s)

tally() { # NAME LOGFILE RC
	local p f s line
	line=$(grep -E '^([A-Za-z0-9_/.-]+: )?[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$2" | tail -1)
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1); p=${p:-0}
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1); f=${f:-0}
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1); s=${s:-0}
	if [ "$3" = 77 ]; then
		skip=$((skip + 1)); echo "SKIP $1: $(grep -m1 '^SKIP' "$2" | sed 's/^SKIP //')"
		return
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then
		fail=$((fail + 1)); echo "FAIL $1 exited $3 without a failing check"
	fi
	[ "$3" = 0 ] || failed+=("$1")
}

run_one() { # NAME CMD...
	local name=$1 log rc t0
	shift
	log=$(mktemp)
	t0=$(date +%s.%N)
	echo "=== $name"
	"$@" >"$log" 2>&1
	rc=$?
	report "$name" "$log" "$rc" "$t0"
}

report() { # NAME LOG RC T0 [END]: what run_one prints of a test, and its tally
	local name=$1 log=$2 rc=$3 t0=$4 end=${5:-$(date +%s.%N)}
	grep -v '^PASS ' "$log" | sed 's/^/    /' | tail -80
	grep '^PASS .*executions' "$log" | sed 's/^/    /'
	grep -c '^PASS ' "$log" | sed 's/^/    PASS checks: /'
	printf '    (%.1f s)\n' "$(echo "$end - $t0" | /usr/bin/python3 -c 'import sys; print(eval(sys.stdin.read()))')"
	tally "$name" "$log" "$rc"
	rm -f "$log"
}

if [ -n "${TESTS:-}" ]; then
	list=$TESTS
else
	list="$(cd tests && ls unit/test_*.c | sed 's/\.c$//') fuzz $(cd tests && ls integration/*.sh adversary/test_*.sh e2e/test_*.sh package/test_*.sh systemd/test_*.sh 2>/dev/null)"
fi
for t in $list; do
	case $t in
	unit/*) run_one "$t" "build/asan/$(basename "$t")" ;;
	fuzz) # (CPU on one core while the namespace tests mostly wait: it runs
		# beside them, started now, reported at the end)
		fuzz_log=$(mktemp) fuzz_t0=$(date +%s.%N)
		{ env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash tests/fuzz/run.sh; r=$?; date +%s.%N >"$fuzz_log.end"; exit $r; } \
			>"$fuzz_log" 2>&1 &
		fuzz_pid=$! ;;
	*) run_one "$t" bash "tests/$t" ;;
	esac
done
if [ -n "${fuzz_pid:-}" ]; then
	wait "$fuzz_pid"
	rc=$?
	echo "=== fuzz (smoke, ${FUZZ_SECONDS:-10} s each; ran beside the tests above)"
	report "fuzz" "$fuzz_log" "$rc" "$fuzz_t0" "$(cat "$fuzz_log.end" 2>/dev/null || date +%s.%N)"
	rm -f "$fuzz_log.end"
fi

echo
echo "total time: $(( $(date +%s) - start )) s"
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ ${#failed[@]} -eq 0 ]
