/*
 * test_oneclick.c — one-click claim links against values computed independently with
 * Python's hmac/base64/urllib (the relay's own primitives):
 *   d = {'msg_id': 1234, 'email_address': 'jdoe@example.com', 'cmd': 'claim'}
 *   d['token'] = base64.urlsafe_b64encode(hmac.new(key, "1234 jdoe@example.com claim",
 *                                                   hashlib.sha512).digest())
 *   endpoint + '?' + urllib.parse.urlencode(d)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "oneclick.h"
#include "url.h"

#define EP1 "https://relay.example.com/api/v0/gmail-oneclick/relay"
#define TOKEN1 \
  "Rm5ExZyyG0NYdXC5VstASxdfa-Hv5ncjs8JebzEkxSkHbl5ENNVEwe_zhfkKTL_2ymzW6pfOYcYX7U-dyiBdYg=="
#define URL1 \
  EP1 "?msg_id=1234&email_address=jdoe%40example.com&cmd=claim&token=" \
      "Rm5ExZyyG0NYdXC5VstASxdfa-Hv5ncjs8JebzEkxSkHbl5ENNVEwe_zhfkKTL_2ymzW6pfOYcYX7U-" \
      "dyiBdYg%3D%3D"
#define URL2 \
  "http://r.example/x?msg_id=9007199254740993&email_address=a+b%2Bc%40ex.com&cmd=" \
  "claim&token=TQyWrAeEpqZU7xdu9ujOZmIrIRY55yS5YVcsESEzVHLTJWnQdpFXT3ilqyuej4b7Y3Pu" \
  "xDIKoSm_E-nkFbEULw%3D%3D"

static void token_matches_relay(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_oneclick_token("s3cret-key", 1234, "jdoe@example.com", "claim", &b, &err),
                   IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), TOKEN1);
  iris_buf_cleanup(&b);
}

static void url_matches_relay(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_oneclick_url(EP1, "s3cret-key", 1234, "jdoe@example.com", &b, &err),
                   IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), URL1);
  iris_buf_reset(&b);
  /* UTF-8 key with a space, a '+' and a space in the address, an id above 2^53. */
  assert_int_equal(iris_oneclick_url("http://r.example/x", "k\xe2\x82\xacy with space",
                                     INT64_C(9007199254740993), "a b+c@ex.com", &b, &err),
                   IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), URL2);
  iris_buf_cleanup(&b);
}

static void markup_embeds_url(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_oneclick_markup(EP1, "s3cret-key", 1234, 77, "jdoe@example.com", &b, &err),
                   IRIS_OK);
  assert_non_null(strstr(iris_buf_ptr(&b), "\"url\": \"" URL1 "\""));
  assert_non_null(strstr(iris_buf_ptr(&b), "\"description\": \"Claim incident 77\""));
  assert_non_null(strstr(iris_buf_ptr(&b), "<script type=\"application/ld+json\">"));
  iris_buf_cleanup(&b);
}

static void bad_inputs(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_oneclick_token("", 1, "a@b", "claim", &b, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "key is empty"));
  assert_int_equal(iris_oneclick_url("ftp://x", "k", 1, "a@b", &b, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "oneclick.endpoint"));
  assert_int_equal(iris_oneclick_url(NULL, "k", 1, "a@b", &b, &err), IRIS_EINVAL);
  assert_int_equal(iris_buf_len(&b), 0);
  iris_buf_cleanup(&b);
}

static void quoting_matches_urllib(void **state) {
  struct iris_buf b;
  (void)state;
  iris_buf_init(&b, 0);
  /* urllib.parse.quote_plus('a b/c~d_e.f-g&h=\xe9') and quote(..., safe='/') */
  assert_int_equal(iris_url_append_quoted(&b, "a b/c~d_e.f-g&h=\xc3\xa9", 18, NULL, 1), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), "a+b%2Fc~d_e.f-g%26h%3D%C3%A9");
  iris_buf_reset(&b);
  assert_int_equal(iris_url_append_quoted(&b, "a b/c", 5, "/", 0), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), "a%20b/c");
  iris_buf_reset(&b);
  assert_int_equal(iris_url_append_quoted(&b, "x\0y", 3, "/", 0), IRIS_OK);
  assert_string_equal(iris_buf_ptr(&b), "x%00y");
  iris_buf_cleanup(&b);
}

static void capped_output_fails_cleanly(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&b, 40);
  assert_int_equal(iris_oneclick_url(EP1, "k", 1, "a@b", &b, &err), IRIS_ETOOBIG);
  assert_int_equal(iris_buf_len(&b), 0);
  iris_buf_cleanup(&b);
}

static void oom_sweep(void **state) {
  long n;
  (void)state;
  for (n = 0; n < 64; n++) {
    struct iris_buf b;
    struct iris_err err = {0};
    int rc;
    iris_buf_init(&b, 0);
    iris_alloc_fail_after(n);
    rc = iris_oneclick_markup(EP1, "k", 1, 2, "a@b", &b, &err);
    iris_alloc_fail_after(-1);
    iris_buf_cleanup(&b);
    if (rc == IRIS_OK)
      return;
    assert_int_equal(rc, IRIS_ENOMEM);
  }
  fail_msg("markup never succeeded within 64 allocations");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(token_matches_relay),
      cmocka_unit_test(url_matches_relay),
      cmocka_unit_test(markup_embeds_url),
      cmocka_unit_test(bad_inputs),
      cmocka_unit_test(quoting_matches_urllib),
      cmocka_unit_test(capped_output_fails_cleanly),
      cmocka_unit_test(oom_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
