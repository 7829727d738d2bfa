/*
 * Serde for the console tools: what `minikafka produce --key-serializer/--value-serializer`
 * and `minikafka consume --key-deserializer/--value-deserializer` turn text into and back.
 * Kafka: ConsoleProducer (key.serializer, value.serializer), DefaultMessageFormatter
 * (key.deserializer, value.deserializer); Confluent: kafka-avro-console-producer and
 * -consumer (AvroMessageReader, AvroMessageFormatter), which read and print JSON.
 * DESIGN.md 3.8.
 *
 *   produce   a line's key or value (text) -> a struct mk_value the chosen serializer takes:
 *             the bytes themselves (ByteArraySerializer, the default), a number, a String,
 *             ... (mk_value_from_text), or, for AvroSerializer, JSON text in the schema
 *             given as --property value.schema / key.schema (Avro's JSON encoding)
 *   consume   a record's key or value (bytes) -> text to print: the bytes themselves
 *             (ByteArrayDeserializer and StringDeserializer, the default), or, for
 *             AvroDeserializer, the value as JSON, its writer's schema fetched from
 *             schema.registry.url by the id in its 5-byte header
 *
 * The Avro settings are --property keys, as with Confluent's tools: schema.registry.url,
 * value.schema, key.schema, auto.register.schemas, use.latest.version, normalize.schemas.
 * A key is Avro with --key-serializer AvroSerializer, or when key.schema is given.
 *
 * Thread: app (the tool's main thread); the serializers themselves may run on any.
 */
#ifndef MK_CLI_SERDE_H
#define MK_CLI_SERDE_H

#include <stdbool.h>
#include <stddef.h>

#include "producer/avro_serializer.h"
#include "producer/producer_config.h"

struct mk_cli_serde {
  /* From the command line (borrowed: argv). */
  const char *key_name, *value_name;      /* --key-(de)serializer, --value-(de)serializer */
  const char *registry_url;               /* schema.registry.url */
  const char *key_schema, *value_schema;  /* key.schema, value.schema */
  bool auto_register;                     /* auto.register.schemas (true) */
  bool use_latest;                        /* use.latest.version (false) */
  bool normalize;                         /* normalize.schemas (false) */
  /* Made by setup (owned). */
  const struct mk_serializer *key, *value;           /* produce: the choice */
  struct mk_avro_serializer *avro_key, *avro_value;  /* produce: when Avro */
  struct mk_avro_deserializer *avro_de;              /* consume: when either is Avro */
  bool key_avro, value_avro;
};

/* Defaults (auto.register.schemas=true; the tools' own serde when no name is given). */
void mk_cli_serde_init(struct mk_cli_serde *s);

/* --property K=V: take it if it is one of the Avro settings above (returns true), else
 * leave it to the tool (false). Borrows kv for the tool's life. */
bool mk_cli_serde_property(struct mk_cli_serde *s, const char *kv);

/* produce: choose the serializers and set them in cfg (after the tool's defaults). Returns
 * 0, or MK_ERR__INVALID_ARG with err naming the problem (an unknown serializer, an Avro one
 * without schema.registry.url or value.schema, a schema that does not parse). */
int mk_cli_serde_producer(struct mk_cli_serde *s, struct mk_producer_config *cfg,
                          struct mk_err *err);

/* produce: the value to send for a line's key or value (len bytes of text; present false:
 * null). Returns 0, or MK_ERR__INVALID_ARG with err (text that is not a number, ...).
 * *out borrows text. */
int mk_cli_serde_value(const struct mk_cli_serde *s, bool is_key, const char *text, size_t len,
                       bool present, struct mk_value *out, struct mk_err *err);

/* consume: choose the deserializers. Returns 0 or MK_ERR__INVALID_ARG with err. */
int mk_cli_serde_consumer(struct mk_cli_serde *s, struct mk_err *err);

/* consume: whether is_key's bytes go through a deserializer (else they print as they are). */
bool mk_cli_serde_decodes(const struct mk_cli_serde *s, bool is_key);

/* consume: bytes (len -1: null, printed as null.literal by the caller, so not passed here)
 * as text: the Avro value as JSON. Returns 0 with *text (new: free()), or an error with err
 * ("Unknown magic byte 0x7b ..."). */
int mk_cli_serde_format(struct mk_cli_serde *s, bool is_key, const uint8_t *bytes, size_t len,
                        char **text, struct mk_err *err);

/* Free what setup made, after the producer is closed. */
void mk_cli_serde_free(struct mk_cli_serde *s);

#endif
