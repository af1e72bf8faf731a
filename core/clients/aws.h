/*
 * aws.h — signed AWS JSON-protocol calls over libcurl (SQS, Secrets Manager, ...).
 *
 * Layer: core, above err/alloc/buf/log; below sqs.c and secrets.c, which are its only
 * intended callers. Requests are POST / with `X-Amz-Target` and
 * `application/x-amz-json-<version>`, signed by libcurl's CURLOPT_AWS_SIGV4 (no
 * hand-written SigV4). Throttling and 5xx answers are retried with capped, jittered
 * exponential backoff; every other failure is returned with the AWS error code and message.
 *
 * Threading: one struct iris_aws per thread (it owns one CURL easy handle).
 */
#ifndef IRIS_AWS_H
#define IRIS_AWS_H

#include "buf.h"
#include "err.h"

/* Credentials; every string is owned by the struct (iris_aws_creds_cleanup frees them). */
struct iris_aws_creds {
  char *access_key_id;
  char *secret_access_key;
  char *session_token; /* NULL when not using temporary credentials */
};

/*
 * Fill *out from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the
 * execution role's credentials inside Lambda). IRIS_ECONFIG names the missing variable.
 */
int iris_aws_creds_from_env(struct iris_aws_creds *out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_aws_creds_cleanup(struct iris_aws_creds *creds);

struct iris_aws_opts {
  const char *region;                 /* required, e.g. "us-east-1" */
  const char *endpoint;               /* NULL: https://<service>.<region>.amazonaws.com;
                           else a base URL such as "http://127.0.0.1:5000" */
  const struct iris_aws_creds *creds; /* required; copied by iris_aws_new */
  long connect_timeout_ms;            /* 0: 2000 */
  long timeout_ms;                    /* 0: 10000 (whole request, per attempt) */
  int max_attempts;                   /* 0: 4 (first try + 3 retries) */
  const char *ca_file;                /* NULL: libcurl's default bundle */
};

struct iris_aws; /* opaque client for one service */

/*
 * Create a client for `service` ("sqs", "secretsmanager": the SigV4 signing name).
 * *out is owned by the caller, released with iris_aws_free. Options are copied.
 * Returns IRIS_OK, IRIS_EINVAL (missing region/creds), IRIS_ENOMEM.
 */
int iris_aws_new(const char *service, const struct iris_aws_opts *opts, struct iris_aws **out,
                 struct iris_err *err) IRIS_WARN_UNUSED;
void iris_aws_free(struct iris_aws *aws);

/*
 * POST `body` (JSON text) with X-Amz-Target: `target` (e.g. "AmazonSQS.SendMessage") and
 * Content-Type application/x-amz-json-`json_version` ("1.0" for SQS, "1.1" for Secrets
 * Manager). On HTTP 200 the response body is appended to `response` (caller-owned).
 * Returns IRIS_OK; IRIS_EAWS for an AWS error answer (err->msg "<code>: <message>",
 * code also via iris_aws_last_error_code); IRIS_ETHROTTLED when throttling outlasted the
 * retries; IRIS_ETIMEOUT / IRIS_ECONN for transport failures; IRIS_EHTTP for a non-AWS
 * HTTP failure; IRIS_ENOMEM / IRIS_ETOOBIG.
 */
int iris_aws_call(struct iris_aws *aws, const char *target, const char *json_version,
                  const char *body, struct iris_buf *response,
                  struct iris_err *err) IRIS_WARN_UNUSED;

/* As iris_aws_call, with a per-attempt timeout for this call only (long polls need one longer
 * than their wait); 0 means the client's timeout. */
int iris_aws_call_timeout(struct iris_aws *aws, const char *target, const char *json_version,
                          const char *body, long timeout_ms, struct iris_buf *response,
                          struct iris_err *err) IRIS_WARN_UNUSED;

/* Short AWS error code of the last failed call ("QueueDoesNotExist"), or "" if none.
 * Borrowed; valid until the next call on aws. */
const char *iris_aws_last_error_code(const struct iris_aws *aws);

#endif /* IRIS_AWS_H */
