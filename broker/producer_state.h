/*
 * Producer state: what one partition remembers about each idempotent producer, so a
 * retried batch is recognised and written once.
 * Kafka: storage/.../log/ProducerStateManager.java (the table), ProducerStateEntry.java
 * (one producer), ProducerAppendInfo.java (the checks), BatchMetadata.java, and
 * UnifiedLog.analyzeAndValidateProducerState (the order they run in).
 *
 * An idempotent producer stamps every batch with its producer id, its epoch and the
 * sequence number of the batch's first record; the next batch for the same partition
 * starts at the previous batch's last sequence + 1. For each producer id the partition
 * keeps its epoch and the first/last sequence and offsets of its last five batches
 * (Kafka's NUM_BATCHES_TO_RETAIN = 5, which is why a producer may have at most five
 * requests in flight per connection). A Produce request then runs:
 *
 *   mk_producer_state_check(batch)      before appending, changes nothing:
 *       same epoch, same first and last sequence as one of the five
 *                                       -> duplicate: answer with the original offset
 *       epoch older than the known one  -> INVALID_PRODUCER_EPOCH
 *       newer epoch not starting at 0   -> OUT_OF_ORDER_SEQUENCE_NUMBER
 *       same epoch, first != last + 1   -> OUT_OF_ORDER_SEQUENCE_NUMBER
 *       otherwise                       -> append it
 *   mk_log_append(...)
 *   mk_producer_state_update(stored)    remember the batch, forget the sixth-latest
 *
 * Followers call only mk_producer_state_update, for each batch they copy from the
 * leader (Kafka's REPLICATION origin: no checks). That is what lets a follower that
 * becomes leader recognise a retry of a batch the old leader wrote. After a follower
 * truncates its log, mk_producer_state_rebuild replays what is left.
 *
 * Producers live in an open-addressing hash table (linear probing, kept at most half
 * full), so a classroom of producers costs O(1) per batch. Entries are never removed
 * one by one: Kafka expires idle producers after producer.id.expiration.ms, which
 * minikafka does not (a lab's broker lives for minutes, not days).
 *
 * Thread: broker loop, for everything here.
 */
#ifndef MK_BROKER_PRODUCER_STATE_H
#define MK_BROKER_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/partition_log.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"

/* Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
#define MK_PRODUCER_BATCHES_TO_RETAIN 5

/* One appended batch, as producer state remembers it (Kafka's BatchMetadata). */
struct mk_batch_metadata {
  int32_t first_seq;     /* the batch's base_sequence */
  int32_t last_seq;      /* its last sequence (wrapped, as DefaultRecordBatch.lastSequence) */
  int64_t first_offset;  /* its base offset: what a duplicate is answered with */
  int64_t last_offset;
  int64_t timestamp;     /* its max_timestamp */
};

/* One producer id (Kafka's ProducerStateEntry, without the transaction fields). */
struct mk_producer_entry {
  int64_t producer_id;     /* -1 marks an empty slot in the table */
  int16_t producer_epoch;  /* the latest epoch seen; a new epoch clears batches */
  int64_t last_timestamp;  /* timestamp of the latest batch */
  int batches_count;       /* 0..MK_PRODUCER_BATCHES_TO_RETAIN */
  struct mk_batch_metadata batches[MK_PRODUCER_BATCHES_TO_RETAIN];  /* oldest first */
};

/* The latest batch's last sequence / last offset, or -1 with no batch retained
 * (Kafka's ProducerStateEntry.lastSeq / lastDataOffset). */
static inline int32_t mk_producer_entry_last_seq(const struct mk_producer_entry *e) {
  return e->batches_count ? e->batches[e->batches_count - 1].last_seq : MK_NO_SEQUENCE;
}
static inline int64_t mk_producer_entry_last_offset(const struct mk_producer_entry *e) {
  return e->batches_count ? e->batches[e->batches_count - 1].last_offset : -1;
}

/* One partition's table of producers (Kafka's ProducerStateManager). */
struct mk_producer_state {
  struct mk_producer_entry *slots;  /* cap slots; empty ones have producer_id -1 */
  size_t cap;                       /* 0 or a power of two */
  size_t count;                     /* producers in the table */
};

/* An empty table (allocates nothing until the first producer). Thread: broker loop. */
void mk_producer_state_init(struct mk_producer_state *ps);
/* Free the table; ps may be initialised again. Thread: broker loop. */
void mk_producer_state_free(struct mk_producer_state *ps);

/* Decide what to do with batch b from a Produce request, without changing anything
 * (Kafka validates the whole request before it appends; a batch refused later for
 * another reason must leave no trace). b is the batch as parsed from the request and
 * already validated (mk_record_batch_validate), so its base_sequence is set whenever it
 * has a producer id. The rules, in Kafka's order:
 *   - producer_id -1 (not idempotent): no checks; returns 0, *duplicate = false.
 *   - duplicate (UnifiedLog.analyzeAndValidateProducerState, findDuplicateBatch): the
 *     known epoch, and the exact first and last sequence of one of the retained batches.
 *     Returns 0 with *duplicate = true and *original = that batch; the handler answers
 *     with original->first_offset and no error, and appends nothing.
 *   - epoch older than the known one: MK_ERR_INVALID_PRODUCER_EPOCH.
 *   - epoch newer than the known one: base_sequence must be 0, else
 *     MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER ("Invalid sequence number for new epoch").
 *   - same epoch: base_sequence must be the last sequence + 1 (0 after INT32_MAX), else
 *     MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER. This also catches a retry of a batch older
 *     than the five retained: Kafka cannot tell it from a gap.
 *   - unknown producer id: any sequence is accepted. Kafka does the same (its
 *     ProducerAppendInfo.checkSequence accepts anything when the known epoch is
 *     NO_PRODUCER_EPOCH): the state may have been lost to retention or truncation, and
 *     since KIP-360 (Kafka 2.5) the broker no longer answers UNKNOWN_PRODUCER_ID.
 *   - a control batch (a transaction marker from WriteTxnMarkers; clients cannot send
 *     them) is checked for an older epoch only.
 * Errors fill err->msg with producer id, epochs and the expected and received sequence.
 * Thread: broker loop. Borrows: b. Returns: 0 or the error code. */
int mk_producer_state_check(const struct mk_producer_state *ps, const struct mk_record_batch *b,
                            bool *duplicate, struct mk_batch_metadata *original,
                            struct mk_err *err);

/* Remember a batch just appended to the partition's log (ProducerAppendInfo.append, then
 * ProducerStateManager.update): a new epoch clears the retained batches, then the batch
 * is added and the oldest beyond five is dropped. A control batch updates the epoch and
 * timestamp only. Batches without a producer id are ignored. No checks: the leader ran
 * mk_producer_state_check first, and a follower takes what its leader wrote.
 * Thread: broker loop. Borrows: stored.
 * Returns: 0, or MK_ERR__NO_MEMORY if the table could not grow (the producer is then not
 * remembered: its next batch is accepted as from an unknown producer). */
int mk_producer_state_update(struct mk_producer_state *ps, const struct mk_batch *stored);

/* Forget everything and replay every batch of log, oldest first (Kafka's
 * truncateAndReload with no snapshot, then loading producers from the log). Call after
 * mk_log_truncate_to. A producer whose batches retention has deleted is forgotten, as it
 * would be by a Kafka broker restarting without snapshots.
 * Thread: broker loop. Borrows: log. Returns: 0 or MK_ERR__NO_MEMORY. */
int mk_producer_state_rebuild(struct mk_producer_state *ps, const struct mk_log *log);

/* The entry for producer_id, or NULL (Kafka's lastEntry). Thread: broker loop.
 * Borrows: the entry stays owned by ps and is valid until the next update or rebuild. */
const struct mk_producer_entry *mk_producer_state_lookup(const struct mk_producer_state *ps,
                                                         int64_t producer_id);

/* Iterate over every producer, for GET /v1/producers:
 *     size_t it = 0;
 *     const struct mk_producer_entry *e;
 *     while ((e = mk_producer_state_next(ps, &it)) != NULL) ...
 * The order is the table's (not by producer id). Thread: broker loop. Borrows: as for
 * lookup; do not update ps while iterating. */
const struct mk_producer_entry *mk_producer_state_next(const struct mk_producer_state *ps,
                                                       size_t *iter);

#endif
