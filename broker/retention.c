/*
 * Retention: see retention.h.
 */
#include "broker/retention.h"
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/trace.h"

void mk_retention_apply(struct mk_broker *b, struct mk_partition *p, bool with_time) {
  const struct mk_topic *t = p->topic;
  int64_t bytes = t->config.retention_bytes >= 0 ? t->config.retention_bytes : b->cluster.cfg.log_retention_bytes;
  int64_t ms = t->config.retention_ms >= 0 ? t->config.retention_ms : b->cluster.cfg.log_retention_ms;
  if (!with_time) ms = -1;
  if (bytes < 0 && ms < 0) return;
  int64_t now = mk_wall_ms();
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_log *log = &p->replicas[r].log;
    int64_t before = log->log_start_offset;
    size_t deleted = mk_log_apply_retention(log, bytes, ms, now, p->high_watermark);
    if (deleted && mk_trace_on()) {
      struct mk_trace_event ev;
      mk_trace_begin(&ev, "broker", "retention");
      mk_trace_str(&ev, "topic", t->name);
      mk_trace_int(&ev, "partition", p->index);
      mk_trace_int(&ev, "broker", p->replicas[r].broker_id);
      mk_trace_int(&ev, "batches_deleted", (int64_t)deleted);
      mk_trace_int(&ev, "from_offset", before);
      mk_trace_int(&ev, "log_start_offset", log->log_start_offset);
      mk_trace_end(&ev);
    }
  }
  /* Transactions and aborted ones whose markers went are forgotten (on the leader, whose
   * producer state this is). */
  const struct mk_replica *leader = mk_partition_leader(p);
  if (leader) mk_producer_state_on_log_start(&p->producers, leader->log.log_start_offset);
}

static void on_check(uv_timer_t *timer) {
  struct mk_broker *b = timer->data;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next)
    for (int32_t i = 0; i < t->npartitions; i++) mk_retention_apply(b, t->partitions[i], true);
}

void mk_retention_start(struct mk_broker *b) {
  uint64_t every = (uint64_t)b->cluster.cfg.log_retention_check_interval_ms;
  uv_timer_init(&b->loop, &b->retention_timer);
  b->retention_timer.data = b;
  uv_timer_start(&b->retention_timer, on_check, every, every);
  uv_unref((uv_handle_t *)&b->retention_timer);  /* housekeeping never keeps the loop alive */
}
