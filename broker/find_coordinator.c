/*
 * FindCoordinator: "which broker runs my consumer group / my transactions?"
 * Kafka: KafkaApis.handleFindCoordinatorRequest (getCoordinator).
 *
 * A group's coordinator is the leader of partition abs(hash(group.id)) %
 * offsets.topic.num.partitions of __consumer_offsets (group_metadata_manager.h). The topic
 * is created by the first FindCoordinator that needs it, as Kafka's is. While that
 * partition has no leader (its replicas are down) the answer is COORDINATOR_NOT_AVAILABLE,
 * which clients retry.
 *
 * A transactional id's coordinator is the leader of partition abs(hash(transactional.id)) %
 * transaction.state.log.num.partitions of __transaction_state (transaction_state_manager.h),
 * created by the first FindCoordinator for a transactional id.
 *
 * Key type 0 is a group, 1 a transactional id, 2 a share group (v6+). There is no share
 * coordinator: INVALID_REQUEST, as Kafka answers without one.
 *
 * Versions 0-3 ask for one key and answer at the top level; from version 4 (KIP-699) a
 * request carries a list of keys and the answer has one entry per key. Answering at all
 * matters even for keys we cannot serve: librdkafka decides which features a broker has
 * from the APIs it advertises, and turns lz4 off unless FindCoordinator is among them.
 */
#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "broker/transaction_coordinator_runtime.h"
#include "protocol/messages/find_coordinator.h"

enum { KEY_GROUP = 0, KEY_TRANSACTION = 1 };

struct answer {
  int16_t error;
  const char *message;
  int32_t node_id;
  int32_t port;
};

static struct answer coordinator_for(struct mk_req *req, int8_t key_type, struct mk_str key) {
  struct mk_broker *b = req->broker;
  struct answer a = {MK_ERR_COORDINATOR_NOT_AVAILABLE, NULL, -1, -1};
  if (key_type != KEY_GROUP && key_type != KEY_TRANSACTION) {
    a.error = MK_ERR_INVALID_REQUEST;
    a.message = "minikafka has no share group coordinator";
    return a;
  }
  bool group = key_type == KEY_GROUP;
  struct mk_err err = {0};
  struct mk_topic *t = group ? mk_group_runtime_offsets_topic(b, true, &err)
                             : mk_txn_runtime_topic(b, true, &err);
  if (!t) {
    a.message = group ? "the offsets topic could not be created (see the broker log)"
                      : "the transaction state topic could not be created (see the broker log)";
    return a;
  }
  if (!group && key.len <= 0) {  /* Kafka: an empty transactional id has no coordinator */
    a.error = MK_ERR_INVALID_REQUEST;
    a.message = "the transactional id is empty";
    return a;
  }
  int32_t partition = group ? mk_group_runtime_partition_for(b, key)
                            : mk_txn_runtime_partition_for(b, key);
  struct mk_partition *p = mk_cluster_partition(t, partition);
  if (!p || p->leader < 0 || !b->cluster.nodes[p->leader].up) {
    a.message = group ? "the group's offsets partition has no leader"
                      : "the transactional id's partition of __transaction_state has no leader";
    return a;
  }
  a.error = 0;
  a.node_id = p->leader;
  a.port = b->cluster.nodes[p->leader].port;
  return a;
}

void mk_handle_find_coordinator(struct mk_req *req) {
  const struct mk_find_coordinator_request *in = req->request.body;
  struct mk_find_coordinator_response resp;
  mk_schema_set_defaults(&mk_find_coordinator_response_schema, &resp);
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  struct mk_str host = mk_str_of(req->cluster->cfg.host);
  if (req->request.header.api_version < 4) {
    struct answer a = injected ? (struct answer){injected, NULL, -1, -1}
                               : coordinator_for(req, in->key_type, in->key);
    resp.error_code = a.error;
    resp.error_message = a.message ? mk_str_of(a.message) : MK_STR_NULL;
    resp.node_id = a.node_id;
    resp.host = a.error ? (struct mk_str){"", 0} : host;
    resp.port = a.port;
  } else if (in->coordinator_keys_count > 0) {
    struct mk_find_coordinator_coordinator *c =
        mk_req_alloc(req, &mk_find_coordinator_coordinator_schema, in->coordinator_keys_count);
    if (!c) {
      mk_req_finish_silently(req);  /* out of memory: the client times out and retries */
      return;
    }
    for (int32_t i = 0; i < in->coordinator_keys_count; i++) {
      struct answer a = injected ? (struct answer){injected, NULL, -1, -1}
                                 : coordinator_for(req, in->key_type, in->coordinator_keys[i]);
      c[i].key = in->coordinator_keys[i];
      c[i].node_id = a.node_id;
      c[i].host = a.error ? (struct mk_str){"", 0} : host;
      c[i].port = a.port;
      c[i].error_code = a.error;
      c[i].error_message = a.message ? mk_str_of(a.message) : MK_STR_NULL;
    }
    resp.coordinators = c;
    resp.coordinators_count = in->coordinator_keys_count;
  }
  mk_req_respond(req, &resp);
}
