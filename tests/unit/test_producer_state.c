/*
 * Tests for broker/producer_state.c: idempotent dedup, one test per branch of Kafka's
 * ProducerAppendInfo / UnifiedLog.analyzeAndValidateProducerState, plus the table itself
 * (growth, iteration) and rebuilding the state from a truncated log.
 *
 * Each test drives a partition the way the Produce handler will: check the batch, and
 * unless it is refused or a duplicate, store it at the log end and update the state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/partition_log.h"
#include "broker/producer_state.h"
#include "protocol/record_batch.h"

/* One replica of one partition. */
struct partition {
  struct mk_log log;
  struct mk_producer_state ps;
};

static void partition_init(struct partition *p) {
  mk_log_init(&p->log);
  mk_producer_state_init(&p->ps);
}

static void partition_free(struct partition *p) {
  mk_log_free(&p->log);
  mk_producer_state_free(&p->ps);
}

/* The bytes of a batch as a producer sends it, and the parsed view the handler checks. */
struct request_batch {
  struct mk_writer w;
  struct mk_record_batch b;
};

static void build(struct request_batch *rb, int64_t producer_id, int16_t epoch, int32_t seq,
                  int records) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = producer_id;
  bb.producer_epoch = epoch;
  bb.base_sequence = seq;
  for (int i = 0; i < records; i++)
    assert_int_equal(mk_record_batch_builder_append(&bb, 1000 + i, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)"v", 1},
                                                    NULL, 0), 0);
  mk_writer_init(&rb->w);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &rb->w, NULL), 0);
  assert_int_equal(mk_record_batch_parse(rb->w.buf, rb->w.len, &rb->b, NULL), 0);
  mk_record_batch_builder_free(&bb);
}

/* Store an already checked batch on p as the leader does: at the log end, epoch 0. */
static void store(struct partition *p, const struct mk_record_batch *b) {
  struct mk_batch *stored = mk_batch_new(b, p->log.log_end_offset, 0, 0, NULL);
  assert_non_null(stored);
  assert_int_equal(mk_log_append(&p->log, stored, NULL), 0);
  assert_int_equal(mk_producer_state_update(&p->ps, stored), 0);
  mk_batch_unref(stored);
}

/* What the Produce handler does for one partition: returns the error code, *offset the
 * base offset answered (the original one for a duplicate), *dup whether it was one. */
static int produce_full(struct partition *p, int64_t producer_id, int16_t epoch, int32_t seq,
                        int records, int64_t *offset, bool *dup, struct mk_err *err) {
  struct request_batch rb;
  build(&rb, producer_id, epoch, seq, records);
  bool duplicate = true;  /* check must clear it */
  struct mk_batch_metadata original = {0};
  int rc = mk_producer_state_check(&p->ps, &rb.b, &duplicate, &original, err);
  if (dup) *dup = duplicate;
  if (rc == 0 && duplicate) {
    if (offset) *offset = original.first_offset;
  } else if (rc == 0) {
    if (offset) *offset = p->log.log_end_offset;
    store(p, &rb.b);
  }
  mk_writer_free(&rb.w);
  return rc;
}

/* A produce that must succeed and not be a duplicate; returns its base offset. */
static int64_t produce(struct partition *p, int64_t producer_id, int16_t epoch, int32_t seq,
                       int records) {
  int64_t offset = -1;
  bool dup = true;
  struct mk_err err = {0};
  int rc = produce_full(p, producer_id, epoch, seq, records, &offset, &dup, &err);
  if (rc) fail_msg("produce pid %lld epoch %d seq %d: %s %s", (long long)producer_id, epoch, seq,
                   mk_err_name(rc), err.msg);
  assert_false(dup);
  return offset;
}

/* ---- accepted batches -------------------------------------------------------------------- */

static void test_first_batch_of_new_producer_is_accepted(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  assert_null(mk_producer_state_lookup(&p.ps, 1000));
  assert_int_equal(produce(&p, 1000, 0, 0, 3), 0);
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_non_null(e);
  assert_int_equal(e->producer_id, 1000);
  assert_int_equal(e->producer_epoch, 0);
  assert_int_equal(e->batches_count, 1);
  assert_int_equal(e->batches[0].first_seq, 0);
  assert_int_equal(e->batches[0].last_seq, 2);
  assert_int_equal(e->batches[0].first_offset, 0);
  assert_int_equal(e->batches[0].last_offset, 2);
  assert_int_equal(e->batches[0].timestamp, 1002);
  assert_int_equal(e->last_timestamp, 1002);
  assert_int_equal(mk_producer_entry_last_seq(e), 2);
  assert_int_equal(mk_producer_entry_last_offset(e), 2);
  partition_free(&p);
}

static void test_unknown_producer_accepts_any_sequence(void **state) {
  (void)state;
  /* Kafka: no state (lost to retention or truncation) means NO_PRODUCER_EPOCH, and then
   * checkSequence accepts any sequence, for a new epoch or not. */
  struct partition p;
  partition_init(&p);
  assert_int_equal(produce(&p, 7, 3, 42, 2), 0);
  assert_int_equal(mk_producer_entry_last_seq(mk_producer_state_lookup(&p.ps, 7)), 43);
  assert_int_equal(produce(&p, 7, 3, 44, 1), 2);
  partition_free(&p);
}

static void test_in_order_sequences_are_accepted(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  assert_int_equal(produce(&p, 1000, 0, 0, 3), 0);  /* seq 0-2 */
  assert_int_equal(produce(&p, 1000, 0, 3, 2), 3);  /* seq 3-4 */
  assert_int_equal(produce(&p, 1000, 0, 5, 1), 5);  /* seq 5 */
  /* Another producer on the same partition has its own sequences. */
  assert_int_equal(produce(&p, 1001, 0, 0, 1), 6);
  assert_int_equal(p.log.log_end_offset, 7);
  assert_int_equal(mk_producer_entry_last_seq(mk_producer_state_lookup(&p.ps, 1000)), 5);
  assert_int_equal(mk_producer_entry_last_offset(mk_producer_state_lookup(&p.ps, 1000)), 5);
  assert_int_equal(p.ps.count, 2);
  partition_free(&p);
}

/* ---- duplicates -------------------------------------------------------------------------- */

static void test_retry_of_latest_batch_is_duplicate(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 2);
  produce(&p, 1000, 0, 2, 3);  /* offsets 2-4 */
  int64_t offset = -1;
  bool dup = false;
  struct mk_err err = {0};
  assert_int_equal(produce_full(&p, 1000, 0, 2, 3, &offset, &dup, &err), 0);
  assert_true(dup);
  assert_int_equal(offset, 2);             /* the original offset, no error */
  assert_int_equal(p.log.log_end_offset, 5);  /* nothing appended */
  assert_int_equal(p.log.count, 2);
  partition_free(&p);
}

static void test_retry_of_fifth_latest_batch_is_duplicate(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  for (int i = 0; i < 5; i++) produce(&p, 1000, 0, i * 2, 2);  /* offsets 0,2,4,6,8 */
  int64_t offset = -1;
  bool dup = false;
  struct mk_batch_metadata original = {0};
  struct request_batch rb;
  build(&rb, 1000, 0, 0, 2);
  assert_int_equal(mk_producer_state_check(&p.ps, &rb.b, &dup, &original, NULL), 0);
  mk_writer_free(&rb.w);
  assert_true(dup);
  assert_int_equal(original.first_seq, 0);
  assert_int_equal(original.last_seq, 1);
  assert_int_equal(original.first_offset, 0);
  assert_int_equal(original.last_offset, 1);
  /* The same through the handler's path. */
  assert_int_equal(produce_full(&p, 1000, 0, 4, 2, &offset, &dup, NULL), 0);
  assert_true(dup);
  assert_int_equal(offset, 4);
  assert_int_equal(p.log.log_end_offset, 10);
  partition_free(&p);
}

static void test_retry_older_than_five_kept_is_out_of_order(void **state) {
  (void)state;
  /* Six batches in flight and the first one's response lost: the broker has forgotten
   * it, and a sequence that is not last + 1 is out of order. */
  struct partition p;
  partition_init(&p);
  for (int i = 0; i < 6; i++) produce(&p, 1000, 0, i, 1);
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_int_equal(e->batches_count, 5);
  assert_int_equal(e->batches[0].first_seq, 1);  /* seq 0 was dropped */
  assert_int_equal(e->batches[4].first_seq, 5);
  struct mk_err err = {0};
  bool dup = true;
  assert_int_equal(produce_full(&p, 1000, 0, 0, 1, NULL, &dup, &err),
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_false(dup);
  assert_non_null(strstr(err.msg, "producer 1000 epoch 0"));
  assert_non_null(strstr(err.msg, "expected 6, received 0"));
  assert_int_equal(p.log.log_end_offset, 6);
  partition_free(&p);
}

static void test_duplicate_needs_the_exact_sequence_range(void **state) {
  (void)state;
  /* Same first sequence, different record count: not the same batch, and its first
   * sequence is not the next one either. */
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 3);
  struct mk_err err = {0};
  bool dup = true;
  assert_int_equal(produce_full(&p, 1000, 0, 0, 2, NULL, &dup, &err),
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_false(dup);
  assert_non_null(strstr(err.msg, "expected 3, received 0"));
  partition_free(&p);
}

/* ---- out of order ------------------------------------------------------------------------ */

static void test_gap_is_out_of_order(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 1);
  struct mk_err err = {0};
  assert_int_equal(produce_full(&p, 1000, 0, 2, 1, NULL, NULL, &err),
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_int_equal(err.code, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_string_equal(err.msg,
                      "Out of order sequence number for producer 1000 epoch 0: expected 1, "
                      "received 2 (last appended sequence 0)");
  assert_int_equal(p.log.log_end_offset, 1);
  /* The batch that fills the gap is still welcome. */
  assert_int_equal(produce(&p, 1000, 0, 1, 1), 1);
  partition_free(&p);
}

static void test_check_does_not_change_state(void **state) {
  (void)state;
  /* Kafka checks a whole request before it appends anything; a batch that passes the
   * check but is refused later (another partition's error, acks) leaves no trace. */
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 1);
  struct mk_producer_entry before;
  memcpy(&before, mk_producer_state_lookup(&p.ps, 1000), sizeof before);
  struct request_batch rb;
  bool dup = true;
  build(&rb, 1000, 1, 0, 4);  /* a new epoch, accepted by check */
  assert_int_equal(mk_producer_state_check(&p.ps, &rb.b, &dup, NULL, NULL), 0);
  assert_false(dup);
  mk_writer_free(&rb.w);
  build(&rb, 2000, 0, 0, 1);  /* a new producer */
  assert_int_equal(mk_producer_state_check(&p.ps, &rb.b, &dup, NULL, NULL), 0);
  mk_writer_free(&rb.w);
  const struct mk_producer_entry *after = mk_producer_state_lookup(&p.ps, 1000);
  assert_memory_equal(&before, after, sizeof before);
  assert_null(mk_producer_state_lookup(&p.ps, 2000));
  assert_int_equal(p.ps.count, 1);
  /* So the old epoch's next batch is still in sequence. */
  assert_int_equal(produce(&p, 1000, 0, 1, 1), 1);
  partition_free(&p);
}

/* ---- epochs ------------------------------------------------------------------------------ */

static void test_old_epoch_is_invalid_producer_epoch(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 3, 0, 1);
  struct mk_err err = {0};
  assert_int_equal(produce_full(&p, 1000, 2, 1, 1, NULL, NULL, &err),
                   MK_ERR_INVALID_PRODUCER_EPOCH);
  assert_string_equal(err.msg,
                      "Epoch of producer 1000 is 2, which is smaller than the last seen epoch 3");
  assert_int_equal(p.log.log_end_offset, 1);
  partition_free(&p);
}

static void test_retry_from_old_epoch_is_not_a_duplicate(void **state) {
  (void)state;
  /* A duplicate must carry the current epoch: a zombie's retry is fenced, not answered. */
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 1);
  produce(&p, 1000, 1, 0, 1);
  bool dup = true;
  assert_int_equal(produce_full(&p, 1000, 0, 0, 1, NULL, &dup, NULL),
                   MK_ERR_INVALID_PRODUCER_EPOCH);
  assert_false(dup);
  partition_free(&p);
}

static void test_new_epoch_starting_at_zero_is_accepted(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  for (int i = 0; i < 3; i++) produce(&p, 1000, 0, i, 1);
  assert_int_equal(produce(&p, 1000, 1, 0, 2), 3);
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_int_equal(e->producer_epoch, 1);
  assert_int_equal(e->batches_count, 1);  /* the old epoch's batches are forgotten */
  assert_int_equal(e->batches[0].first_seq, 0);
  assert_int_equal(e->batches[0].first_offset, 3);
  assert_int_equal(produce(&p, 1000, 1, 2, 1), 5);
  partition_free(&p);
}

static void test_new_epoch_not_starting_at_zero_is_out_of_order(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 5);
  struct mk_err err = {0};
  assert_int_equal(produce_full(&p, 1000, 1, 5, 1, NULL, NULL, &err),
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_non_null(strstr(err.msg, "Invalid sequence number for new epoch of producer 1000"));
  assert_non_null(strstr(err.msg, "expected sequence 0, received 5"));
  assert_int_equal(mk_producer_state_lookup(&p.ps, 1000)->producer_epoch, 0);
  partition_free(&p);
}

/* ---- sequence wrap ----------------------------------------------------------------------- */

static void test_sequence_wraps_to_zero_after_int32_max(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  /* A long-lived producer near the top of the range (unknown here, so accepted). */
  assert_int_equal(produce(&p, 1000, 0, INT32_MAX - 1, 2), 0);  /* seq MAX-1, MAX */
  assert_int_equal(mk_producer_entry_last_seq(mk_producer_state_lookup(&p.ps, 1000)), INT32_MAX);
  assert_int_equal(produce(&p, 1000, 0, 0, 1), 2);              /* wraps to 0 */
  /* INT32_MAX + 1 as a plain int would be out of order (and undefined in C). */
  struct mk_err err = {0};
  assert_int_equal(produce_full(&p, 1000, 0, 2, 1, NULL, NULL, &err),
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_non_null(strstr(err.msg, "expected 1, received 2"));
  partition_free(&p);
}

static void test_batch_spanning_the_wrap_is_checked_and_deduplicated(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, INT32_MAX - 3, 1);           /* seq MAX-3 */
  assert_int_equal(produce(&p, 1000, 0, INT32_MAX - 2, 4), 1);  /* MAX-2 .. 0 */
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_int_equal(e->batches[1].first_seq, INT32_MAX - 2);
  assert_int_equal(e->batches[1].last_seq, 0);
  int64_t offset = -1;
  bool dup = false;
  assert_int_equal(produce_full(&p, 1000, 0, INT32_MAX - 2, 4, &offset, &dup, NULL), 0);
  assert_true(dup);
  assert_int_equal(offset, 1);
  assert_int_equal(produce(&p, 1000, 0, 1, 1), 5);
  partition_free(&p);
}

/* ---- batches without a producer, control batches ----------------------------------------- */

static void test_non_idempotent_batches_skip_all_checks(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  /* The same bytes twice: without a producer id nothing can tell a retry, so both go in. */
  assert_int_equal(produce(&p, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH, MK_NO_SEQUENCE, 2), 0);
  assert_int_equal(produce(&p, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH, MK_NO_SEQUENCE, 2), 2);
  assert_int_equal(p.ps.count, 0);
  size_t it = 0;
  assert_null(mk_producer_state_next(&p.ps, &it));
  assert_null(mk_producer_state_lookup(&p.ps, -1));
  partition_free(&p);
}

static void test_control_batch_updates_epoch_but_no_sequences(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  produce(&p, 1000, 0, 0, 2);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_record_batch_write_control(&w, 1000, 1, MK_CONTROL_ABORT, 0, 5000, NULL), 0);
  struct mk_record_batch marker;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &marker, NULL), 0);
  bool dup = true;
  assert_int_equal(mk_producer_state_check(&p.ps, &marker, &dup, NULL, NULL), 0);
  assert_false(dup);
  store(&p, &marker);
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_int_equal(e->producer_epoch, 1);
  assert_int_equal(e->batches_count, 0);
  assert_int_equal(e->last_timestamp, 5000);
  /* An older epoch's marker is fenced like its data. */
  mk_writer_free(&w);
  mk_writer_init(&w);
  assert_int_equal(mk_record_batch_write_control(&w, 1000, 0, MK_CONTROL_ABORT, 0, 5000, NULL), 0);
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &marker, NULL), 0);
  assert_int_equal(mk_producer_state_check(&p.ps, &marker, &dup, NULL, NULL),
                   MK_ERR_INVALID_PRODUCER_EPOCH);
  mk_writer_free(&w);
  /* The bumped epoch starts at sequence 0; with no batch retained, 0 is what comes next. */
  assert_int_equal(produce(&p, 1000, 1, 0, 1), 3);
  partition_free(&p);
}

/* ---- rebuild ----------------------------------------------------------------------------- */

static void test_rebuild_after_truncation_forgets_removed_batches(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  for (int i = 0; i < 4; i++) produce(&p, 1000, 0, i, 1);  /* seq i at offset i */
  produce(&p, 2000, 0, 0, 1);                              /* offset 4 */
  /* The new leader only had offsets 0-1. */
  mk_log_truncate_to(&p.log, 2);
  assert_int_equal(mk_producer_state_rebuild(&p.ps, &p.log), 0);
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000);
  assert_int_equal(e->batches_count, 2);
  assert_int_equal(mk_producer_entry_last_seq(e), 1);
  assert_int_equal(mk_producer_entry_last_offset(e), 1);
  assert_null(mk_producer_state_lookup(&p.ps, 2000));  /* its only batch was removed */
  assert_int_equal(p.ps.count, 1);
  /* Seq 2 is not a duplicate any more: it is the next batch, written again. */
  assert_int_equal(produce(&p, 1000, 0, 2, 1), 2);
  /* And producer 2000, now unknown, is accepted wherever it is. */
  assert_int_equal(produce(&p, 2000, 0, 1, 1), 3);
  partition_free(&p);
}

static void test_follower_state_recognises_retry_after_failover(void **state) {
  (void)state;
  /* The lab's story: the leader appends, the follower copies, the ack is lost, the
   * leader dies, and the producer retries against the follower, now leader. */
  struct partition leader, follower;
  partition_init(&leader);
  partition_init(&follower);
  for (int i = 0; i < 3; i++) {
    produce(&leader, 1000, 0, i * 2, 2);
    struct mk_batch *b = mk_log_batch(&leader.log, leader.log.count - 1);
    assert_int_equal(mk_log_append(&follower.log, b, NULL), 0);       /* shared bytes */
    assert_int_equal(mk_producer_state_update(&follower.ps, b), 0);   /* no checks */
  }
  partition_free(&leader);
  int64_t offset = -1;
  bool dup = false;
  assert_int_equal(produce_full(&follower, 1000, 0, 4, 2, &offset, &dup, NULL), 0);
  assert_true(dup);
  assert_int_equal(offset, 4);
  assert_int_equal(follower.log.log_end_offset, 6);
  partition_free(&follower);
}

/* ---- the table --------------------------------------------------------------------------- */

static void test_many_producers_grow_the_table(void **state) {
  (void)state;
  enum { N = 3000 };
  struct partition p;
  partition_init(&p);
  /* Producer ids as InitProducerId hands them out, consecutive, two batches each. */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N; i++) produce(&p, 1000 + i, 0, round, 1);
  assert_int_equal(p.ps.count, N);
  assert_true(p.ps.cap >= 2 * N);
  assert_int_equal(p.ps.cap & (p.ps.cap - 1), 0);  /* a power of two */
  for (int i = 0; i < N; i++) {
    const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 1000 + i);
    assert_non_null(e);
    assert_int_equal(e->batches_count, 2);
    assert_int_equal(e->batches[1].first_offset, N + i);
  }
  assert_null(mk_producer_state_lookup(&p.ps, 1000 + N));
  /* Iteration visits every producer exactly once. */
  static unsigned char seen[N];
  memset(seen, 0, sizeof seen);
  size_t it = 0, visited = 0;
  const struct mk_producer_entry *e;
  while ((e = mk_producer_state_next(&p.ps, &it)) != NULL) {
    assert_true(e->producer_id >= 1000 && e->producer_id < 1000 + N);
    assert_int_equal(seen[e->producer_id - 1000]++, 0);
    visited++;
  }
  assert_int_equal(visited, N);
  /* Rebuild keeps the table's size and finds them all again. */
  size_t cap = p.ps.cap;
  assert_int_equal(mk_producer_state_rebuild(&p.ps, &p.log), 0);
  assert_int_equal(p.ps.count, N);
  assert_int_equal(p.ps.cap, cap);
  assert_int_equal(mk_producer_entry_last_seq(mk_producer_state_lookup(&p.ps, 1000 + N - 1)), 1);
  partition_free(&p);
}

static void test_iteration_lists_each_producer_with_its_retained_batches(void **state) {
  (void)state;
  struct partition p;
  partition_init(&p);
  assert_int_equal(p.ps.cap, 0);
  size_t it = 0;
  assert_null(mk_producer_state_next(&p.ps, &it));  /* an empty table allocates nothing */
  for (int i = 0; i < 7; i++) produce(&p, 5, 2, i * 3, 3);
  produce(&p, 6, 0, 0, 1);
  int found = 0;
  it = 0;
  const struct mk_producer_entry *e;
  while ((e = mk_producer_state_next(&p.ps, &it)) != NULL) {
    found++;
    if (e->producer_id == 5) {
      assert_int_equal(e->producer_epoch, 2);
      assert_int_equal(e->batches_count, 5);
      for (int i = 0; i < 5; i++) {  /* the last five, oldest first */
        assert_int_equal(e->batches[i].first_seq, (i + 2) * 3);
        assert_int_equal(e->batches[i].last_seq, (i + 2) * 3 + 2);
        assert_int_equal(e->batches[i].first_offset, (i + 2) * 3);
      }
      assert_int_equal(mk_producer_entry_last_seq(e), 20);
      assert_int_equal(mk_producer_entry_last_offset(e), 20);
    } else {
      assert_int_equal(e->producer_id, 6);
      assert_int_equal(mk_producer_entry_last_offset(e), 21);
    }
  }
  assert_int_equal(found, 2);
  partition_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_batch_of_new_producer_is_accepted),
      cmocka_unit_test(test_unknown_producer_accepts_any_sequence),
      cmocka_unit_test(test_in_order_sequences_are_accepted),
      cmocka_unit_test(test_retry_of_latest_batch_is_duplicate),
      cmocka_unit_test(test_retry_of_fifth_latest_batch_is_duplicate),
      cmocka_unit_test(test_retry_older_than_five_kept_is_out_of_order),
      cmocka_unit_test(test_duplicate_needs_the_exact_sequence_range),
      cmocka_unit_test(test_gap_is_out_of_order),
      cmocka_unit_test(test_check_does_not_change_state),
      cmocka_unit_test(test_old_epoch_is_invalid_producer_epoch),
      cmocka_unit_test(test_retry_from_old_epoch_is_not_a_duplicate),
      cmocka_unit_test(test_new_epoch_starting_at_zero_is_accepted),
      cmocka_unit_test(test_new_epoch_not_starting_at_zero_is_out_of_order),
      cmocka_unit_test(test_sequence_wraps_to_zero_after_int32_max),
      cmocka_unit_test(test_batch_spanning_the_wrap_is_checked_and_deduplicated),
      cmocka_unit_test(test_non_idempotent_batches_skip_all_checks),
      cmocka_unit_test(test_control_batch_updates_epoch_but_no_sequences),
      cmocka_unit_test(test_rebuild_after_truncation_forgets_removed_batches),
      cmocka_unit_test(test_follower_state_recognises_retry_after_failover),
      cmocka_unit_test(test_many_producers_grow_the_table),
      cmocka_unit_test(test_iteration_lists_each_producer_with_its_retained_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
