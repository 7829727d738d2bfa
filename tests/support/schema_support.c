/* What the schema tests share; see schema_support.h. */
#include "tests/support/schema_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle)) fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

struct mk_avro_schema *parse_schema(const char *text) {
  struct mk_avro_schema *s = NULL;
  struct mk_err err = {0};
  if (mk_avro_schema_parse(text, strlen(text), false, &s, &err))
    fail_msg("refused %s: %s", text, err.msg);
  return s;
}
