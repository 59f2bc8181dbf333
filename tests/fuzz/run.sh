#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer targets for the pure parsers (control-protocol
# validator, config parser, container engines' state) and fuzz each for FUZZ_SECONDS (default 60).
# Prints "PASS|FAIL fuzz_NAME: ..." per target and a closing
# "N passed, N failed, N skipped" line; exits 1 on a crash, 77 (with a SKIP
# line) when clang or its libFuzzer runtime is missing.
#
# Everything goes to build/fuzz/: the binaries, logs, crash files
# (build/fuzz/artifacts/NAME/) and the working corpus, which starts as a copy
# of tests/fuzz/corpus/NAME/ and keeps what it learns across runs
# (rm -rf build/fuzz to start over). The committed corpus is never written,
# except with FUZZ_REGEN_SEEDS=1, which refreshes corpus/proto/ from
# gen_seeds.c after a change to proto.h.
#   FUZZ_SECONDS=10 bash tests/fuzz/run.sh
#   FUZZ_TARGETS="config" bash tests/fuzz/run.sh
#   build/fuzz/fuzz_proto CRASHFILE         reproduce a crash
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ=$ROOT/tests/fuzz
OUT=$ROOT/build/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
# shellcheck disable=SC2054 # the commas are inside one flag
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-fno-omit-frame-pointer -D_GNU_SOURCE -std=gnu11 -Wall -Wextra
	-I"$ROOT/lib" -I"$ROOT/daemon" -I"$ROOT/bpf")
# per target: sources under test, -max_len, extra libFuzzer flags
declare -A SRC=(
	[proto]="lib/proto.c lib/util.c"
	[config]="lib/config.c lib/config_designate.c lib/config_marks.c lib/util.c"
	[engine]="lib/engine_state.c lib/json.c lib/util.c"
)
declare -A MAXLEN=([proto]=20000 [config]=4096 [engine]=4096)
declare -A EXTRA=([proto]="" [config]="-dict=$FUZZ/config.dict" [engine]="")
pass=0 fail=0 skip=0

mkdir -p "$OUT" || exit 1

# -- can this machine build a libFuzzer target at all? --------------------
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "SKIP fuzz: $CLANG not installed (apt-get install clang)"
	exit 77
fi
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$OUT/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" >"$OUT/probe.log" 2>&1; then
	echo "SKIP fuzz: $CLANG cannot link -fsanitize=fuzzer,address,undefined" \
		"($(grep -m1 -iE 'error|cannot' "$OUT/probe.log" || echo 'see build/fuzz/probe.log'); Debian: libclang-rt-dev)"
	exit 77
fi

# -- proto seeds: regenerate from the real header, flag a stale corpus -----
SEEDS=$OUT/seeds/proto
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
if "$CLANG" -g -D_GNU_SOURCE -std=gnu11 -I"$ROOT/lib" "$FUZZ/gen_seeds.c" \
	"$ROOT/lib/proto.c" "$ROOT/lib/util.c" -o "$OUT/gen_seeds" >"$OUT/gen_seeds.log" 2>&1 &&
	"$OUT/gen_seeds" "$SEEDS" >>"$OUT/gen_seeds.log" 2>&1; then
	if [ "${FUZZ_REGEN_SEEDS:-0}" = 1 ]; then
		mkdir -p "$FUZZ/corpus/proto" && cp "$SEEDS"/* "$FUZZ/corpus/proto/" &&
			echo "note: refreshed tests/fuzz/corpus/proto from gen_seeds.c"
	elif ! diff -rq "$SEEDS" "$FUZZ/corpus/proto" >/dev/null 2>&1; then
		echo "note: tests/fuzz/corpus/proto differs from gen_seeds.c output" \
			"(FUZZ_REGEN_SEEDS=1 to refresh); fuzzing with both"
	fi
else
	echo "note: gen_seeds failed, using the committed proto seeds only:"
	sed 's/^/    /' "$OUT/gen_seeds.log"
	rm -rf "$SEEDS"
fi

build() { # NAME
	local name=$1 srcs=() s
	for s in ${SRC[$name]}; do srcs+=("$ROOT/$s"); done
	"$CLANG" "${CFLAGS[@]}" "$FUZZ/fuzz_$name.c" "${srcs[@]}" -o "$OUT/fuzz_$name" \
		>"$OUT/fuzz_$name.build.log" 2>&1
}

fuzz() { # NAME
	local name=$1 bin=$OUT/fuzz_$1 log=$OUT/fuzz_$1.log
	local work=$OUT/corpus/$1 art=$OUT/artifacts/$1 rc execs secs crash
	if ! build "$name"; then
		fail=$((fail + 1))
		echo "FAIL fuzz_$name: build failed (build/fuzz/fuzz_$name.build.log)"
		sed 's/^/    /' "$OUT/fuzz_$name.build.log" | tail -20
		return
	fi
	mkdir -p "$work" "$art"
	cp -r "$FUZZ/corpus/$name/." "$work/"
	[ "$name" = proto ] && [ -d "$SEEDS" ] && cp -r "$SEEDS/." "$work/"
	# shellcheck disable=SC2086 # EXTRA holds zero or more flags
	(cd "$OUT" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$bin" -max_total_time="$SECONDS_EACH" -max_len="${MAXLEN[$name]}" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" ${EXTRA[$name]} "$work" >"$log" 2>&1)
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	if [ "$rc" = 0 ] && [ -n "$execs" ] && [ -z "$crash" ]; then
		pass=$((pass + 1))
		echo "PASS fuzz_$name: $execs executions in ${secs:-$SECONDS_EACH} s, 0 crashes" \
			"($(find "$work" -type f | wc -l) corpus files)"
		return
	fi
	fail=$((fail + 1))
	if [ -n "$crash" ]; then
		echo "FAIL fuzz_$name: crash after ${execs:-?} executions: ${crash#"$ROOT/"}" \
			"(reproduce: build/fuzz/fuzz_$name ${crash#"$ROOT/"})"
	else
		echo "FAIL fuzz_$name: libFuzzer exited $rc without a crash file (build/fuzz/fuzz_$name.log)"
	fi
	grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | sed 's/^/    /'
	# the stack frames in porthole's own code (libFuzzer's and libc's are noise)
	grep -E '^ +#[0-9]+ .*\.[ch]:[0-9]+(:[0-9]+)?$' "$log" | grep -F "$ROOT/" | head -6 |
		sed "s|$ROOT/||g"
	# which CHECK() failed, for an abort in the target
	grep -q -E '^ +#[0-9]+ .* in abort ' "$log" &&
	grep -E '^ +#[0-9]+ .* in LLVMFuzzerTestOneInput ' "$log" | head -1 |
		sed -n 's|.*/tests/fuzz/\(fuzz_[a-z]*\.c\):\([0-9]*\):.*|\1 \2|p' |
		while read -r f l; do echo "    check failed: $(sed -n "${l}p" "$FUZZ/$f" | sed 's/^[[:space:]]*//')"; done
}

for t in ${FUZZ_TARGETS:-proto config engine}; do
	if [ -z "${SRC[$t]+x}" ]; then
		skip=$((skip + 1)); echo "SKIP fuzz_$t: no such target (proto, config, engine)"
		continue
	fi
	fuzz "$t"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
