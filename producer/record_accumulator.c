/*
 * RecordAccumulator: see record_accumulator.h.
 *
 * Layout: a topic entry per topic (its name, its BuiltInPartitioner, its deques indexed by
 * partition), plus a flat list of every deque for the Sender's scans. All under one lock.
 */
#define _GNU_SOURCE  /* PTHREAD_MUTEX_ADAPTIVE_NP (glibc; a plain mutex elsewhere) */
#include "producer/record_accumulator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/trace.h"
#include "producer/partitioner.h"
#include "producer/producer_internal.h"
#include "protocol/compression.h"

struct topic_entry;

struct mk_deque {
  struct topic_entry *topic;
  int32_t partition;
  struct mk_producer_batch *head, *tail;
  int32_t size;
  struct mk_partition_state state;  /* Sender only */
};

struct topic_entry {
  char *name;
  struct mk_builtin_partitioner *sticky;
  float compression_ratio;   /* CompressionRatioEstimator: what its batches compress to */
  struct mk_deque **deques;  /* by partition; NULL where none yet */
  int32_t ndeques;
};

enum { MAX_NODES = 64 };

struct mk_accumulator {
  pthread_mutex_t lock;
  pthread_cond_t memory_freed;     /* buffer.memory came back */
  pthread_cond_t batch_completed;  /* for flush() */
  const struct mk_producer_config *cfg;
  struct mk_producer *producer;
  struct mk_producer_metrics *metrics;
  struct topic_entry **topics;
  int ntopics, topics_cap;
  struct mk_deque **all;              /* every deque, for the Sender's scans */
  int nall, all_cap;
  int64_t available;               /* buffer.memory not held by a batch */
  int waiters;                     /* app threads waiting for memory: the pool is exhausted */
  int flushes_in_progress;
  bool closed;
  int64_t next_batch_id;
  struct mk_producer_batch *incomplete_head, *incomplete_tail;  /* creation order */
  uint32_t drain_index;            /* where the next drain starts, for fairness */
  int64_t node_ready_ms[MAX_NODES], node_drain_ms[MAX_NODES];  /* partitioner availability */
  int64_t next_expiry_ms;          /* Sender only: no batch can expire before this */
};

static int64_t now_ms(void) { return mk_now_us() / 1000; }

struct mk_accumulator *mk_accumulator_new(const struct mk_producer_config *cfg,
                                          struct mk_producer *producer,
                                          struct mk_producer_metrics *metrics) {
  struct mk_accumulator *acc = calloc(1, sizeof *acc);
  if (!acc) return NULL;
  /* The Sender takes the lock for short scans (ready, drain, a completed batch) while app
   * threads append. An app thread that finds it taken had better spin for a moment than
   * sleep at once: a futex sleep and wake-up (two context switches) cost more than the
   * wait, and with 16 KB batches they happened thousands of times a second. Java's
   * monitors spin before parking; glibc's adaptive mutex does the same. */
  pthread_mutexattr_t attr_mutex;
  pthread_mutexattr_init(&attr_mutex);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_settype(&attr_mutex, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  pthread_mutex_init(&acc->lock, &attr_mutex);
  pthread_mutexattr_destroy(&attr_mutex);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&acc->memory_freed, &attr);
  pthread_cond_init(&acc->batch_completed, &attr);
  pthread_condattr_destroy(&attr);
  acc->cfg = cfg;
  acc->producer = producer;
  acc->metrics = metrics;
  acc->available = cfg->buffer_memory;
  return acc;
}

void mk_accumulator_free(struct mk_accumulator *acc) {
  if (!acc) return;
  for (int i = 0; i < acc->nall; i++) {
    struct mk_deque *d = acc->all[i];
    while (d->head) {
      struct mk_producer_batch *b = d->head;
      d->head = b->next;
      mk_producer_batch_free(b);
    }
    free(d);
  }
  for (int i = 0; i < acc->ntopics; i++) {
    mk_builtin_partitioner_free(acc->topics[i]->sticky);
    free(acc->topics[i]->deques);
    free(acc->topics[i]->name);
    free(acc->topics[i]);
  }
  free(acc->topics);
  free(acc->all);
  pthread_mutex_destroy(&acc->lock);
  pthread_cond_destroy(&acc->memory_freed);
  pthread_cond_destroy(&acc->batch_completed);
  free(acc);
}

/* ---- topics and deques (lock held) ----------------------------------------------------- */

static struct topic_entry *topic_entry(struct mk_accumulator *acc, const char *name, bool create) {
  for (int i = 0; i < acc->ntopics; i++)
    if (strcmp(acc->topics[i]->name, name) == 0) return acc->topics[i];
  if (!create) return NULL;
  if (acc->ntopics == acc->topics_cap) {
    int cap = acc->topics_cap ? acc->topics_cap * 2 : 8;
    struct topic_entry **t = realloc(acc->topics, sizeof *t * (size_t)cap);
    if (!t) return NULL;
    acc->topics = t;
    acc->topics_cap = cap;
  }
  struct topic_entry *t = calloc(1, sizeof *t);
  if (!t || !(t->name = strdup(name)) ||
      mk_builtin_partitioner_new(name, acc->cfg->batch_size > 0 ? acc->cfg->batch_size : 1,
                                 &t->sticky, NULL)) {
    if (t) free(t->name);
    free(t);
    return NULL;
  }
  t->compression_ratio = 1.0f;  /* Java's starting estimate for every codec */
  acc->topics[acc->ntopics++] = t;
  return t;
}

static struct mk_deque *get_deque(struct mk_accumulator *acc, struct topic_entry *t, int32_t partition) {
  if (partition >= t->ndeques) {
    int32_t n = partition + 1;
    struct mk_deque **d = realloc(t->deques, sizeof *d * (size_t)n);
    if (!d) return NULL;
    memset(d + t->ndeques, 0, sizeof *d * (size_t)(n - t->ndeques));
    t->deques = d;
    t->ndeques = n;
  }
  if (t->deques[partition]) return t->deques[partition];
  if (acc->nall == acc->all_cap) {
    int cap = acc->all_cap ? acc->all_cap * 2 : 16;
    struct mk_deque **a = realloc(acc->all, sizeof *a * (size_t)cap);
    if (!a) return NULL;
    acc->all = a;
    acc->all_cap = cap;
  }
  struct mk_deque *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->topic = t;
  d->partition = partition;
  d->state.topic = t->name;
  d->state.partition = partition;
  d->state.last_acked_sequence = -1;
  t->deques[partition] = acc->all[acc->nall++] = d;
  return d;
}

/* Java's allBatchesFull: only the last batch can be open, so check that one. */
static bool all_batches_full(const struct mk_accumulator *acc, const struct mk_deque *d) {
  return !d->tail || mk_producer_batch_is_full(d->tail, acc->cfg->batch_size);
}

static void push_tail(struct mk_deque *d, struct mk_producer_batch *b) {
  b->next = NULL;
  b->prev = d->tail;
  if (d->tail) d->tail->next = b;
  else d->head = b;
  d->tail = b;
  d->size++;
}

static void unlink_batch(struct mk_deque *d, struct mk_producer_batch *b) {
  if (b->prev) b->prev->next = b->next;
  else d->head = b->next;
  if (b->next) b->next->prev = b->prev;
  else d->tail = b->prev;
  b->next = b->prev = NULL;
  d->size--;
}

/* ---- append (app threads) -------------------------------------------------------------- */

/* compression.<type>.level for the configured compression.type. */
static int compression_level(const struct mk_producer_config *cfg) {
  switch (cfg->compression_type) {
    case MK_COMPRESSION_GZIP: return cfg->compression_gzip_level;
    case MK_COMPRESSION_LZ4: return cfg->compression_lz4_level;
    case MK_COMPRESSION_ZSTD: return cfg->compression_zstd_level;
  }
  return MK_COMPRESSION_LEVEL_DEFAULT;
}

/* Take `need` bytes of buffer.memory, waiting up to max_block_ms for them (BufferPool.
 * allocate); *waited says whether it waited (and so released the lock). Lock held. */
static int reserve(struct mk_accumulator *acc, size_t need, int64_t max_block_ms, bool *waited,
                   struct mk_err *err) {
  int64_t start = 0, deadline_ms = 0;
  *waited = false;
  while (acc->available < (int64_t)need && !acc->closed) {
    if (!*waited) {  /* the clock is read only when there is a wait to time */
      *waited = true;
      start = mk_now_us();
      deadline_ms = start / 1000 + max_block_ms;
    }
    int64_t now = now_ms();
    if (now >= deadline_ms) {
      mk_metrics_record(acc->metrics, MK_M_BUFFERPOOL_WAIT, (double)(mk_now_us() - start) * 1000);
      return mk_err_set(err, MK_ERR_REQUEST_TIMED_OUT,
                        "Failed to allocate %zu bytes within the configured max blocking time "
                        "%lld ms (buffer.memory %lld is in use by records waiting to be sent)",
                        need, (long long)acc->cfg->max_block_ms, (long long)acc->cfg->buffer_memory);
    }
    acc->waiters++;
    acc->metrics->waiting_threads = acc->waiters;
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&acc->memory_freed, &acc->lock, &until);
    acc->waiters--;
    acc->metrics->waiting_threads = acc->waiters;
  }
  if (acc->closed) return mk_err_set(err, MK_ERR__STATE, "the producer is closing");
  int64_t waited_ns = *waited ? (mk_now_us() - start) * 1000 : 0;
  if (waited_ns > 1000000) mk_metrics_record(acc->metrics, MK_M_BUFFERPOOL_WAIT, (double)waited_ns);
  acc->available -= (int64_t)need;
  acc->metrics->buffer_available_bytes = acc->available;
  return 0;
}

static void release(struct mk_accumulator *acc, size_t bytes) {
  acc->available += (int64_t)bytes;
  acc->metrics->buffer_available_bytes = acc->available;
  pthread_cond_broadcast(&acc->memory_freed);
}

/* A keyless record's partition is known only here, so its partition event comes from here
 * too, just before the append it decided. */
static void trace_append(const struct mk_accumulator *acc, const struct mk_producer_batch *b,
                         size_t bytes, bool new_batch, bool sticky) {
  if (sticky)
    mk_partitioner_trace(acc->cfg->client_id, b->topic, b->partition,
                         MK_PARTITION_REASON_UNIFORM_STICKY);
  struct mk_trace_event ev;
  mk_producer_trace_begin(&ev, acc->cfg, "append");
  mk_trace_str(&ev, "topic", b->topic);
  mk_trace_int(&ev, "partition", b->partition);
  mk_trace_int(&ev, "batch_id", b->id);
  mk_trace_bool(&ev, "new_batch", new_batch);
  mk_trace_int(&ev, "records", b->record_count);
  mk_trace_int(&ev, "bytes", (int64_t)mk_producer_batch_size(b));
  mk_trace_int(&ev, "record_bytes", (int64_t)bytes);
  mk_trace_end(&ev);
}

int mk_accumulator_append(struct mk_accumulator *acc, const char *topic, int32_t *partition,
                          const struct mk_topic_snapshot *snapshot, int64_t timestamp,
                          struct mk_bytes key, struct mk_bytes value,
                          const struct mk_record_header *headers, int headers_count,
                          size_t record_size, const struct mk_record_thunk *thunk,
                          bool abort_on_new_batch, int64_t max_block_ms, bool *wake_sender,
                          struct mk_err *err) {
  const struct mk_producer_config *cfg = acc->cfg;
  struct mk_topic_partitions partitions = mk_topic_snapshot_partitions(snapshot);
  const int32_t requested = *partition;
  const bool sticky = requested == MK_PARTITION_UNKNOWN;
  size_t reserved = 0;
  int rc = 0;
  pthread_mutex_lock(&acc->lock);
  for (;;) {
    if (acc->closed) {
      rc = mk_err_set(err, MK_ERR__STATE, "the producer is closing: send() after close()");
      break;
    }
    struct topic_entry *t = topic_entry(acc, topic, true);
    struct mk_sticky_partition_info info = {requested, 0};
    if (sticky && t) info = mk_builtin_partitioner_peek_current_partition(t->sticky, &partitions);
    struct mk_deque *d = t && info.partition >= 0 ? get_deque(acc, t, info.partition) : NULL;
    if (!d) {
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory appending to %s", topic);
      break;
    }
    *partition = d->partition;  /* what a failure from here on reports, as Java does */
    size_t bytes = 0;
    /* 1. Try the open batch at the tail. */
    if (d->tail) {
      rc = mk_producer_batch_try_append(d->tail, cfg->batch_size, timestamp, key, value, headers,
                                        headers_count, thunk, &bytes);
      if (rc < 0) {
        mk_err_set(err, rc, "out of memory appending to %s-%d", topic, d->partition);
        break;
      }
      if (rc == 0) {
        if (mk_trace_on()) trace_append(acc, d->tail, bytes, false, sticky);
        if (sticky)
          mk_builtin_partitioner_update_partition_info(t->sticky, &info, (int32_t)bytes,
                                                       &partitions, all_batches_full(acc, d));
        *wake_sender = d->size > 1 || mk_producer_batch_is_full(d->tail, cfg->batch_size);
        break;
      }
      rc = 0;
    }
    /* 2. A new batch is needed. A custom partitioner is told first and may choose again. */
    if (abort_on_new_batch) {
      rc = MK_APPEND_ABORTED_FOR_NEW_BATCH;
      break;
    }
    size_t need = record_size;
    if (need < (size_t)cfg->batch_size) need = (size_t)cfg->batch_size;
    if (reserved < need) {
      bool waited;
      if ((rc = reserve(acc, need - reserved, max_block_ms, &waited, err))) break;
      reserved = need;
      /* Waiting released the lock, so the deque may have changed: start over. */
      if (waited) continue;
    }
    struct mk_producer_batch *b =
        mk_producer_batch_new(acc->producer, t->name, d->partition, cfg->batch_size,
                              cfg->compression_type, compression_level(cfg),
                              t->compression_ratio, now_ms());
    if (!b || mk_producer_batch_try_append(b, cfg->batch_size, timestamp, key, value, headers,
                                           headers_count, thunk, &bytes) != 0) {
      mk_producer_batch_free(b);
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for a new batch of %s", topic);
      break;
    }
    b->id = acc->next_batch_id++;
    b->deque = d;
    /* Its records belong to a transaction: read_committed consumers hold them back until the
     * coordinator's marker says commit (or skip them, abort). */
    if (cfg->transactional_id) b->builder.attributes |= MK_ATTR_TRANSACTIONAL;
    b->reserved = reserved;
    reserved = 0;
    push_tail(d, b);
    b->incomplete_prev = acc->incomplete_tail;
    if (acc->incomplete_tail) acc->incomplete_tail->incomplete_next = b;
    else acc->incomplete_head = b;
    acc->incomplete_tail = b;
    if (mk_trace_on()) trace_append(acc, b, bytes, true, sticky);
    if (sticky)
      mk_builtin_partitioner_update_partition_info(t->sticky, &info, (int32_t)bytes, &partitions,
                                                   all_batches_full(acc, d));
    *wake_sender = true;
    break;
  }
  if (reserved) release(acc, reserved);
  pthread_mutex_unlock(&acc->lock);
  return rc;
}

/* ---- the Sender's side ----------------------------------------------------------------- */

/* batch_ready: why this batch may go now (full, linger, flush, retry, close, memory). */
static void trace_ready(const struct mk_accumulator *acc, const struct mk_producer_batch *b,
                        const char *reason) {
  struct mk_trace_event ev;
  mk_producer_trace_begin(&ev, acc->cfg, "batch_ready");
  mk_trace_str(&ev, "topic", b->topic);
  mk_trace_int(&ev, "partition", b->partition);
  mk_trace_int(&ev, "batch_id", b->id);
  mk_trace_int(&ev, "records", b->record_count);
  mk_trace_int(&ev, "bytes", (int64_t)(b->bytes ? b->bytes_len : mk_producer_batch_size(b)));
  mk_trace_str(&ev, "reason", reason);
  mk_trace_end(&ev);
}

int mk_accumulator_ready(struct mk_accumulator *acc, struct mk_producer_metadata *md,
                         int64_t now, bool flush_all, int32_t *ready_nodes, int max_nodes,
                         int64_t *next_delay_ms) {
  const struct mk_producer_config *cfg = acc->cfg;
  int n = 0;
  int64_t next = INT64_MAX;
  pthread_mutex_lock(&acc->lock);
  bool exhausted = acc->waiters > 0, flushing = acc->flushes_in_progress > 0 || flush_all;
  for (int ti = 0; ti < acc->ntopics; ti++) {
    struct topic_entry *t = acc->topics[ti];
    struct mk_partition_queue_stats stats[256];
    int32_t nstats = 0;
    /* One look at the topic's metadata for all its partitions (not a lookup each). */
    struct mk_topic_snapshot *snap = mk_producer_metadata_peek(md, t->name);
    for (int32_t p = 0; p < t->ndeques; p++) {
      struct mk_deque *d = t->deques[p];
      if (!d) continue;
      int32_t leader = mk_topic_snapshot_leader(snap, p);
      if (nstats < 256)
        stats[nstats++] = (struct mk_partition_queue_stats){
            p, leader >= 0, d->size, leader >= 0 && leader < MAX_NODES,
            leader >= 0 && leader < MAX_NODES ? acc->node_ready_ms[leader] : 0,
            leader >= 0 && leader < MAX_NODES ? acc->node_drain_ms[leader] : 0};
      if (!d->head) continue;
      if (leader < 0) {
        mk_producer_metadata_request_update(md);
        continue;
      }
      bool already = false;
      for (int i = 0; i < n; i++) already |= ready_nodes[i] == leader;
      if (already) continue;
      struct mk_producer_batch *b = d->head;
      bool backing_off = b->in_retry && now < b->retry_at_ms;
      int64_t waited = now - b->created_ms;
      int64_t wait_for = backing_off ? b->retry_at_ms - b->created_ms : cfg->linger_ms;
      bool full = d->size > 1 || mk_producer_batch_is_full(b, cfg->batch_size);
      bool expired = waited >= wait_for;
      bool sendable = full || expired || exhausted || acc->closed || flushing;
      if (sendable && !backing_off) {
        if (!b->ready_traced && mk_trace_on()) {
          const char *why = b->in_retry ? "retry" : full ? "full" : flushing ? "flush"
                            : expired ? "linger" : acc->closed ? "close" : "memory";
          trace_ready(acc, b, why);
        }
        b->ready_traced = true;
        if (n < max_nodes) ready_nodes[n++] = leader;
        if (leader < MAX_NODES) acc->node_ready_ms[leader] = now;
      } else {
        int64_t left = wait_for - waited;
        if (left < next) next = left;
      }
    }
    /* The BuiltInPartitioner's adaptive half: queue sizes steer keyless records away from
     * partitions whose leaders are slow (RecordAccumulator.partitionReady). It needs the
     * topic's real partition count: a partition that has no deque yet must still count. */
    int32_t partitions = snap ? snap->count : t->ndeques;
    if (snap) mk_topic_snapshot_release(snap);
    mk_builtin_partitioner_update_load_stats_from_queues(
        t->sticky, stats, nstats, partitions,
        cfg->partitioner_adaptive_partitioning_enable && !cfg->partitioner,
        cfg->partitioner_availability_timeout_ms);
  }
  pthread_mutex_unlock(&acc->lock);
  *next_delay_ms = next == INT64_MAX ? -1 : next < 0 ? 0 : next;
  return n;
}

int mk_accumulator_drain(struct mk_accumulator *acc, struct mk_producer_metadata *md,
                         int32_t node, int32_t max_request_size, int64_t producer_id,
                         int16_t producer_epoch, mk_may_send_fn may_send, void *may_send_arg,
                         int64_t now, struct mk_producer_batch **out, int max) {
  const struct mk_producer_config *cfg = acc->cfg;
  bool idempotent = producer_id >= 0;
  bool one_in_flight = cfg->max_in_flight_requests_per_connection == 1;
  int n = 0;
  size_t total = 0;
  pthread_mutex_lock(&acc->lock);
  int nall = acc->nall;
  uint32_t start = nall ? acc->drain_index % (uint32_t)nall : 0;
  /* The metadata of the topic last looked at: consecutive deques are often one topic's. */
  struct topic_entry *snap_topic = NULL;
  struct mk_topic_snapshot *snap = NULL;
  for (int i = 0; i < nall && n < max; i++) {
    struct mk_deque *d = acc->all[(start + (uint32_t)i) % (uint32_t)nall];
    struct mk_producer_batch *b = d->head;
    if (!b) continue;
    if (d->topic != snap_topic) {
      mk_topic_snapshot_release(snap);
      snap = mk_producer_metadata_peek(md, d->topic->name);
      snap_topic = d->topic;
    }
    if (mk_topic_snapshot_leader(snap, d->partition) != node) continue;
    if (b->in_retry && now < b->retry_at_ms) continue;
    /* A transaction's partition goes only once its coordinator knows it (AddPartitionsToTxn
     * answered): then a crash can never leave records the coordinator would not abort. */
    if (may_send && !may_send(may_send_arg, d->topic->name, d->partition)) continue;
    /* Ordering: with max.in.flight=1 a partition has at most one batch in flight (Java
     * mutes it); with idempotence a retry waits until the batches sent before it have
     * answered, then goes out first, so sequences reach the broker in order. */
    if ((one_in_flight || (idempotent && b->in_retry)) && d->state.in_flight > 0) continue;
    /* A new producer id's first batch to a partition goes alone: a broker accepts any first
     * sequence from a producer it does not know (its state may have been lost), so if that
     * batch failed while the next ones were in flight, they would be written first and the
     * first one could never follow. After one acknowledgement, sequences are anchored. */
    if (idempotent && d->state.last_acked_sequence < 0 && d->state.in_flight > 0) continue;
    /* Not yet closed: the estimate (Java's estimatedSizeInBytes), as the bytes are built
     * after the lock is released. */
    size_t size = b->bytes ? b->bytes_len : mk_producer_batch_estimated_size(b);
    if (n > 0 && total + size > (size_t)max_request_size) break;
    /* A first send takes the partition's next sequence here, in drain order (a retry keeps
     * its bytes and its sequence); the Sender builds the bytes with them. */
    if (idempotent && !b->bytes) {
      int32_t seq = d->state.next_sequence;
      d->state.next_sequence = mk_sequence_increment(seq, b->record_count);
      b->producer_id = producer_id;
      b->producer_epoch = producer_epoch;
      b->base_sequence = seq;
    }
    unlink_batch(d, b);
    b->drained_ms = now;
    d->state.in_flight++;
    mk_metrics_record(acc->metrics, MK_M_RECORD_QUEUE_TIME, (double)(now - b->created_ms));
    out[n++] = b;
    total += size;
  }
  acc->drain_index = start + 1;
  if (node >= 0 && node < MAX_NODES && n) acc->node_drain_ms[node] = now;
  pthread_mutex_unlock(&acc->lock);
  mk_topic_snapshot_release(snap);
  return n;
}

void mk_accumulator_reenqueue(struct mk_accumulator *acc, struct mk_producer_batch *b,
                              int64_t now, int64_t backoff_ms) {
  pthread_mutex_lock(&acc->lock);
  struct mk_deque *d = b->deque;
  b->in_retry = true;
  b->retry_at_ms = now + backoff_ms;
  b->drained_ms = 0;  /* back in the deque: no longer in flight */
  b->ready_traced = false;
  /* An old batch is back where mk_accumulator_expire looks (Sender only, like expire). */
  int64_t expiry = b->created_ms + acc->cfg->delivery_timeout_ms;
  if (expiry < acc->next_expiry_ms) acc->next_expiry_ms = expiry;
  if (d) {
    d->state.in_flight--;
    /* At the front, but behind retries with lower sequence numbers (Java's
     * insertInSequenceOrder), so the broker sees sequences in order. */
    struct mk_producer_batch *at = d->head;
    while (at && b->base_sequence >= 0 && at->base_sequence >= 0 &&
           at->base_sequence < b->base_sequence)
      at = at->next;
    if (!at) {
      push_tail(d, b);
    } else {
      b->next = at;
      b->prev = at->prev;
      if (at->prev) at->prev->next = b;
      else d->head = b;
      at->prev = b;
      d->size++;
    }
  }
  pthread_mutex_unlock(&acc->lock);
}

struct mk_partition_state *mk_accumulator_partition_state(struct mk_accumulator *acc,
                                                          const struct mk_producer_batch *b) {
  (void)acc;  /* no lock: the state is the Sender's alone, and the deque never moves */
  return b->deque ? &b->deque->state : NULL;
}

void mk_accumulator_reset_sequences(struct mk_accumulator *acc, int64_t producer_id,
                                    int16_t epoch) {
  pthread_mutex_lock(&acc->lock);
  for (int i = 0; i < acc->nall; i++) {
    acc->all[i]->state.next_sequence = 0;
    acc->all[i]->state.last_acked_sequence = -1;
    /* A batch awaiting retry keeps its bytes (and its place at the head) but must carry the
     * new id and a sequence from 0, or the broker would reject it as out of order. Batches
     * never sent have no bytes yet: they get their sequences when drained. */
    for (struct mk_producer_batch *b = acc->all[i]->head; b; b = b->next) {
      if (!b->in_retry) continue;
      int32_t seq = acc->all[i]->state.next_sequence;
      acc->all[i]->state.next_sequence += b->record_count;
      b->producer_id = producer_id;
      b->producer_epoch = epoch;
      b->base_sequence = seq;
      mk_record_batch_set_producer(b->bytes, b->bytes_len, producer_id, epoch, seq);
    }
  }
  pthread_mutex_unlock(&acc->lock);
}

void mk_accumulator_update_compression_ratio(struct mk_accumulator *acc,
                                             const struct mk_producer_batch *b, float observed) {
  pthread_mutex_lock(&acc->lock);
  float *r = &b->deque->topic->compression_ratio;
  if (observed > *r)  /* worse than expected: catch up at once, and then some */
    *r = observed > *r + 0.05f ? observed : *r + 0.05f;
  else if (observed < *r)  /* better: creep down, one small step per batch */
    *r -= 0.005f;
  pthread_mutex_unlock(&acc->lock);
}

void mk_accumulator_deallocate(struct mk_accumulator *acc, struct mk_producer_batch *b) {
  pthread_mutex_lock(&acc->lock);
  struct mk_deque *d = b->deque;
  if (d && b->drained_ms) d->state.in_flight--;
  if (b->incomplete_prev) b->incomplete_prev->incomplete_next = b->incomplete_next;
  else acc->incomplete_head = b->incomplete_next;
  if (b->incomplete_next) b->incomplete_next->incomplete_prev = b->incomplete_prev;
  else acc->incomplete_tail = b->incomplete_prev;
  release(acc, b->reserved);
  pthread_cond_broadcast(&acc->batch_completed);
  pthread_mutex_unlock(&acc->lock);
  /* Unreachable now (in no deque, not in the incomplete list), so freed outside the lock,
   * which app threads may be waiting for: freeing a batch.size buffer can mean handing
   * memory back to the kernel, a system call. */
  mk_producer_batch_free(b);
}

void mk_accumulator_fail_batch(struct mk_accumulator *acc, struct mk_producer_batch *b,
                              const struct mk_err *err) {
  mk_producer_batch_done(b, -1, -1, err);  /* counts record-error-total */
  mk_accumulator_deallocate(acc, b);
}

/* Fail (outside the lock: callbacks may take other locks) the batches in list. */
static void fail_list(struct mk_accumulator *acc, struct mk_producer_batch *list,
                      const struct mk_err *err) {
  while (list) {
    struct mk_producer_batch *b = list;
    list = b->next;
    mk_accumulator_fail_batch(acc, b, err);
  }
}

int mk_accumulator_expire(struct mk_accumulator *acc, int64_t now, bool *had_sequence) {
  int count = 0;
  int64_t timeout = acc->cfg->delivery_timeout_ms;
  struct mk_producer_batch *expired = NULL;
  /* The Sender calls this on every round; most rounds nothing can have expired, and then
   * it need not take the lock (which app threads want for appending). A batch created
   * after the last scan expires no sooner than that scan's now + timeout; one put back
   * for a retry since is accounted for by mk_accumulator_reenqueue. */
  if (now < acc->next_expiry_ms) return 0;
  int64_t next_expiry = now + timeout;
  pthread_mutex_lock(&acc->lock);
  for (int i = 0; i < acc->nall; i++) {
    struct mk_deque *d = acc->all[i];
    for (struct mk_producer_batch *b = d->head, *next; b; b = next) {
      next = b->next;
      if (now - b->created_ms < timeout) {
        if (b->created_ms + timeout < next_expiry) next_expiry = b->created_ms + timeout;
        continue;
      }
      unlink_batch(d, b);
      if (b->base_sequence >= 0) *had_sequence = true;
      count++;
      b->next = expired;
      expired = b;
    }
  }
  acc->next_expiry_ms = next_expiry;
  pthread_mutex_unlock(&acc->lock);
  /* One message per batch, naming its own partition and age, as Java's expiry does. */
  while (expired) {
    struct mk_producer_batch *b = expired;
    expired = b->next;
    struct mk_err err;
    mk_err_set(&err, MK_ERR_REQUEST_TIMED_OUT,
               "Expiring %d record(s) for %s-%d:%lld ms has passed since batch creation "
               "(delivery.timeout.ms=%lld)", b->record_count, b->topic, b->partition,
               (long long)(now - b->created_ms), (long long)timeout);
    mk_accumulator_fail_batch(acc, b, &err);
  }
  return count;
}

int mk_accumulator_flush(struct mk_accumulator *acc, int64_t deadline_ms, void (*wake)(void *),
                         void *arg) {
  pthread_mutex_lock(&acc->lock);
  int64_t mark = acc->next_batch_id;
  acc->flushes_in_progress++;
  pthread_mutex_unlock(&acc->lock);
  wake(arg);
  int rc = 0;
  pthread_mutex_lock(&acc->lock);
  while (acc->incomplete_head && acc->incomplete_head->id < mark) {
    if (deadline_ms < 0) {
      pthread_cond_wait(&acc->batch_completed, &acc->lock);
      continue;
    }
    if (now_ms() >= deadline_ms) {
      rc = MK_ERR__TIMED_OUT;
      break;
    }
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&acc->batch_completed, &acc->lock, &until);
  }
  acc->flushes_in_progress--;
  pthread_mutex_unlock(&acc->lock);
  return rc;
}

void mk_accumulator_close(struct mk_accumulator *acc) {
  pthread_mutex_lock(&acc->lock);
  acc->closed = true;
  pthread_cond_broadcast(&acc->memory_freed);
  pthread_mutex_unlock(&acc->lock);
}

bool mk_accumulator_has_incomplete(struct mk_accumulator *acc) {
  pthread_mutex_lock(&acc->lock);
  bool any = acc->incomplete_head != NULL;
  pthread_mutex_unlock(&acc->lock);
  return any;
}

/* Take the batches out of every deque (only those never sent, if unsent_only) and fail
 * them, outside the lock. */
static void abort_batches(struct mk_accumulator *acc, bool unsent_only, const struct mk_err *err) {
  struct mk_producer_batch *list = NULL;
  pthread_mutex_lock(&acc->lock);
  for (int i = 0; i < acc->nall; i++) {
    struct mk_deque *d = acc->all[i];
    for (struct mk_producer_batch *b = d->head, *next; b; b = next) {
      next = b->next;
      if (unsent_only && b->base_sequence >= 0) continue;
      unlink_batch(d, b);
      b->next = list;
      list = b;
    }
  }
  pthread_mutex_unlock(&acc->lock);
  fail_list(acc, list, err);
}

void mk_accumulator_abort_undrained(struct mk_accumulator *acc, const struct mk_err *err) {
  abort_batches(acc, false, err);
}

void mk_accumulator_abort_unsent(struct mk_accumulator *acc, const struct mk_err *err) {
  abort_batches(acc, true, err);
}
