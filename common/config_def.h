/*
 * ConfigDef: a table of Kafka settings that drives parsing, defaults, checks and listings.
 * Kafka: clients/.../common/config/ConfigDef.java (types, validators, and the
 * ConfigException sentences, kept so that an error reads like Java's).
 *
 * A client's settings are a plain struct (struct mk_consumer_config) plus a table with one
 * row per setting: its Kafka name, its type, where its value lives in the struct, the range
 * or choices Java's validator allows, its default (as text, parsed by the same code as the
 * user's text, so a default cannot disagree with the parser) and one line of doc.
 *
 *   mk_config_def_init(def, obj)                  every setting at its default
 *   mk_config_def_set(def, obj, "fetch.min.bytes", "1024", err)   parse, check, store
 *   ... the client reads the typed fields ...
 *   mk_config_def_format(def, obj, key, buf)      a value back as text (listings, --help)
 *   mk_config_def_free(def, obj)                  the strings and lists it owns
 *
 * Parsing follows ConfigDef.parseType: surrounding whitespace is trimmed; INT and LONG are
 * decimal within the type's range, then the row's range; BOOLEAN is true/false in any case;
 * a CHOICE is one of its strings exactly; a LIST is comma-separated (blanks around commas
 * dropped). The MK_CONFIG_ADDRESSES flag makes a list Kafka's bootstrap.servers check
 * (ClientUtils.parseAndValidateAddresses: non-empty, no duplicates, each host:port).
 *
 * Errors are MK_ERR__INVALID_ARG with Java's sentence, which names the key:
 * "Invalid value abc for configuration fetch.min.bytes: Not a number of type INT".
 *
 * producer/producer_config.c has kinds of its own (acks, serializers, partitioners) but
 * parses numbers, addresses and errors with the helpers at the end of this header.
 *
 * Thread: any (the caller owns the struct). Memory: set() copies what it keeps; the
 * struct's strings and lists belong to it until mk_config_def_free.
 */
#ifndef MK_COMMON_CONFIG_DEF_H
#define MK_COMMON_CONFIG_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

enum mk_config_type {
  MK_CONFIG_INT,      /* int32_t, range-checked */
  MK_CONFIG_LONG,     /* int64_t, range-checked */
  MK_CONFIG_BOOLEAN,  /* bool */
  MK_CONFIG_STRING,   /* char *, owned; NULL when the setting is null */
  MK_CONFIG_CHOICE,   /* int: the index of the value in choices */
  MK_CONFIG_LIST,     /* struct mk_config_list, owned */
};

/* Row flags. */
enum {
  MK_CONFIG_REQUIRED = 1,   /* no default: the user must give it (checked by the client) */
  MK_CONFIG_NON_EMPTY = 2,  /* STRING: "" is refused (ConfigDef.NonEmptyString) */
  MK_CONFIG_ADDRESSES = 4,  /* LIST: host:port items, none empty, no duplicates */
};

/* A LIST's value. */
struct mk_config_list {
  char **items;
  int n;
};

struct mk_config_key {
  const char *name;             /* "fetch.min.bytes" */
  enum mk_config_type type;
  size_t offset;                /* of the value in the struct */
  int64_t min, max;             /* INT, LONG: the validator's range */
  const char *const *choices;   /* CHOICE: NULL-terminated */
  const char *dflt;             /* the default as text; NULL = null (or required) */
  unsigned flags;
  const char *doc;              /* one line: what it does */
};

struct mk_config_def {
  const struct mk_config_key *keys;
  int n;
  const char *what;             /* "consumer": names the client in "unknown setting" */
};

/* Set every setting of obj to its default. Returns 0 or MK_ERR__NO_MEMORY (obj is then
 * safe to pass to mk_config_def_free). obj must be zeroed before the first call. */
int mk_config_def_init(const struct mk_config_def *def, void *obj);

/* Free what obj's strings and lists own, and set them to NULL / empty. */
void mk_config_def_free(const struct mk_config_def *def, void *obj);

/* Make dst (zeroed, or freed) a deep copy of src's settings. Returns 0 or MK_ERR__NO_MEMORY
 * (dst is then safe to free). */
int mk_config_def_copy(const struct mk_config_def *def, void *dst, const void *src);

/* The row for key, or NULL. */
const struct mk_config_key *mk_config_def_find(const struct mk_config_def *def, const char *key);

/* Parse value as k's type and store it in obj; value NULL puts the default back. On error
 * obj is unchanged and err says what the key accepts. Borrows value. */
int mk_config_def_set_key(const struct mk_config_key *k, void *obj, const char *value,
                          struct mk_err *err);

/* The same by name; an unknown key is MK_ERR__INVALID_ARG "Unknown configuration ...".
 * *index (may be NULL) gets the row's index, for a client's "set by the user" bits. */
int mk_config_def_set(const struct mk_config_def *def, void *obj, const char *key,
                      const char *value, int *index, struct mk_err *err);

/* k's value in obj as the text set() accepts ("null" for a null string) into buf. */
void mk_config_def_format(const struct mk_config_key *k, const void *obj, char *buf, size_t size);

/* Java's type name for listings: "int", "long", "boolean", "string", "list". */
const char *mk_config_type_name(enum mk_config_type type);

/* ---- helpers for tables with kinds of their own ---------------------------------------- */

/* Integer.parseInt / Long.parseLong: an optional sign and decimal digits, nothing else,
 * within [lo, hi]. */
bool mk_config_parse_integer(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Java's String.trim() as a new string (NULL when out of memory): characters <= ' ' dropped
 * at both ends. Returns new (free()). */
char *mk_config_trim_dup(const char *s);

/* Java's ConfigException(name, value, message): "Invalid value V for configuration K: M"
 * (a long value is cut at 60 characters). Returns MK_ERR__INVALID_ARG. */
int mk_config_invalid(struct mk_err *err, const char *name, const char *raw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A LIST value as Type.LIST parses it; with MK_CONFIG_ADDRESSES each item must also be a
 * host:port (ClientUtils.parseAndValidateAddresses). Returns 0 with *out owning new strings,
 * or an error naming the setting. Borrows text (already trimmed). */
int mk_config_parse_list(const char *name, const char *text, unsigned flags,
                         struct mk_config_list *out, struct mk_err *err);
void mk_config_list_free(struct mk_config_list *l);

#endif
