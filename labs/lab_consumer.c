/*
 * Labs: consumers built from the scenario's settings and then the user's (lab.h,
 * "consumers"), as lab_producer.c builds producers. The consumer itself is
 * consumer/consumer.h; a lab polls it on a thread of its own per member when it needs
 * several members at once (a poll waits through a rebalance).
 */
#include <string.h>

#include "labs/lab_internal.h"

int mk_lab_consumer_config(struct mk_lab_ctx *ctx, const char *const *kv,
                           struct mk_consumer_config **out) {
  *out = NULL;
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  struct mk_consumer_config *cfg = mk_consumer_config_new();
  if (!cfg) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  struct mk_err err = {0};
  const char *what = "lab";
  rc = mk_consumer_config_set(cfg, "bootstrap.servers", mk_lab_bootstrap_servers(ctx), &err);
  for (int i = 0; !rc && kv && kv[i]; i++) {
    char key[128];
    const char *eq = strchr(kv[i], '=');
    what = "scenario";
    if (!eq) {
      rc = mk_err_set(&err, MK_ERR__INVALID_ARG, "scenario setting \"%s\" has no =", kv[i]);
      break;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
    rc = mk_consumer_config_set(cfg, key, eq + 1, &err);
  }
  for (int i = 0; !rc && i < ctx->nsettings; i++)
    if (ctx->settings[i].target == MK_LAB_TARGET_CONSUMER) {
      what = "your";
      rc = mk_consumer_config_set(cfg, ctx->settings[i].key, ctx->settings[i].value, &err);
    }
  if (!rc) {
    what = "the combined";
    rc = mk_consumer_config_finish(cfg, &err);
  }
  if (rc) {
    mk_consumer_config_free(cfg);
    return mk_lab_fail(ctx, rc, "%s consumer settings: %s", what, err.msg);
  }
  *out = cfg;
  return 0;
}

int mk_lab_consumer_new(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_consumer **out) {
  struct mk_consumer_config *cfg;
  int rc = mk_lab_consumer_config(ctx, kv, &cfg);
  if (rc) return rc;
  struct mk_err err = {0};
  rc = mk_consumer_new(cfg, out, &err);
  mk_consumer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "consumer: %s", err.msg);
  return 0;
}
