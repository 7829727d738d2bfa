/*
 * Replica fetcher: each follower's fetch loop, driven by the broker's loop. See
 * replica_fetcher.h.
 *
 * A follower replica's fetcher is in one of three states (enum mk_fetch_state):
 *
 *   STOPPED --can fetch again--> READY --send_fetch--> anything fetchable? --yes--+
 *      ^                           ^                          | no                |
 *      | paused, broker down,      |                          v                   |
 *      | no leader                 +---- take_answer <--- PARKED (waits at the    |
 *                                  |      ^               leader; an append, a    |
 *                                  |      |               lagged batch or the     |
 *                                  |      |               long poll's end wakes)  |
 *                                  +------+-------------------------------------- +
 *
 * send_fetch   the follower asks for its log end; the leader learns that offset
 *              (mk_replica_set_follower_fetched) and answers at once if it has something
 *              fetchable for it, else parks the fetch (Kafka's DelayedFetch)
 * take_answer  the leader's answer reaches the follower: the batches (none when a long
 *              poll ended) and the leader's HW; the follower appends them, takes the HW,
 *              and is READY to fetch again at once
 *
 * READY fetchers, and PARKED fetches whose fetch_due_ms has come, run in on_idle, on the
 * loop turn after whatever made them so. A new partition's followers start PARKED at
 * offset 0 (cluster.c), as if they had fetched the moment they were created.
 *
 * Thread: broker loop.
 */
#include "broker/replica_fetcher.h"
#include "broker/broker_internal.h"

#include "broker/replica_set.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

/* Rounds of fetching in one loop turn (a follower fetches at most this often per turn).
 * Two usually do: the fetch that copies, then the fetch that tells the leader. */
enum { MAX_ROUNDS = 8 };

const char *mk_fetch_state_name(enum mk_fetch_state s) {
  switch (s) {
    case MK_FETCH_READY: return "fetching";
    case MK_FETCH_PARKED: return "waiting";
    default: return "stopped";
  }
}

/* A follower fetches while the partition has a leader, its own broker is up and no
 * follower_pause holds it. */
static bool can_fetch(const struct mk_broker *b, const struct mk_partition *p,
                      const struct mk_replica *f) {
  return p->leader >= 0 && f->broker_id != p->leader && b->cluster.nodes[f->broker_id].up &&
         !f->paused;
}

static void on_idle(uv_idle_t *idle);
static void on_timer(uv_timer_t *timer);

static void set_ready(struct mk_broker *b, struct mk_replica *f) {
  f->fetch_state = MK_FETCH_READY;
  f->fetch_due_ms = -1;
  uv_idle_start(&b->fetch_idle, on_idle);
}

static void stop(struct mk_replica *f) {
  f->fetch_state = MK_FETCH_STOPPED;
  f->fetch_due_ms = -1;
}

/* Make sure the timer fires by due_ms (it may fire earlier; on_idle then re-arms it). */
static void arm_timer(struct mk_broker *b, int64_t due_ms) {
  if (due_ms < 0) return;
  int64_t wait = due_ms - mk_wall_ms();
  uint64_t due_in = wait > 0 ? (uint64_t)wait : 0;
  if (uv_is_active((uv_handle_t *)&b->fetch_timer) &&
      uv_timer_get_due_in(&b->fetch_timer) <= due_in)
    return;
  uv_timer_start(&b->fetch_timer, on_timer, due_in, 0);
}

/* When the leader must answer f's parked fetch though nothing woke it, or -1 (only an
 * append will):
 *   - a lagging follower: when the first batch it lacks has been appended lag_ms ago
 *   - a follower that lacks the leader's HW: when the long poll ends, which is
 *     replica.fetch.wait.max.ms after the fetch arrived (or, past that, after the fetch
 *     a Kafka follower would have sent again when the previous one timed out); the empty
 *     answer carries the HW. Without news, a timed-out fetch changes nothing a student
 *     can see (lastCaughtUpTime is computed exactly, replica_set.c), so an idle
 *     follower's fetch simply stays parked: it costs nothing. */
static int64_t parked_due(const struct mk_broker *b, const struct mk_partition *p,
                          const struct mk_replica *leader, const struct mk_replica *f) {
  int64_t due = -1;
  size_t i = mk_log_find(&leader->log, f->log.log_end_offset);
  if (i < leader->log.count) due = mk_log_batch(&leader->log, i)->append_time_ms + f->lag_ms;
  int64_t news = p->high_watermark < f->log.log_end_offset ? p->high_watermark
                                                           : f->log.log_end_offset;
  if (news > f->high_watermark) {
    int64_t wait = b->cluster.cfg.replica_fetch_wait_max_ms;
    /* Kafka requires replica.fetch.wait.max.ms <= replica.lag.time.max.ms; we cap it. */
    if (wait > b->cluster.cfg.replica_lag_time_max_ms) wait = b->cluster.cfg.replica_lag_time_max_ms;
    if (wait < 1) wait = 1;
    int64_t now = mk_wall_ms(), sent = f->fetch_sent_ms <= now ? f->fetch_sent_ms : now;
    int64_t end = sent + ((now - sent) / wait + 1) * wait;
    if (due < 0 || end < due) due = end;
  }
  return due;
}

static void park(struct mk_broker *b, struct mk_partition *p, struct mk_replica *leader,
                 struct mk_replica *f) {
  f->fetch_state = MK_FETCH_PARKED;
  f->fetch_due_ms = parked_due(b, p, leader, f);
  arm_timer(b, f->fetch_due_ms);
}

/* How many of the leader's batches from f's log end f may have at now_ms (follower_lag
 * holds back the young ones). Returns the index of the first and sets *n. */
static size_t fetchable(const struct mk_replica *leader, const struct mk_replica *f,
                        int64_t now_ms, size_t *n) {
  size_t first = mk_log_find(&leader->log, f->log.log_end_offset), i = first;
  while (i < leader->log.count && mk_log_batch(&leader->log, i)->append_time_ms + f->lag_ms <= now_ms)
    i++;
  *n = i - first;
  return first;
}

static void trace_replicate(const struct mk_partition *p, const struct mk_replica *f,
                            int64_t fetch_offset, size_t batches, int64_t records) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "replicate");
  mk_trace_str(&ev, "topic", p->topic->name);
  mk_trace_int(&ev, "partition", p->index);
  mk_trace_int(&ev, "broker", f->broker_id);
  mk_trace_int(&ev, "leader", p->leader);
  mk_trace_int(&ev, "fetch_offset", fetch_offset);
  mk_trace_int(&ev, "from_offset", fetch_offset);
  mk_trace_int(&ev, "log_end_offset", f->log.log_end_offset);
  mk_trace_int(&ev, "batches", (int64_t)batches);
  mk_trace_int(&ev, "records", records);
  mk_trace_int(&ev, "high_watermark", f->high_watermark);  /* the follower's own, after */
  mk_trace_end(&ev);
}

/* The leader's answer reaches f (Kafka's processPartitionData): append the fetchable
 * batches (references, not copies), take the leader's HW capped at its own log end, and
 * get READY to fetch again. An answer may carry no batches: a long poll that ended. */
static void take_answer(struct mk_broker *b, struct mk_partition *p, struct mk_replica *leader,
                        struct mk_replica *f, int64_t now_ms) {
  int64_t fetch_offset = f->log.log_end_offset, records = 0;
  size_t n, first = fetchable(leader, f, now_ms, &n), copied = 0;
  for (; copied < n; copied++) {
    struct mk_batch *batch = mk_log_batch(&leader->log, first + copied);
    struct mk_err err = {0};
    if (mk_log_append(&f->log, batch, &err)) {
      /* Its log ends where no leader batch starts: it diverged and was not truncated. */
      mk_log(MK_LOG_ERROR, "broker", "replica %d of %s-%d cannot copy: %s", f->broker_id,
             p->topic->name, p->index, err.msg);
      stop(f);
      return;
    }
    records += batch->records_count;
  }
  /* Kafka's UnifiedLog.maybeUpdateHighWatermark: the leader's HW, within [start, end]. */
  int64_t hw = p->high_watermark;
  if (hw > f->log.log_end_offset) hw = f->log.log_end_offset;
  if (hw < f->log.log_start_offset) hw = f->log.log_start_offset;
  f->high_watermark = hw;
  if (copied && mk_trace_on()) trace_replicate(p, f, fetch_offset, copied, records);
  set_ready(b, f);
}

/* f sends a fetch for its log end: the leader takes note, then answers now if it has
 * anything fetchable for f, else holds the fetch (Kafka's DelayedFetch, min bytes 1). */
static void send_fetch(struct mk_broker *b, struct mk_partition *p, struct mk_replica *f,
                       int64_t now_ms) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader || !can_fetch(b, p, f)) {
    stop(f);
    return;
  }
  if (f->log.log_end_offset < leader->log.log_start_offset ||
      f->log.log_end_offset > leader->log.log_end_offset)
    mk_replica_set_follower_out_of_range(b, p, f);  /* OFFSET_OUT_OF_RANGE: start over */
  f->fetch_sent_ms = now_ms;
  mk_replica_set_follower_fetched(b, p, f, f->log.log_end_offset, now_ms);
  size_t n;
  fetchable(leader, f, now_ms, &n);
  if (n) take_answer(b, p, leader, f, now_ms);
  else park(b, p, leader, f);
}

/* One round over every follower: READY ones send, parked ones that fell due are answered.
 * Returns whether anything ran; *next_due is the earliest due time left (or -1). */
static bool round_once(struct mk_broker *b, int64_t *next_due) {
  bool ran = false;
  *next_due = -1;
  int64_t now = mk_wall_ms();
  MK_FOR_EACH_PARTITION(&b->cluster, p) {
    for (int r = 0; r < p->nreplicas; r++) {
      struct mk_replica *f = &p->replicas[r];
      if (f->fetch_state == MK_FETCH_READY) {
        ran = true;
        send_fetch(b, p, f, now);
      } else if (f->fetch_state == MK_FETCH_PARKED && f->fetch_due_ms >= 0) {
        if (f->fetch_due_ms <= now) {
          struct mk_replica *leader = mk_partition_leader(p);
          ran = true;
          if (leader && can_fetch(b, p, f)) take_answer(b, p, leader, f, now);
          else stop(f);
        } else if (*next_due < 0 || f->fetch_due_ms < *next_due) {
          *next_due = f->fetch_due_ms;
        }
      }
    }
  }
  return ran;
}

static void on_idle(uv_idle_t *idle) {
  struct mk_broker *b = idle->data;
  int64_t next_due = -1;
  for (int round = 0; round < MAX_ROUNDS; round++) {
    if (!round_once(b, &next_due)) {
      uv_idle_stop(idle);  /* every fetch is parked or stopped: the loop may sleep again */
      arm_timer(b, next_due);
      return;
    }
  }
  /* Still busy (a follower far behind, say): carry on next turn, letting I/O in between. */
}

static void on_timer(uv_timer_t *timer) {
  struct mk_broker *b = timer->data;
  uv_idle_start(&b->fetch_idle, on_idle);  /* on_idle answers what fell due, re-arms */
}

void mk_replica_fetcher_start(struct mk_broker *b) {
  uv_idle_init(&b->loop, &b->fetch_idle);
  b->fetch_idle.data = b;
  uv_unref((uv_handle_t *)&b->fetch_idle);
  uv_timer_init(&b->loop, &b->fetch_timer);
  b->fetch_timer.data = b;
  uv_unref((uv_handle_t *)&b->fetch_timer);
}

void mk_replica_fetcher_wake(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  int64_t now = mk_wall_ms();
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f == leader) {
      stop(f);
    } else if (!leader || !can_fetch(b, p, f)) {
      stop(f);
    } else if (f->fetch_state == MK_FETCH_STOPPED) {
      set_ready(b, f);
    } else if (f->fetch_state == MK_FETCH_PARKED) {
      f->fetch_due_ms = parked_due(b, p, leader, f);
      if (f->fetch_due_ms >= 0 && f->fetch_due_ms <= now)
        uv_idle_start(&b->fetch_idle, on_idle);  /* answered on the next loop turn */
      else
        arm_timer(b, f->fetch_due_ms);
    }
  }
}

void mk_replica_fetcher_restart(struct mk_broker *b, struct mk_partition *p) {
  for (int r = 0; r < p->nreplicas; r++) stop(&p->replicas[r]);
  mk_replica_fetcher_wake(b, p);
}

void mk_replica_fetcher_hw_moved(struct mk_broker *b, struct mk_partition *p) {
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader) return;
  for (int r = 0; r < p->nreplicas; r++) {
    struct mk_replica *f = &p->replicas[r];
    if (f->fetch_state != MK_FETCH_PARKED) continue;
    f->fetch_due_ms = parked_due(b, p, leader, f);
    arm_timer(b, f->fetch_due_ms);
  }
}
