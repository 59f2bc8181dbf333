#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man pages lint clean and the completions load.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
command -v mandoc >/dev/null || { echo "SKIP docs: mandoc not installed (make deps)"; exit 77; }
for m in "$ROOT"/docs/*.[58]; do
	out=$(mandoc -T lint -W warning "$m" 2>&1)
	if [ -z "$out" ]; then pass=$((pass + 1)); echo "PASS mandoc -T lint: $(basename "$m")"
	else fail=$((fail + 1)); echo "FAIL mandoc -T lint: $(basename "$m"): $out"; fi
done
for c in "$ROOT"/packaging/bash-completion/*; do
	if bash -c "source '$c' && complete -p $(basename "$c")" >/dev/null 2>&1; then
		pass=$((pass + 1)); echo "PASS completion loads: $(basename "$c")"
	else fail=$((fail + 1)); echo "FAIL completion loads: $(basename "$c")"; fi
done
# every verb of the CLI is documented (no binary or no verbs: a build failure, not a pass)
verbs=
[ -x "$ROOT/build/porthole" ] && verbs=$("$ROOT/build/porthole" --help | awk '/^commands:/ {f=1; next} f && !NF {exit} f {print $1}')
if [ -z "$verbs" ]; then fail=$((fail + 1)); echo "FAIL porthole(8) documents every verb: no verbs from $ROOT/build/porthole --help (not built? run make)"; fi
for v in $verbs; do
	if grep -q "^\.Ss $v" "$ROOT/docs/porthole.8"; then pass=$((pass + 1)); echo "PASS porthole(8) documents '$v'"
	else fail=$((fail + 1)); echo "FAIL porthole(8) documents '$v'"; fi
done
echo "docs: $pass passed, $fail failed, 0 skipped"
[ $fail = 0 ]
