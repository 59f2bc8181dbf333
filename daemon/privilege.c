// SPDX-License-Identifier: GPL-2.0-or-later
/* What portholed may do (see privilege.h). The daemon asks the kernel for
 * its effective capabilities instead of its uid: as root it holds them all
 * (unless a bounding set took some), as user porthole under the shipped unit
 * it holds exactly the ambient set the unit gives. */
#include "privilege.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const struct {
	int cap;
	const char *name;
	const char *what;
} needed[] = {
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN", "nftables, cgroup BPF programs, socket diagnostics" },
	{ CAP_BPF, "CAP_BPF", "BPF programs and maps" },
	{ CAP_PERFMON, "CAP_PERFMON", "tracing programs" },
	/* root reads its clients' /proc entries as their owner; another user
	 * needs this to see them at all (ProtectProc=invisible) and to read
	 * /proc/PID/exe for the audit log */
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "reading clients' /proc entries" },
};

unsigned long long priv_effective(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return 0;
	return (unsigned long long)data[0].effective | (unsigned long long)data[1].effective << 32;
}

static int has(unsigned long long eff, int cap)
{
	return (eff >> cap) & 1;
}

int priv_check(char *why, size_t whylen)
{
	unsigned long long eff = priv_effective();
	size_t n = 0;
	int missing = 0;

	why[0] = '\0';
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (has(eff, needed[i].cap) || (needed[i].cap == CAP_SYS_PTRACE && geteuid() == 0))
			continue;
		n += (size_t)snprintf(why + n, n < whylen ? whylen - n : 0, "%s%s (%s)", missing++ ? ", " : "",
				      needed[i].name, needed[i].what);
		if (n >= whylen)
			n = whylen - 1;
	}
	if (missing) {
		char list[512];
		snprintf(list, sizeof(list), "%s", why);
		snprintf(why, whylen,
			 "missing %s: run it as root, or as its own user with these as ambient capabilities "
			 "(portholed.service: User=porthole, AmbientCapabilities=)",
			 list);
		return -EPERM;
	}
	return 0;
}
