/*
 * test_notify_parse.c — core/notify's request parsers without a database: API Gateway events
 * of both formats (stage handling, base64 bodies, limits, headers), form decoding, Iris's
 * HMAC and Twilio's signature against vectors computed with Python (hmac/hashlib as Iris's
 * api.py does, and Twilio's own RequestValidator), and an out-of-memory sweep.
 * (The same code under generated cases runs through the bootstrap in test_notify.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "apigw.h"
#include "sign.h"

static const char V1[] =
    "{\"resource\":\"/v0/notifications\",\"path\":\"/v0/notifications\",\"httpMethod\":\"POST\","
    "\"headers\":{\"Authorization\":\"hmac a:b\",\"X-Iris-Username\":\"ada\"},"
    "\"multiValueQueryStringParameters\":{\"a\":[\"1\",\"2\"]},"
    "\"requestContext\":{\"stage\":\"prod\",\"path\":\"/prod/v0/notifications\","
    "\"domainName\":\"api.example.com\"},\"body\":\"eyJ4IjoxfQ==\",\"isBase64Encoded\":true}";

static const char V2[] =
    "{\"version\":\"2.0\",\"rawPath\":\"/prod/v0/notifications/abc\",\"rawQueryString\":\"q=1\","
    "\"headers\":{\"authorization\":\"hmac a:b\",\"host\":\"h.example.com\"},"
    "\"requestContext\":{\"stage\":\"prod\",\"http\":{\"method\":\"GET\"}}}";

static void parses_v1(void **state) {
  struct iris_apigw_request r;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_apigw_parse(V1, strlen(V1), 100, &r, &err), IRIS_OK);
  assert_int_equal(r.version, 1);
  assert_string_equal(r.method, "POST");
  assert_string_equal(r.path, "/v0/notifications");
  assert_string_equal(r.full_path, "/prod/v0/notifications");
  assert_string_equal(r.query, "a=1&a=2");
  assert_string_equal(r.host, "api.example.com");
  assert_int_equal(r.body_len, 7);
  assert_string_equal(r.body, "{\"x\":1}");
  assert_string_equal(iris_apigw_header(&r, "authorization"), "hmac a:b");
  assert_string_equal(iris_apigw_header(&r, "x-iris-username"), "ada");
  assert_null(iris_apigw_header(&r, "idempotency-key"));
  iris_apigw_request_cleanup(&r);
}

static void parses_v2(void **state) {
  struct iris_apigw_request r;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_apigw_parse(V2, strlen(V2), 100, &r, &err), IRIS_OK);
  assert_int_equal(r.version, 2);
  assert_string_equal(r.method, "GET");
  assert_string_equal(r.path, "/v0/notifications/abc");
  assert_string_equal(r.full_path, "/prod/v0/notifications/abc");
  assert_string_equal(r.query, "q=1");
  assert_string_equal(r.host, "h.example.com");
  assert_int_equal(r.body_len, 0);
  iris_apigw_request_cleanup(&r);
}

static void refuses(void **state) {
  struct iris_apigw_request r;
  struct iris_err err = {0};
  static const char big[] = "{\"httpMethod\":\"POST\",\"path\":\"/x\",\"body\":\"0123456789\"}";
  static const char bad64[] =
      "{\"httpMethod\":\"POST\",\"path\":\"/x\",\"body\":\"%%%=\",\"isBase64Encoded\":true}";
  (void)state;
  assert_int_equal(iris_apigw_parse("[]", 2, 100, &r, &err), IRIS_EPARSE);
  assert_int_equal(iris_apigw_parse("{}", 2, 100, &r, &err), IRIS_EPARSE);
  assert_non_null(strstr(err.msg, "httpMethod"));
  assert_int_equal(iris_apigw_parse(big, strlen(big), 9, &r, &err), IRIS_ETOOBIG);
  assert_int_equal(iris_apigw_parse(big, strlen(big), 10, &r, &err), IRIS_OK);
  iris_apigw_request_cleanup(&r);
  assert_int_equal(iris_apigw_parse(bad64, strlen(bad64), 100, &r, &err), IRIS_EINVAL);
  assert_int_equal(iris_apigw_parse(V1, strlen(V1), 6, &r, &err), IRIS_ETOOBIG);
}

static void forms(void **state) {
  struct iris_sign_params p;
  struct iris_err err = {0};
  static const char body[] = "A=1&b=x+y%26z&&empty=&noval&A=0";
  (void)state;
  assert_int_equal(iris_sign_form_parse(body, strlen(body), 10, &p, &err), IRIS_OK);
  assert_int_equal(p.n, 5);
  assert_string_equal(iris_sign_param(&p, "b"), "x y&z");
  assert_string_equal(iris_sign_param(&p, "empty"), "");
  assert_string_equal(iris_sign_param(&p, "noval"), "");
  assert_string_equal(iris_sign_param(&p, "A"), "1");
  iris_sign_params_cleanup(&p);
  assert_int_equal(iris_sign_form_parse(body, strlen(body), 4, &p, &err), IRIS_ETOOBIG);
  assert_int_equal(iris_sign_form_parse("a=%4", 4, 4, &p, &err), IRIS_EINVAL);
  assert_int_equal(iris_sign_form_parse("a=%00", 5, 4, &p, &err), IRIS_EINVAL);
}

/* Twilio's documented example, signed by twilio.request_validator.RequestValidator. */
static void twilio_vector(void **state) {
  struct iris_sign_params p;
  struct iris_err err = {0};
  struct iris_buf sig;
  static const char body[] = "To=%2B18005551212&From=%2B12349013030&Digits=1234&Caller=%2B12349013030"
                             "&CallSid=CA1234567890ABCDE";
  static const char url[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
  (void)state;
  iris_buf_init(&sig, 0);
  assert_int_equal(iris_sign_form_parse(body, strlen(body), 10, &p, &err), IRIS_OK);
  assert_int_equal(iris_sign_twilio("12345", url, &p, &sig), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&sig), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
  assert_true(iris_sign_twilio_check("12345", url, &p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
  assert_false(iris_sign_twilio_check("12345", url, &p, "0/KCTR6DLpKmkAf8muzZqo1nDgR="));
  assert_false(iris_sign_twilio_check("", url, &p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
  assert_false(iris_sign_twilio_check("12345", url, &p, NULL));
  iris_buf_cleanup(&sig);
  iris_sign_params_cleanup(&p);
}

/* base64.urlsafe_b64encode(hmac.new(b'key', b'12345 POST /v0/notifications?a=1 {"x":1} ada',
 * hashlib.sha512).digest()), Iris's api.py digest with a username. */
static void iris_vector(void **state) {
  static const char want[] = "xDWwVf_0hueIv5KQF6tXvGNPElyI3kb5cT_X5m2kfdKYoRgufpyGzh56zSYx5KseVlvCGq"
                             "fV1i73d0r57HGjmA==";
  struct iris_sign_request r = {"POST", "/v0/notifications", "a=1", "{\"x\":1}", 7, "ada"};
  struct iris_buf d;
  (void)state;
  iris_buf_init(&d, 0);
  assert_int_equal(iris_sign_iris_digest("key", &r, 12345, &d), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&d), want);
  /* window 12345 is now/5 for now in [61725, 61730), the previous one until 61735 */
  assert_true(iris_sign_iris_check("key", &r, 61725, want));
  assert_true(iris_sign_iris_check("key", &r, 61734, want));
  assert_false(iris_sign_iris_check("key", &r, 61735, want));
  assert_false(iris_sign_iris_check("key", &r, 61724, want));
  assert_false(iris_sign_iris_check("other", &r, 61725, want));
  assert_false(iris_sign_iris_check(NULL, &r, 61725, want));
  iris_buf_cleanup(&d);
}

static void oom_sweep(void **state) {
  long n;
  int parsed = 0, formed = 0;
  (void)state;
  for (n = 0; n < 200 && !(parsed && formed); n++) {
    struct iris_apigw_request r;
    struct iris_sign_params p;
    struct iris_err err = {0};
    int rc1, rc2;
    iris_alloc_fail_after(n);
    rc1 = iris_apigw_parse(V1, strlen(V1), 100, &r, &err);
    iris_alloc_fail_after(-1);
    if (rc1 == IRIS_OK)
      iris_apigw_request_cleanup(&r);
    else
      assert_true(rc1 == IRIS_ENOMEM || rc1 == IRIS_EPARSE);
    iris_alloc_fail_after(n);
    rc2 = iris_sign_form_parse("a=1&b=2&c=3", 11, 10, &p, &err);
    iris_alloc_fail_after(-1);
    if (rc2 == IRIS_OK)
      iris_sign_params_cleanup(&p);
    else
      assert_int_equal(rc2, IRIS_ENOMEM);
    parsed |= rc1 == IRIS_OK;
    formed |= rc2 == IRIS_OK;
  }
  assert_true(parsed && formed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_v1), cmocka_unit_test(parses_v2),     cmocka_unit_test(refuses),
      cmocka_unit_test(forms),     cmocka_unit_test(twilio_vector), cmocka_unit_test(iris_vector),
      cmocka_unit_test(oom_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
