/*
 * Fuzz target: the schema registry's request handling (broker/schema_registry.c) and the
 * records it replays (broker/schema_registry_store.c). Run it as tests/fuzz/README.md says.
 *
 * An input is a few requests against a fresh registry that already holds two subjects (so
 * deletes, lookups and compatibility checks have something to work on), separated by NUL
 * bytes. Each request is one line and a body:
 *
 *   <method letter><path>[?query]\n<body>
 *
 * with G, P, U, D for GET, POST, PUT, DELETE, and R for a record to replay: the "path" line
 * is then the record's key and the body its value (no body: a tombstone).
 *
 * Besides "never crash, never leak" (ASan watches), there must be an answer (handle() fails
 * only when memory runs out), and one the HTTP layer can send: a status from 200 to 599 and
 * a body that is JSON (the one exception, GET
 * .../schema, answers a stored schema text, which is JSON too). Every record the registry
 * writes must replay into a second registry without an error, and the two registries must
 * then list the same subjects: what is written is what a new leader would read.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/schema_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static struct mk_schema_registry *mirror;  /* replays what the registry writes */

static int store(void *opaque, const char *key, size_t key_len, const char *value,
                 size_t value_len, struct mk_err *err) {
  (void)opaque;
  if (mk_schema_registry_replay(mirror, key, key_len, value, value_len, err)) {
    fprintf(stderr, "a written record does not replay: %s\n  key %.*s\n", err->msg,
            (int)key_len, key);
    abort();
  }
  return 0;
}

static void request(struct mk_schema_registry *r, const char *method, const char *path,
                    const char *body) {
  char p[256];
  snprintf(p, sizeof p, "%s", path);
  char *query = strchr(p, '?');
  if (query) *query++ = '\0';
  int status = 0;
  char *out = NULL;
  if (mk_schema_registry_handle(r, method, p, query, body, body ? strlen(body) : 0, &status, &out)) {
    fprintf(stderr, "%s %s: no answer at all (handle failed)\n", method, path);
    abort();
  }
  json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);
  if (status < 200 || status > 599 || !j) {
    fprintf(stderr, "%s %s answered %d with a body that is not JSON: %s\n", method, path,
            status, out);
    abort();
  }
  json_decref(j);
  free(out);
}

static const char *const SEED_SCHEMAS[] = {
    "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"U\\\",\\\"fields\\\":"
    "[{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"int\\\"}]}\"}",
    "{\"schema\":\"[\\\"null\\\",\\\"string\\\"]\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  mirror = mk_schema_registry_new(NULL, NULL);
  struct mk_schema_registry *r = mk_schema_registry_new(store, NULL);
  request(r, "POST", "/subjects/a-value/versions", SEED_SCHEMAS[0]);
  request(r, "POST", "/subjects/b-value/versions", SEED_SCHEMAS[1]);
  char *copy = malloc(size + 1);
  memcpy(copy, data, size);
  copy[size] = '\0';
  int n = 0;
  for (char *p = copy; p < copy + size && n < 8; p += strlen(p) + 1, n++) {
    char *nl = strchr(p, '\n');
    char *body = nl ? nl + 1 : NULL;
    if (nl) *nl = '\0';
    const char *method = p[0] == 'G' ? "GET" : p[0] == 'P' ? "POST" : p[0] == 'U' ? "PUT"
                         : p[0] == 'D' ? "DELETE" : p[0] == 'R' ? NULL : "PATCH";
    if (!p[0]) {
      continue;
    } else if (method) {
      request(r, method, p + 1, body);
    } else {
      struct mk_err err;
      /* replay into both, so they stay twins */
      int a = mk_schema_registry_replay(r, p + 1, strlen(p + 1), body, body ? strlen(body) : 0, &err);
      int b = mk_schema_registry_replay(mirror, p + 1, strlen(p + 1), body, body ? strlen(body) : 0, &err);
      if (a != b) {
        fprintf(stderr, "a record replays differently into two equal registries\n");
        abort();
      }
    }
    if (nl) *nl = '\n';
  }
  int s1, s2;
  char *l1 = NULL, *l2 = NULL;
  mk_schema_registry_handle(r, "GET", "/subjects", "deleted=true", NULL, 0, &s1, &l1);
  mk_schema_registry_handle(mirror, "GET", "/subjects", "deleted=true", NULL, 0, &s2, &l2);
  if (l1 && l2 && strcmp(l1, l2) != 0) {
    fprintf(stderr, "the registry lists %s, its replayed log %s\n", l1, l2);
    abort();
  }
  free(l1);
  free(l2);
  free(copy);
  mk_schema_registry_free(r);
  mk_schema_registry_free(mirror);
  return 0;
}
