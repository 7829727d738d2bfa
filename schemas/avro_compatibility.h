/*
 * Avro compatibility: can data written with one schema be read with another, and what a
 * registry's compatibility level asks of a new schema.
 * Avro: SchemaCompatibility.java (checkReaderWriterCompatibility: the specification's
 * "Schema Resolution" turned into a yes/no with reasons). Confluent: CompatibilityChecker,
 * SchemaValidatorBuilder (the levels), AvroSchema.isBackwardCompatible, Difference.
 *
 * Reader and writer. A consumer holding schema R reads bytes a producer wrote with schema
 * W. That works when every part of W has a place to go in R:
 *   - same primitive, or a promotion: int -> long, float, double; long -> float, double;
 *     float -> double; string <-> bytes
 *   - records with the same name (or an alias of R's); each field of R is found in W (by
 *     name or by one of the R field's aliases) and resolves, or has a default
 *   - enums with the same name whose R symbols include every W symbol (or R has a default)
 *   - fixed: same name and size; arrays and maps: their items/values resolve
 *   - W a union: every branch of W resolves against R; R a union (W not): some branch does
 *
 * The levels (new = the schema being registered, old = those already in the subject):
 *   BACKWARD  new reads data written with the latest old     (consumers upgrade first)
 *   FORWARD   the latest old reads data written with new     (producers upgrade first)
 *   FULL      both;   NONE  no check
 *   *_TRANSITIVE      the same against every old version, newest first, not just the latest
 *
 * Why not avro-c's resolver. Avro C 1.11 has a resolver (avro/resolver.h) and the
 * deserializer uses it to read data, but it cannot decide compatibility: it refuses a reader
 * field missing from the writer even when the field has a default (a TODO in its source),
 * does not compare enum symbols, and accepts a writer union if *one* branch resolves. Each
 * of those gives the wrong answer for an everyday evolution, so this file walks the two
 * parsed schemas (schemas/avro_schema.h) itself, rule by rule as listed above; the unit
 * tests check it agrees with avro-c's resolver wherever avro-c's rules apply.
 *
 * Thread: any (no shared state).
 */
#ifndef MK_SCHEMAS_AVRO_COMPATIBILITY_H
#define MK_SCHEMAS_AVRO_COMPATIBILITY_H

#include <stdbool.h>

#include "schemas/avro_schema.h"

enum mk_compatibility {
  MK_COMPATIBILITY_NONE,
  MK_COMPATIBILITY_BACKWARD,
  MK_COMPATIBILITY_BACKWARD_TRANSITIVE,
  MK_COMPATIBILITY_FORWARD,
  MK_COMPATIBILITY_FORWARD_TRANSITIVE,
  MK_COMPATIBILITY_FULL,
  MK_COMPATIBILITY_FULL_TRANSITIVE,
};

/* "BACKWARD", ... Thread: any. */
const char *mk_compatibility_name(enum mk_compatibility level);

/* The level named name, in any case ("full_transitive"), into *out. Returns false for any
 * other text. Thread: any. Borrows name. */
bool mk_compatibility_from_name(const char *name, enum mk_compatibility *out);

/* A list of messages (the reasons a check failed). Owns its strings. */
struct mk_avro_messages {
  char **v;
  int n, cap;
};
void mk_avro_messages_free(struct mk_avro_messages *m);

/* Can data written with writer be read with reader? Returns true, or false after appending
 * one message per incompatibility to out (may be NULL), each in Confluent's shape:
 *   {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'...', additionalInfo:'age'}
 * reader_role and writer_role ("new", "old") name the two schemas in the descriptions.
 * Thread: any. Borrows everything. */
bool mk_avro_can_read(const struct mk_avro_schema *reader, const struct mk_avro_schema *writer,
                      const char *reader_role, const char *writer_role,
                      struct mk_avro_messages *out);

/* Whether avro-c 1.11's resolver (avro/resolver.h) reads writer data as reader correctly.
 * Stricter than mk_avro_can_read: avro-c fills no defaults, knows no aliases, converts no
 * string <-> bytes, and passes an enum's symbol *index* through (so the writer's symbols must
 * begin the reader's list, in order). Ask this before avro_resolved_writer_new(): asked
 * about an array or map it cannot resolve, avro-c 1.11 crashes instead of failing. Returns
 * true, or false with why (may be NULL) saying what avro-c cannot do, code
 * MK_ERR__UNSUPPORTED. Thread: any. */
bool mk_avro_resolvable_by_avro_c(const struct mk_avro_schema *reader,
                                  const struct mk_avro_schema *writer, struct mk_err *why);

/* Confluent's check for `level`: new_schema against previous[0..n) (oldest first; versions[i]
 * is previous[i]'s version in the subject, named in the messages). The non-transitive
 * levels look at the last one only; the transitive ones at each, newest first, stopping at
 * the first that fails. Returns true, or false with the reasons appended to out (may be
 * NULL): the incompatibilities, then "{oldSchemaVersion: N}" and "{oldSchema: '...'}".
 * Thread: any. Borrows everything. */
bool mk_compatibility_check(enum mk_compatibility level, const struct mk_avro_schema *new_schema,
                            const struct mk_avro_schema *const *previous, const int *versions,
                            int n, struct mk_avro_messages *out);

#endif
