/*
 * Tests for broker/partition_log.c: stored batches and their refcounts, appending and
 * finding offsets, follower truncation, the leader epoch cache (OffsetsForLeaderEpoch),
 * retention by bytes and by time under the high watermark, and ListOffsets by timestamp.
 *
 * Batches are built with the producer's own builder (protocol/record_batch.h), so the
 * bytes are what a client would send; ASan checks that every batch is freed exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/partition_log.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"

#define MAX_DECOMPRESSED (1024 * 1024)

/* What a batch should look like; zero fields take the defaults below. */
struct spec {
  int records;             /* default 1 */
  const int64_t *timestamps;  /* one per record; default 1000, 1001, ... */
  int64_t producer_id;     /* default -1 (set has_producer) */
  bool has_producer;
  int16_t producer_epoch;
  int32_t base_sequence;
  int compression;
  int16_t attributes;
};

/* Build the batch a producer would send (base offset 0, no leader epoch), and store it
 * as the leader would: at base_offset, stamped with leader_epoch. */
static struct mk_batch *make_batch(struct spec s, int64_t base_offset, int32_t leader_epoch) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = s.compression;
  bb.attributes = s.attributes;
  if (s.has_producer) {
    bb.producer_id = s.producer_id;
    bb.producer_epoch = s.producer_epoch;
    bb.base_sequence = s.base_sequence;
  }
  int n = s.records ? s.records : 1;
  for (int i = 0; i < n; i++) {
    int64_t ts = s.timestamps ? s.timestamps[i] : 1000 + i;
    assert_int_equal(mk_record_batch_builder_append(&bb, ts, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)"v", 1},
                                                    NULL, 0), 0);
  }
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, &err), 0);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, &err), 0);
  struct mk_batch *b = mk_batch_new(&parsed, base_offset, leader_epoch, 777, NULL);
  assert_non_null(b);
  mk_writer_free(&w);
  mk_record_batch_builder_free(&bb);
  return b;
}

/* Append a batch of `records` records at the log end, in leader epoch `epoch`; the log
 * keeps the only reference. */
static struct mk_batch *append_records(struct mk_log *log, int records, int32_t epoch) {
  struct mk_batch *b = make_batch((struct spec){.records = records}, log->log_end_offset, epoch);
  struct mk_err err = {0};
  assert_int_equal(mk_log_append(log, b, &err), 0);
  mk_batch_unref(b);
  return b;
}

static void append_with_timestamp(struct mk_log *log, int64_t ts, int32_t epoch) {
  int64_t t[1] = {ts};
  struct mk_batch *b =
      make_batch((struct spec){.records = 1, .timestamps = t}, log->log_end_offset, epoch);
  assert_int_equal(mk_log_append(log, b, NULL), 0);
  mk_batch_unref(b);
}

/* ---- stored batches ---------------------------------------------------------------------- */

static void test_batch_new_rewrites_only_base_offset_and_leader_epoch(void **state) {
  (void)state;
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = 4242;
  bb.producer_epoch = 3;
  bb.base_sequence = 10;
  for (int i = 0; i < 3; i++)
    assert_int_equal(mk_record_batch_builder_append(&bb, 5000 + i * 10, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)"abc", 3},
                                                    NULL, 0), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, NULL), 0);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, NULL), 0);

  struct mk_batch *b = mk_batch_new(&parsed, 42, 7, 123456, NULL);
  assert_non_null(b);
  assert_int_equal(b->refcount, 1);
  assert_int_equal(b->base_offset, 42);
  assert_int_equal(b->last_offset, 44);
  assert_int_equal(b->leader_epoch, 7);
  assert_int_equal(b->base_timestamp, 5000);
  assert_int_equal(b->max_timestamp, 5020);
  assert_int_equal(b->append_time_ms, 123456);
  assert_int_equal(b->producer_id, 4242);
  assert_int_equal(b->producer_epoch, 3);
  assert_int_equal(b->base_sequence, 10);
  assert_int_equal(b->last_sequence, 12);
  assert_int_equal(b->records_count, 3);
  assert_false(b->is_transactional);
  assert_false(b->is_control);
  assert_int_equal(b->size, w.len);

  /* Bytes 0-7 and 12-15 changed; everything else is what the producer sent. */
  assert_int_equal(mk_load_u64(b->data), 42);
  assert_int_equal(mk_load_u32(b->data + 12), 7);
  assert_memory_equal(b->data + 8, w.buf + 8, 4);
  assert_memory_equal(b->data + 16, w.buf + 16, w.len - 16);

  /* And the CRC still holds, so the stored bytes are a valid batch to fetch. */
  struct mk_record_batch stored;
  mk_batch_parsed(b, &stored);
  assert_int_equal(stored.base_offset, 42);
  assert_int_equal(stored.partition_leader_epoch, 7);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_validate(&stored, MAX_DECOMPRESSED, &err), 0);

  mk_batch_unref(b);
  mk_writer_free(&w);
  mk_record_batch_builder_free(&bb);
}

static void test_sequence_increment_and_decrement_wrap_like_kafka(void **state) {
  (void)state;
  assert_int_equal(mk_sequence_increment(5, 3), 8);
  assert_int_equal(mk_sequence_increment(INT32_MAX, 1), 0);
  assert_int_equal(mk_sequence_increment(INT32_MAX - 1, 2), 0);
  assert_int_equal(mk_sequence_increment(INT32_MAX - 1, 3), 1);
  assert_int_equal(mk_sequence_decrement(8, 3), 5);
  assert_int_equal(mk_sequence_decrement(0, 1), INT32_MAX);
  assert_int_equal(mk_sequence_decrement(1, 3), INT32_MAX - 1);
}

static void test_batch_last_sequence_wraps_past_int32_max(void **state) {
  (void)state;
  struct mk_batch *b = make_batch((struct spec){.records = 3, .has_producer = true,
                                                .producer_id = 1, .base_sequence = INT32_MAX - 1},
                                  0, 0);
  assert_int_equal(b->base_sequence, INT32_MAX - 1);
  assert_int_equal(b->last_sequence, 0);  /* MAX-1, MAX, 0 */
  mk_batch_unref(b);

  /* No producer id: no sequence, and none computed. */
  b = make_batch((struct spec){.records = 3}, 0, 0);
  assert_int_equal(b->producer_id, -1);
  assert_int_equal(b->base_sequence, -1);
  assert_int_equal(b->last_sequence, -1);
  mk_batch_unref(b);
}

static void test_batch_flags_come_from_attributes(void **state) {
  (void)state;
  struct mk_batch *b = make_batch((struct spec){.has_producer = true, .producer_id = 9,
                                                .attributes = MK_ATTR_TRANSACTIONAL},
                                  0, 0);
  assert_true(b->is_transactional);
  assert_false(b->is_control);
  mk_batch_unref(b);

  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_record_batch_write_control(&w, 9, 0, MK_CONTROL_COMMIT, 1, 2000, NULL), 0);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, NULL), 0);
  b = mk_batch_new(&parsed, 0, 0, 0, NULL);
  assert_true(b->is_transactional);
  assert_true(b->is_control);
  assert_int_equal(b->last_sequence, -1);
  mk_batch_unref(b);
  mk_writer_free(&w);
}

static void test_batch_shared_by_two_logs_is_freed_after_both_drop_it(void **state) {
  (void)state;
  struct mk_log leader, follower;
  mk_log_init(&leader);
  mk_log_init(&follower);
  struct mk_batch *b = make_batch((struct spec){.records = 2}, 0, 0);
  assert_int_equal(mk_log_append(&leader, b, NULL), 0);
  assert_int_equal(mk_log_append(&follower, b, NULL), 0);  /* replication: same struct */
  assert_int_equal(b->refcount, 3);
  mk_batch_unref(b);  /* the handler's own reference */
  assert_int_equal(b->refcount, 2);
  assert_ptr_equal(mk_log_batch(&follower, 0), mk_log_batch(&leader, 0));

  mk_log_free(&leader);
  /* Still alive for the follower (ASan would flag a use after free here). */
  assert_int_equal(b->refcount, 1);
  assert_int_equal(mk_log_batch(&follower, 0)->last_offset, 1);

  mk_log_truncate_to(&follower, 0);  /* the last reference goes: freed */
  assert_int_equal(follower.count, 0);
  mk_log_free(&follower);
}

/* ---- append and find --------------------------------------------------------------------- */

static void test_append_moves_log_end_offset_and_size(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  assert_int_equal(log.log_start_offset, 0);
  assert_int_equal(log.log_end_offset, 0);
  struct mk_batch *a = append_records(&log, 3, 0);
  struct mk_batch *b = append_records(&log, 1, 0);
  assert_int_equal(log.count, 2);
  assert_int_equal(log.log_end_offset, 4);
  assert_int_equal(log.log_start_offset, 0);
  assert_int_equal(log.size, (int64_t)(a->size + b->size));
  assert_int_equal(mk_log_batch(&log, 1)->base_offset, 3);
  mk_log_free(&log);
}

static void test_append_at_wrong_offset_is_refused_and_changes_nothing(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);
  struct mk_batch *b = make_batch((struct spec){0}, 7, 0);
  struct mk_err err = {0};
  assert_int_equal(mk_log_append(&log, b, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "offset 7"));
  assert_non_null(strstr(err.msg, "ending at 3"));
  assert_int_equal(b->refcount, 1);  /* the log took no reference */
  assert_int_equal(log.count, 1);
  assert_int_equal(log.log_end_offset, 3);
  mk_batch_unref(b);
  mk_log_free(&log);
}

static void test_find_returns_the_batch_holding_the_offset(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);  /* 0-2 */
  append_records(&log, 1, 0);  /* 3 */
  append_records(&log, 5, 0);  /* 4-8 */
  assert_int_equal(mk_log_find(&log, -5), 0);
  assert_int_equal(mk_log_find(&log, 0), 0);
  assert_int_equal(mk_log_find(&log, 2), 0);
  assert_int_equal(mk_log_find(&log, 3), 1);
  assert_int_equal(mk_log_find(&log, 4), 2);
  assert_int_equal(mk_log_find(&log, 6), 2);
  assert_int_equal(mk_log_find(&log, 8), 2);
  assert_int_equal(mk_log_find(&log, 9), 3);    /* LEO: nothing to send yet */
  assert_int_equal(mk_log_find(&log, 100), 3);
  mk_log_free(&log);

  mk_log_init(&log);
  assert_int_equal(mk_log_find(&log, 0), 0);
  mk_log_free(&log);
}

static void test_many_appends_and_deletions_keep_offsets_findable(void **state) {
  (void)state;
  /* Appends at the back and retention at the front, many times over: the array slides
   * down instead of growing, and every offset is still found. */
  struct mk_log log;
  mk_log_init(&log);
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 50; i++) append_records(&log, 2, 0);
    /* Keep the newest 10 batches (each the same size). */
    int64_t each = (int64_t)mk_log_batch(&log, 0)->size;
    mk_log_apply_retention(&log, 10 * each, -1, 0, log.log_end_offset);
    assert_int_equal(log.count, 10);
  }
  assert_int_equal(log.log_end_offset, 20 * 50 * 2);
  assert_int_equal(log.log_start_offset, log.log_end_offset - 20);
  assert_true(log.cap <= 64);
  for (int64_t off = log.log_start_offset; off < log.log_end_offset; off++) {
    struct mk_batch *b = mk_log_batch(&log, mk_log_find(&log, off));
    assert_true(b->base_offset <= off && off <= b->last_offset);
  }
  mk_log_free(&log);
}

/* ---- truncation -------------------------------------------------------------------------- */

static void test_truncate_at_batch_boundary_removes_later_batches(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  struct mk_batch *a = append_records(&log, 3, 0);  /* 0-2 */
  append_records(&log, 2, 0);                       /* 3-4 */
  append_records(&log, 2, 0);                       /* 5-6 */
  mk_log_truncate_to(&log, 3);
  assert_int_equal(log.count, 1);
  assert_int_equal(log.log_end_offset, 3);
  assert_int_equal(log.size, (int64_t)a->size);
  /* The follower can append the new leader's batch at 3. */
  append_records(&log, 1, 1);
  assert_int_equal(log.log_end_offset, 4);
  mk_log_free(&log);
}

static void test_truncate_inside_a_batch_rounds_down_to_its_base(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);  /* 0-2 */
  append_records(&log, 4, 0);  /* 3-6 */
  mk_log_truncate_to(&log, 5);
  assert_int_equal(log.count, 1);
  assert_int_equal(log.log_end_offset, 3);
  mk_log_free(&log);
}

static void test_truncate_at_or_beyond_log_end_is_a_no_op(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);
  mk_log_truncate_to(&log, 3);
  mk_log_truncate_to(&log, 50);
  assert_int_equal(log.count, 1);
  assert_int_equal(log.log_end_offset, 3);
  mk_log_free(&log);
}

static void test_truncate_below_first_batch_restarts_the_log_there(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  for (int i = 0; i < 4; i++) append_records(&log, 2, 0);  /* 0-1 2-3 4-5 6-7 */
  mk_log_apply_retention(&log, -1, 0, 1000000, 4);         /* deletes 0-1 2-3 */
  assert_int_equal(log.log_start_offset, 4);
  mk_log_truncate_to(&log, 2);
  assert_int_equal(log.count, 0);
  assert_int_equal(log.size, 0);
  assert_int_equal(log.log_start_offset, 2);
  assert_int_equal(log.log_end_offset, 2);
  assert_int_equal(mk_log_latest_epoch(&log), -1);
  append_records(&log, 1, 3);
  assert_int_equal(log.log_end_offset, 3);
  mk_log_free(&log);
}

static void test_truncate_fully_and_start_at_moves_both_ends(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);
  mk_log_truncate_fully_and_start_at(&log, 100);
  assert_int_equal(log.count, 0);
  assert_int_equal(log.log_start_offset, 100);
  assert_int_equal(log.log_end_offset, 100);
  assert_int_equal(mk_log_find(&log, 100), 0);
  append_records(&log, 2, 5);
  assert_int_equal(mk_log_batch(&log, 0)->base_offset, 100);
  assert_int_equal(log.log_end_offset, 102);
  mk_log_free(&log);
}

/* ---- leader epochs ----------------------------------------------------------------------- */

/* Epoch 0: 0-2, 3-4; epoch 2: 5-6; epoch 4: 7-9. LEO 10. */
static void epoch_log(struct mk_log *log) {
  mk_log_init(log);
  append_records(log, 3, 0);
  append_records(log, 2, 0);
  append_records(log, 2, 2);
  append_records(log, 3, 4);
}

static void assert_end_offset(const struct mk_log *log, int32_t epoch, bool found,
                              int32_t want_epoch, int64_t want_offset) {
  int32_t e = 99;
  int64_t o = 99;
  assert_int_equal(mk_log_end_offset_for_epoch(log, epoch, &e, &o), found);
  assert_int_equal(e, want_epoch);
  assert_int_equal(o, want_offset);
}

static void test_end_offset_for_epoch_is_start_of_next_epoch(void **state) {
  (void)state;
  struct mk_log log;
  epoch_log(&log);
  assert_int_equal(log.epochs_count, 3);
  assert_int_equal(mk_log_latest_epoch(&log), 4);
  assert_end_offset(&log, 4, true, 4, 10);   /* the latest epoch ends at LEO */
  assert_end_offset(&log, 0, true, 0, 5);
  assert_end_offset(&log, 1, true, 0, 5);    /* unknown epoch between: the one before */
  assert_end_offset(&log, 2, true, 2, 7);
  assert_end_offset(&log, 3, true, 2, 7);
  assert_end_offset(&log, 5, false, -1, -1); /* newer than any known */
  assert_end_offset(&log, -1, false, -1, -1);
  mk_log_free(&log);
}

static void test_end_offset_for_epoch_before_all_known_epochs(void **state) {
  (void)state;
  struct mk_log log;
  epoch_log(&log);
  /* Retention removes all of epoch 0: the cache keeps epoch 2 from the new start. */
  mk_log_apply_retention(&log, -1, 0, 1000000, 5);
  assert_int_equal(log.log_start_offset, 5);
  assert_int_equal(log.epochs_count, 2);
  assert_int_equal(log.epochs[0].epoch, 2);
  assert_int_equal(log.epochs[0].start_offset, 5);
  /* Kafka answers with the requested epoch and the first known epoch's start. */
  assert_end_offset(&log, 1, true, 1, 5);
  assert_end_offset(&log, 0, true, 0, 5);
  mk_log_free(&log);
}

static void test_retention_inside_an_epoch_moves_its_start(void **state) {
  (void)state;
  struct mk_log log;
  epoch_log(&log);
  mk_log_apply_retention(&log, -1, 0, 1000000, 3);  /* deletes 0-2 only */
  assert_int_equal(log.log_start_offset, 3);
  assert_int_equal(log.epochs_count, 3);
  assert_int_equal(log.epochs[0].epoch, 0);
  assert_int_equal(log.epochs[0].start_offset, 3);
  mk_log_free(&log);
}

static void test_truncation_drops_epochs_starting_after_new_end(void **state) {
  (void)state;
  struct mk_log log;
  epoch_log(&log);
  mk_log_truncate_to(&log, 6);  /* inside 5-6: LEO 5, epochs 2 and 4 go */
  assert_int_equal(log.log_end_offset, 5);
  assert_int_equal(log.epochs_count, 1);
  assert_int_equal(mk_log_latest_epoch(&log), 0);
  assert_end_offset(&log, 0, true, 0, 5);
  mk_log_free(&log);
}

static void test_new_leader_assigns_its_epoch_at_log_end(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 5, 0);  /* 0-4 in epoch 0 */
  /* Becoming leader in epoch 3 before writing anything (Partition.makeLeader). */
  assert_int_equal(mk_log_assign_epoch(&log, 3, log.log_end_offset), 0);
  assert_int_equal(mk_log_latest_epoch(&log), 3);
  /* A follower of epoch 0 learns that epoch 0 ended at 5. */
  assert_end_offset(&log, 0, true, 0, 5);
  assert_end_offset(&log, 3, true, 3, 5);
  /* Assigning the same epoch again at a later offset changes nothing. */
  assert_int_equal(mk_log_assign_epoch(&log, 3, 9), 0);
  assert_int_equal(log.epochs_count, 2);
  assert_int_equal(log.epochs[1].start_offset, 5);
  /* Its first batch is stamped with epoch 3 and leaves the cache as it is. */
  append_records(&log, 2, 3);
  assert_int_equal(log.epochs_count, 2);
  assert_end_offset(&log, 0, true, 0, 5);
  assert_end_offset(&log, 3, true, 3, 7);
  mk_log_free(&log);
}

static void test_leader_that_never_wrote_drops_its_epoch_on_truncation(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 5, 0);
  mk_log_assign_epoch(&log, 3, 5);
  /* It lost leadership at once; truncating at its LEO removes the empty epoch, as
   * Kafka's truncateTo does even when no record goes. */
  mk_log_truncate_to(&log, 5);
  assert_int_equal(mk_log_latest_epoch(&log), 0);
  assert_int_equal(log.count, 1);
  mk_log_free(&log);
}

static void test_new_epoch_replaces_conflicting_entries(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 5, 1);
  mk_log_assign_epoch(&log, 2, 5);  /* a leader that never wrote in epoch 2 */
  /* It fetches from the epoch-3 leader, whose first batch starts at 5. */
  append_records(&log, 1, 3);
  assert_int_equal(log.epochs_count, 2);
  assert_int_equal(log.epochs[0].epoch, 1);
  assert_int_equal(log.epochs[1].epoch, 3);
  assert_int_equal(log.epochs[1].start_offset, 5);
  mk_log_free(&log);
}

/* ---- retention --------------------------------------------------------------------------- */

static void test_retention_bytes_keeps_at_least_the_limit(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  for (int i = 0; i < 4; i++) append_records(&log, 1, 0);
  int64_t s = (int64_t)mk_log_batch(&log, 0)->size;
  assert_int_equal(log.size, 4 * s);

  /* One byte over 2 batches: removing a second batch would leave less than the limit. */
  assert_int_equal(mk_log_apply_retention(&log, 2 * s + 1, -1, 0, log.log_end_offset), 1);
  assert_int_equal(log.count, 3);
  assert_int_equal(log.size, 3 * s);
  assert_int_equal(log.log_start_offset, 1);

  assert_int_equal(mk_log_apply_retention(&log, 2 * s, -1, 0, log.log_end_offset), 1);
  assert_int_equal(log.count, 2);
  assert_int_equal(log.log_start_offset, 2);

  /* Exactly at the limit: nothing more goes. */
  assert_int_equal(mk_log_apply_retention(&log, 2 * s, -1, 0, log.log_end_offset), 0);
  mk_log_free(&log);
}

static void test_retention_never_deletes_at_or_above_high_watermark(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  for (int i = 0; i < 4; i++) append_records(&log, 2, 0);  /* 0-1 2-3 4-5 6-7 */
  /* HW 3: batch 2-3 is only half replicated, so it and everything after stay. */
  assert_int_equal(mk_log_apply_retention(&log, 0, -1, 0, 3), 1);
  assert_int_equal(log.log_start_offset, 2);
  assert_int_equal(mk_log_apply_retention(&log, -1, 0, 1000000, 3), 0);
  /* HW 4: now it may go. */
  assert_int_equal(mk_log_apply_retention(&log, -1, 0, 1000000, 4), 1);
  assert_int_equal(log.log_start_offset, 4);
  assert_int_equal(log.count, 2);
  mk_log_free(&log);
}

static void test_retention_ms_uses_each_batch_max_timestamp(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_with_timestamp(&log, 1000, 0);
  append_with_timestamp(&log, 2000, 0);
  append_with_timestamp(&log, 2500, 0);
  append_with_timestamp(&log, 4000, 0);
  /* now 5000, retention 2500 ms: older than 2500 means max_timestamp < 2500. */
  assert_int_equal(mk_log_apply_retention(&log, -1, 2500, 5000, log.log_end_offset), 2);
  assert_int_equal(log.log_start_offset, 2);
  assert_int_equal(mk_log_batch(&log, 0)->max_timestamp, 2500);
  mk_log_free(&log);
}

static void test_retention_ms_stops_at_a_batch_with_a_future_timestamp(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_with_timestamp(&log, 1000, 0);
  append_with_timestamp(&log, 9000, 0);  /* in the future at now = 5000 */
  append_with_timestamp(&log, 1000, 0);
  assert_int_equal(mk_log_apply_retention(&log, -1, 1000, 5000, log.log_end_offset), 1);
  assert_int_equal(log.count, 2);
  assert_int_equal(log.log_start_offset, 1);
  mk_log_free(&log);
}

static void test_retention_minus_one_means_unlimited(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  for (int i = 0; i < 3; i++) append_with_timestamp(&log, 0, 0);
  assert_int_equal(mk_log_apply_retention(&log, -1, -1, INT64_MAX / 2, log.log_end_offset), 0);
  assert_int_equal(log.count, 3);
  assert_int_equal(log.log_start_offset, 0);
  mk_log_free(&log);
}

static void test_retention_of_everything_moves_start_to_log_end(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  for (int i = 0; i < 3; i++) append_records(&log, 2, 1);
  assert_int_equal(mk_log_apply_retention(&log, 0, -1, 0, log.log_end_offset), 3);
  assert_int_equal(log.count, 0);
  assert_int_equal(log.size, 0);
  assert_int_equal(log.log_start_offset, 6);
  assert_int_equal(log.log_end_offset, 6);
  /* The epoch is still known (it is where the next batch of epoch 1 continues). */
  assert_int_equal(mk_log_latest_epoch(&log), 1);
  assert_end_offset(&log, 1, true, 1, 6);
  append_records(&log, 1, 1);
  assert_int_equal(mk_log_batch(&log, 0)->base_offset, 6);
  mk_log_free(&log);
}

/* ---- ListOffsets by timestamp ------------------------------------------------------------ */

static void test_offset_for_timestamp_finds_the_exact_record(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  const int64_t ta[] = {100, 300, 200};
  const int64_t tb[] = {400, 500};
  struct mk_batch *a = make_batch((struct spec){.records = 3, .timestamps = ta}, 0, 2);
  struct mk_batch *b = make_batch((struct spec){.records = 2, .timestamps = tb,
                                                .compression = MK_COMPRESSION_GZIP},
                                  3, 5);
  assert_int_equal(mk_log_append(&log, a, NULL), 0);
  assert_int_equal(mk_log_append(&log, b, NULL), 0);
  mk_batch_unref(a);
  mk_batch_unref(b);

  struct mk_timestamp_and_offset t;
  struct mk_err err = {0};
  assert_int_equal(mk_log_offset_for_timestamp(&log, 50, MAX_DECOMPRESSED, &t, &err), 0);
  assert_int_equal(t.offset, 0);
  assert_int_equal(t.timestamp, 100);
  assert_int_equal(t.leader_epoch, 2);
  /* The first record at or after 250 is offset 1 (300), not offset 2 (200). */
  assert_int_equal(mk_log_offset_for_timestamp(&log, 250, MAX_DECOMPRESSED, &t, &err), 0);
  assert_int_equal(t.offset, 1);
  assert_int_equal(t.timestamp, 300);
  /* Inside the compressed batch. */
  assert_int_equal(mk_log_offset_for_timestamp(&log, 450, MAX_DECOMPRESSED, &t, &err), 0);
  assert_int_equal(t.offset, 4);
  assert_int_equal(t.timestamp, 500);
  assert_int_equal(t.leader_epoch, 5);
  /* Nothing that recent. */
  assert_int_equal(mk_log_offset_for_timestamp(&log, 501, MAX_DECOMPRESSED, &t, &err), 0);
  assert_int_equal(t.offset, -1);
  assert_int_equal(t.timestamp, -1);
  assert_int_equal(t.leader_epoch, -1);
  mk_log_free(&log);
}

static void test_offset_for_timestamp_in_log_append_time_batch_uses_max_timestamp(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  const int64_t ts[] = {100, 200, 300};
  struct mk_batch *b = make_batch((struct spec){.records = 3, .timestamps = ts,
                                                .attributes = MK_ATTR_LOG_APPEND_TIME},
                                  0, 0);
  assert_int_equal(mk_log_append(&log, b, NULL), 0);
  mk_batch_unref(b);
  struct mk_timestamp_and_offset t;
  assert_int_equal(mk_log_offset_for_timestamp(&log, 150, MAX_DECOMPRESSED, &t, NULL), 0);
  assert_int_equal(t.offset, 0);    /* every record carries the batch's time, 300 */
  assert_int_equal(t.timestamp, 300);
  mk_log_free(&log);
}

static void test_offset_for_timestamp_reports_decompression_limit(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  struct mk_batch *b = make_batch((struct spec){.records = 50, .compression = MK_COMPRESSION_GZIP},
                                  0, 0);
  assert_int_equal(mk_log_append(&log, b, NULL), 0);
  mk_batch_unref(b);
  struct mk_timestamp_and_offset t;
  struct mk_err err = {0};
  assert_int_equal(mk_log_offset_for_timestamp(&log, 0, 10, &t, &err), MK_ERR_MESSAGE_TOO_LARGE);
  assert_int_equal(t.offset, -1);
  mk_log_free(&log);
}

/* ---- frames shared by several batches, and what the logs hold ---------------------------- */

/* A Produce frame as the network layer hands it over: `header` bytes of request header, then
 * one batch of records[i] records (each value value_len bytes) per entry; the batches are
 * stored from it (owner = the frame) as the leader would, at the end of logs[i]. The
 * caller's reference to the frame is the request's. */
static struct mk_buffer *store_frame(struct mk_log **logs, const int *records, int n,
                                     size_t value_len, struct mk_batch **out) {
  struct mk_writer w;
  mk_writer_init(&w);
  uint8_t header[60] = {0};
  mk_write_raw(&w, header, sizeof header);
  size_t at[8];
  char *value = malloc(value_len);
  assert_non_null(value);
  memset(value, 'x', value_len);
  for (int i = 0; i < n; i++) {
    at[i] = w.len;
    struct mk_record_batch_builder bb;
    mk_record_batch_builder_init(&bb);
    for (int r = 0; r < records[i]; r++)
      assert_int_equal(mk_record_batch_builder_append(&bb, 1000, MK_BYTES_NULL,
                                                      (struct mk_bytes){(uint8_t *)value, (int32_t)value_len},
                                                      NULL, 0), 0);
    assert_int_equal(mk_record_batch_builder_finish(&bb, &w, NULL), 0);
    mk_record_batch_builder_free(&bb);
  }
  free(value);
  struct mk_buffer *frame = mk_buffer_new(w.len);
  assert_non_null(frame);
  memcpy(frame->data, w.buf, w.len);
  for (int i = 0; i < n; i++) {
    size_t end = i + 1 < n ? at[i + 1] : w.len;
    struct mk_record_batch parsed;
    assert_int_equal(mk_record_batch_parse(frame->data + at[i], end - at[i], &parsed, NULL), 0);
    struct mk_batch *b = mk_batch_new(&parsed, logs[i]->log_end_offset, 0, 777, frame);
    assert_non_null(b);
    assert_int_equal(mk_log_append(logs[i], b, NULL), 0);
    mk_batch_unref(b);
    if (out) out[i] = b;
  }
  mk_writer_free(&w);
  return frame;
}

/* Two logs that count what they hold in one usage, as a broker's replicas do. */
struct two_logs {
  struct mk_log_usage usage;
  struct mk_log first, second;
  struct mk_log *both[2];
};

static void two_logs_init(struct two_logs *t) {
  memset(&t->usage, 0, sizeof t->usage);
  mk_log_init(&t->first);
  mk_log_init(&t->second);
  t->first.usage = t->second.usage = &t->usage;
  t->both[0] = &t->first;
  t->both[1] = &t->second;
}

/* Free both; everything they held must be gone from the count. */
static void two_logs_free(struct two_logs *t) {
  mk_log_free(&t->first);
  mk_log_free(&t->second);
  assert_int_equal(t->usage.bytes, 0);
}

/* The leak: a request carried a big batch for one partition and a small one for
 * another; retention deleted the big one, and the small one kept the whole frame alive.
 * Now the small one is copied out, and the frame is freed. */
static void test_a_small_batch_does_not_pin_a_big_frame(void **state) {
  (void)state;
  struct two_logs t;  /* first: the big batch's partition; second: the small one's */
  two_logs_init(&t);
  struct mk_batch *stored[2];
  struct mk_buffer *frame = store_frame(t.both, (int[]){200, 1}, 2, 500, stored);
  size_t frame_size = frame->size;
  mk_buffer_unref(frame);  /* the request is answered */
  assert_true(stored[1]->owner == frame);  /* both batches still live in the frame */
  assert_int_equal(t.usage.bytes, (int64_t)(frame_size + 2 * sizeof(struct mk_batch)));

  assert_int_equal(mk_log_advance_start(&t.first, t.first.log_end_offset), 1);  /* retention */
  assert_null(stored[1]->owner);                   /* copied out: the frame is gone */
  assert_true(stored[1]->data_owned);
  assert_int_equal(t.usage.bytes, (int64_t)(stored[1]->size + sizeof(struct mk_batch)));
  struct mk_record_batch parsed;
  mk_batch_parsed(stored[1], &parsed);             /* still a valid batch */
  assert_int_equal(parsed.records_count, 1);
  assert_int_equal(mk_log_batch(&t.second, 0)->base_offset, 0);
  two_logs_free(&t);
}

/* When the bytes no longer used are few (a small batch gone beside a big one), the big one
 * stays where it is: copying it would cost more than it frees. */
static void test_a_big_batch_stays_in_its_frame_when_little_is_freed(void **state) {
  (void)state;
  struct two_logs t;  /* first: the small batch's partition; second: the big one's */
  two_logs_init(&t);
  struct mk_batch *stored[2];
  struct mk_buffer *frame = store_frame(t.both, (int[]){1, 200}, 2, 500, stored);
  mk_buffer_unref(frame);
  mk_log_advance_start(&t.first, t.first.log_end_offset);
  assert_true(stored[1]->owner == frame);
  assert_false(stored[1]->data_owned);
  two_logs_free(&t);
}

/* While the request still holds its frame (an acks=all produce waiting for followers), a
 * deleted sibling changes nothing; the copy-out happens when the request lets go. */
static void test_copy_out_waits_for_the_request_to_let_go(void **state) {
  (void)state;
  struct two_logs t;
  two_logs_init(&t);
  struct mk_batch *stored[2];
  struct mk_buffer *frame = store_frame(t.both, (int[]){200, 1}, 2, 500, stored);
  mk_log_advance_start(&t.first, t.first.log_end_offset);
  assert_true(stored[1]->owner == frame);  /* the request still holds the frame */
  mk_buffer_unref(frame);
  assert_null(stored[1]->owner);           /* now it is copied out */
  two_logs_free(&t);
}

/* A batch shared by a leader's and a follower's log is counted once, and so is its frame. */
static void test_usage_counts_a_shared_batch_once(void **state) {
  (void)state;
  struct two_logs t;  /* first: a leader's log; second: a follower's */
  two_logs_init(&t);
  struct mk_batch *stored[1];
  struct mk_buffer *frame = store_frame(t.both, (int[]){10}, 1, 100, stored);
  int64_t once = t.usage.bytes;
  assert_int_equal(once, (int64_t)(frame->size + sizeof(struct mk_batch)));
  assert_int_equal(mk_log_append(&t.second, stored[0], NULL), 0);
  assert_int_equal(t.usage.bytes, once);
  mk_buffer_unref(frame);
  mk_log_advance_start(&t.first, t.first.log_end_offset);
  assert_int_equal(t.usage.bytes, once);  /* the follower still holds it */
  assert_int_equal(mk_log_advance_start(&t.second, t.second.log_end_offset), 1);
  assert_int_equal(t.usage.bytes, 0);
  assert_int_equal(t.second.log_start_offset, 10);
  two_logs_free(&t);
}

/* A log that ends below the new start (a follower far behind) restarts there. */
static void test_advance_start_past_the_end_restarts_the_log(void **state) {
  (void)state;
  struct mk_log log;
  mk_log_init(&log);
  append_records(&log, 3, 0);
  assert_int_equal(mk_log_advance_start(&log, 2), 0);  /* inside the batch: start moves only */
  assert_int_equal(log.log_start_offset, 2);
  assert_int_equal(log.count, 1);
  assert_int_equal(mk_log_advance_start(&log, 10), 1);
  assert_int_equal(log.log_start_offset, 10);
  assert_int_equal(log.log_end_offset, 10);
  assert_int_equal(log.count, 0);
  mk_log_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_new_rewrites_only_base_offset_and_leader_epoch),
      cmocka_unit_test(test_sequence_increment_and_decrement_wrap_like_kafka),
      cmocka_unit_test(test_batch_last_sequence_wraps_past_int32_max),
      cmocka_unit_test(test_batch_flags_come_from_attributes),
      cmocka_unit_test(test_batch_shared_by_two_logs_is_freed_after_both_drop_it),
      cmocka_unit_test(test_append_moves_log_end_offset_and_size),
      cmocka_unit_test(test_append_at_wrong_offset_is_refused_and_changes_nothing),
      cmocka_unit_test(test_find_returns_the_batch_holding_the_offset),
      cmocka_unit_test(test_many_appends_and_deletions_keep_offsets_findable),
      cmocka_unit_test(test_truncate_at_batch_boundary_removes_later_batches),
      cmocka_unit_test(test_truncate_inside_a_batch_rounds_down_to_its_base),
      cmocka_unit_test(test_truncate_at_or_beyond_log_end_is_a_no_op),
      cmocka_unit_test(test_truncate_below_first_batch_restarts_the_log_there),
      cmocka_unit_test(test_truncate_fully_and_start_at_moves_both_ends),
      cmocka_unit_test(test_end_offset_for_epoch_is_start_of_next_epoch),
      cmocka_unit_test(test_end_offset_for_epoch_before_all_known_epochs),
      cmocka_unit_test(test_retention_inside_an_epoch_moves_its_start),
      cmocka_unit_test(test_truncation_drops_epochs_starting_after_new_end),
      cmocka_unit_test(test_new_leader_assigns_its_epoch_at_log_end),
      cmocka_unit_test(test_leader_that_never_wrote_drops_its_epoch_on_truncation),
      cmocka_unit_test(test_new_epoch_replaces_conflicting_entries),
      cmocka_unit_test(test_retention_bytes_keeps_at_least_the_limit),
      cmocka_unit_test(test_retention_never_deletes_at_or_above_high_watermark),
      cmocka_unit_test(test_retention_ms_uses_each_batch_max_timestamp),
      cmocka_unit_test(test_retention_ms_stops_at_a_batch_with_a_future_timestamp),
      cmocka_unit_test(test_retention_minus_one_means_unlimited),
      cmocka_unit_test(test_retention_of_everything_moves_start_to_log_end),
      cmocka_unit_test(test_offset_for_timestamp_finds_the_exact_record),
      cmocka_unit_test(test_offset_for_timestamp_in_log_append_time_batch_uses_max_timestamp),
      cmocka_unit_test(test_offset_for_timestamp_reports_decompression_limit),
      cmocka_unit_test(test_a_small_batch_does_not_pin_a_big_frame),
      cmocka_unit_test(test_a_big_batch_stays_in_its_frame_when_little_is_freed),
      cmocka_unit_test(test_copy_out_waits_for_the_request_to_let_go),
      cmocka_unit_test(test_usage_counts_a_shared_batch_once),
      cmocka_unit_test(test_advance_start_past_the_end_restarts_the_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
