/*
 * Broker config: Kafka's broker settings by name, with their defaults and limits.
 * Kafka: core/src/main/scala/kafka/server/KafkaConfig.scala, ServerLogConfigs.java.
 *
 * One table row per setting: its Kafka name, type, where it lives in struct
 * mk_broker_config, and the range it accepts. `-o key=value` on the command
 * line and mk_broker_config_set() both go through it, so an unknown key or a
 * bad value gets the same sentence everywhere, naming the key and the range.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"

enum kind { INT32, INT64, BOOL };

static const struct setting {
  const char *name;
  enum kind kind;
  size_t offset;
  int64_t min, max;
} settings[] = {
  {"num.partitions", INT32, offsetof(struct mk_broker_config, num_partitions), 1, 10000},
  {"default.replication.factor", INT32,
   offsetof(struct mk_broker_config, default_replication_factor), 1, 16},
  {"min.insync.replicas", INT32, offsetof(struct mk_broker_config, min_insync_replicas), 1, 16},
  {"auto.create.topics.enable", BOOL,
   offsetof(struct mk_broker_config, auto_create_topics_enable), 0, 1},
  {"replica.lag.time.max.ms", INT64, offsetof(struct mk_broker_config, replica_lag_time_max_ms),
   1, INT64_MAX},
  {"message.max.bytes", INT32, offsetof(struct mk_broker_config, message_max_bytes), 0,
   INT32_MAX},
  {"socket.request.max.bytes", INT32,
   offsetof(struct mk_broker_config, socket_request_max_bytes), 8, INT32_MAX},
  {"unclean.leader.election.enable", BOOL,
   offsetof(struct mk_broker_config, unclean_leader_election_enable), 0, 1},
  {"log.retention.bytes", INT64, offsetof(struct mk_broker_config, log_retention_bytes), -1,
   INT64_MAX},
  {"log.retention.ms", INT64, offsetof(struct mk_broker_config, log_retention_ms), -1, INT64_MAX},
  {"log.retention.check.interval.ms", INT64,
   offsetof(struct mk_broker_config, log_retention_check_interval_ms), 1, INT64_MAX},
  {"quota.producer.default", INT64, offsetof(struct mk_broker_config, quota_producer_default), 1,
   INT64_MAX},
};

void mk_broker_config_init(struct mk_broker_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->host, "127.0.0.1");
  cfg->port = 9092;
  cfg->brokers = 3;
  cfg->admin_port = 9644;
  cfg->num_partitions = 3;
  cfg->default_replication_factor = -1;  /* min(3, brokers), settled by mk_broker_new */
  cfg->min_insync_replicas = 2;
  cfg->auto_create_topics_enable = true;
  cfg->replica_lag_time_max_ms = 30000;
  cfg->message_max_bytes = 1048588;
  cfg->socket_request_max_bytes = 104857600;
  cfg->unclean_leader_election_enable = false;
  cfg->log_retention_bytes = -1;
  cfg->log_retention_ms = 7LL * 24 * 3600 * 1000;
  cfg->log_retention_check_interval_ms = 300000;
  cfg->quota_producer_default = INT64_MAX;  /* Kafka's default: unlimited */
}

int mk_broker_config_set(struct mk_broker_config *cfg, const char *key, const char *value,
                         struct mk_err *err) {
  const struct setting *s = NULL;
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    if (strcmp(settings[i].name, key) == 0) s = &settings[i];
  if (!s) {
    char known[512] = "";
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
      strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
      strncat(known, settings[i].name, sizeof known - strlen(known) - 1);
    }
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker setting \"%s\"; known: %s", key,
                      known);
  }
  void *p = (char *)cfg + s->offset;
  if (s->kind == BOOL) {
    if (strcmp(value, "true") == 0)
      *(bool *)p = true;
    else if (strcmp(value, "false") == 0)
      *(bool *)p = false;
    else
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s must be true or false, got \"%s\"", key,
                        value);
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(value, &end, 10);
  if (errno || end == value || *end || v < s->min || v > s->max)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s must be a whole number in [%lld, %lld], got \"%s\"",
                      key, (long long)s->min, (long long)s->max, value);
  if (s->kind == INT32)
    *(int32_t *)p = (int32_t)v;
  else
    *(int64_t *)p = v;
  return 0;
}
