/*
 * Tests for producer/transaction_manager.c and txn_request_handler.c without a network:
 * the state table itself (every pair of states), then each operation and each answer the
 * Sender could hand the manager, with the responses built as the decoder would leave them.
 *
 *   test thread as the application      test thread as the Sender
 *   initialize / begin / commit ...     r = next_request(); sent(r);
 *                                       complete_request(node, version, &response)
 *
 * What each test checks is Java's TransactionManager behaviour: which requests go out in
 * which order, what state an answer leaves, which errors are abortable and which fatal,
 * and every move traced as a `txn_state` event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace.h"
#include "consumer/consumer.h"
#include "producer/producer_batch.h"
#include "producer/record_accumulator.h"
#include "producer/transaction_manager.h"
#include "producer/txn_request_handler.h"
#include "protocol/api.h"
#include "tests/support/producer_probe.h"

static struct mk_transaction_manager tm;

static int setup(void **state) {
  (void)state;
  assert_int_equal(mk_transaction_manager_init(&tm, true, "txn-1", 60000, 100, "producer-txn-1"), 0);
  capture_start("\"event\":\"txn_state\"", NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  capture_stop();
  mk_transaction_manager_destroy(&tm);
  return 0;
}

#define S(x) MK_TXN_##x

/* ---- the table --------------------------------------------------------------------------- */

static void test_transition_table_is_javas(void **state) {
  (void)state;
  enum { U, I, R, T, C, A, E, F, N };
  /* allowed[from][to], from Java's State.isTransitionValid, written out by target state. */
  static const bool allowed[N][N] = {
      /*            U  I  R  T  C  A  E  F */
      /* U */      {0, 1, 0, 0, 0, 0, 0, 1},
      /* I */      {0, 0, 1, 0, 0, 0, 1, 1},
      /* R */      {1, 0, 0, 1, 0, 0, 0, 1},
      /* T */      {0, 0, 0, 0, 1, 1, 1, 1},
      /* C */      {0, 0, 1, 0, 0, 0, 1, 1},
      /* A */      {0, 1, 1, 0, 0, 0, 0, 1},
      /* E */      {1, 0, 0, 0, 0, 1, 1, 1},
      /* F */      {0, 0, 0, 0, 0, 0, 0, 1},
  };
  int checked = 0;
  for (int from = 0; from < N; from++)
    for (int to = 0; to < N; to++) {
      bool v = mk_txn_transition_valid((enum mk_transaction_state)from,
                                       (enum mk_transaction_state)to);
      if (v != allowed[from][to])
        fail_msg("%s -> %s: %s, expected %s", mk_transaction_state_name(from),
                 mk_transaction_state_name(to), v ? "allowed" : "forbidden",
                 allowed[from][to] ? "allowed" : "forbidden");
      checked++;
    }
  assert_int_equal(checked, 64);
  assert_string_equal(mk_transaction_state_name(S(COMMITTING_TRANSACTION)), "COMMITTING_TRANSACTION");
}

/* Every forbidden move asked for by the application is refused and changes nothing; asked
 * for by the Sender, it poisons the manager. */
static void test_forbidden_moves_refused_from_the_app_and_fatal_from_the_sender(void **state) {
  (void)state;
  int refused = 0;
  for (int from = 0; from < 8; from++)
    for (int to = 0; to < 8; to++) {
      if (mk_txn_transition_valid(from, to)) continue;
      struct mk_err err = {0};
      tm.state = (enum mk_transaction_state)from;
      assert_int_equal(mk_txn_transition(&tm, to, NULL, false, &err), MK_ERR__STATE);
      assert_int_equal(tm.state, from);
      assert_non_null(strstr(err.msg, "Invalid transition attempted from state"));
      assert_non_null(strstr(err.msg, mk_transaction_state_name(from)));
      assert_int_equal(mk_txn_transition(&tm, to, NULL, true, &err), MK_ERR__STATE);
      assert_int_equal(tm.state, S(FATAL_ERROR));
      assert_int_equal(tm.last_error.code, MK_ERR__STATE);
      refused++;
    }
  assert_int_equal(refused, 64 - 23);
}

/* ---- driving the manager as the Sender does -------------------------------------------------- */

/* The next request, which must be of this kind; it is then in flight. */
static struct mk_txn_request *take(enum mk_txn_request_kind kind, bool incomplete) {
  struct mk_txn_request *r = mk_transaction_manager_next_request(&tm, incomplete);
  if (!r) fail_msg("no request queued, expected kind %d", kind);
  if (r->kind != kind) fail_msg("next request is %s, expected kind %d", mk_txn_request_name(r), kind);
  mk_transaction_manager_sent(&tm, r);
  return r;
}

static void answer(int version, const void *body) {
  mk_transaction_manager_complete_request(&tm, 1, version, body, 0, NULL);
}

static void answer_find_coordinator(int16_t code, int32_t node) {
  take(MK_TXN_FIND_COORDINATOR, false);
  struct mk_find_coordinator_response r;
  mk_schema_set_defaults(&mk_find_coordinator_response_schema, &r);
  r.error_code = code;
  r.node_id = node;
  r.host = mk_str_of("127.0.0.1");
  r.port = 9092 + node;
  answer(3, &r);
}

static void answer_init(int16_t code, int64_t id, int16_t epoch) {
  struct mk_init_producer_id_response r = {0, code, id, epoch};
  answer(4, &r);
}

static void answer_end_txn(int16_t code) {
  struct mk_end_txn_response r = {0, code, -1, -1};
  answer(3, &r);
}

static void answer_add_partitions(const char *topic, const int32_t *partitions, const int16_t *codes,
                                  int n) {
  struct mk_add_partitions_to_txn_partition_result results[8];
  for (int i = 0; i < n; i++) results[i] = (struct mk_add_partitions_to_txn_partition_result){partitions[i], codes[i]};
  struct mk_add_partitions_to_txn_topic_result t = {mk_str_of(topic), results, n};
  struct mk_add_partitions_to_txn_response r;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_response_schema, &r);
  r.results_by_topic_v3_and_below = &t;
  r.results_by_topic_v3_and_below_count = 1;
  answer(3, &r);
}

static int wait_result(struct mk_txn_result *r, struct mk_err *err) {
  return mk_transaction_manager_await(&tm, r, 0, err);
}

/* UNINITIALIZED -> INITIALIZING -> READY, through FindCoordinator and InitProducerId. */
static void initialize(void) {
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_initialize(&tm, &r, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(INITIALIZING));
  /* The Sender finds the InitProducerId needs a coordinator it does not know. */
  struct mk_txn_request *init = mk_transaction_manager_next_request(&tm, false);
  assert_non_null(init);
  enum mk_coordinator_type type;
  const char *key;
  assert_true(mk_txn_request_needs_coordinator(&tm, init, &type, &key));
  assert_int_equal(type, MK_COORDINATOR_TRANSACTION);
  assert_string_equal(key, "txn-1");
  mk_transaction_manager_lookup_coordinator(&tm, type, key);
  mk_transaction_manager_retry(&tm, init);
  answer_find_coordinator(0, 2);  /* FindCoordinator goes first (priority 0) */
  struct mk_coordinator_node c;
  assert_true(mk_transaction_manager_coordinator(&tm, MK_COORDINATOR_TRANSACTION, &c));
  assert_int_equal(c.id, 2);
  assert_int_equal(c.port, 9094);
  mk_transaction_manager_coordinator_ready(&tm, 4);
  struct mk_txn_request *again = take(MK_TXN_INIT_PRODUCER_ID, false);
  assert_true(again->is_retry);
  answer_init(0, 4000, 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
  assert_int_equal(wait_result(r, &err), 0);
  int64_t id;
  int16_t epoch;
  assert_true(mk_transaction_manager_take_sequence_reset(&tm, &id, &epoch));
  assert_int_equal(id, 4000);
  assert_int_equal(epoch, 0);
}

static void begin(void) {
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_begin(&tm, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(IN_TRANSACTION));
}

/* Send to t-p, then have the coordinator add it. */
static void add_partition(const char *topic, int32_t p) {
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), 0);
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, topic, p, &err), 0);
  assert_false(mk_transaction_manager_may_send(&tm, topic, p));
  struct mk_txn_request *r = take(MK_TXN_ADD_PARTITIONS, false);
  assert_int_equal(r->npartitions, 1);
  int16_t ok = 0;
  answer_add_partitions(topic, &p, &ok, 1);
  assert_true(mk_transaction_manager_may_send(&tm, topic, p));
}

/* The states the captured txn_state events went through, "A>B>C". */
static void assert_trace_path(const char *expected) {
  char path[512] = "";
  for (int i = capture_find(0, "txn_state", NULL); i >= 0; i = capture_find(i + 1, "txn_state", NULL)) {
    char *line = capture_line(i, NULL);
    char *to = strstr(line, "\"to\":\"");
    assert_non_null(to);
    to += 6;
    *strchr(to, '"') = 0;
    if (!path[0]) {
      char *from = strstr(line, "\"from\":\"") + 8;
      *strchr(from, '"') = 0;
      snprintf(path, sizeof path, "%s", from);
    }
    size_t used = strlen(path);
    snprintf(path + used, sizeof path - used, ">%s", to);
    assert_non_null(strstr(line, "\"transactional_id\":\"txn-1\""));
    free(line);
  }
  assert_string_equal(path, expected);
}

/* ---- the happy paths ------------------------------------------------------------------------- */

static void test_commit_adds_partitions_then_ends_once_batches_are_done(void **state) {
  (void)state;
  initialize();
  begin();
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), 0);
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 0, &err), 0);
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 1, &err), 0);
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 0, &err), 0);  /* again */
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "u", 3, &err), 0);
  /* Nothing may be drained before the coordinator knows the partitions. */
  assert_false(mk_transaction_manager_may_send(&tm, "t", 0));
  struct mk_txn_request *add = take(MK_TXN_ADD_PARTITIONS, false);
  assert_int_equal(add->npartitions, 3);  /* one request for all of them */
  /* Its wire form groups them by topic, with the producer id and epoch. */
  struct mk_txn_wire w;
  assert_int_equal(mk_txn_request_build(&tm, add, 3, &w, &err), 0);
  assert_int_equal(w.api_key, MK_API_ADD_PARTITIONS_TO_TXN);
  const struct mk_add_partitions_to_txn_request *req = w.body;
  assert_true(mk_str_eq(req->v3_and_below_transactional_id, "txn-1"));
  assert_int_equal(req->v3_and_below_producer_id, 4000);
  assert_int_equal(req->v3_and_below_topics_count, 2);
  int total = 0;
  for (int t = 0; t < 2; t++) total += req->v3_and_below_topics[t].partitions_count;
  assert_int_equal(total, 3);
  mk_txn_wire_free(&w);
  /* No second AddPartitionsToTxn while the first is answered. */
  assert_true(mk_transaction_manager_has_in_flight(&tm));
  struct mk_add_partitions_to_txn_partition_result r1[2] = {{0, 0}, {1, 0}}, r2[1] = {{3, 0}};
  struct mk_add_partitions_to_txn_topic_result topics[2] = {{mk_str_of("t"), r1, 2},
                                                            {mk_str_of("u"), r2, 1}};
  struct mk_add_partitions_to_txn_response resp;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_response_schema, &resp);
  resp.results_by_topic_v3_and_below = topics;
  resp.results_by_topic_v3_and_below_count = 2;
  answer(3, &resp);
  assert_true(mk_transaction_manager_may_send(&tm, "t", 0));
  assert_true(mk_transaction_manager_may_send(&tm, "t", 1));
  assert_true(mk_transaction_manager_may_send(&tm, "u", 3));
  assert_false(mk_transaction_manager_may_send(&tm, "u", 0));

  struct mk_txn_result *commit;
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &commit, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(COMMITTING_TRANSACTION));
  assert_true(mk_transaction_manager_is_completing(&tm));
  /* EndTxn waits while batches are incomplete: the commit's flush. */
  assert_null(mk_transaction_manager_next_request(&tm, true));
  struct mk_txn_request *end = take(MK_TXN_END_TXN, false);
  assert_true(end->committed);
  assert_int_equal(mk_txn_request_build(&tm, end, 3, &w, &err), 0);
  assert_true(((const struct mk_end_txn_request *)w.body)->committed);
  mk_txn_wire_free(&w);
  assert_int_equal(mk_transaction_manager_await(&tm, mk_txn_result_ref(commit), 0, &err),
                   MK_ERR__TIMED_OUT);
  answer_end_txn(0);
  assert_int_equal(wait_result(commit, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
  /* The next transaction starts with no partitions. */
  assert_false(mk_transaction_manager_may_send(&tm, "t", 0));
  assert_trace_path("UNINITIALIZED>INITIALIZING>READY>IN_TRANSACTION>COMMITTING_TRANSACTION>READY");
}

static void test_a_transaction_with_nothing_in_it_ends_without_end_txn(void **state) {
  (void)state;
  initialize();
  begin();
  struct mk_txn_result *commit;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &commit, &err), 0);
  assert_null(mk_transaction_manager_next_request(&tm, false));  /* nothing to send */
  assert_int_equal(wait_result(commit, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
}

static void test_abort_fails_unsent_batches_and_ends_with_abort(void **state) {
  (void)state;
  initialize();
  begin();
  add_partition("t", 0);
  struct mk_err err = {0}, why;
  assert_false(mk_transaction_manager_abort_reason(&tm, &why));
  /* A partition sent to after the last AddPartitionsToTxn is not added by the abort. */
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 9, &err), 0);
  struct mk_txn_result *abort;
  assert_int_equal(mk_transaction_manager_begin_abort(&tm, &abort, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(ABORTING_TRANSACTION));
  assert_true(mk_transaction_manager_abort_reason(&tm, &why));
  assert_int_equal(why.code, MK_ERR__TRANSACTION_ABORTED);
  struct mk_txn_request *end = take(MK_TXN_END_TXN, false);
  assert_false(end->committed);
  answer_end_txn(0);
  assert_int_equal(wait_result(abort, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
  assert_trace_path("UNINITIALIZED>INITIALIZING>READY>IN_TRANSACTION>ABORTING_TRANSACTION>READY");
}

/* ---- abortable and fatal errors --------------------------------------------------------------- */

static void test_a_failed_send_makes_the_transaction_abortable_and_abort_bumps_the_epoch(void **state) {
  (void)state;
  initialize();  /* the coordinator speaks InitProducerId v4: it can bump epochs */
  begin();
  add_partition("t", 0);
  struct mk_err failed;
  mk_err_set(&failed, MK_ERR_RECORD_LIST_TOO_LARGE, "1 record(s) for t-0 failed");
  mk_transaction_manager_error(&tm, &failed);
  assert_int_equal(mk_transaction_manager_state(&tm), S(ABORTABLE_ERROR));
  /* Sends, commits and offsets are refused with the cause; unsent batches are failed. */
  struct mk_err err = {0}, why;
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), MK_ERR_RECORD_LIST_TOO_LARGE);
  struct mk_txn_result *r;
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), MK_ERR_RECORD_LIST_TOO_LARGE);
  assert_non_null(strstr(err.msg, "error state"));
  assert_int_equal(mk_transaction_manager_state(&tm), S(ABORTABLE_ERROR));
  assert_true(mk_transaction_manager_abort_reason(&tm, &why));
  assert_int_equal(why.code, MK_ERR_RECORD_LIST_TOO_LARGE);
  assert_false(mk_transaction_manager_fatal(&tm, NULL));
  /* Abort: EndTxn(abort), then InitProducerId with the current id and epoch (KIP-360). */
  assert_int_equal(mk_transaction_manager_begin_abort(&tm, &r, &err), 0);
  struct mk_txn_request *end = take(MK_TXN_END_TXN, false);
  assert_false(end->committed);
  answer_end_txn(0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(INITIALIZING));
  assert_int_equal(mk_transaction_manager_await(&tm, mk_txn_result_ref(r), 0, &err), MK_ERR__TIMED_OUT);
  struct mk_txn_request *bump = take(MK_TXN_INIT_PRODUCER_ID, false);
  assert_true(bump->epoch_bump);
  struct mk_txn_wire w;
  assert_int_equal(mk_txn_request_build(&tm, bump, 3, &w, &err), 0);
  assert_int_equal(((const struct mk_init_producer_id_request *)w.body)->producer_id, 4000);
  assert_int_equal(((const struct mk_init_producer_id_request *)w.body)->producer_epoch, 0);
  mk_txn_wire_free(&w);
  assert_int_equal(mk_txn_request_build(&tm, bump, 2, &w, &err), MK_ERR_UNSUPPORTED_VERSION);
  answer_init(0, 4000, 1);
  assert_int_equal(wait_result(r, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
  int64_t id;
  int16_t epoch;
  assert_true(mk_transaction_manager_take_sequence_reset(&tm, &id, &epoch));
  assert_int_equal(epoch, 1);
  begin();  /* and carry on */
  assert_trace_path("UNINITIALIZED>INITIALIZING>READY>IN_TRANSACTION>ABORTABLE_ERROR>"
                    "ABORTING_TRANSACTION>INITIALIZING>READY>IN_TRANSACTION");
}

static void test_without_epoch_bumps_abort_goes_straight_to_ready(void **state) {
  (void)state;
  initialize();
  mk_transaction_manager_coordinator_ready(&tm, 2);  /* an older coordinator */
  begin();
  add_partition("t", 0);
  struct mk_err failed, err = {0};
  mk_err_set(&failed, MK_ERR_REQUEST_TIMED_OUT, "expired");
  mk_transaction_manager_error(&tm, &failed);
  struct mk_txn_result *r;
  assert_int_equal(mk_transaction_manager_begin_abort(&tm, &r, &err), 0);
  take(MK_TXN_END_TXN, false);
  answer_end_txn(0);
  assert_int_equal(wait_result(r, &err), 0);
  assert_int_equal(mk_transaction_manager_state(&tm), S(READY));
  assert_null(mk_transaction_manager_next_request(&tm, false));
}

static void test_fenced_and_the_like_are_fatal(void **state) {
  (void)state;
  static const int16_t fatal_codes[] = {MK_ERR_PRODUCER_FENCED, MK_ERR_CLUSTER_AUTHORIZATION_FAILED,
                                        MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                                        MK_ERR_UNSUPPORTED_VERSION};
  for (size_t i = 0; i < sizeof fatal_codes / sizeof fatal_codes[0]; i++) {
    mk_transaction_manager_destroy(&tm);
    mk_transaction_manager_init(&tm, true, "txn-1", 60000, 100, "p");
    initialize();
    begin();
    struct mk_err e, err = {0};
    mk_err_set(&e, fatal_codes[i], "from a Produce response");
    mk_transaction_manager_error(&tm, &e);
    assert_int_equal(mk_transaction_manager_state(&tm), S(FATAL_ERROR));
    assert_true(mk_transaction_manager_fatal(&tm, &err));
    assert_int_equal(err.code, fatal_codes[i]);
    /* Nothing goes on: not even an abort, nor a send, nor a drain. */
    struct mk_txn_result *r;
    assert_int_equal(mk_transaction_manager_begin_abort(&tm, &r, &err), fatal_codes[i]);
    assert_int_equal(mk_transaction_manager_begin(&tm, &err), fatal_codes[i]);
    assert_int_equal(mk_transaction_manager_check_send(&tm, &err), fatal_codes[i]);
    if (fatal_codes[i] == MK_ERR_PRODUCER_FENCED)
      assert_non_null(strstr(err.msg, "has been fenced by another producer"));
    assert_false(mk_transaction_manager_may_send(&tm, "t", 0));
    /* A later abortable error does not hide the fatal one. */
    mk_err_set(&e, MK_ERR_REQUEST_TIMED_OUT, "later");
    mk_transaction_manager_error(&tm, &e);
    assert_true(mk_transaction_manager_fatal(&tm, &err));
    assert_int_equal(err.code, fatal_codes[i]);
  }
}

/* EndTxn's answers, each in a fresh commit: what state, and whether it is retried. */
static void test_end_txn_answers(void **state) {
  (void)state;
  static const struct {
    int16_t code;
    enum mk_transaction_state after;  /* COMMITTING_TRANSACTION: retried */
    bool bump_supported;
    bool finds_coordinator;
  } cases[] = {
      {0, S(READY), true, false},
      {MK_ERR_NOT_COORDINATOR, S(COMMITTING_TRANSACTION), true, true},
      {MK_ERR_COORDINATOR_NOT_AVAILABLE, S(COMMITTING_TRANSACTION), true, true},
      {MK_ERR_COORDINATOR_LOAD_IN_PROGRESS, S(COMMITTING_TRANSACTION), true, false},
      {MK_ERR_CONCURRENT_TRANSACTIONS, S(COMMITTING_TRANSACTION), true, false},
      {MK_ERR_PRODUCER_FENCED, S(FATAL_ERROR), true, false},
      {MK_ERR_INVALID_PRODUCER_EPOCH, S(FATAL_ERROR), true, false},
      {MK_ERR_INVALID_TXN_STATE, S(FATAL_ERROR), true, false},
      {MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, S(FATAL_ERROR), true, false},
      {MK_ERR_UNKNOWN_PRODUCER_ID, S(ABORTABLE_ERROR), true, false},
      {MK_ERR_UNKNOWN_PRODUCER_ID, S(FATAL_ERROR), false, false},
      {MK_ERR_INVALID_PRODUCER_ID_MAPPING, S(ABORTABLE_ERROR), true, false},
      {MK_ERR_TRANSACTION_ABORTABLE, S(ABORTABLE_ERROR), true, false},
      {MK_ERR_UNKNOWN_SERVER_ERROR, S(FATAL_ERROR), true, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mk_transaction_manager_destroy(&tm);
    mk_transaction_manager_init(&tm, true, "txn-1", 60000, 100, "p");
    initialize();
    mk_transaction_manager_coordinator_ready(&tm, cases[i].bump_supported ? 4 : 2);
    begin();
    add_partition("t", 0);
    struct mk_txn_result *r;
    struct mk_err err = {0};
    assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), 0);
    take(MK_TXN_END_TXN, false);
    answer_end_txn(cases[i].code);
    enum mk_transaction_state s = mk_transaction_manager_state(&tm);
    if (s != cases[i].after)
      fail_msg("EndTxn %s: state %s, expected %s", mk_err_name(cases[i].code),
               mk_transaction_state_name(s), mk_transaction_state_name(cases[i].after));
    int rc = wait_result(r, &err);
    if (cases[i].after == S(COMMITTING_TRANSACTION)) {
      assert_int_equal(rc, MK_ERR__TIMED_OUT);  /* still going */
      struct mk_txn_request *next = mk_transaction_manager_next_request(&tm, false);
      assert_non_null(next);
      assert_int_equal(next->kind, cases[i].finds_coordinator ? MK_TXN_FIND_COORDINATOR
                                                              : MK_TXN_END_TXN);
      if (!cases[i].finds_coordinator) {
        assert_true(next->is_retry);
        assert_true(next->not_before_ms > 0);
      }
      mk_transaction_manager_requeue(&tm, next);
    } else if (cases[i].after == S(READY)) {
      assert_int_equal(rc, 0);
    } else {
      /* Fenced, as old coordinators call it too, is PRODUCER_FENCED for the caller. */
      int expect = cases[i].code == MK_ERR_INVALID_PRODUCER_EPOCH ? MK_ERR_PRODUCER_FENCED
                                                                   : cases[i].code;
      if (rc != expect) fail_msg("EndTxn %s: the commit returned %s", mk_err_name(cases[i].code),
                                 mk_err_name(rc));
    }
  }
}

static void test_add_partitions_answers(void **state) {
  (void)state;
  static const struct {
    int16_t code;
    enum mk_transaction_state after;
    int64_t backoff;  /* of the retry; -1 not retried */
  } cases[] = {
      {MK_ERR_CONCURRENT_TRANSACTIONS, S(IN_TRANSACTION), 20},  /* first of the transaction */
      {MK_ERR_COORDINATOR_LOAD_IN_PROGRESS, S(IN_TRANSACTION), 100},
      {MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, S(IN_TRANSACTION), 100},
      {MK_ERR_PRODUCER_FENCED, S(FATAL_ERROR), -1},
      {MK_ERR_INVALID_TXN_STATE, S(FATAL_ERROR), -1},
      {MK_ERR_TOPIC_AUTHORIZATION_FAILED, S(ABORTABLE_ERROR), -1},
      {MK_ERR_OPERATION_NOT_ATTEMPTED, S(ABORTABLE_ERROR), -1},
      {MK_ERR_UNKNOWN_PRODUCER_ID, S(ABORTABLE_ERROR), -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mk_transaction_manager_destroy(&tm);
    mk_transaction_manager_init(&tm, true, "txn-1", 60000, 100, "p");
    initialize();
    begin();
    struct mk_err err = {0};
    assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 0, &err), 0);
    take(MK_TXN_ADD_PARTITIONS, false);
    int32_t p = 0;
    answer_add_partitions("t", &p, &cases[i].code, 1);
    enum mk_transaction_state s = mk_transaction_manager_state(&tm);
    if (s != cases[i].after)
      fail_msg("AddPartitionsToTxn %s: state %s", mk_err_name(cases[i].code),
               mk_transaction_state_name(s));
    assert_false(mk_transaction_manager_may_send(&tm, "t", 0));
    struct mk_txn_request *next = mk_transaction_manager_next_request(&tm, false);
    if (cases[i].backoff < 0) {
      /* Nothing retried; in an error state only an abort remains. */
      assert_null(next);
      if (s == S(ABORTABLE_ERROR)) {
        struct mk_err why;
        assert_true(mk_transaction_manager_abort_reason(&tm, &why));
        assert_int_equal(why.code, cases[i].code == MK_ERR_OPERATION_NOT_ATTEMPTED
                                       ? MK_ERR__STATE : cases[i].code);
      }
    } else {
      assert_non_null(next);
      assert_int_equal(next->kind, MK_TXN_ADD_PARTITIONS);
      assert_true(next->is_retry);
      assert_int_equal(next->retry_backoff_ms, cases[i].backoff);
      mk_transaction_manager_requeue(&tm, next);
    }
  }
}

static void test_init_producer_id_answers(void **state) {
  (void)state;
  static const struct {
    int16_t code;
    enum mk_transaction_state after;
  } cases[] = {
      {MK_ERR_COORDINATOR_LOAD_IN_PROGRESS, S(INITIALIZING)},
      {MK_ERR_CONCURRENT_TRANSACTIONS, S(INITIALIZING)},
      {MK_ERR_NOT_COORDINATOR, S(INITIALIZING)},
      {MK_ERR_PRODUCER_FENCED, S(FATAL_ERROR)},
      {MK_ERR_INVALID_PRODUCER_EPOCH, S(FATAL_ERROR)},
      {MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, S(ABORTABLE_ERROR)},
      {MK_ERR_INVALID_TRANSACTION_TIMEOUT, S(FATAL_ERROR)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mk_transaction_manager_destroy(&tm);
    mk_transaction_manager_init(&tm, true, "txn-1", 60000, 100, "p");
    struct mk_txn_result *r;
    struct mk_err err = {0};
    assert_int_equal(mk_transaction_manager_initialize(&tm, &r, &err), 0);
    take(MK_TXN_INIT_PRODUCER_ID, false);
    answer_init(cases[i].code, -1, -1);
    enum mk_transaction_state s = mk_transaction_manager_state(&tm);
    if (s != cases[i].after)
      fail_msg("InitProducerId %s: state %s", mk_err_name(cases[i].code), mk_transaction_state_name(s));
    int rc = wait_result(r, &err);
    if (s == S(INITIALIZING)) {
      assert_int_equal(rc, MK_ERR__TIMED_OUT);
      /* Retried (after rediscovering the coordinator for NOT_COORDINATOR); a second
       * initTransactions hands back the same pending result. */
      struct mk_txn_result *again;
      assert_int_equal(mk_transaction_manager_initialize(&tm, &again, &err), 0);
      assert_ptr_equal(again, r);
      mk_transaction_manager_release(&tm, again);
      struct mk_txn_request *next = mk_transaction_manager_next_request(&tm, false);
      assert_non_null(next);
      assert_int_equal(next->kind, cases[i].code == MK_ERR_NOT_COORDINATOR
                                       ? MK_TXN_FIND_COORDINATOR : MK_TXN_INIT_PRODUCER_ID);
      mk_transaction_manager_requeue(&tm, next);
    } else {
      assert_int_equal(rc, cases[i].code == MK_ERR_INVALID_PRODUCER_EPOCH ? MK_ERR_PRODUCER_FENCED
                                                                          : cases[i].code);
    }
  }
}

/* ---- sendOffsetsToTransaction ------------------------------------------------------------------ */

static void test_send_offsets_goes_to_both_coordinators_and_retries_what_failed(void **state) {
  (void)state;
  initialize();
  begin();
  struct mk_offset_to_commit offsets[2] = {{"in", 0, 42, -1, NULL}, {"in", 1, 7, -1, "m"}};
  struct mk_consumer_group_metadata group = probe_group_metadata("g", -1, "");
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_send_offsets(&tm, offsets, 2, &group, &r, &err), 0);
  struct mk_txn_request *add = take(MK_TXN_ADD_OFFSETS, false);
  enum mk_coordinator_type type;
  const char *key;
  assert_true(mk_txn_request_needs_coordinator(&tm, add, &type, &key));
  assert_int_equal(type, MK_COORDINATOR_TRANSACTION);
  struct mk_add_offsets_to_txn_response ok = {0, 0};
  answer(3, &ok);
  /* Then TxnOffsetCommit, to the group's coordinator; the caller still waits. */
  assert_int_equal(mk_transaction_manager_await(&tm, mk_txn_result_ref(r), 0, &err), MK_ERR__TIMED_OUT);
  struct mk_txn_request *commit = take(MK_TXN_OFFSET_COMMIT, false);
  assert_true(mk_txn_request_needs_coordinator(&tm, commit, &type, &key));
  assert_int_equal(type, MK_COORDINATOR_GROUP);
  assert_string_equal(key, "g");
  struct mk_txn_wire w;
  assert_int_equal(mk_txn_request_build(&tm, commit, 2, &w, &err), 0);  /* no membership: v2 ok */
  const struct mk_txn_offset_commit_request *req = w.body;
  assert_true(mk_str_eq(req->group_id, "g"));
  assert_int_equal(req->topics_count, 1);
  assert_int_equal(req->topics[0].partitions_count, 2);
  mk_txn_wire_free(&w);
  /* Partition 0 accepted, partition 1 not yet (retriable): only partition 1 is sent again. */
  struct mk_txn_offset_commit_response_partition parts[2] = {
      {0, 0}, {1, MK_ERR_COORDINATOR_LOAD_IN_PROGRESS}};
  struct mk_txn_offset_commit_response_topic topic = {mk_str_of("in"), parts, 2};
  struct mk_txn_offset_commit_response resp = {0, &topic, 1};
  answer(3, &resp);
  struct mk_txn_request *again = take(MK_TXN_OFFSET_COMMIT, false);
  assert_int_equal(mk_txn_request_build(&tm, again, 3, &w, &err), 0);
  req = w.body;
  assert_int_equal(req->topics[0].partitions_count, 1);
  assert_int_equal(req->topics[0].partitions[0].partition_index, 1);
  assert_true(mk_str_eq(req->topics[0].partitions[0].committed_metadata, "m"));
  mk_txn_wire_free(&w);
  parts[0] = (struct mk_txn_offset_commit_response_partition){1, 0};
  topic.partitions_count = 1;
  answer(3, &resp);
  assert_int_equal(wait_result(r, &err), 0);
  /* Offsets alone make the transaction real: the commit sends EndTxn. */
  struct mk_txn_result *c;
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &c, &err), 0);
  take(MK_TXN_END_TXN, false);
  answer_end_txn(0);
  assert_int_equal(wait_result(c, &err), 0);
}

static void test_offsets_of_a_member_no_longer_in_the_group_make_the_transaction_abortable(void **state) {
  (void)state;
  initialize();
  begin();
  struct mk_offset_to_commit offsets[1] = {{"in", 0, 42, 3, NULL}};
  struct mk_consumer_group_metadata group = probe_group_metadata("g", 5, "member-1");
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_send_offsets(&tm, offsets, 1, &group, &r, &err), 0);
  take(MK_TXN_ADD_OFFSETS, false);
  struct mk_add_offsets_to_txn_response ok = {0, 0};
  answer(3, &ok);
  struct mk_txn_request *commit = take(MK_TXN_OFFSET_COMMIT, false);
  /* Membership needs TxnOffsetCommit v3 (Kafka 2.5): a v2 broker cannot check it. */
  struct mk_txn_wire w;
  assert_int_equal(mk_txn_request_build(&tm, commit, 2, &w, &err), MK_ERR_UNSUPPORTED_VERSION);
  assert_int_equal(mk_txn_request_build(&tm, commit, 3, &w, &err), 0);
  const struct mk_txn_offset_commit_request *req = w.body;
  assert_int_equal(req->generation_id, 5);
  assert_true(mk_str_eq(req->member_id, "member-1"));
  assert_int_equal(req->topics[0].partitions[0].committed_leader_epoch, 3);
  mk_txn_wire_free(&w);
  struct mk_txn_offset_commit_response_partition part = {0, MK_ERR_ILLEGAL_GENERATION};
  struct mk_txn_offset_commit_response_topic topic = {mk_str_of("in"), &part, 1};
  struct mk_txn_offset_commit_response resp = {0, &topic, 1};
  answer(3, &resp);
  assert_int_equal(wait_result(r, &err), MK_ERR_ILLEGAL_GENERATION);
  assert_non_null(strstr(err.msg, "consumer group metadata mismatch"));
  assert_int_equal(mk_transaction_manager_state(&tm), S(ABORTABLE_ERROR));
}

/* ---- misuse and waiting ----------------------------------------------------------------------- */

static void test_calls_out_of_order_are_refused_and_change_nothing(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_txn_result *r;
  assert_int_equal(mk_transaction_manager_begin(&tm, &err), MK_ERR__STATE);
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "initTransactions"));
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), MK_ERR__STATE);
  assert_int_equal(mk_transaction_manager_state(&tm), S(UNINITIALIZED));
  initialize();
  assert_int_equal(mk_transaction_manager_initialize(&tm, &r, &err), MK_ERR__STATE);  /* twice */
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "READY"));
  struct mk_offset_to_commit o = {"in", 0, 1, -1, NULL};
  struct mk_consumer_group_metadata g = probe_group_metadata("g", -1, "");
  assert_int_equal(mk_transaction_manager_send_offsets(&tm, &o, 1, &g, &r, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "not in progress"));
  assert_int_equal(mk_transaction_manager_begin_abort(&tm, &r, &err), MK_ERR__STATE);
  begin();
  assert_int_equal(mk_transaction_manager_begin(&tm, &err), MK_ERR__STATE);  /* twice */
  assert_int_equal(mk_transaction_manager_state(&tm), S(IN_TRANSACTION));
  /* No txn_state event for a refused call. */
  assert_trace_path("UNINITIALIZED>INITIALIZING>READY>IN_TRANSACTION");
}

static void test_a_timed_out_commit_must_be_retried_before_anything_else(void **state) {
  (void)state;
  initialize();
  begin();
  add_partition("t", 0);
  struct mk_txn_result *r, *again;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), 0);
  assert_int_equal(mk_transaction_manager_await(&tm, r, 5, &err), MK_ERR__TIMED_OUT);
  assert_non_null(strstr(err.msg, "while awaiting EndTxn(commit)"));
  assert_int_equal(mk_transaction_manager_begin_abort(&tm, &again, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "previous call to `commitTransaction` timed out"));
  assert_int_equal(mk_transaction_manager_begin(&tm, &err), MK_ERR__STATE);
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &again, &err), 0);  /* the same */
  take(MK_TXN_END_TXN, false);
  answer_end_txn(0);
  assert_int_equal(wait_result(again, &err), 0);
  begin();  /* seen to finish: the next call goes ahead */
}

static void test_transactional_calls_need_a_transactional_id(void **state) {
  (void)state;
  mk_transaction_manager_destroy(&tm);
  mk_transaction_manager_init(&tm, true, NULL, 60000, 100, "p");
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_initialize(&tm, &r, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "transactional.id"));
  assert_int_equal(mk_transaction_manager_check_send(&tm, &err), 0);  /* idempotent sends go */
  assert_true(mk_transaction_manager_may_send(&tm, "t", 0));
  assert_int_equal(mk_transaction_manager_maybe_add_partition(&tm, "t", 0, &err), 0);
  assert_null(mk_transaction_manager_next_request(&tm, false));
}

static void test_closing_fails_what_waits(void **state) {
  (void)state;
  initialize();
  begin();
  add_partition("t", 0);
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), 0);
  mk_transaction_manager_close(&tm);
  assert_int_equal(wait_result(r, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "closed forcefully"));
  assert_int_equal(mk_transaction_manager_state(&tm), S(FATAL_ERROR));
}

static void test_find_coordinator_v4_answers_and_refusals(void **state) {
  (void)state;
  struct mk_txn_result *r;
  struct mk_err err = {0};
  assert_int_equal(mk_transaction_manager_initialize(&tm, &r, &err), 0);
  mk_transaction_manager_release(&tm, r);
  mk_transaction_manager_lookup_coordinator(&tm, MK_COORDINATOR_TRANSACTION, "txn-1");
  mk_transaction_manager_lookup_coordinator(&tm, MK_COORDINATOR_TRANSACTION, "txn-1");  /* once */
  struct mk_txn_request *find = take(MK_TXN_FIND_COORDINATOR, false);
  struct mk_txn_wire w;
  assert_int_equal(mk_txn_request_build(&tm, find, 4, &w, &err), 0);
  const struct mk_find_coordinator_request *req = w.body;
  assert_int_equal(req->key_type, 1);
  assert_int_equal(req->coordinator_keys_count, 1);
  assert_true(mk_str_eq(req->coordinator_keys[0], "txn-1"));
  mk_txn_wire_free(&w);
  assert_int_equal(mk_txn_request_build(&tm, find, 0, &w, &err), MK_ERR_UNSUPPORTED_VERSION);
  struct mk_find_coordinator_coordinator cs[1] = {{mk_str_of("txn-1"), 3, mk_str_of("h"), 9, 0, MK_STR_NULL}};
  struct mk_find_coordinator_response resp;
  mk_schema_set_defaults(&mk_find_coordinator_response_schema, &resp);
  resp.coordinators = cs;
  resp.coordinators_count = 1;
  answer(4, &resp);
  struct mk_coordinator_node c;
  assert_true(mk_transaction_manager_coordinator(&tm, MK_COORDINATOR_TRANSACTION, &c));
  assert_int_equal(c.id, 3);
  assert_string_equal(c.host, "h");
  /* A lost connection to it: looked up again, lazily. */
  mk_transaction_manager_forget_coordinator(&tm, 3);
  assert_false(mk_transaction_manager_coordinator(&tm, MK_COORDINATOR_TRANSACTION, &c));
  /* A coordinator the broker will not name (retriable) is asked for again. */
  mk_transaction_manager_lookup_coordinator(&tm, MK_COORDINATOR_TRANSACTION, "txn-1");
  take(MK_TXN_FIND_COORDINATOR, false);
  cs[0].error_code = MK_ERR_COORDINATOR_NOT_AVAILABLE;
  answer(4, &resp);
  struct mk_txn_request *next = mk_transaction_manager_next_request(&tm, false);
  assert_int_equal(next->kind, MK_TXN_FIND_COORDINATOR);
  assert_true(next->is_retry);
  mk_transaction_manager_sent(&tm, next);
  resp.coordinators_count = 0;  /* malformed: no coordinator at all */
  answer(4, &resp);
  assert_int_equal(mk_transaction_manager_state(&tm), S(FATAL_ERROR));
}

static void test_a_lost_connection_retries_after_finding_the_coordinator_again(void **state) {
  (void)state;
  initialize();
  begin();
  add_partition("t", 0);
  struct mk_txn_result *r;
  struct mk_err err = {0}, lost;
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), 0);
  take(MK_TXN_END_TXN, false);
  mk_err_set(&lost, MK_ERR_NETWORK_EXCEPTION, "disconnected");
  mk_transaction_manager_complete_request(&tm, 2, 3, NULL, MK_ERR_NETWORK_EXCEPTION, &lost);
  assert_int_equal(mk_transaction_manager_state(&tm), S(COMMITTING_TRANSACTION));
  answer_find_coordinator(0, 1);
  struct mk_txn_request *end = take(MK_TXN_END_TXN, false);
  assert_true(end->is_retry);
  answer_end_txn(0);
  assert_int_equal(wait_result(r, &err), 0);
  /* A response that does not decode is fatal, as Java's unknown failure. */
  begin();
  add_partition("t", 0);
  assert_int_equal(mk_transaction_manager_begin_commit(&tm, &r, &err), 0);
  take(MK_TXN_END_TXN, false);
  mk_err_set(&lost, MK_ERR__DECODE, "truncated");
  mk_transaction_manager_complete_request(&tm, 2, 3, NULL, MK_ERR__DECODE, &lost);
  assert_int_equal(wait_result(r, &err), MK_ERR__DECODE);
  assert_int_equal(mk_transaction_manager_state(&tm), S(FATAL_ERROR));
}

/* ---- idempotence: what an OUT_OF_ORDER_SEQUENCE_NUMBER means -------------------------------- */

/* OUT_OF_ORDER_SEQUENCE_NUMBER for a retried batch the broker has acknowledged past (a
 * later batch of its partition succeeded while its own answer was lost): it was written, so
 * it succeeds with an unknown offset; before, it failed and a new producer id made the
 * retries of the batches after it write them twice (found by tests/interop/test_chaos.py).
 * The other verdicts stay: a gap waits, the next expected batch is beyond repair. An
 * idempotent producer of its own (no transactional id), not the tests' shared one. */
static void test_out_of_order_for_a_batch_acknowledged_past_means_it_was_written(void **state) {
  (void)state;
  struct mk_transaction_manager idem;
  assert_int_equal(mk_transaction_manager_init(&idem, true, NULL, 60000, 100, "producer-1"), 0);
  idem.producer_id = 1000;
  idem.producer_epoch = 0;
  idem.need_producer_id = false;
  struct mk_partition_state ps = {.topic = "t", .partition = 2, .last_acked_sequence = 296};
  struct mk_producer_batch b;
  memset(&b, 0, sizeof b);
  b.topic = "t";
  b.partition = 2;
  b.record_count = 1;
  b.base_sequence = 194;
  b.attempts = 2;  /* a retry: its first answer was lost */
  int16_t ooo = MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
  assert_int_equal(mk_transaction_manager_sequence_error(&idem, &ps, &b, ooo), MK_SEQUENCE_WRITTEN);
  assert_false(idem.need_producer_id);
  b.base_sequence = 300;   /* 297 and on not written yet: wait for them */
  assert_int_equal(mk_transaction_manager_sequence_error(&idem, &ps, &b, ooo), MK_SEQUENCE_RETRY);
  b.base_sequence = 297;   /* the very next one refused: the broker lost track */
  assert_int_equal(mk_transaction_manager_sequence_error(&idem, &ps, &b, ooo), MK_SEQUENCE_RESET);
  assert_true(idem.need_producer_id);
  mk_transaction_manager_destroy(&idem);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_transition_table_is_javas),
      T(test_forbidden_moves_refused_from_the_app_and_fatal_from_the_sender),
      T(test_commit_adds_partitions_then_ends_once_batches_are_done),
      T(test_a_transaction_with_nothing_in_it_ends_without_end_txn),
      T(test_abort_fails_unsent_batches_and_ends_with_abort),
      T(test_a_failed_send_makes_the_transaction_abortable_and_abort_bumps_the_epoch),
      T(test_without_epoch_bumps_abort_goes_straight_to_ready),
      T(test_fenced_and_the_like_are_fatal),
      T(test_end_txn_answers),
      T(test_add_partitions_answers),
      T(test_init_producer_id_answers),
      T(test_send_offsets_goes_to_both_coordinators_and_retries_what_failed),
      T(test_offsets_of_a_member_no_longer_in_the_group_make_the_transaction_abortable),
      T(test_calls_out_of_order_are_refused_and_change_nothing),
      T(test_a_timed_out_commit_must_be_retried_before_anything_else),
      T(test_transactional_calls_need_a_transactional_id),
      T(test_closing_fails_what_waits),
      T(test_find_coordinator_v4_answers_and_refusals),
      T(test_a_lost_connection_retries_after_finding_the_coordinator_again),
      cmocka_unit_test(test_out_of_order_for_a_batch_acknowledged_past_means_it_was_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
