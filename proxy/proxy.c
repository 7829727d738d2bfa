/*
 * The proxy's life, and the calls of proxy.h from other threads.
 *
 *   mk_proxy_new    copy the settings; discover the cluster (cluster_view.c: Metadata from
 *                   the bootstrap servers, on the loop before its thread exists); listen
 *                   for every broker; the admin API; the --faults script
 *   mk_proxy_start  the loop on its own thread (common/loop_thread.h)
 *   mk_proxy_stop   on the loop: close listeners, connections, the admin API, timers
 *   mk_proxy_free   after the loop's last close callbacks: free the rest
 *
 * A call from another thread (mk_proxy_fault, mk_proxy_cluster_json, ...) packs its
 * arguments and runs on the loop through mk_loop_thread_call, so the loop stays the only
 * thread that touches the proxy's state; what comes back is a copy the caller owns.
 */
#include "proxy/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fault_script.h"
#include "common/log.h"
#include "proxy/proxy_internal.h"

void mk_proxy_config_init(struct mk_proxy_config *cfg) {
  *cfg = (struct mk_proxy_config){.host = "127.0.0.1", .port = 19092, .admin_port = 19644,
                                  .timeout_ms = 10000};
}

/* ---- shutting down ------------------------------------------------------------------------ */

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* On the loop (or with no loop thread): close everything; the loop then ends. */
static void shutdown_loop(void *owner) {
  struct mk_proxy *p = owner;
  p->stopping = true;
  for (int i = 0; i < p->nbrokers; i++) mk_proxy_unlisten(p->brokers[i], NULL);
  mk_proxy_admin_close(p);
  mk_loop_thread_close(&p->thread);
  uv_walk(&p->loop, close_any, NULL);  /* the --faults timer and anything left */
}

/* The --faults script fires its lines through the same entry point as the admin API. */
static int inject(void *owner, const char *json, size_t len, int *id, struct mk_err *err) {
  return mk_proxy_inject(owner, json, len, id, err);
}

/* ---- life ----------------------------------------------------------------------------------- */

static int copy_setting(char *dst, size_t cap, const char *src, const char *what,
                        struct mk_err *err) {
  if (strlen(src) >= cap)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s is too long (%zu bytes at most)", what,
                      cap - 1);
  memcpy(dst, src, strlen(src) + 1);
  return 0;
}

int mk_proxy_new(const struct mk_proxy_config *cfg, struct mk_proxy **out, struct mk_err *err) {
  *out = NULL;
  if (!cfg->bootstrap_servers || !cfg->bootstrap_servers[0])
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "the proxy needs the real cluster's address: --bootstrap-server HOST:PORT");
  if (cfg->port < 0 || cfg->port > 65535)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--port must be 0-65535, got %d", cfg->port);
  if (cfg->admin_port < -1 || cfg->admin_port > 65535)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--admin-port must be -1-65535, got %d",
                      cfg->admin_port);
  struct mk_proxy *p = calloc(1, sizeof *p);
  if (!p) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  p->cfg = *cfg;
  int rc = copy_setting(p->bootstrap_servers, sizeof p->bootstrap_servers,
                        cfg->bootstrap_servers, "--bootstrap-server", err);
  if (!rc) rc = copy_setting(p->host, sizeof p->host, cfg->host ? cfg->host : "127.0.0.1",
                             "--host", err);
  if (!rc && cfg->faults_file)
    rc = copy_setting(p->faults_file, sizeof p->faults_file, cfg->faults_file, "--faults", err);
  if (!rc && cfg->trace_file)
    rc = copy_setting(p->trace_file, sizeof p->trace_file, cfg->trace_file, "--trace", err);
  if (rc) {
    free(p);
    return rc;
  }
  p->cfg.bootstrap_servers = p->bootstrap_servers;
  p->cfg.host = p->host;
  p->cfg.faults_file = cfg->faults_file ? p->faults_file : NULL;
  p->cfg.trace_file = cfg->trace_file ? p->trace_file : NULL;
  if (p->cfg.timeout_ms <= 0) p->cfg.timeout_ms = 10000;
  p->controller_id = -1;
  uv_loop_init(&p->loop);
  mk_loop_thread_init(&p->thread, &p->loop, shutdown_loop, p);
  p->fault_targets = mk_proxy_fault_targets(p);
  p->watch = mk_produce_watch_new();
  if (!p->watch) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  /* The script first (a bad file costs no network), then the cluster, then our ports. */
  if (!rc) rc = mk_fault_script_load(p->cfg.faults_file, "proxy", &p->script, err);
  if (!rc) rc = mk_proxy_discover(p, err);
  size_t n = 0;
  for (int i = 0; !rc && i < p->nbrokers; i++) {
    rc = mk_proxy_listen(p->brokers[i], err);
    if (!rc)
      n += (size_t)snprintf(p->bootstrap + n, sizeof p->bootstrap - n, "%s%s:%d", i ? "," : "",
                            p->host, p->brokers[i]->listen_port);
  }
  p->nbrokers_at_start = p->nbrokers;
  if (!rc) rc = mk_proxy_admin_start(p, err);
  if (rc) {
    mk_proxy_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int mk_proxy_start(struct mk_proxy *p, struct mk_err *err) {
  mk_fault_script_start(p->script, &p->loop, inject, p);  /* at_ms counts from here */
  if (mk_loop_thread_start(&p->thread))
    return mk_err_set(err, MK_ERR__STATE, "cannot start the proxy's thread");
  return 0;
}

void mk_proxy_stop(struct mk_proxy *p) { mk_loop_thread_stop(&p->thread); }

void mk_proxy_free(struct mk_proxy *p) {
  if (!p) return;
  mk_proxy_stop(p);
  shutdown_loop(p);  /* never started, or a failed new: close the handles here */
  uv_run(&p->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&p->loop) != 0)
    mk_log(MK_LOG_ERROR, "proxy", "loop closed with handles still open");
  mk_proxy_admin_free(p);
  mk_fault_script_free(p->script);
  mk_faults_free(&p->faults);
  mk_produce_watch_free(p->watch);
  mk_proxy_view_free(p);
  mk_loop_thread_destroy(&p->thread);
  free(p);
}

const char *mk_proxy_bootstrap(const struct mk_proxy *p) { return p->bootstrap; }
int mk_proxy_broker_count(const struct mk_proxy *p) { return p->nbrokers_at_start; }

/* ---- calls from other threads --------------------------------------------------------------- */

static int not_running(struct mk_err *err) {
  return mk_err_set(err, MK_ERR__STATE, "the proxy is not running");
}

struct fault_call {
  const char *json;
  int *id;
  struct mk_err *err;
  int rc;
};

static void fault_on_loop(void *owner, void *arg) {
  struct fault_call *c = arg;
  c->rc = mk_proxy_inject(owner, c->json, strlen(c->json), c->id, c->err);
}

int mk_proxy_fault(struct mk_proxy *p, const char *json, int *id, struct mk_err *err) {
  struct mk_err local = {0};
  struct fault_call c = {json, id, err ? err : &local, 0};
  if (mk_loop_thread_call(&p->thread, fault_on_loop, &c)) return not_running(c.err);
  return c.rc;
}

static void clear_on_loop(void *owner, void *arg) {
  (void)arg;
  mk_faults_clear(&((struct mk_proxy *)owner)->faults);
}

int mk_proxy_clear_faults(struct mk_proxy *p) {
  return mk_loop_thread_call(&p->thread, clear_on_loop, NULL) ? MK_ERR__STATE : 0;
}

static void cluster_on_loop(void *owner, void *arg) {
  json_t *j = mk_proxy_cluster_state(owner);
  *(char **)arg = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
}

char *mk_proxy_cluster_json(struct mk_proxy *p) {
  char *text = NULL;
  return mk_loop_thread_call(&p->thread, cluster_on_loop, &text) ? NULL : text;
}

static void faults_on_loop(void *owner, void *arg) {
  *(char **)arg = mk_faults_list_json(&((struct mk_proxy *)owner)->faults);
}

char *mk_proxy_faults_json(struct mk_proxy *p) {
  char *text = NULL;
  return mk_loop_thread_call(&p->thread, faults_on_loop, &text) ? NULL : text;
}

struct ids_call {
  int32_t *ids;
  int max, n;
};

static void ids_on_loop(void *owner, void *arg) {
  struct mk_proxy *p = owner;
  struct ids_call *c = arg;
  for (int i = 0; i < p->nbrokers && c->n < c->max; i++) c->ids[c->n++] = p->brokers[i]->node_id;
}

int mk_proxy_broker_ids(struct mk_proxy *p, int32_t *ids, int max) {
  struct ids_call c = {ids, max, 0};
  return mk_loop_thread_call(&p->thread, ids_on_loop, &c) ? -1 : c.n;
}
