/*
 * Tests for common/utf8.c: which byte sequences are well-formed UTF-8 (Unicode table 3-7),
 * and how long each bad sequence's maximal subpart is (the unit that becomes one U+FFFD).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

/* The lengths mk_utf8_next reports walking s, as "3 -1 1": positive for a well-formed
 * character, negative for a bad sequence's maximal subpart. */
static void walk(const char *s, size_t len, char *out, size_t size) {
  size_t i = 0, at = 0, n;
  out[0] = 0;
  while (i < len && at + 4 < size) {
    bool ok = mk_utf8_next((const uint8_t *)s + i, len - i, &n);
    assert_true(n >= 1 && n <= 4 && n <= len - i);
    at += (size_t)sprintf(out + at, "%s%s%zu", at ? " " : "", ok ? "" : "-", n);
    i += n;
  }
}

static void test_well_formed_and_maximal_subparts(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
    const char *want;
  } cases[] = {
      {"a", 1, "1"},
      {"\0", 1, "1"},                             /* NUL is ASCII */
      {"\x7f", 1, "1"},
      {"\xc2\x80", 2, "2"},                       /* U+0080, the first two-byte character */
      {"\xdf\xbf", 2, "2"},                       /* U+07FF */
      {"\xe0\xa0\x80", 3, "3"},                   /* U+0800 */
      {"\xef\xbf\xbd", 3, "3"},                   /* U+FFFD itself */
      {"\xed\x9f\xbf", 3, "3"},                   /* U+D7FF, just below the surrogates */
      {"\xf0\x90\x80\x80", 4, "4"},               /* U+10000 */
      {"\xf4\x8f\xbf\xbf", 4, "4"},               /* U+10FFFF, the last */
      {"\xf0\x9f\x98\x80", 4, "4"},               /* an emoji */
      {"\x80", 1, "-1"},                          /* stray continuation byte */
      {"\xbf\x80", 2, "-1 -1"},
      {"\xc0\xaf", 2, "-1 -1"},                   /* overlong '/': C0 never starts anything */
      {"\xc1\xbf", 2, "-1 -1"},
      {"\xe0\x80\xaf", 3, "-1 -1 -1"},            /* overlong: E0 needs A0-BF next */
      {"\xed\xa0\x80", 3, "-1 -1 -1"},            /* a surrogate: ED needs 80-9F next */
      {"\xf0\x8f\xbf\xbf", 4, "-1 -1 -1 -1"},     /* overlong four-byte form */
      {"\xf4\x90\x80\x80", 4, "-1 -1 -1 -1"},     /* above U+10FFFF */
      {"\xf5\x80\x80\x80", 4, "-1 -1 -1 -1"},     /* F5-FF are never used */
      {"\xff", 1, "-1"},
      {"\xc3", 1, "-1"},                          /* cut short at the end */
      {"\xe2\x82", 2, "-2"},                      /* one bad sequence of two bytes... */
      {"\xe2\x82" "A", 3, "-2 1"},                /* ...and the next character read alone */
      {"\xf0\x9f\x98" "x", 4, "-3 1"},
      {"\xf0\x9f\x98\xc3\xa9", 5, "-3 2"},         /* a truncated emoji, then é */
      {"\xe2\x28\xa1", 3, "-1 1 -1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char got[64];
    walk(cases[i].bytes, cases[i].len, got, sizeof got);
    if (strcmp(got, cases[i].want) != 0)
      fail_msg("case %zu: walked as \"%s\", want \"%s\"", i, got, cases[i].want);
  }
}

static void test_invalid_at_names_the_first_bad_sequence(void **state) {
  (void)state;
  assert_int_equal(mk_utf8_invalid_at((const uint8_t *)"", 0), -1);
  assert_int_equal(mk_utf8_invalid_at((const uint8_t *)"caf\xc3\xa9", 5), -1);
  assert_int_equal(mk_utf8_invalid_at((const uint8_t *)"caf\xc3", 4), 3);
  assert_int_equal(mk_utf8_invalid_at((const uint8_t *)"ab\xed\xa0\x80", 5), 2);
  assert_int_equal(mk_utf8_invalid_at((const uint8_t *)"\xf0\x9f\x98\x80!\x80", 6), 5);
}

/* Every byte sequence of length 1 to 3 (16.8 million): mk_utf8_next always advances, and a
 * sequence walks as all well-formed exactly when a plain decoder finds it so. */
static bool reference_valid(const uint8_t *s, size_t len) {
  static const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};  /* by continuation bytes */
  for (size_t i = 0; i < len;) {
    uint32_t c = s[i];
    size_t n;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
    } else {
      return false;
    }
    if (len - i <= n) return false;
    uint32_t cp = c & (0x7fu >> (n + 1));
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3fu);
    }
    if (cp < smallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

static void test_agrees_with_a_plain_decoder_on_every_short_sequence(void **state) {
  (void)state;
  uint8_t s[3];
  for (size_t len = 1; len <= 3; len++) {
    uint32_t total = 1u << (8 * len);
    for (uint32_t v = 0; v < total; v++) {
      for (size_t k = 0; k < len; k++) s[k] = (uint8_t)(v >> (8 * k));
      bool ours = mk_utf8_invalid_at(s, len) < 0;
      if (ours != reference_valid(s, len))
        fail_msg("%zu bytes %02x %02x %02x: ours says %s", len, s[0], len > 1 ? s[1] : 0,
                 len > 2 ? s[2] : 0, ours ? "valid" : "invalid");
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_well_formed_and_maximal_subparts),
      cmocka_unit_test(test_invalid_at_names_the_first_bad_sequence),
      cmocka_unit_test(test_agrees_with_a_plain_decoder_on_every_short_sequence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
