/* http.c — the one libcurl set-up of the core: timeouts, trust, proxy, reuse, errors (http.h). */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define IRIS_LOG_MODULE "http"
#include "log.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS 10000L

struct iris_http {
  CURL *curl; /* kept between requests: its connection cache keeps connections open */
  long connect_timeout_ms, timeout_ms;
  char *ca_file, *proxy, *user_agent; /* owned; NULL when not set */
};

void iris_http_free(struct iris_http *http) {
  if (!http)
    return;
  if (http->curl)
    curl_easy_cleanup(http->curl);
  iris_free(http->ca_file);
  iris_free(http->proxy);
  iris_free(http->user_agent);
  iris_free(http);
}

/* NULL stays NULL; otherwise a copy, and *failed latches when the copy could not be made. */
static char *dup_opt(const char *s, int *failed) {
  char *copy;
  if (!s)
    return NULL;
  copy = iris_strdup(s);
  if (!copy)
    *failed = 1;
  return copy;
}

int iris_http_new(const struct iris_http_opts *opts, struct iris_http **out, struct iris_err *err) {
  static const struct iris_http_opts none = {0};
  struct iris_http *http;
  const char *ca;
  int failed = 0;

  *out = NULL;
  if (!opts)
    opts = &none;
  http = iris_calloc(1, sizeof *http);
  if (!http)
    return iris_err_set(err, IRIS_ENOMEM, "http: allocating the client");
  ca = opts->ca_file ? opts->ca_file : getenv("IRIS_CA_FILE");
  http->ca_file = dup_opt(ca && *ca ? ca : NULL, &failed);
  http->proxy = dup_opt(opts->proxy, &failed);
  http->user_agent = dup_opt(opts->user_agent, &failed);
  http->curl = curl_easy_init();
  if (failed || !http->curl) {
    iris_http_free(http);
    return iris_err_set(err, IRIS_ENOMEM, "http: allocating the client");
  }
  http->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                          : DEFAULT_CONNECT_TIMEOUT_MS;
  http->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  *out = http;
  return IRIS_OK;
}

char *iris_http_url_for_log(const char *url, int hide_path) {
  const char *p = url ? url : "", *host, *end, *at;
  struct iris_buf b;
  char *shown, *safe;
  size_t n;

  iris_buf_init(&b, 0);
  host = strstr(p, "://");
  host = host ? host + 3 : p;
  n = strcspn(host, "/?#");
  /* user info (user:password@) is a credential: drop it */
  at = memchr(host, '@', n);
  if (iris_buf_append(&b, p, (size_t)(host - p)) != IRIS_OK) {
    iris_buf_cleanup(&b);
    return NULL;
  }
  if (at) {
    n -= (size_t)(at + 1 - host);
    host = at + 1;
  }
  end = host + n;
  if (!hide_path)
    end += strcspn(end, "?#");
  else if (*end == '/' && end[1] && end[1] != '?' && end[1] != '#') {
    if (iris_buf_append(&b, host, n) != IRIS_OK || iris_buf_appends(&b, "/...") != IRIS_OK) {
      iris_buf_cleanup(&b);
      return NULL;
    }
    host = end = NULL;
  } else if (*end == '/') {
    end++; /* the path is just "/": nothing to hide */
  }
  if (host && iris_buf_append(&b, host, (size_t)(end - host)) != IRIS_OK) {
    iris_buf_cleanup(&b);
    return NULL;
  }
  shown = iris_buf_take(&b, &n);
  iris_buf_cleanup(&b);
  if (!shown)
    return NULL;
  safe = iris_log_redact(shown);
  iris_free(shown);
  return safe;
}

struct exchange {
  struct iris_buf *body;
  iris_http_header_fn on_header;
  void *header_data;
  int header_failed;
};

static size_t on_body(char *p, size_t size, size_t n, void *data) {
  struct exchange *x = data;
  /* Returning less than given makes curl fail the transfer with CURLE_WRITE_ERROR. */
  return iris_buf_append(x->body, p, size * n) == IRIS_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *data) {
  struct exchange *x = data;
  size_t len = size * n, vl;
  const char *colon, *v;

  if (!x->on_header)
    return len;
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    if (x->on_header(x->header_data, NULL, 0, NULL, 0) != 0)
      goto failed;
    return len;
  }
  colon = memchr(p, ':', len);
  if (!colon)
    return len; /* the blank line that ends the headers */
  v = colon + 1;
  vl = len - (size_t)(v - p);
  while (vl && (*v == ' ' || *v == '\t')) {
    v++;
    vl--;
  }
  while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
    vl--;
  if (x->on_header(x->header_data, p, (size_t)(colon - p), v, vl) != 0)
    goto failed;
  return len;
failed:
  x->header_failed = 1;
  return 0;
}

static int map_failure(CURLcode cc, const struct exchange *x) {
  switch (cc) {
  case CURLE_OPERATION_TIMEDOUT: return IRIS_ETIMEOUT;
  case CURLE_OUT_OF_MEMORY: return IRIS_ENOMEM;
  case CURLE_WRITE_ERROR:
    if (iris_buf_rc(x->body))
      return iris_buf_rc(x->body);
    return x->header_failed ? IRIS_ENOMEM : IRIS_EIO;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM: return IRIS_ECONN;
  default: return x->header_failed ? IRIS_ENOMEM : IRIS_EIO;
  }
}

int iris_http_perform(struct iris_http *http, const struct iris_http_request *req, long *status,
                      struct iris_buf *body, struct iris_err *err) {
  struct curl_slist *hdrs = NULL, *h;
  struct exchange x;
  char *shown = NULL;
  long timeout_ms;
  CURLcode cc;
  size_t k;
  int rc = IRIS_OK;

  *status = 0;
  memset(&x, 0, sizeof x);
  if (!req || !req->method || !req->method[0] || !req->url ||
      (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0)) {
    rc = iris_err_set(err, IRIS_EINVAL, "http: a request needs a method and an http(s) URL");
    goto out;
  }
  shown = iris_http_url_for_log(req->url, req->hide_path);
  if (!shown) {
    rc = iris_err_set(err, IRIS_ENOMEM, "http: %s: preparing the request", req->method);
    goto out;
  }
  for (k = 0; k < req->nheaders; k++) {
    if (!req->headers[k])
      continue;
    h = curl_slist_append(hdrs, req->headers[k]);
    if (!h) {
      rc = iris_err_set(err, IRIS_ENOMEM, "%s %s: building the request headers", req->method,
                        shown);
      goto out;
    }
    hdrs = h;
  }
  x.body = body;
  x.on_header = req->on_header;
  x.header_data = req->header_data;
  timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : http->timeout_ms;

  /* Reset keeps the connection cache, so the next request to the same host reuses it. */
  curl_easy_reset(http->curl);
  curl_easy_setopt(http->curl, CURLOPT_URL, req->url);
  if (strcmp(req->method, "POST") == 0) {
    curl_easy_setopt(http->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(http->curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    curl_easy_setopt(http->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(req->body ? req->body_len : 0));
  } else {
    if (strcmp(req->method, "GET") == 0)
      curl_easy_setopt(http->curl, CURLOPT_HTTPGET, 1L);
    else
      curl_easy_setopt(http->curl, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
      curl_easy_setopt(http->curl, CURLOPT_POSTFIELDS, req->body);
      curl_easy_setopt(http->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
  }
  if (hdrs)
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, hdrs);
  if (req->basic_user) {
    curl_easy_setopt(http->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(http->curl, CURLOPT_USERNAME, req->basic_user);
    curl_easy_setopt(http->curl, CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
  }
  if (req->aws_sigv4) {
    curl_easy_setopt(http->curl, CURLOPT_AWS_SIGV4, req->aws_sigv4);
    curl_easy_setopt(http->curl, CURLOPT_USERPWD, req->aws_userpwd ? req->aws_userpwd : "");
  }
  curl_easy_setopt(http->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(http->curl, CURLOPT_CONNECTTIMEOUT_MS,
                   http->connect_timeout_ms < timeout_ms ? http->connect_timeout_ms : timeout_ms);
  curl_easy_setopt(http->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(http->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (http->ca_file)
    curl_easy_setopt(http->curl, CURLOPT_CAINFO, http->ca_file);
  if (http->proxy)
    curl_easy_setopt(http->curl, CURLOPT_PROXY, http->proxy);
  if (http->user_agent)
    curl_easy_setopt(http->curl, CURLOPT_USERAGENT, http->user_agent);
  curl_easy_setopt(http->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(http->curl, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(http->curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(http->curl, CURLOPT_HEADERDATA, &x);
  cc = curl_easy_perform(http->curl);
  if (cc == CURLE_OK) {
    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, status);
    goto out;
  }
  rc = map_failure(cc, &x);
  if (rc == IRIS_ETIMEOUT)
    iris_err_set(err, rc, "%s %s: no answer within %ld ms (%s)", req->method, shown, timeout_ms,
                 curl_easy_strerror(cc));
  else if (rc == IRIS_ETOOBIG)
    iris_err_set(err, rc, "%s %s: the answer exceeds its limit of %zu bytes", req->method, shown,
                 body->max);
  else
    iris_err_set(err, rc, "%s %s: %s", req->method, shown,
                 rc == IRIS_ENOMEM ? "out of memory" : curl_easy_strerror(cc));
out:
  curl_slist_free_all(hdrs);
  iris_free(shown);
  return rc;
}
