/* Sessions and windows: the daemon's central state and the window state
 * machine (armed -> open -> closed). A session is one `porthole run`: a leaf
 * cgroup holding the command. A window is one opening of one port for one
 * session: rules in the host's chains, the listening sockets it serves, a
 * hard deadline. This file decides; nft.c, watch.c, cgroup.c and control.c
 * carry the decisions out. */
#ifndef PORTHOLE_WINDOW_H
#define PORTHOLE_WINDOW_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "audit.h"
#include "sesscg.h"
#include "config.h"
#include "control.h"
#include "nft.h"
#include "porthole.h"
#include "watch.h"

#define PH_MAX_LISTENERS 16

enum ph_window_state { W_ARMED, W_OPEN, W_CLOSED };
/* what an epoll pointer tag points at (first member of each) */
enum { EPK_CLIENT = 1, EPK_SESSION = 2 };
enum ph_session_kind {
	S_RUN = 1,     /* porthole run: a leaf cgroup of ours */
	S_WATCH,       /* a process designated by the config (watch mode) */
	S_ORPHAN,      /* a leftover cgroup of a previous daemon: no windows */
};

struct ph_session {
	int ep_kind;              /* EPK_SESSION */
	enum ph_session_kind kind;
	uint64_t id;
	uint32_t des_index;       /* S_WATCH: which designation */
	pid_t tgid;               /* S_WATCH: the designated process */
	int pidfd;                /* S_WATCH: readable when it exits */
	char cg_rel[PATH_MAX];
	char cg_abs[PATH_MAX * 2];
	uint64_t cgid;
	int inotify_wd;
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;
	uint32_t max_window;
	uint64_t deadline_boot;   /* set when the first window opens; 0 before */
	uint64_t deadline_real;
	uid_t uid;
	pid_t pid;                /* the command's first process */
	char exe[PH_EXE_LEN];
	struct ph_client *client; /* NULL once the CLI has gone */
	struct ph_session *next;
};

struct ph_window {
	uint64_t id;
	enum ph_window_state state;
	struct ph_session *session;
	uint16_t port;
	uint64_t opened_boot, opened_real;
	uint64_t cookies[PH_MAX_LISTENERS];
	unsigned ncookies;
	pid_t pid;                /* process that listened */
	uint16_t family;          /* of the listener that opened it */
	uint32_t connections;     /* established through the window */
	struct { uint16_t family; uint8_t addr[16]; uint32_t count; } peers[PH_MAX_PEERS];
	unsigned npeers;
	uint32_t other_peer_connections; /* from peers beyond PH_MAX_PEERS */
	int64_t revoked_uid, revoked_pid;
	struct nft_rule_ref rules[PH_MAX_CHAINS];
	unsigned nrules;
	struct ph_window *next;
};

/* epoll tags of the daemon's fixed descriptors; clients are tagged by pointer */
enum { TAG_WATCH = 1, TAG_LISTEN, TAG_SIGNAL, TAG_TIMER, TAG_INOTIFY, TAG_CTL_TIMER, TAG_NFTMON, TAG_MAX };

struct ph_daemon {
	struct ph_config cfg;
	struct ph_nft *nft;
	struct ph_watch *watch;
	struct ph_cgroups cg;
	struct ph_control ctl;
	struct ph_audit audit;
	int epfd, sigfd, timerfd, inofd;
	int monfd;                /* nftables notifications socket (-1 before first use) */
	int mon_active;           /* subscribed: only while windows are open */
	uint64_t nft_change_boot; /* when the last notification arrived */
	uint32_t netns_ino;
	struct ph_session *sessions;
	struct ph_window *windows;
	uint64_t next_session_id, next_window_id;
	struct {
		int wd;              /* inotify on the parent cgroup directory */
		uint64_t cgid;       /* 0 while the cgroup does not exist */
	} des[PH_MAX_DESIGNATIONS];
	int quit;
};

/* ring buffer event from the kernel */
void window_on_event(void *ctx, const struct ph_kevent *e);
/* control request (see control_handler) */
int window_on_request(void *ctx, struct ph_client *c, int type, const void *payload, size_t len, int fd);
/* the control module is about to drop this client */
void window_client_gone(struct ph_daemon *d, struct ph_client *c);
/* a session cgroup's cgroup.events changed */
void window_on_inotify(struct ph_daemon *d);
/* the deadline timer fired */
void window_on_timer(struct ph_daemon *d);
/* write a daemon-level record (daemon-start, daemon-stop, window-close of a
 * recovered window): the builder gets the open object to fill */
int window_audit_record(struct ph_daemon *d, const char *event, void (*fill)(struct jbuf *b, void *arg), void *arg);
/* nftables notifications arrived: put back rules a ruleset reload removed */
void window_on_nft_change(struct ph_daemon *d);
/* at start: remove empty leftover session cgroups, adopt busy ones until
 * they empty (they get no window) */
void window_adopt_orphans(struct ph_daemon *d);
/* watch mode: resolve cgroup designations now and follow them as they
 * appear and disappear */
void window_watch_designations(struct ph_daemon *d);
/* a designated process exited (its pidfd became readable) */
void window_on_pidfd(struct ph_daemon *d, struct ph_session *s);
/* close every window and end every session (daemon shutdown) */
void window_shutdown(struct ph_daemon *d);

#endif
