/*
 * Tests for protocol/errors.c: names, retriability and lookups from the MK_ERRORS table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"

static void test_names_match_kafka(void **state) {
  (void)state;
  assert_string_equal(mk_err_name(0), "NONE");
  assert_string_equal(mk_err_name(19), "NOT_ENOUGH_REPLICAS");
  assert_string_equal(mk_err_name(MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  assert_int_equal(MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
  assert_int_equal(MK_ERR_DUPLICATE_SEQUENCE_NUMBER, 46);
  assert_int_equal(MK_ERR_INVALID_PRODUCER_EPOCH, 47);
  assert_int_equal(MK_ERR_UNKNOWN_PRODUCER_ID, 59);
  assert_string_equal(mk_err_name(-1), "UNKNOWN_SERVER_ERROR");
  assert_string_equal(mk_err_name(MK_ERR__DECODE), "_DECODE");
  assert_string_equal(mk_err_name(31999), "UNKNOWN_ERROR_CODE");
}

static void test_retriable_matches_kafka(void **state) {
  (void)state;
  assert_true(mk_err_retriable(MK_ERR_NOT_LEADER_OR_FOLLOWER));
  assert_true(mk_err_retriable(MK_ERR_NOT_ENOUGH_REPLICAS));
  assert_true(mk_err_retriable(MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND));
  assert_true(mk_err_retriable(MK_ERR_REQUEST_TIMED_OUT));
  assert_false(mk_err_retriable(MK_ERR_MESSAGE_TOO_LARGE));
  assert_false(mk_err_retriable(MK_ERR_INVALID_PRODUCER_EPOCH));
  assert_false(mk_err_retriable(MK_ERR_NONE));
}

static void test_from_name(void **state) {
  (void)state;
  bool found;
  assert_int_equal(mk_err_from_name("NOT_LEADER_OR_FOLLOWER", &found), 6);
  assert_true(found);
  assert_int_equal(mk_err_from_name("NOT_A_REAL_ERROR", &found), MK_ERR_UNKNOWN_SERVER_ERROR);
  assert_false(found);
}

static void test_set_formats_and_returns_code(void **state) {
  (void)state;
  struct mk_err err = {0};
  assert_int_equal(mk_err_set(&err, MK_ERR_CORRUPT_MESSAGE, "crc %#x", 0x1234u), 2);
  assert_int_equal(err.code, 2);
  assert_string_equal(err.msg, "crc 0x1234");
  assert_int_equal(mk_err_set(NULL, 7, "ignored"), 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_match_kafka),
      cmocka_unit_test(test_retriable_matches_kafka),
      cmocka_unit_test(test_from_name),
      cmocka_unit_test(test_set_formats_and_returns_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
