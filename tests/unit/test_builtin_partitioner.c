/*
 * Tests for producer/builtin_partitioner.c (KIP-794): murmur2 keys as librdkafka places them,
 * the sticky switch after batch.size bytes, even spread over many batches, the adaptive
 * weighting by queue size, partitioner.availability.timeout.ms, and concurrent appends.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "producer/builtin_partitioner.h"

static const int32_t all4[] = {0, 1, 2, 3};
static const struct mk_topic_partitions four = {4, all4, 4};

static struct mk_builtin_partitioner *new_partitioner(int32_t batch_size, uint64_t seed) {
  struct mk_builtin_partitioner *bp;
  struct mk_err err = {0};
  assert_int_equal(mk_builtin_partitioner_new("t", batch_size, &bp, &err), 0);
  mk_builtin_partitioner_set_seed(bp, seed);
  return bp;
}

/* Where a percentage of n draws should fall: within tolerance (a fraction) of expected. */
static void assert_near(int got, double expected, double tolerance) {
  if (got < expected * (1 - tolerance) || got > expected * (1 + tolerance))
    fail_msg("got %d, expected %.0f +- %.0f%%", got, expected, tolerance * 100);
}

/* ---- keys ------------------------------------------------------------------------------- */

/* The same partition as librdkafka's Java-compatible murmur2 partitioner, for every tail
 * length, bytes >= 0x80 and many partition counts. */
static void test_keys_land_where_librdkafka_puts_them(void **state) {
  (void)state;
  uint32_t x = 88172645u;
  uint8_t key[80];
  const int32_t counts[] = {1, 2, 3, 6, 10, 12, 64, 100, 1009, INT32_MAX};
  for (int iter = 0; iter < 50000; iter++) {
    size_t len = (size_t)(iter % 70);
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      key[i] = (uint8_t)x;
    }
    int32_t n = counts[iter % 10];
    int32_t theirs = rd_kafka_msg_partitioner_murmur2(NULL, key, len, n, NULL, NULL);
    assert_int_equal(mk_builtin_partitioner_partition_for_key(key, len, n), theirs);
  }
  /* Kafka's own vector (UtilsTest): murmur2("21") = -973932308 -> 3 partitions: 0 */
  assert_int_equal(mk_builtin_partitioner_partition_for_key("21", 2, 3), 0);
  assert_int_equal(mk_builtin_partitioner_partition_for_key("k", 1, 0), MK_PARTITION_UNKNOWN);
}

static void test_batch_size_must_be_positive(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = (void *)1;
  struct mk_err err = {0};
  assert_int_equal(mk_builtin_partitioner_new("t", 0, &bp, &err), MK_ERR__INVALID_ARG);
  assert_null(bp);
  assert_string_equal(err.msg, "stickyBatchSize must be >= 1 but got 0");
}

/* ---- sticky switching ------------------------------------------------------------------- */

/* One append as RecordAccumulator.append does it: peek, check, count the bytes. Returns the
 * partition the record went to. */
static int32_t append(struct mk_builtin_partitioner *bp, const struct mk_topic_partitions *c,
                      int32_t bytes, bool enable_switch, bool *switched) {
  struct mk_sticky_partition_info info = mk_builtin_partitioner_peek_current_partition(bp, c);
  assert_false(mk_builtin_partitioner_is_partition_changed(bp, &info));
  bool s = mk_builtin_partitioner_update_partition_info(bp, &info, bytes, c, enable_switch);
  if (switched) *switched = s;
  return info.partition;
}

/* With equal queues: the partition stays put for exactly batch.size bytes, then switches. */
static void test_switches_after_batch_size_bytes(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 42);
  for (int round = 0; round < 20; round++) {
    struct mk_sticky_partition_info first =
        mk_builtin_partitioner_peek_current_partition(bp, &four);
    for (int i = 1; i <= 10; i++) {
      bool switched;
      int32_t p = append(bp, &four, 100, true, &switched);
      assert_int_equal(p, first.partition);
      assert_int_equal(switched, i == 10);  /* the 10th append reaches 1000 bytes */
    }
    struct mk_sticky_partition_info next = mk_builtin_partitioner_peek_current_partition(bp, &four);
    assert_true(next.generation != first.generation);
    assert_true(mk_builtin_partitioner_is_partition_changed(bp, &first));
  }
  mk_builtin_partitioner_free(bp);
}

/* enable_switch=false (the deque's last batch is still open) postpones the switch, up to
 * twice batch.size. */
static void test_open_batch_postpones_switch_up_to_twice_batch_size(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 7);
  bool switched = false;
  int appends = 0;
  while (!switched) {
    append(bp, &four, 100, false, &switched);
    appends++;
  }
  assert_int_equal(appends, 20);
  /* A postponed switch completes as soon as the caller allows it (partitionChanged()). */
  for (int i = 0; i < 12; i++) append(bp, &four, 100, false, NULL);
  struct mk_sticky_partition_info info = mk_builtin_partitioner_peek_current_partition(bp, &four);
  assert_true(mk_builtin_partitioner_update_partition_info(bp, &info, 0, &four, true));
  mk_builtin_partitioner_free(bp);
}

/* Another thread switched between peek and update: the stale info is ignored. */
static void test_stale_info_is_ignored(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 1);
  struct mk_sticky_partition_info mine = mk_builtin_partitioner_peek_current_partition(bp, &four);
  struct mk_sticky_partition_info theirs = mk_builtin_partitioner_peek_current_partition(bp, &four);
  assert_true(mine.generation == theirs.generation);
  assert_true(mk_builtin_partitioner_update_partition_info(bp, &theirs, 1000, &four, true));
  assert_true(mk_builtin_partitioner_is_partition_changed(bp, &mine));
  assert_false(mk_builtin_partitioner_update_partition_info(bp, &mine, 5000, &four, true));
  /* the new partition's count did not get those 5000 bytes */
  struct mk_sticky_partition_info now = mk_builtin_partitioner_peek_current_partition(bp, &four);
  assert_false(mk_builtin_partitioner_update_partition_info(bp, &now, 999, &four, true));
  assert_true(mk_builtin_partitioner_update_partition_info(bp, &now, 1, &four, true));
  /* NULL info: the record had its own partition; nothing to do */
  assert_false(mk_builtin_partitioner_is_partition_changed(bp, NULL));
  assert_false(mk_builtin_partitioner_update_partition_info(bp, NULL, 1, &four, true));
  mk_builtin_partitioner_free(bp);
}

/* Over many batches, each partition gets about the same number of bytes. */
static void test_spreads_evenly_over_many_batches(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(16384, 2024);
  int64_t bytes[4] = {0};
  for (int i = 0; i < 400000; i++) bytes[append(bp, &four, 164, true, NULL)] += 164;
  int64_t total = 400000LL * 164;
  for (int p = 0; p < 4; p++) assert_near((int)(bytes[p] / 1000), total / 4000.0, 0.10);
  /* and next_partition alone is uniform */
  int count[4] = {0};
  for (int i = 0; i < 40000; i++) count[mk_builtin_partitioner_next_partition(bp, &four)]++;
  for (int p = 0; p < 4; p++) assert_near(count[p], 10000, 0.05);
  mk_builtin_partitioner_free(bp);
}

/* Without load stats: only partitions with a leader; all partitions if none has one. */
static void test_uniform_choice_uses_available_partitions(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(100, 5);
  static const int32_t some[] = {1, 3};
  const struct mk_topic_partitions partial = {4, some, 2}, none = {4, NULL, 0};
  const struct mk_topic_partitions empty = {0, NULL, 0};
  int count[4] = {0};
  for (int i = 0; i < 4000; i++) count[mk_builtin_partitioner_next_partition(bp, &partial)]++;
  assert_int_equal(count[0] + count[2], 0);
  assert_near(count[1], 2000, 0.1);
  memset(count, 0, sizeof count);
  for (int i = 0; i < 4000; i++) count[mk_builtin_partitioner_next_partition(bp, &none)]++;
  for (int p = 0; p < 4; p++) assert_true(count[p] > 800);
  assert_int_equal(mk_builtin_partitioner_next_partition(bp, &empty), MK_PARTITION_UNKNOWN);
  struct mk_sticky_partition_info info = mk_builtin_partitioner_peek_current_partition(bp, &empty);
  assert_int_equal(info.partition, MK_PARTITION_UNKNOWN);
  info = mk_builtin_partitioner_peek_current_partition(bp, &partial);  /* chosen once known */
  assert_true(info.partition == 1 || info.partition == 3);
  mk_builtin_partitioner_free(bp);
}

/* Same seed, same choices. */
static void test_seed_makes_choices_repeatable(void **state) {
  (void)state;
  struct mk_builtin_partitioner *a = new_partitioner(100, 99), *b = new_partitioner(100, 99);
  for (int i = 0; i < 100; i++)
    assert_int_equal(mk_builtin_partitioner_next_partition(a, &four),
                     mk_builtin_partitioner_next_partition(b, &four));
  mk_builtin_partitioner_free(a);
  mk_builtin_partitioner_free(b);
}

/* ---- adaptive: load stats --------------------------------------------------------------- */

/* The example in BuiltInPartitioner.java: queue sizes 0 3 1 -> weights 4 1 3 -> CFT 4 5 8. */
static void test_weights_are_inverse_queue_sizes(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(100, 11);
  static const int32_t sizes[] = {0, 3, 1}, ids[] = {0, 1, 2};
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes, ids, 3, 3);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 8);
  int count[3] = {0};
  for (int i = 0; i < 80000; i++) count[mk_builtin_partitioner_next_partition(bp, &four)]++;
  assert_near(count[0], 40000, 0.03);
  assert_near(count[1], 10000, 0.05);
  assert_near(count[2], 30000, 0.03);
  /* BuiltInPartitionerTest.adaptivePartitionsTest's table: 5 0 3 0 1 -> 1 7 10 16 21 */
  static const int32_t sizes5[] = {5, 0, 3, 0, 1}, ids5[] = {0, 1, 2, 3, 4};
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes5, ids5, 5, 5);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 21);
  int c5[5] = {0};
  static const int32_t all5[] = {0, 1, 2, 3, 4};
  const struct mk_topic_partitions five = {5, all5, 5};
  for (int i = 0; i < 210000; i++) c5[mk_builtin_partitioner_next_partition(bp, &five)]++;
  const int weights[] = {1, 6, 3, 6, 5};
  for (int p = 0; p < 5; p++) assert_near(c5[p], weights[p] * 10000.0, 0.05);
  mk_builtin_partitioner_free(bp);
}

/* When adaptive logic has nothing to do, the stats are dropped and the choice is uniform. */
static void test_no_stats_when_nothing_to_adapt_to(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(100, 3);
  static const int32_t sizes[] = {0, 3, 1}, equal[] = {2, 2, 2}, ids[] = {0, 1, 2};
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes, ids, 3, 3);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 8);
  mk_builtin_partitioner_update_partition_load_stats(bp, equal, ids, 3, 3);  /* all equal */
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes, ids, 3, 3);
  mk_builtin_partitioner_update_partition_load_stats(bp, NULL, NULL, 0, 0);  /* adaptive off */
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes, ids, 1, 1);  /* one partition */
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  /* equal sizes but one partition left out: adaptive still applies (1 left, weight 1) */
  mk_builtin_partitioner_update_partition_load_stats(bp, equal, ids, 3, 1);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 1);
  for (int i = 0; i < 100; i++)
    assert_int_equal(mk_builtin_partitioner_next_partition(bp, &four), 0);
  mk_builtin_partitioner_free(bp);
}

static struct mk_partition_queue_stats queue(int32_t partition, int32_t size) {
  struct mk_partition_queue_stats q = {partition, true, size, true, 0, 0};
  return q;
}

/* A partition with a long queue (a slow broker) is chosen less often: weights 10 10 1. */
static void test_long_queue_gets_fewer_records(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 2718);
  static const int32_t all3[] = {0, 1, 2};
  const struct mk_topic_partitions three = {3, all3, 3};
  struct mk_partition_queue_stats qs[] = {queue(0, 1), queue(1, 1), queue(2, 10)};
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 0);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 21);
  int64_t bytes[3] = {0};
  for (int i = 0; i < 210000; i++) bytes[append(bp, &three, 100, true, NULL)] += 100;
  /* 21000 batches' worth: about 10000, 10000 and 1000 */
  assert_near((int)(bytes[0] / 1000), 10000, 0.05);
  assert_near((int)(bytes[1] / 1000), 10000, 0.05);
  assert_near((int)(bytes[2] / 1000), 1000, 0.15);
  mk_builtin_partitioner_free(bp);
}

/* Adaptive stats need a deque for every partition, and adaptive partitioning on. */
static void test_adaptive_needs_every_partition_and_the_setting(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 1);
  struct mk_partition_queue_stats qs[] = {queue(0, 1), queue(1, 1), queue(2, 10)};
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 4, true, 0);  /* 3 of 4 */
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, false, 0);  /* off */
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  /* A partition without a leader is not a candidate. The queues left (1 1) are equal, but
   * fewer than the deques (3), so Java still builds stats: weights 1 1. */
  qs[2].has_leader = false;
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 0);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 2);
  for (int i = 0; i < 1000; i++) assert_true(mk_builtin_partitioner_next_partition(bp, &four) < 2);
  mk_builtin_partitioner_free(bp);
}

/* partitioner.availability.timeout.ms: a leader with batches ready but not drained for longer
 * than the timeout takes its partition out of the choice. */
static void test_availability_timeout_excludes_a_partition(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 31337);
  struct mk_partition_queue_stats qs[] = {queue(0, 2), queue(1, 2), queue(2, 2)};
  qs[1].leader_ready_time_ms = 10000;  /* ready at 10 s, last drained at 2 s: 8 s stuck */
  qs[1].leader_drain_time_ms = 2000;
  static const int32_t all3[] = {0, 1, 2};
  const struct mk_topic_partitions three = {3, all3, 3};

  /* timeout off: all queues equal -> uniform, partition 1 included */
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 0);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  int count[3] = {0};
  for (int i = 0; i < 3000; i++) count[mk_builtin_partitioner_next_partition(bp, &three)]++;
  assert_true(count[1] > 800);

  /* 5 s timeout: partition 1 is out */
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 5000);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 2);
  memset(count, 0, sizeof count);
  for (int i = 0; i < 3000; i++) count[mk_builtin_partitioner_next_partition(bp, &three)]++;
  assert_int_equal(count[1], 0);
  assert_near(count[0], 1500, 0.1);

  /* 10 s timeout: 8 s is within it, partition 1 is back */
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 10000);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);

  /* every leader stuck: nothing left, back to uniform */
  for (int i = 0; i < 3; i++) qs[i].leader_ready_time_ms = 10000, qs[i].leader_drain_time_ms = 0;
  mk_builtin_partitioner_update_load_stats_from_queues(bp, qs, 3, 3, true, 5000);
  assert_int_equal(mk_builtin_partitioner_load_stats_range_end(bp), 0);
  mk_builtin_partitioner_free(bp);
}

/* ---- threads ---------------------------------------------------------------------------- */

struct worker {
  struct mk_builtin_partitioner *bp;
  int switches;
};

static void *appender(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < 20000; i++) {
    struct mk_sticky_partition_info info =
        mk_builtin_partitioner_peek_current_partition(w->bp, &four);
    if (mk_builtin_partitioner_is_partition_changed(w->bp, &info)) continue;
    w->switches += mk_builtin_partitioner_update_partition_info(w->bp, &info, 10, &four, true);
  }
  return NULL;
}

/* Several app threads appending to one topic: no lost or doubled switch beyond the races the
 * generation check absorbs (each switch needs 1000 counted bytes). */
static void test_concurrent_appends(void **state) {
  (void)state;
  struct mk_builtin_partitioner *bp = new_partitioner(1000, 77);
  struct worker w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){bp, 0};
    assert_int_equal(pthread_create(&th[i], NULL, appender, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  int switches = w[0].switches + w[1].switches + w[2].switches + w[3].switches;
  assert_true(switches >= 1 && switches <= 4 * 20000 * 10 / 1000);
  mk_builtin_partitioner_free(bp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_land_where_librdkafka_puts_them),
      cmocka_unit_test(test_batch_size_must_be_positive),
      cmocka_unit_test(test_switches_after_batch_size_bytes),
      cmocka_unit_test(test_open_batch_postpones_switch_up_to_twice_batch_size),
      cmocka_unit_test(test_stale_info_is_ignored),
      cmocka_unit_test(test_spreads_evenly_over_many_batches),
      cmocka_unit_test(test_uniform_choice_uses_available_partitions),
      cmocka_unit_test(test_seed_makes_choices_repeatable),
      cmocka_unit_test(test_weights_are_inverse_queue_sizes),
      cmocka_unit_test(test_no_stats_when_nothing_to_adapt_to),
      cmocka_unit_test(test_long_queue_gets_fewer_records),
      cmocka_unit_test(test_adaptive_needs_every_partition_and_the_setting),
      cmocka_unit_test(test_availability_timeout_excludes_a_partition),
      cmocka_unit_test(test_concurrent_appends),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
