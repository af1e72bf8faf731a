/*
 * fuzz_runtime.c — the Lambda Runtime API loop (core/clients/runtime.c) over fake_curl.c:
 * GET next answers with fuzzed headers (request id, deadline, trace id, ARN, client context,
 * cognito identity: the lines before the first empty line) and a fuzzed event (the rest);
 * the handler checks what it is given and answers or fails; the POST that follows is
 * accepted (202) and its URL must stay under /runtime/invocation/<one segment>/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_common.h"
#include "log.h"
#include "runtime.h"

static struct fuzz_answer next_answer, posted;
static int calls;

static const struct fuzz_answer *next(void) { return calls++ == 0 ? &next_answer : &posted; }

static int handler(void *data, const struct iris_runtime_invocation *inv, const char *event,
                   size_t len, struct iris_buf *response, struct iris_err *err) {
  (void)data;
  if (!inv->request_id || !*inv->request_id || !inv->function_arn || !inv->trace_id ||
      event[len] != '\0')
    __builtin_trap();
  if (len && event[0] == '!')
    return iris_err_set(err, IRIS_EINVAL, "handler refused %.*s", (int)(len > 40 ? 40 : len),
                        event);
  return iris_buf_appends(response, "{}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  struct iris_err err = {0};
  const char *p = (const char *)data, *end = p + size;
  if (!init) {
    setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9", 1);
    iris_log_set_level(IRIS_LOG_LEVEL_OFF);
    fuzz_http_set(next);
    init = 1;
  }
  memset(&next_answer, 0, sizeof next_answer);
  next_answer.status = size ? (data[0] % 8 ? 200 : fuzz_status(data[0] >> 3)) : 200;
  if (size)
    p++;
  while (p < end &&
         next_answer.nheaders < sizeof next_answer.headers / sizeof next_answer.headers[0]) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    if (n <= 2 && (*p == '\n' || *p == '\r')) {
      p += n;
      break;
    }
    next_answer.headers[next_answer.nheaders].p = p;
    next_answer.headers[next_answer.nheaders++].n = n;
    p += n;
  }
  next_answer.body = p;
  next_answer.body_len = (size_t)(end - p);
  posted.status = 202;
  calls = 0;
  if (iris_runtime_run(handler, NULL, 1, &err))
    fuzz_check_err(&err);
  unsetenv("_X_AMZN_TRACE_ID");
  return 0;
}
