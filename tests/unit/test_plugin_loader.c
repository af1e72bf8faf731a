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
  /* Files load in name order: bad_status.so ("bad"), dup_name.so ("good") and
   * newer_minor.so load; good.so is then refused as a second plugin named "good". */
  assert_int_equal(iris_plugins_count(p), 3);
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
  assert_int_equal(iris_vendor_new(p, "bad", "sms", "b1", &refuse, 1, NULL, &v, &err), IRIS_EPLUGIN);
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
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refusals_name_file_and_fix), cmocka_unit_test(missing_dir_and_unloadable_file),
      cmocka_unit_test(host_repairs_bad_results), cmocka_unit_test(dummy_behaviours)};
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
