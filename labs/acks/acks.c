/*
 * Lab 3, acks: what each setting waits for, what it costs, and what survives a leader's death.
 * Guide: labs/acks/README.md. Notes: 000 section 3 ("ack 설정 시나리오", end-to-end latency),
 * 002 (the acks row of the options table), 004 ("전송 보장을 위한 Ack 메커니즘").
 *
 *   part 1  latency: for acks=0, 1 and all, one record at a time to a partition whose two
 *           followers copy each batch lag_ms late (follower_lag). Send latency (send() to
 *           callback) and end-to-end latency (send() to the high watermark passing the
 *           record, when a consumer may read it), from the trace.
 *   part 2  a leader dies: half the records are sent and replicated; the followers then fall
 *           behind (follower_lag); the other half is sent and the leader is stopped
 *           (broker_down) before the followers catch up. A follower takes over. Which
 *           acknowledged records does the new leader have?
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "40", "records per acks setting in part 1, sent one at a time", 1, 10000},
    {"lag_ms", "20", "part 1: how late the followers copy each batch", 1, 10000},
    {"failover_records", "20", "part 2: records per acks setting (half before the followers lag)",
     2, 10000},
    {"failover_lag_ms", "800", "part 2: how far behind the followers copy the second half", 50,
     60000},
    {"crash_after_ms", "160", "part 2: when the leader dies, after the second half is sent", 10,
     60000},
    {NULL, NULL, NULL},
};

static const char *const MODES[] = {"0", "1", "all"};

static int lag_followers(struct mk_lab_ctx *ctx, const char *topic, int64_t ms) {
  struct mk_partition_state st;
  int rc = mk_lab_partition_state(ctx, topic, 0, &st);
  for (int i = 0; !rc && i < st.nfollowers; i++)
    rc = mk_lab_fault(ctx,
                      "{\"action\": \"follower_lag\", \"topic\": \"%s\", \"partition\": 0, "
                      "\"broker\": %d, \"ms\": %lld}",
                      topic, st.followers[i], (long long)ms);
  return rc;
}

/* ---- part 1: latency ------------------------------------------------------------------- */

/* End-to-end latency of each record sent since `mark` to topic, whose offsets start at
 * first_offset: from its producer `send` event to the first `hw_advance` past it. */
static size_t e2e_latencies(struct mk_lab_ctx *ctx, size_t mark, const char *topic,
                            int64_t first_offset, double *out, size_t max) {
  json_t *sends = mk_lab_events(ctx, mark, "producer", "send", topic);
  json_t *hws = mk_lab_events(ctx, mark, "broker", "hw_advance", topic);
  size_t n = 0, i, h = 0;
  json_t *ev;
  json_array_foreach(sends, i, ev) {
    if (n == max) break;
    int64_t offset = first_offset + (int64_t)i;
    while (h < json_array_size(hws) &&
           json_integer_value(json_object_get(json_array_get(hws, h), "high_watermark")) <= offset)
      h++;
    if (h == json_array_size(hws)) break;
    int64_t t_send = json_integer_value(json_object_get(ev, "ts_us"));
    int64_t t_hw = json_integer_value(json_object_get(json_array_get(hws, h), "ts_us"));
    out[n++] = (double)(t_hw - t_send) / 1000.0;
  }
  json_decref(sends);
  json_decref(hws);
  return n;
}

static int latency_one_mode(struct mk_lab_ctx *ctx, const char *mode, int records, int64_t lag_ms) {
  char topic[32], row[16], setting[16];
  snprintf(topic, sizeof topic, "acks-%s", mode);
  snprintf(row, sizeof row, "acks=%s", mode);
  snprintf(setting, sizeof setting, "acks=%s", mode);
  int rc = mk_lab_create_topic(ctx, topic, 1, 3);
  if (!rc) rc = lag_followers(ctx, topic, lag_ms);
  if (rc) return rc;
  const char *kv[] = {setting, "linger.ms=0", NULL};
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, kv, &p))) return rc;

  struct mk_lab_sends *s = mk_lab_sends_new(records + 1);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  mk_lab_send(ctx, p, s, topic, 0, NULL, "warm-up");  /* metadata, producer id: not measured */
  rc = mk_lab_sends_wait(s, 30000);
  size_t mark = mk_lab_mark(ctx);
  for (int i = 0; !rc && i < records; i++) {
    char value[32];
    snprintf(value, sizeof value, "r-%d", i);
    size_t one = mk_lab_mark(ctx);
    mk_lab_send(ctx, p, s, topic, 0, NULL, value);
    rc = mk_lab_sends_wait(s, 30000);
    if (i == 0 && !rc) {  /* the first measured record, drawn: who waits for whom */
      mk_lab_wait_hw(ctx, topic, 0, 2, 5000);
      mk_lab_sleep_ms(5);
      char title[96];
      snprintf(title, sizeof title, "acks=%s, one record (followers %lld ms behind):", mode,
               (long long)lag_ms);
      mk_lab_timeline(ctx, one, title);
    }
    mk_lab_progress(ctx, row, i + 1, records);
  }
  mk_producer_close(p, 5000);
  if (rc) {
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc, "%s: a send did not complete within 30 s", row);
  }
  mk_lab_wait_hw(ctx, topic, 0, records + 1, 5000);
  double *send = calloc((size_t)records, sizeof *send), *e2e = calloc((size_t)records, sizeof *e2e);
  int failed = 0;
  for (int i = 0; send && i < records; i++) {
    const struct mk_lab_send *e = &s->v[i + 1];
    send[i] = (double)(e->done_us - e->sent_us) / 1000.0;
    failed += e->error != 0;
  }
  size_t ne = e2e ? e2e_latencies(ctx, mark, topic, 1, e2e, (size_t)records) : 0;
  mk_lab_sends_free(s);
  if (send) {
    mk_lab_figure(ctx, row, "send p50 ms", mk_lab_percentile(send, (size_t)records, 50));
    mk_lab_figure(ctx, row, "send p99 ms", mk_lab_percentile(send, (size_t)records, 99));
  }
  mk_lab_figure(ctx, row, "e2e p50 ms", mk_lab_percentile(e2e, ne, 50));
  mk_lab_figure(ctx, row, "e2e p99 ms", mk_lab_percentile(e2e, ne, 99));
  mk_lab_figure(ctx, row, "failed", failed);
  free(send);
  free(e2e);
  return 0;
}

static int part_latency(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int64_t lag = mk_lab_param(ctx, "lag_ms");
  mk_lab_heading(ctx, "1. What each acks waits for, and what it costs");
  mk_lab_say(
      ctx,
      "One partition, three replicas; both followers copy each batch %lld ms after the leader\n"
      "appended it (a slow network, say). %d records, one at a time (send, then wait for the\n"
      "callback), with acks=0, acks=1 and acks=all (= -1; note 000's \"acks=2\" does not exist).",
      (long long)lag, records);
  mk_lab_predict(ctx,
                 "which acks waits about %lld ms per record? And how long until a consumer may\n"
                 "         read a record (end-to-end latency) with each?",
                 (long long)lag);
  int rc = mk_lab_broker_start(ctx, NULL);
  for (int m = 0; !rc && m < 3; m++) rc = latency_one_mode(ctx, MODES[m], records, lag);
  if (rc) return rc;
  static const char *const rows[] = {"acks=0", "acks=1", "acks=all", NULL};
  static const char *const cols[] = {"send p50 ms", "send p99 ms", "e2e p50 ms",
                                     "e2e p99 ms",  "failed",      NULL};
  mk_lab_table(ctx, "Latency (ms): send = send() to callback; e2e = send() to the high watermark",
               rows, cols);
  double all = mk_lab_value(ctx, "acks=all", "send p50 ms");
  double one = mk_lab_value(ctx, "acks=1", "send p50 ms");
  /* Your --set wins over the lab's: with acks set, the three rows are the same setting. */
  const char *same = mk_lab_user_set(ctx, "acks")
                         ? "your --set acks made every row the same acks, so they cannot differ"
                         : NULL;
  mk_lab_claim_unless(
      ctx, all >= 0.8 * (double)lag && one < 0.5 * (double)lag, same,
      "acks=all waits for the followers (p50 %.1f ms), acks=1 only for the leader (%.1f ms)", all,
      one);
  double e2e_min = INFINITY;  /* NaN (nothing measured) makes the claim fail */
  for (int m = 0; m < 3; m++) {
    char row[16];
    snprintf(row, sizeof row, "acks=%s", MODES[m]);
    double v = mk_lab_value(ctx, row, "e2e p50 ms");
    e2e_min = isnan(v) || isnan(e2e_min) ? NAN : fmin(e2e_min, v);
  }
  mk_lab_claim(
      ctx, e2e_min >= 0.8 * (double)lag,
      "end-to-end latency is at least the replication time whatever acks is (note 000 is right:\n"
      "    acks changes when the producer hears back, not when a consumer may read)");
  return 0;
}

/* ---- part 2: a leader dies ------------------------------------------------------------- */

/* What part 2's settings make of the crash, for its sentences and claims. */
struct failover_plan {
  int records;
  int64_t lag_ms, crash_ms;      /* followers' lag; the crash, after the second half is sent */
  int64_t lag_time_ms;           /* replica.lag.time.max.ms */
  int32_t min_insync;            /* min.insync.replicas */
  bool unclean;                  /* unclean.leader.election.enable */
};

/* The partition just before the crash: who was in the ISR, and how far behind. */
struct at_crash {
  int isr;               /* replicas in the ISR, the leader included */
  int64_t leader_leo;    /* the leader's log end offset */
  int64_t best_isr_leo;  /* the highest log end offset among the followers in the ISR, or -1 */
};

static struct at_crash observe_crash(const struct mk_partition_state *st) {
  struct at_crash c = {0, -1, -1};
  for (int i = 0; i < st->nreplicas; i++) {
    if (!st->replicas[i].in_isr) continue;
    c.isr++;
    if (st->replicas[i].broker == st->leader)
      c.leader_leo = st->replicas[i].log_end_offset;
    else if (st->replicas[i].log_end_offset > c.best_isr_leo)
      c.best_isr_leo = st->replicas[i].log_end_offset;
  }
  return c;
}

static int failover_one_mode(struct mk_lab_ctx *ctx, const struct failover_plan *plan,
                             const char *mode, bool draw) {
  static const char *const TOPIC = "failover";
  char row[16], setting[16];
  snprintf(row, sizeof row, "acks=%s", mode);
  snprintf(setting, sizeof setting, "acks=%s", mode);
  bool acks0 = strcmp(mode, "0") == 0;
  int records = plan->records;
  int rc = mk_lab_broker_start(ctx, NULL);  /* a fresh cluster for each setting */
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  if (rc) return rc;
  const char *kv[] = {setting, "linger.ms=0", NULL};
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, kv, &p))) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(records);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  char value[32];
  int half = records / 2;

  /* Half the records, replicated everywhere. */
  for (int i = 0; i < half; i++) {
    snprintf(value, sizeof value, "f-%02d", i);
    mk_lab_send(ctx, p, s, TOPIC, 0, NULL, value);
  }
  rc = mk_lab_sends_wait(s, 30000);
  if (!rc) rc = mk_lab_wait_hw(ctx, TOPIC, 0, half, 10000);
  /* The followers fall behind; the other half goes to the leader alone (for now). */
  if (!rc) rc = lag_followers(ctx, TOPIC, plan->lag_ms);
  struct mk_partition_state before;
  if (!rc) rc = mk_lab_partition_state(ctx, TOPIC, 0, &before);
  if (rc) {
    mk_producer_close(p, 0);
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc, "%s: the first half was not replicated", row);
  }
  size_t mark = mk_lab_mark(ctx);
  int64_t second_half_us = mk_now_us();
  for (int i = half; i < records; i++) {
    snprintf(value, sizeof value, "f-%02d", i);
    mk_lab_send(ctx, p, s, TOPIC, 0, NULL, value);
  }
  /* The same moment for every acks: crash_ms after the second half went out. */
  mk_lab_sends_wait(s, plan->crash_ms);
  int64_t left_ms = plan->crash_ms - (mk_now_us() - second_half_us) / 1000;
  if (left_ms > 0) mk_lab_sleep_ms(left_ms);
  int acked_before = mk_lab_sends_succeeded(s);
  struct mk_partition_state crashing;
  rc = mk_lab_partition_state(ctx, TOPIC, 0, &crashing);
  struct at_crash at = observe_crash(&crashing);

  /* The leader dies; an in-sync follower (missing the second half) takes over, if any. */
  if (!rc) rc = mk_lab_fault(ctx, "{\"action\": \"broker_down\", \"broker\": %d}", before.leader);
  int64_t down_us = mk_now_us();
  struct mk_partition_state during = {.leader = -1};
  if (!rc) {
    mk_lab_sleep_ms(5);
    rc = mk_lab_partition_state(ctx, TOPIC, 0, &during);
  }
  /* acks=all: what was not acknowledged is retried to the new leader (with no leader it
   * waits, up to delivery.timeout.ms: the lab waits at most 30 s). */
  if (!rc && during.leader >= 0) mk_lab_sends_wait(s, 30000);
  else if (!rc) mk_lab_sleep_ms(plan->crash_ms);  /* a while without a leader */
  int64_t offline_ms = during.leader >= 0 ? 0 : (mk_now_us() - down_us) / 1000;
  /* The old leader comes back as a follower and truncates what the new leader lacks. */
  if (!rc) rc = mk_lab_fault(ctx, "{\"action\": \"broker_up\", \"broker\": %d}", before.leader);
  if (!rc && during.leader < 0) mk_lab_sends_wait(s, 30000);
  mk_lab_sleep_ms(20);
  struct mk_partition_state after;
  struct mk_stored_records log = {0};
  if (!rc) rc = mk_lab_partition_state(ctx, TOPIC, 0, &after);
  if (!rc) rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log);
  mk_producer_close(p, 2000);
  /* acks=0 learns nothing: "lost" counts the records sent that are missing. */
  int acked = 0, lost = 0;
  for (int i = 0; !rc && i < s->n; i++) {
    if (!s->v[i].done || s->v[i].error) continue;
    acked++;
    snprintf(value, sizeof value, "f-%02d", i);
    if (mk_lab_records_count_value(&log, value) == 0) lost++;
  }
  mk_lab_sends_free(s);
  mk_stored_records_free(&log);
  if (rc) return rc;
  if (draw) {
    char title[160];
    if (during.leader >= 0)
      snprintf(title, sizeof title,
               "acks=%s: the second half, the leader (broker %d) dying, broker %d taking over:",
               mode, before.leader, during.leader);
    else
      snprintf(title, sizeof title,
               "acks=%s: the second half, the leader (broker %d) dying, nobody taking over:", mode,
               before.leader);
    mk_lab_timeline(ctx, mark, title);
  }
  if (acks0)
    mk_lab_say(ctx,
               "  %s: %d sent, none acknowledged (acks=0: the callback only means \"written to\n"
               "  the socket\"); %d of them are missing in the end",
               row, records, lost);
  else
    mk_lab_say(ctx,
               "  %s: %d sent, %d acknowledged before broker %d died, %d in the end;\n"
               "  broker %d, the leader afterwards, lacks %d of the acknowledged ones",
               row, records, acked_before, before.leader, acked, after.leader, lost);
  mk_lab_say(ctx, "  at the crash the ISR held %d of the %d replicas%s", at.isr, crashing.nreplicas,
             at.isr > 1 ? "" : ": the leader alone");
  if (offline_ms > 0)
    mk_lab_say(ctx, "  no replica in the ISR could take over: no leader for %lld ms, until\n"
               "  broker %d came back", (long long)offline_ms, before.leader);
  mk_lab_figure(ctx, row, "sent", records);
  mk_lab_figure(ctx, row, "acked before crash", acks0 ? NAN : acked_before);
  mk_lab_figure(ctx, row, "acked", acks0 ? NAN : acked);
  mk_lab_figure(ctx, row, "lost", lost);
  mk_lab_figure(ctx, row, "ISR at crash", at.isr);
  mk_lab_figure(ctx, row, "no leader ms", (double)offline_ms);
  /* What Kafka's rules make of the state at the crash: a clean leader from the ISR keeps
   * what it had copied; with the ISR down to the leader, nobody (or, unclean, anybody). */
  bool clean_successor = at.isr > 1;
  mk_lab_figure(ctx, row, "successor lacked",
                clean_successor ? (double)(at.leader_leo - at.best_isr_leo) : NAN);
  mk_lab_figure(ctx, row, "unclean", !clean_successor && during.leader >= 0);
  return 0;
}

static int part_failover(struct mk_lab_ctx *ctx) {
  struct failover_plan plan = {
      .records = (int)mk_lab_param(ctx, "failover_records"),
      .lag_ms = mk_lab_param(ctx, "failover_lag_ms"),
      .crash_ms = mk_lab_param(ctx, "crash_after_ms"),
  };
  const struct mk_broker_config *b = mk_broker_config(mk_lab_broker(ctx));
  plan.lag_time_ms = b->replica_lag_time_max_ms;
  plan.min_insync = b->min_insync_replicas;
  plan.unclean = b->unclean_leader_election_enable;
  mk_lab_heading(ctx, "2. A leader dies while its followers lag behind");
  mk_lab_say(ctx,
             "A fresh cluster for each acks. %d records are sent and replicated; then the followers\n"
             "fall %lld ms behind and %d more are sent; %lld ms later the leader dies.",
             plan.records / 2, (long long)plan.lag_ms, plan.records - plan.records / 2,
             (long long)plan.crash_ms);
  if (plan.lag_ms <= plan.crash_ms)
    mk_lab_say(ctx, "The followers copy the second half %lld ms after it was sent: before the "
               "crash.", (long long)plan.lag_ms);
  else if (plan.lag_time_ms < plan.crash_ms)
    mk_lab_say(ctx,
               "replica.lag.time.max.ms is %lld ms: the followers, still behind, may leave the ISR\n"
               "before the crash, and a replica outside the ISR may lead only in an unclean\n"
               "election (unclean.leader.election.enable=%s).",
               (long long)plan.lag_time_ms, plan.unclean ? "true" : "false");
  else
    mk_lab_say(ctx,
               "They are still in the ISR when it happens (replica.lag.time.max.ms is %lld ms), so\n"
               "one of them takes over without the newest records.",
               (long long)plan.lag_time_ms);
  mk_lab_predict(ctx,
                 "with each acks, how many records the producer was told were written are gone?");
  static const char *const order[] = {"1", "all", "0"};
  int rc = 0;
  for (int m = 0; !rc && m < 3; m++) rc = failover_one_mode(ctx, &plan, order[m], m < 2);
  if (rc) return rc;
  static const char *const rows[] = {"acks=0", "acks=1", "acks=all", NULL};
  static const char *const cols[] = {"sent", "acked before crash", "acked", "lost",
                                     "ISR at crash", NULL};
  mk_lab_table(ctx,
               "Records acknowledged, and lost when the leader died (acks=0: nothing is\n"
               "acknowledged, so lost counts the records sent that are missing):",
               rows, cols);
  double lost1 = mk_lab_value(ctx, "acks=1", "lost"),
         lost_all = mk_lab_value(ctx, "acks=all", "lost");
  double acked_all = mk_lab_value(ctx, "acks=all", "acked");
  double lacked1 = mk_lab_value(ctx, "acks=1", "successor lacked");
  bool unclean1 = mk_lab_value(ctx, "acks=1", "unclean") == 1;
  bool unclean_all = mk_lab_value(ctx, "acks=all", "unclean") == 1;
  double isr_all = mk_lab_value(ctx, "acks=all", "ISR at crash");
  double offline1 = mk_lab_value(ctx, "acks=1", "no leader ms");
  /* acks=1: it loses exactly what its successor had not copied. */
  if (!isnan(lacked1) && lacked1 > 0)
    mk_lab_claim(ctx, lost1 == lacked1,
                 "acks=1 lost %.0f acknowledged records: the leader had them, its successor did not",
                 lost1);
  else if (!isnan(lacked1))
    mk_lab_claim(ctx, lost1 == 0,
                 "acks=1 lost nothing: the followers had copied everything before the leader died\n"
                 "    (they were %lld ms behind; it died %lld ms after the second half)",
                 (long long)plan.lag_ms, (long long)plan.crash_ms);
  else if (unclean1)
    mk_lab_claim(ctx, lost1 > 0,
                 "acks=1 lost %.0f acknowledged records: an unclean election made a replica from\n"
                 "    outside the ISR the leader, without them",
                 lost1);
  else
    mk_lab_claim(ctx, lost1 == 0 && offline1 > 0,
                 "acks=1 lost nothing, at a price: with no follower left in the ISR nobody could\n"
                 "    take over, and the partition had no leader until the old one returned (%.0f ms)",
                 offline1);
  char unless[200] = "";
  if (unclean_all)
    snprintf(unless, sizeof unless,
             "min.insync.replicas=%d let acks=all acknowledge with the ISR down to the leader,\n"
             "    and unclean.leader.election.enable=true then elected a replica without them",
             plan.min_insync);
  mk_lab_claim_unless(
      ctx, lost_all == 0 && acked_all == plan.records, unless[0] ? unless : NULL,
      "acks=all (min.insync.replicas=%d, ISR of %.0f at the crash) lost none: an acknowledged\n"
      "    record is on every ISR member, and those not yet acknowledged were retried",
      plan.min_insync, isr_all);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int rc = part_latency(ctx);
  if (!rc) rc = part_failover(ctx);
  return rc;
}

const struct mk_lab mk_lab_acks = {
    "acks",
    "acks=0/1/all: latency, end-to-end latency, and what survives a leader failure",
    params,
    run,
    "It slows the followers on purpose (follower_lag), times when a record becomes readable\n"
    "from the leader's high watermark moves, and kills a leader whose followers lag so that\n"
    "the cluster elects one without the last records. All three happen inside the brokers:\n"
    "a proxy in front of a real cluster sees requests and answers only, and its broker_down\n"
    "hides a broker from clients without stopping it, so no election happens and nothing is\n"
    "lost. On a real cluster, compare acks=1 and acks=all latency with `minikafka perf\n"
    "--producer-props acks=1` and `acks=all`, through `minikafka proxy`.",
};
