/*
 * Tests for protocol/consumer_protocol.c: the subscription a consumer puts in JoinGroup and
 * the assignment the leader hands out through SyncGroup. Bytes worked out by hand from
 * Kafka's specs, a round trip at every version, Kafka's rule for newer versions, the empty
 * assignment, and cut or wrong input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/consumer_protocol.h"
#include "tests/support/codec_check.h"

static struct mk_bytes bytes_of(const void *p, size_t len) {
  return (struct mk_bytes){p, (int32_t)len};
}

/* Version 0, as kafka-python 2.0.2 sends it: topics ["t"], no user data. */
static void test_subscription_v0_bytes(void **state) {
  (void)state;
  struct mk_str topics[] = {mk_str_of("t")};
  struct mk_consumer_protocol_subscription sub;
  mk_schema_set_defaults(&mk_consumer_protocol_subscription_schema, &sub);
  sub.topics = topics;
  sub.topics_count = 1;
  sub.rack_id = mk_str_of("r1");  /* v3+, and ignorable: left out of v0 */
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_subscription_encode(&sub, 0, &w, NULL), 0);
  static const uint8_t want[] = {
      0, 0,                   /* version */
      0, 0, 0, 1, 0, 1, 't',  /* topics: ["t"] */
      0xff, 0xff, 0xff, 0xff, /* user_data: null */
  };
  expect_bytes(&w, want, sizeof want);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_consumer_protocol_subscription back;
  int version = -2;
  assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(w.buf, w.len), &back,
                                                            &version, &a, NULL), 0);
  assert_int_equal(version, 0);
  assert_int_equal(back.topics_count, 1);
  assert_true(mk_str_eq(back.topics[0], "t"));
  assert_int_equal(back.user_data.len, -1);
  assert_int_equal(back.owned_partitions_count, 0);
  assert_int_equal(back.generation_id, -1);  /* defaults of what v0 lacks */
  assert_int_equal(back.rack_id.len, -1);
  mk_arena_free(&a);
  mk_writer_free(&w);
}

/* Version 3, as Kafka's Java consumer sends it: topics ["a", "b"], empty user data, owning
 * partition 1 of "a", generation 4, rack "r1". */
static void test_subscription_v3_bytes(void **state) {
  (void)state;
  struct mk_str topics[] = {mk_str_of("a"), mk_str_of("b")};
  int32_t owned[] = {1};
  struct mk_consumer_protocol_subscription_topic_partition tp = {mk_str_of("a"), owned, 1};
  struct mk_consumer_protocol_subscription sub;
  mk_schema_set_defaults(&mk_consumer_protocol_subscription_schema, &sub);
  sub.topics = topics;
  sub.topics_count = 2;
  sub.user_data = (struct mk_bytes){NULL, 0};
  sub.owned_partitions = &tp;
  sub.owned_partitions_count = 1;
  sub.generation_id = 4;
  sub.rack_id = mk_str_of("r1");
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_subscription_encode(&sub, MK_CONSUMER_PROTOCOL_VERSION,
                                                            &w, NULL), 0);
  static const uint8_t want[] = {
      0, 3,                               /* version */
      0, 0, 0, 2, 0, 1, 'a', 0, 1, 'b',   /* topics */
      0, 0, 0, 0,                         /* user_data: empty */
      0, 0, 0, 1,                         /* owned_partitions: 1 (v1+) */
      0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 1,  /*   "a": [1] */
      0, 0, 0, 4,                         /* generation_id (v2+) */
      0, 2, 'r', '1',                     /* rack_id (v3+) */
  };
  expect_bytes(&w, want, sizeof want);

  /* A newer version than ours is read as ours; what it appended is ignored (Kafka's rule). */
  uint8_t newer[sizeof want + 3];
  memcpy(newer, want, sizeof want);
  newer[1] = 7;
  memcpy(newer + sizeof want, "\x00\x09\x01", 3);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_consumer_protocol_subscription back;
  int version;
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(newer, sizeof newer), &back,
                                                            &version, &a, &err), 0);
  assert_int_equal(version, 7);
  assert_int_equal(back.topics_count, 2);
  assert_int_equal(back.owned_partitions[0].partitions[0], 1);
  assert_int_equal(back.generation_id, 4);
  assert_true(mk_str_eq(back.rack_id, "r1"));
  mk_arena_free(&a);
  mk_writer_free(&w);
}

/* Version 0: partitions 0 and 2 of "t", no user data. */
static void test_assignment_v0_bytes(void **state) {
  (void)state;
  int32_t parts[] = {0, 2};
  struct mk_consumer_protocol_assignment_topic_partition tp = {mk_str_of("t"), parts, 2};
  struct mk_consumer_protocol_assignment as;
  mk_schema_set_defaults(&mk_consumer_protocol_assignment_schema, &as);
  as.assigned_partitions = &tp;
  as.assigned_partitions_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_assignment_encode(&as, 0, &w, NULL), 0);
  static const uint8_t want[] = {
      0, 0,                                        /* version */
      0, 0, 0, 1,                                  /* assigned_partitions: 1 */
      0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, /*   "t": [0, 2] */
      0xff, 0xff, 0xff, 0xff,                      /* user_data: null */
  };
  expect_bytes(&w, want, sizeof want);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_consumer_protocol_assignment back;
  int version;
  assert_int_equal(mk_consumer_protocol_assignment_decode(bytes_of(w.buf, w.len), &back,
                                                          &version, &a, NULL), 0);
  assert_int_equal(version, 0);
  assert_int_equal(back.assigned_partitions[0].partitions_count, 2);
  assert_int_equal(back.assigned_partitions[0].partitions[1], 2);
  mk_arena_free(&a);
  mk_writer_free(&w);
}

/* The coordinator gives a member the leader left out an empty assignment; so does a null. */
static void test_empty_assignment_is_no_partitions(void **state) {
  (void)state;
  struct mk_consumer_protocol_assignment back;
  int version = 0;
  assert_int_equal(mk_consumer_protocol_assignment_decode((struct mk_bytes){NULL, 0}, &back,
                                                          &version, NULL, NULL), 0);
  assert_int_equal(version, -1);
  assert_int_equal(back.assigned_partitions_count, 0);
  assert_int_equal(back.user_data.len, -1);
  version = 0;
  assert_int_equal(mk_consumer_protocol_assignment_decode(MK_BYTES_NULL, &back, &version, NULL,
                                                          NULL), 0);
  assert_int_equal(version, -1);
}

static void test_bad_input_is_named(void **state) {
  (void)state;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_consumer_protocol_subscription sub;
  int version;
  struct mk_err err = {0};
  static const uint8_t negative[] = {0xff, 0xfe, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(negative, sizeof negative),
                                                            &sub, &version, &a, &err),
                   MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "ConsumerProtocolSubscription: version -2"));
  /* Cut inside the second topic's name. */
  static const uint8_t cut[] = {0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 3, 'b'};
  assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(cut, sizeof cut), &sub,
                                                            &version, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "topics[1] at byte 9"));
  /* A null where the spec allows none: an element of topics. */
  static const uint8_t null_topic[] = {0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(mk_consumer_protocol_subscription_decode(
                       bytes_of(null_topic, sizeof null_topic), &sub, &version, &a, &err),
                   MK_ERR__DECODE);
  /* Empty metadata is no subscription. */
  assert_int_equal(mk_consumer_protocol_subscription_decode((struct mk_bytes){NULL, 0}, &sub,
                                                            &version, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "too short"));
  struct mk_consumer_protocol_assignment as;
  assert_int_equal(mk_consumer_protocol_assignment_decode(bytes_of("\x00", 1), &as, &version,
                                                          &a, &err), MK_ERR__DECODE);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_assignment_encode(&as, 4, &w, &err), MK_ERR__UNSUPPORTED);
  mk_writer_free(&w);
  mk_arena_free(&a);
}

/* Random content at every version: encode, decode, encode again, same bytes; every strict
 * prefix (two bytes or more: shorter ones are "too short") fails to decode. */
static void test_every_version_round_trips(void **state) {
  (void)state;
  for (int v = 0; v <= MK_CONSUMER_PROTOCOL_VERSION; v++) {
    for (int iter = 0; iter < 20; iter++) {
      struct mk_arena a;
      mk_arena_init(&a);
      struct mk_consumer_protocol_subscription sub, sub2;
      struct mk_consumer_protocol_assignment as, as2;
      random_message_fill(&mk_consumer_protocol_subscription_schema, v, &sub, &a);
      random_message_fill(&mk_consumer_protocol_assignment_schema, v, &as, &a);
      struct mk_writer w[4];
      for (int i = 0; i < 4; i++) mk_writer_init(&w[i]);
      assert_int_equal(mk_consumer_protocol_subscription_encode(&sub, v, &w[0], NULL), 0);
      assert_int_equal(mk_consumer_protocol_assignment_encode(&as, v, &w[1], NULL), 0);
      int version;
      assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(w[0].buf, w[0].len),
                                                                &sub2, &version, &a, NULL), 0);
      assert_int_equal(version, v);
      assert_int_equal(mk_consumer_protocol_assignment_decode(bytes_of(w[1].buf, w[1].len),
                                                              &as2, &version, &a, NULL), 0);
      assert_int_equal(version, v);
      assert_int_equal(mk_consumer_protocol_subscription_encode(&sub2, v, &w[2], NULL), 0);
      assert_int_equal(mk_consumer_protocol_assignment_encode(&as2, v, &w[3], NULL), 0);
      for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].len, w[i + 2].len);
        assert_memory_equal(w[i].buf, w[i + 2].buf, w[i].len);
      }
      for (size_t n = 2; n < w[0].len; n++)
        assert_int_equal(mk_consumer_protocol_subscription_decode(bytes_of(w[0].buf, n), &sub2,
                                                                  &version, &a, NULL),
                         MK_ERR__DECODE);
      for (size_t n = 2; n < w[1].len; n++)
        assert_int_equal(mk_consumer_protocol_assignment_decode(bytes_of(w[1].buf, n), &as2,
                                                                &version, &a, NULL),
                         MK_ERR__DECODE);
      for (int i = 0; i < 4; i++) mk_writer_free(&w[i]);
      mk_arena_free(&a);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subscription_v0_bytes),
      cmocka_unit_test(test_subscription_v3_bytes),
      cmocka_unit_test(test_assignment_v0_bytes),
      cmocka_unit_test(test_empty_assignment_is_no_partitions),
      cmocka_unit_test(test_bad_input_is_named),
      cmocka_unit_test(test_every_version_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
