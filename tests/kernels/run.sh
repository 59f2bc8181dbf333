#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel tier (make test-kernels): boots Debian's own kernel packages under
# QEMU and runs porthole's tests inside them, on the host's own userland. This
# file owns the host side: fetching the packages with apt (cached in
# KT_CACHE, so a rerun downloads nothing), the initramfs (the host's
# busybox-static, the package's own virtio/9p/overlay modules, tests/kernels/init),
# one QEMU per kernel with a timeout, and the closing line summed over the
# kernels. In the guest, tests/kernels/guest.sh runs tests/run.sh with
# KT_TESTS: tests/kernels/probe.sh (do the BPF programs load?), the unit
# tests, and a chosen set of namespace and end-to-end tests.
#
# Kernels (KT_KERNELS, suites, in this order): bookworm = Debian 12's 6.1,
# trixie = Debian 13's 6.12; bullseye (5.10) works too, as a floor check.
# Each is the suite's linux-image-amd64 dependency, or SUITE=PACKAGE names one
# (trixie-backports=linux-image-6.19.14+deb13-amd64). The machine's own suite
# comes through its own apt configuration; another suite through a private
# one under KT_CACHE, derived from the machine's sources with the suite
# substituted (the machine's apt configuration is never touched).
#
# Env: KT_KERNELS, KT_TESTS, KT_E2E_CASES, KT_FIREWALLS_CASES, KT_CACHE (/var/cache/porthole-kernels), KT_LOGS
# (build/kernels: each kernel's console and guest log), KT_TIMEOUT (seconds per
# kernel), KT_ACCEL (auto|kvm|tcg; auto uses KVM only when a KVM guest boots),
# KT_MEM (MiB), KT_SMP, KT_ALL=1 (run the daemon's tests even when the probe
# fails). Exit 0 when every kernel passed, 1 otherwise; 77 when it cannot run.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

KT_KERNELS=${KT_KERNELS:-bookworm trixie}
KT_CACHE=${KT_CACHE:-/var/cache/porthole-kernels}
KT_LOGS=${KT_LOGS:-$ROOT/build/kernels}
KT_TIMEOUT=${KT_TIMEOUT:-600}
KT_ACCEL=${KT_ACCEL:-auto}
KT_MEM=${KT_MEM:-4096}
KT_SMP=${KT_SMP:-2}
KT_ALL=${KT_ALL:-0}
# what runs in each guest (tests/run.sh names), and the cases of the e2e files
UNITS="unit/test_config unit/test_proto unit/test_json unit/test_nftrule unit/test_window unit/test_server"
# (chosen to fit ~10 minutes for both kernels under TCG on 2 cores: the BPF
# probe, the unit tests, the kernel programs, and certificates from pebble through a session's standalone window (certbot
# under porthole run), watch mode (lego in a designated cgroup) and a guarded
# window (nginx + certbot --webroot); the rest of make test runs on the
# host's kernel; KT_TESTS="... integration/test_firewalls.sh" adds the
# firewall managers: ufw alone took 99 s on 6.1 under TCG on a quiet
# machine, and did not fit when the machine was busy; KT_TESTS="kernels/probe.sh
# integration/test_kernel.sh integration/test_foreign.sh" checks what the
# kernel reports of other namespaces' listeners: 40-80 s a kernel under TCG,
# not in the default, which reached the 600 s timeout on 6.1 when busy)
KT_TESTS=${KT_TESTS:-kernels/probe.sh $UNITS integration/test_kernel.sh e2e/test_e2e.sh e2e/test_server_e2e.sh}
KT_E2E_CASES=${KT_E2E_CASES:-certbot_http01_v4only watch_mode_lego_in_designated_cgroup nginx_certbot_webroot}
KT_FIREWALLS_CASES=${KT_FIREWALLS_CASES:-u}
# modules the initramfs needs to reach the host's root (whatever is =m in the
# package's config; modprobe --show-depends says builtin for the rest)
INITRD_MODULES="virtio_pci virtio_rng 9pnet_virtio 9p overlay"

skip() { echo "SKIP kernels: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 77; }
die() { echo "kernels: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || skip "needs root (apt-get download, QEMU's 9p export of /, the tests)"
for b in qemu-system-x86_64 apt-get apt-cache dpkg-deb depmod modprobe xz gzip; do
	command -v "$b" >/dev/null || skip "$b not installed (make deps)"
done
BUSYBOX=/bin/busybox
dpkg-query -W -f='${Status}\n' busybox-static 2>/dev/null | grep -q '^install ok installed$' ||
	skip "busybox-static not installed (make deps): the initramfs needs a static busybox"
for b in build/portholed build/asan/portholed build/asan/porthole; do
	[ -x "$b" ] || die "$b missing: run make all asan unit (make test-kernels does)"
done

WORK=$(mktemp -d /tmp/porthole-kernels.XXXXXX) || die "mktemp failed"
QPID=
TPID=
cleanup() {
	trap - EXIT INT TERM
	[ -n "$QPID" ] && kill -KILL "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "$TPID" ] && kill "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- packages ---------------------------------------------------------------

CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || die "no VERSION_CODENAME in /etc/os-release"

# sources_for SUITE: the machine's Debian sources (deb822, or one-line format)
# with its codename replaced by SUITE: bookworm-security -> SUITE-security;
# for a backports SUITE (trixie-backports) only the release line, renamed
sources_for() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		awk -v RS= -v ORS='\n\n' -v c="$CODENAME" -v s="$1" '
		function map(w) {
			if (w == c) return s
			if (index(w, c "-") == 1 && index(s, "-") == 0) return s substr(w, length(c) + 1)
			return ""
		}
		{
			n = split($0, l, "\n"); out = ""; keep = 0
			for (i = 1; i <= n; i++) {
				if (l[i] ~ /^Suites:/) {
					m = split(l[i], w, /[ \t]+/); l[i] = "Suites:"
					for (j = 2; j <= m; j++) if (map(w[j]) != "") { l[i] = l[i] " " map(w[j]); keep = 1 }
				}
				out = out l[i] "\n"
			}
			if (keep) printf "%s\n", out
		}' "$f"
	elif [ -r /etc/apt/sources.list ]; then
		awk -v c="$CODENAME" -v s="$1" '$1 == "deb" {
			for (i = 2; i <= NF; i++) if ($i == c || (index($i, c "-") == 1 && index(s, "-") == 0)) {
				sub("^" c, s, $i); print; next }
		}' /etc/apt/sources.list
	fi
}

# apt_for SUITE: APT_OPTS, the apt-get/apt-cache options that see SUITE
apt_for() {
	local s=$1 d=$KT_CACHE/$1/apt ext=sources lists age
	APT_OPTS=()
	[ "$s" = "$CODENAME" ] && return 0
	mkdir -p "$d/sources.list.d" "$d/state/lists/partial" "$d/cache/archives/partial" || return 1
	[ -r /etc/apt/sources.list.d/debian.sources ] || ext=list
	sources_for "$s" >"$d/sources.list.d/debian.$ext.new"
	grep -qw -- "$s" "$d/sources.list.d/debian.$ext.new" ||
		{ echo "kernels: no Debian sources for $CODENAME in /etc/apt to derive $s's from"; return 1; }
	rm -f "$d/sources.list.d/"*.sources "$d/sources.list.d/"*.list
	mv "$d/sources.list.d/debian.$ext.new" "$d/sources.list.d/debian.$ext"
	APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$d/sources.list.d"
		-o "Dir::State=$d/state" -o "Dir::State::status=/dev/null" -o "Dir::Cache=$d/cache"
		-o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null")
	# refresh the private lists once a day; offline, older lists do
	lists=$(find "$d/state/lists" -maxdepth 1 -name '*_Packages*' -newermt '-1 day' 2>/dev/null | head -n1)
	[ -n "$lists" ] && return 0
	if ! apt-get "${APT_OPTS[@]}" -qq update >"$WORK/apt-$s.log" 2>&1; then
		age=$(find "$d/state/lists" -maxdepth 1 -name '*_Packages*' 2>/dev/null | head -n1)
		[ -n "$age" ] || { echo "kernels: apt-get update for $s failed: $(grep -m1 -E '^(E|W):' "$WORK/apt-$s.log")"; return 1; }
		echo "kernels: apt-get update for $s failed, using the lists of an earlier run"
	fi
}

# kernel_get SUITE: the suite's current kernel package (with the packages of
# the same kernel it depends on: newer kernels ship vmlinuz and modules in
# linux-binary-* and linux-modules-*), downloaded once, extracted once with
# depmod run. Sets PKG, VER, KVER, TREE, VMLINUZ.
kernel_get() {
	local s=${1%%=*} dir=$KT_CACHE/${1%%=*} glob p v debs=() want=() tmp m keep
	case $s in
	bullseye) glob='linux-image-5.10.*-amd64' ;;
	bookworm) glob='linux-image-6.1.*-amd64' ;;
	trixie) glob='linux-image-6.12.*-amd64' ;;
	*) glob='linux-image-*-amd64' ;;
	esac
	apt_for "$s" || return 1
	if [ "$1" != "$s" ]; then
		# SUITE=PACKAGE: that kernel, kept apart, never pruned
		PKG=${1#*=} glob=linux-image-* dir=$dir/pinned
	else
		PKG=$(apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	# shellcheck disable=SC2053
	[[ -n "$PKG" && $PKG == $glob ]] ||
		{ echo "kernels: $s's linux-image-amd64 depends on '${PKG:-nothing}', expected $glob (apt-get update?)"; return 1; }
	# (apt-cache depends writes <NAME> for a package its lists do not have)
	for p in "$PKG" $(apt-cache "${APT_OPTS[@]}" depends "$PKG" 2>/dev/null |
		awk -v k="-${PKG#linux-image-}" '$1 ~ /Depends:$/ { n = $2; gsub(/[<>]/, "", n)
			if (substr(n, length(n) - length(k) + 1) == k) print n }'); do
		v=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$p" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')
		[ -n "$v" ] || { echo "kernels: $p ($PKG) is not in $s's lists"; return 1; }
		[ "$p" = "$PKG" ] && VER=$v
		debs+=("$dir/${p}_${v//:/%3a}_amd64.deb")
		[ -s "${debs[-1]}" ] || want+=("$p=$v")
	done
	TREE=$dir/${PKG}_$VER
	mkdir -p "$dir"
	if [ ${#want[@]} -gt 0 ]; then
		echo "kernels: downloading ${want[*]} ($s)"
		tmp=$dir/partial
		rm -rf "$tmp" && mkdir -p "$tmp" && { id _apt >/dev/null 2>&1 && chown _apt "$tmp"; }
		if ! (cd "$tmp" && apt-get "${APT_OPTS[@]}" -qq download "${want[@]}") >"$WORK/dl-$s.log" 2>&1; then
			echo "kernels: apt-get download ${want[*]} failed: $(grep -m1 -E '^(E|W):' "$WORK/dl-$s.log")"
			rm -rf "$tmp"; return 1
		fi
		mv "$tmp"/*.deb "$dir"/ && rm -rf "$tmp"
	fi
	if [ ! -e "$TREE/.complete" ]; then
		tmp=$TREE.tmp
		rm -rf "$tmp" "$TREE" && mkdir -p "$tmp" || return 1
		for p in "${debs[@]}"; do
			dpkg-deb -x "$p" "$tmp" || { echo "kernels: dpkg-deb -x $p failed"; return 1; }
		done
		# trixie ships its modules in /usr/lib/modules: modprobe -d wants lib/modules
		[ -e "$tmp/lib" ] || ln -s usr/lib "$tmp/lib"
		m=$(ls -d "$tmp"/lib/modules/*/ 2>/dev/null | head -n1)
		[ -n "$m" ] || { echo "kernels: no modules directory in ${debs[*]##*/}"; return 1; }
		depmod -b "$tmp" "$(basename "$m")" || { echo "kernels: depmod failed for $PKG"; return 1; }
		touch "$tmp/.complete" && mv "$tmp" "$TREE"
	fi
	# only the current kernel of each suite stays in the cache
	[ "$1" = "$s" ] && for m in "$dir"/linux-*; do
		keep=0
		for p in "${debs[@]}" "$TREE"; do [ "$m" = "$p" ] && keep=1; done
		[ $keep = 1 ] || rm -rf "$m"
	done
	KVER=$(basename "$(ls -d "$TREE"/lib/modules/*/ | head -n1)")
	# newer packages keep the image next to the modules
	for VMLINUZ in "$TREE/boot/vmlinuz-$KVER" "$TREE/lib/modules/$KVER/vmlinuz" ""; do
		[ -r "$VMLINUZ" ] && break
	done
	[ -n "$VMLINUZ" ] || { echo "kernels: no vmlinuz for $KVER in ${debs[*]##*/}"; return 1; }
}

# ---- initramfs ---------------------------------------------------------------

# q VALUE: VALUE single-quoted for kt.conf, which busybox sh and bash source
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# initrd_build OUT MODE: busybox, the modules, /init, /kt.conf for $TREE/$KVER
initrd_build() {
	local out=$1 mode=$2 d=$WORK/initrd m b
	rm -rf "$d" && mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev" "$d/modules" || return 1
	cp "$BUSYBOX" "$d/bin/busybox" || return 1
	for b in sh mount umount insmod switch_root poweroff mkdir cp ln sleep uname cat; do
		ln -s busybox "$d/bin/$b"
	done
	# shellcheck disable=SC2086
	modprobe -d "$TREE" -S "$KVER" --show-depends -a $INITRD_MODULES >"$WORK/deps" 2>&1 ||
		{ echo "kernels: modprobe --show-depends on $PKG: $(head -n1 "$WORK/deps")"; return 1; }
	for m in $(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$WORK/deps"); do
		b=$(basename "$m")
		case $b in
		*.ko.xz) b=${b%.xz}; xz -dc "$m" >"$d/modules/$b" ;;
		*.ko.zst) b=${b%.zst}; zstd -qdc "$m" >"$d/modules/$b" ;;
		*.ko.gz) b=${b%.gz}; gzip -dc "$m" >"$d/modules/$b" ;;
		*) cp "$m" "$d/modules/$b" ;;
		esac || { echo "kernels: cannot unpack $m"; return 1; }
		echo "$b" >>"$d/modules/order"
	done
	touch "$d/modules/order"
	cp tests/kernels/init "$d/init" && chmod 0755 "$d/init" || return 1
	{
		echo "KT_MODE=$(q "$mode")"
		echo "KT_REPO=$(q "$ROOT")"
		echo "KT_TREE=$(q "$TREE")"
		echo "KT_KVER=$(q "$KVER")"
		echo "KT_PKG=$(q "$PKG $VER")"
		echo "KT_TESTS=$(q "$KT_TESTS")"
		echo "KT_HOSTNAME=$(q "$(hostname)")"
		echo "E2E_CASES=$(q "$KT_E2E_CASES")"
		echo "FIREWALLS_CASES=$(q "$KT_FIREWALLS_CASES")"
		echo "KT_ENV=$(q "PORTHOLE_KERNEL_TIER=1 KT_ALL=$KT_ALL ${KT_GUEST_ENV:-}")"
	} >"$d/kt.conf"
	(cd "$d" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
}

# ---- QEMU --------------------------------------------------------------------

# qemu_boot OUTDIR ACCEL TIMEOUT INITRD: boot $TREE's kernel; the guest's shared
# directory is OUTDIR/share, its console OUTDIR/console.log. Waits for the
# guest to power off or TIMEOUT; BOOT_SECS: until the guest's first output.
# Returns 0 when the guest printed its end marker, 1 otherwise (REASON says why).
qemu_boot() {
	local out=$1 accel=$2 timeout=$3 initrd=$4 t0 a
	mkdir -p "$out/share" && : >"$out/console.log" && : >"$out/share/guest.log"
	case $accel in
	kvm) a=(-accel kvm -cpu host) ;;
	*) a=(-accel tcg,thread=multi -cpu max) ;;
	esac
	t0=$(now)
	qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
		"${a[@]}" -smp "$KT_SMP" -m "$KT_MEM" \
		-kernel "$VMLINUZ" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init ${KT_APPEND:-}" \
		-serial "file:$out/console.log" -monitor none -nic none \
		-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out/share,mount_tag=out,security_model=none,multidevs=remap" \
		-device virtio-rng-pci >"$out/qemu.log" 2>&1 &
	QPID=$!
	BOOT_SECS=
	REASON=
	# (stderr: bash's own note when QEMU dies of a signal; qemu.log says why)
	{
		while kill -0 "$QPID"; do
			if [ -z "$BOOT_SECS" ] && [ -s "$out/share/guest.log" ]; then BOOT_SECS=$(secs "$t0" "$(now)"); fi
			if [ "$(secs "$t0" "$(now)" | cut -d. -f1)" -ge "$timeout" ]; then
				REASON="timeout: no end after $timeout s"
				kill -KILL "$QPID"
				break
			fi
			sleep 0.5
		done
		wait "$QPID"
	} 2>/dev/null
	QPID=
	RUN_SECS=$(secs "$t0" "$(now)")
	grep -q '^PORTHOLE-KT-END rc=' "$out/console.log" && return 0
	if [ -z "$REASON" ]; then
		if grep -q 'Kernel panic' "$out/console.log"; then
			REASON="kernel panic: $(grep -m1 'Kernel panic' "$out/console.log" | tr -d '\r')"
		else
			REASON="the guest stopped without its end marker (qemu: $(head -n1 "$out/qemu.log"))"
		fi
	fi
	return 1
}

# accel_choose: kvm when KT_ACCEL says so, or (auto) when a KVM guest boots
# within 20 s (a nested guest can hang at boot instead), else tcg
accel_choose() {
	case $KT_ACCEL in
	kvm | tcg) ACCEL=$KT_ACCEL; return ;;
	esac
	ACCEL=tcg
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 0
	initrd_build "$WORK/boot.img" boot || return 0
	if qemu_boot "$WORK/kvm" kvm 20 "$WORK/boot.img" &&
		grep -q '^PORTHOLE-KT-END rc=0' "$WORK/kvm/console.log"; then
		ACCEL=kvm
	else
		echo "kernels: /dev/kvm does not boot a guest here (${REASON:-no marker}): TCG"
	fi
}

# ---- run ---------------------------------------------------------------------

mkdir -p "$KT_LOGS" || die "cannot make $KT_LOGS"
pass=0 fail=0 skip=0
failed=()
T0=$(now)
ACCEL=
for s in $KT_KERNELS; do
	echo "=== kernel: Debian $s"
	if ! kernel_get "$s"; then
		fail=$((fail + 1)); failed+=("$s (no kernel package)")
		continue
	fi
	[ -n "$ACCEL" ] || accel_choose
	echo "    package $PKG $VER, kernel $KVER, $ACCEL, ${KT_SMP} CPUs, $KT_MEM MiB, timeout $KT_TIMEOUT s"
	out=$KT_LOGS/$KVER
	rm -rf "$out"
	if ! initrd_build "$WORK/initrd.img" run; then
		fail=$((fail + 1)); failed+=("$s (initramfs)")
		continue
	fi
	# the guest's log, as it comes
	mkdir -p "$out/share" && : >"$out/share/guest.log"
	tail -n +1 -F "$out/share/guest.log" 2>/dev/null > >(sed -u 's/^/    /') &
	TPID=$!
	qemu_boot "$out" "$ACCEL" "$KT_TIMEOUT" "$WORK/initrd.img"
	ok=$?
	sleep 0.3
	kill "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null; TPID=
	mv "$out/share/guest.log" "$out/guest.log" 2>/dev/null; rmdir "$out/share" 2>/dev/null
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/guest.log" 2>/dev/null | tail -n1)
	read -r p _ f _ k _ <<<"${line//,/}"
	p=${p:-0} f=${f:-0} k=${k:-0}
	rc=$(grep -m1 -oE '^PORTHOLE-KT-END rc=[0-9]+' "$out/console.log" | cut -d= -f2)
	if [ "$ok" != 0 ]; then
		f=$((f + 1))
		echo "FAIL kernel $KVER: $REASON"
		echo "    last console lines ($out/console.log):"
		tail -n 15 "$out/console.log" | tr -d '\r' | sed 's/^/    | /'
	elif [ -z "$line" ]; then
		f=$((f + 1))
		echo "FAIL kernel $KVER: the guest ended (rc=$rc) without a closing line"
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=$((f + 1))
		echo "FAIL kernel $KVER: the guest's tests exited $rc without a failing check"
	fi
	grep -E '(BUG|WARNING):|Oops|Call Trace' "$out/console.log" | head -n 5 | sed 's/^/    console: /'
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + k))
	[ "$f" = 0 ] || failed+=("$KVER")
	echo "kernel $KVER ($PKG $VER): $p passed, $f failed, $k skipped; boot ${BOOT_SECS:-?} s, total $RUN_SECS s ($ACCEL)"
done

echo
echo "kernels: total time $(secs "$T0" "$(now)") s; logs in $KT_LOGS"
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
