#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the porthole Debian package from this checkout.
#
# Copies the source tree (without build/ and .git) to a temporary directory,
# puts packaging/debian there as ./debian, runs dpkg-buildpackage -us -uc -b
# and copies the resulting .deb files to build/deb/. Extra arguments go to
# dpkg-buildpackage (e.g. -j4). Needs the Build-Depends of
# packaging/debian/control (dpkg-buildpackage checks them) and the running
# kernel's BTF, /sys/kernel/btf/vmlinux.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/deb"

for tool in dpkg-buildpackage dh; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "build-deb: $tool not found (apt-get install dpkg-dev debhelper)" >&2
		exit 1
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/porthole-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src="$tmp/porthole"
mkdir "$src"

# the tree as it is now (including files not committed yet), minus build
# outputs, version control and any stray ./debian
tar -C "$top" --exclude=./build --exclude=./.git --exclude=./debian -cf - . | tar -C "$src" -xf -
cp -R "$top/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b "$@")

mkdir -p "$out"
found=0
for deb in "$tmp"/*.deb; do
	[ -e "$deb" ] || continue
	cp "$deb" "$out/"
	echo "build-deb: $out/$(basename "$deb")"
	found=1
done
if [ "$found" = 0 ]; then
	echo "build-deb: dpkg-buildpackage produced no .deb" >&2
	exit 1
fi
