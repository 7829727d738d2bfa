/*
 * Tests for common/str_map.c: puts, gets and removes against a plain array kept beside the
 * map, through growth and through removals that must shift entries back into their run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/str_map.h"

enum { N = 2000 };
static char keys[N][16];
static bool present[N];

static void check_all(const struct mk_str_map *m) {
  size_t count = 0;
  for (int i = 0; i < N; i++) {
    void *v = mk_str_map_get(m, keys[i], strlen(keys[i]));
    if (present[i]) {
      assert_ptr_equal(v, keys[i]);
      count++;
    } else {
      assert_null(v);
    }
  }
  assert_int_equal(m->count, count);
  size_t walked = 0;
  void *v;
  for (size_t i = 0; mk_str_map_next(m, &i, &v);) walked++;
  assert_int_equal(walked, count);
}

static void test_put_get_remove_against_an_array(void **state) {
  (void)state;
  struct mk_str_map m;
  mk_str_map_init(&m);
  assert_null(mk_str_map_get(&m, "x", 1));
  assert_null(mk_str_map_remove(&m, "x", 1));
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "member-%d", i);
    present[i] = false;
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(mk_str_map_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
    present[i] = true;
  }
  check_all(&m);
  /* Remove every third, then put some back: runs must stay findable. */
  for (int i = 0; i < N; i += 3) {
    assert_ptr_equal(mk_str_map_remove(&m, keys[i], strlen(keys[i])), keys[i]);
    present[i] = false;
  }
  check_all(&m);
  for (int i = 0; i < N; i += 6) {
    assert_int_equal(mk_str_map_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
    present[i] = true;
  }
  check_all(&m);
  /* Replacing a value keeps one entry. */
  size_t before = m.count;
  assert_int_equal(mk_str_map_put(&m, keys[1], strlen(keys[1]), keys[1]), 0);
  assert_int_equal(m.count, before);
  for (int i = 0; i < N; i++) {
    if (present[i]) mk_str_map_remove(&m, keys[i], strlen(keys[i]));
    present[i] = false;
  }
  check_all(&m);
  mk_str_map_free(&m);
}

/* Keys are bytes: an empty key and keys with NULs inside are distinct keys. */
static void test_binary_and_empty_keys(void **state) {
  (void)state;
  struct mk_str_map m;
  mk_str_map_init(&m);
  static const char a[] = {'t', 0, 0, 0, 0, 1}, b[] = {'t', 0, 0, 0, 0, 2};
  int x, y, z;
  assert_int_equal(mk_str_map_put(&m, a, sizeof a, &x), 0);
  assert_int_equal(mk_str_map_put(&m, b, sizeof b, &y), 0);
  assert_int_equal(mk_str_map_put(&m, "", 0, &z), 0);
  assert_ptr_equal(mk_str_map_get(&m, a, sizeof a), &x);
  assert_ptr_equal(mk_str_map_get(&m, b, sizeof b), &y);
  assert_ptr_equal(mk_str_map_get(&m, "", 0), &z);
  assert_null(mk_str_map_get(&m, "t", 1));
  assert_ptr_equal(mk_str_map_remove(&m, "", 0), &z);
  assert_null(mk_str_map_get(&m, "", 0));
  mk_str_map_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_remove_against_an_array),
      cmocka_unit_test(test_binary_and_empty_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
