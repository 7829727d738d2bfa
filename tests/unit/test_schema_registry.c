/*
 * Tests for broker/schema_registry.c and schema_registry_store.c: the REST semantics of
 * Confluent's registry (ids reused, versions, latest, soft and permanent deletes, configs,
 * compatibility, lookups), its error codes, the records it writes for its _schemas log, and
 * rebuilding the same registry by replaying those records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/schema_registry.h"
#include "tests/support/schema_support.h"

/* The store callback: keeps every record, and fails on demand. */
struct log {
  char *keys[256], *values[256];  /* values[i] NULL: a tombstone */
  int n;
  bool fail;
};

static int store(void *opaque, const char *key, size_t key_len, const char *value,
                 size_t value_len, struct mk_err *err) {
  struct log *l = opaque;
  if (l->fail) return mk_err_set(err, MK_ERR_NOT_ENOUGH_REPLICAS, "the _schemas topic is down");
  assert_true(l->n < 256);
  l->keys[l->n] = strndup(key, key_len);
  l->values[l->n] = value ? strndup(value, value_len) : NULL;
  l->n++;
  return 0;
}

static void log_free(struct log *l) {
  for (int i = 0; i < l->n; i++) free(l->keys[i]), free(l->values[i]);
  l->n = 0;
}

/* One request; returns the body text (free it) and sets *status. */
static char *call(struct mk_schema_registry *r, const char *method, const char *target,
                  const char *body, int *status) {
  char path[512];
  snprintf(path, sizeof path, "%s", target);
  char *query = strchr(path, '?');
  if (query) *query++ = '\0';
  char *out = NULL;
  assert_int_equal(mk_schema_registry_handle(r, method, path, query, body, body ? strlen(body) : 0,
                                             status, &out), 0);
  assert_non_null(out);
  return out;
}

/* A request that must answer want_status with exactly want_body. */
static void expect(struct mk_schema_registry *r, const char *method, const char *target,
                   const char *body, int want_status, const char *want_body) {
  int status;
  char *out = call(r, method, target, body, &status);
  if (status != want_status || strcmp(out, want_body) != 0)
    fail_msg("%s %s: got %d %s, want %d %s", method, target, status, out, want_status, want_body);
  free(out);
}

/* A request that must fail with want_status and Confluent's error_code, its message holding
 * `words`. */
static void expect_error(struct mk_schema_registry *r, const char *method, const char *target,
                         const char *body, int want_status, int want_code, const char *words) {
  int status;
  char *out = call(r, method, target, body, &status);
  json_t *j = json_loads(out, 0, NULL);
  if (status != want_status || !j || json_integer_value(json_object_get(j, "error_code")) != want_code)
    fail_msg("%s %s: got %d %s, want %d with error_code %d", method, target, status, out,
             want_status, want_code);
  assert_contains(json_string_value(json_object_get(j, "message")), words);
  json_decref(j);
  free(out);
}

/* A register request's body for schema text (escaped into a JSON string). */
static char *reg(const char *schema) {
  json_t *j = json_pack("{s:s}", "schema", schema);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

#define V1 "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"}]}"
#define V1_SPACED "{ \"name\": \"User\", \"type\": \"record\", \"fields\": [ {\"type\": {\"type\": \"int\"}, \"name\": \"id\"} ] }"
#define V2 "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"email\",\"type\":\"string\",\"default\":\"\"}]}"
#define V3_BAD "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"age\",\"type\":\"int\"}]}"

static void register_ok(struct mk_schema_registry *r, const char *subject, const char *schema,
                        int want_id) {
  char *body = reg(schema), target[256], want[32];
  snprintf(target, sizeof target, "/subjects/%s/versions", subject);
  snprintf(want, sizeof want, "{\"id\":%d}", want_id);
  expect(r, "POST", target, body, 200, want);
  free(body);
}

/* Ids are global and reused for the same schema; versions count per subject. */
static void test_ids_versions_and_latest(void **state) {
  (void)state;
  struct log log = {0};
  struct mk_schema_registry *r = mk_schema_registry_new(store, &log);
  register_ok(r, "t-value", V1, 1);
  register_ok(r, "t-value", V1_SPACED, 1);  /* same canonical text: nothing new */
  assert_int_equal(log.n, 1);
  register_ok(r, "u-value", V1, 1);        /* another subject: same id, its own version 1 */
  register_ok(r, "t-value", V2, 2);
  expect(r, "GET", "/subjects", NULL, 200, "[\"t-value\",\"u-value\"]");
  expect(r, "GET", "/subjects/t-value/versions", NULL, 200, "[1,2]");
  expect(r, "GET", "/subjects/t-value/versions/latest", NULL, 200,
         "{\"subject\":\"t-value\",\"version\":2,\"id\":2,\"schema\":"
         "\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":[{\\\"name\\\":"
         "\\\"id\\\",\\\"type\\\":\\\"int\\\"},{\\\"name\\\":\\\"email\\\",\\\"type\\\":"
         "\\\"string\\\",\\\"default\\\":\\\"\\\"}]}\"}");
  expect(r, "GET", "/subjects/t-value/versions/1/schema", NULL, 200, V1);
  expect(r, "GET", "/schemas/ids/1", NULL, 200,
         "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":"
         "[{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"int\\\"}]}\"}");
  expect(r, "GET", "/schemas/ids/1/schema", NULL, 200, V1);
  expect(r, "GET", "/schemas/ids/1/versions", NULL, 200,
         "[{\"subject\":\"t-value\",\"version\":1},{\"subject\":\"u-value\",\"version\":1}]");
  expect(r, "GET", "/schemas/ids/1/subjects", NULL, 200, "[\"t-value\",\"u-value\"]");
  expect(r, "GET", "/schemas/types", NULL, 200, "[\"AVRO\"]");
  expect(r, "GET", "/", NULL, 200, "{}");
  /* a subject with a "/" in it travels %-encoded */
  register_ok(r, "a%2Fb", V1, 1);
  expect(r, "GET", "/subjects/a%2Fb/versions", NULL, 200, "[1]");
  assert_int_equal(mk_schema_registry_subject_count(r), 3);
  assert_int_equal(mk_schema_registry_schema_count(r), 2);
  mk_schema_registry_free(r);
  log_free(&log);
}

/* An incompatible schema is refused with 409 and Confluent's reasons; nothing is written. */
static void test_compatibility_is_enforced(void **state) {
  (void)state;
  struct log log = {0};
  struct mk_schema_registry *r = mk_schema_registry_new(store, &log);
  register_ok(r, "t-value", V1, 1);
  char *bad = reg(V3_BAD);
  expect_error(r, "POST", "/subjects/t-value/versions", bad, 409, 409,
               "Schema being registered is incompatible with an earlier schema for subject "
               "\"t-value\", details: [{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'");
  expect_error(r, "POST", "/subjects/t-value/versions", bad, 409, 409, "{oldSchemaVersion: 1}");
  assert_int_equal(log.n, 1);
  /* the test endpoint says the same without registering */
  expect(r, "POST", "/compatibility/subjects/t-value/versions/latest", bad, 200,
         "{\"is_compatible\":false}");
  int status;
  char *out = call(r, "POST", "/compatibility/subjects/t-value/versions?verbose=true", bad, &status);
  assert_int_equal(status, 200);
  assert_contains(out, "\"is_compatible\":false,\"messages\":[\"{errorType:'READER_FIELD_MISSING");
  free(out);
  char *good = reg(V2);
  expect(r, "POST", "/compatibility/subjects/t-value/versions/1", good, 200, "{\"is_compatible\":true}");
  expect(r, "POST", "/compatibility/subjects/t-value/versions?verbose=true", good, 200,
         "{\"is_compatible\":true,\"messages\":[]}");
  expect(r, "POST", "/compatibility/subjects/nobody/versions/latest", bad, 200, "{\"is_compatible\":true}");
  expect_error(r, "POST", "/compatibility/subjects/t-value/versions/9", good, 404, 40402, "Version 9 not found.");
  /* NONE for this subject lets it in */
  expect(r, "PUT", "/config/t-value", "{\"compatibility\":\"none\"}", 200, "{\"compatibility\":\"NONE\"}");
  register_ok(r, "t-value", V3_BAD, 2);
  free(bad);
  free(good);
  mk_schema_registry_free(r);
  log_free(&log);
}

static void test_config_global_and_per_subject(void **state) {
  (void)state;
  struct mk_schema_registry *r = mk_schema_registry_new(NULL, NULL);
  expect(r, "GET", "/config", NULL, 200, "{\"compatibilityLevel\":\"BACKWARD\"}");
  expect(r, "PUT", "/config", "{\"compatibility\":\"FULL_TRANSITIVE\"}", 200,
         "{\"compatibility\":\"FULL_TRANSITIVE\"}");
  expect(r, "GET", "/config", NULL, 200, "{\"compatibilityLevel\":\"FULL_TRANSITIVE\"}");
  expect_error(r, "GET", "/config/s", NULL, 404, 40408,
               "Subject 's' does not have subject-level compatibility configured");
  expect(r, "GET", "/config/s?defaultToGlobal=true", NULL, 200,
         "{\"compatibilityLevel\":\"FULL_TRANSITIVE\"}");
  expect(r, "PUT", "/config/s", "{\"compatibility\":\"FORWARD\"}", 200, "{\"compatibility\":\"FORWARD\"}");
  expect(r, "GET", "/config/s", NULL, 200, "{\"compatibilityLevel\":\"FORWARD\"}");
  expect_error(r, "PUT", "/config/s", "{\"compatibility\":\"SIDEWAYS\"}", 422, 42203,
               "Invalid compatibility level. Valid values are none, backward, forward, full, "
               "backward_transitive, forward_transitive, and full_transitive");
  expect_error(r, "PUT", "/config", "{}", 422, 42203, "Invalid compatibility level");
  expect(r, "DELETE", "/config/s", NULL, 200, "{\"compatibilityLevel\":\"FORWARD\"}");
  expect_error(r, "DELETE", "/config/s", NULL, 404, 40401, "Subject 's' not found.");
  expect(r, "DELETE", "/config", NULL, 200, "{\"compatibilityLevel\":\"FULL_TRANSITIVE\"}");
  expect(r, "GET", "/config", NULL, 200, "{\"compatibilityLevel\":\"BACKWARD\"}");
  mk_schema_registry_free(r);
}

/* Soft delete hides, permanent delete (only after soft) removes; ids keep resolving until
 * the last version holding them is gone for good. */
static void test_soft_and_permanent_deletes(void **state) {
  (void)state;
  struct mk_schema_registry *r = mk_schema_registry_new(NULL, NULL);
  register_ok(r, "t", V1, 1);
  register_ok(r, "t", V2, 2);
  expect_error(r, "DELETE", "/subjects/t/versions/1?permanent=true", NULL, 404, 40407,
               "Subject 't' Version 1 was not deleted first before being permanently deleted");
  expect(r, "DELETE", "/subjects/t/versions/1", NULL, 200, "1");
  expect(r, "GET", "/subjects/t/versions", NULL, 200, "[2]");
  expect(r, "GET", "/subjects/t/versions?deleted=true", NULL, 200, "[1,2]");
  expect_error(r, "GET", "/subjects/t/versions/1", NULL, 404, 40402, "Version 1 not found.");
  int status;
  free(call(r, "GET", "/subjects/t/versions/1?deleted=true", NULL, &status));
  assert_int_equal(status, 200);
  expect(r, "GET", "/schemas/ids/1/versions", NULL, 200, "[]");
  expect(r, "GET", "/schemas/ids/1/versions?deleted=true", NULL, 200, "[{\"subject\":\"t\",\"version\":1}]");
  expect_error(r, "DELETE", "/subjects/t/versions/1", NULL, 404, 40406,
               "Subject 't' Version 1 was soft deleted.Set permanent=true to delete permanently");
  expect(r, "DELETE", "/subjects/t/versions/1?permanent=true", NULL, 200, "1");
  expect_error(r, "GET", "/schemas/ids/1", NULL, 404, 40403, "Schema 1 not found");
  /* the whole subject */
  expect_error(r, "DELETE", "/subjects/t?permanent=true", NULL, 404, 40405,
               "Subject 't' was not deleted first before being permanently deleted");
  expect(r, "DELETE", "/subjects/t", NULL, 200, "[2]");
  expect(r, "GET", "/subjects", NULL, 200, "[]");
  expect(r, "GET", "/subjects?deleted=true", NULL, 200, "[\"t\"]");
  expect_error(r, "GET", "/subjects/t/versions", NULL, 404, 40401, "Subject 't' not found.");
  expect_error(r, "DELETE", "/subjects/t", NULL, 404, 40404,
               "Subject 't' was soft deleted.Set permanent=true to delete permanently");
  expect(r, "GET", "/schemas/ids/2", NULL, 200,
         "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":"
         "[{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"int\\\"},{\\\"name\\\":\\\"email\\\","
         "\\\"type\\\":\\\"string\\\",\\\"default\\\":\\\"\\\"}]}\"}");
  /* registering the same schema again: same id, the next version, the old one removed */
  register_ok(r, "t", V2, 2);
  expect(r, "GET", "/subjects/t/versions?deleted=true", NULL, 200, "[3]");
  expect(r, "DELETE", "/subjects/t", NULL, 200, "[3]");
  expect(r, "DELETE", "/subjects/t?permanent=true", NULL, 200, "[3]");
  expect_error(r, "DELETE", "/subjects/t", NULL, 404, 40401, "Subject 't' not found.");
  expect(r, "GET", "/subjects?deleted=true", NULL, 200, "[]");
  /* the latest version via "latest" */
  register_ok(r, "u", V1, 3);
  expect(r, "DELETE", "/subjects/u/versions/latest", NULL, 200, "1");
  expect_error(r, "GET", "/subjects/u/versions/latest", NULL, 404, 40401, "Subject 'u' not found.");
  mk_schema_registry_free(r);
}

/* POST /subjects/{s}: is this schema registered there? */
static void test_lookup(void **state) {
  (void)state;
  struct mk_schema_registry *r = mk_schema_registry_new(NULL, NULL);
  register_ok(r, "t", V1, 1);
  char *b1 = reg(V1_SPACED), *b2 = reg(V2);
  expect(r, "POST", "/subjects/t", b1, 200,
         "{\"subject\":\"t\",\"version\":1,\"id\":1,\"schema\":\"{\\\"type\\\":\\\"record\\\","
         "\\\"name\\\":\\\"User\\\",\\\"fields\\\":[{\\\"name\\\":\\\"id\\\",\\\"type\\\":"
         "\\\"int\\\"}]}\"}");
  expect_error(r, "POST", "/subjects/t", b2, 404, 40403, "Schema not found");
  expect_error(r, "POST", "/subjects/nobody", b1, 404, 40401, "Subject 'nobody' not found.");
  expect(r, "DELETE", "/subjects/t/versions/1", NULL, 200, "1");
  expect_error(r, "POST", "/subjects/t", b1, 404, 40401, "Subject 't' not found.");
  int status;
  free(call(r, "POST", "/subjects/t?deleted=true", b1, &status));
  assert_int_equal(status, 200);
  free(b1);
  free(b2);
  mk_schema_registry_free(r);
}

/* ?normalize=true: schemas that differ only in spelling (namespace key, field order of
 * properties) are one schema. */
static void test_normalize(void **state) {
  (void)state;
  struct mk_schema_registry *r = mk_schema_registry_new(NULL, NULL);
  char *a = reg("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}");
  char *b = reg("{\"type\":\"record\",\"name\":\"n.R\",\"fields\":[{\"name\":\"x\",\"type\":\"int\",\"order\":\"ascending\"}]}");
  expect(r, "POST", "/subjects/s/versions?normalize=true", a, 200, "{\"id\":1}");
  expect(r, "POST", "/subjects/s/versions?normalize=true", b, 200, "{\"id\":1}");
  expect(r, "GET", "/subjects/s/versions/1/schema", NULL, 200,
         "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"x\",\"type\":\"int\","
         "\"order\":\"ascending\"}]}");
  /* without normalizing, the second spelling is a different text (but compatible) */
  expect(r, "POST", "/subjects/s/versions", b, 200, "{\"id\":2}");
  free(a);
  free(b);
  mk_schema_registry_free(r);
}

static void test_errors_have_confluents_codes(void **state) {
  (void)state;
  struct mk_schema_registry *r = mk_schema_registry_new(NULL, NULL);
  register_ok(r, "t", V1, 1);
  expect_error(r, "GET", "/subjects/nope/versions", NULL, 404, 40401, "Subject 'nope' not found.");
  expect_error(r, "GET", "/subjects/t/versions/7", NULL, 404, 40402, "Version 7 not found.");
  expect_error(r, "GET", "/subjects/t/versions/abc", NULL, 422, 42202,
               "The specified version 'abc' is not a valid version id.");
  expect_error(r, "GET", "/subjects/t/versions/0", NULL, 422, 42202, "'0' is not a valid version id");
  expect_error(r, "GET", "/schemas/ids/99", NULL, 404, 40403, "Schema 99 not found");
  expect_error(r, "GET", "/schemas/ids/x", NULL, 404, 404, "HTTP 404 Not Found");
  expect_error(r, "POST", "/subjects/t/versions", "{\"schema\":\"{\\\"type\\\":\\\"nope\\\"}\"}",
               422, 42201, "Invalid schema of type AVRO, details: \"nope\" is not a type");
  expect_error(r, "POST", "/subjects/t/versions",
               "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\"}", 422, 42201,
               "Invalid schema type PROTOBUF: this registry (minikafka) holds AVRO schemas only");
  expect_error(r, "POST", "/subjects/t/versions", "{\"schema\":", 400, 400, "not JSON");
  expect_error(r, "POST", "/subjects/t/versions", "[]", 400, 400, "must be a JSON object");
  expect_error(r, "POST", "/subjects/t/versions", "{\"schema\":{}}", 400, 400, "\"schema\" must be a string");
  expect_error(r, "POST", "/subjects/t/versions", "", 422, 422, "request body is missing");
  expect_error(r, "POST", "/subjects/t/versions", "{}", 422, 42201, "Empty schema");
  expect_error(r, "POST", "/subjects/a%01b/versions", "{\"schema\":\"\\\"int\\\"\"}", 422, 42208,
               "is not a valid.");
  expect_error(r, "POST", "/subjects/a%FFb/versions", "{\"schema\":\"\\\"int\\\"\"}", 422, 42208,
               "The specified subject 'a?b' is not a valid.");  /* not UTF-8 */
  expect_error(r, "GET", "/subjects/%FF/versions", NULL, 404, 40401, "Subject '?' not found.");
  expect_error(r, "GET", "/nothing/here", NULL, 404, 404, "HTTP 404 Not Found");
  expect_error(r, "PUT", "/subjects", NULL, 405, 405, "HTTP 405 Method Not Allowed");
  expect_error(r, "GET", "/subjects/t", NULL, 405, 405, "HTTP 405 Method Not Allowed");
  expect_error(r, "DELETE", "/schemas/types", NULL, 405, 405, "Method Not Allowed");

  /* a schema over 1 MiB: 42209, the registry unaffected */
  size_t n = (1 << 20) + 64;
  char *big = malloc(n + 64);
  strcpy(big, "{\"schema\":\"\\\"int\\\"");
  size_t at = strlen(big);
  memset(big + at, ' ', n);
  strcpy(big + at + n, "\"}");
  expect_error(r, "POST", "/subjects/t/versions", big, 422, 42209,
               "Register operation failed because schema is too large");
  free(big);
  expect(r, "GET", "/subjects/t/versions", NULL, 200, "[1]");
  mk_schema_registry_free(r);
}

/* The records match Confluent's _schemas layout, and replaying them rebuilds the registry. */
static void test_records_and_replay(void **state) {
  (void)state;
  struct log log = {0};
  struct mk_schema_registry *r = mk_schema_registry_new(store, &log);
  register_ok(r, "t-value", V1, 1);
  assert_int_equal(log.n, 1);
  assert_string_equal(log.keys[0], "{\"keytype\":\"SCHEMA\",\"subject\":\"t-value\",\"version\":1,\"magic\":1}");
  assert_string_equal(log.values[0],
                      "{\"subject\":\"t-value\",\"version\":1,\"id\":1,\"schema\":"
                      "\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":"
                      "[{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"int\\\"}]}\",\"deleted\":false}");
  expect(r, "PUT", "/config/t-value", "{\"compatibility\":\"FULL\"}", 200, "{\"compatibility\":\"FULL\"}");
  assert_string_equal(log.keys[1], "{\"keytype\":\"CONFIG\",\"subject\":\"t-value\",\"magic\":0}");
  assert_string_equal(log.values[1], "{\"subject\":\"t-value\",\"compatibilityLevel\":\"FULL\"}");
  expect(r, "PUT", "/config", "{\"compatibility\":\"NONE\"}", 200, "{\"compatibility\":\"NONE\"}");
  assert_string_equal(log.keys[2], "{\"keytype\":\"CONFIG\",\"magic\":0}");
  assert_string_equal(log.values[2], "{\"compatibilityLevel\":\"NONE\"}");
  register_ok(r, "t-value", V2, 2);
  register_ok(r, "u-value", V2, 2);
  expect(r, "DELETE", "/subjects/u-value", NULL, 200, "[1]");
  assert_string_equal(log.keys[5], "{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"u-value\",\"magic\":0}");
  assert_string_equal(log.values[5], "{\"subject\":\"u-value\",\"version\":1}");
  expect(r, "DELETE", "/subjects/u-value?permanent=true", NULL, 200, "[1]");
  assert_string_equal(log.keys[6], "{\"keytype\":\"SCHEMA\",\"subject\":\"u-value\",\"version\":1,\"magic\":1}");
  assert_null(log.values[6]);  /* a tombstone */
  expect(r, "DELETE", "/subjects/t-value/versions/1", NULL, 200, "1");

  /* A new registry reading the log (a new leader) answers the same. */
  struct mk_schema_registry *copy = mk_schema_registry_new(NULL, NULL);
  struct mk_err err = {0};
  for (int i = 0; i < log.n; i++)
    assert_int_equal(mk_schema_registry_replay(copy, log.keys[i], strlen(log.keys[i]), log.values[i],
                                               log.values[i] ? strlen(log.values[i]) : 0, &err), 0);
  const char *gets[] = {"/subjects?deleted=true", "/subjects/t-value/versions?deleted=true",
                        "/subjects/t-value/versions/latest", "/schemas/ids/1", "/schemas/ids/2/versions",
                        "/config", "/config/t-value", "/subjects/u-value/versions?deleted=true"};
  for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
    int s1, s2;
    char *a = call(r, "GET", gets[i], NULL, &s1), *b = call(copy, "GET", gets[i], NULL, &s2);
    if (s1 != s2 || strcmp(a, b) != 0) fail_msg("%s: %d %s vs replayed %d %s", gets[i], s1, a, s2, b);
    free(a);
    free(b);
  }
  /* the next id continues after the replayed ones */
  register_ok(copy, "v-value", "\"string\"", 3);

  /* Other key types are skipped; broken records are refused and change nothing. */
  const char *noop = "{\"keytype\":\"NOOP\",\"magic\":0}";
  assert_int_equal(mk_schema_registry_replay(copy, noop, strlen(noop), NULL, 0, &err), 0);
  assert_int_equal(mk_schema_registry_replay(copy, "nope", 4, "{}", 2, &err), MK_ERR__DECODE);
  const char *k = "{\"keytype\":\"SCHEMA\",\"subject\":\"x\",\"version\":1,\"magic\":1}";
  assert_int_equal(mk_schema_registry_replay(copy, k, strlen(k), "{\"id\":\"a\"}", 10, &err), MK_ERR__DECODE);
  const char *clash = "{\"subject\":\"x\",\"version\":1,\"id\":1,\"schema\":\"\\\"int\\\"\",\"deleted\":false}";
  assert_int_equal(mk_schema_registry_replay(copy, k, strlen(k), clash, strlen(clash), &err), MK_ERR__DECODE);
  assert_contains(err.msg, "schema id 1 already names another schema");
  expect_error(copy, "GET", "/subjects/x/versions", NULL, 404, 40401, "Subject 'x' not found.");

  /* reset: empty */
  mk_schema_registry_reset(copy);
  expect(copy, "GET", "/subjects?deleted=true", NULL, 200, "[]");
  expect_error(copy, "GET", "/schemas/ids/1", NULL, 404, 40403, "Schema 1 not found");
  expect(copy, "GET", "/config", NULL, 200, "{\"compatibilityLevel\":\"BACKWARD\"}");
  mk_schema_registry_free(copy);
  mk_schema_registry_free(r);
  log_free(&log);
}

/* When the log cannot be written, the request fails with 50001 and nothing changes. */
static void test_store_failure_changes_nothing(void **state) {
  (void)state;
  struct log log = {0};
  struct mk_schema_registry *r = mk_schema_registry_new(store, &log);
  register_ok(r, "t", V1, 1);
  log.fail = true;
  char *b = reg(V2);
  expect_error(r, "POST", "/subjects/t/versions", b, 500, 50001, "the _schemas topic is down");
  expect_error(r, "DELETE", "/subjects/t", NULL, 500, 50001, "Kafka store");
  expect_error(r, "PUT", "/config", "{\"compatibility\":\"NONE\"}", 500, 50001, "Kafka store");
  log.fail = false;
  expect(r, "GET", "/subjects/t/versions", NULL, 200, "[1]");
  expect(r, "GET", "/config", NULL, 200, "{\"compatibilityLevel\":\"BACKWARD\"}");
  register_ok(r, "t", V2, 2);
  free(b);
  mk_schema_registry_free(r);
  log_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_versions_and_latest),
      cmocka_unit_test(test_compatibility_is_enforced),
      cmocka_unit_test(test_config_global_and_per_subject),
      cmocka_unit_test(test_soft_and_permanent_deletes),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_normalize),
      cmocka_unit_test(test_errors_have_confluents_codes),
      cmocka_unit_test(test_records_and_replay),
      cmocka_unit_test(test_store_failure_changes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
