/*
 * codec_check: the helpers described in codec_check.h.
 */
#include "tests/support/codec_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>

#include <cmocka.h>

static uint32_t rng = 12345;

uint32_t random_next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static const char *const words[] = {"", "t", "topic-1", "a-much-longer-string-for-lengths", "ü"};

static void fill_struct(const struct mk_schema *s, int version, void *out, struct mk_arena *a,
                        int depth);

static void fill_value(const struct mk_field *f, int type, int version, void *p,
                       struct mk_arena *a, int depth, bool may_null) {
  switch (type) {
    case MK_BOOL: *(bool *)p = random_next() & 1; break;
    case MK_INT8: *(int8_t *)p = (int8_t)random_next(); break;
    case MK_INT16: *(int16_t *)p = (int16_t)random_next(); break;
    case MK_UINT16: *(uint16_t *)p = (uint16_t)random_next(); break;
    case MK_INT32: *(int32_t *)p = (int32_t)random_next(); break;
    case MK_UINT32: *(uint32_t *)p = random_next(); break;
    case MK_INT64: *(int64_t *)p = (int64_t)((uint64_t)random_next() << 32 | random_next()); break;
    case MK_FLOAT64: *(double *)p = (double)random_next() / 7.0; break;
    case MK_UUID:
      for (int i = 0; i < 16; i++) ((struct mk_uuid *)p)->b[i] = (uint8_t)random_next();
      break;
    case MK_STRING:
      if (may_null && random_next() % 4 == 0)
        *(struct mk_str *)p = MK_STR_NULL;
      else
        *(struct mk_str *)p = mk_str_of(words[random_next() % 5]);
      break;
    case MK_BYTES: case MK_RECORDS:
      if (may_null && random_next() % 4 == 0)
        *(struct mk_bytes *)p = MK_BYTES_NULL;
      else
        *(struct mk_bytes *)p = (struct mk_bytes){(const uint8_t *)"\x00\x01\x02\xff binary",
                                                  (int32_t)(random_next() % 12)};
      break;
    case MK_STRUCT: fill_struct(f->schema, version, p, a, depth + 1); break;
  }
}

static size_t elem_size(const struct mk_field *f) {
  return mk_schema_value_size(f->elem, f->schema);
}

static void fill_struct(const struct mk_schema *s, int version, void *out, struct mk_arena *a,
                        int depth) {
  mk_schema_set_defaults(s, out);
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (!mk_field_present(f, version)) continue;
    char *base = out;
    if (f->type != MK_ARRAY) {
      fill_value(f, f->type, version, base + f->offset, a, depth, version >= f->nullable_since);
      continue;
    }
    int32_t n = depth > 3 ? 0 : (int32_t)(random_next() % 3);
    if (version >= f->nullable_since && random_next() % 5 == 0) n = -1;
    void *items = n > 0 ? mk_arena_alloc(a, elem_size(f) * (size_t)n) : NULL;
    for (int32_t j = 0; j < n; j++)
      fill_value(f, f->elem, version, (char *)items + elem_size(f) * (size_t)j, a, depth, false);
    *(void **)(base + f->offset) = items;
    *(int32_t *)(base + f->count_offset) = n;
  }
}

void random_message_fill(const struct mk_schema *s, int version, void *out, struct mk_arena *a) {
  fill_struct(s, version, out, a, 0);
}

void expect_bytes(const struct mk_writer *w, const uint8_t *want, size_t len) {
  if (w->len != len) fail_msg("encoded %zu bytes, want %zu", w->len, len);
  assert_memory_equal(w->buf, want, len);
}
