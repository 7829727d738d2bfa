/*
 * Partition log: one replica's copy of a partition, as a list of record batches.
 * Kafka: storage/.../log/UnifiedLog.java, LocalLog.java, LogSegment.java;
 * storage/.../epoch/LeaderEpochFileCache.java (the leader epoch cache kept here too).
 *
 * A produced batch is copied exactly once, into a struct mk_batch, with two header
 * fields rewritten: base_offset (the offset the leader assigns) and
 * partition_leader_epoch (the leader's epoch). The CRC covers neither, so the bytes
 * stay a valid batch that a Fetch can send as they are. Every replica's log then holds
 * a pointer to the same struct mk_batch: followers "copy" a batch by taking a
 * reference, and the bytes are freed when the last log lets go.
 *
 *      leader log   [b0][b1][b2][b3]          LEO = 1 + b3->last_offset
 *      follower log [b0][b1][b2]              (b0..b2 are the same structs)
 *                    ^                   ^
 *       log_start_offset          log_end_offset: the next offset to assign
 *
 * What moves the ends:
 *   mk_log_append            the leader (after assigning offsets) and followers
 *                            (after fetching) add a batch at the end
 *   mk_log_truncate_to       a follower cuts its end back to where it agrees with
 *                            the new leader (leader epoch truncation after failover)
 *   mk_log_apply_retention   retention.bytes / retention.ms drop the oldest batches,
 *                            never one the high watermark has not passed
 *
 * There are no segments: a batch is the unit Kafka's segments are made of, and the
 * only unit we delete or truncate. Where Kafka decides per segment (retention), we
 * decide per batch with the same rule; the functions below say where that differs.
 *
 * The leader epoch cache is a short list of (epoch, start offset): the first offset
 * each leader epoch wrote. It answers "where did epoch N end?" for
 * OffsetsForLeaderEpoch, which is how a follower finds the point its log diverged.
 *
 * Thread: broker loop, for everything here. There are no locks; the refcount is a
 * plain int.
 */
#ifndef MK_BROKER_PARTITION_LOG_H
#define MK_BROKER_PARTITION_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/record_batch.h"


/* ---- shared buffers ---------------------------------------------------------------------- */

struct mk_batch;
struct mk_log_usage;

/* A reference-counted byte buffer: a Produce request's frame, kept alive for as long as
 * any stored batch points into it. This is how a batch is stored "as the bytes received":
 * the network layer reads the frame into a struct mk_buffer, and the log keeps pointers
 * into it instead of copying.
 *
 * A frame may hold batches of several partitions, deleted at different times (retention,
 * truncation). So that a small batch kept long cannot pin a large frame whose other
 * batches are gone, the frame knows its batches: once one of them has been freed and the
 * frame is held by its remaining batches alone, they are copied out of it if the bytes
 * no longer used are more than an eighth of those still used (the frame is then freed).
 * A batch is copied at most once, so this costs at most one more copy of each byte
 * stored, and memory stays within an eighth (plus request headers) of what the logs
 * hold. */
struct mk_buffer {
  int refcount;
  size_t size;
  struct mk_batch *batches;     /* the stored batches whose bytes lie here */
  int nbatches;
  size_t live;                  /* their bytes */
  bool batch_freed;             /* one of its batches is gone: worth checking for copy-out */
  struct mk_log_usage *usage;   /* counted here (once held by a batch in a log), or NULL */
  uint8_t data[];
};

/* A buffer of size bytes (uninitialised) with refcount 1, or NULL if out of memory.
 * Thread: any (each buffer belongs to one thread at a time). Returns new: mk_buffer_unref. */
struct mk_buffer *mk_buffer_new(size_t size);
/* buf with room for size bytes instead, its first min(old, new) bytes kept: how a frame's
 * buffer grows as its bytes arrive (network.c). Only while nobody else holds buf (refcount
 * 1). Returns the buffer (perhaps moved), or NULL if out of memory (buf is then as it was).
 * Thread: any (as mk_buffer_new). */
struct mk_buffer *mk_buffer_resize(struct mk_buffer *buf, size_t size);
struct mk_buffer *mk_buffer_ref(struct mk_buffer *buf);
/* Drop a reference; the last one frees the buffer. NULL is allowed. */
void mk_buffer_unref(struct mk_buffer *buf);

/* ---- stored batches ---------------------------------------------------------------------- */

/* A record batch as the log stores it: the header fields the broker reads often, decoded
 * once, then the bytes. Shared by every replica's log; see mk_batch_ref/unref. */
struct mk_batch {
  int refcount;             /* one per log (or other holder); freed at 0 */

  /* Set by mk_batch_new, read-only after. */
  int64_t base_offset;      /* offset of the first record (rewritten in data) */
  int64_t last_offset;      /* base_offset + last_offset_delta */
  int32_t leader_epoch;     /* partition leader epoch stamped at append (rewritten in data) */
  int64_t base_timestamp;   /* the first record's timestamp (header field) */
  int64_t max_timestamp;    /* the largest record timestamp (header field) */
  int64_t append_time_ms;   /* wall-clock ms when the leader appended it */
  int64_t producer_id;      /* -1 unless idempotent or transactional */
  int16_t producer_epoch;
  int32_t base_sequence;    /* -1 unless idempotent */
  int32_t last_sequence;    /* base_sequence + last_offset_delta, wrapped; -1 if none */
  int32_t records_count;
  int16_t attributes;       /* as on the wire: compression, timestamp type, flags */
  bool is_transactional;    /* attributes & MK_ATTR_TRANSACTIONAL */
  bool is_control;          /* attributes & MK_ATTR_CONTROL: a transaction marker */
  size_t size;              /* bytes in data: 12 + batch_length */
  uint8_t *data;            /* the batch, ready to send in a Fetch response: inside owner's
                               bytes, in copy[] when stored without an owner, or in a
                               buffer of its own after a copy-out (data_owned) */
  struct mk_buffer *owner;  /* the frame the bytes live in (a reference), or NULL */
  struct mk_batch *owner_prev, *owner_next;  /* owner->batches */
  bool data_owned;          /* data was malloc'ed by a copy-out: freed with the batch */
  struct mk_log_usage *usage;  /* counted here (from its first log append on), or NULL */
  uint8_t copy[];
};

/* Store the batch that `parsed` describes (parsed->data, parsed->size bytes) as a new
 * struct mk_batch with refcount 1, writing base_offset and leader_epoch into both the
 * struct and the bytes. The other fields come from parsed; the caller has validated the
 * batch (mk_record_batch_validate) already.
 * owner: the buffer parsed->data lies in, to keep the bytes where they are (rewritten in
 * place, and the buffer referenced); or NULL to copy them.
 * Thread: broker loop. Borrows: parsed; adds a reference to owner.
 * Returns new: release with mk_batch_unref(); NULL if out of memory. */
struct mk_batch *mk_batch_new(const struct mk_record_batch *parsed, int64_t base_offset,
                              int32_t leader_epoch, int64_t now_ms, struct mk_buffer *owner);

/* Take one more reference (a second log now holds b). Returns b. Thread: broker loop. */
struct mk_batch *mk_batch_ref(struct mk_batch *b);

/* Drop one reference; the last one frees b. NULL is allowed. Thread: broker loop. */
void mk_batch_unref(struct mk_batch *b);

/* A view of the stored bytes as a parsed batch (for the record reader). Thread: broker
 * loop. Borrows b: *out points into b->data and is valid while the caller holds b. */
void mk_batch_parsed(const struct mk_batch *b, struct mk_record_batch *out);

/* ---- the memory of logs ------------------------------------------------------------------ */

/* What a broker's logs hold together, for log.memory.max.bytes (retention.h): every batch
 * struct, the frames batches live in (whole, once each, however many batches and replica
 * logs share them), and batches' own copies. A log points at its broker's (mk_log.usage);
 * a batch is counted from the first time it is appended to such a log until it is freed. */
struct mk_log_usage {
  int64_t bytes;
  int64_t peak;
};

/* ---- the log ----------------------------------------------------------------------------- */

/* One entry of the leader epoch cache (Kafka's EpochEntry): the first offset written in
 * leader epoch `epoch`. */
struct mk_epoch_entry {
  int32_t epoch;
  int64_t start_offset;
};

struct mk_log {
  /* The batches, oldest first: batches[head .. head + count). Deleting from the front
   * (retention) moves head; the array is compacted when it has to grow. Read them with
   * mk_log_batch(). */
  struct mk_batch **batches;
  size_t head;
  size_t count;
  size_t cap;

  int64_t log_start_offset;  /* first offset a consumer may fetch */
  int64_t log_end_offset;    /* LEO: the offset the next appended batch must start at */
  int64_t size;              /* bytes of all batches (what retention.bytes limits) */

  struct mk_log_usage *usage;  /* the broker's, counted as batches are appended; or NULL */

  /* Leader epoch cache, in increasing epoch and start offset. */
  struct mk_epoch_entry *epochs;
  size_t epochs_count;
  size_t epochs_cap;
};

/* An empty log starting at offset 0. Thread: broker loop. Free with mk_log_free(). */
void mk_log_init(struct mk_log *log);

/* Drop the log's reference to every batch and free its arrays; the log is left empty and
 * may be initialised again. Thread: broker loop. */
void mk_log_free(struct mk_log *log);

/* The i-th batch, 0 = oldest (i < log->count). Borrows: the log keeps its reference. */
static inline struct mk_batch *mk_log_batch(const struct mk_log *log, size_t i) {
  return log->batches[log->head + i];
}

/* Append b at the end; the log takes a reference of its own (the caller keeps its own and
 * usually unrefs it next). b->base_offset must equal log->log_end_offset, since offsets
 * have no gaps here; LEO becomes b->last_offset + 1. A batch stamped with a leader epoch
 * (>= 0) updates the epoch cache as Kafka's append does (assign(epoch, base_offset)).
 * Thread: broker loop. Borrows: b (adds a reference).
 * Returns: 0; MK_ERR__INVALID_ARG if b->base_offset != LEO (err names both; the log is
 * unchanged); MK_ERR__NO_MEMORY. */
int mk_log_append(struct mk_log *log, struct mk_batch *b, struct mk_err *err);

/* The index of the first batch whose last_offset >= offset: the batch holding `offset`,
 * or the next one after it. Returns log->count when offset >= LEO. A Fetch at `offset`
 * sends batches from this index on (the first may start before `offset`; consumers skip
 * those records, as they do with Kafka). Binary search. Thread: broker loop. */
size_t mk_log_find(const struct mk_log *log, int64_t offset);

/* Remove every batch with base_offset >= offset (Kafka's UnifiedLog.truncateTo, which a
 * follower runs before fetching from a new leader). Kafka truncates at a batch boundary,
 * so an offset that falls inside a batch removes that whole batch: LEO becomes the base
 * offset of the batch that held `offset` (rounded down), never more than `offset`.
 *   offset >= LEO                     no batch goes; only an epoch assigned at LEO with
 *                                     nothing written in it (a leader that lost its
 *                                     leadership at once) is dropped, as Kafka does
 *   offset below the first batch      the log empties and starts again at offset:
 *     (or an empty log)               log_start_offset = LEO = offset
 *                                     (Kafka's truncateFullyAndStartAt)
 * The epoch cache drops the epochs that started at or after the new LEO. The caller
 * must then rebuild the partition's producer state (mk_producer_state_rebuild), since
 * the sequences it remembers may belong to removed batches.
 * Thread: broker loop. */
void mk_log_truncate_to(struct mk_log *log, int64_t offset);

/* Delete every batch wholly below offset and make offset the log start (Kafka's
 * UnifiedLog.maybeIncrementLogStartOffset, as a follower does with the leader's log start):
 * a log that ends below offset empties and restarts there (a follower that was too far
 * behind). Offsets at or below the log start change nothing. Returns the batches deleted.
 * Thread: broker loop. */
size_t mk_log_advance_start(struct mk_log *log, int64_t offset);

/* Empty the log and restart it at offset: log_start_offset = LEO = offset, epoch cache
 * cleared (Kafka's truncateFullyAndStartAt: a follower whose fetch offset is out of the
 * leader's range starts over at the leader's log start). Thread: broker loop. */
void mk_log_truncate_fully_and_start_at(struct mk_log *log, int64_t offset);

/* ---- leader epochs ----------------------------------------------------------------------- */

/* Record that leader epoch `epoch` starts at start_offset (Kafka's
 * LeaderEpochFileCache.assign). mk_log_append calls this for every batch; call it directly
 * when a replica becomes leader, with its LEO, as Partition.makeLeader does, so the new
 * epoch is known before it writes anything. Entries that would break the order (an epoch
 * >= this one, or a start offset >= this one) are removed first; negative values are
 * ignored. Returns 0 or MK_ERR__NO_MEMORY. Thread: broker loop. */
int mk_log_assign_epoch(struct mk_log *log, int32_t epoch, int64_t start_offset);

/* The latest epoch in the cache, or -1 if it is empty. A follower sends this to the
 * leader to ask where that epoch ended. Thread: broker loop. */
int32_t mk_log_latest_epoch(const struct mk_log *log);

/* Where leader epoch `epoch` ended in this log (Kafka's LeaderEpochFileCache.endOffsetFor,
 * what OffsetsForLeaderEpoch answers):
 *   epoch is the latest epoch           (epoch, LEO)
 *   an epoch after it is known          (largest known epoch <= epoch,
 *                                        start offset of the first epoch > epoch);
 *                                       if no known epoch is <= epoch: (epoch, that start)
 *   epoch is -1 or after every epoch    not found
 * Returns true and fills *end_epoch and *end_offset, or false with both set to -1
 * (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET; Kafka answers that with no error).
 * A follower truncates to min(its own LEO, *end_offset). Either out pointer may be NULL.
 * Thread: broker loop. */
bool mk_log_end_offset_for_epoch(const struct mk_log *log, int32_t epoch, int32_t *end_epoch,
                                 int64_t *end_offset);

/* ---- retention and timestamps ------------------------------------------------------------ */

/* Delete the oldest batches while either limit says so, as Kafka's
 * deleteRetentionSizeBreachedSegments / deleteRetentionMsBreachedSegments do per segment:
 *   "retention.bytes"  delete the oldest batch while the log would still hold at least
 *                      retention_bytes without it (Kafka deletes a segment only if the
 *                      excess covers all of it)
 *   "retention.ms"     delete the oldest batch while now_ms - its max_timestamp >
 *                      retention_ms. Kafka compares a segment's largest timestamp; we
 *                      compare each batch's, so deletion is finer grained. A batch
 *                      with a future timestamp stops deletion, as in Kafka.
 * -1 (any negative) disables a limit, as in Kafka. Deletion stops at the first batch that
 * is kept, and never removes a batch whose last_offset >= max_deletable_offset (pass the
 * high watermark: Kafka deletes only segments wholly below it). log_start_offset moves to
 * the first remaining batch (or LEO if none remain); the epoch cache forgets what lies
 * before it. Returns the number of batches deleted. Thread: broker loop. */
size_t mk_log_apply_retention(struct mk_log *log, int64_t retention_bytes,
                              int64_t retention_ms, int64_t now_ms,
                              int64_t max_deletable_offset);

/* Kafka's FileRecords.TimestampAndOffset: what ListOffsets returns for a timestamp. */
struct mk_timestamp_and_offset {
  int64_t timestamp;     /* the found record's timestamp, or -1 */
  int64_t offset;        /* its offset, or -1 if no record is that recent */
  int32_t leader_epoch;  /* the epoch of the batch holding it, or -1 */
};

/* The earliest record whose timestamp >= `timestamp` (ListOffsets by timestamp; Kafka's
 * UnifiedLog.fetchOffsetByTimestamp for timestamps >= 0). Finds the first batch whose
 * max_timestamp >= timestamp, then reads its records for the exact one, as Kafka's
 * LogSegment.findOffsetByTimestamp does (records of a LogAppendTime batch all carry the
 * batch's max_timestamp). Records below log_start_offset are skipped. The special values
 * (-1 latest, -2 earliest, -3 max timestamp) are the caller's to handle.
 * Thread: broker loop. Borrows: nothing kept.
 * Returns: 0 (out->offset = -1 if no record qualifies), or a record reader error
 * (MK_ERR_CORRUPT_MESSAGE / MK_ERR_INVALID_RECORD / MK_ERR_MESSAGE_TOO_LARGE when a
 * batch decompresses beyond max_decompressed). */
int mk_log_offset_for_timestamp(const struct mk_log *log, int64_t timestamp,
                                size_t max_decompressed, struct mk_timestamp_and_offset *out,
                                struct mk_err *err);

#endif
