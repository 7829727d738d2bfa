/*
 * InitProducerId: a producer id and epoch for an idempotent or transactional producer.
 * Kafka: KafkaApis.handleInitProducerIdRequest, ProducerIdManager, TransactionCoordinator.
 *
 * An idempotent producer (the default since Kafka 3.0) asks once, before its
 * first batch, and stamps every batch with the id, the epoch and a sequence
 * number per partition; that is what lets the broker recognise a retry. Ids
 * are handed out in order from 1000, so they are short enough to read in a lab.
 *
 * A producer that asks again (after a fatal sequence error, KIP-360) gets a
 * fresh id with epoch 0, whatever id it sends: for a producer without a
 * transactional.id, Kafka's TransactionCoordinator "blindly accepts" and
 * allocates a new one, and so do we.
 *
 * A transactional producer (a transactional_id) asks its transaction coordinator, the
 * leader of the id's partition of __transaction_state (FindCoordinator key type 1): it gets
 * the id's producer id with the next epoch, which fences every older holder of the id
 * (transaction_coordinator.h). The request's producer id and epoch (v3+, KIP-360) are both
 * -1, or both set: one without the other is INVALID_REQUEST. Before v4 a fenced producer
 * hears INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED, the code it knows.
 */
#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/group_apis.h"
#include "broker/kafka_apis.h"
#include "broker/transaction_coordinator_runtime.h"
#include "common/log.h"
#include "protocol/messages/init_producer_id.h"

static void respond(struct mk_req *req, int16_t error, int64_t producer_id, int16_t epoch) {
  struct mk_init_producer_id_response resp;
  mk_schema_set_defaults(&mk_init_producer_id_response_schema, &resp);
  if (req->request.header.api_version < 4 && error == MK_ERR_PRODUCER_FENCED)
    error = MK_ERR_INVALID_PRODUCER_EPOCH;
  resp.error_code = error;
  resp.producer_id = error ? -1 : producer_id;
  resp.producer_epoch = error ? -1 : epoch;
  mk_req_respond(req, &resp);
}

static void on_init(void *arg, int16_t error, int64_t producer_id, int16_t epoch) {
  struct mk_group_reply *r = arg;
  if (r->req) respond(r->req, error, producer_id, epoch);
  mk_group_reply_release(r);
}

void mk_handle_init_producer_id(struct mk_req *req) {
  struct mk_broker *b = req->broker;
  const struct mk_init_producer_id_request *in = req->request.body;
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    respond(req, injected, -1, -1);  /* an `error` fault (faults.h) */
    return;
  }
  if (in->transactional_id.len < 0) {
    respond(req, 0, b->cluster.next_producer_id++, 0);
    return;
  }
  bool no_id = in->producer_id == -1, no_epoch = in->producer_epoch == -1;
  if (no_id != no_epoch) {
    respond(req, MK_ERR_INVALID_REQUEST, -1, -1);
    return;
  }
  struct mk_group_reply *r = mk_group_reply_new(req);
  if (!r) {
    respond(req, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
    return;
  }
  int32_t node = req->node->id;  /* answering may free req */
  mk_txn_init_producer_id(mk_txn_runtime_enter(b), node, in->transactional_id,
                          in->transaction_timeout_ms, !no_id, in->producer_id, in->producer_epoch,
                          on_init, r);
  mk_txn_runtime_leave(b);
}
