/*
 * Replica set: follower copying, the ISR, the high watermark and leader changes.
 * See replica_set.h.
 */
#include "broker/replica_set.h"
#include "broker/broker_internal.h"

#include <string.h>

#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

static bool node_up(const struct mk_broker *b, int32_t id) { return b->cluster.nodes[id].up; }

/* "isr":[0,2] in a trace event: the partition's in-sync replicas, in replica order. */
static void trace_isr_field(struct mk_trace_event *ev, const struct mk_partition *p) {
  mk_trace_array_begin(ev, "isr");
  for (int r = 0; r < p->nreplicas; r++)
    if (p->replicas[r].in_isr) mk_trace_int(ev, NULL, p->replicas[r].broker_id);
  mk_trace_array_end(ev);
}

static void trace_isr(const char *event, const struct mk_partition *p, int32_t broker) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_str(&ev, "topic", p->topic->name);
  mk_trace_int(&ev, "partition", p->index);
  mk_trace_int(&ev, "broker", broker);
  trace_isr_field(&ev, p);
  mk_trace_end(&ev);
}

/* ---- copying --------------------------------------------------------------------------- */

/* Copy the batches follower may have now from the leader's log (shared, not duplicated):
 * all of them, or for a lagging follower those appended at least lag_ms ago. Returns the
 * wall time at which the next batch it is missing becomes due, or -1 if none is missing. */
static int64_t copy_from_leader(struct mk_partition *p, struct mk_replica *leader,
                                struct mk_replica *follower, int64_t now_ms) {
  int64_t from = follower->log.log_end_offset;
  int64_t due = -1;
  for (size_t i = mk_log_find(&leader->log, from); i < leader->log.count; i++) {
    struct mk_batch *batch = mk_log_batch(&leader->log, i);
    if (follower->paused) {
      due = -1;  /* nothing is due while paused */
      break;
    }
    if (batch->append_time_ms + follower->lag_ms > now_ms) {
      due = batch->append_time_ms + follower->lag_ms;
      break;
    }
    struct mk_err err = {0};
    if (mk_log_append(&follower->log, batch, &err)) {
      /* Its log ends where no leader batch starts: it diverged and was not truncated. */
      mk_log(MK_LOG_ERROR, "broker", "replica %d of %s-%d cannot copy: %s", follower->broker_id,
             p->topic->name, p->index, err.msg);
      break;
    }
  }
  if (follower->log.log_end_offset > from && mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "replicate");
    mk_trace_str(&ev, "topic", p->topic->name);
    mk_trace_int(&ev, "partition", p->index);
    mk_trace_int(&ev, "broker", follower->broker_id);
    mk_trace_int(&ev, "from_offset", from);
    mk_trace_int(&ev, "log_end_offset", follower->log.log_end_offset);
    mk_trace_end(&ev);
  }
  return due;
}

/* Kafka's maybeExpandIsr: a follower that reached the high watermark (and has everything
 * of the current leader epoch's start) is back in sync. */
static void maybe_expand_isr(struct mk_broker *b, struct mk_partition *p, struct mk_replica *f) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (f->in_isr || f == leader || !node_up(b, f->broker_id)) return;
  if (f->log.log_end_offset < p->high_watermark) return;
  f->in_isr = true;
  mk_log(MK_LOG_INFO, "broker", "%s-%d: replica %d rejoins the ISR", p->topic->name, p->index,
         f->broker_id);
  trace_isr("isr_expand", p, f->broker_id);
}

static void on_lag_timer(uv_timer_t *timer);

/* Schedule the lag timer for the earliest moment a lagging follower has a batch due. */
static void schedule_lag_timer(struct mk_broker *b, int64_t due_ms) {
  if (due_ms < 0) return;
  int64_t wait = due_ms - mk_wall_ms();
  if (wait < 0) wait = 0;
  uint64_t due_in = (uint64_t)wait;
  if (uv_is_active((uv_handle_t *)&b->lag_timer) &&
      uv_timer_get_due_in(&b->lag_timer) <= due_in)
    return;
  uv_timer_start(&b->lag_timer, on_lag_timer, due_in, 0);
}

void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  int64_t now = mk_wall_ms(), next_due = -1;
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f == leader || !node_up(b, f->broker_id)) continue;
    int64_t due = copy_from_leader(p, leader, f, now);
    if (due >= 0 && (next_due < 0 || due < next_due)) next_due = due;
  }
  bool moved = mk_replica_set_update_hw(b, p);
  /* After the HW: a follower rejoins once it has reached it (and adding one whose log
   * reaches the HW can never move the HW, so it is not recomputed). */
  for (int r = 0; r < p->nreplicas; r++) maybe_expand_isr(b, p, &p->replicas[r]);
  schedule_lag_timer(b, next_due);
  if (moved) mk_purgatory_check(b);
}

bool mk_replica_set_update_hw(struct mk_broker *b, struct mk_partition *p) {
  (void)b;
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return false;
  int64_t hw = leader->log.log_end_offset;
  for (int r = 0; r < p->nreplicas; r++)
    if (p->replicas[r].in_isr && p->replicas[r].log.log_end_offset < hw)
      hw = p->replicas[r].log.log_end_offset;
  if (hw <= p->high_watermark) return false;
  int64_t old = p->high_watermark;
  p->high_watermark = hw;
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "hw_advance");
    mk_trace_str(&ev, "topic", p->topic->name);
    mk_trace_int(&ev, "partition", p->index);
    mk_trace_int(&ev, "from", old);
    mk_trace_int(&ev, "high_watermark", hw);
    mk_trace_end(&ev);
  }
  return true;
}

/* ---- timers ---------------------------------------------------------------------------- */

/* Every partition of every topic, as `p`. */
#define FOR_EACH_PARTITION(b, p)                               \
  for (struct mk_topic *t_ = (b)->cluster.topics; t_; t_ = t_->next)   \
    for (struct mk_partition **pp_ = t_->partitions, *p;                        \
         pp_ < t_->partitions + t_->npartitions && (p = *pp_); pp_++)

static void on_lag_timer(uv_timer_t *timer) {
  struct mk_broker *b = timer->data;
  FOR_EACH_PARTITION(b, p) mk_replica_set_replicate(b, p);
}

/* Kafka's maybeShrinkIsr: out of sync = missing a batch appended more than
 * replica.lag.time.max.ms ago. */
static void shrink_isr(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  int64_t now = mk_wall_ms();
  bool changed = false;
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f == leader || !f->in_isr) continue;
    size_t missing = mk_log_find(&leader->log, f->log.log_end_offset);
    if (missing == leader->log.count) continue;  /* caught up */
    int64_t behind_ms = now - mk_log_batch(&leader->log, missing)->append_time_ms;
    if (behind_ms <= b->cluster.cfg.replica_lag_time_max_ms) continue;
    f->in_isr = false;
    changed = true;
    mk_log(MK_LOG_INFO, "broker",
           "%s-%d: replica %d leaves the ISR (%lld ms behind, replica.lag.time.max.ms=%lld)",
           p->topic->name, p->index, f->broker_id, (long long)behind_ms,
           (long long)b->cluster.cfg.replica_lag_time_max_ms);
    trace_isr("isr_shrink", p, f->broker_id);
  }
  /* A smaller ISR may let the HW move; waiting acks=all requests must look again either
   * way (they may now owe NOT_ENOUGH_REPLICAS_AFTER_APPEND). */
  if (changed) {
    mk_replica_set_update_hw(b, p);
    mk_purgatory_check(b);
  }
}

static void on_isr_timer(uv_timer_t *timer) {
  struct mk_broker *b = timer->data;
  FOR_EACH_PARTITION(b, p) shrink_isr(b, p);
}

void mk_replica_set_start(struct mk_broker *b) {
  uint64_t every = (uint64_t)(b->cluster.cfg.replica_lag_time_max_ms / 2);
  if (every < 1) every = 1;
  uv_timer_init(&b->loop, &b->isr_timer);
  b->isr_timer.data = b;
  uv_timer_start(&b->isr_timer, on_isr_timer, every, every);
  uv_unref((uv_handle_t *)&b->isr_timer);
  uv_timer_init(&b->loop, &b->lag_timer);
  b->lag_timer.data = b;
  uv_unref((uv_handle_t *)&b->lag_timer);
}

/* ---- leader changes -------------------------------------------------------------------- */

/* A follower's truncation when it starts following `leader` (KIP-101, KIP-279): ask where
 * the follower's latest leader epoch ended in the leader's log; if the leader's answer is
 * an older epoch, the follower also looks up where that epoch ended in its own log; cut
 * at the smaller. A follower with no epoch history keeps what the leader also has. */
static void truncate_to_leader(struct mk_partition *p, struct mk_replica *f,
                               struct mk_replica *leader) {
  int64_t before = f->log.log_end_offset, to = before;
  int32_t epoch = mk_log_latest_epoch(&f->log), leader_epoch;
  int64_t leader_end;
  if (epoch < 0) {
    to = leader->log.log_end_offset < before ? leader->log.log_end_offset : before;
  } else if (mk_log_end_offset_for_epoch(&leader->log, epoch, &leader_epoch, &leader_end)) {
    to = leader_end;
    int64_t own_end;
    if (leader_epoch != epoch && mk_log_end_offset_for_epoch(&f->log, leader_epoch, NULL, &own_end) &&
        own_end < to)
      to = own_end;
  } else {
    to = leader->log.log_start_offset;  /* no common epoch: keep nothing the leader lacks */
  }
  if (to > before) to = before;
  if (to < before) {
    mk_log_truncate_to(&f->log, to);
    mk_log(MK_LOG_INFO, "broker", "%s-%d: replica %d truncates its log from %lld to %lld",
           p->topic->name, p->index, f->broker_id, (long long)before,
           (long long)f->log.log_end_offset);
    if (mk_trace_on()) {
      struct mk_trace_event ev;
      mk_trace_begin(&ev, "broker", "truncate");
      mk_trace_str(&ev, "topic", p->topic->name);
      mk_trace_int(&ev, "partition", p->index);
      mk_trace_int(&ev, "broker", f->broker_id);
      mk_trace_int(&ev, "from", before);
      mk_trace_int(&ev, "to", f->log.log_end_offset);
      mk_trace_int(&ev, "lost_records", before - f->log.log_end_offset);
      mk_trace_end(&ev);
    }
  }
}

int mk_replica_set_elect(struct mk_broker *b, struct mk_partition *p, int32_t broker_id,
                         bool unclean, struct mk_err *err) {
  struct mk_replica *r = broker_id >= 0 ? mk_partition_replica(p, broker_id) : NULL;
  if (broker_id >= 0 && !r)
    return mk_err_set(err, MK_ERR__STATE, "broker %d has no replica of %s-%d", broker_id,
                      p->topic->name, p->index);
  if (r && !node_up(b, broker_id))
    return mk_err_set(err, MK_ERR__STATE, "broker %d is down", broker_id);
  int32_t old = p->leader;
  p->leader = broker_id;
  p->leader_epoch++;
  if (r) {
    mk_log_assign_epoch(&r->log, p->leader_epoch, r->log.log_end_offset);
    if (unclean || !r->in_isr) {
      for (int i = 0; i < p->nreplicas; i++) p->replicas[i].in_isr = false;
      unclean = true;
    }
    r->in_isr = true;
    if (p->high_watermark > r->log.log_end_offset) p->high_watermark = r->log.log_end_offset;
    for (int i = 0; i < p->nreplicas; i++) {
      struct mk_replica *f = &p->replicas[i];
      if (f != r && node_up(b, f->broker_id)) truncate_to_leader(p, f, r);
    }
    mk_producer_state_rebuild(&p->producers, &r->log);
  }
  mk_log(MK_LOG_INFO, "broker", "%s-%d: leader %d -> %d, leader epoch %d%s", p->topic->name,
         p->index, old, broker_id, p->leader_epoch, unclean ? " (unclean: records may be lost)" : "");
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "leader_change");
    mk_trace_str(&ev, "topic", p->topic->name);
    mk_trace_int(&ev, "partition", p->index);
    mk_trace_int(&ev, "from", old);
    mk_trace_int(&ev, "leader", broker_id);
    mk_trace_int(&ev, "leader_epoch", p->leader_epoch);
    mk_trace_bool(&ev, "unclean", unclean);
    trace_isr_field(&ev, p);
    mk_trace_end(&ev);
  }
  if (r) mk_replica_set_replicate(b, p);
  mk_purgatory_check(b);  /* requests waiting on the old leader must now fail over */
  return 0;
}

/* The first live replica, in preference order, that is in the ISR (or any, if unclean). */
static int32_t choose_leader(struct mk_broker *b, struct mk_partition *p, int32_t excluded,
                             bool any) {
  for (int r = 0; r < p->nreplicas; r++) {
    const struct mk_replica *c = &p->replicas[r];
    if (c->broker_id != excluded && node_up(b, c->broker_id) && (any || c->in_isr))
      return c->broker_id;
  }
  return -1;
}

static void partition_broker_down(struct mk_broker *b, struct mk_partition *p, int32_t id) {
  struct mk_replica *r = mk_partition_replica(p, id);
  if (!r) return;
  if (p->leader == id) {
    int32_t next = choose_leader(b, p, id, false);
    bool unclean = false;
    if (next < 0 && b->cluster.cfg.unclean_leader_election_enable) {
      next = choose_leader(b, p, id, true);
      unclean = next >= 0;
    }
    /* With no one to take over, the partition goes offline; the old leader stays the
     * last ISR member, so it can lead again when it returns (Kafka keeps the ISR non-empty). */
    if (next >= 0) r->in_isr = false;
    mk_replica_set_elect(b, p, next, unclean, NULL);
    return;
  }
  if (r->in_isr) {
    r->in_isr = false;
    trace_isr("isr_shrink", p, id);
    if (mk_replica_set_update_hw(b, p)) mk_purgatory_check(b);
  }
}

static void partition_broker_up(struct mk_broker *b, struct mk_partition *p, int32_t id) {
  struct mk_replica *r = mk_partition_replica(p, id);
  if (!r) return;
  if (p->leader < 0) {
    if (r->in_isr) mk_replica_set_elect(b, p, id, false, NULL);
    return;
  }
  truncate_to_leader(p, r, mk_partition_leader(p));
  mk_replica_set_replicate(b, p);
}

void mk_replica_set_broker_down(struct mk_broker *b, int32_t broker_id) {
  FOR_EACH_PARTITION(b, p) partition_broker_down(b, p, broker_id);
}

void mk_replica_set_broker_up(struct mk_broker *b, int32_t broker_id) {
  FOR_EACH_PARTITION(b, p) partition_broker_up(b, p, broker_id);
}
