/*
 * RangeAssignor ("range"): Kafka's default first choice. See partition_assignor.h.
 * Kafka: clients/.../consumer/RangeAssignor.java (without its rack-aware part, KIP-881:
 * we send no rack, so Kafka's would not use it either).
 *
 * Topic by topic, the members subscribed to it (in MemberInfo order) split its partitions
 * into consecutive runs: with P partitions and C members, each gets P / C, and the first
 * P % C members one more. 7 partitions over 3 members: 0-2, 3-4, 5-6.
 *
 * Because each topic is split the same way, a member reading two topics with equally many
 * partitions gets the same partition numbers of both (what a join of co-partitioned topics
 * needs); the price is that the first members get the extra partition of every topic.
 */
#include <stdlib.h>

#include "consumer/partition_assignor.h"

static int assign(const struct mk_assignor_topic *topics, int ntopics,
                  const struct mk_assignor_member *members, int nmembers,
                  struct mk_assignment *out) {
  int *subscribed = malloc(sizeof *subscribed * (size_t)(nmembers ? nmembers : 1));
  if (!subscribed) return MK_ERR__NO_MEMORY;
  for (int t = 0; t < ntopics; t++) {
    const struct mk_assignor_topic *topic = &topics[t];
    if (topic->partitions < 1) continue;  /* no metadata for it: nothing to share */
    int c = 0;
    for (int i = 0; i < nmembers; i++)  /* members are already in MemberInfo order */
      if (mk_assignor_member_subscribes(&members[i], topic->name)) subscribed[c++] = i;
    if (c == 0) continue;
    int32_t per = topic->partitions / c, extra = topic->partitions % c;
    for (int k = 0; k < c; k++) {
      int32_t start = per * k + (k < extra ? k : extra);
      int32_t length = per + (k < extra ? 1 : 0);
      for (int32_t p = start; p < start + length; p++)
        if (mk_assignment_add(&out[subscribed[k]], topic->name, p)) {
          free(subscribed);
          return MK_ERR__NO_MEMORY;
        }
    }
  }
  free(subscribed);
  return 0;
}

const struct mk_partition_assignor mk_range_assignor = {
    .name = "range",
    .class_name = "org.apache.kafka.clients.consumer.RangeAssignor",
    .assign = assign,
};
