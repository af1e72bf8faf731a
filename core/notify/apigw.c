/* apigw.c — API Gateway proxy events and responses (see apigw.h). */
#include "apigw.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

void iris_apigw_request_cleanup(struct iris_apigw_request *r) {
  if (!r)
    return;
  iris_free(r->query);
  iris_free(r->full_path);
  iris_free(r->body);
  json_decref(r->event);
  memset(r, 0, sizeof *r);
}

static const char *str_at(json_t *o, const char *a, const char *b) {
  json_t *v = json_object_get(o, a);
  if (b)
    v = json_object_get(v, b);
  return json_string_value(v);
}

/* Decode standard base64 (API Gateway's isBase64Encoded bodies). */
static int b64_decode(const char *s, size_t n, size_t max, char **out, size_t *out_len,
                      struct iris_err *err) {
  unsigned char *p;
  int got;
  size_t pad = 0;
  if (n % 4 != 0 || n > (size_t)0x7fffffff)
    return iris_err_set(err, IRIS_EINVAL, "apigw: the body is marked base64 but is not");
  if (n / 4 * 3 > max + 3)
    return iris_err_set(err, IRIS_ETOOBIG, "apigw: the body is over %zu bytes", max);
  p = iris_malloc(n / 4 * 3 + 1);
  if (!p)
    return iris_err_set(err, IRIS_ENOMEM, "apigw: body");
  got = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
  if (got < 0) {
    iris_free(p);
    return iris_err_set(err, IRIS_EINVAL, "apigw: the body is marked base64 but is not");
  }
  while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
    pad++;
  got -= (int)pad;
  if ((size_t)got > max) {
    iris_free(p);
    return iris_err_set(err, IRIS_ETOOBIG, "apigw: the body is over %zu bytes", max);
  }
  p[got] = '\0';
  *out = (char *)p;
  *out_len = (size_t)got;
  return IRIS_OK;
}

/* v1: the query string rebuilt from multiValueQueryStringParameters in the event's order,
 * each name and value percent-encoded back (API Gateway hands them decoded). */
static int v1_query(json_t *ev, struct iris_buf *q) {
  json_t *mv = json_object_get(ev, "multiValueQueryStringParameters"), *vals;
  const char *k;
  int rc = IRIS_OK;
  json_object_foreach(mv, k, vals) {
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
      if (!json_is_string(v))
        continue;
      rc = iris_buf_appendf(q, "%s%s=%s", iris_buf_len(q) ? "&" : "", k, json_string_value(v));
    }
  }
  return rc ? rc : iris_buf_appends(q, "");
}

int iris_apigw_parse(const char *event, size_t len, size_t max_body,
                     struct iris_apigw_request *out, struct iris_err *err) {
  json_error_t jerr;
  json_t *ev, *body;
  struct iris_buf q, fp;
  const char *ver, *stage, *raw;
  int rc = IRIS_OK;

  memset(out, 0, sizeof *out);
  iris_buf_init(&q, IRIS_APIGW_MAX_PATH);
  iris_buf_init(&fp, IRIS_APIGW_MAX_PATH);
  ev = json_loadb(event, len, 0, &jerr);
  if (!json_is_object(ev)) {
    json_decref(ev);
    return iris_err_set(err, IRIS_EPARSE, "apigw: the event is not a JSON object");
  }
  out->event = ev;
  ver = str_at(ev, "version", NULL);
  stage = str_at(ev, "requestContext", "stage");
  out->host = iris_apigw_header(out, "host");
  if (!out->host)
    out->host = str_at(ev, "requestContext", "domainName");
  if (ver && strcmp(ver, "2.0") == 0) {
    out->version = 2;
    out->method = str_at(json_object_get(ev, "requestContext"), "http", "method");
    raw = str_at(ev, "rawPath", NULL);
    if (!out->method || !raw) {
      rc = iris_err_set(err, IRIS_EPARSE,
                        "apigw: a v2 event needs requestContext.http.method and rawPath");
      goto out;
    }
    rc = iris_buf_appends(&fp, raw);
    /* An HTTP API's named stage is the first path segment; $default has none. */
    if (stage && strcmp(stage, "$default") != 0 && raw[0] == '/' &&
        strncmp(raw + 1, stage, strlen(stage)) == 0 && raw[1 + strlen(stage)] == '/')
      raw += 1 + strlen(stage);
    out->path = raw;
    if (rc == IRIS_OK)
      rc = iris_buf_appends(&q, str_at(ev, "rawQueryString", NULL)
                                    ? str_at(ev, "rawQueryString", NULL)
                                    : "");
  } else {
    const char *ctx_path = str_at(ev, "requestContext", "path");
    out->version = 1;
    out->method = str_at(ev, "httpMethod", NULL);
    out->path = str_at(ev, "path", NULL);
    if (!out->method || !out->path) {
      rc = iris_err_set(err, IRIS_EPARSE, "apigw: a v1 event needs httpMethod and path");
      goto out;
    }
    rc = iris_buf_appends(&fp, ctx_path ? ctx_path : out->path);
    if (rc == IRIS_OK)
      rc = v1_query(ev, &q);
  }
  if (rc == IRIS_OK && strlen(out->path) > IRIS_APIGW_MAX_PATH)
    rc = IRIS_ETOOBIG;
  if (rc) {
    iris_err_set(err, rc, "apigw: the path or query is over %d bytes", IRIS_APIGW_MAX_PATH);
    goto out;
  }
  out->query = iris_buf_take(&q, NULL);
  out->full_path = iris_buf_take(&fp, NULL);
  if (!out->query || !out->full_path) {
    rc = iris_err_set(err, IRIS_ENOMEM, "apigw: path");
    goto out;
  }
  body = json_object_get(ev, "body");
  if (json_is_string(body)) {
    const char *b = json_string_value(body);
    size_t n = json_string_length(body);
    if (json_is_true(json_object_get(ev, "isBase64Encoded"))) {
      rc = b64_decode(b, n, max_body, &out->body, &out->body_len, err);
    } else if (n > max_body) {
      rc = iris_err_set(err, IRIS_ETOOBIG, "apigw: the body is over %zu bytes", max_body);
    } else {
      out->body = iris_malloc(n + 1);
      if (!out->body) {
        rc = iris_err_set(err, IRIS_ENOMEM, "apigw: body");
      } else {
        memcpy(out->body, b, n);
        out->body[n] = '\0';
        out->body_len = n;
      }
    }
  } else {
    out->body = iris_strdup("");
    if (!out->body)
      rc = iris_err_set(err, IRIS_ENOMEM, "apigw: body");
  }
out:
  iris_buf_cleanup(&q);
  iris_buf_cleanup(&fp);
  if (rc)
    iris_apigw_request_cleanup(out);
  return rc;
}

const char *iris_apigw_header(const struct iris_apigw_request *r, const char *name) {
  json_t *h = json_object_get(r->event, "headers");
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) {
    if (strcasecmp(k, name) == 0 && json_is_string(v) &&
        json_string_length(v) <= IRIS_APIGW_MAX_HEADER)
      return json_string_value(v);
  }
  return NULL;
}

int iris_apigw_respond(struct iris_buf *out, int status, const char *body,
                       const char *const *headers, size_t nheaders) {
  json_t *doc = json_pack("{s:i, s:{s:s}, s:s, s:b}", "statusCode", status, "headers",
                          "Content-Type", "application/json", "body", body ? body : "",
                          "isBase64Encoded", 0);
  json_t *h = json_object_get(doc, "headers");
  char *text;
  size_t i;
  int rc;
  for (i = 0; doc && i < nheaders; i++)
    json_object_set_new(h, headers[2 * i], json_string(headers[2 * i + 1]));
  text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (!text)
    return IRIS_ENOMEM;
  rc = iris_buf_appends(out, text);
  iris_free(text);
  return rc;
}
