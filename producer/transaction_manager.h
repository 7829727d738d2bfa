/*
 * TransactionManager: the idempotent producer's identity and sequence numbers.
 * Kafka: producer/internals/TransactionManager.java (the idempotence half; transactions
 * come later), KIP-98 (idempotence), KIP-360 (recovering from sequence errors).
 * Note 004 section 6.
 *
 *   InitProducerId      ->  producer id 1000, epoch 0
 *   batch for t-0       ->  base sequence 0 (3 records: 0..2)
 *   next batch for t-0  ->  base sequence 3 ...        (numbered per partition)
 *
 * A retry resends the same bytes with the same sequence, so a broker that already has
 * the batch recognises it: it answers with the original offset instead of appending a
 * duplicate (at-least-once becomes exactly-once per partition).
 *
 * When the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER for a retried batch whose sequences
 * the broker has already acknowledged past (a later batch of the partition succeeded), the
 * batch was written: a broker takes a sequence only after the one before it, so the later
 * success proves it. Its answer was lost (a broken connection), and it is too old to be
 * recognised as a duplicate now (the broker remembers five batches): it completes as
 * written, at an offset nobody can tell any more (-1), as librdkafka reports such records.
 * Failing it, or sending it again under a new producer id, would be wrong (the second
 * writes it twice).
 * When the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that was the next one
 * expected, or UNKNOWN_PRODUCER_ID, the sequence state is beyond repair: that batch fails,
 * and the producer asks for a new producer id and numbers every partition from 0 again
 * (an idempotent producer's "epoch bump", KIP-360). OUT_OF_ORDER for a batch whose
 * predecessor is still unresolved just means "retry after it". And a new producer id's first
 * batch to a partition is sent alone (record_accumulator.c), since a broker takes any first
 * sequence from a producer it does not know.
 *
 * Thread: sender (all of it).
 */
#ifndef MK_PRODUCER_TRANSACTION_MANAGER_H
#define MK_PRODUCER_TRANSACTION_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "producer/record_accumulator.h"

struct mk_transaction_manager {
  bool idempotent;            /* enable.idempotence */
  int64_t producer_id;        /* -1 until InitProducerId answered */
  int16_t producer_epoch;
  bool need_producer_id;      /* ask (again) before draining anything */
  bool requesting;            /* an InitProducerId is in flight */
};

void mk_transaction_manager_init(struct mk_transaction_manager *tm, bool idempotent);

/* Whether batches may be drained: true without idempotence, else once a producer id is
 * held (and no reset is pending). */
bool mk_transaction_manager_ready(const struct mk_transaction_manager *tm);

/* InitProducerId answered: adopt the id and epoch; every partition numbers from 0. */
void mk_transaction_manager_set_producer_id(struct mk_transaction_manager *tm,
                                            struct mk_accumulator *acc, int64_t producer_id,
                                            int16_t epoch);

/* A batch succeeded: remember its last sequence as the partition's last acknowledged. */
void mk_transaction_manager_acked(struct mk_partition_state *ps,
                                  const struct mk_producer_batch *batch);

/* What to do with a batch that failed with a sequence-related error (OUT_OF_ORDER_
 * SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID), as the top of this file says. */
enum mk_sequence_verdict {
  MK_SEQUENCE_RETRY,      /* an earlier batch is still unresolved: retry after it */
  MK_SEQUENCE_WRITTEN,    /* a later batch succeeded, so this one was written: succeed */
  MK_SEQUENCE_RESET,      /* fail it; a new producer id is requested */
};
enum mk_sequence_verdict mk_transaction_manager_sequence_error(struct mk_transaction_manager *tm,
                                                               struct mk_partition_state *ps,
                                                               const struct mk_producer_batch *batch,
                                                               int16_t error);

#endif
