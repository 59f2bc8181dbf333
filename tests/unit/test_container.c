// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window state machine (daemon/container.c) driven through
 * its one seam: a fake struct ph_container_ops (container.h) stands for
 * the cgroup tree, lib/netns's resolver, the firewall (a fake kernel that
 * holds the elements and pins it was given, all of a batch or none), the
 * audit log, the clock and the timer. Checked: a published designation's
 * listener opens a window (its elements: targets x published ports, a pin
 * per target, one batch, the deadline as timeout); a second listener
 * sharing them; unlisten; the deadline; an undesignated cgroup, a cgroup
 * that is no longer the socket's, a namespace of another user namespace,
 * a resolver failure and a refused batch leave nothing behind; shutdown;
 * a listener outside the designation on a window's port in its netns
 * revokes the window, and keeps a designated one from getting one; the
 * census (container_census.c: the kernel's count of the port's listeners,
 * faked) refuses or revokes on a listener the table never saw, its verdict
 * at the end of a batch of events.
 * The real thing is tests/integration/test_container.sh. */
#include "daemon.h"
#include "container.h"
#include "foreign.h"
#include "unit.h"
#include "fakes.h"
#include "util.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- the fake seam ------------------------------------------------------------ */

/* foreign.c's table, faked: the listeners recorded (container.c reads it) */
static struct ph_foreign_listener ftab[8];
static unsigned nftab;
const struct ph_foreign_listener *foreign_at(const struct ph_foreign *t, unsigned i)
{
	(void)t;
	return i < nftab ? &ftab[i] : NULL;
}
const struct ph_foreign_listener *foreign_get(const struct ph_foreign *t, uint64_t cookie)
{
	(void)t;
	for (unsigned i = 0; i < nftab; i++)
		if (ftab[i].cookie == cookie)
			return &ftab[i];
	return NULL;
}
static int fblind;
int foreign_blind(const struct ph_foreign *t)
{
	(void)t;
	return fblind;
}

/* container_serve.c (serve = container lines) is not under test here */
void csrv_on_foreign(struct ph_daemon *d, const struct ph_foreign_listener *l, int listen)
{
	(void)d, (void)l, (void)listen;
}

#define KMAX 256

static struct {
	char cgroup[256];            /* the listener's cgroup path ("" : the check fails) */
	uint32_t other_pid;          /* ... but this pid's is other_cgroup */
	char other_cgroup[256];
	int resolve_err;
	struct netns_view view;      /* what the resolver gives */
	int fw_err;                  /* fw_open refuses the batch */
	int fw_close_err;
	struct nr_cwin kel[KMAX];    /* the fake kernel's cwin elements */
	unsigned nkel;
	struct nr_cwin kpin[KMAX];   /* ... and pins */
	unsigned nkpin;
	unsigned fw_opens, fw_closes, last_nel, last_npins;
	int counted;                 /* windows the firewall counts for its host rules */
	uint64_t last_timeout_ms;
	unsigned records_open, records_close, record_err, ids_saved;
	uint32_t close_reason;
	uint64_t last_close_id;
	unsigned cgroup_calls;        /* cgroup_path asked */
} fk;

static int f_cgroup_path(struct ph_daemon *d, uint32_t pid, uint64_t cgid, char *out, size_t len, char *why,
			 size_t whylen)
{
	(void)d, (void)cgid;
	fk.cgroup_calls++;
	if (fk.other_pid && pid == fk.other_pid) {
		if (!fk.other_cgroup[0]) {
			snprintf(why, whylen, "fake: gone");
			return -ESRCH;
		}
		snprintf(out, len, "%s", fk.other_cgroup);
		return 0;
	}
	if (!fk.cgroup[0]) {
		snprintf(why, whylen, "fake: pid moved");
		return -ESRCH;
	}
	snprintf(out, len, "%s", fk.cgroup);
	return 0;
}

static int f_resolve(pid_t pid, uint64_t ino, const struct netns_addr *bound, int v6only, struct netns_view *out,
		     char *why, size_t whylen)
{
	(void)pid, (void)ino, (void)bound, (void)v6only;
	if (fk.resolve_err) {
		snprintf(why, whylen, "fake: resolver says no");
		return fk.resolve_err;
	}
	*out = fk.view;
	return 0;
}

static int kfind(const struct nr_cwin *set, unsigned n, const struct nr_cwin *e)
{
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(&set[i], e, sizeof(*e)))
			return (int)i;
	return -1;
}

static int f_fw_open(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		     unsigned npins, uint64_t timeout_ms, char *why, size_t whylen)
{
	(void)d;
	fk.fw_opens++;
	fk.last_nel = nel;
	fk.last_npins = npins;
	fk.last_timeout_ms = timeout_ms;
	/* a batch: all or nothing; an element that exists fails it (EEXIST) */
	for (unsigned i = 0; i < nel; i++)
		if (kfind(fk.kel, fk.nkel, &el[i]) >= 0) {
			snprintf(why, whylen, "fake: element exists");
			return -EEXIST;
		}
	for (unsigned i = 0; i < npins; i++)
		if (kfind(fk.kpin, fk.nkpin, &pins[i]) >= 0) {
			snprintf(why, whylen, "fake: pin exists");
			return -EEXIST;
		}
	if (fk.fw_err) {
		snprintf(why, whylen, "fake: the kernel refused the batch");
		return fk.fw_err;
	}
	for (unsigned i = 0; i < nel; i++)
		fk.kel[fk.nkel++] = el[i];
	for (unsigned i = 0; i < npins; i++)
		fk.kpin[fk.nkpin++] = pins[i];
	fk.counted++;
	return 0;
}

static int f_fw_close(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		      unsigned npins)
{
	(void)d;
	fk.fw_closes++;
	fk.counted--;
	if (fk.fw_close_err)
		return fk.fw_close_err; /* (a batch: nothing deleted) */
	for (unsigned i = 0; i < nel; i++) {
		int k = kfind(fk.kel, fk.nkel, &el[i]);
		if (k >= 0)
			fk.kel[k] = fk.kel[--fk.nkel];
	}
	for (unsigned i = 0; i < npins; i++) {
		int k = kfind(fk.kpin, fk.nkpin, &pins[i]);
		if (k >= 0)
			fk.kpin[k] = fk.kpin[--fk.nkpin];
	}
	return 0;
}

static void f_proc_exe(pid_t pid, char *buf, size_t len) { snprintf(buf, len, "/usr/bin/fake-%d", (int)pid); }
static int f_record_open(struct ph_daemon *d, const struct ph_cwin *w)
{
	(void)d, (void)w;
	if (fk.record_err)
		return -EIO;
	fk.records_open++;
	return 0;
}
static void f_record_close(struct ph_daemon *d, const struct ph_cwin *w, uint32_t reason, uint64_t dur)
{
	(void)d, (void)dur;
	fk.records_close++;
	fk.close_reason = reason;
	fk.last_close_id = w->id;
}
static void f_ids_save(struct ph_daemon *d) { (void)d; fk.ids_saved++; }
/* the engine's state, faked: named (1), not (0), untrusted (< 0) */
static struct {
	int answer;
	unsigned calls;
	char last_cgroup[256];
} fn;
static int f_container_named(struct ph_daemon *d, const struct ph_designation *des, const char *cgroup, char *why,
			     size_t whylen)
{
	(void)d;
	fn.calls++;
	snprintf(fn.last_cgroup, sizeof(fn.last_cgroup), "%s", cgroup);
	if (fn.answer < 0)
		snprintf(why, whylen, "fake: /var/lib/docker/containers is writable by group or others: refused");
	else if (!fn.answer)
		snprintf(why, whylen, "fake: its name is /other, not /%s", des->name);
	return fn.answer;
}
static void f_metrics(struct ph_daemon *d) { (void)d; }

/* the kernel's list of the namespace's listeners, faked: n LISTEN sockets
 * on the port asked (0: never more than the table knows), or err */
static struct {
	unsigned n, calls;
	int err;
	uint32_t pid, ino;
	uint16_t port;
} fc;
static int f_listeners(uint32_t pid, uint32_t ino, uint16_t port, unsigned *n, char *why, size_t whylen)
{
	fc.calls++;
	fc.pid = pid;
	fc.ino = ino;
	fc.port = port;
	*n = fc.n;
	if (fc.err)
		snprintf(why, whylen, "/proc/%u/net/tcp: fake refusal", pid);
	return fc.err;
}

static const struct ph_container_ops fake_ops = {
	.log = f_log,
	.now = f_now,
	.timer_arm = f_timer_arm,
	.cgroup_path = f_cgroup_path,
	.resolve = f_resolve,
	.fw_open = f_fw_open,
	.fw_close = f_fw_close,
	.proc_exe = f_proc_exe,
	.container_named = f_container_named,
	.record_open = f_record_open,
	.record_close = f_record_close,
	.ids_save = f_ids_save,
	.metrics = f_metrics,
	.listeners = f_listeners,
};

/* ---- helpers ------------------------------------------------------------------ */

static struct ph_daemon d;

static void target(unsigned i, int family, const char *addr, uint32_t bridge, uint32_t port)
{
	memset(&fk.view.t[i], 0, sizeof(fk.view.t[i]));
	fk.view.t[i].a.family = family;
	inet_pton(family, addr, fk.view.t[i].a.addr);
	fk.view.t[i].bridge = bridge;
	fk.view.t[i].port = port;
	if (fk.view.n <= i)
		fk.view.n = i + 1;
}

static struct ph_foreign_listener listener(uint64_t cookie, uint16_t port)
{
	struct ph_foreign_listener l = { 0 };

	l.cookie = cookie;
	l.cgroup_id = 777;
	l.netns_ino = 4026532000u;
	l.userns_ino = PH_USERNS_INIT_INO;
	l.init_userns = 1;
	l.verified = 1;
	l.pid = 4000 + (uint32_t)cookie;
	l.uid = 0;
	l.family = AF_INET;
	l.port = port;
	return l;
}

static unsigned nwin(void)
{
	unsigned n = 0;

	while (container_window_at(&d, n))
		n++;
	return n;
}

/* the fake kernel holds the element (bridge, addr, cport, pport) */
static int has_elem(const char *addr, uint16_t cport, uint16_t pport)
{
	uint8_t a[16] = { 0 };

	inet_pton(AF_INET, addr, a);
	for (unsigned i = 0; i < fk.nkel; i++)
		if (!memcmp(fk.kel[i].addr, a, 4) && fk.kel[i].cport == cport && fk.kel[i].pport == pport &&
		    fk.kel[i].ifindex == 5)
			return 1;
	return 0;
}

int main(void)
{
	struct ph_foreign_listener l1, l2, l3;
	const struct ph_cwin *w;
	unsigned logged_before;

	ft.boot = 1000 * NSEC_PER_SEC;
	ft.real = 1700000000 * NSEC_PER_SEC;
	d.cfg.max_window = 300;
	d.cfg.ports[0] = 80;
	d.cfg.ports[1] = 443;
	d.cfg.nports = 2;
	d.cfg.mark = PH_DEFAULT_MARK;
	d.cfg.mark_mask = PH_DEFAULT_MARK_MASK;
	d.cfg.ndes = 2;
	d.cfg.des[0].type = DES_CGROUP;
	snprintf(d.cfg.des[0].cgroup, sizeof(d.cfg.des[0].cgroup), "/plain");
	d.cfg.des[0].line = 3;
	d.cfg.des[1].type = DES_CGROUP;
	snprintf(d.cfg.des[1].arg, sizeof(d.cfg.des[1].arg), "/acme");
	snprintf(d.cfg.des[1].cgroup, sizeof(d.cfg.des[1].cgroup), "/acme");
	d.cfg.des[1].published = 1;
	d.cfg.des[1].ports[0] = 80;
	d.cfg.des[1].ports[1] = 8080;
	d.cfg.des[1].nports = 2;
	d.cfg.des[1].max_window = 60;
	d.cfg.des[1].line = 4;
	d.next_window_id = 20;
	CHECK(containers_init(&d, &fake_ops) == 0, "the container module's state");
	/* a container with two addresses behind bridge 5, port 9 */
	target(0, AF_INET, "192.0.2.130", 5, 9);
	target(1, AF_INET, "192.0.2.140", 5, 9);

	/* ---- an undesignated cgroup: nothing ------------------------------------------ */
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/plain/ctr");
	l1 = listener(1, 80);
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0 && fk.records_open == 0,
	      "a listener in a cgroup of no published designation (/plain/ctr): no window, the firewall untouched");
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/acmexyz");
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0, "/acmexyz is not below /acme: no window");
	fk.cgroup[0] = '\0';
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0, "a cgroup that is not the socket's any more (pid moved): no window");

	/* ---- another user namespace: nothing, said ------------------------------------ */
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/acme/docker-abc.scope");
	l1.init_userns = 0;
	logged_before = ft.logged[LOG_WARNING];
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0 && ft.logged[LOG_WARNING] == logged_before + 1 &&
	      strstr(ft.last_log, "owned by another user namespace"),
	      "a namespace owned by another user namespace: no window, one warning (%s)", ft.last_log);
	l1.init_userns = 1;
	fk.resolve_err = -EXDEV;
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0 && strstr(ft.last_log, "rootless"),
	      "the resolver's -EXDEV: no window, said (%s)", ft.last_log);

	/* ---- resolver failure ----------------------------------------------------------- */
	fk.resolve_err = -EADDRNOTAVAIL;
	logged_before = ft.logged[LOG_WARNING];
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 0 && ft.logged[LOG_WARNING] == logged_before + 1,
	      "the resolver fails: no window, one line (%s)", ft.last_log);
	fk.resolve_err = 0;

	/* ---- the batch refused: nothing half-applied ----------------------------------- */
	fk.fw_err = -ENOBUFS;
	logged_before = ft.logged[LOG_ERR];
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.fw_opens == 1 && fk.nkel == 0 && fk.nkpin == 0 && fk.records_open == 0 &&
	      d.next_window_id == 20 && ft.logged[LOG_ERR] == logged_before + 1,
	      "the firewall refuses the batch: no window, no element, no pin, no id spent, one error (%s)", ft.last_log);
	CHECK(containers_elements(&d) == 0 && containers_pins(&d) == 0, "... and the books hold nothing");
	fk.fw_err = 0;

	/* ---- a window -------------------------------------------------------------------- */
	container_on_foreign(&d, &l1, 1);
	w = container_window_at(&d, 0);
	CHECK(nwin() == 1 && w && w->id == 20 && d.next_window_id == 21 && fk.ids_saved == 1 && fk.records_open == 1,
	      "a listener in /acme/docker-abc.scope: window 20, audited, the id saved");
	CHECK(fk.fw_opens == 2 && fk.last_nel == 4 && fk.last_npins == 2,
	      "one batch: 2 targets x 2 published ports = 4 elements, one pin per target (%u, %u)", fk.last_nel,
	      fk.last_npins);
	CHECK(has_elem("192.0.2.130", 80, 80) && has_elem("192.0.2.130", 80, 8080) && has_elem("192.0.2.140", 80, 80) &&
	      has_elem("192.0.2.140", 80, 8080),
	      "elements (bridge 5, address, container port 80, published port 80 / 8080)");
	CHECK(fk.kpin[0].port == 9 && fk.kpin[0].cport == 80 && fk.kpin[1].port == 9, "pins on bridge port 9");
	CHECK(fk.last_timeout_ms == 60000 && w->deadline_boot == ft.boot + 60 * NSEC_PER_SEC &&
	      ft.timer == w->deadline_boot,
	      "the designation's max_window (60 s) is the elements' timeout and the timer");
	CHECK(!strcmp(w->cgroup, "/acme/docker-abc.scope") && w->cport == 80 && w->npports == 2 &&
	      !strcmp(w->exe, "/usr/bin/fake-4001"),
	      "the window knows its cgroup, container port, published ports, exe");

	/* ---- a second listener on the same targets shares, then the first goes ---------- */
	ft.boot += 10 * NSEC_PER_SEC;
	ft.real += 10 * NSEC_PER_SEC;
	l2 = listener(2, 80);
	container_on_foreign(&d, &l2, 1);
	CHECK(nwin() == 2 && fk.nkel == 4 && fk.nkpin == 2 && fk.records_open == 2,
	      "a second listener (SO_REUSEPORT) on the same targets: its own window, sharing the 4 elements and 2 pins");
	w = container_window_at(&d, 0);
	CHECK(w->id == 21 && w->deadline_boot == ft.boot + 50 * NSEC_PER_SEC,
	      "... whose deadline is the shared elements' (never later than the kernel's timeout)");
	container_on_foreign(&d, &l1, 0);
	CHECK(nwin() == 1 && fk.nkel == 4 && fk.nkpin == 2 && fk.records_close == 1 &&
	      fk.close_reason == PH_REASON_LISTENER_CLOSED && fk.last_close_id == 20,
	      "the first listener closes: window 20 closed (listener-closed), the shared elements stay");
	container_on_foreign(&d, &l2, 0);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && fk.records_close == 2 && ft.timer == 0,
	      "the second closes: window 21 closed, every element and pin deleted, the timer disarmed");
	CHECK(containers_elements(&d) == 0 && containers_pins(&d) == 0, "... the books empty");
	container_on_foreign(&d, &l2, 0);
	CHECK(fk.records_close == 2, "an unlisten of no window's listener: nothing");

	/* ---- the deadline ------------------------------------------------------------------ */
	container_on_foreign(&d, &l1, 1);
	l3 = listener(3, 443);
	container_on_foreign(&d, &l3, 1);
	CHECK(nwin() == 2 && fk.nkel == 8 && fk.nkpin == 4,
	      "listeners on two container ports: two windows, 8 elements, 4 pins");
	ft.boot += 59 * NSEC_PER_SEC;
	containers_on_timer(&d);
	CHECK(nwin() == 2, "before the deadline the timer closes nothing");
	ft.boot += 2 * NSEC_PER_SEC;
	containers_on_timer(&d);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && fk.close_reason == PH_REASON_DEADLINE && ft.timer == 0,
	      "at the deadline both close (deadline), their elements deleted");

	/* ---- the audit record fails: no window, nothing in the kernel ---------------------- */
	fk.record_err = 1;
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0, "its record cannot be written: no window, its elements deleted");
	fk.record_err = 0;

	/* ---- shutdown ------------------------------------------------------------------------ */
	container_on_foreign(&d, &l1, 1);
	container_on_foreign(&d, &l3, 1);
	containers_shutdown(&d);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && fk.close_reason == PH_REASON_SHUTDOWN,
	      "shutdown closes every window (shutdown), every element deleted");

	/* ---- a listener outside the designation on the window's port, in its netns ---------- */
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 1 && fk.nkel == 4, "a window for l1");
	{
		struct ph_foreign_listener l4 = listener(4, 80);
		l4.cgroup_id = 888;
		fk.other_pid = l4.pid;
		snprintf(fk.other_cgroup, sizeof(fk.other_cgroup), "/plain/sidecar");
		l4.netns_ino++;
		container_on_foreign(&d, &l4, 1);
		CHECK(nwin() == 1, "an undesignated listener on port 80 of another netns: the window stays");
		l4.netns_ino--;
		l4.port = 443;
		container_on_foreign(&d, &l4, 1);
		CHECK(nwin() == 1, "... on another port of its netns: the window stays");
		l4.port = 80;
		container_on_foreign(&d, &l4, 1);
		CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && fk.close_reason == PH_REASON_REVOKED,
		      "an undesignated listener on its port in its netns (SO_REUSEPORT sibling): the window revoked, "
		      "its elements deleted");
		ftab[nftab++] = l4;
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0 && fk.nkel == 0, "while that listener is there a designated one gets no window");
		nftab = 0;
		container_on_foreign(&d, &l1, 1);
		fk.other_cgroup[0] = '\0';
		container_on_foreign(&d, &l4, 1);
		CHECK(nwin() == 0 && fk.nkel == 0, "a listener whose cgroup cannot be read revokes too");
		fk.other_pid = 0;
		container_on_foreign(&d, &l1, 1);
		l2 = listener(2, 80);
		ftab[nftab++] = l1;
		container_on_foreign(&d, &l2, 1);
		CHECK(nwin() == 2, "a second designated listener (same cgroup) beside the first: both windows");
		CHECK(fk.counted == 2, "... each counted by the firewall for its host rules (%d)", fk.counted);
		nftab = 0;
		containers_shutdown(&d);
		CHECK(fk.counted == 0 && fk.nkel == 0,
		      "both closed: the firewall counts none (the one whose elements were all shared too: %d)", fk.counted);
		/* a listener recorded unverified (its process gone or moved: a
		 * fork that listened and exited, an unshare after bind) */
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 1, "a window for l1 again");
		l4 = listener(5, 80);
		l4.cgroup_id = 888;
		l4.verified = 0;
		l4.init_userns = 0;
		container_on_foreign(&d, &l4, 1);
		CHECK(nwin() == 0 && fk.nkel == 0 && fk.close_reason == PH_REASON_REVOKED,
		      "an unverified listener on its port in its netns: the window revoked");
		ftab[nftab++] = l4;
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0, "while it is there a designated listener gets no window");
		l4.verified = 1;
		l4.cgroup_id = 777;
		ftab[0] = l4;
		nftab = 0;
		/* blind: the table may lack a live listener */
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 1, "a window for l1 once more");
		fblind = 1;
		container_on_foreign(&d, NULL, 0);
		CHECK(nwin() == 0 && fk.nkel == 0 && fk.close_reason == PH_REASON_REVOKED,
		      "the table gone blind: every container window revoked");
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0 && strstr(ft.last_log, "restart portholed"),
		      "blind: no new window, said (%s)", ft.last_log);
		fblind = 0;
		containers_shutdown(&d);
	}

	/* ---- designate = container docker:certbot (the engine's state, faked) -------------- */
	d.cfg.ndes = 3;
	d.cfg.des[2].type = DES_CONTAINER;
	d.cfg.des[2].engine = PH_ENGINE_DOCKER;
	d.cfg.des[2].published = 1;
	d.cfg.des[2].line = 5;
	snprintf(d.cfg.des[2].arg, sizeof(d.cfg.des[2].arg), "docker:certbot");
	snprintf(d.cfg.des[2].name, sizeof(d.cfg.des[2].name), "certbot");
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/acme/docker-abc.scope");
	fn.answer = 1;
	container_on_foreign(&d, &l1, 1);
	w = container_window_at(&d, 0);
	CHECK(nwin() == 1 && w->des_index == 1 && fn.calls == 0,
	      "a listener below a published cgroup line: that line's window, the engine's state not read");
	containers_shutdown(&d);
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/docker/0123abc");
	container_on_foreign(&d, &l1, 1);
	w = container_window_at(&d, 0);
	CHECK(nwin() == 1 && w && w->des_index == 2 && fn.calls == 1 && !strcmp(fn.last_cgroup, "/docker/0123abc") &&
	      w->npports == 2 && w->deadline_boot == ft.boot + 300 * NSEC_PER_SEC,
	      "a container the engine names certbot: its window (the global ports and max_window)");
	containers_shutdown(&d);
	fn.answer = 0;
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fn.calls == 2 && strstr(ft.last_log, "no published designation (container docker:certbot "
						     "(line 5): fake: its name is /other"),
	      "a container of another name: no window, the reason in the debug line (%s)", ft.last_log);
	fn.answer = -EPERM;
	logged_before = ft.logged[LOG_WARNING];
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == logged_before + 1 && strstr(ft.last_log, "writable by group"),
	      "state that cannot be trusted: no window (fail closed), one warning naming it (%s)", ft.last_log);
	fn.answer = 1;
	l1.init_userns = 0;
	{
		unsigned calls = fn.calls;
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0 && fn.calls == calls && strstr(ft.last_log, "rootless"),
		      "a namespace of another user namespace (rootless engine): its state never read, no window (%s)",
		      ft.last_log);
	}
	l1.init_userns = 1;
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 1, "certbot's window again");
	{
		struct ph_foreign_listener l5 = listener(5, 80);
		l5.cgroup_id = 999;
		fk.other_pid = l5.pid;
		snprintf(fk.other_cgroup, sizeof(fk.other_cgroup), "/docker/fedc");
		fn.answer = 0;
		container_on_foreign(&d, &l5, 1);
		CHECK(nwin() == 0 && fk.close_reason == PH_REASON_REVOKED,
		      "another container's listener on its port in its netns (not named certbot): the window revoked");
		fk.other_pid = 0;
		fn.answer = 1;
	}
	containers_shutdown(&d);
	d.cfg.ndes = 2;

	/* ---- the census: listeners the kernel lists that the table never saw ---------- */
	containers_shutdown(&d);
	census_free(&d); /* (as after the daemon's start: no verdict has waited yet) */
	fblind = 0;
	nftab = 0;
	fk.other_pid = 0;
	fn.answer = 0;
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/acme/certbot");
	l1 = listener(1, 80);
	ftab[nftab++] = l1;
	fc.n = 2; /* l1 and one received over a unix socket after the start-up walk */
	logged_before = ft.logged[LOG_WARNING];
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 0 && fk.nkel == 0 && fc.pid == l1.pid && fc.ino == l1.netns_ino && fc.port == 80 &&
	      ft.logged[LOG_WARNING] == logged_before,
	      "the kernel lists 2 listeners on tcp/80 in its netns, the table 1: no window; the verdict waits for the "
	      "batch's end");
	containers_census_run(&d);
	CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == logged_before + 1 && strstr(ft.last_log, "lists 2 listening") &&
	      strstr(ft.last_log, "knows 1: 1 it never saw") && strstr(ft.last_log, "no window for pid 4001"),
	      "... still 2 at the batch's end: no window, one warning naming the count (%s)", ft.last_log);
	containers_census_run(&d);
	CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == logged_before + 1, "... one warning, not one a batch");
	fc.n = 1;
	{
		unsigned calls = fc.calls;
		containers_census_run(&d);
		CHECK(nwin() == 0 && fc.calls == calls,
		      "a batch that did not change its netns, within a second of its last count: not recounted");
	}
	ft.boot += NSEC_PER_SEC;
	containers_census_run(&d);
	CHECK(nwin() == 1, "the stranger gone unseen: the waiting listener gets its window at the first batch a "
	      "second after its last count");
	fc.n = 2;
	l2 = listener(2, 80);
	container_on_foreign(&d, &l2, 1);
	ftab[nftab++] = l2;
	containers_census_run(&d);
	CHECK(nwin() == 2, "a second designated listener whose event came after its census: its window at the "
	      "batch's end (the table knows it then)");
	l3 = listener(3, 443);
	l3.netns_ino++;
	fc.n = 5;
	{
		unsigned calls = fc.calls;
		container_on_foreign(&d, &l3, 0);
		containers_census_run(&d);
		CHECK(nwin() == 2 && fc.calls == calls, "a change in another netns: no census of the windows'");
	}
	l3.netns_ino--;
	{
		unsigned calls = fc.calls;
		fc.n = 2;
		container_on_foreign(&d, &l3, 0);
		containers_census_run(&d);
		CHECK(nwin() == 2 && fc.calls == calls + 1, "a change in their netns: one census for both windows of "
		      "tcp/80 (%u)", fc.calls - calls);
	}
	fc.n = 5;
	logged_before = ft.logged[LOG_WARNING];
	container_on_foreign(&d, &l3, 0);
	CHECK(nwin() == 2, "... its verdict waits for the batch's end");
	containers_census_run(&d);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.close_reason == PH_REASON_REVOKED &&
	      ft.logged[LOG_WARNING] == logged_before + 2,
	      "more listeners in the kernel than known at the end of a batch that changed their netns: both windows "
	      "revoked, a warning each");
	nftab = 1;
	fc.n = 0;
	fc.err = -EACCES;
	container_on_foreign(&d, &l1, 1);
	containers_census_run(&d);
	CHECK(nwin() == 0 && strstr(ft.last_log, "could not be counted") && strstr(ft.last_log, "fake refusal"),
	      "the kernel's list unreadable: no window (fail closed), said (%s)", ft.last_log);
	fc.err = 0;
	ft.boot += NSEC_PER_SEC;
	containers_census_run(&d);
	CHECK(nwin() == 1, "readable again (a second later): the window");
	containers_shutdown(&d);
	nftab = 0;
	containers_census_run(&d);

	/* ---- run --container docker:certbot: a session's designation (container_run.c) ------ */
	{
		char why[320];
		uint16_t p443 = 443;
		snprintf(fk.cgroup, sizeof(fk.cgroup), "/docker/0123abc");
		fn.answer = 1;
		l1 = listener(1, 80);
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0, "run --container: before the session, no line names the container: nothing");
		CHECK(crun_begin(&d, 41, "docker:certbot", &p443, 1, 120, why, sizeof(why)) == 0 && d.crun,
		      "session 41 designates docker:certbot (ports 443, 120 s)");
		CHECK(crun_check(&d, "docker:certbot", why, sizeof(why)) == -EBUSY && strstr(why, "session 41"),
		      "a second session for the same name: refused (%s)", why);
		container_on_foreign(&d, &l1, 1);
		w = container_window_at(&d, 0);
		CHECK(nwin() == 1 && w->des_index == PH_CRUN_BASE && w->npports == 1 && w->pports[0] == 443 &&
		      w->deadline_boot == ft.boot + 120 * NSEC_PER_SEC && fk.nkel == 2 && fk.nkpin == 2,
		      "the named container's listener: a window to its targets through the session's ports, for the "
		      "session's max window");
		CHECK(!strcmp(designation_at(&d, w->des_index)->arg, "docker:certbot") &&
		      designation_at(&d, w->des_index)->line == 0, "its designation: docker:certbot, no config line");
		l2 = listener(2, 80);
		l2.netns_ino += 7;
		l2.cgroup_id = 888;
		fk.other_pid = l2.pid;
		snprintf(fk.other_cgroup, sizeof(fk.other_cgroup), "/docker/fedc");
		fn.answer = 0;
		container_on_foreign(&d, &l2, 1);
		CHECK(nwin() == 1 && strstr(ft.last_log, "container docker:certbot (session 41): fake: its name is /other"),
		      "a container of another name (its own netns): nothing, the reason said (%s)", ft.last_log);
		fk.other_pid = 0;
		fn.answer = -EPERM;
		l3 = listener(3, 80);
		l3.netns_ino += 9;
		container_on_foreign(&d, &l3, 1);
		CHECK(nwin() == 1 && strstr(ft.last_log, "writable by group"),
		      "the engine's state untrusted: nothing (fail closed), said (%s)", ft.last_log);
		fn.answer = 1;
		crun_end(&d, 99);
		CHECK(nwin() == 1 && d.crun, "another session's end: the window stays");
		crun_end(&d, 41);
		CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && fk.close_reason == PH_REASON_EXITED && !d.crun,
		      "the command exited: its window closed, its elements and pins gone, the table freed");
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0, "after the command: the container's listener gets nothing");
		CHECK(crun_check(&d, "lxc:certbot", why, sizeof(why)) == -EINVAL && strstr(why, "docker:NAME"),
		      "an unknown engine: refused (%s)", why);
		CHECK(crun_check(&d, "docker:-x", why, sizeof(why)) == -EINVAL && strstr(why, "not a container name"),
		      "a name against Docker's rule: refused (%s)", why);
		d.cfg.des[1].published = 0;
		CHECK(crun_check(&d, "docker:certbot", why, sizeof(why)) == -EOPNOTSUPP &&
		      strstr(why, "no published mapping is possible"), "no published line in the config: refused (%s)", why);
		d.cfg.des[1].published = 1;
		for (unsigned k = 0; k < PH_CRUN_MAX; k++) {
			char n[32];
			snprintf(n, sizeof(n), "podman:c%u", k);
			CHECK(crun_begin(&d, 100 + k, n, NULL, 0, 60, why, sizeof(why)) == 0, "slot %u", k);
		}
		CHECK(crun_check(&d, "podman:one-more", why, sizeof(why)) == -EUSERS, "the table full: refused (%s)", why);
		CHECK(designation_at(&d, PH_CRUN_BASE + 3)->nports == 0 &&
		      designation_at(&d, PH_CRUN_BASE + 3)->engine == PH_ENGINE_PODMAN,
		      "no --port: the config's ports (nports 0); podman's engine");
		for (unsigned k = 0; k < PH_CRUN_MAX; k++)
			crun_end(&d, 100 + k);
		CHECK(!d.crun && !strcmp(designation_at(&d, PH_CRUN_BASE)->arg, "(run --container, ended)"),
		      "all ended: the table freed; an index of an ended slot: an inert placeholder");
	}

	/* ---- a revoked window is said once, where it is revoked ------------------------------ */
	snprintf(fk.cgroup, sizeof(fk.cgroup), "/acme/certbot");
	l1 = listener(1, 80);
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 1, "a window for l1");
	{
		struct ph_foreign_listener l6 = listener(6, 80);
		unsigned warn = ft.logged[LOG_WARNING], notice = ft.logged[LOG_NOTICE];
		l6.cgroup_id = 888;
		fk.other_pid = l6.pid;
		snprintf(fk.other_cgroup, sizeof(fk.other_cgroup), "/plain/sidecar");
		container_on_foreign(&d, &l6, 1);
		CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == warn + 1 && ft.logged[LOG_NOTICE] == notice,
		      "a sibling revokes the window: one warning, no notice of its close besides");
		/* (c) a rootless namespace is refused before the other listeners' cgroups are read */
		ftab[0] = l6;
		nftab = 1;
		l1.init_userns = 0;
		fk.cgroup_calls = 0;
		warn = ft.logged[LOG_WARNING];
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == warn + 1 && strstr(ft.last_log, "another user namespace") &&
		      fk.cgroup_calls == 1,
		      "a rootless namespace's listener beside a sibling: refused as rootless, the sibling's cgroup not read "
		      "(%u cgroup reads: %s)", fk.cgroup_calls, ft.last_log);
		l1.init_userns = 1;
		nftab = 0;
		fk.other_pid = 0;
		container_on_foreign(&d, &l1, 1);
		warn = ft.logged[LOG_WARNING], notice = ft.logged[LOG_NOTICE];
		container_revoke(&d, l1.cookie, "fake: the census");
		CHECK(nwin() == 0 && ft.logged[LOG_WARNING] == warn + 1 && ft.logged[LOG_NOTICE] == notice &&
		      strstr(ft.last_log, "closed (revoked): tcp/80 of pid 4001") && strstr(ft.last_log, "fake: the census"),
		      "container_revoke: one warning, no notice besides (%s)", ft.last_log);
		container_on_foreign(&d, &l1, 1);
		notice = ft.logged[LOG_NOTICE];
		container_on_foreign(&d, &l1, 0);
		CHECK(nwin() == 0 && ft.logged[LOG_NOTICE] == notice + 1 && strstr(ft.last_log, "closed (listener-closed)"),
		      "a close that is no revocation: one notice (%s)", ft.last_log);
	}

	/* ---- (d) elements whose delete failed stay in the books -------------------------------- */
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 1 && fk.nkel == 4 && fk.nkpin == 2, "a window, 4 elements and 2 pins");
	fk.fw_close_err = -ENOBUFS;
	container_on_foreign(&d, &l1, 0);
	fk.fw_close_err = 0;
	CHECK(nwin() == 0 && fk.nkel == 4 && fk.nkpin == 2 && containers_elements(&d) == 4 && containers_pins(&d) == 2,
	      "its delete fails: the kernel keeps them until their timeout, and so do the books (%u, %u)",
	      containers_elements(&d), containers_pins(&d));
	ft.boot += 5 * NSEC_PER_SEC;
	container_on_foreign(&d, &l1, 1);
	w = container_window_at(&d, 0);
	CHECK(nwin() == 1 && fk.nkel == 4 && w && w->deadline_boot == ft.boot + 55 * NSEC_PER_SEC,
	      "a listener needing them again: its window shares them, their deadline its own (not EEXIST until the "
	      "timeout)");
	fk.fw_close_err = -ENOBUFS;
	container_on_foreign(&d, &l1, 0);
	fk.fw_close_err = 0;
	l3 = listener(3, 443);
	container_on_foreign(&d, &l3, 1);
	CHECK(nwin() == 1 && fk.nkel == 8, "a window on another port beside the undeleted ones");
	container_on_foreign(&d, &l3, 0);
	CHECK(nwin() == 0 && fk.nkel == 0 && fk.nkpin == 0 && containers_elements(&d) == 0 && containers_pins(&d) == 0,
	      "its close deletes its own and, again, those whose delete failed (%u left)", fk.nkel);
	container_on_foreign(&d, &l1, 1);
	fk.fw_close_err = -ENOBUFS;
	container_on_foreign(&d, &l1, 0);
	fk.fw_close_err = 0;
	ft.boot += 61 * NSEC_PER_SEC;
	fk.nkel = fk.nkpin = 0; /* (the kernel's timeout) */
	container_on_foreign(&d, &l1, 1);
	CHECK(nwin() == 1 && fk.nkel == 4 && containers_elements(&d) == 4,
	      "past their deadline the books forget them: a new window adds its own (%u)", containers_elements(&d));
	containers_shutdown(&d);
	CHECK(fk.nkel == 0 && containers_elements(&d) == 0, "... and deletes them");

	/* ---- no published designation: foreign listeners are not looked at ----------------- */
	d.cfg.des[1].published = 0;
	{
		unsigned opens = fk.fw_opens;
		container_on_foreign(&d, &l1, 1);
		CHECK(nwin() == 0 && fk.fw_opens == opens, "without a published designation: nothing");
	}
	containers_free(&d);
	return unit_done("unit/container");
}
