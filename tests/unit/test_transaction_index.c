/*
 * Tests for broker/transaction_index.c (the aborted-transaction index) and the transaction
 * half of broker/producer_state.c that fills it: transactions opening and closing, the first
 * unstable offset (what holds the LSO), markers counting only once replicated, the index a
 * read_committed Fetch reads, and both rebuilt from a log after truncation, as a new leader
 * does after a failover.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/partition_log.h"
#include "broker/producer_state.h"
#include "broker/transaction_index.h"
#include "protocol/record_batch.h"

/* ---- the index alone ------------------------------------------------------------------------ */

static void test_index_collects_what_overlaps_the_fetch(void **state) {
  (void)state;
  struct mk_transaction_index idx;
  mk_transaction_index_init(&idx);
  /* A long transaction (5..40) ends after a short one (30..31). */
  struct mk_aborted_txn a = {7, 5, 20, 21}, b = {8, 30, 31, 32}, c = {9, 2, 40, 41};
  assert_int_equal(mk_transaction_index_append(&idx, &a), 0);
  assert_int_equal(mk_transaction_index_append(&idx, &b), 0);
  assert_int_equal(mk_transaction_index_append(&idx, &c), 0);
  struct mk_aborted_txn older = {1, 0, 10, 11};
  assert_int_equal(mk_transaction_index_append(&idx, &older), MK_ERR__INVALID_ARG);  /* out of order */
  struct mk_aborted_txn out[4];
  /* [0, 25): a and c began before 25; b began at 30. */
  assert_int_equal(mk_transaction_index_collect(&idx, 0, 25, out, 4), 2);
  assert_int_equal(out[0].producer_id, 7);
  assert_int_equal(out[1].producer_id, 9);
  /* [21, 35): a ended at 20, before it; b and c overlap. */
  assert_int_equal(mk_transaction_index_collect(&idx, 21, 35, out, 4), 2);
  assert_int_equal(out[0].producer_id, 8);
  assert_int_equal(out[1].producer_id, 9);
  /* Counting without room, then past every marker. */
  assert_int_equal(mk_transaction_index_collect(&idx, 0, 100, NULL, 0), 3);
  assert_int_equal(mk_transaction_index_collect(&idx, 41, 100, out, 4), 0);
  /* Retention removed everything below 25: entries whose marker went with it are dropped. */
  mk_transaction_index_truncate_head(&idx, 25);
  assert_int_equal(idx.count, 2);
  assert_int_equal(idx.entries[0].producer_id, 8);
  mk_transaction_index_clear(&idx);
  assert_int_equal(idx.count, 0);
  mk_transaction_index_free(&idx);
}

/* ---- producer state: a partition's log by hand ---------------------------------------------- */

struct partition {
  struct mk_log log;
  struct mk_producer_state ps;
};

static void part_init(struct partition *p) {
  mk_log_init(&p->log);
  mk_producer_state_init(&p->ps);
}

static void part_free(struct partition *p) {
  mk_log_free(&p->log);
  mk_producer_state_free(&p->ps);
}

/* Append a batch of n records of producer pid (transactional or not) as the leader would. */
static int64_t append_data(struct partition *p, int64_t pid, int16_t epoch, int32_t seq, int n,
                           bool transactional) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = pid;
  bb.producer_epoch = epoch;
  bb.base_sequence = seq;
  if (transactional) bb.attributes = MK_ATTR_TRANSACTIONAL;
  for (int i = 0; i < n; i++)
    assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000000, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)"v", 1},
                                                    NULL, 0), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, &err), 0);
  mk_record_batch_builder_free(&bb);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, &err), 0);
  bool dup;
  assert_int_equal(mk_producer_state_check(&p->ps, &parsed, &dup, NULL, &err), 0);
  struct mk_batch *b = mk_batch_new(&parsed, p->log.log_end_offset, 0, 0, NULL);
  assert_int_equal(mk_log_append(&p->log, b, &err), 0);
  assert_int_equal(mk_producer_state_update(&p->ps, b), 0);
  int64_t base = b->base_offset;
  mk_batch_unref(b);
  mk_writer_free(&w);
  return base;
}

static int64_t append_marker(struct partition *p, int64_t pid, int16_t epoch, bool commit,
                             int32_t coordinator_epoch) {
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_write_control(&w, pid, epoch,
                                                 commit ? MK_CONTROL_COMMIT : MK_CONTROL_ABORT,
                                                 coordinator_epoch, 1700000000000, &err), 0);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, &err), 0);
  assert_int_equal(mk_producer_state_check_coordinator(&p->ps, pid, epoch, coordinator_epoch, &err), 0);
  struct mk_batch *b = mk_batch_new(&parsed, p->log.log_end_offset, 0, 0, NULL);
  assert_int_equal(mk_log_append(&p->log, b, &err), 0);
  assert_int_equal(mk_producer_state_update(&p->ps, b), 0);
  int64_t base = b->base_offset;
  mk_batch_unref(b);
  mk_writer_free(&w);
  return base;
}

/* LSO = min(first unstable offset, hw), as mk_partition_last_stable_offset computes it. */
static int64_t lso(const struct partition *p, int64_t hw) {
  int64_t f = mk_producer_state_first_unstable_offset(&p->ps);
  return f >= 0 && f < hw ? f : hw;
}

static void test_open_transaction_holds_the_lso_until_its_marker_is_replicated(void **state) {
  (void)state;
  struct partition p;
  part_init(&p);
  append_data(&p, 50, 0, 0, 3, false);           /* 0..2 plain, idempotent */
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), -1);
  assert_int_equal(lso(&p, 3), 3);
  int64_t first = append_data(&p, 7, 0, 0, 2, true);  /* 3..4: producer 7 begins */
  assert_int_equal(first, 3);
  append_data(&p, 50, 0, 3, 1, false);           /* 5: plain records keep coming */
  append_data(&p, 7, 0, 2, 1, true);             /* 6: still the same transaction */
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p.ps, 7);
  assert_int_equal(e->current_txn_first_offset, 3);
  assert_int_equal(lso(&p, 7), 3);               /* HW 7: the consumer stops at 3 */
  int64_t marker = append_marker(&p, 7, 0, true, 0);  /* 7: COMMIT */
  assert_int_equal(marker, 7);
  assert_int_equal(e->current_txn_first_offset, -1);
  /* Closed, but not replicated: still holding the LSO at 3 while the HW is at or below 7. */
  mk_producer_state_on_high_watermark(&p.ps, 7);
  assert_int_equal(lso(&p, 7), 3);
  mk_producer_state_on_high_watermark(&p.ps, 8);  /* the followers have the marker */
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), -1);
  assert_int_equal(lso(&p, 8), 8);
  assert_int_equal(p.ps.aborted.count, 0);       /* a commit is not indexed */
  part_free(&p);
}

static void test_abort_goes_to_the_index_with_the_next_open_transaction_as_lso(void **state) {
  (void)state;
  struct partition p;
  part_init(&p);
  append_data(&p, 7, 0, 0, 2, true);             /* 0..1: producer 7 */
  append_data(&p, 8, 0, 0, 1, true);             /* 2: producer 8 begins too */
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), 0);
  append_marker(&p, 7, 0, false, 0);             /* 3: ABORT 7 */
  assert_int_equal(p.ps.aborted.count, 1);
  struct mk_aborted_txn a = p.ps.aborted.entries[0];
  assert_int_equal(a.producer_id, 7);
  assert_int_equal(a.first_offset, 0);
  assert_int_equal(a.last_offset, 3);
  assert_int_equal(a.last_stable_offset, 2);     /* producer 8's transaction is still open */
  mk_producer_state_on_high_watermark(&p.ps, 4);
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), 2);  /* now 8 holds it */
  append_marker(&p, 8, 0, false, 0);             /* 4: ABORT 8 */
  assert_int_equal(p.ps.aborted.entries[1].last_stable_offset, 5);
  mk_producer_state_on_high_watermark(&p.ps, 5);
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), -1);
  part_free(&p);
}

static void test_plain_batch_inside_a_transaction_is_refused(void **state) {
  (void)state;
  struct partition p;
  part_init(&p);
  append_data(&p, 7, 0, 0, 1, true);
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = 7;
  bb.producer_epoch = 0;
  bb.base_sequence = 1;
  assert_int_equal(mk_record_batch_builder_append(&bb, 1, MK_BYTES_NULL, MK_BYTES_NULL, NULL, 0), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, &err), 0);
  struct mk_record_batch parsed;
  assert_int_equal(mk_record_batch_parse(w.buf, w.len, &parsed, &err), 0);
  bool dup;
  assert_int_equal(mk_producer_state_check(&p.ps, &parsed, &dup, NULL, &err), MK_ERR_INVALID_TXN_STATE);
  assert_non_null(strstr(err.msg, "Expected transactional write"));
  mk_record_batch_builder_free(&bb);
  mk_writer_free(&w);
  part_free(&p);
}

/* The coordinator that wrote the last marker has epoch 3: an older coordinator (a zombie
 * that lost its partition) is refused; an older producer epoch too. */
static void test_markers_from_older_epochs_are_refused(void **state) {
  (void)state;
  struct partition p;
  part_init(&p);
  append_data(&p, 7, 2, 0, 1, true);
  append_marker(&p, 7, 2, true, 3);
  struct mk_err err = {0};
  assert_int_equal(mk_producer_state_check_coordinator(&p.ps, 7, 2, 2, &err),
                   MK_ERR_TRANSACTION_COORDINATOR_FENCED);
  assert_int_equal(mk_producer_state_check_coordinator(&p.ps, 7, 1, 3, &err),
                   MK_ERR_INVALID_PRODUCER_EPOCH);
  assert_int_equal(mk_producer_state_check_coordinator(&p.ps, 7, 3, 3, &err), 0);  /* a fence */
  assert_int_equal(mk_producer_state_check_coordinator(&p.ps, 99, 0, 0, &err), 0);  /* unknown */
  part_free(&p);
}

/* A follower that becomes leader had only part of the old leader's log: the abort marker
 * at offset 4 never reached it. Rebuilt from what it has, the transaction is open again and
 * holds its LSO (until the coordinator writes the marker to the new leader), and the index
 * knows only the aborts its log holds. */
static void test_rebuild_after_truncation_reopens_a_transaction_whose_marker_was_lost(void **state) {
  (void)state;
  struct partition p;
  part_init(&p);
  append_data(&p, 7, 0, 0, 1, true);             /* 0 */
  append_marker(&p, 7, 0, false, 0);             /* 1: ABORT 7 */
  append_data(&p, 8, 0, 0, 2, true);             /* 2..3 */
  append_marker(&p, 8, 0, false, 0);             /* 4: ABORT 8, lost in the failover */
  mk_producer_state_on_high_watermark(&p.ps, 5);
  assert_int_equal(p.ps.aborted.count, 2);
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), -1);

  mk_log_truncate_to(&p.log, 4);
  assert_int_equal(mk_producer_state_rebuild(&p.ps, &p.log), 0);
  mk_producer_state_on_high_watermark(&p.ps, 4);
  assert_int_equal(p.ps.aborted.count, 1);
  assert_int_equal(p.ps.aborted.entries[0].producer_id, 7);
  assert_int_equal(mk_producer_state_first_unstable_offset(&p.ps), 2);
  assert_int_equal(lso(&p, 4), 2);
  assert_int_equal(mk_producer_state_lookup(&p.ps, 8)->current_txn_first_offset, 2);
  /* The coordinator retries the marker on the new leader: it counts once replicated. */
  append_marker(&p, 8, 0, false, 1);
  mk_producer_state_on_high_watermark(&p.ps, 5);
  assert_int_equal(lso(&p, 5), 5);
  assert_int_equal(p.ps.aborted.count, 2);

  /* Retention that removes the first transaction and its marker forgets its entry. */
  mk_producer_state_on_log_start(&p.ps, 2);
  assert_int_equal(p.ps.aborted.count, 1);
  assert_int_equal(p.ps.aborted.entries[0].producer_id, 8);
  part_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_collects_what_overlaps_the_fetch),
      cmocka_unit_test(test_open_transaction_holds_the_lso_until_its_marker_is_replicated),
      cmocka_unit_test(test_abort_goes_to_the_index_with_the_next_open_transaction_as_lso),
      cmocka_unit_test(test_plain_batch_inside_a_transaction_is_refused),
      cmocka_unit_test(test_markers_from_older_epochs_are_refused),
      cmocka_unit_test(test_rebuild_after_truncation_reopens_a_transaction_whose_marker_was_lost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
