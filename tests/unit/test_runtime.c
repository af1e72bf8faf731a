/* test_runtime.c — error types and the Runtime API error document (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "runtime.h"

static void error_types(void **state) {
  (void)state;
  assert_string_equal(iris_runtime_error_type(IRIS_EPARSE), "Iris.EPARSE");
  assert_string_equal(iris_runtime_error_type(IRIS_ETIMEOUT), "Iris.ETIMEOUT");
  assert_string_equal(iris_runtime_error_type(9999), "Iris.Unknown");
}

static void error_document_is_redacted_json(void **state) {
  struct iris_buf b;
  (void)state;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_log_add_secret("hunter2-password"), IRIS_OK);
  assert_int_equal(iris_runtime_error_json(IRIS_EDB, "login \"x\" with hunter2-password failed",
                                           &b),
                   IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b),
                      "{\"errorMessage\":\"login \\\"x\\\" with [REDACTED] failed\","
                      "\"errorType\":\"Iris.EDB\",\"stackTrace\":[]}");
  iris_log_clear_secrets();
  iris_buf_cleanup(&b);
}

static void remaining_time_follows_the_clock(void **state) {
  struct iris_runtime_invocation inv = {0};
  (void)state;
  iris_clock_set_fake_ms(1000000);
  inv.deadline_ms = 1000000 + 2500;
  assert_int_equal(iris_runtime_remaining_ms(&inv), 2500);
  iris_clock_set_fake_ms(1000000 + 3000);
  assert_int_equal(iris_runtime_remaining_ms(&inv), -500);
  iris_clock_set_fake_ms(0);
}

static void run_without_runtime_api(void **state) {
  struct iris_err err = {0};
  (void)state;
  unsetenv("AWS_LAMBDA_RUNTIME_API");
  assert_int_equal(iris_runtime_run(NULL, NULL, 1, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "AWS_LAMBDA_RUNTIME_API"));
  assert_int_equal(iris_runtime_init_error(IRIS_ECONFIG, "x", &err), IRIS_ECONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(error_types),
      cmocka_unit_test(error_document_is_redacted_json),
      cmocka_unit_test(remaining_time_follows_the_clock),
      cmocka_unit_test(run_without_runtime_api),
  };
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
