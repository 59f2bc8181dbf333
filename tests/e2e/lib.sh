#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/lib.sh — end-to-end ACME client runs against the lab (tests/lab/lab.sh),
# and the one harness of the scripts on the lab (see "the test harness" below: case
# runner, teardown, probes, ruleset check, portholed's config/start/stop).
# Source it after lab.sh:   . tests/lab/lab.sh; . tests/e2e/lib.sh
#
# Every client function takes a WRAP string first: a command prefix the client is
# run through, inside the lab host's netns, e.g. "" (nothing), or
# "tests/e2e/manual-hole.sh 80 --", or later "build/porthole run --". WRAP is split
# on blanks (no quoting inside it). The client is then "env VAR=... CLIENT ...", so
# the CA variables reach it even if WRAP cleans the environment.
#
# After each client run these globals are set:
#   E2E_LAST_RESULT  ok | blocked | validation | error
#       ok          the client exited 0 (and then the function checks the certificate)
#       blocked     the CA could not connect to the client: its validation request
#                   timed out (what the geo-block does) or was refused — see
#                   _E2E_CONNECT_FAILURE; pebble's problem type is "connection" for
#                   HTTP-01 but "unauthorized" for TLS-ALPN-01
#       validation  the CA reported another validation problem (unauthorized, tls...)
#       error       anything else (setup error, client crash, timeout of the client)
#   E2E_LAST_LOG     file with the client's full output
#   E2E_LAST_SECS    wall time of the client run in seconds
# Functions return 0 when the client succeeded AND every check passed, else 1.
# To assert a failure, use  e2e_expect_blocked FUNC ARGS...
#
# Knobs (env): E2E_WORK (work dir, made by e2e_init), E2E_TIMEOUT (s, default 120),
# E2E_HTTP_ADDR (address the clients bind for HTTP-01/TLS-ALPN-01; default: all),
# E2E_VERBOSE=1 (print client output).

E2E_TIMEOUT=${E2E_TIMEOUT:-120}
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BPFFS_PID=
E2E_HTTP_ADDR=${E2E_HTTP_ADDR:-}
E2E_EMAIL=${E2E_EMAIL:-e2e@example.com}
E2E_DOMAIN=${E2E_DOMAIN:-porthole.test}
E2E_LAST_RESULT=
E2E_LAST_LOG=
E2E_LAST_SECS=
E2E_CHILD=

_e2e_say() { printf '  %s\n' "$*"; }

# e2e_init — make the work dir (E2E_WORK, under /tmp) for clients' state and logs.
e2e_init() {
	if [ -z "${E2E_WORK:-}" ] || [ ! -d "$E2E_WORK" ]; then
		E2E_WORK=$(mktemp -d "/tmp/${LAB_PREFIX:-phl}-e2e.XXXXXX") || return 1
	fi
	export E2E_WORK
	mkdir -p "$E2E_WORK/logs" "$E2E_WORK/certbot" "$E2E_WORK/lego" || return 1
	[ -f "$E2E_WORK/seq" ] || echo 0 >"$E2E_WORK/seq"
}

# e2e_cleanup — stop a client still running (interrupted run: its `timeout` PID,
# which passes the signal on), remove E2E_WORK (only if it is one of ours under /tmp).
e2e_cleanup() {
	if [ -n "${E2E_CHILD:-}" ] && kill -0 "$E2E_CHILD" 2>/dev/null; then
		kill -TERM "$E2E_CHILD" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$E2E_CHILD" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$E2E_CHILD" 2>/dev/null && kill -KILL "$E2E_CHILD" 2>/dev/null
		wait "$E2E_CHILD" 2>/dev/null
	fi
	E2E_CHILD=
	case ${E2E_WORK:-} in
	/tmp/phl*-e2e.*) rm -rf -- "$E2E_WORK" ;;
	esac
	E2E_WORK=
}

_e2e_seq() { # next sequence number (persisted: works inside $(...))
	local n
	n=$(($(cat "$E2E_WORK/seq") + 1))
	echo "$n" >"$E2E_WORK/seq"
	echo "$n"
}

# e2e_new_name LABEL [v4|v6|both] [V4ADDR] [V6ADDR] — print a fresh name
# LABEL-N.porthole.test and register its A/AAAA records (default: the host's primary
# addresses). Fresh names matter: a client that finds an existing certificate would
# succeed without any validation.
e2e_new_name() {
	local label=$1 fam=${2:-both} name
	name="$label-$(_e2e_seq).$E2E_DOMAIN"
	lab_add_name "$name" "$fam" "${3:-$LAB_HOST_V4}" "${4:-$LAB_HOST_V6}" >/dev/null || return 1
	echo "$name"
}

_e2e_now() { echo "${EPOCHREALTIME/,/.}"; }
_e2e_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# _e2e_exec TAG WRAP CMD... — run CMD in the host netns through WRAP, output to a log.
_e2e_exec() {
	local tag=$1 wrap=$2 t0 rc ns; shift 2
	local -a w=()
	[ -n "$wrap" ] && read -r -a w <<<"$wrap"
	E2E_LAST_LOG=$E2E_WORK/logs/$(printf '%03d' "$(_e2e_seq)")-$tag.log
	ns=$(_lab_ns host) || return 2
	{ echo "# wrap: $wrap"; echo "# cmd: $*"; } >"$E2E_LAST_LOG"
	t0=$(_e2e_now)
	# In the background + wait, so that a signal trapped by the caller interrupts us
	# at once; e2e_cleanup then stops the client by its recorded PID (E2E_CHILD).
	timeout -k 5 "$E2E_TIMEOUT" nsenter --net="/run/netns/$ns" -- "${w[@]}" \
		env REQUESTS_CA_BUNDLE="$REQUESTS_CA_BUNDLE" LEGO_CA_CERTIFICATES="$LEGO_CA_CERTIFICATES" \
		"$@" >>"$E2E_LAST_LOG" 2>&1 </dev/null &
	E2E_CHILD=$!
	wait "$E2E_CHILD"
	rc=$?
	E2E_CHILD=
	E2E_LAST_SECS=$(_e2e_secs "$t0" "$(_e2e_now)")
	echo "# exit status $rc after ${E2E_LAST_SECS}s" >>"$E2E_LAST_LOG"
	[ "${E2E_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$E2E_LAST_LOG"
	_e2e_classify "$rc" "$E2E_LAST_LOG"
	return $rc
}

# What pebble says when its validation request gets no (TCP) answer. For HTTP-01 the
# problem type is "connection"; for TLS-ALPN-01 pebble reports "unauthorized" with
# "Failed to connect to ADDR:443 for the tls-alpn-01 challenge".
_E2E_CONNECT_FAILURE='Failed to connect to|Timeout during connect|context deadline exceeded|i/o timeout|[Cc]onnection refused|Timeout after connect'

# The problems the CA reported, as the clients print them (certbot: a block after
# "The Certificate Authority reported these problems"; lego: "urn:ietf:params:acme:error:..."
# lines). Empty if the failure was not a validation failure reported by the CA.
_e2e_ca_problems() { # LOG
	grep -E 'urn:ietf:params:acme:error:' "$1"
	sed -n '/Certificate Authority reported these problems/,/^Hint:/p' "$1"
}

_e2e_classify() { # RC LOG -> E2E_LAST_RESULT
	local probs
	if [ "$1" = 0 ]; then E2E_LAST_RESULT=ok; return; fi
	if [ "$1" = 124 ] || [ "$1" = 137 ]; then E2E_LAST_RESULT=error; return; fi
	probs=$(_e2e_ca_problems "$2")
	if [ -z "$probs" ]; then E2E_LAST_RESULT=error
	elif grep -Eq "acme:error:connection|Type: +connection|$_E2E_CONNECT_FAILURE" <<<"$probs"; then
		E2E_LAST_RESULT=blocked
	else E2E_LAST_RESULT=validation
	fi
}

_e2e_show_failure() {
	echo "  client output ($E2E_LAST_LOG), last lines:" >&2
	tail -n 25 "$E2E_LAST_LOG" | sed 's/^/    | /' >&2
}

# e2e_check_cert CERT ISSUER_CHAIN NAME... — the certificate exists, lists exactly
# the NAMEs as DNS SANs, and chains to pebble's current root.
e2e_check_cert() {
	local cert=$1 chain=$2 sans want got; shift 2
	[ -s "$cert" ] || { _e2e_say "no certificate at $cert"; return 1; }
	sans=$(openssl x509 -in "$cert" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ') \
		|| { _e2e_say "cannot read $cert"; return 1; }
	got=$(tr ',' '\n' <<<"$sans" | sed -n 's/^DNS://p' | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || { _e2e_say "SANs '$got' != wanted '$want'"; return 1; }
	if ! openssl verify -CAfile "$LAB_STATE/pebble-root.pem" -untrusted "$chain" "$cert" >/dev/null 2>&1; then
		_e2e_say "chain of $cert does not verify against pebble's root"
		return 1
	fi
	_e2e_say "certificate $(basename "$(dirname "$cert")")/$(basename "$cert"): SANs ${got% }, serial $(openssl x509 -in "$cert" -noout -serial | cut -d= -f2), chain OK"
}

_e2e_bracket() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }

_e2e_certbot_dirs() {
	echo --config-dir "$E2E_WORK/certbot/config" --work-dir "$E2E_WORK/certbot/work" --logs-dir "$E2E_WORK/certbot/logs"
}

# e2e_certbot WRAP NAME... — certbot certonly --standalone (HTTP-01 on port 80) for
# NAME... (certificate name = first NAME), in the host netns through WRAP.
# Checks: exit 0, a new lineage with exactly those SANs, chain to pebble's root.
e2e_certbot() {
	local wrap=$1; shift
	local first=$1 d
	local -a args
	d=$E2E_WORK/certbot/config/live/$first
	if [ -e "$d" ]; then _e2e_say "certbot lineage $first already exists: use a fresh name"; E2E_LAST_RESULT=error; return 1; fi
	read -r -a args <<<"$(_e2e_certbot_dirs)"
	local n; for n in "$@"; do args+=(-d "$n"); done
	[ -n "$E2E_HTTP_ADDR" ] && args+=(--http-01-address "$E2E_HTTP_ADDR")
	_e2e_exec certbot "$wrap" "$(command -v certbot)" certonly --standalone --http-01-port 80 \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--cert-name "$first" "${args[@]}"
	if [ "$E2E_LAST_RESULT" != ok ]; then
		_e2e_say "certbot for $*: $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"
		_e2e_show_failure
		return 1
	fi
	_e2e_say "certbot for $*: exit 0 (${E2E_LAST_SECS}s)"
	e2e_check_cert "$d/cert.pem" "$d/chain.pem" "$@"
}

# e2e_certbot_renew WRAP — certbot renew --force-renewal of every lineage made by
# e2e_certbot in this E2E_WORK. Checks: exit 0, each lineage has a NEW serial, same
# SANs, chain OK. Returns 1 if there is no lineage.
e2e_certbot_renew() {
	local wrap=$1 d lin sans
	local -A before=()
	local -a args lineages=()
	for d in "$E2E_WORK"/certbot/config/live/*/; do
		[ -f "$d/cert.pem" ] || continue
		lin=$(basename "$d")
		lineages+=("$lin")
		before[$lin]=$(openssl x509 -in "$d/cert.pem" -noout -serial)
	done
	[ ${#lineages[@]} -gt 0 ] || { _e2e_say "no certbot lineage to renew"; E2E_LAST_RESULT=error; return 1; }
	read -r -a args <<<"$(_e2e_certbot_dirs)"
	_e2e_exec certbot-renew "$wrap" "$(command -v certbot)" renew --force-renewal --no-random-sleep-on-renew --non-interactive "${args[@]}"
	if [ "$E2E_LAST_RESULT" != ok ]; then
		_e2e_say "certbot renew (${lineages[*]}): $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"
		_e2e_show_failure
		return 1
	fi
	_e2e_say "certbot renew --force-renewal (${lineages[*]}): exit 0 (${E2E_LAST_SECS}s)"
	for lin in "${lineages[@]}"; do
		d=$E2E_WORK/certbot/config/live/$lin
		if [ "$(openssl x509 -in "$d/cert.pem" -noout -serial)" = "${before[$lin]}" ]; then
			_e2e_say "lineage $lin was not renewed (same serial)"
			return 1
		fi
		sans=$(openssl x509 -in "$d/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr ',' '\n' | sed -n 's/^DNS://p')
		# shellcheck disable=SC2086
		e2e_check_cert "$d/cert.pem" "$d/chain.pem" $sans || return 1
	done
}

_e2e_lego() { # TAG WRAP CHALLENGE-ARGS... -- NAME...
	local tag=$1 wrap=$2; shift 2
	local -a ch=() dom=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do ch+=("$1"); shift; done
	shift
	local n; for n in "$@"; do dom+=(-d "$n"); done
	local first=$1 crt=$E2E_WORK/lego/certificates/$1.crt
	rm -f "$crt"
	_e2e_exec "$tag" "$wrap" "$(command -v lego)" --server "$LAB_ACME_DIR" --email "$E2E_EMAIL" \
		--accept-tos --path "$E2E_WORK/lego" "${dom[@]}" "${ch[@]}" run
	if [ "$E2E_LAST_RESULT" != ok ]; then
		_e2e_say "lego ${ch[*]} for $*: $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"
		_e2e_show_failure
		return 1
	fi
	_e2e_say "lego ${ch[*]} for $*: exit 0 (${E2E_LAST_SECS}s)"
	e2e_check_cert "$crt" "$E2E_WORK/lego/certificates/$first.issuer.crt" "$@"
}

# e2e_lego_http WRAP NAME... — lego HTTP-01 (its own server on port 80).
e2e_lego_http() {
	local wrap=$1; shift
	_e2e_lego lego-http "$wrap" --http --http.port "$(_e2e_bracket "$E2E_HTTP_ADDR"):80" -- "$@"
}

# e2e_lego_tls WRAP NAME... — lego TLS-ALPN-01 (its own server on port 443).
e2e_lego_tls() {
	local wrap=$1; shift
	_e2e_lego lego-tls "$wrap" --tls --tls.port "$(_e2e_bracket "$E2E_HTTP_ADDR"):443" -- "$@"
}

# e2e_expect_blocked FUNC ARGS... — run an e2e client function that must FAIL because
# the CA could not connect (E2E_LAST_RESULT=blocked). Returns 0 in that case, 1 if
# the client succeeded or failed in any other way (setup error, wrong response...).
e2e_expect_blocked() {
	"$@" >/dev/null 2>&1
	case $E2E_LAST_RESULT in
	blocked)
		_e2e_say "$1 ${*:3}: failed as expected, CA reported a connection problem (${E2E_LAST_SECS}s):"
		_e2e_ca_problems "$E2E_LAST_LOG" | grep -E 'Detail:|urn:ietf' | head -n 4 | cut -c1-200 | sed 's/^ */    /'
		return 0 ;;
	ok)
		_e2e_say "$1 ${*:3}: SUCCEEDED but should have been blocked (${E2E_LAST_SECS}s)"
		return 1 ;;
	*)
		_e2e_say "$1 ${*:3}: failed, but not with a CA connection problem: $E2E_LAST_RESULT (${E2E_LAST_SECS}s)"
		_e2e_show_failure
		return 1 ;;
	esac
}

# ================================================================ the test harness
# What every script on the lab shares (tests/e2e/test_e2e.sh, tests/e2e/lab-selftest.sh,
# tests/demo.sh): the case runner and its closing line, the EXIT/signal handling,
# probe expectations, the ruleset comparison, and portholed's config, start and stop.
# Globals used: PASSED FAILED SKIPPED T_ALL (counters, start time), LAB_IS_UP,
# BASE_RULESET, and for the daemon BIN (directory of portholed/porthole), T (its temp
# dir: config, socket, audit log, log), DPID (its PID), DCG (its own cgroup), CG2.

say() { printf '  %s\n' "$*"; }

# the cgroup2 mount point ("" if none)
CG2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
LAB_IS_UP=0
DPID=
DCG=

# e2e_harness LABEL EXIT-FUNC — start counting cases; the closing line is
# "LABEL: N passed, N failed, N skipped" (without "LABEL: " if LABEL is empty).
# EXIT-FUNC runs on exit; SIGINT/SIGTERM/SIGHUP count as one failure, print the
# closing line and exit 130/143/129 (through EXIT-FUNC).
e2e_harness() {
	E2E_LABEL=$1
	PASSED=0 FAILED=0 SKIPPED=0
	T_ALL=$(_e2e_now)
	# shellcheck disable=SC2064
	trap "$2" EXIT
	trap 'e2e_interrupted INT 130' INT
	trap 'e2e_interrupted TERM 143' TERM
	trap 'e2e_interrupted HUP 129' HUP
}

_e2e_summary() {
	echo "total $(_e2e_secs "$T_ALL" "$(_e2e_now)")s"
	echo "${E2E_LABEL:+$E2E_LABEL: }$PASSED passed, $FAILED failed, $SKIPPED skipped"
}

e2e_interrupted() { # SIGNAL-NAME EXIT-STATUS
	echo "FAIL interrupted by SIG$1"
	FAILED=$((FAILED + 1))
	_e2e_summary
	exit "$2"   # the EXIT trap cleans up
}

# E2E_CASES="NAME ...": only those cases run, with the ones every run needs
# (E2E_ALWAYS); the others say SKIP (the kernel tier's time budget). A case that
# builds on another needs it chosen too (certbot_renew_force renews
# certbot_http01_v4only's certificate).
E2E_ALWAYS="lab_up daemon_start daemon_sigterm_clean_stop teardown_leaves_nothing"

# e2e_run_case NAME FUNC [ARGS...] — "--- NAME", run, "PASS NAME (T s)" or "FAIL ...".
e2e_run_case() {
	local name=$1 t0 t; shift
	if [ -n "${E2E_CASES:-}" ] && [[ " $E2E_CASES $E2E_ALWAYS " != *" $name "* ]]; then
		echo "SKIP $name: not chosen (E2E_CASES)"
		SKIPPED=$((SKIPPED + 1))
		return 0
	fi
	echo "--- $name"
	t0=$(_e2e_now)
	if "$@"; then
		t=$(_e2e_secs "$t0" "$(_e2e_now)")
		echo "PASS $name (${t}s)"
		PASSED=$((PASSED + 1))
		return 0
	fi
	t=$(_e2e_secs "$t0" "$(_e2e_now)")
	echo "FAIL $name (${t}s)"
	FAILED=$((FAILED + 1))
	return 1
}

# e2e_finish — the closing lines; exit 0 if no case failed, else 1.
e2e_finish() {
	_e2e_summary
	[ "$FAILED" = 0 ] && exit 0
	exit 1
}

# e2e_bpffs_down — end the daemons' mount namespace (its bpffs goes with it).
e2e_bpffs_down() {
	[ -n "$BPFFS_PID" ] || return 0
	kill -TERM "$BPFFS_PID" 2>/dev/null
	wait "$BPFFS_PID" 2>/dev/null
	BPFFS_PID=
}

# e2e_teardown [--quiet-client] — the EXIT trap's work: stop a client still running
# and remove E2E_WORK (its messages hidden with --quiet-client), stop portholed, take
# the lab down if it is up, remove the daemon's cgroup.
e2e_teardown() {
	trap - EXIT INT TERM HUP
	if [ "${1:-}" = --quiet-client ]; then e2e_cleanup 2>/dev/null; else e2e_cleanup; fi
	e2e_daemon_stop >/dev/null
	e2e_bpffs_down
	[ "$LAB_IS_UP" = 1 ] && lab_down
	LAB_IS_UP=0
	e2e_daemon_cgroup_remove
}

# e2e_lab_up — the lab_up case: lab up, clients' work dir, baseline ruleset.
e2e_lab_up() {
	lab_up || return 1
	LAB_IS_UP=1
	e2e_init || return 1
	BASE_RULESET=$(lab_ruleset)
	say "lab $LAB_PREFIX up; ACME directory $LAB_ACME_DIR reachable from $LAB_NS_HOST"
}

# e2e_lab_down_check — take the lab down (after stopping a client and removing
# E2E_WORK) and check that no namespace and no recorded process is left. Sets
# E2E_LAB_NPROCS to the number of processes the lab had recorded.
e2e_lab_down_check() {
	local ok=0 ns pid st name r cur
	local -a recorded=()
	while read -r pid st name; do recorded+=("$pid:$st:$name"); done <"$LAB_STATE/pids"
	E2E_LAB_NPROCS=${#recorded[@]}
	e2e_cleanup
	e2e_bpffs_down
	lab_down || ok=1
	LAB_IS_UP=0
	for ns in "$LAB_NS_HOST" "$LAB_NS_INET" "$LAB_NS_ALLOW"; do
		if ip netns list | grep -qw -- "$ns"; then say "netns $ns still exists"; ok=1; fi
	done
	for r in "${recorded[@]}"; do
		IFS=: read -r pid st name <<<"$r"
		cur=$(proc_starttime "$pid") || cur=
		if [ -n "$cur" ] && [ "$cur" = "$st" ]; then say "$name ($pid) still running"; ok=1; fi
	done
	return $ok
}

# ---------------------------------------------------------------- probes and ruleset
# e2e_probe_parallel DIR — lines "ADDR PORT ROLE [WANT]" on stdin, probed at once
# with lab_probe (a "dropped" answer costs LAB_PROBE_TIMEOUT seconds; with WANT
# "open", lab_probe's second try too); the answer to line N (001, 002...) is written
# to DIR/N. DIR is made afresh.
e2e_probe_parallel() {
	local d=$1 i=0 addr port role want
	local -a pids=()
	rm -rf "$d"; mkdir -p "$d" || return 1
	while read -r addr port role want; do
		[ -n "$addr" ] || continue
		i=$((i + 1))
		( lab_probe "$addr" "$port" "$role" "$want" >"$d/$(printf %03d $i)" ) &
		pids+=($!)
	done
	# only the probes (pebble and portholed may be children of this shell too)
	[ ${#pids[@]} = 0 ] || wait "${pids[@]}"
}

# e2e_expect_probes [--each] — lines "WANT ADDR PORT ROLE" on stdin, probed in
# parallel (one that should be open gets lab_probe's longer second try). Says every
# mismatch; then, if all matched, one line "probes from inet: ADDR:PORT=GOT..." — or
# with --each one line per probe, matched or not.
e2e_expect_probes() {
	local each=${1:-} d=$E2E_WORK/probes i ok=0 want addr port role got
	local -a wants=() specs=() line=()
	while read -r want addr port role; do
		[ -n "$want" ] || continue
		wants+=("$want") specs+=("$addr $port $role")
	done
	for i in "${!specs[@]}"; do echo "${specs[$i]} ${wants[$i]}"; done | e2e_probe_parallel "$d" || return 1
	for i in "${!specs[@]}"; do
		want=${wants[$i]}
		read -r addr port role <<<"${specs[$i]}"
		got=$(cat "$d/$(printf %03d $((i + 1)))" 2>/dev/null)
		if [ "$got" != "$want" ]; then
			say "probe $addr port $port from $role: $got, expected $want"; ok=1
		elif [ "$each" = --each ]; then
			say "probe $addr port $port from $role: $got"
		fi
		if [ "$role" = inet ]; then line+=("$addr:$port=$got"); else line+=("$addr:$port=$got(from $role)"); fi
	done
	[ $ok = 0 ] && [ "$each" != --each ] && say "probes from inet: ${line[*]}"
	return $ok
}

# e2e_ruleset_unchanged — the host's ruleset (porthole's own table aside) is
# byte-identical to BASE_RULESET; else says the diff.
e2e_ruleset_unchanged() {
	local now
	now=$(lab_ruleset)
	if [ "$now" != "$BASE_RULESET" ]; then
		say "host ruleset differs from the baseline:"
		diff <(printf '%s\n' "$BASE_RULESET") <(printf '%s\n' "$now") | sed 's/^/    /'
		return 1
	fi
	say "host ruleset byte-identical to the baseline"
}

# e2e_expect_blocked_unchanged FUNC ARGS... — e2e_expect_blocked FUNC ARGS..., then
# e2e_ruleset_unchanged (both run).
e2e_expect_blocked_unchanged() {
	local ok=0
	e2e_expect_blocked "$@" || ok=1
	e2e_ruleset_unchanged || ok=1
	return $ok
}

# ---------------------------------------------------------------- portholed
# e2e_daemon_start [CONFIG-LINE...] — write $T/porthole.conf (socket, audit log and
# state file in $T, ports 80 and 443, max_window 300, host_rule_linger $E2E_LINGER or 0
# (the checks that nothing is left run right after a window), then the CONFIG-LINEs), start
# portholed with it in the lab host's netns, in its own cgroup DCG=$CG2/$LAB_PREFIX-daemon,
# stderr to $T/portholed.log, and wait (10 s at most) for its "ready:" line. Sets
# DPID, and WRAP80 / WRAP443 (`porthole run --` [--port 443] on that socket).
# Returns 1 if the cgroup cannot be made (DCG left empty), 2 if it did not get ready.
e2e_daemon_start() {
	WRAP80="env PORTHOLE_SOCKET=$T/porthole.sock $BIN/porthole run --"
	WRAP443="env PORTHOLE_SOCKET=$T/porthole.sock $BIN/porthole run --port 443 --"
	{
		cat <<-CONF
		socket = $T/porthole.sock
		socket_group = root
		audit_log = $T/audit.jsonl
		state_file = $T/last-window
		ports = 80, 443
		max_window = 300
		host_rule_linger = ${E2E_LINGER:-0}
		CONF
		[ $# = 0 ] || printf '%s\n' "$@"
	} >"$T/porthole.conf"
	DCG=$CG2/$LAB_PREFIX-daemon
	mkdir "$DCG" || { DCG=; return 1; }
	: >"$T/portholed.log"
	# a mount namespace with a bpffs of its own (tests/tools/bpffs-holder.sh)
	if [ -z "${BPFFS_PID:-}" ]; then
		"$E2E_ROOT/tests/tools/bpffs-holder.sh" >"$T/bpffs.out" 2>&1 &
		BPFFS_PID=$!
		for _ in $(seq 100); do grep -q ready "$T/bpffs.out" && break; sleep 0.05; done
		grep -q ready "$T/bpffs.out" || { cat "$T/bpffs.out"; return 1; }
	fi
	# as portholed.service runs it: a user of its own with exactly the unit's
	# ambient capabilities (tests/tools/unit-caps.sh, as tests/lib.sh t_daemon_priv;
	# T_DAEMON_UID= : root)
	local priv=() caps uid=${T_DAEMON_UID-64900}
	if [ -n "$uid" ]; then
		caps=$("$E2E_ROOT/tests/tools/unit-caps.sh") || return 1
		caps+=${E2E_EXTRA_CAPS:+,$E2E_EXTRA_CAPS}
		chown "$uid" "$T" && chmod 0711 "$T" || return 1
		priv=(setpriv --reuid="$uid" --regid="$uid" --groups=0 --inh-caps="$caps" --ambient-caps="$caps"
			--bounding-set="-all,$caps")
	fi
	(
		echo $BASHPID >"$DCG/cgroup.procs" || exit 1
		exec nsenter -t "$BPFFS_PID" -m --net="/run/netns/$LAB_NS_HOST" -- "${priv[@]}" \
			"$BIN/portholed" -c "$T/porthole.conf"
	) 2>>"$T/portholed.log" &
	DPID=$!
	for _ in $(seq 200); do
		grep -q 'ready:' "$T/portholed.log" && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	grep -q 'ready:' "$T/portholed.log" || return 2
}

# e2e_daemon_stop — SIGTERM portholed (SIGKILL after 5 s, said); returns its exit
# status (0 if none runs).
e2e_daemon_stop() {
	local rc=0
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$DPID" 2>/dev/null; then
		say "portholed ($DPID) ignored SIGTERM for 5 s: SIGKILL"
		kill -KILL "$DPID" 2>/dev/null
	fi
	wait "$DPID"; rc=$?
	DPID=
	return $rc
}

# e2e_daemon_cgroup_remove — the daemon's cgroup and whatever was left below it
# (children first). Returns 1 if DCG could not be removed.
e2e_daemon_cgroup_remove() {
	[ -n "$DCG" ] && [ -d "$DCG" ] || return 0
	find "$DCG" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
	rmdir "$DCG" 2>/dev/null
}

# ph ARGS... — the porthole client on the daemon's socket.
ph() { PORTHOLE_SOCKET=$T/porthole.sock "$BIN/porthole" "$@"; }
