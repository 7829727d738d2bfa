/*
 * Tests for the schema registry served by the broker (broker/schema_registry_http.c, its
 * store broker/kafka_store.c on broker/internal_topics.c, and deferred answers in
 * common/http_server.c), over real HTTP to an embedded broker:
 *   - a registration is a record in _schemas in Confluent's shape, replicated to every
 *     replica, and answered only once committed: with a follower paused (still in the ISR)
 *     the answer waits kafkastore.timeout.ms and is 500/50002, and a later failover to that
 *     follower takes the schema back (the client was never told it was registered)
 *   - an ISR below min.insync.replicas refuses writes (50001, NOT_ENOUGH_REPLICAS); reads go on
 *   - failover: the new leader's log rebuilds the registry; ids go on from there
 *   - records another client produced to _schemas are replayed
 *   - a deferred answer keeps pipelined requests in order on its connection
 *   - bad input (bodies, sizes, paths, not HTTP) gets Confluent's error shape; the broker
 *     carries on; a broker stopping with an answer pending frees everything
 *   - POST /v1/reset (mk_broker_reset) empties the registry and its topic
 * The REST semantics themselves (every endpoint, every code) are test_schema_registry.c's.
 */
#define _GNU_SOURCE  /* asprintf */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/broker_internal.h"  /* mk_broker_call, for the reset hook */
#include "broker/schema_registry_http.h"
#include "producer/producer.h"
#include "tests/support/http_client.h"
#include "tests/support/test_broker.h"

#define SCHEMA_V1 \
  "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}]}"
#define SCHEMA_V2                                                                            \
  "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}," \
  "{\"name\":\"age\",\"type\":\"int\",\"default\":0}]}"

static struct mk_broker *broker;

/* A broker with the registry on a free port, and broker settings as "key", "value", NULL. */
static void start(const char *key, ...) {
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  cfg.schema_registry_port = 0;
  struct mk_err err = {0};
  va_list ap;
  va_start(ap, key);
  for (const char *k = key; k; k = va_arg(ap, const char *))
    if (mk_broker_config_set(&cfg, k, va_arg(ap, const char *), &err)) fail_msg("%s", err.msg);
  va_end(ap);
  if (mk_broker_new(&cfg, &broker, &err) || mk_broker_start(broker, &err))
    fail_msg("broker: %s", err.msg);
}

static int teardown(void **state) {
  (void)state;
  if (broker) {
    mk_broker_stop(broker);
    mk_broker_free(broker);
    broker = NULL;
  }
  return 0;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* method path (body may be NULL), alone on a connection; the answer's body parsed as JSON
 * into *json (NULL if it is not JSON). Returns the status. */
static int call(const char *method, const char *path, const char *body, json_t **json) {
  char *req = NULL;
  size_t blen = body ? strlen(body) : 0;
  int n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                   "application/vnd.schemaregistry.v1+json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s", method, path, blen, body ? body : "");
  assert_true(n > 0);
  struct test_http_reply r;
  test_http_request(mk_broker_schema_registry_port(broker), req, (size_t)n, &r);
  free(req);
  char type[128];
  assert_string_equal(test_http_header(&r, "Content-Type", type, sizeof type),
                      "application/vnd.schemaregistry.v1+json");
  if (json) *json = json_loadb(r.body, r.body_len, JSON_DECODE_ANY, NULL);
  free(r.body);
  return r.status;
}

/* {"schema": text} as a request body (text JSON-escaped). Free it. */
static char *schema_body(const char *text) {
  json_t *j = json_pack("{s:s}", "schema", text);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

/* Register text under subject; returns the status, *id the answer's id (or its error_code). */
static int register_schema(const char *subject, const char *text, int *id) {
  char path[256], *body = schema_body(text);
  snprintf(path, sizeof path, "/subjects/%s/versions", subject);
  json_t *j = NULL;
  int status = call("POST", path, body, &j);
  free(body);
  *id = (int)json_integer_value(json_object_get(j, status == 200 ? "id" : "error_code"));
  json_decref(j);
  return status;
}

static struct mk_partition_state schemas_state(void) {
  return test_broker_state(broker, "_schemas", 0);
}

/* Give each follower of _schemas-0 the fault `action` (JSON members, e.g. "\"action\":
 * \"follower_pause\""). Returns _schemas-0 as it was before the faults. */
static struct mk_partition_state fault_followers(const char *action) {
  struct mk_partition_state st = schemas_state();
  for (int i = 0; i < st.nfollowers; i++)
    test_broker_fault(broker, "{%s, \"topic\": \"_schemas\", \"partition\": 0, \"broker\": %d}",
                      action, st.followers[i]);
  return st;
}

/* GET /v1/schemas (from C) parsed. */
static json_t *view(void) {
  char *text = mk_broker_schemas_json(broker);
  assert_non_null(text);
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  assert_non_null(j);
  return j;
}

/* ---- writes are records in _schemas, answered when committed ------------------------------ */

static void test_register_writes_a_replicated_record_in_confluents_shape(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("users-value", SCHEMA_V1, &id), 200);
  assert_int_equal(id, 1);
  /* Answered only once committed: the HW is already past the record. */
  struct mk_partition_state st = schemas_state();
  assert_int_equal(st.high_watermark, 1);
  assert_int_equal(st.nreplicas, 3);
  for (int i = 0; i < st.nreplicas; i++) {
    struct mk_stored_records recs;
    struct mk_err err = {0};
    assert_int_equal(mk_broker_read_records(broker, "_schemas", 0, st.replicas[i].broker, false,
                                            &recs, &err), 0);
    assert_int_equal(recs.n, 1);
    assert_string_equal(recs.v[0].key.ptr,
                        "{\"keytype\":\"SCHEMA\",\"subject\":\"users-value\",\"version\":1,"
                        "\"magic\":1}");
    json_t *v = json_loads(recs.v[0].value.ptr, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "schema")), SCHEMA_V1);
    assert_int_equal(json_integer_value(json_object_get(v, "id")), 1);
    assert_true(json_is_false(json_object_get(v, "deleted")));
    json_decref(v);
    mk_stored_records_free(&recs);
  }
  /* The same schema again: the same id, nothing written. */
  assert_int_equal(register_schema("users-value", SCHEMA_V1, &id), 200);
  assert_int_equal(id, 1);
  assert_int_equal(schemas_state().replicas[0].log_end_offset, 1);
  json_t *v = view();
  assert_int_equal(json_integer_value(json_object_get(v, "subject_count")), 1);
  json_t *subject = json_array_get(json_object_get(v, "subjects"), 0);
  assert_string_equal(json_string_value(json_object_get(subject, "subject")), "users-value");
  assert_int_equal(json_array_size(json_object_get(subject, "versions")), 1);
  /* the latest version's text, for the dashboard's Schemas panel */
  json_t *latest = json_object_get(subject, "latest");
  assert_int_equal(json_integer_value(json_object_get(latest, "version")), 1);
  assert_int_equal(json_integer_value(json_object_get(latest, "id")), 1);
  assert_non_null(strstr(json_string_value(json_object_get(latest, "schema")), "\"User\""));
  assert_true(json_is_false(json_object_get(subject, "compatibility_own")));
  json_decref(v);
}

static void test_an_unreplicated_write_times_out_and_a_failover_takes_it_back(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("a-value", SCHEMA_V1, &id), 200);
  struct mk_partition_state st = fault_followers("\"action\": \"follower_pause\"");
  /* The followers stay in the ISR (replica.lag.time.max.ms is 30 s): the HW cannot move. */
  int64_t t0 = now_ms();
  assert_int_equal(register_schema("b-value", SCHEMA_V2, &id), 500);
  int64_t waited = now_ms() - t0;
  assert_int_equal(id, 50002);
  assert_true(waited >= 450 && waited < 5000);
  assert_int_equal(schemas_state().high_watermark, 1);
  /* Reads now wait too (the registry holds an uncommitted record) and time out the same way. */
  json_t *j = NULL;
  assert_int_equal(call("GET", "/subjects", NULL, &j), 500);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 50002);
  json_decref(j);
  /* The leader dies; a follower that never copied the record leads: it is gone for good.
   * (The other follower fetches again, so the new leader's HW can move.) */
  test_broker_fault(broker, "{\"action\": \"broker_down\", \"broker\": %d}", st.leader);
  int32_t new_leader = schemas_state().leader;
  for (int i = 0; i < st.nfollowers; i++)
    if (st.followers[i] != new_leader)
      test_broker_fault(broker, "{\"action\": \"follower_resume\", \"topic\": \"_schemas\", "
                        "\"partition\": 0, \"broker\": %d}", st.followers[i]);
  assert_int_equal(call("GET", "/subjects/b-value/versions", NULL, &j), 404);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 40401);
  json_decref(j);
  assert_int_equal(call("GET", "/schemas/ids/1", NULL, &j), 200);
  json_decref(j);
  json_t *v = view();
  assert_int_equal(json_integer_value(json_object_get(v, "reloads")), 1);
  assert_int_equal(json_integer_value(json_object_get(v, "timeouts")), 2);
  json_decref(v);
}

static void test_failover_rebuilds_the_registry_from_the_new_leaders_log(void **state) {
  (void)state;
  start(NULL);
  int id1, id2, id3;
  assert_int_equal(register_schema("a-value", SCHEMA_V1, &id1), 200);
  assert_int_equal(register_schema("a-value", SCHEMA_V2, &id2), 200);
  struct mk_partition_state st = schemas_state();
  test_broker_fault(broker, "{\"action\": \"broker_down\", \"broker\": %d}", st.leader);
  assert_int_not_equal(schemas_state().leader, st.leader);
  json_t *j = NULL;
  assert_int_equal(call("GET", "/subjects/a-value/versions", NULL, &j), 200);
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  assert_int_equal(call("GET", "/schemas/ids/2", NULL, &j), 200);
  assert_non_null(strstr(json_string_value(json_object_get(j, "schema")), "age"));
  json_decref(j);
  /* Ids go on from the log: a new schema gets 3. */
  assert_int_equal(register_schema("b-value", "\"string\"", &id3), 200);
  assert_int_equal(id1, 1);
  assert_int_equal(id2, 2);
  assert_int_equal(id3, 3);
  json_t *v = view();
  assert_int_equal(json_integer_value(json_object_get(v, "reloads")), 1);
  json_decref(v);
}

static void test_an_isr_below_min_insync_refuses_writes_not_reads(void **state) {
  (void)state;
  start("replica.lag.time.max.ms", "200", NULL);
  int id;
  assert_int_equal(register_schema("a-value", SCHEMA_V1, &id), 200);
  struct mk_partition_state st = fault_followers("\"action\": \"follower_pause\"");
  /* The followers are still in the ISR: the answer waits. Behind for replica.lag.time.max.ms
   * (200 ms, less than kafkastore.timeout.ms), they leave it; the HW then moves to the
   * leader's log end (the ISR is the leader alone), and the answer comes. */
  int64_t t0 = now_ms();
  assert_int_equal(register_schema("a-value", SCHEMA_V2, &id), 200);
  assert_int_equal(id, 2);
  assert_true(now_ms() - t0 >= 150);
  st = schemas_state();
  int isr = 0;
  for (int i = 0; i < st.nreplicas; i++) isr += st.replicas[i].in_isr;
  assert_int_equal(isr, 1);
  assert_int_equal(st.high_watermark, 2);
  /* An ISR of 1 < min.insync.replicas 2: a new write is refused before anything is appended. */
  json_t *j = NULL;
  char *body = schema_body("\"string\"");
  assert_int_equal(call("POST", "/subjects/b-value/versions", body, &j), 500);
  free(body);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 50001);
  assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "min.insync.replicas"));
  json_decref(j);
  assert_int_equal(schemas_state().high_watermark, 2);
  for (int i = 0; i < st.nreplicas; i++)
    if (st.replicas[i].broker == st.leader)
      assert_int_equal(schemas_state().replicas[i].log_end_offset, 2);
  /* Reads go on. */
  assert_int_equal(call("GET", "/subjects/a-value/versions/latest", NULL, &j), 200);
  assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
  assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
  json_decref(j);
}

/* ---- the log is the truth: records from elsewhere, reset ---------------------------------- */

static void test_records_another_client_produced_to_schemas_are_replayed(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("own-value", SCHEMA_V1, &id), 200);  /* (makes _schemas) */
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_set(cfg, "bootstrap.servers", mk_broker_bootstrap(broker),
                                          &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "key.serializer", "StringSerializer", &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "value.serializer", "StringSerializer", &err), 0);
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  struct mk_producer *p;
  assert_int_equal(mk_producer_new(cfg, &p, &err), 0);
  mk_producer_config_free(cfg);
  json_t *value = json_pack("{s:s, s:i, s:i, s:s, s:b}", "subject", "ext-value", "version", 1,
                            "id", 7, "schema", "\"long\"", "deleted", 0);
  char *v = json_dumps(value, JSON_COMPACT);
  json_decref(value);
  struct mk_producer_record recs[] = {
      {.topic = "_schemas", .partition = 0, .timestamp = -1,
       .key = mk_value_string("{\"keytype\":\"SCHEMA\",\"subject\":\"ext-value\",\"version\":1,"
                              "\"magic\":1}"),
       .value = mk_value_string(v)},
      {.topic = "_schemas", .partition = 0, .timestamp = -1,
       .key = mk_value_string("not the registry's"), .value = mk_value_string("{}")},
  };
  for (int i = 0; i < 2; i++) assert_int_equal(mk_producer_send(p, &recs[i], NULL, NULL, NULL, &err), 0);
  assert_int_equal(mk_producer_flush(p, 10000, &err), 0);
  mk_producer_close(p, 5000);
  free(v);
  json_t *j = NULL;
  assert_int_equal(call("GET", "/schemas/ids/7", NULL, &j), 200);
  assert_string_equal(json_string_value(json_object_get(j, "schema")), "\"long\"");
  json_decref(j);
  /* The next new schema's id is after the highest seen. */
  assert_int_equal(register_schema("own-value", SCHEMA_V2, &id), 200);
  assert_int_equal(id, 8);
}

static void test_reset_empties_the_registry_and_its_topic(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("a-value", SCHEMA_V1, &id), 200);
  assert_int_equal(register_schema("b-value", SCHEMA_V2, &id), 200);
  struct mk_err rerr = {0};
  assert_int_equal(mk_broker_reset(broker, &rerr), 0);  /* POST /v1/reset's own call */
  json_t *j = NULL;
  assert_int_equal(call("GET", "/subjects", NULL, &j), 200);
  assert_int_equal(json_array_size(j), 0);
  json_decref(j);
  struct mk_partition_state st;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_partition_state(broker, "_schemas", 0, &st, &err),
                   MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  assert_int_equal(register_schema("c-value", SCHEMA_V2, &id), 200);
  assert_int_equal(id, 1);
  assert_int_equal(schemas_state().high_watermark, 1);
}

/* ---- HTTP: deferred answers in order, bad input ------------------------------------------- */

static void test_a_deferred_answer_keeps_pipelined_requests_in_order(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("w-value", "\"int\"", &id), 200);  /* (makes _schemas) */
  /* Followers copy each batch 100 ms late: the registration's answer waits that long. */
  fault_followers("\"action\": \"follower_lag\", \"ms\": 100");
  char *body = schema_body(SCHEMA_V1), *req = NULL;
  int n = asprintf(&req, "POST /subjects/x-value/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Length: %zu\r\n\r\n%s"
                   "GET /subjects HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                   "GET /schemas/ids/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                   strlen(body), body);
  free(body);
  int64_t t0 = now_ms();
  struct test_http_reply r;
  test_http_request(mk_broker_schema_registry_port(broker), req, (size_t)n, &r);
  int64_t waited = now_ms() - t0;
  free(req);
  assert_int_equal(r.status, 200);
  assert_true(waited >= 90);
  /* The first body, then the second and third answers, in order. */
  assert_true(starts_with(r.body, "{\"id\":2}HTTP/1.1 200 OK"));
  char *second = strstr(r.body, "\r\n\r\n");
  assert_non_null(second);
  assert_true(starts_with(second + 4, "[\"w-value\",\"x-value\"]HTTP/1.1 200 OK"));
  assert_non_null(strstr(second + 4, "\r\n\r\n{\"schema\":"));
  free(r.body);
}

static void test_bad_input_gets_confluents_errors_and_the_broker_carries_on(void **state) {
  (void)state;
  start(NULL);
  json_t *j = NULL;
  static const struct {
    const char *method, *path, *body;
    int status, code;
  } cases[] = {
      {"POST", "/subjects/a/versions", "{\"schema\": \"{not json\"}", 422, 42201},
      {"POST", "/subjects/a/versions", "{\"schema\": \"{\\\"type\\\": \\\"recrd\\\"}\"}", 422, 42201},
      {"POST", "/subjects/a/versions", "not json at all", 400, 400},
      {"POST", "/subjects/a/versions", "[1, 2]", 400, 400},
      {"POST", "/subjects/a/versions", "", 422, 422},
      {"POST", "/subjects/a/versions",
       "{\"schema\": \"\\\"int\\\"\", \"schemaType\": \"PROTOBUF\"}", 422, 42201},
      {"GET", "/subjects/nobody/versions", NULL, 404, 40401},
      {"GET", "/subjects/nobody/versions/latest", NULL, 404, 40401},
      {"GET", "/schemas/ids/12345", NULL, 404, 40403},
      {"GET", "/schemas/ids/notanumber", NULL, 404, 404},
      {"GET", "/nothing/here", NULL, 404, 404},
      {"PUT", "/config", "{\"compatibility\": \"SIDEWAYS\"}", 422, 42203},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int status = call(cases[i].method, cases[i].path, cases[i].body, &j);
    if (status != cases[i].status ||
        json_integer_value(json_object_get(j, "error_code")) != cases[i].code)
      fail_msg("%s %s %s: %d %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "",
               status, json_dumps(j, 0));
    assert_true(json_is_string(json_object_get(j, "message")));
    json_decref(j);
  }
  int id;
  assert_int_equal(register_schema("a-value", "\"int\"", &id), 200);  /* (a real subject now) */
  assert_int_equal(call("GET", "/subjects/a-value/versions/99", NULL, &j), 404);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 40402);
  json_decref(j);

  /* A schema over 1 MiB: refused by the registry (42209) before anything is written. */
  size_t big = (1 << 20) + 100;
  char *text = malloc(big + 1);
  memset(text, ' ', big);
  memcpy(text, "\"int\"", 5);
  text[big] = 0;
  char *body = schema_body(text);
  free(text);
  assert_int_equal(call("POST", "/subjects/big-value/versions", body, &j), 422);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 42209);
  json_decref(j);
  free(body);
  /* A body over the server's 3 MiB: 413, in Confluent's shape, from the HTTP layer. */
  size_t huge = (3u << 20) + 1;
  char *req = NULL;
  int n = asprintf(&req, "POST /subjects/a/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n", huge);
  struct test_http_reply r;
  test_http_request(mk_broker_schema_registry_port(broker), req, (size_t)n, &r);
  free(req);
  assert_int_equal(r.status, 413);
  j = json_loads(r.body, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(j, "error_code")), 413);
  json_decref(j);
  free(r.body);
  /* Bytes that are not HTTP. */
  test_http_request(mk_broker_schema_registry_port(broker), "\x16\x03\x01 hello\r\n\r\n", 13, &r);
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "\"error_code\":400"));
  free(r.body);
  /* The broker and the registry carry on. */
  assert_int_equal(call("GET", "/schemas/ids/1", NULL, &j), 200);
  json_decref(j);
  assert_int_equal(schemas_state().replicas[0].log_end_offset, 1);
}

static void test_stopping_with_an_answer_waiting_frees_it(void **state) {
  (void)state;
  start(NULL);
  int id;
  assert_int_equal(register_schema("w-value", "\"int\"", &id), 200);  /* (makes _schemas) */
  fault_followers("\"action\": \"follower_pause\"");
  /* A registration whose answer waits for the paused followers; the broker stops meanwhile. */
  char *body = schema_body(SCHEMA_V1), *req = NULL;
  int n = asprintf(&req, "POST /subjects/x-value/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
  free(body);
  int fd = test_http_send(mk_broker_schema_registry_port(broker), req, (size_t)n);
  free(req);
  int64_t deadline = now_ms() + 5000;
  while (schemas_state().replicas[0].log_end_offset + schemas_state().replicas[1].log_end_offset +
             schemas_state().replicas[2].log_end_offset == 3 && now_ms() < deadline)
    sleep_ms(5);  /* until the record is appended: the answer is waiting */
  mk_broker_stop(broker);
  mk_broker_free(broker);
  broker = NULL;
  /* The waiting answer was failed, not lost: 500 with why (or the connection closed first). */
  struct test_http_reply r;
  if (test_http_read(fd, &r) == 0) {
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "stopping"));
    free(r.body);
  }
}

int main(void) {
#define T(test, teardown) cmocka_unit_test_teardown(test, teardown)
  const struct CMUnitTest tests[] = {
      T(test_register_writes_a_replicated_record_in_confluents_shape, teardown),
      T(test_an_unreplicated_write_times_out_and_a_failover_takes_it_back, teardown),
      T(test_failover_rebuilds_the_registry_from_the_new_leaders_log, teardown),
      T(test_an_isr_below_min_insync_refuses_writes_not_reads, teardown),
      T(test_records_another_client_produced_to_schemas_are_replayed, teardown),
      T(test_reset_empties_the_registry_and_its_topic, teardown),
      T(test_a_deferred_answer_keeps_pipelined_requests_in_order, teardown),
      T(test_bad_input_gets_confluents_errors_and_the_broker_carries_on, teardown),
      T(test_stopping_with_an_answer_waiting_frees_it, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
