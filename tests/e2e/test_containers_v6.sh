#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/e2e/test_containers_v6.sh — issue 23 over IPv6: a container window
# through a real engine's IPv6 DNAT (tests/lab/engines.sh: the engines run in
# the pebble lab's host netns: tests/lab/lab.sh). portholed:
# `designate = cgroup /$T_PFX-acme published ports=80`.
#
#   podman  podman 4.3 with netavark 1.4, a network of its own made with
#           `podman network create --ipv6 --subnet 2001:db8:c6::/64` (and an
#           IPv4 subnet: pebble's directory is IPv4's); the geo-block (the
#           blocked country 2001:db8:bad::/48, port 80) at the top of ip6
#           filter FORWARD (netavark has no user chain).
#           A container "web" under the designated parent, published
#           -p [H6]:80:80 -p [H6]:8081:80, listens on [::]:80: during its
#           window the blocked country reaches it through [H6]:80 and
#           reaches neither it through [H6]:8081, nor a second container
#           "other" (-p [H6]:8080:80, not designated), nor a host process on
#           [H62]:80, nor web routed to directly at its own address (IPv6
#           container addresses are routable: the Internet's namespace routes
#           the engine's /64 to the host) -- judged by what each server
#           logged; the allowed country reaches all of them. When web's
#           listener closes (the container and its DNAT stay) the window
#           closes: a new probe is dropped. The lab host's ruleset (the
#           engine's rules with it, counters aside) is as before the daemon.
#           Then certbot --standalone in a container under the parent
#           (-p [H6]:80:80) for a name with an AAAA record only gets its
#           certificate: pebble validates from the blocked country's IPv6
#           address (certbot's log), through the window.
#   docker  docker.io 20.10 with `--ipv6 --fixed-cidr-v6 2001:db8:dc::/64
#           --ip6tables --experimental`: DNAT in ip6 nat DOCKER, FORWARD
#           policy drop, no DOCKER-USER in ip6 filter (20.10 makes it for
#           IPv4 only): the geo-block at the top of ip6 filter FORWARD (the
#           test takes DOCKER-USER if one is there); the same checks and
#           certbot.
#   proxy   docker.io 20.10 as it comes (--ipv6, no --ip6tables): no IPv6
#           DNAT, docker-proxy (dockerd's child, in dockerd's cgroup) holds
#           [H6]:80 and relays from the bridge's address. No container line
#           designates that host socket: the blocked country reaches nothing
#           (fail closed), the allowed country reaches web through the proxy
#           (web sees the proxy's address, not the client's).
#
# The direct-route check fails when F1 does not require `ct status dnat`
# (lib/nftcontainer.c; shown by hand: the blocked country's GET to web's own
# address was logged).
#
# Env: E2E_LAB_PREFIX (default phl6$$), CT6_CASES (default "podman docker
# proxy"), E2E_KEEP=DIR.
# PASS/FAIL/SKIP lines, "containers_v6: N passed, ..."; 77 when it cannot run.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$T_ROOT/tests/lab/engines.sh"
t_init containers_v6
t_require_root
for b in iptables-nft ip6tables-nft pebble pebble-challtestsrv openssl curl; do
	command -v "$b" >/dev/null || { echo "SKIP $T_NAME: $b not installed (make deps)"; exit 77; }
done
# the pebble lab's names are the test's (T_PFX: engines.sh, daemon_start, probe)
LAB_PREFIX=${E2E_LAB_PREFIX:-phl6$$}
LAB_STATE=/run/$LAB_PREFIX-lab
T_PFX=$LAB_PREFIX
source "$T_ROOT/tests/lab/lab.sh"
# certbot's standalone server may look its address up: no DNS in the lab
export RES_OPTIONS="timeout:1 attempts:1"
ENG_NETNS=$T_PFX-host
CT6_CASES=${CT6_CASES:-podman docker proxy}
PARENT=/$T_PFX-acme
W=$T_TMP/w
HL=$T_ROOT/tests/adversary/httplog.py
PNET=2001:db8:c6::/64         # podman's network: IPv6, and IPv4 for pebble's directory
PNET4=192.0.2.128/26
DNET=2001:db8:dc::/64         # docker0's IPv6 (--fixed-cidr-v6)
A=$T_TMP/audit.jsonl
WEB_IP=
LAB=0

cleanup() {
	trap - EXIT INT TERM
	[ -n "${E2E_KEEP:-}" ] && { mkdir -p "$E2E_KEEP" && cp -a "$W" "$T_TMP"/*.log "$T_TMP"/eng-* "$E2E_KEEP/" 2>/dev/null; }
	eng_stop docker >/dev/null 2>&1
	eng_stop podman >/dev/null 2>&1
	daemon_stop >/dev/null 2>&1
	[ "$LAB" = 1 ] && lab_down
	t_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root_state() {
	nft list ruleset 2>&1
	ip -o link show 2>/dev/null | grep -oE ': (docker0|podman[0-9]*|veth[^:@]*)'
}
ROOT0=$(root_state)
root_same() {
	if [ "$(root_state)" = "$ROOT0" ]; then
		t_pass "$KIND: the root namespace's ruleset and links unchanged $1"
	else
		t_fail "$KIND: the root namespace changed $1: $(diff <(echo "$ROOT0") <(root_state) | head -8 | tr '\n' '|')"
	fi
}
lab_rules() { in_host nft -s list ruleset 2>/dev/null | awk '/^table (inet|bridge) porthole /{skip=1} !skip{print} skip&&/^}/{skip=0}'; }
rules_same() { # WHAT BASE
	local cur
	until_ok 20 eval '[ "$(lab_rules)" = "$2" ]'
	cur=$(lab_rules)
	if [ "$cur" = "$2" ]; then
		t_pass "$KIND: the lab host's ruleset and the engine's rules as before the daemon, $1"
	else
		t_fail "$KIND: the lab host's ruleset differs $1: $(diff <(echo "$2") <(echo "$cur") | head -10 | tr '\n' '|')"
	fi
}
# cwin6: porthole's IPv6 container-window set (cwin: IPv4)
elements() { # SET
	in_host nft -j list set inet porthole "$1" 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(len(x["set"].get("elem",[])) for x in d if "set" in x))' 2>/dev/null || echo 0
}
cwin6_some() { [ "$(elements cwin6)" -gt 0 ]; }
cwin6_is() { [ "$(elements cwin6)" = "$1" ]; }
get() { in_ns "$T_PFX-$1" "$PY" "$HL" get "$2" "$3" "$4" "${5:-2}"; }
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
peer_lines() { grep -c "^\(accept\|request\) $2 " "$1" 2>/dev/null; }
logged() { grep -q "^request $2 [0-9]* b'GET $3 " "$1" 2>/dev/null; }
c_listens() { nsenter -t "$1" -n ss -Hltn 'sport = :80' 2>/dev/null | grep -q LISTEN; }
srv_cmd() { echo "/usr/bin/python3 /tests/adversary/httplog.py serve /w/$1 $2 80 600 ::; exec sleep 600"; }
# enet KIND: the engine's IPv6 network
enet() { case $1 in podman) echo "$PNET" ;; *) echo "$DNET" ;; esac; }
# net_args KIND: the run options that put a container on the IPv6 network
net_args() { case $1 in podman) echo "--network v6net" ;; docker) echo "" ;; esac; }
# ip6_of KIND NAME: the container's global IPv6 address (from its netns)
ip6_of() {
	nsenter -t "$(eng_pid "$1" "$2")" -n ip -6 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }'
}
rule_at6() { # CHAIN WORD
	in_host ip6tables-nft -S "$1" 2>/dev/null | grep '^-A ' | grep -n -m1 -- "$2" | cut -d: -f1 | grep . || echo 99
}

engine_up() {
	local kind=$1 t1 out
	t1=$(now)
	KIND=$kind
	case $kind in
	docker) ENG_DOCKER_ARGS="--ipv6 --fixed-cidr-v6 $DNET --ip6tables --experimental" ;;
	proxy) kind=docker ENG_DOCKER_ARGS="--ipv6 --fixed-cidr-v6 $DNET" ;; # (20.10's default: no ip6tables)
	esac
	# (a case before on the same engine left its files: a start of its own)
	[ -z "$(_eng_tini "$kind")" ] && rm -rf "$(_eng_dir "$kind")"
	eng_up "$kind" || return
	out=$(eng_image "$kind" 2>&1) || { t_fail "$kind: import of the offline image: $(tail -c 300 <<<"$out")"; return 1; }
	if [ "$kind" = podman ]; then
		out=$(eng podman network create --ipv6 --subnet "$PNET" --subnet "$PNET4" v6net 2>&1) ||
			{ t_fail "podman: network create --ipv6 --subnet $PNET --subnet $PNET4: $out"; return 1; }
	fi
	t_log "$kind: engine up, image imported ($(since "$t1") s)"
}

# geo_block KIND: the admin's block of the blocked country, IPv6, port 80
GEO_CHAIN=FORWARD
geo_block() {
	GEO_CHAIN=FORWARD
	in_host ip6tables-nft -S DOCKER-USER >/dev/null 2>&1 && GEO_CHAIN=DOCKER-USER
	in_host ip6tables-nft -I "$GEO_CHAIN" 1 -s "$INET6/48" -p tcp -m tcp --dport 80 -j DROP
}

# servers KIND: other (undesignated, -p [H6]:8080:80) and a host process
# on [H62]:80; sets BASE (the lab's rules before the daemon)
servers() {
	local kind=$1
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	# shellcheck disable=SC2046
	if ! eng_run "$kind" --name other $(net_args "$kind") -p "[$H6]:8080:80" -v "$W:/w" -v "$T_ROOT/tests:/tests:ro" \
		"$ENG_IMAGE" /bin/sh -c "$(srv_cmd other.log other)" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$kind: run other: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	bg_host /dev/null "$T_TMP/host.err" "$PY" "$HL" serve "$T_TMP/host.log" host 80 600 "$H62"
	HOST_PID=$BG_PID
	until_ok 200 eval '[ "$(probe allow "$H6" 8080 1)" = open ] && [ "$(probe allow "$H62" 80 1)" = open ]' ||
		{ t_fail "$kind: other ([$H6]:8080) and the host process ([$H62]:80) answer the allowed country"; return 1; }
	: >"$W/other.log"
	: >"$T_TMP/host.log"
	t_eq "$kind: before the daemon, the blocked country to other's [$H6]:8080: dropped (geo-block in ip6 filter $GEO_CHAIN)" \
		dropped "$(probe inet "$H6" 8080 1)"
	BASE=$(lab_rules)
}

web_window() {
	local kind=$1 t1 cpid spid d=$T_TMP/probes n
	t1=$(now)
	: >"$W/web.log"
	# shellcheck disable=SC2046
	if ! eng "$kind" run -d --name web $(net_args "$kind") --cgroup-parent "$PARENT" -v /usr:/usr:ro -v "$W:/w" \
		-v "$T_ROOT/tests:/tests:ro" -p "[$H6]:80:80" -p "[$H6]:8081:80" "$ENG_IMAGE" \
		/bin/sh -c "$(srv_cmd web.log web)" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$kind: run web under $PARENT: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid "$kind" web)
	until_ok 200 c_listens "$cpid" || { t_fail "$kind: web did not listen on :80 in its netns"; return 1; }
	WEB_IP=$(ip6_of "$kind" web)
	if until_ok 50 cwin6_some; then
		t_pass "$kind: web's [::]:80 listener ($WEB_IP, cgroup below $PARENT) opened an IPv6 window: $(elements cwin6) cwin6 element(s), $(elements cwin) cwin ($(since "$t1") s)"
	else
		t_fail "$kind: no IPv6 container window for web's listener ($(elements cwin6) cwin6, $(elements cwin) cwin): $(grep -i container "$T_DLOG" | tail -2 | tr '\n' '|')"
	fi
	t_check "$kind: porthole status lists it: container ... through DNAT to [$WEB_IP]:80" \
		eval 'ph_host status 2>&1 | grep -q "container .*(cgroup $PARENT/[^)]*) through DNAT to \[$WEB_IP\]:80"'
	t_check "$kind: porthole's host rule above the geo-block in ip6 filter $GEO_CHAIN (rule $(rule_at6 "$GEO_CHAIN" porthole) < $(rule_at6 "$GEO_CHAIN" DROP))" \
		eval '[ "$(rule_at6 "$GEO_CHAIN" porthole)" -lt "$(rule_at6 "$GEO_CHAIN" DROP)" ]'
	gets "$d" <<EOF2
inet80 inet $H6 80 /inet-80 4
inet8081 inet $H6 8081 /inet-8081 2
inet8080 inet $H6 8080 /inet-8080 2
inetH2 inet $H62 80 /inet-h2 2
inetdirect inet $WEB_IP 80 /inet-direct 2
allow80 allow $H6 80 /allow-80 4
allow8081 allow $H6 8081 /allow-8081 4
allow8080 allow $H6 8080 /allow-8080 4
allowH2 allow $H62 80 /allow-h2 4
allowdirect allow $WEB_IP 80 /allow-direct 4
EOF2
	until_ok 20 logged "$W/web.log" "$INET6" /inet-80
	if logged "$W/web.log" "$INET6" /inet-80; then
		t_pass "$kind: the blocked country ($INET6) reaches web through [$H6]:80 during the window (web logged it: $(cat "$d/inet80"))"
	else
		t_fail "$kind: the blocked country to [$H6]:80 during web's window: $(cat "$d/inet80"); web logged nothing of $INET6"
	fi
	until_ok 20 logged "$W/web.log" "$ALLOW6" /allow-8081
	t_check "$kind: the allowed country reaches web (:80 and :8081), other (:8080) and the host process ([$H62]:80)" \
		eval 'logged "$W/web.log" "$ALLOW6" /allow-80 && logged "$W/web.log" "$ALLOW6" /allow-8081 &&
			logged "$W/other.log" "$ALLOW6" /allow-8080 && logged "$T_TMP/host.log" "$ALLOW6" /allow-h2'
	n=$(grep -c "^request $INET6 .*inet-8081" "$W/web.log")
	t_eq "$kind: ... but not web through another published port [$H6]:8081 ($(cat "$d/inet8081"); web's log)" 0 "$n"
	t_eq "$kind: ... nor the second container other on [$H6]:8080 ($(cat "$d/inet8080"); other's log)" 0 "$(peer_lines "$W/other.log" "$INET6")"
	t_eq "$kind: ... nor a host process on [$H62]:80 ($(cat "$d/inetH2"); its log)" 0 "$(peer_lines "$T_TMP/host.log" "$INET6")"
	t_eq "$kind: ... nor web routed to directly at [$WEB_IP]:80 ($(cat "$d/inetdirect"); web's log; the allowed country did: $(cat "$d/allowdirect"))" \
		"0 1" "$(grep -c "^request $INET6 .*inet-direct" "$W/web.log") $(grep -c "^request $ALLOW6 .*allow-direct" "$W/web.log")"
	t_eq "$kind: web heard the blocked country once (the one admitted GET)" 1 "$(grep -c "^request $INET6 " "$W/web.log")"
	# web's server exits; the container and its DNAT stay
	spid=$(ps -o pid= --ppid "$cpid" | head -1 | tr -d ' ')
	[ -n "$spid" ] && kill -TERM "$spid"
	until_ok 50 eval '! c_listens "$cpid"'
	if until_ok 50 cwin6_is 0; then
		t_pass "$kind: web's listener closed (the container runs on): its window closed"
	else
		t_fail "$kind: web's listener closed, $(elements cwin6) cwin6 element(s) left"
	fi
	t_eq "$kind: a new probe from the blocked country to [$H6]:80 is dropped (the DNAT to web's netns still there)" \
		dropped "$(probe inet "$H6" 80 1)"
	case $kind in podman) eng podman rm -f -t 0 web ;; *) eng "$kind" rm -f web ;; esac >/dev/null 2>&1
	return 0
}

case_engine() { # KIND
	KIND=$1
	local t0 rc
	t0=$(now)
	engine_up "$KIND"
	rc=$?
	[ $rc = 2 ] && return 0
	[ $rc = 0 ] || return 1
	geo_block "$KIND" || { t_fail "$KIND: the geo-block in ip6 filter $GEO_CHAIN"; return 1; }
	servers "$KIND" || return 1
	explain "$KIND"
	# IPv6 containers' addresses are routable: the Internet routes the
	# engine's network to the host (what a provider's routed /64 does)
	in_inet ip -6 route replace "$(enet "$KIND")" via "$H6" dev "$LAB_IF_INET_HOST" src "$INET6" ||
		{ t_fail "$KIND: a route to $(enet "$KIND") via the host in the Internet's namespace"; return 1; }
	rm -f "$A"
	daemon_start "designate = cgroup $PARENT published ports=80" || { t_fail "$KIND: daemon start"; return 1; }
	# (its columns squeezed)
	in_host env PORTHOLE_SOCKET="$T_SOCK" "$PORTHOLE_BIN/porthole" check --config "$T_CONF" 2>&1 | tr -s ' \t' '  ' >"$T_TMP/check.out"
	t_check "$KIND: porthole check: the IPv6 geo-block's chain gets porthole's rule, nothing FAILs ($(grep '^OK chain ip6 filter FORWARD' "$T_TMP/check.out" | cut -c1-200))" \
		eval 'grep -q "^OK chain ip6 filter FORWARD .*porthole inserts its one rule at the top for container windows" "$T_TMP/check.out" &&
			! grep -q "^FAIL" "$T_TMP/check.out"'
	web_window "$KIND"
	certbot_v6 "$KIND"
	t_check "$KIND: the audit log has a container window-open naming the IPv6 target $WEB_IP and its listener-closed window-close" \
		eval 'grep "\"event\":\"window-open\"" "$A" | grep "\"kind\":\"container\"" | grep "\"addr\":\"$WEB_IP\"" | grep -q "\"family\":\"ipv6\"" &&
			grep "\"event\":\"window-close\"" "$A" | grep "\"kind\":\"container\"" | grep -q listener-closed'
	rules_same "after the window (porthole's host rule gone with it)" "$BASE"
	daemon_stop
	t_eq "$KIND: portholed exited 0 on SIGTERM" 0 $?
	rules_same "after the daemon" "$BASE"
	[ -n "${HOST_PID:-}" ] && { kill -TERM "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null; HOST_PID=; }
	eng_stop "$KIND" >/dev/null 2>&1
	t_eq "$KIND: nothing left of the engine" "" "$(eng_leftovers "$KIND")"
	root_same "after the engine"
	t_log "$KIND: $(since "$t0") s"
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

# certbot KIND: certbot --standalone in a container under the parent,
# published -p [H6]:80:80, for a name with an AAAA record only: pebble
# validates over IPv6 from the blocked country
certbot_v6() {
	local kind=$1 name t1 rc
	name=ctr6-$kind.porthole.test
	lab_add_name "$name" v6 "$H" "$H6" >/dev/null || { t_fail "$kind: DNS name $name (AAAA $H6)"; return 1; }
	t1=$(now)
	# shellcheck disable=SC2046
	eng "$kind" run --rm --name certbot $(net_args "$kind") --cgroup-parent "$PARENT" -p "[$H6]:80:80" \
		-v /usr:/usr:ro -v "$W:/w" -e REQUESTS_CA_BUNDLE=/w/ca.pem "$ENG_IMAGE" \
		/usr/bin/certbot certonly --standalone --http-01-port 80 -d "$name" \
		--server "$LAB_ACME_DIR" --agree-tos --register-unsafely-without-email --non-interactive \
		--config-dir /w/certbot/config --work-dir /w/certbot/work --logs-dir /w/certbot/logs >"$W/certbot.out" 2>&1
	rc=$?
	if [ $rc = 0 ] && cert_ok "$W/certbot/config/live/$name/cert.pem" "$W/certbot/config/live/$name/chain.pem" "$name"; then
		t_pass "$kind: certbot --standalone in a container (-p [$H6]:80:80) got its certificate, pebble validating over IPv6 from the blocked country ($(since "$t1") s)"
	else
		t_fail "$kind: certbot in a container over IPv6: exit $rc ($(since "$t1") s): $(grep -E 'Detail|Error|error' "$W/certbot.out" | head -3 | cut -c1-200 | tr '\n' '|')"
	fi
	t_check "$kind: ... pebble's validation came from the blocked country's IPv6 address through the window (certbot's log: $(grep -h -o "$INET6.*acme-challenge[^ ]*" "$W"/certbot/logs/*.log 2>/dev/null | head -1 | cut -c1-100); the audit log: certbot's container window)" \
		eval 'grep -q "$INET6.*GET /.well-known/acme-challenge/" "$W"/certbot/logs/*.log &&
			grep "\"event\":\"window-open\"" "$A" | grep "\"kind\":\"container\"" | grep -q "certbot"'
	until_ok 30 cwin6_is 0
	t_eq "$kind: certbot's container gone, no container window left" 0 "$(elements cwin6)"
	[ -n "${E2E_KEEP:-}" ] && mkdir -p "$E2E_KEEP" && cp -a "$W/certbot" "$E2E_KEEP/certbot-$kind"
	rm -rf "${W:?}/certbot"
}

# explain KIND: what the engine made of IPv6 (logged: the README's facts)
explain() {
	local kind=$1
	t_log "$kind: ip6 filter chains: $(in_host ip6tables-nft -S 2>/dev/null | grep '^-N' | cut -d' ' -f2 | tr '\n' ' ')"
	t_log "$kind: ip6 nat chains: $(in_host ip6tables-nft -t nat -S 2>/dev/null | grep '^-N' | cut -d' ' -f2 | tr '\n' ' ')"
}

# case_proxy: Docker 20.10 as it comes (--ipv6 without the experimental
# --ip6tables): no IPv6 DNAT, docker-proxy (dockerd's child, in dockerd's
# cgroup) holds the published address and relays from docker0's address.
# The Internet's connection ends at a host socket that no container line
# designates: no window, the blocked country reaches nothing (fail closed).
case_proxy() {
	KIND=proxy
	local t0 rc cpid d=$T_TMP/probes pp
	t0=$(now)
	engine_up proxy
	rc=$?
	[ $rc = 2 ] && return 0
	[ $rc = 0 ] || return 1
	KIND=proxy
	rm -f "$A"
	daemon_start "designate = cgroup $PARENT published ports=80" || { t_fail "$KIND: daemon start"; return 1; }
	: >"$W/web.log"
	if ! eng docker run -d --name web --cgroup-parent "$PARENT" -v /usr:/usr:ro -v "$W:/w" \
		-v "$T_ROOT/tests:/tests:ro" -p "[$H6]:80:80" "$ENG_IMAGE" \
		/bin/sh -c "/usr/bin/python3 /tests/adversary/httplog.py serve /w/web.log web 80 600 :: 0.0.0.0; exec sleep 600" >/dev/null 2>"$T_TMP/run.err"; then
		t_fail "$KIND: run web under $PARENT: $(tail -c 300 "$T_TMP/run.err")"
		return 1
	fi
	cpid=$(eng_pid docker web)
	until_ok 200 c_listens "$cpid" || { t_fail "$KIND: web did not listen on :80 in its netns"; return 1; }
	explain proxy
	pp=$(in_host ss -Hltnp "sport = :80" | grep -o 'docker-proxy",pid=[0-9]*' | grep -o '[0-9]*$' | head -1)
	t_check "$KIND: no IPv6 DNAT (ip6 nat has no DOCKER chain); docker-proxy (pid ${pp:-none}, cgroup $(sed -n 's/^0:://p' "/proc/${pp:-0}/cgroup" 2>/dev/null)) holds [$H6]:80" \
		eval '[ -n "$pp" ] && ! in_host ip6tables-nft -t nat -S DOCKER >/dev/null 2>&1'
	until_ok 10 cwin6_some
	t_log "$KIND: cwin6 $(elements cwin6), cwin $(elements cwin) element(s) for web's listeners; status: $(ph_host status 2>&1 | grep -i container | head -2 | tr '\n' '|')"
	gets "$d" <<EOF2
inet80 inet $H6 80 /inet-proxy 2
allow80 allow $H6 80 /allow-proxy 4
EOF2
	until_ok 20 eval 'grep -q "allow-proxy" "$W/web.log"'
	t_eq "$KIND: fails closed: the blocked country to [$H6]:80 ($(cat "$d/inet80")), web logged nothing of it" \
		"connect-timeout 0" "$(cat "$d/inet80") $(grep -c inet-proxy "$W/web.log")"
	t_check "$KIND: the allowed country reaches web through docker-proxy ($(cat "$d/allow80")), web saw the proxy's address, not the client's: $(grep allow-proxy "$W/web.log" | head -1 | cut -d' ' -f2)" \
		eval 'grep "allow-proxy" "$W/web.log" | grep -q "^request " && ! grep "allow-proxy" "$W/web.log" | grep -q "^request $ALLOW6 "'
	eng docker rm -f web >/dev/null 2>&1
	until_ok 30 cwin6_is 0
	daemon_stop
	t_eq "$KIND: portholed exited 0 on SIGTERM" 0 $?
	eng_stop docker >/dev/null 2>&1
	t_eq "$KIND: nothing left of the engine" "" "$(eng_leftovers docker)"
	root_same "after the engine"
	t_log "$KIND: $(since "$t0") s"
}

# lab_fresh: a lab of its own for each engine (netavark leaves its chains
# behind, and Docker's FORWARD policy drop would decide podman's packets)
lab_fresh() {
	[ "$LAB" = 1 ] && lab_down
	LAB=0
	lab_up || return 1
	LAB=1
	mkdir -p "$W" && chmod 755 "$W" "$T_TMP" && cp "$LAB_CA_PEM" "$W/ca.pem" && chmod 644 "$W/ca.pem"
}
for h in $(_eng_hier); do T_CGROUPS+=("$h$PARENT"); done
for k in $CT6_CASES; do
	t_setup "lab setup" lab_fresh
	case $k in proxy) case_proxy ;; *) case_engine "$k" ;; esac
done
t_summary
