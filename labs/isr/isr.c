/*
 * Lab 10, isr: replication factor, the ISR, min.insync.replicas, and what acks=all promises
 * when followers stop copying.
 * Guide: labs/isr/README.md. Notes: 002 (the acks row: "하나의 팔로워가 있는 한"; topic creation
 * with --replication-factor 3), 004 (the acks table: "acks=all: 모든 ISR 복제 완료 시 성공").
 *
 * One partition, three replicas (a leader and two followers), min.insync.replicas=2 and a
 * short replica.lag.time.max.ms (lag_ms). Two producers, acks=all and acks=1, both with
 * retries=0 so a refusal reaches the callback at once instead of being retried until
 * delivery.timeout.ms. Four steps:
 *   healthy             ISR of 3: both producers succeed
 *   1 follower paused   (follower_pause) an acks=all record waits until the paused follower
 *                       has been behind for lag_ms and leaves the ISR; then it succeeds: ISR 2
 *   2 followers paused  the other one leaves too: ISR 1 < min.insync.replicas. acks=all is
 *                       refused with NOT_ENOUGH_REPLICAS (nothing appended); acks=1 succeeds,
 *                       on one broker only
 *   resumed             (follower_resume) the followers catch up and rejoin the ISR at once;
 *                       acks=all succeeds again
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "5", "records each producer sends in each step", 1, 4096},
    {"lag_ms", "1000", "replica.lag.time.max.ms: how long a follower may fall behind", 100, 10000},
    {NULL, NULL, NULL},
};

static const char *const TOPIC = "isr";

struct isr_run {
  struct mk_lab_ctx *ctx;
  struct mk_producer *all, *one; /* acks=all and acks=1 */
  int records;
  int64_t lag_ms;
  int32_t leader, followers[2];
  /* The settings in force (the user's --set win over the lab's), for the sentences. */
  int32_t min_insync;           /* the broker's min.insync.replicas */
  int64_t all_retries;          /* the acks=all producer's retries */
  int64_t all_delivery_ms;      /* and its delivery.timeout.ms */
};

/* The partition's ISR now, as "[0,1,2]", and its size. */
static int isr_now(struct isr_run *r, char *text, size_t size) {
  struct mk_partition_state st;
  if (mk_lab_partition_state(r->ctx, TOPIC, 0, &st)) return -1;
  int n = 0;
  size_t len = (size_t)snprintf(text, size, "[");
  for (int i = 0; i < st.nreplicas; i++)
    if (st.replicas[i].in_isr) {
      len += (size_t)snprintf(text + len, len < size ? size - len : 0, "%s%d", n ? "," : "",
                              st.replicas[i].broker);
      n++;
    }
  if (len < size) snprintf(text + len, size - len, "]");
  return n;
}

/* Send `records` records with p (value prefix `what`), wait for all; report them in row
 * under column prefix col ("acks=all" / "acks=1"). Returns 0 or a lab failure. */
static int send_batch(struct isr_run *r, struct mk_producer *p, const char *row, const char *col,
                      const char *what) {
  struct mk_lab_sends *s = mk_lab_sends_new(r->records);
  if (!s) return mk_lab_fail(r->ctx, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < r->records; i++) {
    char value[48];
    snprintf(value, sizeof value, "%s-%d", what, i);
    mk_lab_send(r->ctx, p, s, TOPIC, 0, NULL, value);
  }
  int rc = mk_lab_sends_wait(s, 30000 + 10 * r->lag_ms);
  int ok = 0, enough = 0, timed_out = 0;
  double ms[4096];
  size_t nms = 0;
  int16_t first_error = 0;
  for (int i = 0; i < s->n; i++) {
    struct mk_lab_send e = mk_lab_sends_get(s, i);
    if (!e.done) continue;
    if (e.error == 0) ok++;
    if (e.error == MK_ERR_NOT_ENOUGH_REPLICAS) enough++;
    if (e.error == MK_ERR_REQUEST_TIMED_OUT) timed_out++;
    if (e.error && !first_error) first_error = e.error;
    if (nms < sizeof ms / sizeof ms[0]) ms[nms++] = (double)(e.done_us - e.sent_us) / 1000.0;
  }
  int n = s->n;
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(r->ctx, rc, "%s: %s sends did not complete", row, col);
  char column[48];
  snprintf(column, sizeof column, "%s ok", col);
  mk_lab_figure(r->ctx, row, column, ok);
  snprintf(column, sizeof column, "%s errors", col);
  mk_lab_figure(r->ctx, row, column, n - ok);
  snprintf(column, sizeof column, "%s ms", col);
  mk_lab_figure(r->ctx, row, column, mk_lab_percentile(ms, nms, 50));
  if (strcmp(col, "acks=all") == 0) {
    mk_lab_figure(r->ctx, row, "NOT_ENOUGH_REPLICAS", enough);
    mk_lab_figure(r->ctx, row, "timed out", timed_out);
  }
  mk_lab_say(r->ctx, "  %-8s %d of %d acknowledged%s%s (p50 %.1f ms)", col, ok, n,
             first_error ? ", the others: " : "", first_error ? mk_err_name(first_error) : "",
             mk_lab_percentile(ms, nms, 50));
  return 0;
}

static int report_isr(struct isr_run *r, const char *row) {
  char isr[64];
  int n = isr_now(r, isr, sizeof isr);
  if (n < 0) return mk_lab_fail(r->ctx, MK_ERR__STATE, "cannot read the partition's state");
  mk_lab_figure(r->ctx, row, "ISR size", n);
  mk_lab_say(r->ctx, "  ISR %s (leader %d)", isr, r->leader);
  return 0;
}

static int pause_follower(struct isr_run *r, int32_t broker, bool pause) {
  return mk_lab_fault(r->ctx,
                      "{\"action\": \"%s\", \"topic\": \"%s\", \"partition\": 0, \"broker\": %d}",
                      pause ? "follower_pause" : "follower_resume", TOPIC, broker);
}

/* The ts_us of the first event matching after `from`, or -1. */
static int64_t first_ts(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event) {
  json_t *evs = mk_lab_events(ctx, from, side, event, TOPIC);
  int64_t ts = json_array_size(evs)
                   ? json_integer_value(json_object_get(json_array_get(evs, 0), "ts_us"))
                   : -1;
  json_decref(evs);
  return ts;
}

static int step_healthy(struct isr_run *r) {
  mk_lab_heading(r->ctx, "1. Healthy: three replicas in sync");
  int rc = report_isr(r, "healthy");
  if (!rc) rc = send_batch(r, r->all, "healthy", "acks=all", "healthy-all");
  if (!rc) rc = send_batch(r, r->one, "healthy", "acks=1", "healthy-one");
  return rc;
}

static int step_one_paused(struct isr_run *r) {
  mk_lab_heading(r->ctx, "2. One follower stops copying");
  mk_lab_say(r->ctx,
             "Follower %d is paused (`follower_pause`): it stays in the ISR until it has missed a\n"
             "batch for longer than replica.lag.time.max.ms (%lld ms).",
             r->followers[0], (long long)r->lag_ms);
  mk_lab_predict(r->ctx,
                 "one acks=all record now: refused, acknowledged at once, or acknowledged later?\n"
                 "         When, and why?");
  int rc = pause_follower(r, r->followers[0], true);
  if (rc) return rc;
  size_t mark = mk_lab_mark(r->ctx);
  struct mk_lab_sends *s = mk_lab_sends_new(1);
  if (!s) return mk_lab_fail(r->ctx, MK_ERR__NO_MEMORY, "out of memory");
  mk_lab_send(r->ctx, r->all, s, TOPIC, 0, NULL, "waits-for-the-isr");
  rc = mk_lab_sends_wait(s, 30000 + 10 * r->lag_ms);
  struct mk_lab_send e = mk_lab_sends_get(s, 0);
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(r->ctx, rc, "step 2: the acks=all record did not complete");
  mk_lab_sleep_ms(20);
  mk_lab_timeline(r->ctx, mark, "An acks=all record while a follower is paused:");
  double waited = (double)(e.done_us - e.sent_us) / 1000.0;
  mk_lab_say(r->ctx, "  the record was %s after %.0f ms",
             e.error ? mk_err_name(e.error) : "acknowledged", waited);
  mk_lab_figure(r->ctx, "1 follower paused", "acks=all ms", waited);
  mk_lab_figure(r->ctx, "1 follower paused", "acks=all ok", e.error == 0);
  mk_lab_figure(r->ctx, "1 follower paused", "acks=all errors", e.error != 0);
  rc = report_isr(r, "1 follower paused");
  if (rc) return rc;
  mk_lab_claim(
      r->ctx,
      e.error == 0 && waited >= 0.9 * (double)r->lag_ms &&
          mk_lab_value(r->ctx, "1 follower paused", "ISR size") == 2,
      "acks=all waited %.0f ms (>= replica.lag.time.max.ms %lld): the leader answers once\n"
      "    the ISR has the record, and the paused follower had to leave the ISR first",
      waited, (long long)r->lag_ms);
  return 0;
}

static int step_two_paused(struct isr_run *r) {
  mk_lab_heading(r->ctx, "3. The other follower stops too: ISR 1 %s min.insync.replicas %d",
                 r->min_insync > 1 ? "<" : ">=", r->min_insync);
  size_t mark = mk_lab_mark(r->ctx), start_mark = mark;
  int rc = pause_follower(r, r->followers[1], true);
  if (rc) return rc;
  mk_lab_say(r->ctx,
             "Follower %d is paused as well. One acks=1 record (acknowledged at once) gives it\n"
             "a batch to miss; the leader checks its followers every %lld ms.",
             r->followers[1], (long long)(r->lag_ms / 2));
  struct mk_lab_sends *s = mk_lab_sends_new(1);
  if (!s) return mk_lab_fail(r->ctx, MK_ERR__NO_MEMORY, "out of memory");
  int64_t start = mk_now_us();
  mk_lab_send(r->ctx, r->one, s, TOPIC, 0, NULL, "missed-by-the-follower");
  rc = mk_lab_sends_wait(s, 30000);
  mk_lab_sends_free(s);
  if (!rc) rc = mk_lab_wait_event(r->ctx, mark, "broker", "isr_shrink", TOPIC, 10 * r->lag_ms);
  if (rc)
    return mk_lab_fail(r->ctx, rc, "step 3: the ISR did not shrink within %lld ms",
                       (long long)(10 * r->lag_ms));
  int64_t shrunk = first_ts(r->ctx, mark, "broker", "isr_shrink");
  double shrink_ms = (double)(shrunk - start) / 1000.0;
  rc = report_isr(r, "2 followers paused");
  if (rc) return rc;
  mk_lab_figure(r->ctx, "2 followers paused", "shrink ms", shrink_ms);
  double isr = mk_lab_value(r->ctx, "2 followers paused", "ISR size");
  mk_lab_claim(r->ctx, isr == 1 && shrink_ms <= 3.0 * (double)r->lag_ms,
               "the ISR shrank to the leader alone %.0f ms after the follower missed a batch\n"
               "    (replica.lag.time.max.ms=%lld; at most 3x that)",
               shrink_ms, (long long)r->lag_ms);

  mk_lab_predict(r->ctx, "%d records with acks=all, then %d with acks=1: which are acknowledged?",
                 r->records, r->records);
  mark = mk_lab_mark(r->ctx);
  rc = send_batch(r, r->all, "2 followers paused", "acks=all", "refused");
  mk_lab_sleep_ms(20);
  int appended_all = mk_lab_count(r->ctx, mark, "broker", "append", TOPIC);
  if (!rc) rc = send_batch(r, r->one, "2 followers paused", "acks=1", "one-copy");
  if (rc) return rc;
  static const char *const focus[] = {"producer:request_sent", NULL};
  mk_lab_timeline_focus(
      r->ctx, start_mark,
      "Follower paused, a batch missed, the ISR shrinks; then acks=all and acks=1:", focus);
  mk_lab_figure(r->ctx, "2 followers paused", "acks=all appended", appended_all);
  int retried = mk_lab_count(r->ctx, mark, "producer", "retry", TOPIC);
  double refused = mk_lab_value(r->ctx, "2 followers paused", "NOT_ENOUGH_REPLICAS");
  double timed_out = mk_lab_value(r->ctx, "2 followers paused", "timed out");
  double all_ok = mk_lab_value(r->ctx, "2 followers paused", "acks=all ok");
  double one_errors = mk_lab_value(r->ctx, "2 followers paused", "acks=1 errors");
  if (r->min_insync <= 1)
    mk_lab_claim(r->ctx, all_ok == r->records,
                 "acks=all: all %d acknowledged (%.0f), on the leader alone: the ISR of 1 is\n"
                 "    enough for min.insync.replicas=%d",
                 r->records, all_ok, r->min_insync);
  else if (r->all_retries == 0)
    mk_lab_claim(r->ctx, refused == r->records && appended_all == 0,
                 "acks=all: all %d refused with NOT_ENOUGH_REPLICAS (%.0f), nothing appended",
                 r->records, refused);
  else
    mk_lab_claim(r->ctx, timed_out == r->records && appended_all == 0 && retried > 0,
                 "acks=all: all %d retried NOT_ENOUGH_REPLICAS until delivery.timeout.ms (%lld ms)\n"
                 "    ran out, then failed with REQUEST_TIMED_OUT (%.0f): the callback never saw\n"
                 "    the cause; nothing appended",
                 r->records, (long long)r->all_delivery_ms, timed_out);
  mk_lab_claim(r->ctx, one_errors == 0,
               "acks=1: all %d acknowledged, each on one broker only (%.0f errors)", r->records,
               one_errors);
  if (r->min_insync > 1)
    mk_lab_note(r->ctx,
                "  Note 002 says acks=all loses nothing \"as long as one follower remains\": only\n"
                "  with min.insync.replicas >= 2. With Kafka's default of 1, acks=all would have\n"
                "  been acknowledged here too, on the leader alone (--set min.insync.replicas=1).");
  else
    mk_lab_note(r->ctx,
                "  Note 002 says acks=all loses nothing \"as long as one follower remains\": with\n"
                "  min.insync.replicas=1 (Kafka's default) nothing made one remain. Those records\n"
                "  are on one broker, as acks=1's are.");
  return 0;
}

static int step_resumed(struct isr_run *r) {
  mk_lab_heading(r->ctx, "4. Both followers resume");
  size_t mark = mk_lab_mark(r->ctx);
  int rc = pause_follower(r, r->followers[0], false);
  if (!rc) rc = pause_follower(r, r->followers[1], false);
  if (rc) return rc;
  mk_lab_sleep_ms(20);
  mk_lab_timeline(r->ctx, mark, "The followers catch up and rejoin the ISR:");
  rc = report_isr(r, "resumed");
  if (!rc) rc = send_batch(r, r->all, "resumed", "acks=all", "back");
  if (!rc) rc = send_batch(r, r->one, "resumed", "acks=1", "back-one");
  if (rc) return rc;
  mk_lab_claim(r->ctx,
               mk_lab_value(r->ctx, "resumed", "ISR size") == 3 &&
                   mk_lab_value(r->ctx, "resumed", "acks=all errors") == 0,
               "the followers rejoined the ISR (%.0f replicas) and acks=all succeeds again",
               mk_lab_value(r->ctx, "resumed", "ISR size"));
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  struct isr_run r = {.ctx = ctx};
  r.records = (int)mk_lab_param(ctx, "records");
  r.lag_ms = mk_lab_param(ctx, "lag_ms");
  char lag[64];
  snprintf(lag, sizeof lag, "replica.lag.time.max.ms=%lld", (long long)r.lag_ms);
  const char *broker_kv[] = {"min.insync.replicas=2", lag, NULL};
  int rc = mk_lab_broker_start(ctx, broker_kv);
  if (rc) return rc;
  const struct mk_broker_config *bc = mk_broker_config(mk_lab_broker(ctx));
  r.min_insync = bc->min_insync_replicas;
  r.lag_ms = bc->replica_lag_time_max_ms;  /* a --set replica.lag.time.max.ms wins */
  mk_lab_heading(ctx, "Replication factor 3, min.insync.replicas %d, followers that stop",
                 r.min_insync);
  mk_lab_say(
      ctx,
      "Topic \"%s\": 1 partition, 3 replicas (kafka-topics.sh --create --topic %s\n"
      "--partitions 1 --replication-factor 3, note 002). Broker settings: min.insync.replicas=%d,\n"
      "replica.lag.time.max.ms=%lld (Kafka's default is 30000).",
      TOPIC, TOPIC, r.min_insync, (long long)r.lag_ms);
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  struct mk_partition_state st;
  if (!rc) rc = mk_lab_partition_state(ctx, TOPIC, 0, &st);
  if (rc) return rc;
  if (st.nfollowers < 2)
    return mk_lab_fail(ctx, MK_ERR__INVALID_ARG,
                       "the lab needs two followers: replication factor 3 on 3 brokers or more");
  r.leader = st.leader;
  r.followers[0] = st.followers[0];
  r.followers[1] = st.followers[1];
  /* retries=0: a refusal reaches the callback at once (with Kafka's defaults the producer
   * would retry NOT_ENOUGH_REPLICAS, a retriable error, until delivery.timeout.ms). */
  const char *all_kv[] = {"acks=all", "retries=0", "linger.ms=0", NULL};
  const char *one_kv[] = {"acks=1", "retries=0", "linger.ms=0", NULL};
  static const char *const shown[] = {"acks", "retries", "enable.idempotence",
                                      "delivery.timeout.ms", NULL};
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, all_kv, &cfg))) return rc;
  mk_lab_show_settings(ctx, cfg, shown);
  r.all_retries = cfg->retries;
  r.all_delivery_ms = cfg->delivery_timeout_ms;
  mk_producer_config_free(cfg);
  if ((rc = mk_lab_producer_config(ctx, one_kv, &cfg))) return rc;
  mk_lab_show_settings(ctx, cfg, shown);
  mk_producer_config_free(cfg);
  rc = mk_lab_producer_new(ctx, all_kv, &r.all);
  if (!rc) rc = mk_lab_producer_new(ctx, one_kv, &r.one);
  if (!rc) rc = step_healthy(&r);
  if (!rc) rc = step_one_paused(&r);
  if (!rc) rc = step_two_paused(&r);
  if (!rc) rc = step_resumed(&r);
  if (r.all) mk_producer_close(r.all, 5000);
  if (r.one) mk_producer_close(r.one, 5000);
  if (rc) return rc;
  static const char *const rows[] = {"healthy", "1 follower paused", "2 followers paused",
                                     "resumed", NULL};
  static const char *const cols[] = {"ISR size",    "acks=all ok", "acks=all errors",
                                     "acks=all ms", "acks=1 ok",   "acks=1 errors",
                                     NULL};
  mk_lab_table(ctx, "Each step (acks=all ms: p50 from send() to the callback):", rows, cols);
  mk_lab_say(
      ctx,
      "\nacks=all means \"every replica in the ISR has it\", and the ISR can shrink to the\n"
      "leader alone: min.insync.replicas is what turns acks=all into \"on at least 2 brokers\".");
  return 0;
}

const struct mk_lab mk_lab_isr = {
    "isr",
    "replication factor, the ISR and min.insync.replicas: followers that stop, "
    "NOT_ENOUGH_REPLICAS",
    params,
    run,
    "It pauses a follower (follower_pause) and watches it leave the ISR after\n"
    "replica.lag.time.max.ms, then the leader refuse acks=all with NOT_ENOUGH_REPLICAS. A\n"
    "follower's fetching, the ISR and min.insync.replicas live inside the brokers: a proxy in\n"
    "front of a real cluster cannot pause a follower, and sees no ISR change. On a real\n"
    "cluster the proxy can only make the answer look that way: an `error` fault with\n"
    "NOT_ENOUGH_REPLICAS shows what the producer does with it (it retries), not why a\n"
    "broker would say it.",
};
