/*
 * Avro data: JSON <-> avro-c values <-> binary. See avro_datum.h.
 *
 *   from_json   walk the schema's tree and the JSON together, setting avro-c's generic
 *               value part by part; the path ("address.zip", "tags[3]") is kept for errors
 *   scan        the bounded walk over binary data that runs before avro-c decodes it
 *   to_json     walk the tree and avro-c's value together, building jansson values
 */
#include "schemas/avro_datum.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/avro_compatibility.h"

/* ---- paths, for messages ---------------------------------------------------------------- */

struct path {
  char text[160];
  size_t len;
};

static size_t path_push(struct path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(struct path *p, const char *fmt, ...) {
  size_t saved = p->len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
  va_end(ap);
  if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
  return saved;
}

static void path_pop(struct path *p, size_t saved) {
  p->len = saved;
  p->text[saved] = '\0';
}

/* "field 'a.b'" or "the value" (a top-level value has no field name) */
static const char *path_name(const struct path *p, char *buf, size_t size) {
  if (!p->len) return "the value";
  snprintf(buf, size, "field '%s'", p->text[0] == '.' ? p->text + 1 : p->text);
  return buf;
}

/* ---- JSON -> value ---------------------------------------------------------------------- */

struct from {
  struct path path;
  struct mk_err *err;
};

static int bad(struct from *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct from *f, const char *fmt, ...) {
  char what[120], name[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return mk_err_set(f->err, MK_ERR__INVALID_ARG, "%s: %s",
                    path_name(&f->path, name, sizeof name), what);
}

static const char *json_kind(const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
  }
}

static int expected(struct from *f, const char *what, const json_t *j) {
  char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
  int rc = bad(f, "expected %s, got %s %.32s%s", what, json_kind(j), text ? text : "",
               text && strlen(text) > 32 ? "..." : "");
  free(text);
  return rc;
}

static int avro_failed(struct from *f) { return bad(f, "avro-c: %s", avro_strerror()); }

/* bytes and fixed in JSON: one character U+0000..U+00FF per byte. Decodes s (UTF-8, as
 * jansson holds it) into out, which has room for len bytes. Returns the byte count, or -1. */
static long latin1_bytes(const char *s, size_t len, uint8_t *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; n++) {
    uint8_t c = (uint8_t)s[i];
    if (c < 0x80) {
      out[n] = c;
      i++;
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < len) {
      out[n] = (uint8_t)((c & 0x03) << 6 | ((uint8_t)s[i + 1] & 0x3f));
      i += 2;
    } else {
      return -1;
    }
  }
  return (long)n;
}

static int from_json(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v,
                     bool is_default, int depth);

static int set_bytes(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v) {
  if (!json_is_string(j)) return expected(f, t->kind == MK_AVRO_FIXED ? "a fixed" : "bytes", j);
  size_t len = json_string_length(j);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return mk_err_set(f->err, MK_ERR__NO_MEMORY, "out of memory");
  long n = latin1_bytes(json_string_value(j), len, buf);
  int rc = 0;
  if (n < 0)
    rc = bad(f, "a character above U+00FF in %s (each character stands for one byte)",
             mk_avro_kind_name(t->kind));
  else if (t->kind == MK_AVRO_FIXED && n != t->size)
    rc = bad(f, "expected %lld bytes for fixed %s, got %ld", (long long)t->size, t->full_name, n);
  else if (t->kind == MK_AVRO_FIXED ? avro_value_set_fixed(v, buf, (size_t)n)
                                    : avro_value_set_bytes(v, buf, (size_t)n))
    rc = avro_failed(f);
  free(buf);
  return rc;
}

/* float and double also accept "NaN", "Infinity" and "-Infinity", as Avro's JsonDecoder. */
static int set_real(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v) {
  double d;
  const char *s = json_string_value(j);
  if (json_is_number(j)) d = json_number_value(j);
  else if (s && strcmp(s, "NaN") == 0) d = NAN;
  else if (s && strcmp(s, "Infinity") == 0) d = INFINITY;
  else if (s && strcmp(s, "-Infinity") == 0) d = -INFINITY;
  else return expected(f, t->kind == MK_AVRO_FLOAT ? "a float" : "a double", j);
  int rc = t->kind == MK_AVRO_FLOAT ? avro_value_set_float(v, (float)d) : avro_value_set_double(v, d);
  return rc ? avro_failed(f) : 0;
}

static int set_record(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v,
                      bool is_default, int depth) {
  if (!json_is_object(j)) return expected(f, "an object (record)", j);
  const char *key;
  json_t *value;
  json_object_foreach(j, key, value)
    if (!mk_avro_record_field(t, key)) return bad(f, "record %s has no field '%s'", t->full_name, key);
  for (int i = 0; i < t->num_fields; i++) {
    const struct mk_avro_field *fd = &t->fields[i];
    json_t *fj = json_object_get(j, fd->name);
    bool dflt = is_default;
    if (!fj) {
      if (!fd->default_value) {
        size_t saved = path_push(&f->path, ".%s", fd->name);
        int rc = bad(f, "missing, and it has no default");
        path_pop(&f->path, saved);
        return rc;
      }
      fj = fd->default_value;
      dflt = true;  /* a default is written in Avro's default form (see from_json) */
    }
    avro_value_t child;
    if (avro_value_get_by_index(v, (size_t)i, &child, NULL)) return avro_failed(f);
    size_t saved = path_push(&f->path, ".%s", fd->name);
    int rc = from_json(f, fd->type, fj, &child, dflt, depth + 1);
    path_pop(&f->path, saved);
    if (rc) return rc;
  }
  return 0;
}

static int set_union(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v,
                     bool is_default, int depth) {
  int index = -1;
  json_t *inner = j;
  if (is_default) {
    index = 0;  /* a union's default is a plain value of its first branch */
  } else if (json_is_null(j)) {
    for (int i = 0; i < t->num_branches && index < 0; i++)
      if (t->branches[i]->kind == MK_AVRO_NULL) index = i;
    if (index < 0) return bad(f, "null, but the union has no null branch");
  } else {
    if (!json_is_object(j) || json_object_size(j) != 1)
      return expected(f, "a union value written {\"<type>\": value} (or null)", j);
    const char *name = json_object_iter_key(json_object_iter(j));
    inner = json_object_iter_value(json_object_iter(j));
    for (int i = 0; i < t->num_branches && index < 0; i++)
      if (strcmp(mk_avro_type_branch_name(t->branches[i]), name) == 0) index = i;
    if (index < 0) {
      char branches[200] = "";
      for (int i = 0; i < t->num_branches; i++) {
        size_t l = strlen(branches);
        snprintf(branches + l, sizeof branches - l, "%s%s", i ? ", " : "",
                 mk_avro_type_branch_name(t->branches[i]));
      }
      return bad(f, "the union has no branch \"%.60s\" (it has %s)", name, branches);
    }
  }
  avro_value_t branch;
  if (avro_value_set_branch(v, index, &branch)) return avro_failed(f);
  return from_json(f, t->branches[index], inner, &branch, is_default, depth + 1);
}

/* is_default: j is a field default, in which a union holds a plain value of its first branch
 * instead of the JSON encoding's {"type": value}. */
static int from_json(struct from *f, const struct mk_avro_type *t, json_t *j, avro_value_t *v,
                     bool is_default, int depth) {
  if (depth > MK_AVRO_MAX_NESTING) return bad(f, "nested more than %d deep", MK_AVRO_MAX_NESTING);
  int rc = 0;
  switch (t->kind) {
    case MK_AVRO_NULL:
      if (!json_is_null(j)) return expected(f, "null", j);
      rc = avro_value_set_null(v);
      break;
    case MK_AVRO_BOOLEAN:
      if (!json_is_boolean(j)) return expected(f, "a boolean", j);
      rc = avro_value_set_boolean(v, json_is_true(j));
      break;
    case MK_AVRO_INT:
      if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN || json_integer_value(j) > INT32_MAX)
        return expected(f, "an int (32 bits)", j);
      rc = avro_value_set_int(v, (int32_t)json_integer_value(j));
      break;
    case MK_AVRO_LONG:
      if (!json_is_integer(j)) return expected(f, "a long", j);
      rc = avro_value_set_long(v, json_integer_value(j));
      break;
    case MK_AVRO_FLOAT:
    case MK_AVRO_DOUBLE:
      return set_real(f, t, j, v);
    case MK_AVRO_STRING:
      if (!json_is_string(j)) return expected(f, "a string", j);
      /* avro-c counts the terminating NUL in a string's size */
      rc = avro_value_set_string_len(v, json_string_value(j), json_string_length(j) + 1);
      break;
    case MK_AVRO_BYTES:
    case MK_AVRO_FIXED:
      return set_bytes(f, t, j, v);
    case MK_AVRO_ENUM: {
      const char *s = json_string_value(j);
      if (!s) return expected(f, "an enum symbol", j);
      for (int i = 0; i < t->num_symbols; i++)
        if (strcmp(s, t->symbols[i]) == 0) return avro_value_set_enum(v, i) ? avro_failed(f) : 0;
      return bad(f, "\"%.40s\" is not a symbol of enum %s", s, t->full_name);
    }
    case MK_AVRO_ARRAY: {
      if (!json_is_array(j)) return expected(f, "an array", j);
      for (size_t i = 0; i < json_array_size(j); i++) {
        avro_value_t item;
        if (avro_value_append(v, &item, NULL)) return avro_failed(f);
        size_t saved = path_push(&f->path, "[%zu]", i);
        rc = from_json(f, t->items, json_array_get(j, i), &item, is_default, depth + 1);
        path_pop(&f->path, saved);
        if (rc) return rc;
      }
      return 0;
    }
    case MK_AVRO_MAP: {
      if (!json_is_object(j)) return expected(f, "an object (map)", j);
      const char *key;
      json_t *value;
      json_object_foreach(j, key, value) {
        avro_value_t item;
        if (avro_value_add(v, key, &item, NULL, NULL)) return avro_failed(f);
        size_t saved = path_push(&f->path, "[\"%.40s\"]", key);
        rc = from_json(f, t->items, value, &item, is_default, depth + 1);
        path_pop(&f->path, saved);
        if (rc) return rc;
      }
      return 0;
    }
    case MK_AVRO_RECORD:
      return set_record(f, t, j, v, is_default, depth);
    case MK_AVRO_UNION:
      return set_union(f, t, j, v, is_default, depth);
  }
  return rc ? avro_failed(f) : 0;
}

int mk_avro_json_to_value(const struct mk_avro_schema *s, const char *json, size_t len,
                          avro_value_t *out, struct mk_err *err) {
  out->iface = NULL;
  out->self = NULL;
  json_error_t jerr;
  json_t *j = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!j)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "the value is not JSON: %s (column %d)",
                      jerr.text, jerr.column);
  avro_value_iface_t *iface = avro_generic_class_from_schema(s->avro);
  if (!iface || avro_generic_value_new(iface, out)) {
    if (iface) avro_value_iface_decref(iface);
    json_decref(j);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "avro-c could not make a value: %s", avro_strerror());
  }
  avro_value_iface_decref(iface);  /* the value holds its own reference */
  struct mk_err local;
  struct from f = {.err = err ? err : &local};
  int rc = from_json(&f, s->root, j, out, false, 0);
  json_decref(j);
  if (rc) {
    avro_value_decref(out);
    out->iface = NULL;
    out->self = NULL;
  }
  return rc;
}

/* ---- value -> binary -------------------------------------------------------------------- */

int mk_avro_value_encode(avro_value_t *value, struct mk_writer *w, struct mk_err *err) {
  size_t size;
  if (avro_value_sizeof(value, &size))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "avro-c cannot size the value: %s", avro_strerror());
  size_t at = w->len;
  uint8_t *p = mk_writer_extend(w, size);
  if (!p) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory encoding %zu bytes", size);
  avro_writer_t out = avro_writer_memory((char *)p, (int64_t)size);
  int rc = out ? avro_value_write(out, value) : ENOMEM;
  if (out) avro_writer_free(out);
  if (rc) {
    w->len = at;
    return mk_err_set(err, MK_ERR__INVALID_ARG, "avro-c cannot write the value: %s", avro_strerror());
  }
  return 0;
}

/* ---- binary check ----------------------------------------------------------------------- */

struct scan {
  struct mk_reader r;
  long items;         /* array/map items seen so far */
  struct mk_err *err;
  bool failed;
};

static bool scan_fail(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool scan_fail(struct scan *s, const char *fmt, ...) {
  if (s->failed) return false;
  char msg[150];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  mk_err_set(s->err, MK_ERR__DECODE, "byte %zu: %s", s->r.pos, msg);
  s->failed = true;
  return false;
}

static bool scan_ok(struct scan *s, const char *what) {
  if (!s->r.err) return true;
  return scan_fail(s, "%s: %s", what, mk_reader_strerror(s->r.err));
}

/* A length or count: a long that must be >= 0 and fit in what remains (for lengths). */
static bool scan_length(struct scan *s, const char *what, int64_t *len) {
  *len = mk_read_varlong(&s->r);
  if (!scan_ok(s, what)) return false;
  if (*len < 0 || (uint64_t)*len > mk_reader_remaining(&s->r))
    return scan_fail(s, "%s of %lld bytes, but %zu remain", what, (long long)*len,
                     mk_reader_remaining(&s->r));
  return true;
}

static bool scan_type(struct scan *s, const struct mk_avro_type *t, int depth);

/* Arrays and maps come in blocks: a count (negative: followed by the block's byte size),
 * that many items, ..., a zero count. */
static bool scan_blocks(struct scan *s, const struct mk_avro_type *t, int depth) {
  for (;;) {
    int64_t count = mk_read_varlong(&s->r);
    if (!scan_ok(s, "a block count")) return false;
    if (count == 0) return true;
    if (count < 0) {
      if (count == INT64_MIN) return scan_fail(s, "a block count out of range");
      count = -count;
      int64_t bytes;
      if (!scan_length(s, "a block", &bytes)) return false;
    }
    if (count > MK_AVRO_MAX_ITEMS - s->items)
      return scan_fail(s, "more than %d array or map items", MK_AVRO_MAX_ITEMS);
    s->items += (long)count;
    for (int64_t i = 0; i < count; i++) {
      if (t->kind == MK_AVRO_MAP) {
        int64_t len;
        if (!scan_length(s, "a map key", &len)) return false;
        mk_read_raw(&s->r, (size_t)len);
      }
      if (!scan_type(s, t->items, depth + 1)) return false;
    }
  }
}

static bool scan_type(struct scan *s, const struct mk_avro_type *t, int depth) {
  if (depth > MK_AVRO_MAX_NESTING) return scan_fail(s, "nested more than %d deep", MK_AVRO_MAX_NESTING);
  int64_t n;
  switch (t->kind) {
    case MK_AVRO_NULL: return true;
    case MK_AVRO_BOOLEAN: {
      const uint8_t *b = mk_read_raw(&s->r, 1);
      if (!scan_ok(s, "a boolean")) return false;
      return *b <= 1 || scan_fail(s, "a boolean byte 0x%02x (only 0 and 1 are booleans)", *b);
    }
    case MK_AVRO_INT:
      mk_read_varint(&s->r);
      return scan_ok(s, "an int");
    case MK_AVRO_LONG:
      mk_read_varlong(&s->r);
      return scan_ok(s, "a long");
    case MK_AVRO_FLOAT:
      mk_read_raw(&s->r, 4);
      return scan_ok(s, "a float");
    case MK_AVRO_DOUBLE:
      mk_read_raw(&s->r, 8);
      return scan_ok(s, "a double");
    case MK_AVRO_BYTES:
    case MK_AVRO_STRING:
      if (!scan_length(s, t->kind == MK_AVRO_BYTES ? "bytes" : "a string", &n)) return false;
      mk_read_raw(&s->r, (size_t)n);
      return true;
    case MK_AVRO_FIXED:
      mk_read_raw(&s->r, (size_t)t->size);
      return scan_ok(s, "a fixed");
    case MK_AVRO_ENUM: {
      int32_t i = mk_read_varint(&s->r);
      if (!scan_ok(s, "an enum")) return false;
      return (i >= 0 && i < t->num_symbols) ||
             scan_fail(s, "enum %s has no symbol %d", t->full_name, i);
    }
    case MK_AVRO_UNION: {
      n = mk_read_varlong(&s->r);
      if (!scan_ok(s, "a union branch")) return false;
      if (n < 0 || n >= t->num_branches)
        return scan_fail(s, "the union has no branch %lld", (long long)n);
      return scan_type(s, t->branches[n], depth + 1);
    }
    case MK_AVRO_ARRAY:
    case MK_AVRO_MAP:
      return scan_blocks(s, t, depth);
    case MK_AVRO_RECORD:
      for (int i = 0; i < t->num_fields; i++)
        if (!scan_type(s, t->fields[i].type, depth + 1)) return false;
      return true;
  }
  return false;
}

int mk_avro_binary_check(const struct mk_avro_type *t, const uint8_t *buf, size_t len,
                         struct mk_err *err) {
  struct mk_err local;
  struct scan s = {.err = err ? err : &local};
  mk_reader_init(&s.r, buf, len);
  if (!scan_type(&s, t, 0)) return s.err->code;
  if (mk_reader_remaining(&s.r))
    return mk_err_set(err, MK_ERR__DECODE, "%zu bytes left over after the value (of %zu)",
                      mk_reader_remaining(&s.r), len);
  return 0;
}

/* ---- value -> JSON ---------------------------------------------------------------------- */

struct to {
  struct path path;
  struct mk_err *err;
  bool failed;
};

static json_t *to_fail(struct to *o, const char *what) {
  if (!o->failed) {
    char name[200];
    mk_err_set(o->err, MK_ERR__INVALID_ARG, "%s: %s", path_name(&o->path, name, sizeof name), what);
    o->failed = true;
  }
  return NULL;
}

/* bytes as JSON: each byte one character U+0000..U+00FF. */
static json_t *latin1_json(const uint8_t *p, size_t n) {
  char *s = malloc(2 * n + 1);
  if (!s) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < 0x80) {
      s[k++] = (char)p[i];
    } else {
      s[k++] = (char)(0xc0 | p[i] >> 6);
      s[k++] = (char)(0x80 | (p[i] & 0x3f));
    }
  }
  json_t *j = json_stringn_nocheck(s, k);
  free(s);
  return j;
}

static json_t *real_json(double d) {
  if (isnan(d)) return json_string("NaN");
  if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
  return json_real(d);
}

static json_t *to_json(struct to *o, const struct mk_avro_type *t, avro_value_t *v, int depth) {
  if (depth > MK_AVRO_MAX_NESTING) return to_fail(o, "nested too deep");
  switch (t->kind) {
    case MK_AVRO_NULL: return json_null();
    case MK_AVRO_BOOLEAN: {
      int b = 0;
      return avro_value_get_boolean(v, &b) ? to_fail(o, avro_strerror()) : json_boolean(b);
    }
    case MK_AVRO_INT: {
      int32_t i = 0;
      return avro_value_get_int(v, &i) ? to_fail(o, avro_strerror()) : json_integer(i);
    }
    case MK_AVRO_LONG: {
      int64_t l = 0;
      return avro_value_get_long(v, &l) ? to_fail(o, avro_strerror()) : json_integer(l);
    }
    case MK_AVRO_FLOAT: {
      float x = 0;
      return avro_value_get_float(v, &x) ? to_fail(o, avro_strerror()) : real_json(x);
    }
    case MK_AVRO_DOUBLE: {
      double x = 0;
      return avro_value_get_double(v, &x) ? to_fail(o, avro_strerror()) : real_json(x);
    }
    case MK_AVRO_STRING: {
      const char *s = NULL;
      size_t size = 0;
      if (avro_value_get_string(v, &s, &size)) return to_fail(o, avro_strerror());
      json_t *j = json_stringn(s, size ? size - 1 : 0);
      return j ? j : to_fail(o, "a string that is not UTF-8");
    }
    case MK_AVRO_BYTES:
    case MK_AVRO_FIXED: {
      const void *p = NULL;
      size_t n = 0;
      int rc = t->kind == MK_AVRO_BYTES ? avro_value_get_bytes(v, &p, &n)
                                        : avro_value_get_fixed(v, &p, &n);
      return rc ? to_fail(o, avro_strerror()) : latin1_json(p, n);
    }
    case MK_AVRO_ENUM: {
      int i = -1;
      if (avro_value_get_enum(v, &i) || i < 0 || i >= t->num_symbols)
        return to_fail(o, "an enum index out of range");
      return json_string(t->symbols[i]);
    }
    case MK_AVRO_UNION: {
      int d = -1;
      avro_value_t branch;
      if (avro_value_get_discriminant(v, &d) || d < 0 || d >= t->num_branches ||
          avro_value_get_current_branch(v, &branch))
        return to_fail(o, "a union with no branch set");
      const struct mk_avro_type *b = t->branches[d];
      if (b->kind == MK_AVRO_NULL) return json_null();
      json_t *inner = to_json(o, b, &branch, depth + 1);
      json_t *j = inner ? json_object() : NULL;
      if (j && json_object_set_new(j, mk_avro_type_branch_name(b), inner) == 0) return j;
      json_decref(j);
      return NULL;
    }
    case MK_AVRO_ARRAY:
    case MK_AVRO_MAP: {
      size_t n = 0;
      if (avro_value_get_size(v, &n)) return to_fail(o, avro_strerror());
      json_t *j = t->kind == MK_AVRO_ARRAY ? json_array() : json_object();
      for (size_t i = 0; j && i < n; i++) {
        avro_value_t item;
        const char *key = NULL;
        if (avro_value_get_by_index(v, i, &item, &key)) {
          json_decref(j);
          return to_fail(o, avro_strerror());
        }
        size_t saved = t->kind == MK_AVRO_ARRAY ? path_push(&o->path, "[%zu]", i)
                                                : path_push(&o->path, "[\"%.40s\"]", key);
        json_t *x = to_json(o, t->items, &item, depth + 1);
        path_pop(&o->path, saved);
        if (!x || (t->kind == MK_AVRO_ARRAY ? json_array_append_new(j, x)
                                            : json_object_set_new(j, key, x))) {
          json_decref(j);
          return NULL;
        }
      }
      return j;
    }
    case MK_AVRO_RECORD: {
      json_t *j = json_object();
      for (int i = 0; j && i < t->num_fields; i++) {
        avro_value_t field;
        if (avro_value_get_by_index(v, (size_t)i, &field, NULL)) {
          json_decref(j);
          return to_fail(o, avro_strerror());
        }
        size_t saved = path_push(&o->path, ".%s", t->fields[i].name);
        json_t *x = to_json(o, t->fields[i].type, &field, depth + 1);
        path_pop(&o->path, saved);
        if (!x || json_object_set_new(j, t->fields[i].name, x)) {
          json_decref(j);
          return NULL;
        }
      }
      return j;
    }
  }
  return NULL;
}

int mk_avro_value_to_json(const struct mk_avro_type *t, const avro_value_t *value, char **json,
                          struct mk_err *err) {
  *json = NULL;
  struct mk_err local;
  struct to o = {.err = err ? err : &local};
  avro_value_t v = *value;
  json_t *j = to_json(&o, t, &v, 0);
  if (j) *json = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  if (*json) return 0;
  if (!o.failed) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory writing JSON");
  return o.err->code;
}

/* ---- binary -> JSON --------------------------------------------------------------------- */

int mk_avro_binary_to_json(const struct mk_avro_schema *writer,
                           const struct mk_avro_schema *reader, const uint8_t *buf, size_t len,
                           char **json, struct mk_err *err) {
  *json = NULL;
  int rc = mk_avro_binary_check(writer->root, buf, len, err);
  if (rc) return rc;
  if (reader && !mk_avro_resolvable_by_avro_c(reader, writer, err)) return MK_ERR__UNSUPPORTED;
  const struct mk_avro_schema *target = reader ? reader : writer;
  avro_value_iface_t *iface = avro_generic_class_from_schema(target->avro);
  avro_value_iface_t *resolver = reader ? avro_resolved_writer_new(writer->avro, reader->avro) : NULL;
  avro_value_t value = {0}, resolved = {0};
  avro_reader_t in = avro_reader_memory((const char *)buf, (int64_t)len);
  if (!iface || (reader && !resolver) || !in || avro_generic_value_new(iface, &value) ||
      (resolver && avro_resolved_writer_new_value(resolver, &resolved))) {
    rc = mk_err_set(err, MK_ERR__NO_MEMORY, "avro-c could not prepare the read: %s",
                    avro_strerror());
  } else {
    if (resolver) avro_resolved_writer_set_dest(&resolved, &value);
    if (avro_value_read(in, resolver ? &resolved : &value))
      rc = mk_err_set(err, MK_ERR__DECODE, "avro-c could not read the value: %s", avro_strerror());
    else
      rc = mk_avro_value_to_json(target->root, &value, json, err);
  }
  if (resolved.self) avro_value_decref(&resolved);
  if (value.self) avro_value_decref(&value);
  if (in) avro_reader_free(in);
  if (resolver) avro_value_iface_decref(resolver);
  if (iface) avro_value_iface_decref(iface);
  return rc;
}
