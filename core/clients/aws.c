/*
 * aws.c — signed AWS JSON-protocol calls over libcurl (see aws.h).
 *
 * Signing is libcurl's CURLOPT_AWS_SIGV4 with all four parts given ("aws:amz:<region>:
 * <service>") because curl cannot derive region and service from a local endpoint's host.
 * Known curl 7.88 pitfalls avoided here: the body goes in CURLOPT_POSTFIELDS (the payload
 * hash covers only that), no valueless "removal" headers (they were signed but not sent),
 * no X-Amz-Date of our own, no repeated headers. The session token travels in the
 * x-amz-security-token header, which curl then signs like AWS expects.
 */
#include "aws.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "aws_int.h"
#include "clock.h"
#include "http.h"

#define IRIS_LOG_MODULE "aws"
#include "log.h"
#include "utf8.h"

#define BACKOFF_BASE_MS 50
#define BACKOFF_CAP_MS 2000
/* An AWS answer larger than this is not something we asked for. */
#define RESPONSE_MAX ((size_t)16 * 1024 * 1024)

struct iris_aws {
  char *service;
  char *target_url;       /* endpoint + "/" */
  char *sigv4;            /* "aws:amz:<region>:<service>" */
  char *userpwd;          /* "<key id>:<secret>" — secret; never logged */
  char *token_header;     /* "x-amz-security-token: <token>" or NULL — secret; never logged */
  struct iris_http *http; /* timeouts, CA file, proxy and connection reuse live there */
  int max_attempts;
  unsigned int seed;
  char query_error[256]; /* x-amzn-query-error header of the current answer */
  char last_code[128];
};

static void real_sleep_ms(long ms) { iris_clock_sleep_ms(ms); }
void (*iris__aws_sleep_ms)(long ms) = real_sleep_ms;

static void copy_trunc(char *dst, size_t size, const char *src, size_t n) {
  if (size == 0)
    return;
  if (n >= size)
    n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static char *dup_env(const char *name) {
  const char *v = getenv(name);
  return (v && *v) ? iris_strdup(v) : NULL;
}

int iris_aws_creds_from_env(struct iris_aws_creds *out, struct iris_err *err) {
  int rc = IRIS_OK;
  memset(out, 0, sizeof *out);
  if (!getenv("AWS_ACCESS_KEY_ID") || !*getenv("AWS_ACCESS_KEY_ID"))
    return iris_err_set(err, IRIS_ECONFIG, "aws: AWS_ACCESS_KEY_ID is not set");
  if (!getenv("AWS_SECRET_ACCESS_KEY") || !*getenv("AWS_SECRET_ACCESS_KEY"))
    return iris_err_set(err, IRIS_ECONFIG, "aws: AWS_SECRET_ACCESS_KEY is not set");
  out->access_key_id = dup_env("AWS_ACCESS_KEY_ID");
  out->secret_access_key = dup_env("AWS_SECRET_ACCESS_KEY");
  out->session_token = dup_env("AWS_SESSION_TOKEN");
  if (!out->access_key_id || !out->secret_access_key ||
      (getenv("AWS_SESSION_TOKEN") && *getenv("AWS_SESSION_TOKEN") && !out->session_token)) {
    iris_aws_creds_cleanup(out);
    return iris_err_set(err, IRIS_ENOMEM, "aws: copying credentials");
  }
  /* The secret parts must never reach a log line, whoever prints what. */
  if (strlen(out->secret_access_key) >= 4)
    rc = iris_log_add_secret(out->secret_access_key);
  if (rc == IRIS_OK && out->session_token && strlen(out->session_token) >= 4)
    rc = iris_log_add_secret(out->session_token);
  if (rc) {
    iris_aws_creds_cleanup(out);
    return iris_err_set(err, rc, "aws: registering credentials for redaction");
  }
  return IRIS_OK;
}

void iris_aws_creds_cleanup(struct iris_aws_creds *creds) {
  if (!creds)
    return;
  IRIS_FREE_NULL(&creds->access_key_id);
  IRIS_FREE_NULL(&creds->secret_access_key);
  IRIS_FREE_NULL(&creds->session_token);
}

void iris_aws_free(struct iris_aws *aws) {
  if (!aws)
    return;
  iris_http_free(aws->http);
  iris_free(aws->service);
  iris_free(aws->target_url);
  iris_free(aws->sigv4);
  iris_free(aws->userpwd);
  iris_free(aws->token_header);
  iris_free(aws);
}

int iris_aws_new(const char *service, const struct iris_aws_opts *opts, struct iris_aws **out,
                 struct iris_err *err) {
  struct iris_aws *aws = NULL;
  int rc = IRIS_OK;

  *out = NULL;
  if (!service || !*service || !opts || !opts->region || !*opts->region) {
    rc = iris_err_set(err, IRIS_EINVAL, "aws: service and region are required");
    goto out;
  }
  if (!opts->creds || !opts->creds->access_key_id || !opts->creds->secret_access_key) {
    rc = iris_err_set(err, IRIS_EINVAL, "aws %s: credentials are required", service);
    goto out;
  }
  if (opts->endpoint && strncmp(opts->endpoint, "http://", 7) != 0 &&
      strncmp(opts->endpoint, "https://", 8) != 0) {
    rc = iris_err_set(err, IRIS_EINVAL, "aws %s: endpoint '%s' is not an http(s) URL", service,
                      opts->endpoint);
    goto out;
  }
  aws = iris_calloc(1, sizeof *aws);
  if (!aws) {
    rc = iris_err_set(err, IRIS_ENOMEM, "aws: allocating the client");
    goto out;
  }
  aws->service = iris_strdup(service);
  if (opts->endpoint) {
    size_t n = strlen(opts->endpoint);
    aws->target_url = iris_asprintf("%.*s/", (int)(n && opts->endpoint[n - 1] == '/' ? n - 1 : n),
                                    opts->endpoint);
  } else {
    aws->target_url = iris_asprintf("https://%s.%s.amazonaws.com/", service, opts->region);
  }
  aws->sigv4 = iris_asprintf("aws:amz:%s:%s", opts->region, service);
  aws->userpwd = iris_asprintf("%s:%s", opts->creds->access_key_id, opts->creds->secret_access_key);
  if (opts->creds->session_token)
    aws->token_header = iris_asprintf("x-amz-security-token: %s", opts->creds->session_token);
  if (!aws->service || !aws->target_url || !aws->sigv4 || !aws->userpwd ||
      (opts->creds->session_token && !aws->token_header)) {
    rc = iris_err_set(err, IRIS_ENOMEM, "aws %s: allocating the client", service);
    goto out;
  }
  {
    struct iris_http_opts hopts = {0};
    hopts.connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
    hopts.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    hopts.ca_file = opts->ca_file;
    rc = iris_http_new(&hopts, &aws->http, err);
    if (rc) {
      iris_err_prefix(err, "aws %s", service);
      goto out;
    }
  }
  aws->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 4;
  aws->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
  *out = aws;
  aws = NULL;
out:
  iris_aws_free(aws);
  return rc;
}

const char *iris_aws_last_error_code(const struct iris_aws *aws) {
  return aws ? aws->last_code : "";
}

/* Keeps the x-amzn-query-error header of the answer (the query protocol's error code). */
static int on_header(void *data, const char *name, size_t name_len, const char *value,
                     size_t value_len) {
  struct iris_aws *aws = data;
  static const char wanted[] = "x-amzn-query-error";
  if (!name)
    aws->query_error[0] = '\0';
  else if (name_len == sizeof wanted - 1 && strncasecmp(name, wanted, name_len) == 0)
    copy_trunc(aws->query_error, sizeof aws->query_error, value, value_len);
  return 0;
}

int iris__aws_parse_error(const char *body, size_t len, const char *query_error, char *code,
                          size_t code_size, char *msg, size_t msg_size) {
  json_t *root = NULL;
  const char *type = NULL, *text = NULL;
  int found = 0;

  copy_trunc(code, code_size, "", 0);
  copy_trunc(msg, msg_size, "", 0);
  if (body && len)
    root = json_loadb(body, len, 0, NULL);
  if (json_is_object(root)) {
    json_t *t = json_object_get(root, "__type");
    json_t *m = json_object_get(root, "message");
    if (!json_is_string(m))
      m = json_object_get(root, "Message");
    if (json_is_string(t))
      type = json_string_value(t);
    if (json_is_string(m))
      text = json_string_value(m);
  }
  if (type) {
    /* "com.amazonaws.sqs#QueueDoesNotExist" → "QueueDoesNotExist" */
    const char *hash = strrchr(type, '#');
    const char *c = hash ? hash + 1 : type;
    const char *colon = strchr(c, ':');
    copy_trunc(code, code_size, c, colon ? (size_t)(colon - c) : strlen(c));
    found = 1;
  } else if (query_error && *query_error) {
    /* "AWS.SimpleQueueService.NonExistentQueue;Sender" → "AWS.SimpleQueueService.NonExistentQueue" */
    const char *semi = strchr(query_error, ';');
    copy_trunc(code, code_size, query_error,
               semi ? (size_t)(semi - query_error) : strlen(query_error));
    found = 1;
  }
  if (text) {
    copy_trunc(msg, msg_size, text, strlen(text));
    found = 1;
  }
  json_decref(root);
  return found;
}

enum iris__aws_verdict iris__aws_classify(long status, const char *code) {
  static const char *const throttle_codes[] = {"ThrottlingException",
                                               "Throttling",
                                               "ThrottledException",
                                               "RequestThrottled",
                                               "RequestThrottledException",
                                               "TooManyRequestsException",
                                               "RequestLimitExceeded",
                                               "SlowDown",
                                               "ProvisionedThroughputExceededException",
                                               "RequestThrottledException",
                                               "LimitExceededException",
                                               NULL};
  static const char *const transient_codes[] = {"InternalError",      "InternalFailure",
                                                "ServiceUnavailable", "InternalServerError",
                                                "RequestTimeout",     "RequestTimeoutException",
                                                "KmsThrottled",       NULL};
  size_t i;
  if (status == 429)
    return IRIS__AWS_THROTTLE;
  for (i = 0; code && throttle_codes[i]; i++)
    if (strcmp(code, throttle_codes[i]) == 0)
      return IRIS__AWS_THROTTLE;
  for (i = 0; code && transient_codes[i]; i++)
    if (strcmp(code, transient_codes[i]) == 0)
      return IRIS__AWS_RETRY;
  if (status >= 500 || status == 0)
    return IRIS__AWS_RETRY;
  return IRIS__AWS_FAIL;
}

long iris__aws_backoff_ms(int attempt, unsigned int *seed) {
  long ceiling = BACKOFF_BASE_MS;
  int i;
  for (i = 0; i < attempt && ceiling < BACKOFF_CAP_MS; i++)
    ceiling *= 2;
  if (ceiling > BACKOFF_CAP_MS)
    ceiling = BACKOFF_CAP_MS;
  return (long)(rand_r(seed) % (unsigned long)(ceiling + 1));
}

static int is_auth_code(const char *code) {
  static const char *const auth[] =
      {"InvalidClientTokenId", "SignatureDoesNotMatch",      "ExpiredToken",
       "AccessDenied",         "AccessDeniedException",      "UnrecognizedClientException",
       "IncompleteSignature",  "MissingAuthenticationToken", NULL};
  size_t i;
  for (i = 0; auth[i]; i++)
    if (strcmp(code, auth[i]) == 0)
      return 1;
  return 0;
}

/* One HTTP exchange: IRIS_OK with *status for any answer, else iris_http's code. */
static int perform(struct iris_aws *aws, const char *target, const char *json_version,
                   const char *body, long timeout_ms, struct iris_buf *resp, long *status,
                   struct iris_err *err) {
  char target_hdr[160], type_hdr[64];
  const char *headers[3];
  struct iris_http_request req = {0};

  snprintf(target_hdr, sizeof target_hdr, "X-Amz-Target: %s", target);
  snprintf(type_hdr, sizeof type_hdr, "Content-Type: application/x-amz-json-%s", json_version);
  headers[0] = type_hdr;
  headers[1] = target_hdr;
  headers[2] = aws->token_header; /* NULL without a session token: skipped */
  req.method = "POST";
  req.url = aws->target_url;
  req.headers = headers;
  req.nheaders = 3;
  req.body = body;
  req.body_len = strlen(body);
  req.aws_sigv4 = aws->sigv4;
  req.aws_userpwd = aws->userpwd;
  req.timeout_ms = timeout_ms;
  req.on_header = on_header;
  req.header_data = aws;
  aws->query_error[0] = '\0';
  return iris_http_perform(aws->http, &req, status, resp, err);
}

int iris_aws_call(struct iris_aws *aws, const char *target, const char *json_version,
                  const char *body, struct iris_buf *response, struct iris_err *err) {
  return iris_aws_call_timeout(aws, target, json_version, body, 0, response, err);
}

int iris_aws_call_timeout(struct iris_aws *aws, const char *target, const char *json_version,
                          const char *body, long timeout_ms, struct iris_buf *response,
                          struct iris_err *err) {
  struct iris_buf resp;
  char code[128], msg[384];
  int attempt, rc = IRIS_OK;

  iris_buf_init(&resp, RESPONSE_MAX);
  aws->last_code[0] = '\0';
  if (!target || !*target || strlen(target) > 100 || !json_version || strlen(json_version) > 8 ||
      !body) {
    rc = iris_err_set(err, IRIS_EINVAL, "aws %s: bad call arguments", aws->service);
    goto out;
  }
  for (attempt = 1;; attempt++) {
    enum iris__aws_verdict verdict;
    struct iris_err hx = {0};
    long status = 0;
    int hc;

    iris_buf_reset(&resp);
    hc = perform(aws, target, json_version, body, timeout_ms, &resp, &status, &hx);
    if (hc == IRIS_OK && status == 200) {
      rc = iris_buf_append(response, iris_buf_ptr(&resp), iris_buf_len(&resp));
      if (rc)
        iris_err_set(err, rc, "aws %s: response of %zu bytes does not fit", target,
                     iris_buf_len(&resp));
      goto out;
    }
    if (hc == IRIS_ENOMEM || hc == IRIS_ETOOBIG || hc == IRIS_EINVAL) {
      rc = iris_err_set(err, hc, "aws %s: %s", target, hx.msg);
      goto out;
    }
    if (hc != IRIS_OK) {
      /* Every transport failure is worth another attempt; callers know it as ECONN. */
      verdict = IRIS__AWS_RETRY;
      rc = iris_err_set(err, hc == IRIS_ETIMEOUT ? IRIS_ETIMEOUT : IRIS_ECONN,
                        "aws %s: %s (attempt %d of %d)", target, hx.msg, attempt,
                        aws->max_attempts);
    } else if (iris__aws_parse_error(iris_buf_ptr(&resp), iris_buf_len(&resp), aws->query_error,
                                     code, sizeof code, msg, sizeof msg)) {
      copy_trunc(aws->last_code, sizeof aws->last_code, code, strlen(code));
      verdict = iris__aws_classify(status, code);
      rc = iris_err_set(err,
                        verdict == IRIS__AWS_THROTTLE ? IRIS_ETHROTTLED
                        : is_auth_code(code)          ? IRIS_EAUTH
                                                      : IRIS_EAWS,
                        "%s: %s (HTTP %ld, %s, attempt %d of %d)", code[0] ? code : "error", msg,
                        status, target, attempt, aws->max_attempts);
    } else {
      verdict = iris__aws_classify(status, "");
      rc = iris_err_set(err, verdict == IRIS__AWS_THROTTLE ? IRIS_ETHROTTLED : IRIS_EHTTP,
                        "aws %s: HTTP %ld without an AWS error body: %.*s (attempt %d of %d)",
                        target, status, iris_utf8_prec(iris_buf_ptr(&resp), 120),
                        iris_buf_ptr(&resp), attempt, aws->max_attempts);
    }
    if (verdict == IRIS__AWS_FAIL || attempt >= aws->max_attempts)
      goto out;
    {
      long delay = iris__aws_backoff_ms(attempt, &aws->seed);
      IRIS_LOG_WARN("%s failed, retrying in %ld ms: %s", target, delay, err ? err->msg : "");
      iris__aws_sleep_ms(delay);
    }
  }
out:
  iris_buf_cleanup(&resp);
  return rc;
}
