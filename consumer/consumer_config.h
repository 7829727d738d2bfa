/*
 * Consumer config: Kafka's consumer settings by name, with Java's types, defaults and checks.
 * Kafka: clients/.../consumer/ConsumerConfig.java (the definitions, and
 * maybeOverrideClientId / maybeOverrideEnableAutoCommit), GroupRebalanceConfig.java,
 * KafkaConsumer (what it refuses at construction). The table is in consumer_config.c;
 * common/config_def.h parses it, as ConfigDef does for Java.
 *
 *   cfg = mk_consumer_config_new()                   every setting at Kafka's default
 *   mk_consumer_config_set(cfg, "group.id", "g")     parse and check one value
 *   mk_consumer_config_load_file(cfg, path)          or a .properties file (--consumer.config)
 *   mk_consumer_config_finish(cfg)                   the rules across settings:
 *       - bootstrap.servers must be given
 *       - without group.id there is no group: enable.auto.commit turns off (an error if the
 *         user set it to true, as Java's InvalidConfigurationException)
 *       - client.id not set: "consumer-<group.id>-<n>", or "consumer-<n>" without a group
 *       - heartbeat.interval.ms must be below session.timeout.ms
 *       - partition.assignment.strategy names assignors we have (partition_assignor.h)
 *       - group.protocol must be classic (KIP-848's "consumer" protocol is not here)
 *   ... the consumer reads the typed fields below ...
 *   mk_consumer_config_free(cfg)
 *
 * Where the defaults differ from Kafka's, on purpose and said in --help:
 *   partition.assignment.strategy  "range" (Kafka's is RangeAssignor,CooperativeStickyAssignor:
 *                                  we have no cooperative assignor, so offering it would be
 *                                  a lie the coordinator might believe)
 * An unknown key is an error (Java only warns), as for the producer.
 *
 * Thread: built by one thread; read-only after finish() (any thread may read it). Every
 * string and list is owned by the config.
 */
#ifndef MK_CONSUMER_CONSUMER_CONFIG_H
#define MK_CONSUMER_CONSUMER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config_def.h"
#include "protocol/errors.h"

struct mk_partition_assignor;

/* auto.offset.reset: where to start a partition the group has no committed offset for. */
enum mk_offset_reset { MK_OFFSET_RESET_LATEST, MK_OFFSET_RESET_EARLIEST, MK_OFFSET_RESET_NONE };
/* ListOffsets' special timestamps: what a reset (or seekToBeginning/End) asks a leader for. */
enum { MK_OFFSET_EARLIEST = -2, MK_OFFSET_LATEST = -1 };

#define MK_CONSUMER_MAX_ASSIGNORS 4

struct mk_consumer_config {
  /* where the cluster is */
  struct mk_config_list bootstrap_servers;  /* bootstrap.servers: required */
  char *client_id;                 /* client.id: finish() fills in consumer-<group>-<n> */
  char *client_rack;               /* client.rack: "" = none (sent in the subscription) */
  int32_t request_timeout_ms;      /* request.timeout.ms */
  int32_t default_api_timeout_ms;  /* default.api.timeout.ms: commitSync, committed, close */
  int64_t retry_backoff_ms;        /* retry.backoff.ms */
  int64_t metadata_max_age_ms;     /* metadata.max.age.ms */
  bool allow_auto_create_topics;   /* allow.auto.create.topics */

  /* the group */
  char *group_id;                  /* group.id: NULL = no group (assign() only, no commits) */
  char *group_instance_id;         /* group.instance.id: static membership; NULL = dynamic */
  int group_protocol;              /* group.protocol: 0 = classic (the only one here) */
  int32_t session_timeout_ms;      /* session.timeout.ms: no heartbeat this long = gone */
  int32_t heartbeat_interval_ms;   /* heartbeat.interval.ms */
  int32_t max_poll_interval_ms;    /* max.poll.interval.ms: poll() this often or leave */
  struct mk_config_list partition_assignment_strategy;  /* as given */
  const struct mk_partition_assignor *assignors[MK_CONSUMER_MAX_ASSIGNORS];  /* finish() */
  int num_assignors;
  bool enable_auto_commit;         /* enable.auto.commit */
  int32_t auto_commit_interval_ms; /* auto.commit.interval.ms */
  bool internal_leave_group_on_close;  /* internal.leave.group.on.close (Java's internal) */

  /* fetching */
  int auto_offset_reset;           /* auto.offset.reset: enum mk_offset_reset */
  int32_t fetch_min_bytes;         /* fetch.min.bytes */
  int32_t fetch_max_bytes;         /* fetch.max.bytes */
  int32_t fetch_max_wait_ms;       /* fetch.max.wait.ms */
  int32_t max_partition_fetch_bytes;  /* max.partition.fetch.bytes */
  int32_t max_poll_records;        /* max.poll.records */
  int isolation_level;             /* isolation.level: 0 read_uncommitted, 1 read_committed */
  bool check_crcs;                 /* check.crcs */

  /* what finish() did */
  bool finished;

  /* private to consumer_config.c */
  uint64_t user_set_;    /* bit i: setting i was given by the user */
  uint64_t adjusted_;    /* bit i: setting i was changed by finish() */
  int client_id_seq_;    /* the n in consumer-...-n once assigned */
};

/* A config at Kafka's defaults. Returns new (mk_consumer_config_free), NULL when out of
 * memory. Thread: any. */
struct mk_consumer_config *mk_consumer_config_new(void);
void mk_consumer_config_free(struct mk_consumer_config *cfg);
/* A deep copy, or NULL when out of memory. Returns new. */
struct mk_consumer_config *mk_consumer_config_dup(const struct mk_consumer_config *cfg);

/* Set one setting by its Kafka name (config_def.h says how values are parsed); value NULL
 * puts it back to its default. Returns 0, or MK_ERR__INVALID_ARG naming the key and what it
 * accepts; the config is unchanged on error. Borrows key and value. */
int mk_consumer_config_set(struct mk_consumer_config *cfg, const char *key, const char *value,
                           struct mk_err *err);
/* Whether the user gave this setting. */
bool mk_consumer_config_is_set(const struct mk_consumer_config *cfg, const char *key);
/* A setting's value as text into buf. Returns 0 or MK_ERR__INVALID_ARG (unknown key). */
int mk_consumer_config_get(const struct mk_consumer_config *cfg, const char *key, char *buf,
                           size_t size, struct mk_err *err);

/* The rules listed at the top. Returns 0 or MK_ERR__INVALID_ARG with Java's sentence.
 * May be called again after more set() calls. */
int mk_consumer_config_finish(struct mk_consumer_config *cfg, struct mk_err *err);

/* A Java .properties file (--consumer.config), every line through set(); all or nothing:
 * on an error nothing is applied and err says "path:line: ...". Borrows path. */
int mk_consumer_config_load_file(struct mk_consumer_config *cfg, const char *path,
                                 struct mk_err *err);

/* The name of setting i (0, 1, ... in alphabetical order), NULL past the last. Thread: any. */
const char *mk_consumer_config_key_at(int i);

/* Call fn once per setting, alphabetically: key, value as text, Java's type, one line of
 * doc, and whether the user set it. Strings valid during the call only. For --help. */
typedef void (*mk_consumer_config_each_fn)(void *opaque, const char *key, const char *value,
                                           const char *type, const char *doc, bool user_set);
void mk_consumer_config_each(const struct mk_consumer_config *cfg, mk_consumer_config_each_fn fn,
                             void *opaque);

#endif
