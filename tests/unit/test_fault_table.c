/*
 * The fault table (broker/faults.c): every request fault the table allows, on every API,
 * under every scope it allows, fires on a request its scope names and on no other; every
 * combination it does not allow is refused when injected, never armed to sit silent.
 *
 * The test walks the API table (protocol/api.h) and asks the fault table
 * (mk_fault_allowed) what to expect, so a row added there is tested here at once. Each API
 * the fault table knows needs a probe below: how to build a request naming a topic and a
 * partition, and where its response carries an error. A missing probe fails the test.
 *
 * For each allowed (API, action, scope): two fresh topics, T1 and T2 (2 partitions, one
 * replica); the fault is scoped to broker 0, to T1, or to T1's partition 0; then
 *   - a request the scope does not name (broker 1, T2, or T1's partition 1) leaves the fault
 *     unfired and shows no effect;
 *   - a request it names fires it once, with the action's effect: the injected error in the
 *     response (error), no response and a closed connection (drop_response "close"), or a
 *     response no sooner than the delay (delay).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/broker.h"
#include "broker/faults.h"  /* mk_fault_allowed: the table under test */
#include "protocol/api.h"
#include "protocol/messages/add_offsets_to_txn.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"
#include "protocol/messages/txn_offset_commit.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
enum { DELAY_MS = 300, INJECTED = MK_ERR_POLICY_VIOLATION };

/* ---- probes: one per API ------------------------------------------------------------------- */

/* Fill body (the API's request struct, set to its defaults) so it names topic/partition. The
 * arrays it points to are static: one request is built and sent at a time. */
typedef void build_fn(void *body, const char *topic, int32_t partition);
/* The error the response carries for topic/partition (or as a whole). */
typedef int16_t error_fn(const void *resp, const char *topic, int32_t partition);

static struct mk_writer batch;  /* one small record batch, for Produce */

static void build_produce(void *body, const char *topic, int32_t partition) {
  static struct mk_produce_topic_produce_data td;
  static struct mk_produce_partition_produce_data pd;
  struct mk_produce_request *r = body;
  pd.index = partition;
  pd.records = (struct mk_bytes){batch.buf, (int32_t)batch.len};
  td = (struct mk_produce_topic_produce_data){mk_str_of(topic), &pd, 1};
  r->acks = 1;
  r->timeout_ms = 5000;
  r->topic_data = &td;
  r->topic_data_count = 1;
}

static int16_t error_produce(const void *resp, const char *topic, int32_t partition) {
  const struct mk_produce_response *r = resp;
  for (int i = 0; i < r->responses_count; i++)
    for (int j = 0; j < r->responses[i].partition_responses_count; j++)
      if (mk_str_eq(r->responses[i].name, topic) &&
          r->responses[i].partition_responses[j].index == partition)
        return r->responses[i].partition_responses[j].error_code;
  return -1;
}

static void build_fetch(void *body, const char *topic, int32_t partition) {
  static struct mk_fetch_topic ft;
  static struct mk_fetch_partition fp;
  struct mk_fetch_request *r = body;
  mk_schema_set_defaults(&mk_fetch_partition_schema, &fp);
  mk_schema_set_defaults(&mk_fetch_topic_schema, &ft);
  fp.partition = partition;
  fp.partition_max_bytes = 1 << 20;
  ft.topic = mk_str_of(topic);
  ft.partitions = &fp;
  ft.partitions_count = 1;
  r->max_wait_ms = 0;
  r->max_bytes = 1 << 20;
  r->topics = &ft;
  r->topics_count = 1;
}

static int16_t error_fetch(const void *resp, const char *topic, int32_t partition) {
  const struct mk_fetch_response *r = resp;
  for (int i = 0; i < r->responses_count; i++)
    for (int j = 0; j < r->responses[i].partitions_count; j++)
      if (mk_str_eq(r->responses[i].topic, topic) &&
          r->responses[i].partitions[j].partition_index == partition)
        return r->responses[i].partitions[j].error_code;
  return -1;
}

static void build_list_offsets(void *body, const char *topic, int32_t partition) {
  static struct mk_list_offsets_topic lt;
  static struct mk_list_offsets_partition lp;
  struct mk_list_offsets_request *r = body;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &lp);
  lp.partition_index = partition;
  lp.timestamp = -1;
  lt = (struct mk_list_offsets_topic){mk_str_of(topic), &lp, 1};
  r->replica_id = -1;
  r->topics = &lt;
  r->topics_count = 1;
}

static int16_t error_list_offsets(const void *resp, const char *topic, int32_t partition) {
  const struct mk_list_offsets_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    for (int j = 0; j < r->topics[i].partitions_count; j++)
      if (mk_str_eq(r->topics[i].name, topic) &&
          r->topics[i].partitions[j].partition_index == partition)
        return r->topics[i].partitions[j].error_code;
  return -1;
}

static void build_metadata(void *body, const char *topic, int32_t partition) {
  (void)partition;
  static struct mk_metadata_request_topic mt;
  struct mk_metadata_request *r = body;
  mk_schema_set_defaults(&mk_metadata_request_topic_schema, &mt);
  mt.name = mk_str_of(topic);
  r->topics = &mt;
  r->topics_count = 1;
  r->allow_auto_topic_creation = false;
}

static int16_t error_metadata(const void *resp, const char *topic, int32_t partition) {
  (void)partition;
  const struct mk_metadata_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    if (mk_str_eq(r->topics[i].name, topic)) return r->topics[i].error_code;
  return -1;
}

/* CreateTopics for an existing topic: TOPIC_ALREADY_EXISTS unless an error fault answers. */
static void build_create_topics(void *body, const char *topic, int32_t partition) {
  (void)partition;
  static struct mk_create_topics_creatable_topic ct;
  struct mk_create_topics_request *r = body;
  mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &ct);
  ct.name = mk_str_of(topic);
  ct.num_partitions = 1;
  ct.replication_factor = 1;
  r->topics = &ct;
  r->topics_count = 1;
  r->timeout_ms = 5000;
}

static int16_t error_create_topics(const void *resp, const char *topic, int32_t partition) {
  (void)partition;
  const struct mk_create_topics_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    if (mk_str_eq(r->topics[i].name, topic)) return r->topics[i].error_code;
  return -1;
}

static void build_delete_topics(void *body, const char *topic, int32_t partition) {
  (void)partition;
  static struct mk_str name;
  struct mk_delete_topics_request *r = body;
  name = mk_str_of(topic);
  r->topic_names = &name;
  r->topic_names_count = 1;
  r->timeout_ms = 5000;
}

static int16_t error_delete_topics(const void *resp, const char *topic, int32_t partition) {
  (void)partition;
  const struct mk_delete_topics_response *r = resp;
  for (int i = 0; i < r->responses_count; i++)
    if (mk_str_eq(r->responses[i].name, topic)) return r->responses[i].error_code;
  return -1;
}

/* CreatePartitions asking for no more partitions than the topic has: INVALID_PARTITIONS
 * unless an error fault answers (so the topic stays as it is whatever happens). */
static void build_create_partitions(void *body, const char *topic, int32_t partition) {
  (void)partition;
  static struct mk_create_partitions_topic ct;
  struct mk_create_partitions_request *r = body;
  mk_schema_set_defaults(&mk_create_partitions_topic_schema, &ct);
  ct.name = mk_str_of(topic);
  ct.count = 1;
  ct.assignments_count = -1;
  r->topics = &ct;
  r->topics_count = 1;
  r->timeout_ms = 5000;
}

static int16_t error_create_partitions(const void *resp, const char *topic, int32_t partition) {
  (void)partition;
  const struct mk_create_partitions_response *r = resp;
  for (int i = 0; i < r->results_count; i++)
    if (mk_str_eq(r->results[i].name, topic)) return r->results[i].error_code;
  return -1;
}

static void build_nothing(void *body, const char *topic, int32_t partition) {
  (void)body, (void)topic, (void)partition;
}

static void build_init_producer_id(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  struct mk_init_producer_id_request *r = body;
  r->transactional_id = MK_STR_NULL;  /* an idempotent producer's request */
  r->transaction_timeout_ms = -1;
}

static void build_find_coordinator(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  ((struct mk_find_coordinator_request *)body)->key = mk_str_of("some-group");
}

static void build_describe_configs(void *body, const char *topic, int32_t partition) {
  (void)partition;
  static struct mk_describe_configs_resource res;
  struct mk_describe_configs_request *r = body;
  mk_schema_set_defaults(&mk_describe_configs_resource_schema, &res);
  res.resource_type = 2;  /* a topic */
  res.resource_name = mk_str_of(topic);
  r->resources = &res;
  r->resources_count = 1;
}

static int16_t error_describe_configs(const void *resp, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  const struct mk_describe_configs_response *r = resp;
  return r->results_count > 0 ? r->results[0].error_code : -1;
}

/* The group coordinator's APIs, each answered at once: a JoinGroup with a session timeout
 * no group accepts, the others for a group that does not exist (or NOT_COORDINATOR from a
 * broker that does not coordinate it). The offset APIs name the topic and partition. */
static void build_join_group(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  static struct mk_join_group_request_protocol proto;
  struct mk_join_group_request *r = body;
  proto = (struct mk_join_group_request_protocol){mk_str_of("range"), {NULL, 0}};
  r->group_id = mk_str_of("some-group");
  r->session_timeout_ms = 1;
  r->member_id = mk_str_of("");
  r->protocol_type = mk_str_of("consumer");
  r->protocols = &proto;
  r->protocols_count = 1;
}

static void build_sync_group(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  struct mk_sync_group_request *r = body;
  r->group_id = mk_str_of("some-group");
  r->member_id = mk_str_of("nobody");
}

static void build_heartbeat(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  struct mk_heartbeat_request *r = body;
  r->group_id = mk_str_of("some-group");
  r->member_id = mk_str_of("nobody");
}

static void build_leave_group(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  static struct mk_leave_group_member_identity who;
  struct mk_leave_group_request *r = body;
  mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who);
  who.member_id = mk_str_of("nobody");
  r->group_id = mk_str_of("some-group");
  r->members = &who;
  r->members_count = 1;
}

static void build_offset_commit(void *body, const char *topic, int32_t partition) {
  static struct mk_offset_commit_request_topic ct;
  static struct mk_offset_commit_request_partition cp;
  struct mk_offset_commit_request *r = body;
  mk_schema_set_defaults(&mk_offset_commit_request_partition_schema, &cp);
  cp.partition_index = partition;
  ct = (struct mk_offset_commit_request_topic){mk_str_of(topic), &cp, 1};
  r->group_id = mk_str_of("some-group");
  r->topics = &ct;
  r->topics_count = 1;
}

static int16_t error_offset_commit(const void *resp, const char *topic, int32_t partition) {
  const struct mk_offset_commit_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    for (int j = 0; j < r->topics[i].partitions_count; j++)
      if (mk_str_eq(r->topics[i].name, topic) &&
          r->topics[i].partitions[j].partition_index == partition)
        return r->topics[i].partitions[j].error_code;
  return -1;
}

static void build_offset_fetch(void *body, const char *topic, int32_t partition) {
  static struct mk_offset_fetch_request_group g;
  static struct mk_offset_fetch_request_topics t;
  static int32_t index;
  struct mk_offset_fetch_request *r = body;
  index = partition;
  t = (struct mk_offset_fetch_request_topics){mk_str_of(topic), &index, 1};
  mk_schema_set_defaults(&mk_offset_fetch_request_group_schema, &g);
  g.group_id = mk_str_of("some-group");
  g.topics = &t;
  g.topics_count = 1;
  r->groups = &g;
  r->groups_count = 1;
}

/* The partition's error, else the group's (a fault scoped by broker answers for the group). */
static int16_t error_offset_fetch(const void *resp, const char *topic, int32_t partition) {
  const struct mk_offset_fetch_response *r = resp;
  if (r->groups_count != 1) return -1;
  const struct mk_offset_fetch_response_group *g = &r->groups[0];
  for (int i = 0; i < g->topics_count; i++)
    for (int j = 0; j < g->topics[i].partitions_count; j++)
      if (mk_str_eq(g->topics[i].name, topic) &&
          g->topics[i].partitions[j].partition_index == partition &&
          g->topics[i].partitions[j].error_code)
        return g->topics[i].partitions[j].error_code;
  return g->error_code;
}

static void build_offset_delete(void *body, const char *topic, int32_t partition) {
  static struct mk_offset_delete_request_topic t;
  static struct mk_offset_delete_request_partition p;
  struct mk_offset_delete_request *r = body;
  p.partition_index = partition;
  t = (struct mk_offset_delete_request_topic){mk_str_of(topic), &p, 1};
  r->group_id = mk_str_of("some-group");
  r->topics = &t;
  r->topics_count = 1;
}

static int16_t error_offset_delete(const void *resp, const char *topic, int32_t partition) {
  const struct mk_offset_delete_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    for (int j = 0; j < r->topics[i].partitions_count; j++)
      if (mk_str_eq(r->topics[i].name, topic) &&
          r->topics[i].partitions[j].partition_index == partition)
        return r->topics[i].partitions[j].error_code;
  return r->error_code;
}

static void build_describe_groups(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  static struct mk_str group;
  struct mk_describe_groups_request *r = body;
  group = mk_str_of("some-group");
  r->groups = &group;
  r->groups_count = 1;
}

static int16_t error_describe_groups(const void *resp, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  const struct mk_describe_groups_response *r = resp;
  return r->groups_count == 1 ? r->groups[0].error_code : -1;
}

static void build_delete_groups(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  static struct mk_str group;
  struct mk_delete_groups_request *r = body;
  group = mk_str_of("some-group");
  r->groups_names = &group;
  r->groups_names_count = 1;
}

static int16_t error_delete_groups(const void *resp, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  const struct mk_delete_groups_response *r = resp;
  return r->results_count == 1 ? r->results[0].error_code : -1;
}

static void build_add_partitions_to_txn(void *body, const char *topic, int32_t partition) {
  static struct mk_add_partitions_to_txn_topic t;
  static int32_t index;
  struct mk_add_partitions_to_txn_request *r = body;
  index = partition;
  t = (struct mk_add_partitions_to_txn_topic){mk_str_of(topic), &index, 1};
  r->v3_and_below_transactional_id = mk_str_of("some-txn");
  r->v3_and_below_producer_id = 4242;
  r->v3_and_below_producer_epoch = 0;
  r->v3_and_below_topics = &t;
  r->v3_and_below_topics_count = 1;
}

static int16_t error_add_partitions_to_txn(const void *resp, const char *topic, int32_t partition) {
  const struct mk_add_partitions_to_txn_response *r = resp;
  for (int i = 0; i < r->results_by_topic_v3_and_below_count; i++) {
    const struct mk_add_partitions_to_txn_topic_result *t = &r->results_by_topic_v3_and_below[i];
    for (int j = 0; j < t->results_by_partition_count; j++)
      if (mk_str_eq(t->name, topic) && t->results_by_partition[j].partition_index == partition)
        return t->results_by_partition[j].partition_error_code;
  }
  return -1;
}

static void build_add_offsets_to_txn(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  struct mk_add_offsets_to_txn_request *r = body;
  r->transactional_id = mk_str_of("some-txn");
  r->producer_id = 4242;
  r->group_id = mk_str_of("some-group");
}

static void build_end_txn(void *body, const char *topic, int32_t partition) {
  (void)topic, (void)partition;
  struct mk_end_txn_request *r = body;
  r->transactional_id = mk_str_of("some-txn");
  r->producer_id = 4242;
  r->committed = true;
}

static void build_txn_offset_commit(void *body, const char *topic, int32_t partition) {
  static struct mk_txn_offset_commit_request_topic ct;
  static struct mk_txn_offset_commit_request_partition cp;
  struct mk_txn_offset_commit_request *r = body;
  mk_schema_set_defaults(&mk_txn_offset_commit_request_partition_schema, &cp);
  cp.partition_index = partition;
  ct = (struct mk_txn_offset_commit_request_topic){mk_str_of(topic), &cp, 1};
  r->transactional_id = mk_str_of("some-txn");
  r->group_id = mk_str_of("some-group");
  r->producer_id = 4242;
  r->topics = &ct;
  r->topics_count = 1;
}

static int16_t error_txn_offset_commit(const void *resp, const char *topic, int32_t partition) {
  const struct mk_txn_offset_commit_response *r = resp;
  for (int i = 0; i < r->topics_count; i++)
    for (int j = 0; j < r->topics[i].partitions_count; j++)
      if (mk_str_eq(r->topics[i].name, topic) &&
          r->topics[i].partitions[j].partition_index == partition)
        return r->topics[i].partitions[j].error_code;
  return -1;
}

/* The response's top-level error_code, at the same place in each of these structs. */
#define TOP_LEVEL_ERROR(name, type)                                                 \
  static int16_t name(const void *resp, const char *topic, int32_t partition) {    \
    (void)topic, (void)partition;                                                  \
    return ((const type *)resp)->error_code;                                       \
  }
TOP_LEVEL_ERROR(error_init_producer_id, struct mk_init_producer_id_response)
TOP_LEVEL_ERROR(error_find_coordinator, struct mk_find_coordinator_response)
TOP_LEVEL_ERROR(error_describe_cluster, struct mk_describe_cluster_response)
TOP_LEVEL_ERROR(error_api_versions, struct mk_api_versions_response)
TOP_LEVEL_ERROR(error_join_group, struct mk_join_group_response)
TOP_LEVEL_ERROR(error_sync_group, struct mk_sync_group_response)
TOP_LEVEL_ERROR(error_heartbeat, struct mk_heartbeat_response)
TOP_LEVEL_ERROR(error_leave_group, struct mk_leave_group_response)
TOP_LEVEL_ERROR(error_list_groups, struct mk_list_groups_response)
TOP_LEVEL_ERROR(error_add_offsets_to_txn, struct mk_add_offsets_to_txn_response)
TOP_LEVEL_ERROR(error_end_txn, struct mk_end_txn_response)

static const struct probe {
  int api_key;
  int version;
  const struct mk_schema *schema;  /* the request's, for its defaults */
  build_fn *build;
  error_fn *error;
} probes[] = {
  {MK_API_PRODUCE, 9, &mk_produce_request_schema, build_produce, error_produce},
  {MK_API_FETCH, 12, &mk_fetch_request_schema, build_fetch, error_fetch},
  {MK_API_LIST_OFFSETS, 7, &mk_list_offsets_request_schema, build_list_offsets, error_list_offsets},
  {MK_API_METADATA, 9, &mk_metadata_request_schema, build_metadata, error_metadata},
  {MK_API_CREATE_TOPICS, 5, &mk_create_topics_request_schema, build_create_topics,
   error_create_topics},
  {MK_API_DELETE_TOPICS, 5, &mk_delete_topics_request_schema, build_delete_topics,
   error_delete_topics},
  {MK_API_CREATE_PARTITIONS, 3, &mk_create_partitions_request_schema, build_create_partitions,
   error_create_partitions},
  {MK_API_INIT_PRODUCER_ID, 4, &mk_init_producer_id_request_schema, build_init_producer_id,
   error_init_producer_id},
  {MK_API_FIND_COORDINATOR, 3, &mk_find_coordinator_request_schema, build_find_coordinator,
   error_find_coordinator},
  {MK_API_DESCRIBE_CLUSTER, 0, &mk_describe_cluster_request_schema, build_nothing,
   error_describe_cluster},
  {MK_API_DESCRIBE_CONFIGS, 4, &mk_describe_configs_request_schema, build_describe_configs,
   error_describe_configs},
  {MK_API_API_VERSIONS, 3, &mk_api_versions_request_schema, build_nothing, error_api_versions},
  {MK_API_JOIN_GROUP, 5, &mk_join_group_request_schema, build_join_group, error_join_group},
  {MK_API_SYNC_GROUP, 3, &mk_sync_group_request_schema, build_sync_group, error_sync_group},
  {MK_API_HEARTBEAT, 3, &mk_heartbeat_request_schema, build_heartbeat, error_heartbeat},
  {MK_API_LEAVE_GROUP, 3, &mk_leave_group_request_schema, build_leave_group, error_leave_group},
  {MK_API_OFFSET_COMMIT, 8, &mk_offset_commit_request_schema, build_offset_commit,
   error_offset_commit},
  {MK_API_OFFSET_FETCH, 8, &mk_offset_fetch_request_schema, build_offset_fetch,
   error_offset_fetch},
  {MK_API_ADD_PARTITIONS_TO_TXN, 3, &mk_add_partitions_to_txn_request_schema,
   build_add_partitions_to_txn, error_add_partitions_to_txn},
  {MK_API_ADD_OFFSETS_TO_TXN, 3, &mk_add_offsets_to_txn_request_schema, build_add_offsets_to_txn,
   error_add_offsets_to_txn},
  {MK_API_END_TXN, 3, &mk_end_txn_request_schema, build_end_txn, error_end_txn},
  {MK_API_TXN_OFFSET_COMMIT, 3, &mk_txn_offset_commit_request_schema, build_txn_offset_commit,
   error_txn_offset_commit},
  {MK_API_OFFSET_DELETE, 0, &mk_offset_delete_request_schema, build_offset_delete,
   error_offset_delete},
  {MK_API_DESCRIBE_GROUPS, 5, &mk_describe_groups_request_schema, build_describe_groups,
   error_describe_groups},
  {MK_API_LIST_GROUPS, 4, &mk_list_groups_request_schema, build_nothing, error_list_groups},
  {MK_API_DELETE_GROUPS, 2, &mk_delete_groups_request_schema, build_delete_groups,
   error_delete_groups},
};

static const struct probe *probe_of(int api_key) {
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
    if (probes[i].api_key == api_key) return &probes[i];
  return NULL;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many times fault `id` has fired, from the broker's fault list. */
static int fired(int id) {
  char *text = mk_broker_faults_json(broker);
  assert_non_null(text);
  json_t *list = json_loads(text, 0, NULL);
  free(text);
  assert_non_null(list);
  int n = -1;
  size_t i;
  json_t *f;
  json_array_foreach(list, i, f) {
    if (json_integer_value(json_object_get(f, "id")) == id)
      n = (int)json_integer_value(json_object_get(f, "fired"));
  }
  json_decref(list);
  assert_true(n >= 0);
  return n;
}

struct outcome {
  int rc;          /* raw_client_call's: 0, or the connection closed / timed out */
  int16_t error;   /* the response's error for the topic/partition */
  int64_t ms;      /* how long the answer took */
};

/* Send the probe's request naming topic/partition to broker node, on a new connection. */
static struct outcome send_probe(const struct probe *p, int node, const char *topic,
                                 int32_t partition) {
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, node)), 0);
  char body[1024];
  assert_true(p->schema->size <= sizeof body);
  mk_schema_set_defaults(p->schema, body);
  p->build(body, topic, partition);
  void *resp = NULL;
  struct outcome o = {0, -1, 0};
  int64_t t0 = now_ms();
  o.rc = raw_client_call(&c, p->api_key, p->version, body, &resp, 3000);
  o.ms = now_ms() - t0;
  if (!o.rc) o.error = p->error(resp, topic, partition);
  raw_client_close(&c);
  return o;
}

static const char *const action_json[] = {
  [MK_FAULT_DROP_RESPONSE] = "\"action\":\"drop_response\",\"mode\":\"close\"",
  [MK_FAULT_ERROR] = "\"action\":\"error\",\"error\":\"POLICY_VIOLATION\"",
  [MK_FAULT_DELAY] = "\"action\":\"delay\",\"ms\":300",
};
static const char *const scope_names[] = {"broker", "topic", "partition"};

/* Whether o shows the action's effect. */
static bool shows(enum mk_fault_action a, struct outcome o) {
  switch (a) {
    case MK_FAULT_ERROR: return o.rc == 0 && o.error == INJECTED;
    case MK_FAULT_DROP_RESPONSE: return o.rc != 0;
    default: return o.rc == 0 && o.ms >= DELAY_MS - 20;
  }
}

/* One allowed combination; see the top of the file. */
static void check_combination(const struct probe *p, enum mk_fault_action a,
                              enum mk_fault_scope scope, int n) {
  const char *api = mk_api_find(p->api_key)->name;
  char t1[64], t2[64];
  snprintf(t1, sizeof t1, "ft-%d-a", n);
  snprintf(t2, sizeof t2, "ft-%d-b", n);
  test_broker_create_topic(broker, t1, 2, 1, NULL);
  test_broker_create_topic(broker, t2, 2, 1, NULL);
  char json[512], where[128] = "";
  if (scope == MK_FAULT_SCOPE_BROKER) snprintf(where, sizeof where, ",\"broker\":0");
  if (scope == MK_FAULT_SCOPE_TOPIC) snprintf(where, sizeof where, ",\"topic\":\"%s\"", t1);
  if (scope == MK_FAULT_SCOPE_PARTITION)
    snprintf(where, sizeof where, ",\"topic\":\"%s\",\"partition\":0", t1);
  snprintf(json, sizeof json, "{%s,\"api\":\"%s\",\"count\":1%s}", action_json[a], api, where);
  struct mk_err err = {0};
  int id = -1;
  if (mk_broker_fault(broker, json, &id, &err))
    fail_msg("%s: refused although the table allows it: %s", json, err.msg);

  /* Not named: another broker, topic or partition. */
  int node = scope == MK_FAULT_SCOPE_BROKER ? 1 : 0;
  const char *topic = scope == MK_FAULT_SCOPE_TOPIC ? t2 : t1;
  int32_t partition = scope == MK_FAULT_SCOPE_PARTITION ? 1 : 0;
  /* Broker scope: the topic and partition the request names do not matter. */
  struct outcome o = send_probe(p, node, topic, partition);
  if (fired(id) != 0 || shows(a, o))
    fail_msg("%s: fired on a request its scope does not name (broker %d, %s-%d)", json, node,
             topic, partition);
  /* Named. */
  o = send_probe(p, 0, t1, 0);
  if (fired(id) != 1) fail_msg("%s: did not fire on a request it names", json);
  if (!shows(a, o))
    fail_msg("%s: fired without its effect (rc %d, error %d, %lld ms)", json, o.rc, o.error,
             (long long)o.ms);
  assert_int_equal(mk_broker_clear_faults(broker), 0);
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_every_allowed_api_action_and_scope_fires_where_it_should(void **state) {
  (void)state;
  int n = 0, combinations = 0;
  for (size_t i = 0; i < mk_api_count; i++) {
    int key = mk_apis[i].key;
    for (int a = MK_FAULT_DROP_RESPONSE; a <= MK_FAULT_DELAY; a++) {
      for (int s = MK_FAULT_SCOPE_BROKER; s <= MK_FAULT_SCOPE_PARTITION; s++) {
        if (!mk_fault_allowed(key, a, s)) continue;
        const struct probe *p = probe_of(key);
        if (!p) fail_msg("the fault table allows faults on %s, but this test has no probe for "
                         "it: add one", mk_apis[i].name);
        check_combination(p, a, s, n++);
        combinations++;
      }
    }
  }
  print_message("checked %d (API, action, scope) combinations\n", combinations);
  assert_true(combinations >= 30);
}

/* What the table does not allow is refused at injection, saying what is allowed. */
static void test_what_the_table_does_not_allow_is_refused(void **state) {
  (void)state;
  test_broker_create_topic(broker, "refused", 2, 1, NULL);
  int refused = 0;
  for (size_t i = 0; i < mk_api_count; i++) {
    for (int a = MK_FAULT_DROP_RESPONSE; a <= MK_FAULT_DELAY; a++) {
      for (int s = MK_FAULT_SCOPE_BROKER; s <= MK_FAULT_SCOPE_PARTITION; s++) {
        if (mk_fault_allowed(mk_apis[i].key, a, s)) continue;
        char json[512];
        snprintf(json, sizeof json, "{%s,\"api\":\"%s\"%s}", action_json[a], mk_apis[i].name,
                 s == MK_FAULT_SCOPE_BROKER      ? ",\"broker\":0"
                 : s == MK_FAULT_SCOPE_TOPIC     ? ",\"topic\":\"refused\""
                                                 : ",\"topic\":\"refused\",\"partition\":0");
        struct mk_err err = {0};
        if (mk_broker_fault(broker, json, NULL, &err) == 0)
          fail_msg("%s (%s scope) was armed although the table does not allow it", json,
                   scope_names[s]);
        assert_non_null(strstr(err.msg, mk_apis[i].name));
        refused++;
      }
    }
  }
  print_message("refused %d combinations\n", refused);
  assert_true(refused > 0);
}

/* The bug that started the table: an error fault on Metadata scoped by topic was armed and
 * never fired, because only Produce and Fetch requests were looked into. */
static void test_a_topic_scoped_metadata_error_fires(void **state) {
  (void)state;
  test_broker_create_topic(broker, "t", 1, 1, NULL);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Metadata\","
                            "\"error\":\"LEADER_NOT_AVAILABLE\",\"topic\":\"t\"}");
  struct outcome o = send_probe(probe_of(MK_API_METADATA), 0, "t", 0);
  assert_int_equal(o.rc, 0);
  assert_int_equal(o.error, MK_ERR_LEADER_NOT_AVAILABLE);
  assert_int_equal(mk_broker_clear_faults(broker), 0);
}

static int setup(void **state) {
  (void)state;
  mk_writer_init(&batch);
  raw_client_build_batch(&batch, 1, -1, -1, -1);
  return test_broker_start(&broker, NULL);
}

static int teardown(void **state) {
  (void)state;
  mk_writer_free(&batch);
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_topic_scoped_metadata_error_fires),
      cmocka_unit_test(test_every_allowed_api_action_and_scope_fires_where_it_should),
      cmocka_unit_test(test_what_the_table_does_not_allow_is_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
