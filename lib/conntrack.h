/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ending tracked connections by their conntrack mark (ctnetlink, as
 * `conntrack -D --mark VALUE/MASK` does). When portholed starts or stops,
 * connections a server window admitted (the guarded mark) are ended: their
 * guard is gone with the daemon, and the host's own `ct state established
 * accept` would otherwise let anything more through on them. Needs
 * CAP_NET_ADMIN; -errno returns. */
#ifndef PORTHOLE_CONNTRACK_H
#define PORTHOLE_CONNTRACK_H

#include <stdint.h>

int ct_flush_mark(uint32_t value, uint32_t mask);

#endif
