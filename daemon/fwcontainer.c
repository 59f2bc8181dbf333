// SPDX-License-Identifier: GPL-2.0-or-later
/* Container windows in the firewall backend (see firewall.h, fwpriv.h):
 * their cwin elements and pins (lib/nftcontainer.h) go in one batch, the
 * first window's with the host rules, like a window's set element; a
 * container window counts as a window for the host rules (placed with the
 * first window of any kind, lingering after the last). */
#include "fwpriv.h"
#include "log.h"
#include "nftcontainer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct cw_batch {
	const struct nr_cwin *el, *pins;
	unsigned nel, npins;
	uint64_t timeout_ms; /* 0: delete */
};

static int fill_cw(struct nl_batch *b, const void *arg)
{
	const struct cw_batch *c = arg;
	int r = 0;

	for (unsigned i = 0; !r && i < c->nel; i++)
		r = c->timeout_ms ? nr_cwin_add(b, &c->el[i], c->timeout_ms) : nr_cwin_del(b, &c->el[i]);
	for (unsigned i = 0; !r && i < c->npins; i++)
		r = c->timeout_ms ? nr_cwpin_add(b, &c->pins[i], c->timeout_ms) : nr_cwpin_del(b, &c->pins[i]);
	return r;
}

static int fill_cw_batch(struct nl_batch *b, void *arg)
{
	return fill_cw(b, arg);
}

int fw_container_open(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		      unsigned npins, uint64_t timeout_ms, char *why, size_t whylen)
{
	struct cw_batch c = { el, pins, nel, npins, timeout_ms };
	struct elem e = { 0, 0, timeout_ms, fill_cw, &c };

	if (!f->published) {
		snprintf(why, whylen, "porthole's table has no container objects (no published designation)");
		return -EOPNOTSUPP;
	}
	if (!timeout_ms) {
		snprintf(why, whylen, "no time left before the deadline");
		return -EINVAL;
	}
	if (!nel && !npins && f->nwin) {
		/* every element is another window's already: one window more */
		f->nwin++;
		return 0;
	}
	return fw_win_open(f, &e, why, whylen);
}

int fw_container_close(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		       unsigned npins)
{
	struct cw_batch c = { el, pins, nel, npins, 0 };
	char why[256];
	int r = 0;

	if (nel || npins) {
		r = fw_commit(f, fill_cw_batch, &c, why, sizeof(why));
		if (r == -ENOENT) {
			/* the kernel's timeout took some: the rest one by one */
			r = 0;
			for (unsigned i = 0; i < nel + npins; i++) {
				struct cw_batch one = { i < nel ? &el[i] : NULL, i < nel ? NULL : &pins[i - nel], i < nel,
							i >= nel, 0 };
				int e = fw_commit(f, fill_cw_batch, &one, why, sizeof(why));
				if (e && e != -ENOENT)
					r = e;
			}
		}
		if (r)
			log_debug("nft: removing a container window's elements: %s", why);
	}
	fw_win_release(f);
	return r;
}
