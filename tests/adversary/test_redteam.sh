#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Red team of the guard (branch redteam): new ways through, judged only by
# nginx's access log. r1/r2: a second SYN on a request socket rewrites the
# guard's pending ISN; r3: guard_pending evicted by a SYN flood (a second
# request on one connection); r4: a connection whose request came on the
# handshake's last ACK is never in guard_socks and outlives its window.
set -u
source "$(dirname "$0")/../lib.sh"
t_start redteam nginx scapy lab attacker

WWW=$T_TMP/www
ACME=$WWW/.well-known/acme-challenge
TOK=Live_t0ken-A
mkdir -p "$ACME"
chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" "$ACME"
for f in secret-r1 secret-r2 secret-r4; do echo "the secret $f" >"$WWW/$f"; done
NGINX_LISTEN="$H:80;[$H6]:80;$H2:80 deferred;[$H62]:80 deferred" NGINX_LOG_FORMAT=$ADV_LOG_FORMAT \
	nginx_up web "$WWW" || { t_fail "nginx start"; t_summary; exit 1; }
LOG=$T_TMP/nginx-web/access.log
CASES=$T_ROOT/tests/adversary/cases.py
OUT=$T_TMP/attack
export ATK_SYNC=$T_TMP/sync
mkdir -p "$ATK_SYNC"

daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "daemon start"; t_summary; exit 1; }
echo "$TOK.keyauth" >"$ACME/$TOK"
wait_for "$T_DLOG" "window 1 open: guarded" 30 && t_pass "a token file opened a guarded window" ||
	t_fail "a token file opened a guarded window"

# --- r1, r2: a second SYN rewrites the pending ISN ----------------------------------------------
# (each case an attacker of its own, all at once: a case is judged by its own
# source port, and its output is its own file)
SYN=()
for c in ctl:$H:25000 r1_syn_ahead:$H:25001 r1_syn_ahead:$H2:25002 r1_syn_ahead:$H6:25003 \
	r1_syn_ahead:$H62:25004 r2_syn_behind:$H:25011 r2_syn_behind:$H2:25012 r2_syn_behind:$H6:25013; do
	attack_bg "$OUT.syn-${c##*:}" "$CASES" "$TOK" "$c"
	SYN+=("$BG_PID")
done
wait "${SYN[@]}"
sleep 0.3
cat "$OUT".syn-* >"$OUT.syn"
adv_lines "$LOG" 25000 | grep -q "acme-challenge/$TOK HTTP/1.1\" 200" && t_pass "control: the crafted challenge reaches nginx" ||
	t_fail "control: the crafted challenge reaches nginx"
adv_judge "r1, IPv4: a second SYN 2^30 ahead, then any request on the handshake's last ACK" "$OUT.syn" "$LOG" 25001 "$TOK"
adv_judge "r1, IPv4 deferred: a second SYN 2^30 ahead, then any request on the handshake's last ACK" "$OUT.syn" "$LOG" 25002 "$TOK"
adv_judge "r1, IPv6: a second SYN 2^30 ahead, then any request on the handshake's last ACK" "$OUT.syn" "$LOG" 25003 "$TOK"
adv_judge "r1, IPv6 deferred: a second SYN 2^30 ahead, then any request on the handshake's last ACK" "$OUT.syn" "$LOG" 25004 "$TOK"
adv_judge "r2, IPv4: a second SYN k bytes behind, a challenge whose tail is another request" "$OUT.syn" "$LOG" 25011 "$TOK"
adv_judge "r2, IPv4 deferred: a second SYN k bytes behind, a challenge whose tail is another request" "$OUT.syn" "$LOG" 25012 "$TOK"
adv_judge "r2, IPv6: a second SYN k bytes behind, a challenge whose tail is another request" "$OUT.syn" "$LOG" 25013 "$TOK"

# --- r4: a request on the handshake's last ACK, its connection kept across the close ---------
R4=()
for s in "25021 $H" "25022 $H2" "25023 $H6"; do
	set -- $s
	attack_bg "$OUT.r4-$1" "$CASES" "$TOK" r4_listener_after_close:$2:$1
	R4+=("$BG_PID")
done
for p in 25021 25022 25023; do
	for _ in $(seq 100); do [ -e "$ATK_SYNC/$p.first" ] && break; sleep 0.1; done
done
n=$(grep -c 'closed (tokens-gone)' "$T_DLOG")
rm -f "$ACME/$TOK"
wait_count "$T_DLOG" 'closed (tokens-gone)' $((n + 1)) && t_pass "r4: the window closed (tokens-gone)" ||
	t_fail "r4: the window closed (tokens-gone)"
touch "$ATK_SYNC/25021.go" "$ATK_SYNC/25022.go" "$ATK_SYNC/25023.go"
wait "${R4[@]}"
sleep 0.3
cat "$OUT".r4-* >"$OUT.r4"
adv_judge "r4, IPv4: request on the handshake's last ACK, connection kept across tokens-gone" "$OUT.r4" "$LOG" 25021 "$TOK" answered
adv_judge "r4, IPv4 deferred: request on the handshake's last ACK, connection kept across tokens-gone" "$OUT.r4" "$LOG" 25022 "$TOK" answered
adv_judge "r4, IPv6: request on the handshake's last ACK, connection kept across tokens-gone" "$OUT.r4" "$LOG" 25023 "$TOK" answered
echo "$TOK.keyauth" >"$ACME/$TOK"
wait_for "$T_DLOG" "window 2 open: guarded" 30 || t_fail "r3: window 2 opened"
# --- r3 (a window open again): guard_pending evicted by a SYN flood ---------------
# link_stats: packets the host's link received, and what the veth pair dropped
# (host side received, inet side sent)
link_stats() {
	echo "$(in_host ip -s link show dev "$LAB_IF_HOST" | awk '/RX:/ { getline; print $2, $4 }')" \
		"$(in_inet ip -s link show dev "$LAB_IF_INET_HOST" | awk '/TX:/ { getline; print $4 }')"
}
read -r rx0 rxd0 txd0 <<<"$(link_stats)"
attack_bg "$OUT.r3" "$CASES" "$TOK" r3_evict:$H2:25031
wait $BG_PID
sleep 0.3
# (the flood is sent as fast as the link takes it: none of it may be lost there)
read -r rx1 rxd1 txd1 <<<"$(link_stats)"
t_check "r3: the host's link took the whole flood ($((rx1 - rx0)) packets in, $((rxd1 - rxd0 + txd1 - txd0)) dropped)" \
	test $((rx1 - rx0)) -ge 25000 -a $((rxd1 - rxd0 + txd1 - txd0)) -eq 0
n=$(adv_lines "$LOG" 25031 | grep -c "acme-challenge/$TOK HTTP/1.1\" 200")
if [ "$n" -le 1 ]; then
	t_pass "r3, IPv4 deferred: pending verdict evicted by a SYN flood: at most one request on the connection"
else
	t_fail "r3, IPv4 deferred: pending verdict evicted by a SYN flood: nginx logged $n requests on one connection: $(adv_lines "$LOG" 25031 | tr '\n' '|')"
fi
daemon_stop

if [ -n "${ADV_VERBOSE:-}" ]; then
	echo "--- the attacker's view:"
	cat "$OUT".syn "$OUT".r3 "$OUT".r4 2>/dev/null | sed 's/^/    /'
	echo "--- nginx's access log:"
	sed 's/^/    /' "$LOG"
	echo "--- daemon log:"
	sed 's/^/    /' "$T_DLOG" | tail -30
fi
t_summary
