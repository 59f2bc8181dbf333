// SPDX-License-Identifier: GPL-2.0-or-later
/* Parser for porthole.conf (see config.h): defaults, the file and its
 * `key = value` lines, the global keys (ports, chains, socket_mark, paths),
 * the checks across lines, and the socket group. The designate and serve
 * lines, with their one option table, are in config_designate.c. */
#include "config.h"
#include "config_int.h"
#include "util.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_FILE_MAX (256 * 1024)

enum { K_SOCKET, K_GROUP, K_PORTS, K_MAXWIN, K_CHAINS, K_AUDIT, K_MARK, K_DESIGNATE, K_STATE, K_METRICS, K_SERVE, K_LINGER, K_DOCKER_ROOT, K_PODMAN_ROOT, K_PODMAN_RUNROOT, K_GUARD_DSCP, K_COUNT };
static const char *const key_names[K_COUNT] = {
	[K_SOCKET] = "socket", [K_GROUP] = "socket_group", [K_PORTS] = "ports",
	[K_MAXWIN] = "max_window", [K_CHAINS] = "chains", [K_AUDIT] = "audit_log",
	[K_MARK] = "socket_mark", [K_DESIGNATE] = "designate", [K_STATE] = "state_file", [K_METRICS] = "metrics_file",
	[K_SERVE] = "serve", [K_LINGER] = "host_rule_linger", [K_DOCKER_ROOT] = "docker_root",
	[K_PODMAN_ROOT] = "podman_root", [K_PODMAN_RUNROOT] = "podman_runroot", [K_GUARD_DSCP] = "guard_dscp",
};

void config_defaults(struct ph_config *c)
{
	memset(c, 0, sizeof(*c));
	copy_str(c->socket, sizeof(c->socket), PH_DEFAULT_SOCKET);
	copy_str(c->socket_group, sizeof(c->socket_group), PH_DEFAULT_GROUP);
	c->socket_gid = (gid_t)-1;
	c->ports[0] = 80;
	c->nports = 1;
	c->max_window = PH_DEFAULT_MAX_WINDOW;
	c->linger = PH_DEFAULT_LINGER;
	c->chains_auto = 1;
	c->chains_mode = PH_CHAINS_AUTO;
	copy_str(c->audit_log, sizeof(c->audit_log), PH_DEFAULT_AUDIT_LOG);
	copy_str(c->state_file, sizeof(c->state_file), PH_DEFAULT_STATE_FILE);
	c->mark = PH_DEFAULT_MARK;
	c->mark_mask = PH_DEFAULT_MARK_MASK;
	copy_str(c->docker_root, sizeof(c->docker_root), PH_DEFAULT_DOCKER_ROOT);
	copy_str(c->podman_root, sizeof(c->podman_root), PH_DEFAULT_PODMAN_ROOT);
	copy_str(c->podman_runroot, sizeof(c->podman_runroot), PH_DEFAULT_PODMAN_RUNROOT);
	c->guard_dscp = PH_GUARD_DSCP_DEFAULT;
}

const char *des_type_name(int type)
{
	switch (type) {
	case DES_UNIT: return "unit";
	case DES_CGROUP: return "cgroup";
	case DES_EXE: return "exe";
	case DES_UID: return "uid";
	case DES_CONTAINER: return "container";
	default: return "unknown";
	}
}

const char *engine_name(int engine)
{
	return engine == PH_ENGINE_DOCKER ? "docker" : engine == PH_ENGINE_PODMAN ? "podman" : "unknown";
}

static int ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Docker's rule (daemon/names: restrictedNamePattern), which Podman shares */
int container_name_valid(const char *name)
{
	if (!ascii_alnum(name[0]) || strlen(name) >= PH_CONTAINER_NAME_LEN)
		return 0;
	for (const char *p = name + 1; *p; p++)
		if (!ascii_alnum(*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	return 1;
}

const char *family_name(int family)
{
	switch (family) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_NETDEV: return "netdev";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_ARP: return "arp";
	default: return "unknown";
	}
}

int conf_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%u: %s", name, line, msg);
	else
		snprintf(err, errlen, "%s: %s", name, msg);
	return -EINVAL;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= PH_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

/* Split s in place on commas and blanks; returns the number of tokens. */
unsigned conf_words(char *s, char **tok, unsigned max, int *overflow)
{
	unsigned n = 0;
	char *save = NULL, *t;

	*overflow = 0;
	for (t = strtok_r(s, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (n == max) {
			*overflow = 1;
			break;
		}
		tok[n++] = t;
	}
	return n;
}

static int parse_ports(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el)
{
	char *tok[PH_MAX_PORTS];
	int overflow;
	unsigned n = conf_words(v, tok, PH_MAX_PORTS, &overflow);
	uint64_t p;

	if (overflow)
		return conf_err(err, el, name, ln, "ports: at most %d ports", PH_MAX_PORTS);
	if (n == 0)
		return conf_err(err, el, name, ln, "ports: empty list");
	for (unsigned i = 0; i < n; i++) {
		if (parse_u64(tok[i], 1, 65535, &p))
			return conf_err(err, el, name, ln, "ports: '%s' is not a port number (1-65535)", tok[i]);
		for (unsigned j = 0; j < i; j++)
			if (c->ports[j] == p)
				return conf_err(err, el, name, ln, "ports: %u listed twice", (unsigned)p);
		c->ports[i] = (uint16_t)p;
	}
	c->nports = n;
	return 0;
}

static int parse_chains(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el)
{
	char *save = NULL, *item;

	if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0) {
		c->chains_mode = v[0] == 'a' ? PH_CHAINS_AUTO : PH_CHAINS_NONE;
		c->chains_auto = c->chains_mode == PH_CHAINS_AUTO;
		c->nchains = 0;
		return 0;
	}
	c->chains_mode = PH_CHAINS_LIST;
	c->chains_auto = 0;
	c->nchains = 0;
	for (item = strtok_r(v, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char fam[16], tab[PH_NAME_LEN + 1], ch[PH_NAME_LEN + 1], extra[2];
		struct ph_chain_ref *r;
		int n;

		n = sscanf(item, " %15s %64s %64s %1s", fam, tab, ch, extra);
		if (n != 3)
			return conf_err(err, el, name, ln,
				      "chains: expected 'auto', 'none' or 'FAMILY TABLE CHAIN[, ...]', got '%s'", item);
		if (c->nchains == PH_MAX_CHAINS)
			return conf_err(err, el, name, ln, "chains: at most %d chains", PH_MAX_CHAINS);
		r = &c->chains[c->nchains];
		if (!strcmp(fam, "inet"))
			r->family = NFPROTO_INET;
		else if (!strcmp(fam, "ip"))
			r->family = NFPROTO_IPV4;
		else if (!strcmp(fam, "ip6"))
			r->family = NFPROTO_IPV6;
		else if (!strcmp(fam, "netdev") || !strcmp(fam, "bridge") || !strcmp(fam, "arp"))
			return conf_err(err, el, name, ln,
				      "chains: %s chains cannot match a socket; porthole cannot open them", fam);
		else
			return conf_err(err, el, name, ln, "chains: unknown family '%s' (inet, ip or ip6)", fam);
		if (!valid_name(tab) || !valid_name(ch))
			return conf_err(err, el, name, ln, "chains: invalid table or chain name in '%s'", item);
		for (unsigned i = 0; i < c->nchains; i++)
			if (c->chains[i].family == r->family && !strcmp(c->chains[i].table, tab) &&
			    !strcmp(c->chains[i].chain, ch))
				return conf_err(err, el, name, ln, "chains: %s %s %s listed twice", fam, tab, ch);
		copy_str(r->table, sizeof(r->table), tab);
		copy_str(r->chain, sizeof(r->chain), ch);
		c->nchains++;
	}
	if (c->nchains == 0)
		return conf_err(err, el, name, ln, "chains: empty list");
	return 0;
}

static char *trim(char *s);

static int parse_u32_any(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > 0xffffffffull)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* socket_mark = VALUE/MASK: the mark bits porthole owns (MASK) and the
 * value that marks an admitted packet (VALUE); the other values within MASK
 * name windows, so MASK needs at least two bits */
static int parse_mark(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el)
{
	char *slash = strchr(v, '/');
	uint32_t val, mask;

	if (!slash)
		return conf_err(err, el, name, ln, "socket_mark: expected VALUE/MASK, e.g. 0x1000000/0xff000000");
	*slash = '\0';
	if (parse_u32_any(trim(v), &val) || parse_u32_any(trim(slash + 1), &mask))
		return conf_err(err, el, name, ln, "socket_mark: VALUE and MASK must be 32-bit numbers");
	if (!mask || !val || (val & ~mask))
		return conf_err(err, el, name, ln, "socket_mark: VALUE must be nonzero and lie within MASK");
	if (__builtin_popcount(mask) < 2)
		return conf_err(err, el, name, ln, "socket_mark: MASK needs at least 2 bits (one value admits, the others name windows)");
	c->mark = val;
	c->mark_mask = mask;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_line(struct ph_config *c, char *line, const char *name, unsigned ln,
		      unsigned *seen, char *err, size_t el)
{
	char *hash, *eq, *key, *val;
	uint64_t u;
	int k;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	line = trim(line);
	if (!*line)
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return conf_err(err, el, name, ln, "expected 'key = value'");
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	for (k = 0; k < K_COUNT; k++)
		if (!strcmp(key, key_names[k]))
			break;
	if (k == K_COUNT)
		return conf_err(err, el, name, ln, "unknown key '%.64s'", key);
	if (seen[k] && k != K_DESIGNATE && k != K_SERVE)
		return conf_err(err, el, name, ln, "duplicate key '%s' (first set on line %u)", key, seen[k]);
	seen[k] = ln;
	if (!*val)
		return conf_err(err, el, name, ln, "%s: missing value", key);

	switch (k) {
	case K_SOCKET:
		if (val[0] != '/')
			return conf_err(err, el, name, ln, "socket: must be an absolute path");
		if (copy_str(c->socket, sizeof(c->socket), val))
			return conf_err(err, el, name, ln, "socket: path longer than %zu bytes", sizeof(c->socket) - 1);
		return 0;
	case K_GROUP:
		if (!valid_name(val))
			return conf_err(err, el, name, ln, "socket_group: invalid group name '%.64s'", val);
		copy_str(c->socket_group, sizeof(c->socket_group), val);
		c->socket_group_set = 1;
		return 0;
	case K_PORTS:
		return parse_ports(c, val, name, ln, err, el);
	case K_MAXWIN:
		if (parse_u64(val, 1, PH_MAX_WINDOW_LIMIT, &u))
			return conf_err(err, el, name, ln, "max_window: '%.32s' is not a number of seconds (1-%d)",
				      val, PH_MAX_WINDOW_LIMIT);
		c->max_window = (uint32_t)u;
		return 0;
	case K_LINGER:
		if (parse_u64(val, 0, PH_LINGER_LIMIT, &u))
			return conf_err(err, el, name, ln, "host_rule_linger: '%.32s' is not a number of seconds (0-%d)",
				      val, PH_LINGER_LIMIT);
		c->linger = (uint32_t)u;
		return 0;
	case K_GUARD_DSCP:
		/* 0 is every unmarked packet's; a served container's guard reads
		 * this codepoint as "guarded", and porthole's last forward chain
		 * takes it off every other packet it forwards */
	{
		char *end = NULL;
		unsigned long v;
		errno = 0;
		v = isdigit((unsigned char)val[0]) ? strtoul(val, &end, 0) : 0;
		if (errno || !end || *end || v < 1 || v > 63)
			return conf_err(err, el, name, ln, "guard_dscp: '%.32s' is not a DSCP codepoint (1-63, e.g. 0x03)", val);
		c->guard_dscp = (uint8_t)v;
		return 0;
	}
	case K_CHAINS:
		return parse_chains(c, val, name, ln, err, el);
	case K_MARK:
		return parse_mark(c, val, name, ln, err, el);
	case K_DESIGNATE:
		return conf_parse_designate(c, val, name, ln, err, el);
	case K_SERVE:
		return conf_parse_serve(c, val, name, ln, err, el);
	case K_METRICS:
		if (val[0] != '/')
			return conf_err(err, el, name, ln, "metrics_file: must be an absolute path");
		if (copy_str(c->metrics_file, sizeof(c->metrics_file), val))
			return conf_err(err, el, name, ln, "metrics_file: path too long");
		return 0;
	case K_STATE:
		if (val[0] != '/')
			return conf_err(err, el, name, ln, "state_file: must be an absolute path");
		if (copy_str(c->state_file, sizeof(c->state_file), val))
			return conf_err(err, el, name, ln, "state_file: path too long");
		return 0;
	case K_DOCKER_ROOT:
	case K_PODMAN_ROOT:
	case K_PODMAN_RUNROOT: {
		char *dst = k == K_DOCKER_ROOT ? c->docker_root : k == K_PODMAN_ROOT ? c->podman_root : c->podman_runroot;
		if (!path_abs_no_dotdot(val))
			return conf_err(err, el, name, ln, "%s: must be an absolute path without '..'", key);
		if (strlen(val) + 120 >= sizeof(c->docker_root) || copy_str(dst, sizeof(c->docker_root), val))
			return conf_err(err, el, name, ln, "%s: path too long", key);
		return 0;
	}
	case K_AUDIT:
		if (val[0] != '/')
			return conf_err(err, el, name, ln, "audit_log: must be an absolute path");
		if (copy_str(c->audit_log, sizeof(c->audit_log), val))
			return conf_err(err, el, name, ln, "audit_log: path too long");
		return 0;
	}
	return 0;
}

/* A designate or serve line's ports and max_window: within the global ones
 * (checked once the whole file is read: the globals may come later). */
static int within_globals(const struct ph_config *c, const char *what, const uint16_t *ports, unsigned nports,
			  uint32_t max_window, const char *name, unsigned line, char *err, size_t errlen)
{
	for (unsigned p = 0; p < nports; p++) {
		int ok = 0;
		for (unsigned q = 0; q < c->nports; q++)
			ok |= c->ports[q] == ports[p];
		if (!ok)
			return conf_err(err, errlen, name, line, "%s: port %u is not in 'ports' (only watched ports can open)",
					what, ports[p]);
	}
	if (max_window > c->max_window)
		return conf_err(err, errlen, name, line, "%s: max_window=%u exceeds max_window %u", what, max_window,
				c->max_window);
	return 0;
}

int config_parse(struct ph_config *out, const char *name, const char *buf, size_t len,
		 char *err, size_t errlen)
{
	unsigned seen[K_COUNT] = { 0 };
	struct ph_config c = *out;
	char line[PH_CONF_LINE_MAX + 1];
	size_t pos = 0;
	unsigned ln = 0;
	int r;

	if (memchr(buf, '\0', len))
		return conf_err(err, errlen, name, 0, "file contains a NUL byte");
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		ln++;
		if (l > PH_CONF_LINE_MAX)
			return conf_err(err, errlen, name, ln, "line longer than %d bytes", PH_CONF_LINE_MAX);
		memcpy(line, buf + pos, l);
		line[l] = '\0';
		r = parse_line(&c, line, name, ln, seen, err, errlen);
		if (r)
			return r;
		pos += l + (nl ? 1 : 0);
	}
	for (unsigned i = 0; i < c.ndes; i++) {
		r = within_globals(&c, "designate", c.des[i].ports, c.des[i].nports, c.des[i].max_window, name,
				   c.des[i].line, err, errlen);
		if (r)
			return r;
	}
	for (unsigned i = 0; i < c.nsrv; i++) {
		struct ph_server *sv = &c.srv[i];
		r = within_globals(&c, "serve", sv->ports, sv->nports, sv->max_window, name, sv->line, err, errlen);
		if (r)
			return r;
		for (unsigned j = 0; j < c.ndes; j++)
			if (sv->type == DES_CONTAINER ? c.des[j].type == DES_CONTAINER && c.des[j].engine == sv->engine &&
							!strcmp(c.des[j].name, sv->name)
						      : (c.des[j].type == DES_UNIT || c.des[j].type == DES_CGROUP) &&
							!strcmp(c.des[j].cgroup, sv->cgroup))
				return conf_err(err, errlen, name, c.des[j].line,
					      "designate: %s is served on line %u (a server's windows are guarded; it cannot "
					      "also be designated)", sv->type == DES_CONTAINER ? sv->arg : sv->cgroup, sv->line);
	}
	/* each designation needs a mark of its own, and sessions need some;
	 * servers need two more (candidate and guarded), container windows a
	 * third (CW: the third highest, whatever the other lines) */
	unsigned reserved = config_has_published(&c) ? 3u : c.nsrv ? 2u : 0u;
	if ((c.ndes || c.nsrv) && __builtin_popcount(c.mark_mask) < 31 &&
	    (1u << __builtin_popcount(c.mark_mask)) - 2 < c.ndes + 1 + reserved)
		return conf_err(err, errlen, name, c.ndes ? c.des[c.ndes - 1].line : c.srv[c.nsrv - 1].line,
			      "socket_mark: mask 0x%x has too few values for %u designations%s and any session",
			      c.mark_mask, c.ndes,
			      reserved == 3 ? ", the three marks of server and container windows"
			      : reserved ? ", the two marks of server windows" : "");
	*out = c;
	return 0;
}

int config_load(struct ph_config *c, const char *path, int missing_ok, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return 0;
		return conf_err(err, errlen, path, 0, "cannot open: %s", strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return conf_err(err, errlen, path, 0, "not a regular file");
	}
	if (st.st_size > CONF_FILE_MAX) {
		close(fd);
		return conf_err(err, errlen, path, 0, "larger than %d bytes", CONF_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	r = config_parse(c, path, buf, off, err, errlen);
	free(buf);
	return r;
}

int config_resolve(struct ph_config *c, char *err, size_t errlen)
{
	struct group *g;
	uint64_t gid;

	if (!parse_u64(c->socket_group, 0, 0xfffffffeu, &gid)) {
		c->socket_gid = (gid_t)gid;
		return 0;
	}
	g = getgrnam(c->socket_group);
	if (g) {
		c->socket_gid = g->gr_gid;
		return 0;
	}
	if (c->socket_group_set)
		return conf_err(err, errlen, "socket_group", 0, "group '%s' does not exist", c->socket_group);
	c->socket_gid = (gid_t)-1; /* default group absent: root only */
	return 0;
}
