/*
 * Fuzz target: fault scripts and fault objects (broker/fault_script.c, broker/faults.c's
 * mk_fault_parse: what `--faults FILE` lines, POST /v1/faults bodies and mk_broker_fault
 * calls go through). Run it as described in tests/fuzz/README.md.
 *
 * The input is read twice: as a whole script (mk_fault_script_read over fmemopen), every
 * line it accepts then parsed as the fault it will inject; and as one fault object
 * (mk_fault_parse). Properties:
 *   - a refusal comes with a message (non-empty, NUL-terminated in err.msg);
 *   - a script line that is accepted has its trigger gone, and is still a JSON object;
 *   - a parsed fault's fields are in their ranges (the counts, times and broker numbers
 *     the controller and the request hooks rely on).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fault_script.h"
#include "broker/faults.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_fault_script: %s: %.500s\n", what, detail);
  abort();
}

static void check_refusal(int rc, const struct mk_err *err, const char *what) {
  if (rc == 0) return;
  if (err->msg[0] == '\0' || memchr(err->msg, '\0', sizeof err->msg) == NULL)
    die("a refusal without a message", what);
}

/* The ranges faults.c promises (DESIGN.md 3.2: ms up to a day, count >= 1; a broker is any
 * node id >= 0, which the owner's targets check when the fault is added). */
static void check_fault(const struct mk_fault *f, const char *json) {
  if ((int)f->action < 0 || (int)f->action > MK_FAULT_ELECT_LEADER) die("action out of range", json);
  if (f->count == 0 || f->count < -1) die("count neither -1 nor >= 1", json);
  if (f->ms < -1 || f->ms > 24LL * 3600 * 1000) die("ms out of range", json);
  if (f->broker < -1) die("broker out of range", json);
  if (f->partition < -1) die("partition out of range", json);
  if (memchr(f->topic, '\0', sizeof f->topic) == NULL) die("topic not terminated", json);
}

static void parse_fault(const char *json, size_t len) {
  struct mk_fault f;
  struct mk_err err = {0};
  int rc = mk_fault_parse(json, len, &f, &err);
  check_refusal(rc, &err, json);
  if (!rc) check_fault(&f, json);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  mk_log_set_level(MK_LOG_ERROR);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fmemopen((void *)data, size, "r");
  if (f && size > 0) {
    struct mk_fault_script *s = NULL;
    struct mk_err err = {0};
    int rc = mk_fault_script_read(f, "fuzz", "fuzz", &s, &err);
    check_refusal(rc, &err, "script");
    for (size_t i = 0; !rc && i < mk_fault_script_lines(s); i++) {
      const char *line = mk_fault_script_fault(s, i);
      json_t *o = json_loads(line, 0, NULL);
      if (!json_is_object(o) || json_object_get(o, "at_ms") || json_object_get(o, "after"))
        die("an accepted line kept its trigger or is no longer an object", line);
      json_decref(o);
      parse_fault(line, strlen(line));
    }
    mk_fault_script_free(s);
  }
  if (f) fclose(f);
  parse_fault((const char *)data, size);
  return 0;
}
