/*
 * Tests for protocol/coordinator_records.c: the records of __consumer_offsets and
 * __transaction_state. Exact bytes for records worked out by hand from Kafka's specs, a
 * round trip of every record type at every key and value version, tombstones, and the ways
 * a stored record can be wrong (unknown type or version, cut short, bytes left over).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/coordinator_records.h"
#include "tests/support/codec_check.h"

struct encoded {
  struct mk_writer key, value;
};

static void encode(const struct mk_coordinator_record *rec, struct encoded *e) {
  mk_writer_init(&e->key);
  mk_writer_init(&e->value);
  struct mk_err err = {0};
  if (mk_coordinator_record_encode(rec, &e->key, &e->value, &err))
    fail_msg("encode %s: %s", mk_coordinator_record_type_name(rec->type), err.msg);
}

static void encoded_free(struct encoded *e) {
  mk_writer_free(&e->key);
  mk_writer_free(&e->value);
}

static struct mk_bytes bytes_of(const struct mk_writer *w) {
  return (struct mk_bytes){w->buf, (int32_t)w->len};
}

/* Decode e as a record of topic, expecting success. */
static void decode_ok(int topic, const struct encoded *e, struct mk_coordinator_record *out,
                      struct mk_arena *a) {
  struct mk_err err = {0};
  if (mk_coordinator_record_decode(topic, bytes_of(&e->key), bytes_of(&e->value), out, a, &err))
    fail_msg("decode: %s", err.msg);
}

/* ---- bytes by hand -------------------------------------------------------------------------- */

/* Key version 1 for group "g", topic "t", partition 0: int16 1, string "g", string "t",
 * int32 0. Value version 3: offset 42, leader epoch 5, metadata "", commit timestamp
 * 1700000000000 ms. */
static void test_offset_commit_record_bytes(void **state) {
  (void)state;
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_OFFSET_COMMIT);
  assert_int_equal(rec.key_version, 1);
  assert_int_equal(rec.value_version, 3);
  rec.key.offset_commit = (struct mk_offset_commit_key){mk_str_of("g"), mk_str_of("t"), 0};
  rec.value.offset_commit.offset = 42;
  rec.value.offset_commit.leader_epoch = 5;
  rec.value.offset_commit.metadata = mk_str_of("");
  rec.value.offset_commit.commit_timestamp = 1700000000000;
  struct encoded e;
  encode(&rec, &e);
  static const uint8_t key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0};
  static const uint8_t value[] = {
      0, 3,                                     /* version */
      0, 0, 0, 0, 0, 0, 0, 42,                  /* offset */
      0, 0, 0, 5,                               /* leader_epoch (v3+) */
      0, 0,                                     /* metadata "" */
      0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* commit_timestamp */
  };
  expect_bytes(&e.key, key, sizeof key);
  expect_bytes(&e.value, value, sizeof value);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record back;
  decode_ok(MK_CONSUMER_OFFSETS, &e, &back, &a);
  assert_int_equal(back.type, MK_RECORD_OFFSET_COMMIT);
  assert_int_equal(back.key_version, 1);
  assert_int_equal(back.value_version, 3);
  assert_false(back.tombstone);
  assert_true(mk_str_eq(back.key.offset_commit.group, "g"));
  assert_true(mk_str_eq(back.key.offset_commit.topic, "t"));
  assert_int_equal(back.value.offset_commit.offset, 42);
  assert_int_equal(back.value.offset_commit.leader_epoch, 5);
  assert_int_equal(back.value.offset_commit.expire_timestamp, -1);  /* v1 only */
  mk_arena_free(&a);
  encoded_free(&e);

  /* Value version 1 (a commit with a retention time): no leader epoch, an expire timestamp. */
  rec.value_version = 1;
  rec.value.offset_commit.expire_timestamp = 1700000000000 + 1000;
  encode(&rec, &e);
  static const uint8_t v1[] = {
      0, 1,
      0, 0, 0, 0, 0, 0, 0, 42,
      0, 0,
      0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
      0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8,
  };
  expect_bytes(&e.value, v1, sizeof v1);
  encoded_free(&e);
}

/* Key version 2 for group "g"; value version 3 of a Stable group with one member. */
static void test_group_metadata_record_bytes(void **state) {
  (void)state;
  struct mk_group_metadata_value_member_metadata member;
  mk_schema_set_defaults(&mk_group_metadata_value_member_metadata_schema, &member);
  member.member_id = mk_str_of("m");
  member.client_id = mk_str_of("c");
  member.client_host = mk_str_of("/h");
  member.rebalance_timeout = 300000;
  member.session_timeout = 45000;
  member.subscription = (struct mk_bytes){(const uint8_t *)"ab", 2};
  member.assignment = (struct mk_bytes){NULL, 0};
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_GROUP_METADATA);
  assert_int_equal(rec.key_version, 2);
  assert_int_equal(rec.value_version, 3);
  rec.key.group_metadata.group = mk_str_of("g");
  struct mk_group_metadata_value *v = &rec.value.group_metadata;
  v->protocol_type = mk_str_of("consumer");
  v->generation = 1;
  v->protocol = mk_str_of("range");
  v->leader = mk_str_of("m");
  v->current_state_timestamp = 1000;
  v->members = &member;
  v->members_count = 1;
  struct encoded e;
  encode(&rec, &e);
  static const uint8_t key[] = {0, 2, 0, 1, 'g'};
  static const uint8_t value[] = {
      0, 3,                                          /* version */
      0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',  /* protocol_type */
      0, 0, 0, 1,                                    /* generation */
      0, 5, 'r', 'a', 'n', 'g', 'e',                 /* protocol */
      0, 1, 'm',                                     /* leader */
      0, 0, 0, 0, 0, 0, 0x03, 0xe8,                  /* current_state_timestamp (v2+) */
      0, 0, 0, 1,                                    /* members: 1 */
      0, 1, 'm',                                     /*   member_id */
      0xff, 0xff,                                    /*   group_instance_id null (v3+) */
      0, 1, 'c',                                     /*   client_id */
      0, 2, '/', 'h',                                /*   client_host */
      0, 0x04, 0x93, 0xe0,                           /*   rebalance_timeout 300000 (v1+) */
      0, 0, 0xaf, 0xc8,                              /*   session_timeout 45000 */
      0, 0, 0, 2, 'a', 'b',                          /*   subscription */
      0, 0, 0, 0,                                    /*   assignment: empty */
  };
  expect_bytes(&e.key, key, sizeof key);
  expect_bytes(&e.value, value, sizeof value);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record back;
  decode_ok(MK_CONSUMER_OFFSETS, &e, &back, &a);
  assert_int_equal(back.type, MK_RECORD_GROUP_METADATA);
  assert_true(mk_str_eq(back.key.group_metadata.group, "g"));
  assert_int_equal(back.value.group_metadata.members_count, 1);
  assert_int_equal(back.value.group_metadata.members[0].session_timeout, 45000);
  assert_int_equal(back.value.group_metadata.members[0].group_instance_id.len, -1);
  mk_arena_free(&a);
  encoded_free(&e);
}

/* Key version 0 for "txn"; value version 1, the flexible one, with two tagged fields set
 * (previous_producer_id, tag 0, and client_transaction_version, tag 2) and one at its
 * default (next_producer_id, tag 1, -1), which stays off the wire. */
static void test_transaction_log_record_bytes_with_tagged_fields(void **state) {
  (void)state;
  int32_t ids[] = {0, 1};
  struct mk_transaction_log_value_partitions_schema parts = {mk_str_of("t"), ids, 2};
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_TRANSACTION_LOG);
  assert_int_equal(rec.key_version, 0);
  assert_int_equal(rec.value_version, 0);
  rec.value_version = 1;
  rec.key.transaction_log.transactional_id = mk_str_of("txn");
  struct mk_transaction_log_value *v = &rec.value.transaction_log;
  assert_int_equal(v->next_producer_id, -1);
  v->producer_id = 7;
  v->previous_producer_id = 6;
  v->producer_epoch = 2;
  v->transaction_timeout_ms = 60000;
  v->transaction_status = MK_TXN_ONGOING;
  v->transaction_partitions = &parts;
  v->transaction_partitions_count = 1;
  v->transaction_last_update_timestamp_ms = 2000;
  v->transaction_start_timestamp_ms = 1500;
  v->client_transaction_version = 2;
  struct encoded e;
  encode(&rec, &e);
  static const uint8_t key[] = {0, 0, 0, 3, 't', 'x', 'n'};
  static const uint8_t value[] = {
      0, 1,                               /* version */
      0, 0, 0, 0, 0, 0, 0, 7,             /* producer_id */
      0, 2,                               /* producer_epoch */
      0, 0, 0xea, 0x60,                   /* transaction_timeout_ms 60000 */
      1,                                  /* transaction_status Ongoing */
      2,                                  /* transaction_partitions: compact, 1 */
      2, 't',                             /*   topic (compact string) */
      3, 0, 0, 0, 0, 0, 0, 0, 1,          /*   partition_ids: compact, [0, 1] */
      0,                                  /*   no tagged fields */
      0, 0, 0, 0, 0, 0, 0x07, 0xd0,       /* transaction_last_update_timestamp_ms */
      0, 0, 0, 0, 0, 0, 0x05, 0xdc,       /* transaction_start_timestamp_ms */
      2,                                  /* tagged fields: 2 */
      0, 8, 0, 0, 0, 0, 0, 0, 0, 6,       /*   tag 0, 8 bytes: previous_producer_id */
      2, 2, 0, 2,                         /*   tag 2, 2 bytes: client_transaction_version */
  };
  expect_bytes(&e.key, key, sizeof key);
  expect_bytes(&e.value, value, sizeof value);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record back;
  decode_ok(MK_TRANSACTION_STATE, &e, &back, &a);
  assert_int_equal(back.type, MK_RECORD_TRANSACTION_LOG);
  assert_int_equal(back.value_version, 1);
  assert_int_equal(back.value.transaction_log.previous_producer_id, 6);
  assert_int_equal(back.value.transaction_log.next_producer_id, -1);
  assert_int_equal(back.value.transaction_log.client_transaction_version, 2);
  assert_int_equal(back.value.transaction_log.transaction_partitions[0].partition_ids[1], 1);
  mk_arena_free(&a);
  encoded_free(&e);
}

/* Version 0, as Kafka writes it without transaction.version 2: an Empty transaction has a
 * null partition list; tagged fields do not exist, so reading gives their defaults. */
static void test_transaction_log_v0_empty_state(void **state) {
  (void)state;
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_TRANSACTION_LOG);
  rec.key.transaction_log.transactional_id = mk_str_of("txn");
  struct mk_transaction_log_value *v = &rec.value.transaction_log;
  v->producer_id = 7;
  v->producer_epoch = 0;
  v->transaction_timeout_ms = 60000;
  v->transaction_status = MK_TXN_EMPTY;
  v->transaction_partitions_count = -1;
  v->transaction_last_update_timestamp_ms = 2000;
  v->transaction_start_timestamp_ms = -1;
  struct encoded e;
  encode(&rec, &e);
  static const uint8_t value[] = {
      0, 0,
      0, 0, 0, 0, 0, 0, 0, 7,
      0, 0,
      0, 0, 0xea, 0x60,
      0,
      0xff, 0xff, 0xff, 0xff,                         /* transaction_partitions: null */
      0, 0, 0, 0, 0, 0, 0x07, 0xd0,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  };
  expect_bytes(&e.value, value, sizeof value);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record back;
  decode_ok(MK_TRANSACTION_STATE, &e, &back, &a);
  assert_int_equal(back.value.transaction_log.transaction_partitions_count, -1);
  assert_int_equal(back.value.transaction_log.previous_producer_id, -1);
  assert_int_equal(back.value.transaction_log.client_transaction_version, 0);
  mk_arena_free(&a);
  encoded_free(&e);
}

/* ---- every version ------------------------------------------------------------------------- */

static const struct {
  int type, topic;
  int key_lo, key_hi, value_lo, value_hi;
  const struct mk_schema *key, *value;
} types[] = {
    {MK_RECORD_OFFSET_COMMIT, MK_CONSUMER_OFFSETS, 0, 1, 0, 4, &mk_offset_commit_key_schema,
     &mk_offset_commit_value_schema},
    {MK_RECORD_GROUP_METADATA, MK_CONSUMER_OFFSETS, 2, 2, 0, 4, &mk_group_metadata_key_schema,
     &mk_group_metadata_value_schema},
    {MK_RECORD_TRANSACTION_LOG, MK_TRANSACTION_STATE, 0, 0, 0, 1,
     &mk_transaction_log_key_schema, &mk_transaction_log_value_schema},
};

/* Every strict prefix of one half (key or value) of e must fail to decode, and so must the
 * half with one byte more. */
static void expect_cuts_fail(int topic, const struct encoded *e, bool cut_key) {
  const struct mk_writer *w = cut_key ? &e->key : &e->value;
  uint8_t longer[4096];
  assert_true(w->len < sizeof longer);
  memcpy(longer, w->buf, w->len);
  longer[w->len] = 0;
  for (size_t n = 0; n <= w->len + 1; n++) {
    if (n == w->len) continue;
    struct mk_bytes half = {n ? longer : NULL, (int32_t)n};
    struct mk_bytes key = cut_key ? half : bytes_of(&e->key);
    struct mk_bytes value = cut_key ? bytes_of(&e->value) : half;
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_coordinator_record out;
    struct mk_err err = {0};
    int rc = mk_coordinator_record_decode(topic, key, value, &out, &a, &err);
    if (rc != MK_ERR__DECODE)
      fail_msg("%s of %zu bytes (whole: %zu) decoded with rc %d", cut_key ? "key" : "value", n,
               w->len, rc);
    assert_non_null(strstr(err.msg, cut_key ? "record key" : "record value"));
    mk_arena_free(&a);
  }
}

static void test_every_type_round_trips_at_every_version(void **state) {
  (void)state;
  int checked = 0;
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    for (int kv = types[t].key_lo; kv <= types[t].key_hi; kv++) {
      for (int vv = types[t].value_lo; vv <= types[t].value_hi; vv++) {
        for (int iter = 0; iter < 10; iter++) {
          struct mk_arena a;
          mk_arena_init(&a);
          struct mk_coordinator_record rec;
          mk_coordinator_record_init(&rec, types[t].type);
          rec.key_version = (int16_t)kv;
          rec.value_version = (int16_t)vv;
          random_message_fill(types[t].key, kv, &rec.key, &a);
          random_message_fill(types[t].value, vv, &rec.value, &a);
          struct encoded e1, e2;
          encode(&rec, &e1);
          struct mk_coordinator_record back;
          decode_ok(types[t].topic, &e1, &back, &a);
          assert_int_equal(back.type, types[t].type);
          assert_int_equal(back.key_version, kv);
          assert_int_equal(back.value_version, vv);
          encode(&back, &e2);
          assert_int_equal(e1.key.len, e2.key.len);
          assert_memory_equal(e1.key.buf, e2.key.buf, e1.key.len);
          assert_int_equal(e1.value.len, e2.value.len);
          assert_memory_equal(e1.value.buf, e2.value.buf, e1.value.len);
          if (iter == 0) {
            expect_cuts_fail(types[t].topic, &e1, true);
            expect_cuts_fail(types[t].topic, &e1, false);
          }
          encoded_free(&e1);
          encoded_free(&e2);
          mk_arena_free(&a);
          checked++;
        }
      }
    }
  }
  assert_int_equal(checked, 10 * (2 * 5 + 5 + 2));
}

/* ---- tombstones and wrong records ---------------------------------------------------------- */

/* A tombstone has a key and a null value: encoding writes no value, decoding says so. */
static void test_tombstone_has_a_key_and_no_value(void **state) {
  (void)state;
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_GROUP_METADATA);
  rec.key.group_metadata.group = mk_str_of("gone");
  rec.tombstone = true;
  struct encoded e;
  encode(&rec, &e);
  assert_int_equal(e.value.len, 0);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record back;
  struct mk_err err = {0};
  assert_int_equal(mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, bytes_of(&e.key),
                                                MK_BYTES_NULL, &back, &a, &err), 0);
  assert_int_equal(back.type, MK_RECORD_GROUP_METADATA);
  assert_true(back.tombstone);
  assert_int_equal(back.value_version, -1);
  assert_true(mk_str_eq(back.key.group_metadata.group, "gone"));
  /* An empty value is no tombstone: it lacks even the version. */
  struct mk_bytes empty = {NULL, 0};
  assert_int_equal(mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, bytes_of(&e.key), empty,
                                                &back, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "__consumer_offsets record value: GroupMetadataValue"));
  mk_arena_free(&a);
  encoded_free(&e);
}

static int decode_key(int topic, const uint8_t *key, size_t len, struct mk_err *err) {
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record out;
  int rc = mk_coordinator_record_decode(topic, (struct mk_bytes){key, (int32_t)len},
                                        MK_BYTES_NULL, &out, &a, err);
  mk_arena_free(&a);
  return rc;
}

/* The key's version is the record type, and it means different things in the two topics. */
static void test_key_version_decides_the_type(void **state) {
  (void)state;
  struct mk_err err = {0};
  static const uint8_t v0[] = {0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0};  /* OffsetCommitKey */
  assert_int_equal(decode_key(MK_CONSUMER_OFFSETS, v0, sizeof v0, &err), 0);
  /* In __transaction_state a version 0 key is a transactional id: one string, so the
   * offset key's bytes are left over. */
  assert_int_equal(decode_key(MK_TRANSACTION_STATE, v0, sizeof v0, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "TransactionLogKey v0: 7 bytes after the message"));

  static const uint8_t v1_txn[] = {0, 1, 0, 1, 'x'};
  assert_int_equal(decode_key(MK_TRANSACTION_STATE, v1_txn, sizeof v1_txn, &err),
                   MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "__transaction_state record key: version 1 is no record type"));

  static const uint8_t v3[] = {0, 3, 0, 1, 'g'};  /* KIP-848 ConsumerGroupMetadataKey */
  assert_int_equal(decode_key(MK_CONSUMER_OFFSETS, v3, sizeof v3, &err), MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "KIP-848"));

  static const uint8_t negative[] = {0xff, 0xff, 0, 1, 'g'};
  assert_int_equal(decode_key(MK_CONSUMER_OFFSETS, negative, sizeof negative, &err),
                   MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "version -1"));

  assert_int_equal(decode_key(MK_CONSUMER_OFFSETS, v0, 1, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "1 byte"));
  assert_int_equal(decode_key(42, v0, sizeof v0, &err), MK_ERR__INVALID_ARG);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record out;
  assert_int_equal(mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, MK_BYTES_NULL,
                                                MK_BYTES_NULL, &out, &a, &err), MK_ERR__DECODE);
  assert_non_null(strstr(err.msg, "key: null"));
  mk_arena_free(&a);
}

static void test_unknown_value_version_is_refused(void **state) {
  (void)state;
  static const uint8_t key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0};
  static const uint8_t value[] = {0, 5, 0, 0, 0, 0, 0, 0, 0, 42};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_coordinator_record out;
  struct mk_err err = {0};
  assert_int_equal(mk_coordinator_record_decode(MK_CONSUMER_OFFSETS,
                                                (struct mk_bytes){key, sizeof key},
                                                (struct mk_bytes){value, sizeof value}, &out,
                                                &a, &err), MK_ERR__UNSUPPORTED);
  assert_non_null(strstr(err.msg, "OffsetCommitValue: version 5 is not one we know (0-4)"));
  mk_arena_free(&a);
}

static void test_encode_refuses_a_key_version_of_another_type(void **state) {
  (void)state;
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_OFFSET_COMMIT);
  rec.key_version = 2;  /* GroupMetadata's */
  struct mk_writer k, v;
  mk_writer_init(&k);
  mk_writer_init(&v);
  struct mk_err err = {0};
  assert_int_equal(mk_coordinator_record_encode(&rec, &k, &v, &err), MK_ERR__INVALID_ARG);
  assert_non_null(
      strstr(err.msg, "OffsetCommit record with key version 2: OffsetCommitKey has versions 0-1"));
  rec.key_version = 1;
  rec.value_version = 5;
  assert_int_equal(mk_coordinator_record_encode(&rec, &k, &v, &err), MK_ERR__UNSUPPORTED);
  mk_coordinator_record_init(&rec, 99);
  assert_int_equal(mk_coordinator_record_encode(&rec, &k, &v, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(mk_coordinator_record_type_name(99), "unknown");
  mk_writer_free(&k);
  mk_writer_free(&v);
}

/* Damaged records never crash, never read past their ends (ASan watches) and keep memory
 * bounded: valid records of every type with a few bytes overwritten, or cut, or both. */
static void test_damaged_records_never_crash(void **state) {
  (void)state;
  int outcomes[3] = {0};  /* decoded, _DECODE, _UNSUPPORTED */
  for (int iter = 0; iter < 3000; iter++) {
    size_t t = random_next() % (sizeof types / sizeof types[0]);
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_coordinator_record rec;
    mk_coordinator_record_init(&rec, types[t].type);
    rec.key_version = (int16_t)(types[t].key_lo + (int)(random_next() % 2) *
                                                      (types[t].key_hi - types[t].key_lo));
    rec.value_version = (int16_t)(types[t].value_lo +
                                  (int)(random_next() % (unsigned)(types[t].value_hi -
                                                                   types[t].value_lo + 1)));
    random_message_fill(types[t].key, rec.key_version, &rec.key, &a);
    random_message_fill(types[t].value, rec.value_version, &rec.value, &a);
    struct encoded e;
    encode(&rec, &e);
    struct mk_writer *w = random_next() % 4 ? &e.value : &e.key;
    for (int n = (int)(random_next() % 4); n > 0 && w->len; n--)
      w->buf[random_next() % w->len] = (uint8_t)random_next();
    if (random_next() % 3 == 0 && w->len) w->len = random_next() % w->len;
    struct mk_coordinator_record out;
    int rc = mk_coordinator_record_decode(types[t].topic, bytes_of(&e.key), bytes_of(&e.value),
                                          &out, &a, NULL);
    assert_true(rc == 0 || rc == MK_ERR__DECODE || rc == MK_ERR__UNSUPPORTED);
    outcomes[rc == 0 ? 0 : rc == MK_ERR__DECODE ? 1 : 2]++;
    assert_true(a.total < 1024 * 1024);
    encoded_free(&e);
    mk_arena_free(&a);
  }
  /* The damage reached all three outcomes, so the decoder was exercised past the type. */
  assert_true(outcomes[0] > 0 && outcomes[1] > 0 && outcomes[2] > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offset_commit_record_bytes),
      cmocka_unit_test(test_group_metadata_record_bytes),
      cmocka_unit_test(test_transaction_log_record_bytes_with_tagged_fields),
      cmocka_unit_test(test_transaction_log_v0_empty_state),
      cmocka_unit_test(test_every_type_round_trips_at_every_version),
      cmocka_unit_test(test_tombstone_has_a_key_and_no_value),
      cmocka_unit_test(test_key_version_decides_the_type),
      cmocka_unit_test(test_unknown_value_version_is_refused),
      cmocka_unit_test(test_encode_refuses_a_key_version_of_another_type),
      cmocka_unit_test(test_damaged_records_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
