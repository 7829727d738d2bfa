/*
 * The consumer (consumer/) against our own broker's group coordinator, embedded: the error
 * branches librdkafka's mock cannot reach (its error answers to JoinGroup and SyncGroup are
 * malformed, test_consumer_mock.c says how), driven by the broker's fault injection
 * (DESIGN.md 3.2 "error" faults on the group APIs), and what only a full coordinator does:
 *
 *   member id       a new member is refused MEMBER_ID_REQUIRED first (JoinGroup v4+) and
 *                   joins with the id it was given (the broker's group_join trace events)
 *   join errors     COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR are retried;
 *                   GROUP_AUTHORIZATION_FAILED ends poll() with it
 *   sync errors     REBALANCE_IN_PROGRESS: join again, in a new generation
 *   heartbeat       ILLEGAL_GENERATION: join again with the same member id
 *   protocols       members that share no assignor: INCONSISTENT_GROUP_PROTOCOL for the one
 *                   that cannot join; both offering roundrobin: the group picks it
 *   session         session.timeout.ms below group.min.session.timeout.ms: refused, saying so
 *   static member   group.instance.id: a restart gets its partitions back in the same
 *                   generation (no rebalance), and closing sends no LeaveGroup
 *   failover        the coordinator's broker goes down: the member finds the new one and its
 *                   commits are all there
 *   idle member     more members than partitions: the leader hands one an empty assignment,
 *                   which it holds (no partitions, still a member of the new generation)
 *
 * Members that must poll at the same time do so on threads of their own. Every wait is
 * bounded; MK_TEST_FILTER=name runs one test.
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

#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "client/client.h"
#include "consumer/consumer.h"
#include "tests/support/consumer_support.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
static int seq;

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static int setup(void **state) {
  (void)state;
  if (!getenv("MK_TEST_VERBOSE")) mk_log_set_level(MK_LOG_ERROR);
  /* no initial rebalance delay: a test's first join is not held 3 s */
  return test_broker_start(&broker, "group.initial.rebalance.delay.ms", "0", NULL);
}

static int teardown(void **state) {
  (void)state;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  broker = NULL;
  return 0;
}

static void names(char *topic, char *group, int32_t partitions) {
  seq++;
  sprintf(topic, "t%d", seq);
  sprintf(group, "g%d", seq);
  test_broker_create_topic(broker, topic, partitions, 3, NULL);
}

static struct mk_consumer *consumer(const char *group, const char *const *kv) {
  return test_consumer_new(mk_broker_bootstrap(broker), group, kv);
}

/* Poll until the consumer holds n partitions in a generation above `above`; returns the
 * last poll's error (0 when it got there). */
static int poll_until_assigned(struct mk_consumer *c, int n, int32_t above, int64_t timeout_ms,
                               struct mk_err *err) {
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    struct mk_consumer_records r;
    int rc = mk_consumer_poll(c, 100, &r, err);
    if (rc) return rc;
    if (test_consumer_assigned(c) == n && test_consumer_group(c).generation_id > above) return 0;
  }
  return mk_err_set(err, MK_ERR__TIMED_OUT,
                    "not assigned %d partitions in time (has %d, "
                    "generation %d)",
                    n, test_consumer_assigned(c), test_consumer_group(c).generation_id);
}

static void joined(struct mk_consumer *c, int n) {
  struct mk_err err = {0};
  if (poll_until_assigned(c, n, 0, 20000, &err)) fail_msg("%s", err.msg);
}

/* A new member of group, subscribed to topic, once it holds n partitions. */
static struct mk_consumer *joined_member(const char *topic, const char *group,
                                         const char *const *kv, int n) {
  struct mk_consumer *c = consumer(group, kv);
  test_consumer_subscribe(c, topic);
  joined(c, n);
  return c;
}

/* ---- trace events, for what the broker saw ------------------------------------------------- */

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static char trace_text[1 << 16];
static size_t trace_len;

static void keep_trace(void *opaque, const char *line, size_t len) {
  (void)opaque;
  pthread_mutex_lock(&trace_lock);
  if (trace_len + len + 1 < sizeof trace_text) {
    memcpy(trace_text + trace_len, line, len);
    trace_len += len;
    trace_text[trace_len++] = '\n';
    trace_text[trace_len] = '\0';
  }
  pthread_mutex_unlock(&trace_lock);
}

static int count_in_trace(const char *a, const char *b) {
  int n = 0;
  pthread_mutex_lock(&trace_lock);
  for (char *line = trace_text; line && *line;) {
    char *end = strchr(line, '\n');
    if (end) *end = '\0';
    if (strstr(line, a) && (!b || strstr(line, b))) n++;
    if (end) *end = '\n';
    line = end ? end + 1 : NULL;
  }
  pthread_mutex_unlock(&trace_lock);
  return n;
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_member_id_required_then_joined(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 3);
  trace_len = 0;
  trace_text[0] = '\0';
  int sink = mk_trace_add_sink(keep_trace, NULL);
  struct mk_consumer *c = joined_member(topic, group, NULL, 3);
  struct mk_consumer_group_metadata g = test_consumer_group(c);
  mk_trace_remove_sink(sink);
  assert_true(g.leader);
  assert_int_equal(strncmp(g.member_id, "consumer-", 9), 0);
  char group_field[64];
  snprintf(group_field, sizeof group_field, "\"group\":\"%s\"", group);
  /* one refused JoinGroup (MEMBER_ID_REQUIRED), then the one with the given id */
  assert_int_equal(count_in_trace("\"event\":\"group_join\"", "MEMBER_ID_REQUIRED"), 1);
  assert_true(count_in_trace("\"event\":\"group_join\"", g.member_id) >= 1);
  assert_true(count_in_trace("\"event\":\"group_sync\"", group_field) >= 1);
  mk_consumer_close(c);
}

static void test_join_errors_retried_or_fatal(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 3);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"JoinGroup\", "
                            "\"error\": \"COORDINATOR_LOAD_IN_PROGRESS\", \"count\": 2}");
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"JoinGroup\", "
                            "\"error\": \"NOT_COORDINATOR\", \"count\": 1}");
  struct mk_consumer *c = joined_member(topic, group, NULL, 3);
  mk_consumer_close(c);
  mk_broker_clear_faults(broker);

  names(topic, group, 3);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"JoinGroup\", "
                            "\"error\": \"GROUP_AUTHORIZATION_FAILED\", \"count\": 1}");
  c = consumer(group, NULL);
  test_consumer_subscribe(c, topic);
  struct mk_err err = {0};
  assert_int_equal(poll_until_assigned(c, 3, 0, 10000, &err), MK_ERR_GROUP_AUTHORIZATION_FAILED);
  assert_non_null(strstr(err.msg, "GROUP_AUTHORIZATION_FAILED"));
  mk_consumer_close(c);
  mk_broker_clear_faults(broker);
}

static void test_sync_rebalance_in_progress_joins_again(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 3);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"SyncGroup\", "
                            "\"error\": \"REBALANCE_IN_PROGRESS\", \"count\": 1}");
  struct mk_consumer *c = joined_member(topic, group, NULL, 3);
  assert_true(test_consumer_group(c).generation_id >=
              2); /* the first generation's sync was refused */
  mk_consumer_close(c);
  mk_broker_clear_faults(broker);
}

static void test_heartbeat_illegal_generation_rejoins_with_same_member_id(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 3);
  struct mk_consumer *c = joined_member(topic, group, NULL, 3);
  struct mk_consumer_group_metadata before = test_consumer_group(c);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"Heartbeat\", "
                            "\"error\": \"ILLEGAL_GENERATION\", \"count\": 1}");
  struct mk_err err = {0};
  if (poll_until_assigned(c, 3, before.generation_id, 20000, &err)) fail_msg("%s", err.msg);
  struct mk_consumer_group_metadata after = test_consumer_group(c);
  assert_string_equal(after.member_id, before.member_id);  /* a valid id is kept */
  mk_consumer_close(c);
  mk_broker_clear_faults(broker);
}

/* A member polling on a thread of its own until told to stop. */
struct runner {
  pthread_t thread;
  struct mk_consumer *c;
  atomic_int stop;
  int rc;
  struct mk_err err;
};

static void *run_member(void *arg) {
  struct runner *r = arg;
  while (!atomic_load(&r->stop)) {
    struct mk_consumer_records recs;
    if ((r->rc = mk_consumer_poll(r->c, 100, &recs, &r->err))) break;
  }
  return NULL;
}

static void test_protocols_inconsistent_or_shared(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 4);
  const char *const range[] = {"partition.assignment.strategy", "range", NULL};
  const char *const rr[] = {"partition.assignment.strategy", "roundrobin", NULL};
  struct runner a = {.c = joined_member(topic, group, range, 4)};
  assert_int_equal(pthread_create(&a.thread, NULL, run_member, &a), 0);
  struct mk_consumer *b = consumer(group, rr);
  test_consumer_subscribe(b, topic);
  struct mk_err err = {0};
  assert_int_equal(poll_until_assigned(b, 2, 0, 10000, &err), MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
  assert_non_null(strstr(err.msg, "share no assignor"));
  mk_consumer_close(b);
  atomic_store(&a.stop, 1);
  pthread_join(a.thread, NULL);
  assert_int_equal(a.rc, 0);
  mk_consumer_close(a.c);

  /* both offer roundrobin (b prefers it): the group's vote picks it */
  names(topic, group, 4);
  const char *const both[] = {"partition.assignment.strategy", "roundrobin,range", NULL};
  struct runner x = {.c = joined_member(topic, group, both, 4)};
  assert_string_equal(test_consumer_group(x.c).protocol, "roundrobin");
  mk_consumer_close(x.c);
}

static void test_session_timeout_outside_the_brokers_bounds(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 1);
  const char *const kv[] = {"session.timeout.ms", "1000", "heartbeat.interval.ms", "100", NULL};
  struct mk_consumer *c = consumer(group, kv);
  test_consumer_subscribe(c, topic);
  struct mk_err err = {0};
  assert_int_equal(poll_until_assigned(c, 1, 0, 10000, &err), MK_ERR_INVALID_SESSION_TIMEOUT);
  assert_non_null(strstr(err.msg, "session.timeout.ms 1000"));
  mk_consumer_close(c);
}

static void test_static_member_restart_keeps_partitions_without_rebalance(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 2);
  const char *const kv[] = {"group.instance.id", "worker-1", NULL};
  struct mk_consumer *c = joined_member(topic, group, kv, 2);
  int32_t gen = test_consumer_group(c).generation_id;
  trace_len = 0;
  trace_text[0] = '\0';
  int sink = mk_trace_add_sink(keep_trace, NULL);
  mk_consumer_close(c);  /* a static member sends no LeaveGroup */
  c = consumer(group, kv);
  test_consumer_subscribe(c, topic);
  struct mk_err err = {0};
  if (poll_until_assigned(c, 2, gen - 1, 20000, &err)) fail_msg("%s", err.msg);
  mk_trace_remove_sink(sink);
  assert_int_equal(test_consumer_group(c).generation_id,
                   gen); /* the same generation: no rebalance */
  char field[80];
  snprintf(field, sizeof field, "\"group\":\"%s\"", group);
  assert_int_equal(count_in_trace("\"event\":\"rebalance\"", field), 0);
  mk_consumer_close(c);
}

static void test_coordinator_failover_keeps_commits(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 3);
  struct mk_consumer *c = joined_member(topic, group, NULL, 3);
  struct mk_topic_partition tp[3] = {{topic, 0}, {topic, 1}, {topic, 2}};
  int64_t offsets[3] = {5, 6, 7}, got[3];
  struct mk_err err = {0};
  /* not offsets the log has: a commit is only a number to the coordinator */
  assert_int_equal(mk_consumer_commit_offsets(c, tp, offsets, 3, &err), 0);
  /* the coordinator's broker goes down: its partition of __consumer_offsets moves */
  struct mk_client probe;
  int32_t node;
  char host[256];
  int port;
  mk_client_init(&probe, "probe");
  assert_int_equal(mk_client_bootstrap(&probe, mk_broker_bootstrap(broker), &err), 0);
  assert_int_equal(mk_client_find_coordinator(&probe, group, 0, &node, host, &port, &err), 0);
  mk_client_free(&probe);
  test_broker_fault(broker, "{\"action\": \"broker_down\", \"broker\": %d}", node);
  int64_t deadline = now_ms() + 20000;
  int rc;
  while ((rc = mk_consumer_committed(c, tp, 3, got, &err)) && now_ms() < deadline) {
  }
  assert_int_equal(rc, 0);
  assert_int_equal(got[0], 5);
  assert_int_equal(got[1], 6);
  assert_int_equal(got[2], 7);
  offsets[0] = 8;
  assert_int_equal(mk_consumer_commit_offsets(c, tp, offsets, 1, &err), 0);
  test_broker_fault(broker, "{\"action\": \"broker_up\", \"broker\": %d}", node);
  mk_consumer_close(c);
}

static void test_more_members_than_partitions_one_holds_none(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 1);
  struct runner a = {.c = joined_member(topic, group, NULL, 1)};
  int32_t gen = test_consumer_group(a.c).generation_id;
  assert_int_equal(pthread_create(&a.thread, NULL, run_member, &a), 0);
  struct mk_consumer *b = consumer(group, NULL);
  test_consumer_subscribe(b, topic);
  struct mk_err err = {0};
  /* b's generation is the new one, and it holds no partition */
  if (poll_until_assigned(b, 0, gen, 20000, &err)) fail_msg("%s", err.msg);
  atomic_store(&a.stop, 1);
  pthread_join(a.thread, NULL);
  assert_int_equal(a.rc, 0);
  if (poll_until_assigned(a.c, 1, gen, 20000, &err)) fail_msg("%s", err.msg);
  assert_int_equal(test_consumer_group(a.c).generation_id, test_consumer_group(b).generation_id);
  mk_consumer_close(b);
  mk_consumer_close(a.c);
}

/* A ListOffsets answer with an error the consumer did not expect is asked again, as Java's
 * OffsetFetcher does (it gives up only on an authorization failure); such an error once ended
 * the consumer (UNKNOWN_SERVER_ERROR, through the proxy from librdkafka's mock cluster; the
 * fault table takes Kafka's named errors, so INVALID_REQUEST stands in for it). */
static void test_unexpected_list_offsets_error_is_asked_again(void **state) {
  (void)state;
  char topic[16], group[16];
  names(topic, group, 1);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"ListOffsets\", "
                            "\"error\": \"INVALID_REQUEST\", \"count\": 1}");
  trace_len = 0;
  trace_text[0] = '\0';
  int sink = mk_trace_add_sink(keep_trace, NULL);
  struct mk_consumer *c = joined_member(topic, group, NULL, 1);
  struct mk_err err = {0};
  int64_t deadline = now_ms() + 10000;
  while (now_ms() < deadline &&
         count_in_trace("\"event\":\"response_sent\"", "\"api\":\"ListOffsets\"") < 2) {
    struct mk_consumer_records r;
    if (mk_consumer_poll(c, 100, &r, &err)) fail_msg("poll: %s", err.msg);
  }
  mk_trace_remove_sink(sink);
  assert_int_equal(count_in_trace("\"event\":\"response_sent\"", "\"api\":\"ListOffsets\""), 2);
  mk_consumer_close(c);
  mk_broker_clear_faults(broker);
}

int main(void) {
  const struct CMUnitTest all[] = {
      cmocka_unit_test(test_member_id_required_then_joined),
      cmocka_unit_test(test_join_errors_retried_or_fatal),
      cmocka_unit_test(test_sync_rebalance_in_progress_joins_again),
      cmocka_unit_test(test_heartbeat_illegal_generation_rejoins_with_same_member_id),
      cmocka_unit_test(test_protocols_inconsistent_or_shared),
      cmocka_unit_test(test_session_timeout_outside_the_brokers_bounds),
      cmocka_unit_test(test_static_member_restart_keeps_partitions_without_rebalance),
      cmocka_unit_test(test_coordinator_failover_keeps_commits),
      cmocka_unit_test(test_more_members_than_partitions_one_holds_none),
      cmocka_unit_test(test_unexpected_list_offsets_error_is_asked_again),
  };
  const char *filter = getenv("MK_TEST_FILTER");
  if (filter) cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(all, setup, teardown);
}
