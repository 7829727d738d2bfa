/*
 * State events: the cluster's state written as trace events (DESIGN.md 3.4), so that a
 * reader who was not there from the start (a replay of a --trace file, a dashboard that
 * connects to /v1/events later) can rebuild it from the events alone.
 *
 * Most trace events say what changed (append, hw_advance, isr_shrink, ...). These two say
 * how things are, in the shape of GET /v1/cluster:
 *
 *   broker_state     {broker, host, port, up}
 *   partition_state  {topic, partition, topic_id, leader, leader_epoch, high_watermark,
 *                     log_start_offset, isr: [ids], replicas: [{broker, log_end_offset,
 *                     paused, lag_ms}], last_stable_offset}   (replicas in assignment order)
 *
 * When they are written:
 *   - broker_state for every virtual broker when the broker starts (mk_broker_new), so a
 *     --trace file opened before it begins with the brokers and their addresses;
 *   - partition_state for each partition when it is created (cluster.c), so a replay knows
 *     its replicas and leader before anything happens to it;
 *   - both, for everything, to one reader when it attaches: each new /v1/events client
 *     (admin_http.c) and mk_broker_trace_state (broker.h) for an embedder's new sink.
 * A reader applies them as "set to", so seeing one twice is harmless (reducer.js).
 *
 * fn / opaque: where the lines go. NULL sends them to every trace sink (and only while
 * tracing is on); a function gets them alone (common/trace.h, mk_trace_end_to).
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_STATE_EVENTS_H
#define MK_BROKER_STATE_EVENTS_H

#include "broker/cluster.h"
#include "common/trace.h"

/* broker_state for virtual broker `node` of c. */
void mk_state_event_broker(const struct mk_cluster *c, const struct mk_node *node,
                           mk_trace_sink_fn fn, void *opaque);

/* partition_state for p. */
void mk_state_event_partition(struct mk_partition *p, mk_trace_sink_fn fn, void *opaque);

/* broker_state for every broker, then partition_state for every partition of every topic
 */
void mk_state_events_all(struct mk_cluster *c, mk_trace_sink_fn fn, void *opaque);

#endif
