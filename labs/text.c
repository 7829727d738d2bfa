/*
 * Text for a terminal: see text.h. UTF-8 is walked by hand (the labs print nothing but
 * UTF-8), and a character's width is the East Asian Width the notes need: Hangul and CJK
 * are two columns, everything else we print is one.
 */
#include "labs/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The code point at s (len bytes available) and its length in *n; a broken sequence counts
 * as one byte of one column. */
static uint32_t decode(const char *s, size_t len, size_t *n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t need = u[0] < 0x80 ? 1 : (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3
                                : (u[0] & 0xF8) == 0xF0 ? 4 : 1;
  if (need > len) need = 1;
  uint32_t cp = need == 1 ? u[0] : need == 2 ? u[0] & 0x1F : need == 3 ? u[0] & 0x0F : u[0] & 0x07;
  for (size_t i = 1; i < need; i++) {
    if ((u[i] & 0xC0) != 0x80) {
      *n = 1;
      return u[0];
    }
    cp = cp << 6 | (u[i] & 0x3F);
  }
  *n = need;
  return cp;
}

static bool wide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

/* Bytes of an ANSI colour escape ("\033[1;31m") at s, or 0. */
static size_t escape_len(const char *s, size_t len) {
  if (len < 2 || s[0] != '\033' || s[1] != '[') return 0;
  size_t i = 2;
  while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';')) i++;
  return i < len && s[i] == 'm' ? i + 1 : 0;
}

size_t mk_text_columns(const char *s, size_t len) {
  size_t cols = 0;
  for (size_t i = 0; i < len;) {
    size_t esc = escape_len(s + i, len - i), n;
    if (esc) {
      i += esc;
      continue;
    }
    cols += wide(decode(s + i, len - i, &n)) ? 2 : 1;
    i += n;
  }
  return cols;
}

size_t mk_text_fit(const char *s, size_t width) {
  size_t len = strcspn(s, "\n");
  if (mk_text_columns(s, len) <= width) return len;
  size_t bytes = 0, cols = 0, brk = 0;
  while (bytes < len) {
    size_t esc = escape_len(s + bytes, len - bytes), n;
    if (esc) {
      bytes += esc;
      continue;
    }
    uint32_t cp = decode(s + bytes, len - bytes, &n);
    size_t w = wide(cp) ? 2 : 1;
    if (cols + w > width) break;
    /* A space is a break unless it joins a number to the word after it ("120 B"). */
    if (cp == ' ' && bytes > 0 && !(s[bytes - 1] >= '0' && s[bytes - 1] <= '9' &&
                                    bytes + 1 < len &&
                                    ((s[bytes + 1] | 0x20) >= 'a' && (s[bytes + 1] | 0x20) <= 'z')))
      brk = bytes + 1;
    bytes += n;
    cols += w;
  }
  if (brk > 0) return brk;
  return bytes ? bytes : (len ? 1 : 0);
}

void mk_text_wrap(FILE *out, const char *text, size_t width, const char *first, const char *rest,
                  const char *on, const char *off) {
  const char *line = text;
  bool first_line = true;
  for (;;) {
    size_t line_len = strcspn(line, "\n");
    size_t lead = strspn(line, " ");
    if (lead > line_len) lead = line_len;
    if (lead >= width / 2) lead = 0;  /* an indent that would leave no room: use rest's */
    const char *cont = lead ? line : rest;  /* continuation indent: the line's own, or rest */
    size_t cont_len = lead ? lead : strlen(rest);
    const char *s = line, *end = line + line_len;
    bool wrapped = false;
    do {
      size_t prefix_cols;
      if (first_line) {
        fputs(first, out);
        prefix_cols = mk_text_columns(first, strlen(first));
      } else if (wrapped) {
        fprintf(out, "%.*s", (int)cont_len, cont);
        prefix_cols = cont_len;
      } else {
        prefix_cols = 0;
      }
      size_t room = width > prefix_cols + 10 ? width - prefix_cols : 10;
      size_t n = s < end ? mk_text_fit(s, room) : 0;
      if (s + n > end) n = (size_t)(end - s);
      size_t shown = n;
      while (shown > 0 && s[shown - 1] == ' ' && s + n < end) shown--;  /* no trailing blank */
      fprintf(out, "%s%.*s%s\n", shown ? on : "", (int)shown, s, shown ? off : "");
      s += n;
      while (s < end && *s == ' ') s++;
      first_line = false;
      wrapped = true;
    } while (s < end);
    if (!*end) break;
    line = end + 1;
  }
}
