/*
 * Faults: parsing a fault, the table of what request faults may target, arming them,
 * and matching them against requests. See faults.h.
 */
#include "broker/faults.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/api.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/txn_offset_commit.h"

static const char *const action_names[] = {
    [MK_FAULT_DROP_RESPONSE] = "drop_response",   [MK_FAULT_ERROR] = "error",
    [MK_FAULT_DELAY] = "delay",                   [MK_FAULT_BROKER_DOWN] = "broker_down",
    [MK_FAULT_BROKER_UP] = "broker_up",           [MK_FAULT_FOLLOWER_PAUSE] = "follower_pause",
    [MK_FAULT_FOLLOWER_RESUME] = "follower_resume", [MK_FAULT_FOLLOWER_LAG] = "follower_lag",
    [MK_FAULT_ELECT_LEADER] = "elect_leader",     [MK_FAULT_HOLD_MARKERS] = "hold_markers",
    [MK_FAULT_RELEASE_MARKERS] = "release_markers",
};
enum { NACTIONS = sizeof action_names / sizeof action_names[0] };

const char *mk_fault_action_name(enum mk_fault_action a) { return action_names[a]; }

/* ---- the table: which request faults may target which API, scoped how -------------------- */

/* Whether the request (of the row's API) names a topic/partition the fault covers. */
typedef bool names_fn(const struct mk_request *r, const struct mk_fault_targets *t,
                      const struct mk_fault *f);

enum { DROP = 1 << MK_FAULT_DROP_RESPONSE, ERROR = 1 << MK_FAULT_ERROR, DELAY = 1 << MK_FAULT_DELAY };
enum { BY_TOPIC = 1, BY_PARTITION = 2 };  /* every request is scoped by broker */

static names_fn produce_names, fetch_names, list_offsets_names, metadata_names,
    create_topics_names, delete_topics_names, create_partitions_names, offset_commit_names,
    offset_fetch_names, offset_delete_names, add_partitions_names, txn_offset_commit_names;

static const struct fault_api {
  int16_t api_key;
  uint8_t actions;    /* DROP | ERROR | DELAY: what may target it */
  uint8_t scopes;     /* BY_TOPIC | BY_PARTITION, beyond the broker */
  names_fn *names;    /* NULL when the API names no topics */
} fault_apis[] = {
  /* API                          actions               scopes                   */
  {MK_API_PRODUCE,           DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, produce_names},
  {MK_API_FETCH,             DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, fetch_names},
  {MK_API_LIST_OFFSETS,      DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, list_offsets_names},
  {MK_API_METADATA,          DROP | ERROR | DELAY, BY_TOPIC, metadata_names},
  {MK_API_CREATE_TOPICS,     DROP | ERROR | DELAY, BY_TOPIC, create_topics_names},
  {MK_API_DELETE_TOPICS,     DROP | ERROR | DELAY, BY_TOPIC, delete_topics_names},
  {MK_API_CREATE_PARTITIONS, DROP | ERROR | DELAY, BY_TOPIC, create_partitions_names},
  {MK_API_INIT_PRODUCER_ID,  DROP | ERROR | DELAY, 0, NULL},
  {MK_API_FIND_COORDINATOR,  DROP | ERROR | DELAY, 0, NULL},
  {MK_API_DESCRIBE_CLUSTER,  DROP | ERROR | DELAY, 0, NULL},
  {MK_API_DESCRIBE_CONFIGS,  DROP | ERROR | DELAY, 0, NULL},
  /* the group coordinator: its partitions are __consumer_offsets', so a group request is
   * scoped by the broker it reaches; the offset APIs also name the partitions they commit */
  {MK_API_JOIN_GROUP,        DROP | ERROR | DELAY, 0, NULL},
  {MK_API_SYNC_GROUP,        DROP | ERROR | DELAY, 0, NULL},
  {MK_API_HEARTBEAT,         DROP | ERROR | DELAY, 0, NULL},
  {MK_API_LEAVE_GROUP,       DROP | ERROR | DELAY, 0, NULL},
  {MK_API_OFFSET_COMMIT,     DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, offset_commit_names},
  {MK_API_OFFSET_FETCH,      DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, offset_fetch_names},
  {MK_API_OFFSET_DELETE,     DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, offset_delete_names},
  {MK_API_DESCRIBE_GROUPS,   DROP | ERROR | DELAY, 0, NULL},
  {MK_API_LIST_GROUPS,       DROP | ERROR | DELAY, 0, NULL},
  {MK_API_DELETE_GROUPS,     DROP | ERROR | DELAY, 0, NULL},
  /* the transaction coordinator: its requests reach the id's coordinator; AddPartitionsToTxn
   * and TxnOffsetCommit also name the partitions they add or commit */
  {MK_API_ADD_PARTITIONS_TO_TXN, DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, add_partitions_names},
  {MK_API_ADD_OFFSETS_TO_TXN, DROP | ERROR | DELAY, 0, NULL},
  {MK_API_END_TXN,           DROP | ERROR | DELAY, 0, NULL},
  {MK_API_TXN_OFFSET_COMMIT, DROP | ERROR | DELAY, BY_TOPIC | BY_PARTITION, txn_offset_commit_names},
  /* An error here would stop a client before it knows any version to read it in. */
  {MK_API_API_VERSIONS,      DROP | DELAY, 0, NULL},
};
enum { NFAULT_APIS = sizeof fault_apis / sizeof fault_apis[0] };

static const struct fault_api *fault_api(int api_key) {
  for (int i = 0; i < NFAULT_APIS; i++)
    if (fault_apis[i].api_key == api_key) return &fault_apis[i];
  return NULL;
}

static struct mk_str topic_name(const struct mk_fault_targets *t, struct mk_str name,
                                struct mk_uuid id) {
  return name.len >= 0 ? name : t->topic_name(t->ctx, id);
}

static bool produce_names(const struct mk_request *r, const struct mk_fault_targets *c,
                          const struct mk_fault *f) {
  (void)c;
  const struct mk_produce_request *pr = r->body;
  for (int i = 0; i < pr->topic_data_count; i++)
    for (int j = 0; j < pr->topic_data[i].partition_data_count; j++)
      if (mk_fault_covers(f, pr->topic_data[i].name, pr->topic_data[i].partition_data[j].index))
        return true;
  return false;
}

static bool fetch_names(const struct mk_request *r, const struct mk_fault_targets *c,
                        const struct mk_fault *f) {
  const struct mk_fetch_request *fr = r->body;
  for (int i = 0; i < fr->topics_count; i++) {
    struct mk_str name = topic_name(c, fr->topics[i].topic, fr->topics[i].topic_id);
    for (int j = 0; j < fr->topics[i].partitions_count; j++)
      if (mk_fault_covers(f, name, fr->topics[i].partitions[j].partition)) return true;
  }
  return false;
}

static bool list_offsets_names(const struct mk_request *r, const struct mk_fault_targets *c,
                               const struct mk_fault *f) {
  (void)c;
  const struct mk_list_offsets_request *lr = r->body;
  for (int i = 0; i < lr->topics_count; i++)
    for (int j = 0; j < lr->topics[i].partitions_count; j++)
      if (mk_fault_covers(f, lr->topics[i].name, lr->topics[i].partitions[j].partition_index))
        return true;
  return false;
}

/* A Metadata request with a null topic list (or, before v1, an empty one) asks for every
 * topic, so it names all of them. */
static bool metadata_names(const struct mk_request *r, const struct mk_fault_targets *c,
                           const struct mk_fault *f) {
  const struct mk_metadata_request *mr = r->body;
  bool all = mr->topics_count < 0 || (mr->topics_count == 0 && r->header.api_version == 0);
  if (all) return c->topic(c->ctx, mk_str_of(f->topic)) != MK_FAULT_NO_TOPIC;
  for (int i = 0; i < mr->topics_count; i++)
    if (mk_fault_covers(f, topic_name(c, mr->topics[i].name, mr->topics[i].topic_id), -1))
      return true;
  return false;
}

static bool create_topics_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                const struct mk_fault *f) {
  (void)c;
  const struct mk_create_topics_request *cr = r->body;
  for (int i = 0; i < cr->topics_count; i++)
    if (mk_fault_covers(f, cr->topics[i].name, -1)) return true;
  return false;
}

static bool delete_topics_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                const struct mk_fault *f) {
  const struct mk_delete_topics_request *dr = r->body;
  for (int i = 0; i < dr->topic_names_count; i++)
    if (mk_fault_covers(f, dr->topic_names[i], -1)) return true;
  for (int i = 0; i < dr->topics_count; i++)
    if (mk_fault_covers(f, topic_name(c, dr->topics[i].name, dr->topics[i].topic_id), -1))
      return true;
  return false;
}

static bool offset_commit_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                const struct mk_fault *f) {
  (void)c;
  const struct mk_offset_commit_request *oc = r->body;
  for (int i = 0; i < oc->topics_count; i++)
    for (int j = 0; j < oc->topics[i].partitions_count; j++)
      if (mk_fault_covers(f, oc->topics[i].name, oc->topics[i].partitions[j].partition_index))
        return true;
  return false;
}

static bool offset_delete_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                const struct mk_fault *f) {
  (void)c;
  const struct mk_offset_delete_request *od = r->body;
  for (int i = 0; i < od->topics_count; i++)
    for (int j = 0; j < od->topics[i].partitions_count; j++)
      if (mk_fault_covers(f, od->topics[i].name, od->topics[i].partitions[j].partition_index))
        return true;
  return false;
}

/* OffsetFetch names the partitions it lists (v0-7 at the top, v8+ per group); a null list
 * ("every committed offset") names none. */
static bool offset_fetch_names(const struct mk_request *r, const struct mk_fault_targets *c,
                               const struct mk_fault *f) {
  (void)c;
  const struct mk_offset_fetch_request *of = r->body;
  for (int i = 0; i < of->topics_count; i++)
    for (int j = 0; j < of->topics[i].partition_indexes_count; j++)
      if (mk_fault_covers(f, of->topics[i].name, of->topics[i].partition_indexes[j])) return true;
  for (int g = 0; g < of->groups_count; g++)
    for (int i = 0; i < of->groups[g].topics_count; i++)
      for (int j = 0; j < of->groups[g].topics[i].partition_indexes_count; j++)
        if (mk_fault_covers(f, of->groups[g].topics[i].name,
                            of->groups[g].topics[i].partition_indexes[j]))
          return true;
  return false;
}

/* AddPartitionsToTxn names its partitions at the top (v0-3) or per transaction (v4+). */
static bool add_partitions_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                 const struct mk_fault *f) {
  (void)c;
  const struct mk_add_partitions_to_txn_request *ap = r->body;
  for (int i = 0; i < ap->v3_and_below_topics_count; i++)
    for (int j = 0; j < ap->v3_and_below_topics[i].partitions_count; j++)
      if (mk_fault_covers(f, ap->v3_and_below_topics[i].name,
                          ap->v3_and_below_topics[i].partitions[j]))
        return true;
  for (int t = 0; t < ap->transactions_count; t++)
    for (int i = 0; i < ap->transactions[t].topics_count; i++)
      for (int j = 0; j < ap->transactions[t].topics[i].partitions_count; j++)
        if (mk_fault_covers(f, ap->transactions[t].topics[i].name,
                            ap->transactions[t].topics[i].partitions[j]))
          return true;
  return false;
}

static bool txn_offset_commit_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                    const struct mk_fault *f) {
  (void)c;
  const struct mk_txn_offset_commit_request *tc = r->body;
  for (int i = 0; i < tc->topics_count; i++)
    for (int j = 0; j < tc->topics[i].partitions_count; j++)
      if (mk_fault_covers(f, tc->topics[i].name, tc->topics[i].partitions[j].partition_index))
        return true;
  return false;
}

bool mk_fault_allowed(int api_key, enum mk_fault_action action, enum mk_fault_scope scope) {
  const struct fault_api *row = fault_api(api_key);
  if (!row || !mk_fault_is_request_fault(action) || !(row->actions & (1 << action))) return false;
  return scope == MK_FAULT_SCOPE_BROKER ||
         (scope == MK_FAULT_SCOPE_TOPIC && (row->scopes & BY_TOPIC)) ||
         (scope == MK_FAULT_SCOPE_PARTITION && (row->scopes & BY_PARTITION));
}

static bool create_partitions_names(const struct mk_request *r, const struct mk_fault_targets *c,
                                    const struct mk_fault *f) {
  (void)c;
  const struct mk_create_partitions_request *cr = r->body;
  for (int i = 0; i < cr->topics_count; i++)
    if (mk_fault_covers(f, cr->topics[i].name, -1)) return true;
  return false;
}

/* "Produce, Fetch, ..." for messages: the APIs that allow this action. */
static void apis_allowing(int action_bit, char *out, size_t len) {
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < NFAULT_APIS && n < len; i++)
    if (fault_apis[i].actions & action_bit)
      n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "",
                            mk_api_find(fault_apis[i].api_key)->name);
}

/* ---- trace ------------------------------------------------------------------------------- */

/* The fault's fields, then the end of the event begun by the caller (ev: `fault`, a firing
 * or a cluster action done, or `fault_armed`, a request fault waiting for its requests). */
static void trace_fields(struct mk_trace_event *ev, const struct mk_fault *f, const char *what) {
  mk_trace_int(ev, "id", f->id);
  mk_trace_str(ev, "action", action_names[f->action]);
  if (f->api_key >= 0) mk_trace_str(ev, "api", mk_api_find(f->api_key)->name);
  if (f->broker >= 0) mk_trace_int(ev, "broker", f->broker);
  if (f->topic[0]) mk_trace_str(ev, "topic", f->topic);
  if (f->partition >= 0) mk_trace_int(ev, "partition", f->partition);
  if (f->error_code) mk_trace_str(ev, "error", mk_err_name(f->error_code));
  if (f->ms >= 0) mk_trace_int(ev, "ms", f->ms);
  if (f->unclean) mk_trace_bool(ev, "unclean", true);
  if (mk_fault_is_request_fault(f->action)) {
    mk_trace_int(ev, "count", f->count);  /* firings left; -1 = until cleared */
    if (f->action == MK_FAULT_DROP_RESPONSE) mk_trace_str(ev, "mode", f->close ? "close" : "silent");
  }
  if (what) mk_trace_str(ev, "what", what);
  mk_trace_end(ev);
}

static void trace_event(const char *event, const struct mk_fault *f, const char *what) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  trace_fields(&ev, f, what);
}

static void trace_fault(const struct mk_fault *f, const char *what) { trace_event("fault", f, what); }

/* ---- parsing ---------------------------------------------------------------------------- */

/* Read an optional integer field within [lo, hi]; returns 0, or an error naming the field. */
static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   struct mk_err *err) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_integer(v))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" must be a whole number", key);
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" must be in [%lld, %lld], got %lld", key,
                      (long long)lo, (long long)hi, (long long)n);
  *out = n;
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

static int get_bool(json_t *o, const char *key, bool *out, struct mk_err *err) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_boolean(v))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

/* The longest pause a fault may ask for: a day (a bigger number is surely a typo, and
 * timers and sums of times must not overflow). */
#define MS_MAX (24LL * 3600 * 1000)

static int parse_object(json_t *o, struct mk_fault *f, struct mk_err *err) {
  if (!json_is_object(o)) return mk_err_set(err, MK_ERR__INVALID_ARG, "a fault is a JSON object");
  static const char *const known[] = {"action", "api", "error", "count", "mode", "ms",
                                      "broker", "topic", "partition", "unclean"};
  const char *key;
  json_t *value;
  json_object_foreach(o, key, value) {
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(key, known[i]) == 0;
    if (!ok)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "unknown field \"%.40s\"; a fault has action, api, error, count, mode, "
                        "ms, broker, topic, partition, unclean", key);
  }
  const char *action = NULL, *api = NULL, *error = NULL, *mode = NULL, *topic = NULL;
  int64_t count = -1, ms = -1, broker = -1, partition = -1;
  int rc;
  if ((rc = get_string(o, "action", &action, err)) || (rc = get_string(o, "api", &api, err)) ||
      (rc = get_string(o, "error", &error, err)) || (rc = get_string(o, "mode", &mode, err)) ||
      (rc = get_string(o, "topic", &topic, err)) ||
      (rc = get_int(o, "count", 1, INT32_MAX, &count, err)) ||
      (rc = get_int(o, "ms", 0, MS_MAX, &ms, err)) ||
      (rc = get_int(o, "broker", 0, INT32_MAX, &broker, err)) ||
      (rc = get_int(o, "partition", 0, INT32_MAX, &partition, err)) ||
      (rc = get_bool(o, "unclean", &f->unclean, err)))
    return rc;
  if (!action) return mk_err_set(err, MK_ERR__INVALID_ARG, "\"action\" is missing");
  int a = -1;
  for (int i = 0; i < NACTIONS; i++)
    if (strcmp(action, action_names[i]) == 0) a = i;
  if (a < 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown action \"%.40s\"; one of drop_response, error, delay, broker_down, "
                      "broker_up, follower_pause, follower_resume, follower_lag, elect_leader, "
                      "hold_markers, release_markers",
                      action);
  f->action = (enum mk_fault_action)a;
  f->api_key = -1;
  if (api) {
    const struct mk_api *found = mk_api_by_name(api);
    if (!found)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "unknown api \"%.40s\"; use Kafka's names: Produce, Fetch, Metadata, ...",
                        api);
    f->api_key = found->key;
  }
  if (error) {
    bool found;
    f->error_code = (int16_t)mk_err_from_name(error, &found);
    if (!found || f->error_code <= 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "unknown error \"%.40s\"; use Kafka's names, e.g. NOT_LEADER_OR_FOLLOWER",
                        error);
  }
  if (mode && strcmp(mode, "close") != 0 && strcmp(mode, "silent") != 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"mode\" is close or silent, not \"%.40s\"", mode);
  f->close = !mode || strcmp(mode, "close") == 0;
  if (topic && strlen(topic) >= sizeof f->topic)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"topic\" is longer than a topic name can be");
  f->count = (int)count;
  f->ms = ms;
  f->broker = (int32_t)broker;
  f->partition = (int32_t)partition;
  if (topic) snprintf(f->topic, sizeof f->topic, "%s", topic);
  return 0;
}

int mk_fault_parse(const char *json, size_t len, struct mk_fault *f, struct mk_err *err) {
  memset(f, 0, sizeof *f);
  json_error_t jerr;
  json_t *o = json_loadb(json, len, 0, &jerr);
  if (!o)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "bad JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
  int rc = parse_object(o, f, err);
  json_decref(o);
  return rc;
}

/* ---- arming ------------------------------------------------------------------------------ */

/* The parts of the cluster a fault names must exist. */
static int check_targets(const struct mk_fault_targets *t, const struct mk_fault *f,
                         struct mk_err *err) {
  char ids[128] = "";
  if (f->broker >= 0 && !t->broker(t->ctx, f->broker, ids, sizeof ids))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown broker %d; brokers are %s", f->broker,
                      ids);
  if (!f->topic[0]) {
    if (f->partition >= 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "\"partition\" needs \"topic\"");
    return 0;
  }
  int32_t partitions = t->topic(t->ctx, mk_str_of(f->topic));
  if (partitions == MK_FAULT_NO_TOPIC)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown topic \"%s\"", f->topic);
  if (partitions >= 0 && f->partition >= partitions)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "topic %s has no partition %d", f->topic,
                      f->partition);
  return 0;
}

int mk_faults_arm(struct mk_fault_list *l, const struct mk_fault_targets *c, struct mk_fault *f,
                  struct mk_err *err) {
  const char *name = action_names[f->action];
  int rc = check_targets(c, f, err);
  if (rc) return rc;
  if (f->action == MK_FAULT_ERROR && (f->api_key < 0 || f->error_code <= 0))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "error needs \"api\" and \"error\"");
  if (f->action == MK_FAULT_DELAY && f->ms < 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "delay needs \"ms\"");
  int bit = 1 << f->action;
  if (f->api_key >= 0) {
    const struct fault_api *row = fault_api(f->api_key);
    const char *api = mk_api_find(f->api_key)->name;
    if (!row || !(row->actions & bit)) {
      char apis[512];
      apis_allowing(bit, apis, sizeof apis);
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s faults cannot target %s requests; they "
                        "can target %s", name, api, apis);
    }
    if (f->topic[0] && !(row->scopes & BY_TOPIC))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s requests name no topic: scope a fault on "
                        "them by \"broker\" only", api);
    if (f->partition >= 0 && !(row->scopes & BY_PARTITION))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s requests name no partition: scope a fault "
                        "on them by \"broker\"%s", api,
                        row->scopes & BY_TOPIC ? " or \"topic\"" : "");
  } else if (f->topic[0]) {
    /* Any API: it fires only on requests that can name the topic. */
  }
  f->id = ++l->next_id;
  f->next = l->head;
  l->head = f;
  trace_event("fault_armed", f, NULL);
  return 0;
}

void mk_faults_record(struct mk_fault_list *l, struct mk_fault *f, struct mk_trace_event *ev) {
  f->id = ++l->next_id;
  f->fired = 1;
  f->next = l->head;
  l->head = f;
  if (ev) trace_fields(ev, f, f->result);
}

/* ---- the list -------------------------------------------------------------------------- */

static json_t *fault_json(const struct mk_fault *f) {
  json_t *o = json_pack("{s:i, s:s, s:i}", "id", f->id, "action", action_names[f->action],
                        "fired", f->fired);
  if (!o) return NULL;
  if (f->api_key >= 0) json_object_set_new(o, "api", json_string(mk_api_find(f->api_key)->name));
  if (f->error_code) json_object_set_new(o, "error", json_string(mk_err_name(f->error_code)));
  if (f->action == MK_FAULT_DROP_RESPONSE)
    json_object_set_new(o, "mode", json_string(f->close ? "close" : "silent"));
  if (f->ms >= 0) json_object_set_new(o, "ms", json_integer(f->ms));
  if (f->broker >= 0) json_object_set_new(o, "broker", json_integer(f->broker));
  if (f->topic[0]) json_object_set_new(o, "topic", json_string(f->topic));
  if (f->partition >= 0) json_object_set_new(o, "partition", json_integer(f->partition));
  if (f->unclean) json_object_set_new(o, "unclean", json_true());
  if (mk_fault_is_request_fault(f->action)) {
    json_object_set_new(o, "count", f->count < 0 ? json_null() : json_integer(f->count));
    json_object_set_new(o, "armed", json_boolean(f->count != 0));
  } else {
    json_object_set_new(o, "result", json_string(f->result));
  }
  return o;
}

json_t *mk_faults_json(const struct mk_fault_list *l, int id) {
  json_t *list = id < 0 ? json_array() : NULL;
  for (const struct mk_fault *f = l->head; f; f = f->next) {
    if (id >= 0 && f->id == id) return fault_json(f);
    if (list) json_array_append_new(list, fault_json(f));
  }
  return list;
}

char *mk_faults_list_json(const struct mk_fault_list *l) {
  json_t *list = mk_faults_json(l, -1);
  char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
  json_decref(list);
  return text;
}

int mk_faults_add(struct mk_fault_list *l, const struct mk_fault_targets *t, const char *json,
                  size_t len, int (*act)(void *owner, struct mk_fault *f, struct mk_err *err),
                  void *owner, int *id, struct mk_err *err) {
  struct mk_err local = {0};
  if (!err) err = &local;
  struct mk_fault *f = malloc(sizeof *f);
  if (!f) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int rc = mk_fault_parse(json, len, f, err);
  if (!rc) {
    if (mk_fault_is_request_fault(f->action)) {
      rc = mk_faults_arm(l, t, f, err);
    } else {
      struct mk_trace_event ev;
      bool traced = mk_trace_on();
      if (traced) mk_trace_begin(&ev, "broker", "fault");  /* its time: before the effects */
      if (!(rc = act(owner, f, err)))
        mk_faults_record(l, f, traced ? &ev : NULL);
      else if (traced)
        mk_trace_cancel(&ev);
    }
  }
  if (rc) {
    free(f);
    return rc;
  }
  if (id) *id = f->id;
  return 0;
}

void mk_faults_free(struct mk_fault_list *l) {
  while (l->head) {
    struct mk_fault *f = l->head;
    l->head = f->next;
    free(f);
  }
}

void mk_faults_clear(struct mk_fault_list *l) {
  int n = 0;
  for (const struct mk_fault *f = l->head; f; f = f->next) n++;
  mk_faults_free(l);
  mk_log(MK_LOG_INFO, "broker", "faults cleared (%d forgotten)", n);
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "faults_clear");
  mk_trace_int(&ev, "cleared", n);
  mk_trace_end(&ev);
}

/* ---- matching requests ----------------------------------------------------------------- */

bool mk_fault_covers(const struct mk_fault *f, struct mk_str topic, int32_t partition) {
  if (topic.len < 0 && partition < 0) return true;  /* the request as a whole */
  if (f->topic[0] && !mk_str_eq(topic, f->topic)) return false;
  return f->partition < 0 || partition < 0 || f->partition == partition;
}

/* Whether r names a topic/partition the fault is scoped to. */
static bool request_covered(const struct mk_fault *f, const struct mk_request *r,
                            const struct mk_fault_targets *c) {
  if (!f->topic[0]) return true;
  const struct fault_api *row = fault_api(r->header.api_key);
  return row && row->names && row->names(r, c, f);
}

const struct mk_fault *mk_faults_take(struct mk_fault_list *l, const struct mk_fault_targets *c,
                                      enum mk_fault_action action, const struct mk_request *r,
                                      int32_t node_id) {
  for (struct mk_fault *f = l->head; f; f = f->next) {
    if (f->action != action || f->count == 0) continue;
    if (f->api_key >= 0 && f->api_key != r->header.api_key) continue;
    if (f->broker >= 0 && f->broker != node_id) continue;
    const struct fault_api *row = fault_api(r->header.api_key);
    if (!row || !(row->actions & (1 << action))) continue;
    if (!request_covered(f, r, c)) continue;
    if (f->count > 0) f->count--;
    f->fired++;
    char what[96];
    snprintf(what, sizeof what, "%s request, correlation id %d",
             r->api ? r->api->name : "?", r->header.correlation_id);
    /* A firing leaves a line in the broker's log, as the cluster actions do (a dropped
     * response would otherwise leave no trace outside --trace). */
    mk_log(MK_LOG_INFO, "broker", "fault %d fired: %s on broker %d's %s%s", f->id,
           action_names[f->action], node_id, what,
           f->count > 0 ? "" : f->count == 0 ? " (its last firing)" : "");
    trace_fault(f, what);
    return f;
  }
  return NULL;
}

bool mk_fault_error_appends(int16_t error_code) {
  return error_code == MK_ERR_REQUEST_TIMED_OUT ||
         error_code == MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
}
