/* An embedded broker for tests; see test_broker.h. */
#include "tests/support/test_broker.h"

#include <stdarg.h>
#include <stdio.h>

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
