/*
 * FindCoordinator: "which broker runs my consumer group / my transactions?"
 * Kafka: KafkaApis.handleFindCoordinatorRequest.
 *
 * This broker has no group or transaction coordinator yet, so the honest answer is
 * COORDINATOR_NOT_AVAILABLE for every key, which clients treat as "try again later".
 * Answering at all still matters: librdkafka decides which features a broker has from the
 * APIs it advertises, and turns lz4 off (silently sending lz4-configured records
 * uncompressed) unless FindCoordinator is among them.
 *
 * Versions 0-3 ask for one key and answer at the top level; from version 4 (KIP-699) a
 * request carries a list of keys and the answer has one entry per key.
 */
#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/kafka_apis.h"
#include "protocol/messages/find_coordinator.h"

static const char no_coordinator[] = "minikafka has no group or transaction coordinator";

void mk_handle_find_coordinator(struct mk_req *req) {
  const struct mk_find_coordinator_request *in = req->request.body;
  struct mk_find_coordinator_response resp;
  mk_schema_set_defaults(&mk_find_coordinator_response_schema, &resp);
  int16_t injected = mk_req_fault_error(req, MK_STR_NULL, -1);
  int16_t error = injected ? injected : MK_ERR_COORDINATOR_NOT_AVAILABLE;
  if (req->request.header.api_version < 4) {
    resp.error_code = error;
    resp.error_message = mk_str_of(no_coordinator);
    resp.node_id = -1;
    resp.port = -1;
  } else if (in->coordinator_keys_count > 0) {
    struct mk_find_coordinator_coordinator *c =
        mk_arena_alloc(&req->arena, sizeof *c * (size_t)in->coordinator_keys_count);
    if (!c) {
      mk_req_finish_silently(req);  /* out of memory: the client times out and retries */
      return;
    }
    for (int32_t i = 0; i < in->coordinator_keys_count; i++) {
      mk_schema_set_defaults(&mk_find_coordinator_coordinator_schema, &c[i]);
      c[i].key = in->coordinator_keys[i];
      c[i].node_id = -1;
      c[i].port = -1;
      c[i].error_code = error;
      c[i].error_message = mk_str_of(no_coordinator);
    }
    resp.coordinators = c;
    resp.coordinators_count = in->coordinator_keys_count;
  }
  mk_req_respond(req, &resp);
}
