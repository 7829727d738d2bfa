/*
 * InitProducerId: a producer id and epoch for an idempotent producer.
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
 * Transactional producers (a transactional_id) need a transaction coordinator,
 * which this broker does not have yet: they get a clear refusal.
 */
#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/kafka_apis.h"
#include "common/log.h"
#include "protocol/messages/init_producer_id.h"

void mk_handle_init_producer_id(struct mk_req *req) {
  struct mk_broker *b = req->broker;
  const struct mk_init_producer_id_request *in = req->request.body;
  struct mk_init_producer_id_response resp;
  mk_schema_set_defaults(&mk_init_producer_id_response_schema, &resp);
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  if (injected) {
    resp.error_code = injected;  /* an `error` fault (faults.h) */
  } else if (in->transactional_id.len >= 0) {
    mk_log(MK_LOG_WARN, "broker", "InitProducerId for transactional.id %.*s refused: "
           "transactions are not supported yet", in->transactional_id.len, in->transactional_id.ptr);
    resp.error_code = MK_ERR_UNSUPPORTED_VERSION;
  } else {
    resp.producer_id = b->cluster.next_producer_id++;
    resp.producer_epoch = 0;
  }
  mk_req_respond(req, &resp);
}
