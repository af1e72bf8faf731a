/* test_app.c — database options from configuration, and start-up failures that are clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"

static void db_opts_from_config(void **state) {
  struct iris_config *cfg = NULL;
  struct iris_db_opts o;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_config_from_string("{\"db\": {\"user\": \"u\", \"database\": \"iris\","
                                           " \"port\": 3307, \"tls\": \"verify-ca\","
                                           " \"ca_file\": \"/ca.pem\", \"connect_timeout\": 3}}",
                                           &cfg, &err),
                   IRIS_OK);
  assert_int_equal(iris_app_db_opts(cfg, &o, &err), IRIS_OK);
  assert_string_equal(o.host, "127.0.0.1");
  assert_int_equal(o.port, 3307);
  assert_int_equal(o.tls, IRIS_DB_TLS_VERIFY_CA);
  assert_string_equal(o.ca_file, "/ca.pem");
  assert_int_equal(o.connect_timeout_s, 3);
  assert_null(o.password);
  iris_config_free(cfg);
  assert_int_equal(iris_config_from_string("{\"db\": {\"user\": \"u\", \"database\": \"d\","
                                           " \"tls\": \"yes\"}}",
                                           &cfg, &err),
                   IRIS_OK);
  assert_int_equal(iris_app_db_opts(cfg, &o, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "db.tls"));
  iris_config_free(cfg);
  assert_int_equal(iris_config_from_string("{\"db\": {\"database\": \"d\"}}", &cfg, &err), IRIS_OK);
  assert_int_equal(iris_app_db_opts(cfg, &o, &err), IRIS_ENOTFOUND);
  assert_string_equal(err.msg, "config: key 'db.user' is required");
  iris_config_free(cfg);
}

static void init_fails_clearly(void **state) {
  struct iris_app app;
  struct iris_err err = {0};
  (void)state;
  unsetenv("IRIS_CONFIG");
  setenv("IRIS_CONFIG_JSON", "{\"log\": {\"level\": \"shout\"}}", 1);
  assert_int_equal(iris_app_init(&app, "test", 0, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "log.level"));
  setenv("IRIS_CONFIG_JSON", "{}", 1);
  unsetenv("AWS_ACCESS_KEY_ID");
  assert_int_equal(iris_app_init(&app, "test", 0, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
  unsetenv("IRIS_CONFIG_JSON");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(db_opts_from_config),
                                     cmocka_unit_test(init_fails_clearly)};
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
