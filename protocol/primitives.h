/*
 * Primitives: Kafka's basic wire types, read from and written to byte buffers.
 * Kafka: clients/.../common/protocol/types/Type.java, ByteUtils.java.
 *
 * Every fixed-width integer on the wire is big-endian. Variable-length integers
 * (used inside record batches and in "flexible" message versions) come in two
 * forms:
 *   unsigned varint  7 bits per byte, low bits first, high bit = "more follows"
 *   varint/varlong   zigzag-encoded first, so -1 becomes 1 and small negatives
 *                    stay short: (n << 1) ^ (n >> 31)
 *
 * Reading uses a cursor with a sticky error, the way xv6 and Redis parsers
 * would rather than hidden gotos: after the first failure (a short buffer, an
 * overlong varint) every later read returns zero and does nothing, so a
 * decoder reads all its fields straight through and checks r->err once at the
 * end. A reader never touches memory outside [buf, buf + len).
 *
 * Writing appends to a growable buffer. An allocation failure is sticky too:
 * w->failed is set and later writes do nothing.
 *
 * Thread: any (a reader or writer belongs to one thread at a time).
 */
#ifndef MK_PROTOCOL_PRIMITIVES_H
#define MK_PROTOCOL_PRIMITIVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* STRING / NULLABLE_STRING / COMPACT_STRING. Not NUL-terminated: ptr points into the buffer
 * it was read from. len < 0 means null. */
struct mk_str {
  const char *ptr;
  int32_t len;
};

/* BYTES / NULLABLE_BYTES / COMPACT_BYTES / RECORDS. len < 0 means null. */
struct mk_bytes {
  const uint8_t *ptr;
  int32_t len;
};

struct mk_uuid {
  uint8_t b[16];
};

#define MK_STR_NULL ((struct mk_str){NULL, -1})
#define MK_BYTES_NULL ((struct mk_bytes){NULL, -1})

/* A C string as a struct mk_str (borrows s; NULL gives a null string). */
struct mk_str mk_str_of(const char *s);
/* True if s holds exactly the characters of c (never for a null s). */
bool mk_str_eq(struct mk_str s, const char *c);

/* ---- reading ---------------------------------------------------------------------------- */

enum mk_reader_error {
  MK_READ_OK = 0,
  MK_READ_SHORT,    /* the buffer ended inside a value */
  MK_READ_VARINT,   /* a varint longer than its type allows */
  MK_READ_LENGTH,   /* a length that is negative (and not null) or larger than the buffer */
};

struct mk_reader {
  const uint8_t *buf;
  size_t len;
  size_t pos;      /* next byte to read */
  int err;         /* enum mk_reader_error: the first failure, sticky */
  size_t err_pos;  /* where the first failure happened */
};

/* A reader over [buf, buf + len). Borrows buf for the reader's life. Inline: the record
 * parser starts one per record (for its headers). */
static inline void mk_reader_init(struct mk_reader *r, const void *buf, size_t len) {
  *r = (struct mk_reader){.buf = (const uint8_t *)buf, .len = len};
}
size_t mk_reader_remaining(const struct mk_reader *r);
/* Human words for r->err ("buffer ended", ...). */
const char *mk_reader_strerror(int err);

int16_t mk_read_i16(struct mk_reader *r);
uint16_t mk_read_u16(struct mk_reader *r);
int32_t mk_read_i32(struct mk_reader *r);
uint32_t mk_read_u32(struct mk_reader *r);
int64_t mk_read_i64(struct mk_reader *r);
double mk_read_f64(struct mk_reader *r);
bool mk_read_bool(struct mk_reader *r);
struct mk_uuid mk_read_uuid(struct mk_reader *r);

/* Varints over raw pointers: the one decoder behind mk_read_uvarint/varint/varlong, also
 * used directly by the record-batch parser, which reads several per record (a broker
 * validates every record it receives, so this is its hottest code). Keeping the position
 * in a local pointer, not in a struct in memory, lets the compiler keep it in a register.
 *
 * Decodes an unsigned varint of at most max_bytes bytes (5 for 32-bit, 10 for 64-bit)
 * starting at *p and ending before end. On success advances *p and returns 0; else
 * returns MK_READ_SHORT (the buffer ended) or MK_READ_VARINT (too long), leaving *p.
 * Varints of up to three bytes are decoded inline; longer ones, and any near the end of
 * the buffer, out of line. */
int mk_uvarint_decode_slow(const uint8_t **p, const uint8_t *end, int max_bytes, uint64_t *out);

static inline int mk_uvarint_decode(const uint8_t **p, const uint8_t *end, int max_bytes,
                                    uint64_t *out) {
  const uint8_t *q = *p;
  if (q < end && q[0] < 0x80) {  /* one byte: also the last field of most records */
    *out = q[0];
    *p = q + 1;
    return 0;
  }
  if (end - q >= 3) {
    if (q[1] < 0x80) {
      *out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
      *p = q + 2;
      return 0;
    }
    if (q[2] < 0x80) {
      *out = (uint64_t)(q[0] & 0x7f) | (uint64_t)(q[1] & 0x7f) << 7 | (uint64_t)q[2] << 14;
      *p = q + 3;
      return 0;
    }
  }
  return mk_uvarint_decode_slow(p, end, max_bytes, out);
}

/* Zigzag: 0, -1, 1, -2 ... are stored as 0, 1, 2, 3 ... */
static inline int64_t mk_zigzag_decode(uint64_t z) { return (int64_t)((z >> 1) ^ (~(z & 1) + 1)); }

/* The reader forms. Out of line for the error bookkeeping; see primitives.c. */
uint32_t mk_read_uvarint(struct mk_reader *r);
int32_t mk_read_varint(struct mk_reader *r);
int64_t mk_read_varlong(struct mk_reader *r);

/* n raw bytes: returns a pointer into the buffer, or NULL (and sets the error) if fewer
 * remain. Inline for the common case; mk_read_raw_slow handles errors and empty buffers. */
const uint8_t *mk_read_raw_slow(struct mk_reader *r, size_t n);
static inline const uint8_t *mk_read_raw(struct mk_reader *r, size_t n) {
  if (!r->err && r->buf && n <= r->len - r->pos) {
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
  }
  return mk_read_raw_slow(r, n);
}

static inline int8_t mk_read_i8(struct mk_reader *r) {
  const uint8_t *p = mk_read_raw(r, 1);
  return p ? (int8_t)p[0] : 0;
}

/* Skip n bytes. */
static inline void mk_read_skip(struct mk_reader *r, size_t n) { (void)mk_read_raw(r, n); }

/* Length-prefixed values. `compact` selects the flexible-version form (unsigned varint of
 * length + 1, 0 = null) over the classic one (int16 for strings, int32 for bytes, -1 = null).
 * A null where the caller does not allow one is still returned as null: nullability is a
 * schema question, checked by the schema codec. */
struct mk_str mk_read_string(struct mk_reader *r, bool compact);
struct mk_bytes mk_read_bytes(struct mk_reader *r, bool compact);
/* An array's element count: int32 (-1 = null) or compact (uvarint count + 1, 0 = null).
 * Returns -1 for null. A count larger than the bytes left is a length error, since every
 * element takes at least one byte; this stops a four-byte lie from allocating gigabytes. */
int32_t mk_read_array_len(struct mk_reader *r, bool compact);

/* ---- writing ---------------------------------------------------------------------------- */

struct mk_writer {
  uint8_t *buf;  /* owned: free with mk_writer_free(), or take it with mk_writer_take() */
  size_t len;
  size_t cap;
  bool failed;   /* an allocation failed; sticky */
};

void mk_writer_init(struct mk_writer *w);
void mk_writer_free(struct mk_writer *w);
/* Give the buffer to the caller (who frees it with free()); the writer is reset. */
uint8_t *mk_writer_take(struct mk_writer *w, size_t *len);
/* Make room for n more bytes and return where they go (NULL after a failure). The caller
 * must fill them; len grows by n. */
uint8_t *mk_writer_extend(struct mk_writer *w, size_t n);

void mk_write_raw(struct mk_writer *w, const void *p, size_t n);
void mk_write_i8(struct mk_writer *w, int8_t v);
void mk_write_i16(struct mk_writer *w, int16_t v);
void mk_write_u16(struct mk_writer *w, uint16_t v);
void mk_write_i32(struct mk_writer *w, int32_t v);
void mk_write_u32(struct mk_writer *w, uint32_t v);
void mk_write_i64(struct mk_writer *w, int64_t v);
void mk_write_f64(struct mk_writer *w, double v);
void mk_write_bool(struct mk_writer *w, bool v);
void mk_write_uuid(struct mk_writer *w, struct mk_uuid v);
void mk_write_uvarint(struct mk_writer *w, uint32_t v);
void mk_write_varint(struct mk_writer *w, int32_t v);
void mk_write_varlong(struct mk_writer *w, int64_t v);
void mk_write_string(struct mk_writer *w, struct mk_str s, bool compact);
void mk_write_bytes(struct mk_writer *w, struct mk_bytes b, bool compact);
/* count < 0 writes a null array. */
void mk_write_array_len(struct mk_writer *w, int32_t count, bool compact);

/* Overwrite 4 bytes at pos with a big-endian int32 (to patch a size written as a placeholder). */
void mk_writer_patch_i32(struct mk_writer *w, size_t pos, int32_t v);

/* Sizes of varints as they would be written (for computing lengths before writing). */
int mk_sizeof_uvarint(uint32_t v);
int mk_sizeof_varint(int32_t v);
int mk_sizeof_varlong(int64_t v);

/* Big-endian loads and stores on raw memory, for code that patches fixed offsets. */
static inline uint32_t mk_load_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void mk_store_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint64_t mk_load_u64(const uint8_t *p) {
  return (uint64_t)mk_load_u32(p) << 32 | mk_load_u32(p + 4);
}
static inline void mk_store_u64(uint8_t *p, uint64_t v) {
  mk_store_u32(p, (uint32_t)(v >> 32)); mk_store_u32(p + 4, (uint32_t)v);
}

#endif
