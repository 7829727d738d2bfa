/*
 * Labs: the embedded broker (lab.h, "the broker"), through broker.h's embedding API only;
 * on a real cluster (--bootstrap-server) each call goes to lab_cluster.c instead.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "labs/lab_internal.h"

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
  if (strcmp(key, "schema.registry.port") == 0) {  /* a scenario's: lab.h */
    int64_t v;
    if (!mk_lab_parse_int64(value, &v) || v < -1 || v > 65535)
      return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "schema.registry.port must be -1..65535, got "
                         "\"%s\"", value);
    cfg->schema_registry_port = (int)v;
    return 0;
  }
  if (mk_broker_config_set(cfg, key, value, &err))
    return mk_lab_fail(ctx, err.code, "broker setting: %s", err.msg);
  return 0;
}

static int start_broker(struct mk_lab_ctx *ctx, const char *const *kv) {
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = ctx->opts->admin ? ctx->opts->admin_port : -1;  /* --admin-port */
  cfg.trace_file = ctx->served_trace[0] ? ctx->served_trace : NULL;
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

int mk_lab_broker_start(struct mk_lab_ctx *ctx, const char *const *kv) {
  mk_lab_broker_stop(ctx);
  int rc = mk_lab_external(ctx) ? mk_lab_cluster_start(ctx) : start_broker(ctx, kv);
  const char *url = mk_lab_admin_url(ctx);
  if (!rc && url && !ctx->admin_announced) {
    mk_lab_note(ctx, "dashboard: %s/ (the admin API of this lab's %s)", url,
                ctx->cluster ? "proxy" : "broker");
    ctx->admin_announced = true;
  }
  return rc;
}

const char *mk_lab_bootstrap_servers(struct mk_lab_ctx *ctx) {
  return ctx->cluster ? mk_lab_cluster_bootstrap(ctx) : mk_broker_bootstrap(ctx->broker);
}

const char *mk_lab_admin_url(struct mk_lab_ctx *ctx) {
  return ctx->cluster ? mk_lab_cluster_admin_url(ctx)
         : ctx->broker ? mk_broker_admin_url(ctx->broker)
                       : NULL;
}

void mk_lab_broker_stop(struct mk_lab_ctx *ctx) {
  mk_lab_cluster_stop(ctx);
  if (!ctx->broker) return;
  mk_broker_stop(ctx->broker);
  mk_broker_free(ctx->broker);
  ctx->broker = NULL;
}

struct mk_broker *mk_lab_broker(struct mk_lab_ctx *ctx) {
  return ctx->broker;
}

int mk_lab_need_broker(struct mk_lab_ctx *ctx) {
  return ctx->broker || ctx->cluster ? 0
                     : mk_lab_fail(ctx, MK_ERR__STATE, "no broker: call mk_lab_broker_start first");
}

int mk_lab_create_topic_configs(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                                int32_t replication_factor, const char *const *configs) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  if (ctx->cluster)
    return mk_lab_cluster_create_topic(ctx, name, partitions, replication_factor, configs);
  struct mk_err err = {0};
  if ((rc = mk_broker_create_topic(ctx->broker, name, partitions, replication_factor, configs,
                                   &err)))
    return mk_lab_fail(ctx, rc, "create topic %s: %s", name, err.msg);
  return 0;
}

int mk_lab_create_topic(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                        int32_t replication_factor) {
  return mk_lab_create_topic_configs(ctx, name, partitions, replication_factor, NULL);
}

int mk_lab_create_partitions(struct mk_lab_ctx *ctx, const char *topic, int32_t count) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  if (ctx->cluster) return mk_lab_cluster_create_partitions(ctx, topic, count);
  struct mk_err err = {0};
  if ((rc = mk_broker_create_partitions(ctx->broker, topic, count, &err)))
    return mk_lab_fail(ctx, rc, "alter topic %s: %s", topic, err.msg);
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
  if (ctx->cluster) return mk_lab_cluster_fault(ctx, json);
  struct mk_err err = {0};
  if (mk_broker_fault(ctx->broker, json, NULL, &err))
    return mk_lab_fail(ctx, err.code, "fault %s: %s", json, err.msg);
  return 0;
}

int mk_lab_partition_state(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                           struct mk_partition_state *out) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  if (ctx->cluster) return mk_lab_cluster_partition_state(ctx, topic, partition, out);
  struct mk_err err = {0};
  if ((rc = mk_broker_partition_state(ctx->broker, topic, partition, out, &err)))
    return mk_lab_fail(ctx, rc, "%s", err.msg);
  return 0;
}

int mk_lab_wait_hw(struct mk_lab_ctx *ctx, const char *topic, int32_t partition, int64_t hw,
                   int64_t timeout_ms) {
  int64_t deadline = mk_now_us() / 1000 + timeout_ms;
  for (;;) {
    struct mk_partition_state st;
    int rc = mk_lab_partition_state(ctx, topic, partition, &st);
    if (rc) return rc;
    if (st.high_watermark >= hw) return 0;
    if (mk_now_us() / 1000 >= deadline) return MK_ERR__TIMED_OUT;
    mk_lab_sleep_ms(2);
  }
}

/* ---- reading a replica's log ----------------------------------------------------------- */

int mk_lab_read_records(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                        int32_t broker, bool committed_only, struct mk_stored_records *out) {
  memset(out, 0, sizeof *out);
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  /* A real cluster's replicas are read through their leader, up to the high watermark. */
  if (ctx->cluster) return mk_lab_cluster_read_records(ctx, topic, partition, out);
  struct mk_err err = {0};
  if ((rc = mk_broker_read_records(ctx->broker, topic, partition, broker, committed_only, out,
                                   &err)))
    return mk_lab_fail(ctx, rc, "reading %s-%d: %s", topic, partition, err.msg);
  return 0;
}

int mk_lab_records_count_value(const struct mk_stored_records *r, const char *value) {
  int n = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].value.ptr && strcmp(r->v[i].value.ptr, value) == 0) n++;
  return n;
}

bool mk_lab_bytes_equal(struct mk_stored_bytes b, const void *bytes, int32_t len) {
  return b.len == len && (len <= 0 || memcmp(b.ptr, bytes, (size_t)len) == 0);
}

bool mk_lab_bytes_is(struct mk_stored_bytes b, const char *text) {
  return mk_lab_bytes_equal(b, text, (int32_t)strlen(text));
}
