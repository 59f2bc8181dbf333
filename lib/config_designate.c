// SPDX-License-Identifier: GPL-2.0-or-later
/* The two lines of porthole.conf that name processes (see config.h):
 * `designate =` (a unit, cgroup, executable or uid whose sockets get plain
 * windows) and `serve =` (a web server whose windows are guarded). Both
 * name a unit or cgroup the same way and read their options through one
 * table; the warnings `porthole check` prints for a designation that would
 * designate more than meant are here too. */
#include "config.h"
#include "config_int.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static int valid_unit(const char *u)
{
	const char *dot = strrchr(u, '.');

	if (!dot || (strcmp(dot, ".service") && strcmp(dot, ".scope")) || dot == u || strlen(u) > 200)
		return 0;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr(":_.@-\\", *u))
			return 0;
	return 1;
}

/* an absolute, normal path below the cgroup v2 root, never the root */
static int valid_cgroup_path(const char *arg)
{
	size_t n = strlen(arg);

	return arg[0] == '/' && !strstr(arg, "/../") && !strstr(arg, "/./") && !strstr(arg, "//") && n > 1 &&
	       arg[n - 1] != '/' && !(n >= 3 && !strcmp(arg + n - 3, "/..")) && !(n >= 2 && !strcmp(arg + n - 2, "/."));
}

/* 1 and the interpreter's name if path starts with "#!" (through env). */
static int script_interpreter(const char *path, char *interp, size_t len)
{
	char buf[256], *p, *e;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = '\0';
	p = buf + 2;
	p[strcspn(p, "\n")] = '\0';
	p += strspn(p, " \t");
	e = p + strcspn(p, " \t");
	if (e - p >= 4 && !strncmp(e - 4, "/env", 4) && *e) {
		p = e + strspn(e, " \t");
		if (!strncmp(p, "-S", 2))
			p += 2 + strspn(p + 2, " \t");
		e = p + strcspn(p, " \t");
	}
	*e = '\0';
	snprintf(interp, len, "%s", *p ? p : "an interpreter");
	return 1;
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int config_designation_warning(const struct ph_designation *d, char *buf, size_t len)
{
	static const char *const interpreters[] = {
		"python", "perl", "ruby", "node", "nodejs", "php", "java", "sh", "bash", "dash", "zsh", "ksh", "busybox",
		"toybox", "socat", "nc", "ncat", "env", "tclsh", "lua", "guile", NULL,
	};
	static const char *const shared_users[] = { "nobody", "www-data", "daemon", "nginx", "apache", "http", "caddy", NULL };
	static const char *const broad_cgroups[] = { "/system.slice", "/user.slice", "/init.scope", "/machine.slice", NULL };

	if (d->type == DES_EXE) {
		char real[PATH_MAX];
		struct stat st;
		const char *b;
		if (!realpath(d->arg, real))
			copy_str(real, sizeof(real), d->arg);
		b = base_of(real);
		for (unsigned i = 0; interpreters[i]; i++) {
			size_t l = strlen(interpreters[i]);
			/* python3, python3.11, perl5.36...: the name and a version */
			if (!strncmp(b, interpreters[i], l) && (!b[l] || strspn(b + l, "0123456789.") == strlen(b + l))) {
				snprintf(buf, len, "%s is an interpreter or a multi-call binary: every program it runs is "
					 "designated; designate a unit or a uid instead", real);
				return 1;
			}
		}
		if (stat(real, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
			snprintf(buf, len, "%s is set%s: any local user who can run it gets windows", real,
				 st.st_mode & S_ISUID ? "uid" : "gid");
			return 1;
		}
		if (getxattr(real, "security.capability", NULL, 0) > 0) {
			snprintf(buf, len, "%s has file capabilities (e.g. cap_net_bind_service): any local user who can run "
				 "it gets windows", real);
			return 1;
		}
	} else if (d->type == DES_UID) {
		struct passwd *pw = getpwuid(d->uid);
		for (unsigned i = 0; pw && shared_users[i]; i++) {
			if (!strcmp(pw->pw_name, shared_users[i])) {
				snprintf(buf, len, "uid %u (%s) is a shared service account: every process of it is designated",
					 d->uid, pw->pw_name);
				return 1;
			}
		}
		if (d->uid == 65534) {
			snprintf(buf, len, "uid 65534 (nobody) is shared by many services: every process of it is designated");
			return 1;
		}
	} else {
		for (unsigned i = 0; broad_cgroups[i]; i++) {
			if (!strcmp(d->cgroup, broad_cgroups[i])) {
				snprintf(buf, len, "cgroup %s holds many services: every process below it is designated", d->cgroup);
				return 1;
			}
		}
	}
	return 0;
}

/* ---- one table for the options of both lines ---------------------------------- */

enum { OPT_DES = 1, OPT_SRV = 2 };

struct opt_ctx {
	const char *what;         /* "designate" or "serve": the messages' prefix */
	unsigned kind;            /* OPT_DES or OPT_SRV */
	uint16_t *ports;
	unsigned *nports;
	uint32_t *max_window;
	struct ph_server *sv;     /* serve only */
	struct ph_designation *des; /* designate only */
	const char *name;
	unsigned ln;
	char *err;
	size_t el;
};

static int opt_ports(struct opt_ctx *o, const char *opt, char *val)
{
	char *tok[PH_MAX_PORTS];
	int overflow;
	unsigned n = conf_words(val, tok, PH_MAX_PORTS, &overflow);
	uint64_t x;

	(void)opt;
	if (overflow || n == 0)
		return conf_err(o->err, o->el, o->name, o->ln, "%s: ports= takes 1 to %d ports", o->what, PH_MAX_PORTS);
	for (unsigned i = 0; i < n; i++) {
		if (parse_u64(tok[i], 1, 65535, &x))
			return conf_err(o->err, o->el, o->name, o->ln, "%s: ports=: '%s' is not a port number", o->what,
					tok[i]);
		o->ports[i] = (uint16_t)x;
	}
	*o->nports = n;
	return 0;
}

static int opt_max_window(struct opt_ctx *o, const char *opt, char *val)
{
	uint64_t x;

	(void)opt;
	if (parse_u64(val, 1, PH_MAX_WINDOW_LIMIT, &x))
		return conf_err(o->err, o->el, o->name, o->ln, "%s: max_window= must be 1-%d seconds", o->what,
				PH_MAX_WINDOW_LIMIT);
	*o->max_window = (uint32_t)x;
	return 0;
}

/* webroot=DIR: a directory of token files; caddy=DIR: of Caddy's pending
 * challenges (below it: room for the parts porthole adds) */
static int opt_tokens(struct opt_ctx *o, const char *opt, char *w)
{
	int web = opt[0] == 'w';
	const char *what = web ? "webroot" : "caddy";
	char *dst = web ? o->sv->webroot : o->sv->caddy;
	struct stat st;

	if (!path_abs_no_dotdot(w))
		return conf_err(o->err, o->el, o->name, o->ln, "serve: %s= must be an absolute path without '..'", what);
	if (copy_str(dst, sizeof(o->sv->webroot), w) || strlen(w) + (web ? 40 : 80) >= sizeof(o->sv->webroot))
		return conf_err(o->err, o->el, o->name, o->ln, "serve: %s= path too long", what);
	if (stat(w, &st) < 0)
		return conf_err(o->err, o->el, o->name, o->ln, "serve: %s %.64s: %s", what, w, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return conf_err(o->err, o->el, o->name, o->ln, "serve: %s %.64s is not a directory", what, w);
	return 0;
}

/* published: a container's listener in this cgroup, in its own network
 * namespace, gets its window through the host's DNAT (unit/cgroup only) */
static int opt_published(struct opt_ctx *o, const char *opt, char *val)
{
	(void)opt;
	(void)val;
	if (o->des->type != DES_UNIT && o->des->type != DES_CGROUP && o->des->type != DES_CONTAINER)
		return conf_err(o->err, o->el, o->name, o->ln,
				"designate: published is for unit, cgroup and container designations (a container is "
				"found by its cgroup)");
	o->des->published = 1;
	return 0;
}

static int opt_always(struct opt_ctx *o, const char *opt, char *val)
{
	(void)opt;
	(void)val;
	o->sv->always = 1;
	return 0;
}

/* "key=" takes a value, "key" stands alone; in this order in the message
 * that lists them */
static const struct {
	const char *key;
	unsigned lines;
	int (*parse)(struct opt_ctx *o, const char *opt, char *val);
} line_opts[] = {
	{ "webroot=", OPT_SRV, opt_tokens },
	{ "caddy=", OPT_SRV, opt_tokens },
	{ "always", OPT_SRV, opt_always },
	{ "published", OPT_DES, opt_published },
	{ "ports=", OPT_DES | OPT_SRV, opt_ports },
	{ "max_window=", OPT_DES | OPT_SRV, opt_max_window },
};

static int parse_opts(struct opt_ctx *o, char **save)
{
	char *opt;

	while ((opt = strtok_r(NULL, " \t", save))) {
		unsigned i, n = sizeof(line_opts) / sizeof(line_opts[0]);
		int r;
		for (i = 0; i < n; i++) {
			const char *k = line_opts[i].key;
			size_t kl = strlen(k);
			if ((line_opts[i].lines & o->kind) && (k[kl - 1] == '=' ? !strncmp(opt, k, kl) : !strcmp(opt, k)))
				break;
		}
		if (i == n) {
			char list[128] = "";
			for (i = 0; i < n; i++)
				if (line_opts[i].lines & o->kind)
					snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? ", " : "",
						 line_opts[i].key);
			return conf_err(o->err, o->el, o->name, o->ln, "%s: unknown option '%.32s' (%s)", o->what, opt,
					list);
		}
		r = line_opts[i].parse(o, opt, opt + strlen(line_opts[i].key));
		if (r)
			return r;
	}
	return 0;
}

/* `unit NAME` or `cgroup PATH`: the cgroup path both lines resolve to; 1 when
 * type is neither (the caller knows more types or says it is unknown) */
static int parse_cgroup_target(struct opt_ctx *o, const char *type, const char *arg, const char *example, int *t,
			       char *cgroup, size_t len)
{
	if (!strcmp(type, "unit")) {
		*t = DES_UNIT;
		if (!valid_unit(arg))
			return conf_err(o->err, o->el, o->name, o->ln, "%s unit: '%.64s' is not a unit name like %s", o->what,
					arg, example);
		snprintf(cgroup, len, "/system.slice/%s", arg);
		return 0;
	}
	if (!strcmp(type, "cgroup")) {
		*t = DES_CGROUP;
		if (!valid_cgroup_path(arg))
			return conf_err(o->err, o->el, o->name, o->ln,
					"%s cgroup: '%.64s' must be an absolute path below the cgroup v2 root, like "
					"/system.slice/%s", o->what, arg, example);
		copy_str(cgroup, len, arg);
		return 0;
	}
	return 1;
}

/* ---- designate = TYPE ARG [ports=P,...] [max_window=S] ---------------------------- */

static int parse_exe(struct ph_designation *d, const char *arg, const char *name, unsigned ln, char *err, size_t el)
{
	struct stat st;
	/* a script is run by its interpreter: the kernel sees python3, never
	 * certbot, and designating python3 would designate every Python program */
	char interp[128];

	d->type = DES_EXE;
	if (arg[0] != '/')
		return conf_err(err, el, name, ln, "designate exe: '%.64s' must be an absolute path", arg);
	if (stat(arg, &st) < 0)
		return conf_err(err, el, name, ln, "designate exe: %.64s: %s", arg, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return conf_err(err, el, name, ln, "designate exe: %.64s is not a regular file", arg);
	/* whoever can replace the file could become designated */
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return conf_err(err, el, name, ln,
				"designate exe: %.64s must be owned by root and not writable by group or others", arg);
	if (script_interpreter(arg, interp, sizeof(interp)) == 1)
		return conf_err(err, el, name, ln,
				"designate exe: %.64s is a script run by %s: the kernel sees the interpreter, "
				"not the script; designate its unit (designate = unit NAME.service) or its "
				"user (designate = uid USER) instead", arg, interp);
	d->dev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev); /* the kernel's s_dev */
	d->ino = st.st_ino;
	return 0;
}

static int parse_uid(struct ph_designation *d, const char *arg, const char *name, unsigned ln, char *err, size_t el)
{
	uint64_t u;

	d->type = DES_UID;
	if (!parse_u64(arg, 0, 0xfffffffeu, &u)) {
		d->uid = (uint32_t)u;
	} else {
		struct passwd *pw = getpwnam(arg);
		if (!pw)
			return conf_err(err, el, name, ln, "designate uid: no user '%.64s'", arg);
		d->uid = pw->pw_uid;
	}
	if (d->uid == 0)
		return conf_err(err, el, name, ln, "designate uid: root cannot be designated (every daemon of the host runs as root)");
	return 0;
}

/* container ENGINE:NAME: the container the engine's root-owned state names
 * (daemon/engine_state.c); always `published` (its listener is in its own
 * network namespace, reached through the host's DNAT) */
static int parse_engine_name(const char *what, int *engine, char *cname, const char *arg, const char *name,
			     unsigned ln, char *err, size_t el)
{
	const char *colon = strchr(arg, ':');
	size_t elen = colon ? (size_t)(colon - arg) : 0;

	if (!colon)
		return conf_err(err, el, name, ln, "%s container: '%.64s' must be ENGINE:NAME, like docker:%s "
				"or podman:%s", what, arg, *what == 's' ? "nginx" : "certbot", *what == 's' ? "nginx" : "certbot");
	if (elen == 6 && !strncmp(arg, "docker", 6))
		*engine = PH_ENGINE_DOCKER;
	else if (elen == 6 && !strncmp(arg, "podman", 6))
		*engine = PH_ENGINE_PODMAN;
	else
		return conf_err(err, el, name, ln, "%s container: unknown engine '%.*s' (docker or podman)", what,
				(int)(elen > 32 ? 32 : elen), arg);
	if (!container_name_valid(colon + 1))
		return conf_err(err, el, name, ln, "%s container: '%.64s' is not a container name "
				"([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most %d characters)", what, colon + 1, PH_CONTAINER_NAME_LEN - 1);
	copy_str(cname, PH_CONTAINER_NAME_LEN, colon + 1);
	return 0;
}

static int parse_container(struct ph_designation *d, const char *arg, const char *name, unsigned ln, char *err,
			   size_t el)
{
	d->type = DES_CONTAINER;
	d->published = 1;
	return parse_engine_name("designate", &d->engine, d->name, arg, name, ln, err, el);
}

int conf_parse_designate(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el)
{
	char *save = NULL, *type, *arg;
	struct ph_designation *d;
	struct opt_ctx o = { .what = "designate", .kind = OPT_DES, .name = name, .ln = ln, .err = err, .el = el };
	int r;

	if (c->ndes == PH_MAX_DESIGNATIONS)
		return conf_err(err, el, name, ln, "designate: at most %d designations", PH_MAX_DESIGNATIONS);
	d = &c->des[c->ndes];
	memset(d, 0, sizeof(*d));
	d->line = ln;
	type = strtok_r(v, " \t", &save);
	arg = strtok_r(NULL, " \t", &save);
	if (!type || !arg)
		return conf_err(err, el, name, ln, "designate: expected 'unit NAME', 'cgroup PATH', 'exe PATH', 'uid USER' "
				"or 'container ENGINE:NAME'");
	if (copy_str(d->arg, sizeof(d->arg), arg))
		return conf_err(err, el, name, ln, "designate: argument too long");
	r = parse_cgroup_target(&o, type, arg, "certbot.service", &d->type, d->cgroup, sizeof(d->cgroup));
	if (r == 1) {
		if (!strcmp(type, "exe"))
			r = parse_exe(d, arg, name, ln, err, el);
		else if (!strcmp(type, "uid"))
			r = parse_uid(d, arg, name, ln, err, el);
		else if (!strcmp(type, "container"))
			r = parse_container(d, arg, name, ln, err, el);
		else
			r = conf_err(err, el, name, ln, "designate: unknown type '%.32s' (unit, cgroup, exe, uid or container)",
				     type);
	}
	if (r)
		return r;
	o.ports = d->ports;
	o.nports = &d->nports;
	o.max_window = &d->max_window;
	o.des = d;
	r = parse_opts(&o, &save);
	if (r)
		return r;
	for (unsigned i = 0; i < c->ndes; i++)
		if (c->des[i].type == d->type && !strcmp(c->des[i].arg, d->arg))
			return conf_err(err, el, name, ln, "designate: %s %s already designated on line %u",
					des_type_name(d->type), d->arg, c->des[i].line);
	c->ndes++;
	return 0;
}

/* ---- serve = unit NAME | cgroup PATH [webroot=DIR | caddy=DIR | always] ... ------- */

/* a web server that holds the port; its windows are guarded */
int conf_parse_serve(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el)
{
	char *save = NULL, *type, *arg;
	struct ph_server *sv;
	struct opt_ctx o = { .what = "serve", .kind = OPT_SRV, .name = name, .ln = ln, .err = err, .el = el };
	int r;

	if (c->nsrv == PH_MAX_SERVERS)
		return conf_err(err, el, name, ln, "serve: at most %d servers", PH_MAX_SERVERS);
	sv = &c->srv[c->nsrv];
	memset(sv, 0, sizeof(*sv));
	sv->line = ln;
	type = strtok_r(v, " \t", &save);
	arg = strtok_r(NULL, " \t", &save);
	if (!type || !arg)
		return conf_err(err, el, name, ln, "serve: expected 'unit NAME', 'cgroup PATH' or 'container ENGINE:NAME', "
				"then webroot=DIR, caddy=DIR or always");
	if (copy_str(sv->arg, sizeof(sv->arg), arg))
		return conf_err(err, el, name, ln, "serve: argument too long");
	r = parse_cgroup_target(&o, type, arg, "nginx.service", &sv->type, sv->cgroup, sizeof(sv->cgroup));
	if (r == 1 && !strcmp(type, "container")) {
		/* a web server in a container (docs/design/containers.md §5):
		 * webroot= is the host path of its volume */
		sv->type = DES_CONTAINER;
		r = parse_engine_name("serve", &sv->engine, sv->name, arg, name, ln, err, el);
	} else if (r == 1) {
		return conf_err(err, el, name, ln, "serve: unknown type '%.32s' (unit, cgroup or container)", type);
	}
	if (r)
		return r;
	o.ports = sv->ports;
	o.nports = &sv->nports;
	o.max_window = &sv->max_window;
	o.sv = sv;
	r = parse_opts(&o, &save);
	if (r)
		return r;
	if (sv->always && (sv->webroot[0] || sv->caddy[0]))
		return conf_err(err, el, name, ln, "serve: %s and always exclude each other (always: no tokens to watch)",
				sv->webroot[0] ? "webroot=" : "caddy=");
	if (sv->webroot[0] && sv->caddy[0])
		return conf_err(err, el, name, ln, "serve: webroot= and caddy= exclude each other (one source of tokens)");
	/* (a container's always window opens when its listener appears: it
	 * may be bounded, then closed until the container listens anew) */
	if (sv->always && sv->max_window && sv->type != DES_CONTAINER)
		return conf_err(err, el, name, ln, "serve: max_window= means nothing with always (its window never closes)");
	if (!sv->nports) {
		sv->ports[0] = 80; /* the guard reads plain HTTP: HTTP-01 is port 80 */
		sv->nports = 1;
	}
	if (sv->type == DES_CONTAINER) {
		/* (one of them is required: no `porthole run --serve` names a
		 * container, so a line without one would never open) */
		if (!sv->webroot[0] && !sv->caddy[0] && !sv->always)
			return conf_err(err, el, name, ln, "serve container: webroot=HOST_PATH, caddy=HOST_PATH or always "
					"is required (the host path of the container's webroot volume, of Caddy's storage "
					"volume, or always for a server whose tokens are nowhere on the host: Traefik)");
		for (unsigned i = 0; i < c->nsrv; i++)
			if (c->srv[i].type == DES_CONTAINER && c->srv[i].engine == sv->engine && !strcmp(c->srv[i].name, sv->name))
				return conf_err(err, el, name, ln, "serve: %s already served on line %u", sv->arg, c->srv[i].line);
		for (unsigned i = 0; i < c->ndes; i++)
			if (c->des[i].type == DES_CONTAINER && c->des[i].engine == sv->engine && !strcmp(c->des[i].name, sv->name))
				return conf_err(err, el, name, ln, "serve: %s is designated on line %u (a designated container "
						"gets an unguarded window; a server cannot also be designated)", sv->arg,
						c->des[i].line);
		c->nsrv++;
		return 0;
	}
	for (unsigned i = 0; i < c->nsrv; i++)
		if (c->srv[i].type != DES_CONTAINER && !strcmp(c->srv[i].cgroup, sv->cgroup))
			return conf_err(err, el, name, ln, "serve: %s already served on line %u", sv->cgroup, c->srv[i].line);
	for (unsigned i = 0; i < c->ndes; i++)
		if ((c->des[i].type == DES_UNIT || c->des[i].type == DES_CGROUP) && !strcmp(c->des[i].cgroup, sv->cgroup))
			return conf_err(err, el, name, ln, "serve: %s is designated on line %u (a designated process gets "
					"an unguarded window; a server cannot also be designated)", sv->cgroup, c->des[i].line);
	c->nsrv++;
	return 0;
}
