/*
 * minikafka broker: several virtual Kafka brokers in one process, on one libuv loop.
 * Kafka: core/src/main/scala/kafka/server/KafkaApis.scala (what each request does),
 * ReplicaManager (appends, acks, the high watermark). DESIGN.md 3.1 and 3.3.
 *
 * `minikafka broker --brokers 3 --port 9092` listens on 9092, 9093 and 9094 as
 * node ids 0, 1 and 2. Each topic's partitions have a leader on one virtual
 * broker and followers on others; followers are replicas inside this process
 * that copy the leader's batches (sharing the bytes by reference), so acks,
 * the ISR and the high watermark behave as in a real cluster, with no cluster.
 *
 * Embedding (how labs and tests use it):
 *
 *   struct mk_broker_config cfg;
 *   mk_broker_config_init(&cfg);          // Kafka's defaults; port 0 = ephemeral ports
 *   cfg.port = 0;
 *   struct mk_broker *b;
 *   mk_broker_new(&cfg, &b, &err);        // binds every listener
 *   mk_broker_start(b, &err);             // runs the loop on its own thread
 *   ... connect any Kafka client to mk_broker_bootstrap(b) ...
 *   mk_broker_stop(b);                    // closes everything, joins the thread
 *   mk_broker_free(b);
 *
 * Threads: all broker state lives on the loop thread ("broker loop"). Other
 * threads talk to it only through mk_broker_call(), which runs a function on
 * the loop and waits for it, or through the network like any client.
 */
#ifndef MK_BROKER_BROKER_H
#define MK_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/primitives.h"

/* Settings, with Kafka's names in the comments (set them by name with mk_broker_config_set). */
struct mk_broker_config {
  char host[64];                       /* --host: address to listen on and advertise */
  int port;                            /* --port: broker i listens on port + i; 0 = ephemeral */
  int brokers;                         /* --brokers: number of virtual brokers (1-16) */
  int admin_port;                      /* --admin-port: the admin HTTP API (admin_http.h);
                                          0 = ephemeral, -1 = off */
  int32_t num_partitions;              /* num.partitions: for auto-created topics */
  int32_t default_replication_factor;  /* default.replication.factor; -1 = min(3, brokers) */
  int32_t min_insync_replicas;         /* min.insync.replicas: for acks=all */
  bool auto_create_topics_enable;      /* auto.create.topics.enable */
  int64_t replica_lag_time_max_ms;     /* replica.lag.time.max.ms: ISR eviction */
  int32_t message_max_bytes;           /* message.max.bytes: largest batch accepted */
  int32_t socket_request_max_bytes;    /* socket.request.max.bytes: largest request frame */
  bool unclean_leader_election_enable; /* unclean.leader.election.enable */
  int64_t log_retention_bytes;         /* log.retention.bytes: per partition; -1 = no limit */
  int64_t log_retention_ms;            /* log.retention.ms; -1 = no limit */
  int64_t log_retention_check_interval_ms; /* log.retention.check.interval.ms */
  int64_t quota_producer_default;      /* quota.producer.default: bytes/s per client id on
                                          each broker (quota.h); default: no quota */
  const char *faults_file;             /* --faults: a fault script (fault_script.h), read by
                                          mk_broker_new; NULL = none. Borrowed. */
};

/* Kafka's defaults (DESIGN.md 3.1): 127.0.0.1, port 9092, 3 brokers, admin port 9644,
 * num.partitions 3, min.insync.replicas 2, auto-create on, message.max.bytes 1048588,
 * socket.request.max.bytes 104857600, replica.lag.time.max.ms 30000, retention 7 days.
 * Thread: any. */
void mk_broker_config_init(struct mk_broker_config *cfg);

/* Set one broker setting by its Kafka name ("min.insync.replicas", "2"). Returns 0, or
 * MK_ERR__INVALID_ARG naming the key and what it accepts (unknown key, bad number, out of
 * range). Thread: any. Borrows key and value. */
int mk_broker_config_set(struct mk_broker_config *cfg, const char *key, const char *value,
                         struct mk_err *err);

struct mk_broker;

/* Create a broker and bind all its listeners (so ports are known at once). Returns 0 with
 * *out set, or an error naming what failed (e.g. "cannot listen on 127.0.0.1:9093: address
 * already in use"). Thread: any. Borrows cfg (copied). Free with mk_broker_free. */
int mk_broker_new(const struct mk_broker_config *cfg, struct mk_broker **out, struct mk_err *err);

/* Run the loop on a new thread. Returns 0 or an error. Thread: any (not the loop). */
int mk_broker_start(struct mk_broker *b, struct mk_err *err);

/* Close every connection and listener, stop the loop and wait for its thread to end.
 * Safe to call more than once. Thread: any but the broker loop. */
void mk_broker_stop(struct mk_broker *b);

/* Free a stopped (or never started) broker. Thread: any (not the loop). Takes b. */
void mk_broker_free(struct mk_broker *b);

/* "host:port,host:port,..." for every virtual broker: a bootstrap.servers value.
 * Valid until mk_broker_free. Thread: any. */
const char *mk_broker_bootstrap(const struct mk_broker *b);

/* The port virtual broker node_id listens on, or -1. Thread: any. */
int mk_broker_port(const struct mk_broker *b, int node_id);

/* Inject a fault: one JSON object as DESIGN.md 3.2 and broker/faults.h describe, e.g.
 * {"action": "broker_down", "broker": 1}. Returns 0 with *id (may be NULL) set to its
 * number, or MK_ERR__INVALID_ARG / MK_ERR__STATE with err naming the problem.
 * Thread: any but the broker loop. Borrows json. */
int mk_broker_fault(struct mk_broker *b, const char *json, int *id, struct mk_err *err);

/* ---- the admin API, for embedding code (admin_http.h, admin_state.h; DESIGN.md 3.2) ---- */

/* The port of the admin HTTP API (http://127.0.0.1:PORT/v1/...), or -1 when it is off
 * (admin_port -1). Thread: any. */
int mk_broker_admin_port(const struct mk_broker *b);
/* The admin API's base URL, "http://127.0.0.1:9644", or NULL when it is off. Valid until
 * mk_broker_free. Thread: any. */
const char *mk_broker_admin_url(const struct mk_broker *b);

/* What GET /v1/cluster and GET /v1/producers answer, as JSON text (admin_state.h gives
 * the shapes). Returns new (free()); NULL if the broker is not running or out of memory.
 * Thread: any but the broker loop (they run on the loop through mk_broker_call). */
char *mk_broker_cluster_json(struct mk_broker *b);
char *mk_broker_producers_json(struct mk_broker *b);

/* ---- topic configs (defined in topic_admin.c) ------------------------------------------ */

struct mk_topic_config;

/* Set one topic config by Kafka's name ("retention.ms", "retention.bytes",
 * "min.insync.replicas", "max.message.bytes") from its text value, as CreateTopics does.
 * Returns 0, or MK_ERR_INVALID_CONFIG (unknown name, not a number, below the minimum) or
 * MK_ERR_INVALID_REQUEST (null value) with Kafka's message. Thread: any (touches only tc).
 * Borrows name and value. */
int mk_topic_config_set(struct mk_topic_config *tc, struct mk_str name, struct mk_str value,
                        struct mk_err *err);

/* Run fn(b, arg) on the broker loop and wait until it returns: how other threads read or
 * change broker state safely. Must not be called from the loop itself. Returns 0, or
 * MK_ERR__STATE if the broker is not running. Thread: any but the broker loop. */
int mk_broker_call(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg);

#endif
