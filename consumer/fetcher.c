/*
 * Fetcher: where each partition starts, fetching, and turning batches into records.
 * Kafka: clients/.../consumer/internals/Fetcher.java, OffsetFetcher.java (ListOffsets for
 * resets), FetchCollector.java and CompletedFetch.java (from bytes to ConsumerRecords).
 * The one fetch path of minikafka: `minikafka consume` (with or without a group) and the
 * labs read through it.
 *
 *   reset       partitions in AWAIT_RESET: ListOffsets to each leader, for the earliest or
 *               latest offset (auto.offset.reset, seekToBeginning/End)
 *   fetch       one Fetch to every leader of a FETCHING partition, all sent before any
 *               answer is read; a leader holds a request up to fetch.max.wait.ms while it
 *               has less than fetch.min.bytes. No fetch session (session id 0, epoch -1):
 *               every request names all its partitions, as a full fetch does.
 *   parse       each partition's bytes are cut into batches; a batch is CRC-checked
 *               (check.crcs), decompressed and read record by record. Records before the
 *               position are skipped (a batch may start before it); control batches, and
 *               with read_committed the batches of aborted transactions, are dropped. A
 *               fetch may end inside a batch: the rest comes with the next fetch.
 *   collect     poll() takes up to max.poll.records records; each moves its partition's
 *               position. A partition fully handed out moves past its last batch (markers
 *               and aborted batches included), so they are not fetched again.
 *
 * Errors of one partition: OFFSET_OUT_OF_RANGE resets it (auto.offset.reset; "none" is an
 * error for poll()), a stale leader refreshes metadata, anything else not retriable fails
 * poll(). A connection that fails refreshes metadata too; the next poll retries.
 *
 * Thread: app. Memory: c->fetch owns the response frames and decompressed copies the
 * records point into, until mk_fetcher_clear.
 */
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer_internal.h"
#include "protocol/api.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/record_batch.h"

/* A batch may decompress to this much (the consumer's guard against a decompression bomb). */
enum { MAX_DECOMPRESSED = 64 << 20 };

/* Errors that mean "ask Metadata again", as the Java consumer's Fetcher treats them. */
static bool stale_metadata(int code) {
  return code == MK_ERR_NOT_LEADER_OR_FOLLOWER || code == MK_ERR_LEADER_NOT_AVAILABLE ||
         code == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION || code == MK_ERR_UNKNOWN_TOPIC_ID ||
         code == MK_ERR_FENCED_LEADER_EPOCH || code == MK_ERR_UNKNOWN_LEADER_EPOCH ||
         code == MK_ERR_REPLICA_NOT_AVAILABLE || code == MK_ERR_KAFKA_STORAGE_ERROR ||
         code == MK_ERR_INCONSISTENT_TOPIC_ID || code == MK_ERR_BROKER_NOT_AVAILABLE;
}

/* The leaders (each once) of the assigned partitions in state st. */
static int leaders(const struct mk_consumer *c, enum mk_fetch_state st, int32_t *out) {
  int n = 0;
  for (int i = 0; i < c->subs.nparts; i++) {
    const struct mk_partition_state *p = &c->subs.parts[i];
    if (p->leader < 0 || p->state != st) continue;
    bool seen = false;
    for (int j = 0; j < n; j++) seen |= out[j] == p->leader;
    if (!seen && n < MK_CLIENT_MAX_NODES) out[n++] = p->leader;
  }
  return n;
}

static char *arena_strndup(struct mk_arena *a, const char *s, size_t n) {
  char *d = mk_arena_alloc(a, n + 1);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- ListOffsets: where a partition starts -------------------------------------------- */

/* One ListOffsets question: where is `timestamp` (MK_OFFSET_EARLIEST / _LATEST) in a
 * partition, asked of its leader. */
struct offset_query {
  const char *topic;
  int32_t partition;
  int32_t leader;
  int64_t timestamp;
  bool answered;       /* out: the leader answered for this partition */
  int16_t error;       /* out: its error code */
  int64_t offset;      /* out: the offset, when error is 0 */
};

/* One ListOffsets request to node, for the queries it leads. A transport failure leaves
 * them unanswered (and asks for metadata). Returns 0, MK_ERR__STATE (woken) or
 * MK_ERR__NO_MEMORY. */
static int list_offsets_on_node(struct mk_consumer *c, int32_t node, struct offset_query *q,
                                int n, struct mk_err *err) {
  struct mk_err e = {0};
  struct mk_client_conn *conn = mk_client_node(&c->client, node, &e);
  if (!conn) {
    c->need_metadata = true;
    return 0;
  }
  struct mk_arena a;
  mk_arena_init(&a);
  int ntopics = 0, rc = 0;
  struct mk_list_offsets_request req;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &req);
  req.replica_id = -1;
  req.isolation_level = (int8_t)c->cfg->isolation_level;
  req.timeout_ms = c->cfg->request_timeout_ms;
  req.topics = mk_arena_alloc(&a, sizeof *req.topics * (size_t)(n ? n : 1));
  if (!req.topics) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; !rc && i < n; i++) {
    if (q[i].leader != node) continue;
    struct mk_list_offsets_topic *t = NULL;
    for (int k = 0; k < ntopics && !t; k++)
      if (mk_str_eq(req.topics[k].name, q[i].topic)) t = &req.topics[k];
    if (!t) {
      t = &req.topics[ntopics++];
      mk_schema_set_defaults(&mk_list_offsets_topic_schema, t);
      t->name = mk_str_of(q[i].topic);
      t->partitions = mk_arena_alloc(&a, sizeof *t->partitions * (size_t)n);
      if (!t->partitions) {
        rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
        break;
      }
    }
    struct mk_list_offsets_partition *lp = &t->partitions[t->partitions_count++];
    mk_schema_set_defaults(&mk_list_offsets_partition_schema, lp);
    lp->partition_index = q[i].partition;
    lp->current_leader_epoch = -1;
    lp->timestamp = q[i].timestamp;
    lp->max_num_offsets = 1;
  }
  req.topics_count = ntopics;
  struct mk_list_offsets_response *resp = NULL;
  if (!rc && ntopics) {
    int crc = mk_client_call(conn, MK_API_LIST_OFFSETS, &req, (void **)&resp, &a, &e);
    if (crc == MK_ERR__STATE) {
      rc = mk_err_set(err, crc, "%s", e.msg);  /* woken up */
    } else if (crc) {
      mk_consumer_warn(c, "ListOffsets to node %d: %s", node, e.msg);
      c->need_metadata = true;
    }
    if (crc) resp = NULL;
  }
  for (int32_t t = 0; resp && t < resp->topics_count; t++) {
    const struct mk_list_offsets_topic_response *tr = &resp->topics[t];
    for (int32_t j = 0; j < tr->partitions_count; j++) {
      const struct mk_list_offsets_partition_response *pr = &tr->partitions[j];
      for (int i = 0; i < n; i++) {
        if (q[i].leader != node || q[i].partition != pr->partition_index ||
            !mk_str_eq(tr->name, q[i].topic))
          continue;
        q[i].answered = true;
        q[i].error = pr->error_code;
        q[i].offset = pr->offset;
        if (!pr->error_code && pr->offset < 0 && pr->old_style_offsets_count > 0)
          q[i].offset = pr->old_style_offsets[0];  /* ListOffsets v0 */
      }
    }
  }
  mk_arena_free(&a);
  return rc;
}

/* Ask every leader its share of the queries. */
static int list_offsets(struct mk_consumer *c, struct offset_query *q, int n, struct mk_err *err) {
  int32_t nodes[MK_CLIENT_MAX_NODES];
  int nnodes = 0;
  for (int i = 0; i < n; i++) {
    bool seen = q[i].leader < 0;
    for (int k = 0; k < nnodes && !seen; k++) seen = nodes[k] == q[i].leader;
    if (!seen && nnodes < MK_CLIENT_MAX_NODES) nodes[nnodes++] = q[i].leader;
  }
  for (int k = 0; k < nnodes; k++) {
    int rc = list_offsets_on_node(c, nodes[k], q, n, err);
    if (rc) return rc;
  }
  return 0;
}

int mk_fetcher_reset_offsets(struct mk_consumer *c, struct mk_err *err) {
  int n = 0;
  struct offset_query *q = calloc((size_t)(c->subs.nparts ? c->subs.nparts : 1), sizeof *q);
  if (!q) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < c->subs.nparts; i++) {
    const struct mk_partition_state *p = &c->subs.parts[i];
    if (p->state == MK_AWAIT_RESET && p->leader >= 0)
      q[n++] = (struct offset_query){p->topic, p->partition, p->leader, p->reset_to};
  }
  int rc = list_offsets(c, q, n, err);
  for (int i = 0; !rc && i < n; i++) {
    struct mk_partition_state *p = mk_subscription_find(&c->subs, q[i].topic, q[i].partition);
    if (!p || p->state != MK_AWAIT_RESET || !q[i].answered) continue;
    if (!q[i].error) {
      mk_subscription_seek(p, q[i].offset);
    } else if (q[i].error == MK_ERR_TOPIC_AUTHORIZATION_FAILED) {
      rc = mk_err_set(err, q[i].error, "ListOffsets %s-%d: %s", p->topic, p->partition,
                      mk_err_name(q[i].error));
    } else {
      /* Java's OffsetFetcher gives up only on an authorization failure: a stale leader, and
       * any error it did not expect (UNKNOWN_SERVER_ERROR included), are logged and the
       * partition asked again after a metadata refresh. */
      mk_consumer_warn(c, "ListOffsets %s-%d: %s%s", p->topic, p->partition,
                       mk_err_name(q[i].error),
                       stale_metadata(q[i].error) || mk_err_retriable(q[i].error)
                           ? "" : " (unexpected: asking again)");
      c->need_metadata = true;
    }
  }
  free(q);
  return rc;
}

int mk_fetcher_list_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                            int64_t timestamp, int64_t *offsets, struct mk_err *err) {
  struct offset_query *q = calloc((size_t)(n ? n : 1), sizeof *q);
  if (!q) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < n; i++) {
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, parts[i].topic);
    int32_t leader = tm && parts[i].partition >= 0 && parts[i].partition < tm->npartitions
                         ? tm->leaders[parts[i].partition]
                         : -1;
    q[i] = (struct offset_query){parts[i].topic, parts[i].partition, leader, timestamp};
  }
  int rc = list_offsets(c, q, n, err);
  for (int i = 0; !rc && i < n; i++) {
    if (q[i].answered && !q[i].error) {
      offsets[i] = q[i].offset;
      continue;
    }
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, parts[i].topic);
    int code = q[i].answered ? q[i].error
               : tm && tm->error ? tm->error
               : q[i].leader < 0 ? MK_ERR_LEADER_NOT_AVAILABLE
                                 : MK_ERR__TRANSPORT;
    rc = mk_err_set(err, code, "ListOffsets %s-%d: %s", parts[i].topic, parts[i].partition,
                    mk_err_name(code));
  }
  free(q);
  return rc;
}

/* ---- the buffer ---------------------------------------------------------------------------- */

void mk_fetcher_clear(struct mk_consumer *c) {
  struct mk_fetch_buffer *f = &c->fetch;
  for (int i = 0; i < f->nowned; i++) free(f->owned[i]);
  free(f->owned);
  free(f->records);
  free(f->fetches);
  mk_arena_free(&f->arena);
  *f = (struct mk_fetch_buffer){0};
  mk_arena_init(&f->arena);
}

bool mk_fetcher_has_buffered(const struct mk_consumer *c) {
  return c->fetch.next_fetch < c->fetch.nfetches;
}

static int grow(void **v, int *cap, int need, size_t elem) {
  if (need <= *cap) return 0;
  int n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *p = realloc(*v, elem * (size_t)n);
  if (!p) return MK_ERR__NO_MEMORY;
  *v = p;
  *cap = n;
  return 0;
}

/* ---- reading one partition's bytes --------------------------------------------------------- */

/* Aborted transactions of one fetched partition (FetchResponse.aborted_transactions), in
 * first_offset order, and the producers whose open transaction we are inside. */
struct aborted {
  struct mk_fetch_aborted_transaction *txns;
  int32_t ntxns, next;
  int64_t *pids;
  int32_t npids;
};

static int cmp_txn(const void *a, const void *b) {
  const struct mk_fetch_aborted_transaction *x = a, *y = b;
  return (x->first_offset > y->first_offset) - (x->first_offset < y->first_offset);
}

static bool aborted_has(const struct aborted *ab, int64_t pid) {
  for (int32_t i = 0; i < ab->npids; i++)
    if (ab->pids[i] == pid) return true;
  return false;
}

/* CompletedFetch.consumeAbortedTransactionsUpTo: transactions starting at or before
 * `offset` are now open-and-aborted for their producer. */
static void aborted_up_to(struct aborted *ab, int64_t offset) {
  while (ab->next < ab->ntxns && ab->txns[ab->next].first_offset <= offset) {
    int64_t pid = ab->txns[ab->next++].producer_id;
    if (!aborted_has(ab, pid)) ab->pids[ab->npids++] = pid;
  }
}

static void aborted_remove(struct aborted *ab, int64_t pid) {
  for (int32_t i = 0; i < ab->npids; i++)
    if (ab->pids[i] == pid) ab->pids[i] = ab->pids[--ab->npids];
}

/* Whether this control batch holds an ABORT marker. */
static bool is_abort_marker(const struct mk_record_batch *b) {
  struct mk_record_reader rr;
  struct mk_record rec;
  struct mk_err err = {0};
  enum mk_control_type type = MK_CONTROL_COMMIT;
  int32_t epoch;
  if (mk_record_reader_init(&rr, b, MAX_DECOMPRESSED, &err)) return false;
  bool abort = !mk_record_reader_next(&rr, &rec, &err) &&
               !mk_control_record_parse(&rec, &type, &epoch, &err) && type == MK_CONTROL_ABORT;
  mk_record_reader_free(&rr);
  return abort;
}

/* The records of batch b at or above *pos into the buffer; *pos moves past each. */
static int read_batch(struct mk_consumer *c, const char *topic, int32_t partition,
                      const struct mk_record_batch *b, int64_t *pos, struct mk_err *err) {
  struct mk_fetch_buffer *f = &c->fetch;
  if (c->cfg->check_crcs && mk_record_batch_compute_crc(b) != b->crc)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "record batch at offset %lld: CRC is 0x%08x, computed 0x%08x",
                      (long long)b->base_offset, b->crc, mk_record_batch_compute_crc(b));
  struct mk_record_reader rr;
  int rc = mk_record_reader_init(&rr, b, MAX_DECOMPRESSED, err);
  if (rc) return rc;
  bool log_append = b->attributes & MK_ATTR_LOG_APPEND_TIME;
  struct mk_record rec;
  int first = f->nrecords;
  while ((rc = mk_record_reader_next(&rr, &rec, err)) == 0) {
    int64_t offset = b->base_offset + rec.offset_delta;
    if (offset < *pos) continue;  /* before where we start */
    if (grow((void **)&f->records, &f->records_cap, f->nrecords + 1, sizeof *f->records)) {
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading records");
      break;
    }
    f->records[f->nrecords++] = (struct mk_consumer_record){
        .topic = topic,
        .partition = partition,
        .offset = offset,
        .timestamp = log_append ? b->max_timestamp : b->base_timestamp + rec.timestamp_delta,
        .log_append_time = log_append,
        .leader_epoch = b->partition_leader_epoch,
        .record = rec,
    };
    *pos = offset + 1;
  }
  if (rc == MK_ERR__STATE) rc = 0;  /* every record was read */
  if (rc) f->nrecords = first;      /* all of the batch or none of it */
  /* The records point into the decompressed copy: keep it until the buffer is cleared. */
  if (!rc && rr.owned && f->nrecords > first) {
    if (grow((void **)&f->owned, &f->owned_cap, f->nowned + 1, sizeof *f->owned)) {
      f->nrecords = first;
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading records");
    } else {
      f->owned[f->nowned++] = rr.owned;
      rr.owned = NULL;
    }
  }
  mk_record_reader_free(&rr);
  return rc;
}

/* CompletedFetch for one partition: its batches into records, then one entry in the
 * buffer. Returns 0 or a fatal error. */
static int read_partition(struct mk_consumer *c, struct mk_partition_state *p, const char *topic,
                          const struct mk_fetch_partition_data *pd, struct mk_err *err) {
  struct mk_fetch_buffer *f = &c->fetch;
  bool read_committed = c->cfg->isolation_level == 1;
  struct aborted ab = {0};
  int rc = 0;
  if (read_committed && pd->aborted_transactions_count > 0) {
    int32_t n = pd->aborted_transactions_count;
    ab.txns = malloc(sizeof *ab.txns * (size_t)n);
    ab.pids = malloc(sizeof *ab.pids * (size_t)n);
    if (!ab.txns || !ab.pids) {
      free(ab.txns);
      free(ab.pids);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    }
    memcpy(ab.txns, pd->aborted_transactions, sizeof *ab.txns * (size_t)n);
    if (n > 1) qsort(ab.txns, (size_t)n, sizeof *ab.txns, cmp_txn);
    ab.ntxns = n;
  }
  int first = f->nrecords;
  int64_t pos = p->position;
  const uint8_t *buf = pd->records.ptr;
  size_t len = pd->records.len > 0 ? (size_t)pd->records.len : 0, at = 0;
  while (at < len) {
    /* A fetch may end inside a batch (the broker stops at max bytes): not an error, the
     * rest comes with the next fetch. A batch_length too small to be one is corrupt, and
     * mk_record_batch_parse says how. */
    int32_t batch_length = len - at >= MK_RECORD_BATCH_HEADER_SIZE
                               ? (int32_t)mk_load_u32(buf + at + MK_RECORD_BATCH_LENGTH_OFFSET)
                               : -1;
    if (batch_length < 0 || (batch_length >= MK_RECORD_BATCH_HEADER_SIZE - 12 &&
                             12 + (size_t)batch_length > len - at)) {
      if (at == 0)  /* nothing usable at all: we would ask for the same bytes forever */
        mk_consumer_warn(c, "fetch of %s-%d at offset %lld returned only part of a batch (%zu "
                         "bytes); is max.partition.fetch.bytes too small?", topic, p->partition,
                         (long long)p->position, len);
      break;
    }
    struct mk_record_batch b;
    if ((rc = mk_record_batch_parse(buf + at, len - at, &b, err))) break;
    at += b.size;
    /* Offsets come from the broker: ones no log can hold (negative, or past the largest
     * offset) are a corrupt answer, not arithmetic to trust. */
    if (b.base_offset < 0 || b.last_offset_delta < 0 ||
        b.base_offset > INT64_MAX - 1 - b.last_offset_delta) {
      rc = mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "a batch claims offsets %lld + %d, which no log holds",
                      (long long)b.base_offset, b.last_offset_delta);
      break;
    }
    int64_t next = b.base_offset + b.last_offset_delta + 1;
    bool control = b.attributes & MK_ATTR_CONTROL, aborted = false;
    /* Transaction bookkeeping sees every batch, even those before our position, so a
     * marker we do not return still closes its transaction. */
    if (read_committed && b.producer_id >= 0) {
      aborted_up_to(&ab, next - 1);
      if (control && is_abort_marker(&b))
        aborted_remove(&ab, b.producer_id);
      else if ((b.attributes & MK_ATTR_TRANSACTIONAL) && aborted_has(&ab, b.producer_id))
        aborted = true;
    }
    if (next <= pos) continue;  /* the whole batch is before where we start */
    if (!control && !aborted) {
      rc = read_batch(c, topic, p->partition, &b, &pos, err);
      if (rc && c->skip_corrupt && rc != MK_ERR__NO_MEMORY) {
        mk_consumer_warn(c, "skipping a batch of %s-%d: %s", topic, p->partition, err->msg);
        rc = 0;
      }
      if (rc) break;
    }
    /* Past the batch: markers, aborted batches, records compacted away. */
    if (pos < next) pos = next;
  }
  free(ab.txns);
  free(ab.pids);
  if (rc) {
    f->nrecords = first;
    return mk_err_set(err, rc, "%s-%d at offset %lld: %s", topic, p->partition,
                      (long long)p->position, err->msg);
  }
  if (grow((void **)&f->fetches, &f->fetches_cap, f->nfetches + 1, sizeof *f->fetches)) {
    f->nrecords = first;
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  f->fetches[f->nfetches++] = (struct mk_completed_fetch){
      .topic = (char *)topic,
      .partition = p->partition,
      .expected_position = p->position,
      .first = first,
      .end = f->nrecords,
      .next = first,
      .next_fetch_offset = pos,
  };
  return 0;
}

int mk_fetcher_take_partition(struct mk_consumer *c, const char *topic, int32_t node,
                              const struct mk_fetch_partition_data *pd, struct mk_err *err) {
  struct mk_partition_state *p = mk_subscription_find(&c->subs, topic, pd->partition_index);
  if (!p || p->state != MK_FETCHING) return 0;
  int code = pd->error_code;
  if (code == MK_ERR_NONE) {
    p->high_watermark = pd->high_watermark;
    return read_partition(c, p, topic, pd, err);
  }
  if (code == MK_ERR_OFFSET_OUT_OF_RANGE) {
    int reset = c->cfg->auto_offset_reset;
    if (reset == MK_OFFSET_RESET_NONE)
      return mk_err_set(err, MK_ERR_OFFSET_OUT_OF_RANGE,
                        "Fetch position %lld is out of range for partition %s-%d, and "
                        "auto.offset.reset is none", (long long)p->position, topic, p->partition);
    mk_consumer_warn(c, "Fetch position %lld is out of range for partition %s-%d, resetting "
                     "offset (auto.offset.reset=%s)", (long long)p->position, topic,
                     p->partition, reset == MK_OFFSET_RESET_EARLIEST ? "earliest" : "latest");
    mk_subscription_request_reset(p, reset == MK_OFFSET_RESET_EARLIEST ? MK_OFFSET_EARLIEST
                                                                       : MK_OFFSET_LATEST);
    return 0;
  }
  if (stale_metadata(code)) {
    mk_consumer_warn(c, "fetch %s-%d from node %d: %s; refreshing metadata", topic, p->partition,
                     node, mk_err_name(code));
    c->need_metadata = true;
    return 0;
  }
  if (mk_err_retriable(code)) return 0;
  return mk_err_set(err, code, "fetch %s-%d: %s", topic, p->partition, mk_err_name(code));
}

/* ---- Fetch ----------------------------------------------------------------------------------- */

/* Build the Fetch request for node: every FETCHING partition it leads, by topic. */
static int build_fetch(struct mk_consumer *c, int32_t node, int version, int64_t max_wait_ms,
                       struct mk_fetch_request *req, struct mk_arena *a) {
  const struct mk_consumer_config *cfg = c->cfg;
  int n = c->subs.nparts;
  mk_schema_set_defaults(&mk_fetch_request_schema, req);
  req->replica_id = -1;
  req->max_wait_ms = (int32_t)max_wait_ms;
  req->min_bytes = cfg->fetch_min_bytes;
  req->max_bytes = cfg->fetch_max_bytes;
  req->isolation_level = (int8_t)cfg->isolation_level;
  req->session_id = 0;  /* no fetch session: every request names all its partitions */
  req->session_epoch = -1;
  req->topics = mk_arena_alloc(a, sizeof *req->topics * (size_t)(n ? n : 1));
  if (!req->topics) return MK_ERR__NO_MEMORY;
  for (int i = 0; i < n; i++) {
    const struct mk_partition_state *p = &c->subs.parts[i];
    if (p->state != MK_FETCHING || p->leader != node) continue;
    struct mk_fetch_topic *t = req->topics_count ? &req->topics[req->topics_count - 1] : NULL;
    if (!t || !mk_str_eq(t->topic, p->topic)) {
      const struct mk_topic_metadata *tm = mk_consumer_topic(c, p->topic);
      t = &req->topics[req->topics_count++];
      mk_schema_set_defaults(&mk_fetch_topic_schema, t);
      t->topic = mk_str_of(p->topic);
      if (tm) t->topic_id = tm->id;
      t->partitions = mk_arena_alloc(a, sizeof *t->partitions * (size_t)n);
      if (!t->partitions) return MK_ERR__NO_MEMORY;
    }
    struct mk_fetch_partition *fp = &t->partitions[t->partitions_count++];
    mk_schema_set_defaults(&mk_fetch_partition_schema, fp);
    fp->partition = p->partition;
    fp->current_leader_epoch = -1;
    fp->fetch_offset = p->position;
    fp->last_fetched_epoch = -1;
    fp->log_start_offset = -1;
    fp->partition_max_bytes = cfg->max_partition_fetch_bytes;
  }
  /* v13+ names topics by id: without an id for each, speak v12. */
  static const struct mk_uuid zero;
  for (int32_t t = 0; version >= 13 && t < req->topics_count; t++)
    if (memcmp(req->topics[t].topic_id.b, zero.b, sizeof zero.b) == 0) return 12;
  return version;
}

int mk_fetcher_fetch(struct mk_consumer *c, int64_t max_wait_ms, bool *sent, struct mk_err *err) {
  int32_t nodes[MK_CLIENT_MAX_NODES];
  int nnodes = leaders(c, MK_FETCHING, nodes);
  struct {
    struct mk_client_conn *conn;
    struct mk_client_pending pending;
    bool sent;
  } inflight[MK_CLIENT_MAX_NODES];
  struct mk_fetch_buffer *f = &c->fetch;
  struct mk_arena req_arena;
  mk_arena_init(&req_arena);
  int rc = 0;
  *sent = false;
  /* The answer may be held up to max_wait_ms before its transfer starts. */
  int saved_timeout = c->client.timeout_ms;
  c->client.timeout_ms = c->cfg->request_timeout_ms + (int)max_wait_ms;
  for (int k = 0; k < nnodes && !rc; k++) {
    struct mk_err e = {0};
    inflight[k].sent = false;
    inflight[k].conn = mk_client_node(&c->client, nodes[k], &e);
    if (!inflight[k].conn) {
      c->need_metadata = true;
      continue;
    }
    int version = mk_client_version(inflight[k].conn, MK_API_FETCH, &e);
    if (version < 0) {
      if (e.code == MK_ERR_UNSUPPORTED_VERSION || e.code == MK_ERR__STATE) {
        rc = mk_err_set(err, e.code, "%s", e.msg);
        break;
      }
      mk_consumer_warn(c, "fetch from node %d: %s", nodes[k], e.msg);
      c->need_metadata = true;
      continue;
    }
    struct mk_fetch_request req;
    version = build_fetch(c, nodes[k], version, max_wait_ms, &req, &req_arena);
    if (version == MK_ERR__NO_MEMORY) {
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      break;
    }
    int src = mk_client_send(inflight[k].conn, MK_API_FETCH, version, &req, &inflight[k].pending,
                             &e);
    if (src == MK_ERR__STATE) {
      rc = mk_err_set(err, src, "%s", e.msg);
      break;
    }
    if (src) {
      mk_consumer_warn(c, "fetch from node %d: %s", nodes[k], e.msg);
      c->need_metadata = true;
      continue;
    }
    inflight[k].sent = *sent = true;
  }
  for (int k = 0; k < nnodes; k++) {
    if (!inflight[k].sent) continue;
    if (rc) {  /* the stream is mid-answer: close rather than leave it out of step */
      mk_client_conn_close(inflight[k].conn);
      continue;
    }
    struct mk_err e = {0};
    struct mk_fetch_response *resp = NULL;
    int rrc = mk_client_receive(inflight[k].conn, &inflight[k].pending, (void **)&resp,
                                &f->arena, &e);
    if (rrc == MK_ERR__STATE) {
      rc = mk_err_set(err, rrc, "%s", e.msg);
      continue;
    }
    if (rrc) {
      mk_consumer_warn(c, "fetch from node %d: %s", nodes[k], e.msg);
      c->need_metadata = true;
      continue;
    }
    if (resp->error_code) {
      if (!mk_err_retriable(resp->error_code))
        rc = mk_err_set(err, resp->error_code, "fetch from node %d: %s", nodes[k],
                        mk_err_name(resp->error_code));
      else
        mk_consumer_warn(c, "fetch from node %d: %s", nodes[k], mk_err_name(resp->error_code));
      continue;
    }
    bool by_id = inflight[k].pending.api_version >= 13;
    for (int32_t t = 0; t < resp->responses_count && !rc; t++) {
      const struct mk_fetch_fetchable_topic_response *tr = &resp->responses[t];
      const char *topic = NULL;
      if (by_id) {
        for (int i = 0; i < c->ntopics && !topic; i++)
          if (memcmp(c->topics[i].id.b, tr->topic_id.b, sizeof tr->topic_id.b) == 0)
            topic = arena_strndup(&f->arena, c->topics[i].name, strlen(c->topics[i].name));
      } else if (tr->topic.len > 0) {
        topic = arena_strndup(&f->arena, tr->topic.ptr, (size_t)tr->topic.len);
      }
      if (!topic) continue;
      for (int32_t j = 0; j < tr->partitions_count && !rc; j++)
        rc = mk_fetcher_take_partition(c, topic, nodes[k], &tr->partitions[j], err);
    }
  }
  c->client.timeout_ms = saved_timeout;
  mk_arena_free(&req_arena);
  return rc;
}

/* ---- collect: records out, positions forward --------------------------------------------- */

int mk_fetcher_collect(struct mk_consumer *c, struct mk_consumer_record *out, int max) {
  struct mk_fetch_buffer *f = &c->fetch;
  int n = 0;
  while (f->next_fetch < f->nfetches && n < max) {
    struct mk_completed_fetch *cf = &f->fetches[f->next_fetch];
    struct mk_partition_state *p = mk_subscription_find(&c->subs, cf->topic, cf->partition);
    /* Still ours, and not moved by a seek or a reset since the fetch? Else stale. */
    if (!p || p->state != MK_FETCHING || p->position != cf->expected_position) {
      f->next_fetch++;
      continue;
    }
    while (cf->next < cf->end && n < max) {
      out[n] = f->records[cf->next++];
      p->position = out[n].offset + 1;
      n++;
    }
    if (cf->next == cf->end) {
      if (p->position < cf->next_fetch_offset) p->position = cf->next_fetch_offset;
      f->next_fetch++;
    }
    cf->expected_position = p->position;
  }
  return n;
}
