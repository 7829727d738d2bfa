/*
 * Tests for the trace events a replay needs (broker/state_events.c and the events added
 * for it elsewhere): from the trace alone a reader can know every broker and its address,
 * every partition's replicas, leader and ISR from its creation, which broker went down
 * before what that caused, who wrote each batch, which connection and client each response
 * went to, and which faults are armed.
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
#include "protocol/api.h"
#include "protocol/messages/produce.h"
#include "tests/support/producer_probe.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *start(void) {
  struct mk_broker *b = NULL;
  assert_int_equal(test_broker_start(&b, "replica.lag.time.max.ms", "1000", NULL), 0);
  return b;
}

static void stop(struct mk_broker *b) {
  mk_broker_stop(b);
  mk_broker_free(b);
}

/* The captured line i (freed by the caller), failing the test if there is none. */
static char *line_at(int i) {
  assert_true(i >= 0);
  char *line = capture_line(i, NULL);
  assert_non_null(line);
  return line;
}

static void test_brokers_when_the_broker_starts(void **state) {
  (void)state;
  capture_start("\"event\":\"broker_state\"", NULL);
  struct mk_broker *b = start();
  assert_int_equal(capture_count("\"event\":\"broker_state\"", NULL), 3);
  for (int id = 0; id < 3; id++) {
    char want[64];
    snprintf(want, sizeof want, "\"broker\":%d,", id);
    char *line = line_at(capture_find(0, "\"event\":\"broker_state\"", want));
    assert_int_equal(json_int(line, "port"), mk_broker_port(b, id));
    assert_non_null(strstr(line, "\"host\":\"127.0.0.1\""));
    assert_non_null(strstr(line, "\"up\":true"));
    free(line);
  }
  capture_stop();
  stop(b);
}

static void test_partitions_when_created_and_on_request(void **state) {
  (void)state;
  struct mk_broker *b = start();
  capture_start("\"event\":\"partition_state\"", NULL);
  struct mk_partition_state s = test_broker_create_topic(b, "made", 2, 3, NULL);
  assert_int_equal(capture_count("\"topic\":\"made\"", NULL), 2);
  char *line = line_at(capture_find(0, "\"topic\":\"made\"", "\"partition\":0,"));
  char want[256];
  snprintf(want, sizeof want, "\"leader\":%d,\"leader_epoch\":0,\"high_watermark\":0,"
           "\"log_start_offset\":0,\"isr\":[%d,%d,%d],\"replicas\":[{\"broker\":%d,"
           "\"log_end_offset\":0,\"paused\":false,\"lag_ms\":0},", s.leader,
           s.replicas[0].broker, s.replicas[1].broker, s.replicas[2].broker, s.replicas[0].broker);
  if (!strstr(line, want)) fail_msg("%s lacks %s", line, want);
  assert_non_null(strstr(line, "\"topic_id\":\""));
  free(line);
  /* CreatePartitions: only the new one */
  struct mk_err err = {0};
  assert_int_equal(mk_broker_create_partitions(b, "made", 3, &err), 0);
  assert_int_equal(capture_count("\"topic\":\"made\"", NULL), 3);
  assert_true(capture_find(0, "\"topic\":\"made\"", "\"partition\":2,") >= 0);
  /* mk_broker_trace_state: every partition and broker, now */
  test_broker_fault(b, "{\"action\":\"follower_pause\",\"topic\":\"made\",\"partition\":0,"
                       "\"broker\":%d}", s.followers[0]);
  capture_stop();
  capture_start("\"event\":\"partition_state\"", "\"event\":\"broker_state\"", NULL);
  assert_int_equal(mk_broker_trace_state(b), 0);
  assert_int_equal(capture_count("\"event\":\"partition_state\"", NULL), 3);
  assert_int_equal(capture_count("\"event\":\"broker_state\"", NULL), 3);
  assert_int_equal(capture_count("\"event\":\"partition_state\"", "\"paused\":true"), 1);
  capture_stop();
  stop(b);
}

/* broker_down comes before the ISR shrink and leader change it causes; broker_up before
 * the follower's return. */
static void test_broker_down_and_up_before_their_effects(void **state) {
  (void)state;
  struct mk_broker *b = start();
  struct mk_partition_state s = test_broker_create_topic(b, "moved", 1, 3, NULL);
  capture_start("\"topic\":\"moved\"", "\"event\":\"broker_", "\"event\":\"fault\"", NULL);
  test_broker_fault(b, "{\"action\":\"broker_down\",\"broker\":%d}", s.leader);
  char who[32];
  snprintf(who, sizeof who, "\"broker\":%d", s.leader);
  int down = capture_find(0, "\"event\":\"broker_down\"", who);
  int change = capture_find(0, "\"event\":\"leader_change\"", NULL);
  int fault = capture_find(0, "\"event\":\"fault\"", "broker_down");
  assert_true(down >= 0 && change > down && fault > down);
  char *line = line_at(change);
  assert_non_null(strstr(line, "\"high_watermark\":"));  /* the new leader's own HW */
  free(line);
  test_broker_fault(b, "{\"action\":\"broker_up\",\"broker\":%d}", s.leader);
  int up = capture_find(0, "\"event\":\"broker_up\"", who);
  assert_true(up > fault);
  capture_stop();
  stop(b);
}

/* Who wrote each batch, and which connection and client each response went to. */
static void test_append_and_responses_name_broker_connection_client(void **state) {
  (void)state;
  struct mk_broker *b = start();
  struct mk_partition_state s = test_broker_create_topic(b, "who", 1, 3, NULL);
  capture_start("\"event\":\"append\"", "\"event\":\"request_received\"",
                "\"event\":\"response_sent\"", NULL);
  struct raw_client c1, c2;
  assert_int_equal(raw_client_connect(&c1, mk_broker_port(b, s.leader)), 0);
  assert_int_equal(raw_client_connect(&c2, mk_broker_port(b, s.leader)), 0);
  struct mk_writer batch = {0};
  raw_client_build_batch(&batch, 2, -1, -1, -1);
  /* both connections' first request has correlation id 1: only the connection tells them apart */
  assert_non_null(raw_client_produce(&c1, "who", 0, 1, &batch, 9, 5000));
  assert_non_null(raw_client_produce(&c2, "who", 0, 1, &batch, 9, 5000));
  mk_writer_free(&batch);
  char *append = line_at(capture_find(0, "\"event\":\"append\"", NULL));
  assert_int_equal(json_int(append, "broker"), s.leader);
  free(append);
  int64_t conns[2];
  for (int k = 0, i = -1; k < 2; k++) {
    i = capture_find(i + 1, "\"event\":\"request_received\"", "\"api\":\"Produce\"");
    char *req = line_at(i);
    int resp_i = capture_find(i, "\"event\":\"response_sent\"", "\"api\":\"Produce\"");
    char *resp = line_at(resp_i);
    conns[k] = json_int(req, "connection");
    assert_true(conns[k] > 0);
    assert_int_equal(json_int(resp, "connection"), conns[k]);
    assert_int_equal(json_int(resp, "correlation_id"), json_int(req, "correlation_id"));
    assert_non_null(strstr(resp, "\"client_id\":"));
    free(req);
    free(resp);
  }
  assert_true(conns[0] != conns[1]);
  raw_client_close(&c1);
  raw_client_close(&c2);
  capture_stop();
  stop(b);
}

/* What GET /v1/faults shows can be rebuilt: armed, each firing with what is left, cleared. */
static void test_faults_armed_fired_and_cleared(void **state) {
  (void)state;
  struct mk_broker *b = start();
  struct mk_partition_state s = test_broker_create_topic(b, "faulty", 1, 3, NULL);
  capture_start("\"event\":\"fault", NULL);
  test_broker_fault(b, "{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":2,"
                       "\"mode\":\"silent\"}");
  char *armed = line_at(capture_find(0, "\"event\":\"fault_armed\"", NULL));
  assert_non_null(strstr(armed, "\"action\":\"drop_response\""));
  assert_int_equal(json_int(armed, "count"), 2);
  assert_non_null(strstr(armed, "\"mode\":\"silent\""));
  free(armed);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(b, s.leader)), 0);
  struct mk_writer batch = {0};
  raw_client_build_batch(&batch, 1, -1, -1, -1);
  assert_null(raw_client_produce(&c, "faulty", 0, 1, &batch, 9, 500));  /* no answer */
  mk_writer_free(&batch);
  raw_client_close(&c);
  char *fired = line_at(capture_find(0, "\"event\":\"fault\"", "\"action\":\"drop_response\""));
  assert_int_equal(json_int(fired, "count"), 1);  /* one firing left */
  free(fired);
  test_broker_fault(b, "{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":250}", s.followers[0]);
  char *lag = line_at(capture_find(0, "\"event\":\"fault\"", "\"action\":\"follower_lag\""));
  assert_int_equal(json_int(lag, "ms"), 250);
  free(lag);
  assert_int_equal(mk_broker_clear_faults(b), 0);
  char *cleared = line_at(capture_find(0, "\"event\":\"faults_clear\"", NULL));
  assert_int_equal(json_int(cleared, "cleared"), 2);
  free(cleared);
  capture_stop();
  stop(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_brokers_when_the_broker_starts),
      cmocka_unit_test(test_partitions_when_created_and_on_request),
      cmocka_unit_test(test_broker_down_and_up_before_their_effects),
      cmocka_unit_test(test_append_and_responses_name_broker_connection_client),
      cmocka_unit_test(test_faults_armed_fired_and_cleared),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
