/*
 * Embedding: the calls of broker.h that read or change broker state from another thread
 * (a lab, a test, any program that embeds the broker). Each one packs its arguments,
 * runs a function on the broker loop through mk_broker_call (broker.c) and waits for it,
 * so the loop stays the only thread that touches the cluster; what it hands back is a
 * copy the caller owns.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/admin_state.h"
#include "broker/broker_internal.h"
#include "broker/config.h"
#include "broker/controller.h"
#include "broker/replica_set.h"
#include "broker/reset.h"
#include "broker/state_events.h"
#include "broker/schema_registry_http.h"
#include "common/clock.h"
#include "protocol/record_batch.h"

/* ---- creating a topic ------------------------------------------------------------------- */

struct create_call {
  const char *name;
  int32_t partitions, replication_factor;
  const char *const *configs;
  struct mk_err *err;
  int rc;
};

static void create_on_loop(struct mk_broker *b, void *arg) {
  struct create_call *a = arg;
  struct mk_topic_config tc;
  mk_topic_config_init(&tc);
  for (int i = 0; a->configs && a->configs[i]; i++) {
    const char *kv = a->configs[i], *eq = strchr(kv, '=');
    if (!eq) {
      a->rc = mk_err_set(a->err, MK_ERR_INVALID_CONFIG, "topic config \"%.60s\" has no =", kv);
      return;
    }
    struct mk_str key = {kv, (int32_t)(eq - kv)}, value = mk_str_of(eq + 1);
    if ((a->rc = mk_topic_config_set(&tc, key, value, a->err))) return;
  }
  struct mk_topic *t;
  a->rc = mk_cluster_create_topic(&b->cluster, mk_str_of(a->name), a->partitions,
                                  a->replication_factor, &t, a->err);
  if (!a->rc) t->config = tc;
}

int mk_broker_create_topic(struct mk_broker *b, const char *name, int32_t partitions,
                           int32_t replication_factor, const char *const *configs,
                           struct mk_err *err) {
  struct create_call a = {name, partitions, replication_factor, configs, err, 0};
  if (mk_broker_call(b, create_on_loop, &a))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  return a.rc;
}

struct grow_call {
  const char *topic;
  int32_t count;
  struct mk_err *err;
  int rc;
};

static void grow_on_loop(struct mk_broker *b, void *arg) {
  struct grow_call *a = arg;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, mk_str_of(a->topic));
  a->rc = t ? mk_cluster_add_partitions(&b->cluster, t, a->count, a->err)
            : mk_err_set(a->err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%s' does not "
                         "exist.", a->topic);
}

int mk_broker_create_partitions(struct mk_broker *b, const char *topic, int32_t count,
                                struct mk_err *err) {
  struct grow_call a = {topic, count, err, 0};
  if (mk_broker_call(b, grow_on_loop, &a))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  return a.rc;
}

/* ---- a partition's state ---------------------------------------------------------------- */

struct state_call {
  const char *topic;
  int32_t partition;
  struct mk_partition_state *out;
  bool found;
};

static void state_on_loop(struct mk_broker *b, void *arg) {
  struct state_call *a = arg;
  struct mk_partition *p =
      mk_cluster_partition(mk_cluster_find_topic(&b->cluster, mk_str_of(a->topic)), a->partition);
  if (!p) return;
  a->found = true;
  struct mk_partition_state *o = a->out;
  struct mk_replica *leader = mk_partition_leader(p);
  o->leader = p->leader;
  o->leader_epoch = p->leader_epoch;
  o->high_watermark = p->high_watermark;
  o->log_start_offset = leader ? leader->log.log_start_offset : -1;
  o->nreplicas = p->nreplicas < MK_MAX_BROKERS ? p->nreplicas : MK_MAX_BROKERS;
  o->nfollowers = 0;
  int64_t now = mk_wall_ms();
  for (int r = 0; r < o->nreplicas; r++) {
    const struct mk_replica *rep = &p->replicas[r];
    bool leads = rep == leader;
    o->replicas[r].broker = rep->broker_id;
    o->replicas[r].log_end_offset = rep->log.log_end_offset;
    o->replicas[r].in_isr = rep->in_isr;
    o->replicas[r].high_watermark = leads ? p->high_watermark : rep->high_watermark;
    o->replicas[r].leader_view_log_end_offset =
        leads ? rep->log.log_end_offset : rep->leader_view_leo;
    o->replicas[r].last_caught_up_ms = mk_replica_set_last_caught_up_ms(p, rep, now);
    if (rep->broker_id != p->leader) o->followers[o->nfollowers++] = rep->broker_id;
  }
}

int mk_broker_partition_state(struct mk_broker *b, const char *topic, int32_t partition,
                              struct mk_partition_state *out, struct mk_err *err) {
  memset(out, 0, sizeof *out);
  struct state_call a = {topic, partition, out, false};
  if (mk_broker_call(b, state_on_loop, &a))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  if (!a.found)
    return mk_err_set(err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no partition %s-%d", topic,
                      partition);
  return 0;
}

/* ---- a replica's records ---------------------------------------------------------------- */

struct read_call {
  const char *topic;
  int32_t partition, broker;
  bool committed_only;
  struct mk_stored_records *out;
  int rc;
  struct mk_err *err;
};

/* A copy of b with a NUL after it; ptr NULL for null. Returns false when out of memory. */
static bool copy_bytes(struct mk_bytes b, struct mk_stored_bytes *out) {
  out->len = b.len;
  out->ptr = NULL;
  if (b.len < 0) return true;
  if (!(out->ptr = malloc((size_t)b.len + 1))) return false;
  if (b.len) memcpy(out->ptr, b.ptr, (size_t)b.len);
  out->ptr[b.len] = 0;
  return true;
}

/* Copy rec of batch b into out (zeroed by the caller). Returns 0 or an error code. */
static int copy_record(const struct mk_record_batch *b, struct mk_record *rec,
                       struct mk_stored_record *out, struct mk_err *err) {
  out->offset = b->base_offset + rec->offset_delta;
  /* A LogAppendTime batch carries one timestamp for all its records: its max timestamp. */
  out->log_append_time = (b->attributes & MK_ATTR_LOG_APPEND_TIME) != 0;
  out->timestamp =
      out->log_append_time ? b->max_timestamp : b->base_timestamp + rec->timestamp_delta;
  out->producer_id = b->producer_id;
  out->producer_epoch = b->producer_epoch;
  out->sequence = b->base_sequence < 0 ? -1 : b->base_sequence + rec->offset_delta;
  if (!copy_bytes(rec->key, &out->key) || !copy_bytes(rec->value, &out->value) ||
      (rec->headers_count > 0 &&
       !(out->headers = calloc((size_t)rec->headers_count, sizeof *out->headers))))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < rec->headers_count; i++) {
    struct mk_record_header h;
    int rc = mk_record_next_header(rec, &h, err);
    if (rc) return rc;
    struct mk_stored_header *o = &out->headers[out->headers_count++];
    if (!copy_bytes(h.key, &o->key) || !copy_bytes(h.value, &o->value))
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  return 0;
}

static int push_record(struct mk_stored_records *out, size_t *cap, struct mk_err *err) {
  if (out->n < *cap) return 0;
  *cap = *cap ? *cap * 2 : 256;
  struct mk_stored_record *v = realloc(out->v, *cap * sizeof *v);
  if (!v) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  out->v = v;
  return 0;
}

int mk_stored_records_add_batch(struct mk_stored_records *out, size_t *cap,
                                const struct mk_record_batch *b, int64_t end,
                                struct mk_err *err) {
  struct mk_record_reader rr;
  int rc = mk_record_reader_init(&rr, b, 64 << 20, err);
  if (rc) return rc;
  struct mk_record rec;
  while (!rc && mk_record_reader_next(&rr, &rec, err) == 0) {
    if (b->base_offset + rec.offset_delta >= end) break;
    if ((rc = push_record(out, cap, err))) break;
    struct mk_stored_record *o = &out->v[out->n++];
    memset(o, 0, sizeof *o);
    rc = copy_record(b, &rec, o, err);
  }
  mk_record_reader_free(&rr);
  return rc;
}

static void read_on_loop(struct mk_broker *b, void *arg) {
  struct read_call *a = arg;
  struct mk_partition *p =
      mk_cluster_partition(mk_cluster_find_topic(&b->cluster, mk_str_of(a->topic)), a->partition);
  struct mk_replica *r = !p              ? NULL
                         : a->broker < 0 ? mk_partition_leader(p)
                                         : mk_partition_replica(p, a->broker);
  if (!r) {
    a->rc = mk_err_set(a->err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                       "no replica of %s-%d on broker %d", a->topic, a->partition, a->broker);
    return;
  }
  int64_t end = a->committed_only ? p->high_watermark : r->log.log_end_offset;
  size_t cap = 0;
  for (size_t i = 0; i < r->log.count && !a->rc; i++) {
    const struct mk_batch *batch = mk_log_batch(&r->log, i);
    if (batch->is_control) continue;
    struct mk_record_batch parsed;
    mk_batch_parsed(batch, &parsed);
    a->rc = mk_stored_records_add_batch(a->out, &cap, &parsed, end, a->err);
  }
}

int mk_broker_read_records(struct mk_broker *b, const char *topic, int32_t partition,
                           int32_t broker, bool committed_only, struct mk_stored_records *out,
                           struct mk_err *err) {
  memset(out, 0, sizeof *out);
  struct read_call a = {topic, partition, broker, committed_only, out, 0, err};
  if (mk_broker_call(b, read_on_loop, &a))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  if (a.rc) mk_stored_records_free(out);
  return a.rc;
}

void mk_stored_records_free(struct mk_stored_records *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].key.ptr);
    free(r->v[i].value.ptr);
    for (int h = 0; h < r->v[i].headers_count; h++) {
      free(r->v[i].headers[h].key.ptr);
      free(r->v[i].headers[h].value.ptr);
    }
    free(r->v[i].headers);
  }
  free(r->v);
  r->v = NULL;
  r->n = 0;
}

/* ---- faults and views ------------------------------------------------------------------- */

struct fault_call {
  const char *json;
  int *id;
  struct mk_err *err;
  int rc;
};

static void fault_on_loop(struct mk_broker *b, void *arg) {
  struct fault_call *c = arg;
  c->rc = mk_fault_inject(b, c->json, strlen(c->json), c->id, c->err);
}

int mk_broker_fault(struct mk_broker *b, const char *json, int *id, struct mk_err *err) {
  struct fault_call c = {json, id, err, 0};
  if (mk_broker_call(b, fault_on_loop, &c))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  return c.rc;
}

struct faults_call {
  char *text;
};

static void faults_on_loop(struct mk_broker *b, void *arg) {
  ((struct faults_call *)arg)->text = mk_faults_list_json(&b->faults);
}

char *mk_broker_faults_json(struct mk_broker *b) {
  struct faults_call c = {NULL};
  return mk_broker_call(b, faults_on_loop, &c) ? NULL : c.text;
}

static void clear_on_loop(struct mk_broker *b, void *arg) {
  (void)arg;
  mk_faults_clear(&b->faults);
}

int mk_broker_clear_faults(struct mk_broker *b) {
  return mk_broker_call(b, clear_on_loop, NULL) ? MK_ERR__STATE : 0;
}

struct reset_call {
  struct mk_err *err;
  int rc;
};

static void reset_on_loop(struct mk_broker *b, void *arg) {
  struct reset_call *c = arg;
  c->rc = mk_reset(b, NULL, c->err);
}

int mk_broker_reset(struct mk_broker *b, struct mk_err *err) {
  struct reset_call c = {err, 0};
  if (mk_broker_call(b, reset_on_loop, &c))
    return mk_err_set(err, MK_ERR__STATE, "the broker is not running");
  return c.rc;
}

static void trace_state_on_loop(struct mk_broker *b, void *arg) {
  (void)arg;
  mk_state_events_all(&b->cluster, NULL, NULL);
}

int mk_broker_trace_state(struct mk_broker *b) {
  return mk_broker_call(b, trace_state_on_loop, NULL) ? MK_ERR__STATE : 0;
}

const struct mk_broker_config *mk_broker_config(const struct mk_broker *b) {
  return &b->cluster.cfg;
}

struct view_call {
  json_t *(*build)(struct mk_broker *b);
  char *text;
};

static void view_on_loop(struct mk_broker *b, void *arg) {
  struct view_call *c = arg;
  json_t *j = c->build(b);
  c->text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
}

static char *view(struct mk_broker *b, json_t *(*build)(struct mk_broker *b)) {
  struct view_call c = {build, NULL};
  if (mk_broker_call(b, view_on_loop, &c) != 0) return NULL;
  return c.text;
}

char *mk_broker_cluster_json(struct mk_broker *b) { return view(b, mk_admin_state_cluster); }

char *mk_broker_producers_json(struct mk_broker *b) { return view(b, mk_admin_state_producers); }

char *mk_broker_groups_json(struct mk_broker *b) { return view(b, mk_admin_state_groups); }
char *mk_broker_schemas_json(struct mk_broker *b) { return view(b, mk_schema_registry_view); }

char *mk_broker_transactions_json(struct mk_broker *b) {
  return view(b, mk_admin_state_transactions);
}
