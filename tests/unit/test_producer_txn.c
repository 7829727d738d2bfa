/*
 * Our transactional producer against our own broker (the embedded one), where the broker's
 * side of transactions is real: fencing, commit and abort markers, the last stable offset,
 * offsets staged until the end. What was written is read back by librdkafka consumers (an
 * independent Kafka client) with isolation.level read_committed and read_uncommitted side
 * by side. tests/unit/test_producer_txn_mock.c checks the request flow against librdkafka's
 * mock, which does none of this.
 *
 *   test thread (app)                    our producer(s)        embedded broker (3 brokers)
 *   init / begin / send / commit ...  -> transactional reqs  -> transaction coordinator,
 *   rd_kafka consumers read back      <-------------------------  markers, LSO, Fetch
 *
 * Every wait is bounded. MK_TEST_TRACE=1 prints the trace (both sides).
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

#include "broker/broker.h"
#include "common/trace.h"
#include "consumer/consumer.h"
#include "producer/producer.h"
#include "producer/producer_config.h"
#include "tests/support/producer_probe.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
static const char *bootstrap;
static struct mk_producer *producers[2];
static int trace_sink = -1;

static int setup_file(void **state) {
  (void)state;
  if (test_broker_start(&broker, "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                        "100", NULL))
    return -1;
  bootstrap = mk_broker_bootstrap(broker);
  return 0;
}

static int teardown_file(void **state) {
  (void)state;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

static int setup_test(void **state) {
  (void)state;
  reset_completions();
  capture_start("\"event\":\"txn_", NULL);
  if (getenv("MK_TEST_TRACE")) trace_sink = mk_trace_open_file("-", NULL);
  return 0;
}

static int teardown_test(void **state) {
  (void)state;
  for (int i = 0; i < 2; i++) {
    if (producers[i]) mk_producer_close(producers[i], 0);
    producers[i] = NULL;
  }
  capture_stop();
  if (trace_sink >= 0) mk_trace_remove_sink(trace_sink);
  trace_sink = -1;
  return 0;
}

static void create_topic(const char *name, int partitions) {
  test_broker_create_topic(broker, name, partitions, 3, NULL);
}

/* Producer `slot` (closed by teardown): transactional, then (key, value) settings. */
static struct mk_producer *start_producer(int slot, const char *transactional_id,
                                          const char *first_key, ...) {
  const char *const defaults[] = {"bootstrap.servers", bootstrap, "transactional.id",
                                  transactional_id, "max.block.ms", "15000", NULL};
  va_list ap;
  va_start(ap, first_key);
  producers[slot] = probe_producer_new(defaults, first_key, ap);
  va_end(ap);
  return producers[slot];
}

#define OK(call, p)                                                          \
  do {                                                                       \
    struct mk_err e_ = {0};                                                  \
    int rc_ = call(p, &e_);                                                  \
    if (rc_) fail_msg("%s: %s (%s)", #call, mk_err_name(rc_), e_.msg);       \
  } while (0)

/* Send n records "<prefix>-i" to partition i % partitions, reporting to done[first + i]. */
static void send_n(struct mk_producer *p, const char *topic, int partitions, const char *prefix,
                   int n, int first) {
  for (int i = 0; i < n; i++) {
    char v[64];
    snprintf(v, sizeof v, "%s-%d", prefix, i);
    assert_int_equal(send_value(p, topic, i % partitions, NULL, v, first + i), 0);
  }
}

/* ---- reading back with librdkafka ------------------------------------------------------------ */

static rd_kafka_t *new_consumer(const char *isolation, const char *group) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *settings[][2] = {{"bootstrap.servers", bootstrap},
                               {"group.id", group},
                               {"enable.auto.commit", "false"},
                               {"isolation.level", isolation},
                               {"enable.partition.eof", "true"},
                               {"log_level", "3"}};
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    assert_int_equal(rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof err),
                     RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  assert_non_null(rk);
  return rk;
}

/* Read topic's partitions from the beginning with this isolation.level until each reaches
 * its end (for read_committed: the last stable offset), at most timeout_ms. Returns how many
 * records came; *with counts those whose value starts with `prefix` (prefix may be NULL). */
static int read_back(const char *topic, int partitions, const char *isolation, const char *prefix,
                     int *with, int timeout_ms) {
  rd_kafka_t *rk = new_consumer(isolation, "mk-txn-reader");
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, parts), 0);
  rd_kafka_topic_partition_list_destroy(parts);
  int n = 0, ends = 0;
  if (with) *with = 0;
  int64_t until = now_ms() + timeout_ms;
  /* enable.partition.eof: each partition says once when it has nothing more to give. */
  while (now_ms() < until && ends < partitions) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ends++;
    } else if (!m->err) {
      n++;
      if (with && prefix && m->len >= strlen(prefix) && memcmp(m->payload, prefix, strlen(prefix)) == 0)
        (*with)++;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (ends < partitions) fail_msg("%s: %d of %d partitions reached their end", isolation, ends, partitions);
  return n;
}

/* The offset group has committed for topic-partition (OffsetFetch, require_stable), or -1. */
static int64_t committed_offset(const char *group, const char *topic, int32_t partition) {
  rd_kafka_t *rk = new_consumer("read_committed", group);
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic, partition);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk, parts, 10000);
  int64_t offset = e ? -2 : parts->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (e) fail_msg("committed(%s): %s", group, rd_kafka_err2name(e));
  return offset < 0 ? -1 : offset;
}

/* The producer's epoch as its last InitProducerId answer said (captured txn_response). */
static int64_t last_epoch(const char *transactional_id) {
  char id[96];
  snprintf(id, sizeof id, "\"transactional_id\":\"%s\"", transactional_id);
  int64_t epoch = -1;
  for (int i = capture_find(0, "\"api\":\"InitProducerId\"", id); i >= 0;
       i = capture_find(i + 1, "\"api\":\"InitProducerId\"", id)) {
    char *l = capture_line(i, NULL);
    if (strstr(l, "\"txn_response\"") && json_int(l, "epoch") != INT64_MIN) epoch = json_int(l, "epoch");
    free(l);
  }
  return epoch;
}

/* ==== the tests ===================================================================================== */

static void test_commit_and_abort_as_read_committed_and_read_uncommitted_readers_see_them(void **state) {
  (void)state;
  create_topic("txn-seen", 2);
  struct mk_producer *p = start_producer(0, "txn-seen-1", NULL);
  OK(mk_producer_init_transactions, p);
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-seen", 2, "kept", 10, 0);
  OK(mk_producer_commit_transaction, p);
  assert_succeeded(0, 10);
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-seen", 2, "dropped", 5, 10);
  flush_ok(p, 10000);  /* written to the log, then aborted */
  assert_succeeded(10, 15);
  OK(mk_producer_abort_transaction, p);
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-seen", 2, "later", 3, 15);
  OK(mk_producer_commit_transaction, p);
  assert_succeeded(15, 18);
  /* Markers: each transaction ended with one per partition it touched (three transactions,
   * two partitions each), commit, abort, commit. EndTxn is answered once PrepareCommit is
   * written, before the markers (as in Kafka), so the last ones may still be on their way. */
  const char *marker = "\"event\":\"txn_marker\"";
  assert_int_equal(capture_wait_count(marker, "\"result\":\"commit\"", 4, 10000), 4);
  assert_int_equal(capture_wait_count(marker, "\"result\":\"abort\"", 2, 10000), 2);
  int kept = 0, dropped = 0;
  int committed_view = read_back("txn-seen", 2, "read_committed", "kept", &kept, 15000);
  read_back("txn-seen", 2, "read_committed", "dropped", &dropped, 15000);
  assert_int_equal(committed_view, 13);
  assert_int_equal(kept, 10);
  assert_int_equal(dropped, 0);
  int uncommitted_view = read_back("txn-seen", 2, "read_uncommitted", "dropped", &dropped, 15000);
  assert_int_equal(uncommitted_view, 18);
  assert_int_equal(dropped, 5);
}

static void test_a_second_producer_with_the_same_id_fences_the_first(void **state) {
  (void)state;
  create_topic("txn-zombie", 1);
  struct mk_producer *zombie = start_producer(0, "txn-zombie-1", "linger.ms", "0", NULL);
  OK(mk_producer_init_transactions, zombie);
  int64_t zombie_epoch = last_epoch("txn-zombie-1");
  OK(mk_producer_begin_transaction, zombie);
  send_n(zombie, "txn-zombie", 1, "zombie", 5, 0);
  flush_ok(zombie, 10000);
  assert_succeeded(0, 5);
  /* The new instance: its initTransactions aborts the zombie's open transaction (the
   * coordinator bumps the epoch to fence it and write the abort, then once more for the new
   * producer: Kafka's PrepareEpochFence), answering CONCURRENT_TRANSACTIONS meanwhile. */
  struct mk_producer *fresh = start_producer(1, "txn-zombie-1", NULL);
  OK(mk_producer_init_transactions, fresh);
  assert_true(last_epoch("txn-zombie-1") > zombie_epoch);
  /* The zombie learns at its next request: fatal, and only close remains. */
  struct mk_err err = {0};
  int rc = mk_producer_commit_transaction(zombie, &err);
  assert_int_equal(rc, MK_ERR_PRODUCER_FENCED);
  assert_int_equal(mk_producer_transaction_state(zombie), MK_TXN_FATAL_ERROR);
  assert_int_equal(mk_producer_begin_transaction(zombie, &err), MK_ERR_PRODUCER_FENCED);
  OK(mk_producer_begin_transaction, fresh);
  send_n(fresh, "txn-zombie", 1, "fresh", 3, 5);
  OK(mk_producer_commit_transaction, fresh);
  assert_succeeded(5, 8);
  int zombies = 0, fresh_ones = 0;
  assert_int_equal(read_back("txn-zombie", 1, "read_committed", "fresh", &fresh_ones, 15000), 3);
  assert_int_equal(fresh_ones, 3);
  assert_int_equal(read_back("txn-zombie", 1, "read_uncommitted", "zombie", &zombies, 15000), 8);
  assert_int_equal(zombies, 5);
}

static void test_a_fenced_producer_sending_learns_it_from_produce(void **state) {
  (void)state;
  create_topic("txn-zombie-send", 1);
  struct mk_producer *zombie = start_producer(0, "txn-zombie-send-1", "linger.ms", "0", NULL);
  OK(mk_producer_init_transactions, zombie);
  OK(mk_producer_begin_transaction, zombie);
  send_n(zombie, "txn-zombie-send", 1, "before", 2, 0);
  flush_ok(zombie, 10000);
  struct mk_producer *fresh = start_producer(1, "txn-zombie-send-1", NULL);
  OK(mk_producer_init_transactions, fresh);
  /* Still in its old transaction as far as it knows: the broker refuses its batch. */
  send_n(zombie, "txn-zombie-send", 1, "after", 1, 2);
  assert_int_equal(wait_completions(3, 15000), 3);
  assert_true(done[2].error == MK_ERR_PRODUCER_FENCED || done[2].error == MK_ERR_INVALID_PRODUCER_EPOCH);
  for (int i = 0; i < 300 && mk_producer_transaction_state(zombie) == MK_TXN_IN_TRANSACTION; i++)
    sleep_ms(10);
  enum mk_transaction_state s = mk_producer_transaction_state(zombie);
  /* PRODUCER_FENCED is fatal; INVALID_PRODUCER_EPOCH from a Produce is abortable (KIP-588). */
  assert_true(s == (done[2].error == MK_ERR_PRODUCER_FENCED ? MK_TXN_FATAL_ERROR
                                                            : MK_TXN_ABORTABLE_ERROR));
  int after = 0;
  read_back("txn-zombie-send", 1, "read_committed", "after", &after, 15000);
  assert_int_equal(after, 0);
}

static void test_offsets_commit_with_the_output_or_not_at_all(void **state) {
  (void)state;
  create_topic("txn-in", 1);
  create_topic("txn-out", 1);
  struct mk_producer *p = start_producer(0, "txn-ctp-1", NULL);
  OK(mk_producer_init_transactions, p);
  struct mk_consumer_group_metadata group = probe_group_metadata("txn-ctp-group", -1, "");
  struct mk_err err = {0};
  /* Round 1: "processed" input offsets 0..4, output committed with position 5. */
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-out", 1, "round1", 5, 0);
  struct mk_offset_to_commit o1 = {"txn-in", 0, 5, -1, NULL};
  assert_int_equal(mk_producer_send_offsets_to_transaction(p, &o1, 1, &group, &err), 0);
  OK(mk_producer_commit_transaction, p);
  assert_int_equal(committed_offset("txn-ctp-group", "txn-in", 0), 5);
  /* Round 2: input 5..9, but the transaction aborts: neither output nor position count. */
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-out", 1, "round2", 5, 5);
  struct mk_offset_to_commit o2 = {"txn-in", 0, 10, -1, NULL};
  assert_int_equal(mk_producer_send_offsets_to_transaction(p, &o2, 1, &group, &err), 0);
  OK(mk_producer_abort_transaction, p);
  assert_int_equal(committed_offset("txn-ctp-group", "txn-in", 0), 5);
  int round2 = 0;
  assert_int_equal(read_back("txn-out", 1, "read_committed", "round2", &round2, 15000), 5);
  assert_int_equal(round2, 0);
  /* TxnOffsetCommit went to the group's coordinator after AddOffsetsToTxn. */
  int add = capture_find(0, "\"event\":\"txn_request\"", "\"api\":\"AddOffsetsToTxn\"");
  int commit = capture_find(0, "\"event\":\"txn_request\"", "\"api\":\"TxnOffsetCommit\"");
  assert_true(add >= 0 && commit > add);
}

static void test_held_markers_hold_read_committed_readers_at_the_lso(void **state) {
  (void)state;
  create_topic("txn-held", 1);
  struct mk_producer *p = start_producer(0, "txn-held-1", NULL);
  OK(mk_producer_init_transactions, p);
  test_broker_fault(broker, "{\"action\": \"hold_markers\", \"ms\": 60000}");
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-held", 1, "held", 4, 0);
  /* The commit returns once PrepareCommit is written: the markers are not. */
  OK(mk_producer_commit_transaction, p);
  int held = 0;
  assert_int_equal(read_back("txn-held", 1, "read_committed", "held", &held, 15000), 0);
  assert_int_equal(read_back("txn-held", 1, "read_uncommitted", "held", &held, 15000), 4);
  assert_int_equal(held, 4);
  /* The next transaction waits too: the coordinator answers CONCURRENT_TRANSACTIONS until
   * the previous one is complete, and the producer retries. */
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-held", 1, "next", 1, 4);
  sleep_ms(300);
  test_broker_fault(broker, "{\"action\": \"release_markers\"}");
  OK(mk_producer_commit_transaction, p);
  assert_succeeded(0, 5);
  assert_true(capture_count("\"event\":\"txn_response\"", "CONCURRENT_TRANSACTIONS") >= 1);
  assert_int_equal(read_back("txn-held", 1, "read_committed", "held", &held, 15000), 5);
  assert_int_equal(held, 4);
}

static void test_a_transaction_past_its_timeout_is_aborted_by_the_broker(void **state) {
  (void)state;
  create_topic("txn-timeout", 1);
  struct mk_producer *p = start_producer(0, "txn-timeout-1", "transaction.timeout.ms", "1000",
                                         NULL);
  OK(mk_producer_init_transactions, p);
  OK(mk_producer_begin_transaction, p);
  send_n(p, "txn-timeout", 1, "late", 3, 0);
  flush_ok(p, 10000);
  sleep_ms(2000);  /* > transaction.timeout.ms + the broker's check interval (100 ms) */
  struct mk_err err = {0};
  int rc = mk_producer_commit_transaction(p, &err);
  assert_int_not_equal(rc, 0);  /* the coordinator bumped the epoch and aborted it */
  assert_true(mk_producer_transaction_state(p) >= MK_TXN_ABORTABLE_ERROR);
  int late = 0;
  assert_int_equal(read_back("txn-timeout", 1, "read_committed", "late", &late, 15000), 0);
  /* And a transaction.timeout.ms above the broker's transaction.max.timeout.ms is refused. */
  struct mk_producer *q = start_producer(1, "txn-timeout-2", "transaction.timeout.ms", "999999999",
                                         NULL);
  assert_int_equal(mk_producer_init_transactions(q, &err), MK_ERR_INVALID_TRANSACTION_TIMEOUT);
  assert_int_equal(mk_producer_transaction_state(q), MK_TXN_FATAL_ERROR);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup_test, teardown_test)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_commit_and_abort_as_read_committed_and_read_uncommitted_readers_see_them),
      T(test_a_second_producer_with_the_same_id_fences_the_first),
      T(test_a_fenced_producer_sending_learns_it_from_produce),
      T(test_offsets_commit_with_the_output_or_not_at_all),
      T(test_held_markers_hold_read_committed_readers_at_the_lso),
      T(test_a_transaction_past_its_timeout_is_aborted_by_the_broker),
  };
  return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
