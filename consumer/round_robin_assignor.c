/*
 * RoundRobinAssignor ("roundrobin"). See partition_assignor.h.
 * Kafka: clients/.../consumer/RoundRobinAssignor.java.
 *
 * Every partition of every topic anyone subscribes to, sorted by topic name and then
 * partition number, is dealt like cards around the members (in MemberInfo order). A
 * member that does not subscribe to the partition's topic is passed over, and the deal
 * continues from the member after the one that got it. When all members subscribe to the
 * same topics, the counts differ by at most one across all topics together (range only
 * balances each topic on its own).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/partition_assignor.h"

static int cmp_topic(const void *a, const void *b) {
  return strcmp((*(const struct mk_assignor_topic *const *)a)->name,
                (*(const struct mk_assignor_topic *const *)b)->name);
}

static int assign(const struct mk_assignor_topic *topics, int ntopics,
                  const struct mk_assignor_member *members, int nmembers,
                  struct mk_assignment *out) {
  if (nmembers == 0) return 0;
  /* The topics someone subscribes to and that metadata knows, sorted by name. */
  const struct mk_assignor_topic **sorted =
      malloc(sizeof *sorted * (size_t)(ntopics ? ntopics : 1));
  if (!sorted) return MK_ERR__NO_MEMORY;
  int n = 0;
  for (int t = 0; t < ntopics; t++) {
    bool wanted = false;
    for (int i = 0; i < nmembers && !wanted; i++)
      wanted = mk_assignor_member_subscribes(&members[i], topics[t].name);
    if (wanted && topics[t].partitions > 0) sorted[n++] = &topics[t];
  }
  if (n > 1) qsort(sorted, (size_t)n, sizeof *sorted, cmp_topic);
  int next = 0;  /* the member the deal comes to next */
  for (int t = 0; t < n; t++) {
    for (int32_t p = 0; p < sorted[t]->partitions; p++) {
      /* Someone subscribes to this topic, so the search ends within one turn. */
      while (!mk_assignor_member_subscribes(&members[next], sorted[t]->name))
        next = (next + 1) % nmembers;
      if (mk_assignment_add(&out[next], sorted[t]->name, p)) {
        free(sorted);
        return MK_ERR__NO_MEMORY;
      }
      next = (next + 1) % nmembers;
    }
  }
  free(sorted);
  return 0;
}

const struct mk_partition_assignor mk_round_robin_assignor = {
    .name = "roundrobin",
    .class_name = "org.apache.kafka.clients.consumer.RoundRobinAssignor",
    .assign = assign,
};
