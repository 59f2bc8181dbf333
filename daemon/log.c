// SPDX-License-Identifier: GPL-2.0-or-later
/* stderr logging with journald priority prefixes (see log.h). */
#include "log.h"
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int debug_on;

void log_set_debug(int on) { debug_on = on; }

static void vlog(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024], safe[1200];
	int n;

	if (prio == LOG_DEBUG && !debug_on)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* names from processes (an exe called "x\n<3>forged") must not start
	 * a line of their own or reach a terminal raw */
	term_escape(safe, sizeof(safe), line);
	/* one write per line so concurrent writers never interleave mid-line */
	fprintf(stderr, "<%d>portholed: %s%s%s\n", prio, safe, suffix ? ": " : "", suffix ? suffix : "");
	fflush(stderr);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, NULL, fmt, ap);
	va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, strerror(err < 0 ? -err : err), fmt, ap);
	va_end(ap);
	return err;
}
