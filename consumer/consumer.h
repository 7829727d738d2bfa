/*
 * The consumer: Kafka's KafkaConsumer in miniature, with its classic consumer group.
 * Kafka: clients/.../consumer/KafkaConsumer.java (ClassicKafkaConsumer in 3.9/4.0) and its
 * internals: ConsumerCoordinator + AbstractCoordinator (consumer_coordinator.c), Heartbeat
 * and the heartbeat thread (heartbeat.c), SubscriptionState (subscription_state.c), Fetcher
 * (fetcher.c), ConsumerPartitionAssignor (partition_assignor.h), ConsumerConfig
 * (consumer_config.h). Lab: labs/consumer-groups/README.md.
 *
 *   cfg = mk_consumer_config_new(); set bootstrap.servers, group.id, ...; finish
 *   mk_consumer_new(cfg, &c)
 *   mk_consumer_subscribe(c, topics)        join the group: the coordinator's leader member
 *                                           shares the partitions out; or
 *   mk_consumer_assign(c, partitions)       read these partitions, no group membership
 *   loop:
 *     mk_consumer_poll(c, timeout, &recs)   everything happens in here, on the app thread:
 *        find the coordinator, (re)join the group if needed (revoking, then assigning
 *        partitions: the rebalance listener runs here), auto-commit when due, look up
 *        where each new partition starts (the committed offset, else auto.offset.reset),
 *        fetch, and return up to max.poll.records records
 *     ... process recs ...
 *   mk_consumer_commit_sync(c)              or let enable.auto.commit do it
 *   mk_consumer_close(c)                    commit (auto commit), LeaveGroup, free
 *
 * Next to the app thread runs the heartbeat thread (only with a group): every
 * heartbeat.interval.ms it sends a Heartbeat, so a consumer busy between polls keeps its
 * membership for up to max.poll.interval.ms; if poll() is not called for that long, the
 * heartbeat thread leaves the group (as Java's does) and the next poll() joins again.
 *
 * What a rebalance is, here as in Kafka's classic protocol with eager assignors: every
 * member gives up all its partitions (committing first, with auto commit), joins again,
 * and receives a new share, in a new generation. Positions start from the group's
 * committed offsets, so a record read but not committed before a crash is read again by
 * whoever gets its partition: at least once.
 *
 * Threads: every function is for the app thread (one at a time) except mk_consumer_wakeup
 * (any thread, and async-signal-safe: a SIGINT handler may call it). The rebalance
 * listener runs on the app thread, inside poll() (and close()).
 * Memory: the records of a poll are the consumer's, valid until the next poll(),
 * mk_consumer_close or mk_consumer_abandon. The consumer copies its config and the topic
 * names it is given.
 */
#ifndef MK_CONSUMER_CONSUMER_H
#define MK_CONSUMER_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "consumer/consumer_config.h"
#include "consumer/partition_assignor.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"

struct mk_consumer;

/* One record, as ConsumerRecord. */
struct mk_consumer_record {
  const char *topic;
  int32_t partition;
  int64_t offset;
  int64_t timestamp;
  bool log_append_time;     /* timestamp type LogAppendTime (else CreateTime) */
  int32_t leader_epoch;     /* the batch's partition_leader_epoch */
  struct mk_record record;  /* key, value, headers (read with mk_record_next_header) */
};

/* What one poll() returned. */
struct mk_consumer_records {
  const struct mk_consumer_record *v;
  int n;
};

/* The group membership as this member knows it (Java's ConsumerGroupMetadata). */
struct mk_consumer_group_metadata {
  char group_id[256];
  int32_t generation_id;    /* -1 outside a generation */
  char member_id[256];      /* "" before the first join */
  char group_instance_id[256];
  char protocol[32];        /* the assignor the coordinator chose: "range" */
  bool leader;              /* this member ran the assignor of the current generation */
};

/* Java's ConsumerRebalanceListener. Both callbacks may be NULL. Thread: app, inside
 * poll() or close(). The partitions are valid during the call only. */
struct mk_consumer_rebalance_listener {
  void *opaque;
  /* Before a rebalance takes the partitions (after the auto commit), and on close. */
  void (*on_partitions_revoked)(void *opaque, struct mk_consumer *c,
                                const struct mk_topic_partition *parts, int n);
  /* After a rebalance, with this generation's share (positions not yet looked up). */
  void (*on_partitions_assigned)(void *opaque, struct mk_consumer *c,
                                 const struct mk_topic_partition *parts, int n);
};

/* Create a consumer from a finished config (copied). Starts no thread and opens no
 * connection yet. Returns 0 or an error (err says why). Returns new: mk_consumer_close. */
int mk_consumer_new(const struct mk_consumer_config *cfg, struct mk_consumer **out,
                    struct mk_err *err);

/* Subscribe to these topics (replacing any earlier subscription) and take part in the
 * group (group.id is required). The join happens in the next poll(). listener may be NULL
 * (it is copied). Returns 0 or MK_ERR__INVALID_ARG / MK_ERR__STATE. Borrows topics. */
int mk_consumer_subscribe(struct mk_consumer *c, const char *const *topics, int ntopics,
                          const struct mk_consumer_rebalance_listener *listener,
                          struct mk_err *err);

/* Read exactly these partitions, outside any group rebalance (Java's assign()); commits
 * still go to group.id if there is one. Positions start from the committed offset (with a
 * group.id), else auto.offset.reset, unless mk_consumer_seek* says otherwise. Borrows parts. */
int mk_consumer_assign(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                       struct mk_err *err);

/* Wait up to timeout_ms for records and return them in *out (n may be 0). Returns 0;
 * MK_ERR__STATE after mk_consumer_wakeup (err says "woken up"); or a fatal error (an
 * offset out of range with auto.offset.reset=none, a refused group, an unreadable batch,
 * ...; err says what). Retriable problems (a leader moving, a coordinator loading) are
 * retried inside, logged once each. */
int mk_consumer_poll(struct mk_consumer *c, int64_t timeout_ms, struct mk_consumer_records *out,
                     struct mk_err *err);

/* Commit the positions of every assigned partition (what poll() has returned so far) and
 * wait for the answer, up to default.api.timeout.ms. Returns 0, or MK_ERR__STATE without a
 * group, or the error that made the commit fail (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID /
 * REBALANCE_IN_PROGRESS: the group moved on, and the next poll() joins again: Java's
 * CommitFailedException and RebalanceInProgressException). */
int mk_consumer_commit_sync(struct mk_consumer *c, struct mk_err *err);

/* Commit these offsets (the next offset to read, per partition). As commit_sync. */
int mk_consumer_commit_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts,
                               const int64_t *offsets, int n, struct mk_err *err);

/* The group's committed offset of each partition (-1: none), asked of the coordinator.
 * Returns 0 or an error. Borrows parts; fills offsets[n]. */
int mk_consumer_committed(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                          int64_t *offsets, struct mk_err *err);

/* Every offset the consumer's group has committed, whatever the topic (what Java's
 * Admin.listConsumerGroupOffsets answers, asked through this consumer's coordinator):
 * fn(opaque, topic, partition, offset) once per partition, in the coordinator's order.
 * The strings are valid during the call. Returns 0 or an error. */
int mk_consumer_list_group_offsets(struct mk_consumer *c,
                                   void (*fn)(void *opaque, const char *topic, int32_t partition,
                                              int64_t offset),
                                   void *opaque, struct mk_err *err);

/* The offsets at timestamp of these partitions (assigned or not): -2 (MK_OFFSET_EARLIEST,
 * Java's beginningOffsets) the log start, -1 (MK_OFFSET_LATEST, endOffsets) the log end
 * (the high watermark; the last stable offset with read_committed). Retries retriable
 * errors up to default.api.timeout.ms. Returns 0 with offsets[n] filled, or an error.
 * Borrows parts. */
int mk_consumer_list_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                             int64_t timestamp, int64_t *offsets, struct mk_err *err);

/* How many partitions topic has (Java's partitionsFor), asking for metadata. Returns 0, or
 * UNKNOWN_TOPIC_OR_PARTITION (retriable: it may be being created) or another error. */
int mk_consumer_partitions_for(struct mk_consumer *c, const char *topic, int32_t *count,
                               struct mk_err *err);

/* The position (next offset poll() will return) of an assigned partition, or -1 if it is
 * not assigned or not yet known. */
int64_t mk_consumer_position(struct mk_consumer *c, const char *topic, int32_t partition);
/* The partition's high watermark as the last fetch saw it (for lag), or -1. */
int64_t mk_consumer_high_watermark(struct mk_consumer *c, const char *topic, int32_t partition);

/* Start an assigned partition at offset (next poll), at its beginning, or at its end. Returns
 * 0 or MK_ERR__STATE if the partition is not assigned. */
int mk_consumer_seek(struct mk_consumer *c, const char *topic, int32_t partition, int64_t offset,
                     struct mk_err *err);
void mk_consumer_seek_to_beginning(struct mk_consumer *c);
void mk_consumer_seek_to_end(struct mk_consumer *c);

/* A batch that fails its CRC or cannot be read is logged and skipped, instead of failing
 * poll() (what the console consumer's --skip-message-on-error asks for). Off by default. */
void mk_consumer_skip_corrupt_batches(struct mk_consumer *c, bool skip);

/* The partitions assigned now, into out (up to max); returns how many there are. */
int mk_consumer_assignment(struct mk_consumer *c, struct mk_topic_partition *out, int max);

/* This member's view of its group. */
void mk_consumer_group_metadata(struct mk_consumer *c, struct mk_consumer_group_metadata *out);

/* Make the poll() in progress (or the next one) return MK_ERR__STATE at once. Thread: any;
 * async-signal-safe. */
void mk_consumer_wakeup(struct mk_consumer *c);

/* Close: commit the positions (enable.auto.commit), run on_partitions_revoked, leave the
 * group (unless a static member or internal.leave.group.on.close=false), stop the heartbeat
 * thread and free everything. Waits at most default.api.timeout.ms for the commit and the
 * LeaveGroup. NULL is allowed. */
void mk_consumer_close(struct mk_consumer *c);

/* Free the consumer as a crashed process leaves it: no commit, no LeaveGroup, no listener;
 * the connections just close. The coordinator learns of it only when session.timeout.ms
 * passes without a heartbeat. For labs and tests. NULL is allowed. */
void mk_consumer_abandon(struct mk_consumer *c);

#endif
