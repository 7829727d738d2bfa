/*
 * Transaction index: the aborted transactions of one partition, so that a read_committed
 * consumer can drop their records. Kafka: storage/.../log/TransactionIndex.java and
 * AbortedTxn.java (one index file per log segment), UnifiedLog.collectAbortedTransactions.
 *
 * A transaction leaves its records in the log whatever its outcome; only the marker that
 * ends it says COMMIT or ABORT. A consumer reading with isolation.level=read_committed gets,
 * with every Fetch answer, the aborted transactions that overlap the records it was sent:
 *
 *     offset   10  11  12  13  14  15  16
 *     batch    [P7 data  ] [P9 data] [ABORT P7] [COMMIT P9]
 *     entry    {producer 7, first 10, last 14 (the marker)}
 *
 * and skips producer 7's records from offset 10 until it meets producer 7's marker. The
 * committed records of producer 9 in between are delivered. So an entry needs only the
 * producer id, the transaction's first offset and the offset of its ABORT marker.
 *
 * Entries are appended when an ABORT marker is appended (producer_state.c), in marker
 * order, which is also last_offset order: a binary search finds the first entry a fetch
 * needs. Retention drops entries whose marker the log no longer holds; a rebuild of the
 * producer state (leader change, truncation) rebuilds the index from the log.
 *
 * Kafka keeps one index per segment and scans segment by segment; we have no segments, so
 * one sorted array serves the whole partition. Each entry also records the last stable
 * offset when it was written (Kafka uses it to stop scanning segments early); we keep it
 * for GET /v1/producers.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_TRANSACTION_INDEX_H
#define MK_BROKER_TRANSACTION_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's AbortedTxn. */
struct mk_aborted_txn {
  int64_t producer_id;
  int64_t first_offset;        /* the transaction's first record in this partition */
  int64_t last_offset;         /* its ABORT marker */
  int64_t last_stable_offset;  /* the partition's LSO right after the marker (informative) */
};

struct mk_transaction_index {
  struct mk_aborted_txn *entries;  /* by last_offset, oldest first */
  size_t count;
  size_t cap;
};

/* An empty index (allocates nothing until the first append). */
void mk_transaction_index_init(struct mk_transaction_index *idx);
/* Free it; it may be initialised again. */
void mk_transaction_index_free(struct mk_transaction_index *idx);
/* Forget every entry, keeping the memory (a rebuild). */
void mk_transaction_index_clear(struct mk_transaction_index *idx);

/* Add an entry. Its last_offset must be above every entry's (markers are appended in order);
 * returns 0, MK_ERR__INVALID_ARG when it is not (nothing added), or MK_ERR__NO_MEMORY. */
int mk_transaction_index_append(struct mk_transaction_index *idx, const struct mk_aborted_txn *txn);

/* Drop the entries whose marker lies below log_start_offset (retention deleted them: no
 * fetch can reach those records any more). */
void mk_transaction_index_truncate_head(struct mk_transaction_index *idx, int64_t log_start_offset);

/* The aborted transactions a fetch of [fetch_offset, upper_bound) must report (Kafka's
 * collectAbortedTransactions): those whose marker is at or after fetch_offset and whose
 * first offset is below upper_bound, in marker order. Copies up to max of them into out
 * (out may be NULL when max is 0) and returns how many there are: call once with 0 to
 * count, then again with room for them. */
size_t mk_transaction_index_collect(const struct mk_transaction_index *idx, int64_t fetch_offset,
                                    int64_t upper_bound, struct mk_aborted_txn *out, size_t max);

#endif
