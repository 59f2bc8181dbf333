// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole: the unprivileged CLI. main() takes the global options (the
 * socket path, --help, --version) and hands the rest to a verb from the
 * table below; each verb has its own usage and lives in its own file. All
 * of them but log talk to portholed over the control socket (lib/proto.h). */
#include "cli.h"
#include "client.h"
#include "config.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
} verbs[] = {
	{ "run", cmd_run, usage_run, "run an ACME client with a window for its listener" },
	{ "status", cmd_status, usage_status, "list open windows" },
	{ "close", cmd_close, usage_close, "revoke an open window" },
	{ "log", cmd_log, usage_log, "show the audit log" },
	{ "check", cmd_check, usage_check, "check whether porthole can work on this host" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: porthole [--socket PATH] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'porthole COMMAND --help' describes each command.\n"
		   "The socket defaults to $PORTHOLE_SOCKET or " PH_DEFAULT_SOCKET ".\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	client_init();
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") || !strcmp(argv[i], "-s")) {
			if (i + 1 >= argc) {
				die_msg("--socket needs a path");
				return EX_USAGE_;
			}
			client_set_socket(argv[i + 1]);
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			client_set_socket(argv[i] + 9);
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("porthole %s\n", PH_VERSION);
			return 0;
		} else {
			die_msg("unknown option '%s'", argv[i]);
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	for (size_t v = 0; v < ARRAY_SIZE(verbs); v++)
		if (!strcmp(argv[i], verbs[v].name))
			return verbs[v].fn(argc - i, argv + i);
	die_msg("unknown command '%s'", argv[i]);
	usage(stderr);
	return EX_USAGE_;
}
