/*
 * The settings table (broker/config.c) behind what clients and the admin API see: every
 * broker setting in DescribeConfigs for a broker and in GET /v1/cluster's "settings", with
 * its value and where it came from; topic configs falling back to their broker setting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/broker.h"
#include "protocol/api.h"
#include "protocol/messages/describe_configs.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
enum { SOURCE_DYNAMIC_TOPIC = 1, SOURCE_STATIC_BROKER = 4, SOURCE_DEFAULT = 5 };

/* DescribeConfigs v4 (with synonyms) for one resource, every key. */
static const struct mk_describe_configs_result *describe(struct raw_client *c, int8_t type,
                                                         const char *name) {
  struct mk_describe_configs_resource res;
  mk_schema_set_defaults(&mk_describe_configs_resource_schema, &res);
  res.resource_type = type;
  res.resource_name = mk_str_of(name);
  res.configuration_keys_count = -1;
  struct mk_describe_configs_request req;
  mk_schema_set_defaults(&mk_describe_configs_request_schema, &req);
  req.resources = &res;
  req.resources_count = 1;
  req.include_synonyms = true;
  void *resp;
  assert_int_equal(raw_client_call(c, MK_API_DESCRIBE_CONFIGS, 4, &req, &resp, 5000), 0);
  const struct mk_describe_configs_response *r = resp;
  assert_int_equal(r->results_count, 1);
  assert_int_equal(r->results[0].error_code, 0);
  return &r->results[0];
}

static const struct mk_describe_configs_resource_result *
find(const struct mk_describe_configs_result *r, const char *name) {
  for (int i = 0; i < r->configs_count; i++)
    if (mk_str_eq(r->configs[i].name, name)) return &r->configs[i];
  return NULL;
}

static void test_every_broker_setting_is_described_with_its_source(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, 0)), 0);
  const struct mk_describe_configs_result *r = describe(&c, 4, "0");
  const struct mk_broker_setting *s;
  int n = 0;
  for (int i = 0; (s = mk_broker_setting_at(i)); i++, n++) {
    const struct mk_describe_configs_resource_result *got = find(r, s->name);
    if (!got) fail_msg("DescribeConfigs does not list %s", s->name);
    char want[64];
    assert_int_equal(mk_broker_config_get(mk_broker_config(broker), s->name, want, sizeof want,
                                          NULL), 0);
    if (!mk_str_eq(got->value, want))
      fail_msg("%s: DescribeConfigs says %.*s, the broker runs with %s", s->name,
               got->value.len, got->value.ptr, want);
    bool set = strcmp(s->name, "quota.producer.default") == 0 ||
               strcmp(s->name, "log.retention.check.interval.ms") == 0;
    assert_int_equal(got->config_source, set ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT);
  }
  assert_true(n >= 12);
  raw_client_close(&c);
}

static void test_a_topic_config_falls_back_to_its_broker_setting(void **state) {
  (void)state;
  const char *configs[] = {"retention.ms=60000", NULL};
  test_broker_create_topic(broker, "configured", 1, 1, configs);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, 0)), 0);
  const struct mk_describe_configs_result *r = describe(&c, 2, "configured");
  const struct mk_describe_configs_resource_result *ms = find(r, "retention.ms");
  assert_non_null(ms);
  assert_true(mk_str_eq(ms->value, "60000"));
  assert_int_equal(ms->config_source, SOURCE_DYNAMIC_TOPIC);
  assert_int_equal(ms->synonyms_count, 2);  /* the topic's own, then log.retention.ms default */
  assert_true(mk_str_eq(ms->synonyms[1].name, "log.retention.ms"));
  const struct mk_describe_configs_resource_result *bytes = find(r, "retention.bytes");
  assert_non_null(bytes);
  assert_true(mk_str_eq(bytes->value, "-1"));
  assert_int_equal(bytes->config_source, SOURCE_DEFAULT);
  raw_client_close(&c);
}

static void test_the_admin_view_lists_every_setting(void **state) {
  (void)state;
  char *text = mk_broker_cluster_json(broker);
  assert_non_null(text);
  json_t *root = json_loads(text, 0, NULL);
  free(text);
  json_t *settings = json_object_get(root, "settings");
  assert_true(json_is_object(settings));
  const struct mk_broker_setting *s;
  for (int i = 0; (s = mk_broker_setting_at(i)); i++)
    if (!json_object_get(settings, s->name)) fail_msg("/v1/cluster settings lacks %s", s->name);
  assert_int_equal(json_integer_value(json_object_get(settings, "quota.producer.default")), 5000000);
  json_decref(root);
}

static int setup(void **state) {
  (void)state;
  return test_broker_start(&broker, "quota.producer.default", "5000000",
                           "log.retention.check.interval.ms", "1000", NULL);
}

static int teardown(void **state) {
  (void)state;
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_broker_setting_is_described_with_its_source),
      cmocka_unit_test(test_a_topic_config_falls_back_to_its_broker_setting),
      cmocka_unit_test(test_the_admin_view_lists_every_setting),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
