/*
 * Text for a terminal: how many columns UTF-8 text takes, and where to break it. The labs'
 * prose (lab.c) and the timeline's lanes (timeline.c) both wrap with these, so a lab's
 * output fits MK_TEXT_WIDTH columns however its settings lengthen a sentence.
 *
 *   mk_text_columns   display columns: one per character, two for the wide ones (Hangul,
 *                     CJK: the notes' Korean quotes), none for an ANSI colour escape
 *   mk_text_fit       how many bytes of a line fit a width, breaking after a space but
 *                     never inside a word or between a number and its unit ("120 B")
 *   mk_text_wrap      print a paragraph wrapped to a width, continuation lines indented
 *
 * Thread: any (no state). Memory: nothing kept.
 */
#ifndef MK_LABS_TEXT_H
#define MK_LABS_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* The widest line a lab prints: what the exercise test (tests/integration) holds it to. */
enum { MK_TEXT_WIDTH = 100 };

/* Display columns of s[0..len). */
size_t mk_text_columns(const char *s, size_t len);

/* The bytes of s (up to its NUL or a newline) that fit in width columns: all of it if it
 * fits, else up to the last good break (a space, not between a digit and a letter), else
 * (one word longer than width) as many whole characters as fit. At least one character. */
size_t mk_text_fit(const char *s, size_t width);

/* Print text to out wrapped to width columns, every printed line ending with a newline.
 * `first` (may hold colour escapes) is printed before the first line. Each of text's own
 * lines ('\n') is wrapped separately; the lines it wraps onto are indented as that line
 * is (its leading spaces), or by `rest` when it has none. on and off (may be "") go around
 * the text of each printed line, for colour. Borrows everything. */
void mk_text_wrap(FILE *out, const char *text, size_t width, const char *first, const char *rest,
                  const char *on, const char *off);

#endif
