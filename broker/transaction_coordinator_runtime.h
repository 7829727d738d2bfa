/*
 * Transaction coordinator runtime: the transaction coordinator (transaction_coordinator.h)
 * bound to the broker, on the coordinator runtime it shares with the group coordinator
 * (coordinator_runtime.h). Kafka: TransactionStateManager's use of the ReplicaManager,
 * TransactionMarkerChannelManager's WriteTxnMarkers to partition leaders, and
 * TransactionCoordinator.onElection / onResignation.
 *
 *   __transaction_state  created by the first FindCoordinator for a transactional id,
 *                        transaction.state.log.num.partitions partitions,
 *                        transaction.state.log.replication.factor replicas,
 *                        min.insync.replicas transaction.state.log.min.isr (at most the
 *                        replication factor); its records are acks=all
 *   markers              a control batch (transactional + control attributes, key {version 0,
 *                        type}, value {version 0, coordinator epoch}, CRC as any batch) written
 *                        by the partition's leader through the partition writer, acks=all;
 *                        a `txn_marker` trace event {transactional_id, topic, partition,
 *                        offset, result: commit|abort, producer_id, producer_epoch,
 *                        coordinator_epoch} when it is appended. A marker in __consumer_offsets
 *                        tells the group coordinator to apply (or drop) the transaction's
 *                        offsets once it is committed.
 *   elections            as the group coordinator's: a new leader of a __transaction_state
 *                        partition reloads its ids and finishes what was left in PrepareCommit
 *                        or PrepareAbort
 *
 * Thread: broker loop, except start (before the loop runs) and free (after it ended).
 */
#ifndef MK_BROKER_TRANSACTION_COORDINATOR_RUNTIME_H
#define MK_BROKER_TRANSACTION_COORDINATOR_RUNTIME_H

#include <stdbool.h>

#include "broker/cluster.h"
#include "broker/transaction_coordinator.h"

struct mk_broker;

/* Create the coordinator from the broker's settings (mk_broker_new). Returns 0 or an error. */
int mk_txn_runtime_start(struct mk_broker *b, struct mk_err *err);
/* Free everything (mk_broker_free, after the loop has closed and the partition writer has
 * answered its writes). */
void mk_txn_runtime_free(struct mk_broker *b);

/* The coordinator, its partitions' ownership brought up to date (loading and unloading as
 * leaders changed). Call before handing it a request, and mk_txn_runtime_leave after. */
struct mk_txn_coordinator *mk_txn_runtime_enter(struct mk_broker *b);
void mk_txn_runtime_leave(struct mk_broker *b);

/* __transaction_state, created now when missing and create is true. NULL if missing (or
 * creation failed: err says why). */
struct mk_topic *mk_txn_runtime_topic(struct mk_broker *b, bool create, struct mk_err *err);
/* The partition of __transaction_state that holds transactional_id. */
int32_t mk_txn_runtime_partition_for(struct mk_broker *b, struct mk_str transactional_id);

/* The hold_markers fault (faults.h): the next count transactions (-1: all) to reach
 * PrepareCommit/PrepareAbort wait ms (-1: until released) before their markers. */
void mk_txn_runtime_hold_markers(struct mk_broker *b, int64_t ms, int count);
/* release_markers: returns how many held transactions now write their markers. */
int mk_txn_runtime_release_markers(struct mk_broker *b);

#endif
