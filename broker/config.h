/*
 * Broker settings: the one table (config.c) behind everything that reads, shows or checks
 * a broker setting or a topic config. Kafka: KafkaConfig / ServerLogConfigs (the broker's
 * names, types and defaults), LogConfig (the topic-level overrides).
 *
 *   -o key=value, mk_broker_config_set      parse and check a value by the row's kind/range
 *   mk_broker_config_init                   every row's default
 *   minikafka broker --help                 the rows' names, defaults and docs
 *   DescribeConfigs (broker and topic)      each row's value, source and synonyms
 *   GET /v1/cluster "settings"              each row's value
 *   CreateTopics configs, POST /v1/topics   the rows that have a topic-level name
 *
 * A row with a topic_config (retention.ms for log.retention.ms) is also a topic config:
 * struct mk_topic_config keeps the topic's own value, or -1 for "the broker's".
 *
 * Thread: any (the table is constant; the functions touch only what they are given).
 */
#ifndef MK_BROKER_CONFIG_H
#define MK_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "protocol/primitives.h"

struct mk_cluster;
struct mk_topic_config;

/* Kafka's ConfigDef types, with DescribeConfigs' ConfigType numbers. */
enum mk_setting_kind {
  MK_SETTING_BOOLEAN = 1,
  MK_SETTING_STRING = 2,  /* stored as an index into `values` (an enumerated string) */
  MK_SETTING_INT = 3,
  MK_SETTING_LONG = 5,
};

struct mk_setting_row {
  struct mk_broker_setting info;  /* what broker.h shows the world: name, type, docs */
  enum mk_setting_kind kind;
  size_t offset;                  /* the field in struct mk_broker_config */
  int64_t min, max;               /* numbers: the range accepted */
  int64_t dflt;                   /* the default (an index into values for strings) */
  const char *const *values;      /* strings: the values accepted, NULL-terminated */
  size_t topic_offset;            /* info.topic_config: the field in struct mk_topic_config */
  int64_t topic_min;              /* info.topic_config: LogConfig's smallest value */
};

/* The rows, in the order --help and DescribeConfigs list them. */
extern const struct mk_setting_row mk_setting_rows[];
extern const int mk_setting_count;

/* The row of broker setting `name`, or NULL. */
const struct mk_setting_row *mk_setting_find(const char *name);
/* The row whose topic-level name is `name`, or NULL. */
const struct mk_setting_row *mk_setting_find_topic(struct mk_str name);

/* The row's value in a broker config, and its default for this cluster (the default of
 * default.replication.factor depends on the number of brokers). */
int64_t mk_setting_value(const struct mk_setting_row *s, const struct mk_broker_config *cfg);
int64_t mk_setting_default(const struct mk_setting_row *s, int nbrokers);
/* A topic's own value of the row, or -1 when the topic has none. */
int64_t mk_setting_topic_value(const struct mk_setting_row *s, const struct mk_topic_config *tc);

/* v as the text DescribeConfigs and --help show ("604800000", "true", "CreateTime"; the
 * "no limit" of a retention setting as -1). Returns buf. */
const char *mk_setting_format(const struct mk_setting_row *s, int64_t v, char *buf, size_t len);

/* Set one topic config by its Kafka name from text, as CreateTopics does. Returns 0, or
 * MK_ERR_INVALID_CONFIG (unknown name, not a number, below the minimum) or
 * MK_ERR_INVALID_REQUEST (null value) with Kafka's message. Borrows name and value. */
int mk_topic_config_set(struct mk_topic_config *tc, struct mk_str name, struct mk_str value,
                        struct mk_err *err);

/* A topic config with nothing set (every field -1: the broker's value). */
void mk_topic_config_init(struct mk_topic_config *tc);

#endif
