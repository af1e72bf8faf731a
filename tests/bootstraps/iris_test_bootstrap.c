/*
 * iris-test-bootstrap — a Lambda bootstrap whose handler does what each event says:
 *   {"op":"echo", ...}                 answers the event itself
 *   {"op":"fail","message":"..."}      fails with IRIS_EINVAL and that message
 *   {"op":"context"}                   answers request id, trace id, ARN, remaining ms
 *   {"op":"big","bytes":N}             answers {"pad":"xxx..."} of about N bytes
 *   {"op":"log","text":"..."}          writes a log line, answers {}
 *   {"op":"until_deadline","margin_ms":M}  works until M ms remain, answers what was left
 * IRIS_TEST_INIT_FAIL=<message> makes start-up fail through /init/error.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "test-bootstrap"
#include "log.h"

static int append_json(struct iris_buf *out, json_t *doc) {
  char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  int rc = s ? iris_buf_appends(out, s) : IRIS_ENOMEM;
  iris_free(s);
  json_decref(doc);
  return rc;
}

static int handle(void *data, const struct iris_runtime_invocation *inv, const char *event,
                  size_t len, struct iris_buf *out, struct iris_err *err) {
  json_error_t jerr;
  json_t *ev = json_loadb(event, len, 0, &jerr);
  const char *op = json_string_value(json_object_get(ev, "op"));
  int rc = IRIS_OK;
  (void)data;
  if (!ev || !op) {
    rc = iris_err_set(err, IRIS_EPARSE, "event: expected a JSON object with \"op\" (%s)",
                      ev ? "no op" : jerr.text);
  } else if (strcmp(op, "echo") == 0) {
    rc = iris_buf_append(out, event, len);
  } else if (strcmp(op, "fail") == 0) {
    rc = iris_err_set(err, IRIS_EINVAL, "%s", json_string_value(json_object_get(ev, "message")));
  } else if (strcmp(op, "context") == 0) {
    rc = append_json(out, json_pack("{s:s, s:s, s:s, s:I, s:s?}", "request_id", inv->request_id,
                                    "trace_id", inv->trace_id, "arn", inv->function_arn,
                                    "remaining_ms", (json_int_t)iris_runtime_remaining_ms(inv),
                                    "env_trace", getenv("_X_AMZN_TRACE_ID")));
  } else if (strcmp(op, "big") == 0) {
    json_int_t n = json_integer_value(json_object_get(ev, "bytes"));
    rc = iris_buf_appends(out, "{\"pad\":\"");
    while (rc == IRIS_OK && (json_int_t)iris_buf_len(out) < n)
      rc = iris_buf_appendc(out, 'x');
    if (rc == IRIS_OK)
      rc = iris_buf_appends(out, "\"}");
  } else if (strcmp(op, "log") == 0) {
    IRIS_LOG_INFO("%s", json_string_value(json_object_get(ev, "text")));
    rc = iris_buf_appends(out, "{}");
  } else if (strcmp(op, "until_deadline") == 0) {
    json_int_t margin = json_integer_value(json_object_get(ev, "margin_ms"));
    while (iris_runtime_remaining_ms(inv) > margin)
      iris_clock_sleep_ms(10);
    rc = append_json(out, json_pack("{s:I}", "stopped_with_ms",
                                    (json_int_t)iris_runtime_remaining_ms(inv)));
  } else {
    rc = iris_err_set(err, IRIS_EUNSUPPORTED, "unknown op '%s'", op);
  }
  json_decref(ev);
  return rc;
}

int main(void) {
  struct iris_err err = {0};
  const char *fail = getenv("IRIS_TEST_INIT_FAIL");
  int rc;
  if (fail) {
    rc = iris_runtime_init_error(IRIS_ECONFIG, fail, &err);
    return rc == IRIS_OK ? 2 : 3;
  }
  rc = iris_runtime_run(handle, NULL, 0, &err);
  if (rc)
    IRIS_LOG_INFO("runtime loop ended: %s", err.msg);
  return rc == IRIS_ERUNTIME ? 0 : 1;
}
