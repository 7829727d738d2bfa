/*
 * Lab 15, schemas: Avro with a schema registry, the advice of note 000 section 4 run for real.
 * Guide: labs/schemas/README.md. Notes: 000 section 4 (Avro, schema registries, "역직렬화시
 * 데이터를 쓸 때 사용했던 스키마에 접근이 가능해야 한다"); lab 12 (serialization) for the JSON
 * the values are compared with.
 *
 *   part 1  the registry: the embedded broker serves Confluent's REST API; User v1 is
 *           registered over HTTP and becomes one record of the topic _schemas, committed
 *           (on every in-sync replica) before the registry answers
 *   part 2  Avro records: `records` users sent with AvroSerializer; each value in the log is
 *           the 5-byte header (magic byte 0, the schema's id) and the Avro binary, smaller
 *           than the JSON text of lab 12; the deserializer reads each back by its id
 *   part 3  evolution: v2 adds a field with a default (compatible under BACKWARD: version 2),
 *           v3 changes a field's type (409: refused, nothing written); records written with
 *           v2 are read by a v1 reader through Avro's schema resolution
 *
 * The registry's answers are shown as it gave them (mk_schema_registry_client_request); the
 * producer's Avro serializer and the deserializers are producer/avro_serializer.h's.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labs/lab.h"
#include "producer/avro_serializer.h"
#include "producer/producer_config.h"

static const struct mk_lab_param params[] = {
    {"records", "3", "users sent with each schema version", 1, 1000},
    {NULL, NULL, NULL, 0, 0},
};

#define TOPIC "users"
#define SUBJECT TOPIC "-value"  /* TopicNameStrategy: the value schemas of topic "users" */

static const char *const USER_V1 =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"int\"}]}";
/* v1 plus a field with a default: readers of either version can read the other's data. */
static const char *const USER_V2 =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"int\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
/* v2 with age a string: no reader of one can read the other's ages. */
static const char *const USER_V3 =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"string\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

/* What the parts share. */
struct run {
  struct mk_lab_ctx *ctx;
  const char *url;                          /* the registry's */
  struct mk_schema_registry_client *client;  /* for the lab's own requests */
  struct mk_avro_serde_config serde;        /* the serializers' settings */
  int records;
  int id1, id2;
};

/* ---- talking to the registry ------------------------------------------------------------- */

/* One request; prints "METHOD path -> status answer" and returns the status (0 when the
 * registry could not be reached: the lab fails then). *answer is the parsed JSON (may be
 * NULL), json_decref it. */
static int ask(struct run *r, const char *method, const char *path, const char *schema,
               json_t **answer) {
  char *body = NULL;
  if (schema) {
    json_t *b = json_pack("{s:s}", "schema", schema);
    body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
  }
  int status = 0;
  char *text = NULL;
  struct mk_err err = {0};
  if (mk_schema_registry_client_request(r->client, method, path, body, &status, &text, &err)) {
    free(body);
    mk_lab_fail(r->ctx, err.code, "%s %s: %s", method, path, err.msg);
    return 0;
  }
  free(body);
  json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
  mk_lab_say(r->ctx, "  %s %s%s\n    -> %d %.300s%s", method, path, schema ? " {\"schema\": ...}" : "",
             status, text, strlen(text) > 300 ? "..." : "");
  free(text);
  if (answer) *answer = j;
  else json_decref(j);
  return status;
}

/* ---- reading values back ------------------------------------------------------------------ */

static void hex(const uint8_t *p, size_t len, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = 0;
  for (size_t i = 0; i < len && n + 4 < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%02x", i ? " " : "", p[i]);
}

/* Whether two JSON texts are the same value. */
static bool same_json(const char *a, const char *b) {
  json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL), *jb = json_loads(b, JSON_DECODE_ANY, NULL);
  bool same = ja && jb && json_equal(ja, jb);
  json_decref(ja);
  json_decref(jb);
  return same;
}

/* A producer whose value serializer is an AvroSerializer with default schema `schema`. */
static int avro_producer(struct run *r, const char *schema, struct mk_avro_serializer **ser,
                         struct mk_producer **out) {
  struct mk_err err = {0};
  struct mk_avro_serde_config c = r->serde;
  c.schema = schema;
  if (!(*ser = mk_avro_serializer_new(&c, false, &err)))
    return mk_lab_fail(r->ctx, err.code, "AvroSerializer: %s", err.msg);
  struct mk_producer_config *cfg;
  int rc = mk_lab_producer_config(r->ctx, NULL, &cfg);
  if (!rc && (mk_producer_config_set_value_serializer(cfg, mk_avro_serializer_get(*ser), &err) ||
              mk_producer_config_finish(cfg, &err) || mk_producer_new(cfg, out, &err)))
    rc = mk_lab_fail(r->ctx, err.code ? err.code : MK_ERR__STATE, "producer: %s", err.msg);
  mk_producer_config_free(cfg);
  if (rc) {
    mk_avro_serializer_free(*ser);
    *ser = NULL;
  }
  return rc;
}

/* Send r->records users with an AvroSerializer writing `schema`: {"name": "user-i", "age":
 * age0 + i}, and with_email an email too; wait until each is in the log (the HW reaches
 * hw_after). *values gets the JSON texts sent (free() them). Returns how many sends
 * succeeded, or -1 after mk_lab_fail. */
static int produce_users(struct run *r, const char *schema, int age0, bool with_email,
                         int64_t hw_after, char (**values)[160]) {
  struct mk_avro_serializer *ser = NULL;
  struct mk_producer *p = NULL;
  struct mk_lab_sends *s = NULL;
  *values = NULL;
  if (avro_producer(r, schema, &ser, &p)) return -1;
  if (!(*values = calloc((size_t)r->records, sizeof **values)) ||
      !(s = mk_lab_sends_new(r->records))) {
    mk_producer_close(p, 0);
    mk_avro_serializer_free(ser);
    free(*values);
    *values = NULL;
    return mk_lab_fail(r->ctx, MK_ERR__NO_MEMORY, "out of memory"), -1;
  }
  for (int i = 0; i < r->records; i++) {
    char key[32], *v = (*values)[i];
    snprintf(key, sizeof key, "user-%d", i);
    if (with_email)
      snprintf(v, sizeof **values,
               "{\"name\":\"user-%d\",\"age\":%d,\"email\":{\"string\":\"user-%d@example.com\"}}", i,
               age0 + i, i);
    else
      snprintf(v, sizeof **values, "{\"name\":\"user-%d\",\"age\":%d}", i, age0 + i);
    mk_lab_send(r->ctx, p, s, TOPIC, 0, key, v);
  }
  mk_lab_sends_wait(s, 30000);
  int ok = mk_lab_sends_succeeded(s);
  mk_lab_sends_free(s);
  mk_producer_close(p, 5000);
  mk_avro_serializer_free(ser);
  mk_lab_wait_hw(r->ctx, TOPIC, 0, hw_after, 5000);  /* (acks=0 answers nothing) */
  return ok;
}

/* ---- part 1: the registry ------------------------------------------------------------------- */

static int part_registry(struct run *r) {
  struct mk_lab_ctx *ctx = r->ctx;
  mk_lab_heading(ctx, "1. A schema registry in the broker");
  mk_lab_say(ctx,
             "The embedded broker serves Confluent's schema registry API at %s.\n"
             "We register User v1 as the value schema of topic \"%s\" (subject \"%s\",\n"
             "TopicNameStrategy):\n  %s",
             r->url, TOPIC, SUBJECT, USER_V1);
  mk_lab_predict(ctx, "which id does the first schema get, and where does the registry keep\n"
                 "         it: in memory, in a file, or in Kafka?");
  size_t mark = mk_lab_mark(ctx);
  json_t *answer = NULL;
  int status = ask(r, "POST", "/subjects/" SUBJECT "/versions", USER_V1, &answer);
  r->id1 = (int)json_integer_value(json_object_get(answer, "id"));
  json_decref(answer);
  if (!status) return MK_ERR__TRANSPORT;
  mk_lab_sleep_ms(20);
  static const char *const focus[] = {"broker:append", "broker:replicate", "broker:hw_advance",
                                      NULL};
  mk_lab_timeline_focus(ctx, mark, "What the registration did in the cluster:", focus);

  struct mk_stored_records log;
  int rc = mk_lab_read_records(ctx, "_schemas", 0, -1, true, &log);
  if (rc) return rc;
  int nrecords = (int)log.n;
  bool shape = nrecords == 1 && log.v[0].key.ptr &&
               strstr(log.v[0].key.ptr, "\"keytype\":\"SCHEMA\"") != NULL;
  if (nrecords > 0)
    mk_lab_say(ctx, "\n  _schemas, offset 0 (a consumer's view):\n    key   %s\n    value %.160s%s",
               log.v[0].key.ptr ? log.v[0].key.ptr : "null",
               log.v[0].value.ptr ? log.v[0].value.ptr : "null",
               log.v[0].value.len > 160 ? "..." : "");
  mk_stored_records_free(&log);
  struct mk_partition_state st;
  if ((rc = mk_lab_partition_state(ctx, "_schemas", 0, &st))) return rc;
  int isr = 0, holding = 0;
  for (int i = 0; i < st.nreplicas; i++) {
    isr += st.replicas[i].in_isr;
    holding += st.replicas[i].in_isr && st.replicas[i].log_end_offset >= 1;
  }
  mk_lab_say(ctx, "  _schemas-0: high watermark %lld, %d replicas, %d in the ISR, %d of them "
             "with the record", (long long)st.high_watermark, st.nreplicas, isr, holding);
  mk_lab_figure(ctx, "register v1", "status", status);
  mk_lab_figure(ctx, "register v1", "id", r->id1);
  mk_lab_figure(ctx, "register v1", "_schemas records", nrecords);
  mk_lab_figure(ctx, "register v1", "ISR replicas with it", holding);
  mk_lab_claim(ctx, status == 200 && r->id1 == 1 && shape,
               "the first schema got id 1, and the registry keeps it in Kafka: one record of\n"
               "    the topic _schemas, keyed {\"keytype\":\"SCHEMA\",...} as Confluent's registry "
               "writes it");
  mk_lab_claim(ctx, st.high_watermark >= 1 && holding == isr && isr > 0,
               "the registry answered once the record was committed: _schemas' high watermark "
               "is\n    %lld and all %d in-sync replicas hold it, so a failover cannot take it back",
               (long long)st.high_watermark, isr);
  return 0;
}

/* ---- part 2: Avro records -------------------------------------------------------------------- */

static int part_records(struct run *r) {
  struct mk_lab_ctx *ctx = r->ctx;
  mk_lab_heading(ctx, "2. Avro values: a 5-byte header, then Avro");
  mk_lab_say(ctx,
             "A producer with value.serializer=AvroSerializer (schema.registry.url=%s,\n"
             "auto.register.schemas=%s, use.latest.version=%s) sends %d users to topic \"%s\"\n"
             "(1 partition), each given as JSON text in User v1.",
             r->url, r->serde.auto_register_schemas ? "true" : "false",
             r->serde.use_latest_version ? "true" : "false", r->records, TOPIC);
  mk_lab_predict(ctx, "how many bytes does {\"name\":\"user-0\",\"age\":20} take in the log? Where is\n"
                 "         the schema?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, -1);
  if (rc) return rc;
  char (*values)[160];
  int sent = produce_users(r, USER_V1, 20, false, r->records, &values);
  if (sent < 0) return MK_ERR__STATE;

  struct mk_avro_deserializer *de = mk_avro_deserializer_new(&r->serde, NULL, &(struct mk_err){0});
  struct mk_stored_records log;
  if (!de || (rc = mk_lab_read_records(ctx, TOPIC, 0, -1, true, &log))) {
    free(values);
    mk_avro_deserializer_free(de);
    return rc ? rc : mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "AvroDeserializer");
  }
  int framed = 0, decoded = 0;
  size_t avro_bytes = 0, json_bytes = 0;
  for (size_t i = 0; i < log.n && i < (size_t)r->records; i++) {
    struct mk_stored_bytes v = log.v[i].value;
    int32_t id = -1;
    struct mk_err err = {0};
    if (v.len >= 0 && mk_avro_read_header((const uint8_t *)v.ptr, (size_t)v.len, &id, &err) == 0 &&
        id == r->id1)
      framed++;
    char *json = NULL;
    if (v.len >= 0 &&
        mk_avro_deserialize(de, (const uint8_t *)v.ptr, (size_t)v.len, &json, NULL, &err) == 0 &&
        same_json(json, values[i]))
      decoded++;
    free(json);
    avro_bytes += v.len > 0 ? (size_t)v.len : 0;
    json_bytes += strlen(values[i]);
    if (i == 0 && v.len > MK_AVRO_HEADER_SIZE) {
      char header[32], body[200];
      hex((const uint8_t *)v.ptr, MK_AVRO_HEADER_SIZE, header, sizeof header);
      hex((const uint8_t *)v.ptr + MK_AVRO_HEADER_SIZE, (size_t)v.len - MK_AVRO_HEADER_SIZE, body,
          sizeof body);
      mk_lab_say(ctx,
                 "\n  the log, offset 0: %d bytes for %s (%zu bytes of JSON text)\n"
                 "    %s | %s\n"
                 "    `- magic byte 0, then schema id %d (4 bytes, big-endian)\n"
                 "                     `- Avro: name (zig-zag length %zu, then its bytes), age "
                 "(zig-zag varint: %d -> 0x%02x)",
                 v.len, values[0], strlen(values[0]), header, body, id, strlen("user-0"), 20,
                 (unsigned)(20 << 1));
    }
  }
  mk_stored_records_free(&log);
  mk_avro_deserializer_free(de);
  free(values);
  int n = r->records;
  double avro_avg = n ? (double)avro_bytes / n : 0, json_avg = n ? (double)json_bytes / n : 0;
  mk_lab_say(ctx, "  on average %.1f bytes per value in Avro (header included), %.1f as JSON text",
             avro_avg, json_avg);
  mk_lab_figure(ctx, "v1 records", "sent", sent);
  mk_lab_figure(ctx, "v1 records", "framed", framed);
  mk_lab_figure(ctx, "v1 records", "decoded", decoded);
  mk_lab_figure(ctx, "v1 records", "avro bytes", avro_avg);
  mk_lab_figure(ctx, "v1 records", "json bytes", json_avg);
  mk_lab_claim(ctx, sent == n && framed == n,
               "every value starts with the magic byte 0 and the id %d the registry gave User v1\n"
               "    (%d of %d): the schema itself is not in the record",
               r->id1, framed, n);
  mk_lab_claim(ctx, decoded == n,
               "the deserializer fetched the schema by that id and read each value back into\n"
               "    the JSON sent (%d of %d)",
               decoded, n);
  mk_lab_claim(ctx, n > 0 && avro_avg < json_avg,
               "Avro with its header is smaller than the JSON text: %.1f vs %.1f bytes (no field\n"
               "    names, numbers as varints)",
               avro_avg, json_avg);
  return 0;
}

/* ---- part 3: evolution ------------------------------------------------------------------------ */

static int part_evolution(struct run *r) {
  struct mk_lab_ctx *ctx = r->ctx;
  mk_lab_heading(ctx, "3. Evolving the schema: compatible, incompatible, resolution");
  mk_lab_say(ctx, "v2 adds {\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}.\n"
             "v3 then changes age from int to string. The subject's level is the default one.");
  json_t *config = NULL;
  ask(r, "GET", "/config", NULL, &config);
  const char *level = json_string_value(json_object_get(config, "compatibilityLevel"));
  char level_name[32];
  snprintf(level_name, sizeof level_name, "%s", level ? level : "?");
  json_decref(config);
  mk_lab_predict(ctx, "which of v2 and v3 does the registry take under %s? Can a consumer\n"
                 "         still holding v1 read what a v2 producer writes?", level_name);

  json_t *a = NULL;
  ask(r, "POST", "/compatibility/subjects/" SUBJECT "/versions/latest", USER_V2, &a);
  bool v2_compatible = json_is_true(json_object_get(a, "is_compatible"));
  json_decref(a);
  int status2 = ask(r, "POST", "/subjects/" SUBJECT "/versions", USER_V2, &a);
  r->id2 = (int)json_integer_value(json_object_get(a, "id"));
  json_decref(a);

  /* Records written with v2. */
  char (*values)[160];
  int sent = produce_users(r, USER_V2, 30, true, 2 * (int64_t)r->records, &values);
  if (sent < 0) return MK_ERR__STATE;
  int rc;
  mk_lab_say(ctx, "  sent %d users with User v2, e.g. %s", sent, values[0]);

  ask(r, "POST", "/compatibility/subjects/" SUBJECT "/versions/latest", USER_V3, &a);
  bool v3_compatible = json_is_true(json_object_get(a, "is_compatible"));
  json_decref(a);
  int status3 = ask(r, "POST", "/subjects/" SUBJECT "/versions", USER_V3, &a);
  int code3 = (int)json_integer_value(json_object_get(a, "error_code"));
  json_decref(a);
  json_t *versions = NULL;
  ask(r, "GET", "/subjects/" SUBJECT "/versions", NULL, &versions);
  int nversions = (int)json_array_size(versions);
  json_decref(versions);
  struct mk_partition_state st;
  if ((rc = mk_lab_partition_state(ctx, "_schemas", 0, &st))) {
    free(values);
    return rc;
  }

  /* A consumer still on v1 reads the v2 records: Avro resolves the writer's schema (v2, by
   * the id in each record) against the reader's (v1). */
  struct mk_err err = {0};
  struct mk_avro_deserializer *old_reader = mk_avro_deserializer_new(&r->serde, USER_V1, &err);
  struct mk_avro_deserializer *writer_view = mk_avro_deserializer_new(&r->serde, NULL, &err);
  struct mk_stored_records log;
  rc = old_reader && writer_view ? mk_lab_read_records(ctx, TOPIC, 0, -1, true, &log)
                                 : mk_lab_fail(ctx, err.code, "AvroDeserializer: %s", err.msg);
  int resolved = 0, with_v2_id = 0;
  if (!rc) {
    for (int i = 0; i < r->records && (size_t)(r->records + i) < log.n; i++) {
      struct mk_stored_bytes v = log.v[r->records + i].value;
      char *as_v1 = NULL, *as_written = NULL, expected[96];
      int id = -1;
      snprintf(expected, sizeof expected, "{\"name\":\"user-%d\",\"age\":%d}", i, 30 + i);
      struct mk_err e1 = {0}, e2 = {0};
      int rc1 = v.len < 0 ? -1 : mk_avro_deserialize(old_reader, (const uint8_t *)v.ptr,
                                                     (size_t)v.len, &as_v1, &id, &e1);
      int rc2 = v.len < 0 ? -1 : mk_avro_deserialize(writer_view, (const uint8_t *)v.ptr,
                                                     (size_t)v.len, &as_written, NULL, &e2);
      with_v2_id += rc1 == 0 && id == r->id2;
      resolved += rc1 == 0 && same_json(as_v1, expected);
      if (i == 0)
        mk_lab_say(ctx, "\n  offset %lld, written with schema id %d:\n"
                   "    read with the writer's schema (v2): %s\n"
                   "    read by a v1 reader:                %s",
                   (long long)log.v[r->records].offset, id, rc2 ? e2.msg : as_written,
                   rc1 ? e1.msg : as_v1);
      free(as_v1);
      free(as_written);
    }
    mk_stored_records_free(&log);
  }
  mk_avro_deserializer_free(old_reader);
  mk_avro_deserializer_free(writer_view);
  free(values);
  if (rc) return rc;

  mk_lab_figure(ctx, "v2 (field with default)", "compatible", v2_compatible);
  mk_lab_figure(ctx, "v2 (field with default)", "status", status2);
  mk_lab_figure(ctx, "v2 (field with default)", "id", r->id2);
  mk_lab_figure(ctx, "v3 (age: string)", "compatible", v3_compatible);
  mk_lab_figure(ctx, "v3 (age: string)", "status", status3);
  mk_lab_figure(ctx, "v3 (age: string)", "error code", code3);
  mk_lab_figure(ctx, "evolution", "versions", nversions);
  mk_lab_figure(ctx, "evolution", "_schemas records", (double)st.high_watermark);
  mk_lab_figure(ctx, "old reader", "v2 records", sent);
  mk_lab_figure(ctx, "old reader", "resolved", resolved);
  mk_lab_claim(ctx, v2_compatible && status2 == 200 && r->id2 != r->id1,
               "adding a field with a default is compatible under %s: v2 registered with id %d",
               level_name, r->id2);
  mk_lab_claim(ctx, !v3_compatible && status3 == 409 && code3 == 409 && nversions == 2 &&
                        st.high_watermark == 2,
               "changing age's type is not: 409 (error code %d), and nothing was written (the\n"
               "    subject has %d versions, _schemas %lld records)",
               code3, nversions, (long long)st.high_watermark);
  mk_lab_claim(ctx, sent == r->records && with_v2_id == r->records && resolved == r->records,
               "a v1 reader read all %d v2 records (id %d in their headers) by schema resolution:\n"
               "    name and age as written, the email it does not know skipped (%d of %d)",
               r->records, r->id2, resolved, r->records);
  return 0;
}

/* The serializers' settings: the lab's registry, and the user's Avro settings if given. */
static void serde_settings(struct run *r) {
  r->serde = mk_avro_serde_config_default();
  r->serde.schema_registry_url = r->url;
  struct mk_producer_config *cfg = NULL;
  if (mk_lab_producer_config(r->ctx, NULL, &cfg)) return;  /* (fails again, and says why, later) */
  char buf[16];
  struct mk_err err = {0};
  if (mk_producer_config_get(cfg, "auto.register.schemas", buf, sizeof buf, &err) == 0)
    r->serde.auto_register_schemas = strcmp(buf, "true") == 0;
  if (mk_producer_config_get(cfg, "use.latest.version", buf, sizeof buf, &err) == 0)
    r->serde.use_latest_version = strcmp(buf, "true") == 0;
  if (mk_producer_config_get(cfg, "normalize.schemas", buf, sizeof buf, &err) == 0)
    r->serde.normalize_schemas = strcmp(buf, "true") == 0;
  mk_producer_config_free(cfg);
  if (mk_lab_user_set(r->ctx, "schema.registry.url"))
    mk_lab_note(r->ctx, "  (your schema.registry.url is not used: the lab talks to its own broker's "
                "registry)");
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  if (records < 1 || records > 1000)
    return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "records must be 1..1000");
  static const char *const broker[] = {"schema.registry.port=0", NULL};
  int rc = mk_lab_broker_start(ctx, broker);
  if (rc) return rc;
  struct run r = {.ctx = ctx, .records = records,
                  .url = mk_broker_schema_registry_url(mk_lab_broker(ctx))};
  struct mk_err err = {0};
  if (!r.url) return mk_lab_fail(ctx, MK_ERR__STATE, "the broker has no schema registry");
  if (!(r.client = mk_schema_registry_client_new(r.url, 10000, &err)))
    return mk_lab_fail(ctx, err.code, "registry client: %s", err.msg);
  serde_settings(&r);
  rc = part_registry(&r);
  if (!rc) rc = part_records(&r);
  if (!rc) rc = part_evolution(&r);
  mk_schema_registry_client_free(r.client);
  if (rc) return rc;
  static const char *const rows[] = {"register v1", "v1 records", "v2 (field with default)",
                                     "v3 (age: string)", "evolution", "old reader", NULL};
  mk_lab_table(ctx, "What this run measured:", rows, NULL);
  return 0;
}

const struct mk_lab mk_lab_schemas = {
    "schemas",
    "schemas: Avro with a schema registry: the 5-byte header, compatible and incompatible "
    "evolution, an old reader reading new data",
    params,
    run,
    "It needs a schema registry whose schemas live in the cluster it watches: the embedded\n"
    "broker's (its _schemas topic, GET /v1/schemas), started with the lab. A real cluster's\n"
    "registry, if it has one, is a server of its own the lab does not know. On a real\n"
    "cluster, use its registry with `minikafka produce --value-serializer AvroSerializer\n"
    "--property value.schema=... --property schema.registry.url=URL` and `minikafka consume\n"
    "--value-deserializer AvroDeserializer`.",
};
