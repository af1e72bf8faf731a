/*
 * test_secrets.c — secret references resolved through Secrets Manager (moto), with our own
 * signed client: plain and JSON-key secrets, references inside arrays (vendor lists), a
 * missing secret, a binary-only secret, and the resolved values absent from every log line
 * even at debug level and from the redacted configuration dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "aws.h"
#include "buf.h"
#include "capture.h"
#include "config.h"
#include "log.h"
#include "secrets.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

static struct iris_aws_creds creds;
static char suffix[32];

static void opts_for(struct iris_aws_opts *o) {
  memset(o, 0, sizeof *o);
  o->region = "us-east-1";
  o->endpoint = getenv("IRIS_TEST_AWS_ENDPOINT");
  o->creds = &creds;
}

static void create_secret(const char *name, const char *field, const char *value) {
  struct iris_aws_opts o;
  struct iris_aws *aws = NULL;
  struct iris_err err = {0};
  struct iris_buf resp;
  char body[512];
  opts_for(&o);
  OK(iris_aws_new("secretsmanager", &o, &aws, &err));
  iris_buf_init(&resp, 0);
  snprintf(body, sizeof body, "{\"Name\":\"%s\",\"%s\":%s}", name, field, value);
  if (iris_aws_call(aws, "secretsmanager.CreateSecret", "1.1", body, &resp, &err))
    fail_msg("CreateSecret %s: %s", name, err.msg);
  iris_buf_cleanup(&resp);
  iris_aws_free(aws);
}

static int setup(void **state) {
  struct iris_err err = {0};
  char name[96];
  (void)state;
  if (!getenv("IRIS_TEST_AWS_ENDPOINT") || iris_aws_creds_from_env(&creds, &err))
    return -1;
  snprintf(suffix, sizeof suffix, "%d", (int)getpid());
  snprintf(name, sizeof name, "iris/db-%s", suffix);
  create_secret(name, "SecretString",
                "\"{\\\"password\\\":\\\"db-Pa55word-Zx\\\",\\\"user\\\":\\\"iris_svc\\\"}\"");
  snprintf(name, sizeof name, "iris/twilio-%s", suffix);
  create_secret(name, "SecretString", "\"twilio-auth-token-9f8e7d\"");
  snprintf(name, sizeof name, "iris/binary-%s", suffix);
  create_secret(name, "SecretBinary", "\"AAEC\"");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  iris_aws_creds_cleanup(&creds);
  return 0;
}

/* A Secrets Manager client on moto (the caller frees it). */
static struct iris_secrets *secrets_client(void) {
  struct iris_aws_opts o;
  struct iris_secrets *s = NULL;
  struct iris_err err = {0};
  opts_for(&o);
  OK(iris_secrets_new(&o, &s, &err));
  return s;
}

/* The configuration json with its references resolved through a new client: both are the
 * caller's to free. */
static void resolve(const char *json, struct iris_secrets **s, struct iris_config **cfg) {
  struct iris_err err = {0};
  *s = secrets_client();
  OK(iris_config_from_string(json, cfg, &err));
  OK(iris_config_resolve_secrets(*cfg, iris_secrets_fetch, *s, &err));
}

static void resolves_references(void **state) {
  struct iris_secrets *s = NULL;
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  char json[512];
  const char *v;
  FILE *logf = tmpfile();
  char logs[8192];
  (void)state;
  iris_log_set_stream(logf);
  iris_log_set_level(IRIS_LOG_LEVEL_DEBUG);
  snprintf(json, sizeof json,
           "{\"db\":{\"password\":\"secretsmanager:iris/db-%s#password\","
           "\"user\":\"secretsmanager:iris/db-%s#user\"},"
           "\"twilio\":{\"auth_token\":\"secretsmanager:iris/twilio-%s\"}}",
           suffix, suffix, suffix);
  resolve(json, &s, &cfg);
  OK(iris_config_get_str(cfg, "db.password", &v, &err));
  assert_string_equal(v, "db-Pa55word-Zx");
  OK(iris_config_get_str(cfg, "db.user", &v, &err));
  assert_string_equal(v, "iris_svc");
  OK(iris_config_get_str(cfg, "twilio.auth_token", &v, &err));
  assert_string_equal(v, "twilio-auth-token-9f8e7d");
  /* Anyone logging the values gets them redacted. */
  iris_log_write(IRIS_LOG_LEVEL_DEBUG, "test", "db password is %s, token %s", "db-Pa55word-Zx",
                 "twilio-auth-token-9f8e7d");
  iris_test_read_back(logf, logs, sizeof logs);
  assert_non_null(strstr(logs, "resolved secret"));
  assert_non_null(strstr(logs, "db password is [REDACTED], token [REDACTED]"));
  assert_null(strstr(logs, "db-Pa55word-Zx"));
  assert_null(strstr(logs, "twilio-auth-token-9f8e7d"));
  iris_log_set_stream(NULL);
  iris_log_set_level(IRIS_LOG_LEVEL_ERROR);
  fclose(logf);
  iris_config_free(cfg);
  iris_secrets_free(s);
}

/* #14.8: references inside arrays (vendors.<mode>[i].config) resolve like any other, the
 * redacted dump hides them, and an unresolvable one fails start-up naming its key. */
static void resolves_references_in_vendor_lists(void **state) {
  struct iris_secrets *s = NULL;
  struct iris_config *cfg = NULL;
  struct iris_err err = {0};
  char json[1024];
  char *dump;
  json_t *sms;
  (void)state;
  snprintf(json, sizeof json,
           "{\"vendors\":{\"sms\":[{\"plugin\":\"dummy\",\"config\":{\"x\":\"1\"}},"
           "{\"plugin\":\"twilio\",\"config\":{\"auth_token\":\"secretsmanager:iris/twilio-%s\","
           "\"users\":[\"a\",[\"secretsmanager:iris/db-%s#user\"]]}}]}}",
           suffix, suffix);
  resolve(json, &s, &cfg);
  sms = iris_config_json(cfg, "vendors.sms");
  assert_string_equal(json_string_value(
                          json_object_get(json_object_get(json_array_get(sms, 1), "config"),
                                          "auth_token")),
                      "twilio-auth-token-9f8e7d");
  assert_string_equal(json_string_value(json_array_get(
                          json_array_get(json_object_get(json_object_get(json_array_get(sms, 1),
                                                                         "config"),
                                                         "users"),
                                         1),
                          0)),
                      "iris_svc");
  dump = iris_config_dump_redacted(cfg);
  assert_non_null(dump);
  assert_null(strstr(dump, "twilio-auth-token-9f8e7d"));
  assert_null(strstr(dump, "iris_svc"));
  assert_non_null(strstr(dump, "[REDACTED]"));
  assert_non_null(strstr(dump, "\"plugin\": \"dummy\""));
  iris_free(dump);
  iris_config_free(cfg);
  cfg = NULL;
  OK(iris_config_from_string("{\"vendors\":{\"email\":[{\"plugin\":\"smtp\",\"config\":"
                             "{\"password\":\"secretsmanager:iris/no-such-secret\"}}]}}",
                             &cfg, &err));
  assert_int_equal(iris_config_resolve_secrets(cfg, iris_secrets_fetch, s, &err), IRIS_EAWS);
  assert_non_null(strstr(err.msg, "vendors.email[0].config.password"));
  assert_non_null(strstr(err.msg, "iris/no-such-secret"));
  iris_config_free(cfg);
  iris_secrets_free(s);
}

static void clear_errors(void **state) {
  struct iris_secrets *s = secrets_client();
  struct iris_err err = {0};
  char id[96], *value = NULL;
  (void)state;
  assert_int_equal(iris_secrets_fetch(s, "iris/no-such-secret", &value, &err), IRIS_EAWS);
  assert_non_null(strstr(err.msg, "ResourceNotFoundException"));
  assert_non_null(strstr(err.msg, "iris/no-such-secret"));
  snprintf(id, sizeof id, "iris/binary-%s", suffix);
  assert_int_equal(iris_secrets_fetch(s, id, &value, &err), IRIS_EUNSUPPORTED);
  assert_null(value);
  iris_secrets_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(resolves_references),
                                     cmocka_unit_test(resolves_references_in_vendor_lists),
                                     cmocka_unit_test(clear_errors)};
  iris_log_set_level(IRIS_LOG_LEVEL_ERROR);
  return cmocka_run_group_tests(tests, setup, teardown);
}
