/*
 * The consumer and its group membership (consumer/) against librdkafka's mock cluster
 * (rdkafka_mock.h): a group coordinator we did not write, so a join, a split or a commit that
 * works here is not our coordinator agreeing with our client. The mock speaks FindCoordinator
 * v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v1, OffsetCommit v7, OffsetFetch
 * v5; rd_kafka_mock_set_apiversion lowers them to the oldest versions, and
 * rd_kafka_mock_push_request_errors makes it answer the next requests of an API with errors,
 * which drives the member's state machine through its error branches:
 *
 *   join          one member: all partitions, generation >= 1, leader, protocol range
 *   split         two members (one thread each): 3 + 3 partitions, disjoint, every record
 *                 read once across both; the first to close leaves, the other takes all 6
 *   resume        a member closes (committing); the next one starts at the commits
 *   errors        Heartbeat REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID: join again;
 *                 OffsetCommit ILLEGAL_GENERATION: the commit fails, the member joins again;
 *                 OffsetCommit NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS: retried;
 *                 unreadable FindCoordinator and JoinGroup answers: retried
 *   versions      JoinGroup v0, SyncGroup v0, Heartbeat v0, OffsetCommit v2, OffsetFetch v1
 *   coordinator   the group's coordinator moves to another broker: rediscovered
 *   crash         a member abandoned (no commit, no LeaveGroup): after session.timeout.ms the
 *                 survivor gets everything, from the last commits (at least once)
 *   poll timeout  poll() not called for max.poll.interval.ms: the heartbeat thread leaves;
 *                 the next poll() joins again
 *
 * Every wait is bounded; MK_TEST_FILTER=name runs one test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/clock.h"
#include "common/log.h"
#include "consumer/consumer.h"
#include "tests/support/consumer_support.h"
#include "protocol/api.h"

enum { PARTITIONS = 6, PER_PARTITION = 10 };

static rd_kafka_t *mock_owner;
static rd_kafka_mock_cluster_t *mcluster;
static const char *bootstraps;
static int topic_seq;

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* ---- the mock cluster, and records in it ---------------------------------------------------- */

static int setup_file(void **state) {
  (void)state;
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!mock_owner) return -1;
  mcluster = rd_kafka_mock_cluster_new(mock_owner, 3);
  if (!mcluster) return -1;
  bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
  rd_kafka_mock_set_apiversion(mcluster, MK_API_LIST_OFFSETS, 0, 3);  /* see the top */
  if (!getenv("MK_TEST_VERBOSE")) mk_log_set_level(MK_LOG_ERROR);
  return 0;
}

static int teardown_file(void **state) {
  (void)state;
  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(mock_owner);
  return 0;
}

/* A fresh topic name and group name per test, so tests do not see each other's state. */
static void names(char *topic, char *group) {
  topic_seq++;
  sprintf(topic, "t%d", topic_seq);
  sprintf(group, "g%d", topic_seq);
  assert_int_equal(rd_kafka_mock_topic_create(mcluster, topic, PARTITIONS, 1),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* PER_PARTITION records "p<partition>-<i>" into each partition, with librdkafka's producer. */
static void produce_all(const char *topic) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  assert_non_null(p);
  for (int part = 0; part < PARTITIONS; part++)
    for (int i = 0; i < PER_PARTITION; i++) {
      char v[32];
      snprintf(v, sizeof v, "p%d-%d", part, i);
      assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                         RD_KAFKA_V_VALUE(v, strlen(v)),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                       RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
}

/* ---- consumers ------------------------------------------------------------------------------- */

/* A consumer of group in the mock cluster: earliest, quick heartbeats, then kv settings. */
static struct mk_consumer *consumer(const char *group, const char *const *kv) {
  return test_consumer_new(bootstraps, group, kv);
}

/* What a member read: per partition, which record indexes, and the values seen. */
struct seen {
  int count[PARTITIONS][PER_PARTITION];
  int total;
};

static void note(struct seen *s, const struct mk_consumer_records *r) {
  for (int i = 0; i < r->n; i++) {
    int part, idx;
    char v[32];
    snprintf(v, sizeof v, "%.*s", (int)r->v[i].record.value.len,
             (const char *)r->v[i].record.value.ptr);
    assert_int_equal(sscanf(v, "p%d-%d", &part, &idx), 2);
    assert_int_equal(part, r->v[i].partition);
    assert_int_equal(idx, (int)r->v[i].offset);
    s->count[part][idx]++;
    s->total++;
  }
}

/* Poll until cond(c) holds (or timeout_ms), noting records into s (may be NULL). */
static bool poll_until(struct mk_consumer *c, struct seen *s,
                       bool (*cond)(struct mk_consumer *, void *), void *arg, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    struct mk_consumer_records r;
    struct mk_err err = {0};
    int rc = mk_consumer_poll(c, 100, &r, &err);
    if (rc) fail_msg("poll: %s (%s)", err.msg, mk_err_name(rc));
    if (s) note(s, &r);
    if (cond(c, arg)) return true;
  }
  return false;
}

static bool has_n_partitions(struct mk_consumer *c, void *arg) {
  return test_consumer_assigned(c) == *(int *)arg;
}

static bool has_read(struct mk_consumer *c, void *arg) {
  (void)c;
  const struct seen *s = ((void **)arg)[0];
  return s->total >= *(int *)((void **)arg)[1];
}

/* Poll until c has read at least want records, noted into s. */
static void read_at_least(struct mk_consumer *c, struct seen *s, int want) {
  void *args[] = {s, &want};
  assert_true(poll_until(c, s, has_read, args, 20000));
}

static bool generation_above(struct mk_consumer *c, void *arg) {
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  return g.generation_id > *(int32_t *)arg && test_consumer_assigned(c) > 0;
}

static int32_t generation(struct mk_consumer *c) {
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  return g.generation_id;
}

/* ---- join, split, resume ------------------------------------------------------------------- */

static void test_one_member_gets_every_partition_and_reads_all(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  struct mk_consumer *c = consumer(group, NULL);
  test_consumer_subscribe(c, topic);
  struct seen s = {0};
  read_at_least(c, &s, PARTITIONS * PER_PARTITION);
  assert_int_equal(test_consumer_assigned(c), PARTITIONS);
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  assert_true(g.generation_id >= 1);
  assert_true(g.leader);
  assert_string_equal(g.protocol, "range");
  assert_true(g.member_id[0]);
  for (int p = 0; p < PARTITIONS; p++)
    for (int i = 0; i < PER_PARTITION; i++) assert_int_equal(s.count[p][i], 1);
  /* commit, and the coordinator has what we said */
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_commit_sync(c, &err), 0);
  struct mk_topic_partition parts[PARTITIONS];
  int64_t committed[PARTITIONS];
  for (int p = 0; p < PARTITIONS; p++) parts[p] = (struct mk_topic_partition){topic, p};
  assert_int_equal(mk_consumer_committed(c, parts, PARTITIONS, committed, &err), 0);
  for (int p = 0; p < PARTITIONS; p++) {
    assert_int_equal(committed[p], PER_PARTITION);
    assert_int_equal(mk_consumer_position(c, topic, p), PER_PARTITION);
  }
  mk_consumer_close(c);
}

/* A member on its own thread: polls until told to stop, noting what it reads. */
struct member {
  pthread_t thread;
  const char *group, *topic;
  const char *const *kv;
  struct mk_consumer *c;
  struct seen s;
  atomic_int partitions;      /* its assignment size, as of its last poll */
  atomic_int stop;            /* 1: close (commit, leave); 2: abandon (crash) */
  atomic_int commit;          /* commit after each poll that returned records */
  char error[256];
};

static void *member_thread(void *arg) {
  struct member *m = arg;
  while (!atomic_load(&m->stop)) {
    struct mk_consumer_records r;
    struct mk_err err = {0};
    if (mk_consumer_poll(m->c, 100, &r, &err)) {
      snprintf(m->error, sizeof m->error, "%s", err.msg);
      break;
    }
    note(&m->s, &r);
    if (r.n && atomic_load(&m->commit)) mk_consumer_commit_sync(m->c, &err);
    atomic_store(&m->partitions, test_consumer_assigned(m->c));
  }
  if (atomic_load(&m->stop) == 2)
    mk_consumer_abandon(m->c);
  else
    mk_consumer_close(m->c);
  return NULL;
}

static void member_start(struct member *m, const char *group, const char *topic,
                         const char *const *kv) {
  memset(m, 0, sizeof *m);
  m->group = group;
  m->topic = topic;
  m->c = consumer(group, kv);
  test_consumer_subscribe(m->c, topic);
  assert_int_equal(pthread_create(&m->thread, NULL, member_thread, m), 0);
}

static void member_stop(struct member *m, int how) {
  atomic_store(&m->stop, how);
  pthread_join(m->thread, NULL);
  if (m->error[0]) fail_msg("member: %s", m->error);
}

/* Wait until each member holds want[i] partitions. */
static bool wait_shares(struct member *m, const int *want, int n, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    bool all = true;
    for (int i = 0; i < n; i++) all &= atomic_load(&m[i].partitions) == want[i];
    if (all) return true;
    sleep_ms(50);
  }
  return false;
}

static void test_two_members_split_and_one_takes_over(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  struct member m[2];
  member_start(&m[0], group, topic, NULL);
  member_start(&m[1], group, topic, NULL);
  const int split[] = {3, 3};
  assert_true(wait_shares(m, split, 2, 30000));
  produce_all(topic);
  /* every record once across both */
  int64_t deadline = now_ms() + 20000;
  while (m[0].s.total + m[1].s.total < PARTITIONS * PER_PARTITION && now_ms() < deadline)
    sleep_ms(50);
  assert_int_equal(m[0].s.total + m[1].s.total, PARTITIONS * PER_PARTITION);
  for (int p = 0; p < PARTITIONS; p++) {
    /* each partition belongs to exactly one of them */
    bool a = m[0].s.count[p][0], b = m[1].s.count[p][0];
    assert_true(a != b);
    for (int i = 0; i < PER_PARTITION; i++)
      assert_int_equal(m[0].s.count[p][i] + m[1].s.count[p][i], 1);
  }
  assert_int_equal(m[0].s.total, 30);
  /* the first leaves (LeaveGroup): the second takes all six */
  member_stop(&m[0], 1);
  deadline = now_ms() + 30000;
  while (atomic_load(&m[1].partitions) != PARTITIONS && now_ms() < deadline) sleep_ms(50);
  assert_int_equal(atomic_load(&m[1].partitions), PARTITIONS);
  member_stop(&m[1], 1);
}

static void test_restarted_member_resumes_after_its_commit(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  /* auto commit on: close() commits the positions */
  const char *const kv[] = {"enable.auto.commit", "true", "max.poll.records", "4", NULL};
  struct mk_consumer *c = consumer(group, kv);
  test_consumer_subscribe(c, topic);
  struct seen s = {0};
  read_at_least(c, &s, 20);
  int first = s.total;
  int64_t pos[PARTITIONS];
  for (int p = 0; p < PARTITIONS; p++) pos[p] = mk_consumer_position(c, topic, p);
  mk_consumer_close(c);
  /* the next member starts where the first stopped: nothing twice, nothing lost */
  c = consumer(group, NULL);
  test_consumer_subscribe(c, topic);
  struct seen rest = {0};
  read_at_least(c, &rest, PARTITIONS * PER_PARTITION - first);
  for (int p = 0; p < PARTITIONS; p++)
    for (int i = 0; i < PER_PARTITION; i++) {
      assert_int_equal(s.count[p][i] + rest.count[p][i], 1);
      assert_int_equal(rest.count[p][i], i >= pos[p]);
    }
  mk_consumer_close(c);
}

/* ---- the state machine's error branches ------------------------------------------------------ */

/* A member that has joined (all partitions) and read everything. */
static struct mk_consumer *joined(const char *group, const char *topic, const char *const *kv) {
  struct mk_consumer *c = consumer(group, kv);
  test_consumer_subscribe(c, topic);
  int want = PARTITIONS;
  assert_true(poll_until(c, NULL, has_n_partitions, &want, 20000));
  return c;
}

static void test_heartbeat_rebalance_in_progress_rejoins(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  struct mk_consumer *c = joined(group, topic, NULL);
  int32_t gen = generation(c);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_HEARTBEAT, 1,
                                    RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
  assert_true(poll_until(c, NULL, generation_above, &gen, 20000));
  assert_int_equal(test_consumer_assigned(c), PARTITIONS);
  mk_consumer_close(c);
}

static void test_heartbeat_unknown_member_id_rejoins_as_new_member(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  struct mk_consumer *c = joined(group, topic, NULL);
  struct mk_consumer_group_metadata before, after;
  mk_consumer_group_metadata(c, &before);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_HEARTBEAT, 1,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
  assert_true(poll_until(c, NULL, generation_above, &before.generation_id, 20000));
  mk_consumer_group_metadata(c, &after);
  assert_string_not_equal(before.member_id, after.member_id);  /* the old id was dropped */
  mk_consumer_close(c);
}

static void test_commit_illegal_generation_fails_and_rejoins(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  struct mk_consumer *c = joined(group, topic, NULL);
  struct seen s = {0};
  read_at_least(c, &s, 1);
  int32_t gen = generation(c);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_OFFSET_COMMIT, 1,
                                    RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_commit_sync(c, &err), MK_ERR_ILLEGAL_GENERATION);
  assert_non_null(strstr(err.msg, "Commit cannot be completed"));
  assert_true(poll_until(c, NULL, generation_above, &gen, 20000));
  assert_int_equal(mk_consumer_commit_sync(c, &err), 0);  /* the new generation commits */
  mk_consumer_close(c);
}

static void test_commit_retries_coordinator_errors(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  struct mk_consumer *c = joined(group, topic, NULL);
  struct seen s = {0};
  read_at_least(c, &s, PARTITIONS * PER_PARTITION);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_OFFSET_COMMIT, 3,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  struct mk_err err = {0};
  if (mk_consumer_commit_sync(c, &err)) fail_msg("%s", err.msg);
  struct mk_topic_partition tp = {topic, 3};
  int64_t off;
  assert_int_equal(mk_consumer_committed(c, &tp, 1, &off, &err), 0);
  assert_int_equal(off, PER_PARTITION);
  mk_consumer_close(c);
}

static void test_join_survives_unreadable_error_answers(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_FIND_COORDINATOR, 2,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  rd_kafka_mock_push_request_errors(mcluster, MK_API_JOIN_GROUP, 2,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  struct mk_consumer *c = joined(group, topic, NULL);
  assert_true(generation(c) >= 1);
  mk_consumer_close(c);
}

static void test_oldest_versions(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  /* JoinGroup v0 has no rebalance timeout, OffsetCommit v2 a retention time, OffsetFetch v1
   * names every partition */
  const int16_t apis[] = {MK_API_JOIN_GROUP, MK_API_SYNC_GROUP, MK_API_HEARTBEAT,
                          MK_API_LEAVE_GROUP, MK_API_OFFSET_COMMIT, MK_API_OFFSET_FETCH};
  const int16_t oldest[] = {0, 0, 0, 0, 2, 1};
  const int16_t newest[] = {5, 3, 3, 1, 7, 5};
  for (int i = 0; i < 6; i++) rd_kafka_mock_set_apiversion(mcluster, apis[i], 0, oldest[i]);
  struct mk_consumer *c = joined(group, topic, NULL);
  struct seen s = {0};
  read_at_least(c, &s, PARTITIONS * PER_PARTITION);
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_commit_sync(c, &err), 0);
  struct mk_topic_partition tp = {topic, 5};
  int64_t off = -1;
  assert_int_equal(mk_consumer_committed(c, &tp, 1, &off, &err), 0);
  assert_int_equal(off, PER_PARTITION);
  mk_consumer_close(c);
  for (int i = 0; i < 6; i++) rd_kafka_mock_set_apiversion(mcluster, apis[i], 0, newest[i]);
}

static void test_coordinator_moves(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  produce_all(topic);
  struct mk_consumer *c = joined(group, topic, NULL);
  /* move the group to each broker in turn; commits keep working */
  for (int b = 1; b <= 3; b++) {
    rd_kafka_mock_coordinator_set(mcluster, "group", group, b);
    struct mk_err err = {0};
    struct seen s = {0};
    if (b == 1) read_at_least(c, &s, 1);
    sleep_ms(500);  /* a heartbeat or two at the old coordinator */
    struct mk_consumer_records r;
    for (int i = 0; i < 10; i++) assert_int_equal(mk_consumer_poll(c, 50, &r, &err), 0);
    if (mk_consumer_commit_sync(c, &err)) fail_msg("commit after a move to %d: %s", b, err.msg);
  }
  mk_consumer_close(c);
}

static void test_crashed_member_is_expired_and_its_records_read_again(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  const char *const kv[] = {"session.timeout.ms", "3000", NULL};
  struct member m[2];
  member_start(&m[0], group, topic, kv);
  member_start(&m[1], group, topic, kv);
  const int split[] = {3, 3};
  assert_true(wait_shares(m, split, 2, 30000));
  atomic_store(&m[1].commit, 0);  /* member 1 reads but never commits */
  atomic_store(&m[0].commit, 1);
  produce_all(topic);
  int64_t deadline = now_ms() + 20000;
  while (m[0].s.total + m[1].s.total < PARTITIONS * PER_PARTITION && now_ms() < deadline)
    sleep_ms(50);
  assert_int_equal(m[1].s.total, 30);
  struct seen crashed = m[1].s;
  member_stop(&m[1], 2);  /* abandoned: no commit, no LeaveGroup */
  /* after session.timeout.ms the survivor gets all six, and reads member 1's records again */
  deadline = now_ms() + 30000;
  while (atomic_load(&m[0].partitions) != PARTITIONS && now_ms() < deadline) sleep_ms(50);
  assert_int_equal(atomic_load(&m[0].partitions), PARTITIONS);
  deadline = now_ms() + 20000;
  while (m[0].s.total < PARTITIONS * PER_PARTITION && now_ms() < deadline) sleep_ms(50);
  for (int p = 0; p < PARTITIONS; p++)
    for (int i = 0; i < PER_PARTITION; i++)
      if (crashed.count[p][i]) assert_int_equal(m[0].s.count[p][i], 1);  /* read again */
  assert_int_equal(m[0].s.total, PARTITIONS * PER_PARTITION);
  member_stop(&m[0], 1);
}

static void test_poll_interval_expiry_leaves_then_rejoins(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  const char *const kv[] = {"max.poll.interval.ms", "1500", NULL};
  struct mk_consumer *c = joined(group, topic, kv);
  struct mk_consumer_group_metadata before, during;
  mk_consumer_group_metadata(c, &before);
  sleep_ms(2500);  /* no poll(): the heartbeat thread leaves the group */
  mk_consumer_group_metadata(c, &during);
  assert_int_equal(during.generation_id, -1);
  assert_string_equal(during.member_id, "");
  assert_true(poll_until(c, NULL, generation_above, &before.generation_id, 20000));
  mk_consumer_close(c);
}

static void test_wakeup_ends_a_poll_at_once(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group);
  struct mk_consumer *c = joined(group, topic, NULL);
  mk_consumer_wakeup(c);
  struct mk_consumer_records r;
  struct mk_err err = {0};
  int64_t t0 = now_ms();
  assert_int_equal(mk_consumer_poll(c, 5000, &r, &err), MK_ERR__STATE);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(mk_consumer_poll(c, 50, &r, &err), 0);  /* once only */
  mk_consumer_close(c);
}

int main(void) {
  const struct CMUnitTest all[] = {
      cmocka_unit_test(test_one_member_gets_every_partition_and_reads_all),
      cmocka_unit_test(test_two_members_split_and_one_takes_over),
      cmocka_unit_test(test_restarted_member_resumes_after_its_commit),
      cmocka_unit_test(test_heartbeat_rebalance_in_progress_rejoins),
      cmocka_unit_test(test_heartbeat_unknown_member_id_rejoins_as_new_member),
      cmocka_unit_test(test_commit_illegal_generation_fails_and_rejoins),
      cmocka_unit_test(test_commit_retries_coordinator_errors),
      cmocka_unit_test(test_join_survives_unreadable_error_answers),
      cmocka_unit_test(test_oldest_versions),
      cmocka_unit_test(test_coordinator_moves),
      cmocka_unit_test(test_crashed_member_is_expired_and_its_records_read_again),
      cmocka_unit_test(test_poll_interval_expiry_leaves_then_rejoins),
      cmocka_unit_test(test_wakeup_ends_a_poll_at_once),
  };
  const char *filter = getenv("MK_TEST_FILTER");
  if (filter) cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(all, setup_file, teardown_file);
}
