/*
 * test_base64.c — core/base/base64.h against the test vectors of RFC 4648 §10, in the four
 * variants (standard or URL-safe alphabet, with or without padding), and the URL-safe letters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base64.h"

static void check(const char *in, size_t n, int flags, const char *want) {
  struct iris_buf b;
  iris_buf_init(&b, 0);
  assert_int_equal(iris_base64_append(&b, in, n, flags), IRIS_OK);
  assert_string_equal(b.ptr ? b.ptr : "", want);
  iris_buf_cleanup(&b);
}

static void rfc4648_vectors(void **state) {
  static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  static const char *const bare[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof in / sizeof in[0]; i++) {
    check(in[i], strlen(in[i]), 0, padded[i]);
    check(in[i], strlen(in[i]), IRIS_B64_URL, padded[i]);
    check(in[i], strlen(in[i]), IRIS_B64_NOPAD, bare[i]);
    check(in[i], strlen(in[i]), IRIS_B64_URL | IRIS_B64_NOPAD, bare[i]);
  }
}

static void url_safe_letters(void **state) {
  static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
  (void)state;
  check((const char *)bytes, 3, 0, "+/+/");
  check((const char *)bytes, 3, IRIS_B64_URL, "-_-_");
  check((const char *)bytes, 2, IRIS_B64_URL, "-_8=");
  check((const char *)bytes, 2, IRIS_B64_URL | IRIS_B64_NOPAD, "-_8");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(rfc4648_vectors),
                                     cmocka_unit_test(url_safe_letters)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
