/*
 * Tests for consumer/consumer_config.c (and common/config_def.c under it): Kafka's defaults,
 * Java's ConfigException sentences for bad values, the rules finish() applies across
 * settings (no group: no auto commit; client.id; heartbeat below the session; assignors we
 * have; classic protocol only; group.instance.id's characters), and .properties files
 * applied all or nothing.
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

#include "consumer/consumer_config.h"
#include "consumer/partition_assignor.h"

static struct mk_consumer_config *cfg;

static int setup(void **state) {
  (void)state;
  cfg = mk_consumer_config_new();
  return cfg ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  mk_consumer_config_free(cfg);
  cfg = NULL;
  return 0;
}

static void set_ok(const char *key, const char *value) {
  struct mk_err err = {0};
  if (mk_consumer_config_set(cfg, key, value, &err)) fail_msg("%s=%s: %s", key, value ? value : "(null)", err.msg);
}

static void set_fails(const char *key, const char *value, const char *want) {
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_config_set(cfg, key, value, &err), MK_ERR__INVALID_ARG);
  if (!strstr(err.msg, want)) fail_msg("%s=%s: \"%s\" lacks \"%s\"", key, value ? value : "(null)", err.msg, want);
}

static void finish_fails(const char *want) {
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  if (!strstr(err.msg, want)) fail_msg("finish: \"%s\" lacks \"%s\"", err.msg, want);
}

static void finish_ok(void) {
  struct mk_err err = {0};
  if (mk_consumer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
}

static void test_kafka_defaults(void **state) {
  (void)state;
  assert_int_equal(cfg->session_timeout_ms, 45000);
  assert_int_equal(cfg->heartbeat_interval_ms, 3000);
  assert_int_equal(cfg->max_poll_interval_ms, 300000);
  assert_int_equal(cfg->max_poll_records, 500);
  assert_true(cfg->enable_auto_commit);
  assert_int_equal(cfg->auto_commit_interval_ms, 5000);
  assert_int_equal(cfg->auto_offset_reset, MK_OFFSET_RESET_LATEST);
  assert_int_equal(cfg->fetch_min_bytes, 1);
  assert_int_equal(cfg->fetch_max_bytes, 52428800);
  assert_int_equal(cfg->fetch_max_wait_ms, 500);
  assert_int_equal(cfg->max_partition_fetch_bytes, 1048576);
  assert_int_equal(cfg->isolation_level, 0);
  assert_int_equal(cfg->request_timeout_ms, 30000);
  assert_int_equal(cfg->default_api_timeout_ms, 60000);
  assert_true(cfg->check_crcs);
  assert_true(cfg->allow_auto_create_topics);
  assert_null(cfg->group_id);
  assert_null(cfg->group_instance_id);
  char v[64];
  assert_int_equal(mk_consumer_config_get(cfg, "partition.assignment.strategy", v, sizeof v, NULL),
                   0);
  assert_string_equal(v, "range");
  assert_int_equal(mk_consumer_config_get(cfg, "group.id", v, sizeof v, NULL), 0);
  assert_string_equal(v, "null");
}

static void test_values_parsed_and_refused_as_java(void **state) {
  (void)state;
  set_ok("max.poll.records", " 10 ");
  assert_int_equal(cfg->max_poll_records, 10);
  set_fails("max.poll.records", "0",
            "Invalid value 0 for configuration max.poll.records: Value must be at least 1");
  set_fails("fetch.min.bytes", "abc", "Not a number of type INT");
  set_fails("fetch.min.bytes", "99999999999", "Not a number of type INT");
  set_fails("enable.auto.commit", "yes", "Expected value to be either true or false");
  set_ok("enable.auto.commit", "FALSE");
  assert_false(cfg->enable_auto_commit);
  set_fails("auto.offset.reset", "smallest", "String must be one of: latest, earliest, none");
  set_ok("auto.offset.reset", "earliest");
  assert_int_equal(cfg->auto_offset_reset, MK_OFFSET_RESET_EARLIEST);
  set_ok("isolation.level", "read_committed");
  assert_int_equal(cfg->isolation_level, 1);
  set_fails("bootstrap.servers", "nohost", "Invalid url in bootstrap.servers: nohost");
  set_fails("bootstrap.servers", "a:1,a:1", "must not be duplicated");
  set_fails("group.instance.id", "", "String must be non-empty");
  set_fails("max.poll.records", "", "Not a number");
  /* a refused value leaves the old one */
  assert_int_equal(cfg->max_poll_records, 10);
  set_fails("max.pol.records", "1", "Unknown configuration \"max.pol.records\" (did you mean "
            "\"max.poll.records\"?)");
  set_fails("no.such.thing", "1", "not a consumer setting");
  /* NULL puts the default back */
  set_ok("max.poll.records", NULL);
  assert_int_equal(cfg->max_poll_records, 500);
  assert_false(mk_consumer_config_is_set(cfg, "max.poll.records"));
}

static void test_no_group_turns_auto_commit_off(void **state) {
  (void)state;
  finish_fails("Missing required configuration \"bootstrap.servers\"");
  set_ok("bootstrap.servers", "127.0.0.1:9092");
  finish_ok();
  assert_false(cfg->enable_auto_commit);  /* defaulted on, turned off: no group */
  /* client.id "consumer-N" without a group */
  assert_int_equal(strncmp(cfg->client_id, "consumer-", 9), 0);
  assert_true(strspn(cfg->client_id + 9, "0123456789") == strlen(cfg->client_id + 9));
  set_ok("enable.auto.commit", "true");  /* said outright: Java's InvalidConfigurationException */
  finish_fails("enable.auto.commit cannot be set to true when default group id (null) is used.");
  set_ok("group.id", "g");
  finish_ok();
  assert_true(cfg->enable_auto_commit);
}

static void test_client_id_names_the_group(void **state) {
  (void)state;
  set_ok("bootstrap.servers", "127.0.0.1:9092");
  set_ok("group.id", "orders");
  finish_ok();
  assert_int_equal(strncmp(cfg->client_id, "consumer-orders-", 16), 0);
  char first[64];
  snprintf(first, sizeof first, "%s", cfg->client_id);
  finish_ok();  /* again: the same number, not a new one */
  assert_string_equal(cfg->client_id, first);
  set_ok("client.id", "mine");
  finish_ok();
  assert_string_equal(cfg->client_id, "mine");
}

static void test_group_rules(void **state) {
  (void)state;
  set_ok("bootstrap.servers", "127.0.0.1:9092");
  set_ok("group.id", "g");
  set_ok("heartbeat.interval.ms", "45000");
  finish_fails("Heartbeat must be set lower than the session timeout");
  set_ok("heartbeat.interval.ms", "1000");
  set_ok("partition.assignment.strategy", "cooperative-sticky");
  finish_fails("cooperative-sticky is not implemented");
  set_ok("partition.assignment.strategy",
         "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
  finish_fails("not implemented");
  set_ok("partition.assignment.strategy", "Nonsense");
  finish_fails("Nonsense is not a known assignor");
  set_ok("partition.assignment.strategy", "");
  finish_fails("Must configure at least one partition assigner");
  set_ok("partition.assignment.strategy", "roundrobin, RangeAssignor, roundrobin");
  finish_ok();
  assert_int_equal(cfg->num_assignors, 2);
  assert_ptr_equal(cfg->assignors[0], &mk_round_robin_assignor);
  assert_ptr_equal(cfg->assignors[1], &mk_range_assignor);
  set_ok("group.protocol", "consumer");
  finish_fails("KIP-848");
  set_ok("group.protocol", "classic");
  set_ok("group.instance.id", "has space");
  finish_fails("is illegal");
  set_ok("group.instance.id", "worker-1.a_b");
  finish_ok();
}

static void test_properties_file_all_or_nothing(void **state) {
  (void)state;
  char path[] = "/tmp/mk-consumer-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "group.id=from-file\nmax.poll.records=7\nfetch.min.bytes=nope\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  struct mk_err err = {0};
  assert_int_equal(mk_consumer_config_load_file(cfg, path, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, ":3:"));
  assert_null(cfg->group_id);  /* nothing applied */
  assert_int_equal(cfg->max_poll_records, 500);
  FILE *f = fopen(path, "w");
  fputs("group.id=from-file\nmax.poll.records=7\n", f);
  fclose(f);
  assert_int_equal(mk_consumer_config_load_file(cfg, path, &err), 0);
  assert_string_equal(cfg->group_id, "from-file");
  assert_int_equal(cfg->max_poll_records, 7);
  unlink(path);
}

static void test_dup_is_deep(void **state) {
  (void)state;
  set_ok("bootstrap.servers", "127.0.0.1:9092,127.0.0.1:9093");
  set_ok("group.id", "g");
  finish_ok();
  struct mk_consumer_config *copy = mk_consumer_config_dup(cfg);
  assert_non_null(copy);
  set_ok("group.id", "other");
  assert_string_equal(copy->group_id, "g");
  assert_int_equal(copy->bootstrap_servers.n, 2);
  assert_true(copy->finished);
  assert_int_equal(copy->num_assignors, 1);
  mk_consumer_config_free(copy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kafka_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_values_parsed_and_refused_as_java, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_group_turns_auto_commit_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_id_names_the_group, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_properties_file_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dup_is_deep, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
