/*
 * Behavioural tests for the producer (the files in producer/) against our embedded broker:
 * what an application sees (every send completes exactly once, with the right partition,
 * offset or error) and what lands in the partition's log (values, headers, order,
 * duplicates).
 *
 *   test thread                 the producer's Sender           the embedded broker
 *   -----------                 --------------------            -------------------
 *   mk_producer_send ... ->     Produce requests        ->      faults (error, delay,
 *   flush / close (bounded)     retries, callbacks             drop_response, broker_down,
 *   read_log (on the loop) <-----------------------------------  elect_leader) and the log
 *
 * One broker (3 virtual brokers) serves the whole file; each test makes its own topic and
 * scopes its faults to it. Tests that stop brokers start a broker of their own. Callbacks
 * count calls and store what they were told in done[i] (i = the record's index); tests
 * assert exact counts. Every wait is bounded (flush, close and future timeouts), so a bug
 * makes a test fail, never hang. The client-only behaviours are also checked against
 * librdkafka's mock cluster in test_producer_mock.c.
 *
 * To look closer at one scenario: MK_TEST_FILTER='test_acks_0*' runs the matching tests
 * only, MK_TEST_TRACE=FILE writes every trace event of both sides to FILE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "broker/broker.h"
#include "common/trace.h"
#include "producer/producer.h"
#include "producer/producer_config.h"
#include "producer/serializers.h"
#include "protocol/record_batch.h"
#include "tests/support/producer_probe.h"
#include "tests/support/test_broker.h"

/* ---- shared state ---------------------------------------------------------------------- */

static struct mk_broker *broker;      /* the file's broker */
static struct mk_broker *own_broker;  /* a test's own broker (it stops brokers); teardown frees */
static struct mk_producer *producer;  /* the test's producer; teardown closes it */

/* ---- the broker ------------------------------------------------------------------------ */

static int start_broker(struct mk_broker **out) {
  return test_broker_start(out, "replica.lag.time.max.ms", "3000", NULL);
}

static int setup_file(void **state) {
  (void)state;
  return start_broker(&broker);
}

static int teardown_file(void **state) {
  (void)state;
  if (broker) {
    mk_broker_stop(broker);
    mk_broker_free(broker);
  }
  return 0;
}

static int setup_test(void **state) {
  (void)state;
  reset_completions();
  return 0;
}

static int teardown_test(void **state) {
  (void)state;
  if (producer) mk_producer_close(producer, 0);
  producer = NULL;
  capture_stop();
  if (own_broker) {
    mk_broker_stop(own_broker);
    mk_broker_free(own_broker);
    own_broker = NULL;
  }
  mk_broker_clear_faults(broker);
  return 0;
}

struct topic_info {
  const char *name;
  int32_t partitions, replication;
  int32_t leader;        /* partition 0's leader */
  int32_t followers[2];  /* partition 0's other replicas */
};

static struct topic_info create_topic(struct mk_broker *b, const char *name, int32_t partitions,
                                      int32_t replication) {
  struct mk_partition_state st = test_broker_create_topic(b, name, partitions, replication, NULL);
  struct topic_info t = {name, partitions, replication, st.leader, {-1, -1}};
  for (int i = 0; i < st.nfollowers && i < 2; i++) t.followers[i] = st.followers[i];
  return t;
}

/* ---- reading a partition's log ------------------------------------------------------------ */

struct logged {
  int64_t offset;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t sequence;            /* the record's own sequence number, -1 if none */
  int key_len, value_len;      /* -1 = null */
  char key[64], value[128];
  int headers_count;
  struct {
    int key_len, value_len;
    char key[32], value[32];
  } headers[4];
};

struct log_view {
  const char *topic;
  int32_t partition;
  int32_t leader;
  int64_t high_watermark;
  int count;
  struct logged *records;  /* the leader's log, oldest first */
};

static void copy_bytes(char *dst, size_t cap, int *len, struct mk_stored_bytes b) {
  *len = b.len;
  size_t n = b.len < 0 ? 0 : (size_t)b.len < cap - 1 ? (size_t)b.len : cap - 1;
  if (n) memcpy(dst, b.ptr, n);
  dst[n] = 0;
}

/* The leader's log of topic/partition (free with log_free), through broker.h. */
static struct log_view read_log(struct mk_broker *b, const char *topic, int32_t partition) {
  struct log_view v = {topic, partition, -1, -1, 0, NULL};
  struct mk_partition_state st;
  struct mk_stored_records recs;
  struct mk_err err = {0};
  if (mk_broker_partition_state(b, topic, partition, &st, &err)) return v;
  v.leader = st.leader;
  v.high_watermark = st.high_watermark;
  if (st.leader < 0) return v;
  if (mk_broker_read_records(b, topic, partition, -1, false, &recs, &err))
    fail_msg("reading %s-%d: %s", topic, partition, err.msg);
  v.records = calloc(recs.n ? recs.n : 1, sizeof *v.records);
  assert_non_null(v.records);
  for (size_t i = 0; i < recs.n; i++) {
    const struct mk_stored_record *r = &recs.v[i];
    struct logged *l = &v.records[v.count++];
    l->offset = r->offset;
    l->producer_id = r->producer_id;
    l->producer_epoch = r->producer_epoch;
    l->sequence = r->sequence;
    copy_bytes(l->key, sizeof l->key, &l->key_len, r->key);
    copy_bytes(l->value, sizeof l->value, &l->value_len, r->value);
    l->headers_count = r->headers_count;
    for (int h = 0; h < r->headers_count && h < 4; h++) {
      copy_bytes(l->headers[h].key, sizeof l->headers[h].key, &l->headers[h].key_len,
                 r->headers[h].key);
      copy_bytes(l->headers[h].value, sizeof l->headers[h].value, &l->headers[h].value_len,
                 r->headers[h].value);
    }
  }
  mk_stored_records_free(&recs);
  return v;
}

static void log_free(struct log_view *v) {
  free(v->records);
  v->records = NULL;
}

/* How many records of the log have this value. */
static int log_count_value(const struct log_view *v, const char *value) {
  int n = 0;
  for (int i = 0; i < v->count; i++) n += strcmp(v->records[i].value, value) == 0;
  return n;
}

/* Records in topic/partition once the log holds at least `want` (waits up to timeout_ms). */
static int wait_log_count(struct mk_broker *b, const char *topic, int32_t partition, int want,
                          int timeout_ms) {
  int64_t until = now_ms() + timeout_ms;
  for (;;) {
    struct log_view v = read_log(b, topic, partition);
    int n = v.count;
    log_free(&v);
    if (n >= want || now_ms() >= until) return n;
    sleep_ms(10);
  }
}

/* ---- producers ------------------------------------------------------------------------- */

/* A finished config: bootstrap, StringSerializers, then (key, value) pairs up to NULL. */
static struct mk_producer_config *config_va(const char *bootstrap, va_list ap) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  assert_non_null(cfg);
  struct mk_err err = {0};
  const char *defaults[][2] = {{"bootstrap.servers", bootstrap},
                               {"key.serializer", "StringSerializer"},
                               {"value.serializer", "StringSerializer"}};
  for (size_t i = 0; i < 3; i++)
    if (mk_producer_config_set(cfg, defaults[i][0], defaults[i][1], &err))
      fail_msg("%s: %s", defaults[i][0], err.msg);
  for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
    const char *value = va_arg(ap, const char *);
    if (mk_producer_config_set(cfg, key, value, &err)) fail_msg("%s=%s: %s", key, value, err.msg);
  }
  return cfg;
}

static struct mk_producer_config *config_for(const char *bootstrap, ...) {
  va_list ap;
  va_start(ap, bootstrap);
  struct mk_producer_config *cfg = config_va(bootstrap, ap);
  va_end(ap);
  return cfg;
}

static struct mk_producer *producer_from(struct mk_producer_config *cfg) {
  struct mk_err err = {0};
  if (mk_producer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
  struct mk_producer *p = NULL;
  if (mk_producer_new(cfg, &p, &err)) fail_msg("mk_producer_new: %s", err.msg);
  mk_producer_config_free(cfg);
  return p;
}

/* Start the test's producer (closed by teardown) with (key, value) settings up to NULL. */
static struct mk_producer *start_producer(const char *bootstrap, ...) {
  va_list ap;
  va_start(ap, bootstrap);
  struct mk_producer_config *cfg = config_va(bootstrap, ap);
  va_end(ap);
  producer = producer_from(cfg);
  return producer;
}

static double metric(struct mk_producer *p, const char *name) {
  return mk_producer_metric(p, name);
}

static void close_producer(int64_t timeout_ms) {
  struct mk_producer *p = producer;
  producer = NULL;
  mk_producer_close(p, timeout_ms);
}

/* ==== send modes, partitioning, headers, interceptors ==================================== */

static void test_send_modes_fire_and_forget_future_and_callback_all_complete(void **state) {
  (void)state;
  create_topic(broker, "modes", 3, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "5", NULL);
  enum { N = 100 };
  char value[32];
  for (int i = 0; i < N; i++) {  /* fire and forget */
    snprintf(value, sizeof value, "ff-%d", i);
    assert_int_equal(send_value(p, "modes", -1, NULL, value, -1), 0);
  }
  struct mk_future *futures[N];
  for (int i = 0; i < N; i++) {  /* a future each */
    snprintf(value, sizeof value, "future-%d", i);
    struct mk_producer_record rec = {.topic = "modes", .partition = -1,
                                     .key = mk_value_null(), .value = mk_value_string(value),
                                     .timestamp = -1};
    struct mk_err err = {0};
    assert_int_equal(mk_producer_send(p, &rec, NULL, NULL, &futures[i], &err), 0);
    assert_non_null(futures[i]);
  }
  for (int i = 0; i < N; i++) {  /* a callback each */
    snprintf(value, sizeof value, "callback-%d", i);
    assert_int_equal(send_value(p, "modes", -1, NULL, value, i), 0);
  }
  for (int i = 0; i < N; i++) {
    struct mk_record_metadata md;
    struct mk_err err = {0};
    assert_int_equal(mk_future_get(futures[i], 10000, &md, &err), 0);
    assert_true(mk_future_done(futures[i]));
    assert_string_equal(md.topic, "modes");
    assert_in_range(md.partition, 0, 2);
    assert_true(md.offset >= 0);
    assert_int_equal(md.serialized_key_size, -1);
    mk_future_free(futures[i]);
  }
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  for (int i = 0; i < N; i++) assert_true(done[i].offset >= 0);
  assert_int_equal((int)metric(p, "record-send-total"), 3 * N);
  assert_int_equal((int)metric(p, "record-error-total"), 0);
  int in_log = 0;
  for (int32_t part = 0; part < 3; part++) in_log += wait_log_count(broker, "modes", part, 0, 0);
  assert_int_equal(in_log, 3 * N);
}

static void test_send_to_a_new_topic_waits_until_it_is_auto_created(void **state) {
  (void)state;
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "max.block.ms", "5000", NULL);
  assert_int_equal(send_value(p, "created-on-first-send", -1, NULL, "first", 0), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 1);
  assert_in_range(done[0].partition, 0, 2);  /* num.partitions 3 */
  assert_int_equal(done[0].offset, 0);
}

/* max.block.ms=0 (Java's waitOnMetadata asks for the topic before it gives up): the first send
 * to a topic the producer has not seen fails at once, but asks for its metadata, so a send
 * a little later finds it, even after the producer has already fetched metadata once. */
static void test_max_block_ms_0_fails_at_once_but_asks_for_the_topic(void **state) {
  (void)state;
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "max.block.ms", "0", NULL);
  int rc = MK_ERR_REQUEST_TIMED_OUT;
  for (int i = 0; i < 100 && rc == MK_ERR_REQUEST_TIMED_OUT; i++) {  /* the first topic */
    rc = send_value(p, "seen-first", -1, NULL, "v", 0);
    if (rc) usleep(20000);
  }
  assert_int_equal(rc, 0);
  int failed_at_once = 0;
  rc = MK_ERR_REQUEST_TIMED_OUT;
  for (int i = 0; i < 100 && rc == MK_ERR_REQUEST_TIMED_OUT; i++) {  /* then a second one */
    rc = send_value(p, "seen-later", -1, NULL, "v", 0);
    if (rc) {
      failed_at_once++;
      usleep(20000);
    }
  }
  assert_int_equal(rc, 0);
  assert_true(failed_at_once >= 1 && failed_at_once < 50);  /* it failed, then was found */
  flush_ok(p, 10000);
}

static void test_keyed_records_land_in_librdkafka_murmur2_partitions(void **state) {
  (void)state;
  enum { PARTITIONS = 6, N = 202 };
  create_topic(broker, "keyed", PARTITIONS, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "5", NULL);
  static char keys[N][32];
  for (int i = 0; i < N - 2; i++) snprintf(keys[i], sizeof keys[i], "key-%d", i);
  snprintf(keys[N - 2], sizeof keys[N - 2], "%s", "");                /* empty, not null */
  snprintf(keys[N - 1], sizeof keys[N - 1], "%s", "ключ-δ-鍵");        /* multi-byte UTF-8 */
  char value[48];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "value-of-%d", i);
    assert_int_equal(send_value(p, "keyed", -1, keys[i], value, i), 0);
  }
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  int32_t expected[N];
  for (int i = 0; i < N; i++) {
    /* librdkafka's murmur2_random: murmur2 for a key (null keys would go at random). */
    expected[i] = rd_kafka_msg_partitioner_murmur2_random(NULL, keys[i], strlen(keys[i]),
                                                          PARTITIONS, NULL, NULL);
    if (done[i].partition != expected[i])
      fail_msg("key \"%s\": partition %d, librdkafka says %d", keys[i], done[i].partition, expected[i]);
  }
  /* And the broker agrees: each record sits in the partition its key hashes to. */
  int seen = 0;
  for (int32_t part = 0; part < PARTITIONS; part++) {
    struct log_view v = read_log(broker, "keyed", part);
    for (int r = 0; r < v.count; r++) {
      int i = atoi(v.records[r].value + strlen("value-of-"));
      assert_in_range(i, 0, N - 1);
      assert_string_equal(v.records[r].key, keys[i]);
      assert_int_equal(part, expected[i]);
      seen++;
    }
    log_free(&v);
  }
  assert_int_equal(seen, N);
}

/* Records per Produce request for 2000 keyless records, sent at about 5 per ms with
 * linger.ms=0 while the broker holds each Produce response 20 ms (one request in flight per
 * connection, so batches can only grow while a request is out). Returns the metric; the
 * trace gives the same number, counted from request_sent events. */
static double records_per_request(const char *topic, const char *partitioner_class,
                                  double *traced) {
  enum { N = 2000 };
  create_topic(broker, topic, 3, 1);
  test_broker_fault(broker, "{\"action\":\"delay\",\"api\":\"Produce\",\"ms\":20,\"topic\":\"%s\"}", topic);
  struct mk_producer_config *cfg =
      config_for(mk_broker_bootstrap(broker), "linger.ms", "0", "acks", "1",
                 "enable.idempotence", "false", "max.in.flight.requests.per.connection", "1",
                 "batch.size", "16384", NULL);
  if (partitioner_class) {
    struct mk_err err = {0};
    assert_int_equal(mk_producer_config_set(cfg, "partitioner.class", partitioner_class, &err), 0);
  }
  producer = producer_from(cfg);
  capture_start("\"event\":\"request_sent\"", NULL);
  char value[128];
  memset(value, 'x', sizeof value - 1);
  value[sizeof value - 1] = 0;
  reset_completions();
  for (int i = 0; i < N; i++) {
    assert_int_equal(send_value(producer, topic, -1, NULL, value + 28, i), 0);  /* 99 bytes */
    if (i % 5 == 4) sleep_ms(1);
  }
  flush_ok(producer, 30000);
  assert_succeeded(0, N);
  int requests = 0;
  int64_t records = 0;
  for (int i = capture_find(0, "request_sent", topic); i >= 0; i = capture_find(i + 1, "request_sent", topic)) {
    char *line = capture_line(i, NULL);
    requests++;
    for (const char *at = strstr(line, "\"records\":"); at; at = strstr(at + 1, "\"records\":"))
      records += strtoll(at + strlen("\"records\":"), NULL, 10);
    free(line);
  }
  assert_int_equal(records, N);
  double m = metric(producer, "records-per-request-avg");
  *traced = (double)records / requests;
  capture_stop();
  close_producer(10000);
  return m;
}

static void test_keyless_uniform_sticky_fills_requests_more_than_round_robin(void **state) {
  (void)state;
  double sticky_traced, rr_traced;
  double sticky = records_per_request("sticky-batches", NULL, &sticky_traced);
  double rr = records_per_request("round-robin-batches", "RoundRobinPartitioner", &rr_traced);
  print_message("records per request: uniform sticky %.1f (trace %.1f), "
                "RoundRobinPartitioner %.1f (trace %.1f)\n", sticky, sticky_traced, rr, rr_traced);
  assert_true(fabs(sticky - sticky_traced) < 0.01);  /* the metric is what the trace shows */
  assert_true(fabs(rr - rr_traced) < 0.01);
  assert_true(sticky > 1.5 * rr);
}

static void test_headers_arrive_intact_even_when_the_caller_reuses_its_buffers(void **state) {
  (void)state;
  create_topic(broker, "headers", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), NULL);
  uint8_t binary[4] = {0x00, 0x01, 0xff, 0x7f};
  char trace_id[] = "abc-123";
  struct mk_record_header headers[4] = {
      {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)trace_id, 7}},
      {{(const uint8_t *)"binary", 6}, {binary, 4}},
      {{(const uint8_t *)"null-value", 10}, {NULL, -1}},
      {{(const uint8_t *)"empty", 5}, {(const uint8_t *)"", 0}},
  };
  struct mk_producer_record rec = {.topic = "headers", .partition = 0, .key = mk_value_string("k"),
                                   .value = mk_value_string("with-headers"), .timestamp = -1,
                                   .headers = headers, .headers_count = 4};
  struct mk_err err = {0};
  assert_int_equal(mk_producer_send(p, &rec, on_complete, (void *)0, NULL, &err), 0);
  /* The record is borrowed only during the call: scribble over it before it is sent. */
  memset(trace_id, 'X', 7);
  memset(binary, 0xee, 4);
  assert_int_equal(send_value(p, "headers", 0, NULL, "no-headers", 1), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 2);
  struct log_view v = read_log(broker, "headers", 0);
  assert_int_equal(v.count, 2);
  struct logged *l = &v.records[0];
  assert_string_equal(l->value, "with-headers");
  assert_int_equal(l->headers_count, 4);
  assert_string_equal(l->headers[0].key, "trace-id");
  assert_int_equal(l->headers[0].value_len, 7);
  assert_string_equal(l->headers[0].value, "abc-123");
  assert_string_equal(l->headers[1].key, "binary");
  assert_int_equal(l->headers[1].value_len, 4);
  assert_memory_equal(l->headers[1].value, "\x00\x01\xff\x7f", 4);
  assert_string_equal(l->headers[2].key, "null-value");
  assert_int_equal(l->headers[2].value_len, -1);
  assert_string_equal(l->headers[3].key, "empty");
  assert_int_equal(l->headers[3].value_len, 0);
  assert_string_equal(v.records[1].value, "no-headers");
  assert_int_equal(v.records[1].headers_count, 0);
  log_free(&v);
}

/* Two interceptors in a chain: the first rewrites the value, the second sees the rewrite. */
struct interceptor_counts {
  atomic_int on_send, on_ack_ok, on_ack_failed, close;
  atomic_int null_err;       /* producer_config.h promises err is never NULL */
  atomic_int saw_rewritten;  /* the second one: values that already carried the prefix */
};
static struct interceptor_counts first_counts, second_counts;

static void rewrite_on_send(void *opaque, struct mk_producer_record *record) {
  struct interceptor_counts *c = opaque;
  static _Thread_local char rewritten[128];  /* valid until this thread's next send */
  atomic_fetch_add(&c->on_send, 1);
  snprintf(rewritten, sizeof rewritten, "intercepted:%.*s", (int)record->value.u.bytes.len,
           (const char *)record->value.u.bytes.ptr);
  record->value = mk_value_string(rewritten);
}

static void observe_on_send(void *opaque, struct mk_producer_record *record) {
  struct interceptor_counts *c = opaque;
  atomic_fetch_add(&c->on_send, 1);
  if (record->value.type == MK_VALUE_STRING &&
      strncmp(record->value.u.bytes.ptr, "intercepted:", 12) == 0)
    atomic_fetch_add(&c->saw_rewritten, 1);
}

static void count_on_ack(void *opaque, const struct mk_record_metadata *md, const struct mk_err *err) {
  (void)md;
  struct interceptor_counts *c = opaque;
  if (!err) {
    atomic_fetch_add(&c->null_err, 1);
    return;
  }
  atomic_fetch_add(err->code ? &c->on_ack_failed : &c->on_ack_ok, 1);
}

static void count_close(void *opaque) {
  struct interceptor_counts *c = opaque;
  atomic_fetch_add(&c->close, 1);
}

static const struct mk_producer_interceptor first_interceptor = {
    "RewriteInterceptor", &first_counts, rewrite_on_send, count_on_ack, count_close};
static const struct mk_producer_interceptor second_interceptor = {
    "ObserveInterceptor", &second_counts, observe_on_send, count_on_ack, count_close};

static void test_interceptors_rewrite_on_send_and_see_each_acknowledgement_once(void **state) {
  (void)state;
  memset(&first_counts, 0, sizeof first_counts);
  memset(&second_counts, 0, sizeof second_counts);
  create_topic(broker, "intercepted", 1, 3);
  struct mk_producer_config *cfg = config_for(mk_broker_bootstrap(broker), "linger.ms", "5", NULL);
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &first_interceptor, &err), 0);
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &second_interceptor, &err), 0);
  struct mk_producer *p = producer = producer_from(cfg);
  enum { N = 50 };
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "v-%d", i);
    assert_int_equal(send_value(p, "intercepted", 0, NULL, value, i), 0);
  }
  flush_ok(p, 10000);
  assert_succeeded(0, N);
  assert_int_equal(atomic_load(&first_counts.on_send), N);
  assert_int_equal(atomic_load(&second_counts.on_send), N);
  assert_int_equal(atomic_load(&second_counts.saw_rewritten), N);  /* the chain's order */
  assert_int_equal(atomic_load(&first_counts.on_ack_ok), N);      /* once per record */
  assert_int_equal(atomic_load(&second_counts.on_ack_ok), N);
  assert_int_equal(atomic_load(&first_counts.on_ack_failed), 0);
  assert_int_equal(atomic_load(&first_counts.null_err), 0);
  struct log_view v = read_log(broker, "intercepted", 0);
  assert_int_equal(v.count, N);
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "intercepted:v-%d", i);
    assert_string_equal(v.records[i].value, value);
  }
  log_free(&v);
  close_producer(5000);
  assert_int_equal(atomic_load(&first_counts.close), 1);
  assert_int_equal(atomic_load(&second_counts.close), 1);
}

/* ==== failing at once, on the caller's thread ============================================ */

static void test_serialization_error_completes_once_on_the_callers_thread(void **state) {
  (void)state;
  memset(&first_counts, 0, sizeof first_counts);
  create_topic(broker, "serialize", 1, 3);
  struct mk_producer_config *cfg =
      config_for(mk_broker_bootstrap(broker), "value.serializer", "IntegerSerializer", NULL);
  struct mk_err err = {0};
  static const struct mk_producer_interceptor counter = {
      "CountInterceptor", &first_counts, NULL, count_on_ack, NULL};
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &counter, &err), 0);
  struct mk_producer *p = producer = producer_from(cfg);
  struct mk_producer_record rec = {.topic = "serialize", .partition = -1, .key = mk_value_null(),
                                   .value = mk_value_string("not an integer"), .timestamp = -1};
  struct mk_future *f = NULL;
  int rc = mk_producer_send(p, &rec, on_complete, (void *)0, &f, &err);
  assert_int_not_equal(rc, 0);
  assert_int_equal(rc, err.code);
  assert_non_null(strstr(err.msg, "value.serializer"));
  /* The callback has already run, once, here. */
  assert_int_equal(atomic_load(&complete_cb_called), 1);
  assert_completed_once(0, 1);
  assert_true(pthread_equal(done[0].thread, pthread_self()));
  assert_int_equal(done[0].error, rc);
  assert_non_null(f);
  assert_true(mk_future_done(f));
  struct mk_err ferr = {0};
  assert_int_equal(mk_future_get(f, 0, NULL, &ferr), rc);
  mk_future_free(f);
  assert_int_equal(atomic_load(&first_counts.on_ack_failed), 1);
  /* An integer goes through. */
  rec.value = mk_value_int(42);
  assert_int_equal(mk_producer_send(p, &rec, on_complete, (void *)1, NULL, &err), 0);
  flush_ok(p, 10000);
  assert_succeeded(1, 2);
  assert_int_equal(atomic_load(&complete_cb_called), 2);
  assert_int_equal((int)metric(p, "record-error-total"), 1);
  assert_int_equal((int)metric(p, "record-send-total"), 1);
}

static void test_null_header_key_fails_at_once_naming_the_problem(void **state) {
  (void)state;
  create_topic(broker, "null-header-key", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), NULL);
  struct mk_record_header h = {MK_BYTES_NULL, {(const uint8_t *)"v", 1}};
  struct mk_producer_record rec = {.topic = "null-header-key", .partition = -1,
                                   .key = mk_value_null(), .value = mk_value_string("x"),
                                   .timestamp = -1, .headers = &h, .headers_count = 1};
  struct mk_err err = {0};
  int rc = mk_producer_send(p, &rec, on_complete, (void *)0, NULL, &err);
  assert_int_equal(rc, MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "Null header keys are not permitted"));
  assert_completed_once(0, 1);
  assert_int_equal(done[0].error, MK_ERR__INVALID_ARG);
}

static void test_record_larger_than_max_request_size_fails_at_once_with_message_too_large(void **state) {
  (void)state;
  create_topic(broker, "too-large", 1, 3);
  struct mk_producer *p =
      start_producer(mk_broker_bootstrap(broker), "max.request.size", "1000", NULL);
  char big[2001];
  memset(big, 'b', 2000);
  big[2000] = 0;
  struct mk_err err = {0};
  struct mk_producer_record rec = {.topic = "too-large", .partition = -1, .key = mk_value_null(),
                                   .value = mk_value_string(big), .timestamp = -1};
  int rc = mk_producer_send(p, &rec, on_complete, (void *)0, NULL, &err);
  assert_int_equal(rc, MK_ERR_MESSAGE_TOO_LARGE);
  assert_non_null(strstr(err.msg, "max.request.size"));
  assert_int_equal(atomic_load(&complete_cb_called), 1);
  assert_completed_once(0, 1);
  assert_int_equal(done[0].error, MK_ERR_MESSAGE_TOO_LARGE);
  assert_true(pthread_equal(done[0].thread, pthread_self()));
  flush_ok(p, 1000);
  assert_int_equal(atomic_load(&complete_cb_called), 1);
  assert_int_equal((int)metric(p, "request-total"), 0);  /* nothing went to the broker */
  assert_int_equal(wait_log_count(broker, "too-large", 0, 0, 0), 0);
}

/* A port on which nothing listens. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static void test_send_fails_after_max_block_ms_when_no_broker_answers(void **state) {
  (void)state;
  char bootstrap[64];
  snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", closed_port());
  struct mk_producer *p = start_producer(bootstrap, "max.block.ms", "500", "linger.ms", "0",
                                         "request.timeout.ms", "1000", "delivery.timeout.ms", "1500",
                                         NULL);
  int64_t start = now_ms();
  int rc = send_value(p, "nowhere", -1, NULL, "lost", 0);
  int64_t took = now_ms() - start;
  assert_int_equal(rc, MK_ERR_REQUEST_TIMED_OUT);  /* Java's TimeoutException */
  assert_in_range(took, 450, 1500);
  assert_int_equal(atomic_load(&complete_cb_called), 1);
  assert_completed_once(0, 1);
  assert_int_equal(done[0].error, MK_ERR_REQUEST_TIMED_OUT);
  assert_true(pthread_equal(done[0].thread, pthread_self()));
  start = now_ms();
  close_producer(2000);
  assert_true(now_ms() - start < 2500);
  assert_int_equal(atomic_load(&complete_cb_called), 1);
}

/* ==== buffer.memory, delivery.timeout.ms, close: with every broker down ================== */

static void all_brokers(struct mk_broker *b, const char *action) {
  for (int i = 0; i < 3; i++) test_broker_fault(b, "{\"action\":\"%s\",\"broker\":%d}", action, i);
}

/* Java's CompressionRatioEstimator: batch.size counts estimated compressed bytes, the
 * estimate starts at 1 and improves by 0.005 per batch that compresses better, so a stream of
 * very compressible records gets batches that hold more and more records. */
static void test_compressed_batches_fill_up_as_the_ratio_estimate_improves(void **state) {
  (void)state;
  create_topic(broker, "estimated", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "compression.type", "gzip",
                                         "batch.size", "2048", "linger.ms", "1000", NULL);
  /* The warm-up goes to another topic: its one tiny record compresses to more than its
   * size (gzip's overhead), and would start this topic's estimate at 2.4. */
  create_topic(broker, "estimated-warm-up", 1, 3);
  warm_up(p, "estimated-warm-up", 0);
  capture_start("\"event\":\"append\"", NULL);
  char value[201];
  memset(value, 'z', 200);
  value[200] = 0;
  /* In waves: a new estimate applies to the batches opened after it. */
  enum { WAVES = 30, PER_WAVE = 100 };
  for (int w = 0; w < WAVES; w++) {
    for (int i = 1; i <= PER_WAVE; i++)
      assert_int_equal(send_value(p, "estimated", 0, NULL, value, w * PER_WAVE + i), 0);
    flush_ok(p, 10000);
  }
  assert_succeeded(1, WAVES * PER_WAVE + 1);
  /* The broker's append events, in order: how many records each batch held. */
  int first = -1, last = -1, batches = 0;
  for (int i = capture_find(0, "\"side\":\"broker\"", "estimated"); i >= 0;
       i = capture_find(i + 1, "\"side\":\"broker\"", "estimated")) {
    char *line = capture_line(i, NULL);
    int records = (int)json_int(line, "records");
    free(line);
    if (first < 0) first = records;
    last = records;
    batches++;
  }
  capture_stop();
  print_message("%d batches: the first held %d records, the last %d\n", batches, first, last);
  assert_in_range(first, 5, 10);  /* 2048 bytes of ~210-byte records: the estimate is 1 */
  assert_true(last >= 2 * first);
}

/* However well records compress, a batch never holds more than max.request.size of them
 * uncompressed: it must stay sendable if the next records compress worse (we do not split
 * a batch the broker refuses as too large, as Java does). */
static void test_a_compressed_batch_holds_at_most_max_request_size_uncompressed(void **state) {
  (void)state;
  create_topic(broker, "capped", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "compression.type", "gzip",
                                         "batch.size", "1000000", "max.request.size", "20000",
                                         "linger.ms", "1000", NULL);
  capture_start("\"event\":\"append\"", NULL);
  char value[201];
  memset(value, 'z', 200);
  value[200] = 0;
  enum { N = 1000 };
  for (int i = 1; i <= N; i++) assert_int_equal(send_value(p, "capped", 0, NULL, value, i), 0);
  flush_ok(p, 10000);
  assert_succeeded(1, N + 1);
  int most = 0, total = 0;
  for (int i = capture_find(0, "\"side\":\"broker\"", "capped"); i >= 0;
       i = capture_find(i + 1, "\"side\":\"broker\"", "capped")) {
    char *line = capture_line(i, NULL);
    int records = (int)json_int(line, "records");
    free(line);
    if (records > most) most = records;
    total += records;
  }
  capture_stop();
  assert_int_equal(total, N);
  assert_in_range(most, 80, 20000 / 210);  /* ~210 bytes a record */
}

static void test_full_buffer_blocks_send_for_max_block_ms_then_times_out(void **state) {
  (void)state;
  assert_int_equal(start_broker(&own_broker), 0);
  create_topic(own_broker, "full", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "batch.size", "16384",
                                         "buffer.memory", "49152", "max.block.ms", "500",
                                         "linger.ms", "0", NULL);
  warm_up(p, "full", 0);
  all_brokers(own_broker, "broker_down");
  /* Each 15000-byte record needs a batch of its own (16384 bytes of buffer.memory): three
   * fit, the fourth waits for memory that never comes back. */
  char value[15001];
  memset(value, 'm', 15000);
  value[15000] = 0;
  for (int i = 1; i <= 3; i++) {
    int64_t start = now_ms();
    assert_int_equal(send_value(p, "full", 0, NULL, value, i), 0);
    assert_true(now_ms() - start < 300);
  }
  /* The fourth is keyless: the partitioner picks partition 0 before the wait, and the
   * failure reports that partition (Java's AppendCallbacks.topicPartition), not -1. */
  int64_t start = now_ms();
  int rc = send_value(p, "full", -1, NULL, value, 4);
  int64_t blocked = now_ms() - start;
  assert_int_equal(rc, MK_ERR_REQUEST_TIMED_OUT);
  assert_in_range(blocked, 450, 1500);
  assert_completed_once(4, 5);
  assert_int_equal(done[4].error, MK_ERR_REQUEST_TIMED_OUT);
  assert_int_equal(done[4].partition, 0);
  assert_true(pthread_equal(done[4].thread, pthread_self()));
  assert_int_equal(atomic_load(&complete_cb_called), 2);  /* the warm-up and the refused one */
  /* Close with a short timeout: the three waiting records fail, each exactly once. */
  start = now_ms();
  struct mk_producer *closing = producer;
  producer = NULL;
  assert_int_equal(mk_producer_close(closing, 200), MK_ERR__TIMED_OUT);
  assert_true(now_ms() - start < 2000);
  assert_int_equal(atomic_load(&complete_cb_called), 5);
  assert_completed_once(0, 5);
  for (int i = 1; i <= 3; i++) assert_int_not_equal(done[i].error, 0);
}

/* With every broker down, one 15,000-byte record (record 1) takes all of buffer.memory
 * (16384 bytes: one batch), so the next send has to wait for memory that never comes back. */
static void take_all_memory_with_brokers_down(struct mk_producer *p, const char *topic) {
  warm_up(p, topic, 0);
  all_brokers(own_broker, "broker_down");
  char value[15001];
  memset(value, 'm', 15000);
  value[15000] = 0;
  assert_int_equal(send_value(p, topic, 0, NULL, value, 1), 0);
}

static void test_bufferpool_wait_time_counts_a_wait_that_timed_out(void **state) {
  (void)state;
  /* Java records bufferpool-wait-time-ns-total for every wait, also one that ends in
   * BufferExhaustedException (BufferPool.allocate: recordWaitTime in a finally block). */
  assert_int_equal(start_broker(&own_broker), 0);
  create_topic(own_broker, "pool-wait", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "batch.size", "16384",
                                         "buffer.memory", "16384", "max.block.ms", "300",
                                         "linger.ms", "0", NULL);
  take_all_memory_with_brokers_down(p, "pool-wait");
  char value[15001];
  memset(value, 'm', 15000);
  value[15000] = 0;
  assert_int_equal(send_value(p, "pool-wait", 0, NULL, value, 2), MK_ERR_REQUEST_TIMED_OUT);
  double waited_ns = metric(p, "bufferpool-wait-time-ns-total");
  assert_true(waited_ns >= 250e6);
}

struct blocked_send {
  struct mk_producer *p;
  int rc;
  int64_t returned_at;
};

static void *send_big(void *arg) {
  struct blocked_send *b = arg;
  static char value[15001];
  memset(value, 'm', 15000);
  b->rc = send_value(b->p, "close-blocked", 0, NULL, value, 2);
  b->returned_at = now_ms();
  return NULL;
}

static void test_close_wakes_a_send_blocked_on_buffer_memory(void **state) {
  (void)state;
  assert_int_equal(start_broker(&own_broker), 0);
  create_topic(own_broker, "close-blocked", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "batch.size", "16384",
                                         "buffer.memory", "16384", "max.block.ms", "5000",
                                         "linger.ms", "0", NULL);
  take_all_memory_with_brokers_down(p, "close-blocked");
  struct blocked_send b = {p, -1, 0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, send_big, &b), 0);
  sleep_ms(200);  /* the second send is waiting for memory */
  int64_t start = now_ms();
  close_producer(0);
  pthread_join(thread, NULL);
  assert_int_not_equal(b.rc, 0);
  assert_true(b.returned_at - start < 1000);  /* woken by close, not by max.block.ms */
  assert_int_equal(atomic_load(&complete_cb_called), 3);
  assert_completed_once(0, 3);
  assert_int_not_equal(done[1].error, 0);
  assert_int_equal(done[2].error, b.rc);
}

/* An interceptor that is slow to hear about a failure on the blocked sender's thread. */
static pthread_t slow_ack_thread;
static atomic_int slow_ack_finished;

static void slow_ack_on_blocked_thread(void *opaque, const struct mk_record_metadata *md,
                                       const struct mk_err *err) {
  (void)opaque;
  (void)md;
  if (err && err->code && pthread_equal(pthread_self(), slow_ack_thread)) {
    sleep_ms(300);
    atomic_store(&slow_ack_finished, 1);
  }
}

/* close frees the producer, so it must wait for a send it woke to finish failing its
 * record: here that send is still inside an interceptor (which reads the producer's
 * config) when close would otherwise be done. */
static void test_close_waits_for_a_woken_send_to_return(void **state) {
  (void)state;
  assert_int_equal(start_broker(&own_broker), 0);
  create_topic(own_broker, "close-blocked", 1, 3);
  struct mk_producer_config *cfg =
      config_for(mk_broker_bootstrap(own_broker), "batch.size", "16384", "buffer.memory", "16384",
                 "max.block.ms", "5000", "linger.ms", "0", NULL);
  static const struct mk_producer_interceptor slow = {"SlowAck", NULL, NULL,
                                                      slow_ack_on_blocked_thread, NULL};
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &slow, &err), 0);
  struct mk_producer *p = producer = producer_from(cfg);
  take_all_memory_with_brokers_down(p, "close-blocked");
  atomic_store(&slow_ack_finished, 0);
  struct blocked_send b = {p, -1, 0};
  assert_int_equal(pthread_create(&slow_ack_thread, NULL, send_big, &b), 0);
  sleep_ms(200);  /* the second send is waiting for memory */
  close_producer(0);
  assert_int_equal(atomic_load(&slow_ack_finished), 1);  /* close returned after the send */
  pthread_join(slow_ack_thread, NULL);
  assert_int_not_equal(b.rc, 0);
}

/* KIP-219: a broker over quota answers with throttle_time_ms, and the producer sends that
 * broker nothing until the time is up (Java: NetworkClient, connectionStates.throttle). */
static void test_a_throttled_producer_sends_that_broker_nothing_until_the_time_is_up(void **state) {
  (void)state;
  assert_int_equal(test_broker_start(&own_broker, "replica.lag.time.max.ms", "3000",
                                     "quota.producer.default", "10000", NULL), 0);
  create_topic(own_broker, "throttled", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "linger.ms", "0",
                                         "batch.size", "200000", NULL);
  warm_up(p, "throttled", 0);
  capture_start("\"event\":\"throttle\"", "\"event\":\"response_received\"",
                "\"event\":\"request_sent\"", NULL);
  /* 120,000 bytes at once: over the 10 s the broker measures a new client on, 12,000 B/s,
   * 20% over the quota, so a pause of about 2 s. */
  char *big = malloc(120001);
  assert_non_null(big);
  memset(big, 'q', 120000);
  big[120000] = 0;
  assert_int_equal(send_value(p, "throttled", 0, NULL, big, 1), 0);
  flush_ok(p, 10000);
  free(big);
  int r = capture_find(0, "\"event\":\"response_received\"", "throttle_time_ms");
  assert_true(r >= 0);
  int64_t throttled_at;
  char *line = capture_line(r, &throttled_at);
  int64_t throttle = json_int(line, "throttle_time_ms");
  free(line);
  assert_in_range(throttle, 1500, 3000);
  assert_true(capture_count("\"event\":\"throttle\"", "\"side\":\"broker\"") >= 1);
  /* The next record is ready at once, but its request waits for the throttle time. */
  assert_int_equal(send_value(p, "throttled", 0, NULL, "after", 2), 0);
  flush_ok(p, 10000);
  int s = capture_find(r + 1, "\"event\":\"request_sent\"", NULL);
  assert_true(s > r);
  int64_t sent_at;
  free(capture_line(s, &sent_at));
  assert_true(sent_at - throttled_at >= throttle - 50);
  assert_true(metric(p, "produce-throttle-time-max") >= (double)throttle);
  assert_succeeded(1, 3);
  capture_stop();
}

static void test_delivery_timeout_fails_every_record_once_while_all_brokers_are_down(void **state) {
  (void)state;
  assert_int_equal(start_broker(&own_broker), 0);
  create_topic(own_broker, "outage", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "linger.ms", "0",
                                         "delivery.timeout.ms", "1500", "request.timeout.ms", "1000",
                                         NULL);
  warm_up(p, "outage", 0);
  all_brokers(own_broker, "broker_down");
  enum { N = 5 };
  int64_t sent_at[N + 1];
  struct mk_future *f = NULL;
  for (int i = 1; i <= N; i++) {
    sent_at[i] = now_ms();
    struct mk_producer_record rec = {.topic = "outage", .partition = -1, .key = mk_value_null(),
                                     .value = mk_value_string("during-outage"), .timestamp = -1};
    struct mk_err err = {0};
    assert_int_equal(mk_producer_send(p, &rec, on_complete, (void *)(intptr_t)i, i == 1 ? &f : NULL, &err), 0);
  }
  /* A future that has not completed says so, and stays usable. */
  struct mk_err err = {0};
  assert_int_equal(mk_future_get(f, 100, NULL, &err), MK_ERR__TIMED_OUT);
  assert_false(mk_future_done(f));
  assert_int_equal(mk_future_get(f, 5000, NULL, &err), MK_ERR_REQUEST_TIMED_OUT);
  mk_future_free(f);
  assert_int_equal(wait_completions(N + 1, 5000), N + 1);
  assert_completed_once(0, N + 1);
  for (int i = 1; i <= N; i++) {
    if (done[i].error != MK_ERR_REQUEST_TIMED_OUT)
      fail_msg("record %d: %s (%s)", i, mk_err_name(done[i].error), done[i].msg);
    assert_in_range(done[i].at_ms - sent_at[i], 1400, 3000);
  }
  assert_int_equal((int)metric(p, "record-error-total"), N);
  /* The brokers come back: the same producer delivers again, once it has reconnected
   * (reconnect.backoff.max.ms) and learnt where the leader went. If the lost records had
   * been drained (given sequence numbers) before the outage, their expiry left a hole in
   * the partition's sequences that the producer must close (as in the seq-expired test). */
  all_brokers(own_broker, "broker_up");
  int64_t up_at = now_ms();
  bool recovered = false;
  for (int probe = 0; !recovered && now_ms() - up_at < 6000; probe++) {
    reset_completions();
    assert_int_equal(send_value(p, "outage", -1, NULL, "probe", 0), 0);
    struct mk_err ferr = {0};
    mk_producer_flush(p, 3000, &ferr);
    recovered = atomic_load(&done[0].calls) == 1 && done[0].error == 0;
  }
  print_message("delivering again %lld ms after the brokers came back\n", (long long)(now_ms() - up_at));
  assert_true(recovered);
  reset_completions();
  for (int i = 0; i < N; i++) assert_int_equal(send_value(p, "outage", -1, NULL, "after-outage", i), 0);
  flush_ok(p, 15000);
  assert_succeeded(0, N);
  struct log_view v = read_log(own_broker, "outage", 0);
  assert_int_equal(log_count_value(&v, "after-outage"), N);
  assert_int_equal(log_count_value(&v, "during-outage"), 0);
  log_free(&v);
}

static void test_close_with_a_timeout_fails_in_flight_records_exactly_once(void **state) {
  (void)state;
  create_topic(broker, "close-in-flight", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0", NULL);
  warm_up(p, "close-in-flight", 0);
  test_broker_fault(broker, "{\"action\":\"delay\",\"api\":\"Produce\",\"ms\":5000,\"count\":1,"
                "\"topic\":\"close-in-flight\"}");
  for (int i = 1; i <= 3; i++) assert_int_equal(send_value(p, "close-in-flight", 0, NULL, "held", i), 0);
  sleep_ms(100);  /* the first is in flight, its answer held */
  int64_t start = now_ms();
  struct mk_producer *closing = producer;
  producer = NULL;
  assert_int_equal(mk_producer_close(closing, 300), MK_ERR__TIMED_OUT);
  assert_in_range(now_ms() - start, 250, 3000);
  assert_int_equal(atomic_load(&complete_cb_called), 4);
  assert_completed_once(0, 4);
  for (int i = 1; i <= 3; i++) assert_int_not_equal(done[i].error, 0);
}

/* ==== retries ============================================================================= */

static void test_not_leader_errors_are_retried_after_a_metadata_refresh(void **state) {
  (void)state;
  create_topic(broker, "not-leader", 1, 3);
  capture_start("\"event\":\"request_received\"", "\"event\":\"retry\"", NULL);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "client.id", "not-leader-test",
                                         "linger.ms", "20", NULL);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\","
                "\"count\":2,\"topic\":\"not-leader\"}");
  enum { N = 10 };
  for (int i = 0; i < N; i++) assert_int_equal(send_value(p, "not-leader", -1, NULL, "retried", i), 0);
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  assert_int_equal((int)metric(p, "record-retry-total"), 2 * N);  /* one batch, retried twice */
  assert_int_equal((int)metric(p, "record-send-total"), N);
  assert_int_equal(capture_count("\"event\":\"retry\"", "NOT_LEADER_OR_FOLLOWER"), 2);
  /* Metadata once for the topic, then again after each NOT_LEADER_OR_FOLLOWER. */
  int metadata = capture_count("\"api\":\"Metadata\"", "\"client_id\":\"not-leader-test\"");
  assert_true(metadata >= 2);
  assert_int_equal(capture_count("\"api\":\"Produce\"", "\"client_id\":\"not-leader-test\""), 3);
  struct log_view v = read_log(broker, "not-leader", 0);
  assert_int_equal(v.count, N);
  log_free(&v);
}

static void test_retry_backoff_grows_exponentially_with_jitter_up_to_the_max(void **state) {
  (void)state;
  /* Java's ExponentialBackoff(retry.backoff.ms, 2, retry.backoff.max.ms, 0.2): attempt n
   * waits base * 2^(n-1), +-20%, and never more than retry.backoff.max.ms. */
  enum { BASE = 10, MAX = 20, ERRORS = 16 };
  create_topic(broker, "backoff", 1, 3);
  capture_start("\"event\":\"retry\"", NULL);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "retry.backoff.ms", "10", "retry.backoff.max.ms", "20", NULL);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\","
                "\"count\":%d,\"topic\":\"backoff\"}", ERRORS);
  assert_int_equal(send_value(p, "backoff", 0, NULL, "patient", 0), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 1);
  assert_int_equal(capture_count("\"event\":\"retry\"", "\"topic\":\"backoff\""), ERRORS);
  assert_true(assert_retry_backoffs(BASE, MAX));  /* within bounds, and jittered */
}

static void test_non_retriable_error_fails_the_batch_without_retrying(void **state) {
  (void)state;
  create_topic(broker, "non-retriable", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "enable.idempotence", "false",
                                         "linger.ms", "0", NULL);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"INVALID_REQUIRED_ACKS\","
                "\"count\":1,\"topic\":\"non-retriable\"}");
  assert_int_equal(send_value(p, "non-retriable", 0, NULL, "refused", 0), 0);
  flush_ok(p, 10000);
  assert_completed_once(0, 1);
  assert_int_equal(done[0].error, MK_ERR_INVALID_REQUIRED_ACKS);
  assert_int_equal(done[0].offset, -1);
  assert_non_null(strstr(done[0].msg, "1 attempt"));
  assert_int_equal((int)metric(p, "record-retry-total"), 0);
  assert_int_equal((int)metric(p, "record-error-total"), 1);
  /* MESSAGE_TOO_LARGE from the broker, for a one-record batch: fails too. */
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"MESSAGE_TOO_LARGE\","
                "\"count\":1,\"topic\":\"non-retriable\"}");
  assert_int_equal(send_value(p, "non-retriable", 0, NULL, "too-large", 1), 0);
  flush_ok(p, 10000);
  assert_completed_once(1, 2);
  assert_int_equal(done[1].error, MK_ERR_MESSAGE_TOO_LARGE);
  assert_int_equal((int)metric(p, "record-retry-total"), 0);
  /* The partition is still usable. */
  assert_int_equal(send_value(p, "non-retriable", 0, NULL, "fine", 2), 0);
  flush_ok(p, 10000);
  assert_succeeded(2, 3);
  struct log_view v = read_log(broker, "non-retriable", 0);
  assert_int_equal(v.count, 1);
  assert_string_equal(v.records[0].value, "fine");
  log_free(&v);
}

static void test_lost_response_is_retried_after_request_timeout_ms(void **state) {
  (void)state;
  create_topic(broker, "request-timeout", 1, 3);
  capture_start("\"event\":\"retry\"", NULL);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "request.timeout.ms", "1000", "delivery.timeout.ms", "10000",
                                         NULL);
  warm_up(p, "request-timeout", 0);
  test_broker_fault(broker, "{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,\"mode\":\"silent\","
                "\"topic\":\"request-timeout\"}");
  int64_t start = now_ms();
  assert_int_equal(send_value(p, "request-timeout", 0, NULL, "unanswered", 1), 0);
  flush_ok(p, 8000);
  assert_succeeded(0, 2);
  assert_in_range(done[1].at_ms - start, 950, 4000);  /* waited request.timeout.ms, then retried */
  assert_int_equal(capture_count("\"event\":\"retry\"", "REQUEST_TIMED_OUT"), 1);
  struct log_view v = read_log(broker, "request-timeout", 0);
  assert_int_equal(log_count_value(&v, "unanswered"), 1);  /* idempotence: the retry is a duplicate */
  assert_int_equal(done[1].offset, 1);                     /* ... answered with the original offset */
  log_free(&v);
}

/* ==== lost responses: duplicates, and idempotence removing them ========================= */

static void lost_response_scenario(const char *topic, bool idempotent, struct log_view *out) {
  create_topic(broker, topic, 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "enable.idempotence",
                                         idempotent ? "true" : "false", "acks", "all",
                                         "linger.ms", "100", NULL);
  warm_up(p, topic, 0);
  char json[256];
  snprintf(json, sizeof json, "{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,"
                              "\"mode\":\"close\",\"topic\":\"%s\"}", topic);
  test_broker_fault(broker, "%s", json);
  char value[32];
  for (int i = 1; i <= 5; i++) {
    snprintf(value, sizeof value, "r-%d", i);
    assert_int_equal(send_value(p, topic, 0, NULL, value, i), 0);
  }
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), 6);
  assert_succeeded(0, 6);
  assert_int_equal((int)metric(p, "record-retry-total"), 5);
  *out = read_log(broker, topic, 0);
}

static void test_lost_response_duplicates_records_without_idempotence(void **state) {
  (void)state;
  struct log_view v;
  lost_response_scenario("dup-plain", false, &v);
  assert_int_equal(v.count, 1 + 2 * 5);  /* every record twice: at-least-once */
  for (int i = 1; i <= 5; i++) {
    char value[32];
    snprintf(value, sizeof value, "r-%d", i);
    assert_int_equal(log_count_value(&v, value), 2);
  }
  log_free(&v);
}

static void test_lost_response_is_not_duplicated_with_idempotence(void **state) {
  (void)state;
  struct log_view v;
  lost_response_scenario("dup-idempotent", true, &v);
  assert_int_equal(v.count, 1 + 5);
  for (int i = 1; i <= 5; i++) {
    char value[32];
    snprintf(value, sizeof value, "r-%d", i);
    assert_int_equal(log_count_value(&v, value), 1);
    assert_int_equal(done[i].offset, i);  /* the duplicate's answer is the original offset */
  }
  log_free(&v);
}

/* ==== ordering ============================================================================= */

/* One record per batch (batch.size 1), up to five in flight. The first Produce request after the
 * warm-up is refused (NOT_LEADER_OR_FOLLOWER) and its answer held 300 ms, so the next four
 * reach the broker before that record's retry does. Returns the values in log order. */
static struct log_view ordering_scenario(const char *topic, bool idempotent, const char *in_flight) {
  create_topic(broker, topic, 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "enable.idempotence",
                                         idempotent ? "true" : "false", "acks", "all",
                                         "max.in.flight.requests.per.connection", in_flight,
                                         "linger.ms", "0", "batch.size", "1", NULL);
  warm_up(p, topic, 0);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\","
                "\"count\":1,\"topic\":\"%s\",\"partition\":0}", topic);
  test_broker_fault(broker, "{\"action\":\"delay\",\"api\":\"Produce\",\"ms\":300,\"count\":1,\"topic\":\"%s\"}",
        topic);
  char value[32];
  for (int i = 1; i <= 10; i++) {
    snprintf(value, sizeof value, "o-%d", i);
    assert_int_equal(send_value(p, topic, 0, NULL, value, i), 0);
  }
  flush_ok(p, 15000);
  assert_int_equal(atomic_load(&complete_cb_called), 11);
  assert_succeeded(0, 11);
  struct log_view v = read_log(broker, topic, 0);
  print_message("%s log:", topic);
  for (int i = 0; i < v.count; i++) print_message(" %s", v.records[i].value);
  print_message("\n");
  assert_int_equal(v.count, 11);
  for (int i = 1; i <= 10; i++) {
    snprintf(value, sizeof value, "o-%d", i);
    assert_int_equal(log_count_value(&v, value), 1);
  }
  return v;
}

static bool in_send_order(const struct log_view *v) {
  for (int i = 1; i < v->count; i++) {
    char value[32];
    snprintf(value, sizeof value, "o-%d", i);
    if (strcmp(v->records[i].value, value) != 0) return false;
  }
  return true;
}

static void test_retried_batch_lands_after_later_ones_without_idempotence(void **state) {
  (void)state;
  struct log_view v = ordering_scenario("order-plain", false, "5");
  assert_false(in_send_order(&v));
  assert_string_equal(v.records[1].value, "o-2");  /* o-1 was overtaken */
  log_free(&v);
}

static void test_idempotence_keeps_send_order_with_five_in_flight(void **state) {
  (void)state;
  struct log_view v = ordering_scenario("order-idempotent", true, "5");
  assert_true(in_send_order(&v));
  for (int i = 1; i < v.count; i++) assert_int_equal(v.records[i].sequence, i);
  log_free(&v);
}

static void test_one_in_flight_keeps_send_order_without_idempotence(void **state) {
  (void)state;
  struct log_view v = ordering_scenario("order-one-in-flight", false, "1");
  assert_true(in_send_order(&v));
  log_free(&v);
}

/* ==== idempotence: sequence errors, producer id resets ==================================== */

static void test_idempotent_producer_keeps_delivering_after_a_batch_fails_for_good(void **state) {
  (void)state;
  /* A batch that fails with a non-retriable error leaves a hole in the partition's
   * sequence numbers; Java closes it (TransactionManager.adjustSequencesDueToFailedBatch,
   * or an epoch bump), so the records after it are still delivered. */
  create_topic(broker, "seq-hole", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "delivery.timeout.ms", "2000", "request.timeout.ms", "1000",
                                         NULL);
  warm_up(p, "seq-hole", 0);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"MESSAGE_TOO_LARGE\","
                "\"count\":1,\"topic\":\"seq-hole\"}");
  assert_int_equal(send_value(p, "seq-hole", 0, NULL, "refused", 1), 0);
  flush_ok(p, 5000);
  assert_completed_once(1, 2);
  assert_int_equal(done[1].error, MK_ERR_MESSAGE_TOO_LARGE);
  assert_int_equal(send_value(p, "seq-hole", 0, NULL, "after", 2), 0);
  struct mk_err err = {0};
  mk_producer_flush(p, 4000, &err);
  assert_completed_once(2, 3);
  if (done[2].error) fail_msg("the record after the failed one: %s (%s)", mk_err_name(done[2].error), done[2].msg);
  struct log_view v = read_log(broker, "seq-hole", 0);
  assert_int_equal(log_count_value(&v, "after"), 1);
  log_free(&v);
}

static void test_idempotent_producer_keeps_delivering_after_a_retried_batch_expires(void **state) {
  (void)state;
  /* A batch that expired (delivery.timeout.ms) after being sent holds a sequence number the
   * broker never wrote; Java marks it unresolved and bumps the epoch, so later records go. */
  create_topic(broker, "seq-expired", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "delivery.timeout.ms", "1500", "request.timeout.ms", "1000",
                                         NULL);
  warm_up(p, "seq-expired", 0);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\","
                "\"count\":1000,\"topic\":\"seq-expired\"}");
  assert_int_equal(send_value(p, "seq-expired", 0, NULL, "expired", 1), 0);
  assert_int_equal(wait_completions(2, 5000), 2);
  assert_completed_once(1, 2);
  assert_int_not_equal(done[1].error, 0);
  mk_broker_clear_faults(broker);
  assert_int_equal(send_value(p, "seq-expired", 0, NULL, "after", 2), 0);
  struct mk_err err = {0};
  mk_producer_flush(p, 5000, &err);
  assert_completed_once(2, 3);
  if (done[2].error) fail_msg("the record after the expired one: %s (%s)", mk_err_name(done[2].error), done[2].msg);
}

/* Warm up, make the broker answer `error` once, then check the producer recovers: the
 * refused record completes once (with that error, as transaction_manager.h says), and the
 * next records are written under a new producer id or epoch, numbered from 0 again. */
static void sequence_reset_scenario(const char *topic, const char *error, int code) {
  create_topic(broker, topic, 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "delivery.timeout.ms", "5000", "request.timeout.ms", "2000",
                                         NULL);
  warm_up(p, topic, 0);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"%s\",\"count\":1,\"topic\":\"%s\"}",
        error, topic);
  assert_int_equal(send_value(p, topic, 0, NULL, "refused", 1), 0);
  flush_ok(p, 5000);
  assert_completed_once(1, 2);
  assert_int_equal(done[1].error, code);
  for (int i = 2; i < 5; i++) assert_int_equal(send_value(p, topic, 0, NULL, "after-reset", i), 0);
  flush_ok(p, 5000);
  assert_succeeded(2, 5);
  struct log_view v = read_log(broker, topic, 0);
  assert_int_equal(v.count, 4);
  assert_string_equal(v.records[0].value, "warm-up");
  struct logged *before = &v.records[0], *after = &v.records[1];
  assert_true(after->producer_id != before->producer_id ||
              after->producer_epoch != before->producer_epoch);
  for (int i = 1; i < 4; i++) {
    assert_string_equal(v.records[i].value, "after-reset");
    assert_int_equal(v.records[i].sequence, i - 1);
  }
  log_free(&v);
}

static void test_sequence_reset_renumbers_the_batches_waiting_for_a_retry(void **state) {
  (void)state;
  /* Five batches in flight; the broker refuses the first (OUT_OF_ORDER_SEQUENCE_NUMBER,
   * answer held 300 ms) and so the next four, whose predecessor it never wrote. The first
   * fails and the producer id is reset; the four waiting for a retry must then be sent
   * under the new id with sequences from 0 (Java: TransactionManager resets the producer
   * state of in-flight batches), not with the old id and numbers the broker will refuse. */
  create_topic(broker, "renumber", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "0",
                                         "batch.size", "1", "max.in.flight.requests.per.connection", "5",
                                         "delivery.timeout.ms", "2500", "request.timeout.ms", "1500",
                                         NULL);
  warm_up(p, "renumber", 0);
  test_broker_fault(broker, "{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"OUT_OF_ORDER_SEQUENCE_NUMBER\","
                "\"count\":1,\"topic\":\"renumber\"}");
  test_broker_fault(broker, "{\"action\":\"delay\",\"api\":\"Produce\",\"ms\":300,\"count\":1,\"topic\":\"renumber\"}");
  char value[32];
  for (int i = 1; i <= 5; i++) {
    snprintf(value, sizeof value, "o-%d", i);
    assert_int_equal(send_value(p, "renumber", 0, NULL, value, i), 0);
  }
  struct mk_err err = {0};
  mk_producer_flush(p, 5000, &err);
  assert_int_equal(atomic_load(&complete_cb_called), 6);
  assert_completed_once(0, 6);
  assert_int_equal(done[1].error, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  for (int i = 2; i <= 5; i++)
    if (done[i].error) fail_msg("o-%d: %s (%s)", i, mk_err_name(done[i].error), done[i].msg);
  struct log_view v = read_log(broker, "renumber", 0);
  assert_int_equal(v.count, 5);
  for (int i = 1; i < 5; i++) {
    snprintf(value, sizeof value, "o-%d", i + 1);
    assert_string_equal(v.records[i].value, value);
    assert_int_equal(v.records[i].sequence, i - 1);
  }
  log_free(&v);
}

static void test_unknown_producer_id_resets_the_producer_id_and_sequences(void **state) {
  (void)state;
  sequence_reset_scenario("unknown-producer", "UNKNOWN_PRODUCER_ID", MK_ERR_UNKNOWN_PRODUCER_ID);
}

static void test_out_of_order_sequence_for_the_next_batch_resets_the_producer_id(void **state) {
  (void)state;
  sequence_reset_scenario("out-of-order", "OUT_OF_ORDER_SEQUENCE_NUMBER",
                          MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
}

/* ==== acks ================================================================================= */

static void test_acks_1_and_all_complete_with_offsets(void **state) {
  (void)state;
  create_topic(broker, "acks", 1, 3);
  capture_start("\"event\":\"request_sent\"", NULL);
  const char *modes[] = {"1", "all"};
  for (int m = 0; m < 2; m++) {
    reset_completions();
    struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "acks", modes[m],
                                           "linger.ms", "5", NULL);
    for (int i = 0; i < 20; i++) assert_int_equal(send_value(p, "acks", 0, NULL, modes[m], i), 0);
    flush_ok(p, 10000);
    assert_succeeded(0, 20);
    for (int i = 0; i < 20; i++) assert_int_equal(done[i].offset, m * 20 + i);
    close_producer(5000);
  }
  assert_true(capture_count("\"acks\":1,", NULL) >= 1);
  assert_true(capture_count("\"acks\":-1,", NULL) >= 1);
  assert_int_equal(wait_log_count(broker, "acks", 0, 40, 2000), 40);
}

static void test_acks_0_completes_every_record_with_offset_minus_1(void **state) {
  (void)state;
  create_topic(broker, "acks0", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "acks", "0", "linger.ms", "5",
                                         NULL);
  enum { N = 200 };
  for (int i = 0; i < N; i++) assert_int_equal(send_value(p, "acks0", -1, NULL, "unacknowledged", i), 0);
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  for (int i = 0; i < N; i++) assert_int_equal(done[i].offset, -1);
  assert_int_equal((int)metric(p, "record-send-total"), N);
  assert_int_equal(wait_log_count(broker, "acks0", 0, N, 3000), N);
}

/* ==== leaders move ========================================================================= */

struct paced_sender {
  struct mk_producer *p;
  const char *topic;
  int count;
  int sleep_every;  /* sleep 1 ms after this many sends */
  atomic_int sent;
};

static void *paced_send(void *arg) {
  struct paced_sender *s = arg;
  char value[32];
  for (int i = 0; i < s->count; i++) {
    snprintf(value, sizeof value, "m-%d", i);
    if (send_value(s->p, s->topic, 0, NULL, value, i) != 0) break;
    atomic_fetch_add(&s->sent, 1);
    if (i % s->sleep_every == s->sleep_every - 1) sleep_ms(1);
  }
  return NULL;
}

static void test_leader_moves_are_followed_and_no_acknowledged_record_is_lost(void **state) {
  (void)state;
  assert_int_equal(start_broker(&own_broker), 0);
  struct topic_info t = create_topic(own_broker, "moving", 1, 3);
  capture_start("\"event\":\"request_received\"", NULL);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "acks", "all",
                                         "client.id", "mover", "linger.ms", "5",
                                         "request.timeout.ms", "2000", "delivery.timeout.ms", "5000",
                                         NULL);
  enum { N = 1500 };
  struct paced_sender s = {p, "moving", N, 3, 0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, paced_send, &s), 0);
  sleep_ms(150);
  test_broker_fault(own_broker, "{\"action\":\"elect_leader\",\"topic\":\"moving\",\"partition\":0,\"broker\":%d}",
        t.followers[0]);
  sleep_ms(150);
  test_broker_fault(own_broker, "{\"action\":\"broker_down\",\"broker\":%d}", t.followers[0]);
  pthread_join(thread, NULL);
  assert_int_equal(atomic_load(&s.sent), N);
  flush_ok(p, 8000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  struct log_view v = read_log(own_broker, "moving", 0);
  assert_true(v.leader >= 0 && v.leader != t.followers[0]);
  /* Produce requests went to the first leader, the elected one and the last one. */
  int32_t leaders[3] = {t.leader, t.followers[0], v.leader};
  for (int l = 0; l < 3; l++) {
    char produce_on[48];  /* request_received writes broker, then api */
    snprintf(produce_on, sizeof produce_on, "\"broker\":%d,\"api\":\"Produce\"", leaders[l]);
    if (capture_count(produce_on, "\"client_id\":\"mover\"") == 0)
      fail_msg("no Produce request reached broker %d", leaders[l]);
  }
  assert_int_equal(v.count, N);  /* every acknowledged record, once, in send order */
  for (int i = 0; i < v.count && i < N; i++) {
    char value[32];
    snprintf(value, sizeof value, "m-%d", i);
    if (strcmp(v.records[i].value, value) != 0)
      fail_msg("offset %d holds %s, expected %s", i, v.records[i].value, value);
  }
  log_free(&v);
  test_broker_fault(own_broker, "{\"action\":\"broker_up\",\"broker\":%d}", t.followers[0]);
}

static void test_leader_death_while_idle_is_noticed_through_a_metadata_refresh(void **state) {
  (void)state;
  /* Nothing is in flight when the leader dies: only the disconnect tells the producer.
   * Java's NetworkClient requests a metadata update on every disconnect ("the disconnect
   * may be the result of stale metadata"), so the next record goes to the new leader. */
  assert_int_equal(start_broker(&own_broker), 0);
  struct topic_info t = create_topic(own_broker, "idle-leader", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(own_broker), "linger.ms", "0",
                                         "request.timeout.ms", "2000", "delivery.timeout.ms", "4000",
                                         NULL);
  warm_up(p, "idle-leader", 0);
  test_broker_fault(own_broker, "{\"action\":\"broker_down\",\"broker\":%d}", t.leader);
  sleep_ms(200);
  int64_t start = now_ms();
  assert_int_equal(send_value(p, "idle-leader", 0, NULL, "to-the-new-leader", 1), 0);
  struct mk_err err = {0};
  mk_producer_flush(p, 6000, &err);
  assert_completed_once(1, 2);
  if (done[1].error) fail_msg("%s (%s)", mk_err_name(done[1].error), done[1].msg);
  assert_true(done[1].at_ms - start < 3000);
  struct log_view v = read_log(own_broker, "idle-leader", 0);
  assert_true(v.leader != t.leader);
  assert_int_equal(log_count_value(&v, "to-the-new-leader"), 1);
  log_free(&v);
  test_broker_fault(own_broker, "{\"action\":\"broker_up\",\"broker\":%d}", t.leader);
}

/* ==== many application threads ========================================================= */

struct thread_sender {
  struct mk_producer *p;
  int id, count, first_index;
};

static void *send_keyed(void *arg) {
  struct thread_sender *s = arg;
  char key[16], value[32];
  snprintf(key, sizeof key, "thread-%d", s->id);
  for (int i = 0; i < s->count; i++) {
    snprintf(value, sizeof value, "%d:%d", s->id, i);
    if (send_value(s->p, "threads", -1, key, value, s->first_index + i) != 0) break;
  }
  return NULL;
}

static void test_concurrent_senders_each_complete_once_and_keep_per_key_order(void **state) {
  (void)state;
  enum { THREADS = 4, PER_THREAD = 1000 };
  create_topic(broker, "threads", 3, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "2", NULL);
  pthread_t threads[THREADS];
  struct thread_sender senders[THREADS];
  for (int t = 0; t < THREADS; t++) {
    senders[t] = (struct thread_sender){p, t, PER_THREAD, t * PER_THREAD};
    assert_int_equal(pthread_create(&threads[t], NULL, send_keyed, &senders[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  flush_ok(p, 20000);
  assert_int_equal(atomic_load(&complete_cb_called), THREADS * PER_THREAD);
  assert_succeeded(0, THREADS * PER_THREAD);
  int next[THREADS] = {0};
  for (int32_t part = 0; part < 3; part++) {
    struct log_view v = read_log(broker, "threads", part);
    for (int r = 0; r < v.count; r++) {
      int t = -1, i = -1;
      assert_int_equal(sscanf(v.records[r].value, "%d:%d", &t, &i), 2);
      assert_in_range(t, 0, THREADS - 1);
      assert_int_equal(i, next[t]);  /* a key's records stay in the order they were sent */
      next[t]++;
    }
    log_free(&v);
  }
  for (int t = 0; t < THREADS; t++) assert_int_equal(next[t], PER_THREAD);
}

/* ==== metrics and trace events ============================================================ */

struct metric_list {
  int count;
  char names[96][48];
  char groups[96][32];
  char topics[96][32];
  double values[96];
};

static void collect_metric(void *opaque, const char *group, const char *topic, const char *name,
                           double value) {
  struct metric_list *l = opaque;
  if (l->count >= 96) return;
  snprintf(l->names[l->count], sizeof l->names[0], "%s", name);
  snprintf(l->groups[l->count], sizeof l->groups[0], "%s", group);
  snprintf(l->topics[l->count], sizeof l->topics[0], "%s", topic ? topic : "");
  l->values[l->count++] = value;
}

static void test_metrics_carry_kafkas_names_and_count_what_happened(void **state) {
  (void)state;
  create_topic(broker, "metrics", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "5", NULL);
  enum { N = 300 };
  for (int i = 0; i < N; i++) assert_int_equal(send_value(p, "metrics", -1, NULL, "measured", i), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, N);
  static const char *kafka_names[] = {
      "record-send-rate", "record-send-total", "record-retry-rate", "record-retry-total",
      "record-error-rate", "record-error-total", "record-size-avg", "record-size-max",
      "batch-size-avg", "batch-size-max", "compression-rate-avg", "records-per-request-avg",
      "request-latency-avg", "request-latency-max", "request-rate", "request-total",
      "outgoing-byte-rate", "outgoing-byte-total", "record-queue-time-avg",
      "record-queue-time-max", "produce-throttle-time-avg", "produce-throttle-time-max",
      "buffer-total-bytes", "buffer-available-bytes", "waiting-threads",
      "bufferpool-wait-time-ns-total"};
  struct metric_list l = {0};
  mk_producer_metrics_each(p, collect_metric, &l);
  for (size_t k = 0; k < sizeof kafka_names / sizeof kafka_names[0]; k++) {
    bool found = false;
    for (int i = 0; i < l.count; i++)
      found |= strcmp(l.names[i], kafka_names[k]) == 0 && strcmp(l.groups[i], "producer-metrics") == 0;
    if (!found) fail_msg("metric %s is missing", kafka_names[k]);
  }
  assert_int_equal((int)metric(p, "record-send-total"), N);
  assert_int_equal((int)metric(p, "record-error-total"), 0);
  assert_int_equal((int)metric(p, "record-retry-total"), 0);
  assert_true(metric(p, "request-total") >= 1);
  assert_true(metric(p, "records-per-request-avg") >= 1);
  assert_true(metric(p, "batch-size-avg") > 0);
  assert_true(metric(p, "record-size-avg") > 0);
  assert_true(metric(p, "outgoing-byte-total") > 0);
  assert_true(metric(p, "record-send-rate") > 0);
  assert_true(metric(p, "request-latency-avg") >= 0);
  assert_int_equal((int64_t)metric(p, "buffer-available-bytes"), (int64_t)metric(p, "buffer-total-bytes"));
  assert_int_equal((int64_t)metric(p, "buffer-total-bytes"), 33554432);
  assert_true(isnan(metric(p, "no-such-metric")));
}

static void test_topic_metrics_count_each_topics_records(void **state) {
  (void)state;
  /* producer.h: metrics come in group "producer-metrics", or "producer-topic-metrics" with
   * the topic set, as Kafka's per-topic sensors (record-send-total, record-error-total, ...). */
  create_topic(broker, "topic-metrics-a", 1, 3);
  create_topic(broker, "topic-metrics-b", 1, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "5", NULL);
  for (int i = 0; i < 30; i++)
    assert_int_equal(send_value(p, i < 10 ? "topic-metrics-a" : "topic-metrics-b", -1, NULL, "x", i), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 30);
  struct metric_list l = {0};
  mk_producer_metrics_each(p, collect_metric, &l);
  double a = NAN, b = NAN;
  for (int i = 0; i < l.count; i++) {
    if (strcmp(l.groups[i], "producer-topic-metrics") || strcmp(l.names[i], "record-send-total")) continue;
    if (strcmp(l.topics[i], "topic-metrics-a") == 0) a = l.values[i];
    if (strcmp(l.topics[i], "topic-metrics-b") == 0) b = l.values[i];
  }
  if (isnan(a) || isnan(b)) fail_msg("no producer-topic-metrics record-send-total per topic");
  assert_int_equal((int)a, 10);
  assert_int_equal((int)b, 20);
}

/* Capture the producer's trace while one keyed record (done[1]) goes through; the topic's
 * metadata and the producer id are fetched first (done[0]) so only the record's own steps
 * are captured. */
static void trace_one_record(const char *topic) {
  create_topic(broker, topic, 3, 3);
  struct mk_producer *p = start_producer(mk_broker_bootstrap(broker), "linger.ms", "20", NULL);
  warm_up(p, topic, 0);
  capture_start("\"side\":\"producer\"", NULL);
  assert_int_equal(send_value(p, topic, -1, "a-key", "traced-value", 1), 0);
  flush_ok(p, 10000);
  assert_succeeded(1, 2);
}

static void test_trace_shows_every_step_of_a_record_in_order(void **state) {
  (void)state;
  trace_one_record("traced-steps");
  /* DESIGN.md 3.4, in the order they happen. */
  static const char *steps[] = {"send", "partition", "append", "batch_ready", "request_sent",
                                "response_received", "complete"};
  int at = 0;
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    char event[48];
    snprintf(event, sizeof event, "\"event\":\"%s\"", steps[s]);
    int n = capture_count(event, NULL);
    if (n != 1) fail_msg("%d %s events for one record, expected 1", n, event);
    int i = capture_find(0, event, NULL);
    if (i < at) fail_msg("event %s came before the step it follows", steps[s]);
    at = i;
  }
  char *line = capture_line(capture_find(0, "\"event\":\"batch_ready\"", NULL), NULL);
  assert_true(strstr(line, "\"reason\":\"flush\"") || strstr(line, "\"reason\":\"linger\""));
  free(line);
  /* A keyless record too: its partition (the sticky one) is chosen before it is appended
   * (partitioner.h: the accumulator traces it once it has peeked the sticky partition). */
  int before = capture_find(0, "\"event\":\"complete\"", NULL);
  assert_int_equal(send_value(producer, "traced-steps", -1, NULL, "keyless", 2), 0);
  flush_ok(producer, 10000);
  int partition = capture_find(before, "\"event\":\"partition\"", "uniform_sticky");
  int append = capture_find(before, "\"event\":\"append\"", NULL);
  assert_true(partition > 0 && append > 0);
  if (partition > append) fail_msg("a keyless record's partition event came after its append event");
}

static void test_trace_events_carry_the_fields_design_lists(void **state) {
  (void)state;
  trace_one_record("traced-fields");
  char *line = capture_line(capture_find(0, "\"event\":\"partition\"", NULL), NULL);
  assert_non_null(line);
  assert_non_null(strstr(line, "\"reason\":\"key_hash\""));
  assert_int_equal(json_int(line, "partition"), done[1].partition);
  free(line);
  line = capture_line(capture_find(0, "\"event\":\"append\"", NULL), NULL);
  assert_true(json_int(line, "batch_id") >= 0);
  assert_int_equal(json_int(line, "records"), 1);
  assert_true(json_int(line, "bytes") > 0);
  free(line);
  line = capture_line(capture_find(0, "\"event\":\"complete\"", NULL), NULL);
  assert_non_null(strstr(line, "\"topic\":\"traced-fields\""));
  assert_int_equal(json_int(line, "partition"), done[1].partition);
  assert_int_equal(json_int(line, "offset"), done[1].offset);
  free(line);
  line = capture_line(capture_find(0, "\"event\":\"request_sent\"", NULL), NULL);
  assert_true(json_int(line, "broker") >= 0);
  assert_true(json_int(line, "producer_id") >= 0);
  assert_int_equal(json_int(line, "epoch"), 0);
  /* The warm-up went to partition 0: the record's batch is its partition's first or second. */
  assert_int_equal(json_int(line, "base_sequence"), done[1].partition == 0 ? 1 : 0);
  int64_t correlation_id = json_int(line, "correlation_id");
  free(line);
  /* A keyless record's partition is the sticky one. */
  assert_int_equal(send_value(producer, "traced-fields", -1, NULL, "keyless", 2), 0);
  flush_ok(producer, 10000);
  assert_int_equal(capture_count("\"event\":\"partition\"", "\"reason\":\"uniform_sticky\""), 1);
  /* request_sent names the request (DESIGN.md 3.4: "correlation id"), as the broker's
   * request_received does, so the two sides of a timeline can be matched. */
  if (correlation_id == INT64_MIN) fail_msg("request_sent has no correlation_id");
  assert_true(correlation_id > 0);
}

/* One Produce request carrying many batches (one per partition, about 32 per broker): its
 * request_sent lists every one of them, as many as response_received counts. The event
 * outgrows the trace's inline buffer; it used to be cut after a handful of batches. */
static void test_request_sent_lists_every_batch_of_a_large_request(void **state) {
  (void)state;
  enum { PARTITIONS = 96 };
  const char *topic = "many-batches";
  create_topic(broker, topic, PARTITIONS, 3);
  start_producer(mk_broker_bootstrap(broker), "linger.ms", "60000", NULL);  /* flush sends */
  capture_start("\"event\":\"request_sent\"", "\"event\":\"response_received\"", NULL);
  for (int i = 0; i < PARTITIONS; i++) assert_int_equal(send_value(producer, topic, i, NULL, "v", i), 0);
  flush_ok(producer, 10000);
  assert_succeeded(0, PARTITIONS);
  bool seen[PARTITIONS] = {false};
  int listed = 0, counted = 0, most = 0;
  for (int i = 0;; i++) {
    char *line = capture_line(i, NULL);
    if (!line) break;
    json_error_t e;
    json_t *ev = json_loads(line, 0, &e);
    if (!ev) fail_msg("not JSON (%s): %.300s", e.text, line);
    if (strcmp(json_string_value(json_object_get(ev, "event")), "response_received") == 0) {
      counted += (int)json_integer_value(json_object_get(ev, "batches"));
    } else {
      json_t *batches = json_object_get(ev, "batches"), *b;
      size_t k;
      json_array_foreach(batches, k, b) {
        assert_string_equal(json_string_value(json_object_get(b, "topic")), topic);
        json_int_t partition = json_integer_value(json_object_get(b, "partition"));
        assert_true(partition >= 0 && partition < PARTITIONS);
        assert_false(seen[partition]);
        seen[partition] = true;
        assert_int_equal(json_integer_value(json_object_get(b, "records")), 1);
        assert_true(json_integer_value(json_object_get(b, "producer_id")) >= 0);
      }
      listed += (int)json_array_size(batches);
      if ((int)json_array_size(batches) > most) most = (int)json_array_size(batches);
    }
    json_decref(ev);
    free(line);
  }
  print_message("%d batches listed by request_sent (at most %d in one), %d counted by "
                "response_received\n", listed, most, counted);
  assert_int_equal(listed, PARTITIONS);
  assert_int_equal(counted, PARTITIONS);
  assert_true(most >= 30);
}

/* ==== configs the producer refuses ======================================================== */

static void test_invalid_configs_are_refused_with_the_setting_named(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer *p = NULL;
  /* Not finished. */
  struct mk_producer_config *cfg = config_for(mk_broker_bootstrap(broker), NULL);
  assert_int_equal(mk_producer_new(cfg, &p, &err), MK_ERR__INVALID_ARG);
  assert_null(p);
  /* Finished, then changed: must be finished again. */
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "linger.ms", "7", &err), 0);
  assert_int_equal(mk_producer_new(cfg, &p, &err), MK_ERR__INVALID_ARG);
  mk_producer_config_free(cfg);
  /* Rules over several settings. */
  static const char *bad[][4] = {
      {"enable.idempotence", "true", "acks", "1"},
      {"enable.idempotence", "true", "max.in.flight.requests.per.connection", "6"},
      {"delivery.timeout.ms", "1000", "request.timeout.ms", "30000"},
      {"transactional.id", "tx", "enable.idempotence", "false"},
  };
  static const char *named[] = {"acks", "max.in.flight.requests.per.connection",
                                "delivery.timeout.ms", "idempotence"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cfg = config_for(mk_broker_bootstrap(broker), bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);
    assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
    if (!strstr(err.msg, named[i])) fail_msg("\"%s\" does not name %s", err.msg, named[i]);
    mk_producer_config_free(cfg);
  }
  /* Single settings. */
  cfg = mk_producer_config_new();
  assert_int_equal(mk_producer_config_set(cfg, "bootstrap.servers", "no-port", &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "bootstrap.servers"));
  assert_int_equal(mk_producer_config_set(cfg, "acks", "2", &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "acks"));
  assert_int_equal(mk_producer_config_set(cfg, "max.inflight.requests.per.connection", "5", &err),
                   MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "max.in.flight.requests.per.connection"));  /* the suggestion */
  /* Required settings. */
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "bootstrap.servers"));
  mk_producer_config_free(cfg);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_test, teardown_test)
  const struct CMUnitTest tests[] = {
      T(test_send_modes_fire_and_forget_future_and_callback_all_complete),
      T(test_send_to_a_new_topic_waits_until_it_is_auto_created),
      T(test_max_block_ms_0_fails_at_once_but_asks_for_the_topic),
      T(test_keyed_records_land_in_librdkafka_murmur2_partitions),
      T(test_keyless_uniform_sticky_fills_requests_more_than_round_robin),
      T(test_headers_arrive_intact_even_when_the_caller_reuses_its_buffers),
      T(test_interceptors_rewrite_on_send_and_see_each_acknowledgement_once),
      T(test_serialization_error_completes_once_on_the_callers_thread),
      T(test_null_header_key_fails_at_once_naming_the_problem),
      T(test_record_larger_than_max_request_size_fails_at_once_with_message_too_large),
      T(test_send_fails_after_max_block_ms_when_no_broker_answers),
      T(test_compressed_batches_fill_up_as_the_ratio_estimate_improves),
      T(test_a_compressed_batch_holds_at_most_max_request_size_uncompressed),
      T(test_full_buffer_blocks_send_for_max_block_ms_then_times_out),
      T(test_bufferpool_wait_time_counts_a_wait_that_timed_out),
      T(test_delivery_timeout_fails_every_record_once_while_all_brokers_are_down),
      T(test_close_with_a_timeout_fails_in_flight_records_exactly_once),
      T(test_close_wakes_a_send_blocked_on_buffer_memory),
      T(test_close_waits_for_a_woken_send_to_return),
      T(test_a_throttled_producer_sends_that_broker_nothing_until_the_time_is_up),
      T(test_not_leader_errors_are_retried_after_a_metadata_refresh),
      T(test_retry_backoff_grows_exponentially_with_jitter_up_to_the_max),
      T(test_non_retriable_error_fails_the_batch_without_retrying),
      T(test_lost_response_is_retried_after_request_timeout_ms),
      T(test_lost_response_duplicates_records_without_idempotence),
      T(test_lost_response_is_not_duplicated_with_idempotence),
      T(test_retried_batch_lands_after_later_ones_without_idempotence),
      T(test_idempotence_keeps_send_order_with_five_in_flight),
      T(test_one_in_flight_keeps_send_order_without_idempotence),
      T(test_idempotent_producer_keeps_delivering_after_a_batch_fails_for_good),
      T(test_idempotent_producer_keeps_delivering_after_a_retried_batch_expires),
      T(test_sequence_reset_renumbers_the_batches_waiting_for_a_retry),
      T(test_unknown_producer_id_resets_the_producer_id_and_sequences),
      T(test_out_of_order_sequence_for_the_next_batch_resets_the_producer_id),
      T(test_acks_1_and_all_complete_with_offsets),
      T(test_acks_0_completes_every_record_with_offset_minus_1),
      T(test_leader_moves_are_followed_and_no_acknowledged_record_is_lost),
      T(test_leader_death_while_idle_is_noticed_through_a_metadata_refresh),
      T(test_concurrent_senders_each_complete_once_and_keep_per_key_order),
      T(test_metrics_carry_kafkas_names_and_count_what_happened),
      T(test_topic_metrics_count_each_topics_records),
      T(test_trace_shows_every_step_of_a_record_in_order),
      T(test_trace_events_carry_the_fields_design_lists),
      T(test_request_sent_lists_every_batch_of_a_large_request),
      T(test_invalid_configs_are_refused_with_the_setting_named),
  };
#undef T
  /* A producer that lets SIGPIPE through would end the whole file at the first hang-up;
   * test_producer_mock.c checks for that in a child process, the tests here report on
   * their own. */
  signal(SIGPIPE, SIG_IGN);
  if (getenv("MK_TEST_FILTER")) cmocka_set_test_filter(getenv("MK_TEST_FILTER"));
  if (getenv("MK_TEST_TRACE")) {
    struct mk_err err = {0};
    if (mk_trace_open_file(getenv("MK_TEST_TRACE"), &err) < 0) fprintf(stderr, "%s\n", err.msg);
  }
  return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
