/*
 * Transaction marker channel: the second phase of a commit or abort. Kafka:
 * core/.../transaction/TransactionMarkerChannelManager.scala and
 * TransactionMarkerRequestCompletionHandler.scala (WriteTxnMarkers to each partition leader).
 *
 * Once PrepareCommit (or PrepareAbort) is in __transaction_state the outcome is decided, and
 * the producer has its answer. What is left is telling every partition of the transaction:
 *
 *   add(txn)            one COMMIT/ABORT marker per partition, written by its leader with
 *                       the producer's id and epoch and the coordinator epoch
 *   a marker committed  that partition is done (its LSO may move once the HW passes it)
 *   a marker failed     no leader, not enough replicas, timed out: tried again after
 *                       marker_retry_backoff_ms, at whichever broker leads then
 *   partition deleted   nothing to mark: done
 *   epoch refused       INVALID_PRODUCER_EPOCH / TRANSACTION_COORDINATOR_FENCED: a newer
 *                       producer or coordinator took over; this channel stops
 *   every one done      CompleteCommit / CompleteAbort is written (again after a failure),
 *                       and the transactional id may start its next transaction
 *
 * A coordinator that loads a partition holding a transaction in PrepareCommit/PrepareAbort
 * (its predecessor died between the phases) adds it here again: markers are idempotent for
 * the partition (a second marker for a closed transaction changes nothing).
 *
 * The teaching hook (faults.h, "hold_markers"): while a hold is on, a transaction that
 * reaches PrepareCommit/PrepareAbort waits here before its first marker, for `ms` or until
 * released, so a class can watch read_committed consumers stop at the LSO meanwhile.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_TRANSACTION_MARKER_CHANNEL_H
#define MK_BROKER_TRANSACTION_MARKER_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/transaction_state_manager.h"

struct mk_txn_marker_entry;

struct mk_txn_marker_channel {
  struct mk_txn_state_manager *mgr;
  const struct mk_txn_runtime *rt;
  const struct mk_txn_config *cfg;
  struct mk_txn_marker_entry *entries;  /* Kafka's transactionsWithPendingMarkers */
  /* The hold: on while `hold` (hold_ms -1: until released; hold_count -1: every transaction,
   * else that many more). */
  bool hold;
  int64_t hold_ms;
  int hold_count;
};

void mk_txn_marker_channel_init(struct mk_txn_marker_channel *ch, struct mk_txn_state_manager *mgr,
                                const struct mk_txn_runtime *rt, const struct mk_txn_config *cfg);
/* Forget every entry (their markers' answers, if still to come, find nothing). */
void mk_txn_marker_channel_free(struct mk_txn_marker_channel *ch);

/* Start the second phase for txn, which is in PrepareCommit or PrepareAbort at
 * coordinator_epoch. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_txn_marker_channel_add(struct mk_txn_marker_channel *ch, struct mk_txn_metadata *txn,
                              int32_t coordinator_epoch);

/* Stop working on the transactions of __transaction_state partition p (unloaded). */
void mk_txn_marker_channel_remove_partition(struct mk_txn_marker_channel *ch, int32_t p);

/* Whether txn's markers are being written (or held). */
bool mk_txn_marker_channel_pending(const struct mk_txn_marker_channel *ch,
                                   const struct mk_txn_metadata *txn);
/* The partitions of txn still waiting for their marker (NULL when none is pending). */
const struct mk_txn_partitions *mk_txn_marker_channel_remaining(const struct mk_txn_marker_channel *ch,
                                                                const struct mk_txn_metadata *txn);
/* Whether txn's markers are held by the fault, and until when (wall ms, -1: until released). */
bool mk_txn_marker_channel_held(const struct mk_txn_marker_channel *ch,
                                const struct mk_txn_metadata *txn, int64_t *until_ms);

/* The hold fault: from now on, the next `count` transactions (-1: all) to reach Prepare*
 * wait ms (-1: until released) before their markers. */
void mk_txn_marker_channel_hold(struct mk_txn_marker_channel *ch, int64_t ms, int count);
/* End the hold: held transactions write their markers at the next poll. Returns how many
 * were held. */
int mk_txn_marker_channel_release(struct mk_txn_marker_channel *ch);

/* Write what is due: held transactions whose time is up, markers to retry, completions to
 * retry. */
void mk_txn_marker_channel_poll(struct mk_txn_marker_channel *ch);
/* When poll next has something to do (wall ms), or -1. */
int64_t mk_txn_marker_channel_next_deadline(const struct mk_txn_marker_channel *ch);

#endif
