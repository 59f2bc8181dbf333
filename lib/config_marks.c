// SPDX-License-Identifier: GPL-2.0-or-later
/* The marks porthole reserves within socket_mark's mask (config.h): the
 * guard's two, the container windows' three, picked from the top of the
 * mask so no session gets them; and which container machinery a config
 * turns on. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

/* the k-th value within mask (bits of k deposited into mask's bits) */
static uint32_t deposit(uint32_t mask, uint32_t k)
{
	uint32_t v = 0;

	for (uint32_t bit = 1; bit && k; bit <<= 1) {
		if (!(mask & bit))
			continue;
		if (k & 1)
			v |= bit;
		k >>= 1;
	}
	return v;
}

/* the n highest values within the mask other than VALUE, highest first
 * (sessions are given the low ones) */
static int top_marks(const struct ph_config *c, uint32_t *got, unsigned n)
{
	unsigned bits = (unsigned)__builtin_popcount(c->mark_mask), i = 0;
	uint32_t top = bits >= 32 ? UINT32_MAX : (1u << bits) - 1;

	for (uint32_t k = top; k > 0 && i < n; k--) {
		uint32_t v = deposit(c->mark_mask, k);
		if (v != c->mark)
			got[i++] = v;
	}
	return i < n ? -ENOSPC : 0;
}

int config_guard_marks(const struct ph_config *c, uint32_t *cand, uint32_t *guarded)
{
	uint32_t got[2];

	if (top_marks(c, got, 2))
		return -ENOSPC;
	*cand = got[0];
	*guarded = got[1];
	return 0;
}

int config_container_mark(const struct ph_config *c, uint32_t *cw)
{
	uint32_t got[3];

	if (top_marks(c, got, 3))
		return -ENOSPC;
	*cw = got[2];
	return 0;
}

int config_has_csrv(const struct ph_config *c)
{
	for (unsigned i = 0; i < c->nsrv; i++)
		if (c->srv[i].type == DES_CONTAINER)
			return 1;
	return 0;
}

int config_container_pre_marks(const struct ph_config *c, uint32_t *cp, uint32_t *cc)
{
	uint32_t got[5];
	unsigned bits = (unsigned)__builtin_popcount(c->mark_mask);

	/* room for every designation, a session, and the five marks */
	if (bits < 31 && (1u << bits) - 2 < c->ndes + 1 + 5)
		return -ENOSPC;
	if (top_marks(c, got, 5) || __builtin_popcount(got[2] ^ got[3]) != 1)
		return -ENOSPC;
	*cp = got[3];
	*cc = got[4];
	return 0;
}

int config_has_published(const struct ph_config *c)
{
	if (config_has_csrv(c))
		return 1;
	for (unsigned i = 0; i < c->ndes; i++)
		if (c->des[i].published)
			return 1;
	return 0;
}
