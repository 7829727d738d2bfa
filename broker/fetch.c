/*
 * Fetch: reading a partition from an offset, up to the high watermark (or the last stable
 * offset).
 * Kafka: KafkaApis.handleFetchRequest, ReplicaManager.fetchMessages, DelayedFetch.
 *
 * For each partition asked for: find the leader's log, check the offset is in
 * [log start, log end], and return whole batches from the one holding the
 * offset up to the high watermark — never past it, so a consumer never reads a
 * record that a failover could still take back. Batches go out as the exact
 * bytes the producer sent (with the offsets the broker assigned); the first
 * batch may begin before the requested offset, and the consumer skips those
 * records, as with Kafka.
 *
 * Limits: partition_max_bytes per partition and max_bytes per response (at most the
 * broker's fetch.max.bytes), except that the first batch found is always sent whole
 * even if larger, so a consumer can never get stuck behind a big batch (KIP-74).
 *
 * Long poll: with fewer than min_bytes available, the request waits in the
 * purgatory up to max_wait_ms; every append or HW move re-checks it.
 *
 * Isolation (v4+): read_uncommitted reads up to the high watermark, aborted transactions'
 * records included; read_committed reads only below the last stable offset (the first offset
 * of a transaction not yet decided and replicated, cluster.h) and gets, with its records, the
 * aborted transactions they overlap (transaction_index.h), so it can drop their records; a
 * read_uncommitted answer carries no list (null), as Kafka's.
 *
 * Fetch sessions (KIP-227) are not kept: every answer has session_id 0, which
 * tells a client to keep sending full fetch requests.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/faults.h"
#include "broker/broker_internal.h"
#include "broker/kafka_apis.h"
#include "broker/purgatory.h"
#include "protocol/messages/fetch.h"

enum { READ_COMMITTED = 1 };  /* isolation_level: 0 read_uncommitted, 1 read_committed */

/* Look up one requested partition; on error fill out->error_code and return NULL. */
static struct mk_partition *resolve(struct mk_req *req, const struct mk_fetch_topic *ft,
                                    const struct mk_fetch_partition *fp,
                                    struct mk_fetch_partition_data *out) {
  struct mk_broker *b = req->broker;
  bool by_id = req->request.header.api_version >= 13;
  struct mk_topic *t = by_id ? mk_cluster_find_topic_id(&b->cluster, ft->topic_id)
                             : mk_cluster_find_topic(&b->cluster, ft->topic);
  struct mk_partition *p = mk_cluster_partition(t, fp->partition);
  out->partition_index = fp->partition;
  int16_t injected = mk_req_fault_error(req, t ? mk_str_of(t->name) : ft->topic, fp->partition);
  if (injected) {
    out->error_code = injected;  /* an `error` fault (faults.h) */
    return NULL;
  }
  if (!p) {
    out->error_code = by_id && !t ? MK_ERR_UNKNOWN_TOPIC_ID : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return NULL;
  }
  if (p->leader != req->node->id) {
    out->error_code = MK_ERR_NOT_LEADER_OR_FOLLOWER;
    out->current_leader.leader_id = p->leader;
    out->current_leader.leader_epoch = p->leader_epoch;
    return NULL;
  }
  if (fp->current_leader_epoch >= 0 && fp->current_leader_epoch != p->leader_epoch) {
    out->error_code = fp->current_leader_epoch < p->leader_epoch ? MK_ERR_FENCED_LEADER_EPOCH
                                                                 : MK_ERR_UNKNOWN_LEADER_EPOCH;
    return NULL;
  }
  struct mk_log *log = &mk_partition_leader(p)->log;
  out->high_watermark = p->high_watermark;
  out->last_stable_offset = mk_partition_last_stable_offset(p);
  out->log_start_offset = log->log_start_offset;
  if (fp->fetch_offset < log->log_start_offset || fp->fetch_offset > log->log_end_offset) {
    out->error_code = MK_ERR_OFFSET_OUT_OF_RANGE;
    return NULL;
  }
  return p;
}

/* The aborted transactions overlapping [from, to), the records a read_committed answer
 * carries (Kafka's collectAbortedTransactions). */
static void aborted_in_range(struct mk_req *req, struct mk_partition *p, int64_t from, int64_t to,
                             struct mk_fetch_partition_data *out) {
  const struct mk_transaction_index *idx = &p->producers.aborted;
  size_t n = mk_transaction_index_collect(idx, from, to, NULL, 0);
  if (n == 0) return;
  struct mk_aborted_txn *found = mk_arena_alloc(&req->arena, sizeof *found * n);
  struct mk_fetch_aborted_transaction *list =
      mk_req_alloc(req, &mk_fetch_aborted_transaction_schema, (int32_t)n);
  if (!found || !list) {
    out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
    return;
  }
  mk_transaction_index_collect(idx, from, to, found, n);
  for (size_t i = 0; i < n; i++)
    list[i] = (struct mk_fetch_aborted_transaction){found[i].producer_id, found[i].first_offset};
  out->aborted_transactions = list;
  out->aborted_transactions_count = (int32_t)n;
}

/* One pass over the request. With build = false only counts the bytes available (cheap,
 * for long-poll checks); with build = true also fills the response. Returns the bytes. */
static size_t plan(struct mk_req *req, struct mk_fetch_response *resp, bool build, bool *errors) {
  const struct mk_fetch_request *in = req->request.body;
  int version = req->request.header.api_version;
  bool read_committed = version >= 4 && in->isolation_level == READ_COMMITTED;
  /* The client's max_bytes (v3+), never more than the broker's fetch.max.bytes. */
  size_t budget = (size_t)req->cluster->cfg.fetch_max_bytes;
  if (version >= 3 && in->max_bytes >= 0 && (size_t)in->max_bytes < budget)
    budget = (size_t)in->max_bytes;
  size_t total = 0;
  *errors = false;
  if (build) {
    resp->responses = mk_req_alloc(req, &mk_fetch_fetchable_topic_response_schema, in->topics_count);
    resp->responses_count = resp->responses ? in->topics_count : 0;
  }
  for (int i = 0; i < in->topics_count; i++) {
    const struct mk_fetch_topic *ft = &in->topics[i];
    struct mk_fetch_fetchable_topic_response *tr = build ? &resp->responses[i] : NULL;
    if (tr) {
      tr->topic = ft->topic;
      tr->topic_id = ft->topic_id;
      tr->partitions = mk_req_alloc(req, &mk_fetch_partition_data_schema, ft->partitions_count);
      tr->partitions_count = tr->partitions ? ft->partitions_count : 0;
    }
    for (int j = 0; j < ft->partitions_count; j++) {
      const struct mk_fetch_partition *fp = &ft->partitions[j];
      struct mk_fetch_partition_data scratch, *out = tr && tr->partitions ? &tr->partitions[j] : &scratch;
      if (out == &scratch) mk_schema_set_defaults(&mk_fetch_partition_data_schema, &scratch);
      /* Empty, not null: clients read a null record set as a protocol error. */
      out->records = (struct mk_bytes){NULL, 0};
      /* read_committed always gets a list (empty when nothing was aborted); the other none. */
      out->aborted_transactions = NULL;
      out->aborted_transactions_count = read_committed ? 0 : -1;
      struct mk_partition *p = resolve(req, ft, fp, out);
      if (!p) {
        *errors = true;
        continue;
      }
      const struct mk_log *log = &mk_partition_leader(p)->log;
      int64_t limit = read_committed ? mk_partition_last_stable_offset(p) : p->high_watermark;
      size_t first = mk_log_find(log, fp->fetch_offset), last = first, bytes = 0;
      size_t part_max = fp->partition_max_bytes >= 0 ? (size_t)fp->partition_max_bytes : 0;
      for (; last < log->count; last++) {
        const struct mk_batch *batch = mk_log_batch(log, last);
        if (batch->base_offset >= limit) break;
        bool first_of_response = total == 0 && bytes == 0;
        if (!first_of_response && (bytes + batch->size > part_max || total + bytes + batch->size > budget))
          break;
        bytes += batch->size;
      }
      total += bytes;
      if (!build || bytes == 0) continue;
      uint8_t *data = mk_arena_alloc(&req->arena, bytes);
      if (!data) {
        out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
        continue;
      }
      size_t at = 0;
      for (size_t k = first; k < last; k++) {
        const struct mk_batch *batch = mk_log_batch(log, k);
        memcpy(data + at, batch->data, batch->size);
        at += batch->size;
      }
      out->records = (struct mk_bytes){data, (int32_t)bytes};
      if (read_committed) aborted_in_range(req, p, fp->fetch_offset,
                                           mk_log_batch(log, last - 1)->last_offset + 1, out);
    }
  }
  return total;
}

static bool try_complete(struct mk_req *req, bool timed_out) {
  const struct mk_fetch_request *in = req->request.body;
  bool errors;
  if (!timed_out) {
    size_t available = plan(req, NULL, false, &errors);
    if (!errors && available < (size_t)(in->min_bytes > 0 ? in->min_bytes : 1)) return false;
  }
  struct mk_fetch_response resp;
  mk_schema_set_defaults(&mk_fetch_response_schema, &resp);
  plan(req, &resp, true, &errors);
  mk_req_respond(req, &resp);
  return true;
}

void mk_handle_fetch(struct mk_req *req) {
  /* Answering frees req, so nothing of it is read after try_complete returns true. */
  int32_t max_wait_ms = ((const struct mk_fetch_request *)req->request.body)->max_wait_ms;
  if (max_wait_ms <= 0) {
    try_complete(req, true);
    return;
  }
  if (req->fault) {  /* an injected error answers at once */
    try_complete(req, true);
    return;
  }
  if (try_complete(req, false)) return;
  if (mk_purgatory_add(req, max_wait_ms, try_complete, NULL, NULL)) try_complete(req, true);
}
