/*
 * Schema registry client: what the Avro serializers ask a schema registry, with caches so a
 * producer asks once per schema, not once per record.
 * Confluent: client/.../CachedSchemaRegistryClient.java (the caches), rest/RestService.java
 * (the HTTP calls). DESIGN.md 3.8; the registry itself is broker/schema_registry.h.
 *
 *   register(subject, schema)   POST /subjects/{subject}/versions    -> id
 *   lookup(subject, schema)     POST /subjects/{subject}             -> id (must exist)
 *   latest(subject)             GET  /subjects/{subject}/versions/latest -> id, schema
 *   by_id(id)                   GET  /schemas/ids/{id}               -> schema
 *
 * Each answer is cached for the client's life (Confluent's defaults: ids and schemas never
 * change; the latest version is not re-read either, as with latest.cache.ttl.sec=-1), up to
 * MK_REGISTRY_CLIENT_CACHE entries of each kind. Past that, ids are asked for again each
 * time (still correct, just slower); schemas, which callers hold pointers to, are refused
 * (MK_ERR__STATE) rather than evicted under them.
 *
 * HTTP. The default transport is a small blocking HTTP/1.1 client: one TCP connection per
 * request ("Connection: close"), the answer read with http-parser (Debian's
 * libhttp-parser-dev, as the broker's admin server), the whole request bounded by the
 * client's timeout (connect, send and receive together; the DNS lookup is getaddrinfo's own
 * wait). schema.registry.url may list several URLs, comma-separated: a request that cannot
 * reach one tries the next, as Confluent's RestService does. Plain http:// only. Answers are
 * capped at MK_REGISTRY_CLIENT_RESPONSE_MAX bytes. A test or an embedding program may give
 * its own transport instead (mk_schema_registry_client_new_with), e.g. one that calls
 * mk_schema_registry_handle() in-process.
 *
 * Errors are MK_ERR__INVALID_ARG when the registry answered with an error (the message ends
 * in Confluent's "; error code: 40403"), MK_ERR__TRANSPORT / MK_ERR__TIMED_OUT when it could
 * not be reached, MK_ERR__DECODE when the answer is not what the API promises.
 *
 * Thread: any; one client may be shared by threads (a mutex guards the caches and is held
 * during a request, so concurrent misses wait for each other).
 */
#ifndef MK_PRODUCER_SCHEMA_REGISTRY_CLIENT_H
#define MK_PRODUCER_SCHEMA_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/errors.h"
#include "schemas/avro_schema.h"

#define MK_REGISTRY_CLIENT_CACHE 1000
#define MK_REGISTRY_CLIENT_RESPONSE_MAX (16 << 20)

struct mk_schema_registry_client;

/* One HTTP exchange: method and path (with any "?query") in, status and body out. Returns 0
 * with *status and *response (new: the client frees it) set, or an error code with err.
 * Borrows everything else. */
typedef int (*mk_schema_registry_transport_fn)(void *opaque, const char *method,
                                               const char *path, const char *body,
                                               size_t body_len, int *status, char **response,
                                               struct mk_err *err);

/* A client for url ("http://host:port" or a comma-separated list; a path after the port is
 * kept as a prefix), each request bounded by timeout_ms. Returns NULL with err naming the
 * bad URL. Thread: any. Borrows url. Free with mk_schema_registry_client_free. */
struct mk_schema_registry_client *mk_schema_registry_client_new(const char *url, int timeout_ms,
                                                                struct mk_err *err);

/* A client over another transport (see the top). Borrows opaque for the client's life. */
struct mk_schema_registry_client *mk_schema_registry_client_new_with(
    mk_schema_registry_transport_fn transport, void *opaque);

void mk_schema_registry_client_free(struct mk_schema_registry_client *c);

/* Register schema text under subject (?normalize=true if normalize); *id is its id.
 * Thread: any. Borrows everything. */
int mk_schema_registry_client_register(struct mk_schema_registry_client *c, const char *subject,
                                       const char *schema, bool normalize, int *id,
                                       struct mk_err *err);

/* The id schema already has under subject (an error if it has none). */
int mk_schema_registry_client_lookup(struct mk_schema_registry_client *c, const char *subject,
                                     const char *schema, bool normalize, int *id,
                                     struct mk_err *err);

/* The subject's latest version: its id and schema (owned by the client's cache: valid until
 * the client is freed). */
int mk_schema_registry_client_latest(struct mk_schema_registry_client *c, const char *subject,
                                     int *id, const struct mk_avro_schema **schema,
                                     struct mk_err *err);

/* The schema with this id, parsed (owned by the client's cache). */
int mk_schema_registry_client_by_id(struct mk_schema_registry_client *c, int id,
                                    const struct mk_avro_schema **schema, struct mk_err *err);

/* One request as it is, past the caches: method, path with any query ("/compatibility/
 * subjects/t-value/versions/latest"), body (JSON text, or NULL); *status and *response
 * (new: free()) as the registry answered, errors included. For tools and labs that show the
 * registry's own answers. Returns 0, or MK_ERR__TRANSPORT / MK_ERR__TIMED_OUT when the
 * registry could not be reached. Thread: any. Borrows everything. */
int mk_schema_registry_client_request(struct mk_schema_registry_client *c, const char *method,
                                      const char *path, const char *body, int *status,
                                      char **response, struct mk_err *err);

/* How many requests went to the registry (cache misses): for tests and metrics. */
long mk_schema_registry_client_requests(struct mk_schema_registry_client *c);

#endif
