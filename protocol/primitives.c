/*
 * Primitives: the reader and writer declared in primitives.h.
 *
 * The reader's one rule: check that n bytes remain before touching them, and on
 * failure record the first error and its position, then return zero forever.
 * Lengths are compared as size_t after ruling out negatives, so no arithmetic
 * here can wrap.
 */
#include "protocol/primitives.h"

#include <stdlib.h>
#include <string.h>

struct mk_str mk_str_of(const char *s) {
  if (!s) return MK_STR_NULL;
  return (struct mk_str){s, (int32_t)strlen(s)};
}

bool mk_str_eq(struct mk_str s, const char *c) {
  size_t n = strlen(c);
  return s.len >= 0 && (size_t)s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* ---- reading ---------------------------------------------------------------------------- */

size_t mk_reader_remaining(const struct mk_reader *r) {
  return r->err ? 0 : r->len - r->pos;
}

const char *mk_reader_strerror(int err) {
  switch (err) {
    case MK_READ_OK: return "no error";
    case MK_READ_SHORT: return "buffer ended inside a value";
    case MK_READ_VARINT: return "varint is too long";
    case MK_READ_LENGTH: return "length is negative or larger than the bytes left";
  }
  return "unknown read error";
}

static void fail(struct mk_reader *r, int err) {
  if (!r->err) {
    r->err = err;
    r->err_pos = r->pos;
  }
}

/* The one bounds check every read goes through. */
static const uint8_t *take(struct mk_reader *r, size_t n) {
  static const uint8_t nothing[1];
  if (r->err) return NULL;
  if (n > r->len - r->pos) {
    fail(r, MK_READ_SHORT);
    return NULL;
  }
  if (!r->buf) return nothing;  /* zero bytes of an empty buffer: NULL + 0 is undefined in C */
  const uint8_t *p = r->buf + r->pos;
  r->pos += n;
  return p;
}

const uint8_t *mk_read_raw_slow(struct mk_reader *r, size_t n) { return take(r, n); }

uint16_t mk_read_u16(struct mk_reader *r) {
  const uint8_t *p = take(r, 2);
  return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

int16_t mk_read_i16(struct mk_reader *r) { return (int16_t)mk_read_u16(r); }

uint32_t mk_read_u32(struct mk_reader *r) {
  const uint8_t *p = take(r, 4);
  return p ? mk_load_u32(p) : 0;
}

int32_t mk_read_i32(struct mk_reader *r) { return (int32_t)mk_read_u32(r); }

int64_t mk_read_i64(struct mk_reader *r) {
  const uint8_t *p = take(r, 8);
  return p ? (int64_t)mk_load_u64(p) : 0;
}

double mk_read_f64(struct mk_reader *r) {
  uint64_t bits = (uint64_t)mk_read_i64(r);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

bool mk_read_bool(struct mk_reader *r) { return mk_read_i8(r) != 0; }

struct mk_uuid mk_read_uuid(struct mk_reader *r) {
  struct mk_uuid u = {{0}};
  const uint8_t *p = take(r, 16);
  if (p) memcpy(u.b, p, 16);
  return u;
}

int mk_uvarint_decode_slow(const uint8_t **p, const uint8_t *end, int max_bytes,
                          uint64_t *out) {
  const uint8_t *q = *p;
  uint64_t v = 0;
  for (int i = 0; i < max_bytes; i++) {
    if (q + i >= end) return MK_READ_SHORT;
    v |= (uint64_t)(q[i] & 0x7f) << (7 * i);
    if (q[i] < 0x80) {
      *out = v;
      *p = q + i + 1;
      return 0;
    }
  }
  return MK_READ_VARINT;
}

/* The reader form of the decoder: bounds come from the reader, errors become sticky. */
static uint64_t read_uvarint64(struct mk_reader *r, int max_bytes) {
  if (r->err) return 0;
  if (!r->buf) {
    fail(r, MK_READ_SHORT);
    return 0;
  }
  const uint8_t *p = r->buf + r->pos;
  uint64_t v;
  int rc = mk_uvarint_decode(&p, r->buf + r->len, max_bytes, &v);
  if (rc) {
    /* Point the error where it became certain: the end of the buffer, or the last byte
     * an overlong varint may use. */
    r->pos = rc == MK_READ_SHORT ? r->len : r->pos + (size_t)max_bytes;
    fail(r, rc);
    return 0;
  }
  r->pos = (size_t)(p - r->buf);
  return v;
}

uint32_t mk_read_uvarint(struct mk_reader *r) { return (uint32_t)read_uvarint64(r, 5); }
int32_t mk_read_varint(struct mk_reader *r) { return (int32_t)mk_zigzag_decode(read_uvarint64(r, 5)); }
int64_t mk_read_varlong(struct mk_reader *r) { return mk_zigzag_decode(read_uvarint64(r, 10)); }

/* A length prefix in either form; -1 means null. Checks the length against what is left. */
static int64_t read_len(struct mk_reader *r, bool compact, bool wide) {
  size_t start = r->pos;
  int64_t n;
  if (compact)
    n = (int64_t)mk_read_uvarint(r) - 1;
  else
    n = wide ? mk_read_i32(r) : mk_read_i16(r);
  if (r->err) return -1;
  if (n < -1 || n > (int64_t)(r->len - r->pos)) {
    r->pos = start;  /* so the error points at the length, not past it */
    fail(r, MK_READ_LENGTH);
    return -1;
  }
  return n;
}

struct mk_str mk_read_string(struct mk_reader *r, bool compact) {
  int64_t n = read_len(r, compact, false);
  if (n < 0) return MK_STR_NULL;
  return (struct mk_str){(const char *)take(r, (size_t)n), (int32_t)n};
}

struct mk_bytes mk_read_bytes(struct mk_reader *r, bool compact) {
  int64_t n = read_len(r, compact, true);
  if (n < 0) return MK_BYTES_NULL;
  return (struct mk_bytes){take(r, (size_t)n), (int32_t)n};
}

int32_t mk_read_array_len(struct mk_reader *r, bool compact) {
  return (int32_t)read_len(r, compact, true);
}

/* ---- writing ---------------------------------------------------------------------------- */

void mk_writer_init(struct mk_writer *w) { memset(w, 0, sizeof *w); }

void mk_writer_free(struct mk_writer *w) {
  free(w->buf);
  mk_writer_init(w);
}

uint8_t *mk_writer_take(struct mk_writer *w, size_t *len) {
  uint8_t *b = w->buf;
  if (len) *len = w->len;
  mk_writer_init(w);
  return b;
}

uint8_t *mk_writer_extend(struct mk_writer *w, size_t n) {
  static uint8_t nothing[1];
  if (w->failed) return NULL;
  if (n == 0) return w->buf ? w->buf + w->len : nothing;  /* never NULL + 0 */
  if (n > w->cap - w->len) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
      if (cap > SIZE_MAX / 2) {
        w->failed = true;
        return NULL;
      }
      cap *= 2;
    }
    uint8_t *b = realloc(w->buf, cap);
    if (!b) {
      w->failed = true;
      return NULL;
    }
    w->buf = b;
    w->cap = cap;
  }
  uint8_t *p = w->buf + w->len;
  w->len += n;
  return p;
}

void mk_write_raw(struct mk_writer *w, const void *p, size_t n) {
  uint8_t *d = mk_writer_extend(w, n);
  if (d && n) memcpy(d, p, n);
}

void mk_write_i8(struct mk_writer *w, int8_t v) {
  uint8_t *d = mk_writer_extend(w, 1);
  if (d) d[0] = (uint8_t)v;
}

void mk_write_u16(struct mk_writer *w, uint16_t v) {
  uint8_t *d = mk_writer_extend(w, 2);
  if (d) {
    d[0] = (uint8_t)(v >> 8);
    d[1] = (uint8_t)v;
  }
}

void mk_write_i16(struct mk_writer *w, int16_t v) { mk_write_u16(w, (uint16_t)v); }

void mk_write_u32(struct mk_writer *w, uint32_t v) {
  uint8_t *d = mk_writer_extend(w, 4);
  if (d) mk_store_u32(d, v);
}

void mk_write_i32(struct mk_writer *w, int32_t v) { mk_write_u32(w, (uint32_t)v); }

void mk_write_i64(struct mk_writer *w, int64_t v) {
  uint8_t *d = mk_writer_extend(w, 8);
  if (d) mk_store_u64(d, (uint64_t)v);
}

void mk_write_f64(struct mk_writer *w, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  mk_write_i64(w, (int64_t)bits);
}

void mk_write_bool(struct mk_writer *w, bool v) { mk_write_i8(w, v ? 1 : 0); }
void mk_write_uuid(struct mk_writer *w, struct mk_uuid v) { mk_write_raw(w, v.b, 16); }

static void write_uvarint64(struct mk_writer *w, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  while (v >= 0x80) {
    tmp[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  tmp[n++] = (uint8_t)v;
  mk_write_raw(w, tmp, (size_t)n);
}

void mk_write_uvarint(struct mk_writer *w, uint32_t v) { write_uvarint64(w, v); }

void mk_write_varint(struct mk_writer *w, int32_t v) {
  write_uvarint64(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void mk_write_varlong(struct mk_writer *w, int64_t v) {
  write_uvarint64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void write_len(struct mk_writer *w, int32_t n, bool compact, bool wide) {
  if (n < 0) n = -1;
  if (compact)
    mk_write_uvarint(w, (uint32_t)(n + 1));
  else if (wide)
    mk_write_i32(w, n);
  else
    mk_write_i16(w, (int16_t)n);
}

void mk_write_string(struct mk_writer *w, struct mk_str s, bool compact) {
  write_len(w, s.len, compact, false);
  if (s.len > 0) mk_write_raw(w, s.ptr, (size_t)s.len);
}

void mk_write_bytes(struct mk_writer *w, struct mk_bytes b, bool compact) {
  write_len(w, b.len, compact, true);
  if (b.len > 0) mk_write_raw(w, b.ptr, (size_t)b.len);
}

void mk_write_array_len(struct mk_writer *w, int32_t count, bool compact) {
  write_len(w, count, compact, true);
}

void mk_writer_patch_i32(struct mk_writer *w, size_t pos, int32_t v) {
  if (!w->failed && pos + 4 <= w->len) mk_store_u32(w->buf + pos, (uint32_t)v);
}

static int sizeof_uvarint64(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

int mk_sizeof_uvarint(uint32_t v) { return sizeof_uvarint64(v); }
int mk_sizeof_varint(int32_t v) { return sizeof_uvarint64(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }
int mk_sizeof_varlong(int64_t v) { return sizeof_uvarint64(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
