# SPDX-License-Identifier: GPL-2.0-or-later
# Probes of a guarded window to a server in a container, judged by the
# servers' logs (tests/adversary/test_csrv.sh, tests/integration/
# test_server_container.sh). The caller sets T_PFX, PY, RAW (httpraw.py),
# LOG1 and LOG2 (the two containers' servers' logs: "request PEER ..."
# lines), INET/INET6 and ALLOW/ALLOW6 (the two countries' addresses), and
# has tests/lib.sh's in_ns, t_pass and t_fail.

challenge() { printf 'GET /.well-known/acme-challenge/%s HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n' "$1"; }
plain() { printf 'GET /%s HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n' "$1"; }
# send FROM ADDR PORT SEGMENT...: the segments over one connection from
# FROM's namespace; prints what came back; the logs' lengths before in M1, M2
send() {
	local from=$1 a=$2 p=$3
	shift 3
	PORTHOLE_HTTP_WAIT=2 in_ns $T_PFX-$from "$PY" "$RAW" "$a" "$p" "$@" 2>&1
}
# logged LOG MARK PEER WORD: the lines since MARK of PEER's requests that read WORD
logged() { tail -n +$(($2 + 1)) "$1" | awk -v a="$3" '$1 == "request" && $2 == a' | grep -F -- "$4"; }
# requests LOG MARK PEER: PEER's request lines since MARK
requests() { tail -n +$(($2 + 1)) "$1" | awk -v a="$3" '$1 == "request" && $2 == a'; }
peer_of() {
	if [[ $2 == *:* ]]; then [ "$1" = allow ] && echo $ALLOW6 || echo $INET6
	else [ "$1" = allow ] && echo $ALLOW || echo $INET; fi
}
# settle LOG MARK PEER: wait until PEER's connection since MARK got its
# "request" line (the server writes it at once, or 1 s after a silent one),
# or 3 s when it got no connection
settle() { local i; for i in $(seq 30); do [ -n "$(requests "$1" "$2" "$3")" ] && return; sleep 0.1; done; }
# nothing NAME FROM ADDR PORT WORD SEGMENT...: neither server read WORD from FROM
nothing() {
	local n=$1 from=$2 a=$3 p=$4 w=$5 out got peer m1 m2
	shift 5
	peer=$(peer_of "$from" "$a") m1=$(wc -l <"$LOG1") m2=$(wc -l <"$LOG2")
	out=$(send "$from" "$a" "$p" "$@")
	# (no handshake, no request line ever: a connect-timeout needs no wait)
	[ "$out" = connect-timeout ] || settle "$LOG1" "$m1" "$peer"
	got=$(logged "$LOG1" "$m1" "$peer" "$w"; logged "$LOG2" "$m2" "$peer" "$w")
	if [ -z "$got" ]; then t_pass "$n"; else t_fail "$n: the server read: $got (the client saw: $out)"; fi
}
# read_by NAME FROM ADDR PORT WORD LOG SEGMENT...: LOG's server read WORD from FROM
read_by() {
	local n=$1 from=$2 a=$3 p=$4 w=$5 log=$6 out peer m
	shift 6
	peer=$(peer_of "$from" "$a") m=$(wc -l <"$log")
	out=$(send "$from" "$a" "$p" "$@")
	settle "$log" "$m" "$peer"
	if logged "$log" "$m" "$peer" "$w" >/dev/null; then t_pass "$n"; else t_fail "$n (the client saw: $out)"; fi
}
