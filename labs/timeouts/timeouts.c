/*
 * Lab 9, timeouts: the two timings of a send, and the two settings that bound them.
 * Guide: labs/timeouts/README.md. Notes: 000 "메시지 전달 시간 설정" (the two segments of a
 * send), "메시지 직렬화 예외 시나리오" (TimeoutException when the buffer is full) and section 8
 * (a broker that cannot keep up fills the producer's buffer).
 *
 *   part 1  a healthy cluster: `records` records sent back to back; for each, the time spent
 *           inside send() and the time from send()'s return to its callback
 *   part 2  a slow broker: the leader holds its answers to the first Produce requests for
 *           delay_ms. With a small buffer.memory, the batches waiting for those answers fill
 *           it, and the next send() blocks for max.block.ms, then fails with
 *           REQUEST_TIMED_OUT (Java's BufferExhaustedException, a TimeoutException), its
 *           callback run on the caller's thread
 *   part 3  every broker down: `down_records` records are accepted at once (the metadata is
 *           known, the buffer has room), then each fails, exactly once, about
 *           delivery.timeout.ms after it was sent
 *
 * Each send's fate is kept here (struct fates) rather than in mk_lab_sends: the lab needs
 * the moment send() returned, how many times each callback ran and on which thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "100", "part 1: records sent to a healthy cluster", 2, 100000},
    {"block_ms", "1000", "max.block.ms in parts 2 and 3", 10, 60000},
    {"delay_ms", "3000", "part 2: how long the slow leader holds each of its first answers", 10,
     60000},
    {"delivery_ms", "2000", "part 3: delivery.timeout.ms", 100, 120000},
    {"down_records", "10", "part 3: records sent while every broker is down", 1, 10000},
    {NULL, NULL, NULL},
};

/* ---- the fate of each send ------------------------------------------------------------- */

struct fates;

struct fate {
  struct fates *owner;
  int64_t called_us, returned_us, done_us; /* mk_now_us() around send(), at the callback */
  int rc;                                  /* what mk_producer_send returned */
  int16_t error;                           /* the callback's error code, 0 on success */
  int callbacks;                           /* how many times the callback ran */
  bool in_send;                            /* it ran on the thread that called send() */
  char msg[200];                           /* the callback's error message */
};

/* The callbacks run on the Sender thread (or inside send(), on ours): lock guards every
 * fate's callback fields and `completed`. */
struct fates {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  pthread_t caller; /* the thread that calls send() */
  struct fate *v;
  int n, cap, completed;
};

static struct fates *fates_new(int cap) {
  struct fates *fs = calloc(1, sizeof *fs);
  if (!fs || !(fs->v = calloc((size_t)(cap > 0 ? cap : 1), sizeof *fs->v))) {
    free(fs);
    return NULL;
  }
  fs->cap = cap;
  fs->caller = pthread_self();
  pthread_mutex_init(&fs->lock, NULL);
  mk_lab_cond_init(&fs->changed);
  return fs;
}

/* Only once the producer is closed: no callback can run after that. */
static void fates_free(struct fates *fs) {
  if (!fs) return;
  pthread_mutex_destroy(&fs->lock);
  pthread_cond_destroy(&fs->changed);
  free(fs->v);
  free(fs);
}

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  (void)md;
  struct fate *f = opaque;
  struct fates *fs = f->owner;
  pthread_mutex_lock(&fs->lock);
  if (f->callbacks++ == 0) {
    f->done_us = mk_now_us();
    f->error = err->code;
    snprintf(f->msg, sizeof f->msg, "%s", err->msg);
    f->in_send = pthread_equal(pthread_self(), fs->caller) != 0;
    fs->completed++;
  }
  pthread_cond_broadcast(&fs->changed);
  pthread_mutex_unlock(&fs->lock);
}

/* Send one record and time the call. Returns its fate (owned by fs). */
static struct fate *send_timed(struct fates *fs, struct mk_producer *p, const char *topic,
                               const char *key, const char *value) {
  pthread_mutex_lock(&fs->lock);
  struct fate *f = fs->n < fs->cap ? &fs->v[fs->n++] : NULL;
  pthread_mutex_unlock(&fs->lock);
  if (!f) return NULL;
  f->owner = fs;
  struct mk_producer_record rec = {.topic = topic,
                                   .partition = -1,
                                   .key = mk_value_string(key),
                                   .value = mk_value_string(value),
                                   .timestamp = -1};
  struct mk_err err = {0};
  f->called_us = mk_now_us();
  int rc = mk_producer_send(p, &rec, on_done, f, NULL, &err);
  f->returned_us = mk_now_us();
  f->rc = rc;
  return f;
}

/* Wait until every send so far has completed, at most timeout_ms. Returns 0 or
 * MK_ERR__TIMED_OUT. */
static int fates_wait(struct fates *fs, int64_t timeout_ms) {
  int64_t deadline_us = mk_now_us() + timeout_ms * 1000;
  pthread_mutex_lock(&fs->lock);
  while (fs->completed < fs->n && mk_now_us() < deadline_us)
    mk_lab_cond_wait_until(&fs->changed, &fs->lock, deadline_us);
  bool all = fs->completed >= fs->n;
  pthread_mutex_unlock(&fs->lock);
  return all ? 0 : MK_ERR__TIMED_OUT;
}

/* The two timings of fates [from, to), in ms, as figures of `row`: inside send(), and from
 * send()'s return to the callback (records whose callback ran inside send() have none). */
static void report_timings(struct mk_lab_ctx *ctx, struct fates *fs, int from, int to,
                           const char *row) {
  int n = to - from;
  double *in_send = calloc((size_t)(n > 0 ? n : 1), sizeof *in_send);
  double *to_callback = calloc((size_t)(n > 0 ? n : 1), sizeof *to_callback);
  if (!in_send || !to_callback) {
    free(in_send);
    free(to_callback);
    return;
  }
  size_t ns = 0, nc = 0;
  int failed = 0;
  pthread_mutex_lock(&fs->lock);
  for (int i = from; i < to; i++) {
    const struct fate *f = &fs->v[i];
    in_send[ns++] = (double)(f->returned_us - f->called_us) / 1000.0;
    if (f->callbacks && !f->in_send)
      to_callback[nc++] = (double)(f->done_us - f->returned_us) / 1000.0;
    failed += f->callbacks && f->error != 0;
  }
  pthread_mutex_unlock(&fs->lock);
  mk_lab_figure(ctx, row, "records", n);
  mk_lab_figure(ctx, row, "send() p50 ms", mk_lab_percentile(in_send, ns, 50));
  mk_lab_figure(ctx, row, "send() max ms", mk_lab_percentile(in_send, ns, 100));
  mk_lab_figure(ctx, row, "callback p50 ms", mk_lab_percentile(to_callback, nc, 50));
  mk_lab_figure(ctx, row, "callback max ms", mk_lab_percentile(to_callback, nc, 100));
  mk_lab_figure(ctx, row, "failed", failed);
  free(in_send);
  free(to_callback);
}

static const char *const SHOWN[] = {"max.block.ms",
                                    "delivery.timeout.ms",
                                    "request.timeout.ms",
                                    "linger.ms",
                                    "buffer.memory",
                                    "batch.size",
                                    NULL};

/* A producer from the scenario's settings (kv) and the user's; *cfg_out keeps the config
 * (to read the values in force) when not NULL. */
static int make_producer(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_producer **out,
                         int64_t *max_block_ms, int64_t *delivery_ms, int64_t *linger_ms) {
  struct mk_producer_config *cfg;
  int rc = mk_lab_producer_config(ctx, kv, &cfg);
  if (rc) return rc;
  mk_lab_show_settings(ctx, cfg, SHOWN);
  if (max_block_ms) *max_block_ms = cfg->max_block_ms;
  if (delivery_ms) *delivery_ms = cfg->delivery_timeout_ms;
  if (linger_ms) *linger_ms = cfg->linger_ms;
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, out, &err);
  mk_producer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  return 0;
}

/* ---- part 1: the two timings ----------------------------------------------------------- */

static int two_timings(struct mk_lab_ctx *ctx, int records) {
  mk_lab_heading(ctx, "1. The two timings of a send, on a healthy cluster");
  mk_lab_say(ctx,
             "Note 000 (\"메시지 전달 시간 설정\") splits a send in two: the time inside send(),\n"
             "and the time from send()'s return to its callback. %d records, sent back to back\n"
             "to topic \"timeouts\" (3 partitions x 3 replicas), Kafka's defaults.",
             records);
  int rc = mk_lab_create_topic(ctx, "timeouts", 3, 3);
  struct mk_producer *p = NULL;
  int64_t linger_ms = 0;
  if (!rc) rc = make_producer(ctx, NULL, &p, NULL, NULL, &linger_ms);
  if (rc) return rc;
  mk_lab_predict(ctx,
                 "how long does send() take, and how long until the callback? Which of the two\n"
                 "         does linger.ms (%lld ms) belong to? Is the first send() like the others?",
                 (long long)linger_ms);
  struct fates *fs = fates_new(records);
  if (!fs) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int i = 0; i < records; i++) {
    char key[24], value[32];
    snprintf(key, sizeof key, "k-%d", i);
    snprintf(value, sizeof value, "healthy-%d", i);
    send_timed(fs, p, mk_lab_topic(ctx, "timeouts"), key, value);
  }
  rc = fates_wait(fs, 30000);
  mk_producer_close(p, 5000);
  if (rc) {
    fates_free(fs);
    return mk_lab_fail(ctx, rc, "part 1: the sends did not complete within 30 s");
  }
  double first_ms = (double)(fs->v[0].returned_us - fs->v[0].called_us) / 1000.0;
  report_timings(ctx, fs, 1, records, "healthy"); /* the first one is special: below */
  fates_free(fs);
  mk_lab_figure(ctx, "healthy", "first send() ms", first_ms);
  double send_p50 = mk_lab_value(ctx, "healthy", "send() p50 ms");
  double cb_p50 = mk_lab_value(ctx, "healthy", "callback p50 ms");
  mk_lab_say(ctx,
             "  the first send():            %8.3f ms (it waited for the topic's metadata)\n"
             "  send(), the others, p50:     %8.3f ms (serialize, partition, append: no network)\n"
             "  send() return -> callback:   %8.3f ms p50 (linger.ms, the request, the followers)",
             first_ms, send_p50, cb_p50);
  mk_lab_claim(ctx, send_p50 < cb_p50,
               "send() returned long before the callback (p50 %.3f ms vs %.3f ms): it only puts\n"
               "    the record in a batch; the Sender thread does the rest",
               send_p50, cb_p50);
  return 0;
}

/* ---- part 2: the buffer fills up: max.block.ms ----------------------------------------- */

static int buffer_full(struct mk_lab_ctx *ctx, int64_t block_ms, int64_t delay_ms) {
  static const char *const TOPIC = "timeouts-slow";
  mk_lab_heading(ctx, "2. A slow broker fills the buffer: max.block.ms");
  mk_lab_say(
      ctx,
      "Topic \"%s\" (1 partition). Its leader holds its answers to the first five Produce\n"
      "requests for %lld ms (a `delay` fault). The producer has buffer.memory=8192 and\n"
      "batch.size=1024: room for 8 batches. Five are on the wire (max.in.flight=5), waiting\n"
      "for their answers, and hold their memory until then (note 000, section 8).",
      TOPIC, (long long)delay_ms);
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  if (rc) return rc;
  char block[48];
  snprintf(block, sizeof block, "max.block.ms=%lld", (long long)block_ms);
  const char *kv[] = {"buffer.memory=8192", "batch.size=1024", block, NULL};
  struct mk_producer *p = NULL;
  int64_t max_block_ms = block_ms;
  if ((rc = make_producer(ctx, kv, &p, &max_block_ms, NULL, NULL))) return rc;
  enum { MAX_SENDS = 5000 };
  struct fates *fs = fates_new(MAX_SENDS);
  if (!fs) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  /* A first record, answered at once: the producer learns the leader and gets its producer
   * id, and later batches may be pipelined (this producer sends a new producer id's first
   * batch to a partition alone). */
  send_timed(fs, p, mk_lab_topic(ctx, TOPIC), NULL, "warm-up");
  rc = fates_wait(fs, 30000);
  if (!rc && fs->v[0].error) rc = fs->v[0].error;
  if (!rc)
    rc = mk_lab_fault(ctx,
                      "{\"action\": \"delay\", \"api\": \"Produce\", \"topic\": \"%s\", "
                      "\"ms\": %lld, \"count\": 5}",
                      TOPIC, (long long)delay_ms);
  if (rc) {
    mk_producer_close(p, 0);
    fates_free(fs);
    return mk_lab_fail(ctx, rc, "part 2: the warm-up record failed");
  }
  mk_lab_predict(ctx,
                 "records of 100 bytes, sent as fast as possible: when the buffer is full, what\n"
                 "         does send() do? For how long? What does the caller get at the end?");
  char value[101];
  memset(value, 'v', 100);
  value[100] = 0;
  size_t mark = mk_lab_mark(ctx);
  struct fate *blocked = NULL;
  /* The one that had to wait for memory: it failed, or took a good part of the wait it could
   * have had (max.block.ms, or less when the slow answers come back sooner). */
  int64_t long_wait_ms = (delay_ms < max_block_ms ? delay_ms : max_block_ms) / 2;
  for (int i = 0; i < MAX_SENDS && !blocked; i++) {
    struct fate *f = send_timed(fs, p, mk_lab_topic(ctx, TOPIC), NULL, value);
    if (!f) break;  /* MAX_SENDS sends and none waited: reported below */
    if (f->rc || (f->returned_us - f->called_us) / 1000 >= long_wait_ms) blocked = f;
  }
  int accepted = fs->n - 1 - (blocked ? 1 : 0); /* the warm-up is not counted */
  rc = fates_wait(fs, 3 * delay_ms + 30000);
  mk_producer_close(p, 5000);
  if (rc || !blocked) {
    fates_free(fs);
    return mk_lab_fail(
        ctx, rc ? rc : MK_ERR__STATE,
        rc ? "part 2: the sends did not complete" : "part 2: %d sends and the buffer never filled",
        MAX_SENDS);
  }
  mk_lab_sleep_ms(20);
  mk_lab_timeline(ctx, mark, "The buffer fills; one send() blocks:");

  double blocked_ms = (double)(blocked->returned_us - blocked->called_us) / 1000.0;
  int16_t error = blocked->callbacks ? blocked->error : -1;
  mk_lab_say(
      ctx,
      "\n  %d records were accepted in microseconds each; then send() #%d blocked for %.0f ms\n"
      "  and %s%s",
      accepted, accepted + 1, blocked_ms,
      blocked->rc ? "failed:\n    " : "succeeded once the first answers freed memory",
      blocked->rc ? blocked->msg : "");
  report_timings(ctx, fs, 1, 1 + accepted, "broker slow");
  mk_lab_figure(ctx, "broker slow", "blocked send() ms", blocked_ms);
  mk_lab_figure(ctx, "broker slow", "blocked error", error);
  mk_lab_figure(ctx, "broker slow", "blocked callbacks", blocked->callbacks);
  mk_lab_figure(ctx, "broker slow", "callback on caller's thread", blocked->in_send);
  mk_lab_figure(ctx, "broker slow", "max.block.ms", (double)max_block_ms);
  bool expect_timeout = delay_ms > max_block_ms;
  if (expect_timeout) {
    mk_lab_claim(ctx,
                 blocked->rc == MK_ERR_REQUEST_TIMED_OUT && error == MK_ERR_REQUEST_TIMED_OUT &&
                     blocked_ms >= 0.9 * (double)max_block_ms &&
                     blocked_ms <= (double)max_block_ms * 1.5 + 500,
                 "send() blocked %.0f ms (max.block.ms=%lld), then failed with %s", blocked_ms,
                 (long long)max_block_ms, error >= 0 ? mk_err_name(error) : "no callback");
    mk_lab_claim(ctx, blocked->callbacks == 1 && blocked->in_send,
                 "its callback ran once, on the caller's thread, before send() returned");
    mk_lab_note(ctx,
                "  Note 000 lists TimeoutException (\"버퍼가 가득참\") among the exceptions send()\n"
                "  throws. Java's send() does not throw it: it blocks max.block.ms, then returns a\n"
                "  failed future and calls the callback, as here.");
  } else {
    mk_lab_claim(ctx, blocked->rc == 0 && blocked_ms < (double)max_block_ms,
                 "send() blocked %.0f ms, until the slow answers freed memory (delay_ms %lld <\n"
                 "    max.block.ms %lld), and then succeeded",
                 blocked_ms, (long long)delay_ms, (long long)max_block_ms);
  }
  fates_free(fs);
  return 0;
}

/* ---- part 3: every broker down: delivery.timeout.ms ------------------------------------ */

static int brokers_down(struct mk_lab_ctx *ctx, int64_t block_ms, int64_t delivery, int records) {
  static const char *const TOPIC = "timeouts-down";
  mk_lab_heading(ctx, "3. Every broker down: delivery.timeout.ms");
  int rc = mk_lab_broker_start(ctx, NULL); /* a fresh cluster: only this part's topic */
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, 3, 3);
  if (rc) return rc;
  int32_t ids[MK_MAX_BROKERS];
  int brokers = mk_lab_broker_ids(ctx, ids, MK_MAX_BROKERS);
  char block[48], dt[48], rt[48];
  snprintf(block, sizeof block, "max.block.ms=%lld", (long long)block_ms);
  snprintf(dt, sizeof dt, "delivery.timeout.ms=%lld", (long long)delivery);
  /* delivery.timeout.ms must be at least linger.ms + request.timeout.ms (Kafka's rule). */
  snprintf(rt, sizeof rt, "request.timeout.ms=%lld", (long long)(delivery / 2));
  const char *kv[] = {block, dt, rt, NULL};
  struct mk_err refused = {0};
  if (mk_lab_producer_config_check(ctx, kv, &refused)) {
    /* Your --set made a combination Kafka refuses (linger.ms=3000 with the lab's
     * delivery.timeout.ms): its rule is worth more than the part it stops. */
    mk_lab_say(ctx,
               "The producer refuses these settings, as Kafka's does:\n  \"%s\"\n"
               "A record may wait linger.ms in its batch and must then get at least one attempt\n"
               "of request.timeout.ms: a delivery.timeout.ms shorter than the two together would\n"
               "expire records that never had a fair try. (Kafka lowers neither for you; when\n"
               "delivery.timeout.ms is left at its default, it raises it to the sum instead.)",
               refused.msg);
    mk_lab_claim(ctx, strstr(refused.msg, "delivery.timeout.ms") != NULL,
                 "Kafka's rule: delivery.timeout.ms >= linger.ms + request.timeout.ms, checked\n"
                 "    when the producer is created, so this part cannot run as set");
    return 0;
  }
  mk_lab_say(
      ctx,
      "A fresh cluster, topic \"%s\" (3 partitions). One record goes through, so the\n"
      "producer knows the topic's leaders; then all %d brokers go down (`broker_down`), and\n"
      "%d records are sent.",
      TOPIC, brokers, records);
  struct mk_producer *p = NULL;
  int64_t delivery_ms = delivery;
  if ((rc = make_producer(ctx, kv, &p, NULL, &delivery_ms, NULL))) return rc;
  struct fates *fs = fates_new(records + 1);
  if (!fs) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  send_timed(fs, p, mk_lab_topic(ctx, TOPIC), "warm-up", "warm-up");
  rc = fates_wait(fs, 30000);
  if (!rc && fs->v[0].error) rc = fs->v[0].error;
  if (rc) {
    mk_producer_close(p, 0);
    fates_free(fs);
    return mk_lab_fail(ctx, rc, "part 3: the warm-up record failed");
  }
  size_t mark = mk_lab_mark(ctx);
  for (int b = 0; !rc && b < brokers; b++)
    rc = mk_lab_fault(ctx, "{\"action\": \"broker_down\", \"broker\": %d}", ids[b]);
  if (rc) {
    mk_producer_close(p, 0);
    fates_free(fs);
    return rc;
  }
  mk_lab_predict(ctx,
                 "does send() block now? When does each callback run, and with which error? Does\n"
                 "         any record get its callback twice, or never?");
  for (int i = 0; i < records; i++) {
    char key[24], value[32];
    snprintf(key, sizeof key, "k-%d", i);
    snprintf(value, sizeof value, "down-%d", i);
    send_timed(fs, p, mk_lab_topic(ctx, TOPIC), key, value);
  }
  rc = fates_wait(fs, delivery_ms + 30000);
  mk_lab_sleep_ms(300); /* time for a second callback, if there were to be one */
  mk_producer_close(p, 5000);
  if (rc) {
    fates_free(fs);
    return mk_lab_fail(ctx, rc, "part 3: the records were not completed within %lld ms",
                       (long long)(delivery_ms + 30000));
  }
  mk_lab_timeline(ctx, mark, "Every broker down; the records wait, then expire:");

  int callbacks = 0, most = 0, timeouts = 0, failed = 0;
  const char *example = "";
  for (int i = 1; i <= records; i++) {
    const struct fate *f = &fs->v[i];
    callbacks += f->callbacks;
    if (f->callbacks > most) most = f->callbacks;
    failed += f->error != 0;
    timeouts += f->error == MK_ERR_REQUEST_TIMED_OUT;
    if (f->error && !example[0]) example = f->msg;
  }
  report_timings(ctx, fs, 1, records + 1, "brokers down");
  mk_lab_figure(ctx, "brokers down", "callbacks", callbacks);
  mk_lab_figure(ctx, "brokers down", "most callbacks for one record", most);
  mk_lab_figure(ctx, "brokers down", "timeouts", timeouts);
  mk_lab_figure(ctx, "brokers down", "delivery.timeout.ms", (double)delivery_ms);
  double cb_min = 1e18, cb_max = 0;
  for (int i = 1; i <= records; i++) {
    double ms = (double)(fs->v[i].done_us - fs->v[i].called_us) / 1000.0;
    if (ms < cb_min) cb_min = ms;
    if (ms > cb_max) cb_max = ms;
  }
  mk_lab_say(ctx,
             "\n  every send() returned at once (max %.3f ms); the callbacks came %.0f to %.0f ms\n"
             "  after send(), with:\n    %s",
             mk_lab_value(ctx, "brokers down", "send() max ms"), cb_min, cb_max, example);
  mk_lab_claim(ctx, failed == records && timeouts == records,
               "all %d records failed with REQUEST_TIMED_OUT (Java's TimeoutException): %d did",
               records, timeouts);
  mk_lab_claim(ctx, callbacks == records && most == 1,
               "exactly %d callbacks, one per record (%d in all, at most %d for one record)",
               records, callbacks, most);
  mk_lab_claim(ctx, cb_min >= 0.95 * (double)delivery_ms && cb_max <= (double)delivery_ms + 1500,
               "each failed %.0f-%.0f ms after send(): delivery.timeout.ms (%lld) bounds the\n"
               "    second timing, as max.block.ms bounds the first",
               cb_min, cb_max, (long long)delivery_ms);
  fates_free(fs);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int64_t block_ms = mk_lab_param(ctx, "block_ms"), delay_ms = mk_lab_param(ctx, "delay_ms");
  int64_t delivery = mk_lab_param(ctx, "delivery_ms");
  int down = (int)mk_lab_param(ctx, "down_records");
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = two_timings(ctx, records);
  if (!rc) rc = buffer_full(ctx, block_ms, delay_ms);
  if (!rc) rc = brokers_down(ctx, block_ms, delivery, down);
  if (rc) return rc;
  static const char *const rows[] = {"healthy", "broker slow", "brokers down", NULL};
  static const char *const cols[] = {
      "records", "send() p50 ms", "send() max ms", "callback p50 ms", "callback max ms", "failed",
      NULL};
  mk_lab_table(ctx, "The two timings (ms; callback = from send()'s return to the callback):", rows,
               cols);
  mk_lab_say(
      ctx,
      "\nmax.block.ms bounds the first timing (metadata, buffer memory); delivery.timeout.ms\n"
      "bounds the second (linger.ms, every attempt, every backoff). Watching both (note 000,\n"
      "Key Takeaway) tells a full buffer from a slow or absent cluster.");
  return 0;
}

const struct mk_lab mk_lab_timeouts = {
    "timeouts",
    "the two timings of send(): max.block.ms when the buffer is full, delivery.timeout.ms when "
    "brokers are down",
    params,
    run,
};
