/*
 * Group metadata manager: where the coordinator's groups live and how they become records.
 * Kafka: GroupMetadataManager.scala (old coordinator), GroupMetadataManager.java and
 * OffsetMetadataManager.java with GroupCoordinatorRecordHelpers (new).
 *
 *   partition_for   abs(Java hashCode(group id)) % offsets.topic.num.partitions: which
 *                   partition of __consumer_offsets holds a group, so which broker (its
 *                   leader) coordinates it
 *   owned/loaded    which partitions this process coordinates now, and from which broker
 *   the cache       every group of every owned partition, by id
 *   store_*         a group's metadata or its offsets as __consumer_offsets records, handed
 *                   to the runtime to append (group_coordinator.h, struct mk_group_runtime)
 *   load            rebuild the groups of a partition from its records, oldest first: the
 *                   last record of each key wins, a tombstone (null value) deletes
 *   get_offsets     OffsetFetch's answer from the cache
 *
 * Records: a group's metadata is one record, key GroupMetadataKey(group) and value
 * GroupMetadataValue (generation, protocol, leader, members with subscription and
 * assignment); each committed offset is one record, key OffsetCommitKey(group, topic,
 * partition) and value OffsetCommitValue (offset, leader epoch, metadata, timestamps).
 * protocol/coordinator_records.h encodes them in Kafka's versions.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_GROUP_METADATA_MANAGER_H
#define MK_BROKER_GROUP_METADATA_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/group_metadata.h"
#include "common/str_map.h"
#include "protocol/coordinator_records.h"
#include "protocol/primitives.h"

/* The broker settings the coordinator follows (Kafka's names in the comments). */
struct mk_group_config {
  int32_t min_session_timeout_ms;      /* group.min.session.timeout.ms */
  int32_t max_session_timeout_ms;      /* group.max.session.timeout.ms */
  int32_t initial_rebalance_delay_ms;  /* group.initial.rebalance.delay.ms */
  int32_t max_size;                    /* group.max.size */
  int32_t num_partitions;              /* offsets.topic.num.partitions */
  int32_t offset_metadata_max_bytes;   /* offset.metadata.max.bytes */
  int64_t offsets_retention_ms;        /* offsets.retention.minutes, in ms */
  int64_t offsets_retention_check_interval_ms;  /* offsets.retention.check.interval.ms */
  int64_t max_group_bytes;             /* what one group may hold: its metadata is one record,
                                          so message.max.bytes (minikafka's bound) */
};

/* Kafka's defaults, with max_group_bytes from message.max.bytes 1048588. */
void mk_group_config_init(struct mk_group_config *cfg);

/* What the coordinator needs from around it: a clock and a writer. The broker's runtime
 * (coordinator_runtime.c) supplies the real ones; unit tests supply their own. */
typedef void mk_group_append_done(void *arg, int16_t error);
struct mk_group_runtime {
  void *ctx;
  /* Wall-clock milliseconds (Kafka's time.milliseconds()): deadlines and timestamps. */
  int64_t (*now_ms)(void *ctx);
  /* Append records to partition `partition` of __consumer_offsets, as its leader, acks=all.
   * Returns 0 when appended: done (if not NULL) then runs exactly once, never before append
   * returns, with 0 once the records are committed (the high watermark passed them) or
   * NOT_LEADER_OR_FOLLOWER / REQUEST_TIMED_OUT / NOT_ENOUGH_REPLICAS_AFTER_APPEND. Or
   * returns Kafka's error when nothing was appended (NOT_LEADER_OR_FOLLOWER,
   * NOT_ENOUGH_REPLICAS, MESSAGE_TOO_LARGE, UNKNOWN_SERVER_ERROR...), and done never runs.
   * Borrows records (encoded before return). */
  int16_t (*append)(void *ctx, int32_t partition, const struct mk_coordinator_record *records,
                    int nrecords, mk_group_append_done *done, void *arg);
  /* The same for a transaction's records (TxnOffsetCommit): one transactional batch of
   * producer_id at producer_epoch, which counts once its COMMIT marker follows. NULL: no
   * transactions (answers UNKNOWN_SERVER_ERROR). */
  int16_t (*append_txn)(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                        const struct mk_coordinator_record *records, int nrecords,
                        mk_group_append_done *done, void *arg);
};

/* One partition of __consumer_offsets, as this process's coordinator sees it. */
struct mk_offsets_partition {
  int32_t owner;         /* the broker coordinating its groups, -1: none (not loaded) */
  int32_t leader_epoch;  /* the partition's leader epoch when it was loaded */
};

struct mk_group_metadata_manager {
  const struct mk_group_config *cfg;
  const struct mk_group_runtime *rt;
  int32_t nparts;
  struct mk_offsets_partition *parts;
  struct mk_str_map groups;      /* group id -> struct mk_group */
  struct mk_group *list;         /* the same groups, newest first */
};

/* Kafka's partitionFor for a group id (mk_coordinator_partition_for, coordinator_records.h). */
int32_t mk_group_partition_for(struct mk_str group_id, int32_t nparts);

/* Set up an empty manager over cfg->num_partitions partitions, none owned. Borrows cfg and
 * rt for its lifetime. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_group_metadata_manager_init(struct mk_group_metadata_manager *m,
                                   const struct mk_group_config *cfg,
                                   const struct mk_group_runtime *rt);
/* Free every group (their parked requests must have been answered). */
void mk_group_metadata_manager_free(struct mk_group_metadata_manager *m);

/* The group, or NULL. */
struct mk_group *mk_group_metadata_manager_get(const struct mk_group_metadata_manager *m,
                                               struct mk_str group_id);
/* The group, created Empty when missing and create is true. NULL if missing and not
 * created, or out of memory. */
struct mk_group *mk_group_metadata_manager_get_or_create(struct mk_group_metadata_manager *m,
                                                         struct mk_str group_id, bool create);
/* Forget a group and free it (its parked requests must have been answered). */
void mk_group_metadata_manager_remove(struct mk_group_metadata_manager *m, struct mk_group *g);

/* Append the group's metadata record (GroupMetadataValue from its current members). The
 * members' assignments come from assignments[i] for the i-th member in joining order, or
 * from the members themselves when assignments is NULL. done/arg as for rt->append.
 * Returns 0 or the error rt->append returned (or UNKNOWN_SERVER_ERROR if out of memory). */
int16_t mk_group_store_group(struct mk_group_metadata_manager *m, const struct mk_group *g,
                             const struct mk_bytes *assignments, mk_group_append_done *done,
                             void *arg);

/* One offset to commit (Kafka's OffsetAndMetadata, as OffsetCommit carries it). */
struct mk_offset_commit {
  struct mk_str topic;
  int32_t partition;
  int64_t offset;
  int32_t leader_epoch;          /* -1: none */
  struct mk_str metadata;        /* null is stored as "" */
  int64_t commit_timestamp_ms;
  int64_t expire_timestamp_ms;   /* -1: none */
};

/* Append one OffsetCommit record per offset, marking each entry pending (require_stable
 * answers UNSTABLE_OFFSET_COMMIT until done). Returns as mk_group_store_group; on an error
 * nothing is pending. */
int16_t mk_group_store_offsets(struct mk_group_metadata_manager *m, struct mk_group *g,
                               const struct mk_offset_commit *offsets, int n,
                               mk_group_append_done *done, void *arg);
/* The acknowledgement of mk_group_store_offsets for these offsets: on success the
 * committed values become these; either way they stop being pending. */
void mk_group_offsets_written(struct mk_group *g, const struct mk_offset_commit *offsets, int n,
                              bool success);

/* The transactional form (TxnOffsetCommit): the offsets are staged for producer_id
 * (mk_group_add_txn_offset) and appended in one transactional batch. Returns as
 * mk_group_store_offsets; on an error nothing is staged. */
int16_t mk_group_store_txn_offsets(struct mk_group_metadata_manager *m, struct mk_group *g,
                                   int64_t producer_id, int16_t producer_epoch,
                                   const struct mk_offset_commit *offsets, int n,
                                   mk_group_append_done *done, void *arg);
/* producer_id's transaction ended (its marker is in __consumer_offsets): with commit, each of
 * its staged offsets whose record is written becomes the committed offset; either way they
 * are no longer staged. Returns how many offsets were committed. */
int mk_group_complete_txn_offsets(struct mk_group *g, int64_t producer_id, bool commit);

/* Append tombstones (no wait, as Kafka's cleanup): for each offset of topics[i]/partitions[i]
 * (n of them), and for the group itself when group_tombstone. Returns 0 or an error. */
int16_t mk_group_write_tombstones(struct mk_group_metadata_manager *m, const struct mk_group *g,
                                  const struct mk_group_offset *const *offsets, int n,
                                  bool group_tombstone);

/* ---- loading ---------------------------------------------------------------------------- */

/* Start rebuilding partition p (its groups must have been unloaded). */
void mk_group_load_begin(struct mk_group_metadata_manager *m, int32_t p);
/* Apply one record of partition p, read at log offset `offset`: key and value as stored
 * (value.len -1: a tombstone). A record we cannot read is skipped with a log line naming
 * it (a KIP-848 record type, a damaged record): the load goes on. */
void mk_group_load_record(struct mk_group_metadata_manager *m, int32_t p, int64_t offset,
                          struct mk_bytes key, struct mk_bytes value);
/* A record of a transactional batch of producer_id (TxnOffsetCommit's offsets): staged, as
 * if written now, until the marker. */
void mk_group_load_txn_record(struct mk_group_metadata_manager *m, int32_t p, int64_t offset,
                              int64_t producer_id, struct mk_bytes key, struct mk_bytes value);
/* A transaction marker of producer_id (commit or abort) in partition p: its staged offsets in
 * p's groups are applied or dropped (mk_group_complete_txn_offsets). */
void mk_group_load_marker(struct mk_group_metadata_manager *m, int32_t p, int64_t producer_id,
                          bool commit);
/* Finish: drop what the records left empty (a deleted group with no offsets). */
void mk_group_load_end(struct mk_group_metadata_manager *m, int32_t p);

#endif
