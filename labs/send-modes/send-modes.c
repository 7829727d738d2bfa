/*
 * Lab 2, send modes: fire-and-forget, synchronous (a future, then get) and asynchronous (a
 * callback): note 002's three Kotlin examples rewritten with producer.h, what each costs, and
 * what fire-and-forget never learns.
 * Guide: labs/send-modes/README.md. Notes: 000 "메시지 전송 방법" and "메시지 전달 시간 설정",
 * 002 "프로듀서 실습" (the three examples), 004 "전송 결과 확인" (Future.get vs callback).
 *
 *   part 1  three records in the synchronous and in the asynchronous mode, drawn: one waits
 *           for each answer before the next send, the other sends all three at once
 *   part 2  `records` records in each mode, each mode its own producer and topic: how long
 *           send() takes, how long until the record is known to be written, records per second
 *   part 3  the broker refuses the first `bad_requests` Produce requests of each mode's topic
 *           (an `error` fault, INVALID_RECORD: not retriable; NOT_ENOUGH_REPLICAS, retriable,
 *           with retriable=1). How many failures did each mode's application see, and how
 *           many records are missing from the log?
 *
 * The three modes are the three functions send_fire_and_forget, send_sync and send_async:
 * the code a student would write, timed around each call.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "300", "part 2: records sent in each mode", 1, 100000},
    {"fault_records", "10", "part 3: records sent in each mode while the broker refuses", 1, 10000},
    {"bad_requests", "2", "part 3: Produce requests the broker refuses, per mode", 1, 1000},
    {"retriable", "0", "part 3: 1 = refuse with NOT_ENOUGH_REPLICAS (retriable) instead", 0, 1},
    {NULL, NULL, NULL},
};

enum mode { FIRE_AND_FORGET, SYNC, ASYNC, NMODES };

/* The producer settings in force (the user's --set included) that the lab's sentences
 * depend on. */
struct in_force {
  int64_t linger_ms;
  int64_t retries;
  char acks[8];  /* "all", "1", "0" */
};
static const char *const ROWS[NMODES] = {"fire-and-forget", "sync", "async"};
static const char *const TOPIC_SUFFIX[NMODES] = {"ff", "sync", "async"};

/* What one mode's run measured. send_us: time inside mk_producer_send, per record; done_us:
 * send() to completion, per record (unknown for fire-and-forget: the application never hears). */
struct measured {
  int n;
  double *send_us, *done_ms;
  int ndone;                /* records whose completion the application saw */
  int errors_seen;          /* failures the application saw: a return code, get() or the callback */
  int64_t start_us, end_us;  /* first send() to the last completion (or flush's return) */
};

static int measured_init(struct measured *m, int n) {
  *m = (struct measured){.n = n};
  m->send_us = calloc((size_t)n, sizeof *m->send_us);
  m->done_ms = calloc((size_t)n, sizeof *m->done_ms);
  return m->send_us && m->done_ms ? 0 : MK_ERR__NO_MEMORY;
}

static void measured_free(struct measured *m) {
  free(m->send_us);
  free(m->done_ms);
}

/* The record note 002's examples send: topic, no key, "Apache Kafka is a distributed
 * streaming platform - i". */
static struct mk_producer_record record(const char *topic, const char *value) {
  return (struct mk_producer_record){.topic = topic,
                                     .partition = -1,
                                     .key = mk_value_null(),
                                     .value = mk_value_string(value),
                                     .timestamp = -1};
}

static void value_of(char *buf, size_t size, int i) {
  snprintf(buf, size, "Apache Kafka is a distributed streaming platform - %d", i);
}

/* ---- the three modes -------------------------------------------------------------------- */

/* Fire and forget (note 002's first example): send() and move on; nothing comes back but
 * send()'s own return code (an error found before the record reached the accumulator).
 * flush() is close()'s first half: it waits for every record, and reports none of their fates. */
static void send_fire_and_forget(struct mk_producer *p, const char *topic, struct measured *m) {
  char value[96];
  m->start_us = mk_now_us();
  for (int i = 0; i < m->n; i++) {
    value_of(value, sizeof value, i);
    struct mk_producer_record rec = record(topic, value);
    struct mk_err err = {0};
    int64_t t0 = mk_now_us();
    if (mk_producer_send(p, &rec, NULL, NULL, NULL, &err)) m->errors_seen++;
    m->send_us[i] = (double)(mk_now_us() - t0);
  }
  struct mk_err err = {0};
  mk_producer_flush(p, 60000, &err);  /* 0 even if every record failed */
  m->end_us = mk_now_us();
}

/* Synchronous (note 002's second example): send(), then get() on the future before the
 * next record. get() returns the record's metadata, or its error. */
static void send_sync(struct mk_producer *p, const char *topic, struct measured *m) {
  char value[96];
  m->start_us = mk_now_us();
  for (int i = 0; i < m->n; i++) {
    value_of(value, sizeof value, i);
    struct mk_producer_record rec = record(topic, value);
    struct mk_future *f = NULL;
    struct mk_err err = {0};
    int64_t t0 = mk_now_us();
    mk_producer_send(p, &rec, NULL, NULL, &f, &err);
    int64_t t1 = mk_now_us();
    struct mk_record_metadata md;
    int rc = mk_future_get(f, 60000, &md, &err);  /* blocks until the broker has answered */
    int64_t t2 = mk_now_us();
    mk_future_free(f);
    m->send_us[i] = (double)(t1 - t0);
    if (rc == MK_ERR__TIMED_OUT) continue;
    m->done_ms[m->ndone++] = (double)(t2 - t0) / 1000.0;
    if (rc) m->errors_seen++;
  }
  m->end_us = mk_now_us();
}

/* Asynchronous (note 002's third example): send() with a callback, PeterProducerCallback's
 * onCompletion, which the Sender thread calls with the metadata or the error. */
struct async_run {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct measured *m;
  int completed;
  int64_t *sent_us;
};
struct async_record {
  struct async_run *run;
  int i;
};

static void on_completion(const struct mk_record_metadata *md, const struct mk_err *err,
                          void *opaque) {
  (void)md;
  struct async_record *r = opaque;
  struct async_run *run = r->run;
  int64_t now = mk_now_us();
  pthread_mutex_lock(&run->lock);
  if (err->code) run->m->errors_seen++;  /* e.printStackTrace(), in the Kotlin */
  run->m->done_ms[run->m->ndone++] = (double)(now - run->sent_us[r->i]) / 1000.0;
  run->m->end_us = now;
  run->completed++;
  pthread_cond_broadcast(&run->changed);
  pthread_mutex_unlock(&run->lock);
}

static void async_run_init(struct async_run *run, struct measured *m, int64_t *sent_us) {
  *run = (struct async_run){.m = m, .sent_us = sent_us};
  pthread_mutex_init(&run->lock, NULL);
  mk_lab_cond_init(&run->changed);
}

static void async_run_destroy(struct async_run *run) {
  pthread_mutex_destroy(&run->lock);
  pthread_cond_destroy(&run->changed);
}

/* Returns 0, or MK_ERR__TIMED_OUT if some callbacks had not run within 60 s. The producer
 * must be closed (which runs every callback still due) before run's memory goes. */
static int send_async(struct mk_producer *p, const char *topic, struct measured *m,
                      struct async_run *run, struct async_record *recs) {
  char value[96];
  m->start_us = mk_now_us();
  int sent = 0;
  for (int i = 0; i < m->n; i++) {
    value_of(value, sizeof value, i);
    struct mk_producer_record rec = record(topic, value);
    struct mk_err err = {0};
    recs[i] = (struct async_record){run, i};
    int64_t t0 = mk_now_us();
    pthread_mutex_lock(&run->lock);
    run->sent_us[i] = t0;
    pthread_mutex_unlock(&run->lock);
    /* A failure at once calls back too, on this thread. */
    mk_producer_send(p, &rec, on_completion, &recs[i], NULL, &err);
    m->send_us[i] = (double)(mk_now_us() - t0);
    sent++;
  }
  int64_t deadline = mk_now_us() + 60000000;
  pthread_mutex_lock(&run->lock);
  while (run->completed < sent && mk_now_us() < deadline)
    mk_lab_cond_wait_until(&run->changed, &run->lock, deadline);
  bool all = run->completed >= sent;
  pthread_mutex_unlock(&run->lock);
  return all ? 0 : MK_ERR__TIMED_OUT;
}

/* Run one mode on a new producer (kv: the scenario's settings) and topic; close the producer.
 * *record_errors: the producer's own count of failed records (record-error-total). */
static int run_mode(struct mk_lab_ctx *ctx, enum mode mode, const char *topic,
                    const char *const *kv, bool warm_up, struct measured *m,
                    double *record_errors) {
  topic = mk_lab_topic(ctx, topic);  /* its name on a real cluster (lab.h) */
  struct mk_producer *p;
  int rc = mk_lab_producer_new(ctx, kv, &p);
  if (rc) return rc;
  if (warm_up) {  /* metadata and the producer id, once: not part of any mode's timing */
    struct mk_producer_record rec = record(topic, "warm-up");
    struct mk_future *f = NULL;
    struct mk_err err = {0};
    mk_producer_send(p, &rec, NULL, NULL, &f, &err);
    rc = mk_future_get(f, 30000, NULL, &err);
    mk_future_free(f);
    if (rc) {
      mk_producer_close(p, 0);
      return mk_lab_fail(ctx, rc, "%s: the warm-up record failed: %s", ROWS[mode], err.msg);
    }
  }
  struct async_run run;
  struct async_record *recs = NULL;
  if (mode == FIRE_AND_FORGET) {
    send_fire_and_forget(p, topic, m);
  } else if (mode == SYNC) {
    send_sync(p, topic, m);
  } else {
    async_run_init(&run, m, calloc((size_t)m->n, sizeof *run.sent_us));
    recs = calloc((size_t)m->n, sizeof *recs);
    if (!recs || !run.sent_us)
      rc = mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
    else if (send_async(p, topic, m, &run, recs))
      rc = mk_lab_fail(ctx, MK_ERR__TIMED_OUT, "async: callbacks missing after 60 s");
  }
  /* The producer counts a failed batch after its callbacks have returned: flush (which waits
   * until every batch is done with) before reading the count. */
  struct mk_err err = {0};
  mk_producer_flush(p, 10000, &err);
  *record_errors = mk_producer_metric(p, "record-error-total");
  mk_producer_close(p, 5000);  /* every callback has run when this returns */
  if (mode == ASYNC) {
    async_run_destroy(&run);
    free(recs);
    free(run.sent_us);
  }
  return rc;
}

/* ---- part 1: three records, drawn ------------------------------------------------------- */

static int part_drawn(struct mk_lab_ctx *ctx, const struct in_force *force) {
  mk_lab_heading(ctx, "1. Three records, synchronous and asynchronous");
  mk_lab_say(
      ctx,
      "Note 002's examples send three records (for i in 0..2) to a topic with one partition\n"
      "and three replicas (kafka-topics.sh --create --partitions 1 --replication-factor 3).\n"
      "The same three calls in C (producer.h):\n"
      "  mk_producer_send(p, &rec, NULL, NULL, NULL, &err);         fire and forget\n"
      "  mk_producer_send(p, &rec, NULL, NULL, &f, &err);           synchronous: then\n"
      "  mk_future_get(f, -1, &metadata, &err);                       wait for the answer\n"
      "  mk_producer_send(p, &rec, on_completion, ctx, NULL, &err);   asynchronous: the Sender\n"
      "                                                              thread calls you back");
  mk_lab_predict(ctx,
                 "how many Produce requests carry the three records in each mode? Where does\n"
                 "         the synchronous one spend its time?");
  for (int mode = SYNC; mode <= ASYNC; mode++) {
    char topic[32];
    snprintf(topic, sizeof topic, "drawn-%s", TOPIC_SUFFIX[mode]);
    int rc = mk_lab_create_topic(ctx, topic, 1, 3);
    if (rc) return rc;
    const char *real = mk_lab_topic(ctx, topic);  /* its name on a real cluster (lab.h) */
    /* The producer (its metadata and id) is ready before the mark: the drawing shows sends. */
    struct measured m;
    if (measured_init(&m, 3)) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
    size_t mark = 0;
    struct mk_producer *p;
    rc = mk_lab_producer_new(ctx, NULL, &p);
    if (!rc) {
      struct mk_producer_record rec = record(real, "warm-up");
      struct mk_future *f = NULL;
      struct mk_err err = {0};
      mk_producer_send(p, &rec, NULL, NULL, &f, &err);
      rc = mk_future_get(f, 30000, NULL, &err);
      mk_future_free(f);
      if (rc) mk_lab_fail(ctx, rc, "the warm-up record failed: %s", err.msg);
    }
    if (!rc) {
      mark = mk_lab_mark(ctx);
      if (mode == SYNC) {
        send_sync(p, real, &m);
      } else {
        struct async_run run;
        struct async_record recs[3];
        int64_t sent_us[3];
        async_run_init(&run, &m, sent_us);
        if (send_async(p, real, &m, &run, recs))
          rc = mk_lab_fail(ctx, MK_ERR__TIMED_OUT, "async: callbacks missing after 60 s");
        mk_producer_close(p, 5000);  /* every callback has run when this returns */
        p = NULL;
        async_run_destroy(&run);
      }
    }
    if (p) mk_producer_close(p, 5000);
    if (!rc) {
      mk_lab_sleep_ms(10);
      static const char *const focus[] = {"producer:send", "producer:request_sent",
                                          "producer:complete", NULL};
      mk_lab_timeline_focus(ctx, mark,
                            mode == SYNC ? "Synchronous: send, get(), send, get(), ..."
                                         : "Asynchronous: three sends, then three callbacks",
                            focus);
      mk_lab_figure(ctx, mode == SYNC ? "drawn sync" : "drawn async", "requests",
                    mk_lab_count(ctx, mark, "producer", "request_sent", topic));
    }
    measured_free(&m);
    if (rc) return rc;
  }
  char waits[192];
  if (force->linger_ms > 0)
    snprintf(waits, sizeof waits,
             "linger.ms (%lld ms: the batch waits for company that never comes, since the next "
             "send() waits for this answer), then ",
             (long long)force->linger_ms);
  else
    snprintf(waits, sizeof waits, "(linger.ms=0: the batch leaves at once) ");
  mk_lab_say(ctx,
             "\nSynchronous: each get() waits for %sthe request and the broker's answer "
             "(acks=%s): %.0f requests for 3 records. Asynchronous: the three records %s; the "
             "callbacks run on the Sender thread.",
             waits, force->acks, mk_lab_value(ctx, "drawn sync", "requests"),
             mk_lab_value(ctx, "drawn async", "requests") == 1
                 ? "share one batch and one request"
                 : "were sent as they came, without waiting for each other's answers");
  return 0;
}

/* ---- part 2: what each mode costs ------------------------------------------------------- */

/* qsort first: mk_lab_percentile's insertion sort is then linear. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double percentile(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return mk_lab_percentile(v, (size_t)n, p);
}

static int part_costs(struct mk_lab_ctx *ctx, int records, const struct in_force *f) {
  mk_lab_heading(ctx, "2. What each mode costs: %d records each", records);
  mk_lab_say(
      ctx,
      "Note 000 (\"메시지 전달 시간 설정\") splits a send in two: the send() call itself,\n"
      "and from its return to the callback. Each mode below sends %d records as fast as it\n"
      "can, on its own producer and topic (acks=%s, linger.ms=%lld).",
      records, f->acks, (long long)f->linger_ms);
  mk_lab_predict(ctx,
                 "how long does one send() call take? Which mode is slowest in records per\n"
                 "         second, and by how much?");
  for (int mode = 0; mode < NMODES; mode++) {
    char topic[32];
    snprintf(topic, sizeof topic, "modes-%s", TOPIC_SUFFIX[mode]);
    int rc = mk_lab_create_topic(ctx, topic, 1, 3);
    struct measured m;
    if (!rc && measured_init(&m, records))
      rc = mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
    if (rc) return rc;
    size_t mark = mk_lab_mark(ctx);
    double record_errors = 0;
    rc = run_mode(ctx, (enum mode)mode, topic, NULL, true, &m, &record_errors);
    if (!rc) {
      const char *row = ROWS[mode];
      double secs = (double)(m.end_us - m.start_us) / 1e6;
      mk_lab_figure(ctx, row, "send() us p50", percentile(m.send_us, records, 50));
      mk_lab_figure(ctx, row, "send() us p99", percentile(m.send_us, records, 99));
      mk_lab_figure(ctx, row, "to done ms p50", percentile(m.done_ms, m.ndone, 50));
      mk_lab_figure(ctx, row, "elapsed ms", secs * 1000.0);
      mk_lab_figure(ctx, row, "records/s", secs > 0 ? (double)records / secs : 0);
      mk_lab_figure(ctx, row, "requests",
                    mk_lab_count(ctx, mark, "producer", "request_sent", topic));
      mk_lab_figure(ctx, row, "failed", record_errors);
      mk_lab_progress(ctx, "modes", mode + 1, NMODES);
    }
    measured_free(&m);
    if (rc) return rc;
  }
  static const char *const cols[] = {"send() us p50",
                                     "send() us p99",
                                     "to done ms p50",
                                     "elapsed ms",
                                     "records/s",
                                     "requests",
                                     NULL};
  static const char *const rows[] = {"fire-and-forget", "sync", "async", NULL};
  mk_lab_table(ctx,
               "send() = time inside the call; to done = send() to get()'s return or the callback\n"
               "(fire-and-forget: the application never knows, so -):",
               rows, cols);
  double sync_rate = mk_lab_value(ctx, "sync", "records/s");
  double async_rate = mk_lab_value(ctx, "async", "records/s");
  mk_lab_claim(ctx, sync_rate < async_rate,
               "synchronous sending is the slowest: %.0f records/s against %.0f asynchronously\n"
               "    (%.0fx): one request per record, each waiting %sfor the broker's answer",
               sync_rate, async_rate, sync_rate > 0 ? async_rate / sync_rate : 0,
               f->linger_ms > 0 ? "linger.ms and " : "");
  mk_lab_say(ctx,
             "send() itself takes microseconds in every mode: it only appends to a batch. The\n"
             "difference is whether the application waits for the answer before the next one.");
  return 0;
}

/* ---- part 3: a fault -------------------------------------------------------------------- */

static int part_fault(struct mk_lab_ctx *ctx, int records, int bad, bool retriable,
                      const struct in_force *f) {
  const char *error = retriable ? "NOT_ENOUGH_REPLICAS" : "INVALID_RECORD";
  bool retried = retriable && f->retries > 0;  /* retries=0: a retriable error fails at once */
  mk_lab_heading(ctx, "3. The broker refuses: who finds out?");
  mk_lab_say(
      ctx,
      "Each mode sends %d records to its own topic, whose first %d Produce request(s) the broker "
      "answers with %s (a fault: {\"action\": \"error\", \"error\": \"%s\", ...}): %s.",
      records, bad, error, error,
      retried
          ? "retriable, \"fewer in-sync replicas than min.insync.replicas\", so the producer "
            "retries it (retries, retry.backoff.ms, until delivery.timeout.ms)"
      : retriable
          ? "retriable, \"fewer in-sync replicas than min.insync.replicas\", but retries=0: the "
            "producer may not retry, so it fails the batch at once, each record with the error"
          : "not retriable, \"the broker refuses these records\", so the producer fails the "
            "batch at once, and each of its records completes with the error");
  mk_lab_predict(ctx,
                 "how many failures does each mode's application see? How many records are\n"
                 "         missing from the log?");
  for (int mode = 0; mode < NMODES; mode++) {
    char topic[32];
    snprintf(topic, sizeof topic, "refused-%s", TOPIC_SUFFIX[mode]);
    int rc = mk_lab_create_topic(ctx, topic, 1, 3);
    if (!rc)
      rc = mk_lab_fault(ctx,
                        "{\"action\": \"error\", \"api\": \"Produce\", \"error\": \"%s\", "
                        "\"topic\": \"%s\", \"count\": %d}",
                        error, topic, bad);
    struct measured m;
    if (!rc && measured_init(&m, records))
      rc = mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
    if (rc) return rc;
    size_t mark = mk_lab_mark(ctx);
    double record_errors = 0;
    rc = run_mode(ctx, (enum mode)mode, topic, NULL, false, &m, &record_errors);
    struct mk_stored_records log = {0};
    if (!rc) rc = mk_lab_read_records(ctx, topic, 0, -1, false, &log);
    if (!rc) {
      int missing = 0;
      for (int i = 0; i < records; i++) {
        char value[96];
        value_of(value, sizeof value, i);
        missing += mk_lab_records_count_value(&log, value) == 0;
      }
      const char *row = ROWS[mode];
      mk_lab_figure(ctx, row, "sent", records);
      mk_lab_figure(ctx, row, "errors seen", m.errors_seen);
      mk_lab_figure(ctx, row, "producer failed", record_errors);
      mk_lab_figure(ctx, row, "retries", mk_lab_count(ctx, mark, "producer", "retry", topic));
      mk_lab_figure(ctx, row, "missing from log", missing);
      if (mode == FIRE_AND_FORGET) {
        mk_lab_sleep_ms(5);
        static const char *const focus[] = {"producer:complete", "broker:fault", NULL};
        mk_lab_timeline_focus(
            ctx, mark, "Fire and forget: what the trace saw (the application saw nothing):", focus);
      }
    }
    mk_stored_records_free(&log);
    measured_free(&m);
    if (rc) return rc;
  }
  static const char *const cols[] = {"sent",    "errors seen",      "producer failed",
                                     "retries", "missing from log", NULL};
  static const char *const rows[] = {"fire-and-forget", "sync", "async", NULL};
  mk_lab_table(ctx,
               "errors seen: by the application (send()'s return, get(), the callback);\n"
               "producer failed: the producer's own record-error-total metric:",
               rows, cols);
  double ff_seen = mk_lab_value(ctx, "fire-and-forget", "errors seen");
  double ff_missing = mk_lab_value(ctx, "fire-and-forget", "missing from log");
  double async_seen = mk_lab_value(ctx, "async", "errors seen");
  double async_missing = mk_lab_value(ctx, "async", "missing from log");
  double sync_seen = mk_lab_value(ctx, "sync", "errors seen");
  double sync_missing = mk_lab_value(ctx, "sync", "missing from log");
  if (!retried) {
    mk_lab_claim(ctx, ff_seen == 0 && ff_missing > 0,
                 "fire-and-forget saw %.0f errors, and %.0f of its records are not in the log",
                 ff_seen, ff_missing);
    mk_lab_claim(
        ctx,
        async_seen > 0 && async_seen == async_missing && sync_seen > 0 && sync_seen == sync_missing,
        "the callback and get() saw every failure: %.0f and %.0f, one per missing record",
        async_seen, sync_seen);
  } else {
    double all_missing = ff_missing + sync_missing + async_missing;
    double all_seen = ff_seen + sync_seen + async_seen;
    mk_lab_claim(ctx, all_missing == 0 && all_seen == 0,
                 "a retriable error is retried by the producer (retries, delivery.timeout.ms):\n"
                 "    no mode saw it, and nothing is missing");
  }
  mk_lab_note(
      ctx,
      "  Note 002 says the callback runs \"if send() succeeds\": it runs exactly once either way,\n"
      "  with the error when there is one (the async row). And note 002's \"synchronous sending\n"
      "  is the core of reliable messaging\": the callback saw every failure get() saw, without\n"
      "  waiting for each record (part 2).");
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int fault_records = (int)mk_lab_param(ctx, "fault_records");
  int bad = (int)mk_lab_param(ctx, "bad_requests");
  int64_t retriable = mk_lab_param(ctx, "retriable");
  int rc = mk_lab_broker_start(ctx, NULL);
  struct in_force f = {0};
  struct mk_producer_config *cfg = NULL;
  if (!rc) rc = mk_lab_producer_config(ctx, NULL, &cfg);
  if (rc) return rc;
  f.linger_ms = cfg->linger_ms;
  f.retries = cfg->retries;
  snprintf(f.acks, sizeof f.acks, "%s", cfg->acks == -1 ? "all" : cfg->acks == 0 ? "0" : "1");
  mk_producer_config_free(cfg);
  rc = part_drawn(ctx, &f);
  if (!rc) rc = part_costs(ctx, records, &f);
  if (!rc) rc = part_fault(ctx, fault_records, bad, retriable == 1, &f);
  if (rc) return rc;
  mk_lab_say(
      ctx,
      "\nNext: labs/acks (what \"written\" means in the callback), labs/batching (linger.ms and\n"
      "batch.size, the reason asynchronous sending is fast).");
  return 0;
}

const struct mk_lab mk_lab_send_modes = {
    "send-modes",
    "fire-and-forget, synchronous and asynchronous sends: what each costs, and what each learns",
    params,
    run,
};
