/*
 * Tests for protocol/record_batch.c: the worked example of RECORD-BATCH.md as a golden
 * vector, batches written by librdkafka, build/parse/read round trips for every codec, and
 * each way a batch can lie (CRC, counts, lengths, offsets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/compression.h"
#include "protocol/crc32c.h"
#include "protocol/record_batch.h"

#define MAX_DECOMPRESSED (1024 * 1024)

/* RECORD-BATCH.md section 10: two records, the second with a null key and a header. */
static const char *golden_hex =
    "00000000000000000000004cffffffff0232deae190000000000010000018bcfe56800"
    "0000018bcfe56805ffffffffffffffffffffffffffff0000000214000000046b310476"
    "31001e000a02010a68656c6c6f0202680278";

/* Decode hex into a fresh buffer (caller frees). */
static uint8_t *unhex(const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  uint8_t *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    p[i] = (uint8_t)v;
  }
  *len = n;
  return p;
}

static struct mk_bytes bytes_of(const char *s) {
  return s ? (struct mk_bytes){(const uint8_t *)s, (int32_t)strlen(s)} : MK_BYTES_NULL;
}

static void assert_bytes(struct mk_bytes b, const char *want) {
  if (!want) {
    assert_int_equal(b.len, -1);
    return;
  }
  assert_int_equal(b.len, strlen(want));
  if (b.len) assert_memory_equal(b.ptr, want, (size_t)b.len);
}

/* Recompute the CRC after a test has edited a batch on purpose. */
static void fix_crc(uint8_t *batch, size_t size) {
  mk_store_u32(batch + MK_RECORD_BATCH_CRC_OFFSET,
               mk_crc32c(0, batch + MK_RECORD_BATCH_ATTRIBUTES_OFFSET,
                         size - MK_RECORD_BATCH_ATTRIBUTES_OFFSET));
}

/* A batch with the golden header and the given records section, counts and CRC set to
 * match: for handing the reader hand-made (usually broken) records. */
static uint8_t *raw_batch(const uint8_t *records, size_t len, int32_t count, size_t *size) {
  size_t glen;
  uint8_t *golden = unhex(golden_hex, &glen);
  uint8_t *b = malloc(MK_RECORD_BATCH_HEADER_SIZE + len);
  memcpy(b, golden, MK_RECORD_BATCH_HEADER_SIZE);
  memcpy(b + MK_RECORD_BATCH_HEADER_SIZE, records, len);
  *size = MK_RECORD_BATCH_HEADER_SIZE + len;
  mk_store_u32(b + 8, (uint32_t)(*size - 12));
  mk_store_u32(b + 23, (uint32_t)(count - 1));
  mk_store_u32(b + 57, (uint32_t)count);
  fix_crc(b, *size);
  free(golden);
  return b;
}

/* Parse and validate, returning the validation result (parse must succeed). */
static int parse_validate(const uint8_t *buf, size_t len, struct mk_err *err) {
  struct mk_record_batch b;
  int rc = mk_record_batch_parse(buf, len, &b, err);
  if (rc) fail_msg("parse: %s", err->msg);
  return mk_record_batch_validate(&b, MAX_DECOMPRESSED, err);
}

/* ---- golden vectors -------------------------------------------------------------------- */

static void test_golden_example_builds_byte_for_byte(void **state) {
  (void)state;
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000000LL, bytes_of("k1"),
                                                  bytes_of("v1"), NULL, 0), 0);
  struct mk_record_header h = {bytes_of("h"), bytes_of("x")};
  assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000005LL, MK_BYTES_NULL,
                                                  bytes_of("hello"), &h, 1), 0);
  assert_int_equal(mk_record_batch_builder_size(&bb), 88);
  struct mk_writer out;
  struct mk_err err = {0};
  mk_writer_init(&out);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &out, &err), 0);
  size_t len;
  uint8_t *want = unhex(golden_hex, &len);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.buf, want, len);
  free(want);
  mk_writer_free(&out);
  mk_record_batch_builder_free(&bb);
}

/* take (the producer's way: in place when uncompressed) gives the bytes finish writes,
 * with or without room reserved first, for every codec. */
static void test_take_gives_the_bytes_finish_writes(void **state) {
  (void)state;
  for (int type = MK_COMPRESSION_NONE; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_record_batch_builder a, b;
    mk_record_batch_builder_init(&a);
    mk_record_batch_builder_init(&b);
    a.compression = b.compression = type;
    assert_int_equal(mk_record_batch_builder_reserve(&b, 16384), 0);
    assert_int_equal(mk_record_batch_builder_size(&b), MK_RECORD_BATCH_HEADER_SIZE);
    for (int i = 0; i < 50; i++) {
      struct mk_record_header h = {bytes_of("h"), bytes_of("x")};
      assert_int_equal(mk_record_batch_builder_append(&a, 1700000000000LL + i, bytes_of("k"),
                                                      bytes_of("a value, repeated"), &h, i % 2), 0);
      assert_int_equal(mk_record_batch_builder_append(&b, 1700000000000LL + i, bytes_of("k"),
                                                      bytes_of("a value, repeated"), &h, i % 2), 0);
    }
    assert_int_equal(mk_record_batch_builder_size(&a), mk_record_batch_builder_size(&b));
    struct mk_writer out;
    struct mk_err err = {0};
    mk_writer_init(&out);
    assert_int_equal(mk_record_batch_builder_finish(&a, &out, &err), 0);
    uint8_t *taken = NULL;
    size_t len = 0;
    assert_int_equal(mk_record_batch_builder_take(&b, &taken, &len, &err), 0);
    assert_int_equal(len, out.len);
    assert_memory_equal(taken, out.buf, len);
    assert_int_equal(parse_validate(taken, len, &err), 0);
    free(taken);
    mk_writer_free(&out);
    mk_record_batch_builder_free(&a);
    mk_record_batch_builder_free(&b);
  }
  struct mk_record_batch_builder empty;
  mk_record_batch_builder_init(&empty);
  uint8_t *taken = NULL;
  size_t len = 0;
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_take(&empty, &taken, &len, &err), MK_ERR__STATE);
  mk_record_batch_builder_free(&empty);
}

static void test_golden_example_parses_and_reads(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  struct mk_record_batch b;
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_parse(buf, len, &b, &err), 0);
  assert_int_equal(b.base_offset, 0);
  assert_int_equal(b.batch_length, 76);
  assert_int_equal(b.size, 88);
  assert_int_equal(b.partition_leader_epoch, -1);
  assert_int_equal(b.magic, 2);
  assert_int_equal(b.crc, 0x32DEAE19);
  assert_int_equal(b.attributes, 0);
  assert_int_equal(b.last_offset_delta, 1);
  assert_true(b.base_timestamp == 1700000000000LL);
  assert_true(b.max_timestamp == 1700000000005LL);
  assert_int_equal(b.producer_id, -1);
  assert_int_equal(b.producer_epoch, -1);
  assert_int_equal(b.base_sequence, -1);
  assert_int_equal(b.records_count, 2);
  assert_int_equal(mk_record_batch_compute_crc(&b), 0x32DEAE19);
  assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), 0);

  struct mk_record_reader rr;
  struct mk_record rec;
  struct mk_record_header h;
  assert_int_equal(mk_record_reader_init(&rr, &b, MAX_DECOMPRESSED, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(rec.timestamp_delta, 0);
  assert_int_equal(rec.offset_delta, 0);
  assert_bytes(rec.key, "k1");
  assert_bytes(rec.value, "v1");
  assert_int_equal(rec.headers_count, 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(rec.timestamp_delta, 5);
  assert_int_equal(rec.offset_delta, 1);
  assert_bytes(rec.key, NULL);
  assert_bytes(rec.value, "hello");
  assert_int_equal(rec.headers_count, 1);
  assert_int_equal(mk_record_next_header(&rec, &h, &err), 0);
  assert_bytes(h.key, "h");
  assert_bytes(h.value, "x");
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), MK_ERR__STATE);
  mk_record_reader_free(&rr);
  free(buf);
}

/* Batches librdkafka 2.0.2 (Debian) wrote, one per codec, captured from its Produce v7
 * requests to its own mock cluster. Two records: key "k0", value v0, headers h="x" and
 * n=null at 1700000000000; then a null key, value v1, no headers, at +7 ms. librdkafka
 * writes partition_leader_epoch 0, and its snappy is one raw block (no xerial framing).
 * The last batch is from an idempotent producer. */
static const char *const librdkafka_batches[][2] = {
    {"none",
     "0000000000000000000000bf0000000002dd16c6c70000000000010000018bcfe568000000018bcfe56807"
     "ffffffffffffffffffffffffffff000000029401000000046b307676616c7565207a65726f3a2068656c6c"
     "6f2068656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f"
     "0402680278026e018001000e02017476616c7565206f6e653a20776f726c6420776f726c6420776f726c64"
     "20776f726c6420776f726c6420776f726c6420776f726c6420776f726c6400"},
    {"gzip",
     "00000000000000000000007f0000000002354b267e0001000000010000018bcfe568000000018bcfe56807"
     "ffffffffffffffffffffffffffff000000021f8b08000000000000039bc2c8c0c0c0926d50569698539aaa"
     "50955a946fa590919a93934f3cc9c294c154c194c7d8c0c8c0c7c4580231293f2fd54aa13cbf2827857892"
     "010062a258628e000000"},
    {"snappy",
     "0000000000000000000000730000000002e47bca430002000000010000018bcfe568000000018bcfe56807"
     "ffffffffffffffffffffffffffff000000028e01649401000000046b307676616c7565207a65726f3a2068"
     "656c6c6fa60600380402680278026e018001000e020174094a246f6e653a20776f726c64a606000000"},
    {"lz4",
     "0000000000000000000000860000000002991b41440003000000010000018bcfe568000000018bcfe56807"
     "ffffffffffffffffffffffffffff0000000204224d1860408246000000ff0b9401000000046b307676616c"
     "7565207a65726f3a2068656c6c6f060017f2000402680278026e018001000e0201744a00af6f6e653a2077"
     "6f726c64060013506f726c640000000000"},
    {"zstd",
     "00000000000000000000007b0000000002bcc3ec600004000000010000018bcfe568000000018bcfe56807"
     "ffffffffffffffffffffffffffff0000000228b52ffd00580d020044039401000000046b307676616c7565"
     "207a65726f3a2068656c6c6f0402680278026e018001000e0201746f6e653a20776f726c64000300531069"
     "c2501da8e001"},
    {"zstd",
     "00000000000000000000007b0000000002f5d69d330004000000010000018bcfe568000000018bcfe56807"
     "0000000035384c500000000000000000000228b52ffd00580d020044039401000000046b307676616c7565"
     "207a65726f3a2068656c6c6f0402680278026e018001000e0201746f6e653a20776f726c64000300531069"
     "c2501da8e001"},
};

static void test_librdkafka_batches_decode(void **state) {
  (void)state;
  const char *v0 = "value zero: hello hello hello hello hello hello hello hello";
  const char *v1 = "value one: world world world world world world world world";
  for (size_t i = 0; i < sizeof librdkafka_batches / sizeof librdkafka_batches[0]; i++) {
    size_t len;
    uint8_t *buf = unhex(librdkafka_batches[i][1], &len);
    struct mk_record_batch b;
    struct mk_err err = {0};
    assert_int_equal(mk_record_batch_parse(buf, len, &b, &err), 0);
    assert_int_equal(b.size, len);
    int type;
    assert_int_equal(mk_compression_from_name(librdkafka_batches[i][0], &type), 0);
    assert_int_equal(mk_record_batch_compression(&b), type);
    assert_int_equal(b.partition_leader_epoch, 0);
    assert_true(b.base_timestamp == 1700000000000LL);
    assert_true(b.max_timestamp == 1700000000007LL);
    int rc = mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err);
    if (rc) fail_msg("%s: %s", librdkafka_batches[i][0], err.msg);

    struct mk_record_reader rr;
    struct mk_record rec;
    struct mk_record_header h;
    assert_int_equal(mk_record_reader_init(&rr, &b, MAX_DECOMPRESSED, &err), 0);
    assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
    assert_bytes(rec.key, "k0");
    assert_bytes(rec.value, v0);
    assert_int_equal(rec.headers_count, 2);
    assert_int_equal(mk_record_next_header(&rec, &h, &err), 0);
    assert_bytes(h.key, "h");
    assert_bytes(h.value, "x");
    assert_int_equal(mk_record_next_header(&rec, &h, &err), 0);
    assert_bytes(h.key, "n");
    assert_bytes(h.value, NULL);
    assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
    assert_int_equal(rec.timestamp_delta, 7);
    assert_int_equal(rec.offset_delta, 1);
    assert_bytes(rec.key, NULL);
    assert_bytes(rec.value, v1);
    assert_int_equal(rec.headers_count, 0);
    assert_int_equal(mk_record_reader_next(&rr, &rec, &err), MK_ERR__STATE);
    mk_record_reader_free(&rr);
    free(buf);
  }
}

/* ---- building ---------------------------------------------------------------------------- */

/* Build a batch with awkward records under every codec, then read it all back. */
static void test_round_trip_every_codec(void **state) {
  (void)state;
  char big[5000];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = 0;
  struct {
    int64_t ts;
    const char *key, *value;
    int nh;
  } recs[] = {
      {1000, "key", "value", 0}, {1003, NULL, "no key", 2}, {999, "tombstone", NULL, 0},
      {1010, "", "", 1},         {1001, NULL, NULL, 0},      {1002, "big", big, 3},
  };
  const int n = sizeof recs / sizeof recs[0];
  struct mk_record_header hdrs[3] = {{bytes_of("trace"), bytes_of("abc")},
                                     {bytes_of("empty"), MK_BYTES_NULL},
                                     {bytes_of(""), bytes_of("")}};

  for (int type = MK_COMPRESSION_NONE; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_record_batch_builder bb;
    mk_record_batch_builder_init(&bb);
    bb.compression = type;
    bb.producer_id = 42;
    bb.producer_epoch = 3;
    bb.base_sequence = 100;
    bb.attributes = MK_ATTR_TRANSACTIONAL;
    size_t expect = MK_RECORD_BATCH_HEADER_SIZE;
    for (int i = 0; i < n; i++) {
      int64_t base = recs[0].ts;
      expect += mk_record_batch_record_size(recs[i].ts - base, i, bytes_of(recs[i].key),
                                            bytes_of(recs[i].value), hdrs, recs[i].nh);
      assert_int_equal(mk_record_batch_builder_append(&bb, recs[i].ts, bytes_of(recs[i].key),
                                                      bytes_of(recs[i].value), hdrs, recs[i].nh),
                       0);
      assert_int_equal(mk_record_batch_builder_size(&bb), expect);
    }
    struct mk_writer out;
    struct mk_err err = {0};
    mk_writer_init(&out);
    mk_write_raw(&out, "prefix", 6);  /* finish appends; earlier bytes stay */
    assert_int_equal(mk_record_batch_builder_finish(&bb, &out, &err), 0);
    assert_memory_equal(out.buf, "prefix", 6);
    if (type == MK_COMPRESSION_NONE) assert_int_equal(out.len - 6, expect);
    if (type != MK_COMPRESSION_NONE) assert_true(out.len - 6 < expect);  /* big compresses */

    struct mk_record_batch b;
    assert_int_equal(mk_record_batch_parse(out.buf + 6, out.len - 6, &b, &err), 0);
    assert_int_equal(b.size, out.len - 6);
    assert_int_equal(mk_record_batch_compression(&b), type);
    assert_int_equal(b.attributes & ~MK_ATTR_COMPRESSION_MASK, MK_ATTR_TRANSACTIONAL);
    assert_int_equal(b.records_count, n);
    assert_int_equal(b.last_offset_delta, n - 1);
    assert_int_equal(b.base_timestamp, 1000);
    assert_int_equal(b.max_timestamp, 1010);
    assert_int_equal(b.producer_id, 42);
    assert_int_equal(b.producer_epoch, 3);
    assert_int_equal(b.base_sequence, 100);
    assert_int_equal(b.partition_leader_epoch, -1);
    int rc = mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err);
    if (rc) fail_msg("%s: %s", mk_compression_name(type), err.msg);

    struct mk_record_reader rr;
    assert_int_equal(mk_record_reader_init(&rr, &b, MAX_DECOMPRESSED, &err), 0);
    for (int i = 0; i < n; i++) {
      struct mk_record rec;
      assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
      assert_int_equal(rec.attributes, 0);
      assert_int_equal(rec.offset_delta, i);
      assert_int_equal(rec.timestamp_delta, recs[i].ts - 1000);  /* 999 gives -1 */
      assert_bytes(rec.key, recs[i].key);
      assert_bytes(rec.value, recs[i].value);
      assert_int_equal(rec.headers_count, recs[i].nh);
      for (int j = 0; j < recs[i].nh; j++) {
        struct mk_record_header h;
        assert_int_equal(mk_record_next_header(&rec, &h, &err), 0);
        assert_int_equal(h.key.len, hdrs[j].key.len);
        assert_memory_equal(h.key.ptr, hdrs[j].key.ptr, (size_t)h.key.len);
        assert_int_equal(h.value.len, hdrs[j].value.len);
        if (h.value.len > 0)
          assert_memory_equal(h.value.ptr, hdrs[j].value.ptr, (size_t)h.value.len);
      }
    }
    struct mk_record rec;
    assert_int_equal(mk_record_reader_next(&rr, &rec, &err), MK_ERR__STATE);
    mk_record_reader_free(&rr);

    /* Finishing again gives the same batch. */
    struct mk_writer again;
    mk_writer_init(&again);
    assert_int_equal(mk_record_batch_builder_finish(&bb, &again, &err), 0);
    assert_int_equal(again.len, out.len - 6);
    assert_memory_equal(again.buf, out.buf + 6, again.len);
    mk_writer_free(&again);
    mk_writer_free(&out);
    mk_record_batch_builder_free(&bb);
  }
}

static void test_builder_edge_cases(void **state) {
  (void)state;
  struct mk_record_batch_builder bb;
  struct mk_writer out;
  struct mk_err err = {0};
  mk_record_batch_builder_init(&bb);
  mk_writer_init(&out);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &out, &err), MK_ERR__STATE);
  assert_int_equal(out.len, 0);
  /* A null header key is refused, as Java refuses it. */
  struct mk_record_header nullkey = {MK_BYTES_NULL, bytes_of("v")};
  assert_int_equal(
      mk_record_batch_builder_append(&bb, 1, MK_BYTES_NULL, MK_BYTES_NULL, &nullkey, 1),
      MK_ERR__INVALID_ARG);
  assert_int_equal(bb.count, 0);
  /* A bad level surfaces at finish and leaves out untouched. */
  assert_int_equal(mk_record_batch_builder_append(&bb, 1, MK_BYTES_NULL, bytes_of("x"), NULL, 0),
                   0);
  bb.compression = MK_COMPRESSION_GZIP;
  bb.compression_level = 42;
  assert_int_equal(mk_record_batch_builder_finish(&bb, &out, &err), MK_ERR__INVALID_ARG);
  assert_int_equal(out.len, 0);
  /* Extreme timestamps: the delta wraps but reads back exactly. */
  mk_record_batch_builder_free(&bb);
  mk_record_batch_builder_init(&bb);
  assert_int_equal(
      mk_record_batch_builder_append(&bb, INT64_MIN, MK_BYTES_NULL, MK_BYTES_NULL, NULL, 0), 0);
  assert_int_equal(
      mk_record_batch_builder_append(&bb, INT64_MAX, MK_BYTES_NULL, MK_BYTES_NULL, NULL, 0), 0);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &out, &err), 0);
  struct mk_record_batch b;
  assert_int_equal(mk_record_batch_parse(out.buf, out.len, &b, &err), 0);
  assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), 0);
  assert_true(b.max_timestamp == INT64_MAX);
  struct mk_record_reader rr;
  struct mk_record rec;
  assert_int_equal(mk_record_reader_init(&rr, &b, MAX_DECOMPRESSED, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_true((int64_t)((uint64_t)b.base_timestamp + (uint64_t)rec.timestamp_delta) == INT64_MAX);
  mk_record_reader_free(&rr);
  mk_writer_free(&out);
  mk_record_batch_builder_free(&bb);
}

/* ---- integrity ------------------------------------------------------------------------- */

/* Any byte changed from attributes to the end, or in the crc itself, is caught. */
static void test_crc_mismatch_is_corrupt_message(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  for (size_t i = MK_RECORD_BATCH_CRC_OFFSET; i < len; i++) {
    buf[i] ^= 0x40;
    struct mk_err err = {0};
    assert_int_equal(parse_validate(buf, len, &err), MK_ERR_CORRUPT_MESSAGE);
    assert_non_null(strstr(err.msg, "CRC"));
    buf[i] ^= 0x40;
  }
  free(buf);
}

/* base_offset and partition_leader_epoch sit outside the CRC: the broker rewrites them. */
static void test_rewriting_offset_and_epoch_keeps_crc_valid(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  mk_store_u64(buf, 123456789012345ULL);
  mk_store_u32(buf + MK_RECORD_BATCH_LEADER_EPOCH_OFFSET, 77);
  struct mk_record_batch b;
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_parse(buf, len, &b, &err), 0);
  assert_true(b.base_offset == 123456789012345LL);
  assert_int_equal(b.partition_leader_epoch, 77);
  assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), 0);
  free(buf);
}

static void test_truncated_batches_are_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  for (size_t n = 0; n < len; n++) {
    struct mk_record_batch b;
    struct mk_err err = {0};
    assert_int_equal(mk_record_batch_parse(buf, n, &b, &err), MK_ERR_CORRUPT_MESSAGE);
    assert_non_null(strstr(err.msg, "truncated"));
  }
  free(buf);
}

/* Two batches back to back, then a partial third (as at the end of a Fetch response). */
static void test_parse_steps_through_a_buffer(void **state) {
  (void)state;
  size_t len;
  uint8_t *one = unhex(golden_hex, &len);
  uint8_t *buf = malloc(3 * len);
  memcpy(buf, one, len);
  memcpy(buf + len, one, len);
  memcpy(buf + 2 * len, one, len);
  mk_store_u64(buf + len, 2);  /* second batch starts at offset 2 */
  size_t pos = 0, end = 3 * len - 10;
  int batches = 0;
  struct mk_record_batch b;
  struct mk_err err = {0};
  while (mk_record_batch_parse(buf + pos, end - pos, &b, &err) == 0) {
    assert_int_equal(b.base_offset, 2 * batches);
    assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), 0);
    pos += b.size;
    batches++;
  }
  assert_int_equal(batches, 2);
  assert_non_null(strstr(err.msg, "truncated"));
  free(buf);
  free(one);
}

static void test_wrong_magic_and_short_length(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  struct mk_record_batch b;
  struct mk_err err = {0};
  const int8_t magics[] = {0, 1, 3, -1};
  for (size_t i = 0; i < sizeof magics; i++) {
    buf[16] = (uint8_t)magics[i];
    assert_int_equal(mk_record_batch_parse(buf, len, &b, &err), MK_ERR_CORRUPT_MESSAGE);
    assert_non_null(strstr(err.msg, "magic"));
  }
  buf[16] = 2;
  const int32_t lengths[] = {48, 0, -1, INT32_MIN};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    mk_store_u32(buf + 8, (uint32_t)lengths[i]);
    assert_int_equal(mk_record_batch_parse(buf, len, &b, &err), MK_ERR_CORRUPT_MESSAGE);
    assert_non_null(strstr(err.msg, "batch_length"));
  }
  free(buf);
}

/* records_count and last_offset_delta that disagree with each other or the bytes. */
static void test_records_count_lies(void **state) {
  (void)state;
  size_t len;
  uint8_t *golden = unhex(golden_hex, &len);
  const uint8_t *records = golden + MK_RECORD_BATCH_HEADER_SIZE;
  size_t rlen = len - MK_RECORD_BATCH_HEADER_SIZE;
  const int32_t counts[] = {3, 1, 0, -1, 1000000};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    size_t size;
    uint8_t *b = raw_batch(records, rlen, counts[i], &size);
    struct mk_err err = {0};
    assert_int_equal(parse_validate(b, size, &err), MK_ERR_INVALID_RECORD);
    free(b);
  }
  /* last_offset_delta alone wrong. */
  uint8_t *b = malloc(len);
  memcpy(b, golden, len);
  mk_store_u32(b + 23, 2);
  fix_crc(b, len);
  struct mk_err err = {0};
  assert_int_equal(parse_validate(b, len, &err), MK_ERR_INVALID_RECORD);
  assert_non_null(strstr(err.msg, "last_offset_delta"));
  free(b);
  free(golden);
}

/* Hand-made records, each broken in one way. The valid reference is
 *   10 00 00 00 02 61 02 62 00
 * length 8, attributes 0, timestamp delta 0, offset delta 0, key "a", value "b", no headers
 * (all lengths zig-zag: 0x10 is 8, 0x02 is 1, 0x01 is -1). */
static void test_bad_record_lengths(void **state) {
  (void)state;
  const struct {
    const char *what;
    uint8_t bytes[24];
    size_t n;
  } cases[] = {
      {"length past the end", {0x12, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0}, 9},
      {"length too short for the fields", {0x0e, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0}, 9},
      {"length longer than the fields", {0x12, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0, 0}, 10},
      {"negative length", {0x01, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0}, 9},
      {"key length -2", {0x0e, 0, 0, 0, 0x03, 0x02, 'b', 0}, 8},
      {"key past the record", {0x10, 0, 0, 0, 0x10, 'a', 0x02, 'b', 0}, 9},
      {"value length -5", {0x0e, 0, 0, 0, 0x02, 'a', 0x09, 0}, 8},
      {"negative headers_count", {0x10, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0x01}, 9},
      {"headers_count over the bytes left", {0x12, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0x08, 0}, 10},
      {"null header key", {0x14, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0x02, 0x01, 0x01}, 11},
      {"header value length -3", {0x16, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0x02, 0x02, 'h', 0x05}, 12},
      {"header past the record", {0x16, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0x02, 0x02, 'h', 0x04}, 12},
      {"overlong offset varint",
       {0x1a, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x02, 'a', 0x02, 'b', 0}, 14},
      {"overlong length varint", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6},
      {"empty records section", {0}, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t size;
    uint8_t *b = raw_batch(cases[i].bytes, cases[i].n, 1, &size);
    struct mk_err err = {0};
    int rc = parse_validate(b, size, &err);
    if (rc != MK_ERR_INVALID_RECORD) fail_msg("%s: got %d (%s)", cases[i].what, rc, err.msg);
    free(b);
  }
  /* And the reference itself is fine. */
  const uint8_t good[] = {0x10, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0};
  size_t size;
  uint8_t *b = raw_batch(good, sizeof good, 1, &size);
  struct mk_err err = {0};
  assert_int_equal(parse_validate(b, size, &err), 0);
  free(b);
}

/* A fresh batch's offset deltas run 0..n-1. The reader alone accepts gaps (a compacted
 * batch has them); validate does not. */
static void test_offset_deltas_out_of_order(void **state) {
  (void)state;
  const uint8_t swapped[] = {0x10, 0, 0, 0x02, 0x02, 'a', 0x02, 'b', 0,   /* delta 1 */
                             0x10, 0, 0, 0x00, 0x02, 'c', 0x02, 'd', 0};  /* delta 0 */
  size_t size;
  uint8_t *b = raw_batch(swapped, sizeof swapped, 2, &size);
  struct mk_err err = {0};
  assert_int_equal(parse_validate(b, size, &err), MK_ERR_INVALID_RECORD);
  assert_non_null(strstr(err.msg, "offset_delta"));

  struct mk_record_batch batch;
  struct mk_record_reader rr;
  struct mk_record rec;
  assert_int_equal(mk_record_batch_parse(b, size, &batch, &err), 0);
  assert_int_equal(mk_record_reader_init(&rr, &batch, MAX_DECOMPRESSED, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(rec.offset_delta, 1);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(rec.offset_delta, 0);
  mk_record_reader_free(&rr);
  free(b);
}

/* After a malformed record, the reader keeps failing rather than resync on garbage. */
static void test_reader_error_is_sticky(void **state) {
  (void)state;
  const uint8_t recs[] = {0x10, 0, 0, 0, 0x02, 'a', 0x02, 'b', 0, 0x7f, 0, 0};
  size_t size;
  uint8_t *b = raw_batch(recs, sizeof recs, 3, &size);
  struct mk_record_batch batch;
  struct mk_record_reader rr;
  struct mk_record rec;
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_parse(b, size, &batch, &err), 0);
  assert_int_equal(mk_record_reader_init(&rr, &batch, MAX_DECOMPRESSED, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), MK_ERR_INVALID_RECORD);
  assert_int_equal(mk_record_reader_next(&rr, &rec, &err), MK_ERR_INVALID_RECORD);
  mk_record_reader_free(&rr);
  free(b);
}

static void test_idempotent_batch_needs_a_sequence(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = unhex(golden_hex, &len);
  mk_store_u64(buf + 43, 5);  /* producer_id 5, base_sequence still -1 */
  fix_crc(buf, len);
  struct mk_err err = {0};
  assert_int_equal(parse_validate(buf, len, &err), MK_ERR_INVALID_RECORD);
  mk_store_u32(buf + 53, 0);
  fix_crc(buf, len);
  assert_int_equal(parse_validate(buf, len, &err), 0);
  free(buf);
}

/* ---- compressed batches ------------------------------------------------------------------ */

static void build_compressed(int type, const char *value, struct mk_writer *out) {
  struct mk_record_batch_builder bb;
  struct mk_err err = {0};
  mk_record_batch_builder_init(&bb);
  bb.compression = type;
  assert_int_equal(mk_record_batch_builder_append(&bb, 5, MK_BYTES_NULL, bytes_of(value), NULL, 0),
                   0);
  assert_int_equal(mk_record_batch_builder_finish(&bb, out, &err), 0);
  mk_record_batch_builder_free(&bb);
}

static void test_decompression_limit_applies(void **state) {
  (void)state;
  char *value = malloc(200001);
  memset(value, 'z', 200000);
  value[200000] = 0;
  for (int type = MK_COMPRESSION_GZIP; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_writer out;
    struct mk_record_batch b;
    struct mk_err err = {0};
    mk_writer_init(&out);
    build_compressed(type, value, &out);
    assert_int_equal(mk_record_batch_parse(out.buf, out.len, &b, &err), 0);
    assert_int_equal(mk_record_batch_validate(&b, 100000, &err), MK_ERR_MESSAGE_TOO_LARGE);
    assert_int_equal(mk_record_batch_validate(&b, 300000, &err), 0);
    mk_writer_free(&out);
  }
  free(value);
}

/* Damage inside the compressed records, with the CRC fixed up so the decoder sees it. */
static void test_corrupt_compressed_records(void **state) {
  (void)state;
  for (int type = MK_COMPRESSION_GZIP; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_writer out;
    struct mk_record_batch b;
    struct mk_err err = {0};
    mk_writer_init(&out);
    build_compressed(type, "a value that is long enough to compress, compress, compress", &out);
    /* Cut the compressed stream short by 3 bytes. */
    out.len -= 3;
    mk_store_u32(out.buf + 8, (uint32_t)(out.len - 12));
    fix_crc(out.buf, out.len);
    assert_int_equal(mk_record_batch_parse(out.buf, out.len, &b, &err), 0);
    int rc = mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err);
    if (rc != MK_ERR_CORRUPT_MESSAGE) fail_msg("%s: %d %s", mk_compression_name(type), rc, err.msg);
    assert_non_null(strstr(err.msg, mk_compression_name(type)));
    /* An unknown codec id is corrupt too. */
    out.buf[22] = (uint8_t)((out.buf[22] & ~7) | 6);
    fix_crc(out.buf, out.len);
    assert_int_equal(mk_record_batch_parse(out.buf, out.len, &b, &err), 0);
    assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), MK_ERR_CORRUPT_MESSAGE);
    mk_writer_free(&out);
  }
}

/* Random damage with the CRC fixed up, so it reaches the record parser: never a crash. */
static void test_mutated_batches_never_crash(void **state) {
  (void)state;
  srand(99);
  for (int type = MK_COMPRESSION_NONE; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_writer out;
    mk_writer_init(&out);
    build_compressed(type, "some value some value some value", &out);
    uint8_t *copy = malloc(out.len);
    for (int iter = 0; iter < 3000; iter++) {
      memcpy(copy, out.buf, out.len);
      int flips = 1 + rand() % 3;
      for (int f = 0; f < flips; f++) {
        size_t at =
            MK_RECORD_BATCH_HEADER_SIZE + (size_t)rand() % (out.len - MK_RECORD_BATCH_HEADER_SIZE);
        copy[at] = (uint8_t)rand();
      }
      fix_crc(copy, out.len);
      struct mk_err err = {0};
      int rc = parse_validate(copy, out.len, &err);
      assert_true(rc == 0 || rc == MK_ERR_INVALID_RECORD || rc == MK_ERR_CORRUPT_MESSAGE ||
                  rc == MK_ERR_MESSAGE_TOO_LARGE);
    }
    free(copy);
    mk_writer_free(&out);
  }
}

/* ---- control records --------------------------------------------------------------------- */

static void test_control_records_round_trip(void **state) {
  (void)state;
  const enum mk_control_type types[] = {MK_CONTROL_COMMIT, MK_CONTROL_ABORT};
  for (int i = 0; i < 2; i++) {
    struct mk_writer out;
    struct mk_err err = {0};
    mk_writer_init(&out);
    assert_int_equal(
        mk_record_batch_write_control(&out, 7777, 4, types[i], 19, 1700000000123LL, &err), 0);
    struct mk_record_batch b;
    assert_int_equal(mk_record_batch_parse(out.buf, out.len, &b, &err), 0);
    assert_int_equal(b.size, out.len);
    assert_int_equal(b.attributes, MK_ATTR_CONTROL | MK_ATTR_TRANSACTIONAL);
    assert_int_equal(b.producer_id, 7777);
    assert_int_equal(b.producer_epoch, 4);
    assert_int_equal(b.base_sequence, -1);
    assert_int_equal(b.records_count, 1);
    assert_true(b.base_timestamp == 1700000000123LL);
    assert_int_equal(mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err), 0);

    struct mk_record_reader rr;
    struct mk_record rec;
    assert_int_equal(mk_record_reader_init(&rr, &b, MAX_DECOMPRESSED, &err), 0);
    assert_int_equal(mk_record_reader_next(&rr, &rec, &err), 0);
    const uint8_t key[4] = {0, 0, 0, (uint8_t)types[i]};
    const uint8_t value[6] = {0, 0, 0, 0, 0, 19};
    assert_int_equal(rec.key.len, 4);
    assert_memory_equal(rec.key.ptr, key, 4);
    assert_int_equal(rec.value.len, 6);
    assert_memory_equal(rec.value.ptr, value, 6);
    enum mk_control_type type;
    int32_t epoch;
    assert_int_equal(mk_control_record_parse(&rec, &type, &epoch, &err), 0);
    assert_int_equal(type, types[i]);
    assert_int_equal(epoch, 19);
    mk_record_reader_free(&rr);
    mk_writer_free(&out);
  }
}

static void test_control_record_parse_refuses_bad_markers(void **state) {
  (void)state;
  const struct {
    const char *what;
    uint8_t key[4];
    int32_t key_len;
    uint8_t value[8];
    int32_t value_len;
  } cases[] = {
      {"null key", {0}, -1, {0, 0, 0, 0, 0, 1}, 6},
      {"short key", {0, 0, 0}, 3, {0, 0, 0, 0, 0, 1}, 6},
      {"negative key version", {0xff, 0xff, 0, 1}, 4, {0, 0, 0, 0, 0, 1}, 6},
      {"leader change, not a marker", {0, 0, 0, 2}, 4, {0, 0, 0, 0, 0, 1}, 6},
      {"unknown type", {0, 0, 0x7f, 0}, 4, {0, 0, 0, 0, 0, 1}, 6},
      {"short value", {0, 0, 0, 1}, 4, {0, 0, 0, 0, 0}, 5},
      {"null value", {0, 0, 0, 1}, 4, {0}, -1},
      {"negative value version", {0, 0, 0, 1}, 4, {0x80, 0, 0, 0, 0, 1}, 6},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mk_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (struct mk_bytes){cases[i].key_len < 0 ? NULL : cases[i].key, cases[i].key_len};
    rec.value =
        (struct mk_bytes){cases[i].value_len < 0 ? NULL : cases[i].value, cases[i].value_len};
    enum mk_control_type type;
    int32_t epoch;
    struct mk_err err = {0};
    if (mk_control_record_parse(&rec, &type, &epoch, &err) != MK_ERR_INVALID_RECORD)
      fail_msg("%s was accepted", cases[i].what);
  }
  /* A newer version with extra trailing fields is still read. */
  const uint8_t key[6] = {0, 1, 0, 1, 9, 9};
  const uint8_t value[8] = {0, 1, 0, 0, 1, 0, 9, 9};
  struct mk_record rec;
  memset(&rec, 0, sizeof rec);
  rec.key = (struct mk_bytes){key, 6};
  rec.value = (struct mk_bytes){value, 8};
  enum mk_control_type type;
  int32_t epoch;
  assert_int_equal(mk_control_record_parse(&rec, &type, &epoch, NULL), 0);
  assert_int_equal(type, MK_CONTROL_COMMIT);
  assert_int_equal(epoch, 256);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_example_builds_byte_for_byte),
      cmocka_unit_test(test_take_gives_the_bytes_finish_writes),
      cmocka_unit_test(test_golden_example_parses_and_reads),
      cmocka_unit_test(test_librdkafka_batches_decode),
      cmocka_unit_test(test_round_trip_every_codec),
      cmocka_unit_test(test_builder_edge_cases),
      cmocka_unit_test(test_crc_mismatch_is_corrupt_message),
      cmocka_unit_test(test_rewriting_offset_and_epoch_keeps_crc_valid),
      cmocka_unit_test(test_truncated_batches_are_refused),
      cmocka_unit_test(test_parse_steps_through_a_buffer),
      cmocka_unit_test(test_wrong_magic_and_short_length),
      cmocka_unit_test(test_records_count_lies),
      cmocka_unit_test(test_bad_record_lengths),
      cmocka_unit_test(test_offset_deltas_out_of_order),
      cmocka_unit_test(test_reader_error_is_sticky),
      cmocka_unit_test(test_idempotent_batch_needs_a_sequence),
      cmocka_unit_test(test_decompression_limit_applies),
      cmocka_unit_test(test_corrupt_compressed_records),
      cmocka_unit_test(test_mutated_batches_never_crash),
      cmocka_unit_test(test_control_records_round_trip),
      cmocka_unit_test(test_control_record_parse_refuses_bad_markers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
