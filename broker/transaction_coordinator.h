/*
 * Transaction coordinator: Kafka's transactions, as a state machine driven by requests and
 * time. Kafka: core/.../transaction/TransactionCoordinator.scala.
 *
 * A transactional producer's life, as the coordinator sees it:
 *
 *   InitProducerId(id, timeout)  -> a producer id and a new epoch (Empty); the previous
 *                                   holder of the id is fenced: an older epoch is refused
 *                                   from now on, and a transaction it left Ongoing is
 *                                   aborted first (PrepareEpochFence -> PrepareAbort ->
 *                                   CompleteAbort; the caller hears CONCURRENT_TRANSACTIONS
 *                                   and asks again)
 *   AddPartitionsToTxn(p1, p2)   -> Ongoing; the partitions are in __transaction_state
 *                                   before the producer writes to them
 *   Produce (transactional)      -> the partitions' leaders ask mk_txn_verify_partition
 *   AddOffsetsToTxn(group)       -> the group's __consumer_offsets partition joins too
 *   TxnOffsetCommit              -> to the group coordinator (offsets staged)
 *   EndTxn(commit)               -> phase one: PrepareCommit is written and the producer
 *                                   answered; phase two (transaction_marker_channel.h): a
 *                                   COMMIT marker in every partition, then CompleteCommit
 *
 * Errors, as Kafka's: NOT_COORDINATOR (the id's partition is another broker's),
 * INVALID_PRODUCER_ID_MAPPING (unknown id, or another producer id), PRODUCER_FENCED (an older
 * epoch: the API handlers turn it into INVALID_PRODUCER_EPOCH for versions that predate
 * it), CONCURRENT_TRANSACTIONS (a previous change or EndTxn is still being completed: retry),
 * INVALID_TXN_STATE (EndTxn with nothing to end, or commit after abort),
 * INVALID_TRANSACTION_TIMEOUT (over transaction.max.timeout.ms).
 *
 * A repeated EndTxn (its answer was lost) is answered as the first: NONE once the same
 * outcome is complete, CONCURRENT_TRANSACTIONS while it is still being completed (the
 * KIP-890 retry rule for transactions v1).
 *
 * Time: poll() aborts transactions open longer than their transaction.timeout.ms (fencing
 * the producer: the epoch is bumped, as for a second producer), expires idle ids, and drives
 * the marker channel's retries and holds.
 *
 * Callbacks run exactly once, now or later; they must not call back into the coordinator.
 * Unit tests drive it with a runtime of their own (tests/unit/test_transaction_coordinator.c).
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_TRANSACTION_COORDINATOR_H
#define MK_BROKER_TRANSACTION_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/transaction_marker_channel.h"
#include "broker/transaction_metadata.h"
#include "broker/transaction_state_manager.h"

struct mk_txn_coordinator {
  struct mk_txn_config cfg;
  struct mk_txn_runtime rt;
  struct mk_txn_state_manager mgr;
  struct mk_txn_marker_channel channel;
  int64_t next_abort_check_ms;
  int64_t next_expiry_check_ms;
};

/* Set up a coordinator that owns no partition. Copies cfg and rt. Returns 0 or
 * MK_ERR__NO_MEMORY. */
int mk_txn_coordinator_init(struct mk_txn_coordinator *c, const struct mk_txn_config *cfg,
                            const struct mk_txn_runtime *rt);
void mk_txn_coordinator_free(struct mk_txn_coordinator *c);

/* ---- partitions (onElection / onResignation) -------------------------------------------------- */

/* Partition p, loaded just before (mk_txn_state_load_begin/record/end), is now broker
 * owner's at coordinator_epoch: transactions it holds in PrepareCommit/PrepareAbort get their
 * markers (again). */
void mk_txn_coordinator_loaded(struct mk_txn_coordinator *c, int32_t p);
/* Partition p is no longer ours. */
void mk_txn_coordinator_unload(struct mk_txn_coordinator *c, int32_t p);

/* ---- the APIs ---------------------------------------------------------------------------------- */

/* InitProducerId for a transactional id (not NULL), sent to broker broker_id. With
 * has_expected, the producer's current id and epoch (KIP-360). cb(arg, error, producer_id,
 * epoch) runs exactly once. */
typedef void mk_txn_init_callback(void *arg, int16_t error, int64_t producer_id, int16_t epoch);
void mk_txn_init_producer_id(struct mk_txn_coordinator *c, int32_t broker_id,
                             struct mk_str transactional_id, int32_t timeout_ms,
                             bool has_expected, int64_t expected_producer_id,
                             int16_t expected_epoch, mk_txn_init_callback *cb, void *arg);

/* AddPartitionsToTxn (and AddOffsetsToTxn, with the group's partition): cb(arg, error) runs
 * exactly once. */
void mk_txn_add_partitions(struct mk_txn_coordinator *c, int32_t broker_id,
                           struct mk_str transactional_id, int64_t producer_id, int16_t epoch,
                           const struct mk_txn_partitions *partitions, mk_txn_done *cb, void *arg);

/* EndTxn: cb(arg, error, producer_id, epoch) runs exactly once (after phase one). */
void mk_txn_end_transaction(struct mk_txn_coordinator *c, int32_t broker_id,
                            struct mk_str transactional_id, int64_t producer_id, int16_t epoch,
                            bool commit, mk_txn_init_callback *cb, void *arg);

/* KIP-890 verification, for a partition leader about to append a transaction's first batch
 * there (Kafka's handleVerifyPartitionsInTransaction): 0 when the partition was added to
 * id's Ongoing transaction by this producer id and epoch; INVALID_PRODUCER_ID_MAPPING,
 * PRODUCER_FENCED, CONCURRENT_TRANSACTIONS (ending), INVALID_TXN_STATE (not added), or
 * COORDINATOR_NOT_AVAILABLE (nobody coordinates the id now). Whichever broker coordinates
 * the id answers (they are all in this process). */
int16_t mk_txn_verify_partition(struct mk_txn_coordinator *c, struct mk_str transactional_id,
                                int64_t producer_id, int16_t epoch, struct mk_str topic,
                                int32_t partition);

/* ---- time ---------------------------------------------------------------------------------------- */

/* Abort timed-out transactions, expire idle ids, send due markers. */
void mk_txn_coordinator_poll(struct mk_txn_coordinator *c);
/* When poll next has something to do (wall ms), or -1. */
int64_t mk_txn_coordinator_next_deadline(const struct mk_txn_coordinator *c);

#endif
