// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check, the firewall's part: the live ruleset's chains that could
 * drop validation traffic (and whether porthole's rule can go there), the
 * firewall managers that own them (ufw, firewalld, iptables-nft), policy
 * routing rules, and iptables-legacy tables, which an nftables accept can
 * never override. Each finding names the static rule to add by hand when
 * porthole cannot put its own. */
#include "cli.h"
#include "check.h"
#include "client.h"
#include "cgroup.h"
#include "config.h"
#include "nftguard.h"
#include "nftrule.h"
#include "nftscan.h"
#include "nl.h"
#include "proto.h"
#include "sockdiag.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <linux/fib_rules.h>

#define add check_add

/* The one rule an admin adds by hand for static mode (chains = none), in the
 * words of each firewall tool. */
static void static_rule(char *buf, size_t len, const char *tool, const struct ph_config *cfg)
{
	char ports[64];

	format_ports(ports, sizeof(ports), cfg->ports, cfg->nports);
	if (!strcmp(tool, "nft"))
		snprintf(buf, len, "meta l4proto tcp tcp dport { %s } meta mark & 0x%x == 0x%x accept (first in your input "
			 "chain), then chains = none", ports, cfg->mark_mask, cfg->mark);
	else if (!strcmp(tool, "ufw"))
		snprintf(buf, len, "-A ufw-before-input -p tcp -m multiport --dports %s -m mark --mark 0x%x/0x%x -j ACCEPT "
			 "(in /etc/ufw/before.rules and before6.rules, after the ufw-before-input definitions), then "
			 "chains = none", ports, cfg->mark, cfg->mark_mask);
	else
		snprintf(buf, len, "%s -I INPUT -p tcp -m multiport --dports %s -m mark --mark 0x%x/0x%x -j ACCEPT (and "
			 "ip6%s), then chains = none", tool, ports, cfg->mark, cfg->mark_mask, tool + 2);
}

static int has_chain(const struct nft_scan *sc, int fam, const char *table, const char *chain)
{
	for (unsigned i = 0; i < sc->count; i++)
		if (sc->chains[i].ref.family == fam && !strcmp(sc->chains[i].ref.table, table) &&
		    (!chain || !strcmp(sc->chains[i].ref.chain, chain)))
			return 1;
	return 0;
}

static int has_table_chain(struct ph_nl *n, int fam, const char *table, const char *chain);

static void check_managers(struct ph_nl *n, const struct nft_scan *sc, const struct ph_config *cfg)
{
	char rule[400];
	int ufw = has_table_chain(n, NFPROTO_IPV4, "filter", "ufw-before-input");
	int firewalld = has_chain(sc, NFPROTO_INET, "firewalld", NULL);
	int ipt = has_chain(sc, NFPROTO_IPV4, "filter", "INPUT") || has_chain(sc, NFPROTO_IPV6, "filter", "INPUT");
	unsigned native = 0;

	for (unsigned i = 0; i < sc->count; i++) {
		const struct nft_chain_info *c = &sc->chains[i];
		if (c->cls == CHAIN_OURS || (c->ref.family == NFPROTO_INET && !strcmp(c->ref.table, "firewalld")) ||
		    (c->ref.family == NFPROTO_INET && !strncmp(c->ref.table, "firewalld", 9)) ||
		    ((c->ref.family == NFPROTO_IPV4 || c->ref.family == NFPROTO_IPV6) &&
		     (!strcmp(c->ref.table, "filter") || !strcmp(c->ref.table, "nat") || !strcmp(c->ref.table, "mangle") ||
		      !strcmp(c->ref.table, "raw"))))
			continue;
		native++;
	}
	if (ufw) {
		static_rule(rule, sizeof(rule), "ufw", cfg);
		add(V_OK, "firewall ufw", "ufw over iptables-nft: porthole's rule goes first in INPUT and survives "
		    "'ufw reload'; static mode instead: %s", rule);
	} else if (ipt) {
		static_rule(rule, sizeof(rule), "iptables", cfg);
		add(V_OK, "firewall iptables-nft", "iptables-nft tables: porthole's rule is in iptables' own shape, so "
		    "iptables -L/-S/-save keep working; static mode instead: %s", rule);
	}
	if (firewalld) {
		const struct nft_chain_info *fc = NULL;
		for (unsigned i = 0; i < sc->count; i++)
			if (sc->chains[i].ref.family == NFPROTO_INET && !strcmp(sc->chains[i].ref.table, "firewalld"))
				fc = &sc->chains[i];
		if (fc && fc->owned)
			add(cfg->chains_mode == PH_CHAINS_NONE ? V_WARN : V_FAIL, "firewall firewalld",
			    "firewalld owns its table (firewalld >= 2.2, NftablesTableOwner=yes): nobody else may add a rule; "
			    "set NftablesTableOwner=no in /etc/firewalld/firewalld.conf and restart firewalld");
		else
			add(V_OK, "firewall firewalld", "firewalld (nftables backend): porthole's rule goes first in its "
			    "input chains and is put back after 'firewall-cmd --reload'");
	}
	if (native) {
		static_rule(rule, sizeof(rule), "nft", cfg);
		add(V_OK, "firewall nftables", "%u base chain(s) of hand-written nftables; static mode instead: %s", native,
		    rule);
	}
	if (!ufw && !ipt && !firewalld && !native)
		add(V_OK, "firewall", "no firewall manager found in nftables");
}

static int chain_cb_found(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(int *)data = 1;
	return MNL_CB_OK;
}

struct chain_q {
	int fam;
	const char *table, *chain;
};

static struct nlmsghdr *build_chain_get(char *buf, uint32_t seq, void *arg)
{
	const struct chain_q *q = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, q->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, q->chain);
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, (uint16_t)q->fam, NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nlh;
}

/* a regular (non-base) chain exists: ufw's are not base chains */
static int has_table_chain(struct ph_nl *n, int fam, const char *table, const char *chain)
{
	struct chain_q q = { fam, table, chain };
	int found = 0;

	return nl_request(n, build_chain_get, &q, chain_cb_found, &found) == 0 && found;
}

/* The scan of the host's chains stays for the serve lines' planning (NULL
 * when it could not be read). */
struct nft_scan *check_chains(int root, const struct ph_config *cfg)
{
	struct nft_scan *sc;
	struct ph_nl *n;
	unsigned opened = 0, dropping = 0, host = 0;
	char name[200], rule[400];
	int r;

	if (!root) {
		add(V_SKIP, "nftables ruleset", "needs root to read the ruleset");
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	r = nl_open(&n);
	if (!r) {
		r = nft_scan(n, cfg, sc);
		if (!r)
			check_managers(n, sc, cfg);
		nl_close(n);
	}
	if (r) {
		add(V_FAIL, "nftables ruleset", "cannot read it over netlink: %s", strerror(-r));
		free(sc);
		return NULL;
	}
	static_rule(rule, sizeof(rule), "nft", cfg);
	for (unsigned i = 0; i < sc->count; i++) {
		const struct nft_chain_info *c = &sc->chains[i];
		int fam = c->ref.family, drops = chain_may_drop(c);
		char what[160];

		snprintf(name, sizeof(name), "chain %s %s %s", family_name(fam), c->ref.table, c->ref.chain);
		snprintf(what, sizeof(what), "hook %s, priority %d, policy %s, %u drop/reject rule(s)", hook_name(fam, c->hook),
			 (int)c->prio, c->policy_drop ? "drop" : "accept", c->drop_rules);
		host += c->cls != CHAIN_OURS;
		switch (c->cls) {
		case CHAIN_TARGET:
			opened++;
			add(V_OK, name, "%s: porthole inserts its one rule at the top while a window is open", what);
			break;
		case CHAIN_OURS:
			break;
		case CHAIN_INGRESS:
			if (drops) {
				dropping++;
				add(V_FAIL, name,
				    "%s: runs before the socket lookup, so porthole cannot open it; if it drops inbound tcp 80/443, "
				    "accept tcp dport 80 there (or move the block to an input chain)", what);
			} else {
				add(V_OK, name, "%s: ingress chain that drops nothing", what);
			}
			break;
		case CHAIN_OWNED:
			dropping += drops;
			add(drops && cfg->chains_mode != PH_CHAINS_NONE ? V_FAIL : V_WARN, name,
			    "%s: its table is owned by another process, so porthole cannot add its rule; add it yourself: %s",
			    what, rule);
			break;
		case CHAIN_NOT_LISTED:
			if (cfg->chains_mode == PH_CHAINS_NONE) {
				add(V_OK, name, "%s: static mode (chains = none): porthole never writes here; it must hold: %s",
				    what, rule);
			} else {
				dropping += drops;
				add(drops ? V_FAIL : V_OK, name, "%s: not in the config's 'chains' list%s", what,
				    drops ? ", and it drops: add it, or use chains = auto" : "");
			}
			break;
		case CHAIN_FORWARD:
			opened++;
			add(V_OK, name, "%s: porthole inserts its one rule at the top for container windows while a window is "
			    "open", what);
			break;
		case CHAIN_FWD_VIA:
			add(V_OK, name, "%s: %s", what, chain_class_why(c->cls));
			break;
		case CHAIN_ENGINE:
			add(V_OK, name, "%s: %s", what, chain_class_why(c->cls));
			break;
		case CHAIN_OTHER:
			break; /* output, forward...: not on the inbound path to a local socket */
		}
	}
	if (cfg->chains_mode == PH_CHAINS_LIST) {
		for (unsigned k = 0; k < cfg->nchains; k++) {
			if (has_chain(sc, cfg->chains[k].family, cfg->chains[k].table, cfg->chains[k].chain))
				continue;
			snprintf(name, sizeof(name), "chain %s %s %s", family_name(cfg->chains[k].family),
				 cfg->chains[k].table, cfg->chains[k].chain);
			add(V_FAIL, name, "named in the config's 'chains' but not in the ruleset (not a base chain?)");
		}
	}
	if (sc->mark_users)
		add(V_WARN, "mark bits", "%u rule(s) outside porthole's table read or write mark bits within porthole's "
		    "mask 0x%x (first: %s): pick other bits with socket_mark", sc->mark_users, cfg->mark_mask, sc->mark_user);
	if (sc->former_users)
		add(V_FAIL, "former mark", "%u rule(s) match porthole's former default mark 0x%x/0x%x (first: %s), but porthole "
		    "now marks 0x%x/0x%x: they admit nothing. Write them for the new mark, or keep the old one with "
		    "socket_mark = 0x%x/0x%x (then not beside Podman: netavark and CNI masquerade bit 0x2000)",
		    sc->former_users, PH_FORMER_MARK, PH_FORMER_MARK_MASK, sc->former_user, cfg->mark, cfg->mark_mask,
		    PH_FORMER_MARK, PH_FORMER_MARK_MASK);
	check_containers(sc, cfg);
	if (host == 0)
		add(V_OK, "nftables ruleset", "no base chains: nftables drops nothing here");
	else
		add(V_OK, "nftables ruleset", "%u base chain(s); porthole writes to %u; %u it cannot write to drop traffic",
		    host, opened, dropping);
	return sc;
}

/* ip rules that match mark bits porthole writes: a window's socket mark on
 * the client's replies would send them by another route */
struct rule_scan {
	uint32_t mask;
	unsigned hits;
	char first[128];
};

static int ip_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_scan *rs = data;
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t mark = 0, mask = 0, table = frh->table;
	int has_mark = 0;

	mnl_attr_for_each(a, nlh, sizeof(*frh)) {
		if (mnl_attr_get_type(a) == FRA_FWMARK) {
			mark = mnl_attr_get_u32(a);
			has_mark = 1;
		} else if (mnl_attr_get_type(a) == FRA_FWMASK) {
			mask = mnl_attr_get_u32(a);
		} else if (mnl_attr_get_type(a) == FRA_TABLE) {
			table = mnl_attr_get_u32(a);
		}
	}
	if (!has_mark)
		return MNL_CB_OK;
	if (!mask)
		mask = 0xffffffffu;
	if (mask & rs->mask) {
		if (!rs->hits++)
			snprintf(rs->first, sizeof(rs->first), "%sfwmark 0x%x/0x%x lookup %u",
				 frh->flags & FIB_RULE_INVERT ? "not " : "", mark, mask, table);
	}
	return MNL_CB_OK;
}

void check_ip_rules(int root, const struct ph_config *cfg)
{
	struct rule_scan rs = { .mask = cfg->mark_mask };
	struct mnl_socket *nl;
	char buf[MNL_SOCKET_BUFFER_SIZE];

	(void)root;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (nl)
			mnl_socket_close(nl);
		add(V_SKIP, "ip rules", "cannot open a routing netlink socket");
		return;
	}
	for (int fam = 0; fam < 2; fam++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct fib_rule_hdr *frh;
		uint32_t seq = (uint32_t)fam + 1;

		nlh->nlmsg_type = RTM_GETRULE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = seq;
		frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
		frh->family = fam ? AF_INET6 : AF_INET;
		if (nl_talk(nl, nlh, ip_rule_cb, &rs) < 0)
			break;
	}
	mnl_socket_close(nl);
	if (rs.hits)
		add(V_WARN, "ip rules", "%u policy-routing rule(s) match mark bits porthole writes (mask 0x%x; first: %s): a "
		    "window's socket mark could route the client's replies elsewhere; pick other bits with socket_mark",
		    rs.hits, cfg->mark_mask, rs.first);
	else
		add(V_OK, "ip rules", "no policy-routing rule uses porthole's mark bits (0x%x)", cfg->mark_mask);
}

void check_iptables_legacy(int root, const struct ph_config *cfg)
{
	for (int v6 = 0; v6 <= 1; v6++) {
		const char *tool = v6 ? "ip6tables-legacy" : "iptables-legacy";
		char rule[400];
		int present = 0, drop = 0, r;

		if (!root) {
			char buf[256] = "";
			if (read_small_file(v6 ? "/proc/self/net/ip6_tables_names" : "/proc/self/net/ip_tables_names", buf, sizeof(buf)) == 0 && buf[0])
				add(V_SKIP, tool, "legacy tables are loaded; needs root to read them");
			continue;
		}
		r = legacy_input_state(v6, &present, &drop);
		if (r) {
			add(V_WARN, tool, "cannot read the legacy filter table: %s", strerror(-r));
			continue;
		}
		if (!present)
			continue;
		if (cfg->chains_mode != PH_CHAINS_NONE)
			add(V_WARN, v6 ? "ip6tables-legacy unit" : "iptables-legacy unit",
			    "a legacy filter table is loaded: under portholed.service the daemon (user porthole) cannot "
			    "read it (its list is root's; its rules take an Internet socket the unit's "
			    "RestrictAddressFamilies= keeps out), so it cannot refuse a window this table would starve: "
			    "this check is what tells (add AF_INET AF_INET6 in a drop-in for the rules)");
		static_rule(rule, sizeof(rule), tool, cfg);
		if (drop)
			add(cfg->chains_mode == PH_CHAINS_NONE ? V_WARN : V_FAIL, tool,
			    "the legacy filter table's INPUT can drop, and no nftables rule can override a legacy DROP: "
			    "porthole refuses windows; add %s", rule);
		else
			add(V_OK, tool, "legacy filter table loaded; its INPUT accepts everything");
	}
}
