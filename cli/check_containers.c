// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check, the containers' part (issue 23): the container engines and
 * firewall backends found in the ruleset (Docker's DOCKER / DOCKER-USER
 * chains, netavark's NETAVARK* chains or its inet netavark table, Docker >=
 * 29's docker-bridges tables, CNI's CNI-* chains), one line each, with what
 * porthole does there: the forward chains that get its one rule with a
 * `published` designation, or nothing without one. A geo-block in
 * prerouting before DNAT (-189 ... -100) sees only the published port:
 * porthole puts its pair before each drop there (lib/nftcontainer.h), or,
 * chains = none, prints it for the admin; before -190 (raw) it cannot mark:
 * unsupported, a window is refused. */
#include "check.h"
#include "config.h"
#include "nftguard.h"
#include "nftrule.h"
#include "nftscan.h"
#include "nl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>

#define add check_add

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

/* The daemon's own plan for the pairs before DNAT over the live ruleset
 * (root): a drop it cannot repeat is a FAIL, as the window would be */
static void pre_plan(const struct nft_scan *scan, const struct ph_config *cfg)
{
	struct nft_guard_item *items = calloc(NFT_GUARD_MAX, sizeof(*items));
	struct nft_ruleset *rs = NULL;
	struct ph_nl *n = NULL;
	char why[600] = "";
	unsigned nitems = 0;
	int r;

	r = !items ? -1 : nl_open(&n);
	if (!r)
		r = nft_ruleset_read(n, &rs);
	nl_close(n);
	if (!r && cfg->chains_mode == PH_CHAINS_AUTO) {
		r = nft_cw_plan(rs, scan, items, NFT_GUARD_MAX, &nitems, why, sizeof(why));
		if (r)
			add(V_FAIL, "containers before DNAT", "a container window would be refused: %s", why[0] ? why : "no plan");
		else
			add(V_OK, "containers before DNAT", "%u drop point(s) before DNAT: 2 rules at each per published port "
			    "of an open container window", nitems);
	}
	nft_ruleset_free(rs);
	free(items);
}

/* chains = none (or a list): the pair as the admin writes it, before each
 * drop of the chain, repeating the drop's matches */
static void static_pair(char *buf, size_t len, const struct nft_chain_info *c, const struct ph_config *cfg,
			const char *ports, uint32_t cw, uint32_t cp, uint32_t cc)
{
	uint32_t m = cfg->mark_mask, both = m & ~(cp ^ cw);

	if (c->ref.family == NFPROTO_INET)
		snprintf(buf, len, "before each drop of %s %s (and at its end if its policy is drop): 'meta l4proto tcp tcp "
			 "dport { %s } meta mark & 0x%x == 0x%x MATCHES ct mark set ct mark & 0x%x | 0x%x' then 'meta "
			 "l4proto tcp tcp dport { %s } ct mark & 0x%x == 0x%x accept' (MATCHES: the drop's own)",
			 c->ref.table, c->ref.chain, ports, m, cc, ~m, cp, ports, both, cp);
	else
		snprintf(buf, len, "before each DROP of %s -t %s %s (-I %s N, or -A with policy DROP): '-p tcp -m "
			 "multiport --dports %s -m mark --mark 0x%x/0x%x MATCHES -j CONNMARK --set-xmark 0x%x/0x%x' then "
			 "'-p tcp -m multiport --dports %s -m connmark --mark 0x%x/0x%x -j ACCEPT' (MATCHES: the drop's own)",
			 c->ref.family == NFPROTO_IPV6 ? "ip6tables" : "iptables", c->ref.table, c->ref.chain, c->ref.chain,
			 ports, cc, m, cp, m, ports, cp, both);
}

/* a raw-priority drop refuses a container window, unless it is only a
 * reverse-path filter (the daemon's own test over the live ruleset); 1:
 * refused (or unreadable), why says which */
static int raw_refuses(const struct nft_scan *scan, char *why, size_t whylen)
{
	struct nft_ruleset *rs = NULL;
	struct ph_nl *n = NULL;
	int r = nl_open(&n);

	if (!r)
		r = nft_ruleset_read(n, &rs);
	nl_close(n);
	if (r)
		snprintf(why, whylen, "the ruleset could not be read: %s", strerror(-r));
	else
		r = nft_pre_raw(rs, scan, why, whylen);
	nft_ruleset_free(rs);
	return r != 0;
}

static void check_prerouting(const struct nft_scan *sc, const struct ph_config *cfg, int engines)
{
	int published = config_has_published(cfg), planned = 0, raw = -1;
	char rawwhy[600] = "";
	uint32_t cw = 0, cp = 0, cc = 0;
	int marks = published && !config_container_mark(cfg, &cw) && !config_container_pre_marks(cfg, &cp, &cc);
	char ports[64], how[900];

	format_ports(ports, sizeof(ports), cfg->ports, cfg->nports);
	for (unsigned i = 0; i < sc->count; i++) {
		const struct nft_chain_info *c = &sc->chains[i];
		char name[200];
		int f = c->ref.family;

		if ((f != NFPROTO_INET && f != NFPROTO_IPV4 && f != NFPROTO_IPV6) || c->hook != NF_INET_PRE_ROUTING ||
		    c->prio > NFT_PRIO_DNAT || strcmp(c->type, "filter") || c->cls == CHAIN_OURS || !chain_may_drop(c) ||
		    (f != NFPROTO_INET && !strcmp(c->ref.table, "docker-bridges")) ||
		    (f == NFPROTO_INET && !strcmp(c->ref.table, "netavark")))
			continue;
		if (!published && !engines)
			continue;
		snprintf(name, sizeof(name), "containers: chain %s %s %s", family_name(f), c->ref.table, c->ref.chain);
		if (c->prio <= PH_PRIO_PRE) {
			if (raw < 0)
				raw = raw_refuses(sc, rawwhy, sizeof(rawwhy));
			if (!raw) {
				add(V_OK, name, "prerouting priority %d, before porthole can mark: it drops only by a "
				    "reverse-path filter (fib), nothing a container window admits", (int)c->prio);
				continue;
			}
			add(published ? V_FAIL : V_WARN, name,
			    "prerouting priority %d, before porthole can mark a connection (%d): not supported for container "
			    "windows (%s)", (int)c->prio, PH_PRIO_PRE,
			    published ? "a window is refused while it drops; move the block to priority mangle (-150) or to "
					"DOCKER-USER or a forward chain"
				      : "no published line: nothing asked of it");
			continue;
		}
		if (!published) {
			add(V_OK, name, "prerouting priority %d, before DNAT: no published line, porthole does nothing there "
			    "for containers", (int)c->prio);
			continue;
		}
		if (!marks) {
			add(V_FAIL, name, "prerouting priority %d, before DNAT: socket_mark's mask 0x%x has no room for the two "
			    "marks a container window needs there (CP, CC): a window is refused; widen the mask",
			    (int)c->prio, cfg->mark_mask);
			continue;
		}
		if (cfg->chains_mode == PH_CHAINS_NONE) {
			static_pair(how, sizeof(how), c, cfg, ports, cw, cp, cc);
			add(V_OK, name, "prerouting priority %d, before DNAT; chains = none: put the pair yourself (no comment "
			    "starting with 'porthole'), %s", (int)c->prio, how);
			continue;
		}
		add(V_OK, name, "prerouting priority %d, before DNAT: while a container window is open, porthole marks new "
		    "connections to its published port (0x%x), puts a pair before each drop here (the drop's matches -> "
		    "conntrack 0x%x; accept 0x%x or 0x%x), and after DNAT drops what DNAT did not send to the window's "
		    "container (forward) or sent to the host (input)", (int)c->prio, cc, cp, cp, cw);
		if (config_has_csrv(cfg))
			add(V_OK, name, "prerouting priority %d, before DNAT, a web server in a container (serve = container): "
			    "while its window is open its port is marked the same way (0x%x, the pair), and after DNAT a "
			    "connection so passed to the served container's socket is guarded (the guard judges it: one "
			    "challenge request for a live token); to anything else it drops as above", (int)c->prio, cc);
		if (!planned++)
			pre_plan(sc, cfg);
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
