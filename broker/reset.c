/*
 * Reset: the steps of reset.h, in order, and the hook list.
 */
#include "broker/reset.h"

#include <stdio.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/controller.h"
#include "broker/fault_script.h"
#include "broker/purgatory.h"
#include "broker/quota.h"
#include "broker/state_events.h"
#include "common/log.h"
#include "common/trace.h"

int mk_reset_hook_add(struct mk_broker *b, const struct mk_reset_hook *hook) {
  if (b->nreset_hooks >= MK_RESET_MAX_HOOKS) {
    mk_log(MK_LOG_ERROR, "broker", "no room for the reset hook of %s (MK_RESET_MAX_HOOKS is %d)",
           hook->name, MK_RESET_MAX_HOOKS);
    return MK_ERR__STATE;
  }
  b->reset_hooks[b->nreset_hooks++] = *hook;
  return 0;
}

int mk_reset(struct mk_broker *b, struct mk_reset_result *out, struct mk_err *err) {
  struct mk_cluster *c = &b->cluster;
  struct mk_reset_result r = {.hooks = b->nreset_hooks};
  int rc = 0;

  /* 1. the subsystems forget what they hold */
  for (int i = 0; i < b->nreset_hooks; i++)
    if (b->reset_hooks[i].clear) b->reset_hooks[i].clear(b, b->reset_hooks[i].arg);

  /* 2. the clients' connections, and with them every request still waiting */
  for (int i = 0; i < c->nnodes; i++)
    r.connections_closed += mk_network_close_connections(&b->listeners[i], NULL);

  /* 3. the topics (the purgatory is empty now, but a waiter would find its topic gone) */
  while (c->topics) {
    mk_cluster_delete_topic(c, c->topics);
    r.topics_deleted++;
  }
  mk_purgatory_check(b);

  /* 4. every broker up: with no partitions left, coming up is only listening again */
  for (int i = 0; i < c->nnodes; i++) {
    if (c->nodes[i].up) continue;
    char said[200];
    struct mk_err why = {0};
    if (mk_controller_broker_up(b, c->nodes[i].id, said, sizeof said, &why) == 0)
      r.brokers_started++;
    else if (!rc)
      rc = mk_err_set(err, why.code ? why.code : MK_ERR__TRANSPORT,
                      "reset: broker %d stays down: %s", c->nodes[i].id, why.msg);
  }

  /* 5. faults, the script, the counters */
  for (const struct mk_fault *f = b->faults.head; f; f = f->next) r.faults_cleared++;
  mk_faults_free(&b->faults);
  b->faults.next_id = 0;
  mk_fault_script_restart(b->script);
  c->next_producer_id = 1000;  /* as mk_broker_new */
  c->next_placement = 0;
  for (int i = 0; i < c->nnodes; i++) mk_quota_free(&b->listeners[i]);

  /* 6. the subsystems start again */
  for (int i = 0; i < b->nreset_hooks; i++)
    if (b->reset_hooks[i].start) b->reset_hooks[i].start(b, b->reset_hooks[i].arg);

  /* 7. done: a reader of the trace that applies `reset` is where the broker is now */
  mk_log(MK_LOG_INFO, "broker",
         "reset: %d topics deleted, %d connections closed, %d faults forgotten, %d brokers "
         "started again",
         r.topics_deleted, r.connections_closed, r.faults_cleared, r.brokers_started);
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "reset");
    mk_trace_end(&ev);
  }
  /* A broker that could not come back is down: broker_state says so after the reset. */
  for (int i = 0; i < c->nnodes; i++) mk_state_event_broker(c, &c->nodes[i], NULL, NULL);
  if (out) *out = r;
  return rc;
}
