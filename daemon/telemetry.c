// SPDX-License-Identifier: GPL-2.0-or-later
/* What a fleet's tools read, besides the audit log: every audit event as a
 * structured journal entry (when a journal is there; one MESSAGE_ID per
 * event kind, PORTHOLE_* fields), and an optional Prometheus textfile
 * (node_exporter's textfile collector: written to a temporary file in the
 * same directory and renamed, no timestamps). Neither is needed for
 * porthole to work: a failure here is logged, never fatal. */
#include "container.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

/* Generated once with systemd-id128 new; listed in the README and portholed(8). */
static const struct {
	const char *event, *id;
	int prio;
} ids[] = {
	{ "daemon-start", "215520793d1047069a96fa7786c8b997", LOG_NOTICE },
	{ "daemon-stop", "2924a83b0ceb4c1089cd13abc19d936a", LOG_NOTICE },
	{ "window-open", "5e65d4fa50704e289e93d87686824925", LOG_NOTICE },
	{ "window-close", "c2194c2933de4b6c942111911e340646", LOG_NOTICE },
	{ "refused", "53d73810eec14b6e98ec7c2a145a4bd6", LOG_WARNING },
};

static int journal_present = -1;

void journal_event(const char *event, const char *message, char *const *fields, unsigned nfields)
{
	struct iovec iov[32];
	char head[5][256];
	const char *id = "";
	int prio = LOG_INFO;
	unsigned n = 0;

	if (journal_present < 0)
		journal_present = access("/run/systemd/journal/socket", W_OK) == 0;
	if (!journal_present)
		return;
	for (unsigned i = 0; i < ARRAY_SIZE(ids); i++)
		if (!strcmp(ids[i].event, event))
			id = ids[i].id, prio = ids[i].prio;
	snprintf(head[0], sizeof(head[0]), "MESSAGE=%s", message);
	snprintf(head[1], sizeof(head[1]), "MESSAGE_ID=%s", id);
	snprintf(head[2], sizeof(head[2]), "PRIORITY=%d", prio);
	snprintf(head[3], sizeof(head[3]), "PORTHOLE_EVENT=%s", event);
	snprintf(head[4], sizeof(head[4]), "SYSLOG_IDENTIFIER=portholed");
	for (unsigned i = 0; i < 5; i++, n++) {
		iov[n].iov_base = head[i];
		iov[n].iov_len = strlen(head[i]);
	}
	for (unsigned i = 0; i < nfields && n < ARRAY_SIZE(iov); i++, n++) {
		iov[n].iov_base = fields[i];
		iov[n].iov_len = strlen(fields[i]);
	}
	if (sd_journal_sendv(iov, (int)n) < 0)
		log_debug("journal: entry for %s not sent", event);
}

/* ---- metrics ------------------------------------------------------------------------- */

void metrics_write(struct ph_daemon *d)
{
	char tmp[PATH_MAX + 16];
	unsigned nopen = 0;
	FILE *f;
	int fd;

	if (!d->cfg.metrics_file[0])
		return;
	for (struct ph_window *w = d->windows; w; w = w->next)
		nopen++;
	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		nopen += server_window(d, i)->open != 0;
	for (unsigned i = 0; container_window_at(d, i); i++)
		nopen++;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.metrics_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		log_errno(-errno, "metrics: cannot write %s", tmp);
		return;
	}
	fprintf(f, "# HELP porthole_windows_opened_total Windows opened since portholed started.\n"
		   "# TYPE porthole_windows_opened_total counter\n"
		   "porthole_windows_opened_total %llu\n", (unsigned long long)d->stats.opened);
	fprintf(f, "# HELP porthole_windows_closed_total Windows closed since portholed started, by reason.\n"
		   "# TYPE porthole_windows_closed_total counter\n");
	for (uint32_t r = PH_REASON_LISTENER_CLOSED; r <= PH_REASON_MAX; r++)
		fprintf(f, "porthole_windows_closed_total{reason=\"%s\"} %llu\n", ph_reason_name(r),
			(unsigned long long)d->stats.closed[r]);
	fprintf(f, "# HELP porthole_windows_open Windows open now.\n"
		   "# TYPE porthole_windows_open gauge\n"
		   "porthole_windows_open %u\n", d->quit_done ? 0 : nopen);
	fprintf(f, "# HELP porthole_refusals_total Requests and windows refused since portholed started.\n"
		   "# TYPE porthole_refusals_total counter\n"
		   "porthole_refusals_total %llu\n", (unsigned long long)d->stats.refused);
	fprintf(f, "# HELP porthole_last_window_close_timestamp_seconds When the last window closed (Unix time; 0: none yet).\n"
		   "# TYPE porthole_last_window_close_timestamp_seconds gauge\n"
		   "porthole_last_window_close_timestamp_seconds %.3f\n", (double)d->stats.last_close_real / 1e9);
	if (d->cfg.nsrv) {
		fprintf(f, "# HELP porthole_guard_requests_total Requests on guarded connections of server windows, by verdict.\n"
			   "# TYPE porthole_guard_requests_total counter\n");
		for (unsigned i = 0; i < d->cfg.nsrv; i++) {
			uint64_t adm = 0, drop = 0;
			char label[2 * 256 + 1];
			const char *a = d->cfg.srv[i].arg;
			size_t o = 0;
			/* a label value: backslash and quote escaped */
			for (; *a && o + 2 < sizeof(label); a++) {
				if (*a == '\\' || *a == '"')
					label[o++] = '\\';
				label[o++] = *a;
			}
			label[o] = '\0';
			if (d->watch)
				guardbpf_stats(d->gk, i, &adm, &drop);
			fprintf(f, "porthole_guard_requests_total{server=\"%s\",verdict=\"admitted\"} %llu\n", label,
				(unsigned long long)adm);
			fprintf(f, "porthole_guard_requests_total{server=\"%s\",verdict=\"dropped\"} %llu\n", label,
				(unsigned long long)drop);
		}
	}
	fprintf(f, "# HELP porthole_up 1 while portholed runs.\n"
		   "# TYPE porthole_up gauge\n"
		   "porthole_up %d\n", d->quit_done ? 0 : 1);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0) {
		log_errno(-errno, "metrics: cannot write %s", tmp);
		unlink(tmp);
		return;
	}
	if (rename(tmp, d->cfg.metrics_file) < 0) {
		log_errno(-errno, "metrics: cannot rename %s", tmp);
		unlink(tmp);
	}
}
