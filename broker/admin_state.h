/*
 * Admin state: the broker's state as JSON, for the admin HTTP API (DESIGN.md 3.2) and
 * for code that embeds the broker (mk_broker_cluster_json, mk_broker_producers_json).
 *
 *   GET /v1/cluster    mk_admin_state_cluster()    brokers; every partition's leader,
 *                                                  leader epoch, high watermark, ISR, and
 *                                                  each replica's log end offset
 *   GET /v1/producers  mk_admin_state_producers()  every partition's idempotent producers:
 *                                                  id, epoch, last sequence and offset, and
 *                                                  the five batches a retry is checked against
 *   GET /v1/groups     mk_admin_state_groups()     every consumer group: state, protocol,
 *                                                  generation, members and what they read,
 *                                                  committed offsets and lag (admin_groups.c)
 *   GET /v1/transactions  mk_admin_state_transactions()  every transactional id: producer id,
 *                                                  epoch, state, partitions, timeout, age
 *                                                  (admin_transactions.c)
 *   POST /v1/topics    mk_admin_state_create_topic()  {name, partitions,
 *                                                  replication_factor, configs}
 *
 * These are views, built fresh on each call from the cluster model (cluster.h); nothing
 * here is cached, so what a student sees is what the broker holds at that moment.
 *
 * Thread: broker loop, for everything declared here (the embedding calls in broker.h reach
 * the loop through mk_broker_call).
 */
#ifndef MK_BROKER_ADMIN_STATE_H
#define MK_BROKER_ADMIN_STATE_H

#include <jansson.h>

#include "broker/cluster.h"

/* The GET /v1/cluster object:
 *   {"cluster_id": "...", "brokers": [{"id", "host", "port", "up"}, ...],
 *    "topics": [{"name", "id", "partitions": [{"partition", "leader", "leader_epoch",
 *      "high_watermark", "last_stable_offset", "log_start_offset", "isr": [...],
 *      "replicas": [{"broker", "log_end_offset", "caught_up", "paused", "lag_ms"}, ...]}]}]}
 * Topics are sorted by name; replicas are in assignment order (the first is the preferred
 * leader); caught_up means the replica's log end offset equals the leader's.
 * Returns new (json_decref); NULL if out of memory. */
json_t *mk_admin_state_cluster(struct mk_broker *b);

/* The GET /v1/producers object:
 *   {"topics": [{"name", "partitions": [{"partition", "high_watermark", "last_stable_offset",
 *      "producers": [{"producer_id", "epoch", "last_sequence", "last_offset",
 *      "last_timestamp", "current_txn_first_offset" (its open transaction's first offset
 *      here, or null), "coordinator_epoch",
 *      "batches": [{"first_sequence", "last_sequence", "first_offset", "last_offset",
 *                   "timestamp"}, ...]}],
 *      "transactions": [{"producer_id", "first_offset", "marker_offset"}] (those holding the
 *        LSO: open, marker_offset null, or closed by a marker not yet replicated),
 *      "aborted_transactions": {"count", "latest": [{"producer_id", "first_offset",
 *        "last_offset", "last_stable_offset"}] (the index, its last 100)}}]}]}
 * Every topic and partition appears (an empty "producers" list when none wrote to it);
 * producers are sorted by id, batches oldest first. Returns new; NULL if out of memory. */
json_t *mk_admin_state_producers(struct mk_broker *b);

/* The GET /v1/groups object (admin_groups.c):
 *   {"groups": [{"group_id", "coordinator" (broker id), "partition" (of __consumer_offsets),
 *      "state", "protocol_type", "protocol", "generation", "leader",
 *      "members": [{"member_id", "group_instance_id", "client_id", "client_host",
 *                   "session_timeout_ms", "rebalance_timeout_ms", "leader",
 *                   "assignment": [{"topic", "partitions": [...]}] (consumer groups; null
 *                   for other protocol types or an assignment that does not decode),
 *                   "assignment_bytes"}, ...],
 *      "offsets": [{"topic", "partition", "committed_offset", "metadata", "pending",
 *                   "log_end_offset" (the high watermark), "lag"}, ...]}, ...]}
 * Groups sorted by id, members in joining order, offsets by topic and partition. Returns new
 * (json_decref); NULL if out of memory. */
json_t *mk_admin_state_groups(struct mk_broker *b);

/* The GET /v1/transactions object (admin_transactions.c):
 *   {"transactions": [{"transactional_id", "coordinator" (broker id), "partition" (of
 *      __transaction_state), "producer_id", "epoch", "state", "pending_state" (the state being
 *      written, or null), "partitions": ["topic-partition", ...], "timeout_ms", "start_ms",
 *      "age_ms" (how long the transaction in progress has been open, or null),
 *      "last_update_ms", "markers_pending": ["topic-partition", ...] (phase two: markers not
 *      yet written), "markers_held", "markers_held_until_ms" (the hold_markers fault)}, ...],
 *    "markers_hold": whether hold_markers is on for transactions to come}
 * Sorted by transactional id. Returns new (json_decref); NULL if out of memory. */
json_t *mk_admin_state_transactions(struct mk_broker *b);

/* Create a topic from a POST /v1/topics body: {"name": "t", "partitions": 3,
 * "replication_factor": 3, "configs": {"retention.ms": "60000"}}. Only name is required
 * (partitions and replication_factor default to num.partitions and
 * default.replication.factor); configs are Kafka's topic configs, checked by the same code
 * as CreateTopics (mk_topic_config_set), with string or integer values.
 * Returns 0 with *out the created topic as {"name", "id", "partitions",
 * "replication_factor", "configs"} (returns new), or:
 *   MK_ERR__INVALID_ARG     not an object, a field of the wrong type, an unknown field
 *   Kafka's error codes     INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS, INVALID_CONFIG,
 *                           INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR (as
 *                           mk_cluster_create_topic and CreateTopics answer)
 * with err saying which field and why. Borrows body. */
int mk_admin_state_create_topic(struct mk_broker *b, const json_t *body, json_t **out,
                                struct mk_err *err);

#endif
