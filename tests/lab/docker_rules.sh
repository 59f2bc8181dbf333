# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lab/docker_rules.sh — the container engines' rulesets, written by
# hand into the lab host (iptables-nft), for the tests that drive container
# windows without a real engine (test_cwin.sh, test_container.sh,
# test_cwin_daemon.sh; real engines: tests/lab/engines.sh). Sourced after
# tests/lib.sh: uses in_host and BR (the containers' bridge, $LAB_CTR_BR).

# docker_rules IPT HOST C1 C2 BLOCKED PREFIXLEN [HOST2]: what Docker 20.10
# writes for -p HOST:80:80 (C1), -p HOST:8080:80 (C2), -p HOST:8081:80 (C1)
# and, with HOST2, -p HOST2:80:80 (C2); the admin's geo-block (BLOCKED) in
# DOCKER-USER
docker_rules() {
	local ipt=$1 h=$2 c1=$3 c2=$4 blocked=$5 len=$6 h2=${7:-} d1=$3 d2=$4 extra=""
	[ "$ipt" = ip6tables ] && d1=[$3] d2=[$4]
	[ -n "$h2" ] && extra="-A PREROUTING -d $h2 -p tcp -m tcp --dport 80 -j DNAT --to-destination $d2:80"
	in_host "$ipt"-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d $h -p tcp -m tcp --dport 80 -j DNAT --to-destination $d1:80
-A PREROUTING -d $h -p tcp -m tcp --dport 8080 -j DNAT --to-destination $d2:80
-A PREROUTING -d $h -p tcp -m tcp --dport 8081 -j DNAT --to-destination $d1:80
$extra
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o $BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o $BR -j DOCKER
-A FORWARD -i $BR ! -o $BR -j ACCEPT
-A DOCKER -d $c1/$len ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -d $c2/$len ! -i $BR -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-USER -s $blocked -j DROP
-A DOCKER-USER -j RETURN
COMMIT
EOF
}

# netavark_rules IPT C1 C2 BLOCKED PREFIXLEN: netavark 1.4's filter table
# (no admin chain), the admin's geo-block at the top of FORWARD; the nat
# table (the DNAT) stays as docker_rules made it
netavark_rules() {
	in_host "$1"-restore <<EOF
*filter
:FORWARD DROP [0:0]
:NETAVARK_FORWARD - [0:0]
-A FORWARD -s $4 -j DROP
-A FORWARD -j NETAVARK_FORWARD
-A NETAVARK_FORWARD -o $BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A NETAVARK_FORWARD -i $BR ! -o $BR -j ACCEPT
-A NETAVARK_FORWARD -d $2/$5 -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
-A NETAVARK_FORWARD -d $3/$5 -o $BR -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
EOF
}
