/*
 * Serde for the console tools: choosing serializers and deserializers by name, and the Avro
 * settings. See serde.h.
 */
#include "cli/serde.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AVRO_SERIALIZER "AvroSerializer"
#define AVRO_SERIALIZER_CLASS "io.confluent.kafka.serializers.KafkaAvroSerializer"
#define AVRO_DESERIALIZER "AvroDeserializer"
#define AVRO_DESERIALIZER_CLASS "io.confluent.kafka.serializers.KafkaAvroDeserializer"

void mk_cli_serde_init(struct mk_cli_serde *s) {
  memset(s, 0, sizeof *s);
  s->auto_register = true;
}

/* Confluent reads booleans with Boolean.parseBoolean: "true" in any case, else false. */
static bool is_true(const char *v) { return strcasecmp(v, "true") == 0; }

bool mk_cli_serde_property(struct mk_cli_serde *s, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq) return false;
  size_t n = (size_t)(eq - kv);
  const char *v = eq + 1;
#define IS(name) (n == strlen(name) && strncmp(kv, name, n) == 0)
  if (IS("schema.registry.url")) s->registry_url = v;
  else if (IS("value.schema")) s->value_schema = v;
  else if (IS("key.schema")) s->key_schema = v;
  else if (IS("auto.register.schemas")) s->auto_register = is_true(v);
  else if (IS("use.latest.version")) s->use_latest = is_true(v);
  else if (IS("normalize.schemas")) s->normalize = is_true(v);
  else return false;
#undef IS
  return true;
}

static bool is_avro(const char *name, const char *short_name, const char *class_name) {
  return name && (strcmp(name, short_name) == 0 || strcmp(name, class_name) == 0);
}

/* ---- produce ------------------------------------------------------------------------------- */

/* An Avro serializer for keys or values, with the settings and this default schema. */
static struct mk_avro_serializer *avro_serializer(const struct mk_cli_serde *s, bool is_key,
                                                  const char *schema, struct mk_err *err) {
  const char *which = is_key ? "key" : "value";
  if (!s->registry_url) {
    mk_err_set(err, MK_ERR__INVALID_ARG, "the Avro %s serializer needs --property "
               "schema.registry.url=URL (the registry's base URL, e.g. http://127.0.0.1:8081)",
               which);
    return NULL;
  }
  if (!schema && !s->use_latest) {
    mk_err_set(err, MK_ERR__INVALID_ARG, "the Avro %s serializer needs --property %s.schema="
               "SCHEMA (the Avro schema of the JSON lines), or use.latest.version=true", which,
               which);
    return NULL;
  }
  struct mk_avro_serde_config c = mk_avro_serde_config_default();
  c.schema_registry_url = s->registry_url;
  c.auto_register_schemas = s->auto_register;
  c.use_latest_version = s->use_latest;
  c.normalize_schemas = s->normalize;
  c.schema = schema;
  struct mk_err inner = {0};
  struct mk_avro_serializer *a = mk_avro_serializer_new(&c, is_key, &inner);
  if (!a) mk_err_set(err, MK_ERR__INVALID_ARG, "%s.schema / AvroSerializer: %s", which, inner.msg);
  return a;
}

/* One side (key or value): by name, or the tool's default (ByteArraySerializer). */
static int choose_serializer(struct mk_cli_serde *s, bool is_key, struct mk_producer_config *cfg,
                             struct mk_err *err) {
  const char *name = is_key ? s->key_name : s->value_name;
  const char *schema = is_key ? s->key_schema : s->value_schema;
  const char *flag = is_key ? "--key-serializer" : "--value-serializer";
  bool avro = is_avro(name, AVRO_SERIALIZER, AVRO_SERIALIZER_CLASS) || (!name && is_key && schema);
  const struct mk_serializer *chosen;
  if (avro) {
    struct mk_avro_serializer *a = avro_serializer(s, is_key, schema, err);
    if (!a) return err->code;
    *(is_key ? &s->avro_key : &s->avro_value) = a;
    *(is_key ? &s->key_avro : &s->value_avro) = true;
    chosen = mk_avro_serializer_get(a);
  } else {
    chosen = mk_serializer_find(name ? name : "ByteArraySerializer");
    if (!chosen)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s %s: no such serializer (Kafka's: "
                        "StringSerializer, IntegerSerializer, ... ByteArraySerializer; and "
                        "AvroSerializer)", flag, name);
  }
  struct mk_err inner = {0};
  int rc = is_key ? mk_producer_config_set_key_serializer(cfg, chosen, &inner)
                  : mk_producer_config_set_value_serializer(cfg, chosen, &inner);
  if (rc) return mk_err_set(err, rc, "%s: %s", flag, inner.msg);
  *(is_key ? &s->key : &s->value) = chosen;
  return 0;
}

int mk_cli_serde_producer(struct mk_cli_serde *s, struct mk_producer_config *cfg,
                          struct mk_err *err) {
  int rc = choose_serializer(s, true, cfg, err);
  return rc ? rc : choose_serializer(s, false, cfg, err);
}

int mk_cli_serde_value(const struct mk_cli_serde *s, bool is_key, const char *text, size_t len,
                       bool present, struct mk_value *out, struct mk_err *err) {
  if (!present) {
    *out = mk_value_null();
    return 0;
  }
  bool avro = is_key ? s->key_avro : s->value_avro;
  if (avro) {  /* JSON text in the default schema: the Avro serializer reads it */
    *out = mk_value_stringn(text, len);
    return 0;
  }
  const struct mk_serializer *ser = is_key ? s->key : s->value;
  return mk_value_from_text(ser ? ser->input : MK_VALUE_BYTES, text, len, out, err);
}

/* ---- consume ------------------------------------------------------------------------------- */

/* "avro", "raw" or NULL (unknown) for a deserializer name. */
static const char *deserializer_kind(const char *name) {
  if (!name) return "raw";
  if (is_avro(name, AVRO_DESERIALIZER, AVRO_DESERIALIZER_CLASS)) return "avro";
  static const char *const raw[] = {"StringDeserializer", "ByteArrayDeserializer"};
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
    size_t n = strlen(name), m = strlen(raw[i]);
    if (strcmp(name, raw[i]) == 0 ||
        (n > m && strcmp(name + n - m, raw[i]) == 0 &&
         strncmp(name, "org.apache.kafka.common.serialization.", n - m) == 0))
      return "raw";
  }
  return NULL;
}

int mk_cli_serde_consumer(struct mk_cli_serde *s, struct mk_err *err) {
  const char *names[2] = {s->key_name, s->value_name};
  for (int i = 0; i < 2; i++) {
    const char *kind = deserializer_kind(names[i]);
    if (!kind)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "--%s-deserializer %s: not one this consumer "
                        "has (StringDeserializer and ByteArrayDeserializer print the bytes; "
                        "AvroDeserializer prints Avro as JSON)", i ? "value" : "key", names[i]);
    *(i ? &s->value_avro : &s->key_avro) = strcmp(kind, "avro") == 0;
  }
  if (!s->key_avro && !s->value_avro) return 0;
  if (!s->registry_url)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "AvroDeserializer needs --property "
                      "schema.registry.url=URL (the registry's base URL)");
  struct mk_avro_serde_config c = mk_avro_serde_config_default();
  c.schema_registry_url = s->registry_url;
  struct mk_err inner = {0};
  if (!(s->avro_de = mk_avro_deserializer_new(&c, NULL, &inner)))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "AvroDeserializer: %s", inner.msg);
  return 0;
}

bool mk_cli_serde_decodes(const struct mk_cli_serde *s, bool is_key) {
  return is_key ? s->key_avro : s->value_avro;
}

int mk_cli_serde_format(struct mk_cli_serde *s, bool is_key, const uint8_t *bytes, size_t len,
                        char **text, struct mk_err *err) {
  struct mk_err inner = {0};
  int rc = mk_avro_deserialize(s->avro_de, bytes, len, text, NULL, &inner);
  if (rc) mk_err_set(err, rc, "%s: AvroDeserializer: %s", is_key ? "key" : "value", inner.msg);
  return rc;
}

void mk_cli_serde_free(struct mk_cli_serde *s) {
  mk_avro_serializer_free(s->avro_key);
  mk_avro_serializer_free(s->avro_value);
  mk_avro_deserializer_free(s->avro_de);
  s->avro_key = s->avro_value = NULL;
  s->avro_de = NULL;
}
