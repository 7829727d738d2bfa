/*
 * Tests for protocol/murmur2.c: the vectors of Kafka's UtilsTest.testMurmur2, and agreement
 * with librdkafka's Java-compatible partitioner on random keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "protocol/murmur2.h"

static void test_kafka_vectors(void **state) {
  (void)state;
  static const struct {
    const char *key;
    int32_t hash;
  } cases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(mk_murmur2(cases[i].key, strlen(cases[i].key)), cases[i].hash);
}

static void test_partition_uses_to_positive_not_abs(void **state) {
  (void)state;
  /* The reference pack's 3-partition column. */
  assert_int_equal(mk_murmur2_partition("21", 2, 3), 0);
  assert_int_equal(mk_murmur2_partition("foobar", 6, 3), 0);
  assert_int_equal(mk_murmur2_partition("a-little-bit-long-string", 24, 3), 2);
  assert_int_equal(mk_murmur2_partition("a-little-bit-longer-string", 26, 3), 2);
  assert_int_equal(mk_murmur2_partition("abc", 3, 3), 0);
  /* Always in range, for every tail length and bytes >= 0x80 (unsigned, not sign-extended). */
  uint8_t key[9];
  for (int len = 0; len <= 9; len++) {
    for (int b = 0; b < 256; b += 17) {
      memset(key, b, sizeof key);
      int32_t p = mk_murmur2_partition(key, (size_t)len, 7);
      assert_true(p >= 0 && p < 7);
    }
  }
}

/* librdkafka's "murmur2" partitioner is an independent implementation of the same Java
 * function. Same key, same partition count -> same partition, for every tail length (0-3),
 * bytes >= 0x80, and partition counts up to INT32_MAX (which exposes nearly the whole hash). */
static void test_same_partition_as_librdkafka(void **state) {
  (void)state;
  uint32_t x = 2463534242u;
  uint8_t key[64];
  const int32_t counts[] = {1, 3, 7, 12, 100, 1000003, INT32_MAX};
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = (size_t)(iter % 40);
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      key[i] = (uint8_t)x;
    }
    int32_t n = counts[iter % 7];
    int32_t theirs = rd_kafka_msg_partitioner_murmur2(NULL, key, len, n, NULL, NULL);
    assert_int_equal(mk_murmur2_partition(key, len, n), theirs);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kafka_vectors),
      cmocka_unit_test(test_partition_uses_to_positive_not_abs),
      cmocka_unit_test(test_same_partition_as_librdkafka),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
