/*
 * Fuzz target: record batches and compression (protocol/record_batch.c, compression.c).
 * Run it as described in tests/fuzz/README.md.
 *
 * The input is a records section as it arrives in a Produce request or sits in a log:
 * zero or more record batches back to back. Each batch mk_record_batch_parse() finds is
 * validated as it is, then copied to a buffer of its own with its CRC recomputed (random
 * mutations break the CRC, and validation would never get past it), and the copy goes
 * through:
 *
 *   1. mk_record_batch_validate() with a 1 MiB decompression limit (the broker's check);
 *   2. mk_record_reader_*() over every record and every header, whatever validation said:
 *      the reader must refuse bad bytes by itself, not rely on validate having run first;
 *      every key, value and header byte it hands out is read, so ASan sees any pointer
 *      that strays outside the input or the decompressed copy; control records also go
 *      through mk_control_record_parse();
 *   3. if the batch validated, a round trip through the producer's builder: the records
 *      read back are appended to a fresh mk_record_batch_builder (same producer fields, no
 *      compression), and the finished batch must parse, validate and read back as the
 *      same records (timestamps, keys, values, headers). Each record's share of the batch
 *      must also match mk_record_batch_record_size(), which the producer uses to decide
 *      whether a record still fits.
 *
 * Then the whole input goes to mk_decompress() once per codec (and one unknown codec),
 * with a 1 MiB limit and with a 256-byte one: a decompressor that writes past its limit,
 * trusts a length in the stream or leaves half an output behind on failure shows up here
 * before it shows up inside a batch.
 *
 * A broken property prints what differed and aborts; libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/compression.h"
#include "protocol/record_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Make UBSan findings fatal so libFuzzer stops and saves the input. */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

enum { LIMIT = 1 << 20 };  /* max_decompressed / max_out for every call: 1 MiB */

/* Read every byte of b, so ASan checks the whole range the reader claims is valid. */
static volatile uint8_t sink;
static void touch(struct mk_bytes b) {
  uint8_t x = 0;
  for (int32_t i = 0; i < b.len; i++) x ^= b.ptr[i];
  sink ^= x;
}

static void die(const char *what, int batch, int record) {
  fprintf(stderr, "fuzz_record_batch: batch %d record %d: %s\n", batch, record, what);
  abort();
}

/* ---- what the reader returned, kept for the round trip ------------------------------- */

struct seen_record {
  int64_t timestamp;               /* base_timestamp + timestamp_delta */
  struct mk_bytes key, value;      /* point into the input or the reader's copy */
  struct mk_record_header *headers;
  int headers_count;
};

struct seen_batch {
  struct seen_record *records;
  int count;
  bool complete;                   /* every record and header read without an error */
};

static void seen_free(struct seen_batch *s) {
  for (int i = 0; i < s->count; i++) free(s->records[i].headers);
  free(s->records);
  memset(s, 0, sizeof *s);
}

static bool bytes_eq(struct mk_bytes a, struct mk_bytes b) {
  if (a.len < 0 || b.len < 0) return a.len < 0 && b.len < 0;
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/* Make room for element n of an array that grows one element at a time: double the
 * allocation whenever n reaches a power of two (0, 1, 2, 4, ...). Counts from the wire
 * are never used to size an allocation up front. */
static void *grow(void *array, int n, size_t elem_size) {
  if (n & (n - 1)) return array;  /* not a power of two: there is room */
  void *more = realloc(array, (n ? 2 * (size_t)n : 1) * elem_size);
  if (!more) abort();
  return more;
}

/* Read all of b's records (and their headers) through rr, which is already initialized.
 * Records are kept in *seen when it is not NULL. */
static void read_records(struct mk_record_reader *rr, const struct mk_record_batch *b,
                         struct seen_batch *seen, int batch_no) {
  struct mk_err err = {0};
  struct mk_record rec;
  int n = 0;
  int rc;
  while ((rc = mk_record_reader_next(rr, &rec, &err)) == 0) {
    touch(rec.key);
    touch(rec.value);
    struct mk_record_header *headers = NULL;
    int headers_read = 0;
    bool headers_ok = true;
    for (int32_t i = 0; i < rec.headers_count; i++) {
      struct mk_record_header h;
      if (mk_record_next_header(&rec, &h, &err) != 0) {
        headers_ok = false;
        break;
      }
      touch(h.key);
      touch(h.value);
      if (h.key.len < 0) die("header key is null", batch_no, n);
      if (seen) {
        headers = grow(headers, headers_read, sizeof *headers);
        headers[headers_read] = h;
      }
      headers_read++;
    }
    if (b->attributes & MK_ATTR_CONTROL) {
      enum mk_control_type type;
      int32_t coordinator_epoch;
      (void)mk_control_record_parse(&rec, &type, &coordinator_epoch, &err);
    }
    if (seen) {
      seen->records = grow(seen->records, seen->count, sizeof *seen->records);
      seen->records[seen->count++] = (struct seen_record){
          .timestamp = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)rec.timestamp_delta),
          .key = rec.key, .value = rec.value, .headers = headers,
          .headers_count = headers_read};
      if (!headers_ok) seen->complete = false;
    } else {
      free(headers);
    }
    n++;
    if (n > b->records_count && b->records_count >= 0)
      die("reader returned more records than records_count", batch_no, n);
  }
  if (rc != MK_ERR__STATE && seen) seen->complete = false;
  /* The reader's error is sticky: asking again must fail again, not resume mid-record. */
  if (rc != 0 && mk_record_reader_next(rr, &rec, &err) == 0)
    die("reader returned a record after it had failed or finished", batch_no, n);
}

/* ---- the builder round trip ---------------------------------------------------------- */

static void round_trip(const struct mk_record_batch *b, const struct seen_batch *s, int batch_no) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = MK_COMPRESSION_NONE;
  bb.attributes = (int16_t)(b->attributes & (MK_ATTR_TRANSACTIONAL | MK_ATTR_CONTROL));
  bb.base_offset = b->base_offset;
  bb.partition_leader_epoch = b->partition_leader_epoch;
  bb.producer_id = b->producer_id;
  bb.producer_epoch = b->producer_epoch;
  bb.base_sequence = b->base_sequence;

  for (int i = 0; i < s->count; i++) {
    const struct seen_record *r = &s->records[i];
    size_t before = mk_record_batch_builder_size(&bb);
    /* The builder keeps deltas from the first record's timestamp, wrapping like Java's
     * long arithmetic; any int64 timestamp must survive that. */
    int64_t base = i == 0 ? r->timestamp : bb.base_timestamp;
    int64_t delta = (int64_t)((uint64_t)r->timestamp - (uint64_t)base);
    size_t predicted = mk_record_batch_record_size(delta, i, r->key, r->value, r->headers,
                                                   r->headers_count);
    if (mk_record_batch_builder_append(&bb, r->timestamp, r->key, r->value, r->headers,
                                       r->headers_count) != 0)
      die("builder refused a record the reader accepted", batch_no, i);
    size_t grew = mk_record_batch_builder_size(&bb) - before;
    /* The first append also adds the 61-byte batch header if the empty size left it out. */
    if (grew != predicted && !(i == 0 && grew == predicted + MK_RECORD_BATCH_HEADER_SIZE)) {
      fprintf(stderr, "record_size said %zu, the batch grew by %zu\n", predicted, grew);
      die("mk_record_batch_record_size disagrees with the builder", batch_no, i);
    }
  }

  struct mk_writer out;
  mk_writer_init(&out);
  struct mk_err err = {0};
  if (mk_record_batch_builder_finish(&bb, &out, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    die("builder could not finish a batch of records the reader accepted", batch_no, -1);
  }
  if (out.len != mk_record_batch_builder_size(&bb))
    die("finished (uncompressed) batch size differs from mk_record_batch_builder_size",
        batch_no, -1);

  struct mk_record_batch b2;
  if (mk_record_batch_parse(out.buf, out.len, &b2, &err) != 0 || b2.size != out.len) {
    fprintf(stderr, "%s\n", err.msg);
    die("rebuilt batch does not parse", batch_no, -1);
  }
  if (mk_record_batch_validate(&b2, LIMIT, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    die("rebuilt batch does not validate", batch_no, -1);
  }
  if (b2.records_count != s->count || b2.producer_id != b->producer_id ||
      b2.producer_epoch != b->producer_epoch || b2.base_sequence != b->base_sequence)
    die("rebuilt batch header differs", batch_no, -1);

  struct mk_record_reader rr;
  if (mk_record_reader_init(&rr, &b2, LIMIT, &err) != 0)
    die("rebuilt batch has no reader", batch_no, -1);
  struct seen_batch s2 = {.complete = true};
  read_records(&rr, &b2, &s2, batch_no);
  if (!s2.complete || s2.count != s->count) die("rebuilt batch does not read back", batch_no, -1);
  for (int i = 0; i < s->count; i++) {
    const struct seen_record *x = &s->records[i], *y = &s2.records[i];
    if (x->timestamp != y->timestamp) die("timestamp changed", batch_no, i);
    if (!bytes_eq(x->key, y->key)) die("key changed", batch_no, i);
    if (!bytes_eq(x->value, y->value)) die("value changed", batch_no, i);
    if (x->headers_count != y->headers_count) die("header count changed", batch_no, i);
    for (int j = 0; j < x->headers_count; j++)
      if (!bytes_eq(x->headers[j].key, y->headers[j].key) ||
          !bytes_eq(x->headers[j].value, y->headers[j].value))
        die("header changed", batch_no, i);
  }
  seen_free(&s2);
  mk_record_reader_free(&rr);
  mk_writer_free(&out);
  mk_record_batch_builder_free(&bb);
}

/* ---- one batch, then the whole input ------------------------------------------------- */

static void fuzz_batch(const struct mk_record_batch *b, int batch_no) {
  struct mk_err err = {0};
  bool valid = mk_record_batch_validate(b, LIMIT, &err) == 0;

  struct mk_record_reader rr;
  if (mk_record_reader_init(&rr, b, LIMIT, &err) != 0) {
    if (valid) die("validated, but the reader refuses it", batch_no, -1);
    return;
  }
  struct seen_batch seen = {.complete = true};
  read_records(&rr, b, valid ? &seen : NULL, batch_no);
  if (valid) {
    if (!seen.complete || seen.count != b->records_count)
      die("validated, but reading its records failed", batch_no, seen.count);
    if (seen.count > 0) round_trip(b, &seen, batch_no);
  }
  seen_free(&seen);
  mk_record_reader_free(&rr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  for (int batch_no = 0; pos < size; batch_no++) {
    struct mk_record_batch b;
    struct mk_err err = {0};
    if (mk_record_batch_parse(data + pos, size - pos, &b, &err) != 0) break;
    if (b.size < MK_RECORD_BATCH_HEADER_SIZE || b.size > size - pos)
      die("parse returned an impossible size", batch_no, -1);
    /* As it came: almost always a CRC mismatch once the fuzzer has touched it. */
    (void)mk_record_batch_validate(&b, LIMIT, &err);

    /* A random mutation nearly always breaks the CRC, and validate stops there. So the
     * real work happens on a copy with the CRC put right, which lets the fuzzer reach the
     * record checks and the round trip. The copy is also exactly one batch long on the
     * heap, so ASan catches a read past the batch's end (in the input it would land in
     * the next batch, unnoticed). */
    uint8_t *copy = malloc(b.size);
    if (!copy) abort();
    memcpy(copy, data + pos, b.size);
    mk_store_u32(copy + MK_RECORD_BATCH_CRC_OFFSET, mk_record_batch_compute_crc(&b));
    struct mk_record_batch fixed;
    if (mk_record_batch_parse(copy, b.size, &fixed, &err) != 0 || fixed.size != b.size)
      die("a batch with only its CRC changed no longer parses", batch_no, -1);
    fuzz_batch(&fixed, batch_no);
    free(copy);
    pos += b.size;
  }

  /* Each codec under the usual 1 MiB limit and under a tiny one, which a few hundred
   * input bytes can easily blow: the "too large" paths need exercising too. */
  static const size_t limits[] = {LIMIT, 256};
  for (int codec = MK_COMPRESSION_NONE; codec <= MK_COMPRESSION_ZSTD + 1; codec++)
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
      struct mk_writer out;
      mk_writer_init(&out);
      struct mk_err err = {0};
      int rc = mk_decompress(codec, data, size, limits[i], &out, &err);
      if (rc == 0 && out.len > limits[i]) die("mk_decompress wrote more than max_out", -1, codec);
      if (rc != 0 && out.len != 0) die("mk_decompress failed but left output behind", -1, codec);
      mk_writer_free(&out);
    }
  return 0;
}
