// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window half of the firewall (lib/nftcontainer.c) driven
 * without the daemon, for tests/adversary/test_cwin.sh: it makes porthole's
 * owner table as portholed does (the table, its `windows` set and chains,
 * plus cwin/cwin6 and the forward rules F1 and F2, and the bridge table
 * with cwpin/cwpin6 and the pin rule), with the marks taken
 * from a real config line through the real parser, then reads commands on
 * stdin, one a line, and answers each with one line ("ok" or "error: ..."):
 *
 *   add BRIDGE PORT ADDR CPORT PPORT TIMEOUT_MS   a container window's element
 *   del BRIDGE PORT ADDR CPORT PPORT              (and its pin: PORT, the bridge port)
 *
 * Usage: cwinctl VALUE/MASK. Prints "ready CW=0x..." once the table is in.
 * The table has the owner flag: it goes when this process exits (EOF on
 * stdin, or a signal), as porthole's goes with the daemon. */
#include "config.h"
#include "nftcontainer.h"
#include "nftrule.h"
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int commit(struct ph_nl *n, int (*fill)(struct nl_batch *, void *), void *arg, char *why, size_t len)
{
	struct nl_batch *b = nl_batch_begin(n, 0, 0);
	struct nl_result res;
	int r, idx = -1;

	memset(&res, 0, sizeof(res));
	if (!b)
		return -ENOMEM;
	r = fill(b, arg);
	if (r) {
		nl_batch_abort(b);
		snprintf(why, len, "building the batch: %s", strerror(-r));
		return r;
	}
	r = nl_batch_commit(b, &res);
	if (!r)
		r = nl_result_error(&res, &idx);
	if (r)
		snprintf(why, len, "message %d: %s (%s)", idx, strerror(-r), res.extack);
	return r;
}

struct table_arg {
	const struct ph_config *c;
	uint32_t cw;
};

static int fill_table(struct nl_batch *b, void *arg)
{
	const struct table_arg *t = arg;
	int r = nr_add_table(b, t->c->mark, t->c->mark_mask, 1, t->c->ports, t->c->nports);

	return r ? r : nr_add_container_objects(b, t->cw, t->c->mark, t->c->mark_mask, 1);
}

struct elem_arg {
	struct nr_cwin w;
	uint64_t timeout_ms;
	int add;
};

static int fill_elem(struct nl_batch *b, void *arg)
{
	const struct elem_arg *e = arg;

	/* one window a pin here: the test never opens two on one (address, port, container port) */
	if (e->add)
		return nr_cwin_add(b, &e->w, e->timeout_ms) ?: nr_cwpin_add(b, &e->w, e->timeout_ms);
	return nr_cwin_del(b, &e->w) ?: nr_cwpin_del(b, &e->w);
}

/* "add|del BRIDGE PORT ADDR CPORT PPORT [TIMEOUT_MS]" -> e; 0 or -EINVAL */
static int parse_cmd(char *line, struct elem_arg *e)
{
	char verb[8], ifname[IF_NAMESIZE], port[IF_NAMESIZE], addr[64];
	unsigned cport, pport;
	unsigned long long tmo = 0;
	int n = sscanf(line, "%7s %15s %15s %63s %u %u %llu", verb, ifname, port, addr, &cport, &pport, &tmo);

	memset(e, 0, sizeof(*e));
	if (n < 6 || cport > 65535 || pport > 65535)
		return -EINVAL;
	e->add = !strcmp(verb, "add");
	if ((!e->add && strcmp(verb, "del")) || (e->add && n != 7))
		return -EINVAL;
	e->w.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(e->w.family, addr, e->w.addr) != 1)
		return -EINVAL;
	e->w.ifindex = if_nametoindex(ifname);
	e->w.port = if_nametoindex(port);
	e->w.cport = (uint16_t)cport;
	e->w.pport = (uint16_t)pport;
	e->timeout_ms = tmo;
	return e->w.ifindex && e->w.port ? 0 : -ENODEV;
}

int main(int argc, char **argv)
{
	static struct ph_config cfg;
	struct table_arg t = { .c = &cfg };
	struct ph_nl *n = NULL;
	char line[256], why[512], err[256] = "";
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: cwinctl VALUE/MASK\n");
		return 2;
	}
	config_defaults(&cfg);
	snprintf(line, sizeof(line), "socket_mark = %s\n", argv[1]);
	if (config_parse(&cfg, "cwinctl", line, strlen(line), err, sizeof(err)) ||
	    config_container_mark(&cfg, &t.cw)) {
		fprintf(stderr, "cwinctl: %s\n", err[0] ? err : "no room for the container-window mark");
		return 2;
	}
	r = nl_open(&n);
	if (r) {
		fprintf(stderr, "cwinctl: netlink: %s\n", strerror(-r));
		return 1;
	}
	if (commit(n, fill_table, &t, why, sizeof(why))) {
		fprintf(stderr, "cwinctl: the table: %s\n", why);
		nl_close(n);
		return 1;
	}
	printf("ready CW=0x%x\n", t.cw);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct elem_arg e;
		r = parse_cmd(line, &e);
		if (r)
			printf("error: bad command (%s)\n", strerror(-r));
		else if (commit(n, fill_elem, &e, why, sizeof(why)))
			printf("error: %s\n", why);
		else
			printf("ok\n");
		fflush(stdout);
	}
	nl_close(n);
	return 0;
}
