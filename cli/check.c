// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: the doctor. Reads the live system, changes nothing (kernel
 * features are probed inside a throwaway network namespace), and says per
 * line whether porthole can do its job on this host, and if not, why and
 * what to do. Exit 0 when nothing fails. For serve lines it also asks what
 * a server window would meet: the server running and listening (sock_diag,
 * by socket cgroup), a webroot only trusted hands can write, and where the
 * guard rules would go (the daemon's own planner over the live ruleset). */
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

static const char *const vname[] = { "ok", "warn", "fail", "skip" };

struct check {
	char name[96];
	enum verdict v;
	char detail[1024];
};

#define MAX_CHECKS 256
static struct check checks[MAX_CHECKS];
static unsigned nchecks;

void check_add(enum verdict v, const char *name, const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	if (nchecks == MAX_CHECKS)
		return;
	c = &checks[nchecks++];
	c->v = v;
	snprintf(c->name, sizeof(c->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

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
static struct nft_scan *check_chains(int root, const struct ph_config *cfg)
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

static void check_ip_rules(int root, const struct ph_config *cfg)
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
		ssize_t n;

		nlh->nlmsg_type = RTM_GETRULE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = seq;
		frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
		frh->family = fam ? AF_INET6 : AF_INET;
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
			break;
		while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
			int r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), ip_rule_cb, &rs);
			if (r <= MNL_CB_STOP)
				break;
		}
	}
	mnl_socket_close(nl);
	if (rs.hits)
		add(V_WARN, "ip rules", "%u policy-routing rule(s) match mark bits porthole writes (mask 0x%x; first: %s): a "
		    "window's socket mark could route the client's replies elsewhere; pick other bits with socket_mark",
		    rs.hits, cfg->mark_mask, rs.first);
	else
		add(V_OK, "ip rules", "no policy-routing rule uses porthole's mark bits (0x%x)", cfg->mark_mask);
}

static void check_iptables_legacy(int root, const struct ph_config *cfg)
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
		static_rule(rule, sizeof(rule), tool, cfg);
		if (drop)
			add(cfg->chains_mode == PH_CHAINS_NONE ? V_WARN : V_FAIL, tool,
			    "the legacy filter table's INPUT can drop, and no nftables rule can override a legacy DROP: "
			    "porthole refuses windows; add %s", rule);
		else
			add(V_OK, tool, "legacy filter table loaded; its INPUT accepts everything");
	}
}

static void check_daemon(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	ssize_t n;
	int fd, t;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || copy_str(sa.sun_path, sizeof(sa.sun_path), sock)) {
		add(V_FAIL, "daemon", "bad socket path %s", sock);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		add(V_FAIL, "daemon", "%s: %s%s", sock, strerror(e),
		    e == EACCES ? " (you are neither root nor in socket_group)" : " (is portholed running? systemctl start portholed)");
		close(fd);
		return;
	}
	ph_msg_init(&m, PH_MSG_STATUS, 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &m, sizeof(struct ph_hdr), MSG_NOSIGNAL) < 0 || (n = recv(fd, &m, sizeof(m), 0)) <= 0) {
		add(V_FAIL, "daemon", "%s: no answer", sock);
		close(fd);
		return;
	}
	close(fd);
	t = ph_msg_check(&m, (size_t)n);
	if (t == PH_MSG_STATUS_REPLY)
		add(V_OK, "daemon", "running, serving %s; %u window(s) open", sock,
		    ((struct ph_status_reply *)ph_payload(&m))->count);
	else if (t == PH_MSG_ERROR)
		add(V_FAIL, "daemon", "refused: %s", ((struct ph_error *)ph_payload(&m))->msg);
	else
		add(V_FAIL, "daemon", "unexpected answer (another program on %s?)", sock);
}

static void check_designations(const struct ph_config *cfg)
{
	char mount[PATH_MAX] = "", name[300], path[PATH_MAX + 300], *sl;

	cg_find_mount(mount, sizeof(mount));
	if (cfg->ndes == 0) {
		add(V_OK, "designations", "none: windows open only for porthole run");
		return;
	}
	for (unsigned i = 0; i < cfg->ndes; i++) {
		const struct ph_designation *d = &cfg->des[i];
		struct stat st;

		char warn[300];

		snprintf(name, sizeof(name), "designate %s %s", des_type_name(d->type), d->arg);
		if (config_designation_warning(d, warn, sizeof(warn))) {
			add(V_WARN, name, "%s", warn);
			continue;
		}
		switch (d->type) {
		case DES_UNIT:
		case DES_CGROUP:
			snprintf(path, sizeof(path), "%s%s", mount, d->cgroup);
			if (stat(path, &st) == 0) {
				add(V_OK, name, "cgroup %s exists now; its processes are designated", d->cgroup);
				break;
			}
			sl = strrchr(path, '/');
			if (sl)
				*sl = '\0';
			if (stat(path, &st) == 0)
				add(V_OK, name, "cgroup %s does not exist now; it is followed and designated when it appears", d->cgroup);
			else
				add(V_WARN, name, "neither %s nor its parent exists: it can only match if the parent exists when portholed starts", d->cgroup);
			break;
		case DES_EXE:
			add(V_OK, name, "resolved to device %llu:%llu inode %llu (root-owned, not group/world-writable)",
			    (unsigned long long)(d->dev >> 20), (unsigned long long)(d->dev & 0xfffff), (unsigned long long)d->ino);
			break;
		case DES_UID:
			add(V_OK, name, "uid %u", d->uid);
			break;
		}
	}
}

/* ---- serve lines ---------------------------------------------------------------------- */

#define CG_IDS_MAX 1024

/* A served cgroup and every cgroup below it, by id (the cgroup directory's
 * inode number, what the kernel reports as a socket's cgroup). */
struct cg_ids {
	uint64_t id[CG_IDS_MAX];
	unsigned n;
};

static void cg_collect(int dfd, struct cg_ids *ids, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fstat(dfd, &st) == 0 && ids->n < CG_IDS_MAX)
		ids->id[ids->n++] = (uint64_t)st.st_ino;
	d = depth < 32 ? fdopendir(dfd) : NULL;
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) && ids->n < CG_IDS_MAX) {
		int sub;
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			cg_collect(sub, ids, depth + 1);
	}
	closedir(d);
}

static int cg_has(const struct cg_ids *ids, uint64_t id)
{
	for (unsigned i = 0; i < ids->n; i++)
		if (ids->id[i] == id)
			return 1;
	return 0;
}

/* Processes directly in the cgroup (its cgroup.procs, as portholed counts
 * them); -errno when it cannot be read. */
static int cg_procs(const char *dir, unsigned *n)
{
	char path[PATH_MAX + 340];
	FILE *f;
	int c;

	*n = 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((c = fgetc(f)) != EOF)
		*n += c == '\n';
	fclose(f);
	return 0;
}

/* TCP listeners on a serve line's ports, told apart by socket cgroup
 * (NETLINK_SOCK_DIAG; INET_DIAG_CGROUP_ID comes with every socket). */
struct lsn {
	const struct cg_ids *ids;
	const uint16_t *ports;
	unsigned nports;
	unsigned mine[PH_MAX_PORTS][2];  /* [port][ipv6]: listeners of the served cgroup */
	unsigned others[PH_MAX_PORTS];   /* listeners of other cgroups */
	char addrs[PH_MAX_PORTS][160];   /* where the served cgroup listens, the first few */
	uint64_t other_cg[PH_MAX_PORTS];
	int no_cgid;
};

static void lsn_cb(const struct sockdiag_sock *s, void *data)
{
	struct lsn *l = data;

	for (unsigned p = 0; p < l->nports; p++) {
		char addr[INET6_ADDRSTRLEN] = "?", one[INET6_ADDRSTRLEN + 16];
		int v6 = s->family == AF_INET6;
		size_t len;
		if (l->ports[p] != s->sport)
			continue;
		if (!s->has_cgroup) {
			l->no_cgid = 1;
			continue;
		}
		if (!cg_has(l->ids, s->cgroup)) {
			l->others[p]++;
			l->other_cg[p] = s->cgroup;
			continue;
		}
		l->mine[p][v6]++;
		inet_ntop(s->family, s->src, addr, sizeof(addr));
		snprintf(one, sizeof(one), v6 ? "[%s]:%u" : "%s:%u", addr, s->sport);
		len = strlen(l->addrs[p]);
		if (len + strlen(one) + 6 < sizeof(l->addrs[p]))
			snprintf(l->addrs[p] + len, sizeof(l->addrs[p]) - len, "%s%s", len ? ", " : "", one);
		else if (!strstr(l->addrs[p], "..."))
			snprintf(l->addrs[p] + len, sizeof(l->addrs[p]) - len, ", ...");
	}
}

static int listeners(struct lsn *l)
{
	return sockdiag_each(1u << TCP_LISTEN, lsn_cb, l);
}

static void check_server_listeners(const char *name, const struct ph_server *sv, const struct cg_ids *ids)
{
	static struct lsn l;
	char pname[128];
	int r;

	memset(&l, 0, sizeof(l));
	l.ids = ids;
	l.ports = sv->ports;
	l.nports = sv->nports;
	r = listeners(&l);
	for (unsigned p = 0; p < sv->nports; p++) {
		snprintf(pname, sizeof(pname), "%s tcp/%u", name, sv->ports[p]);
		if (r) {
			add(V_WARN, pname, "cannot list the TCP listeners (sock_diag): %s", strerror(-r));
		} else if (l.no_cgid && !l.mine[p][0] && !l.mine[p][1]) {
			add(V_WARN, pname, "the kernel does not report the cgroup of a socket (INET_DIAG_CGROUP_ID, "
			    "CONFIG_SOCK_CGROUP_DATA): cannot tell who listens");
		} else if (l.mine[p][0] || l.mine[p][1]) {
			add(V_OK, pname, "%s listens: %u IPv4 and %u IPv6 listener(s) of cgroup %s (%s)%s",
			    sv->arg, l.mine[p][0], l.mine[p][1], sv->cgroup, l.addrs[p],
			    l.others[p] ? "; other cgroups listen on this port too, and get no window" : "");
		} else if (l.others[p]) {
			add(V_FAIL, pname, "a socket of another cgroup (id %llu) listens on tcp/%u, none of cgroup %s: a "
			    "window to %s admits nothing there (is the server running outside its unit?)",
			    (unsigned long long)l.other_cg[p], sv->ports[p], sv->cgroup, sv->arg);
		} else {
			add(V_FAIL, pname, "nothing of cgroup %s listens on tcp/%u: the challenge requests a window admits "
			    "would find no server (listen on it, or fix ports=)", sv->cgroup, sv->ports[p]);
		}
	}
}

/* who may write to one directory of the webroot, as text; 1 if group or
 * others may */
static int dir_writers(const char *path, const struct stat *st, char *buf, size_t len)
{
	struct group *gr;

	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	gr = getgrgid(st->st_gid);
	snprintf(buf, len, "%.300s is writable by %s%s%s%s%s (mode %04o)", path,
		 st->st_mode & S_IWGRP ? "its group " : "", st->st_mode & S_IWGRP ? (gr ? gr->gr_name : "?") : "",
		 (st->st_mode & (S_IWGRP | S_IWOTH)) == (S_IWGRP | S_IWOTH) ? " and " : "",
		 st->st_mode & S_IWOTH ? "everybody" : "", st->st_mode & S_ISVTX ? ", sticky" : "",
		 (unsigned)(st->st_mode & 07777));
	return 1;
}

static void check_server_webroot(const char *name, const struct ph_server *sv)
{
	static const char *const sub[] = { "", "/.well-known", "/.well-known/acme-challenge" };
	char wname[128], path[sizeof(sv->webroot) + 32], one[sizeof(path) + 100], what[3 * sizeof(one)] = "";
	char absent[sizeof(path) + 64] = "";
	struct stat st, root_st = { 0 };
	int warn = 0;

	snprintf(wname, sizeof(wname), "%s webroot", name);
	if (sv->always) {
		add(V_OK, wname, "always: no token files; the window is open whenever the server runs, and the guard "
		    "admits a challenge request for any token");
		return;
	}
	if (sv->caddy[0]) {
		snprintf(wname, sizeof(wname), "%s caddy storage", name);
		snprintf(path, sizeof(path), "%s", sv->caddy);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			add(V_FAIL, wname, "%s: %s", path, errno && lstat(path, &st) < 0 ? strerror(errno) : "not a directory");
			return;
		}
		if (access(path, R_OK | X_OK)) {
			add(V_FAIL, wname, "%s: %s: portholed cannot read Caddy's pending challenges there", path,
			    strerror(errno));
			return;
		}
		{
			/* what root may read by the mode bits alone: the shipped
			 * unit bounds the daemon's capabilities (no DAC override) */
			mode_t m = st.st_uid == 0 ? st.st_mode >> 6 : st.st_gid == 0 ? st.st_mode >> 3 : st.st_mode;
			if ((m & 05) != 05) {
				add(V_WARN, wname, "%s: mode %04o, uid %u: under the shipped unit portholed has no "
				    "CAP_DAC_READ_SEARCH and cannot read it; add that capability to its "
				    "CapabilityBoundingSet= in a drop-in (systemctl edit portholed)", path,
				    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
				return;
			}
		}
		if (dir_writers(path, &st, one, sizeof(one))) {
			add(V_WARN, wname, "%s: whoever can write there can open a window (a challenge file opens it); "
			    "chmod g-w,o-w it", one);
			return;
		}
		add(V_OK, wname, "%s: a directory of uid %u, not writable by group or others: Caddy's pending HTTP-01 "
		    "challenges there open and close the window", path, (unsigned)st.st_uid);
		return;
	}
	if (!sv->webroot[0]) {
		add(V_OK, wname, "neither webroot= nor always: windows open only for porthole run --serve, and admit a "
		    "challenge request for any token");
		return;
	}
	for (int level = 0; level < 3; level++) {
		snprintf(path, sizeof(path), "%s%s", sv->webroot, sub[level]);
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT && level) {
				snprintf(absent, sizeof(absent), "; %s does not exist yet (the ACME client makes it)", path);
				break;
			}
			add(V_FAIL, wname, "%s: %s", path, strerror(errno));
			return;
		}
		if (S_ISLNK(st.st_mode)) {
			add(V_FAIL, wname, "%s is a symbolic link: portholed does not follow it, so no token there opens a "
			    "window; make it a directory", path);
			return;
		}
		if (!S_ISDIR(st.st_mode)) {
			add(V_FAIL, wname, "%s is not a directory: no token there can open a window", path);
			return;
		}
		if (!level)
			root_st = st;
		if (dir_writers(path, &st, one, sizeof(one))) {
			size_t l = strlen(what);
			snprintf(what + l, sizeof(what) - l, "%s%s", warn++ ? "; " : "", one);
		}
	}
	if (warn) {
		add(V_WARN, wname, "%s: whoever can write there can open a window (a token file opens it); "
		    "chmod g-w,o-w %s", what, warn > 1 ? "them" : "it");
		return;
	}
	add(V_OK, wname, "%s: a directory of uid %u; neither it nor what exists of .well-known/acme-challenge "
	    "below it is writable by group or others%s", sv->webroot, (unsigned)root_st.st_uid, absent);
}

/* every port of every serve line, once */
static unsigned server_ports(const struct ph_config *cfg, uint16_t *ports)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->nsrv; i++)
		for (unsigned p = 0; p < cfg->srv[i].nports; p++) {
			int dup = 0;
			for (unsigned q = 0; q < n; q++)
				dup |= ports[q] == cfg->srv[i].ports[p];
			if (!dup && n < PH_MAX_PORTS)
				ports[n++] = cfg->srv[i].ports[p];
		}
	return n;
}

/* "inet filter input before handle 7, ip filter INPUT at its end (policy drop), ..." */
static void format_drop_points(char *buf, size_t len, const struct nft_guard_item *items, unsigned n)
{
	size_t l = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		char one[3 * PH_NAME_LEN + 64];
		const struct nft_guard_item *it = &items[i];
		snprintf(one, sizeof(one), "%s %s %s %s%llu", family_name(it->chain.family), it->chain.table, it->chain.chain,
			 it->before ? "before handle " : "at its end (policy drop)", (unsigned long long)it->before);
		if (!it->before)
			one[strlen(one) - 1] = '\0'; /* no handle */
		if (l + strlen(one) + 24 >= len) {
			snprintf(buf + l, len - l, ", and %u more", n - i);
			return;
		}
		l += (size_t)snprintf(buf + l, len - l, "%s%s", i ? ", " : "", one);
	}
}

/* Where the daemon would put the guard rules: its own planner over the
 * live ruleset. Static mode: where the admin must put them. */
static void check_guard_plan(const struct ph_config *cfg, const struct nft_scan *scan, unsigned nports)
{
	struct nft_guard_item *items = calloc(NFT_GUARD_MAX, sizeof(*items));
	struct nft_scan *sc = malloc(sizeof(*sc));
	struct nft_ruleset *rs = NULL;
	struct ph_nl *n = NULL;
	char why[512] = "", where[600];
	unsigned nitems = 0;
	int r, fixed = cfg->chains_mode == PH_CHAINS_NONE;

	r = !items || !sc ? -ENOMEM : nl_open(&n);
	if (!r)
		r = nft_ruleset_read(n, &rs);
	nl_close(n);
	if (r) {
		add(V_FAIL, "serve guard rules", "cannot read the ruleset over netlink: %s", strerror(-r));
		goto out;
	}
	*sc = *scan;
	if (fixed) /* static mode: the chains porthole would write to in auto mode */
		for (unsigned i = 0; i < sc->count; i++)
			if (sc->chains[i].cls == CHAIN_NOT_LISTED)
				sc->chains[i].cls = CHAIN_TARGET;
	r = nft_guard_plan(rs, sc, items, NFT_GUARD_MAX, &nitems, why, sizeof(why));
	format_drop_points(where, sizeof(where), items, nitems);
	if (fixed) {
		if (!r && nitems)
			add(V_OK, "serve guard rules", "static mode: your ruleset drops at %u place(s) now, where the two "
			    "rules above must be, 2 per port: %s", nitems, where);
		else if (!r)
			add(V_OK, "serve guard rules", "static mode: your input chains drop nothing now; no guard rules needed");
		goto out;
	}
	if (r)
		add(V_FAIL, "serve guard rules", "a server window would fail closed: %s", why[0] ? why : strerror(-r));
	else if (nitems * nports * 2 > NFT_GUARD_MAX * 2)
		add(V_FAIL, "serve guard rules", "%u drop point(s) and %u port(s): more than %u guard rules; a server window "
		    "would fail closed", nitems, nports, NFT_GUARD_MAX * 2);
	else if (!nitems)
		add(V_OK, "serve guard rules", "the chains porthole writes to drop nothing: a server window places no guard "
		    "rules (nothing the host drops needs one)");
	else
		add(V_OK, "serve guard rules", "a server window puts %u guard rule(s) at %u drop point(s) (2 per drop point "
		    "and port), repeating each drop's matches: %s", nitems * nports * 2, nitems, where);
out:
	nft_ruleset_free(rs);
	free(sc);
	free(items);
}

/* Static mode: the two rules the admin puts before each drop (see nftguard.h). */
static void check_guard_static(const struct ph_config *cfg, uint32_t cand, uint32_t guarded, const uint16_t *ports,
			       unsigned nports)
{
	char p[64], ipt_ports[96];

	format_ports(p, sizeof(p), ports, nports);
	if (nports == 1)
		snprintf(ipt_ports, sizeof(ipt_ports), "--dport %s", p);
	else
		snprintf(ipt_ports, sizeof(ipt_ports), "-m multiport --dports %s", p);
	add(V_OK, "serve static rules nft", "static mode (chains = none): put these two right before each of your rules "
	    "that drops tcp/%s, MATCHES being that rule's own matches, and at the end of an input chain whose policy is "
	    "drop (no MATCHES), with no comment starting with porthole: "
	    "meta l4proto tcp tcp dport { %s } meta mark & 0x%x == 0x%x MATCHES ct mark set ct mark & 0x%x | 0x%x ; "
	    "meta l4proto tcp tcp dport { %s } ct mark & 0x%x == 0x%x accept",
	    p, p, cfg->mark_mask, cand, ~cfg->mark_mask, guarded, p, cfg->mark_mask, guarded);
	add(V_OK, "serve static rules iptables", "the same in iptables (and ip6tables), before each DROP/REJECT of INPUT "
	    "(-I INPUT N) or appended when its policy is DROP: "
	    "iptables -A INPUT -p tcp %s -m mark --mark 0x%x/0x%x MATCHES -j CONNMARK --set-xmark 0x%x/0x%x ; "
	    "iptables -A INPUT -p tcp %s -m connmark --mark 0x%x/0x%x -j ACCEPT",
	    ipt_ports, cand, cfg->mark_mask, guarded, cfg->mark_mask, ipt_ports, guarded, cfg->mark_mask);
}

static void check_servers(int root, const struct ph_config *cfg, const struct nft_scan *sc)
{
	char mount[PATH_MAX] = "", name[96], dir[PATH_MAX + 300];
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;
	uint32_t cand, guarded;
	int have_mount;

	if (!cfg->nsrv)
		return;
	have_mount = cg_find_mount(mount, sizeof(mount)) == 0;
	for (unsigned i = 0; i < cfg->nsrv; i++) {
		const struct ph_server *sv = &cfg->srv[i];
		static struct cg_ids ids;
		unsigned procs = 0;
		struct stat st;
		int fd;

		snprintf(name, sizeof(name), "serve %s %s", des_type_name(sv->type), sv->arg);
		snprintf(dir, sizeof(dir), "%s%s", mount, sv->cgroup);
		if (!have_mount) {
			add(V_FAIL, name, "not running: no cgroup v2 mount to find cgroup %s in", sv->cgroup);
		} else if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			add(V_FAIL, name, "not running: cgroup %s does not exist (%s); a server window needs the server "
			    "running in it%s", sv->cgroup, dir, sv->type == DES_UNIT ? " (systemctl start it)" : "");
		} else if (cg_procs(dir, &procs) < 0 || procs == 0) {
			char events[256] = "", pe[PATH_MAX + 320];
			snprintf(pe, sizeof(pe), "%s/cgroup.events", dir);
			read_small_file(pe, events, sizeof(events));
			add(V_FAIL, name, "not running: cgroup %s has no process of its own%s", sv->cgroup,
			    strstr(events, "populated 1") ? " (only cgroups below it have: portholed counts the "
			    "processes of the cgroup itself)" : "");
		} else {
			char p[64];
			format_ports(p, sizeof(p), sv->ports, sv->nports);
			add(V_OK, name, "cgroup %s runs %u process(es) of its own; guarded ports %s", sv->cgroup, procs, p);
			memset(&ids, 0, sizeof(ids));
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				cg_collect(fd, &ids, 0);
			check_server_listeners(name, sv, &ids);
		}
		check_server_webroot(name, sv);
	}
	nports = server_ports(cfg, ports);
	if (config_guard_marks(cfg, &cand, &guarded)) {
		add(V_FAIL, "serve marks", "socket_mark's mask 0x%x has no room for the two marks of server windows besides "
		    "0x%x: widen the mask", cfg->mark_mask, cfg->mark);
		return;
	}
	add(V_OK, "serve marks", "candidate 0x%x and guarded 0x%x within socket_mark's mask 0x%x, never given to a "
	    "session or a designation", cand, guarded, cfg->mark_mask);
	if (cfg->chains_mode == PH_CHAINS_NONE)
		check_guard_static(cfg, cand, guarded, ports, nports);
	if (!root)
		add(V_SKIP, "serve guard rules", "needs root to read the ruleset");
	else if (sc)
		check_guard_plan(cfg, sc, nports);
}

void usage_check(FILE *f)
{
	fprintf(f,
		"usage: porthole check [--json] [--config FILE]\n"
		"Check whether porthole can do its job on this host: kernel features, the daemon,\n"
		"the nftables chains that could drop validation traffic, the designations, and\n"
		"for each serve line: the server runs and listens, its webroot, the guard rules.\n"
		"Changes nothing. Exit 0: porthole can work here; 1: something fails (see the lines).\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *config = PH_DEFAULT_CONFIG, *sock = client_socket();
	int json = 0, opt, config_given = 0, fails = 0, root = geteuid() == 0;
	static struct ph_config cfg;
	struct nft_scan *sc;
	char err[512];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'c': config = optarg; config_given = 1; break;
		case 'h': usage_check(stdout); return 0;
		default: usage_check(stderr); return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("check: unexpected argument '%s'", argv[optind]);
		usage_check(stderr);
		return EX_USAGE_;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, config, !config_given, err, sizeof(err)) || config_resolve(&cfg, err, sizeof(err))) {
		add(V_FAIL, "config", "%s", err);
		config_defaults(&cfg);
	} else {
		char ports[64];
		format_ports(ports, sizeof(ports), cfg.ports, cfg.nports);
		add(V_OK, "config", "%s %s; ports %s, max_window %u s", config,
		    access(config, F_OK) ? "absent: built-in defaults" : "valid", ports, cfg.max_window);
	}
	if (!getenv("PORTHOLE_SOCKET") && strcmp(sock, cfg.socket) && !strcmp(sock, PH_DEFAULT_SOCKET))
		sock = cfg.socket;
	check_kernel(root, &cfg, config, config_given);
	check_daemon(sock);
	sc = check_chains(root, &cfg);
	check_iptables_legacy(root, &cfg);
	check_ip_rules(root, &cfg);
	check_designations(&cfg);
	check_servers(root, &cfg, sc);
	free(sc);

	for (unsigned i = 0; i < nchecks; i++)
		fails += checks[i].v == V_FAIL;
	if (json) {
		printf("{\"ok\":%s,\"checks\":[", fails ? "false" : "true");
		for (unsigned i = 0; i < nchecks; i++) {
			printf("%s{\"check\":", i ? "," : "");
			print_json_str(stdout, checks[i].name);
			printf(",\"verdict\":\"%s\",\"detail\":", vname[checks[i].v]);
			print_json_str(stdout, checks[i].detail);
			printf("}");
		}
		printf("]}\n");
	} else {
		for (unsigned i = 0; i < nchecks; i++)
			printf("%-5s %-40s %s\n", checks[i].v == V_OK ? "OK" : checks[i].v == V_WARN ? "WARN" :
			       checks[i].v == V_FAIL ? "FAIL" : "SKIP", checks[i].name, checks[i].detail);
		printf(fails ? "\nporthole cannot do its job on this host as it is: see the FAIL lines.\n"
			     : "\nporthole can open windows on this host.\n");
	}
	return fails ? 1 : 0;
}
