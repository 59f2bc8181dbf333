#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian packages porthole needs to build and to run its tests.
# Idempotent. --if-missing: only call apt-get when something is missing.
#
# The firewall managers (ufw, iptables, firewalld, dbus) are installed for the
# tests only, which run each of them inside a network namespace of their own:
# nothing may start on the machine itself. While apt-get runs, a policy-rc.d
# that answers 101 ("action forbidden") makes invoke-rc.d and
# deb-systemd-invoke start no service (dbus, firewalld), whatever policy-rc.d
# the machine had (it is put back afterwards), and ufw is preseeded disabled
# so its postinst writes no rule into the machine's own firewall. systemd and
# systemd-container boot a real systemd in a container (tests/systemd);
# prometheus brings promtool, which checks the metrics file; python3-scapy
# crafts the hostile peer's TCP (tests/adversary). The kernel tier
# (tests/kernels) boots Debian's kernel packages with qemu-system-x86 on an
# initramfs made from busybox-static, and the guests' module autoloading
# runs kmod's modprobe (xz-utils unpacks .ko.xz modules for the initramfs).
# The container engines (docker.io with containerd, runc and tini; podman
# with netavark, aardvark-dns, conmon, crun and golang-github-containers-common,
# its containers.conf) are for tests/integration/test_engines.sh, which starts
# them itself inside a lab network namespace and a private mount namespace
# (tests/lab/engines.sh). Their packages enable docker.service, docker.socket,
# containerd.service, podman.service, podman.socket, podman-restart.service
# and podman-auto-update.{service,timer}: policy-rc.d keeps them from starting
# during the install, but at the next boot of a systemd machine dockerd would
# start in the root network namespace (its iptables rules in the machine's
# own ruleset, FORWARD policy drop) and docker.socket would listen at
# /run/docker.sock. So the units of an engine package this script installs
# are disabled (systemctl disable works without a running systemd; it also
# disables the sysvinit scripts; upgrades keep a disabled unit disabled)
# and, on a running systemd, stopped. An engine that was installed before is the
# admin's own and is left as it is.
set -eu

PKGS="make gcc clang llvm libclang-rt-dev pkg-config libbpf-dev libelf-dev zlib1g-dev libnftnl-dev libmnl-dev bpftool
      libsystemd-dev
      nftables iproute2 util-linux python3 python3-scapy procps libcap2-bin acl
      pebble certbot lego openssl curl jq mandoc dpkg-dev debhelper conntrack
      ufw iptables firewalld dbus systemd systemd-container prometheus
      nginx-light apache2 caddy dehydrated
      qemu-system-x86 busybox-static kmod xz-utils
      docker.io containerd runc tini podman netavark aardvark-dns conmon crun
      golang-github-containers-common"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ "${1:-}" = "--if-missing" ] && [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'sudo make deps'" >&2
	exit 1
fi
echo "deps: installing:${missing:- (all present, refreshing)}"
export DEBIAN_FRONTEND=noninteractive

POLICY=/usr/sbin/policy-rc.d
SAVED=$POLICY.porthole-deps-saved
OURS=0
restore_policy() {
	rm -f "$POLICY.porthole-deps"
	if [ -e "$SAVED" ] || [ -L "$SAVED" ]; then
		mv -f "$SAVED" "$POLICY"
	elif [ "$OURS" = 1 ]; then
		rm -f "$POLICY"
	fi
}
trap restore_policy EXIT
trap 'exit 130' INT TERM
# (a saved copy left by a run that was killed is the machine's own: keep it)
if [ ! -e "$SAVED" ] && [ ! -L "$SAVED" ] && { [ -e "$POLICY" ] || [ -L "$POLICY" ]; }; then
	mv -f "$POLICY" "$SAVED"
fi
printf '#!/bin/sh\n# tests/deps.sh: no service starts while it installs packages\nexit 101\n' >"$POLICY.porthole-deps"
chmod 0755 "$POLICY.porthole-deps"
mv -f "$POLICY.porthole-deps" "$POLICY"
OURS=1

case " $missing " in
*" ufw "*) echo 'ufw ufw/enable boolean false' | debconf-set-selections ;;
esac

apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null

for p in docker.io containerd podman; do
	case " $missing " in *" $p "*) ;; *) continue ;; esac
	for u in $(dpkg -L "$p" | grep -E '^(/usr)?/lib/systemd/system/[^/@]+\.(service|socket|timer)$' | sed 's|.*/||'); do
		systemctl --no-reload disable "$u" >/dev/null 2>&1 || true
		if [ -d /run/systemd/system ]; then
			systemctl stop "$u" >/dev/null 2>&1 || true
		fi
		echo "deps: $u disabled (tests/lab/engines.sh starts $p itself, in a namespace)"
	done
done
