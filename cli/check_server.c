// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check, the serve lines' part: what a server window would meet.
 * The server running and listening on its ports (sock_diag, by socket
 * cgroup), a webroot only trusted hands can write, and where the guard
 * rules would go (the daemon's own planner over the live ruleset), or the
 * static rules to write by hand with chains = none. */
#include "cli.h"
#include "check.h"
#include "check_access.h"
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
#include <netinet/tcp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define add check_add

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
	char paths[3][sizeof(path)], absent[sizeof(path) + 64] = "";
	const char *pp[3];
	struct stat st[3];
	unsigned n;
	int lerr = 0, warn = 0;

	snprintf(wname, sizeof(wname), "%s webroot", name);
	if (sv->always) {
		add(V_OK, wname, "always: no token files; the window is open whenever the server runs, and the guard "
		    "admits a challenge request for any token");
		return;
	}
	if (sv->caddy[0]) {
		snprintf(wname, sizeof(wname), "%s caddy storage", name);
		snprintf(path, sizeof(path), "%s", sv->caddy);
		if (lstat(path, &st[0]) < 0 || !S_ISDIR(st[0].st_mode)) {
			add(V_FAIL, wname, "%s: %s", path, errno && lstat(path, &st[0]) < 0 ? strerror(errno) : "not a directory");
			return;
		}
		if (access(path, R_OK | X_OK)) {
			add(V_FAIL, wname, "%s: %s: portholed cannot read Caddy's pending challenges there", path,
			    strerror(errno));
			return;
		}
		{
			/* the daemon's user (portholed.service: porthole) */
			const char *one_path[] = { path };
			char who[128];
			unsigned first;
			if (daemon_may_read(one_path, 1, &first, who, sizeof(who)) == 0) {
				add(V_FAIL, wname, "%s: mode %04o, uid %u: %s cannot read it, so no challenge there "
				    "opens a window; Caddy makes its storage 0700: add CAP_DAC_READ_SEARCH to "
				    "AmbientCapabilities= and CapabilityBoundingSet= in a drop-in (systemctl edit "
				    "portholed)", path, (unsigned)(st[0].st_mode & 07777), (unsigned)st[0].st_uid, who);
				return;
			}
		}
		if (dir_writers(path, &st[0], one, sizeof(one))) {
			add(V_WARN, wname, "%s: whoever can write there can open a window (a challenge file opens it); "
			    "chmod g-w,o-w it", one);
			return;
		}
		add(V_OK, wname, "%s: a directory of uid %u, not writable by group or others: Caddy's pending HTTP-01 "
		    "challenges there open and close the window", path, (unsigned)st[0].st_uid);
		return;
	}
	if (!sv->webroot[0]) {
		add(V_OK, wname, "neither webroot= nor always: windows open only for porthole run --serve, and admit a "
		    "challenge request for any token");
		return;
	}
	/* the levels that are directories: as root, before one child asks them
	 * all as the daemon's user; the first fault of either kind is said */
	for (n = 0; n < 3; n++) {
		snprintf(paths[n], sizeof(paths[n]), "%s%s", sv->webroot, sub[n]);
		lerr = lstat(paths[n], &st[n]) < 0 ? errno : 0;
		if (lerr || !S_ISDIR(st[n].st_mode))
			break;
		pp[n] = paths[n];
	}
	if (n) {
		/* the daemon's user (portholed.service: porthole) */
		char who[128];
		unsigned first;
		if (daemon_may_read(pp, n, &first, who, sizeof(who)) == 0) {
			add(V_FAIL, wname, "%s: %s cannot read it, so no token there opens a window: give that "
			    "user read access (setfacl -m u:%s:rx %s) or add CAP_DAC_READ_SEARCH in a drop-in "
			    "(systemctl edit portholed)", paths[first], who, PH_DAEMON_USER, paths[first]);
			return;
		}
	}
	if (n < 3) {
		if (lerr == ENOENT && n) {
			snprintf(absent, sizeof(absent), "; %s does not exist yet (the ACME client makes it)", paths[n]);
		} else if (lerr) {
			add(V_FAIL, wname, "%s: %s", paths[n], strerror(lerr));
			return;
		} else if (S_ISLNK(st[n].st_mode)) {
			add(V_FAIL, wname, "%s is a symbolic link: portholed does not follow it, so no token there opens a "
			    "window; make it a directory", paths[n]);
			return;
		} else {
			add(V_FAIL, wname, "%s is not a directory: no token there can open a window", paths[n]);
			return;
		}
	}
	for (unsigned level = 0; level < n; level++) {
		if (dir_writers(paths[level], &st[level], one, sizeof(one))) {
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
	    "below it is writable by group or others%s", sv->webroot, (unsigned)st[0].st_uid, absent);
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

void check_servers(int root, const struct ph_config *cfg, const struct nft_scan *sc)
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
		if (sv->type == DES_CONTAINER) {
			char cports[64] = "";
			for (unsigned p = 0; p < sv->nports; p++)
				snprintf(cports + strlen(cports), sizeof(cports) - strlen(cports), "%s%u", p ? "," : "", sv->ports[p]);
			add(V_OK, name, "a web server in a container: a guarded window%s opens while %sa process of the "
			    "container the engine's state names %s listens on tcp/%s in its own network namespace (through "
			    "the host's DNAT to it; the guard pair at the host's forward drop points; guard_dscp 0x%02x)",
			    !sv->always ? "" : sv->max_window ? " (always: a challenge for any token, for max_window= after "
			    "the listener appears)" : " (always: a challenge for any token, no deadline)", sv->always ? "" :
			    sv->caddy[0] ? "a challenge is pending in Caddy's storage and " : "a token is in its webroot and ",
			    sv->name, cports, cfg->guard_dscp);
		} else if (!have_mount) {
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
