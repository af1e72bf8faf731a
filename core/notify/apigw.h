/*
 * apigw.h — API Gateway proxy events in, proxy responses out, for the notify function.
 *
 * Layer: core/notify, the bottom of the folder (jansson, OpenSSL's base64 decoder); used by
 * notify.c and the request-parser fuzz target. Both payload formats API Gateway sends to
 * Lambda are read:
 *   REST API proxy (v1): httpMethod, path (the resource path, without the stage), headers /
 *     multiValueHeaders, multiValueQueryStringParameters, body, isBase64Encoded,
 *     requestContext.path (with the stage) and requestContext.domainName;
 *   HTTP API (v2, "version":"2.0"): requestContext.http.method, rawPath, rawQueryString,
 *     headers (lower-case names, repeated ones comma-joined), body, isBase64Encoded,
 *     requestContext.stage and requestContext.domainName.
 * Every string is bounded: the decoded body by `max_body`, a header value by
 * IRIS_APIGW_MAX_HEADER, the path and query by IRIS_APIGW_MAX_PATH.
 */
#ifndef IRIS_APIGW_H
#define IRIS_APIGW_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define IRIS_APIGW_MAX_HEADER 8192
#define IRIS_APIGW_MAX_PATH 2048

struct iris_apigw_request {
  int version;        /* 1 (REST proxy) or 2 (HTTP API) */
  const char *method; /* "POST", "GET" — borrowed from event */
  const char *path;   /* route path without the stage: "/v0/notifications" — borrowed */
  char *query;        /* owned: the raw query string without '?', "" when none */
  char *full_path;    /* owned: the path as the client called it, with the stage if the
                          URL has one (what Twilio signs) */
  const char *host;   /* the Host header or requestContext.domainName, NULL if neither */
  char *body;         /* owned: decoded body, NUL-terminated (may hold NULs: use body_len) */
  size_t body_len;
  json_t *event; /* owned reference to the parsed event */
};

/*
 * Parse an event. IRIS_EPARSE: not a JSON object or not an API Gateway proxy event (the
 * message names the missing field); IRIS_ETOOBIG: the body is over max_body bytes (once
 * decoded) or a path over IRIS_APIGW_MAX_PATH; IRIS_EINVAL: a body that claims base64 and is
 * not; IRIS_ENOMEM. On failure *out is cleaned up.
 */
int iris_apigw_parse(const char *event, size_t len, size_t max_body,
                     struct iris_apigw_request *out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_apigw_request_cleanup(struct iris_apigw_request *r);

/* A header's value by case-insensitive name, borrowed from the event; NULL when absent or
 * longer than IRIS_APIGW_MAX_HEADER. */
const char *iris_apigw_header(const struct iris_apigw_request *r, const char *name);

/*
 * Append a proxy response: {"statusCode":N,"headers":{...},"body":"...","isBase64Encoded":false}
 * (both formats accept it). `body` is the JSON text of the answer; extra headers come in
 * name/value pairs (nheaders pairs, may be 0). IRIS_ENOMEM / IRIS_ETOOBIG from out.
 */
int iris_apigw_respond(struct iris_buf *out, int status, const char *body,
                       const char *const *headers, size_t nheaders) IRIS_WARN_UNUSED;

#endif /* IRIS_APIGW_H */
