/*
 * Group coordinator runtime: the group coordinator on the shared coordinator runtime
 * (coordinator_runtime.h), which owns the topic, the appends, elections and the timer; here
 * are only the callbacks between the two. See group_coordinator_runtime.h.
 */
#include "broker/group_coordinator_runtime.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/reset.h"
#include "common/clock.h"
#include "common/log.h"

struct mk_group_runtime_state {
  struct mk_broker *b;
  struct mk_group_coordinator coordinator;
  struct mk_group_config cfg;
  struct mk_coordinator_runtime rt;  /* __consumer_offsets (coordinator_runtime.h) */
  int32_t loading;                   /* the partition load_partition is replaying */
};

/* ---- the topic ---------------------------------------------------------------------------- */

struct mk_topic *mk_group_runtime_offsets_topic(struct mk_broker *b, bool create,
                                                struct mk_err *err) {
  return mk_coordinator_runtime_topic(&b->groups->rt, create, err);
}

int32_t mk_group_runtime_partition_for(struct mk_broker *b, struct mk_str group_id) {
  return mk_coordinator_runtime_partition_for(&b->groups->rt, group_id);
}

/* ---- what the coordinator calls ------------------------------------------------------------ */

static int64_t wall_ms(void *ctx) {
  (void)ctx;
  return mk_wall_ms();
}

static int16_t append(void *ctx, int32_t partition, const struct mk_coordinator_record *records,
                      int nrecords, mk_group_append_done *done, void *arg) {
  struct mk_group_runtime_state *s = ctx;
  return mk_coordinator_runtime_append(&s->rt, partition, NULL, records, nrecords, done, arg);
}

static int16_t append_txn(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                          const struct mk_coordinator_record *records, int nrecords,
                          mk_group_append_done *done, void *arg) {
  struct mk_group_runtime_state *s = ctx;
  struct mk_coordinator_producer producer = {producer_id, producer_epoch};
  return mk_coordinator_runtime_append(&s->rt, partition, &producer, records, nrecords, done, arg);
}

/* ---- what the runtime calls --------------------------------------------------------------- */

/* One record of __consumer_offsets, replayed. */
static void load_record(void *ctx, const struct mk_batch *batch, int64_t offset,
                        const struct mk_record *rec) {
  struct mk_group_runtime_state *s = ctx;
  struct mk_group_metadata_manager *mgr = &s->coordinator.mgr;
  if (batch->is_control) {
    /* A transaction's marker: its staged offsets count (COMMIT) or go (ABORT) from here. */
    enum mk_control_type type;
    int32_t coordinator_epoch;
    if (mk_control_record_parse(rec, &type, &coordinator_epoch, NULL) == 0)
      mk_group_load_marker(mgr, s->loading, batch->producer_id, type == MK_CONTROL_COMMIT);
  } else if (batch->is_transactional) {
    /* TxnOffsetCommit's offsets: staged per producer until its marker, as Kafka's loader. */
    mk_group_load_txn_record(mgr, s->loading, offset, batch->producer_id, rec->key, rec->value);
  } else {
    mk_group_load_record(mgr, s->loading, offset, rec->key, rec->value);
  }
}

/* Partition p's groups from its new leader's log, oldest record first. */
static void load_partition(void *ctx, int32_t p, const struct mk_log *log, int32_t owner,
                           int32_t epoch) {
  struct mk_group_runtime_state *s = ctx;
  mk_group_load_begin(&s->coordinator.mgr, p);
  s->loading = p;
  mk_coordinator_runtime_replay(&s->rt, p, log, load_record, s);
  mk_group_load_end(&s->coordinator.mgr, p);
  mk_group_coordinator_loaded(&s->coordinator, p, owner, epoch);
}

static void unload_partition(void *ctx, int32_t p) {
  struct mk_group_runtime_state *s = ctx;
  mk_group_coordinator_unload(&s->coordinator, p);
}

static void poll(void *ctx) {
  struct mk_group_runtime_state *s = ctx;
  mk_group_coordinator_poll(&s->coordinator);
}

static int64_t next_deadline(void *ctx) {
  struct mk_group_runtime_state *s = ctx;
  return mk_group_coordinator_next_deadline(&s->coordinator);
}

/* ---- life ----------------------------------------------------------------------------------- */

/* Reset (reset.h), before the topics go: the partition writer has answered the writes waiting
 * for the HW (its hook runs first); the requests parked in a group are answered while their
 * connections still exist, then every group is forgotten, as on a broker that just started
 * (__consumer_offsets is created again on first use). */
static void reset_clear(struct mk_broker *b, void *arg) {
  (void)b;
  struct mk_group_runtime_state *s = arg;
  mk_coordinator_runtime_reset(&s->rt);
}

int mk_group_runtime_start(struct mk_broker *b, struct mk_err *err) {
  struct mk_group_runtime_state *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  const struct mk_broker_config *bc = &b->cluster.cfg;
  s->b = b;
  mk_group_config_init(&s->cfg);
  s->cfg.min_session_timeout_ms = bc->group_min_session_timeout_ms;
  s->cfg.max_session_timeout_ms = bc->group_max_session_timeout_ms;
  s->cfg.initial_rebalance_delay_ms = bc->group_initial_rebalance_delay_ms;
  s->cfg.max_size = bc->group_max_size;
  s->cfg.num_partitions = bc->offsets_topic_num_partitions;
  s->cfg.offset_metadata_max_bytes = bc->offset_metadata_max_bytes;
  s->cfg.offsets_retention_ms = (int64_t)bc->offsets_retention_minutes * 60 * 1000;
  s->cfg.offsets_retention_check_interval_ms = bc->offsets_retention_check_interval_ms;
  s->cfg.max_group_bytes = bc->message_max_bytes;
  struct mk_group_runtime grt = {s, wall_ms, append, append_txn};
  if (mk_group_coordinator_init(&s->coordinator, &s->cfg, &grt)) {
    free(s);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  static const struct mk_coordinator_ops ops = {load_partition, unload_partition, poll,
                                                next_deadline};
  int rc = mk_coordinator_runtime_init(&s->rt, b, "group coordinator", MK_CONSUMER_OFFSETS_TOPIC,
                                       bc->offsets_topic_num_partitions,
                                       bc->offsets_topic_replication_factor,
                                       bc->offsets_commit_timeout_ms, &ops, s, err);
  if (rc) {
    mk_group_coordinator_free(&s->coordinator);
    free(s);
    return rc;
  }
  b->groups = s;
  if (mk_reset_hook_add(b, &(struct mk_reset_hook){"group coordinator", reset_clear, NULL, s}))
    mk_log(MK_LOG_WARN, "broker", "no reset hook left for the group coordinator");
  return 0;
}

void mk_group_runtime_free(struct mk_broker *b) {
  struct mk_group_runtime_state *s = b->groups;
  if (!s) return;
  mk_group_coordinator_free(&s->coordinator);
  mk_coordinator_runtime_free(&s->rt);
  free(s);
  b->groups = NULL;
}

struct mk_group_coordinator *mk_group_runtime_enter(struct mk_broker *b) {
  struct mk_group_runtime_state *s = b->groups;
  mk_coordinator_runtime_enter(&s->rt);
  return &s->coordinator;
}

void mk_group_runtime_leave(struct mk_broker *b) { mk_coordinator_runtime_leave(&b->groups->rt); }

void mk_group_runtime_txn_completed(struct mk_broker *b, int32_t partition, int64_t producer_id,
                                    bool commit) {
  /* No ownership sync here (this runs inside the partition writer's answers): a partition
   * that changed hands meanwhile is reloaded from its log, marker included. */
  mk_group_coordinator_txn_completed(&b->groups->coordinator, partition, producer_id, commit);
}
