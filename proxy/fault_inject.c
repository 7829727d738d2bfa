/*
 * Faults on a real cluster: where each one goes. The proxy's counterpart of the broker's
 * controller.c entry point (mk_fault_inject), over the same parser and list (faults.h).
 *
 *   drop_response, error, delay   armed in the list; connection.c asks it about each
 *                                 request and answer, as the broker's network does
 *   broker_down, broker_up        the proxy's listener for that broker closes (and every
 *                                 connection on it) or opens again: clients see a dead
 *                                 broker; the real one keeps serving, and its partitions
 *                                 keep their leaders, so clients must wait for it or be
 *                                 told otherwise by the cluster
 *   follower_*, elect_leader      refused: they act inside a cluster (a replica's fetching,
 *                                 an election), which the proxy cannot reach
 *
 * Thread: the proxy's loop.
 */
#include <stdio.h>

#include "common/log.h"
#include "proxy/proxy_internal.h"

static int broker_action(struct mk_proxy *p, struct mk_fault *f, struct mk_err *err) {
  const char *name = mk_fault_action_name(f->action);
  if (f->broker < 0) return mk_err_set(err, MK_ERR__INVALID_ARG, "%s needs \"broker\"", name);
  struct mk_proxy_broker *b = mk_proxy_find_broker(p, f->broker);
  if (!b) {
    char ids[128];
    p->fault_targets.broker(p, f->broker, ids, sizeof ids);
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are %s", f->broker,
                      ids);
  }
  if (f->action == MK_FAULT_BROKER_DOWN) {
    if (!b->up) {
      snprintf(f->result, sizeof f->result, "broker %d was already down", b->node_id);
      return 0;
    }
    mk_proxy_unlisten(b, NULL);
    snprintf(f->result, sizeof f->result,
             "broker %d is down for clients: the proxy refuses and drops connections to %.60s:%d "
             "(the real broker keeps running)", b->node_id, p->host, b->listen_port);
  } else {
    if (b->up) {
      snprintf(f->result, sizeof f->result, "broker %d was already up", b->node_id);
      return 0;
    }
    int rc = mk_proxy_listen(b, err);
    if (rc) return rc;
    snprintf(f->result, sizeof f->result, "broker %d is up: the proxy listens on %.60s:%d again",
             b->node_id, p->host, b->listen_port);
  }
  mk_log(MK_LOG_INFO, "proxy", "fault: %s", f->result);
  return 0;
}

/* The cluster actions (faults.h): broker_down and broker_up; the rest act inside a cluster. */
static int act(void *owner, struct mk_fault *f, struct mk_err *err) {
  if (f->action == MK_FAULT_BROKER_DOWN || f->action == MK_FAULT_BROKER_UP)
    return broker_action(owner, f, err);
  return mk_err_set(err, MK_ERR__INVALID_ARG,
                    "%s acts inside a cluster (on its replicas, elections and coordinators); "
                    "the proxy sees only what clients and brokers send each other, so it can do "
                    "drop_response, error, delay, broker_down and broker_up",
                    mk_fault_action_name(f->action));
}

int mk_proxy_inject(struct mk_proxy *p, const char *json, size_t len, int *id,
                    struct mk_err *err) {
  return mk_faults_add(&p->faults, &p->fault_targets, json, len, act, p, id, err);
}
