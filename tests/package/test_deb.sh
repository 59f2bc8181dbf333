#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian package builds from this tree (dpkg-buildpackage -us -uc -b via
# packaging/build-deb.sh) and ships what `make install` installs.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
for t in dpkg-buildpackage dh; do
	command -v $t >/dev/null || { echo "SKIP package: $t not installed (make deps installs debhelper and dpkg-dev)"; exit 77; }
done
rm -rf "$ROOT/build/deb"
t0=$(date +%s)
if "$ROOT/packaging/build-deb.sh" >"$ROOT/build/deb-build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the package in $(( $(date +%s) - t0 )) s"
else
	bad "dpkg-buildpackage failed:"; tail -30 "$ROOT/build/deb-build.log"
	echo "package: $pass passed, $fail failed, 0 skipped"; exit 1
fi
DEB=$(ls "$ROOT"/build/deb/porthole_*_*.deb | head -1)
X=$(mktemp -d); trap 'rm -rf "$X"' EXIT
dpkg-deb -x "$DEB" "$X"
for f in usr/sbin/portholed usr/bin/porthole etc/porthole/porthole.conf lib/systemd/system/portholed.service \
	usr/lib/tmpfiles.d/porthole.conf usr/share/man/man8/porthole.8.gz usr/share/man/man8/portholed.8.gz \
	usr/share/man/man5/porthole.conf.5.gz usr/share/bash-completion/completions/porthole \
	usr/lib/sysusers.d/porthole.conf; do
	[ -e "$X/$f" ] && ok "package ships /$f" || bad "package ships /$f"
done
dpkg-deb -e "$DEB" "$X/DEBIAN"
grep -qx /etc/porthole/porthole.conf "$X/DEBIAN/conffiles" && ok "the config is a conffile" || bad "the config is a conffile"
grep -q "ExecStart=/usr/sbin/portholed" "$X/lib/systemd/system/portholed.service" && ok "unit runs /usr/sbin/portholed" \
	|| bad "unit runs /usr/sbin/portholed"
"$X/usr/sbin/portholed" -V >/dev/null && "$X/usr/bin/porthole" --version >/dev/null && ok "packaged binaries run" \
	|| bad "packaged binaries run"
# the daemon's user: made at install by the postinst (dh_installsysusers)
grep -q "systemd-sysusers.*porthole.conf" "$X/DEBIAN/postinst" 2>/dev/null && ok "postinst makes the user porthole (systemd-sysusers)" \
	|| bad "postinst makes the user porthole (systemd-sysusers)"
grep -qx "User=porthole" "$X/lib/systemd/system/portholed.service" && ok "unit runs the daemon as user porthole" \
	|| bad "unit runs the daemon as user porthole"
dpkg-deb -I "$DEB" | grep -q "Depends:.*libnftnl" && ok "Depends names the shared libraries" || bad "Depends"
echo "package: $pass passed, $fail failed, 0 skipped"
[ $fail = 0 ]
