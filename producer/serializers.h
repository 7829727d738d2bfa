/*
 * Serializers: how an application's key and value become the bytes in a record.
 * Kafka: clients/.../common/serialization/ (Serializer, StringSerializer, IntegerSerializer, ...);
 * KafkaProducer.doSend() calls them. Note 000 section 4, note 002 (key.serializer).
 *
 *   app thread   mk_producer_send(record)            record.key / record.value: typed values
 *                  -> key.serializer, value.serializer  (this file)
 *                  -> partitioner                       (partitioner.c; hashes the key *bytes*)
 *                  -> RecordAccumulator                 (record_accumulator.c)
 *
 * Java's producer is generic (KafkaProducer<K, V>): the application hands it objects and a
 * Serializer<K> turns each into byte[]. C has no generics, so the application hands over a
 * struct mk_value: a small tagged union whose tag plays the role of the Java class (Integer,
 * String, byte[], ...). A serializer checks the tag first: giving IntegerSerializer a string
 * is the C twin of Java's ClassCastException, which KafkaProducer reports as a
 * SerializationException ("Can't convert value of class ... specified in value.serializer").
 *
 * The built-ins are Kafka's, byte for byte, so a Java consumer with the matching
 * Deserializer reads what we write:
 *   StringSerializer      String  -> its UTF-8 bytes (must be valid UTF-8 here; see below)
 *   ByteArraySerializer   byte[]  -> the same bytes (ByteBufferSerializer, BytesSerializer too)
 *   ShortSerializer       Short   -> 2 bytes big-endian      IntegerSerializer  4 bytes BE
 *   LongSerializer        Long    -> 8 bytes big-endian      BooleanSerializer  1 byte 0/1
 *   FloatSerializer       Float   -> IEEE 754 bits, 4 bytes BE (raw bits, NaN kept as is)
 *   DoubleSerializer      Double  -> IEEE 754 bits, 8 bytes BE (NaN made canonical, as
 *                                    Java's doubleToLongBits does)
 *   UUIDSerializer        UUID    -> its 36-character string form, lower-case hex
 *   VoidSerializer        null    -> null (anything else is an error)
 * Every serializer turns a null value into a null key/value (a null key means "no key":
 * the record is partitioned without one; a null value is a tombstone).
 *
 * A custom serializer is a struct mk_serializer the application fills in and hands to the
 * config (mk_producer_config_set_key_serializer); see the example at the end of this file.
 *
 * Output and memory: serialize() sets *out either to memory it borrows from the input value
 * (String and byte[] are passed through without a copy) or to bytes it appended to
 * `scratch`. So *out stays valid while the input value's memory does and until `scratch` is
 * written to again or freed: serialize the key and the value into two different scratch
 * writers, or copy the key before serializing the value.
 *
 * Thread: app. One producer may be shared by many application threads (as in Java), so a
 * custom serializer must be safe to call concurrently (the built-ins have no state).
 */
#ifndef MK_PRODUCER_SERIALIZERS_H
#define MK_PRODUCER_SERIALIZERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/primitives.h"

struct mk_producer_config;  /* producer/producer_config.h */

/* The Java type a value has. Names follow Java's classes, so errors read like Java's. */
enum mk_value_type {
  MK_VALUE_NULL,     /* null */
  MK_VALUE_BYTES,    /* byte[] */
  MK_VALUE_STRING,   /* String: UTF-8 text, len bytes, need not be NUL-terminated */
  MK_VALUE_SHORT,    /* Short (int16) */
  MK_VALUE_INT,      /* Integer (int32) */
  MK_VALUE_LONG,     /* Long (int64) */
  MK_VALUE_FLOAT,    /* Float */
  MK_VALUE_DOUBLE,   /* Double */
  MK_VALUE_BOOLEAN,  /* Boolean */
  MK_VALUE_UUID,     /* java.util.UUID (16 bytes, most significant first) */
  MK_VALUE_OBJECT,   /* anything else: a pointer (and length) only a custom serializer knows */
};

/* A key or value as the application gives it. Borrowed: ptr must stay valid during the call. */
struct mk_value {
  enum mk_value_type type;
  union {
    struct {
      const void *ptr;
      size_t len;
    } bytes;  /* BYTES, STRING, OBJECT */
    int16_t i16;
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    bool boolean;
    struct mk_uuid uuid;
  } u;
};

/* Constructors, so a call site reads like Java: mk_value_int(42), mk_value_string("hi"). */
static inline struct mk_value mk_value_null(void) {
  struct mk_value v = {.type = MK_VALUE_NULL};
  return v;
}
static inline struct mk_value mk_value_bytes(const void *ptr, size_t len) {
  struct mk_value v = {.type = MK_VALUE_BYTES, .u.bytes = {ptr, len}};
  return v;
}
/* A NULL s gives a null value (as a null String in Java). */
static inline struct mk_value mk_value_string(const char *s) {
  struct mk_value v = {.type = s ? MK_VALUE_STRING : MK_VALUE_NULL,
                       .u.bytes = {s, s ? strlen(s) : 0}};
  return v;
}
static inline struct mk_value mk_value_stringn(const char *s, size_t len) {
  struct mk_value v = {.type = MK_VALUE_STRING, .u.bytes = {s, len}};
  return v;
}
static inline struct mk_value mk_value_short(int16_t x) {
  struct mk_value v = {.type = MK_VALUE_SHORT, .u.i16 = x};
  return v;
}
static inline struct mk_value mk_value_int(int32_t x) {
  struct mk_value v = {.type = MK_VALUE_INT, .u.i32 = x};
  return v;
}
static inline struct mk_value mk_value_long(int64_t x) {
  struct mk_value v = {.type = MK_VALUE_LONG, .u.i64 = x};
  return v;
}
static inline struct mk_value mk_value_float(float x) {
  struct mk_value v = {.type = MK_VALUE_FLOAT, .u.f32 = x};
  return v;
}
static inline struct mk_value mk_value_double(double x) {
  struct mk_value v = {.type = MK_VALUE_DOUBLE, .u.f64 = x};
  return v;
}
static inline struct mk_value mk_value_boolean(bool x) {
  struct mk_value v = {.type = MK_VALUE_BOOLEAN, .u.boolean = x};
  return v;
}
static inline struct mk_value mk_value_uuid(struct mk_uuid x) {
  struct mk_value v = {.type = MK_VALUE_UUID, .u.uuid = x};
  return v;
}
static inline struct mk_value mk_value_object(const void *ptr, size_t len) {
  struct mk_value v = {.type = MK_VALUE_OBJECT, .u.bytes = {ptr, len}};
  return v;
}

/* Java's name for a type: "Integer", "String", "byte[]", "null", ... Thread: any. */
const char *mk_value_type_name(enum mk_value_type type);

/* Parse text as a value of `type` (what a console producer needs to feed IntegerSerializer
 * from a line of input): Short/Integer/Long as decimal within range, Float/Double as
 * strtod reads them, Boolean as true/false (any case), UUID as 8-4-4-4-12 hex, String and
 * byte[] as the text itself (borrowed: *out points into text). Returns 0, or
 * MK_ERR__INVALID_ARG with err naming the type and the text. Thread: any. Borrows text. */
int mk_value_from_text(enum mk_value_type type, const char *text, size_t len,
                       struct mk_value *out, struct mk_err *err);

/* The serializer interface (Java's org.apache.kafka.common.serialization.Serializer).
 * serialize() turns *data into *out (MK_BYTES_NULL for a null result) and returns 0, or
 * returns an error code with err saying what is wrong with the value. It must not keep any
 * pointer to data or scratch after it returns. */
struct mk_serializer {
  const char *name;        /* short name: "StringSerializer", or the custom one's own */
  const char *class_name;  /* Java's full class name for a built-in; NULL for a custom one */
  enum mk_value_type input;/* the value type it takes (MK_VALUE_OBJECT for "custom") */
  int (*serialize)(void *opaque, const char *topic, const struct mk_value *data,
                   struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err);
  void *opaque;            /* passed to serialize() and close() */
  void (*close)(void *opaque);  /* may be NULL; the producer calls it once, when it closes */
  /* Java's Serializer.configure(configs, isKey), for a built-in that needs settings (only
   * AvroSerializer: schema.registry.url ...); NULL for the others and for custom ones. When
   * set, mk_producer_new calls it for each use (key, value) and serializes with the instance
   * it returns, whose close() the producer calls once (it frees the instance). Returns NULL
   * with err naming the missing or bad setting. */
  const struct mk_serializer *(*configure)(const struct mk_serializer *self,
                                           const struct mk_producer_config *cfg, bool is_key,
                                           struct mk_err *err);
};

/* A built-in serializer by Kafka's class name, short ("IntegerSerializer") or full
 * ("org.apache.kafka.common.serialization.IntegerSerializer"), or NULL. The result is a
 * static object: never freed. Thread: any. Borrows name. */
const struct mk_serializer *mk_serializer_find(const char *name);

/* The i-th built-in (0, 1, ...), or NULL past the end: for help texts. Thread: any. */
const struct mk_serializer *mk_serializer_builtin(int i);

/* Run s on data for a key (is_key) or a value, as KafkaProducer.doSend does. On failure the
 * error names the config and the serializer, the way Java's SerializationException does:
 *   "SerializationException: value.serializer IntegerSerializer: can't convert a value of
 *    class String to Integer"
 * Returns 0 (with *out set as described at the top) or the serializer's error code
 * (MK_ERR__INVALID_ARG for the built-ins). Thread: app. Borrows everything. */
int mk_serializer_serialize(const struct mk_serializer *s, bool is_key, const char *topic,
                            const struct mk_value *data, struct mk_bytes *out,
                            struct mk_writer *scratch, struct mk_err *err);

/*
 * Example: a custom serializer that writes a point as "x,y".
 *
 *   struct point { int x, y; };
 *   static int point_serialize(void *opaque, const char *topic, const struct mk_value *v,
 *                              struct mk_bytes *out, struct mk_writer *scratch,
 *                              struct mk_err *err) {
 *     if (v->type == MK_VALUE_NULL) { *out = MK_BYTES_NULL; return 0; }
 *     if (v->type != MK_VALUE_OBJECT || v->u.bytes.len != sizeof(struct point))
 *       return mk_err_set(err, MK_ERR__INVALID_ARG, "expected a struct point");
 *     const struct point *p = v->u.bytes.ptr;
 *     char text[32];
 *     int n = snprintf(text, sizeof text, "%d,%d", p->x, p->y);
 *     size_t at = scratch->len;
 *     mk_write_raw(scratch, text, (size_t)n);
 *     *out = (struct mk_bytes){scratch->buf + at, n};
 *     return 0;
 *   }
 *   static const struct mk_serializer point_serializer = {
 *     .name = "PointSerializer", .input = MK_VALUE_OBJECT, .serialize = point_serialize};
 *   ...
 *   mk_producer_config_set_value_serializer(cfg, &point_serializer);
 */

#endif
