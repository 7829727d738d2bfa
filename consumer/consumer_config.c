/*
 * Consumer config: Kafka's consumer settings as one table (ConsumerConfig's CONFIG, in
 * alphabetical order), read by common/config_def.c; finish() holds the rules across
 * settings. See consumer_config.h.
 */
#include "consumer/consumer_config.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/properties.h"
#include "consumer/partition_assignor.h"

#define NO_MAX INT64_MAX
#define F(field) offsetof(struct mk_consumer_config, field)

static const char *const offset_resets[] = {"latest", "earliest", "none", NULL};
/* Index = the isolation_level byte of Fetch and ListOffsets. */
static const char *const isolation_levels[] = {"read_uncommitted", "read_committed", NULL};
static const char *const group_protocols[] = {"classic", "consumer", NULL};

static const struct mk_config_key keys[] = {
  {"allow.auto.create.topics", MK_CONFIG_BOOLEAN, F(allow_auto_create_topics), 0, 0, NULL,
   "true", 0, "asking for a topic that does not exist creates it (if the broker allows)"},
  {"auto.commit.interval.ms", MK_CONFIG_INT, F(auto_commit_interval_ms), 0, NO_MAX, NULL, "5000",
   0, "how often poll() commits the positions when enable.auto.commit is on"},
  {"auto.offset.reset", MK_CONFIG_CHOICE, F(auto_offset_reset), 0, 0, offset_resets, "latest", 0,
   "where to start without a committed offset: latest, earliest or none (an error)"},
  {"bootstrap.servers", MK_CONFIG_LIST, F(bootstrap_servers), 0, 0, NULL, NULL,
   MK_CONFIG_REQUIRED | MK_CONFIG_ADDRESSES,
   "host:port list of brokers to ask for the cluster's metadata first"},
  {"check.crcs", MK_CONFIG_BOOLEAN, F(check_crcs), 0, 0, NULL, "true", 0,
   "check every fetched batch's CRC-32C"},
  {"client.id", MK_CONFIG_STRING, F(client_id), 0, 0, NULL, "", 0,
   "the name brokers see; default consumer-<group.id>-N"},
  {"client.rack", MK_CONFIG_STRING, F(client_rack), 0, 0, NULL, "", 0,
   "the consumer's rack, sent in its subscription (no assignor here uses it)"},
  {"default.api.timeout.ms", MK_CONFIG_INT, F(default_api_timeout_ms), 0, NO_MAX, NULL, "60000",
   0, "how long commitSync, committed and close wait"},
  {"enable.auto.commit", MK_CONFIG_BOOLEAN, F(enable_auto_commit), 0, 0, NULL, "true", 0,
   "commit the positions every auto.commit.interval.ms, before a rebalance, and on close"},
  {"fetch.max.bytes", MK_CONFIG_INT, F(fetch_max_bytes), 0, NO_MAX, NULL, "52428800", 0,
   "bytes a Fetch may return, over all its partitions"},
  {"fetch.max.wait.ms", MK_CONFIG_INT, F(fetch_max_wait_ms), 0, NO_MAX, NULL, "500", 0,
   "how long the broker holds a Fetch waiting for fetch.min.bytes"},
  {"fetch.min.bytes", MK_CONFIG_INT, F(fetch_min_bytes), 0, NO_MAX, NULL, "1", 0,
   "bytes the broker waits for before answering a Fetch"},
  {"group.id", MK_CONFIG_STRING, F(group_id), 0, 0, NULL, NULL, 0,
   "the consumer group; null = no group (assigned partitions, no commits)"},
  {"group.instance.id", MK_CONFIG_STRING, F(group_instance_id), 0, 0, NULL, NULL,
   MK_CONFIG_NON_EMPTY, "static membership: a restart with the same id keeps the assignment"},
  {"group.protocol", MK_CONFIG_CHOICE, F(group_protocol), 0, 0, group_protocols, "classic", 0,
   "classic (JoinGroup/SyncGroup); consumer (KIP-848) is not implemented"},
  {"heartbeat.interval.ms", MK_CONFIG_INT, F(heartbeat_interval_ms), 1, NO_MAX,
   NULL, "3000", 0, "how often the heartbeat thread tells the coordinator we are alive"},
  {"internal.leave.group.on.close", MK_CONFIG_BOOLEAN, F(internal_leave_group_on_close), 0, 0,
   NULL, "true", 0, "send LeaveGroup on close (Java's internal setting)"},
  {"isolation.level", MK_CONFIG_CHOICE, F(isolation_level), 0, 0, isolation_levels,
   "read_uncommitted", 0, "read_committed hides aborted and open transactions"},
  {"max.partition.fetch.bytes", MK_CONFIG_INT, F(max_partition_fetch_bytes), 0, NO_MAX, NULL,
   "1048576", 0, "bytes a Fetch may return for one partition"},
  {"max.poll.interval.ms", MK_CONFIG_INT, F(max_poll_interval_ms), 1, NO_MAX, NULL, "300000", 0,
   "longest time between poll() calls before the consumer leaves the group"},
  {"max.poll.records", MK_CONFIG_INT, F(max_poll_records), 1, NO_MAX, NULL, "500", 0,
   "most records one poll() returns"},
  {"metadata.max.age.ms", MK_CONFIG_LONG, F(metadata_max_age_ms), 0, NO_MAX, NULL, "300000", 0,
   "refresh metadata at least this often (a leader checks partition counts then)"},
  {"partition.assignment.strategy", MK_CONFIG_LIST, F(partition_assignment_strategy), 0, 0,
   NULL, "range", 0,
   "assignors offered, preferred first: range, roundrobin (Kafka adds cooperative-sticky)"},
  {"request.timeout.ms", MK_CONFIG_INT, F(request_timeout_ms), 0, NO_MAX, NULL, "30000", 0,
   "how long one request waits for its response"},
  {"retry.backoff.ms", MK_CONFIG_LONG, F(retry_backoff_ms), 0, NO_MAX, NULL, "100", 0,
   "pause before retrying a failed request"},
  {"session.timeout.ms", MK_CONFIG_INT, F(session_timeout_ms), 1, NO_MAX, NULL,
   "45000", 0, "no heartbeat for this long and the coordinator removes the member"},
};

#define NUM_KEYS ((int)(sizeof keys / sizeof keys[0]))
static_assert(sizeof keys / sizeof keys[0] <= 64, "user_set_ has one bit per setting");

static const struct mk_config_def def = {keys, NUM_KEYS, "consumer"};

/* "consumer-...-N": N counts consumers configured in this process, as Java's
 * CONSUMER_CLIENT_ID_SEQUENCE does. */
static atomic_int client_id_sequence = 1;

static uint64_t bit(const char *key) {
  const struct mk_config_key *k = mk_config_def_find(&def, key);
  assert(k);
  return UINT64_C(1) << (k - keys);
}

struct mk_consumer_config *mk_consumer_config_new(void) {
  struct mk_consumer_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return NULL;
  if (mk_config_def_init(&def, cfg)) {
    mk_consumer_config_free(cfg);
    return NULL;
  }
  return cfg;
}

void mk_consumer_config_free(struct mk_consumer_config *cfg) {
  if (!cfg) return;
  mk_config_def_free(&def, cfg);
  free(cfg);
}

struct mk_consumer_config *mk_consumer_config_dup(const struct mk_consumer_config *cfg) {
  struct mk_consumer_config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  /* The plain fields (assignors, flags) by assignment, then the owned ones copied. */
  *c = *cfg;
  c->bootstrap_servers = c->partition_assignment_strategy = (struct mk_config_list){0};
  c->client_id = c->client_rack = c->group_id = c->group_instance_id = NULL;
  if (mk_config_def_copy(&def, c, cfg)) {
    mk_consumer_config_free(c);
    return NULL;
  }
  return c;
}

int mk_consumer_config_set(struct mk_consumer_config *cfg, const char *key, const char *value,
                           struct mk_err *err) {
  int index;
  int rc = mk_config_def_set(&def, cfg, key, value, &index, err);
  if (rc) return rc;
  uint64_t b = UINT64_C(1) << index;
  cfg->user_set_ = value ? cfg->user_set_ | b : cfg->user_set_ & ~b;
  cfg->adjusted_ &= ~b;
  cfg->finished = false;
  return 0;
}

bool mk_consumer_config_is_set(const struct mk_consumer_config *cfg, const char *key) {
  const struct mk_config_key *k = mk_config_def_find(&def, key);
  return k && (cfg->user_set_ & (UINT64_C(1) << (k - keys)));
}

int mk_consumer_config_get(const struct mk_consumer_config *cfg, const char *key, char *buf,
                           size_t size, struct mk_err *err) {
  const struct mk_config_key *k = mk_config_def_find(&def, key);
  if (!k)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Unknown configuration \"%.64s\"",
                      key ? key : "(null)");
  if (size) mk_config_def_format(k, cfg, buf, size);
  return 0;
}

const char *mk_consumer_config_key_at(int i) {
  return i >= 0 && i < NUM_KEYS ? keys[i].name : NULL;
}

void mk_consumer_config_each(const struct mk_consumer_config *cfg, mk_consumer_config_each_fn fn,
                             void *opaque) {
  char value[1024];
  for (int i = 0; i < NUM_KEYS; i++) {
    mk_config_def_format(&keys[i], cfg, value, sizeof value);
    fn(opaque, keys[i].name, value, mk_config_type_name(keys[i].type), keys[i].doc,
       cfg->user_set_ & (UINT64_C(1) << i));
  }
}

/* ---- finish: the rules across settings ------------------------------------------------- */

/* Set a value finish() chose (not the user), remembering that it did. */
static int adjust(struct mk_consumer_config *cfg, const char *key, const char *value,
                  struct mk_err *err) {
  int rc = mk_config_def_set(&def, cfg, key, value, NULL, err);
  if (!rc) cfg->adjusted_ |= bit(key);
  return rc;
}

/* JoinGroupRequest.validateGroupInstanceId: Kafka's topic-name rule. */
static int check_instance_id(const char *id, struct mk_err *err) {
  size_t n = strlen(id);
  if (n > 249)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Group instance id is illegal, it can't be longer than 249 characters");
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Group instance id \"%.64s\" is illegal, it contains a character other "
                        "than ASCII alphanumerics, '.', '_' and '-'", id);
  }
  if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Group instance id cannot be \".\" or \"..\"");
  return 0;
}

static int resolve_assignors(struct mk_consumer_config *cfg, struct mk_err *err) {
  const struct mk_config_list *l = &cfg->partition_assignment_strategy;
  cfg->num_assignors = 0;
  if (cfg->group_id && l->n == 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Must configure at least one partition assigner class name to "
                      "partition.assignment.strategy configuration property");
  for (int i = 0; i < l->n; i++) {
    const struct mk_partition_assignor *a = mk_partition_assignor_find(l->items[i]);
    if (!a) {
      bool cooperative = strstr(l->items[i], "ticky") != NULL;  /* Sticky, sticky */
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "partition.assignment.strategy: %.80s %s; minikafka's consumer has "
                        "range and roundrobin (eager rebalancing)", l->items[i],
                        cooperative ? "is not implemented (no sticky or cooperative assignor)"
                                    : "is not a known assignor");
    }
    bool dup = false;
    for (int j = 0; j < cfg->num_assignors; j++) dup |= cfg->assignors[j] == a;
    if (dup) continue;
    if (cfg->num_assignors == MK_CONSUMER_MAX_ASSIGNORS)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "partition.assignment.strategy: too many");
    cfg->assignors[cfg->num_assignors++] = a;
  }
  return 0;
}

int mk_consumer_config_finish(struct mk_consumer_config *cfg, struct mk_err *err) {
  /* Start from the user's settings: undo what an earlier finish() chose. */
  for (int i = 0; i < NUM_KEYS; i++)
    if (cfg->adjusted_ & (UINT64_C(1) << i)) mk_config_def_set_key(&keys[i], cfg, NULL, NULL);
  cfg->adjusted_ = 0;
  cfg->finished = false;

  if (cfg->bootstrap_servers.n == 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Missing required configuration \"bootstrap.servers\" which has no default "
                      "value.");
  if (cfg->group_protocol != 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "group.protocol=consumer (KIP-848's protocol) is not implemented; "
                      "minikafka's consumer speaks the classic protocol");

  /* ConsumerConfig.maybeOverrideEnableAutoCommit */
  if (!cfg->group_id && cfg->enable_auto_commit) {
    if (mk_consumer_config_is_set(cfg, "enable.auto.commit"))
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "enable.auto.commit cannot be set to true when default group id (null) "
                        "is used.");
    int rc = adjust(cfg, "enable.auto.commit", "false", err);
    if (rc) return rc;
  }
  if (cfg->group_id && !*cfg->group_id)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "group.id is empty: give the group a name, or leave group.id unset "
                      "for no group");
  if (cfg->group_instance_id) {
    int rc = check_instance_id(cfg->group_instance_id, err);
    if (rc) return rc;
  }
  /* Heartbeat's constructor (GroupRebalanceConfig). */
  if (cfg->group_id && cfg->heartbeat_interval_ms >= cfg->session_timeout_ms)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Heartbeat must be set lower than the session timeout "
                      "(heartbeat.interval.ms %d, session.timeout.ms %d)",
                      cfg->heartbeat_interval_ms, cfg->session_timeout_ms);
  int rc = resolve_assignors(cfg, err);
  if (rc) return rc;

  /* ConsumerConfig.maybeOverrideClientId */
  if (!mk_consumer_config_is_set(cfg, "client.id")) {
    if (!cfg->client_id_seq_) cfg->client_id_seq_ = atomic_fetch_add(&client_id_sequence, 1);
    char id[320];
    if (cfg->group_id)
      snprintf(id, sizeof id, "consumer-%.250s-%d", cfg->group_id, cfg->client_id_seq_);
    else
      snprintf(id, sizeof id, "consumer-%d", cfg->client_id_seq_);
    if ((rc = adjust(cfg, "client.id", id, err))) return rc;
  }
  cfg->finished = true;
  return 0;
}

/* ---- .properties files ------------------------------------------------------------------ */

static int set_property(void *cfg, const char *key, const char *value, struct mk_err *err) {
  return mk_consumer_config_set(cfg, key, value, err);
}

int mk_consumer_config_load_file(struct mk_consumer_config *cfg, const char *path,
                                 struct mk_err *err) {
  /* All or nothing: load into a copy, keep it only if every line was accepted. */
  struct mk_consumer_config *tmp = mk_consumer_config_dup(cfg);
  if (!tmp) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading properties");
  int rc = mk_properties_parse_file(path, set_property, tmp, err);
  if (rc == 0) {
    struct mk_consumer_config old = *cfg;
    *cfg = *tmp;
    *tmp = old;
  }
  mk_consumer_config_free(tmp);
  return rc;
}
