/*
 * Lab 4, retries and duplicates: a lost response turns a retry into a duplicate, and
 * idempotence (producer id + sequence number) removes it.
 * Guide: labs/duplicates/README.md. Notes: 004 "재시도와 멱등성", 002 (enable.idempotence,
 * retries rows).
 *
 * Two runs, identical but for enable.idempotence: the broker is told to lose the response
 * to the first `drops` Produce requests for the topic (drop_response, mode close: the batch
 * is appended, then the connection is closed instead of answering). The producer sees a
 * NETWORK_EXCEPTION, and retries the same batch. What is in the log afterwards?
 */
#include <stdlib.h>
#include <string.h>

#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "5", "records sent (they travel as one batch)", 1, 10000},
    {"drops", "1", "Produce responses the broker loses", 0, 100},
    {NULL, NULL, NULL},
};

struct scenario {
  const char *row;  /* the table's row */
  const char *topic;
  const char *setting;  /* enable.idempotence=... */
};

static int one_run(struct mk_lab_ctx *ctx, const struct scenario *sc, int records, int drops) {
  int rc = mk_lab_create_topic(ctx, sc->topic, 1, 3);
  if (rc) return rc;
  /* linger.ms=50: the records are sent back to back, so they share one batch. */
  const char *kv[] = {sc->setting, "linger.ms=50", NULL};
  mk_lab_say(ctx, "\n%s:", sc->row);
  struct mk_err refused = {0};
  if (mk_lab_producer_config_check(ctx, kv, &refused)) {
    /* A combination Kafka's producer refuses (idempotence with retries=0): its rule is the
     * lesson, so the lab shows it instead of stopping. */
    mk_lab_say(ctx, "  the producer refuses these settings, as Kafka's does:\n  \"%s\"",
               refused.msg);
    mk_lab_figure(ctx, sc->row, "refused", 1);
    return 0;
  }
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, kv, &cfg))) return rc;
  mk_lab_figure(ctx, sc->row, "retries", (double)cfg->retries);
  static const char *const shown[] = {"enable.idempotence", "acks", "retries",
                                      "max.in.flight.requests.per.connection", NULL};
  mk_lab_show_settings(ctx, cfg, shown);
  struct mk_producer *p;
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, &p, &err);
  mk_producer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  rc = mk_lab_fault(ctx,
                    "{\"action\": \"drop_response\", \"api\": \"Produce\", \"topic\": \"%s\", "
                    "\"count\": %d, \"mode\": \"close\"}",
                    sc->topic, drops);
  if (rc) {
    mk_producer_close(p, 0);
    return rc;
  }
  size_t mark = mk_lab_mark(ctx);
  struct mk_lab_sends *s = mk_lab_sends_new(records);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int i = 0; i < records; i++) {
    char value[32];
    snprintf(value, sizeof value, "order-%d", i);
    mk_lab_send(ctx, p, s, sc->topic, 0, NULL, value);
  }
  rc = mk_lab_sends_wait(s, 60000);
  mk_producer_close(p, 5000);
  mk_lab_sleep_ms(20);
  int failed = s->failed;
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(ctx, rc, "%s: the sends did not complete within 60 s", sc->row);
  mk_lab_timeline(ctx, mark, NULL);

  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, sc->topic, 0, -1, false, &log))) return rc;
  int distinct = 0;
  for (int i = 0; i < records; i++) {
    char value[32];
    snprintf(value, sizeof value, "order-%d", i);
    distinct += mk_lab_records_count_value(&log, value) > 0;
  }
  int in_log = (int)log.n;
  mk_lab_say(ctx, "  the log of %s-0 holds %d records for %d sent; %d callback(s) reported a failure",
             sc->topic, in_log, records, failed);
  mk_stored_records_free(&log);
  mk_lab_figure(ctx, sc->row, "sent", records);
  mk_lab_figure(ctx, sc->row, "failed", failed);
  mk_lab_figure(ctx, sc->row, "requests",
                mk_lab_count(ctx, mark, "producer", "request_sent", sc->topic));
  mk_lab_figure(ctx, sc->row, "appended", mk_lab_count(ctx, mark, "broker", "append", sc->topic));
  mk_lab_figure(ctx, sc->row, "recognised",
                mk_lab_count(ctx, mark, "broker", "duplicate", sc->topic));
  mk_lab_figure(ctx, sc->row, "in log", in_log);
  mk_lab_figure(ctx, sc->row, "duplicates", in_log - distinct);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records"), drops = (int)mk_lab_param(ctx, "drops");
  mk_lab_heading(ctx, "A lost response, without and with idempotence");
  int rc = mk_lab_broker_start(ctx, NULL);
  struct mk_producer_config *cfg = NULL;
  static const char *const plain[] = {"enable.idempotence=false", NULL};
  if (!rc) rc = mk_lab_producer_config(ctx, plain, &cfg);
  if (rc) return rc;
  int64_t retries = cfg->retries;
  mk_producer_config_free(cfg);
  mk_lab_say(ctx,
             "%d records go out in one batch. The broker appends it, but the response is lost\n"
             "(the connection closes) %d time(s); the producer cannot tell a lost request from a\n"
             "lost response, so %s",
             records, drops,
             retries > 0 ? "it sends the same batch again (retries, note 004)."
                         : "it would send the same batch again, but retries=0 forbids it: the\n"
                           "send fails instead.");
  mk_lab_predict(ctx, "how many records end up in the log without idempotence? With it?");
  static const struct scenario runs[] = {
      {"idempotence off", "dups-off", "enable.idempotence=false"},
      {"idempotence on", "dups-on", "enable.idempotence=true"},
  };
  for (int i = 0; !rc && i < 2; i++) rc = one_run(ctx, &runs[i], records, drops);
  if (rc) return rc;
  static const char *const rows[] = {"idempotence off", "idempotence on", NULL};
  static const char *const cols[] = {"sent",       "failed", "requests",   "appended",
                                     "recognised", "in log", "duplicates", NULL};
  mk_lab_table(
      ctx,
      "What happened (requests: Produce requests sent; appended and recognised: the broker's count):",
      rows, cols);
  double off = mk_lab_value(ctx, "idempotence off", "duplicates");
  double on = mk_lab_value(ctx, "idempotence on", "duplicates");
  double recognised = mk_lab_value(ctx, "idempotence on", "recognised");
  if (mk_lab_value(ctx, "idempotence off", "retries") == 0) {
    /* No retry, no second copy: the record the broker kept is reported lost instead. */
    double failed = mk_lab_value(ctx, "idempotence off", "failed");
    double in_log = mk_lab_value(ctx, "idempotence off", "in log");
    mk_lab_claim(ctx, off == 0 && (drops == 0 || (failed == records && in_log == records)),
                 "with retries=0 nothing is written twice, but the %.0f records the broker kept\n"
                 "    were reported failed to the application: at most once",
                 in_log);
  } else {
    mk_lab_claim(ctx, drops == 0 || off > 0,
                 "without idempotence the retry wrote the batch again: %.0f duplicate records",
                 off);
  }
  if (mk_lab_value(ctx, "idempotence on", "refused") == 1) {
    mk_lab_claim(ctx, true,
                 "Kafka refuses enable.idempotence=true with retries=0: idempotence exists to\n"
                 "    make retries safe, and asking for it while forbidding them is a mistake it\n"
                 "    reports (when idempotence is only the default, it turns it off and logs why)");
  } else {
    mk_lab_claim_unless(
        ctx, on == 0 && (drops == 0 || recognised > 0),
        mk_lab_external(ctx)
            ? "a real cluster that does not check idempotent producers' ids and sequences as\n"
              "    Kafka does writes the retry again (librdkafka's mock cluster checks them only\n"
              "    for transactional producers)"
            : NULL,
        "with idempotence the broker recognised the retry by producer id + sequence (%.0f time(s))\n"
        "    and answered with the original offsets: no duplicates",
        recognised);
  }
  if (mk_lab_external(ctx))
    mk_lab_note(ctx,
                "  on a real cluster, appended and recognised are read from its Produce answers:\n"
                "  a retry answered with offsets already given out was recognised.");
  mk_lab_say(ctx,
             "\nidempotence is on by default since Kafka 3.0 (acks=all, retries > 0 and\n"
             "max.in.flight.requests.per.connection <= 5 are what it needs, note 002).");
  return 0;
}

const struct mk_lab mk_lab_duplicates = {
    "duplicates",
    "retries and duplicates: a lost response, retried, without and with idempotence",
    params,
    run,
};
