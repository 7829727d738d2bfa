/*
 * Faults: parsing, checking and applying the actions of faults.h.
 *
 * Immediate actions (broker_down/up, follower_*, elect_leader) change the cluster now and
 * are kept in the list with a sentence saying what they did. Request faults (error,
 * delay, drop_response) are armed: the network and the handlers ask the mk_faults_take_*
 * hooks about each request, and a fault that matches fires and counts down.
 */
#include "broker/faults.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/network.h"
#include "broker/replica_set.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/api.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/produce.h"

static const char *const action_names[] = {
    [MK_FAULT_DROP_RESPONSE] = "drop_response",   [MK_FAULT_ERROR] = "error",
    [MK_FAULT_DELAY] = "delay",                   [MK_FAULT_BROKER_DOWN] = "broker_down",
    [MK_FAULT_BROKER_UP] = "broker_up",           [MK_FAULT_FOLLOWER_PAUSE] = "follower_pause",
    [MK_FAULT_FOLLOWER_RESUME] = "follower_resume", [MK_FAULT_FOLLOWER_LAG] = "follower_lag",
    [MK_FAULT_ELECT_LEADER] = "elect_leader",
};
enum { NACTIONS = sizeof action_names / sizeof action_names[0] };

/* The APIs an `error` fault can answer for: those whose responses carry error codes we fill. */
static bool error_api_supported(int api) {
  return api == MK_API_PRODUCE || api == MK_API_FETCH || api == MK_API_METADATA ||
         api == MK_API_LIST_OFFSETS || api == MK_API_INIT_PRODUCER_ID;
}

static void trace_fault(const struct mk_fault *f, const char *what) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "fault");
  mk_trace_int(&ev, "id", f->id);
  mk_trace_str(&ev, "action", action_names[f->action]);
  if (f->api_key >= 0) mk_trace_str(&ev, "api", mk_api_find(f->api_key)->name);
  if (f->broker >= 0) mk_trace_int(&ev, "broker", f->broker);
  if (f->topic[0]) mk_trace_str(&ev, "topic", f->topic);
  if (f->partition >= 0) mk_trace_int(&ev, "partition", f->partition);
  if (f->error_code) mk_trace_str(&ev, "error", mk_err_name(f->error_code));
  mk_trace_str(&ev, "what", what);
  mk_trace_end(&ev);
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Read an optional integer field; returns 0, or an error naming the field. */
static int get_int(json_t *o, const char *key, int64_t *out, struct mk_err *err) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_integer(v))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" must be a whole number", key);
  *out = json_integer_value(v);
  return 0;
}

static int get_string(json_t *o, const char *key, const char **out, struct mk_err *err) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_string(v))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" must be a string", key);
  *out = json_string_value(v);
  return 0;
}

static int parse(const char *text, size_t len, struct mk_fault *f, struct mk_err *err) {
  json_error_t jerr;
  json_t *o = json_loadb(text, len, 0, &jerr);
  if (!o) return mk_err_set(err, MK_ERR__INVALID_ARG, "bad JSON at line %d column %d: %s",
                            jerr.line, jerr.column, jerr.text);
  int rc = 0;
  if (!json_is_object(o)) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "a fault is a JSON object");
    goto out;
  }
  static const char *const known[] = {"action", "api", "error", "count", "mode", "ms",
                                      "broker", "topic", "partition"};
  const char *key;
  json_t *value;
  json_object_foreach(o, key, value) {
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(key, known[i]) == 0;
    if (!ok) {
      rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown field \"%s\"; a fault has action, api, error, count, mode, ms, "
                      "broker, topic, partition", key);
      goto out;
    }
  }
  const char *action = NULL, *api = NULL, *error = NULL, *mode = NULL, *topic = NULL;
  int64_t count = -1, ms = -1, broker = -1, partition = -1;
  if ((rc = get_string(o, "action", &action, err)) || (rc = get_string(o, "api", &api, err)) ||
      (rc = get_string(o, "error", &error, err)) || (rc = get_string(o, "mode", &mode, err)) ||
      (rc = get_string(o, "topic", &topic, err)) || (rc = get_int(o, "count", &count, err)) ||
      (rc = get_int(o, "ms", &ms, err)) || (rc = get_int(o, "broker", &broker, err)) ||
      (rc = get_int(o, "partition", &partition, err)))
    goto out;
  if (!action) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "\"action\" is missing");
    goto out;
  }
  int a = -1;
  for (int i = 0; i < NACTIONS; i++)
    if (strcmp(action, action_names[i]) == 0) a = i;
  if (a < 0) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                    "unknown action \"%.40s\"; one of drop_response, error, delay, broker_down, "
                    "broker_up, follower_pause, follower_resume, follower_lag, elect_leader",
                    action);
    goto out;
  }
  f->action = (enum mk_fault_action)a;
  f->api_key = -1;
  if (api) {
    const struct mk_api *found = mk_api_by_name(api);
    if (!found) {
      rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown api \"%.40s\"; use Kafka's names: Produce, Fetch, Metadata, ...", api);
      goto out;
    }
    f->api_key = found->key;
  }
  if (error) {
    bool found;
    f->error_code = (int16_t)mk_err_from_name(error, &found);
    if (!found || f->error_code <= 0) {
      rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown error \"%.40s\"; use Kafka's names, e.g. NOT_LEADER_OR_FOLLOWER", error);
      goto out;
    }
  }
  f->close = !mode || strcmp(mode, "close") == 0;
  if (mode && strcmp(mode, "close") != 0 && strcmp(mode, "silent") != 0) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "\"mode\" is close or silent, not \"%.40s\"", mode);
    goto out;
  }
  if (count == 0 || count < -1 || count > INT32_MAX || ms < -1 || broker < -1 ||
      broker >= MK_MAX_BROKERS || partition < -1 || partition > INT32_MAX) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                    "out of range: count must be >= 1, ms >= 0, broker and partition >= 0");
    goto out;
  }
  f->count = (int)count;
  f->ms = ms;
  f->broker = (int32_t)broker;
  f->partition = (int32_t)partition;
  if (topic) snprintf(f->topic, sizeof f->topic, "%s", topic);
out:
  json_decref(o);
  return rc;
}

/* ---- checking and applying ------------------------------------------------------------- */

static int need(bool ok, const char *action, const char *what, struct mk_err *err) {
  return ok ? 0 : mk_err_set(err, MK_ERR__INVALID_ARG, "%s needs %s", action, what);
}

/* The partition a fault names (topic + partition), or NULL with err set. */
static struct mk_partition *target_partition(struct mk_broker *b, const struct mk_fault *f,
                                             struct mk_err *err) {
  struct mk_topic *t = mk_cluster_find_topic(b, mk_str_of(f->topic));
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

static int apply(struct mk_broker *b, struct mk_fault *f, struct mk_err *err) {
  const char *name = action_names[f->action];
  bool has_broker = f->broker >= 0, has_tp = f->topic[0] && f->partition >= 0;
  if (has_broker && f->broker >= b->nnodes)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are 0-%d", f->broker,
                      b->nnodes - 1);
  if (f->topic[0] && !mk_cluster_find_topic(b, mk_str_of(f->topic)))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown topic \"%s\"", f->topic);
  int rc = 0;
  switch (f->action) {
    case MK_FAULT_ERROR:
      if ((rc = need(f->api_key >= 0 && f->error_code > 0, name, "\"api\" and \"error\"", err)))
        return rc;
      if (!error_api_supported(f->api_key))
        return mk_err_set(err, MK_ERR__INVALID_ARG, "error faults answer Produce, Fetch, "
                          "Metadata, ListOffsets or InitProducerId, not %s",
                          mk_api_find(f->api_key)->name);
      return 0;
    case MK_FAULT_DELAY:
      return need(f->ms >= 0, name, "\"ms\"", err);
    case MK_FAULT_DROP_RESPONSE:
      return 0;
    case MK_FAULT_BROKER_DOWN:
    case MK_FAULT_BROKER_UP: {
      if ((rc = need(has_broker, name, "\"broker\"", err))) return rc;
      struct mk_node *node = &b->nodes[f->broker];
      bool down = f->action == MK_FAULT_BROKER_DOWN;
      if (node->up != down) {
        snprintf(f->result, sizeof f->result, "broker %d was already %s", f->broker,
                 down ? "down" : "up");
        return 0;
      }
      if (down) {
        mk_network_close_node(node, NULL);
        mk_replica_set_broker_down(b, f->broker);
      } else {
        if ((rc = mk_network_listen(node, b->cfg.host, node->port, err))) return rc;
        mk_replica_set_broker_up(b, f->broker);
      }
      snprintf(f->result, sizeof f->result, "broker %d is %s", f->broker, down ? "down" : "up");
      mk_log(MK_LOG_INFO, "broker", "fault: %s", f->result);
      return 0;
    }
    case MK_FAULT_FOLLOWER_PAUSE:
    case MK_FAULT_FOLLOWER_RESUME: {
      if ((rc = need(has_broker && has_tp, name, "\"topic\", \"partition\" and \"broker\"", err)))
        return rc;
      struct mk_partition *p = target_partition(b, f, err);
      struct mk_replica *r = p ? target_follower(p, f->broker, err) : NULL;
      if (!r) return err ? err->code : MK_ERR__INVALID_ARG;
      r->paused = f->action == MK_FAULT_FOLLOWER_PAUSE;
      snprintf(f->result, sizeof f->result, "replica %d of %s-%d %s", f->broker, p->topic->name,
               p->index, r->paused ? "paused" : "resumed");
      mk_replica_set_replicate(b, p);
      return 0;
    }
    case MK_FAULT_FOLLOWER_LAG: {
      if ((rc = need(has_broker && f->ms >= 0, name, "\"broker\" and \"ms\"", err))) return rc;
      if (f->topic[0] && !has_tp) return need(false, name, "\"partition\" with \"topic\"", err);
      int n = 0;
      for (struct mk_topic *t = b->topics; t; t = t->next) {
        if (f->topic[0] && strcmp(t->name, f->topic) != 0) continue;
        for (int32_t i = 0; i < t->npartitions; i++) {
          struct mk_partition *p = &t->partitions[i];
          if (f->partition >= 0 && p->index != f->partition) continue;
          struct mk_replica *r = mk_partition_replica(p, f->broker);
          if (!r || p->leader == f->broker) continue;
          r->lag_ms = f->ms;
          n++;
          mk_replica_set_replicate(b, p);
        }
      }
      if (has_tp && n == 0) {
        struct mk_partition *p = target_partition(b, f, err);
        if (!p || !target_follower(p, f->broker, err)) return err ? err->code : MK_ERR__INVALID_ARG;
      }
      snprintf(f->result, sizeof f->result, "broker %d copies %d follower replica(s) %lld ms late",
               f->broker, n, (long long)f->ms);
      return 0;
    }
    case MK_FAULT_ELECT_LEADER: {
      if ((rc = need(has_broker && has_tp, name, "\"topic\", \"partition\" and \"broker\"", err)))
        return rc;
      struct mk_partition *p = target_partition(b, f, err);
      if (!p) return err ? err->code : MK_ERR__INVALID_ARG;
      struct mk_replica *r = mk_partition_replica(p, f->broker);
      bool unclean = r && !r->in_isr;
      if ((rc = mk_replica_set_elect(b, p, f->broker, unclean, err))) return rc;
      snprintf(f->result, sizeof f->result, "broker %d leads %s-%d, leader epoch %d%s", f->broker,
               p->topic->name, p->index, p->leader_epoch, unclean ? " (unclean)" : "");
      return 0;
    }
  }
  return 0;
}

int mk_faults_add_json(struct mk_broker *b, const char *json, size_t len, int *id,
                       struct mk_err *err) {
  struct mk_fault *f = calloc(1, sizeof *f);
  if (!f) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int rc = parse(json, len, f, err);
  if (!rc) rc = apply(b, f, err);
  if (rc) {
    free(f);
    return rc;
  }
  f->id = ++b->next_fault_id;
  f->next = b->faults;
  b->faults = f;
  if (id) *id = f->id;
  bool immediate = f->action > MK_FAULT_DELAY;
  if (immediate) {
    f->fired = 1;
    trace_fault(f, f->result);
  }
  return 0;
}

/* ---- the list -------------------------------------------------------------------------- */

char *mk_faults_list_json(struct mk_broker *b) {
  json_t *list = json_array();
  for (const struct mk_fault *f = b->faults; f; f = f->next) {
    json_t *o = json_pack("{s:i, s:s, s:i}", "id", f->id, "action", action_names[f->action],
                          "fired", f->fired);
    if (f->api_key >= 0) json_object_set_new(o, "api", json_string(mk_api_find(f->api_key)->name));
    if (f->error_code) json_object_set_new(o, "error", json_string(mk_err_name(f->error_code)));
    if (f->action == MK_FAULT_DROP_RESPONSE)
      json_object_set_new(o, "mode", json_string(f->close ? "close" : "silent"));
    if (f->ms >= 0) json_object_set_new(o, "ms", json_integer(f->ms));
    if (f->broker >= 0) json_object_set_new(o, "broker", json_integer(f->broker));
    if (f->topic[0]) json_object_set_new(o, "topic", json_string(f->topic));
    if (f->partition >= 0) json_object_set_new(o, "partition", json_integer(f->partition));
    if (f->action <= MK_FAULT_DELAY) {
      json_object_set_new(o, "count", f->count < 0 ? json_null() : json_integer(f->count));
      json_object_set_new(o, "armed", json_boolean(f->count != 0));
    } else {
      json_object_set_new(o, "result", json_string(f->result));
    }
    json_array_append_new(list, o);
  }
  char *text = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  return text;
}

void mk_faults_free(struct mk_broker *b) {
  while (b->faults) {
    struct mk_fault *f = b->faults;
    b->faults = f->next;
    free(f);
  }
}

void mk_faults_clear(struct mk_broker *b) { mk_faults_free(b); }

/* ---- matching requests ----------------------------------------------------------------- */

bool mk_fault_covers(const struct mk_fault *f, struct mk_str topic, int32_t partition) {
  if (f->topic[0] && !mk_str_eq(topic, f->topic)) return false;
  return f->partition < 0 || f->partition == partition;
}

/* Whether req names a topic/partition the fault is scoped to (Produce and Fetch; other APIs
 * match only unscoped faults). */
static bool request_covered(const struct mk_fault *f, const struct mk_req *req) {
  if (!f->topic[0] && f->partition < 0) return true;
  const void *body = req->request.body;
  if (req->request.header.api_key == MK_API_PRODUCE) {
    const struct mk_produce_request *pr = body;
    for (int i = 0; i < pr->topic_data_count; i++)
      for (int j = 0; j < pr->topic_data[i].partition_data_count; j++)
        if (mk_fault_covers(f, pr->topic_data[i].name, pr->topic_data[i].partition_data[j].index))
          return true;
  } else if (req->request.header.api_key == MK_API_FETCH && req->request.header.api_version < 13) {
    const struct mk_fetch_request *fr = body;
    for (int i = 0; i < fr->topics_count; i++)
      for (int j = 0; j < fr->topics[i].partitions_count; j++)
        if (mk_fault_covers(f, fr->topics[i].topic, fr->topics[i].partitions[j].partition))
          return true;
  }
  return false;
}

/* The newest armed fault of this action matching req; counts a firing. */
static struct mk_fault *take(struct mk_broker *b, const struct mk_req *req,
                             enum mk_fault_action action) {
  for (struct mk_fault *f = b->faults; f; f = f->next) {
    if (f->action != action || f->count == 0) continue;
    if (f->api_key >= 0 && f->api_key != req->request.header.api_key) continue;
    if (f->broker >= 0 && f->broker != req->node->id) continue;
    if (!request_covered(f, req)) continue;
    if (f->count > 0) f->count--;
    f->fired++;
    char what[96];
    snprintf(what, sizeof what, "%s request, correlation id %d",
             req->request.api ? req->request.api->name : "?", req->request.header.correlation_id);
    trace_fault(f, what);
    return f;
  }
  return NULL;
}

const struct mk_fault *mk_faults_take_error(struct mk_broker *b, const struct mk_req *req) {
  return b->faults ? take(b, req, MK_FAULT_ERROR) : NULL;
}

int64_t mk_faults_take_delay(struct mk_broker *b, const struct mk_req *req) {
  const struct mk_fault *f = b->faults ? take(b, req, MK_FAULT_DELAY) : NULL;
  return f ? f->ms : 0;
}

int mk_faults_take_drop(struct mk_broker *b, const struct mk_req *req) {
  const struct mk_fault *f = b->faults ? take(b, req, MK_FAULT_DROP_RESPONSE) : NULL;
  return !f ? 0 : f->close ? 2 : 1;
}
