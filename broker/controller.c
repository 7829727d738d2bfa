/*
 * Controller: carrying out cluster actions, and routing every fault to its home.
 * See controller.h.
 */
#include "broker/controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/replica_set.h"
#include "broker/transaction_coordinator_runtime.h"
#include "common/log.h"
#include "common/trace.h"

/* ---- broker_down / broker_up --------------------------------------------------------------- */

/* broker_down / broker_up {broker}, written before what it causes (leader_change,
 * isr_shrink, truncate, ...), so a reader of the trace knows the broker's state first. */
static void trace_broker(const char *event, int32_t id) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_int(&ev, "broker", id);
  mk_trace_end(&ev);
}

int mk_controller_broker_down(struct mk_broker *b, int32_t id, char *result, size_t len,
                              struct mk_err *err) {
  if (id < 0 || id >= b->cluster.nnodes)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are 0-%d", id,
                      b->cluster.nnodes - 1);
  if (!b->cluster.nodes[id].up) {
    snprintf(result, len, "broker %d was already down", id);
    return 0;
  }
  trace_broker("broker_down", id);
  mk_network_close(&b->listeners[id], NULL);
  mk_replica_set_broker_down(b, id);
  snprintf(result, len, "broker %d is down", id);
  mk_log(MK_LOG_INFO, "broker", "fault: %s", result);
  return 0;
}

int mk_controller_broker_up(struct mk_broker *b, int32_t id, char *result, size_t len,
                            struct mk_err *err) {
  if (id < 0 || id >= b->cluster.nnodes)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are 0-%d", id,
                      b->cluster.nnodes - 1);
  struct mk_node *node = &b->cluster.nodes[id];
  if (node->up) {
    snprintf(result, len, "broker %d was already up", id);
    return 0;
  }
  int rc = mk_network_listen(&b->listeners[id], b->cluster.cfg.host, node->port, err);
  if (rc) return rc;
  trace_broker("broker_up", id);  /* listening again; what follows is its replicas' return */
  mk_replica_set_broker_up(b, id);
  snprintf(result, len, "broker %d is up", id);
  mk_log(MK_LOG_INFO, "broker", "fault: %s", result);
  return 0;
}

/* ---- the replica actions ------------------------------------------------------------------- */

static int need(bool ok, const struct mk_fault *f, const char *what, struct mk_err *err) {
  return ok ? 0 : mk_err_set(err, MK_ERR__INVALID_ARG, "%s needs %s",
                             mk_fault_action_name(f->action), what);
}

/* The partition a fault names (topic + partition), or NULL with err set. */
static struct mk_partition *target_partition(struct mk_cluster *c, const struct mk_fault *f,
                                             struct mk_err *err) {
  struct mk_topic *t = mk_cluster_find_topic(c, mk_str_of(f->topic));
  struct mk_partition *p = mk_cluster_partition(t, f->partition);
  if (!t) mk_err_set(err, MK_ERR__INVALID_ARG, "unknown topic \"%s\"", f->topic);
  else if (!p) mk_err_set(err, MK_ERR__INVALID_ARG, "topic %s has no partition %d", f->topic, f->partition);
  return p;
}

/* The follower replica a follower_* fault names, or NULL with err set. */
static struct mk_replica *target_follower(struct mk_partition *p, int32_t broker,
                                          struct mk_err *err) {
  struct mk_replica *r = mk_partition_replica(p, broker);
  if (!r) mk_err_set(err, MK_ERR__INVALID_ARG, "broker %d has no replica of %s-%d", broker,
                     p->topic->name, p->index);
  else if (p->leader == broker)
    mk_err_set(err, MK_ERR__STATE, "broker %d leads %s-%d; faults act on followers", broker,
               p->topic->name, p->index);
  return r && p->leader != broker ? r : NULL;
}

static int follower_pause(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  int rc = need(f->broker >= 0 && f->topic[0] && f->partition >= 0, f,
                "\"topic\", \"partition\" and \"broker\"", err);
  if (rc) return rc;
  struct mk_partition *p = target_partition(&b->cluster, f, err);
  struct mk_replica *r = p ? target_follower(p, f->broker, err) : NULL;
  if (!r) return err->code;
  r->paused = f->action == MK_FAULT_FOLLOWER_PAUSE;
  snprintf(f->result, sizeof f->result, "replica %d of %s-%d %s", f->broker, p->topic->name,
           p->index, r->paused ? "paused" : "resumed");
  mk_replica_set_replicate(b, p);
  return 0;
}

static int follower_lag(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  int rc = need(f->broker >= 0 && f->ms >= 0, f, "\"broker\" and \"ms\"", err);
  if (rc) return rc;
  if (f->topic[0] && f->partition < 0) return need(false, f, "\"partition\" with \"topic\"", err);
  if (f->topic[0]) {  /* one named partition: it must have such a follower */
    struct mk_partition *p = target_partition(&b->cluster, f, err);
    if (!p || !target_follower(p, f->broker, err)) return err->code;
  }
  int n = 0;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next) {
    if (f->topic[0] && strcmp(t->name, f->topic) != 0) continue;
    for (int32_t i = 0; i < t->npartitions; i++) {
      struct mk_partition *p = t->partitions[i];
      if (f->partition >= 0 && p->index != f->partition) continue;
      struct mk_replica *r = mk_partition_replica(p, f->broker);
      if (!r || p->leader == f->broker) continue;
      r->lag_ms = f->ms;
      n++;
      mk_replica_set_replicate(b, p);
    }
  }
  snprintf(f->result, sizeof f->result, "broker %d copies %d follower replica(s) %lld ms late",
           f->broker, n, (long long)f->ms);
  return 0;
}

static int elect_leader(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  int rc = need(f->broker >= 0 && f->topic[0] && f->partition >= 0, f,
                "\"topic\", \"partition\" and \"broker\"", err);
  if (rc) return rc;
  struct mk_partition *p = target_partition(&b->cluster, f, err);
  if (!p) return err->code;
  struct mk_replica *r = mk_partition_replica(p, f->broker);
  if (!r)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "broker %d has no replica of %s-%d", f->broker,
                      p->topic->name, p->index);
  bool unclean = !r->in_isr;
  if (unclean && !f->unclean && !b->cluster.cfg.unclean_leader_election_enable)
    return mk_err_set(err, MK_ERR__STATE,
                      "replica %d of %s-%d is not in the ISR: electing it would lose the "
                      "records it lacks (an unclean election); Kafka refuses unless "
                      "unclean.leader.election.enable is true or the election is UNCLEAN "
                      "(add \"unclean\": true)", f->broker, p->topic->name, p->index);
  if ((rc = mk_replica_set_elect(b, p, f->broker, unclean, err))) return rc;
  snprintf(f->result, sizeof f->result, "broker %d leads %s-%d, leader epoch %d%s", f->broker,
           p->topic->name, p->index, p->leader_epoch, unclean ? " (unclean)" : "");
  return 0;
}

/* hold_markers {ms?, count?}: the transaction coordinator holds the next count transactions
 * (all, without count) between PrepareCommit/PrepareAbort and their markers, for ms (until
 * release_markers, without ms). release_markers lets every held one go. */
static int markers(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  if (f->topic[0] || f->partition >= 0 || f->broker >= 0 || f->api_key >= 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s acts on the transaction coordinator: it "
                      "takes %s", mk_fault_action_name(f->action),
                      f->action == MK_FAULT_HOLD_MARKERS ? "\"ms\" and \"count\" only" : "no field");
  if (f->action == MK_FAULT_RELEASE_MARKERS) {
    int n = mk_txn_runtime_release_markers(b);
    snprintf(f->result, sizeof f->result, "markers released: %d held transaction(s) complete now",
             n);
  } else {
    mk_txn_runtime_hold_markers(b, f->ms, f->count);
    char how_many[40] = "every transaction", how_long[40] = "until release_markers";
    if (f->count > 0) snprintf(how_many, sizeof how_many, "the next %d transaction(s)", f->count);
    if (f->ms >= 0) snprintf(how_long, sizeof how_long, "for %lld ms", (long long)f->ms);
    snprintf(f->result, sizeof f->result, "%s reaching PrepareCommit/PrepareAbort wait %s before "
             "their markers", how_many, how_long);
  }
  mk_log(MK_LOG_INFO, "broker", "fault: %s", f->result);
  return 0;
}

static int act(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  if (f->broker >= b->cluster.nnodes)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are 0-%d", f->broker,
                      b->cluster.nnodes - 1);
  switch (f->action) {
    case MK_FAULT_BROKER_DOWN:
    case MK_FAULT_BROKER_UP: {
      int rc = need(f->broker >= 0, f, "\"broker\"", err);
      if (rc) return rc;
      return f->action == MK_FAULT_BROKER_DOWN
                 ? mk_controller_broker_down(b, f->broker, f->result, sizeof f->result, err)
                 : mk_controller_broker_up(b, f->broker, f->result, sizeof f->result, err);
    }
    case MK_FAULT_FOLLOWER_PAUSE:
    case MK_FAULT_FOLLOWER_RESUME: return follower_pause(b, f, err);
    case MK_FAULT_FOLLOWER_LAG: return follower_lag(b, f, err);
    case MK_FAULT_ELECT_LEADER: return elect_leader(b, f, err);
    case MK_FAULT_HOLD_MARKERS:
    case MK_FAULT_RELEASE_MARKERS: return markers(b, f, err);
    default: return mk_err_set(err, MK_ERR__INVALID_ARG, "not a cluster action");
  }
}

/* ---- the entry point ---------------------------------------------------------------------- */

static int act_on_broker(void *owner, struct mk_fault *f, struct mk_err *err) {
  return act(owner, f, err);
}

int mk_fault_inject(struct mk_broker *b, const char *json, size_t len, int *id,
                    struct mk_err *err) {
  return mk_faults_add(&b->faults, &b->fault_targets, json, len, act_on_broker, b, id, err);
}
