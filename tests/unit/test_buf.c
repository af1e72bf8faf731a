/* test_buf.c — the capped buffer: growth, cap, latched errors, take, OOM paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

static void append_and_take(void **state) {
  struct iris_buf b;
  size_t len = 0;
  char *s;
  (void)state;
  iris_buf_init(&b, 0);
  assert_string_equal(iris_buf_ptr(&b), "");
  assert_int_equal(iris_buf_appends(&b, "hello"), IRIS_OK);
  assert_int_equal(iris_buf_appendf(&b, ", %s #%d", "world", 42), IRIS_OK);
  assert_int_equal(iris_buf_appendc(&b, '!'), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), "hello, world #42!");
  s = iris_buf_take(&b, &len);
  assert_string_equal(s, "hello, world #42!");
  assert_int_equal(len, strlen(s));
  assert_int_equal(iris_buf_len(&b), 0);
  iris_free(s);
  s = iris_buf_take(&b, &len);
  assert_string_equal(s, "");
  iris_free(s);
  iris_buf_cleanup(&b);
}

static void cap_latches_and_frees(void **state) {
  struct iris_buf b;
  (void)state;
  iris_buf_init(&b, 8);
  assert_int_equal(iris_buf_appends(&b, "12345678"), IRIS_OK);
  assert_int_equal(iris_buf_appends(&b, "9"), IRIS_ETOOBIG);
  assert_int_equal(iris_buf_rc(&b), IRIS_ETOOBIG);
  assert_null(b.ptr);
  /* Latched: later appends fail too, so one check at the end is enough. */
  assert_int_equal(iris_buf_appends(&b, "x"), IRIS_ETOOBIG);
  assert_null(iris_buf_take(&b, NULL));
  iris_buf_reset(&b);
  assert_int_equal(iris_buf_appends(&b, "ok"), IRIS_OK);
  iris_buf_cleanup(&b);
}

static void large_growth(void **state) {
  struct iris_buf b;
  int i;
  (void)state;
  iris_buf_init(&b, 0);
  for (i = 0; i < 100000; i++)
    assert_int_equal(iris_buf_appendf(&b, "%d,", i % 10), IRIS_OK);
  assert_int_equal(iris_buf_len(&b), 200000);
  iris_buf_cleanup(&b);
}

static void oom_every_allocation(void **state) {
  long n;
  (void)state;
  /* Fail allocation N for N = 0, 1, ... until the sequence completes untouched. */
  for (n = 0;; n++) {
    struct iris_buf b;
    int rc;
    iris_buf_init(&b, 0);
    iris_alloc_fail_after(n);
    rc = iris_buf_appends(&b, "first part, ");
    if (!rc)
      rc = iris_buf_appendf(&b, "%0500d", 7);
    iris_alloc_fail_after(-1);
    if (rc) {
      assert_int_equal(rc, IRIS_ENOMEM);
      assert_null(b.ptr);
    }
    iris_buf_cleanup(&b);
    if (!rc)
      break;
  }
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(append_and_take),
      cmocka_unit_test(cap_latches_and_frees),
      cmocka_unit_test(large_growth),
      cmocka_unit_test(oom_every_allocation),
  };
  return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
