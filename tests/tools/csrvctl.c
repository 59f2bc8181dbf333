// SPDX-License-Identifier: GPL-2.0-or-later
/* Guarded container servers (lib/nftcsrv.c, bpf/guard.bpf.c's served
 * container namespaces) driven without the daemon, for
 * tests/adversary/test_csrv.sh. It makes porthole's owner table as portholed
 * does with serve lines (the table, `servers`, the guard's own rules with the
 * csrv drops, csrv/csrv6, the candidate rules and the csrvtag chain), places
 * the guard pair at every forward-hook drop point of the host (lib/nftguard's
 * plan, the forward chains taken as targets), loads the guard with the
 * config's marks and DSCP and attaches it to CGROUP_ROOT, then reads
 * commands on stdin, one a line, answering each with one line ("ok ..." or
 * "error: ..."):
 *
 *   server CGROUP_DIR [any]         a served cgroup (window open; tokens only, or with
 *                                   "any" every well-formed challenge request, as `always`)
 *   netns NSFILE                    a served container's network namespace (/proc/PID/ns/net, /run/netns/X)
 *   token TOKEN | untoken TOKEN     a live token
 *   add BRIDGE ADDR PORT TIMEOUT_MS a csrv element | del BRIDGE ADDR PORT
 *   stats                           "ok ADMITTED DROPPED"
 *
 * Usage: csrvctl VALUE/MASK DSCP PORT CGROUP_ROOT. Prints "ready CAND=0x...
 * GUARDED=0x... PAIRS=N" once all is in. The table has the owner flag and
 * the guard is not pinned: both go when this process exits. */
#include "config.h"
#include "guard.h"
#include "nftcsrv.h"
#include "nftguard.h"
#include "nftrule.h"
#include "nftscan.h"
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libnftnl/rule.h>
#include "guard.skel.h"

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

struct ctl {
	const struct ph_config *c;
	uint32_t cand, guarded;
	uint8_t dscp;
	uint16_t port;
	struct nft_guard_item *items;
	unsigned nitems;
	struct nr_csrv e;
	uint64_t timeout_ms;
	int add;
};

static int fill_table(struct nl_batch *b, void *arg)
{
	const struct ctl *t = arg;
	int r = nr_add_table(b, t->c->mark, t->c->mark_mask, 1, t->c->ports, t->c->nports);

	if (!r)
		r = nr_add_servers_set(b) || nr_add_guard_own_rules(b, t->cand, t->guarded, t->c->mark_mask, 1) ? -ENOMEM : 0;
	return r ? r : nr_add_csrv_objects(b, t->cand, t->guarded, t->c->mark_mask, t->dscp);
}

static int fill_pairs(struct nl_batch *b, void *arg)
{
	const struct ctl *t = arg;
	int r = 0;

	for (unsigned i = 0; !r && i < t->nitems; i++)
		for (int accept = 0; !r && accept <= 1; accept++) {
			const struct nft_guard_item *it = &t->items[i];
			struct nftnl_rule *rule = nr_guard_rule_for(&it->chain, it->drop, it->digest, accept, t->port, t->cand,
								    t->guarded, t->c->mark_mask);
			r = rule ? nr_batch_rule_at(b, rule, it->before) : -ENOMEM;
		}
	return r;
}

static int fill_elem(struct nl_batch *b, void *arg)
{
	const struct ctl *t = arg;

	return t->add ? nr_csrv_add(b, &t->e, t->timeout_ms) : nr_csrv_del(b, &t->e);
}

/* the guard pair at every drop point of the host's forward-hook chains */
static int place_pairs(struct ph_nl *n, struct ctl *t, char *why, size_t len)
{
	static struct nft_scan scan;
	struct nft_ruleset *rs = NULL;
	int r = nft_scan(n, t->c, &scan);

	if (r) {
		snprintf(why, len, "scan: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < scan.count; i++) {
		enum chain_class *k = &scan.chains[i].cls;
		*k = *k == CHAIN_FORWARD || *k == CHAIN_FWD_VIA ? CHAIN_TARGET : *k == CHAIN_TARGET ? CHAIN_OTHER : *k;
	}
	r = nft_ruleset_read(n, &rs);
	if (!r)
		r = nft_guard_plan(rs, &scan, t->items, NFT_GUARD_MAX, &t->nitems, why, len);
	if (!r)
		r = commit(n, fill_pairs, t, why, len);
	nft_ruleset_free(rs);
	return r;
}

static struct guard_bpf *load_guard(const struct ctl *t, const char *cgroot, struct bpf_link **link)
{
	struct guard_bpf *s = guard_bpf__open();
	struct stat st;
	__u16 port = t->port;
	__u32 ino;
	__u8 one = 1, mark = PH_GN_MARK;
	int cg;

	if (!s)
		return NULL;
	s->rodata->mark_mask = t->c->mark_mask;
	s->rodata->guard_mark = t->guarded;
	s->rodata->guard_cand = t->cand;
	s->rodata->guard_dscp = t->dscp;
	if (getrandom((void *)&s->rodata->sip_k0, 8, 0) != 8 || getrandom((void *)&s->rodata->sip_k1, 8, 0) != 8 ||
	    guard_bpf__load(s) || stat("/proc/self/ns/net", &st))
		goto fail;
	ino = (__u32)st.st_ino;
	if (bpf_map_update_elem(bpf_map__fd(s->maps.guard_ports), &port, &one, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(s->maps.guard_netns), &ino, &mark, BPF_ANY))
		goto fail;
	cg = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		goto fail;
	*link = bpf_program__attach_cgroup(s->progs.ph_guard, cg);
	close(cg);
	if (*link)
		return s;
fail:
	guard_bpf__destroy(s);
	return NULL;
}

static int token_key(struct ph_token_key *k, const char *tok)
{
	size_t n = strlen(tok);

	memset(k, 0, sizeof(*k));
	if (!n || n > PH_TOKEN_MAX)
		return -EINVAL;
	k->len = (__u32)n;
	memcpy(k->token, tok, n);
	return 0;
}

static void cmd(struct ph_nl *n, struct guard_bpf *s, struct ctl *t, char *line)
{
	char verb[16] = "", a[256] = "", b[64] = "", why[512];
	unsigned port = 0;
	unsigned long long tmo = 0;
	int k = sscanf(line, "%15s %255s %63s %u %llu", verb, a, b, &port, &tmo), r = -EINVAL;
	struct stat st;

	if (!strcmp(verb, "server") && (k == 2 || (k == 3 && !strcmp(b, "any"))) && stat(a, &st) == 0) {
		struct ph_guard_srv v = { .index = 0, .flags = PH_SRV_OPEN | (k == 3 ? 0 : PH_SRV_TOKENS) };
		__u64 id = st.st_ino;
		r = bpf_map_update_elem(bpf_map__fd(s->maps.guard_servers), &id, &v, BPF_ANY) ? -errno : 0;
	} else if (!strcmp(verb, "netns") && k == 2) {
		__u8 dscp = PH_GN_DSCP;
		if (stat(a, &st) == 0) {
			__u32 ino = (__u32)st.st_ino;
			r = bpf_map_update_elem(bpf_map__fd(s->maps.guard_netns), &ino, &dscp, BPF_ANY) ? -errno : 0;
		}
	} else if ((!strcmp(verb, "token") || !strcmp(verb, "untoken")) && k == 2) {
		struct ph_token_key key;
		__u8 one = 1;
		r = token_key(&key, a);
		if (!r && verb[0] == 't')
			r = bpf_map_update_elem(bpf_map__fd(s->maps.guard_tokens), &key, &one, BPF_ANY) ? -errno : 0;
		else if (!r)
			r = bpf_map_delete_elem(bpf_map__fd(s->maps.guard_tokens), &key) ? -errno : 0;
	} else if ((!strcmp(verb, "add") && k == 5) || (!strcmp(verb, "del") && k == 4)) {
		memset(&t->e, 0, sizeof(t->e));
		t->add = verb[0] == 'a';
		t->timeout_ms = tmo;
		t->e.family = strchr(b, ':') ? AF_INET6 : AF_INET;
		t->e.ifindex = if_nametoindex(a);
		t->e.port = (uint16_t)port;
		if (port <= 65535 && inet_pton(t->e.family, b, t->e.addr) == 1) {
			r = commit(n, fill_elem, t, why, sizeof(why));
			if (r) {
				printf("error: %s\n", why);
				return;
			}
		}
	} else if (!strcmp(verb, "stats") && k == 1) {
		struct ph_guard_stats st2;
		__u32 z = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(s->maps.guard_stats), &z, &st2) == 0) {
			printf("ok %llu %llu\n", (unsigned long long)st2.admitted, (unsigned long long)st2.dropped);
			return;
		}
		r = -errno;
	}
	if (r)
		printf("error: %s\n", strerror(-r));
	else
		printf("ok\n");
}

int main(int argc, char **argv)
{
	static struct ph_config cfg;
	struct ctl t = { .c = &cfg };
	struct bpf_link *link = NULL;
	struct guard_bpf *s;
	struct ph_nl *n = NULL;
	char line[512], why[512], err[256] = "";
	unsigned dscp, port;

	if (argc != 5 || sscanf(argv[2], "%i", &dscp) != 1 || sscanf(argv[3], "%u", &port) != 1 || !port ||
	    port > 65535) {
		fprintf(stderr, "usage: csrvctl VALUE/MASK DSCP PORT CGROUP_ROOT\n");
		return 2;
	}
	t.dscp = (uint8_t)dscp;
	t.port = (uint16_t)port;
	t.items = calloc(NFT_GUARD_MAX, sizeof(*t.items));
	config_defaults(&cfg);
	/* a published designation: the host's forward chains are scanned */
	snprintf(line, sizeof(line), "socket_mark = %s\nports = %u\ndesignate = cgroup /csrvctl-none published\n", argv[1],
		 port);
	if (!t.items || config_parse(&cfg, "csrvctl", line, strlen(line), err, sizeof(err)) ||
	    config_guard_marks(&cfg, &t.cand, &t.guarded)) {
		fprintf(stderr, "csrvctl: %s\n", err[0] ? err : "no room for the guard marks");
		return 2;
	}
	if (nl_open(&n)) {
		fprintf(stderr, "csrvctl: netlink\n");
		return 1;
	}
	if (commit(n, fill_table, &t, why, sizeof(why)) || place_pairs(n, &t, why, sizeof(why))) {
		fprintf(stderr, "csrvctl: the table: %s\n", why);
		nl_close(n);
		free(t.items);
		return 1;
	}
	s = load_guard(&t, argv[4], &link);
	if (!s) {
		fprintf(stderr, "csrvctl: the guard: %s\n", strerror(errno));
		nl_close(n);
		free(t.items);
		return 1;
	}
	printf("ready CAND=0x%x GUARDED=0x%x PAIRS=%u\n", t.cand, t.guarded, t.nitems);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		cmd(n, s, &t, line);
		fflush(stdout);
	}
	bpf_link__destroy(link);
	guard_bpf__destroy(s);
	nl_close(n);
	free(t.items);
	return 0;
}
