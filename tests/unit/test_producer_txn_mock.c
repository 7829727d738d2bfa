/*
 * Our transactional producer against librdkafka's mock cluster (rdkafka_mock.h): a Kafka
 * we did not write, so the protocol flow is checked against someone else's reading of it.
 *
 *   test thread (app)              our producer                     librdkafka's mock (2.0.2)
 *   init / begin / send /    ->    FindCoordinator (key type 1),    3 brokers, ids 1..3;
 *   send_offsets / commit /        InitProducerId, AddPartitionsTo- coordinators placed with
 *   abort (bounded waits)          Txn, Produce, AddOffsetsToTxn,   rd_kafka_mock_coordinator
 *                                  TxnOffsetCommit, EndTxn          _set; errors pushed with
 *                                                                   _push_request_errors
 *
 * What the mock can and cannot show. It checks each transactional request's producer id and
 * epoch, and the sequences of a transactional producer's batches; it answers FindCoordinator
 * for both key types and bumps epochs (InitProducerId v3+). It does not fence (a second
 * InitProducerId for the same transactional.id gets a new producer id, and the old one goes
 * on), writes no commit or abort markers, and does not hold records back from read_committed
 * consumers; it ignores the offsets of TxnOffsetCommit. So here: the order and content of the
 * requests (traced by the producer as txn_request / txn_response / request_sent), the states,
 * retries, abortable and fatal errors. Fencing, markers and read_committed visibility are
 * checked against our own broker (tests/unit/test_producer_txn.c).
 *
 * Every wait is bounded. MK_TEST_TRACE=1 prints the producer's trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/trace.h"
#include "consumer/consumer.h"
#include "producer/producer.h"
#include "producer/producer_config.h"
#include "protocol/api.h"
#include "tests/support/producer_probe.h"
#include "tests/support/rdkafka_support.h"

static struct mock_cluster mock;
static rd_kafka_mock_cluster_t *mcluster;
static const char *bootstraps;
static struct mk_producer *producer;

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

static int trace_sink = -1;

static int setup_test(void **state) {
  (void)state;
  reset_completions();
  capture_start("\"side\":\"producer\"", NULL);
  if (getenv("MK_TEST_TRACE")) trace_sink = mk_trace_open_file("-", NULL);
  return 0;
}

static int teardown_test(void **state) {
  (void)state;
  if (producer) mk_producer_close(producer, 0);
  producer = NULL;
  capture_stop();
  if (trace_sink >= 0) mk_trace_remove_sink(trace_sink);
  trace_sink = -1;
  static const int apis[] = {MK_API_PRODUCE, MK_API_INIT_PRODUCER_ID, MK_API_ADD_PARTITIONS_TO_TXN,
                             MK_API_END_TXN, MK_API_FIND_COORDINATOR, MK_API_ADD_OFFSETS_TO_TXN,
                             MK_API_TXN_OFFSET_COMMIT};
  for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
    rd_kafka_mock_clear_request_errors(mcluster, (int16_t)apis[i]);
  rd_kafka_mock_broker_set_up(mcluster, -1);
  return 0;
}

/* A topic of `partitions` partitions, partition i led by broker 1 + i % 3 (so that one
 * transaction spans brokers). */
static void create_topic(const char *name, int partitions) {
  assert_int_equal(rd_kafka_mock_topic_create(mcluster, name, partitions, 3), 0);
  for (int p = 0; p < partitions; p++)
    assert_int_equal(rd_kafka_mock_partition_set_leader(mcluster, name, p, 1 + p % 3), 0);
}

/* The test's transactional producer (closed by teardown), with (key, value) settings. */
static struct mk_producer *start_producer(const char *transactional_id, const char *first_key, ...) {
  const char *const defaults[] = {"bootstrap.servers", bootstraps, "transactional.id",
                                  transactional_id, "max.block.ms", "10000", "linger.ms", "5",
                                  NULL};
  va_list ap;
  va_start(ap, first_key);
  producer = probe_producer_new(defaults, first_key, ap);
  va_end(ap);
  return producer;
}

#define OK(call)                                                   \
  do {                                                             \
    struct mk_err e_ = {0};                                        \
    int rc_ = call(producer, &e_);                                 \
    if (rc_) fail_msg("%s: %s (%s)", #call, mk_err_name(rc_), e_.msg); \
  } while (0)

static enum mk_transaction_state state_now(void) { return mk_producer_transaction_state(producer); }

/* Trace lines of one transactional API: the k-th txn_request (k from 0), or -1. */
static int txn_request(const char *api, int k) {
  char needle[96];
  snprintf(needle, sizeof needle, "\"api\":\"%s\"", api);
  int i = -1;
  for (int n = 0; n <= k; n++)
    if ((i = capture_find(i + 1, "\"event\":\"txn_request\"", needle)) < 0) return -1;
  return i;
}

static int count_requests(const char *api) {
  char needle[96];
  snprintf(needle, sizeof needle, "\"api\":\"%s\"", api);
  return capture_count("\"event\":\"txn_request\"", needle);
}

/* The broker a captured line names. */
static int64_t broker_of(int line) {
  char *l = capture_line(line, NULL);
  int64_t b = json_int(l, "broker");
  free(l);
  return b;
}

static bool line_has(int line, const char *what) {
  char *l = capture_line(line, NULL);
  bool has = l && strstr(l, what);
  free(l);
  return has;
}

/* ==== commit and abort ========================================================================== */

static void test_mock_txn_commit_across_three_brokers(void **state) {
  (void)state;
  create_topic("txn-across", 3);
  assert_int_equal(rd_kafka_mock_coordinator_set(mcluster, "transaction", "txn-across-1", 2), 0);
  start_producer("txn-across-1", NULL);
  assert_int_equal(state_now(), MK_TXN_UNINITIALIZED);
  OK(mk_producer_init_transactions);
  assert_int_equal(state_now(), MK_TXN_READY);
  OK(mk_producer_begin_transaction);
  enum { N = 30 };
  char value[32];
  for (int i = 0; i < N; i++) {
    snprintf(value, sizeof value, "v%d", i);
    assert_int_equal(send_value(producer, "txn-across", i % 3, NULL, value, i), 0);
  }
  OK(mk_producer_commit_transaction);
  /* The commit returned: every record's callback has run, successfully. */
  assert_int_equal(atomic_load(&complete_cb_called), N);
  assert_succeeded(0, N);
  assert_int_equal(state_now(), MK_TXN_READY);

  /* FindCoordinator with key type 1 named broker 2; InitProducerId went there. */
  int find = txn_request("FindCoordinator", 0);
  assert_true(find >= 0);
  assert_true(line_has(find, "\"key_type\":\"transaction\""));
  assert_true(line_has(find, "\"key\":\"txn-across-1\""));
  int init = txn_request("InitProducerId", 0);
  assert_true(init > find);
  assert_int_equal(broker_of(init), 2);
  int got_id = capture_find(init, "\"event\":\"txn_response\"", "\"api\":\"InitProducerId\"");
  char *l = capture_line(got_id, NULL);
  int64_t pid = json_int(l, "producer_id");
  free(l);
  assert_true(pid > 0);
  /* Each partition is added (AddPartitionsToTxn to the coordinator, answered) before the
   * first Produce that carries it. New partitions are batched per Sender round: the sends
   * race the Sender, so the three may come in one request or several. */
  int nadd = count_requests("AddPartitionsToTxn");
  assert_in_range(nadd, 1, 3);
  for (int p = 0; p < 3; p++) {
    char tp[32], produce_tp[64];
    snprintf(tp, sizeof tp, "\"txn-across-%d\"", p);
    snprintf(produce_tp, sizeof produce_tp, "\"topic\":\"txn-across\",\"partition\":%d,", p);
    int add = -1;
    for (int k = 0; k < nadd && add < 0; k++)
      if (line_has(txn_request("AddPartitionsToTxn", k), tp)) add = txn_request("AddPartitionsToTxn", k);
    assert_true(add >= 0);
    assert_int_equal(broker_of(add), 2);
    int added = capture_find(add, "\"event\":\"txn_response\"", "\"api\":\"AddPartitionsToTxn\"");
    assert_false(line_has(added, "\"error\""));
    int first_produce = capture_find(0, "\"event\":\"request_sent\"", produce_tp);
    assert_true(first_produce > added);
  }
  /* Produce went to all three leaders, with the producer id, epoch 0. */
  bool to[4] = {false};
  for (int i = capture_find(0, "\"event\":\"request_sent\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"request_sent\"", NULL)) {
    int64_t b = broker_of(i);
    if (b >= 1 && b <= 3) to[b] = true;
    char want[64];
    snprintf(want, sizeof want, "\"producer_id\":%lld,\"epoch\":0", (long long)pid);
    assert_true(line_has(i, want));
  }
  assert_true(to[1] && to[2] && to[3]);
  /* EndTxn(commit) to the coordinator, after the last Produce answer. */
  assert_int_equal(count_requests("EndTxn"), 1);
  int end = txn_request("EndTxn", 0);
  assert_int_equal(broker_of(end), 2);
  assert_true(line_has(end, "\"result\":\"commit\""));
  int last_answer = -1;
  for (int i = capture_find(0, "\"event\":\"response_received\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"response_received\"", NULL))
    last_answer = i;
  assert_true(end > last_answer);

  /* A second transaction reuses the coordinator and the producer id: no new lookup. */
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-across", 1, NULL, "second", N), 0);
  OK(mk_producer_commit_transaction);
  assert_succeeded(N, N + 1);
  assert_int_equal(count_requests("FindCoordinator"), 1);
  assert_int_equal(count_requests("InitProducerId"), 1);
  assert_int_equal(count_requests("EndTxn"), 2);
  /* Every state change was traced, in Java's order. */
  static const char *const path[] = {"UNINITIALIZED", "INITIALIZING", "READY", "IN_TRANSACTION",
                                     "COMMITTING_TRANSACTION", "READY", "IN_TRANSACTION",
                                     "COMMITTING_TRANSACTION", "READY"};
  int k = 0;
  for (int i = capture_find(0, "\"event\":\"txn_state\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"txn_state\"", NULL), k++) {
    char want[96];
    snprintf(want, sizeof want, "\"from\":\"%s\",\"to\":\"%s\"", path[k], path[k + 1]);
    if (!line_has(i, want)) fail_msg("txn_state %d is not %s", k, want);
  }
  assert_int_equal(k, 8);
}

static void test_mock_txn_abort_fails_the_records_not_yet_sent(void **state) {
  (void)state;
  create_topic("txn-abort", 3);
  start_producer("txn-abort-1", "linger.ms", "60000", NULL);  /* nothing goes out by itself */
  OK(mk_producer_init_transactions);
  OK(mk_producer_begin_transaction);
  for (int i = 0; i < 6; i++) assert_int_equal(send_value(producer, "txn-abort", i % 3, NULL, "x", i), 0);
  /* The Sender adds the partitions at once (linger.ms only holds the records back). */
  for (int i = 0; i < 1000 && capture_find(0, "\"event\":\"txn_response\"",
                                           "\"api\":\"AddPartitionsToTxn\"") < 0; i++)
    sleep_ms(5);
  OK(mk_producer_abort_transaction);
  assert_int_equal(atomic_load(&complete_cb_called), 6);
  assert_completed_once(0, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(done[i].error, MK_ERR__TRANSACTION_ABORTED);
  assert_int_equal(capture_count("\"event\":\"request_sent\"", NULL), 0);
  /* The partitions had been added, so the coordinator hears of the abort. */
  int end = txn_request("EndTxn", 0);
  assert_true(end >= 0);
  assert_true(line_has(end, "\"result\":\"abort\""));
  assert_int_equal(state_now(), MK_TXN_READY);
  /* The next transaction commits, its batches numbered as if the aborted ones never were. */
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-abort", 0, NULL, "kept", 6), 0);
  OK(mk_producer_commit_transaction);
  assert_succeeded(6, 7);
  int produce = capture_find(0, "\"event\":\"request_sent\"", NULL);
  assert_true(line_has(produce, "\"base_sequence\":0"));
}

static void test_mock_txn_abort_after_records_were_written(void **state) {
  (void)state;
  create_topic("txn-abort-written", 1);
  start_producer("txn-abort-written-1", NULL);
  OK(mk_producer_init_transactions);
  OK(mk_producer_begin_transaction);
  for (int i = 0; i < 5; i++)
    assert_int_equal(send_value(producer, "txn-abort-written", 0, NULL, "w", i), 0);
  flush_ok(producer, 10000);
  assert_succeeded(0, 5);  /* written: the abort's markers hide them (our broker's tests) */
  OK(mk_producer_abort_transaction);
  assert_true(line_has(txn_request("EndTxn", 0), "\"result\":\"abort\""));
  assert_int_equal(state_now(), MK_TXN_READY);
}

/* ==== retries ===================================================================================== */

static void test_mock_txn_retries_busy_and_moved_coordinators(void **state) {
  (void)state;
  create_topic("txn-retry", 1);  /* one partition: one AddPartitionsToTxn and its retries */
  start_producer("txn-retry-1", NULL);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_INIT_PRODUCER_ID, 1,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  OK(mk_producer_init_transactions);
  assert_int_equal(count_requests("InitProducerId"), 2);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_ADD_PARTITIONS_TO_TXN, 2,
                                    RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                    RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_END_TXN, 2,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-retry", 0, NULL, "a", 0), 0);
  assert_int_equal(send_value(producer, "txn-retry", 0, NULL, "b", 1), 0);
  OK(mk_producer_commit_transaction);
  assert_succeeded(0, 2);
  /* CONCURRENT_TRANSACTIONS for the first partitions of a transaction: retried after 20 ms
   * (Java's shortened backoff), not retry.backoff.ms. */
  assert_int_equal(count_requests("AddPartitionsToTxn"), 3);
  int64_t t[3];
  for (int k = 0; k < 3; k++) free(capture_line(txn_request("AddPartitionsToTxn", k), &t[k]));
  assert_true(t[1] - t[0] >= 15 && t[1] - t[0] < 90);
  assert_true(t[2] - t[1] >= 15 && t[2] - t[1] < 90);
  /* EndTxn: once busy (retried), once NOT_COORDINATOR (the coordinator looked up again). */
  assert_int_equal(count_requests("EndTxn"), 3);
  assert_true(count_requests("FindCoordinator") >= 2);
  int second_find = txn_request("FindCoordinator", 1);
  assert_true(second_find > txn_request("EndTxn", 1) && second_find < txn_request("EndTxn", 2));
  assert_int_equal(state_now(), MK_TXN_READY);
}

/* ==== errors: fatal and abortable ================================================================ */

static void test_mock_txn_fenced_is_fatal(void **state) {
  (void)state;
  static const rd_kafka_resp_err_t fenced[] = {RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
                                               RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH};
  create_topic("txn-fenced", 1);
  for (int k = 0; k < 2; k++) {
    char id[32];
    snprintf(id, sizeof id, "txn-fenced-%d", k);
    start_producer(id, NULL);
    OK(mk_producer_init_transactions);
    OK(mk_producer_begin_transaction);
    assert_int_equal(send_value(producer, "txn-fenced", 0, NULL, "z", 0), 0);
    rd_kafka_mock_push_request_errors(mcluster, MK_API_END_TXN, 1, fenced[k]);
    struct mk_err err = {0};
    /* INVALID_PRODUCER_EPOCH from an EndTxn is an older coordinator's word for the same. */
    assert_int_equal(mk_producer_commit_transaction(producer, &err), MK_ERR_PRODUCER_FENCED);
    assert_int_equal(state_now(), MK_TXN_FATAL_ERROR);
    assert_int_equal(mk_producer_begin_transaction(producer, &err), MK_ERR_PRODUCER_FENCED);
    assert_non_null(strstr(err.msg, "fenced by another producer"));
    assert_int_equal(mk_producer_abort_transaction(producer, &err), MK_ERR_PRODUCER_FENCED);
    /* A send fails at once, on this thread, with the same error. */
    reset_completions();
    assert_int_equal(send_value(producer, "txn-fenced", 0, NULL, "late", 0), MK_ERR_PRODUCER_FENCED);
    assert_completed_once(0, 1);
    assert_int_equal(mk_producer_close(producer, 5000), 0);  /* only close remains */
    producer = NULL;
  }
}

static void test_mock_txn_failed_record_makes_it_abortable_and_abort_bumps_the_epoch(void **state) {
  (void)state;
  create_topic("txn-abortable", 1);
  start_producer("txn-abortable-1", "linger.ms", "0", NULL);
  OK(mk_producer_init_transactions);
  OK(mk_producer_begin_transaction);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_PRODUCE, 1,
                                    RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS);
  assert_int_equal(send_value(producer, "txn-abortable", 0, NULL, "refused", 0), 0);
  assert_int_equal(wait_completions(1, 10000), 1);
  assert_int_equal(done[0].error, MK_ERR_INVALID_REQUIRED_ACKS);
  for (int i = 0; i < 200 && state_now() != MK_TXN_ABORTABLE_ERROR; i++) sleep_ms(5);
  assert_int_equal(state_now(), MK_TXN_ABORTABLE_ERROR);
  /* The transaction cannot commit; sends are refused with the cause; abort is the way on. */
  struct mk_err err = {0};
  assert_int_equal(mk_producer_commit_transaction(producer, &err), MK_ERR_INVALID_REQUIRED_ACKS);
  assert_int_equal(send_value(producer, "txn-abortable", 0, NULL, "refused too", 1),
                   MK_ERR_INVALID_REQUIRED_ACKS);
  OK(mk_producer_abort_transaction);
  assert_int_equal(state_now(), MK_TXN_READY);
  /* EndTxn(abort), then InitProducerId with the current id and epoch: epoch 1. */
  int end = txn_request("EndTxn", 0);
  assert_true(line_has(end, "\"result\":\"abort\""));
  int bump = txn_request("InitProducerId", 1);
  assert_true(bump > end);
  assert_true(line_has(bump, "\"epoch_bump\":true"));
  int bumped = capture_find(bump, "\"event\":\"txn_response\"", "\"api\":\"InitProducerId\"");
  assert_true(line_has(bumped, "\"epoch\":1"));
  /* And carry on: the next transaction's batches have epoch 1 and sequences from 0. */
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-abortable", 0, NULL, "accepted", 2), 0);
  OK(mk_producer_commit_transaction);
  assert_succeeded(2, 3);
  int last_produce = -1;
  for (int i = capture_find(0, "\"event\":\"request_sent\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"request_sent\"", NULL))
    last_produce = i;
  assert_true(line_has(last_produce, "\"epoch\":1,\"base_sequence\":0"));
  static const char *const path[] = {"IN_TRANSACTION", "ABORTABLE_ERROR", "ABORTING_TRANSACTION",
                                     "INITIALIZING", "READY", NULL};
  int from = capture_find(0, "\"to\":\"ABORTABLE_ERROR\"", NULL);
  assert_true(line_has(from, "INVALID_REQUIRED_ACKS"));
  for (int k = 0; path[k + 1]; k++) {
    char want[96];
    snprintf(want, sizeof want, "\"from\":\"%s\",\"to\":\"%s\"", path[k], path[k + 1]);
    int at = capture_find(from, "\"event\":\"txn_state\"", want);
    if (at < 0) fail_msg("no txn_state %s after the error", want);
    from = at;
  }
}

/* ==== sendOffsetsToTransaction ======================================================================= */

static void test_mock_txn_send_offsets_to_both_coordinators(void **state) {
  (void)state;
  create_topic("txn-out", 1);
  assert_int_equal(rd_kafka_mock_coordinator_set(mcluster, "transaction", "txn-offsets-1", 1), 0);
  assert_int_equal(rd_kafka_mock_coordinator_set(mcluster, "group", "mock-group", 3), 0);
  start_producer("txn-offsets-1", NULL);
  OK(mk_producer_init_transactions);
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-out", 0, NULL, "transformed", 0), 0);
  struct mk_offset_to_commit offsets[2] = {{"txn-in", 0, 42, -1, NULL}, {"txn-in", 1, 17, -1, NULL}};
  struct mk_consumer_group_metadata group = probe_group_metadata("mock-group", -1, "");
  struct mk_err err = {0};
  assert_int_equal(mk_producer_send_offsets_to_transaction(producer, offsets, 2, &group, &err), 0);
  OK(mk_producer_commit_transaction);
  assert_succeeded(0, 1);
  /* AddOffsetsToTxn to the transaction coordinator, then FindCoordinator (group) and
   * TxnOffsetCommit to the group coordinator, broker 3. */
  int add = txn_request("AddOffsetsToTxn", 0);
  assert_int_equal(broker_of(add), 1);
  assert_true(line_has(add, "\"group_id\":\"mock-group\""));
  int find_group = capture_find(add, "\"event\":\"txn_request\"", "\"key_type\":\"group\"");
  assert_true(find_group > add);
  int commit = txn_request("TxnOffsetCommit", 0);
  assert_true(commit > find_group);
  assert_int_equal(broker_of(commit), 3);
  assert_true(line_has(commit, "{\"topic\":\"txn-in\",\"partition\":0,\"offset\":42}"));
  assert_true(line_has(commit, "{\"topic\":\"txn-in\",\"partition\":1,\"offset\":17}"));
  assert_true(txn_request("EndTxn", 0) > commit);
  /* No offsets: nothing sent, as in Java. Bad group metadata: refused. */
  OK(mk_producer_begin_transaction);
  assert_int_equal(mk_producer_send_offsets_to_transaction(producer, offsets, 0, &group, &err), 0);
  struct mk_consumer_group_metadata bad = probe_group_metadata("mock-group", 3, "");
  assert_int_equal(mk_producer_send_offsets_to_transaction(producer, offsets, 1, &bad, &err),
                   MK_ERR__INVALID_ARG);
  assert_int_equal(count_requests("AddOffsetsToTxn"), 1);
  /* Group membership needs TxnOffsetCommit v3 (Kafka 2.5); librdkafka 2.0.2's mock speaks v2:
   * like Java against an old broker, the producer cannot go on. */
  struct mk_consumer_group_metadata member = probe_group_metadata("mock-group", 3, "member-1");
  assert_int_equal(mk_producer_send_offsets_to_transaction(producer, offsets, 1, &member, &err),
                   MK_ERR_UNSUPPORTED_VERSION);
  assert_int_equal(state_now(), MK_TXN_FATAL_ERROR);
}

/* ==== waiting and misuse ============================================================================= */

static void test_mock_txn_init_times_out_then_goes_on(void **state) {
  (void)state;
  rd_kafka_mock_broker_set_down(mcluster, -1);
  start_producer("txn-timeout-1", "max.block.ms", "400", NULL);
  struct mk_err err = {0};
  int64_t t0 = now_ms();
  assert_int_equal(mk_producer_init_transactions(producer, &err), MK_ERR__TIMED_OUT);
  int64_t took = now_ms() - t0;
  assert_true(took >= 390 && took < 2000);
  assert_non_null(strstr(err.msg, "InitProducerId"));
  assert_int_equal(state_now(), MK_TXN_INITIALIZING);
  assert_int_equal(mk_producer_begin_transaction(producer, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "timed out and must be retried"));
  rd_kafka_mock_broker_set_up(mcluster, -1);
  int rc = MK_ERR__TIMED_OUT;
  for (int i = 0; i < 25 && rc == MK_ERR__TIMED_OUT; i++) rc = mk_producer_init_transactions(producer, &err);
  if (rc) fail_msg("init_transactions: %s", err.msg);
  assert_int_equal(state_now(), MK_TXN_READY);
  OK(mk_producer_begin_transaction);
}

static void test_mock_txn_sends_outside_a_transaction_fail_at_once(void **state) {
  (void)state;
  create_topic("txn-misuse", 1);
  start_producer("txn-misuse-1", NULL);
  struct mk_err err = {0};
  assert_int_equal(mk_producer_begin_transaction(producer, &err), MK_ERR__STATE);
  assert_int_equal(send_value(producer, "txn-misuse", 0, NULL, "early", 0), MK_ERR__STATE);
  assert_completed_once(0, 1);
  assert_non_null(strstr(done[0].msg, "initTransactions"));
  OK(mk_producer_init_transactions);
  assert_int_equal(send_value(producer, "txn-misuse", 0, NULL, "no txn", 1), MK_ERR__STATE);
  assert_non_null(strstr(done[1].msg, "begin_transaction"));
  assert_int_equal(mk_producer_commit_transaction(producer, &err), MK_ERR__STATE);
  assert_int_equal(mk_producer_abort_transaction(producer, &err), MK_ERR__STATE);
  assert_int_equal(mk_producer_init_transactions(producer, &err), MK_ERR__STATE);
  assert_int_equal(state_now(), MK_TXN_READY);
  assert_int_equal(capture_count("\"event\":\"request_sent\"", NULL), 0);
}

static void test_mock_txn_idempotent_producer_refuses_transactional_calls(void **state) {
  (void)state;
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  mk_producer_config_set(cfg, "bootstrap.servers", bootstraps, &err);
  mk_producer_config_set(cfg, "key.serializer", "StringSerializer", &err);
  mk_producer_config_set(cfg, "value.serializer", "StringSerializer", &err);
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(mk_producer_new(cfg, &producer, &err), 0);
  mk_producer_config_free(cfg);
  assert_int_equal(mk_producer_init_transactions(producer, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "transactional.id"));
  assert_int_equal(mk_producer_begin_transaction(producer, &err), MK_ERR__STATE);
  assert_int_equal(mk_producer_transaction_state(producer), MK_TXN_UNINITIALIZED);
}

static void test_mock_txn_close_aborts_an_open_transaction(void **state) {
  (void)state;
  create_topic("txn-close", 1);
  start_producer("txn-close-1", NULL);
  OK(mk_producer_init_transactions);
  OK(mk_producer_begin_transaction);
  assert_int_equal(send_value(producer, "txn-close", 0, NULL, "open", 0), 0);
  flush_ok(producer, 10000);
  assert_int_equal(mk_producer_close(producer, 10000), 0);
  producer = NULL;
  int end = txn_request("EndTxn", 0);
  assert_true(end >= 0);
  assert_true(line_has(end, "\"result\":\"abort\""));
  assert_true(capture_find(end, "\"event\":\"txn_response\"", "\"api\":\"EndTxn\"") > end);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup_test, teardown_test)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_mock_txn_commit_across_three_brokers),
      T(test_mock_txn_abort_fails_the_records_not_yet_sent),
      T(test_mock_txn_abort_after_records_were_written),
      T(test_mock_txn_retries_busy_and_moved_coordinators),
      T(test_mock_txn_fenced_is_fatal),
      T(test_mock_txn_failed_record_makes_it_abortable_and_abort_bumps_the_epoch),
      T(test_mock_txn_send_offsets_to_both_coordinators),
      T(test_mock_txn_init_times_out_then_goes_on),
      T(test_mock_txn_sends_outside_a_transaction_fail_at_once),
      T(test_mock_txn_idempotent_producer_refuses_transactional_calls),
      T(test_mock_txn_close_aborts_an_open_transaction),
  };
  return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
