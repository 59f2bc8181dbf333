/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The systemd notification protocol (sd_notify) without libsystemd: one
 * datagram to $NOTIFY_SOCKET. A no-op when the variable is unset. */
#ifndef PORTHOLE_NOTIFY_H
#define PORTHOLE_NOTIFY_H

int notify_send(const char *state);

#endif
