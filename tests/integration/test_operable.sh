#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Operable (issue 8): porthole check on rulesets it can and cannot open, the
# systemd notify protocol, the minimal capability set, the unit file, install.
set -u
source "$(dirname "$0")/../lib.sh"
t_start operable lab
chk() { in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_CONF" "$@"; }

# --- the systemd notify protocol: READY=1 only once the socket serves ----------------
coproc NL { "$PY" "$T_TOOLS/notify_listen.py" "$T_TMP/notify.sock" 30; }
T_PIDS+=($NL_PID)
read -r -t 5 line <&"${NL[0]}"
export NOTIFY_SOCKET=$T_TMP/notify.sock
daemon_start || t_fail "daemon start"
unset NOTIFY_SOCKET
read -r -t 5 line <&"${NL[0]}"
case $line in READY=1\|*) t_pass "sd_notify: READY=1 sent ($line)" ;; *) t_fail "sd_notify: READY=1 sent (got '$line')" ;; esac
t_check "sd_notify: MAINPID is the daemon's pid" grep -q "MAINPID=$T_DPID" <<<"$line"
ph status >/dev/null; t_eq "after READY=1 the control socket answers" 0 $?

# --- porthole check on rulesets ---------------------------------------------------------
chk >"$T_TMP/c1.txt"; rc=$?
t_eq "check, geo-block inet input chain, daemon up: exit 0" 0 $rc
t_check "check names the chain it opens" grep -q "^OK .*chain inet filter input .*policy drop.*porthole inserts" "$T_TMP/c1.txt"
t_check "check: daemon OK" grep -q "^OK .*daemon .*running" "$T_TMP/c1.txt"
t_check "check: kernel features OK" grep -q "^OK .*nft porthole table *supported" "$T_TMP/c1.txt"
chk --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["ok"] is True and all({"check","verdict","detail"} <= set(c) for c in d["checks"]) else 1)'
t_eq "check --json parses, ok=true" 0 $?
in_host nft -f - <<NFT
table netdev geo {
	chain ingress {
		type filter hook ingress device $LAB_IF_HOST priority -500; policy accept;
		ip saddr $INET tcp dport 80 drop
	}
}
NFT
chk >"$T_TMP/c2.txt"; rc=$?
t_eq "check with a netdev ingress drop: exit 1" 1 $rc
t_check "check names the ingress chain it cannot open" grep -q "^FAIL .*chain netdev geo ingress .*cannot open" "$T_TMP/c2.txt"
chk --json | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["ok"] is False else 1)'
t_eq "check --json: ok=false" 0 $?
in_host nft delete table netdev geo
in_host nft -f - <<'NFT'
table ip filter {
	chain INPUT { type filter hook input priority filter; policy drop; }
}
table ip6 filter {
	chain INPUT { type filter hook input priority filter; policy drop; }
}
NFT
chk >"$T_TMP/c3.txt"; rc=$?
t_eq "check with iptables-nft style ip/ip6 INPUT chains too: exit 0" 0 $rc
t_check "check lists ip filter INPUT" grep -q "^OK .*chain ip filter INPUT .*porthole inserts" "$T_TMP/c3.txt"
t_check "check lists ip6 filter INPUT" grep -q "^OK .*chain ip6 filter INPUT .*porthole inserts" "$T_TMP/c3.txt"
SAVED=$(ruleset_dump)
in_host nft flush ruleset
chk >"$T_TMP/c4.txt"; rc=$?
t_eq "check on an empty ruleset: exit 0" 0 $rc
t_check "check says nothing drops" grep -q "no base chains" "$T_TMP/c4.txt"
printf '%s\n' "$SAVED" | in_host nft -f -

# marks are shared territory: an ip rule or another table using porthole's bits is warned about
in_host ip rule add fwmark 0x2000000/0x3000000 table 100
in_host nft add table inet other
in_host nft 'add chain inet other pre { type filter hook prerouting priority -300; }'
in_host nft add rule inet other pre meta mark set 0x1000000
chk >"$T_TMP/c8.txt"
t_check "check WARNs about an ip rule on porthole's mark bits" grep -q "^WARN .*ip rules .*fwmark 0x2000000/0x3000000" "$T_TMP/c8.txt"
t_check "check WARNs about another table writing porthole's mark bits" grep -q "^WARN .*mark bits .*inet other pre" "$T_TMP/c8.txt"
in_host ip rule del fwmark 0x2000000/0x3000000 table 100
in_host nft delete table inet other
chk >"$T_TMP/c9.txt"
t_check "without them: ip rules OK" grep -q "^OK .*ip rules .*no policy-routing rule" "$T_TMP/c9.txt"
t_check "without them: no mark-bits warning" bash -c "! grep -q '^WARN .*mark bits' '$T_TMP/c9.txt'"
t_check "check names the firewall manager (hand-written nftables) and its static rule" \
	grep -q "^OK .*firewall nftables .*meta mark & 0xff000000 == 0x1000000 accept" "$T_TMP/c9.txt"
printf 'socket = %s\nsocket_group = root\nchains = inet filter input, inet filter nosuch\n' "$T_SOCK" >"$T_TMP/explicit.conf"
in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_TMP/explicit.conf" >"$T_TMP/c5.txt"; rc=$?
t_eq "check with a configured chain that does not exist: exit 1" 1 $rc
t_check "check names the missing configured chain" grep -q "^FAIL .*inet filter nosuch" "$T_TMP/c5.txt"
t_check "check names the unlisted dropping chains" grep -q "^FAIL .*chain ip filter INPUT .*not in the config" "$T_TMP/c5.txt"
printf 'designate = exe /nonexistent/lego\n' >"$T_TMP/baddes.conf"
in_host "$PORTHOLE_BIN/porthole" check --config "$T_TMP/baddes.conf" >"$T_TMP/c6.txt"; rc=$?
t_check "check reports a designation that does not resolve" grep -q "^FAIL .*config .*baddes.conf:1: designate exe" "$T_TMP/c6.txt"
t_eq "check with a bad designation: exit 1" 1 $rc

# --- stop: STOPPING=1 --------------------------------------------------------------------
daemon_stop
read -r -t 5 line <&"${NL[0]}"
t_check "sd_notify: STOPPING=1 on SIGTERM" grep -q "^STOPPING=1" <<<"$line"
chk >"$T_TMP/c7.txt"; rc=$?
t_eq "check with the daemon down: exit 1" 1 $rc
t_check "check says the daemon is not running" grep -q "^FAIL .*daemon .*is portholed running" "$T_TMP/c7.txt"

# iptables-nft's mark matches and targets (xt expressions) are read too: a
# MARK --set-xmark on porthole's bits, the shape netavark and CNI write
in_host iptables-nft -t nat -N PH-SETMARK
in_host iptables-nft -t nat -A PH-SETMARK -j MARK --set-xmark 0x1000000/0x1000000
chk >"$T_TMP/c10.txt"
t_check "check WARNs about an iptables-nft MARK target on porthole's bits" grep -q "^WARN .*mark bits .*ip nat PH-SETMARK" "$T_TMP/c10.txt"
# the former default 0x2000/0x3fff (netavark's and CNI's masquerade bit):
# their SETMARK is no concern of the new default; a static rule written for
# the old one admits nothing now, and check and the daemon say so
in_host iptables-nft -t nat -R PH-SETMARK 1 -j MARK --set-xmark 0x2000/0x2000
in_host iptables-nft -I INPUT -p tcp --dport 80 -m mark --mark 0x2000/0x3fff -j ACCEPT
chk >"$T_TMP/c11.txt"; rc=$?
t_eq "check with a static rule for the former default mark: exit 1" 1 $rc
t_check "check FAILs naming the former mark's rule and the way back" \
	grep -q "^FAIL .*former mark .*1 rule(s) match porthole's former default mark 0x2000/0x3fff (first: ip filter INPUT).*socket_mark = 0x2000/0x3fff" "$T_TMP/c11.txt"
t_check "netavark's SETMARK 0x2000 is outside the default mask: no mark-bits warning" bash -c "! grep -q '^WARN .*mark bits' '$T_TMP/c11.txt'"
in_host iptables-nft -D INPUT -p tcp --dport 80 -m mark --mark 0x2000/0x3fff -j ACCEPT
in_host nft insert rule inet filter input meta l4proto tcp tcp dport 80 meta mark and 0x3fff == 0x2000 accept
chk >"$T_TMP/c12.txt"
t_check "check FAILs on the nft static rule for the former mark too" grep -q "^FAIL .*former mark .*first: inet filter input" "$T_TMP/c12.txt"
daemon_start || t_fail "daemon start with a former-mark rule in the ruleset"
t_check "the daemon warns at start about the former mark's rule" wait_for "$T_DLOG" "former default mark 0x2000/0x3fff (first: inet filter input)"
daemon_stop
h=$(in_host nft -a list chain inet filter input | sed -n 's/.*meta mark .* handle \([0-9]*\)$/\1/p' | head -1)
in_host nft delete rule inet filter input handle "$h"
printf 'socket = %s\nsocket_group = root\nsocket_mark = 0x2000/0x3fff\n' "$T_SOCK" >"$T_TMP/oldmark.conf"
in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_TMP/oldmark.conf" >"$T_TMP/c13.txt"
t_check "keeping the former mark: no former-mark line" bash -c "! grep -q 'former mark' '$T_TMP/c13.txt'"
t_check "keeping the former mark: netavark-shaped SETMARK 0x2000 is warned about" grep -q "^WARN .*mark bits .*ip nat PH-SETMARK" "$T_TMP/c13.txt"
in_host iptables-nft -t nat -F PH-SETMARK
in_host iptables-nft -t nat -X PH-SETMARK

# more writers and readers of porthole's bits, one rule at a time, each removed
# after. iptables-nft targets that stamp a mark: TPROXY --tproxy-mark (VALUE
# under MASK: the very mark the host rule accepts; revision 0 and 1, v4 and
# v6) and HMARK (replaces the whole mark)
mark_warned() { grep -q "^WARN .*mark bits .*(first: $1)" "$2"; }
no_mark_warning() { ! grep -q '^WARN .*mark bits' "$1"; }
in_host iptables-nft -t mangle -A PREROUTING -p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1000000/0xff000000
chk >"$T_TMP/m1.txt"
t_check "check WARNs about an iptables-nft TPROXY --tproxy-mark on porthole's bits" mark_warned "ip mangle PREROUTING" "$T_TMP/m1.txt"
in_host iptables-nft -t mangle -R PREROUTING 1 -p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1/0x1
chk >"$T_TMP/m2.txt"
t_check "a TPROXY mark outside porthole's bits: no mark-bits warning" no_mark_warning "$T_TMP/m2.txt"
in_host iptables-nft -t mangle -R PREROUTING 1 -j HMARK --hmark-tuple src --hmark-mod 16 --hmark-offset 0x10 --hmark-rnd 0xcafe
chk >"$T_TMP/m3.txt"
t_check "check WARNs about an iptables-nft HMARK (it replaces the whole mark)" mark_warned "ip mangle PREROUTING" "$T_TMP/m3.txt"
in_host nft delete table ip mangle
in_host ip6tables-nft -t mangle -A PREROUTING -p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1000000/0xff000000
chk >"$T_TMP/m4.txt"
t_check "check WARNs about an ip6tables-nft TPROXY --tproxy-mark on porthole's bits" mark_warned "ip6 mangle PREROUTING" "$T_TMP/m4.txt"
in_host nft delete table ip6 mangle
# native reads of the mark that are more than a load and a compare: a
# concatenation (the mark's register is read by the lookup after another
# load), a range (nft swaps the byte order first: two compares, or a range
# expression for !=), a map, a set, the socket's mark (what porthole gives a
# window's sockets); and reads that are not of porthole's bits
in_host nft -f - <<'NFT'
table inet other {
	set s { type mark . inet_service; }
	set m { type mark; }
	chain pre { type filter hook prerouting priority -300; }
}
NFT
nft_mark_case() { # WANT(warn|none) RULE...
	local want=$1 f="$T_TMP/m$((++MARK_CASE + 4)).txt"
	shift
	in_host nft add rule inet other pre "$@"
	chk >"$f"
	if [ "$want" = warn ]; then
		t_check "check WARNs about nft '$*'" mark_warned "inet other pre" "$f"
	else
		t_check "no mark-bits warning for nft '$*'" no_mark_warning "$f"
	fi
	in_host nft flush chain inet other pre
}
MARK_CASE=0
nft_mark_case warn 'meta mark . tcp dport @s accept'
nft_mark_case warn 'ip saddr . meta mark { 198.51.100.1 . 0x1000000 } accept'
nft_mark_case warn 'meta mark 0x1000000-0x1ffffff accept'
nft_mark_case warn 'meta mark != 0x1000000-0x1ffffff accept'
nft_mark_case warn 'meta mark >= 0x1000000 accept'
nft_mark_case warn 'ct mark vmap { 0x1000000 : accept, 0x5 : drop }'
nft_mark_case warn 'meta mark @m accept'
nft_mark_case warn 'socket mark 0x1000000 accept'
nft_mark_case none 'meta mark 0x10-0xffff accept'
nft_mark_case none 'meta mark <= 0xffffff accept'
nft_mark_case none 'meta mark 0x5 ip saddr 198.51.100.1 accept'
nft_mark_case none 'meta mark & 0xffff . tcp dport @s accept'
in_host nft delete table inet other
# the former default in a connmark match (an xt match: iptables-nft writes
# only -m mark natively) and in nft's ct mark: both FAIL like the mark forms
in_host iptables-nft -I INPUT -p tcp --dport 80 -m connmark --mark 0x2000/0x3fff -j ACCEPT
chk >"$T_TMP/m20.txt"
t_check "check FAILs on an iptables-nft connmark rule for the former mark" grep -q "^FAIL .*former mark .*first: ip filter INPUT" "$T_TMP/m20.txt"
in_host iptables-nft -D INPUT -p tcp --dport 80 -m connmark --mark 0x2000/0x3fff -j ACCEPT
in_host nft insert rule inet filter input tcp dport 80 ct mark and 0x3fff == 0x2000 accept
chk >"$T_TMP/m21.txt"
t_check "check FAILs on an nft ct mark rule for the former mark" grep -q "^FAIL .*former mark .*first: inet filter input" "$T_TMP/m21.txt"
h=$(in_host nft -a list chain inet filter input | sed -n 's/.*ct mark .* handle \([0-9]*\)$/\1/p' | head -1)
in_host nft delete rule inet filter input handle "$h"
chk >"$T_TMP/m22.txt"
t_check "with them removed: no former-mark line, no mark-bits warning" \
	bash -c "! grep -q 'former mark' '$T_TMP/m22.txt' && ! grep -q '^WARN .*mark bits' '$T_TMP/m22.txt'"

# --- the unit's user and capabilities are enough, and exactly what it holds -------------------
# (every daemon of the tests runs so, tests/lib.sh t_daemon_priv; here it is
# checked by number against the unit file)
[ -n "$T_DAEMON_UID" ] || T_DAEMON_UID=64900
daemon_start || t_fail "daemon start as uid $T_DAEMON_UID with the unit's ambient capabilities"
WANT=$("$PY" - "$T_ROOT/packaging/portholed.service" /usr/include/linux/capability.h <<'EOF2'
import re, sys
num = dict(re.findall(r"^#define\s+(CAP_\w+)\s+(\d+)\s*$", open(sys.argv[2]).read(), re.M))
unit = open(sys.argv[1]).read().splitlines()
amb = next(l.split("=", 1)[1].split() for l in unit if l.startswith("AmbientCapabilities="))
bnd = next(l.split("=", 1)[1].split() for l in unit if l.startswith("CapabilityBoundingSet="))
if sorted(amb) != sorted(bnd):
    print("AmbientCapabilities= and CapabilityBoundingSet= differ")
else:
    print("%016x" % sum(1 << int(num[c]) for c in amb) if all(c in num for c in amb) else "unknown capability")
EOF2
)
t_eq "daemon runs as uid $T_DAEMON_UID" "$T_DAEMON_UID" "$(awk '/^Uid:/ {print $3}' /proc/"$T_DPID"/status)"
for f in CapEff CapPrm CapAmb CapBnd; do
	t_eq "daemon's $f is exactly the unit's ambient set" "$WANT" "$(awk "/^$f:/ {print \$2}" /proc/"$T_DPID"/status)"
done
bg_run /dev/null "$T_TMP/cap.err" run -- "$PY" "$T_TOOLS/listen.py" 80 2 $H; CP=$BG_PID
wait_for "$T_TMP/cap.err" "window .* open" 30
t_eq "as its own user: window opens" open "$(probe inet $H 80)"
wait $CP
t_check "as its own user: the exe of root's process recorded (CAP_SYS_PTRACE)" \
	grep -q '"exe":"/usr/bin/python3' "$T_TMP/audit.jsonl"
t_eq "control socket: the daemon's user's, of socket_group, 0660" "$T_DAEMON_UID:0:660" "$(stat -c %u:%g:%a "$T_SOCK")"
daemon_stop; t_eq "as its own user: clean stop" 0 $?

# --- run by hand as root (other inits, the tests' T_DAEMON_UID=): the same -------------------------
uid_saved=$T_DAEMON_UID; T_DAEMON_UID=
daemon_start || t_fail "daemon start as root"
t_eq "as root: daemon runs as uid 0" 0 "$(awk '/^Uid:/ {print $3}' /proc/"$T_DPID"/status)"
bg_run /dev/null "$T_TMP/root.err" run -- "$PY" "$T_TOOLS/listen.py" 80 2 $H; CP=$BG_PID
wait_for "$T_TMP/root.err" "window .* open" 30
t_eq "as root: window opens" open "$(probe inet $H 80)"
wait $CP
t_eq "as root: control socket root's, of socket_group, 0660" "0:0:660" "$(stat -c %u:%g:%a "$T_SOCK")"
daemon_stop; t_eq "as root: clean stop" 0 $?
T_DAEMON_UID=$uid_saved

# --- without a capability it needs: a clear refusal naming it ----------------------------------
CAPS=$(t_unit_caps)
for drop in bpf sys_ptrace; do
	less=$(sed "s/,*+$drop//; s/^,//" <<<"$CAPS")
	out=$(in_host setpriv --reuid="$T_DAEMON_UID" --regid="$T_DAEMON_UID" --clear-groups --inh-caps="$less" \
		--ambient-caps="$less" --bounding-set="-all,$less" "$PORTHOLE_BIN/portholed" -c "$T_CONF" 2>&1); rc=$?
	t_eq "as its own user without CAP_${drop^^}: portholed exits 69" 69 $rc
	t_check "... one line naming CAP_${drop^^} and how to give it" \
		grep -q "^portholed: missing CAP_${drop^^} (.*AmbientCapabilities=" <<<"$out"
done
# as root with a bounding set that lacks CAP_BPF: the same refusal
out=$(in_host setpriv --bounding-set=-all,+net_admin,+perfmon --inh-caps=-all \
	"$PORTHOLE_BIN/portholed" -c "$T_CONF" 2>&1); rc=$?
t_eq "as root without CAP_BPF: portholed exits 69" 69 $rc
t_check "... naming CAP_BPF" grep -q "^portholed: missing CAP_BPF" <<<"$out"
# --- a kernel feature refused says what really failed, not "too old" -------------------------------
out=$(in_host setpriv --bounding-set=-all,+net_admin,+perfmon --inh-caps=-all \
	"$PORTHOLE_BIN/portholed" --probe -c "$T_CONF" 2>&1); rc=$?
t_eq "portholed --probe without CAP_BPF: exit 69" 69 $rc
t_check "... saying the load is refused (EPERM), not that the kernel is too old" \
	grep -q "Operation not permitted" <<<"$out"
out=$(in_host setpriv --bounding-set=-all,+net_admin,+perfmon --inh-caps=-all \
	"$PORTHOLE_BIN/porthole" check --config "$T_CONF" 2>&1)
t_check "porthole check says the same" grep -q "^FAIL .*Operation not permitted" <<<"$out"

# --- the unit file -----------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	sed "s|@SBINDIR@|$PORTHOLE_BIN|" "$T_ROOT/packaging/portholed.service" >"$T_TMP/portholed.service"
	out=$(systemd-analyze verify --man=no "$T_TMP/portholed.service" 2>&1); rc=$?
	t_eq "systemd-analyze verify portholed.service: clean${out:+ ($out)}" "0:" "$rc:$out"
	exp=$(systemd-analyze security --offline=yes "$T_TMP/portholed.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	t_check "systemd-analyze security --offline=yes: exposure ${exp:-?} <= 1.5" \
		"$PY" -c "import sys; sys.exit(0 if '$exp' and float('$exp') <= 1.5 else 1)"
else
	t_skip "systemd-analyze not installed: unit file not verified"
fi

# --- make install / uninstall ----------------------------------------------------------------------
D=$T_TMP/destdir
make -s -C "$T_ROOT" install DESTDIR="$D" PREFIX=/usr >/dev/null 2>"$T_TMP/install.err"
t_eq "make install DESTDIR PREFIX=/usr succeeds" 0 $?
for f in usr/sbin/portholed usr/bin/porthole etc/porthole/porthole.conf lib/systemd/system/portholed.service \
	usr/lib/tmpfiles.d/porthole.conf usr/lib/sysusers.d/porthole.conf; do
	t_check "installed: /$f" test -e "$D/$f"
done
# the daemon's user: made from sysusers.d (here into the DESTDIR tree: the
# machine's own /etc stays untouched)
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$D/etc" && : >"$D/etc/passwd" && : >"$D/etc/group"
	systemd-sysusers --root="$D" "$D/usr/lib/sysusers.d/porthole.conf" >/dev/null 2>&1
	t_check "sysusers.d/porthole.conf makes user porthole, group porthole, no login shell" \
		grep -q "^porthole:x:[0-9]*:[0-9]*:.*:/var/lib/porthole:/usr/sbin/nologin$" "$D/etc/passwd"
	t_check "... and the group porthole (the default socket_group)" grep -q "^porthole:x:" "$D/etc/group"
fi
t_check "installed unit points at /usr/sbin/portholed" grep -q "^ExecStart=/usr/sbin/portholed$" "$D/lib/systemd/system/portholed.service"
echo "# local edit" >>"$D/etc/porthole/porthole.conf"
make -s -C "$T_ROOT" install DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
t_check "reinstall keeps an edited config" grep -q "# local edit" "$D/etc/porthole/porthole.conf"
make -s -C "$T_ROOT" uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
t_check "make uninstall removes the binaries" test ! -e "$D/usr/sbin/portholed" -a ! -e "$D/usr/bin/porthole"
t_check "make uninstall keeps the config" test -e "$D/etc/porthole/porthole.conf"

t_summary
