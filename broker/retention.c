/*
 * Retention: see retention.h.
 */
#include "broker/retention.h"
#include "broker/broker_internal.h"

#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

static void trace_deleted(const struct mk_partition *p, int32_t broker, const char *reason,
                          size_t deleted, int64_t from, int64_t log_start_offset) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "retention");
  mk_trace_str(&ev, "topic", p->topic->name);
  mk_trace_int(&ev, "partition", p->index);
  if (broker >= 0) mk_trace_int(&ev, "broker", broker);
  if (reason) mk_trace_str(&ev, "reason", reason);
  mk_trace_int(&ev, "batches_deleted", (int64_t)deleted);
  mk_trace_int(&ev, "from_offset", from);
  mk_trace_int(&ev, "log_start_offset", log_start_offset);
  mk_trace_end(&ev);
}

void mk_retention_apply(struct mk_broker *b, struct mk_partition *p, bool with_time) {
  const struct mk_topic *t = p->topic;
  int64_t bytes = t->config.retention_bytes >= 0 ? t->config.retention_bytes : b->cluster.cfg.log_retention_bytes;
  int64_t ms = t->config.retention_ms >= 0 ? t->config.retention_ms : b->cluster.cfg.log_retention_ms;
  if (!with_time) ms = -1;
  /* A compacted topic's -1 settings would read as "the broker's default" above: skip it. */
  if (!t->compacted && (bytes >= 0 || ms >= 0)) {
    int64_t now = mk_wall_ms();
    for (int r = 0; r < p->nreplicas; r++) {
      struct mk_log *log = &p->replicas[r].log;
      int64_t before = log->log_start_offset;
      size_t deleted = mk_log_apply_retention(log, bytes, ms, now, p->high_watermark);
      if (deleted && mk_trace_on())
        trace_deleted(p, p->replicas[r].broker_id, NULL, deleted, before, log->log_start_offset);
    }
  }
  /* Transactions and aborted ones whose markers went are forgotten (on the leader, whose
   * producer state this is). */
  const struct mk_replica *leader = mk_partition_leader(p);
  if (leader) mk_producer_state_on_log_start(&p->producers, leader->log.log_start_offset);
  mk_retention_check_memory(b);
}

/* ---- log.memory.max.bytes ------------------------------------------------------------------- */

/* The partition whose leader log is largest among those with a batch retention may delete
 * (wholly below the high watermark), and the size of the largest other log; or NULL. The
 * services' compacted topics are left out: a group's offsets or a transaction's state
 * deleted from under its coordinator would be lost at its next reload, which a real
 * cluster's compaction never does (their growth is bounded by what clients commit). */
static struct mk_partition *largest_log(struct mk_broker *b, int64_t *second) {
  struct mk_partition *best = NULL;
  int64_t best_size = -1;
  *second = 0;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next) {
    if (t->compacted) continue;
    for (int32_t i = 0; i < t->npartitions; i++) {
      struct mk_partition *p = t->partitions[i];
      struct mk_replica *leader = mk_partition_leader(p);
      if (!leader || leader->log.count == 0) continue;
      if (mk_log_batch(&leader->log, 0)->last_offset >= p->high_watermark) continue;
      int64_t size = leader->log.size;
      if (size > best_size) {
        if (best_size > *second) *second = best_size;
        best = p;
        best_size = size;
      } else if (size > *second) {
        *second = size;
      }
    }
  }
  return best;
}

/* Delete p's oldest batches on every replica until its leader log is no larger than
 * `until_size` (at least one batch), the usage would be down to `target`, or nothing more
 * may go. Returns the batches deleted from the leader's log. */
static size_t shrink(struct mk_broker *b, struct mk_partition *p, int64_t until_size,
                     int64_t target) {
  const struct mk_log *leader = &mk_partition_leader(p)->log;
  const struct mk_log_usage *u = &b->cluster.log_usage;
  int64_t planned = 0, start = leader->log_start_offset;
  size_t n = 0;
  /* Choose on the leader's log, then cut every replica there at once: a batch shared by
   * the replicas is freed only when the last of them lets go. */
  for (size_t i = 0; i < leader->count; i++) {
    const struct mk_batch *batch = mk_log_batch(leader, i);
    if (batch->last_offset >= p->high_watermark) break;
    if (n > 0 && (leader->size - planned <= until_size || u->bytes - planned <= target)) break;
    planned += (int64_t)batch->size;
    start = batch->last_offset + 1;
    n++;
  }
  for (int r = 0; n > 0 && r < p->nreplicas; r++) {
    struct mk_log *log = &p->replicas[r].log;
    int64_t from = log->log_start_offset;
    size_t deleted = mk_log_advance_start(log, start);
    if (deleted && mk_trace_on())
      trace_deleted(p, p->replicas[r].broker_id, "log.memory.max.bytes", deleted, from, start);
  }
  if (n > 0) mk_producer_state_on_log_start(&p->producers, start);
  return n;
}

void mk_retention_check_memory(struct mk_broker *b) {
  int64_t budget = b->cluster.cfg.log_memory_max_bytes;
  struct mk_log_usage *u = &b->cluster.log_usage;
  if (budget < 0 || u->bytes <= budget) return;
  /* Down to 15/16 of the budget, so this runs once per budget/16 bytes produced, not after
   * every append. */
  int64_t target = budget - budget / 16, was = u->bytes;
  size_t batches = 0;
  int partitions = 0;
  char first[300] = "";
  while (u->bytes > target) {
    int64_t second;
    struct mk_partition *p = largest_log(b, &second);
    if (!p) break;  /* everything left is above a high watermark */
    size_t n = shrink(b, p, second, target);
    if (n == 0) break;
    if (partitions++ == 0)
      snprintf(first, sizeof first, "%s-%d now starts at offset %lld", p->topic->name, p->index,
               (long long)mk_partition_leader(p)->log.log_start_offset);
    batches += n;
  }
  mk_log_limited(&b->retention_log, MK_LOG_INFO, "broker",
                 "logs reached log.memory.max.bytes (%lld): deleted the oldest %zu batches "
                 "(%lld bytes) of the largest logs: %s%s%s", (long long)budget, batches,
                 (long long)(was - u->bytes), first[0] ? first : "none could go",
                 partitions > 1 ? " (and others)" : "",
                 u->bytes > budget ? "; still over: the rest is above a high watermark" : "");
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
