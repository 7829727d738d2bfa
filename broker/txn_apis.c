/*
 * AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit: the transaction APIs.
 * Kafka: KafkaApis.handleAddPartitionToTxnRequest, handleAddOffsetsToTxnRequest,
 * handleEndTxnRequest, handleTxnOffsetCommitRequest (InitProducerId is init_producer_id.c's).
 *
 * Each turns a request into a call of the transaction coordinator (transaction_coordinator.h)
 * or, for TxnOffsetCommit, the group coordinator, and its answer into a response. What the
 * versions change:
 *   AddPartitionsToTxn v0-3   one transaction, every partition answered with its error;
 *                             partitions of unknown topics UNKNOWN_TOPIC_OR_PARTITION and the
 *                             others OPERATION_NOT_ATTEMPTED (nothing is added then)
 *   AddPartitionsToTxn v4-5   the broker-to-broker form (KIP-890): not advertised; its
 *                             verify_only transactions are answered, others INVALID_REQUEST
 *   *  v0-1                   PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH, the code
 *                             those clients know (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn)
 *   EndTxn v5                 would carry the new producer epoch (transactions v2): not
 *                             advertised
 *   TxnOffsetCommit v3+       member id, generation and instance id: checked as for
 *                             OffsetCommit
 * The answers may come later (after the coordinator's record is committed), so each handler
 * hands the coordinator a reply slot (group_apis.h) rather than the request.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/group_apis.h"
#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "broker/transaction_coordinator_runtime.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/messages/add_offsets_to_txn.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/txn_offset_commit.h"

/* What versions before 2 say instead of PRODUCER_FENCED. */
static int16_t for_version(int version, int16_t error) {
  return version < 2 && error == MK_ERR_PRODUCER_FENCED ? MK_ERR_INVALID_PRODUCER_EPOCH : error;
}

static bool partition_exists(struct mk_req *req, struct mk_str topic, int32_t partition) {
  return mk_cluster_partition(mk_cluster_find_topic(req->cluster, topic), partition) != NULL;
}

/* ---- AddPartitionsToTxn ------------------------------------------------------------------- */

/* Fill r's topic results (v0-3 layout) from topics, each partition answering error, or the
 * per-partition errors of errors[] (in request order) when not NULL. */
static bool fill_topic_results(struct mk_req *req, const struct mk_add_partitions_to_txn_topic *topics,
                               int32_t ntopics, int16_t error, const int16_t *errors,
                               struct mk_add_partitions_to_txn_topic_result **out, int32_t *nout) {
  struct mk_add_partitions_to_txn_topic_result *tr =
      mk_req_alloc(req, &mk_add_partitions_to_txn_topic_result_schema, ntopics);
  if (ntopics > 0 && !tr) return false;
  int k = 0;
  for (int32_t i = 0; i < ntopics; i++) {
    tr[i].name = topics[i].name;
    int32_t np = topics[i].partitions_count > 0 ? topics[i].partitions_count : 0;
    tr[i].results_by_partition =
        mk_req_alloc(req, &mk_add_partitions_to_txn_partition_result_schema, np);
    if (np > 0 && !tr[i].results_by_partition) return false;
    tr[i].results_by_partition_count = np;
    for (int32_t j = 0; j < np; j++, k++) {
      tr[i].results_by_partition[j].partition_index = topics[i].partitions[j];
      tr[i].results_by_partition[j].partition_error_code = errors ? errors[k] : error;
    }
  }
  *out = tr;
  *nout = ntopics;
  return true;
}

static void respond_add_partitions(struct mk_req *req, int16_t error, const int16_t *errors) {
  const struct mk_add_partitions_to_txn_request *in = req->request.body;
  struct mk_add_partitions_to_txn_response resp;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_response_schema, &resp);
  if (!fill_topic_results(req, in->v3_and_below_topics, in->v3_and_below_topics_count,
                          for_version(req->request.header.api_version, error), errors,
                          &resp.results_by_topic_v3_and_below,
                          &resp.results_by_topic_v3_and_below_count)) {
    mk_conn_close(req->conn, "out of memory for an AddPartitionsToTxn response");
    return;
  }
  mk_req_respond(req, &resp);
}

static void on_added(void *arg, int16_t error) {
  struct mk_group_reply *r = arg;
  if (r->req) respond_add_partitions(r->req, error, NULL);
  mk_group_reply_release(r);
}

/* v4+: the broker-to-broker form. Verification is answered; adding is for clients (v0-3). */
static void add_partitions_v4(struct mk_req *req) {
  const struct mk_add_partitions_to_txn_request *in = req->request.body;
  struct mk_add_partitions_to_txn_response resp;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_response_schema, &resp);
  int32_t n = in->transactions_count > 0 ? in->transactions_count : 0;
  resp.results_by_transaction = mk_req_alloc(req, &mk_add_partitions_to_txn_result_schema, n);
  resp.results_by_transaction_count = n;
  struct mk_txn_coordinator *c = mk_txn_runtime_enter(req->broker);
  for (int32_t t = 0; t < n && resp.results_by_transaction; t++) {
    const struct mk_add_partitions_to_txn_transaction *tx = &in->transactions[t];
    struct mk_add_partitions_to_txn_result *out = &resp.results_by_transaction[t];
    out->transactional_id = tx->transactional_id;
    int total = 0;
    for (int32_t i = 0; i < tx->topics_count; i++) total += tx->topics[i].partitions_count;
    int16_t *errors = mk_arena_alloc(&req->arena, sizeof *errors * (size_t)(total + 1));
    int k = 0;
    for (int32_t i = 0; errors && i < tx->topics_count; i++)
      for (int32_t j = 0; j < tx->topics[i].partitions_count; j++, k++)
        errors[k] = !tx->verify_only ? MK_ERR_INVALID_REQUEST
                    : !partition_exists(req, tx->topics[i].name, tx->topics[i].partitions[j])
                        ? MK_ERR_UNKNOWN_TOPIC_OR_PARTITION
                        : mk_txn_verify_partition(c, tx->transactional_id, tx->producer_id,
                                                  tx->producer_epoch, tx->topics[i].name,
                                                  tx->topics[i].partitions[j]);
    if (!errors || !fill_topic_results(req, tx->topics, tx->topics_count, 0, errors,
                                       &out->topic_results, &out->topic_results_count)) {
      mk_txn_runtime_leave(req->broker);
      mk_conn_close(req->conn, "out of memory for an AddPartitionsToTxn response");
      return;
    }
  }
  mk_txn_runtime_leave(req->broker);
  mk_req_respond(req, &resp);
}

void mk_handle_add_partitions_to_txn(struct mk_req *req) {
  const struct mk_add_partitions_to_txn_request *in = req->request.body;
  if (req->request.header.api_version >= 4) {
    add_partitions_v4(req);
    return;
  }
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    respond_add_partitions(req, injected, NULL);
    return;
  }
  /* Kafka checks every partition first: one unknown, and nothing is added. */
  int total = 0;
  for (int32_t i = 0; i < in->v3_and_below_topics_count; i++)
    total += in->v3_and_below_topics[i].partitions_count;
  int16_t *errors = mk_arena_alloc(&req->arena, sizeof *errors * (size_t)(total + 1));
  struct mk_txn_partitions set = {0};
  bool unknown = false, ok = errors != NULL;
  int k = 0;
  for (int32_t i = 0; ok && i < in->v3_and_below_topics_count; i++) {
    const struct mk_add_partitions_to_txn_topic *t = &in->v3_and_below_topics[i];
    for (int32_t j = 0; ok && j < t->partitions_count; j++, k++) {
      bool exists = partition_exists(req, t->name, t->partitions[j]);
      errors[k] = exists ? MK_ERR_OPERATION_NOT_ATTEMPTED : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
      unknown |= !exists;
      ok = mk_txn_partitions_add(&set, t->name, t->partitions[j]) == 0;
    }
  }
  if (!ok || unknown) {
    if (unknown)
      mk_log(MK_LOG_INFO, "broker", "AddPartitionsToTxn for %.*s: a partition does not exist; "
             "nothing added", in->v3_and_below_transactional_id.len,
             in->v3_and_below_transactional_id.ptr);
    mk_txn_partitions_free(&set);
    respond_add_partitions(req, MK_ERR_UNKNOWN_SERVER_ERROR, ok ? errors : NULL);
    return;
  }
  struct mk_group_reply *r = mk_group_reply_new(req);
  if (!r) {
    mk_txn_partitions_free(&set);
    respond_add_partitions(req, MK_ERR_UNKNOWN_SERVER_ERROR, NULL);
    return;
  }
  struct mk_broker *b = req->broker;  /* answering may free req */
  int32_t node = req->node->id;
  mk_txn_add_partitions(mk_txn_runtime_enter(b), node, in->v3_and_below_transactional_id,
                        in->v3_and_below_producer_id, in->v3_and_below_producer_epoch, &set,
                        on_added, r);
  mk_txn_runtime_leave(b);
  mk_txn_partitions_free(&set);
}

/* ---- AddOffsetsToTxn ------------------------------------------------------------------------ */

static void respond_add_offsets(struct mk_req *req, int16_t error) {
  struct mk_add_offsets_to_txn_response resp;
  mk_schema_set_defaults(&mk_add_offsets_to_txn_response_schema, &resp);
  resp.error_code = for_version(req->request.header.api_version, error);
  mk_req_respond(req, &resp);
}

static void on_offsets_added(void *arg, int16_t error) {
  struct mk_group_reply *r = arg;
  if (r->req) respond_add_offsets(r->req, error);
  mk_group_reply_release(r);
}

void mk_handle_add_offsets_to_txn(struct mk_req *req) {
  const struct mk_add_offsets_to_txn_request *in = req->request.body;
  struct mk_broker *b = req->broker;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    respond_add_offsets(req, injected);
    return;
  }
  /* The group's partition of __consumer_offsets joins the transaction: its marker is what
   * makes the offsets committed. The topic must exist to be marked. */
  struct mk_err err = {0};
  if (!mk_group_runtime_offsets_topic(b, true, &err)) {
    respond_add_offsets(req, MK_ERR_COORDINATOR_NOT_AVAILABLE);
    return;
  }
  struct mk_txn_partitions set = {0};
  struct mk_group_reply *r = NULL;
  if (mk_txn_partitions_add(&set, mk_str_of(MK_CONSUMER_OFFSETS_TOPIC),
                            mk_group_runtime_partition_for(b, in->group_id)) ||
      !(r = mk_group_reply_new(req))) {
    mk_txn_partitions_free(&set);
    respond_add_offsets(req, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  int32_t node = req->node->id;
  mk_txn_add_partitions(mk_txn_runtime_enter(b), node, in->transactional_id, in->producer_id,
                        in->producer_epoch, &set, on_offsets_added, r);
  mk_txn_runtime_leave(b);
  mk_txn_partitions_free(&set);
}

/* ---- EndTxn ---------------------------------------------------------------------------------- */

static void respond_end(struct mk_req *req, int16_t error, int64_t producer_id, int16_t epoch) {
  struct mk_end_txn_response resp;
  mk_schema_set_defaults(&mk_end_txn_response_schema, &resp);
  resp.error_code = for_version(req->request.header.api_version, error);
  if (req->request.header.api_version >= 5) {
    resp.producer_id = producer_id;
    resp.producer_epoch = epoch;
  }
  mk_req_respond(req, &resp);
}

static void on_ended(void *arg, int16_t error, int64_t producer_id, int16_t epoch) {
  struct mk_group_reply *r = arg;
  if (r->req) respond_end(r->req, error, producer_id, epoch);
  mk_group_reply_release(r);
}

void mk_handle_end_txn(struct mk_req *req) {
  const struct mk_end_txn_request *in = req->request.body;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    respond_end(req, injected, -1, -1);
    return;
  }
  struct mk_group_reply *r = mk_group_reply_new(req);
  if (!r) {
    respond_end(req, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
    return;
  }
  struct mk_broker *b = req->broker;
  int32_t node = req->node->id;
  mk_txn_end_transaction(mk_txn_runtime_enter(b), node, in->transactional_id, in->producer_id,
                         in->producer_epoch, in->committed, on_ended, r);
  mk_txn_runtime_leave(b);
}

/* ---- TxnOffsetCommit -------------------------------------------------------------------------- */

void mk_handle_txn_offset_commit(struct mk_req *req) {
  const struct mk_txn_offset_commit_request *in = req->request.body;
  struct mk_broker *b = req->broker;
  struct mk_txn_offset_commit_response *resp =
      mk_req_alloc(req, &mk_txn_offset_commit_response_schema, 1);
  int32_t total = 0;
  for (int32_t i = 0; i < in->topics_count; i++) total += in->topics[i].partitions_count;
  struct mk_commit_answer *st = mk_arena_alloc(&req->arena, sizeof *st);
  struct mk_offset_commit *offsets = mk_arena_alloc(&req->arena, sizeof *offsets * (size_t)(total + 1));
  int16_t **slots = mk_arena_alloc(&req->arena, sizeof *slots * (size_t)(total + 1));
  if (!resp || !st || !offsets || !slots) {
    mk_conn_close(req->conn, "out of memory for a TxnOffsetCommit request");
    return;
  }
  /* The transaction must still be this producer's, and the group's partition in it (KIP-890
   * verification; a fenced producer hears PRODUCER_FENCED here). */
  int16_t verified = 0;
  if (b->cluster.cfg.transaction_partition_verification_enable) {
    struct mk_txn_coordinator *c = mk_txn_runtime_enter(b);
    verified = mk_txn_verify_partition(c, in->transactional_id, in->producer_id,
                                       in->producer_epoch, mk_str_of(MK_CONSUMER_OFFSETS_TOPIC),
                                       mk_group_runtime_partition_for(b, in->group_id));
    mk_txn_runtime_leave(b);
    /* Nobody coordinates the id this instant, or it is ending: retriable (versions before 2
     * did not know COORDINATOR_LOAD_IN_PROGRESS, as Kafka remembers in its handler). */
    if (verified == MK_ERR_COORDINATOR_NOT_AVAILABLE || verified == MK_ERR_CONCURRENT_TRANSACTIONS)
      verified = req->request.header.api_version < 2 ? MK_ERR_COORDINATOR_NOT_AVAILABLE
                                                     : MK_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (verified)
      mk_log(MK_LOG_INFO, "broker", "TxnOffsetCommit for %.*s (producer %lld epoch %d): %s",
             in->transactional_id.len, in->transactional_id.ptr, (long long)in->producer_id,
             in->producer_epoch, mk_err_name(verified));
  }
  int64_t now = mk_wall_ms();
  int n = 0;
  resp->topics = mk_req_alloc(req, &mk_txn_offset_commit_response_topic_schema, in->topics_count);
  resp->topics_count = resp->topics ? in->topics_count : 0;
  for (int32_t i = 0; i < resp->topics_count; i++) {
    const struct mk_txn_offset_commit_request_topic *t = &in->topics[i];
    struct mk_txn_offset_commit_response_topic *out = &resp->topics[i];
    out->name = t->name;
    out->partitions =
        mk_req_alloc(req, &mk_txn_offset_commit_response_partition_schema, t->partitions_count);
    out->partitions_count = out->partitions ? t->partitions_count : 0;
    for (int32_t j = 0; j < out->partitions_count; j++) {
      const struct mk_txn_offset_commit_request_partition *p = &t->partitions[j];
      struct mk_txn_offset_commit_response_partition *o = &out->partitions[j];
      o->partition_index = p->partition_index;
      if ((o->error_code = mk_req_fault_error(req, t->name, p->partition_index))) continue;
      if (!partition_exists(req, t->name, p->partition_index)) {
        o->error_code = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      if ((o->error_code = verified)) continue;
      offsets[n] = (struct mk_offset_commit){
          .topic = t->name,
          .partition = p->partition_index,
          .offset = p->committed_offset,
          .leader_epoch = p->committed_leader_epoch,
          .metadata = p->committed_metadata.len < 0 ? (struct mk_str){"", 0} : p->committed_metadata,
          .commit_timestamp_ms = now,
          .expire_timestamp_ms = -1,
      };
      slots[n++] = &o->error_code;
    }
  }
  *st = (struct mk_commit_answer){resp, slots, n};
  struct mk_group_reply *r = mk_group_commit_reply(req, st);
  if (!r) return;
  struct mk_group_context ctx;
  mk_group_context_of(req, &ctx);
  mk_group_commit_txn_offsets(mk_group_runtime_enter(b), &ctx, in->group_id, in->member_id,
                              in->group_instance_id, in->generation_id, in->producer_id,
                              in->producer_epoch, offsets, n, mk_group_commit_answered, r);
  mk_group_runtime_leave(b);
}
