/* test_metrics.c — EMF lines parsed back and checked against the format CloudWatch reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

static json_t *lines_of(FILE *f, size_t *n) {
  json_t *all = json_array();
  char line[8192];
  rewind(f);
  while (fgets(line, sizeof line, f))
    json_array_append_new(all, json_loads(line, 0, NULL));
  *n = json_array_size(all);
  return all;
}

static json_t *find_line(json_t *all, const char *dim, const char *value) {
  size_t i;
  for (i = 0; i < json_array_size(all); i++) {
    json_t *l = json_array_get(all, i);
    const char *v = json_string_value(json_object_get(l, dim));
    if (v && strcmp(v, value) == 0)
      return l;
  }
  return NULL;
}

static void emf_lines(void **state) {
  FILE *f = tmpfile();
  struct iris_metrics *m = NULL;
  struct iris_err err = {0};
  const char *email[] = {"Mode", "email", "Vendor", "smtp", NULL};
  const char *sms[] = {"Mode", "sms", NULL};
  json_t *all, *l, *aws, *cwm;
  size_t n;
  (void)state;
  iris_clock_set_fake_ms(1795561499025);
  assert_int_equal(iris_metrics_new("Iris/Sender", "sender", f, &m, &err), IRIS_OK);
  iris_metrics_put(m, "sent", 1, IRIS_METRIC_COUNT, email);
  iris_metrics_put(m, "sent", 2, IRIS_METRIC_COUNT, email);
  iris_metrics_put(m, "latency", 120, IRIS_METRIC_MILLISECONDS, email);
  iris_metrics_put(m, "latency", 80.5, IRIS_METRIC_MILLISECONDS, email);
  iris_metrics_put(m, "failed", 1, IRIS_METRIC_COUNT, sms);
  iris_metrics_put(m, "records", 3, IRIS_METRIC_COUNT, NULL);
  iris_metrics_flush(m);
  all = lines_of(f, &n);
  assert_int_equal(n, 3);
  l = find_line(all, "Mode", "email");
  assert_non_null(l);
  assert_string_equal(json_string_value(json_object_get(l, "Function")), "sender");
  assert_string_equal(json_string_value(json_object_get(l, "Vendor")), "smtp");
  assert_int_equal(json_integer_value(json_object_get(l, "sent")), 3);
  assert_int_equal(json_array_size(json_object_get(l, "latency")), 2);
  aws = json_object_get(l, "_aws");
  assert_int_equal(json_integer_value(json_object_get(aws, "Timestamp")), 1795561499025);
  cwm = json_array_get(json_object_get(aws, "CloudWatchMetrics"), 0);
  assert_string_equal(json_string_value(json_object_get(cwm, "Namespace")), "Iris/Sender");
  {
    json_t *dims = json_array_get(json_object_get(cwm, "Dimensions"), 0);
    assert_int_equal(json_array_size(dims), 3);
    assert_string_equal(json_string_value(json_array_get(dims, 0)), "Function");
  }
  assert_int_equal(json_array_size(json_object_get(cwm, "Metrics")), 2);
  l = find_line(all, "Mode", "sms");
  assert_int_equal(json_integer_value(json_object_get(l, "failed")), 1);
  json_decref(all);
  /* Flushed: nothing left to write. */
  rewind(f);
  assert_int_equal(ftruncate(fileno(f), 0), 0);
  iris_metrics_flush(m);
  all = lines_of(f, &n);
  assert_int_equal(n, 0);
  json_decref(all);
  iris_metrics_free(m);
  fclose(f);
  iris_clock_set_fake_ms(0);
}

static void limits_and_bad_input(void **state) {
  FILE *f = tmpfile();
  struct iris_metrics *m = NULL;
  struct iris_err err = {0};
  const char *bad[] = {"Function", "x", NULL};
  const char *odd[] = {"Mode", NULL};
  json_t *all;
  size_t n, i;
  (void)state;
  assert_int_equal(iris_metrics_new("", "sender", f, &m, &err), IRIS_EINVAL);
  assert_int_equal(iris_metrics_new("Iris", "sender", f, &m, &err), IRIS_OK);
  assert_int_equal(iris_metrics_put(m, "_aws", 1, IRIS_METRIC_COUNT, NULL), IRIS_EINVAL);
  assert_int_equal(iris_metrics_put(m, "x", 1, IRIS_METRIC_COUNT, bad), IRIS_EINVAL);
  assert_int_equal(iris_metrics_put(m, "x", 1, IRIS_METRIC_COUNT, odd), IRIS_EINVAL);
  assert_int_equal(iris_metrics_put(m, "x", 1, IRIS_METRIC_COUNT, NULL), IRIS_OK);
  assert_int_equal(iris_metrics_put(m, "x", 1, IRIS_METRIC_BYTES, NULL), IRIS_EINVAL);
  for (i = 0; i < 250; i++)
    assert_int_equal(iris_metrics_put(m, "t", (double)i, IRIS_METRIC_MILLISECONDS, NULL), IRIS_OK);
  iris_metrics_flush(m);
  all = lines_of(f, &n);
  assert_int_equal(n, 3); /* 100 + 100 + 50 values: never more than 100 per line */
  for (i = 0; i < n; i++)
    assert_true(json_array_size(json_object_get(json_array_get(all, i), "t")) <= 100);
  json_decref(all);
  iris_metrics_free(m);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(emf_lines),
                                     cmocka_unit_test(limits_and_bad_input)};
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
