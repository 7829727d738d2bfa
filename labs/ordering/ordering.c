/*
 * Lab 5, ordering: retries with several requests in flight, with and without idempotence.
 * Guide: labs/ordering/README.md. Notes: 000 section 3 ("순서 보장하기"), 002
 * (max.in.flight.requests.per.connection: "1 if order matters"), 004 ("max.in.flight <= 5").
 *
 * One partition; every record is its own batch (batch.size=0), so each request carries one
 * record. After a warm-up record (so the broker knows the producer), the broker is told to
 * refuse the next Produce request with a retriable error (NOT_ENOUGH_REPLICAS: nothing is
 * appended) and to hold that answer for delay_ms, time enough for the requests behind it
 * to arrive. Three runs:
 *   in.flight=5               no idempotence: the requests behind are appended, the refused
 *                             batch is retried after them -> out of order
 *   in.flight=1               no idempotence, one request at a time: in order, slower
 *   idempotent, in.flight=5   the broker refuses the later batches (OUT_OF_ORDER_SEQUENCE:
 *                             it expects the refused batch's sequence first); the producer
 *                             retries them all, in sequence order -> in order
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "20", "records sent in a burst (one batch each)", 6, 1000},
    {"delay_ms", "100", "how long the broker holds its answer to the refused request", 10, 60000},
    {"warmup", "1", "1: one record first, so the refused batch is not the producer's first", 0, 1},
    {NULL, NULL, NULL},
};

struct scenario {
  const char *row;
  const char *topic;
  const char *kv[5];  /* producer settings, NULL-terminated */
};

/* The record number in "m-07", or -1. */
static int number_of(const char *value) {
  return value && strncmp(value, "m-", 2) == 0 ? atoi(value + 2) : -1;
}

/* Most requests in flight at once, from the producer's request_sent and response_received
 * events after `mark` (only this run's producer is alive then). */
static int max_in_flight(struct mk_lab_ctx *ctx, size_t mark) {
  json_t *evs = mk_lab_events(ctx, mark, "producer", NULL, NULL);
  int now = 0, most = 0;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *e = json_string_value(json_object_get(ev, "event"));
    if (strcmp(e, "request_sent") == 0 && ++now > most) most = now;
    if (strcmp(e, "response_received") == 0 && now > 0) now--;
  }
  json_decref(evs);
  return most;
}

static int one_run(struct mk_lab_ctx *ctx, const struct scenario *sc, int records,
                   int64_t delay_ms) {
  int rc = mk_lab_create_topic(ctx, sc->topic, 1, 3);
  if (rc) return rc;
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, sc->kv, &cfg))) return rc;
  mk_lab_say(ctx, "\n%s:", sc->row);
  static const char *const shown[] = {"enable.idempotence",
                                      "max.in.flight.requests.per.connection",
                                      "retries",
                                      "batch.size",
                                      "linger.ms",
                                      NULL};
  mk_lab_show_settings(ctx, cfg, shown);
  struct mk_producer *p;
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, &p, &err);
  mk_producer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);

  struct mk_lab_sends *s = mk_lab_sends_new(records + 1);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (mk_lab_param(ctx, "warmup")) {
    mk_lab_send(ctx, p, s, sc->topic, 0, NULL, "warm-up");
    rc = mk_lab_sends_wait(s, 30000);
  }
  if (!rc)
    rc = mk_lab_fault(ctx,
                      "{\"action\": \"error\", \"api\": \"Produce\", \"topic\": \"%s\", "
                      "\"error\": \"NOT_ENOUGH_REPLICAS\", \"count\": 1}",
                      sc->topic);
  if (!rc)
    rc = mk_lab_fault(ctx,
                      "{\"action\": \"delay\", \"api\": \"Produce\", \"topic\": \"%s\", "
                      "\"ms\": %lld, \"count\": 1}",
                      sc->topic, (long long)delay_ms);
  size_t mark = mk_lab_mark(ctx);
  int64_t start = mk_now_us();
  for (int i = 0; !rc && i < records; i++) {
    char value[32];
    snprintf(value, sizeof value, "m-%02d", i);
    mk_lab_send(ctx, p, s, sc->topic, 0, NULL, value);
  }
  if (!rc) rc = mk_lab_sends_wait(s, 60000);
  int64_t elapsed_ms = (mk_now_us() - start) / 1000;
  mk_producer_close(p, 5000);  /* completes whatever is left, so s is settled */
  int failed = s->failed;
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(ctx, rc, "%s: the burst did not complete", sc->row);
  mk_lab_sleep_ms(10);
  mk_lab_timeline(ctx, mark, NULL);

  /* Read the log: a record is out of order if a later-numbered one came before it. */
  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, sc->topic, 0, -1, false, &log))) return rc;
  int highest = -1, out_of_order = 0, found = 0;
  char order[512] = "";
  for (size_t i = 0; i < log.n; i++) {
    int k = number_of(log.v[i].value.ptr);
    if (k < 0) continue;
    found++;
    if (k < highest) out_of_order++;
    if (k > highest) highest = k;
    if (strlen(order) < sizeof order - 8)
      snprintf(order + strlen(order), sizeof order - strlen(order), "%s%d", found > 1 ? " " : "",
               k);
  }
  mk_stored_records_free(&log);
  mk_lab_say(ctx, "  the log, in offset order: %s", order);
  mk_lab_figure(ctx, sc->row, "sent", records);
  mk_lab_figure(ctx, sc->row, "in log", found);
  mk_lab_figure(ctx, sc->row, "out of order", out_of_order);
  mk_lab_figure(ctx, sc->row, "requests",
                mk_lab_count(ctx, mark, "producer", "request_sent", sc->topic));
  mk_lab_figure(ctx, sc->row, "retries", mk_lab_count(ctx, mark, "producer", "retry", sc->topic));
  mk_lab_figure(ctx, sc->row, "max in flight", max_in_flight(ctx, mark));
  mk_lab_figure(ctx, sc->row, "failed", failed);
  mk_lab_figure(ctx, sc->row, "ms", (double)elapsed_ms);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int64_t delay = mk_lab_param(ctx, "delay_ms");
  mk_lab_heading(ctx, "Retries and ordering");
  int rc = mk_lab_broker_start(ctx, NULL);
  /* The scenario makes every record its own batch (batch.size=0); a --set batch.size or
   * linger.ms wins over that, and batches that share records leave less to reorder. */
  static const char *const probe[] = {"batch.size=0", "linger.ms=0", NULL};
  struct mk_producer_config *cfg = NULL;
  if (!rc) rc = mk_lab_producer_config(ctx, probe, &cfg);
  if (rc) return rc;
  bool one_each = cfg->batch_size == 0;
  char shared[200] = "";
  if (!one_each)
    snprintf(shared, sizeof shared,
             "your batch.size=%d (linger.ms=%lld) lets the records share batches: with fewer\n"
             "    batches in flight there may be none behind the refused one to overtake it",
             (int)cfg->batch_size, (long long)cfg->linger_ms);
  mk_producer_config_free(cfg);
  mk_lab_say(ctx,
             "%d records, %s, to one partition. The first request is refused with a retriable "
             "error (NOT_ENOUGH_REPLICAS), and its answer held %lld ms: meanwhile the requests "
             "behind it arrive. The refused batch is retried after retry.backoff.ms.",
             records, one_each ? "one batch each" : "in batches of up to batch.size bytes",
             (long long)delay);
  mk_lab_predict(
      ctx,
      "with 5 requests in flight and no idempotence, in which order does the log hold\n"
      "         the records? With max.in.flight.requests.per.connection=1? With idempotence?");
  static const struct scenario runs[] = {
      {"in.flight=5",
       "order-5",
       {"enable.idempotence=false", "max.in.flight.requests.per.connection=5", "batch.size=0",
        "linger.ms=0"}},
      {"in.flight=1",
       "order-1",
       {"enable.idempotence=false", "max.in.flight.requests.per.connection=1", "batch.size=0",
        "linger.ms=0"}},
      {"idempotent, in.flight=5",
       "order-idem",
       {"enable.idempotence=true", "max.in.flight.requests.per.connection=5", "batch.size=0",
        "linger.ms=0"}},
  };
  for (int i = 0; !rc && i < 3; i++) rc = one_run(ctx, &runs[i], records, delay);
  if (rc) return rc;
  static const char *const rows[] = {"in.flight=5", "in.flight=1", "idempotent, in.flight=5", NULL};
  mk_lab_table(ctx, "Order in the log:", rows, NULL);
  double a = mk_lab_value(ctx, "in.flight=5", "out of order");
  double b = mk_lab_value(ctx, "in.flight=1", "out of order");
  double c = mk_lab_value(ctx, "idempotent, in.flight=5", "out of order");
  /* In order means every record, once: a missing record is not "in order". */
  bool all_b = mk_lab_value(ctx, "in.flight=1", "in log") == records;
  bool all_c = mk_lab_value(ctx, "idempotent, in.flight=5", "in log") == records;
  mk_lab_claim_unless(
      ctx, a > 0, shared[0] ? shared : NULL,
      "without idempotence, a retry with other requests in flight reorders (%.0f records)", a);
  mk_lab_claim(ctx, b == 0 && all_b,
               "max.in.flight=1 keeps order without idempotence (note 002), one request at a time");
  mk_lab_claim_unless(
      ctx, c == 0 && all_c,
      mk_lab_external(ctx)
          ? "a real cluster that does not check idempotent producers' sequences as Kafka\n"
            "    does takes the batches behind a refused one (librdkafka's mock cluster checks\n"
            "    them only for transactional producers): only the producer's own order is left"
          : NULL,
      "with idempotence, order holds at max.in.flight=5: the broker takes sequences only in order");
  return 0;
}

const struct mk_lab mk_lab_ordering = {
    "ordering",
    "max.in.flight and retries: when records are reordered, and how idempotence prevents it",
    params,
    run,
};
