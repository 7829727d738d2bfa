/*
 * Tests for schemas/avro_schema.c: the canonical text (what makes "the same schema" the same
 * to the registry), the normalized text, and the checks Avro's Java parser makes that avro-c
 * skips (each invalid schema must be refused with a message naming the problem).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schemas/avro_schema.h"
#include "tests/support/schema_support.h"

static struct mk_avro_schema *parse(const char *text, bool normalize) {
  struct mk_avro_schema *s = NULL;
  struct mk_err err = {0};
  if (mk_avro_schema_parse(text, strlen(text), normalize, &s, &err))
    fail_msg("refused %s: %s", text, err.msg);
  return s;
}

static void expect_canonical(const char *text, const char *want) {
  struct mk_avro_schema *s = parse(text, false);
  assert_string_equal(s->canonical, want);
  mk_avro_schema_free(s);
}

static void expect_normalized(const char *text, const char *want) {
  struct mk_avro_schema *s = parse(text, true);
  assert_string_equal(s->canonical, want);
  assert_string_equal(s->normalized, want);
  mk_avro_schema_free(s);
}

static void expect_refused(const char *text, const char *why) {
  struct mk_avro_schema *s = NULL;
  struct mk_err err = {0};
  int rc = mk_avro_schema_parse(text, strlen(text), false, &s, &err);
  if (rc == 0) fail_msg("accepted %s", text);
  assert_int_equal(rc, MK_ERR__INVALID_ARG);
  assert_null(s);
  assert_contains(err.msg, why);
}

/* Whitespace, key order and {"type": "int"} for "int" do not change the canonical text, which
 * follows Java's Schema.toString() layout. */
static void test_canonical_text_is_javas_layout(void **state) {
  (void)state;
  expect_canonical("\"int\"", "\"int\"");
  expect_canonical("{\"type\": \"string\"}", "\"string\"");
  expect_canonical(" { \"fields\" : [ {\"type\": {\"type\": \"long\"}, \"name\": \"id\"} ],\n"
                   "   \"name\": \"User\", \"type\": \"record\", \"namespace\": \"com.example\" }",
                   "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.example\","
                   "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
  /* a full name in "name" becomes name + namespace; a reference in the same namespace is
   * written short; doc, default and aliases keep Java's places */
  expect_canonical(
      "{\"type\":\"record\",\"name\":\"com.example.Node\",\"doc\":\"a list\",\"aliases\":"
      "[\"com.example.Old\"],\"fields\":[{\"name\":\"next\",\"default\":null,"
      "\"type\":[\"null\",\"com.example.Node\"],\"doc\":\"more\"},{\"name\":\"e\",\"type\":"
      "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}}]}",
      "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"com.example\",\"doc\":\"a list\","
      "\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"doc\":\"more\","
      "\"default\":null},{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
      "\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}}],\"aliases\":[\"Old\"]}");
  /* a logical type is a property: the primitive keeps its object form */
  expect_canonical("{\"type\":\"int\",\"logicalType\":\"date\"}",
                   "{\"type\":\"int\",\"logicalType\":\"date\"}");
  /* a nested type in another namespace names it; a reference from there is written full */
  expect_canonical(
      "{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"x\",\"type\":{\"type\":"
      "\"fixed\",\"name\":\"b.F\",\"size\":4}},{\"name\":\"y\",\"type\":\"b.F\"}]}",
      "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":[{\"name\":\"x\","
      "\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":\"b\",\"size\":4}},"
      "{\"name\":\"y\",\"type\":\"b.F\"}]}");
}

/* ?normalize=true: full names everywhere, no namespace keys, "order" on every field, aliases
 * sorted, custom properties sorted (Confluent's AvroSchemaUtils.toNormalizedString). */
static void test_normalized_text(void **state) {
  (void)state;
  expect_normalized(
      "{\"namespace\":\"n\",\"type\":\"record\",\"name\":\"R\",\"zz\":1,\"aa\":2,\"aliases\":"
      "[\"Y\",\"X\"],\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"default\":1},"
      "{\"name\":\"me\",\"type\":[\"null\",\"R\"]}]}",
      "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
      "\"order\":\"ascending\",\"default\":1},{\"name\":\"me\",\"type\":[\"null\",\"n.R\"],"
      "\"order\":\"ascending\"}],\"aliases\":[\"n.X\",\"n.Y\"],\"aa\":2,\"zz\":1}");
  expect_normalized("{\"type\":\"bytes\",\"scale\":0,\"precision\":4,\"logicalType\":\"decimal\"}",
                    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4}");
}

/* What Java's parser refuses and avro-c 1.11 would accept (or leak on). */
static void test_invalid_schemas_are_refused_with_the_reason(void **state) {
  (void)state;
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "\"int\"},{\"name\":\"x\",\"type\":\"long\"}]}", "duplicate field 'x'");
  expect_refused("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                 "duplicate symbol A");
  expect_refused("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"1B\"]}",
                 "symbol 1 is not a valid name");
  expect_refused("[\"int\",\"int\"]", "union has int twice");
  expect_refused("[\"null\",[\"int\"]]", "a union may not contain a union");
  expect_refused("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "\"size\"");
  expect_refused("{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}", "named after a primitive");
  expect_refused("{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "not a valid record name");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a-b\",\"type\":"
                 "\"int\"}]}", "not a valid field name");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}}]}", "R is defined twice");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"n\",\"type\":"
                 "\"Nope\"}]}", "\"Nope\" is not a type defined before its use");
  expect_refused("{\"type\":\"map\"}", "needs \"values\"");
  expect_refused("{\"type\":\"record\",\"name\":\"R\"}", "no \"fields\" array");
  expect_refused("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
                 "not one of its symbols");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "\"int\",\"order\":\"up\"}]}", "order");
  expect_refused("not json", "not JSON");
  expect_refused("{\"name\":\"x\"}", "no \"type\" name");
  expect_refused("42", "42 is not a schema");
  /* no finite value (Java accepts these; avro-c would recurse forever making a value) */
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"me\",\"type\":"
                 "\"R\"}]}", "record R contains itself with no way out");
  expect_refused("[]", "a union with no branches");
}

/* Defaults are checked against their field's type, a union's against its first branch. */
static void test_defaults_must_match_their_type(void **state) {
  (void)state;
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"age\",\"type\":"
                 "\"int\",\"default\":\"x\"}]}",
                 "field 'age' of record R: default \"x\" is not an int");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "\"int\",\"default\":3000000000}]}", "not an int");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "[\"null\",\"string\"],\"default\":\"x\"}]}", "first branch");
  expect_refused("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "{\"type\":\"array\",\"items\":\"long\"},\"default\":[1,\"2\"]}]}", "not an array");
  struct mk_avro_schema *s = parse(
      "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
      "{\"name\":\"a\",\"type\":[\"null\",\"string\"],\"default\":null},"
      "{\"name\":\"b\",\"type\":\"double\",\"default\":1},"
      "{\"name\":\"c\",\"type\":{\"type\":\"map\",\"values\":\"int\"},\"default\":{\"k\":1}},"
      "{\"name\":\"d\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]},"
      "\"default\":\"X\"}]}",
      false);
  assert_int_equal(s->root->num_fields, 4);
  assert_true(json_is_null(s->root->fields[0].default_value));
  assert_int_equal(s->root->fields[3].type->kind, MK_AVRO_ENUM);
  assert_non_null(s->avro);  /* avro-c parsed it too */
  assert_int_equal(avro_typeof(s->avro), AVRO_RECORD);
  mk_avro_schema_free(s);
}

/* A recursive schema is a cyclic graph (the field points back at its record), and avro-c
 * reads it too. */
static void test_recursive_schema(void **state) {
  (void)state;
  struct mk_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                                   "{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"next\","
                                   "\"type\":[\"null\",\"Node\"]}]}", false);
  const struct mk_avro_type *next = s->root->fields[1].type;
  assert_int_equal(next->kind, MK_AVRO_UNION);
  assert_ptr_equal(next->branches[1], s->root);
  assert_string_equal(mk_avro_type_branch_name(next->branches[1]), "Node");
  assert_string_equal(mk_avro_type_branch_name(next->branches[0]), "null");
  mk_avro_schema_free(s);
}

static void test_size_and_depth_limits(void **state) {
  (void)state;
  size_t n = MK_AVRO_SCHEMA_MAX_BYTES + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  big[0] = '"', memcpy(big + 1, "int\"", 4);
  struct mk_avro_schema *s = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_avro_schema_parse(big, n, false, &s, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "more than the 1048576 allowed");
  /* just under the limit is fine */
  assert_int_equal(mk_avro_schema_parse(big, n - 1, false, &s, &err), 0);
  mk_avro_schema_free(s);
  free(big);

  char deep[4096] = "";
  for (int i = 0; i < 70; i++) strcat(deep, "{\"type\":\"array\",\"items\":");
  strcat(deep, "\"int\"");
  for (int i = 0; i < 70; i++) strcat(deep, "}");
  expect_refused(deep, "nest more than 64 deep");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical_text_is_javas_layout),
      cmocka_unit_test(test_normalized_text),
      cmocka_unit_test(test_invalid_schemas_are_refused_with_the_reason),
      cmocka_unit_test(test_defaults_must_match_their_type),
      cmocka_unit_test(test_recursive_schema),
      cmocka_unit_test(test_size_and_depth_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
