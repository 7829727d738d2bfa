/*
 * Schema: the generic encoder and decoder that walk the message tables.
 *
 * Decoding a struct, in Kafka's order:
 *   1. each fixed field (tag < 0) in table order: present at this version?
 *      read it : leave its default;
 *   2. if the version is flexible: every tagged field gets its default, then
 *      the tagged section is read; known tags fill their field, unknown tags
 *      are skipped by their size, as KIP-482 requires.
 * Encoding mirrors it. Tagged fields are written only when they differ from
 * their default, in the table's order (the generator keeps tags ascending).
 *
 * Errors carry a path. While descending, each level pushes the field name (and
 * array index) on a small stack; the first failure formats the stack into the
 * message, so "truncated" becomes "topics[1].partitions[0].records at byte 57".
 */
#include "protocol/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MAX_DEPTH = 16 };

struct ctx {
  const char *message;   /* top-level schema name, for error text */
  int version;
  bool flexible;
  struct mk_arena *arena;
  struct mk_err *err;
  int code;              /* first failure, sticky */
  int depth;
  struct {
    const char *name;
    int32_t index;       /* -1 when not inside an array */
  } path[MAX_DEPTH];
};

/* ---- shared helpers -------------------------------------------------------------------- */

static void push(struct ctx *c, const char *name, int32_t index) {
  if (c->depth < MAX_DEPTH) {
    c->path[c->depth].name = name;
    c->path[c->depth].index = index;
  }
  c->depth++;
}

static void pop(struct ctx *c) { c->depth--; }

/* Record the first failure with the current path. `pos` is the byte offset, or -1. */
__attribute__((format(printf, 4, 5))) static int fail(struct ctx *c, int code, long pos,
                                                      const char *fmt, ...) {
  if (c->code) return c->code;
  c->code = code;
  if (!c->err) return code;
  char path[96] = "";
  size_t n = 0;
  for (int i = 0; i < c->depth && i < MAX_DEPTH && n < sizeof path; i++) {
    if (c->path[i].index >= 0)
      n += (size_t)snprintf(path + n, sizeof path - n, "[%d]", c->path[i].index);
    else
      n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", i ? "." : "", c->path[i].name);
  }
  char why[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (pos >= 0)
    mk_err_set(c->err, code, "%s v%d: %s at byte %ld: %s", c->message, c->version,
               path[0] ? path : "(message)", pos, why);
  else
    mk_err_set(c->err, code, "%s v%d: %s: %s", c->message, c->version,
               path[0] ? path : "(message)", why);
  return code;
}

static bool nullable(const struct ctx *c, const struct mk_field *f) {
  return c->version >= f->nullable_since;
}

size_t mk_schema_value_size(int type, const struct mk_schema *s) {
  switch (type) {
    case MK_BOOL: return sizeof(bool);
    case MK_INT8: return 1;
    case MK_INT16: case MK_UINT16: return 2;
    case MK_INT32: case MK_UINT32: return 4;
    case MK_INT64: return 8;
    case MK_FLOAT64: return sizeof(double);
    case MK_UUID: return sizeof(struct mk_uuid);
    case MK_STRING: return sizeof(struct mk_str);
    case MK_BYTES: case MK_RECORDS: return sizeof(struct mk_bytes);
    case MK_STRUCT: return s->size;
  }
  return 0;
}

#define AT(T, base, off) ((T *)((char *)(base) + (off)))
#define CAT(T, base, off) ((const T *)((const char *)(base) + (off)))

/* ---- defaults -------------------------------------------------------------------------- */

static void set_default(const struct mk_field *f, void *base) {
  void *p = (char *)base + f->offset;
  switch (f->type) {
    case MK_BOOL: *(bool *)p = f->def != 0; break;
    case MK_INT8: *(int8_t *)p = (int8_t)f->def; break;
    case MK_INT16: *(int16_t *)p = (int16_t)f->def; break;
    case MK_UINT16: *(uint16_t *)p = (uint16_t)f->def; break;
    case MK_INT32: *(int32_t *)p = (int32_t)f->def; break;
    case MK_UINT32: *(uint32_t *)p = (uint32_t)f->def; break;
    case MK_INT64: *(int64_t *)p = f->def; break;
    case MK_FLOAT64: *(double *)p = (double)f->def; break;
    case MK_UUID: memset(p, 0, sizeof(struct mk_uuid)); break;
    case MK_STRING:
      *(struct mk_str *)p = f->def < 0 ? MK_STR_NULL : (struct mk_str){"", 0};
      break;
    case MK_BYTES: case MK_RECORDS:
      *(struct mk_bytes *)p = f->def < 0 ? MK_BYTES_NULL : (struct mk_bytes){NULL, 0};
      break;
    case MK_STRUCT: mk_schema_set_defaults(f->schema, p); break;
    case MK_ARRAY:
      *(void **)p = NULL;
      *AT(int32_t, base, f->count_offset) = 0;
      break;
  }
}

void mk_schema_set_defaults(const struct mk_schema *s, void *out) {
  memset(out, 0, s->size);
  for (int i = 0; i < s->nfields; i++) set_default(&s->fields[i], out);
}

static bool struct_is_default(const struct mk_schema *s, const void *base);

static bool is_default(const struct mk_field *f, const void *base) {
  const void *p = (const char *)base + f->offset;
  switch (f->type) {
    case MK_BOOL: return *(const bool *)p == (f->def != 0);
    case MK_INT8: return *(const int8_t *)p == f->def;
    case MK_INT16: return *(const int16_t *)p == f->def;
    case MK_UINT16: return *(const uint16_t *)p == f->def;
    case MK_INT32: return *(const int32_t *)p == f->def;
    case MK_UINT32: return *(const uint32_t *)p == f->def;
    case MK_INT64: return *(const int64_t *)p == f->def;
    case MK_FLOAT64: return *(const double *)p == (double)f->def;
    case MK_UUID: {
      static const struct mk_uuid zero;
      return memcmp(p, &zero, sizeof zero) == 0;
    }
    case MK_STRING: {
      const struct mk_str *s = p;
      return f->def < 0 ? s->len < 0 : s->len == 0;
    }
    case MK_BYTES: case MK_RECORDS: return ((const struct mk_bytes *)p)->len <= 0;
    case MK_STRUCT: return struct_is_default(f->schema, p);
    case MK_ARRAY: return *CAT(int32_t, base, f->count_offset) <= 0;
  }
  return true;
}

static bool struct_is_default(const struct mk_schema *s, const void *base) {
  for (int i = 0; i < s->nfields; i++)
    if (!is_default(&s->fields[i], base)) return false;
  return true;
}

/* ---- decoding -------------------------------------------------------------------------- */

static int decode_struct(struct ctx *c, const struct mk_schema *s, struct mk_reader *r, void *out);

static int read_failed(struct ctx *c, struct mk_reader *r) {
  return fail(c, MK_ERR__DECODE, (long)r->err_pos, "%s", mk_reader_strerror(r->err));
}

/* Decode one value of `type` into p. f supplies the nested schema; may_be_null says whether
 * a null is allowed here (a field's own nullability; never for an array's elements, which
 * Kafka does not allow to be null). */
static int decode_value(struct ctx *c, const struct mk_field *f, int type, struct mk_reader *r,
                        void *p, bool may_be_null) {
  size_t start = r->pos;
  switch (type) {
    case MK_BOOL: *(bool *)p = mk_read_bool(r); break;
    case MK_INT8: *(int8_t *)p = mk_read_i8(r); break;
    case MK_INT16: *(int16_t *)p = mk_read_i16(r); break;
    case MK_UINT16: *(uint16_t *)p = mk_read_u16(r); break;
    case MK_INT32: *(int32_t *)p = mk_read_i32(r); break;
    case MK_UINT32: *(uint32_t *)p = mk_read_u32(r); break;
    case MK_INT64: *(int64_t *)p = mk_read_i64(r); break;
    case MK_FLOAT64: *(double *)p = mk_read_f64(r); break;
    case MK_UUID: *(struct mk_uuid *)p = mk_read_uuid(r); break;
    case MK_STRING: {
      struct mk_str s = mk_read_string(r, c->flexible);
      if (!r->err && s.len < 0 && !may_be_null)
        return fail(c, MK_ERR__DECODE, (long)start, "null where the version allows no null");
      *(struct mk_str *)p = s;
      break;
    }
    case MK_BYTES: case MK_RECORDS: {
      struct mk_bytes b = mk_read_bytes(r, c->flexible);
      if (!r->err && b.len < 0 && !may_be_null)
        return fail(c, MK_ERR__DECODE, (long)start, "null where the version allows no null");
      *(struct mk_bytes *)p = b;
      break;
    }
    case MK_STRUCT: return decode_struct(c, f->schema, r, p);
  }
  return r->err ? read_failed(c, r) : 0;
}

static int decode_array(struct ctx *c, const struct mk_field *f, struct mk_reader *r, void *base) {
  size_t start = r->pos;
  int32_t n = mk_read_array_len(r, c->flexible);
  if (r->err) return read_failed(c, r);
  void *items = NULL;
  if (n < 0) {
    if (!nullable(c, f))
      return fail(c, MK_ERR__DECODE, (long)start, "null array where the version allows no null");
  } else if (n > 0) {
    size_t size = mk_schema_value_size(f->elem, f->schema);
    items = mk_arena_alloc(c->arena, size * (size_t)n);
    if (!items) return fail(c, MK_ERR__NO_MEMORY, -1, "out of memory for %d elements", n);
    for (int32_t i = 0; i < n; i++) {
      void *item = (char *)items + size * (size_t)i;
      if (f->elem == MK_STRUCT) mk_schema_set_defaults(f->schema, item);
      push(c, NULL, i);
      int rc = decode_value(c, f, f->elem, r, item, false);
      pop(c);
      if (rc) return rc;
    }
  }
  *AT(void *, base, f->offset) = items;
  *AT(int32_t, base, f->count_offset) = n;
  return 0;
}

static int decode_field(struct ctx *c, const struct mk_field *f, struct mk_reader *r, void *base) {
  push(c, f->name, -1);
  int rc = f->type == MK_ARRAY ? decode_array(c, f, r, base)
                               : decode_value(c, f, f->type, r, (char *)base + f->offset,
                                              nullable(c, f));
  pop(c);
  return rc;
}

static int decode_tagged(struct ctx *c, const struct mk_schema *s, struct mk_reader *r, void *out) {
  uint32_t count = mk_read_uvarint(r);
  for (uint32_t i = 0; i < count && !r->err; i++) {
    uint32_t tag = mk_read_uvarint(r);
    uint32_t size = mk_read_uvarint(r);
    if (r->err) break;
    if (size > mk_reader_remaining(r))
      return fail(c, MK_ERR__DECODE, (long)r->pos, "tagged field %u claims %u bytes, %zu left",
                  tag, size, mk_reader_remaining(r));
    const struct mk_field *f = NULL;
    for (int j = 0; j < s->nfields; j++)
      if (s->fields[j].tag == (int)tag && mk_field_present(&s->fields[j], c->version))
        f = &s->fields[j];
    if (f) {
      /* The value must fit inside its declared size: read it through a reader that ends there. */
      struct mk_reader sub = *r;
      sub.len = r->pos + size;
      int rc = decode_field(c, f, &sub, out);
      if (rc) return rc;
    }
    mk_read_skip(r, size);
  }
  return r->err ? read_failed(c, r) : 0;
}

static int decode_struct(struct ctx *c, const struct mk_schema *s, struct mk_reader *r, void *out) {
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (f->tag >= 0 || !mk_field_present(f, c->version)) {
      set_default(f, out);
      continue;
    }
    int rc = decode_field(c, f, r, out);
    if (rc) return rc;
  }
  return c->flexible ? decode_tagged(c, s, r, out) : 0;
}

int mk_schema_decode(const struct mk_schema *s, int version, bool flexible, struct mk_reader *r,
                     void *out, struct mk_arena *arena, struct mk_err *err) {
  struct ctx c = {.message = s->name, .version = version, .flexible = flexible, .arena = arena,
                  .err = err};
  mk_schema_set_defaults(s, out);
  return decode_struct(&c, s, r, out);
}

/* ---- encoding -------------------------------------------------------------------------- */

static int encode_struct(struct ctx *c, const struct mk_schema *s, const void *in,
                         struct mk_writer *w);

static int encode_value(struct ctx *c, const struct mk_field *f, int type, const void *p,
                        struct mk_writer *w, bool may_be_null) {
  switch (type) {
    case MK_BOOL: mk_write_bool(w, *(const bool *)p); break;
    case MK_INT8: mk_write_i8(w, *(const int8_t *)p); break;
    case MK_INT16: mk_write_i16(w, *(const int16_t *)p); break;
    case MK_UINT16: mk_write_u16(w, *(const uint16_t *)p); break;
    case MK_INT32: mk_write_i32(w, *(const int32_t *)p); break;
    case MK_UINT32: mk_write_u32(w, *(const uint32_t *)p); break;
    case MK_INT64: mk_write_i64(w, *(const int64_t *)p); break;
    case MK_FLOAT64: mk_write_f64(w, *(const double *)p); break;
    case MK_UUID: mk_write_uuid(w, *(const struct mk_uuid *)p); break;
    case MK_STRING: {
      struct mk_str s = *(const struct mk_str *)p;
      if (s.len < 0 && !may_be_null)
        return fail(c, MK_ERR__INVALID_ARG, -1, "null where the version allows no null");
      if (!c->flexible && s.len > INT16_MAX)
        return fail(c, MK_ERR__INVALID_ARG, -1, "string of %d bytes exceeds 32767", s.len);
      mk_write_string(w, s, c->flexible);
      break;
    }
    case MK_BYTES: case MK_RECORDS: {
      struct mk_bytes b = *(const struct mk_bytes *)p;
      if (b.len < 0 && !may_be_null)
        return fail(c, MK_ERR__INVALID_ARG, -1, "null where the version allows no null");
      mk_write_bytes(w, b, c->flexible);
      break;
    }
    case MK_STRUCT: return encode_struct(c, f->schema, p, w);
  }
  return 0;
}

static int encode_field(struct ctx *c, const struct mk_field *f, const void *base,
                        struct mk_writer *w) {
  int rc = 0;
  push(c, f->name, -1);
  if (f->type != MK_ARRAY) {
    rc = encode_value(c, f, f->type, (const char *)base + f->offset, w, nullable(c, f));
  } else {
    int32_t n = *CAT(int32_t, base, f->count_offset);
    const char *items = *(const char *const *)((const char *)base + f->offset);
    if (n < 0 && !nullable(c, f)) {
      rc = fail(c, MK_ERR__INVALID_ARG, -1, "null array where the version allows no null");
    } else {
      mk_write_array_len(w, n, c->flexible);
      size_t size = mk_schema_value_size(f->elem, f->schema);
      for (int32_t i = 0; i < n && !rc; i++) {
        push(c, NULL, i);
        rc = encode_value(c, f, f->elem, items + size * (size_t)i, w, false);
        pop(c);
      }
    }
  }
  pop(c);
  return rc;
}

static int encode_tagged(struct ctx *c, const struct mk_schema *s, const void *in,
                         struct mk_writer *w) {
  uint32_t count = 0;
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (f->tag >= 0 && mk_field_present(f, c->version) && !is_default(f, in)) count++;
  }
  mk_write_uvarint(w, count);
  for (int i = 0; i < s->nfields && count; i++) {
    const struct mk_field *f = &s->fields[i];
    if (f->tag < 0 || !mk_field_present(f, c->version) || is_default(f, in)) continue;
    /* A tagged value is preceded by its size, so encode it aside first. */
    struct mk_writer tmp;
    mk_writer_init(&tmp);
    int rc = encode_field(c, f, in, &tmp);
    if (!rc && tmp.failed) rc = fail(c, MK_ERR__NO_MEMORY, -1, "out of memory");
    if (!rc) {
      mk_write_uvarint(w, (uint32_t)f->tag);
      mk_write_uvarint(w, (uint32_t)tmp.len);
      mk_write_raw(w, tmp.buf, tmp.len);
    }
    mk_writer_free(&tmp);
    if (rc) return rc;
  }
  return 0;
}

static int encode_struct(struct ctx *c, const struct mk_schema *s, const void *in,
                         struct mk_writer *w) {
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (f->tag >= 0) continue;
    if (!mk_field_present(f, c->version)) {
      if (!f->ignorable && !is_default(f, in)) {
        push(c, f->name, -1);
        char range[16];
        if (f->until == MK_V_ANY)
          snprintf(range, sizeof range, "v%d+", f->since);
        else
          snprintf(range, sizeof range, "v%d-%d", f->since, f->until);
        int rc = fail(c, MK_ERR__INVALID_ARG, -1,
                      "has a value, but this version cannot carry it (only %s can)", range);
        pop(c);
        return rc;
      }
      continue;
    }
    int rc = encode_field(c, f, in, w);
    if (rc) return rc;
  }
  return c->flexible ? encode_tagged(c, s, in, w) : 0;
}

int mk_schema_encode(const struct mk_schema *s, int version, bool flexible, const void *in,
                     struct mk_writer *w, struct mk_err *err) {
  struct ctx c = {.message = s->name, .version = version, .flexible = flexible, .err = err};
  int rc = encode_struct(&c, s, in, w);
  if (!rc && w->failed) rc = fail(&c, MK_ERR__NO_MEMORY, -1, "out of memory");
  return rc;
}

/* ---- data messages --------------------------------------------------------------------- */

static bool data_is_flexible(const struct mk_data_schema *d, int version) {
  return version >= d->flexible_since;
}

int mk_data_encode(const struct mk_data_schema *d, int version, const void *in,
                   struct mk_writer *w, struct mk_err *err) {
  if (version < d->min_version || version > d->max_version)
    return mk_err_set(err, MK_ERR__UNSUPPORTED, "%s: no version %d (Kafka's spec has %d-%d)",
                      d->schema->name, version, d->min_version, d->max_version);
  mk_write_i16(w, (int16_t)version);
  return mk_schema_encode(d->schema, version, data_is_flexible(d, version), in, w, err);
}

int mk_data_decode(const struct mk_data_schema *d, enum mk_data_rule rule, const uint8_t *buf,
                   size_t len, int *version, void *out, struct mk_arena *arena,
                   struct mk_err *err) {
  const char *name = d->schema->name;
  if (len < 2)
    return mk_err_set(err, MK_ERR__DECODE, "%s: %zu byte%s, too short for the int16 version "
                      "it starts with", name, len, len == 1 ? "" : "s");
  struct mk_reader r;
  mk_reader_init(&r, buf, len);
  int v = mk_read_i16(&r);
  *version = v;
  bool newer = v > d->max_version && rule == MK_DATA_NEWER_AS_LATEST;
  if (v < d->min_version || (v > d->max_version && !newer))
    return mk_err_set(err, MK_ERR__UNSUPPORTED, "%s: version %d is not one we know (%d-%d)",
                      name, v, d->min_version, d->max_version);
  int as = newer ? d->max_version : v;
  int rc = mk_schema_decode(d->schema, as, data_is_flexible(d, as), &r, out, arena, err);
  if (rc) return rc;
  if (rule == MK_DATA_EXACT && r.pos != len)
    return mk_err_set(err, MK_ERR__DECODE, "%s v%d: %zu byte%s after the message (it ends at "
                      "byte %zu)", name, v, len - r.pos, len - r.pos == 1 ? "" : "s", r.pos);
  return 0;
}
