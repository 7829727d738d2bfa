/*
 * Transaction state manager: where the coordinator's transactions live and how they become
 * records. Kafka: core/.../transaction/TransactionStateManager.scala, TransactionLog.scala.
 *
 *   partition_for   abs(Java hashCode(transactional.id)) % transaction.state.log.num.partitions:
 *                   which partition of __transaction_state holds an id, so which broker (its
 *                   leader) coordinates it
 *   owned/loaded    which partitions this process coordinates now, as which broker, at which
 *                   coordinator epoch (the partition's leader epoch when it was loaded)
 *   the cache       every transactional id of every owned partition (transaction_metadata.h)
 *   append          a prepared change as one TransactionLog record; once it is committed the
 *                   change completes (or, if the append failed, is forgotten)
 *   load            rebuild a partition's ids from its records: the last record of an id
 *                   wins, a tombstone deletes it
 *   timed out       Ongoing transactions older than their transaction.timeout.ms
 *   expiry          ids idle (Empty, CompleteCommit, CompleteAbort) for
 *                   transactional.id.expiration.ms: a tombstone, then forgotten
 *
 * A coordinator that loses a partition (broker_down, elect_leader) unloads its ids; the new
 * leader loads them from its own replica of the log. A change whose append was still
 * waiting finds its id gone (or reloaded: another object) and answers NOT_COORDINATOR.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_TRANSACTION_STATE_MANAGER_H
#define MK_BROKER_TRANSACTION_STATE_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/transaction_metadata.h"
#include "common/str_map.h"
#include "protocol/coordinator_records.h"

/* The broker settings the transaction coordinator follows (Kafka's names in the comments). */
struct mk_txn_config {
  int32_t num_partitions;          /* transaction.state.log.num.partitions */
  int32_t max_timeout_ms;          /* transaction.max.timeout.ms */
  int64_t abort_interval_ms;       /* transaction.abort.timed.out.transaction.cleanup.interval.ms */
  int64_t expiration_ms;           /* transactional.id.expiration.ms */
  int64_t remove_expired_interval_ms;  /* transaction.remove.expired.transaction.cleanup.interval.ms */
  int64_t marker_retry_backoff_ms; /* how soon a marker that failed is tried again (Kafka's
                                      retry.backoff.ms for its marker channel: 100) */
};
/* Kafka's defaults. */
void mk_txn_config_init(struct mk_txn_config *cfg);

/* What the coordinator needs from around it: a clock, producer ids, and writers. The broker's
 * runtime (transaction_coordinator_runtime.c) supplies the real ones; unit tests their own. */
typedef void mk_txn_done(void *arg, int16_t error);
struct mk_txn_runtime {
  void *ctx;
  /* Wall-clock milliseconds. */
  int64_t (*now_ms)(void *ctx);
  /* A new producer id (Kafka's ProducerIdManager.generateProducerId). */
  int64_t (*next_producer_id)(void *ctx);
  /* Append records to partition `partition` of __transaction_state as its leader, acks=all.
   * Returns 0 when appended: done then runs exactly once, never before append returns (0
   * once committed, or Kafka's error). Else Kafka's error, nothing appended, done never runs.
   * Borrows records. */
  int16_t (*append)(void *ctx, int32_t partition, const struct mk_coordinator_record *records,
                    int nrecords, mk_txn_done *done, void *arg);
  /* Write a COMMIT (commit) or ABORT marker for producer_id/epoch with coordinator_epoch to
   * topic/partition as its leader, acks=all; done as for append. Returns 0 when written,
   * UNKNOWN_TOPIC_OR_PARTITION when the partition does not exist (deleted: nothing to mark),
   * or another error (no leader, not enough replicas, ...: try again later). */
  int16_t (*write_marker)(void *ctx, struct mk_str topic, int32_t partition, int64_t producer_id,
                          int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                          mk_txn_done *done, void *arg);
};

/* One partition of __transaction_state, as this process's coordinator sees it. */
struct mk_txn_state_partition {
  int32_t owner;              /* the broker coordinating its ids, -1: none (not loaded) */
  int32_t coordinator_epoch;  /* its leader epoch when loaded */
};

struct mk_txn_state_manager {
  const struct mk_txn_config *cfg;
  const struct mk_txn_runtime *rt;
  int32_t nparts;
  struct mk_txn_state_partition *parts;
  struct mk_str_map txns;          /* transactional id -> struct mk_txn_metadata */
  struct mk_txn_metadata *list;    /* the same, newest first */
  uint64_t next_serial;
};

/* Set up an empty manager over cfg->num_partitions partitions, none owned. Borrows cfg and
 * rt for its lifetime. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_txn_state_init(struct mk_txn_state_manager *m, const struct mk_txn_config *cfg,
                      const struct mk_txn_runtime *rt);
void mk_txn_state_free(struct mk_txn_state_manager *m);
/* The topic exists with n partitions (its count decides where ids live): when n differs,
 * every partition is unloaded and the table resized. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_txn_state_set_partitions(struct mk_txn_state_manager *m, int32_t n);

/* Which partition of __transaction_state holds transactional_id. */
int32_t mk_txn_state_partition_for(const struct mk_txn_state_manager *m, struct mk_str id);

/* The coordinator's view of id on broker `broker_id` (Kafka's getTransactionState): returns
 * NOT_COORDINATOR when broker_id does not own id's partition, else 0 with *out the metadata,
 * or NULL when the id is unknown. *coordinator_epoch (may be NULL) gets the partition's. */
int16_t mk_txn_state_get(const struct mk_txn_state_manager *m, int32_t broker_id,
                         struct mk_str id, struct mk_txn_metadata **out,
                         int32_t *coordinator_epoch);
/* Add a new id's metadata (from mk_txn_metadata_new) to the cache; the cache takes it.
 * Returns 0 or MK_ERR__NO_MEMORY (m then freed). */
int mk_txn_state_put(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn);
/* Forget txn and free it. */
void mk_txn_state_remove(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn);

/* Write the prepared change t (taken) of txn to the log at coordinator_epoch (Kafka's
 * appendTransactionToLog). done(arg, error) runs exactly once, possibly before this returns:
 *   0                        committed; txn has moved (mk_txn_complete_transition, and a
 *                            txn_state trace event); a Dead change has removed and freed txn
 *   COORDINATOR_NOT_AVAILABLE the log could not take it (no replicas enough, timed out)
 *   NOT_COORDINATOR          the partition moved meanwhile
 *   UNKNOWN_SERVER_ERROR     the record could not be built or is too large
 * On an error the pending change is forgotten (the state stays what it was); a caller that
 * retries prepares again. Either way done must look txn up again by id, never keep the
 * pointer: it may be gone. */
void mk_txn_state_append(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn,
                         int32_t coordinator_epoch, struct mk_txn_transit *t, mk_txn_done *done,
                         void *arg);

/* A txn_state trace event (DESIGN.md 3.6): {transactional_id, from, to, producer_id,
 * producer_epoch, partitions: ["topic-partition", ...], coordinator_partition}, with txn's
 * producer id and epoch now and these partitions. */
void mk_txn_state_trace(const struct mk_txn_metadata *txn, int from, int to,
                        const struct mk_txn_partitions *partitions);

/* ---- loading (onElection / onResignation) ---------------------------------------------------- */

/* Start rebuilding partition p: its ids are forgotten. */
void mk_txn_state_load_begin(struct mk_txn_state_manager *m, int32_t p);
/* Apply one record of partition p read at offset (value.len -1: a tombstone). A record that
 * cannot be read is skipped with a log line. */
void mk_txn_state_load_record(struct mk_txn_state_manager *m, int32_t p, int64_t offset,
                              struct mk_bytes key, struct mk_bytes value);
/* Finish: p is now owned by broker owner at coordinator_epoch. */
void mk_txn_state_load_end(struct mk_txn_state_manager *m, int32_t p, int32_t owner,
                           int32_t coordinator_epoch);
/* Partition p is no longer ours: its ids are forgotten. */
void mk_txn_state_unload(struct mk_txn_state_manager *m, int32_t p);

/* Whether partition p is owned (loaded). */
static inline bool mk_txn_state_owned(const struct mk_txn_state_manager *m, int32_t p) {
  return p >= 0 && p < m->nparts && m->parts[p].owner >= 0;
}

#endif
