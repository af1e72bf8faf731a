/*
 * runtime.h — the AWS Lambda Runtime API loop for custom runtimes (provided.al2023).
 *
 * Layer: core; called only by the thin main()s in lambda/. The loop is the one of
 * aws-lambda-cpp: GET /runtime/invocation/next (no timeout: the sandbox may be frozen
 * between events), run the handler, POST .../response or .../error, repeat. A 500 from the
 * Runtime API, or any answer to `next` other than 200, ends the loop with IRIS_ERUNTIME:
 * the process exits and Lambda starts a fresh one.
 *
 *   static int handle(void *data, const struct iris_runtime_invocation *inv,
 *                     const char *event, size_t len, struct iris_buf *out, struct iris_err *err);
 *   int main(void) { ... init ...; if (failed) return iris_runtime_init_error(rc, msg);
 *                    return iris_runtime_run(handle, &state) == IRIS_OK ? 0 : 1; }
 *
 * Before each handler call the logger gets the request id and trace id, and the trace id
 * is exported as _X_AMZN_TRACE_ID (Lambda does not set it for custom runtimes).
 * An event larger than the loop's buffer (7 MiB) is answered with an Iris.ETOOBIG invocation
 * error and the loop goes on; the request id is percent-encoded as one URL path segment in
 * every response/error URL, so no id can reach another Runtime API endpoint.
 */
#ifndef IRIS_RUNTIME_H
#define IRIS_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* What the Runtime API told us about one invocation. Strings borrowed for the call. */
struct iris_runtime_invocation {
  const char *request_id;       /* Lambda-Runtime-Aws-Request-Id */
  int64_t deadline_ms;          /* Lambda-Runtime-Deadline-Ms: epoch ms when it times out */
  const char *function_arn;     /* Lambda-Runtime-Invoked-Function-Arn, "" if absent */
  const char *trace_id;         /* Lambda-Runtime-Trace-Id, "" if absent */
  const char *client_context;   /* Lambda-Runtime-Client-Context, NULL if absent */
  const char *cognito_identity; /* Lambda-Runtime-Cognito-Identity, NULL if absent */
};

/* Milliseconds left before the deadline (negative once passed), by core/base/clock.h time. */
int64_t iris_runtime_remaining_ms(const struct iris_runtime_invocation *inv);

/*
 * The handler: read the event (len bytes, NUL-terminated), append the JSON answer to
 * `response` and return IRIS_OK; or return an iris_rc with err filled, and the runtime
 * reports an error invocation with errorType "Iris.<CODE>" (Iris.EPARSE, ...) and
 * errorMessage err->msg (redacted).
 */
typedef int (*iris_runtime_handler)(void *data, const struct iris_runtime_invocation *inv,
                                    const char *event, size_t len, struct iris_buf *response,
                                    struct iris_err *err);

/*
 * Serve invocations until the Runtime API says stop. Reads AWS_LAMBDA_RUNTIME_API.
 * Returns IRIS_ECONFIG if it is unset, IRIS_ERUNTIME when the Runtime API failed or asked
 * the process to exit (err says which call and status), IRIS_ENOMEM.
 * `max_invocations` > 0 stops after that many (tools and tests); 0 means forever.
 */
int iris_runtime_run(iris_runtime_handler handler, void *data, long max_invocations,
                     struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Report a failed start-up (POST /runtime/init/error) with errorType "Iris.<CODE>" for rc
 * and the (redacted) message; the caller exits non-zero afterwards. Returns IRIS_OK if the
 * Runtime API accepted it, IRIS_ERUNTIME / IRIS_ECONFIG otherwise.
 */
int iris_runtime_init_error(int rc, const char *message, struct iris_err *err) IRIS_WARN_UNUSED;

/* errorType for rc: "Iris.EPARSE" for IRIS_EPARSE. Static storage. */
const char *iris_runtime_error_type(int rc);

/* Append the Runtime API error document {"errorMessage","errorType","stackTrace":[]}. */
int iris_runtime_error_json(int rc, const char *message, struct iris_buf *out) IRIS_WARN_UNUSED;

#endif /* IRIS_RUNTIME_H */
