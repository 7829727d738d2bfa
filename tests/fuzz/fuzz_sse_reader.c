/*
 * Fuzz target: the SSE reader (common/sse_reader.c), which reads whatever answers
 * `minikafka timeline --follow URL` (any server at that URL) or whatever file or pipe
 * `minikafka timeline` is given. Run it as described in tests/fuzz/README.md.
 *
 * The first byte chooses the mode (even: HTTP, odd: plain) and the next one a piece size
 * (1-256): the rest is fed in pieces of that size, then a second reader gets it whole.
 * Besides "never crash, never read outside the input, never hold more than the limit":
 *   - the events do not depend on how the bytes were split (same count, same bytes);
 *   - no event is longer than MK_SSE_MAX_LINE, and none arrives after a refusal;
 *   - a refusal always says why (error is a non-empty, printable, terminated string).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sse_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void expect(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz_sse_reader: %s\n", what);
  abort();
}

struct seen {
  size_t n, bytes;
  uint64_t hash;  /* of every event's bytes, in order, with their boundaries */
  bool failed;
};

static void on_event(void *opaque, const char *p, size_t len) {
  struct seen *s = opaque;
  expect(!s->failed, "an event after the reader refused the input");
  expect(len <= MK_SSE_MAX_LINE, "an event longer than MK_SSE_MAX_LINE");
  s->n++;
  s->bytes += len;
  for (size_t i = 0; i < len; i++) s->hash = (s->hash ^ (uint8_t)p[i]) * 1099511628211ull;
  s->hash = (s->hash ^ 0x100) * 1099511628211ull;
}

static int read_all(bool http, const uint8_t *p, size_t n, size_t piece, struct seen *s,
                    struct mk_sse_reader *r) {
  mk_sse_reader_init(r, http);
  int rc = 0;
  for (size_t at = 0; at < n && rc == 0; at += piece) {
    size_t len = n - at < piece ? n - at : piece;
    rc = mk_sse_reader_feed(r, (const char *)p + at, len, on_event, s);
    expect(r->line_cap <= MK_SSE_MAX_LINE && r->data_cap <= MK_SSE_MAX_LINE, "unbounded buffer");
    if (rc) s->failed = true;
  }
  if (rc == 0) rc = mk_sse_reader_finish(r, on_event, s);
  if (rc) {
    s->failed = true;
    expect(r->error[0] != '\0' && memchr(r->error, 0, sizeof r->error) != NULL,
           "a refusal without a reason");
    for (const char *c = r->error; *c; c++)
      expect((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f, "an unprintable reason");
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  bool http = (data[0] & 1) == 0;
  size_t piece = (size_t)data[1] + 1;
  struct seen a = {0, 0, 1469598103934665603ull, false}, b = a;
  struct mk_sse_reader ra, rb;
  int rc_a = read_all(http, data + 2, size - 2, piece, &a, &ra);
  int rc_b = read_all(http, data + 2, size - 2, size, &b, &rb);
  expect(rc_a == rc_b, "the outcome depends on how the bytes were split");
  expect(a.n == b.n && a.bytes == b.bytes && a.hash == b.hash,
         "the events depend on how the bytes were split");
  mk_sse_reader_free(&ra);
  mk_sse_reader_free(&rb);
  return 0;
}
