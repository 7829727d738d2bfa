/*
 * Tests for the reset (broker/reset.c; POST /v1/reset and mk_broker_reset): after a busy
 * demo — topics with records, an idempotent producer, a broker down, a paused and a lagging
 * follower, armed faults, a --faults script half done, clients connected — a reset leaves
 * what a just-started broker has, and the next demo runs as the first did.
 *
 * Also the hooks a subsystem registers (reset.h): run in order, clear while the topics are
 * still there, start once they are gone; and the trace a replay reads (`reset` after the
 * topic_delete lines, then the brokers' state).
 *
 * The hook test registers its hooks on the loop through broker_internal.h (mk_broker_call),
 * as a subsystem would from its start: there is no public way, on purpose.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/broker_internal.h"  /* mk_broker_call, to register hooks on the loop */
#include "broker/reset.h"
#include "protocol/api.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/produce.h"
#include "tests/support/producer_probe.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static struct mk_broker *start(const char *faults_file) {
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  cfg.faults_file = faults_file;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_config_set(&cfg, "replica.lag.time.max.ms", "1000", &err), 0);
  struct mk_broker *b = NULL;
  if (mk_broker_new(&cfg, &b, &err) || mk_broker_start(b, &err)) fail_msg("broker: %s", err.msg);
  return b;
}

static void stop(struct mk_broker *b) {
  mk_broker_stop(b);
  mk_broker_free(b);
}

static int64_t init_producer_id(struct mk_broker *b) {
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(b, 0)), 0);
  struct mk_init_producer_id_request req = {MK_STR_NULL, -1, -1, -1};
  struct mk_init_producer_id_response *resp;
  assert_int_equal(raw_client_call(&c, MK_API_INIT_PRODUCER_ID, 4, &req, (void **)&resp, 5000), 0);
  assert_int_equal(resp->error_code, 0);
  int64_t id = resp->producer_id;
  raw_client_close(&c);
  return id;
}

/* Produce n records (one batch) to topic-0 on its leader; returns the error code. */
static int produce(struct mk_broker *b, const char *topic, int64_t pid, int32_t seq, int n) {
  struct mk_partition_state s = test_broker_state(b, topic, 0);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(b, s.leader)), 0);
  struct mk_writer batch = {0};
  raw_client_build_batch(&batch, n, pid, pid < 0 ? -1 : 0, pid < 0 ? -1 : seq);
  struct mk_produce_partition_produce_response *r =
      raw_client_produce(&c, topic, 0, 1, &batch, 9, 5000);
  int rc = r ? r->error_code : -1;
  mk_writer_free(&batch);
  raw_client_close(&c);
  return rc;
}

static bool contains(const char *text, const char *what) { return text && strstr(text, what); }

/* ---- the reset -------------------------------------------------------------------------- */

static void test_reset_leaves_a_just_started_broker(void **state) {
  (void)state;
  struct mk_broker *b = start(NULL);
  struct mk_err err = {0};
  /* The first demo: two topics, records from an idempotent producer, faults of every kind. */
  assert_int_equal(init_producer_id(b), 1000);
  struct mk_partition_state first = test_broker_create_topic(b, "orders", 3, 3, NULL);
  test_broker_create_topic(b, "other", 1, 3, NULL);
  int64_t pid = init_producer_id(b);
  assert_int_equal(pid, 1001);
  assert_int_equal(produce(b, "orders", pid, 0, 5), 0);
  int32_t follower = first.followers[0];
  test_broker_fault(b, "{\"action\":\"follower_pause\",\"topic\":\"orders\",\"partition\":0,"
                       "\"broker\":%d}", follower);
  test_broker_fault(b, "{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":300}", first.followers[1]);
  test_broker_fault(b, "{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1}");
  test_broker_fault(b, "{\"action\":\"broker_down\",\"broker\":2}");
  char *faults = mk_broker_faults_json(b);
  assert_true(contains(faults, "\"action\":\"broker_down\""));
  free(faults);

  assert_int_equal(mk_broker_reset(b, &err), 0);

  char *cluster = mk_broker_cluster_json(b);
  assert_true(contains(cluster, "\"topics\":[]"));
  assert_false(contains(cluster, "\"up\":false"));
  for (int i = 0; i < 3; i++) {
    char up[64];
    snprintf(up, sizeof up, "\"id\":%d,", i);
    assert_true(contains(cluster, up));
  }
  free(cluster);
  faults = mk_broker_faults_json(b);
  assert_string_equal(faults, "[]");
  free(faults);
  char *producers = mk_broker_producers_json(b);
  assert_string_equal(producers, "{\"topics\":[]}");
  free(producers);

  /* The next demo runs as the first did: producer ids from 1000, placement from broker 0,
   * no follower paused or lagging, the drop_response gone, fault ids from 1. */
  assert_int_equal(init_producer_id(b), 1000);
  struct mk_partition_state again = test_broker_create_topic(b, "orders", 3, 3, NULL);
  assert_int_equal(again.leader, first.leader);
  for (int r = 0; r < again.nreplicas; r++) {
    assert_int_equal(again.replicas[r].broker, first.replicas[r].broker);
    assert_int_equal(again.replicas[r].log_end_offset, 0);
  }
  assert_int_equal(produce(b, "orders", 1000, 0, 3), 0);  /* sequence 0 again: a new producer */
  struct mk_partition_state now = test_broker_state(b, "orders", 0);
  for (int i = 0; i < 300 && now.high_watermark < 3; i++) {  /* the followers fetch it */
    usleep(10 * 1000);
    now = test_broker_state(b, "orders", 0);
  }
  assert_int_equal(now.high_watermark, 3);  /* every follower copied it: none paused */
  for (int r = 0; r < now.nreplicas; r++) assert_true(now.replicas[r].in_isr);
  int id = -1;
  assert_int_equal(mk_broker_fault(b, "{\"action\":\"delay\",\"ms\":1,\"count\":1}", &id, &err), 0);
  assert_int_equal(id, 1);
  stop(b);
}

static void test_reset_closes_the_clients_connections(void **state) {
  (void)state;
  struct mk_broker *b = start(NULL);
  struct raw_client c[3];
  for (int i = 0; i < 3; i++) assert_int_equal(raw_client_connect(&c[i], mk_broker_port(b, i)), 0);
  init_producer_id(b);  /* the connections are served before the reset */
  struct mk_err err = {0};
  assert_int_equal(mk_broker_reset(b, &err), 0);
  for (int i = 0; i < 3; i++) {
    assert_true(raw_client_closed_by_peer(&c[i], 2000));
    raw_client_close(&c[i]);
  }
  /* ... and it still listens: a new client is served */
  assert_int_equal(init_producer_id(b), 1000);
  stop(b);
}

/* A --faults script starts over: its "after" counts from zero again. */
static void test_reset_starts_the_fault_script_over(void **state) {
  (void)state;
  char path[] = "/tmp/test_broker_reset_faults_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  static const char script[] =
      "# the 2nd Produce request gets an error\n"
      "{\"after\": {\"api\": \"Produce\", \"count\": 1}, \"action\": \"error\", \"api\": "
      "\"Produce\", \"error\": \"NOT_LEADER_OR_FOLLOWER\", \"count\": 1}\n";
  assert_int_equal(write(fd, script, sizeof script - 1), (ssize_t)(sizeof script - 1));
  close(fd);
  struct mk_broker *b = start(path);
  struct mk_err err = {0};
  for (int round = 0; round < 2; round++) {
    test_broker_create_topic(b, "scripted", 1, 3, NULL);
    assert_int_equal(produce(b, "scripted", -1, -1, 1), 0);
    assert_int_equal(produce(b, "scripted", -1, -1, 1), MK_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(produce(b, "scripted", -1, -1, 1), 0);
    assert_int_equal(mk_broker_reset(b, &err), 0);
  }
  stop(b);
  unlink(path);
}

/* ---- the hooks ----------------------------------------------------------------------------- */

static char hook_log[256];

static void note(const char *what, struct mk_broker *b) {
  int topics = 0;
  for (struct mk_topic *t = b->cluster.topics; t; t = t->next) topics++;
  snprintf(hook_log + strlen(hook_log), sizeof hook_log - strlen(hook_log), "%s:%d ", what, topics);
}

static void clear_a(struct mk_broker *b, void *arg) { (void)arg; note("clear-a", b); }
static void clear_b(struct mk_broker *b, void *arg) { (void)arg; note("clear-b", b); }
/* These run on the broker's loop: they record what happened, the test asserts after. */
static int start_a_rc = -1;
static void start_a(struct mk_broker *b, void *arg) {
  (void)arg;
  note("start-a", b);
  /* a subsystem that creates its internal topic at start does it here */
  struct mk_topic *t;
  struct mk_err err = {0};
  start_a_rc = mk_cluster_create_topic(&b->cluster, mk_str_of("__internal"), 2, 3, &t, &err);
}

static void add_hooks(struct mk_broker *b, void *arg) {
  int *rc = arg;
  rc[0] = mk_reset_hook_add(b, &(struct mk_reset_hook){"a", clear_a, start_a, NULL});
  rc[1] = mk_reset_hook_add(b, &(struct mk_reset_hook){"b", clear_b, NULL, NULL});
}

static void fill_hooks(struct mk_broker *b, void *arg) {
  int *refused = arg;
  while (mk_reset_hook_add(b, &(struct mk_reset_hook){"more", NULL, NULL, NULL}) == 0) {}
  *refused = b->nreset_hooks;
}

static void test_hooks_clear_before_the_topics_go_and_start_after(void **state) {
  (void)state;
  struct mk_broker *b = start(NULL);
  int added[2] = {-1, -1};
  assert_int_equal(mk_broker_call(b, add_hooks, added), 0);
  assert_int_equal(added[0], 0);
  assert_int_equal(added[1], 0);
  test_broker_create_topic(b, "t1", 1, 3, NULL);
  test_broker_create_topic(b, "t2", 1, 3, NULL);
  hook_log[0] = '\0';
  struct mk_err err = {0};
  assert_int_equal(mk_broker_reset(b, &err), 0);
  assert_string_equal(hook_log, "clear-a:2 clear-b:2 start-a:0 ");
  assert_int_equal(start_a_rc, 0);
  char *cluster = mk_broker_cluster_json(b);
  assert_true(contains(cluster, "\"name\":\"__internal\""));  /* what a start hook made stays */
  assert_false(contains(cluster, "\"name\":\"t1\""));
  free(cluster);
  int hooks = 0;
  assert_int_equal(mk_broker_call(b, fill_hooks, &hooks), 0);
  assert_int_equal(hooks, MK_RESET_MAX_HOOKS);  /* full: refused, not overrun */
  stop(b);
}

/* ---- the trace a replay reads --------------------------------------------------------------- */

static void test_reset_in_the_trace(void **state) {
  (void)state;
  struct mk_broker *b = start(NULL);
  test_broker_create_topic(b, "traced", 1, 3, NULL);
  test_broker_fault(b, "{\"action\":\"broker_down\",\"broker\":1}");
  capture_start("\"side\":\"broker\"", NULL);
  struct mk_err err = {0};
  assert_int_equal(mk_broker_reset(b, &err), 0);
  int del = capture_find(0, "\"event\":\"topic_delete\"", "\"topic\":\"traced\"");
  int up = capture_find(0, "\"event\":\"broker_up\"", "\"broker\":1");
  int reset = capture_find(0, "\"event\":\"reset\"", NULL);
  int state_after = capture_find(reset + 1, "\"event\":\"broker_state\"", NULL);
  assert_true(del >= 0 && up > del && reset > up && state_after > reset);
  assert_int_equal(capture_count("\"event\":\"broker_state\"", "\"up\":true"), 3);
  assert_int_equal(capture_count("\"event\":\"reset\"", NULL), 1);
  capture_stop();
  stop(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reset_leaves_a_just_started_broker),
      cmocka_unit_test(test_reset_closes_the_clients_connections),
      cmocka_unit_test(test_reset_starts_the_fault_script_over),
      cmocka_unit_test(test_hooks_clear_before_the_topics_go_and_start_after),
      cmocka_unit_test(test_reset_in_the_trace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
