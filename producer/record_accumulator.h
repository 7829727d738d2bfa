/*
 * RecordAccumulator: where records wait until they become a ProduceRequest.
 * Kafka: producer/internals/RecordAccumulator.java (and BufferPool for buffer.memory).
 * Notes 004 section 2 (the deques), 000 section 5 (batch.size, linger.ms).
 *
 *   app thread     mk_accumulator_append(): add the record to the open batch at the
 *                  tail of its partition's deque, or open a new batch (batch.size),
 *                  reserving buffer.memory for it (blocking up to max.block.ms);
 *                  keyless records go to the topic's sticky partition, which the
 *                  BuiltInPartitioner moves on after batch.size bytes (KIP-794)
 *   Sender thread  mk_accumulator_ready(): which leaders have a batch that is full,
 *                  lingered linger.ms, or flushed?  mk_accumulator_drain(): take the
 *                  first batch of each of those partitions, at most max.request.size
 *                  per broker, and give it its sequence number; then, outside the
 *                  lock, the Sender builds (and compresses) its bytes
 *   on retry       mk_accumulator_reenqueue(): put a batch back at the front, in
 *                  sequence order, after retry.backoff.ms (exponential, with jitter)
 *
 *   partition t-0: [batch: 16 KB, full][batch: 16 KB, full][batch: 3 KB, open] <- append
 *                   ^ drain takes the head
 *
 * One lock guards the deques and the memory count (Java has one per deque; one lock is
 * simpler to read and enough here). A batch belongs to the accumulator until drained,
 * then to the Sender until mk_producer_batch_done() has run its callbacks, when the
 * accumulator frees it (mk_accumulator_deallocate) and returns its memory.
 *
 * Compression is the slow part of sending, and it is done outside the lock: app threads
 * append under it, so compressing there would stall them (Java compresses in the app
 * thread as it appends; librdkafka on its own thread while the app goes on appending).
 * So drain only picks the batches and stamps their producer id, epoch and sequence under
 * the lock; the Sender closes them (mk_producer_batch_close) after it, when the batches
 * are no longer in any deque and nothing but the Sender can reach them.
 */
#ifndef MK_PRODUCER_RECORD_ACCUMULATOR_H
#define MK_PRODUCER_RECORD_ACCUMULATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "producer/partitioner.h"
#include "producer/producer_batch.h"
#include "producer/producer_config.h"
#include "producer/producer_metadata.h"
#include "producer/producer_metrics.h"

struct mk_accumulator;

/* Per-partition state the Sender keeps next to the deque (Sender thread only). */
struct mk_partition_state {
  const char *topic;
  int32_t partition;
  int in_flight;                /* drained batches not yet completed */
  int32_t next_sequence;        /* idempotence: the next batch's base sequence */
  int32_t last_acked_sequence;  /* idempotence: the last sequence the broker confirmed */
};

/* Thread: any. Borrows cfg, producer and metrics for its whole life. */
struct mk_accumulator *mk_accumulator_new(const struct mk_producer_config *cfg,
                                          struct mk_producer *producer,
                                          struct mk_producer_metrics *metrics);
void mk_accumulator_free(struct mk_accumulator *acc);

/* What append did. */
enum mk_append_result {
  MK_APPEND_OK = 0,
  MK_APPEND_ABORTED_FOR_NEW_BATCH = 1,  /* abort_on_new_batch and a new batch was needed */
};

/* Append one serialized record. *partition is the chosen one, or MK_PARTITION_UNKNOWN for
 * the built-in uniform sticky partitioner (then the accumulator picks it, under its lock,
 * and emits the "partition" trace event with reason uniform_sticky); on return it is the
 * partition the record went to, or was going to when the append failed (Java's callback
 * reports that one too), and is unchanged if none was picked. topic is looked up
 * (and remembered) by name. record_size: the record alone in a batch, header included, as
 * send() checked it; a new batch reserves that much of buffer.memory if it is more than
 * batch.size. abort_on_new_batch: for a custom partitioner, stop before opening a new
 * batch so that it can be told (Partitioner.onNewBatch) and choose again. Blocks up to
 * max_block_ms (what is left of max.block.ms) for buffer.memory. *wake_sender says whether
 * a batch filled up or a new one began (Java wakes the Sender then, not on every record).
 * Returns 0 (see enum mk_append_result), or REQUEST_TIMED_OUT ("Failed to allocate ...
 * within the configured max blocking time"), MK_ERR__STATE (closing), MK_ERR__NO_MEMORY.
 * Thread: app. Borrows everything (the thunk is copied). */
int mk_accumulator_append(struct mk_accumulator *acc, const char *topic, int32_t *partition,
                          const struct mk_topic_snapshot *snapshot, int64_t timestamp,
                          struct mk_bytes key, struct mk_bytes value,
                          const struct mk_record_header *headers, int headers_count,
                          size_t record_size, const struct mk_record_thunk *thunk,
                          bool abort_on_new_batch, int64_t max_block_ms, bool *wake_sender,
                          struct mk_err *err);

/* ---- the Sender's side ----------------------------------------------------------------- */

/* Which brokers have a batch to send now (ready_nodes, up to max_nodes; returns how many),
 * and in how many ms the next one will be (*next_delay_ms). Partitions whose leader is
 * unknown ask for a metadata update. muted(): a broker that cannot take a request now
 * (too many in flight, throttled). flush_all: a transaction is being committed or aborted,
 * so every batch goes now, as with flush() (Java's transactionCompleting). Thread: sender. */
int mk_accumulator_ready(struct mk_accumulator *acc, struct mk_producer_metadata *md,
                         int64_t now_ms, bool flush_all, int32_t *ready_nodes, int max_nodes,
                         int64_t *next_delay_ms);

/* Whether a partition's batches may be drained yet (a transactional producer's partition
 * must have been added to the transaction first: mk_transaction_manager_may_send). */
typedef bool (*mk_may_send_fn)(void *arg, const char *topic, int32_t partition);

/* Take the batches to send to node: at most one per partition it leads, up to
 * max_request_size bytes in all (the first always; a batch not yet closed counts its
 * estimated size, mk_producer_batch_estimated_size, as Java's estimatedSizeInBytes),
 * skipping partitions still backing off, (idempotence) waiting for an earlier retry, or
 * refused by may_send (NULL: none refused; it is called under the accumulator's lock). A
 * batch sent for the first time is stamped with the producer id, epoch and the partition's
 * next sequence; the caller must then build the bytes of those without any
 * (mk_producer_batch_close), which drain leaves to it so as not to compress under the
 * lock. A retry keeps its bytes. Returns how many were put in out (up to max), each counted
 * in flight. producer_id -1: no idempotence. Thread: sender. */
int mk_accumulator_drain(struct mk_accumulator *acc, struct mk_producer_metadata *md,
                         int32_t node, int32_t max_request_size, int64_t producer_id,
                         int16_t producer_epoch, mk_may_send_fn may_send, void *may_send_arg,
                         int64_t now_ms, struct mk_producer_batch **out, int max);

/* Put a batch back for a retry, at the front of its deque in sequence order; it waits
 * backoff_ms before it is ready again. Thread: sender. */
void mk_accumulator_reenqueue(struct mk_accumulator *acc, struct mk_producer_batch *batch,
                              int64_t now_ms, int64_t backoff_ms);

/* The Sender-side state of batch's partition. Thread: sender. */
struct mk_partition_state *mk_accumulator_partition_state(struct mk_accumulator *acc,
                                                          const struct mk_producer_batch *batch);
/* After a new producer id/epoch: restart every partition's sequences at 0, restamping
 * batches awaiting retry with the new id. Thread: sender. */
void mk_accumulator_reset_sequences(struct mk_accumulator *acc, int64_t producer_id,
                                    int16_t epoch);

/* Fail and remove batches that waited longer than delivery.timeout.ms in the deques.
 * Returns how many; *had_sequence is set if one of them had been given a sequence number:
 * the broker's view of that partition's sequences is then unknown, so an idempotent
 * producer needs a new id. Thread: sender. */
int mk_accumulator_expire(struct mk_accumulator *acc, int64_t now_ms, bool *had_sequence);

/* A compressed batch of b's topic came out at `observed` (compressed / uncompressed
 * records). Java's CompressionRatioEstimator.updateEstimation: worse than the estimate, the
 * estimate jumps up to it (at least +0.05); better, it moves down by 0.005. New batches of
 * the topic are filled against the new estimate (producer_batch.h). Thread: sender. */
void mk_accumulator_update_compression_ratio(struct mk_accumulator *acc,
                                             const struct mk_producer_batch *b, float observed);

/* A completed batch: free it and return its memory. Thread: sender (or closing thread). */
void mk_accumulator_deallocate(struct mk_accumulator *acc, struct mk_producer_batch *batch);
/* Complete every record of batch with err (callbacks run here, so no lock may be held),
 * then deallocate it. Thread: sender (or the closing thread, at close). */
void mk_accumulator_fail_batch(struct mk_accumulator *acc, struct mk_producer_batch *batch,
                               const struct mk_err *err);

/* flush(): make every batch ready at once, and wait until those appended before now have
 * completed, at most until deadline_ms (-1 = no limit). Returns 0 or MK_ERR__TIMED_OUT.
 * wake(arg) wakes the Sender. Thread: app. */
int mk_accumulator_flush(struct mk_accumulator *acc, int64_t deadline_ms, void (*wake)(void *),
                         void *arg);

/* Stop taking records (appends fail with MK_ERR__STATE; waiting ones are woken). */
void mk_accumulator_close(struct mk_accumulator *acc);
/* Whether any batch is still incomplete (queued or in flight). Thread: any. */
bool mk_accumulator_has_incomplete(struct mk_accumulator *acc);
/* Fail every batch still in the deques with err (at close after the timeout). In-flight
 * batches are the Sender's to fail. Thread: sender. */
void mk_accumulator_abort_undrained(struct mk_accumulator *acc, const struct mk_err *err);
/* Fail the batches never sent (no sequence yet) with err: an aborting transaction's
 * (Java's abortUndrainedBatches with a TransactionManager). Batches waiting for a retry
 * have been sent once and are retried to their end. Thread: sender. */
void mk_accumulator_abort_unsent(struct mk_accumulator *acc, const struct mk_err *err);

#endif
