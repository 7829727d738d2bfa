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
 * The thread, and how other threads reach the loop, are common/loop_thread.h's (the proxy
 * runs its loop the same way).
 */
#include "broker/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin_http.h"    /* admin API: start/close/free (admin_http.c) */
#include "broker/broker_internal.h"
#include "broker/fault_script.h"  /* --faults FILE (fault_script.c) */
#include "broker/connection_quotas.h"
#include "broker/schema_registry_http.h"  /* the schema registry */
#include "broker/controller.h"
#include "broker/group_coordinator_runtime.h"  /* the group coordinator */
#include "broker/partition_writer.h"            /* the coordinators' appends */
#include "broker/transaction_coordinator_runtime.h"  /* transactions */
#include "broker/network.h"
#include "broker/quota.h"
#include "broker/replica_set.h"
#include "broker/retention.h"
#include "broker/state_events.h"
#include "common/log.h"

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* On the loop: close every listener and connection, then anything left (timers). */
static void shutdown_loop(void *owner) {
  struct mk_broker *b = owner;
  for (int i = 0; i < b->cluster.nnodes; i++) mk_network_close(&b->listeners[i], NULL);
  mk_admin_http_close(b);  /* admin API: its connections and event streams */
  mk_schema_registry_http_close(b);  /* the schema registry: waiting answers, connections */
  mk_loop_thread_close(&b->thread);
  uv_walk(&b->loop, close_any, NULL);
}

int mk_broker_new(const struct mk_broker_config *cfg, struct mk_broker **out, struct mk_err *err) {
  if (cfg->brokers < 1 || cfg->brokers > MK_MAX_BROKERS)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--brokers must be 1-%d, got %d", MK_MAX_BROKERS,
                      cfg->brokers);
  if (cfg->port != 0 && (cfg->port < 1 || cfg->port + cfg->brokers - 1 > 65535))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--port %d leaves no room for %d brokers",
                      cfg->port, cfg->brokers);
  /* Kafka refuses 0.0.0.0 in advertised.listeners: no client can connect to it. */
  const char *advertised = cfg->advertised_host[0] ? cfg->advertised_host : cfg->host;
  if (mk_network_is_wildcard(advertised))
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "--host %s listens on every interface, but clients cannot connect to %s: "
                      "give --advertised-host, the name or address they can reach this machine "
                      "by (as Kafka's advertised.listeners cannot be 0.0.0.0)", cfg->host,
                      advertised);
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
  if (c->cfg.transaction_state_log_replication_factor < 0)
    c->cfg.transaction_state_log_replication_factor = cfg->brokers < 3 ? cfg->brokers : 3;
  c->next_producer_id = 1000;
  b->request_memory.limit = cfg->queued_max_request_bytes;
  b->fault_targets = mk_cluster_fault_targets(c);
  uv_loop_init(&b->loop);
  mk_loop_thread_init(&b->thread, &b->loop, shutdown_loop, b);

  /* A Kafka-looking cluster id: 22 characters of url-safe base64. */
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t rnd[22] = {0};
  uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
  for (int i = 0; i < 22; i++) c->cluster_id[i] = b64[rnd[i] % 64];

  mk_network_start(b);
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
                          advertised, node->port);
  }
  /* The brokers and their addresses: where a --trace file opened before now begins. */
  for (int i = 0; i < c->nnodes; i++) mk_state_event_broker(c, &c->nodes[i], NULL, NULL);
  /* admin API, then the --faults script: either failing stops the broker from starting. */
  int admin_rc = mk_partition_writer_start(b, err);  /* the broker's own appends */
  if (!admin_rc) admin_rc = mk_group_runtime_start(b, err);  /* the group coordinator */
  if (!admin_rc) admin_rc = mk_txn_runtime_start(b, err);    /* the transaction coordinator */
  if (!admin_rc) admin_rc = mk_admin_http_start(b, err);
  if (!admin_rc) admin_rc = mk_schema_registry_http_start(b, err);
  if (!admin_rc) admin_rc = mk_fault_script_load(cfg->faults_file, "broker", &b->script, err);
  if (admin_rc) {
    mk_broker_free(b);
    return admin_rc;
  }
  mk_retention_start(b);
  mk_replica_set_start(b);
  mk_connection_quotas_start(b);
  if (!mk_network_is_loopback(cfg->host))
    mk_log(MK_LOG_WARN, "broker",
           "listening on %s: anyone who can reach this machine can produce, consume, create "
           "and delete topics (there is no authentication); clients are told to connect to %s. "
           "The admin API stays on 127.0.0.1. See README.md, \"A broker for a classroom\"",
           cfg->host, advertised);
  if (c->cfg.min_insync_replicas > c->cfg.default_replication_factor)
    mk_log(MK_LOG_WARN, "broker",
           "min.insync.replicas=%d is more than the default replication factor %d: acks=all "
           "produce will get NOT_ENOUGH_REPLICAS (as in Kafka); -o min.insync.replicas=%d fixes it",
           c->cfg.min_insync_replicas, c->cfg.default_replication_factor,
           c->cfg.default_replication_factor);
  *out = b;
  return 0;
}

/* The --faults script fires its lines through the one entry point (controller.h). */
static int inject(void *owner, const char *json, size_t len, int *id, struct mk_err *err) {
  return mk_fault_inject(owner, json, len, id, err);
}

int mk_broker_start(struct mk_broker *b, struct mk_err *err) {
  if (b->thread.threaded) return mk_err_set(err, MK_ERR__STATE, "broker already started");
  mk_fault_script_start(b->script, &b->loop, inject, b);  /* --faults: at_ms counts from here */
  if (mk_loop_thread_start(&b->thread))
    return mk_err_set(err, MK_ERR__STATE, "cannot create the broker thread");
  return 0;
}

void mk_broker_stop(struct mk_broker *b) { mk_loop_thread_stop(&b->thread); }

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
  mk_fault_script_free(b->script);  /* --faults */
  mk_faults_free(&b->faults);
  mk_partition_writer_free(b);  /* answers the coordinators' waiting writes, so first */
  mk_group_runtime_free(b);  /* before the cluster: it may still write to it */
  mk_txn_runtime_free(b);
  for (int i = 0; i < b->cluster.nnodes; i++) mk_quota_free(&b->listeners[i]);
  mk_cluster_free(&b->cluster);
  mk_loop_thread_destroy(&b->thread);
  free(b);
}

const char *mk_broker_bootstrap(const struct mk_broker *b) { return b->bootstrap; }

int mk_broker_count(const struct mk_broker *b) { return b->cluster.nnodes; }

int mk_broker_port(const struct mk_broker *b, int node_id) {
  return node_id >= 0 && node_id < b->cluster.nnodes ? b->cluster.nodes[node_id].port : -1;
}

/* mk_broker_call's function and argument, through loop_thread's (void *owner) signature. */
struct broker_call {
  void (*fn)(struct mk_broker *b, void *arg);
  void *arg;
};

static void run_broker_call(void *owner, void *arg) {
  struct broker_call *c = arg;
  c->fn(owner, c->arg);
}

int mk_broker_call(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg) {
  struct broker_call c = {fn, arg};
  return mk_loop_thread_call(&b->thread, run_broker_call, &c) ? MK_ERR__STATE : 0;
}
