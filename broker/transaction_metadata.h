/*
 * Transaction metadata: one transactional.id as its coordinator holds it — producer id and
 * epoch, timeout, state, the partitions of the transaction in progress — and the state
 * machine it moves through. Kafka: core/.../transaction/TransactionMetadata.scala
 * (TransactionState, TransactionMetadata, TxnTransitMetadata). No I/O and no clock: the
 * coordinator (transaction_coordinator.h) decides; this file keeps the books and refuses
 * illegal moves.
 *
 *   state              reached from                          by
 *   Empty              (new), Empty, CompleteCommit/Abort    InitProducerId (a new epoch)
 *   Ongoing            Empty, Ongoing, CompleteCommit/Abort  AddPartitionsToTxn, AddOffsetsToTxn
 *   PrepareCommit      Ongoing                               EndTxn(commit)
 *   PrepareAbort       Ongoing, PrepareEpochFence            EndTxn(abort), or a fence
 *   CompleteCommit     PrepareCommit                         every marker written
 *   CompleteAbort      PrepareAbort                          every marker written
 *   PrepareEpochFence  Ongoing                               InitProducerId or the timeout
 *                                                            during a transaction: the epoch
 *                                                            is bumped and the transaction
 *                                                            aborted (never written itself)
 *   Dead               Empty, CompleteCommit/Abort           transactional.id.expiration.ms
 *
 * Every change is two steps, as in Kafka: prepare (mk_txn_prepare_*) computes the target as
 * a struct mk_txn_transit and marks the metadata pending (no other change may start); the
 * coordinator appends the target to __transaction_state; once the record is committed,
 * mk_txn_complete_transition applies it (or, if the append failed, mk_txn_abort_pending
 * forgets it). The metadata therefore only ever holds what the log holds.
 *
 * Partitions are kept as a sorted set of (topic, partition) with copied topic names.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_TRANSACTION_METADATA_H
#define MK_BROKER_TRANSACTION_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/coordinator_records.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

/* The states are Kafka's TransactionState ids, as TransactionLogValue stores them
 * (enum mk_transaction_status, coordinator_records.h). No pending change: */
#define MK_TXN_NO_PENDING (-1)

/* "Empty", "Ongoing", "PrepareCommit", ... (Kafka's names, as DescribeTransactions shows
 * them), or "Unknown". */
const char *mk_txn_state_name(int state);
/* Kafka's validPreviousStates: may a transaction move from `from` to `to`? */
bool mk_txn_valid_transition(int from, int to);
/* Kafka's TransactionMetadata.isEpochExhausted: Short.MaxValue - 1 or above (the coordinator
 * must always be able to fence with one more). */
bool mk_txn_epoch_exhausted(int16_t epoch);

/* One partition of a transaction. */
struct mk_txn_topic_partition {
  char *topic;
  int32_t partition;
};

/* A set of them, sorted by topic then partition. */
struct mk_txn_partitions {
  struct mk_txn_topic_partition *v;
  int32_t count, cap;
};

void mk_txn_partitions_free(struct mk_txn_partitions *s);
bool mk_txn_partitions_contains(const struct mk_txn_partitions *s, struct mk_str topic,
                                int32_t partition);
/* Add one (a copy of topic). Returns 0 or MK_ERR__NO_MEMORY. */
int mk_txn_partitions_add(struct mk_txn_partitions *s, struct mk_str topic, int32_t partition);
/* Remove one if present. */
void mk_txn_partitions_remove(struct mk_txn_partitions *s, struct mk_str topic, int32_t partition);
/* dst becomes a copy of src. Returns 0 or MK_ERR__NO_MEMORY (dst then empty). */
int mk_txn_partitions_copy(struct mk_txn_partitions *dst, const struct mk_txn_partitions *src);

/* Kafka's TxnTransitMetadata: what a transaction is to become. Owns its partitions. */
struct mk_txn_transit {
  int64_t producer_id;
  int64_t previous_producer_id;
  int16_t producer_epoch;
  int16_t last_producer_epoch;
  int32_t timeout_ms;
  int state;
  struct mk_txn_partitions partitions;
  int64_t start_ms;     /* when the transaction began (its first partition), -1: none */
  int64_t update_ms;
};
void mk_txn_transit_free(struct mk_txn_transit *t);

/* Kafka's TransactionMetadata. */
struct mk_txn_metadata {
  char *transactional_id;
  int32_t partition;            /* its partition of __transaction_state */
  int64_t producer_id;
  int64_t previous_producer_id;
  int16_t producer_epoch;       /* -1 until the first InitProducerId completes */
  int16_t last_producer_epoch;  /* the epoch before the last bump (KIP-360 retries), -1 */
  int32_t timeout_ms;           /* transaction.timeout.ms from InitProducerId */
  int state;                    /* enum mk_transaction_status */
  int pending;                  /* the state being written, or MK_TXN_NO_PENDING */
  struct mk_txn_partitions partitions;  /* of the transaction in progress */
  int64_t start_ms;             /* when it began (txnStartTimestamp), -1 */
  int64_t update_ms;            /* txnLastUpdateTimestamp: for timeouts and expiry */
  bool failed_epoch_fence;      /* a fence's write failed: the next fence does not bump again */
  uint64_t serial;              /* unique per object: late answers check they still have it */
  struct mk_txn_metadata *next; /* the state manager's list */
};

/* A new Empty transaction of id (copied) in __transaction_state partition `partition`, with
 * producer id and timeout and no epoch yet (Kafka's handleInitProducerId for an unknown id).
 * NULL if out of memory. */
struct mk_txn_metadata *mk_txn_metadata_new(struct mk_str transactional_id, int32_t partition,
                                            int64_t producer_id, int32_t timeout_ms,
                                            int64_t now_ms);
void mk_txn_metadata_free(struct mk_txn_metadata *m);

/* ---- preparing a change (each sets m->pending; out is the caller's to free) -------------
 * Each returns 0 with *out filled, or an error with err saying why (*out untouched):
 * MK_ERR__STATE for a move the state machine forbids or a change already pending (the
 * coordinator checks those first: reaching them is its bug), MK_ERR__NO_MEMORY. */

/* prepareFenceProducerEpoch: Ongoing -> PrepareEpochFence with epoch + 1 (the same epoch if
 * the last fence failed to be written). */
int mk_txn_prepare_fence_epoch(struct mk_txn_metadata *m, struct mk_txn_transit *out,
                               struct mk_err *err);
/* prepareIncrementProducerEpoch: -> Empty with the next epoch and the new timeout. With an
 * expected epoch (KIP-360, has_expected): the current one (bumped, last epoch remembered),
 * or the last epoch (a retry: the current one again, not bumped), else PRODUCER_FENCED. */
int mk_txn_prepare_increment_epoch(struct mk_txn_metadata *m, int32_t timeout_ms,
                                   bool has_expected, int16_t expected_epoch, int64_t now_ms,
                                   struct mk_txn_transit *out, struct mk_err *err);
/* prepareProducerIdRotation: -> Empty with a new producer id at epoch 0 (the epoch ran out). */
int mk_txn_prepare_producer_id_rotation(struct mk_txn_metadata *m, int64_t producer_id,
                                        int32_t timeout_ms, int64_t now_ms,
                                        bool record_last_epoch, struct mk_txn_transit *out,
                                        struct mk_err *err);
/* prepareAddPartitions: -> Ongoing with these partitions added (start time now if it was not
 * Ongoing). */
int mk_txn_prepare_add_partitions(struct mk_txn_metadata *m, const struct mk_txn_partitions *add,
                                  int64_t now_ms, struct mk_txn_transit *out, struct mk_err *err);
/* prepareAbortOrCommit: Ongoing (or PrepareEpochFence) -> PrepareCommit / PrepareAbort. */
int mk_txn_prepare_abort_or_commit(struct mk_txn_metadata *m, int state, int64_t now_ms,
                                   struct mk_txn_transit *out, struct mk_err *err);
/* prepareComplete: PrepareCommit -> CompleteCommit, PrepareAbort -> CompleteAbort; no
 * partitions any more. */
int mk_txn_prepare_complete(struct mk_txn_metadata *m, int64_t now_ms,
                            struct mk_txn_transit *out, struct mk_err *err);
/* prepareDead: Empty / Complete* -> Dead (the id expires; written as a tombstone). */
int mk_txn_prepare_dead(struct mk_txn_metadata *m, struct mk_txn_transit *out,
                        struct mk_err *err);

/* completeTransitionTo: t (what was prepared and is now in the log) becomes m's state, after
 * the checks Kafka makes (the pending state is t's; the epoch and producer id moved the
 * way that state allows; partitions only grow while Ongoing). Returns 0, or MK_ERR__STATE
 * (m unchanged, pending cleared) with err naming what did not match. */
int mk_txn_complete_transition(struct mk_txn_metadata *m, const struct mk_txn_transit *t,
                               struct mk_err *err);
/* The append of a prepared change failed: nothing changes (Kafka resets pendingState). */
void mk_txn_abort_pending(struct mk_txn_metadata *m);

/* The coordinator's PrepareEpochFence -> PrepareAbort step (Kafka's endTransaction for a
 * fence): the pending fence is dropped and m takes the fenced epoch at once, in memory only,
 * so the abort that follows is written with it. */
void mk_txn_take_fenced_epoch(struct mk_txn_metadata *m, int16_t epoch);

/* ---- records (TransactionLog.scala) ------------------------------------------------------ */

/* The __transaction_state record of t for transactional_id: TransactionLogValue version 0,
 * its partitions grouped by topic (null while Empty), arrays from arena. A Dead transit is a
 * tombstone. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_txn_transit_record(const struct mk_txn_transit *t, struct mk_str transactional_id,
                          struct mk_coordinator_record *rec, struct mk_arena *arena);

/* Metadata loaded from a record's value (Kafka's readTxnRecordValue): the last epoch is not
 * stored, so it is -1. Returns 0, MK_ERR__DECODE for a state id Kafka does not have, or
 * MK_ERR__NO_MEMORY; *out is new (mk_txn_metadata_free). */
int mk_txn_metadata_from_record(struct mk_str transactional_id, int32_t partition,
                                const struct mk_transaction_log_value *v,
                                struct mk_txn_metadata **out, struct mk_err *err);

#endif
