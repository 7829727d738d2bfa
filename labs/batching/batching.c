/*
 * Lab 7, batching: batch.size x linger.ms, at a steady send rate and flat out.
 * Guide: labs/batching/README.md. Notes: 000 "batch.size 설정", 002 (the batch.size and
 * linger.ms rows), 004 "배치 처리와 압축".
 *
 * Nine cells: batch.size 1 KiB, 16 KiB (Kafka's default), 256 KiB x linger.ms 0, 5 (Kafka
 * 4.0's default), 50. Each cell gets a new topic (one partition, three replicas) and a new
 * producer, and two phases:
 *   steady   `rate` records per second of `value_bytes` bytes for `duration_ms`, as an
 *            application producing events would: records per request (the
 *            records-per-request-avg metric), batch-size-avg, why each batch left (the
 *            batch_ready events' reason: full or linger), and send() to callback latency
 *   flat out `burst` records as fast as the application can call send(): records per second
 *            when batching is limited only by batch.size
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"rate", "2000", "steady phase: records per second", 10, 100000},
    {"duration_ms", "1000", "steady phase: how long each cell sends", 100, 10000},
    {"value_bytes", "200", "bytes per record value", 1, 100000},
    {"burst", "5000", "flat-out phase: records per cell (0 = skip it)", 0, 100000},
    {NULL, NULL, NULL},
};

static const int BATCH_SIZES[] = {1024, 16384, 262144};
static const char *const BATCH_NAMES[] = {"1 KiB", "16 KiB", "256 KiB"};
static const int LINGERS[] = {0, 5, 50};
enum { NB = 3, NL = 3 };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void row_name(char *buf, size_t size, int b, int l) {
  snprintf(buf, size, "%s, linger %d", BATCH_NAMES[b], LINGERS[l]);
}

static void sleep_us(int64_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* The share of batches since `mark` that left because they were full. */
static double full_share(struct mk_lab_ctx *ctx, size_t mark, const char *topic) {
  json_t *evs = mk_lab_events(ctx, mark, "producer", "batch_ready", topic);
  size_t i, full = 0, n = json_array_size(evs);
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *reason = json_string_value(json_object_get(ev, "reason"));
    full += reason && strcmp(reason, "full") == 0;
  }
  json_decref(evs);
  return n ? 100.0 * (double)full / (double)n : 0;
}

static int one_cell(struct mk_lab_ctx *ctx, int b, int l, const char *value, int steady, int rate,
                    int burst, bool draw) {
  char topic[48], row[48], bs[32], lg[32];
  snprintf(topic, sizeof topic, "batching-%d-%d", BATCH_SIZES[b], LINGERS[l]);
  row_name(row, sizeof row, b, l);
  snprintf(bs, sizeof bs, "batch.size=%d", BATCH_SIZES[b]);
  snprintf(lg, sizeof lg, "linger.ms=%d", LINGERS[l]);
  int rc = mk_lab_create_topic(ctx, topic, 1, 3);
  if (rc) return rc;
  const char *kv[] = {bs, lg, NULL};
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, kv, &p))) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(steady + burst);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }

  /* Steady: record i is due at start + i / rate, start being when the first send() returned
   * (it waits for the topic's metadata: counting from before it would make a burst). */
  size_t mark = mk_lab_mark(ctx);
  mk_lab_send(ctx, p, s, topic, 0, NULL, value);
  int64_t start = mk_now_us();
  for (int i = 1; i < steady;) {
    int64_t due = (mk_now_us() - start) * rate / 1000000 + 1;
    for (; i < steady && i < due; i++) mk_lab_send(ctx, p, s, topic, 0, NULL, value);
    if (i < steady) sleep_us(200);
  }
  rc = mk_lab_sends_wait(s, 60000);
  struct mk_err err = {0};
  mk_producer_flush(p, 10000, &err);
  double rpr = mk_producer_metric(p, "records-per-request-avg");
  double batch_bytes = mk_producer_metric(p, "batch-size-avg");
  double requests = mk_producer_metric(p, "request-total");
  double steady_s = (double)(mk_now_us() - start) / 1e6;
  double full = full_share(ctx, mark, topic);
  if (draw && !rc) {
    mk_lab_sleep_ms(5);
    char title[128];
    snprintf(title, sizeof title, "%s (the steady phase, summarised):", row);
    mk_lab_timeline(ctx, mark, title);
  }

  /* Flat out. */
  int64_t burst_start = mk_now_us();
  for (int i = 0; !rc && i < burst; i++) mk_lab_send(ctx, p, s, topic, 0, NULL, value);
  if (!rc) mk_producer_flush(p, 60000, &err);  /* the last batch need not wait linger.ms */
  if (!rc) rc = mk_lab_sends_wait(s, 60000);
  int64_t burst_us = mk_now_us() - burst_start;
  mk_producer_close(p, 5000);
  int failed = s->failed;
  double *lat = calloc((size_t)steady, sizeof *lat);
  for (int i = 0; lat && i < steady; i++)
    lat[i] = (double)(s->v[i].done_us - s->v[i].sent_us) / 1000.0;
  mk_lab_sends_free(s);
  if (rc || failed || !lat) {
    free(lat);
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "%s: %d of the sends failed or timed out", row,
                       failed);
  }
  qsort(lat, (size_t)steady, sizeof *lat, cmp_double);
  mk_lab_figure(ctx, row, "rec/req", rpr);
  mk_lab_figure(ctx, row, "batch B", batch_bytes);
  mk_lab_figure(ctx, row, "full %", full);
  mk_lab_figure(ctx, row, "req/s", steady_s > 0 ? requests / steady_s : 0);
  mk_lab_figure(ctx, row, "p50 ms", mk_lab_percentile(lat, (size_t)steady, 50));
  mk_lab_figure(ctx, row, "p99 ms", mk_lab_percentile(lat, (size_t)steady, 99));
  if (burst)
    mk_lab_figure(ctx, row, "max rec/s", burst_us > 0 ? burst * 1e6 / (double)burst_us : 0);
  free(lat);
  return 0;
}

/* One matrix (batch.size down, linger.ms across) of one column of the figures. */
static void matrix(struct mk_lab_ctx *ctx, const char *title, const char *column, const char *fmt) {
  FILE *out = mk_lab_out(ctx);
  fprintf(out, "\n%s\n  %-12s", title, "batch.size");
  for (int l = 0; l < NL; l++) {
    char head[32];
    snprintf(head, sizeof head, "linger.ms=%d", LINGERS[l]);
    fprintf(out, "  %13s", head);
  }
  fputc('\n', out);
  for (int b = 0; b < NB; b++) {
    fprintf(out, "  %-12s", BATCH_NAMES[b]);
    for (int l = 0; l < NL; l++) {
      char row[48], cell[32];
      row_name(row, sizeof row, b, l);
      snprintf(cell, sizeof cell, fmt, mk_lab_value(ctx, row, column));
      fprintf(out, "  %13s", cell);
    }
    fputc('\n', out);
  }
}

static int run(struct mk_lab_ctx *ctx) {
  int64_t rate = mk_lab_param(ctx, "rate"), duration = mk_lab_param(ctx, "duration_ms");
  int64_t value_bytes = mk_lab_param(ctx, "value_bytes"), burst = mk_lab_param(ctx, "burst");
  if (rate * duration / 1000 > 200000)  /* each limit holds (lab.c checked): their product */
    return mk_lab_fail(ctx, MK_ERR__INVALID_ARG,
                       "rate x duration_ms is at most 200000 records per cell; got %lld x %lld ms",
                       (long long)rate, (long long)duration);
  int steady = (int)(rate * duration / 1000);
  char *value = malloc((size_t)value_bytes + 1);
  if (!value) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  for (int64_t i = 0; i < value_bytes; i++) value[i] = (char)('a' + i % 26);
  value[value_bytes] = 0;

  mk_lab_heading(ctx, "batch.size x linger.ms");
  mk_lab_say(
      ctx,
      "Each cell: a topic with one partition, a producer with that batch.size and linger.ms,\n"
      "%lld records/s of %lld B for %lld ms (%d records), then %lld records flat out.\n"
      "A batch leaves when it is full (batch.size) or when its first record has waited\n"
      "linger.ms, whichever comes first (note 004 \"배치 처리와 압축\").",
      (long long)rate, (long long)value_bytes, (long long)duration, steady, (long long)burst);
  mk_lab_predict(
      ctx,
      "at linger.ms=0, how many records does a request carry? At 50? Which cells are\n"
      "         limited by batch.size instead, and what does linger.ms cost in latency?");
  int rc = mk_lab_broker_start(ctx, NULL);
  for (int b = 0; !rc && b < NB; b++)
    for (int l = 0; !rc && l < NL; l++) {
      rc = one_cell(ctx, b, l, value, steady, (int)rate, (int)burst, b == 1 && l == 1);
      mk_lab_progress(ctx, "cells", b * NL + l + 1, NB * NL);
    }
  free(value);
  if (rc) return rc;

  static const char *const cols[] = {"rec/req", "batch B", "full %",    "req/s",
                                     "p50 ms",  "p99 ms",  "max rec/s", NULL};
  mk_lab_table(ctx,
               "Steady phase: records per request (records-per-request-avg), batch bytes\n"
               "(batch-size-avg), the share of batches sent because they were full, requests\n"
               "per second, send() to callback latency; flat-out phase: records per second:",
               NULL, cols);
  matrix(ctx, "Records per request, steady phase:", "rec/req", "%.1f");
  matrix(ctx, "Latency p50 (ms), steady phase:", "p50 ms", "%.2f");

  /* The claims: at a fixed rate, with room in the batch, linger.ms decides; a cell whose
   * batches are mostly full is capped by batch.size instead (more linger buys nothing). */
  bool grows = true, slower = true;
  char why[160] = "", capped[160] = "";
  for (int b = 1; b < NB; b++) {
    double r[NL], lat[NL], full[NL];
    for (int l = 0; l < NL; l++) {
      char row[48];
      row_name(row, sizeof row, b, l);
      r[l] = mk_lab_value(ctx, row, "rec/req");
      lat[l] = mk_lab_value(ctx, row, "p50 ms");
      full[l] = mk_lab_value(ctx, row, "full %");
    }
    for (int l = 1; l < NL; l++) {
      bool cap = full[l - 1] >= 50;  /* the shorter linger already filled its batches */
      if (cap && !capped[0])
        snprintf(capped, sizeof capped, "; %s, linger %d: batches full, capped by batch.size",
                 BATCH_NAMES[b], LINGERS[l - 1]);
      if (!(r[l - 1] < r[l] || (cap && r[l] >= 0.9 * r[l - 1]))) {
        grows = false;
        snprintf(why, sizeof why, " (%s: %.1f, %.1f, %.1f)", BATCH_NAMES[b], r[0], r[1], r[2]);
      }
    }
    slower &= lat[0] < lat[2];
  }
  /* Your --set wins over the cells' own batch.size and linger.ms: every cell the same. */
  const char *same =
      mk_lab_user_set(ctx, "linger.ms")    ? "your --set linger.ms gave every cell the same one"
      : mk_lab_user_set(ctx, "batch.size") ? "your --set batch.size gave every cell the same one"
                                           : NULL;
  mk_lab_claim_unless(ctx, grows, same,
                      "at a fixed rate, records per request grow with linger.ms until batch.size\n"
                      "    caps them (16 KiB and 256 KiB rows: linger 0 < 5 < 50%s)%s",
                      capped, why);
  mk_lab_claim_unless(ctx, slower, same,
                      "and so does latency: a record waits up to linger.ms for company (p50 at "
                      "linger 50\n    above p50 at linger 0)");
  double small = mk_lab_value(ctx, "1 KiB, linger 50", "rec/req");
  double mid = mk_lab_value(ctx, "16 KiB, linger 50", "rec/req");
  mk_lab_claim_unless(ctx, small < mid, same,
               "batch.size caps a batch: at linger.ms=50, %.1f records per request with 1 KiB\n"
               "    batches, %.1f with 16 KiB",
               small, mid);
  mk_lab_note(
      ctx,
      "  Note 000 calls the cost of a small batch.size \"약간의 오버헤드\" (a little overhead):\n"
      "  compare max rec/s in the 1 KiB rows. linger.ms defaults to 5 since Kafka 4.0 (KIP-1030);\n"
      "  texts written before say 0.");
  return 0;
}

const struct mk_lab mk_lab_batching = {
    "batching",
    "batch.size x linger.ms: records per request, batch size, latency and throughput",
    params,
    run,
};
