/*
 * The fault script (broker/fault_script.c) on its own, as the proxy uses it: no broker, a
 * loop of the test's and an inject function that records what it is given. And the fault
 * list (broker/faults.c) over targets of the test's (struct mk_fault_targets), as the proxy
 * gives it a real cluster's brokers and topics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "broker/fault_script.h"
#include "broker/faults.h"
#include "protocol/api.h"

/* ---- an owner that records ----------------------------------------------------------------- */

static char fired[8][256];
static int nfired;
static int refuse_next;

static int record(void *owner, const char *json, size_t len, int *id, struct mk_err *err) {
  assert_ptr_equal(owner, &nfired);
  if (refuse_next) {
    refuse_next = 0;
    return mk_err_set(err, MK_ERR__INVALID_ARG, "refused by the test");
  }
  if (nfired < 8) snprintf(fired[nfired], sizeof fired[0], "%.*s", (int)len, json);
  *id = ++nfired;
  return 0;
}

static char *write_script(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/mk-fault-script-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void test_lines_fire_on_time_and_on_count_through_the_owners_function(void **state) {
  (void)state;
  nfired = 0;
  char *path = write_script(
      "# comments and blank lines are skipped\n\n"
      "{\"at_ms\": 60, \"action\": \"broker_up\", \"broker\": 1}\n"
      "{\"at_ms\": 20, \"action\": \"broker_down\", \"broker\": 1}\n"
      "{\"after\": {\"api\": \"Produce\", \"count\": 2}, \"action\": \"delay\", \"ms\": 5}\n");
  struct mk_fault_script *s = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_fault_script_load(path, "test", &s, &err), 0);
  unlink(path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  mk_fault_script_start(s, &loop, record, &nfired);
  mk_fault_script_on_request(s, MK_API_PRODUCE);
  mk_fault_script_on_request(s, MK_API_FETCH);
  assert_int_equal(nfired, 0);
  mk_fault_script_on_request(s, MK_API_PRODUCE);  /* the second Produce: the after line */
  assert_int_equal(nfired, 1);
  assert_string_equal(fired[0], "{\"action\":\"delay\",\"ms\":5}");
  mk_fault_script_on_request(s, MK_API_PRODUCE);  /* fired once only */
  assert_int_equal(nfired, 1);
  /* The clock lines, in time order (not file order), with their triggers taken off. */
  for (int i = 0; i < 100 && nfired < 3; i++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(nfired, 3);
  assert_string_equal(fired[1], "{\"action\":\"broker_down\",\"broker\":1}");
  assert_string_equal(fired[2], "{\"action\":\"broker_up\",\"broker\":1}");
  uv_walk(&loop, close_handle, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  mk_fault_script_free(s);
}

static void test_a_refused_fault_is_a_log_line_and_the_rest_still_fire(void **state) {
  (void)state;
  nfired = 0;
  refuse_next = 1;
  char *path = write_script(
      "{\"after\": {\"api\": \"Metadata\", \"count\": 1}, \"action\": \"x\"}\n"
      "{\"after\": {\"api\": \"Metadata\", \"count\": 1}, \"action\": \"y\"}\n");
  struct mk_fault_script *s = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_fault_script_load(path, "test", &s, &err), 0);
  unlink(path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  mk_fault_script_start(s, &loop, record, &nfired);
  mk_fault_script_on_request(s, MK_API_METADATA);
  assert_int_equal(nfired, 1);
  assert_string_equal(fired[0], "{\"action\":\"y\"}");
  assert_int_equal(uv_loop_close(&loop), 0);
  mk_fault_script_free(s);
}

static void test_a_bad_line_is_refused_naming_the_file_and_line(void **state) {
  (void)state;
  static const struct {
    const char *text, *expect;
  } cases[] = {
      {"{\"at_ms\": 1, \"action\": \"broker_down\"}\nnot json\n", "line 2: not JSON"},
      {"{\"action\": \"broker_down\"}\n", "line 1: needs one trigger"},
      {"{\"at_ms\": -1, \"action\": \"a\"}\n", "\"at_ms\" must be an integer >= 0"},
      {"{\"after\": {\"api\": \"Nope\", \"count\": 1}, \"action\": \"a\"}\n", "\"after\" must be"},
      {"{\"at_ms\": 1}\n", "no \"action\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *path = write_script(cases[i].text);
    struct mk_fault_script *s = (void *)1;
    struct mk_err err = {0};
    assert_int_equal(mk_fault_script_load(path, "test", &s, &err), MK_ERR__INVALID_ARG);
    assert_null(s);
    if (!strstr(err.msg, cases[i].expect) || !strstr(err.msg, path))
      fail_msg("case %zu: \"%s\"", i, err.msg);
    unlink(path);
  }
  struct mk_fault_script *s = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_fault_script_load("/nonexistent/faults.jsonl", "test", &s, &err),
                   MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "No such file"));
  assert_int_equal(mk_fault_script_load(NULL, "test", &s, &err), 0);
  assert_null(s);
}

/* ---- the fault list over targets of the test's --------------------------------------------- */

/* A cluster of brokers 1, 2, 3; topic "known" with 2 partitions; anything else unseen. */
static bool t_broker(const void *ctx, int32_t id, char *ids, size_t len) {
  (void)ctx;
  snprintf(ids, len, "1, 2, 3");
  return id >= 1 && id <= 3;
}
static int32_t t_topic(const void *ctx, struct mk_str name) {
  (void)ctx;
  return mk_str_eq(name, "known") ? 2 : MK_FAULT_TOPIC_UNSEEN;
}
static struct mk_str t_topic_name(const void *ctx, struct mk_uuid id) {
  (void)ctx;
  (void)id;
  return MK_STR_NULL;
}
static const struct mk_fault_targets targets = {NULL, t_broker, t_topic, t_topic_name};

static int arm(struct mk_fault_list *l, const char *json, struct mk_err *err) {
  struct mk_fault *f = malloc(sizeof *f);
  int rc = mk_fault_parse(json, strlen(json), f, err);
  if (!rc) rc = mk_faults_arm(l, &targets, f, err);
  if (rc) free(f);
  return rc;
}

static void test_faults_ask_the_owners_targets(void **state) {
  (void)state;
  struct mk_fault_list l = {0};
  struct mk_err err = {0};
  /* Any node id the cluster has, not only 0..N-1. */
  assert_int_equal(arm(&l, "{\"action\": \"delay\", \"ms\": 1, \"broker\": 3}", &err), 0);
  assert_int_equal(arm(&l, "{\"action\": \"delay\", \"ms\": 1, \"broker\": 7}", &err),
                   MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "unknown broker 7; brokers are 1, 2, 3");
  /* A known topic's partitions are checked; a topic not seen may exist: armed. */
  assert_int_equal(arm(&l, "{\"action\": \"error\", \"api\": \"Produce\", \"error\": "
                           "\"NOT_LEADER_OR_FOLLOWER\", \"topic\": \"known\", \"partition\": 2}",
                       &err),
                   MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "topic known has no partition 2"));
  assert_int_equal(arm(&l, "{\"action\": \"error\", \"api\": \"Produce\", \"error\": "
                           "\"NOT_LEADER_OR_FOLLOWER\", \"topic\": \"later\", \"partition\": 9}",
                       &err),
                   0);
  char *list = mk_faults_list_json(&l);
  assert_non_null(strstr(list, "\"topic\":\"later\""));
  free(list);
  mk_faults_clear(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines_fire_on_time_and_on_count_through_the_owners_function),
      cmocka_unit_test(test_a_refused_fault_is_a_log_line_and_the_rest_still_fire),
      cmocka_unit_test(test_a_bad_line_is_refused_naming_the_file_and_line),
      cmocka_unit_test(test_faults_ask_the_owners_targets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
