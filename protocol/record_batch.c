/*
 * Record batches: parse, validate, read and build them. See record_batch.h for the layout.
 *
 * Reading never copies (except to decompress): a struct mk_record_batch points
 * into the caller's buffer, and a record's key, value and headers point into
 * the batch. The checks are split the way Kafka splits them:
 *
 *   mk_record_batch_parse     framing only, so a consumer can step from batch
 *                             to batch (ByteBufferLogInputStream.nextBatch)
 *   mk_record_batch_validate  what a broker checks before appending: the CRC,
 *                             the counts, every record (DefaultRecordBatch
 *                             .ensureValid, LogValidator.validateBatch)
 *   mk_record_reader_next     one record (DefaultRecord.readFrom): each length
 *                             fits, and the fields add up to exactly the
 *                             record's own length varint
 *
 * The reader does not insist that offset deltas run 0, 1, 2...: after log
 * compaction a batch legitimately has gaps. Only validate, which sees batches
 * fresh from a producer, requires it.
 *
 * Building follows MemoryRecordsBuilder: records go into an uncompressed
 * buffer as they are appended; finish writes the 61-byte header, the records
 * (compressed as one unit if asked) and, last, the CRC over everything from
 * attributes on.
 */
#include "protocol/record_batch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/compression.h"
#include "protocol/crc32c.h"

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void store_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* ---- the batch header ------------------------------------------------------------------ */

int mk_record_batch_parse(const uint8_t *buf, size_t len, struct mk_record_batch *b,
                          struct mk_err *err) {
  memset(b, 0, sizeof *b);
  /* The same order as Kafka: length first (so a reader can skip a batch it cannot parse),
   * then magic, then whether the whole batch is here. */
  if (len < 12)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "record batch truncated: %zu bytes, need 12 for base_offset and "
                      "batch_length", len);
  int32_t batch_length = (int32_t)mk_load_u32(buf + MK_RECORD_BATCH_LENGTH_OFFSET);
  if (batch_length < MK_RECORD_BATCH_HEADER_SIZE - 12)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "batch_length %d is less than the %d header bytes that follow it",
                      batch_length, MK_RECORD_BATCH_HEADER_SIZE - 12);
  if (len < 17)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "record batch truncated: %zu bytes, need 17 to see its magic", len);
  if (buf[16] != MK_RECORD_BATCH_MAGIC)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "magic %d is not 2: only record batch v2 is supported", (int8_t)buf[16]);
  if ((size_t)batch_length > len - 12)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "record batch truncated: batch_length %d needs %zu bytes, %zu available",
                      batch_length, (size_t)batch_length + 12, len);

  struct mk_reader r;
  mk_reader_init(&r, buf, MK_RECORD_BATCH_HEADER_SIZE);
  b->base_offset = mk_read_i64(&r);
  b->batch_length = mk_read_i32(&r);
  b->partition_leader_epoch = mk_read_i32(&r);
  b->magic = mk_read_i8(&r);
  b->crc = mk_read_u32(&r);
  b->attributes = mk_read_i16(&r);
  b->last_offset_delta = mk_read_i32(&r);
  b->base_timestamp = mk_read_i64(&r);
  b->max_timestamp = mk_read_i64(&r);
  b->producer_id = mk_read_i64(&r);
  b->producer_epoch = mk_read_i16(&r);
  b->base_sequence = mk_read_i32(&r);
  b->records_count = mk_read_i32(&r);
  b->data = buf;
  b->size = 12 + (size_t)batch_length;
  return 0;
}

uint32_t mk_record_batch_compute_crc(const struct mk_record_batch *b) {
  return mk_crc32c(0, b->data + MK_RECORD_BATCH_ATTRIBUTES_OFFSET,
                   b->size - MK_RECORD_BATCH_ATTRIBUTES_OFFSET);
}

/* ---- reading records ------------------------------------------------------------------- */

int mk_record_reader_init(struct mk_record_reader *rr, const struct mk_record_batch *b,
                          size_t max_decompressed, struct mk_err *err) {
  memset(rr, 0, sizeof *rr);
  if (b->records_count < 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "records_count %d is negative",
                      b->records_count);
  const uint8_t *records = b->data + MK_RECORD_BATCH_HEADER_SIZE;
  size_t len = b->size - MK_RECORD_BATCH_HEADER_SIZE;
  int codec = mk_record_batch_compression(b);
  /* As in Kafka, an empty batch (left behind by compaction) is not decompressed at all. */
  if (codec != MK_COMPRESSION_NONE && b->records_count > 0) {
    struct mk_writer w;
    mk_writer_init(&w);
    int rc = mk_decompress(codec, records, len, max_decompressed, &w, err);
    if (rc) {
      mk_writer_free(&w);
      return rc;
    }
    rr->owned = mk_writer_take(&w, &len);
    records = rr->owned;
  }
  mk_reader_init(&rr->r, records, len);
  rr->remaining = b->records_count;
  return 0;
}

void mk_record_reader_free(struct mk_record_reader *rr) {
  free(rr->owned);
  rr->owned = NULL;
}

/* Mark the reader broken so later calls fail too (the sticky-error idea of mk_reader). */
static int poison(struct mk_reader *r, size_t pos, int code) {
  if (!r->err) {
    r->err = MK_READ_LENGTH;
    r->err_pos = pos;
  }
  return code;
}

/* The record parser works on raw pointers, not on a struct mk_reader: it runs for every
 * record a broker receives, and a position kept in a local variable stays in a register,
 * where one kept in a struct must be reloaded after every byte read (a uint8_t load may
 * alias anything). `where` is the record's byte offset, for error messages. */
struct cursor {
  const uint8_t *p, *end;
};

static inline int varint32(struct cursor *c, int32_t *out) {
  uint64_t z;
  if (mk_uvarint_decode(&c->p, c->end, 5, &z)) return -1;
  *out = (int32_t)mk_zigzag_decode(z);
  return 0;
}

/* Why read_varbytes failed; the message is written out of line, on the cold path, so the
 * hot path stays small enough to inline into the record loop. */
enum varbytes_error { VB_OK, VB_VARINT, VB_NEGATIVE, VB_LONG };

__attribute__((cold, noinline)) static int varbytes_error(enum varbytes_error why, int32_t n,
                                                         const char *what, size_t where,
                                                         struct mk_err *err) {
  if (why == VB_VARINT)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record at byte %zu: %s length runs past "
                      "the record's length or is not a valid varint", where, what);
  if (why == VB_NEGATIVE)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record at byte %zu: %s length %d is negative",
                      where, what, n);
  return mk_err_set(err, MK_ERR_INVALID_RECORD,
                    "record at byte %zu: %s of %d bytes runs past the record's length", where,
                    what, n);
}

/* A varint length (-1 = null when nullable) and that many bytes. Older Java readers took
 * any negative length as null; we accept only -1, the one value writers produce. */
static inline int read_varbytes(struct cursor *c, struct mk_bytes *out, bool nullable,
                                const char *what, size_t where, struct mk_err *err) {
  int32_t n = 0;
  enum varbytes_error why = VB_OK;
  if (varint32(c, &n))
    why = VB_VARINT;
  else if (n == -1 && nullable)
    *out = MK_BYTES_NULL;
  else if (n < 0)
    why = VB_NEGATIVE;
  else if ((size_t)n > (size_t)(c->end - c->p))
    why = VB_LONG;
  else {
    *out = (struct mk_bytes){c->p, n};
    c->p += n;
  }
  return why == VB_OK ? 0 : varbytes_error(why, n, what, where, err);
}

static int read_header(struct cursor *c, struct mk_record_header *h, size_t where,
                       struct mk_err *err) {
  int rc = read_varbytes(c, &h->key, false, "header key", where, err);
  return rc ? rc : read_varbytes(c, &h->value, true, "header value", where, err);
}

/* One record, DefaultRecord.readFrom: everything is read inside the record's own length,
 * and must use up exactly that length. c runs over the records section, which starts at
 * base (for the byte offsets in error messages); on success c->p is at the next record.
 * Always inlined: in mk_record_batch_validate's loop, which only needs offset_delta, the
 * compiler can then drop the stores to the rest of *rec, and that loop runs for every
 * record a broker receives. */
static inline __attribute__((always_inline)) int read_record(struct cursor *c,
                                                             const uint8_t *base,
                                                             struct mk_record *rec,
                                                             struct mk_err *err) {
  size_t start = (size_t)(c->p - base);
  if (c->p >= c->end)  /* (an empty section may have no buffer at all: both NULL) */
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record length at byte %zu: records section "
                      "ended (fewer records than records_count)", start);
  int32_t length;
  if (varint32(c, &length))
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record length at byte %zu: %s", start,
                      c->end - c->p < 5 ? "records section ended (fewer records than records_count)"
                                        : "varint is too long");
  if (length < 0 || (size_t)length > (size_t)(c->end - c->p))
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record at byte %zu has length %d but %zu bytes remain", start, length,
                      (size_t)(c->end - c->p));
  /* From here on, nothing may be read past the record: r has the record's own end. */
  struct cursor r = {c->p, c->p + length};
  c->p = r.end;

  const uint8_t *body = r.p;
  uint64_t ts;
  if (r.p == r.end)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record at byte %zu is empty", start);
  rec->attributes = (int8_t)*r.p++;
  if (mk_uvarint_decode(&r.p, r.end, 10, &ts) || varint32(&r, &rec->offset_delta))
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record at byte %zu: timestamp_delta or offset_delta runs past the "
                      "record's length", start);
  rec->timestamp_delta = mk_zigzag_decode(ts);
  int rc = read_varbytes(&r, &rec->key, true, "key", start, err);
  if (!rc) rc = read_varbytes(&r, &rec->value, true, "value", start, err);
  if (rc) return rc;
  if (varint32(&r, &rec->headers_count))
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record at byte %zu: headers_count runs past the record's length", start);
  /* Each header takes at least 2 bytes, so a count beyond the bytes left is a lie (and
   * Java checks it before allocating an array that size). */
  if (rec->headers_count < 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "record at byte %zu: headers_count %d",
                      start, rec->headers_count);
  if ((size_t)rec->headers_count > (size_t)(r.end - r.p))
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record at byte %zu: headers_count %d but only %zu bytes left", start,
                      rec->headers_count, (size_t)(r.end - r.p));
  mk_reader_init(&rec->headers, r.p, (size_t)(r.end - r.p));
  struct mk_record_header h;
  for (int32_t i = 0; i < rec->headers_count; i++)
    if ((rc = read_header(&r, &h, start, err))) return rc;
  if (r.p != r.end)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record at byte %zu: its length says %d bytes but its fields take %zu",
                      start, length, (size_t)(r.p - body));
  return 0;
}

/* Java checks this on reading the last record: records_count must account for every byte
 * of the records section. */
__attribute__((cold, noinline)) static int bytes_after_last_record(size_t n, struct mk_err *err) {
  return mk_err_set(err, MK_ERR_INVALID_RECORD,
                    "%zu bytes remain after the last record that records_count announced", n);
}

int mk_record_reader_next(struct mk_record_reader *rr, struct mk_record *rec, struct mk_err *err) {
  struct mk_reader *r = &rr->r;
  if (r->err)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "records are malformed at byte %zu",
                      r->err_pos);
  if (rr->remaining <= 0) return mk_err_set(err, MK_ERR__STATE, "all records have been read");
  size_t start = r->pos;
  struct cursor c = {r->buf ? r->buf + r->pos : NULL, r->buf ? r->buf + r->len : NULL};
  int rc = read_record(&c, r->buf, rec, err);
  if (rc) return poison(r, start, rc);
  r->pos = (size_t)(c.p - r->buf);
  if (--rr->remaining == 0 && mk_reader_remaining(r) > 0)
    return poison(r, r->pos, bytes_after_last_record(mk_reader_remaining(r), err));
  return 0;
}

/* ---- validating a batch --------------------------------------------------------------- */

int mk_record_batch_validate(const struct mk_record_batch *b, size_t max_decompressed,
                             struct mk_err *err) {
  uint32_t crc = mk_record_batch_compute_crc(b);
  if (crc != b->crc)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE, "CRC mismatch: stored 0x%08x, computed 0x%08x",
                      b->crc, crc);
  int32_t n = b->records_count;
  if (n <= 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "records_count %d: a batch must hold at least one record", n);
  if ((int64_t)b->last_offset_delta + 1 != n)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "last_offset_delta %d does not match records_count %d (should be %d)",
                      b->last_offset_delta, n, n - 1);
  /* Markers are written with producer ids but no sequence; any other batch from an
   * idempotent producer must say where its sequence numbers start. */
  if (!(b->attributes & MK_ATTR_CONTROL) && b->producer_id >= 0 && b->base_sequence < 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "producer_id %lld but base_sequence %d: an idempotent batch needs one",
                      (long long)b->producer_id, b->base_sequence);

  /* Not checked here: Kafka refuses control batches from clients, since only brokers write
   * markers. That depends on who sent the batch, so the Produce handler checks it. */

  /* The records, with read_record itself rather than through mk_record_reader_next: the
   * same checks, but the position stays in a register for the whole loop. */
  struct mk_record_reader rr;
  int rc = mk_record_reader_init(&rr, b, max_decompressed, err);
  if (rc) return rc;
  const uint8_t *base = rr.r.buf;
  struct cursor c = {base, base ? base + rr.r.len : NULL};
  struct mk_record rec = {0};
  for (int32_t i = 0; i < n && !rc; i++) {
    rc = read_record(&c, base, &rec, err);
    if (!rc && rec.offset_delta != i)
      rc = mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "record %d has offset_delta %d: a new batch's deltas must run 0..%d",
                      i, rec.offset_delta, n - 1);
  }
  if (!rc && c.p != c.end) rc = bytes_after_last_record((size_t)(c.end - c.p), err);
  mk_record_reader_free(&rr);
  return rc;
}

int mk_record_next_header(struct mk_record *rec, struct mk_record_header *h, struct mk_err *err) {
  struct mk_reader *r = &rec->headers;
  if (!r->buf) return mk_err_set(err, MK_ERR_INVALID_RECORD, "the record has no headers to read");
  struct cursor c = {r->buf + r->pos, r->buf + r->len};
  int rc = read_header(&c, h, r->pos, err);
  if (!rc) r->pos = (size_t)(c.p - r->buf);
  return rc;
}

/* ---- building batches ------------------------------------------------------------------ */

void mk_record_batch_builder_init(struct mk_record_batch_builder *bb) {
  memset(bb, 0, sizeof *bb);
  bb->compression = MK_COMPRESSION_NONE;
  bb->compression_level = MK_COMPRESSION_LEVEL_DEFAULT;
  bb->partition_leader_epoch = -1;
  bb->producer_id = MK_NO_PRODUCER_ID;
  bb->producer_epoch = MK_NO_PRODUCER_EPOCH;
  bb->base_sequence = MK_NO_SEQUENCE;
  bb->base_timestamp = -1;
  bb->max_timestamp = -1;
  mk_writer_init(&bb->buf);
}

void mk_record_batch_builder_free(struct mk_record_batch_builder *bb) {
  mk_writer_free(&bb->buf);
}

/* The buffer starts with room for the header, written by finish (or take, in place). */
static int start_buffer(struct mk_record_batch_builder *bb) {
  if (bb->buf.len > 0) return 0;
  return mk_writer_extend(&bb->buf, MK_RECORD_BATCH_HEADER_SIZE) ? 0 : MK_ERR__NO_MEMORY;
}

int mk_record_batch_builder_reserve(struct mk_record_batch_builder *bb, size_t size) {
  struct mk_writer *w = &bb->buf;
  if (size > w->cap) {
    size_t more = size - w->len;
    if (!mk_writer_extend(w, more)) return MK_ERR__NO_MEMORY;
    w->len -= more;  /* the room stays; nothing was written */
  }
  return start_buffer(bb);
}

/* Every record a producer sends passes through the functions below, so they write varints
 * straight into memory: the record's size is known before it is written, the buffer is
 * extended once for all of it, and each field is stored in place. (mk_write_varint and
 * friends extend the writer, and copy through a scratch buffer, once per field.) */

/* A signed value zigzag-encoded (-1 -> 1, 1 -> 2), as varints and varlongs are. For an
 * int32 the result is the same as the 32-bit zigzag. */
static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

/* Bytes of z as an unsigned varint (7 bits each). */
static inline size_t uvarint_size(uint64_t z) {
  size_t n = 1;
  while (z >= 0x80) {
    z >>= 7;
    n++;
  }
  return n;
}

/* Store z as an unsigned varint at p; returns the byte after it. */
static inline uint8_t *put_uvarint(uint8_t *p, uint64_t z) {
  while (z >= 0x80) {
    *p++ = (uint8_t)(z | 0x80);
    z >>= 7;
  }
  *p++ = (uint8_t)z;
  return p;
}

/* A key, value or header: varint length (-1 = null), then the bytes. */
static inline size_t varbytes_size(struct mk_bytes b) {
  return b.len < 0 ? 1 : uvarint_size(zigzag(b.len)) + (size_t)b.len;
}

static inline uint8_t *put_varbytes(uint8_t *p, struct mk_bytes b) {
  p = put_uvarint(p, zigzag(b.len < 0 ? -1 : b.len));
  if (b.len > 0) {
    memcpy(p, b.ptr, (size_t)b.len);
    p += b.len;
  }
  return p;
}

/* Bytes after the record's length varint (DefaultRecord.sizeOfBodyInBytes). */
static inline size_t body_size(int64_t timestamp_delta, int32_t offset_delta,
                               struct mk_bytes key, struct mk_bytes value,
                               const struct mk_record_header *headers, int headers_count) {
  size_t n = 1 + uvarint_size(zigzag(timestamp_delta)) + uvarint_size(zigzag(offset_delta));
  n += varbytes_size(key) + varbytes_size(value) + uvarint_size(zigzag(headers_count));
  for (int i = 0; i < headers_count; i++)
    n += varbytes_size(headers[i].key) + varbytes_size(headers[i].value);
  return n;
}

size_t mk_record_batch_record_size(int64_t timestamp_delta, int32_t offset_delta,
                                   struct mk_bytes key, struct mk_bytes value,
                                   const struct mk_record_header *headers, int headers_count) {
  size_t body = body_size(timestamp_delta, offset_delta, key, value, headers, headers_count);
  return uvarint_size(zigzag((int32_t)body)) + body;
}

size_t mk_record_batch_builder_size(const struct mk_record_batch_builder *bb) {
  return bb->buf.len > 0 ? bb->buf.len : MK_RECORD_BATCH_HEADER_SIZE;
}

int mk_record_batch_builder_append(struct mk_record_batch_builder *bb, int64_t timestamp,
                                   struct mk_bytes key, struct mk_bytes value,
                                   const struct mk_record_header *headers, int headers_count) {
  if (headers_count < 0 || (headers_count > 0 && !headers)) return MK_ERR__INVALID_ARG;
  for (int i = 0; i < headers_count; i++)
    if (headers[i].key.len < 0) return MK_ERR__INVALID_ARG;  /* header keys are never null */
  if (bb->count == 0) bb->base_timestamp = bb->max_timestamp = timestamp;
  /* Unsigned subtraction: two extreme timestamps must not be undefined behaviour. */
  int64_t delta = (int64_t)((uint64_t)timestamp - (uint64_t)bb->base_timestamp);
  size_t body = body_size(delta, bb->count, key, value, headers, headers_count);
  if (body > INT32_MAX) return MK_ERR__INVALID_ARG;

  size_t size = uvarint_size(zigzag((int64_t)body)) + body;
  uint8_t *start = start_buffer(bb) ? NULL : mk_writer_extend(&bb->buf, size);
  if (!start) return MK_ERR__NO_MEMORY;
  uint8_t *p = put_uvarint(start, zigzag((int64_t)body));
  *p++ = 0;  /* record attributes: unused */
  p = put_uvarint(p, zigzag(delta));
  p = put_uvarint(p, zigzag(bb->count));  /* offset delta */
  p = put_varbytes(p, key);
  p = put_varbytes(p, value);
  p = put_uvarint(p, zigzag(headers_count));
  for (int i = 0; i < headers_count; i++) {
    p = put_varbytes(p, headers[i].key);
    p = put_varbytes(p, headers[i].value);
  }
  assert(p == start + size);  /* body_size and the writes above agree */
  bb->count++;
  if (timestamp > bb->max_timestamp) bb->max_timestamp = timestamp;
  return 0;
}

/* Write the header of a batch of size bytes (header included) at h, CRC last. */
static int write_header(const struct mk_record_batch_builder *bb, uint8_t *h, size_t size,
                        struct mk_err *err) {
  if (size - 12 > INT32_MAX)
    return mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "record batch of %zu bytes is too large",
                      size);
  int16_t attributes = (int16_t)((bb->attributes & ~MK_ATTR_COMPRESSION_MASK) |
                                 (bb->compression & MK_ATTR_COMPRESSION_MASK));
  /* At the offsets listed in record_batch.h. */
  mk_store_u64(h + 0, (uint64_t)bb->base_offset);
  mk_store_u32(h + 8, (uint32_t)(size - 12));
  mk_store_u32(h + 12, (uint32_t)bb->partition_leader_epoch);
  h[16] = MK_RECORD_BATCH_MAGIC;
  store_u16(h + 21, (uint16_t)attributes);
  mk_store_u32(h + 23, (uint32_t)(bb->count - 1));  /* last_offset_delta */
  mk_store_u64(h + 27, (uint64_t)bb->base_timestamp);
  mk_store_u64(h + 35, (uint64_t)bb->max_timestamp);
  mk_store_u32(h + 57, (uint32_t)bb->count);
  /* Last, since the CRC covers all of the above from attributes on. */
  mk_record_batch_set_producer(h, size, bb->producer_id, bb->producer_epoch, bb->base_sequence);
  return 0;
}

int mk_record_batch_builder_finish(struct mk_record_batch_builder *bb, struct mk_writer *out,
                                   struct mk_err *err) {
  if (bb->count == 0)
    return mk_err_set(err, MK_ERR__STATE, "a record batch needs at least one record");
  size_t start = out->len;
  if (!mk_writer_extend(out, MK_RECORD_BATCH_HEADER_SIZE))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory writing a record batch");
  const uint8_t *records = bb->buf.buf + MK_RECORD_BATCH_HEADER_SIZE;
  int rc = mk_compress(bb->compression, bb->compression_level, records,
                       bb->buf.len - MK_RECORD_BATCH_HEADER_SIZE, out, err);
  /* The header is written after the records: out->buf may have moved while they went in. */
  if (!rc) rc = write_header(bb, out->buf + start, out->len - start, err);
  if (rc) out->len = start;
  return rc;
}

int mk_record_batch_builder_take(struct mk_record_batch_builder *bb, uint8_t **bytes,
                                 size_t *len, struct mk_err *err) {
  if (bb->compression != MK_COMPRESSION_NONE) {
    struct mk_writer out;
    mk_writer_init(&out);
    int rc = mk_record_batch_builder_finish(bb, &out, err);
    if (rc) {
      mk_writer_free(&out);
      return rc;
    }
    *bytes = mk_writer_take(&out, len);
    mk_writer_free(&bb->buf);
    return 0;
  }
  /* Uncompressed, the batch is the buffer itself, its header written into the room kept
   * for it: no copy of the records. */
  if (bb->count == 0)
    return mk_err_set(err, MK_ERR__STATE, "a record batch needs at least one record");
  int rc = write_header(bb, bb->buf.buf, bb->buf.len, err);
  if (rc) return rc;
  *bytes = mk_writer_take(&bb->buf, len);
  return 0;
}

void mk_record_batch_set_producer(uint8_t *buf, size_t len, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence) {
  mk_store_u64(buf + 43, (uint64_t)producer_id);
  store_u16(buf + 51, (uint16_t)producer_epoch);
  mk_store_u32(buf + 53, (uint32_t)base_sequence);
  mk_store_u32(buf + MK_RECORD_BATCH_CRC_OFFSET,
               mk_crc32c(0, buf + MK_RECORD_BATCH_ATTRIBUTES_OFFSET,
                         len - MK_RECORD_BATCH_ATTRIBUTES_OFFSET));
}

void mk_record_batch_set_max_timestamp(uint8_t *buf, size_t len, bool log_append_time,
                                       int64_t max_timestamp) {
  uint16_t attributes = (uint16_t)((buf[MK_RECORD_BATCH_ATTRIBUTES_OFFSET] << 8) |
                                   buf[MK_RECORD_BATCH_ATTRIBUTES_OFFSET + 1]);
  if (log_append_time)
    attributes |= MK_ATTR_LOG_APPEND_TIME;
  else
    attributes &= (uint16_t)~MK_ATTR_LOG_APPEND_TIME;
  store_u16(buf + MK_RECORD_BATCH_ATTRIBUTES_OFFSET, attributes);
  mk_store_u64(buf + 35, (uint64_t)max_timestamp);  /* maxTimestamp: after firstTimestamp */
  mk_store_u32(buf + MK_RECORD_BATCH_CRC_OFFSET,
               mk_crc32c(0, buf + MK_RECORD_BATCH_ATTRIBUTES_OFFSET,
                         len - MK_RECORD_BATCH_ATTRIBUTES_OFFSET));
}

/* ---- control records ------------------------------------------------------------------- */

int mk_record_batch_write_control(struct mk_writer *out, int64_t producer_id,
                                  int16_t producer_epoch, enum mk_control_type type,
                                  int32_t coordinator_epoch, int64_t timestamp,
                                  struct mk_err *err) {
  /* MemoryRecords.writeEndTransactionalMarker: a transactional control batch, no sequence,
   * one record: key {version 0, type}, value {version 0, coordinator_epoch}. */
  uint8_t key[4], value[6];
  store_u16(key, 0);
  store_u16(key + 2, (uint16_t)type);
  store_u16(value, 0);
  mk_store_u32(value + 2, (uint32_t)coordinator_epoch);

  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.attributes = MK_ATTR_TRANSACTIONAL | MK_ATTR_CONTROL;
  bb.producer_id = producer_id;
  bb.producer_epoch = producer_epoch;
  int rc = mk_record_batch_builder_append(&bb, timestamp, (struct mk_bytes){key, 4},
                                          (struct mk_bytes){value, 6}, NULL, 0);
  if (rc)
    mk_err_set(err, rc, "out of memory writing a control batch");
  else
    rc = mk_record_batch_builder_finish(&bb, out, err);
  mk_record_batch_builder_free(&bb);
  return rc;
}

int mk_control_record_parse(const struct mk_record *rec, enum mk_control_type *type,
                            int32_t *coordinator_epoch, struct mk_err *err) {
  /* ControlRecordType.parse and EndTransactionMarker.deserializeValue: the sizes are
   * minimums, and a newer version with extra fields is still read. */
  if (rec->key.len < 4)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "control record key has %d bytes, needs 4",
                      rec->key.len);
  int16_t key_version = (int16_t)load_u16(rec->key.ptr);
  int16_t t = (int16_t)load_u16(rec->key.ptr + 2);
  if (key_version < 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "control record key version %d is negative",
                      key_version);
  if (t != MK_CONTROL_ABORT && t != MK_CONTROL_COMMIT)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "control record type %d is not a transaction marker (0 ABORT, 1 COMMIT)",
                      t);
  if (rec->value.len < 6)
    return mk_err_set(err, MK_ERR_INVALID_RECORD,
                      "transaction marker value has %d bytes, needs 6", rec->value.len);
  int16_t value_version = (int16_t)load_u16(rec->value.ptr);
  if (value_version < 0)
    return mk_err_set(err, MK_ERR_INVALID_RECORD, "transaction marker version %d is negative",
                      value_version);
  *type = (enum mk_control_type)t;
  *coordinator_epoch = (int32_t)mk_load_u32(rec->value.ptr + 2);
  return 0;
}
