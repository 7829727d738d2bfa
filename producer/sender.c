/*
 * Sender: see sender.h.
 */
#include "producer/sender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/trace.h"
#include "producer/client_utils.h"
#include "producer/network_client.h"
#include "producer/producer_internal.h"
#include "producer/transaction_manager.h"
#include "producer/txn_request_handler.h"
#include "protocol/api.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"

enum { MAX_READY = 64, MAX_DRAIN = 512, MAX_NODE_STATES = 96, IDLE_WAKE_MS = 1000 };

/* What the Sender remembers per broker (and per bootstrap address, with negative ids). */
struct node_state {
  int32_t id;
  int64_t throttle_until_ms;   /* a response said throttle_time_ms: send nothing before */
  int64_t reconnect_at_ms;     /* reconnect.backoff.ms after a failed connection */
  int failures;
};

struct mk_sender {
  struct mk_producer *p;
  const struct mk_producer_config *cfg;
  struct mk_accumulator *acc;
  struct mk_producer_metadata *md;
  struct mk_transaction_manager *tm;  /* the producer's (shared with the app threads) */
  bool txn;                           /* transactional.id set */
  bool txn_close_failed;              /* closing could not abort the open transaction */
  struct mk_network_client *nc;
  uv_loop_t loop;
  uv_async_t wakeup;
  uv_timer_t timer;
  uv_thread_t thread;
  bool in_run_once, run_again;
  bool metadata_in_flight;
  int64_t metadata_retry_at_ms;
  int64_t producer_id_retry_at_ms;
  struct node_state nodes[MAX_NODE_STATES];
  int nnodes;
  int next_bootstrap;
  uint64_t rng;
  /* Set by mk_sender_close (under ctl_lock), read by the loop. */
  uv_mutex_t ctl_lock;
  bool closing;
  int64_t close_deadline_ms;   /* -1: no limit */
  bool forced;                 /* the deadline passed: remaining records were failed */
  bool stopped;
};

/* One Produce request in flight, and the batches it carries. */
struct produce_ctx {
  struct mk_sender *s;
  int32_t node;
  int16_t acks;
  int64_t sent_ms;
  int n;
  struct mk_producer_batch *batches[];
};

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static void run_once(struct mk_sender *s);

static struct node_state *node_state(struct mk_sender *s, int32_t id) {
  for (int i = 0; i < s->nnodes; i++)
    if (s->nodes[i].id == id) return &s->nodes[i];
  if (s->nnodes == MAX_NODE_STATES) return &s->nodes[0];
  s->nodes[s->nnodes] = (struct node_state){.id = id};
  return &s->nodes[s->nnodes++];
}

static double random_unit(struct mk_sender *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return (double)(s->rng >> 11) / 9007199254740992.0;
}

/* Java's ExponentialBackoff(base, 2, max, jitter 0.2): base * 2^(n-1), capped, +-20%. */
static int64_t backoff_ms(struct mk_sender *s, int64_t base, int64_t max, int attempts) {
  double b = (double)base;
  for (int i = 1; i < attempts && b < (double)max; i++) b *= 2;
  if (b > (double)max) b = (double)max;
  b *= 0.8 + 0.4 * random_unit(s);
  if (b > (double)max) b = (double)max;
  return (int64_t)b;
}

static void wake_at(int64_t *next, int64_t in_ms) {
  if (in_ms < 0) return;
  if (*next < 0 || in_ms < *next) *next = in_ms;
}

/* ---- connections ----------------------------------------------------------------------- */

/* Connect to node at host:port, unless already connecting or backing off after failures. */
static void connect_to(struct mk_sender *s, int32_t node, const char *host, int port, int64_t now) {
  if (mk_network_client_connecting_or_connected(s->nc, node)) return;
  struct node_state *ns = node_state(s, node);
  if (now < ns->reconnect_at_ms) return;
  /* A connection that fails is retried after reconnect.backoff.ms, doubling to the max. */
  ns->reconnect_at_ms = now + backoff_ms(s, s->cfg->reconnect_backoff_ms,
                                         s->cfg->reconnect_backoff_max_ms, ++ns->failures);
  mk_network_client_connect(s->nc, node, host, port);
}

/* Connect to node (a broker from metadata, or a bootstrap address for ids < 0). */
static void connect_node(struct mk_sender *s, int32_t node, int64_t now) {
  char host[256];
  int port;
  if (node >= 0) {
    if (!mk_producer_metadata_node(s->md, node, host, sizeof host, &port)) return;
  } else {
    if (mk_client_split_host_port(s->cfg->bootstrap_servers[-node - 1], host, sizeof host,
                                  &port))
      return;
  }
  connect_to(s, node, host, port, now);
}

/* A node to ask for metadata or a producer id: the least loaded ready one, else start
 * connecting to a known broker or, with none known, the next bootstrap address. */
static int32_t any_ready_node(struct mk_sender *s, int64_t now) {
  int32_t node = mk_network_client_least_loaded(s->nc);
  if (node != INT32_MIN) return node;
  int32_t ids[64];
  int n = mk_producer_metadata_nodes(s->md, ids, 64);
  if (n > 0) {
    for (int i = 0; i < n; i++) connect_node(s, ids[(s->next_bootstrap + i) % n], now);
  } else {
    int nb = s->cfg->num_bootstrap_servers;
    for (int i = 0; i < nb; i++) connect_node(s, -1 - ((s->next_bootstrap + i) % nb), now);
  }
  s->next_bootstrap++;
  return INT32_MIN;
}

static void on_disconnect(void *arg, int32_t node) {
  struct mk_sender *s = arg;
  mk_producer_metadata_request_update(s->md);  /* the disconnect may mean stale metadata */
  /* A coordinator that went away may have moved: ask again before the next request to it. */
  if (s->txn) mk_transaction_manager_forget_coordinator(s->tm, node);
}

static void on_network_event(void *arg) {
  struct mk_sender *s = arg;
  if (!s->stopped) run_once(s);
}

/* ---- metadata and producer id ---------------------------------------------------------- */

static void on_metadata(void *opaque, int32_t node, int version, void *body, int rc,
                        const struct mk_err *err) {
  (void)node;
  (void)version;
  struct mk_sender *s = opaque;
  s->metadata_in_flight = false;
  int64_t now = now_ms();
  if (rc) {
    mk_log(MK_LOG_DEBUG, "producer", "metadata request failed: %s", err->msg);
    s->metadata_retry_at_ms = now + s->cfg->retry_backoff_ms;
    return;
  }
  mk_producer_metadata_update(s->md, body, now);
  for (int i = 0; i < s->nnodes; i++) s->nodes[i].failures = 0;
}

static void maybe_update_metadata(struct mk_sender *s, int64_t now, int64_t *next) {
  if (s->metadata_in_flight) return;
  if (now < s->metadata_retry_at_ms) {
    wake_at(next, s->metadata_retry_at_ms - now);
    return;
  }
  if (!mk_producer_metadata_needs_update(s->md, now)) return;
  int32_t node = any_ready_node(s, now);
  if (node == INT32_MIN) {
    wake_at(next, s->cfg->reconnect_backoff_ms);
    return;
  }
  const char **names = NULL;
  int n = mk_producer_metadata_topics(s->md, &names);
  struct mk_metadata_request_topic *topics = calloc((size_t)(n ? n : 1), sizeof *topics);
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  for (int i = 0; topics && i < n; i++) {
    mk_schema_set_defaults(&mk_metadata_request_topic_schema, &topics[i]);
    topics[i].name = mk_str_of(names[i]);
  }
  req.topics = topics;
  req.topics_count = topics ? n : 0;
  req.allow_auto_topic_creation = true;  /* as Java's producer asks */
  struct mk_err err = {0};
  if (mk_network_client_send(s->nc, node, MK_API_METADATA, &req, true, on_metadata, s, NULL, &err) == 0)
    s->metadata_in_flight = true;
  else
    s->metadata_retry_at_ms = now + s->cfg->retry_backoff_ms;
  free(topics);
  free(names);
}

static void on_init_producer_id(void *opaque, int32_t node, int version, void *body, int rc,
                                const struct mk_err *err) {
  (void)node;
  (void)version;
  struct mk_sender *s = opaque;
  int64_t now = now_ms();
  s->tm->requesting = false;
  const struct mk_init_producer_id_response *r = body;
  int code = rc ? rc : r->error_code;
  if (!code) {
    mk_transaction_manager_set_producer_id(s->tm, s->acc, r->producer_id, r->producer_epoch);
    mk_log(MK_LOG_DEBUG, "producer", "producer id %lld, epoch %d", (long long)r->producer_id,
           r->producer_epoch);
    return;
  }
  uv_mutex_lock(&s->ctl_lock);
  bool closing = s->closing;
  uv_mutex_unlock(&s->ctl_lock);
  if (closing) return;  /* close() fails whatever still waits, with its own error */
  s->producer_id_retry_at_ms = now + s->cfg->retry_backoff_ms;
  if (!mk_err_retriable(code) && code != MK_ERR_NETWORK_EXCEPTION && code != MK_ERR__DECODE) {
    /* Nothing idempotent can be sent without a producer id: fail what waits (Java's
     * producer would raise this fatal error from every send). */
    struct mk_err fatal;
    mk_err_set(&fatal, code, "InitProducerId failed: %s%s%s", mk_err_name(code),
               rc ? ": " : "", rc ? err->msg : "");
    mk_log(MK_LOG_ERROR, "producer", "%s", fatal.msg);
    mk_accumulator_abort_undrained(s->acc, &fatal);
    s->producer_id_retry_at_ms = now + s->cfg->retry_backoff_max_ms;
  }
}

/* The idempotent producer's InitProducerId (a transactional one asks its coordinator, through
 * the TransactionManager's queue: maybe_send_transactional_request). */
static void maybe_init_producer_id(struct mk_sender *s, int64_t now, int64_t *next) {
  if (!s->tm->need_producer_id || s->tm->requesting) return;
  if (now < s->producer_id_retry_at_ms) {
    wake_at(next, s->producer_id_retry_at_ms - now);
    return;
  }
  int32_t node = any_ready_node(s, now);
  if (node == INT32_MIN) {
    wake_at(next, s->cfg->reconnect_backoff_ms);
    return;
  }
  struct mk_init_producer_id_request req;
  mk_schema_set_defaults(&mk_init_producer_id_request_schema, &req);
  req.transactional_id = MK_STR_NULL;
  req.transaction_timeout_ms = s->cfg->transaction_timeout_ms;
  struct mk_err err = {0};
  if (mk_network_client_send(s->nc, node, MK_API_INIT_PRODUCER_ID, &req, true,
                             on_init_producer_id, s, NULL, &err) == 0)
    s->tm->requesting = true;
  else
    s->producer_id_retry_at_ms = now + s->cfg->retry_backoff_ms;
}

/* ---- completing batches ---------------------------------------------------------------- */

static void trace_retry(const struct mk_sender *s, const struct mk_producer_batch *b,
                        int16_t error, int64_t backoff) {
  struct mk_trace_event ev;
  mk_producer_trace_begin(&ev, s->cfg, "retry");
  mk_trace_str(&ev, "topic", b->topic);
  mk_trace_int(&ev, "partition", b->partition);
  mk_trace_int(&ev, "batch_id", b->id);
  mk_trace_str(&ev, "error", mk_err_name(error));
  mk_trace_int(&ev, "attempt", b->attempts);
  mk_trace_int(&ev, "backoff_ms", backoff);
  mk_trace_int(&ev, "base_sequence", b->base_sequence);
  mk_trace_end(&ev);
}

static void succeed(struct mk_sender *s, struct mk_producer_batch *b, int64_t base_offset,
                    int64_t log_append_time) {
  if (s->tm->idempotent) mk_transaction_manager_acked(mk_accumulator_partition_state(s->acc, b), b);
  mk_producer_batch_done(b, base_offset, log_append_time, NULL);
  mk_accumulator_deallocate(s->acc, b);
}

static bool leader_moved(int code) {
  return code == MK_ERR_NOT_LEADER_OR_FOLLOWER || code == MK_ERR_LEADER_NOT_AVAILABLE ||
         code == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION || code == MK_ERR_NETWORK_EXCEPTION ||
         code == MK_ERR_FENCED_LEADER_EPOCH || code == MK_ERR_UNKNOWN_LEADER_EPOCH ||
         code == MK_ERR_KAFKA_STORAGE_ERROR || code == MK_ERR_REQUEST_TIMED_OUT;
}

/* Complete b's records with err and free it. If it had a sequence, the broker's view of its
 * partition's sequences is now unknown (a gap, or a batch it may have written), so an
 * idempotent producer needs a new id. In a transaction, the transaction can no longer
 * commit: it becomes abortable (or, PRODUCER_FENCED, the producer is done: fatal). */
static void fail_batch(struct mk_sender *s, struct mk_producer_batch *b, const struct mk_err *err) {
  if (s->txn) mk_transaction_manager_error(s->tm, err);
  else if (s->tm->idempotent && b->base_sequence >= 0) s->tm->need_producer_id = true;
  mk_accumulator_fail_batch(s->acc, b, err);
}

/* Java's Sender.completeBatch for an error: retry (canRetry) or fail the batch. */
static void fail_or_retry(struct mk_sender *s, struct mk_producer_batch *b, int code,
                          const char *why, int64_t now) {
  const struct mk_producer_config *cfg = s->cfg;
  bool retry = mk_err_retriable(code);
  const char *stop = NULL;
  if (s->tm->idempotent &&
      (code == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER || code == MK_ERR_UNKNOWN_PRODUCER_ID)) {
    enum mk_sequence_verdict v = mk_transaction_manager_sequence_error(
        s->tm, mk_accumulator_partition_state(s->acc, b), b, (int16_t)code);
    if (v == MK_SEQUENCE_WRITTEN) {
      succeed(s, b, -1, -1);
      return;
    }
    retry = v == MK_SEQUENCE_RETRY;
  }
  if (retry && s->forced) {
    retry = false;
    stop = "the producer was closed";
  } else if (retry && now - b->created_ms >= cfg->delivery_timeout_ms) {
    retry = false;
    stop = "delivery.timeout.ms expired";
  } else if (retry && b->attempts > cfg->retries) {
    retry = false;
    stop = "retries exhausted";
  }
  if (leader_moved(code)) mk_producer_metadata_request_update(s->md);
  if (retry) {
    int64_t backoff = backoff_ms(s, cfg->retry_backoff_ms, cfg->retry_backoff_max_ms, b->attempts);
    mk_log(MK_LOG_DEBUG, "producer", "retrying %s-%d (attempt %d) after %s in %lld ms", b->topic,
           b->partition, b->attempts, mk_err_name(code), (long long)backoff);
    if (mk_trace_on()) trace_retry(s, b, (int16_t)code, backoff);
    mk_metrics_record_topic(&s->p->metrics, MK_M_RECORD_RETRY, b->topic, b->record_count);
    mk_accumulator_reenqueue(s->acc, b, now, backoff);
    return;
  }
  struct mk_err err;
  mk_err_set(&err, code, "%d record(s) for %s-%d failed after %d attempt(s)%s%s%s%s",
             b->record_count, b->topic, b->partition, b->attempts,
             why && *why ? ": " : "", why ? why : "", stop ? "; " : "", stop ? stop : "");
  fail_batch(s, b, &err);
}

static void on_produce(void *opaque, int32_t node, int version, void *body, int rc,
                       const struct mk_err *err) {
  struct produce_ctx *ctx = opaque;
  struct mk_sender *s = ctx->s;
  int64_t now = now_ms();
  const struct mk_produce_response *r = body;
  if (!rc && r) {
    mk_metrics_record(&s->p->metrics, MK_M_REQUEST_LATENCY, (double)(now - ctx->sent_ms));
    mk_metrics_record(&s->p->metrics, MK_M_THROTTLE_TIME, r->throttle_time_ms);
    /* The broker asks us to slow down: send it nothing for that long. From Produce v6 on
     * (KIP-219) that is the client's job; older brokers held the response back instead, so
     * the pause is already over (Java: AbstractResponse.shouldClientThrottle). */
    if (r->throttle_time_ms > 0 && version >= 6)
      node_state(s, node)->throttle_until_ms = now + r->throttle_time_ms;
  }
  if (mk_trace_on() && (rc || r)) {  /* acks=0 requests get no response */
    struct mk_trace_event ev;
    mk_producer_trace_begin(&ev, s->cfg, "response_received");
    mk_trace_int(&ev, "broker", node);
    mk_trace_int(&ev, "batches", ctx->n);
    mk_trace_int(&ev, "latency_ms", now - ctx->sent_ms);
    if (!rc && r->throttle_time_ms > 0) mk_trace_int(&ev, "throttle_time_ms", r->throttle_time_ms);
    if (rc) mk_trace_str(&ev, "error", err->msg);
    mk_trace_end(&ev);
  }
  for (int i = 0; i < ctx->n; i++) {
    struct mk_producer_batch *b = ctx->batches[i];
    if (rc) {
      fail_or_retry(s, b, rc, err->msg, now);
      continue;
    }
    if (!r) {  /* acks=0: written is all we will ever know */
      succeed(s, b, -1, -1);
      continue;
    }
    const struct mk_produce_partition_produce_response *pr = NULL;
    for (int t = 0; t < r->responses_count && !pr; t++) {
      if (!mk_str_eq(r->responses[t].name, b->topic)) continue;
      for (int j = 0; j < r->responses[t].partition_responses_count; j++)
        if (r->responses[t].partition_responses[j].index == b->partition)
          pr = &r->responses[t].partition_responses[j];
    }
    if (!pr) {
      fail_or_retry(s, b, MK_ERR_UNKNOWN_SERVER_ERROR, "the response did not mention the partition", now);
    } else if (pr->error_code == 0 || pr->error_code == MK_ERR_DUPLICATE_SEQUENCE_NUMBER) {
      succeed(s, b, pr->base_offset, pr->log_append_time_ms);  /* a duplicate is not a failure */
    } else {
      char why[200] = "";
      if (pr->error_message.len > 0)
        snprintf(why, sizeof why, "%.*s", pr->error_message.len, pr->error_message.ptr);
      fail_or_retry(s, b, pr->error_code, why, now);
    }
  }
  free(ctx);
}

/* ---- sending data ---------------------------------------------------------------------- */

/* request_sent: the batches a Produce request carries, with ids and sequences (all of
 * them: the event grows to the heap when they do not fit on the stack, trace.h). */
static void trace_request_sent(struct mk_sender *s, int32_t node, int32_t correlation_id,
                               const struct produce_ctx *ctx) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_producer_trace_begin(&ev, s->cfg, "request_sent");
  mk_trace_int(&ev, "broker", node);
  mk_trace_int(&ev, "correlation_id", correlation_id);
  mk_trace_int(&ev, "acks", s->cfg->acks);
  mk_trace_array_begin(&ev, "batches");
  for (int i = 0; i < ctx->n; i++) {
    const struct mk_producer_batch *b = ctx->batches[i];
    mk_trace_object_begin(&ev, NULL);
    mk_trace_str(&ev, "topic", b->topic);
    mk_trace_int(&ev, "partition", b->partition);
    mk_trace_int(&ev, "batch_id", b->id);
    mk_trace_int(&ev, "records", b->record_count);
    mk_trace_int(&ev, "producer_id", b->producer_id);
    mk_trace_int(&ev, "epoch", b->producer_epoch);
    mk_trace_int(&ev, "base_sequence", b->base_sequence);
    mk_trace_int(&ev, "attempt", b->attempts);
    mk_trace_object_end(&ev);
  }
  mk_trace_array_end(&ev);
  mk_trace_end(&ev);
}

static void send_produce(struct mk_sender *s, int32_t node, struct mk_producer_batch **batches,
                         int n, int64_t now) {
  struct produce_ctx *ctx = malloc(sizeof *ctx + sizeof *batches * (size_t)n);
  struct mk_produce_topic_produce_data *topics = calloc((size_t)n, sizeof *topics);
  struct mk_produce_partition_produce_data *parts = calloc((size_t)n, sizeof *parts);
  if (!ctx || !topics || !parts) {
    free(ctx);
    free(topics);
    free(parts);
    for (int i = 0; i < n; i++) fail_or_retry(s, batches[i], MK_ERR__NO_MEMORY, "out of memory", now);
    return;
  }
  ctx->s = s;
  ctx->node = node;
  ctx->acks = s->cfg->acks;
  ctx->sent_ms = now;
  ctx->n = n;
  /* Group by topic: drain takes partitions in an order that may interleave topics. */
  int ntopics = 0, records = 0;
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    struct mk_producer_batch *b = batches[i];
    ctx->batches[i] = b;
    b->attempts++;
    records += b->record_count;
    bytes += b->bytes_len;
    mk_metrics_record(&s->p->metrics, MK_M_BATCH_SIZE, (double)b->bytes_len);
    parts[i].index = b->partition;
    parts[i].records = (struct mk_bytes){b->bytes, (int32_t)b->bytes_len};
  }
  /* Partitions of one topic must be adjacent for partition_data to be a slice: sort the
   * batches by topic pointer (topic names are interned by the accumulator). */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && (uintptr_t)ctx->batches[j - 1]->topic > (uintptr_t)ctx->batches[j]->topic; j--) {
      struct mk_producer_batch *t = ctx->batches[j];
      ctx->batches[j] = ctx->batches[j - 1];
      ctx->batches[j - 1] = t;
      struct mk_produce_partition_produce_data pt = parts[j];
      parts[j] = parts[j - 1];
      parts[j - 1] = pt;
    }
  for (int i = 0; i < n; i++) {
    if (i == 0 || ctx->batches[i]->topic != ctx->batches[i - 1]->topic) {
      topics[ntopics].name = mk_str_of(ctx->batches[i]->topic);
      topics[ntopics].partition_data = &parts[i];
      ntopics++;
    }
    topics[ntopics - 1].partition_data_count++;
  }
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  if (s->txn) req.transactional_id = mk_str_of(s->cfg->transactional_id);
  req.acks = s->cfg->acks;
  req.timeout_ms = s->cfg->request_timeout_ms;
  req.topic_data = topics;
  req.topic_data_count = ntopics;
  struct mk_err err = {0};
  trace_request_sent(s, node, mk_network_client_next_correlation_id(s->nc), ctx);
  int rc = mk_network_client_send(s->nc, node, MK_API_PRODUCE, &req, s->cfg->acks != 0,
                                  on_produce, ctx, NULL, &err);
  free(topics);
  free(parts);
  if (rc) {
    for (int i = 0; i < n; i++) fail_or_retry(s, ctx->batches[i], err.code, err.msg, now);
    free(ctx);
    return;
  }
  mk_metrics_record(&s->p->metrics, MK_M_REQUEST, 1);
  mk_metrics_record(&s->p->metrics, MK_M_RECORDS_PER_REQUEST, records);
  mk_metrics_record(&s->p->metrics, MK_M_OUTGOING_BYTE, (double)bytes);
}

/* Build (and compress) the bytes of the drained batches that have none yet. Here, not in
 * mk_accumulator_drain(): the accumulator's lock is shared with the app threads appending,
 * and compressing under it would make them wait. A drained batch is the Sender's alone, so
 * no lock is needed. A batch that cannot be built (out of memory) fails, without a retry:
 * its sequence is spent, so fail_batch asks for a new producer id. Returns how many
 * batches are left to send, in order. */
static int close_batches(struct mk_sender *s, struct mk_producer_batch **batches, int n) {
  int kept = 0;
  for (int i = 0; i < n; i++) {
    struct mk_producer_batch *b = batches[i];
    if (!b->bytes) {
      size_t raw = mk_producer_batch_size(b);
      struct mk_err why = {0}, err;
      if (mk_producer_batch_close(b, &why)) {
        mk_err_set(&err, why.code, "%d record(s) for %s-%d failed: %s", b->record_count, b->topic,
                   b->partition, why.msg);
        fail_batch(s, b, &err);
        continue;
      }
      if (raw)  /* 1.0 without compression, as Kafka records it */
        mk_metrics_record(&s->p->metrics, MK_M_COMPRESSION_RATE,
                          s->cfg->compression_type ? (double)b->bytes_len / (double)raw : 1.0);
      if (s->cfg->compression_type && raw > MK_RECORD_BATCH_HEADER_SIZE)  /* the records alone */
        mk_accumulator_update_compression_ratio(
            s->acc, b,
            (float)(b->bytes_len - MK_RECORD_BATCH_HEADER_SIZE) /
                (float)(raw - MK_RECORD_BATCH_HEADER_SIZE));
    }
    batches[kept++] = b;
  }
  return kept;
}

static bool may_send(void *arg, const char *topic, int32_t partition) {
  return mk_transaction_manager_may_send(arg, topic, partition);
}

static void send_producer_data(struct mk_sender *s, int64_t now, int64_t *next) {
  if (!mk_transaction_manager_ready(s->tm)) return;
  int32_t ready[MAX_READY];
  int64_t delay;
  bool completing = s->txn && mk_transaction_manager_is_completing(s->tm);
  int n = mk_accumulator_ready(s->acc, s->md, now, completing, ready, MAX_READY, &delay);
  wake_at(next, delay);
  for (int i = 0; i < n; i++) {
    int32_t node = ready[i];
    if (!mk_network_client_ready(s->nc, node)) {
      connect_node(s, node, now);
      wake_at(next, s->cfg->reconnect_backoff_ms);
      continue;
    }
    struct node_state *ns = node_state(s, node);
    if (now < ns->throttle_until_ms) {
      wake_at(next, ns->throttle_until_ms - now);
      continue;
    }
    struct mk_producer_batch *batches[MAX_DRAIN];
    int nb = mk_accumulator_drain(s->acc, s->md, node, s->cfg->max_request_size,
                                  s->tm->idempotent ? s->tm->producer_id : -1,
                                  s->tm->producer_epoch, s->txn ? may_send : NULL, s->tm, now,
                                  batches, MAX_DRAIN);
    nb = close_batches(s, batches, nb);
    if (nb) send_produce(s, node, batches, nb, now);
  }
}

/* ---- transactions ---------------------------------------------------------------------- */

/* A new producer id or epoch (InitProducerId, an epoch bump): every partition numbers from 0. */
static void apply_sequence_reset(struct mk_sender *s) {
  int64_t id;
  int16_t epoch;
  if (mk_transaction_manager_take_sequence_reset(s->tm, &id, &epoch))
    mk_accumulator_reset_sequences(s->acc, id, epoch);
}

static void on_txn_response(void *opaque, int32_t node, int version, void *body, int rc,
                            const struct mk_err *err) {
  struct mk_sender *s = opaque;
  mk_transaction_manager_complete_request(s->tm, node, version, body, rc, err);
  apply_sequence_reset(s);
}

/* The coordinator's connection: ready, or being opened (false). */
static bool coordinator_ready(struct mk_sender *s, const struct mk_coordinator_node *c,
                              int64_t now, int64_t *next) {
  if (mk_network_client_ready(s->nc, c->id)) return true;
  char host[256];
  int port;
  if (!mk_producer_metadata_node(s->md, c->id, host, sizeof host, &port)) {
    snprintf(host, sizeof host, "%s", c->host);  /* not in metadata (yet): as FindCoordinator said */
    port = c->port;
  }
  connect_to(s, c->id, host, port, now);
  wake_at(next, s->cfg->reconnect_backoff_ms);
  return false;
}

/* Java's Sender.maybeSendAndPollTransactionalRequest: send the TransactionManager's next
 * request, at most one at a time. Returns true while transactional work holds produce data
 * back (a request in flight or waiting for its coordinator, its connection or its backoff),
 * as Java's runOnce returns early then. */
static bool maybe_send_transactional_request(struct mk_sender *s, int64_t now, int64_t *next) {
  struct mk_transaction_manager *tm = s->tm;
  struct mk_err why;
  if (mk_transaction_manager_fatal(tm, &why)) {
    /* Nothing may be sent any more: fail what waits (Java's maybeAbortBatches). */
    mk_accumulator_abort_undrained(s->acc, &why);
    return true;
  }
  if (mk_transaction_manager_has_in_flight(tm)) return true;
  if (mk_transaction_manager_abort_reason(tm, &why)) mk_accumulator_abort_unsent(s->acc, &why);
  struct mk_txn_request *r =
      mk_transaction_manager_next_request(tm, mk_accumulator_has_incomplete(s->acc));
  if (!r) return false;
  if (r->is_retry && now < r->not_before_ms) {
    wake_at(next, r->not_before_ms - now);
    mk_transaction_manager_requeue(tm, r);
    return true;
  }
  enum mk_coordinator_type type;
  const char *key;
  int32_t node;
  bool to_coordinator = mk_txn_request_needs_coordinator(tm, r, &type, &key);
  if (to_coordinator) {
    struct mk_coordinator_node c;
    if (!mk_transaction_manager_coordinator(tm, type, &c)) {
      mk_transaction_manager_lookup_coordinator(tm, type, key);
      mk_transaction_manager_retry(tm, r);
      return true;
    }
    if (!coordinator_ready(s, &c, now, next)) {
      mk_transaction_manager_requeue(tm, r);
      return true;
    }
    node = c.id;
    if (type == MK_COORDINATOR_TRANSACTION)
      mk_transaction_manager_coordinator_ready(
          tm, mk_network_client_version(s->nc, node, MK_API_INIT_PRODUCER_ID));
  } else if ((node = any_ready_node(s, now)) == INT32_MIN) {
    wake_at(next, s->cfg->reconnect_backoff_ms);
    mk_transaction_manager_requeue(tm, r);
    return true;
  }
  int api = mk_txn_request_api_key(r);
  int version = mk_network_client_version(s->nc, node, api);
  struct mk_txn_wire w;
  struct mk_err err = {0};
  int rc = version < 0 ? mk_err_set(&err, MK_ERR_UNSUPPORTED_VERSION, "broker %d speaks no "
                                    "version of %s that we do", node, mk_txn_request_name(r))
                       : mk_txn_request_build(tm, r, version, &w, &err);
  if (rc) {  /* the broker cannot say what this request must say: nothing will change that */
    mk_transaction_manager_sent(tm, r);
    mk_transaction_manager_complete_request(tm, node, version, NULL, rc, &err);
    return true;
  }
  int32_t correlation_id = mk_network_client_next_correlation_id(s->nc);
  mk_transaction_manager_sent(tm, r);  /* before the send: its callback finds it in flight */
  if (mk_trace_on()) mk_txn_request_trace_sent(tm, r, node, correlation_id);
  rc = mk_network_client_send(s->nc, node, api, w.body, true, on_txn_response, s, NULL, &err);
  mk_txn_wire_free(&w);
  /* Not sent: the connection just closed (retried as a lost connection), or the request
   * could not be encoded (a bug of ours: fatal, as Java's unknown failures). */
  if (rc) mk_transaction_manager_complete_request(tm, node, version, NULL, rc, &err);
  return true;
}

/* Closing with a transaction open aborts it (Java's Sender.run after its main loop), unless
 * it is already completing. Returns whether closing must still wait for the manager. */
static bool transaction_pending_at_close(struct mk_sender *s) {
  if (!s->txn || s->forced || s->txn_close_failed) return false;
  struct mk_transaction_manager *tm = s->tm;
  if (mk_transaction_manager_has_ongoing(tm) && !mk_transaction_manager_is_completing(tm)) {
    struct mk_txn_result *r;
    struct mk_err err;
    mk_log(MK_LOG_INFO, "producer", "Aborting incomplete transaction due to shutdown");
    if (mk_transaction_manager_begin_abort(tm, &r, &err) == 0) {
      mk_transaction_manager_release(tm, r);
      s->run_again = true;  /* its requests are queued: send them this round */
    } else {
      mk_log(MK_LOG_ERROR, "producer", "could not abort the open transaction while closing: %s",
             err.msg);
      s->txn_close_failed = true;
      return false;
    }
  }
  return mk_transaction_manager_has_in_flight(tm) || mk_transaction_manager_has_ongoing(tm);
}

/* ---- the loop -------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t) { run_once(t->data); }

static void stop_loop(struct mk_sender *s) {
  s->stopped = true;
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, NULL);
  uv_close((uv_handle_t *)&s->wakeup, NULL);
}

static void run_once(struct mk_sender *s) {
  if (s->in_run_once) {  /* a callback fired while we ran: go round again */
    s->run_again = true;
    return;
  }
  s->in_run_once = true;
  int64_t next;
  do {
    s->run_again = false;
    next = IDLE_WAKE_MS;
    int64_t now = now_ms();
    if (!s->forced) {  /* after a forced close only the failing remains */
      wake_at(&next, mk_network_client_check_timeouts(s->nc, now));
      maybe_update_metadata(s, now, &next);
      maybe_init_producer_id(s, now, &next);
      bool txn_busy = s->txn && maybe_send_transactional_request(s, now, &next);
      bool had_sequence = false;
      int expired = mk_accumulator_expire(s->acc, now, &had_sequence);
      if (expired && s->txn) {
        struct mk_err err;
        mk_err_set(&err, MK_ERR_REQUEST_TIMED_OUT, "%d batch(es) of the transaction expired "
                   "(delivery.timeout.ms=%d)", expired, s->cfg->delivery_timeout_ms);
        mk_transaction_manager_error(s->tm, &err);
      } else if (had_sequence && s->tm->idempotent) {
        s->tm->need_producer_id = true;
      }
      if (!txn_busy) send_producer_data(s, now, &next);
    }

    uv_mutex_lock(&s->ctl_lock);
    bool closing = s->closing;
    int64_t deadline = s->close_deadline_ms;
    uv_mutex_unlock(&s->ctl_lock);
    if (closing && !s->stopped) {
      bool txn_pending = transaction_pending_at_close(s);
      if (!mk_accumulator_has_incomplete(s->acc) && !txn_pending) {
        struct mk_err err;
        mk_err_set(&err, MK_ERR__STATE, "the producer is closed");
        if (s->nc) mk_network_client_close(s->nc, &err);
        stop_loop(s);
        break;
      }
      if (deadline >= 0 && now >= deadline && !s->forced) {
        s->forced = true;
        struct mk_err err;
        mk_err_set(&err, MK_ERR__STATE, "Producer is closed forcefully.");
        mk_accumulator_abort_undrained(s->acc, &err);
        if (s->txn) mk_transaction_manager_close(s->tm);
        /* Fails the requests in flight (no retries now); the client frees itself once its
         * connections have closed, so it is not used again. */
        mk_network_client_close(s->nc, &err);
        s->nc = NULL;
        wake_at(&next, 10);
        continue;
      }
      if (deadline >= 0) wake_at(&next, deadline - now);
    }
  } while (s->run_again);
  if (!s->stopped) uv_timer_start(&s->timer, on_timer, (uint64_t)(next < 0 ? IDLE_WAKE_MS : next), 0);
  s->in_run_once = false;
}

static void on_wakeup(uv_async_t *a) { run_once(a->data); }

static void thread_main(void *arg) {
  struct mk_sender *s = arg;
  mk_block_sigpipe();
  run_once(s);
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

int mk_sender_start(struct mk_producer *p, struct mk_sender **out, struct mk_err *err) {
  struct mk_sender *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  s->p = p;
  s->cfg = p->cfg;
  s->acc = p->accumulator;
  s->md = p->metadata;
  s->tm = p->transaction_manager;
  s->txn = mk_transaction_manager_transactional(s->tm);
  s->rng = (uint64_t)mk_now_us() | 1;
  uv_loop_init(&s->loop);
  uv_mutex_init(&s->ctl_lock);
  uv_async_init(&s->loop, &s->wakeup, on_wakeup);
  s->wakeup.data = s;
  uv_timer_init(&s->loop, &s->timer);
  s->timer.data = s;
  s->close_deadline_ms = -1;
  s->nc = mk_network_client_new(&s->loop, s->cfg, on_network_event, s);
  if (s->nc) mk_network_client_on_disconnect(s->nc, on_disconnect, s);
  if (!s->nc || uv_thread_create(&s->thread, thread_main, s) != 0) {
    free(s->nc);
    uv_loop_close(&s->loop);
    free(s);
    return mk_err_set(err, MK_ERR__STATE, "cannot start the Sender thread");
  }
  *out = s;
  return 0;
}

void mk_sender_wakeup(void *sender) {
  struct mk_sender *s = sender;
  uv_async_send(&s->wakeup);
}

int mk_sender_close(struct mk_sender *s, int64_t timeout_ms) {
  uv_mutex_lock(&s->ctl_lock);
  s->closing = true;
  s->close_deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  uv_mutex_unlock(&s->ctl_lock);
  uv_async_send(&s->wakeup);
  uv_thread_join(&s->thread);
  /* The network client frees itself once its connections have closed, on the loop. */
  uv_run(&s->loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->loop);
  uv_mutex_destroy(&s->ctl_lock);
  int rc = s->forced ? MK_ERR__TIMED_OUT : 0;
  free(s);
  return rc;
}
