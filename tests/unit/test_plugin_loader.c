/*
 * test_plugin_loader.c — the loader refuses every broken plugin with a message naming the
 * file and the fix, keeps the good ones, accepts newer minors; the host wrapper repairs a
 * plugin's malformed result; the dummy plugin's behaviours through the host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "plugin_host.h"
#include "plugin_loader.h"

#ifndef TEST_PLUGIN_DIR
#error TEST_PLUGIN_DIR
#endif

static const char *rejection_for(const struct iris_plugins *p, const char *file) {
  char prefix[512];
  size_t i;
  snprintf(prefix, sizeof prefix, "%s/%s: ", TEST_PLUGIN_DIR, file);
  for (i = 0; i < iris_plugins_rejections(p); i++)
    if (strncmp(iris_plugins_rejection(p, i), prefix, strlen(prefix)) == 0)
      return iris_plugins_rejection(p, i);
  return NULL;
}

static void refusals_name_file_and_fix(void **state) {
  struct iris_plugins *p = NULL;
  struct iris_err err = {0};
  const char *r;
  (void)state;
  assert_int_equal(iris_plugins_new(&p, &err), IRIS_OK);
  assert_int_equal(iris_plugins_load_dir(p, TEST_PLUGIN_DIR, &err), IRIS_OK);
  /* Files load in name order: bad_status.so ("bad"), dup_name.so ("good"), newer_minor.so
   * and wild.so load; good.so is then refused as a second plugin named "good". */
  assert_int_equal(iris_plugins_count(p), 4);
  assert_non_null(iris_plugins_find(p, "good", "sms"));
  assert_non_null(iris_plugins_find(p, "newer", "sms"));
  assert_null(iris_plugins_find(p, "good", "email"));
  r = rejection_for(p, "wrong_major.so");
  assert_non_null(r);
  assert_non_null(strstr(r, "built for plugin ABI 2.0, this host speaks 1.x"));
  assert_non_null(strstr(r, "rebuild"));
  assert_non_null(rejection_for(p, "no_entry.so"));
  assert_non_null(strstr(rejection_for(p, "no_entry.so"), "no exported symbol iris_plugin_entry"));
  assert_non_null(strstr(rejection_for(p, "null_desc.so"), "returned NULL"));
  assert_non_null(strstr(rejection_for(p, "small_desc.so"), "struct_size 12"));
  assert_non_null(strstr(rejection_for(p, "no_modes.so"), "serves no mode"));
  assert_non_null(strstr(rejection_for(p, "null_send.so"), "init, send and destroy are required"));
  assert_non_null(strstr(rejection_for(p, "dup_mode.so"), "declares mode 'sms' twice"));
  r = rejection_for(p, "good.so");
  assert_non_null(r);
  assert_non_null(strstr(r, "a plugin named 'good' is already loaded from"));
  assert_non_null(strstr(r, "dup_name.so"));
  assert_null(rejection_for(p, "dup_name.so"));
  assert_null(rejection_for(p, "newer_minor.so")); /* a newer minor is accepted */
  iris_plugins_free(p);
}

static void missing_dir_and_unloadable_file(void **state) {
  struct iris_plugins *p = NULL;
  struct iris_err err = {0};
  FILE *f;
  (void)state;
  assert_int_equal(iris_plugins_new(&p, &err), IRIS_OK);
  assert_int_equal(iris_plugins_load_dir(p, "/nonexistent/plugins", &err), IRIS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "/nonexistent/plugins"));
  f = fopen("/tmp/iris-not-a-plugin.so", "w");
  fputs("garbage", f);
  fclose(f);
  assert_int_equal(iris_plugins_load_file(p, "/tmp/iris-not-a-plugin.so", &err), IRIS_EPLUGIN);
  assert_non_null(strstr(err.msg, "cannot be loaded"));
  remove("/tmp/iris-not-a-plugin.so");
  iris_plugins_free(p);
}

static void host_repairs_bad_results(void **state) {
  struct iris_plugins *p = NULL;
  struct iris_vendor *v = NULL;
  struct iris_err err = {0};
  struct iris_plugin_message m = {0};
  struct iris_plugin_result r;
  struct iris_plugin_kv refuse = {"refuse", "no credentials"};
  (void)state;
  assert_int_equal(iris_plugins_new(&p, &err), IRIS_OK);
  assert_int_equal(iris_plugins_load_file(p, TEST_PLUGIN_DIR "/bad_status.so", &err), IRIS_OK);
  assert_int_equal(iris_vendor_new(p, "bad", "sms", "b1", &refuse, 1, NULL, &v, &err),
                   IRIS_EPLUGIN);
  assert_non_null(strstr(err.msg, "refusing: no credentials"));
  assert_int_equal(iris_vendor_new(p, "bad", "email", "b1", NULL, 0, NULL, &v, &err),
                   IRIS_ENOTFOUND);
  assert_int_equal(iris_vendor_new(p, "bad", "sms", "b1", NULL, 0, NULL, &v, &err), IRIS_OK);
  m.struct_size = sizeof m;
  m.mode = "sms";
  m.body = "x";
  iris_vendor_send(v, &m, &r);
  assert_int_equal(r.status, IRIS_PLUGIN_RETRYABLE);
  assert_non_null(strstr(r.error, "no valid status (42)"));
  assert_int_equal(strlen(r.vendor_message_id), sizeof r.vendor_message_id - 1);
  assert_int_equal(iris_vendor_health(v, &err), IRIS_EUNSUPPORTED);
  iris_vendor_free(v);
  iris_plugins_free(p);
}

/* Send through wild.so, which returns exactly what the extra fields say. */
static void wild_send(struct iris_vendor *v, const char *status, const char *retry, const char *id,
                      const char *error, struct iris_plugin_result *r) {
  struct iris_plugin_message m = {0};
  struct iris_plugin_kv extra[4];
  size_t n = 0;
  extra[n].key = "status", extra[n++].value = status;
  extra[n].key = "retry_after_ms", extra[n++].value = retry;
  if (id)
    extra[n].key = "vendor_message_id", extra[n++].value = id;
  if (error)
    extra[n].key = "error", extra[n++].value = error;
  m.struct_size = sizeof m;
  m.mode = "sms";
  m.body = "x";
  m.extra = extra;
  m.nextra = n;
  iris_vendor_send(v, &m, r);
}

/* Is s valid UTF-8 without control characters? */
static int clean_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int len = *p < 0x80             ? 1
              : (*p & 0xE0) == 0xC0 ? 2
              : (*p & 0xF0) == 0xE0 ? 3
              : (*p & 0xF8) == 0xF0 ? 4
                                    : 0;
    int i;
    if (len == 0 || (*p < 0x20) || *p == 0x7F || (len == 2 && *p < 0xC2) || (len == 4 && *p > 0xF4))
      return 0;
    for (i = 1; i < len; i++)
      if ((p[i] & 0xC0) != 0x80)
        return 0;
    if (len == 3 && ((*p == 0xE0 && p[1] < 0xA0) || (*p == 0xED && p[1] >= 0xA0)))
      return 0; /* overlong, surrogate */
    if (len == 4 && ((*p == 0xF0 && p[1] < 0x90) || (*p == 0xF4 && p[1] >= 0x90)))
      return 0;
    p += len;
  }
  return 1;
}

static void host_bounds_results(void **state) {
  struct iris_plugins *p = NULL;
  struct iris_vendor *v = NULL;
  struct iris_err err = {0};
  struct iris_plugin_result r;
  char longid[300], longerr[700];
  /* {asked status, asked retry_after_ms, what the host hands back} */
  static const struct {
    const char *status, *retry;
    int want_status;
    int64_t want_retry;
  } cases[] = {
      {"3", "9223372036854775807", IRIS_PLUGIN_RATE_LIMITED, IRIS_PLUGIN_RETRY_AFTER_MAX_MS},
      {"3", "-9223372036854775807", IRIS_PLUGIN_RATE_LIMITED, 1000},
      {"3", "-1", IRIS_PLUGIN_RATE_LIMITED, 1000},
      {"3", "0", IRIS_PLUGIN_RATE_LIMITED, 1000},
      {"3", "2500", IRIS_PLUGIN_RATE_LIMITED, 2500},
      {"3", "900000", IRIS_PLUGIN_RATE_LIMITED, IRIS_PLUGIN_RETRY_AFTER_MAX_MS},
      {"3", "900001", IRIS_PLUGIN_RATE_LIMITED, IRIS_PLUGIN_RETRY_AFTER_MAX_MS},
      {"1", "86400000000", IRIS_PLUGIN_RETRYABLE, IRIS_PLUGIN_RETRY_AFTER_MAX_MS},
      {"1", "-5", IRIS_PLUGIN_RETRYABLE, 0},
      {"1", "700", IRIS_PLUGIN_RETRYABLE, 700},
      {"0", "5000", IRIS_PLUGIN_SENT, 0},
      {"2", "5000", IRIS_PLUGIN_PERMANENT, 0},
      {"7", "-3", IRIS_PLUGIN_RETRYABLE, 0},
  };
  size_t i;
  (void)state;
  assert_int_equal(iris_plugins_new(&p, &err), IRIS_OK);
  assert_int_equal(iris_plugins_load_file(p, TEST_PLUGIN_DIR "/wild.so", &err), IRIS_OK);
  assert_int_equal(iris_vendor_new(p, "wild", "sms", "w1", NULL, 0, NULL, &v, &err), IRIS_OK);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wild_send(v, cases[i].status, cases[i].retry, NULL, NULL, &r);
    assert_int_equal(r.status, cases[i].want_status);
    assert_true(r.retry_after_ms == cases[i].want_retry);
    assert_true(r.retry_after_ms >= 0 && r.retry_after_ms <= IRIS_PLUGIN_RETRY_AFTER_MAX_MS);
    assert_true(r.status == IRIS_PLUGIN_SENT || r.error[0] != '\0');
  }
  /* Texts: cut to the buffer, made valid UTF-8, no control characters. */
  memset(longid, 'i', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  memcpy(longid + 125, "\xE2\x9C\x93", 3); /* a check mark cut by the 127-byte limit */
  memset(longerr, 'e', sizeof longerr - 1);
  longerr[sizeof longerr - 1] = '\0';
  wild_send(v, "1", "0", longid, longerr, &r);
  assert_int_equal(strlen(r.vendor_message_id), sizeof r.vendor_message_id - 1);
  assert_int_equal(strlen(r.error), sizeof r.error - 1);
  assert_true(clean_utf8(r.vendor_message_id));
  assert_memory_equal(r.vendor_message_id + 125, "??", 2);
  {
    static const char *const bad[] = {"\xC0\xAF",
                                      "\xED\xA0\x80",
                                      "\xF4\x90\x80\x80",
                                      "\xFF",
                                      "ok\x01id\x7F",
                                      "\xE2\x9C",
                                      "\x80"
                                      "abc",
                                      "\xF0\x9F\x98\x80 fine",
                                      NULL};
    for (i = 0; bad[i]; i++) {
      wild_send(v, "2", "0", bad[i], bad[i], &r);
      assert_true(clean_utf8(r.vendor_message_id));
      assert_true(clean_utf8(r.error));
    }
    /* valid text passes unchanged */
    assert_string_equal(r.vendor_message_id, "\xF0\x9F\x98\x80 fine");
  }
  wild_send(v, "2", "0", "ok\nid", "line one\nline two", &r);
  assert_string_equal(r.vendor_message_id, "ok?id");
  assert_string_equal(r.error, "line one line two");
  iris_vendor_free(v);
  iris_plugins_free(p);
}

static void dummy_behaviours(void **state) {
  struct iris_plugins *p = NULL;
  struct iris_vendor *v = NULL;
  struct iris_err err = {0};
  struct iris_plugin_message m = {0};
  struct iris_plugin_result r;
  const char *dest[] = {"+15551234"};
  struct iris_plugin_kv nth[] = {{"fail_nth", "2"}};
  struct iris_plugin_kv rl[] = {{"rate_limit_ms", "1500"}};
  struct iris_plugin_kv bad[] = {{"colour", "blue"}};
  (void)state;
  assert_int_equal(iris_plugins_new(&p, &err), IRIS_OK);
  assert_int_equal(iris_plugins_load_file(p, DUMMY_PLUGIN, &err), IRIS_OK);
  m.struct_size = sizeof m;
  m.mode = "sms";
  m.message_id = "7";
  m.destinations = dest;
  m.ndestinations = 1;
  m.body = "hello";
  assert_int_equal(iris_vendor_new(p, "dummy", "sms", "d", nth, 1, NULL, &v, &err), IRIS_OK);
  iris_vendor_send(v, &m, &r);
  assert_int_equal(r.status, IRIS_PLUGIN_SENT);
  assert_string_equal(r.vendor_message_id, "dummy-d-1");
  iris_vendor_send(v, &m, &r);
  assert_int_equal(r.status, IRIS_PLUGIN_RETRYABLE);
  iris_vendor_send(v, &m, &r);
  assert_int_equal(r.status, IRIS_PLUGIN_SENT);
  iris_vendor_free(v);
  assert_int_equal(iris_vendor_new(p, "dummy", "call", "d", rl, 1, NULL, &v, &err), IRIS_OK);
  iris_vendor_send(v, &m, &r);
  assert_int_equal(r.status, IRIS_PLUGIN_RATE_LIMITED);
  assert_int_equal(r.retry_after_ms, 1500);
  iris_vendor_free(v);
  assert_int_equal(iris_vendor_new(p, "dummy", "sms", "d", bad, 1, NULL, &v, &err), IRIS_EPLUGIN);
  assert_non_null(strstr(err.msg, "unknown option 'colour'"));
  iris_plugins_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(refusals_name_file_and_fix),
                                     cmocka_unit_test(missing_dir_and_unloadable_file),
                                     cmocka_unit_test(host_repairs_bad_results),
                                     cmocka_unit_test(host_bounds_results),
                                     cmocka_unit_test(dummy_behaviours)};
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
