/*
 * TxnRequestHandler: see txn_request_handler.h. In order: making requests, building their
 * wire form, the answers (one handler per API, as Java's subclasses), the trace events.
 */
#include "producer/txn_request_handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consumer/consumer.h"
#include "common/trace.h"
#include "protocol/api.h"

/* Java's ADD_PARTITIONS_RETRY_BACKOFF_MS: the first AddPartitionsToTxn of a transaction
 * that finds the previous one still completing (CONCURRENT_TRANSACTIONS) tries again soon. */
enum { ADD_PARTITIONS_RETRY_BACKOFF_MS = 20 };

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* A partition key of the manager ("topic\0" + 4 bytes): its topic and partition. */
static const char *key_topic(const char *key, int32_t *partition) {
  memcpy(partition, key + strlen(key) + 1, sizeof *partition);
  return key;
}

static size_t key_len(const char *key) { return strlen(key) + 1 + sizeof(int32_t); }

/* ---- making requests ------------------------------------------------------------------------ */

static struct mk_txn_request *new_request(enum mk_txn_request_kind kind, int priority,
                                          struct mk_txn_result *result) {
  struct mk_txn_request *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->kind = kind;
  r->priority = priority;
  r->result = result;
  r->generation_id = -1;
  return r;
}

struct mk_txn_request *mk_txn_request_find_coordinator(enum mk_coordinator_type type,
                                                       const char *key) {
  struct mk_txn_request *r =
      new_request(MK_TXN_FIND_COORDINATOR, MK_TXN_PRIORITY_FIND_COORDINATOR, NULL);
  if (r && !(r->key = dup_or_null(key))) {
    free(r);
    return NULL;
  }
  if (r) r->coordinator_type = type;
  return r;
}

struct mk_txn_request *mk_txn_request_init_producer_id(struct mk_txn_result *result,
                                                       bool epoch_bump, int64_t producer_id,
                                                       int16_t epoch) {
  struct mk_txn_request *r = new_request(
      MK_TXN_INIT_PRODUCER_ID,
      epoch_bump ? MK_TXN_PRIORITY_EPOCH_BUMP : MK_TXN_PRIORITY_INIT_PRODUCER_ID, result);
  if (!r) return NULL;
  r->coordinator_type = MK_COORDINATOR_TRANSACTION;
  r->epoch_bump = epoch_bump;
  r->bump_producer_id = producer_id;
  r->bump_producer_epoch = epoch;
  return r;
}

struct mk_txn_request *mk_txn_request_add_partitions(const char *const *keys, int n) {
  struct mk_txn_request *r =
      new_request(MK_TXN_ADD_PARTITIONS, MK_TXN_PRIORITY_ADD_PARTITIONS_OR_OFFSETS, NULL);
  if (!r) return NULL;
  r->coordinator_type = MK_COORDINATOR_TRANSACTION;
  r->partitions = calloc((size_t)(n ? n : 1), sizeof *r->partitions);
  if (!r->partitions) {
    free(r);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    size_t len = key_len(keys[i]);
    if (!(r->partitions[i] = malloc(len))) {
      mk_txn_request_free(r);
      return NULL;
    }
    memcpy(r->partitions[i], keys[i], len);
    r->npartitions++;
  }
  return r;
}

struct mk_txn_request *mk_txn_request_end_txn(struct mk_txn_result *result, bool committed) {
  struct mk_txn_request *r = new_request(MK_TXN_END_TXN, MK_TXN_PRIORITY_END_TXN, result);
  if (!r) return NULL;
  r->coordinator_type = MK_COORDINATOR_TRANSACTION;
  r->committed = committed;
  return r;
}

struct mk_txn_request *mk_txn_request_add_offsets(struct mk_txn_result *result,
                                                  const struct mk_offset_to_commit *offsets,
                                                  int n,
                                                  const struct mk_consumer_group_metadata *group) {
  struct mk_txn_request *r =
      new_request(MK_TXN_ADD_OFFSETS, MK_TXN_PRIORITY_ADD_PARTITIONS_OR_OFFSETS, result);
  if (!r) return NULL;
  r->coordinator_type = MK_COORDINATOR_TRANSACTION;
  r->generation_id = group->generation_id;
  bool ok = (r->key = strdup(group->group_id)) && (r->member_id = strdup(group->member_id)) &&
            (!group->group_instance_id[0] ||  /* "": no static membership */
             (r->group_instance_id = strdup(group->group_instance_id))) &&
            (r->offsets = calloc((size_t)(n ? n : 1), sizeof *r->offsets));
  for (int i = 0; ok && i < n; i++) {
    struct mk_txn_offset *o = &r->offsets[i];
    o->partition = offsets[i].partition;
    o->offset = offsets[i].offset;
    o->leader_epoch = offsets[i].leader_epoch;
    ok = (o->topic = strdup(offsets[i].topic)) &&
         (!offsets[i].metadata || (o->metadata = strdup(offsets[i].metadata)));
    r->noffsets = i + 1;
  }
  if (!ok) {
    r->result = NULL;  /* the caller still holds the reference it passed */
    mk_txn_request_free(r);
    return NULL;
  }
  return r;
}

void mk_txn_request_free(struct mk_txn_request *r) {
  if (!r) return;
  if (r->result) mk_txn_result_unref(r->result);
  free(r->key);
  for (int i = 0; i < r->npartitions; i++) free(r->partitions[i]);
  free(r->partitions);
  free(r->member_id);
  free(r->group_instance_id);
  for (int i = 0; i < r->noffsets; i++) {
    free(r->offsets[i].topic);
    free(r->offsets[i].metadata);
  }
  free(r->offsets);
  free(r);
}

const char *mk_txn_request_name(const struct mk_txn_request *r) {
  const struct mk_api *api = mk_api_find(mk_txn_request_api_key(r));
  return api ? api->name : "?";
}

int mk_txn_request_api_key(const struct mk_txn_request *r) {
  switch (r->kind) {
    case MK_TXN_FIND_COORDINATOR: return MK_API_FIND_COORDINATOR;
    case MK_TXN_INIT_PRODUCER_ID: return MK_API_INIT_PRODUCER_ID;
    case MK_TXN_ADD_PARTITIONS: return MK_API_ADD_PARTITIONS_TO_TXN;
    case MK_TXN_ADD_OFFSETS: return MK_API_ADD_OFFSETS_TO_TXN;
    case MK_TXN_OFFSET_COMMIT: return MK_API_TXN_OFFSET_COMMIT;
    case MK_TXN_END_TXN: return MK_API_END_TXN;
  }
  return -1;
}

bool mk_txn_request_needs_coordinator(const struct mk_transaction_manager *tm,
                                      const struct mk_txn_request *r,
                                      enum mk_coordinator_type *type, const char **key) {
  if (r->kind == MK_TXN_FIND_COORDINATOR) return false;
  if (r->kind == MK_TXN_INIT_PRODUCER_ID && !tm->transactional_id) return false;
  *type = r->coordinator_type;
  *key = r->kind == MK_TXN_OFFSET_COMMIT ? r->key : tm->transactional_id;
  return true;
}

/* ---- the wire ------------------------------------------------------------------------------- */

/* The request's topics, each with its partitions as a slice of one array: what
 * AddPartitionsToTxn's topics and TxnOffsetCommit's topics both look like. Groups entries
 * of the same topic (wherever they are) under one topic. Returns how many topics. */
struct topic_slice {
  const char *name;
  int first, count;  /* into the order[] of entries */
};

static int group_by_topic(const char *const *topics, int n, struct topic_slice *slices, int *order) {
  int ntopics = 0, k = 0;
  bool *used = calloc((size_t)(n ? n : 1), sizeof *used);
  if (!used) return -1;
  for (int i = 0; i < n; i++) {
    if (used[i]) continue;
    slices[ntopics] = (struct topic_slice){topics[i], k, 0};
    for (int j = i; j < n; j++)
      if (!used[j] && strcmp(topics[j], topics[i]) == 0) {
        used[j] = true;
        order[k++] = j;
        slices[ntopics].count++;
      }
    ntopics++;
  }
  free(used);
  return ntopics;
}

static int build_add_partitions(const struct mk_transaction_manager *tm,
                                const struct mk_txn_request *r, struct mk_txn_wire *w) {
  int n = r->npartitions;
  const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
  int32_t *ids = calloc((size_t)(n ? n : 1), sizeof *ids);
  struct topic_slice *slices = calloc((size_t)(n ? n : 1), sizeof *slices);
  int *order = calloc((size_t)(n ? n : 1), sizeof *order);
  int32_t *parts = calloc((size_t)(n ? n : 1), sizeof *parts);
  struct mk_add_partitions_to_txn_topic *topics = calloc((size_t)(n ? n : 1), sizeof *topics);
  int ntopics = -1;
  if (names && ids && slices && order && parts && topics) {
    for (int i = 0; i < n; i++) names[i] = key_topic(r->partitions[i], &ids[i]);
    ntopics = group_by_topic(names, n, slices, order);
  }
  if (ntopics >= 0) {
    for (int i = 0; i < n; i++) parts[i] = ids[order[i]];
    for (int t = 0; t < ntopics; t++) {
      mk_schema_set_defaults(&mk_add_partitions_to_txn_topic_schema, &topics[t]);
      topics[t].name = mk_str_of(slices[t].name);
      topics[t].partitions = parts + slices[t].first;
      topics[t].partitions_count = slices[t].count;
    }
  }
  free(names);
  free(ids);
  free(slices);
  free(order);
  if (ntopics < 0) {
    free(parts);
    free(topics);
    return MK_ERR__NO_MEMORY;
  }
  struct mk_add_partitions_to_txn_request *req = &w->u.add_partitions;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_request_schema, req);
  req->v3_and_below_transactional_id = mk_str_of(tm->transactional_id);
  req->v3_and_below_producer_id = tm->producer_id;
  req->v3_and_below_producer_epoch = tm->producer_epoch;
  req->v3_and_below_topics = topics;
  req->v3_and_below_topics_count = ntopics;
  w->alloc[0] = parts;
  w->alloc[1] = topics;
  return 0;
}

static int build_txn_offset_commit(const struct mk_transaction_manager *tm,
                                   const struct mk_txn_request *r, int version,
                                   struct mk_txn_wire *w, struct mk_err *err) {
  /* Java's groupMetadataSet: any membership field other than "unknown". */
  bool membership = r->generation_id != -1 || (r->member_id && r->member_id[0]) ||
                    r->group_instance_id;
  if (version < 3 && membership)
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "Broker doesn't support group metadata "
                      "commit API on version %d, minimum supported request version is 3 (Kafka "
                      "2.5 or later)", version);
  int n = 0;
  for (int i = 0; i < r->noffsets; i++) n += !r->offsets[i].committed;
  const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
  int *pending = calloc((size_t)(n ? n : 1), sizeof *pending);
  struct topic_slice *slices = calloc((size_t)(n ? n : 1), sizeof *slices);
  int *order = calloc((size_t)(n ? n : 1), sizeof *order);
  struct mk_txn_offset_commit_request_partition *parts = calloc((size_t)(n ? n : 1), sizeof *parts);
  struct mk_txn_offset_commit_request_topic *topics = calloc((size_t)(n ? n : 1), sizeof *topics);
  int ntopics = -1;
  if (names && pending && slices && order && parts && topics) {
    for (int i = 0, k = 0; i < r->noffsets; i++)
      if (!r->offsets[i].committed) {
        pending[k] = i;
        names[k++] = r->offsets[i].topic;
      }
    ntopics = group_by_topic(names, n, slices, order);
  }
  if (ntopics >= 0) {
    for (int i = 0; i < n; i++) {
      const struct mk_txn_offset *o = &r->offsets[pending[order[i]]];
      mk_schema_set_defaults(&mk_txn_offset_commit_request_partition_schema, &parts[i]);
      parts[i].partition_index = o->partition;
      parts[i].committed_offset = o->offset;
      parts[i].committed_leader_epoch = version >= 2 ? o->leader_epoch : -1;  /* v2+ */
      parts[i].committed_metadata = o->metadata ? mk_str_of(o->metadata) : mk_str_of("");
    }
    for (int t = 0; t < ntopics; t++) {
      mk_schema_set_defaults(&mk_txn_offset_commit_request_topic_schema, &topics[t]);
      topics[t].name = mk_str_of(slices[t].name);
      topics[t].partitions = parts + slices[t].first;
      topics[t].partitions_count = slices[t].count;
    }
  }
  free(names);
  free(pending);
  free(slices);
  free(order);
  if (ntopics < 0) {
    free(parts);
    free(topics);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  struct mk_txn_offset_commit_request *req = &w->u.txn_offset_commit;
  mk_schema_set_defaults(&mk_txn_offset_commit_request_schema, req);
  req->transactional_id = mk_str_of(tm->transactional_id);
  req->group_id = mk_str_of(r->key);
  req->producer_id = tm->producer_id;
  req->producer_epoch = tm->producer_epoch;
  req->generation_id = r->generation_id;
  req->member_id = mk_str_of(r->member_id ? r->member_id : "");
  req->group_instance_id = r->group_instance_id ? mk_str_of(r->group_instance_id) : MK_STR_NULL;
  req->topics = topics;
  req->topics_count = ntopics;
  w->alloc[0] = parts;
  w->alloc[1] = topics;
  return 0;
}

int mk_txn_request_build(const struct mk_transaction_manager *tm, const struct mk_txn_request *r,
                         int version, struct mk_txn_wire *w, struct mk_err *err) {
  memset(w, 0, sizeof *w);
  w->api_key = mk_txn_request_api_key(r);
  w->body = &w->u;
  switch (r->kind) {
    case MK_TXN_FIND_COORDINATOR: {
      if (version < 1 && r->coordinator_type != MK_COORDINATOR_GROUP)
        return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "FindCoordinator v0 cannot look up "
                          "a transaction coordinator (the broker is older than Kafka 0.11)");
      struct mk_find_coordinator_request *req = &w->u.find_coordinator;
      mk_schema_set_defaults(&mk_find_coordinator_request_schema, req);
      struct mk_str *keys = malloc(sizeof *keys);
      if (!keys) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      keys[0] = mk_str_of(r->key);
      w->alloc[0] = keys;
      req->key_type = (int8_t)r->coordinator_type;  /* v1+ */
      if (version >= 4) {  /* a batch of keys (KIP-699): ours is a batch of one */
        req->coordinator_keys = keys;
        req->coordinator_keys_count = 1;
      } else {
        req->key = keys[0];
      }
      return 0;
    }
    case MK_TXN_INIT_PRODUCER_ID: {
      if (r->epoch_bump && version < 3)
        return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "InitProducerId v%d cannot bump an "
                          "epoch (KIP-360 needs v3)", version);
      struct mk_init_producer_id_request *req = &w->u.init_producer_id;
      mk_schema_set_defaults(&mk_init_producer_id_request_schema, req);
      req->transactional_id = mk_str_of(tm->transactional_id);
      req->transaction_timeout_ms = tm->transaction_timeout_ms;
      req->producer_id = r->epoch_bump ? r->bump_producer_id : -1;
      req->producer_epoch = r->epoch_bump ? r->bump_producer_epoch : -1;
      return 0;
    }
    case MK_TXN_ADD_PARTITIONS:
      return build_add_partitions(tm, r, w) ? mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory")
                                            : 0;
    case MK_TXN_ADD_OFFSETS: {
      struct mk_add_offsets_to_txn_request *req = &w->u.add_offsets;
      mk_schema_set_defaults(&mk_add_offsets_to_txn_request_schema, req);
      req->transactional_id = mk_str_of(tm->transactional_id);
      req->producer_id = tm->producer_id;
      req->producer_epoch = tm->producer_epoch;
      req->group_id = mk_str_of(r->key);
      return 0;
    }
    case MK_TXN_OFFSET_COMMIT:
      return build_txn_offset_commit(tm, r, version, w, err);
    case MK_TXN_END_TXN: {
      struct mk_end_txn_request *req = &w->u.end_txn;
      mk_schema_set_defaults(&mk_end_txn_request_schema, req);
      req->transactional_id = mk_str_of(tm->transactional_id);
      req->producer_id = tm->producer_id;
      req->producer_epoch = tm->producer_epoch;
      req->committed = r->committed;
      return 0;
    }
  }
  return mk_err_set(err, MK_ERR__STATE, "unknown transactional request");
}

void mk_txn_wire_free(struct mk_txn_wire *w) {
  for (size_t i = 0; i < sizeof w->alloc / sizeof w->alloc[0]; i++) free(w->alloc[i]);
  memset(w->alloc, 0, sizeof w->alloc);
}

/* ---- answers: what every handler shares ----------------------------------------------------- */

/* Java's TxnRequestHandler.fatalError / abortableError / abortableErrorIfPossible / reenqueue. */
static void fatal(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                  const struct mk_err *e) {
  mk_txn_result_complete(tm, r->result, e);
  mk_txn_fatal_error(tm, e);
}

static void abortable(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                      const struct mk_err *e) {
  mk_txn_result_complete(tm, r->result, e);
  mk_txn_abortable_error(tm, e);
}

static void abortable_if_possible(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                  const struct mk_err *e) {
  if (tm->coordinator_supports_epoch_bump) {
    tm->epoch_bump_required = true;
    abortable(tm, r, e);
  } else {
    fatal(tm, r, e);
  }
}

static void retry(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  mk_txn_retry(tm, r);
}

static void lookup_and_retry(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                             enum mk_coordinator_type type, const char *key) {
  mk_txn_lookup_coordinator(tm, type, key);
  mk_txn_retry(tm, r);
}

static bool is_fenced(int code) {
  /* INVALID_PRODUCER_EPOCH is what older coordinators answer for the same thing. */
  return code == MK_ERR_INVALID_PRODUCER_EPOCH || code == MK_ERR_PRODUCER_FENCED;
}

static void fenced(struct mk_transaction_manager *tm, struct mk_txn_request *r, int code) {
  struct mk_err e;
  mk_err_set(&e, MK_ERR_PRODUCER_FENCED, "There is a newer producer with the same "
             "transactionalId which fences the current one (%s for %s: %s)",
             mk_txn_request_name(r), tm->transactional_id, mk_err_name(code));
  fatal(tm, r, &e);
}

static void set_err(struct mk_err *e, int code, const char *api, const char *what) {
  mk_err_set(e, code, "%s: %s%s%s", api, mk_err_name(code), what && *what ? ": " : "",
             what ? what : "");
}

/* ---- the handlers, one per API ---------------------------------------------------------------- */

static const char *type_name(enum mk_coordinator_type type) {
  return type == MK_COORDINATOR_TRANSACTION ? "transaction" : "group";
}

static void on_find_coordinator(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                int version, const struct mk_find_coordinator_response *resp) {
  struct mk_err e;
  int16_t code;
  int32_t node, port;
  struct mk_str host, message;
  if (version >= 4) {
    if (resp->coordinators_count != 1) {
      mk_err_set(&e, MK_ERR__STATE, "%s coordinator lookup failed: the response names %d "
                 "coordinators, not one", type_name(r->coordinator_type), resp->coordinators_count);
      fatal(tm, r, &e);
      return;
    }
    const struct mk_find_coordinator_coordinator *c = &resp->coordinators[0];
    code = c->error_code, node = c->node_id, port = c->port, host = c->host;
    message = c->error_message;
  } else {
    code = resp->error_code, node = resp->node_id, port = resp->port, host = resp->host;
    message = resp->error_message;
  }
  if (code == 0) {
    struct mk_coordinator_node *n = r->coordinator_type == MK_COORDINATOR_TRANSACTION
                                        ? &tm->txn_coordinator : &tm->group_coordinator;
    n->id = node;
    n->port = port;
    snprintf(n->host, sizeof n->host, "%.*s", host.len > 0 ? host.len : 0,
             host.ptr ? host.ptr : "");
    mk_log(MK_LOG_INFO, "producer", "Discovered %s coordinator %s:%d (id: %d) for %s",
           type_name(r->coordinator_type), n->host, n->port, n->id, r->key);
    mk_txn_result_complete(tm, r->result, NULL);
    return;
  }
  char what[200];
  snprintf(what, sizeof what, "%s coordinator for %s%s%.*s", type_name(r->coordinator_type),
           r->key, message.len > 0 ? ": " : "", message.len > 0 ? message.len : 0,
           message.ptr ? message.ptr : "");
  set_err(&e, code, "FindCoordinator", what);
  if (mk_err_retriable(code)) retry(tm, r);
  else if (code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED) fatal(tm, r, &e);
  else if (code == MK_ERR_GROUP_AUTHORIZATION_FAILED || code == MK_ERR_TRANSACTION_ABORTABLE)
    abortable(tm, r, &e);
  else fatal(tm, r, &e);
}

static void on_init_producer_id(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                const struct mk_init_producer_id_response *resp) {
  int code = resp->error_code;
  struct mk_err e;
  set_err(&e, code, "InitProducerId", tm->transactional_id);
  if (code == 0) {
    mk_txn_set_producer_id(tm, resp->producer_id, resp->producer_epoch);
    mk_txn_transition(tm, MK_TXN_READY, NULL, true, NULL);
    mk_txn_result_complete(tm, r->result, NULL);
  } else if (code == MK_ERR_NOT_COORDINATOR || code == MK_ERR_COORDINATOR_NOT_AVAILABLE) {
    lookup_and_retry(tm, r, MK_COORDINATOR_TRANSACTION, tm->transactional_id);
  } else if (mk_err_retriable(code)) {
    retry(tm, r);  /* COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS, ... */
  } else if (code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
             code == MK_ERR_CLUSTER_AUTHORIZATION_FAILED || code == MK_ERR_TRANSACTION_ABORTABLE) {
    abortable(tm, r, &e);
  } else if (is_fenced(code)) {
    fenced(tm, r, code);
  } else {
    fatal(tm, r, &e);  /* INVALID_TRANSACTION_TIMEOUT, and anything unexpected */
  }
}

/* Append ", item[ detail]" to the list in buf (cut at its end: it is for a message). */
static void list_add(char *buf, size_t size, const char *item, const char *detail) {
  size_t used = strlen(buf);
  int n = snprintf(buf + used, size - used, "%s%.*s%s%s", used ? ", " : "", 100, item,
                   detail ? " " : "", detail ? detail : "");
  (void)n;
}

static void on_add_partitions(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                              const struct mk_add_partitions_to_txn_response *resp) {
  struct mk_err e;
  bool partition_errors = false;
  char unauthorized[160] = "", failed[160] = "";
  r->retry_backoff_ms = tm->retry_backoff_ms;
  for (int t = 0; t < resp->results_by_topic_v3_and_below_count; t++) {
    const struct mk_add_partitions_to_txn_topic_result *tr = &resp->results_by_topic_v3_and_below[t];
    for (int i = 0; i < tr->results_by_partition_count; i++) {
      int code = tr->results_by_partition[i].partition_error_code;
      char what[160];
      snprintf(what, sizeof what, "%.*s-%d", tr->name.len > 0 ? tr->name.len : 0,
               tr->name.ptr ? tr->name.ptr : "", tr->results_by_partition[i].partition_index);
      set_err(&e, code, "AddPartitionsToTxn", what);
      if (code == 0) continue;
      if (code == MK_ERR_COORDINATOR_NOT_AVAILABLE || code == MK_ERR_NOT_COORDINATOR) {
        lookup_and_retry(tm, r, MK_COORDINATOR_TRANSACTION, tm->transactional_id);
        return;
      }
      if (code == MK_ERR_CONCURRENT_TRANSACTIONS) {
        /* The previous transaction is still being completed by the coordinator. If this
         * transaction has no partition yet, that will be over soon: retry sooner. */
        if (!tm->transaction_started && r->retry_backoff_ms > ADD_PARTITIONS_RETRY_BACKOFF_MS)
          r->retry_backoff_ms = ADD_PARTITIONS_RETRY_BACKOFF_MS;
        retry(tm, r);
        return;
      }
      if (mk_err_retriable(code)) {
        retry(tm, r);
        return;
      }
      if (is_fenced(code)) {
        fenced(tm, r, code);
        return;
      }
      if (code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED || code == MK_ERR_INVALID_TXN_STATE) {
        fatal(tm, r, &e);
        return;
      }
      if (code == MK_ERR_UNKNOWN_PRODUCER_ID || code == MK_ERR_INVALID_PRODUCER_ID_MAPPING) {
        abortable_if_possible(tm, r, &e);
        return;
      }
      if (code == MK_ERR_TRANSACTION_ABORTABLE) {
        abortable(tm, r, &e);
        return;
      }
      if (code == MK_ERR_TOPIC_AUTHORIZATION_FAILED) {
        list_add(unauthorized, sizeof unauthorized, what, NULL);
      } else {
        /* OPERATION_NOT_ATTEMPTED (another partition failed), or unexpected. */
        partition_errors = true;
        list_add(failed, sizeof failed, what, mk_err_name(code));
      }
    }
  }
  /* Every answered partition leaves the pending set: added, or (failed) forgotten. */
  bool ok = !unauthorized[0] && !partition_errors;
  for (int t = 0; t < resp->results_by_topic_v3_and_below_count; t++) {
    const struct mk_add_partitions_to_txn_topic_result *tr = &resp->results_by_topic_v3_and_below[t];
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", tr->name.len > 0 ? tr->name.len : 0,
             tr->name.ptr ? tr->name.ptr : "");
    for (int i = 0; i < tr->results_by_partition_count; i++)
      mk_txn_partition_added(tm, topic, tr->results_by_partition[i].partition_index, ok);
  }
  if (unauthorized[0]) {
    mk_err_set(&e, MK_ERR_TOPIC_AUTHORIZATION_FAILED, "Not authorized to access topics: [%s]",
               unauthorized);
    abortable(tm, r, &e);
  } else if (partition_errors) {
    mk_err_set(&e, MK_ERR__STATE, "Could not add partitions to transaction due to errors: %s",
               failed);
    abortable(tm, r, &e);
  } else {
    tm->transaction_started = true;
    mk_txn_result_complete(tm, r->result, NULL);
  }
}

static void on_add_offsets(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                           const struct mk_add_offsets_to_txn_response *resp) {
  int code = resp->error_code;
  struct mk_err e;
  set_err(&e, code, "AddOffsetsToTxn", r->key);
  if (code == 0) {
    /* The group's __consumer_offsets partition is in the transaction; now the offsets go to
     * the group coordinator, and the caller's result waits for that. */
    tm->transaction_started = true;
    r->kind = MK_TXN_OFFSET_COMMIT;
    r->coordinator_type = MK_COORDINATOR_GROUP;
    r->is_retry = false;
    r->not_before_ms = 0;
    mk_txn_enqueue(tm, r);
  } else if (code == MK_ERR_COORDINATOR_NOT_AVAILABLE || code == MK_ERR_NOT_COORDINATOR) {
    lookup_and_retry(tm, r, MK_COORDINATOR_TRANSACTION, tm->transactional_id);
  } else if (mk_err_retriable(code)) {
    retry(tm, r);
  } else if (code == MK_ERR_UNKNOWN_PRODUCER_ID || code == MK_ERR_INVALID_PRODUCER_ID_MAPPING) {
    abortable_if_possible(tm, r, &e);
  } else if (is_fenced(code)) {
    fenced(tm, r, code);
  } else if (code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
             code == MK_ERR_INVALID_TXN_STATE) {
    fatal(tm, r, &e);
  } else if (code == MK_ERR_GROUP_AUTHORIZATION_FAILED || code == MK_ERR_TRANSACTION_ABORTABLE) {
    abortable(tm, r, &e);
  } else {
    fatal(tm, r, &e);
  }
}

static void on_txn_offset_commit(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                 const struct mk_txn_offset_commit_response *resp) {
  bool looked_up = false, stop = false;
  struct mk_err e;
  for (int t = 0; t < resp->topics_count && !stop; t++) {
    const struct mk_txn_offset_commit_response_topic *tr = &resp->topics[t];
    for (int i = 0; i < tr->partitions_count && !stop; i++) {
      int code = tr->partitions[i].error_code;
      int32_t partition = tr->partitions[i].partition_index;
      char what[200];
      snprintf(what, sizeof what, "group %s, %.*s-%d", r->key, tr->name.len > 0 ? tr->name.len : 0,
               tr->name.ptr ? tr->name.ptr : "", partition);
      set_err(&e, code, "TxnOffsetCommit", what);
      if (code == 0) {
        for (int k = 0; k < r->noffsets; k++)
          if (r->offsets[k].partition == partition && mk_str_eq(tr->name, r->offsets[k].topic))
            r->offsets[k].committed = true;
      } else if (code == MK_ERR_COORDINATOR_NOT_AVAILABLE || code == MK_ERR_NOT_COORDINATOR ||
                 code == MK_ERR_REQUEST_TIMED_OUT) {
        if (!looked_up) mk_txn_lookup_coordinator(tm, MK_COORDINATOR_GROUP, r->key);
        looked_up = true;
      } else if (mk_err_retriable(code)) {
        continue;  /* UNKNOWN_TOPIC_OR_PARTITION, COORDINATOR_LOAD_IN_PROGRESS: again */
      } else if (code == MK_ERR_GROUP_AUTHORIZATION_FAILED || code == MK_ERR_FENCED_INSTANCE_ID ||
                 code == MK_ERR_TRANSACTION_ABORTABLE) {
        abortable(tm, r, &e);
        stop = true;
      } else if (code == MK_ERR_UNKNOWN_MEMBER_ID || code == MK_ERR_ILLEGAL_GENERATION) {
        /* The consumer that read these records is no longer the group's member of that
         * generation (its partitions may be someone else's now): its offsets must not count. */
        mk_err_set(&e, code, "Transaction offset Commit failed due to consumer group metadata "
                   "mismatch: %s (%s)", mk_err_name(code), what);
        abortable(tm, r, &e);
        stop = true;
      } else if (is_fenced(code)) {
        fenced(tm, r, code);
        stop = true;
      } else {
        fatal(tm, r, &e);  /* TRANSACTIONAL_ID_AUTHORIZATION_FAILED, unexpected errors */
        stop = true;
      }
    }
  }
  if (r->result && r->result->done) return;
  bool all = true;
  for (int k = 0; k < r->noffsets; k++) all &= r->offsets[k].committed;
  if (all) mk_txn_result_complete(tm, r->result, NULL);
  else retry(tm, r);
}

static void on_end_txn(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                       const struct mk_end_txn_response *resp) {
  int code = resp->error_code;
  struct mk_err e;
  set_err(&e, code, r->committed ? "EndTxn(commit)" : "EndTxn(abort)", tm->transactional_id);
  if (code == 0) {
    mk_txn_complete_transaction(tm);
    mk_txn_result_complete(tm, r->result, NULL);
  } else if (code == MK_ERR_COORDINATOR_NOT_AVAILABLE || code == MK_ERR_NOT_COORDINATOR) {
    lookup_and_retry(tm, r, MK_COORDINATOR_TRANSACTION, tm->transactional_id);
  } else if (mk_err_retriable(code)) {
    retry(tm, r);  /* CONCURRENT_TRANSACTIONS: the previous EndTxn is still being written */
  } else if (is_fenced(code)) {
    fenced(tm, r, code);
  } else if (code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
             code == MK_ERR_INVALID_TXN_STATE) {
    fatal(tm, r, &e);
  } else if (code == MK_ERR_UNKNOWN_PRODUCER_ID || code == MK_ERR_INVALID_PRODUCER_ID_MAPPING) {
    abortable_if_possible(tm, r, &e);
  } else if (code == MK_ERR_TRANSACTION_ABORTABLE) {
    abortable(tm, r, &e);
  } else {
    fatal(tm, r, &e);
  }
}

/* ---- trace events ----------------------------------------------------------------------------- */

static void trace_response(const struct mk_transaction_manager *tm, const struct mk_txn_request *r,
                           int32_t node, int code, const char *message, int64_t producer_id,
                           int16_t epoch) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "txn_response");
  mk_trace_str(&ev, "client_id", tm->client_id);
  mk_trace_str(&ev, "transactional_id", tm->transactional_id);
  mk_trace_str(&ev, "api", mk_txn_request_name(r));
  mk_trace_int(&ev, "broker", node);
  if (code) mk_trace_str(&ev, "error", mk_err_name(code));  /* none: it succeeded */
  if (message) mk_trace_str(&ev, "message", message);
  if (r->kind == MK_TXN_FIND_COORDINATOR && !code) {
    const struct mk_coordinator_node *n = r->coordinator_type == MK_COORDINATOR_TRANSACTION
                                              ? &tm->txn_coordinator : &tm->group_coordinator;
    mk_trace_str(&ev, "key_type", type_name(r->coordinator_type));
    mk_trace_int(&ev, "coordinator", n->id);
  }
  if (r->kind == MK_TXN_INIT_PRODUCER_ID && !code) {
    mk_trace_int(&ev, "producer_id", producer_id);
    mk_trace_int(&ev, "epoch", epoch);
  }
  mk_trace_end(&ev);
}

void mk_txn_request_trace_sent(const struct mk_transaction_manager *tm,
                               const struct mk_txn_request *r, int32_t node,
                               int32_t correlation_id) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "txn_request");
  mk_trace_str(&ev, "client_id", tm->client_id);
  mk_trace_str(&ev, "transactional_id", tm->transactional_id);
  mk_trace_str(&ev, "api", mk_txn_request_name(r));
  mk_trace_int(&ev, "broker", node);
  mk_trace_int(&ev, "correlation_id", correlation_id);
  switch (r->kind) {
    case MK_TXN_FIND_COORDINATOR:
      mk_trace_str(&ev, "key_type", type_name(r->coordinator_type));
      mk_trace_str(&ev, "key", r->key);
      break;
    case MK_TXN_INIT_PRODUCER_ID:
      mk_trace_bool(&ev, "epoch_bump", r->epoch_bump);
      if (r->epoch_bump) {
        mk_trace_int(&ev, "producer_id", r->bump_producer_id);
        mk_trace_int(&ev, "epoch", r->bump_producer_epoch);
      }
      break;
    case MK_TXN_ADD_PARTITIONS:
      mk_trace_array_begin(&ev, "partitions");
      for (int i = 0; i < r->npartitions; i++) {
        int32_t p;
        const char *topic = key_topic(r->partitions[i], &p);
        char tp[300];
        snprintf(tp, sizeof tp, "%s-%d", topic, p);
        mk_trace_str(&ev, NULL, tp);
      }
      mk_trace_array_end(&ev);
      break;
    case MK_TXN_ADD_OFFSETS:
    case MK_TXN_OFFSET_COMMIT:
      mk_trace_str(&ev, "group_id", r->key);
      if (r->kind == MK_TXN_OFFSET_COMMIT) {
        mk_trace_array_begin(&ev, "offsets");
        for (int i = 0; i < r->noffsets; i++) {
          if (r->offsets[i].committed) continue;
          mk_trace_object_begin(&ev, NULL);
          mk_trace_str(&ev, "topic", r->offsets[i].topic);
          mk_trace_int(&ev, "partition", r->offsets[i].partition);
          mk_trace_int(&ev, "offset", r->offsets[i].offset);
          mk_trace_object_end(&ev);
        }
        mk_trace_array_end(&ev);
      }
      break;
    case MK_TXN_END_TXN:
      mk_trace_str(&ev, "result", r->committed ? "commit" : "abort");
      break;
  }
  if (r->kind != MK_TXN_FIND_COORDINATOR && r->kind != MK_TXN_INIT_PRODUCER_ID) {
    mk_trace_int(&ev, "producer_id", tm->producer_id);
    mk_trace_int(&ev, "epoch", tm->producer_epoch);
  }
  mk_trace_end(&ev);
}

/* ---- entry points --------------------------------------------------------------------------- */

/* The top-level error code of a response, for the trace (per-partition ones: the first). */
static int response_code(const struct mk_txn_request *r, int version, const void *body) {
  switch (r->kind) {
    case MK_TXN_FIND_COORDINATOR: {
      const struct mk_find_coordinator_response *f = body;
      return version >= 4 ? (f->coordinators_count > 0 ? f->coordinators[0].error_code : 0)
                          : f->error_code;
    }
    case MK_TXN_INIT_PRODUCER_ID: return ((const struct mk_init_producer_id_response *)body)->error_code;
    case MK_TXN_ADD_OFFSETS: return ((const struct mk_add_offsets_to_txn_response *)body)->error_code;
    case MK_TXN_END_TXN: return ((const struct mk_end_txn_response *)body)->error_code;
    case MK_TXN_ADD_PARTITIONS: {
      const struct mk_add_partitions_to_txn_response *a = body;
      for (int t = 0; t < a->results_by_topic_v3_and_below_count; t++)
        for (int i = 0; i < a->results_by_topic_v3_and_below[t].results_by_partition_count; i++)
          if (a->results_by_topic_v3_and_below[t].results_by_partition[i].partition_error_code)
            return a->results_by_topic_v3_and_below[t].results_by_partition[i].partition_error_code;
      return 0;
    }
    case MK_TXN_OFFSET_COMMIT: {
      const struct mk_txn_offset_commit_response *o = body;
      for (int t = 0; t < o->topics_count; t++)
        for (int i = 0; i < o->topics[t].partitions_count; i++)
          if (o->topics[t].partitions[i].error_code) return o->topics[t].partitions[i].error_code;
      return 0;
    }
  }
  return 0;
}

void mk_txn_request_handle_response(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                    int32_t node, int version, const void *body) {
  if (mk_trace_on()) {
    int64_t pid = -1;
    int16_t epoch = -1;
    if (r->kind == MK_TXN_INIT_PRODUCER_ID) {
      pid = ((const struct mk_init_producer_id_response *)body)->producer_id;
      epoch = ((const struct mk_init_producer_id_response *)body)->producer_epoch;
    }
    /* The coordinator a FindCoordinator names is only known once handled: trace after. */
    if (r->kind != MK_TXN_FIND_COORDINATOR)
      trace_response(tm, r, node, response_code(r, version, body), NULL, pid, epoch);
  }
  switch (r->kind) {
    case MK_TXN_FIND_COORDINATOR: on_find_coordinator(tm, r, version, body); break;
    case MK_TXN_INIT_PRODUCER_ID: on_init_producer_id(tm, r, body); break;
    case MK_TXN_ADD_PARTITIONS: on_add_partitions(tm, r, body); break;
    case MK_TXN_ADD_OFFSETS: on_add_offsets(tm, r, body); break;
    case MK_TXN_OFFSET_COMMIT: on_txn_offset_commit(tm, r, body); break;
    case MK_TXN_END_TXN: on_end_txn(tm, r, body); break;
  }
  if (mk_trace_on() && r->kind == MK_TXN_FIND_COORDINATOR)
    trace_response(tm, r, node, response_code(r, version, body), NULL, -1, -1);
}

void mk_txn_request_handle_failure(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                   int32_t node, int rc, const struct mk_err *err) {
  if (mk_trace_on()) trace_response(tm, r, node, rc, err ? err->msg : NULL, -1, -1);
  if (tm->closed) {  /* closed forcefully: nothing will send a retry */
    mk_txn_result_complete(tm, r->result, err);
    return;
  }
  if (rc == MK_ERR_NETWORK_EXCEPTION || rc == MK_ERR_REQUEST_TIMED_OUT || rc == MK_ERR__TRANSPORT) {
    enum mk_coordinator_type type;
    const char *key;
    mk_log(MK_LOG_DEBUG, "producer", "%s to broker %d got no answer (%s): will retry",
           mk_txn_request_name(r), node, err->msg);
    if (mk_txn_request_needs_coordinator(tm, r, &type, &key)) lookup_and_retry(tm, r, type, key);
    else retry(tm, r);
    return;
  }
  struct mk_err e;
  if (rc == MK_ERR_UNSUPPORTED_VERSION)
    e = *err;
  else
    mk_err_set(&e, rc, "Could not execute transactional request %s: %s", mk_txn_request_name(r),
               err->msg);
  fatal(tm, r, &e);
}
