/*
 * TransactionManager (idempotence): see transaction_manager.h.
 */
#include "producer/transaction_manager.h"

#include "common/log.h"

void mk_transaction_manager_init(struct mk_transaction_manager *tm, bool idempotent) {
  tm->idempotent = idempotent;
  tm->producer_id = -1;
  tm->producer_epoch = -1;
  tm->need_producer_id = idempotent;
  tm->requesting = false;
}

bool mk_transaction_manager_ready(const struct mk_transaction_manager *tm) {
  return !tm->idempotent || (tm->producer_id >= 0 && !tm->need_producer_id);
}

void mk_transaction_manager_set_producer_id(struct mk_transaction_manager *tm,
                                            struct mk_accumulator *acc, int64_t producer_id,
                                            int16_t epoch) {
  tm->producer_id = producer_id;
  tm->producer_epoch = epoch;
  tm->need_producer_id = false;
  tm->requesting = false;
  mk_accumulator_reset_sequences(acc, producer_id, epoch);
}

void mk_transaction_manager_acked(struct mk_partition_state *ps,
                                  const struct mk_producer_batch *batch) {
  if (!ps || batch->base_sequence < 0) return;
  int32_t last = mk_last_sequence(batch->base_sequence, batch->record_count - 1);
  /* Responses for one partition can come back out of order only across connections;
   * keep the highest. */
  if (last > ps->last_acked_sequence || ps->last_acked_sequence - last > INT32_MAX / 2)
    ps->last_acked_sequence = last;
}

enum mk_sequence_verdict mk_transaction_manager_sequence_error(struct mk_transaction_manager *tm,
                                                               struct mk_partition_state *ps,
                                                               const struct mk_producer_batch *batch,
                                                               int16_t error) {
  int32_t expected = ps ? ps->last_acked_sequence + 1 : 0;
  if (error == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && batch->base_sequence > expected) {
    /* An earlier batch of this partition has not been written yet (it failed, or is
     * still in flight): this one must wait for it. */
    return MK_SEQUENCE_RETRY;
  }
  int32_t last = mk_last_sequence(batch->base_sequence, batch->record_count - 1);
  if (error == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && ps && ps->last_acked_sequence >= 0 &&
      batch->attempts > 1 && last <= ps->last_acked_sequence) {
    /* Acknowledged past it: it was written (see the top of transaction_manager.h). */
    mk_log(MK_LOG_INFO, "producer",
           "%s-%d: batch with sequences %d-%d answered %s after sequence %d was acknowledged: "
           "it was written, at an offset no longer known", batch->topic, batch->partition,
           batch->base_sequence, last, mk_err_name(error), ps->last_acked_sequence);
    return MK_SEQUENCE_WRITTEN;
  }
  mk_log(MK_LOG_WARN, "producer",
         "%s for %s-%d (base sequence %d, expected %d): resetting the producer id and "
         "sequence numbers (KIP-360)", mk_err_name(error), batch->topic, batch->partition,
         batch->base_sequence, expected);
  tm->need_producer_id = true;
  return MK_SEQUENCE_RESET;
}
