/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What records.c and records_server.c share: journal fields and a peer
 * address in the records' text form. */
#ifndef PORTHOLE_RECORDS_H
#define PORTHOLE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/* "KEY=value" fields for the journal, built in small buffers */
struct jfields {
	char buf[16][320];
	char *ptr[16];
	unsigned n;
};
void jfield(struct jfields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* an IPv4-mapped IPv6 address as IPv4 */
void format_peer(uint16_t family, const uint8_t *addr, char *buf, size_t len);

#endif
