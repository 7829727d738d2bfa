/*
 * Lab 13, quotas and throttling: a broker that limits how fast a client may produce, and a
 * producer that pauses when it is told to.
 * Guide: labs/quotas/README.md. Notes: 000 section 8 ("쿼터, 스로틀링").
 *
 * Two runs of the same burst, `records` records of `size` bytes sent as fast as possible to
 * a topic with one partition (so one broker takes all of it), then, once every one is
 * acknowledged, one more record: first against a broker with no quota, then against one
 * with quota.producer.default = `quota` bytes/s. Measured: how long the burst and the last
 * record took, what the broker decided (its `throttle` events), and whether the producer
 * kept quiet for every pause it was given (no request to a broker before the throttle time
 * of that broker's last response was up).
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "1200", "records in the burst", 1, 100000},
    {"size", "100", "bytes per record value", 1, 100000},
    {"quota", "10000", "quota.producer.default for the second run, bytes/s", 1, 1000000000},
    {NULL, NULL, NULL},
};

/* What the producer's trace says about the pauses it was given. */
struct pauses {
  bool kept;             /* no request to a broker before its last pause was over */
  int64_t last_wait_ms;  /* the pause still to run when the last record was sent */
};

/* Every request_sent is checked against the throttled responses before it, from the same
 * broker. A pause is counted from the broker's `throttle` event, which comes just before
 * its response, so a busy machine that delays the producer's own event cannot make a
 * request look early; 1 ms of slack because the Sender counts in whole milliseconds.
 * Responses come back in order (one connection per broker), so the n-th throttled response
 * from a broker goes with its n-th throttle event. */
enum { MAX_THROTTLES = 1024 };

static struct pauses read_pauses(struct mk_lab_ctx *ctx, size_t mark) {
  struct pauses r = {true, 0};
  int64_t(*throttled_at_us)[MAX_THROTTLES] = calloc(64, sizeof *throttled_at_us);
  if (!throttled_at_us) return (struct pauses){false, 0};  /* out of memory: nothing shown */
  json_t *evs = mk_lab_events(ctx, mark, NULL, NULL, NULL);
  int decided[64] = {0}, heard[64] = {0};  /* by broker id: throttle events, responses */
  int64_t quiet_until_us[64] = {0};        /* by broker id: the producer's pause */
  int64_t latest_until_us = 0;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *side = json_string_value(json_object_get(ev, "side"));
    const char *event = json_string_value(json_object_get(ev, "event"));
    json_t *broker = json_object_get(ev, "broker");
    int64_t b = json_integer_value(broker);
    int64_t ts = json_integer_value(json_object_get(ev, "ts_us"));
    json_t *throttle = json_object_get(ev, "throttle_time_ms");
    if (!side || !event) continue;
    bool producer = strcmp(side, "producer") == 0;
    if (producer && strcmp(event, "send") == 0) {  /* the last one is the lone record */
      r.last_wait_ms = latest_until_us > ts ? (latest_until_us - ts) / 1000 : 0;
    } else if (!broker || b < 0 || b >= 64) {
      continue;
    } else if (!producer && strcmp(event, "throttle") == 0) {
      if (decided[b] < MAX_THROTTLES) throttled_at_us[b][decided[b]++] = ts;
    } else if (producer && strcmp(event, "response_received") == 0 && throttle) {
      int64_t start = heard[b] < decided[b] ? throttled_at_us[b][heard[b]++] : ts;
      quiet_until_us[b] = start + json_integer_value(throttle) * 1000;
      if (quiet_until_us[b] > latest_until_us) latest_until_us = quiet_until_us[b];
    } else if (producer && strcmp(event, "request_sent") == 0 && ts + 1000 < quiet_until_us[b]) {
      r.kept = false;
    }
  }
  json_decref(evs);
  free(throttled_at_us);
  return r;
}

static int one_run(struct mk_lab_ctx *ctx, const char *row, const char *topic, int64_t quota,
                   int records, int size) {
  char setting[64];
  snprintf(setting, sizeof setting, "quota.producer.default=%lld", (long long)quota);
  const char *broker_kv[] = {setting, NULL};
  int rc = mk_lab_broker_start(ctx, quota > 0 ? broker_kv : NULL);
  if (!rc) rc = mk_lab_create_topic(ctx, topic, 1, 3);
  if (rc) return rc;
  mk_lab_say(ctx, "\n%s:", row);
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, NULL, &p))) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(records + 1);
  char *value = malloc((size_t)size + 1);
  if (!s || !value) {
    free(value);
    mk_lab_sends_free(s);
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  memset(value, 'q', (size_t)size);
  value[size] = '\0';
  size_t mark = mk_lab_mark(ctx);
  int64_t start = mk_now_us();
  int at_once = 0;  /* sends that failed inside send(): no room in buffer.memory in time */
  for (int i = 0; i < records; i++) at_once += mk_lab_send(ctx, p, s, topic, 0, NULL, value) < 0;
  rc = mk_lab_sends_wait(s, 120000);
  int64_t burst_us = mk_now_us() - start;
  start = mk_now_us();
  if (!rc) {
    mk_lab_send(ctx, p, s, topic, 0, NULL, "the last one");
    rc = mk_lab_sends_wait(s, 120000);
  }
  int64_t last_us = mk_now_us() - start;
  double throttle_max = mk_producer_metric(p, "produce-throttle-time-max");
  int failed = s->failed;
  int16_t first_error = 0;
  for (int i = 0; i < s->n && !first_error; i++) first_error = mk_lab_sends_get(s, i).error;
  mk_producer_close(p, 5000);
  mk_lab_sends_free(s);
  free(value);
  mk_lab_sleep_ms(20);
  if (rc) return mk_lab_fail(ctx, rc, "%s: the records did not complete within 120 s", row);
  static const char *const focus[] = {"broker:throttle", "producer:response_received", NULL};
  mk_lab_timeline_focus(ctx, mark, NULL, focus);
  if (at_once)
    mk_lab_say(ctx,
               "  %d send() call(s) failed: with the producer paused, the records filled\n"
               "  buffer.memory, and send() blocked max.block.ms for room, then gave up",
               at_once);
  if (failed > at_once)
    mk_lab_say(ctx, "  %d record(s) failed after send() had accepted them (%s)", failed - at_once,
               mk_err_name(first_error));

  struct pauses pauses = read_pauses(ctx, mark);
  json_t *appends = mk_lab_events(ctx, mark, "broker", "append", topic);
  double bytes = 0;
  size_t i;
  json_t *ev;
  json_array_foreach(appends, i, ev) bytes += (double)json_integer_value(json_object_get(ev, "bytes"));
  json_decref(appends);
  mk_lab_figure(ctx, row, "failed", failed);
  mk_lab_figure(ctx, row, "KB", bytes / 1024.0);
  mk_lab_figure(ctx, row, "burst s", (double)burst_us / 1e6);
  mk_lab_figure(ctx, row, "requests", mk_lab_count(ctx, mark, "producer", "request_sent", topic));
  mk_lab_figure(ctx, row, "throttled", mk_lab_count(ctx, mark, "broker", "throttle", NULL));
  mk_lab_figure(ctx, row, "throttle max ms", throttle_max > 0 ? throttle_max : 0);
  mk_lab_figure(ctx, row, "pause left ms", (double)pauses.last_wait_ms);
  mk_lab_figure(ctx, row, "last record ms", (double)last_us / 1000.0);
  mk_lab_figure(ctx, row, "pauses kept", pauses.kept ? 1 : 0);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records"), size = (int)mk_lab_param(ctx, "size");
  int64_t quota = mk_lab_param(ctx, "quota");
  mk_lab_heading(ctx, "A burst against a produce quota");
  mk_lab_say(ctx,
             "%d records of %d bytes go to one broker as fast as the producer can send them,\n"
             "then one more once they are all acknowledged. First with no quota, then with\n"
             "quota.producer.default=%lld bytes/s. The broker measures a new client's rate over\n"
             "at least 10 seconds, and tells a client above it how long to pause (note 000, 8).",
             records, size, (long long)quota);
  mk_lab_predict(ctx, "with the quota, how long does the burst take? And the one record after it?");
  int rc = one_run(ctx, "no quota", "unlimited", 0, records, size);
  if (rc) return rc;
  /* A new client may send about 10 x quota bytes before its rate, averaged over at least
   * ten 1-second samples, goes above the quota (broker/quota.h). The first run measured
   * the burst's bytes: that says, before the second run, whether it will be throttled. */
  double burst_kb = mk_lab_value(ctx, "no quota", "KB");
  double allowance_kb = 10.0 * (double)quota / 1024.0;
  bool expect_throttle = burst_kb > 1.1 * allowance_kb, expect_none = burst_kb < 0.9 * allowance_kb;
  mk_lab_say(ctx,
             "\nThe burst put %.0f KB on the wire; at %lld B/s a new client may send about 10 x "
             "quota = %.0f KB before its rate counts as above the quota, so %s.",
             burst_kb, (long long)quota, allowance_kb,
             expect_throttle ? "the second run should be throttled"
             : expect_none   ? "the second run should not be throttled at all"
                             : "it is a close call");
  rc = one_run(ctx, "quota", "limited", quota, records, size);
  if (rc) return rc;
  static const char *const rows[] = {"no quota", "quota", NULL};
  static const char *const cols[] = {"KB",        "burst s",         "requests",
                                     "throttled", "throttle max ms", "last record ms",
                                     "failed",    NULL};
  mk_lab_table(ctx, "What happened (throttled: the broker's throttle decisions):", rows, cols);
  static const char *const pause_cols[] = {"pause left ms", "pauses kept", NULL};
  mk_lab_table(ctx,
               "The producer's pauses (pause left: what was left of the last pause when the last\n"
               "record was sent; pauses kept: 1 if it sent that broker nothing until each\n"
               "throttle time was up):",
               rows, pause_cols);
  double free_throttles = mk_lab_value(ctx, "no quota", "throttled");
  double throttled = mk_lab_value(ctx, "quota", "throttled");
  double kept = mk_lab_value(ctx, "quota", "pauses kept");
  double pause_left = mk_lab_value(ctx, "quota", "pause left ms");
  double last_ms = mk_lab_value(ctx, "quota", "last record ms");
  double free_last_ms = mk_lab_value(ctx, "no quota", "last record ms");
  mk_lab_claim(ctx, free_throttles == 0, "without a quota the broker never throttled");
  if (!expect_throttle && !(throttled > 0)) {
    mk_lab_claim(ctx, throttled == 0,
                 "the burst (%.0f KB) stayed within the %.0f KB a new client may send at first:\n"
                 "    the broker throttled nothing",
                 burst_kb, allowance_kb);
  } else {
    const char *close = expect_throttle ? NULL : "the burst was close to 10 x quota bytes";
    mk_lab_claim_unless(
        ctx, throttled > 0 && kept == 1, close,
        "over the quota the broker throttled (%.0f time(s)), and the producer sent it\n"
        "    nothing until each pause was over (KIP-219: the client holds back itself)",
        throttled);
    if (pause_left > 0)
      mk_lab_claim_unless(ctx, throttled > 0 && last_ms >= pause_left - 5, close,
                          "one record sent to an idle broker right after the burst took %.0f ms "
                          "(%.0f ms\n    without the quota): %.0f ms of the last pause were still "
                          "to run",
                          last_ms, free_last_ms, pause_left);
    else
      mk_lab_say(ctx,
                 "  (the burst's last answers carried no pause, or it was over: the one record "
                 "after it took %.0f ms, %.0f ms without the quota)",
                 last_ms, free_last_ms);
  }
  mk_lab_say(ctx,
             "\nA paused producer keeps accepting records into buffer.memory; when the pauses go\n"
             "on longer than the buffer lasts, send() blocks for max.block.ms and then fails\n"
             "(the timeout the note warns about: `minikafka lab timeouts`).");
  return 0;
}

const struct mk_lab mk_lab_quotas = {
    "quotas",
    "quotas and throttling: a burst against a produce quota, and a producer that pauses",
    params,
    run,
    "It sets the broker's quota.producer.default and watches the broker throttle. A real\n"
    "cluster's quotas are its administrator's (kafka-configs.sh --alter --entity-type\n"
    "clients), not a lab's to set; the throttle_time_ms a real broker answers with passes\n"
    "through the proxy unchanged, so with a quota set there, `minikafka perf` through\n"
    "`minikafka proxy` shows the same pauses.",
};
