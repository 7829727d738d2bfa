/*
 * Tests for common/trace.c, the event builder: nested arrays and objects, escaping, bad
 * UTF-8 turned into U+FFFD, events far larger than the inline buffer, and the two explicit
 * limits (truncated_strings, fields_dropped). Every line a test makes is read back with
 * jansson, which refuses invalid JSON and invalid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/trace.h"

/* ---- capturing lines --------------------------------------------------------------------- */

static char **lines;
static size_t nlines;

static void capture(void *opaque, const char *line, size_t len) {
  (void)opaque;
  lines = realloc(lines, (nlines + 1) * sizeof *lines);
  assert_non_null(lines);
  char *copy = malloc(len + 1);
  assert_non_null(copy);
  memcpy(copy, line, len);
  copy[len] = 0;
  lines[nlines++] = copy;
}

static int sink = -1;

static int attach(void **state) {
  (void)state;
  nlines = 0;
  sink = mk_trace_add_sink(capture, NULL);
  return sink < 0;
}

static int detach(void **state) {
  (void)state;
  mk_trace_remove_sink(sink);
  for (size_t i = 0; i < nlines; i++) free(lines[i]);
  free(lines);
  lines = NULL;
  nlines = 0;
  return 0;
}

/* Line i as JSON: it must parse (jansson checks the UTF-8 too) and be an object with the
 * three fields every event has. */
static json_t *parsed(size_t i) {
  assert_true(i < nlines);
  json_error_t e;
  json_t *j = json_loads(lines[i], 0, &e);
  if (!j) fail_msg("line %zu is not JSON (%s at column %d): %.200s", i, e.text, e.column, lines[i]);
  assert_true(json_is_object(j));
  assert_true(json_is_integer(json_object_get(j, "ts_us")));
  assert_true(json_is_string(json_object_get(j, "side")));
  assert_true(json_is_string(json_object_get(j, "event")));
  return j;
}

/* The only line so far, as JSON. */
static json_t *the_line(void) {
  assert_int_equal(nlines, 1);
  return parsed(0);
}

/* j[key] must equal the JSON text want. */
static void assert_field(json_t *j, const char *key, const char *want) {
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
  assert_non_null(w);
  json_t *got = json_object_get(j, key);
  if (!json_equal(got, w)) {
    char *g = got ? json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fail_msg("%s is %.300s, want %.300s", key, g ? g : "(absent)", want);
  }
  json_decref(w);
}

/* The string j[key] must be exactly the len bytes want. */
static void assert_string(json_t *j, const char *key, const char *want, size_t len) {
  json_t *v = json_object_get(j, key);
  assert_true(json_is_string(v));
  if (json_string_length(v) != len || memcmp(json_string_value(v), want, len) != 0)
    fail_msg("%s is \"%.200s\" (%zu bytes), want \"%.200s\" (%zu bytes)", key,
             json_string_value(v), json_string_length(v), want, len);
}

/* ---- shape -------------------------------------------------------------------------------- */

static void test_an_ordinary_event_stays_in_its_inline_buffer(void **state) {
  (void)state;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "append");
  mk_trace_str(&ev, "topic", "orders");
  mk_trace_int(&ev, "partition", 2);
  mk_trace_int(&ev, "base_offset", 10);
  mk_trace_bool(&ev, "unclean", false);
  mk_trace_str(&ev, "error", NULL);
  mk_trace_strn(&ev, "key", "abc", -1);
  assert_ptr_equal(ev.buf, ev.inline_buf);  /* no allocation on the ordinary path */
  mk_trace_end(&ev);
  json_t *j = the_line();
  assert_int_equal(json_object_size(j), 9);
  assert_field(j, "side", "\"broker\"");
  assert_field(j, "event", "\"append\"");
  assert_field(j, "topic", "\"orders\"");
  assert_field(j, "partition", "2");
  assert_field(j, "base_offset", "10");
  assert_field(j, "unclean", "false");
  assert_field(j, "error", "null");
  assert_field(j, "key", "null");
  json_decref(j);
  /* The field order is the call order, after ts_us, side and event (DESIGN.md 3.4). */
  assert_non_null(strstr(lines[0], ",\"side\":\"broker\",\"event\":\"append\",\"topic\":"));
  assert_int_equal(strncmp(lines[0], "{\"ts_us\":", 9), 0);
}

static void test_arrays_and_objects_nest(void **state) {
  (void)state;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "nested");
  mk_trace_array_begin(&ev, "empty_array");
  mk_trace_array_end(&ev);
  mk_trace_object_begin(&ev, "empty_object");
  mk_trace_object_end(&ev);
  mk_trace_array_begin(&ev, "a");
  mk_trace_int(&ev, NULL, 1);
  mk_trace_array_begin(&ev, NULL);
  mk_trace_int(&ev, NULL, 2);
  mk_trace_array_begin(&ev, NULL);
  mk_trace_array_end(&ev);
  mk_trace_array_end(&ev);
  mk_trace_object_begin(&ev, NULL);
  mk_trace_bool(&ev, "x", true);
  mk_trace_array_begin(&ev, "y");
  mk_trace_object_begin(&ev, NULL);
  mk_trace_object_end(&ev);
  mk_trace_array_end(&ev);
  mk_trace_object_end(&ev);
  mk_trace_str(&ev, NULL, "s");
  mk_trace_str(&ev, NULL, NULL);
  mk_trace_array_end(&ev);
  mk_trace_object_begin(&ev, "o");
  mk_trace_object_begin(&ev, "n");
  mk_trace_int(&ev, "min", INT64_MIN);
  mk_trace_int(&ev, "max", INT64_MAX);
  mk_trace_int(&ev, "zero", 0);
  mk_trace_object_end(&ev);
  mk_trace_object_end(&ev);
  mk_trace_int(&ev, "after", 7);
  mk_trace_end(&ev);
  json_t *j = the_line();
  assert_field(j, "empty_array", "[]");
  assert_field(j, "empty_object", "{}");
  assert_field(j, "a", "[1,[2,[]],{\"x\":true,\"y\":[{}]},\"s\",null]");
  assert_field(j, "o",
               "{\"n\":{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"zero\":0}}");
  assert_field(j, "after", "7");
  json_decref(j);
}

static void test_end_closes_what_is_still_open(void **state) {
  (void)state;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "unfinished");
  mk_trace_array_begin(&ev, "a");
  mk_trace_object_begin(&ev, NULL);
  mk_trace_array_begin(&ev, "b");
  mk_trace_int(&ev, NULL, 3);
  mk_trace_end(&ev);
  /* and closing more than was opened cannot close the event itself */
  mk_trace_begin(&ev, "broker", "overclosed");
  mk_trace_array_end(&ev);
  mk_trace_object_end(&ev);
  mk_trace_int(&ev, "still", 1);
  mk_trace_end(&ev);
  assert_int_equal(nlines, 2);
  json_t *j = parsed(0);
  assert_field(j, "a", "[{\"b\":[3]}]");
  json_decref(j);
  j = parsed(1);
  assert_field(j, "still", "1");
  json_decref(j);
}

static void test_keys_where_none_belong_or_missing(void **state) {
  (void)state;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "keys");
  mk_trace_array_begin(&ev, "a");
  mk_trace_int(&ev, "ignored", 1);  /* an array has no keys */
  mk_trace_array_end(&ev);
  mk_trace_int(&ev, NULL, 2);       /* an object needs one: "" stands in */
  mk_trace_int(&ev, "say \"hi\"\n", 3);
  mk_trace_end(&ev);
  json_t *j = the_line();
  assert_field(j, "a", "[1]");
  assert_field(j, "", "2");
  assert_field(j, "say \"hi\"\n", "3");
  json_decref(j);
}

static void test_deeper_than_the_limit_becomes_null(void **state) {
  (void)state;
  enum { OPEN = MK_TRACE_MAX_DEPTH + 4 };
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "deep");
  for (int i = 0; i < OPEN; i++) mk_trace_array_begin(&ev, i ? NULL : "deep");
  mk_trace_int(&ev, NULL, 42);
  for (int i = 0; i < OPEN; i++) mk_trace_array_end(&ev);
  mk_trace_int(&ev, "after", 1);
  mk_trace_end(&ev);
  json_t *j = the_line();
  /* The event is depth 1, so MK_TRACE_MAX_DEPTH - 1 arrays nest, the next is null. */
  char want[128];
  size_t at = 0;
  for (int i = 0; i < MK_TRACE_MAX_DEPTH - 1; i++) want[at++] = '[';
  memcpy(want + at, "null", 4);
  at += 4;
  for (int i = 0; i < MK_TRACE_MAX_DEPTH - 1; i++) want[at++] = ']';
  want[at] = 0;
  assert_field(j, "deep", want);
  assert_field(j, "after", "1");  /* the skipped closes did not close the event's fields */
  json_decref(j);
}

/* ---- strings ------------------------------------------------------------------------------ */

static void test_control_characters_quotes_and_backslashes_are_escaped(void **state) {
  (void)state;
  char all[64];
  size_t n = 0;
  for (int c = 1; c < 0x20; c++) all[n++] = (char)c;
  memcpy(all + n, "\"\\/\x7f" "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8", 18);
  n += 18;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "escapes");
  mk_trace_strn(&ev, "s", all, (int)n);
  mk_trace_end(&ev);
  for (const char *p = lines[0]; *p; p++)  /* no raw control character in the line */
    assert_true((unsigned char)*p >= 0x20);
  assert_non_null(strstr(lines[0], "\\n"));
  assert_non_null(strstr(lines[0], "\\u0001"));
  json_t *j = the_line();
  assert_string(j, "s", all, n);  /* and it reads back as exactly what went in */
  json_decref(j);
}

static void test_bad_utf8_and_nul_become_replacement_characters(void **state) {
  (void)state;
#define R "\xef\xbf\xbd" /* U+FFFD */
  static const struct {
    const char *in;
    int len;
    const char *out;
  } cases[] = {
      {"a\xff" "b", 3, "a" R "b"},
      {"\x80\x80", 2, R R},                  /* stray continuation bytes: one each */
      {"\xe2\x82" "A", 3, R "A"},            /* a cut sequence is one, then A */
      {"\xed\xa0\x80", 3, R R R},            /* a surrogate */
      {"\xc0\xaf", 2, R R},                  /* overlong */
      {"\xf4\x90\x80\x80", 4, R R R R},      /* above U+10FFFF */
      {"end\xf0\x9f\x98", 6, "end" R},       /* cut at the end of the string */
      {"x\0y", 3, "x" R "y"},                /* NUL: jansson refuses \u0000 */
      {"ok \xc3\xa9", 5, "ok \xc3\xa9"},     /* valid stays as it is */
      {R, 3, R},                             /* so does a real U+FFFD */
  };
  struct mk_trace_event ev;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mk_trace_begin(&ev, "broker", "utf8");
    mk_trace_strn(&ev, "s", cases[i].in, cases[i].len);
    mk_trace_end(&ev);
    json_t *j = parsed(i);
    assert_string(j, "s", cases[i].out, strlen(cases[i].out));
    json_decref(j);
  }
  /* bad bytes in keys and in the side and event names too */
  mk_trace_begin(&ev, "bro\xffker", "ev\x01\xc3");
  mk_trace_int(&ev, "k\xfe", 1);
  mk_trace_end(&ev);
  json_t *j = parsed(nlines - 1);
  assert_string(j, "side", "bro" R "ker", 9);
  assert_string(j, "event", "ev\x01" R, 6);
  assert_field(j, "k" R, "1");
  json_decref(j);
#undef R
}

static uint32_t next(uint32_t *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 8;
}

/* Random strings: text built of valid characters, the same with one byte changed at
 * random, and bytes drawn at random. Every line parses, and every string that was valid
 * UTF-8 without NUL (as jansson judges it) comes back unchanged. */
static void test_random_bytes_always_make_a_valid_line(void **state) {
  (void)state;
  static const char *const pieces[] = {"a", "Z", " ", "\xc3\xa9", "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80", "\"", "\\", "\n", "\x7f"};
  enum { TRIES = 3000 };
  uint32_t seed = 12345;
  char buf[400];
  int unchanged = 0, replaced = 0;
  for (int t = 0; t < TRIES; t++) {
    size_t len = 0, want = next(&seed) % 300;
    if (t % 3 == 2) {
      for (; len < want; len++) buf[len] = (char)next(&seed);
    } else {
      while (len < want) {
        const char *p = pieces[next(&seed) % (sizeof pieces / sizeof pieces[0])];
        memcpy(buf + len, p, strlen(p));
        len += strlen(p);
      }
      if (t % 3 == 1 && len) {
        size_t at = next(&seed) % len;
        buf[at] = (char)next(&seed);
      }
    }
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "random");
    mk_trace_strn(&ev, "s", buf, (int)len);
    mk_trace_end(&ev);
    json_t *j = parsed(nlines - 1);
    json_t *s = json_object_get(j, "s");
    assert_true(json_is_string(s));
    bool same = json_string_length(s) == len && memcmp(json_string_value(s), buf, len) == 0;
    json_t *as_text = memchr(buf, 0, len) ? NULL : json_stringn(buf, len);  /* NULL: bad UTF-8 */
    if (as_text && !same) fail_msg("try %d: valid text came back changed: %s", t, lines[nlines - 1]);
    if (!as_text && same) fail_msg("try %d: invalid text came back unchanged", t);
    json_decref(as_text);
    unchanged += same;
    replaced += !same;
    json_decref(j);
    free(lines[--nlines]);
  }
  /* the mix did exercise both kinds */
  assert_true(unchanged > 500);
  assert_true(replaced > 500);
}

/* ---- size --------------------------------------------------------------------------------- */

/* A request_sent with 500 batches (the producer's biggest event): every one is there. */
static void test_hundreds_of_array_elements_are_all_kept(void **state) {
  (void)state;
  enum { BATCHES = 500 };
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "request_sent");
  mk_trace_int(&ev, "broker", 1);
  mk_trace_array_begin(&ev, "batches");
  for (int i = 0; i < BATCHES; i++) {
    mk_trace_object_begin(&ev, NULL);
    mk_trace_str(&ev, "topic", "a-topic-with-a-longish-name");
    mk_trace_int(&ev, "partition", i);
    mk_trace_int(&ev, "batch_id", 1000 + i);
    mk_trace_int(&ev, "records", 3);
    mk_trace_int(&ev, "producer_id", 4000000000LL);
    mk_trace_int(&ev, "epoch", 0);
    mk_trace_int(&ev, "base_sequence", i * 3);
    mk_trace_int(&ev, "attempt", 1);
    mk_trace_object_end(&ev);
  }
  mk_trace_array_end(&ev);
  assert_ptr_not_equal(ev.buf, ev.inline_buf);  /* it moved to the heap */
  mk_trace_int(&ev, "after", 1);
  mk_trace_end(&ev);
  assert_true(strlen(lines[0]) > 50000);
  json_t *j = the_line();
  json_t *batches = json_object_get(j, "batches");
  assert_int_equal(json_array_size(batches), BATCHES);
  for (int i = 0; i < BATCHES; i++) {
    json_t *b = json_array_get(batches, (size_t)i);
    assert_int_equal(json_object_size(b), 8);
    assert_int_equal(json_integer_value(json_object_get(b, "partition")), i);
    assert_int_equal(json_integer_value(json_object_get(b, "base_sequence")), i * 3);
  }
  assert_field(j, "after", "1");
  assert_null(json_object_get(j, "truncated_strings"));
  assert_null(json_object_get(j, "fields_dropped"));
  json_decref(j);
}

static void test_a_long_string_is_cut_and_counted(void **state) {
  (void)state;
  enum { LONG = 3 * MK_TRACE_MAX_STRING };
  char *a = malloc(LONG), *e = malloc(LONG), *euro = malloc(LONG);
  memset(a, 'a', LONG);
  for (int i = 0; i + 1 < LONG; i += 2) memcpy(e + i, "\xc3\xa9", 2);      /* é */
  for (int i = 0; i + 2 < LONG; i += 3) memcpy(euro + i, "\xe2\x82\xac", 3); /* € */
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "send");
  mk_trace_strn(&ev, "a", a, LONG);
  mk_trace_strn(&ev, "e", e, LONG);
  mk_trace_strn(&ev, "euro", euro, LONG);
  mk_trace_strn(&ev, "short", a, MK_TRACE_MAX_STRING);  /* exactly the limit: whole */
  mk_trace_int(&ev, "key_bytes", LONG);
  mk_trace_end(&ev);
  json_t *j = the_line();
  /* whole characters up to the limit, then "…" */
  memcpy(a + MK_TRACE_MAX_STRING, "\xe2\x80\xa6", 3);
  assert_string(j, "a", a, MK_TRACE_MAX_STRING + 3);
  memcpy(e + MK_TRACE_MAX_STRING, "\xe2\x80\xa6", 3);
  assert_string(j, "e", e, MK_TRACE_MAX_STRING + 3);
  size_t whole = (MK_TRACE_MAX_STRING + 2) / 3 * 3;  /* the last € starts before the limit */
  memcpy(euro + whole, "\xe2\x80\xa6", 3);
  assert_string(j, "euro", euro, whole + 3);
  assert_string(j, "short", a, MK_TRACE_MAX_STRING);
  assert_field(j, "truncated_strings", "3");
  assert_field(j, "key_bytes", "12288");
  json_decref(j);
  free(a);
  free(e);
  free(euro);
}

/* Past MK_TRACE_MAX_LINE the fields go, and the event says so. */
static void test_an_event_over_the_line_limit_keeps_its_head_and_says_why(void **state) {
  (void)state;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "request_sent");
  mk_trace_int(&ev, "broker", 1);
  mk_trace_array_begin(&ev, "batches");
  for (int i = 0; i < MK_TRACE_MAX_LINE / 8; i++) {
    mk_trace_object_begin(&ev, NULL);
    mk_trace_int(&ev, "partition", i);
    mk_trace_object_end(&ev);
  }
  mk_trace_array_end(&ev);
  mk_trace_int(&ev, "after", 1);  /* lost with the rest */
  mk_trace_end(&ev);
  assert_true(strlen(lines[0]) < 200);
  json_t *j = the_line();
  assert_int_equal(json_object_size(j), 4);
  assert_field(j, "side", "\"producer\"");
  assert_field(j, "event", "\"request_sent\"");
  assert_field(j, "fields_dropped", "\"the event exceeded 262144 bytes (MK_TRACE_MAX_LINE)\"");
  json_decref(j);
  /* the next event is whole again */
  mk_trace_begin(&ev, "producer", "next");
  mk_trace_int(&ev, "n", 1);
  mk_trace_end(&ev);
  j = parsed(1);
  assert_field(j, "n", "1");
  assert_null(json_object_get(j, "fields_dropped"));
  json_decref(j);
}

/* With tracing off nothing reaches a sink, and an event built anyway is still freed. */
static void test_sinks_see_each_line_once(void **state) {
  (void)state;
  int second = mk_trace_add_sink(capture, NULL);
  assert_true(second >= 0);
  assert_true(mk_trace_on());
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "twice");
  mk_trace_end(&ev);
  mk_trace_remove_sink(second);
  mk_trace_begin(&ev, "broker", "once");
  mk_trace_end(&ev);
  assert_int_equal(nlines, 3);
  assert_non_null(strstr(lines[0], "\"twice\""));
  assert_string_equal(lines[0], lines[1]);
  assert_non_null(strstr(lines[2], "\"once\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_an_ordinary_event_stays_in_its_inline_buffer, attach,
                                      detach),
      cmocka_unit_test_setup_teardown(test_arrays_and_objects_nest, attach, detach),
      cmocka_unit_test_setup_teardown(test_end_closes_what_is_still_open, attach, detach),
      cmocka_unit_test_setup_teardown(test_keys_where_none_belong_or_missing, attach, detach),
      cmocka_unit_test_setup_teardown(test_deeper_than_the_limit_becomes_null, attach, detach),
      cmocka_unit_test_setup_teardown(test_control_characters_quotes_and_backslashes_are_escaped,
                                      attach, detach),
      cmocka_unit_test_setup_teardown(test_bad_utf8_and_nul_become_replacement_characters, attach,
                                      detach),
      cmocka_unit_test_setup_teardown(test_random_bytes_always_make_a_valid_line, attach, detach),
      cmocka_unit_test_setup_teardown(test_hundreds_of_array_elements_are_all_kept, attach,
                                      detach),
      cmocka_unit_test_setup_teardown(test_a_long_string_is_cut_and_counted, attach, detach),
      cmocka_unit_test_setup_teardown(
          test_an_event_over_the_line_limit_keeps_its_head_and_says_why, attach, detach),
      cmocka_unit_test_setup_teardown(test_sinks_see_each_line_once, attach, detach),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
