/*
 * Tests that the lab guides (labs/NAME/README.md) still point at real code: STYLE.md
 * section 6, "a small test fails when any file:/pattern/ reference stops matching" (xv6's
 * lineref, made strict).
 *
 * A reference is a code span `path:/pattern/`: path from the repository root, pattern a
 * POSIX basic regular expression matched against each line of the file, as `grep` does
 * (so `producer/sender.c:/static void fail_or_retry(/` works: in a basic RE, ( is plain).
 * Every reference must name an existing file and match at least one of its lines.
 *
 * Also checked, so a new lab cannot skip them: every lab in labs/labs.c has a README with
 * STYLE.md's sections in order (Concept, Code, Run it, Real Kafka, Exercises) and at least
 * three references.
 *
 * MK_SOURCE_ROOT (set by labs/meson.build) is the repository root.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "labs/lab.h"

static const char *root(void) {
  const char *r = getenv("MK_SOURCE_ROOT");
  return r && *r ? r : ".";
}

/* A file's text (NUL-terminated), or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  char buf[8192];
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      text = realloc(text, cap);
    }
    memcpy(text + len, buf, n);
    len += n;
  }
  fclose(f);
  if (!text)
    text = calloc(1, 1);
  else
    text[len] = 0;
  return text;
}

/* Check one reference "path:/pattern/". Returns NULL if it matches, else why not (static). */
static const char *check_reference(const char *ref) {
  static char why[2048];
  const char *sep = strstr(ref, ":/");
  size_t len = strlen(ref);
  if (!sep || len < 4 || ref[len - 1] != '/') return "not of the form path:/pattern/";
  char path[1024], pattern[512];
  snprintf(path, sizeof path, "%s/%.*s", root(), (int)(sep - ref), ref);
  snprintf(pattern, sizeof pattern, "%.*s", (int)(ref + len - 1 - (sep + 2)), sep + 2);
  regex_t re;
  if (regcomp(&re, pattern, REG_NOSUB) != 0) {
    snprintf(why, sizeof why, "the pattern /%s/ is not a valid basic regular expression", pattern);
    return why;
  }
  char *text = slurp(path);
  if (!text) {
    regfree(&re);
    snprintf(why, sizeof why, "no such file %s", path);
    return why;
  }
  bool found = false;
  for (char *line = text; line && !found;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    found = regexec(&re, line, 0, NULL, 0) == 0;
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  regfree(&re);
  if (found) return NULL;
  snprintf(why, sizeof why, "no line of %.*s matches /%s/", (int)(sep - ref), ref, pattern);
  return why;
}

/* Call fn on every reference in a README's text; returns how many there were. */
static int each_reference(const char *text, void (*fn)(const char *ref, void *arg), void *arg) {
  int n = 0;
  bool fence = false;
  for (const char *p = text; *p; p++) {
    if (strncmp(p, "```", 3) == 0) {  /* code blocks hold trace lines, not references */
      fence = !fence;
      p += 2;
      continue;
    }
    if (*p != '`' || fence) continue;
    const char *end = strchr(p + 1, '`');
    if (!end) break;
    char span[1024];
    snprintf(span, sizeof span, "%.*s", (int)(end - p - 1), p + 1);
    const char *sep = strstr(span, ":/"), *dot = strchr(span, '.');
    /* path: no spaces, a dot (file.c) before ":/", and the span ends with "/" */
    if (sep && sep > span && !memchr(span, ' ', (size_t)(sep - span)) && dot && dot < sep &&
        span[strlen(span) - 1] == '/' && strlen(span) > (size_t)(sep - span) + 3) {
      fn(span, arg);
      n++;
    }
    p = end;
  }
  return n;
}

struct failures {
  const char *readme;
  int count;
  char first[1024];
};

static void check_one(const char *ref, void *arg) {
  struct failures *f = arg;
  const char *why = check_reference(ref);
  if (!why) return;
  fprintf(stderr, "%s: `%s`: %s\n", f->readme, ref, why);
  if (!f->count++) snprintf(f->first, sizeof f->first, "%s: `%s`: %s", f->readme, ref, why);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_the_checker_rejects_what_does_not_match(void **state) {
  (void)state;
  assert_null(check_reference("labs/lab.h:/^int mk_lab_run(/"));
  assert_null(check_reference("labs/lab.h:/mk_lab_run/"));
  assert_non_null(check_reference("labs/lab.h:/a pattern that matches no line 4711/"));
  assert_non_null(check_reference("labs/no-such-file.c:/main/"));
  assert_non_null(check_reference("labs/lab.h:/[unclosed/"));
  int n = 0;
  struct failures f = {"inline", 0, ""};
  n = each_reference(
      "see `labs/lab.h:/mk_lab_run/` and `labs/lab.h:/nothing like this 4711/`,\n"
      "not `--set key=value` nor ```\n`labs/lab.h:/in a code block/`\n```",
      check_one, &f);
  assert_int_equal(n, 2);
  assert_int_equal(f.count, 1);
}

static void test_every_reference_in_every_lab_readme_matches(void **state) {
  (void)state;
  int total = 0, failed = 0;
  char first[1024] = "";
  for (int i = 0; mk_labs[i]; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/labs/%s/README.md", root(), mk_labs[i]->name);
    char *text = slurp(path);
    if (!text) fail_msg("lab %s has no guide: %s", mk_labs[i]->name, path);
    struct failures f = {path, 0, ""};
    int n = each_reference(text, check_one, &f);
    free(text);
    if (n < 3)
      fail_msg("%s has %d file:/pattern/ references; a guide walks the code (3 or more)", path, n);
    total += n;
    if (f.count && !failed) snprintf(first, sizeof first, "%s", f.first);
    failed += f.count;
  }
  if (failed) fail_msg("%d of %d references no longer match; the first: %s", failed, total, first);
}

static void test_every_lab_readme_has_the_sections_in_order(void **state) {
  (void)state;
  static const char *const sections[] = {"## Concept", "## Code", "## Run it", "## Real Kafka",
                                         "## Exercises"};
  for (int i = 0; mk_labs[i]; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/labs/%s/README.md", root(), mk_labs[i]->name);
    char *text = slurp(path);
    if (!text) fail_msg("lab %s has no guide: %s", mk_labs[i]->name, path);
    const char *at = text, *missing = NULL;
    for (size_t s = 0; s < sizeof sections / sizeof sections[0] && !missing; s++) {
      const char *found = strstr(at, sections[s]);
      if (found)
        at = found;
      else
        missing = sections[s];
    }
    free(text);  /* before fail_msg, which does not return */
    if (missing)
      fail_msg("%s: no \"%s\" section after the previous one (STYLE.md section 6 order)", path,
               missing);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_checker_rejects_what_does_not_match),
      cmocka_unit_test(test_every_reference_in_every_lab_readme_matches),
      cmocka_unit_test(test_every_lab_readme_has_the_sections_in_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
