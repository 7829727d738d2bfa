/*
 * The labs on a real cluster (labs/lab_cluster.c, `minikafka lab NAME --bootstrap-server`):
 * each lab whose lesson survives the move runs against librdkafka's mock cluster (a Kafka
 * implementation we did not write; 3 brokers, ids 1..3) through its embedded proxy, and its
 * claims are asserted from its result, as tests/unit/test_labs.c does on the embedded broker.
 *
 * The mock cannot create topics over the wire (no CreateTopics), so the lab is given a way
 * to create them through the mock's own API (mk_lab_options.create_topic); everything else
 * (producing, faults, Metadata, ListOffsets, Fetch) goes over the Kafka protocol.
 *
 * Where the mock is not Kafka, the test says so and asserts what the lab then reports: the
 * mock checks producer ids and sequence numbers only for transactional producers
 * (rd_kafka_mock_validate_records returns at once without a transactional.id), so an
 * idempotent producer's retry is written again and a batch behind a refused one is not
 * refused; it takes no topic configs (no LogAppendTime topic) and answers every Produce
 * with a log append time of its own. The labs predict these on a real cluster
 * (mk_lab_claim_unless): such a claim may fail only as predicted, and only the claims the
 * test names; the same labs hold all their claims on a cluster that implements
 * idempotence and topic configs (tests/integration/test_labs_on_a_cluster.sh runs them
 * against `minikafka broker` through the CLI).
 *
 * labs/meson.build runs one meson test per lab (the argument is a cmocka filter).
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

#include "labs/lab.h"
#include "tests/support/rdkafka_support.h"

static struct mock_cluster mock;

static int create_in_mock(void *opaque, const char *topic, int32_t partitions,
                          int32_t replication_factor) {
  (void)opaque;
  return rd_kafka_mock_topic_create(mock.cluster, topic, partitions, replication_factor) ? -1 : 0;
}

static void run_lab(const char *name, const char *const *settings, struct mk_lab_result *res) {
  const struct mk_lab *lab = mk_lab_find(name);
  assert_non_null(lab);
  int n = 0;
  while (settings && settings[n]) n++;
  const char *verbose = getenv("MK_LAB_TEST_VERBOSE");
  FILE *out = verbose && *verbose == '1' ? stdout : fopen("/dev/null", "w");
  assert_non_null(out);
  struct mk_lab_options opts = {.settings = settings, .nsettings = n, .out = out, .colour = 0,
                                .bootstrap_server = mock.bootstraps,
                                .create_topic = create_in_mock};
  int rc = mk_lab_run(lab, &opts, res);
  if (out != stdout) fclose(out);
  if (rc) fail_msg("lab %s failed: %s", name, res->err.msg);
}

static double figure(const struct mk_lab_result *res, const char *row, const char *column) {
  double v = mk_lab_result_figure(res, row, column);
  if (isnan(v)) fail_msg("the lab reported no figure %s / %s", row, column);
  return v;
}

/* Every claim held, except those whose text contains one of the `except` strings: each of
 * those failed as the lab predicted (mk_lab_claim_unless), and at least one did. */
static void assert_claims_held_except(const struct mk_lab_result *res, const char *const *except) {
  assert_true(res->nclaims > 0);
  int predicted = 0;
  for (int i = 0; i < res->nclaims; i++) {
    bool excepted = false;
    for (int k = 0; except && except[k]; k++)
      excepted |= strstr(res->claims[i].text, except[k]) != NULL;
    if (res->claims[i].held) continue;
    if (!excepted) fail_msg("claim did not hold: %s", res->claims[i].text);
    if (!res->claims[i].predicted) fail_msg("claim failed unpredicted: %s", res->claims[i].text);
    predicted++;
  }
  if (except && except[0] && predicted == 0) fail_msg("no claim failed as the mock makes it fail");
}

static int setup(void **state) {
  (void)state;
  return mock_cluster_start(&mock, 3);
}

static int teardown(void **state) {
  (void)state;
  mock_cluster_stop(&mock);
  return 0;
}

/* ---- the labs -------------------------------------------------------------------------------- */

static void test_duplicates_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=4", NULL};
  struct mk_lab_result res;
  run_lab("duplicates", settings, &res);
  /* The proxy lost the answer; the producer retried; the cluster wrote the batch again. */
  assert_int_equal(figure(&res, "idempotence off", "duplicates"), 4);
  assert_int_equal(figure(&res, "idempotence off", "appended"), 2);
  /* The mock writes an idempotent retry again too (it checks sequences only for
   * transactional producers): the lab reports the duplicates and the claim fails. */
  assert_int_equal(figure(&res, "idempotence on", "duplicates"), 4);
  assert_int_equal(figure(&res, "idempotence on", "recognised"), 0);
  static const char *const mock_gap[] = {"with idempotence", NULL};
  assert_claims_held_except(&res, mock_gap);
}

static void test_ordering_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=12", NULL};
  struct mk_lab_result res;
  run_lab("ordering", settings, &res);
  assert_true(figure(&res, "in.flight=5", "out of order") > 0);
  assert_int_equal(figure(&res, "in.flight=1", "out of order"), 0);
  assert_int_equal(figure(&res, "in.flight=1", "in log"), 12);
  static const char *const mock_gap[] = {"with idempotence", NULL};
  assert_claims_held_except(&res, mock_gap);
}

static void test_send_modes_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=40", "fault_records=6", NULL};
  struct mk_lab_result res;
  run_lab("send-modes", settings, &res);
  assert_claims_held_except(&res, NULL);
}

/* Part 3 of partitioning is a timing measurement (tests/unit/test_labs.c says why): on a
 * machine too busy to keep up (the unit suite side by side, under ASan) every partitioner's
 * batches fill alike, so the lab may run up to three times and the sticky claim must show
 * in one of them; a partitioner that does not stick fails all three. */
static bool sticky_fills_requests(const struct mk_lab_result *res) {
  return figure(res, "uniform sticky", "rec/request") > figure(res, "round-robin", "rec/request");
}

static void test_partitioning_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"keys=200", "records=600", "rate=5000", NULL};
  struct mk_lab_result res;
  for (int attempt = 0; attempt < 3; attempt++) {
    run_lab("partitioning", settings, &res);
    assert_int_equal(figure(&res, "same key", "not murmur2"), 0);
    /* Part 2: the mock cannot add partitions; topics of 4 and 6 stand in, and the keys land
     * where murmur2 puts them for those counts. */
    assert_true(figure(&res, "3 -> 4 partitions", "moved") > 0);
    assert_int_equal(figure(&res, "3 -> 4 partitions", "not murmur2"), 0);
    assert_int_equal(figure(&res, "3 -> 6 partitions", "not murmur2"), 0);
    if (sticky_fills_requests(&res)) break;
    print_message("partitioning on the mock, attempt %d: uniform sticky %.1f records/request, "
                  "round-robin %.1f (a busy machine?)\n", attempt + 1,
                  figure(&res, "uniform sticky", "rec/request"),
                  figure(&res, "round-robin", "rec/request"));
  }
  assert_claims_held_except(&res, NULL);
}

static void test_batching_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"rate=2000", "duration_ms=300", "burst=300", NULL};
  struct mk_lab_result res;
  run_lab("batching", settings, &res);
  assert_claims_held_except(&res, NULL);
}

static void test_compression_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=2000", NULL};
  struct mk_lab_result res;
  run_lab("compression", settings, &res);
  assert_claims_held_except(&res, NULL);
}

static void test_timeouts_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=20",      "block_ms=400",     "delay_ms=2000",
                                         "delivery_ms=2000", "down_records=10", NULL};
  struct mk_lab_result res;
  run_lab("timeouts", settings, &res);
  assert_int_equal(figure(&res, "brokers down", "timeouts"), 10);
  assert_claims_held_except(&res, NULL);
}

static void test_headers_interceptors_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=6", "fail_every=3", NULL};
  struct mk_lab_result res;
  run_lab("headers-interceptors", settings, &res);
  /* Part 3: the mock takes no topic configs and answers Produce with its own append time. */
  assert_int_equal(figure(&res, "timestamps", "LogAppendTime stamped"), 0);
  static const char *const mock_gap[] = {"CreateTime:", "LogAppendTime:", NULL};
  assert_claims_held_except(&res, mock_gap);
}

static void test_serialization_on_the_mock(void **state) {
  (void)state;
  static const char *const settings[] = {"records=5", NULL};
  struct mk_lab_result res;
  run_lab("serialization", settings, &res);
  assert_claims_held_except(&res, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_duplicates_on_the_mock),
      cmocka_unit_test(test_ordering_on_the_mock),
      cmocka_unit_test(test_send_modes_on_the_mock),
      cmocka_unit_test(test_partitioning_on_the_mock),
      cmocka_unit_test(test_batching_on_the_mock),
      cmocka_unit_test(test_compression_on_the_mock),
      cmocka_unit_test(test_timeouts_on_the_mock),
      cmocka_unit_test(test_headers_interceptors_on_the_mock),
      cmocka_unit_test(test_serialization_on_the_mock),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
