/*
 * Lab 11, headers-interceptors: metadata beside the key and value, and code that sees every
 * send and every acknowledgement.
 * Guide: labs/headers-interceptors/README.md. Notes: 000 section 6 (headers: "Key, Value를
 * 건드리지 않고 추가 메타데이터") and section 7 (interceptors: onSend, onAcknowledgement).
 *
 *   part 1  headers: `records` records, each with four headers (a string, the same string
 *           for all, a null value and three binary bytes); the leader's log is read back
 *           (mk_lab_read_records, on the broker loop) and every header compared byte for
 *           byte, with the key and value
 *   part 2  interceptors: a producer with two of them, in this order:
 *             counting  counts onSend and onAcknowledgement, and measures send -> ack from
 *                       the record's timestamp (as Java's monitoring interceptors do)
 *             flaky     adds an "enriched-by" header in onSend, but fails on every
 *                       fail_every-th record (and in onAcknowledgement too); a failing
 *                       interceptor leaves the record as it was: the send goes on
 *           `records` records, then one that fails at once (partition 99 does not exist):
 *           onSend and onAcknowledgement each run records + 1 times
 *   part 3  timestamps: one record with an old explicit timestamp to a CreateTime topic and
 *           one to a LogAppendTime topic (message.timestamp.type): what RecordMetadata
 *           reports and what the log keeps
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"
#include "protocol/record_batch.h"

static const struct mk_lab_param params[] = {
    {"records", "10", "records sent in each part", 1, 4000},
    {"fail_every", "3", "the flaky interceptor fails on every fail_every-th record (0: never)", 0,
     4000},
    {NULL, NULL, NULL},
};

/* ---- reading the log back, header by header ------------------------------------------- */

/* "name=value" for printing: text as "text", null as null, bytes in hex. */
static void show_header(const struct mk_stored_header *h, char *buf, size_t size) {
  const uint8_t *v = (const uint8_t *)h->value.ptr;
  int32_t len = h->value.len;
  size_t n = (size_t)snprintf(buf, size, "%s=", h->key.ptr ? h->key.ptr : "");
  bool text = len >= 0;
  for (int32_t i = 0; i < len && text; i++) text = v[i] >= 0x20 && v[i] < 0x7f;
  if (len < 0)
    snprintf(buf + n, size - n, "null");
  else if (text)
    snprintf(buf + n, size - n, "\"%s\"", h->value.ptr);
  else
    for (int32_t i = 0; i < len && n + 4 < size; i++)
      n += (size_t)snprintf(buf + n, size - n, "%s%02x", i ? " " : "", v[i]);
}

/* Whether record r carries exactly one header, key=value (text). */
static bool only_header(const struct mk_stored_record *r, const char *key, const char *value) {
  return r->headers_count == 1 && mk_lab_bytes_is(r->headers[0].key, key) &&
         mk_lab_bytes_is(r->headers[0].value, value);
}

/* ---- sending with headers -------------------------------------------------------------- */

struct sends {
  pthread_mutex_t lock;
  int completed, failed;
  int16_t first_error;
};

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  (void)md;
  struct sends *s = opaque;
  pthread_mutex_lock(&s->lock);
  s->completed++;
  s->failed += err->code != 0;
  if (err->code && !s->first_error) s->first_error = err->code;
  pthread_mutex_unlock(&s->lock);
}

/* max.block.ms=0 forbids send() to wait for a topic's metadata: until it has arrived, every
 * send fails at once. The sentence the labs' claims carry for it (NULL otherwise). */
static const char *no_wait_reason(struct mk_lab_ctx *ctx) {
  struct mk_producer_config *cfg;
  const char *why = NULL;
  if (mk_lab_producer_config(ctx, NULL, &cfg)) return NULL;
  if (cfg->max_block_ms == 0)
    why = "max.block.ms=0: send() may not wait for the topic's metadata, so the sends made\n"
          "    before it arrived failed at once and never reached the broker";
  mk_producer_config_free(cfg);
  return why;
}

static const uint8_t BIN[3] = {0x00, 0xff, 0x7f};

/* ---- part 1: headers ------------------------------------------------------------------- */

static int part_headers(struct mk_lab_ctx *ctx, int records) {
  static const char *const TOPIC = "headers";
  mk_lab_heading(ctx, "1. Headers: metadata beside the key and value");
  mk_lab_say(
      ctx,
      "Topic \"%s\" (1 partition). Each of %d records, key \"order-N\", value \"payload-N\",\n"
      "carries four headers: trace-id=\"t-N\", origin=\"lab-11\", note=null and bin=00 ff 7f.",
      TOPIC, records);
  mk_lab_predict(
      ctx,
      "do the key and value change? Do the headers come back as sent: the null one, the\n"
      "         binary one, in the same order?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  struct mk_producer *p = NULL;
  if (!rc) rc = mk_lab_producer_new(ctx, NULL, &p);
  if (rc) return rc;
  struct sends s = {.lock = PTHREAD_MUTEX_INITIALIZER};
  size_t mark = mk_lab_mark(ctx);
  for (int i = 0; i < records; i++) {
    char key[32], value[32], trace[32];
    snprintf(key, sizeof key, "order-%d", i);
    snprintf(value, sizeof value, "payload-%d", i);
    snprintf(trace, sizeof trace, "t-%d", i);
    struct mk_record_header headers[4] = {
        {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)trace, (int32_t)strlen(trace)}},
        {{(const uint8_t *)"origin", 6}, {(const uint8_t *)"lab-11", 6}},
        {{(const uint8_t *)"note", 4}, {NULL, -1}},
        {{(const uint8_t *)"bin", 3}, {BIN, 3}},
    };
    struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, TOPIC),
                                     .partition = -1,
                                     .key = mk_value_string(key),
                                     .value = mk_value_string(value),
                                     .timestamp = -1,
                                     .headers = headers,
                                     .headers_count = 4};
    struct mk_err err = {0};
    mk_producer_send(p, &rec, on_done, &s, NULL, &err);
  }
  struct mk_err err = {0};
  rc = mk_producer_flush(p, 30000, &err);
  mk_producer_close(p, 5000); /* every callback has run once close returns */
  if (rc) return mk_lab_fail(ctx, rc, "part 1: %s", err.msg);
  mk_lab_sleep_ms(20);
  mk_lab_timeline(ctx, mark, NULL);

  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log))) return rc;
  int n = (int)log.n, intact = 0, kv_intact = 0;
  for (int i = 0; i < n; i++) {
    const struct mk_stored_record *l = &log.v[i];
    const struct mk_stored_header *h = l->headers;
    /* Record k of the sends ("order-k"), whichever offset it landed at (the ones that failed
     * in send() are missing). */
    int k = l->key.ptr && strncmp(l->key.ptr, "order-", 6) == 0 ? atoi(l->key.ptr + 6) : -1;
    char value[32], trace[32];
    snprintf(value, sizeof value, "payload-%d", k);
    snprintf(trace, sizeof trace, "t-%d", k);
    kv_intact += k >= 0 && mk_lab_bytes_is(l->value, value);
    intact += l->headers_count == 4 && mk_lab_bytes_is(h[0].key, "trace-id") &&
              mk_lab_bytes_is(h[0].value, trace) && mk_lab_bytes_is(h[1].key, "origin") &&
              mk_lab_bytes_is(h[1].value, "lab-11") && mk_lab_bytes_is(h[2].key, "note") &&
              h[2].value.len == -1 && mk_lab_bytes_is(h[3].key, "bin") &&
              mk_lab_bytes_equal(h[3].value, BIN, 3);
  }
  if (n > 0) {
    char line[512] = "", h[128];
    for (int k = 0; k < log.v[0].headers_count; k++) {
      show_header(&log.v[0].headers[k], h, sizeof h);
      snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", k ? ", " : "", h);
    }
    mk_lab_say(ctx, "\n  the log, offset %lld: key \"%s\", value \"%s\", headers: %s",
               (long long)log.v[0].offset, log.v[0].key.ptr ? log.v[0].key.ptr : "",
               log.v[0].value.ptr ? log.v[0].value.ptr : "", line);
  }
  mk_stored_records_free(&log);
  mk_lab_figure(ctx, "headers", "sent", records);
  mk_lab_figure(ctx, "headers", "failed", s.failed);
  mk_lab_figure(ctx, "headers", "in log", n);
  mk_lab_figure(ctx, "headers", "headers intact", intact);
  mk_lab_figure(ctx, "headers", "key+value intact", kv_intact);
  int accepted = records - s.failed;
  if (s.failed)
    mk_lab_say(ctx, "  %d of the %d sends failed (%s), %d reached the log", s.failed, records,
               mk_err_name(s.first_error), n);
  mk_lab_claim_unless(
      ctx, n == accepted && n > 0 && intact == n && kv_intact == n, no_wait_reason(ctx),
      "all %d records the broker accepted came back with their 4 headers byte for byte and in\n"
      "    order (the null and the binary one too), and with the key and value as sent (%d, %d)",
      n, intact, kv_intact);
  return 0;
}

/* ---- part 2: interceptors -------------------------------------------------------------- */

/* The counting interceptor: onSend on the app thread, onAcknowledgement on the Sender's
 * (or the caller's, for a send that fails at once): hence atomics. */
struct counting {
  atomic_int on_send, on_ack, ack_errors, closed;
  pthread_mutex_t lock; /* latencies */
  double latency_ms[4096];
  int nlatency;
};

static void counting_on_send(void *opaque, struct mk_producer_record *record) {
  (void)record;
  struct counting *c = opaque;
  atomic_fetch_add(&c->on_send, 1);
}

static void counting_on_ack(void *opaque, const struct mk_record_metadata *md,
                            const struct mk_err *err) {
  struct counting *c = opaque;
  atomic_fetch_add(&c->on_ack, 1);
  /* producer_config.h promises err->code 0 on success; the producer passes err = NULL
   * then, so read it defensively. */
  if (err && err->code) {
    atomic_fetch_add(&c->ack_errors, 1);
    return;
  }
  /* send -> ack, from the record's timestamp (CreateTime, set at send(): ms resolution). */
  pthread_mutex_lock(&c->lock);
  if (c->nlatency < 4096) c->latency_ms[c->nlatency++] = (double)(mk_wall_ms() - md->timestamp);
  pthread_mutex_unlock(&c->lock);
}

static void counting_close(void *opaque) {
  struct counting *c = opaque;
  atomic_fetch_add(&c->closed, 1);
}

/* The flaky interceptor: enriches each record with a header, except that it fails on every
 * fail_every-th one. On failure it leaves the record as it found it: onSend returns nothing,
 * so it cannot stop the send (Java catches and logs what an interceptor throws, and goes on
 * with the record as it was). */
struct flaky {
  int fail_every;
  atomic_int calls, send_failures, ack_calls, ack_failures;
  bool *failed_on;  /* [call - 1]: onSend failed on that record (the app thread's calls) */
  int nfailed_on;
};

enum { MAX_HEADERS = 8 };  /* the most headers the enriching interceptor will extend */

/* The record's new header array must outlive onSend: the producer copies the headers into
 * the batch before mk_producer_send returns, and this thread sends nothing else meanwhile. */
static _Thread_local struct mk_record_header enriched[MAX_HEADERS + 1];

static void flaky_on_send(void *opaque, struct mk_producer_record *record) {
  struct flaky *f = opaque;
  int call = atomic_fetch_add(&f->calls, 1) + 1;
  if (f->fail_every > 0 && call % f->fail_every == 0) {
    atomic_fetch_add(&f->send_failures, 1); /* "a lookup failed": leave the record alone */
    if (call <= f->nfailed_on) f->failed_on[call - 1] = true;
    return;
  }
  if (record->headers_count > MAX_HEADERS) return;
  for (int i = 0; i < record->headers_count; i++) enriched[i] = record->headers[i];
  enriched[record->headers_count] = (struct mk_record_header){{(const uint8_t *)"enriched-by", 11},
                                                              {(const uint8_t *)"flaky", 5}};
  record->headers = enriched;
  record->headers_count++;
}

static void flaky_on_ack(void *opaque, const struct mk_record_metadata *md,
                         const struct mk_err *err) {
  (void)md;
  (void)err;
  struct flaky *f = opaque;
  int call = atomic_fetch_add(&f->ack_calls, 1) + 1;
  if (f->fail_every > 0 && call % f->fail_every == 0) atomic_fetch_add(&f->ack_failures, 1);
}

static int part_interceptors(struct mk_lab_ctx *ctx, int records, int fail_every) {
  static const char *const TOPIC = "intercepted";
  mk_lab_heading(ctx, "2. Interceptors: onSend and onAcknowledgement");
  char how_often[64] = "never fails";
  if (fail_every > 0)
    snprintf(how_often, sizeof how_often, "fails on one record in %d", fail_every);
  mk_lab_say(
      ctx,
      "Topic \"%s\" (1 partition). The producer has two interceptors (interceptor.classes):\n"
      "  counting  counts onSend and onAcknowledgement; measures send -> ack from each\n"
      "            record's timestamp\n"
      "  flaky     adds a header enriched-by=\"flaky\" in onSend, but %s\n"
      "            (and on one acknowledgement in as many)\n"
      "%d records, then one more to partition 99, which does not exist.",
      TOPIC, how_often, records);
  mk_lab_predict(
      ctx,
      "how many onSend and onAcknowledgement calls? Do the records the flaky one fails on\n"
      "         reach the broker? Is onAcknowledgement called for the record that fails?");
  int rc = mk_lab_create_topic(ctx, TOPIC, 1, 3);
  if (rc) return rc;
  struct counting *counting = calloc(1, sizeof *counting);
  struct flaky flaky = {.fail_every = fail_every,
                        .failed_on = calloc((size_t)records + 1, sizeof(bool)),
                        .nfailed_on = records + 1};
  struct mk_lab_sends *sends = mk_lab_sends_new(records + 1);
  if (!counting || !flaky.failed_on || !sends) {
    free(counting);
    free(flaky.failed_on);
    mk_lab_sends_free(sends);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  pthread_mutex_init(&counting->lock, NULL);
  struct mk_producer_interceptor ic[2] = {
      {"counting", counting, counting_on_send, counting_on_ack, counting_close},
      {"flaky", &flaky, flaky_on_send, flaky_on_ack, NULL},
  };
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, NULL, &cfg))) goto out;
  struct mk_err err = {0};
  if (mk_producer_config_add_interceptor(cfg, &ic[0], &err) ||
      mk_producer_config_add_interceptor(cfg, &ic[1], &err) ||
      mk_producer_config_finish(cfg, &err)) {
    mk_producer_config_free(cfg);
    rc = mk_lab_fail(ctx, err.code, "interceptors: %s", err.msg);
    goto out;
  }
  static const char *const shown[] = {"interceptor.classes", "acks", "linger.ms", NULL};
  mk_lab_show_settings(ctx, cfg, shown);
  struct mk_producer *p;
  rc = mk_producer_new(cfg, &p, &err);
  mk_producer_config_free(cfg);
  if (rc) {
    rc = mk_lab_fail(ctx, rc, "producer: %s", err.msg);
    goto out;
  }
  size_t mark = mk_lab_mark(ctx);
  for (int i = 0; i <= records; i++) {
    char value[32];
    snprintf(value, sizeof value, "event-%d", i);
    mk_lab_send(ctx, p, sends, TOPIC, i < records ? 0 : 99 /* the last: no such partition */,
                NULL, value);
  }
  rc = mk_lab_sends_wait(sends, 30000); /* no flush: each record waits linger.ms */
  mk_producer_close(p, 5000);          /* calls each interceptor's close */
  if (rc) {
    rc = mk_lab_fail(ctx, rc, "part 2: the sends did not complete within 30 s");
    goto out;
  }
  mk_lab_sleep_ms(20);
  mk_lab_timeline(ctx, mark, NULL);

  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, TOPIC, 0, -1, false, &log))) goto out;
  int n = (int)log.n;
  /* Each record in the log ("event-k") should carry the header unless the flaky
   * interceptor failed on send k (its calls come in send order, on this one thread). */
  int enriched_ok = 0, expected_plain = 0, plain_ok = 0;
  for (int i = 0; i < n; i++) {
    const char *v = log.v[i].value.ptr;
    int k = v && strncmp(v, "event-", 6) == 0 ? atoi(v + 6) : -1;
    bool failed_here = k >= 0 && k < flaky.nfailed_on && flaky.failed_on[k];
    expected_plain += failed_here;
    if (failed_here)
      plain_ok += log.v[i].headers_count == 0;
    else
      enriched_ok += only_header(&log.v[i], "enriched-by", "flaky");
  }
  mk_stored_records_free(&log);
  int failed = sends->failed;  /* every callback has run: the producer is closed */
  double p50 = mk_lab_percentile(counting->latency_ms, (size_t)counting->nlatency, 50);
  double max = mk_lab_percentile(counting->latency_ms, (size_t)counting->nlatency, 100);
  int on_send = atomic_load(&counting->on_send), on_ack = atomic_load(&counting->on_ack);
  int ack_errors = atomic_load(&counting->ack_errors);
  mk_lab_figure(ctx, "counting", "onSend", on_send);
  mk_lab_figure(ctx, "counting", "onAcknowledgement", on_ack);
  mk_lab_figure(ctx, "counting", "errors acknowledged", ack_errors);
  mk_lab_figure(ctx, "counting", "send->ack p50 ms", p50);
  mk_lab_figure(ctx, "counting", "send->ack max ms", max);
  mk_lab_figure(ctx, "counting", "close", atomic_load(&counting->closed));
  mk_lab_figure(ctx, "flaky", "onSend failures", atomic_load(&flaky.send_failures));
  mk_lab_figure(ctx, "flaky", "onAck failures", atomic_load(&flaky.ack_failures));
  mk_lab_figure(ctx, "flaky", "records enriched", enriched_ok);
  mk_lab_figure(ctx, "flaky", "records not enriched", plain_ok);
  mk_lab_figure(ctx, "sends", "sent", records + 1);
  mk_lab_figure(ctx, "sends", "failed", failed);
  mk_lab_figure(ctx, "sends", "in log", n);
  char latency[160];
  if (counting->nlatency > 0)
    snprintf(latency, sizeof latency,
             "send -> ack p50 %.0f ms, max %.0f ms (the record timestamp has ms resolution)", p50,
             max);
  else
    snprintf(latency, sizeof latency, "no send -> ack time: no record was acknowledged");
  mk_lab_say(ctx,
             "\n  counting: onSend %d, onAcknowledgement %d (%d with an error); %s; close called "
             "%d time(s)\n"
             "  flaky: failed in onSend %d time(s), in onAcknowledgement %d time(s)\n"
             "  the log: %d records, %d with enriched-by, %d without",
             on_send, on_ack, ack_errors, latency, atomic_load(&counting->closed),
             atomic_load(&flaky.send_failures), atomic_load(&flaky.ack_failures), n, enriched_ok,
             plain_ok);
  mk_lab_claim(ctx, on_send == records + 1 && on_ack == records + 1 && ack_errors == failed,
               "onSend %d = onAcknowledgement %d = %d sends: the failed ones (%d) were\n"
               "    acknowledged too, each with its error",
               on_send, on_ack, records + 1, failed);
  mk_lab_note(ctx,
              "  Note 000 writes \"oncknowledgement\", called after the broker's response: it is\n"
              "  onAcknowledgement, and it is called for every send, answered or not.");
  /* Every send but the one to partition 99 reaches the log, failing interceptor or not. */
  const char *no_wait = no_wait_reason(ctx);
  mk_lab_claim_unless(
      ctx, failed == 1 && n == records && enriched_ok == n - expected_plain &&
               plain_ok == expected_plain,
      no_wait,
      "the flaky interceptor's %d failure(s) broke no send: all %d records are in the log,\n"
      "    %d enriched, the %d it failed on as the application sent them",
      atomic_load(&flaky.send_failures), records, enriched_ok, plain_ok);
out:
  pthread_mutex_destroy(&counting->lock);
  free(counting);
  free(flaky.failed_on);
  mk_lab_sends_free(sends);
  return rc;
}

/* ---- part 3: timestamps ---------------------------------------------------------------- */

/* Send one record with an explicit timestamp and wait for its RecordMetadata. */
static int send_stamped(struct mk_lab_ctx *ctx, struct mk_producer *p, const char *topic,
                        int64_t timestamp, struct mk_record_metadata *md) {
  struct mk_producer_record rec = {.topic = mk_lab_topic(ctx, topic),
                                   .partition = 0,
                                   .key = mk_value_null(),
                                   .value = mk_value_string("stamped"),
                                   .timestamp = timestamp};
  struct mk_err err = {0};
  int rc = 0;
  /* With max.block.ms=0 a send fails at once until the topic's metadata has arrived (the
   * failed send asked for it): try again a little later, as an application would. */
  for (int attempt = 0; attempt < 40; attempt++) {
    struct mk_future *f = NULL;
    bool at_once = mk_producer_send(p, &rec, NULL, NULL, &f, &err) != 0;
    rc = mk_future_get(f, 30000, md, &err);
    mk_future_free(f);
    if (!rc || !at_once) break;
    if (attempt == 0)
      mk_lab_note(ctx, "  (send() to %s failed at once: %s; trying again)", topic, err.msg);
    mk_lab_sleep_ms(50);
  }
  if (rc) return mk_lab_fail(ctx, rc, "part 3: the record to %s failed: %s", topic, err.msg);
  return 0;
}

static int part_timestamps(struct mk_lab_ctx *ctx) {
  static const int64_t OLD = 1000000000000;  /* 2001-09-09: a timestamp no clock reads now */
  mk_lab_heading(ctx, "3. Timestamps: whose clock, CreateTime or LogAppendTime");
  mk_lab_say(ctx,
             "A record also carries a timestamp beside its key, value and headers. The producer "
             "sets it (ProducerRecord's timestamp, or the time of send()); the topic config "
             "message.timestamp.type decides whether it stays (CreateTime) or the broker "
             "replaces it with its own clock when it appends the batch (LogAppendTime). One "
             "record with timestamp %lld (2001) to topic \"created\" (CreateTime) and one to "
             "\"appended\" (message.timestamp.type=LogAppendTime).",
             (long long)OLD);
  mk_lab_predict(ctx,
                 "which timestamp does each callback's RecordMetadata report, and which does the\n"
                 "         log keep?");
  static const char *const lat[] = {"message.timestamp.type=LogAppendTime", NULL};
  int rc = mk_lab_create_topic(ctx, "created", 1, 3);
  if (!rc) rc = mk_lab_create_topic_configs(ctx, "appended", 1, 3, lat);
  struct mk_producer *p = NULL;
  if (!rc) rc = mk_lab_producer_new(ctx, NULL, &p);
  if (rc) return rc;
  struct mk_record_metadata created, appended;
  int64_t before = mk_wall_ms();
  rc = send_stamped(ctx, p, "created", OLD, &created);
  if (!rc) rc = send_stamped(ctx, p, "appended", OLD, &appended);
  int64_t after = mk_wall_ms();
  mk_producer_close(p, 5000);
  if (rc) return rc;
  struct mk_stored_records c, a;
  if ((rc = mk_lab_read_records(ctx, "created", 0, -1, false, &c))) return rc;
  if ((rc = mk_lab_read_records(ctx, "appended", 0, -1, false, &a))) {
    mk_stored_records_free(&c);
    return rc;
  }
  bool c_ok = c.n == 1 && !c.v[0].log_append_time && c.v[0].timestamp == OLD;
  bool a_type = a.n == 1 && a.v[0].log_append_time;
  int64_t a_stored = a.n == 1 ? a.v[0].timestamp : -1;
  mk_lab_say(ctx,
             "\n  created:  the callback said %lld, the log keeps %lld (%s)\n"
             "  appended: the callback said %lld, the log keeps %lld (%s)\n"
             "  (the sends ran from %lld to %lld on this machine's clock)",
             (long long)created.timestamp, c.n ? (long long)c.v[0].timestamp : -1LL,
             c.n && c.v[0].log_append_time ? "LogAppendTime" : "CreateTime",
             (long long)appended.timestamp, (long long)a_stored,
             a_type ? "LogAppendTime" : "CreateTime", (long long)before, (long long)after);
  mk_stored_records_free(&c);
  mk_stored_records_free(&a);
  mk_lab_figure(ctx, "timestamps", "CreateTime kept", c_ok);
  mk_lab_figure(ctx, "timestamps", "LogAppendTime stamped", a_type);
  /* A --set log.message.timestamp.type=LogAppendTime makes the default topic stamp too; a
   * real cluster's brokers have a default of their own, and its topics the configs it took. */
  bool external = mk_lab_external(ctx);
  const char *all_stamped =
      external ? "on a real cluster the brokers' log.message.timestamp.type decides for\n"
                 "    \"created\" (and librdkafka's mock cluster answers every Produce with a\n"
                 "    LogAppendTime of its own making)"
      : mk_broker_config(mk_lab_broker(ctx))->log_message_timestamp_type == 1
          ? "your --set log.message.timestamp.type=LogAppendTime made it the broker's default,\n"
            "    so \"created\", which has no setting of its own, is stamped too"
          : NULL;
  const char *not_taken =
      external ? "a real cluster applies the topic config itself: one created without it\n"
                 "    (librdkafka's mock cluster takes no topic configs) keeps CreateTime"
               : NULL;
  mk_lab_claim_unless(ctx, c_ok && created.timestamp == OLD, all_stamped,
                      "CreateTime: the producer's timestamp (%lld) went through untouched, in the\n"
                      "    callback and in the log",
                      (long long)OLD);
  mk_lab_claim_unless(
      ctx, a_type && appended.timestamp == a_stored && a_stored >= before && a_stored <= after,
      not_taken,
      "LogAppendTime: the broker wrote its own clock (%lld) into the batch, marked it\n"
      "    LogAppendTime, and the callback's RecordMetadata reported that time, not %lld",
      (long long)a_stored, (long long)OLD);
  mk_lab_note(ctx,
              "  So an interceptor that measures send -> ack from the record's timestamp (the\n"
              "  counting one above) measures the broker's append -> ack on a LogAppendTime topic.");
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  int fail_every = (int)mk_lab_param(ctx, "fail_every");
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = part_headers(ctx, records);
  if (!rc) rc = part_interceptors(ctx, records, fail_every);
  if (!rc) rc = part_timestamps(ctx);
  if (rc) return rc;
  static const char *const rows[] = {"headers", "counting", "flaky", "sends", "timestamps",
                                     NULL};
  mk_lab_table(ctx, "What this run measured:", rows, NULL);
  return 0;
}

const struct mk_lab mk_lab_headers_interceptors = {
    "headers-interceptors",
    "headers, interceptors (onSend, onAcknowledgement), timestamps (CreateTime, LogAppendTime)",
    params,
    run,
};
