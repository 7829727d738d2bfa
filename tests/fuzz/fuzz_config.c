/*
 * Fuzz target: every parser of settings a user types (broker/config.c: -o key=value and
 * topic configs; producer/producer_config.c: --producer-property and .properties files via
 * common/properties.c; labs/lab.c: `minikafka lab NAME --set key=value`). Run it as
 * described in tests/fuzz/README.md.
 *
 * The input, cut into lines, is a list of "key=value" settings (a line without '=' is a
 * key with an empty value), given to each parser in turn; the whole input is also read as
 * a Java .properties file into a producer config. The first byte picks the lab whose
 * --set rules apply. Properties:
 *   - a refusal comes with a message (non-empty and NUL-terminated);
 *   - a broker or producer setting that was accepted reads back (..._get) as text that sets
 *     it again to the same value: what --help, DescribeConfigs and the admin API show can
 *     be typed back in (except "null", an unset class or string, as in Java);
 *   - finishing a producer config (the rules across settings) refuses or accepts, never
 *     crashes, whatever the settings before it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster.h"
#include "broker/config.h"
#include "common/log.h"
#include "common/properties.h"
#include "labs/lab.h"
#include "producer/producer_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

enum { MAX_LINES = 8 };  /* each unknown key costs a "did you mean" search */

static void die(const char *what, const char *key, const char *value) {
  fprintf(stderr, "fuzz_config: %s: \"%.200s\" = \"%.200s\"\n", what, key, value);
  abort();
}

static void check_refusal(int rc, const struct mk_err *err, const char *key, const char *value) {
  if (rc && (err->msg[0] == '\0' || !memchr(err->msg, '\0', sizeof err->msg)))
    die("a refusal without a message", key, value);
}

static void broker_setting(struct mk_broker_config *cfg, const char *key, const char *value) {
  struct mk_err err = {0};
  int rc = mk_broker_config_set(cfg, key, value, &err);
  check_refusal(rc, &err, key, value);
  if (rc) return;
  char shown[64], again[64];
  if (mk_broker_config_get(cfg, key, shown, sizeof shown, &err)) die("accepted, then unknown", key, value);
  if (mk_broker_config_set(cfg, key, shown, &err)) die("what it shows does not set it again", key, shown);
  mk_broker_config_get(cfg, key, again, sizeof again, &err);
  if (strcmp(shown, again) != 0) die("setting what it shows changed it", key, shown);
}

static void producer_setting(struct mk_producer_config *cfg, const char *key, const char *value) {
  struct mk_err err = {0};
  int rc = mk_producer_config_set(cfg, key, value, &err);
  check_refusal(rc, &err, key, value);
  if (rc) return;
  char shown[512], again[512];
  if (mk_producer_config_get(cfg, key, shown, sizeof shown, &err)) return;  /* write-only ones */
  if (strlen(shown) + 1 >= sizeof shown) return;                         /* cut: cannot compare */
  if (strcmp(shown, "null") == 0) return;  /* unset, shown as Java shows it (not typeable there either) */
  if (mk_producer_config_set(cfg, key, shown, &err)) die("what it shows does not set it again", key, shown);
  mk_producer_config_get(cfg, key, again, sizeof again, &err);
  if (strcmp(shown, again) != 0) die("setting what it shows changed it", key, shown);
}

static int from_properties(void *opaque, const char *key, const char *value, struct mk_err *err) {
  return mk_producer_config_set(opaque, key, value, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  mk_log_set_level(MK_LOG_ERROR);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  int nlabs = 0;
  while (mk_labs[nlabs]) nlabs++;
  const struct mk_lab *lab = mk_labs[data[0] % nlabs];
  char *text = malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';

  char *lines[MAX_LINES];
  int n = 0;
  for (char *p = text, *next; p && n < MAX_LINES; p = next) {
    next = strchr(p, '\n');
    if (next) *next++ = '\0';
    lines[n++] = p;
  }
  struct mk_broker_config bcfg;
  mk_broker_config_init(&bcfg);
  struct mk_topic_config tcfg;
  mk_topic_config_init(&tcfg);
  struct mk_producer_config *pcfg = mk_producer_config_new();
  struct mk_err err = {0};
  for (int i = 0; i < n; i++) {
    char *kv = strdup(lines[i]);
    char *eq = strchr(kv, '=');
    const char *key = kv, *value = "";
    if (eq) {
      *eq = '\0';
      value = eq + 1;
    }
    broker_setting(&bcfg, key, value);
    producer_setting(pcfg, key, value);
    int rc = mk_topic_config_set(&tcfg, mk_str_of(key), mk_str_of(value), &err);
    check_refusal(rc, &err, key, value);
    free(kv);
  }
  check_refusal(mk_producer_config_finish(pcfg, &err), &err, "finish", "");
  mk_producer_config_free(pcfg);

  int rc = mk_lab_check_settings(lab, (const char *const *)lines, n, &err);
  check_refusal(rc, &err, "--set", lines[0]);

  pcfg = mk_producer_config_new();
  rc = mk_properties_parse((const char *)data + 1, size - 1, "fuzz", from_properties, pcfg, &err);
  check_refusal(rc, &err, "properties", "");
  if (!rc) check_refusal(mk_producer_config_finish(pcfg, &err), &err, "finish", "");
  mk_producer_config_free(pcfg);
  free(text);
  return 0;
}
