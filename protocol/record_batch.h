/*
 * Record batches (message format v2, "magic 2"): the bytes that carry records.
 * Kafka: clients/.../common/record/DefaultRecordBatch.java, DefaultRecord.java,
 * MemoryRecordsBuilder.java, ControlRecordType.java; RECORD-BATCH.md.
 *
 *   offset  field                  type
 *        0  base_offset            int64   rewritten by the broker on append
 *        8  batch_length           int32   bytes after this field
 *       12  partition_leader_epoch int32   rewritten by the broker on append
 *       16  magic                  int8    2
 *       17  crc                    uint32  CRC-32C of bytes 21..end
 *       21  attributes             int16   compression (bits 0-2), timestamp type (3),
 *                                          transactional (4), control (5), delete horizon (6)
 *       23  last_offset_delta      int32
 *       27  base_timestamp         int64
 *       35  max_timestamp          int64
 *       43  producer_id            int64   -1 unless idempotent/transactional
 *       51  producer_epoch         int16
 *       53  base_sequence          int32   first record's sequence number, or -1
 *       57  records_count          int32
 *       61  records...             (compressed as one unit if attributes say so)
 *
 * Each record is varint-framed:
 *   length varint, attributes int8, timestamp_delta varlong, offset_delta varint,
 *   key_length varint (-1 = null), key, value_length varint (-1 = null), value,
 *   headers_count varint, then per header: key_length varint, key (a string),
 *   value_length varint (-1 = null), value.
 *
 * A control batch (attribute bit 5) holds one record whose key is
 * {version int16 = 0, type int16: 0 = ABORT, 1 = COMMIT} and whose value is
 * {version int16 = 0, coordinator_epoch int32}: the transaction markers.
 *
 * Parsing borrows the caller's bytes; nothing is copied unless the records are
 * compressed, in which case the record reader owns a decompressed copy.
 * Thread: any.
 */
#ifndef MK_PROTOCOL_RECORD_BATCH_H
#define MK_PROTOCOL_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/primitives.h"

#define MK_RECORD_BATCH_MAGIC 2
#define MK_RECORD_BATCH_HEADER_SIZE 61   /* bytes before the first record */
#define MK_RECORD_BATCH_LENGTH_OFFSET 8
#define MK_RECORD_BATCH_LEADER_EPOCH_OFFSET 12
#define MK_RECORD_BATCH_CRC_OFFSET 17
#define MK_RECORD_BATCH_ATTRIBUTES_OFFSET 21

#define MK_ATTR_COMPRESSION_MASK 0x07
#define MK_ATTR_LOG_APPEND_TIME 0x08
#define MK_ATTR_TRANSACTIONAL 0x10
#define MK_ATTR_CONTROL 0x20
#define MK_ATTR_DELETE_HORIZON 0x40

#define MK_NO_PRODUCER_ID (-1)
#define MK_NO_PRODUCER_EPOCH (-1)
#define MK_NO_SEQUENCE (-1)

/* ---- sequence numbers -------------------------------------------------------------------- */

/* Kafka's DefaultRecordBatch.incrementSequence / decrementSequence: sequence numbers are
 * non-negative int32s that wrap from INT32_MAX to 0, so a batch starting at INT32_MAX - 1
 * with three records has last sequence 0. Used by the broker's checks and the producer's
 * numbering alike. */
static inline int32_t mk_sequence_increment(int32_t sequence, int32_t increment) {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

/* A batch's last sequence (Kafka's DefaultRecordBatch.lastSequence): no sequence stays no
 * sequence. */
static inline int32_t mk_last_sequence(int32_t base_sequence, int32_t last_offset_delta) {
  return base_sequence == MK_NO_SEQUENCE ? MK_NO_SEQUENCE
                                         : mk_sequence_increment(base_sequence, last_offset_delta);
}
static inline int32_t mk_sequence_decrement(int32_t sequence, int32_t decrement) {
  if (sequence < decrement) return INT32_MAX - (decrement - sequence) + 1;
  return sequence - decrement;
}

/* The fixed header of one batch, plus where its bytes are. */
struct mk_record_batch {
  int64_t base_offset;
  int32_t batch_length;
  int32_t partition_leader_epoch;
  int8_t magic;
  uint32_t crc;
  int16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t records_count;
  const uint8_t *data;      /* the whole batch, from base_offset on (borrowed) */
  size_t size;              /* 12 + batch_length */
};

static inline int mk_record_batch_compression(const struct mk_record_batch *b) {
  return b->attributes & MK_ATTR_COMPRESSION_MASK;
}

/* Parse the header of the batch that starts at buf (len bytes available). Checks only the
 * framing: enough bytes for the header, a batch_length that covers the header and fits in
 * len, magic 2. Returns 0, or MK_ERR_CORRUPT_MESSAGE naming the field and its value.
 * b->size tells where the next batch starts. Borrows buf. */
int mk_record_batch_parse(const uint8_t *buf, size_t len, struct mk_record_batch *b,
                          struct mk_err *err);

/* Everything a broker checks before appending (Kafka's LogValidator): the CRC, a records
 * section that decompresses within max_decompressed bytes and holds exactly records_count
 * well-formed records, offset deltas 0..n-1 ending at last_offset_delta. Returns 0, or
 * MK_ERR_CORRUPT_MESSAGE (CRC, framing, decompression) / MK_ERR_INVALID_RECORD (record
 * contents) / MK_ERR_MESSAGE_TOO_LARGE (decompression limit), with err saying which. */
int mk_record_batch_validate(const struct mk_record_batch *b, size_t max_decompressed,
                             struct mk_err *err);

/* The CRC the batch should carry (computed over bytes 21..end). */
uint32_t mk_record_batch_compute_crc(const struct mk_record_batch *b);

/* Rewrite the producer id, epoch and base sequence of the encoded batch at buf (len bytes,
 * at least MK_RECORD_BATCH_HEADER_SIZE) and recompute its CRC. An idempotent producer does
 * this to a batch awaiting retry after it got a new producer id. */
void mk_record_batch_set_producer(uint8_t *buf, size_t len, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence);

/* Set the timestamp type (log_append_time: the LogAppendTime attribute bit) and the max
 * timestamp of the encoded batch at buf (len bytes, at least MK_RECORD_BATCH_HEADER_SIZE)
 * and recompute its CRC, which covers both. A broker does this for a topic whose
 * message.timestamp.type is LogAppendTime (Kafka: DefaultRecordBatch.setMaxTimestamp). */
void mk_record_batch_set_max_timestamp(uint8_t *buf, size_t len, bool log_append_time,
                                       int64_t max_timestamp);

/* ---- reading records ------------------------------------------------------------------- */

struct mk_record_header {
  struct mk_bytes key;    /* a UTF-8 string on the wire; never null */
  struct mk_bytes value;  /* len -1 = null */
};

struct mk_record {
  int8_t attributes;
  int64_t timestamp_delta;
  int32_t offset_delta;
  struct mk_bytes key;    /* len -1 = null */
  struct mk_bytes value;  /* len -1 = null */
  int32_t headers_count;
  struct mk_reader headers;  /* positioned at the first header; read with mk_record_next_header */
};

struct mk_record_reader {
  struct mk_reader r;       /* over the (decompressed) records section */
  int32_t remaining;        /* records not yet read */
  uint8_t *owned;           /* decompressed copy, if the batch was compressed */
};

/* Prepare to read b's records, decompressing (at most max_decompressed bytes) if needed.
 * Returns 0 or an error as for mk_record_batch_validate. On success the reader must be
 * released with mk_record_reader_free(). Borrows b's bytes. */
int mk_record_reader_init(struct mk_record_reader *rr, const struct mk_record_batch *b,
                          size_t max_decompressed, struct mk_err *err);
/* Read the next record into rec (whose bytes stay valid until mk_record_reader_free).
 * Returns 0, MK_ERR__STATE when all records_count records were read, or MK_ERR_INVALID_RECORD
 * / MK_ERR_CORRUPT_MESSAGE when the bytes are malformed (err says where). */
int mk_record_reader_next(struct mk_record_reader *rr, struct mk_record *rec, struct mk_err *err);
/* Read rec's next header (call rec->headers_count times). Returns 0 or MK_ERR_INVALID_RECORD. */
int mk_record_next_header(struct mk_record *rec, struct mk_record_header *h, struct mk_err *err);
void mk_record_reader_free(struct mk_record_reader *rr);

/* ---- writing batches (Kafka's MemoryRecordsBuilder) ------------------------------------ */

struct mk_record_batch_builder {
  /* Set by init; may be changed before finish. */
  int compression;              /* enum mk_compression */
  int compression_level;        /* or MK_COMPRESSION_LEVEL_DEFAULT */
  int16_t attributes;           /* extra bits (transactional, control); compression is added */
  int64_t base_offset;          /* 0 from a producer; the broker assigns the real one */
  int32_t partition_leader_epoch;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  /* Maintained by append. */
  int64_t base_timestamp;
  int64_t max_timestamp;
  int32_t count;
  struct mk_writer buf;         /* room for the header, then the records, uncompressed */
};

/* A builder with no records: producer id/epoch/sequence unset (-1), no compression.
 * Free with mk_record_batch_builder_free(). */
void mk_record_batch_builder_init(struct mk_record_batch_builder *bb);
void mk_record_batch_builder_free(struct mk_record_batch_builder *bb);

/* Make room for a batch of `size` bytes (header included) at once, so that appends up to
 * that size never move the records as the batch grows (a producer knows its batch.size).
 * Returns 0 or MK_ERR__NO_MEMORY. */
int mk_record_batch_builder_reserve(struct mk_record_batch_builder *bb, size_t size);

/* Append a record with this timestamp (ms). The first record fixes base_timestamp.
 * key/value with len -1 are null. Borrows key, value and headers (copied). Returns 0 or
 * MK_ERR__NO_MEMORY. */
int mk_record_batch_builder_append(struct mk_record_batch_builder *bb, int64_t timestamp,
                                   struct mk_bytes key, struct mk_bytes value,
                                   const struct mk_record_header *headers, int headers_count);

/* Bytes the batch would take if finished now without compression (header + records): what
 * batch.size is compared with. */
size_t mk_record_batch_builder_size(const struct mk_record_batch_builder *bb);

/* Bytes one record would add to the batch (its varint frame included), for deciding whether
 * it fits before appending. */
size_t mk_record_batch_record_size(int64_t timestamp_delta, int32_t offset_delta,
                                   struct mk_bytes key, struct mk_bytes value,
                                   const struct mk_record_header *headers, int headers_count);

/* Append the finished batch (compressed if asked, CRC set) to out. The builder keeps its
 * records and may be finished again. Returns 0, MK_ERR__STATE for a builder with no
 * records, or a compression error. */
int mk_record_batch_builder_finish(struct mk_record_batch_builder *bb, struct mk_writer *out,
                                   struct mk_err *err);

/* Finish the batch into a buffer of its own, *bytes (*len bytes; the caller frees it with
 * free()), as a producer sends it: uncompressed, that is the builder's own buffer with the
 * header written in front of the records, so nothing is copied. The builder is spent: only
 * mk_record_batch_builder_free may follow. Returns 0 or as finish. */
int mk_record_batch_builder_take(struct mk_record_batch_builder *bb, uint8_t **bytes,
                                 size_t *len, struct mk_err *err);

/* Control records (transaction markers). */
enum mk_control_type { MK_CONTROL_ABORT = 0, MK_CONTROL_COMMIT = 1 };

/* Append one control batch holding one marker. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_record_batch_write_control(struct mk_writer *out, int64_t producer_id,
                                  int16_t producer_epoch, enum mk_control_type type,
                                  int32_t coordinator_epoch, int64_t timestamp,
                                  struct mk_err *err);
/* Read a control record's key and value. Returns 0 or MK_ERR_INVALID_RECORD. */
int mk_control_record_parse(const struct mk_record *rec, enum mk_control_type *type,
                            int32_t *coordinator_epoch, struct mk_err *err);

#endif
