/*
 * Partition writer: the broker appending a record batch of its own to a partition it leads,
 * and learning when the batch is committed. Kafka: ReplicaManager.appendRecords called with
 * AppendOrigin.COORDINATOR and requiredAcks = -1 (DelayedProduce), as the coordinators'
 * CoordinatorPartitionWriter and the WriteTxnMarkers handler do.
 *
 * Who writes this way:
 *   the group coordinator        group metadata and offsets into __consumer_offsets
 *                                (transactional ones for TxnOffsetCommit)
 *   the transaction coordinator  transaction states into __transaction_state, and the
 *                                COMMIT/ABORT markers into every partition of a transaction
 *
 * A write is an acks=all produce without a client: the batch is checked (the leader, the
 * ISR against min.insync.replicas, max.message.bytes, the producer epoch and coordinator
 * epoch of a transactional batch or marker), appended to the leader's log, replicated like
 * any batch, and acknowledged once the high watermark passes it:
 *
 *   mk_partition_writer_append()   0: appended; done(arg, error) runs later, exactly once
 *                                  else: Kafka's error, nothing appended, done never runs
 *   done(arg, 0)                   the HW passed the batch: it survives a failover
 *   done(arg, NOT_LEADER_OR_FOLLOWER)  the leader or its epoch changed first (the batch may
 *                                  be truncated away)
 *   done(arg, REQUEST_TIMED_OUT)   timeout_ms passed first
 *   done(arg, NOT_ENOUGH_REPLICAS_AFTER_APPEND)  committed, but the ISR shrank below
 *                                  min.insync.replicas meanwhile
 *
 * done never runs inside append, nor inside a purgatory check: the writer notes that
 * something moved and decides at the top of a later loop turn (its timer), so a callback
 * never finds a coordinator halfway through a change. mk_partition_writer_complete decides
 * at once, for a coordinator about to handle a request.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_PARTITION_WRITER_H
#define MK_BROKER_PARTITION_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/cluster.h"

struct mk_broker;

typedef void mk_partition_write_done(void *arg, int16_t error);

/* One write. */
struct mk_partition_write {
  struct mk_partition *p;
  const uint8_t *batch;        /* a finished record batch (copied by append) */
  size_t len;
  int32_t leader_epoch;        /* the leader epoch the writer expects, -1: whatever it is */
  int32_t coordinator_epoch;   /* a transaction marker's coordinator epoch (checked against
                                  the producer's last marker), -1: not a marker */
  int64_t timeout_ms;          /* how long to wait for the high watermark */
  mk_partition_write_done *done;  /* NULL: nobody waits (no min.insync.replicas check) */
  void *arg;
};

/* Set up the writer of broker b (mk_broker_new). Returns 0 or an error. */
int mk_partition_writer_start(struct mk_broker *b, struct mk_err *err);
/* Answer every waiting write NOT_LEADER_OR_FOLLOWER and free the writer (mk_broker_free). */
void mk_partition_writer_free(struct mk_broker *b);

/* Append w->batch to w->p as its leader (above). *base_offset (may be NULL) gets where it
 * went. Returns 0, or NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, RECORD_LIST_TOO_LARGE,
 * INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED, CORRUPT_MESSAGE,
 * UNKNOWN_SERVER_ERROR (a log line says why). Borrows w. */
int16_t mk_partition_writer_append(struct mk_broker *b, const struct mk_partition_write *w,
                                   int64_t *base_offset);

/* Answer now every waiting write whose outcome is known. */
void mk_partition_writer_complete(struct mk_broker *b);

/* Answer every waiting write with error now; appends made meanwhile (by the callbacks) are
 * refused. For a reset, before the topics go. */
void mk_partition_writer_fail_all(struct mk_broker *b, int16_t error);

#endif
