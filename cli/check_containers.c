// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check, the containers' part (issue 23): the container engines and
 * firewall backends found in the ruleset (Docker's DOCKER / DOCKER-USER
 * chains, netavark's NETAVARK* chains or its inet netavark table, Docker >=
 * 29's docker-bridges tables, CNI's CNI-* chains), one line each, with what
 * porthole does there: the forward chains that get its one rule with a
 * `published` designation, or nothing without one. A geo-block in
 * prerouting before DNAT sees only the published port: container windows
 * are not supported there yet. */
#include "check.h"
#include "config.h"
#include "nftscan.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <linux/netfilter.h>

#define add check_add

#define PRIO_DNAT (-100) /* NF_IP_PRI_NAT_DST */

static void add_name(char *buf, size_t len, const struct ph_chain_ref *r)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s %s %s", n ? ", " : "", family_name(r->family), r->table, r->chain);
}

/* The static rule for container windows, as commands to paste: into the
 * engines' admin chains found (DOCKER-USER, CNI-ADMIN), else FORWARD */
static void static_forward(char *buf, size_t len, const struct nft_scan *sc, const struct ph_config *cfg,
			   const char *ports)
{
	size_t n = 0;
	int any = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i <= sc->nfwd_user && n < len; i++) {
		const struct ph_chain_ref *r = i < sc->nfwd_user ? &sc->fwd_user[i] : NULL;
		const char *chain = r ? r->chain : "FORWARD";
		int v6 = r && r->family == NFPROTO_IPV6;
		int m;
		if (!r && any)
			break;
		m = snprintf(buf + n, len - n, "%s%s -I %s -p tcp -m multiport --dports %s -m mark --mark 0x%x/0x%x -j ACCEPT",
			     n ? "; " : "", v6 ? "ip6tables" : "iptables", chain, ports, cfg->mark, cfg->mark_mask);
		if (m < 0)
			break;
		n += (size_t)m;
		if (!r && n < len)
			n += (size_t)snprintf(buf + n, len - n, "; ip6tables -I FORWARD -p tcp -m multiport --dports %s -m mark "
					      "--mark 0x%x/0x%x -j ACCEPT; or first in an nftables forward chain: meta l4proto tcp "
					      "tcp dport { %s } meta mark & 0x%x == 0x%x accept", ports, cfg->mark,
					      cfg->mark_mask, ports, cfg->mark_mask, cfg->mark);
		any = 1;
	}
}

/* What porthole does for containers here, the same words for every engine */
static void action(char *buf, size_t len, const struct nft_scan *sc, const struct ph_config *cfg)
{
	char chains[800] = "", ports[64];

	format_ports(ports, sizeof(ports), cfg->ports, cfg->nports);
	if (!config_has_published(cfg)) {
		snprintf(buf, len, "no 'designate ... published' line: porthole does nothing for containers (windows are for "
			 "the host's own sockets)");
		return;
	}
	if (cfg->chains_mode != PH_CHAINS_AUTO) {
		static_forward(chains, sizeof(chains), sc, cfg, ports);
		snprintf(buf, len, "chains = %s: porthole writes no forward chain; add at the top yourself (no comment "
			 "starting with 'porthole': the daemon's start-up sweep removes those): %s",
			 cfg->chains_mode == PH_CHAINS_NONE ? "none" : "a list", chains);
		return;
	}
	for (unsigned i = 0; i < sc->nfwd_user; i++)
		add_name(chains, sizeof(chains), &sc->fwd_user[i]);
	for (unsigned i = 0; i < sc->count; i++)
		if (sc->chains[i].cls == CHAIN_FORWARD)
			add_name(chains, sizeof(chains), &sc->chains[i].ref);
	if (chains[0])
		snprintf(buf, len, "container windows: porthole puts its one rule (tcp %s) at the top of %s while a window "
			 "is open, and moves it back above a jump or drop put over it", ports, chains);
	else
		snprintf(buf, len, "container windows: no forward chain here drops, porthole has nothing to open");
}

static void check_prerouting(const struct nft_scan *sc, const struct ph_config *cfg, int engines)
{
	int published = config_has_published(cfg);

	for (unsigned i = 0; i < sc->count; i++) {
		const struct nft_chain_info *c = &sc->chains[i];
		char name[200];
		int f = c->ref.family;

		if ((f != NFPROTO_INET && f != NFPROTO_IPV4 && f != NFPROTO_IPV6) || c->hook != NF_INET_PRE_ROUTING ||
		    c->prio >= PRIO_DNAT || strcmp(c->type, "filter") || c->cls == CHAIN_OURS || !chain_may_drop(c) ||
		    (f != NFPROTO_INET && !strcmp(c->ref.table, "docker-bridges")) ||
		    (f == NFPROTO_INET && !strcmp(c->ref.table, "netavark")))
			continue;
		if (!published && !engines)
			continue;
		snprintf(name, sizeof(name), "containers: chain %s %s %s", family_name(f), c->ref.table, c->ref.chain);
		add(published ? V_FAIL : V_WARN, name,
		    "prerouting priority %d, before DNAT (-100): a drop there sees the published port, not the container; "
		    "container windows are not supported there yet (%s)", (int)c->prio,
		    published ? "move the block to DOCKER-USER or a forward chain, or drop the published line"
			      : "no published line: nothing asked of it");
	}
}

void check_containers(const struct nft_scan *sc, const struct ph_config *cfg)
{
	static const struct { unsigned bit; const char *name, *what; } eng[] = {
		{ NFT_ENG_DOCKER_IPT, "containers Docker (iptables)", "DOCKER / DOCKER-USER chains in ip filter/nat" },
		{ NFT_ENG_NETAVARK_IPT, "containers Podman netavark (iptables)",
		  "NETAVARK* chains, no admin chain (a geo-block goes at the top of FORWARD)" },
		{ NFT_ENG_DOCKER_NFT, "containers Docker >= 29 (nftables)",
		  "table docker-bridges: Docker's own, never written (it accepts published ports itself)" },
		{ NFT_ENG_NETAVARK_NFT, "containers Podman netavark (nftables)",
		  "table inet netavark: netavark's own, never written" },
		{ NFT_ENG_CNI, "containers CNI", "CNI-* chains (CNI-ADMIN is the admin chain)" },
	};
	char what[1000];
	int any = 0;

	action(what, sizeof(what), sc, cfg);
	for (unsigned i = 0; i < sizeof(eng) / sizeof(eng[0]); i++) {
		if (!(sc->engines & eng[i].bit))
			continue;
		any = 1;
		add(V_OK, eng[i].name, "%s; %s", eng[i].what, what);
	}
	if (!any && config_has_published(cfg))
		add(V_WARN, "containers", "a published line, and no container engine's chains in the ruleset (Docker, "
		    "netavark, CNI: none running?); %s", what);
	check_prerouting(sc, cfg, any);
}
