/*
 * Tests for producer/partitioner.c: KafkaProducer.partition()'s order (explicit > plug-in >
 * key hash > built-in sticky), key hashes equal to librdkafka's, the `partition` trace event
 * and its reasons, RoundRobinPartitioner with its KAFKA-9965 skips, and the pre-3.3 sticky
 * partitioner that switches only on a new batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "common/trace.h"
#include "producer/partitioner.h"

static const int32_t all3[] = {0, 1, 2};
static const struct mk_topic_partitions three = {3, all3, 3};

static struct mk_bytes bytes(const char *s) {
  return s ? (struct mk_bytes){(const uint8_t *)s, (int32_t)strlen(s)} : MK_BYTES_NULL;
}

static struct mk_partition_choice choose(const struct mk_partitioner *custom, bool ignore_keys,
                                         int32_t explicit_partition, const char *key,
                                         const struct mk_topic_partitions *parts) {
  struct mk_partition_choice c;
  struct mk_err err = {0};
  int rc = mk_partitioner_choose(custom, ignore_keys, "p-1", "t", explicit_partition, bytes(key),
                                 bytes("v"), parts, &c, &err);
  if (rc) fail_msg("%s", err.msg);
  return c;
}

/* ---- a custom partitioner that counts its calls ------------------------------------------ */

static int custom_calls;
static int custom_answer;
static int custom_new_batches;

static int always_answer(void *opaque, const char *topic, struct mk_bytes key,
                         struct mk_bytes value, const struct mk_topic_partitions *partitions,
                         int32_t *partition, enum mk_partition_reason *reason,
                         struct mk_err *err) {
  (void)opaque, (void)topic, (void)key, (void)value, (void)partitions;
  custom_calls++;
  assert_int_equal(*reason, MK_PARTITION_REASON_CUSTOM);
  if (custom_answer == -100) return mk_err_set(err, MK_ERR__INVALID_ARG, "no partition for you");
  *partition = custom_answer;
  return 0;
}

static void count_new_batch(void *opaque, const char *topic,
                            const struct mk_topic_partitions *partitions, int32_t prev) {
  (void)opaque, (void)topic, (void)partitions, (void)prev;
  custom_new_batches++;
}

static const struct mk_partitioner custom = {.name = "AlwaysPartitioner",
                                             .partition = always_answer,
                                             .on_new_batch = count_new_batch};

/* ---- the order ---------------------------------------------------------------------------- */

static void test_explicit_partition_wins(void **state) {
  (void)state;
  custom_calls = 0;
  struct mk_partition_choice c = choose(&custom, false, 2, "key", &three);
  assert_int_equal(c.partition, 2);
  assert_int_equal(c.reason, MK_PARTITION_REASON_EXPLICIT);
  assert_int_equal(custom_calls, 0);  /* the plug-in is not even asked */
  /* not checked against the partition count here: Java waits for metadata that has it */
  c = choose(NULL, false, 7, NULL, &three);
  assert_int_equal(c.partition, 7);
  struct mk_err err = {0};
  assert_int_equal(mk_partitioner_choose(NULL, false, "p-1", "t", -2, MK_BYTES_NULL, MK_BYTES_NULL,
                                         &three, &c, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "Invalid partition: -2");
}

static void test_custom_partitioner_comes_before_the_key(void **state) {
  (void)state;
  custom_calls = 0;
  custom_answer = 1;
  struct mk_partition_choice c = choose(&custom, false, MK_PARTITION_UNKNOWN, "key", &three);
  assert_int_equal(c.partition, 1);
  assert_int_equal(c.reason, MK_PARTITION_REASON_CUSTOM);
  c = choose(&custom, false, MK_PARTITION_UNKNOWN, NULL, &three);
  assert_int_equal(c.partition, 1);
  assert_int_equal(custom_calls, 2);
  struct mk_err err = {0};
  custom_answer = -1;
  assert_int_equal(mk_partitioner_choose(&custom, false, "p-1", "t", -1, bytes("k"), MK_BYTES_NULL,
                                         &three, &c, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "The partitioner generated an invalid partition number: -1. "
                               "Partition number should always be non-negative.");
  custom_answer = -100;
  assert_int_equal(mk_partitioner_choose(&custom, false, "p-1", "t", -1, bytes("k"), MK_BYTES_NULL,
                                         &three, &c, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "no partition for you");
  custom_new_batches = 0;
  mk_partitioner_on_new_batch(&custom, "t", &three, 1);
  mk_partitioner_on_new_batch(NULL, "t", &three, 1);  /* no plug-in: nothing */
  assert_int_equal(custom_new_batches, 1);
}

static void test_key_hash_then_builtin_sticky(void **state) {
  (void)state;
  struct mk_partition_choice c = choose(NULL, false, MK_PARTITION_UNKNOWN, "21", &three);
  assert_int_equal(c.partition, 0);  /* Kafka's vector: "21" -> 0 of 3 */
  assert_int_equal(c.reason, MK_PARTITION_REASON_KEY_HASH);
  c = choose(NULL, false, MK_PARTITION_UNKNOWN, "a-little-bit-long-string", &three);
  assert_int_equal(c.partition, 2);
  c = choose(NULL, false, MK_PARTITION_UNKNOWN, "", &three);  /* an empty key is a key */
  assert_int_equal(c.reason, MK_PARTITION_REASON_KEY_HASH);
  c = choose(NULL, false, MK_PARTITION_UNKNOWN, NULL, &three);
  assert_int_equal(c.partition, MK_PARTITION_UNKNOWN);
  assert_int_equal(c.reason, MK_PARTITION_REASON_UNIFORM_STICKY);
  /* partitioner.ignore.keys: keyed records go the keyless way */
  c = choose(NULL, true, MK_PARTITION_UNKNOWN, "21", &three);
  assert_int_equal(c.partition, MK_PARTITION_UNKNOWN);
  assert_int_equal(c.reason, MK_PARTITION_REASON_UNIFORM_STICKY);
  /* a key needs the partition count */
  const struct mk_topic_partitions unknown = {0, NULL, 0};
  struct mk_err err = {0};
  assert_int_equal(mk_partitioner_choose(NULL, false, "p-1", "orders", -1, bytes("k"), MK_BYTES_NULL,
                                         &unknown, &c, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "orders"));
}

/* A key lands where librdkafka's murmur2 partitioner (and so the Java producer) puts it. */
static void test_keys_match_librdkafka(void **state) {
  (void)state;
  char key[64];
  int32_t counts[] = {1, 3, 5, 12, 50, 128, 1000};
  int32_t ids[1000];
  for (int i = 0; i < 1000; i++) ids[i] = i;
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(key, sizeof key, "user-%d-%x", i, (unsigned)(i * 2654435761u));
    int32_t count = counts[i % 7];
    const struct mk_topic_partitions parts = {count, ids, count};
    struct mk_partition_choice c = choose(NULL, false, MK_PARTITION_UNKNOWN, key, &parts);
    assert_int_equal(c.partition,
                     rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)n, count, NULL, NULL));
  }
}

/* ---- trace ------------------------------------------------------------------------------- */

static char traced[8][512];
static int num_traced;

static void capture(void *opaque, const char *line, size_t len) {
  (void)opaque;
  if (num_traced < 8) snprintf(traced[num_traced++], sizeof traced[0], "%.*s", (int)len, line);
}

static void test_every_choice_is_traced_with_its_reason(void **state) {
  (void)state;
  num_traced = 0;
  int sink = mk_trace_add_sink(capture, NULL);
  assert_true(sink >= 0);
  custom_answer = 2;
  choose(NULL, false, 1, "k", &three);
  choose(NULL, false, MK_PARTITION_UNKNOWN, "21", &three);
  choose(&custom, false, MK_PARTITION_UNKNOWN, "k", &three);
  choose(NULL, false, MK_PARTITION_UNKNOWN, NULL, &three);  /* the accumulator traces this one */
  mk_partitioner_trace("p-1", "t", 2, MK_PARTITION_REASON_UNIFORM_STICKY);
  mk_trace_remove_sink(sink);
  choose(NULL, false, 1, "k", &three);  /* tracing off: nothing */
  assert_int_equal(num_traced, 4);
  const char *want[][2] = {{"\"partition\":1", "\"reason\":\"explicit\""},
                           {"\"partition\":0", "\"reason\":\"key_hash\""},
                           {"\"partition\":2", "\"reason\":\"custom\""},
                           {"\"partition\":2", "\"reason\":\"uniform_sticky\""}};
  for (int i = 0; i < 4; i++) {
    assert_non_null(strstr(traced[i], "\"side\":\"producer\""));
    assert_non_null(strstr(traced[i], "\"event\":\"partition\""));
    assert_non_null(strstr(traced[i], "\"topic\":\"t\""));
    assert_non_null(strstr(traced[i], "\"client_id\":\"p-1\""));
    if (!strstr(traced[i], want[i][0]) || !strstr(traced[i], want[i][1]))
      fail_msg("%s lacks %s or %s", traced[i], want[i][0], want[i][1]);
  }
  assert_string_equal(mk_partition_reason_name(MK_PARTITION_REASON_STICKY), "sticky");
  assert_string_equal(mk_partition_reason_name(MK_PARTITION_REASON_ROUND_ROBIN), "round_robin");
}

/* ---- built-in plug-ins by name ------------------------------------------------------------ */

static void test_builtin_plugin_names(void **state) {
  (void)state;
  const char *rr = "org.apache.kafka.clients.producer.RoundRobinPartitioner";
  const char *dp = "org.apache.kafka.clients.producer.internals.DefaultPartitioner";
  assert_string_equal(mk_partitioner_builtin_class("RoundRobinPartitioner"), rr);
  assert_string_equal(mk_partitioner_builtin_class(rr), rr);
  assert_string_equal(mk_partitioner_builtin_class("DefaultPartitioner"), dp);
  assert_string_equal(mk_partitioner_builtin_class("StickyPartitioner"), dp);
  assert_string_equal(mk_partitioner_builtin_class(dp), dp);
  assert_null(mk_partitioner_builtin_class("UniformStickyPartitioner"));
  assert_null(mk_partitioner_builtin_class(NULL));
  struct mk_partitioner *p = (void *)1;
  struct mk_err err = {0};
  assert_int_equal(mk_partitioner_new_builtin("MyPartitioner", &p, &err), MK_ERR__INVALID_ARG);
  assert_null(p);
  assert_non_null(strstr(err.msg, "MyPartitioner"));
}

/* ---- RoundRobinPartitioner ---------------------------------------------------------------- */

static struct mk_partitioner *new_builtin(const char *name) {
  struct mk_partitioner *p;
  struct mk_err err = {0};
  assert_int_equal(mk_partitioner_new_builtin(name, &p, &err), 0);
  return p;
}

static void test_round_robin_takes_turns(void **state) {
  (void)state;
  struct mk_partitioner *rr = new_builtin("RoundRobinPartitioner");
  assert_string_equal(rr->name, "RoundRobinPartitioner");
  for (int i = 0; i < 9; i++) {
    struct mk_partition_choice c = choose(rr, false, MK_PARTITION_UNKNOWN, "same-key", &three);
    assert_int_equal(c.partition, i % 3);  /* keys are ignored */
    assert_int_equal(c.reason, MK_PARTITION_REASON_ROUND_ROBIN);
  }
  /* topics count separately */
  struct mk_partition_choice c;
  struct mk_err err = {0};
  assert_int_equal(mk_partitioner_choose(rr, false, "p-1", "other", -1, MK_BYTES_NULL, MK_BYTES_NULL,
                                         &three, &c, &err), 0);
  assert_int_equal(c.partition, 0);
  /* only partitions with a leader take turns; none available: any partition */
  static const int32_t two[] = {0, 2};
  const struct mk_topic_partitions partial = {3, two, 2}, none = {3, NULL, 0};
  struct mk_partitioner *rr2 =
      new_builtin("org.apache.kafka.clients.producer.RoundRobinPartitioner");
  int32_t seen[6];
  for (int i = 0; i < 4; i++) seen[i] = choose(rr2, false, -1, NULL, &partial).partition;
  assert_int_equal(seen[0], 0);
  assert_int_equal(seen[1], 2);
  assert_int_equal(seen[2], 0);
  assert_int_equal(seen[3], 2);
  assert_int_equal(choose(rr2, false, -1, NULL, &none).partition, 4 % 3);
  mk_partitioner_free(rr);
  mk_partitioner_free(rr2);
}

/* A replay of KafkaProducer.doSend + RecordAccumulator.append(abortOnNewBatch) with a
 * plug-in: when the chosen partition has no open batch with room, the accumulator returns
 * instead of opening one, the producer calls onNewBatch and partition() again, and appends
 * there (opening a batch if it must). capacity = records per batch. Returns where each of n
 * records went. */
static void replay_do_send(struct mk_partitioner *p, int capacity, int n, int32_t *went) {
  int open[3] = {-1, -1, -1};  /* records in each partition's open batch; -1 = none */
  for (int i = 0; i < n; i++) {
    int32_t part = choose(p, false, MK_PARTITION_UNKNOWN, NULL, &three).partition;
    bool has_room = open[part] >= 0 && open[part] < capacity;
    if (!has_room) {  /* abortForNewBatch */
      mk_partitioner_on_new_batch(p, "t", &three, part);
      part = choose(p, false, MK_PARTITION_UNKNOWN, NULL, &three).partition;
      if (open[part] < 0 || open[part] >= capacity) open[part] = 0;  /* new batch */
    }
    open[part]++;
    went[i] = part;
  }
}

/* KAFKA-9965: each record that opens a batch costs round-robin an extra turn. With room in
 * the batches, partition 2 is skipped every time: records alternate 1, 0, 1, 0, ... */
static void test_round_robin_skips_partitions_on_new_batches(void **state) {
  (void)state;
  struct mk_partitioner *rr = new_builtin("RoundRobinPartitioner");
  int32_t went[30];
  replay_do_send(rr, 1000, 30, went);
  const int32_t first[] = {1, 0, 1, 0, 1, 0};
  for (int i = 0; i < 6; i++) assert_int_equal(went[i], first[i]);
  int count[3] = {0};
  for (int i = 0; i < 30; i++) count[went[i]]++;
  assert_int_equal(count[2], 0);
  assert_int_equal(count[0], 15);
  assert_int_equal(count[1], 15);
  mk_partitioner_free(rr);

  /* Batches of 3 records: partition 2 gets its first record only once batches fill, and 30
   * records split 9/12/9, not the 10/10/10 round-robin promises. */
  rr = new_builtin("RoundRobinPartitioner");
  replay_do_send(rr, 3, 30, went);
  memset(count, 0, sizeof count);
  for (int i = 0; i < 30; i++) count[went[i]]++;
  assert_int_equal(went[6], 2);
  for (int i = 0; i < 6; i++) assert_int_not_equal(went[i], 2);
  assert_int_equal(count[0], 9);
  assert_int_equal(count[1], 12);
  assert_int_equal(count[2], 9);
  mk_partitioner_free(rr);
}

/* ---- the pre-3.3 sticky partitioner --------------------------------------------------------- */

static void test_old_sticky_changes_only_on_a_new_batch(void **state) {
  (void)state;
  struct mk_partitioner *sp = new_builtin("StickyPartitioner");
  assert_string_equal(sp->name, "StickyPartitioner");
  mk_partitioner_set_seed(sp, 12345);
  int32_t first = choose(sp, false, MK_PARTITION_UNKNOWN, NULL, &three).partition;
  assert_int_equal(choose(sp, false, -1, NULL, &three).reason, MK_PARTITION_REASON_STICKY);
  /* no matter how many records or bytes: same partition until a new batch */
  for (int i = 0; i < 1000; i++)
    assert_int_equal(choose(sp, false, MK_PARTITION_UNKNOWN, NULL, &three).partition, first);
  /* a new batch for some other partition (a keyed record's) changes nothing */
  mk_partitioner_on_new_batch(sp, "t", &three, (first + 1) % 3);
  assert_int_equal(choose(sp, false, -1, NULL, &three).partition, first);
  /* a new batch for the sticky partition moves it, to a different partition */
  int32_t prev = first;
  for (int i = 0; i < 50; i++) {
    mk_partitioner_on_new_batch(sp, "t", &three, prev);
    int32_t now = choose(sp, false, -1, NULL, &three).partition;
    assert_true(now != prev);
    prev = now;
  }
  /* keyed records are hashed (DefaultPartitioner did that itself) */
  struct mk_partition_choice c = choose(sp, false, -1, "21", &three);
  assert_int_equal(c.partition, 0);
  assert_int_equal(c.reason, MK_PARTITION_REASON_KEY_HASH);
  /* one available partition: it is the only choice */
  static const int32_t only1[] = {1};
  const struct mk_topic_partitions one = {3, only1, 1};
  mk_partitioner_on_new_batch(sp, "t", &one, prev);
  assert_int_equal(choose(sp, false, -1, NULL, &one).partition, 1);
  mk_partitioner_on_new_batch(sp, "t", &one, 1);
  assert_int_equal(choose(sp, false, -1, NULL, &one).partition, 1);
  mk_partitioner_free(sp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_explicit_partition_wins),
      cmocka_unit_test(test_custom_partitioner_comes_before_the_key),
      cmocka_unit_test(test_key_hash_then_builtin_sticky),
      cmocka_unit_test(test_keys_match_librdkafka),
      cmocka_unit_test(test_every_choice_is_traced_with_its_reason),
      cmocka_unit_test(test_builtin_plugin_names),
      cmocka_unit_test(test_round_robin_takes_turns),
      cmocka_unit_test(test_round_robin_skips_partitions_on_new_batches),
      cmocka_unit_test(test_old_sticky_changes_only_on_a_new_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
