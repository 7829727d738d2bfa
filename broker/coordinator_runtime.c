/*
 * Coordinator runtime: the internal topic, ownership, appends, replays and the timer. See
 * coordinator_runtime.h.
 *
 * Nothing here runs inside a coordinator call: the purgatory's check (which may run deep
 * inside an append, when followers copy at once) only kicks the timer. The timer callback,
 * at the top of a loop turn, follows leadership changes and polls the coordinator's
 * deadlines, so a callback never finds the coordinator in the middle of changing something.
 */
#include "broker/coordinator_runtime.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/internal_topics.h"
#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"

bool mk_topic_is_internal(struct mk_str name) {
  return mk_str_eq(name, MK_CONSUMER_OFFSETS_TOPIC) || mk_str_eq(name, MK_TRANSACTION_STATE_TOPIC);
}

/* ---- the topic ------------------------------------------------------------------------------ */

struct mk_topic *mk_coordinator_runtime_topic(struct mk_coordinator_runtime *rt, bool create,
                                              struct mk_err *err) {
  struct mk_cluster *c = &rt->b->cluster;
  struct mk_topic *t = mk_cluster_find_topic(c, mk_str_of(rt->topic));
  if (t || !create) return t;
  int32_t rf = rt->replication_factor;
  if (mk_cluster_create_topic(c, mk_str_of(rt->topic), rt->num_partitions, rf, &t, err)) {
    mk_log(MK_LOG_WARN, "broker", "cannot create %s: %s", rt->topic, err ? err->msg : "");
    return NULL;
  }
  mk_internal_topic_configure(c, t, rf, rt->min_insync_replicas);
  mk_log(MK_LOG_INFO, "broker", "created %s: %d partitions, replication factor %d", rt->topic,
         t->npartitions, rf);
  return t;
}

int32_t mk_coordinator_runtime_partition_for(struct mk_coordinator_runtime *rt, struct mk_str key) {
  struct mk_topic *t = mk_coordinator_runtime_topic(rt, false, NULL);
  return mk_coordinator_partition_for(key, t ? t->npartitions : rt->num_partitions);
}

/* ---- appends -------------------------------------------------------------------------------- */

int16_t mk_coordinator_runtime_append(struct mk_coordinator_runtime *rt, int32_t partition,
                                      const struct mk_coordinator_producer *producer,
                                      const struct mk_coordinator_record *records, int n,
                                      mk_partition_write_done *done, void *arg) {
  struct mk_topic *t = mk_coordinator_runtime_topic(rt, false, NULL);
  struct mk_partition *p = mk_cluster_partition(t, partition);
  if (!p) return MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
  if (partition >= rt->nparts || rt->parts[partition].owner < 0 ||
      p->leader != rt->parts[partition].owner)
    return MK_ERR_NOT_LEADER_OR_FOLLOWER;

  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  if (producer) {
    /* A transaction's records (TxnOffsetCommit): they count once its COMMIT marker follows. */
    bb.attributes = MK_ATTR_TRANSACTIONAL;
    bb.producer_id = producer->producer_id;
    bb.producer_epoch = producer->producer_epoch;
  }
  struct mk_err err = {0};
  int64_t ts = mk_wall_ms();
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    struct mk_writer key, value;
    mk_writer_init(&key);
    mk_writer_init(&value);
    rc = mk_coordinator_record_encode(&records[i], &key, &value, &err);
    if (!rc && (key.failed || value.failed)) rc = MK_ERR__NO_MEMORY;
    if (!rc)
      rc = mk_record_batch_builder_append(
          &bb, ts, (struct mk_bytes){key.buf, (int32_t)key.len},
          records[i].tombstone ? MK_BYTES_NULL : (struct mk_bytes){value.buf, (int32_t)value.len},
          NULL, 0);
    mk_writer_free(&key);
    mk_writer_free(&value);
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (!rc) rc = mk_record_batch_builder_take(&bb, &bytes, &len, &err);
  mk_record_batch_builder_free(&bb);
  if (rc) {
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: cannot build the %s's records: %s", rt->topic,
           partition, rt->name, err.msg[0] ? err.msg : mk_err_name(rc));
    free(bytes);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  struct mk_partition_write w = {
      .p = p,
      .batch = bytes,
      .len = len,
      .leader_epoch = rt->parts[partition].leader_epoch,
      .coordinator_epoch = -1,
      .timeout_ms = rt->write_timeout_ms,
      .done = done,
      .arg = arg,
  };
  int16_t error = mk_partition_writer_append(rt->b, &w, NULL);
  free(bytes);
  return error;
}

void mk_coordinator_runtime_replay(const struct mk_coordinator_runtime *rt, int32_t partition,
                                   const struct mk_log *log, mk_coordinator_replay_fn *fn,
                                   void *ctx) {
  for (size_t i = 0; log && i < log->count; i++) {
    const struct mk_batch *batch = mk_log_batch(log, i);
    struct mk_record_batch parsed;
    mk_batch_parsed(batch, &parsed);
    struct mk_record_reader rr;
    struct mk_err err = {0};
    if (mk_record_reader_init(&rr, &parsed, 64 << 20, &err)) {
      mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the batch at offset %lld while loading: %s",
             rt->topic, partition, (long long)batch->base_offset, err.msg);
      continue;
    }
    struct mk_record rec;
    while (mk_record_reader_next(&rr, &rec, &err) == 0)
      fn(ctx, batch, batch->base_offset + rec.offset_delta, &rec);
    mk_record_reader_free(&rr);
  }
}

/* ---- elections -------------------------------------------------------------------------------- */

static void unload_all(struct mk_coordinator_runtime *rt) {
  for (int32_t p = 0; p < rt->nparts; p++) {
    if (rt->parts[p].owner < 0) continue;
    rt->parts[p].owner = rt->parts[p].leader_epoch = -1;
    rt->ops.unload(rt->ctx, p);
  }
}

/* Bring ownership in line with the cluster: a partition whose leader or leader epoch changed
 * is unloaded by its old owner and loaded from its new leader's log. */
static void sync_leadership(struct mk_coordinator_runtime *rt) {
  struct mk_broker *b = rt->b;
  struct mk_topic *t = mk_coordinator_runtime_topic(rt, false, NULL);
  bool same_topic = t && rt->have_topic && memcmp(&t->id, &rt->topic_id, sizeof t->id) == 0;
  if (!same_topic) {  /* deleted, recreated, or created by someone else: start over */
    unload_all(rt);
    rt->have_topic = t != NULL;
    if (t) rt->topic_id = t->id;
    if (t && t->npartitions != rt->nparts) {
      /* Its partition count decides where keys live (Kafka reads it from the topic). */
      struct mk_coordinator_partition *parts =
          realloc(rt->parts, sizeof *parts * (size_t)t->npartitions);
      if (parts) {
        rt->parts = parts;
        rt->nparts = t->npartitions;
        for (int32_t p = 0; p < rt->nparts; p++) parts[p].owner = parts[p].leader_epoch = -1;
      }
    }
  }
  if (!t || t->npartitions != rt->nparts) return;
  for (int32_t i = 0; i < t->npartitions; i++) {
    struct mk_partition *p = t->partitions[i];
    struct mk_coordinator_partition *own = &rt->parts[i];
    int32_t leader = p->leader >= 0 && b->cluster.nodes[p->leader].up ? p->leader : -1;
    if (own->owner == leader && (leader < 0 || own->leader_epoch == p->leader_epoch)) continue;
    if (own->owner >= 0) {
      own->owner = own->leader_epoch = -1;
      rt->ops.unload(rt->ctx, i);
    }
    if (leader < 0) continue;
    own->owner = leader;
    own->leader_epoch = p->leader_epoch;
    struct mk_replica *r = mk_partition_leader(p);
    rt->ops.load(rt->ctx, i, r ? &r->log : NULL, leader, p->leader_epoch);
  }
}

/* ---- the timer -------------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *timer);

void mk_coordinator_runtime_leave(struct mk_coordinator_runtime *rt) {
  int64_t next = rt->ops.next_deadline(rt->ctx);
  if (next < 0) {
    uv_timer_stop(&rt->timer);
    return;
  }
  int64_t wait = next - mk_wall_ms();
  uint64_t due = wait > 0 ? (uint64_t)wait : 0;
  if (uv_is_active((uv_handle_t *)&rt->timer) && uv_timer_get_due_in(&rt->timer) <= due) return;
  uv_timer_start(&rt->timer, on_timer, due, 0);
}

void mk_coordinator_runtime_kick(struct mk_coordinator_runtime *rt) {
  if (!uv_is_closing((uv_handle_t *)&rt->timer)) uv_timer_start(&rt->timer, on_timer, 0, 0);
}

void mk_coordinator_runtime_enter(struct mk_coordinator_runtime *rt) {
  mk_partition_writer_complete(rt->b);
  sync_leadership(rt);
}

static void on_timer(uv_timer_t *timer) {
  struct mk_coordinator_runtime *rt = timer->data;
  mk_coordinator_runtime_enter(rt);
  rt->ops.poll(rt->ctx);
  mk_coordinator_runtime_leave(rt);
}

/* The purgatory's watcher: a leader changed somewhere, perhaps one of ours. */
static void on_check(struct mk_broker *b, void *arg) {
  struct mk_coordinator_runtime *rt = arg;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, mk_str_of(rt->topic));
  if (!t != !rt->have_topic) {
    mk_coordinator_runtime_kick(rt);
    return;
  }
  for (int32_t i = 0; t && i < t->npartitions && i < rt->nparts; i++) {
    const struct mk_partition *p = t->partitions[i];
    if (rt->parts[i].owner != p->leader || rt->parts[i].leader_epoch != p->leader_epoch) {
      mk_coordinator_runtime_kick(rt);
      return;
    }
  }
}

/* ---- life ------------------------------------------------------------------------------------- */

void mk_coordinator_runtime_reset(struct mk_coordinator_runtime *rt) {
  unload_all(rt);
  rt->have_topic = false;
  uv_timer_stop(&rt->timer);
}

int mk_coordinator_runtime_init(struct mk_coordinator_runtime *rt, struct mk_broker *b,
                                const char *name, const char *topic, int32_t num_partitions,
                                int32_t replication_factor, int64_t write_timeout_ms,
                                const struct mk_coordinator_ops *ops, void *ctx,
                                struct mk_err *err) {
  memset(rt, 0, sizeof *rt);
  rt->b = b;
  rt->name = name;
  rt->topic = topic;
  rt->num_partitions = num_partitions;
  rt->replication_factor = replication_factor;
  rt->write_timeout_ms = write_timeout_ms;
  rt->min_insync_replicas = -1;
  rt->ops = *ops;
  rt->ctx = ctx;
  rt->nparts = num_partitions > 0 ? num_partitions : 1;
  rt->parts = calloc((size_t)rt->nparts, sizeof *rt->parts);
  if (!rt->parts) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int32_t p = 0; p < rt->nparts; p++) rt->parts[p].owner = rt->parts[p].leader_epoch = -1;
  if (mk_purgatory_watch(b, on_check, rt)) {
    free(rt->parts);
    rt->parts = NULL;
    return mk_err_set(err, MK_ERR__STATE, "no purgatory watcher slot left for the %s", name);
  }
  uv_timer_init(&b->loop, &rt->timer);
  rt->timer.data = rt;
  uv_unref((uv_handle_t *)&rt->timer);
  return 0;
}

void mk_coordinator_runtime_free(struct mk_coordinator_runtime *rt) {
  free(rt->parts);
  rt->parts = NULL;
  rt->nparts = 0;
}
