/*
 * The producer's client-side behaviours against librdkafka's mock cluster (rdkafka_mock.h):
 * a Kafka implementation we did not write, so what passes here is not an artefact of our
 * own broker agreeing with our own client. test_producer.c runs the same scenarios (and
 * the ones that need a broker's help: sequence checks, ISR, duplicates) on our broker.
 *
 *   test thread                    our producer                 librdkafka's mock cluster
 *   mk_producer_send ...     ->    ApiVersions v3 (the mock      3 brokers, ids 1..3;
 *   flush / close (bounded)        answers it badly: v0), then   rd_kafka_mock_push_request_
 *                                  Metadata v0-2, InitProducer-  errors, _broker_set_down/up,
 *                                  Id, Produce v0-7              _set_rtt, _partition_set_leader
 *   read back with a librdkafka consumer  <--------------------  Fetch
 *
 * The mock's limits shape what is checked: it ignores acks (acks=0 just means "no
 * response"), has no ISR, and checks sequence numbers only for transactional producers,
 * so an idempotent producer's order here rests on the client alone (re-enqueueing retries
 * in sequence order), never on the broker refusing a batch.
 *
 * Callbacks store what they were told in done[i]; tests assert exact counts. Every wait is
 * bounded. MK_TEST_FILTER and MK_TEST_TRACE work as in test_producer.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/trace.h"
#include "producer/producer.h"
#include "producer/producer_config.h"
#include "producer/serializers.h"
#include "protocol/api.h"
#include "tests/support/producer_probe.h"
#include "tests/support/rdkafka_support.h"

static struct mock_cluster mock;          /* tests/support/rdkafka_support.h */
static rd_kafka_mock_cluster_t *mcluster;
static const char *bootstraps;            /* "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" */
static struct mk_producer *producer;      /* the test's producer; teardown closes it */

/* ---- the mock cluster --------------------------------------------------------------------- */

static int setup_file(void **state) {
  (void)state;
  if (mock_cluster_start(&mock, 3)) return -1;
  mcluster = mock.cluster;
  bootstraps = mock.bootstraps;
  return 0;
}

static int teardown_file(void **state) {
  (void)state;
  mock_cluster_stop(&mock);
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
  rd_kafka_mock_clear_request_errors(mcluster, MK_API_PRODUCE);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 0);
  rd_kafka_mock_broker_set_up(mcluster, -1);
  return 0;
}

static void create_topic(const char *name, int partitions) {
  assert_int_equal(rd_kafka_mock_topic_create(mcluster, name, partitions, 3), 0);
}

/* ---- producers ---------------------------------------------------------------------------- */

static struct mk_producer *start_producer_cfg(struct mk_producer_config *cfg) {
  struct mk_err err = {0};
  if (mk_producer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
  if (mk_producer_new(cfg, &producer, &err)) fail_msg("mk_producer_new: %s", err.msg);
  mk_producer_config_free(cfg);
  return producer;
}

/* The test's producer (closed by teardown): StringSerializers, then (key, value) pairs. */
static struct mk_producer *start_producer(const char *first_key, ...) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  assert_non_null(cfg);
  struct mk_err err = {0};
  const char *defaults[][2] = {{"bootstrap.servers", bootstraps},
                               {"key.serializer", "StringSerializer"},
                               {"value.serializer", "StringSerializer"}};
  for (size_t i = 0; i < 3; i++)
    if (mk_producer_config_set(cfg, defaults[i][0], defaults[i][1], &err))
      fail_msg("%s: %s", defaults[i][0], err.msg);
  va_list ap;
  va_start(ap, first_key);
  for (const char *key = first_key; key; key = va_arg(ap, const char *)) {
    const char *value = va_arg(ap, const char *);
    if (mk_producer_config_set(cfg, key, value, &err)) fail_msg("%s=%s: %s", key, value, err.msg);
  }
  va_end(ap);
  return start_producer_cfg(cfg);
}

/* ==== the basics ============================================================================ */

static void test_mock_every_send_mode_completes(void **state) {
  (void)state;
  create_topic("mock-modes", 3);
  struct mk_producer *p = start_producer("linger.ms", "5", NULL);
  enum { N = 50 };
  struct mk_future *futures[N];
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "ff-%d", i);
    assert_int_equal(send_value(p, "mock-modes", -1, NULL, value, -1), 0);
    snprintf(value, sizeof value, "future-%d", i);
    struct mk_producer_record rec = {.topic = "mock-modes", .partition = -1, .key = mk_value_null(),
                                     .value = mk_value_string(value), .timestamp = -1};
    struct mk_err err = {0};
    assert_int_equal(mk_producer_send(p, &rec, NULL, NULL, &futures[i], &err), 0);
    snprintf(value, sizeof value, "callback-%d", i);
    assert_int_equal(send_value(p, "mock-modes", -1, NULL, value, i), 0);
  }
  for (int i = 0; i < N; i++) {
    struct mk_record_metadata md;
    struct mk_err err = {0};
    assert_int_equal(mk_future_get(futures[i], 10000, &md, &err), 0);
    assert_true(md.offset >= 0);
    mk_future_free(futures[i]);
  }
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  assert_int_equal((int)mk_producer_metric(p, "record-send-total"), 3 * N);
  static struct consumed c[3 * N + 10];
  assert_int_equal(consume_all(bootstraps, "mock-modes", 3, c, 3 * N + 10, 3 * N, 10000), 3 * N);
}

static void test_mock_keyed_records_land_in_librdkafka_murmur2_partitions(void **state) {
  (void)state;
  enum { PARTITIONS = 6, N = 101 };
  create_topic("mock-keyed", PARTITIONS);
  struct mk_producer *p = start_producer("linger.ms", "5", NULL);
  static char keys[N][32];
  for (int i = 0; i < N - 1; i++) snprintf(keys[i], sizeof keys[i], "user-%d", i * 7919);
  snprintf(keys[N - 1], sizeof keys[N - 1], "%s", "");
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "%d", i);
    assert_int_equal(send_value(p, "mock-keyed", -1, keys[i], value, i), 0);
  }
  flush_ok(p, 10000);
  assert_succeeded(0, N);
  static struct consumed c[N + 10];
  int n = consume_all(bootstraps, "mock-keyed", PARTITIONS, c, N + 10, N, 10000);
  assert_int_equal(n, N);
  for (int r = 0; r < n; r++) {
    int i = atoi(c[r].value);
    assert_in_range(i, 0, N - 1);
    int32_t theirs = rd_kafka_msg_partitioner_murmur2_random(NULL, keys[i], strlen(keys[i]),
                                                             PARTITIONS, NULL, NULL);
    assert_string_equal(c[r].key, keys[i]);
    assert_int_equal(c[r].key_len, (int)strlen(keys[i]));  /* "" stays an empty key, not null */
    if (c[r].partition != theirs || done[i].partition != theirs)
      fail_msg("key \"%s\": sent to %d, read from %d, librdkafka says %d", keys[i], done[i].partition,
               c[r].partition, theirs);
  }
}

static void test_mock_librdkafka_reads_our_headers_keys_and_values(void **state) {
  (void)state;
  create_topic("mock-headers", 1);
  struct mk_producer *p = start_producer(NULL);
  static const uint8_t binary[] = {0x00, 0x01, 0xff};
  struct mk_record_header headers[3] = {
      {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)"abc", 3}},
      {{(const uint8_t *)"binary", 6}, {binary, 3}},
      {{(const uint8_t *)"none", 4}, {NULL, -1}},
  };
  struct mk_producer_record rec = {.topic = "mock-headers", .partition = 0,
                                   .key = mk_value_string("the-key"),
                                   .value = mk_value_string("the-value"), .timestamp = -1,
                                   .headers = headers, .headers_count = 3};
  struct mk_err err = {0};
  assert_int_equal(mk_producer_send(p, &rec, on_complete, (void *)0, NULL, &err), 0);
  rec.headers = NULL;
  rec.headers_count = 0;
  rec.key = mk_value_null();
  rec.value = mk_value_null();  /* a tombstone */
  assert_int_equal(mk_producer_send(p, &rec, on_complete, (void *)1, NULL, &err), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 2);
  struct consumed c[4];
  assert_int_equal(consume_all(bootstraps, "mock-headers", 1, c, 4, 2, 10000), 2);
  assert_string_equal(c[0].key, "the-key");
  assert_string_equal(c[0].value, "the-value");
  assert_int_equal(c[0].headers_count, 3);
  assert_string_equal(c[0].headers[0].name, "trace-id");
  assert_string_equal(c[0].headers[0].value, "abc");
  assert_string_equal(c[0].headers[1].name, "binary");
  assert_int_equal(c[0].headers[1].value_len, 3);
  assert_memory_equal(c[0].headers[1].value, binary, 3);
  assert_string_equal(c[0].headers[2].name, "none");
  assert_int_equal(c[0].headers[2].value_len, -1);
  assert_int_equal(c[1].key_len, -1);
  assert_int_equal(c[1].value_len, -1);
  assert_int_equal(c[1].headers_count, 0);
}

static void test_mock_acks_0_completes_every_record_with_offset_minus_1(void **state) {
  (void)state;
  create_topic("mock-acks0", 1);
  struct mk_producer *p = start_producer("acks", "0", "linger.ms", "5", NULL);
  enum { N = 60 };
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "a0-%d", i);
    assert_int_equal(send_value(p, "mock-acks0", 0, NULL, value, i), 0);
  }
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  for (int i = 0; i < N; i++) assert_int_equal(done[i].offset, -1);
  static struct consumed c[N + 10];
  assert_int_equal(consume_all(bootstraps, "mock-acks0", 1, c, N + 10, N, 10000), N);
}

/* ==== retries ============================================================================== */

static void test_mock_retriable_errors_are_retried_with_exponential_backoff(void **state) {
  (void)state;
  create_topic("mock-retry", 1);
  capture_start("\"side\":\"producer\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "20", "retry.backoff.ms", "100",
                                         "retry.backoff.max.ms", "1000", NULL);
  warm_up(p, "mock-retry", 0);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_PRODUCE, 2,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  enum { N = 10 };
  for (int i = 1; i <= N; i++) assert_int_equal(send_value(p, "mock-retry", 0, NULL, "retried", i), 0);
  flush_ok(p, 10000);
  assert_int_equal(atomic_load(&complete_cb_called), N + 1);
  assert_succeeded(0, N + 1);
  assert_int_equal((int)mk_producer_metric(p, "record-retry-total"), 2 * N);
  /* The batch went out three times; each retry waited its backoff (+-20% jitter). */
  assert_int_equal(capture_count("\"event\":\"retry\"", NULL), 2);
  int64_t sent_at[3], backoff[2];
  int k = 0;
  for (int i = capture_find(0, "\"event\":\"request_sent\"", "\"records\":10,"); i >= 0 && k < 3;
       i = capture_find(i + 1, "\"event\":\"request_sent\"", "\"records\":10,")) {
    char *line = capture_line(i, &sent_at[k]);
    assert_int_equal(json_int(line, "attempt"), k + 1);
    free(line);
    k++;
  }
  assert_int_equal(k, 3);
  k = 0;
  for (int i = capture_find(0, "\"event\":\"retry\"", NULL); i >= 0 && k < 2;
       i = capture_find(i + 1, "\"event\":\"retry\"", NULL)) {
    char *line = capture_line(i, NULL);
    assert_non_null(strstr(line, "NOT_LEADER_OR_FOLLOWER"));
    backoff[k] = json_int(line, "backoff_ms");
    free(line);
    k++;
  }
  assert_in_range(backoff[0], 80, 120);   /* retry.backoff.ms */
  assert_in_range(backoff[1], 160, 240);  /* doubled */
  assert_true(sent_at[1] - sent_at[0] >= backoff[0] - 5);
  assert_true(sent_at[2] - sent_at[1] >= backoff[1] - 5);
  static struct consumed c[N + 10];
  int n = consume_all(bootstraps, "mock-retry", 1, c, N + 10, N + 1, 10000);
  assert_int_equal(n, N + 1);
}

static void test_mock_non_retriable_error_fails_without_retrying(void **state) {
  (void)state;
  create_topic("mock-fatal", 1);
  struct mk_producer *p = start_producer("linger.ms", "0", NULL);
  warm_up(p, "mock-fatal", 0);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS);
  assert_int_equal(send_value(p, "mock-fatal", 0, NULL, "refused", 1), 0);
  flush_ok(p, 10000);
  assert_completed_once(1, 2);
  assert_int_equal(done[1].error, MK_ERR_INVALID_REQUIRED_ACKS);
  assert_int_equal((int)mk_producer_metric(p, "record-retry-total"), 0);
  assert_int_equal((int)mk_producer_metric(p, "record-error-total"), 1);
  assert_int_equal(send_value(p, "mock-fatal", 0, NULL, "accepted", 2), 0);
  flush_ok(p, 10000);
  assert_succeeded(2, 3);
}

static void test_mock_every_send_completes_once_through_disconnects(void **state) {
  (void)state;
  create_topic("mock-disconnects", 1);
  struct mk_producer *p = start_producer("linger.ms", "0", "batch.size", "1", NULL);
  warm_up(p, "mock-disconnects", 0);
  /* __TRANSPORT makes the mock drop the connection instead of answering. */
  rd_kafka_mock_push_request_errors(mcluster, MK_API_PRODUCE, 3, RD_KAFKA_RESP_ERR__TRANSPORT,
                                    RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TRANSPORT);
  enum { N = 20 };
  char value[32];
  for (int i = 1; i <= N; i++) {
    snprintf(value, sizeof value, "d-%d", i);
    assert_int_equal(send_value(p, "mock-disconnects", 0, NULL, value, i), 0);
  }
  flush_ok(p, 15000);
  assert_int_equal(atomic_load(&complete_cb_called), N + 1);
  assert_succeeded(0, N + 1);
  assert_true(mk_producer_metric(p, "record-retry-total") >= 1);
  static struct consumed c[2 * N + 10];
  int n = consume_all(bootstraps, "mock-disconnects", 1, c, 2 * N + 10, N + 1, 10000);
  for (int i = 1; i <= N; i++) {
    snprintf(value, sizeof value, "d-%d", i);
    assert_true(count_value(c, n, value) >= 1);  /* nothing acknowledged is missing */
  }
}

static void test_mock_request_timeout_closes_the_connection_and_retries(void **state) {
  (void)state;
  create_topic("mock-timeout", 1);
  capture_start("\"event\":\"retry\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "0", "request.timeout.ms", "1000",
                                         "delivery.timeout.ms", "10000", NULL);
  warm_up(p, "mock-timeout", 0);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 3000);  /* answers come after 3 s */
  int64_t start = now_ms();
  assert_int_equal(send_value(p, "mock-timeout", 0, NULL, "slow", 1), 0);
  int64_t until = now_ms() + 5000;
  while (capture_count("\"event\":\"retry\"", NULL) == 0 && now_ms() < until) sleep_ms(5);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 0);
  int64_t gave_up = now_ms() - start;
  assert_in_range(gave_up, 950, 2500);  /* request.timeout.ms, not the 3 s answer */
  assert_int_equal(capture_count("\"event\":\"retry\"", "REQUEST_TIMED_OUT"), 1);
  flush_ok(p, 8000);
  assert_succeeded(0, 2);
}

static void test_mock_delivery_timeout_bounds_endless_retries(void **state) {
  (void)state;
  create_topic("mock-endless", 1);
  struct mk_producer *p = start_producer("linger.ms", "0", "delivery.timeout.ms", "1500",
                                         "request.timeout.ms", "1000", "retry.backoff.ms", "50", NULL);
  warm_up(p, "mock-endless", 0);
  static rd_kafka_resp_err_t errors[200];
  for (int i = 0; i < 200; i++) errors[i] = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
  rd_kafka_mock_push_request_errors_array(mcluster, MK_API_PRODUCE, 200, errors);
  int64_t start = now_ms();
  assert_int_equal(send_value(p, "mock-endless", 0, NULL, "never", 1), 0);
  assert_int_equal(wait_completions(2, 5000), 2);
  assert_completed_once(1, 2);
  assert_int_not_equal(done[1].error, 0);
  assert_in_range(done[1].at_ms - start, 1400, 2700);  /* delivery.timeout.ms, all retries included */
  assert_true(mk_producer_metric(p, "record-retry-total") >= 2);
}

static void test_mock_delivery_timeout_fails_every_record_once_when_all_brokers_are_down(void **state) {
  (void)state;
  create_topic("mock-outage", 1);
  struct mk_producer *p = start_producer("linger.ms", "0", "delivery.timeout.ms", "1500",
                                         "request.timeout.ms", "1000", NULL);
  warm_up(p, "mock-outage", 0);
  assert_int_equal(rd_kafka_mock_broker_set_down(mcluster, -1), 0);
  enum { N = 5 };
  int64_t sent_at = now_ms();
  for (int i = 1; i <= N; i++) assert_int_equal(send_value(p, "mock-outage", -1, NULL, "lost", i), 0);
  assert_int_equal(wait_completions(N + 1, 6000), N + 1);
  assert_completed_once(0, N + 1);
  for (int i = 1; i <= N; i++) {
    assert_int_equal(done[i].error, MK_ERR_REQUEST_TIMED_OUT);
    assert_in_range(done[i].at_ms - sent_at, 1400, 3000);
  }
  /* The brokers come back: the same producer delivers again. */
  assert_int_equal(rd_kafka_mock_broker_set_up(mcluster, -1), 0);
  int64_t up_at = now_ms();
  bool recovered = false;
  while (!recovered && now_ms() - up_at < 8000) {
    reset_completions();
    assert_int_equal(send_value(p, "mock-outage", -1, NULL, "after", 0), 0);
    struct mk_err err = {0};
    mk_producer_flush(p, 3000, &err);
    recovered = atomic_load(&done[0].calls) == 1 && done[0].error == 0;
  }
  assert_true(recovered);
}

/* ==== ordering ============================================================================= */

/* One record per batch, five in flight, answers 100 ms late; the first five Produce
 * requests all fail (NOT_LEADER_OR_FOLLOWER), so five batches come back for a retry at
 * once. Returns how many records a librdkafka consumer read, in log order, into c. */
static int five_failed_in_flight(const char *topic, bool idempotent, struct consumed *c, int max) {
  create_topic(topic, 1);
  struct mk_producer *p = start_producer("enable.idempotence", idempotent ? "true" : "false",
                                         "acks", "all", "max.in.flight.requests.per.connection", "5",
                                         "linger.ms", "0", "batch.size", "1", NULL);
  warm_up(p, topic, 0);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 100);
  static rd_kafka_resp_err_t errors[5];
  for (int i = 0; i < 5; i++) errors[i] = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
  rd_kafka_mock_push_request_errors_array(mcluster, MK_API_PRODUCE, 5, errors);
  char value[32];
  for (int i = 1; i <= 10; i++) {
    snprintf(value, sizeof value, "o-%d", i);
    assert_int_equal(send_value(p, topic, 0, NULL, value, i), 0);
  }
  flush_ok(p, 15000);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 0);
  assert_int_equal(atomic_load(&complete_cb_called), 11);
  assert_succeeded(0, 11);
  assert_int_equal((int)mk_producer_metric(p, "record-retry-total"), 5);
  int n = consume_all(bootstraps, topic, 1, c, max, 11, 10000);
  print_message("%s:", topic);
  for (int i = 0; i < n; i++) print_message(" %s", c[i].value);
  print_message("\n");
  assert_int_equal(n, 11);
  for (int i = 1; i <= 10; i++) {
    snprintf(value, sizeof value, "o-%d", i);
    assert_int_equal(count_value(c, n, value), 1);
  }
  return n;
}

static bool in_send_order(const struct consumed *c, int n) {
  for (int i = 1; i < n; i++) {
    char value[32];
    snprintf(value, sizeof value, "o-%d", i);
    if (strcmp(c[i].value, value) != 0) return false;
  }
  return true;
}

static void test_mock_idempotent_retries_go_out_in_sequence_order(void **state) {
  (void)state;
  struct consumed c[16];
  int n = five_failed_in_flight("mock-order-idempotent", true, c, 16);
  assert_true(in_send_order(c, n));
}

static void test_mock_retries_without_idempotence_can_reorder(void **state) {
  (void)state;
  struct consumed c[16];
  int n = five_failed_in_flight("mock-order-plain", false, c, 16);
  assert_false(in_send_order(c, n));  /* as in Kafka: re-enqueued at the front, newest first */
}

static void test_mock_idempotent_sequence_numbers_are_contiguous_and_kept_on_retry(void **state) {
  (void)state;
  create_topic("mock-sequences", 2);
  capture_start("\"event\":\"request_sent\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "0", "batch.size", "200", NULL);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_PRODUCE, 2,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  enum { N = 60 };
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "s-%d", i);
    assert_int_equal(send_value(p, "mock-sequences", i % 2, NULL, value, i), 0);
  }
  flush_ok(p, 15000);
  assert_succeeded(0, N);
  /* Per partition: first attempts number batches 0, n0, n0+n1, ...; a retry resends its
   * batch's own producer id, epoch and base sequence. */
  struct { int64_t base, records; } first[2][64];
  int nfirst[2] = {0, 0}, retries = 0;
  int64_t producer_id = -1;
  for (int i = capture_find(0, "request_sent", NULL); i >= 0; i = capture_find(i + 1, "request_sent", NULL)) {
    char *line = capture_line(i, NULL);
    for (const char *b = strstr(line, "{\"topic\""); b; b = strstr(b + 1, "{\"topic\"")) {
      int64_t part = json_int(b, "partition"), base = json_int(b, "base_sequence");
      int64_t records = json_int(b, "records"), attempt = json_int(b, "attempt");
      int64_t pid = json_int(b, "producer_id");
      if (producer_id < 0) producer_id = pid;
      assert_int_equal(pid, producer_id);
      assert_int_equal(json_int(b, "epoch"), 0);
      assert_in_range(part, 0, 1);
      if (attempt == 1) {
        assert_true(nfirst[part] < 64);
        first[part][nfirst[part]].base = base;
        first[part][nfirst[part]++].records = records;
      } else {
        retries++;
        bool known = false;
        for (int k = 0; k < nfirst[part]; k++) known |= first[part][k].base == base && first[part][k].records == records;
        if (!known) fail_msg("a retry of partition %lld with base sequence %lld", (long long)part, (long long)base);
      }
    }
    free(line);
  }
  for (int part = 0; part < 2; part++) {
    int64_t next = 0, total = 0;
    for (int k = 0; k < nfirst[part]; k++) {
      assert_int_equal(first[part][k].base, next);
      next += first[part][k].records;
      total += first[part][k].records;
    }
    assert_int_equal(total, N / 2);
  }
  assert_true(retries >= 2);  /* both pushed errors hit a batch */
}

/* ==== leaders move ========================================================================= */

static void test_mock_leader_move_is_followed_after_not_leader_or_follower(void **state) {
  (void)state;
  create_topic("mock-moving", 1);
  capture_start("\"side\":\"producer\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "0", NULL);
  warm_up(p, "mock-moving", 0);
  char *line = capture_line(capture_find(0, "\"event\":\"request_sent\"", NULL), NULL);
  assert_non_null(line);
  int32_t old_leader = (int32_t)json_int(line, "broker");
  free(line);
  int32_t new_leader = old_leader % 3 + 1;  /* the mock's brokers are 1, 2, 3 */
  assert_int_equal(rd_kafka_mock_partition_set_leader(mcluster, "mock-moving", 0, new_leader), 0);
  for (int i = 1; i <= 10; i++) assert_int_equal(send_value(p, "mock-moving", 0, NULL, "moved", i), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 11);
  char to_new[32];
  snprintf(to_new, sizeof to_new, "\"broker\":%d,", new_leader);
  assert_true(capture_count("\"event\":\"request_sent\"", to_new) >= 1);
  static struct consumed c[20];
  assert_int_equal(consume_all(bootstraps, "mock-moving", 1, c, 20, 11, 10000), 11);
}

static void test_mock_leader_death_while_idle_is_noticed_through_a_metadata_refresh(void **state) {
  (void)state;
  /* Nothing is in flight when the leader goes away: only the disconnect tells the
   * producer. Java's NetworkClient asks for new metadata on every disconnect. */
  create_topic("mock-idle-leader", 1);
  capture_start("\"event\":\"request_sent\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "0", "request.timeout.ms", "2000",
                                         "delivery.timeout.ms", "4000", NULL);
  warm_up(p, "mock-idle-leader", 0);
  char *line = capture_line(capture_find(0, "\"event\":\"request_sent\"", NULL), NULL);
  assert_non_null(line);
  int32_t old_leader = (int32_t)json_int(line, "broker");
  free(line);
  assert_int_equal(rd_kafka_mock_partition_set_leader(mcluster, "mock-idle-leader", 0, old_leader % 3 + 1), 0);
  assert_int_equal(rd_kafka_mock_broker_set_down(mcluster, old_leader), 0);
  sleep_ms(200);
  int64_t start = now_ms();
  assert_int_equal(send_value(p, "mock-idle-leader", 0, NULL, "to-the-new-leader", 1), 0);
  struct mk_err err = {0};
  mk_producer_flush(p, 6000, &err);
  assert_completed_once(1, 2);
  if (done[1].error) fail_msg("%s (%s)", mk_err_name(done[1].error), done[1].msg);
  assert_true(done[1].at_ms - start < 3000);
}

static void test_mock_retry_backoff_never_exceeds_retry_backoff_max_ms(void **state) {
  (void)state;
  /* Java's ExponentialBackoff caps the jittered value: min(term * (1 +- 0.2), max). */
  enum { BASE = 10, MAX = 20, ERRORS = 16 };
  create_topic("mock-backoff", 1);
  capture_start("\"event\":\"retry\"", NULL);
  struct mk_producer *p = start_producer("linger.ms", "0", "retry.backoff.ms", "10",
                                         "retry.backoff.max.ms", "20", NULL);
  warm_up(p, "mock-backoff", 0);
  static rd_kafka_resp_err_t errors[ERRORS];
  for (int i = 0; i < ERRORS; i++) errors[i] = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
  rd_kafka_mock_push_request_errors_array(mcluster, MK_API_PRODUCE, ERRORS, errors);
  assert_int_equal(send_value(p, "mock-backoff", 0, NULL, "patient", 1), 0);
  flush_ok(p, 10000);
  assert_succeeded(0, 2);
  assert_int_equal(capture_count("\"event\":\"retry\"", NULL), ERRORS);
  assert_retry_backoffs(BASE, MAX);
}

/* ==== a broker that hangs up must not kill the application =============================== */

/* The child process of the test below, with SIGPIPE at its default action (terminate) and
 * a mock cluster of its own: the mock hangs up on 60 Produce requests while one-record
 * batches (and their retries) go out five at a time.
 * Exits 0 if every send completed exactly once. */
static int sigpipe_child(void) {
  signal(SIGPIPE, SIG_DFL);
  if (getenv("MK_TEST_TRACE")) {  /* the parent's trace file name, plus ".child" */
    char path[4096];
    snprintf(path, sizeof path, "%s.child", getenv("MK_TEST_TRACE"));
    struct mk_err terr = {0};
    mk_trace_open_file(path, &terr);
  }
  if (setup_file(NULL)) return 3;
  create_topic("mock-sigpipe", 1);
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  const char *settings[][2] = {{"bootstrap.servers", bootstraps},
                               {"key.serializer", "StringSerializer"},
                               {"value.serializer", "StringSerializer"},
                               {"linger.ms", "0"}, {"batch.size", "1"},
                               {"max.in.flight.requests.per.connection", "5"},
                               {"enable.idempotence", "false"},  /* retries pipeline too */
                               {"reconnect.backoff.ms", "1"}, {"reconnect.backoff.max.ms", "10"},
                               {"retry.backoff.ms", "1"}, {"retry.backoff.max.ms", "10"}};
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    if (mk_producer_config_set(cfg, settings[i][0], settings[i][1], &err)) return 3;
  struct mk_producer *p;
  if (mk_producer_config_finish(cfg, &err) || mk_producer_new(cfg, &p, &err)) return 3;
  mk_producer_config_free(cfg);
  if (send_value(p, "mock-sigpipe", 0, NULL, "warm-up", 0) || mk_producer_flush(p, 10000, &err) ||
      done[0].error)
    return 4;
  static rd_kafka_resp_err_t errors[60];
  for (int i = 0; i < 60; i++) errors[i] = RD_KAFKA_RESP_ERR__TRANSPORT;
  rd_kafka_mock_push_request_errors_array(mcluster, MK_API_PRODUCE, 60, errors);
  enum { N = 400 };
  char value[64] = "a value long enough to need a few more bytes on the wire ..";
  for (int i = 1; i <= N; i++)
    if (send_value(p, "mock-sigpipe", 0, NULL, value, i)) return 4;
  int64_t start = now_ms();
  int flushed = mk_producer_flush(p, 20000, &err);
  int rc = 0;
  for (int i = 0; i <= N; i++) {
    if (atomic_load(&done[i].calls) == 1) continue;
    if (!rc)
      fprintf(stderr, "sigpipe child: record %d completed %d times (flush: %s after %lld ms)\n", i,
              atomic_load(&done[i].calls), flushed ? err.msg : "ok", (long long)(now_ms() - start));
    rc = 5;
  }
  mk_producer_close(p, 5000);
  teardown_file(NULL);
  return rc;
}

static void test_mock_a_broker_hanging_up_does_not_kill_the_process_with_sigpipe(void **state) {
  (void)state;
  /* Writing to a connection the peer has closed raises SIGPIPE, whose default action ends
   * the process. A client library must not let that happen to its application (librdkafka
   * sends with MSG_NOSIGNAL). This file ignores SIGPIPE (main), so the scenario runs in a
   * child process that does not. */
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(len > 0);
  self[len] = 0;
  char *argv[] = {self, "--sigpipe-child", NULL};
  extern char **environ;
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, self, NULL, NULL, argv, environ), 0);
  int status = 0;
  int64_t until = now_ms() + 40000;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (now_ms() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fail_msg("the child did not finish within 40 s");
    }
    sleep_ms(20);
  }
  if (WIFSIGNALED(status))
    fail_msg("the producer's process was killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ==== close ================================================================================ */

static void test_mock_close_with_a_timeout_fails_what_is_pending_exactly_once(void **state) {
  (void)state;
  create_topic("mock-close", 1);
  struct mk_producer *p = start_producer("linger.ms", "0", NULL);
  warm_up(p, "mock-close", 0);
  rd_kafka_mock_broker_set_rtt(mcluster, -1, 5000);
  for (int i = 1; i <= 5; i++) assert_int_equal(send_value(p, "mock-close", 0, NULL, "pending", i), 0);
  sleep_ms(100);
  int64_t start = now_ms();
  struct mk_producer *closing = producer;
  producer = NULL;
  assert_int_equal(mk_producer_close(closing, 300), MK_ERR__TIMED_OUT);
  assert_in_range(now_ms() - start, 250, 3000);
  assert_int_equal(atomic_load(&complete_cb_called), 6);
  assert_completed_once(0, 6);
  for (int i = 1; i <= 5; i++) assert_int_not_equal(done[i].error, 0);
}

int main(int argc, char **argv) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_test, teardown_test)
  const struct CMUnitTest tests[] = {
      T(test_mock_every_send_mode_completes),
      T(test_mock_keyed_records_land_in_librdkafka_murmur2_partitions),
      T(test_mock_librdkafka_reads_our_headers_keys_and_values),
      T(test_mock_acks_0_completes_every_record_with_offset_minus_1),
      T(test_mock_retriable_errors_are_retried_with_exponential_backoff),
      T(test_mock_non_retriable_error_fails_without_retrying),
      T(test_mock_every_send_completes_once_through_disconnects),
      T(test_mock_request_timeout_closes_the_connection_and_retries),
      T(test_mock_delivery_timeout_bounds_endless_retries),
      T(test_mock_delivery_timeout_fails_every_record_once_when_all_brokers_are_down),
      T(test_mock_idempotent_retries_go_out_in_sequence_order),
      T(test_mock_retries_without_idempotence_can_reorder),
      T(test_mock_idempotent_sequence_numbers_are_contiguous_and_kept_on_retry),
      T(test_mock_leader_move_is_followed_after_not_leader_or_follower),
      T(test_mock_leader_death_while_idle_is_noticed_through_a_metadata_refresh),
      T(test_mock_retry_backoff_never_exceeds_retry_backoff_max_ms),
      T(test_mock_a_broker_hanging_up_does_not_kill_the_process_with_sigpipe),
      T(test_mock_close_with_a_timeout_fails_what_is_pending_exactly_once),
  };
#undef T
  if (argc == 2 && strcmp(argv[1], "--sigpipe-child") == 0) return sigpipe_child();
  /* A producer bug that raises SIGPIPE would end the whole file here; the test above checks
   * for it in a child process, and the other tests report on their own. */
  signal(SIGPIPE, SIG_IGN);
  if (getenv("MK_TEST_FILTER")) cmocka_set_test_filter(getenv("MK_TEST_FILTER"));
  if (getenv("MK_TEST_TRACE")) {
    struct mk_err err = {0};
    if (mk_trace_open_file(getenv("MK_TEST_TRACE"), &err) < 0) fprintf(stderr, "%s\n", err.msg);
  }
  return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
