/*
 * Fuzz target: the lab timeline and its text wrapping (labs/timeline.c, labs/text.c), which
 * draw any file `minikafka lab --timeline FILE` is given, and strings clients chose (a
 * client id, a topic) inside trace events. Run it as described in tests/fuzz/README.md.
 *
 * The input is split into lines; they are rendered as a timeline (summarised and in full)
 * at a width taken from the first byte, and the whole input is wrapped as prose at that
 * width. Properties:
 *   1. nothing crashes, leaks or reads out of bounds (ASan, UBSan);
 *   2. no wrapped line is wider than the width asked for, unless one character (a word
 *      cut short) could not be split further: mk_text_fit always advances.
 * A broken property prints the line and aborts; libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labs/text.h"
#include "labs/timeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

enum { MAX_LINES = 256 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 1 << 16) return 0;
  int width = 60 + data[0] % 80;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = 0;

  /* 1. The timeline, from the input's lines (JSON or not). */
  char *copy = strdup(text);
  const char *lines[MAX_LINES];
  size_t n = 0;
  for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < MAX_LINES;
       l = strtok_r(NULL, "\n", &save))
    lines[n++] = l;
  FILE *sink = fopen("/dev/null", "w");
  for (int full = 0; full < 2 && sink; full++) {
    struct mk_timeline_options o = {.out = sink, .width = width, .max_events = full ? 0 : 8};
    mk_timeline_render(&o, "fuzz", lines, n);
  }
  if (sink) fclose(sink);
  free(copy);

  /* 2. Prose, wrapped: no line wider than asked, but for one character cut short. */
  char *out = NULL;
  size_t out_len = 0;
  FILE *mem = open_memstream(&out, &out_len);
  if (mem) {
    mk_text_wrap(mem, text, (size_t)width, "> ", "  ", "", "");
    fclose(mem);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      size_t cols = mk_text_columns(l, strlen(l));
      if (cols > (size_t)width + 2) {  /* +2: one wide character that could not be split */
        fprintf(stderr, "a %zu-column line at width %d: %s\n", cols, width, l);
        abort();
      }
    }
    free(out);
  }
  free(text);
  return 0;
}
