/*
 * codec_check: what the tests of the table-driven codec share (test_schema.c,
 * test_coordinator_records.c, test_consumer_protocol.c).
 *
 *   random_message_fill  any message a schema table describes (schema.h), filled with
 *                        random values, for round trips
 *   expect_bytes         an encoding compared with bytes worked out by hand
 *
 * random_message_fill sets only the fields on the wire at the given version; the others keep
 * their default. Strings come from a short word list (the empty string and a non-ASCII one
 * included), nullable strings, bytes and arrays are null now and then, arrays hold 0-2
 * elements and none below the third level of nesting. The generator is one xorshift with a
 * fixed seed, so a failing test fails the same way each run.
 * Memory: arrays come from the caller's arena; strings and bytes point at static data.
 * Thread: the test's (the generator's state is global).
 */
#ifndef MK_TESTS_SUPPORT_CODEC_CHECK_H
#define MK_TESTS_SUPPORT_CODEC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/primitives.h"
#include "protocol/schema.h"

/* The next number of the generator. */
uint32_t random_next(void);

/* Set out (s->size bytes) to defaults, then give every field present at version a value. */
void random_message_fill(const struct mk_schema *s, int version, void *out, struct mk_arena *a);

/* Fail the running cmocka test unless w holds exactly want[0..len). */
void expect_bytes(const struct mk_writer *w, const uint8_t *want, size_t len);

#endif
