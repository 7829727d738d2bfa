/*
 * Schema registry store: the registry's state and the log it is kept in. Internal to the
 * registry (broker/schema_registry.c is the REST side; schema_registry.h the public API).
 * Confluent: storage/KafkaStore.java (writes go to the _schemas topic and come back),
 * LookupCache (subjects, versions, ids), KafkaStoreMessageHandler (applying each record),
 * SchemaKey/SchemaValue, ConfigKey/ConfigValue, DeleteSubjectKey/Value (the records' JSON).
 *
 *   a change    mk_registry_write_*: build the record Confluent would write, hand it to
 *               the store callback, and if that succeeds apply it with ...
 *   replay      mk_schema_registry_replay (public): the one place records change the state,
 *               whether they were just written or read back from the log
 *   reading     the lookups below; they never change anything
 *
 * Thread: the registry's (see schema_registry.h).
 */
#ifndef MK_BROKER_SCHEMA_REGISTRY_STORE_H
#define MK_BROKER_SCHEMA_REGISTRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/schema_registry.h"
#include "schemas/avro_compatibility.h"
#include "schemas/avro_schema.h"

/* A compatibility config (Confluent's ConfigValue): global, or one subject's own. */
struct mk_registry_config {
  bool has_level;
  enum mk_compatibility level;     /* compatibilityLevel */
  bool has_normalize;
  bool normalize;                  /* normalize: register as if ?normalize=true */
};

struct mk_registry_version {
  int version;
  int id;
  bool deleted;                    /* soft-deleted: hidden unless ?deleted=true */
};

struct mk_registry_subject {
  char *name;
  struct mk_registry_version *versions;  /* ascending by version */
  int num_versions, cap_versions;
  bool has_config;
  struct mk_registry_config config;
};

/* One distinct schema, by its global id. */
struct mk_registry_schema {
  int id;
  char *text;                      /* canonical text, as stored and returned */
  uint64_t hash;                   /* of text: finds "the same schema" quickly */
  int refs;                        /* versions (in any subject) holding this id */
  struct mk_avro_schema *parsed;   /* parsed on first use, for compatibility checks */
};

struct mk_schema_registry {
  mk_schema_registry_store_fn store;
  void *store_opaque;
  struct mk_registry_subject **subjects;
  int num_subjects, cap_subjects;
  struct mk_registry_schema **schemas;
  int num_schemas, cap_schemas;
  bool has_global;
  struct mk_registry_config global;
  int max_id;                      /* the highest id seen: the next new one is this + 1 */
  size_t total_bytes;              /* schema text held, for MK_SCHEMA_REGISTRY_MAX_BYTES */
};

/* ---- reading ---------------------------------------------------------------------------- */

struct mk_registry_subject *mk_registry_subject(const struct mk_schema_registry *r,
                                                const char *name);
/* Version v of s (NULL if none, or deleted and !deleted_too). */
const struct mk_registry_version *mk_registry_version(const struct mk_registry_subject *s,
                                                      int v, bool deleted_too);
/* The highest version not deleted, or NULL. */
const struct mk_registry_version *mk_registry_latest(const struct mk_registry_subject *s);
/* Whether s has a version (counting deleted ones if deleted_too). s may be NULL. */
bool mk_registry_has_versions(const struct mk_registry_subject *s, bool deleted_too);
struct mk_registry_schema *mk_registry_schema_by_id(const struct mk_schema_registry *r, int id);
struct mk_registry_schema *mk_registry_schema_by_text(const struct mk_schema_registry *r,
                                                      const char *canonical);
/* The schema parsed (cached in it). Returns NULL, with err, if the stored text no longer
 * parses (only possible for a log written by something else). */
const struct mk_avro_schema *mk_registry_parsed(struct mk_registry_schema *s, struct mk_err *err);
/* The config that applies to subject (NULL: the global one): the subject's own settings
 * over the global ones, BACKWARD when nobody set a level. */
struct mk_registry_config mk_registry_effective_config(const struct mk_schema_registry *r,
                                                       const struct mk_registry_subject *s);

/* ---- writing (record to the store, then replayed) ---------------------------------------- */

/* A SCHEMA record: version `version` of subject holds schema id with text. */
int mk_registry_write_schema(struct mk_schema_registry *r, const char *subject, int version,
                             int id, const char *text, bool deleted, struct mk_err *err);
/* A SCHEMA tombstone: version `version` of subject is gone for good. */
int mk_registry_write_schema_tombstone(struct mk_schema_registry *r, const char *subject,
                                       int version, struct mk_err *err);
/* A CONFIG record for subject (NULL: global); config NULL is the tombstone. */
int mk_registry_write_config(struct mk_schema_registry *r, const char *subject,
                             const struct mk_registry_config *config, struct mk_err *err);
/* A DELETE_SUBJECT record: versions 1..version of subject are soft-deleted. */
int mk_registry_write_delete_subject(struct mk_schema_registry *r, const char *subject,
                                     int version, struct mk_err *err);

#endif
