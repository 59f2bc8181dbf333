#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A private mount namespace with a bpffs of its own at /sys/fs/bpf, as systemd
# gives every host. The daemons a test starts run in it (nsenter -t PID -m):
# the guard of server windows can be pinned there, a daemon started after a
# killed one finds its pins, and nothing is mounted on the machine itself.
# It lives as long as this process (printed "ready" once mounted), and holds
# no descriptor of its caller's but stdout/stderr (a fifo's writer kept open
# here would never let its reader see the end).
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
done
exec unshare --mount --propagation private -- sh -c \
	'mount -t bpf bpf /sys/fs/bpf || exit 1; echo ready; exec sleep 100000' </dev/null
