/*
 * ListOffsets: turning "earliest", "latest" or a timestamp into an offset.
 * Kafka: KafkaApis.handleListOffsetRequest, UnifiedLog.fetchOffsetByTimestamp.
 *
 *   timestamp -2  EARLIEST        the log start offset
 *   timestamp -1  LATEST          the high watermark (what a consumer can read up to), or
 *                                 with isolation_level read_committed (v2+) the last stable
 *                                 offset
 *   timestamp -3  MAX_TIMESTAMP   the record with the largest timestamp (v7+)
 *   timestamp -4  EARLIEST_LOCAL  the log start offset (v8+; no tiered storage here)
 *   timestamp >= 0                the first record with a timestamp >= it, or offset -1
 * A consumer starting "from the beginning" asks -2; one starting at the end asks -1. A
 * read_committed consumer sees nothing at or past the last stable offset, by timestamp either.
 */
#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/kafka_apis.h"
#include "protocol/messages/list_offsets.h"

enum { LATEST = -1, EARLIEST = -2, MAX_TIMESTAMP = -3, EARLIEST_LOCAL = -4, EARLIEST_TIERED = -5 };

static void list_partition(struct mk_req *req, struct mk_str topic,
                           const struct mk_list_offsets_partition *in,
                           struct mk_list_offsets_partition_response *out) {
  struct mk_broker *b = req->broker;
  struct mk_partition *p = mk_cluster_partition(mk_cluster_find_topic(&b->cluster, topic), in->partition_index);
  out->partition_index = in->partition_index;
  int16_t injected = mk_req_fault_error(req, topic, in->partition_index);
  if (injected) {
    out->error_code = injected;  /* an `error` fault (faults.h) */
    return;
  }
  if (!p) {
    out->error_code = MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return;
  }
  if (p->leader != req->node->id) {
    out->error_code = MK_ERR_NOT_LEADER_OR_FOLLOWER;
    return;
  }
  if (in->current_leader_epoch >= 0 && in->current_leader_epoch != p->leader_epoch) {
    out->error_code = in->current_leader_epoch < p->leader_epoch ? MK_ERR_FENCED_LEADER_EPOCH
                                                                 : MK_ERR_UNKNOWN_LEADER_EPOCH;
    return;
  }
  const struct mk_log *log = &mk_partition_leader(p)->log;
  /* v1-3 have no leader_epoch field; the encoder refuses a value it cannot carry. */
  bool has_epoch = req->request.header.api_version >= 4;
  out->timestamp = -1;
  if (has_epoch) out->leader_epoch = p->leader_epoch;
  const struct mk_list_offsets_request *request = req->request.body;
  bool read_committed = req->request.header.api_version >= 2 && request->isolation_level == 1;
  int64_t visible = read_committed ? mk_partition_last_stable_offset(p) : p->high_watermark;
  switch (in->timestamp) {
    case LATEST: out->offset = visible; return;
    case EARLIEST: case EARLIEST_LOCAL: case EARLIEST_TIERED: out->offset = log->log_start_offset; return;
  }
  int64_t ts = in->timestamp;
  if (ts == MAX_TIMESTAMP) {
    ts = -1;
    for (size_t i = 0; i < log->count; i++)
      if (mk_log_batch(log, i)->max_timestamp > ts) ts = mk_log_batch(log, i)->max_timestamp;
    if (ts < 0) {
      out->offset = -1;
      return;
    }
  } else if (ts < 0) {
    out->error_code = MK_ERR_INVALID_REQUEST;
    return;
  }
  struct mk_timestamp_and_offset found;
  struct mk_err err = {0};
  if (mk_log_offset_for_timestamp(log, ts, 64 << 20, &found, &err)) {
    out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
    return;
  }
  /* A record beyond the high watermark (or the LSO) is not visible yet. */
  if (found.offset >= visible) found = (struct mk_timestamp_and_offset){-1, -1, -1};
  out->offset = found.offset;
  out->timestamp = found.timestamp;
  if (has_epoch && found.leader_epoch >= 0) out->leader_epoch = found.leader_epoch;
}

void mk_handle_list_offsets(struct mk_req *req) {
  const struct mk_list_offsets_request *in = req->request.body;
  struct mk_list_offsets_response resp;
  mk_schema_set_defaults(&mk_list_offsets_response_schema, &resp);
  resp.topics = mk_req_alloc(req, &mk_list_offsets_topic_response_schema, in->topics_count);
  resp.topics_count = resp.topics ? in->topics_count : 0;
  for (int i = 0; i < resp.topics_count; i++) {
    const struct mk_list_offsets_topic *t = &in->topics[i];
    struct mk_list_offsets_topic_response *tr = &resp.topics[i];
    tr->name = t->name;
    tr->partitions = mk_req_alloc(req, &mk_list_offsets_partition_response_schema, t->partitions_count);
    tr->partitions_count = tr->partitions ? t->partitions_count : 0;
    for (int j = 0; j < tr->partitions_count; j++)
      list_partition(req, t->name, &t->partitions[j], &tr->partitions[j]);
  }
  mk_req_respond(req, &resp);
}
