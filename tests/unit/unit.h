/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal unit-test harness: CHECK prints PASS/FAIL per assertion, and
 * unit_done() the closing "N passed, N failed, N skipped" line. */
#ifndef PORTHOLE_UNIT_H
#define PORTHOLE_UNIT_H
#include <stdio.h>

static int unit_pass, unit_fail;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (cond) {                                                  \
			unit_pass++;                                         \
			printf("PASS ");                                     \
		} else {                                                     \
			unit_fail++;                                         \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
		}                                                            \
		printf(__VA_ARGS__);                                         \
		putchar('\n');                                               \
	} while (0)

static inline int unit_done(const char *name)
{
	printf("%s: %d passed, %d failed, 0 skipped\n", name, unit_pass, unit_fail);
	return unit_fail ? 1 : 0;
}
#endif
