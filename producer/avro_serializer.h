/*
 * Avro serializers: a record's key or value as Avro, in Confluent's wire format, with its
 * schema in a schema registry. Note 000 section 4 ("use Avro with a schema registry").
 * Confluent: avro-serializer/.../KafkaAvroSerializer, AbstractKafkaAvroSerializer
 * (serializeImpl), KafkaAvroDeserializer, AbstractKafkaSchemaSerDe (the subject name),
 * AbstractKafkaSchemaSerDeConfig (the settings). DESIGN.md 3.8.
 *
 * The wire format (what a consumer with KafkaAvroDeserializer expects):
 *
 *   byte 0      0x00: the "magic byte" (format version 0)
 *   bytes 1-4   the schema's id in the registry, big-endian
 *   bytes 5..   the value in Avro's binary encoding (schemas/avro_datum.h)
 *
 * serialize(topic, value), as AbstractKafkaAvroSerializer does it:
 *   1. the subject: "<topic>-value" or "<topic>-key" (TopicNameStrategy, the default)
 *   2. the schema: the value's own; or, with use.latest.version, the subject's latest
 *      version in the registry, which the value is then written in
 *   3. the id: auto.register.schemas (default true) registers the schema under the subject
 *      (POST /subjects/{s}/versions: the id, new or existing; 409 if incompatible); else it
 *      must be registered already (POST /subjects/{s}: the id, or "Schema not found")
 *   4. the bytes: header, then the value encoded by avro-c
 * The registry is asked once per schema: the client caches (producer/schema_registry_client.h).
 *
 * What a value is. struct mk_value (producer/serializers.h) of type
 *   MK_VALUE_OBJECT pointing at a struct mk_avro_record (mk_value_avro()): either a generic
 *     avro-c value (avro_value_t, carrying its schema, like Java's GenericRecord) or JSON
 *     text in Avro's JSON encoding with the schema it is in (or the serializer's default);
 *   MK_VALUE_STRING: JSON text, in the serializer's default schema (the "value.schema" of
 *     kafka-avro-console-producer; mk_avro_serde_config.schema);
 *   MK_VALUE_NULL: a null key/value (a tombstone), written as null, as Confluent's does.
 * A value that does not fit its schema fails like any serializer error (the send completes
 * once, with the error; see serializers.h) and the message names the field:
 *   "SerializationException: value.serializer AvroSerializer: field 'age': expected an int
 *    (32 bits), got a string \"x\""
 *
 * Two ways to get one:
 *   - by name: value.serializer=AvroSerializer (or Confluent's class name) with the producer
 *     settings schema.registry.url, auto.register.schemas, use.latest.version,
 *     normalize.schemas; mk_producer_new configures a private instance per use (key, value),
 *     like Java's Serializer.configure(configs, isKey), and closes it with the producer.
 *     Such an instance has no default schema: give it mk_avro_record values.
 *   - from C: mk_avro_serializer_new(config, is_key), then
 *     mk_producer_config_set_value_serializer(cfg, mk_avro_serializer_get(s)); this is where
 *     a default schema (for JSON lines) or an injected registry client can be given.
 *
 * AvroDeserializer (the consumer's side, for tools): the id in the header names the writer's
 * schema, fetched from the registry (cached); the Avro bytes are decoded to JSON text, and
 * resolved to a reader schema if one is given (avro-c's resolver: see
 * schemas/avro_datum.h for what it can resolve).
 *
 * Thread: a serializer may be used by many application threads at once (the registry client
 * and the schema cache lock inside).
 */
#ifndef MK_PRODUCER_AVRO_SERIALIZER_H
#define MK_PRODUCER_AVRO_SERIALIZER_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "producer/schema_registry_client.h"
#include "producer/serializers.h"
#include "schemas/avro_schema.h"

#define MK_AVRO_MAGIC_BYTE 0
#define MK_AVRO_HEADER_SIZE 5

/* The settings (Confluent's names; defaults as Confluent's). */
struct mk_avro_serde_config {
  const char *schema_registry_url;  /* schema.registry.url; not needed when client is given */
  bool auto_register_schemas;       /* auto.register.schemas (true) */
  bool use_latest_version;          /* use.latest.version (false) */
  bool normalize_schemas;           /* normalize.schemas (false) */
  const char *schema;               /* the default schema for JSON values (value.schema /
                                     * key.schema of the console producer); may be NULL */
  int timeout_ms;                   /* each registry request; <= 0: 30000 */
  struct mk_schema_registry_client *client;  /* borrowed, may be NULL: use this client
                                               * (shared, or over another transport) */
};

/* Confluent's defaults: auto-register on, latest off. */
static inline struct mk_avro_serde_config mk_avro_serde_config_default(void) {
  struct mk_avro_serde_config c = {.auto_register_schemas = true};
  return c;
}

/* A value for the AvroSerializer: a generic value, or JSON text in a schema. */
struct mk_avro_record {
  const avro_value_t *value;   /* a generic value (its schema is the writer's schema) ... */
  const char *json;            /* ... or JSON text (Avro's JSON encoding), json_len bytes */
  size_t json_len;
  const char *schema;          /* the schema's JSON text: for json (NULL: the serializer's
                                * default); for value, the text to register (NULL: avro-c's
                                * rendering of value's schema, which has no defaults) */
  size_t schema_len;
};

static inline struct mk_value mk_value_avro(const struct mk_avro_record *r) {
  return mk_value_object(r, sizeof *r);
}

struct mk_avro_serializer;

/* A serializer for keys (is_key) or values. Parses config->schema if given. Returns NULL
 * with err naming the problem (no schema.registry.url, a bad URL, a bad default schema).
 * Thread: any. Borrows config (copies what it keeps; config->client stays borrowed). Free
 * with mk_avro_serializer_free, after every producer using it is closed. */
struct mk_avro_serializer *mk_avro_serializer_new(const struct mk_avro_serde_config *config,
                                                  bool is_key, struct mk_err *err);
void mk_avro_serializer_free(struct mk_avro_serializer *s);

/* The serializer as the producer's plug-in interface (owned by s). */
const struct mk_serializer *mk_avro_serializer_get(struct mk_avro_serializer *s);

/* The built-in by name ("AvroSerializer"): what mk_serializer_find returns for it. Its
 * configure() reads the producer settings listed at the top. */
extern const struct mk_serializer mk_avro_serializer_builtin;

/* The deserializer. reader_schema (JSON text, may be NULL) is the schema to read values as.
 * config->schema is ignored. Returns NULL with err on a bad config or reader schema. */
struct mk_avro_deserializer;
struct mk_avro_deserializer *mk_avro_deserializer_new(const struct mk_avro_serde_config *config,
                                                      const char *reader_schema,
                                                      struct mk_err *err);
void mk_avro_deserializer_free(struct mk_avro_deserializer *d);

/* Decode one key/value in Confluent's wire format into JSON text (*json, new: free()), and
 * say which schema id it named (*schema_id, may be NULL). A null input (buf NULL) gives
 * "null". Errors: MK_ERR__DECODE for bytes that are not the wire format ("unknown magic
 * byte 0x7b": not Avro), or not a value of the writer's schema; a registry error for an
 * unknown id. Thread: any. Borrows buf. */
int mk_avro_deserialize(struct mk_avro_deserializer *d, const uint8_t *buf, size_t len,
                        char **json, int *schema_id, struct mk_err *err);

/* The wire format's header: write magic and id into out[0..5); read them back (returns 0,
 * or MK_ERR__DECODE for fewer than 5 bytes or a magic byte other than 0). Thread: any. */
void mk_avro_write_header(uint8_t out[MK_AVRO_HEADER_SIZE], int32_t schema_id);
int mk_avro_read_header(const uint8_t *buf, size_t len, int32_t *schema_id, struct mk_err *err);

#endif
