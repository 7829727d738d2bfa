/*
 * Labs: producers built from the scenario's settings and then the user's, and the fate of
 * every record sent (lab.h, "the producer"). The send callback runs on the Sender thread;
 * struct mk_lab_sends has its own mutex for it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab_internal.h"
#include "labs/text.h"

/* ======================================================================================== */
/* producer                                                                                 */
/* ======================================================================================== */

/* The config from the lab's broker, the scenario's kv and the user's settings: 0, or the
 * producer's own error (Kafka's message) with *what saying whose setting it was. */
static int build_config(struct mk_lab_ctx *ctx, const char *const *kv,
                        struct mk_producer_config **out, struct mk_err *err, const char **what) {
  *out = NULL;
  *what = "lab";
  struct mk_producer_config *cfg = mk_producer_config_new();
  if (!cfg) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  const struct mk_serializer *string = mk_serializer_find("StringSerializer");
  int rc = mk_producer_config_set(cfg, "bootstrap.servers", mk_lab_bootstrap_servers(ctx), err);
  if (!rc && (rc = mk_producer_config_set_key_serializer(cfg, string, err)) == 0)
    rc = mk_producer_config_set_value_serializer(cfg, string, err);
  for (int i = 0; !rc && kv && kv[i]; i++) {
    char key[128];
    const char *eq = strchr(kv[i], '=');
    *what = "scenario";
    if (!eq) {
      rc = mk_err_set(err, MK_ERR__INVALID_ARG, "scenario setting \"%s\" has no =", kv[i]);
      break;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
    rc = mk_producer_config_set(cfg, key, eq + 1, err);
  }
  for (int i = 0; !rc && i < ctx->nsettings; i++)
    if (ctx->settings[i].target == MK_LAB_TARGET_PRODUCER) {
      *what = "your";
      rc = mk_producer_config_set(cfg, ctx->settings[i].key, ctx->settings[i].value, err);
    }
  if (!rc) {
    *what = "the combined";
    rc = mk_producer_config_finish(cfg, err);
  }
  if (rc) {
    mk_producer_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int mk_lab_producer_config(struct mk_lab_ctx *ctx, const char *const *kv,
                           struct mk_producer_config **out) {
  *out = NULL;
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  struct mk_err err = {0};
  const char *what;
  if ((rc = build_config(ctx, kv, out, &err, &what)))
    return mk_lab_fail(ctx, rc, "%s producer settings: %s", what, err.msg);
  return 0;
}

int mk_lab_producer_config_check(struct mk_lab_ctx *ctx, const char *const *kv,
                                 struct mk_err *err) {
  int rc = mk_lab_need_broker(ctx);
  if (rc) return rc;
  struct mk_producer_config *cfg;
  const char *what;
  if ((rc = build_config(ctx, kv, &cfg, err, &what))) return rc;
  mk_producer_config_free(cfg);
  return 0;
}

int mk_lab_producer_new(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_producer **out) {
  struct mk_producer_config *cfg;
  *out = NULL;
  int rc = mk_lab_producer_config(ctx, kv, &cfg);
  if (rc) return rc;
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, out, &err);
  mk_producer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  return 0;
}

void mk_lab_show_settings(struct mk_lab_ctx *ctx, const struct mk_producer_config *cfg,
                          const char *const *keys) {
  char line[1024];
  size_t len = 0;
  line[0] = 0;
  for (int i = 0; keys[i] && len < sizeof line; i++) {
    char v[128];
    struct mk_err err = {0};
    if (mk_producer_config_get(cfg, keys[i], v, sizeof v, &err)) snprintf(v, sizeof v, "?");
    if (strcmp(keys[i], "acks") == 0 && strcmp(v, "-1") == 0) snprintf(v, sizeof v, "all");
    bool yours = mk_lab_user_set(ctx, keys[i]);
    len += (size_t)snprintf(line + len, sizeof line - len, "%s%s%s=%s%s", i ? " " : "",
                            yours ? mk_lab_ansi_on(ctx, MK_STYLE_WARN) : "", keys[i], v,
                            yours ? mk_lab_ansi_off(ctx) : "");
  }
  mk_text_wrap(ctx->out, line, (size_t)ctx->width, "  producer: ", "    ", "", "");
  if (cfg->idempotence_adjusted)
    mk_lab_note(ctx, "  (idempotence turned off: %s)", cfg->idempotence_adjusted_reason);
}

/* ---- sends and their fates ------------------------------------------------------------- */

struct mk_lab_sends *mk_lab_sends_new(int capacity) {
  struct mk_lab_sends *s = calloc(1, sizeof *s);
  if (!s || !(s->v = calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *s->v))) {
    free(s);
    return NULL;
  }
  s->capacity = capacity;
  s->refs = 1;
  pthread_mutex_init(&s->lock, NULL);
  mk_lab_cond_init(&s->changed);
  return s;
}

/* Drop one reference; the last frees s. */
static void sends_unref(struct mk_lab_sends *s) {
  pthread_mutex_lock(&s->lock);
  bool last = --s->refs == 0;
  pthread_mutex_unlock(&s->lock);
  if (!last) return;
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->changed);
  free(s->v);
  free(s);
}

void mk_lab_sends_free(struct mk_lab_sends *s) {
  if (s) sends_unref(s);
}

static void on_sent(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  struct mk_lab_send *e = opaque;
  struct mk_lab_sends *s = e->owner;
  pthread_mutex_lock(&s->lock);
  e->done_us = mk_now_us();
  e->partition = md->partition;
  e->offset = md->offset;
  e->error = err->code;
  e->done = true;
  s->completed++;
  if (err->code) s->failed++;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  sends_unref(s);  /* the send's reference */
}

int mk_lab_send(struct mk_lab_ctx *ctx, struct mk_producer *p, struct mk_lab_sends *s,
                const char *topic, int32_t partition, const char *key, const char *value) {
  pthread_mutex_lock(&s->lock);
  if (s->n == s->capacity) {
    pthread_mutex_unlock(&s->lock);
    mk_lab_fail(ctx, MK_ERR__STATE, "more sends than the %d the lab made room for", s->capacity);
    return -1;
  }
  int i = s->n++;
  s->refs++;  /* until on_sent has run, which it does exactly once */
  struct mk_lab_send *e = &s->v[i];
  *e = (struct mk_lab_send){.owner = s, .sent_us = mk_now_us(), .partition = -1, .offset = -1};
  pthread_mutex_unlock(&s->lock);
  struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, topic),
                                   .partition = partition,
                                   .key = mk_value_string(key),
                                   .value = mk_value_string(value),
                                   .timestamp = -1};
  struct mk_err err = {0};
  return mk_producer_send(p, &rec, on_sent, e, NULL, &err) ? -1 : i;
}

int mk_lab_sends_wait(struct mk_lab_sends *s, int64_t timeout_ms) {
  int64_t deadline_us = mk_now_us() + timeout_ms * 1000;
  pthread_mutex_lock(&s->lock);
  while (s->completed < s->n && mk_now_us() < deadline_us)
    mk_lab_cond_wait_until(&s->changed, &s->lock, deadline_us);
  bool all = s->completed >= s->n;
  pthread_mutex_unlock(&s->lock);
  return all ? 0 : MK_ERR__TIMED_OUT;
}

int mk_lab_sends_succeeded(struct mk_lab_sends *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->completed - s->failed;
  pthread_mutex_unlock(&s->lock);
  return n;
}

struct mk_lab_send mk_lab_sends_get(struct mk_lab_sends *s, int i) {
  pthread_mutex_lock(&s->lock);
  struct mk_lab_send e = s->v[i];
  pthread_mutex_unlock(&s->lock);
  return e;
}
