/*
 * Tests for schemas/avro_compatibility.c: every compatibility level on a table of schema
 * changes. The expected answers follow Confluent's documented summary ("Schema Evolution
 * and Compatibility"): BACKWARD allows deleting fields and adding fields with defaults,
 * FORWARD allows adding fields and deleting fields with defaults, FULL only the changes both
 * allow, NONE anything; plus Avro's resolution rules for promotions, enums, unions, names.
 * Where avro-c's own resolver applies (no defaults, enum symbols or writer unions involved)
 * its verdict is checked to agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "schemas/avro_compatibility.h"
#include "tests/support/schema_support.h"

/* A record User with the given fields (JSON text of the array's contents). */
#define USER(fields) "{\"type\":\"record\",\"name\":\"User\",\"fields\":[" fields "]}"
#define F_ID "{\"name\":\"id\",\"type\":\"int\"}"

/* One schema change: old -> new, and whether new may follow old under each level. */
enum { AVRO_C_NO, AVRO_C_BOTH, AVRO_C_ACCEPTS };

static const struct change {
  const char *what;
  const char *old_schema, *new_schema;
  bool backward, forward;  /* FULL = both, NONE = always */
  int avro_c;              /* AVRO_C_BOTH: avro-c's resolver decides both directions
                            * correctly; AVRO_C_ACCEPTS: it accepts what we accept, but
                            * asking it about a refused array or map crashes avro-c 1.11 */
} changes[] = {
    {"add a field with a default", USER(F_ID),
     USER(F_ID ",{\"name\":\"email\",\"type\":\"string\",\"default\":\"\"}"), true, true, AVRO_C_NO},
    {"add a field without a default", USER(F_ID),
     USER(F_ID ",{\"name\":\"email\",\"type\":\"string\"}"), false, true, AVRO_C_NO},
    {"remove a field without a default", USER(F_ID ",{\"name\":\"email\",\"type\":\"string\"}"),
     USER(F_ID), true, false, AVRO_C_NO},
    {"remove a field with a default",
     USER(F_ID ",{\"name\":\"email\",\"type\":\"string\",\"default\":\"\"}"), USER(F_ID), true,
     true, AVRO_C_NO},
    {"promote int to long", USER(F_ID), USER("{\"name\":\"id\",\"type\":\"long\"}"), true, false,
     AVRO_C_BOTH},
    {"narrow long to int", USER("{\"name\":\"id\",\"type\":\"long\"}"), USER(F_ID), false, true,
     AVRO_C_BOTH},
    {"promote float to double", USER("{\"name\":\"x\",\"type\":\"float\"}"),
     USER("{\"name\":\"x\",\"type\":\"double\"}"), true, false, AVRO_C_BOTH},
    {"string to bytes", USER("{\"name\":\"x\",\"type\":\"string\"}"),
     USER("{\"name\":\"x\",\"type\":\"bytes\"}"), true, true, AVRO_C_NO},
    {"change string to int", USER("{\"name\":\"x\",\"type\":\"string\"}"),
     USER("{\"name\":\"x\",\"type\":\"int\"}"), false, false, AVRO_C_BOTH},
    {"add an enum symbol",
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"]}}"),
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
          "\"BLUE\"]}}"), true, false, AVRO_C_NO},
    {"remove an enum symbol",
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
          "\"BLUE\"]}}"),
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"]}}"),
     false, true, AVRO_C_NO},
    {"remove an enum symbol, the new enum has a default",
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
          "\"BLUE\"],\"default\":\"RED\"}}"),
     USER("{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"],"
          "\"default\":\"RED\"}}"), true, true, AVRO_C_NO},
    {"widen a union", USER("{\"name\":\"x\",\"type\":[\"null\",\"string\"]}"),
     USER("{\"name\":\"x\",\"type\":[\"null\",\"string\",\"int\"]}"), true, false, AVRO_C_NO},
    {"narrow a union", USER("{\"name\":\"x\",\"type\":[\"null\",\"string\",\"int\"]}"),
     USER("{\"name\":\"x\",\"type\":[\"null\",\"string\"]}"), false, true, AVRO_C_NO},
    {"make a field optional", USER("{\"name\":\"x\",\"type\":\"string\"}"),
     USER("{\"name\":\"x\",\"type\":[\"null\",\"string\"]}"), true, false, AVRO_C_NO},
    {"rename the record", USER(F_ID),
     "{\"type\":\"record\",\"name\":\"Person\",\"fields\":[" F_ID "]}", false, false, AVRO_C_BOTH},
    {"rename the record, with the old name as an alias", USER(F_ID),
     "{\"type\":\"record\",\"name\":\"Person\",\"aliases\":[\"User\"],\"fields\":[" F_ID "]}",
     true, false, AVRO_C_NO},
    {"rename a field, with the old name as an alias", USER(F_ID),
     USER("{\"name\":\"user_id\",\"type\":\"int\",\"aliases\":[\"id\"]}"), true, false, AVRO_C_NO},
    {"nested record gains a field with a default",
     USER("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
          "{\"name\":\"city\",\"type\":\"string\"}]}}"),
     USER("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
          "{\"name\":\"city\",\"type\":\"string\"},{\"name\":\"zip\",\"type\":\"string\","
          "\"default\":\"\"}]}}"), true, true, AVRO_C_NO},
    {"nested record gains a field without a default",
     USER("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
          "{\"name\":\"city\",\"type\":\"string\"}]}}"),
     USER("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
          "{\"name\":\"city\",\"type\":\"string\"},{\"name\":\"zip\",\"type\":\"string\"}]}}"),
     false, true, AVRO_C_NO},
    {"array items promoted", USER("{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"int\"}}"),
     USER("{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"long\"}}"), true, false,
     AVRO_C_ACCEPTS},
    {"map values changed", USER("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}}"),
     USER("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}}"), false, false,
     AVRO_C_NO},
    {"fixed size changed", "{\"type\":\"fixed\",\"name\":\"Hash\",\"size\":16}",
     "{\"type\":\"fixed\",\"name\":\"Hash\",\"size\":32}", false, false, AVRO_C_BOTH},
    {"same recursive schema",
     "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\","
     "\"Node\"]}]}",
     "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\","
     "\"Node\"]},{\"name\":\"v\",\"type\":\"int\",\"default\":0}]}", true, true, AVRO_C_NO},
    {"a different top-level type", "\"string\"", "\"int\"", false, false, AVRO_C_BOTH},
};

static void test_every_level_on_the_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
    const struct change *c = &changes[i];
    struct mk_avro_schema *old_s = parse_schema(c->old_schema), *new_s = parse_schema(c->new_schema);
    const struct mk_avro_schema *prev[] = {old_s};
    int versions[] = {1};
    const struct {
      enum mk_compatibility level;
      bool want;
    } levels[] = {
        {MK_COMPATIBILITY_NONE, true},
        {MK_COMPATIBILITY_BACKWARD, c->backward},
        {MK_COMPATIBILITY_BACKWARD_TRANSITIVE, c->backward},
        {MK_COMPATIBILITY_FORWARD, c->forward},
        {MK_COMPATIBILITY_FORWARD_TRANSITIVE, c->forward},
        {MK_COMPATIBILITY_FULL, c->backward && c->forward},
        {MK_COMPATIBILITY_FULL_TRANSITIVE, c->backward && c->forward},
    };
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
      struct mk_avro_messages m = {0};
      bool got = mk_compatibility_check(levels[l].level, new_s, prev, versions, 1, &m);
      if (got != levels[l].want)
        fail_msg("%s under %s: got %s, want %s (%s)", c->what,
                 mk_compatibility_name(levels[l].level), got ? "compatible" : "incompatible",
                 levels[l].want ? "compatible" : "incompatible", m.n ? m.v[0] : "");
      if (!got) {  /* a refusal explains itself and names the old version (FULL names it
                    * with the backward half's reasons only, as Confluent's does) */
        assert_true(m.n >= 1);
        assert_contains(m.v[0], "errorType:'");
        bool version_named = false;
        for (int k = 0; k < m.n; k++) version_named |= strcmp(m.v[k], "{oldSchemaVersion: 1}") == 0;
        assert_true(version_named || (levels[l].level >= MK_COMPATIBILITY_FULL && c->backward));
      } else {
        assert_int_equal(m.n, 0);
      }
      mk_avro_messages_free(&m);
    }
    if (c->avro_c != AVRO_C_NO) {  /* avro-c's resolver agrees */
      bool both = c->avro_c == AVRO_C_BOTH;
      avro_value_iface_t *fwd = both || c->forward ? avro_resolved_writer_new(new_s->avro, old_s->avro) : NULL;
      avro_value_iface_t *bwd = both || c->backward ? avro_resolved_writer_new(old_s->avro, new_s->avro) : NULL;
      if ((bwd != NULL) != c->backward) fail_msg("%s: avro-c disagrees on BACKWARD", c->what);
      if ((fwd != NULL) != c->forward) fail_msg("%s: avro-c disagrees on FORWARD", c->what);
      /* and our prediction of what avro-c can resolve agrees with it */
      if (mk_avro_resolvable_by_avro_c(new_s, old_s, NULL) != c->backward ||
          mk_avro_resolvable_by_avro_c(old_s, new_s, NULL) != c->forward)
        fail_msg("%s: mk_avro_resolvable_by_avro_c disagrees with avro-c", c->what);
      if (fwd) avro_value_iface_decref(fwd);
      if (bwd) avro_value_iface_decref(bwd);
    }
    mk_avro_schema_free(old_s);
    mk_avro_schema_free(new_s);
  }
}

/* The messages say what broke, where, in Avro's terms. */
static void test_messages_name_the_problem(void **state) {
  (void)state;
  struct mk_avro_schema *old_s = parse_schema(USER(F_ID));
  struct mk_avro_schema *new_s = parse_schema(USER(F_ID ",{\"name\":\"email\",\"type\":\"string\"}"));
  struct mk_avro_messages m = {0};
  assert_false(mk_avro_can_read(new_s, old_s, "new", "old", &m));
  assert_int_equal(m.n, 1);
  assert_contains(m.v[0], "errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'");
  assert_contains(m.v[0], "'/fields/1'");
  assert_contains(m.v[0], "additionalInfo:'email'");
  mk_avro_messages_free(&m);

  struct mk_avro_schema *str = parse_schema(USER("{\"name\":\"id\",\"type\":\"string\"}"));
  assert_false(mk_avro_can_read(str, old_s, "new", "old", &m));
  assert_contains(m.v[0], "errorType:'TYPE_MISMATCH'");
  assert_contains(m.v[0], "/fields/0/type");
  assert_contains(m.v[0], "reader type: STRING not compatible with writer type: INT");
  mk_avro_messages_free(&m);

  const struct mk_avro_schema *prev[] = {old_s};
  int versions[] = {7};
  assert_false(mk_compatibility_check(MK_COMPATIBILITY_BACKWARD, str, prev, versions, 1, &m));
  assert_string_equal(m.v[m.n - 2], "{oldSchemaVersion: 7}");
  assert_contains(m.v[m.n - 1], "{oldSchema: '{\"type\":\"record\",\"name\":\"User\"");
  mk_avro_messages_free(&m);
  mk_avro_schema_free(old_s);
  mk_avro_schema_free(new_s);
  mk_avro_schema_free(str);
}

/* The transitive levels look at every earlier version; the plain ones at the latest only. */
static void test_transitive_levels_check_every_version(void **state) {
  (void)state;
  /* BACKWARD: v3 makes the field required again; v2 had it with a default, v1 not at all */
  struct mk_avro_schema *v1 = parse_schema(USER(F_ID));
  struct mk_avro_schema *v2 = parse_schema(USER(F_ID ",{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}"));
  struct mk_avro_schema *v3 = parse_schema(USER(F_ID ",{\"name\":\"b\",\"type\":\"string\"}"));
  const struct mk_avro_schema *prev[] = {v1, v2};
  int versions[] = {1, 2};
  struct mk_avro_messages m = {0};
  assert_true(mk_compatibility_check(MK_COMPATIBILITY_BACKWARD, v3, prev, versions, 2, NULL));
  assert_false(mk_compatibility_check(MK_COMPATIBILITY_BACKWARD_TRANSITIVE, v3, prev, versions, 2, &m));
  assert_string_equal(m.v[m.n - 2], "{oldSchemaVersion: 1}");
  mk_avro_messages_free(&m);
  assert_true(mk_compatibility_check(MK_COMPATIBILITY_FULL, v3, prev, versions, 2, NULL));
  assert_false(mk_compatibility_check(MK_COMPATIBILITY_FULL_TRANSITIVE, v3, prev, versions, 2, NULL));

  /* FORWARD: w1 needs b, w2 gives b a default, w3 drops it: w2 reads w3, w1 cannot */
  struct mk_avro_schema *w1 = parse_schema(USER(F_ID ",{\"name\":\"b\",\"type\":\"int\"}"));
  struct mk_avro_schema *w2 = parse_schema(USER(F_ID ",{\"name\":\"b\",\"type\":\"int\",\"default\":0}"));
  struct mk_avro_schema *w3 = parse_schema(USER(F_ID));
  const struct mk_avro_schema *wprev[] = {w1, w2};
  assert_true(mk_compatibility_check(MK_COMPATIBILITY_FORWARD, w3, wprev, versions, 2, NULL));
  assert_false(mk_compatibility_check(MK_COMPATIBILITY_FORWARD_TRANSITIVE, w3, wprev, versions, 2, NULL));
  assert_true(mk_compatibility_check(MK_COMPATIBILITY_NONE, w3, wprev, versions, 2, NULL));
  struct mk_avro_schema *all[] = {v1, v2, v3, w1, w2, w3};
  for (size_t i = 0; i < 6; i++) mk_avro_schema_free(all[i]);
}

static void test_level_names(void **state) {
  (void)state;
  enum mk_compatibility l;
  assert_true(mk_compatibility_from_name("full_transitive", &l));
  assert_int_equal(l, MK_COMPATIBILITY_FULL_TRANSITIVE);
  assert_true(mk_compatibility_from_name("Backward", &l));
  assert_int_equal(l, MK_COMPATIBILITY_BACKWARD);
  assert_false(mk_compatibility_from_name("SIDEWAYS", &l));
  assert_false(mk_compatibility_from_name(NULL, &l));
  assert_string_equal(mk_compatibility_name(MK_COMPATIBILITY_FORWARD_TRANSITIVE),
                      "FORWARD_TRANSITIVE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_level_on_the_table),
      cmocka_unit_test(test_messages_name_the_problem),
      cmocka_unit_test(test_transitive_levels_check_every_version),
      cmocka_unit_test(test_level_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
