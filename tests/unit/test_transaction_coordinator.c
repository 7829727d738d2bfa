/*
 * Tests for broker/transaction_coordinator.c (with transaction_state_manager.c and
 * transaction_marker_channel.c): Kafka's transaction protocol driven without sockets. The
 * test is the coordinator's whole world: its clock (moved by hand), its producer ids, its
 * writer of __transaction_state records (kept, acknowledged when the test says so) and its
 * marker writer (each marker kept, answered when the test says so).
 *
 * One test per path of the state machine and per error of each API; then what needs time
 * (timeouts, expiry, retries, the hold), and loading: the records one coordinator wrote, read
 * back by another, which finishes the second phase its predecessor left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/transaction_coordinator.h"
#include "tests/support/coordinator_log.h"

/* ---- the coordinator's world ---------------------------------------------------------------- */

enum { NPARTS = 4, BROKER = 1, EPOCH = 5, MAX = 512 };

struct marker {           /* one marker write */
  char topic[64];
  int32_t partition;
  int64_t producer_id;
  int16_t epoch;
  int32_t coordinator_epoch;
  bool commit;
  mk_txn_done *done;
  void *arg;
};

static struct {
  int64_t now;
  int64_t next_pid;
  struct stored writes[MAX];
  int nwrites;
  struct { mk_txn_done *done; void *arg; } pending[MAX];
  int npending;
  int16_t fail_append;     /* answer appends with this at once */
  struct marker markers[MAX];
  int nmarkers;            /* markers waiting for an answer */
  int markers_sent;        /* every marker ever written */
  char deleted_topic[64];  /* write_marker answers UNKNOWN_TOPIC_OR_PARTITION for it */
  int16_t fail_marker;     /* write_marker answers this at once */
} world;

static int64_t fake_now(void *ctx) {
  (void)ctx;
  return world.now;
}

static int64_t fake_pid(void *ctx) {
  (void)ctx;
  return world.next_pid++;
}

static int16_t fake_append(void *ctx, int32_t partition, const struct mk_coordinator_record *recs,
                           int n, mk_txn_done *done, void *arg) {
  (void)ctx;
  if (world.fail_append) return world.fail_append;
  coordinator_log_append(world.writes, &world.nwrites, MAX, partition, recs, n);
  assert_true(world.npending < MAX);
  world.pending[world.npending].done = done;
  world.pending[world.npending++].arg = arg;
  return 0;
}

static int16_t fake_marker(void *ctx, struct mk_str topic, int32_t partition, int64_t pid,
                           int16_t epoch, int32_t coordinator_epoch, bool commit, mk_txn_done *done,
                           void *arg) {
  (void)ctx;
  if (mk_str_eq(topic, world.deleted_topic)) return MK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
  if (world.fail_marker) return world.fail_marker;
  assert_true(world.nmarkers < MAX);
  struct marker *m = &world.markers[world.nmarkers++];
  snprintf(m->topic, sizeof m->topic, "%.*s", topic.len, topic.ptr);
  m->partition = partition;
  m->producer_id = pid;
  m->epoch = epoch;
  m->coordinator_epoch = coordinator_epoch;
  m->commit = commit;
  m->done = done;
  m->arg = arg;
  world.markers_sent++;
  return 0;
}

/* Acknowledge every waiting append, oldest first, with error (0: committed). */
static void ack_appends(int16_t error) {
  while (world.npending) {
    mk_txn_done *done = world.pending[0].done;
    void *arg = world.pending[0].arg;
    memmove(&world.pending[0], &world.pending[1], sizeof world.pending[0] * (size_t)--world.npending);
    done(arg, error);
  }
}

/* Answer every waiting marker with error. */
static void ack_markers(int16_t error) {
  while (world.nmarkers) {
    struct marker m = world.markers[0];
    memmove(&world.markers[0], &world.markers[1], sizeof world.markers[0] * (size_t)--world.nmarkers);
    m.done(m.arg, error);
  }
}

static struct mk_txn_config config;
static struct mk_txn_coordinator coord, *c = &coord;

static void load(struct mk_txn_coordinator *co, int32_t p, int32_t epoch) {
  mk_txn_state_load_begin(&co->mgr, p);
  for (int i = 0; i < world.nwrites; i++)
    if (world.writes[i].partition == p)
      mk_txn_state_load_record(&co->mgr, p, i,
                               (struct mk_bytes){world.writes[i].key, world.writes[i].key_len},
                               (struct mk_bytes){world.writes[i].value, world.writes[i].value_len});
  mk_txn_state_load_end(&co->mgr, p, BROKER, epoch);
  mk_txn_coordinator_loaded(co, p);
}

static void start(struct mk_txn_coordinator *co) {
  struct mk_txn_runtime rt = {NULL, fake_now, fake_pid, fake_append, fake_marker};
  assert_int_equal(mk_txn_coordinator_init(co, &config, &rt), 0);
  for (int32_t p = 0; p < NPARTS; p++) load(co, p, EPOCH);
}

static int setup(void **state) {
  (void)state;
  coordinator_log_clear(world.writes, &world.nwrites);
  memset(&world, 0, sizeof world);
  world.now = 1700000000000;
  world.next_pid = 1000;
  mk_txn_config_init(&config);
  config.num_partitions = NPARTS;
  config.max_timeout_ms = 60000;
  start(c);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ack_markers(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  ack_appends(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  mk_txn_coordinator_free(c);
  return 0;
}

/* ---- calling the APIs ------------------------------------------------------------------------ */

struct answer {
  int calls;
  int16_t error;
  int64_t producer_id;
  int16_t epoch;
};

static void on_answer(void *arg, int16_t error, int64_t producer_id, int16_t epoch) {
  struct answer *a = arg;
  a->calls++;
  a->error = error;
  a->producer_id = producer_id;
  a->epoch = epoch;
}

static void on_error(void *arg, int16_t error) { on_answer(arg, error, -1, -1); }

/* Answers arrive after the call returns, so they live here, not on a caller's stack. */
static struct answer answers[256];
static int nanswers;

static struct answer *answer_slot(void) {
  struct answer *a = &answers[nanswers++ % 256];
  memset(a, 0, sizeof *a);
  return a;
}

static struct answer *init_pid(const char *id, int32_t timeout) {
  struct answer *a = answer_slot();
  mk_txn_init_producer_id(c, BROKER, mk_str_of(id), timeout, false, -1, -1, on_answer, a);
  return a;
}

/* InitProducerId answered after its record is acknowledged. */
static struct answer init_acked(const char *id) {
  struct answer *a = init_pid(id, 30000);
  ack_appends(0);
  assert_int_equal(a->calls, 1);
  return *a;
}

static struct answer *add(const char *id, int64_t pid, int16_t epoch, const char *topic, int n) {
  struct mk_txn_partitions set = {0};
  for (int i = 0; i < n; i++) assert_int_equal(mk_txn_partitions_add(&set, mk_str_of(topic), i), 0);
  struct answer *a = answer_slot();
  mk_txn_add_partitions(c, BROKER, mk_str_of(id), pid, epoch, &set, on_error, a);
  mk_txn_partitions_free(&set);
  return a;
}

static struct answer *end(const char *id, int64_t pid, int16_t epoch, bool commit) {
  struct answer *a = answer_slot();
  mk_txn_end_transaction(c, BROKER, mk_str_of(id), pid, epoch, commit, on_answer, a);
  return a;
}

static struct mk_txn_metadata *txn_of(const char *id) {
  struct mk_txn_metadata *m = NULL;
  assert_int_equal(mk_txn_state_get(&c->mgr, BROKER, mk_str_of(id), &m, NULL), 0);
  return m;
}

/* An id with a producer (epoch 0) and an Ongoing transaction on topic t's n partitions. */
static struct answer ongoing(const char *id, int n) {
  struct answer init = init_acked(id);
  struct answer *a = add(id, init.producer_id, init.epoch, "t", n);
  ack_appends(0);
  assert_int_equal(a->calls, 1);
  assert_int_equal(a->error, 0);
  assert_int_equal(txn_of(id)->state, MK_TXN_ONGOING);
  return init;
}

/* ---- InitProducerId --------------------------------------------------------------------------- */

static void test_init_gives_a_new_id_epoch_0_then_bumps(void **state) {
  (void)state;
  struct answer *a = init_pid("tx", 30000);
  assert_int_equal(a->calls, 0);  /* not before its record is committed */
  assert_int_equal(world.nwrites, 1);
  ack_appends(0);
  assert_int_equal(a->calls, 1);
  assert_int_equal(a->error, 0);
  assert_int_equal(a->producer_id, 1000);
  assert_int_equal(a->epoch, 0);
  struct answer b = init_acked("tx");
  assert_int_equal(b.producer_id, 1000);  /* the same id: its producer id stays */
  assert_int_equal(b.epoch, 1);
  assert_int_equal(txn_of("tx")->state, MK_TXN_EMPTY);
  struct answer other = init_acked("another");
  assert_int_equal(other.producer_id, 1001);
}

static void test_init_refuses_bad_timeouts_ids_and_brokers(void **state) {
  (void)state;
  struct answer *a = init_pid("tx", 60001);  /* transaction.max.timeout.ms is 60000 here */
  assert_int_equal(a->error, MK_ERR_INVALID_TRANSACTION_TIMEOUT);
  a = init_pid("tx", 0);
  assert_int_equal(a->error, MK_ERR_INVALID_TRANSACTION_TIMEOUT);
  a = init_pid("", 1000);
  assert_int_equal(a->error, MK_ERR_INVALID_REQUEST);
  assert_int_equal(world.nwrites, 0);
  mk_txn_init_producer_id(c, BROKER + 1, mk_str_of("tx"), 1000, false, -1, -1, on_answer, a);
  assert_int_equal(a->error, MK_ERR_NOT_COORDINATOR);
  /* A partition nobody loaded. */
  mk_txn_coordinator_unload(c, mk_txn_state_partition_for(&c->mgr, mk_str_of("tx")));
  a = init_pid("tx", 1000);
  assert_int_equal(a->error, MK_ERR_NOT_COORDINATOR);
}

static void test_init_with_expected_epoch_kip_360(void **state) {
  (void)state;
  struct answer first = init_acked("tx");
  struct answer a = {0};
  mk_txn_init_producer_id(c, BROKER, mk_str_of("tx"), 30000, true, first.producer_id, 0,
                          on_answer, &a);
  ack_appends(0);
  assert_int_equal(a.error, 0);
  assert_int_equal(a.epoch, 1);
  /* Another producer id than this id's: fenced. */
  mk_txn_init_producer_id(c, BROKER, mk_str_of("tx"), 30000, true, 4242, 1, on_answer, &a);
  assert_int_equal(a.error, MK_ERR_PRODUCER_FENCED);
  /* An epoch that is neither current nor last: fenced. */
  mk_txn_init_producer_id(c, BROKER, mk_str_of("tx"), 30000, true, first.producer_id, 7,
                          on_answer, &a);
  assert_int_equal(a.error, MK_ERR_PRODUCER_FENCED);
}

/* ---- AddPartitionsToTxn ----------------------------------------------------------------------- */

static void test_add_partitions_errors(void **state) {
  (void)state;
  struct answer *a = add("nobody", 1000, 0, "t", 1);
  assert_int_equal(a->error, MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  struct answer init = init_acked("tx");
  a = add("tx", init.producer_id + 1, 0, "t", 1);
  assert_int_equal(a->error, MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  a = add("tx", init.producer_id, 3, "t", 1);
  assert_int_equal(a->error, MK_ERR_PRODUCER_FENCED);
  a = add("", init.producer_id, 0, "t", 1);
  assert_int_equal(a->error, MK_ERR_INVALID_REQUEST);
  /* While an add is being written, another waits. */
  a = add("tx", init.producer_id, 0, "t", 1);
  assert_int_equal(a->calls, 0);
  struct answer *b = add("tx", init.producer_id, 0, "u", 1);
  assert_int_equal(b->error, MK_ERR_CONCURRENT_TRANSACTIONS);
  ack_appends(0);
  assert_int_equal(a->error, 0);
  /* Partitions already in the transaction: answered at once, nothing written. */
  int writes = world.nwrites;
  b = add("tx", init.producer_id, 0, "t", 1);
  assert_int_equal(b->calls, 1);
  assert_int_equal(b->error, 0);
  assert_int_equal(world.nwrites, writes);
}

static void test_failed_append_leaves_the_state_as_it_was(void **state) {
  (void)state;
  struct answer init = init_acked("tx");
  struct answer *a = add("tx", init.producer_id, 0, "t", 1);
  ack_appends(MK_ERR_NOT_ENOUGH_REPLICAS);
  assert_int_equal(a->error, MK_ERR_COORDINATOR_NOT_AVAILABLE);
  assert_int_equal(txn_of("tx")->state, MK_TXN_EMPTY);
  assert_int_equal(txn_of("tx")->pending, MK_TXN_NO_PENDING);
  world.fail_append = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  a = add("tx", init.producer_id, 0, "t", 1);
  assert_int_equal(a->error, MK_ERR_NOT_COORDINATOR);
  world.fail_append = 0;
  a = add("tx", init.producer_id, 0, "t", 1);
  ack_appends(0);
  assert_int_equal(a->error, 0);
}

/* ---- EndTxn: the two phases ---------------------------------------------------------------------- */

static void test_commit_writes_prepare_then_markers_then_complete(void **state) {
  (void)state;
  struct answer init = ongoing("tx", 3);
  struct answer *e = end("tx", init.producer_id, 0, true);
  assert_int_equal(e->calls, 0);
  assert_int_equal(txn_of("tx")->pending, MK_TXN_PREPARE_COMMIT);
  assert_int_equal(world.nmarkers, 0);  /* phase one first */
  ack_appends(0);
  assert_int_equal(e->calls, 1);
  assert_int_equal(e->error, 0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_PREPARE_COMMIT);
  /* Phase two: a COMMIT marker per partition, with the producer's epoch and ours. */
  assert_int_equal(world.nmarkers, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(world.markers[i].topic, "t");
    assert_true(world.markers[i].commit);
    assert_int_equal(world.markers[i].producer_id, init.producer_id);
    assert_int_equal(world.markers[i].epoch, 0);
    assert_int_equal(world.markers[i].coordinator_epoch, EPOCH);
  }
  /* Meanwhile: a retried EndTxn waits, the other outcome is illegal, nothing else starts. */
  assert_int_equal(end("tx", init.producer_id, 0, true)->error, MK_ERR_CONCURRENT_TRANSACTIONS);
  assert_int_equal(end("tx", init.producer_id, 0, false)->error, MK_ERR_INVALID_TXN_STATE);
  assert_int_equal(add("tx", init.producer_id, 0, "u", 1)->error, MK_ERR_CONCURRENT_TRANSACTIONS);
  assert_int_equal(init_pid("tx", 30000)->error, MK_ERR_CONCURRENT_TRANSACTIONS);
  int writes = world.nwrites;
  ack_markers(0);
  assert_int_equal(world.nwrites, writes + 1);  /* CompleteCommit */
  ack_appends(0);
  struct mk_txn_metadata *m = txn_of("tx");
  assert_int_equal(m->state, MK_TXN_COMPLETE_COMMIT);
  assert_int_equal(m->partitions.count, 0);
  assert_false(mk_txn_marker_channel_pending(&c->channel, m));
  /* KIP-890's retry rule: the same EndTxn again is answered as the first; the other not. */
  e = end("tx", init.producer_id, 0, true);
  assert_int_equal(e->error, 0);
  assert_int_equal(e->epoch, 0);
  assert_int_equal(end("tx", init.producer_id, 0, false)->error, MK_ERR_INVALID_TXN_STATE);
  /* And the next transaction starts. */
  assert_int_equal(add("tx", init.producer_id, 0, "t", 1)->calls, 0);
  ack_appends(0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_ONGOING);
}

static void test_abort_mirrors_commit(void **state) {
  (void)state;
  struct answer init = ongoing("tx", 2);
  struct answer *e = end("tx", init.producer_id, 0, false);
  ack_appends(0);
  assert_int_equal(e->error, 0);
  assert_int_equal(world.nmarkers, 2);
  assert_false(world.markers[0].commit);
  ack_markers(0);
  ack_appends(0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_COMPLETE_ABORT);
  assert_int_equal(end("tx", init.producer_id, 0, false)->error, 0);
  assert_int_equal(end("tx", init.producer_id, 0, true)->error, MK_ERR_INVALID_TXN_STATE);
}

static void test_end_txn_errors(void **state) {
  (void)state;
  assert_int_equal(end("nobody", 1000, 0, true)->error, MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  struct answer init = init_acked("tx");
  /* Nothing to end: Empty. */
  assert_int_equal(end("tx", init.producer_id, 0, true)->error, MK_ERR_INVALID_TXN_STATE);
  assert_int_equal(end("tx", init.producer_id, 0, false)->error, MK_ERR_INVALID_TXN_STATE);
  assert_int_equal(end("tx", init.producer_id + 7, 0, true)->error,
                   MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  assert_int_equal(end("tx", init.producer_id, 1, true)->error, MK_ERR_PRODUCER_FENCED);
  assert_int_equal(end("", init.producer_id, 0, true)->error, MK_ERR_INVALID_REQUEST);
  struct answer a = {0};
  mk_txn_end_transaction(c, BROKER + 1, mk_str_of("tx"), init.producer_id, 0, true, on_answer, &a);
  assert_int_equal(a.error, MK_ERR_NOT_COORDINATOR);
}

/* ---- fencing ---------------------------------------------------------------------------------- */

/* A second producer with the same id while the first has a transaction open: the open
 * transaction is aborted under a bumped epoch (the first producer is fenced), the newcomer is
 * told to retry and then gets the epoch after that. */
static void test_new_producer_fences_the_old_and_aborts_its_transaction(void **state) {
  (void)state;
  struct answer old = ongoing("tx", 2);
  struct answer *fresh = init_pid("tx", 30000);
  assert_int_equal(fresh->calls, 0);
  struct mk_txn_metadata *m = txn_of("tx");
  assert_int_equal(m->producer_epoch, 1);  /* fenced at once, in memory */
  assert_int_equal(m->pending, MK_TXN_PREPARE_ABORT);
  ack_appends(0);  /* PrepareAbort */
  assert_int_equal(fresh->calls, 1);
  assert_int_equal(fresh->error, MK_ERR_CONCURRENT_TRANSACTIONS);
  assert_int_equal(world.nmarkers, 2);
  for (int i = 0; i < 2; i++) {
    assert_false(world.markers[i].commit);
    assert_int_equal(world.markers[i].epoch, 1);  /* the marker fences the partitions too */
  }
  /* The zombie is refused everywhere. */
  assert_int_equal(end("tx", old.producer_id, 0, true)->error, MK_ERR_PRODUCER_FENCED);
  assert_int_equal(add("tx", old.producer_id, 0, "u", 1)->error, MK_ERR_PRODUCER_FENCED);
  assert_int_equal(mk_txn_verify_partition(c, mk_str_of("tx"), old.producer_id, 0, mk_str_of("t"), 0),
                   MK_ERR_PRODUCER_FENCED);
  ack_markers(0);
  ack_appends(0);  /* CompleteAbort */
  assert_int_equal(txn_of("tx")->state, MK_TXN_COMPLETE_ABORT);
  struct answer again = init_acked("tx");
  assert_int_equal(again.error, 0);
  assert_int_equal(again.epoch, 2);
  assert_int_equal(again.producer_id, old.producer_id);
}

/* ---- verification (KIP-890) -------------------------------------------------------------------- */

static void test_verify_partition(void **state) {
  (void)state;
  struct mk_str id = mk_str_of("tx");
  struct answer init = ongoing("tx", 1);
  int64_t pid = init.producer_id;
  assert_int_equal(mk_txn_verify_partition(c, id, pid, 0, mk_str_of("t"), 0), 0);
  assert_int_equal(mk_txn_verify_partition(c, id, pid, 0, mk_str_of("t"), 1), MK_ERR_INVALID_TXN_STATE);
  assert_int_equal(mk_txn_verify_partition(c, id, pid + 1, 0, mk_str_of("t"), 0),
                   MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  assert_int_equal(mk_txn_verify_partition(c, mk_str_of("other"), pid, 0, mk_str_of("t"), 0),
                   MK_ERR_INVALID_PRODUCER_ID_MAPPING);
  end("tx", pid, 0, true);
  ack_appends(0);
  assert_int_equal(mk_txn_verify_partition(c, id, pid, 0, mk_str_of("t"), 0),
                   MK_ERR_CONCURRENT_TRANSACTIONS);
  mk_txn_coordinator_unload(c, mk_txn_state_partition_for(&c->mgr, id));
  assert_int_equal(mk_txn_verify_partition(c, id, pid, 0, mk_str_of("t"), 0),
                   MK_ERR_COORDINATOR_NOT_AVAILABLE);
}

/* ---- time ---------------------------------------------------------------------------------------- */

static void test_timed_out_transaction_is_fenced_and_aborted(void **state) {
  (void)state;
  struct answer *init = init_pid("tx", 1000);
  ack_appends(0);
  add("tx", init->producer_id, 0, "t", 2);
  ack_appends(0);
  world.now += 999;
  mk_txn_coordinator_poll(c);  /* the first check is one interval after start */
  assert_int_equal(txn_of("tx")->state, MK_TXN_ONGOING);
  world.now += config.abort_interval_ms;  /* well past the transaction's 1000 ms */
  assert_true(mk_txn_coordinator_next_deadline(c) <= world.now);
  mk_txn_coordinator_poll(c);
  struct mk_txn_metadata *m = txn_of("tx");
  assert_int_equal(m->pending, MK_TXN_PREPARE_ABORT);
  assert_int_equal(m->producer_epoch, 1);
  ack_appends(0);
  assert_int_equal(world.nmarkers, 2);
  assert_int_equal(world.markers[0].epoch, 1);
  ack_markers(0);
  ack_appends(0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_COMPLETE_ABORT);
  /* The producer that let it time out is fenced. */
  assert_int_equal(end("tx", init->producer_id, 0, true)->error, MK_ERR_PRODUCER_FENCED);
}

static void test_failed_markers_are_retried_and_deleted_partitions_skipped(void **state) {
  (void)state;
  struct answer init = ongoing("tx", 2);
  /* Add a partition of a topic that is then deleted. */
  add("tx", init.producer_id, 0, "gone", 1);
  ack_appends(0);
  snprintf(world.deleted_topic, sizeof world.deleted_topic, "gone");
  end("tx", init.producer_id, 0, true);
  ack_appends(0);
  assert_int_equal(world.nmarkers, 2);  /* t-0, t-1; gone-0 needs none */
  /* One marker fails (its leader moved): retried after the backoff, the other is done. */
  struct marker failed = world.markers[0];
  world.nmarkers = 1;
  memmove(&world.markers[0], &world.markers[1], sizeof world.markers[0]);
  failed.done(failed.arg, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  ack_markers(0);
  assert_int_equal(world.nmarkers, 0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_PREPARE_COMMIT);
  mk_txn_coordinator_poll(c);
  assert_int_equal(world.nmarkers, 0);  /* not yet: the backoff */
  world.now += config.marker_retry_backoff_ms;
  mk_txn_coordinator_poll(c);
  assert_int_equal(world.nmarkers, 1);
  assert_int_equal(world.markers[0].partition, failed.partition);
  ack_markers(0);
  ack_appends(0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_COMPLETE_COMMIT);
}

/* A marker refused for its producer epoch means a newer producer or coordinator took over:
 * this coordinator stops (and does not complete the transaction). */
static void test_marker_refused_for_its_epoch_stops_the_channel(void **state) {
  (void)state;
  struct answer init = ongoing("tx", 1);
  end("tx", init.producer_id, 0, false);
  ack_appends(0);
  int writes = world.nwrites;
  ack_markers(MK_ERR_TRANSACTION_COORDINATOR_FENCED);
  assert_false(mk_txn_marker_channel_pending(&c->channel, txn_of("tx")));
  assert_int_equal(world.nwrites, writes);
  assert_int_equal(txn_of("tx")->state, MK_TXN_PREPARE_ABORT);
}

static void test_hold_markers_until_released_or_timed(void **state) {
  (void)state;
  mk_txn_marker_channel_hold(&c->channel, -1, 1);  /* the next transaction, until released */
  struct answer init = ongoing("tx", 2);
  end("tx", init.producer_id, 0, true);
  ack_appends(0);
  struct mk_txn_metadata *m = txn_of("tx");
  int64_t until = 0;
  assert_true(mk_txn_marker_channel_held(&c->channel, m, &until));
  assert_int_equal(until, -1);
  world.now += 3600000;
  mk_txn_coordinator_poll(c);
  assert_int_equal(world.nmarkers, 0);  /* still held */
  assert_int_equal(mk_txn_marker_channel_release(&c->channel), 1);
  mk_txn_coordinator_poll(c);
  assert_int_equal(world.nmarkers, 2);
  ack_markers(0);
  ack_appends(0);
  assert_int_equal(txn_of("tx")->state, MK_TXN_COMPLETE_COMMIT);
  /* The count was one: the next transaction is not held. */
  add("tx", init.producer_id, 0, "t", 1);
  ack_appends(0);
  end("tx", init.producer_id, 0, true);
  ack_appends(0);
  assert_int_equal(world.nmarkers, 1);
  ack_markers(0);
  ack_appends(0);
  /* A hold for a time: released by the clock. */
  mk_txn_marker_channel_hold(&c->channel, 500, -1);
  add("tx", init.producer_id, 0, "t", 1);
  ack_appends(0);
  end("tx", init.producer_id, 0, false);
  ack_appends(0);
  assert_int_equal(world.nmarkers, 0);
  assert_int_equal(mk_txn_coordinator_next_deadline(c), world.now + 500);
  world.now += 500;
  mk_txn_coordinator_poll(c);
  assert_int_equal(world.nmarkers, 1);
}

static void test_idle_ids_expire(void **state) {
  (void)state;
  config.expiration_ms = 1000;
  mk_txn_coordinator_free(c);
  start(c);
  init_acked("tx");
  struct answer busy = ongoing("busy", 1);
  (void)busy;
  world.now += config.remove_expired_interval_ms;  /* > expiration: both are old enough */
  mk_txn_coordinator_poll(c);
  ack_appends(0);  /* the tombstone (the timeout abort of "busy" waits its own interval) */
  struct mk_txn_metadata *m = NULL;
  assert_int_equal(mk_txn_state_get(&c->mgr, BROKER, mk_str_of("tx"), &m, NULL), 0);
  assert_null(m);  /* gone */
  assert_non_null(txn_of("busy"));  /* a transaction in progress never expires */
  assert_null(world.writes[world.nwrites - 1].value);  /* written as a tombstone */
}

/* ---- failover --------------------------------------------------------------------------------- */

/* The coordinator dies between the phases: a new one loads PrepareCommit from the log, writes
 * the markers with its own (higher) coordinator epoch and completes the transaction. */
static void test_new_coordinator_finishes_what_the_old_one_prepared(void **state) {
  (void)state;
  struct answer init = ongoing("tx", 2);
  end("tx", init.producer_id, 0, true);
  ack_appends(0);
  assert_int_equal(world.nmarkers, 2);
  int32_t p = mk_txn_state_partition_for(&c->mgr, mk_str_of("tx"));
  mk_txn_coordinator_unload(c, p);
  /* The old coordinator's markers fail with it (their leader's broker went too). */
  ack_markers(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(world.markers_sent, 2);

  struct mk_txn_coordinator next;
  struct mk_txn_runtime rt = {NULL, fake_now, fake_pid, fake_append, fake_marker};
  assert_int_equal(mk_txn_coordinator_init(&next, &config, &rt), 0);
  load(&next, p, EPOCH + 1);
  assert_int_equal(world.nmarkers, 2);
  assert_int_equal(world.markers[0].coordinator_epoch, EPOCH + 1);
  assert_true(world.markers[0].commit);
  ack_markers(0);
  ack_appends(0);
  struct mk_txn_metadata *m = NULL;
  assert_int_equal(mk_txn_state_get(&next.mgr, BROKER, mk_str_of("tx"), &m, NULL), 0);
  assert_non_null(m);
  assert_int_equal(m->state, MK_TXN_COMPLETE_COMMIT);
  assert_int_equal(m->producer_id, init.producer_id);
  mk_txn_coordinator_free(&next);
}

/* A change whose append is acknowledged after its partition moved away answers
 * NOT_COORDINATOR (the client finds the new coordinator, which has the log). */
static void test_unloaded_while_writing_answers_not_coordinator(void **state) {
  (void)state;
  struct answer init = init_acked("tx");
  struct answer *a = add("tx", init.producer_id, 0, "t", 1);
  mk_txn_coordinator_unload(c, mk_txn_state_partition_for(&c->mgr, mk_str_of("tx")));
  ack_appends(0);
  assert_int_equal(a->calls, 1);
  assert_int_equal(a->error, MK_ERR_NOT_COORDINATOR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_gives_a_new_id_epoch_0_then_bumps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_refuses_bad_timeouts_ids_and_brokers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_with_expected_epoch_kip_360, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_partitions_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_append_leaves_the_state_as_it_was, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_writes_prepare_then_markers_then_complete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_abort_mirrors_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_end_txn_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_producer_fences_the_old_and_aborts_its_transaction,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timed_out_transaction_is_fenced_and_aborted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_failed_markers_are_retried_and_deleted_partitions_skipped,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_marker_refused_for_its_epoch_stops_the_channel, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hold_markers_until_released_or_timed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_ids_expire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_coordinator_finishes_what_the_old_one_prepared,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_unloaded_while_writing_answers_not_coordinator, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
