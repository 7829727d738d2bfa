/*
 * Error faults on a real cluster (proxy/error_fault.c), without sockets: for each API the
 * fault table lets an `error` fault target, a request is built with the codec and decoded as
 * the proxy would see it, then planned against a fault:
 *   ANSWER  covers all of it: the proxy's answer carries the error on every topic/partition
 *   SPLIT   covers part: the request forwarded lacks that part; the cluster's answer (made up
 *           here for the forwarded request) gets the error for it merged in
 *   AFTER   written first (REQUEST_TIMED_OUT on Produce), or Metadata for every topic: the
 *           request goes as it is, and the answer gets the error on the covered items
 *   NONE    covers nothing
 * Topic "a" is the faulted one, "b" the other; topic ids resolve through test targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "proxy/error_fault.h"

static struct mk_arena arena;

static bool t_broker(const void *ctx, int32_t id, char *ids, size_t len) {
  (void)ctx;
  (void)ids;
  (void)len;
  return id >= 0;
}
static int32_t t_topic(const void *ctx, struct mk_str name) {
  (void)ctx;
  (void)name;
  return MK_FAULT_TOPIC_UNSEEN;
}
/* Topic id {1, 0, ...} is "a", {2, 0, ...} is "b". */
static struct mk_str t_topic_name(const void *ctx, struct mk_uuid id) {
  (void)ctx;
  return id.b[0] == 1 ? mk_str_of("a") : id.b[0] == 2 ? mk_str_of("b") : MK_STR_NULL;
}
static const struct mk_fault_targets targets = {NULL, t_broker, t_topic, t_topic_name};

static struct mk_fault fault_of(const char *json) {
  struct mk_fault f;
  struct mk_err err = {0};
  if (mk_fault_parse(json, strlen(json), &f, &err)) fail_msg("%s: %s", json, err.msg);
  return f;
}

/* The request as the proxy decodes it off the wire. */
static struct mk_request request(int api_key, int version, const void *body) {
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_request_header h = {(int16_t)api_key, (int16_t)version, 42, mk_str_of("test")};
  struct mk_err err = {0};
  if (mk_request_encode(&w, &h, body, &err)) fail_msg("encode: %s", err.msg);
  uint8_t *bytes = mk_arena_alloc(&arena, w.len);
  memcpy(bytes, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_request req;
  if (mk_request_decode(bytes + 4, mk_load_u32(bytes), &req, &arena, &err))
    fail_msg("decode: %s", err.msg);
  return req;
}

/* A whole frame (size prefix included) decoded: a response, or a request when api_key < 0
 * (then *req is filled). */
static void *answer_of(const struct mk_writer *w, int api_key, int version) {
  uint8_t *bytes = mk_arena_alloc(&arena, w->len);
  memcpy(bytes, w->buf, w->len);
  assert_int_equal(mk_load_u32(bytes), w->len - 4);
  int32_t cid;
  void *body;
  struct mk_err err = {0};
  if (mk_response_decode(bytes + 4, w->len - 4, api_key, version, &cid, &body, &arena, &err))
    fail_msg("answer: %s", err.msg);
  assert_int_equal(cid, 42);
  return body;
}

static struct mk_request forwarded(const struct mk_writer *w) {
  uint8_t *bytes = mk_arena_alloc(&arena, w->len);
  memcpy(bytes, w->buf, w->len);
  struct mk_request req;
  struct mk_err err = {0};
  if (mk_request_decode(bytes + 4, w->len - 4, &req, &arena, &err))
    fail_msg("forwarded: %s", err.msg);
  return req;
}

static enum mk_error_plan plan(const struct mk_request *req, const char *fault,
                               struct mk_writer *out) {
  struct mk_fault f = fault_of(fault);
  enum mk_error_plan p;
  struct mk_err err = {0};
  mk_writer_init(out);
  if (mk_error_fault_plan(req, &f, &targets, &arena, &p, out, &err)) fail_msg("plan: %s", err.msg);
  return p;
}

/* Merge the cluster's answer (body, encoded here) with the fault's part. */
static void *merged(const struct mk_request *req, const char *fault, const void *body) {
  struct mk_writer w, out;
  mk_writer_init(&w);
  mk_writer_init(&out);
  struct mk_err err = {0};
  assert_int_equal(mk_response_encode(&w, req->header.api_key, req->header.api_version, 42, body,
                                      &err), 0);
  struct mk_fault f = fault_of(fault);
  if (mk_error_fault_merge(req, &f, &targets, w.buf + 4, w.len - 4, &arena, &out, &err))
    fail_msg("merge: %s", err.msg);
  void *answer = answer_of(&out, req->header.api_key, req->header.api_version);
  mk_writer_free(&w);
  mk_writer_free(&out);
  return answer;
}

static int setup(void **state) {
  (void)state;
  mk_arena_init(&arena);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  mk_arena_free(&arena);
  return 0;
}

/* ---- Produce --------------------------------------------------------------------------------- */

static const uint8_t batch[] = {0xde, 0xad};  /* records pass as bytes: their content is not read */

static struct mk_produce_request produce_request(struct mk_produce_topic_produce_data *t,
                                                 struct mk_produce_partition_produce_data *p) {
  p[0] = (struct mk_produce_partition_produce_data){0, {batch, 2}};
  p[1] = (struct mk_produce_partition_produce_data){1, {batch, 2}};
  p[2] = (struct mk_produce_partition_produce_data){0, {batch, 2}};
  t[0] = (struct mk_produce_topic_produce_data){mk_str_of("a"), &p[0], 2};
  t[1] = (struct mk_produce_topic_produce_data){mk_str_of("b"), &p[2], 1};
  return (struct mk_produce_request){MK_STR_NULL, -1, 1000, t, 2};
}

static const struct mk_produce_partition_produce_response *
produce_partition(const struct mk_produce_response *r, const char *topic, int32_t index) {
  for (int i = 0; i < r->responses_count; i++)
    for (int j = 0;
         mk_str_eq(r->responses[i].name, topic) && j < r->responses[i].partition_responses_count;
         j++)
      if (r->responses[i].partition_responses[j].index == index)
        return &r->responses[i].partition_responses[j];
  fail_msg("no answer for %s-%d", topic, index);
  return NULL;
}

static void test_produce_part_covered_is_split_and_merged(void **state) {
  (void)state;
  struct mk_produce_topic_produce_data t[2];
  struct mk_produce_partition_produce_data p[3];
  struct mk_produce_request in = produce_request(t, p);
  struct mk_request req = request(MK_API_PRODUCE, 8, &in);
  const char *fault = "{\"action\": \"error\", \"api\": \"Produce\", \"error\": "
                      "\"NOT_LEADER_OR_FOLLOWER\", \"topic\": \"a\", \"partition\": 0}";
  struct mk_writer out;
  assert_int_equal(plan(&req, fault, &out), MK_ERROR_SPLIT);
  struct mk_request fw = forwarded(&out);
  const struct mk_produce_request *fr = fw.body;
  assert_int_equal(fw.header.correlation_id, 42);
  assert_int_equal(fr->topic_data_count, 2);  /* a with partition 1 only, and b */
  assert_true(mk_str_eq(fr->topic_data[0].name, "a"));
  assert_int_equal(fr->topic_data[0].partition_data_count, 1);
  assert_int_equal(fr->topic_data[0].partition_data[0].index, 1);
  assert_int_equal(fr->topic_data[0].partition_data[0].records.len, 2);
  assert_true(mk_str_eq(fr->topic_data[1].name, "b"));
  mk_writer_free(&out);
  /* The cluster answers what it got; the proxy adds a-0's error. */
  struct mk_produce_partition_produce_response pr[2];
  for (int i = 0; i < 2; i++)
    mk_schema_set_defaults(&mk_produce_partition_produce_response_schema, &pr[i]);
  pr[0].index = 1;
  pr[0].base_offset = 5;
  pr[1].index = 0;
  pr[1].base_offset = 7;
  struct mk_produce_topic_produce_response tr[2] = {{mk_str_of("a"), &pr[0], 1},
                                                     {mk_str_of("b"), &pr[1], 1}};
  struct mk_produce_response resp;
  mk_schema_set_defaults(&mk_produce_response_schema, &resp);
  resp.responses = tr;
  resp.responses_count = 2;
  const struct mk_produce_response *m = merged(&req, fault, &resp);
  assert_int_equal(produce_partition(m, "a", 0)->error_code, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(produce_partition(m, "a", 0)->base_offset, -1);
  assert_int_equal(produce_partition(m, "a", 1)->base_offset, 5);
  assert_int_equal(produce_partition(m, "b", 0)->base_offset, 7);
  assert_int_equal(produce_partition(m, "b", 0)->error_code, 0);
}

static void test_produce_all_covered_is_answered(void **state) {
  (void)state;
  struct mk_produce_topic_produce_data t[2];
  struct mk_produce_partition_produce_data p[3];
  struct mk_produce_request in = produce_request(t, p);
  for (int v = 3; v <= 12; v++) {
    struct mk_request req = request(MK_API_PRODUCE, v, &in);
    struct mk_writer out;
    assert_int_equal(plan(&req, "{\"action\": \"error\", \"api\": \"Produce\", \"error\": "
                                "\"NOT_ENOUGH_REPLICAS\"}", &out), MK_ERROR_ANSWER);
    const struct mk_produce_response *r = answer_of(&out, MK_API_PRODUCE, v);
    assert_int_equal(r->responses_count, 2);
    assert_int_equal(produce_partition(r, "a", 0)->error_code, MK_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(produce_partition(r, "a", 1)->error_code, MK_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(produce_partition(r, "b", 0)->error_code, MK_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(produce_partition(r, "b", 0)->base_offset, -1);
    mk_writer_free(&out);
  }
}

static void test_produce_error_after_append_goes_through(void **state) {
  (void)state;
  struct mk_produce_topic_produce_data t[2];
  struct mk_produce_partition_produce_data p[3];
  struct mk_produce_request in = produce_request(t, p);
  struct mk_request req = request(MK_API_PRODUCE, 9, &in);
  const char *fault = "{\"action\": \"error\", \"api\": \"Produce\", \"error\": "
                      "\"REQUEST_TIMED_OUT\", \"topic\": \"b\"}";
  struct mk_writer out;
  assert_int_equal(plan(&req, fault, &out), MK_ERROR_AFTER);
  assert_int_equal(out.len, 0);
  struct mk_produce_partition_produce_response pr[3];
  for (int i = 0; i < 3; i++) {
    mk_schema_set_defaults(&mk_produce_partition_produce_response_schema, &pr[i]);
    pr[i].index = i < 2 ? i : 0;
    pr[i].base_offset = 10 + i;
  }
  struct mk_produce_topic_produce_response tr[2] = {{mk_str_of("a"), &pr[0], 2},
                                                     {mk_str_of("b"), &pr[2], 1}};
  struct mk_produce_response resp;
  mk_schema_set_defaults(&mk_produce_response_schema, &resp);
  resp.responses = tr;
  resp.responses_count = 2;
  const struct mk_produce_response *m = merged(&req, fault, &resp);
  assert_int_equal(produce_partition(m, "b", 0)->error_code, MK_ERR_REQUEST_TIMED_OUT);
  assert_int_equal(produce_partition(m, "b", 0)->base_offset, -1);
  assert_int_equal(produce_partition(m, "a", 0)->base_offset, 10);
  assert_int_equal(produce_partition(m, "a", 1)->error_code, 0);
}

/* ---- Fetch, by name and by id ---------------------------------------------------------------- */

static void test_fetch_by_id_names_its_topics_through_the_targets(void **state) {
  (void)state;
  struct mk_fetch_partition fp[2];
  for (int i = 0; i < 2; i++) {
    mk_schema_set_defaults(&mk_fetch_partition_schema, &fp[i]);
    fp[i].partition = 0;
  }
  struct mk_fetch_topic ft[2];
  for (int i = 0; i < 2; i++) {
    mk_schema_set_defaults(&mk_fetch_topic_schema, &ft[i]);
    ft[i].topic_id.b[0] = (uint8_t)(i + 1);  /* a, b */
    ft[i].partitions = &fp[i];
    ft[i].partitions_count = 1;
  }
  struct mk_fetch_request in;
  mk_schema_set_defaults(&mk_fetch_request_schema, &in);
  in.topics = ft;
  in.topics_count = 2;
  struct mk_request req = request(MK_API_FETCH, 13, &in);
  const char *fault = "{\"action\": \"error\", \"api\": \"Fetch\", \"error\": "
                      "\"NOT_LEADER_OR_FOLLOWER\", \"topic\": \"a\"}";
  struct mk_writer out;
  assert_int_equal(plan(&req, fault, &out), MK_ERROR_SPLIT);
  const struct mk_fetch_request *fr = forwarded(&out).body;
  assert_int_equal(fr->topics_count, 1);
  assert_int_equal(fr->topics[0].topic_id.b[0], 2);
  mk_writer_free(&out);
  struct mk_fetch_response resp;
  mk_schema_set_defaults(&mk_fetch_response_schema, &resp);
  const struct mk_fetch_response *m = merged(&req, fault, &resp);
  assert_int_equal(m->responses_count, 1);
  assert_int_equal(m->responses[0].topic_id.b[0], 1);
  assert_int_equal(m->responses[0].partitions[0].error_code, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(m->responses[0].partitions[0].high_watermark, -1);
}

static void test_list_offsets_answered(void **state) {
  (void)state;
  struct mk_list_offsets_partition p;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &p);
  p.partition_index = 3;
  struct mk_list_offsets_topic t = {mk_str_of("a"), &p, 1};
  struct mk_list_offsets_request in;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &in);
  in.topics = &t;
  in.topics_count = 1;
  struct mk_request req = request(MK_API_LIST_OFFSETS, 5, &in);
  struct mk_writer out;
  assert_int_equal(plan(&req, "{\"action\": \"error\", \"api\": \"ListOffsets\", \"error\": "
                              "\"UNKNOWN_TOPIC_OR_PARTITION\", \"topic\": \"a\"}", &out),
                   MK_ERROR_ANSWER);
  const struct mk_list_offsets_response *r = answer_of(&out, MK_API_LIST_OFFSETS, 5);
  assert_int_equal(r->topics[0].partitions[0].partition_index, 3);
  assert_int_equal(r->topics[0].partitions[0].error_code, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  assert_int_equal(r->topics[0].partitions[0].offset, -1);
  mk_writer_free(&out);
}

/* ---- topic-level APIs ------------------------------------------------------------------------ */

static void test_metadata_named_and_for_every_topic(void **state) {
  (void)state;
  struct mk_metadata_request_topic t[2];
  for (int i = 0; i < 2; i++) mk_schema_set_defaults(&mk_metadata_request_topic_schema, &t[i]);
  t[0].name = mk_str_of("a");
  t[1].name = mk_str_of("b");
  struct mk_metadata_request in;
  mk_schema_set_defaults(&mk_metadata_request_schema, &in);
  in.topics = t;
  in.topics_count = 2;
  struct mk_request req = request(MK_API_METADATA, 9, &in);
  const char *fault = "{\"action\": \"error\", \"api\": \"Metadata\", \"error\": "
                      "\"TOPIC_AUTHORIZATION_FAILED\", \"topic\": \"a\"}";
  struct mk_writer out;
  assert_int_equal(plan(&req, fault, &out), MK_ERROR_SPLIT);
  const struct mk_metadata_request *fr = forwarded(&out).body;
  assert_int_equal(fr->topics_count, 1);
  assert_true(mk_str_eq(fr->topics[0].name, "b"));
  mk_writer_free(&out);
  /* For every topic: forwarded as it is; the answer's topic a gets the error, no partitions. */
  in.topics = NULL;
  in.topics_count = -1;
  struct mk_request all = request(MK_API_METADATA, 9, &in);
  assert_int_equal(plan(&all, fault, &out), MK_ERROR_AFTER);
  struct mk_metadata_response_partition part;
  mk_schema_set_defaults(&mk_metadata_response_partition_schema, &part);
  struct mk_metadata_response_topic rt[2];
  for (int i = 0; i < 2; i++) {
    mk_schema_set_defaults(&mk_metadata_response_topic_schema, &rt[i]);
    rt[i].name = mk_str_of(i ? "b" : "a");
    rt[i].partitions = &part;
    rt[i].partitions_count = 1;
  }
  struct mk_metadata_response resp;
  mk_schema_set_defaults(&mk_metadata_response_schema, &resp);
  resp.topics = rt;
  resp.topics_count = 2;
  const struct mk_metadata_response *m = merged(&all, fault, &resp);
  assert_int_equal(m->topics_count, 2);
  assert_int_equal(m->topics[0].error_code, MK_ERR_TOPIC_AUTHORIZATION_FAILED);
  assert_int_equal(m->topics[0].partitions_count, 0);
  assert_int_equal(m->topics[1].error_code, 0);
  assert_int_equal(m->topics[1].partitions_count, 1);
}

static void test_topic_admin_apis(void **state) {
  (void)state;
  /* CreateTopics: a is answered by the proxy, b goes to the cluster. */
  struct mk_create_topics_creatable_topic ct[2];
  for (int i = 0; i < 2; i++) {
    mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &ct[i]);
    ct[i].name = mk_str_of(i ? "b" : "a");
    ct[i].num_partitions = 1;
    ct[i].replication_factor = 1;
  }
  struct mk_create_topics_request cin;
  mk_schema_set_defaults(&mk_create_topics_request_schema, &cin);
  cin.topics = ct;
  cin.topics_count = 2;
  struct mk_request creq = request(MK_API_CREATE_TOPICS, 5, &cin);
  struct mk_writer out;
  assert_int_equal(plan(&creq, "{\"action\": \"error\", \"api\": \"CreateTopics\", \"error\": "
                               "\"POLICY_VIOLATION\", \"topic\": \"a\"}", &out), MK_ERROR_SPLIT);
  const struct mk_create_topics_request *cf = forwarded(&out).body;
  assert_int_equal(cf->topics_count, 1);
  assert_true(mk_str_eq(cf->topics[0].name, "b"));
  mk_writer_free(&out);
  /* DeleteTopics by plain names (v1) and by states (v6). */
  struct mk_str names[2] = {mk_str_of("a"), mk_str_of("b")};
  struct mk_delete_topics_request din;
  mk_schema_set_defaults(&mk_delete_topics_request_schema, &din);
  din.topic_names = names;
  din.topic_names_count = 2;
  struct mk_request dreq = request(MK_API_DELETE_TOPICS, 1, &din);
  const char *dfault = "{\"action\": \"error\", \"api\": \"DeleteTopics\", \"error\": "
                       "\"TOPIC_DELETION_DISABLED\", \"topic\": \"a\"}";
  assert_int_equal(plan(&dreq, dfault, &out), MK_ERROR_SPLIT);
  const struct mk_delete_topics_request *df = forwarded(&out).body;
  assert_int_equal(df->topic_names_count, 1);
  assert_true(mk_str_eq(df->topic_names[0], "b"));
  mk_writer_free(&out);
  struct mk_delete_topics_response dresp;
  mk_schema_set_defaults(&mk_delete_topics_response_schema, &dresp);
  const struct mk_delete_topics_response *dm = merged(&dreq, dfault, &dresp);
  assert_int_equal(dm->responses_count, 1);
  assert_true(mk_str_eq(dm->responses[0].name, "a"));
  assert_int_equal(dm->responses[0].error_code, MK_ERR_TOPIC_DELETION_DISABLED);
  struct mk_delete_topics_delete_topic_state st[1];
  mk_schema_set_defaults(&mk_delete_topics_delete_topic_state_schema, &st[0]);
  st[0].name = mk_str_of("a");
  mk_schema_set_defaults(&mk_delete_topics_request_schema, &din);
  din.topics = st;
  din.topics_count = 1;
  struct mk_request d6 = request(MK_API_DELETE_TOPICS, 6, &din);
  assert_int_equal(plan(&d6, dfault, &out), MK_ERROR_ANSWER);
  const struct mk_delete_topics_response *d6r = answer_of(&out, MK_API_DELETE_TOPICS, 6);
  assert_int_equal(d6r->responses[0].error_code, MK_ERR_TOPIC_DELETION_DISABLED);
  mk_writer_free(&out);
  /* CreatePartitions, and a fault on a topic the request does not name. */
  struct mk_create_partitions_topic cp;
  mk_schema_set_defaults(&mk_create_partitions_topic_schema, &cp);
  cp.name = mk_str_of("b");
  cp.count = 4;
  struct mk_create_partitions_request pin;
  mk_schema_set_defaults(&mk_create_partitions_request_schema, &pin);
  pin.topics = &cp;
  pin.topics_count = 1;
  struct mk_request preq = request(MK_API_CREATE_PARTITIONS, 2, &pin);
  assert_int_equal(plan(&preq, "{\"action\": \"error\", \"api\": \"CreatePartitions\", \"error\": "
                               "\"POLICY_VIOLATION\", \"topic\": \"a\"}", &out), MK_ERROR_NONE);
  assert_int_equal(out.len, 0);
  assert_int_equal(plan(&preq, "{\"action\": \"error\", \"api\": \"CreatePartitions\", \"error\": "
                               "\"POLICY_VIOLATION\"}", &out), MK_ERROR_ANSWER);
  const struct mk_create_partitions_response *pr = answer_of(&out, MK_API_CREATE_PARTITIONS, 2);
  assert_int_equal(pr->results[0].error_code, MK_ERR_POLICY_VIOLATION);
  assert_true(mk_str_eq(pr->results[0].name, "b"));
  mk_writer_free(&out);
}

/* ---- the APIs that name no topic: answered whole --------------------------------------------- */

static void test_whole_request_apis(void **state) {
  (void)state;
  struct mk_writer out;
  struct mk_init_producer_id_request ip;
  mk_schema_set_defaults(&mk_init_producer_id_request_schema, &ip);
  struct mk_request r1 = request(MK_API_INIT_PRODUCER_ID, 2, &ip);
  assert_int_equal(plan(&r1, "{\"action\": \"error\", \"api\": \"InitProducerId\", \"error\": "
                             "\"COORDINATOR_NOT_AVAILABLE\"}", &out), MK_ERROR_ANSWER);
  const struct mk_init_producer_id_response *a1 = answer_of(&out, MK_API_INIT_PRODUCER_ID, 2);
  assert_int_equal(a1->error_code, MK_ERR_COORDINATOR_NOT_AVAILABLE);
  assert_int_equal(a1->producer_id, -1);
  mk_writer_free(&out);

  struct mk_find_coordinator_request fc;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &fc);
  fc.key = mk_str_of("g");
  struct mk_request r2 = request(MK_API_FIND_COORDINATOR, 2, &fc);
  const char *cfault = "{\"action\": \"error\", \"api\": \"FindCoordinator\", \"error\": "
                       "\"COORDINATOR_LOAD_IN_PROGRESS\"}";
  assert_int_equal(plan(&r2, cfault, &out), MK_ERROR_ANSWER);
  const struct mk_find_coordinator_response *a2 = answer_of(&out, MK_API_FIND_COORDINATOR, 2);
  assert_int_equal(a2->error_code, MK_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  assert_int_equal(a2->node_id, -1);
  mk_writer_free(&out);
  struct mk_str keys[2] = {mk_str_of("g1"), mk_str_of("g2")};
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &fc);
  fc.coordinator_keys = keys;
  fc.coordinator_keys_count = 2;
  struct mk_request r3 = request(MK_API_FIND_COORDINATOR, 4, &fc);
  assert_int_equal(plan(&r3, cfault, &out), MK_ERROR_ANSWER);
  const struct mk_find_coordinator_response *a3 = answer_of(&out, MK_API_FIND_COORDINATOR, 4);
  assert_int_equal(a3->coordinators_count, 2);
  assert_true(mk_str_eq(a3->coordinators[1].key, "g2"));
  assert_int_equal(a3->coordinators[1].error_code, MK_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  mk_writer_free(&out);

  struct mk_describe_cluster_request dc;
  mk_schema_set_defaults(&mk_describe_cluster_request_schema, &dc);
  struct mk_request r4 = request(MK_API_DESCRIBE_CLUSTER, 0, &dc);
  assert_int_equal(plan(&r4, "{\"action\": \"error\", \"api\": \"DescribeCluster\", \"error\": "
                             "\"CLUSTER_AUTHORIZATION_FAILED\"}", &out), MK_ERROR_ANSWER);
  const struct mk_describe_cluster_response *a4 = answer_of(&out, MK_API_DESCRIBE_CLUSTER, 0);
  assert_int_equal(a4->error_code, MK_ERR_CLUSTER_AUTHORIZATION_FAILED);
  mk_writer_free(&out);

  struct mk_describe_configs_resource res;
  mk_schema_set_defaults(&mk_describe_configs_resource_schema, &res);
  res.resource_type = 2;
  res.resource_name = mk_str_of("a");
  struct mk_describe_configs_request dcf;
  mk_schema_set_defaults(&mk_describe_configs_request_schema, &dcf);
  dcf.resources = &res;
  dcf.resources_count = 1;
  struct mk_request r5 = request(MK_API_DESCRIBE_CONFIGS, 1, &dcf);
  assert_int_equal(plan(&r5, "{\"action\": \"error\", \"api\": \"DescribeConfigs\", \"error\": "
                             "\"POLICY_VIOLATION\"}", &out), MK_ERROR_ANSWER);
  const struct mk_describe_configs_response *a5 = answer_of(&out, MK_API_DESCRIBE_CONFIGS, 1);
  assert_int_equal(a5->results_count, 1);
  assert_true(mk_str_eq(a5->results[0].resource_name, "a"));
  assert_int_equal(a5->results[0].error_code, MK_ERR_POLICY_VIOLATION);
  mk_writer_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_produce_part_covered_is_split_and_merged, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_produce_all_covered_is_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_produce_error_after_append_goes_through, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fetch_by_id_names_its_topics_through_the_targets, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list_offsets_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metadata_named_and_for_every_topic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_topic_admin_apis, setup, teardown),
      cmocka_unit_test_setup_teardown(test_whole_request_apis, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
