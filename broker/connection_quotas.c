/*
 * Connection quotas: max.connections, max.connections.per.ip, idle connections and
 * stalled frames. See connection_quotas.h.
 */
#include "broker/connection_quotas.h"

#include <stdio.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "common/log.h"

bool mk_connection_quotas_slot_free(const struct mk_listener *l) {
  return l->nconns < l->broker->cluster.cfg.max_connections;
}

bool mk_connection_quotas_over_ip_limit(const struct mk_listener *l, const struct mk_conn *c) {
  /* A scan: accepting is rare next to reading, and a list is what a student can check. */
  int same = 0;
  for (const struct mk_conn *o = l->conns; o; o = o->next)
    if (!o->closing && strcmp(o->ip, c->ip) == 0) same++;
  return same > l->broker->cluster.cfg.max_connections_per_ip;
}

/* Whether c is in the middle of a request frame (its size prefix started). */
static bool mid_frame(const struct mk_conn *c) { return c->size_len > 0 || c->frame; }

static void check(struct mk_broker *b, struct mk_conn *c, uint64_t now) {
  const struct mk_broker_config *cfg = &b->cluster.cfg;
  char why[160];
  if (cfg->socket_request_read_timeout_ms >= 0 && c->reading && mid_frame(c) &&
      now - c->frame_started > (uint64_t)cfg->socket_request_read_timeout_ms) {
    snprintf(why, sizeof why,
             "%zu of %zu request bytes arrived in %lld ms (socket.request.read.timeout.ms=%lld)",
             c->frame_len, c->frame_size, (long long)(now - c->frame_started),
             (long long)cfg->socket_request_read_timeout_ms);
    mk_conn_close(c, why);
    return;
  }
  /* Idle: nothing moved, and not because of the broker (no request is waiting for its
   * answer, and the broker is reading it). */
  if (cfg->connections_max_idle_ms >= 0 && c->reading && !c->head &&
      now - c->last_active > (uint64_t)cfg->connections_max_idle_ms) {
    mk_log_limited(&b->conn_log, MK_LOG_INFO, "broker",
                   "closing connection %s -> broker %d: idle for %lld ms "
                   "(connections.max.idle.ms=%lld)", c->peer, c->listener->node->id,
                   (long long)(now - c->last_active), (long long)cfg->connections_max_idle_ms);
    mk_conn_close(c, NULL);
  }
}

static void on_timer(uv_timer_t *t) {
  struct mk_broker *b = t->data;
  uint64_t now = uv_now(&b->loop);
  for (int i = 0; i < b->cluster.nnodes; i++) {
    for (struct mk_conn *c = b->listeners[i].conns, *next; c; c = next) {
      next = c->next;  /* closing takes c out of the list */
      if (!c->closing) check(b, c, now);
    }
  }
}

void mk_connection_quotas_start(struct mk_broker *b) {
  /* Look a few times per the shorter limit, so a connection goes at most a quarter late. */
  const struct mk_broker_config *cfg = &b->cluster.cfg;
  int64_t every = 1000;
  if (cfg->connections_max_idle_ms >= 0 && cfg->connections_max_idle_ms / 4 < every)
    every = cfg->connections_max_idle_ms / 4;
  if (cfg->socket_request_read_timeout_ms >= 0 && cfg->socket_request_read_timeout_ms / 4 < every)
    every = cfg->socket_request_read_timeout_ms / 4;
  if (every < 10) every = 10;
  uv_timer_init(&b->loop, &b->conn_timer);
  b->conn_timer.data = b;
  uv_timer_start(&b->conn_timer, on_timer, (uint64_t)every, (uint64_t)every);
  uv_unref((uv_handle_t *)&b->conn_timer);
}
