/* A coordinator's log in a test; see coordinator_log.h. */
#include "tests/support/coordinator_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void coordinator_log_keep(struct stored *log, int *n, int max, int32_t partition,
                          struct mk_bytes key, struct mk_bytes value) {
  assert_true(*n < max);
  struct stored *s = &log[(*n)++];
  s->partition = partition;
  s->key = malloc((size_t)key.len + 1);
  if (key.len) memcpy(s->key, key.ptr, (size_t)key.len);
  s->key_len = key.len;
  s->value = value.len < 0 ? NULL : malloc((size_t)value.len + 1);
  if (s->value && value.len) memcpy(s->value, value.ptr, (size_t)value.len);
  s->value_len = value.len;
}

void coordinator_log_append(struct stored *log, int *n, int max, int32_t partition,
                            const struct mk_coordinator_record *recs, int count) {
  for (int i = 0; i < count; i++) {
    struct mk_writer k, v;
    mk_writer_init(&k);
    mk_writer_init(&v);
    struct mk_err err = {0};
    if (mk_coordinator_record_encode(&recs[i], &k, &v, &err)) fail_msg("encode: %s", err.msg);
    coordinator_log_keep(log, n, max, partition, (struct mk_bytes){k.buf, (int32_t)k.len},
                         recs[i].tombstone ? MK_BYTES_NULL : (struct mk_bytes){v.buf, (int32_t)v.len});
    mk_writer_free(&k);
    mk_writer_free(&v);
  }
}

void coordinator_log_clear(struct stored *log, int *n) {
  for (int i = 0; i < *n; i++) {
    free(log[i].key);
    free(log[i].value);
  }
  *n = 0;
}
