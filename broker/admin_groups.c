/*
 * Admin state: GET /v1/groups, the consumer groups as their coordinators hold them
 * (DESIGN.md 3.5). See admin_state.h for the shape.
 *
 * Assignments are bytes to the coordinator; for a "consumer" group they are
 * ConsumerProtocolAssignment, decoded here into topics and partitions so a student sees
 * who reads what. Lag is Kafka's consumer-group lag: the partition's high watermark (the
 * end a consumer can read to) minus the committed offset.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/admin_state.h"
#include "broker/broker_internal.h"
#include "broker/group_coordinator_runtime.h"
#include "protocol/consumer_protocol.h"

/* Kafka's names are checked names; anything else (a damaged or foreign assignment) is shown
 * as its size only. */
static json_t *str_json(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *bytes_json(struct mk_str s) {
  return s.len < 0 ? json_null() : json_stringn(s.ptr, (size_t)s.len);
}

static json_t *assignment_json(const struct mk_group *g, const struct mk_group_member *m) {
  bool consumer = g->protocol_type && strcmp(g->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) == 0;
  if (!consumer || m->assignment_len == 0) return consumer ? json_array() : json_null();
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_consumer_protocol_assignment a;
  int version;
  json_t *list = NULL;
  if (mk_consumer_protocol_assignment_decode((struct mk_bytes){m->assignment, m->assignment_len},
                                             &a, &version, &arena, NULL) == 0 &&
      (list = json_array())) {
    for (int32_t i = 0; i < a.assigned_partitions_count; i++) {
      const struct mk_consumer_protocol_assignment_topic_partition *tp = &a.assigned_partitions[i];
      json_t *parts = json_array();
      for (int32_t j = 0; parts && j < tp->partitions_count; j++)
        json_array_append_new(parts, json_integer(tp->partitions[j]));
      json_t *topic = bytes_json(tp->topic);
      if (!json_is_string(topic)) {  /* not UTF-8, or null: not a topic name */
        json_decref(topic);
        topic = json_null();
      }
      json_array_append_new(list, json_pack("{s:o, s:o}", "topic", topic, "partitions",
                                            parts ? parts : json_array()));
    }
  }
  mk_arena_free(&arena);
  return list ? list : json_null();
}

static json_t *member_json(const struct mk_group *g, const struct mk_group_member *m) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "member_id", json_string(m->member_id));
  json_object_set_new(o, "group_instance_id", str_json(m->group_instance_id));
  json_object_set_new(o, "client_id", json_string(m->client_id));
  json_object_set_new(o, "client_host", json_string(m->client_host));
  json_object_set_new(o, "session_timeout_ms", json_integer(m->session_timeout_ms));
  json_object_set_new(o, "rebalance_timeout_ms", json_integer(m->rebalance_timeout_ms));
  json_object_set_new(o, "leader", json_boolean(m == g->leader));
  json_object_set_new(o, "assignment", assignment_json(g, m));
  json_object_set_new(o, "assignment_bytes", json_integer(m->assignment_len));
  return o;
}

static json_t *offsets_json(struct mk_broker *b, const struct mk_group *g) {
  json_t *list = json_array();
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t n;
  struct mk_group_offset **v = mk_group_offsets_sorted(g, &arena, &n);
  for (int32_t i = 0; list && i < n; i++) {
    const struct mk_group_offset *o = v[i];
    if (!o->committed) continue;
    struct mk_partition *p =
        mk_cluster_partition(mk_cluster_find_topic(&b->cluster, mk_str_of(o->topic)), o->partition);
    json_t *item = json_pack("{s:s, s:i, s:I, s:s, s:b}", "topic", o->topic, "partition",
                             o->partition, "committed_offset", (json_int_t)o->offset, "metadata",
                             o->metadata ? o->metadata : "", "pending", o->pending > 0);
    if (!item) continue;
    json_object_set_new(item, "log_end_offset", p ? json_integer(p->high_watermark) : json_null());
    json_object_set_new(item, "lag", p ? json_integer(p->high_watermark > o->offset
                                                           ? p->high_watermark - o->offset : 0)
                                       : json_null());
    json_array_append_new(list, item);
  }
  mk_arena_free(&arena);
  return list;
}

static int by_group_id(const void *a, const void *b) {
  return strcmp((*(const struct mk_group *const *)a)->group_id,
                (*(const struct mk_group *const *)b)->group_id);
}

json_t *mk_admin_state_groups(struct mk_broker *b) {
  struct mk_group_coordinator *c = mk_group_runtime_enter(b);
  json_t *root = json_object(), *groups = json_array();
  size_t n = 0;
  for (struct mk_group *g = c->mgr.list; g; g = g->next) n++;
  struct mk_group **sorted = n ? malloc(sizeof *sorted * n) : NULL;
  if (!root || !groups || (n && !sorted)) {
    json_decref(root);
    json_decref(groups);
    free(sorted);
    mk_group_runtime_leave(b);
    return NULL;
  }
  n = 0;
  for (struct mk_group *g = c->mgr.list; g; g = g->next) sorted[n++] = g;
  if (n) qsort(sorted, n, sizeof *sorted, by_group_id);
  for (size_t i = 0; i < n; i++) {
    struct mk_group *g = sorted[i];
    json_t *o = json_object(), *members = json_array();
    if (!o || !members) {
      json_decref(o);
      json_decref(members);
      continue;
    }
    json_object_set_new(o, "group_id", json_string(g->group_id));
    json_object_set_new(o, "coordinator", json_integer(c->mgr.parts[g->partition].owner));
    json_object_set_new(o, "partition", json_integer(g->partition));
    json_object_set_new(o, "state", json_string(mk_group_state_name(g->state)));
    json_object_set_new(o, "protocol_type", str_json(g->protocol_type));
    json_object_set_new(o, "protocol", str_json(g->protocol_name));
    json_object_set_new(o, "generation", json_integer(g->generation_id));
    json_object_set_new(o, "leader", str_json(g->leader ? g->leader->member_id : NULL));
    for (const struct mk_group_member *m = g->members; m; m = m->next) {
      json_t *mj = member_json(g, m);
      if (mj) json_array_append_new(members, mj);
    }
    json_object_set_new(o, "members", members);
    json_t *offsets = offsets_json(b, g);
    json_object_set_new(o, "offsets", offsets ? offsets : json_array());
    json_array_append_new(groups, o);
  }
  free(sorted);
  json_object_set_new(root, "groups", groups);
  mk_group_runtime_leave(b);
  return root;
}
