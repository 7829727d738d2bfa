/*
 * Topic admin: CreateTopics, CreatePartitions, DeleteTopics and DescribeConfigs, what kafka-topics.sh and
 * kafka-configs.sh send. Kafka: ControllerApis.createTopics / deleteTopics,
 * ReplicationControlManager.createTopic, ConfigHelper.describeConfigs, LogConfig.
 *
 * In Kafka these requests go to the controller, which writes records to the metadata
 * log; the brokers learn of a new topic when they replay them, so a client may see
 * UNKNOWN_TOPIC_OR_PARTITION for a moment after CreateTopics succeeded. Here the
 * cluster model is the metadata, so a topic exists (or is gone) as soon as the answer
 * is sent, and every virtual broker answers these requests.
 *
 * CreateTopics, per topic, first failure wins:
 *   name            Topic.validate rules; duplicates in one request   INVALID_TOPIC_EXCEPTION,
 *                                                                     INVALID_REQUEST
 *   exists          TOPIC_ALREADY_EXISTS
 *   configs         the four topic configs below, by Kafka's name     INVALID_CONFIG
 *   layout          num_partitions / replication_factor (-1 = the broker's
 *                   num.partitions / default.replication.factor), or a manual
 *                   `assignments` list with both set to -1            INVALID_PARTITIONS,
 *                                                                     INVALID_REPLICATION_FACTOR,
 *                                                                     INVALID_REPLICA_ASSIGNMENT
 *   validate_only   stop here and answer as if created (topic_id stays zero)
 *
 * Topic configs and broker settings come from one table (config.h): its names, types,
 * defaults and the broker setting each topic config falls back to.
 *
 * DescribeConfigs answers for topics (resource type 2) and brokers (4, named by node id).
 * Each config says where its value comes from, with Kafka's ConfigSource numbers:
 *   DYNAMIC_TOPIC_CONFIG 1   set on the topic (CreateTopics configs)
 *   STATIC_BROKER_CONFIG 4   set on the broker's command line (-o key=value); we know it
 *                            was set because it differs from mk_broker_config_init's value
 *   DEFAULT_CONFIG       5   the default
 * Broker configs are all read-only: minikafka has no AlterConfigs.
 *
 * Deleting a topic frees its partitions at once. That is safe for requests parked in
 * the purgatory because they keep no partition pointers: produce.c and fetch.c look
 * their partitions up (by name, or by topic id) each time they are woken. DeleteTopics
 * wakes them all, so they answer at once (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_*)
 * instead of at their timeout.
 *
 * Thread: broker loop. Memory: response strings live in the request's arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/kafka_apis.h"
#include "broker/broker_internal.h"
#include "broker/purgatory.h"
#include "broker/state_events.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_configs.h"

/* ConfigResource.Type and DescribeConfigsResponse.ConfigSource values; config types are
 * config.h's enum mk_setting_kind. */
enum { RESOURCE_TOPIC = 2, RESOURCE_BROKER = 4 };
enum { SOURCE_DYNAMIC_TOPIC = 1, SOURCE_STATIC_BROKER = 4, SOURCE_DEFAULT = 5 };

/* ---- small helpers ----------------------------------------------------------------------- */

/* A formatted string in the request's arena (a null string if out of memory). */
__attribute__((format(printf, 2, 3))) static struct mk_str arena_printf(struct mk_req *req,
                                                                        const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return MK_STR_NULL;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  char *s = mk_arena_alloc(&req->arena, (size_t)n + 1);
  if (!s) return MK_STR_NULL;
  memcpy(s, tmp, (size_t)n + 1);
  return (struct mk_str){s, n};
}

/* A setting's value as text, in the request's arena. */
static struct mk_str value_str(struct mk_req *req, const struct mk_setting_row *s, int64_t v) {
  char buf[64];
  return arena_printf(req, "%s", mk_setting_format(s, v, buf, sizeof buf));
}

static bool str_eq_str(struct mk_str a, struct mk_str b) {
  return a.len >= 0 && a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

static bool uuid_is_zero(struct mk_uuid id) {
  static const struct mk_uuid zero;
  return memcmp(id.b, zero.b, sizeof id.b) == 0;
}

/* ---- one config, as both CreateTopics and DescribeConfigs report it ------------------------ */

struct synonym {
  const char *name;
  struct mk_str value;
  int8_t source;
};

struct config_view {
  const char *name;
  struct mk_str value;
  int8_t source;
  int8_t type;
  const char *doc;
  int nsynonyms;
  struct synonym synonyms[3];  /* Kafka's order: the one in force first */
};

/* A broker setting's view: set on the command line (it differs from the default), or the
 * default. */
static void view_broker_setting(struct mk_req *req, const struct mk_setting_row *s,
                                struct config_view *v) {
  int64_t value = mk_setting_value(s, &req->cluster->cfg);
  int64_t dflt = mk_setting_default(s, req->cluster->nnodes);
  memset(v, 0, sizeof *v);
  v->name = s->info.name;
  v->type = (int8_t)s->kind;
  v->doc = s->info.doc;
  v->value = value_str(req, s, value);
  v->source = value != dflt ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
  v->synonyms[v->nsynonyms++] = (struct synonym){s->info.name, v->value, v->source};
}

/* A topic config's view: the topic's own value, else the broker setting it falls back to
 * (with that setting's own view as synonyms). */
static void view_topic_setting(struct mk_req *req, const struct mk_topic_config *tc,
                               const struct mk_setting_row *s, struct config_view *v) {
  struct config_view broker;
  view_broker_setting(req, s, &broker);
  int64_t own = mk_setting_topic_value(s, tc);
  int64_t dflt = mk_setting_default(s, req->cluster->nnodes);
  bool set = own != -1;
  memset(v, 0, sizeof *v);
  v->name = s->info.topic_config;
  v->type = (int8_t)s->kind;
  v->doc = s->info.doc;
  v->value = set ? value_str(req, s, own) : broker.value;
  v->source = set ? SOURCE_DYNAMIC_TOPIC : broker.source;
  if (set) v->synonyms[v->nsynonyms++] = (struct synonym){v->name, v->value, SOURCE_DYNAMIC_TOPIC};
  if (broker.source == SOURCE_STATIC_BROKER) v->synonyms[v->nsynonyms++] = broker.synonyms[0];
  v->synonyms[v->nsynonyms++] =
      (struct synonym){s->info.name, value_str(req, s, dflt), SOURCE_DEFAULT};
}

/* ---- CreateTopics ---------------------------------------------------------------------------- */

/* One partition's replica list in a manual assignment (CreateTopics, CreatePartitions):
 * known brokers, each once. Kafka's validateManualPartitionAssignment messages. */
static int check_replica_list(const struct mk_cluster *c, const int32_t *ids, int32_t n,
                              struct mk_err *err) {
  for (int32_t r = 0; r < n; r++) {
    if (ids[r] < 0 || ids[r] >= c->nnodes)
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "The manual partition assignment includes broker %d, but no such "
                        "broker is registered.", ids[r]);
    for (int32_t q = 0; q < r; q++)
      if (ids[q] == ids[r])
        return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                          "The manual partition assignment includes the broker %d more than "
                          "once.", ids[r]);
  }
  return 0;
}

/* Kafka's validateManualPartitionAssignment plus the check that partitions are 0..n-1.
 * On success *rf is the common replica count. */
static int check_assignments(struct mk_req *req, const struct mk_create_topics_creatable_topic *in,
                             int32_t *rf, struct mk_err *err) {
  if (in->replication_factor != -1)
    return mk_err_set(err, MK_ERR_INVALID_REQUEST,
                      "A manual partition assignment was specified, but replication factor "
                      "was not set to -1.");
  if (in->num_partitions != -1)
    return mk_err_set(err, MK_ERR_INVALID_REQUEST,
                      "A manual partition assignment was specified, but numPartitions was not "
                      "set to -1.");
  int32_t n = in->assignments_count;
  bool *seen = mk_arena_alloc(&req->arena, (size_t)n);
  if (!seen) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int32_t i = 0; i < n; i++) {
    const struct mk_create_topics_creatable_replica_assignment *a = &in->assignments[i];
    if (a->partition_index < 0 || a->partition_index >= n)
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "partitions should be a consecutive 0-based integer sequence; got "
                        "partition %d among %d assignments", a->partition_index, n);
    if (seen[a->partition_index])
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "Found multiple manual partition assignments for partition %d",
                        a->partition_index);
    seen[a->partition_index] = true;
    if (a->broker_ids_count <= 0)
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "The manual partition assignment includes an empty replica list.");
    int rc = check_replica_list(req->cluster, a->broker_ids, a->broker_ids_count, err);
    if (rc) return rc;
    if (i > 0 && a->broker_ids_count != *rf)
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "The manual partition assignment includes a partition with %d "
                        "replica(s), but this is inconsistent with previous partitions, which "
                        "have %d replica(s).", a->broker_ids_count, *rf);
    *rf = a->broker_ids_count;
  }
  return 0;
}

/* Everything mk_cluster_create_topic would refuse, with Kafka's messages, so that
 * validate_only answers exactly what a real creation would. Settles -1 to the defaults. */
static int check_layout(struct mk_req *req, const struct mk_create_topics_creatable_topic *in,
                        int32_t *partitions, int32_t *rf, struct mk_err *err) {
  struct mk_broker *b = req->broker;
  if (in->assignments_count > 0) {
    *partitions = in->assignments_count;
    if (*partitions > 10000)
      return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                        "Number of partitions %d exceeds minikafka's limit of 10000.", *partitions);
    return check_assignments(req, in, rf, err);
  }
  if (in->replication_factor < -1 || in->replication_factor == 0)
    return mk_err_set(err, MK_ERR_INVALID_REPLICATION_FACTOR,
                      "Replication factor was set to an invalid non-positive value.");
  if (in->num_partitions < -1 || in->num_partitions == 0)
    return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                      "Number of partitions was set to an invalid non-positive value.");
  *partitions = in->num_partitions == -1 ? b->cluster.cfg.num_partitions : in->num_partitions;
  *rf = in->replication_factor == -1 ? b->cluster.cfg.default_replication_factor : in->replication_factor;
  if (*partitions > 10000)
    return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                      "Number of partitions %d exceeds minikafka's limit of 10000.", *partitions);
  if (*rf > b->cluster.nnodes)
    return mk_err_set(err, MK_ERR_INVALID_REPLICATION_FACTOR,
                      "Unable to replicate the partition %d time(s): The target replication "
                      "factor of %d cannot be reached because only %d broker(s) are registered.",
                      *rf, *rf, b->cluster.nnodes);
  return 0;
}

/* Make the topic's replica lists what the manual assignment says (the topic was created a
 * moment ago with the same partition count and replication factor; nothing refers to it). */
static void assign_replicas(struct mk_topic *t, const struct mk_create_topics_creatable_topic *in) {
  for (int32_t i = 0; i < in->assignments_count; i++) {
    const struct mk_create_topics_creatable_replica_assignment *a = &in->assignments[i];
    struct mk_partition *p = t->partitions[a->partition_index];
    for (int32_t r = 0; r < a->broker_ids_count && r < p->nreplicas; r++)
      p->replicas[r].broker_id = a->broker_ids[r];
    p->leader = p->replicas[0].broker_id;
    mk_state_event_partition(p, NULL, NULL);  /* its placement as it now is */
  }
}

static void report_configs(struct mk_req *req, const struct mk_topic_config *tc,
                           struct mk_create_topics_creatable_topic_result *out) {
  int n = 0;
  for (int i = 0; i < mk_setting_count; i++) n += mk_setting_rows[i].info.topic_config != NULL;
  out->configs = mk_req_alloc(req, &mk_create_topics_creatable_topic_configs_schema, n);
  out->configs_count = 0;
  for (int i = 0; i < mk_setting_count && out->configs; i++) {
    if (!mk_setting_rows[i].info.topic_config) continue;
    struct config_view v;
    view_topic_setting(req, tc, &mk_setting_rows[i], &v);
    struct mk_create_topics_creatable_topic_configs *c = &out->configs[out->configs_count++];
    c->name = mk_str_of(v.name);
    c->value = v.value;
    c->read_only = false;
    c->config_source = v.source;
    c->is_sensitive = false;
  }
}

static void create_topic(struct mk_req *req, const struct mk_create_topics_request *in,
                         int32_t index, struct mk_create_topics_creatable_topic_result *out) {
  struct mk_broker *b = req->broker;
  const struct mk_create_topics_creatable_topic *t_in = &in->topics[index];
  struct mk_err err = {0};
  int32_t partitions = 0, rf = 0;
  struct mk_topic_config tc;
  mk_topic_config_init(&tc);
  out->name = t_in->name;

  int16_t injected = mk_req_fault_error(req, t_in->name, -1);
  int rc = injected ? mk_err_set(&err, injected, "injected by an error fault")
                    : mk_cluster_validate_topic_name(t_in->name, &err);
  for (int32_t j = 0; !rc && j < in->topics_count; j++)
    if (j != index && str_eq_str(in->topics[j].name, t_in->name))
      rc = mk_err_set(&err, MK_ERR_INVALID_REQUEST, "Duplicate topic name.");
  if (!rc && mk_cluster_find_topic(&b->cluster, t_in->name))
    rc = mk_err_set(&err, MK_ERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.",
                    t_in->name.len, t_in->name.ptr);
  for (int32_t c = 0; !rc && c < t_in->configs_count; c++)
    rc = mk_topic_config_set(&tc, t_in->configs[c].name, t_in->configs[c].value, &err);
  if (!rc) rc = check_layout(req, t_in, &partitions, &rf, &err);

  struct mk_topic *t = NULL;
  if (!rc && !in->validate_only) {
    rc = mk_cluster_create_topic(&b->cluster, t_in->name, partitions, rf, &t, &err);
    if (!rc) {
      t->config = tc;
      if (t_in->assignments_count > 0) assign_replicas(t, t_in);
    }
  }
  if (rc) {
    out->error_code = (int16_t)(rc < 0 ? MK_ERR_UNKNOWN_SERVER_ERROR : rc);
    out->error_message = arena_printf(req, "%s", err.msg);
    return;  /* num_partitions and replication_factor stay -1, as Kafka answers */
  }
  if (t) out->topic_id = t->id;
  out->num_partitions = partitions;
  out->replication_factor = (int16_t)rf;
  report_configs(req, &tc, out);
}

void mk_handle_create_topics(struct mk_req *req) {
  const struct mk_create_topics_request *in = req->request.body;
  struct mk_create_topics_response resp;
  mk_schema_set_defaults(&mk_create_topics_response_schema, &resp);
  resp.topics = mk_req_alloc(req, &mk_create_topics_creatable_topic_result_schema, in->topics_count);
  resp.topics_count = resp.topics ? in->topics_count : 0;
  for (int32_t i = 0; i < resp.topics_count; i++) create_topic(req, in, i, &resp.topics[i]);
  mk_req_respond(req, &resp);
}

/* ---- DeleteTopics ---------------------------------------------------------------------------- */

/* Delete one topic named by name (if not null) or else by id; fill out. */
static void delete_topic(struct mk_req *req, struct mk_str name, struct mk_uuid id, bool duplicate,
                         struct mk_delete_topics_deletable_topic_result *out) {
  struct mk_broker *b = req->broker;
  bool by_name = name.len >= 0;
  out->name = name;
  out->topic_id = id;
  if (by_name && !uuid_is_zero(id)) {
    out->error_code = MK_ERR_INVALID_REQUEST;
    out->error_message = mk_str_of("You may not specify both topic name and topic id.");
    return;
  }
  struct mk_topic *named = by_name ? NULL : mk_cluster_find_topic_id(&b->cluster, id);
  int16_t injected = mk_req_fault_error(req, named ? mk_str_of(named->name) : name, -1);
  if (injected) {
    out->error_code = injected;  /* an `error` fault (faults.h): nothing is deleted */
    return;
  }
  if (duplicate) {
    out->error_code = MK_ERR_INVALID_REQUEST;
    out->error_message = mk_str_of(by_name ? "Duplicate topic name." : "Duplicate topic id.");
    return;
  }
  struct mk_topic *t = by_name ? mk_cluster_find_topic(&b->cluster, name) : mk_cluster_find_topic_id(&b->cluster, id);
  if (!t) {
    out->error_code = by_name ? MK_ERR_UNKNOWN_TOPIC_OR_PARTITION : MK_ERR_UNKNOWN_TOPIC_ID;
    out->error_message = by_name ? arena_printf(req, "Topic '%.*s' does not exist.", name.len, name.ptr)
                                 : mk_str_of("This server does not host this topic ID.");
    return;
  }
  out->topic_id = t->id;
  if (!by_name) out->name = arena_printf(req, "%s", t->name);  /* t->name dies with t */
  mk_cluster_delete_topic(&b->cluster, t);
}

void mk_handle_delete_topics(struct mk_req *req) {
  const struct mk_delete_topics_request *in = req->request.body;
  struct mk_delete_topics_response resp;
  mk_schema_set_defaults(&mk_delete_topics_response_schema, &resp);
  /* v0-5 name topics in topic_names, v6 in topics (each by name or by id). */
  bool v6 = req->request.header.api_version >= 6;
  int32_t n = v6 ? in->topics_count : in->topic_names_count;
  resp.responses = mk_req_alloc(req, &mk_delete_topics_deletable_topic_result_schema, n);
  resp.responses_count = resp.responses ? n : 0;
  for (int32_t i = 0; i < resp.responses_count; i++) {
    struct mk_str name = v6 ? in->topics[i].name : in->topic_names[i];
    struct mk_uuid id = v6 ? in->topics[i].topic_id : (struct mk_uuid){{0}};
    bool duplicate = false;
    for (int32_t j = 0; j < n && !duplicate; j++) {
      if (j == i) continue;
      struct mk_str other = v6 ? in->topics[j].name : in->topic_names[j];
      if (name.len >= 0)
        duplicate = str_eq_str(name, other);
      else
        duplicate = other.len < 0 && memcmp(id.b, in->topics[j].topic_id.b, sizeof id.b) == 0;
    }
    delete_topic(req, name, id, duplicate, &resp.responses[i]);
  }
  /* Wake every parked request: those waiting on a deleted partition now find it gone. */
  mk_purgatory_check(req->broker);
  mk_req_respond(req, &resp);
}

/* ---- CreatePartitions ------------------------------------------------------------------------ */

/* Kafka's checks of a manual assignment for the new partitions: one replica list per new
 * partition, each as long as the topic's replication factor, of distinct known brokers. */
static int check_new_assignments(struct mk_req *req, const struct mk_topic *t,
                                 const struct mk_create_partitions_topic *in, struct mk_err *err) {
  int32_t added = in->count - t->npartitions;
  int32_t rf = t->partitions[0]->nreplicas;
  if (in->assignments_count != added)
    return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                      "Attempted to add %d additional partition(s), but only %d assignment(s) "
                      "were specified.", added, in->assignments_count);
  for (int32_t i = 0; i < in->assignments_count; i++) {
    const struct mk_create_partitions_assignment *a = &in->assignments[i];
    if (a->broker_ids_count != rf)
      return mk_err_set(err, MK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "The manual partition assignment includes a partition with %d replica(s), "
                        "but this is inconsistent with previous partitions, which have %d "
                        "replica(s).", a->broker_ids_count, rf);
    int rc = check_replica_list(req->cluster, a->broker_ids, a->broker_ids_count, err);
    if (rc) return rc;
  }
  return 0;
}

static void create_partitions(struct mk_req *req, const struct mk_create_partitions_request *in,
                              int32_t index, struct mk_create_partitions_topic_result *out) {
  const struct mk_create_partitions_topic *t_in = &in->topics[index];
  struct mk_err err = {0};
  out->name = t_in->name;
  int16_t injected = mk_req_fault_error(req, t_in->name, -1);
  int rc = injected ? mk_err_set(&err, injected, "injected by an error fault") : 0;
  for (int32_t j = 0; !rc && j < in->topics_count; j++)
    if (j != index && str_eq_str(in->topics[j].name, t_in->name))
      rc = mk_err_set(&err, MK_ERR_INVALID_REQUEST, "Duplicate topic in request.");
  struct mk_topic *t = rc ? NULL : mk_cluster_find_topic(req->cluster, t_in->name);
  if (!rc && !t)
    rc = mk_err_set(&err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%.*s' does not exist.",
                    t_in->name.len, t_in->name.ptr);
  if (!rc && t_in->count == t->npartitions)
    rc = mk_err_set(&err, MK_ERR_INVALID_PARTITIONS, "Topic already has %d partition(s).",
                    t->npartitions);
  else if (!rc && t_in->count < t->npartitions)
    rc = mk_err_set(&err, MK_ERR_INVALID_PARTITIONS,
                    "The topic %s currently has %d partition(s); %d would not be an increase.",
                    t->name, t->npartitions, t_in->count);
  if (!rc && t_in->assignments_count >= 0) rc = check_new_assignments(req, t, t_in, &err);
  if (!rc && !in->validate_only) {
    int32_t before = t->npartitions;
    rc = mk_cluster_add_partitions(req->cluster, t, t_in->count, &err);
    for (int32_t i = 0; !rc && i < t_in->assignments_count; i++) {
      struct mk_partition *p = t->partitions[before + i];
      for (int r = 0; r < p->nreplicas; r++)
        p->replicas[r].broker_id = t_in->assignments[i].broker_ids[r];
      p->leader = p->replicas[0].broker_id;
      mk_state_event_partition(p, NULL, NULL);  /* its placement as it now is */
    }
  }
  if (rc) {
    out->error_code = (int16_t)(rc < 0 ? MK_ERR_UNKNOWN_SERVER_ERROR : rc);
    out->error_message = arena_printf(req, "%s", err.msg);
  }
}

void mk_handle_create_partitions(struct mk_req *req) {
  const struct mk_create_partitions_request *in = req->request.body;
  struct mk_create_partitions_response resp;
  mk_schema_set_defaults(&mk_create_partitions_response_schema, &resp);
  resp.results = mk_req_alloc(req, &mk_create_partitions_topic_result_schema, in->topics_count);
  resp.results_count = resp.results ? in->topics_count : 0;
  for (int32_t i = 0; i < resp.results_count; i++) create_partitions(req, in, i, &resp.results[i]);
  mk_req_respond(req, &resp);
}

/* ---- DescribeConfigs ------------------------------------------------------------------------- */

/* Whether the resource asked for this key (a null key list asks for all). */
static bool wanted(const struct mk_describe_configs_resource *r, const char *name) {
  if (r->configuration_keys_count < 0) return true;
  for (int32_t i = 0; i < r->configuration_keys_count; i++)
    if (mk_str_eq(r->configuration_keys[i], name)) return true;
  return false;
}

static void fill_result(struct mk_req *req, const struct mk_describe_configs_request *in,
                        const struct config_view *v, bool read_only,
                        struct mk_describe_configs_resource_result *out) {
  out->name = mk_str_of(v->name);
  out->value = v->value;
  out->read_only = read_only;
  out->config_source = v->source;
  out->is_sensitive = false;
  out->config_type = v->type;
  if (in->include_documentation && v->doc) out->documentation = mk_str_of(v->doc);
  if (!in->include_synonyms) return;
  out->synonyms = mk_req_alloc(req, &mk_describe_configs_synonym_schema, v->nsynonyms);
  out->synonyms_count = out->synonyms ? v->nsynonyms : 0;
  for (int i = 0; i < out->synonyms_count; i++) {
    out->synonyms[i].name = mk_str_of(v->synonyms[i].name);
    out->synonyms[i].value = v->synonyms[i].value;
    out->synonyms[i].source = v->synonyms[i].source;
  }
}

static void describe_topic(struct mk_req *req, const struct mk_describe_configs_request *in,
                           const struct mk_describe_configs_resource *r,
                           struct mk_describe_configs_result *out) {
  struct mk_err err = {0};
  if (mk_cluster_validate_topic_name(r->resource_name, &err)) {
    out->error_code = MK_ERR_INVALID_TOPIC_EXCEPTION;
    out->error_message = arena_printf(req, "%s", err.msg);
    return;
  }
  struct mk_topic *t = mk_cluster_find_topic(req->cluster, r->resource_name);
  if (!t) {
    out->error_code = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    out->error_message = arena_printf(req, "Topic '%.*s' does not exist.", r->resource_name.len,
                                      r->resource_name.ptr);
    return;
  }
  out->configs = mk_req_alloc(req, &mk_describe_configs_resource_result_schema, mk_setting_count);
  for (int i = 0; i < mk_setting_count && out->configs; i++) {
    const struct mk_setting_row *s = &mk_setting_rows[i];
    if (!s->info.topic_config || !wanted(r, s->info.topic_config)) continue;
    struct config_view v;
    view_topic_setting(req, &t->config, s, &v);
    fill_result(req, in, &v, false, &out->configs[out->configs_count++]);
  }
}

/* A broker resource is named by its node id ("1"); the empty name means the cluster-wide
 * dynamic defaults, of which minikafka has none. */
static void describe_broker(struct mk_req *req, const struct mk_describe_configs_request *in,
                            const struct mk_describe_configs_resource *r,
                            struct mk_describe_configs_result *out) {
  struct mk_broker *b = req->broker;
  if (r->resource_name.len == 0) return;
  char buf[16] = "";
  char *end = buf;
  long id = -1;
  if (r->resource_name.len > 0 && (size_t)r->resource_name.len < sizeof buf) {
    memcpy(buf, r->resource_name.ptr, (size_t)r->resource_name.len);
    id = strtol(buf, &end, 10);
  }
  if (end == buf || *end) {
    out->error_code = MK_ERR_INVALID_REQUEST;
    out->error_message = arena_printf(req, "Broker id must be an integer, but it is: %.*s",
                                      r->resource_name.len < 0 ? 0 : r->resource_name.len,
                                      r->resource_name.ptr ? r->resource_name.ptr : "");
    return;
  }
  if (id < 0 || id >= b->cluster.nnodes) {
    out->error_code = MK_ERR_INVALID_REQUEST;
    out->error_message =
        arena_printf(req, "Unexpected broker id %ld: the brokers are 0-%d", id, b->cluster.nnodes - 1);
    return;
  }
  out->configs = mk_req_alloc(req, &mk_describe_configs_resource_result_schema, mk_setting_count + 4);
  if (!out->configs) return;
  /* Who the broker is (broker.id, node.id, listeners, advertised.listeners): fixed at start,
   * so always "set". */
  struct config_view v = {.source = SOURCE_STATIC_BROKER, .type = MK_SETTING_INT, .nsynonyms = 1};
  const char *ids[] = {"broker.id", "node.id"};
  for (int i = 0; i < 2; i++) {
    v.name = v.synonyms[0].name = ids[i];
    v.value = v.synonyms[0].value = arena_printf(req, "%ld", id);
    v.synonyms[0].source = SOURCE_STATIC_BROKER;
    if (wanted(r, v.name)) fill_result(req, in, &v, true, &out->configs[out->configs_count++]);
  }
  v.name = v.synonyms[0].name = "listeners";
  v.type = MK_SETTING_STRING;
  v.value = v.synonyms[0].value =
      arena_printf(req, "PLAINTEXT://%s:%d", b->cluster.cfg.host, b->cluster.nodes[id].port);
  if (wanted(r, v.name)) fill_result(req, in, &v, true, &out->configs[out->configs_count++]);
  v.name = v.synonyms[0].name = "advertised.listeners";
  v.value = v.synonyms[0].value = arena_printf(req, "PLAINTEXT://%s:%d",
                                               mk_cluster_advertised_host(&b->cluster),
                                               b->cluster.nodes[id].port);
  if (wanted(r, v.name)) fill_result(req, in, &v, true, &out->configs[out->configs_count++]);

  for (int i = 0; i < mk_setting_count; i++) {
    if (!wanted(r, mk_setting_rows[i].info.name)) continue;
    struct config_view bv;
    view_broker_setting(req, &mk_setting_rows[i], &bv);
    fill_result(req, in, &bv, true, &out->configs[out->configs_count++]);
  }
}

void mk_handle_describe_configs(struct mk_req *req) {
  const struct mk_describe_configs_request *in = req->request.body;
  struct mk_describe_configs_response resp;
  mk_schema_set_defaults(&mk_describe_configs_response_schema, &resp);
  resp.results = mk_req_alloc(req, &mk_describe_configs_result_schema, in->resources_count);
  resp.results_count = resp.results ? in->resources_count : 0;
  for (int32_t i = 0; i < resp.results_count; i++) {
    const struct mk_describe_configs_resource *r = &in->resources[i];
    struct mk_describe_configs_result *out = &resp.results[i];
    out->resource_type = r->resource_type;
    out->resource_name = r->resource_name;
    out->configs_count = 0;
    int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
    if (injected) {
      out->error_code = injected;  /* an `error` fault (faults.h) */
    } else if (r->resource_type == RESOURCE_TOPIC) {
      describe_topic(req, in, r, out);
    } else if (r->resource_type == RESOURCE_BROKER) {
      describe_broker(req, in, r, out);
    } else {
      out->error_code = MK_ERR_INVALID_REQUEST;
      out->error_message = arena_printf(req, "Unsupported resource type: %d (minikafka "
                                        "describes topics (2) and brokers (4))", r->resource_type);
    }
  }
  mk_req_respond(req, &resp);
}
