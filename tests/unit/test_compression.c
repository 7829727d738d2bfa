/*
 * Tests for protocol/compression.c: round trips, the framings other producers write,
 * hostile input (corrupt, truncated, zip bombs) and level checking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/compression.h"

static const int codecs[] = {MK_COMPRESSION_NONE, MK_COMPRESSION_GZIP, MK_COMPRESSION_SNAPPY,
                             MK_COMPRESSION_LZ4, MK_COMPRESSION_ZSTD};
enum { NCODECS = sizeof codecs / sizeof codecs[0] };

/* Compressible but not trivial: text-like runs with some noise. */
static uint8_t *make_input(size_t len, unsigned seed) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  srand(seed);
  for (size_t i = 0; i < len; i++)
    p[i] = (rand() % 8 == 0) ? (uint8_t)rand() : (uint8_t)("kafka record "[i % 13]);
  return p;
}

static size_t hex_decode(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* Compress then decompress, and check the bytes come back. */
static void round_trip(int type, int level, const uint8_t *in, size_t len) {
  struct mk_writer c, d;
  struct mk_err err = {0};
  mk_writer_init(&c);
  mk_writer_init(&d);
  int rc = mk_compress(type, level, in, len, &c, &err);
  if (rc) fail_msg("compress %s level %d: %s", mk_compression_name(type), level, err.msg);
  rc = mk_decompress(type, c.buf, c.len, len, &d, &err);
  if (rc) fail_msg("decompress %s level %d len %zu: %s", mk_compression_name(type), level, len,
                   err.msg);
  assert_int_equal(d.len, len);
  if (len) assert_memory_equal(d.buf, in, len);
  mk_writer_free(&c);
  mk_writer_free(&d);
}

static void test_round_trip_every_codec_and_level(void **state) {
  (void)state;
  const struct {
    int type;
    int levels[5];
    int n;
  } cases[] = {
      {MK_COMPRESSION_NONE, {MK_COMPRESSION_LEVEL_DEFAULT}, 1},
      {MK_COMPRESSION_GZIP, {MK_COMPRESSION_LEVEL_DEFAULT, -1, 1, 6, 9}, 5},
      {MK_COMPRESSION_SNAPPY, {MK_COMPRESSION_LEVEL_DEFAULT}, 1},
      {MK_COMPRESSION_LZ4, {MK_COMPRESSION_LEVEL_DEFAULT, 1, 9, 12, 17}, 5},
      {MK_COMPRESSION_ZSTD, {MK_COMPRESSION_LEVEL_DEFAULT, -5, 1, 3, 19}, 5},
  };
  /* Sizes around the 32 KiB snappy chunk and 64 KiB lz4 block boundaries. */
  const size_t sizes[] = {1, 13, 1000, 32 * 1024, 32 * 1024 + 1, 64 * 1024, 200 * 1000};
  uint8_t *in = make_input(200 * 1000, 1);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int l = 0; l < cases[c].n; l++)
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        round_trip(cases[c].type, cases[c].levels[l], in, sizes[s]);
  free(in);
}

static void test_empty_input_round_trips(void **state) {
  (void)state;
  for (int c = 0; c < NCODECS; c++) {
    round_trip(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, (const uint8_t *)"", 0);
    round_trip(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, NULL, 0);
  }
  /* What Java writes for an empty snappy stream: the xerial header and no chunks. */
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(
      mk_compress(MK_COMPRESSION_SNAPPY, MK_COMPRESSION_LEVEL_DEFAULT, NULL, 0, &w, NULL), 0);
  const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  assert_int_equal(w.len, 16);
  assert_memory_equal(w.buf, header, 16);
  mk_writer_free(&w);
}

static void test_large_input_round_trips(void **state) {
  (void)state;
  size_t len = 8 * 1024 * 1024 + 17;
  uint8_t *in = make_input(len, 2);
  for (int c = 0; c < NCODECS; c++) round_trip(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, in, len);
  free(in);
}

/* Our output has the exact framing Java writes: the xerial header then [length, block]
 * per 32 KiB of input, and the Kafka LZ4 frame header 04 22 4D 18 60 40 82. */
static void test_output_framing_matches_java(void **state) {
  (void)state;
  size_t len = 100 * 1000;
  uint8_t *in = make_input(len, 3);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(
      mk_compress(MK_COMPRESSION_SNAPPY, MK_COMPRESSION_LEVEL_DEFAULT, in, len, &w, NULL), 0);
  size_t pos = 16, chunks = 0, total = 0;
  while (pos < w.len) {
    uint32_t n = mk_load_u32(w.buf + pos);
    size_t out;
    assert_int_equal(snappy_uncompressed_length((char *)w.buf + pos + 4, n, &out), SNAPPY_OK);
    assert_true(out == 32 * 1024 || pos + 4 + n == w.len);
    total += out;
    pos += 4 + n;
    chunks++;
  }
  assert_int_equal(pos, w.len);
  assert_int_equal(chunks, 4);  /* 3 x 32 KiB + the rest */
  assert_int_equal(total, len);

  w.len = 0;
  assert_int_equal(mk_compress(MK_COMPRESSION_LZ4, MK_COMPRESSION_LEVEL_DEFAULT, in, len, &w, NULL),
                   0);
  const uint8_t lz4_header[7] = {0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82};
  assert_memory_equal(w.buf, lz4_header, 7);
  assert_memory_equal(w.buf + w.len - 4, "\0\0\0\0", 4);  /* end mark, no content checksum */

  w.len = 0;
  assert_int_equal(
      mk_compress(MK_COMPRESSION_GZIP, MK_COMPRESSION_LEVEL_DEFAULT, in, len, &w, NULL), 0);
  assert_int_equal(w.buf[0], 0x1f);
  assert_int_equal(w.buf[1], 0x8b);
  mk_writer_free(&w);
  free(in);
}

/* Some clients (librdkafka among them) send one raw snappy block, no framing. */
static void test_raw_snappy_block_decodes(void **state) {
  (void)state;
  size_t len = 70 * 1000;  /* bigger than a xerial chunk: raw blocks have no such limit */
  uint8_t *in = make_input(len, 4);
  size_t clen = snappy_max_compressed_length(len);
  char *c = malloc(clen);
  assert_int_equal(snappy_compress((char *)in, len, c, &clen), SNAPPY_OK);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_decompress(MK_COMPRESSION_SNAPPY, (uint8_t *)c, clen, len, &w, NULL), 0);
  assert_int_equal(w.len, len);
  assert_memory_equal(w.buf, in, len);
  mk_writer_free(&w);
  /* The smallest block: one byte saying "0 bytes follow". */
  assert_int_equal(mk_decompress(MK_COMPRESSION_SNAPPY, (uint8_t *)"", 1, 10, &w, NULL), 0);
  assert_int_equal(w.len, 0);
  free(c);
  free(in);
}

/* A xerial stream put together by hand from libsnappy blocks: odd chunk sizes, and a second
 * stream header in the middle (two framed streams glued together), as snappy-java reads. */
static void test_xerial_framed_snappy_decodes(void **state) {
  (void)state;
  size_t len = 50 * 1000;
  uint8_t *in = make_input(len, 5);
  const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  const size_t cuts[] = {0, 1000, 21000, 21000, 50000};  /* header again before chunk 3 */
  struct mk_writer f, w;
  mk_writer_init(&f);
  mk_writer_init(&w);
  mk_write_raw(&f, header, 16);
  for (int i = 0; i + 1 < 5; i++) {
    size_t n = cuts[i + 1] - cuts[i];
    if (n == 0) {
      mk_write_raw(&f, header, 16);
      continue;
    }
    size_t clen = snappy_max_compressed_length(n);
    uint8_t *dst = mk_writer_extend(&f, 4 + clen);
    assert_int_equal(snappy_compress((char *)in + cuts[i], n, (char *)dst + 4, &clen), SNAPPY_OK);
    mk_store_u32(dst, (uint32_t)clen);
    f.len -= snappy_max_compressed_length(n) - clen;
  }
  assert_int_equal(mk_decompress(MK_COMPRESSION_SNAPPY, f.buf, f.len, len, &w, NULL), 0);
  assert_int_equal(w.len, len);
  assert_memory_equal(w.buf, in, len);
  mk_writer_free(&f);
  mk_writer_free(&w);
  free(in);
}

/* Streams written by the gzip, lz4 and zstd command-line tools (v1.12, 1.9.4, 1.5.4) from
 * "minikafka interop: hello hello hello hello\n". The lz4 one carries a content checksum;
 * the second zstd one was streamed from stdin, so its frame does not state its size. */
static void test_streams_from_other_tools_decode(void **state) {
  (void)state;
  const char *text = "minikafka interop: hello hello hello hello\n";
  const struct {
    int type;
    const char *hex;
  } cases[] = {
      {MK_COMPRESSION_GZIP, "1f8b0800000000000203cbcdcccbcc4e4ccb4e54c8cc2b492dca2fb052c848cdc9c9"
                            "c724b900f7e753752b000000"},
      {MK_COMPRESSION_LZ4, "04224d186440a722000000fa096d696e696b61666b6120696e7465726f703a2068656c"
                           "6c6f060050656c6c6f0a00000000922aba9a"},
      {MK_COMPRESSION_ZSTD, "28b52ffd242bfd0000c86d696e696b61666b6120696e7465726f703a2068656c6c6f0a"
                            "0100c42b63e54329e3"},
      {MK_COMPRESSION_ZSTD, "28b52ffd0458fd0000c86d696e696b61666b6120696e7465726f703a2068656c6c6f0a"
                            "0100c42b63e54329e3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[128];
    size_t n = hex_decode(cases[i].hex, buf);
    struct mk_writer w;
    struct mk_err err = {0};
    mk_writer_init(&w);
    int rc = mk_decompress(cases[i].type, buf, n, 1000, &w, &err);
    if (rc) fail_msg("case %zu: %s", i, err.msg);
    assert_int_equal(w.len, strlen(text));
    assert_memory_equal(w.buf, text, w.len);
    mk_writer_free(&w);
  }
}

/* gzip members and zstd frames may follow each other; the output is their concatenation.
 * Garbage after the last one is refused. */
static void test_concatenated_streams(void **state) {
  (void)state;
  for (int type = MK_COMPRESSION_GZIP; type <= MK_COMPRESSION_ZSTD; type++) {
    struct mk_writer c, d;
    mk_writer_init(&c);
    mk_writer_init(&d);
    assert_int_equal(mk_compress(type, MK_COMPRESSION_LEVEL_DEFAULT, (uint8_t *)"abc", 3, &c, NULL),
                     0);
    assert_int_equal(
        mk_compress(type, MK_COMPRESSION_LEVEL_DEFAULT, (uint8_t *)"defg", 4, &c, NULL), 0);
    assert_int_equal(mk_decompress(type, c.buf, c.len, 100, &d, NULL), 0);
    assert_int_equal(d.len, 7);
    assert_memory_equal(d.buf, "abcdefg", 7);
    if (type != MK_COMPRESSION_SNAPPY) {  /* a snappy chunk length could be anything */
      struct mk_err err = {0};
      mk_write_raw(&c, "junk!", 5);
      d.len = 0;
      assert_int_equal(mk_decompress(type, c.buf, c.len, 100, &d, &err), MK_ERR_CORRUPT_MESSAGE);
      assert_int_equal(d.len, 0);
    }
    mk_writer_free(&c);
    mk_writer_free(&d);
  }
}

/* Flip every byte of a small stream, and feed garbage: an error or some output, never a
 * crash (run this under ASan). */
static void test_corrupt_input_never_crashes(void **state) {
  (void)state;
  uint8_t *in = make_input(3000, 6);
  for (int c = 1; c < NCODECS; c++) {
    struct mk_writer z, d;
    mk_writer_init(&z);
    mk_writer_init(&d);
    assert_int_equal(mk_compress(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, in, 3000, &z, NULL), 0);
    int errors = 0;
    for (size_t i = 0; i < z.len; i++) {
      for (int flip = 1; flip < 256; flip <<= 2) {
        z.buf[i] ^= (uint8_t)flip;
        d.len = 0;
        struct mk_err err = {0};
        int rc = mk_decompress(codecs[c], z.buf, z.len, 10000, &d, &err);
        assert_true(rc == 0 || rc == MK_ERR_CORRUPT_MESSAGE || rc == MK_ERR_MESSAGE_TOO_LARGE);
        if (rc) {
          errors++;
          /* The message names the codec. */
          assert_non_null(strstr(err.msg, mk_compression_name(codecs[c])));
        }
        z.buf[i] ^= (uint8_t)flip;
      }
    }
    assert_true(errors > 0);
    /* Pure garbage. */
    for (int seed = 0; seed < 200; seed++) {
      uint8_t junk[64];
      srand((unsigned)seed);
      for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
      d.len = 0;
      int rc = mk_decompress(codecs[c], junk, (size_t)(seed % 64) + 1, 10000, &d, NULL);
      assert_true(rc == 0 || rc == MK_ERR_CORRUPT_MESSAGE || rc == MK_ERR_MESSAGE_TOO_LARGE);
    }
    mk_writer_free(&z);
    mk_writer_free(&d);
  }
  free(in);
}

/* Every proper prefix of a stream is an error (gzip, lz4 and zstd all mark their end). For
 * xerial snappy, a prefix that ends on a chunk boundary is itself a complete stream. */
static void test_truncated_input_is_corrupt(void **state) {
  (void)state;
  uint8_t *in = make_input(5000, 7);
  for (int c = 1; c < NCODECS; c++) {
    struct mk_writer z, d;
    mk_writer_init(&z);
    mk_writer_init(&d);
    assert_int_equal(mk_compress(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, in, 5000, &z, NULL), 0);
    for (size_t n = 0; n < z.len; n++) {
      if (codecs[c] == MK_COMPRESSION_SNAPPY && n == 16) continue;  /* header alone: empty */
      struct mk_err err = {0};
      d.len = 0;
      int rc = mk_decompress(codecs[c], z.buf, n, 10000, &d, &err);
      if (rc != MK_ERR_CORRUPT_MESSAGE)
        fail_msg("%s: prefix %zu of %zu gave %d", mk_compression_name(codecs[c]), n, z.len, rc);
      assert_int_equal(d.len, 0);
    }
    mk_writer_free(&z);
    mk_writer_free(&d);
  }
  free(in);
}

/* 100 MB of zeros squeezes into a few hundred KB; decompressing with a 1 MB limit must fail
 * having allocated about 1 MB, not 100. */
static void test_zip_bomb_stops_at_the_limit(void **state) {
  (void)state;
  size_t big = 100 * 1000 * 1000, limit = 1000 * 1000;
  uint8_t *zeros = calloc(big, 1);
  assert_non_null(zeros);
  for (int c = 1; c < NCODECS; c++) {
    struct mk_writer z, d;
    struct mk_err err = {0};
    mk_writer_init(&z);
    mk_writer_init(&d);
    int level = codecs[c] == MK_COMPRESSION_SNAPPY ? MK_COMPRESSION_LEVEL_DEFAULT : 1;
    assert_int_equal(mk_compress(codecs[c], level, zeros, big, &z, NULL), 0);
    assert_true(z.len < big / 20);
    mk_write_raw(&d, "keep", 4);  /* output already in the writer is left alone */
    assert_int_equal(mk_decompress(codecs[c], z.buf, z.len, limit, &d, &err),
                     MK_ERR_MESSAGE_TOO_LARGE);
    assert_non_null(strstr(err.msg, mk_compression_name(codecs[c])));
    assert_int_equal(d.len, 4);
    assert_memory_equal(d.buf, "keep", 4);
    assert_true(d.cap <= 4 * limit);
    mk_writer_free(&z);
    mk_writer_free(&d);
  }
  free(zeros);
}

/* The limit is inclusive: exactly max_out bytes is fine, one more is not. */
static void test_limit_is_exact(void **state) {
  (void)state;
  size_t len = 100 * 1000;
  uint8_t *in = make_input(len, 8);
  for (int c = 0; c < NCODECS; c++) {
    struct mk_writer z, d;
    mk_writer_init(&z);
    mk_writer_init(&d);
    assert_int_equal(mk_compress(codecs[c], MK_COMPRESSION_LEVEL_DEFAULT, in, len, &z, NULL), 0);
    assert_int_equal(mk_decompress(codecs[c], z.buf, z.len, len, &d, NULL), 0);
    assert_int_equal(d.len, len);
    d.len = 0;
    assert_int_equal(mk_decompress(codecs[c], z.buf, z.len, len - 1, &d, NULL),
                     MK_ERR_MESSAGE_TOO_LARGE);
    assert_int_equal(d.len, 0);
    d.len = 0;
    assert_int_equal(mk_decompress(codecs[c], z.buf, z.len, SIZE_MAX, &d, NULL), 0);
    assert_int_equal(d.len, len);
    mk_writer_free(&z);
    mk_writer_free(&d);
  }
  free(in);
}

/* Kafka's reader refuses LZ4 frames with linked blocks, which is what liblz4 writes when
 * not told otherwise; so do we, so a producer bug shows up here and not in a Java consumer. */
static void test_lz4_linked_blocks_are_refused(void **state) {
  (void)state;
  size_t len = 200 * 1000;
  uint8_t *in = make_input(len, 9);
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  prefs.frameInfo.blockMode = LZ4F_blockLinked;
  size_t room = LZ4F_compressFrameBound(len, &prefs);
  uint8_t *c = malloc(room);
  size_t n = LZ4F_compressFrame(c, room, in, len, &prefs);
  assert_false(LZ4F_isError(n));
  struct mk_writer w;
  struct mk_err err = {0};
  mk_writer_init(&w);
  assert_int_equal(mk_decompress(MK_COMPRESSION_LZ4, c, n, len, &w, &err), MK_ERR_CORRUPT_MESSAGE);
  assert_non_null(strstr(err.msg, "linked"));
  mk_writer_free(&w);
  free(c);
  free(in);
}

/* A zstd frame written by the streaming API with no size given, as zstd-jni writes it. */
static void test_zstd_frame_without_content_size(void **state) {
  (void)state;
  size_t len = 300 * 1000;
  uint8_t *in = make_input(len, 10);
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  size_t room = ZSTD_compressBound(len);
  uint8_t *c = malloc(room);
  ZSTD_outBuffer ob = {c, room, 0};
  ZSTD_inBuffer ib = {in, len, 0};
  assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue)));
  while (ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end) != 0) {}
  assert_int_equal(ZSTD_getFrameContentSize(c, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_decompress(MK_COMPRESSION_ZSTD, c, ob.pos, len, &w, NULL), 0);
  assert_int_equal(w.len, len);
  assert_memory_equal(w.buf, in, len);
  mk_writer_free(&w);
  ZSTD_freeCCtx(cctx);
  free(c);
  free(in);
}

static void test_invalid_levels_are_rejected(void **state) {
  (void)state;
  const struct {
    int type, level;
  } bad[] = {
      {MK_COMPRESSION_GZIP, 0},   {MK_COMPRESSION_GZIP, 10},   {MK_COMPRESSION_GZIP, -2},
      {MK_COMPRESSION_LZ4, 0},    {MK_COMPRESSION_LZ4, 18},    {MK_COMPRESSION_LZ4, -1},
      {MK_COMPRESSION_ZSTD, 23},  {MK_COMPRESSION_ZSTD, -200000},
      {MK_COMPRESSION_SNAPPY, 1}, {MK_COMPRESSION_NONE, 1},
      {5, MK_COMPRESSION_LEVEL_DEFAULT}, {-1, MK_COMPRESSION_LEVEL_DEFAULT},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct mk_writer w;
    struct mk_err err = {0};
    mk_writer_init(&w);
    assert_int_equal(mk_compress(bad[i].type, bad[i].level, (uint8_t *)"x", 1, &w, &err),
                     MK_ERR__INVALID_ARG);
    assert_int_equal(w.len, 0);
    assert_true(strlen(err.msg) > 0);
    mk_writer_free(&w);
  }
  /* The ends of each range are fine. */
  round_trip(MK_COMPRESSION_ZSTD, ZSTD_minCLevel(), (uint8_t *)"hello", 5);
  round_trip(MK_COMPRESSION_ZSTD, ZSTD_maxCLevel(), (uint8_t *)"hello", 5);
}

static void test_unknown_codec_and_empty_input_on_decompress(void **state) {
  (void)state;
  struct mk_writer w;
  struct mk_err err = {0};
  mk_writer_init(&w);
  assert_int_equal(mk_decompress(5, (uint8_t *)"abc", 3, 100, &w, &err), MK_ERR_CORRUPT_MESSAGE);
  assert_int_equal(mk_decompress(7, (uint8_t *)"abc", 3, 100, &w, &err), MK_ERR_CORRUPT_MESSAGE);
  for (int c = 1; c < NCODECS; c++)
    assert_int_equal(mk_decompress(codecs[c], NULL, 0, 100, &w, &err), MK_ERR_CORRUPT_MESSAGE);
  assert_int_equal(mk_decompress(MK_COMPRESSION_NONE, NULL, 0, 100, &w, &err), 0);
  assert_int_equal(mk_decompress(MK_COMPRESSION_NONE, (uint8_t *)"abc", 3, 2, &w, &err),
                   MK_ERR_MESSAGE_TOO_LARGE);
  assert_int_equal(w.len, 0);
  mk_writer_free(&w);
}

static void test_names(void **state) {
  (void)state;
  const char *names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  for (int t = 0; t < 5; t++) {
    int got = -1;
    assert_string_equal(mk_compression_name(t), names[t]);
    assert_int_equal(mk_compression_from_name(names[t], &got), 0);
    assert_int_equal(got, t);
  }
  int got = -1;
  assert_null(mk_compression_name(5));
  assert_null(mk_compression_name(-1));
  assert_int_equal(mk_compression_from_name("GZIP", &got), MK_ERR__INVALID_ARG);
  assert_int_equal(mk_compression_from_name("brotli", &got), MK_ERR__INVALID_ARG);
  assert_int_equal(mk_compression_from_name(NULL, &got), MK_ERR__INVALID_ARG);
  assert_int_equal(got, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_every_codec_and_level),
      cmocka_unit_test(test_empty_input_round_trips),
      cmocka_unit_test(test_large_input_round_trips),
      cmocka_unit_test(test_output_framing_matches_java),
      cmocka_unit_test(test_raw_snappy_block_decodes),
      cmocka_unit_test(test_xerial_framed_snappy_decodes),
      cmocka_unit_test(test_streams_from_other_tools_decode),
      cmocka_unit_test(test_concatenated_streams),
      cmocka_unit_test(test_corrupt_input_never_crashes),
      cmocka_unit_test(test_truncated_input_is_corrupt),
      cmocka_unit_test(test_zip_bomb_stops_at_the_limit),
      cmocka_unit_test(test_limit_is_exact),
      cmocka_unit_test(test_lz4_linked_blocks_are_refused),
      cmocka_unit_test(test_zstd_frame_without_content_size),
      cmocka_unit_test(test_invalid_levels_are_rejected),
      cmocka_unit_test(test_unknown_codec_and_empty_input_on_decompress),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
