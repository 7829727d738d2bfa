/*
 * Broker config: Kafka's broker settings by name, with their defaults and limits, in one
 * table. See config.h for everything the table drives.
 *
 * Topic configs store -1 for "not set, use the broker's value". retention.ms and
 * retention.bytes may also be set *to* -1 (no limit), so an explicit -1 is stored as
 * UNLIMITED (INT64_MAX, a limit never reached) and shown as -1 again.
 */
#include "broker/config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster.h"

#define UNLIMITED INT64_MAX
#define CFG(field) offsetof(struct mk_broker_config, field)
#define TOPIC(field) offsetof(struct mk_topic_config, field)

static const char *const timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};

const struct mk_setting_row mk_setting_rows[] = {
  {{"num.partitions", "int", "3", "Partitions of a topic created without a count (auto-created "
    "topics, CreateTopics with -1).", NULL},
   MK_SETTING_INT, CFG(num_partitions), 1, 10000, 3, NULL, 0, 0},
  {{"default.replication.factor", "int", "min(3, brokers)", "Replicas of a topic created without "
    "a replication factor.", NULL},
   MK_SETTING_INT, CFG(default_replication_factor), 1, MK_MAX_BROKERS, -1, NULL, 0, 0},
  {{"min.insync.replicas", "int", "2", "With acks=all, the fewest in-sync replicas that must have "
    "a batch before it is acknowledged; with fewer in the ISR, produce fails with "
    "NOT_ENOUGH_REPLICAS.", "min.insync.replicas"},
   MK_SETTING_INT, CFG(min_insync_replicas), 1, MK_MAX_BROKERS, 2, NULL,
   TOPIC(min_insync_replicas), 1},
  {{"auto.create.topics.enable", "boolean", "true", "Whether a Metadata request for an unknown "
    "topic creates it.", NULL},
   MK_SETTING_BOOLEAN, CFG(auto_create_topics_enable), 0, 1, 1, NULL, 0, 0},
  {{"replica.lag.time.max.ms", "long", "30000", "A follower that has not caught up with the "
    "leader's log end for this long leaves the ISR.", NULL},
   MK_SETTING_LONG, CFG(replica_lag_time_max_ms), 1, INT64_MAX, 30000, NULL, 0, 0},
  {{"replica.fetch.wait.max.ms", "int", "500", "How long a follower's fetch waits at the leader "
    "when there is nothing new to copy; a follower learns a new high watermark from the answer.",
    NULL},
   MK_SETTING_INT, CFG(replica_fetch_wait_max_ms), 1, INT32_MAX, 500, NULL, 0, 0},
  {{"message.max.bytes", "int", "1048588", "The largest record batch accepted (after "
    "compression).", "max.message.bytes"},
   MK_SETTING_INT, CFG(message_max_bytes), 0, INT32_MAX, 1048588, NULL,
   TOPIC(max_message_bytes), 0},
  {{"socket.request.max.bytes", "int", "104857600", "The largest request frame a connection may "
    "send; a bigger size prefix closes the connection.", NULL},
   MK_SETTING_INT, CFG(socket_request_max_bytes), 8, INT32_MAX, 104857600, NULL, 0, 0},
  {{"unclean.leader.election.enable", "boolean", "false", "Whether a replica outside the ISR may "
    "become leader when no ISR member is left (records it lacks are lost).", NULL},
   MK_SETTING_BOOLEAN, CFG(unclean_leader_election_enable), 0, 1, 0, NULL, 0, 0},
  {{"log.retention.bytes", "long", "-1", "How large a partition's log may grow before its oldest "
    "batches are deleted; -1 = no limit.", "retention.bytes"},
   MK_SETTING_LONG, CFG(log_retention_bytes), -1, INT64_MAX, -1, NULL, TOPIC(retention_bytes), -1},
  {{"log.retention.ms", "long", "604800000", "How long a batch is kept before it is deleted; "
    "-1 = no time limit.", "retention.ms"},
   MK_SETTING_LONG, CFG(log_retention_ms), -1, INT64_MAX, 7LL * 24 * 3600 * 1000, NULL,
   TOPIC(retention_ms), -1},
  {{"log.retention.check.interval.ms", "long", "300000", "How often retention looks for batches "
    "to delete by time.", NULL},
   MK_SETTING_LONG, CFG(log_retention_check_interval_ms), 1, INT64_MAX, 300000, NULL, 0, 0},
  {{"quota.producer.default", "long", "9223372036854775807", "Produce bytes per second each client "
    "id may send to each broker before it is throttled (default: no quota).", NULL},
   MK_SETTING_LONG, CFG(quota_producer_default), 1, INT64_MAX, INT64_MAX, NULL, 0, 0},
  /* Connections and the memory of requests and logs (network.c, connection_quotas.c,
   * memory_pool.c, retention.c). */
  {{"socket.listen.backlog.size", "int", "50", "Connections the kernel holds for each virtual "
    "broker until it accepts them.", NULL},
   MK_SETTING_INT, CFG(socket_listen_backlog_size), 1, INT32_MAX, 50, NULL, 0, 0},
  {{"max.connections", "int", "2147483647", "Open connections each virtual broker takes; "
    "beyond it a new connection waits in the listen backlog until one closes.", NULL},
   MK_SETTING_INT, CFG(max_connections), 1, INT32_MAX, INT32_MAX, NULL, 0, 0},
  {{"max.connections.per.ip", "int", "2147483647", "Open connections one IP address may have "
    "to each virtual broker; a connection beyond it is closed as soon as it is accepted.", NULL},
   MK_SETTING_INT, CFG(max_connections_per_ip), 1, INT32_MAX, INT32_MAX, NULL, 0, 0},
  {{"connections.max.idle.ms", "long", "600000", "A connection that has sent and received "
    "nothing for this long, with no request waiting for an answer, is closed; -1 = never.",
    NULL},
   MK_SETTING_LONG, CFG(connections_max_idle_ms), -1, INT64_MAX, 600000, NULL, 0, 0},
  {{"socket.request.read.timeout.ms", "long", "30000", "minikafka's own: a request must "
    "arrive whole within this long of its first byte (time the broker itself stops reading "
    "does not count), else the connection is closed; -1 = no limit.", NULL},
   MK_SETTING_LONG, CFG(socket_request_read_timeout_ms), -1, INT64_MAX, 30000, NULL, 0, 0},
  {{"queued.max.request.bytes", "long", "104857600", "Memory for requests being read, all "
    "connections together; when it is taken, connections wait to be read (one may finish "
    "its request) instead of failing. Kafka's default is -1 (no limit); -1 works here too.",
    NULL},
   MK_SETTING_LONG, CFG(queued_max_request_bytes), -1, INT64_MAX, 104857600, NULL, 0, 0},
  {{"fetch.max.bytes", "int", "57671680", "The most record bytes one Fetch answer carries, "
    "whatever the request asks (the first batch is sent whole even if larger).", NULL},
   MK_SETTING_INT, CFG(fetch_max_bytes), 1024, INT32_MAX, 57671680, NULL, 0, 0},
  {{"log.memory.max.bytes", "long", "1073741824", "minikafka's own, as its logs live in "
    "memory: the most bytes all partition logs together may hold. Beyond it the oldest "
    "batches of the largest logs are deleted as retention would delete them (consumers "
    "behind get OFFSET_OUT_OF_RANGE); -1 = no limit.", NULL},
   MK_SETTING_LONG, CFG(log_memory_max_bytes), -1, INT64_MAX, 1LL << 30, NULL, 0, 0},
  {{"log.message.timestamp.type", "string", "CreateTime", "Whose clock a record's timestamp "
    "reads: CreateTime keeps the producer's; LogAppendTime has the broker stamp each batch with "
    "its own clock as it appends it (and say so in the produce response).",
    "message.timestamp.type"},
   MK_SETTING_STRING, CFG(log_message_timestamp_type), 0, 1, 0, timestamp_types,
   TOPIC(message_timestamp_type), 0},
  /* The group coordinator (group_coordinator.h). */
  {{"group.initial.rebalance.delay.ms", "int", "3000", "How long a new group waits for more "
    "members before its first rebalance, extended while members keep joining (up to the "
    "rebalance timeout).", NULL},
   MK_SETTING_INT, CFG(group_initial_rebalance_delay_ms), 0, INT32_MAX, 3000, NULL, 0, 0},
  {{"group.min.session.timeout.ms", "int", "6000", "The shortest session.timeout.ms a group "
    "member may ask for (shorter: INVALID_SESSION_TIMEOUT).", NULL},
   MK_SETTING_INT, CFG(group_min_session_timeout_ms), 0, INT32_MAX, 6000, NULL, 0, 0},
  {{"group.max.session.timeout.ms", "int", "1800000", "The longest session.timeout.ms a group "
    "member may ask for (longer: INVALID_SESSION_TIMEOUT).", NULL},
   MK_SETTING_INT, CFG(group_max_session_timeout_ms), 0, INT32_MAX, 1800000, NULL, 0, 0},
  {{"group.max.size", "int", "2147483647", "The most members a consumer group may have (more: "
    "GROUP_MAX_SIZE_REACHED).", NULL},
   MK_SETTING_INT, CFG(group_max_size), 1, INT32_MAX, INT32_MAX, NULL, 0, 0},
  {{"offsets.topic.num.partitions", "int", "50", "Partitions of __consumer_offsets when it is "
    "created; a group lives in partition abs(hash(group.id)) % this.", NULL},
   MK_SETTING_INT, CFG(offsets_topic_num_partitions), 1, 10000, 50, NULL, 0, 0},
  {{"offsets.topic.replication.factor", "short", "min(3, brokers)", "Replicas of "
    "__consumer_offsets when it is created (Kafka's default is 3).", NULL},
   MK_SETTING_INT, CFG(offsets_topic_replication_factor), 1, MK_MAX_BROKERS, -1, NULL, 0, 0},
  {{"offsets.retention.minutes", "int", "10080", "How long a group's committed offsets are kept "
    "after it became empty (or, for a group that only stores offsets, after each commit).",
    NULL},
   MK_SETTING_INT, CFG(offsets_retention_minutes), 1, INT32_MAX, 7 * 24 * 60, NULL, 0, 0},
  {{"offsets.retention.check.interval.ms", "long", "600000", "How often expired offsets are "
    "looked for.", NULL},
   MK_SETTING_LONG, CFG(offsets_retention_check_interval_ms), 1, INT64_MAX, 600000, NULL, 0, 0},
  {{"offset.metadata.max.bytes", "int", "4096", "The longest metadata string a committed offset "
    "may carry (longer: OFFSET_METADATA_TOO_LARGE).", NULL},
   MK_SETTING_INT, CFG(offset_metadata_max_bytes), 0, INT32_MAX, 4096, NULL, 0, 0},
  {{"offsets.commit.timeout.ms", "int", "5000", "How long a commit waits for the replicas of "
    "__consumer_offsets before it fails with REQUEST_TIMED_OUT.", NULL},
   MK_SETTING_INT, CFG(offsets_commit_timeout_ms), 1, INT32_MAX, 5000, NULL, 0, 0},
  /* The transaction coordinator (transaction_coordinator.h). */
  {{"transaction.state.log.num.partitions", "int", "50", "Partitions of __transaction_state when "
    "it is created; a transactional.id lives in partition abs(hash(transactional.id)) % this.",
    NULL},
   MK_SETTING_INT, CFG(transaction_state_log_num_partitions), 1, 10000, 50, NULL, 0, 0},
  {{"transaction.state.log.replication.factor", "short", "min(3, brokers)", "Replicas of "
    "__transaction_state when it is created (Kafka's default is 3).", NULL},
   MK_SETTING_INT, CFG(transaction_state_log_replication_factor), 1, MK_MAX_BROKERS, -1, NULL, 0,
   0},
  {{"transaction.state.log.min.isr", "int", "2", "min.insync.replicas of __transaction_state "
    "(at most its replication factor).", NULL},
   MK_SETTING_INT, CFG(transaction_state_log_min_isr), 1, MK_MAX_BROKERS, 2, NULL, 0, 0},
  {{"transaction.max.timeout.ms", "int", "900000", "The longest transaction.timeout.ms a "
    "producer may ask for in InitProducerId (longer: INVALID_TRANSACTION_TIMEOUT).", NULL},
   MK_SETTING_INT, CFG(transaction_max_timeout_ms), 1, INT32_MAX, 900000, NULL, 0, 0},
  {{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "int", "10000", "How often "
    "the coordinator looks for transactions open longer than their transaction.timeout.ms, "
    "and fences and aborts them.", NULL},
   MK_SETTING_INT, CFG(transaction_abort_timed_out_transaction_cleanup_interval_ms), 1,
   INT32_MAX, 10000, NULL, 0, 0},
  {{"transactional.id.expiration.ms", "int", "604800000", "How long a transactional.id with no "
    "transaction in progress is remembered after its last use.", NULL},
   MK_SETTING_INT, CFG(transactional_id_expiration_ms), 1, INT32_MAX, 604800000, NULL, 0, 0},
  {{"transaction.remove.expired.transaction.cleanup.interval.ms", "int", "3600000", "How often "
    "expired transactional ids are looked for.", NULL},
   MK_SETTING_INT, CFG(transaction_remove_expired_transaction_cleanup_interval_ms), 1,
   INT32_MAX, 3600000, NULL, 0, 0},
  {{"transaction.partition.verification.enable", "boolean", "true", "Whether a partition "
    "leader asks the transaction coordinator, at a transaction's first batch there, that the "
    "partition was added to the transaction and the producer epoch is current (KIP-890); a "
    "fenced producer is then told PRODUCER_FENCED.", NULL},
   MK_SETTING_BOOLEAN, CFG(transaction_partition_verification_enable), 0, 1, 1, NULL, 0, 0},
};
const int mk_setting_count = sizeof mk_setting_rows / sizeof mk_setting_rows[0];

const struct mk_broker_setting *mk_broker_setting_at(int i) {
  return i >= 0 && i < mk_setting_count ? &mk_setting_rows[i].info : NULL;
}

const struct mk_setting_row *mk_setting_find(const char *name) {
  for (int i = 0; i < mk_setting_count; i++)
    if (strcmp(mk_setting_rows[i].info.name, name) == 0) return &mk_setting_rows[i];
  return NULL;
}

const struct mk_setting_row *mk_setting_find_topic(struct mk_str name) {
  for (int i = 0; i < mk_setting_count; i++)
    if (mk_setting_rows[i].info.topic_config && mk_str_eq(name, mk_setting_rows[i].info.topic_config))
      return &mk_setting_rows[i];
  return NULL;
}

/* ---- values ------------------------------------------------------------------------------- */

static int64_t load(const void *base, size_t offset, enum mk_setting_kind kind) {
  const char *p = (const char *)base + offset;
  switch (kind) {
    case MK_SETTING_LONG: return *(const int64_t *)p;
    case MK_SETTING_BOOLEAN: return *(const bool *)p;
    default: return *(const int32_t *)p;
  }
}

static void store(void *base, size_t offset, enum mk_setting_kind kind, int64_t v) {
  char *p = (char *)base + offset;
  switch (kind) {
    case MK_SETTING_LONG: *(int64_t *)p = v; break;
    case MK_SETTING_BOOLEAN: *(bool *)p = v != 0; break;
    default: *(int32_t *)p = (int32_t)v; break;
  }
}

int64_t mk_setting_value(const struct mk_setting_row *s, const struct mk_broker_config *cfg) {
  return load(cfg, s->offset, s->kind);
}

int64_t mk_setting_default(const struct mk_setting_row *s, int nbrokers) {
  if (s->offset == CFG(default_replication_factor) ||
      s->offset == CFG(offsets_topic_replication_factor) ||
      s->offset == CFG(transaction_state_log_replication_factor))
    return nbrokers < 3 ? nbrokers : 3;
  return s->dflt;
}

int64_t mk_setting_topic_value(const struct mk_setting_row *s, const struct mk_topic_config *tc) {
  /* Topic configs are all numbers; the INT ones live in int32_t fields. */
  return load(tc, s->topic_offset, s->kind == MK_SETTING_LONG ? MK_SETTING_LONG : MK_SETTING_INT);
}

const char *mk_setting_format(const struct mk_setting_row *s, int64_t v, char *buf, size_t len) {
  if (s->kind == MK_SETTING_BOOLEAN) snprintf(buf, len, "%s", v ? "true" : "false");
  else if (s->kind == MK_SETTING_STRING) snprintf(buf, len, "%s", s->values[v]);
  else if (v == UNLIMITED && s->topic_min == -1 && s->info.topic_config) snprintf(buf, len, "-1");
  else snprintf(buf, len, "%" PRId64, v);
  return buf;
}

/* ---- the broker's settings ------------------------------------------------------------------ */

void mk_broker_config_init(struct mk_broker_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->host, "127.0.0.1");
  cfg->port = 9092;
  cfg->brokers = 3;
  cfg->admin_port = 9644;
  cfg->schema_registry_port = -1;  /* broker.h: `minikafka broker` turns it on (8081) */
  for (int i = 0; i < mk_setting_count; i++)
    store(cfg, mk_setting_rows[i].offset, mk_setting_rows[i].kind, mk_setting_rows[i].dflt);
}

/* "num.partitions, default.replication.factor, ..." for the unknown-key message. */
static void known_names(char *out, size_t len) {
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < mk_setting_count && n < len; i++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", mk_setting_rows[i].info.name);
}

/* Parse text for row s into *v. Returns 0 or MK_ERR__INVALID_ARG naming key and range. */
static int parse_value(const struct mk_setting_row *s, const char *value, int64_t *v,
                       struct mk_err *err) {
  const char *key = s->info.name;
  if (s->kind == MK_SETTING_BOOLEAN) {
    if (strcmp(value, "true") == 0) *v = 1;
    else if (strcmp(value, "false") == 0) *v = 0;
    else return mk_err_set(err, MK_ERR__INVALID_ARG, "%s must be true or false, got \"%.60s\"",
                           key, value);
    return 0;
  }
  if (s->kind == MK_SETTING_STRING) {
    for (int64_t i = 0; s->values[i]; i++)
      if (strcmp(value, s->values[i]) == 0) {
        *v = i;
        return 0;
      }
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s must be %s or %s, got \"%.60s\"", key,
                      s->values[0], s->values[1], value);
  }
  char *end;
  errno = 0;
  long long n = strtoll(value, &end, 10);
  if (errno || end == value || *end || n < s->min || n > s->max)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "%s must be a whole number in [%lld, %lld], got \"%.60s\"", key,
                      (long long)s->min, (long long)s->max, value);
  *v = n;
  return 0;
}

int mk_broker_config_set(struct mk_broker_config *cfg, const char *key, const char *value,
                         struct mk_err *err) {
  const struct mk_setting_row *s = mk_setting_find(key);
  if (!s) {
    char known[1024];
    known_names(known, sizeof known);
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker setting \"%.60s\"; known: %s",
                      key, known);
  }
  int64_t v = 0;
  int rc = parse_value(s, value, &v, err);
  if (!rc) store(cfg, s->offset, s->kind, v);
  return rc;
}

int mk_broker_config_get(const struct mk_broker_config *cfg, const char *key, char *buf,
                         size_t len, struct mk_err *err) {
  const struct mk_setting_row *s = mk_setting_find(key);
  if (!s)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker setting \"%.60s\"", key);
  mk_setting_format(s, mk_setting_value(s, cfg), buf, len);
  return 0;
}

/* ---- topic configs ------------------------------------------------------------------------ */

void mk_topic_config_init(struct mk_topic_config *tc) {
  for (int i = 0; i < mk_setting_count; i++)
    if (mk_setting_rows[i].info.topic_config)
      store(tc, mk_setting_rows[i].topic_offset,
            mk_setting_rows[i].kind == MK_SETTING_LONG ? MK_SETTING_LONG : MK_SETTING_INT, -1);
}

/* Kafka's messages (LogConfig.validate, ConfigDef). */
int mk_topic_config_set(struct mk_topic_config *tc, struct mk_str name, struct mk_str value,
                        struct mk_err *err) {
  const struct mk_setting_row *s = mk_setting_find_topic(name);
  if (!s) {
    char known[256] = "";
    size_t n = 0;
    for (int i = 0; i < mk_setting_count; i++)
      if (mk_setting_rows[i].info.topic_config && n < sizeof known)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "",
                              mk_setting_rows[i].info.topic_config);
    return mk_err_set(err, MK_ERR_INVALID_CONFIG,
                      "Unknown topic config name: %.*s (minikafka supports %s)",
                      name.len < 0 ? 0 : (name.len > 60 ? 60 : name.len),
                      name.ptr ? name.ptr : "", known);
  }
  const char *tname = s->info.topic_config;
  if (value.len < 0)
    return mk_err_set(err, MK_ERR_INVALID_REQUEST,
                      "Null value not supported for topic configs: %s", tname);
  if (s->kind == MK_SETTING_STRING) {  /* an enumerated string: stored as its index */
    for (int i = 0; s->values[i]; i++)
      if (mk_str_eq(value, s->values[i])) {
        store(tc, s->topic_offset, MK_SETTING_INT, i);
        return 0;
      }
    char list[128] = "";
    for (int i = 0; s->values[i]; i++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
               s->values[i]);
    return mk_err_set(err, MK_ERR_INVALID_CONFIG,
                      "Invalid value %.*s for configuration %s: String must be one of: %s",
                      value.len > 40 ? 40 : value.len, value.ptr, tname, list);
  }
  char buf[32];
  const char *type_name = s->kind == MK_SETTING_LONG ? "LONG" : "INT";
  if (value.len == 0 || (size_t)value.len >= sizeof buf)
    return mk_err_set(err, MK_ERR_INVALID_CONFIG,
                      "Invalid value %.*s for configuration %s: Not a number of type %s",
                      value.len > 40 ? 40 : value.len, value.ptr, tname, type_name);
  memcpy(buf, value.ptr, (size_t)value.len);
  buf[value.len] = '\0';
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || *end || (s->kind != MK_SETTING_LONG && (v < INT32_MIN || v > INT32_MAX)))
    return mk_err_set(err, MK_ERR_INVALID_CONFIG,
                      "Invalid value %s for configuration %s: Not a number of type %s", buf,
                      tname, type_name);
  if (v < s->topic_min)
    return mk_err_set(err, MK_ERR_INVALID_CONFIG,
                      "Invalid value %s for configuration %s: Value must be at least %" PRId64,
                      buf, tname, s->topic_min);
  store(tc, s->topic_offset, s->kind == MK_SETTING_LONG ? MK_SETTING_LONG : MK_SETTING_INT,
        v == -1 && s->kind == MK_SETTING_LONG ? UNLIMITED : v);
  return 0;
}
