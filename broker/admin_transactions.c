/*
 * Admin state: GET /v1/transactions, the transactional ids as their coordinators hold them
 * (DESIGN.md 3.6). See admin_state.h for the shape.
 *
 * Kafka's kafka-transactions.sh describe shows the same things (DescribeTransactions): the
 * producer id and epoch, the state, the partitions, the timeout and when the transaction
 * began. Here also what the second phase still owes: the partitions whose marker is not
 * written yet, and whether the hold_markers fault holds them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin_state.h"
#include "broker/broker_internal.h"
#include "broker/transaction_coordinator_runtime.h"
#include "common/clock.h"

/* ["topic-partition", ...], as Kafka's TopicPartition prints. */
static json_t *partitions_json(const struct mk_txn_partitions *set) {
  json_t *list = json_array();
  for (int32_t i = 0; list && set && i < set->count; i++) {
    char tp[300];
    snprintf(tp, sizeof tp, "%s-%d", set->v[i].topic, set->v[i].partition);
    json_array_append_new(list, json_string(tp));
  }
  return list;
}

static int by_id(const void *a, const void *b) {
  return strcmp((*(const struct mk_txn_metadata *const *)a)->transactional_id,
                (*(const struct mk_txn_metadata *const *)b)->transactional_id);
}

static json_t *transaction_json(const struct mk_txn_coordinator *c, const struct mk_txn_metadata *t,
                                int64_t now) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "transactional_id", json_string(t->transactional_id));
  json_object_set_new(o, "coordinator", json_integer(c->mgr.parts[t->partition].owner));
  json_object_set_new(o, "partition", json_integer(t->partition));
  json_object_set_new(o, "producer_id", json_integer(t->producer_id));
  json_object_set_new(o, "epoch", json_integer(t->producer_epoch));
  json_object_set_new(o, "state", json_string(mk_txn_state_name(t->state)));
  json_object_set_new(o, "pending_state", t->pending == MK_TXN_NO_PENDING
                                              ? json_null()
                                              : json_string(mk_txn_state_name(t->pending)));
  json_object_set_new(o, "partitions", partitions_json(&t->partitions));
  json_object_set_new(o, "timeout_ms", json_integer(t->timeout_ms));
  json_object_set_new(o, "start_ms", t->start_ms >= 0 ? json_integer(t->start_ms) : json_null());
  /* How long the transaction in progress has been open; null between transactions. */
  bool open = t->state == MK_TXN_ONGOING || t->state == MK_TXN_PREPARE_COMMIT ||
              t->state == MK_TXN_PREPARE_ABORT;
  json_object_set_new(o, "age_ms", open && t->start_ms >= 0 ? json_integer(now - t->start_ms)
                                                            : json_null());
  json_object_set_new(o, "last_update_ms", json_integer(t->update_ms));
  const struct mk_txn_partitions *left = mk_txn_marker_channel_remaining(&c->channel, t);
  int64_t until = -1;
  bool held = mk_txn_marker_channel_held(&c->channel, t, &until);
  json_object_set_new(o, "markers_pending", left ? partitions_json(left) : json_array());
  json_object_set_new(o, "markers_held", json_boolean(held));
  json_object_set_new(o, "markers_held_until_ms", held && until >= 0 ? json_integer(until)
                                                                     : json_null());
  return o;
}

json_t *mk_admin_state_transactions(struct mk_broker *b) {
  struct mk_txn_coordinator *c = mk_txn_runtime_enter(b);
  json_t *root = json_object(), *list = json_array();
  size_t n = 0;
  for (struct mk_txn_metadata *t = c->mgr.list; t; t = t->next) n++;
  struct mk_txn_metadata **sorted = n ? malloc(sizeof *sorted * n) : NULL;
  if (!root || !list || (n && !sorted)) {
    json_decref(root);
    json_decref(list);
    free(sorted);
    mk_txn_runtime_leave(b);
    return NULL;
  }
  n = 0;
  for (struct mk_txn_metadata *t = c->mgr.list; t; t = t->next) sorted[n++] = t;
  if (n) qsort(sorted, n, sizeof *sorted, by_id);
  int64_t now = mk_wall_ms();
  for (size_t i = 0; i < n; i++) {
    json_t *o = transaction_json(c, sorted[i], now);
    if (o) json_array_append_new(list, o);
  }
  free(sorted);
  json_object_set_new(root, "transactions", list);
  json_object_set_new(root, "markers_hold", json_boolean(c->channel.hold));
  mk_txn_runtime_leave(b);
  return root;
}
