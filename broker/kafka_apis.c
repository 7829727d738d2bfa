/*
 * KafkaApis: decoding each frame, routing it to its handler, and ApiVersions.
 *
 * What happens to a frame that does not decode, as in Kafka's SocketServer:
 *   - an ApiVersions request of a version we do not know is answered with
 *     UNSUPPORTED_VERSION and our version ranges, in response v0 (the one
 *     version every client can read), so the client can retry with one we know;
 *   - any other unknown api key or version, or bytes that do not decode, close
 *     the connection with a log line naming the problem: there is no version we
 *     could answer in that the client would understand.
 * Either way, every other connection carries on.
 */
#include "broker/kafka_apis.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/fault_script.h"
#include "broker/faults.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/messages/api_versions.h"

static const struct {
  int16_t api_key;
  void (*fn)(struct mk_req *req);
} handlers[] = {
    {MK_API_PRODUCE, mk_handle_produce},
    {MK_API_FETCH, mk_handle_fetch},
    {MK_API_LIST_OFFSETS, mk_handle_list_offsets},
    {MK_API_METADATA, mk_handle_metadata},
    {MK_API_API_VERSIONS, mk_handle_api_versions},
    {MK_API_CREATE_TOPICS, mk_handle_create_topics},
    {MK_API_DELETE_TOPICS, mk_handle_delete_topics},
    {MK_API_CREATE_PARTITIONS, mk_handle_create_partitions},
    {MK_API_INIT_PRODUCER_ID, mk_handle_init_producer_id},
    {MK_API_FIND_COORDINATOR, mk_handle_find_coordinator},
    {MK_API_DESCRIBE_CONFIGS, mk_handle_describe_configs},
    {MK_API_DESCRIBE_CLUSTER, mk_handle_describe_cluster},
    /* the group coordinator (group_coordinator.h) */
    {MK_API_JOIN_GROUP, mk_handle_join_group},
    {MK_API_SYNC_GROUP, mk_handle_sync_group},
    {MK_API_HEARTBEAT, mk_handle_heartbeat},
    {MK_API_LEAVE_GROUP, mk_handle_leave_group},
    {MK_API_OFFSET_COMMIT, mk_handle_offset_commit},
    {MK_API_OFFSET_FETCH, mk_handle_offset_fetch},
    {MK_API_OFFSET_DELETE, mk_handle_offset_delete},
    {MK_API_DESCRIBE_GROUPS, mk_handle_describe_groups},
    {MK_API_LIST_GROUPS, mk_handle_list_groups},
    {MK_API_DELETE_GROUPS, mk_handle_delete_groups},
    /* the transaction coordinator (transaction_coordinator.h) */
    {MK_API_ADD_PARTITIONS_TO_TXN, mk_handle_add_partitions_to_txn},
    {MK_API_ADD_OFFSETS_TO_TXN, mk_handle_add_offsets_to_txn},
    {MK_API_END_TXN, mk_handle_end_txn},
    {MK_API_TXN_OFFSET_COMMIT, mk_handle_txn_offset_commit},
};

enum { NHANDLERS = sizeof handlers / sizeof handlers[0] };

bool mk_kafka_apis_handles(int api_key) {
  for (int i = 0; i < NHANDLERS; i++)
    if (handlers[i].api_key == api_key) return true;
  return false;
}

static void trace_received(const struct mk_req *req) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "request_received");
  mk_trace_int(&ev, "broker", req->node->id);
  mk_trace_str(&ev, "api", req->request.api ? req->request.api->name : NULL);
  mk_trace_int(&ev, "api_key", req->request.header.api_key);
  mk_trace_int(&ev, "api_version", req->request.header.api_version);
  mk_trace_int(&ev, "correlation_id", req->request.header.correlation_id);
  mk_trace_strn(&ev, "client_id", req->request.header.client_id.ptr,
                req->request.header.client_id.len);
  mk_trace_int(&ev, "connection", (int64_t)req->conn->id);
  mk_trace_end(&ev);
}

/* Our version table, as an ApiVersions answer: only the APIs this broker handles. */
static void fill_api_versions(struct mk_req *req, struct mk_api_versions_response *resp) {
  resp->api_keys = mk_arena_alloc(&req->arena, NHANDLERS * sizeof *resp->api_keys);
  resp->api_keys_count = 0;
  if (!resp->api_keys) return;
  for (size_t i = 0; i < mk_api_count; i++) {
    const struct mk_api *api = &mk_apis[i];
    if (!mk_kafka_apis_handles(api->key)) continue;
    struct mk_api_versions_api_version *v = &resp->api_keys[resp->api_keys_count++];
    mk_schema_set_defaults(&mk_api_versions_api_version_schema, v);
    v->api_key = api->key;
    v->min_version = api->advertised_min;
    v->max_version = api->advertised_max;
  }
}

void mk_handle_api_versions(struct mk_req *req) {
  struct mk_api_versions_response resp;
  mk_schema_set_defaults(&mk_api_versions_response_schema, &resp);
  fill_api_versions(req, &resp);
  mk_req_respond(req, &resp);
}

int16_t mk_req_fault_error(const struct mk_req *req, struct mk_str topic, int32_t partition) {
  return req->fault && mk_fault_covers(req->fault, topic, partition) ? req->fault->error_code : 0;
}

void mk_kafka_apis_handle(struct mk_conn *c, struct mk_buffer *frame) {
  struct mk_req *req = calloc(1, sizeof *req);
  if (!req) {
    mk_buffer_unref(frame);
    mk_conn_close(c, "out of memory for a request");
    return;
  }
  req->conn = c;
  req->node = c->listener->node;
  req->broker = c->listener->broker;
  req->cluster = &req->broker->cluster;
  req->frame = frame;
  req->received_us = mk_now_us();
  mk_arena_init(&req->arena);
  mk_writer_init(&req->response);
  /* Join the queue first: whatever happens, responses leave in arrival order. */
  if (c->tail)
    c->tail->next = req;
  else
    c->head = req;
  c->tail = req;
  c->queued++;
  req->cut = c->severed;  /* its answer would come after one a silent drop lost */

  struct mk_err err = {0};
  int rc = mk_request_decode(frame->data, frame->size, &req->request, &req->arena, &err);
  if (mk_trace_on()) trace_received(req);
  const struct mk_request_header *h = &req->request.header;
  if (rc == MK_ERR_UNSUPPORTED_VERSION && h->api_key == MK_API_API_VERSIONS) {
    struct mk_api_versions_response resp;
    mk_schema_set_defaults(&mk_api_versions_response_schema, &resp);
    resp.error_code = MK_ERR_UNSUPPORTED_VERSION;
    fill_api_versions(req, &resp);
    req->request.api = mk_api_find(MK_API_API_VERSIONS);
    mk_req_respond_version(req, 0, &resp);
    return;
  }
  if (rc) {
    char why[256];
    snprintf(why, sizeof why, "%s request: %s",
             rc == MK_ERR_UNSUPPORTED_VERSION ? "unsupported" : "malformed", err.msg);
    mk_req_close_connection(req, why);
    return;
  }
  req->fault = mk_faults_take(&req->broker->faults, &req->broker->fault_targets, MK_FAULT_ERROR,
                              &req->request, req->node->id);
  for (int i = 0; i < NHANDLERS; i++) {
    if (handlers[i].api_key == h->api_key) {
      struct mk_broker *b = req->broker;  /* answering may free req */
      handlers[i].fn(req);
      mk_fault_script_on_request(b->script, handlers[i].api_key);  /* --faults "after" */
      return;
    }
  }
  char why[128];
  snprintf(why, sizeof why, "%s requests are not handled by this broker", req->request.api->name);
  mk_req_close_connection(req, why);
}
