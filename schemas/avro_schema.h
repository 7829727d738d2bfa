/*
 * Avro schemas: parse one, check it the way Avro's own (Java) parser does, and give it the
 * canonical text a schema registry stores and compares.
 * Confluent: client/.../avro/AvroSchema.java (canonicalString, normalize) on top of Avro's
 * Schema.Parser; AvroSchemaUtils.toNormalizedString for ?normalize=true.
 * Spec: https://avro.apache.org/docs/1.11.1/specification/ ("Schema Declaration").
 *
 *   text --jansson--> JSON --this file--> a tree of struct mk_avro_type (checked)
 *                                    \--> canonical text (Java's Schema.toString() layout)
 *                                    \--> normalized text (full names, sorted properties)
 *        normalized text --avro-c--> avro_schema_t (what encodes and decodes data)
 *
 * Why two parsers. Avro C 1.11 (Debian's libavro-dev) is what reads and writes Avro data
 * here (schemas/avro_datum.h), so every schema is also parsed by it. But avro-c's parser
 * accepts schemas the specification forbids (duplicate field names, duplicate enum symbols,
 * a union holding two ints, a negative fixed size, a record named "int") and keeps nothing
 * of what compatibility needs (field defaults, aliases, an enum's default). A registry that
 * must answer 42201 for an invalid schema, and decide compatibility by Avro's resolution
 * rules, needs both. So this file reads the JSON once, checks what Java's Schema.Parser
 * checks (names, duplicates, defaults that match their field's type), builds the tree the
 * registry and the serializers walk, and only then asks avro-c to parse the normalized text
 * (which names every type by its full name: the form avro-c resolves most reliably).
 *
 * Canonical text. Confluent's registry stores a schema as Java's Schema.toString(): compact
 * JSON, keys in a fixed order (type, name, namespace, doc, fields/symbols/items/values/size,
 * default, order, aliases, then other properties), "int" for {"type": "int"}, a namespace
 * written only where it changes. Two texts that differ only in whitespace, key order or
 * such spelling have the same canonical text, which is how "register the same schema again"
 * finds the existing id. The normalized form (?normalize=true) also writes every name in
 * full, sorts aliases and custom properties, and drops "namespace" keys.
 *
 * Memory: a struct mk_avro_schema owns everything it points to (the types, the JSON they
 * borrow defaults from, the avro-c schema, the texts). Free it with mk_avro_schema_free.
 * Thread: a parsed schema is read-only: any number of threads may read it at once.
 */
#ifndef MK_SCHEMAS_AVRO_SCHEMA_H
#define MK_SCHEMAS_AVRO_SCHEMA_H

#include <avro.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

/* The largest schema text accepted: the registry's limit (one record of its log). */
#define MK_AVRO_SCHEMA_MAX_BYTES (1 << 20)
/* How deeply types may nest inside one another (arrays of maps of records ...). */
#define MK_AVRO_SCHEMA_MAX_DEPTH 64

enum mk_avro_kind {
  MK_AVRO_NULL,
  MK_AVRO_BOOLEAN,
  MK_AVRO_INT,
  MK_AVRO_LONG,
  MK_AVRO_FLOAT,
  MK_AVRO_DOUBLE,
  MK_AVRO_BYTES,
  MK_AVRO_STRING,
  MK_AVRO_RECORD,
  MK_AVRO_ENUM,
  MK_AVRO_ARRAY,
  MK_AVRO_MAP,
  MK_AVRO_UNION,
  MK_AVRO_FIXED,
};

struct mk_avro_type;

/* A record's field. */
struct mk_avro_field {
  const char *name;
  struct mk_avro_type *type;
  json_t *default_value;   /* borrowed from the schema's JSON; NULL = no default */
  char **aliases;          /* other names the field had (reader aliases, for resolution) */
  int num_aliases;
  json_t *def;             /* the field's JSON object (doc, order, custom properties) */
};

/* One type. A named type (record, enum, fixed) exists once per schema; every reference to
 * it points at the same struct, so a recursive schema is a cyclic graph. */
struct mk_avro_type {
  enum mk_avro_kind kind;
  json_t *def;              /* the JSON object that defined it; NULL for a bare "int" */

  /* named types (record, enum, fixed) */
  const char *name;         /* the short name: "User" */
  char *space;              /* the namespace, NULL for none: "com.example" */
  char *full_name;          /* "com.example.User" */
  char **aliases;           /* full names */
  int num_aliases;

  struct mk_avro_field *fields;  /* record */
  int num_fields;
  char **symbols;                /* enum */
  int num_symbols;
  int enum_default;              /* enum: index of the default symbol, -1 for none */
  int64_t size;                  /* fixed: bytes */
  struct mk_avro_type *items;    /* array: the items' type; map: the values' type */
  struct mk_avro_type **branches;  /* union */
  int num_branches;
  bool finite_;                  /* private to avro_schema.c: it can hold a finite value */
};

struct mk_avro_schema {
  struct mk_avro_type *root;
  char *canonical;          /* Java's Schema.toString() form; NUL-terminated */
  char *normalized;         /* Confluent's normalized form; NUL-terminated */
  avro_schema_t avro;       /* avro-c's parse of the normalized text */
  json_t *json;             /* the parsed input; defaults and properties point into it */
  /* private to avro_schema.c */
  struct mk_avro_type **types_;  /* every type allocated for this schema */
  int num_types_, cap_types_;
};

/* Parse text (len bytes, need not be NUL-terminated) as an Avro schema and check it as
 * Avro's Java parser checks a new schema, defaults included. With normalize, the canonical
 * text is the normalized one (Confluent's ?normalize=true). Returns 0 with *out set, or
 * MK_ERR__INVALID_ARG with err saying what is wrong where ("field 'age' of record User:
 * default \"x\" is not an int"); texts over MK_AVRO_SCHEMA_MAX_BYTES are refused the same
 * way. Thread: any. Borrows text. Returns new: free with mk_avro_schema_free. */
int mk_avro_schema_parse(const char *text, size_t len, bool normalize,
                         struct mk_avro_schema **out, struct mk_err *err);

void mk_avro_schema_free(struct mk_avro_schema *s);

/* "int", "record", ... : Avro's name of a kind. Thread: any. */
const char *mk_avro_kind_name(enum mk_avro_kind kind);

/* How a value of this type is named as a union branch in Avro's JSON encoding: the full
 * name of a named type, else the kind's name ("string", "array"). Thread: any. */
const char *mk_avro_type_branch_name(const struct mk_avro_type *t);

/* A 64-bit hash (FNV-1a) of a NUL-terminated text, e.g. a canonical schema text: the name
 * table here and the registry's "is this schema known" both use it. Thread: any. */
uint64_t mk_avro_text_hash(const char *text);

/* The field called name in record t, or NULL. Thread: any. */
const struct mk_avro_field *mk_avro_record_field(const struct mk_avro_type *t,
                                                 const char *name);

#endif
