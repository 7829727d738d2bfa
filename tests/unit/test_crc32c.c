/*
 * Tests for protocol/crc32c.c: known answers, the hardware and table paths agreeing, and
 * computing a CRC in pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/crc32c.h"

/* Both implementations must give the known answer. */
static void check(const void *buf, size_t len, uint32_t want) {
  assert_int_equal(mk_crc32c(0, buf, len), want);
  assert_int_equal(mk_crc32c_portable(0, buf, len), want);
}

static void test_check_value_and_kafka_vector(void **state) {
  (void)state;
  check("123456789", 9, 0xE3069283);    /* the standard CRC-32C check value */
  check("Some String", 11, 0x2445290F); /* Kafka's Crc32CTest.testValue: 608512271 */
  check("", 0, 0);
  check("a", 1, 0xC1D04330);
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_rfc3720_vectors(void **state) {
  (void)state;
  uint8_t buf[32];
  memset(buf, 0, sizeof buf);
  check(buf, 32, 0x8A9136AA);
  memset(buf, 0xff, sizeof buf);
  check(buf, 32, 0x62A8AB43);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  check(buf, 32, 0x46DD794E);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
  check(buf, 32, 0x113FDB5C);
  const uint8_t read10_pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  check(read10_pdu, sizeof read10_pdu, 0xD9963A56);
}

/* The worked batch of RECORD-BATCH.md section 10: its CRC covers bytes 21..88. */
static void test_record_batch_example_crc(void **state) {
  (void)state;
  const char *hex = "00000000000000000000004cffffffff0232deae190000000000010000018bcfe56800"
                    "0000018bcfe56805ffffffffffffffffffffffffffff0000000214000000046b310476"
                    "31001e000a02010a68656c6c6f0202680278";
  uint8_t batch[88];
  for (size_t i = 0; i < sizeof batch; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    batch[i] = (uint8_t)v;
  }
  check(batch + 21, sizeof batch - 21, 0x32DEAE19);
}

/* Every length 0..1024 at every alignment 0..7, so the hardware path's head (bytes up to
 * an 8-byte boundary), body and tail all get exercised against the table path. */
static void test_hardware_and_portable_agree(void **state) {
  (void)state;
  enum { MAX = 1024 };
  uint8_t *buf = malloc(MAX + 8);
  assert_non_null(buf);
  srand(12345);
  for (int i = 0; i < MAX + 8; i++) buf[i] = (uint8_t)rand();
  for (size_t len = 0; len <= MAX; len++)
    for (size_t start = 0; start < 8; start++)
      assert_int_equal(mk_crc32c(0, buf + start, len), mk_crc32c_portable(0, buf + start, len));
  /* Continuing from a non-zero CRC too. */
  assert_int_equal(mk_crc32c(0xdeadbeef, buf + 3, 777),
                   mk_crc32c_portable(0xdeadbeef, buf + 3, 777));
  free(buf);
}

/* Long buffers go through the three-way split (parts of 8192 and 256 bytes, joined by the
 * zero-shift tables): lengths on each side of those part sizes, at every alignment, from a
 * zero and a non-zero starting CRC. */
static void test_three_way_split_agrees(void **state) {
  (void)state;
  enum { MAX = (1 << 20) + 64 };
  uint8_t *buf = malloc(MAX + 8);
  assert_non_null(buf);
  srand(777);
  for (int i = 0; i < MAX + 8; i++) buf[i] = (uint8_t)rand();
  const size_t lens[] = {3 * 256 - 1,   3 * 256,        3 * 256 + 1,     3 * 8192 - 1,
                         3 * 8192,      3 * 8192 + 1,   3 * 8192 + 769,  6 * 8192 + 3 * 768 + 7,
                         100003,        1 << 20,        (1 << 20) + 61};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
    for (size_t start = 0; start < 8; start++) {
      assert_int_equal(mk_crc32c(0, buf + start, lens[i]),
                       mk_crc32c_portable(0, buf + start, lens[i]));
      assert_int_equal(mk_crc32c(0x12345678, buf + start, lens[i]),
                       mk_crc32c_portable(0x12345678, buf + start, lens[i]));
    }
  free(buf);
}

/* Checksumming a buffer in two pieces gives the one-shot answer, wherever it is split. */
static void test_incremental_equals_one_shot(void **state) {
  (void)state;
  enum { LEN = 300 };
  uint8_t buf[LEN];
  for (int i = 0; i < LEN; i++) buf[i] = (uint8_t)(i * 7 + 1);
  uint32_t whole = mk_crc32c(0, buf, LEN);
  assert_int_equal(whole, mk_crc32c_portable(0, buf, LEN));
  for (size_t cut = 0; cut <= LEN; cut++) {
    assert_int_equal(mk_crc32c(mk_crc32c(0, buf, cut), buf + cut, LEN - cut), whole);
    assert_int_equal(mk_crc32c_portable(mk_crc32c_portable(0, buf, cut), buf + cut, LEN - cut),
                     whole);
  }
  /* One byte at a time. */
  uint32_t crc = 0;
  for (int i = 0; i < LEN; i++) crc = mk_crc32c(crc, buf + i, 1);
  assert_int_equal(crc, whole);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_value_and_kafka_vector),
      cmocka_unit_test(test_rfc3720_vectors),
      cmocka_unit_test(test_record_batch_example_crc),
      cmocka_unit_test(test_hardware_and_portable_agree),
      cmocka_unit_test(test_three_way_split_agrees),
      cmocka_unit_test(test_incremental_equals_one_shot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
