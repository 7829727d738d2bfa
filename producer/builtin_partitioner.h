/*
 * BuiltInPartitioner: where a record goes when it names no partition, per topic.
 * Kafka: producer/internals/BuiltInPartitioner.java (KIP-794, Kafka 3.3+), used by
 * RecordAccumulator.append() and .partitionReady().
 * Notes: 004 "파티셔닝 전략", 000 section 5.
 *
 * Two rules live here:
 *
 *   keyed record     partition_for_key(): toPositive(murmur2(key bytes)) % partitions, the
 *                    same function every Java-compatible client uses, so a key lands on the
 *                    same partition whoever wrote it (protocol/murmur2.h).
 *
 *   keyless record   "uniform sticky": stick to one partition until batch.size bytes have
 *                    gone to it, then switch. Sticking fills batches (fewer, bigger requests
 *                    than round-robin); switching after a fixed number of *bytes* (not after
 *                    a new batch, as the pre-3.3 sticky partitioner did) spreads the load
 *                    evenly even when one partition's batches fill faster than another's.
 *
 * Which partition to switch to ("adaptive", partitioner.adaptive.partitioning.enable):
 *
 *   no load stats    uniform: a random partition among those with a leader
 *   load stats       weighted random: the Sender's ready() pass reports how many batches
 *                    wait in each partition's queue; a partition is picked with weight
 *                    (longest queue + 1 - its queue), so a partition whose broker is slow
 *                    (long queue) gets fewer new records. Example from the Java source:
 *                      queue sizes 0 3 1  ->  weights 4 1 3  ->  cumulative 4 5 8;
 *                      random r in [0, 8): 0-3 -> partition[0], 4 -> [1], 5-7 -> [2]
 *                    With partitioner.availability.timeout.ms > 0, a partition whose leader
 *                    has had batches ready but not drained for longer than that is left out.
 *
 * How the accumulator uses it (RecordAccumulator.append, one topic):
 *
 *   info = peek_current_partition()          which deque to lock
 *   lock that partition's deque
 *     if is_partition_changed(info): retry   another thread switched meanwhile
 *     append the record to the deque
 *     update_partition_info(info, appended bytes, enable_switch = all batches in the deque
 *                           are full)        may switch the sticky partition
 *   unlock
 *
 * enable_switch=false postpones a switch while the deque's last batch is still open, so a
 * half-filled batch is not abandoned; the switch then happens anyway at 2 x batch.size.
 *
 * Thread: any. App threads append concurrently: as in Java, the sticky partition is read,
 * and its bytes counted, with atomics; a switch and the load stats take the topic's own
 * mutex, held only inside these functions. The Sender thread updates load stats.
 */
#ifndef MK_PRODUCER_BUILTIN_PARTITIONER_H
#define MK_PRODUCER_BUILTIN_PARTITIONER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

/* Java's RecordMetadata.UNKNOWN_PARTITION: "not chosen yet / any partition will do". */
#define MK_PARTITION_UNKNOWN (-1)

/* The two facts partitioners take from metadata, as Java's Cluster gives them:
 * partitionsForTopic(topic).size() and availablePartitionsForTopic(topic). */
struct mk_topic_partitions {
  int32_t count;             /* partitions in the topic (0 = metadata not known yet) */
  const int32_t *available;  /* ids of the partitions that have a leader, ascending */
  int32_t num_available;
};

/* The current sticky partition. generation tells two choices of the same partition apart
 * (Java compares StickyPartitionInfo objects by identity); it counts switches from 1, in 32
 * bits (wrapping), so that it shares one atomic word with the partition. */
struct mk_sticky_partition_info {
  int32_t partition;    /* MK_PARTITION_UNKNOWN if the topic has no partitions */
  uint64_t generation;
};

struct mk_builtin_partitioner;

/* Create one topic's state. sticky_batch_size is how many bytes go to a partition before
 * switching: batch.size, at least 1 (Java throws IllegalArgumentException otherwise; here
 * MK_ERR__INVALID_ARG). The random generator is seeded from the clock; tests fix it with
 * mk_builtin_partitioner_set_seed. Thread: any. Borrows topic (copied). Free with
 * mk_builtin_partitioner_free. */
int mk_builtin_partitioner_new(const char *topic, int32_t sticky_batch_size,
                               struct mk_builtin_partitioner **out, struct mk_err *err);
void mk_builtin_partitioner_free(struct mk_builtin_partitioner *bp);

/* Make the random choices repeatable. Thread: any. */
void mk_builtin_partitioner_set_seed(struct mk_builtin_partitioner *bp, uint64_t seed);

/* Java's BuiltInPartitioner.partitionForKey: toPositive(murmur2(key)) % num_partitions.
 * num_partitions must be > 0 (else MK_PARTITION_UNKNOWN). Thread: any. Borrows key. */
int32_t mk_builtin_partitioner_partition_for_key(const void *key, size_t len,
                                                 int32_t num_partitions);

/* Pick the partition to switch to (nextPartition): uniform among available partitions (all
 * partitions if none is available) without load stats, weighted by queue sizes with them.
 * Does not change the sticky partition. Returns MK_PARTITION_UNKNOWN if cluster->count is 0.
 * Thread: any. Borrows cluster. */
int32_t mk_builtin_partitioner_next_partition(struct mk_builtin_partitioner *bp,
                                              const struct mk_topic_partitions *cluster);

/* The current sticky partition, choosing one first if there is none
 * (peekCurrentPartitionInfo). Thread: app. Borrows cluster. */
struct mk_sticky_partition_info
mk_builtin_partitioner_peek_current_partition(struct mk_builtin_partitioner *bp,
                                              const struct mk_topic_partitions *cluster);

/* Whether the sticky partition changed since info was peeked (isPartitionChanged). Call it
 * with the partition's deque locked. Thread: app. Borrows info. */
bool mk_builtin_partitioner_is_partition_changed(struct mk_builtin_partitioner *bp,
                                                 const struct mk_sticky_partition_info *info);

/* Count appended_bytes against the sticky partition and switch to next_partition() once
 * produced bytes >= batch.size (if enable_switch) or >= 2 x batch.size (always)
 * (updatePartitionInfo). Returns true if it switched. A stale info (changed meanwhile) is
 * ignored and returns false; Java asserts it cannot happen when the deque lock is held.
 * Thread: app. Borrows info and cluster. */
bool mk_builtin_partitioner_update_partition_info(struct mk_builtin_partitioner *bp,
                                                  const struct mk_sticky_partition_info *info,
                                                  int32_t appended_bytes,
                                                  const struct mk_topic_partitions *cluster,
                                                  bool enable_switch);

/* Replace the load stats (updatePartitionLoadStats). queue_sizes[i] is the number of batches
 * queued for partition_ids[i]; count is the array length (partitions with a leader), length
 * the logical length (the first `length` entries are the partitions still available). NULL
 * queue_sizes, length < 1 or count < 2 clear the stats (uniform choice); so do queue sizes
 * that are all equal with none left out. Thread: sender. Borrows both arrays (copied). */
void mk_builtin_partitioner_update_partition_load_stats(struct mk_builtin_partitioner *bp,
                                                        const int32_t *queue_sizes,
                                                        const int32_t *partition_ids,
                                                        int32_t count, int32_t length);

/* One partition's queue as RecordAccumulator.partitionReady sees it. */
struct mk_partition_queue_stats {
  int32_t partition;
  bool has_leader;            /* partitions without a leader are left out of the stats */
  int32_t queue_size;         /* batches in its deque; 0 = empty */
  bool leader_has_latency;    /* the Sender has NodeLatencyStats for the leader: */
  int64_t leader_ready_time_ms;  /* last time the leader had a batch ready to send */
  int64_t leader_drain_time_ms;  /* last time batches were drained to it */
};

/* RecordAccumulator.partitionReady's load-stats half, for one topic: build queue sizes from
 * queues[0..count) (one entry per partition that has a deque) and call
 * update_partition_load_stats. Adaptive partitioning starts only once every one of the
 * topic's num_partitions partitions has a deque (before that, choices stay uniform), and only
 * if `adaptive` (partitioner.adaptive.partitioning.enable, and no partitioner.class). With
 * availability_timeout_ms > 0 (partitioner.availability.timeout.ms), a partition whose
 * leader's ready time is more than that after its drain time is left out. Thread: sender.
 * Borrows queues. */
void mk_builtin_partitioner_update_load_stats_from_queues(
    struct mk_builtin_partitioner *bp, const struct mk_partition_queue_stats *queues,
    int32_t count, int32_t num_partitions, bool adaptive, int64_t availability_timeout_ms);

/* The end of the weighted random range (the last cumulative frequency), or 0 when there are
 * no load stats (Java's loadStatsRangeEnd, for tests and labs). Thread: any. */
int32_t mk_builtin_partitioner_load_stats_range_end(struct mk_builtin_partitioner *bp);

#endif
