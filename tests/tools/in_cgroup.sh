#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# in_cgroup.sh CGROUP-DIR CMD...: move this process into the cgroup, then exec
# CMD there (what a service manager or cron does for a job's cgroup).
set -e
echo $$ >"$1/cgroup.procs"
shift
exec "$@"
