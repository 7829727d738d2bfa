/* An embedded broker for tests; see test_broker.h. */
#include "tests/support/test_broker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

int test_broker_start(struct mk_broker **out, ...) {
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  struct mk_err err = {0};
  int rc = 0;
  va_list ap;
  va_start(ap, out);
  for (const char *key = va_arg(ap, const char *); key && !rc; key = va_arg(ap, const char *))
    rc = mk_broker_config_set(&cfg, key, va_arg(ap, const char *), &err);
  va_end(ap);
  *out = NULL;
  if (rc || mk_broker_new(&cfg, out, &err) || mk_broker_start(*out, &err)) {
    fprintf(stderr, "broker: %s\n", err.msg);
    mk_broker_free(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

struct mk_partition_state test_broker_create_topic(struct mk_broker *b, const char *name,
                                                   int32_t partitions, int32_t replication,
                                                   const char *const *configs) {
  struct mk_err err = {0};
  if (mk_broker_create_topic(b, name, partitions, replication, configs, &err))
    fail_msg("create topic %s: %s", name, err.msg);
  return test_broker_state(b, name, 0);
}

struct mk_partition_state test_broker_state(struct mk_broker *b, const char *topic,
                                            int32_t partition) {
  struct mk_partition_state s;
  struct mk_err err = {0};
  if (mk_broker_partition_state(b, topic, partition, &s, &err))
    fail_msg("state of %s-%d: %s", topic, partition, err.msg);
  return s;
}

void test_broker_fault(struct mk_broker *b, const char *fmt, ...) {
  char json[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(json, sizeof json, fmt, ap);
  va_end(ap);
  struct mk_err err = {0};
  if (mk_broker_fault(b, json, NULL, &err)) fail_msg("fault %s: %s", json, err.msg);
}
