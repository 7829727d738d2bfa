/*
 * Partition assignors: how the leader of a consumer group shares out the partitions.
 * Kafka: clients/.../consumer/ConsumerPartitionAssignor.java, AbstractPartitionAssignor.java
 * (MemberInfo and its order), RangeAssignor.java, RoundRobinAssignor.java.
 *
 * The group coordinator never decides who reads what. Every member's JoinGroup lists the
 * assignors it can run, by name ("range", "roundrobin"), in order of preference; the
 * coordinator picks one that every member lists (the protocol, by vote), and hands the
 * leader (one of the members) everyone's subscription. The leader runs that assignor and
 * sends the result back in its SyncGroup; the coordinator passes each member its share:
 *
 *   members (sorted: group.instance.id first, then member id)   topics (partition counts)
 *        \                                                          /
 *         +----------------> assign() ------> one list of partitions per member
 *
 *   range       per topic: the members subscribed to it get consecutive runs of partitions,
 *               the first (partitions % members) of them one more. Members that read
 *               several topics get the same numbers of each (co-partitioned joins).
 *   roundrobin  every partition of every subscribed topic, sorted by topic and partition,
 *               dealt one at a time around the sorted members (skipping a member not
 *               subscribed to that topic).
 *
 * Both are "eager": a rebalance takes every partition from every member before the new
 * assignment. Kafka's default list is [range, cooperative-sticky]; the cooperative
 * (incremental) protocol of KIP-429 and the sticky assignors are not implemented here, so
 * a member of ours offers range and/or roundrobin only, and a group of ours with a member
 * that offers only cooperative-sticky is refused (INCONSISTENT_GROUP_PROTOCOL) by the
 * coordinator, as Kafka's would.
 *
 * Thread: any (assign() is a pure function). Memory: assign() borrows its inputs; the
 * assignment's array is the caller's to free with mk_assignment_free (its topic names
 * point into the input topics).
 */
#ifndef MK_CONSUMER_PARTITION_ASSIGNOR_H
#define MK_CONSUMER_PARTITION_ASSIGNOR_H

#include <stdint.h>

#include "protocol/errors.h"

struct mk_topic_partition {
  const char *topic;
  int32_t partition;
};

/* A topic the leader knows from metadata. */
struct mk_assignor_topic {
  const char *name;
  int32_t partitions;  /* how many (0..partitions-1); < 1: unknown topic, not assigned */
};

/* One member of the group, as its JoinGroup subscription describes it. */
struct mk_assignor_member {
  const char *member_id;
  const char *group_instance_id;   /* static membership; NULL for a dynamic member */
  const char *const *topics;       /* the topics it subscribes to */
  int ntopics;
};

/* What one member gets. */
struct mk_assignment {
  struct mk_topic_partition *v;
  int n, cap;
};

struct mk_partition_assignor {
  const char *name;        /* the protocol name on the wire: "range" */
  const char *class_name;  /* Java's: "org.apache.kafka.clients.consumer.RangeAssignor" */
  /* Fill out[i] (empty on entry) for members[i]. Returns 0 or MK_ERR__NO_MEMORY. */
  int (*assign)(const struct mk_assignor_topic *topics, int ntopics,
                const struct mk_assignor_member *members, int nmembers,
                struct mk_assignment *out);
};

extern const struct mk_partition_assignor mk_range_assignor;        /* range_assignor.c */
extern const struct mk_partition_assignor mk_round_robin_assignor;  /* round_robin_assignor.c */

/* The assignor named name: its protocol name ("range", "roundrobin") or Java's class name
 * (with or without the package). NULL for any other, including "sticky" and
 * "cooperative-sticky", which are not implemented. */
const struct mk_partition_assignor *mk_partition_assignor_find(const char *name);

/* Run a: members are put in Kafka's order first (MemberInfo.compareTo) so that every leader
 * computes the same result. out has nmembers entries, in the order of members (not sorted).
 * Returns 0 or MK_ERR__NO_MEMORY (out is then freed). */
int mk_partition_assignor_assign(const struct mk_partition_assignor *a,
                                 const struct mk_assignor_topic *topics, int ntopics,
                                 const struct mk_assignor_member *members, int nmembers,
                                 struct mk_assignment *out);

/* ---- for the assignors ---------------------------------------------------------------- */

/* Add (topic, partition) to a. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_assignment_add(struct mk_assignment *a, const char *topic, int32_t partition);
void mk_assignment_free(struct mk_assignment *a);
/* Whether m subscribes to topic. */
int mk_assignor_member_subscribes(const struct mk_assignor_member *m, const char *topic);
/* Kafka's MemberInfo order: members with a group.instance.id first, by it; then by member
 * id (a qsort comparator over const struct mk_assignor_member * elements). */
int mk_assignor_member_cmp(const void *a, const void *b);

#endif
