/*
 * Replica set: follower copying and the high watermark. See replica_set.h.
 */
#include "broker/replica_set.h"

#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

/* Copy the batches follower is missing from the leader's log (shared, not duplicated). */
static void copy_from_leader(struct mk_partition *p, struct mk_replica *leader,
                             struct mk_replica *follower) {
  int64_t from = follower->log.log_end_offset;
  size_t i = mk_log_find(&leader->log, from);
  for (; i < leader->log.count; i++) {
    struct mk_batch *batch = mk_log_batch(&leader->log, i);
    struct mk_err err = {0};
    if (mk_log_append(&follower->log, batch, &err)) {
      /* The follower's log ends where no leader batch starts: it has diverged (it needs
       * truncation, which leader changes do before copying). Stop and say so. */
      mk_log(MK_LOG_ERROR, "broker", "replica %d of %s-%d cannot copy: %s", follower->broker_id,
             p->topic->name, p->index, err.msg);
      return;
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
  if (follower->log.log_end_offset == leader->log.log_end_offset)
    follower->last_caught_up_us = mk_now_us();
}

void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  leader->last_caught_up_us = mk_now_us();
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f == leader || !b->nodes[f->broker_id].up) continue;
    copy_from_leader(p, leader, f);
  }
  if (mk_replica_set_update_hw(b, p)) mk_purgatory_check(b);
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
