/*
 * Tests for protocol/schema.c: the table-driven codec, over every API and version we support.
 *
 * The core property: fill a message with random values (only the fields the version has),
 * encode, decode, encode again, and get the same bytes. Then every strict prefix of those
 * bytes must fail to decode (a truncated message is never mistaken for a whole one), and
 * random garbage must decode or fail cleanly, never crash (ASan/UBSan runs check that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/consumer_offsets_records.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/produce.h"
#include "protocol/schema.h"
#include "tests/support/codec_check.h"

/* One schema at one version: random fill, encode, decode, re-encode, compare; prefixes fail. */
static void round_trip(const struct mk_schema *s, int version, bool flexible) {
  for (int iter = 0; iter < 20; iter++) {
    struct mk_arena a;
    mk_arena_init(&a);
    void *msg = mk_arena_alloc(&a, s->size);
    random_message_fill(s, version, msg, &a);

    struct mk_writer w1, w2;
    mk_writer_init(&w1);
    mk_writer_init(&w2);
    struct mk_err err = {0};
    int rc = mk_schema_encode(s, version, flexible, msg, &w1, &err);
    if (rc) fail_msg("%s v%d encode: %s", s->name, version, err.msg);

    void *back = mk_arena_alloc(&a, s->size);
    struct mk_reader r;
    mk_reader_init(&r, w1.buf, w1.len);
    rc = mk_schema_decode(s, version, flexible, &r, back, &a, &err);
    if (rc) fail_msg("%s v%d decode: %s", s->name, version, err.msg);
    assert_int_equal(r.pos, w1.len);

    rc = mk_schema_encode(s, version, flexible, back, &w2, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(w1.len, w2.len);
    assert_memory_equal(w1.buf, w2.buf, w1.len);

    /* Every strict prefix must fail to decode, with an error naming the message. */
    for (size_t cut = 0; cut < w1.len; cut++) {
      struct mk_arena a2;
      mk_arena_init(&a2);
      void *part = mk_arena_alloc(&a2, s->size);
      mk_reader_init(&r, w1.buf, cut);
      struct mk_err e2 = {0};
      rc = mk_schema_decode(s, version, flexible, &r, part, &a2, &e2);
      if (rc != MK_ERR__DECODE)
        fail_msg("%s v%d: prefix %zu of %zu decoded (rc %d)", s->name, version, cut, w1.len, rc);
      assert_non_null(strstr(e2.msg, s->name));
      mk_arena_free(&a2);
    }
    mk_writer_free(&w1);
    mk_writer_free(&w2);
    mk_arena_free(&a);
  }
}

static void test_every_api_and_version_round_trips(void **state) {
  (void)state;
  int checked = 0;
  for (size_t i = 0; i < mk_api_count; i++) {
    const struct mk_api *api = &mk_apis[i];
    for (int v = api->min_version; v <= api->max_version; v++) {
      bool flex = mk_api_is_flexible(api, v);
      round_trip(api->request, v, flex);
      round_trip(api->response, v, flex);
      checked += 2;
    }
  }
  /* 21 APIs: make sure the loop really covered every version of the table. */
  assert_true(checked > 250);
}

static void test_garbage_never_crashes(void **state) {
  (void)state;
  uint8_t buf[512];
  for (size_t i = 0; i < mk_api_count; i++) {
    const struct mk_api *api = &mk_apis[i];
    for (int v = api->min_version; v <= api->max_version; v++) {
      for (int iter = 0; iter < 30; iter++) {
        size_t len = random_next() % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)random_next();
        /* Bias some inputs toward small lengths and counts so decoding goes deep. */
        if (iter % 2) for (size_t j = 0; j < len; j++) buf[j] &= 0x03;
        struct mk_arena a;
        mk_arena_init(&a);
        struct mk_reader r;
        mk_reader_init(&r, buf, len);
        void *out = mk_arena_alloc(&a, api->request->size);
        int rc = mk_schema_decode(api->request, v, mk_api_is_flexible(api, v), &r, out, &a, NULL);
        assert_true(rc == 0 || rc == MK_ERR__DECODE);
        assert_true(a.total < 64 * sizeof buf * 16);
        mk_arena_free(&a);
      }
    }
  }
}

/* Metadata v1 request for topic "t", worked out by hand from the spec:
 *   topics: int32 count 1, then name: int16 length 1, 't'. */
static void test_metadata_v1_request_bytes(void **state) {
  (void)state;
  struct mk_metadata_request_topic topic;
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  memset(&topic, 0, sizeof topic);
  topic.name = mk_str_of("t");
  req.topics = &topic;
  req.topics_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_metadata_request_schema, 1, false, &req, &w, NULL), 0);
  const uint8_t want[] = {0, 0, 0, 1, 0, 1, 't'};
  assert_int_equal(w.len, sizeof want);
  assert_memory_equal(w.buf, want, sizeof want);
  mk_writer_free(&w);
}

/* The same request at v9 (flexible): compact array (count+1 = 2), topic_id uuid (16 zero
 * bytes, v10+ only so absent here), compact string (len+1 = 2) 't', the topic's empty tagged
 * section, allow_auto_topic_creation (v4+), include_cluster_authorized_operations (v8-10),
 * include_topic_authorized_operations (v8+), the message's empty tagged section. */
static void test_metadata_v9_request_bytes(void **state) {
  (void)state;
  struct mk_metadata_request_topic topic;
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  memset(&topic, 0, sizeof topic);
  topic.name = mk_str_of("t");
  req.topics = &topic;
  req.topics_count = 1;
  req.allow_auto_topic_creation = true;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_metadata_request_schema, 9, true, &req, &w, NULL), 0);
  const uint8_t want[] = {2, 2, 't', 0, 1, 0, 0, 0};
  assert_int_equal(w.len, sizeof want);
  assert_memory_equal(w.buf, want, sizeof want);
  mk_writer_free(&w);
}

static void test_null_where_not_allowed_is_an_error(void **state) {
  (void)state;
  /* Metadata v1: topics[0].name is not nullable until v10. A null (int16 -1) must fail. */
  const uint8_t bytes[] = {0, 0, 0, 1, 0xff, 0xff};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_request req;
  struct mk_reader r;
  mk_reader_init(&r, bytes, sizeof bytes);
  struct mk_err err = {0};
  assert_int_equal(mk_schema_decode(&mk_metadata_request_schema, 1, false, &r, &req, &a, &err),
                   MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "topics[0].name"));
  assert_non_null(strstr(err.msg, "null"));
  mk_arena_free(&a);
}

/* An array's elements are never null, even in a nullable array (Kafka's generated readers
 * reject it). DescribeConfigs v1: resources[0] = {type 2, name "t", configuration_keys [null]}. */
static void test_null_array_element_is_an_error(void **state) {
  (void)state;
  const uint8_t bytes[] = {0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 1, 0xff, 0xff, 0};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_describe_configs_request req;
  struct mk_reader r;
  mk_reader_init(&r, bytes, sizeof bytes);
  struct mk_err err = {0};
  assert_int_equal(mk_schema_decode(&mk_describe_configs_request_schema, 1, false, &r, &req, &a, &err),
                   MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "configuration_keys[0]"));
  mk_arena_free(&a);
}

static void test_array_count_larger_than_input_is_refused(void **state) {
  (void)state;
  /* Metadata v1: a topics count of 2^31-1 with 2 bytes behind it. No 2^31-element allocation. */
  const uint8_t bytes[] = {0x7f, 0xff, 0xff, 0xff, 0, 1};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_request req;
  struct mk_reader r;
  mk_reader_init(&r, bytes, sizeof bytes);
  struct mk_err err = {0};
  assert_int_equal(mk_schema_decode(&mk_metadata_request_schema, 1, false, &r, &req, &a, &err),
                   MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "topics at byte 0"));
  assert_true(a.total < 1024);
  mk_arena_free(&a);
}

static void test_unknown_tagged_fields_are_skipped(void **state) {
  (void)state;
  /* ApiVersions v3 request: client_software_name "a", version "b", then a tagged section
   * holding tag 99 with 3 bytes of payload we do not understand. */
  const uint8_t bytes[] = {2, 'a', 2, 'b', 1, 99, 3, 1, 2, 3};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_api_versions_request req;
  struct mk_reader r;
  mk_reader_init(&r, bytes, sizeof bytes);
  assert_int_equal(mk_schema_decode(&mk_api_versions_request_schema, 3, true, &r, &req, &a, NULL), 0);
  assert_true(mk_str_eq(req.client_software_name, "a"));
  assert_true(mk_str_eq(req.client_software_version, "b"));
  assert_int_equal(r.pos, sizeof bytes);
  mk_arena_free(&a);
}

static void test_known_tagged_field_round_trips(void **state) {
  (void)state;
  /* ProduceResponse v10: current_leader is tagged (tag 0) in each partition response. */
  struct mk_produce_partition_produce_response part;
  mk_schema_set_defaults(&mk_produce_partition_produce_response_schema, &part);
  part.index = 2;
  part.error_code = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  part.current_leader.leader_id = 7;
  part.current_leader.leader_epoch = 3;
  struct mk_produce_topic_produce_response topic = {mk_str_of("t"), &part, 1};
  struct mk_produce_response resp;
  mk_schema_set_defaults(&mk_produce_response_schema, &resp);
  resp.responses = &topic;
  resp.responses_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_produce_response_schema, 10, true, &resp, &w, NULL), 0);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_produce_response back;
  struct mk_reader r;
  mk_reader_init(&r, w.buf, w.len);
  assert_int_equal(mk_schema_decode(&mk_produce_response_schema, 10, true, &r, &back, &a, NULL), 0);
  assert_int_equal(back.responses[0].partition_responses[0].current_leader.leader_id, 7);
  assert_int_equal(back.responses[0].partition_responses[0].current_leader.leader_epoch, 3);

  /* At v9 the tag does not exist: the field decodes as its default (-1). */
  mk_writer_free(&w);
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_produce_response_schema, 9, true, &resp, &w, NULL), 0);
  mk_reader_init(&r, w.buf, w.len);
  assert_int_equal(mk_schema_decode(&mk_produce_response_schema, 9, true, &r, &back, &a, NULL), 0);
  assert_int_equal(back.responses[0].partition_responses[0].current_leader.leader_id, -1);
  mk_writer_free(&w);
  mk_arena_free(&a);
}

static void test_value_the_version_cannot_carry_is_refused(void **state) {
  (void)state;
  /* Metadata v3 has no allow_auto_topic_creation (v4+), and the field is not ignorable... */
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  req.topics_count = -1;
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  /* ...but its default is true, so leaving it alone must encode fine. */
  assert_int_equal(mk_schema_encode(&mk_metadata_request_schema, 3, false, &req, &w, &err), 0);
  /* Produce v2 cannot carry a transactional id (v3+). */
  struct mk_produce_request p;
  mk_schema_set_defaults(&mk_produce_request_schema, &p);
  p.transactional_id = mk_str_of("txn");
  assert_int_equal(mk_schema_encode(&mk_produce_request_schema, 2, false, &p, &w, &err),
                   MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "transactional_id"));
  mk_writer_free(&w);
}

/* ---- the API table ----------------------------------------------------------------------- */

/* Every row: a range we read, an advertised range inside it (the minimum aside, see api.h),
 * a flexible version that is one of ours or never, both schemas. */
static void test_api_table_is_consistent(void **state) {
  (void)state;
  for (size_t i = 0; i < mk_api_count; i++) {
    const struct mk_api *api = &mk_apis[i];
    assert_true(api->min_version <= api->max_version);
    assert_true(api->advertised_min <= api->min_version);
    assert_true(api->advertised_max >= api->min_version);
    assert_true(api->advertised_max <= api->max_version);
    assert_true(api->flexible_since == MK_V_NEVER ||
                (api->flexible_since >= 0 && api->flexible_since <= api->max_version));
    assert_non_null(api->request);
    assert_non_null(api->response);
    assert_ptr_equal(mk_api_find(api->key), api);
    assert_ptr_equal(mk_api_by_name(api->name), api);
    assert_true(mk_api_advertises(api, api->advertised_max));
    assert_false(mk_api_advertises(api, api->advertised_max + 1));
    for (size_t j = 0; j < i; j++) assert_int_not_equal(mk_apis[j].key, api->key);
  }
}

/* The group and transaction APIs: every version Kafka 3.9 serves, up to 4.0's newest. */
static void test_group_and_transaction_ranges(void **state) {
  (void)state;
  static const struct {
    int key, lo, hi, adv_hi, flex;
  } want[] = {
      {MK_API_FIND_COORDINATOR, 0, 6, 6, 3}, {MK_API_JOIN_GROUP, 0, 9, 9, 6},
      {MK_API_SYNC_GROUP, 0, 5, 5, 4},       {MK_API_HEARTBEAT, 0, 4, 4, 4},
      {MK_API_LEAVE_GROUP, 0, 5, 5, 4},      {MK_API_OFFSET_COMMIT, 0, 9, 9, 8},
      {MK_API_OFFSET_FETCH, 0, 9, 9, 6},     {MK_API_DESCRIBE_GROUPS, 0, 6, 6, 5},
      {MK_API_LIST_GROUPS, 0, 5, 5, 3},      {MK_API_DELETE_GROUPS, 0, 2, 2, 2},
      {MK_API_OFFSET_DELETE, 0, 0, 0, MK_V_NEVER}, {MK_API_CREATE_PARTITIONS, 0, 3, 3, 2},
      {MK_API_INIT_PRODUCER_ID, 0, 5, 5, 2}, {MK_API_ADD_PARTITIONS_TO_TXN, 0, 5, 3, 3},
      {MK_API_ADD_OFFSETS_TO_TXN, 0, 4, 4, 3}, {MK_API_END_TXN, 0, 5, 4, 3},
      {MK_API_TXN_OFFSET_COMMIT, 0, 5, 5, 3},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const struct mk_api *api = mk_api_find(want[i].key);
    assert_non_null(api);
    if (api->min_version != want[i].lo || api->max_version != want[i].hi ||
        api->advertised_min != want[i].lo || api->advertised_max != want[i].adv_hi ||
        api->flexible_since != want[i].flex)
      fail_msg("%s: read %d-%d advertised %d-%d flexible %d, want %d-%d, %d-%d, %d", api->name,
               api->min_version, api->max_version, api->advertised_min, api->advertised_max,
               api->flexible_since, want[i].lo, want[i].hi, want[i].lo, want[i].adv_hi,
               want[i].flex);
  }
  /* What the clients in Debian send (librdkafka 2.0.2, kafka-python 2.0.2) and old Go
   * clients: each must be read and advertised. */
  static const struct {
    int key, version;
  } sent[] = {
      {MK_API_JOIN_GROUP, 5},    {MK_API_SYNC_GROUP, 3},    {MK_API_HEARTBEAT, 3},
      {MK_API_OFFSET_COMMIT, 7}, {MK_API_OFFSET_FETCH, 7},  {MK_API_JOIN_GROUP, 2},
      {MK_API_SYNC_GROUP, 1},    {MK_API_OFFSET_COMMIT, 2}, {MK_API_OFFSET_FETCH, 1},
      {MK_API_JOIN_GROUP, 0},    {MK_API_JOIN_GROUP, 1},
  };
  for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
    const struct mk_api *api = mk_api_find(sent[i].key);
    assert_true(mk_api_supports(api, sent[i].version));
    assert_true(mk_api_advertises(api, sent[i].version));
  }
}

/* ---- versions Kafka 4.0's specs dropped ----------------------------------------------------- */

/* JoinGroup v0 (older Go clients), worked out by hand: group_id "g", session_timeout_ms
 * 10000, member_id "", protocol_type "consumer", one protocol "range" with 2 bytes of
 * metadata. No rebalance_timeout_ms (v1+): reading it back gives its default, -1. */
static void test_join_group_v0_request_bytes(void **state) {
  (void)state;
  struct mk_join_group_request_protocol proto = {mk_str_of("range"),
                                                 {(const uint8_t *)"\x00\x01", 2}};
  struct mk_join_group_request req;
  mk_schema_set_defaults(&mk_join_group_request_schema, &req);
  req.group_id = mk_str_of("g");
  req.session_timeout_ms = 10000;
  req.protocol_type = mk_str_of("consumer");
  req.protocols = &proto;
  req.protocols_count = 1;
  req.rebalance_timeout_ms = 60000;  /* ignorable: dropped at v0 */
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_join_group_request_schema, 0, false, &req, &w, NULL), 0);
  static const uint8_t want[] = {
      0, 1, 'g',                                    /* group_id */
      0, 0, 0x27, 0x10,                             /* session_timeout_ms 10000 */
      0, 0,                                         /* member_id "" */
      0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', /* protocol_type */
      0, 0, 0, 1,                                   /* protocols: 1 */
      0, 5, 'r', 'a', 'n', 'g', 'e',                /*   name */
      0, 0, 0, 2, 0, 1,                             /*   metadata: 2 bytes */
  };
  expect_bytes(&w, want, sizeof want);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_join_group_request back;
  struct mk_reader r;
  mk_reader_init(&r, w.buf, w.len);
  assert_int_equal(mk_schema_decode(&mk_join_group_request_schema, 0, false, &r, &back, &a, NULL),
                   0);
  assert_int_equal(back.rebalance_timeout_ms, -1);
  assert_int_equal(back.session_timeout_ms, 10000);
  assert_true(mk_str_eq(back.protocols[0].name, "range"));
  mk_arena_free(&a);
  mk_writer_free(&w);
}

/* OffsetCommit v1 carries a commit_timestamp per partition, a field only v1 has (Kafka 4.0's
 * spec dropped it with the version; generate.py takes it from the older spec). By hand:
 * group_id "g", generation 3, member_id "m", topic "t", partition 0 at offset 42 committed at
 * 1000 ms, metadata "". */
static void test_offset_commit_v1_request_bytes(void **state) {
  (void)state;
  struct mk_offset_commit_request_partition part;
  mk_schema_set_defaults(&mk_offset_commit_request_partition_schema, &part);
  part.committed_offset = 42;
  part.commit_timestamp = 1000;
  part.committed_metadata = mk_str_of("");
  struct mk_offset_commit_request_topic topic = {mk_str_of("t"), &part, 1};
  struct mk_offset_commit_request req;
  mk_schema_set_defaults(&mk_offset_commit_request_schema, &req);
  req.group_id = mk_str_of("g");
  req.generation_id_or_member_epoch = 3;
  req.member_id = mk_str_of("m");
  req.topics = &topic;
  req.topics_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_schema_encode(&mk_offset_commit_request_schema, 1, false, &req, &w, NULL),
                   0);
  static const uint8_t want[] = {
      0, 1, 'g',                  /* group_id */
      0, 0, 0, 3,                 /* generation_id_or_member_epoch */
      0, 1, 'm',                  /* member_id */
      0, 0, 0, 1, 0, 1, 't',      /* topics: 1, name "t" */
      0, 0, 0, 1, 0, 0, 0, 0,     /* partitions: 1, partition_index 0 */
      0, 0, 0, 0, 0, 0, 0, 42,    /* committed_offset */
      0, 0, 0, 0, 0, 0, 0x03, 0xe8, /* commit_timestamp 1000 (v1 only) */
      0, 0,                       /* committed_metadata "" */
  };
  expect_bytes(&w, want, sizeof want);
  /* v2 has no commit_timestamp and the field is not ignorable: a value there is refused. */
  struct mk_err err = {0};
  w.len = 0;
  assert_int_equal(mk_schema_encode(&mk_offset_commit_request_schema, 2, false, &req, &w, &err),
                   MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "commit_timestamp"));
  mk_writer_free(&w);
}

/* ---- data messages: int16 version, then the body ------------------------------------------- */

/* OffsetCommitKey v1 for group "g", topic "t", partition 0, as in Kafka's spec: int16 1,
 * string "g", string "t", int32 0. */
static void test_data_message_has_its_version_in_front(void **state) {
  (void)state;
  struct mk_offset_commit_key key = {mk_str_of("g"), mk_str_of("t"), 0};
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_data_encode(&mk_offset_commit_key_data, 1, &key, &w, NULL), 0);
  static const uint8_t want[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0};
  expect_bytes(&w, want, sizeof want);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_offset_commit_key back;
  int version = -2;
  struct mk_err err = {0};
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_EXACT, w.buf, w.len,
                                  &version, &back, &a, &err), 0);
  assert_int_equal(version, 1);
  assert_true(mk_str_eq(back.group, "g") && mk_str_eq(back.topic, "t"));

  /* A version the spec does not have, either way. */
  assert_int_equal(mk_data_encode(&mk_offset_commit_key_data, 2, &key, &w, &err),
                   MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "OffsetCommitKey"));
  uint8_t v9[sizeof want];
  memcpy(v9, want, sizeof want);
  v9[1] = 9;
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_EXACT, v9, sizeof v9,
                                  &version, &back, &a, &err), MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "version 9"));
  /* Under MK_DATA_NEWER_AS_LATEST v9 is read as v1 (the newest), and says 9. */
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_NEWER_AS_LATEST, v9,
                                  sizeof v9, &version, &back, &a, &err), 0);
  assert_int_equal(version, 9);
  /* One byte too many: refused exactly, ignored leniently. */
  mk_write_i8(&w, 0);
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_EXACT, w.buf, w.len,
                                  &version, &back, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "1 byte after the message"));
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_NEWER_AS_LATEST, w.buf,
                                  w.len, &version, &back, &a, &err), 0);
  /* Shorter than the version itself. */
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_EXACT, w.buf, 1, &version,
                                  &back, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "too short"));
  /* Cut inside the topic: the error names the field and the byte (from the version on). */
  assert_int_equal(mk_data_decode(&mk_offset_commit_key_data, MK_DATA_EXACT, w.buf, 7, &version,
                                  &back, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "OffsetCommitKey v1: topic at byte 5"));
  mk_arena_free(&a);
  mk_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_api_and_version_round_trips),
      cmocka_unit_test(test_garbage_never_crashes),
      cmocka_unit_test(test_metadata_v1_request_bytes),
      cmocka_unit_test(test_metadata_v9_request_bytes),
      cmocka_unit_test(test_null_where_not_allowed_is_an_error),
      cmocka_unit_test(test_array_count_larger_than_input_is_refused),
      cmocka_unit_test(test_null_array_element_is_an_error),
      cmocka_unit_test(test_unknown_tagged_fields_are_skipped),
      cmocka_unit_test(test_known_tagged_field_round_trips),
      cmocka_unit_test(test_value_the_version_cannot_carry_is_refused),
      cmocka_unit_test(test_api_table_is_consistent),
      cmocka_unit_test(test_group_and_transaction_ranges),
      cmocka_unit_test(test_join_group_v0_request_bytes),
      cmocka_unit_test(test_offset_commit_v1_request_bytes),
      cmocka_unit_test(test_data_message_has_its_version_in_front),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
