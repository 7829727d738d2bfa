/*
 * Fuzz target: trace events built from bytes a client chose (common/trace.c, utf8.c).
 * Run it as described in tests/fuzz/README.md.
 *
 * A client id, a topic name or a record key reaches the trace as it came off the wire.
 * The input is cut into pieces at each 0xff 0x00 pair, and the pieces become one event:
 * a string value each, alternately in an array ("top") and in the objects of another
 * ("nested"), the first piece also as a client_id field. Properties, checked on the line
 * a sink receives:
 *
 *   1. jansson reads the line (valid JSON, valid UTF-8, no \u0000), and every piece is
 *      there, in order, with nothing more;
 *   2. a piece that was valid UTF-8 without NUL, within MK_TRACE_MAX_STRING, comes back
 *      byte for byte; any other piece comes back different (a U+FFFD or the cut);
 *   3. mk_utf8_next always advances by 1-4 bytes, never past the end.
 *
 * A broken property prints what differed and aborts; libFuzzer saves the input.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Make UBSan findings fatal so libFuzzer stops and saves the input. */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

enum { MAX_PIECES = 64 };

static struct {
  const uint8_t *ptr[MAX_PIECES];
  size_t len[MAX_PIECES];
  int n;
} pieces;

static void die(const char *what, const char *line) {
  fprintf(stderr, "fuzz_trace: %s\nline: %.2000s\n", what, line);
  abort();
}

/* Whether a piece must come back unchanged: jansson's own judgement of its UTF-8. */
static bool kept_whole(const uint8_t *p, size_t len) {
  if (len > MK_TRACE_MAX_STRING || memchr(p, 0, len)) return false;
  json_t *s = json_stringn((const char *)p, len);
  json_decref(s);
  return s != NULL;
}

static void check_string(json_t *v, int i, const char *line) {
  if (!json_is_string(v)) die("a piece is missing or not a string", line);
  bool same = json_string_length(v) == pieces.len[i] &&
              memcmp(json_string_value(v), pieces.ptr[i], pieces.len[i]) == 0;
  if (kept_whole(pieces.ptr[i], pieces.len[i]) != same)
    die(same ? "bad text came back unchanged" : "valid text came back changed", line);
}

static void check_line(void *opaque, const char *line, size_t len) {
  (void)opaque;
  json_error_t e;
  json_t *ev = json_loadb(line, len, 0, &e);
  if (!ev) die(e.text, line);
  json_t *top = json_object_get(ev, "top"), *nested = json_object_get(ev, "nested");
  if (!json_is_array(top) || !json_is_array(nested)) die("top or nested is missing", line);
  size_t ntop = 0, nnested = 0;
  for (int i = 0; i < pieces.n; i++) {
    if (i % 2 == 0)
      check_string(json_array_get(top, ntop++), i, line);
    else
      check_string(json_object_get(json_array_get(nested, nnested++), "s"), i, line);
  }
  if (json_array_size(top) != ntop || json_array_size(nested) != nnested)
    die("more values than pieces", line);
  json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int sink = -1;
  if (sink < 0) sink = mk_trace_add_sink(check_line, NULL);

  for (size_t i = 0, n; i < size; i += n) {
    bool ok = mk_utf8_next(data + i, size - i, &n);
    if (n < 1 || n > 4 || n > size - i || (!ok && n > 3)) abort();
  }

  pieces.n = 0;
  size_t start = 0;
  for (size_t i = 0; i + 1 < size && pieces.n < MAX_PIECES - 1; i++) {
    if (data[i] == 0xff && data[i + 1] == 0x00) {
      pieces.ptr[pieces.n] = data + start;
      pieces.len[pieces.n++] = i - start;
      start = i + 2;
      i++;
    }
  }
  pieces.ptr[pieces.n] = data + start;
  pieces.len[pieces.n++] = size - start;

  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "fuzz");
  /* the first piece as a key: whatever it is, the line must parse */
  mk_trace_strn(&ev, "client_id", (const char *)pieces.ptr[0], (int)pieces.len[0]);
  mk_trace_array_begin(&ev, "top");
  for (int i = 0; i < pieces.n; i += 2)
    mk_trace_strn(&ev, NULL, (const char *)pieces.ptr[i], (int)pieces.len[i]);
  mk_trace_array_end(&ev);
  mk_trace_array_begin(&ev, "nested");
  for (int i = 1; i < pieces.n; i += 2) {
    mk_trace_object_begin(&ev, NULL);
    mk_trace_strn(&ev, "s", (const char *)pieces.ptr[i], (int)pieces.len[i]);
    mk_trace_object_end(&ev);
  }
  mk_trace_array_end(&ev);
  mk_trace_end(&ev);
  return 0;
}
