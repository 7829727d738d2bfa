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
 * Transactions (DESIGN.md 3.6). A transactional producer's batches carry the transactional
 * attribute; the first one in this partition opens its transaction here (its offset is the
 * entry's current_txn_first_offset), and the COMMIT or ABORT marker the coordinator writes
 * closes it. Until then the transaction is "open" and holds the last stable offset (LSO)
 * at its first offset: a read_committed consumer may not read past it. A closed
 * transaction still holds the LSO until the high watermark passes its marker (the marker
 * must be replicated before it counts, as Kafka's unreplicatedTxns):
 *
 *     offset  100 [P5 txn] 101 [plain] 102 [P5 txn] 103 [COMMIT P5]      HW 103
 *     open    {P5, first 100, marker 103}       -> first unstable offset 100, LSO 100
 *     HW moves to 104                           -> span dropped, LSO = HW = 104
 *
 * Aborted transactions go to the partition's transaction index (transaction_index.h), which
 * Fetch reads for read_committed consumers.
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
#include "broker/transaction_index.h"
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

/* One producer id (Kafka's ProducerStateEntry). */
struct mk_producer_entry {
  int64_t producer_id;     /* -1 marks an empty slot in the table */
  int16_t producer_epoch;  /* the latest epoch seen; a new epoch clears batches */
  int64_t last_timestamp;  /* timestamp of the latest batch */
  int64_t current_txn_first_offset;  /* its open transaction's first offset here, or -1 */
  int32_t coordinator_epoch;  /* of the last marker written for it, or -1: a marker from an
                                 older transaction coordinator is refused */
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

/* A transaction that holds the LSO (Kafka's TxnMetadata): open (last_offset -1), or closed by
 * a marker at last_offset that the high watermark has not passed yet. */
struct mk_txn_span {
  int64_t producer_id;
  int64_t first_offset;
  int64_t last_offset;   /* its marker, or -1 while open */
};

/* One partition's table of producers (Kafka's ProducerStateManager). */
struct mk_producer_state {
  struct mk_producer_entry *slots;  /* cap slots; empty ones have producer_id -1 */
  size_t cap;                       /* 0 or a power of two */
  size_t count;                     /* producers in the table */
  struct mk_txn_span *spans;        /* by first_offset: ongoing + unreplicated transactions */
  size_t nspans, spans_cap;
  struct mk_transaction_index aborted;  /* the aborted transactions (transaction_index.h) */
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
 *   - a batch without the transactional attribute from a producer whose transaction is
 *     open here: MK_ERR_INVALID_TXN_STATE (Kafka's "Expected transactional write").
 * Errors fill err->msg with producer id, epochs and the expected and received sequence.
 * Thread: broker loop. Borrows: b. Returns: 0 or the error code. */
int mk_producer_state_check(const struct mk_producer_state *ps, const struct mk_record_batch *b,
                            bool *duplicate, struct mk_batch_metadata *original,
                            struct mk_err *err);

/* What the broker checks before it appends a batch it wrote itself (AppendOrigin.COORDINATOR):
 * a transactional offset commit (TxnOffsetCommit's records in __consumer_offsets) is checked
 * for an older epoch only, with no sequence; a transaction marker (coordinator_epoch >= 0)
 * also for an older coordinator epoch than the last marker's, MK_ERR_TRANSACTION_COORDINATOR_FENCED
 * (Kafka's checkCoordinatorEpoch: a coordinator that lost its partition and did not know).
 * Returns 0, MK_ERR_INVALID_PRODUCER_EPOCH or that. Thread: broker loop. */
int mk_producer_state_check_coordinator(const struct mk_producer_state *ps, int64_t producer_id,
                                        int16_t producer_epoch, int32_t coordinator_epoch,
                                        struct mk_err *err);

/* Remember a batch just appended to the partition's log (ProducerAppendInfo.append, then
 * ProducerStateManager.update): a new epoch clears the retained batches, then the batch
 * is added and the oldest beyond five is dropped. A transactional batch opens the
 * producer's transaction here if none is open. A control batch updates the epoch and
 * timestamp, and closes the open transaction: its span now ends at the marker, and an
 * ABORT adds it to the transaction index. Batches without a producer id are ignored. No checks: the leader ran
 * mk_producer_state_check first, and a follower takes what its leader wrote.
 * Thread: broker loop. Borrows: stored.
 * Returns: 0, or MK_ERR__NO_MEMORY if the table could not grow (the producer is then not
 * remembered: its next batch is accepted as from an unknown producer). */
int mk_producer_state_update(struct mk_producer_state *ps, const struct mk_batch *stored);

/* Forget everything and replay every batch of log, oldest first (Kafka's
 * truncateAndReload with no snapshot, then loading producers from the log), the open
 * transactions and the transaction index included. Call after mk_log_truncate_to, then
 * mk_producer_state_on_high_watermark with the partition's high watermark. A producer whose batches retention has deleted is forgotten, as it
 * would be by a Kafka broker restarting without snapshots.
 * Thread: broker loop. Borrows: log. Returns: 0 or MK_ERR__NO_MEMORY. */
int mk_producer_state_rebuild(struct mk_producer_state *ps, const struct mk_log *log);

/* ---- the last stable offset ----------------------------------------------------------------- */

/* Kafka's firstUnstableOffset: the first offset of the earliest transaction that is open, or
 * closed by a marker the high watermark has not passed; -1 when there is none. The LSO is
 * this, capped at the high watermark (mk_partition_last_stable_offset, cluster.h).
 * Thread: broker loop. */
int64_t mk_producer_state_first_unstable_offset(const struct mk_producer_state *ps);

/* The high watermark moved to hw: closed transactions whose marker is below it stop
 * holding the LSO (Kafka's onHighWatermarkUpdated). Thread: broker loop. */
void mk_producer_state_on_high_watermark(struct mk_producer_state *ps, int64_t hw);

/* Retention moved the log start to log_start_offset: closed transactions and aborted ones
 * whose marker went with it are forgotten (onLogStartOffsetIncremented). */
void mk_producer_state_on_log_start(struct mk_producer_state *ps, int64_t log_start_offset);

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
