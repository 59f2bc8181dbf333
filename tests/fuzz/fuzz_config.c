// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the config parser, config_parse(). Whatever the
 * bytes, the parser must either produce a config that satisfies every limit
 * the daemon relies on, or fail with a "NAME..." message and leave the config
 * exactly as it was (the defaults here): nothing of a bad file is applied. */
#include "config.h"

#include <linux/netfilter.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define NAME "fuzz.conf"

static int bounded(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static void check_ok(const struct ph_config *c)
{
	CHECK(c->nports >= 1 && c->nports <= PH_MAX_PORTS);
	for (unsigned i = 0; i < c->nports; i++) {
		CHECK(c->ports[i] != 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(c->ports[i] != c->ports[j]);
	}
	CHECK(c->max_window >= 1 && c->max_window <= PH_MAX_WINDOW_LIMIT);
	CHECK(bounded(c->socket, sizeof(c->socket)) && c->socket[0] == '/');
	CHECK(bounded(c->audit_log, sizeof(c->audit_log)) && c->audit_log[0] == '/');
	CHECK(bounded(c->socket_group, sizeof(c->socket_group)) && c->socket_group[0]);
	CHECK(c->chains_auto == (c->chains_mode == PH_CHAINS_AUTO));
	if (c->chains_mode != PH_CHAINS_LIST) {
		CHECK(c->nchains == 0); /* auto, or none (static mode) */
		return;
	}
	CHECK(c->nchains >= 1 && c->nchains <= PH_MAX_CHAINS);
	for (unsigned i = 0; i < c->nchains; i++) {
		const struct ph_chain_ref *r = &c->chains[i];
		CHECK(r->family == NFPROTO_INET || r->family == NFPROTO_IPV4 ||
		      r->family == NFPROTO_IPV6);
		CHECK(bounded(r->table, sizeof(r->table)) && r->table[0]);
		CHECK(bounded(r->chain, sizeof(r->chain)) && r->chain[0]);
		for (unsigned j = 0; j < i; j++)
			CHECK(!(c->chains[j].family == r->family &&
				!strcmp(c->chains[j].table, r->table) &&
				!strcmp(c->chains[j].chain, r->chain)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ph_config c, def;
	char err[256];
	int r;

	config_defaults(&c);
	config_defaults(&def);
	memset(err, 0xa5, sizeof(err));

	/* data is libFuzzer's exact-size heap copy, not NUL-terminated: ASan
	 * flags any read past len */
	r = config_parse(&c, NAME, (const char *)data, size, err, sizeof(err));
	if (r == 0) {
		check_ok(&c);
		return 0;
	}
	CHECK(r < 0);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
	CHECK(strlen(err) > strlen(NAME ":"));
	CHECK(memcmp(&c, &def, sizeof(c)) == 0);
	return 0;
}
