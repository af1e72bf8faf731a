/* test_config.c — configuration sources, overrides, typed getters, secret references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "log.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

static void clear_env(void) {
  unsetenv("IRIS_CONFIG");
  unsetenv("IRIS_CONFIG_JSON");
  unsetenv("IRIS_CONFIG_SECRET");
  unsetenv("IRIS__DB__PORT");
  unsetenv("IRIS__DB__CONNECT_TIMEOUT");
  unsetenv("IRIS__PLUGINS__EMAIL");
  unsetenv("IRIS_QUEUE_EMAIL");
  unsetenv("IRIS_PLUGIN_DIR");
  unsetenv("IRIS_TICK_SECONDS");
  unsetenv("IRIS_LOG_LEVEL");
}

static const char *write_file(const char *text) {
  static char path[] = "/tmp/iris-test-config-XXXXXX";
  int fd;
  FILE *f;
  snprintf(path, sizeof path, "%s", "/tmp/iris-test-config-XXXXXX"); /* mkstemp rewrote it */
  fd = mkstemp(path);
  f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void sources_merge_in_order(void **state) {
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  const char *s, *path;
  int64_t i;
  int b;
  (void)state;
  clear_env();
  path = write_file("{\"db\": {\"host\": \"file-host\", \"port\": 3306, \"user\": \"iris\"},"
                    " \"queues\": {\"sms\": \"file-sms\"}, \"log\": {\"level\": \"info\"}}");
  setenv("IRIS_CONFIG_JSON", "{\"db\": {\"host\": \"inline-host\"}, \"quota\": {\"on\": true}}", 1);
  setenv("IRIS_QUEUE_EMAIL", "http://q/email", 1);
  setenv("IRIS_TICK_SECONDS", "5", 1);
  setenv("IRIS__DB__PORT", "3307", 1);
  setenv("IRIS__DB__CONNECT_TIMEOUT", "7", 1);
  setenv("IRIS__PLUGINS__EMAIL", "[\"smtp\", \"dummy\"]", 1);
  OK(iris_config_load(path, &cfg, &err));
  OK(iris_config_get_str(cfg, "db.host", &s, &err));
  assert_string_equal(s, "inline-host");
  OK(iris_config_get_str(cfg, "db.user", &s, &err));
  assert_string_equal(s, "iris");
  OK(iris_config_get_i64(cfg, "db.port", 1, 65535, &i, &err));
  assert_int_equal(i, 3307);
  OK(iris_config_get_i64(cfg, "db.connect_timeout", 1, 60, &i, &err));
  assert_int_equal(i, 7);
  OK(iris_config_get_str(cfg, "queues.email", &s, &err));
  assert_string_equal(s, "http://q/email");
  OK(iris_config_get_str(cfg, "queues.sms", &s, &err));
  assert_string_equal(s, "file-sms");
  OK(iris_config_get_i64(cfg, "coordinator.tick_seconds", 1, 60, &i, &err));
  assert_int_equal(i, 5);
  OK(iris_config_bool_or(cfg, "quota.on", 0, &b, &err));
  assert_true(b);
  assert_int_equal(json_array_size(iris_config_json(cfg, "plugins.email")), 2);
  iris_config_free(cfg);
  remove(path);
  clear_env();
}

static void getters_report_path_and_rule(void **state) {
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  const char *s;
  int64_t i;
  double d;
  int b;
  (void)state;
  OK(iris_config_from_string("{\"db\": {\"port\": \"abc\", \"big\": 70000, \"name\": 5},"
                             " \"x\": {\"flag\": \"maybe\", \"ratio\": 3.5}}",
                             &cfg, &err));
  assert_int_equal(iris_config_get_i64(cfg, "db.port", 1, 65535, &i, &err), IRIS_ECONFIG);
  assert_string_equal(err.msg, "config: key 'db.port' must be an integer 1-65535, got \"abc\"");
  assert_int_equal(iris_config_get_i64(cfg, "db.big", 1, 65535, &i, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "got 70000"));
  assert_int_equal(iris_config_get_str(cfg, "db.user", &s, &err), IRIS_ENOTFOUND);
  assert_string_equal(err.msg, "config: key 'db.user' is required");
  assert_int_equal(iris_config_get_str(cfg, "db.name", &s, &err), IRIS_ECONFIG);
  OK(iris_config_str_or(cfg, "db.user", "iris", &s, &err));
  assert_string_equal(s, "iris");
  OK(iris_config_i64_or(cfg, "db.timeout", 30, 1, 600, &i, &err));
  assert_int_equal(i, 30);
  assert_int_equal(iris_config_i64_or(cfg, "db.big", 30, 1, 600, &i, &err), IRIS_ECONFIG);
  assert_int_equal(iris_config_bool_or(cfg, "x.flag", 0, &b, &err), IRIS_ECONFIG);
  assert_int_equal(iris_config_double_or(cfg, "x.ratio", 1, 0, 1, &d, &err), IRIS_ECONFIG);
  OK(iris_config_double_or(cfg, "x.ratio", 1, 0, 10, &d, &err));
  assert_true(d == 3.5);
  assert_null(iris_config_json(cfg, "db.port.deeper"));
  iris_config_free(cfg);
}

static void syntax_errors_name_the_place(void **state) {
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  const char *path;
  (void)state;
  clear_env();
  path = write_file("{\n  \"db\": {\n    \"host\": \"x\",\n  }\n}\n");
  assert_int_equal(iris_config_load(path, &cfg, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, path));
  assert_non_null(strstr(err.msg, "line 4"));
  remove(path);
  assert_int_equal(iris_config_load("/nonexistent/iris.json", &cfg, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "/nonexistent/iris.json"));
  setenv("IRIS_CONFIG_JSON", "[1,2]", 1);
  assert_int_equal(iris_config_load(NULL, &cfg, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "IRIS_CONFIG_JSON must hold a JSON object"));
  clear_env();
}

static int fake_fetch(void *data, const char *id, char **value, struct iris_err *err) {
  int *calls = data;
  (*calls)++;
  if (strcmp(id, "db-creds") == 0)
    *value = iris_strdup("{\"password\": \"s3cr3t-pw\", \"user\": \"svc\"}");
  else if (strcmp(id, "plain") == 0)
    *value = iris_strdup("plain-token-value");
  else if (strcmp(id, "whole") == 0)
    *value = iris_strdup("{\"slack\": {\"token\": \"xoxb-whole-secret\"}}");
  else
    return iris_err_set(err, IRIS_EAWS, "ResourceNotFoundException: no such secret");
  return IRIS_OK;
}

static void secret_references(void **state) {
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  const char *s;
  char *dump;
  int calls = 0;
  (void)state;
  clear_env();
  OK(iris_config_from_string("{\"db\": {\"password\": \"secretsmanager:db-creds#password\","
                             " \"user\": \"secretsmanager:db-creds#user\"},"
                             " \"twilio\": {\"token\": \"secretsmanager:plain\"}}",
                             &cfg, &err));
  setenv("IRIS_CONFIG_SECRET", "whole", 1);
  OK(iris_config_resolve_secrets(cfg, fake_fetch, &calls, &err));
  OK(iris_config_get_str(cfg, "db.password", &s, &err));
  assert_string_equal(s, "s3cr3t-pw");
  OK(iris_config_get_str(cfg, "db.user", &s, &err));
  assert_string_equal(s, "svc");
  OK(iris_config_get_str(cfg, "twilio.token", &s, &err));
  assert_string_equal(s, "plain-token-value");
  OK(iris_config_get_str(cfg, "slack.token", &s, &err));
  assert_string_equal(s, "xoxb-whole-secret");
  dump = iris_config_dump_redacted(cfg);
  assert_non_null(dump);
  assert_null(strstr(dump, "s3cr3t-pw"));
  assert_null(strstr(dump, "plain-token-value"));
  assert_null(strstr(dump, "xoxb-whole-secret"));
  assert_non_null(strstr(dump, "[REDACTED]"));
  iris_free(dump);
  /* The values are now redacted from every log line too. */
  dump = iris_log_redact("pw=s3cr3t-pw tok=plain-token-value");
  assert_string_equal(dump, "pw=[REDACTED] tok=[REDACTED]");
  iris_free(dump);
  iris_config_free(cfg);
  unsetenv("IRIS_CONFIG_SECRET");

  OK(iris_config_from_string("{\"a\": {\"b\": \"secretsmanager:missing\"}}", &cfg, &err));
  assert_int_equal(iris_config_resolve_secrets(cfg, fake_fetch, &calls, &err), IRIS_EAWS);
  assert_non_null(strstr(err.msg, "a.b"));
  assert_non_null(strstr(err.msg, "'missing'"));
  iris_config_free(cfg);
  OK(iris_config_from_string("{\"a\": \"secretsmanager:plain#field\"}", &cfg, &err));
  assert_int_equal(iris_config_resolve_secrets(cfg, fake_fetch, &calls, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "not a JSON object"));
  assert_null(strstr(err.msg, "plain-token-value"));
  iris_config_free(cfg);
  OK(iris_config_from_string("{\"a\": \"secretsmanager:db-creds#nokey\"}", &cfg, &err));
  assert_int_equal(iris_config_resolve_secrets(cfg, fake_fetch, &calls, &err), IRIS_ECONFIG);
  assert_non_null(strstr(err.msg, "has no key 'nokey'"));
  iris_config_free(cfg);
  iris_log_clear_secrets();
}

static void oom_sweep(void **state) {
  long n;
  (void)state;
  clear_env();
  setenv("IRIS_CONFIG_JSON", "{\"a\": {\"b\": 1}}", 1);
  setenv("IRIS__A__C", "\"x\"", 1);
  for (n = 0; n < 500; n++) {
    struct iris_config *cfg = NULL;
    struct iris_err err = {0};
    int rc;
    iris_alloc_fail_after(n);
    rc = iris_config_load(NULL, &cfg, &err);
    iris_alloc_fail_after(-1);
    iris_config_free(cfg);
    if (rc == IRIS_OK) {
      unsetenv("IRIS__A__C");
      clear_env();
      return;
    }
    assert_true(rc == IRIS_ENOMEM || rc == IRIS_ECONFIG);
  }
  fail_msg("config never loaded within 500 allocations");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sources_merge_in_order),
      cmocka_unit_test(getters_report_path_and_rule),
      cmocka_unit_test(syntax_errors_name_the_place),
      cmocka_unit_test(secret_references),
      cmocka_unit_test(oom_sweep),
  };
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
