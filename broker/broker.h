/*
 * minikafka broker: several virtual Kafka brokers in one process, on one libuv loop.
 * Kafka: core/src/main/scala/kafka/server/KafkaApis.scala (what each request does),
 * ReplicaManager (appends, acks, the high watermark). DESIGN.md 3.1 and 3.3.
 *
 * `minikafka broker --brokers 3 --port 9092` listens on 9092, 9093 and 9094 as
 * node ids 0, 1 and 2. Each topic's partitions have a leader on one virtual
 * broker and followers on others; followers are replicas inside this process
 * that fetch the leader's batches as Kafka's followers do, without sockets
 * (sharing the bytes by reference), so acks, the ISR and the high watermark
 * behave as in a real cluster, with no cluster.
 *
 * Embedding (how labs and tests use it):
 *
 *   struct mk_broker_config cfg;
 *   mk_broker_config_init(&cfg);          // Kafka's defaults; port 0 = ephemeral ports
 *   cfg.port = 0;
 *   struct mk_broker *b;
 *   mk_broker_new(&cfg, &b, &err);        // binds every listener
 *   mk_broker_start(b, &err);             // runs the loop on its own thread
 *   mk_broker_create_topic(b, "t", 3, -1, NULL, &err);
 *   ... connect any Kafka client to mk_broker_bootstrap(b) ...
 *   mk_broker_fault(b, "{\"action\": \"broker_down\", \"broker\": 1}", NULL, &err);
 *   mk_broker_partition_state(b, "t", 0, &state, &err);   // leader, HW, ISR, LEOs
 *   mk_broker_stop(b);                    // closes everything, joins the thread
 *   mk_broker_free(b);
 *
 * This header is the whole embedding API; the broker's insides (broker_internal.h,
 * cluster.h, ...) are not installed. Threads: all broker state lives on the loop thread
 * ("broker loop"). The calls below that read or change it hand their work to the loop
 * and wait for it, so they may be called from any other thread; clients talk to the
 * broker through the network, as to any Kafka broker.
 */
#ifndef MK_BROKER_BROKER_H
#define MK_BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

/* The most virtual brokers one process simulates (--brokers). */
#define MK_MAX_BROKERS 16

/* Settings, with Kafka's names in the comments (set them by name with mk_broker_config_set). */
struct mk_broker_config {
  char host[64];                       /* --host: address to listen on and advertise */
  int port;                            /* --port: broker i listens on port + i; 0 = ephemeral */
  int brokers;                         /* --brokers: number of virtual brokers (1-16) */
  int admin_port;                      /* --admin-port: the admin HTTP API (admin_http.h);
                                          0 = ephemeral, -1 = off */
  int schema_registry_port;            /* --schema-registry-port: Confluent's schema
                                          registry REST API (schema_registry_http.h) and its
                                          _schemas topic; 0 = ephemeral, -1 = off (the default
                                          here; `minikafka broker` serves it on 8081) */
  int32_t num_partitions;              /* num.partitions: for auto-created topics */
  int32_t default_replication_factor;  /* default.replication.factor; -1 = min(3, brokers) */
  int32_t min_insync_replicas;         /* min.insync.replicas: for acks=all */
  bool auto_create_topics_enable;      /* auto.create.topics.enable */
  int64_t replica_lag_time_max_ms;     /* replica.lag.time.max.ms: ISR eviction */
  int32_t replica_fetch_wait_max_ms;   /* replica.fetch.wait.max.ms: how long a follower's
                                          fetch waits at the leader for new data */
  int32_t message_max_bytes;           /* message.max.bytes: largest batch accepted */
  int32_t socket_request_max_bytes;    /* socket.request.max.bytes: largest request frame */
  bool unclean_leader_election_enable; /* unclean.leader.election.enable */
  int64_t log_retention_bytes;         /* log.retention.bytes: per partition; -1 = no limit */
  int64_t log_retention_ms;            /* log.retention.ms; -1 = no limit */
  int64_t log_retention_check_interval_ms; /* log.retention.check.interval.ms */
  int64_t quota_producer_default;      /* quota.producer.default: bytes/s per client id on
                                          each broker (quota.h); default: no quota */
  /* Connections and request memory (network.h, connection_quotas.h, memory_pool.h). */
  int32_t socket_listen_backlog_size;  /* socket.listen.backlog.size: pending connections */
  int32_t max_connections;             /* max.connections: per virtual broker; beyond it new
                                          connections wait to be accepted */
  int32_t max_connections_per_ip;      /* max.connections.per.ip: beyond it, closed */
  int64_t connections_max_idle_ms;     /* connections.max.idle.ms; -1 = never */
  int64_t socket_request_read_timeout_ms; /* socket.request.read.timeout.ms (minikafka's
                                          own): a frame must arrive whole within it */
  int64_t queued_max_request_bytes;    /* queued.max.request.bytes: request bytes being read,
                                          all connections together; -1 = no limit */
  int32_t fetch_max_bytes;             /* fetch.max.bytes: the most one Fetch answer carries */
  int64_t log_memory_max_bytes;        /* log.memory.max.bytes (minikafka's own): all logs
                                          together; -1 = no limit (retention.h) */
  char advertised_host[64];            /* --advertised-host: the host Metadata gives clients;
                                          "" = host */
  int32_t log_message_timestamp_type;  /* log.message.timestamp.type: 0 CreateTime (the
                                          producer's timestamps), 1 LogAppendTime (the
                                          broker's clock at the append) */
  /* The group coordinator (DESIGN.md 3.5, group_coordinator.h). */
  int32_t group_initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
  int32_t group_min_session_timeout_ms;     /* group.min.session.timeout.ms */
  int32_t group_max_session_timeout_ms;     /* group.max.session.timeout.ms */
  int32_t group_max_size;                   /* group.max.size */
  int32_t offsets_topic_num_partitions;     /* offsets.topic.num.partitions */
  int32_t offsets_topic_replication_factor; /* offsets.topic.replication.factor; -1 =
                                               min(3, brokers) */
  int32_t offsets_retention_minutes;        /* offsets.retention.minutes */
  int64_t offsets_retention_check_interval_ms; /* offsets.retention.check.interval.ms */
  int32_t offset_metadata_max_bytes;        /* offset.metadata.max.bytes */
  int32_t offsets_commit_timeout_ms;        /* offsets.commit.timeout.ms */
  /* The transaction coordinator (DESIGN.md 3.6, transaction_coordinator.h). */
  int32_t transaction_state_log_num_partitions;     /* transaction.state.log.num.partitions */
  int32_t transaction_state_log_replication_factor; /* transaction.state.log.replication.factor;
                                                       -1 = min(3, brokers) */
  int32_t transaction_state_log_min_isr;    /* transaction.state.log.min.isr */
  int32_t transaction_max_timeout_ms;       /* transaction.max.timeout.ms */
  int32_t transaction_abort_timed_out_transaction_cleanup_interval_ms;
                                            /* transaction.abort.timed.out.transaction.
                                               cleanup.interval.ms */
  int32_t transactional_id_expiration_ms;   /* transactional.id.expiration.ms */
  int32_t transaction_remove_expired_transaction_cleanup_interval_ms;
                                            /* transaction.remove.expired.transaction.
                                               cleanup.interval.ms */
  bool transaction_partition_verification_enable;  /* transaction.partition.verification.enable */
  const char *faults_file;             /* --faults: a fault script (fault_script.h), read by
                                          mk_broker_new; NULL = none. Borrowed. */
  const char *trace_file;              /* the --trace file this run writes: the admin API
                                          serves it at GET /v1/trace (the dashboard's "replay
                                          this run"); NULL = none. Borrowed, for the
                                          broker's life. */
};

/* Kafka's defaults (DESIGN.md 3.1): 127.0.0.1, port 9092, 3 brokers, admin port 9644,
 * num.partitions 3, min.insync.replicas 2, auto-create on, message.max.bytes 1048588,
 * socket.request.max.bytes 104857600, replica.lag.time.max.ms 30000, retention 7 days; no
 * schema registry (an embedded broker must not take port 8081 by surprise).
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

/* How many virtual brokers it simulates (node ids 0..n-1). Thread: any. */
int mk_broker_count(const struct mk_broker *b);

/* The port virtual broker node_id listens on, or -1. Thread: any. */
int mk_broker_port(const struct mk_broker *b, int node_id);

/* Inject a fault: one JSON object as DESIGN.md 3.2 and broker/faults.h describe, e.g.
 * {"action": "broker_down", "broker": 1}. Returns 0 with *id (may be NULL) set to its
 * number, or MK_ERR__INVALID_ARG / MK_ERR__STATE with err naming the problem.
 * Thread: any but the broker loop. Borrows json. */
int mk_broker_fault(struct mk_broker *b, const char *json, int *id, struct mk_err *err);

/* The faults injected so far, armed and spent, as GET /v1/faults answers (JSON array,
 * each with its "id", "action", "fired" count, ...). Returns new (free()), or NULL if the
 * broker is not running. Thread: any but the broker loop. */
char *mk_broker_faults_json(struct mk_broker *b);

/* Disarm every request fault and forget the fault list, as DELETE /v1/faults does (broker
 * and replica states stay as they are). Returns 0 or MK_ERR__STATE (not running).
 * Thread: any but the broker loop. */
int mk_broker_clear_faults(struct mk_broker *b);

/* Back to a just-started broker without a restart, as POST /v1/reset does (broker/reset.h
 * has the steps): no topics, every broker up, no faults (the --faults script starts over),
 * every client connection closed, producer ids from 1000 again; a `reset` trace event.
 * Returns 0, or MK_ERR__TRANSPORT when a broker that was down cannot listen again (its
 * port was taken; everything else is done), or MK_ERR__STATE (not running), with err.
 * Thread: any but the broker loop. */
int mk_broker_reset(struct mk_broker *b, struct mk_err *err);

/* Write the state as trace events to every trace sink: broker_state for each broker and
 * partition_state for each partition (broker/state_events.h). Call it after attaching a
 * sink (mk_trace_open_file, mk_trace_add_sink) to a running broker, so whoever reads that
 * sink can rebuild the cluster from it (other sinks get the lines too; applying them
 * twice is harmless). Returns 0 or MK_ERR__STATE (not running). Thread: any but the
 * broker loop. */
int mk_broker_trace_state(struct mk_broker *b);

/* The broker's settings, defaults settled (default.replication.factor is a number). Valid
 * until mk_broker_free; constant while the broker runs. Thread: any. */
const struct mk_broker_config *mk_broker_config(const struct mk_broker *b);

/* ---- the admin API, for embedding code (admin_http.h, admin_state.h; DESIGN.md 3.2) ---- */

/* The port of the admin HTTP API (http://127.0.0.1:PORT/v1/...), or -1 when it is off
 * (admin_port -1). Thread: any. */
int mk_broker_admin_port(const struct mk_broker *b);
/* The admin API's base URL, "http://127.0.0.1:9644", or NULL when it is off. Valid until
 * mk_broker_free. Thread: any. */
const char *mk_broker_admin_url(const struct mk_broker *b);

/* What GET /v1/cluster and GET /v1/producers answer, as JSON text (admin_state.h gives
 * the shapes). Returns new (free()); NULL if the broker is not running or out of memory.
 * Thread: any but the broker loop (they run on the loop and wait for it). */
char *mk_broker_cluster_json(struct mk_broker *b);
char *mk_broker_producers_json(struct mk_broker *b);
/* What GET /v1/groups answers: every consumer group, its members and what they read, its
 * committed offsets and their lag (admin_state.h). Returns new (free()), as above. */
char *mk_broker_groups_json(struct mk_broker *b);
/* What GET /v1/transactions answers: every transactional id, its producer id and epoch,
 * state, partitions, timeout and age (admin_state.h). Returns new (free()), as above. */
char *mk_broker_transactions_json(struct mk_broker *b);

/* ---- the schema registry (schema_registry_http.h; DESIGN.md 3.8) ------------------------ */

/* The schema registry's port, or -1 when it is off (schema_registry_port -1). Thread: any. */
int mk_broker_schema_registry_port(const struct mk_broker *b);
/* Its base URL, "http://127.0.0.1:8081" (a schema.registry.url value), or NULL when it is
 * off. Valid until mk_broker_free. Thread: any. */
const char *mk_broker_schema_registry_url(const struct mk_broker *b);
/* What GET /v1/schemas on the admin API answers: every subject with its versions and ids,
 * and the _schemas partition (schema_registry_http.h gives the shape). Returns new
 * (free()); NULL if the broker is not running. Thread: any but the broker loop. */
char *mk_broker_schemas_json(struct mk_broker *b);

/* ---- topics and partitions, for embedding code ------------------------------------------ */

/* Create a topic, as CreateTopics would: partitions -1 = num.partitions, replication_factor
 * -1 = default.replication.factor; configs are topic configs as "key=value" strings,
 * NULL-terminated (may be NULL): retention.ms, retention.bytes, min.insync.replicas,
 * max.message.bytes, message.timestamp.type. Returns 0, or Kafka's error (TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_TOPIC_EXCEPTION,
 * INVALID_CONFIG) with err saying why, or MK_ERR__STATE if the broker is not running.
 * Thread: any but the broker loop. Borrows name and configs. */
int mk_broker_create_topic(struct mk_broker *b, const char *name, int32_t partitions,
                           int32_t replication_factor, const char *const *configs,
                           struct mk_err *err);

/* Grow topic to count partitions, as CreatePartitions (kafka-topics.sh --alter --partitions)
 * does: the new ones placed round the live brokers, with the topic's replication factor.
 * Returns 0, or INVALID_PARTITIONS (not more than today), UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REPLICATION_FACTOR (too few live brokers), MK_ERR__STATE (not running) with err.
 * Thread: any but the broker loop. */
int mk_broker_create_partitions(struct mk_broker *b, const char *topic, int32_t count,
                                struct mk_err *err);

/* A partition as the broker sees it at one moment. */
struct mk_partition_state {
  int32_t leader;            /* broker id, -1 while offline */
  int32_t leader_epoch;
  int64_t high_watermark;
  int64_t log_start_offset;  /* the leader's */
  int nreplicas;
  struct {
    int32_t broker;
    int64_t log_end_offset;  /* this replica's own log */
    bool in_isr;
    /* Followers pull (Kafka's replica fetchers), so the views lag behind the logs: */
    int64_t high_watermark;  /* its own view: the leader's HW as its last fetch answer
                                said it, capped at its log end (the leader: the HW) */
    int64_t leader_view_log_end_offset;  /* what the leader knows of its log end: the
                                offset of its last fetch (-1: none yet under this
                                leader; the leader: its log end) */
    int64_t last_caught_up_ms;  /* wall-clock ms when it was last caught up with the
                                   leader's log end (Kafka's lastCaughtUpTimeMs) */
  } replicas[MK_MAX_BROKERS];  /* replicas[0] is the preferred leader */
  int32_t followers[MK_MAX_BROKERS];  /* the replicas that are not the leader */
  int nfollowers;
};

/* Fill *out with partition `partition` of `topic` now. Returns 0, or
 * MK_ERR_UNKNOWN_TOPIC_OR_PARTITION / MK_ERR__STATE (not running) with err. Thread: any
 * but the broker loop. */
int mk_broker_partition_state(struct mk_broker *b, const char *topic, int32_t partition,
                              struct mk_partition_state *out, struct mk_err *err);

/* The records one replica holds, in offset order, copied out of the broker. Keys, values
 * and headers are copied byte for byte with a NUL after them (so text prints as it is);
 * ptr NULL with len -1 for null. */
struct mk_stored_bytes {
  char *ptr;
  int32_t len;
};
struct mk_stored_header {
  struct mk_stored_bytes key, value;
};
struct mk_stored_record {
  int64_t offset;
  int64_t timestamp;         /* CreateTime: the producer's; LogAppendTime: the broker's */
  bool log_append_time;      /* the batch's timestamp type is LogAppendTime */
  int64_t producer_id;       /* -1 when the batch was not idempotent */
  int16_t producer_epoch;
  int32_t sequence;          /* the record's sequence number, -1 when not idempotent */
  struct mk_stored_bytes key, value;
  int headers_count;
  struct mk_stored_header *headers;
};
struct mk_stored_records {
  struct mk_stored_record *v;
  size_t n;
};
/* Read replica `broker` (-1 = the current leader) of topic/partition into *out: every
 * record it holds, or (committed_only) those below the high watermark, as a consumer sees
 * them. Control batches are skipped. Returns 0 or an error with err (no such replica,
 * not running, out of memory). Free with mk_stored_records_free. Thread: any but the
 * broker loop. */
int mk_broker_read_records(struct mk_broker *b, const char *topic, int32_t partition,
                           int32_t broker, bool committed_only, struct mk_stored_records *out,
                           struct mk_err *err);
void mk_stored_records_free(struct mk_stored_records *r);
/* Append to out the records of one record batch b (protocol/record_batch.h: as a broker
 * stores it and a Fetch answer carries it) whose offsets are below end, copied as above;
 * *cap is out's capacity (0 for an empty out). How labs read a real cluster's log the same
 * way they read ours. Returns 0, or an error with err (bad records, out of memory).
 * Thread: any. */
struct mk_record_batch;
int mk_stored_records_add_batch(struct mk_stored_records *out, size_t *cap,
                                const struct mk_record_batch *b, int64_t end,
                                struct mk_err *err);

/* ---- the settings table ------------------------------------------------------------------- */

/* One broker setting, as `minikafka broker --help`, DescribeConfigs and /v1/cluster show it. */
struct mk_broker_setting {
  const char *name;          /* Kafka's name: "log.retention.ms" */
  const char *type;          /* Kafka's ConfigDef type: "int", "long", "boolean", "string" */
  const char *default_text;  /* the default as the docs say it */
  const char *doc;           /* one or two sentences */
  const char *topic_config;  /* the topic-level config that overrides it ("retention.ms"), or
                                NULL */
};
/* The i-th setting (0, 1, ...), or NULL past the last. Thread: any. */
const struct mk_broker_setting *mk_broker_setting_at(int i);
/* Setting key's value in cfg as text ("2", "true"), into buf. Returns 0 or
 * MK_ERR__INVALID_ARG for an unknown key. Thread: any. */
int mk_broker_config_get(const struct mk_broker_config *cfg, const char *key, char *buf,
                         size_t len, struct mk_err *err);

#endif
