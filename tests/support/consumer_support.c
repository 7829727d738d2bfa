/*
 * consumer_support: see consumer_support.h.
 */
#include "tests/support/consumer_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct mk_consumer *test_consumer_new(const char *bootstrap, const char *group,
                                      const char *const *kv) {
  struct mk_consumer_config *cfg = mk_consumer_config_new();
  struct mk_err err = {0};
  const char *base[] = {"bootstrap.servers", bootstrap, "group.id", group, "auto.offset.reset",
                        "earliest", "session.timeout.ms", "6000", "heartbeat.interval.ms", "300",
                        "enable.auto.commit", "false", "fetch.max.wait.ms", "100", NULL};
  for (int i = 0; base[i]; i += 2)
    if (mk_consumer_config_set(cfg, base[i], base[i + 1], &err)) fail_msg("%s", err.msg);
  for (int i = 0; kv && kv[i]; i += 2)
    if (mk_consumer_config_set(cfg, kv[i], kv[i + 1], &err)) fail_msg("%s", err.msg);
  if (mk_consumer_config_finish(cfg, &err)) fail_msg("%s", err.msg);
  struct mk_consumer *c;
  if (mk_consumer_new(cfg, &c, &err)) fail_msg("%s", err.msg);
  mk_consumer_config_free(cfg);
  return c;
}

void test_consumer_subscribe(struct mk_consumer *c, const char *topic) {
  struct mk_err err = {0};
  const char *topics[] = {topic};
  if (mk_consumer_subscribe(c, topics, 1, NULL, &err)) fail_msg("%s", err.msg);
}

int test_consumer_assigned(struct mk_consumer *c) { return mk_consumer_assignment(c, NULL, 0); }

struct mk_consumer_group_metadata test_consumer_group(struct mk_consumer *c) {
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  return g;
}
