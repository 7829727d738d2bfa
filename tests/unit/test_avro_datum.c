/*
 * Tests for schemas/avro_datum.c: Avro's binary encoding byte for byte (as the
 * specification spells it out), JSON <-> Avro round trips in Avro's JSON encoding, errors
 * that name the field, the bounded check of binary input, and resolution to a reader schema
 * through avro-c's resolver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schemas/avro_compatibility.h"
#include "schemas/avro_datum.h"
#include "tests/support/schema_support.h"

static const char USER[] =
    "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"ex\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"age\",\"type\":\"int\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"phone\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"BLUE\"]}},"
    "{\"name\":\"raw\",\"type\":\"bytes\"},"
    "{\"name\":\"address\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
    "{\"name\":\"zip\",\"type\":\"string\"}]}],\"default\":null}]}";

/* Encode JSON as s, compare the bytes, decode them back and compare the JSON. */
static void expect_round_trip(struct mk_avro_schema *s, const char *json, const void *bytes,
                              size_t n, const char *json_back) {
  avro_value_t v;
  struct mk_err err = {0};
  if (mk_avro_json_to_value(s, json, strlen(json), &v, &err)) fail_msg("%s: %s", json, err.msg);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_avro_value_encode(&v, &w, &err), 0);
  avro_value_decref(&v);
  if (w.len != n || memcmp(w.buf, bytes, n) != 0) {
    char hex[400] = "";
    for (size_t i = 0; i < w.len && i < 100; i++) sprintf(hex + 3 * i, "%02x ", w.buf[i]);
    fail_msg("%s encoded as %s", json, hex);
  }
  char *back = NULL;
  assert_int_equal(mk_avro_binary_to_json(s, NULL, w.buf, w.len, &back, &err), 0);
  assert_string_equal(back, json_back ? json_back : json);
  free(back);
  mk_writer_free(&w);
}

static void test_binary_encoding_byte_for_byte(void **state) {
  (void)state;
  struct mk_avro_schema *s = parse_schema(USER);
  /* name "Ann": length 3 zigzag = 06; age 30 = 3c; tags: block of 2, "a", "bc", end;
   * phone: branch 1 (long) 02, 5 = 0a; color BLUE = 02; raw: 2 bytes 00 ff; address: null
   * branch 00 */
  static const uint8_t want[] = {0x06, 'A',  'n',  'n',  0x3c, 0x04, 0x02, 'a',  0x04,
                                 'b',  'c',  0x00, 0x02, 0x0a, 0x02, 0x04, 0x00, 0xff, 0x00};
  expect_round_trip(s,
                    "{\"name\":\"Ann\",\"age\":30,\"tags\":[\"a\",\"bc\"],\"phone\":{\"long\":5},"
                    "\"color\":\"BLUE\",\"raw\":\"\\u0000\\u00ff\",\"address\":null}",
                    want, sizeof want,
                    "{\"name\":\"Ann\",\"age\":30,\"tags\":[\"a\",\"bc\"],\"phone\":{\"long\":5},"
                    "\"color\":\"BLUE\",\"raw\":\"\\u0000\xc3\xbf\",\"address\":null}");
  /* a named branch is written by its full name; a left-out field takes its default */
  static const uint8_t want2[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, '9'};
  expect_round_trip(s,
                    "{\"name\":\"\",\"age\":0,\"tags\":[],\"color\":\"RED\",\"raw\":\"\","
                    "\"address\":{\"ex.Address\":{\"zip\":\"9\"}}}",
                    want2, sizeof want2,
                    "{\"name\":\"\",\"age\":0,\"tags\":[],\"phone\":null,\"color\":\"RED\","
                    "\"raw\":\"\",\"address\":{\"ex.Address\":{\"zip\":\"9\"}}}");
  mk_avro_schema_free(s);

  /* primitives at the top level; -1 is zigzag 01; doubles little-endian */
  struct mk_avro_schema *l = parse_schema("\"long\"");
  expect_round_trip(l, "-1", "\x01", 1, NULL);
  expect_round_trip(l, "9223372036854775807", "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, NULL);
  mk_avro_schema_free(l);
  struct mk_avro_schema *d = parse_schema("\"double\"");
  expect_round_trip(d, "1.5", "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8, NULL);
  expect_round_trip(d, "\"NaN\"", "\x00\x00\x00\x00\x00\x00\xf8\x7f", 8, NULL);
  mk_avro_schema_free(d);
  struct mk_avro_schema *m = parse_schema("{\"type\":\"map\",\"values\":\"boolean\"}");
  expect_round_trip(m, "{\"k\":true}", "\x02\x02k\x01\x00", 5, NULL);
  mk_avro_schema_free(m);
}

static void expect_refused(struct mk_avro_schema *s, const char *json, const char *why) {
  avro_value_t v;
  struct mk_err err = {0};
  if (mk_avro_json_to_value(s, json, strlen(json), &v, &err) == 0) fail_msg("accepted %s", json);
  assert_int_equal(err.code, MK_ERR__INVALID_ARG);
  assert_null(v.self);
  assert_contains(err.msg, why);
}

/* A value that does not match the schema is refused, and the message names the field. */
static void test_json_errors_name_the_field(void **state) {
  (void)state;
  struct mk_avro_schema *s = parse_schema(USER);
  /* each: the fields after name/age (or all of them), and what the message must say */
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"{\"name\":\"A\",\"age\":\"x\",%s}", "field 'age': expected an int (32 bits), got a string \"x\""},
      {"{\"name\":\"A\",\"age\":3000000000,%s}", "field 'age': expected an int"},
      {"{\"age\":1,%s}", "field 'name': missing, and it has no default"},
      {"{\"name\":\"A\",\"age\":1,\"nick\":\"a\",%s}", "record ex.User has no field 'nick'"},
      {"{\"name\":\"A\",\"age\":1,\"tags\":[\"a\",2],\"color\":\"RED\",\"raw\":\"\"}",
       "field 'tags[1]': expected a string, got an integer 2"},
      {"{\"name\":\"A\",\"age\":1,\"color\":\"GREEN\",\"tags\":[],\"raw\":\"\"}",
       "field 'color': \"GREEN\" is not a symbol of enum ex.Color"},
      {"{\"name\":\"A\",\"age\":1,\"phone\":5,%s}", "field 'phone': expected a union value"},
      {"{\"name\":\"A\",\"age\":1,\"phone\":{\"int\":5},%s}",
       "the union has no branch \"int\" (it has null, long)"},
      {"{\"name\":\"A\",\"age\":1,\"address\":{\"ex.Address\":{\"zip\":1}},%s}",
       "field 'address.zip': expected a string"},
      {"{\"name\":\"A\",\"age\":1,\"tags\":[],\"color\":\"RED\",\"raw\":\"\\u0100\"}",
       "field 'raw': a character above U+00FF"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[512];
    snprintf(json, sizeof json, bad[i].json, "\"tags\":[],\"color\":\"RED\",\"raw\":\"\"");
    expect_refused(s, json, bad[i].why);
  }
  expect_refused(s, "[1,2]", "the value: expected an object (record)");
  expect_refused(s, "{\"name\":", "not JSON");
  mk_avro_schema_free(s);
  struct mk_avro_schema *f = parse_schema("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}");
  expect_refused(f, "\"abc\"", "expected 2 bytes for fixed F, got 3");
  mk_avro_schema_free(f);
}

static void expect_bad_binary(struct mk_avro_schema *s, const void *bytes, size_t n,
                              const char *why) {
  char *json = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_avro_binary_to_json(s, NULL, bytes, n, &json, &err), MK_ERR__DECODE);
  assert_null(json);
  assert_contains(err.msg, why);
}

/* Hostile bytes never reach avro-c: lengths beyond the buffer, endless blocks, bad indexes. */
static void test_binary_input_is_checked_first(void **state) {
  (void)state;
  static const struct {
    const char *schema, *bytes;
    size_t n;
    const char *why;
  } bad[] = {
      /* a length of 2^40 bytes */
      {"\"string\"", "\x80\x80\x80\x80\x80\x40", 6, "a string of 1099511627776 bytes, but 0 remain"},
      {"\"string\"", "\x02xy", 3, "1 bytes left over after the value"},
      {"\"string\"", "", 0, "buffer ended"},
      /* one block claiming 2^40 nulls: nothing to read per item, so only the count stops it */
      {"{\"type\":\"array\",\"items\":\"null\"}", "\x80\x80\x80\x80\x80\x40\x00", 7,
       "more than 1048576 array or map items"},
      {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\x02", 1, "enum E has no symbol 1"},
      {"[\"null\",\"int\"]", "\x04", 1, "the union has no branch 2"},
      {"\"boolean\"", "\x02", 1, "a boolean byte 0x02"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct mk_avro_schema *s = parse_schema(bad[i].schema);
    expect_bad_binary(s, bad[i].bytes, bad[i].n, bad[i].why);
    mk_avro_schema_free(s);
  }
  /* a recursive schema with data nested deeper than allowed */
  struct mk_avro_schema *list = parse_schema("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":"
                                      "\"next\",\"type\":[\"null\",\"L\"]}]}");
  uint8_t deep[400];
  memset(deep, 0x02, sizeof deep);
  deep[sizeof deep - 1] = 0x00;
  expect_bad_binary(list, deep, sizeof deep, "nested more than 256 deep");
  char *json = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_avro_binary_to_json(list, NULL, deep + 390, 10, &json, &err), 0);
  assert_string_equal(json, "{\"next\":{\"L\":{\"next\":{\"L\":{\"next\":{\"L\":{\"next\":{\"L\":"
                            "{\"next\":{\"L\":{\"next\":{\"L\":{\"next\":{\"L\":{\"next\":{\"L\":"
                            "{\"next\":{\"L\":{\"next\":null}}}}}}}}}}}}}}}}}}}");
  free(json);
  mk_avro_schema_free(list);
}

/* Reading with a reader schema: avro-c's resolver turns the writer's data into the reader's,
 * where avro-c can; where it cannot (a default to fill), the error says so. */
static void test_resolution_to_a_reader_schema(void **state) {
  (void)state;
  struct mk_avro_schema *writer = parse_schema(
      "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},"
      "{\"name\":\"email\",\"type\":\"string\"},{\"name\":\"c\",\"type\":{\"type\":\"enum\","
      "\"name\":\"C\",\"symbols\":[\"A\",\"B\"]}}]}");
  struct mk_avro_schema *old_reader = parse_schema(
      "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"
      "{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"C\",\"symbols\":[\"A\",\"B\",\"Z\"]}}]}");
  const char *json = "{\"id\":7,\"email\":\"a@b\",\"c\":\"B\"}";
  avro_value_t v;
  struct mk_err err = {0};
  assert_int_equal(mk_avro_json_to_value(writer, json, strlen(json), &v, &err), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_avro_value_encode(&v, &w, &err), 0);
  avro_value_decref(&v);
  char *out = NULL;
  assert_int_equal(mk_avro_binary_to_json(writer, old_reader, w.buf, w.len, &out, &err), 0);
  assert_string_equal(out, "{\"id\":7,\"c\":\"B\"}");  /* email dropped, int read as long */
  free(out);

  /* Avro would fill "nick" from its default; avro-c 1.11 cannot, and says so */
  struct mk_avro_schema *new_reader = parse_schema(
      "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},"
      "{\"name\":\"nick\",\"type\":\"string\",\"default\":\"\"}]}");
  assert_true(mk_avro_can_read(new_reader, writer, "reader", "writer", NULL));
  assert_int_equal(mk_avro_binary_to_json(writer, new_reader, w.buf, w.len, &out, &err),
                   MK_ERR__UNSUPPORTED);
  assert_contains(err.msg, "avro-c 1.11 cannot fill a field from its default");
  /* symbols in another order: Avro maps them by name, avro-c by position, so it is refused */
  struct mk_avro_schema *swapped = parse_schema(
      "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"c\",\"type\":{\"type\":"
      "\"enum\",\"name\":\"C\",\"symbols\":[\"B\",\"A\"]}}]}");
  assert_true(mk_avro_can_read(swapped, writer, "reader", "writer", NULL));
  assert_int_equal(mk_avro_binary_to_json(writer, swapped, w.buf, w.len, &out, &err),
                   MK_ERR__UNSUPPORTED);
  /* an incompatible reader is refused before avro-c's resolver (which can crash on one) */
  struct mk_avro_schema *wrong = parse_schema("{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":"
                                       "\"id\",\"type\":{\"type\":\"array\",\"items\":\"int\"}}]}");
  assert_int_equal(mk_avro_binary_to_json(writer, wrong, w.buf, w.len, &out, &err),
                   MK_ERR__UNSUPPORTED);
  mk_writer_free(&w);
  struct mk_avro_schema *all[] = {writer, old_reader, new_reader, swapped, wrong};
  for (int i = 0; i < 5; i++) mk_avro_schema_free(all[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_encoding_byte_for_byte),
      cmocka_unit_test(test_json_errors_name_the_field),
      cmocka_unit_test(test_binary_input_is_checked_first),
      cmocka_unit_test(test_resolution_to_a_reader_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
