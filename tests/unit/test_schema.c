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
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "protocol/schema.h"

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static const char *const words[] = {"", "t", "topic-1", "a-much-longer-string-for-lengths", "ü"};

static void fill_struct(const struct mk_schema *s, int version, void *out, struct mk_arena *a,
                        int depth);

static void fill_value(const struct mk_field *f, int type, int version, void *p,
                       struct mk_arena *a, int depth, bool may_null) {
  switch (type) {
    case MK_BOOL: *(bool *)p = next_rand() & 1; break;
    case MK_INT8: *(int8_t *)p = (int8_t)next_rand(); break;
    case MK_INT16: *(int16_t *)p = (int16_t)next_rand(); break;
    case MK_UINT16: *(uint16_t *)p = (uint16_t)next_rand(); break;
    case MK_INT32: *(int32_t *)p = (int32_t)next_rand(); break;
    case MK_UINT32: *(uint32_t *)p = next_rand(); break;
    case MK_INT64: *(int64_t *)p = (int64_t)((uint64_t)next_rand() << 32 | next_rand()); break;
    case MK_FLOAT64: *(double *)p = (double)next_rand() / 7.0; break;
    case MK_UUID:
      for (int i = 0; i < 16; i++) ((struct mk_uuid *)p)->b[i] = (uint8_t)next_rand();
      break;
    case MK_STRING:
      if (may_null && next_rand() % 4 == 0)
        *(struct mk_str *)p = MK_STR_NULL;
      else
        *(struct mk_str *)p = mk_str_of(words[next_rand() % 5]);
      break;
    case MK_BYTES: case MK_RECORDS:
      if (may_null && next_rand() % 4 == 0)
        *(struct mk_bytes *)p = MK_BYTES_NULL;
      else
        *(struct mk_bytes *)p =
            (struct mk_bytes){(const uint8_t *)"\x00\x01\x02\xff binary", (int32_t)(next_rand() % 12)};
      break;
    case MK_STRUCT: fill_struct(f->schema, version, p, a, depth + 1); break;
  }
}

static size_t elem_size(const struct mk_field *f) { return mk_schema_value_size(f->elem, f->schema); }

static void fill_struct(const struct mk_schema *s, int version, void *out, struct mk_arena *a,
                        int depth) {
  mk_schema_set_defaults(s, out);
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (!mk_field_present(f, version)) continue;
    char *base = out;
    if (f->type != MK_ARRAY) {
      fill_value(f, f->type, version, base + f->offset, a, depth, version >= f->nullable_since);
      continue;
    }
    int32_t n = depth > 3 ? 0 : (int32_t)(next_rand() % 3);
    if (version >= f->nullable_since && next_rand() % 5 == 0) n = -1;
    void *items = n > 0 ? mk_arena_alloc(a, elem_size(f) * (size_t)n) : NULL;
    for (int32_t j = 0; j < n; j++)
      fill_value(f, f->elem, version, (char *)items + elem_size(f) * (size_t)j, a, depth, false);
    *(void **)(base + f->offset) = items;
    *(int32_t *)(base + f->count_offset) = n;
  }
}

/* One schema at one version: random fill, encode, decode, re-encode, compare; prefixes fail. */
static void round_trip(const struct mk_schema *s, int version, bool flexible) {
  for (int iter = 0; iter < 20; iter++) {
    struct mk_arena a;
    mk_arena_init(&a);
    void *msg = mk_arena_alloc(&a, s->size);
    fill_struct(s, version, msg, &a, 0);

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
        size_t len = next_rand() % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)next_rand();
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
