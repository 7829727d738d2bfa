/*
 * OffsetCommit, OffsetFetch, OffsetDelete: a group's committed offsets.
 * Kafka: KafkaApis.handleOffsetCommitRequest / handleOffsetFetchRequest /
 * handleOffsetDeleteRequest, GroupCoordinatorAdapter.commitOffsets (timestamps, retention).
 *
 * A consumer commits "the next offset I will read" per partition; the coordinator appends
 * one record per partition to __consumer_offsets and answers once the records are
 * committed there (group_coordinator_runtime.h), so a commit survives the coordinator's
 * broker going down. A restarted consumer asks OffsetFetch where to resume.
 *
 * What the versions change:
 *   OffsetCommit v0       Kafka kept v0 commits in ZooKeeper and KRaft refuses them; we have
 *                         no ZooKeeper, so they go to the coordinator like the rest
 *   OffsetCommit v1       a commit timestamp (-1: now)
 *   OffsetCommit v2-4     a retention time: the offset expires that long after the commit
 *   OffsetCommit v9+      GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION for a group that
 *                         does not exist
 *   OffsetFetch v0-1      no top-level error: a group error goes on every partition asked
 *                         for (as Kafka's error responses do; its coordinator path leaves
 *                         the list empty, which old clients read as "no offsets")
 *   OffsetFetch v2+       a null topic list asks for every committed offset
 *   OffsetFetch v7+       require_stable: UNSTABLE_OFFSET_COMMIT while a commit is pending
 *   OffsetFetch v8+       several groups in one request
 * Partitions of topics the cluster does not have get UNKNOWN_TOPIC_OR_PARTITION in
 * OffsetCommit and OffsetDelete (as Kafka checks its metadata first); OffsetFetch answers
 * them -1, as Kafka does. An `error` fault covers the partitions it is scoped to.
 */
#include "broker/group_apis.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "common/clock.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"

static bool partition_exists(struct mk_req *req, struct mk_str topic, int32_t partition) {
  return mk_cluster_partition(mk_cluster_find_topic(req->cluster, topic), partition) != NULL;
}

/* ---- OffsetCommit ------------------------------------------------------------------------ */

void mk_handle_offset_commit(struct mk_req *req) {
  const struct mk_offset_commit_request *in = req->request.body;
  int v = req->request.header.api_version;
  struct mk_offset_commit_response *resp = mk_req_alloc(req, &mk_offset_commit_response_schema, 1);
  int32_t total = 0;
  for (int32_t i = 0; i < in->topics_count; i++) total += in->topics[i].partitions_count;
  struct mk_commit_answer *st = mk_arena_alloc(&req->arena, sizeof *st);
  struct mk_offset_commit *offsets = mk_arena_alloc(&req->arena, sizeof *offsets * (size_t)(total + 1));
  int16_t **slots = mk_arena_alloc(&req->arena, sizeof *slots * (size_t)(total + 1));
  if (!resp || !st || !offsets || !slots) {
    mk_conn_close(req->conn, "out of memory for an OffsetCommit request");
    return;
  }
  /* Kafka's adapter: a commit timestamp of -1 (or none, v2+) means now; a retention time
   * (v2-4) sets an expiry of its own. */
  int64_t now = mk_wall_ms();
  int64_t expire = in->retention_time_ms >= 0 ? now + in->retention_time_ms : -1;
  int n = 0;
  resp->topics = mk_req_alloc(req, &mk_offset_commit_response_topic_schema, in->topics_count);
  resp->topics_count = resp->topics ? in->topics_count : 0;
  for (int32_t i = 0; i < resp->topics_count; i++) {
    const struct mk_offset_commit_request_topic *t = &in->topics[i];
    struct mk_offset_commit_response_topic *out = &resp->topics[i];
    out->name = t->name;
    out->partitions =
        mk_req_alloc(req, &mk_offset_commit_response_partition_schema, t->partitions_count);
    out->partitions_count = out->partitions ? t->partitions_count : 0;
    for (int32_t j = 0; j < out->partitions_count; j++) {
      const struct mk_offset_commit_request_partition *p = &t->partitions[j];
      struct mk_offset_commit_response_partition *o = &out->partitions[j];
      o->partition_index = p->partition_index;
      if ((o->error_code = mk_req_fault_error(req, t->name, p->partition_index))) continue;
      if (!partition_exists(req, t->name, p->partition_index)) {
        o->error_code = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      offsets[n] = (struct mk_offset_commit){
          .topic = t->name,
          .partition = p->partition_index,
          .offset = p->committed_offset,
          .leader_epoch = p->committed_leader_epoch,
          .metadata = p->committed_metadata.len < 0 ? (struct mk_str){"", 0} : p->committed_metadata,
          .commit_timestamp_ms = v == 1 && p->commit_timestamp >= 0 ? p->commit_timestamp : now,
          .expire_timestamp_ms = expire,
      };
      slots[n++] = &o->error_code;
    }
  }
  *st = (struct mk_commit_answer){resp, slots, n};
  struct mk_group_reply *r = mk_group_commit_reply(req, st);
  if (!r) return;
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_broker *b = req->broker;
  mk_group_commit_offsets(mk_group_runtime_enter(b), &ctx, in->group_id, in->member_id,
                          in->group_instance_id, in->generation_id_or_member_epoch, offsets, n,
                          mk_group_commit_answered, r);
  mk_group_runtime_leave(b);
}

/* ---- OffsetFetch ------------------------------------------------------------------------- */

/* Apply an `error` fault scoped to topics/partitions over the coordinator's answer: the
 * partitions it covers answer its error. When the coordinator refused the whole group (say
 * NOT_COORDINATOR) the answer lists no partitions; the ones asked for are listed then, each
 * with the group's error or the fault's. */
static void fault_partitions(struct mk_req *req, const struct mk_offset_fetch_request_topics *asked,
                             int32_t nasked, struct mk_offset_fetch_response_group *g) {
  if (!req->fault || !req->fault->topic[0]) return;
  if (g->error_code && !g->topics_count && nasked > 0 &&
      (g->topics = mk_req_alloc(req, &mk_offset_fetch_response_topics_schema, nasked))) {
    g->topics_count = nasked;
    for (int32_t i = 0; i < nasked; i++) {
      struct mk_offset_fetch_response_topics *t = &g->topics[i];
      int32_t np = asked[i].partition_indexes_count;
      t->name = asked[i].name;
      t->partitions = mk_req_alloc(req, &mk_offset_fetch_response_partitions_schema, np);
      t->partitions_count = t->partitions ? np : 0;
      for (int32_t j = 0; j < t->partitions_count; j++) {
        t->partitions[j].partition_index = asked[i].partition_indexes[j];
        t->partitions[j].committed_offset = -1;
        t->partitions[j].metadata = (struct mk_str){"", 0};
        t->partitions[j].error_code = g->error_code;
      }
    }
  }
  for (int32_t i = 0; i < g->topics_count; i++)
    for (int32_t j = 0; j < g->topics[i].partitions_count; j++) {
      struct mk_offset_fetch_response_partitions *p = &g->topics[i].partitions[j];
      int16_t e = mk_req_fault_error(req, g->topics[i].name, p->partition_index);
      if (e) {
        p->error_code = e;
        p->committed_offset = -1;
      }
    }
}

/* One group: the coordinator's answer, or the fault's. ntopics -1: all committed offsets. */
static void fetch_group(struct mk_req *req, struct mk_group_coordinator *c,
                        const struct mk_group_context *ctx, struct mk_str group_id,
                        bool require_stable, const struct mk_offset_fetch_request_topics *topics,
                        int32_t ntopics, struct mk_offset_fetch_response_group *out) {
  /* An error fault scoped by broker only answers for the group as a whole. */
  int16_t whole = req->fault && !req->fault->topic[0] ? mk_req_fault_error(req, MK_STR_NULL, -1) : 0;
  if (whole) {
    mk_schema_set_defaults(&mk_offset_fetch_response_group_schema, out);
    out->group_id = group_id;
    out->error_code = whole;
    return;
  }
  mk_group_fetch_offsets(c, ctx, group_id, require_stable, topics, ntopics, out, &req->arena);
  fault_partitions(req, topics, ntopics, out);
}

void mk_handle_offset_fetch(struct mk_req *req) {
  const struct mk_offset_fetch_request *in = req->request.body;
  int v = req->request.header.api_version;
  struct mk_offset_fetch_response resp;
  mk_schema_set_defaults(&mk_offset_fetch_response_schema, &resp);
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  struct mk_group_coordinator *c = mk_group_runtime_enter(req->broker);
  if (v >= 8) {
    resp.groups = mk_req_alloc(req, &mk_offset_fetch_response_group_schema, in->groups_count);
    resp.groups_count = resp.groups ? in->groups_count : 0;
    for (int32_t i = 0; i < resp.groups_count; i++) {
      const struct mk_offset_fetch_request_group *g = &in->groups[i];
      fetch_group(req, c, &ctx, g->group_id, in->require_stable, g->topics, g->topics_count,
                  &resp.groups[i]);
    }
  } else {
    /* One group; the v0-7 topic layout is the v8 one under another name. */
    int32_t nt = in->topics_count;
    struct mk_offset_fetch_request_topics *topics =
        nt > 0 ? mk_arena_alloc(&req->arena, sizeof *topics * (size_t)nt) : NULL;
    for (int32_t i = 0; topics && i < nt; i++) {
      topics[i].name = in->topics[i].name;
      topics[i].partition_indexes = in->topics[i].partition_indexes;
      topics[i].partition_indexes_count = in->topics[i].partition_indexes_count;
    }
    struct mk_offset_fetch_response_group g;
    fetch_group(req, c, &ctx, in->group_id, in->require_stable, topics, nt > 0 && !topics ? 0 : nt,
                &g);
    resp.error_code = v >= 2 ? g.error_code : 0;
    bool error_on_partitions = v < 2 && g.error_code;
    int32_t ntopics = error_on_partitions ? (nt > 0 ? nt : 0) : g.topics_count;
    resp.topics = mk_req_alloc(req, &mk_offset_fetch_response_topic_schema, ntopics);
    resp.topics_count = resp.topics ? ntopics : 0;
    for (int32_t i = 0; i < resp.topics_count; i++) {
      struct mk_offset_fetch_response_topic *t = &resp.topics[i];
      int32_t np = error_on_partitions ? in->topics[i].partition_indexes_count
                                       : g.topics[i].partitions_count;
      t->name = error_on_partitions ? in->topics[i].name : g.topics[i].name;
      t->partitions = mk_req_alloc(req, &mk_offset_fetch_response_partition_schema, np);
      t->partitions_count = t->partitions ? np : 0;
      for (int32_t j = 0; j < t->partitions_count; j++) {
        struct mk_offset_fetch_response_partition *p = &t->partitions[j];
        if (error_on_partitions) {
          p->partition_index = in->topics[i].partition_indexes[j];
          p->committed_offset = -1;
          p->metadata = (struct mk_str){"", 0};
          p->error_code = g.error_code;
        } else {
          const struct mk_offset_fetch_response_partitions *src = &g.topics[i].partitions[j];
          p->partition_index = src->partition_index;
          p->committed_offset = src->committed_offset;
          p->committed_leader_epoch = src->committed_leader_epoch;
          p->metadata = src->metadata;
          p->error_code = src->error_code;
        }
      }
    }
  }
  mk_group_runtime_leave(req->broker);
  mk_req_respond(req, &resp);
}

/* ---- OffsetDelete ------------------------------------------------------------------------ */

void mk_handle_offset_delete(struct mk_req *req) {
  const struct mk_offset_delete_request *in = req->request.body;
  struct mk_offset_delete_response resp;
  mk_schema_set_defaults(&mk_offset_delete_response_schema, &resp);
  int32_t total = 0;
  for (int32_t i = 0; i < in->topics_count; i++) total += in->topics[i].partitions_count;
  int16_t *errors = mk_arena_alloc(&req->arena, sizeof *errors * (size_t)(total + 1));
  /* The partitions the coordinator sees: those of known topics no fault answers. */
  struct mk_offset_delete_request_topic *asked =
      mk_arena_alloc(&req->arena, sizeof *asked * (size_t)(in->topics_count + 1));
  int16_t *local = mk_arena_alloc(&req->arena, sizeof *local * (size_t)(total + 1));
  if (!errors || !asked || !local) {
    mk_conn_close(req->conn, "out of memory for an OffsetDelete request");
    return;
  }
  if (req->fault && !req->fault->topic[0] &&
      (resp.error_code = mk_req_fault_error(req, MK_STR_NULL, -1))) {
    mk_req_respond(req, &resp);  /* a fault scoped by broker only: the group as a whole */
    return;
  }
  int32_t na = 0, k = 0;
  for (int32_t i = 0; i < in->topics_count; i++) {
    const struct mk_offset_delete_request_topic *t = &in->topics[i];
    struct mk_offset_delete_request_topic *a = &asked[na];
    a->name = t->name;
    a->partitions =
        mk_arena_alloc(&req->arena, sizeof *a->partitions * (size_t)(t->partitions_count + 1));
    a->partitions_count = 0;
    for (int32_t j = 0; j < t->partitions_count; j++, k++) {
      int32_t index = t->partitions[j].partition_index;
      local[k] = mk_req_fault_error(req, t->name, index);
      if (!local[k] && !partition_exists(req, t->name, index))
        local[k] = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
      if (!local[k] && a->partitions) a->partitions[a->partitions_count++] = t->partitions[j];
    }
    if (a->partitions_count) na++;
  }
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  resp.error_code = mk_group_delete_offsets(mk_group_runtime_enter(req->broker), &ctx,
                                            in->group_id, asked, na, errors);
  mk_group_runtime_leave(req->broker);
  /* A group error answers alone (as Kafka's), unless a fault answered some partitions: those
   * show its error, the others the group's. */
  bool faulted = false;
  for (int32_t i = 0; i < total; i++) faulted |= req->fault && local[i] == req->fault->error_code;
  if (resp.error_code && !faulted) {
    mk_req_respond(req, &resp);
    return;
  }
  for (int32_t i = 0; resp.error_code && i < total; i++)
    if (!local[i]) local[i] = resp.error_code;
  resp.topics = mk_req_alloc(req, &mk_offset_delete_response_topic_schema, in->topics_count);
  resp.topics_count = resp.topics ? in->topics_count : 0;
  int32_t kk = 0, ka = 0;
  for (int32_t i = 0; i < resp.topics_count; i++) {
    const struct mk_offset_delete_request_topic *t = &in->topics[i];
    struct mk_offset_delete_response_topic *o = &resp.topics[i];
    o->name = t->name;
    o->partitions = mk_req_alloc(req, &mk_offset_delete_response_partition_schema, t->partitions_count);
    o->partitions_count = o->partitions ? t->partitions_count : 0;
    for (int32_t j = 0; j < o->partitions_count; j++, kk++) {
      o->partitions[j].partition_index = t->partitions[j].partition_index;
      o->partitions[j].error_code = local[kk] ? local[kk] : errors[ka++];
    }
  }
  mk_req_respond(req, &resp);
}
