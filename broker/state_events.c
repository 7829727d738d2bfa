/*
 * State events: broker_state and partition_state, built with the trace's builder. See
 * state_events.h.
 */
#include "broker/state_events.h"

/* With no reader of its own, an event is built only while some sink listens. */
static bool wanted(mk_trace_sink_fn fn) { return fn || mk_trace_on(); }

void mk_state_event_broker(const struct mk_cluster *c, const struct mk_node *node,
                           mk_trace_sink_fn fn, void *opaque) {
  if (!wanted(fn)) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "broker_state");
  mk_trace_int(&ev, "broker", node->id);
  mk_trace_str(&ev, "host", c->cfg.host);
  mk_trace_int(&ev, "port", node->port);
  mk_trace_bool(&ev, "up", node->up);
  mk_trace_end_to(&ev, fn, opaque);
}

void mk_state_event_partition(struct mk_partition *p, mk_trace_sink_fn fn, void *opaque) {
  if (!wanted(fn)) return;
  char id[23];
  mk_topic_id_string(&p->topic->id, id);
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "partition_state");
  mk_trace_str(&ev, "topic", p->topic->name);
  mk_trace_int(&ev, "partition", p->index);
  mk_trace_str(&ev, "topic_id", id);
  mk_trace_int(&ev, "leader", p->leader);
  mk_trace_int(&ev, "leader_epoch", p->leader_epoch);
  mk_trace_int(&ev, "high_watermark", p->high_watermark);
  mk_trace_int(&ev, "log_start_offset", mk_partition_log_start_offset(p));
  mk_trace_array_begin(&ev, "isr");
  for (int r = 0; r < p->nreplicas; r++)
    if (p->replicas[r].in_isr) mk_trace_int(&ev, NULL, p->replicas[r].broker_id);
  mk_trace_array_end(&ev);
  mk_trace_array_begin(&ev, "replicas");
  for (int r = 0; r < p->nreplicas; r++) {
    const struct mk_replica *rep = &p->replicas[r];
    mk_trace_object_begin(&ev, NULL);
    mk_trace_int(&ev, "broker", rep->broker_id);
    mk_trace_int(&ev, "log_end_offset", rep->log.log_end_offset);
    mk_trace_bool(&ev, "paused", rep->paused);
    mk_trace_int(&ev, "lag_ms", rep->lag_ms);
    mk_trace_object_end(&ev);
  }
  mk_trace_array_end(&ev);
  mk_trace_int(&ev, "last_stable_offset", mk_partition_last_stable_offset(p));
  mk_trace_end_to(&ev, fn, opaque);
}

void mk_state_events_all(struct mk_cluster *c, mk_trace_sink_fn fn, void *opaque) {
  if (!wanted(fn)) return;
  for (int i = 0; i < c->nnodes; i++) mk_state_event_broker(c, &c->nodes[i], fn, opaque);
  MK_FOR_EACH_PARTITION(c, p) mk_state_event_partition(p, fn, opaque);
}
