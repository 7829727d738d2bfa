/*
 * Java .properties files (java.util.Properties.load), for every --*.config flag.
 * See properties.c for the syntax. Thread: any.
 */
#ifndef MK_COMMON_PROPERTIES_H
#define MK_COMMON_PROPERTIES_H

#include <stddef.h>

#include "protocol/errors.h"

/* The largest properties file read (a settings file, not data). */
#define MK_PROPERTIES_MAX (16 << 20)

/* Called once per property, in file order, with NUL-terminated key and value (borrowed for
 * the call). A non-zero return stops the parse; err then says why. */
typedef int (*mk_property_fn)(void *opaque, const char *key, const char *value,
                              struct mk_err *err);

/* Parse len bytes of properties text. Returns 0, or the first non-zero return of fn (or
 * MK_ERR__INVALID_ARG for a malformed \uXXXX) with err prefixed "origin:line: ". origin may be
 * NULL ("<string>"). */
int mk_properties_parse(const char *text, size_t len, const char *origin, mk_property_fn fn,
                        void *opaque, struct mk_err *err);

/* The same for a whole file (up to MK_PROPERTIES_MAX bytes). Returns 0 or an error naming
 * the file (cannot open, too large) or the line. */
int mk_properties_parse_file(const char *path, mk_property_fn fn, void *opaque,
                             struct mk_err *err);

#endif
