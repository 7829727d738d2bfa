/*
 * Fuzz target: the dashboard's answer to a request (broker/dashboard.c), which reads what
 * a browser or anyone else sends the admin port: the method, the URL path and the
 * If-None-Match header. Run it as described in tests/fuzz/README.md.
 *
 * The input is split at its first two zero bytes: method, path, If-None-Match (missing
 * parts are empty). Besides "never crash, never read outside the input", the answer must
 * make sense:
 *
 *   200 or 304   only for GET or HEAD of a file mk_dashboard_find knows, 304 only when
 *                If-None-Match was given, a body only for GET 200; the headers carry
 *                that file's ETag (the server adds its content type)
 *   404          for a path that names no file (whatever the method)
 *   405          for a known file and any other method, with "Allow: GET, HEAD"
 *   and every text field NUL-terminated inside its array.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dashboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void expect(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz_dashboard: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Copies with their own bounds, so ASan catches any read past a part. */
  const uint8_t *z1 = memchr(data, 0, size);
  size_t mlen = z1 ? (size_t)(z1 - data) : size;
  const uint8_t *rest = z1 ? z1 + 1 : data + size;
  size_t rsize = (size_t)(data + size - rest);
  const uint8_t *z2 = memchr(rest, 0, rsize);
  size_t plen = z2 ? (size_t)(z2 - rest) : rsize;
  const uint8_t *inm = z2 ? z2 + 1 : rest + rsize;
  size_t ilen = (size_t)(data + size - inm);
  if (mlen > 32 || ilen > 255) return 0;  /* the server cuts these (admin_http.c) */

  char method[33], if_none_match[256];
  memcpy(method, data, mlen);
  method[mlen] = '\0';
  memcpy(if_none_match, inm, ilen);
  if_none_match[ilen] = '\0';
  char *path = malloc(plen ? plen : 1);  /* not NUL-terminated: the server passes a length */
  if (plen) memcpy(path, rest, plen);

  struct mk_web_answer a;
  mk_dashboard_answer(method, path, plen, if_none_match, &a);
  const struct mk_web_file *f = mk_dashboard_find(path, plen);
  int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
  expect(memchr(a.headers, 0, sizeof a.headers) && memchr(a.allow, 0, sizeof a.allow) &&
         memchr(a.message, 0, sizeof a.message), "a text field is not NUL-terminated");
  switch (a.status) {
  case 200:
  case 304:
    expect(f && a.file == f && (get || head), "200/304 without a file, or not for GET/HEAD");
    expect(a.status == 200 || if_none_match[0], "304 without If-None-Match");
    expect(a.send_body == (get && a.status == 200), "a body where none belongs");
    expect(strstr(a.headers, f->etag) != NULL, "the headers lack the file's ETag");
    break;
  case 404:
    expect(!f && !a.file, "404 for a file that exists");
    break;
  case 405:
    expect(f && !get && !head && strcmp(a.allow, "Allow: GET, HEAD\r\n") == 0,
           "405 for GET/HEAD, or without Allow");
    break;
  default:
    expect(0, "a status other than 200, 304, 404, 405");
  }
  free(path);
  return 0;
}
