/*
 * Tests for protocol/primitives.c: wire integers, varints, lengths, and the sticky-error rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/primitives.h"

static void test_fixed_width_integers_are_big_endian(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_i16(&w, 0x0102);
  mk_write_i32(&w, -2);
  mk_write_i64(&w, 0x0102030405060708LL);
  mk_write_u16(&w, 0xfffe);
  mk_write_u32(&w, 0xdeadbeef);
  const uint8_t want[] = {1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8,
                          0xff, 0xfe, 0xde, 0xad, 0xbe, 0xef};
  assert_int_equal(w.len, sizeof want);
  assert_memory_equal(w.buf, want, sizeof want);

  struct mk_reader r;
  mk_reader_init(&r, w.buf, w.len);
  assert_int_equal(mk_read_i16(&r), 0x0102);
  assert_int_equal(mk_read_i32(&r), -2);
  assert_true(mk_read_i64(&r) == 0x0102030405060708LL);
  assert_int_equal(mk_read_u16(&r), 0xfffe);
  assert_int_equal(mk_read_u32(&r), 0xdeadbeef);
  assert_int_equal(r.err, MK_READ_OK);
  assert_int_equal(mk_reader_remaining(&r), 0);
  mk_writer_free(&w);
}

/* Zigzag varints: values and their encodings from Kafka's ByteUtilsTest. */
static void test_varint_vectors(void **state) {
  (void)state;
  struct {
    int32_t v;
    uint8_t bytes[5];
    int n;
  } cases[] = {
      {0, {0x00}, 1},   {-1, {0x01}, 1},  {1, {0x02}, 1},       {63, {0x7e}, 1},
      {-64, {0x7f}, 1}, {64, {0x80, 0x01}, 2},                   {-65, {0x81, 0x01}, 2},
      {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5}, {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mk_writer w;
    mk_writer_init(&w);
    mk_write_varint(&w, cases[i].v);
    assert_int_equal(w.len, cases[i].n);
    assert_int_equal(mk_sizeof_varint(cases[i].v), cases[i].n);
    assert_memory_equal(w.buf, cases[i].bytes, (size_t)cases[i].n);
    struct mk_reader r;
    mk_reader_init(&r, w.buf, w.len);
    assert_int_equal(mk_read_varint(&r), cases[i].v);
    assert_int_equal(r.err, 0);
    mk_writer_free(&w);
  }
}

static void test_varlong_and_uvarint_round_trip_at_limits(void **state) {
  (void)state;
  const int64_t longs[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1LL << 35, -(1LL << 50)};
  const uint32_t uints[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX};
  struct mk_writer w;
  mk_writer_init(&w);
  for (size_t i = 0; i < 7; i++) mk_write_varlong(&w, longs[i]);
  for (size_t i = 0; i < 7; i++) mk_write_uvarint(&w, uints[i]);
  struct mk_reader r;
  mk_reader_init(&r, w.buf, w.len);
  for (size_t i = 0; i < 7; i++) assert_true(mk_read_varlong(&r) == longs[i]);
  for (size_t i = 0; i < 7; i++) assert_true(mk_read_uvarint(&r) == uints[i]);
  assert_int_equal(r.err, 0);
  assert_int_equal(mk_reader_remaining(&r), 0);
  assert_int_equal(mk_sizeof_varlong(INT64_MIN), 10);
  assert_int_equal(mk_sizeof_uvarint(UINT32_MAX), 5);
  mk_writer_free(&w);
}

static void test_overlong_varint_is_an_error(void **state) {
  (void)state;
  const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  struct mk_reader r;
  mk_reader_init(&r, six, sizeof six);
  assert_int_equal(mk_read_varint(&r), 0);
  assert_int_equal(r.err, MK_READ_VARINT);
  const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  mk_reader_init(&r, eleven, sizeof eleven);
  (void)mk_read_varlong(&r);
  assert_int_equal(r.err, MK_READ_VARINT);
}

static void test_short_buffer_error_is_sticky(void **state) {
  (void)state;
  const uint8_t three[] = {1, 2, 3};
  struct mk_reader r;
  mk_reader_init(&r, three, sizeof three);
  assert_int_equal(mk_read_i16(&r), 0x0102);
  assert_int_equal(mk_read_i32(&r), 0);  /* only one byte left */
  assert_int_equal(r.err, MK_READ_SHORT);
  assert_int_equal(r.err_pos, 2);
  /* Later reads do nothing, even ones that would fit. */
  assert_int_equal(mk_read_i8(&r), 0);
  assert_int_equal(r.pos, 2);
  assert_null(mk_read_raw(&r, 1));
  assert_int_equal(mk_reader_remaining(&r), 0);
}

static void test_strings_classic_and_compact(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_string(&w, mk_str_of("abc"), false);
  mk_write_string(&w, MK_STR_NULL, false);
  mk_write_string(&w, mk_str_of("abc"), true);
  mk_write_string(&w, MK_STR_NULL, true);
  mk_write_string(&w, mk_str_of(""), true);
  const uint8_t want[] = {0, 3, 'a', 'b', 'c', 0xff, 0xff, 4, 'a', 'b', 'c', 0, 1};
  assert_int_equal(w.len, sizeof want);
  assert_memory_equal(w.buf, want, sizeof want);
  struct mk_reader r;
  mk_reader_init(&r, w.buf, w.len);
  assert_true(mk_str_eq(mk_read_string(&r, false), "abc"));
  assert_true(mk_read_string(&r, false).len < 0);
  assert_true(mk_str_eq(mk_read_string(&r, true), "abc"));
  assert_true(mk_read_string(&r, true).len < 0);
  struct mk_str empty = mk_read_string(&r, true);
  assert_int_equal(empty.len, 0);
  assert_true(mk_str_eq(empty, ""));
  assert_int_equal(r.err, 0);
  mk_writer_free(&w);
}

static void test_lengths_that_lie_are_refused(void **state) {
  (void)state;
  /* Bytes claiming 100 bytes with 2 present; a string length of -2; a huge compact count. */
  const uint8_t big[] = {0, 0, 0, 100, 1, 2};
  struct mk_reader r;
  mk_reader_init(&r, big, sizeof big);
  assert_true(mk_read_bytes(&r, false).len < 0);
  assert_int_equal(r.err, MK_READ_LENGTH);
  assert_int_equal(r.err_pos, 0);

  const uint8_t neg[] = {0xff, 0xfe, 'x'};
  mk_reader_init(&r, neg, sizeof neg);
  (void)mk_read_string(&r, false);
  assert_int_equal(r.err, MK_READ_LENGTH);

  const uint8_t count[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  mk_reader_init(&r, count, sizeof count);
  assert_int_equal(mk_read_array_len(&r, true), -1);
  assert_int_equal(r.err, MK_READ_LENGTH);
}

static void test_patch_and_take(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_i32(&w, 0);
  for (int i = 0; i < 1000; i++) mk_write_i8(&w, (int8_t)i);  /* forces growth */
  mk_writer_patch_i32(&w, 0, (int32_t)w.len - 4);
  size_t len;
  uint8_t *buf = mk_writer_take(&w, &len);
  assert_int_equal(len, 1004);
  assert_int_equal(mk_load_u32(buf), 1000);
  assert_null(w.buf);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_width_integers_are_big_endian),
      cmocka_unit_test(test_varint_vectors),
      cmocka_unit_test(test_varlong_and_uvarint_round_trip_at_limits),
      cmocka_unit_test(test_overlong_varint_is_an_error),
      cmocka_unit_test(test_short_buffer_error_is_sticky),
      cmocka_unit_test(test_strings_classic_and_compact),
      cmocka_unit_test(test_lengths_that_lie_are_refused),
      cmocka_unit_test(test_patch_and_take),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
