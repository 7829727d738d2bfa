/*
 * Avro serializers: KafkaAvroSerializer and KafkaAvroDeserializer, in C. See
 * avro_serializer.h for the format and the steps.
 *
 *   serialize    what was given (JSON text or a generic value) -> its schema (cached by
 *                text, so a producer parses each schema once) -> the subject's id for it
 *                (the registry client, cached) -> header + avro-c's encoding in scratch
 *   configure    value.serializer=AvroSerializer: a private instance from the producer's
 *                settings, freed by its close()
 *   deserialize  header -> the writer's schema by id (cached) -> JSON text
 */
#include "producer/avro_serializer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer/producer_config.h"
#include "schemas/avro_compatibility.h"
#include "schemas/avro_datum.h"

#define CLASS_NAME "io.confluent.kafka.serializers.KafkaAvroSerializer"
#define SCHEMA_CACHE 64  /* record schemas a serializer keeps parsed */

struct mk_avro_serializer {
  struct mk_serializer base;           /* what the producer calls; opaque = this */
  bool is_key;
  bool auto_register, use_latest, normalize;
  struct mk_avro_schema *default_schema;  /* for JSON values given without a schema */
  struct mk_schema_registry_client *client;
  bool own_client;
  pthread_mutex_t lock;                /* guards the cache */
  struct {
    char *text;
    struct mk_avro_schema *schema;
  } cache[SCHEMA_CACHE];
  int cached;
};

/* ---- the wire format's header ----------------------------------------------------------- */

void mk_avro_write_header(uint8_t out[MK_AVRO_HEADER_SIZE], int32_t schema_id) {
  out[0] = MK_AVRO_MAGIC_BYTE;
  for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)((uint32_t)schema_id >> (24 - 8 * i));
}

int mk_avro_read_header(const uint8_t *buf, size_t len, int32_t *schema_id, struct mk_err *err) {
  if (len < MK_AVRO_HEADER_SIZE)
    return mk_err_set(err, MK_ERR__DECODE, "%zu bytes: too short for the 5-byte header (magic "
                      "byte, schema id) of Confluent's wire format", len);
  if (buf[0] != MK_AVRO_MAGIC_BYTE)
    return mk_err_set(err, MK_ERR__DECODE, "Unknown magic byte 0x%02x (Confluent's wire format "
                      "starts with 0x00; this was not written by an Avro serializer)", buf[0]);
  *schema_id = (int32_t)((uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
                         (uint32_t)buf[3] << 8 | buf[4]);
  return 0;
}

/* err's message behind a prefix: "Error registering ...: <what the client said>". */
static int wrap(struct mk_err *err, int code, const char *prefix) {
  char inner[sizeof err->msg];
  snprintf(inner, sizeof inner, "%s", err->msg);
  return mk_err_set(err, code, "%s: %s", prefix, inner);
}

/* ---- schemas of the values -------------------------------------------------------------- */

/* The schema for text, parsed once per serializer. *owned is set when the cache was full
 * and the caller must free the result. */
static const struct mk_avro_schema *schema_for(struct mk_avro_serializer *s, const char *text,
                                               size_t len, bool *owned, struct mk_err *err) {
  *owned = false;
  pthread_mutex_lock(&s->lock);
  for (int i = 0; i < s->cached; i++)
    if (strlen(s->cache[i].text) == len && memcmp(s->cache[i].text, text, len) == 0) {
      const struct mk_avro_schema *found = s->cache[i].schema;
      pthread_mutex_unlock(&s->lock);
      return found;
    }
  struct mk_avro_schema *parsed = NULL;
  struct mk_err perr = {0};
  if (mk_avro_schema_parse(text, len, false, &parsed, &perr)) {
    pthread_mutex_unlock(&s->lock);
    mk_err_set(err, perr.code, "invalid Avro schema: %.150s", perr.msg);
    return NULL;
  }
  char *copy = s->cached < SCHEMA_CACHE ? strndup(text, len) : NULL;
  if (copy) {
    s->cache[s->cached].text = copy;
    s->cache[s->cached++].schema = parsed;
  } else {
    *owned = true;
  }
  pthread_mutex_unlock(&s->lock);
  return parsed;
}

/* avro-c's rendering of a generic value's schema (what Java would register for a
 * GenericRecord, less the defaults avro-c does not keep). New string, or NULL. */
static char *schema_text_of(avro_schema_t schema, size_t *len) {
  size_t cap = 4096;
  for (;;) {
    char *buf = malloc(cap);
    if (!buf) return NULL;
    avro_writer_t w = avro_writer_memory(buf, (int64_t)cap);
    int rc = w ? avro_schema_to_json(schema, w) : ENOMEM;
    *len = w ? (size_t)avro_writer_tell(w) : 0;
    if (w) avro_writer_free(w);
    if (rc == 0) return buf;
    free(buf);
    if (rc != ENOSPC || cap >= MK_AVRO_SCHEMA_MAX_BYTES) return NULL;
    cap *= 4;
  }
}

/* ---- serialize -------------------------------------------------------------------------- */

/* The value given, made into an avro-c value of *schema (which may change, for
 * use.latest.version); *value must be released by the caller (release_value). */
struct prepared {
  avro_value_t value;          /* what gets encoded */
  bool own_value;              /* value was made here (from JSON) */
  avro_value_iface_t *resolver;  /* use.latest.version over a generic value of another schema */
  avro_value_t resolved;
  const struct mk_avro_schema *schema;  /* the writer's schema (registered/looked up) */
  struct mk_avro_schema *owned_schema;  /* schema, when not cached */
};

static void release(struct prepared *p) {
  if (p->resolved.self) avro_value_decref(&p->resolved);
  if (p->resolver) avro_value_iface_decref(p->resolver);
  if (p->own_value && p->value.self) avro_value_decref(&p->value);
  mk_avro_schema_free(p->owned_schema);
}

/* A generic value written as the subject's latest schema, through avro-c's resolver. */
static int resolve_to_latest(struct prepared *p, const struct mk_avro_schema *value_schema,
                             const struct mk_avro_schema *latest, struct mk_err *err) {
  if (avro_schema_equal(value_schema->avro, latest->avro)) return 0;
  struct mk_err why = {0};
  if (!mk_avro_resolvable_by_avro_c(latest, value_schema, &why))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "the value cannot be written as the subject's "
                      "latest schema (use.latest.version): %.120s", why.msg);
  p->resolver = avro_resolved_reader_new(value_schema->avro, latest->avro);
  if (!p->resolver || avro_resolved_reader_new_value(p->resolver, &p->resolved))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "avro-c: %s", avro_strerror());
  avro_resolved_reader_set_source(&p->resolved, &p->value);
  return 0;
}

static int prepare(struct mk_avro_serializer *s, const struct mk_value *data, const char *subject,
                   struct prepared *p, int *id, struct mk_err *err) {
  const struct mk_avro_record *rec = NULL;
  const char *json = NULL;
  size_t json_len = 0;
  if (data->type == MK_VALUE_STRING) {
    json = data->u.bytes.ptr, json_len = data->u.bytes.len;
  } else if (data->type == MK_VALUE_OBJECT && data->u.bytes.len == sizeof *rec && data->u.bytes.ptr) {
    rec = data->u.bytes.ptr;
    json = rec->json, json_len = rec->json_len;
    if (!rec->value && !rec->json)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "the mk_avro_record has neither a value nor JSON");
  } else {
    return mk_err_set(err, MK_ERR__INVALID_ARG, "can't convert a value of class %s to an Avro "
                      "record (give an mk_avro_record, mk_value_avro(), or JSON text)",
                      mk_value_type_name(data->type));
  }

  /* The value's own schema. */
  const struct mk_avro_schema *own = NULL;
  bool owned = false;
  if (rec && rec->value) {
    size_t len = rec->schema ? rec->schema_len : 0;
    char *rendered = rec->schema ? NULL : schema_text_of(avro_value_get_schema(rec->value), &len);
    if (!rec->schema && !rendered)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "avro-c cannot write the value's schema as JSON");
    own = schema_for(s, rec->schema ? rec->schema : rendered, len, &owned, err);
    free(rendered);
    if (!own) return err->code;
    if (owned) p->owned_schema = (struct mk_avro_schema *)own;
    if (!avro_schema_equal(own->avro, avro_value_get_schema(rec->value)))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "the mk_avro_record's schema text is not the "
                        "schema of its value");
    p->value = *rec->value;
  } else if (rec && rec->schema) {
    own = schema_for(s, rec->schema, rec->schema_len, &owned, err);
    if (!own) return err->code;
    if (owned) p->owned_schema = (struct mk_avro_schema *)own;
  } else if (!(own = s->default_schema)) {
    return mk_err_set(err, MK_ERR__INVALID_ARG, "JSON given without a schema, and this "
                      "AvroSerializer has none (set %s.schema)", s->is_key ? "key" : "value");
  }

  /* The writer's schema and its id. */
  if (s->use_latest) {
    int rc = mk_schema_registry_client_latest(s->client, subject, id, &p->schema, err);
    if (rc) {
      char prefix[400];
      snprintf(prefix, sizeof prefix, "Error retrieving the latest schema of %s", subject);
      return wrap(err, rc, prefix);
    }
  } else {
    p->schema = own;
    int rc = s->auto_register
                 ? mk_schema_registry_client_register(s->client, subject, own->canonical,
                                                      s->normalize, id, err)
                 : mk_schema_registry_client_lookup(s->client, subject, own->canonical,
                                                    s->normalize, id, err);
    if (rc) {
      char prefix[400];
      snprintf(prefix, sizeof prefix, "Error %s Avro schema of %s",
               s->auto_register ? "registering" : "retrieving", subject);
      return wrap(err, rc, prefix);
    }
  }

  /* The value in that schema. */
  if (rec && rec->value) return s->use_latest ? resolve_to_latest(p, own, p->schema, err) : 0;
  p->own_value = true;
  return mk_avro_json_to_value(p->schema, json, json_len, &p->value, err);
}

static int avro_serialize(void *opaque, const char *topic, const struct mk_value *data,
                          struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  struct mk_avro_serializer *s = opaque;
  struct mk_err local;
  if (!err) err = &local;
  if (data->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  char subject[320];  /* TopicNameStrategy; topic names are at most 249 bytes */
  snprintf(subject, sizeof subject, "%s-%s", topic, s->is_key ? "key" : "value");
  struct prepared p = {0};
  int id = 0;
  int rc = prepare(s, data, subject, &p, &id, err);
  if (rc == 0) {
    size_t at = scratch->len;
    uint8_t *h = mk_writer_extend(scratch, MK_AVRO_HEADER_SIZE);
    if (!h) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    else mk_avro_write_header(h, id);
    if (rc == 0) rc = mk_avro_value_encode(p.resolver ? &p.resolved : &p.value, scratch, err);
    size_t n = scratch->len - at;
    if (rc == 0 && n > INT32_MAX) rc = mk_err_set(err, MK_ERR__INVALID_ARG, "%zu bytes", n);
    if (rc == 0) *out = (struct mk_bytes){scratch->buf + at, (int32_t)n};
    else scratch->len = at;
  }
  release(&p);
  return rc;
}

/* ---- creating --------------------------------------------------------------------------- */

/* What the serializer and the deserializer both set up: the registry client (config's, or
 * one of their own for schema_registry_url) and a schema they were given as text (label
 * names it in errors). Returns 0 or an error; what was made is freed by the caller's free. */
static int serde_init(const struct mk_avro_serde_config *config, const char *schema_text,
                      const char *label, struct mk_schema_registry_client **client,
                      bool *own_client, struct mk_avro_schema **schema, struct mk_err *err) {
  *client = config->client;
  if (!*client) {
    *client = mk_schema_registry_client_new(config->schema_registry_url, config->timeout_ms, err);
    *own_client = true;
    if (!*client) return err ? err->code : MK_ERR__INVALID_ARG;
  }
  struct mk_err perr = {0};
  if (schema_text && mk_avro_schema_parse(schema_text, strlen(schema_text), false, schema, &perr))
    return mk_err_set(err, perr.code, "%s: %.160s", label, perr.msg);
  return 0;
}

struct mk_avro_serializer *mk_avro_serializer_new(const struct mk_avro_serde_config *config,
                                                  bool is_key, struct mk_err *err) {
  struct mk_avro_serializer *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory"), NULL;
  pthread_mutex_init(&s->lock, NULL);
  s->base = (struct mk_serializer){.name = "AvroSerializer", .class_name = CLASS_NAME,
                                   .input = MK_VALUE_OBJECT, .serialize = avro_serialize,
                                   .opaque = s};
  s->is_key = is_key;
  s->auto_register = config->auto_register_schemas;
  s->use_latest = config->use_latest_version;
  s->normalize = config->normalize_schemas;
  if (serde_init(config, config->schema, is_key ? "key.schema" : "value.schema", &s->client,
                 &s->own_client, &s->default_schema, err)) {
    mk_avro_serializer_free(s);
    return NULL;
  }
  return s;
}

void mk_avro_serializer_free(struct mk_avro_serializer *s) {
  if (!s) return;
  if (s->own_client) mk_schema_registry_client_free(s->client);
  mk_avro_schema_free(s->default_schema);
  for (int i = 0; i < s->cached; i++) {
    free(s->cache[i].text);
    mk_avro_schema_free(s->cache[i].schema);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

const struct mk_serializer *mk_avro_serializer_get(struct mk_avro_serializer *s) {
  return &s->base;
}

/* ---- the built-in by name --------------------------------------------------------------- */

static void close_configured(void *opaque) { mk_avro_serializer_free(opaque); }

static const struct mk_serializer *configure(const struct mk_serializer *self,
                                             const struct mk_producer_config *cfg, bool is_key,
                                             struct mk_err *err) {
  (void)self;
  struct mk_avro_serde_config c = {
      .schema_registry_url = cfg->schema_registry_url,
      .auto_register_schemas = cfg->auto_register_schemas,
      .use_latest_version = cfg->use_latest_version,
      .normalize_schemas = cfg->normalize_schemas,
      .timeout_ms = cfg->request_timeout_ms,
  };
  struct mk_avro_serializer *s = mk_avro_serializer_new(&c, is_key, err);
  if (!s) return NULL;
  s->base.close = close_configured;
  return &s->base;
}

/* Unconfigured (serialized with directly, not through a producer): only null passes. */
static int unconfigured(void *opaque, const char *topic, const struct mk_value *data,
                        struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic, (void)scratch;
  if (data->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  return mk_err_set(err, MK_ERR__STATE, "AvroSerializer is not configured (the producer "
                    "configures it with schema.registry.url; or use mk_avro_serializer_new)");
}

const struct mk_serializer mk_avro_serializer_builtin = {
    .name = "AvroSerializer", .class_name = CLASS_NAME, .input = MK_VALUE_OBJECT,
    .serialize = unconfigured, .configure = configure};

/* ---- the deserializer ------------------------------------------------------------------- */

struct mk_avro_deserializer {
  struct mk_schema_registry_client *client;
  bool own_client;
  struct mk_avro_schema *reader;
};

struct mk_avro_deserializer *mk_avro_deserializer_new(const struct mk_avro_serde_config *config,
                                                      const char *reader_schema,
                                                      struct mk_err *err) {
  struct mk_avro_deserializer *d = calloc(1, sizeof *d);
  if (!d) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory"), NULL;
  if (serde_init(config, reader_schema, "the reader schema", &d->client, &d->own_client,
                 &d->reader, err)) {
    mk_avro_deserializer_free(d);
    return NULL;
  }
  return d;
}

void mk_avro_deserializer_free(struct mk_avro_deserializer *d) {
  if (!d) return;
  if (d->own_client) mk_schema_registry_client_free(d->client);
  mk_avro_schema_free(d->reader);
  free(d);
}

int mk_avro_deserialize(struct mk_avro_deserializer *d, const uint8_t *buf, size_t len,
                        char **json, int *schema_id, struct mk_err *err) {
  *json = NULL;
  if (!buf) return (*json = strdup("null")) ? 0 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int32_t id;
  int rc = mk_avro_read_header(buf, len, &id, err);
  if (rc) return rc;
  if (schema_id) *schema_id = id;
  const struct mk_avro_schema *writer = NULL;
  struct mk_err local;
  if (!err) err = &local;
  if ((rc = mk_schema_registry_client_by_id(d->client, id, &writer, err))) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "Error retrieving Avro schema for id %d", id);
    return wrap(err, rc, prefix);
  }
  return mk_avro_binary_to_json(writer, d->reader, buf + MK_AVRO_HEADER_SIZE,
                                len - MK_AVRO_HEADER_SIZE, json, err);
}
