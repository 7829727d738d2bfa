/*
 * Coordinator runtime: what the group coordinator and the transaction coordinator share —
 * an internal topic whose partitions they own while their broker leads them, records they
 * append there and wait to see committed, and the replay that rebuilds their state when a
 * partition changes hands. Kafka: coordinator-common's CoordinatorRuntime,
 * CoordinatorPartitionWriter and CoordinatorLoaderImpl (the new group coordinator), and
 * TransactionStateManager's loading and appendTransactionToLog (the transaction one).
 *
 *   the topic       __consumer_offsets / __transaction_state, created on first use
 *                   (FindCoordinator), with the partition count and replication factor of
 *                   the coordinator's settings; retention off (Kafka compacts these topics,
 *                   we cannot: their latest records must never expire) and
 *                   min.insync.replicas at most the replication factor (their writes are
 *                   acks=all: on a one-broker cluster none could ever succeed otherwise)
 *   partition_for   abs(Java hashCode(key)) % partitions: which partition holds a group or a
 *                   transactional id, so which broker (its leader) coordinates it
 *   append          coordinator records as one batch at the end of a partition the
 *                   coordinator owns, through the partition writer (partition_writer.h):
 *                   answered once the high watermark passes it
 *   elections       a partition whose leader or leader epoch changed is unloaded by its old
 *                   owner (ops->unload) and loaded by the new one from its own replica of
 *                   the log (ops->load, which reads it with mk_coordinator_runtime_replay);
 *                   the leader epoch at loading is the coordinator epoch
 *   time            one timer: the coordinator's next deadline (ops->next_deadline), then
 *                   ops->poll
 *
 * Loading is immediate (the log is in memory), so COORDINATOR_LOAD_IN_PROGRESS is never
 * answered.
 *
 * Thread: broker loop, except init (before the loop runs) and free (after it ended).
 */
#ifndef MK_BROKER_COORDINATOR_RUNTIME_H
#define MK_BROKER_COORDINATOR_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/cluster.h"
#include "broker/partition_writer.h"
#include "protocol/coordinator_records.h"
#include "protocol/record_batch.h"

struct mk_broker;
struct mk_coordinator_runtime;

/* What the coordinator does when the runtime calls. ctx is the coordinator's. */
struct mk_coordinator_ops {
  /* Partition p (the log of its new leader, `owner`, at leader epoch `epoch`) is now the
   * coordinator's: rebuild its state (mk_coordinator_runtime_replay). */
  void (*load)(void *ctx, int32_t partition, const struct mk_log *log, int32_t owner,
               int32_t epoch);
  /* Partition p is no longer the coordinator's: forget its state, answer what waits. */
  void (*unload)(void *ctx, int32_t partition);
  /* Act on every deadline that has passed; when the next one is (wall ms, -1: none). */
  void (*poll)(void *ctx);
  int64_t (*next_deadline)(void *ctx);
};

/* Where a partition of the topic stands for this coordinator. */
struct mk_coordinator_partition {
  int32_t owner;         /* the broker coordinating it, -1: none (not loaded) */
  int32_t leader_epoch;  /* the partition's leader epoch when loaded: the coordinator epoch */
};

struct mk_coordinator_runtime {
  struct mk_broker *b;
  const char *name;         /* "group coordinator": log lines */
  const char *topic;        /* the internal topic's name */
  int32_t num_partitions;   /* its partition count when created */
  int32_t replication_factor;
  int64_t write_timeout_ms; /* how long an append waits for the HW */
  int32_t min_insync_replicas;  /* the topic's min.insync.replicas when created (capped at
                                   its replication factor); -1: the broker's */
  struct mk_coordinator_ops ops;
  void *ctx;
  struct mk_coordinator_partition *parts;  /* one per partition of the topic */
  int32_t nparts;
  struct mk_uuid topic_id;  /* the topic the loaded partitions came from */
  bool have_topic;
  uv_timer_t timer;
};

/* Set up rt for topic (a static string) with these settings; nothing owned yet. Registers
 * a purgatory watcher and the runtime's part of a reset (mk_coordinator_runtime_reset is
 * the coordinator's to call from its own reset hook). Returns 0 or an error. */
int mk_coordinator_runtime_init(struct mk_coordinator_runtime *rt, struct mk_broker *b,
                                const char *name, const char *topic, int32_t num_partitions,
                                int32_t replication_factor, int64_t write_timeout_ms,
                                const struct mk_coordinator_ops *ops, void *ctx,
                                struct mk_err *err);
void mk_coordinator_runtime_free(struct mk_coordinator_runtime *rt);

/* The topic, created now when missing and create is true (as Kafka's FindCoordinator
 * creates it). NULL if missing (or creation failed: err says why). */
struct mk_topic *mk_coordinator_runtime_topic(struct mk_coordinator_runtime *rt, bool create,
                                              struct mk_err *err);

/* The partition holding key: abs(hashCode(key)) % the topic's partitions (or the setting,
 * before the topic exists). */
int32_t mk_coordinator_runtime_partition_for(struct mk_coordinator_runtime *rt, struct mk_str key);

/* Before handing the coordinator a request: writes whose outcome is known are answered and
 * ownership is brought up to date with the cluster (loading and unloading). */
void mk_coordinator_runtime_enter(struct mk_coordinator_runtime *rt);
/* After: arm the timer for the coordinator's next deadline. */
void mk_coordinator_runtime_leave(struct mk_coordinator_runtime *rt);
/* Run enter + poll + leave at the top of the next loop turn. */
void mk_coordinator_runtime_kick(struct mk_coordinator_runtime *rt);

/* A transactional producer, for appends that belong to a transaction. */
struct mk_coordinator_producer {
  int64_t producer_id;
  int16_t producer_epoch;
};

/* Append records[0..n) to partition `partition` of the topic as one batch (transactional,
 * with producer's id and epoch, when producer is not NULL), if the coordinator owns it at
 * the leader epoch it loaded. done/arg as in partition_writer.h (NULL: nobody waits).
 * Returns 0 or Kafka's error (NOT_LEADER_OR_FOLLOWER when not owned). Borrows records. */
int16_t mk_coordinator_runtime_append(struct mk_coordinator_runtime *rt, int32_t partition,
                                      const struct mk_coordinator_producer *producer,
                                      const struct mk_coordinator_record *records, int n,
                                      mk_partition_write_done *done, void *arg);

/* One record met while replaying a partition: offset is its offset in the log; batch says
 * whether it is transactional or a control batch (a marker: rec is the marker's record). */
typedef void mk_coordinator_replay_fn(void *ctx, const struct mk_batch *batch, int64_t offset,
                                      const struct mk_record *rec);
/* Read every record of log, oldest first, into fn (a batch that cannot be read is skipped
 * with a log line naming topic, partition and offset). */
void mk_coordinator_runtime_replay(const struct mk_coordinator_runtime *rt, int32_t partition,
                                   const struct mk_log *log, mk_coordinator_replay_fn *fn,
                                   void *ctx);

/* Unload every partition and forget the topic (a reset; the partition writer has answered
 * the waiting writes already). */
void mk_coordinator_runtime_reset(struct mk_coordinator_runtime *rt);

/* Kafka's Topic.isInternal: __consumer_offsets and __transaction_state. */
bool mk_topic_is_internal(struct mk_str name);

#endif
