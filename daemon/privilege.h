/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What portholed may do: root, or a user of its own with ambient
 * capabilities (portholed.service runs it as user porthole with
 * CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE, nothing else).
 * This module owns the question "may this process run the daemon?" and the
 * words of the refusal. */
#ifndef PH_PRIVILEGE_H
#define PH_PRIVILEGE_H

#include <stddef.h>

/* 0: the effective set holds every capability the daemon needs (as root,
 * CAP_SYS_PTRACE is not needed); -EPERM: why names the missing ones and how
 * to give them. */
int priv_check(char *why, size_t whylen);

/* the effective set, as a mask of CAP_* bits (0 when capget fails) */
unsigned long long priv_effective(void);

#endif
