// SPDX-License-Identifier: GPL-2.0-or-later
/* Where a server window's live tokens come from, and the inotify watches
 * that say when they change. Two sources:
 * - a webroot (certbot --webroot, lego --http.webroot, dehydrated): every
 *   regular file with a token-shaped name in WEBROOT/.well-known/acme-challenge;
 * - Caddy's storage (serve = ... caddy=DIR): CertMagic writes each pending
 *   HTTP-01 challenge to DIR/acme/ISSUER/challenge_tokens/DOMAIN.json (its
 *   "distributed solving") and removes it when done; the token is that
 *   file's "token" member.
 * Every directory on the way is watched as far as it exists (the parent's
 * watch tells when the next one appears); any event reads the whole source
 * again, which also arms the watches of directories that appeared. The same
 * inotify instance watches each served cgroup's parent (a restart removes
 * the cgroup and makes it anew). Every change is handed to server.c's
 * verbs; the watches are this file's own state. */
#include "server.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PH_TOKEN_WATCHES 32

/* one serve line's watches */
struct tokwatch {
	int wd[PH_TOKEN_WATCHES]; /* the token source's directories */
	unsigned nwd;
	int err;          /* why the first of them could not be watched */
	int denied_said;  /* a token directory the daemon may not read: said once */
	int cg_wd;        /* the served cgroup's parent */
};

struct ph_tokens {
	struct tokwatch s[PH_MAX_SERVERS];
};

int tokens_init(struct ph_daemon *d)
{
	d->tokens = calloc(1, sizeof(*d->tokens));
	if (!d->tokens)
		return -ENOMEM;
	for (unsigned i = 0; i < PH_MAX_SERVERS; i++)
		d->tokens->s[i].cg_wd = -1;
	return 0;
}

void tokens_free(struct ph_daemon *d)
{
	free(d->tokens);
	d->tokens = NULL;
}

#define CHALLENGE_DIR "/.well-known/acme-challenge"
#define CADDY_FILE_MAX 16384 /* a challenge's JSON is a few hundred bytes */
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE_SELF | \
		    IN_MOVE_SELF | IN_ONLYDIR)

int token_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > PH_TOKEN_MAX)
		return 0;
	for (; *t; t++)
		if (!PH_TOKEN_CHAR(*t))
			return 0;
	return 1;
}

const char *tokens_webroot(const struct ph_daemon *d, unsigned i)
{
	return d->cfg.srv[i].webroot[0] ? d->cfg.srv[i].webroot : server_window(d, i)->webroot;
}

int tokens_source(const struct ph_daemon *d, unsigned i)
{
	return tokens_webroot(d, i)[0] || d->cfg.srv[i].caddy[0];
}

/* watch dir (the first one given may be a symlink; below it, nothing is
 * followed); 0, or -1 when it is not there (yet) */
static int watch(struct ph_daemon *d, unsigned i, const char *dir, int follow)
{
	struct tokwatch *w = &d->tokens->s[i];
	int wd = inotify_add_watch(d->srv_inofd, dir, WATCH_MASK | (follow ? 0 : IN_DONT_FOLLOW));

	if (wd < 0) {
		if (!w->nwd && !w->err)
			w->err = errno;
		/* not there yet is normal; not readable would hide every token */
		if (errno == EACCES && !w->denied_said) {
			w->denied_said = 1;
			log_warn("server %s: cannot read %s (%s): no token there opens a window; portholed runs as uid %u "
				 "without CAP_DAC_READ_SEARCH: give that user read access (an ACL) or the capability "
				 "(README: Running under systemd)",
				 d->cfg.srv[i].arg, dir, strerror(EACCES), (unsigned)geteuid());
		}
		return -1;
	}
	for (unsigned k = 0; k < w->nwd; k++)
		if (w->wd[k] == wd)
			return 0; /* watched already (inotify gives the same wd) */
	if (w->nwd == PH_TOKEN_WATCHES) {
		log_warn("server %s: more than %d directories to watch for tokens; %s is not watched",
			 d->cfg.srv[i].arg, PH_TOKEN_WATCHES, dir);
		inotify_rm_watch(d->srv_inofd, wd);
		return -1;
	}
	w->wd[w->nwd++] = wd;
	return 0;
}

static int add_token(const struct ph_daemon *d, unsigned i, const char *t, char (*now)[PH_TOKEN_MAX + 1], unsigned *n)
{
	for (unsigned k = 0; k < *n; k++)
		if (!strcmp(now[k], t))
			return 0; /* two domains, one token: one entry */
	if (*n == PH_MAX_SERVER_TOKENS) {
		log_warn("server %s: more than %d tokens at once; the others are not admitted", d->cfg.srv[i].arg,
			 PH_MAX_SERVER_TOKENS);
		return -1;
	}
	copy_str(now[(*n)++], PH_TOKEN_MAX + 1, t);
	return 0;
}

static void read_webroot(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n)
{
	static const char *const sub[] = { "", "/.well-known", CHALLENGE_DIR };
	const char *root = tokens_webroot(d, i);
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *dp;
	int fd;

	for (int level = 0; level < 3; level++) {
		snprintf(dir, sizeof(dir), "%s%s", root, sub[level]);
		if (watch(d, i, dir, level == 0))
			return; /* not there yet: its parent's watch tells when it is */
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp && fd >= 0)
		close(fd);
	while (dp && (de = readdir(dp))) {
		struct stat st;
		if (!token_valid(de->d_name) || fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (add_token(d, i, de->d_name, now, n))
			break;
	}
	if (dp)
		closedir(dp);
}

/* the token of one of Caddy's challenge files (dfd/name), or "" */
static void caddy_token(int dfd, const char *name, char *tok, size_t len)
{
	char buf[CADDY_FILE_MAX];
	struct stat st;
	ssize_t r;
	int fd;

	tok[0] = '\0';
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (off_t)sizeof(buf)) {
		r = read(fd, buf, sizeof(buf));
		if (r > 0 && json_valid_object(buf, (size_t)r) == 0 && json_get_str(buf, (size_t)r, "token", tok, len))
			tok[0] = '\0';
	}
	close(fd);
	if (tok[0] && !token_valid(tok))
		tok[0] = '\0';
}

/* DIR/acme/ISSUER/challenge_tokens/DOMAIN.json */
static void read_caddy(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n)
{
	const char *root = d->cfg.srv[i].caddy;
	char dir[PATH_MAX], sub[PATH_MAX + 300], tok[PH_TOKEN_MAX + 2];
	struct dirent *de, *ce;
	DIR *acme, *ch;
	int fd;

	snprintf(dir, sizeof(dir), "%s/acme", root);
	if (watch(d, i, root, 1) || watch(d, i, dir, 0))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	acme = fd >= 0 ? fdopendir(fd) : NULL;
	if (!acme) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(acme))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (watch(d, i, sub, 0))
			continue; /* not a directory, or gone */
		snprintf(sub, sizeof(sub), "%s/%s/challenge_tokens", dir, de->d_name);
		if (watch(d, i, sub, 0))
			continue;
		fd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ch = fd >= 0 ? fdopendir(fd) : NULL;
		if (!ch) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((ce = readdir(ch))) {
			size_t l = strlen(ce->d_name);
			if (l < 6 || strcmp(ce->d_name + l - 5, ".json"))
				continue;
			caddy_token(dirfd(ch), ce->d_name, tok, sizeof(tok));
			if (tok[0] && add_token(d, i, tok, now, n))
				break;
		}
		closedir(ch);
	}
	closedir(acme);
}

void tokens_read(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n)
{
	*n = 0;
	if (d->cfg.srv[i].caddy[0])
		read_caddy(d, i, now, n);
	else if (tokens_webroot(d, i)[0])
		read_webroot(d, i, now, n);
}

/* 1: one of server i's token watches */
static int tokens_event(struct ph_daemon *d, unsigned i, int wd, uint32_t mask)
{
	struct tokwatch *w = &d->tokens->s[i];

	for (unsigned k = 0; k < w->nwd; k++) {
		if (w->wd[k] != wd)
			continue;
		if (mask & IN_IGNORED) /* the kernel dropped it (the directory went) */
			w->wd[k] = w->wd[--w->nwd];
		return 1;
	}
	return 0;
}

void tokens_unwatch(struct ph_daemon *d, unsigned i)
{
	struct tokwatch *w = &d->tokens->s[i];

	for (unsigned k = 0; k < w->nwd; k++)
		inotify_rm_watch(d->srv_inofd, w->wd[k]);
	w->nwd = 0;
}

void tokens_start(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		const struct ph_server *sv = &d->cfg.srv[i];
		char parent[PATH_MAX + 320], *slash;
		/* the served cgroup's parent: a restart removes and makes it anew
		 * (without the watch, the 5 s check sees it); a container's
		 * listener is foreign.c's to report */
		snprintf(parent, sizeof(parent), "%s%s", d->cg_mount, sv->cgroup);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		d->tokens->s[i].cg_wd = sv->type == DES_CONTAINER ? -1 :
			inotify_add_watch(d->srv_inofd, parent, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
		if (!sv->always && tokens_source(d, i) && !d->tokens->s[i].nwd)
			log_warn("server %s: cannot watch %s: %s", sv->arg, sv->caddy[0] ? sv->caddy : sv->webroot,
				 strerror(d->tokens->s[i].err ? d->tokens->s[i].err : ENOENT));
	}
}

void tokens_on_inotify(struct ph_daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint32_t dirty = 0, cgroup_moved = 0;
	ssize_t n;

	while ((n = read(d->srv_inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (unsigned i = 0; i < d->cfg.nsrv; i++) {
				const char *base = strrchr(d->cfg.srv[i].cgroup, '/');
				if (d->tokens->s[i].cg_wd >= 0 && d->tokens->s[i].cg_wd == ev->wd && ev->len && base &&
				    !strcmp(ev->name, base + 1))
					cgroup_moved |= 1u << i; /* the served cgroup came or went (a restart) */
			}
			for (unsigned i = 0; i < d->cfg.nsrv; i++)
				if (tokens_event(d, i, ev->wd, ev->mask))
					dirty |= 1u << i;
			if (ev->mask & IN_Q_OVERFLOW)
				dirty = ~0u;
			p += sizeof(*ev) + ev->len;
		}
	}
	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		if (dirty & (1u << i))
			server_tokens_changed(d, i);
	if (cgroup_moved)
		servers_cgroup_moved(d, cgroup_moved);
}
