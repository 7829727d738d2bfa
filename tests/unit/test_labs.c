/*
 * Tests for the labs (labs/): every lab runs with small sizes and its key claim is asserted
 * from its result (the figures it reports), never from the text it prints. Issue "labs":
 *   tour        the record lands at the offset and partition murmur2 says; one copy after a
 *               lost response; keyless records stick to one partition
 *   acks        acks=1 loses acknowledged records when the leader dies with lagging
 *               followers; acks=all (min.insync.replicas=2) loses none
 *   duplicates  a lost response makes duplicates without idempotence, none with it
 *   ordering    a retry reorders at max.in.flight=5 without idempotence, never with it
 * and the runner itself: where --set settings go, and the timeline's summaries.
 *
 * labs/meson.build registers one meson test per group (the argument is a cmocka filter),
 * so the labs run in parallel. MK_LAB_TEST_VERBOSE=1 shows each lab's output.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/cluster.h"
#include "labs/lab.h"
#include "labs/timeline.h"
#include "protocol/murmur2.h"

/* Run lab `name` with settings (NULL-terminated), output hidden unless MK_LAB_TEST_VERBOSE. */
static void run_lab(const char *name, const char *const *settings, struct mk_lab_result *res) {
  const struct mk_lab *lab = mk_lab_find(name);
  assert_non_null(lab);
  int n = 0;
  while (settings && settings[n]) n++;
  const char *verbose = getenv("MK_LAB_TEST_VERBOSE");
  FILE *out = verbose && *verbose == '1' ? stdout : fopen("/dev/null", "w");
  assert_non_null(out);
  struct mk_lab_options opts = {.settings = settings, .nsettings = n, .out = out, .colour = 0};
  int rc = mk_lab_run(lab, &opts, res);
  if (out != stdout) fclose(out);
  if (rc) fail_msg("lab %s failed: %s", name, res->err.msg);
}

static double figure(const struct mk_lab_result *res, const char *row, const char *column) {
  double v = mk_lab_result_figure(res, row, column);
  if (isnan(v)) fail_msg("the lab reported no figure %s / %s", row, column);
  return v;
}

static void assert_claims_held(const struct mk_lab_result *res) {
  assert_true(res->nclaims > 0);
  for (int i = 0; i < res->nclaims; i++)
    if (!res->claims[i].held) fail_msg("claim did not hold: %s", res->claims[i].text);
}

/* ---- the labs -------------------------------------------------------------------------- */

static void test_tour_record_lands_at_offset_0_of_its_key_partition(void **state) {
  (void)state;
  static const char *const settings[] = {"keyless=10", NULL};
  struct mk_lab_result res;
  run_lab("tour", settings, &res);
  assert_int_equal((int)figure(&res, "journey", "offset"), 0);
  assert_int_equal((int)figure(&res, "journey", "partition"), mk_murmur2_partition("hello", 5, 3));
  assert_int_equal((int)figure(&res, "journey", "HW before response"), 1);
  assert_int_equal((int)figure(&res, "same key", "partitions used"), 1);
  assert_int_equal((int)figure(&res, "no key", "partitions used"), 1);
  assert_true(figure(&res, "lost response", "retries") >= 1);
  assert_true(figure(&res, "lost response", "recognised") >= 1);
  assert_int_equal((int)figure(&res, "lost response", "copies in log"), 1);
  assert_claims_held(&res);
}

static void test_acks_1_loses_acknowledged_records_and_acks_all_does_not(void **state) {
  (void)state;
  static const char *const settings[] = {"records=8", "lag_ms=20", "failover_records=10",
                                         "failover_lag_ms=1000", NULL};
  struct mk_lab_result res;
  run_lab("acks", settings, &res);
  /* Part 2: the claim of the lab. */
  assert_true(figure(&res, "acks=1", "lost") > 0);
  assert_int_equal((int)figure(&res, "acks=1", "acked"), 10);
  assert_int_equal((int)figure(&res, "acks=all", "lost"), 0);
  assert_int_equal((int)figure(&res, "acks=all", "acked"), 10);
  assert_true(figure(&res, "acks=all", "acked before crash") < 10);  /* it had to retry some */
  assert_true(figure(&res, "acks=0", "lost") > 0);
  /* Part 1: acks=all waits for the followers; every acks waits for them end to end. */
  assert_true(figure(&res, "acks=all", "send p50 ms") >= 15);
  assert_true(figure(&res, "acks=1", "send p50 ms") < 10);
  for (int m = 0; m < 3; m++) {
    static const char *const rows[] = {"acks=0", "acks=1", "acks=all"};
    assert_true(figure(&res, rows[m], "e2e p50 ms") >= 15);
    assert_int_equal((int)figure(&res, rows[m], "failed"), 0);
  }
  assert_claims_held(&res);
}

static void test_duplicates_without_idempotence_and_none_with_it(void **state) {
  (void)state;
  static const char *const settings[] = {"records=4", NULL};
  struct mk_lab_result res;
  run_lab("duplicates", settings, &res);
  assert_true(figure(&res, "idempotence off", "duplicates") > 0);
  assert_int_equal((int)figure(&res, "idempotence off", "duplicates"), 4);
  assert_int_equal((int)figure(&res, "idempotence off", "appended"), 2);
  assert_int_equal((int)figure(&res, "idempotence on", "duplicates"), 0);
  assert_int_equal((int)figure(&res, "idempotence on", "in log"), 4);
  assert_true(figure(&res, "idempotence on", "recognised") >= 1);
  assert_int_equal((int)figure(&res, "idempotence on", "appended"), 1);
  assert_int_equal((int)figure(&res, "idempotence off", "failed"), 0);
  assert_int_equal((int)figure(&res, "idempotence on", "failed"), 0);
  assert_claims_held(&res);
}

static void test_ordering_reorders_without_idempotence_never_with_it(void **state) {
  (void)state;
  static const char *const settings[] = {"records=12", NULL};
  struct mk_lab_result res;
  run_lab("ordering", settings, &res);
  assert_true(figure(&res, "in.flight=5", "out of order") > 0);
  assert_true(figure(&res, "in.flight=5", "max in flight") > 1);
  assert_int_equal((int)figure(&res, "in.flight=1", "out of order"), 0);
  assert_int_equal((int)figure(&res, "in.flight=1", "max in flight"), 1);
  assert_int_equal((int)figure(&res, "idempotent, in.flight=5", "out of order"), 0);
  assert_true(figure(&res, "idempotent, in.flight=5", "max in flight") > 1);
  static const char *const rows[] = {"in.flight=5", "in.flight=1", "idempotent, in.flight=5"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal((int)figure(&res, rows[i], "in log"), 12);  /* nothing lost or doubled */
    assert_int_equal((int)figure(&res, rows[i], "failed"), 0);
  }
  assert_claims_held(&res);
}

/* ---- the runner: settings -------------------------------------------------------------- */

/* A lab that reports where the settings went. */
static int settings_probe(struct mk_lab_ctx *ctx) {
  mk_lab_figure(ctx, "lab", "n", (double)mk_lab_param(ctx, "n"));
  int rc = mk_lab_broker_start(ctx, NULL);
  if (rc) return rc;
  struct mk_producer_config *cfg;
  const char *kv[] = {"linger.ms=3", "acks=1", NULL};  /* the scenario's; the user's win */
  if ((rc = mk_lab_producer_config(ctx, kv, &cfg))) return rc;
  mk_lab_figure(ctx, "producer", "linger.ms", (double)cfg->linger_ms);
  mk_lab_figure(ctx, "producer", "acks", cfg->acks);
  mk_lab_figure(ctx, "producer", "compression.type", cfg->compression_type);
  mk_producer_config_free(cfg);
  struct mk_broker *b = mk_lab_broker(ctx);
  mk_lab_figure(ctx, "broker", "min.insync.replicas", b->cfg.min_insync_replicas);
  mk_lab_figure(ctx, "broker", "brokers", b->cfg.brokers);
  mk_lab_figure(ctx, "user", "linger.ms set", mk_lab_user_set(ctx, "linger.ms"));
  return 0;
}

static const struct mk_lab_param probe_params[] = {{"n", "5", "a number"}, {NULL, NULL, NULL}};
static const struct mk_lab probe = {"probe", "where settings go", probe_params, settings_probe};

static int run_probe(const char *const *settings, int n, struct mk_lab_result *res) {
  FILE *out = fopen("/dev/null", "w");
  struct mk_lab_options opts = {.settings = settings, .nsettings = n, .out = out, .colour = 0};
  int rc = mk_lab_run(&probe, &opts, res);
  fclose(out);
  return rc;
}

static void test_settings_go_to_lab_producer_or_broker(void **state) {
  (void)state;
  static const char *const settings[] = {
      "n=9", "linger.ms=7", "min.insync.replicas=1", "broker.brokers=2", "compression.type=lz4",
      NULL};
  struct mk_lab_result res;
  assert_int_equal(run_probe(settings, 5, &res), 0);
  assert_int_equal((int)figure(&res, "lab", "n"), 9);
  assert_int_equal((int)figure(&res, "producer", "linger.ms"), 7);  /* the user's, not the 3 */
  assert_int_equal((int)figure(&res, "producer", "acks"), 1);      /* the scenario's */
  assert_int_equal((int)figure(&res, "producer", "compression.type"), 3);  /* lz4: the producer's */
  assert_int_equal((int)figure(&res, "broker", "min.insync.replicas"), 1);
  assert_int_equal((int)figure(&res, "broker", "brokers"), 2);
  assert_int_equal((int)figure(&res, "user", "linger.ms set"), 1);
}

static void test_settings_defaults_apply_without_set(void **state) {
  (void)state;
  struct mk_lab_result res;
  assert_int_equal(run_probe(NULL, 0, &res), 0);
  assert_int_equal((int)figure(&res, "lab", "n"), 5);
  assert_int_equal((int)figure(&res, "producer", "linger.ms"), 3);
  assert_int_equal((int)figure(&res, "broker", "min.insync.replicas"), 2);
  assert_int_equal((int)figure(&res, "broker", "brokers"), 3);
  assert_int_equal((int)figure(&res, "user", "linger.ms set"), 0);
}

static void test_settings_bad_ones_are_refused_before_the_lab_runs(void **state) {
  (void)state;
  static const char *const bad[][2] = {
      {"no.such.setting=1", "unknown setting"},
      {"linger.ms=abc", "linger.ms"},
      {"n=many", "whole number"},
      {"lab.linger.ms=1", "not a parameter"},
      {"broker.linger.ms=1", "not a broker"},
      {"producer.min.insync.replicas=1", "not a producer"},
      {"noequals", "key=value"},
      {"broker.brokers=99", "brokers"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct mk_lab_result res;
    const char *settings[] = {bad[i][0], NULL};
    assert_int_not_equal(run_probe(settings, 1, &res), 0);
    assert_true(res.bad_setting);
    assert_int_equal(res.nfigures, 0);  /* the lab never ran */
    if (!strstr(res.err.msg, bad[i][1]))
      fail_msg("%s: \"%s\" does not mention %s", bad[i][0], res.err.msg, bad[i][1]);
  }
}

static void test_every_lab_is_listed_with_a_summary_and_a_unique_name(void **state) {
  (void)state;
  int n = 0;
  for (int i = 0; mk_labs[i]; i++, n++) {
    assert_non_null(mk_labs[i]->summary);
    assert_true(strlen(mk_labs[i]->summary) > 10);
    assert_ptr_equal(mk_lab_find(mk_labs[i]->name), mk_labs[i]);
  }
  assert_true(n >= 4);
  assert_null(mk_lab_find("no-such-lab"));
}

/* ---- the timeline ---------------------------------------------------------------------- */

static char *render(const char *const *lines, size_t n, size_t max_events) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  struct mk_timeline_options o = {
      .out = out, .colour = false, .width = 120, .max_events = max_events};
  mk_timeline_render(&o, "title", lines, n);
  fclose(out);
  return text;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void test_timeline_puts_each_side_in_its_lane_in_time_order(void **state) {
  (void)state;
  static const char *const lines[] = {
      "{\"ts_us\":3000,\"side\":\"broker\",\"event\":\"append\",\"topic\":\"t\",\"partition\":0,"
      "\"base_offset\":0,\"last_offset\":0,\"records\":1,\"producer_id\":-1}",
      "{\"ts_us\":1000,\"side\":\"producer\",\"event\":\"send\",\"topic\":\"t\",\"key\":\"k\",\"key_bytes\":1,\"value_bytes\":2}",
      "not json",
      "{\"ts_us\":2000,\"side\":\"broker\",\"event\":\"request_received\",\"api\":\"Metadata\"}",
  };
  char *text = render(lines, 4, 0);
  const char *send = strstr(text, "send to t"), *append = strstr(text, "append t-0: offsets 0..0");
  assert_non_null(send);
  assert_non_null(append);
  assert_true(send < append);              /* sorted by ts_us */
  assert_null(strstr(text, "Metadata v"));  /* plumbing hidden */
  assert_non_null(strstr(text, "1 Metadata/ApiVersions events hidden"));
  const char *line = append;
  while (line > text && line[-1] != '\n') line--;
  const char *bar = strstr(line, "│");
  assert_true(bar && bar < append);                  /* the broker's lane is the right one */
  assert_non_null(strstr(text, "     0.000  send"));  /* relative ms */
  assert_non_null(strstr(text, "     2.000 "));
  free(text);
}

static void test_timeline_summarises_long_runs_but_keeps_notable_events(void **state) {
  (void)state;
  enum { N = 2000 };
  char **lines = calloc(N, sizeof *lines);
  for (int i = 0; i < N; i++) {
    char buf[256];
    if (i == 1234)
      snprintf(buf, sizeof buf,
               "{\"ts_us\":%d,\"side\":\"producer\",\"event\":\"retry\",\"topic\":\"t\","
               "\"partition\":0,\"batch_id\":7,\"error\":\"NETWORK_EXCEPTION\",\"attempt\":1}",
               i);
    else
      snprintf(buf, sizeof buf,
               "{\"ts_us\":%d,\"side\":\"producer\",\"event\":\"send\",\"topic\":\"t\","
               "\"key_bytes\":-1,\"value_bytes\":10}",
               i);
    lines[i] = strdup(buf);
  }
  char *text = render((const char *const *)lines, N, 48);
  assert_true(count_lines(text) < 80);
  assert_non_null(strstr(text, "retry batch #7"));  /* the notable one survives */
  assert_non_null(strstr(text, "more: producer: send"));
  assert_non_null(strstr(text, "of 2000 events drawn"));
  free(text);
  text = render((const char *const *)lines, N, 0);  /* --full */
  assert_true(count_lines(text) >= N);
  free(text);
  for (int i = 0; i < N; i++) free(lines[i]);
  free(lines);
}

static void test_timeline_describes_unknown_events_by_their_fields(void **state) {
  (void)state;
  json_t *ev = json_loads(
      "{\"ts_us\":1,\"side\":\"broker\",\"event\":\"new_thing\",\"x\":3,\"y\":\"z\"}", 0, NULL);
  char buf[256];
  mk_timeline_describe(ev, buf, sizeof buf);
  assert_string_equal(buf, "new_thing x=3 y=z");
  json_decref(ev);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tour_record_lands_at_offset_0_of_its_key_partition),
      cmocka_unit_test(test_acks_1_loses_acknowledged_records_and_acks_all_does_not),
      cmocka_unit_test(test_duplicates_without_idempotence_and_none_with_it),
      cmocka_unit_test(test_ordering_reorders_without_idempotence_never_with_it),
      cmocka_unit_test(test_settings_go_to_lab_producer_or_broker),
      cmocka_unit_test(test_settings_defaults_apply_without_set),
      cmocka_unit_test(test_settings_bad_ones_are_refused_before_the_lab_runs),
      cmocka_unit_test(test_every_lab_is_listed_with_a_summary_and_a_unique_name),
      cmocka_unit_test(test_timeline_puts_each_side_in_its_lane_in_time_order),
      cmocka_unit_test(test_timeline_summarises_long_runs_but_keeps_notable_events),
      cmocka_unit_test(test_timeline_describes_unknown_events_by_their_fields),
  };
  /* An argument picks the tests whose names contain it: "tour", "settings", "timeline". */
  char filter[128];
  if (argc > 1) {
    snprintf(filter, sizeof filter, "*%s*", argv[1]);
    cmocka_set_test_filter(filter);
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
