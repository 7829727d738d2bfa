/*
 * Replica set: what the leader learns from fetches, the ISR, the high watermark and
 * leader changes. See replica_set.h.
 */
#include "broker/replica_set.h"
#include "broker/broker_internal.h"

#include <string.h>

#include "broker/purgatory.h"
#include "broker/replica_fetcher.h"
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

/* ---- what the leader learns from fetches ------------------------------------------------ */

int64_t mk_replica_set_last_caught_up_ms(struct mk_partition *p, const struct mk_replica *f,
                                         int64_t now_ms) {
  const struct mk_replica *leader = mk_partition_leader(p);
  if (!leader || f == leader) return now_ms;
  int64_t t = f->last_caught_up_ms;
  if (f->leader_view_leo < 0) return t;  /* no fetch yet under this leader */
  if (f->leader_view_leo >= leader->log.log_end_offset) return now_ms;
  /* The leader's log ended at or before the fetch offset until the first batch the
   * follower lacks was appended. (If retention has deleted that batch, its time is gone
   * too, and so is any claim that the follower was caught up since.) */
  size_t i = mk_log_find(&leader->log, f->leader_view_leo);
  if (i < leader->log.count) {
    const struct mk_batch *lacked = mk_log_batch(&leader->log, i);
    if (lacked->base_offset <= f->leader_view_leo && lacked->append_time_ms > t)
      t = lacked->append_time_ms;
  }
  return t;
}

/* Kafka's Replica.isCaughtUp: not behind the leader's log end for longer than
 * replica.lag.time.max.ms. */
static bool caught_up(const struct mk_broker *b, struct mk_partition *p,
                      const struct mk_replica *f, int64_t now_ms) {
  return now_ms - mk_replica_set_last_caught_up_ms(p, f, now_ms) <=
         b->cluster.cfg.replica_lag_time_max_ms;
}

/* Where the current leader epoch starts in the leader's log (Kafka's
 * leaderEpochStartOffsetOpt): its entry in the epoch cache, else the log start. */
static int64_t epoch_start(const struct mk_partition *p, const struct mk_replica *leader) {
  for (size_t i = 0; i < leader->log.epochs_count; i++)
    if (leader->log.epochs[i].epoch == p->leader_epoch) return leader->log.epochs[i].start_offset;
  return leader->log.log_start_offset;
}

/* Kafka's maybeExpandIsr: a follower whose fetch offset reached the high watermark, and
 * the start of the current leader epoch (so it has everything this leader committed), is
 * back in sync. */
static void maybe_expand_isr(struct mk_broker *b, struct mk_partition *p, struct mk_replica *f) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (f->in_isr || !leader || f == leader || !node_up(b, f->broker_id)) return;
  if (f->leader_view_leo < p->high_watermark || f->leader_view_leo < epoch_start(p, leader))
    return;
  f->in_isr = true;
  mk_log(MK_LOG_INFO, "broker", "%s-%d: replica %d rejoins the ISR", p->topic->name, p->index,
         f->broker_id);
  trace_isr("isr_expand", p, f->broker_id);
}

/* The HW rule of replica_set.h; `by` is the follower whose fetch prompted it, or NULL. */
static bool increment_hw(struct mk_broker *b, struct mk_partition *p, const struct mk_replica *by,
                         int64_t now_ms) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return false;
  int64_t hw = leader->log.log_end_offset;
  for (int r = 0; r < p->nreplicas; r++) {
    const struct mk_replica *f = &p->replicas[r];
    if (f == leader || f->leader_view_leo >= hw) continue;
    /* A caught-up follower outside the ISR counts too: it is about to join it. */
    if (f->in_isr || (node_up(b, f->broker_id) && caught_up(b, p, f, now_ms)))
      hw = f->leader_view_leo;  /* -1 (not fetched yet) holds the HW where it is */
  }
  if (hw <= p->high_watermark) return false;
  int64_t old = p->high_watermark, old_lso = mk_partition_last_stable_offset(p);
  p->high_watermark = hw;
  mk_producer_state_on_high_watermark(&p->producers, hw);  /* replicated markers count now */
  int64_t lso = mk_partition_last_stable_offset(p);
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "hw_advance");
    mk_trace_str(&ev, "topic", p->topic->name);
    mk_trace_int(&ev, "partition", p->index);
    mk_trace_int(&ev, "from", old);
    mk_trace_int(&ev, "high_watermark", hw);
    mk_trace_int(&ev, "last_stable_offset", lso);
    if (by) {  /* the fetch that told the leader */
      mk_trace_int(&ev, "broker", by->broker_id);
      mk_trace_int(&ev, "fetch_offset", by->leader_view_leo);
    }
    mk_trace_end(&ev);
    /* With no transaction about, the LSO is the HW and hw_advance says it all; lso_advance
     * marks the moves a transaction held back or releases. */
    if (lso != old_lso && (old_lso != old || lso != hw)) {
      mk_trace_begin(&ev, "broker", "lso_advance");
      mk_trace_str(&ev, "topic", p->topic->name);
      mk_trace_int(&ev, "partition", p->index);
      mk_trace_int(&ev, "from", old_lso);
      mk_trace_int(&ev, "last_stable_offset", lso);
      mk_trace_int(&ev, "high_watermark", hw);
      mk_trace_end(&ev);
    }
  }
  mk_replica_fetcher_hw_moved(b, p);
  return true;
}

bool mk_replica_set_update_hw(struct mk_broker *b, struct mk_partition *p) {
  return increment_hw(b, p, NULL, mk_wall_ms());
}

void mk_replica_set_follower_fetched(struct mk_broker *b, struct mk_partition *p,
                                     struct mk_replica *f, int64_t fetch_offset, int64_t now_ms) {
  int64_t before = f->leader_view_leo;
  f->leader_view_leo = fetch_offset;
  f->last_caught_up_ms = mk_replica_set_last_caught_up_ms(p, f, now_ms);
  maybe_expand_isr(b, p, f);
  if (fetch_offset != before && increment_hw(b, p, f, now_ms))
    mk_purgatory_check(b);  /* acks=all produces and consumer fetches waiting on the HW */
}

void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p) {
  if (!mk_partition_leader(p)) return;
  if (mk_replica_set_update_hw(b, p)) mk_purgatory_check(b);  /* an ISR of one */
  mk_replica_fetcher_wake(b, p);
}

/* ---- timers ---------------------------------------------------------------------------- */

/* Kafka's maybeShrinkIsr: out of sync = not caught up for longer than
 * replica.lag.time.max.ms. */
static void shrink_isr(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  int64_t now = mk_wall_ms();
  bool changed = false;
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f == leader || !f->in_isr || caught_up(b, p, f, now)) continue;
    f->in_isr = false;
    changed = true;
    mk_log(MK_LOG_INFO, "broker",
           "%s-%d: replica %d leaves the ISR (last caught up %lld ms ago, "
           "replica.lag.time.max.ms=%lld)",
           p->topic->name, p->index, f->broker_id,
           (long long)(now - mk_replica_set_last_caught_up_ms(p, f, now)),
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
  MK_FOR_EACH_PARTITION(&b->cluster, p) shrink_isr(b, p);
}

void mk_replica_set_start(struct mk_broker *b) {
  uint64_t every = (uint64_t)(b->cluster.cfg.replica_lag_time_max_ms / 2);
  if (every < 1) every = 1;
  uv_timer_init(&b->loop, &b->isr_timer);
  b->isr_timer.data = b;
  uv_timer_start(&b->isr_timer, on_isr_timer, every, every);
  uv_unref((uv_handle_t *)&b->isr_timer);
  mk_replica_fetcher_start(b);
}

/* ---- leader changes -------------------------------------------------------------------- */

/* Cut follower f's log back to `to` (Kafka's UnifiedLog.truncateTo); its own HW cannot
 * stay past its end. Emits truncate. */
static void truncate_follower(struct mk_partition *p, struct mk_replica *f, int64_t to) {
  int64_t before = f->log.log_end_offset;
  if (to >= before) return;
  mk_log_truncate_to(&f->log, to);
  if (f->high_watermark > f->log.log_end_offset) f->high_watermark = f->log.log_end_offset;
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
  truncate_follower(p, f, to);
}

void mk_replica_set_follower_out_of_range(struct mk_broker *b, struct mk_partition *p,
                                          struct mk_replica *f) {
  (void)b;
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  if (f->log.log_end_offset > leader->log.log_end_offset) {
    truncate_follower(p, f, leader->log.log_end_offset);
  } else if (f->log.log_end_offset < leader->log.log_start_offset) {
    mk_log(MK_LOG_INFO, "broker",
           "%s-%d: replica %d needs offset %lld, which the leader no longer has; it starts "
           "over at the leader's log start %lld",
           p->topic->name, p->index, f->broker_id, (long long)f->log.log_end_offset,
           (long long)leader->log.log_start_offset);
    mk_log_truncate_fully_and_start_at(&f->log, leader->log.log_start_offset);
    f->high_watermark = f->log.log_end_offset;
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
  struct mk_replica *was = mk_partition_leader(p);
  if (was) was->high_watermark = p->high_watermark;  /* its own HW, now as a follower */
  p->leader = broker_id;
  p->leader_epoch++;
  if (r) {
    mk_log_assign_epoch(&r->log, p->leader_epoch, r->log.log_end_offset);
    if (unclean || !r->in_isr) {
      for (int i = 0; i < p->nreplicas; i++) p->replicas[i].in_isr = false;
      unclean = true;
    }
    r->in_isr = true;
    /* Kafka's makeLeader: the new leader starts from the HW it had as a follower (it may
     * be behind the old leader's until the followers' fetches tell it more) and knows
     * nothing of the followers yet; those in the ISR count as caught up now. */
    int64_t hw = r->high_watermark, now = mk_wall_ms();
    if (hw > r->log.log_end_offset) hw = r->log.log_end_offset;
    if (hw < r->log.log_start_offset) hw = r->log.log_start_offset;
    p->high_watermark = hw;
    for (int i = 0; i < p->nreplicas; i++) {
      struct mk_replica *f = &p->replicas[i];
      if (f == r) continue;
      f->leader_view_leo = -1;
      f->last_caught_up_ms = f->in_isr ? now : 0;
      if (node_up(b, f->broker_id)) truncate_to_leader(p, f, r);
    }
    /* Its log may differ from the old leader's (an unreplicated marker is gone, and with it
     * the end of a transaction): producers, open transactions and aborted ones are what
     * this log says. */
    mk_producer_state_rebuild(&p->producers, &r->log);
    mk_producer_state_on_high_watermark(&p->producers, p->high_watermark);
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
    mk_trace_int(&ev, "high_watermark", p->high_watermark);
    mk_trace_int(&ev, "last_stable_offset", mk_partition_last_stable_offset(p));
    mk_trace_end(&ev);
  }
  if (r) mk_replica_set_update_hw(b, p);  /* an ISR of one moves at once */
  mk_replica_fetcher_restart(b, p);       /* the followers fetch from the new leader */
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
  mk_replica_fetcher_wake(b, p);  /* its fetcher stops */
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
  MK_FOR_EACH_PARTITION(&b->cluster, p) partition_broker_down(b, p, broker_id);
}

void mk_replica_set_broker_up(struct mk_broker *b, int32_t broker_id) {
  MK_FOR_EACH_PARTITION(&b->cluster, p) partition_broker_up(b, p, broker_id);
}
