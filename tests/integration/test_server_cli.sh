#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The CLI around guarded server windows, with a real nginx holding port 80 in
# a cgroup of its own (the setup of test_server.sh):
#   porthole check: a running server and its listeners PASS, a serve line
#     whose cgroup has no process FAILs, a group- or world-writable webroot
#     WARNs, a drop porthole cannot repeat FAILs (the daemon's own planner
#     over the live ruleset), static mode prints the two rules, and nft and
#     iptables load them as printed;
#   porthole log: a server window's open and close and its guard records
#     in the table, --window selects them, a hostile token comes out escaped.
set -u
source "$(dirname "$0")/../lib.sh"
t_start server_cli nginx lab

TOK=Tok3n_cli-ABC123

# nginx holding port 80 in a cgroup of its own (what nginx.service gives it)
site_up
SRV_CG=$T_CG2$NGINX_CG
# a served cgroup with no process in it (a unit that is stopped)
EMPTY_CG=$T_CG2/$T_PFX-empty
mkdir -p "$EMPTY_CG" && T_CGROUPS+=("$EMPTY_CG")

req() { printf 'GET %s HTTP/1.1\\r\\nHost: example.org\\r\\nConnection: close\\r\\n\\r\\n' "$1"; }

# ph_check OUT [CONFIG LINES...]: porthole check in the host namespace over a
# config with those lines (the daemon's socket, whether it runs or not); rc in CHECK_RC
ph_check() {
	local out=$1 conf=$T_TMP/check.conf l; shift
	{
		echo "socket = $T_TMP/porthole.sock"
		echo "socket_group = root"
		echo "audit_log = $T_TMP/audit.jsonl"
		echo "state_file = $T_TMP/last-window"
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	in_host env -u PORTHOLE_SOCKET "$PORTHOLE_BIN/porthole" check --config "$conf" >"$out" 2>&1
	CHECK_RC=$?
}
# line OUT VERDICT NAME-REGEX DETAIL-REGEX: a verdict line of that check says that
line() { grep -E "^$2 +$3 " "$1" | grep -qE -- "$4"; }
show() { sed 's/^/    /' "$1"; }
SERVE="serve = cgroup $NGINX_CG webroot=$WWW"
NAME="serve cgroup $NGINX_CG"

# --- check: a running server, its listeners, a tidy webroot, the guard rules' places ----------
daemon_start "$SERVE" || { t_fail "daemon start"; t_summary; exit 1; }
ph_check "$T_TMP/c_ok.txt" "$SERVE"
t_eq "check, nginx running and listening: exit 0" 0 "$CHECK_RC"
[ "$CHECK_RC" = 0 ] || show "$T_TMP/c_ok.txt"
t_check "check: OK, the served cgroup runs processes" line "$T_TMP/c_ok.txt" OK "$NAME" "cgroup $NGINX_CG runs [1-9][0-9]* process"
t_check "check: OK, nginx listens on tcp/80 over IPv4 and IPv6 (by socket cgroup)" \
	line "$T_TMP/c_ok.txt" OK "$NAME tcp/80" "listens: 1 IPv4 and 1 IPv6 listener.*$H:80, \[$H6\]:80"
t_check "check: OK, the webroot is writable by nobody but its owner (neither it nor what is below)" \
	line "$T_TMP/c_ok.txt" OK "$NAME webroot" "neither it nor .* is writable by group or others"
t_check "check: OK, the two guard marks fit the mask" line "$T_TMP/c_ok.txt" OK "serve marks" "candidate 0xff000000 and guarded 0xfe000000"
t_check "check: OK, the guard rules would go to the lab's drop policy (the daemon's planner)" \
	line "$T_TMP/c_ok.txt" OK "serve guard rules" "puts 2 guard rule\(s\) at 1 drop point.*inet filter input at its end \(policy drop\)"

# --- check: a serve line whose cgroup has no process, or no cgroup at all ------------------------
ph_check "$T_TMP/c_empty.txt" "$SERVE" "serve = cgroup /$T_PFX-empty always" "serve = unit $T_PFX-absent.service always"
t_eq "check with a stopped server: exit 1" 1 "$CHECK_RC"
t_check "check: FAIL not running, the cgroup has no process" \
	line "$T_TMP/c_empty.txt" FAIL "serve cgroup /$T_PFX-empty" "not running: cgroup /$T_PFX-empty has no process"
t_check "check: FAIL not running, the unit's cgroup does not exist" \
	line "$T_TMP/c_empty.txt" FAIL "serve unit $T_PFX-absent.service" "not running: cgroup /system.slice/$T_PFX-absent.service does not exist"
t_check "check: the running server still PASSes beside them" line "$T_TMP/c_empty.txt" OK "$NAME tcp/80" "listens"
t_check "check: an always line needs no webroot" line "$T_TMP/c_empty.txt" OK "serve cgroup /$T_PFX-empty webroot" "always: no token files"

# --- check: nothing of the served cgroup listens on the port -------------------------------------
mkdir -p "$SRV_CG/idle" && T_CGROUPS+=("$SRV_CG/idle")
(echo $BASHPID >"$SRV_CG/idle/cgroup.procs"; exec sleep 60) &
IDLE=$!; T_PIDS+=("$IDLE")
ph_check "$T_TMP/c_idle.txt" "serve = cgroup $NGINX_CG/idle always"
t_check "check: FAIL, a running server with no listener of its own on tcp/80 (nginx's is another cgroup's)" \
	line "$T_TMP/c_idle.txt" FAIL "serve cgroup $NGINX_CG/idle tcp/80" "another cgroup .* listens on tcp/80"
kill "$IDLE"; wait "$IDLE" 2>/dev/null

# --- check: a webroot others can write to -----------------------------------------------------------
chmod 775 "$WWW"
ph_check "$T_TMP/c_gw.txt" "$SERVE"
t_check "check: WARN, a group-writable webroot (whoever can write there can open a window)" \
	line "$T_TMP/c_gw.txt" WARN "$NAME webroot" "$WWW is writable by its group root.*can open a window"
t_eq "check: a WARN alone does not fail (exit 0)" 0 "$CHECK_RC"
chmod 755 "$WWW"
mkdir -p "$WWW/.well-known/acme-challenge"
chmod 777 "$WWW/.well-known/acme-challenge"
ph_check "$T_TMP/c_ow.txt" "$SERVE"
t_check "check: WARN, a world-writable acme-challenge directory" \
	line "$T_TMP/c_ow.txt" WARN "$NAME webroot" "acme-challenge is writable by .*everybody \(mode 0777\)"
chmod 755 "$WWW/.well-known/acme-challenge"
daemon_stop

# --- check: a drop porthole cannot repeat (an anonymous set): FAIL, the rule named ---------------
# (the ruleset is replaced while no daemon runs: a flush would take porthole's table too)
nslab_anon_drop
daemon_start "$SERVE" || t_fail "daemon start (anonymous set)"
ph_check "$T_TMP/c_anon.txt" "$SERVE"
t_eq "check with an anonymous-set drop: exit 1" 1 "$CHECK_RC"
t_check "check: FAIL, a server window would fail closed, naming the rule and why" \
	line "$T_TMP/c_anon.txt" FAIL "serve guard rules" "fail closed: the rule with handle [0-9]+ in inet filter input drops with a match porthole cannot repeat \(an anonymous set"
grep -q "^FAIL" "$T_TMP/c_anon.txt" && [ "$(grep -c '^FAIL' "$T_TMP/c_anon.txt")" = 1 ] &&
	t_pass "check: that is the only FAIL line" || { t_fail "check: that is the only FAIL line"; grep '^FAIL' "$T_TMP/c_anon.txt"; }
daemon_stop
# a named set instead: the planner repeats it
in_host nft flush ruleset
printf '%s\n' 'table inet filter {
	set blocked { type ipv4_addr; flags interval; elements = { '"$INET"' } }
	chain geo { ip saddr @blocked counter drop; }
	chain input { type filter hook input priority filter; policy accept;
		ct state established,related accept
		tcp dport 80 jump geo
	}
}' | in_host nft -f -
ph_check "$T_TMP/c_named.txt" "$SERVE"
t_check "check: a named-set drop in a jumped-to chain is one drop point" \
	line "$T_TMP/c_named.txt" OK "serve guard rules" "at 1 drop point.*inet filter geo before handle [0-9]+"
in_host nft flush ruleset
nslab_ruleset | in_host nft -f -

# --- check, static mode: the two rules, as nft and iptables take them -----------------------------
ph_check "$T_TMP/c_static.txt" "chains = none" "$SERVE"
t_check "check, static mode: the nft rules" line "$T_TMP/c_static.txt" OK "serve static rules nft" \
	"meta l4proto tcp tcp dport \{ 80 \} meta mark & 0xff000000 == 0xff000000 MATCHES ct mark set ct mark & 0xffffff \| 0xfe000000 ; meta l4proto tcp tcp dport \{ 80 \} ct mark & 0xff000000 == 0xfe000000 accept"
t_check "check, static mode: the iptables rules" line "$T_TMP/c_static.txt" OK "serve static rules iptables" \
	"iptables -A INPUT -p tcp --dport 80 -m mark --mark 0xff000000/0xff000000 MATCHES -j CONNMARK --set-xmark 0xfe000000/0xff000000 ; iptables -A INPUT -p tcp --dport 80 -m connmark --mark 0xfe000000/0xff000000 -j ACCEPT"
t_check "check, static mode: where the lab's ruleset drops now" \
	line "$T_TMP/c_static.txt" OK "serve guard rules" "static mode: your ruleset drops at 1 place.*inet filter input at its end"
# the printed rules load as printed (MATCHES: the lab's geo-block match), in a scratch namespace
SCRATCH=$T_PFX-scratch
ip netns add "$SCRATCH" && T_NETNS+=("$SCRATCH")
nft_rules=$(grep -E '^OK +serve static rules nft ' "$T_TMP/c_static.txt" | sed 's/.*with no comment starting with porthole: //')
rule_a=${nft_rules%% ; *}; rule_b=${nft_rules#* ; }
rule_a=${rule_a/MATCHES/ip saddr != @allowed_v4}
in_ns "$SCRATCH" nft -f - <<EOF
table inet t {
	set allowed_v4 { type ipv4_addr; flags interval; }
	chain input { type filter hook input priority filter; policy drop;
		$rule_a
		$rule_b
	}
}
EOF
t_eq "static mode: nft loads the printed rules" 0 $?
out=$(in_ns "$SCRATCH" nft list chain inet t input 2>&1)
t_check "static mode: nft shows the guarded ct mark and the accept" grep -q 'ct mark 0xfe000000/8 accept' <<<"$out"
if command -v iptables-nft >/dev/null; then
	ipt=$(grep -E '^OK +serve static rules iptables ' "$T_TMP/c_static.txt" | sed 's/.*policy is DROP: //')
	ok=1
	while read -r r; do
		r=${r/MATCHES/}; r=${r/iptables/iptables-nft}
		in_ns "$SCRATCH" $r || ok=0
	done < <(sed 's/ ; /\n/' <<<"$ipt")
	out=$(in_ns "$SCRATCH" iptables-nft -S INPUT 2>&1)
	[ $ok = 1 ] && grep -q -- '-j CONNMARK --set-xmark 0xfe000000/0xff000000' <<<"$out" && grep -q -- '-m connmark --mark 0xfe000000/0xff000000 -j ACCEPT' <<<"$out" &&
		t_pass "static mode: iptables-nft takes the printed rules and -S reads them back" ||
		{ t_fail "static mode: iptables-nft takes the printed rules"; echo "$out"; }
else
	t_skip "iptables-nft not installed: the printed iptables rules are not loaded"
fi

# --- log: a server window's open, its guard records, its close -------------------------------------
daemon_start "$SERVE" || t_fail "daemon start (log)"
token_put $TOK
wait_for "$T_DLOG" "open: guarded tcp/80" 30 && t_pass "a token opened a server window" || t_fail "a token opened a server window"
WIN=$(grep -o 'window [0-9]* open: guarded' "$T_DLOG" | tail -1 | cut -d' ' -f2)
out=$(http inet $H "$(req /.well-known/acme-challenge/$TOK)")
t_check "the Internet's challenge request answered ($out)" grep -q "status 200 $TOK.keyauth" <<<"$out"
t_eq "the Internet's GET / dropped" "noanswer" "$(http inet $H "$(req /)")"
sleep 0.3
token_rm $TOK
wait_for "$T_DLOG" "window $WIN closed (tokens-gone)" 30 && t_pass "no token left: the window closed" || t_fail "no token left: the window closed"
daemon_stop
AUD=$T_TMP/audit.jsonl
ph log --file "$AUD" >"$T_TMP/log.txt" 2>&1; rc=$?
t_eq "porthole log: exit 0" 0 $rc
t_check "log: the server window's open (what it guards, why, the token)" \
	grep -qE "window-open +$WIN +guarded tcp/80 to cgroup $NGINX_CG \(webroot $WWW, config line [0-9]+\), why tokens, tokens $TOK, [0-9]+ guard rule\(s\), deadline 20" "$T_TMP/log.txt"
t_check "log: the admitted request, with peer and token" \
	grep -qE "guard +$WIN +admitted $INET:[0-9]+ -> tcp/80 of $NGINX_CG, token $TOK\$" "$T_TMP/log.txt"
t_check "log: the dropped request, with why" \
	grep -qE "guard +$WIN +dropped $INET:[0-9]+ -> tcp/80 of $NGINX_CG: not-a-challenge\$" "$T_TMP/log.txt"
t_check "log: the server window's close with the guard's counts" \
	grep -qE "window-close +$WIN +tokens-gone after [0-9.]+ s, guarded: 1 request\(s\) admitted, [1-9][0-9]* dropped; cgroup $NGINX_CG" "$T_TMP/log.txt"
# strings of server and guard records come out through the terminal escaper
# (the guard itself records only token-shaped tokens: these are hand-made)
{
	printf '{"event":"window-open","time":"2026-12-01T00:00:00.000Z","window":999,"kind":"server","ports":[80],'
	printf '"server":{"type":"unit","value":"x\\u001b]0;pwn\\u0007.service","cgroup":"/a\xc2\x9b2J","webroot":"/w\\u001b[2J","config_line":1},'
	printf '"why":"tokens\\u001b[31m","tokens":["ok","t\\u001b[2J","\xc2\x9b1m"],"guard_rules":2}\n'
	printf '{"event":"guard","time":"2026-12-01T00:00:01.000Z","window":999,"server":"s\\u001b[2J","peer":"1.2.3.4\xc2\x9b","peer_port":1,'
	printf '"port":80,"verdict":"dropped\\u0007","why":"w\\u001b[1m","token":"k\xc2\x9b"}\n'
	printf '{"event":"window-close","time":"2026-12-01T00:00:02.000Z","window":999,"kind":"server","reason":"r\\u001b[0m","duration_ms":1,'
	printf '"requests_admitted":0,"requests_dropped":1,"server":{"type":"unit","value":"v\xc2\x9b","cgroup":"/c","config_line":1}}\n'
} >"$T_TMP/hostile.jsonl"
ph log --file "$T_TMP/hostile.jsonl" >"$T_TMP/log_h.txt" 2>&1
t_eq "log: hand-made hostile server and guard records: all three shown" 3 "$(grep -c ' 999 ' "$T_TMP/log_h.txt")"
t_check "log: no raw ESC, BEL or C1 CSI byte comes out of them" \
	bash -c "! LC_ALL=C grep -q \$'\\x1b\\|\\x07\\|\\xc2\\x9b' '$T_TMP/log_h.txt'"
t_check "log: a C1 control is shown as \\xNN" grep -qF 'token k\xc2\x9b' "$T_TMP/log_h.txt"
ph log --file "$AUD" --window "$WIN" >"$T_TMP/logw.txt" 2>&1
t_eq "log --window: the window's open, close and every guard record, nothing else" \
	"$(grep -c "\"window\":$WIN[,}]" "$AUD")" "$(($(wc -l <"$T_TMP/logw.txt") - 1))"
t_check "log --window: guard records included" grep -qE "^[^ ]+ +guard +$WIN " "$T_TMP/logw.txt"
t_check "log --window: the daemon's records left out" bash -c "! grep -q daemon-start '$T_TMP/logw.txt'"
n=$(ph log --file "$AUD" --window "$WIN" --json | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(len([x for x in r if x["event"]=="guard"]))')
t_eq "log --json --window: the same guard records" "$(grep '"event":"guard"' "$AUD" | grep -c "\"window\":$WIN,")" "$n"
since=$(grep '"event":"guard"' "$AUD" | head -1 | sed 's/.*"time":"\([^".]*\).*/\1/')
t_check "log --since: guard records from that time on" grep -qE " guard " <<<"$(ph log --file "$AUD" --since "$since")"

# --- log: a run --serve window (why session) -------------------------------------------------------
daemon_start "serve = cgroup $NGINX_CG" || t_fail "daemon start (run --serve)"
ph_host run --serve "cgroup:$NGINX_CG" -- sleep 1 >/dev/null 2>"$T_TMP/serve.err"
t_eq "run --serve: exit 0" 0 $?
wait_for "$T_DLOG" "closed (exited)" 30 || t_fail "run --serve: closed"
daemon_stop
ph log --file "$AUD" >"$T_TMP/log2.txt" 2>&1
t_check "log: a run --serve window says why: session N of uid 0" \
	grep -qE "window-open +[0-9]+ +guarded tcp/80 to cgroup $NGINX_CG \(config line [0-9]+\), why session [0-9]+ of uid 0, " "$T_TMP/log2.txt"
t_check "log: its close, exited" grep -qE "window-close +[0-9]+ +exited after [0-9.]+ s, guarded: 0 request\(s\) admitted, [0-9]+ dropped" "$T_TMP/log2.txt"

t_summary
