/*
 * Rewriting broker addresses in answers (proxy/rewrite.c), every version the codec reads:
 * Metadata 0-13, FindCoordinator 0-6 (one coordinator, then one per key), DescribeCluster
 * 0-2, and the leader hints of Produce 10-12 and Fetch 16-17. Each answer is built with the
 * codec, rewritten, decoded again: every address is the map's, everything else as it was.
 * And what must not pass: a version the codec does not read, bytes that are not the answer,
 * a map that has no listener left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "proxy/rewrite.h"

static int calls;
static int refuse_node = -100;

/* The proxy's listener for node n: 127.0.0.1:20000+n. */
static int listener(void *ctx, int32_t node_id, struct mk_str host, int32_t port,
                    struct mk_str *out_host, int32_t *out_port, struct mk_err *err) {
  (void)ctx;
  calls++;
  if (node_id == refuse_node) return mk_err_set(err, MK_ERR__STATE, "no listener for %d", node_id);
  /* The real address reaches the map (the proxy learns brokers from it). */
  char want[32];
  snprintf(want, sizeof want, "real-%d.example", node_id);
  assert_true(mk_str_eq(host, want));
  assert_int_equal(port, 9000 + node_id);
  *out_host = mk_str_of("127.0.0.1");
  *out_port = 20000 + node_id;
  return 0;
}
static const struct mk_rewrite_map map = {listener, NULL};

static struct mk_str real_host(int node) {
  static char hosts[16][32];
  snprintf(hosts[node], sizeof hosts[node], "real-%d.example", node);
  return mk_str_of(hosts[node]);
}

/* Encode body as the answer (api, version), rewrite it, decode the result into *out. */
static void round_trip(int api_key, int version, const void *body, void **out,
                       struct mk_arena *arena, bool expect_change) {
  struct mk_writer in, rewritten;
  mk_writer_init(&in);
  mk_writer_init(&rewritten);
  struct mk_err err = {0};
  if (mk_response_encode(&in, api_key, version, 77, body, &err))
    fail_msg("%s v%d: %s", mk_api_find(api_key)->name, version, err.msg);
  void *decoded;
  bool changed;
  int rc = mk_rewrite_response(api_key, version, in.buf + 4, in.len - 4, &map, arena, &decoded,
                               &changed, &rewritten, &err);
  if (rc) fail_msg("%s v%d: %s", mk_api_find(api_key)->name, version, err.msg);
  assert_int_equal(changed, expect_change);
  const struct mk_writer *result = changed ? &rewritten : &in;
  /* The answer stays a whole frame: its size prefix counts the rest. */
  assert_int_equal(mk_load_u32(result->buf), result->len - 4);
  int32_t cid;
  uint8_t *copy = mk_arena_alloc(arena, result->len);
  memcpy(copy, result->buf, result->len);
  if (mk_response_decode(copy + 4, result->len - 4, api_key, version, &cid, out, arena, &err))
    fail_msg("%s v%d decodes no more: %s", mk_api_find(api_key)->name, version, err.msg);
  assert_int_equal(cid, 77);
  mk_writer_free(&in);
  mk_writer_free(&rewritten);
}

static void test_metadata_every_version(void **state) {
  (void)state;
  for (int v = 0; v <= 13; v++) {
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_metadata_response r;
    mk_schema_set_defaults(&mk_metadata_response_schema, &r);
    struct mk_metadata_response_broker b[2];
    for (int i = 0; i < 2; i++) {
      mk_schema_set_defaults(&mk_metadata_response_broker_schema, &b[i]);
      b[i].node_id = 5 + 4 * i;
      b[i].host = real_host(b[i].node_id);
      b[i].port = 9000 + b[i].node_id;
    }
    r.brokers = b;
    r.brokers_count = 2;
    struct mk_metadata_response_topic t;
    mk_schema_set_defaults(&mk_metadata_response_topic_schema, &t);
    t.name = mk_str_of("orders");
    r.topics = &t;
    r.topics_count = 1;
    if (v >= 1) r.controller_id = 9;
    if (v >= 2) r.cluster_id = mk_str_of("the-cluster");
    calls = 0;
    struct mk_metadata_response *out;
    round_trip(MK_API_METADATA, v, &r, (void **)&out, &a, true);
    assert_int_equal(calls, 2);
    assert_int_equal(out->brokers_count, 2);
    for (int i = 0; i < 2; i++) {
      assert_int_equal(out->brokers[i].node_id, 5 + 4 * i);
      assert_true(mk_str_eq(out->brokers[i].host, "127.0.0.1"));
      assert_int_equal(out->brokers[i].port, 20000 + out->brokers[i].node_id);
    }
    assert_int_equal(out->topics_count, 1);
    assert_true(mk_str_eq(out->topics[0].name, "orders"));
    if (v >= 2) assert_true(mk_str_eq(out->cluster_id, "the-cluster"));
    if (v >= 1) assert_int_equal(out->controller_id, 9);
    mk_arena_free(&a);
  }
}

static void test_find_coordinator_every_version(void **state) {
  (void)state;
  for (int v = 0; v <= 6; v++) {
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_find_coordinator_response r;
    mk_schema_set_defaults(&mk_find_coordinator_response_schema, &r);
    struct mk_find_coordinator_coordinator c[2];
    if (v < 4) {
      r.node_id = 3;
      r.host = real_host(3);
      r.port = 9003;
    } else {  /* one per key; the second found none: nothing to rewrite there */
      for (int i = 0; i < 2; i++)
        mk_schema_set_defaults(&mk_find_coordinator_coordinator_schema, &c[i]);
      c[0].key = mk_str_of("g1");
      c[0].node_id = 3;
      c[0].host = real_host(3);
      c[0].port = 9003;
      c[1].key = mk_str_of("g2");
      c[1].node_id = -1;
      c[1].host = mk_str_of("");
      c[1].port = -1;
      c[1].error_code = MK_ERR_COORDINATOR_NOT_AVAILABLE;
      r.coordinators = c;
      r.coordinators_count = 2;
    }
    calls = 0;
    struct mk_find_coordinator_response *out;
    round_trip(MK_API_FIND_COORDINATOR, v, &r, (void **)&out, &a, true);
    assert_int_equal(calls, 1);
    if (v < 4) {
      assert_true(mk_str_eq(out->host, "127.0.0.1"));
      assert_int_equal(out->port, 20003);
    } else {
      assert_int_equal(out->coordinators_count, 2);
      assert_int_equal(out->coordinators[0].port, 20003);
      assert_int_equal(out->coordinators[1].port, -1);
      assert_int_equal(out->coordinators[1].error_code, MK_ERR_COORDINATOR_NOT_AVAILABLE);
    }
    mk_arena_free(&a);
  }
}

static void test_describe_cluster_every_version(void **state) {
  (void)state;
  for (int v = 0; v <= 2; v++) {
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_describe_cluster_response r;
    mk_schema_set_defaults(&mk_describe_cluster_response_schema, &r);
    struct mk_describe_cluster_broker b;
    mk_schema_set_defaults(&mk_describe_cluster_broker_schema, &b);
    b.broker_id = 2;
    b.host = real_host(2);
    b.port = 9002;
    r.brokers = &b;
    r.brokers_count = 1;
    r.cluster_id = mk_str_of("c");
    struct mk_describe_cluster_response *out;
    round_trip(MK_API_DESCRIBE_CLUSTER, v, &r, (void **)&out, &a, true);
    assert_true(mk_str_eq(out->brokers[0].host, "127.0.0.1"));
    assert_int_equal(out->brokers[0].port, 20002);
    mk_arena_free(&a);
  }
}

/* Produce and Fetch answers carry addresses only in leader hints: without hints, the bytes
 * pass as they are; with them, the hints are rewritten and the records kept. */
static void test_leader_hints_of_produce_and_fetch(void **state) {
  (void)state;
  for (int v = 10; v <= 12; v++) {
    for (int hinted = 0; hinted < 2; hinted++) {
      struct mk_arena a;
      mk_arena_init(&a);
      struct mk_produce_response r;
      mk_schema_set_defaults(&mk_produce_response_schema, &r);
      struct mk_produce_node_endpoint e;
      mk_schema_set_defaults(&mk_produce_node_endpoint_schema, &e);
      e.node_id = 1;
      e.host = real_host(1);
      e.port = 9001;
      if (hinted) {
        r.node_endpoints = &e;
        r.node_endpoints_count = 1;
      }
      struct mk_produce_response *out;
      round_trip(MK_API_PRODUCE, v, &r, (void **)&out, &a, hinted);
      if (hinted) assert_int_equal(out->node_endpoints[0].port, 20001);
      mk_arena_free(&a);
    }
  }
  static const uint8_t records[] = {1, 2, 3, 4};
  for (int v = 16; v <= 17; v++) {
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_fetch_response r;
    mk_schema_set_defaults(&mk_fetch_response_schema, &r);
    struct mk_fetch_node_endpoint e;
    mk_schema_set_defaults(&mk_fetch_node_endpoint_schema, &e);
    e.node_id = 4;
    e.host = real_host(4);
    e.port = 9004;
    r.node_endpoints = &e;
    r.node_endpoints_count = 1;
    struct mk_fetch_partition_data pd;
    mk_schema_set_defaults(&mk_fetch_partition_data_schema, &pd);
    pd.records = (struct mk_bytes){records, sizeof records};
    struct mk_fetch_fetchable_topic_response t;
    mk_schema_set_defaults(&mk_fetch_fetchable_topic_response_schema, &t);
    t.topic_id.b[0] = 7;
    t.partitions = &pd;
    t.partitions_count = 1;
    r.responses = &t;
    r.responses_count = 1;
    struct mk_fetch_response *out;
    round_trip(MK_API_FETCH, v, &r, (void **)&out, &a, true);
    assert_int_equal(out->node_endpoints[0].port, 20004);
    assert_int_equal(out->responses[0].partitions[0].records.len, 4);
    assert_memory_equal(out->responses[0].partitions[0].records.ptr, records, 4);
    mk_arena_free(&a);
  }
  /* Older versions have no hints: not even read. */
  assert_false(mk_rewrite_needed(MK_API_PRODUCE, 9));
  assert_false(mk_rewrite_needed(MK_API_FETCH, 15));
  assert_false(mk_rewrite_needed(MK_API_API_VERSIONS, 3));
  assert_true(mk_rewrite_needed(MK_API_METADATA, 0));
}

static void test_what_cannot_be_rewritten_is_an_error(void **state) {
  (void)state;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_writer out;
  mk_writer_init(&out);
  struct mk_err err = {0};
  void *body;
  bool changed;
  static const uint8_t bytes[] = {0, 0, 0, 1, 0, 0, 0, 0, 0};
  /* A version the codec does not read. */
  assert_int_equal(mk_rewrite_response(MK_API_METADATA, 14, bytes, sizeof bytes, &map, &a, &body,
                                       &changed, &out, &err),
                   MK_ERR_UNSUPPORTED_VERSION);
  assert_non_null(strstr(err.msg, "Metadata v14"));
  assert_int_equal(out.len, 0);
  /* Bytes that are not the answer. */
  assert_int_equal(mk_rewrite_response(MK_API_METADATA, 9, bytes, sizeof bytes, &map, &a, &body,
                                       &changed, &out, &err),
                   MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "does not decode"));
  assert_int_equal(out.len, 0);
  /* No listener for a broker: the map's error, and no answer with a real address in it. */
  struct mk_metadata_response r;
  mk_schema_set_defaults(&mk_metadata_response_schema, &r);
  struct mk_metadata_response_broker b;
  mk_schema_set_defaults(&mk_metadata_response_broker_schema, &b);
  b.node_id = 6;
  b.host = real_host(6);
  b.port = 9006;
  r.brokers = &b;
  r.brokers_count = 1;
  struct mk_writer in;
  mk_writer_init(&in);
  assert_int_equal(mk_response_encode(&in, MK_API_METADATA, 1, 1, &r, &err), 0);
  refuse_node = 6;
  assert_int_equal(mk_rewrite_response(MK_API_METADATA, 1, in.buf + 4, in.len - 4, &map, &a,
                                       &body, &changed, &out, &err),
                   MK_ERR__STATE);
  refuse_node = -100;
  assert_string_equal(err.msg, "no listener for 6");
  assert_int_equal(out.len, 0);
  mk_writer_free(&in);
  mk_writer_free(&out);
  mk_arena_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metadata_every_version),
      cmocka_unit_test(test_find_coordinator_every_version),
      cmocka_unit_test(test_describe_cluster_every_version),
      cmocka_unit_test(test_leader_hints_of_produce_and_fetch),
      cmocka_unit_test(test_what_cannot_be_rewritten_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
