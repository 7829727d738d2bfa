/*
 * Cluster: the virtual brokers, topics, partitions and replicas one process simulates.
 * Kafka: the controller's metadata (MetadataCache, Partition.scala).
 *
 *   struct mk_broker           the whole process: one loop, N virtual brokers
 *     struct mk_node[N]        virtual broker i: node id i, its own listener and port
 *     struct mk_topic list     each with a uuid and partitions
 *       struct mk_partition    leader, leader epoch, high watermark, producer state
 *         struct mk_replica[]  one per replica broker: its own log (struct mk_log),
 *                              whether it is in the ISR
 *
 * Replica placement follows Kafka's rack-unaware assignment: partition p's
 * replica list starts at broker (start + p) % N and continues round the ring,
 * and the first replica is the preferred leader. So leaders spread across
 * virtual brokers, and each partition's replicas sit on distinct brokers.
 *
 * Every replica keeps a whole log, but the batches in those logs are shared:
 * a follower's copy of a batch is one more reference to the leader's bytes.
 *
 * Thread: broker loop, all of it.
 */
#ifndef MK_BROKER_CLUSTER_H
#define MK_BROKER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/broker.h"
#include "broker/partition_log.h"
#include "broker/producer_state.h"
#include "protocol/primitives.h"

#define MK_MAX_BROKERS 16

struct mk_conn;
struct mk_quota_client;

/* A virtual broker. */
struct mk_node {
  int32_t id;
  int port;                  /* where it listens (known after bind) */
  bool up;                   /* false after a broker_down fault */
  uv_tcp_t *listener;        /* owned; NULL while down (freed when its close completes) */
  struct mk_broker *broker;
  struct mk_conn *conns;     /* open client connections, linked through conn->next */
  struct mk_quota_client *quota_clients;  /* quota.c: each client id's produce rate here */
};

/* Topic-level settings (Kafka topic configs); -1 means "use the broker's value". */
struct mk_topic_config {
  int64_t retention_bytes;        /* retention.bytes */
  int64_t retention_ms;           /* retention.ms */
  int32_t min_insync_replicas;    /* min.insync.replicas */
  int32_t max_message_bytes;      /* max.message.bytes */
};

struct mk_replica {
  int32_t broker_id;
  bool in_isr;
  struct mk_log log;              /* this replica's copy of the partition */
  /* Fault controls (followers only). */
  bool paused;                    /* follower_pause: copies nothing until resumed */
  int64_t lag_ms;                 /* follower_lag: copies each batch this long after the
                                     leader appended it; 0 = at once */
};

struct mk_partition {
  struct mk_topic *topic;
  int32_t index;
  int32_t leader;                 /* broker id of the leader, -1 if none */
  int32_t leader_epoch;           /* bumped on every leadership change */
  int64_t high_watermark;         /* min log end offset over the ISR */
  int nreplicas;
  struct mk_replica *replicas;    /* replicas[0] is the preferred leader */
  struct mk_producer_state producers;  /* idempotent producers' sequences (on the leader) */
};

struct mk_topic {
  char *name;
  struct mk_uuid id;
  int32_t npartitions;
  struct mk_partition *partitions;
  struct mk_topic_config config;
  struct mk_topic *next;
};

struct mk_broker {
  struct mk_broker_config cfg;
  uv_loop_t loop;
  struct mk_node nodes[MK_MAX_BROKERS];
  int nnodes;
  struct mk_topic *topics;
  int next_placement;             /* where the next topic's replica ring starts */
  char cluster_id[23];            /* base64-ish id, as Kafka's cluster ids look */
  char bootstrap[MK_MAX_BROKERS * 80];
  int64_t next_producer_id;       /* InitProducerId hands these out */
  struct mk_req *delayed;         /* requests waiting for the HW or for data (purgatory) */
  /* Cross-thread entry points (mk_broker_call, mk_broker_stop). */
  uv_timer_t retention_timer;     /* retention.c */
  uv_timer_t isr_timer;           /* replica_set.c: ISR expiry check */
  uv_timer_t lag_timer;           /* replica_set.c: copies for lagging followers */
  struct mk_fault *faults;        /* faults.c: armed and spent, newest first */
  int next_fault_id;
  uv_async_t wakeup;
  uv_mutex_t calls_lock;
  struct mk_broker_call *calls;
  bool stopping;
  bool running;
  uv_thread_t thread;
  bool threaded;
};

/* Find a topic by name; NULL if none. */
struct mk_topic *mk_cluster_find_topic(struct mk_broker *b, struct mk_str name);
struct mk_topic *mk_cluster_find_topic_id(struct mk_broker *b, struct mk_uuid id);

/* Check a topic name the way Kafka does (Topic.validate): 1-249 chars of [a-zA-Z0-9._-],
 * not "." or "..". Returns 0 or MK_ERR_INVALID_TOPIC_EXCEPTION with err saying why. */
int mk_cluster_validate_topic_name(struct mk_str name, struct mk_err *err);

/* Create a topic. replication_factor -1 = the broker default; partitions -1 = num.partitions.
 * Returns 0 with *out set, or TOPIC_ALREADY_EXISTS / INVALID_PARTITIONS /
 * INVALID_REPLICATION_FACTOR / INVALID_TOPIC_EXCEPTION with err. Borrows name. */
int mk_cluster_create_topic(struct mk_broker *b, struct mk_str name, int32_t partitions,
                            int32_t replication_factor, struct mk_topic **out,
                            struct mk_err *err);

/* Delete a topic and everything in it. */
void mk_cluster_delete_topic(struct mk_broker *b, struct mk_topic *t);

/* The partition, or NULL when the topic has no such index. */
struct mk_partition *mk_cluster_partition(struct mk_topic *t, int32_t index);

/* The replica of p on broker_id, or NULL. */
struct mk_replica *mk_partition_replica(struct mk_partition *p, int32_t broker_id);
/* The leader's replica, or NULL if the partition has no leader. */
struct mk_replica *mk_partition_leader(struct mk_partition *p);
int mk_partition_isr_count(const struct mk_partition *p);
/* Effective settings: the topic's value, else the broker's. */
int32_t mk_topic_min_insync_replicas(const struct mk_broker *b, const struct mk_topic *t);
int32_t mk_topic_max_message_bytes(const struct mk_broker *b, const struct mk_topic *t);

/* Free every topic (at shutdown). */
void mk_cluster_free(struct mk_broker *b);

#endif
