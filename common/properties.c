/*
 * Java .properties text, read as java.util.Properties.load reads it: what Kafka's tools take
 * with --producer.config and --consumer.config (and the client settings files courses hand
 * out). One reader serves every such flag, so every one of them accepts the same files.
 *
 *   # and ! start comments; blank lines are skipped
 *   key=value   key: value   key value        the first unescaped =, : or blank separates
 *   a long value \                          a line ending in an odd number of backslashes
 *     continued                              continues on the next (leading blanks dropped)
 *   \t \n \r \f \uXXXX (UTF-16, surrogate pairs joined), \= \: \  and \\ in keys and values
 */
#include "common/properties.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* A growable string. */
struct text {
  char *s;
  size_t len, cap;
  bool failed;
};

static void text_add(struct text *t, const char *p, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 128;
    while (cap < t->len + n + 1) cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->failed = true;
      return;
    }
    t->s = s;
    t->cap = cap;
  }
  memcpy(t->s + t->len, p, n);
  t->len += n;
  t->s[t->len] = '\0';
}

static void text_add_utf8(struct text *t, uint32_t cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
  } else {
    b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
  }
  text_add(t, b, n);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* Properties.loadConvert: undo the escapes in [p, e). Returns false for a malformed \uXXXX. */
static bool unescape(const char *p, const char *e, struct text *out) {
  uint32_t high = 0;  /* a pending UTF-16 high surrogate from \uD8xx */
  text_add(out, "", 0);
  while (p < e) {
    char c = *p++;
    if (c != '\\' || p == e) {
      text_add(out, &c, 1);
      continue;
    }
    c = *p++;
    if (c == 'u') {
      if (e - p < 4) return false;
      uint32_t v = 0;
      for (int i = 0; i < 4; i++) {
        char h = *p++;
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint32_t)d;
      }
      if (v >= 0xd800 && v <= 0xdbff) {
        high = v;
        continue;
      }
      if (v >= 0xdc00 && v <= 0xdfff && high) v = 0x10000 + ((high - 0xd800) << 10) + (v - 0xdc00);
      high = 0;
      text_add_utf8(out, v);
      continue;
    }
    char plain = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
    text_add(out, &plain, 1);
  }
  return true;
}

/* Split one logical line (continuations already joined) into key and value, the way
 * java.util.Properties.load does, and set it. */
static int load_line(const char *line, size_t len, mk_property_fn fn, void *opaque,
                     struct mk_err *err) {
  const char *p = line, *e = line + len;
  const char *k = p;
  bool escaped = false, has_sep = false;
  while (p < e) {  /* the key ends at an unescaped '=', ':' or blank */
    char c = *p;
    if (!escaped && (c == '=' || c == ':')) {
      has_sep = true;
      break;
    }
    if (!escaped && is_blank(c)) break;
    escaped = c == '\\' && !escaped;
    p++;
  }
  const char *ke = p;
  if (p < e && has_sep) p++;
  while (p < e && is_blank(*p)) p++;
  if (!has_sep && p < e && (*p == '=' || *p == ':')) {
    p++;
    while (p < e && is_blank(*p)) p++;
  }
  struct text key = {0}, value = {0};
  int rc = 0;
  if (!unescape(k, ke, &key) || !unescape(p, e, &value))
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "Malformed \\uxxxx encoding.");
  else if (key.failed || value.failed)
    rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading properties");
  else
    rc = fn(opaque, key.s, value.s, err);
  free(key.s);
  free(value.s);
  return rc;
}

int mk_properties_parse(const char *text, size_t len, const char *origin, mk_property_fn fn,
                        void *opaque, struct mk_err *err) {
  if (!origin) origin = "<string>";
  size_t pos = 0;
  int line_no = 0;
  struct text line = {0};
  int rc = 0;
  while (pos < len && !rc) {
    line_no++;
    int first_line = line_no;
    while (pos < len && is_blank(text[pos])) pos++;
    if (pos < len && (text[pos] == '#' || text[pos] == '!')) {  /* a comment line */
      while (pos < len && text[pos] != '\n' && text[pos] != '\r') pos++;
    } else {
      line.len = 0;
      text_add(&line, "", 0);
      for (;;) {  /* one logical line: natural lines joined by a trailing odd backslash */
        size_t start = pos;
        while (pos < len && text[pos] != '\n' && text[pos] != '\r') pos++;
        size_t end = pos, slashes = 0;
        while (end - slashes > start && text[end - slashes - 1] == '\\') slashes++;
        bool more = slashes % 2 == 1;
        text_add(&line, text + start, end - start - (more ? 1 : 0));
        if (!more || pos >= len) break;
        if (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n') pos++;
        pos++;
        line_no++;
        while (pos < len && is_blank(text[pos])) pos++;
      }
      if (line.failed) {
        rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading properties");
        break;
      }
      if (line.len > 0) {
        struct mk_err inner = {0};
        rc = load_line(line.s, line.len, fn, opaque, &inner);
        if (rc) {
          size_t olen = strlen(origin);
          mk_err_set(err, rc, "%s%s:%d: %s", olen > 40 ? "..." : "",
                     olen > 40 ? origin + olen - 40 : origin, first_line, inner.msg);
        }
      }
    }
    /* the end of the natural line */
    if (pos < len && text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n') pos++;
    if (pos < len) pos++;
  }
  free(line.s);
  return rc;
}

int mk_properties_parse_file(const char *path, mk_property_fn fn, void *opaque,
                             struct mk_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return mk_err_set(err, MK_ERR__INVALID_ARG, "cannot open %.100s: %s", path, strerror(errno));
  struct text buf = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && buf.len < MK_PROPERTIES_MAX)
    text_add(&buf, chunk, n);
  bool read_error = ferror(f) != 0;
  fclose(f);
  int rc;
  if (read_error)
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "cannot read %.100s", path);
  else if (buf.failed || buf.len >= MK_PROPERTIES_MAX)
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "%.100s is too large (the limit is %d MiB)", path,
                    MK_PROPERTIES_MAX >> 20);
  else
    rc = mk_properties_parse(buf.s ? buf.s : "", buf.len, path, fn, opaque, err);
  free(buf.s);
  return rc;
}
