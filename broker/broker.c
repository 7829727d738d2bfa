/*
 * Broker: the loop's life, from binding listeners to the last closed handle.
 *
 *   mk_broker_new    settle defaults, bind one listener per virtual broker (and the
 *                    admin HTTP API's; read the --faults script)
 *   mk_broker_start  run the loop on its own thread
 *   mk_broker_call   run a function on the loop from another thread, and wait
 *   mk_broker_stop   close everything; the loop ends when no handle is left
 *   mk_broker_free   free the topics and the broker
 *
 * Other threads reach the loop through one uv_async_t. Several uv_async_send()
 * calls may wake the loop once (libuv merges them), so the callback drains a
 * whole list of pending calls each time.
 */
#include "broker/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin_http.h"    /* admin API: start/close/free (admin_http.c) */
#include "broker/broker_internal.h"
#include "broker/fault_script.h"  /* --faults FILE (fault_script.c) */
#include "broker/schema_registry_http.h"  /* the schema registry */
#include "broker/controller.h"
#include "broker/group_coordinator_runtime.h"  /* the group coordinator */
#include "broker/network.h"
#include "broker/quota.h"
#include "broker/replica_set.h"
#include "broker/retention.h"
#include "broker/state_events.h"
#include "common/log.h"
#include "common/signals.h"

struct mk_broker_call {
  void (*fn)(struct mk_broker *b, void *arg);
  void *arg;
  uv_sem_t done;
  struct mk_broker_call *next;
};

static void run_calls(struct mk_broker *b) {
  uv_mutex_lock(&b->calls_lock);
  struct mk_broker_call *calls = b->calls;
  b->calls = NULL;
  uv_mutex_unlock(&b->calls_lock);
  while (calls) {
    struct mk_broker_call *c = calls;
    calls = c->next;
    c->fn(b, c->arg);
    uv_sem_post(&c->done);
  }
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* On the loop: close every listener and connection, then anything left (timers). */
static void shutdown_loop(struct mk_broker *b) {
  for (int i = 0; i < b->cluster.nnodes; i++) mk_network_close(&b->listeners[i], NULL);
  mk_admin_http_close(b);  /* admin API: its connections and event streams */
  mk_schema_registry_http_close(b);  /* the schema registry: waiting answers, connections */
  if (!uv_is_closing((uv_handle_t *)&b->wakeup)) uv_close((uv_handle_t *)&b->wakeup, NULL);
  uv_walk(&b->loop, close_any, NULL);
}

static void on_wakeup(uv_async_t *a) {
  struct mk_broker *b = a->data;
  run_calls(b);
  uv_mutex_lock(&b->calls_lock);
  bool stopping = b->stopping;
  uv_mutex_unlock(&b->calls_lock);
  if (stopping) shutdown_loop(b);
}

int mk_broker_new(const struct mk_broker_config *cfg, struct mk_broker **out, struct mk_err *err) {
  if (cfg->brokers < 1 || cfg->brokers > MK_MAX_BROKERS)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--brokers must be 1-%d, got %d", MK_MAX_BROKERS,
                      cfg->brokers);
  if (cfg->port != 0 && (cfg->port < 1 || cfg->port + cfg->brokers - 1 > 65535))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--port %d leaves no room for %d brokers",
                      cfg->port, cfg->brokers);
  struct mk_broker *b = calloc(1, sizeof *b);
  if (!b) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  struct mk_cluster *c = &b->cluster;
  c->cfg = *cfg;
  if (c->cfg.default_replication_factor < 0)
    c->cfg.default_replication_factor = cfg->brokers < 3 ? cfg->brokers : 3;
  if (c->cfg.default_replication_factor > cfg->brokers)
    c->cfg.default_replication_factor = cfg->brokers;
  if (c->cfg.offsets_topic_replication_factor < 0)
    c->cfg.offsets_topic_replication_factor = cfg->brokers < 3 ? cfg->brokers : 3;
  c->next_producer_id = 1000;
  uv_loop_init(&b->loop);
  uv_mutex_init(&b->calls_lock);
  uv_async_init(&b->loop, &b->wakeup, on_wakeup);
  b->wakeup.data = b;

  /* A Kafka-looking cluster id: 22 characters of url-safe base64. */
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t rnd[22] = {0};
  uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
  for (int i = 0; i < 22; i++) c->cluster_id[i] = b64[rnd[i] % 64];

  size_t n = 0;
  for (int i = 0; i < cfg->brokers; i++) {
    struct mk_node *node = &c->nodes[i];
    struct mk_listener *l = &b->listeners[i];
    node->id = i;
    l->node = node;
    l->broker = b;
    c->nnodes = i + 1;
    int rc = mk_network_listen(l, cfg->host, cfg->port ? cfg->port + i : 0, err);
    if (rc) {
      mk_broker_free(b);
      return rc;
    }
    n += (size_t)snprintf(b->bootstrap + n, sizeof b->bootstrap - n, "%s%s:%d", i ? "," : "",
                          cfg->host, node->port);
  }
  /* The brokers and their addresses: where a --trace file opened before now begins. */
  for (int i = 0; i < c->nnodes; i++) mk_state_event_broker(c, &c->nodes[i], NULL, NULL);
  /* admin API, then the --faults script: either failing stops the broker from starting. */
  int admin_rc = mk_group_runtime_start(b, err);  /* the group coordinator */
  if (!admin_rc) admin_rc = mk_admin_http_start(b, err);
  if (!admin_rc) admin_rc = mk_schema_registry_http_start(b, err);
  if (!admin_rc) admin_rc = mk_fault_script_load(b, err);
  if (admin_rc) {
    mk_broker_free(b);
    return admin_rc;
  }
  mk_retention_start(b);
  mk_replica_set_start(b);
  if (c->cfg.min_insync_replicas > c->cfg.default_replication_factor)
    mk_log(MK_LOG_WARN, "broker",
           "min.insync.replicas=%d is more than the default replication factor %d: acks=all "
           "produce will get NOT_ENOUGH_REPLICAS (as in Kafka); -o min.insync.replicas=%d fixes it",
           c->cfg.min_insync_replicas, c->cfg.default_replication_factor,
           c->cfg.default_replication_factor);
  *out = b;
  return 0;
}

static void thread_main(void *arg) {
  struct mk_broker *b = arg;
  mk_block_sigpipe();
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_mutex_lock(&b->calls_lock);
  b->running = false;
  uv_mutex_unlock(&b->calls_lock);
  run_calls(b);  /* anyone who slipped in a call while we closed still gets an answer */
}

int mk_broker_start(struct mk_broker *b, struct mk_err *err) {
  if (b->threaded) return mk_err_set(err, MK_ERR__STATE, "broker already started");
  b->running = true;
  mk_fault_script_start(b);  /* --faults: at_ms counts from here */
  if (uv_thread_create(&b->thread, thread_main, b) != 0) {
    b->running = false;
    return mk_err_set(err, MK_ERR__STATE, "cannot create the broker thread");
  }
  b->threaded = true;
  return 0;
}

void mk_broker_stop(struct mk_broker *b) {
  uv_mutex_lock(&b->calls_lock);
  bool was_running = b->running && !b->stopping;
  b->stopping = true;
  uv_mutex_unlock(&b->calls_lock);
  if (was_running) uv_async_send(&b->wakeup);
  if (b->threaded) {
    uv_thread_join(&b->thread);
    b->threaded = false;
  }
}

void mk_broker_free(struct mk_broker *b) {
  if (!b) return;
  mk_broker_stop(b);
  /* Never started, or a failed new: close the handles here, where no loop runs. */
  shutdown_loop(b);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&b->loop) != 0)
    mk_log(MK_LOG_ERROR, "broker", "loop closed with handles still open");
  mk_admin_http_free(b);     /* admin API */
  mk_schema_registry_http_free(b);  /* the schema registry */
  mk_fault_script_free(b);   /* --faults */
  mk_faults_free(&b->faults);
  mk_group_runtime_free(b);  /* before the cluster: it may still write to it */
  for (int i = 0; i < b->cluster.nnodes; i++) mk_quota_free(&b->listeners[i]);
  mk_cluster_free(&b->cluster);
  uv_mutex_destroy(&b->calls_lock);
  free(b);
}

const char *mk_broker_bootstrap(const struct mk_broker *b) { return b->bootstrap; }

int mk_broker_count(const struct mk_broker *b) { return b->cluster.nnodes; }

int mk_broker_port(const struct mk_broker *b, int node_id) {
  return node_id >= 0 && node_id < b->cluster.nnodes ? b->cluster.nodes[node_id].port : -1;
}

int mk_broker_call(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg) {
  struct mk_broker_call c = {.fn = fn, .arg = arg};
  uv_sem_init(&c.done, 0);
  uv_mutex_lock(&b->calls_lock);
  if (!b->running || b->stopping) {
    uv_mutex_unlock(&b->calls_lock);
    uv_sem_destroy(&c.done);
    return MK_ERR__STATE;
  }
  c.next = b->calls;
  b->calls = &c;
  uv_mutex_unlock(&b->calls_lock);
  uv_async_send(&b->wakeup);
  uv_sem_wait(&c.done);
  uv_sem_destroy(&c.done);
  return 0;
}
