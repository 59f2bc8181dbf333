#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/systemd/inner.sh — the checks of the systemd tier, run INSIDE the
# container booted by test_systemd.sh, as the oneshot unit phsd-test.service,
# under systemd as PID 1, in the lab's geo-blocked host network namespace.
#
# Reads /out/env (written by test_systemd.sh). Writes one "PASS|FAIL|SKIP name"
# line per check to /out/results, details to /out/inner.log, figures to
# /out/figures. The unit powers the container off when this script ends.
set -u
OUT=/out
# shellcheck source=/dev/null
. "$OUT/env"
exec >>"$OUT/inner.log" 2>&1
echo "$EPOCHREALTIME" >"$OUT/t_inner_start"

PY=/usr/bin/python3
A=/var/log/porthole/audit.jsonl
UNITS=/etc/systemd/system
CERTBOT_DIR=/etc/letsencrypt
# the cgroup v2 mount (the field after " - " is the fs type)
CG2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)

res() { echo "$*" >>"$OUT/results"; echo "=> $*"; }
pass() { res "PASS $*"; }
fail() { res "FAIL $*"; }
skip() { res "SKIP $*"; }
say() { printf '  %s\n' "$*"; }
figure() { echo "$1=$2" >>"$OUT/figures"; }
now() { echo "${EPOCHREALTIME/,/.}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
indent() { sed 's/^/    | /'; }

# probe [WANT]: from the lab's internet namespace (blocked country) to the
# host's port 80: open|refused|dropped|unreachable (the lab's probe,
# tests/lab/net.sh; WANT "open": a second try of 8 s when dropped)
# shellcheck source=../lab/net.sh
. "$TOOLS/../lab/net.sh"
probe() { lab_probe_ns "$NS_INET" "$HOST_V4" 80 "${1:-}"; }
# porthole's rules in the host's chains (this container shares the lab host's netns)
porthole_rules() { nft list ruleset 2>/dev/null | grep -c 'comment "porthole'; }

journal_tail() { # UNIT [N]
	say "journalctl -u $1, last lines:"
	journalctl -u "$1" -n "${2:-15}" --no-pager -o short-monotonic 2>&1 | indent
}
# verdict OK PASS-LINE FAIL-LINE [N]: PASS-LINE when OK is 1, else the last N
# lines of portholed's journal (journal_tail's default when N is empty, none
# when N is -) and FAIL-LINE
verdict() {
	if [ "$1" = 1 ]; then
		pass "$2"
		return
	fi
	[ "${4-}" = - ] || journal_tail portholed.service ${4-}
	fail "$3"
}

# audit_q FILE EVENT [KEY=VALUE ...] — print the matching records (JSON, one a
# line); KEY may be a path (designation.type). Exit 1 when none matches.
audit_q() {
	"$PY" - "$@" <<'PY'
import json, sys
path, event, conds = sys.argv[1], sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
def get(r, k):
    for p in k.split("."):
        r = r.get(p) if isinstance(r, dict) else None
    return r
n = 0
try:
    lines = open(path).read().splitlines()
except OSError:
    sys.exit(1)
for line in lines:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") != event:
        continue
    if all(str(get(r, k)) == v for k, v in conds):
        print(json.dumps(r, sort_keys=True)); n += 1
sys.exit(0 if n else 1)
PY
}

# the open windows' ids (porthole status --json), one a line
window_ids() { porthole status --json 2>/dev/null | "$PY" -c 'import json,sys; [print(w["id"]) for w in json.load(sys.stdin)["windows"]]' 2>/dev/null; }

wait_window() { # wait (5 s) for an open window; print its id
	local id
	for _ in $(seq 50); do
		id=$(window_ids | tail -n1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

wait_audit() { # TENTHS FILE EVENT [KEY=VALUE...]: wait until a record matches
	local n=$1; shift
	for _ in $(seq "$n"); do
		audit_q "$@" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# client_unit NAME ARGS...: a oneshot unit running `porthole run -- listener.py ARGS`,
# stopped within 1 s: SIGTERM, then SIGKILL (the defaults KillMode=control-group,
# SendSIGKILL=yes)
client_unit() {
	local name=$1; shift
	cat >"$UNITS/$name.service" <<EOF
[Unit]
Description=porthole systemd tier: a client under porthole run ($name)
[Service]
Type=oneshot
ExecStart=/usr/bin/porthole run -- $PY $SD/listener.py $*
TimeoutStopSec=1
EOF
}

show() { systemctl show -p "$2" --value "$1"; }

# checks 10-13: a guarded server window to nginx as a unit of its own
# shellcheck source=tests/systemd/serve.sh
. "$SD/serve.sh"
trap serve_cleanup EXIT

echo "--- inside: $(cat /proc/1/comm) $(systemctl --version | head -n1), cgroup v2 at $CG2"

# ---------------------------------------------------------------- 1. enable --now
# the package's postinst (dh_installsysusers) and `make install` make the
# daemon's user from sysusers.d; this container's /etc is the host's, so here
user_porthole() {
	local out
	out=$(systemd-sysusers /usr/lib/sysusers.d/porthole.conf 2>&1)
	[ -n "$out" ] && printf '%s\n' "$out" | indent
	if getent passwd porthole >/dev/null; then
		pass "0 systemd-sysusers porthole.conf: user porthole $(id porthole)"
	else
		fail "0 systemd-sysusers porthole.conf: no user porthole"
	fi
}

# the running daemon: user porthole, and its capabilities exactly the unit's
# ambient set (by number from the kernel's header)
check_daemon_user() {
	local pid uid eff want
	pid=$(show portholed.service MainPID)
	uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 "," $5 }' /proc/"$pid"/status 2>/dev/null)
	eff=$(awk '/^CapEff:/ { print $2 }' /proc/"$pid"/status 2>/dev/null)
	want=$("$PY" - /usr/lib/systemd/system/portholed.service /lib/systemd/system/portholed.service <<'PY'
import re, sys
num = {}
try:
    num = dict(re.findall(r"^#define\s+(CAP_\w+)\s+(\d+)\s*$", open("/usr/include/linux/capability.h").read(), re.M))
except OSError:
    pass
num.setdefault("CAP_PERFMON", "38"); num.setdefault("CAP_BPF", "39")
for p in sys.argv[1:]:
    try:
        unit = open(p).read().splitlines()
    except OSError:
        continue
    amb = next(l.split("=", 1)[1].split() for l in unit if l.startswith("AmbientCapabilities="))
    print("%016x" % sum(1 << int(num[c]) for c in amb))
    break
PY
)
	local u; u=$(id -u porthole 2>/dev/null)
	say "portholed pid $pid: uid (real, effective, saved, fs) $uid; CapEff $eff (the unit's ambient set: $want)"
	figure daemon_uid "$uid"
	figure daemon_capeff "$eff"
	if [ -n "$u" ] && [ "$uid" = "$u,$u,$u,$u" ] && [ -n "$want" ] && [ "$eff" = "$want" ]; then
		pass "1b portholed runs as user porthole (uid $u) with CapEff $eff, exactly the unit's AmbientCapabilities="
	else
		fail "1b portholed's identity: uid $uid (porthole: ${u:-none}), CapEff $eff (want $want)"
	fi
}

check_enable() {
	local out rc st txt stout
	out=$(systemctl enable --now portholed.service 2>&1); rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | indent
	st=$(systemctl is-active portholed.service)
	txt=$(show portholed.service StatusText)
	# right after `systemctl start` returned (Type=notify: READY=1 sent once the
	# BPF programs are attached and the socket listens), with no wait
	stout=$(porthole status 2>&1); local src=$?
	say "enable --now: exit $rc; is-active: $st; StatusText: '$txt'; porthole status: exit $src"
	printf '%s\n' "$stout" | head -n 5 | indent
	# the config designates a unit: the bind hooks sit on the cgroup v2 root
	local hooks
	hooks=$(bpftool cgroup show "$CG2" 2>/dev/null | grep -cE 'bind4|bind6')
	say "MainPID $(show portholed.service MainPID), Type $(show portholed.service Type); bind hooks on $CG2 when start returned: $hooks"
	if [ $rc = 0 ] && [ "$st" = active ] && [ -n "$txt" ] && [ $src = 0 ] && [ "$hooks" -ge 2 ] \
		&& [ "$(systemctl is-enabled portholed.service)" = enabled ]; then
		pass "1 systemctl enable --now portholed: active, StatusText set, porthole status answers"
		return 0
	fi
	journal_tail portholed.service 30
	fail "1 systemctl enable --now portholed (exit $rc, $st, StatusText '$txt', status exit $src)"
	return 1
}

# ---------------------------------------------------------------- 2. reload
check_reload() {
	local rc ok=1
	mv "$A" "$A.1" || { fail "2 reload: cannot rename $A"; return 1; }
	systemctl reload portholed.service; rc=$?
	# ExecReload= is kill -HUP: wait for the daemon's own word that it reopened
	for _ in $(seq 30); do
		journalctl -u portholed.service -o cat --no-pager 2>/dev/null | grep -q 'audit log .* reopened' && break
		sleep 0.1
	done
	porthole run -- "$PY" "$TOOLS/listen.py" 80 0.3 "$HOST_V4" >/dev/null 2>&1
	local prc=$?
	say "reload: exit $rc; porthole run -- listen.py (one short window): exit $prc"
	say "$(journalctl -u portholed.service -o cat --no-pager | grep -m1 'reopened')"
	if [ -s "$A" ] && audit_q "$A" window-open >/dev/null && audit_q "$A" window-close >/dev/null; then
		say "new $A: $(wc -l <"$A") record(s): $(audit_q "$A" window-open | cut -c1-120)"
	else
		say "no window-open/close record in a new $A (exists: $([ -e "$A" ] && echo yes || echo no))"
		ok=0
	fi
	if audit_q "$A.1" window-open >/dev/null; then
		say "the renamed file got the window's record: not reopened"; ok=0
	fi
	audit_q "$A.1" daemon-start >/dev/null || { say "renamed file has no daemon-start record"; ok=0; }
	if [ $rc = 0 ] && [ $prc = 0 ] && [ $ok = 1 ] && [ "$(systemctl is-active portholed.service)" = active ]; then
		pass "2 systemctl reload portholed reopens the audit log"
	else
		journal_tail portholed.service
		fail "2 systemctl reload portholed reopens the audit log"
	fi
}

# ---------------------------------------------------------------- 3. certbot.service
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }

check_cert() { # LIVE-DIR: SAN = CERT_NAME, chain to pebble's root
	local sans
	sans=$(openssl x509 -in "$1/cert.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
	[ "$sans" = "DNS:$CERT_NAME" ] || { say "SANs '$sans' != DNS:$CERT_NAME"; return 1; }
	openssl verify -CAfile "$OUT/pebble-root.pem" -untrusted "$1/chain.pem" "$1/cert.pem" >/dev/null 2>&1 \
		|| { say "chain of $1/cert.pem does not verify against pebble's root"; return 1; }
}

check_certbot() {
	local live=$CERTBOT_DIR/live/$CERT_NAME t0 rc s1 s2 ok=1 secs res
	t0=$(now)
	timeout 90 env REQUESTS_CA_BUNDLE="$OUT/lab-ca.pem" porthole run -- certbot certonly --standalone \
		--http-01-port 80 --server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email \
		--non-interactive --no-random-sleep-on-renew --cert-name "$CERT_NAME" -d "$CERT_NAME" \
		>"$OUT/certonly.log" 2>&1
	rc=$?
	say "porthole run -- certbot certonly --standalone -d $CERT_NAME: exit $rc ($(secs "$t0" "$(now)")s)"
	if [ $rc != 0 ] || ! check_cert "$live"; then
		tail -n 20 "$OUT/certonly.log" | indent
		fail "3 certbot.service renews through porthole (first certificate not obtained)"
		return 1
	fi
	s1=$(serial "$live/cert.pem")
	say "first certificate: serial $s1, notAfter $(openssl x509 -in "$live/cert.pem" -noout -enddate | cut -d= -f2)"
	# renewal due: pebble's certificates live for years; certbot renews within
	# renew_before_expiry of the end (a top-level key of the lineage's renewal config)
	sed -i '1i renew_before_expiry = 3650 days' "$CERTBOT_DIR/renewal/$CERT_NAME.conf"
	mkdir -p "$UNITS/certbot.service.d"
	cat >"$UNITS/certbot.service.d/porthole-lab.conf" <<EOF
# the lab's CA (pebble's directory certificate)
[Service]
Environment=REQUESTS_CA_BUNDLE=$OUT/lab-ca.pem
EOF
	systemctl daemon-reload
	say "certbot.service ExecStart (Debian's, untouched): $(systemctl show -p ExecStart --value certbot.service | grep -o 'argv\[\]=[^;]*')"
	local before_open
	before_open=$(audit_q "$A" window-open designation.type=unit | wc -l)
	t0=$(now)
	timeout 90 systemctl start certbot.service; rc=$?
	secs=$(secs "$t0" "$(now)")
	figure certbot_renew_s "$secs"
	res=$(show certbot.service Result)
	s2=$(serial "$live/cert.pem")
	say "systemctl start certbot.service: exit $rc, Result=$res (${secs}s); serial now $s2"
	[ $rc = 0 ] && [ "$res" = success ] || ok=0
	if [ -z "$s2" ] || [ "$s2" = "$s1" ]; then say "certificate not renewed (same serial)"; ok=0
	elif ! check_cert "$live"; then ok=0
	else say "renewed certificate: SAN DNS:$CERT_NAME, chain to pebble's root OK"
	fi
	local rec
	rec=$(audit_q "$A" window-open designation.type=unit designation.value=certbot.service | tail -n1)
	if [ -z "$rec" ] || [ "$(audit_q "$A" window-open designation.type=unit | wc -l)" -le "$before_open" ]; then
		say "no window-open record designating unit certbot.service"; ok=0
	else
		say "audit: $(cut -c1-400 <<<"$rec")"
		local wid
		wid=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["window"])' "$rec")
		if wait_audit 30 "$A" window-close window="$wid"; then
			say "audit: $(audit_q "$A" window-close window="$wid" | cut -c1-300)"
		else
			say "no window-close record for window $wid"; ok=0
		fi
	fi
	if [ $ok = 1 ]; then
		pass "3 certbot.service (Debian's, certbot -q renew) renews from pebble through the geo-block, designate = unit certbot.service"
	else
		journal_tail certbot.service 25
		tail -n 25 /var/log/letsencrypt/letsencrypt.log 2>/dev/null | indent
		journal_tail portholed.service
		fail "3 certbot.service renews from pebble through the geo-block"
	fi
}

# ---------------------------------------------------------------- 4. porthole run in a unit, stopped
check_unit_stop() {
	local u=phsd-client-a wid p_in p_after t0 rc ok=1 left close
	client_unit $u 80 "$HOST_V4" ignore-term
	systemctl daemon-reload
	systemctl start --no-block $u.service
	if ! wid=$(wait_window); then
		journal_tail $u.service; journal_tail portholed.service
		fail "4 systemctl stop of a unit running porthole run (no window opened)"
		systemctl stop $u.service
		return 1
	fi
	p_in=$(probe open)
	say "window $wid open for $u.service (porthole run -- listener.py, SIGTERM ignored): probe from inet: $p_in"
	check_identity "$u" "$wid"
	t0=$(now)
	systemctl stop $u.service; rc=$?
	say "systemctl stop $u.service: exit $rc after $(secs "$t0" "$(now)")s, Result=$(show $u.service Result), ActiveState=$(show $u.service ActiveState)"
	left=$(journalctl -u $u.service -o cat --no-pager | grep -cE 'Killing process|SIGKILL')
	say "journal of $u: $(journalctl -u $u.service -o cat --no-pager | grep -E 'Killing|SIGKILL|timed out' | tr '\n' ';' | cut -c1-240)"
	if wait_audit 30 "$A" window-close window="$wid"; then
		close=$(audit_q "$A" window-close window="$wid")
		say "audit: $(cut -c1-240 <<<"$close")"
	else
		say "no window-close record for window $wid"; ok=0
	fi
	p_after=$(probe)
	# the host rules linger host_rule_linger (default 2 s) after the last window
	for _ in $(seq 50); do [ "$(porthole_rules)" = 0 ] && break; sleep 0.1; done
	say "after stop: probe from inet: $p_after; porthole rules in host chains: $(porthole_rules); open windows: $(window_ids | wc -l)"
	[ "$p_in" = open ] || { say "the window did not admit the internet (probe: $p_in)"; ok=0; }
	[ "$p_after" = dropped ] || ok=0
	[ "$(porthole_rules)" = 0 ] || ok=0
	[ "$left" -ge 1 ] || { say "(no SIGKILL seen in the unit's journal)"; ok=0; }
	[ -z "$(window_ids)" ] || ok=0
	[ "$(show $u.service ActiveState)" != active ] || ok=0
	verdict $ok \
		"4 systemctl stop (SIGTERM ignored, SIGKILL after TimeoutStopSec=1) of a unit running porthole run closes its window" \
		"4 systemctl stop of a unit running porthole run closes its window"
}

# ---------------------------------------------------------------- 9. who the window is for
# The audit log's window-open names the client: pid, exe, cmdline (README,
# "Audit log"). Inside a container the daemon has a PID namespace of its own:
# the pid must be the one its /proc (and systemctl) know, or exe and cmdline
# are empty, or, worse, another process's.
check_identity() { # UNIT WINDOW
	local u=$1 wid=$2 procs p lpid lexe st spid sexe rec apid aexe acmd
	procs=$(cat "$CG2/system.slice/$u.service/cgroup.procs" 2>/dev/null | tr '\n' ' ')
	for p in $procs; do
		case $(readlink "/proc/$p/exe") in */python3*) lpid=$p lexe=$(readlink "/proc/$p/exe") ;; esac
	done
	st=$(porthole status --json 2>/dev/null)
	read -r spid sexe < <("$PY" -c 'import json,sys; w=[w for w in json.loads(sys.argv[1])["windows"] if str(w["id"])==sys.argv[2]][0]; print(w.get("pid"), w.get("exe") or "-")' "$st" "$wid" 2>/dev/null)
	rec=$(audit_q "$A" window-open window="$wid" | tail -n1)
	read -r apid aexe acmd < <("$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print(r.get("pid"), r.get("exe") or "-", r.get("cmdline") or "-")' "$rec" 2>/dev/null)
	say "unit $u: processes $procs(listener: pid ${lpid:-?} ${lexe:-?}); porthole status: pid $spid exe $sexe; audit window-open: pid $apid exe $aexe cmdline $acmd"
	if [ -n "${lpid:-}" ] && [ "$apid" = "$lpid" ] && [ "$aexe" = "$lexe" ] && [ "$spid" = "$lpid" ]; then
		pass "9 the window-open record names the client as the daemon's PID namespace sees it (pid $apid, exe $aexe)"
	else
		if [ -e "/proc/$apid" ]; then
			say "pid $apid here is another process: $(tr '\0' ' ' <"/proc/$apid/cmdline" 2>/dev/null | cut -c1-80)"
		else
			say "pid $apid is no process of the daemon's PID namespace (no /proc/$apid in the container)"
		fi
		fail "9 the window-open record names the client: pid $apid exe '${aexe#-}' (expected the listener, pid ${lpid:-?} ${lexe:-?})"
	fi
}

# ---------------------------------------------------------------- 5. SIGKILL, Restart=on-failure
check_kill_restart() {
	local u=phsd-client-b wid pid1 pid2 nr1 nr2 rules_before st ok=1 start
	client_unit $u 80 "$HOST_V4"
	systemctl daemon-reload
	systemctl start --no-block $u.service
	if ! wid=$(wait_window); then
		fail "5 kill -s KILL portholed: restarted, leftover rule swept (no window opened to leave a rule)"
		systemctl stop $u.service
		return 1
	fi
	pid1=$(show portholed.service MainPID) nr1=$(show portholed.service NRestarts)
	rules_before=$(porthole_rules)
	say "window $wid open; portholed MainPID $pid1, NRestarts $nr1; porthole rules in host chains: $rules_before"
	systemctl kill -s KILL portholed.service
	for _ in $(seq 80); do
		pid2=$(show portholed.service MainPID) st=$(systemctl is-active portholed.service)
		[ "$st" = active ] && [ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ] && break
		sleep 0.1
	done
	nr2=$(show portholed.service NRestarts)
	say "after systemctl kill -s KILL: is-active $st, MainPID $pid2, NRestarts $nr2"
	start=$(audit_q "$A" daemon-start | tail -n1)
	say "audit: $(cut -c1-300 <<<"$start")"
	local removed
	removed=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get("leftover_rules_removed"))' "$start" 2>/dev/null)
	say "leftover_rules_removed: $removed; porthole rules in host chains now: $(porthole_rules)"
	if audit_q "$A" window-close window="$wid" reason=recovered >/dev/null; then
		say "audit: window $wid closed with reason recovered"
	else
		say "audit: no 'recovered' close for window $wid: $(audit_q "$A" window-close window="$wid" | cut -c1-200)"
	fi
	[ "$rules_before" -ge 1 ] || { say "no rule was in the host chains before the kill"; ok=0; }
	[ "$st" = active ] && [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] || ok=0
	[ "$nr2" -gt "$nr1" ] 2>/dev/null || ok=0
	[ "${removed:-0}" != None ] && [ "${removed:-0}" -ge 1 ] 2>/dev/null || ok=0
	[ "$(porthole_rules)" = 0 ] || ok=0
	systemctl stop $u.service
	verdict $ok \
		"5 systemctl kill -s KILL portholed: Restart=on-failure brings it back, the leftover rule is swept" \
		"5 systemctl kill -s KILL portholed: restarted and leftover rule swept" 25
}

# ---------------------------------------------------------------- 6. stop
check_stop() {
	local u=phsd-client-c wid rc ok=1 res code status p
	client_unit $u 80 "$HOST_V4"
	systemctl daemon-reload
	systemctl start --no-block $u.service
	wid=$(wait_window) || { say "no window opened for $u"; ok=0; }
	say "window ${wid:-none} open; porthole rules in host chains: $(porthole_rules)"
	systemctl stop portholed.service; rc=$?
	res=$(show portholed.service Result) code=$(show portholed.service ExecMainCode) status=$(show portholed.service ExecMainStatus)
	p=$(probe)
	say "systemctl stop portholed: exit $rc; Result=$res ExecMainCode=$code ExecMainStatus=$status; ActiveState=$(show portholed.service ActiveState)"
	say "porthole rules in host chains: $(porthole_rules); table inet porthole: $(nft list table inet porthole >/dev/null 2>&1 && echo present || echo gone); probe from inet: $p"
	if [ -n "${wid:-}" ]; then
		if audit_q "$A" window-close window="$wid" reason=shutdown >/dev/null; then
			say "audit: $(audit_q "$A" window-close window="$wid" | cut -c1-200)"
		else
			say "no window-close reason=shutdown for window $wid: $(audit_q "$A" window-close window="$wid" | cut -c1-200)"; ok=0
		fi
	fi
	if audit_q "$A" daemon-stop reason=signal >/dev/null; then
		say "audit: $(audit_q "$A" daemon-stop | tail -n1)"
	else
		say "no daemon-stop record with reason signal"; ok=0
	fi
	[ $rc = 0 ] && [ "$res" = success ] && [ "$code" = 1 ] && [ "$status" = 0 ] || ok=0   # ExecMainCode 1: CLD_EXITED
	[ "$(show portholed.service ActiveState)" = inactive ] || ok=0
	[ "$(porthole_rules)" = 0 ] && [ "$p" = dropped ] || ok=0
	nft list table inet porthole >/dev/null 2>&1 && ok=0
	systemctl stop $u.service
	verdict $ok \
		"6 systemctl stop portholed closes every window, unit result success (exit 0)" \
		"6 systemctl stop portholed closes every window, result success" 25
}

# ---------------------------------------------------------------- 7. the journal
check_journal() {
	local ok=1 ev id want out
	for ev in daemon-start:215520793d1047069a96fa7786c8b997: \
		daemon-stop:2924a83b0ceb4c1089cd13abc19d936a:PORTHOLE_REASON \
		window-open:5e65d4fa50704e289e93d87686824925:PORTHOLE_WINDOW,PORTHOLE_PORT,PORTHOLE_PID,PORTHOLE_EXE \
		window-close:c2194c2933de4b6c942111911e340646:PORTHOLE_WINDOW,PORTHOLE_REASON,PORTHOLE_PEERS; do
		IFS=: read -r name id want <<<"$ev"
		out=$(journalctl -u portholed.service MESSAGE_ID="$id" -o json --no-pager 2>&1 | "$PY" -c '
import json, sys
want = [w for w in sys.argv[1].split(",") if w]
ents = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
full = [e for e in ents if all(w in e for w in want)]
if not full:
    print("%d entries, none with all of %s" % (len(ents), want)); sys.exit(1)
filled = [e for e in full if all(e[w] for w in want)]
e = (filled or full)[-1]
print("%d entries; %s" % (len(ents), " ".join("%s=%s" % (k, str(e[k])[:60]) for k in sorted(e) if k.startswith("PORTHOLE_") or k in ("MESSAGE", "_SYSTEMD_UNIT", "PRIORITY"))))
' "$want")
		if [ $? = 0 ]; then say "$name ($id): $out"
		else say "$name ($id): $out"; ok=0
		fi
	done
	# log once: with stderr connected to the journal, an audited event is its
	# structured entry alone (no second, plain line from stderr)
	local wid n
	wid=$(journalctl -u portholed.service MESSAGE_ID=5e65d4fa50704e289e93d87686824925 -o cat --no-pager 2>/dev/null |
		sed -n 's/^window \([0-9]*\) open.*/\1/p' | tail -n1)
	n=$(journalctl -u portholed.service -o cat --no-pager 2>/dev/null | grep -cE "(^|portholed: )window ${wid:-x} open")
	say "window ${wid:-?} open: $n line(s) in the journal"
	[ -n "$wid" ] && [ "$n" = 1 ] || { say "an audited event is in the journal more than once (or not at all)"; ok=0; }
	verdict $ok \
		"7 journalctl -u portholed MESSAGE_ID=... finds daemon-start, daemon-stop, window-open, window-close with their PORTHOLE_* fields, each event once" \
		"7 journal entries with MESSAGE_IDs and PORTHOLE_* fields" -
}

# ---------------------------------------------------------------- 14. iptables-legacy under the unit
# The daemon runs as user porthole: the list of legacy tables is root's
# (/proc/net/ip_tables_names, 0440) and their rules take an Internet socket the
# unit keeps out. A legacy DROP cannot open a hole, only starve a window, so
# the daemon says once that it cannot tell, and opens the window; `porthole
# check` (as root) reads the table. Last: the table stays in this netns.
check_legacy_unit() {
	local out rc warned
	if ! command -v iptables-legacy >/dev/null; then
		skip "14 iptables-legacy under the unit: iptables-legacy not installed"
		return
	fi
	systemctl start portholed.service
	iptables-legacy -w -A INPUT -p tcp --dport 9 -j DROP 2>&1 | indent
	out=$(porthole run -- "$PY" "$TOOLS/listen.py" 80 0.5 "$HOST_V4" 2>&1); rc=$?
	say "with a legacy filter table loaded: porthole run exit $rc: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"
	warned=$(journalctl -u portholed.service -o cat --no-pager | grep -m1 "legacy filter table")
	say "portholed: $warned"
	out=$(porthole check 2>&1)
	say "porthole check: $(grep -E 'legacy' <<<"$out" | tr '\n' ';' | cut -c1-300)"
	if [ $rc = 0 ] && [ -n "$warned" ] && grep -Eq '^FAIL +iptables-legacy ' <<<"$out" &&
		grep -Eq '^WARN +iptables-legacy unit ' <<<"$out"; then
		pass "14 a legacy filter table the unit's daemon cannot read: said once in the journal, porthole check FAILs on its DROP"
	else
		journal_tail portholed.service 10
		fail "14 a legacy filter table the unit's daemon cannot read: not said (journal '$warned', run exit $rc)"
	fi
	iptables-legacy -w -D INPUT -p tcp --dport 9 -j DROP 2>/dev/null
}

# ---------------------------------------------------------------- 8. systemd-analyze security
check_security() {
	local out lvl
	out=$(systemd-analyze security --no-pager portholed.service 2>&1)
	lvl=$(grep -oE 'Overall exposure level for portholed.service: [0-9.]+' <<<"$out" | awk '{ print $NF }')
	say "$(grep -E 'Overall exposure' <<<"$out")"
	figure exposure "${lvl:-none}"
	if [ -z "$lvl" ]; then
		printf '%s\n' "$out" | tail -n 10 | indent
		fail "8 systemd-analyze security portholed: no exposure figure"
	elif awk -v l="$lvl" 'BEGIN { exit !(l <= 1.5) }'; then
		pass "8 systemd-analyze security portholed (online): exposure $lvl (<= 1.5)"
	else
		grep -E '^✗' <<<"$out" | head -n 20 | indent
		fail "8 systemd-analyze security portholed: exposure $lvl > 1.5"
	fi
}

user_porthole
if check_enable; then
	check_daemon_user
	check_reload
	check_certbot
	check_unit_stop
	check_kill_restart
	check_stop
	check_journal
	check_serve
else
	for n in "2 reload" "3 certbot.service" "4 unit stop" "9 window identity" "5 kill/restart" "6 stop" "7 journal"; do
		fail "$n: portholed did not start under systemd"
	done
	serve_fail_all "portholed did not start under systemd"
fi
check_security
check_legacy_unit
systemctl stop portholed.service 2>/dev/null
echo "$EPOCHREALTIME" >"$OUT/t_inner_end"
echo finished >"$OUT/done"
