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
set -eu

PKGS="make gcc clang llvm libclang-rt-dev pkg-config libbpf-dev libelf-dev zlib1g-dev libnftnl-dev libmnl-dev bpftool
      libsystemd-dev
      nftables iproute2 util-linux python3 python3-scapy procps libcap2-bin acl
      pebble certbot lego openssl curl jq mandoc dpkg-dev debhelper conntrack
      ufw iptables firewalld dbus systemd systemd-container prometheus
      nginx-light apache2 caddy dehydrated
      qemu-system-x86 busybox-static kmod xz-utils"

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
