#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Nothing a window admits is delivered anywhere but a local socket (issue 20,
# class 5). The lab host routes: it DNATs $H2:80 ([$H62]:80) to a downstream
# server behind it and REDIRECTs $H3:80 ([$H63]:80) to a local port 8080
# served by another process, neither of them designated. Its geo-block sits
# in a prerouting filter chain at priority raw (-300), mangle (-150), just
# before (-101) and just after (-99) dstnat, or in the forward chain
# (priority 0, with an input chain for the host itself). During a plain
# window (`porthole run -- listen.py`, a wildcard listener and one bound to
# $H) and during a guarded window (nginx on the wildcard address), the
# blocked Internet must reach neither the downstream server nor port 8080:
# judged only by what those two servers log (tests/adversary/httplog.py).
# Controls: outside windows the allowed country reaches both, and the
# Internet reaches the downstream server's port 8081, which the host
# forwards for everyone (so the Internet's packets do cross the host); during
# a window whose listener binds another address ($H), the allowed country
# still reaches the downstream server. (With a wildcard listener porthole
# cannot tell the DNATed port from its own before DNAT, a documented limit:
# the allowed country's reach is not asserted then.)
set -u
source "$(dirname "$0")/../lib.sh"
t_start forward nginx lab downstream

H3=203.0.113.12 H63=2001:db8:1::12
in_host ip addr add $H3/24 dev $LAB_IF_HOST
in_host ip addr add $H63/64 dev $LAB_IF_HOST nodad
in_host nft delete table inet filter # the lab's input block: this host blocks where each case says
in_host nft -f - <<NFT || { t_fail "nat ruleset"; t_summary; exit 1; }
table ip adv_nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $H2 tcp dport { 80, 8081 } dnat to $DOWN
		ip daddr $H3 tcp dport 80 redirect to :8080
	}
}
table ip6 adv_nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip6 daddr $H62 tcp dport { 80, 8081 } dnat to $DOWN6
		ip6 daddr $H63 tcp dport 80 redirect to :8080
	}
}
NFT

HL=$T_ROOT/tests/adversary/httplog.py
DOWNLOG=$T_TMP/downstream.log
REDLOG=$T_TMP/redirected.log
: >"$DOWNLOG"; : >"$REDLOG"
# the downstream server (80 and 8081) and the other local process (8080, every address)
for port in 80 8081; do
	name=downstream
	[ $port = 80 ] || name=downstream-$port
	nsenter --net=/run/netns/"$T_PFX-down" -- "$PY" "$HL" serve "$DOWNLOG" $name $port 600 \
		$DOWN $DOWN6 >"$T_TMP/down$port.out" 2>&1 &
	T_PIDS+=("$!")
done
bg_host "$T_TMP/red.out" "$T_TMP/red.err" "$PY" "$HL" serve "$REDLOG" other-process 8080 600 0.0.0.0 ::
for f in down80 down8081 red; do wait_for "$T_TMP/$f.out" listening 50 || { t_fail "the $f server started"; t_summary; exit 1; }; done
# neighbour discovery first: a forwarded first SYN may otherwise wait for it
in_host ping -c1 -W1 $DOWN >/dev/null 2>&1; in_host ping -6 -c1 -W1 $DOWN6 >/dev/null 2>&1

# geo PLACE: the host's geo-block at PLACE (raw, mangle, before-dstnat, after-dstnat, forward)
geo() {
	local hook=prerouting prio input=""
	case $1 in
	raw) prio=-300 ;; mangle) prio=-150 ;; before-dstnat) prio=-101 ;; after-dstnat) prio=-99 ;;
	forward) hook=forward prio=0
		input="chain input { type filter hook input priority filter; policy drop;
			iif \"lo\" accept
			ct state established,related accept
			icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-router-solicit } accept
			ip saddr @allowed_v4 accept
			ip6 saddr @allowed_v6 accept
		}" ;;
	esac
	cat <<NFT
table inet geo {}
delete table inet geo
table inet geo {
	set allowed_v4 { type ipv4_addr; flags interval; elements = { $LAB_ALLOWED_SET_V4 }; }
	set allowed_v6 { type ipv6_addr; flags interval; elements = { $LAB_ALLOWED_SET_V6 }; }
	$input
	chain block {
		type filter hook $hook priority $prio; policy drop;
		iif "lo" accept
		iifname "$LAB_IF_HOST_DOWN" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-router-solicit } accept
		ip saddr @allowed_v4 accept
		ip6 saddr @allowed_v6 accept
		tcp dport 8081 accept
	}
}
NFT
}

get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-1.5}"; } # FROM ADDR PORT PATH [TIMEOUT]
lines() { wc -l <"$1"; }
# new_from LOG MARK ADDR: lines after line MARK of LOG whose peer is ADDR
new_from() { tail -n +$(($2 + 1)) "$1" | grep " $3 " ; }

# controls PLACE: outside windows; CTL_OK=1 when the Internet's packets cross the host
controls() {
	local p=$1 out v a
	CTL_OK=1
	for v in "4 $H2 $H3" "6 $H62 $H63"; do
		set -- $v
		out=$(get allow "$2" 80 /ctl 3)
		t_check "$p, IPv$1: control: the allowed country reaches the downstream server outside windows ($out)" grep -q "status 200 downstream" <<<"$out"
		out=$(get inet "$2" 8081 /ctl 3)
		if grep -q "status 200 downstream-8081" <<<"$out"; then
			t_pass "$p, IPv$1: control: the Internet reaches the downstream port 8081 the host forwards for everyone"
		else
			t_fail "$p, IPv$1: control: the Internet reaches the downstream port 8081 the host forwards for everyone ($out)"
			CTL_OK=0
		fi
		out=$(get allow "$3" 80 /ctl 3)
		t_check "$p, IPv$1: control: the allowed country reaches the redirected port's process outside windows ($out)" grep -q "status 200 other-process" <<<"$out"
	done
}

# attack LABEL [PATH]: the Internet to the DNATed and the REDIRECTed port 80,
# IPv4 and IPv6 at once; then judge by the two servers' logs
attack_fwd() {
	local label=$1 path=${2:-/fwd} d0 r0 v
	d0=$(lines "$DOWNLOG") r0=$(lines "$REDLOG")
	local pids=() i=0 a
	for a in $H2 $H62 $H3 $H63; do
		i=$((i + 1))
		get inet "$a" 80 "$path" >"$T_TMP/a$i" &
		pids+=("$!")
	done
	wait "${pids[@]}"
	sleep 0.2
	for v in "4 $INET 1 3" "6 $INET6 2 4"; do
		set -- $v
		judge_log "$label, IPv$1: the Internet reaches nothing behind the DNAT (the downstream server's log)" "$DOWNLOG" "$d0" "$2" "$T_TMP/a$3"
		judge_log "$label, IPv$1: the Internet reaches nothing through the REDIRECT (port 8080's process log)" "$REDLOG" "$r0" "$2" "$T_TMP/a$4"
	done
}
judge_log() { # NAME LOG MARK ADDR PROBE-OUTPUT
	local got
	if [ "$CTL_OK" != 1 ]; then
		t_fail "$1 (its control failed: the Internet's packets do not cross the host; nothing was tested)"
		return
	fi
	got=$(new_from "$2" "$3" "$4")
	if [ -z "$got" ]; then
		t_pass "$1"
	else
		t_fail "$1: it logged: $(head -2 <<<"$got" | tr '\n' '|') (the attacker saw: $(cat "$5"))"
	fi
}

PLACES="raw mangle before-dstnat after-dstnat forward"
daemon_start || { t_fail "daemon start"; t_summary; exit 1; }
for P in $PLACES; do
	geo "$P" | in_host nft -f - || { t_fail "$P: geo ruleset"; continue; }
	controls "$P"
	attack_fwd "$P, no window"
	# a plain window for a wildcard listener on port 80
	if run_listener "wild-$P" 80 30 0.0.0.0 ::; then
		t_check "$P, plain window (wildcard listener): it opened" grep -q 'window .* open' "$T_TMP/wild-$P.err"
		t_log "$P: the window's own listener from the Internet: $(probe inet $H 80 1.5) (not judged here)"
		attack_fwd "$P, plain window (wildcard listener)"
	else
		t_fail "$P, plain window (wildcard listener): porthole run started"; cat "$T_TMP/wild-$P.err"
	fi
	end_listener
	# a plain window for a listener on $H only
	if run_listener "addr-$P" 80 30 $H $H6; then
		t_check "$P, plain window (listener on $H): it opened" grep -q 'window .* open' "$T_TMP/addr-$P.err"
		out=$(get allow $H2 80 /during 3)
		t_check "$P, plain window (listener on $H), IPv4: the allowed country still reaches the downstream server ($out)" grep -q "status 200 downstream" <<<"$out"
		out=$(get allow $H62 80 /during 3)
		t_check "$P, plain window (listener on $H6), IPv6: the allowed country still reaches the downstream server ($out)" grep -q "status 200 downstream" <<<"$out"
		attack_fwd "$P, plain window (listener on $H)"
	else
		t_fail "$P, plain window (listener on $H): porthole run started"; cat "$T_TMP/addr-$P.err"
	fi
	end_listener
done
daemon_stop

# --- guarded windows: nginx on the wildcard address ------------------------------------------------
WWW=$T_TMP/www
ACME=$WWW/.well-known/acme-challenge
mkdir -p "$ACME"
chmod 755 "$T_TMP" "$WWW" "$WWW/.well-known" "$ACME"
TOK=Fwd_token
NGINX_LISTEN="80;[::]:80" NGINX_LOG_FORMAT=$ADV_LOG_FORMAT nginx_up web "$WWW" || { t_fail "nginx start"; t_summary; exit 1; }
daemon_start "serve = cgroup $NGINX_CG webroot=$WWW" || { t_fail "daemon start (guarded)"; t_summary; exit 1; }
for P in $PLACES; do
	geo "$P" | in_host nft -f - || { t_fail "$P: geo ruleset"; continue; }
	CTL_OK=1
	out=$(get inet $H2 8081 /ctl 3)
	grep -q "status 200 downstream-8081" <<<"$out" || CTL_OK=0
	n=$(grep -c 'open: guarded' "$T_DLOG")
	echo k >"$ACME/$TOK"
	if wait_count "$T_DLOG" 'open: guarded' $((n + 1)); then
		t_pass "$P, guarded window: it opened"
		t_log "$P: the challenge to nginx itself from the Internet: $(get inet $H 80 /.well-known/acme-challenge/$TOK 1.5) (not judged here)"
		attack_fwd "$P, guarded window (nginx on the wildcard address)" "/.well-known/acme-challenge/$TOK"
	else
		t_fail "$P, guarded window: it opened"; tail -3 "$T_DLOG"
	fi
	n=$(grep -c 'closed (tokens-gone)' "$T_DLOG")
	rm -f "$ACME/$TOK"
	wait_count "$T_DLOG" 'closed (tokens-gone)' $((n + 1)) || t_fail "$P, guarded window: it closed (tokens-gone)"
done
daemon_stop

t_summary
