// SPDX-License-Identifier: GPL-2.0-or-later
/* Control socket server (see control.h). */
#include "control.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16 */
#endif
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	copy_str(dir, sizeof(dir), path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int control_open(struct ph_control *ctl, const struct ph_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uid_t owner;
	gid_t group;
	mode_t old;
	int fd, r;

	memset(ctl, 0, sizeof(*ctl));
	ctl->listen_fd = ctl->lock_fd = ctl->timer_fd = -1;
	copy_str(ctl->path, sizeof(ctl->path), cfg->socket);
	ctl->gid = cfg->socket_gid;
	r = mkdir_parent(ctl->path);
	if (r)
		return log_errno(r, "control: cannot create the directory of %s", ctl->path);

	/* second daemon refused: the lock is held as long as we live. The
	 * file is never unlinked (a refused daemon must not take the live
	 * daemon's lock away, and neither may one that stops) */
	snprintf(ctl->lock_path, sizeof(ctl->lock_path), "%s.lock", ctl->path);
	fd = open(ctl->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_errno(-errno, "control: cannot open lock file %s", ctl->lock_path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		log_err("control: another portholed holds %s; refusing to start a second daemon", ctl->lock_path);
		return -EADDRINUSE;
	}
	ctl->lock_fd = fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_errno(-errno, "control: socket");
	ctl->listen_fd = fd;
	/* no client may pass us a descriptor: closing one (a file on the
	 * sender's own FUSE mount) could block the event loop for good. The
	 * kernel then refuses such a sendmsg (EPERM); accepted sockets inherit
	 * the setting. Older kernels lack it: see control_read. */
	{
		int zero = 0;
		ctl->no_rights = setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) == 0;
	}
	copy_str(sa.sun_path, sizeof(sa.sun_path), ctl->path);
	unlink(ctl->path); /* stale: we hold the lock, nobody else serves it */
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return log_errno(-errno, "control: bind %s", ctl->path);
	/* as root: root's, of socket_group (of root without one); as its own
	 * user (portholed.service, no CAP_CHOWN): that user's, of socket_group,
	 * which must be one of its groups (the default, porthole, is the unit's
	 * Group=), left as bound without one */
	owner = (uid_t)-1; /* chown(2): -1 leaves it as bound */
	group = ctl->gid;
	if (geteuid() == 0) {
		owner = 0;
		if (group == (gid_t)-1)
			group = 0;
	}
	if ((owner != (uid_t)-1 || group != (gid_t)-1) && chown(ctl->path, owner, group) < 0) {
		if (errno == EPERM && geteuid() != 0)
			return log_errno(-errno, "control: cannot give %s to socket_group %s: portholed's user is not a "
					 "member (add SupplementaryGroups=%s to portholed.service: systemctl edit portholed)",
					 ctl->path, cfg->socket_group, cfg->socket_group);
		return log_errno(-errno, "control: set owner of %s", ctl->path);
	}
	if (chmod(ctl->path, ctl->gid == (gid_t)-1 ? 0600 : 0660) < 0)
		return log_errno(-errno, "control: set mode of %s", ctl->path);
	if (listen(fd, 128) < 0)
		return log_errno(-errno, "control: listen");
	ctl->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctl->timer_fd < 0)
		return log_errno(-errno, "control: timerfd");
	return 0;
}

void control_close(struct ph_control *ctl)
{
	while (ctl->clients)
		control_drop(ctl, ctl->clients);
	control_reap(ctl);
	if (ctl->listen_fd >= 0) {
		close(ctl->listen_fd);
		unlink(ctl->path);
	}
	if (ctl->timer_fd >= 0)
		close(ctl->timer_fd);
	if (ctl->lock_fd >= 0)
		close(ctl->lock_fd);
	ctl->listen_fd = ctl->timer_fd = ctl->lock_fd = -1;
}

static unsigned clients_of_uid(const struct ph_control *ctl, uid_t uid)
{
	unsigned n = 0;

	for (const struct ph_client *o = ctl->clients; o; o = o->next)
		n += o->uid == uid;
	return n;
}

static void refuse_conn(struct ph_control *ctl, int fd, const struct ucred *cred, const char *why)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr) + sizeof(struct ph_error)]; } m;
	struct ph_error *e = ph_payload(&m);
	size_t len = ph_msg_init(&m, PH_MSG_ERROR, sizeof(*e));

	e->code = EUSERS;
	snprintf(e->msg, sizeof(e->msg), "connection refused: %s", why);
	send(fd, &m, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	log_notice("control: connection from pid %d uid %u refused: %s", (int)cred->pid, (unsigned)cred->uid, why);
	if (ctl->refused)
		ctl->refused(ctl->refused_ctx, cred->uid, cred->pid, why);
}

/* Membership is read from the peer's live credentials (SO_PEERGROUPS), not
 * from the group database: what counts is what the process actually holds. */
static int peer_in_group(int fd, gid_t pgid, gid_t want)
{
	gid_t groups[512];
	socklen_t len = sizeof(groups);

	if (want == (gid_t)-1)
		return 0;
	if (pgid == want)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == want)
			return 1;
	return 0;
}

static void arm_idle_timer(struct ph_control *ctl)
{
	struct itimerspec its = { 0 };
	uint64_t earliest = 0;

	for (struct ph_client *c = ctl->clients; c; c = c->next) {
		if (c->session)
			continue; /* a session's client waits for its command */
		if (!earliest || c->last_ns < earliest)
			earliest = c->last_ns;
	}
	if (earliest) {
		uint64_t at = earliest + PH_CLIENT_IDLE_SEC * NSEC_PER_SEC;
		its.it_value.tv_sec = (time_t)(at / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(at % NSEC_PER_SEC);
	}
	timerfd_settime(ctl->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

int control_accept(struct ph_control *ctl, void (*added)(void *ctx, struct ph_client *c), void *ctx)
{
	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct ph_client *c;
		int fd;

		fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				arm_idle_timer(ctl);
				return 0;
			}
			return log_errno(-errno, "control: accept");
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			close(fd);
			continue;
		}
		if (cred.uid != 0 && clients_of_uid(ctl, cred.uid) >= PH_MAX_CLIENTS_PER_UID) {
			/* one user cannot take every connection: refused, and said */
			refuse_conn(ctl, fd, &cred, "too many connections from this user");
			continue;
		}
		if (ctl->nclients >= (cred.uid == 0 ? PH_MAX_CLIENTS : PH_MAX_CLIENTS - PH_ROOT_CLIENTS)) {
			/* full: make room by dropping the client idle the longest
			 * (never one that waits for its session's command) */
			struct ph_client *oldest = NULL;
			for (struct ph_client *o = ctl->clients; o; o = o->next)
				if (!o->session && (!oldest || o->last_ns < oldest->last_ns))
					oldest = o;
			if (!oldest) {
				refuse_conn(ctl, fd, &cred, "the daemon serves as many connections as it can");
				continue;
			}
			log_notice("control: %u clients; dropped the one idle longest (pid %d)", ctl->nclients,
				   (int)oldest->pid);
			control_drop(ctl, oldest);
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->authorized = cred.uid == 0 || peer_in_group(fd, cred.gid, ctl->gid);
		c->last_ns = now_ns(CLOCK_BOOTTIME);
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->nclients++;
		added(ctx, c);
	}
}

void control_reap(struct ph_control *ctl)
{
	while (ctl->graveyard) {
		struct ph_client *c = ctl->graveyard;
		ctl->graveyard = c->next;
		free(c);
	}
}

void control_drop(struct ph_control *ctl, struct ph_client *c)
{
	struct ph_client **pp;

	for (pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			ctl->nclients--;
			break;
		}
	}
	close(c->fd); /* also removes it from epoll */
	c->fd = -1;
	c->dead = 1;
	c->next = ctl->graveyard;
	ctl->graveyard = c;
	arm_idle_timer(ctl);
}

int control_send(struct ph_client *c, const void *msg, size_t len)
{
	ssize_t n = send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int control_send_error(struct ph_client *c, int code, const char *fmt, ...)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr) + sizeof(struct ph_error)]; } m;
	struct ph_error *e = ph_payload(&m);
	size_t len = ph_msg_init(&m, PH_MSG_ERROR, sizeof(*e));
	va_list ap;

	e->code = code < 0 ? -code : code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return control_send(c, &m, len);
}

/* Descriptors that arrived anyway (a kernel without SO_PASSRIGHTS): closed
 * on a thread of their own, so a close that blocks blocks only it. */
static void *closer(void *arg)
{
	int *fds = arg;

	for (int i = 1; i <= fds[0]; i++)
		close(fds[i]);
	free(fds);
	return NULL;
}

static void close_foreign(const struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)mh); cm; cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		size_t nfd;
		int *fds;
		pthread_t t;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = malloc((nfd + 1) * sizeof(int));
		if (!fds)
			continue; /* leaked rather than closed on the loop */
		fds[0] = (int)nfd;
		memcpy(fds + 1, CMSG_DATA(cm), nfd * sizeof(int));
		if (pthread_create(&t, NULL, closer, fds) == 0)
			pthread_detach(t);
		else
			free(fds);
	}
}

int control_read(struct ph_control *ctl, struct ph_client *c, control_handler h, void *ctx)
{
	union { struct ph_hdr h; char b[PH_MSG_MAX + 1]; } m;
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int) * 8)]; } cbuf;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cbuf, .msg_controllen = sizeof(cbuf),
	};
	int type, r;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET; /* peer closed */
	c->last_ns = now_ns(CLOCK_BOOTTIME);
	if (mh.msg_controllen) {
		close_foreign(&mh);
		log_notice("control: pid %d uid %u passed a descriptor; dropped", (int)c->pid, (unsigned)c->uid);
		control_send_error(c, EBADMSG, "descriptors are not accepted");
		return -EBADMSG;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		control_send_error(c, EMSGSIZE, "message too large");
		return -EMSGSIZE;
	}
	type = ph_msg_check(&m, (size_t)n);
	if (type < 0) {
		log_notice("control: malformed message from pid %d uid %u: %s", (int)c->pid,
			   (unsigned)c->uid, strerror(-type));
		control_send_error(c, -type, "malformed message: %s", strerror(-type));
		return type;
	}
	r = h(ctx, c, type, ph_payload(&m), (size_t)n - sizeof(struct ph_hdr));
	arm_idle_timer(ctl);
	return r;
}

void control_expire(struct ph_control *ctl)
{
	uint64_t now = now_ns(CLOCK_BOOTTIME), ticks;
	struct ph_client *c, *next;

	if (read(ctl->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_errno(-errno, "control: timer");
	for (c = ctl->clients; c; c = next) {
		next = c->next;
		if (!c->session && now - c->last_ns >= PH_CLIENT_IDLE_SEC * NSEC_PER_SEC) {
			log_notice("control: client pid %d idle for %d s; dropped", (int)c->pid, PH_CLIENT_IDLE_SEC);
			control_drop(ctl, c);
		}
	}
	arm_idle_timer(ctl);
}
