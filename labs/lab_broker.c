/*
 * Labs: the embedded broker (lab.h, "the broker"). Reading state goes through
 * mk_broker_call, so it runs on the broker loop, where all broker state lives.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/partition_log.h"
#include "common/clock.h"
#include "labs/lab_internal.h"
#include "protocol/record_batch.h"

/* ======================================================================================== */
/* broker                                                                                   */
/* ======================================================================================== */

static int apply_broker_setting(struct mk_lab_ctx *ctx, struct mk_broker_config *cfg,
                                const char *key, const char *value) {
  struct mk_err err = {0};
  if (strcmp(key, "brokers") == 0) {
    int64_t v;
    if (!mk_lab_parse_int64(value, &v) || v < 1 || v > MK_MAX_BROKERS)
      return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "brokers must be 1..%d, got \"%s\"",
                         MK_MAX_BROKERS, value);
    cfg->brokers = (int)v;
    return 0;
  }
  if (mk_broker_config_set(cfg, key, value, &err))
    return mk_lab_fail(ctx, err.code, "broker setting: %s", err.msg);
  return 0;
}

int mk_lab_broker_start(struct mk_lab_ctx *ctx, const char *const *kv) {
  mk_lab_broker_stop(ctx);
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  for (int i = 0; kv && kv[i]; i++) {
    char key[128];
    const char *eq = strchr(kv[i], '=');
    if (!eq)
      return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "scenario setting \"%s\" has no =", kv[i]);
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
    int rc = apply_broker_setting(ctx, &cfg, key, eq + 1);
    if (rc) return rc;
  }
  for (int i = 0; i < ctx->nsettings; i++) {
    if (ctx->settings[i].target != MK_LAB_TARGET_BROKER) continue;
    int rc = apply_broker_setting(ctx, &cfg, ctx->settings[i].key, ctx->settings[i].value);
    if (rc) return rc;
  }
  struct mk_err err = {0};
  struct mk_broker *b = NULL;
  if (mk_broker_new(&cfg, &b, &err)) return mk_lab_fail(ctx, err.code, "broker: %s", err.msg);
  if (mk_broker_start(b, &err)) {
    mk_broker_free(b);
    return mk_lab_fail(ctx, err.code, "broker: %s", err.msg);
  }
  ctx->broker = b;
  return 0;
}

void mk_lab_broker_stop(struct mk_lab_ctx *ctx) {
  if (!ctx->broker) return;
  mk_broker_stop(ctx->broker);
  mk_broker_free(ctx->broker);
  ctx->broker = NULL;
}

struct mk_broker *mk_lab_broker(struct mk_lab_ctx *ctx) {
  return ctx->broker;
}

int mk_lab_need_broker(struct mk_lab_ctx *ctx) {
  return ctx->broker ? 0
                     : mk_lab_fail(ctx, MK_ERR__STATE, "no broker: call mk_lab_broker_start first");
}

struct create_args {
  const char *name;
  int32_t partitions, rf;
  struct mk_err err;
  int rc;
};

static void create_on_loop(struct mk_broker *b, void *arg) {
  struct create_args *a = arg;
  a->rc = mk_cluster_create_topic(b, mk_str_of(a->name), a->partitions, a->rf, NULL, &a->err);
}

int mk_lab_create_topic(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                        int32_t replication_factor) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  struct create_args a = {name, partitions, replication_factor, {0}, 0};
  if (mk_broker_call(ctx->broker, create_on_loop, &a))
    return mk_lab_fail(ctx, MK_ERR__STATE, "the broker is not running");
  if (a.rc) return mk_lab_fail(ctx, a.rc, "create topic %s: %s", name, a.err.msg);
  return 0;
}

int mk_lab_fault(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  char json[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(json, sizeof json, fmt, ap);
  va_end(ap);
  struct mk_err err = {0};
  if (mk_broker_fault(ctx->broker, json, NULL, &err))
    return mk_lab_fail(ctx, err.code, "fault %s: %s", json, err.msg);
  return 0;
}

struct state_args {
  const char *topic;
  int32_t partition;
  struct mk_lab_partition *out;
  bool found;
};

static void state_on_loop(struct mk_broker *b, void *arg) {
  struct state_args *a = arg;
  struct mk_partition *p =
      mk_cluster_partition(mk_cluster_find_topic(b, mk_str_of(a->topic)), a->partition);
  if (!p) return;
  a->found = true;
  struct mk_lab_partition *o = a->out;
  o->leader = p->leader;
  o->leader_epoch = p->leader_epoch;
  o->high_watermark = p->high_watermark;
  o->nreplicas = p->nreplicas < 16 ? p->nreplicas : 16;
  o->nfollowers = 0;
  for (int r = 0; r < o->nreplicas; r++) {
    o->replicas[r].broker = p->replicas[r].broker_id;
    o->replicas[r].log_end_offset = p->replicas[r].log.log_end_offset;
    o->replicas[r].in_isr = p->replicas[r].in_isr;
    if (p->replicas[r].broker_id != p->leader)
      o->followers[o->nfollowers++] = p->replicas[r].broker_id;
  }
}

int mk_lab_partition_state(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                           struct mk_lab_partition *out) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  struct state_args a = {topic, partition, out, false};
  if (mk_broker_call(ctx->broker, state_on_loop, &a))
    return mk_lab_fail(ctx, MK_ERR__STATE, "the broker is not running");
  if (!a.found)
    return mk_lab_fail(ctx, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no partition %s-%d", topic,
                       partition);
  return 0;
}

int mk_lab_wait_hw(struct mk_lab_ctx *ctx, const char *topic, int32_t partition, int64_t hw,
                   int64_t timeout_ms) {
  int64_t deadline = mk_now_us() / 1000 + timeout_ms;
  for (;;) {
    struct mk_lab_partition st;
    int rc = mk_lab_partition_state(ctx, topic, partition, &st);
    if (rc) return rc;
    if (st.high_watermark >= hw) return 0;
    if (mk_now_us() / 1000 >= deadline) return MK_ERR__TIMED_OUT;
    mk_lab_sleep_ms(2);
  }
}

/* ---- reading a replica's log ----------------------------------------------------------- */

struct read_args {
  const char *topic;
  int32_t partition, broker;
  bool committed_only;
  struct mk_lab_records *out;
  int rc;
  struct mk_err err;
};

/* A copy of b with a NUL after it; ptr NULL for null. Returns false when out of memory. */
static bool copy_bytes(struct mk_bytes b, struct mk_lab_bytes *out) {
  out->len = b.len;
  out->ptr = NULL;
  if (b.len < 0) return true;
  if (!(out->ptr = malloc((size_t)b.len + 1))) return false;
  if (b.len) memcpy(out->ptr, b.ptr, (size_t)b.len);
  out->ptr[b.len] = 0;
  return true;
}

/* Copy rec into out (zeroed by the caller). Returns 0 or an error code. */
static int copy_record(struct mk_record *rec, int64_t offset, struct mk_lab_record *out,
                       struct mk_err *err) {
  out->offset = offset;
  if (!copy_bytes(rec->key, &out->key_bytes) || !copy_bytes(rec->value, &out->value_bytes) ||
      (rec->headers_count > 0 &&
       !(out->headers = calloc((size_t)rec->headers_count, sizeof *out->headers))))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  out->key = out->key_bytes.ptr;
  out->value = out->value_bytes.ptr;
  for (int i = 0; i < rec->headers_count; i++) {
    struct mk_record_header h;
    int rc = mk_record_next_header(rec, &h, err);
    if (rc) return rc;
    struct mk_lab_header *o = &out->headers[out->headers_count++];
    if (!copy_bytes(h.key, &o->key) || !copy_bytes(h.value, &o->value))
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  return 0;
}

static void read_on_loop(struct mk_broker *b, void *arg) {
  struct read_args *a = arg;
  struct mk_partition *p =
      mk_cluster_partition(mk_cluster_find_topic(b, mk_str_of(a->topic)), a->partition);
  struct mk_replica *r = !p              ? NULL
                         : a->broker < 0 ? mk_partition_leader(p)
                                         : mk_partition_replica(p, a->broker);
  if (!r) {
    a->rc = mk_err_set(&a->err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
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
    struct mk_record_reader rr;
    if ((a->rc = mk_record_reader_init(&rr, &parsed, 64 << 20, &a->err))) break;
    struct mk_record rec;
    while (mk_record_reader_next(&rr, &rec, &a->err) == 0) {
      int64_t offset = batch->base_offset + rec.offset_delta;
      if (offset >= end) break;
      if (a->out->n == cap) {
        cap = cap ? cap * 2 : 256;
        struct mk_lab_record *v = realloc(a->out->v, cap * sizeof *v);
        if (!v) {
          a->rc = mk_err_set(&a->err, MK_ERR__NO_MEMORY, "out of memory");
          break;
        }
        a->out->v = v;
      }
      struct mk_lab_record *o = &a->out->v[a->out->n++];
      memset(o, 0, sizeof *o);
      if ((a->rc = copy_record(&rec, offset, o, &a->err))) break;
    }
    mk_record_reader_free(&rr);
  }
}

int mk_lab_read_records(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                        int32_t broker, bool committed_only, struct mk_lab_records *out) {
  memset(out, 0, sizeof *out);
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  struct read_args a = {topic, partition, broker, committed_only, out, 0, {0}};
  if (mk_broker_call(ctx->broker, read_on_loop, &a))
    return mk_lab_fail(ctx, MK_ERR__STATE, "the broker is not running");
  if (a.rc) {
    mk_lab_records_free(out);
    return mk_lab_fail(ctx, a.rc, "reading %s-%d: %s", topic, partition, a.err.msg);
  }
  return 0;
}

void mk_lab_records_free(struct mk_lab_records *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].key_bytes.ptr);
    free(r->v[i].value_bytes.ptr);
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

int mk_lab_records_count_value(const struct mk_lab_records *r, const char *value) {
  int n = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].value && strcmp(r->v[i].value, value) == 0) n++;
  return n;
}

bool mk_lab_bytes_equal(struct mk_lab_bytes b, const void *bytes, int32_t len) {
  return b.len == len && (len <= 0 || memcmp(b.ptr, bytes, (size_t)len) == 0);
}

bool mk_lab_bytes_is(struct mk_lab_bytes b, const char *text) {
  return mk_lab_bytes_equal(b, text, (int32_t)strlen(text));
}
