/* test_utf8.c — UTF-8 boundaries, validity, narrowing, and that error messages cut to their
 * buffer never end inside a character (issue #14.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "utf8.h"

static void validity(void **state) {
  (void)state;
  assert_true(iris_utf8_valid("", 0));
  assert_true(iris_utf8_valid("a\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", 10));
  assert_false(iris_utf8_valid("\xc3", 1));             /* cut */
  assert_false(iris_utf8_valid("\x80", 1));             /* stray continuation */
  assert_false(iris_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
  assert_false(iris_utf8_valid("\xe0\x80\xaf", 3));     /* overlong, 3 bytes */
  assert_false(iris_utf8_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
  assert_false(iris_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
  assert_false(iris_utf8_valid("\xff", 1));
  assert_int_equal(iris_utf8_count("a\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", 10), 4);
  assert_int_equal(iris_utf8_count("\xff\xfe", 2), 2);
}

static void cutting(void **state) {
  const char *s = "ab\xe2\x98\x83"
                  "c"; /* a b ☃ c: 6 bytes */
  char t[16];
  int max;
  (void)state;
  assert_int_equal(iris_utf8_prefix(s, 6, 2), 2);
  assert_int_equal(iris_utf8_prefix(s, 6, 3), 2);
  assert_int_equal(iris_utf8_prefix(s, 6, 4), 2);
  assert_int_equal(iris_utf8_prefix(s, 6, 5), 5);
  assert_int_equal(iris_utf8_prefix(s, 6, 100), 6);
  assert_int_equal(iris_utf8_prec(NULL, 10), 0);
  for (max = 0; max < 8; max++) {
    int p = iris_utf8_prec(s, (size_t)max);
    assert_true(iris_utf8_valid(s, (size_t)p));
    assert_true(p <= max);
  }
  snprintf(t, sizeof t, "%s", s);
  iris_utf8_truncate(t, 4);
  assert_string_equal(t, "ab");
}

static void narrowing(void **state) {
  char *n;
  (void)state;
  n = iris_utf8_narrow_dup("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \xff!", 17, 0xFF);
  assert_non_null(n);
  assert_string_equal(n, "caf\xc3\xa9 ? ? ?!");
  iris_free(n);
  n = iris_utf8_narrow_dup("\xe2\x98\x83\xf0\x9f\x98\x80", 7, 0xFFFF);
  assert_string_equal(n, "\xe2\x98\x83?");
  iris_free(n);
}

/* iris_err_set/iris_err_prefix cut at IRIS_ERR_SIZE: never inside a character. */
static void error_messages_stay_valid(void **state) {
  struct iris_err err;
  char big[IRIS_ERR_SIZE * 2];
  size_t i, pad;
  (void)state;
  for (pad = 0; pad < 4; pad++) {
    size_t at = 0;
    memset(big, 'x', pad);
    at = pad;
    for (i = 0; at + 4 < sizeof big; i++) {
      memcpy(big + at, "\xf0\x9f\x98\x80", 4);
      at += 4;
    }
    big[at] = '\0';
    iris_err_set(&err, IRIS_EINVAL, "%s", big);
    assert_true(iris_utf8_valid(err.msg, strlen(err.msg)));
    assert_true(strlen(err.msg) >= IRIS_ERR_SIZE - 4);
    iris_err_set(&err, IRIS_EINVAL, "short \xe2\x98\x83");
    iris_err_prefix(&err, "%s", big);
    assert_true(iris_utf8_valid(err.msg, strlen(err.msg)));
    iris_err_set(&err, IRIS_EINVAL, "%s", big);
    iris_err_prefix(&err, "%.*s", (int)pad + 3, "ab\xe2\x98\x83\xe2\x98\x83");
    assert_true(iris_utf8_valid(err.msg, strlen(err.msg)));
  }
  /* A vendor answering in Latin-1: its bytes are quoted as '?'. */
  iris_err_set(&err, IRIS_EHTTP, "vendor said: %s", "\xe9t\xe9 \xc3\xa9");
  assert_string_equal(err.msg, "vendor said: ?t? \xc3\xa9");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(validity),
      cmocka_unit_test(cutting),
      cmocka_unit_test(narrowing),
      cmocka_unit_test(error_messages_stay_valid),
  };
  return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
