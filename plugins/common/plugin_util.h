/*
 * plugin_util.h — small helpers shared by the bundled HTTP plugins (twilio, slack, hipchat).
 *
 * Header-only and static so each plugin stays one self-contained .so that depends on nothing
 * but plugin-api/ (this is not part of the public ABI; third-party plugins write their own).
 */
#ifndef IRIS_PLUGIN_UTIL_H
#define IRIS_PLUGIN_UTIL_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iris_plugin.h"

/* A growable string; `oom` latches an allocation failure (then `p` may be NULL). */
struct pu_str {
  char *p;
  size_t len, cap;
  int oom;
};

static inline void pu_str_add(struct pu_str *s, const char *d, size_t n) {
  size_t need;
  if (s->oom || n > ((size_t)-1) / 4 - s->len)
    return;
  need = s->len + n + 1;
  if (need > s->cap) {
    size_t cap = need * 2;
    char *g = realloc(s->p, cap);
    if (!g) {
      s->oom = 1;
      return;
    }
    s->p = g;
    s->cap = cap;
  }
  if (!s->p)
    return;
  if (n)
    memcpy(s->p + s->len, d, n);
  s->len += n;
  s->p[s->len] = '\0';
}

static inline void pu_str_adds(struct pu_str *s, const char *d) { pu_str_add(s, d, strlen(d)); }

static inline void pu_str_free(struct pu_str *s) {
  free(s->p);
  memset(s, 0, sizeof *s);
}

/* application/x-www-form-urlencoded value (space as '+'), like every HTML form and Twilio. */
static inline void pu_str_add_form(struct pu_str *s, const char *v) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      pu_str_add(s, (const char *)&c, 1);
    } else if (c == ' ') {
      pu_str_add(s, "+", 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      pu_str_add(s, e, 3);
    }
  }
}

/* "&key=value" (no '&' before the first pair). */
static inline void pu_form_pair(struct pu_str *s, const char *k, const char *v) {
  if (s->len)
    pu_str_add(s, "&", 1);
  pu_str_add_form(s, k);
  pu_str_add(s, "=", 1);
  pu_str_add_form(s, v);
}

/* Number of UTF-8 code points in s. */
static inline size_t pu_utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

/* Byte offset where code point number `max` starts (or strlen(s) if s is shorter). */
static inline size_t pu_utf8_offset(const char *s, size_t max) {
  size_t n = 0, i;
  for (i = 0; s[i]; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (n == max)
        return i;
      n++;
    }
  }
  return i;
}

/*
 * Copy text limited to `max` code points into out: if it is longer, keep what fits before
 * `marker` and append the marker, so a reader sees the message was cut (never silently).
 * Returns 1 if it was cut.
 */
static inline int pu_limit(struct pu_str *out, const char *text, size_t max, const char *marker) {
  size_t mlen = pu_utf8_len(marker);
  if (pu_utf8_len(text) <= max) {
    pu_str_adds(out, text);
    return 0;
  }
  pu_str_add(out, text, pu_utf8_offset(text, max > mlen ? max - mlen : 0));
  pu_str_adds(out, marker);
  return 1;
}

/* Response header value (names are lower-case in the response), or NULL. */
static inline const char *pu_header(const struct iris_plugin_http_response *r, const char *name) {
  size_t i;
  for (i = 0; i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].key, name) == 0)
      return r->headers[i].value;
  return NULL;
}

/* Retry-After in ms (seconds form), or def when absent or unreadable. */
static inline long long pu_retry_after_ms(const struct iris_plugin_http_response *r,
                                          long long def) {
  const char *v = pu_header(r, "retry-after");
  char *end = NULL;
  long long s;
  if (!v)
    return def;
  s = strtoll(v, &end, 10);
  if (end == v || s < 0 || s > 86400)
    return def;
  return s * 1000;
}

/*
 * The result for a failed exchange: no response (timeout/connection) and 5xx are retryable,
 * 429 is rate-limited (Retry-After honoured), 408 retryable, any other status permanent.
 */
static inline void pu_http_failure(const char *vendor, const struct iris_plugin_http_response *r,
                                   struct iris_plugin_result *res, const char *detail) {
  if (r->transport != IRIS_PLUGIN_HTTP_OK) {
    res->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(res->error, sizeof res->error, "%s unreachable: %s", vendor, r->error);
  } else if (r->status == 429) {
    res->status = IRIS_PLUGIN_RATE_LIMITED;
    res->retry_after_ms = pu_retry_after_ms(r, 1000);
    snprintf(res->error, sizeof res->error, "%s rate limit (HTTP 429)%s%s", vendor,
             detail ? ": " : "", detail ? detail : "");
  } else if (r->status >= 500 || r->status == 408) {
    res->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(res->error, sizeof res->error, "%s answered HTTP %ld%s%s", vendor, r->status,
             detail ? ": " : "", detail ? detail : "");
  } else {
    res->status = IRIS_PLUGIN_PERMANENT;
    snprintf(res->error, sizeof res->error, "%s refused the message: HTTP %ld%s%s", vendor,
             r->status, detail ? ": " : "", detail ? detail : "");
  }
}

/* ---- one HTTP exchange with a bearer token -------------------------------------------- */

/*
 * A request a send() makes and the answer it gets, held together so that one call releases
 * everything whatever path the send took. Zero-initialise it (`struct pu_call call = {0};`),
 * build url (and body), call pu_call_bearer, read resp, and end with pu_call_cleanup.
 */
struct pu_call {
  struct pu_str url;                     /* the request URL, built by the caller */
  char *body;                            /* request body (malloc'd, e.g. json_dumps) or NULL;
                                            owned here, freed by pu_call_cleanup */
  struct iris_plugin_http_response resp; /* the answer, valid until pu_call_cleanup */
  const struct iris_plugin_host *host;   /* set once the host filled resp: who releases it */
};

/*
 * Send c->url (with c->body, when not NULL, as content_type) with "Authorization: Bearer
 * <token>" through the host, within timeout_ms. Returns 0 when a response arrived (any
 * status); -1 otherwise, with c->resp.transport and c->resp.error saying why (an out-of-memory
 * before sending is IRIS_PLUGIN_HTTP_FAILED), so pu_http_failure classifies every outcome.
 * The header text holding the token is wiped before it is freed.
 */
static inline int pu_call_bearer(struct pu_call *c, const struct iris_plugin_host *host,
                                 const char *method, const char *content_type, const char *token,
                                 long timeout_ms) {
  struct iris_plugin_kv headers[2] = {{"Authorization", NULL}, {"Content-Type", content_type}};
  struct iris_plugin_http_request req = {0};
  struct pu_str auth = {0};
  int rc;
  pu_str_adds(&auth, "Bearer ");
  pu_str_adds(&auth, token);
  if (auth.oom || c->url.oom || !c->url.p) {
    c->resp.transport = IRIS_PLUGIN_HTTP_FAILED;
    snprintf(c->resp.error, sizeof c->resp.error, "out of memory building the request");
    pu_str_free(&auth);
    return -1;
  }
  headers[0].value = auth.p;
  req.struct_size = sizeof req;
  req.method = method;
  req.url = c->url.p;
  req.headers = headers;
  req.nheaders = c->body && content_type ? 2 : 1;
  req.body = c->body;
  req.body_len = c->body ? strlen(c->body) : 0;
  req.timeout_ms = timeout_ms;
  c->resp.struct_size = sizeof c->resp;
  c->host = host;
  rc = host->http(host->data, &req, &c->resp);
  memset(auth.p, 0, auth.len);
  pu_str_free(&auth);
  return rc == 0 ? 0 : -1;
}

/* Release what c holds (the answer through the host that gave it); c is zeroed for reuse. */
static inline void pu_call_cleanup(struct pu_call *c) {
  if (c->host)
    c->host->http_free(c->host->data, &c->resp);
  free(c->body);
  pu_str_free(&c->url);
  memset(c, 0, sizeof *c);
}

/* ---- the exported descriptor ------------------------------------------------------------ */

/* The operations of one mode, a static `var` for PU_PLUGIN_ENTRY. */
#define PU_MODE_OPS(var, mode, init, send, destroy, health) \
  static const struct iris_plugin_mode_ops var = \
      {sizeof(struct iris_plugin_mode_ops), mode, init, send, destroy, health}

/* The number of elements of an array. */
#define PU_COUNT(a) (sizeof(a) / sizeof *(a))

/* Who wrote the bundled plugins (the descriptor's vendor). */
#define PU_VENDOR "iris-serverless-sender"

/*
 * The descriptor of a bundled plugin and its entry point, serving the modes whose
 * PU_MODE_OPS variables follow (by address): PU_PLUGIN_ENTRY("slack", "1.1.0", &slack_ops).
 */
#define PU_PLUGIN_ENTRY(name, version, ...) \
  static const struct iris_plugin_mode_ops *const pu_modes[] = {__VA_ARGS__}; \
  static const struct iris_plugin_descriptor pu_descriptor = \
      {IRIS_PLUGIN_DESCRIPTOR_HEAD, name, version, PU_VENDOR, pu_modes, PU_COUNT(pu_modes)}; \
  const struct iris_plugin_descriptor *iris_plugin_entry(void) { return &pu_descriptor; }

/* Config lookup. */
static inline const char *pu_conf(const struct iris_plugin_kv *c, size_t n, const char *key) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(c[i].key, key) == 0)
      return c[i].value;
  return NULL;
}

static inline char *pu_dup(const char *s) {
  size_t n;
  char *d;
  if (!s)
    return NULL;
  n = strlen(s) + 1;
  d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

#endif /* IRIS_PLUGIN_UTIL_H */
