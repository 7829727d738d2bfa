/*
 * Serializers: Kafka's built-in Serializer classes, byte for byte. See serializers.h.
 * Kafka: clients/.../common/serialization/ (StringSerializer.java and its siblings).
 *
 * Each built-in is one small function: check the value's type (Java's ClassCastException),
 * pass null through, then write the big-endian bytes into the scratch writer (numbers) or
 * point at the caller's memory (String, byte[]).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "producer/serializers.h"

#include "common/utf8.h"
#include "producer/avro_serializer.h"

#define JAVA_PACKAGE "org.apache.kafka.common.serialization."

const char *mk_value_type_name(enum mk_value_type type) {
  switch (type) {
    case MK_VALUE_NULL: return "null";
    case MK_VALUE_BYTES: return "byte[]";
    case MK_VALUE_STRING: return "String";
    case MK_VALUE_SHORT: return "Short";
    case MK_VALUE_INT: return "Integer";
    case MK_VALUE_LONG: return "Long";
    case MK_VALUE_FLOAT: return "Float";
    case MK_VALUE_DOUBLE: return "Double";
    case MK_VALUE_BOOLEAN: return "Boolean";
    case MK_VALUE_UUID: return "UUID";
    case MK_VALUE_OBJECT: return "object";
  }
  return "unknown";
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Java's ClassCastException, in words: which class arrived and which was expected. */
static int wrong_type(const struct mk_value *v, enum mk_value_type want, struct mk_err *err) {
  if (v->type == MK_VALUE_BYTES || v->type == MK_VALUE_STRING || v->type == MK_VALUE_OBJECT)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "can't convert a value of class %s (%zu bytes) to %s",
                      mk_value_type_name(v->type), v->u.bytes.len, mk_value_type_name(want));
  return mk_err_set(err, MK_ERR__INVALID_ARG, "can't convert a value of class %s to %s",
                    mk_value_type_name(v->type), mk_value_type_name(want));
}

/* A byte count as a struct mk_bytes length (int32 on the wire). */
static int borrow(const void *ptr, size_t len, struct mk_bytes *out, struct mk_err *err) {
  if (len > INT32_MAX)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%zu bytes is more than a record can hold", len);
  *out = (struct mk_bytes){ptr, (int32_t)len};
  return 0;
}

/* Append n big-endian bytes of v to scratch and point *out at them. */
static int write_be(uint64_t v, int n, struct mk_bytes *out, struct mk_writer *scratch,
                    struct mk_err *err) {
  uint8_t *p = mk_writer_extend(scratch, (size_t)n);
  if (!p) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory serializing %d bytes", n);
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  *out = (struct mk_bytes){p, n};
  return 0;
}

/* ---- the built-ins ---------------------------------------------------------------------- */

/* StringSerializer: the text's UTF-8 bytes. Java strings are always encodable; C strings may
 * hold any bytes, so bytes that are not UTF-8 are an error here rather than silently sent. */
static int string_serialize(void *opaque, const char *topic, const struct mk_value *v,
                            struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic, (void)scratch;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_STRING) return wrong_type(v, MK_VALUE_STRING, err);
  long bad = mk_utf8_invalid_at(v->u.bytes.ptr, v->u.bytes.len);
  if (bad >= 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "the String is not valid UTF-8 (byte 0x%02x at offset %ld)",
                      ((const uint8_t *)v->u.bytes.ptr)[bad], bad);
  return borrow(v->u.bytes.ptr, v->u.bytes.len, out, err);
}

/* ByteArraySerializer (and ByteBufferSerializer, BytesSerializer): the bytes themselves. */
static int bytes_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic, (void)scratch;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_BYTES) return wrong_type(v, MK_VALUE_BYTES, err);
  return borrow(v->u.bytes.ptr, v->u.bytes.len, out, err);
}

static int short_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_SHORT) return wrong_type(v, MK_VALUE_SHORT, err);
  return write_be((uint16_t)v->u.i16, 2, out, scratch, err);
}

static int int_serialize(void *opaque, const char *topic, const struct mk_value *v,
                         struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_INT) return wrong_type(v, MK_VALUE_INT, err);
  return write_be((uint32_t)v->u.i32, 4, out, scratch, err);
}

static int long_serialize(void *opaque, const char *topic, const struct mk_value *v,
                          struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_LONG) return wrong_type(v, MK_VALUE_LONG, err);
  return write_be((uint64_t)v->u.i64, 8, out, scratch, err);
}

/* FloatSerializer uses Float.floatToRawIntBits: the bits as they are, NaN payload included. */
static int float_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_FLOAT) return wrong_type(v, MK_VALUE_FLOAT, err);
  uint32_t bits;
  memcpy(&bits, &v->u.f32, sizeof bits);
  return write_be(bits, 4, out, scratch, err);
}

/* DoubleSerializer uses Double.doubleToLongBits, which maps every NaN to 0x7ff8000000000000. */
static int double_serialize(void *opaque, const char *topic, const struct mk_value *v,
                            struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_DOUBLE) return wrong_type(v, MK_VALUE_DOUBLE, err);
  uint64_t bits;
  memcpy(&bits, &v->u.f64, sizeof bits);
  if (isnan(v->u.f64)) bits = UINT64_C(0x7ff8000000000000);
  return write_be(bits, 8, out, scratch, err);
}

static int boolean_serialize(void *opaque, const char *topic, const struct mk_value *v,
                             struct mk_bytes *out, struct mk_writer *scratch,
                             struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_BOOLEAN) return wrong_type(v, MK_VALUE_BOOLEAN, err);
  return write_be(v->u.boolean ? 1 : 0, 1, out, scratch, err);
}

/* UUIDSerializer writes UUID.toString(): 36 characters, lower-case hex, dashes at 8-4-4-4-12. */
static int uuid_serialize(void *opaque, const char *topic, const struct mk_value *v,
                          struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic;
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_UUID) return wrong_type(v, MK_VALUE_UUID, err);
  static const char hex[] = "0123456789abcdef";
  uint8_t *p = mk_writer_extend(scratch, 36);
  if (!p) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory serializing a UUID");
  uint8_t *q = p;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *q++ = '-';
    *q++ = (uint8_t)hex[v->u.uuid.b[i] >> 4];
    *q++ = (uint8_t)hex[v->u.uuid.b[i] & 15];
  }
  *out = (struct mk_bytes){p, 36};
  return 0;
}

/* VoidSerializer: Serializer<Void>, whose only value is null. */
static int void_serialize(void *opaque, const char *topic, const struct mk_value *v,
                          struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic, (void)scratch;
  if (v->type != MK_VALUE_NULL)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "can't convert a value of class %s to Void (only null is allowed)",
                      mk_value_type_name(v->type));
  *out = MK_BYTES_NULL;
  return 0;
}

#define BUILTIN(short_name, type, fn) \
  {short_name, JAVA_PACKAGE short_name, type, fn, NULL, NULL, NULL}

static const struct mk_serializer builtins[] = {
    BUILTIN("StringSerializer", MK_VALUE_STRING, string_serialize),
    BUILTIN("ByteArraySerializer", MK_VALUE_BYTES, bytes_serialize),
    BUILTIN("ByteBufferSerializer", MK_VALUE_BYTES, bytes_serialize),
    BUILTIN("BytesSerializer", MK_VALUE_BYTES, bytes_serialize),
    BUILTIN("ShortSerializer", MK_VALUE_SHORT, short_serialize),
    BUILTIN("IntegerSerializer", MK_VALUE_INT, int_serialize),
    BUILTIN("LongSerializer", MK_VALUE_LONG, long_serialize),
    BUILTIN("FloatSerializer", MK_VALUE_FLOAT, float_serialize),
    BUILTIN("DoubleSerializer", MK_VALUE_DOUBLE, double_serialize),
    BUILTIN("BooleanSerializer", MK_VALUE_BOOLEAN, boolean_serialize),
    BUILTIN("UUIDSerializer", MK_VALUE_UUID, uuid_serialize),
    BUILTIN("VoidSerializer", MK_VALUE_NULL, void_serialize),
};

#define NUM_BUILTINS (sizeof builtins / sizeof builtins[0])

/* Kafka's own, then Confluent's AvroSerializer (producer/avro_serializer.c). */
const struct mk_serializer *mk_serializer_builtin(int i) {
  if (i < 0 || (size_t)i > NUM_BUILTINS) return NULL;
  return (size_t)i < NUM_BUILTINS ? &builtins[i] : &mk_avro_serializer_builtin;
}

const struct mk_serializer *mk_serializer_find(const char *name) {
  if (!name) return NULL;
  for (int i = 0; mk_serializer_builtin(i); i++) {
    const struct mk_serializer *s = mk_serializer_builtin(i);
    if (strcmp(name, s->name) == 0 || strcmp(name, s->class_name) == 0) return s;
  }
  return NULL;
}

int mk_serializer_serialize(const struct mk_serializer *s, bool is_key, const char *topic,
                            const struct mk_value *data, struct mk_bytes *out,
                            struct mk_writer *scratch, struct mk_err *err) {
  struct mk_err inner;  /* empty, without zeroing all of it: this runs twice per send */
  inner.code = 0;
  inner.msg[0] = '\0';
  int rc = s->serialize(s->opaque, topic, data, out, scratch, &inner);
  if (rc == 0) return 0;
  *out = MK_BYTES_NULL;
  return mk_err_set(err, rc, "SerializationException: %s %s: %s",
                    is_key ? "key.serializer" : "value.serializer", s->name, inner.msg);
}

/* ---- text to values --------------------------------------------------------------------- */

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int mk_value_from_text(enum mk_value_type type, const char *text, size_t len,
                       struct mk_value *out, struct mk_err *err) {
  char buf[64];
  bool fits = len < sizeof buf;
  if (fits) {
    memcpy(buf, text, len);
    buf[len] = '\0';
  }
  char *end = NULL;
  switch (type) {
    case MK_VALUE_NULL:
      *out = mk_value_null();
      return 0;
    case MK_VALUE_BYTES:
      *out = mk_value_bytes(text, len);
      return 0;
    case MK_VALUE_STRING:
      *out = mk_value_stringn(text, len);
      return 0;
    case MK_VALUE_SHORT:
    case MK_VALUE_INT:
    case MK_VALUE_LONG: {
      int64_t lo = type == MK_VALUE_SHORT ? INT16_MIN
                   : type == MK_VALUE_INT ? INT32_MIN
                                          : INT64_MIN;
      int64_t hi = type == MK_VALUE_SHORT ? INT16_MAX
                   : type == MK_VALUE_INT ? INT32_MAX
                                          : INT64_MAX;
      errno = 0;
      long long v = fits && len ? strtoll(buf, &end, 10) : 0;
      if (!fits || !len || errno || *end || isspace((unsigned char)buf[0]) || v < lo || v > hi)
        break;
      if (type == MK_VALUE_SHORT) *out = mk_value_short((int16_t)v);
      else if (type == MK_VALUE_INT) *out = mk_value_int((int32_t)v);
      else *out = mk_value_long((int64_t)v);
      return 0;
    }
    case MK_VALUE_FLOAT:
    case MK_VALUE_DOUBLE: {
      if (!fits || !len || isspace((unsigned char)buf[0])) break;
      errno = 0;
      double d = strtod(buf, &end);
      if (*end) break;
      *out = type == MK_VALUE_FLOAT ? mk_value_float((float)d) : mk_value_double(d);
      return 0;
    }
    case MK_VALUE_BOOLEAN:
      if (fits && strcasecmp(buf, "true") == 0) return *out = mk_value_boolean(true), 0;
      if (fits && strcasecmp(buf, "false") == 0) return *out = mk_value_boolean(false), 0;
      break;
    case MK_VALUE_UUID: {
      if (len != 36) break;
      struct mk_uuid u;
      size_t pos = 0;
      bool ok = true;
      for (int i = 0; i < 16 && ok; i++) {
        if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ok = text[pos++] == '-';
        int hi = hex_digit(text[pos]), lo = hex_digit(text[pos + 1]);
        ok = ok && hi >= 0 && lo >= 0;
        u.b[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
      }
      if (!ok) break;
      *out = mk_value_uuid(u);
      return 0;
    }
    case MK_VALUE_OBJECT:
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "a custom object cannot be read from text; build it in C");
  }
  return mk_err_set(err, MK_ERR__INVALID_ARG, "cannot read \"%.*s\" as %s",
                    (int)(len > 60 ? 60 : len), text, mk_value_type_name(type));
}
