/*
 * Schema registry HTTP: Confluent's Schema Registry REST API on its own port, served by the
 * broker's loop on the one HTTP layer (common/http_server.h). DESIGN.md 3.8. Confluent:
 * rest/SchemaRegistryRestApplication (the listener), rest/exceptions (the error bodies).
 *
 *   a request   sync the registry with _schemas (kafka_store.h), answer it with
 *               mk_schema_registry_handle (schema_registry.h: every endpoint, Confluent's
 *               codes), then send the answer once everything the registry holds is
 *               committed (below _schemas' high watermark): at once, usually; else the
 *               answer is deferred until the followers have copied it, and a write that
 *               cannot be replicated within kafkastore.timeout.ms answers 500 with 50002
 *   bodies      application/vnd.schemaregistry.v1+json, always; requests up to
 *               MK_SCHEMA_REGISTRY_BODY_MAX (3 MiB); the server's own refusals (413, 414,
 *               400 for bytes that are not HTTP, 403 for a non-loopback Host) in
 *               Confluent's shape too: {"error_code": 413, "message": "..."}
 *   where       cfg.schema_registry_port (0 = any free port, -1 = off) on a loopback address,
 *               as the admin API: cfg.host when that is loopback, else 127.0.0.1
 *   the view    GET /v1/schemas on the admin API (mk_schema_registry_view): the URL, the
 *               _schemas partition, and every subject with its versions and ids
 *
 * Thread: broker loop, except where a function says otherwise.
 */
#ifndef MK_BROKER_SCHEMA_REGISTRY_HTTP_H
#define MK_BROKER_SCHEMA_REGISTRY_HTTP_H

#include <jansson.h>

#include "broker/cluster.h"

/* Create the registry and listen (from mk_broker_new, after the admin API); its topic
 * comes with its first write (kafka_store.h).
 * Does nothing when cfg.schema_registry_port is -1. Returns 0, or MK_ERR__TRANSPORT naming
 * the address and the reason. On failure the caller must still run the close and free
 * below (mk_broker_free does). Thread: the one creating the broker. */
int mk_schema_registry_http_start(struct mk_broker *b, struct mk_err *err);

/* Fail the answers still waiting for replication, stop listening, close every connection.
 * Safe twice, and for a broker without a registry (from the broker's shutdown). */
void mk_schema_registry_http_close(struct mk_broker *b);

/* Free what is left, once the loop has run every close callback (from mk_broker_free).
 * Thread: any, with the loop stopped. */
void mk_schema_registry_http_free(struct mk_broker *b);

/* Forget every schema: answers still waiting fail, _schemas is deleted (the next write
 * makes it again), the registry starts over (ids from 1). For POST /v1/reset (DESIGN.md 3.7), which
 * should call it; nothing else does. Does nothing when the registry is off. */
void mk_schema_registry_http_reset(struct mk_broker *b);

/* GET /v1/schemas: {"url": ..., "topic": "_schemas", "partition": {leader, leader_epoch,
 * high_watermark, log_end_offset}, "reloads", "subject_count", "schema_count",
 * "compatibility": the global level, "subjects": [{"subject", "compatibility" (the level that
 * applies), "compatibility_own" (whether the subject set it), "versions": [{"version", "id",
 * "deleted"}], "latest": {"version", "id", "schema": its text} or null when every version is
 * deleted}]}; with the registry off, {"url": null, "subjects": []}.
 * Returns new (NULL when out of memory). */
json_t *mk_schema_registry_view(struct mk_broker *b);

/* mk_broker_schema_registry_port and _url (broker.h) are defined in schema_registry_http.c. */

#endif
