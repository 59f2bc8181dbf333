#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/test_containers.sh — issue 23 end to end: an ACME client in a
# container, published with -p, on a geo-blocked host, gets its certificate
# from pebble through a window to that container's socket only. Real engines
# from Debian (tests/lab/engines.sh: docker.io 20.10 with iptables-nft and
# docker-proxy, podman 4.3 with netavark's iptables driver) run inside the
# pebble lab's host namespace (tests/lab/lab.sh); the clients are the host's
# certbot and lego in the offline image (the host's /usr, read-only).
# portholed: `designate = cgroup /$LAB_PREFIX-acme published ports=80`; the
# designated containers run with --cgroup-parent /$LAB_PREFIX-acme.
#
#   docker      geo-block in DOCKER-USER (the blocked country, the lab's
#               inet, dropped on port 80). A container "web" under the
#               parent (-p $H:80:80 -p $H:8081:80) listens: during its
#               window the blocked country reaches it through $H:80, and
#               reaches neither it through $H:8081, nor a second container
#               "other" (-p $H:8080:80, not designated), nor a host process
#               on $H2:80 (judged by what each server logged); the allowed
#               country reaches all three. When web's listener closes (the
#               container and its DNAT stay), the window closes: a new probe
#               is dropped, not refused by the container. Then certbot
#               --standalone (-p $H:80:80, --rm) and lego --http get their
#               certificates (pebble validates from the blocked country);
#               after each exits no window is left. Audit log: window-open
#               and window-close with "kind":"container". The lab host's
#               ruleset (Docker's rules with it, counters aside) is the same
#               after the windows as before the daemon started.
#   prerouting  the same engine, the geo-block moved to a prerouting chain
#               at mangle priority (-150), before DNAT: `porthole check`
#               says what porthole does there (an OK line on that chain);
#               web's window puts the pair before the drop, the blocked
#               country reaches web through $H:80 and nothing else: not
#               other ($H:8080), not the host process ($H2:80) (web's
#               address routed directly: tests/adversary/test_cwin_pre.sh,
#               the lab's inet has no route to Docker's bridge); the allowed country reaches all
#               three; the pair goes with the window; certbot --standalone
#               in a container gets its certificate through the block; the
#               ruleset as before the daemon.
#   ufw         the same engine; the lab host's firewall is now ufw 0.36
#               (tests/lab/fw.sh: the lab host's netns, a private mount
#               namespace with copies of /etc/ufw; the machine's is never
#               written): deny incoming, port 80 from the allowed country,
#               ufw-docker's after.rules block verbatim (DOCKER-USER jumps to
#               ufw-user-forward, returns for private sources, drops new
#               connections to private destinations) and `ufw route allow`
#               from the allowed country. Without a window the blocked
#               country reaches neither other nor the host process. web's
#               window as in docker, but a `ufw reload` first (it flushes
#               DOCKER-USER and fills it again): the daemon puts its rule
#               back at the top, the window stays, web_window's probes judge
#               it after the reload. certbot's docker CLI runs in a cgroup of
#               its own (a timer's unit) and its container, under the parent,
#               gets the window and the certificate. The ruleset byte for
#               byte as before the daemon (after one ufw reload: ufw's chain
#               order is steady from the first reload on), /etc/ufw unchanged.
#   podman      a fresh lab, podman 4.3 (netavark 1.4 has no user chain: the
#               geo-block at the top of ip filter FORWARD); the same web
#               window checks and certbot --standalone.
#   named       (after docker, and after podman, on their engines)
#               `designate = container docker:NAME` (podman:NAME), no cgroup
#               line, the engine's state under the test's private roots
#               (docker_root, podman_root, podman_runroot): a container of
#               that name under the engine's own (undesignated) cgroup
#               parent gets its window, the blocked country reaches it
#               through $H:80 (its server's log); a container of another
#               name, same parent and publication, gets none (nothing
#               logged of the blocked country); the named container again,
#               its engine's state file (Podman: its directory) made
#               group-writable before it listens: refused, one log line naming the file, no window;
#               another container whose server listens in a child cgroup
#               named after the named one's id (while that one runs): the
#               engine's pid for that id is elsewhere: refused, nothing
#               reaches it.
#   podman-prerouting (after podman and named, on their engine) the
#               prerouting case with podman: the FORWARD block moved to
#               the same mangle-priority chain before netavark's DNAT; the
#               same checks, certbot --standalone through the block.
# Every case: the root namespace's ruleset and links unchanged.
#
# Before the daemon's container windows exist (issue 23 step 4's daemon half
# and its host forward-hook rules) the positive checks FAIL: no window, the
# geo-block drops pebble's validation, no certificate. So they did with both
# (main 3ca69ec) until the daemon took the pids of processes in a container's
# own PID namespace (daemon/watch.c): every Docker and Podman container has
# one, and its listener came as pid 0, "not visible".
#
# Env: E2E_LAB_PREFIX (default phlc$$), CT_CASES (default "docker named
# prerouting ufw podman podman-prerouting"), E2E_KEEP=DIR (keep the
# clients', servers' and daemon's files).
# Output as the integration tier: PASS/FAIL/SKIP lines, a closing line
# "containers: N passed, N failed, N skipped"; 77 when it cannot run at all.
set -u
source "$(dirname "$0")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_start containers
for b in pebble pebble-challtestsrv openssl curl iptables-nft; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
# the pebble lab's names are the test's (T_PFX: engines.sh, daemon_start, probe)
LAB_PREFIX=${E2E_LAB_PREFIX:-phlc$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
# (the ufw case's firewall manager, after the lab's address plan)
source "$T_ROOT/tests/lab/fw.sh"
ENG_NETNS=$LAB_NS_HOST
# certbot's standalone server may look its address up: no DNS in the lab
export RES_OPTIONS="timeout:1 attempts:1"
CT_CASES=${CT_CASES:-docker named prerouting ufw podman podman-prerouting}
PARENT=/$T_PFX-acme           # the designated cgroup parent
W=$T_TMP/w                    # mounted at /w in the containers
HL=$T_ROOT/tests/adversary/httplog.py
A=$T_TMP/audit.jsonl
LAB=0
WEB_IP=

cleanup() {
	trap - EXIT INT TERM
	if [ -n "${E2E_KEEP:-}" ]; then
		mkdir -p "$E2E_KEEP" && cp -a "$W" "$T_TMP"/*.log "$T_TMP"/*.jsonl "$E2E_KEEP/" 2>/dev/null
	fi
	eng_stop docker >/dev/null 2>&1
	eng_stop podman >/dev/null 2>&1
	daemon_stop >/dev/null 2>&1
	fw_stop >/dev/null 2>&1
	[ "$LAB" = 1 ] && lab_down
	t_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# the root namespace as the engines and porthole must leave it (as
# tests/integration/test_engines.sh checks it)
root_state() {
	nft list ruleset 2>&1
	ip -o link show 2>/dev/null | grep -oE ': (docker0|podman[0-9]*|veth[^:@]*)'
	grep -F -- "$T_TMP" /proc/self/mountinfo
}
ROOT0=$(root_state)
root_same() { # WHEN
	local cur
	cur=$(root_state)
	if [ "$cur" = "$ROOT0" ]; then
		t_pass "$KIND: the root namespace's ruleset, links and mounts unchanged $1"
	else
		t_fail "$KIND: the root namespace changed $1: $(diff <(echo "$ROOT0") <(echo "$cur") | head -8 | tr '\n' '|')"
	fi
}

# the lab host's ruleset, the engine's rules with it, without counters and
# without porthole's own tables (which live and die with the daemon)
lab_rules() { in_host nft -s list ruleset 2>/dev/null | awk '/^table (inet|bridge) porthole /{skip=1} !skip{print} skip&&/^}/{skip=0}'; }
rules_same() { # WHAT BASE
	local cur i
	for i in $(seq 20); do
		cur=$(lab_rules)
		[ "$cur" = "$2" ] && break
		sleep 0.1
	done
	if [ "$cur" = "$2" ]; then
		t_pass "$KIND: the lab host's ruleset and the engine's rules as before the daemon, $1"
	else
		t_fail "$KIND: the lab host's ruleset differs $1: $(diff <(echo "$2") <(echo "$cur") | head -10 | tr '\n' '|')"
	fi
}

# container windows: elements of porthole's cwin set (docs/design/containers.md §4)
cwin_elements() {
	in_host nft -j list set inet porthole cwin 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(len(x["set"].get("elem",[])) for x in d if "set" in x))' 2>/dev/null || echo 0
}
cwin_is() { [ "$(cwin_elements)" = "$1" ]; }
cwin_some() { [ "$(cwin_elements)" -gt 0 ]; }

# get ROLE ADDR PORT PATH [TIMEOUT]: one GET from the lab namespace ROLE
get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-2}"; }
# gets DIR: lines "FILE ROLE ADDR PORT PATH TIMEOUT" on stdin, all at once
# (a dropped one costs its timeout); each answer in DIR/FILE
gets() {
	local d=$1 f role addr port path to pids=()
	rm -rf "$d" && mkdir -p "$d" || return 1
	while read -r f role addr port path to; do
		[ -n "$f" ] || continue
		get "$role" "$addr" "$port" "$path" "$to" >"$d/$f" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
# peer_lines LOG PEER: what a server logged of PEER's connections
peer_lines() { grep -c "^\(accept\|request\) $2 " "$1" 2>/dev/null; }
logged() { grep -q "^request $2 [0-9]* b'GET $3 " "$1" 2>/dev/null; }

# cport_closed KIND NAME: nothing of the container's listens on :80 any more
c_listens() { nsenter -t "$1" -n ss -Hltn 'sport = :80' 2>/dev/null | grep -q LISTEN; }

ph_check() { in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_CONF"; }

# audit_pairs: the container windows' records: "OPENS CLOSES"
audit_pairs() {
	echo "$(grep '"event":"window-open"' "$A" 2>/dev/null | grep -c '"kind":"container"')" \
		"$(grep '"event":"window-close"' "$A" 2>/dev/null | grep -c '"kind":"container"')"
}
# audit_fields: every container record names the container's cgroup below
# the parent and the designation; web's open names web's address as its
# target; every close says the listener closed
audit_fields() {
	local c
	c=$(grep '"kind":"container"' "$A" 2>/dev/null)
	[ -n "$c" ] || return 1
	! grep -v "\"cgroup\":\"$PARENT/[0-9a-z-]*\".*\"designation\":{\"type\":\"cgroup\",\"value\":\"$PARENT\"" <<<"$c" | grep -q . &&
		grep '"event":"window-open"' <<<"$c" | grep -q "\"targets\":\[{\"addr\":\"$WEB_IP\"" &&
		! grep '"event":"window-close"' <<<"$c" | grep -v '"reason":"listener-closed"' | grep -q .
}

# cert_ok CERT CHAIN NAME: CERT is for NAME exactly and chains to pebble's root
cert_ok() {
	local sans
	[ -s "$1" ] || { t_log "no certificate at $1"; return 1; }
	sans=$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
	[ "$sans" = "DNS:$3" ] || { t_log "SANs '$sans', want DNS:$3"; return 1; }
	openssl verify -CAfile "$LAB_STATE/pebble-root.pem" -untrusted "$2" "$1" >/dev/null 2>&1 ||
		{ t_log "the chain of $1 does not verify against pebble's root"; return 1; }
}

lab_start() {
	local t1
	t1=$(now)
	lab_up || { t_fail "the pebble lab ($LAB_PREFIX) came up"; return 1; }
	LAB=1
	mkdir -p "$W" && chmod 755 "$W" "$T_TMP" || return 1
	cp "$LAB_CA_PEM" "$W/ca.pem" && chmod 644 "$W/ca.pem" || return 1
	t_log "lab $LAB_PREFIX with pebble up ($(since "$t1") s)"
}
lab_stop() { lab_down; LAB=0; }

# parent_cgroups: the designated parent in every hierarchy, removed by the
# EXIT trap (the engines make it for the containers they put there)
parent_cgroups() { local h; for h in $(_eng_hier); do T_CGROUPS+=("$h$PARENT"); done; }

# geo_block KIND: the admin's block of the blocked country on port 80 in the
# engine's forward path (Docker: DOCKER-USER, Docker's documented place;
# netavark 1.4 has no user chain: the top of FORWARD)
geo_block() {
	case $1 in
	docker) in_host iptables-nft -I DOCKER-USER -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ;;
	podman) in_host iptables-nft -I FORWARD 1 -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ;;
	esac
}

geo_chain() { case $1 in docker | ufw) echo DOCKER-USER ;; podman) echo FORWARD ;; esac; }
# geo_word KIND: what the geo-block's first rule there says (ufw-docker's
# block starts with its jump to ufw's route rules)
geo_word() { case $1 in ufw) echo ufw-user-forward ;; *) echo DROP ;; esac; }
# ek KIND: the engine a case runs on (the ufw case on the docker case's)
ek() { case $1 in ufw) echo docker ;; *) echo "$1" ;; esac; }
# rule_at KIND WORD: the position of the first rule with WORD in the
# geo-block's chain (99 when none)
rule_at() {
	in_host iptables-nft -S "$(geo_chain "$1")" 2>/dev/null | grep '^-A ' | grep -n -m1 -- "$2" | cut -d: -f1 | grep . || echo 99
}

# ctr KIND NAME PUBLISH... -- CMD...: a detached container from the offline
# image with the test's files; prints its id
ctr() {
	local kind=$1 name=$2 parent=$3
	shift 3
	eng "$(ek "$kind")" run -d --name "$name" --cgroup-parent "$parent" -v /usr:/usr:ro -v "$W:/w" \
		-v "$T_ROOT/tests:/tests:ro" "$@"
}
# srv_cmd LOG NAME: a logging server on :80 for its whole life, then the
# container stays (its DNAT with it) until removed
srv_cmd() { echo "/usr/bin/python3 /tests/adversary/httplog.py serve /w/$1 $2 80 600 0.0.0.0; exec sleep 600"; }

# client_run KIND NAME CMD...: an ACME client's container (--rm, under the
# designated parent, -p $H:80:80), its output in $W/NAME.out. With CLI_CG
# (docker), the docker CLI runs in that cgroup, as a unit's ExecStart does
client_run() {
	local kind=$1 name=$2
	shift 2
	(
	if [ -n "${CLI_CG:-}" ]; then
		echo $BASHPID >"$CLI_CG/cgroup.procs" && grep -q ":$CLI_CG_REL\$" "/proc/$BASHPID/cgroup" && : >"$T_TMP/cli-in-unit"
	fi
	eng "$(ek "$kind")" run --rm --name "$name" --cgroup-parent "$PARENT" -p "$H:80:80" -v /usr:/usr:ro -v "$W:/w" \
		-e REQUESTS_CA_BUNDLE=/w/ca.pem -e LEGO_CA_CERTIFICATES=/w/ca.pem "$ENG_IMAGE" "$@" >"$W/$name.out" 2>&1
	)
}

# ---- the window of a designated container, and what stays closed -------------------
# web_window KIND: web (designated) and other (not) containers, a host
# process on $H2:80; probes during web's window and after its listener closed
web_window() {
	local kind=$1 t1 cpid spid d=$T_TMP/probes n
	t1=$(now)
	: >"$W/web.log"
	if ! ctr "$kind" web "$PARENT" -p "$H:80:80" -p "$H:8081:80" "$ENG_IMAGE" /bin/sh -c "$(srv_cmd web.log web)" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$kind: run web under $PARENT: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid "$(ek "$kind")" web)
	if ! until_ok 200 c_listens "$cpid"; then
		t_fail "$kind: web did not listen on :80 in its netns"
		return 1
	fi
	if until_ok 50 cwin_some; then
		t_pass "$kind: web's listener (netns of its own, cgroup below $PARENT) opened a window: $(cwin_elements) element(s) ($(since "$t1") s)"
	else
		t_fail "$kind: no container window for web's listener ($(cwin_elements) elements in inet porthole cwin): $(grep -i container "$T_DLOG" | tail -2 | tr '\n' '|')"
	fi
	WEB_IP=$(eng "$(ek "$kind")" inspect -f '{{.NetworkSettings.IPAddress}}' web 2>/dev/null)
	t_check "$kind: porthole status lists it: container ... (cgroup $PARENT/...) through DNAT to $WEB_IP:80" \
		eval 'ph status 2>&1 | grep -q "container .*(cgroup $PARENT/[^)]*) through DNAT to $WEB_IP:80"'
	t_check "$kind: porthole's one host rule above the geo-block in $(geo_chain "$kind") (rule $(rule_at "$kind" porthole) < $(rule_at "$kind" "$(geo_word "$kind")"))" \
		eval '[ "$(rule_at "$kind" porthole)" -lt "$(rule_at "$kind" "$(geo_word "$kind")")" ]'
	# (ufw: the probes below come after a ufw reload during the window)
	[ "$kind" = ufw ] && ufw_reload
	# every probe at once (a dropped one costs its timeout)
	gets "$d" <<EOF
inet80 inet $H 80 /inet-80 4
inet8081 inet $H 8081 /inet-8081 2
inet8080 inet $H 8080 /inet-8080 2
inetH2 inet $H2 80 /inet-h2 2
allow80 allow $H 80 /allow-80 4
allow8081 allow $H 8081 /allow-8081 4
allow8080 allow $H 8080 /allow-8080 4
allowH2 allow $H2 80 /allow-h2 4
EOF
	# (the logs are written by the servers a moment after the answer)
	until_ok 20 logged "$W/web.log" "$INET" /inet-80
	if logged "$W/web.log" "$INET" /inet-80; then
		t_pass "$kind: the blocked country reaches web through $H:80 during the window (web logged $INET: $(cat "$d/inet80"))"
	else
		t_fail "$kind: the blocked country to $H:80 during web's window: $(cat "$d/inet80"); web logged nothing of $INET"
	fi
	until_ok 20 logged "$W/web.log" "$ALLOW" /allow-8081
	t_check "$kind: the allowed country reaches web (:80 and :8081), other (:8080) and the host process ($H2:80)" \
		eval 'logged "$W/web.log" "$ALLOW" /allow-80 && logged "$W/web.log" "$ALLOW" /allow-8081 &&
			logged "$W/other.log" "$ALLOW" /allow-8080 && logged "$T_TMP/host.log" "$ALLOW" /allow-h2'
	n=$(grep -c "^request $INET .*inet-8081" "$W/web.log")
	t_eq "$kind: ... but not web through another published port $H:8081 ($(cat "$d/inet8081"); web's log)" 0 "$n"
	t_eq "$kind: ... nor the second container other on $H:8080 ($(cat "$d/inet8080"); other's log)" 0 "$(peer_lines "$W/other.log" "$INET")"
	t_eq "$kind: ... nor a host process on $H2:80 ($(cat "$d/inetH2"); its log)" 0 "$(peer_lines "$T_TMP/host.log" "$INET")"
	t_eq "$kind: web heard the blocked country once (the one admitted GET)" 1 "$(grep -c "^request $INET " "$W/web.log")"

	# web's server exits; the container, its DNAT and docker-proxy stay
	spid=$(ps -o pid= --ppid "$cpid" | head -1 | tr -d ' ')
	[ -n "$spid" ] && kill -TERM "$spid"
	until_ok 50 eval '! c_listens "$cpid"'
	if until_ok 50 cwin_is 0; then
		t_pass "$kind: web's listener closed (the container runs on): its window closed"
	else
		t_fail "$kind: web's listener closed, $(cwin_elements) cwin element(s) left"
	fi
	# (admitted, the SYN would meet web's netns with nothing listening: refused)
	t_eq "$kind: a new probe from the blocked country to $H:80 is dropped (the DNAT to web's netns still there)" \
		dropped "$(probe inet "$H" 80 1)"
	eng "$(ek "$kind")" rm -f web >/dev/null 2>&1
	return 0
}

# clients KIND [lego]: certbot (and lego) in containers under the parent
clients() {
	local kind=$1 name t1 rc
	name=ctr-$kind${CLIENT_TAG:-}-certbot.porthole.test
	lab_add_name "$name" v4 "$H" >/dev/null || { t_fail "$kind: DNS name $name"; return 1; }
	t1=$(now)
	client_run "$kind" certbot /usr/bin/certbot certonly --standalone --http-01-port 80 -d "$name" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--config-dir /w/certbot/config --work-dir /w/certbot/work --logs-dir /w/certbot/logs
	rc=$?
	if [ $rc = 0 ] && cert_ok "$W/certbot/config/live/$name/cert.pem" "$W/certbot/config/live/$name/chain.pem" "$name"; then
		t_pass "$kind: certbot --standalone in a container (-p $H:80:80, --cgroup-parent $PARENT) got its certificate, chained to pebble's root ($(since "$t1") s)"
	else
		t_fail "$kind: certbot in a container: exit $rc ($(since "$t1") s): $(grep -E 'Detail|Error|error' "$W/certbot.out" | head -3 | cut -c1-200 | tr '\n' '|')"
	fi
	until_ok 30 cwin_is 0
	t_eq "$kind: certbot's container gone, no container window left" 0 "$(cwin_elements)"
	[ "${2:-}" = lego ] || return 0
	name=ctr-$kind-lego.porthole.test
	lab_add_name "$name" v4 "$H" >/dev/null || { t_fail "$kind: DNS name $name"; return 1; }
	t1=$(now)
	client_run "$kind" lego /usr/bin/lego --server "$LAB_ACME_DIR" --email e2e@example.com --accept-tos \
		--path /w/lego -d "$name" --http --http.port :80 run
	rc=$?
	if [ $rc = 0 ] && cert_ok "$W/lego/certificates/$name.crt" "$W/lego/certificates/$name.issuer.crt" "$name"; then
		t_pass "$kind: lego --http in a container got its certificate ($(since "$t1") s)"
	else
		t_fail "$kind: lego in a container: exit $rc ($(since "$t1") s): $(grep -iE 'error|invalid' "$W/lego.out" | head -2 | cut -c1-200 | tr '\n' '|')"
	fi
	until_ok 30 cwin_is 0
	t_eq "$kind: lego's container gone, no container window left" 0 "$(cwin_elements)"
}

# ---- a case: one engine in the lab ------------------------------------------
# engine_up KIND: the engine, its image, the geo-block, the undesignated
# servers (other, host process); sets BASE (the lab's rules before the daemon)
engine_up() {
	local kind=$1 t1
	t1=$(now)
	eng_up "$kind" || return 1
	if ! out=$(eng_image "$kind" 2>&1); then
		t_fail "$kind: import of the offline image: $(tail -c 300 <<<"$out")"
		return 1
	fi
	t_log "$kind: engine up, image imported ($(since "$t1") s)"
	geo_block "$kind" || { t_fail "$kind: the geo-block in the engine's forward path"; return 1; }
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	if ! eng_run "$kind" --name other -p "$H:8080:80" -v "$W:/w" -v "$T_ROOT/tests:/tests:ro" "$ENG_IMAGE" \
		/bin/sh -c "$(srv_cmd other.log other)" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$kind: run other: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	bg_host /dev/null "$T_TMP/host.err" "$PY" "$HL" serve "$T_TMP/host.log" host 80 600 "$H2"
	until_ok 200 eval '[ "$(probe allow "$H" 8080 1)" = open ] && [ "$(probe allow "$H2" 80 1)" = open ]' ||
		{ t_fail "$kind: other ($H:8080) and the host process ($H2:80) answer the allowed country"; return 1; }
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	# the fail-first proof of the lab: without porthole the geo-block holds
	t_eq "$kind: before the daemon, the blocked country to other's $H:8080: dropped" dropped "$(probe inet "$H" 8080 1)"
	BASE=$(lab_rules)
	root_same "with the engine and its containers running"
}

daemon_up() {
	rm -f "$A" # (the daemon's user makes it)
	daemon_start "designate = cgroup $PARENT published ports=80" || { t_fail "$KIND: daemon start"; return 1; }
}

engine_down() {
	local kind=$1 left
	# the host process
	[ -n "${BG_PID:-}" ] && { kill -TERM "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; BG_PID=; }
	eng_stop "$kind" >"$T_TMP/stop.out" 2>&1
	[ -s "$T_TMP/stop.out" ] && t_log "$(cat "$T_TMP/stop.out")"
	left=$(eng_leftovers "$kind")
	[ -z "$left" ] || t_fail "$kind: left of the engine: $(tr '\n' '|' <<<"$left")"
	root_same "after the engine"
}

case_engine() { # KIND [lego]
	KIND=$1
	local t0 nrec
	t0=$(now)
	engine_up "$KIND" || return 1
	daemon_up || return 1
	web_window "$KIND"
	clients "$KIND" "${2:-}"
	read -r -a nrec <<<"$(audit_pairs)"
	t_check "$KIND: the audit log has window-open and window-close of kind container for each window (${nrec[0]} open, ${nrec[1]} close)" \
		eval '[ "${nrec[0]}" -ge 1 ] && [ "${nrec[0]}" = "${nrec[1]}" ]'
	t_check "$KIND: ... each naming the container's cgroup below $PARENT and the designation, web's its address $WEB_IP, each close listener-closed" \
		audit_fields
	rules_same "after the last window (porthole's host rule gone with it)" "$BASE"
	daemon_stop
	t_eq "$KIND: portholed exited 0 on SIGTERM" 0 $?
	rules_same "after the daemon" "$BASE"
	root_same "after the windows"
	t_log "$KIND: $(since "$t0") s"
}

# ---- designate = container ENGINE:NAME (the engine's state names it) ----------------
# named_srv LOG NAME: as srv_cmd, but the server starts only once /w/go-NAME
# exists (the test changes the engine's state in between)
named_srv() { echo "while [ ! -e /w/go-$2 ]; do sleep 0.05; done; $(srv_cmd "$1" "$2")"; }
# ctr_rm KIND NAME: gone now (podman's default stop waits 10 s for sh)
ctr_rm() { case $1 in podman) eng podman rm -f -t 0 "$2" ;; *) eng "$1" rm -f "$2" ;; esac >/dev/null 2>&1; }
case_named() { # KIND (docker or podman, its engine up, the geo-block in place)
	local kind=$1 t0 d st cid cpid n0 parent r
	KIND=named-$kind
	t0=$(now)
	d=$(_eng_dir "$kind")
	parent=/$T_PFX-$kind # the engine's own parent: no cgroup line designates it
	local cfg=("designate = container $kind:acme-$kind ports=80")
	case $kind in
	docker) cfg+=("docker_root = $d/docker") ;;
	podman) cfg+=("podman_root = $d/podman/root" "podman_runroot = $d/podman/run") ;;
	esac
	rm -f "$A"
	# the engines' state is root's, 0700: the daemon (user porthole) reads it
	# with CAP_DAC_READ_SEARCH, the drop-in README's Containers gives
	T_EXTRA_CAPS=+dac_read_search daemon_start "${cfg[@]}" || { t_fail "$KIND: daemon start"; return 1; }
	rm -f "$W"/go-*
	# 1. the named container: its window, reached from the blocked country
	: >"$W/named.log"
	touch "$W/go-acme-$kind"
	if ! ctr "$kind" "acme-$kind" "$parent" -p "$H:80:80" "$ENG_IMAGE" /bin/sh -c "$(named_srv named.log "acme-$kind")" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$KIND: run acme-$kind: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid "$kind" "acme-$kind")
	until_ok 200 c_listens "$cpid" || { t_fail "$KIND: acme-$kind did not listen"; return 1; }
	if until_ok 50 cwin_some; then
		t_pass "$KIND: the container the engine's state names acme-$kind (cgroup parent $parent, in no cgroup line) got a window ($(since "$t0") s)"
	else
		t_fail "$KIND: no window for acme-$kind: $(grep -i 'container' "$T_DLOG" | tail -2 | cut -c1-300 | tr '\n' '|')"
	fi
	r=$(get inet "$H" 80 /inet-named 4)
	until_ok 20 logged "$W/named.log" "$INET" /inet-named
	t_check "$KIND: the blocked country reaches acme-$kind through $H:80 during its window ($r; its server logged $INET's GET)" \
		logged "$W/named.log" "$INET" /inet-named
	ctr_rm "$kind" "acme-$kind"
	until_ok 50 cwin_is 0
	# 2. another name, same parent and publication: nothing
	: >"$W/impostor.log"
	touch "$W/go-impostor-$kind"
	if ! ctr "$kind" "impostor-$kind" "$parent" -p "$H:80:80" "$ENG_IMAGE" /bin/sh -c "$(named_srv impostor.log "impostor-$kind")" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$KIND: run impostor-$kind: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid "$kind" "impostor-$kind")
	until_ok 200 c_listens "$cpid" || { t_fail "$KIND: impostor-$kind did not listen"; return 1; }
	until_ok 15 cwin_some
	t_eq "$KIND: a container named impostor-$kind (same parent, same -p $H:80:80): no window" 0 "$(cwin_elements)"
	t_eq "$KIND: ... the blocked country to $H:80 dropped" dropped "$(probe inet "$H" 80 1)"
	t_eq "$KIND: ... and impostor-$kind logged nothing of it" 0 "$(peer_lines "$W/impostor.log" "$INET")"
	ctr_rm "$kind" "impostor-$kind"
	# 3. the named container, its state made group-writable before it listens
	: >"$W/named.log"
	rm -f "$W/go-acme-$kind" # (its server waits for it again)
	if ! cid=$(ctr "$kind" "acme-$kind" "$parent" -p "$H:80:80" "$ENG_IMAGE" /bin/sh -c "$(named_srv named.log "acme-$kind")" 2>"$T_TMP/run.err"); then
		t_fail "$KIND: run acme-$kind again: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	# (Podman's c/storage rewrites containers.json, mode 0600, whenever a
	# container's cleanup runs: its directory, a component of the path, is
	# made group-writable instead)
	case $kind in
	docker) st=$d/docker/containers/$cid/config.v2.json ;;
	podman) st=$d/podman/root/overlay-containers ;;
	esac
	chmod g+w "$st" || { t_fail "$KIND: chmod g+w $st"; return 1; }
	n0=$(grep -c 'writable by group or others' "$T_DLOG")
	touch "$W/go-acme-$kind"
	cpid=$(eng_pid "$kind" "acme-$kind")
	until_ok 200 c_listens "$cpid" || { t_fail "$KIND: acme-$kind did not listen"; return 1; }
	until_ok 50 eval '[ "$(grep -c "writable by group or others" "$T_DLOG")" -gt "$n0" ]'
	if [ "$(grep -c 'writable by group or others' "$T_DLOG")" -gt "$n0" ] && grep 'writable by group or others' "$T_DLOG" | tail -1 | grep -qF "$st"; then
		t_pass "$KIND: its state file group-writable: refused, said: $(grep 'writable by group or others' "$T_DLOG" | tail -1 | sed 's/.*container: //' | cut -c1-260)"
	else
		t_fail "$KIND: a group-writable $st: no log line naming it: $(grep -i container "$T_DLOG" | tail -2 | cut -c1-300 | tr '\n' '|')"
	fi
	t_eq "$KIND: ... no window" 0 "$(cwin_elements)"
	t_eq "$KIND: ... the blocked country to $H:80 dropped, acme-$kind logged nothing of it" "dropped 0" \
		"$(probe inet "$H" 80 1) $(peer_lines "$W/named.log" "$INET")"
	chmod g-w "$st"
	# 4. a cgroup named after the named container's id: the impostor's
	# server moved, before it listens, into a child cgroup of its own
	# container's named like acme's (what a container that may write its
	# cgroup tree could do); acme runs (its state: running, its pid), so only
	# the pid check (Docker's State.Pid, Podman's conmon pidfile) tells them apart
	local acid icg fake leaf
	acid=$cid
	: >"$W/impostor.log"
	rm -f "$W/go-impostor-$kind"
	if ! cid=$(ctr "$kind" "impostor-$kind" "$parent" -p "$H:8082:80" "$ENG_IMAGE" /bin/sh -c "$(named_srv impostor.log "impostor-$kind")" 2>"$T_TMP/run.err"); then
		t_fail "$KIND: run impostor-$kind (for the id look-alike): $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid "$kind" "impostor-$kind")
	icg=$(sed -n 's/^0:://p' "/proc/$cpid/cgroup")
	leaf=$acid
	[ "$kind" = podman ] && leaf=libpod-$acid
	fake=$T_CG2$icg/$leaf
	if mkdir "$fake" && echo "$cpid" >"$fake/cgroup.procs"; then
		n0=$(grep -c "not the listener's" "$T_DLOG")
		touch "$W/go-impostor-$kind"
		until_ok 200 c_listens "$cpid" || t_fail "$KIND: impostor-$kind did not listen in $icg/$leaf"
		until_ok 50 eval '[ "$(grep -c "not the listener'"'"'s" "$T_DLOG")" -gt "$n0" ]'
		t_check "$KIND: impostor-$kind listening in a cgroup $icg/${leaf:0:20}... (acme-$kind's id as its leaf): refused, said: $(grep "not the listener's" "$T_DLOG" | tail -1 | sed 's/.*(line [0-9]*): //' | cut -c1-160)" \
			eval '[ "$(grep -c "not the listener'"'"'s" "$T_DLOG")" -gt "$n0" ]'
		t_eq "$KIND: ... no window" 0 "$(cwin_elements)"
		r=$(get inet "$H" 8082 /inet-lookalike 1)
		t_eq "$KIND: ... the blocked country to its $H:8082 dropped, it logged nothing of it" "connect-timeout 0" \
			"$r $(peer_lines "$W/impostor.log" "$INET")"
	else
		t_fail "$KIND: a child cgroup $fake for the look-alike"
	fi
	ctr_rm "$kind" "impostor-$kind"
	rmdir "$fake" "$T_CG2$icg" 2>/dev/null
	ctr_rm "$kind" "acme-$kind"
	until_ok 30 cwin_is 0
	daemon_stop
	t_eq "$KIND: portholed exited 0 on SIGTERM" 0 $?
	rules_same "after the named windows and the daemon" "$BASE"
	t_log "$KIND: $(since "$t0") s"
}

# the prerouting case, on the docker case's engine (still up), and
# podman-prerouting, on the podman case's (its FORWARD block moved)
pairs_in_geopre() { in_host nft list chain inet geopre prerouting 2>/dev/null | grep -c 'comment "porthole cw '; }
case_prerouting() { # KIND (docker or podman, its engine up, the geo-block of engine_up in place)
	local kind=$1 P t0 cpid out d=$T_TMP/probes
	KIND=$kind
	P=prerouting
	[ "$kind" = docker ] || P=$kind-prerouting
	t0=$(now)
	in_host iptables-nft -D "$(geo_chain "$kind")" -s "$LAB_INET_V4/24" -p tcp -m tcp --dport 80 -j DROP ||
		{ t_fail "$P: the $(geo_chain "$kind") block removed"; return 1; }
	# (the blocked country's /25: the engines' bridges, 192.0.2.128/26 and
	# .192/26, are the containers' own, whose connections to pebble must leave)
	in_host nft -f - <<NFT || { t_fail "$P: the mangle-priority block"; return 1; }
table inet geopre {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ip saddr $LAB_INET_V4/25 ct state new drop
	}
}
NFT
	BASE=$(lab_rules)
	t_eq "$P: without porthole the blocked country to other's $H:8080 is dropped (before DNAT)" dropped "$(probe inet "$H" 8080 1)"
	daemon_up || return 1
	out=$(ph_check 2>&1)
	if grep -E '^OK ' <<<"$out" | grep -E 'geopre' | grep -q 'before DNAT: while a container window is open'; then
		t_pass "$P: porthole check says what it does there: $(grep -E '^OK .*containers: chain inet geopre' <<<"$out" | head -1 | tr -s ' ' | cut -c1-240)"
	else
		t_fail "$P: porthole check names no OK line for containers on the chain inet geopre prerouting: $(grep -E 'geopre' <<<"$out" | tr -s ' ' | cut -c1-240)"
	fi
	: >"$W/web.log"
	ctr "$kind" web "$PARENT" -p "$H:80:80" "$ENG_IMAGE" /bin/sh -c "$(srv_cmd web.log web)" >/dev/null 2>"$T_TMP/run.err" ||
		{ t_fail "$P: run web: $(tail -c 300 "$T_TMP/run.err")"; return 1; }
	cpid=$(eng_pid "$kind" web)
	until_ok 200 c_listens "$cpid" || { t_fail "$P: web did not listen"; return 1; }
	until_ok 50 cwin_some || t_fail "$P: no container window for web: $(grep -i container "$T_DLOG" | tail -2 | tr '\n' '|')"
	until_ok 20 eval '[ "$(pairs_in_geopre)" = 2 ]'
	t_eq "$P: the pair sits before the drop in inet geopre prerouting" 2 "$(pairs_in_geopre)"
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	gets "$d" <<EOF
inet80 inet $H 80 /inet-80 4
inet8080 inet $H 8080 /inet-8080 2
inetH2 inet $H2 80 /inet-h2 2
allow80 allow $H 80 /allow-80 4
allow8080 allow $H 8080 /allow-8080 4
allowH2 allow $H2 80 /allow-h2 4
EOF
	until_ok 20 logged "$W/web.log" "$ALLOW" /allow-80
	t_check "$P: the blocked country reaches web through $H:80 during its window ($(cat "$d/inet80"))" \
		logged "$W/web.log" "$INET" /inet-80
	t_eq "$P: ... once: web heard nothing else of the blocked country" 1 "$(grep -c "^request $INET " "$W/web.log")"
	t_eq "$P: ... nor did other ($(cat "$d/inet8080")) or the host process on $H2:80 ($(cat "$d/inetH2"))" 0 \
		"$(($(peer_lines "$W/other.log" "$INET") + $(peer_lines "$T_TMP/host.log" "$INET")))"
	t_check "$P: the allowed country reaches web, other and the host process" \
		eval 'logged "$W/web.log" "$ALLOW" /allow-80 && logged "$W/other.log" "$ALLOW" /allow-8080 && logged "$T_TMP/host.log" "$ALLOW" /allow-h2'
	ctr_rm "$kind" web
	until_ok 30 cwin_is 0
	until_ok 20 eval '[ "$(pairs_in_geopre)" = 0 ]'
	t_eq "$P: the pair goes with the window" 0 "$(pairs_in_geopre)"
	CLIENT_TAG=-pre clients "$kind"
	rules_same "($P block) after the last window (the pair gone with it)" "$BASE"
	daemon_stop
	t_eq "$P: portholed exited 0 on SIGTERM" 0 $?
	rules_same "($P block) after the daemon" "$BASE"
	t_log "$P: $(since "$t0") s"
}

# ---- ufw with ufw-docker's bridging rules, on the docker case's engine -----------
# The block ufw-docker's README (github.com/chaifeng/ufw-docker, README.md,
# "Solving UFW and Docker issues", as of commit 020a869) tells admins to
# append to /etc/ufw/after.rules, verbatim; `ufw route allow` rules then
# decide what reaches published ports (ufw-user-forward). Its `:DOCKER-USER`
# line makes every `ufw reload` (iptables-restore -n) flush DOCKER-USER.
UFW_DOCKER_BLOCK='# BEGIN UFW AND DOCKER
*filter
:ufw-user-forward - [0:0]
:ufw-docker-logging-deny - [0:0]
:DOCKER-USER - [0:0]
-A DOCKER-USER -j ufw-user-forward

-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-A DOCKER-USER -m conntrack --ctstate INVALID -j DROP
-A DOCKER-USER -i docker0 -o docker0 -j ACCEPT

-A DOCKER-USER -j RETURN -s 10.0.0.0/8
-A DOCKER-USER -j RETURN -s 172.16.0.0/12
-A DOCKER-USER -j RETURN -s 192.168.0.0/16

-A DOCKER-USER -j ufw-docker-logging-deny -m conntrack --ctstate NEW -d 10.0.0.0/8
-A DOCKER-USER -j ufw-docker-logging-deny -m conntrack --ctstate NEW -d 172.16.0.0/12
-A DOCKER-USER -j ufw-docker-logging-deny -m conntrack --ctstate NEW -d 192.168.0.0/16

-A DOCKER-USER -j RETURN

-A ufw-docker-logging-deny -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW DOCKER BLOCK] "
-A ufw-docker-logging-deny -j DROP

COMMIT
# END UFW AND DOCKER'

# ufw_docker: what an admin does for ufw-docker, before ufw is enabled
# (tests/lab/fw.sh's FW_UFW_PREPARE): the block into the (private)
# after.rules; published ports whose container port is 80 from the allowed
# country only, as ufw-docker's README says (`ufw route allow`)
ufw_docker() {
	# (the block names the private ranges Docker's bridges are in; the
	# lab's docker0 is in a documentation range, ENG_DOCKER_BIP, which
	# takes 172.16.0.0/12's place)
	printf '\n%s\n' "${UFW_DOCKER_BLOCK//172.16.0.0\/12/${ENG_DOCKER_BIP%/*}/${ENG_DOCKER_BIP#*/}}" |
		fw_exec sh -c 'cat >>/etc/ufw/after.rules' &&
		fw_exec ufw route allow proto tcp from "$FW_ALLOW_V4" to any port 80 >/dev/null
}

# the machine's own ufw state (never written: fw.sh's private copies)
etc_ufw() { cat /etc/ufw/*.rules /etc/ufw/ufw.conf /etc/default/ufw 2>/dev/null | md5sum; }
ETC_UFW0=$(etc_ufw)
UFW=0

# restored: how often the daemon said it put its host rule back
restored() { grep -c "porthole's rule restored" "$T_DLOG" 2>/dev/null; }
# ufw_reload: during web's window, `ufw reload` flushes DOCKER-USER and
# fills it again; the daemon puts its rule back at the top, and the window
# stays (called by web_window before its probes, which judge what the
# window admits after the reload)
ufw_reload() {
	local t1 out rc n0
	n0=$(restored)
	t1=$(now)
	out=$(fw_exec ufw reload 2>&1)
	rc=$?
	t_eq "ufw: ufw reload during web's window exits 0 (${out//$'\n'/ })" 0 $rc
	# (the daemon answers within milliseconds, while ufw still reloads:
	# its log says when it had to put its rule back)
	until_ok 50 eval '[ "$(restored)" -gt "$n0" ]'
	t_check "ufw: the reload flushed DOCKER-USER and the daemon restored its rule (its log: $n0 -> $(restored) 'porthole's rule restored')" \
		eval '[ "$(restored)" -gt "$n0" ]'
	if until_ok 50 eval '[ "$(rule_at ufw porthole)" = 1 ]'; then
		t_pass "ufw: porthole's rule is back at the top of DOCKER-USER ($(since "$t1") s after the reload began)"
	else
		t_fail "ufw: porthole's rule is rule $(rule_at ufw porthole) of DOCKER-USER 5 s after ufw reload: $(in_host iptables-nft -S DOCKER-USER 2>&1 | head -3 | tr '\n' '|')"
	fi
	t_check "ufw: web's window outlived the reload ($(cwin_elements) cwin element(s); web_window's probes follow)" cwin_some
}

# case_ufw: the host's firewall is ufw (default deny incoming, port 80 from
# the allowed country only, route rules for published ports the same) with
# ufw-docker's block, in the lab host's netns and a private mount namespace
# (tests/lab/fw.sh); the docker engine, other and the host process stay
case_ufw() {
	KIND=ufw
	local t0 out rc
	t0=$(now)
	# ufw is the lab host's whole firewall now: the lab's own geo-block
	# (inet filter) and the prerouting case's go
	in_host nft delete table inet geopre 2>/dev/null
	in_host nft delete table inet filter 2>/dev/null
	FW_UFW_PREPARE=ufw_docker fw_start ufw "$LAB_NS_HOST" >"$T_TMP/fw.out" 2>&1
	rc=$?
	case $rc in
	0) UFW=1 ;;
	77) t_skip "ufw: $(sed 's/^SKIP //' "$T_TMP/fw.out")"; return 0 ;;
	*) t_fail "ufw: fw_start: $(tr '\n' ' ' <"$T_TMP/fw.out")"; return 1 ;;
	esac
	# (ufw's enable made its chains in one order; a reload deletes and makes
	# again all but those still referenced (ufw-user-forward: DOCKER-USER's
	# jump), at the end of nft's listing: from the first reload on every
	# reload gives the same ruleset, the state BASE is taken in and that the
	# reload during the window must keep)
	out=$(fw_exec ufw reload 2>&1) || { t_fail "ufw: ufw reload: $out"; return 1; }
	t_log "ufw: active with ufw-docker's block ($(since "$t0") s)"
	t_check "ufw: DOCKER-USER is ufw-docker's (its first rule jumps to ufw-user-forward)" \
		eval '[ "$(rule_at ufw ufw-user-forward)" = 1 ]'
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	# the fail-first proof of this lab: without a window ufw holds
	gets "$T_TMP/probes0" <<EOF
inet8080 inet $H 8080 /inet-8080 1
inetH2 inet $H2 80 /inet-h2 1
allow8080 allow $H 8080 /allow-8080 4
allowH2 allow $H2 80 /allow-h2 4
EOF
	t_eq "ufw: before the daemon, the blocked country to other's $H:8080 and the host process's $H2:80: no answer, nothing logged" \
		"connect-timeout connect-timeout 0" \
		"$(cat "$T_TMP/probes0/inet8080") $(cat "$T_TMP/probes0/inetH2") $(($(peer_lines "$W/other.log" "$INET") + $(peer_lines "$T_TMP/host.log" "$INET")))"
	until_ok 20 logged "$T_TMP/host.log" "$ALLOW" /allow-h2
	t_check "ufw: ... the allowed country reaches both (ufw route allow, ufw allow)" \
		eval 'logged "$W/other.log" "$ALLOW" /allow-8080 && logged "$T_TMP/host.log" "$ALLOW" /allow-h2'
	BASE=$(lab_rules)
	root_same "with ufw and the engine running"
	daemon_up || return 1
	web_window ufw
	# certbot as a timer's unit runs it: the docker CLI in the unit's cgroup
	CLI_CG_REL=/$T_PFX-certbot.service
	CLI_CG=$T_CG2$CLI_CG_REL
	mkdir -p "$CLI_CG" && T_CGROUPS+=("$CLI_CG")
	rm -f "$T_TMP/cli-in-unit"
	clients ufw
	CLI_CG=
	t_check "ufw: certbot's docker CLI ran in a unit's cgroup ($CLI_CG_REL), its container's window names the parent's cgroup ($(grep '"event":"window-open"' "$A" | tail -1 | grep -o '"cgroup":"[^"]*"' | cut -c1-60)...)" \
		eval '[ -e "$T_TMP/cli-in-unit" ] && grep "\"event\":\"window-open\"" "$A" | tail -1 | grep -q "\"cgroup\":\"$PARENT/[0-9a-f]*\".*\"cmdline\":\"[^\"]*certbot"'
	read -r -a nrec <<<"$(audit_pairs)"
	t_check "ufw: the audit log has window-open and window-close of kind container for each window (${nrec[0]} open, ${nrec[1]} close)" \
		eval '[ "${nrec[0]}" -ge 1 ] && [ "${nrec[0]}" = "${nrec[1]}" ]'
	rules_same "(ufw) after the last window (porthole's host rule gone with it)" "$BASE"
	daemon_stop
	t_eq "ufw: portholed exited 0 on SIGTERM" 0 $?
	rules_same "(ufw, reloaded during a window) after the daemon" "$BASE"
	fw_stop
	UFW=0
	t_eq "ufw: the machine's /etc/ufw and /etc/default/ufw unchanged" "$ETC_UFW0" "$(etc_ufw)"
	t_log "ufw: $(since "$t0") s"
}

parent_cgroups
case " $CT_CASES " in *" docker "* | *" named "* | *" prerouting "* | *" ufw "* | *" podman "* | *" podman-prerouting "*) lab_start || { t_summary; exit 1; } ;; esac
case " $CT_CASES " in *" docker "*) case_engine docker lego ;; esac
case " $CT_CASES " in *" named "*)
	KIND=docker
	daemon_stop >/dev/null 2>&1
	if [ -n "$(_eng_tini docker)" ] || engine_up docker; then
		case_named docker
	fi ;;
esac
case " $CT_CASES " in *" prerouting "*)
	KIND=docker
	daemon_stop >/dev/null 2>&1
	if [ -n "$(_eng_tini docker)" ] || engine_up docker; then
		case_prerouting docker
	fi ;;
esac
case " $CT_CASES " in *" ufw "*)
	KIND=ufw
	daemon_stop >/dev/null 2>&1
	if [ -n "$(_eng_tini docker)" ] || engine_up docker; then
		case_ufw
	fi ;;
esac
if [ -n "$(_eng_tini docker)" ]; then
	KIND=docker
	daemon_stop >/dev/null 2>&1
	engine_down docker
fi
case " $CT_CASES " in *" podman "* | *" named "* | *" podman-prerouting "*)
	# a fresh lab: Docker's tables (FORWARD policy drop) would decide podman's packets
	case " $CT_CASES " in *" docker "* | *" prerouting "* | *" ufw "* | *" named "*)
		[ "$UFW" = 1 ] && { fw_stop; UFW=0; }
		lab_stop
		rm -rf "${W:?}"/*
		lab_start || { t_summary; exit 1; } ;;
	esac
	case " $CT_CASES " in *" podman "*) case_engine podman ;; esac
	case " $CT_CASES " in *" named "*)
		KIND=podman
		daemon_stop >/dev/null 2>&1
		if [ -n "$(_eng_tini podman)" ] || engine_up podman; then
			case_named podman
		fi ;;
	esac
	case " $CT_CASES " in *" podman-prerouting "*)
		KIND=podman
		daemon_stop >/dev/null 2>&1
		if [ -n "$(_eng_tini podman)" ] || engine_up podman; then
			case_prerouting podman
		fi ;;
	esac
	[ -n "$(_eng_tini podman)" ] && { KIND=podman; engine_down podman; } ;;
esac
t_summary
