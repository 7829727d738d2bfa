/*
 * SubscriptionState: what the consumer reads, and where it is in each partition.
 * Kafka: clients/.../consumer/internals/SubscriptionState.java (TopicPartitionState,
 * FetchStates).
 *
 * Two ways in: subscribe(topics) lets the group decide the partitions (the coordinator's
 * assignment replaces them at every rebalance); assign(partitions) names them outright.
 * Each assigned partition then moves through these states:
 *
 *   AWAIT_COMMITTED  just assigned, in a group: ask the coordinator for the group's
 *                    committed offset (OffsetFetch)
 *   AWAIT_RESET      no committed offset (or a seek to beginning/end, or the offset fell out
 *                    of the log): ask the leader (ListOffsets) per auto.offset.reset
 *   FETCHING         the position is known: Fetch from it; poll() moves it past what it
 *                    returns
 *
 * The position is the offset of the next record poll() will return, which is also what a
 * commit stores: "the next record to read", never "the last one read".
 *
 * Thread: app (the consumer's). Memory: the state owns its topic names and array.
 */
#ifndef MK_CONSUMER_SUBSCRIPTION_STATE_H
#define MK_CONSUMER_SUBSCRIPTION_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "consumer/consumer_config.h"
#include "consumer/partition_assignor.h"

enum mk_fetch_state { MK_AWAIT_COMMITTED, MK_AWAIT_RESET, MK_FETCHING };

/* One assigned partition (TopicPartitionState). */
struct mk_partition_state {
  char *topic;               /* owned */
  int32_t partition;
  enum mk_fetch_state state;
  int64_t position;          /* FETCHING: the next offset to return */
  int64_t reset_to;          /* AWAIT_RESET: MK_OFFSET_EARLIEST or MK_OFFSET_LATEST */
  int32_t leader;            /* node id from metadata, -1 unknown */
  int64_t high_watermark;    /* from the last fetch answer, -1 before */
};

struct mk_subscription_state {
  char **topics;             /* subscribe()'s topics (owned), sorted; NULL with assign() */
  int ntopics;
  bool user_assigned;        /* assign() was used */
  struct mk_partition_state *parts;  /* the assignment, sorted by topic and partition */
  int nparts;
};

/* Replace the subscription by these topics (copied, sorted, duplicates dropped); the
 * assignment is cleared. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_subscription_subscribe(struct mk_subscription_state *s, const char *const *topics, int n);

/* Replace the assignment by these partitions (copied; duplicates dropped). Each starts in
 * AWAIT_COMMITTED if in_group, else AWAIT_RESET to default_reset. Returns 0 or
 * MK_ERR__NO_MEMORY (the assignment is then empty). */
int mk_subscription_assign(struct mk_subscription_state *s, const struct mk_topic_partition *parts,
                           int n, bool in_group, int64_t default_reset);

/* The partition's state, or NULL if it is not assigned. */
struct mk_partition_state *mk_subscription_find(struct mk_subscription_state *s,
                                                const char *topic, int32_t partition);

/* Whether topic is subscribed to (subscribe()) or has an assigned partition (assign()). */
bool mk_subscription_wants_topic(const struct mk_subscription_state *s, const char *topic);

/* Move p to FETCHING at offset / to AWAIT_RESET toward reset_to. */
void mk_subscription_seek(struct mk_partition_state *p, int64_t offset);
void mk_subscription_request_reset(struct mk_partition_state *p, int64_t reset_to);

/* The assignment as topic-partition pairs into out (up to max; the names are borrowed from
 * the state); returns nparts. */
int mk_subscription_assignment(const struct mk_subscription_state *s,
                               struct mk_topic_partition *out, int max);

void mk_subscription_free(struct mk_subscription_state *s);

#endif
