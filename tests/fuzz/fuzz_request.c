/*
 * Fuzz target: request and response frames (protocol/frame.c over protocol/schema.c).
 * Run it as described in tests/fuzz/README.md.
 *
 * Every input is tried two ways:
 *
 *   as a request   the whole input is a request frame body (header + body, no size
 *                  prefix), given to mk_request_decode() the way the broker would;
 *   as a response  input[0] picks the API (an api key; one we do not speak is folded
 *                  onto a row of mk_apis), input[1..2] the version (big-endian; outside
 *                  the API's range it is folded into it), and input[3..] is a response
 *                  frame body for mk_response_decode(), the way the producer would.
 *
 * Besides "never crash, never read outside the input" (ASan and UBSan watch that), a
 * message that decodes must survive a round trip:
 *
 *   input --decode--> m1 --encode--> bytes1 --decode--> m2 --encode--> bytes2
 *
 * bytes1 must decode (what we read we can write, and read back), the second decode must
 * use every byte of bytes1, and bytes2 must equal bytes1. The input itself may differ from
 * bytes1: a varint can be written with extra 0x80 bytes, a tagged field can repeat or
 * hold its default, unknown tags are dropped, trailing bytes are ignored. After one encode
 * the form is canonical, so a second pass may not change a byte. A failure prints both
 * byte strings and aborts, which libFuzzer reports as a crash with the input saved.
 *
 * Memory: each decode gets its own arena; strings in m1 point into the input and strings
 * in m2 into bytes1, so each buffer lives until the message decoded from it is encoded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Make UBSan findings fatal, so libFuzzer stops and saves the input (the default is to
 * print and carry on, which a long unattended run would never notice). */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void dump(const char *label, const uint8_t *p, size_t n) {
  fprintf(stderr, "%s (%zu bytes):", label, n);
  for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", p[i]);
  fprintf(stderr, "\n");
}

/* Report a broken property with the message it concerns, then abort (libFuzzer saves the
 * input as crash-<sha1>). */
static void die(const char *what, const char *kind, const char *api, int version,
                const struct mk_err *err) {
  fprintf(stderr, "fuzz_request: %s %s v%d: %s", kind, api, version, what);
  if (err && err->code) fprintf(stderr, " (%s: %s)", mk_err_name(err->code), err->msg);
  fprintf(stderr, "\n");
  abort();
}

/* bytes1 and bytes2 are whole frames (size prefix included): they must be equal. */
static void check_same(const struct mk_writer *w1, const struct mk_writer *w2, const char *kind,
                       const char *api, int version) {
  if (w1->len == w2->len && memcmp(w1->buf, w2->buf, w1->len) == 0) return;
  size_t i = 0;
  while (i < w1->len && i < w2->len && w1->buf[i] == w2->buf[i]) i++;
  fprintf(stderr, "fuzz_request: first difference at byte %zu\n", i);
  dump("first encode", w1->buf, w1->len);
  dump("second encode", w2->buf, w2->len);
  die("re-encoding changed the bytes", kind, api, version, NULL);
}

/* A frame written by our encoder: its size prefix must count exactly the bytes after it. */
static void check_prefix(const struct mk_writer *w, const char *kind, const char *api,
                         int version) {
  if (w->len < 4 || mk_load_u32(w->buf) != w->len - 4)
    die("size prefix does not match the frame", kind, api, version, NULL);
}

static void fuzz_request(const uint8_t *data, size_t size) {
  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer w1, w2;
  mk_writer_init(&w1);
  mk_writer_init(&w2);
  struct mk_err err = {0};

  struct mk_request m1;
  if (mk_request_decode(data, size, &m1, &a1, &err) != 0) goto out;
  const char *name = m1.api->name;
  int version = m1.header.api_version;

  if (mk_request_encode(&w1, &m1.header, m1.body, &err) != 0)
    die("decoded but does not encode", "request", name, version, &err);
  check_prefix(&w1, "request", name, version);

  struct mk_request m2;
  if (mk_request_decode(w1.buf + 4, w1.len - 4, &m2, &a2, &err) != 0)
    die("our own encoding does not decode", "request", name, version, &err);
  if (m2.trailing != 0)
    die("our own encoding has bytes the decoder did not use", "request", name, version, NULL);
  if (m2.header.api_key != m1.header.api_key || m2.header.api_version != version ||
      m2.header.correlation_id != m1.header.correlation_id)
    die("header changed in the round trip", "request", name, version, NULL);

  if (mk_request_encode(&w2, &m2.header, m2.body, &err) != 0)
    die("re-decoded message does not encode", "request", name, version, &err);
  check_same(&w1, &w2, "request", name, version);

out:
  mk_writer_free(&w1);
  mk_writer_free(&w2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

static void fuzz_response(const uint8_t *data, size_t size) {
  if (size < 3) return;
  const struct mk_api *api = mk_api_find(data[0]);
  if (!api) api = &mk_apis[data[0] % mk_api_count];
  int version = data[1] << 8 | data[2];
  if (!mk_api_supports(api, version))
    version = api->min_version + version % (api->max_version - api->min_version + 1);
  data += 3;
  size -= 3;

  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer w1, w2;
  mk_writer_init(&w1);
  mk_writer_init(&w2);
  struct mk_err err = {0};

  int32_t corr1, corr2, peeked;
  void *m1, *m2;
  if (mk_response_decode(data, size, api->key, version, &corr1, &m1, &a1, &err) != 0) goto out;
  if (mk_response_peek_correlation_id(data, size, &peeked) != 0 || peeked != corr1)
    die("peeked correlation id differs from the decoded one", "response", api->name, version,
        NULL);

  if (mk_response_encode(&w1, api->key, version, corr1, m1, &err) != 0)
    die("decoded but does not encode", "response", api->name, version, &err);
  check_prefix(&w1, "response", api->name, version);

  if (mk_response_decode(w1.buf + 4, w1.len - 4, api->key, version, &corr2, &m2, &a2, &err) != 0)
    die("our own encoding does not decode", "response", api->name, version, &err);
  if (corr2 != corr1)
    die("correlation id changed in the round trip", "response", api->name, version, NULL);

  if (mk_response_encode(&w2, api->key, version, corr2, m2, &err) != 0)
    die("re-decoded message does not encode", "response", api->name, version, &err);
  check_same(&w1, &w2, "response", api->name, version);

out:
  mk_writer_free(&w1);
  mk_writer_free(&w2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_request(data, size);
  fuzz_response(data, size);
  return 0;
}
