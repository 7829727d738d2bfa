/*
 * Group coordinator runtime: appends, the high watermark, elections and the timer.
 * See group_coordinator_runtime.h.
 *
 * Nothing here runs inside a coordinator call: an append only notes the write, and the
 * purgatory's check (which may run deep inside that append, when followers copy at once)
 * only kicks the timer. The timer callback, at the top of a loop turn, then completes the
 * writes, follows leadership changes and polls the coordinator's deadlines. So a callback
 * never finds the coordinator in the middle of changing something.
 */
#include "broker/group_coordinator_runtime.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/purgatory.h"
#include "broker/replica_set.h"
#include "broker/reset.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/record_batch.h"

/* A coordinator write waiting for the high watermark. */
struct pending_write {
  int32_t partition;
  int32_t leader;           /* who appended it, in which leader epoch */
  int32_t leader_epoch;
  int64_t required_offset;  /* the HW must reach this (last offset + 1) */
  int64_t deadline_ms;      /* offsets.commit.timeout.ms after the append */
  mk_group_append_done *done;
  void *arg;
  struct pending_write *next;
};

struct mk_group_runtime_state {
  struct mk_broker *b;
  struct mk_group_coordinator coordinator;
  struct mk_group_config cfg;
  uv_timer_t timer;
  bool timer_started;
  struct pending_write *writes, **writes_tail;
  struct mk_uuid topic_id;  /* the __consumer_offsets the loaded partitions came from */
  bool have_topic;
  bool closing;             /* being freed: no more appends */
};

static const struct mk_str offsets_topic_name = {MK_CONSUMER_OFFSETS_TOPIC,
                                                 sizeof MK_CONSUMER_OFFSETS_TOPIC - 1};

bool mk_topic_is_internal(struct mk_str name) {
  return mk_str_eq(name, MK_CONSUMER_OFFSETS_TOPIC) || mk_str_eq(name, MK_TRANSACTION_STATE_TOPIC);
}

/* ---- the topic ---------------------------------------------------------------------------- */

struct mk_topic *mk_group_runtime_offsets_topic(struct mk_broker *b, bool create,
                                                struct mk_err *err) {
  struct mk_cluster *c = &b->cluster;
  struct mk_topic *t = mk_cluster_find_topic(c, offsets_topic_name);
  if (t || !create) return t;
  int32_t rf = c->cfg.offsets_topic_replication_factor;
  if (mk_cluster_create_topic(c, offsets_topic_name, c->cfg.offsets_topic_num_partitions, rf, &t,
                              err)) {
    mk_log(MK_LOG_WARN, "broker", "cannot create %s: %s", MK_CONSUMER_OFFSETS_TOPIC,
           err ? err->msg : "");
    return NULL;
  }
  /* Kafka compacts this topic; we cannot (see the header), so nothing may expire from it.
   * Its commits are acks=all: with fewer replicas than min.insync.replicas (a one-broker
   * cluster) no commit could ever succeed, so the topic asks for at most what it has. */
  static const char *const no_retention[] = {"retention.ms", "retention.bytes"};
  for (size_t i = 0; i < sizeof no_retention / sizeof no_retention[0]; i++)
    mk_topic_config_set(&t->config, mk_str_of(no_retention[i]), mk_str_of("-1"), NULL);
  if (c->cfg.min_insync_replicas > rf) t->config.min_insync_replicas = rf;
  mk_log(MK_LOG_INFO, "broker", "created %s: %d partitions, replication factor %d",
         MK_CONSUMER_OFFSETS_TOPIC, t->npartitions, rf);
  return t;
}

int32_t mk_group_runtime_partition_for(struct mk_broker *b, struct mk_str group_id) {
  struct mk_topic *t = mk_group_runtime_offsets_topic(b, false, NULL);
  return mk_group_partition_for(group_id, t ? t->npartitions
                                            : b->cluster.cfg.offsets_topic_num_partitions);
}

/* ---- appends ------------------------------------------------------------------------------ */

static int64_t wall_ms(void *ctx) {
  (void)ctx;
  return mk_wall_ms();
}

static void kick(struct mk_group_runtime_state *s);

/* The coordinator's records as one batch at the end of partition p's leader log. */
static int16_t append(void *ctx, int32_t partition, const struct mk_coordinator_record *records,
                      int nrecords, mk_group_append_done *done, void *arg) {
  struct mk_group_runtime_state *s = ctx;
  struct mk_broker *b = s->b;
  if (s->closing) return MK_ERR_NOT_LEADER_OR_FOLLOWER;
  struct mk_topic *t = mk_group_runtime_offsets_topic(b, false, NULL);
  struct mk_partition *p = mk_cluster_partition(t, partition);
  if (!p) return MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
  int32_t owner = s->coordinator.mgr.parts[partition].owner;
  struct mk_replica *leader = mk_partition_leader(p);
  int32_t loaded_epoch = s->coordinator.mgr.parts[partition].leader_epoch;
  if (!leader || p->leader != owner || p->leader_epoch != loaded_epoch)
    return MK_ERR_NOT_LEADER_OR_FOLLOWER;
  if (done && mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, t))
    return MK_ERR_NOT_ENOUGH_REPLICAS;

  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  struct mk_err err = {0};
  int64_t ts = mk_wall_ms();
  int rc = 0;
  for (int i = 0; i < nrecords && !rc; i++) {
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
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: cannot build the coordinator's records: %s",
           MK_CONSUMER_OFFSETS_TOPIC, partition, err.msg[0] ? err.msg : mk_err_name(rc));
    free(bytes);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  int32_t max = mk_topic_max_message_bytes(&b->cluster, t);
  if (len > (size_t)max) {
    mk_log(MK_LOG_WARN, "broker", "%s-%d: a coordinator batch of %zu bytes exceeds "
           "max.message.bytes (%d)", MK_CONSUMER_OFFSETS_TOPIC, partition, len, max);
    free(bytes);
    return MK_ERR_RECORD_LIST_TOO_LARGE;
  }
  struct mk_buffer *buf = mk_buffer_new(len);
  struct mk_record_batch parsed;
  if (buf) memcpy(buf->data, bytes, len);
  free(bytes);
  if (!buf || mk_record_batch_parse(buf->data, len, &parsed, &err)) {
    mk_buffer_unref(buf);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  struct pending_write *w = done ? calloc(1, sizeof *w) : NULL;
  struct mk_batch *stored = mk_batch_new(&parsed, leader->log.log_end_offset, p->leader_epoch, ts, buf);
  mk_buffer_unref(buf);
  if ((done && !w) || !stored || mk_log_append(&leader->log, stored, &err)) {
    mk_batch_unref(stored);
    free(w);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  if (w) {
    w->partition = partition;
    w->leader = p->leader;
    w->leader_epoch = p->leader_epoch;
    w->required_offset = stored->last_offset + 1;
    w->deadline_ms = ts + b->cluster.cfg.offsets_commit_timeout_ms;
    w->done = done;
    w->arg = arg;
    *s->writes_tail = w;
    s->writes_tail = &w->next;
    kick(s);
  }
  mk_batch_unref(stored);
  /* Followers copy it (now, or later when lagging); the HW moving wakes the purgatory,
   * whose watcher kicks our timer. */
  mk_replica_set_replicate(b, p);
  return 0;
}

/* Answer the writes that are decided: committed, failed over, or out of time. */
static void complete_writes(struct mk_group_runtime_state *s) {
  struct mk_broker *b = s->b;
  int64_t t = mk_wall_ms();
  struct pending_write **pp = &s->writes;
  while (*pp) {
    struct pending_write *w = *pp;
    struct mk_topic *topic = mk_group_runtime_offsets_topic(b, false, NULL);
    struct mk_partition *p = mk_cluster_partition(topic, w->partition);
    int16_t error = -1;  /* -1: not decided yet */
    if (!p || p->leader != w->leader || p->leader_epoch != w->leader_epoch) {
      error = MK_ERR_NOT_LEADER_OR_FOLLOWER;
    } else if (p->high_watermark >= w->required_offset) {
      error = mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, topic)
                  ? MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND : 0;
    } else if (t >= w->deadline_ms) {
      error = MK_ERR_REQUEST_TIMED_OUT;
    }
    if (error < 0) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    if (!*pp) s->writes_tail = pp;
    w->done(w->arg, error);  /* may append more (at the tail) */
    free(w);
    if (!*pp) s->writes_tail = pp;
  }
}

/* ---- elections ---------------------------------------------------------------------------- */

/* Load partition p's groups from broker `leader`'s replica of the log, oldest record first. */
static void load_partition(struct mk_group_runtime_state *s, struct mk_partition *p) {
  struct mk_group_metadata_manager *mgr = &s->coordinator.mgr;
  struct mk_replica *r = mk_partition_leader(p);
  mk_group_load_begin(mgr, p->index);
  for (size_t i = 0; r && i < r->log.count; i++) {
    const struct mk_batch *batch = mk_log_batch(&r->log, i);
    if (batch->is_control || batch->is_transactional) {
      /* Hook for transactions (DESIGN.md 3.6): TxnOffsetCommit writes its offsets in
       * transactional batches, which count only once a COMMIT marker follows. Nothing
       * writes them yet; when something does, keep them per producer id here and apply them
       * at the marker, as Kafka's loader does. */
      continue;
    }
    struct mk_record_batch parsed;
    mk_batch_parsed(batch, &parsed);
    struct mk_record_reader rr;
    struct mk_err err = {0};
    if (mk_record_reader_init(&rr, &parsed, 64 << 20, &err)) {
      mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the batch at offset %lld while loading: %s",
             MK_CONSUMER_OFFSETS_TOPIC, p->index, (long long)batch->base_offset, err.msg);
      continue;
    }
    struct mk_record rec;
    while (mk_record_reader_next(&rr, &rec, &err) == 0)
      mk_group_load_record(mgr, p->index, batch->base_offset + rec.offset_delta, rec.key, rec.value);
    mk_record_reader_free(&rr);
  }
  mk_group_load_end(mgr, p->index);
  mk_group_coordinator_loaded(&s->coordinator, p->index, p->leader, p->leader_epoch);
}

/* Bring the coordinator's partitions in line with the cluster: a partition whose leader or
 * leader epoch changed is unloaded by its old owner and loaded from its new leader's log. */
static void sync_leadership(struct mk_group_runtime_state *s) {
  struct mk_broker *b = s->b;
  struct mk_group_metadata_manager *mgr = &s->coordinator.mgr;
  struct mk_topic *t = mk_group_runtime_offsets_topic(b, false, NULL);
  bool same_topic = t && s->have_topic && memcmp(&t->id, &s->topic_id, sizeof t->id) == 0;
  if (!same_topic) {  /* deleted, recreated, or created by someone else: start over */
    for (int32_t p = 0; p < mgr->nparts; p++)
      if (mgr->parts[p].owner >= 0) mk_group_coordinator_unload(&s->coordinator, p);
    s->have_topic = t != NULL;
    if (t) s->topic_id = t->id;
    if (t && t->npartitions != mgr->nparts) {
      /* Its partition count decides where groups live (Kafka reads it from the topic). */
      struct mk_offsets_partition *parts = realloc(mgr->parts, sizeof *parts * (size_t)t->npartitions);
      if (parts) {
        mgr->parts = parts;
        mgr->nparts = t->npartitions;
        for (int32_t p = 0; p < mgr->nparts; p++) parts[p].owner = parts[p].leader_epoch = -1;
      }
    }
  }
  if (!t || t->npartitions != mgr->nparts) return;
  for (int32_t i = 0; i < t->npartitions; i++) {
    struct mk_partition *p = t->partitions[i];
    struct mk_offsets_partition *own = &mgr->parts[i];
    int32_t leader = p->leader >= 0 && b->cluster.nodes[p->leader].up ? p->leader : -1;
    if (own->owner == leader && (leader < 0 || own->leader_epoch == p->leader_epoch)) continue;
    if (own->owner >= 0) mk_group_coordinator_unload(&s->coordinator, i);
    if (leader >= 0) load_partition(s, p);
  }
}

/* ---- the timer ---------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *timer);

static void arm(struct mk_group_runtime_state *s) {
  int64_t next = mk_group_coordinator_next_deadline(&s->coordinator);
  for (struct pending_write *w = s->writes; w; w = w->next)
    if (next < 0 || w->deadline_ms < next) next = w->deadline_ms;
  if (next < 0) {
    uv_timer_stop(&s->timer);
    return;
  }
  int64_t wait = next - mk_wall_ms();
  uint64_t due = wait > 0 ? (uint64_t)wait : 0;
  if (uv_is_active((uv_handle_t *)&s->timer) && uv_timer_get_due_in(&s->timer) <= due) return;
  uv_timer_start(&s->timer, on_timer, due, 0);
}

/* Run at the next loop turn. */
static void kick(struct mk_group_runtime_state *s) {
  if (!uv_is_closing((uv_handle_t *)&s->timer)) uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void on_timer(uv_timer_t *timer) {
  struct mk_group_runtime_state *s = timer->data;
  complete_writes(s);
  sync_leadership(s);
  mk_group_coordinator_poll(&s->coordinator);
  complete_writes(s);  /* what polling wrote may already be decided (a failed append) */
  arm(s);
}

/* The purgatory's watcher: a HW moved or a leader changed somewhere. Act at the next turn if
 * it may concern us. */
static void on_check(struct mk_broker *b, void *arg) {
  struct mk_group_runtime_state *s = arg;
  if (s->writes) {
    kick(s);
    return;
  }
  struct mk_topic *t = mk_group_runtime_offsets_topic(b, false, NULL);
  if (!t != !s->have_topic) {
    kick(s);
    return;
  }
  const struct mk_group_metadata_manager *mgr = &s->coordinator.mgr;
  for (int32_t i = 0; t && i < t->npartitions && i < mgr->nparts; i++) {
    const struct mk_partition *p = t->partitions[i];
    if (mgr->parts[i].owner != p->leader || mgr->parts[i].leader_epoch != p->leader_epoch) {
      kick(s);
      return;
    }
  }
}

/* ---- life ----------------------------------------------------------------------------------- */

/* Answer every write still waiting for the high watermark with `error` (no more are taken
 * meanwhile: what the answers write is refused). */
static void fail_writes(struct mk_group_runtime_state *s, int16_t error) {
  bool was_closing = s->closing;
  s->closing = true;
  while (s->writes) {
    struct pending_write *w = s->writes;
    s->writes = w->next;
    w->done(w->arg, error);
    free(w);
  }
  s->writes_tail = &s->writes;
  s->closing = was_closing;
}

/* Reset (reset.h), before the topics go: the requests waiting on a write or parked in a group
 * are answered while their connections still exist, then every group is forgotten, as on a
 * broker that just started (__consumer_offsets is created again on first use). */
static void reset_clear(struct mk_broker *b, void *arg) {
  (void)b;
  struct mk_group_runtime_state *s = arg;
  fail_writes(s, MK_ERR_NOT_COORDINATOR);
  for (int32_t p = 0; p < s->coordinator.mgr.nparts; p++)
    if (s->coordinator.mgr.parts[p].owner >= 0) mk_group_coordinator_unload(&s->coordinator, p);
  s->have_topic = false;
  uv_timer_stop(&s->timer);
}

int mk_group_runtime_start(struct mk_broker *b, struct mk_err *err) {
  struct mk_group_runtime_state *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  const struct mk_broker_config *bc = &b->cluster.cfg;
  s->b = b;
  s->writes_tail = &s->writes;
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
  struct mk_group_runtime rt = {s, wall_ms, append};
  if (mk_group_coordinator_init(&s->coordinator, &s->cfg, &rt)) {
    free(s);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (mk_purgatory_watch(b, on_check, s)) {
    mk_group_coordinator_free(&s->coordinator);
    free(s);
    return mk_err_set(err, MK_ERR__STATE, "no purgatory watcher slot left");
  }
  uv_timer_init(&b->loop, &s->timer);
  s->timer.data = s;
  uv_unref((uv_handle_t *)&s->timer);
  b->groups = s;
  if (mk_reset_hook_add(b, &(struct mk_reset_hook){"group coordinator", reset_clear, NULL, s}))
    mk_log(MK_LOG_WARN, "broker", "no reset hook left for the group coordinator");
  return 0;
}

void mk_group_runtime_free(struct mk_broker *b) {
  struct mk_group_runtime_state *s = b->groups;
  if (!s) return;
  fail_writes(s, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  s->closing = true;
  mk_group_coordinator_free(&s->coordinator);
  free(s);
  b->groups = NULL;
}

struct mk_group_coordinator *mk_group_runtime_enter(struct mk_broker *b) {
  struct mk_group_runtime_state *s = b->groups;
  complete_writes(s);
  sync_leadership(s);
  return &s->coordinator;
}

void mk_group_runtime_leave(struct mk_broker *b) { arm(b->groups); }
