/*
 * http.h — the one HTTP client of libiris-core: every outbound exchange (signed AWS calls,
 * Oncall lookups, the HTTP service handed to vendor plugins) goes through here.
 *
 * Layer: core/clients, above base (buf, err, log, alloc). Callers: aws.c, oncall.c and
 * core/plugin/plugin_host.c (runtime.c, the Lambda Runtime API on loopback, keeps its own). What is decided once, here, for all of them:
 *   - timeouts: a connect timeout (never longer than the request's total timeout) and a total
 *     timeout per request;
 *   - TLS trust: the CA file given, else $IRIS_CA_FILE (the Lambda layer's bundle, because
 *     Debian's libcurl looks in /etc/ssl, which Amazon Linux does not have), else libcurl's;
 *   - proxy: the one given, else libcurl's environment (https_proxy, no_proxy);
 *   - connection reuse: one handle per client keeps its connections open between requests;
 *   - only http and https, no signals (Lambda runs threads), no redirects followed;
 *   - error mapping: a transport failure becomes one of a few iris_rc codes with a specific
 *     message; an HTTP answer of any status is IRIS_OK and the caller judges the status;
 *   - redaction: error messages name the method and the URL without its user info and query
 *     string (optionally without its path), with every registered secret replaced; request
 *     headers (Authorization, tokens) and bodies never appear in any message or log line.
 *
 * A client is not thread-safe: one thread uses it at a time.
 */
#ifndef IRIS_HTTP_H
#define IRIS_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct iris_http; /* opaque: one reusable connection handle */

struct iris_http_opts {
  long connect_timeout_ms; /* <= 0: 5000 */
  long timeout_ms;         /* default total time of a request; <= 0: 10000 */
  const char *ca_file;     /* NULL: $IRIS_CA_FILE, else libcurl's default. Copied. */
  const char *proxy;       /* NULL: libcurl's environment variables; "" : none. Copied. */
  const char *user_agent;  /* NULL: libcurl sends none. Copied. */
};

/*
 * Called once per header line of an answer with the name and the value trimmed (not
 * NUL-terminated), and once with name == NULL when a new answer starts (after a 100-continue
 * or a proxy's CONNECT): forget what earlier calls collected. Return 0, or non-zero to abort
 * the exchange (it then fails with IRIS_ENOMEM: the only reason a collector gives up).
 */
typedef int (*iris_http_header_fn)(void *data, const char *name, size_t name_len,
                                   const char *value, size_t value_len);

/* What to send. Everything is borrowed for the duration of iris_http_perform. */
struct iris_http_request {
  const char *method;         /* "GET", "POST", ... */
  const char *url;            /* http:// or https:// */
  const char *const *headers; /* nheaders "Name: value" lines (may carry secrets) */
  size_t nheaders;
  const char *body; /* NULL: no body */
  size_t body_len;
  const char *basic_user;        /* non-NULL: HTTP basic authentication */
  const char *basic_password;    /* NULL is "" */
  const char *aws_sigv4;         /* non-NULL: "aws:amz:<region>:<service>", signs the request */
  const char *aws_userpwd;       /* with aws_sigv4: "<key id>:<secret key>" */
  long timeout_ms;               /* <= 0: the client's default */
  int hide_path;                 /* non-zero: messages name only scheme://host[:port] (the
                                  path is a credential, e.g. a Slack webhook) */
  iris_http_header_fn on_header; /* NULL: headers are ignored */
  void *header_data;
};

/*
 * Create a client. *out owned by the caller (iris_http_free).
 * Returns IRIS_OK, IRIS_ENOMEM.
 */
int iris_http_new(const struct iris_http_opts *opts, struct iris_http **out,
                  struct iris_err *err) IRIS_WARN_UNUSED;
void iris_http_free(struct iris_http *http);

/*
 * Perform one exchange. The answer's body is appended to `body` (caller-owned, its cap
 * bounds the answer); *status gets the HTTP status (0 when no answer came).
 * Returns:
 *   IRIS_OK       an answer arrived (any status)
 *   IRIS_EINVAL   no method, or not an http(s) URL
 *   IRIS_ETIMEOUT no complete answer within the timeout
 *   IRIS_ECONN    could not resolve, connect or agree on TLS
 *   IRIS_EIO      the exchange broke after connecting (reset, malformed answer, ...)
 *   IRIS_ETOOBIG  the answer exceeds body's cap
 *   IRIS_ENOMEM
 * with err naming the method, the redacted URL and the cause.
 */
int iris_http_perform(struct iris_http *http, const struct iris_http_request *req, long *status,
                      struct iris_buf *body, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * The URL as messages show it: scheme://host[:port][/path] without user info, query or
 * fragment (path dropped when hide_path), registered secrets replaced. Caller frees with
 * iris_free; NULL on allocation failure.
 */
char *iris_http_url_for_log(const char *url, int hide_path);

#endif /* IRIS_HTTP_H */
