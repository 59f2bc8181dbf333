#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/lib.sh — end-to-end ACME client runs against the lab (tests/lab/lab.sh).
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
