/*
 * Cluster: the virtual brokers, topics, partitions and replicas one process simulates.
 * Kafka: the controller's metadata (MetadataCache, Partition.scala).
 *
 *   struct mk_cluster          what the controller knows: settings, brokers, topics
 *     struct mk_node[N]        virtual broker i: node id i, its port, up or down
 *     struct mk_topic list     each with a uuid and partitions
 *       struct mk_partition    leader, leader epoch, high watermark, producer state
 *         struct mk_replica[]  one per replica broker: its own log (struct mk_log),
 *                              whether it is in the ISR, its own HW, what the leader
 *                              knows of it, its fetcher's state (replica_fetcher.h)
 *
 * Replica placement follows Kafka's rack-unaware assignment: partition p's
 * replica list starts at broker (start + p) % N and continues round the ring,
 * and the first replica is the preferred leader. So leaders spread across
 * virtual brokers, and each partition's replicas sit on distinct brokers.
 *
 * Every replica keeps a whole log, but the batches in those logs are shared:
 * a follower's fetched copy of a batch is one more reference to the leader's bytes.
 *
 * This is the model only: no sockets, no timers. The runtime that serves it (the loop,
 * the listeners and connections, the timers that drive replication) is struct mk_broker
 * in broker_internal.h, which holds one struct mk_cluster.
 *
 * Thread: broker loop, all of it.
 */
#ifndef MK_BROKER_CLUSTER_H
#define MK_BROKER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/faults.h"
#include "broker/partition_log.h"
#include "broker/producer_state.h"
#include "protocol/primitives.h"

/* A virtual broker as clients see it in Metadata (Kafka's Node: id, host, port). Its
 * listener and connections are the runtime's (struct mk_listener, network.h). */
struct mk_node {
  int32_t id;
  int port;                  /* where it listens (known after bind) */
  bool up;                   /* false after a broker_down fault */
};

/* Topic-level settings (Kafka topic configs); -1 means "use the broker's value". */
struct mk_topic_config {
  int64_t retention_bytes;        /* retention.bytes */
  int64_t retention_ms;           /* retention.ms */
  int32_t min_insync_replicas;    /* min.insync.replicas */
  int32_t max_message_bytes;      /* max.message.bytes */
  int32_t message_timestamp_type; /* message.timestamp.type: 0 CreateTime, 1 LogAppendTime */
};

/* Where a follower's fetcher stands (replica_fetcher.h). */
enum mk_fetch_state {
  MK_FETCH_STOPPED,               /* no fetching: the leader itself, no leader, its broker
                                     down, or paused */
  MK_FETCH_READY,                 /* sends a fetch on the next loop turn */
  MK_FETCH_PARKED,                /* its fetch waits at the leader for data (long poll) */
};

struct mk_replica {
  int32_t broker_id;
  bool in_isr;
  struct mk_log log;              /* this replica's copy of the partition */
  /* The follower's own view (Kafka: the follower's UnifiedLog.highWatermark). For the
   * leader replica the partition's high_watermark is the one that counts. */
  int64_t high_watermark;         /* min(its LEO, the leader's HW in its last fetch answer) */
  /* The leader's view of this follower, learnt only from its fetches (Kafka: ReplicaState
   * in Replica.scala, which the leader keeps per follower). */
  int64_t leader_view_leo;        /* the offset of its last fetch; -1 = none yet under
                                     this leader */
  int64_t last_caught_up_ms;      /* Kafka's lastCaughtUpTimeMs, floor set on election */
  /* Its fetcher (replica_fetcher.c): Kafka's per-partition state in a fetcher thread. */
  enum mk_fetch_state fetch_state;
  int64_t fetch_sent_ms;          /* when its parked fetch reached the leader */
  int64_t fetch_due_ms;           /* when the leader must answer the parked fetch anyway
                                     (a lagged batch falls due, or the long poll's
                                     replica.fetch.wait.max.ms ends with news); -1 none */
  /* Fault controls (followers only). */
  bool paused;                    /* follower_pause: fetches nothing until resumed */
  int64_t lag_ms;                 /* follower_lag: copies each batch this long after the
                                     leader appended it; 0 = at once */
};

struct mk_partition {
  struct mk_topic *topic;
  int32_t index;
  int32_t leader;                 /* broker id of the leader, -1 if none */
  int32_t leader_epoch;           /* bumped on every leadership change */
  int64_t high_watermark;         /* the leader's: min over the ISR of what it knows of
                                     each replica's log end (replica_set.h) */
  int nreplicas;
  struct mk_replica *replicas;    /* replicas[0] is the preferred leader */
  struct mk_producer_state producers;  /* idempotent producers' sequences (on the leader) */
};

struct mk_topic {
  char *name;
  struct mk_uuid id;
  int32_t npartitions;
  struct mk_partition **partitions;  /* each on its own: pointers to one stay valid when
                                        partitions are added (CreatePartitions) */
  struct mk_topic_config config;
  bool compacted;    /* a service's own log (__consumer_offsets, __transaction_state,
                        _schemas): Kafka compacts these (cleanup.policy=compact) and never
                        deletes from them by time or size; neither retention nor
                        log.memory.max.bytes deletes from it here */
  struct mk_topic *next;
};

struct mk_cluster {
  struct mk_broker_config cfg;    /* the settings, defaults settled by mk_broker_new */
  struct mk_node nodes[MK_MAX_BROKERS];
  int nnodes;
  struct mk_topic *topics;
  int next_placement;             /* where the next topic's replica ring starts */
  char cluster_id[23];            /* base64-ish id, as Kafka's cluster ids look */
  int64_t next_producer_id;       /* InitProducerId hands these out */
  struct mk_log_usage log_usage;  /* what every log holds together (log.memory.max.bytes) */
};

/* The host clients are told to connect to (Metadata, DescribeCluster, the bootstrap string,
 * /v1/cluster): --advertised-host, else --host (Kafka's advertised.listeners, which default
 * to the listeners). */
const char *mk_cluster_advertised_host(const struct mk_cluster *c);

/* Find a topic by name; NULL if none. */
struct mk_topic *mk_cluster_find_topic(struct mk_cluster *c, struct mk_str name);
struct mk_topic *mk_cluster_find_topic_id(struct mk_cluster *c, struct mk_uuid id);

/* Check a topic name the way Kafka does (Topic.validate): 1-249 chars of [a-zA-Z0-9._-],
 * not "." or "..". Returns 0 or MK_ERR_INVALID_TOPIC_EXCEPTION with err saying why. */
int mk_cluster_validate_topic_name(struct mk_str name, struct mk_err *err);

/* Create a topic. replication_factor -1 = the broker default; partitions -1 = num.partitions.
 * Returns 0 with *out set, or TOPIC_ALREADY_EXISTS / INVALID_PARTITIONS /
 * INVALID_REPLICATION_FACTOR / INVALID_TOPIC_EXCEPTION with err. Borrows name. */
int mk_cluster_create_topic(struct mk_cluster *c, struct mk_str name, int32_t partitions,
                            int32_t replication_factor, struct mk_topic **out,
                            struct mk_err *err);

/* Grow t to count partitions (CreatePartitions), placed as Kafka places them, with t's
 * replication factor. Returns 0, or INVALID_PARTITIONS (count not above today's) /
 * INVALID_REPLICATION_FACTOR (not enough live brokers) with Kafka's message. */
int mk_cluster_add_partitions(struct mk_cluster *c, struct mk_topic *t, int32_t count,
                              struct mk_err *err);

/* Delete a topic and everything in it. */
void mk_cluster_delete_topic(struct mk_cluster *c, struct mk_topic *t);

/* The partition, or NULL when the topic has no such index. */
struct mk_partition *mk_cluster_partition(struct mk_topic *t, int32_t index);

/* The replica of p on broker_id, or NULL. */
struct mk_replica *mk_partition_replica(struct mk_partition *p, int32_t broker_id);
/* The leader's replica, or NULL if the partition has no leader. */
struct mk_replica *mk_partition_leader(struct mk_partition *p);
int mk_partition_isr_count(const struct mk_partition *p);
/* Where the partition's log starts: the leader's log start offset, or with no leader the
 * first replica's. */
int64_t mk_partition_log_start_offset(struct mk_partition *p);
/* The last stable offset (Kafka's UnifiedLog.lastStableOffset): the first offset of the
 * earliest transaction not yet decided and replicated (mk_producer_state_first_unstable_offset),
 * or the high watermark when there is none or it lies beyond it. What read_committed
 * consumers may read up to; with no transactions it is the high watermark. */
int64_t mk_partition_last_stable_offset(const struct mk_partition *p);
/* A topic id as Kafka prints it (Uuid.toString): its 16 bytes in url-safe base64,
 * unpadded, 22 characters (as `kafka-topics.sh --describe` shows it). */
void mk_topic_id_string(const struct mk_uuid *id, char out[23]);
/* Effective settings: the topic's value, else the broker's. */
int32_t mk_topic_min_insync_replicas(const struct mk_cluster *c, const struct mk_topic *t);
/* The topic's message.timestamp.type, else the broker's log.message.timestamp.type: whether
 * the broker stamps each batch with its own clock (LogAppendTime). */
bool mk_topic_log_append_time(const struct mk_cluster *c, const struct mk_topic *t);
int32_t mk_topic_max_message_bytes(const struct mk_cluster *c, const struct mk_topic *t);

/* Loop over every partition of every topic of cluster c, as `p`. */
#define MK_FOR_EACH_PARTITION(c, p)                                      \
  for (struct mk_topic *t_ = (c)->topics; t_; t_ = t_->next)            \
    for (struct mk_partition **pp_ = t_->partitions, *p;                 \
         pp_ < t_->partitions + t_->npartitions && (p = *pp_); pp_++)

/* The cluster as faults see it (faults.h): virtual brokers 0..nnodes-1, its topics. The
 * result borrows c. */
struct mk_fault_targets mk_cluster_fault_targets(const struct mk_cluster *c);

/* Free every topic (at shutdown). */
void mk_cluster_free(struct mk_cluster *c);

#endif
