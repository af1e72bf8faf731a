/*
 * sign.h — the two request signatures the notify function checks.
 *
 * Layer: core/notify (base64, OpenSSL HMAC); used by notify.c and the fuzz target.
 *
 * Iris's application HMAC (Iris's src/iris/api.py, AuthMiddleware): the client sends
 *   Authorization: hmac <application>:<digest>
 * where digest is URL-safe base64 (with '=' padding) of HMAC-SHA512(key, text) and text is
 *   "<window> <METHOD> <path[?query]> <body>"   (" <username>" appended when X-IRIS-USERNAME
 *                                                 is sent)
 * with window = floor(now / 5) or floor(now / 30) (the current or the previous one of
 * either), and key the application's `key` or `secondary_key`. Anything older than the
 * previous 30-second window is stale and fails.
 *
 * Twilio's request signature (X-Twilio-Signature): base64 of HMAC-SHA1(auth token, the full
 * URL Twilio called followed by every POST parameter sorted by name, name then value).
 */
#ifndef IRIS_SIGN_H
#define IRIS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* One signed request as Iris sees it; every string borrowed. username NULL when absent. */
struct iris_sign_request {
  const char *method, *path, *query; /* query "" or NULL when none */
  const char *body;
  size_t body_len;
  const char *username;
};

/*
 * 1 when `digest` is the HMAC of req under `key` for one of the four windows of `now`
 * (compared in constant time), else 0. An empty or NULL key never matches.
 */
int iris_sign_iris_check(const char *key, const struct iris_sign_request *req, int64_t now,
                         const char *digest);

/* Append the digest for one window (clients, tests, the CLI). */
int iris_sign_iris_digest(const char *key, const struct iris_sign_request *req, int64_t window,
                          struct iris_buf *out) IRIS_WARN_UNUSED;

/* A decoded form parameter (owned by its list). */
struct iris_sign_param {
  char *name, *value;
};
struct iris_sign_params {
  struct iris_sign_param *v;
  size_t n;
};
void iris_sign_params_cleanup(struct iris_sign_params *p);

/*
 * Decode an application/x-www-form-urlencoded body ('+' is a space, %XX a byte) into
 * parameters in body order. At most `max_params` (IRIS_ETOOBIG beyond); IRIS_EINVAL for a
 * malformed %-escape or a NUL byte; IRIS_ENOMEM. Values are bytes as sent: callers check
 * what they store.
 */
int iris_sign_form_parse(const char *body, size_t len, size_t max_params,
                         struct iris_sign_params *out, struct iris_err *err) IRIS_WARN_UNUSED;

/* The value of the first parameter called name (borrowed), NULL when absent. */
const char *iris_sign_param(const struct iris_sign_params *p, const char *name);

/* Append Twilio's signature of (url, params) under `token` (standard base64). */
int iris_sign_twilio(const char *token, const char *url, const struct iris_sign_params *params,
                     struct iris_buf *out) IRIS_WARN_UNUSED;

/* 1 when `signature` is Twilio's signature of (url, params) under token, else 0 (constant
 * time; an empty token or signature never matches). */
int iris_sign_twilio_check(const char *token, const char *url,
                           const struct iris_sign_params *params, const char *signature);

#endif /* IRIS_SIGN_H */
