/* test_log.c — JSON log lines: fields, context, levels, escaping, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"
#include "log.h"

static FILE *out;

static json_t *last_line(void) {
  char line[8192], last[8192] = "";
  fflush(out);
  rewind(out);
  while (fgets(line, sizeof line, out))
    snprintf(last, sizeof last, "%s", line);
  return json_loads(last, 0, NULL);
}

static int setup(void **state) {
  (void)state;
  out = tmpfile();
  iris_log_set_stream(out);
  iris_log_set_level(IRIS_LOG_LEVEL_DEBUG);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  iris_log_set_stream(NULL);
  iris_log_clear_secrets();
  iris_log_clear_context();
  fclose(out);
  return 0;
}

static void fields_and_context(void **state) {
  json_t *l;
  (void)state;
  iris_log_set_request("req-1", "Root=1-abc");
  iris_log_set_message_id("42");
  iris_log_write(IRIS_LOG_LEVEL_WARN, "sqs", "queue %s is %d%% full", "email", 90);
  l = last_line();
  assert_non_null(l);
  assert_string_equal(json_string_value(json_object_get(l, "level")), "warn");
  assert_string_equal(json_string_value(json_object_get(l, "module")), "sqs");
  assert_string_equal(json_string_value(json_object_get(l, "msg")), "queue email is 90% full");
  assert_string_equal(json_string_value(json_object_get(l, "requestId")), "req-1");
  assert_string_equal(json_string_value(json_object_get(l, "traceId")), "Root=1-abc");
  assert_string_equal(json_string_value(json_object_get(l, "messageId")), "42");
  assert_int_equal(strlen(json_string_value(json_object_get(l, "time"))), 24);
  json_decref(l);
  iris_log_clear_context();
  iris_log_write(IRIS_LOG_LEVEL_INFO, "x", "after");
  l = last_line();
  assert_null(json_object_get(l, "requestId"));
  json_decref(l);
}

static void escaping_keeps_one_line_of_json(void **state) {
  json_t *l;
  (void)state;
  iris_log_write(IRIS_LOG_LEVEL_INFO, "x",
                 "quote \" backslash \\ newline\n tab\t bell\a utf8 \xc3\xa9");
  l = last_line();
  assert_non_null(l);
  assert_string_equal(json_string_value(json_object_get(l, "msg")),
                      "quote \" backslash \\ newline\n tab\t bell\a utf8 \xc3\xa9");
  json_decref(l);
}

static void levels_filter(void **state) {
  long before, after;
  (void)state;
  iris_log_set_level(IRIS_LOG_LEVEL_ERROR);
  fflush(out);
  before = ftell(out);
  fseek(out, 0, SEEK_END);
  before = ftell(out);
  iris_log_write(IRIS_LOG_LEVEL_INFO, "x", "hidden");
  fflush(out);
  fseek(out, 0, SEEK_END);
  after = ftell(out);
  assert_int_equal(before, after);
  iris_log_set_level(IRIS_LOG_LEVEL_DEBUG);
  {
    enum iris_log_level lv;
    assert_int_equal(iris_log_level_parse("WARNING", &lv), IRIS_OK);
    assert_int_equal(lv, IRIS_LOG_LEVEL_WARN);
    assert_int_equal(iris_log_level_parse("loud", &lv), IRIS_EINVAL);
  }
}

static void secrets_are_redacted(void **state) {
  json_t *l;
  char *r;
  (void)state;
  assert_int_equal(iris_log_add_secret("xoxb-123-secret"), IRIS_OK);
  assert_int_equal(iris_log_add_secret("abc"), IRIS_EINVAL); /* too short to redact safely */
  iris_log_set_request("req-xoxb-123-secret", NULL);
  iris_log_write(IRIS_LOG_LEVEL_ERROR, "slack",
                 "token xoxb-123-secret refused; again:xoxb-123-secret");
  l = last_line();
  assert_string_equal(json_string_value(json_object_get(l, "msg")),
                      "token [REDACTED] refused; again:[REDACTED]");
  {
    char *all = json_dumps(l, 0);
    assert_null(strstr(all, "xoxb-123-secret"));
    iris_free(all);
  }
  json_decref(l);
  r = iris_log_redact("body: xoxb-123-secret");
  assert_string_equal(r, "body: [REDACTED]");
  iris_free(r);
}

/* The sender's helper processes log to the stderr they share with their parent: every line
 * must reach the pipe whole, never spliced with another process's line. */
static void lines_from_many_processes_stay_whole(void **state) {
  enum { PROCS = 4, LINES = 1500 };
  int fds[2], i, status;
  pid_t pids[PROCS];
  FILE *in;
  char line[8192];
  size_t got = 0;
  (void)state;
  assert_int_equal(pipe(fds), 0);
  for (i = 0; i < PROCS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      FILE *w = fdopen(fds[1], "w");
      int k;
      close(fds[0]);
      if (!w)
        _exit(2);
      setvbuf(w, NULL, _IONBF, 0); /* as stderr is */
      iris_log_set_stream(w);
      for (k = 0; k < LINES; k++)
        iris_log_write(IRIS_LOG_LEVEL_INFO, "plugin:dummy",
                       "process %d line %d: dummy sms delivered sms message %d to +15550100103", i,
                       k, k);
      _exit(0);
    }
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  assert_non_null(in);
  while (fgets(line, sizeof line, in)) {
    json_t *l = json_loads(line, 0, NULL);
    if (!l)
      fail_msg("a spliced log line: %s", line);
    json_decref(l);
    got++;
  }
  fclose(in);
  for (i = 0; i < PROCS; i++) {
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_int_equal(got, (size_t)PROCS * LINES);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(fields_and_context),
                                     cmocka_unit_test(escaping_keeps_one_line_of_json),
                                     cmocka_unit_test(levels_filter),
                                     cmocka_unit_test(secrets_are_redacted),
                                     cmocka_unit_test(lines_from_many_processes_stay_whole)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
