/*
 * Lab 6, partitioning: a key picks its partition by murmur2, adding partitions moves keys, and
 * keyless records are spread three ways (round-robin, the old sticky, the uniform sticky).
 * Guide: labs/partitioning/README.md. Notes: 000 section 5 ("파티션", Sticky Partitioner, the
 * Key Takeaway on adding partitions), 002 "프로듀서 디자인" (round-robin), 004 "파티셔닝 전략".
 *
 *   part 1  a few keys, each sent three times to a topic of `partitions` partitions: the
 *           partition each landed in, against murmur2(key) % partitions computed here
 *   part 2  `keys` keys sent to one topic of `partitions` partitions, which then grows to
 *           partitions + 1 and to 2 x partitions (CreatePartitions, kafka-topics.sh --alter),
 *           the keys sent again after each: how many keys changed partition, and so have
 *           records in two partitions of the same topic
 *   part 3  `records` keyless records, sent as fast as possible at linger.ms=0, with each
 *           partitioner: batches, requests, records per request, latency, spread
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab.h"
#include "protocol/murmur2.h"

static const struct mk_lab_param params[] = {
    {"partitions", "3", "partitions of the topics (part 2 grows it to +1, then x2)", 2, 100},
    {"keys", "1000", "part 2: keys whose partitions are compared", 10, 100000},
    {"records", "3000", "part 3: keyless records per partitioner", 10, 200000},
    {"rate", "20000", "part 3: records per second", 100, 1000000},
    {"lag_ms", "5", "part 3: how late followers copy each batch (a network's replication time)",
     0, 1000},
    {NULL, NULL, NULL},
};

static int32_t murmur2_partition(const char *key, int32_t partitions) {
  return mk_murmur2_partition(key, strlen(key), partitions);
}

/* ---- part 1: same key, same partition ----------------------------------------------------- */

static int part_keys(struct mk_lab_ctx *ctx, int32_t partitions) {
  static const char *const keys[] = {"user-1",     "user-7",     "user-42",
                                     "order-1001", "order-1002", "hello"};
  enum { NKEYS = sizeof keys / sizeof keys[0], TIMES = 3 };
  mk_lab_heading(ctx, "1. A key picks its partition");
  mk_lab_say(
      ctx,
      "Topic \"by-key\", %d partitions. Each of %d keys is sent %d times, interleaved\n"
      "(user-1, user-7, ..., user-1, user-7, ...). The partitioner computes\n"
      "toPositive(murmur2(key bytes)) %% %d (note 004 \"키가 있는 경우\"); so does this lab.",
      partitions, NKEYS, TIMES, partitions);
  mk_lab_predict(ctx, "does a key ever land in two partitions? Can you tell where \"hello\" goes?");
  int rc = mk_lab_create_topic(ctx, "by-key", partitions, -1);
  if (rc) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(NKEYS * TIMES);
  if (!s) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, NULL, &p))) {
    mk_lab_sends_free(s);
    return rc;
  }
  for (int t = 0; t < TIMES; t++)
    for (int k = 0; k < NKEYS; k++) {
      char value[32];
      snprintf(value, sizeof value, "event-%d", t);
      mk_lab_send(ctx, p, s, "by-key", -1, keys[k], value);
    }
  rc = mk_lab_sends_wait(s, 30000);
  mk_producer_close(p, 5000);
  if (rc || s->failed) {
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "part 1: the sends did not all succeed");
  }
  int mismatches = 0, split = 0;
  mk_lab_say(ctx, "\n  %-11s  %-10s  %s", "key", "murmur2", "partitions of its 3 records");
  for (int k = 0; k < NKEYS; k++) {
    int32_t expected = murmur2_partition(keys[k], partitions);
    char seen[64] = "";
    size_t at = 0;
    for (int t = 0; t < TIMES; t++) {
      int32_t got = s->v[t * NKEYS + k].partition;
      mismatches += got != expected;
      split += t > 0 && got != s->v[k].partition;
      at += (size_t)snprintf(seen + at, sizeof seen - at, "%s%d", t ? ", " : "", got);
    }
    mk_lab_say(ctx, "  %-11s  %% %d = %-4d  %s", keys[k], partitions, expected, seen);
  }
  mk_lab_sends_free(s);
  mk_lab_figure(ctx, "same key", "records", NKEYS * TIMES);
  mk_lab_figure(ctx, "same key", "not murmur2", mismatches);
  mk_lab_figure(ctx, "same key", "moved", split);
  mk_lab_claim(ctx, mismatches == 0 && split == 0,
               "every record went to murmur2(key) %% %d, so a key's partition never changed",
               partitions);
  return 0;
}

/* ---- part 2: adding partitions ------------------------------------------------------------- */

/* Send the keys to topic with a new producer (a new producer reads the topic's partition
 * count afresh: one running longer sees new partitions only when its metadata is refreshed,
 * metadata.max.age.ms, 5 minutes by default); out[i] = key i's partition. Returns 0 or the
 * failure. */
static int place_keys(struct mk_lab_ctx *ctx, const char *topic, int nkeys, int32_t *out) {
  struct mk_lab_sends *s = mk_lab_sends_new(nkeys);
  if (!s) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  struct mk_producer *p;
  int rc = mk_lab_producer_new(ctx, NULL, &p);
  if (rc) {
    mk_lab_sends_free(s);
    return rc;
  }
  for (int i = 0; i < nkeys; i++) {
    char key[32];
    snprintf(key, sizeof key, "key-%d", i);
    mk_lab_send(ctx, p, s, topic, -1, key, "v");
  }
  rc = mk_lab_sends_wait(s, 60000);
  mk_producer_close(p, 5000);
  for (int i = 0; i < nkeys; i++) out[i] = s->v[i].partition;
  int failed = s->failed;
  mk_lab_sends_free(s);
  if (rc || failed)
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "part 2: sends to %s did not all succeed",
                       topic);
  return 0;
}

static int part_more_partitions(struct mk_lab_ctx *ctx, int32_t partitions, int nkeys) {
  int32_t grown[2] = {partitions + 1, partitions * 2};
  mk_lab_heading(ctx, "2. Adding partitions moves keys");
  mk_lab_say(
      ctx,
      "%d keys (key-0, key-1, ...) go to topic \"keys\" of %d partitions. Then the topic grows\n"
      "to %d partitions (kafka-topics.sh --alter --topic keys --partitions %d) and the keys are\n"
      "sent again, then to %d, and again: each time by a new producer, which reads the\n"
      "partition count afresh (a running one would see it at its next metadata refresh,\n"
      "metadata.max.age.ms, 5 minutes by default).",
      nkeys, partitions, grown[0], grown[0], grown[1]);
  mk_lab_predict(ctx, "what fraction of the keys moves from %d to %d partitions? From %d to %d?",
                 partitions, grown[0], partitions, grown[1]);
  int32_t *base = calloc((size_t)nkeys, sizeof *base), *now = calloc((size_t)nkeys, sizeof *now);
  int rc = base && now ? mk_lab_create_topic(ctx, "keys", partitions, -1)
                       : mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  if (!rc) rc = place_keys(ctx, "keys", nkeys, base);
  for (int g = 0; !rc && g < 2; g++) {
    rc = mk_lab_create_partitions(ctx, "keys", grown[g]);
    if (!rc) rc = place_keys(ctx, "keys", nkeys, now);
    if (rc) break;
    int moved = 0, not_murmur2 = 0;
    for (int i = 0; i < nkeys; i++) {
      char key[32];
      snprintf(key, sizeof key, "key-%d", i);
      int32_t before = murmur2_partition(key, partitions), after = murmur2_partition(key, grown[g]);
      moved += now[i] != base[i];
      not_murmur2 += now[i] != after || base[i] != before;
    }
    /* A key stays iff h % old == h % new. Hashes are uniform, so the share that moves is the
     * share of h in one period (old x new values) for which the two differ: counted. */
    int64_t period = (int64_t)partitions * grown[g], stay = 0;
    for (int64_t h = 0; h < period; h++) stay += h % partitions == h % grown[g];
    double expected = 1.0 - (double)stay / (double)period;
    char row[32];
    snprintf(row, sizeof row, "%d -> %d partitions", partitions, grown[g]);
    mk_lab_figure(ctx, row, "keys", nkeys);
    mk_lab_figure(ctx, row, "moved", moved);
    mk_lab_figure(ctx, row, "moved %", 100.0 * moved / nkeys);
    mk_lab_figure(ctx, row, "expected %", 100.0 * expected);
    mk_lab_figure(ctx, row, "not murmur2", not_murmur2);
  }
  free(base);
  free(now);
  if (rc) return rc;
  char rows[2][32];
  for (int g = 0; g < 2; g++)
    snprintf(rows[g], sizeof rows[g], "%d -> %d partitions", partitions, grown[g]);
  const char *const table_rows[] = {rows[0], rows[1], NULL};
  static const char *const cols[] = {"keys", "moved", "moved %", "expected %", "not murmur2", NULL};
  mk_lab_table(ctx,
               "Keys that changed partition (expected: the share of hashes h with\n"
               "h % old != h % new):",
               table_rows, cols);
  bool held = true;
  double worst = 0;
  for (int g = 0; g < 2; g++) {
    double got = mk_lab_value(ctx, rows[g], "moved %"),
           want = mk_lab_value(ctx, rows[g], "expected %");
    worst = fmax(worst, fabs(got - want));
    held &= fabs(got - want) <= 10.0 && mk_lab_value(ctx, rows[g], "not murmur2") == 0 &&
            mk_lab_value(ctx, rows[g], "moved") > 0;
  }
  mk_lab_claim(ctx, held,
               "with more partitions a known share of the keys moves (within %.1f points of\n"
               "    the share murmur2 predicts): a moved key now has records in two partitions\n"
               "    of \"keys\", and their order with the older ones is gone",
               worst);
  return 0;
}

/* ---- part 3: keyless records ---------------------------------------------------------------- */

struct keyless {
  const char *row;
  const char *topic;
  const char *partitioner;  /* a "partitioner.class=..." setting, or NULL for the default */
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void sleep_us(int64_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static int keyless_run(struct mk_lab_ctx *ctx, const struct keyless *k, int32_t partitions,
                       int records, int rate, bool draw) {
  const char *kv[] = {"linger.ms=0", k->partitioner, NULL};
  struct mk_producer *p;
  int rc = mk_lab_producer_new(ctx, kv, &p);
  if (rc) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(records + 1);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  /* Warm up (metadata, producer id) with one record to partition 0, then measure. */
  mk_lab_send(ctx, p, s, k->topic, 0, NULL, "warm-up");
  rc = mk_lab_sends_wait(s, 30000);
  double rpr_before = mk_producer_metric(p, "request-total");
  size_t mark = mk_lab_mark(ctx);
  char value[128];
  memset(value, 'x', 100);
  value[100] = 0;
  int64_t start = mk_now_us();
  for (int i = 0; !rc && i < records;) {  /* record i is due at start + i / rate */
    int64_t due = (mk_now_us() - start) * rate / 1000000 + 1;
    for (; i < records && i < due; i++) mk_lab_send(ctx, p, s, k->topic, -1, NULL, value);
    if (i < records) sleep_us(100);
  }
  if (!rc) rc = mk_lab_sends_wait(s, 60000);
  struct mk_err err = {0};
  mk_producer_flush(p, 5000, &err);
  double requests = mk_producer_metric(p, "request-total") - rpr_before;
  double batch_avg = mk_producer_metric(p, "batch-size-avg");
  mk_producer_close(p, 5000);
  if (rc || s->failed) {
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "%s: the sends did not all succeed", k->row);
  }
  double *lat = calloc((size_t)records, sizeof *lat);
  int per_partition[256] = {0};
  for (int i = 0; lat && i < records; i++) {
    const struct mk_lab_send *e = &s->v[i + 1];
    lat[i] = (double)(e->done_us - e->sent_us) / 1000.0;
    if (e->partition >= 0 && e->partition < 256) per_partition[e->partition]++;
  }
  mk_lab_sends_free(s);
  if (!lat) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  qsort(lat, (size_t)records, sizeof *lat, cmp_double);
  int most = 0, least = records;
  for (int32_t i = 0; i < partitions && i < 256; i++) {
    most = per_partition[i] > most ? per_partition[i] : most;
    least = per_partition[i] < least ? per_partition[i] : least;
  }
  int batches = mk_lab_count(ctx, mark, "producer", "batch_ready", k->topic);
  if (draw) {  /* the start of the run: where the first records went, in which batches */
    char title[96];
    snprintf(title, sizeof title, "%s, the first records (then summarised):", k->row);
    mk_lab_timeline(ctx, mark, title);
  }
  mk_lab_figure(ctx, k->row, "batches", batches);
  mk_lab_figure(ctx, k->row, "rec/batch", batches ? (double)records / batches : 0);
  mk_lab_figure(ctx, k->row, "requests", requests);
  mk_lab_figure(ctx, k->row, "rec/request", requests > 0 ? records / requests : 0);
  mk_lab_figure(ctx, k->row, "batch B avg", batch_avg);
  mk_lab_figure(ctx, k->row, "p50 ms", mk_lab_percentile(lat, (size_t)records, 50));
  mk_lab_figure(ctx, k->row, "p99 ms", mk_lab_percentile(lat, (size_t)records, 99));
  mk_lab_figure(ctx, k->row, "min/max per partition", most ? (double)least / most : 0);
  free(lat);
  char spread[256] = "";
  size_t at = 0;
  for (int32_t i = 0; i < partitions && i < 256 && at < sizeof spread - 16; i++)
    at += (size_t)snprintf(spread + at, sizeof spread - at, "%s%d", i ? " " : "", per_partition[i]);
  mk_lab_say(ctx, "  %-15s records per partition: %s", k->row, spread);
  return 0;
}

static int part_keyless(struct mk_lab_ctx *ctx, int32_t partitions, int records, int rate,
                        int64_t lag_ms) {
  mk_lab_heading(ctx, "3. No key: round-robin, sticky, uniform sticky");
  mk_lab_say(
      ctx,
      "%d keyless records of 100 B, %d per second, to a topic of %d partitions (leaders on\n"
      "three brokers), with linger.ms=0: a batch leaves as soon as a request can carry it, so\n"
      "batches grow only while a connection's requests in flight (at most 5, max.in.flight.\n"
      "requests.per.connection) all wait for their answers. And each acks=all request waits\n"
      "for the followers, which copy each batch %lld ms late (a real network's replication\n"
      "time; here everything is on loopback). Once per partitioner:\n"
      "  round-robin      partitioner.class=RoundRobinPartitioner: each record to the next\n"
      "                   partition (note 002's description; note 004's \"과거 방식\")\n"
      "  sticky (old)     partitioner.class=DefaultPartitioner, Kafka 2.4-3.2: stick to one\n"
      "                   partition until a new batch is opened (note 004's \"최신 방식\")\n"
      "  uniform sticky   no partitioner.class, Kafka 3.3+: stick to one partition until\n"
      "                   batch.size bytes went to it (KIP-794; note 000's UniformSticky)",
      records, rate, partitions, (long long)lag_ms);
  mk_lab_predict(ctx,
                 "which one sends the fewest requests, and the most records per request? Does\n"
                 "         that change the latency?");
  static const struct keyless runs[] = {
      {"round-robin", "keyless-rr", "partitioner.class=RoundRobinPartitioner"},
      {"sticky (old)", "keyless-sticky", "partitioner.class=DefaultPartitioner"},
      {"uniform sticky", "keyless-uniform", NULL},
  };
  /* Each topic's partitions have their leaders on different brokers; every follower copies
   * each batch lag_ms after the leader appended it, so an acks=all request takes lag_ms. */
  for (int i = 0; i < 3; i++) {
    int rc = mk_lab_create_topic(ctx, runs[i].topic, partitions, -1);
    if (rc) return rc;
  }
  for (int32_t b = 0; b < 3 && !mk_lab_external(ctx); b++) {
    int rc = mk_lab_fault(ctx, "{\"action\": \"follower_lag\", \"broker\": %d, \"ms\": %lld}", b,
                          (long long)lag_ms);
    if (rc) return rc;
  }
  /* A real cluster's followers are out of reach (lab_cluster.c): its proxy holds every
   * Produce answer lag_ms instead, the same wait as the producer sees it. */
  if (mk_lab_external(ctx)) {
    int rc = mk_lab_fault(ctx, "{\"action\": \"delay\", \"api\": \"Produce\", \"ms\": %lld}",
                          (long long)lag_ms);
    if (rc) return rc;
  }
  for (int i = 0; i < 3; i++) {
    int rc = keyless_run(ctx, &runs[i], partitions, records, rate, i != 1);
    if (rc) return rc;
  }
  static const char *const rows[] = {"round-robin", "sticky (old)", "uniform sticky", NULL};
  static const char *const cols[] = {"batches",     "rec/batch", "requests", "rec/request",
                                     "batch B avg", "p50 ms",    "p99 ms",   NULL};
  mk_lab_table(
      ctx,
      "Batches and requests (requests: request-total; rec/request: records over requests;\n"
      "batch B avg: the batch-size-avg metric; p50/p99: send() to callback):",
      rows, cols);
  double rr = mk_lab_value(ctx, "round-robin", "rec/request");
  double uniform = mk_lab_value(ctx, "uniform sticky", "rec/request");
  /* Batches grow only while the producer waits (linger.ms, or answers in flight): with
   * neither, every partitioner sends what it has at once, and which one fills requests more
   * comes down to how busy this machine is. */
  struct mk_producer_config *cfg;
  static const char *const as_run[] = {"linger.ms=0", NULL};  /* keyless_run's, then yours */
  int rc = mk_lab_producer_config(ctx, as_run, &cfg);
  if (rc) return rc;
  const char *no_wait = lag_ms == 0 && cfg->linger_ms == 0
                            ? "with lag_ms=0 and linger.ms=0 nothing makes the producer wait, so\n"
                              "    no partitioner gets to fill its requests"
                            : NULL;
  mk_producer_config_free(cfg);
  mk_lab_claim_unless(
      ctx, uniform > rr, no_wait,
      "the uniform sticky partitioner put %.1f records in each request, round-robin %.1f:\n"
      "    the same records in %.0f requests instead of %.0f",
      uniform, rr, mk_lab_value(ctx, "uniform sticky", "requests"),
      mk_lab_value(ctx, "round-robin", "requests"));
  mk_lab_note(
      ctx,
      "  Note 002 calls round-robin the default for records without a key: it was, before Kafka\n"
      "  2.4. Note 004's \"최신 방식\" (stick until the batch is sent) is the 2.4-3.2 sticky\n"
      "  partitioner; since 3.3 (KIP-794) the switch comes after batch.size bytes.");
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int32_t partitions = (int32_t)mk_lab_param(ctx, "partitions");
  int nkeys = (int)mk_lab_param(ctx, "keys"), records = (int)mk_lab_param(ctx, "records");
  int64_t rate = mk_lab_param(ctx, "rate"), lag_ms = mk_lab_param(ctx, "lag_ms");
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = part_keys(ctx, partitions);
  if (!rc) rc = part_more_partitions(ctx, partitions, nkeys);
  if (!rc) rc = part_keyless(ctx, partitions, records, (int)rate, lag_ms);
  return rc;
}

const struct mk_lab mk_lab_partitioning = {
    "partitioning",
    "keys, murmur2 and adding partitions; keyless records: round-robin, sticky, uniform sticky",
    params,
    run,
};
