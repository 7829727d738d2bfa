/*
 * Metadata and DescribeCluster: what a client learns before it sends anything else.
 * Kafka: KafkaApis.handleTopicMetadataRequest, MetadataCache; DescribeClusterRequest.
 *
 * A producer asks Metadata for its topics and gets back every live broker
 * (node id, host, port) and, per partition, the leader, its epoch, the replicas
 * and the ISR. It then sends each batch to its partition's leader, and asks
 * again whenever a broker answers NOT_LEADER_OR_FOLLOWER.
 *
 * Topics are created on first mention when auto.create.topics.enable is on
 * and the request allows it (v4+ says so explicitly; older versions always
 * allow). Kafka creates them asynchronously and first answers
 * LEADER_NOT_AVAILABLE; here creation is immediate, so the first answer is
 * already complete.
 *
 * Which topics: a null list means all of them (v1+); in v0 an empty list meant
 * all, since v0 had no null.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/metadata.h"

static int32_t *int_array(struct mk_req *req, int32_t n) {
  return n > 0 ? mk_arena_alloc(&req->arena, sizeof(int32_t) * (size_t)n) : NULL;
}

static void describe_partition(struct mk_req *req, struct mk_partition *p,
                               struct mk_metadata_response_partition *out) {
  struct mk_broker *b = req->broker;
  out->partition_index = p->index;
  out->leader_id = p->leader;
  out->leader_epoch = p->leader_epoch;
  out->error_code = p->leader < 0 ? MK_ERR_LEADER_NOT_AVAILABLE : MK_ERR_NONE;
  out->replica_nodes = int_array(req, p->nreplicas);
  out->isr_nodes = int_array(req, p->nreplicas);
  out->offline_replicas = int_array(req, p->nreplicas);
  out->replica_nodes_count = out->isr_nodes_count = out->offline_replicas_count = 0;
  if (!out->replica_nodes || !out->isr_nodes || !out->offline_replicas) return;
  for (int r = 0; r < p->nreplicas; r++) {
    const struct mk_replica *rep = &p->replicas[r];
    out->replica_nodes[out->replica_nodes_count++] = rep->broker_id;
    if (rep->in_isr) out->isr_nodes[out->isr_nodes_count++] = rep->broker_id;
    if (!b->cluster.nodes[rep->broker_id].up) out->offline_replicas[out->offline_replicas_count++] = rep->broker_id;
  }
}

static void describe_topic(struct mk_req *req, struct mk_topic *t,
                           struct mk_metadata_response_topic *out) {
  out->name = mk_str_of(t->name);
  int16_t injected = mk_req_fault_error(req, out->name, -1);
  if (injected) {
    out->error_code = injected;  /* an `error` fault (faults.h) */
    return;
  }
  out->topic_id = t->id;
  out->is_internal = mk_topic_is_internal(out->name);  /* __consumer_offsets, ... */
  out->partitions = mk_req_alloc(req, &mk_metadata_response_partition_schema, t->npartitions);
  out->partitions_count = out->partitions ? t->npartitions : 0;
  for (int32_t i = 0; i < out->partitions_count; i++)
    describe_partition(req, t->partitions[i], &out->partitions[i]);
}

/* The answer for one requested topic name: found, created now, or an error. */
static void lookup_topic(struct mk_req *req, struct mk_str name, bool may_create,
                         struct mk_metadata_response_topic *out) {
  struct mk_broker *b = req->broker;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, name);
  out->name = name;
  if (!t && may_create && b->cluster.cfg.auto_create_topics_enable) {
    struct mk_err err = {0};
    int rc = mk_cluster_create_topic(&b->cluster, name, -1, -1, &t, &err);
    if (rc) {
      out->error_code = (int16_t)(rc == MK_ERR_INVALID_TOPIC_EXCEPTION ? rc : MK_ERR_UNKNOWN_SERVER_ERROR);
      return;
    }
  }
  if (!t) {
    out->error_code = mk_cluster_validate_topic_name(name, NULL) ? MK_ERR_INVALID_TOPIC_EXCEPTION
                                                                 : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return;
  }
  describe_topic(req, t, out);
}

void mk_handle_metadata(struct mk_req *req) {
  struct mk_broker *b = req->broker;
  const struct mk_metadata_request *in = req->request.body;
  int version = req->request.header.api_version;
  struct mk_metadata_response resp;
  mk_schema_set_defaults(&mk_metadata_response_schema, &resp);

  int up = 0;
  for (int i = 0; i < b->cluster.nnodes; i++) up += b->cluster.nodes[i].up;
  resp.brokers = mk_req_alloc(req, &mk_metadata_response_broker_schema, up);
  for (int i = 0; i < b->cluster.nnodes && resp.brokers; i++) {
    if (!b->cluster.nodes[i].up) continue;
    struct mk_metadata_response_broker *br = &resp.brokers[resp.brokers_count++];
    br->node_id = b->cluster.nodes[i].id;
    br->host = mk_str_of(mk_cluster_advertised_host(&b->cluster));
    br->port = b->cluster.nodes[i].port;
  }
  resp.cluster_id = mk_str_of(b->cluster.cluster_id);
  resp.controller_id = up ? resp.brokers[0].node_id : -1;

  bool all = in->topics_count < 0 || (version == 0 && in->topics_count == 0);
  if (all) {
    int32_t n = 0;
    for (struct mk_topic *t = b->cluster.topics; t; t = t->next) n++;
    resp.topics = mk_req_alloc(req, &mk_metadata_response_topic_schema, n);
    for (struct mk_topic *t = b->cluster.topics; t && resp.topics; t = t->next)
      describe_topic(req, t, &resp.topics[resp.topics_count++]);
  } else {
    bool may_create = version < 4 || in->allow_auto_topic_creation;
    resp.topics = mk_req_alloc(req, &mk_metadata_response_topic_schema, in->topics_count);
    for (int32_t i = 0; i < in->topics_count && resp.topics; i++) {
      /* v10+ may name a topic by id instead; a null name then means "look it up by id". */
      struct mk_str name = in->topics[i].name;
      if (name.len < 0) {
        struct mk_topic *t = mk_cluster_find_topic_id(&b->cluster, in->topics[i].topic_id);
        if (t) {
          describe_topic(req, t, &resp.topics[resp.topics_count++]);
        } else {
          resp.topics[resp.topics_count].topic_id = in->topics[i].topic_id;
          resp.topics[resp.topics_count++].error_code = MK_ERR_UNKNOWN_TOPIC_ID;
        }
        continue;
      }
      lookup_topic(req, name, may_create, &resp.topics[resp.topics_count++]);
    }
  }
  mk_req_respond(req, &resp);
}

void mk_handle_describe_cluster(struct mk_req *req) {
  struct mk_broker *b = req->broker;
  struct mk_describe_cluster_response resp;
  mk_schema_set_defaults(&mk_describe_cluster_response_schema, &resp);
  resp.cluster_id = mk_str_of(b->cluster.cluster_id);
  if ((resp.error_code = mk_req_fault_error(req, MK_STR_NULL, -1))) {  /* an `error` fault */
    mk_req_respond(req, &resp);
    return;
  }
  resp.brokers = mk_req_alloc(req, &mk_describe_cluster_broker_schema, b->cluster.nnodes);
  for (int i = 0; i < b->cluster.nnodes && resp.brokers; i++) {
    if (!b->cluster.nodes[i].up) continue;
    struct mk_describe_cluster_broker *br = &resp.brokers[resp.brokers_count++];
    br->broker_id = b->cluster.nodes[i].id;
    br->host = mk_str_of(mk_cluster_advertised_host(&b->cluster));
    br->port = b->cluster.nodes[i].port;
    if (resp.controller_id < 0) resp.controller_id = br->broker_id;
  }
  mk_req_respond(req, &resp);
}
