// SPDX-License-Identifier: GPL-2.0-or-later
/* The verbs of the CLI: each has a handler, given argv from the verb's name
 * on and returning the exit status, and a usage function (stdout for --help,
 * stderr after a usage error). main.c's table lists them. */
#ifndef PORTHOLE_CLI_H
#define PORTHOLE_CLI_H

#include <stdio.h>

int cmd_run(int argc, char **argv);
void usage_run(FILE *f);
int cmd_status(int argc, char **argv);
void usage_status(FILE *f);
int cmd_close(int argc, char **argv);
void usage_close(FILE *f);
int cmd_log(int argc, char **argv);
void usage_log(FILE *f);
int cmd_check(int argc, char **argv);
void usage_check(FILE *f);

#endif
