/*
 * Partition writer: the broker's own acks=all appends, and the list of those waiting for the
 * high watermark. See partition_writer.h.
 *
 * A waiting write remembers its partition by topic id and index, not by pointer: the topic
 * may be deleted while it waits (a reset, DeleteTopics), and then the write is answered
 * NOT_LEADER_OR_FOLLOWER like one whose leader moved.
 */
#include "broker/partition_writer.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker/kafka_apis.h"  /* mk_produce_trace_batch */
#include "broker/purgatory.h"
#include "broker/replica_set.h"
#include "broker/reset.h"
#include "broker/retention.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

/* A write waiting for the high watermark. */
struct pending_write {
  struct mk_uuid topic_id;
  int32_t partition;
  int32_t leader;           /* who appended it, in which leader epoch */
  int32_t leader_epoch;
  int64_t required_offset;  /* the HW must reach this (last offset + 1) */
  int64_t deadline_ms;
  int16_t answer;           /* once decided */
  mk_partition_write_done *done;
  void *arg;
  struct pending_write *next;
};

struct mk_partition_writer_state {
  struct mk_broker *b;
  uv_timer_t timer;
  struct pending_write *writes, **tail;
  bool closing;             /* failing every write: no appends meanwhile */
};

/* ---- deciding ------------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *timer);

/* Decide at the top of the next loop turn. */
static void kick(struct mk_partition_writer_state *s) {
  if (!uv_is_closing((uv_handle_t *)&s->timer)) uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* The timer for the earliest deadline, if anything waits. */
static void arm(struct mk_partition_writer_state *s) {
  int64_t next = -1;
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

/* The outcome of w now, or -1 while it waits. */
static int16_t outcome(struct mk_broker *b, const struct pending_write *w, int64_t now) {
  struct mk_topic *t = mk_cluster_find_topic_id(&b->cluster, w->topic_id);
  struct mk_partition *p = mk_cluster_partition(t, w->partition);
  if (!p || p->leader != w->leader || p->leader_epoch != w->leader_epoch)
    return MK_ERR_NOT_LEADER_OR_FOLLOWER;
  if (p->high_watermark >= w->required_offset)
    return mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, t)
               ? MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND : 0;
  if (now >= w->deadline_ms) return MK_ERR_REQUEST_TIMED_OUT;
  return -1;
}

void mk_partition_writer_complete(struct mk_broker *b) {
  struct mk_partition_writer_state *s = b->writer;
  int64_t now = mk_wall_ms();
  /* Take the decided writes out first, then answer them: an answer may append (its write
   * goes to the list and is decided later) or even come back here, and must find the list
   * whole. */
  struct pending_write *decided = NULL, **dtail = &decided;
  struct pending_write **pp = &s->writes;
  while (*pp) {
    struct pending_write *w = *pp;
    int16_t error = outcome(b, w, now);
    if (error < 0) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    w->next = NULL;
    w->answer = error;
    *dtail = w;
    dtail = &w->next;
  }
  s->tail = pp;
  while (decided) {
    struct pending_write *w = decided;
    decided = w->next;
    w->done(w->arg, w->answer);
    free(w);
  }
  arm(s);
}

static void on_timer(uv_timer_t *timer) {
  struct mk_partition_writer_state *s = timer->data;
  mk_partition_writer_complete(s->b);
}

/* The purgatory's watcher: a HW moved or a leader changed somewhere. */
static void on_check(struct mk_broker *b, void *arg) {
  (void)b;
  struct mk_partition_writer_state *s = arg;
  if (s->writes) kick(s);
}

/* ---- appending ----------------------------------------------------------------------------- */

int16_t mk_partition_writer_append(struct mk_broker *b, const struct mk_partition_write *w,
                                   int64_t *base_offset) {
  struct mk_partition_writer_state *s = b->writer;
  struct mk_partition *p = w->p;
  struct mk_topic *t = p->topic;
  struct mk_replica *leader = mk_partition_leader(p);
  if (s->closing || !leader || !b->cluster.nodes[p->leader].up ||
      (w->leader_epoch >= 0 && w->leader_epoch != p->leader_epoch))
    return MK_ERR_NOT_LEADER_OR_FOLLOWER;
  if (w->done && mk_partition_isr_count(p) < mk_topic_min_insync_replicas(&b->cluster, t))
    return MK_ERR_NOT_ENOUGH_REPLICAS;
  int32_t max = mk_topic_max_message_bytes(&b->cluster, t);
  if (w->len > (size_t)max) {
    mk_log(MK_LOG_WARN, "broker", "%s-%d: a batch of %zu bytes written by the broker exceeds "
           "max.message.bytes (%d)", t->name, p->index, w->len, max);
    return MK_ERR_RECORD_LIST_TOO_LARGE;
  }
  struct mk_err err = {0};
  struct mk_buffer *buf = mk_buffer_new(w->len);
  struct mk_record_batch parsed;
  if (!buf) return MK_ERR_UNKNOWN_SERVER_ERROR;
  memcpy(buf->data, w->batch, w->len);
  if (mk_record_batch_parse(buf->data, w->len, &parsed, &err) || parsed.size != w->len) {
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: the broker built a batch that does not parse: %s",
           t->name, p->index, err.msg);
    mk_buffer_unref(buf);
    return MK_ERR_CORRUPT_MESSAGE;
  }
  /* AppendOrigin.COORDINATOR: epochs only, no sequence numbers. */
  int16_t rc = parsed.producer_id >= 0
                   ? (int16_t)mk_producer_state_check_coordinator(&p->producers, parsed.producer_id,
                                                                  parsed.producer_epoch,
                                                                  w->coordinator_epoch, &err)
                   : 0;
  if (rc) {
    mk_log(MK_LOG_INFO, "broker", "%s-%d: the broker's write refused: %s", t->name, p->index,
           err.msg);
    mk_buffer_unref(buf);
    return rc;
  }
  struct pending_write *pw = w->done ? calloc(1, sizeof *pw) : NULL;
  int64_t now = mk_wall_ms();
  struct mk_batch *stored = mk_batch_new(&parsed, leader->log.log_end_offset, p->leader_epoch, now, buf);
  mk_buffer_unref(buf);
  if ((w->done && !pw) || !stored || mk_log_append(&leader->log, stored, &err)) {
    mk_batch_unref(stored);
    free(pw);
    return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  mk_producer_state_update(&p->producers, stored);
  /* The trace's append, as a client's produce has (produce.c): the leader's log end moves,
   * and a replay of the trace (the dashboard's reducer) learns it only from this event. */
  if (mk_trace_on())
    mk_produce_trace_batch("append", p, &parsed, stored->base_offset, stored->last_offset, NULL);
  if (base_offset) *base_offset = stored->base_offset;
  if (pw) {
    pw->topic_id = t->id;
    pw->partition = p->index;
    pw->leader = p->leader;
    pw->leader_epoch = p->leader_epoch;
    pw->required_offset = stored->last_offset + 1;
    pw->deadline_ms = now + (w->timeout_ms > 0 ? w->timeout_ms : 0);
    pw->done = w->done;
    pw->arg = w->arg;
    *s->tail = pw;
    s->tail = &pw->next;
    kick(s);
  }
  mk_batch_unref(stored);
  /* Followers copy it (now, or later when lagging); the HW moving wakes the purgatory, whose
   * watcher kicks our timer. */
  mk_replica_set_replicate(b, p);
  mk_retention_apply(b, p, false);
  return 0;
}

/* ---- life ------------------------------------------------------------------------------------ */

void mk_partition_writer_fail_all(struct mk_broker *b, int16_t error) {
  struct mk_partition_writer_state *s = b->writer;
  if (!s) return;
  bool was_closing = s->closing;
  s->closing = true;
  while (s->writes) {
    struct pending_write *w = s->writes;
    s->writes = w->next;
    w->done(w->arg, error);
    free(w);
  }
  s->tail = &s->writes;
  s->closing = was_closing;
  if (!uv_is_closing((uv_handle_t *)&s->timer)) uv_timer_stop(&s->timer);
}

/* Reset (reset.h): the coordinators' writes waiting for the HW are answered first, while the
 * coordinators still hold what they were for (their own hooks run next). */
static void reset_clear(struct mk_broker *b, void *arg) {
  (void)arg;
  mk_partition_writer_fail_all(b, MK_ERR_NOT_COORDINATOR);
}

int mk_partition_writer_start(struct mk_broker *b, struct mk_err *err) {
  struct mk_partition_writer_state *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  s->b = b;
  s->tail = &s->writes;
  if (mk_purgatory_watch(b, on_check, s)) {
    free(s);
    return mk_err_set(err, MK_ERR__STATE, "no purgatory watcher slot left");
  }
  uv_timer_init(&b->loop, &s->timer);
  s->timer.data = s;
  uv_unref((uv_handle_t *)&s->timer);
  b->writer = s;
  if (mk_reset_hook_add(b, &(struct mk_reset_hook){"partition writer", reset_clear, NULL, s}))
    mk_log(MK_LOG_WARN, "broker", "no reset hook left for the partition writer");
  return 0;
}

void mk_partition_writer_free(struct mk_broker *b) {
  struct mk_partition_writer_state *s = b->writer;
  if (!s) return;
  mk_partition_writer_fail_all(b, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  s->closing = true;
  free(s);
  b->writer = NULL;
}
