/*
 * UTF-8: well-formed characters and maximal subparts of bad ones. See utf8.h.
 */
#include "common/utf8.h"

bool mk_utf8_next(const uint8_t *s, size_t len, size_t *n) {
  uint8_t c = s[0];
  size_t need;           /* continuation bytes after the lead byte */
  uint8_t lo = 0x80, hi = 0xbf;  /* the range allowed for the first of them */
  if (c < 0x80) {
    *n = 1;
    return true;
  } else if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0) lo = 0xa0;  /* below is an overlong form */
    if (c == 0xed) hi = 0x9f;  /* above are the surrogates D800-DFFF */
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0) lo = 0x90;  /* overlong */
    if (c == 0xf4) hi = 0x8f;  /* above U+10FFFF */
  } else {
    *n = 1;  /* a stray continuation byte, C0/C1 (always overlong) or F5-FF (never used) */
    return false;
  }
  size_t i = 1;
  for (; i <= need; i++) {
    if (i >= len || s[i] < lo || s[i] > hi) {
      *n = i;  /* the bytes so far could have begun a character: one bad sequence */
      return false;
    }
    lo = 0x80, hi = 0xbf;
  }
  *n = i;
  return true;
}

long mk_utf8_invalid_at(const uint8_t *s, size_t len) {
  size_t i = 0, n;
  while (i < len) {
    if (!mk_utf8_next(s + i, len - i, &n)) return (long)i;
    i += n;
  }
  return -1;
}
