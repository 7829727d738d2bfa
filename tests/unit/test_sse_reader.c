/*
 * Tests for the SSE reader (common/sse_reader.c): an event stream as GET /v1/events sends
 * it comes out as the same events however the bytes are split; HTTP answers that are not
 * an event stream are refused with a sentence; overlong lines are skipped and counted;
 * without HTTP, a trace file's lines are events by themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/sse_reader.h"

struct got {
  char text[4096];  /* the events, each followed by "|" */
  int n;
};

static void collect(void *opaque, const char *data, size_t len) {
  struct got *g = opaque;
  size_t at = strlen(g->text);
  snprintf(g->text + at, sizeof g->text - at, "%.*s|", (int)len, data);
  g->n++;
}

static const char stream[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "Connection: close\r\n\r\n"
    ": minikafka trace events\n\n"
    "data: {\"event\":\"append\"}\n\n"
    "data: first\ndata: second\n\n"  /* two data lines: one event, joined by \n */
    "event: ignored\r\ndata:no-space\r\n\r\n"
    "data: cr only\r\r"
    "id: 7\nretry: 10\n\n"  /* no data: no event */
    "data: {\"event\":\"hw_advance\"}\n\n";

static const char want[] =
    "{\"event\":\"append\"}|first\nsecond|no-space|cr only|{\"event\":\"hw_advance\"}|";

/* Every way of cutting the stream in two, and byte by byte: the same events. */
static void test_a_stream_in_any_pieces(void **state) {
  (void)state;
  size_t n = sizeof stream - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    struct mk_sse_reader r;
    struct got g = {{0}, 0};
    mk_sse_reader_init(&r, true);
    assert_int_equal(mk_sse_reader_feed(&r, stream, cut, collect, &g), 0);
    assert_int_equal(mk_sse_reader_feed(&r, stream + cut, n - cut, collect, &g), 0);
    assert_int_equal(mk_sse_reader_finish(&r, collect, &g), 0);
    if (strcmp(g.text, want) != 0) fail_msg("cut at %zu: %s", cut, g.text);
    assert_int_equal(r.status, 200);
    mk_sse_reader_free(&r);
  }
  struct mk_sse_reader r;
  struct got g = {{0}, 0};
  mk_sse_reader_init(&r, true);
  for (size_t i = 0; i < n; i++) assert_int_equal(mk_sse_reader_feed(&r, stream + i, 1, collect, &g), 0);
  assert_string_equal(g.text, want);
  assert_int_equal(g.n, 5);
  mk_sse_reader_free(&r);
}

static void refused(const char *answer, const char *because) {
  struct mk_sse_reader r;
  struct got g = {{0}, 0};
  mk_sse_reader_init(&r, true);
  int rc = mk_sse_reader_feed(&r, answer, strlen(answer), collect, &g);
  if (rc == 0) rc = mk_sse_reader_finish(&r, collect, &g);
  assert_int_equal(rc, -1);
  if (!strstr(r.error, because)) fail_msg("\"%s\" lacks \"%s\"", r.error, because);
  assert_int_equal(g.n, 0);
  assert_int_equal(mk_sse_reader_feed(&r, "data: x\n\n", 9, collect, &g), -1);  /* stays failed */
  mk_sse_reader_free(&r);
}

static void test_answers_that_are_not_a_stream(void **state) {
  (void)state;
  refused("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{}",
          "did not answer 200 OK: \"HTTP/1.1 404 Not Found\"");
  refused("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}", "not an event stream");
  refused("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
          "\r\n", "chunked");
  refused("SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP response");
  refused("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", "before the answer's headers");
  refused("HTTP/1.1 2", "before the answer's headers");
  refused("\x01\xff\n", "not an HTTP response: \"??\"");  /* quoted safely */
}

/* A line longer than the limit is skipped with its event, counted; the next ones arrive. */
static void test_overlong_lines_are_skipped(void **state) {
  (void)state;
  struct mk_sse_reader r;
  struct got g = {{0}, 0};
  mk_sse_reader_init(&r, false);
  static const char head[] = "{\"event\":\"a\"}\ndata: ";
  assert_int_equal(mk_sse_reader_feed(&r, head, sizeof head - 1, collect, &g), 0);
  char *big = malloc(64 * 1024);
  memset(big, 'x', 64 * 1024);
  for (size_t sent = 0; sent <= MK_SSE_MAX_LINE; sent += 64 * 1024)
    assert_int_equal(mk_sse_reader_feed(&r, big, 64 * 1024, collect, &g), 0);
  free(big);
  assert_true(r.line_cap <= MK_SSE_MAX_LINE);  /* bounded */
  static const char tail[] = "\n\ndata: after\n\n{\"event\":\"b\"}";
  assert_int_equal(mk_sse_reader_feed(&r, tail, sizeof tail - 1, collect, &g), 0);
  assert_int_equal(mk_sse_reader_finish(&r, collect, &g), 0);
  assert_string_equal(g.text, "{\"event\":\"a\"}|after|{\"event\":\"b\"}|");
  assert_int_equal(r.skipped, 1);
  mk_sse_reader_free(&r);
}

/* Without HTTP: a --trace file, or a saved stream, or both mixed. */
static void test_plain_lines(void **state) {
  (void)state;
  static const char file[] =
      "{\"ts_us\":1,\"event\":\"send\"}\n"
      "\n"
      ": a comment\n"
      "data: {\"ts_us\":2,\"event\":\"append\"}\n"
      "\n"
      "{\"ts_us\":3,\"event\":\"complete\"}";  /* no newline at the end */
  struct mk_sse_reader r;
  struct got g = {{0}, 0};
  mk_sse_reader_init(&r, false);
  assert_int_equal(mk_sse_reader_feed(&r, file, sizeof file - 1, collect, &g), 0);
  assert_int_equal(g.n, 2);
  assert_int_equal(mk_sse_reader_finish(&r, collect, &g), 0);
  assert_string_equal(g.text, "{\"ts_us\":1,\"event\":\"send\"}|{\"ts_us\":2,\"event\":\"append\"}|"
                              "{\"ts_us\":3,\"event\":\"complete\"}|");
  mk_sse_reader_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_stream_in_any_pieces),
      cmocka_unit_test(test_answers_that_are_not_a_stream),
      cmocka_unit_test(test_overlong_lines_are_skipped),
      cmocka_unit_test(test_plain_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
