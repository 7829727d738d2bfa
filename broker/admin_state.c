/*
 * Admin state: the cluster model as JSON, and topic creation from JSON. See admin_state.h.
 *
 * Each view walks the model once and builds a jansson tree; the HTTP server (admin_http.c)
 * serialises it. The two embedding calls at the bottom do the same on the loop for another
 * thread, through mk_broker_call, and hand back the text.
 *
 * Thread: broker loop.
 */
#include "broker/admin_state.h"
#include "broker/broker_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/replica_fetcher.h"
#include "broker/replica_set.h"
#include "common/clock.h"
#include "common/log.h"

/* ---- small helpers ------------------------------------------------------------------------ */

/* json_object_set_new that tolerates a NULL value (out of memory): the key is then absent,
 * and the caller notices at the end through the sticky *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok) {
  if (!value || json_object_set_new(obj, key, value) != 0) *ok = false;
}

static void push(json_t *arr, json_t *value, bool *ok) {
  if (!value || json_array_append_new(arr, value) != 0) *ok = false;
}

static int by_name(const void *a, const void *b) {
  const struct mk_topic *x = *(const struct mk_topic *const *)a;
  const struct mk_topic *y = *(const struct mk_topic *const *)b;
  return strcmp(x->name, y->name);
}

/* The topics sorted by name (b->cluster.topics is newest first, which reads badly). Returns new
 * (free()); *n is the count. NULL with *n 0 when there are none or no memory. */
static struct mk_topic **sorted_topics(struct mk_broker *b, size_t *n) {
  *n = 0;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next) (*n)++;
  struct mk_topic **v = *n ? malloc(*n * sizeof *v) : NULL;
  if (!v) {
    *n = 0;
    return NULL;
  }
  size_t i = 0;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next) v[i++] = t;
  qsort(v, *n, sizeof *v, by_name);
  return v;
}

/* ---- GET /v1/cluster -------------------------------------------------------------------- */

/* One replica. Besides its log: its own HW (a follower's lags the leader's: it learns it
 * from fetch answers), what the leader knows of its log end (the offset of its last fetch,
 * -1 before its first under this leader), Kafka's lastCaughtUpTimeMs, and its fetcher
 * (replica_fetcher.h). For the leader these are the partition's HW, its own log end, now,
 * and "stopped". */
static json_t *replica_json(struct mk_partition *p, const struct mk_replica *r, bool *ok) {
  const struct mk_replica *leader = mk_partition_leader(p);
  bool leads = r == leader;
  json_t *o = json_object();
  if (!o) {
    *ok = false;
    return NULL;
  }
  put(o, "broker", json_integer(r->broker_id), ok);
  put(o, "log_end_offset", json_integer(r->log.log_end_offset), ok);
  put(o, "caught_up",
      json_boolean(leader && r->log.log_end_offset == leader->log.log_end_offset), ok);
  put(o, "paused", json_boolean(r->paused), ok);
  put(o, "lag_ms", json_integer(r->lag_ms), ok);
  put(o, "high_watermark", json_integer(leads ? p->high_watermark : r->high_watermark), ok);
  put(o, "leader_view_log_end_offset",
      json_integer(leads ? r->log.log_end_offset : r->leader_view_leo), ok);
  put(o, "last_caught_up_ms", json_integer(mk_replica_set_last_caught_up_ms(p, r, mk_wall_ms())),
      ok);
  put(o, "fetch_state", json_string(mk_fetch_state_name(r->fetch_state)), ok);
  return o;
}

static json_t *partition_json(struct mk_partition *p, bool *ok) {
  json_t *o = json_object(), *isr = json_array(), *replicas = json_array();
  if (!o || !isr || !replicas) {
    json_decref(o);
    json_decref(isr);
    json_decref(replicas);
    *ok = false;
    return NULL;
  }
  put(o, "partition", json_integer(p->index), ok);
  put(o, "leader", json_integer(p->leader), ok);
  put(o, "leader_epoch", json_integer(p->leader_epoch), ok);
  put(o, "high_watermark", json_integer(p->high_watermark), ok);
  put(o, "last_stable_offset", json_integer(mk_partition_last_stable_offset(p)), ok);
  put(o, "log_start_offset", json_integer(mk_partition_log_start_offset(p)), ok);
  for (int r = 0; r < p->nreplicas; r++) {
    if (p->replicas[r].in_isr) push(isr, json_integer(p->replicas[r].broker_id), ok);
    push(replicas, replica_json(p, &p->replicas[r], ok), ok);
  }
  put(o, "isr", isr, ok);
  put(o, "replicas", replicas, ok);
  return o;
}

static json_t *partition_producers_json(struct mk_partition *p, bool *ok);  /* below */

/* Every topic, in name order, as {"name", ("id",) "partitions": [partition(p)...]}, pushed
 * onto topics: the shape GET /v1/cluster and GET /v1/producers share. */
static void push_topics(struct mk_broker *b, json_t *topics, bool with_id,
                        json_t *(*partition)(struct mk_partition *p, bool *ok),
                        bool *ok) {
  size_t ntopics;
  struct mk_topic **sorted = sorted_topics(b, &ntopics);
  for (size_t i = 0; *ok && i < ntopics; i++) {
    struct mk_topic *t = sorted[i];
    json_t *o = json_object(), *parts = json_array();
    if (!o || !parts) {
      json_decref(o);
      json_decref(parts);
      *ok = false;
      break;
    }
    put(o, "name", json_string(t->name), ok);
    if (with_id) {
      char id[23];
      mk_topic_id_string(&t->id, id);
      put(o, "id", json_string(id), ok);
    }
    for (int32_t p = 0; p < t->npartitions; p++) push(parts, partition(t->partitions[p], ok), ok);
    put(o, "partitions", parts, ok);
    push(topics, o, ok);
  }
  free(sorted);
}

json_t *mk_admin_state_cluster(struct mk_broker *b) {
  bool ok = true;
  json_t *root = json_object(), *brokers = json_array(), *topics = json_array();
  if (!root || !brokers || !topics) ok = false;
  for (int i = 0; ok && i < b->cluster.nnodes; i++) {
    const struct mk_node *n = &b->cluster.nodes[i];
    json_t *o = json_object();
    if (!o) {
      ok = false;
      break;
    }
    put(o, "id", json_integer(n->id), &ok);
    put(o, "host", json_string(mk_cluster_advertised_host(&b->cluster)), &ok);
    put(o, "port", json_integer(n->port), &ok);
    put(o, "up", json_boolean(n->up), &ok);
    push(brokers, o, &ok);
  }
  if (ok) push_topics(b, topics, true, partition_json, &ok);
  json_t *settings = ok ? json_object() : NULL;
  for (int i = 0; settings && i < mk_setting_count; i++) {
    const struct mk_setting_row *s = &mk_setting_rows[i];
    char text[32];
    int64_t v = mk_setting_value(s, &b->cluster.cfg);
    put(settings, s->info.name,
        s->kind == MK_SETTING_BOOLEAN  ? json_boolean(v)
        : s->kind == MK_SETTING_STRING ? json_string(mk_setting_format(s, v, text, sizeof text))
                                       : json_integer(v),
        &ok);
  }
  if (ok && settings) put(root, "settings", settings, &ok);
  else ok = false;
  if (ok) {
    put(root, "cluster_id", json_string(b->cluster.cluster_id), &ok);
    put(root, "brokers", brokers, &ok);
    put(root, "topics", topics, &ok);
    brokers = topics = NULL;
  }
  if (!ok) {
    json_decref(brokers);
    json_decref(topics);
    json_decref(root);
    return NULL;
  }
  return root;
}

/* ---- GET /v1/producers ------------------------------------------------------------------ */

static int by_producer_id(const void *a, const void *b) {
  int64_t x = (*(const struct mk_producer_entry *const *)a)->producer_id;
  int64_t y = (*(const struct mk_producer_entry *const *)b)->producer_id;
  return x < y ? -1 : x > y;
}

static json_t *producer_json(const struct mk_producer_entry *e, bool *ok) {
  json_t *o = json_object(), *batches = json_array();
  if (!o || !batches) {
    json_decref(o);
    json_decref(batches);
    *ok = false;
    return NULL;
  }
  put(o, "producer_id", json_integer(e->producer_id), ok);
  put(o, "epoch", json_integer(e->producer_epoch), ok);
  put(o, "last_sequence", json_integer(mk_producer_entry_last_seq(e)), ok);
  put(o, "last_offset", json_integer(mk_producer_entry_last_offset(e)), ok);
  put(o, "last_timestamp", json_integer(e->last_timestamp), ok);
  /* Its open transaction here: where it began (what holds the LSO), or null. */
  put(o, "current_txn_first_offset",
      e->current_txn_first_offset >= 0 ? json_integer(e->current_txn_first_offset) : json_null(),
      ok);
  put(o, "coordinator_epoch", json_integer(e->coordinator_epoch), ok);
  for (int i = 0; i < e->batches_count; i++) {
    const struct mk_batch_metadata *m = &e->batches[i];
    json_t *bo = json_object();
    if (!bo) {
      *ok = false;
      break;
    }
    put(bo, "first_sequence", json_integer(m->first_seq), ok);
    put(bo, "last_sequence", json_integer(m->last_seq), ok);
    put(bo, "first_offset", json_integer(m->first_offset), ok);
    put(bo, "last_offset", json_integer(m->last_offset), ok);
    put(bo, "timestamp", json_integer(m->timestamp), ok);
    push(batches, bo, ok);
  }
  put(o, "batches", batches, ok);
  return o;
}

/* The transactions holding the partition's LSO: open ones (marker_offset null) and closed
 * ones whose marker is not replicated yet. */
static json_t *transactions_json(const struct mk_producer_state *ps, bool *ok) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < ps->nspans; i++) {
    const struct mk_txn_span *t = &ps->spans[i];
    push(list, json_pack("{s:I, s:I, s:o}", "producer_id", (json_int_t)t->producer_id,
                         "first_offset", (json_int_t)t->first_offset, "marker_offset",
                         t->last_offset >= 0 ? json_integer(t->last_offset) : json_null()),
         ok);
  }
  return list;
}

/* The aborted-transaction index, newest last; at most the last 100 entries (a list a person
 * reads; "aborted_count" says how many there are). */
enum { ABORTED_SHOWN = 100 };
static json_t *aborted_json(const struct mk_transaction_index *idx, bool *ok) {
  json_t *o = json_object(), *list = json_array();
  if (!o || !list) {
    json_decref(o);
    json_decref(list);
    *ok = false;
    return NULL;
  }
  size_t from = idx->count > ABORTED_SHOWN ? idx->count - ABORTED_SHOWN : 0;
  for (size_t i = from; i < idx->count; i++) {
    const struct mk_aborted_txn *a = &idx->entries[i];
    push(list, json_pack("{s:I, s:I, s:I, s:I}", "producer_id", (json_int_t)a->producer_id,
                         "first_offset", (json_int_t)a->first_offset, "last_offset",
                         (json_int_t)a->last_offset, "last_stable_offset",
                         (json_int_t)a->last_stable_offset),
         ok);
  }
  put(o, "count", json_integer((json_int_t)idx->count), ok);
  put(o, "latest", list, ok);
  return o;
}

/* One partition's producers, sorted by id (the table's own order is its hash order). */
static json_t *partition_producers_json(struct mk_partition *p, bool *ok) {
  json_t *o = json_object(), *list = json_array();
  const struct mk_producer_entry **v =
      p->producers.count ? malloc(p->producers.count * sizeof *v) : NULL;
  if (!o || !list || (p->producers.count && !v)) {
    json_decref(o);
    json_decref(list);
    free(v);
    *ok = false;
    return NULL;
  }
  size_t n = 0, it = 0;
  const struct mk_producer_entry *e;
  while ((e = mk_producer_state_next(&p->producers, &it)) != NULL && n < p->producers.count)
    v[n++] = e;
  if (n) qsort(v, n, sizeof *v, by_producer_id);
  for (size_t i = 0; i < n; i++) push(list, producer_json(v[i], ok), ok);
  free(v);
  put(o, "partition", json_integer(p->index), ok);
  put(o, "high_watermark", json_integer(p->high_watermark), ok);
  put(o, "last_stable_offset", json_integer(mk_partition_last_stable_offset(p)), ok);
  put(o, "producers", list, ok);
  put(o, "transactions", transactions_json(&p->producers, ok), ok);
  put(o, "aborted_transactions", aborted_json(&p->producers.aborted, ok), ok);
  return o;
}

json_t *mk_admin_state_producers(struct mk_broker *b) {
  bool ok = true;
  json_t *root = json_object(), *topics = json_array();
  if (!root || !topics) ok = false;
  if (ok) push_topics(b, topics, false, partition_producers_json, &ok);
  if (ok) {
    put(root, "topics", topics, &ok);
    topics = NULL;
  }
  if (!ok) {
    json_decref(topics);
    json_decref(root);
    return NULL;
  }
  return root;
}

/* ---- POST /v1/topics -------------------------------------------------------------------- */

/* An optional int32 field: absent or null leaves *out as it is. */
static int int32_field(const json_t *body, const char *key, int32_t *out, struct mk_err *err) {
  const json_t *v = json_object_get(body, key);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "\"%s\" must be a 32-bit integer (-1 = the broker's default)", key);
  *out = (int32_t)json_integer_value(v);
  return 0;
}

/* Check and apply "configs" to tc with CreateTopics' own rules; *echo gets each config as
 * a string, for the answer. */
static int apply_configs(const json_t *configs, struct mk_topic_config *tc, json_t *echo,
                         struct mk_err *err) {
  if (!configs || json_is_null(configs)) return 0;
  if (!json_is_object(configs))
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "\"configs\" must be an object of topic configs, e.g. "
                      "{\"retention.ms\": \"60000\"}");
  const char *key;
  size_t key_len;
  const json_t *v;
  json_object_keylen_foreach((json_t *)configs, key, key_len, v) {
    char num[32];
    const char *value;
    if (json_is_string(v)) {
      value = json_string_value(v);
    } else if (json_is_integer(v)) {
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      value = num;
    } else {
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "config \"%.64s\" must be a string or an integer", key);
    }
    /* Kafka's CreateTopics code decides, so both paths give the same answer. */
    struct mk_str name = {key, (int32_t)key_len};
    struct mk_str val = {value, json_is_string(v) ? (int32_t)json_string_length(v)
                                                  : (int32_t)strlen(value)};
    int rc = mk_topic_config_set(tc, name, val, err);
    if (rc) return rc;
    json_object_set_new(echo, key, json_string(value));
  }
  return 0;
}

int mk_admin_state_create_topic(struct mk_broker *b, const json_t *body, json_t **out,
                                struct mk_err *err) {
  static const char *const fields[] = {"name", "partitions", "replication_factor", "configs"};
  *out = NULL;
  if (!json_is_object(body))
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "the body must be a JSON object: {\"name\": ..., \"partitions\": ..., "
                      "\"replication_factor\": ..., \"configs\": {...}}");
  const char *key;
  size_t key_len;
  const json_t *v;
  json_object_keylen_foreach((json_t *)body, key, key_len, v) {
    bool known = false;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
      known |= strlen(fields[i]) == key_len && memcmp(key, fields[i], key_len) == 0;
    if (!known)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "unknown field \"%.64s\"; the fields are name, partitions, "
                        "replication_factor, configs", key);
  }
  const json_t *name = json_object_get(body, "name");
  if (!json_is_string(name))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"name\" (a string) is required");
  int32_t partitions = -1, rf = -1;
  int rc = int32_field(body, "partitions", &partitions, err);
  if (!rc) rc = int32_field(body, "replication_factor", &rf, err);
  if (rc) return rc;

  struct mk_str tname = {json_string_value(name), (int32_t)json_string_length(name)};
  rc = mk_cluster_validate_topic_name(tname, err);
  if (rc) return rc;
  if (mk_cluster_find_topic(&b->cluster, tname))
    return mk_err_set(err, MK_ERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.",
                      json_string_value(name));
  /* Configs first, as CreateTopics does: a bad config creates nothing. */
  struct mk_topic_config tc;
  mk_topic_config_init(&tc);
  json_t *echo = json_object();
  if (!echo) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  rc = apply_configs(json_object_get(body, "configs"), &tc, echo, err);
  struct mk_topic *t = NULL;
  if (!rc) rc = mk_cluster_create_topic(&b->cluster, tname, partitions, rf, &t, err);
  if (rc) {
    json_decref(echo);
    return rc;
  }
  t->config = tc;
  char id[23];
  mk_topic_id_string(&t->id, id);
  bool ok = true;
  json_t *o = json_object();
  if (!o) ok = false;
  else {
    put(o, "name", json_string(t->name), &ok);
    put(o, "id", json_string(id), &ok);
    put(o, "partitions", json_integer(t->npartitions), &ok);
    put(o, "replication_factor", json_integer(t->partitions[0]->nreplicas), &ok);
    put(o, "configs", echo, &ok);
    echo = NULL;
  }
  json_decref(echo);
  if (!ok) {
    json_decref(o);  /* the topic exists; only the answer could not be built */
    return mk_err_set(err, MK_ERR__NO_MEMORY, "topic created, but out of memory for the answer");
  }
  *out = o;
  return 0;
}
