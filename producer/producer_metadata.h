/*
 * ProducerMetadata: the producer's picture of the cluster. Kafka: producer/internals/
 * ProducerMetadata.java, clients/Metadata.java, common/Cluster.java.
 *
 * Which brokers exist, and for each topic the producer uses: how many partitions, and
 * each partition's leader and leader epoch. The Sender is the only writer: it sends a
 * Metadata request when a new topic is needed, when a broker says the leader moved
 * (NOT_LEADER_OR_FOLLOWER) or a connection drops, and every metadata.max.age.ms.
 *
 * Application threads read it: mk_producer_metadata_topic() waits (up to max.block.ms)
 * until the topic is known, then returns an immutable snapshot of it — like Java's
 * Cluster object — that stays valid, whatever later updates do, until released. So the
 * partitioner works without holding any lock.
 *
 * Thread: as each function says ("sender" means the Sender thread only).
 */
#ifndef MK_PRODUCER_PRODUCER_METADATA_H
#define MK_PRODUCER_PRODUCER_METADATA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "producer/builtin_partitioner.h"
#include "protocol/errors.h"

struct mk_metadata_response;

/* One topic as one Metadata answer described it. Immutable once published. */
struct mk_topic_snapshot {
  atomic_int refs;
  int32_t count;                  /* partitions */
  int32_t *leaders;               /* leaders[p]: node id, -1 if none */
  int32_t *leader_epochs;
  int32_t *available;             /* partitions with a leader, ascending */
  int32_t navailable;
};

struct mk_producer_metadata;

/* Thread: any. Returns new (mk_producer_metadata_free). */
struct mk_producer_metadata *mk_producer_metadata_new(int64_t max_age_ms);
void mk_producer_metadata_free(struct mk_producer_metadata *md);

/* The partitioner's view of a snapshot (borrows s). */
static inline struct mk_topic_partitions mk_topic_snapshot_partitions(const struct mk_topic_snapshot *s) {
  struct mk_topic_partitions tp = {s->count, s->available, s->navailable};
  return tp;
}
void mk_topic_snapshot_release(struct mk_topic_snapshot *s);
/* Leader of partition in s (-1 unknown, or s NULL). */
static inline int32_t mk_topic_snapshot_leader(const struct mk_topic_snapshot *s, int32_t partition) {
  return s && partition >= 0 && partition < s->count ? s->leaders[partition] : -1;
}

/* Wait until topic is known, at most max_wait_ms, and return a new reference to its
 * snapshot; *waited_ms says how long that took (0 when it was known already, without a
 * clock read). wake(wake_arg) is called to ask the Sender for a Metadata request. Returns
 * NULL with err: REQUEST_TIMED_OUT ("Topic t not present in metadata after N ms", as
 * Java's TimeoutException), or the topic's fatal error (INVALID_TOPIC_EXCEPTION,
 * TOPIC_AUTHORIZATION_FAILED), or MK_ERR__STATE when closed. Thread: app. */
struct mk_topic_snapshot *mk_producer_metadata_topic(struct mk_producer_metadata *md,
                                                     const char *topic, int64_t max_wait_ms,
                                                     int64_t *waited_ms, void (*wake)(void *),
                                                     void *wake_arg, struct mk_err *err);

/* ---- the Sender's side ----------------------------------------------------------------- */

/* Ask for an update at the next chance (a leader moved, a connection dropped). Thread: any. */
void mk_producer_metadata_request_update(struct mk_producer_metadata *md);
/* Whether a Metadata request should be sent now: an update was asked for, a topic is
 * waiting, or the data is older than metadata.max.age.ms. Thread: sender. */
bool mk_producer_metadata_needs_update(struct mk_producer_metadata *md, int64_t now_ms);
/* The topics to ask about (all the producer uses). *names is new (free the array, not the
 * strings, which stay valid until mk_producer_metadata_free). Thread: sender. */
int mk_producer_metadata_topics(struct mk_producer_metadata *md, const char ***names);
/* Apply a Metadata response. Thread: sender. */
void mk_producer_metadata_update(struct mk_producer_metadata *md,
                                 const struct mk_metadata_response *resp, int64_t now_ms);
/* Wake waiting app threads with an error (the producer is closing). Thread: any. */
void mk_producer_metadata_close(struct mk_producer_metadata *md);

/* A snapshot of topic without waiting (new reference), or NULL. Thread: sender. */
struct mk_topic_snapshot *mk_producer_metadata_peek(struct mk_producer_metadata *md,
                                                   const char *topic);

/* A broker's address; false if unknown. Thread: sender. */
bool mk_producer_metadata_node(struct mk_producer_metadata *md, int32_t node_id, char *host,
                               size_t host_len, int *port);
/* The known broker ids (up to max); returns how many. Thread: sender. */
int mk_producer_metadata_nodes(struct mk_producer_metadata *md, int32_t *ids, int max);

#endif
