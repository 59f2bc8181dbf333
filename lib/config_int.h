/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside lib/ only: what config.c and config_designate.c share. */
#ifndef PORTHOLE_CONFIG_INT_H
#define PORTHOLE_CONFIG_INT_H

#include <stddef.h>
#include "config.h"

/* "NAME:LINE: message" (or "NAME: message" for line 0) into err; -EINVAL */
int conf_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Split s in place on commas and blanks; returns the number of tokens. */
unsigned conf_words(char *s, char **tok, unsigned max, int *overflow);

/* The value of one `designate =` / `serve =` line, appended to c. */
int conf_parse_designate(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el);
int conf_parse_serve(struct ph_config *c, char *v, const char *name, unsigned ln, char *err, size_t el);

#endif
