/*
 * UTF-8: telling well-formed text from arbitrary bytes.
 *
 * Kafka strings (client ids, topic names, keys read as text) are UTF-8 on the wire, but a
 * client may send any bytes. Whoever must pass them on as text (a JSON trace line, a Java
 * String) first walks them one character at a time with mk_utf8_next.
 *
 * Well-formed means Unicode's table of well-formed byte sequences (Unicode 15, section 3.9,
 * table 3-7): no overlong forms (C0 80), no surrogates (ED A0 80), nothing above U+10FFFF,
 * no stray continuation bytes. A bad sequence is measured as its "maximal subpart": the
 * longest prefix that could have started a well-formed character (E2 82 followed by "A" is
 * one bad sequence of 2 bytes; "A" is then read on its own). Replacing each maximal subpart
 * with one U+FFFD is what Unicode recommends and what the WHATWG Encoding Standard's decoder
 * does.
 */
#ifndef MK_COMMON_UTF8_H
#define MK_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The character at s (len > 0 bytes available): returns true if s starts with a well-formed
 * character, and sets *n to its length (1-4); otherwise returns false and sets *n to the
 * length of the maximal subpart of the bad sequence (1-3), never 0. ASCII (NUL included) is
 * well-formed. Thread: any. */
bool mk_utf8_next(const uint8_t *s, size_t len, size_t *n);

/* The offset of the first byte of the first bad sequence in s, or -1 if s is all well-formed. */
long mk_utf8_invalid_at(const uint8_t *s, size_t len);

#endif
