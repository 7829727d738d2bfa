/*
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup: the membership APIs of the group coordinator.
 * Kafka: KafkaApis.handleJoinGroupRequest / handleSyncGroupRequest / handleHeartbeatRequest /
 * handleLeaveGroupRequest and GroupCoordinatorAdapter (which versions mean what).
 *
 * What the versions change, here rather than in the coordinator:
 *   JoinGroup v0     no rebalance timeout: the session timeout serves as both
 *   JoinGroup v4+    MEMBER_ID_REQUIRED first (the coordinator asks the version)
 *   JoinGroup v7+    a protocol name that is null, not "", when there is none
 *   JoinGroup v9+    skip_assignment for a static leader rejoining a Stable group
 *   SyncGroup v5+    protocol type and name are required (INCONSISTENT_GROUP_PROTOCOL)
 *   LeaveGroup v0-2  one member, the error at the top; v3+ a batch, an error each
 * An `error` fault (faults.h) answers with its error before the coordinator sees anything,
 * as Kafka answers the errors it finds before acting.
 */
#include "broker/group_apis.h"
#include "broker/broker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/sync_group.h"

/* ---- shared ---------------------------------------------------------------------------- */

static void release_from_request(void *op) {
  struct mk_group_reply *r = op;
  r->req = NULL;
  mk_group_reply_release(r);
}

struct mk_group_reply *mk_group_reply_new(struct mk_req *req) {
  struct mk_group_reply *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->refs = 2;
  r->req = req;
  req->op = r;
  req->free_op = release_from_request;
  return r;
}

void mk_group_reply_release(struct mk_group_reply *r) {
  if (--r->refs == 0) free(r);
}

struct mk_group_reply *mk_group_commit_reply(struct mk_req *req, struct mk_commit_answer *a) {
  struct mk_group_reply *r = a->n ? mk_group_reply_new(req) : NULL;
  if (!r) {
    for (int k = 0; k < a->n; k++) *a->errors[k] = MK_ERR_UNKNOWN_SERVER_ERROR;
    mk_req_respond(req, a->resp);
    return NULL;
  }
  r->data = a;
  return r;
}

void mk_group_commit_answered(void *arg, const int16_t *errors) {
  struct mk_group_reply *r = arg;
  if (r->req) {
    struct mk_commit_answer *a = r->data;
    for (int k = 0; k < a->n; k++) *a->errors[k] = errors ? errors[k] : MK_ERR_UNKNOWN_SERVER_ERROR;
    mk_req_respond(r->req, a->resp);
  }
  mk_group_reply_release(r);
}

void mk_group_context_of(struct mk_req *req, struct mk_group_context *ctx) {
  ctx->api_version = req->request.header.api_version;
  ctx->broker_id = req->node->id;
  ctx->client_id = req->request.header.client_id;
  /* "127.0.0.1:51234" -> "/127.0.0.1", as Java prints an InetAddress. */
  const char *peer = req->conn->peer, *colon = strrchr(peer, ':');
  int len = colon ? (int)(colon - peer) : (int)strlen(peer);
  char *host = mk_arena_alloc(&req->arena, (size_t)len + 2);
  if (host) {
    snprintf(host, (size_t)len + 2, "/%.*s", len, peer);
    ctx->client_host = mk_str_of(host);
  } else {
    ctx->client_host = (struct mk_str){"", 0};
  }
}

/* ---- JoinGroup ------------------------------------------------------------------------- */

static void join_respond(struct mk_req *req, const struct mk_join_group_response *resp) {
  struct mk_join_group_response out = *resp;
  int v = req->request.header.api_version;
  if (v < 7 && out.protocol_name.len < 0) out.protocol_name = (struct mk_str){"", 0};
  if (v >= 7 && out.protocol_name.len == 0) out.protocol_name = MK_STR_NULL;
  if (out.leader.len < 0) out.leader = (struct mk_str){"", 0};
  if (out.member_id.len < 0) out.member_id = (struct mk_str){"", 0};
  mk_req_respond(req, &out);
}

static void on_join(void *arg, const struct mk_join_group_response *resp) {
  struct mk_group_reply *r = arg;
  if (r->req) join_respond(r->req, resp);
  mk_group_reply_release(r);
}

static void join_failed(struct mk_req *req, int16_t error) {
  const struct mk_join_group_request *in = req->request.body;
  struct mk_join_group_response resp;
  mk_group_join_error_response(&resp, in->member_id, error);
  join_respond(req, &resp);
}

void mk_handle_join_group(struct mk_req *req) {
  const struct mk_join_group_request *in = req->request.body;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    join_failed(req, injected);
    return;
  }
  struct mk_join_group_request copy = *in;
  if (req->request.header.api_version == 0) copy.rebalance_timeout_ms = copy.session_timeout_ms;
  struct mk_group_reply *r = mk_group_reply_new(req);
  if (!r) {
    join_failed(req, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_broker *b = req->broker;  /* answering may free req */
  mk_group_join(mk_group_runtime_enter(b), &ctx, &copy, on_join, r);
  mk_group_runtime_leave(b);
}

/* ---- SyncGroup ------------------------------------------------------------------------- */

static void sync_respond(struct mk_req *req, const struct mk_sync_group_response *resp) {
  struct mk_sync_group_response out = *resp;
  if (out.assignment.len < 0) out.assignment = (struct mk_bytes){NULL, 0};
  mk_req_respond(req, &out);
}

static void on_sync(void *arg, const struct mk_sync_group_response *resp) {
  struct mk_group_reply *r = arg;
  if (r->req) sync_respond(r->req, resp);
  mk_group_reply_release(r);
}

static void sync_failed(struct mk_req *req, int16_t error) {
  struct mk_sync_group_response resp;
  mk_schema_set_defaults(&mk_sync_group_response_schema, &resp);
  resp.error_code = error;
  resp.protocol_type = resp.protocol_name = MK_STR_NULL;
  sync_respond(req, &resp);
}

void mk_handle_sync_group(struct mk_req *req) {
  const struct mk_sync_group_request *in = req->request.body;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    sync_failed(req, injected);
    return;
  }
  if (req->request.header.api_version >= 5 &&
      (in->protocol_type.len < 0 || in->protocol_name.len < 0)) {
    sync_failed(req, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);  /* mandatory from v5 */
    return;
  }
  struct mk_group_reply *r = mk_group_reply_new(req);
  if (!r) {
    sync_failed(req, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_broker *b = req->broker;
  mk_group_sync(mk_group_runtime_enter(b), &ctx, in, on_sync, r);
  mk_group_runtime_leave(b);
}

/* ---- Heartbeat ------------------------------------------------------------------------- */

void mk_handle_heartbeat(struct mk_req *req) {
  const struct mk_heartbeat_request *in = req->request.body;
  struct mk_heartbeat_response resp;
  mk_schema_set_defaults(&mk_heartbeat_response_schema, &resp);
  if (!(resp.error_code = mk_req_fault_error(req, MK_STR_NULL, -1))) {
    struct mk_group_context ctx;
    mk_group_context_of(req, &ctx);
    resp.error_code = mk_group_heartbeat(mk_group_runtime_enter(req->broker), &ctx, in);
    mk_group_runtime_leave(req->broker);
  }
  mk_req_respond(req, &resp);
}

/* ---- LeaveGroup ------------------------------------------------------------------------ */

void mk_handle_leave_group(struct mk_req *req) {
  const struct mk_leave_group_request *in = req->request.body;
  int v = req->request.header.api_version;
  struct mk_leave_group_response resp;
  mk_schema_set_defaults(&mk_leave_group_response_schema, &resp);
  /* Before v3 a request names one member, at the top. */
  struct mk_leave_group_member_identity single;
  const struct mk_leave_group_member_identity *members = in->members;
  int32_t n = in->members_count > 0 ? in->members_count : 0;
  if (v < 3) {
    mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &single);
    single.member_id = in->member_id;
    members = &single;
    n = 1;
  }
  int16_t *errors = mk_arena_alloc(&req->arena, sizeof *errors * (size_t)(n + 1));
  if (!errors) {
    resp.error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
  } else if (!(resp.error_code = mk_req_fault_error(req, MK_STR_NULL, -1))) {
    struct mk_group_context ctx;
    mk_group_context_of(req, &ctx);
    resp.error_code = mk_group_leave(mk_group_runtime_enter(req->broker), &ctx, in->group_id,
                                     members, n, errors);
    mk_group_runtime_leave(req->broker);
  }
  if (v < 3) {
    if (!resp.error_code && errors) resp.error_code = errors[0];
  } else if (!resp.error_code && n > 0) {
    resp.members = mk_req_alloc(req, &mk_leave_group_member_response_schema, n);
    resp.members_count = resp.members ? n : 0;
    for (int32_t i = 0; i < resp.members_count; i++) {
      resp.members[i].member_id = members[i].member_id.len < 0 ? (struct mk_str){"", 0}
                                                                : members[i].member_id;
      resp.members[i].group_instance_id = members[i].group_instance_id;
      resp.members[i].error_code = errors[i];
    }
  }
  mk_req_respond(req, &resp);
}
