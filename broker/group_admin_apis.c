/*
 * DescribeGroups, ListGroups, DeleteGroups: what kafka-consumer-groups.sh asks.
 * Kafka: KafkaApis.handleDescribeGroupsRequest / handleListGroupsRequest /
 * handleDeleteGroupsRequest.
 *
 * Each broker answers for the groups it coordinates: ListGroups lists those (a tool asks
 * every broker and adds the answers up), DescribeGroups and DeleteGroups answer
 * NOT_COORDINATOR for a group another broker coordinates (a tool asks FindCoordinator
 * first). A group nobody knows is described as Dead, with no error, as Kafka does.
 * ListGroups v4 filters by state, v5 by type (every group here is "classic").
 */
#include "broker/group_apis.h"
#include "broker/broker_internal.h"

#include <string.h>

#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/list_groups.h"

void mk_handle_describe_groups(struct mk_req *req) {
  const struct mk_describe_groups_request *in = req->request.body;
  struct mk_describe_groups_response resp;
  mk_schema_set_defaults(&mk_describe_groups_response_schema, &resp);
  resp.groups = mk_req_alloc(req, &mk_describe_groups_described_group_schema, in->groups_count);
  resp.groups_count = resp.groups ? in->groups_count : 0;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_group_coordinator *c = mk_group_runtime_enter(req->broker);
  for (int32_t i = 0; i < resp.groups_count; i++) {
    struct mk_describe_groups_described_group *g = &resp.groups[i];
    if (injected) {
      g->group_id = in->groups[i];
      g->error_code = injected;
      g->group_state = g->protocol_type = g->protocol_data = (struct mk_str){"", 0};
      continue;
    }
    mk_group_describe(c, &ctx, in->groups[i], g, &req->arena);
  }
  mk_group_runtime_leave(req->broker);
  mk_req_respond(req, &resp);
}

void mk_handle_list_groups(struct mk_req *req) {
  const struct mk_list_groups_request *in = req->request.body;
  struct mk_list_groups_response resp;
  mk_schema_set_defaults(&mk_list_groups_response_schema, &resp);
  if (!(resp.error_code = mk_req_fault_error(req, MK_STR_NULL, -1))) {
    struct mk_group_context ctx;
    mk_group_context_of(req, &ctx);
    mk_group_list(mk_group_runtime_enter(req->broker), &ctx, in->states_filter,
                  in->states_filter_count, in->types_filter, in->types_filter_count, &resp,
                  &req->arena);
    mk_group_runtime_leave(req->broker);
  }
  mk_req_respond(req, &resp);
}

void mk_handle_delete_groups(struct mk_req *req) {
  const struct mk_delete_groups_request *in = req->request.body;
  struct mk_delete_groups_response resp;
  mk_schema_set_defaults(&mk_delete_groups_response_schema, &resp);
  resp.results = mk_req_alloc(req, &mk_delete_groups_deletable_group_result_schema,
                              in->groups_names_count);
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_group_coordinator *c = mk_group_runtime_enter(req->broker);
  for (int32_t i = 0; resp.results && i < in->groups_names_count; i++) {
    struct mk_str id = in->groups_names[i];
    bool repeated = false;  /* Kafka answers each name once */
    for (int32_t j = 0; j < resp.results_count; j++)
      repeated |= resp.results[j].group_id.len == id.len &&
                  (id.len <= 0 || memcmp(resp.results[j].group_id.ptr, id.ptr, (size_t)id.len) == 0);
    if (repeated) continue;
    struct mk_delete_groups_deletable_group_result *o = &resp.results[resp.results_count++];
    o->group_id = id;
    o->error_code = injected ? injected : mk_group_delete(c, &ctx, id);
  }
  mk_group_runtime_leave(req->broker);
  mk_req_respond(req, &resp);
}
