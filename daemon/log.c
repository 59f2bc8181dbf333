// SPDX-License-Identifier: GPL-2.0-or-later
/* stderr logging with journald priority prefixes (see log.h). */
#include "log.h"
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int debug_on;

void log_set_debug(int on) { debug_on = on; }

/* systemd connects stderr to the journal and says so in JOURNAL_STREAM
 * ("DEV:INODE" of that stream): the documented test */
static int stderr_is_journal(void)
{
	static int known = -1;
	unsigned long long dev, ino;
	struct stat st;
	const char *e;

	if (known >= 0)
		return known;
	e = getenv("JOURNAL_STREAM");
	known = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		(unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	return known;
}

static void vlog(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024], safe[1200];
	int n;

	if ((prio & LOG_AUDITED) && stderr_is_journal())
		return; /* its journal entry stands for it */
	prio &= LOG_PRIMASK;
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
