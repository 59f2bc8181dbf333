// SPDX-License-Identifier: GPL-2.0-or-later
/* iptables-legacy's filter tables, read-only (see nftscan.h): nftables
 * cannot override a legacy DROP, so the daemon and `porthole check` need to
 * know whether one can drop inbound traffic. */
#include "nftscan.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

/* The legacy table's INPUT chain: from its hook entry to its underflow (the
 * policy) there are rules, or the policy is not ACCEPT. Read with the same
 * getsockopt iptables-legacy-save uses. */
int legacy_input_state(int v6, int *present, int *may_drop)
{
	int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int fd;
	struct ipt_getinfo info; /* the ip6t_getinfo layout is the same */
	socklen_t len = sizeof(info);
	char names[256];
	int r = 0;

	*present = *may_drop = 0;
	/* no legacy table loaded: nothing to ask (and asking would load one).
	 * The list is root's (0440): a daemon of its own user cannot tell */
	r = read_small_file(v6 ? "/proc/self/net/ip6_tables_names" : "/proc/self/net/ip_tables_names", names, sizeof(names));
	if (r || !strstr(names, "filter"))
		return r == -ENOENT ? 0 : r;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* any inet socket reaches nf_sockopt: no CAP_NET_RAW */
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	copy_str(info.name, sizeof(info.name), "filter");
	if (getsockopt(fd, level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	*present = 1;
	if (!(info.valid_hooks & (1u << NF_INET_LOCAL_IN)))
		goto out;
	if (info.hook_entry[NF_INET_LOCAL_IN] != info.underflow[NF_INET_LOCAL_IN]) {
		*may_drop = 1; /* rules in INPUT: any of them may drop */
		goto out;
	}
	{
		/* the policy: a standard target at the underflow entry */
		size_t sz = sizeof(struct ipt_get_entries) + info.size;
		struct ipt_get_entries *ge = calloc(1, sz);
		socklen_t gl = (socklen_t)sz;
		if (!ge) {
			r = -ENOMEM;
			goto out;
		}
		copy_str(ge->name, sizeof(ge->name), "filter");
		ge->size = info.size;
		if (getsockopt(fd, level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, ge, &gl) < 0) {
			r = -errno;
		} else {
			unsigned off = info.underflow[NF_INET_LOCAL_IN];
			const char *base = (const char *)ge->entrytable;
			uint16_t target_offset = v6 ? ((const struct ip6t_entry *)(base + off))->target_offset
						    : ((const struct ipt_entry *)(base + off))->target_offset;
			const struct xt_standard_target *t = (const void *)(base + off + target_offset);
			if (off + target_offset + sizeof(*t) > info.size || t->verdict != -NF_ACCEPT - 1)
				*may_drop = 1;
		}
		free(ge);
	}
out:
	close(fd);
	return r;
}
