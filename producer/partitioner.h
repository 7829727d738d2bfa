/*
 * Partitioner: which partition a record goes to, and why.
 * Kafka: KafkaProducer.partition() and the Partitioner plug-in interface
 * (producer/Partitioner.java, RoundRobinPartitioner.java; the pre-3.3 DefaultPartitioner
 * with internals/StickyPartitionCache.java). Note 004 "파티셔닝 전략", note 000 section 5.
 *
 * The order is KafkaProducer.partition()'s:
 *
 *   1. the record names a partition        -> that one                reason "explicit"
 *   2. partitioner.class is set            -> ask the plug-in         its own reason
 *   3. the record has a key (and not
 *      partitioner.ignore.keys)            -> murmur2(key) % count    reason "key_hash"
 *   4. otherwise                           -> MK_PARTITION_UNKNOWN:   reason "uniform_sticky"
 *                                             RecordAccumulator.append picks the sticky
 *                                             partition (builtin_partitioner.h)
 *
 * Plug-ins, for comparison with the default (partitioner.class):
 *
 *   RoundRobinPartitioner   each record to the next partition in turn, keys ignored.
 *     Known quirk (KAFKA-9965, still in Kafka's docs): with any plug-in, the producer asks
 *     the accumulator to return instead of opening a new batch ("abortOnNewBatch"), calls
 *     on_new_batch() and asks the plug-in again. Round-robin counts that second question
 *     as another turn, so every record that opens a batch skips a partition. With 3
 *     partitions and room in the batches, records go to 1, 0, 1, 0, 1, ...: partition 2
 *     gets nothing until a batch fills (tests/unit/test_partitioner.c replays this).
 *   StickyPartitioner (= DefaultPartitioner, Kafka 2.4-3.2, removed in 4.0)
 *     keyed records by murmur2 as above; keyless ones stick to a random partition and
 *     switch only when a new batch is opened (on_new_batch), never after a byte count.
 *     Uneven when one partition's broker is slow: its batches fill (and switch) later, so
 *     it gets more records; KIP-794's uniform sticky fixes exactly this.
 *   a custom one: a struct mk_partitioner the application fills in (see below).
 *
 * Every choice emits one trace event (DESIGN 3.4) when tracing is on:
 *   {"side":"producer","event":"partition","client_id":"producer-1","topic":"t",
 *    "partition":2,"reason":"key_hash"}
 * For case 4 the partition is known only inside the accumulator, which emits the event
 * with mk_partitioner_trace() once it has peeked the sticky partition.
 *
 * Thread: app (any application thread; the plug-ins below lock their own state).
 */
#ifndef MK_PRODUCER_PARTITIONER_H
#define MK_PRODUCER_PARTITIONER_H

#include <stdbool.h>
#include <stdint.h>

#include "producer/builtin_partitioner.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

/* Why a record went where it went: the trace's `reason` field. */
enum mk_partition_reason {
  MK_PARTITION_REASON_EXPLICIT,        /* "explicit": the record named its partition */
  MK_PARTITION_REASON_KEY_HASH,        /* "key_hash": murmur2 of the key bytes */
  MK_PARTITION_REASON_STICKY,          /* "sticky": the pre-3.3 sticky partitioner */
  MK_PARTITION_REASON_ROUND_ROBIN,     /* "round_robin": RoundRobinPartitioner */
  MK_PARTITION_REASON_UNIFORM_STICKY,  /* "uniform_sticky": the built-in, KIP-794 */
  MK_PARTITION_REASON_CUSTOM,          /* "custom": a C partitioner that did not say */
};

/* The trace name of a reason ("key_hash", ...). Thread: any. */
const char *mk_partition_reason_name(enum mk_partition_reason reason);

/* A partitioner plug-in: Java's org.apache.kafka.clients.producer.Partitioner. */
struct mk_partitioner {
  const char *name;  /* as partitioner.class shows it: "RoundRobinPartitioner", "MyPartitioner" */
  void *opaque;      /* passed to every function below */
  /* Choose a partition for a record: set *partition (>= 0) and return 0, or return an error
   * code with err set. key/value are the serialized bytes (len < 0 = null). *reason comes
   * in as MK_PARTITION_REASON_CUSTOM; set it to say more. Thread: app, concurrently. */
  int (*partition)(void *opaque, const char *topic, struct mk_bytes key, struct mk_bytes value,
                   const struct mk_topic_partitions *partitions, int32_t *partition,
                   enum mk_partition_reason *reason, struct mk_err *err);
  /* Partitioner.onNewBatch: the accumulator is about to open a new batch for prev_partition
   * (then asks partition() again). May be NULL. Thread: app. */
  void (*on_new_batch)(void *opaque, const char *topic,
                       const struct mk_topic_partitions *partitions, int32_t prev_partition);
  /* Partitioner.close: the producer is closing. May be NULL. */
  void (*close)(void *opaque);
};

/* The outcome of a choice. */
struct mk_partition_choice {
  int32_t partition;  /* MK_PARTITION_UNKNOWN = the accumulator's sticky partition decides */
  enum mk_partition_reason reason;
};

/* KafkaProducer.partition(): choose in the order at the top of this file and trace the
 * choice (unless it is MK_PARTITION_UNKNOWN). explicit_partition < 0 means "none" (only -1
 * is accepted; Java's ProducerRecord rejects other negatives). custom is the partitioner.class
 * plug-in or NULL. The explicit partition is not checked against partitions->count: Java
 * waits for metadata that has it (max.block.ms), which is the caller's job.
 * Returns 0, or MK_ERR__INVALID_ARG (a negative explicit partition, a plug-in answer < 0,
 * no partitions known for a keyed record) or the plug-in's error, with err saying which.
 * Thread: app. Borrows everything. */
int mk_partitioner_choose(const struct mk_partitioner *custom, bool ignore_keys,
                          const char *client_id, const char *topic, int32_t explicit_partition, struct mk_bytes key,
                          struct mk_bytes value, const struct mk_topic_partitions *partitions,
                          struct mk_partition_choice *out, struct mk_err *err);

/* Tell the plug-in (if it has on_new_batch) that a new batch is about to be opened for
 * prev_partition, as KafkaProducer.onNewBatch does. Thread: app. */
void mk_partitioner_on_new_batch(const struct mk_partitioner *p, const char *topic,
                                 const struct mk_topic_partitions *partitions,
                                 int32_t prev_partition);

/* Emit the `partition` trace event (a no-op when tracing is off), naming the producer by its
 * client.id. Thread: any. */
void mk_partitioner_trace(const char *client_id, const char *topic, int32_t partition,
                          enum mk_partition_reason reason);

/* Whether a partitioner.class value names a built-in plug-in. Accepts Kafka's full and short
 * names ("org.apache.kafka.clients.producer.RoundRobinPartitioner", "RoundRobinPartitioner",
 * "org.apache.kafka.clients.producer.internals.DefaultPartitioner", "DefaultPartitioner",
 * "StickyPartitioner") and returns the canonical (full) name, or NULL. Thread: any. */
const char *mk_partitioner_builtin_class(const char *name);

/* Create the built-in plug-in named by class_name (any name mk_partitioner_builtin_class
 * accepts). Returns 0 with *out set, or MK_ERR__INVALID_ARG for an unknown name,
 * MK_ERR__NO_MEMORY. Free with mk_partitioner_free. Thread: any. Borrows class_name. */
int mk_partitioner_new_builtin(const char *class_name, struct mk_partitioner **out,
                               struct mk_err *err);

/* Close and free a plug-in made by mk_partitioner_new_builtin (a custom partitioner belongs
 * to the application: call its close() instead). Thread: any. */
void mk_partitioner_free(struct mk_partitioner *p);

/* Seed a built-in StickyPartitioner's random choices (tests, labs). Thread: any. */
void mk_partitioner_set_seed(struct mk_partitioner *p, uint64_t seed);

#endif
