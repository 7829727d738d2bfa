/*
 * Schema registry: Confluent's Schema Registry, its model and its REST semantics, without
 * sockets. DESIGN.md 3.8. Confluent: core/.../storage/KafkaSchemaRegistry.java (the model),
 * KafkaStoreMessageHandler.java (replaying _schemas), rest/resources/ (the
 * endpoints), rest/exceptions/Errors.java (the error codes).
 *
 * What it keeps. A *subject* (by convention "<topic>-value" or "<topic>-key") is a list of
 * *versions* 1, 2, 3 ...; each version names a schema by its global *id*. Registering a
 * schema that the subject already has returns its id; one that another subject has reuses
 * that id under a new version here; a new schema must be compatible with the subject's
 * earlier ones at the subject's level (else HTTP 409) and gets the next id. Schemas are Avro
 * only (schemas/avro_schema.h compares them by their canonical text; levels are
 * schemas/avro_compatibility.h's). Deleting is soft first (the versions are hidden but their
 * ids keep resolving, and ?deleted=true still shows them), permanent only after that
 * (?permanent=true).
 *
 * The two seams.
 *
 *   HTTP: mk_schema_registry_handle() takes one request (method, path, query, body) and gives
 *   the status and the JSON to answer with; every endpoint of DESIGN 3.8 and Confluent's
 *   error shape {"error_code": 40401, "message": "Subject 'x' not found."}. The HTTP layer
 *   adds the framing: Content-Type "application/vnd.schemaregistry.v1+json" on every answer
 *   (Confluent's clients also accept application/json), request bodies up to
 *   MK_SCHEMA_REGISTRY_BODY_MAX (more: 413), and it passes the raw path and query (still
 *   %-encoded: this file decodes them, so a subject may contain "/" as %2F).
 *
 *   Storage: the registry keeps its state the way Confluent's does, as a compacted log of
 *   JSON records (the _schemas topic). Every change is first handed to the configured store
 *   callback as the records Confluent writes, e.g.
 *       key   {"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}
 *       value {"subject":"t-value","version":1,"id":1,"schema":"...","deleted":false}
 *   (also CONFIG keys with {"compatibilityLevel":"FULL"} values, DELETE_SUBJECT keys with
 *   {"subject":"t-value","version":3}, and tombstones: a NULL value), and only applied once
 *   the callback accepted it, through the same mk_schema_registry_replay() that rebuilds the
 *   state from the log. So a new leader (or a restart) replays the topic from the start and
 *   has the same registry; POST /v1/reset is mk_schema_registry_reset() plus an empty topic.
 *   A callback that fails makes the request fail with 50001, and the record it refused is
 *   not applied. Most requests write one record; the few that write several (a permanent
 *   subject delete: one tombstone per version; a registration that first removes older
 *   soft-deleted versions of the same schema) stop at the first refusal, keeping the
 *   records already accepted, as Confluent's registry does. The callback must not call back
 *   into the registry; a record it accepts must reach replay (on every replica) in the
 *   order it was accepted.
 *
 * Bounds (each refusal names the limit): a schema of up to MK_AVRO_SCHEMA_MAX_BYTES (1 MiB,
 * more is 42209), MK_SCHEMA_REGISTRY_MAX_SUBJECTS subjects, MK_SCHEMA_REGISTRY_MAX_VERSIONS
 * versions in a subject (soft-deleted ones count until deleted permanently),
 * MK_SCHEMA_REGISTRY_MAX_SCHEMAS distinct schemas and MK_SCHEMA_REGISTRY_MAX_BYTES of schema
 * text in all; beyond them a registration fails with 50001 ("store full"), like a full log.
 *
 * Thread: one registry is used by one thread at a time (the broker loop); nothing inside
 * locks. The store callback runs on that thread, inside handle().
 */
#ifndef MK_BROKER_SCHEMA_REGISTRY_H
#define MK_BROKER_SCHEMA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/errors.h"

#define MK_SCHEMA_REGISTRY_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define MK_SCHEMA_REGISTRY_BODY_MAX (3 << 20)  /* a 1 MiB schema, JSON-escaped, fits */
#define MK_SCHEMA_REGISTRY_MAX_SUBJECTS 10000
#define MK_SCHEMA_REGISTRY_MAX_VERSIONS 1000
#define MK_SCHEMA_REGISTRY_MAX_SCHEMAS 10000
#define MK_SCHEMA_REGISTRY_MAX_BYTES (64 << 20)
#define MK_SCHEMA_REGISTRY_SUBJECT_MAX 1024  /* bytes in a subject name */

struct mk_schema_registry;

/* Write one record to the registry's log. key and value are JSON text (value NULL: a
 * tombstone). Return 0 once it is durable (or at least appended), or an error code with err
 * saying why; the registry then answers 50001 and does not apply the change. Borrows key
 * and value (valid during the call only). Thread: the registry's. */
typedef int (*mk_schema_registry_store_fn)(void *opaque, const char *key, size_t key_len,
                                           const char *value, size_t value_len,
                                           struct mk_err *err);

/* A registry with nothing in it; store may be NULL (changes live in memory only). Returns
 * NULL when out of memory. Thread: any. Free with mk_schema_registry_free. */
struct mk_schema_registry *mk_schema_registry_new(mk_schema_registry_store_fn store,
                                                  void *store_opaque);
void mk_schema_registry_free(struct mk_schema_registry *r);

/* Forget everything (subjects, schemas, ids, configs), as before replaying a log from its
 * start. Calls no store callback. Thread: the registry's. */
void mk_schema_registry_reset(struct mk_schema_registry *r);

/* Apply one record of the log (as written by the store callback, or read back from the
 * _schemas topic): SCHEMA, CONFIG and DELETE_SUBJECT keys change the state, tombstones
 * remove; other key types Confluent writes (NOOP, MODE, CONTEXT ...) are skipped. Returns
 * 0, or MK_ERR__DECODE for a record that is not one (err says why; the state is
 * unchanged). Thread: the registry's. Borrows key and value. */
int mk_schema_registry_replay(struct mk_schema_registry *r, const char *key, size_t key_len,
                              const char *value, size_t value_len, struct mk_err *err);

/* Answer one REST request. method is "GET", "POST", "PUT" or "DELETE"; path is the raw
 * request path ("/subjects/t-value/versions"); query is what follows '?' (or NULL); body
 * the request body (may be NULL when body_len is 0). Sets *status (200, 404, 409, 422 ...)
 * and *response_json (the answer's body, JSON, always set on success) and returns 0; or
 * returns MK_ERR__NO_MEMORY having set nothing. Thread: the registry's. Borrows everything.
 * Returns new: free(*response_json). */
int mk_schema_registry_handle(struct mk_schema_registry *r, const char *method, const char *path,
                              const char *query, const char *body, size_t body_len,
                              int *status, char **response_json);

/* How many subjects (with at least one version not deleted) and distinct schemas the
 * registry holds: for views such as GET /v1/cluster. Thread: the registry's. */
int mk_schema_registry_subject_count(const struct mk_schema_registry *r);
int mk_schema_registry_schema_count(const struct mk_schema_registry *r);

#endif
