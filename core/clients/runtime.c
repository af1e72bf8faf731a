/*
 * runtime.c — the Lambda Runtime API loop (see runtime.h).
 *
 * One CURL easy handle, reused so the connection to the Runtime API stays open. The `next`
 * call has no timeout (the sandbox is frozen between events and the call may block for
 * hours); posting answers uses a generous one. No signing, no custom removal headers.
 */
#include "runtime.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "clock.h"

#define IRIS_LOG_MODULE "runtime"
#include "log.h"
#include "url.h"

#define API_VERSION "2018-06-01"
#define POST_TIMEOUT_MS 30000L
/* Events are at most 6 MB (synchronous) — anything bigger is not a Lambda event. */
#define EVENT_MAX ((size_t)7 * 1024 * 1024)

struct invocation_headers {
  char *request_id;
  char *function_arn;
  char *trace_id;
  char *client_context;
  char *cognito_identity;
  int64_t deadline_ms;
  int oom;
};

static void headers_cleanup(struct invocation_headers *h) {
  iris_free(h->request_id);
  iris_free(h->function_arn);
  iris_free(h->trace_id);
  iris_free(h->client_context);
  iris_free(h->cognito_identity);
  memset(h, 0, sizeof *h);
}

int64_t iris_runtime_remaining_ms(const struct iris_runtime_invocation *inv) {
  return inv->deadline_ms - iris_clock_now_ms();
}

const char *iris_runtime_error_type(int rc) {
  switch (rc) {
#define IRIS__RC_TYPE(name, value, desc) \
  case value: return "Iris." #name;
    IRIS_RC_LIST(IRIS__RC_TYPE)
#undef IRIS__RC_TYPE
  default: return "Iris.Unknown";
  }
}

int iris_runtime_error_json(int rc, const char *message, struct iris_buf *out) {
  char *redacted = iris_log_redact(message ? message : "");
  json_t *doc = NULL;
  char *text = NULL;
  int result = IRIS_ENOMEM;
  if (redacted)
    doc = json_pack("{s:s, s:s, s:[]}", "errorMessage", redacted, "errorType",
                    iris_runtime_error_type(rc), "stackTrace");
  if (doc)
    text = json_dumps(doc, JSON_COMPACT);
  if (text)
    result = iris_buf_appends(out, text);
  iris_free(text);
  json_decref(doc);
  iris_free(redacted);
  return result;
}

/* Copy a header value (trimmed) into *dst, replacing an earlier one. */
static void take_value(char **dst, const char *v, size_t n, int *oom) {
  while (n && (v[0] == ' ' || v[0] == '\t')) {
    v++;
    n--;
  }
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  iris_free(*dst);
  *dst = iris_strndup(v, n);
  if (!*dst)
    *oom = 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *data) {
  struct invocation_headers *h = data;
  size_t len = size * n;
  static const struct {
    const char *name;
    size_t off;
  } map[] = {
      {"Lambda-Runtime-Aws-Request-Id:", offsetof(struct invocation_headers, request_id)},
      {"Lambda-Runtime-Invoked-Function-Arn:", offsetof(struct invocation_headers, function_arn)},
      {"Lambda-Runtime-Trace-Id:", offsetof(struct invocation_headers, trace_id)},
      {"Lambda-Runtime-Client-Context:", offsetof(struct invocation_headers, client_context)},
      {"Lambda-Runtime-Cognito-Identity:", offsetof(struct invocation_headers, cognito_identity)},
  };
  static const char deadline[] = "Lambda-Runtime-Deadline-Ms:";
  size_t i;
  for (i = 0; i < sizeof map / sizeof map[0]; i++) {
    size_t nl = strlen(map[i].name);
    if (len > nl && strncasecmp(p, map[i].name, nl) == 0) {
      take_value((char **)((char *)h + map[i].off), p + nl, len - nl, &h->oom);
      return len;
    }
  }
  if (len > sizeof deadline - 1 && strncasecmp(p, deadline, sizeof deadline - 1) == 0) {
    char tmp[32];
    size_t vl = len - (sizeof deadline - 1);
    if (vl >= sizeof tmp)
      vl = sizeof tmp - 1;
    memcpy(tmp, p + sizeof deadline - 1, vl);
    tmp[vl] = '\0';
    h->deadline_ms = strtoll(tmp, NULL, 10);
  }
  return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *data) {
  return iris_buf_append(data, p, size * n) == IRIS_OK ? size * n : 0;
}

/* The event of `next`: kept up to its buffer's cap; past it (or out of memory) the rest is read
 * and counted but not kept, so the request id is still learnt and the invocation can be
 * answered with an error instead of the process exiting. */
struct event_sink {
  struct iris_buf *buf;
  size_t total;
};

static size_t on_event(char *p, size_t size, size_t n, void *data) {
  struct event_sink *sink = data;
  sink->total += size * n;
  if (iris_buf_rc(sink->buf) == IRIS_OK && iris_buf_append(sink->buf, p, size * n)) {
    /* latched in the buffer; rt_next reports it */
  }
  return size * n;
}

/* "/runtime/invocation/<id>/<what>" with the id percent-encoded as one path segment: the id
 * comes from a header, and "../" in it must not reach another endpoint. */
static int invocation_path(struct iris_buf *path, const char *id, const char *what) {
  int rc = iris_buf_appends(path, "/runtime/invocation/");
  if (rc == IRIS_OK && (strcmp(id, ".") == 0 || strcmp(id, "..") == 0))
    rc = iris_buf_appends(path, id[1] ? "%2E%2E" : "%2E"); /* a dot segment, even encoded */
  else if (rc == IRIS_OK)
    rc = iris_url_append_quoted(path, id, strlen(id), NULL, 0);
  return rc ? rc : iris_buf_appendf(path, "/%s", what);
}

struct rt {
  CURL *curl;
  char *base; /* http://<host:port>/2018-06-01 */
};

static int rt_open(struct rt *rt, struct iris_err *err) {
  const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
  memset(rt, 0, sizeof *rt);
  if (!api || !*api)
    return iris_err_set(err, IRIS_ECONFIG,
                        "runtime: AWS_LAMBDA_RUNTIME_API is not set (not running in Lambda?)");
  rt->base = iris_asprintf("http://%s/" API_VERSION, api);
  rt->curl = curl_easy_init();
  if (!rt->base || !rt->curl) {
    iris_free(rt->base);
    if (rt->curl)
      curl_easy_cleanup(rt->curl);
    return iris_err_set(err, IRIS_ENOMEM, "runtime: allocating the client");
  }
  return IRIS_OK;
}

static void rt_close(struct rt *rt) {
  if (rt->curl)
    curl_easy_cleanup(rt->curl);
  iris_free(rt->base);
}

/* POST body to base+path; returns the HTTP status (0 on transport failure, detail in err). */
static long rt_post(struct rt *rt, const char *path, const char *error_type, const char *body,
                    size_t len, struct iris_err *err) {
  struct curl_slist *headers = NULL, *h;
  struct iris_buf url, resp;
  char type_hdr[96];
  long status = 0;
  CURLcode cc;

  iris_buf_init(&url, 0);
  iris_buf_init(&resp, 64 * 1024);
  if (iris_buf_appendf(&url, "%s%s", rt->base, path)) {
    iris_err_set(err, IRIS_ENOMEM, "runtime: building the URL");
    goto out;
  }
  h = curl_slist_append(NULL, "Content-Type: application/json");
  if (h && error_type) {
    headers = h;
    snprintf(type_hdr, sizeof type_hdr, "Lambda-Runtime-Function-Error-Type: %s", error_type);
    h = curl_slist_append(headers, type_hdr);
  }
  if (!h) {
    iris_err_set(err, IRIS_ENOMEM, "runtime: building headers");
    goto out;
  }
  headers = h;
  curl_easy_reset(rt->curl);
  curl_easy_setopt(rt->curl, CURLOPT_URL, iris_buf_ptr(&url));
  curl_easy_setopt(rt->curl, CURLOPT_POST, 1L);
  curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(rt->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(rt->curl, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
  curl_easy_setopt(rt->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(rt->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(rt->curl, CURLOPT_WRITEDATA, &resp);
  cc = curl_easy_perform(rt->curl);
  if (cc != CURLE_OK)
    iris_err_set(err, IRIS_ERUNTIME, "runtime: POST %s: %s", path, curl_easy_strerror(cc));
  else
    curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &status);
out:
  curl_slist_free_all(headers);
  iris_buf_cleanup(&url);
  iris_buf_cleanup(&resp);
  return status;
}

/* GET next; on success fills h and event. */
static int rt_next(struct rt *rt, struct invocation_headers *h, struct iris_buf *event,
                   struct iris_err *err) {
  struct iris_buf url;
  struct event_sink sink = {event, 0};
  long status = 0;
  CURLcode cc;
  int rc = IRIS_OK;

  iris_buf_init(&url, 0);
  if (iris_buf_appendf(&url, "%s/runtime/invocation/next", rt->base)) {
    rc = iris_err_set(err, IRIS_ENOMEM, "runtime: building the URL");
    goto out;
  }
  curl_easy_reset(rt->curl);
  curl_easy_setopt(rt->curl, CURLOPT_URL, iris_buf_ptr(&url));
  curl_easy_setopt(rt->curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(rt->curl, CURLOPT_TIMEOUT_MS, 0L); /* never time out on next */
  curl_easy_setopt(rt->curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(rt->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(rt->curl, CURLOPT_WRITEFUNCTION, on_event);
  curl_easy_setopt(rt->curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(rt->curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(rt->curl, CURLOPT_HEADERDATA, h);
  cc = curl_easy_perform(rt->curl);
  if (cc != CURLE_OK) {
    rc = iris_err_set(err, IRIS_ERUNTIME, "runtime: GET next: %s", curl_easy_strerror(cc));
    goto out;
  }
  curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    rc = iris_err_set(err, IRIS_ERUNTIME, "runtime: GET next answered HTTP %ld; exiting", status);
    goto out;
  }
  if (h->oom) {
    rc = iris_err_set(err, IRIS_ENOMEM, "runtime: copying invocation headers");
    goto out;
  }
  if (!h->request_id || !*h->request_id) {
    rc = iris_err_set(err, IRIS_ERUNTIME, "runtime: next event without a request id");
    goto out;
  }
  if (iris_buf_rc(event) == IRIS_ETOOBIG)
    rc = iris_err_set(err, IRIS_ETOOBIG, "runtime: event of %zu bytes exceeds the %zu-byte limit",
                      sink.total, EVENT_MAX);
  else if (iris_buf_rc(event))
    rc = iris_err_set(err, iris_buf_rc(event), "runtime: no memory for an event of %zu bytes",
                      sink.total);
out:
  iris_buf_cleanup(&url);
  return rc;
}

/* Report the handler's failure for request `id`. Returns IRIS_ERUNTIME if we must exit. */
static int post_error(struct rt *rt, const char *id, int rc, const char *message,
                      struct iris_err *err) {
  struct iris_buf doc, path;
  long status;
  int result = IRIS_OK;
  iris_buf_init(&doc, 0);
  iris_buf_init(&path, 0);
  if (iris_runtime_error_json(rc, message, &doc) || invocation_path(&path, id, "error")) {
    result = iris_err_set(err, IRIS_ENOMEM, "runtime: building the error document");
    goto out;
  }
  status = rt_post(rt, iris_buf_ptr(&path), iris_runtime_error_type(rc), iris_buf_ptr(&doc),
                   iris_buf_len(&doc), err);
  if (status == 0 || status >= 500)
    result = iris_err_set(err, IRIS_ERUNTIME, "runtime: posting the error of %s: HTTP %ld", id,
                          status);
  else if (status != 202)
    IRIS_LOG_ERR("runtime refused the error of %s: HTTP %ld", id, status);
out:
  iris_buf_cleanup(&doc);
  iris_buf_cleanup(&path);
  return result;
}

static void set_trace_env(const char *trace_id) {
  if (trace_id && *trace_id)
    setenv("_X_AMZN_TRACE_ID", trace_id, 1);
  else
    unsetenv("_X_AMZN_TRACE_ID");
}

int iris_runtime_run(iris_runtime_handler handler, void *data, long max_invocations,
                     struct iris_err *err) {
  struct rt rt;
  struct iris_buf event, response, path;
  long served = 0;
  int rc;

  iris_buf_init(&event, EVENT_MAX);
  iris_buf_init(&response, 0);
  iris_buf_init(&path, 0);
  rc = rt_open(&rt, err);
  if (rc)
    return rc;
  while (max_invocations <= 0 || served < max_invocations) {
    struct invocation_headers h = {0};
    struct iris_runtime_invocation inv;
    struct iris_err herr = {0};
    int hrc;
    long status;

    iris_buf_reset(&event);
    iris_buf_reset(&response);
    iris_buf_reset(&path);
    rc = rt_next(&rt, &h, &event, &herr);
    if ((rc == IRIS_ETOOBIG || rc == IRIS_ENOMEM) && h.request_id && *h.request_id) {
      /* An event we cannot hold is this invocation's failure, not the process's. */
      IRIS_LOG_ERR("invocation failed: %s: %s", iris_runtime_error_type(rc), herr.msg);
      rc = post_error(&rt, h.request_id, rc, herr.msg, err);
      headers_cleanup(&h);
      served++;
      if (rc)
        break;
      continue;
    }
    if (rc) {
      if (err)
        *err = herr;
      headers_cleanup(&h);
      break;
    }
    iris_err_clear(&herr);
    inv.request_id = h.request_id;
    inv.deadline_ms = h.deadline_ms;
    inv.function_arn = h.function_arn ? h.function_arn : "";
    inv.trace_id = h.trace_id ? h.trace_id : "";
    inv.client_context = h.client_context;
    inv.cognito_identity = h.cognito_identity;
    iris_log_set_request(inv.request_id, inv.trace_id);
    set_trace_env(inv.trace_id);

    hrc = handler(data, &inv, iris_buf_ptr(&event), iris_buf_len(&event), &response, &herr);
    if (hrc == IRIS_OK && iris_buf_rc(&response))
      hrc = iris_err_set(&herr, iris_buf_rc(&response), "handler response could not be built");
    if (hrc == IRIS_OK) {
      if (invocation_path(&path, inv.request_id, "response")) {
        rc = iris_err_set(err, IRIS_ENOMEM, "runtime: building the URL");
        headers_cleanup(&h);
        break;
      }
      status = rt_post(&rt, iris_buf_ptr(&path), NULL, iris_buf_ptr(&response),
                       iris_buf_len(&response), err);
      if (status == 413) {
        /* Too large for Lambda: the invocation must still end, as an error. */
        iris_err_set(&herr, IRIS_ETOOBIG, "response of %zu bytes exceeds the Lambda payload limit",
                     iris_buf_len(&response));
        rc = post_error(&rt, inv.request_id, IRIS_ETOOBIG, herr.msg, err);
      } else if (status == 0 || status >= 500) {
        rc = iris_err_set(err, IRIS_ERUNTIME, "runtime: posting the response of %s: HTTP %ld",
                          inv.request_id, status);
      } else if (status != 202) {
        IRIS_LOG_ERR("runtime refused the response of %s: HTTP %ld", inv.request_id, status);
      }
    } else {
      IRIS_LOG_ERR("invocation failed: %s: %s", iris_runtime_error_type(hrc), herr.msg);
      rc = post_error(&rt, inv.request_id, hrc, herr.msg, err);
    }
    iris_log_clear_context();
    headers_cleanup(&h);
    served++;
    if (rc)
      break;
  }
  rt_close(&rt);
  iris_buf_cleanup(&event);
  iris_buf_cleanup(&response);
  iris_buf_cleanup(&path);
  return rc;
}

int iris_runtime_init_error(int rc, const char *message, struct iris_err *err) {
  struct rt rt;
  struct iris_buf doc;
  long status;
  int result;

  IRIS_LOG_ERR("start-up failed: %s: %s", iris_runtime_error_type(rc), message ? message : "");
  result = rt_open(&rt, err);
  if (result)
    return result;
  iris_buf_init(&doc, 0);
  if (iris_runtime_error_json(rc, message, &doc)) {
    result = iris_err_set(err, IRIS_ENOMEM, "runtime: building the init error");
  } else {
    status = rt_post(&rt, "/runtime/init/error", iris_runtime_error_type(rc), iris_buf_ptr(&doc),
                     iris_buf_len(&doc), err);
    if (status != 202)
      result = iris_err_set(err, IRIS_ERUNTIME, "runtime: init/error answered HTTP %ld", status);
  }
  iris_buf_cleanup(&doc);
  rt_close(&rt);
  return result;
}
