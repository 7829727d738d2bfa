/*
 * The consumer, internal: the object its files share, and what they call in each other.
 * Not installed; users see consumer.h only.
 *
 *   consumer.c              KafkaConsumer: the public calls, the poll loop, metadata
 *   consumer_coordinator.c  ConsumerCoordinator + AbstractCoordinator: the group membership
 *   committed_offsets.c     the group's committed offsets: OffsetCommit, OffsetFetch
 *   heartbeat.c             Heartbeat + the heartbeat thread
 *   fetcher.c               Fetcher: ListOffsets, Fetch, batches into records
 *   subscription_state.c    SubscriptionState: assignment and positions
 *   partition_assignor.c, range_assignor.c, round_robin_assignor.c: the assignors
 *
 * Thread: app, except what consumer_coordinator.h marks as shared with the heartbeat thread.
 */
#ifndef MK_CONSUMER_CONSUMER_INTERNAL_H
#define MK_CONSUMER_CONSUMER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "consumer/consumer.h"
#include "consumer/subscription_state.h"
#include "protocol/arena.h"
#include "protocol/messages/fetch.h"
#include "protocol/primitives.h"

struct mk_consumer_coordinator;

/* One topic as the last Metadata answer described it (Java's Cluster, for our topics). */
struct mk_topic_metadata {
  char *name;
  struct mk_uuid id;         /* for Fetch v13+ */
  int16_t error;             /* the topic's error code (UNKNOWN_TOPIC_OR_PARTITION, ...) */
  int32_t npartitions;
  int32_t *leaders;          /* by partition number; -1: no leader now */
};

/* Java's CompletedFetch: one partition's share of a Fetch answer, read into records, handed
 * out by poll() up to max.poll.records at a time. */
struct mk_completed_fetch {
  char *topic;               /* in the fetch's arena */
  int32_t partition;
  int64_t expected_position; /* the position these records continue from: a seek or a
                                rebalance in between makes them stale */
  int first, end, next;      /* its records: fetch.records[first..end), next not yet given */
  int64_t next_fetch_offset; /* the offset after its last whole batch (past markers too) */
};

/* What the last Fetch round brought, until poll() has handed it all out. */
struct mk_fetch_buffer {
  struct mk_arena arena;     /* response frames, topic names, the arrays below */
  uint8_t **owned;           /* decompressed batches the records point into (malloc'd) */
  int nowned, owned_cap;
  struct mk_consumer_record *records;
  int nrecords, records_cap;
  struct mk_completed_fetch *fetches;
  int nfetches, fetches_cap, next_fetch;
};

struct mk_consumer {
  struct mk_consumer_config *cfg;      /* our copy */
  struct mk_client client;             /* the app thread's connections */
  int wake_pipe[2];                    /* mk_consumer_wakeup writes, waits watch the read end */
  struct mk_subscription_state subs;
  struct mk_consumer_rebalance_listener listener;
  struct mk_consumer_coordinator *coordinator;  /* NULL without group.id */

  /* metadata (ConsumerMetadata) */
  struct mk_topic_metadata *topics;
  int ntopics;
  bool need_metadata;
  int64_t metadata_ms;                 /* when it was last refreshed */

  bool bootstrapped;                   /* a bootstrap server has answered once */
  bool skip_corrupt;                   /* mk_consumer_skip_corrupt_batches */
  struct mk_fetch_buffer fetch;        /* fetcher.c */
  struct mk_consumer_record *given;    /* the records of the last poll (a copy) */
  int ngiven, given_cap;
  char last_warning[256];              /* to log each retriable problem once */
};

/* ---- consumer.c ---- */
/* Log a retriable problem once (until a different one comes). */
void mk_consumer_warn(struct mk_consumer *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Refresh metadata for the topics we want (plus extra, for the leader's assignment),
 * learning leaders and partition counts. Returns 0, or an error in err (retriable ones are
 * the caller's to retry). Borrows extra. */
int mk_consumer_refresh_metadata(struct mk_consumer *c, const char *const *extra, int nextra,
                                 struct mk_err *err);
const struct mk_topic_metadata *mk_consumer_topic(const struct mk_consumer *c, const char *name);
/* Connect to the first bootstrap server that answers (again). Returns 0 or an error. */
int mk_consumer_rebootstrap(struct mk_consumer *c, struct mk_err *err);
/* ms now (monotonic). */
int64_t mk_consumer_now_ms(void);
/* Sleep up to ms, returning early (true) if mk_consumer_wakeup was called. */
bool mk_consumer_sleep(struct mk_consumer *c, int64_t ms);

/* ---- fetcher.c ---- */
/* Look up the start of every partition in AWAIT_RESET (ListOffsets to its leader).
 * Returns 0, or a fatal error (err). */
int mk_fetcher_reset_offsets(struct mk_consumer *c, struct mk_err *err);
/* The offsets at timestamp (MK_OFFSET_EARLIEST / _LATEST) of parts, from their leaders as
 * the last metadata knows them. Returns 0 with offsets[n] filled, or the first partition's
 * error (retriable ones: refresh metadata and ask again). */
int mk_fetcher_list_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                            int64_t timestamp, int64_t *offsets, struct mk_err *err);
/* One Fetch to every leader of a FETCHING partition, held by the broker up to max_wait_ms;
 * the answers go into c->fetch. Returns 0 (*sent: whether any request went out) or a fatal
 * error. Retriable errors set need_metadata / reset positions and are logged. */
int mk_fetcher_fetch(struct mk_consumer *c, int64_t max_wait_ms, bool *sent, struct mk_err *err);
/* One partition of a Fetch answer (pd) from node: its batches read into c->fetch as records,
 * or its error handled (a reset, a metadata refresh). topic must outlive c->fetch (the
 * fetch's arena, or the caller's). Returns 0 or a fatal error. (fuzz_fetcher calls it too.) */
int mk_fetcher_take_partition(struct mk_consumer *c, const char *topic, int32_t node,
                              const struct mk_fetch_partition_data *pd, struct mk_err *err);
/* Hand out up to max records from c->fetch, moving the positions past them. Returns how
 * many were put at out (which has room for max). */
int mk_fetcher_collect(struct mk_consumer *c, struct mk_consumer_record *out, int max);
/* Whether c->fetch still holds records or positions to hand out. */
bool mk_fetcher_has_buffered(const struct mk_consumer *c);
/* Drop what c->fetch holds (after a rebalance or a seek, and before each new fetch). */
void mk_fetcher_clear(struct mk_consumer *c);

#endif
