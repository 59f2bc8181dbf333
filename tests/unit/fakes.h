/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fakes of the daemon's ops that the state machines' tests share
 * (test_window.c, test_server.c): the log sink, which counts lines by
 * priority and keeps the last one, and the clock and its timer, all in ft.
 * Include after daemon.h and log.h. */
#ifndef PORTHOLE_UNIT_FAKES_H
#define PORTHOLE_UNIT_FAKES_H
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static struct {
	unsigned logged[LOG_DEBUG + 1]; /* lines by priority */
	char last_log[1024];
	uint64_t boot, real;            /* the clock */
	uint64_t timer;                 /* when the timer was last armed for */
} ft;

static void f_log(int prio, const char *msg)
{
	prio &= LOG_PRIMASK; /* LOG_AUDITED: a sink's business */
	if (prio >= 0 && prio <= LOG_DEBUG)
		ft.logged[prio]++;
	snprintf(ft.last_log, sizeof(ft.last_log), "%s", msg);
}

static uint64_t f_now(clockid_t clk) { return clk == CLOCK_BOOTTIME ? ft.boot : ft.real; }
static void f_timer_arm(struct ph_daemon *dd, uint64_t when) { (void)dd; ft.timer = when; }
#endif
