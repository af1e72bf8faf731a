/* test_aws.c — AWS error parsing, retry classification and backoff bounds (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "aws_int.h"

static void parses_json_protocol_errors(void **state) {
  char code[64], msg[128];
  const char *b1 = "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"gone\"}";
  const char *b2 = "{\"__type\":\"ResourceNotFoundException\",\"Message\":\"no secret\"}";
  const char *b3 = "{\"__type\":\"com.amazon.coral.validate#ValidationException:http://x\"}";
  (void)state;
  assert_true(iris__aws_parse_error(b1, strlen(b1), NULL, code, sizeof code, msg, sizeof msg));
  assert_string_equal(code, "QueueDoesNotExist");
  assert_string_equal(msg, "gone");
  assert_true(iris__aws_parse_error(b2, strlen(b2), NULL, code, sizeof code, msg, sizeof msg));
  assert_string_equal(code, "ResourceNotFoundException");
  assert_string_equal(msg, "no secret");
  assert_true(iris__aws_parse_error(b3, strlen(b3), NULL, code, sizeof code, msg, sizeof msg));
  assert_string_equal(code, "ValidationException");
  assert_true(iris__aws_parse_error("", 0, "AWS.SimpleQueueService.NonExistentQueue;Sender", code,
                                    sizeof code, msg, sizeof msg));
  assert_string_equal(code, "AWS.SimpleQueueService.NonExistentQueue");
  assert_false(iris__aws_parse_error("<html>", 6, NULL, code, sizeof code, msg, sizeof msg));
  assert_string_equal(code, "");
}

static void truncates_instead_of_overflowing(void **state) {
  char code[8], msg[8];
  const char *b = "{\"__type\":\"AVeryLongErrorCodeIndeed\",\"message\":\"a long message\"}";
  (void)state;
  assert_true(iris__aws_parse_error(b, strlen(b), NULL, code, sizeof code, msg, sizeof msg));
  assert_string_equal(code, "AVeryLo");
  assert_string_equal(msg, "a long ");
}

static void classifies_retries(void **state) {
  (void)state;
  assert_int_equal(iris__aws_classify(429, ""), IRIS__AWS_THROTTLE);
  assert_int_equal(iris__aws_classify(400, "ThrottlingException"), IRIS__AWS_THROTTLE);
  assert_int_equal(iris__aws_classify(400, "RequestThrottled"), IRIS__AWS_THROTTLE);
  assert_int_equal(iris__aws_classify(500, ""), IRIS__AWS_RETRY);
  assert_int_equal(iris__aws_classify(503, "ServiceUnavailable"), IRIS__AWS_RETRY);
  assert_int_equal(iris__aws_classify(400, "InternalError"), IRIS__AWS_RETRY);
  assert_int_equal(iris__aws_classify(400, "QueueDoesNotExist"), IRIS__AWS_FAIL);
  assert_int_equal(iris__aws_classify(403, "InvalidClientTokenId"), IRIS__AWS_FAIL);
  assert_int_equal(iris__aws_classify(404, ""), IRIS__AWS_FAIL);
}

static void backoff_is_bounded_full_jitter(void **state) {
  unsigned int seed = 42;
  int attempt, i;
  (void)state;
  for (attempt = 1; attempt <= 12; attempt++) {
    long ceiling = 50L << (attempt > 6 ? 6 : attempt);
    if (ceiling > 2000)
      ceiling = 2000;
    for (i = 0; i < 200; i++) {
      long d = iris__aws_backoff_ms(attempt, &seed);
      assert_true(d >= 0 && d <= ceiling);
    }
  }
}

static void creds_from_env(void **state) {
  struct iris_aws_creds c;
  struct iris_err err = {0};
  (void)state;
  unsetenv("AWS_ACCESS_KEY_ID");
  assert_int_equal(iris_aws_creds_from_env(&c, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
  setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-value", 1);
  setenv("AWS_SESSION_TOKEN", "token-value", 1);
  assert_int_equal(iris_aws_creds_from_env(&c, &err), IRIS_OK);
  assert_string_equal(c.access_key_id, "AKID");
  assert_string_equal(c.session_token, "token-value");
  iris_aws_creds_cleanup(&c);
  unsetenv("AWS_SESSION_TOKEN");
  assert_int_equal(iris_aws_creds_from_env(&c, &err), IRIS_OK);
  assert_null(c.session_token);
  iris_aws_creds_cleanup(&c);
}

static void new_validates_options(void **state) {
  struct iris_aws_creds c = {"AKID", "secret", NULL};
  struct iris_aws_opts o = {0};
  struct iris_aws *aws = NULL;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_aws_new("sqs", &o, &aws, &err), IRIS_EINVAL);
  o.region = "us-east-1";
  assert_int_equal(iris_aws_new("sqs", &o, &aws, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "credentials"));
  o.creds = &c;
  o.endpoint = "localhost:4566";
  assert_int_equal(iris_aws_new("sqs", &o, &aws, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "not an http(s) URL"));
  o.endpoint = "http://127.0.0.1:1/";
  assert_int_equal(iris_aws_new("sqs", &o, &aws, &err), IRIS_OK);
  assert_string_equal(iris_aws_last_error_code(aws), "");
  iris_aws_free(aws);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_json_protocol_errors),
      cmocka_unit_test(truncates_instead_of_overflowing),
      cmocka_unit_test(classifies_retries),
      cmocka_unit_test(backoff_is_bounded_full_jitter),
      cmocka_unit_test(creds_from_env),
      cmocka_unit_test(new_validates_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
