/*
 * ProducerBatch: records for one partition that travel, and succeed or fail, together.
 * Kafka: producer/internals/ProducerBatch.java (and MemoryRecordsBuilder for the bytes).
 *
 * A batch lives in three places in turn:
 *   1. the accumulator's deque for its partition (application threads append to the last
 *      batch until it is full: batch.size bytes);
 *   2. the Sender, once drained: drain stamps the producer id, epoch and base sequence,
 *      then the Sender builds (and compresses) the record batch bytes once, outside the
 *      accumulator's lock, and sends them in a Produce request;
 *   3. back at the front of its deque if the send failed with a retriable error — with
 *      the same bytes and the same sequence, which is what lets the broker recognise a
 *      retry of a batch it already wrote.
 *
 * mk_producer_batch_done() completes every record in it exactly once, whatever happens
 * afterwards: a final-state field makes a second completion a no-op that returns false
 * (Java's ProducerBatch.done with its finalState, whose Javadoc lists the transitions).
 *
 * Thread: appended to by app threads under the accumulator's lock; the Sender's alone
 * once drained.
 */
#ifndef MK_PRODUCER_PRODUCER_BATCH_H
#define MK_PRODUCER_PRODUCER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "producer/producer.h"
#include "protocol/primitives.h"
#include "protocol/record_batch.h"

struct mk_producer;
struct mk_deque;  /* a partition's deque of batches (record_accumulator.c) */

/* One record's completion: who to tell, and what to tell them. */
struct mk_record_thunk {
  mk_send_callback callback;
  void *opaque;
  struct mk_future *future;       /* a reference, or NULL */
  int64_t timestamp;
  int32_t offset_delta;           /* its place in the batch */
  int32_t key_size, value_size;   /* serialized sizes, -1 for null */
  int32_t record_size;            /* as send() checked it (record-size-avg); 0 before that */
};

enum mk_batch_state { MK_BATCH_OPEN, MK_BATCH_SUCCEEDED, MK_BATCH_FAILED };

struct mk_producer_batch {
  /* Set at creation, read-only after. */
  struct mk_producer *producer;   /* for interceptors and metrics at completion */
  const char *topic;              /* owned by the accumulator's topic entry */
  int32_t partition;
  struct mk_deque *deque;         /* the accumulator's deque for that partition (it lives
                                     as long as the accumulator): found without a lookup */
  int64_t id;                     /* creation order, for flush() */
  int64_t created_ms;
  float estimated_ratio;          /* compressed / uncompressed, as the accumulator expects it
                                     for this topic (CompressionRatioEstimator); 1 if none */

  /* Appending (under the accumulator lock). */
  struct mk_record_batch_builder builder;
  struct mk_record_thunk *thunks;
  int32_t record_count, thunks_cap;
  size_t reserved;                /* buffer.memory bytes held until done */

  /* Sending (Sender thread). */
  uint8_t *bytes;                 /* the finished record batch (built once, on first drain) */
  size_t bytes_len;
  int attempts;                   /* sends so far */
  int64_t drained_ms;
  bool in_retry;                  /* re-enqueued after a failure */
  int64_t retry_at_ms;            /* in_retry: not ready before this (retry backoff) */
  bool ready_traced;              /* the batch_ready event of this attempt was emitted */
  int64_t producer_id;            /* stamped when drained; -1 without idempotence */
  int16_t producer_epoch;
  int32_t base_sequence;          /* -1 until a sequence is assigned */
  enum mk_batch_state state;

  /* Accumulator bookkeeping. */
  struct mk_producer_batch *next, *prev;                   /* in its partition's deque */
  struct mk_producer_batch *incomplete_next, *incomplete_prev;  /* all not yet done */
};

/* A new, empty batch, with room for batch_size bytes: Java's BufferPool hands a batch a
 * batch.size buffer, which buffer.memory has already counted; made at once, it spares the
 * appends a buffer that moves (is copied) each time it doubles. estimated_ratio: see the
 * field. Returns new (freed by mk_producer_batch_free) or NULL. */
struct mk_producer_batch *mk_producer_batch_new(struct mk_producer *producer, const char *topic,
                                                int32_t partition, int32_t batch_size,
                                                int compression, int compression_level,
                                                float estimated_ratio, int64_t now_ms);
void mk_producer_batch_free(struct mk_producer_batch *b);

/* Bytes the batch's records take uncompressed, header included. */
size_t mk_producer_batch_size(const struct mk_producer_batch *b);

/* The bytes it will take on the wire, as far as can be told before compressing: the
 * uncompressed size without compression, else the header plus the records times
 * estimated_ratio times 1.05 (Java's MemoryRecordsBuilder.estimatedBytesWritten, with its
 * COMPRESSION_RATE_ESTIMATION_FACTOR of safety). What batch.size and max.request.size
 * count, as in Java: so a compressed batch holds more records than batch.size raw bytes. */
size_t mk_producer_batch_estimated_size(const struct mk_producer_batch *b);

/* Append a record if the estimated size stays within batch_size and the uncompressed size
 * within max.request.size (an empty batch always takes one record, however large). Returns
 * 0, 1 if it does not fit, or MK_ERR__NO_MEMORY. The thunk is copied. */
int mk_producer_batch_try_append(struct mk_producer_batch *b, int32_t batch_size,
                                 int64_t timestamp, struct mk_bytes key, struct mk_bytes value,
                                 const struct mk_record_header *headers, int headers_count,
                                 const struct mk_record_thunk *thunk, size_t *appended_bytes);

/* Whether another append would go to a new batch (Java's isFull). */
bool mk_producer_batch_is_full(const struct mk_producer_batch *b, int32_t batch_size);

/* Build (and compress) the batch's bytes with the producer id, epoch and base sequence
 * that mk_accumulator_drain() stamped on it (-1s without idempotence). Done once: a retry
 * resends the same bytes. Returns 0 or an error (in practice only out of memory). */
int mk_producer_batch_close(struct mk_producer_batch *b, struct mk_err *err);

/* Complete every record: success with base_offset (-1 if unknown, as with acks=0), or
 * failure with err. Counts the records (record-send/error-*) and their sizes
 * (record-size-*), then runs callbacks, completes futures and calls interceptors'
 * onAcknowledgement. Returns false (and does nothing) if the batch was already done.
 * Thread: sender (or the closing thread, at close). */
bool mk_producer_batch_done(struct mk_producer_batch *b, int64_t base_offset,
                            int64_t log_append_time, const struct mk_err *err);

#endif
