/*
 * Group coordinator runtime: the group coordinator (group_coordinator.h) bound to the broker,
 * on the coordinator runtime it shares with the transaction coordinator
 * (coordinator_runtime.h). Kafka: CoordinatorRuntime, CoordinatorPartitionWriter and
 * CoordinatorLoaderImpl (the new coordinator's runtime), GroupCoordinator.onElection /
 * onResignation.
 *
 *   __consumer_offsets   created on first use (FindCoordinator), offsets.topic.num.partitions
 *                        partitions, offsets.topic.replication.factor replicas
 *   appends              the coordinator's records become one record batch appended to the
 *                        partition's leader log, replicated like any produce, and
 *                        acknowledged once the high watermark passes it (acks=all); the
 *                        ISR, min.insync.replicas and every replica fault apply; a
 *                        TxnOffsetCommit's records go in a transactional batch, and the
 *                        transaction's marker tells the coordinator to apply or drop them
 *                        (mk_group_runtime_txn_completed; the loader does the same)
 *   elections            when a partition's leader or leader epoch changes (broker_down,
 *                        elect_leader, ...), the old owner unloads its groups and the new
 *                        leader loads them from its own log: committed offsets survive
 *   time                 one libuv timer: the coordinator's next deadline (the partition
 *                        writer, partition_writer.h, times the writes)
 *
 * What Kafka does and we do not: its offsets topic is compacted (cleanup.policy=compact),
 * so old commits are cleaned up while the latest per key stays; our logs have no
 * compaction, so the topic keeps every record and retention is switched off for it (time
 * retention would delete the latest commit of an idle group). Loading is immediate (the log
 * is in memory), so COORDINATOR_LOAD_IN_PROGRESS is never answered.
 *
 * Thread: broker loop, except start (before the loop runs) and free (after it ended).
 */
#ifndef MK_BROKER_GROUP_COORDINATOR_RUNTIME_H
#define MK_BROKER_GROUP_COORDINATOR_RUNTIME_H

#include <stdbool.h>

#include "broker/cluster.h"
#include "broker/coordinator_runtime.h"
#include "broker/group_coordinator.h"

struct mk_broker;

/* Create the coordinator from the broker's settings (mk_broker_new). Returns 0 or an error. */
int mk_group_runtime_start(struct mk_broker *b, struct mk_err *err);
/* Answer what is parked and free everything (mk_broker_free, after the loop has closed). */
void mk_group_runtime_free(struct mk_broker *b);

/* The coordinator, its partitions' ownership brought up to date with the cluster (loading
 * and unloading as leaders changed). Call before handing it a request. */
struct mk_group_coordinator *mk_group_runtime_enter(struct mk_broker *b);
/* After the coordinator handled a request: arm the timer for its next deadline. */
void mk_group_runtime_leave(struct mk_broker *b);

/* A transaction marker of producer_id is committed in partition `partition` of
 * __consumer_offsets (the transaction coordinator wrote it): the group coordinator applies or
 * drops that transaction's offsets. */
void mk_group_runtime_txn_completed(struct mk_broker *b, int32_t partition, int64_t producer_id,
                                    bool commit);

/* __consumer_offsets, created now (as Kafka's FindCoordinator creates it) when missing and
 * create is true. NULL if missing (or creation failed: err says why). */
struct mk_topic *mk_group_runtime_offsets_topic(struct mk_broker *b, bool create,
                                                struct mk_err *err);

/* The partition of __consumer_offsets that holds group_id. */
int32_t mk_group_runtime_partition_for(struct mk_broker *b, struct mk_str group_id);

#endif
