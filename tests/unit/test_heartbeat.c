/*
 * Tests for consumer/heartbeat.c's clocks (Java's Heartbeat), on made-up times: when a
 * heartbeat is due, how a failure backs off, when the session is lost, and when the
 * application has not polled for max.poll.interval.ms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "consumer/heartbeat.h"

/* session 10000, interval 3000, max poll interval 60000, retry backoff 100; now = 1000 */
static struct mk_heartbeat fresh(void) {
  struct mk_heartbeat h;
  mk_heartbeat_init(&h, 10000, 3000, 60000, 100, 1000);
  return h;
}

static void test_heartbeat_due_every_interval(void **state) {
  (void)state;
  struct mk_heartbeat h = fresh();
  assert_false(mk_heartbeat_should_heartbeat(&h, 3999));
  assert_int_equal(mk_heartbeat_time_to_next(&h, 2000), 2000);
  assert_true(mk_heartbeat_should_heartbeat(&h, 4000));
  mk_heartbeat_sent(&h, 4000);
  assert_true(h.in_flight);
  assert_false(mk_heartbeat_should_heartbeat(&h, 6999));
  assert_true(mk_heartbeat_should_heartbeat(&h, 7000));
  assert_int_equal(mk_heartbeat_time_to_next(&h, 8000), 0);
}

static void test_failure_retries_after_backoff(void **state) {
  (void)state;
  struct mk_heartbeat h = fresh();
  mk_heartbeat_sent(&h, 4000);
  mk_heartbeat_failed(&h, 4050);
  assert_false(h.in_flight);
  assert_false(mk_heartbeat_should_heartbeat(&h, 4149));
  assert_true(mk_heartbeat_should_heartbeat(&h, 4150));
}

static void test_session_lost_without_answers(void **state) {
  (void)state;
  struct mk_heartbeat h = fresh();
  assert_false(mk_heartbeat_session_expired(&h, 10999));
  assert_true(mk_heartbeat_session_expired(&h, 11000));
  /* an answer (even REBALANCE_IN_PROGRESS) proves the session */
  mk_heartbeat_sent(&h, 4000);
  mk_heartbeat_received(&h, 4010);
  assert_false(mk_heartbeat_session_expired(&h, 14009));
  assert_true(mk_heartbeat_session_expired(&h, 14010));
  /* failures do not */
  mk_heartbeat_failed(&h, 5000);
  assert_true(mk_heartbeat_session_expired(&h, 14010));
}

static void test_poll_interval(void **state) {
  (void)state;
  struct mk_heartbeat h = fresh();
  assert_false(mk_heartbeat_poll_expired(&h, 60999));
  assert_true(mk_heartbeat_poll_expired(&h, 61000));
  mk_heartbeat_poll(&h, 50000);
  assert_false(mk_heartbeat_poll_expired(&h, 109999));
  assert_true(mk_heartbeat_poll_expired(&h, 110000));
  /* heartbeats do not count as polls: the thread alone cannot keep a stuck app in */
  mk_heartbeat_sent(&h, 100000);
  mk_heartbeat_received(&h, 100001);
  assert_true(mk_heartbeat_poll_expired(&h, 110000));
}

static void test_reset_restarts_all_three(void **state) {
  (void)state;
  struct mk_heartbeat h = fresh();
  mk_heartbeat_sent(&h, 4000);
  mk_heartbeat_reset_timeouts(&h, 200000);
  assert_false(h.in_flight);
  assert_false(mk_heartbeat_session_expired(&h, 209999));
  assert_false(mk_heartbeat_poll_expired(&h, 259999));
  assert_false(mk_heartbeat_should_heartbeat(&h, 202999));
  assert_true(mk_heartbeat_should_heartbeat(&h, 203000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_heartbeat_due_every_interval),
      cmocka_unit_test(test_failure_retries_after_backoff),
      cmocka_unit_test(test_session_lost_without_answers),
      cmocka_unit_test(test_poll_interval),
      cmocka_unit_test(test_reset_restarts_all_three),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
