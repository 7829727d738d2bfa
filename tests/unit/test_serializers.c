/*
 * Tests for producer/serializers.c: the bytes of every built-in (as Java writes them), null
 * handling, lookup by Kafka's class names, SerializationException-like errors, a custom
 * serializer, and reading values from text.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "producer/serializers.h"

static void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle)) fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Serialize v with the built-in `name` and compare with the expected bytes. */
static void expect_bytes(const char *name, struct mk_value v, const void *want, int32_t len) {
  const struct mk_serializer *s = mk_serializer_find(name);
  assert_non_null(s);
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  struct mk_bytes out;
  struct mk_err err = {0};
  int rc = mk_serializer_serialize(s, false, "t", &v, &out, &scratch, &err);
  if (rc) fail_msg("%s: %s", name, err.msg);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.ptr, want, (size_t)len);
  mk_writer_free(&scratch);
}

static void test_numbers_are_big_endian_as_in_java(void **state) {
  (void)state;
  expect_bytes("ShortSerializer", mk_value_short(0x1234), "\x12\x34", 2);
  expect_bytes("ShortSerializer", mk_value_short(-2), "\xff\xfe", 2);
  expect_bytes("IntegerSerializer", mk_value_int(1), "\x00\x00\x00\x01", 4);
  expect_bytes("IntegerSerializer", mk_value_int(-1), "\xff\xff\xff\xff", 4);
  expect_bytes("IntegerSerializer", mk_value_int(INT32_MIN), "\x80\x00\x00\x00", 4);
  expect_bytes("IntegerSerializer", mk_value_int(0x01020304), "\x01\x02\x03\x04", 4);
  expect_bytes("LongSerializer", mk_value_long(0x0102030405060708LL),
               "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  expect_bytes("LongSerializer", mk_value_long(-2), "\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
  expect_bytes("FloatSerializer", mk_value_float(1.5f), "\x3f\xc0\x00\x00", 4);
  expect_bytes("FloatSerializer", mk_value_float(-0.0f), "\x80\x00\x00\x00", 4);
  expect_bytes("DoubleSerializer", mk_value_double(1.5), "\x3f\xf8\x00\x00\x00\x00\x00\x00", 8);
  expect_bytes("DoubleSerializer", mk_value_double(-2.0), "\xc0\x00\x00\x00\x00\x00\x00\x00", 8);
  expect_bytes("BooleanSerializer", mk_value_boolean(true), "\x01", 1);
  expect_bytes("BooleanSerializer", mk_value_boolean(false), "\x00", 1);
}

/* Float keeps a NaN's bits (floatToRawIntBits); Double makes every NaN 0x7ff8...
 * (doubleToLongBits). */
static void test_nan_bits_follow_java(void **state) {
  (void)state;
  uint32_t fbits = 0x7fc00123;
  float f;
  memcpy(&f, &fbits, sizeof f);
  expect_bytes("FloatSerializer", mk_value_float(f), "\x7f\xc0\x01\x23", 4);
  uint64_t dbits = UINT64_C(0x7ff0000000000123);
  double d;
  memcpy(&d, &dbits, sizeof d);
  assert_true(isnan(d));
  expect_bytes("DoubleSerializer", mk_value_double(d), "\x7f\xf8\x00\x00\x00\x00\x00\x00", 8);
}

static void test_strings_and_bytes_pass_through_without_a_copy(void **state) {
  (void)state;
  const char *text = "h\xc3\xa9llo \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xf0\x9f\x98\x80";
  struct mk_value v = mk_value_string(text);
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("StringSerializer"), false, "t", &v,
                                           &out, &scratch, &err), 0);
  assert_ptr_equal(out.ptr, text);
  assert_int_equal(out.len, (int32_t)strlen(text));
  assert_int_equal(scratch.len, 0);
  static const uint8_t raw[] = {0, 1, 0xff, 0x80};
  const char *names[] = {"ByteArraySerializer", "ByteBufferSerializer", "BytesSerializer"};
  for (int i = 0; i < 3; i++) {
    v = mk_value_bytes(raw, sizeof raw);
    assert_int_equal(mk_serializer_serialize(mk_serializer_find(names[i]), true, "t", &v, &out,
                                             &scratch, &err), 0);
    assert_ptr_equal(out.ptr, raw);
    assert_int_equal(out.len, 4);
  }
  /* an empty string is not null */
  v = mk_value_string("");
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("StringSerializer"), true, "t", &v,
                                           &out, &scratch, &err), 0);
  assert_int_equal(out.len, 0);
  mk_writer_free(&scratch);
}

static void test_uuid_is_written_as_its_string(void **state) {
  (void)state;
  struct mk_uuid u = {{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66,
                       0x14, 0x17, 0x40, 0x00}};
  expect_bytes("UUIDSerializer", mk_value_uuid(u), "123e4567-e89b-12d3-a456-426614174000", 36);
  struct mk_value v;
  struct mk_err err = {0};
  assert_int_equal(mk_value_from_text(MK_VALUE_UUID, "123E4567-E89B-12D3-A456-426614174000", 36,
                                      &v, &err), 0);
  assert_memory_equal(v.u.uuid.b, u.b, 16);
}

/* Every built-in turns null into null (a null key: no key; a null value: a tombstone). */
static void test_null_in_null_out(void **state) {
  (void)state;
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  struct mk_value v = mk_value_null();
  int n = 0;
  for (const struct mk_serializer *s; (s = mk_serializer_builtin(n)); n++) {
    struct mk_bytes out = {(const uint8_t *)"x", 1};
    struct mk_err err = {0};
    assert_int_equal(mk_serializer_serialize(s, false, "t", &v, &out, &scratch, &err), 0);
    assert_int_equal(out.len, -1);
  }
  assert_int_equal(n, 13);  /* Kafka's 12, and AvroSerializer */
  assert_int_equal(mk_value_string(NULL).type, MK_VALUE_NULL);
  mk_writer_free(&scratch);
}

static void test_found_by_short_and_full_java_names(void **state) {
  (void)state;
  const char *shorts[] = {"StringSerializer", "ByteArraySerializer", "ByteBufferSerializer",
                          "BytesSerializer", "ShortSerializer", "IntegerSerializer",
                          "LongSerializer", "FloatSerializer", "DoubleSerializer",
                          "BooleanSerializer", "UUIDSerializer", "VoidSerializer"};
  for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
    char full[128];
    snprintf(full, sizeof full, "org.apache.kafka.common.serialization.%s", shorts[i]);
    const struct mk_serializer *s = mk_serializer_find(shorts[i]);
    assert_non_null(s);
    assert_ptr_equal(mk_serializer_find(full), s);
    assert_string_equal(s->name, shorts[i]);
    assert_string_equal(s->class_name, full);
  }
  assert_null(mk_serializer_find("stringserializer"));
  /* Confluent's, found by its own class name (producer/avro_serializer.h) */
  assert_ptr_equal(mk_serializer_find("io.confluent.kafka.serializers.KafkaAvroSerializer"),
                   mk_serializer_find("AvroSerializer"));
  assert_non_null(mk_serializer_find("AvroSerializer")->configure);
  assert_null(mk_serializer_find(NULL));
  assert_null(mk_serializer_builtin(-1));
}

/* The C twin of a ClassCastException: a SerializationException naming config, serializer,
 * the class that came and the one expected. */
static void test_wrong_type_is_a_serialization_error(void **state) {
  (void)state;
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  struct mk_bytes out;
  struct mk_err err = {0};
  struct mk_value v = mk_value_bytes("\x00\x00\x01", 3);
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("IntegerSerializer"), false, "t",
                                           &v, &out, &scratch, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "SerializationException: value.serializer IntegerSerializer: "
                               "can't convert a value of class byte[] (3 bytes) to Integer");
  assert_int_equal(out.len, -1);
  v = mk_value_string("42");
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("LongSerializer"), true, "t", &v,
                                           &out, &scratch, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "key.serializer LongSerializer");
  assert_contains(err.msg, "class String (2 bytes) to Long");
  v = mk_value_int(7);
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("StringSerializer"), true, "t", &v,
                                           &out, &scratch, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "can't convert a value of class Integer to String");
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("VoidSerializer"), false, "t", &v,
                                           &out, &scratch, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "VoidSerializer");
  assert_contains(err.msg, "only null");
  v = mk_value_short(1);
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("IntegerSerializer"), false, "t",
                                           &v, &out, &scratch, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "class Short to Integer");
  mk_writer_free(&scratch);
}

static void test_string_must_be_utf8(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
    long at;
  } bad[] = {
      {"ab\xff", 3, 2},              /* never valid */
      {"\xc0\x80", 2, 0},            /* overlong NUL */
      {"x\xed\xa0\x80", 4, 1},       /* a UTF-16 surrogate */
      {"\xe2\x82", 2, 0},            /* cut short */
      {"\xf4\x90\x80\x80", 4, 0},    /* above U+10FFFF */
      {"ok\x80", 3, 2},              /* a lone continuation byte */
  };
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct mk_value v = mk_value_stringn(bad[i].bytes, bad[i].len);
    struct mk_bytes out;
    struct mk_err err = {0};
    assert_int_equal(mk_serializer_serialize(mk_serializer_find("StringSerializer"), false, "t",
                                             &v, &out, &scratch, &err), MK_ERR__INVALID_ARG);
    char where[32];
    snprintf(where, sizeof where, "at offset %ld", bad[i].at);
    assert_contains(err.msg, "value.serializer StringSerializer: the String is not valid UTF-8");
    assert_contains(err.msg, where);
  }
  mk_writer_free(&scratch);
}

/* Key and value into separate scratch writers: both outputs stay valid. */
static void test_scratch_output_stays_valid(void **state) {
  (void)state;
  struct mk_writer ks, vs;
  mk_writer_init(&ks);
  mk_writer_init(&vs);
  struct mk_value k = mk_value_int(7), v = mk_value_long(9);
  struct mk_bytes kout, vout;
  struct mk_err err = {0};
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("IntegerSerializer"), true, "t", &k,
                                           &kout, &ks, &err), 0);
  assert_int_equal(mk_serializer_serialize(mk_serializer_find("LongSerializer"), false, "t", &v,
                                           &vout, &vs, &err), 0);
  assert_memory_equal(kout.ptr, "\x00\x00\x00\x07", 4);
  assert_memory_equal(vout.ptr, "\x00\x00\x00\x00\x00\x00\x00\x09", 8);
  mk_writer_free(&ks);
  mk_writer_free(&vs);
}

/* ---- a custom serializer ---------------------------------------------------------------- */

struct point {
  int x, y;
};

static int point_calls;

static int point_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  point_calls++;
  assert_string_equal(opaque, "opaque");
  assert_string_equal(topic, "points");
  if (v->type == MK_VALUE_NULL) return *out = MK_BYTES_NULL, 0;
  if (v->type != MK_VALUE_OBJECT || v->u.bytes.len != sizeof(struct point))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "expected a struct point");
  const struct point *p = v->u.bytes.ptr;
  char text[32];
  int n = snprintf(text, sizeof text, "%d,%d", p->x, p->y);
  size_t at = scratch->len;
  mk_write_raw(scratch, text, (size_t)n);
  if (scratch->failed) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  *out = (struct mk_bytes){scratch->buf + at, n};
  return 0;
}

static void test_custom_serializer(void **state) {
  (void)state;
  char opaque[] = "opaque";
  const struct mk_serializer point_serializer = {.name = "PointSerializer",
                                                 .input = MK_VALUE_OBJECT,
                                                 .serialize = point_serialize,
                                                 .opaque = opaque};
  struct mk_writer scratch;
  mk_writer_init(&scratch);
  mk_write_raw(&scratch, "junk", 4);  /* output lands after what is already there */
  struct point p = {3, -4};
  struct mk_value v = mk_value_object(&p, sizeof p);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(mk_serializer_serialize(&point_serializer, false, "points", &v, &out, &scratch,
                                           &err), 0);
  assert_int_equal(out.len, 4);
  assert_memory_equal(out.ptr, "3,-4", 4);
  v = mk_value_int(1);
  assert_int_equal(mk_serializer_serialize(&point_serializer, true, "points", &v, &out, &scratch,
                                           &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "SerializationException: key.serializer PointSerializer: expected "
                               "a struct point");
  assert_int_equal(point_calls, 2);
  mk_writer_free(&scratch);
}

/* ---- values from text ------------------------------------------------------------------- */

static void test_values_from_text(void **state) {
  (void)state;
  struct mk_value v;
  struct mk_err err = {0};
  assert_int_equal(mk_value_from_text(MK_VALUE_INT, "42", 2, &v, &err), 0);
  assert_int_equal(v.type, MK_VALUE_INT);
  assert_int_equal(v.u.i32, 42);
  assert_int_equal(mk_value_from_text(MK_VALUE_INT, "-2147483648", 11, &v, &err), 0);
  assert_int_equal(v.u.i32, INT32_MIN);
  assert_int_equal(mk_value_from_text(MK_VALUE_SHORT, "-32768", 6, &v, &err), 0);
  assert_int_equal(v.u.i16, -32768);
  assert_int_equal(mk_value_from_text(MK_VALUE_LONG, "9223372036854775807", 19, &v, &err), 0);
  assert_int_equal(v.u.i64, INT64_MAX);
  assert_int_equal(mk_value_from_text(MK_VALUE_DOUBLE, "1e3", 3, &v, &err), 0);
  assert_true(v.u.f64 == 1000.0);
  assert_int_equal(mk_value_from_text(MK_VALUE_FLOAT, "0.5", 3, &v, &err), 0);
  assert_true(v.u.f32 == 0.5f);
  assert_int_equal(mk_value_from_text(MK_VALUE_BOOLEAN, "TRUE", 4, &v, &err), 0);
  assert_true(v.u.boolean);
  assert_int_equal(mk_value_from_text(MK_VALUE_STRING, "hello", 3, &v, &err), 0);
  assert_int_equal(v.u.bytes.len, 3);

  static const struct {
    enum mk_value_type type;
    const char *text;
  } bad[] = {
      {MK_VALUE_INT, "abc"},         {MK_VALUE_INT, "2147483648"}, {MK_VALUE_INT, " 5"},
      {MK_VALUE_INT, "5 "},          {MK_VALUE_INT, ""},           {MK_VALUE_SHORT, "32768"},
      {MK_VALUE_LONG, "1.0"},        {MK_VALUE_DOUBLE, "x1"},      {MK_VALUE_BOOLEAN, "yes"},
      {MK_VALUE_UUID, "123e4567"},   {MK_VALUE_UUID, "123e4567-e89b-12d3-a456-42661417400g"},
      {MK_VALUE_OBJECT, "{}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = mk_value_from_text(bad[i].type, bad[i].text, strlen(bad[i].text), &v, &err);
    if (rc != MK_ERR__INVALID_ARG) fail_msg("\"%s\" was accepted", bad[i].text);
  }
  assert_int_equal(mk_value_from_text(MK_VALUE_INT, "abc", 3, &v, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "cannot read \"abc\" as Integer");
  assert_string_equal(mk_value_type_name(MK_VALUE_BYTES), "byte[]");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers_are_big_endian_as_in_java),
      cmocka_unit_test(test_nan_bits_follow_java),
      cmocka_unit_test(test_strings_and_bytes_pass_through_without_a_copy),
      cmocka_unit_test(test_uuid_is_written_as_its_string),
      cmocka_unit_test(test_null_in_null_out),
      cmocka_unit_test(test_found_by_short_and_full_java_names),
      cmocka_unit_test(test_wrong_type_is_a_serialization_error),
      cmocka_unit_test(test_string_must_be_utf8),
      cmocka_unit_test(test_scratch_output_stays_valid),
      cmocka_unit_test(test_custom_serializer),
      cmocka_unit_test(test_values_from_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
