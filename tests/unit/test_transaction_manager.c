/*
 * Tests for the idempotent producer's sequence rules (producer/transaction_manager.c): what
 * an OUT_OF_ORDER_SEQUENCE_NUMBER means, depending on what the broker has acknowledged.
 * Pure functions over a partition's state and a batch: no broker, no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "producer/producer_batch.h"
#include "producer/record_accumulator.h"
#include "producer/transaction_manager.h"

/* OUT_OF_ORDER_SEQUENCE_NUMBER for a retried batch the broker has acknowledged past (a
 * later batch of its partition succeeded while its own answer was lost): it was written, so
 * it succeeds with an unknown offset; before, it failed and a new producer id made the
 * retries of the batches after it write them twice (found by tests/interop/test_chaos.py).
 * The other verdicts stay: a gap waits, the next expected batch is beyond repair. */
static void test_out_of_order_for_a_batch_acknowledged_past_means_it_was_written(void **state) {
  (void)state;
  struct mk_transaction_manager tm;
  mk_transaction_manager_init(&tm, true);
  tm.producer_id = 1000;
  tm.producer_epoch = 0;
  tm.need_producer_id = false;
  struct mk_partition_state ps = {.topic = "t", .partition = 2, .last_acked_sequence = 296};
  struct mk_producer_batch b;
  memset(&b, 0, sizeof b);
  b.topic = "t";
  b.partition = 2;
  b.record_count = 1;
  b.base_sequence = 194;
  b.attempts = 2;  /* a retry: its first answer was lost */
  assert_int_equal(mk_transaction_manager_sequence_error(&tm, &ps, &b, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER),
                   MK_SEQUENCE_WRITTEN);
  assert_false(tm.need_producer_id);
  b.base_sequence = 300;   /* 297 and on not written yet: wait for them */
  assert_int_equal(mk_transaction_manager_sequence_error(&tm, &ps, &b, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER),
                   MK_SEQUENCE_RETRY);
  b.base_sequence = 297;   /* the very next one refused: the broker lost track */
  assert_int_equal(mk_transaction_manager_sequence_error(&tm, &ps, &b, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER),
                   MK_SEQUENCE_RESET);
  assert_true(tm.need_producer_id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_of_order_for_a_batch_acknowledged_past_means_it_was_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
