#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel tier inside the guest: PID 1 after the initramfs (tests/kernels/init)
# switched to the host's root. It finishes the guest's setup (host name,
# loopback), proves that the writable layers work, then runs tests/run.sh with
# the chosen tests — the BPF probe (tests/kernels/probe.sh) first — and ends
# with one marker line that tests/kernels/run.sh waits for:
# "PORTHOLE-KT-END rc=N". Then it powers off.
# Everything it prints goes to the serial console and to /run/kt/out/guest.log,
# a writable 9p share the host reads.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
. /run/kt/conf
export E2E_CASES FIREWALLS_CASES

OUT=/run/kt/out
exec > >(tee -a "$OUT/guest.log") 2>&1

finish() { # RC: the marker, then power off (PID 1 must not exit: the kernel panics)
	echo "PORTHOLE-KT-END rc=$1"
	sync
	# let tee write the last lines before the machine goes away
	exec >/dev/console 2>&1
	sleep 0.5
	echo o >/proc/sysrq-trigger
	sleep 10
	busybox poweroff -f
}
fail() { echo "porthole-kt: guest: $*"; finish 98; }

[ -w /tmp ] && touch /tmp/.kt "$KT_REPO/.kt" /var/.kt /etc/.kt 2>/dev/null ||
	fail "a writable layer (/tmp, /var, /etc, $KT_REPO) is not writable"
rm -f /tmp/.kt "$KT_REPO/.kt" /var/.kt /etc/.kt

# the kernel's request_module (nf_tables, veth, ...) runs the host's kmod on
# the package's modules (tests/kernels/init put them in /lib/modules)
[ -x /sbin/modprobe ] || fail "/sbin/modprobe missing on the host (package kmod)"
[ -e "/lib/modules/$(uname -r)/modules.dep.bin" ] || fail "no /lib/modules/$(uname -r)/modules.dep.bin"

# the host's name, which its /etc/hosts resolves (no DNS in the guest)
hostname "$KT_HOSTNAME" 2>/dev/null
ip link set lo up

echo "porthole-kt: guest: $(uname -r) ($KT_PKG), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), up $(cut -d' ' -f1 /proc/uptime) s"
echo "porthole-kt: guest: BTF $( [ -r /sys/kernel/btf/vmlinux ] && echo yes || echo NO), cgroup2 at /sys/fs/cgroup, bpffs at /sys/fs/bpf, BPF LSM: $(cat /sys/kernel/security/lsm 2>/dev/null || echo '?')"

cd "$KT_REPO" || fail "no repo at $KT_REPO"
# the test scripts' environment: KT_ENV holds NAME=VALUE words (no spaces)
# shellcheck disable=SC2086
export $KT_ENV

# run_tests LIST: tests/run.sh on LIST; adds its closing line to the totals
pass=0 failn=0 skip=0 status=0
run_tests() {
	local log=/run/kt/run.log line p f k
	TESTS="$1" bash tests/run.sh | tee "$log"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n1)
	[ -n "$line" ] || { echo "porthole-kt: guest: tests/run.sh ended without its closing line"; failn=$((failn + 1)); return; }
	read -r p _ f _ k _ <<<"${line//,/}"
	pass=$((pass + p)) failn=$((failn + f)) skip=$((skip + k))
}

# the probe first: when the daemon's programs do not load, every test that
# starts the daemon is a SKIP that says so (the probe's FAIL fails the kernel)
probe=0 rest=""
for t in $KT_TESTS; do
	case $t in
	kernels/probe.sh) probe=1 ;;
	*) rest="$rest $t" ;;
	esac
done
if [ $probe = 1 ]; then
	run_tests kernels/probe.sh
	if [ $status != 0 ] && [ "${KT_ALL:-0}" != 1 ]; then
		list=""
		for t in $rest; do
			case $t in
			unit/*) list="$list $t" ;;
			*) echo "SKIP $t: portholed's BPF programs do not load on $(uname -r) (see kernels/probe.sh; KT_ALL=1 runs it anyway)"
			   skip=$((skip + 1)) ;;
			esac
		done
		rest=$list
	fi
fi
[ -z "$rest" ] || run_tests "$rest"
echo
echo "porthole-kt: guest: $(uname -r) done after $(cut -d' ' -f1 /proc/uptime) s of uptime"
echo "$pass passed, $failn failed, $skip skipped"
[ $failn = 0 ] && [ $status = 0 ]
finish $?
