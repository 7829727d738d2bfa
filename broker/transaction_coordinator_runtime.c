/*
 * Transaction coordinator runtime: the coordinator's clock, producer ids, appends and markers,
 * on the shared coordinator runtime. See transaction_coordinator_runtime.h.
 */
#include "broker/transaction_coordinator_runtime.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/coordinator_runtime.h"
#include "broker/group_coordinator_runtime.h"
#include "broker/partition_writer.h"
#include "broker/reset.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

/* How long a transaction's record or marker waits for its replicas (Kafka's
 * request.timeout.ms, which its marker channel uses too). */
enum { WRITE_TIMEOUT_MS = 30000 };

struct mk_txn_runtime_state {
  struct mk_broker *b;
  struct mk_txn_coordinator coordinator;
  struct mk_coordinator_runtime rt;  /* __transaction_state (coordinator_runtime.h) */
  int32_t loading;                   /* the partition load_partition is replaying */
};

/* ---- the topic -------------------------------------------------------------------------------- */

struct mk_topic *mk_txn_runtime_topic(struct mk_broker *b, bool create, struct mk_err *err) {
  return mk_coordinator_runtime_topic(&b->txns->rt, create, err);
}

int32_t mk_txn_runtime_partition_for(struct mk_broker *b, struct mk_str transactional_id) {
  return mk_coordinator_runtime_partition_for(&b->txns->rt, transactional_id);
}

/* ---- what the coordinator calls ----------------------------------------------------------------- */

static int64_t wall_ms(void *ctx) {
  (void)ctx;
  return mk_wall_ms();
}

static int64_t next_producer_id(void *ctx) {
  struct mk_txn_runtime_state *s = ctx;
  return s->b->cluster.next_producer_id++;
}

static int16_t append(void *ctx, int32_t partition, const struct mk_coordinator_record *records,
                      int nrecords, mk_txn_done *done, void *arg) {
  struct mk_txn_runtime_state *s = ctx;
  return mk_coordinator_runtime_append(&s->rt, partition, NULL, records, nrecords, done, arg);
}

/* A marker in __consumer_offsets: the group coordinator learns the outcome once it is
 * committed, as Kafka's WriteTxnMarkers handler tells it after the append. */
struct offsets_marker {
  struct mk_broker *b;
  int32_t partition;
  int64_t producer_id;
  bool commit;
  mk_txn_done *done;
  void *arg;
};

static void offsets_marker_done(void *arg, int16_t error) {
  struct offsets_marker *w = arg;
  if (!error) mk_group_runtime_txn_completed(w->b, w->partition, w->producer_id, w->commit);
  w->done(w->arg, error);
  free(w);
}

static int16_t write_marker(void *ctx, struct mk_str topic, int32_t partition, int64_t producer_id,
                            int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                            mk_txn_done *done, void *arg) {
  struct mk_txn_runtime_state *s = ctx;
  struct mk_broker *b = s->b;
  struct mk_partition *p = mk_cluster_partition(mk_cluster_find_topic(&b->cluster, topic), partition);
  if (!p) return MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
  struct mk_writer batch;
  mk_writer_init(&batch);
  struct mk_err err = {0};
  int64_t ts = mk_wall_ms();
  if (mk_record_batch_write_control(&batch, producer_id, producer_epoch,
                                    commit ? MK_CONTROL_COMMIT : MK_CONTROL_ABORT,
                                    coordinator_epoch, ts, &err) ||
      batch.failed) {
    mk_writer_free(&batch);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  bool offsets = mk_str_eq(topic, MK_CONSUMER_OFFSETS_TOPIC);
  struct offsets_marker *om = offsets ? calloc(1, sizeof *om) : NULL;
  if (offsets && !om) {
    mk_writer_free(&batch);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  if (om) *om = (struct offsets_marker){b, partition, producer_id, commit, done, arg};
  struct mk_partition_write w = {
      .p = p,
      .batch = batch.buf,
      .len = batch.len,
      .leader_epoch = -1,
      .coordinator_epoch = coordinator_epoch,
      .timeout_ms = WRITE_TIMEOUT_MS,
      .done = om ? offsets_marker_done : done,
      .arg = om ? (void *)om : arg,
  };
  int64_t offset = -1;
  int16_t rc = mk_partition_writer_append(b, &w, &offset);
  mk_writer_free(&batch);
  if (rc) {
    free(om);
    return rc;
  }
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "txn_marker");
    mk_trace_str(&ev, "topic", p->topic->name);
    mk_trace_int(&ev, "partition", p->index);
    mk_trace_int(&ev, "offset", offset);
    mk_trace_str(&ev, "result", commit ? "commit" : "abort");
    mk_trace_int(&ev, "producer_id", producer_id);
    mk_trace_int(&ev, "producer_epoch", producer_epoch);
    mk_trace_int(&ev, "coordinator_epoch", coordinator_epoch);
    mk_trace_int(&ev, "broker", p->leader);
    mk_trace_end(&ev);
  }
  return 0;
}

/* ---- what the runtime calls ------------------------------------------------------------------ */

static void load_record(void *ctx, const struct mk_batch *batch, int64_t offset,
                        const struct mk_record *rec) {
  struct mk_txn_runtime_state *s = ctx;
  if (batch->is_control) return;  /* nothing writes markers here; skip, as Kafka's loader */
  mk_txn_state_load_record(&s->coordinator.mgr, s->loading, offset, rec->key, rec->value);
}

static void load_partition(void *ctx, int32_t p, const struct mk_log *log, int32_t owner,
                           int32_t epoch) {
  struct mk_txn_runtime_state *s = ctx;
  struct mk_txn_state_manager *mgr = &s->coordinator.mgr;
  if (mk_txn_state_set_partitions(mgr, s->rt.nparts)) {
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: out of memory loading", MK_TRANSACTION_STATE_TOPIC, p);
    return;
  }
  mk_txn_state_load_begin(mgr, p);
  s->loading = p;
  mk_coordinator_runtime_replay(&s->rt, p, log, load_record, s);
  mk_txn_state_load_end(mgr, p, owner, epoch);
  mk_txn_coordinator_loaded(&s->coordinator, p);
}

static void unload_partition(void *ctx, int32_t p) {
  struct mk_txn_runtime_state *s = ctx;
  mk_txn_coordinator_unload(&s->coordinator, p);
}

static void poll(void *ctx) {
  struct mk_txn_runtime_state *s = ctx;
  mk_txn_coordinator_poll(&s->coordinator);
}

static int64_t next_deadline(void *ctx) {
  struct mk_txn_runtime_state *s = ctx;
  return mk_txn_coordinator_next_deadline(&s->coordinator);
}

/* ---- the hold fault ----------------------------------------------------------------------------- */

void mk_txn_runtime_hold_markers(struct mk_broker *b, int64_t ms, int count) {
  mk_txn_marker_channel_hold(&b->txns->coordinator.channel, ms, count);
}

int mk_txn_runtime_release_markers(struct mk_broker *b) {
  struct mk_txn_runtime_state *s = b->txns;
  int n = mk_txn_marker_channel_release(&s->coordinator.channel);
  mk_coordinator_runtime_kick(&s->rt);  /* they go at the next loop turn */
  return n;
}

/* ---- life --------------------------------------------------------------------------------------- */

/* Reset (reset.h): every transactional id is forgotten with its partitions, the hold is off. */
static void reset_clear(struct mk_broker *b, void *arg) {
  (void)b;
  struct mk_txn_runtime_state *s = arg;
  mk_coordinator_runtime_reset(&s->rt);
  s->coordinator.channel.hold = false;
}

int mk_txn_runtime_start(struct mk_broker *b, struct mk_err *err) {
  struct mk_txn_runtime_state *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  const struct mk_broker_config *bc = &b->cluster.cfg;
  s->b = b;
  struct mk_txn_config cfg;
  mk_txn_config_init(&cfg);
  cfg.num_partitions = bc->transaction_state_log_num_partitions;
  cfg.max_timeout_ms = bc->transaction_max_timeout_ms;
  cfg.abort_interval_ms = bc->transaction_abort_timed_out_transaction_cleanup_interval_ms;
  cfg.expiration_ms = bc->transactional_id_expiration_ms;
  cfg.remove_expired_interval_ms = bc->transaction_remove_expired_transaction_cleanup_interval_ms;
  struct mk_txn_runtime trt = {s, wall_ms, next_producer_id, append, write_marker};
  if (mk_txn_coordinator_init(&s->coordinator, &cfg, &trt)) {
    free(s);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  static const struct mk_coordinator_ops ops = {load_partition, unload_partition, poll,
                                                next_deadline};
  int rc = mk_coordinator_runtime_init(&s->rt, b, "transaction coordinator",
                                       MK_TRANSACTION_STATE_TOPIC,
                                       bc->transaction_state_log_num_partitions,
                                       bc->transaction_state_log_replication_factor,
                                       WRITE_TIMEOUT_MS, &ops, s, err);
  if (rc) {
    mk_txn_coordinator_free(&s->coordinator);
    free(s);
    return rc;
  }
  s->rt.min_insync_replicas = bc->transaction_state_log_min_isr;
  b->txns = s;
  if (mk_reset_hook_add(b, &(struct mk_reset_hook){"transaction coordinator", reset_clear, NULL, s}))
    mk_log(MK_LOG_WARN, "broker", "no reset hook left for the transaction coordinator");
  return 0;
}

void mk_txn_runtime_free(struct mk_broker *b) {
  struct mk_txn_runtime_state *s = b->txns;
  if (!s) return;
  mk_txn_coordinator_free(&s->coordinator);
  mk_coordinator_runtime_free(&s->rt);
  free(s);
  b->txns = NULL;
}

struct mk_txn_coordinator *mk_txn_runtime_enter(struct mk_broker *b) {
  struct mk_txn_runtime_state *s = b->txns;
  mk_coordinator_runtime_enter(&s->rt);
  return &s->coordinator;
}

void mk_txn_runtime_leave(struct mk_broker *b) { mk_coordinator_runtime_leave(&b->txns->rt); }
