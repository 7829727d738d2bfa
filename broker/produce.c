/*
 * Produce: validating, deduplicating, appending and acknowledging record batches.
 * Kafka: KafkaApis.handleProduceRequest, ReplicaManager.appendRecords, UnifiedLog.append
 * (LogValidator, analyzeAndValidateProducerState), DelayedProduce.
 *
 * For each partition in the request, in this order (the first failure is the answer):
 *   1. the topic and partition exist          UNKNOWN_TOPIC_OR_PARTITION
 *   2. this broker leads it                   NOT_LEADER_OR_FOLLOWER (+ who does, v10+)
 *   3. exactly one magic-2 batch              INVALID_RECORD / CORRUPT_MESSAGE
 *   4. no larger than max.message.bytes       MESSAGE_TOO_LARGE
 *   5. CRC, lengths, records, decompression   CORRUPT_MESSAGE / INVALID_RECORD
 *   6. acks=all and ISR >= min.insync         NOT_ENOUGH_REPLICAS (nothing appended)
 *   7. a transaction's first batch here       the transaction coordinator confirms the
 *      (transaction.partition.verification    partition was added and the epoch is current
 *      .enable, KIP-890)                      (PRODUCER_FENCED, INVALID_TXN_STATE,
 *                                             INVALID_PRODUCER_ID_MAPPING; NOT_ENOUGH_REPLICAS
 *                                             while it cannot answer, which clients retry)
 *   8. producer id + epoch + sequence         duplicate -> the original offset, no error;
 *                                             OUT_OF_ORDER_SEQUENCE_NUMBER,
 *                                             INVALID_PRODUCER_EPOCH; a plain batch while the
 *                                             producer's transaction is open INVALID_TXN_STATE
 *   9. append: offsets assigned by rewriting base_offset; for a LogAppendTime topic
 *      (message.timestamp.type) the broker's clock written as the batch's max timestamp,
 *      the CRC recomputed, and returned as log_append_time_ms; the followers' parked
 *      fetches are answered on the next loop turn (replica_fetcher.h), after this answer
 * A request with transactional batches must name its transactional_id, or every partition
 * answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED (what Kafka answers when the id is missing).
 * And then, for the request as a whole, its bytes count against the client's produce quota
 * (quota.h): over it, the response carries throttle_time_ms and the connection pauses.
 *
 * Then acks decides when to answer:
 *   acks=0   never (on any error the connection is closed instead, as in Kafka:
 *            the client would never learn of it otherwise)
 *   acks=1   now: the leader has it (no follower has copied it yet)
 *   acks=all when the high watermark passes every appended batch (the followers have
 *            fetched it and fetched again, so the leader knows), or
 *            REQUEST_TIMED_OUT after the request's timeout_ms; if the ISR shrinks
 *            below min.insync.replicas meanwhile, NOT_ENOUGH_REPLICAS_AFTER_APPEND
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/group_coordinator_runtime.h"
#include "broker/kafka_apis.h"
#include "broker/purgatory.h"
#include "broker/quota.h"
#include "broker/replica_set.h"
#include "broker/retention.h"
#include "broker/transaction_coordinator_runtime.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/compression.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"

/* A batch may decompress to this much before we call it a bomb. Kafka has no such limit
 * but also no 24 GiB laptop to protect; 64 MiB is far beyond any batch.size in use. */
enum { MAX_DECOMPRESSED = 64 << 20 };

/* What an acks=all request waits for, per partition: the offset the HW must reach. */
struct waiting {
  struct mk_produce_response *resp;
  int npartitions;
  struct wait_partition {
    struct mk_produce_partition_produce_response *out;
    struct mk_str topic;
    int64_t required_offset;  /* -1: nothing to wait for (error or duplicate) */
  } *parts;
};

void mk_produce_trace_batch(const char *event, const struct mk_partition *p,
                            const struct mk_record_batch *b, int64_t base, int64_t last,
                            const char *error) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_str(&ev, "topic", p->topic->name);
  mk_trace_int(&ev, "partition", p->index);
  mk_trace_int(&ev, "base_offset", base);
  mk_trace_int(&ev, "last_offset", last);
  mk_trace_int(&ev, "records", b->records_count);
  mk_trace_int(&ev, "bytes", (int64_t)b->size);
  mk_trace_str(&ev, "compression", mk_compression_name(mk_record_batch_compression(b)));
  mk_trace_int(&ev, "producer_id", b->producer_id);
  mk_trace_int(&ev, "producer_epoch", b->producer_epoch);
  mk_trace_int(&ev, "base_sequence", b->base_sequence);
  mk_trace_int(&ev, "broker", p->leader);  /* the leader: the replica that wrote (or refused) */
  if (error) mk_trace_str(&ev, "error", error);
  mk_trace_end(&ev);
}

/* Step 7: KIP-890's verification of a transaction's first batch in partition p (Kafka's
 * ReplicaManager.maybeStartTransactionVerificationForPartition, with the coordinator's
 * answer translated as Kafka translates it for the produce response). */
static int verify_transaction(struct mk_req *req, struct mk_partition *p,
                              const struct mk_record_batch *batch, struct mk_err *err) {
  struct mk_broker *b = req->broker;
  if (!(batch->attributes & MK_ATTR_TRANSACTIONAL) || batch->producer_id < 0 ||
      !b->cluster.cfg.transaction_partition_verification_enable)
    return 0;
  const struct mk_producer_entry *e = mk_producer_state_lookup(&p->producers, batch->producer_id);
  if (e && e->current_txn_first_offset >= 0) return 0;  /* its transaction is open here */
  const struct mk_produce_request *in = req->request.body;
  int16_t rc = mk_txn_verify_partition(mk_txn_runtime_enter(b), in->transactional_id,
                                       batch->producer_id, batch->producer_epoch,
                                       mk_str_of(p->topic->name), p->index);
  mk_txn_runtime_leave(b);
  switch (rc) {
    case 0: return 0;
    case MK_ERR_INVALID_TXN_STATE:
      return mk_err_set(err, rc, "Partition %s-%d was not added to the transaction of %.*s",
                        p->topic->name, p->index, in->transactional_id.len,
                        in->transactional_id.ptr);
    case MK_ERR_CONCURRENT_TRANSACTIONS:
    case MK_ERR_COORDINATOR_NOT_AVAILABLE:
    case MK_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case MK_ERR_NOT_COORDINATOR:
      /* Retriable, in a form every client retries (Kafka picks this one too). */
      return mk_err_set(err, MK_ERR_NOT_ENOUGH_REPLICAS, "Unable to verify the partition has been "
                        "added to the transaction. Underlying error: %s", mk_err_name(rc));
    default:
      return mk_err_set(err, rc, "transaction verification of %s-%d for producer %lld epoch %d: "
                        "%s", p->topic->name, p->index, (long long)batch->producer_id,
                        batch->producer_epoch, mk_err_name(rc));
  }
}

/* Steps 1-9 for one partition. Returns the error code written to out (0 on success);
 * *required is the offset acks=all must wait for, or -1. */
static int16_t produce_partition(struct mk_req *req, int16_t acks, struct mk_str topic,
                                 const struct mk_produce_partition_produce_data *in,
                                 struct mk_produce_partition_produce_response *out,
                                 int64_t *required) {
  struct mk_broker *b = req->broker;
  struct mk_err err = {0};
  *required = -1;
  out->index = in->index;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, topic);
  struct mk_partition *p = mk_cluster_partition(t, in->index);
  if (!p) return out->error_code = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
  /* Kafka: only its own coordinators write the internal topics (and the admin client). */
  if (mk_topic_is_internal(topic) && !mk_str_eq(req->request.header.client_id, "__admin_client")) {
    out->error_message = mk_str_of("Cannot append to internal topic");
    return out->error_code = MK_ERR_INVALID_TOPIC_EXCEPTION;
  }
  if (p->leader != req->node->id) {
    out->current_leader.leader_id = p->leader;
    out->current_leader.leader_epoch = p->leader_epoch;
    return out->error_code = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  }
  struct mk_replica *leader = mk_partition_leader(p);
  out->log_start_offset = leader->log.log_start_offset;

  struct mk_record_batch batch;
  if (in->records.len <= 0) {
    out->error_message = mk_str_of("no record batch in the request");
    return out->error_code = MK_ERR_INVALID_RECORD;
  }
  if (mk_record_batch_parse(in->records.ptr, (size_t)in->records.len, &batch, &err) == 0 &&
      batch.size != (size_t)in->records.len) {
    out->error_message = mk_str_of("Produce v3+ carries exactly one record batch per partition");
    return out->error_code = MK_ERR_INVALID_RECORD;
  }
  int32_t max = mk_topic_max_message_bytes(&b->cluster, t);
  int rc = err.code;
  if (!rc && req->request.header.api_version < 7 &&
      mk_record_batch_compression(&batch) == MK_COMPRESSION_ZSTD)
    rc = mk_err_set(&err, MK_ERR_UNSUPPORTED_COMPRESSION_TYPE,
                    "Produce v%d cannot carry zstd batches (v7+ can)", req->request.header.api_version);
  if (!rc && batch.size > (size_t)max)
    rc = mk_err_set(&err, MK_ERR_MESSAGE_TOO_LARGE,
                    "batch of %zu bytes exceeds max.message.bytes (%d)", batch.size, max);
  if (!rc) rc = mk_record_batch_validate(&batch, MAX_DECOMPRESSED, &err);
  if (!rc && (batch.attributes & MK_ATTR_CONTROL))
    rc = mk_err_set(&err, MK_ERR_INVALID_RECORD,
                    "Clients are not allowed to write control records in topic partition %s-%d",
                    t->name, p->index);
  if (!rc && acks == -1 && mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, t))
    rc = mk_err_set(&err, MK_ERR_NOT_ENOUGH_REPLICAS,
                    "ISR of %s-%d has %d replicas, min.insync.replicas is %d", t->name, p->index,
                    mk_partition_isr_count(p), mk_topic_min_insync_replicas(&b->cluster, t));
  if (!rc) rc = verify_transaction(req, p, &batch, &err);
  bool duplicate = false;
  struct mk_batch_metadata original;
  if (!rc) rc = mk_producer_state_check(&p->producers, &batch, &duplicate, &original, &err);
  if (rc) {
    mk_log_limited(&b->conn_log, MK_LOG_WARN, "broker", "produce to %s-%d refused: %s: %s",
                   t->name, p->index, mk_err_name(rc), err.msg);
    if (mk_trace_on() && (rc == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
                          rc == MK_ERR_INVALID_PRODUCER_EPOCH))
      mk_produce_trace_batch("out_of_order", p, &batch, -1, -1, err.msg);
    char *msg = mk_arena_alloc(&req->arena, strlen(err.msg) + 1);
    if (msg) out->error_message = mk_str_of(strcpy(msg, err.msg));
    return out->error_code = (int16_t)rc;
  }
  bool log_append_time = mk_topic_log_append_time(&b->cluster, t);
  if (duplicate) {
    /* A retry of a batch we already have: answer as the first time, append nothing. */
    out->base_offset = original.first_offset;
    if (log_append_time) out->log_append_time_ms = original.timestamp;
    if (mk_trace_on())
      mk_produce_trace_batch("duplicate", p, &batch, original.first_offset, original.last_offset,
                             NULL);
    *required = original.last_offset + 1;
    return 0;
  }

  int64_t base = leader->log.log_end_offset;
  int64_t now = mk_wall_ms();
  if (log_append_time) {
    /* LogAppendTime (LogValidator): the broker's clock becomes the batch's max timestamp,
     * the timestamp type attribute says so, and the CRC (which covers both) is recomputed;
     * a reader takes every record's timestamp from there. The producer learns it from the
     * response's log_append_time_ms. */
    mk_record_batch_set_max_timestamp((uint8_t *)batch.data, batch.size, true, now);
    batch.max_timestamp = now;
    batch.attributes |= MK_ATTR_LOG_APPEND_TIME;
    out->log_append_time_ms = now;
  }
  struct mk_batch *stored = mk_batch_new(&batch, base, p->leader_epoch, now, req->frame);
  if (!stored || mk_log_append(&leader->log, stored, &err)) {
    mk_batch_unref(stored);
    return out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  mk_producer_state_update(&p->producers, stored);
  if (mk_trace_on()) mk_produce_trace_batch("append", p, &batch, base, stored->last_offset, NULL);
  *required = stored->last_offset + 1;
  mk_batch_unref(stored);
  out->base_offset = base;
  mk_replica_set_replicate(b, p);
  mk_retention_apply(b, p, false);
  return 0;
}

/* acks=all: done when every appended partition's HW reached its batch. */
static bool try_complete(struct mk_req *req, bool timed_out) {
  struct waiting *w = req->op;
  struct mk_broker *b = req->broker;
  bool all_done = true;
  for (int i = 0; i < w->npartitions; i++) {
    struct wait_partition *wp = &w->parts[i];
    if (wp->required_offset < 0) continue;
    struct mk_topic *t = mk_cluster_find_topic(&b->cluster, wp->topic);
    struct mk_partition *p = mk_cluster_partition(t, wp->out->index);
    if (!p || p->leader != req->node->id) {
      /* Deleted while we waited, or leadership moved away. */
      wp->out->error_code = p ? MK_ERR_NOT_LEADER_OR_FOLLOWER : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
      wp->required_offset = -1;
    } else if (p->high_watermark >= wp->required_offset) {
      if (mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, t))
        wp->out->error_code = MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
      wp->required_offset = -1;
    } else if (timed_out) {
      wp->out->error_code = MK_ERR_REQUEST_TIMED_OUT;
      wp->required_offset = -1;
    } else {
      all_done = false;
    }
  }
  if (!all_done) return false;
  mk_req_respond(req, w->resp);
  return true;
}

/* Whether any partition's batch says it belongs to a transaction. A control batch does
 * not count: whoever sends one gets INVALID_RECORD (step 5), whatever else it names. */
static bool has_transactional_batch(const struct mk_produce_request *in) {
  for (int i = 0; i < in->topic_data_count; i++)
    for (int j = 0; j < in->topic_data[i].partition_data_count; j++) {
      const struct mk_bytes *r = &in->topic_data[i].partition_data[j].records;
      struct mk_record_batch batch;
      if (r->len > 0 && mk_record_batch_parse(r->ptr, (size_t)r->len, &batch, NULL) == 0 &&
          (batch.attributes & MK_ATTR_TRANSACTIONAL) && !(batch.attributes & MK_ATTR_CONTROL))
        return true;
    }
  return false;
}

void mk_handle_produce(struct mk_req *req) {
  const struct mk_produce_request *in = req->request.body;
  struct mk_produce_response *resp = mk_req_alloc(req, &mk_produce_response_schema, 1);
  struct waiting *w = mk_arena_alloc(&req->arena, sizeof *w);
  int total = 0;
  for (int i = 0; i < in->topic_data_count; i++) total += in->topic_data[i].partition_data_count;
  if (!resp || !w || !(w->parts = mk_arena_alloc(&req->arena, sizeof *w->parts * (size_t)(total + 1)))) {
    mk_conn_close(req->conn, "out of memory for a produce request");
    return;
  }
  w->resp = resp;
  req->op = w;  /* try_complete reads it, in the purgatory or not */
  bool bad_acks = in->acks != 0 && in->acks != 1 && in->acks != -1;
  bool no_txn_id = in->transactional_id.len < 0 && has_transactional_batch(in);
  bool any_error = false, must_wait = false;

  resp->responses = mk_req_alloc(req, &mk_produce_topic_produce_response_schema, in->topic_data_count);
  resp->responses_count = resp->responses ? in->topic_data_count : 0;
  for (int i = 0; i < resp->responses_count; i++) {
    const struct mk_produce_topic_produce_data *td = &in->topic_data[i];
    struct mk_produce_topic_produce_response *tr = &resp->responses[i];
    tr->name = td->name;
    tr->partition_responses = mk_req_alloc(req, &mk_produce_partition_produce_response_schema,
                                           td->partition_data_count);
    tr->partition_responses_count = tr->partition_responses ? td->partition_data_count : 0;
    for (int j = 0; j < tr->partition_responses_count; j++) {
      struct mk_produce_partition_produce_response *out = &tr->partition_responses[j];
      int16_t injected = 0;
      struct wait_partition *wp = &w->parts[w->npartitions++];
      wp->out = out;
      wp->topic = td->name;
      wp->required_offset = -1;
      if (bad_acks || no_txn_id) {
        out->index = td->partition_data[j].index;
        out->error_code = bad_acks ? MK_ERR_INVALID_REQUIRED_ACKS
                                   : MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      } else if ((injected = mk_req_fault_error(req, td->name, td->partition_data[j].index)) &&
                 !mk_fault_error_appends(injected)) {
        out->index = td->partition_data[j].index;  /* an error Kafka answers before writing */
        out->error_code = injected;
      } else {
        produce_partition(req, in->acks, td->name, &td->partition_data[j], out, &wp->required_offset);
        if (injected && !out->error_code) {
          /* "Written, not replicated in time": the batch stays appended (a retry of it is
           * a duplicate unless idempotence catches it), and the answer does not wait. */
          out->error_code = injected;
          wp->required_offset = -1;
        }
      }
      any_error |= out->error_code != 0;
      must_wait |= wp->required_offset >= 0;
    }
  }

  /* Quotas (quota.h): the request's bytes count against its client id; a client over
   * quota.producer.default hears how long to pause and is not read from meanwhile. */
  int32_t throttle = mk_quota_record_produce(req->broker, req->conn->listener, req->request.header.client_id,
                                             (int64_t)req->frame->size, mk_now_us() / 1000);
  if (throttle > 0) {
    resp->throttle_time_ms = throttle;
    mk_conn_mute(req->conn, throttle);
  }

  if (in->acks == 0) {
    if (any_error)
      mk_req_close_connection(req, "acks=0 produce failed; closing the connection as Kafka does");
    else
      mk_req_finish_silently(req);
    return;
  }
  if (in->acks == 1) {
    mk_req_respond(req, resp);
    return;
  }
  /* acks=all: answered now if every batch is already below the HW (a duplicate, or an ISR
   * of one), else from the purgatory when the followers' fetches move the HW there. */
  if (!must_wait || try_complete(req, false)) {
    if (!must_wait) mk_req_respond(req, resp);
    return;
  }
  if (mk_purgatory_add(req, in->timeout_ms, try_complete, w, NULL)) try_complete(req, true);
}
