/*
 * Lab 12, serialization: what the serializers write, a serializer of our own, and what
 * happens when one cannot serialize a value.
 * Guide: labs/serialization/README.md. Notes: 000 sections 2 ("key.serializer",
 * "value.serializer", "메시지 직렬화 예외 시나리오") and 4 (custom serialization, Avro, schema
 * registries); 002 (StringSerializer in every example).
 *
 *   part 1  built-in serializers: one producer per value.serializer; a record each, read back
 *           from the leader's log byte for byte (String: UTF-8; Integer, Long: big-endian;
 *           Double: IEEE 754); then key 42 as an Integer and as the String "42": the
 *           partitioner hashes the serialized bytes, so they may land apart
 *   part 2  a custom serializer: a C struct point { x, y } written as a tiny JSON object
 *           {"x":3,"y":-4}; `records` points, each compared in the log with the bytes the
 *           serializer produced, and parsed back into the point
 *   part 3  a serialization error: value.serializer=IntegerSerializer given the String
 *           "forty-two". mk_producer_send fails at once on the caller's thread, its callback
 *           runs exactly once there, and nothing reaches the broker; the producer carries on
 *
 * The log is read back byte for byte with mk_lab_read_records.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"
#include "protocol/murmur2.h"
#include "protocol/record_batch.h"

static const struct mk_lab_param params[] = {
    {"records", "10", "points sent through the custom serializer", 1, 4000},
    {NULL, NULL, NULL},
};

static void hex(const uint8_t *p, int32_t len, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = 0;
  if (len < 0) snprintf(buf, size, "null");
  for (int32_t i = 0; i < len && n + 4 < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%02x", i ? " " : "", p[i]);
}

/* ---- sending, with the fate of each send ------------------------------------------------ */

struct fate {
  pthread_mutex_t lock;
  pthread_t caller;
  int callbacks;
  bool on_caller_thread;
  int32_t partition;
  int16_t error;
  char msg[200];
};

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  struct fate *f = opaque;
  pthread_mutex_lock(&f->lock);
  if (f->callbacks++ == 0) {
    f->partition = md->partition;
    f->error = err->code;
    snprintf(f->msg, sizeof f->msg, "%s", err->msg);
    f->on_caller_thread = pthread_equal(pthread_self(), f->caller) != 0;
  }
  pthread_mutex_unlock(&f->lock);
}

static void fate_init(struct fate *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  f->caller = pthread_self();
  f->partition = -1;
}

/* A producer whose value serializer (and key serializer, if key_s) is s. */
static int producer_with(struct mk_lab_ctx *ctx, const struct mk_serializer *key_s,
                         const struct mk_serializer *value_s, struct mk_producer **out) {
  struct mk_producer_config *cfg;
  int rc = mk_lab_producer_config(ctx, NULL, &cfg);
  if (rc) return rc;
  struct mk_err err = {0};
  if ((key_s && mk_producer_config_set_key_serializer(cfg, key_s, &err)) ||
      mk_producer_config_set_value_serializer(cfg, value_s, &err) ||
      mk_producer_config_finish(cfg, &err) || mk_producer_new(cfg, out, &err)) {
    mk_producer_config_free(cfg);
    return mk_lab_fail(ctx, err.code ? err.code : MK_ERR__STATE, "producer: %s", err.msg);
  }
  mk_producer_config_free(cfg);
  return 0;
}

/* Send one record and wait for it (a flush); *f gets its fate. Returns send()'s code. */
static int send_one(struct mk_lab_ctx *ctx, struct mk_producer *p, const char *topic,
                    int32_t partition, struct mk_value key, struct mk_value value,
                    struct fate *f) {
  struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, topic), .partition = partition,
                                   .key = key, .value = value, .timestamp = -1};
  struct mk_err err = {0};
  int rc = mk_producer_send(p, &rec, on_done, f, NULL, &err);
  mk_producer_flush(p, 30000, &err);
  return rc;
}

/* ---- part 1: the built-ins ------------------------------------------------------------- */

struct builtin_case {
  const char *serializer;
  const char *shown; /* the value, as Java would write it */
  struct mk_value value;
  uint8_t bytes[16]; /* what Kafka's serializer writes */
  int32_t len;
};

static int part_builtins(struct mk_lab_ctx *ctx) {
  static const char *const TOPIC = "ser-builtin";
  mk_lab_heading(ctx, "1. What the built-in serializers write");
  mk_lab_say(
      ctx,
      "One producer per value.serializer (key.serializer=StringSerializer), one record each\n"
      "to topic \"%s\" (1 partition); the bytes are read back from the leader's log.",
      TOPIC);
  mk_lab_predict(
      ctx,
      "how many bytes does each value take in the log: the String \"héllo\", the Integers\n"
      "         42 and -1, the Long 42, the Double 1.5?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  if (rc) return rc;
  const struct builtin_case cases[] = {
      {"StringSerializer",
       "\"héllo\"",
       mk_value_string("h\xc3\xa9llo"),
       {0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f},
       6},
      {"IntegerSerializer", "42", mk_value_int(42), {0, 0, 0, 0x2a}, 4},
      {"IntegerSerializer", "-1", mk_value_int(-1), {0xff, 0xff, 0xff, 0xff}, 4},
      {"LongSerializer", "42L", mk_value_long(42), {0, 0, 0, 0, 0, 0, 0, 0x2a}, 8},
      {"DoubleSerializer", "1.5", mk_value_double(1.5), {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, 8},
  };
  enum { NCASES = sizeof cases / sizeof cases[0] };
  int sent = 0;
  for (int i = 0; i < NCASES; i++) {
    struct mk_producer *p;
    if ((rc = producer_with(ctx, NULL, mk_serializer_find(cases[i].serializer), &p))) return rc;
    struct fate f;
    fate_init(&f);
    rc = send_one(ctx, p, TOPIC, 0, mk_value_string(cases[i].serializer), cases[i].value, &f);
    mk_producer_close(p, 5000);
    pthread_mutex_destroy(&f.lock);
    if (rc || f.error)
      return mk_lab_fail(ctx, rc ? rc : f.error, "%s: %s", cases[i].serializer, f.msg);
    sent++;
  }
  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log))) return rc;
  int n = (int)log.n, exact = 0;
  for (int i = 0; i < n && i < NCASES; i++) {
    struct mk_stored_bytes v = log.v[i].value;
    char got[64];
    hex((const uint8_t *)v.ptr, v.len, got, sizeof got);
    bool same = mk_lab_bytes_equal(v, cases[i].bytes, cases[i].len);
    exact += same;
    mk_lab_say(ctx, "  %-18s %-8s -> %2d bytes: %-24s %s", cases[i].serializer, cases[i].shown,
               v.len, got, same ? "(Kafka's bytes)" : "(NOT Kafka's bytes)");
  }
  mk_stored_records_free(&log);
  mk_lab_figure(ctx, "built-ins", "sent", sent);
  mk_lab_figure(ctx, "built-ins", "in log", n);
  mk_lab_figure(ctx, "built-ins", "exact bytes", exact);
  mk_lab_claim(ctx, n == NCASES && exact == NCASES,
               "each built-in wrote exactly Kafka's bytes (UTF-8, big-endian, IEEE 754): %d of %d",
               exact, NCASES);

  /* The partitioner hashes the serialized key. */
  rc = mk_lab_create_topic(ctx, "ser-keys", 6, 3);
  if (rc) return rc;
  struct mk_producer *as_int, *as_string;
  if ((rc = producer_with(ctx, mk_serializer_find("IntegerSerializer"),
                          mk_serializer_find("StringSerializer"), &as_int)))
    return rc;
  if ((rc = producer_with(ctx, NULL, mk_serializer_find("StringSerializer"), &as_string))) {
    mk_producer_close(as_int, 0);
    return rc;
  }
  struct fate fi, fs;
  fate_init(&fi);
  fate_init(&fs);
  size_t mark = mk_lab_mark(ctx);
  int rc1 =
      send_one(ctx, as_int, "ser-keys", -1, mk_value_int(42), mk_value_string("int key"), &fi);
  int rc2 = send_one(ctx, as_string, "ser-keys", -1, mk_value_string("42"),
                     mk_value_string("string key"), &fs);
  mk_producer_close(as_int, 5000);
  mk_producer_close(as_string, 5000);
  pthread_mutex_destroy(&fi.lock);
  pthread_mutex_destroy(&fs.lock);
  if (rc1 || rc2 || fi.error || fs.error)
    return mk_lab_fail(ctx, MK_ERR__STATE, "the key sends failed: %s %s", fi.msg, fs.msg);
  static const uint8_t int42[4] = {0, 0, 0, 42};
  int32_t want_int = mk_murmur2_partition(int42, 4, 6);
  int32_t want_str = mk_murmur2_partition("42", 2, 6);
  /* partitioner.ignore.keys=true (KIP-794): keyed records are placed as keyless ones. */
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, NULL, &cfg))) return rc;
  bool ignore_keys = cfg->partitioner_ignore_keys;
  mk_producer_config_free(cfg);
  int hashed = 0, placed = 0;
  json_t *evs = mk_lab_events(ctx, mark, "producer", "partition", "ser-keys");
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    placed++;
    hashed += strcmp(json_string_value(json_object_get(ev, "reason")), "key_hash") == 0;
  }
  json_decref(evs);
  mk_lab_figure(ctx, "key 42", "Integer partition", fi.partition);
  mk_lab_figure(ctx, "key 42", "String partition", fs.partition);
  if (!ignore_keys) {
    mk_lab_say(ctx,
               "\n  key 42 as an Integer (00 00 00 2a) -> partition %d of 6; as the String \"42\"\n"
               "  (34 32) -> partition %d: the partitioner hashes the serialized bytes (murmur2)",
               fi.partition, fs.partition);
    mk_lab_claim(ctx, fi.partition == want_int && fs.partition == want_str,
                 "each key went where murmur2 of its serialized bytes says (%d and %d)", want_int,
                 want_str);
  } else {
    mk_lab_say(ctx,
               "\n  key 42 as an Integer -> partition %d of 6; as the String \"42\" -> partition "
               "%d;\n"
               "  murmur2 would say %d and %d, but partitioner.ignore.keys=true: the keys are in\n"
               "  the records, and the partitioner does not look at them",
               fi.partition, fs.partition, want_int, want_str);
    mk_lab_claim(ctx, placed == 2 && hashed == 0,
                 "with partitioner.ignore.keys=true neither key was hashed: each record went to\n"
                 "    its producer's sticky partition, as a keyless one would");
  }
  return 0;
}

/* ---- part 2: a custom serializer -------------------------------------------------------- */

struct point {
  int x, y;
};

/* What the serializer produced, in order, so the lab can compare it with the log. */
struct point_serializer_state {
  pthread_mutex_t lock;
  int calls;
  char produced[4096][32];
};

/* A point as {"x":X,"y":Y}; a null value stays null (a tombstone). */
static int point_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)topic;
  struct point_serializer_state *st = opaque;
  if (v->type == MK_VALUE_NULL) {
    *out = MK_BYTES_NULL;
    return 0;
  }
  if (v->type != MK_VALUE_OBJECT || v->u.bytes.len != sizeof(struct point))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "PointSerializer needs a struct point, not a %s",
                      mk_value_type_name(v->type));
  const struct point *p = v->u.bytes.ptr;
  char text[32];
  int n = snprintf(text, sizeof text, "{\"x\":%d,\"y\":%d}", p->x, p->y);
  uint8_t *at = mk_writer_extend(scratch, (size_t)n);
  if (!at) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory serializing a point");
  memcpy(at, text, (size_t)n);
  *out = (struct mk_bytes){at, n};
  pthread_mutex_lock(&st->lock);
  if (st->calls < 4096) snprintf(st->produced[st->calls], sizeof st->produced[0], "%s", text);
  st->calls++;
  pthread_mutex_unlock(&st->lock);
  return 0;
}

static int part_custom(struct mk_lab_ctx *ctx, int records) {
  static const char *const TOPIC = "ser-points";
  mk_lab_heading(ctx, "2. A serializer of our own: a point as a tiny JSON object");
  mk_lab_say(
      ctx,
      "struct point { int x, y; } has no Kafka serializer, so we write one (Java: implement\n"
      "Serializer<Point>; C: fill in a struct mk_serializer). %d points (i, -2i) go to\n"
      "topic \"%s\" (1 partition).",
      records, TOPIC);
  mk_lab_predict(ctx,
                 "what does the broker store: a struct, or text? Could a Java consumer read it?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  if (rc) return rc;
  struct point_serializer_state *st = calloc(1, sizeof *st);
  if (!st) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  pthread_mutex_init(&st->lock, NULL);
  const struct mk_serializer point_serializer = {.name = "PointSerializer",
                                                 .input = MK_VALUE_OBJECT,
                                                 .serialize = point_serialize,
                                                 .opaque = st};
  struct mk_producer *p;
  if ((rc = producer_with(ctx, NULL, &point_serializer, &p))) goto out;
  size_t mark = mk_lab_mark(ctx);
  int send_errors = 0;
  for (int i = 0; i < records; i++) {
    struct point pt = {i, -2 * i};
    char key[24];
    snprintf(key, sizeof key, "point-%d", i);
    struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, TOPIC),
                                     .partition = -1,
                                     .key = mk_value_string(key),
                                     .value = mk_value_object(&pt, sizeof pt),
                                     .timestamp = -1};
    struct mk_err err = {0};
    send_errors += mk_producer_send(p, &rec, NULL, NULL, NULL, &err) != 0;
  }
  struct mk_err err = {0};
  rc = mk_producer_flush(p, 30000, &err);
  mk_producer_close(p, 5000);
  if (rc) {
    rc = mk_lab_fail(ctx, rc, "part 2: %s", err.msg);
    goto out;
  }
  mk_lab_sleep_ms(20);
  mk_lab_timeline(ctx, mark, NULL);
  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log))) goto out;
  int n = (int)log.n, intact = 0, decoded = 0;
  for (int i = 0; i < n && i < records && i < 4096; i++) {
    intact += mk_lab_bytes_is(log.v[i].value, st->produced[i]);
    const char *text = log.v[i].value.ptr ? log.v[i].value.ptr : "";
    struct point back;
    decoded += sscanf(text, "{\"x\":%d,\"y\":%d}", &back.x, &back.y) == 2 && back.x == i &&
               back.y == -2 * i;
  }
  if (n > 1)
    mk_lab_say(ctx, "\n  the log, offset 1: %s (%d bytes of text, no schema, no type name)",
               log.v[1].value.ptr ? log.v[1].value.ptr : "", log.v[1].value.len);
  mk_stored_records_free(&log);
  mk_lab_figure(ctx, "custom", "sent", records);
  mk_lab_figure(ctx, "custom", "send errors", send_errors);
  mk_lab_figure(ctx, "custom", "serialized", st->calls);
  mk_lab_figure(ctx, "custom", "in log", n);
  mk_lab_figure(ctx, "custom", "bytes intact", intact);
  mk_lab_figure(ctx, "custom", "decoded back", decoded);
  mk_lab_claim(
      ctx, n == records && intact == records && decoded == records,
      "the broker holds exactly the bytes PointSerializer produced, for all %d points, and\n"
      "    each parses back into the point sent (%d intact, %d decoded)",
      records, intact, decoded);
out:
  pthread_mutex_destroy(&st->lock);
  free(st);
  return rc;
}

/* ---- part 3: a serialization error ------------------------------------------------------ */

static int part_error(struct mk_lab_ctx *ctx) {
  static const char *const TOPIC = "ser-counts";
  mk_lab_heading(ctx, "3. A value the serializer cannot take");
  mk_lab_say(
      ctx,
      "A producer with value.serializer=IntegerSerializer sends the Integer 7 to topic \"%s\",\n"
      "then the String \"forty-two\" (Java: a ClassCastException inside the serializer), then\n"
      "the Integer 43.",
      TOPIC);
  mk_lab_predict(ctx,
                 "does send() return, or fail? Does the callback run, and on which thread? Does\n"
                 "         anything reach the broker? Can the producer still send?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  struct mk_producer *p;
  if (!rc) rc = producer_with(ctx, NULL, mk_serializer_find("IntegerSerializer"), &p);
  if (rc) return rc;
  struct fate good, bad, after;
  fate_init(&good);
  fate_init(&bad);
  fate_init(&after);
  rc = send_one(ctx, p, TOPIC, -1, mk_value_string("a"), mk_value_int(7), &good);
  size_t mark = mk_lab_mark(ctx);
  struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, TOPIC),
                                   .partition = -1,
                                   .key = mk_value_string("b"),
                                   .value = mk_value_string("forty-two"),
                                   .timestamp = -1};
  struct mk_err err = {0};
  int64_t t0 = mk_now_us();
  int bad_rc = mk_producer_send(p, &rec, on_done, &bad, NULL, &err);
  int64_t t1 = mk_now_us();
  mk_lab_sleep_ms(100); /* anything the bad send might have set off */
  int appended = mk_lab_count(ctx, mark, "broker", "append", TOPIC);
  int requests = mk_lab_count(ctx, mark, "producer", "request_sent", TOPIC);
  int failures = 0;
  json_t *completes = mk_lab_events(ctx, mark, "producer", "complete", TOPIC);
  size_t i;
  json_t *ev;
  json_array_foreach(completes, i, ev) failures += json_object_get(ev, "error") != NULL;
  json_decref(completes);
  mk_lab_timeline(ctx, mark, "The bad send:");
  int after_rc = send_one(ctx, p, TOPIC, -1, mk_value_string("c"), mk_value_int(43), &after);
  mk_producer_close(p, 5000);
  struct mk_stored_records log;
  int read_rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log);
  int n = (int)log.n;
  mk_stored_records_free(&log);
  pthread_mutex_destroy(&good.lock);
  pthread_mutex_destroy(&bad.lock);
  pthread_mutex_destroy(&after.lock);
  if (read_rc) return read_rc;
  if (rc || good.error || after_rc || after.error)
    return mk_lab_fail(ctx, MK_ERR__STATE, "part 3: a good record failed: %s %s", good.msg,
                       after.msg);
  double ms = (double)(t1 - t0) / 1000.0;
  mk_lab_say(ctx,
             "\n  send() %s after %.3f ms; the callback ran %d time(s), %s, with:\n    %s\n"
             "  Produce requests for it: %d; records appended: %d; the log holds %d records",
             bad_rc ? "failed at once" : "returned 0", ms, bad.callbacks,
             bad.on_caller_thread ? "on the caller's thread" : "on the Sender thread", bad.msg,
             requests, appended, n);
  mk_lab_figure(ctx, "bad send", "send() failed", bad_rc != 0);
  mk_lab_figure(ctx, "bad send", "same error in callback", bad_rc != 0 && bad.error == bad_rc);
  mk_lab_figure(ctx, "bad send", "callbacks", bad.callbacks);
  mk_lab_figure(ctx, "bad send", "on caller's thread", bad.on_caller_thread);
  mk_lab_figure(ctx, "bad send", "failures traced", failures);
  mk_lab_figure(ctx, "bad send", "requests", requests);
  mk_lab_figure(ctx, "bad send", "appended", appended);
  mk_lab_figure(ctx, "bad send", "send() ms", ms);
  mk_lab_figure(ctx, "bad send", "log records after", n);
  mk_lab_claim(ctx,
               bad_rc != 0 && bad.error == bad_rc && bad.callbacks == 1 && bad.on_caller_thread &&
                   strstr(bad.msg, "SerializationException") != NULL,
               "send() failed at once with the serializer's error, and its callback ran exactly\n"
               "    once, on the caller's thread");
  mk_lab_note(ctx,
              "  Java throws the SerializationException from send() and does not call the callback;\n"
              "  C has no exceptions: the error is returned, and the callback runs once, at once.");
  mk_lab_claim(ctx, appended == 0 && requests == 0 && n == 2,
               "nothing reached the broker for it (%d requests, %d appends), and the producer\n"
               "    carried on: the log holds the two good records",
               requests, appended);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = part_builtins(ctx);
  if (!rc) rc = part_custom(ctx, records);
  if (!rc) rc = part_error(ctx);
  if (rc) return rc;
  static const char *const rows[] = {"built-ins", "key 42", "custom", "bad send", NULL};
  mk_lab_table(ctx, "What this run measured:", rows, NULL);
  return 0;
}

const struct mk_lab mk_lab_serialization = {
    "serialization",
    "serializers: the bytes the built-ins write, a custom one, and a value that cannot be "
    "serialized",
    params,
    run,
};
