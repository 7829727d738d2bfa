/*
 * Tests for consumer/partition_assignor.c, range_assignor.c and round_robin_assignor.c: the
 * scenarios of Kafka's RangeAssignorTest and RoundRobinAssignorTest (their expected shares
 * are facts about the algorithms), Kafka's member order (static members first), that the
 * result does not depend on the order members are listed in, and the names we accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumer/partition_assignor.h"

/* Run a over members and compare each member's share with want[i], a string like
 * "t1-0 t1-1 t2-0" (in any order; "" = nothing). */
static void check(const struct mk_partition_assignor *a, const struct mk_assignor_topic *topics,
                  int ntopics, const struct mk_assignor_member *members, int n,
                  const char *const *want) {
  struct mk_assignment *out = calloc((size_t)n, sizeof *out);
  assert_non_null(out);
  assert_int_equal(mk_partition_assignor_assign(a, topics, ntopics, members, n, out), 0);
  for (int i = 0; i < n; i++) {
    /* as text, sorted, so the order within a share does not matter */
    char got[1024] = "";
    char **items = calloc((size_t)(out[i].n ? out[i].n : 1), sizeof *items);
    for (int k = 0; k < out[i].n; k++) {
      items[k] = malloc(64);
      snprintf(items[k], 64, "%s-%d", out[i].v[k].topic, out[i].v[k].partition);
    }
    for (int k = 1; k < out[i].n; k++)
      for (int j = k; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
        char *t = items[j];
        items[j] = items[j - 1];
        items[j - 1] = t;
      }
    for (int k = 0; k < out[i].n; k++) {
      if (k) strcat(got, " ");
      strcat(got, items[k]);
      free(items[k]);
    }
    free(items);
    if (strcmp(got, want[i]) != 0)
      fail_msg("%s, member %s: got \"%s\", want \"%s\"", a->name, members[i].member_id, got,
               want[i]);
    mk_assignment_free(&out[i]);
  }
  free(out);
}

static const char *const t1[] = {"t1"};
static const char *const t2[] = {"t2"};
static const char *const t1t2[] = {"t1", "t2"};

/* ---- range ------------------------------------------------------------------------------- */

static void test_range_one_consumer_no_topic(void **state) {
  (void)state;
  const struct mk_assignor_member m[] = {{"c1", NULL, t1, 1}};
  check(&mk_range_assignor, NULL, 0, m, 1, (const char *const[]){""});
  const struct mk_assignor_topic unknown[] = {{"t1", 0}};  /* no metadata for it */
  check(&mk_range_assignor, unknown, 1, m, 1, (const char *const[]){""});
}

static void test_range_one_consumer_one_topic(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 3}};
  const struct mk_assignor_member m[] = {{"c1", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 1, m, 1, (const char *const[]){"t1-0 t1-1 t1-2"});
}

static void test_range_only_subscribed_topics(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 3}, {"t2", 2}};
  const struct mk_assignor_member m[] = {{"c1", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 2, m, 1, (const char *const[]){"t1-0 t1-1 t1-2"});
}

static void test_range_two_consumers_one_partition(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 1}};
  const struct mk_assignor_member m[] = {{"c1", NULL, t1, 1}, {"c2", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 1, m, 2, (const char *const[]){"t1-0", ""});
}

static void test_range_mixed_subscriptions(void **state) {
  (void)state;
  /* RangeAssignorTest.testMultipleConsumersMixedTopics */
  const struct mk_assignor_topic topics[] = {{"t1", 3}, {"t2", 2}};
  const struct mk_assignor_member m[] = {
      {"consumer1", NULL, t1, 1}, {"consumer2", NULL, t1t2, 2}, {"consumer3", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 2, m, 3,
        (const char *const[]){"t1-0", "t1-1 t2-0 t2-1", "t1-2"});
}

static void test_range_two_topics_co_partitioned(void **state) {
  (void)state;
  /* testTwoConsumersTwoTopicsSixPartitions: the same numbers of both topics */
  const struct mk_assignor_topic topics[] = {{"t1", 3}, {"t2", 3}};
  const struct mk_assignor_member m[] = {{"consumer1", NULL, t1t2, 2},
                                         {"consumer2", NULL, t1t2, 2}};
  check(&mk_range_assignor, topics, 2, m, 2,
        (const char *const[]){"t1-0 t1-1 t2-0 t2-1", "t1-2 t2-2"});
}

static void test_range_runs_and_remainder(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 7}};
  const struct mk_assignor_member m[] = {
      {"a", NULL, t1, 1}, {"b", NULL, t1, 1}, {"c", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 1, m, 3,
        (const char *const[]){"t1-0 t1-1 t1-2", "t1-3 t1-4", "t1-5 t1-6"});
}

static void test_result_follows_member_ids_not_list_order(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 6}};
  const struct mk_assignor_member m[] = {{"zz", NULL, t1, 1}, {"aa", NULL, t1, 1}};
  check(&mk_range_assignor, topics, 1, m, 2,
        (const char *const[]){"t1-3 t1-4 t1-5", "t1-0 t1-1 t1-2"});
}

static void test_static_members_come_first(void **state) {
  (void)state;
  /* MemberInfo order: group.instance.id first (by it), then dynamic ones by member id */
  const struct mk_assignor_topic topics[] = {{"t1", 3}};
  const struct mk_assignor_member m[] = {{"a-dynamic", NULL, t1, 1},
                                         {"z-static", "instance-2", t1, 1},
                                         {"y-static", "instance-1", t1, 1}};
  check(&mk_range_assignor, topics, 1, m, 3, (const char *const[]){"t1-2", "t1-1", "t1-0"});
  struct mk_assignor_member x = {"a", "i", NULL, 0}, y = {"b", NULL, NULL, 0};
  assert_true(mk_assignor_member_cmp(&x, &y) < 0);
  assert_true(mk_assignor_member_cmp(&y, &x) > 0);
}

/* ---- roundrobin -------------------------------------------------------------------------- */

static void test_round_robin_two_consumers_two_topics(void **state) {
  (void)state;
  /* RoundRobinAssignorTest.testTwoConsumersTwoTopicsSixPartitions */
  const struct mk_assignor_topic topics[] = {{"t2", 3}, {"t1", 3}};  /* sorted inside */
  const struct mk_assignor_member m[] = {{"consumer1", NULL, t1t2, 2},
                                         {"consumer2", NULL, t1t2, 2}};
  check(&mk_round_robin_assignor, topics, 2, m, 2,
        (const char *const[]){"t1-0 t1-2 t2-1", "t1-1 t2-0 t2-2"});
}

static void test_round_robin_mixed_subscriptions(void **state) {
  (void)state;
  /* testMultipleConsumersMixedTopics: a member not subscribed to a topic is passed over */
  const struct mk_assignor_topic topics[] = {{"t1", 3}, {"t2", 2}};
  const struct mk_assignor_member m[] = {
      {"consumer1", NULL, t1, 1}, {"consumer2", NULL, t1t2, 2}, {"consumer3", NULL, t1, 1}};
  check(&mk_round_robin_assignor, topics, 2, m, 3,
        (const char *const[]){"t1-0", "t1-1 t2-0 t2-1", "t1-2"});
}

static void test_round_robin_only_one_topic_each(void **state) {
  (void)state;
  const struct mk_assignor_topic topics[] = {{"t1", 2}, {"t2", 2}};
  const struct mk_assignor_member m[] = {{"c1", NULL, t1, 1}, {"c2", NULL, t2, 1}};
  check(&mk_round_robin_assignor, topics, 2, m, 2, (const char *const[]){"t1-0 t1-1", "t2-0 t2-1"});
}

static void test_round_robin_balances_across_topics(void **state) {
  (void)state;
  /* range would give c1 both extra partitions (t1-0..1, t2-0..1 vs t1-2, t2-2); round robin
   * deals them so the counts differ by at most one over all topics */
  const struct mk_assignor_topic topics[] = {{"t1", 3}, {"t2", 3}, {"t3", 1}};
  const char *const all[] = {"t1", "t2", "t3"};
  const struct mk_assignor_member m[] = {{"c1", NULL, all, 3}, {"c2", NULL, all, 3}};
  check(&mk_round_robin_assignor, topics, 3, m, 2,
        (const char *const[]){"t1-0 t1-2 t2-1 t3-0", "t1-1 t2-0 t2-2"});
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_assignor_names(void **state) {
  (void)state;
  assert_ptr_equal(mk_partition_assignor_find("range"), &mk_range_assignor);
  assert_ptr_equal(mk_partition_assignor_find("RangeAssignor"), &mk_range_assignor);
  assert_ptr_equal(mk_partition_assignor_find("org.apache.kafka.clients.consumer.RangeAssignor"),
                   &mk_range_assignor);
  assert_ptr_equal(mk_partition_assignor_find("roundrobin"), &mk_round_robin_assignor);
  assert_ptr_equal(
      mk_partition_assignor_find("org.apache.kafka.clients.consumer.RoundRobinAssignor"),
      &mk_round_robin_assignor);
  /* not implemented: never pretended */
  assert_null(mk_partition_assignor_find("cooperative-sticky"));
  assert_null(
      mk_partition_assignor_find("org.apache.kafka.clients.consumer.CooperativeStickyAssignor"));
  assert_null(mk_partition_assignor_find("sticky"));
  assert_null(mk_partition_assignor_find("Range"));
  assert_null(mk_partition_assignor_find(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_range_one_consumer_no_topic),
      cmocka_unit_test(test_range_one_consumer_one_topic),
      cmocka_unit_test(test_range_only_subscribed_topics),
      cmocka_unit_test(test_range_two_consumers_one_partition),
      cmocka_unit_test(test_range_mixed_subscriptions),
      cmocka_unit_test(test_range_two_topics_co_partitioned),
      cmocka_unit_test(test_range_runs_and_remainder),
      cmocka_unit_test(test_result_follows_member_ids_not_list_order),
      cmocka_unit_test(test_static_members_come_first),
      cmocka_unit_test(test_round_robin_two_consumers_two_topics),
      cmocka_unit_test(test_round_robin_mixed_subscriptions),
      cmocka_unit_test(test_round_robin_only_one_topic_each),
      cmocka_unit_test(test_round_robin_balances_across_topics),
      cmocka_unit_test(test_assignor_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
