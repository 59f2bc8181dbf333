// SPDX-License-Identifier: GPL-2.0-or-later
/* lib/netns's resolver from a shell, for tests/integration/test_netns.sh:
 *   netns_resolve PID NETNS_INODE BOUND_ADDRESS [v6only]
 * prints "userns own|other" then one "ADDRESS BRIDGE" line per DNAT target,
 * sorted; or "error ENAME: reason" (exit 1). Run it in the daemon's netns,
 * as the daemon runs. */
#include "netns.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>

static int cmp(const void *pa, const void *pb)
{
	const struct netns_target *a = pa, *b = pb;

	if (a->a.family != b->a.family)
		return a->a.family == AF_INET ? -1 : 1;
	return memcmp(a->a.addr, b->a.addr, sizeof(a->a.addr));
}

int main(int argc, char **argv)
{
	struct netns_addr bound = { 0 };
	struct netns_view v;
	uint64_t pid, ino;
	char why[256], s[INET6_ADDRSTRLEN], br[IF_NAMESIZE], pt[IF_NAMESIZE];
	int err;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "v6only")) ||
	    parse_u64(argv[1], 1, 1u << 22, &pid) || parse_u64(argv[2], 1, UINT32_MAX, &ino)) {
		fprintf(stderr, "usage: netns_resolve PID NETNS_INODE BOUND_ADDRESS [v6only]\n");
		return 2;
	}
	bound.family = strchr(argv[3], ':') ? AF_INET6 : AF_INET;
	if (inet_pton(bound.family, argv[3], bound.addr) != 1) {
		fprintf(stderr, "netns_resolve: bad address %s\n", argv[3]);
		return 2;
	}
	err = netns_resolve((pid_t)pid, ino, &bound, argc == 5, &v, why, sizeof(why));
	if (err) {
		printf("error %s: %s\n", strerrorname_np(-err) ?: "?", why);
		return 1;
	}
	printf("userns %s\n", v.userns_own ? "own" : "other");
	qsort(v.t, v.n, sizeof(v.t[0]), cmp);
	for (unsigned i = 0; i < v.n; i++)
		printf("%s %s %s\n", inet_ntop(v.t[i].a.family, v.t[i].a.addr, s, sizeof(s)),
		       if_indextoname(v.t[i].bridge, br) ?: "?", if_indextoname(v.t[i].port, pt) ?: "?");
	fprintf(stderr, "netns_resolve: %s\n", why);
	return 0;
}
