/*
 * Tests for broker/transaction_metadata.c: the transaction state machine on its own — every
 * edge of the state table (transaction_metadata.h) and every edge that is not there, the
 * prepare/complete pairs with their checks (epochs, KIP-360's expected epoch, rotation,
 * partition sets), and the record round trip through TransactionLogValue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/transaction_metadata.h"
#include "protocol/coordinator_records.h"

enum { T0 = 1000000 };

static struct mk_txn_metadata *fresh(void) {
  struct mk_txn_metadata *m = mk_txn_metadata_new(mk_str_of("tx"), 3, 1000, 60000, T0);
  assert_non_null(m);
  return m;
}

/* Prepare with fn's result, then complete it (as a committed append does). */
#define APPLY(m, call)                                             \
  do {                                                             \
    struct mk_txn_transit t_;                                      \
    struct mk_err e_ = {0};                                        \
    assert_int_equal(call, 0);                                     \
    assert_int_equal(mk_txn_complete_transition(m, &t_, &e_), 0); \
    mk_txn_transit_free(&t_);                                      \
  } while (0)

static struct mk_txn_partitions parts(const char *topic, int n) {
  struct mk_txn_partitions s = {0};
  for (int i = 0; i < n; i++) assert_int_equal(mk_txn_partitions_add(&s, mk_str_of(topic), i), 0);
  return s;
}

/* ---- the state table ---------------------------------------------------------------------- */

static void test_state_table_is_kafkas(void **state) {
  (void)state;
  /* Kafka's validPreviousStates, written out: to <- from. */
  static const struct { int to; int from[4]; int n; } table[] = {
      {MK_TXN_EMPTY, {MK_TXN_EMPTY, MK_TXN_COMPLETE_COMMIT, MK_TXN_COMPLETE_ABORT}, 3},
      {MK_TXN_ONGOING, {MK_TXN_ONGOING, MK_TXN_EMPTY, MK_TXN_COMPLETE_COMMIT, MK_TXN_COMPLETE_ABORT}, 4},
      {MK_TXN_PREPARE_COMMIT, {MK_TXN_ONGOING}, 1},
      {MK_TXN_PREPARE_ABORT, {MK_TXN_ONGOING, MK_TXN_PREPARE_EPOCH_FENCE}, 2},
      {MK_TXN_COMPLETE_COMMIT, {MK_TXN_PREPARE_COMMIT}, 1},
      {MK_TXN_COMPLETE_ABORT, {MK_TXN_PREPARE_ABORT}, 1},
      {MK_TXN_DEAD, {MK_TXN_EMPTY, MK_TXN_COMPLETE_COMMIT, MK_TXN_COMPLETE_ABORT}, 3},
      {MK_TXN_PREPARE_EPOCH_FENCE, {MK_TXN_ONGOING}, 1},
  };
  int allowed = 0;
  for (int from = 0; from <= MK_TXN_PREPARE_EPOCH_FENCE; from++) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
      bool expect = false;
      for (int k = 0; k < table[i].n; k++) expect |= table[i].from[k] == from;
      if (mk_txn_valid_transition(from, table[i].to) != expect)
        fail_msg("%s -> %s: expected %s", mk_txn_state_name(from),
                 mk_txn_state_name(table[i].to), expect ? "allowed" : "refused");
      allowed += expect;
    }
  }
  assert_int_equal(allowed, 16);
  assert_false(mk_txn_valid_transition(-1, MK_TXN_EMPTY));
  assert_false(mk_txn_valid_transition(MK_TXN_EMPTY, 8));
  assert_string_equal(mk_txn_state_name(MK_TXN_PREPARE_EPOCH_FENCE), "PrepareEpochFence");
  assert_string_equal(mk_txn_state_name(42), "Unknown");
}

/* ---- a transaction's whole life ---------------------------------------------------------------- */

static void test_commit_cycle_moves_through_every_state(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  assert_int_equal(m->state, MK_TXN_EMPTY);
  assert_int_equal(m->producer_epoch, -1);
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  assert_int_equal(m->producer_epoch, 0);
  struct mk_txn_partitions two = parts("t", 2);
  APPLY(m, mk_txn_prepare_add_partitions(m, &two, T0 + 10, &t_, &e_));
  assert_int_equal(m->state, MK_TXN_ONGOING);
  assert_int_equal(m->start_ms, T0 + 10);
  assert_int_equal(m->partitions.count, 2);
  /* More partitions keep the start time. */
  struct mk_txn_partitions more = parts("u", 1);
  APPLY(m, mk_txn_prepare_add_partitions(m, &more, T0 + 20, &t_, &e_));
  assert_int_equal(m->start_ms, T0 + 10);
  assert_int_equal(m->partitions.count, 3);
  assert_true(mk_txn_partitions_contains(&m->partitions, mk_str_of("u"), 0));
  APPLY(m, mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_COMMIT, T0 + 30, &t_, &e_));
  assert_int_equal(m->state, MK_TXN_PREPARE_COMMIT);
  assert_int_equal(m->partitions.count, 3);  /* kept until the markers are written */
  APPLY(m, mk_txn_prepare_complete(m, T0 + 40, &t_, &e_));
  assert_int_equal(m->state, MK_TXN_COMPLETE_COMMIT);
  assert_int_equal(m->partitions.count, 0);
  assert_int_equal(m->update_ms, T0 + 40);
  /* The next transaction starts from CompleteCommit, with a new start time. */
  APPLY(m, mk_txn_prepare_add_partitions(m, &more, T0 + 50, &t_, &e_));
  assert_int_equal(m->start_ms, T0 + 50);
  APPLY(m, mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_ABORT, T0 + 60, &t_, &e_));
  APPLY(m, mk_txn_prepare_complete(m, T0 + 70, &t_, &e_));
  assert_int_equal(m->state, MK_TXN_COMPLETE_ABORT);
  assert_int_equal(m->producer_epoch, 0);  /* transactions v1: commits and aborts keep it */
  mk_txn_partitions_free(&two);
  mk_txn_partitions_free(&more);
  mk_txn_metadata_free(m);
}

static void test_a_pending_change_blocks_the_next_one(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  struct mk_txn_transit t, t2;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t, &err), 0);
  assert_int_equal(m->pending, MK_TXN_EMPTY);
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t2, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "already being written"));
  /* A failed append forgets the change: nothing moved. */
  mk_txn_abort_pending(m);
  assert_int_equal(m->producer_epoch, -1);
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t2, &err), 0);
  mk_txn_transit_free(&t);
  mk_txn_transit_free(&t2);
  mk_txn_metadata_free(m);
}

static void test_illegal_moves_are_refused(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  struct mk_txn_transit t;
  struct mk_err err = {0};
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  /* Empty: no end, no completion, no fence. */
  assert_int_equal(mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_COMMIT, T0, &t, &err), MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_complete(m, T0, &t, &err), MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_fence_epoch(m, &t, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "cannot follow Empty"));
  /* Ongoing: no InitProducerId transition, no Dead. */
  struct mk_txn_partitions one = parts("t", 1);
  APPLY(m, mk_txn_prepare_add_partitions(m, &one, T0, &t_, &e_));
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t, &err), MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_dead(m, &t, &err), MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_producer_id_rotation(m, 2000, 60000, T0, false, &t, &err),
                   MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_abort_or_commit(m, MK_TXN_ONGOING, T0, &t, &err), MK_ERR__STATE);
  /* PrepareCommit: no more partitions, no abort. */
  APPLY(m, mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_COMMIT, T0, &t_, &e_));
  assert_int_equal(mk_txn_prepare_add_partitions(m, &one, T0, &t, &err), MK_ERR__STATE);
  assert_int_equal(mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_ABORT, T0, &t, &err), MK_ERR__STATE);
  assert_int_equal(m->pending, MK_TXN_NO_PENDING);  /* a refused prepare leaves nothing */
  mk_txn_partitions_free(&one);
  mk_txn_metadata_free(m);
}

static void test_complete_checks_what_was_written(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  struct mk_txn_partitions one = parts("t", 1);
  struct mk_txn_transit t;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_add_partitions(m, &one, T0, &t, &err), 0);
  /* Another producer's epoch in the record: refused, nothing changes. */
  t.producer_epoch = 7;
  assert_int_equal(mk_txn_complete_transition(m, &t, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "Empty to Ongoing"));
  assert_int_equal(m->state, MK_TXN_EMPTY);
  assert_int_equal(m->pending, MK_TXN_NO_PENDING);
  /* A state that was not the pending one. */
  t.producer_epoch = 0;
  t.state = MK_TXN_PREPARE_COMMIT;
  struct mk_txn_transit u;
  assert_int_equal(mk_txn_prepare_add_partitions(m, &one, T0, &u, &err), 0);
  assert_int_equal(mk_txn_complete_transition(m, &t, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "not the one pending"));
  mk_txn_transit_free(&t);
  mk_txn_transit_free(&u);
  mk_txn_partitions_free(&one);
  mk_txn_metadata_free(m);
}

/* ---- epochs ------------------------------------------------------------------------------------- */

static void test_init_bumps_the_epoch_and_forgets_the_last(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  APPLY(m, mk_txn_prepare_increment_epoch(m, 30000, false, 0, T0, &t_, &e_));
  assert_int_equal(m->producer_epoch, 1);
  assert_int_equal(m->last_producer_epoch, -1);
  assert_int_equal(m->timeout_ms, 30000);  /* InitProducerId's timeout is the one kept */
  mk_txn_metadata_free(m);
}

/* KIP-360: a producer that sends its current epoch gets the next one (and the coordinator
 * remembers the one before); a retry of that call (the answer was lost) sends the last epoch
 * and gets the current one again; any other epoch is fenced. */
static void test_expected_epoch_kip_360(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  struct mk_txn_transit t;
  struct mk_err err = {0};
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));  /* epoch 0 */
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, true, 0, T0, &t_, &e_));
  assert_int_equal(m->producer_epoch, 1);
  assert_int_equal(m->last_producer_epoch, 0);
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, true, 0, T0, &t, &err), 0);
  assert_int_equal(t.producer_epoch, 1);  /* the retry: not bumped again */
  assert_int_equal(t.last_producer_epoch, 0);
  assert_int_equal(mk_txn_complete_transition(m, &t, &err), 0);
  mk_txn_transit_free(&t);
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, true, 5, T0, &t, &err),
                   MK_ERR_PRODUCER_FENCED);
  assert_int_equal(m->pending, MK_TXN_NO_PENDING);
  mk_txn_metadata_free(m);
}

static void test_exhausted_epoch_rotates_the_producer_id(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  m->producer_epoch = INT16_MAX - 1;  /* as if it had been bumped that often */
  assert_true(mk_txn_epoch_exhausted(m->producer_epoch));
  assert_false(mk_txn_epoch_exhausted(INT16_MAX - 2));
  struct mk_txn_transit t;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t, &err), MK_ERR__STATE);
  APPLY(m, mk_txn_prepare_producer_id_rotation(m, 2000, 60000, T0, true, &t_, &e_));
  assert_int_equal(m->producer_id, 2000);
  assert_int_equal(m->producer_epoch, 0);
  assert_int_equal(m->previous_producer_id, 1000);
  assert_int_equal(m->last_producer_epoch, INT16_MAX - 1);
  mk_txn_metadata_free(m);
}

/* A fence bumps the epoch once; a fence whose abort was never written reuses that epoch. */
static void test_fence_bumps_once(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  struct mk_txn_partitions one = parts("t", 1);
  APPLY(m, mk_txn_prepare_add_partitions(m, &one, T0, &t_, &e_));
  struct mk_txn_transit fence;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_fence_epoch(m, &fence, &err), 0);
  assert_int_equal(fence.state, MK_TXN_PREPARE_EPOCH_FENCE);
  assert_int_equal(fence.producer_epoch, 1);
  assert_int_equal(m->pending, MK_TXN_PREPARE_EPOCH_FENCE);
  /* PrepareEpochFence itself never completes: it is never written. */
  assert_int_equal(mk_txn_complete_transition(m, &fence, &err), MK_ERR__STATE);
  mk_txn_transit_free(&fence);
  /* The abort that follows carries the new epoch. */
  assert_int_equal(mk_txn_prepare_fence_epoch(m, &fence, &err), 0);
  mk_txn_take_fenced_epoch(m, fence.producer_epoch);
  mk_txn_transit_free(&fence);
  assert_int_equal(m->producer_epoch, 1);
  struct mk_txn_transit abort;
  assert_int_equal(mk_txn_prepare_abort_or_commit(m, MK_TXN_PREPARE_ABORT, T0, &abort, &err), 0);
  assert_int_equal(abort.producer_epoch, 1);
  mk_txn_abort_pending(m);  /* its append failed */
  mk_txn_transit_free(&abort);
  m->failed_epoch_fence = true;
  assert_int_equal(mk_txn_prepare_fence_epoch(m, &fence, &err), 0);
  assert_int_equal(fence.producer_epoch, 1);  /* not 2: epoch 1 was never handed out */
  mk_txn_transit_free(&fence);
  mk_txn_partitions_free(&one);
  mk_txn_metadata_free(m);
}

static void test_dead_only_when_idle(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 60000, false, 0, T0, &t_, &e_));
  struct mk_txn_transit t;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_dead(m, &t, &err), 0);
  assert_int_equal(t.state, MK_TXN_DEAD);
  /* Dead is written as a tombstone and removes the id: it never completes in place. */
  assert_int_equal(mk_txn_complete_transition(m, &t, &err), MK_ERR__STATE);
  mk_txn_transit_free(&t);
  mk_txn_metadata_free(m);
}

/* ---- partition sets --------------------------------------------------------------------------- */

static void test_partition_set_is_sorted_and_unique(void **state) {
  (void)state;
  struct mk_txn_partitions s = {0};
  const char *topics[] = {"b", "a", "b", "ab", "a"};
  int32_t ps[] = {1, 2, 1, 0, 0};
  for (int i = 0; i < 5; i++) assert_int_equal(mk_txn_partitions_add(&s, mk_str_of(topics[i]), ps[i]), 0);
  assert_int_equal(s.count, 4);
  assert_string_equal(s.v[0].topic, "a");
  assert_int_equal(s.v[0].partition, 0);
  assert_string_equal(s.v[1].topic, "a");
  assert_int_equal(s.v[1].partition, 2);
  assert_string_equal(s.v[2].topic, "ab");
  assert_string_equal(s.v[3].topic, "b");
  mk_txn_partitions_remove(&s, mk_str_of("a"), 2);
  mk_txn_partitions_remove(&s, mk_str_of("zz"), 9);  /* not there: nothing */
  assert_int_equal(s.count, 3);
  assert_false(mk_txn_partitions_contains(&s, mk_str_of("a"), 2));
  struct mk_txn_partitions copy;
  assert_int_equal(mk_txn_partitions_copy(&copy, &s), 0);
  assert_int_equal(copy.count, 3);
  assert_true(copy.v[0].topic != s.v[0].topic);
  mk_txn_partitions_free(&copy);
  mk_txn_partitions_free(&s);
}

/* ---- records ------------------------------------------------------------------------------------ */

static void test_record_round_trip(void **state) {
  (void)state;
  struct mk_txn_metadata *m = fresh();
  APPLY(m, mk_txn_prepare_increment_epoch(m, 45000, false, 0, T0, &t_, &e_));
  struct mk_txn_partitions p = {0};
  assert_int_equal(mk_txn_partitions_add(&p, mk_str_of("b"), 1), 0);
  assert_int_equal(mk_txn_partitions_add(&p, mk_str_of("a"), 3), 0);
  assert_int_equal(mk_txn_partitions_add(&p, mk_str_of("b"), 0), 0);
  struct mk_txn_transit t;
  struct mk_err err = {0};
  assert_int_equal(mk_txn_prepare_add_partitions(m, &p, T0 + 5, &t, &err), 0);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_coordinator_record rec;
  assert_int_equal(mk_txn_transit_record(&t, mk_str_of("tx"), &rec, &arena), 0);
  assert_int_equal(rec.value.transaction_log.transaction_partitions_count, 2);  /* by topic */
  struct mk_writer k, v;
  mk_writer_init(&k);
  mk_writer_init(&v);
  assert_int_equal(mk_coordinator_record_encode(&rec, &k, &v, &err), 0);
  struct mk_coordinator_record back;
  assert_int_equal(mk_coordinator_record_decode(MK_TRANSACTION_STATE, (struct mk_bytes){k.buf, (int32_t)k.len},
                                                (struct mk_bytes){v.buf, (int32_t)v.len}, &back,
                                                &arena, &err), 0);
  struct mk_txn_metadata *loaded;
  assert_int_equal(mk_txn_metadata_from_record(back.key.transaction_log.transactional_id, 3,
                                               &back.value.transaction_log, &loaded, &err), 0);
  assert_string_equal(loaded->transactional_id, "tx");
  assert_int_equal(loaded->state, MK_TXN_ONGOING);
  assert_int_equal(loaded->producer_id, 1000);
  assert_int_equal(loaded->producer_epoch, 0);
  assert_int_equal(loaded->timeout_ms, 45000);
  assert_int_equal(loaded->start_ms, T0 + 5);
  assert_int_equal(loaded->last_producer_epoch, -1);  /* not stored (v0), as in Kafka */
  assert_int_equal(loaded->partitions.count, 3);
  assert_true(mk_txn_partitions_contains(&loaded->partitions, mk_str_of("b"), 0));
  /* Empty is written with null partitions; Dead is a tombstone. */
  struct mk_txn_transit dead = t;
  dead.state = MK_TXN_DEAD;
  assert_int_equal(mk_txn_transit_record(&dead, mk_str_of("tx"), &rec, &arena), 0);
  assert_true(rec.tombstone);
  struct mk_txn_transit empty = t;
  empty.state = MK_TXN_EMPTY;
  assert_int_equal(mk_txn_transit_record(&empty, mk_str_of("tx"), &rec, &arena), 0);
  assert_int_equal(rec.value.transaction_log.transaction_partitions_count, -1);
  /* A state id Kafka does not have. */
  back.value.transaction_log.transaction_status = 9;
  struct mk_txn_metadata *bad = NULL;
  assert_int_equal(mk_txn_metadata_from_record(mk_str_of("tx"), 3, &back.value.transaction_log,
                                               &bad, &err), MK_ERR__DECODE);
  assert_null(bad);
  mk_txn_metadata_free(loaded);
  mk_writer_free(&k);
  mk_writer_free(&v);
  mk_arena_free(&arena);
  mk_txn_transit_free(&t);
  mk_txn_partitions_free(&p);
  mk_txn_metadata_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_table_is_kafkas),
      cmocka_unit_test(test_commit_cycle_moves_through_every_state),
      cmocka_unit_test(test_a_pending_change_blocks_the_next_one),
      cmocka_unit_test(test_illegal_moves_are_refused),
      cmocka_unit_test(test_complete_checks_what_was_written),
      cmocka_unit_test(test_init_bumps_the_epoch_and_forgets_the_last),
      cmocka_unit_test(test_expected_epoch_kip_360),
      cmocka_unit_test(test_exhausted_epoch_rotates_the_producer_id),
      cmocka_unit_test(test_fence_bumps_once),
      cmocka_unit_test(test_dead_only_when_idle),
      cmocka_unit_test(test_partition_set_is_sorted_and_unique),
      cmocka_unit_test(test_record_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
