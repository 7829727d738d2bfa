/*
 * Heartbeat: the clocks, and the heartbeat thread. See heartbeat.h.
 *
 * The thread has a Kafka client of its own (cc->hb_client) with one connection, to the
 * coordinator, so it never interleaves its requests with the app thread's on one socket.
 * It takes cc->lock to look at the membership, drops it while a Heartbeat is on the wire,
 * and takes it again to handle the answer. Stopping it wakes its waits through a pipe
 * (the client's wake_fd). Signals are blocked in it, so a Ctrl-C always reaches the app
 * thread's waits.
 */
#include "consumer/heartbeat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "common/log.h"
#include "consumer/consumer_coordinator.h"
#include "consumer/consumer_internal.h"
#include "protocol/api.h"
#include "protocol/messages/heartbeat.h"

/* ---- the clocks ------------------------------------------------------------------------ */

void mk_heartbeat_init(struct mk_heartbeat *h, int64_t session_timeout_ms,
                       int64_t heartbeat_interval_ms, int64_t max_poll_interval_ms,
                       int64_t retry_backoff_ms, int64_t now_ms) {
  *h = (struct mk_heartbeat){
      .session_timeout_ms = session_timeout_ms,
      .heartbeat_interval_ms = heartbeat_interval_ms,
      .max_poll_interval_ms = max_poll_interval_ms,
      .retry_backoff_ms = retry_backoff_ms,
  };
  mk_heartbeat_reset_timeouts(h, now_ms);
}

void mk_heartbeat_poll(struct mk_heartbeat *h, int64_t now_ms) {
  h->poll_deadline = now_ms + h->max_poll_interval_ms;
}

void mk_heartbeat_sent(struct mk_heartbeat *h, int64_t now_ms) {
  h->last_sent_ms = now_ms;
  h->in_flight = true;
  h->heartbeat_deadline = now_ms + h->heartbeat_interval_ms;
}

void mk_heartbeat_received(struct mk_heartbeat *h, int64_t now_ms) {
  h->in_flight = false;
  h->session_deadline = now_ms + h->session_timeout_ms;
}

void mk_heartbeat_failed(struct mk_heartbeat *h, int64_t now_ms) {
  h->in_flight = false;
  h->heartbeat_deadline = now_ms + h->retry_backoff_ms;
}

void mk_heartbeat_reset_timeouts(struct mk_heartbeat *h, int64_t now_ms) {
  h->session_deadline = now_ms + h->session_timeout_ms;
  h->heartbeat_deadline = now_ms + h->heartbeat_interval_ms;
  h->poll_deadline = now_ms + h->max_poll_interval_ms;
  h->in_flight = false;
}

bool mk_heartbeat_should_heartbeat(const struct mk_heartbeat *h, int64_t now_ms) {
  return now_ms >= h->heartbeat_deadline;
}

bool mk_heartbeat_session_expired(const struct mk_heartbeat *h, int64_t now_ms) {
  return now_ms >= h->session_deadline;
}

bool mk_heartbeat_poll_expired(const struct mk_heartbeat *h, int64_t now_ms) {
  return now_ms >= h->poll_deadline;
}

int64_t mk_heartbeat_time_to_next(const struct mk_heartbeat *h, int64_t now_ms) {
  return h->heartbeat_deadline > now_ms ? h->heartbeat_deadline - now_ms : 0;
}

/* ---- the thread ---------------------------------------------------------------------------- */

/* Wait on the coordinator's condition variable for up to ms (lock held). */
static void wait_ms(struct mk_consumer_coordinator *cc, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
  ts.tv_sec += ms / 1000 + ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  pthread_cond_timedwait(&cc->wake, &cc->lock, &ts);
}

/* Point hb_conn at the coordinator we know now (lock held). */
static void follow_coordinator(struct mk_consumer_coordinator *cc) {
  if (cc->hb_conn_epoch == cc->coordinator_epoch && cc->hb_conn.client) return;
  mk_client_conn_close(&cc->hb_conn);
  mk_client_conn_init(&cc->hb_conn, &cc->hb_client, INT32_MAX - cc->coordinator_node,
                      cc->coordinator_host, cc->coordinator_port);
  cc->hb_conn_epoch = cc->coordinator_epoch;
}

/* One Heartbeat (lock held on entry and exit, dropped during the request). */
static void send_heartbeat(struct mk_consumer_coordinator *cc) {
  int64_t now = mk_consumer_now_ms();
  mk_heartbeat_sent(&cc->heartbeat, now);
  struct mk_heartbeat_request req;
  mk_schema_set_defaults(&mk_heartbeat_request_schema, &req);
  char member[256];
  snprintf(member, sizeof member, "%s", cc->member_id);
  int32_t generation = cc->generation;
  req.group_id = mk_str_of(cc->cfg->group_id);
  req.generation_id = generation;
  req.member_id = mk_str_of(member);
  uint32_t epoch = cc->coordinator_epoch;
  pthread_mutex_unlock(&cc->lock);

  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_err e = {0};
  struct mk_heartbeat_response *resp = NULL;
  struct mk_client_pending p;
  int version = mk_client_version(&cc->hb_conn, MK_API_HEARTBEAT, &e);
  if (version >= 3 && cc->cfg->group_instance_id)
    req.group_instance_id = mk_str_of(cc->cfg->group_instance_id);
  int rc =
      version < 0 ? e.code : mk_client_send(&cc->hb_conn, MK_API_HEARTBEAT, version, &req, &p, &e);
  if (!rc) rc = mk_client_receive(&cc->hb_conn, &p, (void **)&resp, &a, &e);
  pthread_mutex_lock(&cc->lock);
  now = mk_consumer_now_ms();
  if (cc->hb_closing) {
    /* nothing more to do */
  } else if (rc) {
    /* No answer: the coordinator may be gone. Try again after the backoff; the session
     * clock decides when to give up on it. */
    mk_log(MK_LOG_DEBUG, "consumer", "%s: heartbeat failed: %s", cc->cfg->group_id, e.msg);
    mk_heartbeat_failed(&cc->heartbeat, now);
  } else if (epoch == cc->coordinator_epoch) {
    mk_consumer_coordinator_heartbeat_answer(cc, resp->error_code, generation, now);
  }
  pthread_mutex_unlock(&cc->lock);
  mk_arena_free(&a);
  pthread_mutex_lock(&cc->lock);
}

static void *heartbeat_thread(void *arg) {
  struct mk_consumer_coordinator *cc = arg;
  pthread_mutex_lock(&cc->lock);
  while (!cc->hb_closing) {
    bool in_generation = cc->state == MK_MEMBER_STABLE ||
                         cc->state == MK_MEMBER_COMPLETING_REBALANCE;
    if (!cc->hb_enabled || !in_generation || cc->fatal_code) {
      pthread_cond_wait(&cc->wake, &cc->lock);
      continue;
    }
    int64_t now = mk_consumer_now_ms();
    if (!cc->coordinator_known) {
      wait_ms(cc, cc->cfg->retry_backoff_ms);  /* poll() finds it again */
    } else if (mk_heartbeat_session_expired(&cc->heartbeat, now)) {
      mk_consumer_coordinator_mark_unknown(cc, "session timed out without receiving a "
                                               "heartbeat response");
    } else if (mk_heartbeat_poll_expired(&cc->heartbeat, now)) {
      mk_log(MK_LOG_WARN, "consumer",
             "%s: consumer poll timeout has expired. This means the time between subsequent "
             "calls to poll() was longer than the configured max.poll.interval.ms (%d), which "
             "typically implies that the poll loop is spending too much time processing "
             "messages. Leaving the group.", cc->cfg->group_id, cc->cfg->max_poll_interval_ms);
      follow_coordinator(cc);
      mk_consumer_coordinator_leave_locked(cc, &cc->hb_conn, "consumer poll timeout has expired");
    } else if (!mk_heartbeat_should_heartbeat(&cc->heartbeat, now)) {
      int64_t wait = mk_heartbeat_time_to_next(&cc->heartbeat, now);
      wait_ms(cc, wait > 0 ? wait : 1);
    } else {
      follow_coordinator(cc);
      send_heartbeat(cc);
    }
  }
  pthread_mutex_unlock(&cc->lock);
  return NULL;
}

int mk_heartbeat_thread_start(struct mk_consumer_coordinator *cc) {
  /* Block every signal while creating the thread: it inherits the mask, so signals go to
   * the app thread (whose waits they are meant to interrupt). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&cc->hb_thread, NULL, heartbeat_thread, cc);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!rc) cc->hb_started = true;
  return rc;
}

void mk_heartbeat_thread_stop(struct mk_consumer_coordinator *cc) {
  if (!cc->hb_started) return;
  pthread_mutex_lock(&cc->lock);
  cc->hb_closing = true;
  /* A heartbeat on the wire would keep the thread for up to request.timeout.ms: its
   * client's waits end when this pipe becomes readable. */
  ssize_t w = write(cc->hb_wake[1], "x", 1);
  (void)w;
  pthread_cond_broadcast(&cc->wake);
  pthread_mutex_unlock(&cc->lock);
  pthread_join(cc->hb_thread, NULL);
  cc->hb_started = false;
}
