/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging for the daemon: one line per message on stderr with a syslog
 * priority prefix ("<3>"), which journald turns into the record's priority.
 * Log once, where the error is handled. */
#ifndef PORTHOLE_LOG_H
#define PORTHOLE_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

/* Or'ed into a priority: the line of an audited event (a window opened or
 * closed, a refusal, the daemon's start), whose journal entry with its
 * PORTHOLE_* fields (telemetry.c) stands for it when stderr is the journal:
 * then the line is not written, so the journal has each event once. */
#define LOG_AUDITED 0x10000

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log "...: strerror(-err)" at LOG_ERR and return err (a negative errno). */
int log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_debug(int on);

/* A state machine logs through its ops struct (window.h, server.h): the
 * message formatted here, then handed to its sink (log_msg in production,
 * a test's recorder in the unit tests). */
static inline void log_to(void (*sink)(int prio, const char *msg), int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void log_to(void (*sink)(int prio, const char *msg), int prio, const char *fmt, ...)
{
	char msg[1024]; /* log_msg's own limit */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink(prio, msg);
}

#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
