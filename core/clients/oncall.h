/*
 * oncall.h — a client of LinkedIn Oncall's HTTP API for Iris's role lookups (Iris's `oncall`
 * role_lookup module): who is on call for a team, its manager, its members.
 *
 * Layer: core, above err/alloc/buf/log/metrics/clock/url (libcurl, jansson, OpenSSL); used by
 * recipients.c, created by app.c from the `oncall` configuration section. No network at
 * creation: the first request opens the connection, which the one CURL handle keeps warm.
 *
 * Requests (all GET, under `<api>/api/v0`, the team and shift type percent-encoded):
 *   team               /teams/<team>/rosters         {roster: {"users": [{"name"}..]}..}
 *   manager            /teams/<team>/oncall/manager  [{"user": name, ...}, ...]
 *   director           /teams/<team>/oncall/director (same shape; Iris serves it too)
 *   oncall             /teams/<team>/oncall/primary
 *   oncall-<type>      /teams/<team>/oncall/<type>   (oncall-primary, oncall-secondary, ...)
 * Answers are returned as Oncall gives them (sorted, duplicates dropped); whether a name is
 * an active Iris user is recipients.c's business.
 *
 * Authentication (Oncall's application auth), sent when both app and key are configured:
 *   Authorization: hmac <app>:<urlsafe-base64 (with '=' padding) of
 *                  HMAC-SHA512(key, "<window> <METHOD> <path[?query]> <body>")>
 * with window = floor(unix seconds / 5) and an empty body for GET. The path is the one Oncall
 * recomputes from the request's PATH_INFO, i.e. percent-decoded: for team names made of
 * letters, digits and `_.-~` it is byte for byte what travels on the wire. (Oncall's Python
 * client signs the encoded path instead, so its signature fails for names that need escaping.)
 *
 * Cache: a successful answer is kept per request URL (so `oncall` and `oncall-primary` share
 * one) for `cache_seconds` (Iris's sender kept its role cache for one loop), measured on
 * iris_clock_now_ms(); failures and empty answers are never cached: the next lookup asks again.
 *
 * Threading: one struct iris_oncall per thread (one CURL handle, an unlocked cache).
 */
#ifndef IRIS_ONCALL_H
#define IRIS_ONCALL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"

/* Largest answer accepted (team rosters carry their schedules too). */
#define IRIS_ONCALL_MAX_BODY ((size_t)4 * 1024 * 1024)
/* Entries kept at most; when full, the oldest is dropped. */
#define IRIS_ONCALL_CACHE_MAX 1024

struct iris_oncall_opts {
  const char *api;    /* required: base URL, "http(s)://host[:port][/prefix]" (copied) */
  const char *app;    /* application name; NULL or "" with key: no Authorization (copied) */
  const char *key;    /* its HMAC key (copied; registered with the logger for redaction) */
  long timeout_ms;    /* whole request; 0: 10000 */
  long cache_seconds; /* how long an answer is reused; 0: never reused */
  struct iris_metrics *metrics; /* borrowed, may be NULL; must outlive the client */
};

struct iris_oncall; /* opaque */

/*
 * Create a client; *out owned by the caller, released with iris_oncall_free. Nothing is sent.
 * Returns IRIS_OK; IRIS_EINVAL (api missing or not an http(s) URL, app without key or key
 * without app, an app name with ':' or a control character, negative timeout or cache
 * time); IRIS_ENOMEM.
 */
int iris_oncall_new(const struct iris_oncall_opts *opts, struct iris_oncall **out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
void iris_oncall_free(struct iris_oncall *o);

/* 1 if `role` is one this client answers (team, manager, director, oncall, oncall-<type>),
 * else 0. Needs no client. */
int iris_oncall_serves_role(const char *role);

/*
 * The user names Oncall gives for (role, team): *names (borrowed, sorted by strcmp, unique)
 * and *n, valid until the next call on o or iris_oncall_free. n may be 0 when Oncall answered
 * with rosters that hold nobody.
 * Returns:
 *   IRIS_OK;
 *   IRIS_ENOTFOUND  nobody: Oncall answered 422 (no such team) or an empty document ({} / []);
 *                   Iris then pages the plan's creator;
 *   IRIS_EINVAL     a role this client does not serve, an empty team or shift type;
 *   IRIS_ETIMEOUT   no complete answer within timeout_ms;
 *   IRIS_ECONN      the connection could not be made or broke;
 *   IRIS_EAUTH      401 or 403 (wrong app or key);
 *   IRIS_EHTTP      any other status than 200;
 *   IRIS_EPARSE     the body is not JSON, or not the shape the endpoint documents;
 *   IRIS_ETOOBIG    the body exceeds IRIS_ONCALL_MAX_BODY; IRIS_ENOMEM.
 * Every message names the method and URL; HTTP failures add the status and the first bytes
 * of the body (redacted). Neither the key nor the Authorization header is ever part of one.
 */
int iris_oncall_get(struct iris_oncall *o, const char *role, const char *team,
                    const char *const **names, size_t *n, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Append Oncall's Authorization header value ("hmac <app>:<digest>", without the header name)
 * for a request at unix time `unix_s`. path: as signed (see above), query included; body may
 * be NULL (GET). Returns IRIS_OK, IRIS_EINVAL (empty app or key), IRIS_ENOMEM/IRIS_ETOOBIG.
 */
int iris_oncall_auth_header(const char *app, const char *key, int64_t unix_s, const char *method,
                            const char *path, const char *body, struct iris_buf *out,
                            struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Test seam: replace the HTTP exchange (core/clients/http by default; fn NULL restores it). fn performs
 * a GET of `url` with `authorization` (the header value, or NULL), fills *status and appends
 * the body to `body` (capped at IRIS_ONCALL_MAX_BODY), and returns IRIS_OK or the transport
 * failure (IRIS_ETIMEOUT, IRIS_ECONN, IRIS_ETOOBIG, IRIS_ENOMEM) with err set. data borrowed.
 */
typedef int (*iris_oncall_perform_fn)(void *data, const char *url, const char *authorization,
                                      long timeout_ms, long *status, struct iris_buf *body,
                                      struct iris_err *err);
void iris_oncall_set_perform(struct iris_oncall *o, iris_oncall_perform_fn fn, void *data);

#endif /* IRIS_ONCALL_H */
